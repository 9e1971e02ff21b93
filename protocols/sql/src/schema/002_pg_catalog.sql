DROP VIEW IF EXISTS pg_namespace;
CREATE VIEW pg_namespace (oid, nspname, nspowner) AS VALUES (11, 'pg_catalog', 10), (2200, 'public', 10), (13000, 'information_schema', 10);
DROP VIEW IF EXISTS pg_am;
CREATE VIEW pg_am (oid, amname, amtype) AS VALUES (2, 'heap', 't'), (403, 'btree', 'i');
DROP VIEW IF EXISTS pg_class;
CREATE VIEW pg_class (oid, relname, relnamespace, relkind, relowner, relam, reltuples, relhasindex, relpersistence, relispartition) AS
    SELECT 16384 + rootpage, name, 2200, CASE type WHEN 'table' THEN 'r' WHEN 'index' THEN 'i' WHEN 'view' THEN 'v' END, 10,
           CASE type WHEN 'index' THEN 403 WHEN 'table' THEN 2 ELSE 0 END, -1, 0, 'p', 0
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
INSERT OR REPLACE INTO _meta (key, value) VALUES ('pg_catalog_views', 1);
