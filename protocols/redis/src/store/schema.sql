-- Version 1 of a Redis shard object: key metadata and string values in `keys`, the
-- elements of hashes, lists, sets and sorted sets in `elems`.
CREATE TABLE IF NOT EXISTS _meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
-- kind: 0 string, 1 list, 2 hash, 3 set, 4 sorted set. expires_at: unix ms, NULL = never.
CREATE TABLE IF NOT EXISTS keys (
    key BLOB PRIMARY KEY,
    kind INTEGER NOT NULL,
    expires_at INTEGER,
    value BLOB
) WITHOUT ROWID;
-- sub: hash field, set or sorted-set member, or a list position (8 bytes, order-preserving).
CREATE TABLE IF NOT EXISTS elems (
    key BLOB NOT NULL,
    sub BLOB NOT NULL,
    value BLOB,
    score REAL,
    PRIMARY KEY (key, sub)
) WITHOUT ROWID;
INSERT OR IGNORE INTO _meta (name, value) VALUES ('schema_version', 1);
