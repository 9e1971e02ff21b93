//! One client connection's state and the path every command takes: checks, MULTI queueing,
//! then either a connection/server command or a command on keys under the shards' locks.

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::cmd::table::{self, Keys, Spec};
use crate::cmd::{self, args::is};
use crate::codec;
use crate::error::Error;
use crate::frame::Reply;
use crate::notify::Event;
use crate::pubsub::{BLOCKED, Outbox, Signals, UNBLOCK, UNBLOCK_ERROR};
use crate::server::Server;
use crate::store::{Shard, Ticket, View, now_ms};

/// The shards a command locks, by index (inline for one: no allocation per command).
pub type ShardList = smallvec::SmallVec<[(u16, Arc<Shard>); 1]>;

/// A connection's state as CLIENT LIST shows it, copied out after every batch of requests.
#[derive(Clone, Copy)]
pub struct Live {
    /// The last command's name ("" before the first).
    pub cmd: &'static str,
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    /// Commands queued in MULTI, -1 outside one.
    pub multi: i64,
    pub resp3: bool,
    pub monitor: bool,
    /// CLIENT TRACKING: -1 off, 0 on without a redirect, else the redirect's id.
    pub redir: i64,
    /// Tracking in BCAST mode.
    pub bcast: bool,
    /// When the last batch of requests ran (Unix ms: the batch's own clock when it read one).
    pub active_ms: i64,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            cmd: "",
            sub: 0,
            psub: 0,
            ssub: 0,
            multi: -1,
            resp3: false,
            monitor: false,
            redir: -1,
            bcast: false,
            active_ms: now_ms(),
        }
    }
}

impl Live {
    /// CLIENT LIST's flags, in Redis's order: O monitoring, P subscribed, x in MULTI, b
    /// blocked (`blocked`: it is in a blocking command now), t tracking, B in BCAST mode; N for
    /// none.
    pub fn flags(&self, blocked: bool) -> String {
        let mut f = String::new();
        if self.monitor {
            f.push('O');
        }
        if self.sub + self.psub + self.ssub > 0 {
            f.push('P');
        }
        if self.multi >= 0 {
            f.push('x');
        }
        if blocked {
            f.push('b');
        }
        if self.redir >= 0 {
            f.push('t');
        }
        if self.bcast {
            f.push('B');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }
}

/// CLIENT REPLY: whether the replies of the commands being run are sent.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    /// CLIENT REPLY SKIP was the command being run: the next command's reply is dropped.
    SkipNext,
    /// The reply of the command being run is dropped.
    Skip,
}

/// How a blocked command's wait ended.
enum Wake {
    Changed,
    TimedOut,
    /// CLIENT UNBLOCK … ERROR.
    Unblocked,
}

/// Commands queued by MULTI.
#[derive(Default)]
pub struct Multi {
    pub queue: Vec<Vec<Bytes>>,
    /// A queued command was rejected: EXEC answers EXECABORT.
    pub aborted: bool,
}

/// Replies of a pipeline, and what they must wait for before they may leave.
#[derive(Default)]
pub struct Output {
    pub buf: BytesMut,
    pub tickets: Vec<Ticket>,
}

impl Output {
    pub fn push(&mut self, reply: &Reply, resp3: bool) {
        codec::encode(reply, resp3, &mut self.buf);
    }

    /// Add tickets, keeping one (the highest) per shard.
    pub fn add_tickets(&mut self, tickets: Vec<Ticket>) {
        for t in tickets {
            match self
                .tickets
                .iter_mut()
                .find(|o| Arc::ptr_eq(&o.shard, &t.shard))
            {
                Some(o) => o.seq = o.seq.max(t.seq),
                None => self.tickets.push(t),
            }
        }
    }

    /// Publish the keyspace events of a command on `db`, after the command's tickets were
    /// added: once everything the buffer waits for is durable (`Server::hold_events`).
    pub fn publish(&mut self, server: &Server, db: usize, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let waits: Vec<(Arc<Shard>, u64)> = self
            .tickets
            .iter()
            .map(|t| (Arc::clone(&t.shard), t.seq))
            .collect();
        server.hold_events(db, &waits, events);
    }

    /// Wait until every reply in the buffer is backed by durable state, then publish the
    /// events that waited for it.
    pub async fn settle(&mut self, server: &Server) -> Result<(), Error> {
        let waited = !self.tickets.is_empty();
        for t in self.tickets.drain(..) {
            t.wait().await?;
        }
        if waited {
            server.drain_events();
        }
        Ok(())
    }
}

