-- Time-series tables whose time ranges are split by hash of the series
-- (segment_by) columns: nosql.create_timeseries(..., hash_partitions => N).
-- Each time range is a table partitioned by hash into N leaves; the leaves
-- hold the rows, get compressed, loaded by COPY and read one by one, and
-- retention drops a time range with all its leaves.  Every query is
-- compared with the same statements on a time-series table without hash
-- partitioning.  The database's worker maintains these tables too (every
-- second here): the data's days have partitions from the start, and what
-- a COPY did is looked at in its own transaction.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE SCHEMA tsh;
SET search_path = tsh, public, nosql;
SET max_parallel_workers_per_gather = 0;
\getenv abs_builddir PG_ABS_BUILDDIR
\set f :abs_builddir '/results/ts_hash_data.txt'

-- A statement's outcome: ok, or its SQLSTATE and message
CREATE FUNCTION outcome(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Bad arguments are refused before anything changes
CREATE TABLE bad (time timestamptz NOT NULL, host text, pos point, v float8);
SELECT outcome($$SELECT nosql.create_timeseries('bad', 'time', '{host}', hash_partitions => 1)$$);
SELECT outcome($$SELECT nosql.create_timeseries('bad', 'time', '{host}', hash_partitions => 0)$$);
SELECT outcome($$SELECT nosql.create_timeseries('bad', 'time', '{host}', hash_partitions => -4)$$);
SELECT outcome($$SELECT nosql.create_timeseries('bad', 'time', '{host}', hash_partitions => 1025)$$);
SELECT outcome($$SELECT nosql.create_timeseries('bad', 'time', hash_partitions => 4)$$);
SELECT outcome($$SELECT nosql.create_timeseries('bad', 'time', '{host,host}', hash_partitions => 4)$$);
SELECT outcome($$SELECT nosql.create_timeseries('bad', 'time', '{pos}', hash_partitions => 4)$$);
SELECT outcome($$SELECT nosql.create_timeseries('bad', 'time', '{nope}', hash_partitions => 4)$$);
-- a unique key must hold the hash key too (PostgreSQL's rule, at every level)
ALTER TABLE bad ADD PRIMARY KEY (time);
SELECT outcome($$SELECT nosql.create_timeseries('bad', 'time', '{host}', hash_partitions => 4)$$);
SELECT relkind, (SELECT count(*) FROM nosql.timeseries WHERE relid = 'bad'::regclass) AS catalog_rows
  FROM pg_class WHERE oid = 'bad'::regclass;
-- the catalog refuses what the function refuses
SELECT outcome($$INSERT INTO nosql.timeseries (relid, time_column, hash_partitions, chunk_interval)
                 VALUES ('bad', 'time', 4, '1 day')$$);
DROP TABLE bad;

-- Two tables with the same rows: h split by hash, p not.  4 days of 25
-- series (host, dev), one with a NULL host.
CREATE TABLE h (time timestamptz NOT NULL, host text, dev int4, v float8, n int4 DEFAULT 7,
                note text, CHECK (n IS NULL OR n >= 0));
CREATE INDEX h_series_time ON h (host, dev, time);
CREATE TABLE p (LIKE h INCLUDING ALL);
INSERT INTO h SELECT timestamptz '2025-01-01' + i * interval '20 min' + s * interval '1 ms',
                     CASE WHEN s = 24 THEN NULL ELSE 'h' || (s % 12) END, s / 12,
                     CASE WHEN i % 97 = 0 THEN NULL WHEN i % 101 = 0 THEN 'NaN' ELSE (i * 31 + s * 7) % 1000 / 10.0 END,
                     CASE WHEN i % 11 = 0 THEN NULL ELSE i END,
                     CASE WHEN i % 5 = 0 THEN 'note ' || (i % 3) END
                FROM generate_series(0, 4 * 72 - 1) i, generate_series(0, 24) s;
INSERT INTO p SELECT * FROM h;
SELECT nosql.create_timeseries('h', 'time', '{host,dev}', '1 day', hash_partitions => 4);
SELECT nosql.create_timeseries('p', 'time', '{host,dev}', '1 day');
SELECT "table", segment_by, hash_partitions FROM nosql.timeseries_info WHERE "table" IN ('h'::regclass, 'p'::regclass) ORDER BY 1;

-- The layout: the table, its time ranges (partitioned by hash), their
-- leaves, and the default partition (not split)
SELECT t.level, c.relkind, t.isleaf, count(*)
  FROM pg_partition_tree('h') t JOIN pg_class c ON c.oid = t.relid
 WHERE t.level = 0 OR c.relname < 'h_ts_20250105' OR c.relname = 'h_ts_default'
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT pg_get_partkeydef('h_ts_20250101_000000'::regclass) AS range_partition_key;
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'h_ts_20250101_000000'::regclass ORDER BY 1;
-- the catalog lists the leaves, with their time range, parent and remainder
SELECT x.range_start, count(*) AS leaves, array_agg(x.hash_remainder ORDER BY x.hash_remainder) AS remainders,
       bool_and(x.parent = (SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = x.partition)) AS parents_right,
       bool_and((SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = x.parent) = 'h'::regclass) AS ranges_of_h
  FROM nosql.timeseries_partition x
 WHERE x.relid = 'h'::regclass AND x.range_start < '2025-01-05'
 GROUP BY 1 ORDER BY 1;
SELECT count(*) AS default_partitions FROM nosql.timeseries_partition
 WHERE relid = 'h'::regclass AND range_start IS NULL AND parent IS NULL;
-- leaves are owned by the table's owner and keep its defaults and checks
SELECT count(*) FILTER (WHERE c.relowner <> (SELECT relowner FROM pg_class WHERE oid = 'h'::regclass)) AS other_owners
  FROM nosql.timeseries_partition x JOIN pg_class c ON c.oid = x.partition WHERE x.relid = 'h'::regclass;
SELECT column_name, column_default FROM information_schema.columns
 WHERE table_schema = 'tsh' AND table_name = 'h_ts_20250101_000000_h0' AND column_default IS NOT NULL;
SELECT count(*) AS check_constraints FROM pg_constraint
 WHERE conrelid = 'h_ts_20250101_000000_h3'::regclass AND contype = 'c';
SELECT outcome($$INSERT INTO h (time, host, dev, n) VALUES ('2025-01-01 23:59', 'h0', 0, -1)$$);

-- Rows land in the leaf of their series' hash within their time range:
-- one leaf per series and range, and every leaf in use
SELECT count(*) AS rows,
       count(*) FILTER (WHERE NOT satisfies_hash_partition(x.parent, 4, x.hash_remainder, h.host, h.dev)) AS wrong_leaf,
       count(*) FILTER (WHERE h.time < x.range_start OR h.time >= x.range_end) AS wrong_range,
       count(DISTINCT h.tableoid) AS leaves_used
  FROM h JOIN nosql.timeseries_partition x ON x.partition = h.tableoid;
SELECT max(n) AS leaves_per_series_and_range
  FROM (SELECT count(DISTINCT tableoid) AS n FROM h GROUP BY host, dev, date_trunc('day', time)) s;
SELECT (SELECT count(*) FROM h) AS h_rows, (SELECT count(*) FROM p) AS p_rows;
-- a query on one series reads one leaf per time range
SET enable_indexscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM h WHERE host = 'h3' AND dev = 1 AND time >= '2025-01-02' AND time < '2025-01-04';
RESET enable_indexscan;
RESET enable_bitmapscan;

-- Backfill older than every range goes to the default partition; the
-- maintenance gives it a time range of its own, split like the others
INSERT INTO h VALUES ('2024-12-20 10:00', 'h1', 0, 1, 1, 'backfill'), ('2024-12-20 11:00', 'h2', 1, 2, 2, 'backfill');
INSERT INTO p VALUES ('2024-12-20 10:00', 'h1', 0, 1, 1, 'backfill'), ('2024-12-20 11:00', 'h2', 1, 2, 2, 'backfill');
SELECT nosql.timeseries_maintain('h'), nosql.timeseries_maintain('p');
SELECT h.tableoid::regclass AS leaf, x.parent, x.range_start, h.host
  FROM h JOIN nosql.timeseries_partition x ON x.partition = h.tableoid
 WHERE h.note = 'backfill' ORDER BY h.time;
SELECT count(*) AS leaves FROM nosql.timeseries_partition WHERE relid = 'h'::regclass AND range_start = '2024-12-20';

-- Compression works leaf by leaf: each leaf gets its own block table
SELECT nosql.compress_timeseries('h', older_than => now() - timestamptz '2025-01-04') AS h_compressed,
       nosql.compress_timeseries('p', older_than => now() - timestamptz '2025-01-04') AS p_compressed;
SELECT x.range_start, count(*) AS leaves, count(x.blocks) AS block_tables,
       count(DISTINCT x.blocks) AS distinct_block_tables,
       sum(nosql.timeseries_heap_rows(x.partition, NULL)) AS heap_rows
  FROM nosql.timeseries_partition x
 WHERE x.relid = 'h'::regclass AND x.range_start < '2025-01-05'
 GROUP BY 1 ORDER BY 1;
SELECT blocks FROM nosql.timeseries_partition WHERE partition = 'h_ts_20250101_000000_h2'::regclass;
SELECT count(*) AS blocks, count(DISTINCT (s2, s3)) AS series
  FROM h_ts_20250101_000000_h2_blocks;
SELECT sum(rows) AS rows_in_h_blocks FROM (
    SELECT b.rows FROM h_ts_20250101_000000_h0_blocks b UNION ALL SELECT b.rows FROM h_ts_20250101_000000_h1_blocks b
    UNION ALL SELECT b.rows FROM h_ts_20250101_000000_h2_blocks b UNION ALL SELECT b.rows FROM h_ts_20250101_000000_h3_blocks b) s;
SELECT count(*) AS rows_of_day_1 FROM p WHERE time >= '2025-01-01' AND time < '2025-01-02';
-- and late rows go to the leaves' heaps: compressed and plain rows mixed
INSERT INTO h SELECT timestamptz '2025-01-02 06:00:30' + i * interval '1 h', 'h' || (i % 5), i % 2, i, i, 'late'
  FROM generate_series(0, 29) i;
INSERT INTO p SELECT timestamptz '2025-01-02 06:00:30' + i * interval '1 h', 'h' || (i % 5), i % 2, i, i, 'late'
  FROM generate_series(0, 29) i;

-- Queries give the answers of the table without hash partitioning
CREATE FUNCTION same(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    extra bigint;
    missing bigint;
    q_h text := replace(query, '$t', 'tsh.h');
    q_p text := replace(query, '$t', 'tsh.p');
BEGIN
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) x', q_h, q_p) INTO extra;
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) x', q_p, q_h) INTO missing;
    RETURN CASE WHEN extra = 0 AND missing = 0 THEN 'same' ELSE format('%s extra, %s missing', extra, missing) END;
END $$;
SELECT same('SELECT * FROM $t');
SELECT same('SELECT * FROM $t WHERE host = ''h3'' AND dev = 0');
SELECT same('SELECT * FROM $t WHERE host IS NULL');
SELECT same('SELECT * FROM $t WHERE time >= ''2025-01-02 05:00'' AND time < ''2025-01-03 02:00'' AND v > 50');
SELECT same('SELECT host, dev, count(*), count(v), min(v), max(v), min(time), max(time), sum(n) FROM $t GROUP BY host, dev');
SELECT same('SELECT host, count(*), max(v) FROM $t WHERE time < ''2025-01-03'' AND host IN (''h1'', ''h7'') GROUP BY host');
SELECT same('SELECT nosql.time_bucket(''6 hours'', time) b, host, avg(n), nosql.last(v, time) FROM $t GROUP BY 1, 2');
SELECT same('SELECT count(*), sum(n), count(note) FROM $t WHERE note = ''late''');
-- the aggregate from block statistics reads the leaves too
EXPLAIN (COSTS OFF)
SELECT host, dev, count(*), max(v), min(time) FROM h WHERE time >= '2025-01-01' AND time < '2025-01-03' GROUP BY host, dev;
SELECT same('SELECT host, dev, count(*), max(v), min(time) FROM $t WHERE time >= ''2025-01-01'' AND time < ''2025-01-03'' GROUP BY host, dev');
-- UPDATE and DELETE into compressed leaves (a series moved to another leaf too)
UPDATE h SET v = -1 WHERE host = 'h4' AND time >= '2025-01-01 10:00' AND time < '2025-01-01 12:00';
UPDATE p SET v = -1 WHERE host = 'h4' AND time >= '2025-01-01 10:00' AND time < '2025-01-01 12:00';
UPDATE h SET host = 'moved' WHERE host = 'h5' AND dev = 1 AND time < '2025-01-02';
UPDATE p SET host = 'moved' WHERE host = 'h5' AND dev = 1 AND time < '2025-01-02';
DELETE FROM h WHERE host = 'h6' AND time >= '2025-01-02' AND time < '2025-01-02 12:00';
DELETE FROM p WHERE host = 'h6' AND time >= '2025-01-02' AND time < '2025-01-02 12:00';
SELECT same('SELECT * FROM $t');
SELECT count(*) AS wrong_leaf
  FROM h JOIN nosql.timeseries_partition x ON x.partition = h.tableoid
 WHERE NOT satisfies_hash_partition(x.parent, 4, x.hash_remainder, h.host, h.dev);

-- A rollup gives the buckets of the same rollup of the table without hash
-- partitioning, late writes into compressed leaves folded in
SELECT nosql.create_rollup('h', 'h_hourly', '1 hour', '{"count(*) AS rows", "max(v) AS v_max", "sum(n) AS n_sum"}', '{host}');
SELECT nosql.create_rollup('p', 'p_hourly', '1 hour', '{"count(*) AS rows", "max(v) AS v_max", "sum(n) AS n_sum"}', '{host}');
SELECT nosql.refresh_rollup('h_hourly') IS NOT NULL AS refreshed, nosql.refresh_rollup('p_hourly') IS NOT NULL AS refreshed;
SELECT count(*) > 0 AS buckets FROM h_hourly;
INSERT INTO h VALUES ('2025-01-01 03:30:00', 'h3', 0, 500, 5, 'late rollup');
INSERT INTO p VALUES ('2025-01-01 03:30:00', 'h3', 0, 500, 5, 'late rollup');
DELETE FROM h WHERE host = 'h9' AND time >= '2025-01-02 01:00' AND time < '2025-01-02 02:00';
DELETE FROM p WHERE host = 'h9' AND time >= '2025-01-02 01:00' AND time < '2025-01-02 02:00';
SELECT nosql.refresh_rollup('h_hourly') IS NOT NULL AS refreshed, nosql.refresh_rollup('p_hourly') IS NOT NULL AS refreshed;
SELECT (SELECT count(*) FROM (SELECT * FROM h_hourly EXCEPT ALL SELECT * FROM p_hourly) x) AS extra,
       (SELECT count(*) FROM (SELECT * FROM p_hourly EXCEPT ALL SELECT * FROM h_hourly) y) AS missing;
SELECT rows, v_max FROM h_hourly WHERE bucket = '2025-01-01 03:00' AND host = 'h3';
SELECT nosql.drop_rollup('h_hourly'), nosql.drop_rollup('p_hourly');

-- A round trip of one leaf: all its rows back into its heap, then blocks again
SELECT nosql.timeseries_heap_rows('h_ts_20250101_000000_h1', NULL) AS heap_rows_before;
SELECT nosql.timeseries_decompress_rows('h_ts_20250101_000000_h1') > 0 AS decompressed;
SELECT nosql.timeseries_heap_rows('h_ts_20250101_000000_h1', NULL) = count(*) AS all_in_heap,
       (SELECT count(*) FROM h_ts_20250101_000000_h1_blocks) AS blocks_left
  FROM h_ts_20250101_000000_h1;
SELECT same('SELECT * FROM $t');
SELECT nosql.timeseries_compress_partition('h_ts_20250101_000000_h1') > 0 AS compressed;
SELECT nosql.timeseries_heap_rows('h_ts_20250101_000000_h1', NULL) AS heap_rows_after;
-- a time range partition is not one the catalog compresses
SELECT outcome($$SELECT nosql.timeseries_compress_partition('h_ts_20250101_000000')$$);
-- the whole table back and forth
SELECT nosql.decompress_timeseries('h') > 0 AS decompressed;
SELECT sum(nosql.timeseries_heap_rows(x.partition, NULL)) = (SELECT count(*) FROM h) AS all_in_heaps
  FROM nosql.timeseries_partition x WHERE x.relid = 'h'::regclass;
SELECT same('SELECT * FROM $t');
SELECT nosql.compress_timeseries('h', older_than => now() - timestamptz '2025-01-04') > 0 AS compressed_again;
SELECT same('SELECT * FROM $t');

-- The size counts every leaf, block table, index and TOAST table
SELECT nosql.timeseries_size('h') = (
         SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
          WHERE c.relnamespace = 'tsh'::regnamespace AND c.relkind = 'r' AND c.relname LIKE 'h\_ts\_%') AS size_counts_all,
       nosql.timeseries_size('h') > (SELECT sum(pg_total_relation_size(blocks)) FROM nosql.timeseries_partition
                                      WHERE relid = 'h'::regclass) AS more_than_blocks;
SELECT partitions = (SELECT count(*) FROM nosql.timeseries_partition WHERE relid = 'h'::regclass AND range_start IS NOT NULL) AS partitions_are_leaves,
       partitions = 4 * time_ranges AS four_leaves_a_range,
       compressed_partitions >= 16 AS compressed_leaves, size = nosql.timeseries_size('h') AS size
  FROM nosql.timeseries_info WHERE "table" = 'h'::regclass;

-- The change stream: a point inserted into a leaf is an event named after
-- the table; the maintenance's moves and compression emit nothing
SELECT 'created' FROM pg_create_logical_replication_slot('tsh_slot', 'nosql');
INSERT INTO h VALUES ('2025-01-02 07:00:01', 'h1', 0, 1, 1, 'event'), ('2025-01-02 07:00:02', 'h8', 1, 2, 2, 'event');
INSERT INTO h VALUES ('2024-11-01 00:00', 'h1', 0, 1, 1, 'old');
SELECT nosql.timeseries_maintain('h');
SELECT nosql.compress_timeseries('h', older_than => now() - timestamptz '2025-01-04') > 0 AS compressed;
SELECT data::nosql.bson ->> 'operationType' AS op, data::nosql.bson -> 'ns' ->> 'coll' AS coll,
       data::nosql.bson -> 'fullDocument' ->> 'host' AS host, data::nosql.bson -> 'fullDocument' ->> 'note' AS note
  FROM pg_logical_slot_get_changes('tsh_slot', NULL, NULL, 'include_kv', 'false', 'include_collections', 'false')
 WHERE data::nosql.bson ->> 'operationType' IS NOT NULL AND data::nosql.bson -> 'ns' ->> 'coll' LIKE 'tsh.%';
SELECT pg_drop_replication_slot('tsh_slot');
DELETE FROM h WHERE note IN ('event', 'old');

-- COPY into a table split by hash with a compression policy: the rows of
-- the due time ranges go straight into the blocks of their leaves
-- (in one transaction with the table's creation, where the worker cannot
-- compress its leaves first)
CREATE TABLE cp (time timestamptz NOT NULL, host text, v float8);
COPY (SELECT timestamptz '2025-02-01' + ((i * 7919) % 2160) * interval '1 min' + s * interval '1 ms',
             CASE WHEN s = 9 THEN NULL ELSE 'h' || s END, (i * 13 + s) % 1000 / 10.0
        FROM generate_series(0, 2159) i, generate_series(0, 9) s) TO :'f';
BEGIN;
CREATE TABLE c (LIKE cp);
INSERT INTO c SELECT timestamptz '2025-02-01' + d * interval '1 day', 'h0', 0 FROM generate_series(0, 2) d;
SELECT nosql.create_timeseries('c', 'time', '{host}', '1 day', compress_after => '1 day', hash_partitions => 3);
DELETE FROM c;
COPY c FROM :'f';
SELECT x.range_start, count(*) AS leaves, count(x.blocks) AS block_tables,
       sum(nosql.timeseries_heap_rows(x.partition, NULL)) AS heap_rows
  FROM nosql.timeseries_partition x
 WHERE x.relid = 'c'::regclass AND x.range_start < '2025-02-04'
 GROUP BY 1 ORDER BY 1;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE NOT satisfies_hash_partition(x.parent, 3, x.hash_remainder, c.host)) AS wrong_leaf
  FROM c JOIN nosql.timeseries_partition x ON x.partition = c.tableoid;
