//! Publish/subscribe: channels and patterns, delivered to each subscriber's connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::task::AtomicWaker;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::cmd::args::glob;
use crate::frame::Reply;

/// `client-output-buffer-limit pubsub`, shared by every connection and changed by CONFIG SET.
#[derive(Debug)]
pub struct BufferLimits {
    pub hard: AtomicU64,
    pub soft: AtomicU64,
    pub soft_seconds: AtomicU64,
}

impl BufferLimits {
    pub fn new(hard: u64, soft: u64, soft_seconds: u64) -> Self {
        Self {
            hard: AtomicU64::new(hard),
            soft: AtomicU64::new(soft),
            soft_seconds: AtomicU64::new(soft_seconds),
        }
    }
}

/// Close the connection at once, its replies unsent (CLIENT KILL, ACL DELUSER, an
/// overflowing output buffer), as Redis frees such a client.
pub const DROP: u8 = 1;
/// Close the connection once the pipeline being run is answered (shutdown).
pub const STOP: u8 = 2;
/// Messages are waiting in the inbox.
pub const MAIL: u8 = 4;
/// The connection is blocked in a command CLIENT UNBLOCK may end (set by the connection).
pub const BLOCKED: u8 = 8;
/// CLIENT UNBLOCK … TIMEOUT: end the blocked command as if it timed out.
pub const UNBLOCK: u8 = 16;
/// CLIENT UNBLOCK … ERROR: end it with the UNBLOCKED error.
pub const UNBLOCK_ERROR: u8 = 32;

/// What other tasks tell one connection: one atomic and the connection task's waker, so the
/// connection loop polls them for a load each (a cancellation token's poll takes two locks,
/// and the loop polls on every request).
#[derive(Default)]
pub struct Signals {
    state: AtomicU8,
    waker: AtomicWaker,
}

impl Signals {
    pub fn raise(&self, bits: u8) {
        if self.state.fetch_or(bits, Ordering::AcqRel) & bits != bits {
            self.waker.wake();
        }
    }

    pub fn raised(&self, bits: u8) -> bool {
        self.state.load(Ordering::Acquire) & bits != 0
    }

    /// Ready with the raised bits among `bits`, once any is raised. Only the connection's own
    /// task polls this (the waker slot holds one waker).
    pub fn poll(&self, bits: u8, cx: &mut Context<'_>) -> Poll<u8> {
        let now = self.state.load(Ordering::Acquire) & bits;
        if now != 0 {
            return Poll::Ready(now);
        }
        self.waker.register(cx.waker());
        match self.state.load(Ordering::Acquire) & bits {
            0 => Poll::Pending,
            now => Poll::Ready(now),
        }
    }

    /// Wait until one of `bits` is raised; returns those raised.
    pub async fn wait(&self, bits: u8) -> u8 {
        std::future::poll_fn(|cx| self.poll(bits, cx)).await
    }

    pub fn clear(&self, bits: u8) {
        self.state.fetch_and(!bits, Ordering::AcqRel);
    }
}

/// What a connection has queued but not yet written to its socket, against the limits.
struct Queue {
    bytes: AtomicUsize,
    /// When the queue last went past the soft limit (ms since the Unix epoch); 0: it is not.
    soft_since: AtomicI64,
    limits: Arc<BufferLimits>,
    /// `DROP` closes the connection at once, unflushed (a slow reader is not waited for);
    /// `MAIL` says a message was queued.
    signals: Arc<Signals>,
}

/// Where other connections push messages for one connection (pub/sub, MONITOR). Bounded as
/// Redis bounds a pub/sub client's output buffer: past the limits the connection is closed
/// and nothing more is queued for it.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<(Reply, usize)>,
    queue: Arc<Queue>,
}

/// The receiving end of an [`Outbox`], read by the connection's loop.
pub struct Inbox {
    rx: mpsc::UnboundedReceiver<(Reply, usize)>,
    queue: Arc<Queue>,
    /// Bytes of messages taken but not yet written to the socket.
    taken: usize,
}

