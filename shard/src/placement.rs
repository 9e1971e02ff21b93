//! Rendezvous (highest random weight) placement of objects on backend nodes: adding or
//! removing a node moves only the objects that node wins or held.

use dotdo_backend::ObjectId;

/// The node of `nodes` that owns `object`, or `None` if there are no nodes. The same
/// placement the remote backend uses (`dotdo_backend::placement`).
pub fn rendezvous<'a, N: AsRef<str>>(object: &ObjectId, nodes: &'a [N]) -> Option<&'a N> {
    dotdo_backend::placement::rendezvous(object, nodes).map(|i| &nodes[i])
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
