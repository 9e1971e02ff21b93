//! Where keys live: Redis Cluster slots, stable hashing, rendezvous placement, scatter-gather.

pub mod placement;
pub mod scatter;
pub mod slot;

pub use placement::rendezvous;
pub use scatter::{merge_sorted, scatter_gather};
pub use slot::{SLOTS, SlotMap, crc16, key_slot};

pub use dotdo_backend::placement::stable_hash;

/// The shard, of `shards`, that a hash falls in: jump consistent hashing, so growing the
/// shard count from n to n+1 moves only 1/(n+1) of the keys.
pub fn jump_shard(hash: u64, shards: u32) -> u32 {
    let shards = i64::from(shards.max(1));
    let (mut b, mut j, mut key) = (-1i64, 0i64, hash);
    while j < shards {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

/// The shard of `shards` that owns `key`, for keys that are not Redis keys.
pub fn shard_of(key: &[u8], shards: u32) -> u32 {
    jump_shard(stable_hash(key), shards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_hash_is_pinned() {
        // Changing these values would move every stored key: never do it.
        assert_eq!(stable_hash(b""), 0x2d06_8005_38d3_94c2);
        assert_eq!(stable_hash(b"dotdo"), stable_hash(b"dotdo"));
    }

    #[test]
    fn jump_shard_is_in_range_and_moves_little() {
        let keys: Vec<u64> = (0..10_000u64)
            .map(|i| stable_hash(&i.to_le_bytes()))
            .collect();
        for &k in &keys {
            assert!(jump_shard(k, 7) < 7);
            assert_eq!(jump_shard(k, 1), 0);
        }
        let moved = keys
            .iter()
            .filter(|&&k| jump_shard(k, 10) != jump_shard(k, 11))
            .count();
        // Ideal is 1/11 of the keys (~909).
        assert!((700..1100).contains(&moved), "moved {moved}");
    }
}
