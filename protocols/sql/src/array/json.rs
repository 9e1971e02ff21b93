//! The JSON an array is stored as: a flat JSON array of scalars, read and written the way
//! SQLite's JSON functions write it (minified, SQLite's string escapes and REAL spelling).

use dotdo_backend::Value;

/// Arrays longer than this are refused (reading and writing).
pub const MAX_ELEMENTS: usize = 1 << 20;

/// The elements of a stored array as SQLite values (`true`/`false` as 1/0, `null` as NULL),
/// or `None` when `text` is not a flat JSON array.
pub fn parse(text: &str) -> Option<Vec<Value>> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    p.eat(b'[')?;
    let mut out = Vec::new();
    p.ws();
    if p.peek() == Some(b']') {
        p.i += 1;
    } else {
        loop {
            p.ws();
            out.push(p.scalar()?);
            if out.len() > MAX_ELEMENTS {
                return None;
            }
            p.ws();
            match p.next()? {
                b',' => continue,
                b']' => break,
                _ => return None,
            }
        }
    }
    p.ws();
    (p.i == p.s.len()).then_some(out)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn word(&mut self, w: &str) -> Option<()> {
        let end = self.i + w.len();
        (self.s.get(self.i..end)? == w.as_bytes()).then(|| self.i = end)
    }

    fn scalar(&mut self) -> Option<Value> {
        match self.peek()? {
            b'"' => self.string().map(Value::Text),
            b't' => self.word("true").map(|_| Value::Integer(1)),
            b'f' => self.word("false").map(|_| Value::Integer(0)),
            b'n' => self.word("null").map(|_| Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        if let Ok(i) = text.parse::<i64>() {
            return Some(Value::Integer(i));
        }
        text.parse::<f64>().ok().map(Value::Real)
    }

    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            match self.next()? {
                b'"' => break,
                b'\\' => match self.next()? {
                    b'"' => out.push(b'"'),
                    b'\\' => out.push(b'\\'),
                    b'/' => out.push(b'/'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'u' => {
                        let mut c = self.hex4()?;
                        if (0xD800..0xDC00).contains(&c) {
                            self.word("\\u")?;
                            let lo = self.hex4()?;
                            if !(0xDC00..0xE000).contains(&lo) {
                                return None;
                            }
                            c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                        }
                        let ch = char::from_u32(c)?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => return None,
                },
                c => out.push(c),
            }
        }
        String::from_utf8(out).ok()
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = std::str::from_utf8(self.s.get(self.i..self.i + 4)?).ok()?;
        self.i += 4;
        u32::from_str_radix(h, 16).ok()
    }
}

/// A JSON array of `values` as SQLite writes it.
pub fn write(values: &[Value]) -> String {
    let mut out = String::with_capacity(2 + values.len() * 4);
    out.push('[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match v {
            Value::Null => out.push_str("null"),
            Value::Integer(n) => out.push_str(&n.to_string()),
            Value::Real(f) => out.push_str(&real(*f)),
            Value::Text(s) => string(&mut out, s),
            Value::Blob(b) => string(&mut out, &String::from_utf8_lossy(b)),
        }
    }
    out.push(']');
    out
}

/// A string with SQLite's escapes: `"` and `\`, `\b \t \n \f \r`, other controls `\u00xx`.
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A REAL as SQLite's JSON writes it (`%!0.17g`): always with a decimal point, exponent
/// form (`1.0e+20`) below 1e-4 and from 1e17. (SQLite prints some values with a 17th digit
/// where the shortest form has 16; those arrays compare unequal to SQLite-built ones.)
pub fn real(f: f64) -> String {
    if f.is_nan() {
        return "null".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "9.0e+999" } else { "-9.0e+999" }.into();
    }
    let a = f.abs();
    let point = |m: &str| {
        if m.contains('.') {
            m.to_owned()
        } else {
            format!("{m}.0")
        }
    };
    let sci = format!("{a:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let body = if (-4..=16).contains(&exp) {
        point(&a.to_string())
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", point(mantissa), exp.abs())
    };
    if f < 0.0 { format!("-{body}") } else { body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_sqlite_json() {
        let v =
            parse(r#" [1, -2, 2.5, "a\"b\\c\n\u0001\u00e9", null, true, false] "#).expect("parses");
        assert_eq!(
            v,
            vec![
                Value::Integer(1),
                Value::Integer(-2),
                Value::Real(2.5),
                Value::Text("a\"b\\c\n\u{1}é".into()),
                Value::Null,
                Value::Integer(1),
                Value::Integer(0),
            ]
        );
        assert_eq!(write(&v), "[1,-2,2.5,\"a\\\"b\\\\c\\n\\u0001é\",null,1,0]");
        assert_eq!(parse("[]"), Some(vec![]));
        for bad in [
            "", "[", "[1,]", "[1 2]", "{}", "[[1]]", "[\"a]", "[1]x", "[tru]",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn reals_are_spelled_as_sqlite_spells_them() {
        let cases = [
            (0.1, "0.1"),
            (2.0, "2.0"),
            (-2.5, "-2.5"),
            (0.0, "0.0"),
            (1e20, "1.0e+20"),
            (1e-5, "1.0e-05"),
            (0.0001, "0.0001"),
            (1e15, "1000000000000000.0"),
            (1e16, "10000000000000000.0"),
            (1.5e17, "1.5e+17"),
            (123456789.123, "123456789.123"),
        ];
        for (f, s) in cases {
            assert_eq!(real(f), s, "{f}");
        }
    }
}
