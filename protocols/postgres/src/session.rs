//! A connection's session: its database, transaction block state, settings and COPY state,
//! and the execution of translated plans on the database's object.

use std::collections::HashMap;
use std::sync::Arc;

use dotdo_backend::replay::ReplayTransaction;
use dotdo_backend::{SharedBackend, Statement, StatementResult, Transaction, Value};
use dotdo_sql::sequence::{self, SeqCall};
use dotdo_sql::{Catalog, Context, CopyFrom, OutColumn, PgType, Plan, Query, SqlError, code};
use pgwire::messages::response::TransactionStatus;

use crate::cancel::{self, Registration};
use crate::copy;
use crate::database::Database;
use crate::notify::{Inbox, SessionNotify};
use crate::{Server, TransactionMode};
use dotdo_sql::notify::Arg;

/// What running one plan produced, for the wire layer to send.
pub enum Outcome {
    Rows {
        fields: Vec<(String, PgType)>,
        rows: Vec<Vec<Value>>,
        tag: String,
    },
    Command(String),
    Begin,
    End(&'static str),
    CopyIn {
        columns: usize,
    },
    CopyOut {
        lines: Vec<String>,
        columns: usize,
    },
}

struct CopyIn {
    plan: CopyFrom,
    /// A distributed or reference table's rows go to its shard objects (and the groups of
    /// shard objects that hold reference tables).
    route: Option<(dotdo_sql::citus::Kind, Vec<u32>)>,
    buf: Vec<u8>,
    pending: Vec<Vec<Value>>,
    count: usize,
    skip_header: bool,
    error: Option<SqlError>,
    /// The COPY opened its own transaction (it ran outside a transaction block).
    own_txn: bool,
}

/// Statements and bytes a replayed (optimistic) block may hold before it switches to a
/// locking transaction: each statement replays the whole block, so its cost grows with
/// the square of the length, and a long block is the one most likely to lose a race.
pub(crate) const MAX_REPLAY_STATEMENTS: usize = 64;
pub(crate) const MAX_REPLAY_BYTES: usize = 256 * 1024;

/// The transaction behind a block.
pub(crate) enum Txn {
    /// Optimistic: replay with validation, nothing held on the object.
    Replay(ReplayTransaction),
    /// The backend's own transaction (on the embedded backend, the object's writer).
    Locking(Box<dyn Transaction>),
}

impl Txn {
    pub(crate) fn handle(&mut self) -> &mut dyn Transaction {
        match self {
            Txn::Replay(r) => r,
            Txn::Locking(t) => t.as_mut(),
        }
    }

    pub(crate) fn into_handle(self) -> Box<dyn Transaction> {
        match self {
            Txn::Replay(r) => Box::new(r),
            Txn::Locking(t) => t,
        }
    }
}

pub struct Session {
    pub(crate) server: Arc<Server>,
    pub db: Arc<Database>,
    pub user: String,
    pub pid: i32,
    txn: Option<Txn>,
    /// `now()` for the open block: the time of its first statement, as PostgreSQL's
    /// transaction timestamp (and so that a replayed block answers the same at commit).
    txn_time: Option<String>,
    pub(crate) in_block: bool,
    failed: bool,
    /// The block's transactions on shard objects (distributed tables).
    pub(crate) shards: crate::distributed::BlockShards,
    /// The block has used savepoints, which do not reach shard objects.
    pub(crate) has_savepoints: bool,
    settings: HashMap<String, String>,
    /// Settings the client gave at startup: what RESET returns to.
    startup: HashMap<String, String>,
    /// Settings as they were before the open block changed them: ROLLBACK restores these.
    block_undo: HashMap<String, Option<String>>,
    /// Settings as they were before SET LOCAL: the end of the block restores these.
    local_undo: HashMap<String, Option<String>>,
    copy: Option<CopyIn>,
    /// `currval` of each sequence this session called `nextval` (or `setval`) on.
    currval: HashMap<String, i64>,
    /// `lastval`: the value the session's last `nextval` returned.
    lastval: Option<i64>,
    /// The last value each sequence gave the open block's INSERTs (kept if it rolls back).
    block_draws: HashMap<String, i64>,
    /// A ROLLBACK TO SAVEPOINT may have undone some of `block_draws`.
    draws_undone: bool,
    /// LISTEN/NOTIFY state.
    pub notify: SessionNotify,
    /// This connection's entry for cancel requests.
    cancel: Registration,
}

fn default_setting(name: &str) -> Option<&'static str> {
    Some(match name {
        "server_version" => dotdo_sql::translate::SERVER_VERSION,
        "server_version_num" => "150008",
        "server_encoding" | "client_encoding" => "UTF8",
        "datestyle" => "ISO, MDY",
        "intervalstyle" => "postgres",
        "timezone" => "UTC",
        "integer_datetimes" | "standard_conforming_strings" => "on",
        "search_path" => "\"$user\", public",
        "transaction_isolation" | "default_transaction_isolation" => "serializable",
        "transaction_read_only" | "default_transaction_read_only" => "off",
        "max_connections" => "100",
        "max_identifier_length" => "63",
        "lc_collate" | "lc_ctype" => "C",
        "application_name" => "",
        "statement_timeout" | "lock_timeout" | "idle_in_transaction_session_timeout" => "0",
        "block_size" => "8192",
        _ => return None,
    })
}

