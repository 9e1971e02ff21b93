//! The remote backend's end-to-end tests' helpers: the nodes (`dotdo store` processes and a
//! real workerd running deploy/cloudflare) come from the harness, plus a client on them.

#![allow(dead_code)]

use std::sync::Arc;

use dotdo_backend::remote::{RemoteBackend, RemoteConfig};

pub use dotdo_e2e::STORE_SECRET as SECRET;
#[allow(unused_imports)] // each test file that includes this module uses some of them
pub use dotdo_e2e::{Store, Workerd, free_addr, workerd_bin};

pub fn client(urls: Vec<String>) -> Arc<RemoteBackend> {
    RemoteBackend::open(RemoteConfig {
        breaker_cooldown_ms: 200,
        ..RemoteConfig::new(urls, SECRET)
    })
    .expect("remote backend")
}
