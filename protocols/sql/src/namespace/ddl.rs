//! CREATE, DROP and ALTER SCHEMA.

use super::*;
use dotdo_backend::{Statement as SqliteStatement, StatementResult, Value as SqlValue};

/// `CREATE SCHEMA`.
pub fn create(
    schema_name: &ast::SchemaName,
    if_not_exists: bool,
    catalog: &Catalog,
) -> Result<Plan, SqlError> {
    let name = match schema_name {
        ast::SchemaName::Simple(n) | ast::SchemaName::NamedAuthorization(n, _) => {
            schema_and_name(n).1
        }
        ast::SchemaName::UnnamedAuthorization(role) => ident_name(role),
    };
    if schema_exists(catalog, &name) {
        if if_not_exists {
            return Ok(Plan::Utility("CREATE SCHEMA"));
        }
        return Err(SqlError::new(
            DUPLICATE_SCHEMA,
            format!("schema \"{name}\" already exists"),
        ));
    }
    check_new_name(&name)?;
    Ok(ddl_plan(
        vec![SqliteStatement::with_params(
            "INSERT INTO _pg_namespaces (oid, name) VALUES ((SELECT coalesce(max(oid), 16999) + 1 FROM _pg_namespaces), ?1)",
            vec![SqlValue::Text(name)],
        )],
        "CREATE SCHEMA",
    ))
}

/// `DROP SCHEMA`: with CASCADE, its tables, views and sequences go too (indexes with
/// their tables).
pub fn drop(
    names: &[ObjectName],
    if_exists: bool,
    cascade: bool,
    catalog: &Catalog,
) -> Result<Plan, SqlError> {
    let mut batch = Vec::new();
    for n in names {
        let (_, name) = schema_and_name(n);
        if SYSTEM.contains(&name.as_str()) {
            return Err(SqlError::new(
                DEPENDENT_OBJECTS_STILL_EXIST,
                format!("cannot drop schema {name} because it is required by the database system"),
            ));
        }
        if name == "public" {
            return Err(SqlError::unsupported("DROP SCHEMA public is not supported"));
        }
        if catalog.namespace(&name).is_none() {
            if if_exists {
                continue;
            }
            return Err(no_schema(&name));
        }
        let members: Vec<(&String, &String)> = catalog
            .relations()
            .filter(|(stored, kind)| {
                kind.as_str() != "index" && split_stored(catalog, stored).0 == name
            })
            .collect();
        if !members.is_empty() && !cascade {
            let detail: Vec<String> = members
                .iter()
                .map(|(stored, kind)| format!("{kind} {stored} depends on schema {name}"))
                .collect();
            return Err(SqlError::new(
                DEPENDENT_OBJECTS_STILL_EXIST,
                format!("cannot drop schema {name} because other objects depend on it"),
            )
            .with_detail(detail.join("\n")));
        }
        for (stored, kind) in drop_order(catalog, members) {
            let param = || vec![SqlValue::Text(stored.clone())];
            match kind.as_str() {
                "view" => {
                    batch.push(SqliteStatement::new(format!(
                        "DROP VIEW IF EXISTS {}",
                        quote_ident(stored)
                    )));
                    batch.push(SqliteStatement::with_params(
                        "DELETE FROM _pg_view_columns WHERE view = ?1",
                        param(),
                    ));
                }
                "table" => {
                    batch.push(SqliteStatement::new(format!(
                        "DROP TABLE IF EXISTS {}",
                        quote_ident(stored)
                    )));
                    for t in ["_pg_columns", "_pg_checks", "_pg_fkeys"] {
                        batch.push(SqliteStatement::with_params(
                            format!("DELETE FROM {t} WHERE tbl = ?1"),
                            param(),
                        ));
                    }
                }
                "sequence" => batch.extend(crate::sequence::drop(stored, true)),
                _ => {}
            }
        }
        batch.push(SqliteStatement::with_params(
            "DELETE FROM _pg_namespaces WHERE name = ?1",
            vec![SqlValue::Text(name)],
        ));
    }
    if batch.is_empty() {
        return Ok(Plan::Utility("DROP SCHEMA"));
    }
    Ok(ddl_plan(batch, "DROP SCHEMA"))
}

/// Views first (they may read the tables), then each table before the tables it references
/// (SQLite's DROP TABLE deletes the rows, which a referencing row would forbid).
fn drop_order<'c>(
    catalog: &'c Catalog,
    mut members: Vec<(&'c String, &'c String)>,
) -> Vec<(&'c String, &'c String)> {
    members.sort_by_key(|(_, kind)| kind.as_str() != "view");
    let mut out = Vec::new();
    while !members.is_empty() {
        let referenced = |name: &String, rest: &[(&String, &String)]| {
            catalog.references().iter().any(|(child, parent)| {
                parent == name && child != name && rest.iter().any(|(r, _)| *r == child)
            })
        };
        let next = (0..members.len())
            .find(|&i| !referenced(members[i].0, &members))
            .unwrap_or(0);
        out.push(members.remove(next));
    }
    out
}

/// `ALTER SCHEMA from RENAME TO to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rename {
    pub from: String,
    pub to: String,
}

