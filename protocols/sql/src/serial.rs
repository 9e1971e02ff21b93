//! Serial and identity columns: the sequence each owns, and the values an INSERT draws.
//!
//! `serial`, `bigserial`, `smallserial` and `GENERATED … AS IDENTITY` columns own a real
//! sequence named as PostgreSQL names it (`<table>_<column>_seq`, in the table's schema),
//! recorded in `_pg_seq_owner`. An INSERT that leaves such a column (or one whose default
//! is `nextval` of an existing sequence) to its default draws the values in its own batch,
//! with plain SQLite SQL a Durable Object accepts: each row's value is read from the
//! sequence's row (`last_value + (is_called + k) * increment`, or numbered with
//! `row_number()` for `INSERT … SELECT`), and a reserving UPDATE after the INSERT moves the
//! sequence past them. The batch is atomic on the object, so no other statement can draw
//! between the read and the UPDATE; in a replayed transaction block the reservation's answer
//! is validated at COMMIT like any other (a concurrent draw makes it 40001).
//!
//! Tables written by versions before this one recorded a serial column's default
//! (`nextval('t_id_seq'::regclass)`) without creating the sequence: with no such sequence in
//! the catalog, the column keeps being numbered by SQLite's rowid, as before.

use dotdo_backend::{Statement, Value as SqlValue};
use sqlparser::ast::{self, Expr, Insert, InsertOverriding, ObjectName, SetExpr};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::catalog::{Catalog, Column, Table};
use crate::error::SqlError;
use crate::translate::{object_name, quote_ident};

/// SQLSTATE 428C9: a value given for a GENERATED ALWAYS identity column.
pub const GENERATED_ALWAYS: &str = "428C9";

/// The start of every reserving UPDATE: the session reads `currval` from their answers.
/// `…_reserve_p` marks one that takes the main statement's parameters.
pub const RESERVE_PREFIX: &str = "UPDATE _pg_sequences AS _dotdo_reserve";

/// Whether reservation `sql` is bound to the main statement's parameters.
pub fn takes_params(sql: &str) -> bool {
    sql.strip_prefix(RESERVE_PREFIX)
        .is_some_and(|r| r.starts_with("_p "))
}

/// A sequence owned by a column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owned {
    /// Stored names of the table and the sequence.
    pub table: String,
    pub column: String,
    pub sequence: String,
    /// PostgreSQL's `attidentity`: `a` (ALWAYS), `d` (BY DEFAULT) or empty for serial.
    pub identity: String,
}

/// A column whose default draws from a sequence.
struct SeqColumn<'a> {
    column: &'a Column,
    sequence: String,
    always: bool,
}

/// The stored name of the sequence a serial or identity column `col` of stored table
/// `table` owns.
pub fn sequence_name(table: &str, col: &str) -> String {
    crate::namespace::sibling(
        table,
        &format!("{}_{col}_seq", crate::namespace::bare(table)),
    )
}

/// The statements that create the sequence a column owns and record the ownership.
/// `ty` is the column's type (the sequence's bounds and `data_type` follow it), `identity`
/// PostgreSQL's `attidentity`.
pub fn create_owned(
    table: &str,
    col: &str,
    ty: crate::PgType,
    identity: &str,
    options: &[ast::SequenceOptions],
    if_not_exists: bool,
) -> Result<Vec<Statement>, SqlError> {
    let seq = sequence_name(table, col);
    let (oid, max) = match ty {
        crate::PgType::Int2 => (21, i16::MAX as i64),
        crate::PgType::Int4 => (23, i32::MAX as i64),
        _ => (20, i64::MAX),
    };
    let mut opts = options.to_vec();
    let has_max = opts
        .iter()
        .any(|o| matches!(o, ast::SequenceOptions::MaxValue(_)));
    let descending = opts.iter().any(|o| match o {
        ast::SequenceOptions::IncrementBy(e, _) => e.to_string().trim().starts_with('-'),
        _ => false,
    });
    if !has_max && !descending {
        opts.push(ast::SequenceOptions::MaxValue(Some(Expr::Value(
            ast::Value::Number(max.to_string(), false).into(),
        ))));
    }
    let mut out = crate::sequence::create(&seq, if_not_exists, &opts)?;
    out.push(Statement::with_params(
        "INSERT OR IGNORE INTO _pg_seq_owner (seq, tbl, col, identity, typ) VALUES (?1, ?2, ?3, ?4, ?5)",
        vec![
            SqlValue::Text(seq),
            SqlValue::Text(table.to_owned()),
            SqlValue::Text(col.to_owned()),
            SqlValue::Text(identity.to_owned()),
            SqlValue::Integer(oid),
        ],
    ));
    Ok(out)
}

