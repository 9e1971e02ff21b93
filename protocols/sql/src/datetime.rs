//! Dates and timestamps in PostgreSQL's ISO text format, to and from days and microseconds.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD` (anything after the date is ignored) to days since 1970-01-01.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let date = s.get(..10)?;
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `HH:MM[:SS[.ffffff]]` to microseconds since midnight.
pub fn parse_time_micros(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s.split(['+', 'Z']).next()?;
    let mut parts = s.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec = parts.next().unwrap_or("0");
    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
    let whole: i64 = whole.parse().ok()?;
    let mut frac = frac.to_owned();
    frac.truncate(6);
    while frac.len() < 6 {
        frac.push('0');
    }
    let frac: i64 = frac.parse().ok()?;
    Some(((h * 60 + m) * 60 + whole) * 1_000_000 + frac)
}

/// `YYYY-MM-DD[ T]HH:MM:SS[.ffffff][+HH[:MM]]` to microseconds since the Unix epoch (UTC).
pub fn parse_timestamp_micros(s: &str) -> Option<i64> {
    let s = s.trim();
    let days = parse_date(s)?;
    let rest = s.get(10..)?.trim_start_matches(['T', ' ']);
    if rest.is_empty() {
        return Some(days * 86_400_000_000);
    }
    // Split off a zone offset: the last '+' or a '-' after the time.
    let (time, offset_secs) = match rest.rfind(['+', '-']) {
        Some(i) => {
            let (t, z) = rest.split_at(i);
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let z = &z[1..];
            let (hh, mm) = z
                .split_once(':')
                .unwrap_or((z.get(..2).unwrap_or(z), z.get(2..).unwrap_or("")));
            let hh: i64 = hh.parse().ok()?;
            let mm: i64 = if mm.is_empty() { 0 } else { mm.parse().ok()? };
            (t, sign * (hh * 3600 + mm * 60))
        }
        None => (rest.trim_end_matches('Z'), 0),
    };
    let micros = parse_time_micros(time)?;
    Some(days * 86_400_000_000 + micros - offset_secs * 1_000_000)
}

pub fn format_timestamp(micros: i64) -> String {
    let days = micros.div_euclid(86_400_000_000);
    let rem = micros.rem_euclid(86_400_000_000);
    let secs = rem / 1_000_000;
    let frac = rem % 1_000_000;
    let mut out = format!(
        "{} {:02}:{:02}:{:02}",
        format_date(days),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if frac != 0 {
        let f = format!("{frac:06}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out
}

/// The current UTC time as `YYYY-MM-DD HH:MM:SS.SSS`, a time value SQLite's date functions take.
pub fn utc_now_text() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let secs = ms_of_day / 1000;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ms_of_day % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("2000-01-01"), Some(10957));
        assert_eq!(format_date(10957), "2000-01-01");
        let t = parse_timestamp_micros("2024-02-29 12:34:56.5+00").expect("parses");
        assert_eq!(format_timestamp(t), "2024-02-29 12:34:56.5");
    }
}
