//! Arrays in PostgreSQL's text format (`{1,"b c",NULL}`) and binary format, to and from
//! their stored JSON.

use dotdo_backend::Value;

use super::{Elem, json};
use crate::error::{SqlError, code};
use crate::types::{self, PgType};

/// A stored array's elements, or `None` when the value is not one.
fn elements(value: &Value) -> Option<Vec<Value>> {
    match value {
        Value::Text(s) => json::parse(s),
        Value::Blob(b) => json::parse(std::str::from_utf8(b).ok()?),
        _ => None,
    }
}

/// An element as the array stores it: booleans as 0/1, the rest as the element type keeps
/// its scalars.
fn stored(elem: Elem, v: Value) -> Value {
    match (elem, v) {
        (Elem::Bool, Value::Integer(i)) => Value::Integer(i64::from(i != 0)),
        (Elem::Float4 | Elem::Float8, Value::Integer(i)) => Value::Real(i as f64),
        (_, v) => v,
    }
}

// ---- text format ----

/// `array_in`'s whitespace.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

fn malformed(input: &str, detail: &str) -> SqlError {
    SqlError::new(
        code::INVALID_TEXT_REPRESENTATION,
        format!("malformed array literal: \"{input}\""),
    )
    .with_detail(detail)
}

fn multidimensional() -> SqlError {
    SqlError::unsupported("multidimensional arrays are not supported")
}

/// The elements of a text-format array literal (`None` for NULL elements).
pub fn parse_text(input: &str) -> Result<Vec<Option<String>>, SqlError> {
    let mut chars = input.chars().peekable();
    let skip_ws = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.peek().is_some_and(|c| is_space(*c)) {
            chars.next();
        }
    };
    skip_ws(&mut chars);
    let mut declared = None;
    if chars.peek() == Some(&'[') {
        declared = Some(dimensions(input, &mut chars)?);
        skip_ws(&mut chars);
    }
    if chars.next() != Some('{') {
        return Err(malformed(
            input,
            "Array value must start with \"{\" or dimension information.",
        ));
    }
    let mut out = Vec::new();
    skip_ws(&mut chars);
    if chars.peek() == Some(&'}') {
        chars.next();
    } else {
        loop {
            skip_ws(&mut chars);
            out.push(element(input, &mut chars)?);
            if out.len() > json::MAX_ELEMENTS {
                return Err(SqlError::new(
                    "54000",
                    format!(
                        "array size exceeds the maximum allowed ({})",
                        json::MAX_ELEMENTS
                    ),
                ));
            }
            skip_ws(&mut chars);
            match chars.next() {
                Some(',') => continue,
                Some('}') => break,
                Some(c) => return Err(malformed(input, &format!("Unexpected \"{c}\" character."))),
                None => return Err(malformed(input, "Unexpected end of input.")),
            }
        }
    }
    skip_ws(&mut chars);
    if chars.next().is_some() {
        return Err(malformed(input, "Junk after closing right brace."));
    }
    if let Some(n) = declared
        && n != out.len()
    {
        return Err(malformed(
            input,
            "Specified array dimensions do not match array contents.",
        ));
    }
    Ok(out)
}

