//! GEO commands over sorted sets whose scores are 52-bit geohashes: GEOADD, GEOPOS, GEODIST,
//! GEOHASH, GEOSEARCH(STORE), GEORADIUS(BYMEMBER)(_RO), with redis-server 7's argument order,
//! errors, scan order and number formatting.

use bytes::Bytes;

use super::args::{self, is, syntax};
use super::geohash::{self as gh, Extent, Shape};
use crate::frame::Reply;
use crate::store::view::CmdResult;
use crate::store::{View, ZSet};

pub fn run(name: &str, v: &mut View, a: &[Bytes]) -> CmdResult {
    match name {
        "geoadd" => geoadd(v, a),
        "geopos" => geopos(v, a),
        "geodist" => geodist(v, a),
        "geohash" => geohash(v, a),
        "geosearch" => search(v, a, 1, Flavor::Search),
        "geosearchstore" => search(v, a, 2, Flavor::SearchStore),
        "georadius" => search(v, a, 1, Flavor::Radius { ro: false }),
        "georadius_ro" => search(v, a, 1, Flavor::Radius { ro: true }),
        "georadiusbymember" => search(v, a, 1, Flavor::Member { ro: false }),
        "georadiusbymember_ro" => search(v, a, 1, Flavor::Member { ro: true }),
        other => Err(Reply::err(format!("ERR unknown command '{other}'"))),
    }
}

/// `%.17Lf` with trailing zeroes (and a bare dot) removed, as Redis's human long doubles.
pub fn human(d: f64) -> String {
    let mut s = format!("{d:.17}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" { "0".into() } else { s }
}

/// A distance with four decimals, rounded half to even as `llrint` does.
pub fn distance_text(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let scaled = (d * 10000.0).round_ties_even();
    if !scaled.is_finite() || scaled.abs() >= 9.2e18 {
        return format!("{d:.4}");
    }
    let n = scaled as i64;
    let sign = if n < 0 { "-" } else { "" };
    let u = n.unsigned_abs();
    format!("{sign}{}.{:04}", u / 10000, u % 10000)
}

fn lon_lat(a: &[Bytes]) -> Result<(f64, f64), Reply> {
    let long = args::float(&a[0])?;
    let lat = args::float(&a[1])?;
    if !(gh::LONG_MIN..=gh::LONG_MAX).contains(&long) || !(gh::LAT_MIN..=gh::LAT_MAX).contains(&lat)
    {
        return Err(Reply::err(format!(
            "ERR invalid longitude,latitude pair {long:.6},{lat:.6}"
        )));
    }
    Ok((long, lat))
}

fn unit(u: &[u8]) -> Result<f64, Reply> {
    [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)]
        .into_iter()
        .find(|(w, _)| is(u, w))
        .map(|(_, f)| f)
        .ok_or_else(|| Reply::err("ERR unsupported unit provided. please use M, KM, FT, MI"))
}

fn num(b: &[u8], what: &str) -> Result<f64, Reply> {
    args::float_of(b).ok_or_else(|| Reply::err(format!("ERR need numeric {what}")))
}

fn radius(a: &[Bytes]) -> Result<(f64, f64), Reply> {
    let r = num(&a[0], "radius")?;
    if r < 0.0 {
        return Err(Reply::err("ERR radius cannot be negative"));
    }
    Ok((r, unit(&a[1])?))
}

fn geoadd(v: &mut View, a: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx) = (false, false);
    let mut first = 2;
    while first < a.len() {
        let o = &a[first];
        if is(o, "nx") {
            nx = true;
        } else if is(o, "xx") {
            xx = true;
        } else if !is(o, "ch") {
            break;
        }
        first += 1;
    }
    if !(a.len() - first).is_multiple_of(3) || (nx && xx) {
        return Err(syntax());
    }
    let mut zadd: Vec<Bytes> = a[..first].to_vec();
    zadd[0] = Bytes::from_static(b"zadd");
    for t in a[first..].chunks(3) {
        let (long, lat) = lon_lat(t)?;
        let h =
            gh::encode(gh::WGS84_LONG, gh::WGS84_LAT, long, lat, gh::STEP_MAX).unwrap_or_default();
        zadd.push(Bytes::from(gh::align52(h).to_string()));
        zadd.push(t[2].clone());
    }
    super::zset::zadd(v, &zadd)
}

