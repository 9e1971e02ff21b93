//! The Durable Object contract against a real workerd running the dotdo worker.

mod remote_support;

use dotdo_backend::remote::conformance;
use remote_support::{Workerd, client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_on_workerd() {
    let w = Workerd::start();
    let remote = client(vec![w.url()]);
    conformance::all(remote.as_ref(), "e2e/workerd").await;
}
