//! The actor that owns one object's SQLite connection: group commit behind an output gate.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use super::config::Durability;
use super::exec::{self, control, quote_ident, run_batch};
use super::files;
use super::registry::{Registry, Slot};
use super::syncer::{Held, Syncer, send_now};
use crate::{Batch, Error, ObjectId, StatementResult, replay};

/// Reads map the database file instead of copying each page with a `pread` system call
/// (the page cache is shared, so this costs no private memory).
const MMAP_BYTES: u64 = 1 << 30;
/// SQLite's own page cache per open object; it grows only as pages are used.
const CACHE_KIB: u64 = 16 * 1024;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, Error>>;

pub(crate) enum Command {
    Execute {
        batch: Batch,
        mode: Mode,
        reply: Reply<Vec<StatementResult>>,
    },
    Begin {
        reply: Reply<crossbeam_channel::Sender<TxOp>>,
    },
    Delete {
        reply: Reply<()>,
    },
    /// Close if nothing else is queued (eviction or shutdown).
    Close,
}

/// What becomes of a batch's effects.
pub(crate) enum Mode {
    Apply,
    /// Run and answer, then roll back (a Describe's discarded run).
    Discard,
    /// As `Discard`, and the reply leaves at once, ahead of the output gate: a replayed
    /// transaction's dry run, whose answers stand only once the transaction ends, and its
    /// end waits at the gate (`Backend::dry_run_provisional`).
    Provisional,
    /// Apply only if the first statements answer as these did (a replayed transaction's
    /// commit); otherwise roll back and fail with `SerializationFailure`.
    Checked(Vec<StatementResult>),
}

type Job = (Batch, Mode, Reply<Vec<StatementResult>>, Instant);

pub(crate) struct Request {
    pub command: Command,
    pub enqueued: Instant,
}

/// A queued request with its queue place, freed when the actor takes it.
pub(crate) struct Queued {
    pub request: Request,
    pub permit: Option<OwnedSemaphorePermit>,
}

pub(crate) enum TxOp {
    Execute(Batch, Reply<Vec<StatementResult>>),
    Savepoint(String, Reply<()>),
    Release(String, Reply<()>),
    RollbackTo(String, Reply<()>),
    Commit(Reply<()>),
    Rollback(Reply<()>),
}

pub(crate) struct Actor {
    id: ObjectId,
    path: PathBuf,
    registry: Arc<Registry>,
    slot: Arc<Slot>,
    rx: Receiver<Queued>,
    /// The output gate's fsync thread, while the connection (`slot.db`) is open.
    syncer: Option<Syncer>,
    /// A close (eviction or shutdown) came while other work was queued behind it: close as
    /// soon as the queue is empty, or the request would be lost and shutdown would wait for
    /// the idle timeout.
    close_asked: bool,
}

impl Actor {
    pub(crate) fn spawn(
        id: ObjectId,
        registry: Arc<Registry>,
        slot: Arc<Slot>,
        rx: Receiver<Queued>,
    ) -> Result<(), Error> {
        let path = files::object_path(&registry.config().data_dir, &id);
        let actor = Actor {
            id,
            path,
            registry,
            slot,
            rx,
            syncer: None,
            close_asked: false,
        };
        let name = format!("do:{}", actor.id.name.chars().take(12).collect::<String>());
        std::thread::Builder::new()
            .name(name)
            .spawn(move || actor.run())
            .map(drop)
            .map_err(|e| Error::Io(format!("starting an object actor thread: {e}")))
    }

