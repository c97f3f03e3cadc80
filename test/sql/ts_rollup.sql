-- Rollups of time-series tables: nosql.create_rollup makes a table of
-- aggregates per time bucket; nosql.refresh_rollup materializes new buckets
-- and computes again the buckets that late writes (INSERT, UPDATE, DELETE,
-- COPY below the watermark) invalidated, never the buckets whose raw rows
-- retention dropped.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE SCHEMA ts_rollup;
SET search_path = ts_rollup, public;
CREATE TABLE metrics (time timestamptz NOT NULL, host text, cpu float8, mem int8);
INSERT INTO metrics
SELECT timestamptz '2026-01-01' + i * interval '10 minutes', 'h' || (i % 3), i, i * 10
  FROM generate_series(0, 431) i;
SELECT nosql.create_timeseries('metrics', 'time', '{host}', '1 day');

-- the rollup's table: bucket, the group_by columns, one column per aggregate
SELECT nosql.create_rollup('metrics', 'metrics_hourly', '1 hour',
       '{"avg(cpu) AS cpu_avg", "max(cpu) AS cpu_max", "count(*) AS n", "nosql.last(cpu, time) AS cpu_last", "sum(mem) FILTER (WHERE cpu > 10) AS mem_sum"}',
       '{host}');
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a WHERE a.attrelid = 'metrics_hourly'::regclass AND a.attnum > 0 ORDER BY a.attnum;
SELECT indexdef FROM pg_indexes WHERE tablename = 'metrics_hourly';
SELECT tgname FROM pg_trigger WHERE tgrelid = 'metrics'::regclass ORDER BY 1;
SELECT rollup, source, bucket_width, group_by, refresh_lag, schedule, watermark, pending_invalidations, last_run, rows_written, last_error
  FROM nosql.timeseries_rollups;

-- the rollup compared with the same GROUP BY computed from scratch over the
-- raw rows: the rows of either that the other lacks (none when equal);
-- averages rounded, as a float sum depends on the order rows are read in
CREATE FUNCTION rollup_diff(upto timestamptz, since timestamptz DEFAULT '-infinity') RETURNS bigint
LANGUAGE sql AS $$
    WITH fresh AS (
        SELECT nosql.time_bucket('1 hour', time) AS bucket, host, round(avg(cpu)::numeric, 9) AS cpu_avg,
               max(cpu) AS cpu_max, count(*) AS n, nosql.last(cpu, time) AS cpu_last,
               sum(mem) FILTER (WHERE cpu > 10) AS mem_sum
          FROM ts_rollup.metrics WHERE time >= since AND time < upto GROUP BY 1, 2),
    kept AS (
        SELECT bucket, host, round(cpu_avg::numeric, 9), cpu_max, n, cpu_last, mem_sum
          FROM ts_rollup.metrics_hourly WHERE bucket >= since AND bucket < upto)
    SELECT count(*) FROM ((SELECT * FROM fresh EXCEPT ALL SELECT * FROM kept)
                          UNION ALL
                          (SELECT * FROM kept EXCEPT ALL SELECT * FROM fresh)) d
$$;

-- first refresh: the complete buckets before up_to (the bucket of up_to is not complete)
SELECT nosql.refresh_rollup('metrics_hourly', '2026-01-02 00:30');
SELECT watermark, pending_invalidations, rows_written, last_run IS NOT NULL AS ran, last_duration IS NOT NULL AS timed
  FROM nosql.timeseries_rollups;
SELECT min(bucket), max(bucket), count(*) FROM metrics_hourly;
SELECT * FROM metrics_hourly ORDER BY bucket, host LIMIT 4;
SELECT rollup_diff('2026-01-02');
-- a refresh with nothing new writes nothing
SELECT nosql.refresh_rollup('metrics_hourly', '2026-01-02 00:59');
-- up_to below the watermark does not move it back
SELECT nosql.refresh_rollup('metrics_hourly', '2026-01-01 12:00');
SELECT watermark FROM nosql.timeseries_rollups;

-- incremental: new buckets only
SELECT nosql.refresh_rollup('metrics_hourly', '2026-01-03');
SELECT watermark, rows_written FROM nosql.timeseries_rollups;
SELECT rollup_diff('2026-01-03');

-- writes at or above the watermark are not logged
INSERT INTO metrics VALUES ('2026-01-03 05:00', 'h1', 1, 1);
SELECT count(*) FROM nosql.timeseries_invalidation;