/// A connection's outbox and inbox; `signals` gets `DROP` when the queue overflows and
/// `MAIL` with every message.
pub fn channel(limits: Arc<BufferLimits>, signals: Arc<Signals>) -> (Outbox, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queue = Arc::new(Queue {
        bytes: AtomicUsize::new(0),
        soft_since: AtomicI64::new(0),
        limits,
        signals,
    });
    (
        Outbox {
            tx,
            queue: queue.clone(),
        },
        Inbox {
            rx,
            queue,
            taken: 0,
        },
    )
}

/// About the bytes `reply` takes on the wire (what the limits count).
fn weight(reply: &Reply) -> usize {
    match reply {
        Reply::Bulk(b) => b.len() + 16,
        Reply::Simple(s) | Reply::Error(s) | Reply::Verbatim(s) | Reply::DoubleText(s) => {
            s.len() + 16
        }
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => {
            16 + v.iter().map(weight).sum::<usize>()
        }
        Reply::Map(v) => 16 + v.iter().map(|(k, x)| weight(k) + weight(x)).sum::<usize>(),
        _ => 16,
    }
}

impl Outbox {
    /// Bytes queued for the connection and not yet written to its socket.
    pub fn queued(&self) -> usize {
        self.queue.bytes.load(Ordering::Relaxed)
    }

    /// Queue `reply`; false when the connection is gone or was just closed for passing its
    /// limits (the message is then dropped, as Redis drops a closed client's output).
    pub fn send(&self, reply: Reply) -> bool {
        let q = &*self.queue;
        if q.signals.raised(DROP) {
            return false;
        }
        let size = weight(&reply);
        let queued = (q.bytes.fetch_add(size, Ordering::AcqRel) + size) as u64;
        let hard = q.limits.hard.load(Ordering::Relaxed);
        let soft = q.limits.soft.load(Ordering::Relaxed);
        let mut over = hard > 0 && queued > hard;
        if !over && soft > 0 && queued > soft {
            let now = crate::store::now_ms();
            let since =
                match q
                    .soft_since
                    .compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => now,
                    Err(t) => t,
                };
            let secs = q.limits.soft_seconds.load(Ordering::Relaxed) as i64;
            over = now - since > secs.saturating_mul(1000);
        }
        if over {
            tracing::warn!(
                queued,
                "redis client closed for overcoming of output buffer limits (pubsub class)"
            );
            q.signals.raise(DROP);
            return false;
        }
        let sent = self.tx.send((reply, size)).is_ok();
        if sent {
            q.signals.raise(MAIL);
        }
        sent
    }
}

impl Inbox {
    fn took(&mut self, m: Option<(Reply, usize)>) -> Option<Reply> {
        m.map(|(r, size)| {
            self.taken += size;
            r
        })
    }

    /// The connection saw `MAIL` and is about to drain the queue with `try_recv`.
    pub fn mail_seen(&self) {
        self.queue.signals.clear(MAIL);
    }

    pub fn try_recv(&mut self) -> Option<Reply> {
        let m = self.rx.try_recv().ok();
        self.took(m)
    }

    /// Every message taken so far has been written to the socket: it no longer counts.
    pub fn written(&mut self) {
        if self.taken == 0 {
            return;
        }
        let q = &*self.queue;
        let left = q.bytes.fetch_sub(self.taken, Ordering::AcqRel) - self.taken;
        self.taken = 0;
        if (left as u64) <= q.limits.soft.load(Ordering::Relaxed) {
            q.soft_since.store(0, Ordering::Release);
        }
    }
}

/// One namespace of subscriptions: channel (or pattern) → subscriber → its queue.
#[derive(Default)]
struct Subscribers(Mutex<HashMap<Bytes, HashMap<u64, Outbox>>>);

impl Subscribers {
    fn join(&self, name: Bytes, client: u64, out: Outbox) {
        self.0.lock().entry(name).or_default().insert(client, out);
    }

