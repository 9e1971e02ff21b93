CREATE TABLE IF NOT EXISTS _pg_checks (tbl TEXT NOT NULL, name TEXT NOT NULL, def TEXT NOT NULL, PRIMARY KEY (tbl, name));
CREATE TABLE IF NOT EXISTS _pg_fkeys (tbl TEXT NOT NULL, cols TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (tbl, cols));
CREATE TABLE IF NOT EXISTS _pg_view_columns (view TEXT NOT NULL, col TEXT NOT NULL, pos INTEGER NOT NULL, typ TEXT NOT NULL, PRIMARY KEY (view, col));
DROP VIEW IF EXISTS _pg_user_tables;
CREATE VIEW _pg_user_tables (oid, name) AS
    SELECT CAST(16384 + rootpage AS INTEGER), name FROM sqlite_schema
    WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_%' ESCAPE '\' AND name NOT LIKE 'pg\_%' ESCAPE '\';
DROP VIEW IF EXISTS _pg_indexes;
CREATE VIEW _pg_indexes (oid, name, tbloid, tbl, isunique, isprimary, contype, cols) AS
    SELECT CAST(16384 + i.rootpage AS INTEGER),
           CASE il.origin WHEN 'pk' THEN t.name || '_pkey'
                          WHEN 'u' THEN t.name || '_' || (SELECT group_concat(ii.name, '_') FROM pragma_index_info(il.name) AS ii) || '_key'
                          ELSE il.name END,
           t.oid, t.name, il."unique",
           CASE WHEN il.origin = 'pk' OR il.name LIKE '%\_pkey' ESCAPE '\' THEN 1 ELSE 0 END,
           CASE WHEN il.origin = 'pk' OR il.name LIKE '%\_pkey' ESCAPE '\' THEN 'p'
                WHEN il.origin = 'u' OR (il.origin = 'c' AND il."unique" AND il.name LIKE '%\_key' ESCAPE '\') THEN 'u' END,
           (SELECT group_concat(ii.name, ', ') FROM (SELECT name FROM pragma_index_info(il.name) ORDER BY seqno) AS ii)
    FROM _pg_user_tables AS t JOIN pragma_index_list(t.name) AS il JOIN sqlite_schema AS i ON i.name = il.name
    UNION ALL
    -- An INTEGER PRIMARY KEY is the rowid: SQLite keeps no index for it, PostgreSQL has one.
    SELECT CAST(1000000000 + t.oid AS INTEGER), t.name || '_pkey', t.oid, t.name, 1, 1, 'p',
           (SELECT group_concat(name, ', ') FROM (SELECT name FROM pragma_table_info(t.name) WHERE pk > 0 ORDER BY pk))
    FROM _pg_user_tables AS t
    WHERE EXISTS (SELECT 1 FROM pragma_table_info(t.name) WHERE pk > 0)
      AND NOT EXISTS (SELECT 1 FROM pragma_index_list(t.name) WHERE origin = 'pk');
DROP VIEW IF EXISTS _pg_index_columns;
CREATE VIEW _pg_index_columns (idxoid, tbl, col, pos) AS
    SELECT CAST(16384 + i.rootpage AS INTEGER), t.name, ii.name, ii.seqno + 1
    FROM _pg_user_tables AS t JOIN pragma_index_list(t.name) AS il JOIN sqlite_schema AS i ON i.name = il.name
         JOIN pragma_index_info(il.name) AS ii
    WHERE ii.name IS NOT NULL
    UNION ALL
    SELECT CAST(1000000000 + t.oid AS INTEGER), t.name, ti.name, ti.pk
    FROM _pg_user_tables AS t JOIN pragma_table_info(t.name) AS ti
    WHERE ti.pk > 0 AND NOT EXISTS (SELECT 1 FROM pragma_index_list(t.name) WHERE origin = 'pk');
DROP VIEW IF EXISTS pg_class;
CREATE VIEW pg_class (oid, relname, relnamespace, relkind, relowner, relam, reltuples, relhasindex, relpersistence, relispartition,
                      relchecks, relhasrules, relhastriggers, relrowsecurity, relforcerowsecurity, reltablespace, reloftype, relreplident, reltoastrelid, relpartbound) AS
    -- A view has no pages: its oid comes from its row in sqlite_schema.
    SELECT CAST(CASE s.type WHEN 'view' THEN 800000000 + s.rowid ELSE 16384 + s.rootpage END AS INTEGER), s.name, 2200, CASE s.type WHEN 'table' THEN 'r' ELSE 'v' END, 10,
           CASE s.type WHEN 'table' THEN 2 ELSE 0 END, -1,
           CASE WHEN EXISTS (SELECT 1 FROM _pg_indexes AS x WHERE x.tbl = s.name) THEN 't' ELSE 'f' END, 'p', 'f',
           (SELECT count(*) FROM _pg_checks AS k WHERE k.tbl = s.name), 'f',
           -- PostgreSQL keeps foreign keys with triggers on both tables; psql asks for them only then.
           CASE WHEN s.type = 'table' AND (EXISTS (SELECT 1 FROM pragma_foreign_key_list(s.name))
                OR EXISTS (SELECT 1 FROM _pg_user_tables AS r JOIN pragma_foreign_key_list(r.name) AS f WHERE f."table" = s.name))
                THEN 't' ELSE 'f' END,
           'f', 'f', 0, 0, 'd', 0, NULL
    FROM sqlite_schema AS s
    WHERE s.type IN ('table', 'view') AND s.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND s.name NOT LIKE '\_%' ESCAPE '\' AND s.name NOT LIKE 'pg\_%' ESCAPE '\'
    UNION ALL
    SELECT oid, name, 2200, 'i', 10, 403, -1, 'f', 'p', 'f', 0, 'f', 'f', 'f', 'f', 0, 0, 'n', 0, NULL FROM _pg_indexes
    UNION ALL
    SELECT CAST(900000000 + rowid AS INTEGER), name, 2200, 'S', 10, 0, -1, 'f', 'p', 'f', 0, 'f', 'f', 'f', 'f', 0, 0, 'n', 0, NULL FROM _pg_sequences;
DROP VIEW IF EXISTS pg_index;
CREATE VIEW pg_index (indexrelid, indrelid, indisunique, indisprimary, indisclustered, indisvalid, indisreplident, indisexclusion, indimmediate,
                      indnatts, indnkeyatts, indnullsnotdistinct, indpred) AS
    SELECT x.oid, x.tbloid, CASE x.isunique WHEN 1 THEN 't' ELSE 'f' END, CASE x.isprimary WHEN 1 THEN 't' ELSE 'f' END, 'f', 't', 'f', 'f', 1,
           (SELECT count(*) FROM _pg_index_columns AS ic WHERE ic.idxoid = x.oid),
           (SELECT count(*) FROM _pg_index_columns AS ic WHERE ic.idxoid = x.oid), 'f', NULL
    FROM _pg_indexes AS x;
DROP VIEW IF EXISTS pg_constraint;
CREATE VIEW pg_constraint (oid, conname, connamespace, contype, condeferrable, condeferred, convalidated, conrelid, contypid, conindid, conparentid, confrelid, _def) AS
    SELECT CAST(500000000 + oid AS INTEGER), name, 2200, contype, 'f', 'f', 't', tbloid, 0, oid, 0, 0,
           CASE contype WHEN 'p' THEN 'PRIMARY KEY (' ELSE 'UNIQUE (' END || cols || ')'
    FROM _pg_indexes WHERE contype IS NOT NULL
    UNION ALL
    SELECT CAST(600000000 + g.toid * 64 + g.id AS INTEGER),
           coalesce((SELECT k.name FROM _pg_fkeys AS k WHERE k.tbl = g.tname AND k.cols = g.cols),
                    g.tname || '_' || replace(g.cols, ',', '_') || '_fkey'), 2200, 'f', 'f', 'f', 't', g.toid, 0, 0, 0,
           (SELECT r.oid FROM _pg_user_tables AS r WHERE r.name = g.ftable),
           'FOREIGN KEY (' || replace(g.cols, ',', ', ') || ') REFERENCES ' || g.ftable || '(' || g.tcols || ')'
           || CASE g.upd WHEN 'NO ACTION' THEN '' ELSE ' ON UPDATE ' || g.upd END
           || CASE g.del WHEN 'NO ACTION' THEN '' ELSE ' ON DELETE ' || g.del END
    FROM (SELECT t.oid AS toid, t.name AS tname, fk.id AS id, fk."table" AS ftable, group_concat(fk."from", ',') AS cols,
                 group_concat(fk."to", ', ') AS tcols, max(fk.on_update) AS upd, max(fk.on_delete) AS del
          FROM _pg_user_tables AS t JOIN pragma_foreign_key_list(t.name) AS fk
          GROUP BY t.oid, fk.id) AS g
    UNION ALL
    SELECT CAST(700000000 + t.oid * 64 + c.rowid % 64 AS INTEGER), c.name, 2200, 'c', 'f', 'f', 't', t.oid, 0, 0, 0, 0, c.def
    FROM _pg_checks AS c JOIN _pg_user_tables AS t ON t.name = c.tbl;
DROP VIEW IF EXISTS pg_roles;
CREATE VIEW pg_roles (oid, rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolconnlimit, rolpassword, rolvaliduntil, rolbypassrls, rolconfig) AS
    VALUES (10, 'postgres', 't', 't', 't', 't', 't', 't', -1, '********', NULL, 't', NULL);
DROP VIEW IF EXISTS pg_sequence;
CREATE VIEW pg_sequence (seqrelid, seqtypid, seqstart, seqincrement, seqmax, seqmin, seqcache, seqcycle) AS
    SELECT CAST(900000000 + rowid AS INTEGER), 20, start_value, increment, max_value, min_value, 1, cycle <> 0 FROM _pg_sequences
;
DROP VIEW IF EXISTS pg_attribute;
CREATE VIEW pg_attribute (attrelid, attname, atttypid, atttypmod, attnum, attnotnull, atthasdef, attisdropped, attidentity, attgenerated, attcollation, attstorage, attcompression, attstattarget, attlen) AS
    SELECT CAST(16384 + s.rootpage AS INTEGER), c.col, CASE WHEN c.typ LIKE 'numeric%' THEN 1700 ELSE CAST(c.typ AS INTEGER) END, c.typmod, c.pos,
           CASE c.not_null WHEN 1 THEN 't' ELSE 'f' END, c.dflt IS NOT NULL, 0, '', '', 0, 'p', '', -1, -1
    FROM _pg_columns AS c JOIN sqlite_schema AS s ON s.name = c.tbl AND s.type = 'table'
    UNION ALL
    SELECT CAST(800000000 + s.rowid AS INTEGER), v.col, CASE WHEN v.typ LIKE 'numeric%' THEN 1700 ELSE CAST(v.typ AS INTEGER) END, -1, v.pos,
           'f', 0, 0, '', '', 0, 'p', '', -1, -1
    FROM _pg_view_columns AS v JOIN sqlite_schema AS s ON s.name = v.view AND s.type = 'view'
    UNION ALL
    SELECT ic.idxoid, ic.col, CASE WHEN c.typ LIKE 'numeric%' THEN 1700 ELSE CAST(c.typ AS INTEGER) END, c.typmod, ic.pos,
           'f', 0, 0, '', '', 0, 'p', '', -1, -1
    FROM _pg_index_columns AS ic JOIN _pg_columns AS c ON c.tbl = ic.tbl AND c.col = ic.col
;
-- Lookups for pg_get_indexdef, pg_get_constraintdef and regclass names: their columns are
-- named so that no outer column (oid, relname) is captured by the subquery they serve.
DROP VIEW IF EXISTS _pg_lookup_indexdef;
CREATE VIEW _pg_lookup_indexdef (_key, _val) AS
    SELECT oid, 'CREATE ' || CASE isunique WHEN 1 THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || name || ' ON public.' || tbl || ' USING btree (' || cols || ')' FROM _pg_indexes;
DROP VIEW IF EXISTS _pg_lookup_condef;
CREATE VIEW _pg_lookup_condef (_key, _val) AS SELECT oid, _def FROM pg_constraint;
DROP VIEW IF EXISTS _pg_lookup_relname;
CREATE VIEW _pg_lookup_relname (_key, _val) AS SELECT oid, relname FROM pg_class;
DROP VIEW IF EXISTS _pg_lookup_reloid;
CREATE VIEW _pg_lookup_reloid (_key, _val) AS SELECT relname, oid FROM pg_class
;
DROP VIEW IF EXISTS pg_sequences;
CREATE VIEW pg_sequences (schemaname, sequencename, sequenceowner, data_type, start_value, min_value, max_value, increment_by, cycle, cache_size, last_value) AS
    SELECT 'public', name, 'postgres', 'bigint', start_value, min_value, max_value, increment, CASE cycle WHEN 0 THEN 'f' ELSE 't' END, 1,
           CASE WHEN is_called THEN last_value END
    FROM _pg_sequences;
DROP VIEW IF EXISTS _pg_is_sequences;
CREATE VIEW _pg_is_sequences (sequence_catalog, sequence_schema, sequence_name, data_type, numeric_precision, numeric_precision_radix, numeric_scale,
                              start_value, minimum_value, maximum_value, increment, cycle_option) AS
    SELECT (SELECT value FROM _meta WHERE key = 'database'), 'public', name, 'bigint', 64, 2, 0,
           CAST(start_value AS TEXT), CAST(min_value AS TEXT), CAST(max_value AS TEXT), CAST(increment AS TEXT), CASE cycle WHEN 0 THEN 'NO' ELSE 'YES' END
    FROM _pg_sequences
;
DROP VIEW IF EXISTS _pg_lookup_indexcol;
CREATE VIEW _pg_lookup_indexcol (_key, _pos, _val) AS SELECT idxoid, pos, col FROM _pg_index_columns
;
DROP VIEW IF EXISTS pg_namespace;
CREATE VIEW pg_namespace (oid, nspname, nspowner) AS VALUES (11, 'pg_catalog', 10), (2200, 'public', 6171), (13000, 'information_schema', 10)
