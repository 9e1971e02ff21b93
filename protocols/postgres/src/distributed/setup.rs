//! Moving tables onto shard objects: create_distributed_table, create_reference_table,
//! undistribute_table, and COPY rows routed to their shards.

use dotdo_backend::{ObjectId, SharedBackend, Statement, StatementResult, Value};
use dotdo_sql::citus::{self, Kind};
use dotdo_sql::translate::quote_ident;
use dotdo_sql::{SqlError, catalog, code};

use super::shard_object;
use crate::session::{Session, Txn};

/// Multi-row INSERTs of `rows` into `table`, each within the bound-parameter limit.
pub(super) fn insert_rows(table: &str, rows: &[Vec<Value>], or_replace: bool) -> Vec<Statement> {
    let width = rows.first().map_or(1, Vec::len).max(1);
    let per = (dotdo_backend::MAX_PARAMS / width).max(1);
    rows.chunks(per)
        .map(|chunk| {
            let one = format!("({})", vec!["?"; width].join(","));
            let sql = format!(
                "INSERT {}INTO {} VALUES {}",
                if or_replace { "OR REPLACE " } else { "" },
                quote_ident(table),
                vec![one; chunk.len()].join(",")
            );
            Statement::with_params(sql, chunk.iter().flatten().cloned().collect())
        })
        .collect()
}

/// A table as another object needs it: its SQLite DDL, catalog rows and rows.
struct TableCopy {
    name: String,
    ddl: Vec<String>,
    /// Catalog tables and the rows of each that describe the table.
    catalog_rows: Vec<(&'static str, Vec<Vec<Value>>)>,
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

/// The catalog tables whose rows describe a table, and the condition that picks them out
/// for table `?1`: its columns, checks and foreign keys, and its schema (a relation of a
/// schema other than public is stored as `"schema.name"`, and a shard's translation must
/// know the schema to resolve it). A schema's row is only ever added, never removed.
const CATALOG_TABLES: [(&str, &str); 4] = [
    ("_pg_columns", "tbl = ?1"),
    ("_pg_checks", "tbl = ?1"),
    ("_pg_fkeys", "tbl = ?1"),
    (
        "_pg_namespaces",
        "substr(?1, 1, length(name) + 1) = name || '.'",
    ),
];

fn read_table_batch(table: &str) -> Vec<Statement> {
    let name = Value::Text(table.to_owned());
    let mut out = vec![Statement::with_params(
        "SELECT sql FROM sqlite_schema WHERE tbl_name = ?1 AND sql IS NOT NULL ORDER BY type <> 'table'",
        vec![name.clone()],
    )];
    for (t, which) in CATALOG_TABLES {
        out.push(Statement::with_params(
            format!("SELECT * FROM {t} WHERE {which}"),
            vec![name.clone()],
        ));
    }
    out.push(Statement::new(format!(
        "SELECT * FROM {}",
        quote_ident(table)
    )));
    out
}

fn table_copy(table: &str, mut r: Vec<StatementResult>) -> Result<TableCopy, SqlError> {
    if r.len() != 2 + CATALOG_TABLES.len() {
        return Err(SqlError::new(code::INTERNAL_ERROR, "short table read"));
    }
    let data = r.pop().unwrap_or_default();
    let ddl = r[0]
        .rows
        .iter()
        .filter_map(|row| row.first().and_then(Value::as_str).map(str::to_owned))
        .collect();
    let catalog_rows = CATALOG_TABLES
        .iter()
        .zip(r.drain(1..))
        .map(|((t, _), res)| (*t, res.rows))
        .collect();
    Ok(TableCopy {
        name: table.to_owned(),
        ddl,
        catalog_rows,
        columns: data.columns,
        rows: data.rows,
    })
}

impl TableCopy {
    /// Statements that (re)create the table, empty, in another object.
    fn create(&self) -> Vec<Statement> {
        let mut out = vec![Statement::new(format!(
            "DROP TABLE IF EXISTS {}",
            quote_ident(&self.name)
        ))];
        for (t, _) in CATALOG_TABLES
            .iter()
            .filter(|(t, _)| *t != "_pg_namespaces")
        {
            out.push(Statement::with_params(
                format!("DELETE FROM {t} WHERE tbl = ?1"),
                vec![Value::Text(self.name.clone())],
            ));
        }
        out.extend(self.ddl.iter().map(|s| Statement::new(s.clone())));
        for (t, rows) in &self.catalog_rows {
            out.extend(insert_rows(t, rows, true));
        }
        out
    }
}

/// Most statements one loading batch holds.
const MAX_BATCH: usize = 500;

/// The statements that set up a shard object: the catalog, then `tables` (empty).
fn shard_setup(db_name: &str, tables: &[&TableCopy]) -> Vec<Statement> {
    let mut out = catalog::migrations(db_name);
    out.extend(citus::migrations());
    for t in tables {
        out.extend(t.create());
    }
    out
}

async fn read_tables(txn: &mut Txn, names: &[String]) -> Result<Vec<TableCopy>, SqlError> {
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        let r = txn.handle().execute(read_table_batch(n)).await?;
        out.push(table_copy(n, r)?);
    }
    Ok(out)
}

/// Load `batch` (setup then row inserts) onto `object`, in batches of bounded length.
async fn load(
    backend: &SharedBackend,
    object: ObjectId,
    batch: Vec<Statement>,
) -> Result<(), SqlError> {
    let mut rest = batch.as_slice();
    while !rest.is_empty() {
        let n = rest.len().min(MAX_BATCH);
        backend.execute(&object, rest[..n].to_vec()).await?;
        rest = &rest[n..];
    }
    Ok(())
}

impl Session {
    /// Check that every UNIQUE and PRIMARY KEY constraint of `table` includes `column`.
    async fn check_constraints(&mut self, table: &str, column: &str) -> Result<(), SqlError> {
        let t = Value::Text(table.to_owned());
        let backend = self.server.backend.clone();
        let r = backend
            .execute(
                &self.coordinator(),
                vec![
                    Statement::with_params(
                        "SELECT il.name, ii.name FROM pragma_index_list(?1) AS il JOIN pragma_index_info(il.name) AS ii WHERE il.\"unique\" = 1",
                        vec![t.clone()],
                    ),
                    Statement::with_params(
                        "SELECT name FROM pragma_table_info(?1) WHERE pk > 0",
                        vec![t],
                    ),
                ],
            )
            .await?;
        let text = |row: &Vec<Value>, i: usize| {
            row.get(i).and_then(Value::as_str).unwrap_or("").to_owned()
        };
        let mut indexes: Vec<(String, bool)> = Vec::new();
        for row in &r[0].rows {
            let (index, col) = (text(row, 0), text(row, 1));
            match indexes.iter_mut().find(|(n, _)| *n == index) {
                Some((_, has)) => *has |= col == column,
                None => indexes.push((index, col == column)),
            }
        }
        let pk: Vec<String> = r[1].rows.iter().map(|row| text(row, 0)).collect();
        if indexes.iter().any(|(_, has)| !has)
            || (!pk.is_empty() && !pk.iter().any(|c| c == column))
        {
            return Err(SqlError::new(
                code::FEATURE_NOT_SUPPORTED,
                format!("cannot create constraint on \"{table}\""),
            )
            .with_detail("Distributed relations cannot have UNIQUE, EXCLUDE, or PRIMARY KEY constraints that do not include the partition column (with an equality operator if EXCLUDE)."));
        }
        Ok(())
    }

