//! EVAL, EVALSHA and SCRIPT: Lua 5.1 scripts with `redis.call`/`redis.pcall`, `KEYS` and `ARGV`,
//! run atomically under the lock of the keys' shard.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use mlua::{HookTriggers, Lua, MultiValue, Table, Value as LuaValue, Variadic, VmState};
use parking_lot::Mutex;

use super::args::{int, is};
use super::table::{Keys, Spec, lookup};
use crate::frame::Reply;
use crate::store::View;

/// Scripts by SHA1, shared by every connection (SCRIPT LOAD, EVALSHA), the function
/// libraries (FUNCTION LOAD, FCALL), and the scripts and functions running now (SCRIPT KILL,
/// FUNCTION KILL).
pub struct Scripts {
    by_sha: Mutex<HashMap<String, Bytes>>,
    pub functions: super::function::Functions,
    running: Mutex<Vec<Arc<Running>>>,
    /// How many are running (read without the lock).
    count: AtomicUsize,
    /// `busy-reply-threshold` (alias `lua-time-limit`), in milliseconds: a script that has run
    /// this long may be killed.
    busy_ms: AtomicU64,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            by_sha: Mutex::default(),
            functions: Default::default(),
            running: Mutex::default(),
            count: AtomicUsize::new(0),
            busy_ms: AtomicU64::new(5000),
        }
    }
}

/// A script being run.
pub struct Running {
    started: Instant,
    /// SCRIPT KILL asked it to stop: its next hook raises an error.
    killed: AtomicBool,
    /// It ran a write command, so stopping it would leave half its effects: Redis refuses.
    wrote: AtomicBool,
    /// A function (FCALL): its name and the command that called it (FUNCTION STATS); `None`
    /// for EVAL.
    pub function: Option<(String, Vec<Bytes>)>,
}

impl Running {
    pub fn duration_ms(&self) -> u128 {
        self.started.elapsed().as_millis()
    }
}

/// Removes a script from the running ones when it ends, however it ends.
pub(super) struct RunningGuard<'a> {
    scripts: &'a Scripts,
    pub(super) run: Arc<Running>,
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.scripts
            .running
            .lock()
            .retain(|r| !Arc::ptr_eq(r, &self.run));
        self.scripts.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How many Lua instructions run between two looks at the kill flag.
const KILL_CHECK_EVERY: u32 = 10_000;

impl Scripts {
    pub fn busy_ms(&self) -> u64 {
        self.busy_ms.load(Ordering::Relaxed)
    }

    pub fn set_busy_ms(&self, ms: u64) {
        self.busy_ms.store(ms, Ordering::Relaxed);
    }

    /// A script has run past the busy threshold: Redis then answers other clients `BUSY`
    /// (one load when no script runs).
    pub fn busy(&self) -> bool {
        if self.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        let threshold = std::time::Duration::from_millis(self.busy_ms());
        self.running
            .lock()
            .iter()
            .any(|r| r.started.elapsed() >= threshold)
    }

