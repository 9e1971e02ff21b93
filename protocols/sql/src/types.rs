//! PostgreSQL types: OIDs, how each is stored in SQLite, and its text and binary wire formats.

use dotdo_backend::Value;

use crate::error::SqlError;

/// The PostgreSQL types the translation knows. Anything else is carried as `text`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PgType {
    Bool,
    Int2,
    Int4,
    Int8,
    /// `numeric(p, s)`; `scale` is `None` for an unconstrained numeric.
    Numeric {
        scale: Option<u32>,
    },
    Float4,
    Float8,
    Text,
    Varchar,
    Bpchar,
    Name,
    Bytea,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Interval,
    Uuid,
    Json,
    Jsonb,
    Oid,
    Char,
    Unknown,
    /// A one-dimensional array, stored as JSON (see `array`).
    Array(crate::array::Elem),
}

impl PgType {
    pub fn oid(self) -> u32 {
        match self {
            PgType::Bool => 16,
            PgType::Int2 => 21,
            PgType::Int4 => 23,
            PgType::Int8 => 20,
            PgType::Numeric { .. } => 1700,
            PgType::Float4 => 700,
            PgType::Float8 => 701,
            PgType::Text => 25,
            PgType::Varchar => 1043,
            PgType::Bpchar => 1042,
            PgType::Name => 19,
            PgType::Bytea => 17,
            PgType::Date => 1082,
            PgType::Time => 1083,
            PgType::Timestamp => 1114,
            PgType::Timestamptz => 1184,
            PgType::Interval => 1186,
            PgType::Uuid => 2950,
            PgType::Json => 114,
            PgType::Jsonb => 3802,
            PgType::Oid => 26,
            PgType::Char => 18,
            PgType::Unknown => 705,
            PgType::Array(e) => e.array_oid(),
        }
    }

    pub fn from_oid(oid: u32) -> Option<PgType> {
        Some(match oid {
            16 => PgType::Bool,
            21 => PgType::Int2,
            23 => PgType::Int4,
            20 => PgType::Int8,
            1700 => PgType::Numeric { scale: None },
            700 => PgType::Float4,
            701 => PgType::Float8,
            25 => PgType::Text,
            1043 => PgType::Varchar,
            1042 => PgType::Bpchar,
            19 => PgType::Name,
            17 => PgType::Bytea,
            1082 => PgType::Date,
            1083 => PgType::Time,
            1114 => PgType::Timestamp,
            1184 => PgType::Timestamptz,
            1186 => PgType::Interval,
            2950 => PgType::Uuid,
            114 => PgType::Json,
            3802 => PgType::Jsonb,
            26 => PgType::Oid,
            18 => PgType::Char,
            705 => PgType::Unknown,
            _ => return crate::array::Elem::from_array_oid(oid).map(PgType::Array),
        })
    }

