//! Geohash arithmetic as Redis does it: 52-bit interleaved scores over the Mercator-limited
//! WGS84 ranges, the 3x3 box cover of a search area, and haversine distances.

pub const LAT_MIN: f64 = -85.051_128_78;
pub const LAT_MAX: f64 = 85.051_128_78;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const STEP_MAX: u8 = 26;

const D_R: f64 = std::f64::consts::PI / 180.0;
const EARTH_RADIUS_IN_METERS: f64 = 6_372_797.560_856;
const MERCATOR_MAX: f64 = 20_037_726.37;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

pub const WGS84_LONG: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
pub const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Hash {
    pub bits: u64,
    pub step: u8,
}

impl Hash {
    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Area {
    pub long: Range,
    pub lat: Range,
}

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

fn interleave(x: u32, y: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555_5555_5555_5555,
        0x3333_3333_3333_3333,
        0x0F0F_0F0F_0F0F_0F0F,
        0x00FF_00FF_00FF_00FF,
        0x0000_FFFF_0000_FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let (mut x, mut y) = (u64::from(x), u64::from(y));
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

fn deinterleave(v: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555_5555_5555_5555,
        0x3333_3333_3333_3333,
        0x0F0F_0F0F_0F0F_0F0F,
        0x00FF_00FF_00FF_00FF,
        0x0000_FFFF_0000_FFFF,
        0x0000_0000_FFFF_FFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let (mut x, mut y) = (v, v >> 1);
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// Encode a point at `step` bits per coordinate; `None` outside the ranges.
pub fn encode(long_r: Range, lat_r: Range, long: f64, lat: f64, step: u8) -> Option<Hash> {
    if step == 0 || step > 32 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&long) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || long < long_r.min || long > long_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let long_off = (long - long_r.min) / (long_r.max - long_r.min) * scale;
    Some(Hash {
        bits: interleave(lat_off as u32, long_off as u32),
        step,
    })
}

pub fn decode(long_r: Range, lat_r: Range, h: Hash) -> Option<Area> {
    if h.is_zero() {
        return None;
    }
    let sep = deinterleave(h.bits);
    let ilat = f64::from(sep as u32);
    let ilong = f64::from((sep >> 32) as u32);
    let div = (1u64 << h.step) as f64;
    let (lat_scale, long_scale) = (lat_r.max - lat_r.min, long_r.max - long_r.min);
    Some(Area {
        lat: Range {
            min: lat_r.min + (ilat / div) * lat_scale,
            max: lat_r.min + ((ilat + 1.0) / div) * lat_scale,
        },
        long: Range {
            min: long_r.min + (ilong / div) * long_scale,
            max: long_r.min + ((ilong + 1.0) / div) * long_scale,
        },
    })
}

/// `(uint64_t)score` as x86-64 compiles it, for scores no GEOADD wrote (negative, huge,
/// infinite): values past `i64` become `i64::MIN`'s bits, negatives wrap.
fn c_to_u64(x: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let cvtt = |y: f64| -> u64 {
        if !(-TWO_63..TWO_63).contains(&y) {
            i64::MIN as u64
        } else {
            y.trunc() as i64 as u64
        }
    };
    if x < TWO_63 {
        cvtt(x)
    } else {
        cvtt(x - TWO_63) ^ (1 << 63)
    }
}

/// The (longitude, latitude) a 52-bit score stands for: the centre of its cell.
pub fn decode_score(score: f64) -> Option<(f64, f64)> {
    let area = decode(
        WGS84_LONG,
        WGS84_LAT,
        Hash {
            bits: c_to_u64(score),
            step: STEP_MAX,
        },
    )?;
    let long = ((area.long.min + area.long.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    Some((long, lat))
}

pub fn align52(h: Hash) -> u64 {
    h.bits << 52u32.saturating_sub(u32::from(h.step) * 2)
}

fn move_x(h: &mut Hash, d: i8) {
    if d == 0 || h.step == 0 || h.step > 32 {
        return;
    }
    let mut x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> (64 - u32::from(h.step) * 2);
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaa_aaaa_aaaa_aaaau64 >> (64 - u32::from(h.step) * 2);
    h.bits = x | y;
}

fn move_y(h: &mut Hash, d: i8) {
    if d == 0 || h.step == 0 || h.step > 32 {
        return;
    }
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let mut y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> (64 - u32::from(h.step) * 2);
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555_5555_5555_5555u64 >> (64 - u32::from(h.step) * 2);
    h.bits = x | y;
}

fn moved(h: Hash, dx: i8, dy: i8) -> Hash {
    let mut n = h;
    move_x(&mut n, dx);
    move_y(&mut n, dy);
    n
}

/// The search shape: centre, and a radius or a box, in the unit `conversion` converts to metres.
#[derive(Clone, Copy, Debug)]
pub enum Extent {
    Radius(f64),
    Box { width: f64, height: f64 },
}

#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub long: f64,
    pub lat: f64,
    pub extent: Extent,
    pub conversion: f64,
}

fn estimate_steps(mut range: f64, lat: f64) -> u8 {
    if range == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// [min long, min lat, max long, max lat] of the shape.
fn bounding_box(s: &Shape) -> [f64; 4] {
    let (h, w) = match s.extent {
        Extent::Radius(r) => (r, r),
        Extent::Box { width, height } => (height / 2.0, width / 2.0),
    };
    let (height, width) = (s.conversion * h, s.conversion * w);
    let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
    let long_top = rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(s.lat + lat_delta).cos());
    let long_bottom = rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(s.lat - lat_delta).cos());
    let delta = if s.lat < 0.0 { long_bottom } else { long_top };
    [
        s.long - delta,
        s.lat - lat_delta,
        s.long + delta,
        s.lat + lat_delta,
    ]
}

/// The boxes to scan, in Redis's order: centre, N, S, E, W, NE, NW, SE, SW (zeroed = skipped).
pub fn boxes(s: &Shape) -> [Hash; 9] {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(s);
    let radius = match s.extent {
        Extent::Radius(r) => r,
        Extent::Box { width, height } => {
            ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
        }
    } * s.conversion;
    let mut steps = estimate_steps(radius, s.lat);
    let cover = |steps: u8| -> (Hash, [Hash; 8], Area) {
        let h = encode(WGS84_LONG, WGS84_LAT, s.long, s.lat, steps).unwrap_or_default();
        let n = [
            moved(h, 0, 1),   // north
            moved(h, 0, -1),  // south
            moved(h, 1, 0),   // east
            moved(h, -1, 0),  // west
            moved(h, 1, 1),   // north east
            moved(h, -1, 1),  // north west
            moved(h, 1, -1),  // south east
            moved(h, -1, -1), // south west
        ];
        let area = decode(WGS84_LONG, WGS84_LAT, h).unwrap_or_default();
        (h, n, area)
    };
    let (mut h, mut n, mut area) = cover(steps);
    let dec = |x: Hash| decode(WGS84_LONG, WGS84_LAT, x).unwrap_or_default();
    let decrease = dec(n[0]).lat.max < max_lat
        || dec(n[1]).lat.min > min_lat
        || dec(n[2]).long.max < max_lon
        || dec(n[3]).long.min > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        (h, n, area) = cover(steps);
    }
    if steps >= 2 {
        let zero = Hash::default();
        if area.lat.min < min_lat {
            (n[1], n[7], n[6]) = (zero, zero, zero);
        }
        if area.lat.max > max_lat {
            (n[0], n[4], n[5]) = (zero, zero, zero);
        }
        if area.long.min < min_lon {
            (n[3], n[7], n[5]) = (zero, zero, zero);
        }
        if area.long.max > max_lon {
            (n[2], n[6], n[4]) = (zero, zero, zero);
        }
    }
    [h, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]]
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lon1r, lon2r) = (deg_rad(lon1), deg_rad(lon2));
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// The distance from the shape's centre to a point, if the point is inside the shape.
pub fn within(s: &Shape, long: f64, lat: f64) -> Option<f64> {
    match s.extent {
        Extent::Radius(r) => {
            let d = distance(s.long, s.lat, long, lat);
            (d <= r * s.conversion).then_some(d)
        }
        Extent::Box { width, height } => {
            let (w, h) = (width * s.conversion, height * s.conversion);
            if lat_distance(lat, s.lat) > h / 2.0 {
                return None;
            }
            if distance(long, lat, s.long, lat) > w / 2.0 {
                return None;
            }
            Some(distance(s.long, s.lat, long, lat))
        }
    }
}

