//! Rendezvous (highest random weight) placement of objects on backend nodes: adding or
//! removing a node moves only the objects that node wins or held.

use dotdo_backend::ObjectId;

use crate::stable_hash;

/// The node of `nodes` that owns `object`, or `None` if there are no nodes.
pub fn rendezvous<'a, N: AsRef<str>>(object: &ObjectId, nodes: &'a [N]) -> Option<&'a N> {
    nodes
        .iter()
        .max_by(|a, b| weight(a.as_ref(), object).cmp(&weight(b.as_ref(), object)))
}

fn weight<'n>(node: &'n str, object: &ObjectId) -> (u64, &'n str) {
    let mut key = Vec::with_capacity(node.len() + object.namespace.len() + object.name.len() + 2);
    for part in [node, &object.namespace, &object.name] {
        key.extend_from_slice(part.as_bytes());
        key.push(0);
    }
    // The node name breaks (astronomically unlikely) ties the same way everywhere.
    (stable_hash(&key), node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_a_node_moves_only_its_share() {
        let before = ["store-0", "store-1", "store-2"];
        let after = ["store-0", "store-1", "store-2", "store-3"];
        let objects: Vec<ObjectId> = (0..4000)
            .map(|i| ObjectId::new("redis/0", i.to_string()))
            .collect();
        let mut moved = 0;
        for o in &objects {
            let (a, b) = (
                rendezvous(o, &before).unwrap(),
                rendezvous(o, &after).unwrap(),
            );
            if a != b {
                assert_eq!(*b, "store-3", "objects move only to the new node");
                moved += 1;
            }
        }
        assert!((800..1200).contains(&moved), "moved {moved} of 4000");
        assert!(rendezvous::<&str>(&objects[0], &[]).is_none());
    }
}