-- late data below the watermark: logged, then its buckets computed again
INSERT INTO metrics VALUES ('2026-01-01 00:05', 'h0', 1000, 5), ('2026-01-01 07:30', 'h9', 7, 7);
SELECT source, range_start, range_end FROM nosql.timeseries_invalidation;
SELECT pending_invalidations FROM nosql.timeseries_rollups;
SELECT rollup_diff('2026-01-03') AS stale_before_refresh;
SELECT nosql.refresh_rollup('metrics_hourly', '2026-01-03');
SELECT pending_invalidations FROM nosql.timeseries_rollups;
SELECT count(*) FROM nosql.timeseries_invalidation;
SELECT * FROM metrics_hourly WHERE bucket IN ('2026-01-01 00:00', '2026-01-01 07:00') ORDER BY bucket, host;
SELECT rollup_diff('2026-01-03');

-- UPDATE (moving rows in time: both ranges), DELETE, COPY
UPDATE metrics SET cpu = cpu + 0.5 WHERE time = '2026-01-01 10:00';
UPDATE metrics SET time = '2026-01-02 20:05' WHERE time = '2026-01-01 03:00';
DELETE FROM metrics WHERE time >= '2026-01-02 05:00' AND time < '2026-01-02 06:00' AND host = 'h1';
COPY metrics (time, host, cpu, mem) FROM stdin;
2026-01-01 15:15:00+00	h2	99	99
2026-01-02 23:59:59+00	h0	-1	-1
\.
SELECT count(*) AS logged FROM nosql.timeseries_invalidation;
SELECT rollup_diff('2026-01-03') AS stale_before_refresh;
SELECT nosql.refresh_rollup('metrics_hourly', '2026-01-03') > 0 AS wrote;
SELECT rollup_diff('2026-01-03');
-- a bucket left without rows disappears
SELECT count(*) FROM metrics_hourly WHERE bucket = '2026-01-02 05:00' AND host = 'h1';

-- several rollups of one source: a month width, no grouping, a lag
SELECT nosql.create_rollup('metrics', 'ts_rollup.metrics_monthly', '1 month', '{"count(*) AS n", "min(cpu) AS lo"}');
SELECT nosql.refresh_rollup('metrics_monthly', '2026-02-01');
SELECT * FROM metrics_monthly;
INSERT INTO metrics VALUES ('2026-01-01 08:00', NULL, -50, 0);
SELECT nosql.refresh_rollup('metrics_monthly', '2026-02-01');
SELECT * FROM metrics_monthly;
-- the other rollup got the range too (handed over by the first refresh)
SELECT rollup, pending_invalidations FROM nosql.timeseries_rollups ORDER BY 1;
SELECT nosql.refresh_rollup('metrics_hourly', '2026-01-03') > 0 AS wrote;
SELECT rollup_diff('2026-01-03');
SELECT count(*) FROM metrics_hourly WHERE host IS NULL;
-- with refresh_lag, the last complete bucket before now() - lag
SELECT nosql.create_rollup('metrics', 'metrics_daily', '1 day', '{"count(*) AS n"}', refresh_lag => '2 days', schedule => '1 hour');
SELECT nosql.refresh_rollup('metrics_daily');
SELECT watermark = nosql.time_bucket('1 day', now() - interval '2 days') AS lagged FROM nosql.timeseries_rollups WHERE rollup = 'metrics_daily'::regclass;
SELECT * FROM metrics_daily ORDER BY 1;
SELECT nosql.drop_rollup('metrics_daily');

-- a REPEATABLE READ writer logs every write (its snapshot may predate a
-- refresh); ranges above every watermark are dropped by the next refresh
BEGIN ISOLATION LEVEL REPEATABLE READ;
INSERT INTO metrics VALUES ('2026-03-01 00:00', 'h1', 1, 1);
COMMIT;
SELECT count(*) FROM nosql.timeseries_invalidation;
SELECT nosql.refresh_rollup('metrics_hourly', '2026-01-03');
SELECT count(*) FROM nosql.timeseries_invalidation;
SELECT pending_invalidations FROM nosql.timeseries_rollups WHERE rollup = 'metrics_hourly'::regclass;

-- randomized writes: the rollup equals the GROUP BY over the raw rows
SELECT setseed(0.42);
INSERT INTO metrics
SELECT timestamptz '2026-01-01' + random() * interval '3 days', 'h' || (random() * 4)::int, round((random() * 100)::numeric, 2), (random() * 1000)::int
  FROM generate_series(1, 500);