/// `[lower:upper]=` before the braces: one dimension with lower bound 1.
fn dimensions(
    input: &str,
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<usize, SqlError> {
    chars.next();
    let mut spec = String::new();
    loop {
        match chars.next() {
            Some(']') => break,
            Some(c) if spec.len() < 40 => spec.push(c),
            _ => return Err(malformed(input, "Missing \"]\" after array dimensions.")),
        }
    }
    if chars.peek() == Some(&'[') {
        return Err(multidimensional());
    }
    if chars.next() != Some('=') {
        return Err(malformed(input, "Missing \"=\" after array dimensions."));
    }
    let bad = || malformed(input, "Invalid array dimensions.");
    let (lower, upper) = match spec.split_once(':') {
        Some((l, u)) => (
            l.trim().parse::<i64>().map_err(|_| bad())?,
            u.trim().parse::<i64>().map_err(|_| bad())?,
        ),
        None => (1, spec.trim().parse::<i64>().map_err(|_| bad())?),
    };
    if lower != 1 {
        return Err(SqlError::unsupported(
            "arrays with a lower bound other than 1 are not supported",
        ));
    }
    if upper < lower - 1 {
        return Err(malformed(
            input,
            "Upper bound cannot be less than lower bound.",
        ));
    }
    Ok((upper - lower + 1) as usize)
}

/// One element: quoted, or bare up to the next `,` or `}` (unescaped `NULL` is NULL).
fn element(
    input: &str,
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<Option<String>, SqlError> {
    let end = || malformed(input, "Unexpected end of input.");
    match chars.peek().copied() {
        Some('"') => {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('"') => return Ok(Some(s)),
                    Some('\\') => s.push(chars.next().ok_or_else(end)?),
                    Some(c) => s.push(c),
                    None => return Err(end()),
                }
            }
        }
        Some('{') => Err(multidimensional()),
        Some(c @ (',' | '}')) => Err(malformed(input, &format!("Unexpected \"{c}\" character."))),
        None => Err(end()),
        Some(_) => {
            let mut s = String::new();
            // Length of `s` up to its last character that is not trailing whitespace.
            let mut keep = 0;
            let mut escaped = false;
            while let Some(&c) = chars.peek() {
                match c {
                    ',' | '}' => break,
                    '{' | '"' => {
                        return Err(malformed(input, &format!("Unexpected \"{c}\" character.")));
                    }
                    '\\' => {
                        chars.next();
                        s.push(chars.next().ok_or_else(end)?);
                        keep = s.len();
                        escaped = true;
                        continue;
                    }
                    c => {
                        s.push(c);
                        if !is_space(c) {
                            keep = s.len();
                        }
                    }
                }
                chars.next();
            }
            s.truncate(keep);
            if !escaped && s.eq_ignore_ascii_case("null") {
                Ok(None)
            } else {
                Ok(Some(s))
            }
        }
    }
}

/// A text-format array as stored JSON.
pub fn from_text(elem: Elem, input: &str) -> Result<Value, SqlError> {
    let values = parse_text(input)?
        .into_iter()
        .map(|e| match e {
            None => Ok(Value::Null),
            Some(s) => types::from_text(elem.pg(), &s).map(|v| stored(elem, v)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Text(json::write(&values)))
}

/// Whether `array_out` quotes an element's text.
fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.eq_ignore_ascii_case("null")
        || s.chars()
            .any(|c| matches!(c, '"' | '\\' | '{' | '}' | ',') || is_space(c))
}

/// A stored array in PostgreSQL's text format; a value that is not a stored array is
/// returned as its text.
pub fn to_text(elem: Elem, value: &Value) -> Option<String> {
    if value.is_null() {
        return None;
    }
    let Some(values) = elements(value) else {
        return types::to_text(PgType::Text, value);
    };
    let mut out = String::from("{");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match types::to_text(elem.pg(), v) {
            None => out.push_str("NULL"),
            Some(s) if needs_quotes(&s) => {
                out.push('"');
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
            Some(s) => out.push_str(&s),
        }
    }
    out.push('}');
    Some(out)
}

// ---- binary format ----

fn binary_error(message: &str) -> SqlError {
    SqlError::new(code::INVALID_BINARY_REPRESENTATION, message)
}

struct Reader<'a> {
    b: &'a [u8],
}

impl Reader<'_> {
    fn i32(&mut self) -> Result<i32, SqlError> {
        let (head, rest) = self
            .b
            .split_first_chunk::<4>()
            .ok_or_else(|| binary_error("insufficient data left in message"))?;
        self.b = rest;
        Ok(i32::from_be_bytes(*head))
    }

    fn bytes(&mut self, n: usize) -> Result<&[u8], SqlError> {
        if n > self.b.len() {
            return Err(binary_error("insufficient data left in message"));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }
}

