-- Schemas: CREATE SCHEMA records a row here; a relation of schema s is stored in SQLite as
-- "s.name", one of public under its bare name (as every earlier version stored it).
CREATE TABLE IF NOT EXISTS _pg_namespaces (oid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, owner INTEGER NOT NULL DEFAULT 10);
DROP VIEW IF EXISTS pg_namespace;
CREATE VIEW pg_namespace (oid, nspname, nspowner) AS
    SELECT 11, 'pg_catalog', 10 UNION ALL SELECT 2200, 'public', 6171 UNION ALL SELECT 13000, 'information_schema', 10
    UNION ALL SELECT oid, name, owner FROM _pg_namespaces;
-- Every stored name split into its schema and its name in that schema.
DROP VIEW IF EXISTS _pg_split;
CREATE VIEW _pg_split (storage, nspoid, nspname, relname) AS
    SELECT x.name, coalesce(ns.oid, 2200), coalesce(ns.name, 'public'),
           CASE WHEN ns.name IS NULL THEN x.name ELSE substr(x.name, length(ns.name) + 2) END
    FROM (SELECT name FROM sqlite_schema UNION SELECT name FROM _pg_sequences) AS x
         LEFT JOIN _pg_namespaces AS ns ON substr(x.name, 1, length(ns.name) + 1) = ns.name || '.';
DROP VIEW IF EXISTS pg_tables;
CREATE VIEW pg_tables (schemaname, tablename, tableowner, hasindexes) AS
    SELECT p.nspname, p.relname, 'postgres', 0 FROM sqlite_schema AS s JOIN _pg_split AS p ON p.storage = s.name
    WHERE s.type = 'table' AND s.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND s.name NOT LIKE '\_%' ESCAPE '\';
DROP VIEW IF EXISTS _pg_is_tables;
CREATE VIEW _pg_is_tables (table_catalog, table_schema, table_name, table_type) AS
    SELECT (SELECT value FROM _meta WHERE key = 'database'), p.nspname, p.relname, CASE s.type WHEN 'view' THEN 'VIEW' ELSE 'BASE TABLE' END
    FROM sqlite_schema AS s JOIN _pg_split AS p ON p.storage = s.name
    WHERE s.type IN ('table', 'view') AND s.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND s.name NOT LIKE '\_%' ESCAPE '\' AND s.name NOT LIKE 'pg\_%' ESCAPE '\';
DROP VIEW IF EXISTS _pg_is_schemata;
CREATE VIEW _pg_is_schemata (catalog_name, schema_name, schema_owner) AS
    SELECT (SELECT value FROM _meta WHERE key = 'database'), nspname, CASE nspowner WHEN 6171 THEN 'pg_database_owner' ELSE 'postgres' END
    FROM pg_namespace;