/// Whether a column definition is serial or identity: its `attidentity` (empty for
/// serial) and the identity's sequence options.
pub fn column_kind(col: &ast::ColumnDef) -> Option<(&'static str, Vec<ast::SequenceOptions>)> {
    let lower = col.data_type.to_string().to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "serial" | "bigserial" | "smallserial" | "serial4" | "serial8" | "serial2"
    ) {
        return Some(("", Vec::new()));
    }
    col.options.iter().find_map(|o| match &o.option {
        ast::ColumnOption::Generated {
            generated_as,
            sequence_options,
            generation_expr: None,
            ..
        } => {
            let kind = match generated_as {
                ast::GeneratedAs::Always => "a",
                ast::GeneratedAs::ByDefault => "d",
                ast::GeneratedAs::ExpStored => return None,
            };
            Some((kind, sequence_options.clone().unwrap_or_default()))
        }
        _ => None,
    })
}

/// The statements that drop the sequences `table`'s columns own (DROP TABLE).
pub fn drop_owned(table: &str, catalog: &Catalog) -> Vec<Statement> {
    let mut out: Vec<Statement> = catalog
        .owned_by(table)
        .flat_map(|o| crate::sequence::drop(&o.sequence, true))
        .collect();
    if !out.is_empty() {
        out.push(Statement::with_params(
            "DELETE FROM _pg_seq_owner WHERE tbl = ?1",
            vec![SqlValue::Text(table.to_owned())],
        ));
    }
    out
}

/// TRUNCATE … RESTART IDENTITY: `table`'s owned sequences back to their start.
pub fn restart_owned(table: &str) -> Statement {
    Statement::with_params(
        "UPDATE _pg_sequences SET last_value = start_value, is_called = 0 \
         WHERE name IN (SELECT seq FROM _pg_seq_owner WHERE tbl = ?1)",
        vec![SqlValue::Text(table.to_owned())],
    )
}

/// The owner rows of column `column` of table `table` (a name, or a table's oid as
/// `attrelid::regclass::text` gives it here), as SQL over the argument expressions. A
/// table of another schema is stored under its qualified name, so `'s.t'` is already the
/// stored name.
fn owner_match(table: &str, column: &str) -> String {
    format!(
        "o.tbl = (CASE WHEN CAST({table} AS TEXT) GLOB '[0-9]*' \
         THEN (SELECT s.name FROM sqlite_schema AS s WHERE 16384 + s.rootpage = CAST({table} AS INTEGER)) \
         WHEN lower({table}) LIKE 'public.%' THEN lower(substr({table}, 8)) ELSE lower({table}) END) \
         AND o.col = lower({column})"
    )
}

/// `pg_get_serial_sequence(table, column)`: the owned sequence's qualified name, or NULL.
pub fn serial_sequence_sql(table: &str, column: &str) -> String {
    format!(
        "(SELECT p.nspname || '.' || p.relname FROM _pg_seq_owner AS o JOIN _pg_split AS p ON p.storage = o.seq \
         WHERE {})",
        owner_match(table, column)
    )
}

/// `pg_get_serial_sequence(table, column)::regclass`: the owned sequence's oid.
pub fn serial_sequence_oid_sql(table: &str, column: &str) -> String {
    format!(
        "(SELECT CAST(900000000 + q.rowid AS INTEGER) FROM _pg_seq_owner AS o JOIN _pg_sequences AS q ON q.name = o.seq \
         WHERE {})",
        owner_match(table, column)
    )
}