    fn run(mut self) {
        if let Err(e) = self.open() {
            tracing::warn!(object = %self.id, error = %e, "opening object failed");
            self.fail_queue_and_close(e);
            return;
        }
        loop {
            if self.close_asked && self.try_close() {
                return;
            }
            let wait = self.wait_time();
            let first = match self.rx.recv_timeout(wait) {
                Ok(q) => q,
                Err(RecvTimeoutError::Timeout) => {
                    self.sync_if_due();
                    if self.last_activity().elapsed() >= self.registry.config().idle_timeout()
                        && self.try_close()
                    {
                        return;
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.finish();
                    return;
                }
            };
            if self.serve(first) {
                return;
            }
            if self.syncer.as_ref().is_some_and(Syncer::poisoned) {
                self.fail_queue_and_close(Error::Io(format!("WAL sync of {} failed", self.id)));
                return;
            }
        }
    }

    fn wait_time(&self) -> Duration {
        let cfg = self.registry.config();
        let idle = cfg.idle_timeout();
        if self.pending() && cfg.durability == Durability::Relaxed {
            idle.min(cfg.relaxed_sync())
        } else {
            idle
        }
    }

    fn last_activity(&self) -> Instant {
        self.slot.last_used()
    }

    /// Serve `first` and whatever else is queued behind it. Returns true once closed.
    fn serve(&mut self, first: Queued) -> bool {
        let max_group = self.registry.config().max_group;
        let mut group = Vec::new();
        let mut special = None;
        let mut next = Some(first);
        while let Some(q) = next.take() {
            self.registry.dequeued();
            let Queued { request, permit } = q;
            drop(permit);
            match request.command {
                Command::Execute { batch, mode, reply } => {
                    group.push((batch, mode, reply, request.enqueued));
                }
                other => {
                    special = Some((other, request.enqueued));
                    break;
                }
            }
            if group.len() >= max_group {
                break;
            }
            next = self.rx.try_recv().ok();
        }
        if !group.is_empty() {
            self.run_group(group);
        }
        match special {
            None => false,
            Some((Command::Begin { reply }, enqueued)) => {
                self.serve_transaction(reply, enqueued);
                false
            }
            Some((Command::Delete { reply }, _)) => {
                let result = self.delete();
                let failed = result.is_err();
                let _ = reply.send(result);
                failed && {
                    self.fail_queue_and_close(Error::Io("object could not be reopened".into()));
                    true
                }
            }
            Some((Command::Close, _)) => {
                let closed = self.try_close();
                self.close_asked = !closed;
                closed
            }
            Some((Command::Execute { .. }, _)) => false,
        }
    }

    /// One SQLite transaction for the whole group, each batch atomic within it, one fsync.
    ///
    /// Batches that write nothing (dry runs, reads) run first, so their replies need not wait
    /// for this group's fsync, only for the one covering what earlier groups committed
    /// (provisional dry runs not even for that: their transaction's end waits instead). The
    /// group's batches were all queued together, so any order among them is a valid one.
    fn run_group(&mut self, group: Vec<Job>) {
        // Held to the end, so direct readers never see the group's open transaction, and
        // see its commit only together with the count of commits awaiting a sync.
        let slot = self.slot.clone();
        let _busy = Busy::flag(&slot);
        let db = slot.db.lock();
        let Some(conn) = db.as_ref() else {
            return;
        };
        let (early, late): (Vec<Job>, Vec<Job>) = group
            .into_iter()
            .partition(|(batch, mode, _, _)| writes_nothing(conn, batch, mode));
        let count = early.len() + late.len();
        let gate = self.registry.config().durability == Durability::Full;
        let mut answered: Vec<Held> = Vec::with_capacity(early.len());
        for (batch, mode, reply, enqueued) in early {
            let result = run_atomically(conn, &batch, &mode).map(|ran| ran.results);
            if matches!(mode, Mode::Provisional) {
                send_now((reply, result, enqueued));
            } else {
                answered.push((reply, result, enqueued));
            }
        }
        // They saw what earlier groups committed, which may still be on its way to disk.
        if let Some(syncer) = &self.syncer {
            syncer.release(answered, gate, false);
        }
        let mut held: Vec<Held> = Vec::with_capacity(late.len());
        let mut in_tx = false;
        // Batches whose effects are in the open transaction, so lost if it is lost.
        let mut pending_from = 0;
        let mut wrote = false;
        for (batch, mode, reply, enqueued) in late {
            if !in_tx {
                if let Err(e) = control(conn, "BEGIN") {
                    held.push((reply, Err(e), enqueued));
                    continue;
                }
                in_tx = true;
                pending_from = held.len();
            }
            let result = run_atomically(conn, &batch, &mode);
            if result.is_err() && conn.is_autocommit() {
                // The error rolled back the whole transaction (OR ROLLBACK, I/O errors...):
                // the batches before it in this group are gone too, so they fail with it.
                in_tx = false;
                if let Err(e) = &result {
                    for (_, r, _) in &mut held[pending_from..] {
                        *r = Err(e.clone());
                    }
                }
            }
            let discard = matches!(mode, Mode::Discard | Mode::Provisional);
            let result = result.map(|ran| {
                wrote |= ran.wrote && !discard;
                ran.results
            });
            held.push((reply, result, enqueued));
        }
        if in_tx && let Err(e) = control(conn, "COMMIT") {
            let _ = control(conn, "ROLLBACK");
            for (_, r, _) in &mut held[pending_from..] {
                *r = Err(e.clone());
            }
        }
        metrics::counter!("dotdo_backend_batches_total").increment(count as u64);
        metrics::histogram!("dotdo_backend_group_size").record(count as f64);
        if let Some(syncer) = &self.syncer {
            if wrote {
                syncer.committed();
            }
            // The syncer releases them after an fsync; meanwhile the next group runs. With
            // no next group queued, the fsync runs here instead.
            syncer.release(held, gate, self.rx.is_empty());
        }
    }

    fn pending(&self) -> bool {
        self.syncer.as_ref().is_some_and(Syncer::pending)
    }

    /// Make everything committed so far durable before any reply leaves (Full durability).
    fn output_gate(&mut self) -> Result<(), Error> {
        if !self.pending() || self.registry.config().durability == Durability::Relaxed {
            return Ok(());
        }
        self.sync_wal()
    }

    fn sync_if_due(&mut self) {
        let due = self.syncer.as_ref().is_some_and(|s| {
            s.pending() && s.since_last_sync() >= self.registry.config().relaxed_sync()
        });
        if due && let Err(e) = self.sync_wal() {
            tracing::error!(object = %self.id, error = %e, "background WAL sync failed");
        }
    }

    fn sync_wal(&mut self) -> Result<(), Error> {
        match self.syncer.as_mut() {
            Some(s) => s.wait(),
            None => Ok(()),
        }
    }

    fn serve_transaction(
        &mut self,
        reply: Reply<crossbeam_channel::Sender<TxOp>>,
        enqueued: Instant,
    ) {
        let cfg = self.registry.config().clone();
        if enqueued.elapsed() >= cfg.lock_timeout() {
            let _ = reply.send(Err(Error::LockTimeout(self.id.to_string())));
            return;
        }
        // The transaction reads only durable data: release what is pending first.
        if let Err(e) = self.output_gate() {
            let _ = reply.send(Err(e));
            return;
        }
        // Held for the whole transaction: direct readers must not see it.
        let slot = self.slot.clone();
        let _busy = Busy::flag(&slot);
        let db = slot.db.lock();
        let Some(conn) = db.as_ref() else {
            let _ = reply.send(Err(Error::ShuttingDown));
            return;
        };
        if let Err(e) = control(conn, "BEGIN") {
            let _ = reply.send(Err(e));
            return;
        }
        let (tx, ops) = crossbeam_channel::unbounded();
        if reply.send(Ok(tx)).is_err() {
            let _ = control(conn, "ROLLBACK");
            return;
        }
        metrics::gauge!("dotdo_backend_transactions_open").increment(1.0);
        let mut idle_since = Instant::now();
        let poll = Duration::from_millis(100);
        loop {
            match ops.recv_timeout(poll) {
                Ok(op) => {
                    idle_since = Instant::now();
                    if self.transaction_op(conn, op) {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if idle_since.elapsed() >= cfg.transaction_idle_timeout()
                        || self.registry.is_shutting_down()
                    {
                        tracing::info!(object = %self.id, "rolling back an idle transaction");
                        let _ = control(conn, "ROLLBACK");
                        break;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = control(conn, "ROLLBACK");
                    break;
                }
            }
        }
        metrics::gauge!("dotdo_backend_transactions_open").decrement(1.0);
        self.slot.touch();
    }

    /// Apply one operation of an interactive transaction; true when it ended the transaction.
    fn transaction_op(&mut self, conn: &Connection, op: TxOp) -> bool {
        match op {
            TxOp::Execute(batch, reply) => {
                let result = run_atomically(conn, &batch, &Mode::Apply).map(|ran| ran.results);
                // Some errors (OR ROLLBACK, I/O) end the whole transaction: so does this one.
                let ended = result.is_err() && conn.is_autocommit();
                let _ = reply.send(result);
                ended
            }
            TxOp::Savepoint(name, reply) => {
                let _ = reply.send(control(conn, &format!("SAVEPOINT {}", quote_ident(&name))));
                false
            }
            TxOp::Release(name, reply) => {
                let _ = reply.send(control(conn, &format!("RELEASE {}", quote_ident(&name))));
                false
            }
            TxOp::RollbackTo(name, reply) => {
                let _ = reply.send(control(
                    conn,
                    &format!("ROLLBACK TO {}", quote_ident(&name)),
                ));
                false
            }
            TxOp::Commit(reply) => {
                let result = match control(conn, "COMMIT") {
                    Ok(()) => {
                        if let Some(s) = &self.syncer {
                            s.committed();
                        }
                        self.output_gate()
                    }
                    Err(e) => {
                        let _ = control(conn, "ROLLBACK");
                        Err(e)
                    }
                };
                let _ = reply.send(result);
                true
            }
            TxOp::Rollback(reply) => {
                let _ = reply.send(control(conn, "ROLLBACK"));
                true
            }
        }
    }

    fn open(&mut self) -> Result<(), Error> {
        let cfg = self.registry.config();
        files::prepare(&cfg.data_dir, &self.id, &self.path)?;
        let existed = self.path.exists();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn =
            Connection::open_with_flags(&self.path, flags).map_err(|e| exec::sqlite_error(0, e))?;
        self.slot
            .budget
            .install(&mut conn)
            .map_err(|e| exec::sqlite_error(0, e))?;
        let storage = cfg.storage(&self.id);
        // The page size counts only before the first write (journal_mode = WAL is one).
        let page_size = storage
            .page_size
            .map(|p| format!("PRAGMA page_size = {p};"))
            .unwrap_or_default();
        let setup = format!(
            "{page_size}
             PRAGMA locking_mode = EXCLUSIVE;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA wal_autocheckpoint = {};
             PRAGMA mmap_size = {MMAP_BYTES};
             PRAGMA cache_size = -{CACHE_KIB};
             SELECT count(*) FROM sqlite_master;",
            storage.wal_autocheckpoint_pages
        );
        conn.execute_batch(&setup)
            .map_err(|e| exec::sqlite_error(0, e))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| exec::sqlite_error(0, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Io(format!(
                "object {} could not enter WAL mode",
                self.id
            )));
        }
        conn.set_prepared_statement_cache_capacity(256);
        if !existed && let Some(dir) = self.path.parent() {
            files::sync_dir(dir)?;
        }
        self.syncer = Some(Syncer::start(
            &self.id,
            &self.path,
            self.slot.durable.clone(),
        )?);
        *self.slot.db.lock() = Some(conn);
        self.registry.opened();
        Ok(())
    }

    /// Close the connection cleanly: checkpoint, sync, and let SQLite remove the WAL.
    fn close_conn(&mut self) {
        let conn = self.slot.db.lock().take();
        if let Some(conn) = conn {
            if let Err(e) = self.sync_wal() {
                tracing::error!(object = %self.id, error = %e, "final WAL sync failed");
            }
            // Every held reply has left before the WAL goes away.
            self.syncer = None;
            if let Err((_, e)) = conn.close() {
                tracing::warn!(object = %self.id, error = %e, "closing object");
            }
            self.registry.closed_conn();
        }
    }

    fn delete(&mut self) -> Result<(), Error> {
        self.close_conn();
        files::remove_object(&self.path)?;
        self.open()
    }

    /// Close if nothing is queued; true when closed (the actor then ends).
    fn try_close(&mut self) -> bool {
        if !self.registry.begin_close(&self.id, &self.slot, &self.rx) {
            return false;
        }
        self.finish();
        true
    }

    fn finish(&mut self) {
        self.close_conn();
        self.registry.end_close(&self.id, &self.slot);
    }

    fn fail_queue_and_close(&mut self, error: Error) {
        loop {
            while let Ok(q) = self.rx.try_recv() {
                self.registry.dequeued();
                fail(q.request.command, &error);
            }
            if self.registry.begin_close(&self.id, &self.slot, &self.rx) {
                break;
            }
        }
        self.finish();
    }
}

fn fail(command: Command, error: &Error) {
    match command {
        Command::Execute { reply, .. } => {
            let _ = reply.send(Err(error.clone()));
        }
        Command::Begin { reply } => {
            let _ = reply.send(Err(error.clone()));
        }
        Command::Delete { reply } => {
            let _ = reply.send(Err(error.clone()));
        }
        Command::Close => {}
    }
}

/// Marks the actor as using the connection until dropped (after the lock guard, declared
/// before it).
struct Busy<'a>(&'a Slot);

impl<'a> Busy<'a> {
    fn flag(slot: &'a Slot) -> Self {
        slot.actor_busy
            .store(true, std::sync::atomic::Ordering::Release);
        Busy(slot)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0
            .actor_busy
            .store(false, std::sync::atomic::Ordering::Release);
    }
}

/// Whether a batch leaves nothing behind: a dry run, or statements that only read.
fn writes_nothing(conn: &Connection, batch: &Batch, mode: &Mode) -> bool {
    match mode {
        Mode::Discard | Mode::Provisional => true,
        Mode::Checked(_) => false,
        Mode::Apply => exec::reads_only(conn, batch),
    }
}

/// Run `batch` so that it is atomic on its own inside a larger transaction. A single
/// statement already is (SQLite undoes a failed statement's partial effects), so only
/// longer batches, dry runs and checked batches pay for a savepoint.
pub(crate) fn run_atomically(
    conn: &Connection,
    batch: &Batch,
    mode: &Mode,
) -> Result<exec::Ran, Error> {
    if batch.len() == 1 && matches!(mode, Mode::Apply) {
        return run_batch(conn, batch);
    }
    control(conn, "SAVEPOINT dotdo_batch")?;
    let ran = run_batch(conn, batch);
    let ran = match mode {
        Mode::Checked(expected) => ran
            .map_err(|e| replay::replayed_failure(e, expected.len()))
            .and_then(
                |ran| match replay::first_difference(&ran.results, expected) {
                    Some(i) => Err(Error::SerializationFailure(format!(
                        "statement {i} of the transaction answers differently at commit"
                    ))),
                    None => Ok(ran),
                },
            ),
        _ => ran,
    };
    if ran.is_err() || matches!(mode, Mode::Discard | Mode::Provisional) {
        control(conn, "ROLLBACK TO dotdo_batch")?;
    }
    control(conn, "RELEASE dotdo_batch")?;
    ran
}
