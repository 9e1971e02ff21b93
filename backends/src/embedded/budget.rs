//! A time budget for statements run on the caller's thread ([`super::registry::Registry`]'s
//! direct reads): past it SQLite interrupts the statement and the caller hands the batch to
//! the object's actor instead, so one long read never holds an event loop that other
//! connections share.
//!
//! The progress handler stays installed for the connection's life; the actor's own groups
//! run unarmed, where it costs one atomic load every [`PROGRESS_OPS`] VM steps.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// VM steps between looks at the clock (a few microseconds of work).
const PROGRESS_OPS: i32 = 1000;

/// How long a direct read may run before it is abandoned to the actor.
pub(crate) const DIRECT_BUDGET: Duration = Duration::from_millis(2);

/// The deadline of the direct run in progress on one connection, if any.
pub(crate) struct Budget {
    epoch: Instant,
    /// Nanoseconds after `epoch`; 0 while unarmed.
    deadline_ns: AtomicU64,
    /// Set when the handler interrupted a statement since the last [`Budget::arm`].
    fired: AtomicBool,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            deadline_ns: AtomicU64::new(0),
            fired: AtomicBool::new(false),
        }
    }
}

impl Budget {
    /// Install the handler that enforces this budget on `conn`.
    pub(crate) fn install(
        self: &std::sync::Arc<Self>,
        conn: &mut Connection,
    ) -> rusqlite::Result<()> {
        let budget = self.clone();
        conn.progress_handler(PROGRESS_OPS, Some(move || budget.expired()))
    }

    /// Statements run from now until [`Budget::disarm`] stop after `limit`.
    pub(crate) fn arm(&self, limit: Duration) {
        self.fired.store(false, Ordering::Relaxed);
        let ns = (self.epoch.elapsed() + limit).as_nanos() as u64;
        self.deadline_ns.store(ns.max(1), Ordering::Relaxed);
    }

    /// Ends the budget; true when it ran out (a statement was interrupted).
    pub(crate) fn disarm(&self) -> bool {
        self.deadline_ns.store(0, Ordering::Relaxed);
        self.fired.load(Ordering::Relaxed)
    }

    fn expired(&self) -> bool {
        let deadline = self.deadline_ns.load(Ordering::Relaxed);
        if deadline == 0 || (self.epoch.elapsed().as_nanos() as u64) < deadline {
            return false;
        }
        self.fired.store(true, Ordering::Relaxed);
        true
    }
}