    /// The type's name as `format_type` prints it (without modifiers).
    pub fn name(self) -> &'static str {
        match self {
            PgType::Bool => "boolean",
            PgType::Int2 => "smallint",
            PgType::Int4 => "integer",
            PgType::Int8 => "bigint",
            PgType::Numeric { .. } => "numeric",
            PgType::Float4 => "real",
            PgType::Float8 => "double precision",
            PgType::Text => "text",
            PgType::Varchar => "character varying",
            PgType::Bpchar => "character",
            PgType::Name => "name",
            PgType::Bytea => "bytea",
            PgType::Date => "date",
            PgType::Time => "time without time zone",
            PgType::Timestamp => "timestamp without time zone",
            PgType::Timestamptz => "timestamp with time zone",
            PgType::Interval => "interval",
            PgType::Uuid => "uuid",
            PgType::Json => "json",
            PgType::Jsonb => "jsonb",
            PgType::Oid => "oid",
            PgType::Char => "\"char\"",
            PgType::Unknown => "unknown",
            PgType::Array(e) => e.array_name(),
        }
    }

    /// The key under which the catalog stores the type.
    pub fn catalog_key(self) -> String {
        match self {
            PgType::Numeric { scale: Some(s) } => format!("numeric:{s}"),
            other => other.oid().to_string(),
        }
    }

    pub fn from_catalog_key(key: &str) -> PgType {
        if let Some(scale) = key.strip_prefix("numeric:") {
            return PgType::Numeric {
                scale: scale.parse().ok(),
            };
        }
        key.parse()
            .ok()
            .and_then(PgType::from_oid)
            .unwrap_or(PgType::Text)
    }

    /// Parse a type name as written in SQL (`int4`, `character varying`, `timestamptz`, ...).
    pub fn from_name(name: &str) -> Option<PgType> {
        let lower = name.trim().to_ascii_lowercase();
        if let Some(array) = crate::array::type_from_name(&lower) {
            return Some(array);
        }
        let base = lower.split('(').next().unwrap_or("").trim();
        let base = base.trim_start_matches("pg_catalog.");
        Some(match base {
            "bool" | "boolean" => PgType::Bool,
            "int2" | "smallint" | "smallserial" | "serial2" => PgType::Int2,
            "int" | "int4" | "integer" | "serial" | "serial4" => PgType::Int4,
            "int8" | "bigint" | "bigserial" | "serial8" => PgType::Int8,
            "numeric" | "decimal" => PgType::Numeric {
                scale: numeric_scale(&lower),
            },
            "real" | "float4" => PgType::Float4,
            "float" | "float8" | "double precision" | "double" => PgType::Float8,
            "text" | "string" => PgType::Text,
            "varchar" | "character varying" => PgType::Varchar,
            "char" | "character" | "bpchar" => PgType::Bpchar,
            "name" => PgType::Name,
            "bytea" | "blob" => PgType::Bytea,
            "date" => PgType::Date,
            "time" | "time without time zone" => PgType::Time,
            "timestamp" | "timestamp without time zone" => PgType::Timestamp,
            "timestamptz" | "timestamp with time zone" => PgType::Timestamptz,
            "interval" => PgType::Interval,
            "uuid" => PgType::Uuid,
            "json" => PgType::Json,
            "jsonb" => PgType::Jsonb,
            "oid" | "regclass" | "regtype" | "regproc" => PgType::Oid,
            "\"char\"" => PgType::Char,
            _ => return None,
        })
    }

    /// The SQLite column type that gives the right affinity.
    pub fn sqlite_type(self) -> &'static str {
        match self {
            PgType::Bool | PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Oid => "INTEGER",
            PgType::Numeric { .. } => "NUMERIC",
            PgType::Float4 | PgType::Float8 => "REAL",
            PgType::Bytea => "BLOB",
            _ => "TEXT",
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(
            self,
            PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Oid
        )
    }

    pub fn is_numeric(self) -> bool {
        self.is_integer()
            || matches!(
                self,
                PgType::Numeric { .. } | PgType::Float4 | PgType::Float8
            )
    }

    /// The type SQLite's value most naturally has, for expressions the catalog cannot type.
    pub fn of_value(value: &Value) -> PgType {
        match value {
            Value::Integer(_) => PgType::Int8,
            Value::Real(_) => PgType::Float8,
            Value::Blob(_) => PgType::Bytea,
            Value::Text(_) | Value::Null => PgType::Text,
        }
    }

    /// `pg_type.typlen`.
    pub fn type_size(self) -> i16 {
        match self {
            PgType::Bool | PgType::Char => 1,
            PgType::Int2 => 2,
            PgType::Int4 | PgType::Float4 | PgType::Oid | PgType::Date => 4,
            PgType::Int8
            | PgType::Float8
            | PgType::Time
            | PgType::Timestamp
            | PgType::Timestamptz => 8,
            PgType::Interval | PgType::Uuid => 16,
            PgType::Name => 64,
            _ => -1,
        }
    }
}

fn numeric_scale(lower: &str) -> Option<u32> {
    let inner = lower.split_once('(')?.1.trim_end_matches(')');
    let mut parts = inner.split(',');
    let _precision = parts.next()?;
    parts.next().map_or(Some(0), |s| s.trim().parse().ok())
}

