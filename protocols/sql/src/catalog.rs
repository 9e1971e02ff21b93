//! The catalog: declared PostgreSQL column types per table, kept in each database object.
//!
//! SQLite keeps only affinities, so the declared types (which decide result OIDs and text
//! formats) live in a `_pg_columns` table written in the same batch as the DDL.

use std::collections::BTreeMap;
use std::sync::Arc;

use dotdo_backend::{Statement, StatementResult, Value};

use crate::types::PgType;

/// Statements that create the catalog in `database`'s object; idempotent.
pub fn migrations(database: &str) -> Vec<Statement> {
    let mut out: Vec<Statement> = [
        include_str!("schema/001_catalog.sql"),
        include_str!("schema/002_pg_catalog.sql"),
        include_str!("schema/003_pg_describe.sql"),
        include_str!("schema/004_schemas.sql"),
        include_str!("schema/005_arrays.sql"),
        include_str!("schema/006_serial.sql"),
    ]
    // A file's last statement may lack its semicolon.
    .join(";\n")
    .split(";\n")
    .map(str::trim)
    .filter(|s| !s.is_empty())
    .map(|s| Statement::new(s.trim_end_matches(';').to_owned()))
    .collect();
    out.push(Statement::with_params(
        "INSERT OR REPLACE INTO _meta (key, value) VALUES ('database', ?1)",
        vec![Value::Text(database.to_owned())],
    ));
    out
}

/// Reads the whole catalog; feed its result to [`Catalog::from_result`]. Column rows have
/// no kind: a table's, and a view's with the column types inferred when it was created (so
/// what is read through a view, an array or a boolean, is sent as its type). The schemas
/// (`n`), every relation's stored name (by its SQLite type, or `sequence`) and the foreign
/// keys (`fk`: table, referenced table) follow them.
pub fn load_statement() -> Statement {
    // Two nested compounds: Durable Objects' SQLite allows only a few terms in one.
    Statement::new(
        "SELECT * FROM (SELECT tbl, col, pos, typ, typmod, not_null, dflt, NULL AS kind FROM _pg_columns \
             UNION ALL SELECT view, col, pos, typ, -1, 0, NULL, NULL FROM _pg_view_columns) \
         UNION ALL SELECT * FROM (SELECT name, NULL, oid, NULL, NULL, NULL, NULL, 'n' FROM _pg_namespaces \
         UNION ALL SELECT name, NULL, 0, NULL, NULL, NULL, NULL, type FROM sqlite_schema \
             WHERE type IN ('table', 'view', 'index') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'pg\\_%' ESCAPE '\\' \
         UNION ALL SELECT q.name, o.col, 0, o.identity, NULL, NULL, o.tbl, 'sequence' \
             FROM _pg_sequences AS q LEFT JOIN _pg_seq_owner AS o ON o.seq = q.name \
         UNION ALL SELECT DISTINCT t.name, f.\"table\", 0, NULL, NULL, NULL, NULL, 'fk' \
             FROM sqlite_schema AS t JOIN pragma_foreign_key_list(t.name) AS f WHERE t.type = 'table') \
         ORDER BY 8, 1, 3",
    )
}

/// True for the tables the front-end keeps for itself.
pub fn is_internal(table: &str) -> bool {
    table.starts_with("_pg_") || table == "_meta" || table.starts_with("sqlite_")
}

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: PgType,
    pub typmod: i32,
    pub not_null: bool,
    pub default: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// A snapshot of one database's catalog.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    tables: BTreeMap<String, Arc<Table>>,
    /// Schemas created with CREATE SCHEMA (not public, pg_catalog, information_schema): oids.
    namespaces: BTreeMap<String, i64>,
    /// The stored (SQLite) name of every table, view, index and sequence, and its kind
    /// (`table`, `view`, `index`, `sequence`).
    relations: BTreeMap<String, String>,
    /// (table, table it references) for every foreign key.
    references: Vec<(String, String)>,
    /// Sequences owned by a column (serial and identity columns).
    owned: Vec<crate::serial::Owned>,
    /// Which tables are Citus distributed or reference tables.
    dist: Arc<crate::citus::Metadata>,
}

