//! Redis 7 functions: FUNCTION LOAD/DELETE/FLUSH/LIST/DUMP/RESTORE/STATS/KILL/HELP, FCALL and
//! FCALL_RO.
//!
//! A library is Lua code that starts with a `#!lua name=<lib>` line and, when run, registers
//! its functions with `redis.register_function`. As in Redis, the code runs with nothing but
//! `redis.register_function`, `redis.log` (and its levels) and the version constants at hand;
//! any other global (`redis.call`, `string`, ...) is an error, and so is setting one. A
//! function is then called with `(keys, args)` and sees the whole script API (`redis.call`,
//! the libraries), still without setting globals. `no-writes` makes a function read-only (and
//! the only kind FCALL_RO runs); `allow-cross-slot-keys` lets its keys span shards (they are
//! all locked). The other flags are kept and listed; nothing here needs them.
//!
//! Lua states are not kept between calls (as for EVAL, see `script::run`): FCALL makes a
//! fresh state, runs the library's code again (it only registers functions, so this repeats
//! what FUNCTION LOAD saw) and calls the function.
//!
//! # Durability
//!
//! Redis persists functions with the data (RDB, AOF); here a library is durable before
//! FUNCTION LOAD (DELETE, FLUSH, RESTORE) answers. The libraries live in the `functions`
//! table (name, whole code) of one shard object, shard 0 of database 0 (the table exists,
//! empty, in every shard object: the schema is one). A change is a statement queued on that
//! shard under its lock, so the shard's writer runs it in order with the shard's other
//! changes, and the reply waits for the writer's ticket like any write's. No key is involved:
//! KEYS, SCAN and DBSIZE never see a library, and FLUSHALL (which empties `keys` and
//! `elems`) keeps them, as in Redis.
//!
//! In memory, `Functions` holds the libraries, loaded from that table the first time a
//! function command or FCALL needs them (so after a restart, or a SIGKILL, the libraries
//! are there again). A change applies in memory and queues its statement under the shard's
//! lock and then the libraries' lock (always in that order, the order FCALL inside MULTI
//! takes them), so memory and object change in the same order. Until the last change is
//! durable, every reply that reads the libraries (FCALL, FUNCTION LIST, DUMP, STATS) waits
//! for it too.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dotdo_backend::Statement;
use mlua::{Function, HookTriggers, Lua, MultiValue, Table, Value as LuaValue, VmState};
use parking_lot::Mutex;

use super::args::{glob, is, strict_i64};
use super::script::{self, Caller};
use crate::error::Error;
use crate::frame::Reply;
use crate::server::Server;
use crate::session::{Output, Session};
use crate::store::{Keyspace, Shard, Ticket, View, sql};

/// Function flags, in the order Redis lists them.
pub const NO_WRITES: u8 = 1;
pub const ALLOW_OOM: u8 = 2;
pub const ALLOW_STALE: u8 = 4;
pub const NO_CLUSTER: u8 = 8;
pub const ALLOW_CROSS_SLOT: u8 = 16;
const FLAGS: [(u8, &str); 5] = [
    (NO_WRITES, "no-writes"),
    (ALLOW_OOM, "allow-oom"),
    (ALLOW_STALE, "allow-stale"),
    (NO_CLUSTER, "no-cluster"),
    (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
];

/// How long a library's code may run at FUNCTION LOAD (Redis's `LOAD_TIMEOUT_MS`).
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);
/// The same for libraries loaded from storage: a slow start must not drop one.
const STORED_LOAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Instructions between two looks at the load clock.
const LOAD_CHECK_EVERY: u32 = 100_000;

const NAME_RULE: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// FCALL and FCALL_RO.
pub fn is_fcall(name: &str) -> bool {
    matches!(name, "fcall" | "fcall_ro")
}

/// One registered function.
#[derive(Debug, Clone)]
pub struct Func {
    pub name: String,
    pub description: Option<Bytes>,
    pub flags: u8,
}

/// A loaded library.
#[derive(Debug)]
pub struct Library {
    pub name: String,
    /// The whole code, shebang line included (what LIST WITHCODE and DUMP give back).
    pub code: Bytes,
    /// Where the Lua code starts: at the newline that ends the shebang line, so that line
    /// numbers in errors count from the shebang, as Redis's do.
    body_at: usize,
    /// By name, exactly as registered.
    pub functions: BTreeMap<String, Func>,
}

/// The loaded libraries, and every function by its name in lower case (Redis finds a
/// function ignoring case).
#[derive(Default)]
struct Libs {
    libraries: BTreeMap<String, Arc<Library>>,
    functions: HashMap<String, String>,
    /// The last change's place in shard 0's writer.
    last: Option<(Arc<Shard>, u64)>,
}

impl Libs {
    fn link(&mut self, lib: Arc<Library>) {
        for f in lib.functions.keys() {
            self.functions
                .entry(f.to_ascii_lowercase())
                .or_insert_with(|| lib.name.clone());
        }
        self.libraries.insert(lib.name.clone(), lib);
    }

    fn unlink(&mut self, name: &str) -> Option<Arc<Library>> {
        let lib = self.libraries.remove(name)?;
        for f in lib.functions.keys() {
            let key = f.to_ascii_lowercase();
            if self.functions.get(&key) == Some(&lib.name) {
                self.functions.remove(&key);
            }
        }
        Some(lib)
    }