/// The sequence a `nextval(…)` default text names, when it is a sequence of the catalog.
fn default_sequence(default: &str, catalog: &Catalog) -> Option<String> {
    if !default.to_ascii_lowercase().contains("nextval") {
        return None;
    }
    let expr = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(default)
        .and_then(|mut p| p.parse_expr())
        .ok()?;
    let Expr::Function(f) = expr else { return None };
    if !f.name.to_string().eq_ignore_ascii_case("nextval") {
        return None;
    }
    let ast::FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(arg))] = list.args.as_slice() else {
        return None;
    };
    let name = crate::sequence::name_arg(arg)?;
    catalog.has_relation(&name).then_some(name)
}

fn sequence_columns<'a>(t: &'a Table, catalog: &Catalog) -> Vec<SeqColumn<'a>> {
    t.columns
        .iter()
        .filter_map(|c| {
            if let Some(o) = catalog.owned_by(&t.name).find(|o| o.column == c.name) {
                return Some(SeqColumn {
                    column: c,
                    sequence: o.sequence.clone(),
                    always: o.identity == "a",
                });
            }
            let sequence = default_sequence(c.default.as_deref()?, catalog)?;
            Some(SeqColumn {
                column: c,
                sequence,
                always: false,
            })
        })
        .collect()
}

/// Whether stored table `table` has a column whose default draws from a sequence.
pub fn has_sequence_columns(table: &str, catalog: &Catalog) -> bool {
    catalog
        .table(table)
        .is_some_and(|t| !sequence_columns(t, catalog).is_empty())
}

fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The value of the `k`-th row (from 0) that draws from `seq` in a VALUES list.
fn row_value(seq: &str, k: usize) -> Expr {
    raw(&format!(
        "(SELECT last_value + (is_called + {k}) * increment FROM _pg_sequences WHERE name = {})",
        quote_str(seq)
    ))
}

/// The value of each row of an `INSERT … SELECT`, numbered by `row_number()`.
fn numbered_value(seq: &str) -> Expr {
    let q = quote_str(seq);
    raw(&format!(
        "((SELECT last_value + (is_called - 1) * increment FROM _pg_sequences WHERE name = {q}) \
         + row_number() OVER () * (SELECT increment FROM _pg_sequences WHERE name = {q}))"
    ))
}

/// Moves `seq` past the values of `n` rows (`None`: as many as the INSERT before it
/// changed). Past the sequence's bounds `abs(-9223372036854775808)` fails the statement
/// (SQLite's "integer overflow"), and with it the whole batch.
fn reserve(seq: &str, n: Option<usize>) -> Statement {
    let n = n.map_or_else(|| "changes()".to_owned(), |n| n.to_string());
    let new = format!("last_value + (is_called + {n} - 1) * increment");
    Statement::new(format!(
        "{RESERVE_PREFIX} SET last_value = CASE WHEN {new} BETWEEN min_value AND max_value THEN {new} \
         ELSE abs(-9223372036854775807 - 1) END, is_called = 1 \
         WHERE name = {} AND {n} > 0 RETURNING name, last_value",
        quote_str(seq)
    ))
}

fn raw(sql: &str) -> Expr {
    Expr::Identifier(ast::Ident::new(sql))
}

fn always_error(col: &str) -> SqlError {
    let mut e = SqlError::new(
        GENERATED_ALWAYS,
        format!("cannot insert a non-DEFAULT value into column \"{col}\""),
    );
    e.detail = Some(format!(
        "Column \"{col}\" is an identity column defined as GENERATED ALWAYS."
    ));
    e
}