COMMIT;
COPY cp FROM :'f';
SELECT (SELECT count(*) FROM (SELECT * FROM c EXCEPT ALL SELECT * FROM cp) x) AS extra,
       (SELECT count(*) FROM (SELECT * FROM cp EXCEPT ALL SELECT * FROM c) y) AS missing;
-- a second load adds blocks to the same leaves
BEGIN;
COPY c FROM stdin;
2025-02-02 12:00:00.5+00	h1	1.5
2025-02-02 12:00:01.5+00	h2	2.5
2025-02-02 12:00:02.5+00	\N	3.5
\.
SELECT count(*) AS late_rows FROM c WHERE time >= '2025-02-02 12:00:00.5' AND time < '2025-02-02 12:00:03';
SELECT sum(nosql.timeseries_heap_rows(x.partition, NULL)) AS heap_rows
  FROM nosql.timeseries_partition x WHERE x.relid = 'c'::regclass AND x.range_start = '2025-02-02';
COMMIT;

-- The compression policy's step (the worker's, here by hand) compresses one
-- leaf a call, until no due leaf has rows in its heap or lacks blocks
INSERT INTO c VALUES ('2025-02-03 05:00', 'h1', 1), ('2025-02-03 06:00', 'h2', 2), ('2025-02-03 07:00', NULL, 3);
DO $$ BEGIN WHILE nosql.timeseries_compress_next('tsh.c') IS NOT NULL LOOP END LOOP; END $$;
SELECT count(*) AS due_leaves,
       count(*) FILTER (WHERE nosql.timeseries_heap_rows(partition, 1) > 0) AS with_heap_rows,
       count(*) FILTER (WHERE blocks IS NULL) AS without_blocks
  FROM nosql.timeseries_partition
 WHERE relid = 'c'::regclass AND range_end <= '2025-02-04';
