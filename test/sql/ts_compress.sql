-- Compressed time series: nosql.compress_timeseries moves the rows of old
-- partitions into blocks; every query must return exactly what it returns
-- on a plain table of the same rows (compared here on randomized data),
-- blocks are skipped by time and series, and UPDATE/DELETE/INSERT into
-- compressed ranges work.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE SCHEMA tsc;
SET search_path = tsc, public;
-- plans below are shown serial; the parallel scan has a section of its own
SET max_parallel_workers_per_gather = 0;
SELECT setseed(0.42);
CREATE TABLE tsm (
    time timestamptz NOT NULL,
    host text,
    region int2,
    v float8,
    f4 float4,
    n int4,
    big int8,
    small int2,
    ok boolean,
    note text,
    doc nosql.bson,
    day date,
    id uuid,
    amount numeric
);
CREATE INDEX tsm_host_time ON tsm (host, time);
-- 3 days of rows of 11 series (10 hosts and a NULL host) x 2 regions, with
-- NULLs, NaN, infinities, -0, extremes and repeated values
INSERT INTO tsm
SELECT timestamptz '2025-01-01' + (i * 51 + (random() * 50)::int) * interval '1 s',
       CASE WHEN h = 10 THEN NULL ELSE 'h' || h END,
       r::int2,
       CASE WHEN random() < 0.02 THEN NULL
            WHEN random() < 0.01 THEN 'NaN'::float8
            WHEN random() < 0.01 THEN (ARRAY['Infinity', '-Infinity', '-0'])[1 + (random() * 2)::int]::float8
            ELSE round((random() * 100)::numeric, (random() * 3)::int)::float8 END,
       (random() * 10)::float4,
       CASE WHEN random() < 0.05 THEN NULL ELSE i END,
       CASE WHEN random() < 0.01 THEN 9223372036854775807 WHEN random() < 0.01 THEN -9223372036854775808 ELSE (i::int8 * 1000003) END,
       (i % 30000 - 15000)::int2,
       CASE WHEN random() < 0.05 THEN NULL ELSE random() < 0.3 END,
       CASE WHEN random() < 0.1 THEN NULL ELSE 'note ' || (i % 13) END,
       CASE WHEN random() < 0.1 THEN NULL ELSE ('{"i": ' || i || ', "t": "x"}')::nosql.bson END,
       date '2025-01-01' + (i % 5),
       CASE WHEN random() < 0.1 THEN NULL ELSE md5(i::text)::uuid END,
       CASE WHEN random() < 0.1 THEN NULL ELSE (i * 1.25)::numeric END
  FROM generate_series(0, 5000) i, generate_series(0, 10) h, generate_series(1, 2) r;
CREATE TABLE tsp AS SELECT * FROM tsm;
SELECT nosql.create_timeseries('tsm', 'time', '{host,region}', '1 day');

-- compare a query on a time-series table (%1$s: ts) with a plain table
-- of the same rows (plain); same() for tsm and tsp
CREATE FUNCTION same_in(q text, ts text, plain text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    extra bigint;
    missing bigint;
    total bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((SELECT x::text FROM (%s) x) EXCEPT ALL (SELECT x::text FROM (%s) x)) d',
                   format(q, ts), format(q, plain)) INTO extra;
    EXECUTE format('SELECT count(*) FROM ((SELECT x::text FROM (%s) x) EXCEPT ALL (SELECT x::text FROM (%s) x)) d',
                   format(q, plain), format(q, ts)) INTO missing;
    EXECUTE format('SELECT count(*) FROM (%s) x', format(q, ts)) INTO total;
    RETURN CASE WHEN extra = 0 AND missing = 0 THEN 'same, ' || total || ' rows'
                ELSE format('DIFFERENT: %s extra, %s missing of %s', extra, missing, total) END;
END
$$;
CREATE FUNCTION same(q text) RETURNS text LANGUAGE sql RETURN same_in(q, 'tsm', 'tsp');

-- partitions wholly older than now(): all three days
SELECT nosql.compress_timeseries('tsm') AS rows_compressed;
SELECT count(*) AS compressed_partitions FROM nosql.timeseries_partition
 WHERE relid = 'tsm'::regclass AND blocks IS NOT NULL;
SELECT nosql.timeseries_heap_rows('tsm_ts_20250101_000000') AS heap_rows, (SELECT count(*) FROM ONLY tsm_ts_20250101_000000) AS rows,
       sum(rows) AS block_rows, count(*) AS blocks, max(rows) AS largest_block
  FROM tsm_ts_20250101_000000_blocks;
-- a block per series and 1,000 rows, ordered by time
SELECT count(*) AS misordered FROM tsm_ts_20250101_000000_blocks WHERE min_time > max_time;
SELECT nosql.tsblock_info(nosql.tsblock_column(t1, 1)) AS time_block, nosql.tsblock_info(nosql.tsblock_column(t1, 6)) AS int4_block,
       nosql.tsblock_column(t1, 2) IS NULL AS no_segment_block
  FROM tsm_ts_20250101_000000_blocks WHERE s2 = 'h3' AND s3 = 1 ORDER BY min_time LIMIT 1;

