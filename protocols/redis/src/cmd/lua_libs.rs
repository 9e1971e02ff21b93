//! The libraries Redis loads into every script besides the standard ones: `cjson`
//! (lua-cjson), `cmsgpack` (lua-cmsgpack) and `bit` (LuaBitOp), written to encode and decode
//! the way Redis's bundled copies do (job queues such as BullMQ pack their options with
//! cmsgpack and their data with cjson).

use mlua::{LightUserData, Lua, MultiValue, Table, Value as LuaValue};

pub fn install(lua: &Lua) -> mlua::Result<()> {
    let g = lua.globals();
    g.set("cjson", cjson(lua)?)?;
    g.set("cmsgpack", cmsgpack(lua)?)?;
    g.set("bit", bit(lua)?)?;
    Ok(())
}

/// `cjson.null`: a light userdata holding NULL, as lua-cjson has it.
fn null() -> LuaValue {
    LuaValue::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn is_null(v: &LuaValue) -> bool {
    matches!(v, LuaValue::LightUserData(p) if p.0.is_null())
}

/// An error raised the way `luaL_error` raises it: prefixed with the script's position.
fn fail(msg: impl std::fmt::Display) -> mlua::Error {
    let line = LINE.with(|l| l.get());
    mlua::Error::runtime(format!("user_script:{line}: {msg}"))
}

thread_local! {
    /// The script line of the library call being run (set on entry to each call).
    static LINE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Remember the calling script line, for `fail`.
fn at(lua: &Lua) {
    let line = lua
        .inspect_stack(1, |d| d.current_line())
        .flatten()
        .unwrap_or(0);
    LINE.with(|l| l.set(line));
}

fn number_of(v: &LuaValue) -> Option<f64> {
    match v {
        LuaValue::Integer(i) => Some(*i as f64),
        LuaValue::Number(n) => Some(*n),
        _ => None,
    }
}

/// C's `%.14g`, the way lua-cjson prints numbers.
fn fmt_g14(n: f64) -> String {
    if n == 0.0 {
        return if n.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let exp = n.abs().log10().floor() as i32;
    // Round to 14 significant digits first: that can carry into the next power of ten.
    let sci = format!("{:.13e}", n);
    let (mant, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let e: i32 = e.parse().unwrap_or(exp);
    if !(-4..14).contains(&e) {
        let mant = trim_zeros(mant);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", e.abs());
    }
    let decimals = (13 - e).max(0) as usize;
    trim_zeros(&format!("{:.*}", decimals, n)).to_owned()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

// ---------------------------------------------------------------- cjson

fn cjson(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "encode",
        lua.create_function(|lua, v: LuaValue| {
            at(lua);
            let mut out = Vec::new();
            json_encode(&v, 0, &mut out)?;
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "decode",
        lua.create_function(|lua, s: mlua::String| {
            at(lua);
            let bytes = s.as_bytes();
            let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                fail(format!(
                    "Expected value but found invalid token at character {}",
                    e.column()
                ))
            })?;
            json_to_lua(lua, &v)
        })?,
    )?;
    t.set("null", null())?;
    // Settings Redis's copy exposes; dotdo keeps lua-cjson's defaults.
    for name in [
        "encode_keep_buffer",
        "encode_max_depth",
        "decode_max_depth",
        "encode_number_precision",
        "encode_invalid_numbers",
        "decode_invalid_numbers",
        "encode_sparse_array",
    ] {
        t.set(name, lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    }
    Ok(t)
}

const MAX_DEPTH: usize = 1000;

fn json_string(b: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in b {
        match c {
            b'"' => out.extend(b"\\\""),
            b'\\' => out.extend(b"\\\\"),
            b'/' => out.extend(b"\\/"),
            b'\n' => out.extend(b"\\n"),
            b'\r' => out.extend(b"\\r"),
            b'\t' => out.extend(b"\\t"),
            0x08 => out.extend(b"\\b"),
            0x0c => out.extend(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// lua-cjson's array test: every key a positive integer; returns the largest, or `None`.
/// Arrays sparser than lua-cjson's default (`max > 2 * items` beyond 10) are an error.
fn json_array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let (mut max, mut items) = (0usize, 0usize);
    for pair in t.pairs::<LuaValue, LuaValue>() {
        let (k, _) = pair?;
        match number_of(&k) {
            Some(n) if n >= 1.0 && n.fract() == 0.0 && n < 1e15 => {
                max = max.max(n as usize);
                items += 1;
            }
            _ => return Ok(None),
        }
    }
    if max > items * 2 && max > 10 {
        return Err(fail("Cannot serialise table: excessively sparse array"));
    }
    Ok(Some(max))
}

fn json_encode(v: &LuaValue, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        LuaValue::Nil => out.extend(b"null"),
        v if is_null(v) => out.extend(b"null"),
        LuaValue::Boolean(b) => out.extend(if *b { &b"true"[..] } else { b"false" }),
        LuaValue::Integer(i) => out.extend(fmt_g14(*i as f64).as_bytes()),
        LuaValue::Number(n) => {
            if !n.is_finite() {
                return Err(fail("Cannot serialise number: must not be NaN or Inf"));
            }
            out.extend(fmt_g14(*n).as_bytes())
        }
        LuaValue::String(s) => json_string(&s.as_bytes(), out),
        LuaValue::Table(t) => {
            if depth >= MAX_DEPTH {
                return Err(fail("Cannot serialise, excessive nesting (1001)"));
            }
            match json_array_len(t)? {
                Some(n) if n > 0 => {
                    out.push(b'[');
                    for i in 1..=n {
                        if i > 1 {
                            out.push(b',');
                        }
                        json_encode(&t.raw_get::<LuaValue>(i)?, depth + 1, out)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<LuaValue, LuaValue>() {
                        let (k, val) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            LuaValue::String(s) => json_string(&s.as_bytes(), out),
                            k => match number_of(k) {
                                Some(n) => json_string(fmt_g14(n).as_bytes(), out),
                                None => {
                                    return Err(fail(
                                        "Cannot serialise table: table key must be a number or string",
                                    ));
                                }
                            },
                        }
                        out.push(b':');
                        json_encode(&val, depth + 1, out)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(fail(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )));
        }
    }
    Ok(())
}

fn json_to_lua(lua: &Lua, v: &serde_json::Value) -> mlua::Result<LuaValue> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => null(),
        J::Bool(b) => LuaValue::Boolean(*b),
        J::Number(n) => LuaValue::Number(n.as_f64().unwrap_or(0.0)),
        J::String(s) => LuaValue::String(lua.create_string(s)?),
        J::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, item)?)?;
            }
            LuaValue::Table(t)
        }
        J::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, item) in map {
                t.raw_set(lua.create_string(k)?, json_to_lua(lua, item)?)?;
            }
            LuaValue::Table(t)
        }
    })
}