DROP VIEW IF EXISTS _pg_indexes;
CREATE VIEW _pg_indexes (oid, name, tbloid, tbl, isunique, isprimary, contype, cols) AS
    SELECT CAST(16384 + i.rootpage AS INTEGER),
           CASE il.origin WHEN 'pk' THEN (SELECT p.relname FROM _pg_split AS p WHERE p.storage = t.name) || '_pkey'
                          WHEN 'u' THEN (SELECT p.relname FROM _pg_split AS p WHERE p.storage = t.name) || '_'
                                        || (SELECT group_concat(ii.name, '_') FROM pragma_index_info(il.name) AS ii) || '_key'
                          ELSE (SELECT p.relname FROM _pg_split AS p WHERE p.storage = il.name) END,
           t.oid, t.name, il."unique",
           CASE WHEN il.origin = 'pk' OR il.name LIKE '%\_pkey' ESCAPE '\' THEN 1 ELSE 0 END,
           CASE WHEN il.origin = 'pk' OR il.name LIKE '%\_pkey' ESCAPE '\' THEN 'p'
                WHEN il.origin = 'u' OR (il.origin = 'c' AND il."unique" AND il.name LIKE '%\_key' ESCAPE '\') THEN 'u' END,
           (SELECT group_concat(ii.name, ', ') FROM (SELECT name FROM pragma_index_info(il.name) ORDER BY seqno) AS ii)
    FROM _pg_user_tables AS t JOIN pragma_index_list(t.name) AS il JOIN sqlite_schema AS i ON i.name = il.name
    UNION ALL
    -- An INTEGER PRIMARY KEY is the rowid: SQLite keeps no index for it, PostgreSQL has one.
    SELECT CAST(1000000000 + t.oid AS INTEGER), (SELECT p.relname FROM _pg_split AS p WHERE p.storage = t.name) || '_pkey', t.oid, t.name, 1, 1, 'p',
           (SELECT group_concat(name, ', ') FROM (SELECT name FROM pragma_table_info(t.name) WHERE pk > 0 ORDER BY pk))
    FROM _pg_user_tables AS t
    WHERE EXISTS (SELECT 1 FROM pragma_table_info(t.name) WHERE pk > 0)
      AND NOT EXISTS (SELECT 1 FROM pragma_index_list(t.name) WHERE origin = 'pk');
DROP VIEW IF EXISTS pg_class;
CREATE VIEW pg_class (oid, relname, relnamespace, relkind, relowner, relam, reltuples, relhasindex, relpersistence, relispartition,
                      relchecks, relhasrules, relhastriggers, relrowsecurity, relforcerowsecurity, reltablespace, reloftype, relreplident, reltoastrelid, relpartbound) AS
    -- A view has no pages: its oid comes from its row in sqlite_schema.
    SELECT CAST(CASE s.type WHEN 'view' THEN 800000000 + s.rowid ELSE 16384 + s.rootpage END AS INTEGER), p.relname, p.nspoid, CASE s.type WHEN 'table' THEN 'r' ELSE 'v' END, 10,
           CASE s.type WHEN 'table' THEN 2 ELSE 0 END, -1,
           CASE WHEN EXISTS (SELECT 1 FROM _pg_indexes AS x WHERE x.tbl = s.name) THEN 't' ELSE 'f' END, 'p', 'f',
           (SELECT count(*) FROM _pg_checks AS k WHERE k.tbl = s.name), 'f',
           -- PostgreSQL keeps foreign keys with triggers on both tables; psql asks for them only then.
           CASE WHEN s.type = 'table' AND (EXISTS (SELECT 1 FROM pragma_foreign_key_list(s.name))
                OR EXISTS (SELECT 1 FROM _pg_user_tables AS r JOIN pragma_foreign_key_list(r.name) AS f WHERE f."table" = s.name))
                THEN 't' ELSE 'f' END,
           'f', 'f', 0, 0, 'd', 0, NULL
    FROM sqlite_schema AS s JOIN _pg_split AS p ON p.storage = s.name
    WHERE s.type IN ('table', 'view') AND s.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND s.name NOT LIKE '\_%' ESCAPE '\' AND s.name NOT LIKE 'pg\_%' ESCAPE '\'
    UNION ALL
    SELECT x.oid, x.name, (SELECT p.nspoid FROM _pg_split AS p WHERE p.storage = x.tbl), 'i', 10, 403, -1, 'f', 'p', 'f', 0, 'f', 'f', 'f', 'f', 0, 0, 'n', 0, NULL
    FROM _pg_indexes AS x
    UNION ALL
    SELECT CAST(900000000 + q.rowid AS INTEGER), p.relname, p.nspoid, 'S', 10, 0, -1, 'f', 'p', 'f', 0, 'f', 'f', 'f', 'f', 0, 0, 'n', 0, NULL
    FROM _pg_sequences AS q JOIN _pg_split AS p ON p.storage = q.name;
DROP VIEW IF EXISTS pg_constraint;
CREATE VIEW pg_constraint (oid, conname, connamespace, contype, condeferrable, condeferred, convalidated, conrelid, contypid, conindid, conparentid, confrelid, _def) AS
    SELECT CAST(500000000 + x.oid AS INTEGER), x.name, (SELECT p.nspoid FROM _pg_split AS p WHERE p.storage = x.tbl), x.contype, 'f', 'f', 't', x.tbloid, 0, x.oid, 0, 0,
           CASE x.contype WHEN 'p' THEN 'PRIMARY KEY (' ELSE 'UNIQUE (' END || x.cols || ')'
    FROM _pg_indexes AS x WHERE x.contype IS NOT NULL
    UNION ALL
    SELECT CAST(600000000 + g.toid * 64 + g.id AS INTEGER),
           coalesce((SELECT k.name FROM _pg_fkeys AS k WHERE k.tbl = g.tname AND k.cols = g.cols),
                    (SELECT p.relname FROM _pg_split AS p WHERE p.storage = g.tname) || '_' || replace(g.cols, ',', '_') || '_fkey'),
           (SELECT p.nspoid FROM _pg_split AS p WHERE p.storage = g.tname), 'f', 'f', 'f', 't', g.toid, 0, 0, 0,
           (SELECT r.oid FROM _pg_user_tables AS r WHERE r.name = g.ftable),
           'FOREIGN KEY (' || replace(g.cols, ',', ', ') || ') REFERENCES ' || g.ftable || '(' || g.tcols || ')'
           || CASE g.upd WHEN 'NO ACTION' THEN '' ELSE ' ON UPDATE ' || g.upd END
           || CASE g.del WHEN 'NO ACTION' THEN '' ELSE ' ON DELETE ' || g.del END
    FROM (SELECT t.oid AS toid, t.name AS tname, fk.id AS id, fk."table" AS ftable, group_concat(fk."from", ',') AS cols,
                 group_concat(fk."to", ', ') AS tcols, max(fk.on_update) AS upd, max(fk.on_delete) AS del
          FROM _pg_user_tables AS t JOIN pragma_foreign_key_list(t.name) AS fk
          GROUP BY t.oid, fk.id) AS g
    UNION ALL
    SELECT CAST(700000000 + t.oid * 64 + c.rowid % 64 AS INTEGER), c.name, (SELECT p.nspoid FROM _pg_split AS p WHERE p.storage = c.tbl), 'c', 'f', 'f', 't', t.oid, 0, 0, 0, 0, c.def
    FROM _pg_checks AS c JOIN _pg_user_tables AS t ON t.name = c.tbl;
-- A relation of another schema prints qualified (as PostgreSQL prints what is not on the
-- default search_path); its stored name is that qualified name.
DROP VIEW IF EXISTS _pg_lookup_indexdef;
CREATE VIEW _pg_lookup_indexdef (_key, _val) AS
    SELECT x.oid, 'CREATE ' || CASE x.isunique WHEN 1 THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || x.name || ' ON '
           || CASE WHEN (SELECT p.nspoid FROM _pg_split AS p WHERE p.storage = x.tbl) = 2200 THEN 'public.' || x.tbl ELSE x.tbl END
           || ' USING btree (' || x.cols || ')' FROM _pg_indexes AS x;
DROP VIEW IF EXISTS _pg_lookup_relname;
CREATE VIEW _pg_lookup_relname (_key, _val) AS
    SELECT c.oid, CASE c.relnamespace WHEN 2200 THEN c.relname ELSE n.nspname || '.' || c.relname END
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace;
DROP VIEW IF EXISTS _pg_lookup_reloid;
CREATE VIEW _pg_lookup_reloid (_key, _val) AS
    SELECT CASE c.relnamespace WHEN 2200 THEN c.relname ELSE n.nspname || '.' || c.relname END, c.oid
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace;
DROP VIEW IF EXISTS pg_sequences;
CREATE VIEW pg_sequences (schemaname, sequencename, sequenceowner, data_type, start_value, min_value, max_value, increment_by, cycle, cache_size, last_value) AS
    SELECT p.nspname, p.relname, 'postgres', 'bigint', start_value, min_value, max_value, increment, CASE cycle WHEN 0 THEN 'f' ELSE 't' END, 1,
           CASE WHEN is_called THEN last_value END
    FROM _pg_sequences JOIN _pg_split AS p ON p.storage = name;
DROP VIEW IF EXISTS _pg_is_sequences;
CREATE VIEW _pg_is_sequences (sequence_catalog, sequence_schema, sequence_name, data_type, numeric_precision, numeric_precision_radix, numeric_scale,
                              start_value, minimum_value, maximum_value, increment, cycle_option) AS
    SELECT (SELECT value FROM _meta WHERE key = 'database'), p.nspname, p.relname, 'bigint', 64, 2, 0,
           CAST(start_value AS TEXT), CAST(min_value AS TEXT), CAST(max_value AS TEXT), CAST(increment AS TEXT), CASE cycle WHEN 0 THEN 'NO' ELSE 'YES' END
    FROM _pg_sequences JOIN _pg_split AS p ON p.storage = name;
INSERT OR REPLACE INTO _meta (key, value) VALUES ('pg_catalog_views', 4)
