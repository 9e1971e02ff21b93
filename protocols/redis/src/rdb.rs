//! DUMP/RESTORE payloads in the RDB format of Redis 7, and whole RDB files ([`RdbFile`], for
//! SYNC: `redis-cli --rdb`).
//!
//! A payload is one object in RDB form, then the RDB version (2 bytes, little endian), then
//! Redis's CRC64 of everything before it (8 bytes, little endian).
//!
//! [`dump`] writes RDB version 10 (Redis 7.0), so every Redis from 7.0 on restores it:
//! strings as `RDB_TYPE_STRING` (small integers int-encoded), lists as
//! `RDB_TYPE_LIST_QUICKLIST_2` with listpack nodes, sets as `RDB_TYPE_SET`, hashes as
//! `RDB_TYPE_HASH`, sorted sets as `RDB_TYPE_ZSET_2` and streams as
//! `RDB_TYPE_STREAM_LISTPACKS_2` with their consumer groups, pending entries and consumers.
//!
//! [`restore`] reads what DUMP of Redis 7.0, 7.2 and 7.4 writes (RDB versions up to 12), and
//! the older encodings a Redis 7 still loads: every string encoding (plain, int, LZF), lists
//! (plain, ziplist, quicklist of ziplists or of listpacks and plain nodes), sets (plain,
//! intset, listpack), hashes (plain, zipmap, ziplist, listpack), sorted sets (string or binary
//! scores, ziplist, listpack) and streams (`RDB_TYPE_STREAM_LISTPACKS` 1 to 3; the consumers'
//! active time of version 3 is read and dropped, as dotdo keeps only the seen time). The
//! hash-with-field-expiry types of Redis 7.4 (22 to 25) and module values are refused with
//! "ERR Bad data format".
//!
//! Everything read is bounded by the payload: counts are checked against the bytes left
//! before anything is allocated for them, and an LZF string may claim at most 512 MiB and no
//! more than its compressed bytes can expand to.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use bytes::Bytes;

use crate::store::stream::{Consumer, Group, Pending, Stream, StreamId};
use crate::store::value::{List, Value, ZSet};

/// The error for a payload that is too short, too new, or fails its checksum.
pub const ERR_VERSION: &str = "ERR DUMP payload version or checksum are wrong";
/// The error for a payload whose object cannot be read.
pub const ERR_FORMAT: &str = "ERR Bad data format";

/// The RDB version [`dump`] writes (Redis 7.0).
pub const DUMP_VERSION: u16 = 10;
/// The newest RDB version [`restore`] reads (Redis 7.4).
pub const MAX_VERSION: u16 = 12;

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_HASH_ZIPMAP: u8 = 9;
const TYPE_LIST_ZIPLIST: u8 = 10;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_ZSET_ZIPLIST: u8 = 12;
const TYPE_HASH_ZIPLIST: u8 = 13;
const TYPE_LIST_QUICKLIST: u8 = 14;
const TYPE_STREAM_LISTPACKS: u8 = 15;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;
const TYPE_STREAM_LISTPACKS_2: u8 = 19;
const TYPE_SET_LISTPACK: u8 = 20;
const TYPE_STREAM_LISTPACKS_3: u8 = 21;

const QUICKLIST_PLAIN: u64 = 1;
const QUICKLIST_PACKED: u64 = 2;

const STREAM_FLAG_DELETED: i64 = 1;
const STREAM_FLAG_SAMEFIELDS: i64 = 2;

/// The longest string Redis accepts (`proto-max-bulk-len` default), bounding LZF output.
const MAX_STRING: usize = 512 << 20;
/// The most one byte of LZF input can expand to (a 3-byte back reference copies 264 bytes).
const LZF_MAX_RATIO: usize = 88;

/// List nodes [`dump`] writes: at most this many elements...
const LIST_NODE_ENTRIES: usize = 128;
/// ...and about this many bytes (Redis's default `list-max-listpack-size -2`).
const LIST_NODE_BYTES: usize = 8192;
/// Stream nodes [`dump`] writes: Redis's `stream-node-max-entries` and `-bytes` defaults.
const STREAM_NODE_ENTRIES: usize = 100;
const STREAM_NODE_BYTES: usize = 4096;

/// The most elements reserved up front for a count read from a payload (already checked
/// against the bytes left); collections grow past it as elements actually arrive.
const PREALLOC: usize = 1024;

type R<T> = Result<T, &'static str>;

// ---------------------------------------------------------------------------------------
// CRC64 (Jones polynomial, reflected, as Redis's crc64.c)

