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

mod block;
mod merge;
mod setup;

use dotdo_backend::{ObjectId, Statement, StatementResult, Value};
use dotdo_sql::citus::{self, Action, Distributed, Merge, SortKey};
use dotdo_sql::translate::quote_ident;
use dotdo_sql::{Query, SqlError, code};

pub(crate) use block::BlockShards;
use merge::compare_rows;
use setup::insert_rows;

use crate::session::{Outcome, Session};

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

/// Rows as COPY TO STDOUT sends them.
fn copy_out(rows: Outcome, options: &dotdo_sql::CopyOptions) -> Result<Outcome, SqlError> {
    let Outcome::Rows { fields, rows, .. } = rows else {
        return Err(SqlError::new(
            code::INTERNAL_ERROR,
            "COPY query returned no rows",
        ));
    };
    let types: Vec<dotdo_sql::PgType> = fields.iter().map(|f| f.1).collect();
    let mut lines = Vec::with_capacity(rows.len() + 1);
    if options.header {
        let names: Vec<String> = fields.iter().map(|f| f.0.clone()).collect();
        lines.push(format!("{}\n", names.join(&options.delimiter.to_string())));
    }
    lines.extend(
        rows.iter()
            .map(|r| crate::copy::format_row(r, &types, options)),
    );
    Ok(Outcome::CopyOut {
        lines,
        columns: fields.len(),
    })
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
            Action::PinnedAll { shards, keys } => {
                let picked: Vec<u32> = keys
                    .iter()
                    .map(|k| k.shard(&params, *shards).unwrap_or(0))
                    .collect();
                let shard = picked.first().copied().unwrap_or(0);
                if picked.iter().any(|&s| s != shard) {
                    return Err(refused(
                        "the subqueries of this query pin different shards: run them separately",
                    ));
                }
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
            Action::Rebuild { rebuild, groups } => {
                self.rebuild(rebuild, groups).await?;
                Ok(Outcome::Command("ALTER TABLE".into()))
            }
            Action::CopyOut { options, inner } => {
                let select = Distributed {
                    local: d.local.clone(),
                    action: inner.as_ref().clone(),
                };
                let rows = Box::pin(self.run_distributed(&select, params, false)).await?;
                copy_out(rows, options)
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
        if !tolerant && !objects.is_empty() {
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
}
