//! The output gate's fsync, on its own thread: the actor commits the next group while the
//! previous one's WAL sync is in flight, and the syncer releases replies once a sync covers
//! everything they may have seen.
//!
//! Invariant: a reply handed to [`Syncer::release`] leaves only after an fsync that began
//! after every commit made before it was handed over (or at once when none was pending).
//! Commits are counted (`committed`) after SQLite's COMMIT returns, and the syncer reads the
//! count before each fsync, so `synced` never claims a commit the fsync did not cover.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::actor::Reply;
use super::files;
use crate::{Error, ObjectId, StatementResult};

/// A reply waiting at the output gate, with when its request was queued.
pub(crate) type Held = (
    Reply<Vec<StatementResult>>,
    Result<Vec<StatementResult>, Error>,
    Instant,
);

enum Job {
    Release(Vec<Held>),
    /// Answered once everything committed before it is durable.
    Barrier(Sender<Result<(), Error>>),
}

/// What is committed and what is durable, shared by the actor, its syncer and readers.
#[derive(Default)]
pub(crate) struct Shared {
    committed: AtomicU64,
    synced: AtomicU64,
    /// A WAL fsync failed: the kernel may have dropped the dirty pages, so a later fsync
    /// proves nothing. The object must be closed and recovered from what is on disk.
    poisoned: AtomicBool,
    /// Jobs handed to the syncer thread and not yet done.
    queued: AtomicU64,
    /// The WAL, opened at the first sync; held while a sync runs.
    wal: parking_lot::Mutex<Option<File>>,
}

pub(crate) struct Syncer {
    jobs: Option<Sender<Job>>,
    /// The same WAL as the thread's, for syncs made on the actor's own thread.
    wal: Wal,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    last_sync: Instant,
}

impl Shared {
    /// Every commit is durable (and no sync has failed).
    pub(crate) fn all_durable(&self) -> bool {
        !self.poisoned.load(Ordering::SeqCst)
            && self.committed.load(Ordering::SeqCst) <= self.synced.load(Ordering::SeqCst)
    }
}

impl Syncer {
    /// A syncer for the WAL beside the database at `db_path` (opened at the first sync).
    pub(crate) fn start(
        id: &ObjectId,
        db_path: &std::path::Path,
        shared: Arc<Shared>,
    ) -> Result<Self, Error> {
        let (jobs, rx) = crossbeam_channel::unbounded();
        let worker = Worker {
            wal: worker_wal(id, db_path, &shared),
        };
        let name = format!("sync:{}", id.name.chars().take(10).collect::<String>());
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || worker.run(&rx))
            .map_err(|e| Error::Io(format!("starting a WAL sync thread: {e}")))?;
        Ok(Self {
            jobs: Some(jobs),
            wal: worker_wal(id, db_path, &shared),
            shared,
            thread: Some(thread),
            last_sync: Instant::now(),
        })
    }

    /// A transaction that wrote has committed to the WAL.
    pub(crate) fn committed(&self) {
        self.shared.committed();
    }

    /// Commits not yet covered by an fsync.
    pub(crate) fn pending(&self) -> bool {
        self.shared.committed.load(Ordering::SeqCst) > self.shared.synced.load(Ordering::SeqCst)
    }

    pub(crate) fn poisoned(&self) -> bool {
        self.shared.poisoned.load(Ordering::SeqCst)
    }

    pub(crate) fn since_last_sync(&self) -> std::time::Duration {
        self.last_sync.elapsed()
    }

    /// Send `replies` once everything committed so far is durable; at once when `gate` is
    /// false (relaxed durability) or nothing is pending.
    ///
    /// With `inline`, when the thread has nothing queued the sync runs here, on the actor's
    /// thread: the actor has no next group waiting to commit meanwhile, so handing the sync
    /// over would only add a thread wake-up (and its latency) to every reply.
    pub(crate) fn release(&self, replies: Vec<Held>, gate: bool, inline: bool) {
        if replies.is_empty() {
            return;
        }
        if gate && (self.pending() || self.poisoned()) {
            if inline && self.shared.queued.load(Ordering::SeqCst) == 0 {
                let gate = self.wal.sync();
                send_all(replies, &gate);
                return;
            }
            if let Some(jobs) = &self.jobs {
                self.shared.queued.fetch_add(1, Ordering::SeqCst);
                if let Err(crossbeam_channel::SendError(Job::Release(replies))) =
                    jobs.send(Job::Release(replies))
                {
                    self.shared.queued.fetch_sub(1, Ordering::SeqCst);
                    send_all(replies, &Err(Error::ShuttingDown));
                }
            }
            return;
        }
        send_all(replies, &Ok(()));
    }

    /// Block until everything committed so far is durable.
    pub(crate) fn wait(&mut self) -> Result<(), Error> {
        if !self.pending() && !self.poisoned() {
            return Ok(());
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let jobs = self.jobs.as_ref().ok_or(Error::ShuttingDown)?;
        self.shared.queued.fetch_add(1, Ordering::SeqCst);
        if jobs.send(Job::Barrier(tx)).is_err() {
            self.shared.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::ShuttingDown);
        }
        let result = rx.recv().map_err(|_| Error::ShuttingDown)?;
        self.last_sync = Instant::now();
        result
    }
}