pub struct Session {
    pub id: u64,
    pub peer: SocketAddr,
    pub db: usize,
    pub resp3: bool,
    pub name: Option<Bytes>,
    pub user: String,
    pub authenticated: bool,
    pub multi: Option<Multi>,
    /// Set by a write to any WATCHed key.
    pub watch: Option<Arc<AtomicBool>>,
    pub channels: HashSet<Bytes>,
    pub patterns: HashSet<Bytes>,
    /// Shard channels (SSUBSCRIBE), counted apart from channels and patterns.
    pub shard_channels: HashSet<Bytes>,
    pub outbox: Outbox,
    pub created: Instant,
    pub last_command: &'static str,
    /// QUIT was received: flush and close.
    pub closing: bool,
    /// MONITOR was run (until RESET): the connection may not touch the keyspace.
    pub monitoring: bool,
    /// The ACL generation `perms` was read at.
    pub acl_gen: u64,
    /// The user's permissions, `None` while the user may run anything.
    pub perms: Option<Arc<crate::acl::User>>,
    /// The clock of the requests being run (one read per pipeline batch, not per command);
    /// `None` until read, cleared whenever the connection waits.
    pub clock: Option<i64>,
    /// CLIENT TRACKING's options while it is on.
    pub tracking: Option<crate::tracking::Options>,
    /// CLIENT CACHING yes|no, for the next command only (OPTIN / OPTOUT).
    pub caching: Option<bool>,
    /// CLIENT REPLY ON|OFF|SKIP.
    pub reply: ReplyMode,
    /// What other connections tell this one (CLIENT UNBLOCK, CLIENT KILL, messages).
    pub signals: Arc<Signals>,
    /// The command just run was a script whose error reply a command it called raised, and
    /// which errorstats counted already.
    pub error_counted: bool,
    /// What REPLCONF asked for (a snapshot, and of what).
    pub replconf: cmd::sync::Replconf,
}

impl Session {
    pub fn new(
        id: u64,
        peer: SocketAddr,
        auth_required: bool,
        outbox: Outbox,
        signals: Arc<Signals>,
    ) -> Self {
        Self {
            id,
            peer,
            db: 0,
            resp3: false,
            name: None,
            user: "default".into(),
            authenticated: !auth_required,
            multi: None,
            watch: None,
            channels: HashSet::new(),
            patterns: HashSet::new(),
            shard_channels: HashSet::new(),
            outbox,
            created: Instant::now(),
            last_command: "",
            closing: false,
            monitoring: false,
            acl_gen: u64::MAX,
            perms: None,
            clock: None,
            tracking: None,
            caching: None,
            reply: ReplyMode::On,
            signals,
            error_counted: false,
            replconf: cmd::sync::Replconf::default(),
        }
    }

    /// Unix time in ms for the command being run: read once per batch of pipelined requests
    /// (they arrived together, and Redis also caches its clock), fresh after any wait.
    pub fn now(&mut self) -> i64 {
        *self.clock.get_or_insert_with(now_ms)
    }

    /// Re-read this connection's user after an ACL change; false when it no longer exists.
    pub fn refresh_acl(&mut self, server: &Server) -> bool {
        self.acl_gen = server.acl.generation();
        match server.acl.get(&self.user) {
            Some(u) => {
                self.perms = (!u.unrestricted()).then_some(u);
                true
            }
            None => !self.authenticated,
        }
    }

