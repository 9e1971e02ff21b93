//! Settings of the embedded backend, with their defaults.

use std::path::PathBuf;
use std::time::Duration;

use crate::{Error, ObjectId};

/// Page size of objects that hold a log of large blobs (see [`EmbeddedConfig::storage`]):
/// a 1 MiB record batch takes 32 overflow pages instead of 256, and SQLite writes each page
/// with its own system calls (WAL frame, checkpoint read and write).
pub const LOG_PAGE_SIZE: u32 = 32 * 1024;
/// WAL bytes a log object accumulates before SQLite checkpoints it: a produce burst of up
/// to this much per partition is written to disk once (into the WAL) rather than twice, and
/// the checkpoint runs later (when the WAL reaches it again, or when the idle object
/// closes). It also bounds the WAL that a restart reads back.
pub const LOG_WAL_BYTES: u32 = 128 * 1024 * 1024;

/// WAL pages a Redis shard object (`redis/<db>` objects named `shard-<n>`) accumulates before
/// SQLite checkpoints it. Its commits are small and come one after another (a page or two
/// each, each fsynced), and its writer may commit on the event loop's thread, which then
/// also runs the checkpoint: a 4 MiB bound keeps each checkpoint short, and ends sooner the
/// stretch after an object opens where every commit extends the WAL file (an fsync that
/// must also write the file's new size and blocks costs about 1.5 times an overwrite's
/// here: INCR `-P 1` on a new object went from 54k to 74k requests/s).
pub const REDIS_SHARD_WAL_PAGES: u32 = 1_000;

/// SQLite settings of one object's database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Storage {
    /// Page size of a new database (an existing one keeps its own).
    pub page_size: Option<u32>,
    pub wal_autocheckpoint_pages: u32,
}

/// When replies are released relative to the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Every reply waits for an fsync of the WAL that covers it (the output gate). Default.
    #[default]
    Full,
    /// Replies leave as soon as the batch commits to the WAL; the WAL is synced in the
    /// background at least every `relaxed_sync_ms`. A crash may lose that much acknowledged
    /// work. Only for users who choose speed over durability.
    Relaxed,
}

#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedConfig {
    /// Directory holding one SQLite file per object. Default `./data`.
    pub data_dir: PathBuf,
    /// Objects open at once; the least recently used idle one is closed beyond this.
    /// Default 512.
    pub max_open_objects: usize,
    /// An object with no request for this long is closed. Default 60 000 ms.
    pub idle_timeout_ms: u64,
    /// How long `begin` waits for an object's writer. Default 5 000 ms.
    pub lock_timeout_ms: u64,
    /// An interactive transaction idle for this long is rolled back, freeing the writer.
    /// Default 60 000 ms.
    pub transaction_idle_timeout_ms: u64,
    /// Requests queued per object before senders wait (back-pressure). Default 4 096.
    pub queue_depth: usize,
    /// Most batches run under one commit and one fsync. Default 1 024.
    pub max_group: usize,
    /// Statements allowed in one batch. Default 100 000.
    pub max_batch_statements: usize,
    pub durability: Durability,
    /// With `durability = "relaxed"`, the longest time between WAL syncs. Default 1 000 ms.
    pub relaxed_sync_ms: u64,
    /// WAL pages between automatic checkpoints. Default 4 000 (Kafka partition logs have
    /// their own bound, `LOG_WAL_BYTES`; Redis shards at most `REDIS_SHARD_WAL_PAGES`).
    pub wal_autocheckpoint_pages: u32,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            max_open_objects: 512,
            idle_timeout_ms: 60_000,
            lock_timeout_ms: 5_000,
            transaction_idle_timeout_ms: 60_000,
            queue_depth: 4_096,
            max_group: 1_024,
            max_batch_statements: 100_000,
            durability: Durability::Full,
            relaxed_sync_ms: 1_000,
            wal_autocheckpoint_pages: 4_000,
        }
    }
}

impl EmbeddedConfig {
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            ..Self::default()
        }
    }

    pub fn validate(&self) -> Result<(), Error> {
        let positive = [
            ("max_open_objects", self.max_open_objects as u64),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("lock_timeout_ms", self.lock_timeout_ms),
            (
                "transaction_idle_timeout_ms",
                self.transaction_idle_timeout_ms,
            ),
            ("queue_depth", self.queue_depth as u64),
            ("max_group", self.max_group as u64),
            ("max_batch_statements", self.max_batch_statements as u64),
            ("relaxed_sync_ms", self.relaxed_sync_ms),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(Error::Invalid(format!(
                    "backend.{name} must be greater than 0"
                )));
            }
        }
        if self.queue_depth > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(Error::Invalid("backend.queue_depth is too large".into()));
        }
        Ok(())
    }

    /// The SQLite settings for `id`. Kafka partition logs (`kafka/<tenant>` objects named
    /// `p/<topic>/<partition>`) hold large record batches appended in bursts, and get
    /// larger pages and a larger WAL before checkpoints; Redis shards a smaller WAL
    /// ([`REDIS_SHARD_WAL_PAGES`], or `wal_autocheckpoint_pages` if lower); every other
    /// object gets SQLite's default page size and `wal_autocheckpoint_pages`.
    pub(crate) fn storage(&self, id: &ObjectId) -> Storage {
        if id.namespace.starts_with("kafka/") && id.name.starts_with("p/") {
            return Storage {
                page_size: Some(LOG_PAGE_SIZE),
                wal_autocheckpoint_pages: LOG_WAL_BYTES / LOG_PAGE_SIZE,
            };
        }
        if id.namespace.starts_with("redis/") && id.name.starts_with("shard-") {
            return Storage {
                page_size: None,
                wal_autocheckpoint_pages: self.wal_autocheckpoint_pages.min(REDIS_SHARD_WAL_PAGES),
            };
        }
        Storage {
            page_size: None,
            wal_autocheckpoint_pages: self.wal_autocheckpoint_pages,
        }
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    pub fn lock_timeout(&self) -> Duration {
        Duration::from_millis(self.lock_timeout_ms)
    }

    pub fn transaction_idle_timeout(&self) -> Duration {
        Duration::from_millis(self.transaction_idle_timeout_ms)
    }

    pub fn relaxed_sync(&self) -> Duration {
        Duration::from_millis(self.relaxed_sync_ms)
    }
}