    pub(super) fn start(&self, function: Option<(String, Vec<Bytes>)>) -> RunningGuard<'_> {
        let run = Arc::new(Running {
            started: Instant::now(),
            killed: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            function,
        });
        self.running.lock().push(run.clone());
        self.count.fetch_add(1, Ordering::AcqRel);
        RunningGuard { scripts: self, run }
    }

    /// The scripts and functions that have run past the busy threshold.
    pub fn busy_ones(&self) -> Vec<Arc<Running>> {
        if self.count.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        let threshold = std::time::Duration::from_millis(self.busy_ms());
        self.running
            .lock()
            .iter()
            .filter(|r| r.started.elapsed() >= threshold)
            .cloned()
            .collect()
    }

    /// The BUSY error other commands get while a script (or a function) is busy, as Redis
    /// words it for each.
    pub fn busy_error(&self) -> &'static str {
        match self.busy_ones().first() {
            Some(r) if r.function.is_some() => BUSY_FUNCTION,
            _ => BUSY,
        }
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL: stop the scripts (or functions) that have run
    /// past the busy threshold and have not written. Redis reads SCRIPT KILL only once its
    /// one script is past that threshold, so a shorter script is not busy: it finishes. As in
    /// Redis, SCRIPT KILL does not stop a function nor FUNCTION KILL a script: each answers
    /// the other's BUSY error.
    pub fn kill(&self, eval: bool) -> Reply {
        let busy = self.busy_ones();
        if busy.is_empty() {
            return Reply::err("NOTBUSY No scripts in execution right now.");
        }
        let unwritten: Vec<&Arc<Running>> = busy
            .iter()
            .filter(|r| !r.wrote.load(Ordering::Acquire))
            .collect();
        if unwritten.is_empty() {
            return Reply::err(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            );
        }
        let mut killed = false;
        for r in &unwritten {
            if r.function.is_none() == eval {
                r.killed.store(true, Ordering::Release);
                killed = true;
            }
        }
        match (killed, eval) {
            (true, _) => Reply::ok(),
            (false, true) => Reply::err(BUSY_FUNCTION),
            (false, false) => Reply::err(BUSY),
        }
    }

    pub fn load(&self, body: Bytes) -> String {
        let sha = sha1_hex(&body);
        self.by_sha.lock().insert(sha.clone(), body);
        sha
    }

    pub fn get(&self, sha: &str) -> Option<Bytes> {
        self.by_sha.lock().get(&sha.to_ascii_lowercase()).cloned()
    }

    pub fn exists(&self, sha: &[u8]) -> bool {
        self.by_sha
            .lock()
            .contains_key(&String::from_utf8_lossy(sha).to_ascii_lowercase())
    }

    pub fn flush(&self) {
        self.by_sha.lock().clear();
    }

    /// Cached scripts, and the bytes of their bodies (INFO memory).
    pub fn cached(&self) -> (usize, usize) {
        let by_sha = self.by_sha.lock();
        (by_sha.len(), by_sha.values().map(Bytes::len).sum())
    }
}

pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

pub const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// `BUSY` while the busy one is a function.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// What Redis still runs while a script is busy (its `allow-busy` commands that dotdo has).
pub fn allowed_while_busy(name: &str, a: &[Bytes]) -> bool {
    match name {
        "auth" | "hello" | "client" | "quit" | "reset" | "role" | "readonly" | "readwrite" => true,
        "script" => a.get(1).is_some_and(|s| is(s, "kill")),
        "function" => a.get(1).is_some_and(|s| is(s, "kill") || is(s, "stats")),
        _ => false,
    }
}