/// A binary-format array (`array_send`'s layout) as stored JSON. Elements are read as the
/// element type the message names when dotdo knows it, else as `elem`.
pub fn from_binary(elem: Elem, bytes: &[u8]) -> Result<Value, SqlError> {
    let mut r = Reader { b: bytes };
    let ndim = r.i32()?;
    let flags = r.i32()?;
    let oid = r.i32()? as u32;
    if !(0..=6).contains(&ndim) {
        return Err(binary_error(&format!(
            "invalid number of dimensions: {ndim}"
        )));
    }
    if flags != 0 && flags != 1 {
        return Err(binary_error("invalid array flags"));
    }
    let elem_ty = PgType::from_oid(oid)
        .filter(|t| Elem::of(*t).is_some())
        .unwrap_or_else(|| elem.pg());
    let mut count = 0usize;
    for d in 0..ndim {
        let size = r.i32()?;
        let lower = r.i32()?;
        if size < 0 {
            return Err(binary_error("invalid array dimensions"));
        }
        if d > 0 || ndim > 1 && size > 0 {
            return Err(multidimensional());
        }
        if lower != 1 && size > 0 {
            return Err(SqlError::unsupported(
                "arrays with a lower bound other than 1 are not supported",
            ));
        }
        count = size as usize;
    }
    // Each element takes at least its 4-byte length: bound the count before allocating.
    if count > json::MAX_ELEMENTS || count > r.b.len() / 4 {
        return Err(binary_error("insufficient data left in message"));
    }
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        let len = r.i32()?;
        if len == -1 {
            values.push(Value::Null);
            continue;
        }
        let len = usize::try_from(len).map_err(|_| binary_error("invalid element length"))?;
        let v = types::from_binary(elem_ty, r.bytes(len)?)?;
        values.push(stored(elem, v));
    }
    if !r.b.is_empty() {
        return Err(binary_error("incorrect binary data format in array"));
    }
    Ok(Value::Text(json::write(&values)))
}

