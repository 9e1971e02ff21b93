//! Argument parsing shared by the commands, with Redis's own error wording.

use bytes::Bytes;

use crate::frame::{Reply, errors};

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Parse an integer as Redis's `string2ll` does: no sign but `-`, no leading zeros or spaces.
pub fn strict_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if digits.is_empty()
        || (digits[0] == b'0' && b.len() > 1)
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

pub fn int(b: &[u8]) -> Result<i64, Reply> {
    strict_i64(b).ok_or_else(|| Reply::err(errors::NOT_INT))
}

/// A float as `strtod` reads it for Redis: decimals, `inf`/`infinity` with a sign; never NaN,
/// spaces, or a value out of range (overflow to infinity, underflow to zero: `ERANGE`).
pub fn float_of(b: &[u8]) -> Option<f64> {
    // Most scores are small integers ("0", "-3"): up to 15 digits is exact in an f64.
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if (1..=15).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) {
        let n = digits
            .iter()
            .fold(0i64, |n, d| n * 10 + i64::from(d - b'0')) as f64;
        return Some(if digits.len() < b.len() { -n } else { n });
    }
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    // Rust reads the same decimals and `inf`/`infinity` spellings (any case), and `nan`.
    let v = s.parse::<f64>().ok()?;
    if v.is_nan() {
        return None;
    }
    if v.is_infinite() {
        // A literal infinity spells an `i`; any other infinity overflowed.
        return b.iter().any(|c| c.eq_ignore_ascii_case(&b'i')).then_some(v);
    }
    if v == 0.0 {
        let mantissa = b
            .split(|c| c.eq_ignore_ascii_case(&b'e'))
            .next()
            .unwrap_or(b);
        if mantissa.iter().any(|c| (b'1'..=b'9').contains(c)) {
            return None;
        }
    }
    Some(v)
}

pub fn float(b: &[u8]) -> Result<f64, Reply> {
    float_of(b).ok_or_else(|| Reply::err(errors::NOT_FLOAT))
}

/// A non-negative count (`COUNT`-style arguments).
pub fn count(b: &[u8]) -> Result<usize, Reply> {
    let n = int(b)?;
    usize::try_from(n).map_err(|_| Reply::err(errors::NOT_POSITIVE))
}

pub fn syntax() -> Reply {
    Reply::err(errors::SYNTAX)
}

/// Resolve a possibly negative index against `len`, Redis style, as an inclusive range.
pub fn range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if stop < 0 { len + stop } else { stop };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as usize, e as usize))
}

/// Glob matching as Redis's `stringmatchlen` (`*`, `?`, `[...]`, `\` escapes).
pub fn glob(pattern: &[u8], s: &[u8]) -> bool {
    glob_at(pattern, s, 0)
}

