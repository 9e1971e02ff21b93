//! Publish/subscribe: channels and patterns, delivered to each subscriber's connection.

use std::collections::HashMap;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::cmd::args::glob;
use crate::frame::Reply;

pub type Outbox = mpsc::UnboundedSender<Reply>;

#[derive(Default)]
pub struct PubSub {
    channels: Mutex<HashMap<Bytes, HashMap<u64, Outbox>>>,
    patterns: Mutex<HashMap<Bytes, HashMap<u64, Outbox>>>,
}

impl PubSub {
    pub fn subscribe(&self, pattern: bool, name: Bytes, client: u64, out: Outbox) {
        let mut map = if pattern {
            self.patterns.lock()
        } else {
            self.channels.lock()
        };
        map.entry(name).or_default().insert(client, out);
    }

    pub fn unsubscribe(&self, pattern: bool, name: &Bytes, client: u64) {
        let mut map = if pattern {
            self.patterns.lock()
        } else {
            self.channels.lock()
        };
        if let Some(subs) = map.get_mut(name) {
            subs.remove(&client);
            if subs.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Deliver `message`; returns the number of subscribers that got it.
    pub fn publish(&self, channel: &Bytes, message: &Bytes) -> i64 {
        let mut n = 0;
        if let Some(subs) = self.channels.lock().get(channel) {
            let frame = Reply::Push(vec![
                Reply::bulk("message"),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(message.clone()),
            ]);
            for out in subs.values() {
                n += i64::from(out.send(frame.clone()).is_ok());
            }
        }
        for (pattern, subs) in self.patterns.lock().iter() {
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
                n += i64::from(out.send(frame.clone()).is_ok());
            }
        }
        n
    }

    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut v: Vec<Bytes> = self
            .channels
            .lock()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob(p, c)))
            .cloned()
            .collect();
        v.sort();
        v
    }

    pub fn numsub(&self, channel: &[u8]) -> i64 {
        self.channels
            .lock()
            .get(channel)
            .map_or(0, |s| s.len() as i64)
    }

    pub fn numpat(&self) -> i64 {
        self.patterns.lock().values().map(|s| s.len() as i64).sum()
    }
}
