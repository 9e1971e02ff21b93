-- Sequences owned by a column: serial and identity columns. `identity` is PostgreSQL's
-- attidentity ('a' ALWAYS, 'd' BY DEFAULT, '' for serial); `typ` the sequence's type oid.
CREATE TABLE IF NOT EXISTS _pg_seq_owner (seq TEXT PRIMARY KEY, tbl TEXT NOT NULL, col TEXT NOT NULL, identity TEXT NOT NULL DEFAULT '', typ INTEGER NOT NULL DEFAULT 20);
DROP VIEW IF EXISTS pg_attribute;
CREATE VIEW pg_attribute (attrelid, attname, atttypid, atttypmod, attnum, attnotnull, atthasdef, attisdropped, attidentity, attgenerated, attcollation, attstorage, attcompression, attstattarget, attlen) AS
    SELECT CAST(16384 + s.rootpage AS INTEGER), c.col, CASE WHEN c.typ LIKE 'numeric%' THEN 1700 ELSE CAST(c.typ AS INTEGER) END, c.typmod, c.pos,
           CASE c.not_null WHEN 1 THEN 't' ELSE 'f' END, c.dflt IS NOT NULL, 0,
           coalesce((SELECT o.identity FROM _pg_seq_owner AS o WHERE o.tbl = c.tbl AND o.col = c.col), ''), '', 0, 'p', '', -1, -1
    FROM _pg_columns AS c JOIN sqlite_schema AS s ON s.name = c.tbl AND s.type = 'table'
    UNION ALL
    SELECT CAST(800000000 + s.rowid AS INTEGER), v.col, CASE WHEN v.typ LIKE 'numeric%' THEN 1700 ELSE CAST(v.typ AS INTEGER) END, -1, v.pos,
           'f', 0, 0, '', '', 0, 'p', '', -1, -1
    FROM _pg_view_columns AS v JOIN sqlite_schema AS s ON s.name = v.view AND s.type = 'view'
    UNION ALL
    SELECT ic.idxoid, ic.col, CASE WHEN c.typ LIKE 'numeric%' THEN 1700 ELSE CAST(c.typ AS INTEGER) END, c.typmod, ic.pos,
           'f', 0, 0, '', '', 0, 'p', '', -1, -1
    FROM _pg_index_columns AS ic JOIN _pg_columns AS c ON c.tbl = ic.tbl AND c.col = ic.col;
DROP VIEW IF EXISTS pg_sequence;
CREATE VIEW pg_sequence (seqrelid, seqtypid, seqstart, seqincrement, seqmax, seqmin, seqcache, seqcycle) AS
    SELECT CAST(900000000 + q.rowid AS INTEGER), coalesce((SELECT o.typ FROM _pg_seq_owner AS o WHERE o.seq = q.name), 20),
           q.start_value, q.increment, q.max_value, q.min_value, 1, q.cycle <> 0 FROM _pg_sequences AS q;
DROP VIEW IF EXISTS _pg_seq_type;
CREATE VIEW _pg_seq_type (name, typname, bits) AS
    SELECT q.name, CASE o.typ WHEN 21 THEN 'smallint' WHEN 23 THEN 'integer' ELSE 'bigint' END,
           CASE o.typ WHEN 21 THEN 16 WHEN 23 THEN 32 ELSE 64 END
    FROM _pg_sequences AS q LEFT JOIN _pg_seq_owner AS o ON o.seq = q.name;
DROP VIEW IF EXISTS pg_sequences;
CREATE VIEW pg_sequences (schemaname, sequencename, sequenceowner, data_type, start_value, min_value, max_value, increment_by, cycle, cache_size, last_value) AS
    SELECT p.nspname, p.relname, 'postgres', t.typname, q.start_value, q.min_value, q.max_value, q.increment, CASE q.cycle WHEN 0 THEN 'f' ELSE 't' END, 1,
           CASE WHEN q.is_called THEN q.last_value END
    FROM _pg_sequences AS q JOIN _pg_split AS p ON p.storage = q.name JOIN _pg_seq_type AS t ON t.name = q.name;