SELECT count(*) AS rows_of_2025_02_03 FROM c WHERE time >= '2025-02-03' AND time < '2025-02-04';

-- Retention drops whole time ranges: the range partition, every leaf,
-- their block tables and their catalog rows
UPDATE nosql.timeseries SET drop_after = now() - timestamptz '2025-01-03' WHERE relid = 'h'::regclass;
SELECT nosql.timeseries_maintain('h');
SELECT partitions_dropped FROM nosql.timeseries WHERE relid = 'h'::regclass;
SELECT count(*) AS relations_left FROM pg_class
 WHERE relnamespace = 'tsh'::regnamespace AND (relname LIKE 'h\_ts\_20250101%' OR relname LIKE 'h\_ts\_20250102%'
                                               OR relname LIKE 'h\_ts\_2024%');
SELECT count(*) AS catalog_rows_left FROM nosql.timeseries_partition
 WHERE relid = 'h'::regclass AND range_start < '2025-01-03';
SELECT min(range_start) AS oldest FROM nosql.timeseries_partition WHERE relid = 'h'::regclass;
SELECT same('SELECT * FROM $t WHERE time >= ''2025-01-03''');
SELECT count(*) AS rows_before_2025_01_03 FROM h WHERE time < '2025-01-03';

-- A long table name: leaves' names are cut, and their block tables' names
-- carry the leaf's OID (cut alone, the names of two leaves would be one)
CREATE TABLE a_time_series_table_with_a_rather_long_name_x (time timestamptz NOT NULL, host text, v float8);
INSERT INTO a_time_series_table_with_a_rather_long_name_x
  SELECT timestamptz '2025-01-01' + i * interval '1 h', 'host ' || i, i FROM generate_series(0, 9) i;
