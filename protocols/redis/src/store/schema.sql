-- A Redis shard object: key metadata and string values in `keys`, the elements of hashes,
-- lists, sets, sorted sets and streams in `elems`.
CREATE TABLE IF NOT EXISTS _meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
-- kind: 0 string, 1 list, 2 hash, 3 set, 4 sorted set, 5 stream. expires_at: unix ms, NULL = never.
CREATE TABLE IF NOT EXISTS keys (
    key BLOB PRIMARY KEY,
    kind INTEGER NOT NULL,
    expires_at INTEGER,
    value BLOB
) WITHOUT ROWID;
-- sub: hash field, set or sorted-set member, a list chunk (9 bytes) or a long list element's
-- position (8 bytes, order-preserving), or a stream's row (see store/stream.rs: meta,
-- entries, groups, consumers, pending entries).
CREATE TABLE IF NOT EXISTS elems (
    key BLOB NOT NULL,
    sub BLOB NOT NULL,
    value BLOB,
    score REAL,
    PRIMARY KEY (key, sub)
) WITHOUT ROWID;
-- The function libraries (FUNCTION LOAD): kept only in shard 0 of database 0 (empty elsewhere),
-- by library name, each with its whole code (shebang line included). See cmd/function.rs.
CREATE TABLE IF NOT EXISTS functions (
    name TEXT PRIMARY KEY,
    code BLOB NOT NULL
) WITHOUT ROWID;
-- The redo log (store/redo.rs): batches of row writes spread over many keys, one row each, in
-- order: the object is `keys` and `elems` with these applied over them.
CREATE TABLE IF NOT EXISTS redo (
    seq INTEGER PRIMARY KEY,
    rows BLOB NOT NULL
);
INSERT OR IGNORE INTO _meta (name, value) VALUES ('schema_version', 5);
-- Version 1 -> 2: streams (kind 5) were added. Version 2 -> 3: list elements moved into chunk
-- rows (store/sql.rs `chunk_sub`), and the rows of single positions that versions 1 and 2 wrote
-- are still read, and replaced as their chunks change. No existing row changes here. An
-- older build refuses a newer object rather than misread rows it does not know. Version 3 -> 4:
-- the `functions` table was added (created above, empty), and no existing row changes. Version
-- 4 -> 5: the `redo` table was added (created above, empty), and an older build refuses the object.
UPDATE _meta SET value = 5 WHERE name = 'schema_version' AND value IN (1, 2, 3, 4);
