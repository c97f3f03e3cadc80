-- COPY into a time-series table compresses the rows of partitions due for
-- compression (their range ended before now() - compress_after) as it
-- reads them: they land in blocks, never in the partition's heap, and
-- every query returns what the same COPY into a plain table returns.
-- The database's worker maintains and compresses these tables too (every
-- second here), so what a COPY did is looked at in its own transaction,
-- where the worker cannot have touched its rows, and the data's days have
-- partitions from the start (the worker moves rows out of the default one).
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE SCHEMA tcp;
SET search_path = tcp, public;
SET max_parallel_workers_per_gather = 0;
\getenv abs_builddir PG_ABS_BUILDDIR
\set f :abs_builddir '/results/ts_copy_data.txt'
\set fb :abs_builddir '/results/ts_copy_data.bin'

CREATE TABLE m (time timestamptz NOT NULL, host text, v float8, n int4 DEFAULT 7,
                note text, CHECK (n IS NULL OR n >= 0));
CREATE INDEX m_host_time ON m (host, time);
CREATE TABLE p (LIKE m INCLUDING ALL);
INSERT INTO m SELECT timestamptz '2025-01-01' + d * interval '1 day', 'h0', 0, 0, NULL
  FROM generate_series(0, 3) d;
SELECT nosql.create_timeseries('m', 'time', '{host}', '1 day', compress_after => '1 day');
DELETE FROM m;

-- 3 days of 11 series (one of them a NULL host), out of time order within
-- each series, with NULLs, NaN and infinities
SELECT setseed(0.7);
COPY (SELECT timestamptz '2025-01-01' + ((i * 7919) % 30000) * interval '8 s' + h * interval '1 ms',
             CASE WHEN h = 10 THEN NULL ELSE 'h' || h END,
             CASE WHEN i % 97 = 0 THEN NULL WHEN i % 101 = 0 THEN 'NaN'
                  WHEN i % 103 = 0 THEN '-Infinity' ELSE round((random() * 100)::numeric, 3) END,
             CASE WHEN i % 11 = 0 THEN NULL ELSE i END,
             CASE WHEN i % 5 = 0 THEN 'note ' || (i % 3) END
        FROM generate_series(0, 29999) i, generate_series(0, 10) h) TO :'f';
BEGIN;
COPY m FROM :'f';
-- every row went into blocks: the partitions' heaps are empty
SELECT x.partition, x.blocks IS NOT NULL AS compressed,
       nosql.timeseries_heap_rows(x.partition, NULL) AS heap_rows
  FROM nosql.timeseries_partition x WHERE x.relid = 'm'::regclass AND x.range_start < '2025-01-04'
 ORDER BY x.range_start;
SELECT count(*) AS blocks, sum(rows) AS rows, max(rows) AS largest
  FROM m_ts_20250101_000000_blocks;
COMMIT;
COPY p FROM :'f';
-- the same rows as the plain table, whatever the plan
SELECT (SELECT count(*) FROM (SELECT * FROM m EXCEPT ALL SELECT * FROM p) x) AS extra,
       (SELECT count(*) FROM (SELECT * FROM p EXCEPT ALL SELECT * FROM m) y) AS missing;
SELECT host, count(*), count(v), max(v), min(time), max(time), sum(n)
  FROM m WHERE time >= '2025-01-02 03:00' AND time < '2025-01-02 04:00' AND host IN ('h3', 'h7')
 GROUP BY host ORDER BY host;
SELECT host, count(*), count(v), max(v), min(time), max(time), sum(n)
  FROM p WHERE time >= '2025-01-02 03:00' AND time < '2025-01-02 04:00' AND host IN ('h3', 'h7')
 GROUP BY host ORDER BY host;
-- each block's time bounds are right (the input was out of order, and
-- blocks are skipped by their bounds): every hour counts alike
SELECT count(*) AS hours_that_differ FROM generate_series(0, 71) h
 WHERE (SELECT count(*) FROM m WHERE time >= timestamptz '2025-01-01' + h * interval '1 h'
                                 AND time < timestamptz '2025-01-01' + (h + 1) * interval '1 h')
    <> (SELECT count(*) FROM p WHERE time >= timestamptz '2025-01-01' + h * interval '1 h'
                                 AND time < timestamptz '2025-01-01' + (h + 1) * interval '1 h');

-- a second load adds blocks beside the first ones, in the same partitions
COPY (SELECT timestamptz '2025-01-02 12:00:00.5' + i * interval '1 min', 'h1', i, i, NULL
        FROM generate_series(0, 99) i) TO :'f';
COPY m FROM :'f';
COPY p FROM :'f';
SELECT count(*) FILTER (WHERE host = 'h1') AS h1_rows FROM m;
SELECT count(*) FILTER (WHERE host = 'h1') AS h1_rows FROM p;

