//! The PostgreSQL front-end through the real binary, driven by psql and pgbench.

use std::process::Command;

use dotdo_e2e::Dotdo;

fn psql(d: &Dotdo, db: &str, script: &str) -> (bool, String, String) {
    let addr = d.addr("postgres");
    let out = Command::new("psql")
        .args([
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            &addr.ip().to_string(),
            "-p",
            &addr.port().to_string(),
        ])
        .args(["-U", "postgres", "-d", db, "-f", "-"])
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .expect("run psql (apt package postgresql-client)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn pgbench(d: &Dotdo, args: &[&str]) -> String {
    let addr = d.addr("postgres");
    let out = Command::new("pgbench")
        .args([
            "-h",
            &addr.ip().to_string(),
            "-p",
            &addr.port().to_string(),
            "-U",
            "postgres",
        ])
        .args(args)
        .output()
        .expect("run pgbench (apt package postgresql-contrib / postgresql-15)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "pgbench {args:?} failed:\n{text}\nserver log:\n{}",
        d.log()
    );
    text
}

#[test]
fn psql_script_with_copy_and_transactions() {
    let d = Dotdo::start("");
    let script = r#"
CREATE TABLE people (id serial PRIMARY KEY, name text NOT NULL, active boolean, score numeric(6,2));
INSERT INTO people (name, active, score) VALUES ('ann', true, 1.5), ('bob', false, 20);
COPY people (name, active, score) FROM STDIN WITH (FORMAT csv);
cy,t,3.25
"dee, jr",f,
\.
BEGIN;
UPDATE people SET score = score + 1 WHERE name = 'ann';
SAVEPOINT s1;
DELETE FROM people;
ROLLBACK TO SAVEPOINT s1;
COMMIT;
SELECT id, name, active, score FROM people ORDER BY id;
SELECT count(*) AS n, sum(score) AS total FROM people WHERE active;
"#;
    let (ok, out, err) = psql(&d, "app", script);
    assert!(ok, "psql failed: {err}\n{out}\nserver log:\n{}", d.log());
    assert!(out.contains("COPY 2"), "{out}");
    assert!(out.contains("  1 | ann     | t      |  2.50"), "{out}");
    assert!(out.contains("  4 | dee, jr | f      |"), "{out}");
    assert!(out.contains(" 2 |  5.75"), "{out}");
}

#[test]
fn psql_dt_lists_tables_as_postgres_prints_them() {
    let d = Dotdo::start("");
    let (ok, out, err) = psql(
        &d,
        "app",
        "CREATE TABLE b (id int);\nCREATE TABLE a (id int PRIMARY KEY);\n\\dt\n",
    );
    assert!(ok, "{err}");
    let expected = "        List of relations
 Schema | Name | Type  |  Owner   
--------+------+-------+----------
 public | a    | table | postgres
 public | b    | table | postgres
(2 rows)";
    assert!(out.contains(expected), "{out}");
}

#[test]
fn psql_di_and_dn_list_indexes_and_schemas() {
    let d = Dotdo::start("");
    let (ok, out, err) = psql(
        &d,
        "app",
        "CREATE TABLE t (id int PRIMARY KEY, name text);\nCREATE INDEX t_name ON t (name);\n\\di\n\\dn\n",
    );
    assert!(ok, "{err}");
    assert!(
        out.contains(" public | t_name | index | postgres | t\n"),
        "{out}"
    );
    // PostgreSQL 15's public schema belongs to pg_database_owner.
    assert!(out.contains(" public | pg_database_owner\n"), "{out}");
}

#[test]
fn psql_negotiates_tls_with_sslrequest() {
    let certs = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(status.status.success());
    let d = Dotdo::start(&format!(
        "[postgres]\ntls = {{ cert = {:?}, key = {:?} }}\n",
        cert.display().to_string(),
        key.display().to_string()
    ));
    let addr = d.addr("postgres");
    let out = Command::new("psql")
        .arg(format!(
            "host={} port={} user=postgres dbname=app sslmode=require",
            addr.ip(),
            addr.port()
        ))
        .args(["-X", "-tA", "-c", "SELECT 40 + 2"])
        .output()
        .expect("psql");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    assert_eq!(text.trim(), "42");
}

#[test]
fn psql_reports_errors_with_sqlstate() {
    let d = Dotdo::start("");
    let (ok, _, err) = psql(
        &d,
        "app",
        "\\set VERBOSITY verbose\nCREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (1);\n",
    );
    assert!(!ok);
    assert!(err.contains("23505"), "{err}");
    let (ok, _, err) = psql(
        &d,
        "app",
        "\\set VERBOSITY verbose\nSELECT * FROM missing;\n",
    );
    assert!(!ok);
    assert!(err.contains("42P01"), "{err}");
}

#[test]
fn pgbench_initialises_and_runs_every_mode_without_failures() {
    let d = Dotdo::start("");
    let init = pgbench(&d, &["-i", "-s", "1", "bench"]);
    assert!(init.contains("done in"), "{init}");
    // Optimistic blocks fail with 40001 when another commit changed what they read (two
    // clients drew one account), and clients retry them as under SERIALIZABLE: pgbench
    // retries serialization failures only, so any other error still fails the run.
    let tpcb = ["-t", "50", "--max-tries", "10", "--failures-detailed"];
    for (kind, mode) in [
        (&["-t", "200", "-S"][..], "simple"),
        (&["-t", "200", "-S"][..], "prepared"),
        (&tpcb[..], "simple"),
        (&tpcb[..], "prepared"),
    ] {
        let mut args = vec!["-c", "4", "-j", "2", "-M", mode];
        args.extend_from_slice(kind);
        args.push("bench");
        let out = pgbench(&d, &args);
        assert!(
            out.contains("number of failed transactions: 0 (0.000%)"),
            "{args:?}:\n{out}"
        );
        let expected = if args.contains(&"-S") {
            "processed: 800/800"
        } else {
            "processed: 200/200"
        };
        assert!(out.contains(expected), "{args:?}:\n{out}");
    }
    // TPC-B keeps the balances consistent: every delta went to one branch, teller and account;
    // each run truncates the history first, so it holds the last run's 200 transactions.
    let (ok, out, err) = psql(
        &d,
        "bench",
        "SELECT (SELECT sum(bbalance) FROM pgbench_branches) = (SELECT sum(abalance) FROM pgbench_accounts) AS same,
                (SELECT count(*) FROM pgbench_history) AS hist;",
    );
    assert!(ok, "{err}");
    assert!(out.contains(" t    |  200"), "{out}");
}
