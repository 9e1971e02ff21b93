CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS _pg_columns (
    tbl TEXT NOT NULL,
    col TEXT NOT NULL,
    pos INTEGER NOT NULL,
    typ TEXT NOT NULL,
    typmod INTEGER NOT NULL DEFAULT -1,
    not_null INTEGER NOT NULL DEFAULT 0,
    dflt TEXT,
    PRIMARY KEY (tbl, col)
);
INSERT OR IGNORE INTO _meta (key, value) VALUES ('pg_catalog_version', 1);
CREATE TABLE IF NOT EXISTS _pg_sequences (
    name TEXT PRIMARY KEY,
    increment INTEGER NOT NULL,
    min_value INTEGER NOT NULL,
    max_value INTEGER NOT NULL,
    start_value INTEGER NOT NULL,
    cycle INTEGER NOT NULL,
    last_value INTEGER NOT NULL,
    is_called INTEGER NOT NULL
);