    /// A function of `lib` that some linked library already has.
    fn collision<'a>(&self, lib: &'a Library) -> Option<&'a str> {
        lib.functions
            .keys()
            .find(|f| self.functions.contains_key(&f.to_ascii_lowercase()))
            .map(String::as_str)
    }

    fn function_count(&self) -> usize {
        self.functions.len()
    }
}

/// The function libraries of the server (see the module's documentation).
#[derive(Default)]
pub struct Functions {
    libs: Mutex<Libs>,
    loaded: tokio::sync::OnceCell<()>,
}

impl Functions {
    /// Libraries and functions loaded, and the bytes of the libraries' code (INFO memory).
    pub fn counts(&self) -> (usize, usize, usize) {
        let libs = self.libs.lock();
        let code = libs.libraries.values().map(|l| l.code.len()).sum();
        (libs.libraries.len(), libs.functions.len(), code)
    }

    /// Shard 0 of database 0, where the libraries are stored, with the libraries loaded
    /// from it (once).
    pub async fn ready(&self, keyspace: &Keyspace) -> Result<Arc<Shard>, Error> {
        let db = keyspace
            .db(0)
            .ok_or_else(|| Error::Storage("no database 0".into()))?;
        let shard = db.shard(0).await?;
        self.loaded
            .get_or_init(|| async {
                let rows = shard.functions.lock().take().unwrap_or_default();
                let mut loaded = Vec::new();
                for (name, code) in rows {
                    let lib = parse_meta(&code)
                        .map_err(|e| format!("ERR {e}"))
                        .and_then(|m| compile(&code, m, STORED_LOAD_TIMEOUT));
                    match lib {
                        Ok(lib) if lib.name == name => loaded.push(lib),
                        Ok(lib) => tracing::error!(
                            library = %name, named = %lib.name,
                            "stored function library has another name; not loaded"
                        ),
                        Err(e) => tracing::error!(
                            library = %name, error = %e,
                            "stored function library does not load; not loaded"
                        ),
                    }
                }
                let mut libs = self.libs.lock();
                for lib in loaded {
                    if let Some(f) = libs.collision(&lib) {
                        tracing::error!(library = %lib.name, function = f,
                            "stored function library repeats a function; not loaded");
                        continue;
                    }
                    libs.link(Arc::new(lib));
                }
            })
            .await;
        Ok(shard)
    }

    /// The code of every library, loaded from the objects first if need be (an RDB snapshot),
    /// with what a reply showing them must wait for.
    pub async fn codes(&self, keyspace: &Keyspace) -> Result<(Vec<Bytes>, Vec<Ticket>), Error> {
        self.ready(keyspace).await?;
        let codes = self
            .libs
            .lock()
            .libraries
            .values()
            .map(|l| l.code.clone())
            .collect();
        Ok((codes, self.unsynced()))
    }

    /// What a reply that read the libraries must wait for: the last change, until durable.
    pub fn unsynced(&self) -> Vec<Ticket> {
        let libs = self.libs.lock();
        match &libs.last {
            Some((shard, seq)) if !shard.durable_at(*seq).unwrap_or(false) => vec![Ticket {
                shard: Arc::clone(shard),
                seq: *seq,
            }],
            _ => Vec::new(),
        }
    }

    /// The function called `name` (any case), with its library.
    fn find(&self, name: &[u8]) -> Option<(Arc<Library>, Func)> {
        let name = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
        let libs = self.libs.lock();
        let lib = libs.libraries.get(libs.functions.get(&name)?)?;
        let f = lib
            .functions
            .values()
            .find(|f| f.name.eq_ignore_ascii_case(&name))?
            .clone();
        Some((Arc::clone(lib), f))
    }

    /// Apply a change to the libraries and queue its statements on `shard`, both under the
    /// shard's lock: returns what the reply waits for, or the change's error.
    fn change(
        &self,
        shard: &Arc<Shard>,
        f: impl FnOnce(&mut Libs) -> Result<Vec<Statement>, Reply>,
    ) -> Result<Result<Vec<Ticket>, Reply>, Error> {
        let seq = {
            let mut st = shard.state.lock();
            let mut libs = self.libs.lock();
            let stmts = match f(&mut libs) {
                Ok(s) => s,
                Err(e) => return Ok(Err(e)),
            };
            let seq = st.log_statements(shard, stmts);
            libs.last = Some((Arc::clone(shard), seq));
            seq
        };
        Ok(Ok(if shard.durable_at(seq)? {
            Vec::new()
        } else {
            vec![Ticket {
                shard: Arc::clone(shard),
                seq,
            }]
        }))
    }
}

// ---------------------------------------------------------------------------------------
// Library code: the shebang line, and running the code to learn its functions.

/// What the shebang line says.
#[derive(Debug, PartialEq)]
struct Meta {
    name: String,
    body_at: usize,
}

/// The shebang line as Redis's `functionExtractLibMetaData` reads it (the error without
/// `ERR `), with the checks of the name and the engine.
fn parse_meta(code: &[u8]) -> Result<Meta, String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    // Redis reads the code as a C string: a NUL before the first newline ends it.
    let end = match code.iter().position(|&b| b == b'\n' || b == 0) {
        Some(i) if code[i] == b'\n' => i,
        _ => return Err("Invalid library metadata".into()),
    };
    let parts = match split_args(&code[..end]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err("Invalid library metadata".into()),
    };
    let engine = parts[0].get(2..).unwrap_or_default();
    let mut name: Option<&[u8]> = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(&part[5..]);
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    if !valid_name(name) {
        return Err(NAME_RULE.into());
    }
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "Engine '{}' not found",
            String::from_utf8_lossy(engine)
        ));
    }
    Ok(Meta {
        // Checked: letters, digits and underscores only.
        name: String::from_utf8_lossy(name).into_owned(),
        body_at: end,
    })
}

