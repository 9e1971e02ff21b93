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
//! the time per scenario (default 5); `BENCH_ONLY=embedded,store,workerd` picks backends and
//! `BENCH_OBJECTS=1,16` the object counts; `BENCH_DATA=/dev/shm` puts the embedded and store
//! data there (to see CPU cost alone, with fsync made free).
//!
//! Besides batches per second, each row gives the CPU time spent per batch by every process
//! involved (this one and the nodes), which moves far less than throughput when other work
//! loads the machine.

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

/// CPU time (user + system) used so far by process `pid`, or this process for `None`.
fn cpu_time(pid: Option<u32>) -> Duration {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let Ok(stat) = std::fs::read_to_string(path) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces) start at field 3; utime and
    // stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

fn cpu_of(pids: &[u32]) -> Duration {
    cpu_time(None) + pids.iter().map(|p| cpu_time(Some(*p))).sum::<Duration>()
}

/// What one scenario measured.
struct Measured {
    rate: f64,
    /// CPU time of every process involved, per batch.
    cpu_per_batch: Duration,
}

/// Batches per second of `writers` tasks inserting one row per batch into `objects` objects,
/// and the CPU that cost in this process and in `pids`.
async fn run(
    backend: SharedBackend,
    pids: &[u32],
    writers: u64,
    objects: u64,
    secs: u64,
) -> Measured {
    let ns = "bench";
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
    let (start_n, started, start_cpu) =
        (done.load(Ordering::Relaxed), Instant::now(), cpu_of(pids));
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let n = done.load(Ordering::Relaxed) - start_n;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let cpu = cpu_of(pids).saturating_sub(start_cpu);
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    Measured {
        rate,
        cpu_per_batch: cpu / n.max(1) as u32,
    }
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

/// A fresh directory for embedded or store data: under `BENCH_DATA`, else the system's.
fn data_dir() -> tempfile::TempDir {
    match std::env::var_os("BENCH_DATA") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
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
    let only = std::env::var("BENCH_ONLY").unwrap_or_else(|_| "embedded,store,workerd".into());
    let wanted = |b: &str| only.split(',').any(|o| o.trim() == b);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows: Vec<(String, Measured)> = Vec::new();
    rt.block_on(async {
        let objects_list = std::env::var("BENCH_OBJECTS").unwrap_or_else(|_| "1,16".into());
        let objects_list: Vec<u64> = objects_list
            .split(',')
            .filter_map(|o| o.trim().parse().ok())
            .collect();
        for (writers, objects) in objects_list.into_iter().map(|o| (64, o)) {
            if wanted("embedded") {
                let dir = data_dir();
                let embedded: SharedBackend =
                    EmbeddedBackend::open(EmbeddedConfig::with_data_dir(dir.path())).unwrap();
                let m = run(embedded.clone(), &[], writers, objects, secs).await;
                embedded.shutdown().await;
                rows.push((format!("embedded {writers} writers / {objects} objects"), m));
            }
            if wanted("store") {
                let (a, b) = (data_dir(), data_dir());
                let (pa, ua) = start_store(a.path());
                let (pb, ub) = start_store(b.path());
                let pids = [pa.0.id(), pb.0.id()];
                let m = run(remote(vec![ua, ub]), &pids, writers, objects, secs).await;
                rows.push((
                    format!("2 dotdo stores {writers} writers / {objects} objects"),
                    m,
                ));
            }
            if wanted("workerd") {
                let w = tempfile::tempdir_in("/dev/shm")
                    .unwrap_or_else(|_| tempfile::tempdir().unwrap());
                let (pw, uw) = start_workerd(w.path());
                let m = run(remote(vec![uw]), &[pw.0.id()], writers, objects, secs).await;
                rows.push((format!("workerd {writers} writers / {objects} objects"), m));
            }
        }
    });
    println!(
        "\n{:<48} {:>12} {:>16}",
        "scenario", "batches/s", "CPU us/batch"
    );
    for (name, m) in &rows {
        println!(
            "{name:<48} {:>12.0} {:>16.1}",
            m.rate,
            m.cpu_per_batch.as_secs_f64() * 1e6
        );
    }
    let rate = |p: &str| rows.iter().find(|(n, _)| n == p).map(|(_, m)| m.rate);
    for objects in [1, 16] {
        let e = rate(&format!("embedded 64 writers / {objects} objects"));
        let s = rate(&format!("2 dotdo stores 64 writers / {objects} objects"));
        if let (Some(e), Some(s)) = (e, s) {
            println!(
                "stores / embedded at 64 writers, {objects} objects: {:.2}x (bar >= 0.5x)",
                s / e
            );
        }
    }
    if let Some(w) = rate("workerd 64 writers / 16 objects") {
        println!("workerd 64 writers / 16 objects: {w:.0} batches/s (bar >= 9000)");
    }
}