    /// Every subscription, classic and shard: more than none puts a RESP2 connection in the
    /// subscribed context.
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard_channels.len()
    }

    /// What CLIENT LIST shows of this connection's state.
    pub fn live(&self) -> Live {
        Live {
            cmd: self.last_command,
            sub: self.channels.len(),
            psub: self.patterns.len(),
            ssub: self.shard_channels.len(),
            multi: self.multi.as_ref().map_or(-1, |m| m.queue.len() as i64),
            resp3: self.resp3,
            monitor: self.monitoring,
            redir: self
                .tracking
                .as_ref()
                .map_or(-1, |t| t.redirect.map_or(0, |r| r as i64)),
            bcast: self.tracking.as_ref().is_some_and(|t| t.bcast),
            active_ms: self.clock.unwrap_or_else(now_ms),
        }
    }

    /// Run one request and append its reply (or replies) to `out`, unless CLIENT REPLY
    /// turned replies off or skips this one.
    pub async fn execute(
        &mut self,
        server: &Arc<Server>,
        args: &mut Vec<Bytes>,
        out: &mut Output,
    ) -> Result<(), Error> {
        let mark = out.buf.len();
        let done = self.run_request(server, args, out).await;
        match self.reply {
            ReplyMode::On => {}
            ReplyMode::Off => out.buf.truncate(mark),
            // CLIENT REPLY SKIP answers nothing itself.
            ReplyMode::SkipNext => {
                out.buf.truncate(mark);
                self.reply = ReplyMode::Skip;
            }
            ReplyMode::Skip => {
                out.buf.truncate(mark);
                self.reply = ReplyMode::On;
            }
        }
        done
    }

    /// `args` is the connection's buffer: a transaction takes it over when it queues the
    /// command.
    async fn run_request(
        &mut self,
        server: &Arc<Server>,
        args: &mut Vec<Bytes>,
        out: &mut Output,
    ) -> Result<(), Error> {
        let Some(first) = args.first() else {
            return Ok(());
        };
        let mut lower = [0u8; 32];
        let name = match first.get(..) {
            Some(f) if f.len() <= lower.len() && f.is_ascii() => {
                let dst = &mut lower[..f.len()];
                dst.copy_from_slice(f);
                dst.make_ascii_lowercase();
                std::str::from_utf8(dst).unwrap_or_default()
            }
            // No command name is this long or non-ASCII: it is unknown.
            _ => "",
        };
        let spec = match table::lookup(name) {
            Some(s) if s.arity_ok(args.len()) => s,
            found => {
                let reply = match found {
                    Some(_) => Reply::wrong_args(name),
                    None => unknown_command(args),
                };
                if let Some(m) = &mut self.multi {
                    m.aborted = true;
                }
                self.refuse(server, found, &reply, out);
                return Ok(());
            }
        };
        self.last_command = crate::stats::full_name(spec, args.get(1).map(|a| &a[..]));
        if !self.authenticated && !matches!(name, "auth" | "hello" | "quit" | "reset") {
            self.refuse(
                server,
                Some(spec),
                &Reply::err(crate::frame::errors::NOAUTH),
                out,
            );
            return Ok(());
        }
        if server.acl.generation() != self.acl_gen && !self.refresh_acl(server) {
            // The user was deleted: Redis closes its connections.
            self.closing = true;
            return Ok(());
        }
        if let Some(user) = &self.perms
            && let Some(why) = user.denied(spec, args)
        {
            if let Some(m) = &mut self.multi {
                m.aborted = true;
            }
            self.refuse(
                server,
                Some(spec),
                &Reply::err(format!("NOPERM {why}")),
                out,
            );
            return Ok(());
        }
        if server.scripts.busy() && !cmd::script::allowed_while_busy(name, args) {
            if let Some(m) = &mut self.multi {
                m.aborted = true;
            }
            let busy = Reply::err(server.scripts.busy_error());
            self.refuse(server, Some(spec), &busy, out);
            return Ok(());
        }
        if self.monitoring && (spec.writes || spec.reads) {
            out.push(
                &Reply::err("ERR Replica can't interact with the keyspace"),
                self.resp3,
            );
            return Ok(());
        }
        if self.multi.is_some() && spec.flags.contains(&"no_multi") {
            if let Some(m) = &mut self.multi {
                m.aborted = true;
            }
            let reply = Reply::err("ERR Command not allowed inside a transaction");
            self.refuse(server, Some(spec), &reply, out);
            return Ok(());
        }
        if self.multi.is_some()
            && !matches!(
                name,
                "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
            )
        {
            if let Some(m) = &mut self.multi {
                m.queue.push(std::mem::take(args));
            }
            out.push(&Reply::Simple("QUEUED".into()), self.resp3);
            return Ok(());
        }
        if self.subscriptions() > 0
            && !self.resp3
            && !matches!(
                name,
                "subscribe"
                    | "psubscribe"
                    | "unsubscribe"
                    | "punsubscribe"
                    | "ssubscribe"
                    | "sunsubscribe"
                    | "ping"
                    | "quit"
                    | "reset"
            )
        {
            let msg = format!(
                "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
            );
            out.push(&Reply::err(msg), self.resp3);
            return Ok(());
        }
        if server.pause.active()
            && !(name == "client" && args.len() == 2 && is(&args[1], "unpause"))
        {
            let write =
                spec.writes || matches!(name, "eval" | "evalsha" | "publish" | "spublish" | "exec");
            server.pause.wait(write).await;
            self.clock = None;
        }
        let script = cmd::script::is_eval(name);
        if script {
            // Shown before the commands it runs, as Redis shows it.
            self.feed_monitors(server, spec, name, args, out);
        }
        let started = quanta::Instant::now();
        let _running = server
            .tracking
            .active()
            .then(|| crate::tracking::running(self.id));
        let before = out.buf.len();
        // Most commands name one key whose shard is loaded: they run here, with no future
        // polled for the dispatch and the shard (fewer instructions and less code per
        // request at a deep pipeline).
        let done = match self.loaded_shard_of(server, spec, args) {
            Some((i, shard)) => {
                let view = View::lock_one(server.keyspace.slots, i, shard, self.now(), self.resp3);
                self.keyed_reply(server, spec, name, args, view, out)
            }
            None => self.dispatch(server, spec, name, args, out).await,
        };
        self.end_caching(name, args);
        if server.tracking.active() {
            if matches!(name, "flushdb" | "flushall") {
                server.tracking.flushed();
            }
            server.tracking.settle();
        }
        let ns = started.elapsed().as_nanos() as u64;
        let micros = (ns / 1000) as i64;
        let waited = waits(name, args);
        if server.slowlog.wants(micros) && !waited {
            self.log_slow(server, name, args, micros);
        }
        let ran = (!waited).then_some(ns);
        server.stats.record_counted(
            spec,
            args.get(1).map(|a| &a[..]),
            ran,
            out.buf.get(before..).unwrap_or_default(),
            std::mem::take(&mut self.error_counted),
        );
        if !script {
            self.feed_monitors(server, spec, name, args, out);
        }
        done
    }

    /// Answer a command refused before it ran, counting it as Redis counts rejected calls.
    fn refuse(
        &self,
        server: &Server,
        spec: Option<&'static Spec>,
        reply: &Reply,
        out: &mut Output,
    ) {
        let at = out.buf.len();
        out.push(reply, self.resp3);
        server.stats.reject(spec, &out.buf[at..]);
    }

    /// CLIENT TRACKING in default mode: remember the keys a read command (or a script) names,
    /// unless OPTIN / OPTOUT and CLIENT CACHING say otherwise. Called with the command's
    /// shards still locked, so a write from another connection cannot fall between the read
    /// and the remembering (its invalidation would be lost).
    fn remember_reads(&self, server: &Server, spec: &Spec, name: &str, args: &[Bytes]) {
        let Some(t) = &self.tracking else {
            return;
        };
        let wanted = if t.optin {
            self.caching == Some(true)
        } else if t.optout {
            self.caching != Some(false)
        } else {
            true
        };
        if t.bcast || !wanted || !(spec.reads || cmd::script::is_eval(name)) {
            return;
        }
        if let Some(keys) = crate::acl::command_keys(spec, args) {
            server.tracking.remember(self.id, keys);
        }
    }

    /// CLIENT CACHING's answer holds for the one command after it (a whole transaction).
    fn end_caching(&mut self, name: &str, args: &[Bytes]) {
        if self.caching.is_some()
            && self.multi.is_none()
            && !(name == "client" && args.get(1).is_some_and(|a| is(a, "caching")))
        {
            self.caching = None;
        }
    }

    /// Add a command to the slow log, its secrets redacted as MONITOR redacts them.
    #[cold]
    fn log_slow(&self, server: &Server, name: &str, args: &[Bytes], micros: i64) {
        let name_of = self
            .name
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        server.slowlog.log(
            &crate::monitor::redacted(name, args),
            micros,
            self.peer.to_string(),
            name_of,
        );
    }

    /// Show a command to MONITOR clients, if there are any (one load when there are none).
    fn feed_monitors(
        &self,
        server: &Server,
        spec: &Spec,
        name: &str,
        args: &[Bytes],
        out: &mut Output,
    ) {
        if server.monitors.active() && crate::monitor::shown(spec.flags, name) {
            let shown = crate::monitor::redacted(name, args);
            let me = self.monitoring.then_some(self.id);
            let line = server
                .monitors
                .feed(self.db, &self.peer.to_string(), &shown, me);
            if self.monitoring {
                out.push(&line, self.resp3);
            }
        }
    }

    async fn dispatch(
        &mut self,
        server: &Arc<Server>,
        spec: &'static Spec,
        name: &str,
        args: &[Bytes],
        out: &mut Output,
    ) -> Result<(), Error> {
        if !spec.routed && spec.keys != Keys::None {
            // Most commands: no name to match.
            let shards = self.shards_or_error(server, spec, args).await?;
            return self.keyed_listed(server, spec, name, args, &shards, out);
        }
        match name {
            "multi" | "exec" | "discard" | "watch" | "unwatch" => {
                self.transaction(server, name, args, out).await
            }
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" => {
                let reply = self.eval(server, name, args, out).await?;
                out.push(&reply, self.resp3);
                Ok(())
            }
            "fcall" | "fcall_ro" => {
                let reply = cmd::function::fcall(self, server, name, args, out).await?;
                out.push(&reply, self.resp3);
                Ok(())
            }
            "blpop" | "brpop" | "blmove" | "brpoplpush" | "bzpopmin" | "bzpopmax" => {
                self.blocking(server, name, args, out).await
            }
            "blmpop" | "bzmpop" => self.block_mpop(server, spec, name, args, out).await,
            "xread" | "xreadgroup" if cmd::stream::blocks(args) => {
                self.block_stream(server, name, args, out).await
            }
            // MEMORY USAGE reads its key under the key's shard lock; the rest is the server's.
            "memory" if !(args.len() >= 3 && is(&args[1], "usage")) => {
                out.push(&cmd::memory::command(server, args), self.resp3);
                Ok(())
            }
            "move" => {
                let reply = cmd::db::move_key(self, server, args, out).await?;
                out.push(&reply, self.resp3);
                Ok(())
            }
            _ if spec.keys == Keys::None => {
                let reply = cmd::connection::run(self, server, name, args, out).await?;
                // Some of these wait (WAIT, DEBUG SLEEP): what follows reads the clock anew.
                self.clock = None;
                if let Some(r) = reply {
                    out.push(&r, self.resp3);
                }
                Ok(())
            }
            _ => {
                let shards = self.shards_or_error(server, spec, args).await?;
                self.keyed_listed(server, spec, name, args, &shards, out)
            }
        }
    }

    /// The one shard of a command on one key (not one the dispatch routes by name), when
    /// that shard is loaded already; `None` sends the command the general way.
    #[inline]
    fn loaded_shard_of<'s>(
        &self,
        server: &'s Server,
        spec: &Spec,
        args: &[Bytes],
    ) -> Option<(u16, &'s Arc<Shard>)> {
        if spec.routed || !matches!(spec.keys, Keys::At(1, 1, _)) {
            return None;
        }
        let key = args.get(1)?;
        let db = server.keyspace.db(self.db)?;
        let i = server.keyspace.slots.shard_of_key(key);
        Some((i, db.loaded_shard(i)?))
    }

    /// The shards of a keyed command, or the `ERR` reply a client gets when one cannot load.
    async fn shards_or_error(
        &self,
        server: &Server,
        spec: &Spec,
        args: &[Bytes],
    ) -> Result<Result<ShardList, Reply>, Error> {
        Ok(match self.shards_for(server, &[(spec, args)]).await {
            Ok(s) => Ok(s),
            Err(e) => Err(Reply::err(format!("ERR {e}"))),
        })
    }

    /// Lock loaded shards and run a keyed command on them (or answer the error that kept
    /// them from loading).
    fn keyed_listed(
        &mut self,
        server: &Server,
        spec: &Spec,
        name: &str,
        args: &[Bytes],
        shards: &Result<ShardList, Reply>,
        out: &mut Output,
    ) -> Result<(), Error> {
        match shards {
            Ok(list) => {
                let view = View::lock(server.keyspace.slots, list, self.now(), self.resp3);
                self.keyed_reply(server, spec, name, args, view, out)
            }
            Err(reply) => {
                out.push(reply, self.resp3);
                Ok(())
            }
        }
    }

    /// Load the shards a command touches, sorted by index.
    pub async fn shards_for(
        &self,
        server: &Server,
        specs: &[(&Spec, &[Bytes])],
    ) -> Result<ShardList, Error> {
        let db = server.db(self.db)?;
        // The common case, one command on one key, needs no set.
        if let [(spec, args)] = specs
            && let Keys::At(1, 1, _) = spec.keys
            && let Some(key) = args.get(1)
        {
            let i = server.keyspace.slots.shard_of_key(key);
            return Ok(smallvec::smallvec![(i, db.shard(i).await?)]);
        }
        let mut wanted = BTreeSet::new();
        for (spec, args) in specs {
            match spec.keys {
                Keys::None => {}
                Keys::All => wanted.extend(0..db.shard_count()),
                Keys::At(f, l, s) => {
                    wanted.extend(
                        table::keys_at(args, f, l, s)
                            .map(|k| server.keyspace.slots.shard_of_key(k)),
                    );
                }
            }
        }
        let mut out = ShardList::with_capacity(wanted.len());
        for i in wanted {
            out.push((i, db.shard(i).await?));
        }
        Ok(out)
    }

    /// A keyed command on its locked shards: run it, hand its changes on, append its reply.
    fn keyed_reply(
        &mut self,
        server: &Server,
        spec: &Spec,
        name: &str,
        args: &[Bytes],
        mut view: View<'_>,
        out: &mut Output,
    ) -> Result<(), Error> {
        view.notify = crate::notify::active(server.notify_flags());
        view.read_miss = reads_keys(spec, name);
        // Not a script: every key it touches is declared, and its shards are the ones locked.
        view.one_shard = view.shard_count() == 1;
        let reply = cmd::apply(name, &mut view, args).unwrap_or_else(|e| e);
        if self.tracking.is_some() {
            self.remember_reads(server, spec, name, args);
        }
        let (tickets, events) = view.finish_events()?;
        if spec.writes {
            server.wake_blocked();
        }
        out.push(&reply, self.resp3);
        out.add_tickets(tickets);
        out.publish(server, self.db, events);
        Ok(())
    }

    async fn transaction(
        &mut self,
        server: &Server,
        name: &str,
        args: &[Bytes],
        out: &mut Output,
    ) -> Result<(), Error> {
        let reply = match name {
            "multi" if self.multi.is_some() => Reply::err("ERR MULTI calls can not be nested"),
            "multi" => {
                self.multi = Some(Multi::default());
                Reply::ok()
            }
            "discard" => match self.multi.take() {
                None => Reply::err("ERR DISCARD without MULTI"),
                Some(_) => {
                    self.watch = None;
                    Reply::ok()
                }
            },
            "watch" if self.multi.is_some() => Reply::err("ERR WATCH inside MULTI is not allowed"),
            "watch" => {
                let flag = self
                    .watch
                    .get_or_insert_with(|| Arc::new(AtomicBool::new(false)))
                    .clone();
                let db = server.db(self.db)?;
                for key in &args[1..] {
                    let shard = db.shard(server.keyspace.slots.shard_of_key(key)).await?;
                    shard.state.lock().watch(key.clone(), flag.clone());
                }
                Reply::ok()
            }
            "unwatch" => {
                self.watch = None;
                Reply::ok()
            }
            _ => return self.exec(server, out).await,
        };
        out.push(&reply, self.resp3);
        Ok(())
    }

    async fn exec(&mut self, server: &Server, out: &mut Output) -> Result<(), Error> {
        let Some(multi) = self.multi.take() else {
            out.push(&Reply::err("ERR EXEC without MULTI"), self.resp3);
            return Ok(());
        };
        let watched = self.watch.take();
        if multi.aborted {
            out.push(
                &Reply::err("EXECABORT Transaction discarded because of previous errors."),
                self.resp3,
            );
            return Ok(());
        }
        let queued: Vec<(String, &'static Spec, &Vec<Bytes>)> = multi
            .queue
            .iter()
            .filter_map(|a| {
                let name = String::from_utf8_lossy(a.first()?).to_ascii_lowercase();
                let spec = table::lookup(&name)?;
                Some((name, spec, a))
            })
            .collect();
        let specs: Vec<(&Spec, &[Bytes])> =
            queued.iter().map(|(_, s, a)| (*s, a.as_slice())).collect();
        if queued.iter().any(|(n, _, _)| cmd::function::is_fcall(n)) {
            // FCALL reads the libraries under the transaction's locks: load them first.
            server.scripts.functions.ready(&server.keyspace).await?;
            out.add_tickets(server.scripts.functions.unsynced());
        }
        let shards = self.shards_for(server, &specs).await?;
        let mut view = View::lock(server.keyspace.slots, &shards, self.now(), self.resp3);
        view.notify = crate::notify::active(server.notify_flags());
        // Checked under the locks, so no write can slip in between the check and the commands.
        if watched.is_some_and(|w| w.load(Ordering::Acquire)) {
            drop(view.finish()?);
            out.push(&Reply::NilArray, self.resp3);
            return Ok(());
        }
        let mut replies = Vec::with_capacity(queued.len());
        let mut wrote = false;
        for (name, spec, args) in &queued {
            let script = cmd::script::is_eval(name);
            wrote |= spec.writes || script;
            // Rules may have changed since the command was queued.
            if let Some(why) = self
                .perms
                .as_ref()
                .and_then(|u| u.denied_at_exec(spec, args))
            {
                let msg = format!(
                    "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {why}"
                );
                server.stats.error_reply(&msg);
                replies.push(Reply::err(msg));
                continue;
            }
            let started = quanta::Instant::now();
            let counted = std::cell::Cell::new(false);
            if script {
                // Shown before the commands it runs, as Redis shows it.
                self.feed_monitors(server, spec, name, args, out);
            }
            view.read_miss = reads_keys(spec, name);
            let r = match spec.keys {
                Keys::None => cmd::connection::in_transaction(self, server, name, args),
                _ if script => {
                    let caller = cmd::script::Caller {
                        user: self.perms.as_deref(),
                        monitors: &server.monitors,
                        db: self.db,
                        read_only: name.ends_with("_ro"),
                        scripts: &server.scripts,
                        stats: &server.stats,
                        counted: &counted,
                    };
                    cmd::script::eval_in_view(&server.scripts, caller, &mut view, name, args)
                }
                _ => cmd::apply(name, &mut view, args).unwrap_or_else(|e| e),
            };
            if matches!(name.as_str(), "flushdb" | "flushall") && server.tracking.active() {
                server.tracking.flushed();
            }
            // Each command EXEC runs counts as Redis counts it, beside EXEC's own call.
            server.stats.record_reply(
                spec,
                args.get(1).map(|a| &a[..]),
                Some(started.elapsed().as_nanos() as u64),
                &r,
                counted.get(),
            );
            replies.push(r);
            if self.tracking.is_some() {
                self.remember_reads(server, spec, name, args);
            }
            if !script {
                self.feed_monitors(server, spec, name, args, out);
            }
        }
        let (tickets, events) = view.finish_events()?;
        out.add_tickets(tickets);
        out.publish(server, self.db, events);
        if wrote {
            server.wake_blocked();
        }
        out.push(&Reply::Array(replies), self.resp3);
        Ok(())
    }

    /// EVAL/EVALSHA: under the lock of the keys' shard (every shard for a script without keys).
    async fn eval(
        &mut self,
        server: &Server,
        name: &str,
        args: &[Bytes],
        out: &mut Output,
    ) -> Result<Reply, Error> {
        use cmd::script;
        let body = if script::by_sha(name) {
            match server.scripts.get(&String::from_utf8_lossy(&args[1])) {
                Some(b) => b,
                None => return Ok(Reply::err(script::NOSCRIPT)),
            }
        } else {
            server.scripts.load(args[1].clone());
            args[1].clone()
        };
        let (keys, argv) = match script::split_eval(args) {
            Ok(k) => k,
            Err(e) => return Ok(e),
        };
        if let Err(e) = script::check_same_slot(keys) {
            return Ok(e);
        }
        let db = server.db(self.db)?;
        let mut shards = Vec::new();
        match keys.first() {
            Some(k) => {
                let i = server.keyspace.slots.shard_of_key(k);
                shards.push((i, db.shard(i).await?));
            }
            None => {
                for i in 0..db.shard_count() {
                    shards.push((i, db.shard(i).await?));
                }
            }
        }
        let (reply, tickets, events) = {
            let mut view = View::lock(server.keyspace.slots, &shards, self.now(), self.resp3);
            view.notify = crate::notify::active(server.notify_flags());
            let counted = std::cell::Cell::new(false);
            let caller = script::Caller {
                user: self.perms.as_deref(),
                monitors: &server.monitors,
                db: self.db,
                read_only: name.ends_with("_ro"),
                scripts: &server.scripts,
                stats: &server.stats,
                counted: &counted,
            };
            let reply = script::run(&mut view, caller, &body, keys, argv);
            self.error_counted = counted.get();
            if let Some(spec) = table::lookup(name)
                && self.tracking.is_some()
            {
                self.remember_reads(server, spec, name, args);
            }
            let (tickets, events) = view.finish_events()?;
            (reply, tickets, events)
        };
        out.add_tickets(tickets);
        out.publish(server, self.db, events);
        server.wake_blocked();
        Ok(reply)
    }

    /// BLPOP and friends: try at once; if nothing is there, wait for writes until the timeout.
    async fn blocking(
        &mut self,
        server: &Arc<Server>,
        name: &str,
        args: &[Bytes],
        out: &mut Output,
    ) -> Result<(), Error> {
        let timeout_arg = &args[args.len() - 1];
        let Some(secs) = cmd::args::float_of(timeout_arg).filter(|s| s.is_finite()) else {
            out.push(
                &Reply::err("ERR timeout is not a float or out of range"),
                self.resp3,
            );
            return Ok(());
        };
        if secs < 0.0 {
            out.push(&Reply::err("ERR timeout is negative"), self.resp3);
            return Ok(());
        }
        let deadline = (secs > 0.0)
            .then(|| tokio::time::Instant::now() + Duration::from_secs_f64(secs.min(1e9)));
        let Some(spec) = table::lookup(name) else {
            return Ok(());
        };
        let keys: Vec<Bytes> = match spec.keys {
            Keys::At(f, l, s) => table::keys_at(args, f, l, s).cloned().collect(),
            _ => vec![],
        };
        // Replies already buffered leave before this client blocks.
        if !out.buf.is_empty() {
            out.settle(server).await?;
        }
        let _blocked = server.block();
        loop {
            let notified = server.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let shards = self.shards_for(server, &[(spec, args)]).await?;
            let (reply, tickets, events) = {
                let mut view = View::lock(server.keyspace.slots, &shards, now_ms(), self.resp3);
                view.notify = crate::notify::active(server.notify_flags());
                let reply = try_pop(&mut view, name, args, &keys).unwrap_or_else(Some);
                let (tickets, events) = view.finish_events()?;
                (reply, tickets, events)
            };
            if let Some(r) = reply {
                server.wake_blocked();
                out.push(&r, self.resp3);
                out.add_tickets(tickets);
                out.publish(server, self.db, events);
                return Ok(());
            }
            // Nothing popped; a lazy expiry may still have deleted keys, whose events must
            // not wait for this client to wake.
            out.add_tickets(tickets);
            out.publish(server, self.db, events);
            out.settle(server).await?;
            if self.multi.is_some() {
                out.push(&Reply::NilArray, self.resp3);
                return Ok(());
            }
            match self.wait_change(notified, deadline).await {
                Wake::Changed => {}
                Wake::TimedOut => {
                    let nil = if name == "blmove" || name == "brpoplpush" {
                        Reply::Nil
                    } else {
                        Reply::NilArray
                    };
                    out.push(&nil, self.resp3);
                    return Ok(());
                }
                Wake::Unblocked => {
                    out.push(&Reply::err(UNBLOCKED), self.resp3);
                    return Ok(());
                }
            }
        }
    }
}