/// `[a-zA-Z0-9_]+`, Redis's rule for library and function names.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Redis's `sdssplitargs`: words split on spaces, with "double" (escapes `\n`, `\xHH`, ...)
/// and 'single' quotes; `None` for unbalanced quotes or a closing quote not followed by a
/// space.
fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() || line.get(i) == Some(&0x0b) {
            i += 1;
        }
        if i >= line.len() {
            return Some(out);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            let mut done = false;
            if inq {
                let c = *line.get(i)?;
                if c == b'\\'
                    && line.get(i + 1) == Some(&b'x')
                    && let (Some(h), Some(l)) = (
                        line.get(i + 2).copied().and_then(hex),
                        line.get(i + 3).copied().and_then(hex),
                    )
                {
                    cur.push(h * 16 + l);
                    i += 3;
                } else if c == b'\\' && i + 1 < line.len() {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        o => o,
                    });
                } else if c == b'"' {
                    if line.get(i + 1).is_some_and(|n| !n.is_ascii_whitespace()) {
                        return None;
                    }
                    done = true;
                } else {
                    cur.push(c);
                }
            } else if insq {
                let c = *line.get(i)?;
                if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if line.get(i + 1).is_some_and(|n| !n.is_ascii_whitespace()) {
                        return None;
                    }
                    done = true;
                } else {
                    cur.push(c);
                }
            } else {
                match line.get(i) {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t' | 0) => done = true,
                    Some(b'"') => inq = true,
                    Some(b'\'') => insq = true,
                    Some(&c) => cur.push(c),
                }
            }
            if i < line.len() {
                i += 1;
            }
            if done {
                break;
            }
        }
        out.push(cur);
    }
}

/// An error of `redis.register_function` (and the load timeout), worded as Redis's.
#[derive(Debug)]
struct RegisterError(String);

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RegisterError {}

fn register_error<T>(msg: &str) -> mlua::Result<T> {
    Err(mlua::Error::external(RegisterError(msg.to_owned())))
}

/// Where `redis.register_function` puts what it registers (a Lua table by name).
const REGISTERED: &str = "dotdo.functions.registered";

/// The globals of a library: an empty table that refuses writes, reading through to the
/// load-time API while the code loads and to the real globals once `to_runtime` is called,
/// a name found in neither being an error (Redis's globals protection).
const GLOBALS: &str = r#"
local G, api = ...
local error, tostring, rawget, setmetatable = error, tostring, rawget, setmetatable
local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local function readonly()
  error("Attempt to modify a readonly table", 2)
end
setmetatable(api.redis, {__index = missing, __newindex = readonly})
setmetatable(api, {__index = missing, __newindex = readonly})
local meta = {__index = api, __newindex = readonly}
local env = setmetatable({}, meta)
local function runtime(_, k)
  local v = rawget(G, k)
  if v == nil then
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end
  return v
end
return env, function() meta.__index = runtime end
"#;

/// Run a library's Lua code (`body`, from the shebang's newline on) in `lua`: returns the
/// functions it registered (name -> {callback, description, flags}) and the function that
/// switches the library's globals to the run-time ones.
fn load_library(lua: &Lua, body: &[u8]) -> mlua::Result<(Table, Function)> {
    let redis = lua.create_table()?;
    redis.set("register_function", lua.create_function(register)?)?;
    script::set_log_and_version(lua, &redis)?;
    let api = lua.create_table()?;
    api.set("redis", redis)?;
    let registered = lua.create_table()?;
    lua.set_named_registry_value(REGISTERED, &registered)?;
    let (env, to_runtime): (Table, Function) = lua
        .load(GLOBALS)
        .set_name("=function_globals")
        .call((lua.globals(), api))?;
    let chunk = lua
        .load(body)
        .set_name("@user_function")
        .set_environment(env)
        .into_function()?;
    chunk.call::<()>(())?;
    Ok((registered, to_runtime))
}

/// A string as `lua_isstring`/`lua_tostring` take one (numbers too).
fn string_of(lua: &Lua, v: &LuaValue) -> mlua::Result<Option<Bytes>> {
    Ok(match v {
        LuaValue::String(_) | LuaValue::Integer(_) | LuaValue::Number(_) => lua
            .coerce_string(v.clone())?
            .map(|s| Bytes::copy_from_slice(&s.as_bytes())),
        _ => None,
    })
}

