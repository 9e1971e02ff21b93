//! Coordinator rules under paused tokio time.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::{Instant, advance};

use super::*;

fn timing() -> Timing {
    Timing {
        initial_rebalance_delay: Duration::from_millis(3000),
        min_session_timeout: Duration::from_millis(6000),
        max_session_timeout: Duration::from_secs(1800),
    }
}

fn args(member_id: &str) -> JoinArgs {
    JoinArgs {
        member_id: member_id.into(),
        client_id: "c".into(),
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(b"meta"))],
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        ..Default::default()
    }
}

async fn settle<T>(p: Pending<T>) -> Option<T> {
    match p {
        Pending::Ready(t) => Some(t),
        Pending::Wait(mut rx) => rx.try_recv().ok(),
    }
}

/// Join with a fresh member id; returns the result once the group's timer finished it.
async fn join(g: &std::sync::Arc<GroupHandle>, a: JoinArgs) -> JoinResult {
    let p = g.with(|g, now| g.join(a, now));
    match p {
        Pending::Ready(r) => r,
        Pending::Wait(rx) => rx.await.expect("join answered"),
    }
}

#[tokio::test(start_paused = true)]
async fn first_join_waits_for_the_initial_delay_then_leads() {
    let c = Coordinator::new(timing());
    let g = c.group("g");
    let start = Instant::now();
    let r = join(&g, args("")).await;
    assert_eq!(r.error, errors::NONE);
    assert_eq!(r.generation, 1);
    assert_eq!(r.leader, r.member_id);
    assert_eq!(r.members.len(), 1);
    assert!(Instant::now() - start >= Duration::from_millis(3000));
    assert_eq!(g.group.lock().state, State::CompletingRebalance);
}