-- a column list: the others take their defaults; the text format's NULL
COPY m (time, host) FROM stdin;
2025-01-03 10:00:00+00	h9
2025-01-03 10:00:01+00	\N
\.
SELECT time, host, v, n FROM m WHERE time IN ('2025-01-03 10:00:00+00', '2025-01-03 10:00:01+00') ORDER BY time;

-- binary and csv formats
COPY (SELECT timestamptz '2025-01-04' + i * interval '1 h', 'bin', i * 0.5::float8, i, 'b' FROM generate_series(0, 23) i)
  TO :'fb' WITH (FORMAT binary);
BEGIN;
COPY m FROM :'fb' WITH (FORMAT binary);
COPY m FROM stdin WITH (FORMAT csv, HEADER true);
time,host,v,n,note
2025-01-04 05:30:00+00,csv,1.5,3,"a, b"
\.
SELECT host, count(*), sum(v), max(note) FROM m WHERE host IN ('bin', 'csv') GROUP BY host ORDER BY host;
SELECT nosql.timeseries_heap_rows(x.partition, NULL) AS heap_rows
  FROM nosql.timeseries_partition x WHERE x.relid = 'm'::regclass AND x.range_start = '2025-01-04';
COMMIT;

-- recent rows (a partition not due) and rows outside every range (the
-- default partition) go to the heap, in the same COPY
COPY (SELECT now() + i * interval '1 min', 'recent', i, i, NULL FROM generate_series(1, 10) i
      UNION ALL SELECT timestamptz '1999-01-01', 'old', 1, 1, NULL) TO :'f';
BEGIN;
COPY m FROM :'f';
SELECT x.range_start IS NULL AS default_partition, bool_or(x.blocks IS NOT NULL) AS compressed,
       sum(nosql.timeseries_heap_rows(x.partition, NULL)) AS heap_rows
  FROM nosql.timeseries_partition x
 WHERE x.relid = 'm'::regclass AND (x.range_start IS NULL OR x.range_start > now() - interval '1 day')
 GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM m WHERE host IN ('recent', 'old');
COMMIT;

-- bad rows fail the whole COPY with COPY's own errors and context; nothing
-- of it stays
SELECT count(*) AS before FROM m;
COPY m FROM stdin;
2025-01-03 11:00:00+00	h1	1	1	x
2025-01-03 11:00:01+00	h1	oops	1	x
\.
COPY m FROM stdin;
2025-01-03 11:00:00+00	h1	1	-5	x
\.
COPY m FROM stdin;
\N	h1	1	1	x
\.
COPY m FROM stdin;
2025-01-03 11:00:00+00	h1	1
\.
SELECT count(*) AS after FROM m;
-- in a read-only transaction, COPY's own refusal
BEGIN READ ONLY;
COPY m FROM :'f';
ROLLBACK;
-- a rolled-back COPY leaves nothing, blocks included
BEGIN;
COPY m FROM :'f';
COPY (SELECT timestamptz '2025-01-02' + i * interval '1 s', 'rb', 1, 1, NULL FROM generate_series(0, 4999) i) TO :'f';
COPY m FROM :'f';
SELECT count(*) FROM m WHERE host = 'rb';
ROLLBACK;
SELECT count(*) FROM m WHERE host = 'rb';
SELECT count(*) AS blocks_of_rb FROM m_ts_20250101_000000_blocks WHERE s2 = 'rb';

-- nosql.timeseries_compress_copy = off: COPY writes heap rows as before
BEGIN;
SET LOCAL nosql.timeseries_compress_copy = off;
COPY m FROM stdin;
2025-01-03 12:00:00+00	off	1	1	x
\.
SELECT nosql.timeseries_heap_rows('m_ts_20250103_000000', NULL) AS heap_rows;
COMMIT;

-- a due partition without a block table gets one when the owner loads it
BEGIN;
CREATE TABLE m2 (time timestamptz NOT NULL, host text, v float8);
INSERT INTO m2 VALUES ('2025-02-01', 'a', 1), ('2025-02-02', 'a', 2);
SELECT nosql.create_timeseries('m2', 'time', '{host}', '1 day', compress_after => '7 days');
SELECT count(*) AS block_tables FROM nosql.timeseries_partition WHERE relid = 'm2'::regclass AND blocks IS NOT NULL;
COPY m2 FROM stdin;
2025-02-01 06:00:00+00	a	3
2025-02-01 07:00:00+00	b	4
\.
SELECT x.range_start, x.blocks IS NOT NULL AS compressed, nosql.timeseries_heap_rows(x.partition, NULL) AS heap_rows
  FROM nosql.timeseries_partition x WHERE x.relid = 'm2'::regclass AND x.blocks IS NOT NULL;
SELECT * FROM m2 ORDER BY time, host;
COMMIT;

