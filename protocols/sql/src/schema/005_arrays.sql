-- pg_type for the types dotdo knows, their array types among them (typcategory 'A').
DROP VIEW IF EXISTS pg_type;
CREATE VIEW pg_type (oid, typname, typnamespace, typowner, typlen, typbyval, typtype, typcategory, typdelim, typelem, typarray,
                     typinput, typoutput, typreceive, typsend, typisdefined, typrelid, typtypmod, typndims, typnotnull, typcollation) AS VALUES
    (16, 'bool', 11, 10, 1, 't', 'b', 'B', ',', 0, 1000, 'boolin', 'boolout', 'boolrecv', 'boolsend', 't', 0, -1, 0, 'f', 0),
    (17, 'bytea', 11, 10, -1, 'f', 'b', 'U', ',', 0, 1001, 'byteain', 'byteaout', 'bytearecv', 'byteasend', 't', 0, -1, 0, 'f', 0),
    (18, 'char', 11, 10, 1, 't', 'b', 'Z', ',', 0, 1002, 'charin', 'charout', 'charrecv', 'charsend', 't', 0, -1, 0, 'f', 0),
    (19, 'name', 11, 10, 64, 'f', 'b', 'S', ',', 18, 1003, 'namein', 'nameout', 'namerecv', 'namesend', 't', 0, -1, 0, 'f', 950),
    (20, 'int8', 11, 10, 8, 't', 'b', 'N', ',', 0, 1016, 'int8in', 'int8out', 'int8recv', 'int8send', 't', 0, -1, 0, 'f', 0),
    (21, 'int2', 11, 10, 2, 't', 'b', 'N', ',', 0, 1005, 'int2in', 'int2out', 'int2recv', 'int2send', 't', 0, -1, 0, 'f', 0),
    (23, 'int4', 11, 10, 4, 't', 'b', 'N', ',', 0, 1007, 'int4in', 'int4out', 'int4recv', 'int4send', 't', 0, -1, 0, 'f', 0),
    (25, 'text', 11, 10, -1, 'f', 'b', 'S', ',', 0, 1009, 'textin', 'textout', 'textrecv', 'textsend', 't', 0, -1, 0, 'f', 100),
    (26, 'oid', 11, 10, 4, 't', 'b', 'N', ',', 0, 1028, 'oidin', 'oidout', 'oidrecv', 'oidsend', 't', 0, -1, 0, 'f', 0),
    (114, 'json', 11, 10, -1, 'f', 'b', 'U', ',', 0, 199, 'json_in', 'json_out', 'json_recv', 'json_send', 't', 0, -1, 0, 'f', 0),
    (199, '_json', 11, 10, -1, 'f', 'b', 'A', ',', 114, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 0),
    (700, 'float4', 11, 10, 4, 't', 'b', 'N', ',', 0, 1021, 'float4in', 'float4out', 'float4recv', 'float4send', 't', 0, -1, 0, 'f', 0),
    (701, 'float8', 11, 10, 8, 't', 'b', 'N', ',', 0, 1022, 'float8in', 'float8out', 'float8recv', 'float8send', 't', 0, -1, 0, 'f', 0),
    (1000, '_bool', 11, 10, -1, 'f', 'b', 'A', ',', 16, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 0),
    (1003, '_name', 11, 10, -1, 'f', 'b', 'A', ',', 19, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 950),
    (1005, '_int2', 11, 10, -1, 'f', 'b', 'A', ',', 21, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 0),
    (1007, '_int4', 11, 10, -1, 'f', 'b', 'A', ',', 23, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 0),
    (1009, '_text', 11, 10, -1, 'f', 'b', 'A', ',', 25, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 100),
    (1014, '_bpchar', 11, 10, -1, 'f', 'b', 'A', ',', 1042, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 100),
    (1015, '_varchar', 11, 10, -1, 'f', 'b', 'A', ',', 1043, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 100),
    (1016, '_int8', 11, 10, -1, 'f', 'b', 'A', ',', 20, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 0),
    (1021, '_float4', 11, 10, -1, 'f', 'b', 'A', ',', 700, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 0),
    (1022, '_float8', 11, 10, -1, 'f', 'b', 'A', ',', 701, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 0),
    (1042, 'bpchar', 11, 10, -1, 'f', 'b', 'S', ',', 0, 1014, 'bpcharin', 'bpcharout', 'bpcharrecv', 'bpcharsend', 't', 0, -1, 0, 'f', 100),
    (1043, 'varchar', 11, 10, -1, 'f', 'b', 'S', ',', 0, 1015, 'varcharin', 'varcharout', 'varcharrecv', 'varcharsend', 't', 0, -1, 0, 'f', 100),
    (1082, 'date', 11, 10, 4, 't', 'b', 'D', ',', 0, 1182, 'date_in', 'date_out', 'date_recv', 'date_send', 't', 0, -1, 0, 'f', 0),
    (1083, 'time', 11, 10, 8, 't', 'b', 'D', ',', 0, 1183, 'time_in', 'time_out', 'time_recv', 'time_send', 't', 0, -1, 0, 'f', 0),
    (1114, 'timestamp', 11, 10, 8, 't', 'b', 'D', ',', 0, 1115, 'timestamp_in', 'timestamp_out', 'timestamp_recv', 'timestamp_send', 't', 0, -1, 0, 'f', 0),
    (1115, '_timestamp', 11, 10, -1, 'f', 'b', 'A', ',', 1114, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 0),
    (1182, '_date', 11, 10, -1, 'f', 'b', 'A', ',', 1082, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 0),
    (1183, '_time', 11, 10, -1, 'f', 'b', 'A', ',', 1083, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 0),
    (1184, 'timestamptz', 11, 10, 8, 't', 'b', 'D', ',', 0, 1185, 'timestamptz_in', 'timestamptz_out', 'timestamptz_recv', 'timestamptz_send', 't', 0, -1, 0, 'f', 0),
    (1185, '_timestamptz', 11, 10, -1, 'f', 'b', 'A', ',', 1184, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 0),
    (1186, 'interval', 11, 10, 16, 'f', 'b', 'T', ',', 0, 1187, 'interval_in', 'interval_out', 'interval_recv', 'interval_send', 't', 0, -1, 0, 'f', 0),
    (1231, '_numeric', 11, 10, -1, 'f', 'b', 'A', ',', 1700, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 0),
    (1700, 'numeric', 11, 10, -1, 'f', 'b', 'N', ',', 0, 1231, 'numeric_in', 'numeric_out', 'numeric_recv', 'numeric_send', 't', 0, -1, 0, 'f', 0),
    (2950, 'uuid', 11, 10, 16, 'f', 'b', 'U', ',', 0, 2951, 'uuid_in', 'uuid_out', 'uuid_recv', 'uuid_send', 't', 0, -1, 0, 'f', 0),
    (2951, '_uuid', 11, 10, -1, 'f', 'b', 'A', ',', 2950, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 0),
    (3802, 'jsonb', 11, 10, -1, 'f', 'b', 'U', ',', 0, 3807, 'jsonb_in', 'jsonb_out', 'jsonb_recv', 'jsonb_send', 't', 0, -1, 0, 'f', 0),
    (3807, '_jsonb', 11, 10, -1, 'f', 'b', 'A', ',', 3802, 0, 'array_in', 'array_out', 'array_recv', 'array_send', 't', 0, -1, 0, 'f', 0);
