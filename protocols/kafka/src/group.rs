//! The classic consumer-group coordinator: membership, generations, rebalances, sessions.
//!
//! Group state lives in memory, as in Kafka's coordinator; committed offsets live in the
//! group's object. All state changes are synchronous methods taking `now`, so the timing
//! rules are tested with paused tokio time. One timer task per group drives deadlines.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use indexmap::IndexMap;
use parking_lot::Mutex;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use crate::errors;

/// Timing settings of the coordinator.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub initial_rebalance_delay: Duration,
    pub min_session_timeout: Duration,
    pub max_session_timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Empty => "Empty",
            State::PreparingRebalance => "PreparingRebalance",
            State::CompletingRebalance => "CompletingRebalance",
            State::Stable => "Stable",
        }
    }
}

/// What a member asked for in JoinGroup.
#[derive(Clone, Debug, Default)]
pub struct JoinArgs {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    /// JoinGroup v4+: a member without an id gets one with MEMBER_ID_REQUIRED and joins
    /// with it (KIP-394), so a client that times out mid-join leaves no ghost member.
    pub require_known_member_id: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct JoinResult {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// `(member_id, group_instance_id, metadata)`, only for the leader.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncResult {
    pub error: i16,
    pub assignment: Bytes,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
}

/// A reply that is either ready now or comes when the rebalance moves on.
pub enum Pending<T> {
    Ready(T),
    Wait(oneshot::Receiver<T>),
}

impl<T: Default> Pending<T> {
    pub async fn wait(self, on_drop: impl FnOnce() -> T) -> T {
        match self {
            Pending::Ready(t) => t,
            Pending::Wait(rx) => rx.await.unwrap_or_else(|_| on_drop()),
        }
    }
}

#[derive(Debug)]
pub struct Member {
    pub id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    deadline: Instant,
    join_waiter: Option<oneshot::Sender<JoinResult>>,
    sync_waiter: Option<oneshot::Sender<SyncResult>>,
}

impl Member {
    /// The metadata this member gave for `protocol`.
    pub fn metadata(&self, protocol: Option<&str>) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| Some(name.as_str()) == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

/// One group's membership state.
#[derive(Debug)]
pub struct Group {
    pub id: String,
    pub state: State,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: IndexMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, until when they may join.
    pending_ids: std::collections::HashMap<String, Instant>,
    timing: Timing,
    rebalance_deadline: Option<Instant>,
    not_before: Option<Instant>,
}

impl Group {
    pub fn new(id: String, timing: Timing) -> Self {
        Self {
            id,
            state: State::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: IndexMap::new(),
            pending_ids: std::collections::HashMap::new(),
            timing,
            rebalance_deadline: None,
            not_before: None,
        }
    }

