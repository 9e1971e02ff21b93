//! The open objects: one slot per running actor, opened on demand, closed when idle.
//!
//! Closing races with senders, so a slot has a small gate: senders enqueue only while the
//! gate is open, and an actor closes the gate only when its queue is empty, under the same
//! lock. Senders that meet a closing object wait for it to finish and then reopen it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use tokio::sync::{Semaphore, watch};

use rusqlite::Connection;

use super::actor::{Actor, Command, Mode, Queued, Request, run_atomically};
use super::budget::{Budget, DIRECT_BUDGET};
use super::config::{Durability, EmbeddedConfig};
use super::exec::{control, reads_only, run_batch};
use super::files;
use super::syncer::Shared;
use crate::{Batch, Error, ObjectId, StatementResult};

/// How long a direct read waits for another direct read to finish with the connection.
const READER_WAIT: Duration = Duration::from_micros(500);

pub(crate) struct Slot {
    /// True once the actor has stopped taking requests.
    gate: Mutex<bool>,
    sender: Sender<Queued>,
    permits: Arc<Semaphore>,
    last_used_ms: AtomicU64,
    epoch: Instant,
    closing: Mutex<Option<watch::Sender<bool>>>,
    /// The object's SQLite connection while open. The actor holds the lock for each group
    /// and each interactive transaction; readers may take it between them.
    pub(crate) db: Mutex<Option<Connection>>,
    /// The actor holds (or is about to take) `db`: readers go to its queue instead of
    /// waiting for the lock (which a transaction may hold for long).
    pub(crate) actor_busy: AtomicBool,
    pub(crate) durable: Arc<Shared>,
    /// Bounds the statements readers run on their own thread with the connection.
    pub(crate) budget: Arc<Budget>,
}

