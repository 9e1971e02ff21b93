//! The Redis server: shared state, and the connection loop that reads pipelined requests,
//! runs them in order and releases their replies once they are durable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use dotdo_backend::SharedBackend;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::codec::{self, Limits};
use crate::config::Config;
use crate::error::Error;
use crate::frame::Reply;
use crate::notify::Event;
use crate::pubsub::{DROP, MAIL, PubSub, STOP, Signals};
use crate::session::{Output, Session};
use crate::store::{Db, Keyspace, Shard};

struct ClientEntry {
    peer: SocketAddr,
    local: SocketAddr,
    name: String,
    user: String,
    db: usize,
    created: Instant,
    /// The connection's state after its last batch of requests, updated by the connection
    /// without taking the registry lock.
    live: Arc<Mutex<crate::session::Live>>,
    /// Its queue of pushed messages (for `omem`).
    outbox: crate::pubsub::Outbox,
    /// Raise `DROP` to close it at once.
    signals: Arc<Signals>,
}

/// Whether a change is durable up to `seq` on each of its shards now; `None` when one of them
/// failed, so it never will be.
fn durability(waits: &[(Arc<Shard>, u64)]) -> Option<bool> {
    let mut durable = true;
    for (shard, seq) in waits {
        durable &= shard.durable_at(*seq).ok()?;
    }
    Some(durable)
}

/// Keyspace events of a change, published once it is durable up to `seq` on each shard.
struct HeldEvents {
    waits: Vec<(Arc<Shard>, u64)>,
    db: usize,
    events: Vec<Event>,
}

