//! Bitmaps on strings: SETBIT, GETBIT, BITCOUNT, BITPOS and BITOP (BITFIELD in `bitfield.rs`),
//! with redis-server 7's argument order, errors and edge cases.

use bytes::{Bytes, BytesMut};

use super::args::{self, is, syntax};
use crate::frame::{Reply, errors};
use crate::store::view::CmdResult;
use crate::store::{Entry, Value, View};

/// Largest byte index a bit offset may reach (Redis's `proto-max-bulk-len` default, 512 MB).
const MAX_BYTES: u64 = 512 * 1024 * 1024;

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// A bit offset as `getBitOffsetFromArgument` reads it; `#n` (BITFIELD) multiplies by `bits`.
pub(super) fn bit_offset(arg: &[u8], hash_bits: Option<u32>) -> Result<u64, Reply> {
    let bad = || Reply::err(BAD_OFFSET);
    let (digits, mul) = match (arg.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    let n = args::strict_i64(digits)
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(bad)?;
    if n < 0 || (n as u64 >> 3) >= MAX_BYTES {
        return Err(bad());
    }
    Ok(n as u64)
}

/// A string being edited in place: taken out of the image (without a copy when nothing else
/// holds it), and put back by `commit` (changed: written) or `restore` (unchanged).
pub(super) struct Editing {
    pub(super) buf: BytesMut,
    ttl: Option<i64>,
    /// Created or grown: written even if no bit changes.
    pub(super) dirty: bool,
    existed: bool,
}

/// The string at `key`, grown with zeroes to hold byte `min_len - 1`.
pub(super) fn for_write(v: &mut View, key: &Bytes, min_len: usize) -> Result<Editing, Reply> {
    let (cur, ttl) = match v.live(key)? {
        None => (None, None),
        Some(Entry {
            value: Value::Str(s),
            expires_at,
            ..
        }) => (Some(std::mem::take(s)), *expires_at),
        Some(_) => return Err(Reply::err(errors::WRONGTYPE)),
    };
    let existed = cur.is_some();
    let mut buf = match cur {
        Some(b) => b.try_into_mut().unwrap_or_else(|b| BytesMut::from(&b[..])),
        None => BytesMut::new(),
    };
    let grown = buf.len() < min_len;
    if grown {
        buf.resize(min_len, 0);
    }
    Ok(Editing {
        buf,
        ttl,
        dirty: grown || !existed,
        existed,
    })
}

impl Editing {
    pub(super) fn commit(self, v: &mut View, key: &Bytes) -> Result<(), Reply> {
        v.replace_str(key, self.buf.freeze(), self.ttl)
    }

    /// Put the unchanged string back (nothing to write).
    pub(super) fn restore(self, v: &mut View, key: &Bytes) -> Result<(), Reply> {
        if !self.existed {
            return Ok(());
        }
        if let Some(e) = v.live(key)? {
            e.value = Value::Str(self.buf.freeze());
        }
        Ok(())
    }
}

pub fn setbit(v: &mut View, a: &[Bytes]) -> CmdResult {
    let offset = bit_offset(&a[2], None)?;
    let on = match args::strict_i64(&a[3]) {
        Some(b @ (0 | 1)) => b as u8,
        _ => return Err(Reply::err("ERR bit is not an integer or out of range")),
    };
    let byte = (offset >> 3) as usize;
    let mut ed = for_write(v, &a[1], byte + 1)?;
    let shift = 7 - (offset & 7) as u8;
    let old = (ed.buf[byte] >> shift) & 1;
    if ed.dirty || old != on {
        ed.buf[byte] = (ed.buf[byte] & !(1 << shift)) | (on << shift);
        ed.commit(v, &a[1])?;
        v.notify(crate::notify::STRING, "setbit", &a[1]);
    } else {
        ed.restore(v, &a[1])?;
    }
    Ok(Reply::Int(i64::from(old)))
}

pub fn getbit(v: &mut View, a: &[Bytes]) -> CmdResult {
    let offset = bit_offset(&a[2], None)?;
    let s = v.get_str(&a[1])?.unwrap_or_default();
    let byte = (offset >> 3) as usize;
    let bit = s.get(byte).map_or(0, |b| (b >> (7 - (offset & 7))) & 1);
    Ok(Reply::Int(i64::from(bit)))
}

/// A byte range resolved from BITCOUNT/BITPOS arguments, with the masks of bits outside a
/// BIT range in its first and last byte.
struct Span {
    start: i64,
    end: i64,
    first_mask: u8,
    last_mask: u8,
}

fn span(mut start: i64, mut end: i64, len: usize, bit_unit: bool) -> Span {
    let mut total = len as i64;
    if bit_unit {
        total <<= 3;
    }
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let (mut first_mask, mut last_mask) = (0, 0);
    if bit_unit && start <= end {
        first_mask = !((1u16 << (8 - (start & 7))) - 1) as u8;
        last_mask = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    Span {
        start,
        end,
        first_mask,
        last_mask,
    }
}

fn unit(arg: &[u8]) -> Result<bool, Reply> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(syntax())
    }
}

