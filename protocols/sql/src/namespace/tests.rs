use dotdo_backend::{StatementResult, Value};

use super::*;
use crate::translate::translate;

/// A catalog with schema `s` and tables `t` (public), `s.t` and `s.solo`, sequence `s.seq`.
fn catalog() -> Catalog {
    let text = |s: &str| Value::Text(s.into());
    let column = |tbl: &str, col: &str, pos: i64| {
        vec![
            text(tbl),
            text(col),
            Value::Integer(pos),
            text("23"),
            Value::Integer(-1),
            Value::Integer(0),
            Value::Null,
            Value::Null,
        ]
    };
    let other = |name: &str, pos: i64, kind: &str| {
        vec![
            text(name),
            Value::Null,
            Value::Integer(pos),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            text(kind),
        ]
    };
    Catalog::from_result(&StatementResult {
        columns: Vec::new(),
        rows: vec![
            column("t", "a", 1),
            column("s.t", "b", 1),
            column("s.solo", "c", 1),
            other("s", 17000, "n"),
            other("t", 0, "table"),
            other("s.t", 0, "table"),
            other("s.solo", 0, "table"),
            other("s.seq", 0, "sequence"),
        ],
        rows_changed: 0,
        last_insert_id: 0,
    })
}

fn ctx(path: &str) -> Context<'_> {
    Context {
        database: "db",
        user: "u",
        backend_pid: 1,
        search_path: path,
    }
}

fn sql(q: &str, path: &str) -> Result<String, SqlError> {
    match translate(q, &catalog(), &ctx(path))? {
        Plan::Query(q) => Ok(q.batch[q.main].sql.to_string()),
        other => panic!("not a query: {other:?}"),
    }
}

#[test]
fn qualified_names_are_stored_names() {
    assert_eq!(
        sql("SELECT b FROM s.t", DEFAULT_PATH).unwrap(),
        "SELECT b FROM \"s.t\" AS \"t\""
    );
    assert_eq!(
        sql("SELECT a FROM public.t", DEFAULT_PATH).unwrap(),
        "SELECT a FROM t"
    );
    assert_eq!(
        sql("SELECT a FROM t", DEFAULT_PATH).unwrap(),
        "SELECT a FROM t"
    );
    let join = sql(
        "SELECT t.a, x.b FROM t JOIN s.t AS x ON x.b = t.a",
        DEFAULT_PATH,
    )
    .unwrap();
    assert!(join.contains("JOIN \"s.t\" AS x"), "{join}");
    assert!(
        sql("INSERT INTO s.t (b) VALUES (1)", DEFAULT_PATH)
            .unwrap()
            .starts_with("INSERT INTO \"s.t\" (b)")
    );
    assert!(
        sql("SELECT s.t.b FROM s.t", DEFAULT_PATH)
            .unwrap()
            .starts_with("SELECT t.b FROM")
    );
}

#[test]
fn unqualified_names_follow_the_search_path() {
    assert_eq!(
        sql("SELECT * FROM t", "s, public").unwrap(),
        "SELECT * FROM \"s.t\" AS \"t\""
    );
    assert_eq!(
        sql("SELECT * FROM t", "public, s").unwrap(),
        "SELECT * FROM t"
    );
    assert_eq!(
        sql("SELECT * FROM solo", "public, s").unwrap(),
        "SELECT * FROM \"s.solo\" AS \"solo\""
    );
    // public off the path: its table is not found.
    let e = sql("SELECT * FROM t", "nosuch").unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        ("42P01", "relation \"t\" does not exist")
    );
    // A CTE shadows a table.
    assert_eq!(
        sql("WITH t AS (SELECT 1 AS x) SELECT x FROM t", "s").unwrap(),
        "WITH t AS (SELECT 1 AS x) SELECT x FROM t"
    );
}