fn glob_at(p: &[u8], s: &[u8], depth: usize) -> bool {
    if depth > 1000 {
        return false;
    }
    let (mut pi, mut si) = (0, 0);
    while pi < p.len() {
        match p[pi] {
            b'*' => {
                while pi + 1 < p.len() && p[pi + 1] == b'*' {
                    pi += 1;
                }
                if pi + 1 == p.len() {
                    return true;
                }
                return (si..=s.len()).any(|k| glob_at(&p[pi + 1..], &s[k..], depth + 1));
            }
            b'?' => {
                if si >= s.len() {
                    return false;
                }
                si += 1;
            }
            b'[' => {
                if si >= s.len() {
                    return false;
                }
                pi += 1;
                let not = p.get(pi) == Some(&b'^');
                if not {
                    pi += 1;
                }
                let mut matched = false;
                while pi < p.len() && p[pi] != b']' {
                    if p[pi] == b'\\' && pi + 1 < p.len() {
                        pi += 1;
                        matched |= p[pi] == s[si];
                    } else if pi + 2 < p.len() && p[pi + 1] == b'-' {
                        let (mut lo, mut hi) = (p[pi], p[pi + 2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        matched |= s[si] >= lo && s[si] <= hi;
                        pi += 2;
                    } else {
                        matched |= p[pi] == s[si];
                    }
                    pi += 1;
                }
                if matched == not {
                    return false;
                }
                si += 1;
            }
            b'\\' if pi + 1 < p.len() => {
                pi += 1;
                if si >= s.len() || p[pi] != s[si] {
                    return false;
                }
                si += 1;
            }
            c => {
                if si >= s.len() || c != s[si] {
                    return false;
                }
                si += 1;
            }
        }
        pi += 1;
    }
    si == s.len()
}

/// Bytes of an integer reply stored as a string.
pub fn int_bytes(i: i64) -> Bytes {
    Bytes::from(i.to_string())
}

/// A container command's HELP reply, as Redis words it: the header, `lines`, then HELP.
pub fn help(cmd: &str, lines: &[&str]) -> Reply {
    let mut out = vec![Reply::Simple(format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ))];
    out.extend(lines.iter().map(|l| Reply::Simple((*l).to_owned())));
    out.push(Reply::Simple("HELP".into()));
    out.push(Reply::Simple("    Prints this help.".into()));
    Reply::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_strict() {
        assert_eq!(strict_i64(b"-12"), Some(-12));
        assert_eq!(strict_i64(b"0"), Some(0));
        for bad in [
            &b"+1"[..],
            b"01",
            b" 1",
            b"1 ",
            b"",
            b"-",
            b"99999999999999999999",
        ] {
            assert_eq!(strict_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn floats_out_of_range_are_refused() {
        assert_eq!(float_of(b"1e400"), None);
        assert_eq!(float_of(b"-1e400"), None);
        assert_eq!(float_of(b"1e-400"), None);
        assert_eq!(float_of(b"0e10"), Some(0.0));
        assert_eq!(float_of(b"0.000"), Some(0.0));
        assert!(float_of(b"1e-310").is_some_and(|v| v > 0.0));
        assert_eq!(float_of(b"inf"), Some(f64::INFINITY));
        assert_eq!(float_of(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(float_of(b"+INF"), Some(f64::INFINITY));
        for bad in [
            &b"nan"[..],
            b"-nan",
            b"infinite",
            b"1 ",
            b" 1",
            b"",
            b"0x10",
            b"1e",
            b"e1",
        ] {
            assert_eq!(float_of(bad), None, "{bad:?}");
        }
        assert_eq!(float_of(b".5"), Some(0.5));
        assert_eq!(float_of(b"5."), Some(5.0));
    }

    #[test]
    fn integer_scores_read_as_the_general_parse_reads_them() {
        for s in [
            &b"0"[..],
            b"-0",
            b"7",
            b"-42",
            b"007",
            b"999999999999999",
            b"-999999999999999",
            b"9999999999999999",
            b"12345678901234567890",
            b"+5",
            b"--5",
            b"-",
        ] {
            let general = std::str::from_utf8(s).unwrap().parse::<f64>().ok();
            let got = float_of(s);
            assert_eq!(got.map(f64::to_bits), general.map(f64::to_bits), "{s:?}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob(b"h?llo", b"hello"));
        assert!(glob(b"h*llo", b"heeeello"));
        assert!(glob(b"h[ae]llo", b"hallo"));
        assert!(!glob(b"h[^e]llo", b"hello"));
        assert!(glob(b"h[a-b]llo", b"hbllo"));
        assert!(glob(b"*", b""));
        assert!(!glob(b"a*b", b"acbd"));
        assert!(glob(b"a\\*", b"a*"));
    }

    #[test]
    fn ranges() {
        assert_eq!(range(0, -1, 3), Some((0, 2)));
        assert_eq!(range(-100, 100, 3), Some((0, 2)));
        assert_eq!(range(2, 1, 3), None);
        assert_eq!(range(5, 10, 3), None);
        assert_eq!(range(0, -1, 0), None);
    }
}