-- every row, every column, every bit (text forms keep -0 and NaN apart)
SELECT same('SELECT * FROM %1$s');
SELECT same('SELECT * FROM %1$s WHERE time >= ''2025-01-02 03:00'' AND time < ''2025-01-02 04:00''');
SELECT same('SELECT * FROM %1$s WHERE time > ''2025-01-02 03:00:05'' AND time <= ''2025-01-02 03:09''');
SELECT same('SELECT * FROM %1$s WHERE time = (SELECT min(time) FROM %1$s WHERE host = ''h4'')');
SELECT same('SELECT * FROM %1$s WHERE ''2025-01-03 10:00'' < time');
SELECT same('SELECT * FROM %1$s WHERE host = ''h3''');
SELECT same('SELECT * FROM %1$s WHERE host IS NULL AND region = 2');
SELECT same('SELECT * FROM %1$s WHERE host IN (''h1'', ''h7'') AND time < ''2025-01-01 06:00''');
SELECT same('SELECT * FROM %1$s WHERE host LIKE ''h1%%'' OR region = 1');
SELECT same('SELECT * FROM %1$s WHERE v > 50 AND n %% 7 = 0');
SELECT same('SELECT * FROM %1$s WHERE v IS NULL OR v = ''NaN'' OR v = ''-Infinity''');
SELECT same('SELECT * FROM %1$s WHERE time < now() - interval ''1 year'' AND time > timestamptz ''2025-01-03 23:00''');
SELECT same('SELECT * FROM %1$s WHERE time < NULL');
-- value bounds against the blocks' smallest and largest values
SELECT same('SELECT * FROM %1$s WHERE v >= 99.9');
SELECT same('SELECT * FROM %1$s WHERE v = ''NaN''');
SELECT same('SELECT * FROM %1$s WHERE v > ''Infinity''');
SELECT same('SELECT * FROM %1$s WHERE v <= ''-Infinity''');
SELECT same('SELECT * FROM %1$s WHERE v = 0');
SELECT same('SELECT * FROM %1$s WHERE 10 > n');
SELECT same('SELECT * FROM %1$s WHERE big = 9223372036854775807');
SELECT same('SELECT * FROM %1$s WHERE small > 14990 AND f4 < 1.5');
SELECT same('SELECT * FROM %1$s WHERE day = ''2025-01-03'' AND n > 4000');
SELECT same('SELECT * FROM %1$s WHERE n = NULL::int4');
SELECT same('SELECT time, doc FROM %1$s WHERE doc IS NOT NULL AND time >= ''2025-01-02 22:00''');
-- aggregates, buckets, first/last, sorting, joins
SELECT same('SELECT host, region, count(*), count(v), sum(n), min(big), max(big), sum(small), bool_or(ok), count(note), min(day), count(id), sum(amount) FROM %1$s GROUP BY 1, 2');
SELECT same('SELECT nosql.time_bucket(''1 hour'', time) b, host, region, round(avg(v) FILTER (WHERE v <> ''NaN'' AND v BETWEEN -1000 AND 1000)::numeric, 6), max(v), nosql.first(v, time), nosql.last(n, time) FROM %1$s WHERE time >= ''2025-01-01 06:00'' AND time < ''2025-01-01 18:00'' GROUP BY 1, 2, 3');
SELECT same('SELECT nosql.time_bucket(''1 minute'', time) b, max(v) FROM %1$s WHERE host = ''h7'' AND region = 1 AND time >= ''2025-01-02 06:00'' AND time < ''2025-01-02 18:00'' GROUP BY 1');
SELECT same('SELECT time, host, region, v FROM %1$s WHERE host = ''h2'' ORDER BY time DESC, region LIMIT 25');
SELECT same('SELECT a.time, a.host, a.v, b.n FROM %1$s a JOIN %1$s b ON a.time = b.time AND a.host = b.host AND a.region = b.region AND a.region = 1 WHERE a.host = ''h5'' AND a.time < ''2025-01-01 12:00''');
SELECT same('SELECT h.host, x.c FROM (VALUES (''h1''), (''h9''), (''zz'')) h(host) CROSS JOIN LATERAL (SELECT count(*) c FROM %1$s t WHERE t.host = h.host AND t.time < ''2025-01-02'') x');
SELECT tableoid::regclass, count(*) FROM tsm GROUP BY 1 ORDER BY 1;

-- aggregates from the blocks' statistics (Nosql Block Aggregate): blocks
-- inside the time bounds are not decoded
SELECT same('SELECT host, region, count(*), count(v), count(note), min(v), max(v), min(n), max(n), sum(n), sum(small), min(big), max(big), min(day), max(day), min(time), max(time), min(f4), max(f4) FROM %1$s GROUP BY host, region');
SELECT same('SELECT host, count(*), count(n), sum(n), max(v), min(time), max(time) FROM %1$s WHERE time >= ''2025-01-01 05:00'' AND time < ''2025-01-02 20:00'' GROUP BY host');
SELECT same('SELECT region, count(*), max(big) FROM %1$s WHERE host IN (''h1'', ''h2'') AND time > ''2025-01-02'' GROUP BY region');
SELECT same('SELECT count(*), max(time), sum(n), min(small) FROM %1$s WHERE time < ''2025-01-03 12:00''');
SELECT same('SELECT count(*), max(time), sum(n) FROM %1$s WHERE time > ''2030-01-01''');
SELECT same('SELECT host, count(*) FROM %1$s WHERE time > ''2030-01-01'' GROUP BY host');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT host, count(*), max(v), sum(n) FROM tsm WHERE time >= '2025-01-01 05:00' AND time < '2025-01-02 20:00' GROUP BY host;
-- a qual on values or an expression: the ordinary plan
EXPLAIN (COSTS OFF) SELECT count(*) FROM tsm WHERE v > 5 AND time < '2025-02-01';
EXPLAIN (COSTS OFF) SELECT max(v) - min(v) FROM tsm WHERE time < '2025-02-01';

