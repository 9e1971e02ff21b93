//! One-dimensional PostgreSQL arrays, stored in SQLite as JSON arrays.
//!
//! An array value is kept as the minified JSON text SQLite's own JSON functions write
//! (`json_array`, `json_group_array`, `json_insert`): integers as JSON integers, floats as
//! SQLite prints a REAL, booleans as `0`/`1` (SQLite's own booleans, so `json_each` gives
//! back what a boolean column holds), NULL elements as `null`, every other element type as a
//! JSON string of the element's stored text. One array has one spelling, so equality,
//! DISTINCT, GROUP BY and UNIQUE work on the text, and SQLite's JSON1 functions work on it.

mod codec;
mod functions;
mod infer;
mod json;
mod order;
mod rewrite;
mod unnest;

pub use codec::{from_binary, from_text, to_binary, to_text};
pub(crate) use infer::{expr_type, note_params, subscripted, unnest_columns};
pub(crate) use rewrite::default_expr;
pub use rewrite::rewrite;

use crate::types::PgType;

/// Element types an array may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Elem {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Text,
    Varchar,
    Bpchar,
    Name,
    Uuid,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Json,
    Jsonb,
}

/// Every element type, with its array's oid, `format_type` name and `pg_type.typname`.
const TABLE: &[(Elem, u32, &str, &str)] = &[
    (Elem::Bool, 1000, "boolean[]", "_bool"),
    (Elem::Int2, 1005, "smallint[]", "_int2"),
    (Elem::Int4, 1007, "integer[]", "_int4"),
    (Elem::Int8, 1016, "bigint[]", "_int8"),
    (Elem::Float4, 1021, "real[]", "_float4"),
    (Elem::Float8, 1022, "double precision[]", "_float8"),
    (Elem::Numeric, 1231, "numeric[]", "_numeric"),
    (Elem::Text, 1009, "text[]", "_text"),
    (Elem::Varchar, 1015, "character varying[]", "_varchar"),
    (Elem::Bpchar, 1014, "character[]", "_bpchar"),
    (Elem::Name, 1003, "name[]", "_name"),
    (Elem::Uuid, 2951, "uuid[]", "_uuid"),
    (Elem::Date, 1182, "date[]", "_date"),
    (Elem::Time, 1183, "time without time zone[]", "_time"),
    (
        Elem::Timestamp,
        1115,
        "timestamp without time zone[]",
        "_timestamp",
    ),
    (
        Elem::Timestamptz,
        1185,
        "timestamp with time zone[]",
        "_timestamptz",
    ),
    (Elem::Json, 199, "json[]", "_json"),
    (Elem::Jsonb, 3807, "jsonb[]", "_jsonb"),
];

fn entry(e: Elem) -> (Elem, u32, &'static str, &'static str) {
    TABLE
        .iter()
        .copied()
        .find(|t| t.0 == e)
        .unwrap_or((e, 1009, "text[]", "_text"))
}

impl Elem {
    /// The element's own type.
    pub fn pg(self) -> PgType {
        match self {
            Elem::Bool => PgType::Bool,
            Elem::Int2 => PgType::Int2,
            Elem::Int4 => PgType::Int4,
            Elem::Int8 => PgType::Int8,
            Elem::Float4 => PgType::Float4,
            Elem::Float8 => PgType::Float8,
            Elem::Numeric => PgType::Numeric { scale: None },
            Elem::Text => PgType::Text,
            Elem::Varchar => PgType::Varchar,
            Elem::Bpchar => PgType::Bpchar,
            Elem::Name => PgType::Name,
            Elem::Uuid => PgType::Uuid,
            Elem::Date => PgType::Date,
            Elem::Time => PgType::Time,
            Elem::Timestamp => PgType::Timestamp,
            Elem::Timestamptz => PgType::Timestamptz,
            Elem::Json => PgType::Json,
            Elem::Jsonb => PgType::Jsonb,
        }
    }

