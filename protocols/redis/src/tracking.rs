//! Client-side caching (CLIENT TRACKING): which clients read which keys, and the `invalidate`
//! messages they get when those keys change, as Redis 7 sends them.
//!
//! - Default mode: the keys a tracking client reads are remembered (key → client ids; one
//!   table for every database, as in Redis). A change to such a key sends each of those
//!   clients one invalidation and forgets the key.
//! - BCAST mode: a client names prefixes (none: every key) and hears of every change to a key
//!   under one of them; nothing is remembered per key.
//! - RESP3 clients get `>2 invalidate [keys]` pushes. REDIRECT sends them instead, as
//!   messages on `__redis__:invalidate`, to another client subscribed to that channel (the
//!   RESP2 way); a RESP2 client that does not redirect gets nothing, as in Redis.
//! - FLUSHDB / FLUSHALL send every tracking client an invalidation with a null key list.
//!
//! Changes are seen where every write ends, in a shard's commit (commands, scripts, lazy and
//! active expiry alike), at the cost of one load while no client tracks.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::frame::Reply;
use crate::pubsub::{Outbox, PubSub};

/// The channel redirected invalidations are published on.
pub const CHANNEL: &str = "__redis__:invalidate";

thread_local! {
    /// The client whose command is running on this thread (0: none, e.g. the sweep), for
    /// NOLOOP.
    static MODIFIER: Cell<u64> = const { Cell::new(0) };
}

/// Mark `client` as the one whose command runs on this thread until the guard drops.
pub fn running(client: u64) -> ModifierGuard {
    MODIFIER.with(|m| m.set(client));
    ModifierGuard
}

pub struct ModifierGuard;

impl Drop for ModifierGuard {
    fn drop(&mut self) {
        MODIFIER.with(|m| m.set(0));
    }
}

/// What CLIENT TRACKING ON asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub redirect: Option<u64>,
    pub bcast: bool,
    pub prefixes: Vec<Bytes>,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
}

/// Where a redirecting client's invalidations go: the target's queue, and its protocol as
/// CLIENT LIST sees it.
pub struct Target {
    pub outbox: Outbox,
    pub live: Arc<Mutex<crate::session::Live>>,
}

struct Client {
    options: Options,
    target: Option<Target>,
    outbox: Outbox,
    resp3: bool,
    /// The redirect target's connection closed.
    target_gone: bool,
    /// ... and an invalidation found it gone (CLIENT TRACKINGINFO's `broken_redirect`).
    broken: bool,
}

#[derive(Default)]
struct Inner {
    clients: HashMap<u64, Client>,
    /// Default mode: key → the clients that read it since its last change.
    keys: HashMap<Bytes, HashSet<u64>>,
    /// BCAST clients, so a change visits only them.
    bcast: HashSet<u64>,
    /// What BCAST clients are owed, sent as one message each when the command (or sweep
    /// tick) ends, as Redis sends them once per event-loop turn.
    owed: HashMap<u64, Vec<Bytes>>,
}

pub struct Tracking {
    /// Clients with tracking on: 0 keeps every commit to one load.
    active: AtomicUsize,
    /// `tracking-table-max-keys` (0: unbounded); past it, keys are forgotten with an
    /// invalidation, as Redis does.
    max_keys: AtomicUsize,
    inner: Mutex<Inner>,
    pubsub: Arc<PubSub>,
}

impl Tracking {
    pub fn new(pubsub: Arc<PubSub>) -> Self {
        Self {
            active: AtomicUsize::new(0),
            max_keys: AtomicUsize::new(1_000_000),
            inner: Mutex::default(),
            pubsub,
        }
    }

    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    pub fn max_keys(&self) -> usize {
        self.max_keys.load(Ordering::Relaxed)
    }

    pub fn set_max_keys(&self, n: usize) {
        self.max_keys.store(n, Ordering::Relaxed);
    }

    /// Keys in the default-mode table (INFO's `tracking_total_keys`).
    pub fn total_keys(&self) -> usize {
        self.inner.lock().keys.len()
    }

    /// Client ids in the key table (INFO's `tracking_total_items`).
    pub fn total_items(&self) -> usize {
        self.inner.lock().keys.values().map(HashSet::len).sum()
    }

    pub fn total_prefixes(&self) -> usize {
        let inner = self.inner.lock();
        inner
            .bcast
            .iter()
            .filter_map(|id| inner.clients.get(id))
            .map(|c| c.options.prefixes.len().max(1))
            .sum()
    }