-- without a policy (compress_after NULL), COPY writes heap rows
CREATE TABLE m3 (time timestamptz NOT NULL, v float8);
INSERT INTO m3 VALUES ('2025-03-01', 1);
SELECT nosql.create_timeseries('m3', 'time', chunk_interval => '1 day');
COPY m3 FROM stdin;
2025-03-01 01:00:00+00	2
\.
SELECT count(*) AS block_tables FROM nosql.timeseries_partition WHERE relid = 'm3'::regclass AND blocks IS NOT NULL;

-- a unique index takes COPY's own path: its rows go to the heap, where the
-- index checks them
CREATE TABLE m4 (time timestamptz NOT NULL, host text, v float8, UNIQUE (time, host));
INSERT INTO m4 VALUES ('2025-03-01', 'a', 1);
BEGIN;
SELECT nosql.create_timeseries('m4', 'time', '{host}', '1 day', compress_after => '1 day');
COPY m4 FROM stdin;
2025-03-01 01:00:00+00	a	2
\.
SELECT count(*) AS block_tables FROM nosql.timeseries_partition WHERE relid = 'm4'::regclass AND blocks IS NOT NULL;
SELECT nosql.timeseries_heap_rows('m4_ts_20250301_000000', NULL) AS heap_rows;
SAVEPOINT dup;
COPY m4 FROM stdin;
2025-03-01 01:00:00+00	a	3
\.
ROLLBACK TO dup;
COMMIT;

-- another role: INSERT privilege is checked as COPY checks it; it loads
-- into partitions that have block tables, and leaves the others' rows in
-- the heap (their block tables would belong to the owner)
CREATE ROLE ts_copy_loader;
GRANT USAGE ON SCHEMA tcp TO ts_copy_loader;
SET ROLE ts_copy_loader;
COPY m2 FROM stdin;
2025-02-01 09:00:00+00	d	6
\.
RESET ROLE;
GRANT INSERT, SELECT ON m2 TO ts_copy_loader;
BEGIN;
-- a new due partition without a block table
INSERT INTO m2 VALUES ('2025-02-10', 'z', 0);
SELECT nosql.timeseries_maintain('m2');
DELETE FROM m2 WHERE host = 'z';
SET LOCAL ROLE ts_copy_loader;
COPY m2 FROM stdin;
2025-02-01 09:00:00+00	d	6
2025-02-10 09:00:00+00	d	7
\.
RESET ROLE;
SELECT x.range_start, x.blocks IS NOT NULL AS compressed, nosql.timeseries_heap_rows(x.partition, NULL) AS heap_rows
  FROM nosql.timeseries_partition x WHERE x.relid = 'm2'::regclass AND x.range_start IN ('2025-02-01', '2025-02-10')
 ORDER BY 1;
SELECT count(*) FROM m2 WHERE host = 'd';
COMMIT;
-- a table with a trigger takes COPY's own path (the trigger sees every row)
CREATE TABLE seen (n int);
CREATE FUNCTION note_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO seen VALUES (1); RETURN NEW; END $$;
BEGIN;
CREATE TRIGGER m2_rows BEFORE INSERT ON m2 FOR EACH ROW EXECUTE FUNCTION note_row();
COPY m2 FROM stdin;
2025-02-01 08:00:00+00	c	5
\.
SELECT count(*) AS trigger_saw FROM seen;
SELECT nosql.timeseries_heap_rows(x.partition, NULL) AS heap_rows
  FROM nosql.timeseries_partition x WHERE x.relid = 'm2'::regclass AND x.range_start = '2025-02-01';
DROP TRIGGER m2_rows ON m2;
COMMIT;

-- row-level security takes COPY's own path, which refuses it
ALTER TABLE m2 ENABLE ROW LEVEL SECURITY;
CREATE POLICY m2_all ON m2 USING (true);
SET ROLE ts_copy_loader;
COPY m2 FROM stdin;
2025-02-01 10:00:00+00	e	8
\.
RESET ROLE;
ALTER TABLE m2 DISABLE ROW LEVEL SECURITY;

-- a database without the extension (the library is preloaded): COPY into
-- a partitioned table is COPY's own
SELECT current_database() AS regdb \gset
CREATE DATABASE ts_copy_other;
\c ts_copy_other
CREATE TABLE pt (time timestamptz NOT NULL, v int) PARTITION BY RANGE (time);
CREATE TABLE pt_all PARTITION OF pt DEFAULT;
COPY pt FROM stdin;
2025-01-01 00:00:00+00	1
\.
SELECT count(*) FROM pt;
\c :regdb
DROP DATABASE ts_copy_other;
SET search_path = tcp, public;

DROP SCHEMA tcp CASCADE;
DROP FUNCTION IF EXISTS note_row();
DROP ROLE ts_copy_loader;