    pub(super) async fn create_distributed(
        &mut self,
        table: &str,
        column: &str,
        ty: dotdo_sql::PgType,
        shards: u32,
    ) -> Result<(), SqlError> {
        self.refuse_in_block()?;
        self.check_constraints(table, column).await?;
        let (_, cat) = self.catalog().await?;
        let meta = cat.distribution().clone();
        let new_group = !meta.groups().contains(&shards);
        let references: Vec<String> = if new_group {
            meta.references().map(str::to_owned).collect()
        } else {
            Vec::new()
        };
        // The coordinator's writer is held while rows move, so none are lost.
        let backend = self.server.backend.clone();
        let (coordinator, db_name) = (self.coordinator(), self.db.name.clone());
        let mut txn = Txn::Locking(backend.begin(&coordinator).await?);
        let work = async {
            let copy = read_tables(&mut txn, &[table.to_owned()]).await?;
            let refs = read_tables(&mut txn, &references).await?;
            let copy = &copy[0];
            let pos = copy
                .columns
                .iter()
                .position(|c| c == column)
                .ok_or_else(|| SqlError::new(code::UNDEFINED_COLUMN, "no distribution column"))?;
            let mut slices: Vec<Vec<Vec<Value>>> = vec![Vec::new(); shards as usize];
            for row in &copy.rows {
                let Some(s) = citus::shard_of(ty, &row[pos], shards) else {
                    return Err(SqlError::new(
                        "22004",
                        "cannot distribute a table with NULL in the partition column",
                    ));
                };
                slices[s as usize].push(row.clone());
            }
            let mut tables: Vec<&TableCopy> = vec![copy];
            tables.extend(refs.iter());
            for (i, slice) in slices.iter().enumerate() {
                let mut batch = shard_setup(&db_name, &tables);
                batch.extend(insert_rows(table, slice, false));
                for r in &refs {
                    batch.extend(insert_rows(&r.name, &r.rows, false));
                }
                load(
                    &backend,
                    shard_object(&coordinator, i as u32, shards),
                    batch,
                )
                .await?;
            }
            txn.handle()
                .execute(vec![
                    Statement::new(format!("DELETE FROM {}", quote_ident(table))),
                    Statement::with_params(
                        "INSERT INTO _pg_dist_partition (tbl, method, col, typ, shard_count, colocationid) VALUES (?1, 'h', ?2, ?3, ?4, ?4)",
                        vec![
                            Value::Text(table.to_owned()),
                            Value::Text(column.to_owned()),
                            Value::Text(ty.catalog_key()),
                            Value::Integer(i64::from(shards)),
                        ],
                    ),
                ])
                .await?;
            Ok::<(), SqlError>(())
        };
        let result = work.await;
        self.end_locked(txn, result).await
    }