    fn leave(&self, name: &Bytes, client: u64) {
        let mut map = self.0.lock();
        if let Some(subs) = map.get_mut(name) {
            subs.remove(&client);
            if subs.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Send `frame` to every subscriber of `name`; how many got it.
    fn deliver(&self, name: &[u8], frame: impl FnOnce() -> Reply) -> i64 {
        let map = self.0.lock();
        let Some(subs) = map.get(name) else {
            return 0;
        };
        let frame = frame();
        subs.values()
            .map(|out| i64::from(out.send(frame.clone())))
            .sum()
    }

    /// The names with subscribers (matching `pattern`), sorted.
    fn names(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut v: Vec<Bytes> = self
            .0
            .lock()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob(p, c)))
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// The names `client` is subscribed to.
    fn of(&self, client: u64) -> Vec<Bytes> {
        self.0
            .lock()
            .iter()
            .filter(|(_, subs)| subs.contains_key(&client))
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn count(&self, name: &[u8]) -> i64 {
        self.0.lock().get(name).map_or(0, |s| s.len() as i64)
    }
}

#[derive(Default)]
pub struct PubSub {
    channels: Subscribers,
    patterns: Subscribers,
    /// Shard channels (SSUBSCRIBE/SPUBLISH): a namespace of their own, without patterns.
    shard: Subscribers,
}

impl PubSub {
    fn classic(&self, pattern: bool) -> &Subscribers {
        if pattern {
            &self.patterns
        } else {
            &self.channels
        }
    }

    /// Whether `client` has a subscription `keep` refuses (`keep(name, is_pattern)`);
    /// shard channels are checked as channels.
    pub fn any_refused(&self, client: u64, keep: impl Fn(&[u8], bool) -> bool) -> bool {
        self.channels.of(client).iter().any(|c| !keep(c, false))
            || self.shard.of(client).iter().any(|c| !keep(c, false))
            || self.patterns.of(client).iter().any(|p| !keep(p, true))
    }

    pub fn subscribe(&self, pattern: bool, name: Bytes, client: u64, out: Outbox) {
        self.classic(pattern).join(name, client, out);
    }

    pub fn unsubscribe(&self, pattern: bool, name: &Bytes, client: u64) {
        self.classic(pattern).leave(name, client);
    }

    /// Deliver `message` to `client` alone, if it is subscribed to `channel` (redirected
    /// tracking invalidations).
    pub fn send_to(&self, channel: &[u8], client: u64, message: Reply) -> bool {
        self.channels
            .0
            .lock()
            .get(channel)
            .and_then(|subs| subs.get(&client))
            .is_some_and(|out| out.send(message))
    }

    /// Deliver `message`; returns the number of subscribers that got it.
    pub fn publish(&self, channel: &Bytes, message: &Bytes) -> i64 {
        let mut n = self.channels.deliver(channel, || {
            Reply::Push(vec![
                Reply::bulk("message"),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(message.clone()),
            ])
        });
        for (pattern, subs) in self.patterns.0.lock().iter() {
            if !glob(pattern, channel) {
                continue;
            }
            let frame = Reply::Push(vec![
                Reply::bulk("pmessage"),
                Reply::Bulk(pattern.clone()),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(message.clone()),
            ]);
            for out in subs.values() {
                n += i64::from(out.send(frame.clone()));
            }
        }
        n
    }

    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels.names(pattern)
    }

    pub fn numsub(&self, channel: &[u8]) -> i64 {
        self.channels.count(channel)
    }

    pub fn numpat(&self) -> i64 {
        self.patterns
            .0
            .lock()
            .values()
            .map(|s| s.len() as i64)
            .sum()
    }

    pub fn ssubscribe(&self, name: Bytes, client: u64, out: Outbox) {
        self.shard.join(name, client, out);
    }

    pub fn sunsubscribe(&self, name: &Bytes, client: u64) {
        self.shard.leave(name, client);
    }

    /// SPUBLISH: deliver `message` to the shard channel's subscribers only (neither classic
    /// channels nor patterns hear it); returns how many got it.
    pub fn spublish(&self, channel: &Bytes, message: &Bytes) -> i64 {
        self.shard.deliver(channel, || {
            Reply::Push(vec![
                Reply::bulk("smessage"),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(message.clone()),
            ])
        })
    }

    /// PUBSUB SHARDCHANNELS: the shard channels with subscribers (matching `pattern`).
    pub fn shard_channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.shard.names(pattern)
    }