-- grouping by time_bucket and avg/sum of integers from the statistics: a
-- block whose first and last time fall in one bucket joins that bucket
-- without decoding; one that straddles a boundary is decoded.  h0 is dense
-- (a block spans ~17 minutes), the others sparse (~3 hours); b and c hold
-- int4 and int8 extremes (an int8 block sum that overflows is kept NULL,
-- and such blocks are decoded)
SELECT setseed(0.17);
CREATE TABLE tsa (time timestamptz NOT NULL, host text, a int2, b int4, c int8, v float8);
INSERT INTO tsa
SELECT timestamptz '2025-03-01' + (i * CASE WHEN h = 0 THEN 1 ELSE 11 END + (random() * 0.9)::numeric(3, 2)) * interval '1 s',
       CASE WHEN h = 3 THEN NULL ELSE 'h' || h END,
       CASE WHEN random() < 0.05 THEN NULL ELSE (random() * 60000 - 30000)::int2 END,
       CASE WHEN random() < 0.05 THEN NULL WHEN random() < 0.01 THEN 2147483647
            WHEN random() < 0.01 THEN -2147483648 ELSE (random() * 1e6)::int4 END,
       CASE WHEN random() < 0.05 THEN NULL WHEN random() < 0.0003 THEN 9223372036854775807
            WHEN random() < 0.0003 THEN -9223372036854775808 ELSE (random() * 1e15)::int8 - 5e14::int8 END,
       random()
  FROM generate_series(0, 15000) i, generate_series(0, 3) h
 WHERE h = 0 OR i < 15000;
CREATE TABLE tsap AS SELECT * FROM tsa;
SELECT nosql.create_timeseries('tsa', 'time', '{host}', '1 day');
SELECT nosql.compress_timeseries('tsa') AS rows_compressed;
SELECT count(*) AS blocks, count(*) FILTER (WHERE c5_sum IS NULL) AS int8_sum_overflowed
  FROM (SELECT c5_sum FROM tsa_ts_20250301_000000_blocks UNION ALL SELECT c5_sum FROM tsa_ts_20250302_000000_blocks) x;
-- rows written into compressed ranges stay in the partitions' heaps
INSERT INTO tsa VALUES ('2025-03-01 00:30', 'h0', 1, 2, 3, 0.5), ('2025-03-01 12:00:00.5', 'h1', NULL, NULL, NULL, NULL),
    ('2025-03-02 01:00', 'h9', 7, 7, 9223372036854775807, 1), ('2025-03-02 01:00:01', 'h9', -7, 7, 9223372036854775807, 1);
INSERT INTO tsap VALUES ('2025-03-01 00:30', 'h0', 1, 2, 3, 0.5), ('2025-03-01 12:00:00.5', 'h1', NULL, NULL, NULL, NULL),
    ('2025-03-02 01:00', 'h9', 7, 7, 9223372036854775807, 1), ('2025-03-02 01:00:01', 'h9', -7, 7, 9223372036854775807, 1);
-- same() for tsa and tsap
CREATE FUNCTION same_a(q text) RETURNS text LANGUAGE sql RETURN same_in(q, 'tsa', 'tsap');
-- buckets of a day (every block inside one), an hour (h0's blocks inside,
-- the others straddle), 10 minutes (every block straddles); origin and offset
SELECT same_a('SELECT nosql.time_bucket(''1 day'', time) b, host, count(*), count(a), sum(a), avg(a), sum(b), avg(b), sum(c), avg(c), min(c), max(c), min(time), max(time) FROM %1$s GROUP BY 1, 2');
SELECT same_a('SELECT nosql.time_bucket(''1 hour'', time) b, host, count(*), count(c), sum(a), avg(a), sum(b), avg(b), sum(c), avg(c), min(v), max(v) FROM %1$s GROUP BY 1, 2');
SELECT same_a('SELECT host, nosql.time_bucket(''10 minutes'', time), count(*), avg(c), sum(c) FROM %1$s WHERE time >= ''2025-03-01 02:00'' AND time < ''2025-03-01 20:00'' GROUP BY 2, 1');
SELECT same_a('SELECT nosql.time_bucket(''6 hours'', time, ''2025-03-01 03:17''::timestamptz), count(*), avg(a), sum(c) FROM %1$s GROUP BY 1');
SELECT same_a('SELECT nosql.time_bucket(''1 day'', time, interval ''5 hours''), host, count(*), avg(b), avg(c) FROM %1$s GROUP BY 1, 2');
SELECT same_a('SELECT nosql.time_bucket(''2 days'', time, interval ''-30 minutes''), count(*), avg(b), max(time) FROM %1$s WHERE host IS NULL GROUP BY 1');
SELECT same_a('SELECT nosql.time_bucket(''1 month'', time), avg(b), avg(c) FROM %1$s GROUP BY 1');
SELECT same_a('SELECT nosql.time_bucket(''1 hour'', time) b, count(*), max(b) FROM %1$s WHERE host = ''h9'' GROUP BY 1');
-- avg and sum of int8 without grouping, by series, and over no rows
SELECT same_a('SELECT avg(a), avg(b), avg(c), sum(c), sum(a), sum(b), count(*) FROM %1$s');
SELECT same_a('SELECT host, avg(c), sum(c), avg(a) FROM %1$s WHERE host IN (''h1'', ''h9'') GROUP BY host');
SELECT same_a('SELECT avg(a), avg(b), avg(c), sum(c) FROM %1$s WHERE time > ''2030-01-01''');
SELECT same_a('SELECT nosql.time_bucket(''1 day'', time), avg(c) FROM %1$s WHERE time > ''2030-01-01'' GROUP BY 1');
SELECT avg(c), sum(c), avg(a) FROM tsa WHERE time > '2030-01-01';
-- the int8 extremes: the sums exceed int8, as numeric
SELECT nosql.time_bucket('1 day', time) b, count(c), sum(c), avg(c) FROM tsa WHERE host = 'h9' GROUP BY 1;
-- ordered output: a Sort above the node
SELECT nosql.time_bucket('1 day', time) b, host, count(*), avg(b), sum(c) FROM tsa
 WHERE time >= '2025-03-01' AND time < '2025-03-03' GROUP BY 1, 2 ORDER BY 1, 2;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT nosql.time_bucket('1 day', time) b, host, count(*), avg(b), sum(c) FROM tsa
 WHERE time >= '2025-03-01' AND time < '2025-03-03' GROUP BY 1, 2 ORDER BY 1, 2;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT nosql.time_bucket('1 hour', time), min(a), avg(a) FROM tsa
 WHERE host = 'h0' AND time >= '2025-03-01' AND time < '2025-03-03' GROUP BY 1;