impl Session {
    /// XREAD/XREADGROUP with BLOCK: served at once if possible, else when a write (an XADD from
    /// any connection) makes it possible, or a null array at the timeout.
    async fn block_stream(
        &mut self,
        server: &Arc<Server>,
        name: &str,
        args: &[Bytes],
        out: &mut Output,
    ) -> Result<(), Error> {
        let mut read = match cmd::stream::parse_read(args, name == "xreadgroup") {
            Ok(r) => r,
            Err(e) => {
                out.push(&e, self.resp3);
                return Ok(());
            }
        };
        let deadline = read
            .block_ms
            .filter(|ms| *ms > 0)
            .map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms.min(1 << 40)));
        // Only the streams' shards, not every shard XREAD's key spec would lock.
        let db = server.db(self.db)?;
        let wanted: BTreeSet<u16> = read
            .keys
            .iter()
            .map(|k| server.keyspace.slots.shard_of_key(k))
            .collect();
        let mut shards = Vec::with_capacity(wanted.len());
        for i in wanted {
            shards.push((i, db.shard(i).await?));
        }
        let mut first = true;
        self.block_until(server, &shards, out, deadline, |view| {
            if std::mem::take(&mut first) {
                cmd::stream::read_first(view, &mut read, args)
            } else {
                cmd::stream::read_once(view, &read)
            }
        })
        .await
    }

    /// BLMPOP/BZMPOP timeout numkeys key ... : LMPOP/ZMPOP that waits for an element.
    async fn block_mpop(
        &mut self,
        server: &Arc<Server>,
        spec: &'static Spec,
        name: &str,
        args: &[Bytes],
        out: &mut Output,
    ) -> Result<(), Error> {
        let secs = match cmd::args::float_of(&args[1]).filter(|s| s.is_finite()) {
            None => Err("ERR timeout is not a float or out of range"),
            Some(s) if s < 0.0 => Err("ERR timeout is negative"),
            Some(s) => Ok(s),
        };
        let secs = match secs {
            Ok(s) => s,
            Err(e) => {
                out.push(&crate::frame::Reply::err(e), self.resp3);
                return Ok(());
            }
        };
        let deadline = (secs > 0.0)
            .then(|| tokio::time::Instant::now() + Duration::from_secs_f64(secs.min(1e9)));
        let zset = name == "bzmpop";
        let shards = self.shards_for(server, &[(spec, args)]).await?;
        self.block_until(server, &shards, out, deadline, |view| {
            if zset {
                cmd::zset::zmpop_once(view, &args[2..])
            } else {
                let r = cmd::list::lmpop(view, &args[2..])?;
                Ok((r != crate::frame::Reply::NilArray).then_some(r))
            }
        })
        .await
    }

    /// Run `attempt` under the locks of the command's shards until it serves something, waking
    /// on every write, until `deadline` (`None`: forever); a timeout answers a null array.
    /// An error from `attempt` is the reply.
    async fn block_until(
        &mut self,
        server: &Arc<Server>,
        shards: &[(u16, Arc<Shard>)],
        out: &mut Output,
        deadline: Option<tokio::time::Instant>,
        mut attempt: impl FnMut(&mut View) -> Result<Option<crate::frame::Reply>, crate::frame::Reply>,
    ) -> Result<(), Error> {
        // Replies already buffered leave before this client blocks.
        if !out.buf.is_empty() {
            out.settle(server).await?;
        }
        let _blocked = server.block();
        loop {
            let notified = server.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (reply, tickets, events) = {
                let mut view = View::lock(server.keyspace.slots, shards, now_ms(), self.resp3);
                view.notify = crate::notify::active(server.notify_flags());
                let reply = attempt(&mut view).unwrap_or_else(Some);
                let (tickets, events) = view.finish_events()?;
                (reply, tickets, events)
            };
            let wrote = !tickets.is_empty();
            out.add_tickets(tickets);
            out.publish(server, self.db, events);
            if let Some(r) = reply {
                if wrote {
                    server.wake_blocked();
                }
                out.push(&r, self.resp3);
                return Ok(());
            }
            // What the attempt changed (a lazy expiry) is made durable, and its events
            // published, before this client waits.
            out.settle(server).await?;
            match self.wait_change(notified, deadline).await {
                Wake::Changed => {}
                Wake::TimedOut => {
                    out.push(&crate::frame::Reply::NilArray, self.resp3);
                    return Ok(());
                }
                Wake::Unblocked => {
                    out.push(&crate::frame::Reply::err(UNBLOCKED), self.resp3);
                    return Ok(());
                }
            }
        }
    }
}