DROP VIEW IF EXISTS _pg_is_sequences;
CREATE VIEW _pg_is_sequences (sequence_catalog, sequence_schema, sequence_name, data_type, numeric_precision, numeric_precision_radix, numeric_scale,
                              start_value, minimum_value, maximum_value, increment, cycle_option) AS
    SELECT (SELECT value FROM _meta WHERE key = 'database'), p.nspname, p.relname, t.typname, t.bits, 2, 0,
           CAST(q.start_value AS TEXT), CAST(q.min_value AS TEXT), CAST(q.max_value AS TEXT), CAST(q.increment AS TEXT), CASE q.cycle WHEN 0 THEN 'NO' ELSE 'YES' END
    FROM _pg_sequences AS q JOIN _pg_split AS p ON p.storage = q.name JOIN _pg_seq_type AS t ON t.name = q.name;
-- A sequence depends on the column that owns it: 'a' (serial, OWNED BY), 'i' (identity).
DROP VIEW IF EXISTS pg_depend;
CREATE VIEW pg_depend (classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype) AS
    SELECT 1259, CAST(900000000 + q.rowid AS INTEGER), 0, 1259, CAST(16384 + s.rootpage AS INTEGER), c.pos,
           CASE o.identity WHEN '' THEN 'a' ELSE 'i' END
    FROM _pg_seq_owner AS o JOIN _pg_sequences AS q ON q.name = o.seq
         JOIN sqlite_schema AS s ON s.name = o.tbl AND s.type = 'table'
         JOIN _pg_columns AS c ON c.tbl = o.tbl AND c.col = o.col;
-- No comments are kept (COMMENT is accepted and ignored): an empty pg_description.
DROP VIEW IF EXISTS pg_description;
CREATE VIEW pg_description (objoid, classoid, objsubid, description) AS SELECT 0, 0, 0, '' WHERE 0;
-- pg_index with indkey and indclass (JSON arrays here: catalog queries unnest them through
-- json_each, see srf.rs) and the other columns SQLAlchemy's reflection reads.
DROP VIEW IF EXISTS pg_index;
CREATE VIEW pg_index (indexrelid, indrelid, indisunique, indisprimary, indisclustered, indisvalid, indisreplident, indisexclusion, indimmediate,
                      indnatts, indnkeyatts, indnullsnotdistinct, indpred, indkey, indexprs, indoption, indclass) AS
    -- Booleans are 0/1 (typed boolean for results, see catalog_types.rs), so that NOT works.
    SELECT x.oid, x.tbloid, x.isunique <> 0, x.isprimary <> 0, 0, 1, 0, 0, 1,
           (SELECT count(*) FROM _pg_index_columns AS ic WHERE ic.idxoid = x.oid),
           (SELECT count(*) FROM _pg_index_columns AS ic WHERE ic.idxoid = x.oid), 0, NULL,
           (SELECT json_group_array(k.pos) FROM (SELECT c.pos AS pos FROM _pg_index_columns AS ic
                JOIN _pg_columns AS c ON c.tbl = ic.tbl AND c.col = ic.col WHERE ic.idxoid = x.oid ORDER BY ic.pos) AS k),
           NULL,
           -- int2vector text, as a driver reads it ("0 0"): every column ascending.
           (SELECT group_concat('0', ' ') FROM _pg_index_columns AS ic WHERE ic.idxoid = x.oid),
           (SELECT json_group_array(0) FROM _pg_index_columns AS ic WHERE ic.idxoid = x.oid)
    FROM _pg_indexes AS x;
-- Only the default tablespace: an empty pg_tablespace (SQLAlchemy joins it).
DROP VIEW IF EXISTS pg_tablespace;
CREATE VIEW pg_tablespace (oid, spcname, spcowner) AS SELECT 0, '', 0 WHERE 0;
INSERT OR REPLACE INTO _meta (key, value) VALUES ('pg_catalog_views', 6)