-- a time zone's buckets: the node too (below, with tsz)
EXPLAIN (COSTS OFF) SELECT nosql.time_bucket('1 day', time, 'Europe/Paris'), count(*) FROM tsa WHERE time < '2025-03-03' GROUP BY 1;
-- an expression of the bucket, float avg: the ordinary plan
EXPLAIN (COSTS OFF) SELECT nosql.time_bucket('1 day', time) + interval '1 hour', count(*) FROM tsa WHERE time < '2025-03-03' GROUP BY nosql.time_bucket('1 day', time);
EXPLAIN (COSTS OFF) SELECT avg(v) FROM tsa WHERE time < '2025-03-03';
-- randomized: 40 queries of random widths, origins, offsets, bounds and series
DO $$
DECLARE
    w text;
    bucket text;
    lo timestamptz;
    hi timestamptz;
    h text;
    q text;
    r text;
    bad int := 0;
BEGIN
    FOR i IN 1 .. 40 LOOP
        w := (ARRAY['1 minute', '7 minutes', '17 minutes', '1 hour', '3 hours', '1 day', '2 days', '90 minutes'])[1 + (random() * 7)::int];
        bucket := CASE (random() * 2)::int
            WHEN 0 THEN format('nosql.time_bucket(%L, time)', w)
            WHEN 1 THEN format('nosql.time_bucket(%L, time, %L::timestamptz)', w, timestamptz '2025-03-01' + random() * interval '1 day')
            ELSE format('nosql.time_bucket(%L, time, %L::interval)', w, random() * interval '5 hours' - interval '2 hours') END;
        lo := timestamptz '2025-02-28 22:00' + random() * interval '2 days';
        hi := lo + random() * interval '30 hours';
        h := CASE WHEN random() < 0.4 THEN NULL ELSE 'h' || (random() * 2)::int END;
        q := format('SELECT %s b, host, count(*), count(a), sum(a), avg(a), sum(b), avg(b), sum(c), avg(c), min(c), max(b), min(time), max(time) FROM %%1$s WHERE time >= %L AND time < %L %s GROUP BY 1, 2',
                    bucket, lo, hi, CASE WHEN h IS NULL THEN '' ELSE format('AND host = %L', h) END);
        r := same_a(q);
        IF r NOT LIKE 'same%' THEN
            bad := bad + 1;
            RAISE NOTICE '%: %', r, q;
        END IF;
    END LOOP;
    RAISE NOTICE 'random bucket queries that differ: %', bad;
END
$$;

-- time_bucket with a time zone from the statistics: a block joins a bucket
-- when the local buckets of its first and last time are one and the zone's
-- UTC offset does not change inside it (local time is then monotone over
-- the block); a block across a transition is decoded.  Rows around the
-- 2025 transitions of New York (03-09 07:00, 11-02 06:00 UTC), Berlin
-- (03-30 01:00, 10-26 01:00) and Lord Howe (30 minutes: 04-05 15:00,
-- 10-04 15:30): 'a' every ~10 minutes over March and October (a block
-- spans ~7 days), 'b' every ~47 s within 8 hours of each transition (~13
-- hours), 'c' every ~6 s within 2 hours of each (~100 minutes), NULL every 6
-- hours; 'edge' 07:01-07:56 UTC on 2025-03-09, just after New York skips
-- 02:00-03:00, and 'fall' 00:50-01:55 UTC on 2025-10-26, 02:50 CEST to 02:55
-- CET in Berlin
SELECT setseed(0.61);
CREATE TABLE tsz (time timestamptz NOT NULL, host text, n int4, c int8);
INSERT INTO tsz
SELECT t + random() * interval '400 s', 'a', (random() * 1000)::int4, (random() * 1e12)::int8
  FROM generate_series(timestamptz '2025-03-03', '2025-04-12', '10 minutes') t
UNION ALL
SELECT t + random() * interval '400 s', 'a', (random() * 1000)::int4, (random() * 1e12)::int8
  FROM generate_series(timestamptz '2025-09-29', '2025-11-08', '10 minutes') t
UNION ALL
SELECT x + d * interval '47 s' + random() * interval '40 s', 'b',
       CASE WHEN random() < 0.05 THEN NULL ELSE (random() * 1000)::int4 END, (random() * 1e12)::int8
  FROM unnest(ARRAY[timestamptz '2025-03-09 07:00+00', '2025-11-02 06:00+00', '2025-03-30 01:00+00',
                    '2025-10-26 01:00+00', '2025-04-05 15:00+00', '2025-10-04 15:30+00']) tr,
       LATERAL (SELECT tr - interval '8 hours' AS x) s, generate_series(0, 16 * 3600 / 47) d
UNION ALL
SELECT x + d * interval '6 s' + random() * interval '5 s', 'c', (random() * 1000)::int4, (random() * 1e12)::int8
  FROM unnest(ARRAY[timestamptz '2025-03-09 07:00+00', '2025-11-02 06:00+00', '2025-03-30 01:00+00',
                    '2025-10-26 01:00+00', '2025-04-05 15:00+00', '2025-10-04 15:30+00']) tr,
       LATERAL (SELECT tr - interval '2 hours' + random() * interval '30 minutes' AS x) s, generate_series(0, 4 * 600) d
UNION ALL
SELECT t, NULL, (random() * 1000)::int4, NULL
  FROM generate_series(timestamptz '2025-03-03', '2025-11-08', '6 hours') t
 WHERE t < '2025-04-12' OR t >= '2025-09-29'
UNION ALL
SELECT t, 'edge', 1, 1
  FROM generate_series(timestamptz '2025-03-09 07:01+00', '2025-03-09 07:56+00', '1 minute') t
UNION ALL
SELECT t, 'fall', 1, 1
  FROM generate_series(timestamptz '2025-10-26 00:50+00', '2025-10-26 01:55+00', '1 minute') t;
