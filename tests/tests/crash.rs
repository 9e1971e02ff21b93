//! SIGKILL under concurrent write load loses no acknowledged write and leaves intact files.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dotdo_backend::embedded::{EmbeddedBackend, EmbeddedConfig};
use dotdo_backend::{Backend, ObjectId, Statement, Value};

const ROUNDS: usize = 20;
const WRITERS: u64 = 32;
const OBJECTS: u64 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked: HashSet<(i64, i64)> = HashSet::new();
    for round in 0..ROUNDS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
            .arg(dir.path())
            .arg(WRITERS.to_string())
            .arg(OBJECTS.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(60)).unwrap(), "READY");
        // Let a varying amount of load build up, then kill mid-write.
        let run_for = Duration::from_millis(150 + (round as u64 * 37) % 400);
        let started = Instant::now();
        let mut this_round = 0;
        while started.elapsed() < run_for {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(10)) {
                this_round += record(&mut acked, &line);
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        // Lines written before the kill are still in the pipe: they were acknowledged too.
        for line in rx.try_iter() {
            this_round += record(&mut acked, &line);
        }
        assert!(this_round > 0, "round {round} acknowledged nothing");
    }

    let backend = EmbeddedBackend::open(EmbeddedConfig::with_data_dir(dir.path())).unwrap();
    let mut stored = HashSet::new();
    for o in 0..OBJECTS {
        let id = ObjectId::new("crash/test", format!("shard-{o}"));
        let r = backend
            .execute(
                &id,
                vec![
                    Statement::new("PRAGMA integrity_check"),
                    Statement::new("SELECT writer, seq FROM acked"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            r[0].rows,
            vec![vec![Value::Text("ok".into())]],
            "object {id} is corrupt"
        );
        for row in &r[1].rows {
            stored.insert((row[0].as_i64().unwrap(), row[1].as_i64().unwrap()));
        }
    }
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    eprintln!(
        "{} acknowledged writes over {ROUNDS} SIGKILL rounds all present",
        acked.len()
    );
}

fn record(acked: &mut HashSet<(i64, i64)>, line: &str) -> usize {
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some("ACK"), Some(w), Some(s)) => {
            acked.insert((w.parse().unwrap(), s.parse().unwrap()));
            1
        }
        _ => 0,
    }
}
