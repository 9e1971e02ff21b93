//! `dotdo serve` configured with `[backend] kind = "remote"` in front of two `dotdo store`
//! processes: it starts, reports ready, and `check-config` refuses a bad node list.

mod remote_support;

use std::io::{Read, Write};
use std::net::TcpStream;

use dotdo_e2e::{Dotdo, dotdo_bin};
use remote_support::{SECRET, Store};

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn the_gateway_runs_on_store_nodes() {
    let (a, b) = (Store::start(), Store::start());
    let d = Dotdo::start(&format!(
        "[backend]\nkind = \"remote\"\n[backend.remote]\nnodes = [\"{}\", \"{}\"]\nsecret = \"{SECRET}\"\n",
        a.url(),
        b.url()
    ));
    let ready = get(d.addr("admin"), "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}\n{}", d.log());
    for store in [&a, &b] {
        assert!(
            ready.contains(&format!("node {}: up", store.url())),
            "{ready}"
        );
    }
}

/// `/readyz` pings the nodes: one store down leaves the gateway ready (it still serves the
/// objects on the other) and names the node that is down; with every store down it is not
/// ready.
#[test]
fn readyz_probes_the_store_nodes() {
    let (mut a, mut b) = (Store::start(), Store::start());
    let d = Dotdo::start(&format!(
        "[backend]\nkind = \"remote\"\n[backend.remote]\nnodes = [\"{}\", \"{}\"]\nsecret = \"{SECRET}\"\n",
        a.url(),
        b.url()
    ));
    a.kill();
    let ready = get(d.addr("admin"), "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(
        ready.contains(&format!("node {}: down", a.url())),
        "{ready}"
    );
    assert!(ready.contains(&format!("node {}: up", b.url())), "{ready}");
    b.kill();
    let ready = get(d.addr("admin"), "/readyz");
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    a.restart();
    b.restart();
    let mut tries = 0;
    // The breaker may hold a node down for its cooldown after the restart.
    while !get(d.addr("admin"), "/readyz").contains(&format!("node {}: up", a.url())) {
        tries += 1;
        assert!(tries < 100, "store a never came back");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn check_config_refuses_a_remote_backend_without_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dotdo.toml");
    std::fs::write(&config, "[backend]\nkind = \"remote\"\n").unwrap();
    let out = std::process::Command::new(dotdo_bin())
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no nodes configured"), "{err}");
}
