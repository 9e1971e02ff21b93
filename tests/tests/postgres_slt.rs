//! Differential sqllogictest: every `tests/slt/*.slt` file runs against a real PostgreSQL 15
//! (started here with initdb/pg_ctl in a temp dir on a free port) and against dotdo, with
//! the same expected results.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use dotdo_e2e::Dotdo;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};
use tokio_postgres::{NoTls, SimpleQueryMessage};

use dotdo_e2e::pg15::Postgres;

struct Client(tokio_postgres::Client);

/// A client error that shows the server's message, so `statement error <regex>` can match it.
#[derive(Debug)]
struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DbError {}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        DbError(match e.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => e.to_string(),
        })
    }
}

#[async_trait]
impl AsyncDB for Client {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Self::Error> {
        let msgs = self.0.simple_query(sql).await?;
        let mut rows = Vec::new();
        let mut width = None;
        let mut count = 0;
        for m in msgs {
            match m {
                SimpleQueryMessage::Row(r) => {
                    width = Some(r.len());
                    rows.push(
                        (0..r.len())
                            .map(|i| {
                                r.get(i).map_or("NULL".to_owned(), |v| {
                                    if v.is_empty() {
                                        "(empty)".to_owned()
                                    } else {
                                        v.to_owned()
                                    }
                                })
                            })
                            .collect(),
                    );
                }
                SimpleQueryMessage::RowDescription(cols) => width = Some(cols.len()),
                SimpleQueryMessage::CommandComplete(n) => count = n,
                _ => {}
            }
        }
        Ok(match width {
            Some(w) => DBOutput::Rows {
                types: vec![DefaultColumnType::Any; w],
                rows,
            },
            None => DBOutput::StatementComplete(count),
        })
    }

    async fn shutdown(&mut self) {}

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}

async fn run_file(host: String, port: u16, db: String, file: &Path) -> Result<(), String> {
    let mut runner = Runner::new(move || {
        let (host, db) = (host.clone(), db.clone());
        async move {
            let (client, conn) = tokio_postgres::connect(
                &format!("host={host} port={port} user=postgres dbname={db}"),
                NoTls,
            )
            .await
            .map_err(DbError::from)?;
            tokio::spawn(conn);
            Ok(Client(client))
        }
    });
    runner
        .run_file_async(file)
        .await
        .map_err(|e| e.display(false).to_string())
}

fn corpus() -> Vec<PathBuf> {
    let dir = dotdo_e2e::manifest_dir().join("slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/slt")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_corpus_matches_postgres_15_and_dotdo() {
    let pg = Postgres::start();
    let dotdo = Dotdo::start("");
    let addr = dotdo.addr("postgres");
    let mut failures = Vec::new();
    for (i, file) in corpus().into_iter().enumerate() {
        // A fresh database per file on each side, so files do not see each other's tables.
        let db = format!("slt{i}");
        let (admin, conn) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres",
                pg.port
            ),
            NoTls,
        )
        .await
        .expect("connect to postgres");
        tokio::spawn(conn);
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .expect("create database");
        if let Err(e) = run_file("127.0.0.1".into(), pg.port, db.clone(), &file).await {
            failures.push(format!("PostgreSQL 15 on {}: {e}", file.display()));
        }
        if let Err(e) = run_file(addr.ip().to_string(), addr.port(), db, &file).await {
            failures.push(format!(
                "dotdo on {}: {e}\nserver log tail:\n{}",
                file.display(),
                dotdo
                    .log()
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
