//! A throwaway PostgreSQL 15 server for differential tests (Debian's postgresql-15).

use std::process::Command;

pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A throwaway PostgreSQL 15 cluster; stopped on drop.
pub struct Postgres {
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Postgres {
    pub fn start() -> Postgres {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let run = |cmd: &mut Command| {
            // initdb and postgres refuse to run as root: run them as the `postgres` user then.
            let out = cmd
                .output()
                .expect("run a PostgreSQL binary (apt package postgresql-15)");
            assert!(
                out.status.success(),
                "{cmd:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let as_owner = |bin: &str| -> Command {
            let path = format!("{PG_BIN}/{bin}");
            if is_root() {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--", &path]);
                c
            } else {
                Command::new(path)
            }
        };
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres", &dir.path().display().to_string()]));
        }
        run(as_owner("initdb").args([
            "-D",
            &data.display().to_string(),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
        ]));
        let port = free_port();
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            dir.path().display()
        );
        run(as_owner("pg_ctl").args([
            "-D",
            &data.display().to_string(),
            "-o",
            &opts,
            "-w",
            "-l",
            &dir.path().join("pg.log").display().to_string(),
            "start",
        ]));
        Postgres { dir, port }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data").display().to_string();
        let path = format!("{PG_BIN}/pg_ctl");
        let mut c = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &path]);
            c
        } else {
            Command::new(path)
        };
        let _ = c.args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}