impl Drop for Syncer {
    /// Finish the queued releases, then stop the thread.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Send a reply that need not wait at the output gate.
pub(crate) fn send_now((reply, result, enqueued): Held) {
    metrics::histogram!("dotdo_backend_batch_seconds").record(enqueued.elapsed().as_secs_f64());
    let _ = reply.send(result);
}

fn send_all(replies: Vec<Held>, gate: &Result<(), Error>) {
    for (reply, result, enqueued) in replies {
        let result = match (gate, result) {
            (Err(e), _) => Err(e.clone()),
            (Ok(()), r) => r,
        };
        metrics::histogram!("dotdo_backend_batch_seconds").record(enqueued.elapsed().as_secs_f64());
        let _ = reply.send(result);
    }
}

/// The WAL file of one object and how to make it durable; the syncer thread and the actor
/// share it (`Shared::wal` is held while a sync runs).
struct Wal {
    id: ObjectId,
    /// The object's database file (the WAL is beside it).
    db_path: PathBuf,
    shared: Arc<Shared>,
}

fn worker_wal(id: &ObjectId, db_path: &std::path::Path, shared: &Arc<Shared>) -> Wal {
    Wal {
        id: id.clone(),
        db_path: db_path.to_path_buf(),
        shared: shared.clone(),
    }
}

struct Worker {
    wal: Wal,
}

impl Worker {
    fn run(self, rx: &Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut jobs = vec![first];
            jobs.extend(rx.try_iter());
            let gate = self.wal.sync();
            let done = jobs.len() as u64;
            for job in jobs {
                match job {
                    Job::Release(replies) => send_all(replies, &gate),
                    Job::Barrier(tx) => {
                        let _ = tx.send(gate.clone());
                    }
                }
            }
            self.wal.shared.queued.fetch_sub(done, Ordering::SeqCst);
        }
    }
}

impl Wal {
    /// Make every commit counted so far durable.
    fn sync(&self) -> Result<(), Error> {
        self.shared.sync_wal(&self.id, || self.db_path.clone())
    }
}

impl Shared {
    /// Make every commit counted so far durable, on the calling thread. The WAL beside the
    /// database file (`db_path`, asked for only then) is opened at the first sync, with its
    /// directory synced (the WAL was created after the directory's last sync), then kept.
    pub(crate) fn sync_wal(
        &self,
        id: &ObjectId,
        db_path: impl FnOnce() -> PathBuf,
    ) -> Result<(), Error> {
        let failed = || Error::Io(format!("WAL sync of {id} failed"));
        let mut wal = self.wal.lock();
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(failed());
        }
        let target = self.committed.load(Ordering::SeqCst);
        if target <= self.synced.load(Ordering::SeqCst) {
            return Ok(());
        }
        if wal.is_none() {
            let db_path = db_path();
            let mut wal_path = db_path.clone().into_os_string();
            wal_path.push("-wal");
            let file =
                File::open(wal_path).map_err(|e| Error::Io(format!("opening WAL of {id}: {e}")))?;
            if let Some(dir) = db_path.parent() {
                files::sync_dir(dir)?;
            }
            *wal = Some(file);
        }
        if let Some(file) = wal.as_ref()
            && let Err(e) = file.sync_data()
        {
            tracing::error!(object = %id, error = %e, "WAL fsync failed; closing the object");
            self.poisoned.store(true, Ordering::SeqCst);
            return Err(failed());
        }
        metrics::counter!("dotdo_backend_fsyncs_total").increment(1);
        self.synced.fetch_max(target, Ordering::SeqCst);
        Ok(())
    }

    /// A transaction that wrote has committed to the WAL (counted before any sync may claim
    /// it).
    pub(crate) fn committed(&self) {
        self.committed.fetch_add(1, Ordering::SeqCst);
    }
}
