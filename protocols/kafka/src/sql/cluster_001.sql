CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY,
    id BLOB NOT NULL,
    partitions INTEGER NOT NULL,
    retention_ms INTEGER NOT NULL DEFAULT -1,
    retention_bytes INTEGER NOT NULL DEFAULT -1,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('producer_id', 1000);