/// Keys and arguments of EVAL/EVALSHA: `a` = [cmd, script, numkeys, keys..., args...].
pub fn split_eval(a: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), Reply> {
    let n = int(&a[2])?;
    if n < 0 {
        return Err(Reply::err("ERR Number of keys can't be negative"));
    }
    let n = n as usize;
    if n > a.len() - 3 {
        return Err(Reply::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok((&a[3..3 + n], &a[3 + n..]))
}

/// The Redis Cluster rule: every key of a script must hash to one slot.
pub fn check_same_slot(keys: &[Bytes]) -> Result<(), Reply> {
    let mut slots = keys.iter().map(|k| dotdo_shard::key_slot(k));
    if let Some(first) = slots.next()
        && slots.any(|s| s != first)
    {
        return Err(Reply::err(
            "CROSSSLOT Keys in request don't hash to the same slot",
        ));
    }
    Ok(())
}

/// Who runs a script: the user whose ACL every `redis.call` is checked against (`None`: may
/// run anything), and the monitors its commands are shown to, with the database.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    pub user: Option<&'a crate::acl::User>,
    pub monitors: &'a crate::monitor::Monitors,
    pub db: usize,
    /// EVAL_RO / EVALSHA_RO: write commands are refused.
    pub read_only: bool,
    /// Where the script is registered as running, for SCRIPT KILL.
    pub scripts: &'a Scripts,
    /// Where the commands it calls are counted (INFO commandstats).
    pub stats: &'a crate::stats::Stats,
    /// Set when the script's reply is an error a command it called raised: that error was
    /// counted in errorstats where it happened, and is not counted again (as in Redis).
    pub counted: &'a std::cell::Cell<bool>,
}

/// EVAL and its read-only and by-SHA forms, and FCALL and FCALL_RO: commands that run Lua
/// under the locks of their keys' shards (the monitor shows them before what they run).
pub fn is_eval(name: &str) -> bool {
    matches!(
        name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// EVALSHA and EVALSHA_RO.
pub fn by_sha(name: &str) -> bool {
    matches!(name, "evalsha" | "evalsha_ro")
}

/// EVAL/EVALSHA queued in MULTI, run on the transaction's view (every shard is locked).
pub fn eval_in_view(
    scripts: &Scripts,
    caller: Caller,
    v: &mut View,
    name: &str,
    args: &[Bytes],
) -> Reply {
    if super::function::is_fcall(name) {
        return super::function::fcall_in_view(&scripts.functions, caller, v, name, args);
    }
    let body = if by_sha(name) {
        match scripts.get(&String::from_utf8_lossy(&args[1])) {
            Some(b) => b,
            None => return Reply::err(NOSCRIPT),
        }
    } else {
        scripts.load(args[1].clone());
        args[1].clone()
    };
    let (keys, argv) = match split_eval(args) {
        Ok(k) => k,
        Err(e) => return e,
    };
    if let Err(e) = check_same_slot(keys) {
        return e;
    }
    run(v, caller, &body, keys, argv)
}

/// Run `body` with the view locked. Lua states are cheap enough to create per call, and a
/// fresh one per script keeps scripts from leaking globals into each other.
pub fn run(v: &mut View, caller: Caller, body: &[u8], keys: &[Bytes], argv: &[Bytes]) -> Reply {
    let resp3 = v.resp3;
    v.resp3 = false;
    let reply = run_inner(v, caller, body, keys, argv).unwrap_or_else(|e| {
        caller.counted.set(raised_by_call(&e));
        lua_error_reply(&e, &sha1_hex(body), "user_script")
    });
    v.resp3 = resp3;
    reply
}

fn run_inner(
    v: &mut View,
    caller: Caller,
    body: &[u8],
    keys: &[Bytes],
    argv: &[Bytes],
) -> mlua::Result<Reply> {
    let running = caller.scripts.start(None);
    let (lua, redis) = new_state(&running.run)?;
    let globals = lua.globals();
    globals.set("KEYS", bytes_table(&lua, keys)?)?;
    globals.set("ARGV", bytes_table(&lua, argv)?)?;
    let chunk = lua.load(body).set_name("@user_script");
    with_calls(&lua, &redis, v, caller, &running.run, || {
        let result: LuaValue = chunk.eval()?;
        Ok(script_reply(&result, caller))
    })
}

/// A fresh Lua state for one run: the standard libraries and Redis's (`cjson`, ...), the
/// `redis` table (returned) without `call` and `pcall`, which `with_calls` binds for the run,
/// and the hook that stops the run once SCRIPT KILL or FUNCTION KILL marks `run`.
pub(super) fn new_state(run: &Arc<Running>) -> mlua::Result<(Lua, Table)> {
    let lua = Lua::new();
    let run = run.clone();
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(KILL_CHECK_EVERY),
        move |_, debug| {
            if run.killed.load(Ordering::Acquire) {
                // Raised again at every check, so a `pcall` in the script cannot swallow it.
                return Err(mlua::Error::external(ScriptError {
                    message: "ERR Script killed by user with SCRIPT KILL...".into(),
                    line: debug.current_line().unwrap_or(0),
                }));
            }
            Ok(VmState::Continue)
        },
    )?;
    let redis = lua.create_table()?;
    redis.set(
        "status_reply",
        lua.create_function(|lua, s: mlua::String| {
            let t = lua.create_table()?;
            t.set("ok", s)?;
            Ok(t)
        })?,
    )?;
    redis.set(
        "error_reply",
        lua.create_function(|lua, s: mlua::String| {
            let t = lua.create_table()?;
            t.set("err", s)?;
            Ok(t)
        })?,
    )?;
    redis.set(
        "sha1hex",
        lua.create_function(|_, s: mlua::String| Ok(sha1_hex(&s.as_bytes())))?,
    )?;
    redis.set("setresp", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    // Replication controls are no-ops in Redis 7 (scripts replicate by effects); kept so that
    // scripts written for older servers run.
    redis.set(
        "replicate_commands",
        lua.create_function(|_, _: MultiValue| Ok(true))?,
    )?;
    for name in ["set_repl", "breakpoint", "debug"] {
        redis.set(name, lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    }
    redis.set("REPL_NONE", 0)?;
    redis.set("REPL_AOF", 1)?;
    redis.set("REPL_SLAVE", 2)?;
    redis.set("REPL_REPLICA", 2)?;
    redis.set("REPL_ALL", 3)?;
    set_log_and_version(&lua, &redis)?;
    lua.globals().set("redis", redis.clone())?;
    super::lua_libs::install(&lua)?;
    Ok((lua, redis))
}

/// `redis.log` and its levels, `REDIS_VERSION` and `REDIS_VERSION_NUM`: what a function
/// library's code may use while it loads, besides `redis.register_function`.
pub(super) fn set_log_and_version(lua: &Lua, redis: &Table) -> mlua::Result<()> {
    redis.set("log", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    redis.set("REDIS_VERSION", super::server::VERSION)?;
    let num = super::server::VERSION
        .split('.')
        .filter_map(|p| p.parse::<i64>().ok())
        .fold(0, |acc, p| acc * 256 + p);
    redis.set("REDIS_VERSION_NUM", num)?;
    redis.set("LOG_DEBUG", 0)?;
    redis.set("LOG_VERBOSE", 1)?;
    redis.set("LOG_NOTICE", 2)?;
    redis.set("LOG_WARNING", 3)?;
    Ok(())
}

/// Run `body` with `redis.call` and `redis.pcall` of `redis` bound to the locked view.
pub(super) fn with_calls<R>(
    lua: &Lua,
    redis: &Table,
    v: &mut View,
    caller: Caller,
    run: &Running,
    body: impl FnOnce() -> mlua::Result<R>,
) -> mlua::Result<R> {
    let view = std::cell::RefCell::new(v);
    lua.scope(|scope| {
        let call = |raise: bool| {
            let view = &view;
            move |lua: &Lua, args: Variadic<LuaValue>| -> mlua::Result<LuaValue> {
                let args = lua_args(args)?;
                let reply = {
                    let mut v = view.borrow_mut();
                    call_command(&mut v, caller, run, &args)
                };
                match reply {
                    Reply::Error(e) if raise => {
                        let line = lua
                            .inspect_stack(1, |d| d.current_line())
                            .flatten()
                            .unwrap_or(0);
                        Err(mlua::Error::external(ScriptError { message: e, line }))
                    }
                    r => reply_to_lua(lua, r),
                }
            }
        };
        redis.set("call", scope.create_function(call(true))?)?;
        redis.set("pcall", scope.create_function(call(false))?)?;
        body()
    })
}

/// An error reply raised by `redis.call`, carried through Lua's error machinery.
#[derive(Debug)]
struct ScriptError {
    message: String,
    line: usize,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScriptError {}

/// A script error as Redis 7 words it: `<error> script: <sha>, on @user_script:<line>.` (for
/// a function: its name, and `@user_function`, the `source` its code was loaded as).
pub(super) fn lua_error_reply(e: &mlua::Error, sha: &str, source: &str) -> Reply {
    match cause_of(e) {
        mlua::Error::ExternalError(inner) => {
            if let Some(se) = inner.downcast_ref::<ScriptError>() {
                return Reply::err(format!(
                    "{} script: {sha}, on @{source}:{}.",
                    se.message, se.line
                ));
            }
        }
        mlua::Error::SyntaxError { message, .. } => {
            return Reply::err(format!(
                "ERR Error compiling script (new function): {message}"
            ));
        }
        _ => {}
    }
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("runtime error: ").unwrap_or(first);
    let line = first
        .strip_prefix(source)
        .and_then(|r| r.strip_prefix(':'))
        .and_then(|r| r.split(':').next())
        .unwrap_or("0");
    Reply::err(format!("ERR {first} script: {sha}, on @{source}:{line}."))
}

pub(super) fn bytes_table(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, b) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(b)?)?;
    }
    Ok(t)
}

fn lua_args(args: Variadic<LuaValue>) -> mlua::Result<Vec<Bytes>> {
    if args.is_empty() {
        return Err(mlua::Error::runtime(
            "Please specify at least one argument for this redis lib call",
        ));
    }
    args.iter()
        .map(|a| match a {
            LuaValue::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
            LuaValue::Integer(i) => Ok(Bytes::from(i.to_string())),
            LuaValue::Number(n) => Ok(Bytes::from(crate::codec::format_incr(*n))),
            _ => Err(mlua::Error::runtime(
                "Lua redis lib command arguments must be strings or integers",
            )),
        })
        .collect()
}

/// A command from inside a script: keyed commands on the locked view, a few others. Each is
/// counted in the command statistics as Redis counts it: refused before it ran (rejected),
/// or run (failed if it answered an error).
fn call_command(v: &mut View, caller: Caller, run: &Running, args: &[Bytes]) -> Reply {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let Some(spec) = lookup(&name) else {
        let msg = "ERR Unknown Redis command called from script";
        caller.stats.reject_reply(None, msg);
        return Reply::err(msg);
    };
    if let Err(refused) = check_call(spec, &name, caller, run, args) {
        if let Reply::Error(msg) = &refused {
            caller.stats.reject_reply(Some(spec), msg);
        }
        return refused;
    }
    if caller.monitors.active() {
        caller.monitors.feed(caller.db, "lua", args, None);
    }
    let started = quanta::Instant::now();
    let reply = match spec.keys {
        Keys::None => match name.as_str() {
            "ping" => Reply::Simple("PONG".into()),
            "echo" => Reply::Bulk(args[1].clone()),
            "time" => super::server::time(),
            "publish" => Reply::err("ERR PUBLISH from scripts is not supported by this server"),
            _ => Reply::err("ERR This Redis command is not allowed from script"),
        },
        _ => super::apply(&name, v, args).unwrap_or_else(|e| e),
    };
    let ns = started.elapsed().as_nanos() as u64;
    caller
        .stats
        .record_reply(spec, args.get(1).map(|a| &a[..]), Some(ns), &reply, false);
    reply
}

/// What refuses a command a script calls before it runs, as Redis refuses it.
fn check_call(
    spec: &'static Spec,
    name: &str,
    caller: Caller,
    run: &Running,
    args: &[Bytes],
) -> Result<(), Reply> {
    if !spec.arity_ok(args.len()) {
        return Err(Reply::wrong_args(name));
    }
    if let Some(why) = caller.user.and_then(|u| u.denied(spec, args)) {
        return Err(Reply::err(format!("NOPERM {why}")));
    }
    if spec.writes {
        if caller.read_only {
            return Err(Reply::err(
                "ERR Write commands are not allowed from read-only scripts.",
            ));
        }
        run.wrote.store(true, Ordering::Release);
    }
    if spec.flags.contains(&"noscript") || name.starts_with('b') && spec.group == "list" {
        return Err(Reply::err(
            "ERR This Redis command is not allowed from script",
        ));
    }
    if matches!(name, "xread" | "xreadgroup") && super::stream::blocks(args) {
        return Err(Reply::err(format!(
            "ERR {} command is not allowed with BLOCK option from scripts",
            String::from_utf8_lossy(&args[0])
        )));
    }
    Ok(())
}

/// Redis reply to Lua value, as Redis converts them for scripts (RESP2 rules).
fn reply_to_lua(lua: &Lua, r: Reply) -> mlua::Result<LuaValue> {
    Ok(match r {
        Reply::Int(i) => LuaValue::Integer(i),
        Reply::Bulk(b) => LuaValue::String(lua.create_string(&b)?),
        Reply::Nil | Reply::NilArray => LuaValue::Boolean(false),
        Reply::Simple(s) => {
            let t = lua.create_table()?;
            t.set("ok", s)?;
            LuaValue::Table(t)
        }
        Reply::Error(e) => {
            let t = lua.create_table()?;
            t.set("err", e)?;
            // As Redis marks it: counted where the command failed, not again if the script
            // returns it.
            t.set("ignore_error_stats_update", true)?;
            LuaValue::Table(t)
        }
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, reply_to_lua(lua, item)?)?;
            }
            LuaValue::Table(t)
        }
        Reply::Map(pairs) => {
            let t = lua.create_table()?;
            let mut i = 1;
            for (k, val) in pairs {
                t.raw_set(i, reply_to_lua(lua, k)?)?;
                t.raw_set(i + 1, reply_to_lua(lua, val)?)?;
                i += 2;
            }
            LuaValue::Table(t)
        }
        Reply::Double(d) => LuaValue::String(lua.create_string(crate::codec::format_double(d))?),
        Reply::Bool(b) => LuaValue::Integer(i64::from(b)),
        Reply::Verbatim(s) | Reply::DoubleText(s) => LuaValue::String(lua.create_string(&s)?),
    })
}

