//! The remote backend places objects exactly as `dotdo_shard::rendezvous` does (the function
//! is repeated in dotdo-backend because dotdo-shard depends on it).

use dotdo_backend::ObjectId;
use dotdo_backend::remote::placement;

#[test]
fn remote_placement_agrees_with_the_shard_crate() {
    let nodes = [
        "http://dotdo-store-0.dotdo-store:7700",
        "http://dotdo-store-1.dotdo-store:7700",
        "http://dotdo-store-2.dotdo-store:7700",
    ];
    for i in 0..5000 {
        let o = ObjectId::new(format!("ns{}", i % 7), format!("object-{i}"));
        let ours = placement::rendezvous(&o, &nodes).map(|i| nodes[i]);
        let theirs = dotdo_shard::rendezvous(&o, &nodes).copied();
        assert_eq!(ours, theirs, "{o}");
    }
}