pub fn bitcount(v: &mut View, a: &[Bytes]) -> CmdResult {
    let Some(s) = v.get_str(&a[1])? else {
        return Ok(Reply::Int(0));
    };
    let sp = match a.len() {
        2 => Span {
            start: 0,
            end: s.len() as i64 - 1,
            first_mask: 0,
            last_mask: 0,
        },
        4 | 5 => {
            let (start, end) = (args::int(&a[2])?, args::int(&a[3])?);
            if start < 0 && end < 0 && start > end {
                return Ok(Reply::Int(0));
            }
            let bit_unit = match a.get(4) {
                Some(u) => unit(u)?,
                None => false,
            };
            span(start, end, s.len(), bit_unit)
        }
        _ => return Err(syntax()),
    };
    if sp.start > sp.end {
        return Ok(Reply::Int(0));
    }
    let (from, to) = (sp.start as usize, sp.end as usize);
    let mut count: i64 = s[from..=to].iter().map(|b| i64::from(b.count_ones())).sum();
    count -= i64::from((s[from] & sp.first_mask).count_ones());
    count -= i64::from((s[to] & sp.last_mask).count_ones());
    Ok(Reply::Int(count))
}

/// The first `bit` in `bytes` (big-endian bit order), bits under `first_mask` in the first
/// byte and `last_mask` in the last counting as the opposite; for 0 past the end when all are
/// set, -1 for 1 when none is.
fn first_bit(bytes: &[u8], bit: bool, first_mask: u8, last_mask: u8) -> i64 {
    let last = bytes.len().saturating_sub(1);
    for (i, &b) in bytes.iter().enumerate() {
        let mut mask = 0;
        if i == 0 {
            mask |= first_mask;
        }
        if i == last {
            mask |= last_mask;
        }
        let b = if bit { b & !mask } else { !(b | mask) };
        if b != 0 {
            return i as i64 * 8 + i64::from(b.leading_zeros());
        }
    }
    if bit { -1 } else { bytes.len() as i64 * 8 }
}

pub fn bitpos(v: &mut View, a: &[Bytes]) -> CmdResult {
    let bit = match args::int(&a[2])? {
        0 => false,
        1 => true,
        _ => return Err(Reply::err("ERR The bit argument must be 1 or 0.")),
    };
    let Some(s) = v.get_str(&a[1])? else {
        return Ok(Reply::Int(if bit { -1 } else { 0 }));
    };
    let len = s.len();
    let (sp, end_given) = match a.len() {
        3 => (
            Span {
                start: 0,
                end: len as i64 - 1,
                first_mask: 0,
                last_mask: 0,
            },
            false,
        ),
        4..=6 => {
            let start = args::int(&a[3])?;
            let bit_unit = match a.get(5) {
                Some(u) => unit(u)?,
                None => false,
            };
            let end = match a.get(4) {
                Some(e) => args::int(e)?,
                None if bit_unit => ((len as i64) << 3) + 7,
                None => len as i64 - 1,
            };
            (span(start, end, len, bit_unit), a.len() >= 5)
        }
        _ => return Err(syntax()),
    };
    if sp.start > sp.end {
        return Ok(Reply::Int(-1));
    }
    let (first, last) = (sp.start as usize, sp.end as usize);
    let bytes = &s[first..=last];
    let pos = first_bit(bytes, bit, sp.first_mask, sp.last_mask);
    if end_given && !bit && pos == bytes.len() as i64 * 8 {
        return Ok(Reply::Int(-1));
    }
    Ok(Reply::Int(if pos == -1 {
        -1
    } else {
        pos + (first as i64) * 8
    }))
}

