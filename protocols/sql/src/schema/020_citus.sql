CREATE TABLE IF NOT EXISTS _pg_dist_partition (
    tbl TEXT PRIMARY KEY,
    method TEXT NOT NULL,
    col TEXT,
    typ TEXT,
    shard_count INTEGER NOT NULL DEFAULT 0,
    colocationid INTEGER NOT NULL DEFAULT 0
);
DROP VIEW IF EXISTS pg_dist_partition;
CREATE VIEW pg_dist_partition (logicalrelid, partmethod, partkey, colocationid, repmodel, autoconverted) AS
    SELECT tbl, method, col, colocationid, CASE method WHEN 'n' THEN 't' ELSE 's' END, 'f' FROM _pg_dist_partition;
DROP VIEW IF EXISTS _pg_citus_tables;
CREATE VIEW _pg_citus_tables (table_name, citus_table_type, distribution_column, colocation_id, table_size, shard_count, table_owner, access_method) AS
    SELECT tbl, CASE method WHEN 'h' THEN 'distributed' ELSE 'reference' END, CASE method WHEN 'h' THEN col ELSE '<none>' END,
           colocationid, '0 bytes', CASE method WHEN 'h' THEN shard_count ELSE 1 END, 'postgres', 'heap'
    FROM _pg_dist_partition