/// A script's result as its reply; an error table that a command it called returned was
/// counted already (`Caller::counted`).
pub(super) fn script_reply(v: &LuaValue, caller: Caller) -> Reply {
    if let LuaValue::Table(t) = v
        && matches!(t.raw_get::<LuaValue>("err"), Ok(LuaValue::String(_)))
        && matches!(
            t.raw_get::<LuaValue>("ignore_error_stats_update"),
            Ok(LuaValue::Boolean(true))
        )
    {
        caller.counted.set(true);
    }
    lua_to_reply(v)
}

/// Whether `e` is an error reply `redis.call` raised (counted where the command failed).
pub(super) fn raised_by_call(e: &mlua::Error) -> bool {
    matches!(cause_of(e), mlua::Error::ExternalError(inner) if inner.is::<ScriptError>())
}

/// The error under the callback and context layers Lua wrapped around it.
fn cause_of(mut e: &mlua::Error) -> &mlua::Error {
    while let mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } = e
    {
        e = cause;
    }
    e
}

/// Lua value to Redis reply, as Redis converts a script's result.
pub(super) fn lua_to_reply(v: &LuaValue) -> Reply {
    match v {
        LuaValue::Nil => Reply::Nil,
        LuaValue::Boolean(true) => Reply::Int(1),
        LuaValue::Boolean(false) => Reply::Nil,
        LuaValue::Integer(i) => Reply::Int(*i),
        LuaValue::Number(n) => Reply::Int(*n as i64),
        LuaValue::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        LuaValue::Table(t) => {
            if let Ok(LuaValue::String(e)) = t.raw_get::<LuaValue>("err") {
                return Reply::err(e.to_string_lossy());
            }
            if let Ok(LuaValue::String(s)) = t.raw_get::<LuaValue>("ok") {
                return Reply::Simple(s.to_string_lossy());
            }
            let mut out = Vec::new();
            for i in 1.. {
                match t.raw_get::<LuaValue>(i) {
                    Ok(LuaValue::Nil) | Err(_) => break,
                    Ok(item) => out.push(lua_to_reply(&item)),
                }
            }
            Reply::Array(out)
        }
        _ => Reply::Nil,
    }
}

