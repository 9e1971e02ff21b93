//! Citus distributed and reference tables on shard objects: running the plans of
//! `dotdo_sql::citus` (routing, fan-out and merge, DDL everywhere, moving rows).
//!
//! Objects: the coordinator is the database's `main` object (`pg/<db>`); shard `i` of a
//! group of `n` is `pg/<db>` / `shard-<i>-of-<n>`. Every distributed table with `n` shards
//! lives in the same `n` objects (so tables with equal shard counts are co-located), each
//! object holding its slice of the rows, the table's DDL and its own catalog rows, and a full
//! copy of every reference table. Combining partial aggregates runs in a discarded batch on
//! `pg/<db>` / `merge`, an object that holds nothing.
//!
//! What is atomic: a statement on one shard (pinned SELECT/UPDATE/DELETE, an INSERT whose
//! rows fall on one shard) is one batch on one object. A transaction block may read any
//! objects and write at most one: a write to a second object fails with 0A000, so a block
//! never commits half; at COMMIT the objects it only read are validated (committed) first,
//! then the one it wrote. Statements that write several objects (a fan-out UPDATE/DELETE, a
//! multi-shard INSERT, writes to reference tables, DDL, COPY) run outside blocks only
//! (refused inside one); they are dry-run on every shard first, so a deterministic error
//! (constraint, type) changes nothing, and then applied shard by shard: a crash or a
//! concurrent change between the two can leave the statement applied on some shards only.

use std::cmp::Ordering;

use dotdo_backend::replay::ReplayTransaction;
use dotdo_backend::{ObjectId, SharedBackend, Statement, StatementResult, Value};
use dotdo_sql::citus::{self, Action, Distributed, Kind, Merge, SortKey};
use dotdo_sql::translate::quote_ident;
use dotdo_sql::{Query, SqlError, catalog, code};

use crate::TransactionMode;
use crate::session::{Outcome, Session, Txn};

/// The object of shard `index` of a group of `shards`, in `coordinator`'s namespace.
pub fn shard_object(coordinator: &ObjectId, index: u32, shards: u32) -> ObjectId {
    ObjectId::new(
        coordinator.namespace.clone(),
        format!("shard-{index}-of-{shards}"),
    )
}

fn scratch_object(coordinator: &ObjectId) -> ObjectId {
    ObjectId::new(coordinator.namespace.clone(), "merge")
}

fn refused(what: &str) -> SqlError {
    SqlError::unsupported(what.to_owned())
}

const ONE_WRITER: &str = "a transaction block can write to only one shard: dotdo cannot commit writes on several objects atomically";
const NOT_IN_BLOCK: &str = "statements that write several shards (multi-shard writes, writes to reference tables, DDL and COPY on distributed tables, create_distributed_table) cannot run inside a transaction block";

/// A shard object a transaction block has used.
pub(crate) struct Participant {
    object: ObjectId,
    txn: Txn,
    wrote: bool,
}

/// A block's shard objects, beside the coordinator's own transaction.
#[derive(Default)]
pub(crate) struct BlockShards {
    participants: Vec<Participant>,
    /// The coordinator's transaction has written.
    pub(crate) coordinator_wrote: bool,
}

impl BlockShards {
    pub(crate) fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    pub(crate) fn any_wrote(&self) -> bool {
        self.participants.iter().any(|p| p.wrote)
    }

    /// End the block: the objects only read are committed (validated) before the one
    /// written, so a failed validation leaves nothing written.
    pub(crate) async fn finish(&mut self, commit: bool) -> Result<(), SqlError> {
        self.coordinator_wrote = false;
        let mut all = std::mem::take(&mut self.participants);
        all.sort_by_key(|p| p.wrote);
        let mut result = Ok(());
        for p in all {
            let handle = p.txn.into_handle();
            if commit && result.is_ok() {
                if let Err(e) = handle.commit().await {
                    result = Err(SqlError::from(e));
                }
            } else {
                let _ = handle.rollback().await;
            }
        }
        result
    }
}

