CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    next_offset INTEGER NOT NULL,
    start_offset INTEGER NOT NULL
);
INSERT OR IGNORE INTO log (id, next_offset, start_offset) VALUES (0, 0, 0);
CREATE TABLE IF NOT EXISTS batches (
    base_offset INTEGER PRIMARY KEY,
    last_offset INTEGER NOT NULL,
    max_timestamp INTEGER NOT NULL,
    producer_id INTEGER NOT NULL,
    producer_epoch INTEGER NOT NULL,
    base_sequence INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_producer ON batches (producer_id, base_sequence) WHERE producer_id >= 0;
CREATE TABLE IF NOT EXISTS producers (
    producer_id INTEGER PRIMARY KEY,
    producer_epoch INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS verdict (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    code INTEGER NOT NULL,
    dup_offset INTEGER
);
