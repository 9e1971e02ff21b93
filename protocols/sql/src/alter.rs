//! ALTER TABLE forms SQLite cannot do in place (column defaults and NOT NULL, adding CHECK
//! and FOREIGN KEY constraints, dropping constraints): the table is rebuilt from its
//! stored definition, as SQLite's documentation describes, in one batch.
//!
//! Translation only knows the catalog, not SQLite's text of the table, so a rebuild is a
//! plan of its own: the session reads the table's schema rows ([`read_schema`]), then runs
//! the batch [`rebuild_batch`] makes of them.

use dotdo_backend::{Statement, StatementResult, Value};
use sqlparser::ast::{self, ColumnOption, ColumnOptionDef, TableConstraint};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;

use crate::error::{SqlError, code};
use crate::translate::{ident_name, quote_ident};

/// One change to a table's definition.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A column's default: `None` drops it; else SQLite's expression (`None` when the
    /// default is a sequence call, written into each INSERT instead) and PostgreSQL's text.
    Default {
        column: String,
        default: Option<(Option<String>, String)>,
    },
    NotNull {
        column: String,
        not_null: bool,
    },
    /// `CONSTRAINT name CHECK (expr)`.
    AddCheck {
        name: String,
        expr: String,
    },
    /// A FOREIGN KEY table constraint, as SQL.
    AddForeignKey(String),
    DropConstraint {
        name: String,
        if_exists: bool,
    },
    /// With the indexes and constraints that use the column, as PostgreSQL drops them.
    DropColumn {
        column: String,
    },
}

/// `ALTER TABLE … DROP COLUMN` as SQLite does it, for a column nothing else uses.
pub fn drop_column_in_place(table: &str, column: &str) -> Vec<Statement> {
    vec![
        Statement::new(format!(
            "ALTER TABLE {} DROP COLUMN {}",
            quote_ident(table),
            quote_ident(column)
        )),
        Statement::with_params(
            "DELETE FROM _pg_columns WHERE tbl = ?1 AND col = ?2",
            vec![
                Value::Text(table.to_owned()),
                Value::Text(column.to_owned()),
            ],
        ),
    ]
}

/// Whether SQL text (an index, a constraint, an expression) names `column`.
fn mentions(sql: &str, column: &str) -> bool {
    let tokens = sqlparser::tokenizer::Tokenizer::new(&SQLiteDialect {}, sql).tokenize();
    tokens.unwrap_or_default().into_iter().any(|t| match t {
        sqlparser::tokenizer::Token::Word(w) => {
            if w.quote_style.is_some() {
                w.value == column
            } else {
                w.value.eq_ignore_ascii_case(column)
            }
        }
        _ => false,
    })
}

/// A table to rebuild with `changes`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rebuild {
    pub table: String,
    pub changes: Vec<Change>,
}

const NEW: &str = "_pg_rebuild";

/// The table's schema rows (the table, its indexes and triggers) and its recorded checks.
pub fn read_schema(table: &str) -> Vec<Statement> {
    vec![
        Statement::with_params(
            "SELECT type, name, sql FROM sqlite_schema WHERE tbl_name = ?1 AND sql IS NOT NULL ORDER BY type = 'table' DESC, rowid",
            vec![Value::Text(table.to_owned())],
        ),
        Statement::with_params(
            "SELECT name, def FROM _pg_checks WHERE tbl = ?1",
            vec![Value::Text(table.to_owned())],
        ),
        // Other tables whose foreign keys reference this one.
        Statement::with_params(
            "SELECT s.name FROM sqlite_schema AS s, pragma_foreign_key_list(s.name) AS f \
             WHERE s.type = 'table' AND f.\"table\" = ?1 AND s.name <> ?1",
            vec![Value::Text(table.to_owned())],
        ),
    ]
}

