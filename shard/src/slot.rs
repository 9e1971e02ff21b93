//! Redis Cluster key slots: CRC16 (XMODEM) of the key or its `{hash tag}`, mod 16384.

/// Number of Redis Cluster hash slots.
pub const SLOTS: u16 = 16384;

const fn crc16_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC16_TABLE: [u16; 256] = crc16_table();

/// CRC16-CCITT (XMODEM), as Redis Cluster uses it.
pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ CRC16_TABLE[usize::from(((crc >> 8) as u8) ^ b)]
    })
}

/// The part of `key` that is hashed: the first `{…}` if it is non-empty, else the key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{')
        && let Some(len) = key[open + 1..].iter().position(|&b| b == b'}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

/// The Redis Cluster slot of `key`, as `CLUSTER KEYSLOT` answers it.
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (SLOTS - 1)
}

/// Slots spread over a fixed number of shard objects in contiguous ranges, as a cluster
/// spreads them over masters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotMap {
    shards: u16,
}

impl SlotMap {
    /// `shards` is clamped to 1..=16384.
    pub fn new(shards: u32) -> Self {
        Self {
            shards: shards.clamp(1, u32::from(SLOTS)) as u16,
        }
    }

    pub fn shards(&self) -> u16 {
        self.shards
    }

    pub fn shard_of_slot(&self, slot: u16) -> u16 {
        ((u32::from(slot % SLOTS) * u32::from(self.shards)) / u32::from(SLOTS)) as u16
    }

    pub fn shard_of_key(&self, key: &[u8]) -> u16 {
        self.shard_of_slot(key_slot(key))
    }

    /// The slots a shard owns, as a half-open range.
    pub fn slots_of_shard(&self, shard: u16) -> std::ops::Range<u16> {
        let n = u32::from(self.shards);
        let s = u32::from(shard.min(self.shards - 1));
        let start = (s * u32::from(SLOTS)).div_ceil(n);
        let end = ((s + 1) * u32::from(SLOTS)).div_ceil(n);
        start as u16..end as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_the_redis_cluster_spec_vector() {
        // From the Redis Cluster specification: the CRC16 of "123456789" is 0x31C3.
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn key_slots_match_redis() {
        // Answers of `CLUSTER KEYSLOT` on redis-server 7.
        for (key, slot) in [
            ("foo", 12182),
            ("bar", 5061),
            ("hello", 866),
            ("somekey", 11058),
            ("{user1000}.following", 3443),
            ("{user1000}.followers", 3443),
            ("foo{}{bar}", 8363),
            ("foo{{bar}}zap", 4015),
            ("foo{bar}{zap}", 5061),
            ("", 0),
        ] {
            assert_eq!(key_slot(key.as_bytes()), slot, "{key}");
        }
    }

    #[test]
    fn slot_ranges_cover_every_slot_once() {
        for shards in [1u32, 3, 16, 1000, 16384] {
            let map = SlotMap::new(shards);
            let mut next = 0u16;
            for shard in 0..map.shards() {
                let range = map.slots_of_shard(shard);
                assert_eq!(range.start, next);
                for slot in range.clone().step_by(97) {
                    assert_eq!(map.shard_of_slot(slot), shard);
                }
                next = range.end;
            }
            assert_eq!(next, SLOTS);
        }
    }
}
