//! psql's describe commands (`\d table`, `\du`, `\df`, `\ds`, `\dt`, `\di`, `\dn`) print the same
//! against dotdo as against a real PostgreSQL 15 given the same schema.

use std::process::Command;

use dotdo_e2e::Dotdo;
use dotdo_e2e::pg15::Postgres;

fn psql(port: u16, db: &str, args: &[&str]) -> String {
    let out = Command::new("psql")
        .args(["-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .args(["-U", "postgres", "-d", db])
        .args(args)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("run psql (apt package postgresql-client)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "psql {args:?} on port {port}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

const SCHEMA: &str = "
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name varchar(100),
    age int DEFAULT 0, score numeric(6,2), active boolean NOT NULL DEFAULT true, created timestamptz);
CREATE TABLE posts (id bigserial PRIMARY KEY, user_id int NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title text, body text, CHECK (length(title) > 0));
CREATE INDEX posts_user ON posts (user_id);
CREATE TABLE tags (name text PRIMARY KEY, weight int CHECK (weight >= 0));
CREATE TABLE owners (id int PRIMARY KEY);
CREATE TABLE badges (id int PRIMARY KEY, owner int CONSTRAINT badge_owner REFERENCES owners(id),
    tag text, CONSTRAINT badge_tag FOREIGN KEY (tag) REFERENCES tags(name) ON UPDATE CASCADE);
CREATE TABLE items (id serial PRIMARY KEY, name text, qty int, note text NOT NULL DEFAULT 'x');
CREATE INDEX items_name ON items (name);
ALTER TABLE items ALTER COLUMN qty SET DEFAULT 7;
ALTER TABLE items ALTER COLUMN note DROP NOT NULL;
ALTER TABLE items ALTER COLUMN note SET DEFAULT 'y';
ALTER TABLE items ALTER COLUMN qty SET NOT NULL;
ALTER TABLE items ADD CONSTRAINT items_qty_check CHECK (qty >= 0);
ALTER TABLE items ADD COLUMN owner int;
ALTER TABLE items ADD CONSTRAINT item_owner FOREIGN KEY (owner) REFERENCES owners(id);
ALTER TABLE items ADD CONSTRAINT items_name_key UNIQUE (name);
ALTER TABLE items RENAME COLUMN note TO remark;
CREATE TABLE docs (id int PRIMARY KEY, tags text[] NOT NULL DEFAULT '{}', scores integer ARRAY, codes varchar(5)[], big _int8);
ALTER TABLE docs ALTER COLUMN scores SET DEFAULT '{1,2}';
CREATE VIEW user_posts (uid, title) AS
    SELECT u.id, p.title, count(*) AS n, max(u.score) AS best FROM users u JOIN posts p ON p.user_id = u.id GROUP BY 1, 2;
";

/// The same table name in two schemas, with an index, a foreign key and a view in one.
const SCHEMAS: &str = "
CREATE SCHEMA shop;
CREATE TABLE items (id int PRIMARY KEY, label text);
CREATE TABLE shop.items (id serial PRIMARY KEY, label text NOT NULL, qty int DEFAULT 1 CHECK (qty >= 0));
CREATE INDEX items_label ON shop.items (label);
CREATE TABLE shop.orders (id int PRIMARY KEY, item int NOT NULL REFERENCES shop.items (id));
CREATE VIEW shop.labels AS SELECT label FROM shop.items;
";

#[test]
fn psql_describe_commands_print_what_postgres_15_prints() {
    let pg = Postgres::start();
    let d = Dotdo::start("");
    let dotdo_port = d.addr("postgres").port();
    for port in [pg.port, dotdo_port] {
        psql(
            port,
            "postgres",
            &["-c", "CREATE DATABASE app", "-c", "CREATE DATABASE seqs"],
        );
        psql(port, "app", &["-c", SCHEMA]);
        psql(port, "postgres", &["-c", "CREATE DATABASE schemas"]);
        psql(port, "schemas", &["-c", SCHEMAS]);
        // `serial` columns have no sequence of their own in dotdo yet: \ds lists these.
        psql(
            port,
            "seqs",
            &[
                "-c",
                "CREATE SEQUENCE counter",
                "-c",
                "CREATE SEQUENCE ids START 100 INCREMENT BY 5 MAXVALUE 1000 CYCLE",
            ],
        );
    }
    let mut diffs = Vec::new();
    for (db, cmd) in [
        ("app", "\\d users"),
        ("app", "\\d posts"),
        ("app", "\\d tags"),
        ("app", "\\d items"),
        ("app", "\\d owners"),
        ("app", "\\d badges"),
        ("app", "\\d docs"),
        ("app", "\\d user_posts"),
        ("app", "\\d posts_user"),
        ("app", "\\d users_pkey"),
        ("app", "\\d users_email_key"),
        ("app", "\\d tags_pkey"),
        ("app", "\\dv"),
        ("app", "\\du"),
        ("app", "\\df"),
        ("app", "\\dt"),
        ("app", "\\di"),
        ("app", "\\dn"),
        ("schemas", "\\dn"),
        ("schemas", "\\dt"),
        ("schemas", "\\dt shop.*"),
        ("schemas", "\\dt *.items"),
        ("schemas", "\\d shop.items"),
        ("schemas", "\\d shop.orders"),
        ("schemas", "\\d items"),
        ("schemas", "\\di"),
        ("schemas", "\\di shop.*"),
        ("schemas", "SET search_path TO shop, public\n\\dt"),
        ("schemas", "SET search_path TO shop, public\n\\d items"),
        ("schemas", "SET search_path TO shop\n\\di"),
        ("schemas", "\\dv shop.*"),
        ("seqs", "\\ds"),
        ("seqs", "\\d counter"),
        ("seqs", "\\d ids"),
    ] {
        // Lines are separate commands (a SET, then a describe).
        let args: Vec<&str> = cmd.lines().flat_map(|c| ["-c", c]).collect();
        let expected = psql(pg.port, db, &args);
        let got = psql(dotdo_port, db, &args);
        if expected != got {
            diffs.push(format!(
                "{cmd}: PostgreSQL 15 prints\n{expected}\ndotdo prints\n{got}"
            ));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
