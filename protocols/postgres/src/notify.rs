//! LISTEN/NOTIFY: the listeners of every database this gateway serves, and each session's
//! channels and notifications held until its transaction commits.
//!
//! The state is the gateway's own (in memory, per process): a NOTIFY reaches the listeners
//! connected to the same gateway, as PostgreSQL's reaches the sessions of one server.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// Notifications a listener may have waiting before more are dropped (and logged): about
/// 32 MiB of the largest payloads. PostgreSQL's queue is 8 GB shared by every listener.
const INBOX_MAX: usize = 4096;

/// One delivered notification, as NotificationResponse carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The sending session's backend pid.
    pub pid: i32,
    pub channel: String,
    pub payload: String,
}

/// A connection's incoming notifications: filled by senders, drained by the connection
/// when it is idle or at the end of each query, as PostgreSQL delivers them.
#[derive(Default)]
pub struct Inbox {
    queue: Mutex<VecDeque<Notification>>,
    /// Woken when a notification arrives, so an idle connection sends it at once.
    pub wake: Notify,
}

impl Inbox {
    fn push(&self, n: Notification) {
        {
            let mut queue = self.queue.lock();
            if queue.len() >= INBOX_MAX {
                tracing::warn!(channel = %n.channel, "listener's notification queue is full: dropped");
                return;
            }
            queue.push_back(n);
        }
        self.wake.notify_one();
    }

    /// Every notification waiting, oldest first.
    pub fn drain(&self) -> Vec<Notification> {
        self.queue.lock().drain(..).collect()
    }
}

struct Listener {
    channels: HashSet<String>,
    inbox: Arc<Inbox>,
}

/// The listeners of each database (by name), by listener id.
#[derive(Default)]
pub struct Notifier {
    databases: Mutex<HashMap<String, HashMap<u64, Listener>>>,
    next_id: AtomicU64,
}

impl Notifier {
    fn listen(&self, db: &str, id: u64, inbox: &Arc<Inbox>, channel: &str) {
        let mut dbs = self.databases.lock();
        let listener = dbs
            .entry(db.to_owned())
            .or_default()
            .entry(id)
            .or_insert_with(|| Listener {
                channels: HashSet::new(),
                inbox: inbox.clone(),
            });
        listener.channels.insert(channel.to_owned());
    }

    fn unlisten(&self, db: &str, id: u64, channel: Option<&str>) {
        let mut dbs = self.databases.lock();
        let Some(listeners) = dbs.get_mut(db) else {
            return;
        };
        if let Some(l) = listeners.get_mut(&id) {
            match channel {
                Some(c) => {
                    l.channels.remove(c);
                }
                None => l.channels.clear(),
            }
            if l.channels.is_empty() {
                listeners.remove(&id);
            }
        }
        if listeners.is_empty() {
            dbs.remove(db);
        }
    }

    /// Deliver to every listener of `channel` in `db`, the sender included.
    fn send(&self, db: &str, n: &Notification) {
        let dbs = self.databases.lock();
        let Some(listeners) = dbs.get(db) else {
            return;
        };
        for l in listeners.values() {
            if l.channels.contains(&n.channel) {
                l.inbox.push(n.clone());
            }
        }
    }
}

enum Change {
    Listen(String),
    Unlisten(Option<String>),
}

/// One session's side of LISTEN/NOTIFY. Inside a transaction block, LISTEN/UNLISTEN and
/// NOTIFY take effect at COMMIT and are dropped at ROLLBACK, as in PostgreSQL.
pub struct SessionNotify {
    notifier: Arc<Notifier>,
    pub inbox: Arc<Inbox>,
    id: u64,
    db: String,
    pid: i32,
    /// Notifications of the open block, without duplicates (PostgreSQL folds identical
    /// channel and payload pairs of one transaction into one).
    pending: Vec<(String, String)>,
    changes: Vec<Change>,
}