UPDATE metrics SET cpu = cpu * 2 WHERE mem % 7 = 0;
UPDATE metrics SET time = time - interval '13 hours 7 seconds' WHERE mem % 11 = 0 AND time > '2026-01-01 13:00';
DELETE FROM metrics WHERE mem % 13 = 0;
SELECT nosql.refresh_rollup('metrics_hourly', '2026-01-04') > 0 AS wrote;
SELECT rollup_diff('2026-01-04');
SELECT count(*) FROM nosql.timeseries_invalidation;
SELECT pending_invalidations FROM nosql.timeseries_rollups WHERE rollup = 'metrics_hourly'::regclass;

-- retention: buckets whose raw rows were dropped are never computed again
CREATE TABLE recent (time timestamptz NOT NULL, v float8);
INSERT INTO recent SELECT nosql.time_bucket('1 day', now()) - i * interval '1 hour', i FROM generate_series(1, 240) i;
SELECT nosql.create_timeseries('recent', 'time', chunk_interval => '1 day', drop_after => '5 days');
SELECT nosql.create_rollup('recent', 'recent_6h', '6 hours', '{"sum(v) AS total", "count(*) AS n"}');
SELECT nosql.refresh_rollup('recent_6h', nosql.time_bucket('1 day', now()));
CREATE TEMP TABLE before AS SELECT * FROM recent_6h;
SELECT count(*) AS buckets, sum(n) AS rows FROM recent_6h;
SELECT nosql.timeseries_maintain('recent');
SELECT partitions_dropped > 0 AS dropped FROM nosql.timeseries WHERE relid = 'recent'::regclass;
SELECT count(*) AS raw_rows_left FROM recent;
-- a late row into the dropped past (it lands in the default partition) and into the kept range;
-- the worker's maintenance of recent (each round) would give that row a
-- partition and drop it at any moment: its catalog row, locked until the
-- checks are done, keeps the worker out (nosql.timeseries_maintain locks it)
BEGIN;
SELECT relid AS locked FROM nosql.timeseries WHERE relid = 'recent'::regclass FOR UPDATE;
INSERT INTO recent VALUES (nosql.time_bucket('1 day', now()) - interval '8 days' + interval '1 hour', 1000),
                          (nosql.time_bucket('1 day', now()) - interval '2 days' + interval '1 hour', 1000);
SELECT nosql.refresh_rollup('recent_6h', nosql.time_bucket('1 day', now()));
-- the old buckets are as they were, only the kept bucket changed
SELECT count(*) AS changed FROM (SELECT * FROM recent_6h EXCEPT SELECT * FROM before) c;
SELECT bucket = nosql.time_bucket('1 day', now()) - interval '2 days' AS kept_bucket, total, n
  FROM (SELECT * FROM recent_6h EXCEPT SELECT * FROM before) c;
SELECT count(*) AS old_buckets_kept FROM recent_6h WHERE bucket < nosql.time_bucket('1 day', now()) - interval '5 days';
-- the backfill row in the default partition is remembered until the
-- maintenance gives it a partition (which retention then drops)
SELECT pending_invalidations FROM nosql.timeseries_rollups WHERE rollup = 'recent_6h'::regclass;
COMMIT;
SELECT nosql.timeseries_maintain('recent');
SELECT nosql.refresh_rollup('recent_6h', nosql.time_bucket('1 day', now()));
SELECT pending_invalidations FROM nosql.timeseries_rollups WHERE rollup = 'recent_6h'::regclass;
SELECT count(*) AS changed FROM (SELECT * FROM recent_6h EXCEPT SELECT * FROM before) c;