/// PostgreSQL's error for a rebuild that failed on the table's rows.
pub fn rebuild_error(r: &Rebuild, schema: &[StatementResult], e: SqlError) -> SqlError {
    let table = &r.table;
    let referenced = schema.get(2).is_some_and(|s| !s.rows.is_empty());
    let quoted = |m: &str, after: &str| -> Option<String> {
        let rest = &m[m.find(after)? + after.len()..];
        let rest = rest.trim_start().trim_start_matches('"');
        Some(rest.split(['"', ' ', ',']).next()?.to_owned())
    };
    match e.code {
        code::NOT_NULL_VIOLATION => match quoted(&e.message, "in column") {
            Some(col) => SqlError::new(
                code::NOT_NULL_VIOLATION,
                format!("column \"{col}\" of relation \"{table}\" contains null values"),
            ),
            None => e,
        },
        code::CHECK_VIOLATION => match quoted(&e.message, "constraint failed:") {
            Some(name) => SqlError::new(
                code::CHECK_VIOLATION,
                format!(
                    "check constraint \"{name}\" of relation \"{table}\" is violated by some row"
                ),
            ),
            None => e,
        },
        code::FOREIGN_KEY_VIOLATION
            if referenced
                && !r
                    .changes
                    .iter()
                    .any(|c| matches!(c, Change::AddForeignKey(_))) =>
        {
            SqlError::unsupported(format!(
                "this ALTER TABLE rebuilds \"{table}\", which rows of other tables reference"
            ))
        }
        code::FOREIGN_KEY_VIOLATION => SqlError::new(
            code::FOREIGN_KEY_VIOLATION,
            format!("insert or update on table \"{table}\" violates foreign key constraint"),
        ),
        _ => e,
    }
}

fn text(row: &[Value], i: usize) -> String {
    row.get(i)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The batch that rebuilds the table with the changes, given [`read_schema`]'s results.
pub fn rebuild_batch(r: &Rebuild, schema: &[StatementResult]) -> Result<Vec<Statement>, SqlError> {
    let table = &r.table;
    let rows = schema.first().map(|s| s.rows.as_slice()).unwrap_or(&[]);
    let checks: Vec<(String, String)> = schema
        .get(1)
        .map(|s| s.rows.iter().map(|r| (text(r, 0), text(r, 1))).collect())
        .unwrap_or_default();
    let Some(create) = rows.iter().find(|row| text(row, 0) == "table") else {
        return Err(SqlError::new(
            code::UNDEFINED_TABLE,
            format!("relation \"{table}\" does not exist"),
        ));
    };
    let mut parsed = Parser::parse_sql(&SQLiteDialect {}, &text(create, 2))
        .map_err(|e| SqlError::new(code::INTERNAL_ERROR, format!("table definition: {e}")))?;
    let Some(ast::Statement::CreateTable(mut ct)) = parsed.pop() else {
        return Err(SqlError::new(code::INTERNAL_ERROR, "table definition"));
    };
    let mut catalog = Vec::new();
    let mut drop_indexes = Vec::new();
    // A column no index, key or constraint uses is dropped in place: no copy of the rows.
    if let [Change::DropColumn { column }] = r.changes.as_slice() {
        let used = rows
            .iter()
            .any(|row| text(row, 0) == "index" && mentions(&text(row, 2), column))
            || ct
                .constraints
                .iter()
                .any(|c| mentions(&c.to_string(), column))
            || ct.columns.iter().any(|c| {
                ident_name(&c.name) == *column
                    && c.options.iter().any(|o| {
                        matches!(
                            o.option,
                            ColumnOption::PrimaryKey(_)
                                | ColumnOption::Unique(_)
                                | ColumnOption::ForeignKey(_)
                                | ColumnOption::Check(_)
                        )
                    })
            });
        if !used {
            return Ok(drop_column_in_place(table, column));
        }
    }
    for row in rows.iter().filter(|row| text(row, 0) == "index") {
        if r.changes
            .iter()
            .any(|c| matches!(c, Change::DropColumn { column } if mentions(&text(row, 2), column)))
        {
            drop_indexes.push(text(row, 1));
        }
    }
    for change in &r.changes {
        apply(
            &mut ct,
            change,
            table,
            &checks,
            &mut catalog,
            &mut drop_indexes,
        )?;
    }
    let columns: Vec<String> = ct
        .columns
        .iter()
        .map(|c| quote_ident(&ident_name(&c.name)))
        .collect();
    let columns = columns.join(", ");
    // The rows wait in a copy while the table is made again under its own name: renaming a
    // new table into place would make SQLite re-check every view, and fail on those that
    // name the table while it is gone.
    let qt = quote_ident(table);
    let copy = quote_ident(NEW);
    let mut batch = vec![
        Statement::new(format!("DROP TABLE IF EXISTS {copy}")),
        Statement::new(format!("CREATE TABLE {copy} AS SELECT {columns} FROM {qt}")),
        Statement::new(format!("DROP TABLE {qt}")),
        Statement::new(ct.to_string()),
        Statement::new(format!(
            "INSERT INTO {qt} ({columns}) SELECT {columns} FROM {copy}"
        )),
        Statement::new(format!("DROP TABLE {copy}")),
    ];
    // Indexes and triggers went with the old table: make them again, but those dropped.
    for row in rows.iter().filter(|row| text(row, 0) != "table") {
        if !drop_indexes.contains(&text(row, 1)) {
            batch.push(Statement::new(text(row, 2)));
        }
    }
    batch.extend(catalog);
    Ok(batch)
}

fn column<'a>(
    ct: &'a mut ast::CreateTable,
    name: &str,
    table: &str,
) -> Result<&'a mut ast::ColumnDef, SqlError> {
    ct.columns
        .iter_mut()
        .find(|c| ident_name(&c.name) == name)
        .ok_or_else(|| {
            SqlError::new(
                code::UNDEFINED_COLUMN,
                format!("column \"{name}\" of relation \"{table}\" does not exist"),
            )
        })
}