impl Slot {
    pub(crate) fn touch(&self) {
        self.last_used_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    pub(crate) fn last_used(&self) -> Instant {
        self.epoch + Duration::from_millis(self.last_used_ms.load(Ordering::Relaxed))
    }
}

enum Entry {
    Open(Arc<Slot>),
    Closing(watch::Receiver<bool>),
}

enum Lookup {
    Open(Arc<Slot>),
    Wait(watch::Receiver<bool>),
    Failed(Error),
}

pub(crate) struct Registry {
    config: EmbeddedConfig,
    objects: Mutex<HashMap<ObjectId, Entry>>,
    shutting_down: AtomicBool,
    open_conns: AtomicUsize,
    queued: AtomicI64,
    epoch: Instant,
}

impl Registry {
    pub(crate) fn new(config: EmbeddedConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            objects: Mutex::new(HashMap::new()),
            shutting_down: AtomicBool::new(false),
            open_conns: AtomicUsize::new(0),
            queued: AtomicI64::new(0),
            epoch: Instant::now(),
        })
    }

    pub(crate) fn config(&self) -> &EmbeddedConfig {
        &self.config
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    pub(crate) fn open_count(&self) -> usize {
        self.open_conns.load(Ordering::Relaxed)
    }

    /// Queue `request` on the object's actor, opening it if needed; waits while the queue is
    /// full (back-pressure).
    pub(crate) async fn send(
        self: &Arc<Self>,
        id: &ObjectId,
        mut request: Request,
    ) -> Result<(), Error> {
        loop {
            if self.is_shutting_down() {
                return Err(Error::ShuttingDown);
            }
            let slot = match self.lookup(id) {
                Lookup::Open(slot) => slot,
                Lookup::Wait(mut done) => {
                    let _ = done.wait_for(|closed| *closed).await;
                    continue;
                }
                Lookup::Failed(e) => return Err(e),
            };
            let permit = slot
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| Error::ShuttingDown)?;
            {
                let closed = slot.gate.lock();
                if !*closed {
                    self.queued.fetch_add(1, Ordering::Relaxed);
                    metrics::gauge!("dotdo_backend_queue_depth").increment(1.0);
                    match slot.sender.send(Queued {
                        request,
                        permit: Some(permit),
                    }) {
                        Ok(()) => return Ok(()),
                        Err(e) => {
                            self.dequeued();
                            request = e.0.request;
                        }
                    }
                }
            }
            tokio::task::yield_now().await;
        }
    }

    fn lookup(self: &Arc<Self>, id: &ObjectId) -> Lookup {
        let mut map = self.objects.lock();
        match map.get(id) {
            Some(Entry::Open(slot)) => {
                slot.touch();
                return Lookup::Open(slot.clone());
            }
            Some(Entry::Closing(done)) => return Lookup::Wait(done.clone()),
            None => {}
        }
        let (sender, rx) = crossbeam_channel::unbounded();
        let slot = Arc::new(Slot {
            gate: Mutex::new(false),
            sender,
            permits: Arc::new(Semaphore::new(self.config.queue_depth)),
            last_used_ms: AtomicU64::new(0),
            epoch: self.epoch,
            closing: Mutex::new(None),
            db: Mutex::new(None),
            actor_busy: AtomicBool::new(false),
            durable: Arc::default(),
            budget: Arc::default(),
        });
        slot.touch();
        map.insert(id.clone(), Entry::Open(slot.clone()));
        let victim = (map.len() > self.config.max_open_objects)
            .then(|| least_recently_used(&map, id))
            .flatten();
        drop(map);
        if let Err(e) = Actor::spawn(id.clone(), self.clone(), slot.clone(), rx) {
            self.objects.lock().remove(id);
            return Lookup::Failed(e);
        }
        if let Some(victim) = victim {
            close_request(&victim);
        }
        Lookup::Open(slot)
    }

    /// Answer a batch of reads at once on the calling thread, without the actor: only when
    /// the object is open and idle (no group or transaction running, nothing waiting for an
    /// fsync, so everything visible is durable) and every statement only reads. `None`
    /// means "ask the actor".
    pub(crate) fn try_read(
        &self,
        id: &ObjectId,
        batch: &Batch,
    ) -> Option<Result<Vec<StatementResult>, Error>> {
        let relaxed = self.config.durability == Durability::Relaxed;
        self.on_idle(id, |slot, conn| {
            // Checked under the lock: commits are counted before the actor lets it go.
            if !(relaxed || slot.durable.all_durable()) || !reads_only(conn, batch) {
                return None;
            }
            slot.touch();
            metrics::counter!("dotdo_backend_direct_reads_total").increment(1);
            Some(run_batch(conn, batch).map(|ran| ran.results))
        })
    }

    /// Run a batch that writes to durability at once on the calling thread, without the
    /// actor (`crate::Backend::execute_inline`): only with full durability, when the object
    /// is open and idle and everything it committed is durable. The calling thread is held
    /// for the commit and its WAL fsync, as redis-server's event loop is with
    /// `appendfsync always`; two thread hand-offs per batch are saved. The statements run
    /// under the direct budget: past it what they did is rolled back and `None` sends the
    /// batch to the actor. The commit itself runs unbudgeted (an interrupted COMMIT could
    /// leave it unclear whether the batch landed).
    pub(crate) fn try_write(
        &self,
        id: &ObjectId,
        batch: &Batch,
    ) -> Option<Result<Vec<StatementResult>, Error>> {
        if self.config.durability != Durability::Full {
            return None;
        }
        self.with_idle_conn(id, |slot, conn| {
            if !slot.durable.all_durable() {
                return None;
            }
            slot.touch();
            control(conn, "BEGIN").ok()?;
            slot.budget.arm(DIRECT_BUDGET);
            let ran = run_atomically(conn, batch, &Mode::Apply);
            if slot.budget.disarm() {
                metrics::counter!("dotdo_backend_direct_writes_abandoned_total").increment(1);
                let _ = control(conn, "ROLLBACK");
                return None;
            }
            Some(self.commit_inline(id, slot, conn, ran))
        })
    }

    /// The end of `try_write` once its statements ran in time: COMMIT, then the WAL's fsync.
    fn commit_inline(
        &self,
        id: &ObjectId,
        slot: &Slot,
        conn: &Connection,
        ran: Result<super::exec::Ran, Error>,
    ) -> Result<Vec<StatementResult>, Error> {
        let ran = match ran {
            Ok(ran) => ran,
            Err(e) => {
                // Nothing of the batch is left; what it saw was durable already.
                if !conn.is_autocommit() {
                    let _ = control(conn, "ROLLBACK");
                }
                return Err(e);
            }
        };
        if let Err(e) = control(conn, "COMMIT") {
            let _ = control(conn, "ROLLBACK");
            return Err(e);
        }
        metrics::counter!("dotdo_backend_direct_writes_total").increment(1);
        if ran.wrote {
            slot.durable.committed();
            slot.durable
                .sync_wal(id, || files::object_path(&self.config.data_dir, id))?;
        }
        Ok(ran.results)
    }

    /// Answer a provisional dry run ([`crate::Backend::dry_run_provisional`]) at once on the
    /// calling thread: only when the object is open and idle (no group or transaction
    /// running). Unlike [`Registry::try_read`] it may run while commits await their fsync,
    /// since its reply need not wait at the output gate. Its effects are rolled back before
    /// the connection is let go, so the actor never sees them.
    pub(crate) fn try_dry_run(
        &self,
        id: &ObjectId,
        batch: &Batch,
    ) -> Option<Result<Vec<StatementResult>, Error>> {
        self.on_idle(id, |slot, conn| {
            slot.touch();
            metrics::counter!("dotdo_backend_direct_dry_runs_total").increment(1);
            Some(dry_run_on(conn, batch))
        })
    }

    /// Run `f` on the calling thread with an open object's connection, when the object is
    /// idle: no group or transaction running on its actor, none open on the connection.
    /// `None` means "ask the actor", as it does when `f` outlives [`DIRECT_BUDGET`]: SQLite
    /// then interrupts it, what it did is rolled back (it only reads, or rolls back itself)
    /// and the actor runs the batch afresh, so a long read never stalls the caller's thread.
    fn on_idle<T>(
        &self,
        id: &ObjectId,
        f: impl FnOnce(&Slot, &Connection) -> Option<T>,
    ) -> Option<T> {
        self.with_idle_conn(id, |slot, conn| {
            slot.budget.arm(DIRECT_BUDGET);
            let out = f(slot, conn);
            if !slot.budget.disarm() {
                return out;
            }
            metrics::counter!("dotdo_backend_direct_reads_abandoned_total").increment(1);
            if !conn.is_autocommit() {
                // A dry run's own ROLLBACK can meet the spent budget too: the actor must never
                // inherit the transaction.
                let _ = control(conn, "ROLLBACK");
            }
            None
        })
    }

    /// Run `f` on the calling thread with an open object's connection when its actor is idle
    /// and no transaction is open on it; `None` otherwise (or when `f` says so).
    fn with_idle_conn<T>(
        &self,
        id: &ObjectId,
        f: impl FnOnce(&Slot, &Connection) -> Option<T>,
    ) -> Option<T> {
        let slot = match self.objects.lock().get(id) {
            Some(Entry::Open(slot)) => slot.clone(),
            _ => return None,
        };
        if slot.actor_busy.load(Ordering::Acquire) {
            return None;
        }
        // Another direct caller holds it for a few microseconds; the actor flags itself first.
        let db = slot.db.try_lock_for(READER_WAIT)?;
        let conn = db.as_ref()?;
        if !conn.is_autocommit() {
            return None;
        }
        f(&slot, conn)
    }

    pub(crate) fn dequeued(&self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!("dotdo_backend_queue_depth").decrement(1.0);
    }

    pub(crate) fn opened(&self) {
        let n = self.open_conns.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::gauge!("dotdo_backend_objects_open").set(n as f64);
    }

    pub(crate) fn closed_conn(&self) {
        let n = self
            .open_conns
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1);
        metrics::gauge!("dotdo_backend_objects_open").set(n as f64);
    }

    /// Stop taking requests for `slot` if its queue is empty; new senders wait until
    /// `end_close`. Returns false (and changes nothing) if work is queued.
    pub(crate) fn begin_close(
        &self,
        id: &ObjectId,
        slot: &Arc<Slot>,
        rx: &Receiver<Queued>,
    ) -> bool {
        let mut map = self.objects.lock();
        let mut closed = slot.gate.lock();
        if *closed {
            return true;
        }
        if !rx.is_empty() {
            return false;
        }
        *closed = true;
        let (done_tx, done_rx) = watch::channel(false);
        *slot.closing.lock() = Some(done_tx);
        if matches!(map.get(id), Some(Entry::Open(s)) if Arc::ptr_eq(s, slot)) {
            map.insert(id.clone(), Entry::Closing(done_rx));
        }
        true
    }

    /// The actor has closed its connection: let waiting senders reopen the object.
    pub(crate) fn end_close(&self, id: &ObjectId, slot: &Arc<Slot>) {
        let mut map = self.objects.lock();
        if matches!(map.get(id), Some(Entry::Closing(_))) {
            map.remove(id);
        }
        drop(map);
        if let Some(done) = slot.closing.lock().take() {
            let _ = done.send(true);
        }
    }

    /// Refuse new requests, let every actor finish its queue and close, and wait for them.
    pub(crate) async fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        // An open that passed the shutting-down check just before it was set can still put
        // its object in the map after a first look: every pass asks what is new to close.
        let mut asked: HashSet<ObjectId> = HashSet::new();
        loop {
            let mut slots: Vec<Arc<Slot>> = Vec::new();
            {
                let objects = self.objects.lock();
                if objects.is_empty() {
                    return;
                }
                for (id, e) in objects.iter() {
                    if let Entry::Open(s) = e
                        && asked.insert(id.clone())
                    {
                        slots.push(s.clone());
                    }
                }
            }
            for slot in &slots {
                close_request(slot);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Run `batch` in a transaction of its own on `conn` and roll it back.
fn dry_run_on(conn: &Connection, batch: &Batch) -> Result<Vec<StatementResult>, Error> {
    control(conn, "BEGIN")?;
    let ran = run_batch(conn, batch).map(|ran| ran.results);
    // Some errors (OR ROLLBACK, I/O) have ended the transaction already.
    if !conn.is_autocommit() {
        control(conn, "ROLLBACK")?;
    }
    ran
}

fn close_request(slot: &Slot) {
    let _ = slot.sender.send(Queued {
        request: Request {
            command: Command::Close,
            enqueued: Instant::now(),
        },
        permit: None,
    });
}

fn least_recently_used(map: &HashMap<ObjectId, Entry>, except: &ObjectId) -> Option<Arc<Slot>> {
    map.iter()
        .filter(|(id, _)| *id != except)
        .filter_map(|(_, e)| match e {
            Entry::Open(s) => Some(s),
            Entry::Closing(_) => None,
        })
        .min_by_key(|s| s.last_used_ms.load(Ordering::Relaxed))
        .cloned()
}
