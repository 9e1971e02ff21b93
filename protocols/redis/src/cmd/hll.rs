//! HyperLogLog: PFADD, PFCOUNT, PFMERGE on strings in Redis's own sparse and dense layouts
//! (`hll_sketch.rs`), so `GET` of an HLL key, its counts and its cached cardinality match
//! redis-server's.

use bytes::Bytes;

use super::hll_sketch::{
    Corrupt, DENSE, REGISTERS, estimate, histogram, invalidate, is_hll, merge_into, new_sparse,
    pattern, set_register, to_dense,
};
use crate::frame::Reply;
use crate::store::View;
use crate::store::view::CmdResult;

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// The sketch at `key`: `None` when missing, WRONGTYPE for other values.
fn load(v: &mut View, key: &Bytes) -> Result<Option<Vec<u8>>, Reply> {
    match v.get_str(key)? {
        None => Ok(None),
        Some(s) if is_hll(&s) => Ok(Some(s.to_vec())),
        Some(_) => Err(Reply::err(NOT_HLL)),
    }
}

fn store(v: &mut View, key: &Bytes, h: Vec<u8>) -> Result<(), Reply> {
    let ttl = v.ttl_of(key)?.flatten();
    v.replace_str(key, Bytes::from(h), ttl)
}

fn corrupt(_: Corrupt) -> Reply {
    Reply::err(CORRUPT)
}

pub fn pfadd(v: &mut View, a: &[Bytes]) -> CmdResult {
    let key = &a[1];
    let (mut h, mut updated) = match load(v, key)? {
        Some(h) => (h, false),
        None => (new_sparse(), true),
    };
    for ele in &a[2..] {
        let (index, count) = pattern(ele);
        updated |= set_register(&mut h, index, count).map_err(corrupt)?;
    }
    if updated {
        invalidate(&mut h);
        store(v, key, h)?;
        v.notify(crate::notify::STRING, "pfadd", key);
    }
    Ok(Reply::Int(i64::from(updated)))
}

pub fn pfcount(v: &mut View, a: &[Bytes]) -> CmdResult {
    if a.len() > 2 {
        let mut max = [0u8; REGISTERS];
        for key in &a[1..] {
            if let Some(h) = load(v, key)? {
                merge_into(&mut max, &h).map_err(corrupt)?;
            }
        }
        let mut histo = [0u32; 64];
        for &r in &max {
            histo[usize::from(r)] += 1;
        }
        return Ok(Reply::Int(estimate(&histo) as i64));
    }
    let key = &a[1];
    let Some(mut h) = load(v, key)? else {
        return Ok(Reply::Int(0));
    };
    if h[15] & 0x80 == 0 {
        let mut card = [0u8; 8];
        card.copy_from_slice(&h[8..16]);
        return Ok(Reply::Int(u64::from_le_bytes(card) as i64));
    }
    let card = estimate(&histogram(&h).map_err(corrupt)?);
    h[8..16].copy_from_slice(&card.to_le_bytes());
    store(v, key, h)?;
    Ok(Reply::Int(card as i64))
}

pub fn pfmerge(v: &mut View, a: &[Bytes]) -> CmdResult {
    let mut max = [0u8; REGISTERS];
    let mut use_dense = false;
    for key in &a[1..] {
        if let Some(h) = load(v, key)? {
            use_dense |= h[4] == DENSE;
            merge_into(&mut max, &h).map_err(corrupt)?;
        }
    }
    let dest = &a[1];
    let mut h = load(v, dest)?.unwrap_or_else(new_sparse);
    if use_dense {
        to_dense(&mut h).map_err(corrupt)?;
    }
    for (i, &m) in max.iter().enumerate() {
        if m != 0 {
            // Redis ignores a corrupt destination here: it was merged (and checked) above.
            let _ = set_register(&mut h, i, m);
        }
    }
    invalidate(&mut h);
    store(v, dest, h)?;
    v.notify(crate::notify::STRING, "pfadd", dest);
    Ok(Reply::ok())
}