pub fn bitop(v: &mut View, a: &[Bytes]) -> CmdResult {
    #[derive(PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = [
        ("and", Op::And),
        ("or", Op::Or),
        ("xor", Op::Xor),
        ("not", Op::Not),
    ]
    .into_iter()
    .find(|(w, _)| is(&a[1], w))
    .map(|(_, op)| op)
    .ok_or_else(syntax)?;
    if op == Op::Not && a.len() != 4 {
        return Err(Reply::err(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let mut srcs = Vec::with_capacity(a.len() - 3);
    for key in &a[3..] {
        srcs.push(v.get_str(key)?.unwrap_or_default());
    }
    let max = srcs.iter().map(Bytes::len).max().unwrap_or(0);
    let dest = &a[2];
    if max == 0 {
        if v.remove(dest)?.is_some() {
            v.notify(crate::notify::GENERIC, "del", dest);
        }
        return Ok(Reply::Int(0));
    }
    let byte_at = |s: &Bytes, j: usize| s.get(j).copied().unwrap_or(0);
    let mut out = vec![0u8; max];
    for (j, o) in out.iter_mut().enumerate() {
        let mut acc = byte_at(&srcs[0], j);
        for s in &srcs[1..] {
            let b = byte_at(s, j);
            match op {
                Op::And => acc &= b,
                Op::Or => acc |= b,
                Op::Xor => acc ^= b,
                Op::Not => {}
            }
        }
        *o = if op == Op::Not { !acc } else { acc };
    }
    v.set_str(dest, Bytes::from(out), None)?;
    v.notify(crate::notify::STRING, "set", dest);
    Ok(Reply::Int(max as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_bounded() {
        assert_eq!(bit_offset(b"7", None).ok(), Some(7));
        assert!(bit_offset(b"-1", None).is_err());
        assert!(bit_offset(b"4294967296", None).is_err());
        assert_eq!(bit_offset(b"4294967295", None).ok(), Some(4294967295));
        assert!(bit_offset(b"#2", None).is_err());
        assert_eq!(bit_offset(b"#2", Some(8)).ok(), Some(16));
        assert!(bit_offset(b"#9223372036854775807", Some(64)).is_err());
        assert!(bit_offset(b"", None).is_err());
    }

    #[test]
    fn first_bits() {
        assert_eq!(first_bit(&[0, 0x10], true, 0, 0), 11);
        assert_eq!(first_bit(&[0, 0], true, 0, 0), -1);
        assert_eq!(first_bit(&[0xff, 0xfe], false, 0, 0), 15);
        assert_eq!(first_bit(&[0xff], false, 0, 0), 8);
        assert_eq!(first_bit(&[], false, 0, 0), 0);
        // Masked bits count as the opposite of the one sought.
        assert_eq!(first_bit(&[0x80, 0x01], true, 0x80, 0x01), -1);
        assert_eq!(first_bit(&[0x7f, 0xfe], false, 0x80, 0x01), 16);
    }

    #[test]
    fn spans_clamp() {
        let s = span(-100, 100, 3, false);
        assert_eq!((s.start, s.end), (0, 2));
        let s = span(5, 12, 3, true);
        assert_eq!(
            (s.start, s.end, s.first_mask, s.last_mask),
            (0, 1, 0xf8, 0x07)
        );
        let s = span(0, -1, 0, false);
        assert!(s.start > s.end);
    }
}