// ---------------------------------------------------------------- cmsgpack

/// lua-cmsgpack stops descending here and packs deeper tables as nil.
const MSGPACK_MAX_NESTING: usize = 16;

fn cmsgpack(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            at(lua);
            if args.is_empty() {
                return Err(fail("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                mp_encode(v, 0, &mut out)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    let unpack = |limit: Option<usize>, with_offset: bool| {
        move |lua: &Lua, (s, n, offset): (mlua::String, Option<i64>, Option<i64>)| {
            at(lua);
            let bytes = s.as_bytes();
            let start = offset.unwrap_or(0).max(0) as usize;
            let mut pos = start.min(bytes.len());
            let want = limit.or(n.filter(|n| *n > 0).map(|n| n as usize));
            let mut vals = Vec::new();
            while pos < bytes.len() && want.is_none_or(|w| vals.len() < w) {
                let (v, used) = mp_decode(lua, &bytes[pos..], 0)?;
                vals.push(v);
                pos += used;
            }
            if with_offset {
                let next = if pos >= bytes.len() { -1 } else { pos as i64 };
                vals.insert(0, LuaValue::Integer(next));
            }
            Ok(MultiValue::from_vec(vals))
        }
    };
    t.set("unpack", lua.create_function(unpack(None, false))?)?;
    t.set("unpack_one", lua.create_function(unpack(Some(1), true))?)?;
    t.set("unpack_limit", lua.create_function(unpack(None, true))?)?;
    Ok(t)
}

fn mp_int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        let u = i as u64;
        if u <= 127 {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend([0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend((u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend((u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend(u.to_be_bytes());
        }
    } else if i >= -32 {
        out.push(i as i8 as u8);
    } else if i >= -128 {
        out.extend([0xd0, i as i8 as u8]);
    } else if i >= -32768 {
        out.push(0xd1);
        out.extend((i as i16).to_be_bytes());
    } else if i >= -2_147_483_648 {
        out.push(0xd2);
        out.extend((i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend(i.to_be_bytes());
    }
}

fn mp_number(n: f64, out: &mut Vec<u8>) {
    if n.fract() == 0.0 && n >= i64::MIN as f64 && n < i64::MAX as f64 {
        mp_int(n as i64, out);
    } else if (n as f32) as f64 == n || n.is_nan() {
        out.push(0xca);
        out.extend((n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend(n.to_be_bytes());
    }
}

fn mp_len(len: usize, fix: u8, fix_max: usize, c16: u8, c32: u8, out: &mut Vec<u8>) {
    if len <= fix_max {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(c16);
        out.extend((len as u16).to_be_bytes());
    } else {
        out.push(c32);
        out.extend((len as u32).to_be_bytes());
    }
}

fn mp_encode(v: &LuaValue, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        LuaValue::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        LuaValue::Integer(i) => mp_int(*i, out),
        LuaValue::Number(n) => mp_number(*n, out),
        LuaValue::String(s) => {
            let b = s.as_bytes();
            let len = b.len();
            if len < 32 {
                out.push(0xa0 | len as u8);
            } else if len <= 0xff {
                out.extend([0xd9, len as u8]);
            } else if len <= 0xffff {
                out.push(0xda);
                out.extend((len as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend((len as u32).to_be_bytes());
            }
            out.extend(&b[..]);
        }
        LuaValue::Table(t) if depth < MSGPACK_MAX_NESTING => {
            // lua-cmsgpack's test: positive integer keys only, and as many as the largest.
            let (mut count, mut max, mut array) = (0usize, 0usize, true);
            for pair in t.pairs::<LuaValue, LuaValue>() {
                let (k, _) = pair?;
                match number_of(&k) {
                    Some(n) if n > 0.0 && n.fract() == 0.0 && n < 1e15 => {
                        count += 1;
                        max = max.max(n as usize);
                    }
                    _ => {
                        array = false;
                        break;
                    }
                }
            }
            if array && max == count {
                mp_len(count, 0x90, 15, 0xdc, 0xdd, out);
                for i in 1..=count {
                    mp_encode(&t.raw_get::<LuaValue>(i)?, depth + 1, out)?;
                }
            } else {
                let pairs: Vec<(LuaValue, LuaValue)> =
                    t.pairs::<LuaValue, LuaValue>().collect::<Result<_, _>>()?;
                mp_len(pairs.len(), 0x80, 15, 0xde, 0xdf, out);
                for (k, val) in &pairs {
                    mp_encode(k, depth + 1, out)?;
                    mp_encode(val, depth + 1, out)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

fn missing() -> mlua::Error {
    fail("Missing bytes in input.")
}

fn take(b: &[u8], at: usize, n: usize) -> mlua::Result<&[u8]> {
    b.get(at..at + n).ok_or_else(missing)
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
}

/// Decode one value from the front of `b`: the value and the bytes it took.
fn mp_decode(lua: &Lua, b: &[u8], depth: usize) -> mlua::Result<(LuaValue, usize)> {
    if depth > 1000 {
        return Err(fail("Bad data format in input."));
    }
    let tag = *b.first().ok_or_else(missing)?;
    let int = |v: i64, used: usize| Ok((LuaValue::Integer(v), used));
    match tag {
        0x00..=0x7f => int(i64::from(tag), 1),
        0xe0..=0xff => int(i64::from(tag as i8), 1),
        0xc0 => Ok((LuaValue::Nil, 1)),
        0xc2 => Ok((LuaValue::Boolean(false), 1)),
        0xc3 => Ok((LuaValue::Boolean(true), 1)),
        0xcc => int(be(take(b, 1, 1)?) as i64, 2),
        0xcd => int(be(take(b, 1, 2)?) as i64, 3),
        0xce => int(be(take(b, 1, 4)?) as i64, 5),
        0xcf => {
            let u = be(take(b, 1, 8)?);
            match i64::try_from(u) {
                Ok(i) => int(i, 9),
                Err(_) => Ok((LuaValue::Number(u as f64), 9)),
            }
        }
        0xd0 => int(i64::from(take(b, 1, 1)?[0] as i8), 2),
        0xd1 => int(i64::from(be(take(b, 1, 2)?) as u16 as i16), 3),
        0xd2 => int(i64::from(be(take(b, 1, 4)?) as u32 as i32), 5),
        0xd3 => int(be(take(b, 1, 8)?) as i64, 9),
        0xca => {
            let f = f32::from_bits(be(take(b, 1, 4)?) as u32);
            Ok((LuaValue::Number(f64::from(f)), 5))
        }
        0xcb => Ok((LuaValue::Number(f64::from_bits(be(take(b, 1, 8)?))), 9)),
        0xa0..=0xbf | 0xd9 | 0xda | 0xdb | 0xc4 | 0xc5 | 0xc6 => {
            let (len, head) = match tag {
                0xa0..=0xbf => (usize::from(tag & 0x1f), 1),
                0xd9 | 0xc4 => (be(take(b, 1, 1)?) as usize, 2),
                0xda | 0xc5 => (be(take(b, 1, 2)?) as usize, 3),
                _ => (be(take(b, 1, 4)?) as usize, 5),
            };
            let s = take(b, head, len)?;
            Ok((LuaValue::String(lua.create_string(s)?), head + len))
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            let (n, mut pos) = match tag {
                0x90..=0x9f => (usize::from(tag & 0x0f), 1),
                0xdc => (be(take(b, 1, 2)?) as usize, 3),
                _ => (be(take(b, 1, 4)?) as usize, 5),
            };
            // Every element takes at least one byte: bound the table by the input.
            let t = lua.create_table_with_capacity(n.min(b.len()), 0)?;
            for i in 1..=n {
                let (v, used) = mp_decode(lua, b.get(pos..).ok_or_else(missing)?, depth + 1)?;
                t.raw_set(i, v)?;
                pos += used;
            }
            Ok((LuaValue::Table(t), pos))
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let (n, mut pos) = match tag {
                0x80..=0x8f => (usize::from(tag & 0x0f), 1),
                0xde => (be(take(b, 1, 2)?) as usize, 3),
                _ => (be(take(b, 1, 4)?) as usize, 5),
            };
            let t = lua.create_table_with_capacity(0, n.min(b.len()))?;
            for _ in 0..n {
                let (k, used) = mp_decode(lua, b.get(pos..).ok_or_else(missing)?, depth + 1)?;
                pos += used;
                let (v, used) = mp_decode(lua, b.get(pos..).ok_or_else(missing)?, depth + 1)?;
                pos += used;
                if !matches!(k, LuaValue::Nil) {
                    t.raw_set(k, v)?;
                }
            }
            Ok((LuaValue::Table(t), pos))
        }
        _ => Err(fail("Bad data format in input.")),
    }
}

// ---------------------------------------------------------------- bit

/// LuaBitOp's argument conversion: a number taken modulo 2^32 as a signed 32-bit integer.
fn tobit(v: &LuaValue) -> mlua::Result<i32> {
    let n = number_of(v).ok_or_else(|| fail("bad argument to bit operation (number expected)"))?;
    // LuaBitOp adds 2^52 + 2^51 and takes the low word, which rounds to nearest even.
    let r = n.round_ties_even();
    Ok((r.rem_euclid(4_294_967_296.0) as u64) as u32 as i32)
}

fn bit(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let out = |v: i32| LuaValue::Number(f64::from(v));
    let fold = |f: fn(i32, i32) -> i32| {
        move |_: &Lua, args: MultiValue| -> mlua::Result<LuaValue> {
            let mut it = args.iter();
            let first = it
                .next()
                .ok_or_else(|| fail("bad argument #1 (number expected)"))?;
            let mut acc = tobit(first)?;
            for a in it {
                acc = f(acc, tobit(a)?);
            }
            Ok(out(acc))
        }
    };
    t.set("band", lua.create_function(fold(|a, b| a & b))?)?;
    t.set("bor", lua.create_function(fold(|a, b| a | b))?)?;
    t.set("bxor", lua.create_function(fold(|a, b| a ^ b))?)?;
    t.set(
        "tobit",
        lua.create_function(move |_, v: LuaValue| Ok(out(tobit(&v)?)))?,
    )?;
    t.set(
        "bnot",
        lua.create_function(move |_, v: LuaValue| Ok(out(!tobit(&v)?)))?,
    )?;
    t.set(
        "bswap",
        lua.create_function(move |_, v: LuaValue| Ok(out(tobit(&v)?.swap_bytes())))?,
    )?;
    let shift = |f: fn(i32, u32) -> i32| {
        move |_: &Lua, (v, n): (LuaValue, LuaValue)| -> mlua::Result<LuaValue> {
            Ok(out(f(tobit(&v)?, (tobit(&n)? & 31) as u32)))
        }
    };
    t.set(
        "lshift",
        lua.create_function(shift(|a, n| ((a as u32) << n) as i32))?,
    )?;
    t.set(
        "rshift",
        lua.create_function(shift(|a, n| ((a as u32) >> n) as i32))?,
    )?;
    t.set("arshift", lua.create_function(shift(|a, n| a >> n))?)?;
    t.set(
        "rol",
        lua.create_function(shift(|a, n| (a as u32).rotate_left(n) as i32))?,
    )?;
    t.set(
        "ror",
        lua.create_function(shift(|a, n| (a as u32).rotate_right(n) as i32))?,
    )?;
    t.set(
        "tohex",
        lua.create_function(|_, (v, n): (LuaValue, Option<LuaValue>)| {
            let x = tobit(&v)? as u32;
            let n = match n {
                Some(n) => tobit(&n)?,
                None => 8,
            };
            let (upper, digits) = if n < 0 {
                (true, n.unsigned_abs().min(8))
            } else {
                (false, (n as u32).min(8))
            };
            let digits = digits as usize;
            let full = if upper {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            Ok(full[8 - digits..].to_owned())
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_percent_14g() {
        for (n, s) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (-2.0, "-2"),
            (0.1, "0.1"),
            (1e20, "1e+20"),
            (123456789012345.0, "1.2345678901234e+14"),
            (12345678901234.0, "12345678901234"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.0 / 3.0, "0.33333333333333"),
        ] {
            assert_eq!(fmt_g14(n), s, "{n}");
        }
    }

    #[test]
    fn msgpack_round_trips_through_lua() {
        let lua = Lua::new();
        install(&lua).unwrap();
        let ok: bool = lua
            .load(
                r#"
                local t = {1, -5, 300, 70000, 5000000000, -200, 1.5, "s", true, {a = 1}, {}}
                local back = cmsgpack.unpack(cmsgpack.pack(t))
                assert(#back == #t)
                for i = 1, 9 do assert(back[i] == t[i], i) end
                assert(back[10].a == 1)
                assert(cmsgpack.pack(1, 2) == "\1\2")
                assert(cmsgpack.pack({}) == "\144")
                local a, b = cmsgpack.unpack(cmsgpack.pack("x", 7))
                assert(a == "x" and b == 7)
                assert(cjson.encode({1, 2, "a/b"}) == '[1,2,"a\\/b"]')
                assert(cjson.encode({}) == '{}')
                assert(cjson.decode('{"a":[1,null,2.5]}').a[2] == cjson.null)
                assert(bit.band(0xff, 0x0f) == 15)
                assert(bit.tohex(255) == "000000ff")
                assert(bit.lshift(1, 31) == -2147483648)
                assert(bit.bnot(0) == -1)
                return true
                "#,
            )
            .eval()
            .unwrap();
        assert!(ok);
    }
}