impl Session {
    pub fn new(
        server: Arc<Server>,
        database: &str,
        user: &str,
        pid: i32,
        inbox: Arc<Inbox>,
        cancel: Registration,
    ) -> Self {
        let db = server.databases.get(database);
        Self {
            notify: SessionNotify::new(server.notifier.clone(), inbox, &db.name, pid),
            cancel,
            db,
            server,
            user: user.to_owned(),
            pid,
            txn: None,
            txn_time: None,
            in_block: false,
            failed: false,
            shards: Default::default(),
            has_savepoints: false,
            settings: HashMap::new(),
            startup: HashMap::new(),
            block_undo: HashMap::new(),
            local_undo: HashMap::new(),
            copy: None,
            currval: HashMap::new(),
            lastval: None,
            block_draws: HashMap::new(),
            draws_undone: false,
        }
    }

    fn backend(&self) -> &SharedBackend {
        &self.server.backend
    }

    pub fn status(&self) -> TransactionStatus {
        match (self.in_block, self.failed) {
            (false, _) => TransactionStatus::Idle,
            (true, true) => TransactionStatus::Error,
            (true, false) => TransactionStatus::Transaction,
        }
    }

    /// The catalog; inside a transaction it is read through the transaction, since the
    /// transaction holds the object's writer and may hold uncommitted DDL.
    pub async fn catalog(&mut self) -> Result<(u64, Arc<Catalog>), SqlError> {
        if let Some(c) = self.db.cached() {
            return Ok(c);
        }
        let db = self.db.clone();
        // A replayed block holds no DDL (DDL makes it lock), so only a locking one can see
        // a catalog the object's committed one is not.
        if let Some(Txn::Locking(txn)) = self.txn.as_mut() {
            db.reload_in(txn.as_mut()).await?;
            if let Some(c) = db.cached() {
                return Ok(c);
            }
        }
        db.catalog(self.backend()).await
    }

    /// A `search_path` the client set at startup: as a parameter of its own (JDBC's
    /// `currentSchema`) or in `options` (`-c search_path=app`, libpq's `options`).
    pub fn startup_settings(&mut self, search_path: Option<&str>, options: Option<&str>) {
        let path = search_path
            .map(str::to_owned)
            .or_else(|| options.and_then(dotdo_sql::namespace::options_search_path));
        if let Some(p) = path {
            let p = dotdo_sql::namespace::normalize_path(&p);
            self.settings.insert("search_path".into(), p.clone());
            self.startup.insert("search_path".into(), p);
        }
    }

    /// The `search_path` setting: translations made under another one name other tables.
    pub fn search_path(&self) -> &str {
        self.settings
            .get("search_path")
            .map_or(dotdo_sql::namespace::DEFAULT_PATH, String::as_str)
    }

    pub fn translate(&self, sql: &str, catalog: &Catalog) -> Result<Plan, SqlError> {
        let ctx = Context {
            database: &self.db.name,
            user: &self.user,
            backend_pid: self.pid,
            search_path: self.search_path(),
        };
        if let Some(plan) = dotdo_sql::citus::plan(sql, catalog, &ctx) {
            return plan;
        }
        dotdo_sql::translate(sql, catalog, &ctx)
    }

