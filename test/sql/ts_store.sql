-- Time-series tables: nosql.create_timeseries turns an ordinary table into
-- one partitioned by time; INSERT, COPY and SELECT keep working by its name;
-- the maintenance round makes partitions ahead, moves rows out of the
-- default partition and applies retention.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE SCHEMA ts_test;
SET search_path = ts_test, nosql, public;
CREATE TABLE metrics (
    time timestamptz NOT NULL,
    host text NOT NULL,
    cpu float8,
    mem int8,
    up boolean,
    note text,
    id bigserial
);
CREATE INDEX metrics_host_time ON metrics (host, time);
GRANT SELECT ON metrics TO PUBLIC;
INSERT INTO metrics (time, host, cpu, mem, up, note)
SELECT timestamptz '2026-01-01 00:00' + i * interval '1 hour', 'h' || (i % 3), i * 1.5, i, i % 2 = 0, NULL
  FROM generate_series(0, 71) i;
SELECT nosql.create_timeseries('metrics', 'time', '{host}', '1 day');
-- the table keeps its name, rows, columns, defaults, indexes and privileges
SELECT count(*), min(time), max(time), sum(cpu), max(id) FROM metrics;
SELECT relkind FROM pg_class WHERE oid = 'metrics'::regclass;
SELECT has_table_privilege('public', 'metrics', 'SELECT') AS public_select;
SELECT pg_get_expr(adbin, adrelid) LIKE 'nextval(%' AS id_default
  FROM pg_attrdef WHERE adrelid = 'metrics'::regclass;
SELECT count(*) > 0 AS partitioned_index FROM pg_indexes WHERE tablename = 'metrics' AND indexname LIKE 'metrics_host%';
-- the partitions of the data (3 days) and of now and the next two days
SELECT count(*) FILTER (WHERE range_start < '2026-01-10') AS data_partitions,
       count(*) FILTER (WHERE range_start IS NULL) AS default_partitions,
       count(*) FILTER (WHERE range_start <= now() AND now() < range_end) AS now_partitions,
       count(*) FILTER (WHERE range_start > now() AND range_start <= now() + interval '2 days') AS ahead_partitions
  FROM nosql.timeseries_partition WHERE relid = 'metrics'::regclass;
SELECT range_start, range_end FROM nosql.timeseries_partition
 WHERE relid = 'metrics'::regclass AND range_start < '2026-01-10' ORDER BY 1;
SELECT tableoid::regclass, count(*) FROM metrics GROUP BY 1 ORDER BY 1;
SELECT count(*) AS empty_partitions_made FROM nosql.timeseries_partition
 WHERE relid = 'metrics'::regclass AND range_start BETWEEN '2026-01-04' AND now() - interval '1 day';
-- the sequence still works after the conversion
INSERT INTO metrics (time, host, cpu) VALUES ('2026-01-02 12:30', 'h9', 1) RETURNING id;
-- COPY routes rows too
COPY metrics (time, host, cpu) FROM stdin;
2026-01-03 01:00:00+00	h1	7.5
2026-01-03 02:00:00+00	h1	8.5
\.
-- a row far in the past lands in the default partition, then gets its own
INSERT INTO metrics (time, host, cpu) VALUES ('2020-05-05 05:05', 'old', 42);
SELECT tableoid::regclass FROM metrics WHERE host = 'old';
SELECT nosql.timeseries_maintain('metrics');
SELECT tableoid::regclass FROM metrics WHERE host = 'old';
SELECT count(*) FROM nosql.timeseries_partition WHERE relid = 'metrics'::regclass AND range_start = '2020-05-05';
-- queries by time prune partitions
EXPLAIN (COSTS OFF) SELECT count(*) FROM metrics WHERE time >= '2026-01-02' AND time < '2026-01-03';
-- the size of all partitions, and the information view
SELECT nosql.timeseries_size('metrics') > 0 AS has_size;
SELECT nosql.timeseries_size('pg_class') AS not_a_timeseries;
SELECT "table", time_column, segment_by, chunk_interval, partitions >= 6 AS partitions, oldest, last_error
  FROM nosql.timeseries_info;
-- retention: partitions wholly older than drop_after go
-- (an age that reaches back to 2024-01-01 whenever the test runs)
UPDATE nosql.timeseries SET drop_after = now() - timestamptz '2024-01-01' WHERE relid = 'metrics'::regclass;
SELECT nosql.timeseries_maintain('metrics');
SELECT count(*) FROM metrics WHERE host = 'old';
SELECT partitions_dropped, last_retention IS NOT NULL AS retention_ran FROM nosql.timeseries WHERE relid = 'metrics'::regclass;
SELECT count(*) AS rows_kept FROM metrics;
-- errors
SELECT nosql.create_timeseries('metrics', 'time');
CREATE TABLE t_bad (t timestamp, v float8);
SELECT nosql.create_timeseries('t_bad', 't');
SELECT nosql.create_timeseries('t_bad', 'nope');
CREATE TABLE t_ok (t timestamptz, v float8);
SELECT nosql.create_timeseries('t_ok', 't', '{missing}');
SELECT nosql.create_timeseries('t_ok', 't', '{t}');
SELECT nosql.create_timeseries('t_ok', 't', '{}', '1 month');
SELECT nosql.create_timeseries('t_ok', 't', '{}', '0 seconds');
SELECT nosql.create_timeseries('t_ok', 't', '{}', '10 seconds');
SELECT nosql.create_timeseries('t_ok', 't', '{}', '1 day', NULL, '-1 day');
SELECT nosql.create_timeseries('t_ok', NULL);
CREATE VIEW t_ok_view AS SELECT * FROM t_ok;
SELECT nosql.create_timeseries('t_ok', 't');
DROP VIEW t_ok_view;
CREATE TABLE t_ref (t timestamptz PRIMARY KEY);
CREATE TABLE t_child (r timestamptz REFERENCES t_ref);
SELECT nosql.create_timeseries('t_ref', 't');
SELECT nosql.create_timeseries('pg_class', 'relname');
-- a unique key must include the time column (PostgreSQL's rule for partitions)
CREATE TABLE t_uniq (id int PRIMARY KEY, t timestamptz);
SELECT nosql.create_timeseries('t_uniq', 't');
SELECT relkind FROM pg_class WHERE relname = 't_uniq';
-- a role that does not own the table can neither convert it nor forge the catalog
CREATE ROLE ts_other;
GRANT USAGE, CREATE ON SCHEMA ts_test TO ts_other;
SET ROLE ts_other;
SELECT nosql.create_timeseries('t_ok', 't');
INSERT INTO nosql.timeseries (relid, time_column, chunk_interval) VALUES ('t_ok', 't', '1 day');
INSERT INTO nosql.timeseries_partition (relid, partition) VALUES ('metrics', 't_ok');
UPDATE nosql.timeseries SET drop_after = '1 second';
SELECT count(*) FROM nosql.timeseries;
RESET ROLE;
REVOKE USAGE, CREATE ON SCHEMA ts_test FROM ts_other;
DROP ROLE ts_other;
SELECT drop_after > interval '1 day' AS drop_after_kept FROM nosql.timeseries WHERE relid = 'metrics'::regclass;
DROP TABLE metrics, t_bad, t_ok, t_child, t_ref, t_uniq;
SELECT count(*) FROM nosql.timeseries;
SELECT count(*) FROM nosql.timeseries_partition;
DROP SCHEMA ts_test;