    pub fn join(&mut self, args: JoinArgs, now: Instant) -> Pending<JoinResult> {
        let fail = |error| {
            Pending::Ready(JoinResult {
                error,
                ..Default::default()
            })
        };
        let session = Duration::from_millis(u64::try_from(args.session_timeout_ms).unwrap_or(0));
        if session < self.timing.min_session_timeout || session > self.timing.max_session_timeout {
            return fail(errors::INVALID_SESSION_TIMEOUT);
        }
        if args.protocols.is_empty()
            || (!self.members.is_empty()
                && (self.protocol_type.as_deref() != Some(args.protocol_type.as_str())
                    || !self.shares_protocol(&args.protocols)))
        {
            return fail(errors::INCONSISTENT_GROUP_PROTOCOL);
        }
        self.pending_ids.retain(|_, until| *until > now);
        let member_id = if args.member_id.is_empty() {
            let existing = args.group_instance_id.as_ref().and_then(|inst| {
                self.members
                    .values()
                    .find(|m| m.group_instance_id.as_ref() == Some(inst))
                    .map(|m| m.id.clone())
            });
            match existing {
                Some(id) => id,
                None => {
                    let id = format!("{}-{}", args.client_id, uuid::Uuid::new_v4());
                    if args.require_known_member_id && args.group_instance_id.is_none() {
                        self.pending_ids.insert(id.clone(), now + session);
                        return Pending::Ready(JoinResult {
                            error: errors::MEMBER_ID_REQUIRED,
                            member_id: id,
                            ..Default::default()
                        });
                    }
                    id
                }
            }
        } else if self.members.contains_key(&args.member_id)
            || self.pending_ids.remove(&args.member_id).is_some()
        {
            args.member_id.clone()
        } else {
            return fail(errors::UNKNOWN_MEMBER_ID);
        };
        let rebalance = match u64::try_from(args.rebalance_timeout_ms) {
            Ok(ms) if ms > 0 => Duration::from_millis(ms),
            _ => session,
        };
        let (tx, rx) = oneshot::channel();
        let was_empty = self.members.is_empty();
        let member = self
            .members
            .entry(member_id.clone())
            .or_insert_with(|| Member {
                id: member_id.clone(),
                group_instance_id: args.group_instance_id.clone(),
                client_id: args.client_id.clone(),
                client_host: args.client_host.clone(),
                session_timeout: session,
                rebalance_timeout: rebalance,
                protocols: Vec::new(),
                assignment: Bytes::new(),
                deadline: now + session,
                join_waiter: None,
                sync_waiter: None,
            });
        member.protocols = args.protocols;
        member.session_timeout = session;
        member.rebalance_timeout = rebalance;
        member.deadline = now + session;
        if let Some(old) = member.join_waiter.replace(tx) {
            let _ = old.send(JoinResult {
                error: errors::UNKNOWN_MEMBER_ID,
                ..Default::default()
            });
        }
        self.protocol_type = Some(args.protocol_type);
        if self.state != State::PreparingRebalance {
            self.prepare_rebalance(now, was_empty);
        }
        self.try_complete_join(now);
        Pending::Wait(rx)
    }

    fn shares_protocol(&self, protocols: &[(String, Bytes)]) -> bool {
        protocols.iter().any(|(name, _)| {
            self.members
                .values()
                .all(|m| m.protocols.iter().any(|(n, _)| n == name))
        })
    }

    fn prepare_rebalance(&mut self, now: Instant, initial: bool) {
        self.state = State::PreparingRebalance;
        for m in self.members.values_mut() {
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(SyncResult {
                    error: errors::REBALANCE_IN_PROGRESS,
                    ..Default::default()
                });
            }
        }
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.rebalance_deadline = Some(now + timeout);
        self.not_before = initial.then(|| now + self.timing.initial_rebalance_delay.min(timeout));
    }

    fn try_complete_join(&mut self, now: Instant) {
        if self.state != State::PreparingRebalance {
            return;
        }
        let all_joined = self.members.values().all(|m| m.join_waiter.is_some());
        let waited = self.not_before.is_none_or(|t| now >= t);
        let expired = self.rebalance_deadline.is_some_and(|t| now >= t);
        if expired {
            self.members.retain(|_, m| m.join_waiter.is_some());
        } else if !(all_joined && waited) {
            return;
        }
        self.complete_join(now);
    }

    fn complete_join(&mut self, now: Instant) {
        self.generation += 1;
        self.rebalance_deadline = None;
        self.not_before = None;
        if self.members.is_empty() {
            self.state = State::Empty;
            self.protocol = None;
            self.leader = None;
            return;
        }
        self.state = State::CompletingRebalance;
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.protocol = self.select_protocol();
        let leader = self.leader.clone().unwrap_or_default();
        let everyone: Vec<_> = self
            .members
            .values()
            .map(|m| {
                (
                    m.id.clone(),
                    m.group_instance_id.clone(),
                    m.metadata(self.protocol.as_deref()),
                )
            })
            .collect();
        for m in self.members.values_mut() {
            m.assignment = Bytes::new();
            m.deadline = now + m.session_timeout;
            if let Some(w) = m.join_waiter.take() {
                let _ = w.send(JoinResult {
                    error: errors::NONE,
                    generation: self.generation,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol.clone(),
                    leader: leader.clone(),
                    member_id: m.id.clone(),
                    members: if m.id == leader {
                        everyone.clone()
                    } else {
                        Vec::new()
                    },
                });
            }
        }
    }