    pub fn shard_numsub(&self, channel: &[u8]) -> i64 {
        self.shard.count(channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: usize) -> Reply {
        Reply::Push(vec![
            Reply::bulk("message"),
            Reply::bulk("ch"),
            Reply::Bulk(Bytes::from(vec![b'x'; n])),
        ])
    }

    #[test]
    fn shard_channels_are_a_namespace_of_their_own() {
        let ps = PubSub::default();
        let limits = Arc::new(BufferLimits::new(0, 0, 0));
        let (out, mut inbox) = channel(limits, Arc::default());
        let ch = Bytes::from_static(b"ch");
        ps.ssubscribe(ch.clone(), 1, out.clone());
        ps.subscribe(true, Bytes::from_static(b"*"), 2, out);
        assert_eq!(ps.spublish(&ch, &Bytes::from_static(b"hi")), 1);
        let Some(Reply::Push(v)) = inbox.try_recv() else {
            panic!("no smessage");
        };
        assert!(matches!(&v[0], Reply::Bulk(b) if &b[..] == b"smessage"));
        // The pattern hears classic PUBLISH only; the shard subscriber does not.
        assert_eq!(ps.publish(&ch, &Bytes::from_static(b"x")), 1);
        assert!(
            matches!(inbox.try_recv(), Some(Reply::Push(v)) if matches!(&v[0], Reply::Bulk(b) if &b[..] == b"pmessage"))
        );
        assert!(inbox.try_recv().is_none());
        assert_eq!(ps.shard_channels(None), vec![ch.clone()]);
        assert!(ps.channels(None).is_empty());
        assert_eq!(ps.shard_numsub(b"ch"), 1);
        assert_eq!(ps.numsub(b"ch"), 0);
        ps.sunsubscribe(&ch, 1);
        assert!(ps.shard_channels(None).is_empty());
        assert_eq!(ps.spublish(&ch, &Bytes::from_static(b"hi")), 0);
    }

    #[test]
    fn an_outbox_past_its_hard_limit_closes_the_connection() {
        let close = Arc::new(Signals::default());
        let (out, mut inbox) = channel(Arc::new(BufferLimits::new(10_000, 0, 0)), close.clone());
        for _ in 0..9 {
            assert!(out.send(message(1000)));
        }
        // Taken but not yet written: still counted.
        while inbox.try_recv().is_some() {}
        assert!(!close.raised(DROP));
        inbox.written();
        // Written: the queue is empty again, and there is room for as much once more.
        for _ in 0..9 {
            assert!(out.send(message(1000)));
        }
        assert!(!out.send(message(1000)));
        assert!(close.raised(DROP));
        // Nothing more is queued for a closed connection.
        inbox.written();
        assert!(!out.send(message(1)));
    }

    #[test]
    fn an_outbox_past_its_soft_limit_is_closed_only_after_its_seconds() {
        let close = Arc::new(Signals::default());
        let limits = Arc::new(BufferLimits::new(0, 1000, 60));
        let (out, _inbox) = channel(limits.clone(), close.clone());
        assert!(out.send(message(2000)));
        assert!(out.send(message(2000)));
        assert!(!close.raised(DROP));
        // Past the soft limit since a minute ago.
        out.queue
            .soft_since
            .store(crate::store::now_ms() - 61_000, Ordering::Release);
        assert!(!out.send(message(10)));
        assert!(close.raised(DROP));
    }

    #[test]
    fn a_queued_message_raises_mail_until_seen() {
        let signals = Arc::new(Signals::default());
        let (out, mut inbox) = channel(Arc::new(BufferLimits::new(0, 0, 0)), signals.clone());
        assert!(!signals.raised(MAIL));
        assert!(out.send(message(1)));
        assert!(signals.raised(MAIL));
        inbox.mail_seen();
        assert!(!signals.raised(MAIL));
        assert!(inbox.try_recv().is_some());
        // A message after the flag was cleared raises it again.
        assert!(out.send(message(1)));
        assert!(signals.raised(MAIL));
        assert!(!signals.raised(DROP | STOP));
    }
}