-- information_schema.columns (its one definition: schemas from 004, array types' data_type and
-- udt_name from pg_type above).
DROP VIEW IF EXISTS _pg_is_columns;
CREATE VIEW _pg_is_columns (table_catalog, table_schema, table_name, column_name, ordinal_position, column_default, is_nullable, data_type,
                             udt_catalog, udt_schema, udt_name) AS
    SELECT (SELECT value FROM _meta WHERE key = 'database'), p.nspname, p.relname, col, pos, dflt, CASE not_null WHEN 1 THEN 'NO' ELSE 'YES' END,
        CASE
            WHEN typ LIKE 'numeric%' OR typ = '1700' THEN 'numeric'
            WHEN (SELECT t.typcategory FROM pg_type AS t WHERE t.oid = CAST(typ AS INTEGER)) = 'A' THEN 'ARRAY'
            ELSE CASE typ
                WHEN '16' THEN 'boolean' WHEN '21' THEN 'smallint' WHEN '23' THEN 'integer' WHEN '20' THEN 'bigint'
                WHEN '700' THEN 'real' WHEN '701' THEN 'double precision' WHEN '25' THEN 'text'
                WHEN '1043' THEN 'character varying' WHEN '1042' THEN 'character' WHEN '17' THEN 'bytea'
                WHEN '1082' THEN 'date' WHEN '1083' THEN 'time without time zone'
                WHEN '1114' THEN 'timestamp without time zone' WHEN '1184' THEN 'timestamp with time zone'
                WHEN '1186' THEN 'interval' WHEN '2950' THEN 'uuid' WHEN '114' THEN 'json' WHEN '3802' THEN 'jsonb'
                ELSE 'text' END
        END,
        (SELECT value FROM _meta WHERE key = 'database'), 'pg_catalog',
        coalesce((SELECT t.typname FROM pg_type AS t WHERE t.oid = CASE WHEN typ LIKE 'numeric%' THEN 1700 ELSE CAST(typ AS INTEGER) END), 'text')
    FROM _pg_columns JOIN _pg_split AS p ON p.storage = tbl
