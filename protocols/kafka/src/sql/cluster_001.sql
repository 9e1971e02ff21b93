CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY,
    id BLOB NOT NULL,
    partitions INTEGER NOT NULL,
    configs TEXT NOT NULL DEFAULT '{}',
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('producer_id', 1000);