fn parse_expr(sql: &str) -> Result<ast::Expr, SqlError> {
    Parser::new(&SQLiteDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| SqlError::syntax(format!("syntax error: {e}")))
}

fn catalog_update(sql: &'static str, params: Vec<Value>) -> Statement {
    Statement::with_params(sql, params)
}

fn apply(
    ct: &mut ast::CreateTable,
    change: &Change,
    table: &str,
    checks: &[(String, String)],
    catalog: &mut Vec<Statement>,
    drop_indexes: &mut Vec<String>,
) -> Result<(), SqlError> {
    let t = || Value::Text(table.to_owned());
    match change {
        Change::DropColumn { column: name } => {
            column(ct, name, table)?;
            ct.columns.retain(|c| ident_name(&c.name) != *name);
            ct.constraints.retain(|c| !mentions(&c.to_string(), name));
            for (check, def) in checks {
                if mentions(def, name) {
                    catalog.push(catalog_update(
                        "DELETE FROM _pg_checks WHERE tbl = ?1 AND name = ?2",
                        vec![t(), Value::Text(check.clone())],
                    ));
                }
            }
            catalog.push(catalog_update(
                "DELETE FROM _pg_columns WHERE tbl = ?1 AND col = ?2",
                vec![t(), Value::Text(name.clone())],
            ));
        }
        Change::Default {
            column: name,
            default,
        } => {
            let col = column(ct, name, table)?;
            col.options
                .retain(|o| !matches!(o.option, ColumnOption::Default(_)));
            if let Some((Some(sql), _)) = default {
                col.options.push(ColumnOptionDef {
                    name: None,
                    option: ColumnOption::Default(parse_expr(&format!("({sql})"))?),
                });
            }
            catalog.push(catalog_update(
                "UPDATE _pg_columns SET dflt = ?3 WHERE tbl = ?1 AND col = ?2",
                vec![
                    t(),
                    Value::Text(name.clone()),
                    default
                        .as_ref()
                        .map_or(Value::Null, |(_, pg)| Value::Text(pg.clone())),
                ],
            ));
        }
        Change::NotNull {
            column: name,
            not_null,
        } => {
            let primary = ct.constraints.iter().any(|c| match c {
                TableConstraint::PrimaryKey(pk) => pk
                    .columns
                    .iter()
                    .any(|ic| ic.column.expr.to_string().trim_matches('"') == name),
                _ => false,
            });
            let col = column(ct, name, table)?;
            let primary = primary
                || col
                    .options
                    .iter()
                    .any(|o| matches!(o.option, ColumnOption::PrimaryKey(_)));
            if !*not_null && primary {
                return Err(SqlError::new(
                    "42P16",
                    format!("column \"{name}\" is in a primary key"),
                ));
            }
            col.options
                .retain(|o| !matches!(o.option, ColumnOption::NotNull | ColumnOption::Null));
            if *not_null {
                col.options.push(ColumnOptionDef {
                    name: None,
                    option: ColumnOption::NotNull,
                });
            }
            catalog.push(catalog_update(
                "UPDATE _pg_columns SET not_null = ?3 WHERE tbl = ?1 AND col = ?2",
                vec![
                    t(),
                    Value::Text(name.clone()),
                    Value::Integer(*not_null as i64),
                ],
            ));
        }
        Change::AddCheck { name, expr } => {
            if checks.iter().any(|(n, _)| n == name) {
                return Err(SqlError::new(
                    "42710",
                    format!("constraint \"{name}\" for relation \"{table}\" already exists"),
                ));
            }
            ct.constraints
                .push(TableConstraint::Check(ast::CheckConstraint {
                    name: Some(ast::Ident::with_quote('"', name)),
                    expr: Box::new(parse_expr(expr)?),
                    no_inherit: false,
                    enforced: None,
                }));
            catalog.push(catalog_update(
                "INSERT INTO _pg_checks (tbl, name, def) VALUES (?1, ?2, ?3)",
                vec![
                    t(),
                    Value::Text(name.clone()),
                    Value::Text(format!("CHECK ({expr})")),
                ],
            ));
        }
        Change::AddForeignKey(sql) => {
            let mut parsed = Parser::new(&SQLiteDialect {})
                .try_with_sql(sql)
                .and_then(|mut p| p.parse_optional_table_constraint())
                .map_err(|e| SqlError::syntax(format!("syntax error: {e}")))?;
            let Some(fk) = parsed.take() else {
                return Err(SqlError::syntax("syntax error in FOREIGN KEY"));
            };
            if let TableConstraint::ForeignKey(f) = &fk
                && let Some(name) = &f.name
            {
                catalog.push(crate::describe::record_fkey(table, name, &f.columns));
            }
            ct.constraints.push(fk);
        }
        Change::DropConstraint { name, if_exists } => {
            if let Some((_, def)) = checks.iter().find(|(n, _)| n == name) {
                let body = def
                    .strip_prefix("CHECK (")
                    .and_then(|d| d.strip_suffix(')'));
                let same = |e: &ast::Expr| Some(e.to_string().as_str()) == body;
                ct.constraints.retain(|c| match c {
                    TableConstraint::Check(chk) => {
                        !(chk.name.as_ref().is_some_and(|n| ident_name(n) == *name)
                            || same(&chk.expr))
                    }
                    _ => true,
                });
                for col in &mut ct.columns {
                    col.options.retain(|o| match &o.option {
                        ColumnOption::Check(chk) => !same(&chk.expr),
                        _ => true,
                    });
                }
                catalog.push(catalog_update(
                    "DELETE FROM _pg_checks WHERE tbl = ?1 AND name = ?2",
                    vec![t(), Value::Text(name.clone())],
                ));
                return Ok(());
            }
            let before = ct.constraints.len();
            ct.constraints.retain(|c| match c {
                TableConstraint::ForeignKey(fk) => {
                    let cols: Vec<String> = fk.columns.iter().map(ident_name).collect();
                    let default_name =
                        format!("{}_{}_fkey", crate::namespace::bare(table), cols.join("_"));
                    fk.name.as_ref().map_or(default_name, ident_name) != *name
                }
                _ => true,
            });
            let mut found = ct.constraints.len() != before;
            catalog.push(catalog_update(
                "DELETE FROM _pg_fkeys WHERE tbl = ?1 AND name = ?2",
                vec![t(), Value::Text(name.clone())],
            ));
            for col in &mut ct.columns {
                let cname = ident_name(&col.name);
                let before = col.options.len();
                col.options.retain(|o| {
                    !(matches!(o.option, ColumnOption::ForeignKey(_))
                        && o.name.as_ref().map_or(
                            format!("{}_{cname}_fkey", crate::namespace::bare(table)),
                            ident_name,
                        ) == *name)
                });
                found |= col.options.len() != before;
            }
            // A UNIQUE constraint added by ALTER TABLE is an index of that name.
            if !found && name.ends_with("_key") {
                drop_indexes.push(name.clone());
                found = true;
            }
            if !found && !*if_exists {
                return Err(SqlError::new(
                    code::UNDEFINED_OBJECT,
                    format!("constraint \"{name}\" of relation \"{table}\" does not exist"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(sql: &str, checks: &[(&str, &str)]) -> Vec<StatementResult> {
        let t = |s: &str| Value::Text(s.to_owned());
        vec![
            StatementResult {
                rows: vec![
                    vec![t("table"), t("t"), t(sql)],
                    vec![t("index"), t("t_b"), t("CREATE INDEX t_b ON t (b)")],
                ],
                ..Default::default()
            },
            StatementResult {
                rows: checks.iter().map(|(n, d)| vec![t(n), t(d)]).collect(),
                ..Default::default()
            },
        ]
    }

    #[test]
    fn rebuilds_with_new_defaults_not_null_and_checks() {
        let r = Rebuild {
            table: "t".into(),
            changes: vec![
                Change::Default {
                    column: "b".into(),
                    default: Some((Some("5".into()), "5".into())),
                },
                Change::NotNull {
                    column: "b".into(),
                    not_null: true,
                },
                Change::NotNull {
                    column: "c".into(),
                    not_null: false,
                },
                Change::AddCheck {
                    name: "t_b_check".into(),
                    expr: "b > 0".into(),
                },
                Change::DropConstraint {
                    name: "t_c_check".into(),
                    if_exists: false,
                },
            ],
        };
        let batch = rebuild_batch(
            &r,
            &schema(
                "CREATE TABLE \"t\" (\"a\" INTEGER PRIMARY KEY, \"b\" INTEGER, \"c\" TEXT NOT NULL, CHECK (length(c) > 1))",
                &[("t_c_check", "CHECK (length(c) > 1)")],
            ),
        )
        .unwrap();
        let create = &batch[3].sql;
        assert!(
            create.contains("\"b\" INTEGER DEFAULT (5) NOT NULL"),
            "{create}"
        );
        assert!(
            create.contains("\"c\" TEXT,") || create.contains("\"c\" TEXT "),
            "{create}"
        );
        assert!(
            create.contains("CONSTRAINT \"t_b_check\" CHECK (b > 0)"),
            "{create}"
        );
        assert!(!create.contains("length(c)"), "{create}");
        assert!(batch.iter().any(|s| &*s.sql == "CREATE INDEX t_b ON t (b)"));
        let err = rebuild_batch(
            &Rebuild {
                table: "t".into(),
                changes: vec![Change::NotNull {
                    column: "a".into(),
                    not_null: false,
                }],
            },
            &schema(
                "CREATE TABLE \"t\" (\"a\" INTEGER PRIMARY KEY, \"b\" INTEGER)",
                &[],
            ),
        )
        .unwrap_err();
        assert_eq!(err.code, "42P16");
    }
}