/// `ALTER SCHEMA`: only RENAME TO.
pub fn alter(a: &ast::AlterSchema, catalog: &Catalog) -> Result<Plan, SqlError> {
    let from = schema_and_name(&a.name).1;
    let [ast::AlterSchemaOperation::Rename { name }] = a.operations.as_slice() else {
        return Err(SqlError::unsupported(
            "ALTER SCHEMA supports only RENAME TO",
        ));
    };
    let to = schema_and_name(name).1;
    if from == "public" || SYSTEM.contains(&from.as_str()) {
        return Err(SqlError::unsupported(format!(
            "ALTER SCHEMA {from} RENAME is not supported"
        )));
    }
    if catalog.namespace(&from).is_none() {
        return Err(no_schema(&from));
    }
    if schema_exists(catalog, &to) {
        return Err(SqlError::new(
            DUPLICATE_SCHEMA,
            format!("schema \"{to}\" already exists"),
        ));
    }
    check_new_name(&to)?;
    Ok(Plan::RenameSchema(Rename { from, to }))
}

fn check_new_name(name: &str) -> Result<(), SqlError> {
    if name.starts_with("pg_") {
        return Err(SqlError::new(
            RESERVED_NAME,
            format!("unacceptable schema name \"{name}\""),
        )
        .with_detail("The prefix \"pg_\" is reserved for system schemas."));
    }
    if name.contains('.') || name.starts_with('_') {
        return Err(SqlError::unsupported(format!(
            "schema name \"{name}\" is not supported (no '.', no leading '_')"
        )));
    }
    Ok(())
}

/// What [`rename_batch`] needs: the schema's SQLite objects and its sequences.
pub fn rename_read(r: &Rename) -> Vec<SqliteStatement> {
    let prefix = || {
        vec![
            SqlValue::Text(format!("{}.", r.from)),
            SqlValue::Integer(r.from.chars().count() as i64 + 1),
        ]
    };
    vec![
        SqliteStatement::with_params(
            "SELECT type, name, sql FROM sqlite_schema WHERE substr(name, 1, ?2) = ?1",
            prefix(),
        ),
        SqliteStatement::with_params(
            "SELECT name FROM _pg_sequences WHERE substr(name, 1, ?2) = ?1",
            prefix(),
        ),
    ]
}

/// The batch that renames schema `r.from`: SQLite renames tables (and what refers to them)
/// but not indexes or views, which are made again under their new names.
pub fn rename_batch(r: &Rename, read: &[StatementResult]) -> Vec<SqliteStatement> {
    let (old, new) = (format!("{}.", r.from), format!("{}.", r.to));
    let moved = |name: &str| format!("{new}{}", name.get(old.len()..).unwrap_or(""));
    let requoted = |sql: &str| sql.replace(&format!("\"{old}"), &format!("\"{new}"));
    let text =
        |row: &[SqlValue], i: usize| row.get(i).and_then(SqlValue::as_str).map(str::to_owned);
    let mut drops = Vec::new();
    let mut renames = Vec::new();
    let mut creates = Vec::new();
    for row in read.first().map_or(&[][..], |r| &r.rows[..]) {
        let (Some(kind), Some(name)) = (text(row, 0), text(row, 1)) else {
            continue;
        };
        match (kind.as_str(), text(row, 2)) {
            ("table", _) => renames.push(SqliteStatement::new(format!(
                "ALTER TABLE {} RENAME TO {}",
                quote_ident(&name),
                quote_ident(&moved(&name))
            ))),
            ("index" | "view", Some(sql)) => {
                drops.push(SqliteStatement::new(format!(
                    "DROP {} {}",
                    kind.to_ascii_uppercase(),
                    quote_ident(&name)
                )));
                creates.push(SqliteStatement::new(requoted(&sql)));
            }
            _ => {}
        }
    }
    let mut batch = vec![SqliteStatement::new("SELECT 1 WHERE 0")];
    batch.extend(drops);
    batch.extend(renames);
    batch.extend(creates);
    for row in read.get(1).map_or(&[][..], |r| &r.rows[..]) {
        let Some(name) = text(row, 0) else { continue };
        batch.push(SqliteStatement::new(format!(
            "DROP VIEW IF EXISTS {}",
            quote_ident(&format!("_pg_seq_{name}"))
        )));
        batch.push(SqliteStatement::new(format!(
            "CREATE VIEW {} AS SELECT 1",
            quote_ident(&format!("_pg_seq_{}", moved(&name)))
        )));
    }
    let params = || {
        vec![
            SqlValue::Text(old.clone()),
            SqlValue::Integer(old.chars().count() as i64),
            SqlValue::Text(new.clone()),
        ]
    };
    for (table, column) in [
        ("_pg_columns", "tbl"),
        ("_pg_checks", "tbl"),
        ("_pg_fkeys", "tbl"),
        ("_pg_view_columns", "view"),
        ("_pg_sequences", "name"),
    ] {
        batch.push(SqliteStatement::with_params(
            format!(
                "UPDATE {table} SET {column} = ?3 || substr({column}, ?2 + 1) WHERE substr({column}, 1, ?2) = ?1"
            ),
            params(),
        ));
    }
    // Serial columns' recorded defaults name their sequence with the schema.
    batch.push(SqliteStatement::with_params(
        "UPDATE _pg_columns SET dflt = replace(dflt, 'nextval(''' || ?1, 'nextval(''' || ?3) WHERE substr(tbl, 1, length(?3)) = ?3",
        params(),
    ));
    batch.push(SqliteStatement::with_params(
        "UPDATE _pg_namespaces SET name = ?2 WHERE name = ?1",
        vec![SqlValue::Text(r.from.clone()), SqlValue::Text(r.to.clone())],
    ));
    batch
}

fn ddl_plan(mut batch: Vec<SqliteStatement>, tag: &'static str) -> Plan {
    // The main statement is bound to the client's parameters: it must take none.
    batch.insert(0, SqliteStatement::new("SELECT 1 WHERE 0"));
    Plan::Query(crate::translate::ddl(batch, tag))
}
