//! Settings of the Redis front-end, with their defaults.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// An ACL user that may `AUTH`/`HELLO ... AUTH`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub password: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Logical databases (SELECT 0..n-1). Default 16.
    pub databases: u8,
    /// Shard objects per database; Redis Cluster's 16384 slots are spread over them in
    /// contiguous ranges. Fewer shards fold more commands into each durable batch (one fsync);
    /// more shards spread SQLite work over more threads. Default 4.
    pub shards: u16,
    /// Password of the `default` user (`requirepass`). Default none: no AUTH needed.
    pub requirepass: Option<String>,
    /// Further ACL users. Default none.
    pub users: Vec<User>,
    /// Longest bulk string accepted (`proto-max-bulk-len`). Default 536 870 912 (512 MiB).
    pub proto_max_bulk_len: usize,
    /// Most arguments in one request. Default 1 048 576.
    pub max_args: usize,
    /// Client connections served at once; more are refused with Redis's error. Default 10 000.
    pub maxclients: usize,
    /// Period of the active expiry sweep, in ms. Default 100.
    pub active_expire_ms: u64,
    /// Expired keys removed per shard per sweep, so writers never wait long. Default 200.
    pub active_expire_keys: usize,
    /// Replies buffered before a pipeline's output is flushed. Default 65 536 bytes.
    pub output_flush_bytes: usize,
    /// Threads that run Redis connections, each its own event loop (connections are dealt
    /// out in turn), as redis-server runs one; 0 runs them on the gateway's shared runtime.
    /// A loop never hands a connection to another thread, so a command and its reply cost no
    /// cross-thread wake-ups; SQLite work and fsyncs run on each object's own threads. TLS
    /// connections stay on the shared runtime. Default 1.
    pub event_loops: usize,
    /// `client-output-buffer-limit pubsub <hard> <soft> <seconds>`: a connection whose queue
    /// of pushed messages (pub/sub, keyspace events, MONITOR lines) not yet written to its
    /// socket passes `pubsub_hard_limit` bytes, or stays past `pubsub_soft_limit` bytes for
    /// `pubsub_soft_seconds`, is closed, as Redis closes it. 0 turns a limit off. Defaults are
    /// Redis's: 32 MiB, 8 MiB, 60 s.
    pub pubsub_hard_limit: u64,
    pub pubsub_soft_limit: u64,
    pub pubsub_soft_seconds: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            databases: 16,
            shards: 4,
            requirepass: None,
            users: Vec::new(),
            proto_max_bulk_len: 512 * 1024 * 1024,
            max_args: 1024 * 1024,
            maxclients: 10_000,
            active_expire_ms: 100,
            active_expire_keys: 200,
            output_flush_bytes: 64 * 1024,
            event_loops: 1,
            pubsub_hard_limit: 32 * 1024 * 1024,
            pubsub_soft_limit: 8 * 1024 * 1024,
            pubsub_soft_seconds: 60,
        }
    }
}

impl Config {
    pub fn validate(&self) -> Result<(), Error> {
        if self.databases == 0 {
            return Err(Error::Config("redis.databases must be at least 1".into()));
        }
        if self.shards == 0 || self.shards > dotdo_shard::SLOTS {
            return Err(Error::Config(
                "redis.shards must be between 1 and 16384".into(),
            ));
        }
        if self.proto_max_bulk_len < 1024 || self.max_args == 0 || self.maxclients == 0 {
            return Err(Error::Config(
                "redis.proto_max_bulk_len must be >= 1024, max_args and maxclients > 0".into(),
            ));
        }
        if self.event_loops > 256 {
            return Err(Error::Config(
                "redis.event_loops must be at most 256".into(),
            ));
        }
        if self.active_expire_ms == 0
            || self.active_expire_keys == 0
            || self.output_flush_bytes == 0
        {
            return Err(Error::Config(
                "redis.active_expire_ms, active_expire_keys and output_flush_bytes must be > 0"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Whether clients must authenticate before running commands.
    pub fn auth_required(&self) -> bool {
        self.requirepass.is_some() || !self.users.is_empty()
    }
}