fn is_default(e: &Expr) -> bool {
    matches!(e, Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"))
}

/// Writes the values an INSERT draws from sequences into it; returns the reserving
/// statements to run after it in the same batch (none for a table without sequence
/// columns, which costs one catalog lookup).
pub fn insert(
    ins: &mut Insert,
    table: &str,
    catalog: &Catalog,
) -> Result<Vec<Statement>, SqlError> {
    // SQLite knows no OVERRIDING clause; USER VALUE is treated as no clause.
    let overriding = ins.overriding.take() == Some(InsertOverriding::System);
    let Some(t) = catalog.table(&table.trim_matches('"').to_ascii_lowercase()) else {
        return Ok(Vec::new());
    };
    let seq_cols = sequence_columns(t, catalog);
    if seq_cols.is_empty() {
        return Ok(Vec::new());
    }
    let Some(src) = ins.source.as_mut() else {
        // DEFAULT VALUES: one row.
        let exprs: Vec<Expr> = seq_cols.iter().map(|s| row_value(&s.sequence, 0)).collect();
        let sql = format!(
            "INSERT INTO t ({}) VALUES ({})",
            seq_cols
                .iter()
                .map(|s| quote_ident(&s.column.name))
                .collect::<Vec<_>>()
                .join(", "),
            exprs.iter().map(|_| "0").collect::<Vec<_>>().join(", ")
        );
        let parsed = Parser::parse_sql(&PostgreSqlDialect {}, &sql)
            .map_err(|e| SqlError::syntax(e.to_string()))?;
        if let Some(ast::Statement::Insert(mut p)) = parsed.into_iter().next()
            && let Some(mut s) = p.source.take()
        {
            if let SetExpr::Values(v) = s.body.as_mut()
                && let Some(row) = v.rows.first_mut()
            {
                **row = exprs;
            }
            ins.columns = p.columns;
            ins.source = Some(s);
        }
        return Ok(seq_cols
            .iter()
            .map(|s| reserve(&s.sequence, Some(1)))
            .collect());
    };
    let position = |columns: &[ObjectName], name: &str| {
        columns
            .iter()
            .position(|c| object_name(c).eq_ignore_ascii_case(name))
    };
    let mut out = Vec::new();
    match src.body.as_mut() {
        SetExpr::Values(values) => {
            if ins.columns.is_empty() {
                let width = values.rows.iter().map(|r| r.len()).max().unwrap_or(0);
                ins.columns = t
                    .columns
                    .iter()
                    .take(width)
                    .map(|c| ObjectName::from(vec![ast::Ident::new(c.name.clone())]))
                    .collect();
            }
            for s in &seq_cols {
                let mut k = 0;
                match position(&ins.columns, &s.column.name) {
                    Some(i) => {
                        for row in &mut values.rows {
                            match row.get(i) {
                                Some(e) if is_default(e) => {
                                    row[i] = row_value(&s.sequence, k);
                                    k += 1;
                                }
                                Some(_) if s.always && !overriding => {
                                    return Err(always_error(&s.column.name));
                                }
                                _ => {}
                            }
                        }
                    }
                    None => {
                        ins.columns.push(ObjectName::from(vec![ast::Ident::new(
                            s.column.name.clone(),
                        )]));
                        for row in &mut values.rows {
                            row.push(row_value(&s.sequence, k));
                            k += 1;
                        }
                    }
                }
                if k > 0 {
                    out.push(reserve(&s.sequence, Some(k)));
                }
            }
        }
        _ => {
            // INSERT … SELECT: the omitted sequence columns are numbered by row_number()
            // over the SELECT's rows, and the reservation counts the rows inserted.
            let omitted: Vec<&SeqColumn> = if ins.columns.is_empty() {
                Vec::new()
            } else {
                seq_cols
                    .iter()
                    .filter(|s| position(&ins.columns, &s.column.name).is_none())
                    .collect()
            };
            if let Some(s) = seq_cols.iter().find(|s| {
                s.always && !overriding && !omitted.iter().any(|o| o.column.name == s.column.name)
            }) {
                return Err(always_error(&s.column.name));
            }
            if omitted.is_empty() {
                return Ok(Vec::new());
            }
            if ins.on.is_some() {
                return Err(SqlError::unsupported(
                    "INSERT ... SELECT ... ON CONFLICT into a table with a sequence default",
                ));
            }
            let mut wrapper = match Parser::parse_sql(
                &PostgreSqlDialect {},
                "SELECT _dotdo_q.* FROM (SELECT 1) AS _dotdo_q",
            )
            .map_err(|e| SqlError::syntax(e.to_string()))?
            .pop()
            {
                Some(ast::Statement::Query(q)) => q,
                _ => return Err(SqlError::unsupported("INSERT ... SELECT")),
            };
            if let SetExpr::Select(sel) = wrapper.body.as_mut() {
                for s in &omitted {
                    sel.projection
                        .push(ast::SelectItem::UnnamedExpr(numbered_value(&s.sequence)));
                }
                if let Some(from) = sel.from.first_mut()
                    && let ast::TableFactor::Derived { subquery, .. } = &mut from.relation
                {
                    **subquery = (**src).clone();
                }
            }
            **src = *wrapper;
            for s in &omitted {
                ins.columns.push(ObjectName::from(vec![ast::Ident::new(
                    s.column.name.clone(),
                )]));
                out.push(reserve(&s.sequence, None));
            }
            if out.len() > 1 {
                // changes() counts the statement just before: one reservation per INSERT.
                return Err(SqlError::unsupported(
                    "INSERT ... SELECT into a table with two sequence defaults",
                ));
            }
        }
    }
    Ok(out)
}

/// The positions of the reservations in `batch` (empty, without allocating, for a batch
/// that draws nothing).
pub fn reservation_indices(batch: &[Statement]) -> Vec<usize> {
    batch
        .iter()
        .enumerate()
        .filter(|(_, s)| s.sql.starts_with(RESERVE_PREFIX))
        .map(|(i, _)| i)
        .collect()
}

/// `(name, last_value)` of each reservation's answer, for `currval`.
pub fn reserved<'a>(
    at: &'a [usize],
    results: &'a [dotdo_backend::StatementResult],
) -> impl Iterator<Item = (String, i64)> + 'a {
    at.iter()
        .filter_map(|i| results.get(*i))
        .flat_map(|r| r.rows.iter())
        .filter_map(|row| {
            let name = row.first()?.as_str()?.to_owned();
            Some((name, row.get(1)?.as_i64()?))
        })
}