    /// The element type for `ty`, if arrays of it are supported.
    pub fn of(ty: PgType) -> Option<Elem> {
        Some(match ty {
            PgType::Bool => Elem::Bool,
            PgType::Int2 => Elem::Int2,
            PgType::Int4 => Elem::Int4,
            PgType::Int8 => Elem::Int8,
            PgType::Float4 => Elem::Float4,
            PgType::Float8 => Elem::Float8,
            PgType::Numeric { .. } => Elem::Numeric,
            PgType::Text | PgType::Unknown => Elem::Text,
            PgType::Varchar => Elem::Varchar,
            PgType::Bpchar => Elem::Bpchar,
            PgType::Name => Elem::Name,
            PgType::Uuid => Elem::Uuid,
            PgType::Date => Elem::Date,
            PgType::Time => Elem::Time,
            PgType::Timestamp => Elem::Timestamp,
            PgType::Timestamptz => Elem::Timestamptz,
            PgType::Json => Elem::Json,
            PgType::Jsonb => Elem::Jsonb,
            _ => return None,
        })
    }

    /// The oid of the array type.
    pub fn array_oid(self) -> u32 {
        entry(self).1
    }

    /// The array type's name as `format_type` prints it: `integer[]`.
    pub fn array_name(self) -> &'static str {
        entry(self).2
    }

    /// The array type's `pg_type.typname` (and `udt_name`): `_int4`.
    pub fn array_typname(self) -> &'static str {
        entry(self).3
    }

    pub fn from_array_oid(oid: u32) -> Option<Elem> {
        TABLE.iter().find(|t| t.1 == oid).map(|t| t.0)
    }

    /// Elements stored as JSON numbers (or booleans as 0/1), compared as numbers.
    pub fn is_number(self) -> bool {
        matches!(
            self,
            Elem::Bool
                | Elem::Int2
                | Elem::Int4
                | Elem::Int8
                | Elem::Float4
                | Elem::Float8
                | Elem::Numeric
        )
    }
}

/// `T[]`, `T ARRAY`, `T[][]` (PostgreSQL ignores declared dimensions) and `_T`, as the
/// array type; `None` when `lower` (lower-cased) names no array.
pub(crate) fn type_from_name(lower: &str) -> Option<PgType> {
    let t = lower.trim();
    let base = if let Some(b) = t.strip_suffix(" array") {
        b
    } else if t.ends_with(']') {
        let open = t.find('[')?;
        &t[..open]
    } else if let Some(b) = t
        .strip_prefix("pg_catalog._")
        .or_else(|| t.strip_prefix('_'))
    {
        let elem = TABLE.iter().find(|e| &e.3[1..] == b)?;
        return Some(PgType::Array(elem.0));
    } else {
        return None;
    };
    let elem = Elem::of(PgType::from_name(base.trim())?)?;
    Some(PgType::Array(elem))
}

/// `WHEN oid THEN 'name[]'` for every array type, for `format_type`'s CASE.
pub fn format_type_cases() -> String {
    TABLE
        .iter()
        .map(|(_, oid, name, _)| format!("WHEN {oid} THEN '{name}' "))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_as_array_types() {
        let int4 = Some(PgType::Array(Elem::Int4));
        assert_eq!(type_from_name("int[]"), int4);
        assert_eq!(type_from_name("integer[][]"), int4);
        assert_eq!(type_from_name("integer array"), int4);
        assert_eq!(type_from_name("_int4"), int4);
        assert_eq!(type_from_name("int4[3]"), int4);
        assert_eq!(
            type_from_name("character varying(10)[]"),
            Some(PgType::Array(Elem::Varchar))
        );
        assert_eq!(
            type_from_name("timestamp with time zone[]"),
            Some(PgType::Array(Elem::Timestamptz))
        );
        assert_eq!(type_from_name("int"), None);
        assert_eq!(type_from_name("_nope"), None);
        assert_eq!(type_from_name("interval[]"), None);
        for (e, oid, ..) in TABLE {
            assert_eq!(Elem::from_array_oid(*oid), Some(*e));
            assert_eq!(Elem::of(e.pg()), Some(*e));
        }
    }
}