fn coords(long: f64, lat: f64) -> Reply {
    Reply::Array(vec![
        Reply::DoubleText(human(long)),
        Reply::DoubleText(human(lat)),
    ])
}

fn geopos(v: &mut View, a: &[Bytes]) -> CmdResult {
    let z = v.zset(&a[1])?;
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|m| {
                z.and_then(|z| z.score(m))
                    .and_then(gh::decode_score)
                    .map_or(Reply::NilArray, |(lo, la)| coords(lo, la))
            })
            .collect(),
    ))
}

fn geodist(v: &mut View, a: &[Bytes]) -> CmdResult {
    let to_meter = match a.len() {
        4 => 1.0,
        5 => unit(&a[4])?,
        _ => return Err(syntax()),
    };
    let Some(z) = v.zset(&a[1])? else {
        return Ok(Reply::Nil);
    };
    let point = |m: &Bytes| z.score(m).and_then(gh::decode_score);
    Ok(match (point(&a[2]), point(&a[3])) {
        (Some((x1, y1)), Some((x2, y2))) => {
            Reply::bulk(distance_text(gh::distance(x1, y1, x2, y2) / to_meter))
        }
        _ => Reply::Nil,
    })
}

fn geohash(v: &mut View, a: &[Bytes]) -> CmdResult {
    const ALPHABET: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let z = v.zset(&a[1])?;
    let standard_lat = gh::Range {
        min: -90.0,
        max: 90.0,
    };
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|m| {
                let Some((long, lat)) = z.and_then(|z| z.score(m)).and_then(gh::decode_score)
                else {
                    return Reply::Nil;
                };
                let bits = gh::encode(gh::WGS84_LONG, standard_lat, long, lat, 26)
                    .unwrap_or_default()
                    .bits;
                let text: Vec<u8> = (0..11)
                    .map(|i| {
                        let idx = if i == 10 {
                            0
                        } else {
                            (bits >> (52 - (i + 1) * 5)) & 0x1f
                        };
                        ALPHABET[idx as usize]
                    })
                    .collect();
                Reply::bulk(text)
            })
            .collect(),
    ))
}

#[derive(Clone, Copy, PartialEq)]
enum Flavor {
    Radius { ro: bool },
    Member { ro: bool },
    Search,
    SearchStore,
}

#[derive(Clone, Copy, PartialEq)]
enum Order {
    None,
    Asc,
    Desc,
}

struct Point {
    member: Bytes,
    score: f64,
    dist: f64,
    long: f64,
    lat: f64,
}

fn member_point(z: &ZSet, m: &[u8]) -> Result<(f64, f64), Reply> {
    z.score(m)
        .and_then(gh::decode_score)
        .ok_or_else(|| Reply::err("ERR could not decode requested zset member"))
}

/// Every member inside `shape`, scanning Redis's nine boxes in its order; stops at `limit`.
fn points_in(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    let boxes = gh::boxes(shape);
    let mut out = Vec::new();
    let mut last: Option<usize> = None;
    for (i, b) in boxes.iter().enumerate() {
        if gh::is_zero(b) {
            continue;
        }
        if let Some(l) = last
            && l != 0
            && boxes[l] == *b
        {
            continue;
        }
        if limit > 0 && out.len() >= limit {
            break;
        }
        let (min, max) = gh::score_range(*b);
        for (m, score) in z.from_score(min as f64) {
            if score >= max as f64 {
                break;
            }
            if let Some((long, lat)) = gh::decode_score(score)
                && let Some(dist) = gh::within(shape, long, lat)
            {
                out.push(Point {
                    member: m.clone(),
                    score,
                    dist,
                    long,
                    lat,
                });
            }
            if limit > 0 && out.len() >= limit {
                break;
            }
        }
        last = Some(i);
    }
    out
}

