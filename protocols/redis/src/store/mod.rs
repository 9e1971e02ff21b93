//! How the keyspace lives in objects: one namespace per logical DB (`redis/<db>`), keys
//! spread over shard objects by Redis Cluster slot, each shard mirrored by an in-memory image.
//!
//! Commands apply to the image under the shard's lock and record the SQL that repeats their
//! change on the object; the shard's writer runs those statements in order, folding whatever
//! queued up into one batch. A reply that depends on a change (a write, or a read that may have
//! seen an unsynced write) is released only once the writer reports it durable, so clients
//! never see data that could be lost. The image assumes this gateway is the only writer of its
//! shard objects.

mod redo;
mod shard;
pub mod sql;
pub mod stream;
pub mod value;
pub mod view;

use std::sync::Arc;

use bytes::Bytes;

use dotdo_backend::{ObjectId, SharedBackend};
use dotdo_shard::SlotMap;
use tokio::sync::OnceCell;

pub use shard::{Shard, ShardState, page_end};
pub use value::{Entry, List, Value, ZSet};
pub use view::{Ticket, View};

use crate::error::Error;

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Keys the active sweep removed from one shard of database `db`, durable at `seq`.
pub struct Expired {
    pub db: usize,
    pub keys: Vec<Bytes>,
    pub shard: Arc<Shard>,
    pub seq: u64,
}

/// One logical database (SELECT n).
pub struct Db {
    namespace: String,
    shards: Vec<OnceCell<Arc<Shard>>>,
    backend: SharedBackend,
    tracking: Arc<crate::tracking::Tracking>,
    /// The runtime the shard writers run on (see `Keyspace::new`).
    writers: Option<tokio::runtime::Handle>,
}

impl Db {
    /// The shard at `index` if it is loaded already: no wait, no future.
    #[inline]
    pub fn loaded_shard(&self, index: u16) -> Option<&Arc<Shard>> {
        self.shards.get(usize::from(index))?.get()
    }

    pub async fn shard(&self, index: u16) -> Result<Arc<Shard>, Error> {
        let cell = self
            .shards
            .get(usize::from(index))
            .ok_or_else(|| Error::Storage(format!("no shard {index}")))?;
        cell.get_or_try_init(|| {
            let id = ObjectId::new(self.namespace.clone(), format!("shard-{index:05}"));
            Shard::load(
                self.backend.clone(),
                id,
                self.tracking.clone(),
                self.writers.as_ref(),
            )
        })
        .await
        .cloned()
    }

    /// Load every shard of this database that has an object already (data written before a
    /// restart), so the sweep and INFO keyspace see its keys before any command touches them.
    pub async fn load_existing(&self) -> Result<usize, Error> {
        let names = self
            .backend
            .list_objects(&self.namespace)
            .await
            .map_err(|e| Error::Storage(e.to_string()))?;
        let mut loaded = 0;
        for name in names {
            let Some(index) = name
                .strip_prefix("shard-")
                .and_then(|n| n.parse::<u16>().ok())
                .filter(|i| *i < self.shard_count())
            else {
                continue;
            };
            self.shard(index).await?;
            loaded += 1;
        }
        Ok(loaded)
    }

    /// Shards loaded so far, with their indexes.
    pub fn loaded_shards(&self) -> Vec<(u16, Arc<Shard>)> {
        (0..)
            .zip(&self.shards)
            .filter_map(|(i, c)| Some((i, Arc::clone(c.get()?))))
            .collect()
    }

    /// Shards loaded so far (the sweep visits only these).
    pub fn loaded(&self) -> impl Iterator<Item = &Arc<Shard>> {
        self.shards.iter().filter_map(|c| c.get())
    }

    pub fn shard_count(&self) -> u16 {
        self.shards.len() as u16
    }
}

/// Every logical database.
pub struct Keyspace {
    pub slots: SlotMap,
    dbs: Vec<Db>,
}

impl Keyspace {
    /// `writers`: the runtime every shard's writer runs on; `None` for the runtime that
    /// loads the shard. An event loop's own runtime lets a writer commit on that thread
    /// (see `store::shard`'s `write_loop`), as redis-server's loop writes its AOF.
    pub fn new(
        backend: SharedBackend,
        databases: u8,
        shards: u16,
        tracking: Arc<crate::tracking::Tracking>,
        writers: Option<tokio::runtime::Handle>,
    ) -> Self {
        let slots = SlotMap::new(u32::from(shards));
        let dbs = (0..databases)
            .map(|i| Db {
                namespace: format!("redis/{i}"),
                shards: (0..slots.shards()).map(|_| OnceCell::new()).collect(),
                backend: backend.clone(),
                tracking: tracking.clone(),
                writers: writers.clone(),
            })
            .collect();
        Self { slots, dbs }
    }

    pub fn db(&self, index: usize) -> Option<&Db> {
        self.dbs.get(index)
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    /// Load the shards every database has objects for (at start: as Redis loads its dataset).
    pub async fn load_existing(&self) -> Result<usize, Error> {
        let mut loaded = 0;
        for db in &self.dbs {
            loaded += db.load_existing().await?;
        }
        Ok(loaded)
    }

    /// Live keys and keys with a TTL of each database, in its loaded shards.
    /// Per database: live keys, live keys with a TTL, and their mean remaining TTL in ms
    /// (INFO keyspace). Walks the expiry index only, not every key.
    pub fn key_counts(&self) -> Vec<(usize, usize, i64)> {
        let now = now_ms();
        self.dbs
            .iter()
            .map(|db| {
                let (mut keys, mut expires, mut ttl_sum) = (0, 0, 0i128);
                for shard in db.loaded() {
                    let st = shard.state.lock();
                    for (at, _) in st.expires.iter().skip_while(|(at, _)| *at <= now) {
                        expires += 1;
                        ttl_sum += i128::from(*at - now);
                    }
                    keys += st.live_len(now);
                }
                let avg_ttl = if expires == 0 {
                    0
                } else {
                    (ttl_sum / expires as i128) as i64
                };
                (keys, expires, avg_ttl)
            })
            .collect()
    }

    /// Remove expired keys from every loaded shard that is free, at most `limit` per shard, so
    /// writers never wait long behind the sweep.
    /// With `expired` set, the keys removed are pushed there with their database, their shard
    /// and the sequence number their deletion is durable at (for keyspace notifications).
    pub fn sweep(&self, limit: usize, mut expired: Option<&mut Vec<Expired>>) -> usize {
        let now = now_ms();
        let mut removed = 0;
        for (i, db) in self.dbs.iter().enumerate() {
            for shard in db.loaded() {
                // A shard busy now (a long script, a big command) is swept at the next tick:
                // the sweep never waits, so it never holds up the runtime it runs on.
                let Some(mut st) = shard.state.try_lock() else {
                    continue;
                };
                let mut keys = Vec::new();
                for key in st.expired(now, limit) {
                    match st.delete(&key) {
                        Some(_) => {
                            removed += 1;
                            keys.push(key);
                        }
                        None => {
                            st.expires.retain(|(_, k)| k != &key);
                        }
                    }
                }
                crate::traffic::expired(keys.len() as u64);
                let seq = st.commit(shard);
                if let Some(out) = expired.as_mut()
                    && !keys.is_empty()
                {
                    out.push(Expired {
                        db: i,
                        keys,
                        shard: Arc::clone(shard),
                        seq,
                    });
                }
            }
        }
        removed
    }
}