/// The error of a command ended by CLIENT UNBLOCK … ERROR.
const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

impl Session {
    /// Wait for a write (`notified`), the deadline, or CLIENT UNBLOCK, whichever comes first.
    /// While it waits the connection shows as blocked, so CLIENT UNBLOCK can find it.
    async fn wait_change(
        &self,
        notified: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
        deadline: Option<tokio::time::Instant>,
    ) -> Wake {
        let signals = &*self.signals;
        signals.clear(UNBLOCK | UNBLOCK_ERROR);
        signals.raise(BLOCKED);
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let wake = tokio::select! {
            biased;
            bits = signals.wait(UNBLOCK | UNBLOCK_ERROR) => {
                if bits & UNBLOCK_ERROR != 0 { Wake::Unblocked } else { Wake::TimedOut }
            }
            _ = notified => Wake::Changed,
            _ = sleep => Wake::TimedOut,
        };
        signals.clear(BLOCKED | UNBLOCK | UNBLOCK_ERROR);
        wake
    }
}

/// One attempt of a blocking pop; `None` when every key is empty.
fn try_pop(
    v: &mut View,
    name: &str,
    args: &[Bytes],
    keys: &[Bytes],
) -> Result<Option<Reply>, Reply> {
    match name {
        "blmove" | "brpoplpush" => {
            let (from, to) = if name == "blmove" {
                (is(&args[3], "left"), is(&args[4], "left"))
            } else {
                (false, true)
            };
            if name == "blmove"
                && !(["left", "right"].iter().any(|w| is(&args[3], w))
                    && ["left", "right"].iter().any(|w| is(&args[4], w)))
            {
                return Err(cmd::args::syntax());
            }
            let r = cmd::list::move_one(v, &args[1], &args[2], from, to)?;
            Ok((r != Reply::Nil).then_some(r))
        }
        "blpop" | "brpop" => {
            for key in keys {
                if let Some(mut l) = v.list_mut(key, false)? {
                    let x = if name == "blpop" {
                        l.pop_front()
                    } else {
                        l.pop_back()
                    };
                    if let Some(x) = x {
                        v.notify(
                            crate::notify::LIST,
                            if name == "blpop" { "lpop" } else { "rpop" },
                            key,
                        );
                        return Ok(Some(Reply::Array(vec![
                            Reply::Bulk(key.clone()),
                            Reply::Bulk(x),
                        ])));
                    }
                }
            }
            Ok(None)
        }
        _ => {
            for key in keys {
                if let Some(items) = cmd::zset::pop_from(v, key, name == "bzpopmax", 1)?
                    && let Some((m, s)) = items.into_iter().next()
                {
                    return Ok(Some(Reply::Array(vec![
                        Reply::Bulk(key.clone()),
                        Reply::Bulk(m),
                        Reply::Double(s),
                    ])));
                }
            }
            Ok(None)
        }
    }
}