/// The value in PostgreSQL's text format, or `None` for SQL NULL.
pub fn to_text(ty: PgType, value: &Value) -> Option<String> {
    if let PgType::Array(e) = ty {
        return crate::array::to_text(e, value);
    }
    Some(match (ty, value) {
        (_, Value::Null) => return None,
        (PgType::Bool, Value::Integer(i)) => bool_text(*i != 0),
        (PgType::Bool, Value::Real(f)) => bool_text(*f != 0.0),
        (PgType::Bool, Value::Text(s)) => match parse_bool(s) {
            Some(b) => bool_text(b),
            None => s.clone(),
        },
        (PgType::Numeric { scale: Some(s) }, Value::Integer(i)) => {
            format_scaled(*i as f64, s, Some(*i))
        }
        (PgType::Numeric { scale: Some(s) }, Value::Real(f)) => format_scaled(*f, s, None),
        (PgType::Numeric { scale: None }, Value::Real(f)) => format_float(*f),
        (t, Value::Real(f)) if t.is_integer() => format!("{}", f.round() as i64),
        (PgType::Float4, Value::Real(f)) => format_float((*f as f32) as f64),
        (_, Value::Real(f)) => format_float(*f),
        (_, Value::Integer(i)) => i.to_string(),
        (PgType::Bytea, Value::Blob(b)) => bytea_hex(b),
        (PgType::Bytea, Value::Text(s)) => bytea_hex(s.as_bytes()),
        (PgType::Bpchar, Value::Text(s)) => s.clone(),
        (_, Value::Text(s)) => s.clone(),
        (_, Value::Blob(b)) => bytea_hex(b),
    })
}

fn bool_text(b: bool) -> String {
    if b { "t".into() } else { "f".into() }
}

fn bytea_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + bytes.len() * 2);
    out.push_str("\\x");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn format_scaled(f: f64, scale: u32, exact: Option<i64>) -> String {
    match exact {
        Some(i) if scale == 0 => i.to_string(),
        Some(i) => format!("{i}.{}", "0".repeat(scale as usize)),
        None => format!("{f:.prec$}", prec = scale as usize),
    }
}

/// Floats print like PostgreSQL's shortest-exact output.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else if f != 0.0 && (f.abs() >= 1e15 || f.abs() < 1e-4) {
        let s = format!("{f:e}");
        // Rust prints `1e20`; PostgreSQL prints `1e+20`.
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e:0>2}"),
            Some((m, e)) => format!("{m}e-{:0>2}", &e[1..]),
            None => s,
        }
    } else {
        format!("{f}")
    }
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn invalid(ty: PgType, s: &str) -> SqlError {
    SqlError::new(
        crate::error::code::INVALID_TEXT_REPRESENTATION,
        format!("invalid input syntax for type {}: \"{s}\"", ty.name()),
    )
}