#[test]
fn unknown_schemas_are_errors_as_in_postgres() {
    let e = sql("SELECT * FROM x.t", DEFAULT_PATH).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        ("42P01", "relation \"x.t\" does not exist")
    );
    let e = translate("CREATE TABLE x.t (a int)", &catalog(), &ctx(DEFAULT_PATH)).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        ("3F000", "schema \"x\" does not exist")
    );
    let e = translate("CREATE TABLE t2 (a int)", &catalog(), &ctx("nosuch")).unwrap_err();
    assert_eq!(e.message, "no schema has been selected to create in");
}

#[test]
fn creation_goes_to_the_first_schema_on_the_path() {
    assert!(
        sql("CREATE TABLE n (a int)", "s, public")
            .unwrap()
            .starts_with("CREATE TABLE \"s.n\"")
    );
    assert!(
        sql("CREATE TABLE n (a int)", DEFAULT_PATH)
            .unwrap()
            .starts_with("CREATE TABLE \"n\"")
    );
    assert!(
        sql("CREATE TABLE s.n (a int)", DEFAULT_PATH)
            .unwrap()
            .starts_with("CREATE TABLE \"s.n\"")
    );
    let idx = sql("CREATE INDEX i ON s.t (b)", DEFAULT_PATH).unwrap();
    assert_eq!(idx, "CREATE INDEX \"s.i\" ON \"s.t\"(b)");
    let fk = sql("CREATE TABLE s.c (x int REFERENCES s.t (b))", DEFAULT_PATH).unwrap();
    assert!(fk.contains("REFERENCES \"s.t\""), "{fk}");
}

#[test]
fn schema_ddl() {
    let c = catalog();
    let e = translate("CREATE SCHEMA s", &c, &ctx(DEFAULT_PATH)).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        ("42P06", "schema \"s\" already exists")
    );
    assert!(matches!(
        translate("CREATE SCHEMA IF NOT EXISTS s", &c, &ctx(DEFAULT_PATH)),
        Ok(Plan::Utility("CREATE SCHEMA"))
    ));
    assert!(matches!(
        translate("CREATE SCHEMA n", &c, &ctx(DEFAULT_PATH)),
        Ok(Plan::Query(q)) if q.ddl
    ));
    let e = translate("DROP SCHEMA s", &c, &ctx(DEFAULT_PATH)).unwrap_err();
    assert_eq!(e.code, "2BP01");
    assert_eq!(
        e.message,
        "cannot drop schema s because other objects depend on it"
    );
    let Ok(Plan::Query(q)) = translate("DROP SCHEMA s CASCADE", &c, &ctx(DEFAULT_PATH)) else {
        panic!("drop cascade")
    };
    let text: Vec<String> = q.batch.iter().map(|s| s.sql.to_string()).collect();
    assert!(
        text.iter().any(|s| s == "DROP TABLE IF EXISTS \"s.t\""),
        "{text:?}"
    );
    assert!(
        !text.iter().any(|s| s == "DROP TABLE IF EXISTS \"t\""),
        "{text:?}"
    );
    let e = translate("DROP SCHEMA x", &c, &ctx(DEFAULT_PATH)).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        ("3F000", "schema \"x\" does not exist")
    );
}

#[test]
fn search_path_values() {
    assert_eq!(normalize_path("'s', public"), "s, public");
    assert_eq!(normalize_path("S, \"$user\""), "s, \"$user\"");
    assert_eq!(normalize_path("DEFAULT"), DEFAULT_PATH);
    let c = catalog();
    assert_eq!(
        current_schema(&ctx(DEFAULT_PATH), &c).as_deref(),
        Some("public")
    );
    assert_eq!(current_schema(&ctx("nosuch, s"), &c).as_deref(), Some("s"));
    assert_eq!(
        current_schemas(&ctx("s, public"), &c, true),
        "{pg_catalog,s,public}"
    );
    assert_eq!(current_schemas(&ctx("s, public"), &c, false), "{s,public}");
    let q = sql("SELECT current_schema()", "s, public").unwrap();
    assert!(q.contains("'s'"), "{q}");
}