pub struct Server {
    pub config: Config,
    pub keyspace: Keyspace,
    pub pubsub: Arc<PubSub>,
    pub tracking: Arc<crate::tracking::Tracking>,
    /// Woken after every write, for blocked clients (BLPOP and friends) to retry.
    pub changed: Notify,
    pub config_overrides: Mutex<HashMap<&'static str, String>>,
    pub scripts: crate::cmd::script::Scripts,
    pub slowlog: crate::slowlog::Slowlog,
    /// INFO commandstats, latencystats and errorstats; LATENCY.
    pub stats: crate::stats::Stats,
    /// INFO stats' connection, byte and rate counters.
    pub traffic: crate::traffic::Traffic,
    /// INFO replication's `master_replid`, drawn at start as Redis draws it.
    replid: String,
    pub monitors: crate::monitor::Monitors,
    pub pause: crate::pause::Pause,
    pub acl: crate::acl::Acl,
    /// `notify-keyspace-events`, as `notify::parse` reads it.
    notify_flags: AtomicU32,
    /// `client-output-buffer-limit pubsub`, for every connection's pushed messages.
    pub pubsub_limits: Arc<crate::pubsub::BufferLimits>,
    /// Keyspace events waiting for their changes to be durable (`hold_events`).
    held_events: Mutex<std::collections::VecDeque<HeldEvents>>,
    /// The other classes' limits as CONFIG SET gave them (reported, not enforced).
    pub other_output_limits: Mutex<HashMap<&'static str, [u64; 3]>>,
    limits: Limits,
    clients: Mutex<HashMap<u64, ClientEntry>>,
    next_id: AtomicU64,
    blocked: std::sync::atomic::AtomicUsize,
    started: Instant,
    started_unix: i64,
    startup_rss: u64,
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Server {
    pub fn new(config: Config, backend: SharedBackend) -> Result<Arc<Self>, Error> {
        Self::with_writers(config, backend, None)
    }

    /// As `new`, with every shard's writer on the runtime `writers` (an event loop's: there
    /// a writer alone with work commits on the loop's own thread, as redis-server writes its
    /// AOF, instead of handing each batch to the object's thread and waiting to be woken).
    pub fn with_writers(
        config: Config,
        backend: SharedBackend,
        writers: Option<tokio::runtime::Handle>,
    ) -> Result<Arc<Self>, Error> {
        config.validate()?;
        // Every command is timed (commandstats, the slowlog, the latency monitor), so its two
        // clock reads matter to a pipelined command that does little: `std::time::Instant`
        // (the vDSO's clock_gettime) costs ~27 ns a read on a KVM guest. `quanta` reads the
        // processor's counter where it is invariant (~10 ns), scaled by a rate it measures
        // against the monotonic clock, and falls back to that clock elsewhere. Its rate is
        // measured here, not at the first command.
        let _ = quanta::Instant::now();
        let limits = Limits {
            max_bulk_len: config.proto_max_bulk_len,
            max_args: config.max_args,
            max_inline_len: 64 * 1024,
        };
        let acl = crate::acl::Acl::from_config(&config);
        let pubsub_limits = Arc::new(crate::pubsub::BufferLimits::new(
            config.pubsub_hard_limit,
            config.pubsub_soft_limit,
            config.pubsub_soft_seconds,
        ));
        let pubsub = Arc::new(PubSub::default());
        let tracking = Arc::new(crate::tracking::Tracking::new(pubsub.clone()));
        let server = Arc::new(Self {
            keyspace: Keyspace::new(
                backend,
                config.databases,
                config.shards,
                tracking.clone(),
                writers,
            ),
            tracking,
            config,
            pubsub,
            changed: Notify::new(),
            config_overrides: Mutex::new(HashMap::new()),
            scripts: Default::default(),
            slowlog: Default::default(),
            stats: Default::default(),
            traffic: Default::default(),
            replid: random_hex40(),
            monitors: Default::default(),
            pause: Default::default(),
            acl,
            notify_flags: AtomicU32::new(0),
            pubsub_limits,
            other_output_limits: Mutex::new(HashMap::new()),
            held_events: Mutex::new(Default::default()),
            limits,
            clients: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            blocked: Default::default(),
            started: Instant::now(),
            started_unix: crate::store::now_ms() / 1000,
            startup_rss: crate::cmd::memory::resident().0,
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
        });
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            // The data written before a restart is loaded now, not when a command first
            // touches its shard: INFO keyspace (DBSIZE per database, the exporters' key
            // counts) and the active expiry see every key from the start. Commands that reach
            // a shard still loading wait for it, as they would at first use.
            let loading = Arc::clone(&server);
            handle.spawn(async move {
                let stop = loading.stop.clone();
                tokio::select! {
                    _ = stop.cancelled() => {}
                    done = loading.keyspace.load_existing() => match done {
                        Ok(n) => tracing::debug!(shards = n, "redis shards loaded"),
                        Err(e) => tracing::warn!(error = %e, "loading redis shards at start"),
                    },
                }
            });
            let weak = Arc::downgrade(&server);
            let stop = server.stop.clone();
            let period = Duration::from_millis(server.config.active_expire_ms);
            let per_shard = server.config.active_expire_keys;
            handle.spawn(async move {
                let mut tick = tokio::time::interval(period);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tick.tick() => {}
                    }
                    let Some(server) = weak.upgrade() else { return };
                    server.traffic.sample(server.stats.processed());
                    // Events whose connection went away before they were durable.
                    server.drain_events();
                    server.tracking.settle();
                    // Redis holds active expiry while clients are paused.
                    if server.pause.in_force() {
                        continue;
                    }
                    let flags = server.notify_flags();
                    if flags & crate::notify::EXPIRED == 0 {
                        server.keyspace.sweep(per_shard, None);
                    } else {
                        let mut expired = Vec::new();
                        server.keyspace.sweep(per_shard, Some(&mut expired));
                        for e in expired {
                            let events = e
                                .keys
                                .into_iter()
                                .map(|key| crate::notify::Event {
                                    class: crate::notify::EXPIRED,
                                    name: "expired",
                                    key,
                                })
                                .collect();
                            server.hold_events(e.db, &[(e.shard, e.seq)], events);
                        }
                    }
                }
            });
        }
        Ok(server)
    }

    pub fn db(&self, index: usize) -> Result<&Db, Error> {
        self.keyspace
            .db(index)
            .ok_or_else(|| Error::Storage(format!("no database {index}")))
    }

    /// Wake clients blocked in BLPOP and friends (after a write), if there are any.
    pub fn wake_blocked(&self) {
        if self.blocked.load(Ordering::SeqCst) > 0 {
            self.changed.notify_waiters();
        }
    }

    /// Count a client as blocked for as long as the guard lives.
    pub fn block(&self) -> BlockedGuard<'_> {
        self.blocked.fetch_add(1, Ordering::SeqCst);
        BlockedGuard(&self.blocked)
    }

    /// The keyspace-notification flags, as CONFIG SET stored them.
    pub fn notify_flags(&self) -> u32 {
        self.notify_flags.load(Ordering::Relaxed)
    }

    pub fn set_notify_flags(&self, flags: u32) {
        self.notify_flags.store(flags, Ordering::Relaxed);
    }

    /// Publish a command's keyspace events for database `db`.
    pub fn publish_events(&self, db: usize, events: &[crate::notify::Event]) {
        if !events.is_empty() {
            crate::notify::publish(&self.pubsub, self.notify_flags(), db, events);
        }
    }

    /// Publish the keyspace events of a change once it is durable (up to `seq` on each of
    /// `waits`' shards), as redis-server with `appendfsync always` delivers them only after its
    /// fsync: no subscriber hears of a change a crash could still lose. Events leave in the
    /// order they were held, whoever made them (commands of every connection, the sweep).
    pub fn hold_events(&self, db: usize, waits: &[(Arc<Shard>, u64)], events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        // A change that will never be durable: nobody hears of it.
        let Some(durable) = durability(waits) else {
            return;
        };
        let mut held = self.held_events.lock();
        if held.is_empty() && durable {
            self.publish_events(db, &events);
            return;
        }
        held.push_back(HeldEvents {
            waits: waits.to_vec(),
            db,
            events,
        });
    }

    /// Publish the held events that are durable now, in order, up to the first that is not;
    /// drop those of a shard whose durable write failed (they never happened).
    pub fn drain_events(&self) {
        let mut held = self.held_events.lock();
        while let Some(front) = held.front() {
            let durable = durability(&front.waits);
            if durable == Some(false) {
                break;
            }
            if let Some(h) = held.pop_front()
                && durable.is_some()
            {
                self.publish_events(h.db, &h.events);
            }
        }
    }

    /// Resident bytes when the server started (MEMORY STATS' `startup.allocated`).
    pub fn startup_rss(&self) -> u64 {
        self.startup_rss
    }

    pub fn started_unix(&self) -> i64 {
        self.started_unix
    }

    /// Stop the sweep and wait for every connection to finish (they close on `cancel`).
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Serve one client until it quits, the connection breaks or `cancel` fires (then the
    /// current pipeline is finished and its replies sent before closing).
    pub async fn serve_connection<S>(
        self: Arc<Self>,
        stream: S,
        peer: SocketAddr,
        cancel: CancellationToken,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
        self.serve_connection_at(stream, peer, unknown, cancel)
            .await
    }

    /// `serve_connection` for a connection that arrived at `local` (CLIENT LIST's `laddr`).
    pub async fn serve_connection_at<S>(
        self: Arc<Self>,
        stream: S,
        peer: SocketAddr,
        local: SocketAddr,
        cancel: CancellationToken,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let _task = self.tasks.token();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // `STOP` ends the connection after the pipeline being run (shutdown, told by
        // `cancel`); `DROP` ends it at once, replies unsent (CLIENT KILL, ACL DELUSER, an
        // overflowing output buffer), as Redis frees such a client.
        let signals = Arc::new(Signals::default());
        let (_alive, gone) = tokio::sync::oneshot::channel::<()>();
        {
            let signals = signals.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = cancel.cancelled() => signals.raise(STOP),
                    _ = gone => {}
                }
            });
        }
        let mut stream = stream;
        if self.clients.lock().len() >= self.config.maxclients {
            self.traffic
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            let mut out = BytesMut::new();
            codec::encode(
                &Reply::err("ERR max number of clients reached"),
                false,
                &mut out,
            );
            let _ = stream.write_all(&out).await;
            return;
        }
        self.traffic
            .connections_received
            .fetch_add(1, Ordering::Relaxed);
        let (outbox, inbox) = crate::pubsub::channel(self.pubsub_limits.clone(), signals.clone());
        self.clients.lock().insert(
            id,
            ClientEntry {
                peer,
                local,
                name: String::new(),
                user: "default".into(),
                db: 0,
                created: Instant::now(),
                live: Arc::new(Mutex::new(crate::session::Live::default())),
                outbox: outbox.clone(),
                signals: signals.clone(),
            },
        );
        let mut session = Session::new(id, peer, !self.acl.default_open(), outbox, signals.clone());
        let mut inbox = inbox;
        let live = self.clients.lock().get(&id).map(|e| e.live.clone());
        let done = tokio::select! {
            biased;
            done = self.connection_loop(&mut session, &mut inbox, &mut stream, &signals, live) => done,
            _ = signals.wait(DROP) => Ok(()),
        };
        if let Err(e) = done {
            tracing::debug!(client = id, error = %e, "redis connection closed");
        }
        for ch in session.channels.drain() {
            self.pubsub.unsubscribe(false, &ch, id);
        }
        for p in session.patterns.drain() {
            self.pubsub.unsubscribe(true, &p, id);
        }
        for ch in session.shard_channels.drain() {
            self.pubsub.sunsubscribe(&ch, id);
        }
        self.monitors.remove(id);
        self.tracking.gone(id);
        self.clients.lock().remove(&id);
        let _ = stream.shutdown().await;
    }

    async fn connection_loop<S>(
        self: &Arc<Self>,
        s: &mut Session,
        inbox: &mut crate::pubsub::Inbox,
        stream: &mut S,
        signals: &Signals,
        live: Option<Arc<Mutex<crate::session::Live>>>,
    ) -> Result<(), Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let mut inbuf = BytesMut::with_capacity(16 * 1024);
        let mut out = Output::default();
        // One request's arguments; the vector is reused from request to request.
        let mut args = Vec::new();
        let io = |e: std::io::Error| Error::Storage(format!("connection: {e}"));
        loop {
            // Requests that arrived together share one clock read.
            s.clock = None;
            // Run every complete request already buffered, in order.
            loop {
                match codec::decode_request_into(&mut inbuf, &self.limits, &mut args) {
                    Ok(true) if is_blocking(&args) => {
                        // The replies before it leave now, as redis-server sends them while
                        // the client waits.
                        if !out.buf.is_empty() {
                            self.flush(stream, &mut out).await?;
                            inbox.written();
                        }
                        // While a client is blocked, watch its socket: if it goes away the
                        // wait is dropped before anything is popped for it (the pop and its
                        // reply happen with no await in between, so nothing is lost). Pushed
                        // messages (a RESP3 subscriber may block) go out as they come.
                        let resp3 = s.resp3;
                        let mut pushed = BytesMut::new();
                        {
                            let run = s.execute(self, &mut args, &mut out);
                            tokio::pin!(run);
                            loop {
                                tokio::select! {
                                    biased;
                                    done = &mut run => {
                                        done?;
                                        break;
                                    }
                                    bits = signals.wait(STOP | DROP | MAIL) => {
                                        if bits & (STOP | DROP) != 0 {
                                            return Ok(());
                                        }
                                        inbox.mail_seen();
                                        while let Some(m) = inbox.try_recv() {
                                            codec::encode(&m, resp3, &mut pushed);
                                        }
                                        stream.write_all(&pushed).await.map_err(io)?;
                                        self.traffic.wrote(pushed.len());
                                        stream.flush().await.map_err(io)?;
                                        pushed.clear();
                                        inbox.written();
                                    }
                                    n = stream.read_buf(&mut inbuf), if inbuf.len() < MAX_BUFFERED_WHILE_BLOCKED => {
                                        let n = n.map_err(io)?;
                                        if n == 0 {
                                            return Ok(());
                                        }
                                        self.traffic.read(n);
                                    }
                                }
                            }
                        }
                        release(&mut args);
                        s.clock = None;
                        if out.buf.len() >= self.config.output_flush_bytes {
                            self.flush(stream, &mut out).await?;
                        }
                    }
                    Ok(true) => {
                        s.execute(self, &mut args, &mut out).await?;
                        release(&mut args);
                        if s.closing || out.buf.len() >= self.config.output_flush_bytes {
                            self.flush(stream, &mut out).await?;
                            s.clock = None;
                        }
                        if s.closing {
                            return Ok(());
                        }
                    }
                    Ok(false) => break,
                    Err(e) => {
                        out.push(&Reply::err(e.0), s.resp3);
                        self.flush(stream, &mut out).await?;
                        return Ok(());
                    }
                }
            }
            self.flush(stream, &mut out).await?;
            // Pushed messages taken so far are on the socket now: they no longer count
            // against the output buffer limit.
            inbox.written();
            if let Some(l) = &live {
                *l.lock() = s.live();
            }
            // In a fixed order (no random draw per wait); pushed messages before new requests,
            // so a client that keeps sending cannot hold back its own pub/sub messages.
            tokio::select! {
                biased;
                bits = signals.wait(STOP | DROP | MAIL) => {
                    if bits & (STOP | DROP) != 0 {
                        return Ok(());
                    }
                    inbox.mail_seen();
                    while let Some(m) = inbox.try_recv() {
                        out.push(&m, s.resp3);
                    }
                }
                n = stream.read_buf(&mut inbuf) => {
                    let n = n.map_err(io)?;
                    if n == 0 {
                        return Ok(());
                    }
                    self.traffic.read(n);
                }
            }
        }
    }

    /// Send the buffered replies once everything they depend on is durable (publishing first
    /// the keyspace events that waited for that). If durability failed the replies are never
    /// sent: the connection closes instead.
    async fn flush<S: AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        out: &mut Output,
    ) -> Result<(), Error> {
        out.settle(self).await?;
        if out.buf.is_empty() {
            return Ok(());
        }
        let io = |e: std::io::Error| Error::Storage(format!("connection: {e}"));
        // Written at once. Yielding a scheduler turn first, so that the replies of the loop's
        // other ready connections leave together, costs a second poll of the task per flush;
        // measured, it is slower now that commits run on the loop (SADD -P 16: 1.11-1.14M
        // against 1.17-1.22M requests/s without it).
        stream.write_all(&out.buf).await.map_err(io)?;
        self.traffic.wrote(out.buf.len());
        out.buf.clear();
        stream.flush().await.map_err(io)
    }

    pub fn update_client(&self, s: &Session) {
        if let Some(e) = self.clients.lock().get_mut(&s.id) {
            e.name = s
                .name
                .as_ref()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default();
            e.db = s.db;
            e.user.clone_from(&s.user);
        }
    }

    /// One CLIENT LIST line; `me` is the asking connection's own state, read now (a line of
    /// another connection shows its state after its last batch of requests). `fd` and the
    /// buffer sizes Redis reports have no counterpart here and read as Redis's for an idle
    /// client.
    fn line_of(id: u64, e: &ClientEntry, me: Option<crate::session::Live>) -> String {
        let live = me.unwrap_or_else(|| *e.live.lock());
        let age = e.created.elapsed().as_secs();
        let idle = if me.is_some() {
            0
        } else {
            (crate::store::now_ms() - live.active_ms).max(0) / 1000
        };
        let cmd = if live.cmd.is_empty() {
            "NULL"
        } else {
            live.cmd
        };
        format!(
            "id={id} addr={} laddr={} fd=8 name={} age={age} idle={idle} flags={} db={} sub={} psub={} ssub={} multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r cmd={cmd} user={} redir={} resp={}\n",
            e.peer,
            e.local,
            e.name,
            live.flags(e.signals.raised(crate::pubsub::BLOCKED)),
            e.db,
            live.sub,
            live.psub,
            live.ssub,
            live.multi,
            e.outbox.queued(),
            e.user,
            live.redir,
            if live.resp3 { 3 } else { 2 }
        )
    }

    /// Where invalidations redirected to connection `id` go, if it is open (CLIENT TRACKING
    /// REDIRECT).
    pub fn redirect_target(&self, id: u64) -> Option<crate::tracking::Target> {
        self.clients
            .lock()
            .get(&id)
            .map(|e| crate::tracking::Target {
                outbox: e.outbox.clone(),
                live: e.live.clone(),
            })
    }

    pub fn client_line(&self, s: &Session) -> String {
        self.clients
            .lock()
            .get(&s.id)
            .map(|e| Self::line_of(s.id, e, Some(s.live())))
            .unwrap_or_default()
    }

    pub fn client_list(&self, s: &Session) -> String {
        let clients = self.clients.lock();
        let mut ids: Vec<&u64> = clients.keys().collect();
        ids.sort();
        ids.into_iter()
            .map(|id| Self::line_of(*id, &clients[id], (*id == s.id).then(|| s.live())))
            .collect()
    }

    /// Close the connections `pick` selects (by id and peer address); returns how many.
    pub fn kill_clients(&self, pick: impl Fn(u64, &str) -> bool) -> usize {
        let clients = self.clients.lock();
        let mut n = 0;
        for (id, e) in clients.iter() {
            if pick(*id, &e.peer.to_string()) {
                e.signals.raise(DROP);
                n += 1;
            }
        }
        n
    }

    /// CLIENT UNBLOCK: end the blocked command of connection `id`, as a timeout or with the
    /// UNBLOCKED error; false when it is not blocked in such a command.
    pub fn unblock_client(&self, id: u64, error: bool) -> bool {
        let clients = self.clients.lock();
        let Some(e) = clients.get(&id) else {
            return false;
        };
        if !e.signals.raised(crate::pubsub::BLOCKED) {
            return false;
        }
        e.signals.raise(if error {
            crate::pubsub::UNBLOCK_ERROR
        } else {
            crate::pubsub::UNBLOCK
        });
        true
    }

    /// After ACL SETUSER: close the connections of `user` subscribed to a channel or pattern
    /// it may no longer use, as Redis does. Returns whether `me` is one of them (it closes
    /// after its reply).
    pub fn kill_revoked_subscribers(&self, user: &str, me: u64) -> bool {
        let Some(perms) = self.acl.get(user) else {
            return false;
        };
        let mut me_too = false;
        let clients = self.clients.lock();
        for (id, e) in clients.iter().filter(|(_, e)| e.user == user) {
            if self
                .pubsub
                .any_refused(*id, |name, pattern| perms.may_subscribe(name, pattern))
            {
                if *id == me {
                    me_too = true;
                } else {
                    e.signals.raise(DROP);
                }
            }
        }
        me_too
    }

    /// Close the connections logged in as `user` (ACL DELUSER); returns how many.
    pub fn kill_user(&self, user: &str) -> usize {
        let clients = self.clients.lock();
        let mut n = 0;
        for e in clients.values().filter(|e| e.user == user) {
            e.signals.raise(DROP);
            n += 1;
        }
        n
    }

    /// INFO text for `section` (all sections when `None`, `all` or `everything`).
    /// CONFIG RESETSTAT: the command, error and latency statistics and INFO stats' counters.
    pub fn reset_stats(&self) {
        self.stats.reset();
        self.traffic.reset();
    }

    /// The port the connection `id` reached this server on (INFO server's `tcp_port`).
    pub fn local_port(&self, id: u64) -> u16 {
        self.clients.lock().get(&id).map_or(0, |e| e.local.port())
    }

    /// INFO, with the fields redis-server 7.0 gives in each section, in its order. Fields
    /// for what dotdo does not have (forks, replication, defragmentation, eviction) hold the
    /// values a Redis without them reports.
    /// `sections` as INFO names them (lowercase; none: the default set), in any number, as
    /// Redis 7 takes them.
    pub async fn info(&self, sections: &[String], port: u16) -> String {
        use std::fmt::Write;
        let named = |name: &str| sections.iter().any(|s| s == name);
        let all = named("all") || named("everything");
        let default = sections.is_empty() || named("default") || all;
        let want = |name: &str| default || named(name);
        // Sections not in the default set: named, or in `all` / `everything`.
        let extra = |name: &str| all || named(name);
        let mut text = String::new();
        let now_ms = crate::store::now_ms();
        if want("server") {
            let uptime = self.started.elapsed().as_secs();
            let hz = 1000 / self.config.active_expire_ms.max(1);
            let _ = write!(
                text,
                "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:{}\r\nredis_mode:standalone\r\nos:{}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{:040x}\r\ntcp_port:{port}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{hz}\r\nconfigured_hz:{hz}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:\r\nio_threads_active:0\r\n\r\n",
                crate::cmd::server::VERSION,
                env!("CARGO_PKG_VERSION"),
                os_line(),
                std::process::id(),
                self.started_unix,
                now_ms * 1000,
                uptime / 86400,
                (now_ms / 1000) & ((1 << 24) - 1),
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            );
        }
        if want("clients") {
            let _ = write!(
                text,
                "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\n\r\n",
                self.clients.lock().len(),
                self.config.maxclients,
                self.blocked.load(Ordering::Relaxed),
                self.tracking.clients()
            );
        }
        if want("memory") {
            // The process's resident memory stands for Redis's allocator figures.
            let (rss, peak) = crate::cmd::memory::resident();
            let startup = self.startup_rss.min(rss);
            let dataset = rss - startup;
            let percent = |part: u64, whole: u64| {
                if whole == 0 {
                    0.0
                } else {
                    part as f64 * 100.0 / whole as f64
                }
            };
            let system = crate::traffic::total_system_memory();
            let (scripts, script_bytes) = self.scripts.cached();
            let (libraries, functions, function_bytes) = self.scripts.functions.counts();
            let policy = self
                .config_overrides
                .lock()
                .get("maxmemory-policy")
                .cloned()
                .unwrap_or_else(|| "noeviction".into());
            let _ = write!(
                text,
                "# Memory\r\nused_memory:{rss}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:{startup}\r\nused_memory_startup:{startup}\r\nused_memory_dataset:{dataset}\r\nused_memory_dataset_perc:{:.2}%\r\nallocator_allocated:{rss}\r\nallocator_active:{rss}\r\nallocator_resident:{rss}\r\ntotal_system_memory:{system}\r\ntotal_system_memory_human:{}\r\nused_memory_lua:0\r\nused_memory_vm_eval:0\r\nused_memory_lua_human:0B\r\nused_memory_scripts_eval:{script_bytes}\r\nnumber_of_cached_scripts:{scripts}\r\nnumber_of_functions:{functions}\r\nnumber_of_libraries:{libraries}\r\nused_memory_vm_functions:0\r\nused_memory_vm_total:0\r\nused_memory_vm_total_human:0B\r\nused_memory_functions:{function_bytes}\r\nused_memory_scripts:{}\r\nused_memory_scripts_human:{}\r\nmaxmemory:0\r\nmaxmemory_human:0B\r\nmaxmemory_policy:{policy}\r\nallocator_frag_ratio:1.00\r\nallocator_frag_bytes:0\r\nallocator_rss_ratio:1.00\r\nallocator_rss_bytes:0\r\nrss_overhead_ratio:1.00\r\nrss_overhead_bytes:0\r\nmem_fragmentation_ratio:1.00\r\nmem_fragmentation_bytes:0\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:0\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:0\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:mimalloc\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n\r\n",
                human(rss),
                human(rss),
                human(peak),
                percent(rss, peak),
                percent(dataset, rss),
                human(system),
                script_bytes + function_bytes,
                human((script_bytes + function_bytes) as u64),
            );
        }
        if want("persistence") {
            // Every acknowledged write is durable already: nothing waits for a save, and no
            // save or rewrite ever runs or fails.
            let _ = write!(
                text,
                "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:ok\r\nrdb_last_bgsave_time_sec:-1\r\nrdb_current_bgsave_time_sec:-1\r\nrdb_saves:0\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:0\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\naof_rewrites_consecutive_failures:0\r\naof_last_write_status:ok\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n\r\n",
                self.started_unix
            );
        }
        if want("stats") {
            use crate::traffic::{EXPIRED_KEYS, KEYSPACE_HITS, KEYSPACE_MISSES};
            let t = &self.traffic;
            let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
            let (ops, kin, kout) = t.rates();
            let _ = write!(
                text,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{ops}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:{kin:.2}\r\ninstantaneous_output_kbps:{kout:.2}\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\nevicted_keys:0\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n\r\n",
                load(&t.connections_received),
                self.stats.processed(),
                load(&t.net_input_bytes),
                load(&t.net_output_bytes),
                load(&t.rejected_connections),
                load(&EXPIRED_KEYS),
                load(&KEYSPACE_HITS),
                load(&KEYSPACE_MISSES),
                self.pubsub.channels(None).len(),
                self.pubsub.numpat(),
                self.pubsub.shard_channels(None).len(),
                self.tracking.total_keys(),
                self.tracking.total_items(),
                self.tracking.total_prefixes(),
                self.stats.error_replies(),
                load(&t.reads_processed),
                load(&t.writes_processed),
            );
        }
        if want("replication") {
            let _ = write!(
                text,
                "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n\r\n",
                self.replid
            );
        }
        if want("cpu") {
            // The process's, and the event loop's that runs this INFO (Redis's main thread).
            let (user, sys, thread_user, thread_sys) = crate::traffic::cpu_seconds();
            let _ = write!(
                text,
                "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{thread_sys:.6}\r\nused_cpu_user_main_thread:{thread_user:.6}\r\n\r\n",
            );
        }
        if want("modules") {
            text.push_str("# Modules\r\n\r\n");
        }
        if extra("commandstats") {
            text.push_str(&self.stats.info_commandstats());
        }
        if want("errorstats") {
            text.push_str(&self.stats.info_errorstats());
        }
        if extra("latencystats") {
            text.push_str(&self.stats.info_latencystats());
        }
        if want("cluster") {
            text.push_str("# Cluster\r\ncluster_enabled:0\r\n\r\n");
        }
        if want("keyspace") {
            text.push_str("# Keyspace\r\n");
            for (i, (keys, expires, avg_ttl)) in self.keyspace.key_counts().into_iter().enumerate()
            {
                if keys > 0 {
                    let _ = write!(
                        text,
                        "db{i}:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n"
                    );
                }
            }
        }
        text
    }
}