    pub fn clients(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Turn tracking on (or change its options) for `client`.
    pub fn enable(
        &self,
        client: u64,
        options: Options,
        target: Option<Target>,
        outbox: Outbox,
        resp3: bool,
    ) {
        let mut inner = self.inner.lock();
        if options.bcast {
            inner.bcast.insert(client);
        } else {
            inner.bcast.remove(&client);
        }
        let fresh = inner
            .clients
            .insert(
                client,
                Client {
                    options,
                    target,
                    outbox,
                    resp3,
                    target_gone: false,
                    broken: false,
                },
            )
            .is_none();
        if fresh {
            self.active.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Turn tracking off (CLIENT TRACKING OFF, RESET, the connection closing). The client's
    /// entries in the key table are skipped from now on and go with their keys.
    pub fn disable(&self, client: u64) {
        let mut inner = self.inner.lock();
        inner.bcast.remove(&client);
        if inner.clients.remove(&client).is_some() {
            self.active.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// A connection closed: its tracking ends, and clients redirecting to it lose their
    /// target.
    pub fn gone(&self, client: u64) {
        self.disable(client);
        let mut inner = self.inner.lock();
        for c in inner.clients.values_mut() {
            if c.options.redirect == Some(client) {
                c.target_gone = true;
            }
        }
    }

    /// The client switched protocols (HELLO).
    pub fn set_resp3(&self, client: u64, resp3: bool) {
        if let Some(c) = self.inner.lock().clients.get_mut(&client) {
            c.resp3 = resp3;
        }
    }

    /// CLIENT TRACKINGINFO's `broken_redirect` flag.
    pub fn broken(&self, client: u64) -> bool {
        self.inner
            .lock()
            .clients
            .get(&client)
            .is_some_and(|c| c.broken)
    }

    /// Remember that `client` read `keys` (default mode).
    pub fn remember<'k>(&self, client: u64, keys: impl IntoIterator<Item = &'k Bytes>) {
        let max = self.max_keys();
        let mut inner = self.inner.lock();
        for key in keys {
            match inner.keys.get_mut(key) {
                Some(ids) => {
                    ids.insert(client);
                }
                None => {
                    inner.keys.insert(key.clone(), HashSet::from([client]));
                }
            }
        }
        // Over the limit: forget some keys, telling their readers (Redis evicts at random).
        while max > 0 && inner.keys.len() > max {
            let Some(key) = inner.keys.keys().next().cloned() else {
                break;
            };
            Self::invalidate_key(&mut inner, &self.pubsub, &key, 0);
        }
    }

    /// `keys` changed (one commit's, maybe repeated): tell whoever may have cached them. A
    /// BCAST client gets one message with those under its prefixes.
    pub fn modified(&self, keys: &[Bytes]) {
        let modifier = MODIFIER.with(Cell::get);
        let mut inner = self.inner.lock();
        let mut unique: Vec<&Bytes> = Vec::with_capacity(keys.len());
        if keys.len() <= 8 {
            for key in keys {
                if !unique.contains(&key) {
                    unique.push(key);
                }
            }
        } else {
            let mut seen = HashSet::with_capacity(keys.len());
            unique.extend(keys.iter().filter(|k| seen.insert(*k)));
        }
        for key in &unique {
            Self::invalidate_key(&mut inner, &self.pubsub, key, modifier);
        }
        if inner.bcast.is_empty() {
            return;
        }
        let Inner {
            clients,
            bcast,
            owed,
            ..
        } = &mut *inner;
        for id in bcast.iter() {
            let Some(c) = clients.get(id) else {
                continue;
            };
            if c.options.noloop && *id == modifier {
                continue;
            }
            let under = unique.iter().filter(|k| {
                c.options.prefixes.is_empty() || c.options.prefixes.iter().any(|p| k.starts_with(p))
            });
            let list = owed.entry(*id).or_default();
            for k in under {
                if !list.contains(k) {
                    list.push((*k).clone());
                }
            }
        }
        owed.retain(|_, keys| !keys.is_empty());
    }

    /// Send BCAST clients what they are owed (after each command and sweep tick).
    pub fn settle(&self) {
        let mut inner = self.inner.lock();
        if inner.owed.is_empty() {
            return;
        }
        let owed = std::mem::take(&mut inner.owed);
        for (id, keys) in owed {
            if let Some(c) = inner.clients.get_mut(&id) {
                Self::send(
                    &self.pubsub,
                    c,
                    Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
                );
            }
        }
    }

    /// FLUSHDB / FLUSHALL: every tracking client drops its whole cache.
    pub fn flushed(&self) {
        let mut inner = self.inner.lock();
        inner.keys.clear();
        let Inner { clients, .. } = &mut *inner;
        for c in clients.values_mut() {
            Self::send(&self.pubsub, c, Reply::NilArray);
        }
    }

    fn invalidate_key(inner: &mut Inner, pubsub: &PubSub, key: &Bytes, modifier: u64) {
        let Some(ids) = inner.keys.remove(key) else {
            return;
        };
        for id in ids {
            let Some(c) = inner.clients.get_mut(&id) else {
                continue;
            };
            if c.options.bcast || (c.options.noloop && id == modifier) {
                continue;
            }
            Self::send(pubsub, c, Reply::Array(vec![Reply::Bulk(key.clone())]));
        }
    }

    /// Deliver one invalidation (`keys`: an array of keys, or a null array for a flush).
    fn send(pubsub: &PubSub, c: &mut Client, keys: Reply) {
        match c.options.redirect {
            // Redis tells a RESP3 client once, and sends nothing more.
            Some(_) if c.target_gone && c.broken => {}
            Some(target) if c.target_gone => {
                c.broken = true;
                if c.resp3 {
                    c.outbox.send(Reply::Push(vec![
                        Reply::bulk("tracking-redir-broken"),
                        Reply::Int(target as i64),
                    ]));
                }
            }
            Some(target) => {
                // A RESP3 target gets the push itself; a RESP2 one a message on the
                // channel, if it listens there (Redis's rules).
                if let Some(t) = c.target.as_ref().filter(|t| t.live.lock().resp3) {
                    t.outbox
                        .send(Reply::Push(vec![Reply::bulk("invalidate"), keys]));
                    return;
                }
                let message = Reply::Push(vec![Reply::bulk("message"), Reply::bulk(CHANNEL), keys]);
                pubsub.send_to(CHANNEL.as_bytes(), target, message);
            }
            None if c.resp3 => {
                c.outbox
                    .send(Reply::Push(vec![Reply::bulk("invalidate"), keys]));
            }
            // RESP2 without a redirect has no way to receive them.
            None => {}
        }
    }
}