/// A value in PostgreSQL's text format, as SQLite should store it.
pub fn from_text(ty: PgType, s: &str) -> Result<Value, SqlError> {
    if let PgType::Array(e) = ty {
        return crate::array::from_text(e, s);
    }
    Ok(match ty {
        PgType::Bool => Value::Integer(parse_bool(s).ok_or_else(|| invalid(ty, s))? as i64),
        // A relation's name where an oid is expected: a `regclass` parameter (SQLAlchemy's
        // `CAST(%s AS REGCLASS)`), kept as the name (oid and regclass share a PgType).
        PgType::Oid
            if s.trim().parse::<i64>().is_err()
                && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '"')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.\"".contains(c)) =>
        {
            Value::Text(s.to_owned())
        }
        PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Oid => {
            let v: i64 = s.trim().parse().map_err(|_| invalid(ty, s))?;
            let (lo, hi) = match ty {
                PgType::Int2 => (i16::MIN as i64, i16::MAX as i64),
                PgType::Int4 => (i32::MIN as i64, i32::MAX as i64),
                _ => (i64::MIN, i64::MAX),
            };
            if v < lo || v > hi {
                return Err(SqlError::new(
                    crate::error::code::NUMERIC_VALUE_OUT_OF_RANGE,
                    format!("value \"{s}\" is out of range for type {}", ty.name()),
                ));
            }
            Value::Integer(v)
        }
        PgType::Float4 | PgType::Float8 => {
            Value::Real(parse_float(s).ok_or_else(|| invalid(ty, s))?)
        }
        PgType::Numeric { .. } => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i64>() {
                Value::Integer(i)
            } else {
                Value::Real(parse_float(t).ok_or_else(|| invalid(ty, s))?)
            }
        }
        PgType::Bytea => Value::Blob(parse_bytea(s).ok_or_else(|| invalid(ty, s))?.into()),
        PgType::Uuid => {
            let hex: String = s
                .chars()
                .filter(|c| *c != '-' && *c != '{' && *c != '}')
                .collect();
            if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(invalid(ty, s));
            }
            Value::Text(uuid_text(&hex.to_ascii_lowercase()))
        }
        _ => Value::Text(s.to_owned()),
    })
}

