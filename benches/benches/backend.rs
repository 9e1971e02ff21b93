//! Durable single-row insert batches per second on the embedded backend, against plain
//! rusqlite committing each insert with `synchronous=FULL`, in one run; prints the ratios.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench that cannot set up should stop

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use dotdo_backend::embedded::{EmbeddedBackend, EmbeddedConfig};
use dotdo_backend::{Backend, ObjectId, Statement};

/// Total batches and time per scenario, across every sample criterion took.
type Totals = Arc<Mutex<Vec<(String, u64, Duration)>>>;

fn record(totals: &Totals, name: &str, n: u64, took: Duration) {
    let mut t = totals.lock().unwrap();
    match t.iter_mut().find(|(k, _, _)| k == name) {
        Some(entry) => {
            entry.1 += n;
            entry.2 += took;
        }
        None => t.push((name.to_owned(), n, took)),
    }
}

const CREATE: &str =
    "CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY, writer INTEGER, v BLOB)";
const INSERT: &str = "INSERT INTO kv (writer, v) VALUES (?1, ?2)";

fn embedded(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    totals: &Totals,
    writers: u64,
    objects: u64,
) {
    let dir = tempfile::tempdir().unwrap();
    let backend = EmbeddedBackend::open(EmbeddedConfig::with_data_dir(dir.path())).unwrap();
    let ids: Vec<ObjectId> = (0..objects)
        .map(|i| ObjectId::new("bench", format!("o{i}")))
        .collect();
    rt.block_on(async {
        for id in &ids {
            backend
                .execute(id, vec![Statement::new(CREATE)])
                .await
                .unwrap();
        }
    });
    let name = format!(
        "embedded {writers} writers / {objects} object{}",
        if objects == 1 { "" } else { "s" }
    );
    let mut group = c.benchmark_group("durable insert batches");
    group.throughput(Throughput::Elements(1));
    group.bench_function(&name, |b| {
        b.iter_custom(|iters| {
            let per_writer = iters.div_ceil(writers);
            let started = Instant::now();
            rt.block_on(async {
                let tasks: Vec<_> = (0..writers)
                    .map(|w| {
                        let backend = backend.clone();
                        let id = ids[(w % objects) as usize].clone();
                        tokio::spawn(async move {
                            for _ in 0..per_writer {
                                let stmt =
                                    Statement::new(INSERT).bind(w as i64).bind(vec![0u8; 100]);
                                backend.execute(&id, vec![stmt]).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
            let took = started.elapsed();
            record(totals, &name, per_writer * writers, took);
            // Criterion divides by `iters`; scale so the per-batch time stays honest.
            took.mul_f64(iters as f64 / (per_writer * writers) as f64)
        })
    });
    group.finish();
    rt.block_on(backend.shutdown());
}

fn rusqlite_baseline(c: &mut Criterion, totals: &Totals) {
    let dir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("baseline.db")).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
        .unwrap();
    conn.execute_batch(CREATE).unwrap();
    let name = "rusqlite synchronous=FULL, one transaction per insert";
    let mut group = c.benchmark_group("durable insert batches");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                conn.execute_batch("BEGIN").unwrap();
                conn.prepare_cached(INSERT)
                    .unwrap()
                    .execute(rusqlite::params![0i64, vec![0u8; 100]])
                    .unwrap();
                conn.execute_batch("COMMIT").unwrap();
            }
            let took = started.elapsed();
            record(totals, name, iters, took);
            took
        })
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let totals: Totals = Arc::default();
    rusqlite_baseline(&mut c, &totals);
    for (writers, objects) in [(1, 1), (8, 1), (64, 1), (64, 16)] {
        embedded(&mut c, &rt, &totals, writers, objects);
    }
    c.final_summary();

    let totals = totals.lock().unwrap();
    let rate = |prefix: &str| {
        totals
            .iter()
            .find(|(k, _, _)| k.starts_with(prefix))
            .map(|(_, n, d)| *n as f64 / d.as_secs_f64())
    };
    println!("\n{:<58} {:>14}", "scenario", "batches/s");
    for (name, n, d) in totals.iter() {
        println!("{name:<58} {:>14.0}", *n as f64 / d.as_secs_f64());
    }
    if let (Some(base), Some(one), Some(many)) = (
        rate("rusqlite"),
        rate("embedded 1 writers"),
        rate("embedded 64 writers / 1 object"),
    ) {
        println!(
            "\n64 writers on one object / 1 writer:         {:>6.1}x (bar: >= 20x)",
            many / one
        );
        println!(
            "64 writers on one object / rusqlite baseline: {:>6.1}x (bar: >= 20x)",
            many / base
        );
    }
}