/// INFO server's `os`: as Redis prints `uname`, "Linux 6.1.0 x86_64".
fn os_line() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let name = match std::env::consts::OS {
        "linux" => "Linux",
        other => other,
    };
    format!("{name} {} {}", release.trim(), std::env::consts::ARCH)
}

/// 40 random hex digits (a replication id), from the OS's randomness.
fn random_hex40() -> String {
    let mut buf = [0u8; 20];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .is_ok();
    if !ok {
        // Unique enough for a replication id nobody replicates from.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        buf[..16].copy_from_slice(&seed.to_le_bytes());
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes as INFO's `_human` fields print them (`1.50M`).
fn human(n: u64) -> String {
    let n = n as f64;
    let (v, unit) = if n >= 1024.0 * 1024.0 * 1024.0 {
        (n / (1024.0 * 1024.0 * 1024.0), "G")
    } else if n >= 1024.0 * 1024.0 {
        (n / (1024.0 * 1024.0), "M")
    } else if n >= 1024.0 {
        (n / 1024.0, "K")
    } else {
        return format!("{n}B");
    };
    format!("{v:.2}{unit}")
}

/// Drop a request's arguments once it has run (they may hold large values), keeping the
/// vector for the next request unless a long command made it large.
fn release(args: &mut Vec<bytes::Bytes>) {
    if args.capacity() > 64 {
        *args = Vec::new();
    } else {
        args.clear();
    }
}

/// Bytes a blocked client may send ahead before its socket is left unread.
const MAX_BUFFERED_WHILE_BLOCKED: usize = 1024 * 1024;

fn is_blocking(args: &[bytes::Bytes]) -> bool {
    // Every name below is 4 to 10 letters and starts with `b` or `w`.
    args.first().is_some_and(|n| {
        (4..=10).contains(&n.len())
            && matches!(n[0] | 0x20, b'b' | b'w')
            && [
                "wait",
                "waitaof",
                "blpop",
                "brpop",
                "blmove",
                "brpoplpush",
                "bzpopmin",
                "bzpopmax",
            ]
            .iter()
            .any(|b| n.eq_ignore_ascii_case(b.as_bytes()))
    })
}

pub struct BlockedGuard<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for BlockedGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