    /// The protocol every member supports that most members list first (Kafka's vote).
    fn select_protocol(&self) -> Option<String> {
        let candidates: Vec<&String> = self
            .members
            .values()
            .next()?
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == *n))
            })
            .collect();
        let mut votes: HashMap<&String, usize> = HashMap::new();
        for m in self.members.values() {
            if let Some((name, _)) = m.protocols.iter().find(|(p, _)| candidates.contains(&p)) {
                *votes.entry(name).or_default() += 1;
            }
        }
        candidates
            .iter()
            .max_by_key(|c| {
                (
                    votes.get(**c).copied().unwrap_or(0),
                    std::cmp::Reverse(candidates.iter().position(|x| x == *c)),
                )
            })
            .map(|c| (*c).clone())
    }

    pub fn sync(
        &mut self,
        member_id: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> Pending<SyncResult> {
        let fail = |error| {
            Pending::Ready(SyncResult {
                error,
                ..Default::default()
            })
        };
        let Some(member) = self.members.get_mut(member_id) else {
            return fail(errors::UNKNOWN_MEMBER_ID);
        };
        if generation != self.generation {
            return fail(errors::ILLEGAL_GENERATION);
        }
        member.deadline = now + member.session_timeout;
        match self.state {
            State::Empty => fail(errors::UNKNOWN_MEMBER_ID),
            State::PreparingRebalance => fail(errors::REBALANCE_IN_PROGRESS),
            State::Stable => Pending::Ready(self.sync_result(member_id)),
            State::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                member.sync_waiter = Some(tx);
                if self.leader.as_deref() == Some(member_id) {
                    for (id, assignment) in assignments {
                        if let Some(m) = self.members.get_mut(&id) {
                            m.assignment = assignment;
                        }
                    }
                    self.state = State::Stable;
                    let ids: Vec<String> = self.members.keys().cloned().collect();
                    for id in ids {
                        let result = self.sync_result(&id);
                        if let Some(w) =
                            self.members.get_mut(&id).and_then(|m| m.sync_waiter.take())
                        {
                            let _ = w.send(result);
                        }
                    }
                }
                Pending::Wait(rx)
            }
        }
    }

    fn sync_result(&self, member_id: &str) -> SyncResult {
        SyncResult {
            error: errors::NONE,
            assignment: self
                .members
                .get(member_id)
                .map(|m| m.assignment.clone())
                .unwrap_or_default(),
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
        }
    }

    pub fn heartbeat(&mut self, member_id: &str, generation: i32, now: Instant) -> i16 {
        let state = self.state;
        let Some(member) = self.members.get_mut(member_id) else {
            return errors::UNKNOWN_MEMBER_ID;
        };
        member.deadline = now + member.session_timeout;
        if state == State::PreparingRebalance {
            return errors::REBALANCE_IN_PROGRESS;
        }
        if generation != self.generation {
            return errors::ILLEGAL_GENERATION;
        }
        errors::NONE
    }

    pub fn leave(&mut self, member_id: &str, now: Instant) -> i16 {
        let Some(mut member) = self.members.shift_remove(member_id) else {
            return errors::UNKNOWN_MEMBER_ID;
        };
        if let Some(w) = member.join_waiter.take() {
            let _ = w.send(JoinResult {
                error: errors::UNKNOWN_MEMBER_ID,
                ..Default::default()
            });
        }
        if let Some(w) = member.sync_waiter.take() {
            let _ = w.send(SyncResult {
                error: errors::UNKNOWN_MEMBER_ID,
                ..Default::default()
            });
        }
        self.member_gone(now);
        errors::NONE
    }

    fn member_gone(&mut self, now: Instant) {
        match self.state {
            State::Stable | State::CompletingRebalance => self.prepare_rebalance(now, false),
            State::Empty => {}
            State::PreparingRebalance => {}
        }
        self.try_complete_join(now);
    }

    /// Whether a commit by `member_id` at `generation` is allowed; Kafka's rules.
    pub fn check_commit(&mut self, member_id: &str, generation: i32, now: Instant) -> i16 {
        if generation < 0 && member_id.is_empty() {
            return if self.members.is_empty() {
                errors::NONE
            } else {
                errors::ILLEGAL_GENERATION
            };
        }
        let state = self.state;
        let Some(member) = self.members.get_mut(member_id) else {
            return errors::UNKNOWN_MEMBER_ID;
        };
        member.deadline = now + member.session_timeout;
        if state == State::CompletingRebalance {
            return errors::REBALANCE_IN_PROGRESS;
        }
        if generation != self.generation {
            return errors::ILLEGAL_GENERATION;
        }
        errors::NONE
    }

    /// Expire members whose sessions ran out and finish rebalances whose time is up.
    pub fn tick(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.join_waiter.is_none() && m.sync_waiter.is_none() && m.deadline <= now)
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::debug!(group = %self.id, member = %id, "session expired");
            self.leave(&id, now);
        }
        self.try_complete_join(now);
    }

    /// When `tick` next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let members = self
            .members
            .values()
            .filter(|m| m.join_waiter.is_none() && m.sync_waiter.is_none())
            .map(|m| m.deadline);
        let rebalance = if self.state == State::PreparingRebalance {
            [self.rebalance_deadline, self.not_before]
        } else {
            [None, None]
        };
        members.chain(rebalance.into_iter().flatten()).min()
    }
}