impl Catalog {
    pub fn from_result(result: &StatementResult) -> Catalog {
        let mut tables: BTreeMap<String, Table> = BTreeMap::new();
        let mut namespaces = BTreeMap::new();
        let mut relations = BTreeMap::new();
        let mut references = Vec::new();
        let mut owned = Vec::new();
        for row in &result.rows {
            let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or("").to_owned();
            let int = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or(0);
            let tbl = text(0);
            match row.get(7).and_then(Value::as_str) {
                None => {}
                Some("n") => {
                    namespaces.insert(tbl, int(2));
                    continue;
                }
                Some("fk") => {
                    references.push((tbl, text(1)));
                    continue;
                }
                // A sequence a column owns names its table and column (a Durable Object
                // allows few compound terms, so they share the sequence's row).
                Some("sequence") => {
                    if let Some(table) = row.get(6).and_then(Value::as_str) {
                        owned.push(crate::serial::Owned {
                            table: table.to_owned(),
                            column: text(1),
                            sequence: tbl.clone(),
                            identity: text(3),
                        });
                    }
                    relations.insert(tbl, "sequence".to_owned());
                    continue;
                }
                Some(kind) => {
                    relations.insert(tbl, kind.to_owned());
                    continue;
                }
            }
            let column = Column {
                name: text(1),
                ty: PgType::from_catalog_key(&text(3)),
                typmod: int(4) as i32,
                not_null: int(5) != 0,
                default: row.get(6).and_then(Value::as_str).map(str::to_owned),
            };
            tables
                .entry(tbl.clone())
                .or_insert_with(|| Table {
                    name: tbl,
                    columns: Vec::new(),
                })
                .columns
                .push(column);
        }
        Catalog {
            tables: tables.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
            namespaces,
            relations,
            references,
            owned,
            dist: Arc::default(),
        }
    }

    /// The sequences owned by columns of stored table `table`.
    pub fn owned_by<'a>(
        &'a self,
        table: &'a str,
    ) -> impl Iterator<Item = &'a crate::serial::Owned> + 'a {
        self.owned.iter().filter(move |o| o.table == table)
    }

    /// This catalog with `dist` as its Citus metadata.
    pub fn with_distribution(mut self, dist: crate::citus::Metadata) -> Catalog {
        self.dist = Arc::new(dist);
        self
    }

    pub fn distribution(&self) -> &crate::citus::Metadata {
        &self.dist
    }

    /// A table by its stored name (as name resolution leaves it, possibly quoted).
    pub fn table(&self, name: &str) -> Option<&Arc<Table>> {
        let name = name.trim_matches('"');
        let name = name.strip_prefix("public.").unwrap_or(name);
        self.tables
            .get(name)
            .or_else(|| self.tables.get(&name.to_ascii_lowercase()))
    }

    /// The oid of a schema made with CREATE SCHEMA.
    pub fn namespace(&self, name: &str) -> Option<i64> {
        self.namespaces.get(name).copied()
    }

    pub fn namespaces(&self) -> impl Iterator<Item = (&String, &i64)> {
        self.namespaces.iter()
    }

    /// Whether a table, view, index or sequence is stored under `name`.
    pub fn has_relation(&self, name: &str) -> bool {
        self.relations.contains_key(name) || self.tables.contains_key(name)
    }

    /// (table, referenced table) of every foreign key.
    pub fn references(&self) -> &[(String, String)] {
        &self.references
    }

    /// Stored names and kinds of every table, view, index and sequence.
    pub fn relations(&self) -> impl Iterator<Item = (&String, &String)> {
        self.relations.iter()
    }

    /// A copy with `table` added (CTEs and derived tables while inferring types).
    pub fn with_table(&self, table: Table) -> Catalog {
        let mut c = self.clone();
        c.tables.insert(table.name.clone(), Arc::new(table));
        c
    }

    pub fn tables(&self) -> impl Iterator<Item = &Arc<Table>> {
        self.tables.values()
    }
}

/// Statements that record `table`'s columns, replacing what was recorded before.
pub fn record_table(table: &Table) -> Vec<Statement> {
    let mut out = vec![forget_table(&table.name)];
    for (pos, c) in table.columns.iter().enumerate() {
        out.push(record_column(&table.name, pos as i64 + 1, c));
    }
    out
}

pub fn record_column(table: &str, pos: i64, c: &Column) -> Statement {
    Statement::with_params(
        "INSERT OR REPLACE INTO _pg_columns (tbl, col, pos, typ, typmod, not_null, dflt) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        vec![
            Value::Text(table.to_owned()),
            Value::Text(c.name.clone()),
            Value::Integer(pos),
            Value::Text(c.ty.catalog_key()),
            Value::Integer(c.typmod as i64),
            Value::Integer(c.not_null as i64),
            c.default.clone().map_or(Value::Null, Value::Text),
        ],
    )
}

pub fn forget_table(table: &str) -> Statement {
    Statement::with_params(
        "DELETE FROM _pg_columns WHERE tbl = ?1",
        vec![Value::Text(table.to_owned())],
    )
}