CREATE TABLE tszp AS SELECT * FROM tsz;
SELECT nosql.create_timeseries('tsz', 'time', '{host}', '7 days');
SELECT nosql.compress_timeseries('tsz') > 0 AS compressed;
CREATE FUNCTION same_z(q text) RETURNS text LANGUAGE sql RETURN same_in(q, 'tsz', 'tszp');
-- the two ends of 'edge' lie in the local buckets 02:50 (a bucket that
-- starts in the skipped hour, read as 03:50 EDT) and 03:50: the same time,
-- yet the rows between are in 03:05, 03:20 and 03:35
SELECT same_z('SELECT nosql.time_bucket(''15 minutes'', time, ''America/New_York'', NULL, ''5 minutes'') b, count(*), min(time), max(time) FROM %1$s WHERE host = ''edge'' GROUP BY 1');
SELECT nosql.time_bucket('15 minutes', time, 'America/New_York', NULL, '5 minutes') b, count(*)
  FROM tsz WHERE host = 'edge' GROUP BY 1 ORDER BY 1;
-- the ends of 'fall' lie in one local bucket, 02:45, but Berlin's offset
-- changes inside: the rows of 02:00-02:44 CET are in other buckets
SELECT same_z('SELECT nosql.time_bucket(''15 minutes'', time, ''Europe/Berlin'') b, count(*), min(time), max(time) FROM %1$s WHERE host = ''fall'' GROUP BY 1');
SELECT nosql.time_bucket('15 minutes', time, 'Europe/Berlin') b, count(*)
  FROM tsz WHERE host = 'fall' GROUP BY 1 ORDER BY 1;
-- every zone and width, over everything and within random bounds
DO $$
DECLARE
    z text;
    w text;
    lo timestamptz;
    hi timestamptz;
    q text;
    r text;
    bad int := 0;
    n int := 0;
BEGIN
    FOREACH z IN ARRAY ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu'] LOOP
        FOREACH w IN ARRAY ARRAY['15 minutes', '1 hour', '1 day', '1 week', '1 month'] LOOP
            FOR k IN 0 .. 1 LOOP
                IF k = 0 THEN
                    q := format('SELECT nosql.time_bucket(%L, time, %L) b, host, count(*), count(n), sum(n), avg(n), sum(c), avg(c), min(c), max(n), min(time), max(time) FROM %%1$s GROUP BY 1, 2', w, z);
                ELSE
                    lo := timestamptz '2025-03-01' + random() * interval '250 days';
                    hi := lo + random() * interval '40 days';
                    q := format('SELECT nosql.time_bucket(%L, time, %L) b, host, count(*), sum(n), avg(c), max(time) FROM %%1$s WHERE time >= %L AND time < %L GROUP BY 1, 2', w, z, lo, hi);
                END IF;
                r := same_z(q);
                n := n + 1;
                IF r NOT LIKE 'same%' THEN
                    bad := bad + 1;
                    RAISE NOTICE '%: %', r, q;
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;
    RAISE NOTICE 'zone and width queries: %, that differ: %', n, bad;
END
$$;
-- randomized: 60 queries of random zones (names, POSIX offsets, fixed
-- abbreviations), widths, origins, offsets, bounds and series
DO $$
DECLARE
    z text;
    w text;
    bucket text;
    lo timestamptz;
    hi timestamptz;
    h text;
    q text;
    r text;
    bad int := 0;
BEGIN
    FOR i IN 1 .. 60 LOOP
        z := (ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu',
                    'UTC+3', '+03:00', '-05:45', 'EST5EDT', 'CET', 'EST', 'America/St_Johns'])[1 + (random() * 11)::int];
        w := (ARRAY['15 minutes', '30 minutes', '1 hour', '90 minutes', '1 day', '1 week', '1 month', '3 months', '10 minutes'])[1 + (random() * 8)::int];
        bucket := CASE (random() * 3)::int
            WHEN 0 THEN format('nosql.time_bucket(%L, time, %L)', w, z)
            WHEN 1 THEN format('nosql.time_bucket(%L, time, %L, %L::timestamptz)', w, z, timestamptz '2025-03-01' + random() * interval '10 days')
            WHEN 2 THEN format('nosql.time_bucket(%L, time, %L, "offset" => %L::interval)', w, z, random() * interval '5 hours' - interval '2 hours')
            ELSE format('nosql.time_bucket(%L, time, %L, %L::timestamptz, %L::interval)', w, z, timestamptz '2025-03-01' + random() * interval '10 days', random() * interval '50 minutes') END;
        lo := timestamptz '2025-03-01' + random() * interval '250 days';
        hi := lo + random() * interval '40 days';
        h := CASE WHEN random() < 0.5 THEN NULL ELSE (ARRAY['a', 'b', 'c', 'edge'])[1 + (random() * 3)::int] END;
        q := format('SELECT %s b, host, count(*), count(n), sum(n), avg(n), sum(c), avg(c), min(time), max(time) FROM %%1$s WHERE %s %s GROUP BY 1, 2',
                    bucket, CASE WHEN random() < 0.3 THEN 'true' ELSE format('time >= %L AND time < %L', lo, hi) END,
                    CASE WHEN h IS NULL THEN '' ELSE format('AND host = %L', h) END);
        r := same_z(q);
        IF r NOT LIKE 'same%' THEN
            bad := bad + 1;
            RAISE NOTICE '%: %', r, q;
        END IF;
    END LOOP;
    RAISE NOTICE 'random time zone bucket queries that differ: %', bad;
