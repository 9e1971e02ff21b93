//! Declared types of some `pg_catalog` view columns, for result columns: drivers such as
//! SQLAlchemy compare `indnkeyatts` or `attnum` as numbers and `indisunique` as a boolean.

use std::sync::{Arc, OnceLock};

use crate::catalog::{Column, Table};
use crate::types::PgType;

const COLUMNS: &[(&str, &[(&str, PgType)])] = &[
    (
        "pg_index",
        &[
            ("indexrelid", PgType::Oid),
            ("indrelid", PgType::Oid),
            ("indnatts", PgType::Int2),
            ("indnkeyatts", PgType::Int2),
            ("indisunique", PgType::Bool),
            ("indisprimary", PgType::Bool),
            ("indisclustered", PgType::Bool),
            ("indisvalid", PgType::Bool),
            ("indisreplident", PgType::Bool),
            ("indisexclusion", PgType::Bool),
            ("indimmediate", PgType::Bool),
            ("indnullsnotdistinct", PgType::Bool),
        ],
    ),
    (
        "pg_attribute",
        &[
            ("attrelid", PgType::Oid),
            ("atttypid", PgType::Oid),
            ("atttypmod", PgType::Int4),
            ("attnum", PgType::Int2),
        ],
    ),
    (
        "pg_constraint",
        &[
            ("oid", PgType::Oid),
            ("conrelid", PgType::Oid),
            ("confrelid", PgType::Oid),
            ("conindid", PgType::Oid),
        ],
    ),
    (
        "pg_class",
        &[("oid", PgType::Oid), ("relnamespace", PgType::Oid)],
    ),
    (
        "pg_sequence",
        &[
            ("seqrelid", PgType::Oid),
            ("seqstart", PgType::Int8),
            ("seqincrement", PgType::Int8),
            ("seqmax", PgType::Int8),
            ("seqmin", PgType::Int8),
            ("seqcache", PgType::Int8),
        ],
    ),
];

/// The typed columns of catalog view `name`, if it has any.
pub fn table(name: &str) -> Option<Arc<Table>> {
    static TABLES: OnceLock<Vec<Arc<Table>>> = OnceLock::new();
    let tables = TABLES.get_or_init(|| {
        COLUMNS
            .iter()
            .map(|(t, cols)| {
                Arc::new(Table {
                    name: (*t).to_owned(),
                    columns: cols
                        .iter()
                        .map(|(c, ty)| Column {
                            name: (*c).to_owned(),
                            ty: *ty,
                            typmod: -1,
                            not_null: false,
                            default: None,
                        })
                        .collect(),
                })
            })
            .collect()
    });
    tables.iter().find(|t| t.name == name).cloned()
}