/// `redis.register_function(name, callback)` or `redis.register_function{function_name=...,
/// callback=..., flags={...}, description=...}`, checked as Redis checks it.
fn register(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    let args: Vec<LuaValue> = args.into_iter().collect();
    let (name, description, flags, callback) = match args.as_slice() {
        [LuaValue::Table(t)] => {
            let (mut name, mut description, mut flags, mut callback) = (None, None, 0u8, None);
            for pair in t.pairs::<LuaValue, LuaValue>() {
                let (k, v) = pair?;
                let Some(key) = string_of(lua, &k)? else {
                    return register_error(
                        "named argument key given to redis.register_function is not a string",
                    );
                };
                if is(&key, "function_name") {
                    match string_of(lua, &v)? {
                        Some(s) => name = Some(s),
                        None => {
                            return register_error(
                                "function_name argument given to redis.register_function must be a string",
                            );
                        }
                    }
                } else if is(&key, "description") {
                    match string_of(lua, &v)? {
                        Some(s) => description = Some(s),
                        None => {
                            return register_error(
                                "description argument given to redis.register_function must be a string",
                            );
                        }
                    }
                } else if is(&key, "callback") {
                    match v {
                        LuaValue::Function(f) => callback = Some(f),
                        _ => {
                            return register_error(
                                "callback argument given to redis.register_function must be a function",
                            );
                        }
                    }
                } else if is(&key, "flags") {
                    let LuaValue::Table(list) = v else {
                        return register_error(
                            "flags argument to redis.register_function must be a table representing function flags",
                        );
                    };
                    flags = 0;
                    for j in 1.. {
                        let item: LuaValue = list.get(j)?;
                        if item.is_nil() {
                            break;
                        }
                        let bit = string_of(lua, &item)?
                            .and_then(|s| FLAGS.iter().find(|(_, n)| is(&s, n)).map(|(b, _)| *b));
                        match bit {
                            Some(b) => flags |= b,
                            None => return register_error("unknown flag given"),
                        }
                    }
                } else {
                    return register_error("unknown argument given to redis.register_function");
                }
            }
            let Some(name) = name else {
                return register_error("redis.register_function must get a function name argument");
            };
            let Some(callback) = callback else {
                return register_error("redis.register_function must get a callback argument");
            };
            (name, description, flags, callback)
        }
        [_] => {
            return register_error(
                "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
            );
        }
        [n, f] => {
            let Some(name) = string_of(lua, n)? else {
                return register_error(
                    "first argument to redis.register_function must be a string",
                );
            };
            let LuaValue::Function(f) = f else {
                return register_error(
                    "second argument to redis.register_function must be a function",
                );
            };
            (name, None, 0, f.clone())
        }
        _ => return register_error("wrong number of arguments to redis.register_function"),
    };
    if !valid_name(&name) {
        return register_error(NAME_RULE);
    }
    let registered: Table = lua.named_registry_value(REGISTERED)?;
    let key = lua.create_string(&name)?;
    if registered.contains_key(key.clone())? {
        return register_error("Function already exists in the library");
    }
    let entry = lua.create_table()?;
    entry.set("callback", callback)?;
    if let Some(d) = description {
        entry.set("description", lua.create_string(&d)?)?;
    }
    entry.set("flags", flags)?;
    registered.set(key, entry)?;
    Ok(())
}

/// The message inside an error raised while a library's code ran: `ERR <message>`.
fn run_message(e: &mlua::Error) -> String {
    let mut cur = e;
    loop {
        match cur {
            mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
                cur = cause
            }
            mlua::Error::ExternalError(inner) => {
                if let Some(r) = inner.downcast_ref::<RegisterError>() {
                    return format!("ERR {}", r.0);
                }
                break;
            }
            _ => break,
        }
    }
    let text = cur.to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("runtime error: ").unwrap_or(first);
    if first.starts_with("ERR ") {
        first.to_owned()
    } else {
        format!("ERR {first}")
    }
}

/// Run a library's code once to learn its functions (FUNCTION LOAD, RESTORE, and loading
/// from storage). The error is Redis's reply, `ERR` included.
fn compile(code: &Bytes, meta: Meta, timeout: Duration) -> Result<Library, String> {
    let lua = Lua::new();
    let started = Instant::now();
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(LOAD_CHECK_EVERY),
        move |_, _| {
            if started.elapsed() > timeout {
                return register_error("FUNCTION LOAD timeout");
            }
            Ok(VmState::Continue)
        },
    )
    .map_err(|e| format!("ERR {e}"))?;
    let registered = match load_library(&lua, &code[meta.body_at..]) {
        Ok((registered, _)) => registered,
        Err(mlua::Error::SyntaxError { message, .. }) => {
            return Err(format!("ERR Error compiling function: {message}"));
        }
        Err(e) => {
            return Err(format!(
                "ERR Error registering functions: {}",
                run_message(&e)
            ));
        }
    };
    let mut functions = BTreeMap::new();
    for pair in registered.pairs::<mlua::String, Table>() {
        let (name, entry) = pair.map_err(|e| format!("ERR {e}"))?;
        let name = name.to_string_lossy();
        let description = entry
            .get::<Option<mlua::String>>("description")
            .ok()
            .flatten()
            .map(|d| Bytes::copy_from_slice(&d.as_bytes()));
        let flags = entry.get::<u8>("flags").unwrap_or(0);
        functions.insert(
            name.clone(),
            Func {
                name,
                description,
                flags,
            },
        );
    }
    if functions.is_empty() {
        return Err("ERR No functions registered".into());
    }
    Ok(Library {
        name: meta.name,
        code: code.clone(),
        body_at: meta.body_at,
        functions,
    })
}

// ---------------------------------------------------------------------------------------
// FCALL

/// An FCALL ready to run.
struct Call<'a> {
    lib: Arc<Library>,
    func: Func,
    keys: &'a [Bytes],
    argv: &'a [Bytes],
    read_only: bool,
}