/// Whether reservation `sql` counts its rows itself (VALUES, DEFAULT VALUES), so that it can
/// run again alone when its INSERT failed.
pub fn counted(sql: &str) -> bool {
    sql.strip_prefix(RESERVE_PREFIX)
        .is_some_and(|r| r.starts_with(" SET"))
        && !sql.contains("changes()")
}

/// Moves each sequence on to at least the value given (never back): what a block that did
/// not commit drew stays taken.
pub fn keep_drawn(draws: &std::collections::HashMap<String, i64>) -> Vec<Statement> {
    draws
        .iter()
        .map(|(name, value)| {
            Statement::with_params(
                "UPDATE _pg_sequences SET last_value = ?2, is_called = 1 WHERE name = ?1 AND \
                 CASE WHEN increment > 0 THEN last_value + is_called * increment <= ?2 \
                 ELSE last_value + is_called * increment >= ?2 END",
                vec![SqlValue::Text(name.clone()), SqlValue::Integer(*value)],
            )
        })
        .collect()
}

/// Whether `batch` draws sequence values in place.
pub fn reserves(batch: &[Statement]) -> Option<String> {
    batch.iter().find_map(|s| {
        let rest = s.sql.strip_prefix(RESERVE_PREFIX)?;
        let at = rest.find("WHERE name = '")? + "WHERE name = '".len();
        let end = rest[at..].find("' AND")?;
        Some(rest[at..at + end].replace("''", "'"))
    })
}

/// `ALTER TABLE t ALTER [COLUMN] c RESTART [WITH n]` (an identity column's sequence) as the
/// `ALTER SEQUENCE` of the sequence it owns; `None` for any other ALTER TABLE.
pub fn alter_column_restart(sql: &str) -> Option<Result<crate::sequence::Alter, SqlError>> {
    let words: Vec<&str> = sql
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let mut i = 2;
    while matches!(
        upper.get(i).map(String::as_str),
        Some("IF" | "EXISTS" | "ONLY")
    ) {
        i += 1;
    }
    let table = *words.get(i)?;
    i += 1;
    if upper.get(i).map(String::as_str) != Some("ALTER") {
        return None;
    }
    i += 1;
    if upper.get(i).map(String::as_str) == Some("COLUMN") {
        i += 1;
    }
    let column = *words.get(i)?;
    if upper.get(i + 1).map(String::as_str) != Some("RESTART") {
        return None;
    }
    let unquote = |w: &str| match w.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        Some(q) => q.replace("\"\"", "\""),
        None => w.to_ascii_lowercase(),
    };
    let parts: Vec<String> = table.split('.').map(unquote).collect();
    let (schema, bare) = match parts.as_slice() {
        [t] => (None, t.clone()),
        [s, t] => (Some(s.clone()), t.clone()),
        _ => return None,
    };
    let seq = format!(
        "\"{}_{}_seq\"",
        bare.replace('"', "\"\""),
        unquote(column).replace('"', "\"\"")
    );
    let name = match schema {
        Some(s) => format!("\"{}\".{seq}", s.replace('"', "\"\"")),
        None => seq,
    };
    let rest = words[i + 1..].join(" ");
    Some(crate::sequence::parse_alter(&format!(
        "ALTER SEQUENCE {name} {rest}"
    )))
}