-- errors
SELECT nosql.create_rollup(NULL, 'x', '1 hour', '{"count(*) AS n"}');
SELECT nosql.create_rollup('metrics', 'x', NULL, '{"count(*) AS n"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', NULL);
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS n", NULL}');
CREATE TABLE plain (time timestamptz, v int);
SELECT nosql.create_rollup('plain', 'x', '1 hour', '{"count(*) AS n"}');
SELECT nosql.create_rollup('metrics', 'x', '0', '{"count(*) AS n"}');
SELECT nosql.create_rollup('metrics', 'x', '-1 hour', '{"count(*) AS n"}');
SELECT nosql.create_rollup('metrics', 'x', '1 month 1 day', '{"count(*) AS n"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS n"}', refresh_lag => '-1 hour');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS n"}', schedule => '0');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS n"}', '{nope}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS n"}', '{bucket}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*)"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"cpu AS c"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"avg(cpu) + 1 AS c"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS n FROM metrics; DROP TABLE metrics; SELECT 1"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS n, max(cpu) AS m"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"max((SELECT 1)) AS m"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) FILTER (WHERE cpu IN (SELECT 1)) AS m"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS n FROM ts_rollup.metrics WHERE false"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"avg(cpu * random()) AS r"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) OVER () AS w"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS n FROM metrics, plain --"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS n --"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS n FROM plain UNION SELECT count(*)"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"avg(nope) AS n"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS n", "max(cpu) AS n"}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS host"}', '{host}');
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS bucket"}');
SELECT nosql.create_rollup('metrics', 'metrics_hourly', '1 hour', '{"count(*) AS n"}');
SELECT nosql.create_rollup('metrics', 'a.b.c', '1 hour', '{"count(*) AS n"}');
SELECT nosql.create_rollup('metrics', 'no_such_schema.x', '1 hour', '{"count(*) AS n"}');
-- the trigger function outside its protocol
SELECT nosql.timeseries_rollup_log();
CREATE TRIGGER bad AFTER INSERT ON plain FOR EACH ROW EXECUTE FUNCTION nosql.timeseries_rollup_log('time');
INSERT INTO plain VALUES (now(), 1);
DROP TRIGGER bad ON plain;
CREATE TRIGGER bad AFTER INSERT ON plain REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION nosql.timeseries_rollup_log('v');
INSERT INTO plain VALUES (now(), 1);
DROP TRIGGER bad ON plain;
SELECT nosql.refresh_rollup(NULL);
SELECT nosql.refresh_rollup('plain');
SELECT nosql.drop_rollup(NULL);
SELECT nosql.drop_rollup('plain');
-- nothing was left behind by the failures
SELECT count(*) FROM pg_class WHERE relname = 'x' AND relnamespace = 'ts_rollup'::regnamespace;
SELECT count(*) FROM nosql.timeseries_rollup;
-- another role can neither create, refresh, drop nor write the catalog
CREATE ROLE ts_rollup_other;
GRANT USAGE ON SCHEMA ts_rollup TO ts_rollup_other;
GRANT CREATE ON SCHEMA ts_rollup TO ts_rollup_other;
GRANT SELECT, INSERT ON metrics TO ts_rollup_other;
SET ROLE ts_rollup_other;
SELECT nosql.create_rollup('metrics', 'x', '1 hour', '{"count(*) AS n"}');
SELECT nosql.refresh_rollup('metrics_hourly');
SELECT nosql.drop_rollup('metrics_hourly');
UPDATE nosql.timeseries_rollup SET watermark = NULL;
DELETE FROM nosql.timeseries_rollup;
-- but it may write the table, and its late writes are logged
INSERT INTO metrics VALUES ('2026-01-01 01:01', 'h0', 1, 1);
SELECT rollup, pending_invalidations FROM nosql.timeseries_rollups ORDER BY 1;
RESET ROLE;
SELECT count(*) FROM nosql.timeseries_rollup WHERE watermark IS NOT NULL;
SELECT nosql.refresh_rollup('metrics_hourly', '2026-01-04') > 0 AS wrote;
SELECT rollup_diff('2026-01-04');
REVOKE ALL ON metrics FROM ts_rollup_other;
REVOKE ALL ON SCHEMA ts_rollup FROM ts_rollup_other;
DROP ROLE ts_rollup_other;

-- drop: the last rollup takes the triggers with it
SELECT nosql.drop_rollup('metrics_monthly');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'metrics'::regclass ORDER BY 1;
DROP TABLE metrics_hourly;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'metrics'::regclass ORDER BY 1;
SELECT count(*) FROM nosql.timeseries_rollup WHERE source = 'metrics'::regclass;
INSERT INTO metrics VALUES ('2026-01-01 01:01', 'h0', 1, 1);
SELECT count(*) FROM nosql.timeseries_invalidation;
-- dropping the source forgets its rollups and keeps their tables
DROP TABLE recent;
SELECT count(*) FROM nosql.timeseries_rollup;
SELECT count(*) AS kept FROM recent_6h;

DROP SCHEMA ts_rollup CASCADE;
RESET search_path;