END
$$;
-- the node answers them: days from the statistics, but for the blocks that
-- span more than a local day (all of 'a') or in which Berlin's offset
-- changes ('b' and 'c' around each Berlin transition)
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT nosql.time_bucket('1 day', time, 'Europe/Berlin') b, host, count(*), avg(n) FROM tsz GROUP BY 1, 2;
-- a week in Kathmandu (+05:45 throughout): every block inside one week
-- from the statistics
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT nosql.time_bucket('1 week', time, 'Asia/Kathmandu') b, count(*), max(time) FROM tsz WHERE host = 'b' GROUP BY 1;
-- a fixed abbreviation and a POSIX zone never change their offset: from
-- the statistics too; a dynamic abbreviation (CLT: America/Santiago's
-- meaning of it at the time) is not followed: every block decoded
SELECT same_z('SELECT nosql.time_bucket(''1 week'', time, ''CLT'') b, host, count(*), sum(n), max(time) FROM %1$s GROUP BY 1, 2');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT nosql.time_bucket('1 week', time, 'EST') b, count(*), max(time) FROM tsz WHERE host = 'b' GROUP BY 1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT nosql.time_bucket('1 week', time, 'UTC+3') b, count(*), max(time) FROM tsz WHERE host = 'b' GROUP BY 1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT nosql.time_bucket('1 week', time, 'CLT') b, count(*), max(time) FROM tsz WHERE host = 'b' GROUP BY 1;
-- 'c' around Berlin's autumn transition: the block holding 01:00 UTC is
-- decoded, though its ends lie on one local day
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT nosql.time_bucket('1 day', time, 'Europe/Berlin') b, count(*) FROM tsz
 WHERE host = 'c' AND time >= '2025-10-25 22:00' AND time < '2025-10-26 04:00' GROUP BY 1;
SELECT count(*) AS c_blocks_across_berlin_autumn FROM tsz_ts_20251020_000000_blocks
 WHERE min_time < '2025-10-26 01:00+00' AND max_time >= '2025-10-26 01:00+00' AND s2 = 'c';
-- a time zone that is not one: time_bucket's own error, from the node
EXPLAIN (COSTS OFF) SELECT nosql.time_bucket('1 day', time, 'Mars/Olympus'), count(*) FROM tsz GROUP BY 1;
SELECT nosql.time_bucket('1 day', time, 'Mars/Olympus'), count(*) FROM tsz GROUP BY 1;
SELECT nosql.time_bucket('1 day', time, 'Mars/Olympus'), count(*) FROM tszp GROUP BY 1;
-- over no rows, no error (as the ordinary plan)
SELECT nosql.time_bucket('1 day', time, 'Mars/Olympus'), count(*) FROM tsz WHERE time > '2030-01-01' GROUP BY 1;
-- a time zone that is not a constant: the ordinary plan
EXPLAIN (COSTS OFF) SELECT nosql.time_bucket('1 day', time, host), count(*) FROM tsz WHERE time < '2025-03-05' GROUP BY 1;

-- randomized windows: 40 random (series, range) queries against the plain table
DO $$
DECLARE
    lo timestamptz;
    hi timestamptz;
    h text;
    a text;
    b text;
    bad int := 0;
BEGIN
    FOR i IN 1 .. 40 LOOP
        lo := timestamptz '2025-01-01' + random() * interval '3 days';
        hi := lo + random() * interval '20 hours';
        h := CASE WHEN random() < 0.2 THEN NULL ELSE 'h' || (random() * 9)::int END;
        SELECT string_agg(x::text, ',' ORDER BY x::text) INTO a
          FROM (SELECT time, host, region, v, n, note FROM tsm WHERE time >= lo AND time < hi AND (h IS NULL OR host = h)) x;
        SELECT string_agg(x::text, ',' ORDER BY x::text) INTO b
          FROM (SELECT time, host, region, v, n, note FROM tsp WHERE time >= lo AND time < hi AND (h IS NULL OR host = h)) x;
        IF a IS DISTINCT FROM b THEN
            bad := bad + 1;
            RAISE NOTICE 'different: % % %', lo, hi, h;
        END IF;
    END LOOP;
    RAISE NOTICE 'random windows that differ: %', bad;
END
$$;

-- parallel scans share out the pages of heaps and block tables
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT same('SELECT host, region, count(*), sum(n), max(v), min(note) FROM %1$s GROUP BY 1, 2');
SELECT same('SELECT * FROM %1$s WHERE time >= ''2025-01-02'' AND v > 10');
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SET max_parallel_workers_per_gather = 0;