/// FCALL's checks, in Redis's order: the function, the key count, FCALL_RO of a function
/// that may write, and (dotdo's rule, as for EVAL) keys of one slot unless the function
/// allows cross-slot keys.
fn prepare<'a>(functions: &Functions, name: &str, args: &'a [Bytes]) -> Result<Call<'a>, Reply> {
    let Some((lib, func)) = functions.find(&args[1]) else {
        return Err(Reply::err("ERR Function not found"));
    };
    let Some(n) = strict_i64(&args[2]) else {
        return Err(Reply::err("ERR Bad number of keys provided"));
    };
    let rest = args.len() - 3;
    if n > rest as i64 {
        return Err(Reply::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let Ok(n) = usize::try_from(n) else {
        return Err(Reply::err("ERR Number of keys can't be negative"));
    };
    let ro = name == "fcall_ro";
    if ro && func.flags & NO_WRITES == 0 {
        return Err(Reply::err(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    let (keys, argv) = args[3..].split_at(n);
    if func.flags & ALLOW_CROSS_SLOT == 0 {
        script::check_same_slot(keys)?;
    }
    Ok(Call {
        read_only: ro || func.flags & NO_WRITES != 0,
        lib,
        func,
        keys,
        argv,
    })
}

/// FCALL/FCALL_RO: under the locks of the keys' shards (every shard for a call without
/// keys), as EVAL.
pub async fn fcall(
    s: &mut Session,
    server: &Server,
    name: &str,
    args: &[Bytes],
    out: &mut Output,
) -> Result<Reply, Error> {
    let functions = &server.scripts.functions;
    functions.ready(&server.keyspace).await?;
    out.add_tickets(functions.unsynced());
    let call = match prepare(functions, name, args) {
        Ok(c) => c,
        Err(e) => return Ok(e),
    };
    let db = server.db(s.db)?;
    let mut wanted: BTreeSet<u16> = call
        .keys
        .iter()
        .map(|k| server.keyspace.slots.shard_of_key(k))
        .collect();
    if wanted.is_empty() {
        wanted.extend(0..db.shard_count());
    }
    let mut shards = Vec::with_capacity(wanted.len());
    for i in wanted {
        shards.push((i, db.shard(i).await?));
    }
    let (reply, tickets, events) = {
        let mut view = View::lock(server.keyspace.slots, &shards, s.now(), s.resp3);
        view.notify = crate::notify::active(server.notify_flags());
        let counted = std::cell::Cell::new(false);
        let caller = Caller {
            user: s.perms.as_deref(),
            monitors: &server.monitors,
            db: s.db,
            read_only: call.read_only,
            scripts: &server.scripts,
            stats: &server.stats,
            counted: &counted,
        };
        let reply = run(&mut view, caller, &call, args);
        s.error_counted = counted.get();
        let (tickets, events) = view.finish_events()?;
        (reply, tickets, events)
    };
    out.add_tickets(tickets);
    out.publish(server, s.db, events);
    server.wake_blocked();
    Ok(reply)
}

/// FCALL queued in MULTI, on the transaction's view (every shard locked; the libraries were
/// loaded before EXEC locked them).
pub fn fcall_in_view(
    functions: &Functions,
    caller: Caller,
    v: &mut View,
    name: &str,
    args: &[Bytes],
) -> Reply {
    match prepare(functions, name, args) {
        Ok(call) => {
            let caller = Caller {
                read_only: call.read_only,
                ..caller
            };
            run(v, caller, &call, args)
        }
        Err(e) => e,
    }
}

fn run(v: &mut View, caller: Caller, call: &Call, args: &[Bytes]) -> Reply {
    let resp3 = v.resp3;
    v.resp3 = false;
    let reply = run_inner(v, caller, call, args).unwrap_or_else(|e| {
        caller.counted.set(script::raised_by_call(&e));
        script::lua_error_reply(&e, &call.func.name, "user_function")
    });
    v.resp3 = resp3;
    reply
}

fn run_inner(v: &mut View, caller: Caller, call: &Call, args: &[Bytes]) -> mlua::Result<Reply> {
    let running = caller
        .scripts
        .start(Some((call.func.name.clone(), args.to_vec())));
    let (lua, redis) = script::new_state(&running.run)?;
    let (registered, to_runtime) = load_library(&lua, &call.lib.code[call.lib.body_at..])?;
    let entry: Table = registered.get(call.func.name.as_str())?;
    let callback: Function = entry.get("callback")?;
    to_runtime.call::<()>(())?;
    let keys = script::bytes_table(&lua, call.keys)?;
    let argv = script::bytes_table(&lua, call.argv)?;
    script::with_calls(&lua, &redis, v, caller, &running.run, || {
        let result: LuaValue = callback.call((keys, argv))?;
        Ok(script::script_reply(&result, caller))
    })
}

// ---------------------------------------------------------------------------------------
// FUNCTION

const HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];

/// The subcommands and their arities (as COMMAND INFO gives them).
const SUBCOMMANDS: &[(&str, i32)] = &[
    ("load", -3),
    ("delete", 3),
    ("flush", -2),
    ("list", -2),
    ("dump", 2),
    ("restore", -3),
    ("stats", 2),
    ("kill", 2),
    ("help", 2),
];

fn syntax_error(sub: &[u8]) -> Reply {
    Reply::err(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
        String::from_utf8_lossy(sub)
    ))
}

/// FUNCTION and its subcommands. A change answers once it is durable (its ticket goes to
/// `out`); a read waits for the last change.
pub async fn command(server: &Server, a: &[Bytes], out: &mut Output) -> Result<Reply, Error> {
    let sub = &a[1];
    let Some(&(name, arity)) = SUBCOMMANDS.iter().find(|(n, _)| is(sub, n)) else {
        return Ok(Reply::err(format!(
            "ERR unknown subcommand '{}'. Try FUNCTION HELP.",
            String::from_utf8_lossy(sub)
        )));
    };
    let argc = a.len() as i32;
    if (arity > 0 && argc != arity) || argc < -arity {
        return Ok(Reply::err(format!(
            "ERR wrong number of arguments for 'function|{name}' command"
        )));
    }
    let functions = &server.scripts.functions;
    match name {
        "help" => {
            return Ok(Reply::Array(
                HELP.iter().map(|l| Reply::Simple((*l).into())).collect(),
            ));
        }
        "kill" => return Ok(server.scripts.kill(false)),
        _ => {}
    }
    let shard = functions.ready(&server.keyspace).await?;
    let changed = match name {
        "load" => load(functions, &shard, a)?,
        "delete" => {
            let lib = String::from_utf8_lossy(&a[2]).into_owned();
            functions
                .change(&shard, |libs| match libs.unlink(&lib) {
                    Some(_) => Ok(vec![sql::del_function(&lib)]),
                    None => Err(Reply::err("ERR Library not found")),
                })?
                .map(|t| (Reply::ok(), t))
        }
        "flush" => {
            if a.len() > 3 {
                return Ok(syntax_error(sub));
            }
            if a.len() == 3 && !is(&a[2], "sync") && !is(&a[2], "async") {
                return Ok(Reply::err(
                    "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
                ));
            }
            functions
                .change(&shard, |libs| {
                    libs.libraries.clear();
                    libs.functions.clear();
                    Ok(vec![sql::clear_functions()])
                })?
                .map(|t| (Reply::ok(), t))
        }
        "restore" => restore(functions, &shard, a)?,
        _ => {
            out.add_tickets(functions.unsynced());
            return Ok(match name {
                "list" => list(functions, a),
                "dump" => {
                    let libs = functions.libs.lock();
                    Reply::Bulk(Bytes::from(crate::rdb::dump_functions(
                        libs.libraries.values().map(|l| &l.code[..]),
                    )))
                }
                _ => stats(server),
            });
        }
    };
    Ok(match changed {
        Ok((reply, tickets)) => {
            out.add_tickets(tickets);
            reply
        }
        Err(e) => e,
    })
}

type Changed = Result<(Reply, Vec<Ticket>), Reply>;

/// FUNCTION LOAD [REPLACE] code.
fn load(functions: &Functions, shard: &Arc<Shard>, a: &[Bytes]) -> Result<Changed, Error> {
    let mut replace = false;
    for opt in &a[2..a.len() - 1] {
        if is(opt, "replace") {
            replace = true;
        } else {
            return Ok(Err(Reply::err(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(opt)
            ))));
        }
    }
    let code = &a[a.len() - 1];
    let meta = match parse_meta(code) {
        Ok(m) => m,
        Err(e) => return Ok(Err(Reply::err(format!("ERR {e}")))),
    };
    let exists = |libs: &Libs, name: &str| {
        (!replace && libs.libraries.contains_key(name))
            .then(|| Reply::err(format!("ERR Library '{name}' already exists")))
    };
    // Redis refuses an existing name before it runs the code.
    if let Some(e) = exists(&functions.libs.lock(), &meta.name) {
        return Ok(Err(e));
    }
    let lib = match compile(code, meta, LOAD_TIMEOUT) {
        Ok(l) => Arc::new(l),
        Err(e) => return Ok(Err(Reply::err(e))),
    };
    let name = lib.name.clone();
    Ok(functions
        .change(shard, |libs| {
            if let Some(e) = exists(libs, &lib.name) {
                return Err(e);
            }
            let old = libs.unlink(&lib.name);
            if let Some(f) = libs.collision(&lib) {
                let e = Reply::err(format!("ERR Function {f} already exists"));
                if let Some(old) = old {
                    libs.link(old);
                }
                return Err(e);
            }
            let stmt = sql::put_function(&lib.name, &lib.code);
            libs.link(lib);
            Ok(vec![stmt])
        })?
        .map(|t| (Reply::bulk(name), t)))
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
fn restore(functions: &Functions, shard: &Arc<Shard>, a: &[Bytes]) -> Result<Changed, Error> {
    #[derive(PartialEq)]
    enum Policy {
        Flush,
        Append,
        Replace,
    }
    if a.len() > 4 {
        return Ok(Err(syntax_error(&a[1])));
    }
    let policy = match a.get(3) {
        None => Policy::Append,
        Some(p) if is(p, "append") => Policy::Append,
        Some(p) if is(p, "replace") => Policy::Replace,
        Some(p) if is(p, "flush") => Policy::Flush,
        Some(_) => {
            return Ok(Err(Reply::err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )));
        }
    };
    let codes = match crate::rdb::restore_functions(&a[2]) {
        Ok(c) => c,
        Err(e) => return Ok(Err(Reply::err(e))),
    };
    // The payload's libraries, checked among themselves as Redis loads them.
    let mut fresh = Libs::default();
    for code in codes {
        let code = Bytes::from(code);
        let meta = match parse_meta(&code) {
            Ok(m) => m,
            Err(e) => return Ok(Err(Reply::err(format!("ERR {e}")))),
        };
        if fresh.libraries.contains_key(&meta.name) {
            return Ok(Err(Reply::err(format!(
                "ERR Library '{}' already exists",
                meta.name
            ))));
        }
        let lib = match compile(&code, meta, LOAD_TIMEOUT) {
            Ok(l) => l,
            Err(e) => return Ok(Err(Reply::err(e))),
        };
        if let Some(f) = fresh.collision(&lib) {
            return Ok(Err(Reply::err(format!("ERR Function {f} already exists"))));
        }
        fresh.link(Arc::new(lib));
    }
    Ok(functions
        .change(shard, |libs| {
            let mut stmts = Vec::new();
            if policy == Policy::Flush {
                libs.libraries = std::mem::take(&mut fresh.libraries);
                libs.functions = std::mem::take(&mut fresh.functions);
                stmts.push(sql::clear_functions());
            } else {
                // Redis's `libraryJoin`: every name clash first, then every function clash;
                // on an error nothing changes.
                let mut old = Vec::new();
                for name in fresh.libraries.keys() {
                    if libs.libraries.contains_key(name) {
                        if policy == Policy::Append {
                            for lib in old {
                                libs.link(lib);
                            }
                            return Err(Reply::err(format!("ERR Library {name} already exists")));
                        }
                        old.extend(libs.unlink(name));
                    }
                }
                let clash = fresh
                    .libraries
                    .values()
                    .find_map(|lib| libs.collision(lib).map(str::to_owned));
                if let Some(f) = clash {
                    for lib in old {
                        libs.link(lib);
                    }
                    return Err(Reply::err(format!("ERR Function {f} already exists")));
                }
                for lib in fresh.libraries.values() {
                    libs.link(Arc::clone(lib));
                }
            }
            stmts.extend(
                libs.libraries
                    .values()
                    .filter(|l| policy == Policy::Flush || fresh.libraries.contains_key(&l.name))
                    .map(|l| sql::put_function(&l.name, &l.code)),
            );
            Ok(stmts)
        })?
        .map(|t| (Reply::ok(), t)))
}

/// FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern] (libraries and functions by name).
fn list(functions: &Functions, a: &[Bytes]) -> Reply {
    let mut with_code = false;
    let mut pattern: Option<Vec<u8>> = None;
    let mut i = 2;
    while i < a.len() {
        let arg = &a[i];
        if !with_code && is(arg, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(arg, "libraryname") {
            let Some(p) = a.get(i + 1) else {
                return Reply::err("ERR library name argument was not given");
            };
            pattern = Some(p.to_ascii_lowercase());
            i += 1;
        } else {
            return Reply::err(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(arg)
            ));
        }
        i += 1;
    }
    let libs = functions.libs.lock();
    let items = libs
        .libraries
        .values()
        .filter(|l| {
            pattern
                .as_ref()
                .is_none_or(|p| glob(p, l.name.to_ascii_lowercase().as_bytes()))
        })
        .map(|l| {
            let funcs = l
                .functions
                .values()
                .map(|f| {
                    Reply::Map(vec![
                        (Reply::bulk("name"), Reply::bulk(f.name.clone())),
                        (
                            Reply::bulk("description"),
                            f.description.clone().map_or(Reply::Nil, Reply::Bulk),
                        ),
                        (
                            Reply::bulk("flags"),
                            Reply::Set(
                                FLAGS
                                    .iter()
                                    .filter(|(b, _)| f.flags & b != 0)
                                    .map(|(_, n)| Reply::Simple((*n).into()))
                                    .collect(),
                            ),
                        ),
                    ])
                })
                .collect();
            let mut m = vec![
                (Reply::bulk("library_name"), Reply::bulk(l.name.clone())),
                (Reply::bulk("engine"), Reply::bulk("LUA")),
                (Reply::bulk("functions"), Reply::Array(funcs)),
            ];
            if with_code {
                m.push((Reply::bulk("library_code"), Reply::Bulk(l.code.clone())));
            }
            Reply::Map(m)
        })
        .collect();
    Reply::Array(items)
}

/// FUNCTION STATS: the busy function, if one is, and the counts.
fn stats(server: &Server) -> Reply {
    let busy = server.scripts.busy_ones();
    if busy.iter().any(|r| r.function.is_none()) {
        return Reply::err(script::BUSY);
    }
    let running = busy
        .iter()
        .find_map(|r| r.function.as_ref().map(|f| (r, f)))
        .map_or(Reply::Nil, |(r, (name, cmd))| {
            Reply::Map(vec![
                (Reply::bulk("name"), Reply::bulk(name.clone())),
                (Reply::bulk("command"), Reply::bulks(cmd.iter().cloned())),
                (
                    Reply::bulk("duration_ms"),
                    Reply::Int(i64::try_from(r.duration_ms()).unwrap_or(i64::MAX)),
                ),
            ])
        });
    let libs = server.scripts.functions.libs.lock();
    Reply::Map(vec![
        (Reply::bulk("running_script"), running),
        (
            Reply::bulk("engines"),
            Reply::Map(vec![(
                Reply::bulk("LUA"),
                Reply::Map(vec![
                    (
                        Reply::bulk("libraries_count"),
                        Reply::Int(libs.libraries.len() as i64),
                    ),
                    (
                        Reply::bulk("functions_count"),
                        Reply::Int(libs.function_count() as i64),
                    ),
                ]),
            )]),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(s: &str) -> Result<Meta, String> {
        parse_meta(s.as_bytes())
    }

    #[test]
    fn shebangs_read_as_redis_reads_them() {
        assert_eq!(
            meta("#!lua name=x\nreturn"),
            Ok(Meta {
                name: "x".into(),
                body_at: 12
            })
        );
        assert_eq!(meta("#!LUA  NAME=x \n").map(|m| m.name), Ok("x".into()));
        assert_eq!(meta("#!lua \"name=q\"\n").map(|m| m.name), Ok("q".into()));
        assert_eq!(meta("return 1"), Err("Missing library metadata".into()));
        assert_eq!(meta("#!lua name=x"), Err("Invalid library metadata".into()));
        assert_eq!(
            meta("#!lua\0 name=x\n"),
            Err("Invalid library metadata".into())
        );
        assert_eq!(
            meta("#!lua \"name=q\n"),
            Err("Invalid library metadata".into())
        );
        assert_eq!(
            meta("#!lua \"name\"q\n"),
            Err("Invalid library metadata".into())
        );
        assert_eq!(meta("#!lua\n"), Err("Library name was not given".into()));
        assert_eq!(
            meta("#!lua name=a name=b\n"),
            Err("Invalid metadata value, name argument was given multiple times".into())
        );
        assert_eq!(
            meta("#!lua foo=bar\n"),
            Err("Invalid metadata value given: foo=bar".into())
        );
        assert_eq!(meta("#!lua name=a-b\n"), Err(NAME_RULE.into()));
        assert_eq!(meta("#!lua name=\n"), Err(NAME_RULE.into()));
        assert_eq!(meta("#!js name=a\n"), Err("Engine 'js' not found".into()));
        assert_eq!(meta("#! name=a\n"), Err("Engine '' not found".into()));
    }

    #[test]
    fn split_args_handles_quotes_and_escapes() {
        let s = |x: &str| split_args(x.as_bytes());
        let v = |x: &[&str]| Some(x.iter().map(|p| p.as_bytes().to_vec()).collect::<Vec<_>>());
        assert_eq!(s("  a  b "), v(&["a", "b"]));
        assert_eq!(s(r#""a\x41\n" 'b\'c'"#), v(&["aA\n", "b'c"]));
        assert_eq!(s("\"a"), None);
        assert_eq!(s("'a'b"), None);
        assert_eq!(s(""), v(&[]));
        assert_eq!(s("\\"), v(&["\\"]));
        assert_eq!(s("\"\\"), None);
    }

    fn lib(code: &str) -> Result<Library, String> {
        let code = Bytes::from(code.to_owned());
        compile(
            &code,
            parse_meta(&code).map_err(|e| format!("ERR {e}"))?,
            LOAD_TIMEOUT,
        )
    }

    #[test]
    fn libraries_register_functions_with_flags() {
        let l = lib("#!lua name=l\n\
            redis.register_function('a', function(keys, args) return 1 end)\n\
            redis.register_function{function_name='b', callback=function() end, \
              flags={'no-writes', 'ALLOW-OOM'}, description='desc'}\n")
        .unwrap();
        assert_eq!(l.functions.len(), 2);
        let b = &l.functions["b"];
        assert_eq!(b.flags, NO_WRITES | ALLOW_OOM);
        assert_eq!(b.description.as_deref(), Some(&b"desc"[..]));
        assert_eq!(l.functions["a"].flags, 0);
    }

    #[test]
    fn library_errors_are_worded_as_redis_words_them() {
        let err = |code: &str| lib(code).unwrap_err();
        assert_eq!(
            err("#!lua name=l\nredis.call('ping')"),
            "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"
        );
        assert_eq!(
            err("#!lua name=l\nlocal x = string.len('a')"),
            "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'string'"
        );
        assert_eq!(
            err("#!lua name=l\nfoo = 1"),
            "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table"
        );
        assert_eq!(err("#!lua name=l\nreturn 1"), "ERR No functions registered");
        assert_eq!(
            err("#!lua name=l\nlocal a =\n"),
            "ERR Error compiling function: user_function:3: unexpected symbol near '<eof>'"
        );
        assert_eq!(
            err(
                "#!lua name=l\nredis.register_function('f', function() end)\nredis.register_function('f', function() end)"
            ),
            "ERR Error registering functions: ERR Function already exists in the library"
        );
        assert_eq!(
            err(
                "#!lua name=l\nredis.register_function{function_name='f', callback=function() end, flags={'bogus'}}"
            ),
            "ERR Error registering functions: ERR unknown flag given"
        );
        assert_eq!(
            err("#!lua name=l\nredis.register_function('a-b', function() end)"),
            format!("ERR Error registering functions: ERR {NAME_RULE}")
        );
        assert_eq!(
            err("#!lua name=l\nredis.register_function()"),
            "ERR Error registering functions: ERR wrong number of arguments to redis.register_function"
        );
    }

    #[test]
    fn an_endless_library_times_out() {
        let code = Bytes::from_static(b"#!lua name=l\nwhile true do end");
        let started = Instant::now();
        let e = compile(&code, parse_meta(&code).unwrap(), Duration::from_millis(50)).unwrap_err();
        assert_eq!(
            e,
            "ERR Error registering functions: ERR FUNCTION LOAD timeout"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn dump_payloads_round_trip() {
        let codes: [&[u8]; 2] = [b"#!lua name=a\n", b"#!lua name=b\n"];
        let p = crate::rdb::dump_functions(codes);
        assert_eq!(
            crate::rdb::restore_functions(&p).unwrap(),
            vec![codes[0].to_vec(), codes[1].to_vec()]
        );
        let mut bad = p.clone();
        bad[0] = 0;
        assert!(crate::rdb::restore_functions(&bad).is_err());
        assert!(crate::rdb::restore_functions(b"short").is_err());
    }
}