/// A stored array in the binary format.
pub fn to_binary(elem: Elem, value: &Value) -> Result<Option<Vec<u8>>, SqlError> {
    if value.is_null() {
        return Ok(None);
    }
    let values = elements(value).ok_or_else(|| {
        SqlError::new(
            code::DATATYPE_MISMATCH,
            format!("value is not an array of type {}", elem.array_name()),
        )
    })?;
    let has_null = values.iter().any(Value::is_null);
    let mut out = Vec::with_capacity(20 + values.len() * 8);
    out.extend_from_slice(&i32::from(!values.is_empty()).to_be_bytes());
    out.extend_from_slice(&i32::from(has_null).to_be_bytes());
    out.extend_from_slice(&elem.pg().oid().to_be_bytes());
    if !values.is_empty() {
        out.extend_from_slice(&(values.len() as i32).to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
    }
    for v in &values {
        match types::to_binary(elem.pg(), v)? {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                out.extend_from_slice(&b);
            }
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(elem: Elem, s: &str) -> Result<String, SqlError> {
        let v = from_text(elem, s)?;
        Ok(to_text(elem, &v).unwrap_or_default())
    }

    #[test]
    fn text_round_trips_as_postgres_prints() {
        assert_eq!(text(Elem::Int4, "{1,2,3}").unwrap(), "{1,2,3}");
        assert_eq!(text(Elem::Int4, " { 1 , -2 } ").unwrap(), "{1,-2}");
        assert_eq!(text(Elem::Int4, "{}").unwrap(), "{}");
        assert_eq!(text(Elem::Int4, "{NULL,null,1}").unwrap(), "{NULL,NULL,1}");
        assert_eq!(
            text(Elem::Text, r#"{a,"b c","",NULL,"\"q\"","NULL",x\,y, d e }"#).unwrap(),
            r#"{a,"b c","",NULL,"\"q\"","NULL","x,y","d e"}"#
        );
        assert_eq!(text(Elem::Bool, "{t,false,TRUE}").unwrap(), "{t,f,t}");
        assert_eq!(text(Elem::Float8, "{1,2.5,1e20}").unwrap(), "{1,2.5,1e+20}");
        assert_eq!(text(Elem::Int4, "[1:2]={1,2}").unwrap(), "{1,2}");
        assert_eq!(
            text(Elem::Text, r#"{"back\\slash",{}"#).map_err(|e| e.code),
            Err("0A000")
        );
        assert_eq!(
            from_text(Elem::Int4, "{1,2}").unwrap(),
            Value::Text("[1,2]".into())
        );
        assert_eq!(
            from_text(Elem::Text, r#"{a,NULL,"b\"c"}"#).unwrap(),
            Value::Text(r#"["a",null,"b\"c"]"#.into())
        );
        assert_eq!(
            from_text(Elem::Bool, "{t,f}").unwrap(),
            Value::Text("[1,0]".into())
        );
        assert_eq!(
            from_text(Elem::Float8, "{1,0.5}").unwrap(),
            Value::Text("[1.0,0.5]".into())
        );
    }

    #[test]
    fn malformed_text_is_22p02() {
        for bad in [
            "",
            "1,2",
            "{1,2",
            "{1,,2}",
            "{1,}",
            "{,}",
            "{1}x",
            "{\"a}",
            "{a\"b}",
            "{1\\",
            "[1:3]={1,2}",
            "[1:2={1,2}",
            "[x]={1}",
            "[1:2]{1,2}",
        ] {
            let e = from_text(Elem::Int4, bad).expect_err(bad);
            assert_eq!(e.code, "22P02", "{bad}: {e:?}");
            assert!(
                e.message.starts_with("malformed array literal: \""),
                "{bad}: {e:?}"
            );
        }
        assert_eq!(from_text(Elem::Int4, "{1,a}").unwrap_err().code, "22P02");
        assert_eq!(from_text(Elem::Int4, "{{1,2}}").unwrap_err().code, "0A000");
        assert_eq!(
            from_text(Elem::Int4, "[2:3]={1,2}").unwrap_err().code,
            "0A000"
        );
        assert_eq!(from_text(Elem::Int2, "{70000}").unwrap_err().code, "22003");
    }

    fn binary(oid: u32, elems: &[Option<&[u8]>]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&1i32.to_be_bytes());
        b.extend_from_slice(&i32::from(elems.iter().any(Option::is_none)).to_be_bytes());
        b.extend_from_slice(&oid.to_be_bytes());
        b.extend_from_slice(&(elems.len() as i32).to_be_bytes());
        b.extend_from_slice(&1i32.to_be_bytes());
        for e in elems {
            match e {
                None => b.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(x) => {
                    b.extend_from_slice(&(x.len() as i32).to_be_bytes());
                    b.extend_from_slice(x);
                }
            }
        }
        b
    }

    #[test]
    fn binary_round_trips() {
        let b = binary(
            23,
            &[
                Some(&1i32.to_be_bytes()),
                None,
                Some(&(-7i32).to_be_bytes()),
            ],
        );
        let v = from_binary(Elem::Int4, &b).unwrap();
        assert_eq!(v, Value::Text("[1,null,-7]".into()));
        assert_eq!(to_binary(Elem::Int4, &v).unwrap(), Some(b));
        // Elements are read as the type the message names.
        let b = binary(21, &[Some(&5i16.to_be_bytes())]);
        assert_eq!(
            from_binary(Elem::Int8, &b).unwrap(),
            Value::Text("[5]".into())
        );
        let b = binary(25, &[Some(b"a b"), Some(b"")]);
        let v = from_binary(Elem::Text, &b).unwrap();
        assert_eq!(to_text(Elem::Text, &v).as_deref(), Some("{\"a b\",\"\"}"));
        assert_eq!(to_binary(Elem::Text, &v).unwrap(), Some(b));
        let empty = [0i32.to_be_bytes(), 0i32.to_be_bytes(), 23i32.to_be_bytes()].concat();
        assert_eq!(
            from_binary(Elem::Int4, &empty).unwrap(),
            Value::Text("[]".into())
        );
        assert_eq!(
            to_binary(Elem::Int4, &Value::Text("[]".into())).unwrap(),
            Some(empty)
        );
    }

    #[test]
    fn bad_binary_is_refused_without_panicking() {
        let good = binary(23, &[Some(&1i32.to_be_bytes()), Some(&2i32.to_be_bytes())]);
        for n in 0..good.len() {
            assert!(from_binary(Elem::Int4, &good[..n]).is_err(), "prefix {n}");
        }
        let mut long = good.clone();
        long.push(0);
        assert!(from_binary(Elem::Int4, &long).is_err());
        // A count far beyond the bytes sent is refused before anything is allocated.
        let mut huge = good.clone();
        huge[12..16].copy_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(from_binary(Elem::Int4, &huge).unwrap_err().code, "22P03");
        let mut neg = good.clone();
        neg[20..24].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(from_binary(Elem::Int4, &neg).is_err());
        let mut two_dims = good.clone();
        two_dims[0..4].copy_from_slice(&2i32.to_be_bytes());
        assert!(from_binary(Elem::Int4, &two_dims).is_err());
        // Deterministic garbage of every length.
        let mut x: u32 = 12345;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = from_binary(Elem::Int4, &bytes);
            let _ = from_binary(Elem::Text, &bytes);
            let _ = from_text(Elem::Text, &String::from_utf8_lossy(&bytes));
        }
    }
}
