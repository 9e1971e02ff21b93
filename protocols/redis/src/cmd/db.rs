//! Commands across logical databases: MOVE, and SWAPDB (refused: see below).

use bytes::Bytes;

use crate::error::Error;
use crate::frame::{Reply, errors};
use crate::notify::GENERIC;
use crate::server::Server;
use crate::session::{Output, Session};
use crate::store::{View, now_ms};

/// A database index as Redis's `getIntFromObjectOrReply` reads it.
fn db_index(server: &Server, arg: &[u8]) -> Result<usize, Reply> {
    let n = super::args::strict_i64(arg).ok_or_else(|| Reply::err(errors::NOT_INT))?;
    if i32::try_from(n).is_err() {
        return Err(Reply::err(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    usize::try_from(n)
        .ok()
        .filter(|i| *i < server.keyspace.databases())
        .ok_or_else(|| Reply::err(errors::DB_RANGE))
}

/// MOVE key db: the key's shard in both databases is locked (the lower database first, the one
/// order every cross-database lock takes), so no client sees the key in both or in neither.
pub async fn move_key(
    s: &Session,
    server: &Server,
    a: &[Bytes],
    out: &mut Output,
) -> Result<Reply, Error> {
    let dst = match db_index(server, &a[2]) {
        Ok(d) => d,
        Err(e) => return Ok(e),
    };
    if dst == s.db {
        return Ok(Reply::err(
            "ERR source and destination objects are the same",
        ));
    }
    let key = &a[1];
    let i = server.keyspace.slots.shard_of_key(key);
    let src_shards = [(i, server.db(s.db)?.shard(i).await?)];
    let dst_shards = [(i, server.db(dst)?.shard(i).await?)];
    let slots = server.keyspace.slots;
    let now = now_ms();
    let (mut from, mut to) = if s.db < dst {
        let f = View::lock(slots, &src_shards, now, s.resp3);
        (f, View::lock(slots, &dst_shards, now, s.resp3))
    } else {
        let t = View::lock(slots, &dst_shards, now, s.resp3);
        (View::lock(slots, &src_shards, now, s.resp3), t)
    };
    let flags = crate::notify::active(server.notify_flags());
    from.notify = flags;
    to.notify = flags;
    let reply = match move_one(&mut from, &mut to, key) {
        Ok(r) | Err(r) => r,
    };
    let (t1, e1) = from.finish_events()?;
    let (t2, e2) = to.finish_events()?;
    out.add_tickets(t1);
    out.add_tickets(t2);
    out.publish(server, s.db, e1);
    out.publish(server, dst, e2);
    server.wake_blocked();
    Ok(reply)
}

fn move_one(from: &mut View, to: &mut View, key: &Bytes) -> Result<Reply, Reply> {
    let Some(entry) = from.get(key)?.cloned() else {
        return Ok(Reply::Int(0));
    };
    if to.exists(key)? {
        return Ok(Reply::Int(0));
    }
    to.put_value(key, entry.value, entry.expires_at)?;
    // The key moves with its use (Redis adds the same object to the other database).
    if let Some(e) = to.lookup(key)? {
        e.accessed = entry.accessed;
    }
    from.remove(key)?;
    from.notify(GENERIC, "move_from", key);
    to.notify(GENERIC, "move_to", key);
    Ok(Reply::Int(1))
}

/// SWAPDB checks its arguments as Redis does, then refuses: each logical database is a fixed
/// object namespace (`redis/<n>`), and swapping two would need a durable mapping from database
/// numbers to namespaces that every command reads, changed atomically with respect to commands
/// in flight and to a crash. Swapping a database with itself changes nothing and answers OK.
pub fn swapdb(server: &Server, a: &[Bytes]) -> Reply {
    let index = |arg: &[u8], which: &str| {
        let n = super::args::strict_i64(arg)
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| Reply::err(format!("ERR invalid {which} DB index")))?;
        usize::try_from(n)
            .ok()
            .filter(|i| *i < server.keyspace.databases())
            .ok_or_else(|| Reply::err(errors::DB_RANGE))
    };
    let (x, y) = match (index(&a[1], "first"), index(&a[2], "second")) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    if x == y {
        return Reply::ok();
    }
    Reply::err(
        "ERR SWAPDB is not supported by dotdo: logical databases are fixed object namespaces",
    )
}
