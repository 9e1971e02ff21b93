//! The end-to-end harness: start the real `dotdo` binary on ephemeral ports with its own data
//! directory, read the ports it reports, and stop, kill or restart it.
//!
//! The binary is `$DOTDO_BIN`, or `dotdo` beside the test executable's target directory;
//! the test command builds it first (`cargo build -p dotdo`).

pub mod pg15;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const LISTENING_PREFIX: &str = "DOTDO_LISTENING ";

/// The shared secret between test gateways and the `dotdo store` nodes they start.
pub const STORE_SECRET: &str = "e2e-shared-secret";

/// How long a start may take before the harness gives up (debug builds on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Path of the `dotdo` binary under test.
pub fn dotdo_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("DOTDO_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("current test executable");
    // <target>/debug/deps/<test> -> <target>/debug/dotdo
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in <target>/<profile>/deps");
    let bin = profile_dir.join("dotdo");
    assert!(
        bin.exists(),
        "{} not found: build it first with `cargo build -p dotdo` (or set DOTDO_BIN)",
        bin.display()
    );
    bin
}

/// A running `dotdo serve`.
pub struct Dotdo {
    child: Option<Child>,
    /// With `DOTDO_E2E_BACKEND=store` or `workerd`: the nodes this gateway's objects live on,
    /// started for it and kept across its restarts.
    nodes: Nodes,
    dir: tempfile::TempDir,
    extra_toml: String,
    addrs: HashMap<String, SocketAddr>,
}

impl Dotdo {
    /// Start with the default configuration plus `extra_toml`, on ephemeral ports, with a
    /// fresh data directory.
    pub fn start(extra_toml: &str) -> Dotdo {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut d = Dotdo {
            child: None,
            nodes: Nodes::from_env(),
            dir,
            extra_toml: extra_toml.to_owned(),
            addrs: HashMap::new(),
        };
        d.spawn();
        d
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("dotdo.log")
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The address a front-end (or `admin`) is listening on.
    pub fn addr(&self, name: &str) -> SocketAddr {
        *self
            .addrs
            .get(name)
            .unwrap_or_else(|| panic!("no listener named {name}; have {:?}", self.addrs))
    }

    pub fn addrs(&self) -> &HashMap<String, SocketAddr> {
        &self.addrs
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("running")
    }

    fn spawn(&mut self) {
        let config = self.dir.path().join("dotdo.toml");
        let data = self.data_dir();
        let urls = self.nodes.urls();
        let backend = if urls.is_empty() {
            String::new()
        } else {
            let nodes: Vec<String> = urls.iter().map(|u| format!("{u:?}")).collect();
            format!(
                "[backend]\nkind = \"remote\"\n[backend.remote]\nnodes = [{}]\nsecret = \"{STORE_SECRET}\"\n",
                nodes.join(", ")
            )
        };
        let toml = format!(
            "[backend.embedded]\ndata_dir = {data:?}\n\n{backend}\n{}\n",
            self.extra_toml,
            data = data.display().to_string()
        );
        std::fs::write(&config, toml).expect("write config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let mut child = Command::new(dotdo_bin())
            .args(["serve", "--ephemeral-ports", "--config"])
            .arg(&config)
            .env(
                "DOTDO_LOG",
                std::env::var("DOTDO_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn dotdo");
        let stdout = child.stdout.take().expect("stdout");
        self.child = Some(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(json) = line.strip_prefix(LISTENING_PREFIX) {
                    let _ = tx.send(json.to_owned());
                    sent = true;
                }
            }
        });
        let json = match rx.recv_timeout(START_TIMEOUT) {
            Ok(json) => json,
            Err(_) => {
                self.kill();
                panic!("dotdo did not report its ports; log:\n{}", self.log());
            }
        };
        let map: HashMap<String, String> = serde_json::from_str(&json).expect("listening JSON");
        self.addrs = map
            .into_iter()
            .map(|(k, v)| (k, v.parse().expect("socket address")))
            .collect();
    }

    /// SIGKILL the process and wait for it: nothing gets a chance to flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        signal(child.id(), "TERM");
        child.wait().expect("wait for dotdo")
    }

    /// Start again on the same data directory and configuration (new ports).
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        self.spawn();
    }

    /// SIGKILL, then start again on the same data directory.
    pub fn kill_and_restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

/// Where a test gateway's objects live, chosen by `DOTDO_E2E_BACKEND` so the same suites run
/// unchanged on every backend: `embedded` (default), `store` (two `dotdo store` processes)
/// or `workerd` (the Cloudflare worker in a real workerd).
enum Nodes {
    Embedded,
    Stores(Vec<Store>),
    Workerd(Workerd),
}

impl Nodes {
    fn from_env() -> Nodes {
        match std::env::var("DOTDO_E2E_BACKEND").as_deref() {
            Ok("embedded") | Err(_) => Nodes::Embedded,
            Ok("store") => Nodes::Stores(vec![Store::start(), Store::start()]),
            Ok("workerd") => Nodes::Workerd(Workerd::start()),
            Ok(other) => panic!("DOTDO_E2E_BACKEND={other}: expected embedded, store or workerd"),
        }
    }

    fn urls(&self) -> Vec<String> {
        match self {
            Nodes::Embedded => Vec::new(),
            Nodes::Stores(stores) => stores.iter().map(Store::url).collect(),
            Nodes::Workerd(w) => vec![w.url()],
        }
    }
}

impl Drop for Dotdo {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `dotdo store` process with its own data directory.
pub struct Store {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub addr: SocketAddr,
}

impl Store {
    pub fn start() -> Store {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut s = Store {
            child: None,
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        s.spawn();
        s
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn spawn(&mut self) {
        let config = self.dir.path().join("store.toml");
        let data = self.dir.path().join("data");
        std::fs::write(
            &config,
            format!(
                "[backend.embedded]\ndata_dir = {:?}\n[store]\nlisten = \"{}\"\nsecret = \"{STORE_SECRET}\"\n",
                data.display().to_string(),
                self.addr
            ),
        )
        .expect("write store config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("store.log"))
            .expect("log file");
        let mut child = Command::new(dotdo_bin())
            .args(["store", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn dotdo store");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        reader.read_line(&mut line).expect("read store stdout");
        let json = line
            .trim()
            .strip_prefix(LISTENING_PREFIX)
            .unwrap_or_else(|| panic!("store did not report its port: {line:?}"));
        let map: std::collections::HashMap<String, String> =
            serde_json::from_str(json).expect("listening JSON");
        self.addr = map["store"].parse().expect("store address");
        self.child = Some(child);
    }

    /// SIGKILL the store and wait for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again on the same address and data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.kill();
    }
}

/// This crate's directory, as cargo gives it to the running test (so a binary built in a
/// checkout at another path and reused from a shared target directory still finds the files
/// of this one), else as it was at build time.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn repo_root() -> PathBuf {
    manifest_dir()
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

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
            .env("DOTDO_SECRET", STORE_SECRET)
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

/// Send a signal (`TERM`, `INT`, `KILL`, ...) to `pid`, with kill(1).
pub fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{sig} {pid} failed");
}