#[test]
fn sequence_calls_name_stored_sequences() {
    let q = sql("SELECT nextval('s.seq')", DEFAULT_PATH).unwrap();
    assert!(q.contains("dotdo_nextval('s.seq')"), "{q}");
    let q = sql("SELECT nextval('seq')", "s").unwrap();
    assert!(q.contains("dotdo_nextval('s.seq')"), "{q}");
}

#[test]
fn rename_schema() {
    let c = catalog();
    let e = translate("ALTER SCHEMA s RENAME TO public", &c, &ctx(DEFAULT_PATH)).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        ("42P06", "schema \"public\" already exists")
    );
    let e = translate("ALTER SCHEMA x RENAME TO y", &c, &ctx(DEFAULT_PATH)).unwrap_err();
    assert_eq!(e.code, "3F000");
    let Ok(Plan::RenameSchema(r)) = translate("ALTER SCHEMA s RENAME TO n", &c, &ctx(DEFAULT_PATH))
    else {
        panic!("rename plan")
    };
    let text = |s: &str| Value::Text(s.into());
    let read = vec![
        StatementResult {
            columns: Vec::new(),
            rows: vec![
                vec![
                    text("table"),
                    text("s.t"),
                    text("CREATE TABLE \"s.t\" (b INTEGER)"),
                ],
                vec![
                    text("index"),
                    text("s.i"),
                    text("CREATE INDEX \"s.i\" ON \"s.t\"(b)"),
                ],
            ],
            rows_changed: 0,
            last_insert_id: 0,
        },
        StatementResult {
            columns: Vec::new(),
            rows: vec![vec![text("s.seq")]],
            rows_changed: 0,
            last_insert_id: 0,
        },
    ];
    let batch: Vec<String> = rename_batch(&r, &read)
        .iter()
        .map(|s| s.sql.to_string())
        .collect();
    let at = |s: &str| {
        batch
            .iter()
            .position(|b| b == s)
            .unwrap_or_else(|| panic!("{s} in {batch:?}"))
    };
    assert!(at("DROP INDEX \"s.i\"") < at("ALTER TABLE \"s.t\" RENAME TO \"n.t\""));
    assert!(at("ALTER TABLE \"s.t\" RENAME TO \"n.t\"") < at("CREATE INDEX \"n.i\" ON \"n.t\"(b)"));
    at("CREATE VIEW \"_pg_seq_n.seq\" AS SELECT 1");
}

#[test]
fn search_path_from_startup_options() {
    assert_eq!(
        options_search_path("-c search_path=app").as_deref(),
        Some("app")
    );
    assert_eq!(
        options_search_path("-c statement_timeout=5 -csearch_path=a,\\ public").as_deref(),
        Some("a, public")
    );
    assert_eq!(options_search_path("--search_path=x").as_deref(), Some("x"));
    assert_eq!(options_search_path("-c work_mem=4MB"), None);
}

#[test]
fn alter_sequence_names_a_stored_sequence() {
    let c = catalog();
    let Ok(Plan::AlterSequence(a)) = translate("ALTER SEQUENCE seq RESTART", &c, &ctx("s")) else {
        panic!("alter sequence")
    };
    assert_eq!(a.name, "s.seq");
    let Ok(Plan::AlterSequence(a)) = translate(
        "ALTER SEQUENCE public.\"S\" RENAME TO n",
        &c,
        &ctx(DEFAULT_PATH),
    ) else {
        panic!("alter sequence")
    };
    assert_eq!((a.name.as_str(), a.rename.as_deref()), ("S", Some("n")));
    let Ok(Plan::AlterSequence(a)) =
        translate("ALTER SEQUENCE s.seq RENAME TO n", &c, &ctx(DEFAULT_PATH))
    else {
        panic!("alter sequence")
    };
    assert_eq!(a.rename.as_deref(), Some("s.n"));
}
