CREATE TABLE IF NOT EXISTS open_txns (
    producer_id INTEGER PRIMARY KEY,
    first_offset INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS aborted_txns (
    producer_id INTEGER NOT NULL,
    first_offset INTEGER NOT NULL,
    last_offset INTEGER NOT NULL,
    PRIMARY KEY (last_offset, producer_id)
);