/// SCRIPT LOAD / EXISTS / FLUSH.
pub fn script(scripts: &Scripts, a: &[Bytes]) -> Reply {
    let sub = &a[1];
    if is(sub, "load") && a.len() == 3 {
        let body = a[2].clone();
        if let Err(e) = Lua::new()
            .load(&body[..])
            .set_name("@user_script")
            .into_function()
        {
            let msg = e.to_string();
            return Reply::err(format!(
                "ERR Error compiling script (new function): {}",
                msg.lines().next().unwrap_or_default()
            ));
        }
        return Reply::bulk(scripts.load(body));
    }
    if is(sub, "exists") && a.len() >= 3 {
        return Reply::Array(
            a[2..]
                .iter()
                .map(|s| Reply::Int(i64::from(scripts.exists(s))))
                .collect(),
        );
    }
    if is(sub, "flush") && a.len() <= 3 {
        scripts.flush();
        return Reply::ok();
    }
    if is(sub, "kill") {
        if a.len() != 2 {
            return Reply::err("ERR wrong number of arguments for 'script|kill' command");
        }
        return scripts.kill(true);
    }
    if is(sub, "debug") {
        return match a.get(2) {
            _ if a.len() != 3 => {
                Reply::err("ERR wrong number of arguments for 'script|debug' command")
            }
            // Debugging off is what every script run is.
            Some(m) if is(m, "no") => Reply::ok(),
            Some(m) if is(m, "yes") || is(m, "sync") => Reply::err(
                "ERR SCRIPT DEBUG is not supported by dotdo: there is no Lua debugger (redis-cli --ldb)",
            ),
            _ => Reply::err("ERR Use SCRIPT DEBUG YES/SYNC/NO"),
        };
    }
    Reply::err(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try SCRIPT HELP.",
        String::from_utf8_lossy(sub)
    ))
}