SELECT nosql.create_timeseries('a_time_series_table_with_a_rather_long_name_x', 'time', '{host}', hash_partitions => 2);
SELECT nosql.compress_timeseries('a_time_series_table_with_a_rather_long_name_x', now() - timestamptz '2025-01-02') AS compressed;
SELECT partition, octet_length(partition::text) AS name_bytes,
       blocks::text = left(partition::text, 40) || '_' || partition::oid || '_blocks' AS blocks_named_by_oid
  FROM nosql.timeseries_partition
 WHERE relid = 'a_time_series_table_with_a_rather_long_name_x'::regclass AND range_start = '2025-01-01'
 ORDER BY hash_remainder;
SELECT count(*) FROM a_time_series_table_with_a_rather_long_name_x;
DROP TABLE a_time_series_table_with_a_rather_long_name_x;

-- Two tables whose names begin with the same 40 characters, and a name of
-- multibyte characters: each partition and leaf gets a name of its own
-- that keeps its time stamp (cut by bytes, by whole characters)
CREATE TABLE twin_tables_with_forty_characters_alike_a (time timestamptz NOT NULL, host text, v float8);
CREATE TABLE twin_tables_with_forty_characters_alike_b (time timestamptz NOT NULL, host text, v float8);
CREATE TABLE "łódź_żółw_łódź_żółw_łódź_żółw_łódź_żółw" (time timestamptz NOT NULL, host text, v float8);
INSERT INTO twin_tables_with_forty_characters_alike_a VALUES ('2025-01-01 01:00', 'a', 1);
INSERT INTO twin_tables_with_forty_characters_alike_b VALUES ('2025-01-01 02:00', 'b', 2);
INSERT INTO "łódź_żółw_łódź_żółw_łódź_żółw_łódź_żółw" VALUES ('2025-01-01 03:00', 'c', 3), ('2025-01-02 03:00', 'c', 4);
SELECT nosql.create_timeseries('twin_tables_with_forty_characters_alike_a', 'time', '{host}', hash_partitions => 2);
SELECT nosql.create_timeseries('twin_tables_with_forty_characters_alike_b', 'time', '{host}', hash_partitions => 2);
SELECT nosql.create_timeseries('"łódź_żółw_łódź_żółw_łódź_żółw_łódź_żółw"', 'time', '{host}', hash_partitions => 2);
SELECT relid, partition, octet_length(partition::text) <= 65 AS fits, parent
  FROM nosql.timeseries_partition
 WHERE relid IN ('twin_tables_with_forty_characters_alike_a'::regclass, 'twin_tables_with_forty_characters_alike_b'::regclass,
                 '"łódź_żółw_łódź_żółw_łódź_żółw_łódź_żółw"'::regclass)
   AND range_start < '2025-01-03'
 ORDER BY relid::text COLLATE "C", range_start NULLS FIRST, hash_remainder;
SELECT nosql.compress_timeseries('"łódź_żółw_łódź_żółw_łódź_żółw_łódź_żółw"', now() - timestamptz '2025-01-03') AS compressed;
SELECT count(*), sum(v) FROM "łódź_żółw_łódź_żółw_łódź_żółw_łódź_żółw";
SELECT (SELECT count(*) FROM twin_tables_with_forty_characters_alike_a) AS a,
       (SELECT count(*) FROM twin_tables_with_forty_characters_alike_b) AS b;
DROP TABLE twin_tables_with_forty_characters_alike_a, twin_tables_with_forty_characters_alike_b,
           "łódź_żółw_łódź_żółw_łódź_żółw_łódź_żółw";

-- Dropping a time range by hand forgets its leaves; dropping the table
-- forgets everything
DROP TABLE h_ts_20250103_000000;
SELECT count(*) AS catalog_rows FROM nosql.timeseries_partition
 WHERE relid = 'h'::regclass AND range_start = '2025-01-03';
DROP TABLE h, p, c, cp;
SELECT count(*) AS catalog_rows FROM nosql.timeseries_partition
 WHERE NOT EXISTS (SELECT FROM pg_class WHERE oid = partition);
DROP SCHEMA tsh CASCADE;
