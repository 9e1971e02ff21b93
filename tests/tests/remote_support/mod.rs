//! Remote nodes for the remote backend's end-to-end tests: `dotdo store` processes and a
//! real workerd (from tests/node/node_modules) running deploy/cloudflare.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dotdo_backend::remote::{RemoteBackend, RemoteConfig};

pub use dotdo_e2e::STORE_SECRET as SECRET;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

#[allow(unused_imports)] // not every test file that includes this module starts stores
pub use dotdo_e2e::Store;

/// A workerd process serving deploy/cloudflare/workerd.capnp with storage in a temp dir.
pub struct Workerd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub addr: SocketAddr,
}

pub fn workerd_bin() -> PathBuf {
    let bin = repo_root().join("tests/node/node_modules/.bin/workerd");
    assert!(
        bin.exists(),
        "{} not found: run `npm install` in tests/node (scripts/test does)",
        bin.display()
    );
    bin
}

impl Workerd {
    pub fn start() -> Workerd {
        let dir = tempfile::tempdir_in(tmpfs()).expect("temp dir");
        std::fs::create_dir_all(dir.path().join("do")).expect("storage dir");
        let mut w = Workerd {
            child: None,
            dir,
            addr: free_addr(),
        };
        w.spawn();
        w
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("workerd.log"))
            .expect("log file");
        let child = Command::new(workerd_bin())
            .arg("serve")
            .arg(repo_root().join("deploy/cloudflare/workerd.capnp"))
            .arg("--directory-path")
            .arg(format!(
                "do-storage={}",
                self.dir.path().join("do").display()
            ))
            .arg("--socket-addr")
            .arg(format!("http={}", self.addr))
            .env("DOTDO_SECRET", SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn workerd");
        self.child = Some(child);
        let started = Instant::now();
        while TcpStream::connect(self.addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "workerd did not start; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("workerd.log")).unwrap_or_default()
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILL, then start again on the same address and storage.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Workerd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A RAM-backed directory when the machine has one (as the measurements used).
fn tmpfs() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
}

/// An address free right now (workerd cannot report a port it chose itself).
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

pub fn client(urls: Vec<String>) -> Arc<RemoteBackend> {
    RemoteBackend::open(RemoteConfig {
        breaker_cooldown_ms: 200,
        ..RemoteConfig::new(urls, SECRET)
    })
    .expect("remote backend")
}
