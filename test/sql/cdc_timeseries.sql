-- The output plugin "nosql" and time series: every row inserted into a
-- partition of a time-series table is an "insert" event named after the
-- table; rows the storage moves (the conversion, the maintenance's moves
-- out of the default partition, decompression) are no new points and emit
-- nothing, also when a savepoint is rolled back or the transaction is
-- streamed.  Resume tokens and commit times depend on the WAL position and
-- the clock: the listings mask them.
SET search_path = public, nosql;
SET timezone = 'UTC';
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- An event's text with its resume token and commit time masked
CREATE FUNCTION cts_mask(data text) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(data,
        '"_data": "[0-9A-F]{24}"', '"_data": "<token>"'),
        '"clusterTime": \{"\$timestamp": \{"t": [0-9]+, "i": [0-9]+\}\}', '"clusterTime": <commit>'),
        '"wallTime": \{"\$date": "[^"]*"\}', '"wallTime": <commit>')
$$;

-- The time-series events the slot has, without consuming them (the
-- database may hold other tests' collections, which the worker may write)
CREATE FUNCTION cts_peek(VARIADIC opts text[] DEFAULT ARRAY['include_kv', 'false'])
    RETURNS TABLE (n bigint, lsn pg_lsn, x xid, data text) LANGUAGE sql AS $$
    SELECT row_number() OVER (), lsn, xid, data
      FROM pg_logical_slot_peek_changes('cts', NULL, NULL,
                                        VARIADIC ARRAY['include_collections', 'false'] || opts)
$$;
-- The fullDocument of each time-series event, in order
CREATE FUNCTION cts_docs(VARIADIC opts text[] DEFAULT ARRAY['include_kv', 'false'])
    RETURNS TABLE (n bigint, coll text, doc bson) LANGUAGE sql AS $$
    SELECT n, data::bson -> 'ns' ->> 'coll', data::bson -> 'fullDocument'
      FROM cts_peek(VARIADIC opts) WHERE data::bson ->> 'operationType' IS NOT NULL
$$;
-- Consume what the slot has
CREATE FUNCTION cts_consume() RETURNS void LANGUAGE sql AS $$
    SELECT count(*) FROM pg_logical_slot_get_changes('cts', NULL, NULL, 'include_kv', 'false')
$$;

-- A table with rows, a slot, then the conversion: the rows it puts back
-- into the new partitioned table are no new points.
CREATE SCHEMA cts;
CREATE TYPE cts.mood AS ENUM ('calm', 'busy');
CREATE DOMAIN cts.small_count AS int4 CHECK (VALUE >= 0);
CREATE TABLE cts.m (
    time timestamptz NOT NULL,
    host text,
    v float8,
    f4 real,
    n int4,
    big int8,
    small int2,
    ok boolean,
    amount numeric,
    doc jsonb,
    b nosql.bson,
    raw bytea,
    id uuid,
    day date,
    ts timestamp,
    nm name,
    vc varchar(8),
    bp char(4),
    tags text[],
    mood cts.mood,
    cnt cts.small_count
);
INSERT INTO cts.m (time, host, v) VALUES ('2025-01-01 10:00', 'old', 1), ('2025-01-02 10:00', 'old', 2);
SELECT 'created' FROM pg_create_logical_replication_slot('cts', 'nosql');
SELECT nosql.create_timeseries('cts.m', 'time', segment_by => '{host}', chunk_interval => '1 day');
SELECT count(*) AS rows_kept FROM cts.m;
SELECT count(*) AS conversion_events FROM cts_peek();

-- Points: every type the mapping knows, NULLs, microseconds.
INSERT INTO cts.m VALUES
    ('2025-01-01 12:00:00.123456', 'h1', 1.5, 2.5, 7, 9007199254740993, -3, true,
     12.50, '{"a": 1, "l": [1, 2.5, "x", null, true, {"b": 12345678901}], "o": {}}',
     '{"x": {"$numberLong": "5"}, "d": {"$date": "2025-01-01T00:00:00Z"}}',
     '\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2025-01-01',
     '2025-01-01 12:00:00.999999', 'a name', 'varchar', 'ab', '{x,"y z"}', 'busy', 3);
INSERT INTO cts.m (time, host) VALUES ('2025-01-01 12:00:01', NULL);
-- numerics beyond 34 digits are rounded; beyond decimal128's exponents a double
INSERT INTO cts.m (time, host, amount) VALUES
    ('2025-01-01 12:00:02', 'num', 1234567890123456789012345678901234567890.5),
    ('2025-01-01 12:00:03', 'num', 'NaN'),
    ('2025-01-01 12:00:04', 'num', '-Infinity'),
    ('2025-01-01 12:00:05', 'num', 0.000000000000000000000000000000000000000001),
    ('2025-01-01 12:00:06', 'num', 1e-7000),
    ('2025-01-01 12:00:07', 'num', -0.0);
-- jsonb scalars, and nesting deeper than a document may be: its text
INSERT INTO cts.m (time, host, doc) VALUES
    ('2025-01-01 12:00:08', 'json', '"a string"'),
    ('2025-01-01 12:00:09', 'json', '-2147483649'),
    ('2025-01-01 12:00:10', 'json', '1e400'),
    ('2025-01-01 12:00:11', 'json', (repeat('[', 101) || repeat(']', 101))::jsonb);
-- infinite times, a time before 1970 with sub-millisecond digits (cut,
-- towards the past), float specials
INSERT INTO cts.m (time, host, day, ts, v, f4) VALUES
    ('2025-01-01 12:00:12', 'times', '-infinity', 'infinity', 'NaN', '-Infinity'),
    ('2025-01-01 12:00:13', 'times', '1969-12-31', '1969-12-31 23:59:59.9995', '-0', 1e-40);
-- COPY writes its rows in batches per partition: each row is a point
COPY cts.m (time, host, n) FROM STDIN;
2025-01-01 12:00:14+00	copy	1
2025-01-02 12:00:14+00	copy	2
2025-01-01 12:00:15+00	copy	3
\.
SELECT n, cts_mask(data) FROM cts_peek() WHERE n = 1;
SELECT n, coll, doc FROM cts_docs() WHERE n = 2;
SELECT n, doc ->> 'host' AS host, doc -> 'amount' AS amount FROM cts_docs() WHERE doc ->> 'host' = 'num';
SELECT n, doc ->> 'host' AS host, doc -> 'doc' AS doc FROM cts_docs() WHERE doc ->> 'host' = 'json';
SELECT n, doc ->> 'host' AS host, doc -> 'day' AS day, doc -> 'ts' AS ts, doc -> 'v' AS v, doc -> 'f4' AS f4
  FROM cts_docs() WHERE doc ->> 'host' = 'times';
SELECT n, doc ->> 'time' AS time, doc -> 'n' AS n FROM cts_docs() WHERE doc ->> 'host' = 'copy';
-- the same events as BSON, byte for byte
SELECT count(*) AS events, bool_and(b.data = t.data::bson::bytea) AS same_bytes
  FROM (SELECT row_number() OVER () AS n, data
          FROM pg_logical_slot_peek_binary_changes('cts', NULL, NULL, 'format', 'bson',
                                                   'include_kv', 'false', 'include_collections', 'false')) b
  JOIN cts_peek() t USING (n);
SELECT (data::bson) -> 'fullDocument' -> 'id' AS uuid, (data::bson) -> 'ns' AS ns
  FROM pg_logical_slot_peek_binary_changes('cts', NULL, NULL, 'format', 'bson',
                                           'include_kv', 'false', 'include_collections', 'false')
 LIMIT 1;
-- tokens: commit LSN then ordinal, increasing; clusterTime's increment is
-- the ordinal; one transaction's events share the commit
CREATE TEMP TABLE ev AS
    SELECT n, lsn, x, data::bson AS e, data::bson -> '_id' ->> '_data' AS token FROM cts_peek();
SELECT count(*) AS events,
       bool_and(token ~ '^[0-9A-F]{24}$') AS token_form,
       bool_and((substr(token, 1, 8) || '/' || substr(token, 9, 8))::pg_lsn > lsn) AS after_change,
       bool_and(((e::json -> 'clusterTime' -> '$timestamp' ->> 'i')::bigint)
                = ('x' || substr(token, 17, 8))::bit(32)::bigint) AS increment_is_ordinal,
       bool_and(e -> 'documentKey' IS NULL) AS no_document_key
  FROM ev;
SELECT bool_and(token > prev) AS tokens_increase
  FROM (SELECT token, lag(token) OVER (ORDER BY n) AS prev FROM ev) s WHERE prev IS NOT NULL;
SELECT count(*) AS events, count(DISTINCT substr(token, 1, 16)) AS commits
  FROM ev WHERE e -> 'fullDocument' ->> 'host' = 'num';
DROP TABLE ev;
SELECT cts_consume();

-- A row of the default partition is a point; the maintenance moves it into
-- a partition of its own (the background worker may do it first): no
-- second event.  A point of that partition afterwards is one.
INSERT INTO cts.m (time, host) VALUES ('2024-06-01 08:00', 'backfill') RETURNING tableoid::regclass;
SELECT nosql.timeseries_maintain('cts.m');
SELECT tableoid::regclass FROM cts.m WHERE host = 'backfill';
INSERT INTO cts.m (time, host) VALUES ('2024-06-01 09:00', 'new partition') RETURNING tableoid::regclass;
SELECT n, coll, doc ->> 'host' AS host FROM cts_docs();
-- all in one transaction: the partition made by the maintenance counts for
-- the inserts after it
BEGIN;
INSERT INTO cts.m (time, host) VALUES ('2023-03-03 01:00', 'default') RETURNING tableoid::regclass;
SELECT nosql.timeseries_maintain('cts.m');
INSERT INTO cts.m (time, host) VALUES ('2023-03-03 02:00', 'same transaction') RETURNING tableoid::regclass;
COMMIT;
SELECT n, coll, doc ->> 'host' AS host FROM cts_docs();
SELECT cts_consume();

-- Options: include_timeseries, timeseries (tables by schema.table).
CREATE TABLE cts.m2 (time timestamptz NOT NULL, v int);
SELECT nosql.create_timeseries('cts.m2', 'time');
INSERT INTO cts.m (time, host) VALUES ('2025-01-02 01:00', 'in m');
INSERT INTO cts.m2 VALUES ('2025-01-02 01:00', 2);
-- a column added later is in the events after it
ALTER TABLE cts.m2 ADD COLUMN extra text DEFAULT 'added';
INSERT INTO cts.m2 VALUES ('2025-01-02 02:00', 3);
SELECT n, coll, doc FROM cts_docs();
SELECT n, coll, doc FROM cts_docs('timeseries', 'cts.m2');
SELECT n, coll, doc FROM cts_docs('timeseries', ' cts.m2 , cts.m ');
SELECT count(*) FROM cts_docs('timeseries', 'cts.nothing');
SELECT count(*) FROM cts_docs('include_timeseries', 'false');
SELECT count(*) FROM cts_docs('include_timeseries', 'off', 'timeseries', 'cts.m');
SELECT * FROM cts_peek('include_timeseries', 'maybe');
SELECT * FROM cts_peek('timeseries', 'nodot');
SELECT * FROM cts_peek('timeseries', 'cts.m,');
SELECT * FROM cts_peek('timeseries', '.m');
SELECT * FROM cts_peek('timeseries', 'cts.');
SELECT * FROM cts_peek('time_series', 'cts.m');
SELECT cts_consume();

-- Compression deletes rows and inserts blocks, decompression inserts the
-- rows again: neither emits anything.
SELECT nosql.compress_timeseries('cts.m') > 0 AS compressed;
SELECT count(*) AS compression_events FROM cts_peek();
SELECT nosql.decompress_timeseries('cts.m') > 0 AS decompressed;
SELECT count(*) AS decompression_events FROM cts_peek();
-- an UPDATE of a compressed partition first moves its blocks back into
-- rows: no event for them, nor for the update; a point inserted after it in
-- the same transaction is one
SELECT nosql.compress_timeseries('cts.m') > 0 AS compressed;
BEGIN;
UPDATE cts.m SET v = 10 WHERE time >= '2025-01-01' AND time < '2025-01-02' AND host = 'h1';
INSERT INTO cts.m (time, host) VALUES ('2025-01-01 20:00', 'after update');
COMMIT;
SELECT nosql.timeseries_heap_rows(tableoid::regclass) > 1 AS decompressed_by_update
  FROM cts.m WHERE host = 'after update';
SELECT n, coll, doc ->> 'host' AS host FROM cts_docs();
SELECT cts_consume();

-- A rolled-back insert emits nothing.
BEGIN;
INSERT INTO cts.m (time, host) VALUES ('2025-01-01 21:00', 'rolled back');
ROLLBACK;
SELECT count(*) AS rolled_back FROM cts_peek();

-- The move markers: inserts between on and off are no points; a move
-- started in a savepoint that is rolled back, also by an error, ends with
-- it.
BEGIN;
SELECT nosql.timeseries_move_marker('cts.m', true);
INSERT INTO cts.m (time, host) VALUES ('2025-01-01 21:01', 'moved');
SELECT nosql.timeseries_move_marker('cts.m', false);
INSERT INTO cts.m (time, host) VALUES ('2025-01-01 21:02', 'after off');
SAVEPOINT a;
SELECT nosql.timeseries_move_marker('cts.m', true);
INSERT INTO cts.m (time, host) VALUES ('2025-01-01 21:03', 'moved, rolled back');
ROLLBACK TO a;
INSERT INTO cts.m (time, host) VALUES ('2025-01-01 21:04', 'after rollback');
SAVEPOINT b;
SELECT nosql.timeseries_move_marker('cts.m', true);
SELECT 1 / 0;
ROLLBACK TO b;
INSERT INTO cts.m (time, host) VALUES ('2025-01-01 21:05', 'after error');
-- a partition named alone
SELECT nosql.timeseries_move_marker(tableoid::regclass, true) FROM cts.m WHERE host = 'moved';
INSERT INTO cts.m (time, host) VALUES ('2025-01-01 21:06', 'moved into the partition'),
                                      ('2025-01-02 21:06', 'another partition');
COMMIT;
SELECT n, coll, doc ->> 'host' AS host FROM cts_docs();
SELECT cts_consume();
-- only the owner may mark moves, of tables only
CREATE ROLE cts_other;
GRANT USAGE ON SCHEMA cts TO cts_other;
SET ROLE cts_other;
SELECT nosql.timeseries_move_marker('cts.m', true);
RESET ROLE;
REVOKE USAGE ON SCHEMA cts FROM cts_other;
DROP ROLE cts_other;
CREATE SEQUENCE cts.seq;
SELECT nosql.timeseries_move_marker('cts.seq', true);
SELECT nosql.timeseries_move_marker(0, true);
SELECT nosql.timeseries_move_marker(NULL, true);

-- A streamed transaction (stream_changes): a move open across blocks, and
-- a move in a savepoint rolled back after its block was streamed, end where
-- they should.
SET logical_decoding_work_mem = '64kB';
BEGIN;
SELECT nosql.timeseries_move_marker('cts.m', true);
INSERT INTO cts.m (time, host, vc)
SELECT '2025-01-02 00:00'::timestamptz + g * interval '1 s', 'streamed move', repeat('x', 8)
  FROM generate_series(1, 1500) g;
SELECT nosql.timeseries_move_marker('cts.m', false);
INSERT INTO cts.m (time, host) VALUES ('2025-01-02 03:00', 'after the streamed move');
SAVEPOINT s;
SELECT nosql.timeseries_move_marker('cts.m', true);
INSERT INTO cts.m (time, host)
SELECT '2025-01-02 04:00'::timestamptz + g * interval '1 s', 'streamed, rolled back'
  FROM generate_series(1, 1500) g;
ROLLBACK TO s;
INSERT INTO cts.m (time, host) VALUES ('2025-01-02 05:00', 'after the streamed rollback');
COMMIT;
CREATE TEMP TABLE streamed AS
SELECT n, lsn, data::jsonb AS m FROM cts_peek('include_kv', 'false', 'stream_changes', 'on');
SELECT m ->> 'stream' AS control, count(*) > 0 AS seen, count(*) > 1 AS more_than_one
  FROM streamed WHERE m ? 'stream' GROUP BY 1 ORDER BY 1;
SELECT m -> 'fullDocument' ->> 'host' AS host, count(*) FROM streamed WHERE NOT m ? 'stream' GROUP BY 1 ORDER BY 1;
-- the same without streaming
SELECT doc ->> 'host' AS host, count(*) FROM cts_docs() GROUP BY 1 ORDER BY 1;
DROP TABLE streamed;
RESET logical_decoding_work_mem;
SELECT cts_consume();

-- A row larger than a document may be: a warning, no event.
INSERT INTO cts.m (time, host, vc) VALUES ('2025-01-01 22:00', repeat('h', 17 * 1024 * 1024), 'big');
INSERT INTO cts.m (time, host) VALUES ('2025-01-01 22:01', 'after the big one');
SELECT n, coll, doc ->> 'host' AS host FROM cts_docs();
SELECT cts_consume();

-- COPY into a table with a compression policy compresses the rows of due
-- partitions as it loads them (ts_copy), but not while a slot with plugin
-- nosql exists: the points are decoded from the rows, so COPY writes rows
CREATE TABLE cts.cp (time timestamptz NOT NULL, host text, v float8);
INSERT INTO cts.cp VALUES ('2025-01-01', 'a', 0);
SELECT nosql.create_timeseries('cts.cp', 'time', '{host}', '1 day', compress_after => '1 day') IS NOT NULL AS made;
SELECT nosql.compress_timeseries('cts.cp') AS compressed;
SELECT cts_consume();
BEGIN;
COPY cts.cp FROM STDIN;
2025-01-01 01:00:00+00	a	1
2025-01-01 02:00:00+00	b	2
\.
SELECT nosql.timeseries_heap_rows('cts.cp_ts_20250101_000000', NULL) AS heap_rows;
COMMIT;
SELECT n, coll, doc ->> 'host' AS host FROM cts_docs();
SELECT cts_consume();

SELECT pg_drop_replication_slot('cts');

-- The move messages cost WAL only while a slot with plugin nosql exists in
-- the database: test_decoding shows the messages a transaction wrote.
DELETE FROM cts.m WHERE vc = 'big';
SELECT 'created' FROM pg_create_logical_replication_slot('cts_td', 'test_decoding');
SELECT nosql.compress_timeseries('cts.m') > 0 AS compressed;
SELECT nosql.decompress_timeseries('cts.m') > 0 AS decompressed;
SELECT count(*) FILTER (WHERE data ~ 'nosql.ts_move') AS messages_without_slot
  FROM pg_logical_slot_get_changes('cts_td', NULL, NULL);
SELECT 'created' FROM pg_create_logical_replication_slot('cts_other', 'nosql');
SELECT nosql.compress_timeseries('cts.m') > 0 AS compressed;
SELECT nosql.decompress_timeseries('cts.m') > 0 AS decompressed;
SELECT count(*) FILTER (WHERE data ~ 'nosql.ts_move') > 0 AS messages_with_slot
  FROM pg_logical_slot_get_changes('cts_td', NULL, NULL);
SELECT pg_drop_replication_slot('cts_other');
SELECT pg_drop_replication_slot('cts_td');

-- The plugin needs the partition catalog to be a user catalog table,
-- unless the reader leaves time series out.
ALTER TABLE nosql.timeseries_partition RESET (user_catalog_table);
SELECT 'created' FROM pg_create_logical_replication_slot('cts_bad', 'nosql');
INSERT INTO cts.m (time, host) VALUES ('2025-01-01 23:00', 'unseen');
SELECT count(*) FROM pg_logical_slot_peek_changes('cts_bad', NULL, NULL, 'include_kv', 'false');
SELECT count(*) FROM pg_logical_slot_peek_changes('cts_bad', NULL, NULL, 'include_kv', 'false',
                                                  'include_timeseries', 'false');
SELECT pg_drop_replication_slot('cts_bad');
ALTER TABLE nosql.timeseries_partition SET (user_catalog_table = true);
-- a table used as a catalog cannot be rewritten by ALTER TABLE
ALTER TABLE nosql.timeseries_partition ALTER COLUMN block_types TYPE regtype[]
    USING block_types || '{}'::regtype[];

DROP SCHEMA cts CASCADE;
SELECT count(*) AS catalog_rows_left FROM nosql.timeseries_partition p
 WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = p.partition);