    pub(super) async fn create_reference(&mut self, table: &str) -> Result<(), SqlError> {
        self.refuse_in_block()?;
        let (_, cat) = self.catalog().await?;
        let groups = cat.distribution().groups();
        let backend = self.server.backend.clone();
        let (coordinator, db_name) = (self.coordinator(), self.db.name.clone());
        let mut txn = Txn::Locking(backend.begin(&coordinator).await?);
        let work = async {
            let copy = read_tables(&mut txn, &[table.to_owned()]).await?;
            for &n in &groups {
                for i in 0..n {
                    let mut batch = shard_setup(&db_name, &[&copy[0]]);
                    batch.extend(insert_rows(table, &copy[0].rows, false));
                    load(&backend, shard_object(&coordinator, i, n), batch).await?;
                }
            }
            txn.handle()
                .execute(vec![Statement::with_params(
                    "INSERT INTO _pg_dist_partition (tbl, method, col, typ, shard_count, colocationid) VALUES (?1, 'n', NULL, NULL, 0, 0)",
                    vec![Value::Text(table.to_owned())],
                )])
                .await?;
            Ok::<(), SqlError>(())
        };
        let result = work.await;
        self.end_locked(txn, result).await
    }

    /// Commit the coordinator's locking transaction if `result` is Ok, else roll it back;
    /// then reload the catalog.
    async fn end_locked(&mut self, txn: Txn, result: Result<(), SqlError>) -> Result<(), SqlError> {
        let handle = txn.into_handle();
        match result {
            Ok(()) => handle.commit().await?,
            Err(e) => {
                let _ = handle.rollback().await;
                return Err(e);
            }
        }
        self.db.reload(&self.server.backend).await
    }

    /// Bring a table's rows back into the coordinator and drop its shard copies.
    pub(super) async fn undistribute(&mut self, table: &str) -> Result<(), SqlError> {
        self.refuse_in_block()?;
        let (_, cat) = self.catalog().await?;
        let meta = cat.distribution().clone();
        let Some(kind) = meta.get(table).cloned() else {
            return Ok(());
        };
        let objects: Vec<ObjectId> = match &kind {
            Kind::Hash { shards, .. } => (0..*shards)
                .map(|i| shard_object(&self.db.object, i, *shards))
                .collect(),
            Kind::Reference => meta
                .groups()
                .iter()
                .flat_map(|&n| (0..n).map(move |i| (i, n)))
                .map(|(i, n)| shard_object(&self.db.object, i, n))
                .collect(),
        };
        let mut coordinator_batch = Vec::new();
        if matches!(kind, Kind::Hash { .. }) {
            for o in &objects {
                let r = self
                    .server
                    .backend
                    .execute(
                        o,
                        vec![Statement::new(format!(
                            "SELECT * FROM {}",
                            quote_ident(table)
                        ))],
                    )
                    .await?;
                if let Some(r) = r.first() {
                    coordinator_batch.extend(insert_rows(table, &r.rows, false));
                }
            }
        }
        coordinator_batch.push(Statement::with_params(
            "DELETE FROM _pg_dist_partition WHERE tbl = ?1",
            vec![Value::Text(table.to_owned())],
        ));
        load(
            &self.server.backend.clone(),
            self.coordinator(),
            coordinator_batch,
        )
        .await?;
        let mut drop = vec![Statement::new(format!(
            "DROP TABLE IF EXISTS {}",
            quote_ident(table)
        ))];
        for (t, _) in CATALOG_TABLES
            .iter()
            .filter(|(t, _)| *t != "_pg_namespaces")
        {
            drop.push(Statement::with_params(
                format!("DELETE FROM {t} WHERE tbl = ?1"),
                vec![Value::Text(table.to_owned())],
            ));
        }
        for o in objects {
            self.server.backend.execute(&o, drop.clone()).await?;
        }
        self.db.reload(&self.server.backend).await
    }

