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
DROP VIEW IF EXISTS _pg_is_tables;
CREATE VIEW _pg_is_tables (table_catalog, table_schema, table_name, table_type) AS
    SELECT (SELECT value FROM _meta WHERE key = 'database'), 'public', name, CASE type WHEN 'view' THEN 'VIEW' ELSE 'BASE TABLE' END
    FROM sqlite_schema
    WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_%' ESCAPE '\' AND name NOT LIKE 'pg\_%' ESCAPE '\';
DROP VIEW IF EXISTS _pg_is_columns;
CREATE VIEW _pg_is_columns (table_catalog, table_schema, table_name, column_name, ordinal_position, column_default, is_nullable, data_type) AS
    SELECT (SELECT value FROM _meta WHERE key = 'database'), 'public', tbl, col, pos, dflt, CASE not_null WHEN 1 THEN 'NO' ELSE 'YES' END,
        CASE
            WHEN typ LIKE 'numeric%' OR typ = '1700' THEN 'numeric'
            ELSE CASE typ
                WHEN '16' THEN 'boolean' WHEN '21' THEN 'smallint' WHEN '23' THEN 'integer' WHEN '20' THEN 'bigint'
                WHEN '700' THEN 'real' WHEN '701' THEN 'double precision' WHEN '25' THEN 'text'
                WHEN '1043' THEN 'character varying' WHEN '1042' THEN 'character' WHEN '17' THEN 'bytea'
                WHEN '1082' THEN 'date' WHEN '1083' THEN 'time without time zone'
                WHEN '1114' THEN 'timestamp without time zone' WHEN '1184' THEN 'timestamp with time zone'
                WHEN '1186' THEN 'interval' WHEN '2950' THEN 'uuid' WHEN '114' THEN 'json' WHEN '3802' THEN 'jsonb'
                ELSE 'text' END
        END
    FROM _pg_columns;
INSERT OR REPLACE INTO _meta (key, value) VALUES ('pg_catalog_views', 2);