#[cfg(test)]
mod tests {
    use dotdo_backend::{StatementResult, Value as V};

    use crate::{Context, Plan, translate};

    fn ctx() -> Context<'static> {
        Context {
            database: "db",
            user: "u",
            backend_pid: 1,
            search_path: crate::namespace::DEFAULT_PATH,
        }
    }

    /// A catalog with table `t (id integer default nextval('t_id_seq'::regclass), v text)`,
    /// and, if `owned`, the sequence `t_id_seq` its id column owns.
    fn catalog(owned: bool) -> crate::Catalog {
        let col = |name: &str, pos: i64, typ: &str, dflt: Option<&str>| {
            vec![
                V::Text("t".into()),
                V::Text(name.into()),
                V::Integer(pos),
                V::Text(typ.into()),
                V::Integer(-1),
                V::Integer(1),
                dflt.map_or(V::Null, |d| V::Text(d.into())),
                V::Null,
            ]
        };
        let mut rows = vec![
            col("id", 1, "23", Some("nextval('t_id_seq'::regclass)")),
            col("v", 2, "25", None),
            vec![
                V::Text("t".into()),
                V::Null,
                V::Integer(0),
                V::Null,
                V::Null,
                V::Null,
                V::Null,
                V::Text("table".into()),
            ],
        ];
        if owned {
            rows.push(vec![
                V::Text("t_id_seq".into()),
                V::Text("id".into()),
                V::Integer(0),
                V::Text(String::new()),
                V::Null,
                V::Null,
                V::Text("t".into()),
                V::Text("sequence".into()),
            ]);
        }
        crate::Catalog::from_result(&StatementResult {
            rows,
            ..Default::default()
        })
    }

    fn batch(sql: &str, owned: bool) -> Vec<String> {
        match translate(sql, &catalog(owned), &ctx()) {
            Ok(Plan::Query(q)) => q.batch.iter().map(|s| s.sql.to_string()).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_serial_of_an_earlier_version_keeps_its_rowid_numbering() {
        // No sequence behind the recorded default: SQLite numbers the rowid, as before.
        let b = batch("INSERT INTO t (v) VALUES ('a'), ('b')", false);
        assert_eq!(b.len(), 1, "{b:?}");
        assert!(!b[0].contains("_pg_sequences"), "{}", b[0]);
    }

    #[test]
    fn an_owned_sequence_is_drawn_per_row_in_the_same_batch() {
        let b = batch("INSERT INTO t (v) VALUES ('a'), (DEFAULT), ('c')", true);
        assert_eq!(b.len(), 2, "{b:?}");
        assert!(
            b[0].contains("(is_called + 0)") && b[0].contains("(is_called + 2)"),
            "{}",
            b[0]
        );
        assert!(b[1].starts_with(super::RESERVE_PREFIX), "{}", b[1]);
        assert!(b[1].contains("(is_called + 3 - 1)"), "{}", b[1]);
        // An explicit id draws nothing.
        assert_eq!(
            batch("INSERT INTO t (id, v) VALUES (5, 'a')", true).len(),
            1
        );
        // INSERT ... SELECT numbers its rows and reserves as many as it inserted.
        let b = batch("INSERT INTO t (v) SELECT v FROM t", true);
        assert!(b[0].contains("row_number() OVER ()"), "{}", b[0]);
        assert!(b[1].contains("changes()"), "{}", b[1]);
    }

    #[test]
    fn alter_column_restart_names_the_owned_sequence() {
        let a = super::alter_column_restart("ALTER TABLE s.t ALTER COLUMN id RESTART WITH 5")
            .unwrap()
            .unwrap();
        assert_eq!(a.name, "s.t_id_seq");
        assert_eq!(a.restart, Some(Some(5)));
        assert!(super::alter_column_restart("ALTER TABLE t ADD COLUMN x int").is_none());
    }
}
