//! BITFIELD and BITFIELD_RO: signed and unsigned fields of 1-64 bits at bit or `#` offsets,
//! with OVERFLOW WRAP/SAT/FAIL, as redis-server 7 computes them.

use bytes::Bytes;

use super::args::{self, is, syntax};
use super::bitmap::{bit_offset, for_write};
use crate::frame::Reply;
use crate::store::View;
use crate::store::view::CmdResult;

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set,
    Incr,
}

struct Field {
    op: FieldOp,
    offset: u64,
    value: i64,
    overflow: Overflow,
    bits: u32,
    signed: bool,
}

const BAD_TYPE: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

fn field_type(arg: &[u8]) -> Result<(bool, u32), Reply> {
    let bad = || Reply::err(BAD_TYPE);
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(bad()),
    };
    let bits = args::strict_i64(&arg[1..]).ok_or_else(bad)?;
    if bits < 1 || bits > if signed { 64 } else { 63 } {
        return Err(bad());
    }
    Ok((signed, bits as u32))
}

fn parse_fields(a: &[Bytes]) -> Result<Vec<Field>, Reply> {
    let mut out = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < a.len() {
        let rem = a.len() - j - 1;
        let sub = &a[j];
        let op = if is(sub, "get") && rem >= 2 {
            FieldOp::Get
        } else if is(sub, "set") && rem >= 3 {
            FieldOp::Set
        } else if is(sub, "incrby") && rem >= 3 {
            FieldOp::Incr
        } else if is(sub, "overflow") && rem >= 1 {
            let w = &a[j + 1];
            overflow = if is(w, "wrap") {
                Overflow::Wrap
            } else if is(w, "sat") {
                Overflow::Sat
            } else if is(w, "fail") {
                Overflow::Fail
            } else {
                return Err(Reply::err("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(syntax());
        };
        let (signed, bits) = field_type(&a[j + 1])?;
        let offset = bit_offset(&a[j + 2], Some(bits))?;
        let value = if op == FieldOp::Get {
            0
        } else {
            args::int(&a[j + 3])?
        };
        out.push(Field {
            op,
            offset,
            value,
            overflow,
            bits,
            signed,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    Ok(out)
}

fn get_unsigned(p: &[u8], offset: u64, bits: u32) -> u64 {
    let mut value = 0u64;
    for j in 0..u64::from(bits) {
        let o = offset + j;
        let b = p.get((o >> 3) as usize).copied().unwrap_or(0);
        value = (value << 1) | u64::from((b >> (7 - (o & 7))) & 1);
    }
    value
}

fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let mut v = get_unsigned(p, offset, bits) as i64;
    if bits < 64 && v & (1i64 << (bits - 1)) != 0 {
        v |= -1i64 << bits;
    }
    v
}

fn set_unsigned(p: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..u64::from(bits) {
        let bit = u8::from(value & (1u64 << (u64::from(bits) - 1 - j)) != 0);
        let o = offset + j;
        if let Some(b) = p.get_mut((o >> 3) as usize) {
            let shift = 7 - (o & 7) as u8;
            *b = (*b & !(1 << shift)) | (bit << shift);
        }
    }
}

/// `value + incr` in an unsigned field of `bits`: `Some(result)` unless FAIL overflowed.
fn add_unsigned(value: u64, incr: i64, bits: u32, ow: Overflow) -> (bool, u64) {
    let max = (1u64 << bits) - 1;
    let wrap = || value.wrapping_add(incr as u64) & max;
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = value.wrapping_neg() as i64;
    if value > max || (incr > 0 && incr > maxincr) {
        (true, if ow == Overflow::Sat { max } else { wrap() })
    } else if incr < 0 && incr < minincr {
        (true, if ow == Overflow::Sat { 0 } else { wrap() })
    } else {
        (false, value.wrapping_add(incr as u64))
    }
}

fn add_signed(value: i64, incr: i64, bits: u32, ow: Overflow) -> (bool, i64) {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        (true, if ow == Overflow::Sat { max } else { wrap() })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        (true, if ow == Overflow::Sat { min } else { wrap() })
    } else {
        (false, value.wrapping_add(incr))
    }
}

/// One SET or INCRBY on `buf`: the reply, and whether the field changed.
fn apply_write(buf: &mut [u8], f: &Field) -> (Reply, bool) {
    if f.signed {
        let old = get_signed(buf, f.offset, f.bits);
        let (overflow, new, ret) = if f.op == FieldOp::Incr {
            let (o, n) = add_signed(old, f.value, f.bits, f.overflow);
            (o, n, n)
        } else {
            let (o, n) = add_signed(f.value, 0, f.bits, f.overflow);
            (o, n, old)
        };
        if overflow && f.overflow == Overflow::Fail {
            return (Reply::Nil, false);
        }
        set_unsigned(buf, f.offset, f.bits, new as u64);
        (Reply::Int(ret), old != new)
    } else {
        let old = get_unsigned(buf, f.offset, f.bits);
        let (overflow, new, ret) = if f.op == FieldOp::Incr {
            let (o, n) = add_unsigned(old, f.value, f.bits, f.overflow);
            (o, n, n)
        } else {
            let (o, n) = add_unsigned(f.value as u64, 0, f.bits, f.overflow);
            (o, n, old)
        };
        if overflow && f.overflow == Overflow::Fail {
            return (Reply::Nil, false);
        }
        set_unsigned(buf, f.offset, f.bits, new);
        (Reply::Int(ret as i64), old != new)
    }
}

fn read_field(buf: &[u8], f: &Field) -> Reply {
    if f.signed {
        Reply::Int(get_signed(buf, f.offset, f.bits))
    } else {
        Reply::Int(get_unsigned(buf, f.offset, f.bits) as i64)
    }
}

/// BITFIELD and BITFIELD_RO (`read_only`: only GET is allowed).
pub fn bitfield(v: &mut View, a: &[Bytes], read_only: bool) -> CmdResult {
    let fields = parse_fields(a)?;
    let key = &a[1];
    let highest = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + u64::from(f.bits) - 1)
        .max();
    let Some(highest) = highest else {
        let s = v.get_str(key)?.unwrap_or_default();
        return Ok(Reply::Array(
            fields.iter().map(|f| read_field(&s, f)).collect(),
        ));
    };
    if read_only {
        return Err(Reply::err(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let mut ed = for_write(v, key, (highest >> 3) as usize + 1)?;
    let mut changed = ed.dirty;
    let mut out = Vec::with_capacity(fields.len());
    for f in &fields {
        if f.op == FieldOp::Get {
            out.push(read_field(&ed.buf, f));
        } else {
            let (r, c) = apply_write(&mut ed.buf, f);
            changed |= c;
            out.push(r);
        }
    }
    if changed {
        ed.commit(v, key)?;
        v.notify(crate::notify::STRING, "setbit", key);
    } else {
        ed.restore(v, key)?;
    }
    Ok(Reply::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_wrap_saturate_and_fail() {
        assert_eq!(add_unsigned(250, 10, 8, Overflow::Wrap), (true, 4));
        assert_eq!(add_unsigned(250, 10, 8, Overflow::Sat), (true, 255));
        assert_eq!(add_unsigned(5, -10, 8, Overflow::Sat), (true, 0));
        assert_eq!(add_signed(127, 1, 8, Overflow::Wrap), (true, -128));
        assert_eq!(add_signed(-128, -1, 8, Overflow::Sat), (true, -128));
        assert_eq!(
            add_signed(i64::MAX, 1, 64, Overflow::Wrap),
            (true, i64::MIN)
        );
        assert_eq!(
            add_signed(i64::MIN, i64::MIN, 64, Overflow::Sat),
            (true, i64::MIN)
        );
        let mut buf = [0u8; 2];
        set_unsigned(&mut buf, 4, 8, 0xab);
        assert_eq!(buf, [0x0a, 0xb0]);
        assert_eq!(get_unsigned(&buf, 4, 8), 0xab);
        assert_eq!(get_signed(&buf, 4, 8), -85);
        // Reads past the end are zeroes; writes past it are dropped, never a panic.
        assert_eq!(get_unsigned(&buf, 60, 63), 0);
        set_unsigned(&mut buf, 60, 63, u64::MAX);
    }
}
