//! REPLCONF and SYNC, as far as a snapshot goes: `redis-cli --rdb FILE` (REPLCONF rdb-only 1,
//! then SYNC) saves every database as an RDB file that redis-server loads, and
//! `redis-cli --functions-rdb FILE` (REPLCONF rdb-filter-only functions) the function
//! libraries alone. dotdo does not replicate: a replica's SYNC or PSYNC, which would wait for
//! a stream of writes after the snapshot, is refused rather than left waiting for one.
//!
//! The snapshot of each database is taken under its shards' locks (writers to that database
//! wait while it is written out), one database after another, and leaves once everything it
//! shows is durable.

use std::sync::Arc;

use bytes::Bytes;

use super::args::{is, strict_i64};
use crate::error::Error;
use crate::frame::Reply;
use crate::rdb::{RdbFile, Use};
use crate::server::Server;
use crate::session::{Output, Session};
use crate::store::{View, now_ms, value};

/// What a connection asked for with REPLCONF.
#[derive(Clone, Copy, Debug, Default)]
pub struct Replconf {
    /// `rdb-only 1`: the snapshot alone, then the connection closes.
    pub rdb_only: bool,
    /// `rdb-filter-only …`: leave the keys out.
    pub exclude_data: bool,
    /// `rdb-filter-only` without `functions`: leave the libraries out.
    pub exclude_functions: bool,
}

const NOT_A_MASTER: &str = "ERR dotdo does not replicate: SYNC sends a snapshot only after REPLCONF rdb-only 1 (redis-cli --rdb), and PSYNC is not served";

/// REPLCONF option value ..., as Redis checks it. `None`: no reply (ACK and GETACK, which
/// Redis answers only between a master and its replicas).
pub fn replconf(s: &mut Session, a: &[Bytes]) -> Option<Reply> {
    if a.len().is_multiple_of(2) {
        return Some(Reply::err("ERR syntax error"));
    }
    let mut conf = s.replconf;
    for pair in a[1..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if is(opt, "ack") || is(opt, "fack") || is(opt, "getack") {
            return None;
        } else if is(opt, "listening-port") {
            if strict_i64(val).is_none() {
                return Some(Reply::err("ERR value is not an integer or out of range"));
            }
        } else if is(opt, "ip-address") {
            if val.len() >= 46 {
                return Some(Reply::err(format!(
                    "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
                    val.len()
                )));
            }
        } else if is(opt, "capa") {
            // eof, psync2: capabilities of a replica; a snapshot needs none of them.
        } else if is(opt, "rdb-only") {
            match strict_i64(val) {
                Some(n @ (0 | 1)) => conf.rdb_only = n == 1,
                Some(_) => {
                    return Some(Reply::err(
                        "ERR value is out of range, value must between 0 and 1",
                    ));
                }
                None => return Some(Reply::err("ERR value is not an integer or out of range")),
            }
        } else if is(opt, "rdb-filter-only") {
            conf.exclude_data = true;
            conf.exclude_functions = true;
            for filter in String::from_utf8_lossy(val).split_ascii_whitespace() {
                if filter.eq_ignore_ascii_case("functions") {
                    conf.exclude_functions = false;
                } else {
                    return Some(Reply::err(format!(
                        "ERR Unsupported rdb-filter-only option: {filter}"
                    )));
                }
            }
        } else {
            return Some(Reply::err(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    s.replconf = conf;
    Some(Reply::ok())
}

/// SYNC after `REPLCONF rdb-only 1`: the RDB file as a bulk length and the file's bytes (no
/// trailing CRLF, as a master sends it), then the connection closes.
pub async fn sync(
    s: &mut Session,
    server: &Arc<Server>,
    name: &str,
    out: &mut Output,
) -> Result<Option<Reply>, Error> {
    if !s.replconf.rdb_only || name == "psync" {
        return Ok(Some(Reply::err(NOT_A_MASTER)));
    }
    if !out.buf.is_empty() {
        return Ok(Some(Reply::err(
            "ERR SYNC and PSYNC are invalid with pending output",
        )));
    }
    let now = now_ms();
    let mut file = RdbFile::new(now / 1000, super::memory::resident().0);
    if !s.replconf.exclude_functions {
        let (codes, tickets) = server.scripts.functions.codes(&server.keyspace).await?;
        for code in &codes {
            file.function(code);
        }
        out.add_tickets(tickets);
    }
    if !s.replconf.exclude_data {
        for i in 0..server.keyspace.databases() {
            // Every shard holding keys: loaded, or with an object from before a restart (the
            // start may still be loading it). Shards never written need no empty object.
            let db = server.db(i)?;
            db.load_existing().await?;
            let shards = db.loaded_shards();
            let mut view = View::lock(server.keyspace.slots, &shards, now, false);
            let (keys, expires) = view.shards_mut().fold((0, 0), |(k, e), st| {
                (k + st.live_len(now), e + st.expires_after(now))
            });
            if keys > 0 {
                file.database(i, keys, expires);
                for st in view.shards_mut() {
                    for (key, e) in st.keys() {
                        if e.expires_at.is_some_and(|at| at <= now) {
                            continue;
                        }
                        file.key(key, &e.value, e.expires_at, use_of(e.accessed, now));
                    }
                }
            }
            out.add_tickets(view.finish()?);
        }
    }
    let payload = file.finish();
    out.buf
        .extend_from_slice(format!("${}\r\n", payload.len()).as_bytes());
    out.buf.extend_from_slice(&payload);
    s.closing = true;
    Ok(None)
}

/// What the file keeps of a key's use under the policy in force (Redis saves the idle time
/// under an LRU policy, the counter under an LFU one, neither otherwise).
fn use_of(stamp: u32, now: i64) -> Use {
    if value::lfu() {
        Use::Freq(value::lfu_freq(stamp, now) as u8)
    } else if value::lru() {
        Use::Idle(u64::from(value::access_clock(now).wrapping_sub(stamp)))
    } else {
        Use::None
    }
}