/// SQLite's ordering of two values of one column: NULL, numbers, text, blobs.
fn compare(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Integer(_) | Value::Real(_) => 1,
            Value::Text(_) => 2,
            Value::Blob(_) => 3,
        }
    }
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Integer(x), Value::Real(y)) => (*x as f64).total_cmp(y),
        (Value::Real(x), Value::Integer(y)) => x.total_cmp(&(*y as f64)),
        (Value::Real(x), Value::Real(y)) => x.total_cmp(y),
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Blob(x), Value::Blob(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn compare_rows(a: &[Value], b: &[Value], keys: &[(usize, &SortKey)]) -> Ordering {
    for (col, k) in keys {
        let (x, y) = (&a[*col], &b[*col]);
        let ord = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) if k.nulls_first => Ordering::Less,
            (true, false) => Ordering::Greater,
            (false, true) if k.nulls_first => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) if k.desc => compare(y, x),
            (false, false) => compare(x, y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Multi-row INSERTs of `rows` into `table`, each within the bound-parameter limit.
fn insert_rows(table: &str, rows: &[Vec<Value>], or_replace: bool) -> Vec<Statement> {
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

/// The one empty row of a Citus function, in its named column.
fn void(d: &Distributed) -> Outcome {
    let name = d
        .local
        .columns
        .as_ref()
        .and_then(|c| c.first())
        .map_or(citus::CALL_COLUMN, |c| c.name.as_str());
    crate::session::void_row(name)
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

const CATALOG_TABLES: [&str; 3] = ["_pg_columns", "_pg_checks", "_pg_fkeys"];

fn read_table_batch(table: &str) -> Vec<Statement> {
    let name = Value::Text(table.to_owned());
    let mut out = vec![Statement::with_params(
        "SELECT sql FROM sqlite_schema WHERE tbl_name = ?1 AND sql IS NOT NULL ORDER BY type <> 'table'",
        vec![name.clone()],
    )];
    for t in CATALOG_TABLES {
        out.push(Statement::with_params(
            format!("SELECT * FROM {t} WHERE tbl = ?1"),
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
        .map(|(t, res)| (*t, res.rows))
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
        for t in CATALOG_TABLES {
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
    fn coordinator(&self) -> ObjectId {
        self.db.object.clone()
    }

    pub(crate) async fn run_distributed(
        &mut self,
        d: &Distributed,
        params: Vec<Value>,
        static_types: bool,
    ) -> Result<Outcome, SqlError> {
        match &d.action {
            Action::CreateDistributed {
                table,
                column,
                ty,
                shard_count,
            } => {
                let shards = shard_count.unwrap_or(self.server.config.shard_count);
                self.create_distributed(table, column, *ty, shards).await?;
                Ok(void(d))
            }
            Action::CreateReference { table } => {
                self.create_reference(table).await?;
                Ok(void(d))
            }
            Action::Undistribute { table } => {
                self.undistribute(table).await?;
                Ok(void(d))
            }
            Action::Pinned { shards, key } => {
                let shard = key.shard(&params, *shards).unwrap_or(0);
                let object = shard_object(&self.db.object, shard, *shards);
                let result = self.on_object(&object, &d.local, params).await?;
                Ok(self.outcome(&d.local, result, static_types))
            }
            Action::FanOut {
                shards,
                shard,
                merge,
            } => {
                let result = self.fan_out(*shards, shard, merge, &params).await?;
                Ok(self.outcome(&d.local, result, static_types))
            }
            Action::Insert { shards, rows } => {
                let result = self.insert(*shards, rows, &params).await?;
                Ok(self.outcome(&d.local, result, static_types))
            }
            Action::Everywhere {
                groups,
                forget,
                tolerant,
            } => {
                let result = self
                    .everywhere(&d.local, params, groups, forget, *tolerant)
                    .await?;
                Ok(self.outcome(&d.local, result, static_types))
            }
        }
    }

    /// The block's transaction on a shard object, opened on first use; `write` claims the
    /// block's one writable object.
    async fn participant(
        &mut self,
        object: &ObjectId,
        write: bool,
        batch: &[Statement],
    ) -> Result<&mut Txn, SqlError> {
        if write
            && (self.shards.coordinator_wrote
                || self
                    .shards
                    .participants
                    .iter()
                    .any(|p| p.wrote && p.object != *object))
        {
            return Err(refused(ONE_WRITER));
        }
        if self.has_savepoints {
            return Err(refused(
                "savepoints are not supported in a transaction block that uses distributed tables",
            ));
        }
        let found = self
            .shards
            .participants
            .iter()
            .position(|p| p.object == *object);
        let pos = match found {
            Some(i) => i,
            None => {
                let backend = self.server.backend.clone();
                let txn = match self.server.config.transactions {
                    TransactionMode::Optimistic => Txn::Replay(ReplayTransaction::new(
                        self.server.backend.clone(),
                        object.clone(),
                    )),
                    TransactionMode::Locking => Txn::Locking(backend.begin(object).await?),
                };
                self.shards.participants.push(Participant {
                    object: object.clone(),
                    txn,
                    wrote: false,
                });
                self.shards.participants.len() - 1
            }
        };
        let p = &mut self.shards.participants[pos];
        p.wrote |= write;
        // As on the coordinator: random values cannot be replayed, and a long block would
        // replay its whole prefix at every statement.
        let escalate = match &p.txn {
            Txn::Replay(r) => {
                r.len() + batch.len() > crate::session::MAX_REPLAY_STATEMENTS
                    || r.bytes() > crate::session::MAX_REPLAY_BYTES
                    || batch
                        .iter()
                        .any(|s| dotdo_sql::translate::draws_random(&s.sql))
            }
            Txn::Locking(_) => false,
        };
        if escalate {
            let Txn::Replay(r) = std::mem::replace(
                &mut p.txn,
                Txn::Replay(ReplayTransaction::new(
                    self.server.backend.clone(),
                    object.clone(),
                )),
            ) else {
                return Err(SqlError::new(code::INTERNAL_ERROR, "no transaction"));
            };
            p.txn = Txn::Locking(r.into_locking().await?);
        }
        Ok(&mut p.txn)
    }

    /// Run `batch` on a shard object: in the block's transaction on it, or on its own.
    async fn run_on(
        &mut self,
        object: &ObjectId,
        mut batch: Vec<Statement>,
        write: bool,
    ) -> Result<Vec<StatementResult>, SqlError> {
        if self.in_block {
            self.fix_now(&mut batch);
            let txn = self.participant(object, write, &batch).await?;
            Ok(txn.handle().execute(batch).await?)
        } else {
            Ok(self.server.backend.execute(object, batch).await?)
        }
    }

    /// The local translation of a statement, on one shard object.
    async fn on_object(
        &mut self,
        object: &ObjectId,
        q: &Query,
        params: Vec<Value>,
    ) -> Result<StatementResult, SqlError> {
        let mut batch = q.batch.clone();
        if let Some(main) = batch.get_mut(q.main) {
            main.params = params;
        }
        self.resolve_sequences(&mut batch).await?;
        let mut results = self.run_on(object, batch, !q.read_only).await?;
        Ok(if q.main < results.len() {
            results.swap_remove(q.main)
        } else {
            StatementResult::default()
        })
    }

    /// One statement on every shard of a group: results in shard order.
    async fn on_every_shard(
        &mut self,
        shards: u32,
        stmt: &Statement,
        write: bool,
    ) -> Result<Vec<StatementResult>, SqlError> {
        let objects: Vec<ObjectId> = (0..shards)
            .map(|i| shard_object(&self.db.object, i, shards))
            .collect();
        if self.in_block {
            if write && shards > 1 {
                return Err(refused(NOT_IN_BLOCK));
            }
            let mut out = Vec::with_capacity(objects.len());
            for o in &objects {
                let mut r = self.run_on(o, vec![stmt.clone()], write).await?;
                out.push(r.pop().unwrap_or_default());
            }
            return Ok(out);
        }
        let backend = self.server.backend.clone();
        if write {
            // Deterministic errors first, on every shard, before anything is applied.
            dotdo_shard::scatter_gather(objects.clone(), objects.len(), |o| {
                let (backend, stmt) = (backend.clone(), stmt.clone());
                async move { backend.dry_run(&o, vec![stmt]).await }
            })
            .await?;
        }
        let results = dotdo_shard::scatter_gather(objects.clone(), objects.len(), |o| {
            let (backend, stmt) = (backend.clone(), stmt.clone());
            async move { backend.execute(&o, vec![stmt]).await }
        })
        .await?;
        Ok(results
            .into_iter()
            .map(|mut r| r.pop().unwrap_or_default())
            .collect())
    }

    async fn fan_out(
        &mut self,
        shards: u32,
        shard: &citus::Derived,
        merge: &Merge,
        params: &[Value],
    ) -> Result<StatementResult, SqlError> {
        let stmt = shard.bind(params);
        let write = matches!(merge, Merge::Writes);
        let results = self.on_every_shard(shards, &stmt, write).await?;
        match merge {
            Merge::Writes => {
                let mut out = StatementResult::default();
                for r in results {
                    out.rows_changed += r.rows_changed;
                    if out.columns.is_empty() {
                        out.columns = r.columns;
                    }
                    out.rows.extend(r.rows);
                }
                Ok(out)
            }
            Merge::Rows {
                order,
                hidden,
                offset,
                limit,
            } => {
                let columns = results
                    .first()
                    .map(|r| r.columns.clone())
                    .unwrap_or_default();
                let width = columns.len();
                if results.iter().any(|r| r.columns.len() != width) {
                    return Err(SqlError::new(
                        code::INTERNAL_ERROR,
                        "the shards of a distributed table answered with different columns",
                    ));
                }
                let visible = width.saturating_sub(*hidden);
                let (offset, limit) = (offset.value(params), limit.value(params));
                let take = limit.map(|l| (l + offset.unwrap_or(0)) as usize);
                let runs: Vec<Vec<Vec<Value>>> = results.into_iter().map(|r| r.rows).collect();
                let rows: Vec<Vec<Value>> = if order.is_empty() {
                    runs.into_iter().flatten().collect()
                } else {
                    let keys: Vec<(usize, &SortKey)> = order
                        .iter()
                        .map(|k| {
                            (
                                if k.hidden {
                                    visible + k.column
                                } else {
                                    k.column
                                },
                                k,
                            )
                        })
                        .filter(|(c, _)| *c < width)
                        .collect();
                    dotdo_shard::merge_sorted(runs, take, |a: &Vec<Value>, b: &Vec<Value>| {
                        compare_rows(a, b, &keys)
                    })
                };
                let rows = rows
                    .into_iter()
                    .skip(offset.unwrap_or(0) as usize)
                    .take(limit.map_or(usize::MAX, |l| l as usize))
                    .map(|mut r| {
                        r.truncate(visible);
                        r
                    })
                    .collect();
                Ok(StatementResult {
                    columns: columns.into_iter().take(visible).collect(),
                    rows,
                    ..Default::default()
                })
            }
            Merge::Combine { names, combine } => {
                let names: Vec<String> = names.iter().map(|n| quote_ident(n)).collect();
                let mut batch = vec![Statement::new(format!(
                    "CREATE TABLE _citus_partials ({})",
                    names.join(", ")
                ))];
                let rows: Vec<Vec<Value>> = results.into_iter().flat_map(|r| r.rows).collect();
                batch.extend(insert_rows("_citus_partials", &rows, false));
                batch.push(combine.bind(params));
                let mut out = self
                    .server
                    .backend
                    .dry_run(&scratch_object(&self.db.object), batch)
                    .await?;
                Ok(out.pop().unwrap_or_default())
            }
        }
    }

    async fn insert(
        &mut self,
        shards: u32,
        rows: &[citus::RowInsert],
        params: &[Value],
    ) -> Result<StatementResult, SqlError> {
        // Rows by shard, each remembering its place for RETURNING.
        let mut by_shard: Vec<(u32, Vec<usize>, Vec<Statement>)> = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let Some(shard) = row.key.shard(params, shards) else {
                return Err(SqlError::new(
                    "22004",
                    "cannot perform an INSERT with NULL in the partition column",
                ));
            };
            let mut stmt = vec![row.insert.bind(params)];
            self.resolve_sequences(&mut stmt).await?;
            match by_shard.iter_mut().find(|(s, _, _)| *s == shard) {
                Some((_, idx, batch)) => {
                    idx.push(i);
                    batch.extend(stmt);
                }
                None => by_shard.push((shard, vec![i], stmt)),
            }
        }
        let mut placed: Vec<Option<StatementResult>> = vec![None; rows.len()];
        if by_shard.len() == 1 || self.in_block {
            if by_shard.len() > 1 {
                return Err(refused(
                    "a multi-row INSERT whose rows fall on several shards cannot run inside a transaction block",
                ));
            }
            for (shard, idx, batch) in by_shard {
                let object = shard_object(&self.db.object, shard, shards);
                let results = self.run_on(&object, batch, true).await?;
                for (i, r) in idx.into_iter().zip(results) {
                    placed[i] = Some(r);
                }
            }
        } else {
            let backend = self.server.backend.clone();
            let coordinator = self.db.object.clone();
            let jobs: Vec<(ObjectId, Vec<Statement>)> = by_shard
                .iter()
                .map(|(s, _, b)| (shard_object(&coordinator, *s, shards), b.clone()))
                .collect();
            dotdo_shard::scatter_gather(jobs.clone(), jobs.len(), |(o, b)| {
                let backend = backend.clone();
                async move { backend.dry_run(&o, b).await }
            })
            .await?;
            let results = dotdo_shard::scatter_gather(jobs.clone(), jobs.len(), |(o, b)| {
                let backend = backend.clone();
                async move { backend.execute(&o, b).await }
            })
            .await?;
            for ((_, idx, _), res) in by_shard.into_iter().zip(results) {
                for (i, r) in idx.into_iter().zip(res) {
                    placed[i] = Some(r);
                }
            }
        }
        let mut out = StatementResult::default();
        for r in placed.into_iter().flatten() {
            out.rows_changed += r.rows_changed;
            if out.columns.is_empty() {
                out.columns = r.columns;
            }
            out.rows.extend(r.rows);
        }
        Ok(out)
    }

    /// A statement on the coordinator and then on every shard object of `groups`.
    async fn everywhere(
        &mut self,
        q: &Query,
        params: Vec<Value>,
        groups: &[u32],
        forget: &[String],
        tolerant: bool,
    ) -> Result<StatementResult, SqlError> {
        if self.in_block {
            return Err(refused(NOT_IN_BLOCK));
        }
        let mut batch = q.batch.clone();
        if let Some(main) = batch.get_mut(q.main) {
            main.params = params;
        }
        if !q.ddl {
            if batch
                .iter()
                .any(|s| dotdo_sql::translate::draws_random(&s.sql))
            {
                return Err(refused(
                    "random values cannot be written to a reference table: each copy would draw its own",
                ));
            }
            self.resolve_sequences(&mut batch).await?;
        }
        let at = dotdo_sql::datetime::utc_now_text();
        for s in &mut batch {
            if let Some(sql) = dotdo_sql::translate::fix_now(&s.sql, &at) {
                s.sql = sql.into();
            }
        }
        let backend = self.server.backend.clone();
        let objects: Vec<ObjectId> = groups
            .iter()
            .flat_map(|&n| (0..n).map(move |i| (i, n)))
            .map(|(i, n)| shard_object(&self.db.object, i, n))
            .collect();
        if !q.ddl && !tolerant && !objects.is_empty() {
            dotdo_shard::scatter_gather(objects.clone(), objects.len(), |o| {
                let (backend, batch) = (backend.clone(), batch.clone());
                async move { backend.dry_run(&o, batch).await }
            })
            .await?;
        }
        let mut coordinator_batch = batch.clone();
        for t in forget {
            coordinator_batch.push(Statement::with_params(
                "DELETE FROM _pg_dist_partition WHERE tbl = ?1",
                vec![Value::Text(t.clone())],
            ));
        }
        let mut results = backend
            .execute(&self.coordinator(), coordinator_batch)
            .await?;
        let shard_results = dotdo_shard::scatter_gather(objects.clone(), objects.len(), |o| {
            let (backend, batch) = (backend.clone(), batch.clone());
            async move {
                match backend.execute(&o, batch).await {
                    Err(e) if tolerant && e.to_string().contains("no such") => Ok(Vec::new()),
                    other => other,
                }
            }
        })
        .await;
        if q.ddl || !forget.is_empty() {
            self.db.reload(&self.server.backend).await?;
        }
        if let Err(e) = shard_results {
            tracing::error!(error = %e, "a statement applied on the coordinator failed on a shard");
            return Err(SqlError::from(e));
        }
        Ok(if q.main < results.len() {
            results.swap_remove(q.main)
        } else {
            StatementResult::default()
        })
    }

    fn refuse_in_block(&self) -> Result<(), SqlError> {
        if self.in_block {
            Err(refused(NOT_IN_BLOCK))
        } else {
            Ok(())
        }
    }

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

    async fn create_distributed(
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

    async fn create_reference(&mut self, table: &str) -> Result<(), SqlError> {
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
    async fn undistribute(&mut self, table: &str) -> Result<(), SqlError> {
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
        for t in CATALOG_TABLES {
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
}