/// Scores `[min, max)` of the members inside box `h`.
pub fn score_range(h: Hash) -> (u64, u64) {
    let min = align52(h);
    let next = Hash {
        bits: h.bits + 1,
        step: h.step,
    };
    (min, align52(next))
}

pub fn is_zero(h: &Hash) -> bool {
    h.is_zero()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (x, y) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (u32::MAX, 12345),
            (0x3ff_ffff, 7),
        ] {
            let v = deinterleave(interleave(x, y));
            assert_eq!((v as u32, (v >> 32) as u32), (x, y));
        }
    }

    #[test]
    fn palermo_scores_as_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" stores score 3479099956230698.
        let h = encode(WGS84_LONG, WGS84_LAT, 13.361389, 38.115556, STEP_MAX).unwrap();
        assert_eq!(align52(h), 3479099956230698);
        let (lon, lat) = decode_score(3479099956230698.0).unwrap();
        assert!((lon - 13.361389).abs() < 1e-5 && (lat - 38.115556).abs() < 1e-5);
        let d = distance(13.361389, 38.115556, 15.087269, 37.502669);
        assert!((d - 166274.15).abs() < 1.0, "{d}");
    }

    #[test]
    fn scores_convert_as_c_does() {
        assert_eq!(c_to_u64(-1.0), u64::MAX);
        assert_eq!(c_to_u64(f64::INFINITY), 0);
        assert_eq!(c_to_u64(f64::NEG_INFINITY), 1 << 63);
        assert_eq!(c_to_u64(3.0), 3);
        assert_eq!(c_to_u64(1e19), 10_000_000_000_000_000_000);
    }

    #[test]
    fn edge_shapes_do_not_panic() {
        for (lon, lat, r) in [
            (180.0, 85.05112878, 1e9),
            (-180.0, -85.05112878, 0.0),
            (0.0, 0.0, 1e-9),
        ] {
            let s = Shape {
                long: lon,
                lat,
                extent: Extent::Radius(r),
                conversion: 1.0,
            };
            let _ = boxes(&s);
            let s = Shape {
                extent: Extent::Box {
                    width: r,
                    height: r,
                },
                ..s
            };
            let _ = boxes(&s);
        }
    }
}