fn uuid_text(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn parse_float(s: &str) -> Option<f64> {
    match s.trim().to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "infinity" | "inf" | "+infinity" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

/// Both bytea input formats: `\x` hex and the traditional escape format.
pub fn parse_bytea(s: &str) -> Option<Vec<u8>> {
    if let Some(hex) = s.strip_prefix("\\x") {
        let hex: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        if !hex.len().is_multiple_of(2) {
            return None;
        }
        return hex
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
            .collect();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
            } else {
                let oct = std::str::from_utf8(bytes.get(i + 1..i + 4)?).ok()?;
                out.push(u8::from_str_radix(oct, 8).ok()?);
                i += 4;
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's binary epoch.
const PG_EPOCH_DAYS: i64 = 10957;

/// The value in PostgreSQL's binary format, or `None` for SQL NULL.
pub fn to_binary(ty: PgType, value: &Value) -> Result<Option<Vec<u8>>, SqlError> {
    if value.is_null() {
        return Ok(None);
    }
    if let PgType::Array(e) = ty {
        return crate::array::to_binary(e, value);
    }
    let text = to_text(ty, value).unwrap_or_default();
    let bad = || invalid(ty, &text);
    Ok(Some(match ty {
        PgType::Bool => vec![u8::from(parse_bool(&text).ok_or_else(bad)?)],
        PgType::Int2 => (int_of(value, &text).ok_or_else(bad)? as i16)
            .to_be_bytes()
            .to_vec(),
        PgType::Int4 | PgType::Oid => (int_of(value, &text).ok_or_else(bad)? as i32)
            .to_be_bytes()
            .to_vec(),
        PgType::Int8 => int_of(value, &text).ok_or_else(bad)?.to_be_bytes().to_vec(),
        PgType::Float4 => (float_of(value, &text).ok_or_else(bad)? as f32)
            .to_be_bytes()
            .to_vec(),
        PgType::Float8 => float_of(value, &text)
            .ok_or_else(bad)?
            .to_be_bytes()
            .to_vec(),
        PgType::Numeric { .. } => numeric_binary(&text).ok_or_else(bad)?,
        PgType::Bytea => match value {
            Value::Blob(b) => b.to_vec(),
            _ => text.into_bytes(),
        },
        PgType::Uuid => {
            let hex: String = text.chars().filter(|c| *c != '-').collect();
            (0..16)
                .map(|i| u8::from_str_radix(hex.get(i * 2..i * 2 + 2).unwrap_or("zz"), 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| bad())?
        }
        PgType::Jsonb => {
            let mut v = vec![1u8];
            v.extend_from_slice(text.as_bytes());
            v
        }
        PgType::Date => {
            let days = crate::datetime::parse_date(&text).ok_or_else(bad)? - PG_EPOCH_DAYS;
            (days as i32).to_be_bytes().to_vec()
        }
        PgType::Timestamp | PgType::Timestamptz => {
            let micros = crate::datetime::parse_timestamp_micros(&text).ok_or_else(bad)?;
            (micros - PG_EPOCH_DAYS * 86_400_000_000)
                .to_be_bytes()
                .to_vec()
        }
        PgType::Time => crate::datetime::parse_time_micros(&text)
            .ok_or_else(bad)?
            .to_be_bytes()
            .to_vec(),
        _ => text.into_bytes(),
    }))
}

fn int_of(value: &Value, text: &str) -> Option<i64> {
    match value {
        Value::Integer(i) => Some(*i),
        Value::Real(f) => Some(f.round() as i64),
        _ => text.trim().parse().ok(),
    }
}

fn float_of(value: &Value, text: &str) -> Option<f64> {
    match value {
        Value::Integer(i) => Some(*i as f64),
        Value::Real(f) => Some(*f),
        _ => parse_float(text),
    }
}

/// PostgreSQL's binary numeric: base-10000 digits with weight, sign and display scale.
fn numeric_binary(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("nan") {
        return Some(
            [
                0i16.to_be_bytes(),
                0i16.to_be_bytes(),
                0xC000u16.to_be_bytes(),
                0i16.to_be_bytes(),
            ]
            .concat(),
        );
    }
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.trim_start_matches('+')),
    };
    let (int_part, frac_part) = t.split_once('.').unwrap_or((t, ""));
    if !int_part
        .chars()
        .chain(frac_part.chars())
        .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let dscale = frac_part.len() as i16;
    let int_part = int_part.trim_start_matches('0');
    // Pad the integer part on the left and the fraction on the right to groups of four.
    let int_pad = (4 - int_part.len() % 4) % 4;
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let int_digits = format!("{}{}", "0".repeat(int_pad), int_part);
    let frac_digits = format!("{}{}", frac_part, "0".repeat(frac_pad));
    let mut groups: Vec<i16> = Vec::new();
    for chunk in int_digits
        .as_bytes()
        .chunks(4)
        .chain(frac_digits.as_bytes().chunks(4))
    {
        groups.push(std::str::from_utf8(chunk).ok()?.parse().ok()?);
    }
    let mut weight = (int_digits.len() / 4) as i16 - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign: u16 = if neg && !groups.is_empty() { 0x4000 } else { 0 };
    let mut out = Vec::with_capacity(8 + groups.len() * 2);
    out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    Some(out)
}

/// A parameter sent in binary format, as SQLite should store it.
pub fn from_binary(ty: PgType, bytes: &[u8]) -> Result<Value, SqlError> {
    if let PgType::Array(e) = ty {
        return crate::array::from_binary(e, bytes);
    }
    let bad = || {
        SqlError::new(
            crate::error::code::INVALID_BINARY_REPRESENTATION,
            format!(
                "incorrect binary data format in bind parameter of type {}",
                ty.name()
            ),
        )
    };
    let fixed = |n: usize| -> Result<&[u8], SqlError> {
        if bytes.len() == n {
            Ok(bytes)
        } else {
            Err(bad())
        }
    };
    Ok(match ty {
        PgType::Bool => Value::Integer(i64::from(fixed(1)?[0] != 0)),
        PgType::Int2 => {
            Value::Integer(i16::from_be_bytes(fixed(2)?.try_into().map_err(|_| bad())?) as i64)
        }
        PgType::Int4 | PgType::Oid => {
            Value::Integer(i32::from_be_bytes(fixed(4)?.try_into().map_err(|_| bad())?) as i64)
        }
        PgType::Int8 => {
            Value::Integer(i64::from_be_bytes(fixed(8)?.try_into().map_err(|_| bad())?))
        }
        PgType::Float4 => {
            Value::Real(f32::from_be_bytes(fixed(4)?.try_into().map_err(|_| bad())?) as f64)
        }
        PgType::Float8 => Value::Real(f64::from_be_bytes(fixed(8)?.try_into().map_err(|_| bad())?)),
        PgType::Bytea => Value::from(bytes),
        PgType::Uuid => {
            let b = fixed(16)?;
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            Value::Text(uuid_text(&hex))
        }
        PgType::Jsonb => match bytes.split_first() {
            Some((1, rest)) => Value::Text(String::from_utf8(rest.to_vec()).map_err(|_| bad())?),
            _ => return Err(bad()),
        },
        PgType::Date => {
            let days = i32::from_be_bytes(fixed(4)?.try_into().map_err(|_| bad())?) as i64;
            Value::Text(crate::datetime::format_date(days + PG_EPOCH_DAYS))
        }
        PgType::Timestamp | PgType::Timestamptz => {
            let micros = i64::from_be_bytes(fixed(8)?.try_into().map_err(|_| bad())?);
            let text = crate::datetime::format_timestamp(micros + PG_EPOCH_DAYS * 86_400_000_000);
            Value::Text(if ty == PgType::Timestamptz {
                format!("{text}+00")
            } else {
                text
            })
        }
        PgType::Numeric { .. } => {
            let text = numeric_from_binary(bytes).ok_or_else(bad)?;
            from_text(ty, &text)?
        }
        _ => Value::Text(String::from_utf8(bytes.to_vec()).map_err(|_| bad())?),
    })
}

fn numeric_from_binary(b: &[u8]) -> Option<String> {
    let word =
        |i: usize| -> Option<i16> { Some(i16::from_be_bytes(b.get(i..i + 2)?.try_into().ok()?)) };
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i32;
    let sign = word(4)? as u16;
    let dscale = word(6)? as usize;
    if sign == 0xC000 {
        return Some("NaN".into());
    }
    let mut digits = Vec::with_capacity(ndigits);
    for i in 0..ndigits {
        digits.push(word(8 + i * 2)?);
    }
    let mut int_part = String::new();
    for w in 0..=weight.max(-1) {
        let d = digits.get(w as usize).copied().unwrap_or(0);
        if int_part.is_empty() {
            int_part = d.to_string();
        } else {
            int_part.push_str(&format!("{d:04}"));
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let mut frac = String::new();
    let mut idx = weight + 1;
    while frac.len() < dscale {
        let d = if idx < 0 {
            0
        } else {
            digits.get(idx as usize).copied().unwrap_or(0)
        };
        frac.push_str(&format!("{d:04}"));
        idx += 1;
    }
    frac.truncate(dscale);
    let mut s = if sign == 0x4000 {
        "-".to_owned()
    } else {
        String::new()
    };
    s.push_str(&int_part);
    if dscale > 0 {
        s.push('.');
        s.push_str(&frac);
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_binary_round_trips() {
        for s in ["0", "1", "-12.50", "12345678.0001", "0.001", "10000"] {
            let b = numeric_binary(s).expect("encodes");
            assert_eq!(numeric_from_binary(&b).as_deref(), Some(s), "{s}");
        }
    }

    #[test]
    fn text_formats_follow_postgres() {
        assert_eq!(
            to_text(PgType::Bool, &Value::Integer(1)).as_deref(),
            Some("t")
        );
        assert_eq!(
            to_text(PgType::Bytea, &Value::Blob(vec![0xde, 0xad].into())).as_deref(),
            Some("\\xdead")
        );
        assert_eq!(
            to_text(PgType::Numeric { scale: Some(2) }, &Value::Integer(5)).as_deref(),
            Some("5.00")
        );
        assert_eq!(format_float(1e20), "1e+20");
        assert_eq!(format_float(0.5), "0.5");
    }

    #[test]
    fn text_input_is_checked() {
        assert!(from_text(PgType::Int4, "abc").is_err());
        assert!(from_text(PgType::Int2, "70000").is_err());
        assert_eq!(
            from_text(PgType::Bool, "true").ok(),
            Some(Value::Integer(1))
        );
        assert_eq!(parse_bytea("\\x0aff"), Some(vec![0x0a, 0xff]));
    }
}