    /// Run a plan; an error inside a transaction block fails the block.
    pub async fn run(
        &mut self,
        plan: &Plan,
        params: Vec<Value>,
        static_types: bool,
    ) -> Result<Outcome, SqlError> {
        let aborts_ok = matches!(plan, Plan::Commit | Plan::Rollback | Plan::RollbackTo(_));
        if self.failed && !aborts_ok {
            return Err(SqlError::new(
                code::IN_FAILED_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        let result = if self.cancellable(plan) {
            let canceled = self.cancel.slot.start();
            tokio::select! {
                result = self.run_inner(plan, params, static_types) => result,
                Ok(()) = canceled => Err(cancel::canceled()),
            }
        } else {
            self.run_inner(plan, params, static_types).await
        };
        if result.is_err() && self.in_block {
            self.failed = true;
        }
        result
    }

    pub fn in_block(&self) -> bool {
        self.in_block
    }

    /// Whether a cancel request may interrupt `plan` halfway: a sleep, a read, or any
    /// statement of a block (which the cancel then fails, so nothing of it commits). A
    /// write outside a block runs to its end, as one whose cancel comes too late.
    fn cancellable(&self, plan: &Plan) -> bool {
        match plan {
            Plan::Sleep { .. } => true,
            Plan::Query(q) => q.read_only || self.in_block,
            Plan::Distributed(d) => d.read_only() || self.in_block,
            _ => false,
        }
    }

    /// Open the implicit transaction of a multi-statement Query.
    pub fn begin_implicit(&mut self) {
        self.in_block = true;
    }

    /// Close the implicit transaction: commit when every statement succeeded.
    pub async fn end_implicit(&mut self, commit: bool) -> Result<(), SqlError> {
        self.finish_txn(commit).await
    }

    /// An error outside `run` (translation, parameters) also fails an open block.
    pub fn fail_block(&mut self) {
        if self.in_block {
            self.failed = true;
        }
    }

    async fn ensure_txn(&mut self) -> Result<&mut dyn Transaction, SqlError> {
        if self.txn.is_none() {
            let txn = match self.server.config.transactions {
                TransactionMode::Optimistic => Txn::Replay(ReplayTransaction::new(
                    self.backend().clone(),
                    self.db.object.clone(),
                )),
                TransactionMode::Locking => {
                    Txn::Locking(self.backend().begin(&self.db.object).await?)
                }
            };
            self.txn = Some(txn);
        }
        self.txn
            .as_mut()
            .map(Txn::handle)
            .ok_or_else(|| SqlError::new(code::INTERNAL_ERROR, "no transaction"))
    }

    /// The block's transaction, switched to a locking one if it is replayed and `batch`
    /// (with `ddl` when it changes the schema, or when `force`) should not be replayed.
    async fn locking_txn_for(
        &mut self,
        batch: &[Statement],
        ddl: bool,
        force: bool,
    ) -> Result<&mut dyn Transaction, SqlError> {
        self.ensure_txn().await?;
        let escalate = match &self.txn {
            Some(Txn::Replay(r)) => {
                force
                    || ddl
                    || r.len() + batch.len() > MAX_REPLAY_STATEMENTS
                    || r.bytes() > MAX_REPLAY_BYTES
                    || batch
                        .iter()
                        .any(|s| dotdo_sql::translate::draws_random(&s.sql))
            }
            _ => false,
        };
        if escalate && let Some(Txn::Replay(r)) = self.txn.take() {
            self.txn = Some(Txn::Locking(r.into_locking().await?));
        }
        self.ensure_txn().await
    }

    /// Fix the clock of `batch` to the block's start.
    pub(crate) fn fix_now(&mut self, batch: &mut [Statement]) {
        let at = self
            .txn_time
            .get_or_insert_with(dotdo_sql::datetime::utc_now_text);
        for s in batch {
            if let Some(sql) = dotdo_sql::translate::fix_now_param(&s.sql, s.params.len() + 1) {
                s.sql = sql.into();
                s.params.push(Value::Text(at.clone()));
            } else if let Some(sql) = dotdo_sql::translate::fix_now(&s.sql, at) {
                s.sql = sql.into();
            }
        }
    }

    /// Change a setting as PostgreSQL does: a block's changes end with its ROLLBACK, SET
    /// LOCAL's with the block, and SET LOCAL outside a block does nothing.
    fn change_setting(&mut self, name: &str, value: Option<String>, local: bool) {
        if local && !self.in_block {
            return;
        }
        let old = self.settings.get(name).cloned();
        if self.in_block {
            self.block_undo
                .entry(name.to_owned())
                .or_insert_with(|| old.clone());
            if local {
                self.local_undo.entry(name.to_owned()).or_insert(old);
            }
        }
        match value {
            Some(v) => self.settings.insert(name.to_owned(), v),
            None => self.settings.remove(name),
        };
    }

    fn end_settings(&mut self, commit: bool) {
        let block = std::mem::take(&mut self.block_undo);
        let local = std::mem::take(&mut self.local_undo);
        for (name, value) in if commit { local } else { block } {
            match value {
                Some(v) => self.settings.insert(name, v),
                None => self.settings.remove(&name),
            };
        }
    }

    async fn finish_txn(&mut self, commit: bool) -> Result<(), SqlError> {
        self.end_settings(commit);
        self.has_savepoints = false;
        // The object the block wrote commits last: the ones it only read are validated first.
        let shards_first = self.shards.coordinator_wrote;
        if shards_first && let Err(e) = self.shards.finish(commit).await {
            let _ = self.finish_coordinator(false).await;
            return Err(e);
        }
        let result = self.finish_coordinator(commit).await;
        if !shards_first {
            self.shards.finish(commit && result.is_ok()).await?;
        }
        result
    }

    async fn finish_coordinator(&mut self, commit: bool) -> Result<(), SqlError> {
        self.in_block = false;
        self.failed = false;
        self.txn_time = None;
        let Some(txn) = self.txn.take() else {
            self.end_notify(commit);
            return Ok(());
        };
        // Only a locking transaction can hold DDL that a rollback undoes.
        let may_hold_ddl = matches!(txn, Txn::Locking(_));
        let txn = txn.into_handle();
        let draws = std::mem::take(&mut self.block_draws);
        let draws_undone = std::mem::take(&mut self.draws_undone);
        if commit {
            let committed = txn.commit().await;
            self.end_notify(committed.is_ok());
            if committed.is_err() || draws_undone {
                self.keep_draws(&draws).await;
            }
            committed?;
        } else {
            self.end_notify(false);
            txn.rollback().await?;
            if may_hold_ddl {
                self.db.invalidate();
            }
            self.keep_draws(&draws).await;
        }
        Ok(())
    }

    /// The values a block drew from sequences stay taken when it does not commit, as in
    /// PostgreSQL: each sequence moves on to at least the last value the block drew.
    async fn keep_draws(&mut self, draws: &HashMap<String, i64>) {
        if draws.is_empty() {
            return;
        }
        let batch = dotdo_sql::serial::keep_drawn(draws);
        // Best effort: the block's end is what the client hears.
        let _ = self.backend().execute(&self.db.object, batch).await;
    }

    async fn run_inner(
        &mut self,
        plan: &Plan,
        params: Vec<Value>,
        static_types: bool,
    ) -> Result<Outcome, SqlError> {
        match plan {
            Plan::Begin => {
                self.in_block = true;
                Ok(Outcome::Begin)
            }
            Plan::Commit => {
                let failed = self.failed;
                self.finish_txn(!failed).await?;
                Ok(Outcome::End(if failed { "ROLLBACK" } else { "COMMIT" }))
            }
            Plan::Rollback => {
                self.finish_txn(false).await?;
                Ok(Outcome::End("ROLLBACK"))
            }
            Plan::Savepoint(name) => {
                self.require_block("SAVEPOINT")?;
                if !self.shards.is_empty() {
                    return Err(SqlError::unsupported(
                        "savepoints are not supported in a transaction block that uses distributed tables",
                    ));
                }
                self.has_savepoints = true;
                self.ensure_txn()
                    .await?
                    .savepoint(name)
                    .await
                    .map_err(savepoint_error)?;
                Ok(Outcome::Command("SAVEPOINT".into()))
            }
            Plan::Release(name) => {
                self.require_block("RELEASE SAVEPOINT")?;
                self.ensure_txn()
                    .await?
                    .release_savepoint(name)
                    .await
                    .map_err(savepoint_error)?;
                Ok(Outcome::Command("RELEASE".into()))
            }
            Plan::RollbackTo(name) => {
                self.require_block("ROLLBACK TO SAVEPOINT")?;
                let db = self.db.clone();
                self.ensure_txn()
                    .await?
                    .rollback_to_savepoint(name)
                    .await
                    .map_err(savepoint_error)?;
                if let Some(Txn::Locking(txn)) = self.txn.as_mut() {
                    db.reload_in(txn.as_mut()).await?;
                }
                self.draws_undone |= !self.block_draws.is_empty();
                self.failed = false;
                Ok(Outcome::Command("ROLLBACK".into()))
            }
            Plan::Query(q) => {
                let result = self.execute(q, params).await?;
                Ok(self.outcome(q, result, static_types))
            }
            Plan::Distributed(d) => self.run_distributed(d, params, static_types).await,
            Plan::Set { name, value, local } => {
                self.change_setting(name, Some(value.clone()), *local);
                Ok(Outcome::Command("SET".into()))
            }
            Plan::SetConfig {
                name,
                value,
                local,
                column,
            } => {
                self.change_setting(name, Some(value.clone()), *local);
                Ok(Outcome::Rows {
                    fields: vec![(column.clone(), PgType::Text)],
                    rows: vec![vec![Value::Text(value.clone())]],
                    tag: "SELECT".into(),
                })
            }
            Plan::Show(name) => {
                let value = self
                    .settings
                    .get(name)
                    .cloned()
                    .or_else(|| default_setting(name).map(str::to_owned))
                    .ok_or_else(|| {
                        SqlError::new(
                            code::UNDEFINED_OBJECT,
                            format!("unrecognized configuration parameter \"{name}\""),
                        )
                    })?;
                Ok(Outcome::Rows {
                    fields: vec![(name.clone(), PgType::Text)],
                    rows: vec![vec![Value::Text(value)]],
                    tag: "SHOW".into(),
                })
            }
            Plan::Reset(name) => {
                let names: Vec<String> = match name {
                    Some(n) => vec![n.clone()],
                    None => self.settings.keys().cloned().collect(),
                };
                for n in names {
                    let value = self.startup.get(&n).cloned();
                    self.change_setting(&n, value, false);
                }
                Ok(Outcome::Command(if name.is_some() {
                    "RESET".into()
                } else {
                    "DISCARD ALL".into()
                }))
            }
            Plan::CreateDatabase(name) => {
                if self.in_block {
                    return Err(SqlError::new(
                        code::ACTIVE_TRANSACTION,
                        "CREATE DATABASE cannot run inside a transaction block",
                    ));
                }
                let db = self.server.databases.get(name);
                db.catalog(self.backend()).await?;
                Ok(Outcome::Command("CREATE DATABASE".into()))
            }
            Plan::DropDatabase { name, .. } => {
                if *name == self.db.name {
                    return Err(SqlError::new(
                        "55006",
                        "cannot drop the currently open database",
                    ));
                }
                self.server.databases.drop_database(name).await?;
                Ok(Outcome::Command("DROP DATABASE".into()))
            }
            Plan::CopyFrom(c) => {
                let (_, catalog) = self.catalog().await?;
                let meta = catalog.distribution();
                if let Some(kind) = meta.get(&c.table).cloned() {
                    if self.in_block {
                        return Err(SqlError::unsupported(
                            "COPY into a distributed or reference table cannot run inside a transaction block",
                        ));
                    }
                    self.copy = Some(CopyIn {
                        plan: c.clone(),
                        route: Some((kind, meta.groups())),
                        buf: Vec::new(),
                        pending: Vec::new(),
                        count: 0,
                        skip_header: c.options.header,
                        error: None,
                        own_txn: false,
                    });
                    return Ok(Outcome::CopyIn {
                        columns: c.columns.len(),
                    });
                }
                if self.in_block {
                    if self.shards.any_wrote() {
                        return Err(SqlError::unsupported(
                            "a transaction block can write to only one shard: dotdo cannot commit writes on several objects atomically",
                        ));
                    }
                    self.shards.coordinator_wrote = true;
                }
                // COPY loads in batches that a replay would resend at every flush: it locks.
                let own_txn = !self.in_block;
                if own_txn {
                    self.txn = Some(Txn::Locking(self.backend().begin(&self.db.object).await?));
                } else {
                    self.locking_txn_for(&[], false, true).await?;
                }
                self.copy = Some(CopyIn {
                    plan: c.clone(),
                    route: None,
                    buf: Vec::new(),
                    pending: Vec::new(),
                    count: 0,
                    skip_header: c.options.header,
                    error: None,
                    own_txn,
                });
                Ok(Outcome::CopyIn {
                    columns: c.columns.len(),
                })
            }
            Plan::CopyTo(c) => {
                let result = self.execute(&c.query, Vec::new()).await?;
                let Outcome::Rows { fields, rows, .. } = self.outcome(&c.query, result, false)
                else {
                    return Err(SqlError::new(
                        code::INTERNAL_ERROR,
                        "COPY query returned no rows",
                    ));
                };
                let types: Vec<PgType> = fields.iter().map(|f| f.1).collect();
                let mut lines = Vec::with_capacity(rows.len() + 1);
                if c.options.header {
                    let names: Vec<String> = fields.iter().map(|f| f.0.clone()).collect();
                    lines.push(format!(
                        "{}\n",
                        names.join(&c.options.delimiter.to_string())
                    ));
                }
                lines.extend(rows.iter().map(|r| copy::format_row(r, &types, &c.options)));
                Ok(Outcome::CopyOut {
                    lines,
                    columns: fields.len(),
                })
            }
            Plan::Utility(tag) => Ok(Outcome::Command((*tag).into())),
            Plan::AlterSequence(a) => {
                let current = self.run_sequence(vec![sequence::read(&a.name)]).await?;
                let Some(row) = current.first().and_then(|r| r.rows.first()) else {
                    if a.if_exists {
                        return Ok(Outcome::Command("ALTER SEQUENCE".into()));
                    }
                    return Err(sequence::missing(&a.name));
                };
                let int = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or(0);
                let batch = sequence::alter(a, [int(0), int(1), int(2), int(3), int(4)])?;
                self.run_sequence(batch).await?;
                Ok(Outcome::Command("ALTER SEQUENCE".into()))
            }
            Plan::RenameSchema(r) => {
                let read = self
                    .run_sequence(dotdo_sql::namespace::rename_read(r))
                    .await?;
                let q = Query {
                    batch: dotdo_sql::namespace::rename_batch(r, &read),
                    main: 0,
                    columns: None,
                    params: Vec::new(),
                    tag: "ALTER SCHEMA",
                    ddl: true,
                    read_only: false,
                };
                self.execute(&q, Vec::new()).await?;
                Ok(Outcome::Command("ALTER SCHEMA".into()))
            }
            Plan::Rebuild(r) => {
                let schema = self
                    .run_sequence(dotdo_sql::alter::read_schema(&r.table))
                    .await?;
                let batch = dotdo_sql::alter::rebuild_batch(r, &schema)?;
                let q = Query {
                    batch,
                    main: 0,
                    columns: None,
                    params: Vec::new(),
                    tag: "ALTER TABLE",
                    ddl: true,
                    read_only: false,
                };
                self.execute(&q, Vec::new())
                    .await
                    .map_err(|e| dotdo_sql::alter::rebuild_error(r, &schema, e))?;
                Ok(Outcome::Command("ALTER TABLE".into()))
            }
            Plan::Listen(channel) => {
                self.notify.listen(channel.clone(), self.in_block);
                Ok(Outcome::Command("LISTEN".into()))
            }
            Plan::Unlisten(channel) => {
                self.notify.unlisten(channel.clone(), self.in_block);
                Ok(Outcome::Command("UNLISTEN".into()))
            }
            Plan::Notify {
                channel,
                payload,
                column,
            } => {
                let channel = self.resolve_arg(channel, &params).await?;
                let payload = self.resolve_arg(payload, &params).await?;
                let (channel, payload) = (channel.unwrap_or_default(), payload.unwrap_or_default());
                dotdo_sql::notify::check_channel(&channel)?;
                dotdo_sql::notify::check_payload(&payload)?;
                self.notify.notify(channel, payload, self.in_block);
                Ok(match column {
                    Some(c) => void_row(c),
                    None => Outcome::Command("NOTIFY".into()),
                })
            }
            Plan::Sleep { seconds, column } => {
                if let Some(s) = self.resolve_arg(seconds, &params).await? {
                    let secs = dotdo_sql::notify::sleep_seconds(&s)?;
                    if secs > 0.0 {
                        let d = std::time::Duration::try_from_secs_f64(secs)
                            .unwrap_or(std::time::Duration::MAX);
                        tokio::time::sleep(d).await;
                    }
                }
                Ok(void_row(column))
            }
        }
    }

    /// A session call's argument as text (`None` for NULL); an expression is evaluated by
    /// the database with the statement's parameters.
    async fn resolve_arg(
        &mut self,
        arg: &Arg,
        params: &[Value],
    ) -> Result<Option<String>, SqlError> {
        let value = match arg {
            Arg::Const(v) => return Ok(v.clone()),
            Arg::Param(i) => params.get(*i).cloned().unwrap_or(Value::Null),
            Arg::Expr(e) => {
                let (_, catalog) = self.catalog().await?;
                let Plan::Query(q) = self.translate(&format!("SELECT {e}"), &catalog)? else {
                    return Err(SqlError::unsupported("this argument of a session function"));
                };
                let mut result = self.execute(&q, params.to_vec()).await?;
                match result.rows.pop().and_then(|mut r| r.drain(..).next()) {
                    Some(v) => v,
                    None => Value::Null,
                }
            }
        };
        Ok(text_value(value))
    }

    /// The block ended: its LISTEN/UNLISTEN and NOTIFY take effect if it committed.
    fn end_notify(&mut self, committed: bool) {
        if !self.notify.has_pending() {
            return;
        }
        if committed {
            self.notify.commit();
        } else {
            self.notify.rollback();
        }
    }

    fn require_block(&self, what: &str) -> Result<(), SqlError> {
        if self.in_block {
            Ok(())
        } else {
            Err(SqlError::new(
                code::NO_ACTIVE_TRANSACTION,
                format!("{what} can only be used in transaction blocks"),
            ))
        }
    }

    /// Run a query's batch, in the open transaction if there is one.
    pub async fn execute(
        &mut self,
        q: &Query,
        params: Vec<Value>,
    ) -> Result<StatementResult, SqlError> {
        let mut batch = q.batch.clone();
        if let Some(main) = batch.get_mut(q.main) {
            main.params = params;
        }
        if !q.ddl {
            self.resolve_sequences(&mut batch).await?;
        }
        let db = self.db.clone();
        if self.in_block && !q.read_only {
            if self.shards.any_wrote() {
                return Err(SqlError::unsupported(
                    "a transaction block can write to only one shard: dotdo cannot commit writes on several objects atomically",
                ));
            }
            self.shards.coordinator_wrote = true;
        }
        let reserves = dotdo_sql::serial::reserves(&batch);
        let reserving = dotdo_sql::serial::reservation_indices(&batch);
        for i in &reserving {
            if let Some(s) = batch.get(*i)
                && dotdo_sql::serial::takes_params(&s.sql)
            {
                let params = batch
                    .get(q.main)
                    .map(|m| m.params.clone())
                    .unwrap_or_default();
                if let Some(s) = batch.get_mut(*i) {
                    s.params = params;
                }
            }
        }
        // If the batch fails, its draws are taken anyway (PostgreSQL never gives a value
        // back): the reservations of a known row count run again on their own.
        let retake: Vec<Statement> = reserving
            .iter()
            .filter_map(|i| batch.get(*i))
            .filter(|s| dotdo_sql::serial::counted(&s.sql))
            .cloned()
            .collect();
        let ran = if self.in_block {
            self.fix_now(&mut batch);
            let txn = self.locking_txn_for(&batch, q.ddl, false).await?;
            match txn.execute(batch).await {
                Ok(results) => {
                    if q.ddl {
                        db.reload_in(txn).await?;
                    }
                    Ok(results)
                }
                Err(e) => Err(e),
            }
        } else {
            match self.backend().execute(&self.db.object, batch).await {
                Ok(results) => {
                    if q.ddl {
                        self.db.reload(self.backend()).await?;
                    }
                    Ok(results)
                }
                Err(e) => Err(e),
            }
        };
        let mut results = match ran {
            Ok(r) => r,
            Err(e) => {
                let e = SqlError::from(e);
                let locking = matches!(self.txn, Some(Txn::Locking(_)));
                if !retake.is_empty() && !locking {
                    // Best effort: the statement's own error is what the client hears.
                    let _ = self.backend().execute(&self.db.object, retake).await;
                }
                return Err(match reserves {
                    Some(seq) if e.message.contains("integer overflow") => {
                        self.exhausted(&seq).await
                    }
                    _ => e,
                });
            }
        };
        if !reserving.is_empty() {
            for (name, value) in dotdo_sql::serial::reserved(&reserving, &results) {
                if self.in_block {
                    self.block_draws.insert(name.clone(), value);
                }
                self.currval.insert(name, value);
                self.lastval = Some(value);
            }
        }
        if q.main < results.len() {
            Ok(results.swap_remove(q.main))
        } else {
            Ok(StatementResult::default())
        }
    }

    /// Resolve the sequence calls in `batch`, left to right, to the values they return.
    /// Each runs as a statement of its own before the batch: it commits at once, so a value
    /// is taken even if the batch or its block then fails (as in PostgreSQL, where `nextval`
    /// is never rolled back). Only a locking block draws in its own transaction (it holds
    /// the writer), and gives its values back if it rolls back, but never hands one out twice.
    pub(crate) async fn resolve_sequences(
        &mut self,
        batch: &mut [Statement],
    ) -> Result<(), SqlError> {
        for s in batch.iter_mut() {
            while let Some((range, call)) = sequence::find_call(&s.sql) {
                let value = self.sequence_call(call).await?;
                let mut sql = s.sql.to_string();
                sql.replace_range(range, &value.to_string());
                s.sql = sql.into();
            }
        }
        Ok(())
    }

    async fn sequence_call(&mut self, call: SeqCall) -> Result<i64, SqlError> {
        match call {
            SeqCall::Curr(name) => {
                if let Some(v) = self.currval.get(&name) {
                    return Ok(*v);
                }
                let results = self.run_sequence(vec![sequence::exists(&name)]).await?;
                if results.first().is_none_or(|r| r.rows.is_empty()) {
                    return Err(sequence::missing(&name));
                }
                Err(SqlError::new(
                    code::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!("currval of sequence \"{name}\" is not yet defined in this session"),
                ))
            }
            SeqCall::Last => self.lastval.ok_or_else(|| {
                SqlError::new(
                    code::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "lastval is not yet defined in this session",
                )
            }),
            SeqCall::Next(name) => {
                let results = self.run_draw(sequence::advance(&name)).await?;
                let row = |i: usize| results.get(i).and_then(|r| r.rows.first());
                let int = |row: &Vec<Value>, i: usize| row.get(i).and_then(Value::as_i64);
                let Some(value) = row(0).and_then(|r| int(r, 0)) else {
                    return Err(match row(1) {
                        Some(r) => sequence::exhausted(
                            &name,
                            int(r, 0).unwrap_or(1),
                            int(r, 1).unwrap_or(0),
                            int(r, 2).unwrap_or(0),
                        ),
                        None => sequence::missing(&name),
                    });
                };
                self.currval.insert(name, value);
                self.lastval = Some(value);
                Ok(value)
            }
            SeqCall::Set(name, value, called) => {
                let results = self
                    .run_sequence(sequence::set(&name, value, called))
                    .await?;
                let row = results
                    .get(1)
                    .and_then(|r| r.rows.first())
                    .ok_or_else(|| sequence::missing(&name))?;
                let int = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or(0);
                let (min, max) = (int(1), int(2));
                if value < min || value > max {
                    return Err(SqlError::new(
                        code::NUMERIC_VALUE_OUT_OF_RANGE,
                        format!(
                            "setval: value {value} is out of bounds for sequence \"{name}\" ({min}..{max})"
                        ),
                    ));
                }
                if called {
                    self.currval.insert(name, value);
                }
                Ok(value)
            }
        }
    }

    /// The error of an INSERT whose drawn values passed sequence `name`'s end.
    async fn exhausted(&mut self, name: &str) -> SqlError {
        let read = self
            .run_sequence(sequence::advance(name).split_off(1))
            .await;
        let row = read
            .ok()
            .and_then(|r| r.into_iter().next()?.rows.into_iter().next());
        let int = |i: usize| row.as_ref()?.get(i)?.as_i64();
        sequence::exhausted(
            name,
            int(0).unwrap_or(1),
            int(1).unwrap_or(0),
            int(2).unwrap_or(0),
        )
    }

    /// Run a `nextval`: outside the block's transaction unless it holds the object's writer,
    /// so that the value stays taken whether the block commits or not (as in PostgreSQL),
    /// and a replayed block stays replayed (the value is a literal in its statement).
    async fn run_draw(&mut self, batch: Vec<Statement>) -> Result<Vec<StatementResult>, SqlError> {
        if let Some(Txn::Locking(t)) = self.txn.as_mut() {
            return Ok(t.execute(batch).await?);
        }
        Ok(self.backend().execute(&self.db.object, batch).await?)
    }

    async fn run_sequence(
        &mut self,
        batch: Vec<Statement>,
    ) -> Result<Vec<StatementResult>, SqlError> {
        if self.in_block {
            let txn = self.locking_txn_for(&batch, false, true).await?;
            Ok(txn.execute(batch).await?)
        } else {
            Ok(self.backend().execute(&self.db.object, batch).await?)
        }
    }

    /// Turn a result into rows or a command tag. With `static_types`, columns whose type
    /// the catalog cannot tell are `text` (what Describe promised); otherwise the values decide.
    pub fn outcome(&self, q: &Query, result: StatementResult, static_types: bool) -> Outcome {
        let n = result.rows_changed;
        match &q.columns {
            Some(cols) => {
                let fields = resolve_fields(cols, &result, static_types);
                let tag = match q.tag {
                    "INSERT" => "INSERT 0".to_owned(),
                    t => t.to_owned(),
                };
                Outcome::Rows {
                    fields,
                    rows: result.rows,
                    tag,
                }
            }
            None => Outcome::Command(match q.tag {
                "INSERT" => format!("INSERT 0 {n}"),
                "UPDATE" | "DELETE" => format!("{} {n}", q.tag),
                "SELECT" => format!("SELECT {n}"),
                t => t.to_owned(),
            }),
        }
    }

    // ---- COPY FROM STDIN ----

    pub fn copy_data(&mut self, data: &[u8]) {
        let Some(c) = self.copy.as_mut() else { return };
        if c.error.is_some() {
            return;
        }
        if c.buf.len() + data.len() > 64 * 1024 * 1024 {
            c.error = Some(SqlError::new("54000", "COPY line too long"));
            return;
        }
        c.buf.extend_from_slice(data);
        let csv = c.plan.options.format == dotdo_sql::CopyFormat::Csv;
        for line in copy::take_lines(&mut c.buf, csv, c.plan.options.quote as u8) {
            if c.skip_header {
                c.skip_header = false;
                continue;
            }
            match copy::parse_line(&line, &c.plan.columns, &c.plan.options) {
                Ok(Some(row)) => c.pending.push(row),
                Ok(None) => {}
                Err(e) => {
                    c.error = Some(e);
                    return;
                }
            }
        }
    }

    /// True when enough rows are buffered to write a batch.
    pub fn copy_wants_flush(&self) -> bool {
        self.copy.as_ref().is_some_and(|c| {
            c.error.is_none() && c.pending.len() >= self.server.config.copy_batch_rows
        })
    }

    pub async fn copy_flush(&mut self) {
        let Some(c) = self.copy.as_mut() else { return };
        if c.pending.is_empty() || c.error.is_some() {
            return;
        }
        let rows = std::mem::take(&mut c.pending);
        c.count += rows.len();
        if let Some((kind, groups)) = c.route.clone() {
            let table = c.plan.table.clone();
            let columns: Vec<String> = c.plan.columns.iter().map(|(n, _)| n.clone()).collect();
            if let Err(e) = self
                .copy_routed(&table, &columns, &kind, &groups, rows)
                .await
                && let Some(c) = self.copy.as_mut()
            {
                c.error = Some(e);
            }
            return;
        }
        let batch = insert_batch(&c.plan, rows);
        let result = match self.txn.as_mut() {
            Some(txn) => txn.handle().execute(batch).await.map_err(SqlError::from),
            None => Err(SqlError::new(
                code::INTERNAL_ERROR,
                "COPY without a transaction",
            )),
        };
        if let Err(e) = result
            && let Some(c) = self.copy.as_mut()
        {
            c.error = Some(e);
        }
    }

    /// Finish the COPY: returns the number of rows loaded.
    pub async fn copy_done(&mut self) -> Result<usize, SqlError> {
        if let Some(c) = self.copy.as_mut()
            && !c.buf.is_empty()
        {
            c.buf.push(b'\n');
            self.copy_data(&[]);
        }
        self.copy_flush().await;
        let Some(c) = self.copy.take() else {
            return Ok(0);
        };
        if let Some(e) = c.error {
            self.copy_abort(c.own_txn).await;
            return Err(e);
        }
        if c.own_txn {
            self.finish_txn(true).await?;
        }
        Ok(c.count)
    }

    pub async fn copy_fail(&mut self) {
        if let Some(c) = self.copy.take() {
            self.copy_abort(c.own_txn).await;
        }
    }

    async fn copy_abort(&mut self, own_txn: bool) {
        if own_txn {
            let _ = self.finish_txn(false).await;
        } else if self.in_block {
            self.failed = true;
        }
    }

    /// Roll back whatever is open when the connection goes away.
    pub async fn close(&mut self) {
        self.notify.rollback();
        if let Some(txn) = self.txn.take() {
            let _ = txn.into_handle().rollback().await;
        }
        let _ = self.shards.finish(false).await;
    }
}

/// A value as the text a session call reads.
fn text_value(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Text(s) => Some(s),
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(f) => Some(f.to_string()),
        Value::Blob(b) => Some(String::from_utf8_lossy(&b).into_owned()),
    }
}

/// The one row of a function returning `void`: an empty value.
pub(crate) fn void_row(column: &str) -> Outcome {
    Outcome::Rows {
        fields: vec![(column.to_owned(), PgType::Text)],
        rows: vec![vec![Value::Text(String::new())]],
        tag: "SELECT".into(),
    }
}

fn savepoint_error(e: dotdo_backend::Error) -> SqlError {
    match &e {
        dotdo_backend::Error::Sqlite { message, .. } if message.contains("no such savepoint") => {
            SqlError::new(
                code::SAVEPOINT_EXCEPTION,
                message.replace("no such savepoint", "savepoint does not exist"),
            )
        }
        _ => e.into(),
    }
}

/// Multi-row INSERTs for COPY rows, each within a Durable Object's bound-parameter limit.
fn insert_batch(plan: &CopyFrom, rows: Vec<Vec<Value>>) -> Vec<Statement> {
    let ncols = plan.columns.len().max(1);
    let per_stmt = (dotdo_backend::MAX_PARAMS / ncols).max(1);
    let cols: Vec<String> = plan
        .columns
        .iter()
        .map(|(n, _)| dotdo_sql::translate::quote_ident(n))
        .collect();
    let table = dotdo_sql::translate::quote_ident(&plan.table);
    let mut out = Vec::new();
    let mut iter = rows.into_iter().peekable();
    while iter.peek().is_some() {
        let chunk: Vec<Vec<Value>> = iter.by_ref().take(per_stmt).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
        let mut params = Vec::with_capacity(chunk.len() * ncols);
        for (i, row) in chunk.into_iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for j in 0..row.len() {
                if j > 0 {
                    sql.push(',');
                }
                sql.push('?');
            }
            sql.push(')');
            params.extend(row);
        }
        out.push(Statement::with_params(sql, params));
    }
    out
}

fn resolve_fields(
    cols: &[OutColumn],
    result: &StatementResult,
    static_types: bool,
) -> Vec<(String, PgType)> {
    let value_type = |i: usize| -> PgType {
        if static_types {
            return PgType::Text;
        }
        result
            .rows
            .iter()
            .map(|r| &r[i])
            .find(|v| !v.is_null())
            .map_or(PgType::Text, PgType::of_value)
    };
    if cols.len() == result.columns.len() || (result.columns.is_empty() && !cols.is_empty()) {
        cols.iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    c.name.clone(),
                    c.ty.unwrap_or_else(|| {
                        if i < result.columns.len() {
                            value_type(i)
                        } else {
                            PgType::Text
                        }
                    }),
                )
            })
            .collect()
    } else {
        result
            .columns
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), value_type(i)))
            .collect()
    }
}