/// Whether a command looks its keys up for reading (a miss is a `keymiss` event), as Redis's
/// read commands and GETEX do; OBJECT and MEMORY USAGE look without notifying.
fn reads_keys(spec: &Spec, name: &str) -> bool {
    (spec.reads && !matches!(name, "object" | "memory")) || name == "getex"
}

/// Redis's wording for an unknown command, quoting up to the first arguments.
fn unknown_command(args: &[Bytes]) -> Reply {
    let name = String::from_utf8_lossy(&args[0]);
    let mut msg = format!("ERR unknown command '{name}', with args beginning with: ");
    for a in args[1..].iter().take(10) {
        msg.push_str(&format!("'{}' ", String::from_utf8_lossy(a)));
    }
    Reply::err(msg)
}

/// Commands whose time is mostly waiting (blocked pops, WAIT): Redis logs only the time a
/// command runs, so these stay out of the slow log.
fn waits(name: &str, args: &[Bytes]) -> bool {
    matches!(
        name,
        "blpop"
            | "brpop"
            | "blmove"
            | "brpoplpush"
            | "bzpopmin"
            | "bzpopmax"
            | "blmpop"
            | "bzmpop"
            | "wait"
            | "waitaof"
    ) || (matches!(name, "xread" | "xreadgroup") && cmd::stream::blocks(args))
}