#[tokio::test(start_paused = true)]
async fn two_members_rebalance_and_sync_assignments() {
    let c = Coordinator::new(timing());
    let g = c.group("g");
    let (a, b) = tokio::join!(join(&g, args("")), join(&g, args("")));
    assert_eq!((a.error, b.error), (errors::NONE, errors::NONE));
    assert_eq!(a.generation, b.generation);
    let (leader, follower) = if a.leader == a.member_id {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(leader.members.len(), 2);
    assert!(follower.members.is_empty());
    let gen_ = leader.generation;
    let f = g.with(|g, now| g.sync(&follower.member_id, gen_, vec![], now));
    let assignments = vec![
        (leader.member_id.clone(), Bytes::from_static(b"L")),
        (follower.member_id.clone(), Bytes::from_static(b"F")),
    ];
    let l = g.with(|g, now| g.sync(&leader.member_id, gen_, assignments, now));
    let l = settle(l).await.expect("leader answered");
    let f = settle(f).await.expect("follower answered");
    assert_eq!(l.assignment, Bytes::from_static(b"L"));
    assert_eq!(f.assignment, Bytes::from_static(b"F"));
    assert_eq!(g.group.lock().state, State::Stable);
    assert_eq!(
        g.with(|g, now| g.heartbeat(&follower.member_id, gen_, now)),
        errors::NONE
    );
    assert_eq!(
        g.with(|g, now| g.heartbeat(&follower.member_id, gen_ - 1, now)),
        errors::ILLEGAL_GENERATION
    );
    assert_eq!(
        g.with(|g, now| g.heartbeat("nobody", gen_, now)),
        errors::UNKNOWN_MEMBER_ID
    );
}

#[tokio::test(start_paused = true)]
async fn leaving_member_triggers_rebalance_for_the_rest() {
    let c = Coordinator::new(timing());
    let g = c.group("g");
    let (a, b) = tokio::join!(join(&g, args("")), join(&g, args("")));
    let gen1 = a.generation;
    assert_eq!(g.with(|g, now| g.leave(&a.member_id, now)), errors::NONE);
    assert_eq!(g.group.lock().state, State::PreparingRebalance);
    assert_eq!(
        g.with(|g, now| g.heartbeat(&b.member_id, gen1, now)),
        errors::REBALANCE_IN_PROGRESS
    );
    let again = join(&g, args(&b.member_id)).await;
    assert_eq!(again.generation, gen1 + 1);
    assert_eq!(again.leader, b.member_id);
    assert_eq!(again.members.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn silent_member_expires_after_its_session_timeout() {
    let c = Coordinator::new(timing());
    let g = c.group("g");
    let (a, b) = tokio::join!(join(&g, args("")), join(&g, args("")));
    let gen1 = a.generation;
    // Only `b` heartbeats; `a` goes silent.
    for _ in 0..4 {
        advance(Duration::from_secs(3)).await;
        let code = g.with(|g, now| g.heartbeat(&b.member_id, gen1, now));
        assert!(code == errors::NONE || code == errors::REBALANCE_IN_PROGRESS);
    }
    tokio::task::yield_now().await;
    assert!(!g.group.lock().members.contains_key(&a.member_id));
    assert_eq!(
        g.with(|g, now| g.heartbeat(&b.member_id, gen1, now)),
        errors::REBALANCE_IN_PROGRESS
    );
}

#[tokio::test(start_paused = true)]
async fn member_that_does_not_rejoin_is_dropped_at_the_rebalance_timeout() {
    let c = Coordinator::new(timing());
    let g = c.group("g");
    let (a, b) = tokio::join!(join(&g, args("")), join(&g, args("")));
    // `a` rejoins (a new rebalance); `b` keeps heartbeating but never rejoins.
    let pending = g.with(|g, now| g.join(args(&a.member_id), now));
    let keep_alive = async {
        for _ in 0..20 {
            advance(Duration::from_secs(2)).await;
            g.with(|g, now| g.heartbeat(&b.member_id, b.generation, now));
        }
    };
    let (r, _) = tokio::join!(async { settle_wait(pending).await }, keep_alive);
    assert_eq!(r.error, errors::NONE);
    assert_eq!(r.generation, a.generation + 1);
    assert_eq!(r.members.len(), 1);
    assert!(!g.group.lock().members.contains_key(&b.member_id));
}

async fn settle_wait<T>(p: Pending<T>) -> T {
    match p {
        Pending::Ready(t) => t,
        Pending::Wait(rx) => rx.await.expect("answered"),
    }
}

#[tokio::test(start_paused = true)]
async fn bad_joins_get_kafka_errors() {
    let c = Coordinator::new(timing());
    let g = c.group("g");
    let mut short = args("");
    short.session_timeout_ms = 100;
    assert_eq!(join(&g, short).await.error, errors::INVALID_SESSION_TIMEOUT);
    assert_eq!(
        join(&g, args("unknown-member")).await.error,
        errors::UNKNOWN_MEMBER_ID
    );
    let first = join(&g, args("")).await;
    assert_eq!(first.error, errors::NONE);
    let mut other = args("");
    other.protocols = vec![("roundrobin-only".into(), Bytes::new())];
    assert_eq!(
        join(&g, other).await.error,
        errors::INCONSISTENT_GROUP_PROTOCOL
    );
}

#[tokio::test(start_paused = true)]
async fn commits_follow_kafka_generation_rules() {
    let c = Coordinator::new(timing());
    let g = c.group("g");
    assert_eq!(g.with(|g, now| g.check_commit("", -1, now)), errors::NONE);
    let a = join(&g, args("")).await;
    assert_eq!(
        g.with(|g, now| g.check_commit(&a.member_id, a.generation, now)),
        errors::REBALANCE_IN_PROGRESS
    );
    let s = g.with(|g, now| g.sync(&a.member_id, a.generation, vec![], now));
    assert_eq!(settle(s).await.map(|r| r.error), Some(errors::NONE));
    assert_eq!(
        g.with(|g, now| g.check_commit(&a.member_id, a.generation, now)),
        errors::NONE
    );
    assert_eq!(
        g.with(|g, now| g.check_commit(&a.member_id, a.generation + 5, now)),
        errors::ILLEGAL_GENERATION
    );
    assert_eq!(
        g.with(|g, now| g.check_commit("", -1, now)),
        errors::ILLEGAL_GENERATION
    );
}

#[tokio::test(start_paused = true)]
async fn v4_join_without_member_id_gets_one_and_must_rejoin_with_it() {
    let c = Coordinator::new(timing());
    let g = c.group("g");
    let first = join(
        &g,
        JoinArgs {
            require_known_member_id: true,
            ..args("")
        },
    )
    .await;
    assert_eq!(first.error, errors::MEMBER_ID_REQUIRED);
    assert!(!first.member_id.is_empty());
    assert!(g.group.lock().members.is_empty());
    let again = join(
        &g,
        JoinArgs {
            require_known_member_id: true,
            ..args(&first.member_id)
        },
    )
    .await;
    assert_eq!(again.error, errors::NONE);
    assert_eq!(again.member_id, first.member_id);
    // An id never handed out is refused.
    let stranger = join(&g, args("made-up")).await;
    assert_eq!(stranger.error, errors::UNKNOWN_MEMBER_ID);
}
