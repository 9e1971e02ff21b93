//! A write load for the crash test: concurrent writers on the embedded backend, each
//! printing `ACK <writer> <seq>` once `execute` has returned, until the process is killed.
//!
//! Usage: crash_writer <data_dir> <writers> <objects>

use std::io::Write;
use std::sync::Arc;

use dotdo_backend::embedded::{EmbeddedBackend, EmbeddedConfig};
use dotdo_backend::{Backend, ObjectId, Statement};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, writers, objects] = args.as_slice() else {
        return Err("usage: crash_writer <data_dir> <writers> <objects>".into());
    };
    let (writers, objects): (u64, u64) = (writers.parse()?, objects.parse()?);
    let backend = EmbeddedBackend::open(EmbeddedConfig::with_data_dir(dir))?;
    for o in 0..objects {
        backend
            .execute(
                &object(o),
                vec![Statement::new(
                    "CREATE TABLE IF NOT EXISTS acked (writer INTEGER, seq INTEGER, pad BLOB, PRIMARY KEY (writer, seq))",
                )],
            )
            .await?;
    }
    println!("READY");
    std::io::stdout().flush()?;
    let backend: Arc<EmbeddedBackend> = backend;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let backend = backend.clone();
        tasks.push(tokio::spawn(async move {
            // Each run starts its writers at a fresh id so rows never collide across rounds.
            let writer = std::process::id() as u64 * 1000 + w;
            for seq in 0u64.. {
                let o = object((writer + seq) % objects);
                let stmt =
                    Statement::new("INSERT INTO acked (writer, seq, pad) VALUES (?1, ?2, ?3)")
                        .bind(writer as i64)
                        .bind(seq as i64)
                        .bind(vec![7u8; 200]);
                if backend.execute(&o, vec![stmt]).await.is_err() {
                    break;
                }
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "ACK {writer} {seq}");
                let _ = out.flush();
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    Ok(())
}

fn object(i: u64) -> ObjectId {
    ObjectId::new("crash/test", format!("shard-{i}"))
}