impl Session {
    /// The fields a Describe reports. When the catalog cannot name a query's columns
    /// (views, catalog views), a discarded run with NULL parameters names them; their
    /// type is then `text`, as the execution will send them.
    pub async fn describe_fields(&mut self, plan: &Plan) -> Vec<(String, PgType)> {
        let fields = static_fields(plan);
        let q = match plan {
            Plan::Query(q) => q,
            Plan::Distributed(d) if d.local.columns.as_ref().is_some_and(|c| !c.is_empty()) => {
                return fields;
            }
            Plan::Distributed(d) => &d.local,
            _ => return fields,
        };
        if !q.columns.as_ref().is_some_and(Vec::is_empty) {
            return fields;
        }
        let mut batch = q.batch.clone();
        if let Some(main) = batch.get_mut(q.main) {
            main.params = vec![Value::Null; q.params.len()];
        }
        let result = if let Some(Txn::Locking(txn)) = self.txn.as_mut() {
            // Only reads may run inside the block's transaction to be described.
            if !q.read_only {
                return fields;
            }
            txn.execute(batch).await
        } else {
            // Outside a block, or in a replayed one (which holds no DDL): the object's
            // committed schema names the columns.
            self.backend().dry_run(&self.db.object, batch).await
        };
        match result {
            Ok(mut results) if q.main < results.len() => results
                .swap_remove(q.main)
                .columns
                .into_iter()
                .map(|name| (name, PgType::Text))
                .collect(),
            _ => fields,
        }
    }
}

/// The fields a Describe reports, before running anything.
pub fn static_fields(plan: &Plan) -> Vec<(String, PgType)> {
    match plan {
        Plan::Distributed(d) => static_fields(&Plan::Query(d.local.clone())),
        Plan::Query(Query {
            columns: Some(cols),
            ..
        }) => cols
            .iter()
            .map(|c| (c.name.clone(), c.ty.unwrap_or(PgType::Text)))
            .collect(),
        Plan::Show(name) => vec![(name.clone(), PgType::Text)],
        Plan::SetConfig { column, .. } => vec![(column.clone(), PgType::Text)],
        Plan::Notify {
            column: Some(c), ..
        }
        | Plan::Sleep { column: c, .. } => vec![(c.clone(), PgType::Text)],
        _ => Vec::new(),
    }
}
