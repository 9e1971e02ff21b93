//! Stable hashing and rendezvous placement of objects on nodes, used by the remote backend
//! and re-exported by dotdo-shard: adding or removing a node moves only the objects that
//! node wins or held.

use crate::ObjectId;

/// A hash of `bytes` that never changes between versions, platforms or runs: object
/// placement and on-disk sharding depend on it. (XXH3-64, seed 0.)
pub fn stable_hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// Index of the node in `nodes` that owns `object` (highest XXH3 weight of
/// `node\0namespace\0name\0`, the node name breaking ties), `None` if there are no nodes.
pub fn rendezvous<N: AsRef<str>>(object: &ObjectId, nodes: &[N]) -> Option<usize> {
    (0..nodes.len())
        .max_by(|&a, &b| weight(nodes[a].as_ref(), object).cmp(&weight(nodes[b].as_ref(), object)))
}

fn weight<'n>(node: &'n str, object: &ObjectId) -> (u64, &'n str) {
    let mut key = Vec::with_capacity(node.len() + object.namespace.len() + object.name.len() + 3);
    for part in [node, &object.namespace, &object.name] {
        key.extend_from_slice(part.as_bytes());
        key.push(0);
    }
    (stable_hash(&key), node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_a_node_moves_only_objects_to_it() {
        let three = ["http://a:1", "http://b:1", "http://c:1"];
        let four = ["http://a:1", "http://b:1", "http://c:1", "http://d:1"];
        let mut moved = 0;
        for i in 0..2000 {
            let o = ObjectId::new("ns", format!("o{i}"));
            let before = rendezvous(&o, &three).map(|i| three[i]);
            let after = rendezvous(&o, &four).map(|i| four[i]);
            if before != after {
                assert_eq!(after, Some("http://d:1"));
                moved += 1;
            }
        }
        assert!((300..700).contains(&moved), "moved {moved}");
        assert_eq!(rendezvous::<&str>(&ObjectId::new("a", "b"), &[]), None);
    }
}