#[derive(Default)]
struct Opts {
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    any: bool,
    count: usize,
    order: Option<Order>,
    store: Option<(Bytes, bool)>,
    from_member: bool,
    from_loc: bool,
    by_radius: bool,
    by_box: bool,
}

/// GEORADIUS, GEORADIUSBYMEMBER, their _RO forms, GEOSEARCH and GEOSEARCHSTORE.
fn search(v: &mut View, a: &[Bytes], src: usize, flavor: Flavor) -> CmdResult {
    let z = v.zset(&a[src])?;
    let geosearch = matches!(flavor, Flavor::Search | Flavor::SearchStore);
    let no_store = matches!(
        flavor,
        Flavor::Radius { ro: true } | Flavor::Member { ro: true }
    );
    let mut shape = Shape {
        long: 0.0,
        lat: 0.0,
        extent: Extent::Radius(0.0),
        conversion: 1.0,
    };
    let base = match flavor {
        Flavor::Radius { .. } => {
            (shape.long, shape.lat) = lon_lat(&a[2..4])?;
            let (r, c) = radius(&a[4..6])?;
            (shape.extent, shape.conversion) = (Extent::Radius(r), c);
            6
        }
        Flavor::Member { .. } => {
            if let Some(z) = z {
                (shape.long, shape.lat) = member_point(z, &a[2])?;
                let (r, c) = radius(&a[3..5])?;
                (shape.extent, shape.conversion) = (Extent::Radius(r), c);
            }
            5
        }
        Flavor::Search => 2,
        Flavor::SearchStore => 3,
    };
    let mut o = Opts::default();
    if flavor == Flavor::SearchStore {
        o.store = Some((a[1].clone(), false));
    }
    let rest = &a[base.min(a.len())..];
    let mut i = 0;
    while i < rest.len() {
        let arg = &rest[i];
        let left = rest.len() - i - 1;
        if is(arg, "withdist") {
            o.withdist = true;
        } else if is(arg, "withhash") {
            o.withhash = true;
        } else if is(arg, "withcoord") {
            o.withcoord = true;
        } else if is(arg, "any") {
            o.any = true;
        } else if is(arg, "asc") {
            o.order = Some(Order::Asc);
        } else if is(arg, "desc") {
            o.order = Some(Order::Desc);
        } else if is(arg, "count") && left >= 1 {
            let n = args::int(&rest[i + 1])?;
            if n <= 0 {
                return Err(Reply::err("ERR COUNT must be > 0"));
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
            i += 1;
        } else if (is(arg, "store") || is(arg, "storedist")) && left >= 1 && !no_store && !geosearch
        {
            o.store = Some((rest[i + 1].clone(), is(arg, "storedist")));
            i += 1;
        } else if is(arg, "storedist") && flavor == Flavor::SearchStore {
            o.store = Some((a[1].clone(), true));
        } else if is(arg, "frommember") && left >= 1 && geosearch && !o.from_loc {
            if let Some(z) = z {
                (shape.long, shape.lat) = member_point(z, &rest[i + 1])?;
            }
            o.from_member = true;
            i += 1;
        } else if is(arg, "fromlonlat") && left >= 2 && geosearch && !o.from_member {
            (shape.long, shape.lat) = lon_lat(&rest[i + 1..i + 3])?;
            o.from_loc = true;
            i += 2;
        } else if is(arg, "byradius") && left >= 2 && geosearch && !o.by_box {
            let (r, c) = radius(&rest[i + 1..i + 3])?;
            (shape.extent, shape.conversion) = (Extent::Radius(r), c);
            o.by_radius = true;
            i += 2;
        } else if is(arg, "bybox") && left >= 3 && geosearch && !o.by_radius {
            let w = num(&rest[i + 1], "width")?;
            let h = num(&rest[i + 2], "height")?;
            if h < 0.0 || w < 0.0 {
                return Err(Reply::err("ERR height or width cannot be negative"));
            }
            let c = unit(&rest[i + 3])?;
            (shape.extent, shape.conversion) = (
                Extent::Box {
                    width: w,
                    height: h,
                },
                c,
            );
            o.by_box = true;
            i += 3;
        } else {
            return Err(syntax());
        }
        i += 1;
    }
    check_opts(&o, flavor, &a[0])?;
    let Some(z) = z else {
        return Ok(match o.store {
            Some((key, _)) => {
                if v.remove(&key)?.is_some() {
                    v.notify(crate::notify::GENERIC, "del", &key);
                }
                Reply::Int(0)
            }
            None => Reply::Array(vec![]),
        });
    };
    let mut order = o.order.unwrap_or(Order::None);
    if o.count != 0 && order == Order::None && !o.any {
        order = Order::Asc;
    }
    let mut found = points_in(z, &shape, if o.any { o.count } else { 0 });
    if order != Order::None {
        let cmp = |x: &Point, y: &Point| {
            let c = if x.dist > y.dist {
                std::cmp::Ordering::Greater
            } else if x.dist == y.dist {
                std::cmp::Ordering::Equal
            } else {
                std::cmp::Ordering::Less
            };
            if order == Order::Desc { c.reverse() } else { c }
        };
        if o.count != 0 && o.count < found.len() {
            // Redis's partial quicksort for COUNT: equal distances land where it puts them.
            super::pqsort::pqsort(&mut found, cmp, 0, o.count as i64 - 1);
        } else {
            found.sort_by(cmp);
        }
    }
    if o.count != 0 {
        found.truncate(o.count);
    }
    match o.store {
        None => Ok(Reply::Array(
            found
                .into_iter()
                .map(|p| reply_of(p, &o, shape.conversion))
                .collect(),
        )),
        Some((key, storedist)) => {
            let n = found.len();
            if n == 0 {
                if v.remove(&key)?.is_some() {
                    v.notify(crate::notify::GENERIC, "del", &key);
                }
                return Ok(Reply::Int(0));
            }
            let mut out = ZSet::default();
            for p in found {
                let score = if storedist {
                    p.dist / shape.conversion
                } else {
                    p.score
                };
                out.insert(p.member, score);
            }
            v.put_value(&key, crate::store::Value::ZSet(out), None)?;
            let event = if a[0].eq_ignore_ascii_case(b"geosearchstore") {
                "geosearchstore"
            } else {
                "georadiusstore"
            };
            v.notify(crate::notify::ZSET, event, &key);
            Ok(Reply::Int(n as i64))
        }
    }
}

fn check_opts(o: &Opts, flavor: Flavor, name: &[u8]) -> Result<(), Reply> {
    let name = String::from_utf8_lossy(name);
    if o.store.is_some() && (o.withdist || o.withhash || o.withcoord) {
        let what = if flavor == Flavor::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(Reply::err(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let geosearch = matches!(flavor, Flavor::Search | Flavor::SearchStore);
    if geosearch && !(o.from_member || o.from_loc) {
        return Err(Reply::err(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if geosearch && !(o.by_radius || o.by_box) {
        return Err(Reply::err(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if o.any && o.count == 0 {
        return Err(Reply::err("ERR the ANY argument requires COUNT argument"));
    }
    Ok(())
}

fn reply_of(p: Point, o: &Opts, conversion: f64) -> Reply {
    if !(o.withdist || o.withhash || o.withcoord) {
        return Reply::Bulk(p.member);
    }
    let mut item = vec![Reply::Bulk(p.member)];
    if o.withdist {
        item.push(Reply::bulk(distance_text(p.dist / conversion)));
    }
    if o.withhash {
        item.push(Reply::Int(p.score as i64));
    }
    if o.withcoord {
        item.push(coords(p.long, p.lat));
    }
    Reply::Array(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_as_redis() {
        assert_eq!(human(13.361389338970184), "13.36138933897018433");
        assert_eq!(human(1.0), "1");
        assert_eq!(human(-0.0), "0");
        assert_eq!(distance_text(166274.1516), "166274.1516");
        assert_eq!(distance_text(0.0), "0.0000");
        assert_eq!(distance_text(0.00005), "0.0000");
        assert_eq!(distance_text(12.5), "12.5000");
    }
}