    /// COPY rows for a distributed or reference table: split by shard (or copied to every
    /// object), each object's share one batch.
    pub(crate) async fn copy_routed(
        &mut self,
        table: &str,
        columns: &[String],
        kind: &Kind,
        groups: &[u32],
        rows: Vec<Vec<Value>>,
    ) -> Result<(), SqlError> {
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let stmts = |rows: &[Vec<Value>]| -> Vec<Statement> {
            insert_rows(table, rows, false)
                .into_iter()
                .map(|mut s| {
                    s.sql = s
                        .sql
                        .replacen(
                            &format!("INTO {} VALUES", quote_ident(table)),
                            &format!("INTO {} ({}) VALUES", quote_ident(table), cols.join(", ")),
                            1,
                        )
                        .into();
                    s
                })
                .collect()
        };
        let mut jobs: Vec<(ObjectId, Vec<Statement>)> = Vec::new();
        match kind {
            Kind::Hash { column, ty, shards } => {
                let pos = columns.iter().position(|c| c == column).ok_or_else(|| {
                    SqlError::new(
                        code::FEATURE_NOT_SUPPORTED,
                        "cannot perform an INSERT without a partition column value",
                    )
                })?;
                let mut slices: Vec<Vec<Vec<Value>>> = vec![Vec::new(); *shards as usize];
                for row in rows {
                    let Some(s) = citus::shard_of(*ty, &row[pos], *shards) else {
                        return Err(SqlError::new(
                            "22004",
                            "cannot perform an INSERT with NULL in the partition column",
                        ));
                    };
                    slices[s as usize].push(row);
                }
                for (i, slice) in slices.iter().enumerate() {
                    if !slice.is_empty() {
                        jobs.push((
                            shard_object(&self.db.object, i as u32, *shards),
                            stmts(slice),
                        ));
                    }
                }
            }
            Kind::Reference => {
                let batch = stmts(&rows);
                jobs.push((self.coordinator(), batch.clone()));
                for &n in groups {
                    for i in 0..n {
                        jobs.push((shard_object(&self.db.object, i, n), batch.clone()));
                    }
                }
            }
        }
        let backend = self.server.backend.clone();
        dotdo_shard::scatter_gather(jobs.clone(), jobs.len(), |(o, b)| {
            let backend = backend.clone();
            async move { backend.dry_run(&o, b).await }
        })
        .await?;
        dotdo_shard::scatter_gather(jobs.clone(), jobs.len(), |(o, b)| {
            let backend = backend.clone();
            async move { backend.execute(&o, b).await }
        })
        .await?;
        Ok(())
    }

    /// An ALTER TABLE that rebuilds the table: on every shard object in a discarded run, then
    /// on the coordinator, then on every shard object.
    pub(super) async fn rebuild(
        &mut self,
        r: &dotdo_sql::alter::Rebuild,
        groups: &[u32],
    ) -> Result<(), SqlError> {
        self.refuse_in_block()?;
        let backend = self.server.backend.clone();
        let shards: Vec<ObjectId> = groups
            .iter()
            .flat_map(|&n| (0..n).map(move |i| (i, n)))
            .map(|(i, n)| shard_object(&self.db.object, i, n))
            .collect();
        let batch_for = |schema: Vec<StatementResult>| dotdo_sql::alter::rebuild_batch(r, &schema);
        let mut batches = Vec::with_capacity(shards.len());
        for o in &shards {
            let schema = backend
                .execute(o, dotdo_sql::alter::read_schema(&r.table))
                .await?;
            let batch = batch_for(schema.clone())?;
            backend
                .dry_run(o, batch.clone())
                .await
                .map_err(|e| dotdo_sql::alter::rebuild_error(r, &schema, e.into()))?;
            batches.push(batch);
        }
        let coordinator = self.db.object.clone();
        let schema = backend
            .execute(&coordinator, dotdo_sql::alter::read_schema(&r.table))
            .await?;
        let batch = batch_for(schema.clone())?;
        let applied = backend.execute(&coordinator, batch).await;
        if let Err(e) = applied {
            return Err(dotdo_sql::alter::rebuild_error(r, &schema, e.into()));
        }
        for (o, batch) in shards.iter().zip(batches) {
            backend.execute(o, batch).await?;
        }
        self.db.reload(&backend).await
    }
}