-- ANALYZE of a compressed partition (autovacuum's too) finds its heap
-- empty: the planner still counts the rows of its blocks, from the block
-- table's pages, so that the partition does not look free and the plans
-- above it stay right (the Block Aggregate below was lost to a plain
-- Aggregate over a scan that cost nothing)
CREATE FUNCTION plan_rows(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE p json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO p;
    RETURN (p -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
END $$;
ANALYZE tsm;
SELECT reltuples AS heap_rows FROM pg_class WHERE relname = 'tsm_ts_20250102_000000';
SELECT plan_rows('SELECT * FROM tsm_ts_20250102_000000') / count(*) BETWEEN 0.5 AND 3 AS counts_blocks
  FROM tsm_ts_20250102_000000;
-- the plan: the custom scan, blocks skipped by time and by series
EXPLAIN (COSTS OFF) SELECT count(*) FROM tsm WHERE host = 'h1' AND time >= '2025-01-02 01:00' AND time < '2025-01-02 02:00';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM tsm WHERE host = 'h1' AND region = 2 AND time >= '2025-01-02 01:00' AND time < '2025-01-02 02:00';
-- an aggregate the statistics do not answer: the scan, through the block index
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT max(note) FROM tsm WHERE host = 'h1' AND region = 2 AND time >= '2025-01-02 01:00' AND time < '2025-01-02 02:00';
SELECT same('SELECT max(note), count(*) FILTER (WHERE n > 3) FROM %1$s WHERE host = ''h1'' AND region = 2 AND time >= ''2025-01-02 01:00'' AND time < ''2025-01-02 02:00''');
SELECT same('SELECT * FROM %1$s WHERE host = ''h5''');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM tsm WHERE n < 500 AND time < '2025-02-01';
SELECT c6_nulls, c6_min, c6_max, c4_min, c4_max FROM tsm_ts_20250101_000000_blocks ORDER BY min_time, s2, s3 LIMIT 3;
-- parameters: the bounds are evaluated when the scan starts
PREPARE w(timestamptz, text) AS SELECT count(*), sum(n) FROM tsm WHERE time >= $1 AND time < $1 + interval '2 hours' AND host = $2;
EXECUTE w('2025-01-01 05:00', 'h1');
EXECUTE w('2025-01-02 05:00', 'h2');
EXECUTE w('2025-01-03 05:00', 'h3');
EXECUTE w('2025-01-01 05:00', 'h1');
EXECUTE w('2025-01-02 05:00', 'h2');
EXECUTE w('2025-01-03 05:00', 'h3');
SELECT count(*), sum(n) FROM tsp WHERE time >= '2025-01-03 05:00' AND time < '2025-01-03 07:00' AND host = 'h3';
-- generic plans: the parameters reach the block filters and the block index
SET plan_cache_mode = force_generic_plan;
EXECUTE w('2025-01-03 05:00', 'h3');
PREPARE w2(timestamptz, text) AS SELECT max(note), count(*) FROM tsm WHERE time >= $1 AND time < $1 + interval '2 hours' AND host = $2;
EXECUTE w2('2025-01-03 05:00', 'h3');
EXECUTE w2('2025-01-01 00:00', 'h9');
RESET plan_cache_mode;
SELECT max(note), count(*) FROM tsp WHERE time >= '2025-01-03 05:00' AND time < '2025-01-03 07:00' AND host = 'h3';
SELECT max(note), count(*) FROM tsp WHERE time >= '2025-01-01 00:00' AND time < '2025-01-01 02:00' AND host = 'h9';

-- writes into compressed ranges: only the blocks they may reach come back
SELECT count(*) AS blocks_before FROM tsm_ts_20250102_000000_blocks;
UPDATE tsm SET v = -1, note = 'updated' WHERE host = 'h2' AND region = 1 AND time >= '2025-01-02 10:00' AND time < '2025-01-02 11:00';
UPDATE tsp SET v = -1, note = 'updated' WHERE host = 'h2' AND region = 1 AND time >= '2025-01-02 10:00' AND time < '2025-01-02 11:00';
SELECT count(*) AS blocks_after_update, nosql.timeseries_heap_rows('tsm_ts_20250102_000000') AS heap_rows
  FROM tsm_ts_20250102_000000_blocks;
DELETE FROM tsm WHERE host = 'h8' AND time >= '2025-01-03 12:00';
DELETE FROM tsp WHERE host = 'h8' AND time >= '2025-01-03 12:00';
DELETE FROM tsm WHERE v = 'NaN';
DELETE FROM tsp WHERE v = 'NaN';
-- backfill: an INSERT into a compressed range lands in the partition's heap
INSERT INTO tsm (time, host, region, v, n) VALUES ('2025-01-01 12:00:00.5', 'h1', 1, 123.25, -5), ('2025-01-02 12:00:00.5', 'new', 3, 1, 1);
INSERT INTO tsp (time, host, region, v, n) VALUES ('2025-01-01 12:00:00.5', 'h1', 1, 123.25, -5), ('2025-01-02 12:00:00.5', 'new', 3, 1, 1);
SELECT same('SELECT * FROM %1$s');
-- an INSERT straight into a compressed partition decompresses nothing
SELECT count(*) AS blocks FROM tsm_ts_20250103_000000_blocks \gset
INSERT INTO tsm_ts_20250103_000000 (time, host, region, v, n) VALUES ('2025-01-03 12:00:00.5', 'direct', 1, 2, 2);
INSERT INTO tsp (time, host, region, v, n) VALUES ('2025-01-03 12:00:00.5', 'direct', 1, 2, 2);
SELECT count(*) = :blocks AS no_block_decompressed FROM tsm_ts_20250103_000000_blocks;
-- a plpgsql parameter in a DELETE's bounds
DO $$
DECLARE
    t timestamptz := '2025-01-01 23:00';
BEGIN
    DELETE FROM tsm WHERE time > t AND time < t + interval '30 minutes' AND host = 'h0';
    DELETE FROM tsp WHERE time > t AND time < t + interval '30 minutes' AND host = 'h0';
END
$$;
-- rows locked FOR UPDATE come back as rows too
SELECT count(*) FROM (SELECT * FROM tsm WHERE host = 'h6' AND region = 2 AND time < '2025-01-01 01:00' FOR UPDATE) x;
SELECT same('SELECT * FROM %1$s');
-- compress again: the new and decompressed rows become blocks
SELECT same('SELECT host, region, count(*), count(v), min(v), max(v), sum(n), min(time), max(time) FROM %1$s GROUP BY host, region');
SELECT nosql.compress_timeseries('tsm') AS compressed_again;
SELECT nosql.timeseries_heap_rows('tsm_ts_20250102_000000') AS heap_rows;
SELECT same('SELECT * FROM %1$s');
-- a rolled-back compression leaves the rows where they were
UPDATE tsm SET n = n + 1 WHERE host = 'h9' AND time < '2025-01-01 02:00';
UPDATE tsp SET n = n + 1 WHERE host = 'h9' AND time < '2025-01-01 02:00';
BEGIN;
SELECT nosql.compress_timeseries('tsm') > 0 AS compressed;
ROLLBACK;
SELECT nosql.timeseries_heap_rows('tsm_ts_20250101_000000') AS rows_still_in_heap;
SELECT same('SELECT * FROM %1$s');
-- decompress everything, and back
SELECT nosql.timeseries_heap_rows('tsm_ts_20250101_000000') + nosql.timeseries_heap_rows('tsm_ts_20250102_000000')
       + nosql.timeseries_heap_rows('tsm_ts_20250103_000000') AS heap_before \gset
SELECT nosql.decompress_timeseries('tsm') = (SELECT count(*) FROM tsp) - :heap_before AS all_blocks_back;
SELECT count(*) AS blocks_left FROM tsm_ts_20250101_000000_blocks;
SELECT nosql.timeseries_heap_rows('tsm_ts_20250101_000000') + nosql.timeseries_heap_rows('tsm_ts_20250102_000000')
       + nosql.timeseries_heap_rows('tsm_ts_20250103_000000') = (SELECT count(*) FROM tsp) AS all_in_heaps;
SELECT same('SELECT * FROM %1$s');
SELECT nosql.compress_timeseries('tsm') = (SELECT count(*) FROM tsp) AS all_compressed;
SELECT same('SELECT * FROM %1$s');
-- the space of the moved rows (heap and indexes) comes back once no
-- snapshot can see them
SELECT pg_relation_size('tsm_ts_20250102_000000') > 0 AS heap_has_pages,
       pg_indexes_size('tsm_ts_20250102_000000') > 8192 AS index_has_pages;
DO $$
BEGIN
    FOR i IN 1 .. 300 LOOP
        EXIT WHEN nosql.timeseries_reclaim('tsm_ts_20250102_000000');
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT pg_relation_size('tsm_ts_20250102_000000') AS heap_bytes,
       pg_indexes_size('tsm_ts_20250102_000000') AS index_bytes;
SELECT nosql.timeseries_reclaim('tsm_ts_20250102_000000') AS nothing_left;
SELECT nosql.timeseries_reclaim('tsp');
SELECT same('SELECT * FROM %1$s');

-- size: partitions, block tables, indexes and TOAST
SELECT nosql.timeseries_size('tsm') > 0 AS has_size,
       nosql.timeseries_size('tsm') >= (SELECT sum(pg_total_relation_size(blocks)) FROM nosql.timeseries_partition WHERE relid = 'tsm'::regclass) AS counts_blocks;
SELECT "table", compressed_partitions, rows_compressed > 0 AS rows_compressed, last_compression IS NOT NULL AS compressed
  FROM nosql.timeseries_info WHERE "table" = 'tsm'::regclass;

-- a column added after compression reads as its default in compressed rows
ALTER TABLE tsm ADD COLUMN extra int DEFAULT 7;
SELECT extra, count(*) FROM tsm GROUP BY 1;
ALTER TABLE tsm DROP COLUMN extra;
-- a renamed column keeps its values
ALTER TABLE tsm RENAME COLUMN note TO remark;
SELECT count(remark) = (SELECT count(note) FROM tsp) AS renamed_ok FROM tsm;
ALTER TABLE tsm RENAME COLUMN remark TO note;

-- errors
SELECT nosql.compress_timeseries('tsp');
SELECT nosql.compress_timeseries(NULL);
SELECT nosql.compress_timeseries('tsm', interval '-1 day');
SELECT nosql.timeseries_compress_partition('tsm_ts_default');
SELECT nosql.decompress_timeseries('tsp');
DROP TABLE tsm_ts_20250101_000000_blocks;
SELECT 'junk'::nosql.tsblock;
SELECT '\x00'::nosql.tsblock;
SELECT '\x0201'::nosql.tsblock;
-- a block's text form goes back in
SELECT nosql.tsblock_info(t1::text::nosql.tsblock) FROM tsm_ts_20250101_000000_blocks ORDER BY min_time, s2 LIMIT 1;
SELECT nosql.tsblock_info(nosql.tsblock_column(t1, 5)::text::nosql.tsblock) FROM tsm_ts_20250101_000000_blocks ORDER BY min_time, s2 LIMIT 1;
-- a container whose directory points outside it
SELECT nosql.tsblock_info(('\xff000100' || 'ffff' || '00100000' || '01000000')::nosql.tsblock);
SELECT nosql.tsblock_column(nosql.tsblock_column(t1, 5), 5) FROM tsm_ts_20250101_000000_blocks LIMIT 1;
-- a changed column type makes compressed rows unreadable, with a clear error
CREATE TABLE tsu (time timestamptz NOT NULL, k int, v int4);
INSERT INTO tsu VALUES ('2025-01-01', 1, 1);
SELECT nosql.create_timeseries('tsu', 'time', '{k}');
SELECT nosql.compress_timeseries('tsu');
ALTER TABLE tsu ALTER COLUMN v TYPE int8;
SELECT * FROM tsu;
ALTER TABLE tsu ALTER COLUMN v TYPE int4;
SELECT * FROM tsu;
-- unique indexes cannot be checked against blocks
CREATE UNIQUE INDEX tsu_unique ON tsu (k, time);
INSERT INTO tsu VALUES ('2025-01-01 01:00', 1, 2);
SELECT nosql.compress_timeseries('tsu');
DROP INDEX tsu_unique;
-- only the owner compresses
CREATE ROLE tsc_other;
GRANT USAGE ON SCHEMA tsc TO tsc_other;
GRANT SELECT, UPDATE ON tsu TO tsc_other;
SET ROLE tsc_other;
SELECT nosql.compress_timeseries('tsu');
SELECT nosql.timeseries_compress_rows('tsu_ts_20250101_000000');
SELECT count(*) FROM tsu;
UPDATE tsu SET v = v + 10 WHERE k = 1;
RESET ROLE;
SELECT * FROM tsu ORDER BY time;

-- TRUNCATE empties the blocks; dropping a partition drops its blocks
SELECT count(*) FROM tsu;
TRUNCATE tsu;
SELECT count(*) FROM tsu;
SELECT blocks AS blocks_table FROM nosql.timeseries_partition WHERE relid = 'tsm'::regclass AND range_start = '2025-01-01' \gset
DROP TABLE tsm_ts_20250101_000000;
SELECT to_regclass(:'blocks_table') AS dropped_blocks;
SELECT same('SELECT * FROM %1$s WHERE time >= ''2025-01-02''');

RESET search_path;
DROP SCHEMA tsc CASCADE;
DROP ROLE tsc_other;