impl SessionNotify {
    pub fn new(notifier: Arc<Notifier>, inbox: Arc<Inbox>, db: &str, pid: i32) -> Self {
        let id = notifier.next_id.fetch_add(1, Ordering::Relaxed);
        Self {
            notifier,
            inbox,
            id,
            db: db.to_owned(),
            pid,
            pending: Vec::new(),
            changes: Vec::new(),
        }
    }

    pub fn listen(&mut self, channel: String, in_block: bool) {
        if in_block {
            self.changes.push(Change::Listen(channel));
        } else {
            self.notifier
                .listen(&self.db, self.id, &self.inbox, &channel);
        }
    }

    pub fn unlisten(&mut self, channel: Option<String>, in_block: bool) {
        if in_block {
            self.changes.push(Change::Unlisten(channel));
        } else {
            self.notifier
                .unlisten(&self.db, self.id, channel.as_deref());
        }
    }

    pub fn notify(&mut self, channel: String, payload: String, in_block: bool) {
        if in_block {
            if !self
                .pending
                .iter()
                .any(|(c, p)| *c == channel && *p == payload)
            {
                self.pending.push((channel, payload));
            }
        } else {
            self.deliver(channel, payload);
        }
    }

    fn deliver(&self, channel: String, payload: String) {
        let n = Notification {
            pid: self.pid,
            channel,
            payload,
        };
        self.notifier.send(&self.db, &n);
    }

    /// Whether the open block holds anything to apply or drop at its end.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || !self.changes.is_empty()
    }

    /// The block committed: apply its LISTEN/UNLISTEN, then send its notifications.
    pub fn commit(&mut self) {
        for change in std::mem::take(&mut self.changes) {
            match change {
                Change::Listen(c) => self.listen(c, false),
                Change::Unlisten(c) => self.unlisten(c, false),
            }
        }
        for (channel, payload) in std::mem::take(&mut self.pending) {
            self.deliver(channel, payload);
        }
    }

    /// The block rolled back: forget it.
    pub fn rollback(&mut self) {
        self.pending.clear();
        self.changes.clear();
    }
}

impl Drop for SessionNotify {
    fn drop(&mut self) {
        self.notifier.unlisten(&self.db, self.id, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(n: &Arc<Notifier>, db: &str, pid: i32) -> SessionNotify {
        SessionNotify::new(n.clone(), Arc::default(), db, pid)
    }

    #[test]
    fn delivers_to_listeners_of_the_same_database_only() {
        let n = Arc::new(Notifier::default());
        let mut a = session(&n, "app", 1);
        let b = session(&n, "other", 2);
        let mut c = session(&n, "app", 3);
        a.listen("ch".into(), false);
        c.notify("ch".into(), "hi".into(), false);
        c.notify("nobody".into(), "x".into(), false);
        assert_eq!(
            a.inbox.drain(),
            vec![Notification {
                pid: 3,
                channel: "ch".into(),
                payload: "hi".into()
            }]
        );
        assert!(b.inbox.drain().is_empty());
        a.unlisten(None, false);
        c.notify("ch".into(), "again".into(), false);
        assert!(a.inbox.drain().is_empty());
        assert!(n.databases.lock().is_empty());
    }

    #[test]
    fn a_block_sends_at_commit_once_per_pair_and_nothing_at_rollback() {
        let n = Arc::new(Notifier::default());
        let mut a = session(&n, "app", 1);
        a.listen("ch".into(), true);
        a.notify("ch".into(), "x".into(), true);
        a.rollback();
        a.notify("ch".into(), "x".into(), false);
        assert!(a.inbox.drain().is_empty(), "the LISTEN was rolled back");
        a.listen("ch".into(), true);
        a.notify("ch".into(), "x".into(), true);
        a.notify("ch".into(), "x".into(), true);
        a.notify("ch".into(), "y".into(), true);
        assert!(a.inbox.drain().is_empty());
        a.commit();
        let got: Vec<String> = a.inbox.drain().into_iter().map(|n| n.payload).collect();
        assert_eq!(got, ["x", "y"]);
        drop(a);
        assert!(n.databases.lock().is_empty());
    }
}