/// A group plus the wake-up for its timer task.
pub struct GroupHandle {
    pub group: Mutex<Group>,
    wake: Notify,
}

impl GroupHandle {
    /// Run `f` on the group, then let the timer task recompute its deadline.
    pub fn with<T>(&self, f: impl FnOnce(&mut Group, Instant) -> T) -> T {
        let out = f(&mut self.group.lock(), Instant::now());
        self.wake.notify_one();
        out
    }
}

/// All groups this broker coordinates.
pub struct Coordinator {
    timing: Timing,
    groups: Mutex<HashMap<String, Arc<GroupHandle>>>,
}

impl Coordinator {
    pub fn new(timing: Timing) -> Self {
        Self {
            timing,
            groups: Mutex::new(HashMap::new()),
        }
    }

    /// The group, created (with its timer task) if it does not exist.
    pub fn group(&self, id: &str) -> Arc<GroupHandle> {
        let mut groups = self.groups.lock();
        if let Some(g) = groups.get(id) {
            return g.clone();
        }
        let handle = Arc::new(GroupHandle {
            group: Mutex::new(Group::new(id.to_owned(), self.timing)),
            wake: Notify::new(),
        });
        groups.insert(id.to_owned(), handle.clone());
        tokio::spawn(run_timer(Arc::downgrade(&handle)));
        handle
    }

    pub fn get(&self, id: &str) -> Option<Arc<GroupHandle>> {
        self.groups.lock().get(id).cloned()
    }

    pub fn list(&self) -> Vec<(String, State, Option<String>)> {
        let groups: Vec<_> = self.groups.lock().values().cloned().collect();
        groups
            .iter()
            .map(|g| {
                let g = g.group.lock();
                (g.id.clone(), g.state, g.protocol_type.clone())
            })
            .collect()
    }

    /// Forget an empty group; `NON_EMPTY_GROUP` if it has members.
    pub fn remove_if_empty(&self, id: &str) -> i16 {
        let mut groups = self.groups.lock();
        if let Some(g) = groups.get(id) {
            if !g.group.lock().members.is_empty() {
                return errors::NON_EMPTY_GROUP;
            }
            if let Some(g) = groups.remove(id) {
                g.wake.notify_one();
            }
        }
        errors::NONE
    }
}

async fn run_timer(handle: Weak<GroupHandle>) {
    loop {
        let Some(h) = handle.upgrade() else { return };
        let deadline = h.group.lock().next_deadline();
        let woken = h.wake.notified();
        tokio::pin!(woken);
        match deadline {
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(d) => {}
                    _ = &mut woken => {}
                }
            }
            None => woken.await,
        }
        let now = Instant::now();
        h.group.lock().tick(now);
        if Arc::strong_count(&h) == 1 {
            return;
        }
    }
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
