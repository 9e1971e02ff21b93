//! The backend bench workload (durable single-row insert batches, concurrent writers) on the
//! remote backend, side by side with the embedded backend in one run; prints the ratios.
//!
//! Runs: embedded in-process; two `dotdo store` processes (the gateway's remote client over
//! one multiplexed WebSocket per store); workerd running deploy/cloudflare. Needs the release
//! `dotdo` binary and tests/node's workerd:
//!
//!   cargo build --release -p dotdo && (cd tests/node && npm install)
//!   cargo bench -p dotdo-benches --bench remote
//!
//! `DOTDO_BIN` and `WORKERD_BIN` override where they are looked for; `BENCH_SECONDS` sets
//! the time per scenario (default 5).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench that cannot set up should stop

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dotdo_backend::embedded::{EmbeddedBackend, EmbeddedConfig};
use dotdo_backend::remote::{RemoteBackend, RemoteConfig};
use dotdo_backend::{ObjectId, SharedBackend, Statement};

const SECRET: &str = "bench-secret";
const CREATE: &str =
    "CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY, writer INTEGER, v BLOB)";
const INSERT: &str = "INSERT INTO kv (writer, v) VALUES (?1, ?2)";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Batches per second of `writers` tasks inserting one row per batch into `objects` objects.
async fn run(backend: SharedBackend, ns: &str, writers: u64, objects: u64, secs: u64) -> f64 {
    let ids: Vec<ObjectId> = (0..objects)
        .map(|i| ObjectId::new(ns, format!("o{i}")))
        .collect();
    for id in &ids {
        backend
            .execute(id, vec![Statement::new(CREATE)])
            .await
            .unwrap();
    }
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let warmup = Duration::from_secs(1);
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (backend, done, stop) = (backend.clone(), done.clone(), stop.clone());
            let id = ids[(w % objects) as usize].clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let stmt = Statement::new(INSERT).bind(w as i64).bind(vec![0u8; 100]);
                    backend.execute(&id, vec![stmt]).await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(warmup).await;
    let (start_n, started) = (done.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let n = done.load(Ordering::Relaxed) - start_n;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    rate
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dotdo_bin() -> PathBuf {
    std::env::var_os("DOTDO_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root().join("target"));
            target.join("release/dotdo")
        })
}

fn start_store(dir: &Path) -> (Proc, String) {
    let config = dir.join("store.toml");
    std::fs::write(
        &config,
        format!(
            "[backend.embedded]\ndata_dir = {:?}\n[store]\nlisten = \"127.0.0.1:0\"\nsecret = \"{SECRET}\"\n[log]\nfilter = \"warn\"\n",
            dir.join("data").display().to_string()
        ),
    )
    .unwrap();
    let bin = dotdo_bin();
    assert!(
        bin.exists(),
        "{} missing: cargo build --release -p dotdo",
        bin.display()
    );
    let mut child = Command::new(bin)
        .args(["store", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let json = line.trim().strip_prefix("DOTDO_LISTENING ").unwrap();
    let map: std::collections::HashMap<String, String> = serde_json::from_str(json).unwrap();
    (Proc(child), format!("http://{}", map["store"]))
}

fn start_workerd(dir: &Path) -> (Proc, String) {
    let bin = std::env::var_os("WORKERD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("tests/node/node_modules/.bin/workerd"));
    assert!(
        bin.exists(),
        "{} missing: npm install in tests/node",
        bin.display()
    );
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    std::fs::create_dir_all(dir.join("do")).unwrap();
    let child = Command::new(bin)
        .arg("serve")
        .arg(root().join("deploy/cloudflare/workerd.capnp"))
        .arg("--directory-path")
        .arg(format!("do-storage={}", dir.join("do").display()))
        .arg("--socket-addr")
        .arg(format!("http={addr}"))
        .env("DOTDO_SECRET", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while TcpStream::connect(addr).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    (Proc(child), format!("http://{addr}"))
}

fn remote(nodes: Vec<String>) -> SharedBackend {
    RemoteBackend::open(RemoteConfig::new(nodes, SECRET)).unwrap()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then only check setup.
    let benching = std::env::args().any(|a| a == "--bench");
    let secs: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if benching { 5 } else { 1 });
    if !benching {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows: Vec<(String, f64)> = Vec::new();
    rt.block_on(async {
        for (writers, objects) in [(64, 1), (64, 16)] {
            let dir = tempfile::tempdir().unwrap();
            let embedded: SharedBackend =
                EmbeddedBackend::open(EmbeddedConfig::with_data_dir(dir.path())).unwrap();
            let r = run(embedded.clone(), "bench", writers, objects, secs).await;
            embedded.shutdown().await;
            rows.push((format!("embedded {writers} writers / {objects} objects"), r));

            let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let (_pa, ua) = start_store(a.path());
            let (_pb, ub) = start_store(b.path());
            let r = run(remote(vec![ua, ub]), "bench", writers, objects, secs).await;
            rows.push((
                format!("2 dotdo stores {writers} writers / {objects} objects"),
                r,
            ));

            let w =
                tempfile::tempdir_in("/dev/shm").unwrap_or_else(|_| tempfile::tempdir().unwrap());
            let (_pw, uw) = start_workerd(w.path());
            let r = run(remote(vec![uw]), "bench", writers, objects, secs).await;
            rows.push((format!("workerd {writers} writers / {objects} objects"), r));
        }
    });
    println!("\n{:<48} {:>12}", "scenario", "batches/s");
    for (name, r) in &rows {
        println!("{name:<48} {r:>12.0}");
    }
    let rate = |p: &str| rows.iter().find(|(n, _)| n == p).map(|(_, r)| *r).unwrap();
    for objects in [1, 16] {
        let e = rate(&format!("embedded 64 writers / {objects} objects"));
        let s = rate(&format!("2 dotdo stores 64 writers / {objects} objects"));
        println!(
            "stores / embedded at 64 writers, {objects} objects: {:.2}x (bar >= 0.5x)",
            s / e
        );
    }
    let w = rate("workerd 64 writers / 16 objects");
    println!("workerd 64 writers / 16 objects: {w:.0} batches/s (bar >= 9000)");
}
