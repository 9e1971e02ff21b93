DROP VIEW IF EXISTS pg_namespace;
CREATE VIEW pg_namespace (oid, nspname, nspowner) AS VALUES (11, 'pg_catalog', 10), (2200, 'public', 10), (13000, 'information_schema', 10);
DROP VIEW IF EXISTS pg_am;
CREATE VIEW pg_am (oid, amname, amtype) AS VALUES (2, 'heap', 't'), (403, 'btree', 'i');
DROP VIEW IF EXISTS pg_class;
CREATE VIEW pg_class (oid, relname, relnamespace, relkind, relowner, relam, reltuples, relhasindex, relpersistence, relispartition,
                      relchecks, relhasrules, relhastriggers, relrowsecurity, relforcerowsecurity, reltablespace, reloftype, relreplident, reltoastrelid) AS
    SELECT CAST(16384 + rootpage AS INTEGER), name, 2200, CASE type WHEN 'table' THEN 'r' WHEN 'index' THEN 'i' WHEN 'view' THEN 'v' END, 10,
           CASE type WHEN 'index' THEN 403 WHEN 'table' THEN 2 ELSE 0 END, -1,
           CASE WHEN type = 'table' AND EXISTS (SELECT 1 FROM pragma_index_list(name)) THEN 't' ELSE 'f' END, 'p', 'f',
           0, 'f', 'f', 'f', 'f', 0, 0, 'd', 0
    FROM sqlite_schema
    WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_%' ESCAPE '\' AND name NOT LIKE 'pg\_%' ESCAPE '\';
DROP VIEW IF EXISTS pg_tables;
CREATE VIEW pg_tables (schemaname, tablename, tableowner, hasindexes) AS
    SELECT 'public', name, 'postgres', 0 FROM sqlite_schema
    WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_%' ESCAPE '\';
DROP VIEW IF EXISTS pg_partitioned_table;
CREATE VIEW pg_partitioned_table (partrelid, partstrat) AS SELECT 0, 'h' WHERE 0;
DROP VIEW IF EXISTS pg_inherits;
CREATE VIEW pg_inherits (inhrelid, inhparent, inhseqno) AS SELECT 0, 0, 0 WHERE 0;
DROP VIEW IF EXISTS _pg_is_tables;
CREATE VIEW _pg_is_tables (table_catalog, table_schema, table_name, table_type) AS
    SELECT (SELECT value FROM _meta WHERE key = 'database'), 'public', name, CASE type WHEN 'view' THEN 'VIEW' ELSE 'BASE TABLE' END
    FROM sqlite_schema
    WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_%' ESCAPE '\' AND name NOT LIKE 'pg\_%' ESCAPE '\';
DROP VIEW IF EXISTS pg_index;
CREATE VIEW pg_index (indexrelid, indrelid, indisunique, indisprimary) AS
    SELECT CAST(16384 + i.rootpage AS INTEGER), CAST(16384 + t.rootpage AS INTEGER), il."unique",
           CASE WHEN il.origin = 'pk' OR i.name LIKE '%\_pkey' ESCAPE '\' THEN 1 ELSE 0 END
    FROM sqlite_schema AS t JOIN pragma_index_list(t.name) AS il JOIN sqlite_schema AS i ON i.name = il.name
    WHERE t.type = 'table';
DROP VIEW IF EXISTS pg_attribute;
CREATE VIEW pg_attribute (attrelid, attname, atttypid, atttypmod, attnum, attnotnull, atthasdef, attisdropped, attidentity, attgenerated, attcollation, attstorage, attcompression, attstattarget, attlen) AS
    SELECT CAST(16384 + s.rootpage AS INTEGER), c.col, CASE WHEN c.typ LIKE 'numeric%' THEN 1700 ELSE CAST(c.typ AS INTEGER) END, c.typmod, c.pos,
           CASE c.not_null WHEN 1 THEN 't' ELSE 'f' END, CASE WHEN c.dflt IS NULL THEN 'f' ELSE 't' END, 'f', '', '', 0, 'p', '', -1, -1
    FROM _pg_columns AS c JOIN sqlite_schema AS s ON s.name = c.tbl AND s.type = 'table';
DROP VIEW IF EXISTS pg_attrdef;
CREATE VIEW pg_attrdef (oid, adrelid, adnum, adbin) AS
    SELECT 0, CAST(16384 + s.rootpage AS INTEGER), c.pos, c.dflt FROM _pg_columns AS c JOIN sqlite_schema AS s ON s.name = c.tbl AND s.type = 'table' WHERE c.dflt IS NOT NULL;
DROP VIEW IF EXISTS pg_database;
CREATE VIEW pg_database (oid, datname, datdba, encoding, datcollate, datctype, daticulocale, datlocprovider, datacl, datistemplate, datallowconn) AS
    SELECT 16384, value, 10, 6, 'C', 'C', NULL, 'c', NULL, 0, 1 FROM _meta WHERE key = 'database';
INSERT OR REPLACE INTO _meta (key, value) VALUES ('pg_catalog_views', 3);