const CRC64_TABLE: [u64; 256] = {
    // 0xad93d23594c935a9 bit-reversed.
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// Redis's `crc64(crc, data, len)`.
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    for &b in data {
        crc = CRC64_TABLE[((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

// ---------------------------------------------------------------------------------------
// DUMP

/// The DUMP payload of a value: the object in RDB form, then the RDB version (2 bytes, little
/// endian), then the CRC64 of everything before (8 bytes, little endian).
pub fn dump(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    put_object(&mut out, value);
    out.extend_from_slice(&DUMP_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A value's type byte and its object, as DUMP and RDB files hold it.
fn put_object(out: &mut Vec<u8>, value: &Value) {
    out.push(type_of(value));
    put_body(out, value);
}

/// The RDB type dotdo writes a value as.
fn type_of(value: &Value) -> u8 {
    match value {
        Value::Str(_) => TYPE_STRING,
        Value::List(_) => TYPE_LIST_QUICKLIST_2,
        Value::Set(_) => TYPE_SET,
        Value::Hash(_) => TYPE_HASH,
        Value::ZSet(_) => TYPE_ZSET_2,
        Value::Stream(_) => TYPE_STREAM_LISTPACKS_2,
    }
}

/// A value's object, after its type byte.
fn put_body(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Str(s) => put_string(out, s),
        Value::List(l) => put_list(out, l),
        Value::Set(s) => {
            put_len(out, s.len() as u64);
            for m in s {
                put_string(out, m);
            }
        }
        Value::Hash(h) => {
            put_len(out, h.len() as u64);
            for (f, v) in h {
                put_string(out, f);
                put_string(out, v);
            }
        }
        Value::ZSet(z) => {
            put_len(out, z.len() as u64);
            // Greatest first, as Redis writes them (each load then inserts at the head).
            for (m, score) in z.iter().rev() {
                put_string(out, m);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
        Value::Stream(s) => put_stream(out, s),
    }
}

fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if let Ok(n) = u32::try_from(n) {
        out.push(0x80);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// `s` as an integer if it is the canonical decimal form of one (Redis's `string2ll`).
fn canonical_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let v: i64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (v.to_string().as_bytes() == s).then_some(v)
}

/// A string, int-encoded when it is a small canonical integer (as `rdbSaveRawString`).
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11
        && let Some(v) = canonical_int(s)
    {
        if let Ok(v) = i8::try_from(v) {
            out.push(0xc0);
            out.extend_from_slice(&v.to_le_bytes());
            return;
        }
        if let Ok(v) = i16::try_from(v) {
            out.push(0xc1);
            out.extend_from_slice(&v.to_le_bytes());
            return;
        }
        if let Ok(v) = i32::try_from(v) {
            out.push(0xc2);
            out.extend_from_slice(&v.to_le_bytes());
            return;
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// A listpack being written (header added by `finish`).
#[derive(Default)]
struct LpWriter {
    body: Vec<u8>,
    count: usize,
}

impl LpWriter {
    fn backlen(&mut self, l: usize) {
        let l = l as u64;
        let b = &mut self.body;
        if l <= 127 {
            b.push(l as u8);
        } else if l < 16383 {
            b.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
        } else if l < 2_097_151 {
            b.extend_from_slice(&[
                (l >> 14) as u8,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else if l < 268_435_455 {
            b.extend_from_slice(&[
                (l >> 21) as u8,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else {
            b.extend_from_slice(&[
                (l >> 28) as u8,
                ((l >> 21) & 127) as u8 | 128,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        }
    }

    fn int(&mut self, v: i64) {
        let start = self.body.len();
        let b = &mut self.body;
        if (0..=127).contains(&v) {
            b.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1fff;
            b.extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
        } else if let Ok(v) = i16::try_from(v) {
            b.push(0xf1);
            b.extend_from_slice(&v.to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            b.push(0xf2);
            b.extend_from_slice(&v.to_le_bytes()[..3]);
        } else if let Ok(v) = i32::try_from(v) {
            b.push(0xf3);
            b.extend_from_slice(&v.to_le_bytes());
        } else {
            b.push(0xf4);
            b.extend_from_slice(&v.to_le_bytes());
        }
        let len = self.body.len() - start;
        self.backlen(len);
        self.count += 1;
    }

    fn str(&mut self, s: &[u8]) {
        let start = self.body.len();
        let b = &mut self.body;
        let n = s.len();
        if n < 64 {
            b.push(0x80 | n as u8);
        } else if n < 4096 {
            b.extend_from_slice(&[0xe0 | (n >> 8) as u8, n as u8]);
        } else {
            b.push(0xf0);
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
        let len = self.body.len() - start;
        self.backlen(len);
        self.count += 1;
    }

    /// An element as Redis's `lpAppend` stores it: integers in integer form.
    fn bytes(&mut self, s: &[u8]) {
        match canonical_int(s) {
            Some(v) => self.int(v),
            None => self.str(s),
        }
    }

    fn finish(self) -> Vec<u8> {
        let total = self.body.len() + 7;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(self.count.min(65535) as u16).to_le_bytes());
        out.extend_from_slice(&self.body);
        out.push(0xff);
        out
    }
}

fn put_list(out: &mut Vec<u8>, l: &List) {
    let mut nodes = Vec::new();
    let mut lp = LpWriter::default();
    for item in &l.items {
        if lp.count > 0
            && (lp.count >= LIST_NODE_ENTRIES || lp.body.len() + item.len() > LIST_NODE_BYTES)
        {
            nodes.push(std::mem::take(&mut lp).finish());
        }
        lp.bytes(item);
    }
    if lp.count > 0 {
        nodes.push(lp.finish());
    }
    put_len(out, nodes.len() as u64);
    for n in &nodes {
        put_len(out, QUICKLIST_PACKED);
        put_len(out, n.len() as u64);
        out.extend_from_slice(n);
    }
}

/// The field names of an entry (`fields` alternates names and values).
fn names(fields: &[Bytes]) -> impl Iterator<Item = &Bytes> {
    fields.chunks_exact(2).filter_map(|c| c.first())
}

/// One stream node: the master entry (from the first entry's fields), then the entries.
fn stream_node(chunk: &[(StreamId, &Vec<Bytes>)]) -> Option<(StreamId, Vec<u8>)> {
    let (master, first) = chunk.first()?;
    let master_names: Vec<&Bytes> = names(first).collect();
    let mut lp = LpWriter::default();
    lp.int(chunk.len() as i64);
    lp.int(0);
    lp.int(master_names.len() as i64);
    for f in &master_names {
        lp.bytes(f);
    }
    lp.int(0);
    for (id, fields) in chunk {
        let pairs = fields.len() / 2;
        let same = pairs == master_names.len() && names(fields).eq(master_names.iter().copied());
        lp.int(if same { STREAM_FLAG_SAMEFIELDS } else { 0 });
        lp.int(id.ms.wrapping_sub(master.ms) as i64);
        lp.int(id.seq.wrapping_sub(master.seq) as i64);
        if same {
            for pair in fields.chunks_exact(2) {
                if let [_, v] = pair {
                    lp.bytes(v);
                }
            }
            lp.int(pairs as i64 + 3);
        } else {
            lp.int(pairs as i64);
            for pair in fields.chunks_exact(2) {
                if let [f, v] = pair {
                    lp.bytes(f);
                    lp.bytes(v);
                }
            }
            lp.int(2 * pairs as i64 + 4);
        }
    }
    Some((*master, lp.finish()))
}

fn put_stream(out: &mut Vec<u8>, s: &Stream) {
    let mut nodes = Vec::new();
    let mut chunk: Vec<(StreamId, &Vec<Bytes>)> = Vec::new();
    let mut bytes = 0usize;
    for (id, fields) in &s.entries {
        if chunk.len() >= STREAM_NODE_ENTRIES || (!chunk.is_empty() && bytes >= STREAM_NODE_BYTES) {
            nodes.extend(stream_node(&chunk));
            chunk.clear();
            bytes = 0;
        }
        bytes += 4 + fields.iter().map(|f| f.len() + 2).sum::<usize>();
        chunk.push((*id, fields));
    }
    nodes.extend(stream_node(&chunk));

    put_len(out, nodes.len() as u64);
    for (master, lp) in &nodes {
        put_len(out, 16);
        out.extend_from_slice(&master.encode());
        put_len(out, lp.len() as u64);
        out.extend_from_slice(lp);
    }
    put_len(out, s.entries.len() as u64);
    for id in [s.last_id, s.first_id, s.max_deleted] {
        put_len(out, id.ms);
        put_len(out, id.seq);
    }
    put_len(out, s.entries_added);

    put_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        put_string(out, name);
        put_len(out, g.last_id.ms);
        put_len(out, g.last_id.seq);
        // Redis's SCG_INVALID_ENTRIES_READ (-1) as a length.
        put_len(out, g.entries_read.unwrap_or(u64::MAX));
        put_len(out, g.pel.len() as u64);
        for (id, p) in &g.pel {
            out.extend_from_slice(&id.encode());
            out.extend_from_slice(&p.delivery_time.to_le_bytes());
            put_len(out, p.delivery_count);
        }
        // Every pending entry needs its consumer in the RDB; one missing from `consumers`
        // is written as seen when it last got an entry.
        let mut consumers: BTreeMap<&Bytes, (i64, Vec<StreamId>)> = g
            .consumers
            .iter()
            .map(|(n, c)| (n, (c.seen_time, Vec::new())))
            .collect();
        for (id, p) in &g.pel {
            let c = consumers
                .entry(&p.consumer)
                .or_insert((p.delivery_time, Vec::new()));
            if !g.consumers.contains_key(&p.consumer) {
                c.0 = c.0.max(p.delivery_time);
            }
            c.1.push(*id);
        }
        put_len(out, consumers.len() as u64);
        for (name, (seen, ids)) in &consumers {
            put_string(out, name);
            out.extend_from_slice(&seen.to_le_bytes());
            put_len(out, ids.len() as u64);
            for id in ids {
                out.extend_from_slice(&id.encode());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// RESTORE

/// A value from a RESTORE payload. Errors carry Redis's exact error strings:
/// "ERR DUMP payload version or checksum are wrong" (too short, RDB version above the newest
/// we read, CRC mismatch) and "ERR Bad data format" (anything malformed, unknown type,
/// duplicates in a set/hash/zset, trailing garbage, an empty collection). The hash types
/// with field expiry of Redis 7.4 (22 to 25) are refused as "ERR Bad data format".
pub fn restore(payload: &[u8]) -> Result<Value, &'static str> {
    let Some(body_len) = payload.len().checked_sub(10) else {
        return Err(ERR_VERSION);
    };
    let (rest, crc) = payload.split_at(payload.len() - 8);
    let (body, version) = rest.split_at(body_len);
    let version = u16::from_le_bytes(version.try_into().map_err(|_| ERR_VERSION)?);
    if version > MAX_VERSION {
        return Err(ERR_VERSION);
    }
    let crc = u64::from_le_bytes(crc.try_into().map_err(|_| ERR_VERSION)?);
    if crc64(0, rest) != crc {
        return Err(ERR_VERSION);
    }
    let mut r = Reader { buf: body };
    let ty = r.u8()?;
    let value = read_object(&mut r, ty)?;
    if !r.buf.is_empty() || value.is_empty_collection() {
        return Err(ERR_FORMAT);
    }
    Ok(value)
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> R<u8> {
        let (&b, rest) = self.buf.split_first().ok_or(ERR_FORMAT)?;
        self.buf = rest;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if n > self.buf.len() {
            return Err(ERR_FORMAT);
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        self.take(N)?.try_into().map_err(|_| ERR_FORMAT)
    }

    /// A length, or (with `true`) a special string encoding.
    fn len_or_enc(&mut self) -> R<(u64, bool)> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => (u64::from(b & 0x3f), false),
            1 => ((u64::from(b & 0x3f) << 8) | u64::from(self.u8()?), false),
            3 => (u64::from(b & 0x3f), true),
            _ => match b {
                0x80 => (u64::from(u32::from_be_bytes(self.array()?)), false),
                0x81 => (u64::from_be_bytes(self.array()?), false),
                _ => return Err(ERR_FORMAT),
            },
        })
    }

    fn len(&mut self) -> R<u64> {
        match self.len_or_enc()? {
            (n, false) => Ok(n),
            _ => Err(ERR_FORMAT),
        }
    }

    /// A count of items that take at least `min_bytes` each, checked against what is left.
    fn count(&mut self, min_bytes: usize) -> R<usize> {
        let n = usize::try_from(self.len()?).map_err(|_| ERR_FORMAT)?;
        if n.checked_mul(min_bytes).is_none_or(|b| b > self.buf.len()) {
            return Err(ERR_FORMAT);
        }
        Ok(n)
    }

    fn string(&mut self) -> R<Cow<'a, [u8]>> {
        let (n, enc) = self.len_or_enc()?;
        if !enc {
            let n = usize::try_from(n).map_err(|_| ERR_FORMAT)?;
            return Ok(Cow::Borrowed(self.take(n)?));
        }
        let v = match n {
            0 => i64::from(i8::from_le_bytes(self.array()?)),
            1 => i64::from(i16::from_le_bytes(self.array()?)),
            2 => i64::from(i32::from_le_bytes(self.array()?)),
            3 => {
                let clen = usize::try_from(self.len()?).map_err(|_| ERR_FORMAT)?;
                let ulen = self.len()?;
                let data = self.take(clen)?;
                return lzf_decompress(data, ulen).map(Cow::Owned);
            }
            _ => return Err(ERR_FORMAT),
        };
        Ok(Cow::Owned(v.to_string().into_bytes()))
    }

    fn bytes(&mut self) -> R<Bytes> {
        Ok(Bytes::from(self.string()?.into_owned()))
    }

    fn millis(&mut self) -> R<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn stream_id(&mut self) -> R<StreamId> {
        StreamId::decode(self.take(16)?).ok_or(ERR_FORMAT)
    }

    fn binary_double(&mut self) -> R<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// A score of `RDB_TYPE_ZSET`: a length byte (253 NaN, 254 +inf, 255 -inf), then text.
    fn string_double(&mut self) -> R<f64> {
        match self.u8()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => parse_double(self.take(usize::from(n))?),
        }
    }
}

fn parse_double(s: &[u8]) -> R<f64> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or(ERR_FORMAT)
}

/// LZF (liblzf `lzf_decompress`): the output must be exactly `ulen` bytes.
fn lzf_decompress(input: &[u8], ulen: u64) -> R<Vec<u8>> {
    let ulen = usize::try_from(ulen).map_err(|_| ERR_FORMAT)?;
    if ulen == 0 || ulen > MAX_STRING || ulen > input.len().saturating_mul(LZF_MAX_RATIO) {
        return Err(ERR_FORMAT);
    }
    let mut out: Vec<u8> = Vec::with_capacity(ulen);
    let mut i = 0usize;
    while let Some(&ctrl) = input.get(i) {
        i += 1;
        let ctrl = usize::from(ctrl);
        if ctrl < 32 {
            let n = ctrl + 1;
            let lit = input.get(i..i + n).ok_or(ERR_FORMAT)?;
            if out.len() + n > ulen {
                return Err(ERR_FORMAT);
            }
            out.extend_from_slice(lit);
            i += n;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += usize::from(*input.get(i).ok_or(ERR_FORMAT)?);
                i += 1;
            }
            let low = usize::from(*input.get(i).ok_or(ERR_FORMAT)?);
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            let start = out.len().checked_sub(back).ok_or(ERR_FORMAT)?;
            n += 2;
            if out.len() + n > ulen {
                return Err(ERR_FORMAT);
            }
            for k in start..start + n {
                let b = *out.get(k).ok_or(ERR_FORMAT)?;
                out.push(b);
            }
        }
    }
    if out.len() != ulen {
        return Err(ERR_FORMAT);
    }
    Ok(out)
}

/// An element of a listpack or ziplist.
#[derive(Clone, Copy, Debug)]
enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Elem<'_> {
    fn to_bytes(self) -> Bytes {
        match self {
            Elem::Str(s) => Bytes::copy_from_slice(s),
            Elem::Int(i) => Bytes::from(i.to_string()),
        }
    }

    fn int(self) -> R<i64> {
        match self {
            Elem::Int(i) => Ok(i),
            Elem::Str(s) => canonical_int(s).ok_or(ERR_FORMAT),
        }
    }

    fn score(self) -> R<f64> {
        let v = match self {
            Elem::Int(i) => i as f64,
            Elem::Str(s) => parse_double(s)?,
        };
        if v.is_nan() {
            return Err(ERR_FORMAT);
        }
        Ok(v)
    }
}

/// `n` bytes of `b` from `from`.
fn slice(b: &[u8], from: usize, n: usize) -> R<&[u8]> {
    b.get(from..from.checked_add(n).ok_or(ERR_FORMAT)?)
        .ok_or(ERR_FORMAT)
}

fn le_uint(b: &[u8]) -> u64 {
    b.iter()
        .rev()
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

/// The elements of a listpack, checking its header, entries, back lengths and terminator.
fn listpack(blob: &[u8]) -> R<Vec<Elem<'_>>> {
    let total = le_uint(blob.get(..4).ok_or(ERR_FORMAT)?);
    let num = le_uint(blob.get(4..6).ok_or(ERR_FORMAT)?);
    if total != blob.len() as u64 {
        return Err(ERR_FORMAT);
    }
    let mut out = Vec::new();
    let mut p = 6usize;
    loop {
        let rest = blob.get(p..).ok_or(ERR_FORMAT)?;
        let b = *rest.first().ok_or(ERR_FORMAT)?;
        if b == 0xff {
            if rest.len() != 1 {
                return Err(ERR_FORMAT);
            }
            break;
        }
        let get = |from: usize, n: usize| slice(rest, from, n);
        let (elem, len) = if b & 0x80 == 0 {
            (Elem::Int(i64::from(b)), 1)
        } else if b & 0xc0 == 0x80 {
            let n = usize::from(b & 0x3f);
            (Elem::Str(get(1, n)?), 1 + n)
        } else if b & 0xe0 == 0xc0 {
            let u = (u64::from(b & 0x1f) << 8) | le_uint(get(1, 1)?);
            let v = if u >= 1 << 12 {
                u as i64 - (1 << 13)
            } else {
                u as i64
            };
            (Elem::Int(v), 2)
        } else if b & 0xf0 == 0xe0 {
            let n = (usize::from(b & 0x0f) << 8) | le_uint(get(1, 1)?) as usize;
            (Elem::Str(get(2, n)?), 2 + n)
        } else {
            match b {
                0xf0 => {
                    let n = usize::try_from(le_uint(get(1, 4)?)).map_err(|_| ERR_FORMAT)?;
                    (Elem::Str(get(5, n)?), n.checked_add(5).ok_or(ERR_FORMAT)?)
                }
                0xf1 => (Elem::Int(i64::from(le_uint(get(1, 2)?) as u16 as i16)), 3),
                0xf2 => {
                    let u = le_uint(get(1, 3)?) as u32;
                    (Elem::Int(i64::from(((u << 8) as i32) >> 8)), 4)
                }
                0xf3 => (Elem::Int(i64::from(le_uint(get(1, 4)?) as u32 as i32)), 5),
                0xf4 => (Elem::Int(le_uint(get(1, 8)?) as i64), 9),
                _ => return Err(ERR_FORMAT),
            }
        };
        let mut back = LpWriter::default();
        back.backlen(len);
        if get(len, back.body.len())? != back.body.as_slice() {
            return Err(ERR_FORMAT);
        }
        p = p.checked_add(len + back.body.len()).ok_or(ERR_FORMAT)?;
        out.push(elem);
    }
    if num != 65535 && num != out.len() as u64 {
        return Err(ERR_FORMAT);
    }
    Ok(out)
}

/// The elements of a ziplist, checking its header, previous lengths, tail and terminator.
fn ziplist(blob: &[u8]) -> R<Vec<Elem<'_>>> {
    const HEADER: usize = 10;
    let total = le_uint(blob.get(..4).ok_or(ERR_FORMAT)?);
    let tail = le_uint(blob.get(4..8).ok_or(ERR_FORMAT)?);
    let num = le_uint(blob.get(8..10).ok_or(ERR_FORMAT)?);
    if total != blob.len() as u64 {
        return Err(ERR_FORMAT);
    }
    let mut out = Vec::new();
    let mut p = HEADER;
    let mut prev_len = 0u64;
    let mut last = HEADER;
    loop {
        let rest = blob.get(p..).ok_or(ERR_FORMAT)?;
        let b = *rest.first().ok_or(ERR_FORMAT)?;
        if b == 0xff {
            if rest.len() != 1 {
                return Err(ERR_FORMAT);
            }
            break;
        }
        let get = |from: usize, n: usize| slice(rest, from, n);
        let (prev, mut q) = match b {
            0..=253 => (u64::from(b), 1),
            254 => (le_uint(get(1, 4)?), 5),
            _ => return Err(ERR_FORMAT),
        };
        if prev != prev_len {
            return Err(ERR_FORMAT);
        }
        let enc = *get(q, 1)?.first().ok_or(ERR_FORMAT)?;
        let elem = match enc >> 6 {
            0 => {
                let n = usize::from(enc & 0x3f);
                let s = get(q + 1, n)?;
                q += 1 + n;
                Elem::Str(s)
            }
            1 => {
                let n = (usize::from(enc & 0x3f) << 8)
                    | usize::from(*get(q + 1, 1)?.first().ok_or(ERR_FORMAT)?);
                let s = get(q + 2, n)?;
                q += 2 + n;
                Elem::Str(s)
            }
            2 => {
                if enc != 0x80 {
                    return Err(ERR_FORMAT);
                }
                let raw = get(q + 1, 4)?;
                let n = usize::try_from(raw.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
                    .map_err(|_| ERR_FORMAT)?;
                let s = get(q + 5, n)?;
                q = q.checked_add(5 + n).ok_or(ERR_FORMAT)?;
                Elem::Str(s)
            }
            _ => {
                let (v, n) = match enc {
                    0xc0 => (i64::from(le_uint(get(q + 1, 2)?) as u16 as i16), 2),
                    0xd0 => (i64::from(le_uint(get(q + 1, 4)?) as u32 as i32), 4),
                    0xe0 => (le_uint(get(q + 1, 8)?) as i64, 8),
                    0xf0 => {
                        let u = le_uint(get(q + 1, 3)?) as u32;
                        (i64::from(((u << 8) as i32) >> 8), 3)
                    }
                    0xfe => (i64::from(le_uint(get(q + 1, 1)?) as u8 as i8), 1),
                    0xf1..=0xfd => (i64::from(enc & 0x0f) - 1, 0),
                    _ => return Err(ERR_FORMAT),
                };
                q += 1 + n;
                Elem::Int(v)
            }
        };
        last = p;
        prev_len = q as u64;
        p = p.checked_add(q).ok_or(ERR_FORMAT)?;
        out.push(elem);
    }
    if tail != last as u64 || (num != 65535 && num != out.len() as u64) {
        return Err(ERR_FORMAT);
    }
    Ok(out)
}

/// The members of an intset (sorted, unique).
fn intset(blob: &[u8]) -> R<Vec<i64>> {
    let enc = usize::try_from(le_uint(blob.get(..4).ok_or(ERR_FORMAT)?)).map_err(|_| ERR_FORMAT)?;
    let len =
        usize::try_from(le_uint(blob.get(4..8).ok_or(ERR_FORMAT)?)).map_err(|_| ERR_FORMAT)?;
    if !matches!(enc, 2 | 4 | 8)
        || len.checked_mul(enc).and_then(|n| n.checked_add(8)) != Some(blob.len())
    {
        return Err(ERR_FORMAT);
    }
    let mut out: Vec<i64> = Vec::with_capacity(len);
    for c in blob.get(8..).ok_or(ERR_FORMAT)?.chunks_exact(enc) {
        let v = match enc {
            2 => i64::from(le_uint(c) as u16 as i16),
            4 => i64::from(le_uint(c) as u32 as i32),
            _ => le_uint(c) as i64,
        };
        if out.last().is_some_and(|&l| l >= v) {
            return Err(ERR_FORMAT);
        }
        out.push(v);
    }
    Ok(out)
}

/// The field/value pairs of a zipmap (Redis < 2.6 small hashes).
fn zipmap(blob: &[u8]) -> R<Vec<(&[u8], &[u8])>> {
    let mut r = Reader { buf: blob };
    let zmlen = r.u8()?;
    let mut out = Vec::new();
    let len = |r: &mut Reader<'_>, b: u8| -> R<usize> {
        match b {
            0..=253 => Ok(usize::from(b)),
            254 => usize::try_from(le_uint(&r.array::<4>()?)).map_err(|_| ERR_FORMAT),
            _ => Err(ERR_FORMAT),
        }
    };
    loop {
        let b = r.u8()?;
        if b == 255 {
            break;
        }
        let klen = len(&mut r, b)?;
        let key = r.take(klen)?;
        let b = r.u8()?;
        let vlen = len(&mut r, b)?;
        let free = r.u8()?;
        let value = r.take(vlen)?;
        r.take(usize::from(free))?;
        out.push((key, value));
    }
    if !r.buf.is_empty() || (zmlen < 254 && usize::from(zmlen) != out.len()) {
        return Err(ERR_FORMAT);
    }
    Ok(out)
}

fn pairs<'e, 'a>(elems: &'e [Elem<'a>]) -> R<impl Iterator<Item = (Elem<'a>, Elem<'a>)> + 'e> {
    if !elems.len().is_multiple_of(2) {
        return Err(ERR_FORMAT);
    }
    Ok(elems.chunks_exact(2).filter_map(|c| match c {
        [a, b] => Some((*a, *b)),
        _ => None,
    }))
}

fn hash_from<I: IntoIterator<Item = (Bytes, Bytes)>>(items: I) -> R<Value> {
    let mut h = HashMap::new();
    for (f, v) in items {
        if h.insert(f, v).is_some() {
            return Err(ERR_FORMAT);
        }
    }
    Ok(Value::Hash(h))
}

fn set_from<I: IntoIterator<Item = Bytes>>(items: I) -> R<Value> {
    let mut s = HashSet::new();
    for m in items {
        if !s.insert(m) {
            return Err(ERR_FORMAT);
        }
    }
    Ok(Value::Set(s))
}

fn zset_insert(z: &mut ZSet, member: Bytes, score: f64) -> R<()> {
    if score.is_nan() || z.insert(member, score).is_some() {
        return Err(ERR_FORMAT);
    }
    Ok(())
}

fn zset_from_elems(elems: &[Elem<'_>]) -> R<Value> {
    let mut z = ZSet::default();
    for (m, s) in pairs(elems)? {
        zset_insert(&mut z, m.to_bytes(), s.score()?)?;
    }
    Ok(Value::ZSet(z))
}

fn list_from(items: VecDeque<Bytes>) -> Value {
    Value::List(List {
        items,
        ..List::default()
    })
}

fn read_object(r: &mut Reader<'_>, ty: u8) -> R<Value> {
    Ok(match ty {
        TYPE_STRING => Value::Str(r.bytes()?),
        TYPE_LIST => {
            let n = r.count(1)?;
            let mut items = VecDeque::with_capacity(n.min(PREALLOC));
            for _ in 0..n {
                items.push_back(r.bytes()?);
            }
            list_from(items)
        }
        TYPE_SET => {
            let n = r.count(1)?;
            let mut s = HashSet::with_capacity(n.min(PREALLOC));
            for _ in 0..n {
                if !s.insert(r.bytes()?) {
                    return Err(ERR_FORMAT);
                }
            }
            Value::Set(s)
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.count(2)?;
            let mut z = ZSet::default();
            for _ in 0..n {
                let m = r.bytes()?;
                let score = if ty == TYPE_ZSET {
                    r.string_double()?
                } else {
                    r.binary_double()?
                };
                zset_insert(&mut z, m, score)?;
            }
            Value::ZSet(z)
        }
        TYPE_HASH => {
            let n = r.count(2)?;
            let mut h = HashMap::with_capacity(n.min(PREALLOC));
            for _ in 0..n {
                let f = r.bytes()?;
                let v = r.bytes()?;
                if h.insert(f, v).is_some() {
                    return Err(ERR_FORMAT);
                }
            }
            Value::Hash(h)
        }
        TYPE_HASH_ZIPMAP => {
            let blob = r.string()?;
            hash_from(
                zipmap(&blob)?
                    .into_iter()
                    .map(|(f, v)| (Bytes::copy_from_slice(f), Bytes::copy_from_slice(v))),
            )?
        }
        TYPE_LIST_ZIPLIST => {
            let blob = r.string()?;
            list_from(ziplist(&blob)?.into_iter().map(Elem::to_bytes).collect())
        }
        TYPE_SET_INTSET => {
            let blob = r.string()?;
            Value::Set(
                intset(&blob)?
                    .into_iter()
                    .map(|v| Bytes::from(v.to_string()))
                    .collect(),
            )
        }
        TYPE_SET_LISTPACK => {
            let blob = r.string()?;
            set_from(listpack(&blob)?.into_iter().map(Elem::to_bytes))?
        }
        TYPE_ZSET_ZIPLIST => zset_from_elems(&ziplist(&r.string()?)?)?,
        TYPE_ZSET_LISTPACK => zset_from_elems(&listpack(&r.string()?)?)?,
        TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
            let blob = r.string()?;
            let elems = if ty == TYPE_HASH_ZIPLIST {
                ziplist(&blob)?
            } else {
                listpack(&blob)?
            };
            hash_from(pairs(&elems)?.map(|(f, v)| (f.to_bytes(), v.to_bytes())))?
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let n = r.count(1)?;
            let mut items = VecDeque::new();
            for _ in 0..n {
                let container = if ty == TYPE_LIST_QUICKLIST_2 {
                    r.len()?
                } else {
                    QUICKLIST_PACKED
                };
                let data = r.string()?;
                if data.is_empty() {
                    return Err(ERR_FORMAT);
                }
                match container {
                    QUICKLIST_PLAIN => items.push_back(Bytes::from(data.into_owned())),
                    QUICKLIST_PACKED => {
                        let elems = if ty == TYPE_LIST_QUICKLIST {
                            ziplist(&data)?
                        } else {
                            listpack(&data)?
                        };
                        items.extend(elems.into_iter().map(Elem::to_bytes));
                    }
                    _ => return Err(ERR_FORMAT),
                }
            }
            list_from(items)
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
            Value::Stream(Box::new(read_stream(r, ty)?))
        }
        _ => return Err(ERR_FORMAT),
    })
}

/// The entries of one stream node (listpack) keyed by `master`; counts the live ones.
fn read_stream_node(
    master: StreamId,
    elems: &[Elem<'_>],
    entries: &mut BTreeMap<StreamId, Vec<Bytes>>,
) -> R<()> {
    let mut it = elems.iter().copied();
    let mut next = || it.next().ok_or(ERR_FORMAT);
    let count = next()?.int()?;
    let deleted = next()?.int()?;
    let master_fields = next()?.int()?;
    if count < 0 || deleted < 0 || master_fields < 0 {
        return Err(ERR_FORMAT);
    }
    let mut names = Vec::new();
    for _ in 0..master_fields {
        names.push(next()?.to_bytes());
    }
    if next()?.int()? != 0 {
        return Err(ERR_FORMAT);
    }
    let (mut live, mut dead) = (0i64, 0i64);
    for _ in 0..count.checked_add(deleted).ok_or(ERR_FORMAT)? {
        let flags = next()?.int()?;
        let ms = master.ms.wrapping_add(next()?.int()? as u64);
        let seq = master.seq.wrapping_add(next()?.int()? as u64);
        let mut fields = Vec::new();
        let expected = if flags & STREAM_FLAG_SAMEFIELDS != 0 {
            for name in &names {
                fields.push(name.clone());
                fields.push(next()?.to_bytes());
            }
            master_fields.checked_add(3)
        } else {
            let n = next()?.int()?;
            if n < 0 {
                return Err(ERR_FORMAT);
            }
            for _ in 0..n {
                fields.push(next()?.to_bytes());
                fields.push(next()?.to_bytes());
            }
            n.checked_mul(2).and_then(|n| n.checked_add(4))
        };
        if Some(next()?.int()?) != expected {
            return Err(ERR_FORMAT);
        }
        if flags & STREAM_FLAG_DELETED != 0 {
            dead += 1;
        } else {
            if entries.insert(StreamId::new(ms, seq), fields).is_some() {
                return Err(ERR_FORMAT);
            }
            live += 1;
        }
    }
    if next().is_ok() || live != count || dead != deleted {
        return Err(ERR_FORMAT);
    }
    Ok(())
}

fn read_stream(r: &mut Reader<'_>, ty: u8) -> R<Stream> {
    let mut s = Stream::default();
    let nodes = r.count(2)?;
    for _ in 0..nodes {
        let key = r.string()?;
        let master = if key.len() == 16 {
            StreamId::decode(&key).ok_or(ERR_FORMAT)?
        } else {
            return Err(ERR_FORMAT);
        };
        let lp = r.string()?;
        let elems = listpack(&lp)?;
        if elems.is_empty() {
            return Err(ERR_FORMAT);
        }
        read_stream_node(master, &elems, &mut s.entries)?;
    }
    let length = r.len()?;
    if length != s.entries.len() as u64 {
        return Err(ERR_FORMAT);
    }
    let (ms, seq) = (r.len()?, r.len()?);
    s.last_id = StreamId::new(ms, seq);
    if ty >= TYPE_STREAM_LISTPACKS_2 {
        let (ms, seq) = (r.len()?, r.len()?);
        s.first_id = StreamId::new(ms, seq);
        let (ms, seq) = (r.len()?, r.len()?);
        s.max_deleted = StreamId::new(ms, seq);
        s.entries_added = r.len()?;
    } else {
        s.entries_added = length;
        s.refresh_first();
    }

    let groups = r.count(1)?;
    for _ in 0..groups {
        let name = r.bytes()?;
        let (ms, seq) = (r.len()?, r.len()?);
        let last_id = StreamId::new(ms, seq);
        let entries_read = if ty >= TYPE_STREAM_LISTPACKS_2 {
            Some(r.len()?).filter(|&v| v != u64::MAX)
        } else {
            s.estimate_distance(last_id)
        };
        // Pending entries first without their consumer; each consumer's PEL names its own.
        let mut pel: BTreeMap<StreamId, (i64, u64, Option<Bytes>)> = BTreeMap::new();
        for _ in 0..r.count(25)? {
            let id = r.stream_id()?;
            let time = r.millis()?;
            let count = r.len()?;
            if pel.insert(id, (time, count, None)).is_some() {
                return Err(ERR_FORMAT);
            }
        }
        let mut consumers = BTreeMap::new();
        for _ in 0..r.count(10)? {
            let cname = r.bytes()?;
            let seen_time = r.millis()?;
            if ty >= TYPE_STREAM_LISTPACKS_3 {
                r.millis()?; // active time: not kept
            }
            for _ in 0..r.count(16)? {
                let id = r.stream_id()?;
                match pel.get_mut(&id) {
                    Some((_, _, owner @ None)) => *owner = Some(cname.clone()),
                    _ => return Err(ERR_FORMAT),
                }
            }
            if consumers.insert(cname, Consumer { seen_time }).is_some() {
                return Err(ERR_FORMAT);
            }
        }
        let mut group = Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers,
        };
        for (id, (delivery_time, delivery_count, consumer)) in pel {
            let consumer = consumer.ok_or(ERR_FORMAT)?;
            group.pel.insert(
                id,
                Pending {
                    consumer,
                    delivery_time,
                    delivery_count,
                },
            );
        }
        if s.groups.insert(name, group).is_some() {
            return Err(ERR_FORMAT);
        }
    }
    Ok(s)
}

// ---------------------------------------------------------------------------------------
// FUNCTION DUMP / FUNCTION RESTORE

/// `RDB_OPCODE_FUNCTION2`: one function library, as its code (a string).
const OPCODE_FUNCTION2: u8 = 245;
/// `RDB_OPCODE_FUNCTION`, the format of Redis 7.0's release candidates (name, engine,
/// description and code apart): not read.
const OPCODE_FUNCTION: u8 = 246;

/// FUNCTION DUMP's payload: each library's code after `RDB_OPCODE_FUNCTION2`, then the RDB
/// version and the CRC64, as Redis 7.0 writes it (strings uncompressed, which every Redis
/// reads; Redis itself LZF-compresses a code that compresses).
pub fn dump_functions<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(OPCODE_FUNCTION2);
        put_len(&mut out, code.len() as u64);
        out.extend_from_slice(code);
    }
    out.extend_from_slice(&DUMP_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The library codes of a FUNCTION DUMP payload, or FUNCTION RESTORE's error (with `ERR`).
pub fn restore_functions(payload: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let Some(body_len) = payload.len().checked_sub(10) else {
        return Err(ERR_VERSION);
    };
    let (rest, crc) = payload.split_at(payload.len() - 8);
    let (body, version) = rest.split_at(body_len);
    let version = u16::from_le_bytes(version.try_into().map_err(|_| ERR_VERSION)?);
    let crc = u64::from_le_bytes(crc.try_into().map_err(|_| ERR_VERSION)?);
    if version > MAX_VERSION || crc64(0, rest) != crc {
        return Err(ERR_VERSION);
    }
    let mut r = Reader { buf: body };
    let mut codes = Vec::new();
    while let Ok(ty) = r.u8() {
        if ty != OPCODE_FUNCTION2 {
            return Err(if ty == OPCODE_FUNCTION {
                "ERR failed loading the given functions payload"
            } else {
                "ERR given type is not a function"
            });
        }
        let code = r
            .string()
            .map_err(|_| "ERR Failed loading library payload")?;
        codes.push(code.into_owned());
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// `body` (type and object) sealed as a payload of RDB `version`.
    fn seal(body: &[u8], version: u16) -> Vec<u8> {
        let mut p = body.to_vec();
        p.extend_from_slice(&version.to_le_bytes());
        let crc = crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    /// The type and object of a payload.
    fn body(payload: &[u8]) -> &[u8] {
        &payload[..payload.len() - 10]
    }

    fn err(p: &[u8]) -> &'static str {
        restore(p).expect_err("an error")
    }

    fn restored(h: &str) -> Value {
        restore(&hex(h)).expect("restore")
    }

    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Str(x), Value::Str(y)) => x == y,
            (Value::List(x), Value::List(y)) => x.items == y.items,
            (Value::Hash(x), Value::Hash(y)) => x == y,
            (Value::Set(x), Value::Set(y)) => x == y,
            (Value::ZSet(x), Value::ZSet(y)) => {
                x.iter()
                    .map(|(m, s)| (m.clone(), s.to_bits()))
                    .collect::<Vec<_>>()
                    == y.iter()
                        .map(|(m, s)| (m.clone(), s.to_bits()))
                        .collect::<Vec<_>>()
            }
            (Value::Stream(x), Value::Stream(y)) => x == y,
            _ => false,
        }
    }

    fn str_of(v: &Value) -> Bytes {
        match v {
            Value::Str(s) => s.clone(),
            other => panic!("not a string: {other:?}"),
        }
    }

    fn list_of(v: &Value) -> Vec<Bytes> {
        match v {
            Value::List(l) => l.items.iter().cloned().collect(),
            other => panic!("not a list: {other:?}"),
        }
    }

    fn set_of(v: &Value) -> HashSet<Bytes> {
        match v {
            Value::Set(s) => s.clone(),
            other => panic!("not a set: {other:?}"),
        }
    }

    fn hash_of(v: &Value) -> HashMap<Bytes, Bytes> {
        match v {
            Value::Hash(h) => h.clone(),
            other => panic!("not a hash: {other:?}"),
        }
    }

    fn zset_of(v: &Value) -> Vec<(Bytes, f64)> {
        match v {
            Value::ZSet(z) => z.iter().map(|(m, s)| (m.clone(), s)).collect(),
            other => panic!("not a zset: {other:?}"),
        }
    }

    fn stream_of(v: &Value) -> &Stream {
        match v {
            Value::Stream(s) => s,
            other => panic!("not a stream: {other:?}"),
        }
    }

    fn bset(items: &[&str]) -> HashSet<Bytes> {
        items.iter().map(|s| b(s)).collect()
    }

    fn bhash(items: &[(&str, &str)]) -> HashMap<Bytes, Bytes> {
        items.iter().map(|(f, v)| (b(f), b(v))).collect()
    }

    fn blist(items: &[&str]) -> Vec<Bytes> {
        items.iter().map(|s| b(s)).collect()
    }

    fn list(items: impl IntoIterator<Item = Bytes>) -> Value {
        list_from(items.into_iter().collect())
    }

    fn zset(items: &[(&[u8], f64)]) -> Value {
        let mut z = ZSet::default();
        for (m, s) in items {
            z.insert(Bytes::copy_from_slice(m), *s);
        }
        Value::ZSet(z)
    }

    fn pending(consumer: &str, delivery_time: i64, delivery_count: u64) -> Pending {
        Pending {
            consumer: b(consumer),
            delivery_time,
            delivery_count,
        }
    }

    /// A stream over several nodes, with field sets that change, a tombstone, two groups
    /// (one with pending entries of two consumers, one with an unknown read counter).
    fn sample_stream() -> Stream {
        let mut s = Stream::default();
        for i in 0..250u64 {
            // Later entries have a higher ms and a lower seq than their node's master.
            let id = StreamId::new(1000 + i / 3, (3 - i % 3) * 7);
            let fields = match i % 5 {
                0 => vec![b("temp"), Bytes::from(i.to_string()), b("unit"), b("C")],
                1 => vec![b(""), b(""), b("bin"), Bytes::from(vec![0u8, 255, 10, 13])],
                _ => vec![
                    b("temp"),
                    Bytes::from(format!("-{i}.5")),
                    b("unit"),
                    Bytes::from("x".repeat(i as usize % 70)),
                ],
            };
            s.entries.insert(id, fields);
        }
        s.first_id = *s.entries.keys().next().expect("first");
        s.last_id = StreamId::new(5000, 1);
        s.max_deleted = StreamId::new(5000, 1);
        s.entries_added = 251;
        let mut g = Group {
            last_id: StreamId::new(1001, 21),
            entries_read: Some(5),
            ..Group::default()
        };
        g.consumers.insert(
            b("alice"),
            Consumer {
                seen_time: 1_700_000_000_123,
            },
        );
        g.consumers.insert(
            b("bob"),
            Consumer {
                seen_time: 1_700_000_000_456,
            },
        );
        g.consumers.insert(b(""), Consumer { seen_time: 7 });
        g.pel.insert(
            StreamId::new(1000, 21),
            pending("alice", 1_700_000_000_100, 1),
        );
        g.pel.insert(
            StreamId::new(1000, 14),
            pending("bob", 1_700_000_000_200, 3),
        );
        g.pel.insert(
            StreamId::new(1001, 21),
            pending("alice", 1_700_000_000_300, 70000),
        );
        s.groups.insert(b("readers"), g);
        let g2 = Group {
            last_id: StreamId::new(5000, 1),
            entries_read: None,
            ..Group::default()
        };
        s.groups.insert(b("g\0two"), g2);
        s
    }

    /// Integers at every boundary of the listpack and RDB integer encodings.
    fn boundary_ints() -> Vec<i64> {
        vec![
            0,
            1,
            -1,
            12,
            13,
            127,
            128,
            -128,
            -129,
            255,
            4095,
            4096,
            -4096,
            -4097,
            32767,
            32768,
            -32768,
            -32769,
            8_388_607,
            8_388_608,
            -8_388_608,
            -8_388_609,
            i64::from(i32::MAX),
            i64::from(i32::MAX) + 1,
            i64::from(i32::MIN),
            i64::from(i32::MIN) - 1,
            i64::MAX,
            i64::MIN,
        ]
    }

    fn samples() -> Vec<(&'static str, Value)> {
        let mut out = vec![
            ("empty_string", Value::Str(Bytes::new())),
            ("string", Value::Str(b("hello world"))),
            ("int_string", Value::Str(b("12345"))),
            ("neg_int_string", Value::Str(b("-7"))),
            ("i32_string", Value::Str(b("-2147483648"))),
            ("wide_int_string", Value::Str(b("12345678901"))),
            ("padded_int_string", Value::Str(b("007"))),
            ("plus_int_string", Value::Str(b("+7"))),
            (
                "binary_string",
                Value::Str(Bytes::from((0..=255u8).collect::<Vec<_>>())),
            ),
            ("long_string", Value::Str(Bytes::from("ab".repeat(20000)))),
            (
                "small_list",
                list(blist(&["a", "1", "", "hello", "-5", "300", "01", "1.5"])),
            ),
            (
                "ints_list",
                list(
                    boundary_ints()
                        .into_iter()
                        .map(|i| Bytes::from(i.to_string())),
                ),
            ),
            (
                "big_list",
                list((0..2000).map(|i| {
                    if i % 500 == 7 {
                        Bytes::from(vec![b'z'; 10000 + i])
                    } else if i % 3 == 0 {
                        Bytes::from(i.to_string())
                    } else {
                        Bytes::from(format!("item-{i}-{}", "y".repeat(i % 90)))
                    }
                })),
            ),
            (
                "set",
                Value::Set(bset(&["", "a", "1", "-3", "hello world", "70000"])),
            ),
            (
                "int_set",
                Value::Set(
                    boundary_ints()
                        .into_iter()
                        .map(|i| Bytes::from(i.to_string()))
                        .collect(),
                ),
            ),
            (
                "binary_set",
                Value::Set([Bytes::from(vec![0u8, 1, 2]), Bytes::from(vec![255u8])].into()),
            ),
            (
                "big_set",
                Value::Set((0..1000).map(|i| Bytes::from(format!("m{i}"))).collect()),
            ),
            (
                "hash",
                Value::Hash(bhash(&[
                    ("f1", "v1"),
                    ("", "empty field"),
                    ("e", ""),
                    ("n", "42"),
                ])),
            ),
            (
                "big_hash",
                Value::Hash(
                    (0..600)
                        .map(|i| (Bytes::from(format!("f{i}")), Bytes::from("v".repeat(i))))
                        .collect(),
                ),
            ),
            (
                "zset",
                zset(&[
                    (b"a", 1.0),
                    (b"b", 2.5),
                    (b"", -3.0),
                    (b"inf", f64::INFINITY),
                    (b"-inf", f64::NEG_INFINITY),
                    (b"zero", -0.0),
                    (b"tiny", 5e-324),
                    (b"huge", -1.7976931348623157e308),
                    (b"\x00\xff", 0.1),
                ]),
            ),
            (
                "big_zset",
                Value::ZSet({
                    let mut z = ZSet::default();
                    for i in 0..500 {
                        z.insert(Bytes::from(format!("m{i}")), f64::from(i) / 3.0 - 50.0);
                    }
                    z
                }),
            ),
            ("stream", Value::Stream(Box::new(sample_stream()))),
            ("empty_stream", Value::Stream(Box::default())),
        ];
        let mut trimmed = Stream {
            last_id: StreamId::new(9, 9),
            entries_added: 12,
            max_deleted: StreamId::new(9, 9),
            ..Stream::default()
        };
        trimmed.groups.insert(
            b("g"),
            Group {
                last_id: StreamId::new(9, 9),
                entries_read: Some(12),
                ..Group::default()
            },
        );
        out.push(("emptied_stream", Value::Stream(Box::new(trimmed))));
        out
    }

    #[test]
    fn crc64_matches_redis() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn round_trips_every_type() {
        for (name, v) in samples() {
            let p = dump(&v);
            let back = restore(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(same(&v, &back), "{name}: {v:?} came back as {back:?}");
            assert_eq!(&p[p.len() - 10..p.len() - 8], &DUMP_VERSION.to_le_bytes());
        }
    }

    #[test]
    fn dump_chooses_redis_7_0_types_and_encodings() {
        let first = |v: Value| dump(&v)[0];
        assert_eq!(first(Value::Str(b("x"))), TYPE_STRING);
        assert_eq!(first(list(blist(&["x"]))), TYPE_LIST_QUICKLIST_2);
        assert_eq!(first(Value::Set(bset(&["x"]))), TYPE_SET);
        assert_eq!(first(Value::Hash(bhash(&[("x", "y")]))), TYPE_HASH);
        assert_eq!(first(zset(&[(b"x", 1.0)])), TYPE_ZSET_2);
        assert_eq!(
            first(Value::Stream(Box::default())),
            TYPE_STREAM_LISTPACKS_2
        );
        // The payloads Redis 7.0.15 writes for the same small strings.
        assert_eq!(dump(&Value::Str(b("12345"))), hex(R70_INT));
        assert_eq!(dump(&Value::Str(b("-7"))), hex(R70_NEG));
        assert_eq!(dump(&Value::Str(b("1234567890"))), hex(R70_BIG));
        assert_eq!(dump(&Value::Str(b("hello world"))), hex(R70_PLAIN));
        // The same listpack Redis built for this list.
        let small = list(blist(&["a", "1", "hello", "-5", "300", ""]));
        assert_eq!(dump(&small), hex(R70_LIST));
        // A big list spans several listpack nodes.
        let big = list((0..1000).map(|i| Bytes::from(format!("element-{i}"))));
        let p = dump(&big);
        let mut r = Reader { buf: &p[1..] };
        assert!(r.len().expect("nodes") > 5);
    }

    const R70_INT: &str = "00c139300a009d94ea2793fc08b9";
    const R70_NEG: &str = "00c0f90a005e26d130d7a242ab";
    const R70_BIG: &str = "00c2d20296490a0002a479f6c2d5670a";
    const R70_LZF: &str = "00c30e4190016161e0bd000062e0bc000162620a009b42c331ae86fe81";
    const R70_PLAIN: &str = "000b68656c6c6f20776f726c640a000bfc49b9a6c7a034";
    const R70_LIST: &str =
        "1201021b1b000000060081610201018568656c6c6f06dffb02c12c028001ff0a009c3ccaeb2bd00378";
    const R70_INTSET: &str =
        "0b1c0400000005000000fdffffff010000000500000009000000701101000a00d67da5a46182848e";
    const R70_HASH: &str =
        "10191900000006008266310382763103816e022a018165028001ff0a00e9e9a572764eff29";
    const R70_ZSET: &str = concat!(
        "1127270000000a00816302dffd02816102010181620283322e35048165020a0181640283696e6604ff0a007fd9cb66e9",
        "343a7f",
    );
    const R70_ZSETSK: &str =
        "0503016200000000000004400161000000000000f03f0163000000000000f0ff0a009a24ca8fdcb1d08c";
    const R70_SETHT: &str = "0203c0020178c0010a003174c62fc3f36b70";
    const R70_HASHHT: &str = "04020266310276310266320276320a001ed3d645cdba65de";
    const R70_STREAM: &str = concat!(
        "13011000000000000000010000000000000001c34047404e124e0000001f000301010102018161028162020020090000",
        "200105010181780205600c601c0079200c400a02dfff02201a076302817a02060103201f20100303018177201e00ff03",
        "0300010103000402026731020081ffffffffffffffff030000000000000001000000000000000174ef9a4da201000001",
        "0000000000000001000000000000000274ef9a4da2010000010000000000000002000000000000000074ef9a4da20100",
        "00010205616c69636574ef9a4da201000002000000000000000100000000000000010000000000000001000000000000",
        "000203626f6274ef9a4da20100000100000000000000020000000000000000026732030081ffffffffffffffff000105",
        "6361726f6c74ef9a4da2010000000a0037aa3b93d0a0c894",
    );
    const R70_BIGLIST2: &str = concat!(
        "120202c346215fd308d31f0000dc00947830e009010315947831e0090120150032e0090120150033e0090120150034e0",
        "090120150035e0090120150036e0090120150037e0090120150038e0090120150039e0090104159e783130e01202001f",
        "201f20e6e01002401f0032e01202401f0033e01202401f0034e01202401f0035e01202401f0036e01202401f0037e012",
        "02401f0038e01202401f0039e01202201f013230e01202401f0031e01202401f2230e01002401f0033e01202401f0034",
        "e01202401f0035e01202401f0036e01202401f0037e01202401f0038e01202401f0039e01202201f013330e01202401f",
        "0031e01202401f0032e01202401f237ae01002401f0034e01202401f0035e01202401f0036e01202401f0037e0120240",
        "1f0038e01202401f0039e01202201f013430e01202401f0031e01202401f0032e01202401f0033e01202401f24c4e010",
        "02401f0035e01202401f0036e01202401f0037e01202401f0038e01202401f0039e01202201f013530e01202401f0031",
        "e01202401f0032e01202401f0033e01202401f0034e01202401f260ee01002401f0036e01202401f0037e01202401f00",
        "38e01202401f0039e01202201f013630e01202401f0031e01202401f0032e01202401f0033e01202401f0034e0120240",
        "1f0035e01202401f2758e01002401f0037e01202401f0038e01202401f0039e01202201f013730e01202401f0031e012",
        "02401f0032e01202401f0033e01202401f0034e01202401f0035e01202401f0036e01202401f28a2e01002401f0038e0",
        "1202401f0039e01202201f013830e01202401f0031e01202401f0032e01202401f0033e01202401f0034e01202401f00",
        "35e01202401f0036e01202401f0037e01202401f29ece01002401f0039e01202201f013930e01202401f0031e0120240",
        "1f0032e01202401f0033e01202401f0034e01202401f0035e01202401f0036e01202401f0037e01202401f0038e01202",
        "401f2b36e01002011fa82b3c4b40e01803002940292b47e0190360292b54e0190360292b5ee0190360292b68e0190360",
        "292b72e0190360292b7ce0190360292b86e0190360292b90e0190360292b9ae0190340294ce4e01903602921a3e01903",
        "602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e019",
        "03602921a3e0190340292d48e01a03602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e0",
        "1903602921a3e01903602921a3e01903602921a3e01903602921a3e0190340292dace01a03602921a3e01903602921a3",
        "e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921",
        "a3e0190340292e10e01a03602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e019036029",
        "21a3e01903602921a3e01903602921a3e01903602921a3e0190340292e74e01a03602921a3e01903602921a3e0190360",
        "2921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903",
        "40292ed8e01a03602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e019",
        "03602921a3e01903602921a3e01903602921a3e0190340292f3ce01a03602921a3e01903602921a3e01903602921a3e0",
        "1903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e0190340292fa0",
        "e01a03602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921",
        "a3e01903602921a3e01903602921a3e0190340293004e01a03602921a3e01903602921a3e01903602921a3e019036029",
        "21a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903202900323063e01a",
        "0360293a72e0190360293a79e0190360293a86e0190360293a90e0190360293a9ae0190360293aa4e0190360293aaee0",
        "190360293ab8e0190360293ac2e0190340293063e01a03602921a3e01903602921a3e01903602921a3e01903602921a3",
        "e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e019030129ff02c3425d4d270a",
        "270d00005000a878323230e01b030029402900312029e01803602900322029e01803602900332029e018036029003420",
        "29e01803602900352029e01803602900362029e01803602900372029e01803602900382029e01803602900392029e018",
        "034029003321a3e019036029219fe019036029219fe019036029219fe019036029219fe019036029219fe01903602921",
        "9fe019036029219fe019036029219fe019036029219fe019034029003421a3e01903602921a3e01903602921a3e01903",
        "602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e019",
        "034029003521a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921",
        "a3e01903602921a3e01903602921a3e01903602921a3e019034029003621a3e01903602921a3e01903602921a3e01903",
        "602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e019",
        "034029003721a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921",
        "a3e01903602921a3e01903602921a3e01903602921a3e019034029003821a3e01903602921a3e01903602921a3e01903",
        "602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e019",
        "034029003921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921a3e01903602921",
        "a3e01903602921a3e01903602921a3e01903602921a3e019030129ff0a0086cf905355ac2bc7",
    );
    const R70_INTS: &str = concat!(
        "120102c3405d40621f62000000120000017f01c08002dfff02cfff02d00002f1001003f1ff7f03f100118003f2008000",
        "04f2ffff7f04f200008004f32004030005f3ff20100005200b03008005f440052003020009f420154000017f09401340",
        "00028009ff0a00653a539e8189e9c4",
    );
    const OLD_ENCODINGS_ZSET: &str = concat!(
        "030c026262023230026363023330036262620332303004626262620a3530303030303030303003636363033330300463",
        "636363093132333435363738390161013102616102313001620132036161610331303001630133046161616104313030",
        "300400ccdca26b492040f9",
    );
    const OLD_ENCODINGS_SET_ZIPPED_1: &str =
        "0b1002000000040000000100020003000400040082622918c487161e";
    const OLD_ENCODINGS_LIST_ZIPPED: &str = concat!(
        "0a303000000025000000080000c0010004c0020004c0030004016103016203016303d0a086010006e000bca065010000",
        "00ff04004d40f1bdecce17f6",
    );
    const OLD_ENCODINGS_STRING: &str = "000b48656c6c6f20576f726c640400eba890c3c29e6c7b";
    const OLD_ENCODINGS_COMPRESSIBLE: &str = "00c3094089016161e07c0001616104002ba79f99ea28a18a";
    const OLD_ENCODINGS_SET_ZIPPED_2: &str =
        "0b180400000004000000a0860100400d0300e0930400801a0600040070adf9f67eca4883";
    const OLD_ENCODINGS_NUMBER: &str = "00c00a0400415fd37a52e2d510";
    const OLD_ENCODINGS_SET_ZIPPED_3: &str = concat!(
        "0b38080000000600000000ca9a3b000000000094357700000000005ed0b20000000000286bee0000000000f2052a0100",
        "000000bca065010000000400f087319769501ce5",
    );
    const OLD_ENCODINGS_SET: &str =
        "02080a36303030303030303030c2a08601000161c0010162c0020163c003040032577e410b428fc9";
    const OLD_ENCODINGS_LIST: &str = concat!(
        "0118c001c002c003016101620163c2a08601000a36303030303030303030c001c002c003016101620163c2a08601000a",
        "36303030303030303030c001c002c003016101620163c2a08601000a363030303030303030300400efcc7e864423e2f7",
    );
    const OLD_ENCODINGS_HASH_ZIPPED: &str =
        "0d20200000001b000000060000016103c0010004016203c0020004016303c00300ff040027e6e2818b41d72c";
    const OLD_ENCODINGS_ZSET_ZIPPED: &str =
        "0c20200000001b000000060000016103c0010004016203c0020004016303c00300ff0400ed928b057bb22856";
    const OLD_ENCODINGS_HASH: &str = concat!(
        "040b0162c002026161c00a0163c00303616161c064026262c014026363c01e03626262c1c80003636363c12c01036464",
        "64c19001036565650a353030303030303030300161c0010400f296a87264e05b65",
    );
    const OLD_HASH_ZIPLIST_HASH: &str =
        "0d1b1b00000016000000040000026631040276310402663204027632ff0900777d2e23e132521f";
    const OLD_HASH_ZIPMAP_HASH: &str = "0910020266310200763102663202007632ff0300ead239e970a5b6e0";
    const OLD_LIST_QUICKLIST_LIST: &str = "0e010d0d0000000a000000010000f8ff080010ebd801dd1c4d8d";
    const OLD_LIST_QUICKLIST_X: &str = "00c0070800cde0a41d2ab244aa";
    const OLD_ZSET_ZIPLIST_ZSET: &str =
        "0c191900000016000000040000036f6e6505f2020374776f05f3ff0a0060e90b962c140aca";

    // What Redis 7.0.15 DUMPed after RESTOREing dotdo's payloads of these samples.
    const R70_OURS_ZSET: &str = concat!(
        "11c34081408f0b8f0000001200842d696e6605a0051f6875676505982d312e3739373639333133343836323331353765",
        "2b33303819801f01dffd02847a65726f0500018474696e790597342e3934303635363435383431133234363534652d33",
        "3234188200ff0393302e3130e005000f3114816102010181620283322e350483207c60040104ff0a0068951ca4c75382",
        "c1",
    );
    const R70_OURS_HASH: &str = concat!(
        "102828000000080082663103827631038165028001816e022a0180018b656d707479206669656c640cff0a001faa3d40",
        "179dc12d",
    );
    const R70_OURS_INT_SET: &str = concat!(
        "0bc3408540e804080000001c2003a0000480ffffff7f200300ff200f400b2000600e200fe0040e00ffc00e01ffef2003",
        "20000100f020042000802d01ffffa02de00000204f6000000160050200000c20034000000d40042000007f2003400000",
        "8040042000c03001ff0f200c400000104004200fe0062820712015400080392070e00410200f200001ff7f0a009d676e",
        "3f8d78f953",
    );

    #[test]
    fn restores_what_redis_7_0_wrote_for_our_values() {
        let samples = samples();
        let sample = |name: &str| {
            samples
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v)
                .expect("sample")
        };
        for (name, h, ty) in [
            ("zset", R70_OURS_ZSET, TYPE_ZSET_LISTPACK),
            ("hash", R70_OURS_HASH, TYPE_HASH_LISTPACK),
            ("int_set", R70_OURS_INT_SET, TYPE_SET_INTSET),
        ] {
            let p = hex(h);
            assert_eq!(p[0], ty, "{name}");
            assert!(same(&restore(&p).expect("restore"), sample(name)), "{name}");
        }
    }

    #[test]
    fn restores_redis_7_0_strings() {
        assert_eq!(str_of(&restored(R70_INT)), "12345");
        assert_eq!(str_of(&restored(R70_NEG)), "-7");
        assert_eq!(str_of(&restored(R70_BIG)), "1234567890");
        assert_eq!(str_of(&restored(R70_PLAIN)), "hello world");
        assert_eq!(
            str_of(&restored(R70_LZF)),
            format!("{}{}", "a".repeat(200), "b".repeat(200))
        );
    }

    #[test]
    fn restores_redis_7_0_lists() {
        assert_eq!(
            list_of(&restored(R70_LIST)),
            blist(&["a", "1", "hello", "-5", "300", ""])
        );
        // Two LZF-compressed listpack nodes.
        let want: Vec<Bytes> = (0..300)
            .map(|i| Bytes::from(format!("x{i}").repeat(10)))
            .collect();
        assert_eq!(list_of(&restored(R70_BIGLIST2)), want);
        let ints: Vec<Bytes> = [
            0,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            32767,
            -32768,
            32768,
            8_388_607,
            -8_388_608,
            8_388_608,
            2_147_483_647,
            -2_147_483_648,
            2_147_483_648,
            i64::MAX,
            i64::MIN,
        ]
        .iter()
        .map(|i| Bytes::from(i.to_string()))
        .collect();
        assert_eq!(list_of(&restored(R70_INTS)), ints);
    }

    #[test]
    fn restores_redis_7_0_sets_hashes_zsets() {
        assert_eq!(
            set_of(&restored(R70_INTSET)),
            bset(&["1", "5", "-3", "70000", "9"])
        );
        assert_eq!(set_of(&restored(R70_SETHT)), bset(&["1", "2", "x"]));
        assert_eq!(
            hash_of(&restored(R70_HASH)),
            bhash(&[("f1", "v1"), ("n", "42"), ("e", "")])
        );
        assert_eq!(
            hash_of(&restored(R70_HASHHT)),
            bhash(&[("f1", "v1"), ("f2", "v2")])
        );
        assert_eq!(
            zset_of(&restored(R70_ZSET)),
            vec![
                (b("c"), -3.0),
                (b("a"), 1.0),
                (b("b"), 2.5),
                (b("e"), 10.0),
                (b("d"), f64::INFINITY)
            ]
        );
        assert_eq!(
            zset_of(&restored(R70_ZSETSK)),
            vec![(b("c"), f64::NEG_INFINITY), (b("a"), 1.0), (b("b"), 2.5)]
        );
    }

    #[test]
    fn restores_a_redis_7_0_stream() {
        let v = restored(R70_STREAM);
        let s = stream_of(&v);
        let entries: Vec<(StreamId, Vec<Bytes>)> =
            s.entries.iter().map(|(k, v)| (*k, v.clone())).collect();
        assert_eq!(
            entries,
            vec![
                (StreamId::new(1, 1), blist(&["a", "1", "b", "x"])),
                (StreamId::new(1, 2), blist(&["a", "2", "b", "y"])),
                (StreamId::new(2, 0), blist(&["c", "z"])),
            ]
        );
        assert_eq!(s.last_id, StreamId::new(3, 0));
        assert_eq!(s.max_deleted, StreamId::new(3, 0));
        assert_eq!(s.first_id, StreamId::new(1, 1));
        assert_eq!(s.entries_added, 4);
        assert_eq!(s.groups.len(), 2);
        let g1 = &s.groups[&b("g1")];
        assert_eq!(g1.last_id, StreamId::new(2, 0));
        assert_eq!(g1.entries_read, None);
        let t = 1_796_598_329_204;
        let pel: Vec<(StreamId, Pending)> = g1.pel.iter().map(|(k, v)| (*k, v.clone())).collect();
        assert_eq!(
            pel,
            vec![
                (StreamId::new(1, 1), pending("alice", t, 1)),
                (StreamId::new(1, 2), pending("alice", t, 1)),
                (StreamId::new(2, 0), pending("bob", t, 1)),
            ]
        );
        assert_eq!(
            g1.consumers.keys().cloned().collect::<Vec<_>>(),
            blist(&["alice", "bob"])
        );
        assert!(g1.consumers.values().all(|c| c.seen_time == t));
        let g2 = &s.groups[&b("g2")];
        assert_eq!(g2.last_id, StreamId::new(3, 0));
        assert!(g2.pel.is_empty());
        assert_eq!(g2.consumers[&b("carol")], Consumer { seen_time: t });
        // What dotdo dumps for it reads back the same.
        assert!(same(&restore(&dump(&v)).expect("again"), &v));
    }

    #[test]
    fn restores_old_encodings() {
        // Objects from the RDB files in Redis's tests/assets (versions 3, 4, 8, 9, 10).
        let abc = bhash(&[("a", "1"), ("b", "2"), ("c", "3")]);
        assert_eq!(hash_of(&restored(OLD_ENCODINGS_HASH_ZIPPED)), abc);
        assert_eq!(
            hash_of(&restored(OLD_HASH_ZIPLIST_HASH)),
            bhash(&[("f1", "v1"), ("f2", "v2")])
        );
        assert_eq!(
            hash_of(&restored(OLD_HASH_ZIPMAP_HASH)),
            bhash(&[("f1", "v1"), ("f2", "v2")])
        );
        assert_eq!(
            hash_of(&restored(OLD_ENCODINGS_HASH)),
            bhash(&[
                ("a", "1"),
                ("b", "2"),
                ("c", "3"),
                ("aa", "10"),
                ("bb", "20"),
                ("cc", "30"),
                ("aaa", "100"),
                ("bbb", "200"),
                ("ccc", "300"),
                ("ddd", "400"),
                ("eee", "5000000000")
            ])
        );
        let zipped = blist(&["1", "2", "3", "a", "b", "c", "100000", "6000000000"]);
        assert_eq!(list_of(&restored(OLD_ENCODINGS_LIST_ZIPPED)), zipped);
        assert_eq!(
            list_of(&restored(OLD_ENCODINGS_LIST)),
            [&zipped[..], &zipped[..], &zipped[..]].concat()
        );
        assert_eq!(list_of(&restored(OLD_LIST_QUICKLIST_LIST)), blist(&["7"]));
        assert_eq!(str_of(&restored(OLD_LIST_QUICKLIST_X)), "7");
        assert_eq!(str_of(&restored(OLD_ENCODINGS_NUMBER)), "10");
        assert_eq!(str_of(&restored(OLD_ENCODINGS_STRING)), "Hello World");
        assert_eq!(
            str_of(&restored(OLD_ENCODINGS_COMPRESSIBLE)),
            "a".repeat(137)
        );
        assert_eq!(
            set_of(&restored(OLD_ENCODINGS_SET_ZIPPED_1)),
            bset(&["1", "2", "3", "4"])
        );
        assert_eq!(
            set_of(&restored(OLD_ENCODINGS_SET_ZIPPED_2)),
            bset(&["100000", "200000", "300000", "400000"])
        );
        assert_eq!(
            set_of(&restored(OLD_ENCODINGS_SET_ZIPPED_3)),
            bset(&[
                "1000000000",
                "2000000000",
                "3000000000",
                "4000000000",
                "5000000000",
                "6000000000"
            ])
        );
        assert_eq!(
            set_of(&restored(OLD_ENCODINGS_SET)),
            bset(&["1", "2", "3", "a", "b", "c", "100000", "6000000000"])
        );
        assert_eq!(
            zset_of(&restored(OLD_ENCODINGS_ZSET_ZIPPED)),
            vec![(b("a"), 1.0), (b("b"), 2.0), (b("c"), 3.0)]
        );
        assert_eq!(
            zset_of(&restored(OLD_ZSET_ZIPLIST_ZSET)),
            vec![(b("one"), 1.0), (b("two"), 2.0)]
        );
        assert_eq!(
            zset_of(&restored(OLD_ENCODINGS_ZSET)),
            vec![
                (b("a"), 1.0),
                (b("b"), 2.0),
                (b("c"), 3.0),
                (b("aa"), 10.0),
                (b("bb"), 20.0),
                (b("cc"), 30.0),
                (b("aaa"), 100.0),
                (b("bbb"), 200.0),
                (b("ccc"), 300.0),
                (b("aaaa"), 1000.0),
                (b("cccc"), 123456789.0),
                (b("bbbb"), 5000000000.0)
            ]
        );
    }

    #[test]
    fn restores_redis_7_2_and_7_4_forms() {
        // A set listpack as Redis 7.2 writes it (from Redis's corrupt-dump tests, with its
        // element count fixed), RDB version 12.
        let fixed = "1416160000000600816102816202816302010102010301ff";
        assert_eq!(
            set_of(&restore(&seal(&hex(fixed), 12)).expect("set")),
            bset(&["a", "b", "c", "1", "2", "3"])
        );
        // That test's payload as is: its header claims 12 elements.
        assert_eq!(
            err(&hex(concat!(
                "141616000000",
                "0c00816102816202816302010102010301ff0c0091005673c182d5bd"
            ))),
            ERR_FORMAT
        );
        // A quicklist with a PLAIN node between two packed ones.
        let mut lp = LpWriter::default();
        lp.bytes(b"x");
        lp.bytes(b"17");
        let lp = lp.finish();
        let mut ql = vec![TYPE_LIST_QUICKLIST_2, 3];
        for node in [&lp[..], b"a plain node", &lp[..]] {
            ql.push(if node == &lp[..] { 2 } else { 1 });
            put_len(&mut ql, node.len() as u64);
            ql.extend_from_slice(node);
        }
        assert_eq!(
            list_of(&restore(&seal(&ql, 11)).expect("quicklist")),
            blist(&["x", "17", "a plain node", "x", "17"])
        );
        // RDB_TYPE_STREAM_LISTPACKS_3 (7.2+): consumers carry an active time.
        let mut s = Stream::default();
        s.entries.insert(StreamId::new(5, 0), blist(&["f", "v"]));
        s.last_id = StreamId::new(5, 0);
        s.first_id = StreamId::new(5, 0);
        s.entries_added = 1;
        let mut g = Group {
            last_id: StreamId::new(5, 0),
            entries_read: Some(1),
            ..Group::default()
        };
        let seen = 0x0102_0304_0506_0708_i64;
        g.consumers.insert(b("c"), Consumer { seen_time: seen });
        g.pel.insert(StreamId::new(5, 0), pending("c", 99, 2));
        s.groups.insert(b("g"), g);
        let v2 = dump(&Value::Stream(Box::new(s.clone())));
        let mut v3 = body(&v2).to_vec();
        let at = v3
            .windows(8)
            .position(|w| w == seen.to_le_bytes())
            .expect("seen time")
            + 8;
        v3.splice(at..at, 0x1111_i64.to_le_bytes());
        v3[0] = TYPE_STREAM_LISTPACKS_3;
        let back = restore(&seal(&v3, 11)).expect("stream v3");
        assert_eq!(stream_of(&back), &s);
        // The hash with field expiry types are refused.
        for ty in 22..=25u8 {
            assert_eq!(err(&seal(&[ty, 0], 12)), ERR_FORMAT);
        }
    }

    #[test]
    fn restores_a_redis_5_stream() {
        // RDB_TYPE_STREAM_LISTPACKS: no first id, tombstone, counter or read counters.
        let mut s = Stream::default();
        for i in 1..=3 {
            s.entries.insert(StreamId::new(i, 0), blist(&["k", "v"]));
        }
        let chunk: Vec<(StreamId, &Vec<Bytes>)> = s.entries.iter().map(|(k, v)| (*k, v)).collect();
        let (master, lp) = stream_node(&chunk).expect("node");
        let mut body = vec![TYPE_STREAM_LISTPACKS, 1, 16];
        body.extend_from_slice(&master.encode());
        put_len(&mut body, lp.len() as u64);
        body.extend_from_slice(&lp);
        body.extend_from_slice(&[3, 3, 0]); // length, last id
        body.push(1); // groups
        put_string(&mut body, b"g");
        body.extend_from_slice(&[2, 0]); // last delivered 2-0
        body.push(1);
        body.extend_from_slice(&StreamId::new(1, 0).encode());
        body.extend_from_slice(&42i64.to_le_bytes());
        body.push(1);
        body.push(1);
        put_string(&mut body, b"c");
        body.extend_from_slice(&43i64.to_le_bytes());
        body.push(1);
        body.extend_from_slice(&StreamId::new(1, 0).encode());
        let v = restore(&seal(&body, 9)).expect("stream v1");
        let got = stream_of(&v);
        assert_eq!(got.entries, s.entries);
        assert_eq!(got.last_id, StreamId::new(3, 0));
        assert_eq!(got.first_id, StreamId::new(1, 0));
        assert_eq!(got.entries_added, 3);
        let g = &got.groups[&b("g")];
        // Redis estimates no read counter for a group inside the stream.
        assert_eq!(g.entries_read, None);
        assert_eq!(g.pel[&StreamId::new(1, 0)], pending("c", 42, 1));
        assert_eq!(g.consumers[&b("c")], Consumer { seen_time: 43 });
    }

    #[test]
    fn error_strings() {
        let good = dump(&Value::Str(b("hello")));
        assert_eq!(err(&[]), ERR_VERSION);
        assert_eq!(err(&good[..9]), ERR_VERSION);
        // A newer RDB version.
        assert_eq!(err(&seal(body(&good), 13)), ERR_VERSION);
        assert!(restore(&seal(body(&good), 12)).is_ok());
        // A wrong checksum.
        let mut bad = good.clone();
        *bad.last_mut().expect("byte") ^= 1;
        assert_eq!(err(&bad), ERR_VERSION);
        let mut bad = good.clone();
        bad[2] ^= 1;
        assert_eq!(err(&bad), ERR_VERSION);
        // Trailing garbage, truncation, unknown types.
        let mut long = body(&good).to_vec();
        long.push(0);
        assert_eq!(err(&seal(&long, 10)), ERR_FORMAT);
        assert_eq!(err(&seal(&body(&good)[..3], 10)), ERR_FORMAT);
        assert_eq!(err(&seal(&[], 10)), ERR_FORMAT);
        for ty in [6u8, 7, 8, 26, 200, 255] {
            assert_eq!(err(&seal(&[ty, 0], 10)), ERR_FORMAT);
        }
        // Empty collections.
        for ty in [
            TYPE_LIST,
            TYPE_SET,
            TYPE_ZSET,
            TYPE_HASH,
            TYPE_ZSET_2,
            TYPE_LIST_QUICKLIST_2,
        ] {
            assert_eq!(err(&seal(&[ty, 0], 10)), ERR_FORMAT);
        }
        let empty_lp = LpWriter::default().finish();
        for ty in [TYPE_SET_LISTPACK, TYPE_HASH_LISTPACK, TYPE_ZSET_LISTPACK] {
            let mut body = vec![ty];
            put_len(&mut body, empty_lp.len() as u64);
            body.extend_from_slice(&empty_lp);
            assert_eq!(err(&seal(&body, 11)), ERR_FORMAT);
        }
        // Duplicates.
        let dup_set = [TYPE_SET, 2, 1, b'a', 1, b'a'];
        assert_eq!(err(&seal(&dup_set, 10)), ERR_FORMAT);
        let dup_hash = [TYPE_HASH, 2, 1, b'a', 1, b'1', 1, b'a', 1, b'2'];
        assert_eq!(err(&seal(&dup_hash, 10)), ERR_FORMAT);
        let mut dup_zset = vec![TYPE_ZSET_2, 2];
        for _ in 0..2 {
            dup_zset.extend_from_slice(&[1, b'a']);
            dup_zset.extend_from_slice(&1f64.to_le_bytes());
        }
        assert_eq!(err(&seal(&dup_zset, 10)), ERR_FORMAT);
        let mut lp = LpWriter::default();
        for m in ["a", "b", "a"] {
            lp.bytes(m.as_bytes());
        }
        let lp = lp.finish();
        let mut dup_lp = vec![TYPE_SET_LISTPACK];
        put_len(&mut dup_lp, lp.len() as u64);
        dup_lp.extend_from_slice(&lp);
        assert_eq!(err(&seal(&dup_lp, 11)), ERR_FORMAT);
        // A NaN score.
        let mut nan = vec![TYPE_ZSET_2, 1, 1, b'a'];
        nan.extend_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(err(&seal(&nan, 10)), ERR_FORMAT);
        // Lengths far beyond the payload allocate nothing.
        let huge = [
            TYPE_LIST, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert_eq!(err(&seal(&huge, 10)), ERR_FORMAT);
        let huge_str = [TYPE_STRING, 0x80, 0xff, 0xff, 0xff, 0xff, b'x'];
        assert_eq!(err(&seal(&huge_str, 10)), ERR_FORMAT);
        // LZF claiming more than its input can expand to, or more than 512 MiB.
        let lzf = [TYPE_STRING, 0xc3, 2, 0x80, 0xff, 0xff, 0xff, 0xff, 0, b'a'];
        assert_eq!(err(&seal(&lzf, 10)), ERR_FORMAT);
        let lzf = [TYPE_STRING, 0xc3, 2, 3, 0, b'a'];
        assert_eq!(err(&seal(&lzf, 10)), ERR_FORMAT);
        let lzf = [TYPE_STRING, 0xc3, 2, 1, 0, b'a'];
        assert_eq!(restore(&seal(&lzf, 10)).map(|v| str_of(&v)), Ok(b("a")));
    }

    /// Truncated and bit-flipped payloads (checksum recomputed so the parser sees them):
    /// restore must return, whatever it returns.
    #[test]
    fn fuzzed_payloads_never_panic() {
        let mut payloads: Vec<Vec<u8>> = samples()
            .iter()
            .map(|(_, v)| dump(v))
            .filter(|p| p.len() < 400)
            .collect();
        let small_stream = {
            let mut s = sample_stream();
            let keep: Vec<StreamId> = s.entries.keys().take(4).copied().collect();
            s.entries.retain(|k, _| keep.contains(k));
            s.last_id = keep[3];
            Value::Stream(Box::new(s))
        };
        payloads.push(dump(&small_stream));
        for h in [
            R70_INT,
            R70_LZF,
            R70_LIST,
            R70_INTS,
            R70_INTSET,
            R70_HASH,
            R70_ZSET,
            R70_ZSETSK,
            R70_SETHT,
            R70_HASHHT,
            R70_STREAM,
            R70_OURS_ZSET,
            R70_OURS_INT_SET,
            OLD_ENCODINGS_ZSET,
            OLD_ENCODINGS_LIST_ZIPPED,
            OLD_ENCODINGS_COMPRESSIBLE,
            OLD_ENCODINGS_SET_ZIPPED_3,
            OLD_ENCODINGS_HASH_ZIPPED,
            OLD_ENCODINGS_ZSET_ZIPPED,
            OLD_HASH_ZIPMAP_HASH,
            OLD_LIST_QUICKLIST_LIST,
        ] {
            payloads.push(hex(h));
        }
        let mut runs = 0usize;
        for p in &payloads {
            assert!(restore(p).is_ok());
            let body = body(p);
            let version = u16::from_le_bytes([p[p.len() - 10], p[p.len() - 9]]);
            for cut in 0..body.len() {
                let _ = restore(&seal(&body[..cut], version));
                runs += 1;
            }
            let mut flipped = body.to_vec();
            for i in 0..flipped.len() * 8 {
                flipped[i / 8] ^= 1 << (i % 8);
                let _ = restore(&seal(&flipped, version));
                flipped[i / 8] ^= 1 << (i % 8);
                runs += 1;
            }
            // Whole bytes set to values that make lengths and encodings extreme.
            for i in 0..flipped.len() {
                for x in [0x00, 0x3f, 0x7f, 0x80, 0x81, 0xc3, 0xf0, 0xfe, 0xff] {
                    let old = flipped[i];
                    flipped[i] = x;
                    let _ = restore(&seal(&flipped, version));
                    flipped[i] = old;
                    runs += 1;
                }
            }
        }
        assert!(runs > 10_000);
    }
}

// RDB files

/// The RDB version of the files [`RdbFile`] writes (Redis 7.0's).
const FILE_VERSION: u16 = 10;
const OPCODE_AUX: u8 = 250;
const OPCODE_RESIZEDB: u8 = 251;
const OPCODE_EXPIRETIME_MS: u8 = 252;
const OPCODE_SELECTDB: u8 = 254;
const OPCODE_EOF: u8 = 255;
const OPCODE_IDLE: u8 = 248;
const OPCODE_FREQ: u8 = 249;

/// What an RDB file keeps of a key's use, as Redis saves it under its eviction policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    None,
    /// Seconds since the last use (an LRU policy).
    Idle(u64),
    /// The LFU counter (an LFU policy).
    Freq(u8),
}

/// A whole RDB file (what `redis-cli --rdb` saves and redis-server loads), written in order:
/// the header and auxiliary fields, the function libraries, then each database's keys, then
/// the end marker and the file's CRC64.
pub struct RdbFile {
    out: Vec<u8>,
}

impl RdbFile {
    /// The header, with the auxiliary fields a redis-server 7.0 writes outside replication.
    pub fn new(ctime: i64, used_mem: u64) -> Self {
        let mut out = format!("REDIS{FILE_VERSION:04}").into_bytes();
        let version = crate::cmd::server::VERSION.as_bytes();
        let ctime = ctime.to_string();
        let used_mem = used_mem.to_string();
        for (k, v) in [
            (&b"redis-ver"[..], version),
            (b"redis-bits", b"64"),
            (b"ctime", ctime.as_bytes()),
            (b"used-mem", used_mem.as_bytes()),
            (b"aof-base", b"0"),
        ] {
            out.push(OPCODE_AUX);
            put_string(&mut out, k);
            put_string(&mut out, v);
        }
        Self { out }
    }

    /// A function library, by its code.
    pub fn function(&mut self, code: &[u8]) {
        self.out.push(OPCODE_FUNCTION2);
        put_string(&mut self.out, code);
    }

    /// Start database `db`, which holds `keys` keys, `expires` of them with a TTL.
    pub fn database(&mut self, db: usize, keys: usize, expires: usize) {
        self.out.push(OPCODE_SELECTDB);
        put_len(&mut self.out, db as u64);
        self.out.push(OPCODE_RESIZEDB);
        put_len(&mut self.out, keys as u64);
        put_len(&mut self.out, expires as u64);
    }

    /// One key of the current database.
    pub fn key(&mut self, key: &[u8], value: &Value, expires_at: Option<i64>, used: Use) {
        if let Some(at) = expires_at {
            self.out.push(OPCODE_EXPIRETIME_MS);
            self.out.extend_from_slice(&at.to_le_bytes());
        }
        match used {
            Use::None => {}
            Use::Idle(secs) => {
                self.out.push(OPCODE_IDLE);
                put_len(&mut self.out, secs);
            }
            Use::Freq(n) => self.out.extend_from_slice(&[OPCODE_FREQ, n]),
        }
        self.out.push(type_of(value));
        put_string(&mut self.out, key);
        put_body(&mut self.out, value);
    }

    /// The end marker and the CRC64 of everything before it.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(OPCODE_EOF);
        let crc = crc64(0, &self.out);
        self.out.extend_from_slice(&crc.to_le_bytes());
        self.out
    }
}
