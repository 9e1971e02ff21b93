//! Key hashing costs: Redis Cluster slots, stable hash, rendezvous placement.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use dotdo_backend::ObjectId;
use dotdo_shard::{SlotMap, key_slot, rendezvous, stable_hash};

fn hashing(c: &mut Criterion) {
    let map = SlotMap::new(16);
    c.bench_function("key_slot 16-byte key", |b| {
        b.iter(|| key_slot(black_box(b"user:1000:profile")))
    });
    c.bench_function("key_slot with hash tag", |b| {
        b.iter(|| key_slot(black_box(b"{user1000}.following")))
    });
    c.bench_function("slot map shard_of_key", |b| {
        b.iter(|| map.shard_of_key(black_box(b"user:1000:profile")))
    });
    c.bench_function("stable_hash 64 bytes", |b| {
        b.iter(|| stable_hash(black_box(&[7u8; 64])))
    });
    let nodes: Vec<String> = (0..8).map(|i| format!("store-{i}")).collect();
    let object = ObjectId::new("redis/0", "shard-7");
    c.bench_function("rendezvous over 8 nodes", |b| {
        b.iter(|| rendezvous(black_box(&object), &nodes))
    });
}

criterion_group!(benches, hashing);
criterion_main!(benches);
