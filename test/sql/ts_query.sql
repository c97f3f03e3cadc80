-- Time-series queries (src/ts_sql.c): time_bucket in every variant, the
-- aggregates first and last (serial and parallel), gap filling with
-- time_bucket_series, locf and interpolate; every error.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- time_bucket on timestamptz: UTC, origin Monday 2000-01-03
SELECT nosql.time_bucket('5 minutes', '2020-01-01 10:07:30+00'::timestamptz);
SELECT nosql.time_bucket('1 hour', '2020-01-01 10:00:00+00'::timestamptz);   -- on a boundary
SELECT nosql.time_bucket('1 day', '2020-01-01 23:59:59.999999+00'::timestamptz);
SELECT nosql.time_bucket('1 week', '2020-01-01 12:00+00'::timestamptz);      -- a Monday
SELECT nosql.time_bucket('90 seconds', '2020-01-01 00:00:10+00'::timestamptz);
SELECT nosql.time_bucket('1 day 1 hour', '2000-01-03 00:00+00'::timestamptz),
       nosql.time_bucket('1 day 1 hour', '2000-01-04 00:59+00'::timestamptz),
       nosql.time_bucket('1 day 1 hour', '2000-01-04 01:00+00'::timestamptz);
-- immutable: the session's time zone does not change the result
SET timezone = 'America/New_York';
SELECT nosql.time_bucket('1 day', '2020-01-01 03:00+00'::timestamptz) AT TIME ZONE 'UTC' AS utc_day;
SET timezone = 'UTC';
-- before the origin: floors, never truncates towards it
SELECT nosql.time_bucket('1 week', '2000-01-02 23:59+00'::timestamptz);
SELECT nosql.time_bucket('1 hour', '1969-12-31 23:30:00+00'::timestamptz);
SELECT nosql.time_bucket('7 days', '1900-06-15 12:00+00'::timestamptz);
SELECT nosql.time_bucket('1 microsecond', '1900-06-15 12:00:00.123456+00'::timestamptz);
-- agrees with date_bin from the same origin, before and after it
SELECT count(*) AS rows, count(*) FILTER (WHERE nosql.time_bucket('17 minutes', t, '2000-01-03'::timestamptz) <>
                                      date_bin('17 minutes', t, '2000-01-03')) AS differ
  FROM generate_series('1999-12-20'::timestamptz, '2000-01-20', '7 minutes 3 seconds') t;
-- explicit origin
SELECT nosql.time_bucket('1 hour', '2020-01-01 10:07+00'::timestamptz, '2000-01-01 00:30+00'::timestamptz);
SELECT nosql.time_bucket('1 hour', '2020-01-01 10:07+00'::timestamptz, origin => '2040-01-01 00:30+00');
-- offset: the bucket of ts - offset, plus offset
SELECT nosql.time_bucket('1 hour', '2020-01-01 10:07+00'::timestamptz, '15 minutes'::interval);
SELECT nosql.time_bucket('1 hour', '2020-01-01 10:07+00'::timestamptz, "offset" => '-15 minutes');
SELECT nosql.time_bucket('1 month', '2020-03-01 10:07+00'::timestamptz, "offset" => '1 day');

-- months and years: calendar months from 2000-01-01
SELECT nosql.time_bucket('1 month', '2020-02-29 23:59+00'::timestamptz);
SELECT nosql.time_bucket('3 months', '2021-08-15'::timestamptz);
SELECT nosql.time_bucket('1 year', '1999-08-15'::timestamptz);
SELECT nosql.time_bucket('5 years', '1994-12-31 23:59:59+00'::timestamptz);
SELECT nosql.time_bucket('1 year 6 months', '2001-07-01'::timestamptz),
       nosql.time_bucket('1 year 6 months', '2001-06-30'::timestamptz);
-- an origin on the 31st: buckets clamp to short months
SELECT nosql.time_bucket('1 month', '2021-02-28 12:00+00'::timestamptz, '2000-01-31'::timestamptz),
       nosql.time_bucket('1 month', '2021-02-27 12:00+00'::timestamptz, '2000-01-31'::timestamptz),
       nosql.time_bucket('1 month', '2021-03-30 12:00+00'::timestamptz, '2000-01-31'::timestamptz);
SELECT nosql.time_bucket('1 month', '2021-03-15 09:00+00'::timestamptz, '2000-01-15 10:00'::timestamptz);

-- timestamp and date
SELECT nosql.time_bucket('1 week', '1999-12-31 10:00'::timestamp);
SELECT nosql.time_bucket('15 minutes', '2020-05-05 10:44'::timestamp, '2020-01-01 00:05'::timestamp);
SELECT nosql.time_bucket('15 minutes', '2020-05-05 10:44'::timestamp, '5 minutes'::interval);
SELECT nosql.time_bucket('2 months', '2020-05-05'::timestamp);
SELECT nosql.time_bucket('1 week', '2020-01-01'::date);
SELECT nosql.time_bucket('3 months', '2021-08-15'::date);
SELECT nosql.time_bucket('1 year', '1999-08-15'::date);
SELECT nosql.time_bucket('10 days', '2020-01-01'::date, '2019-12-25'::date);
SELECT nosql.time_bucket('1 month', '2020-01-01'::date, '14 days'::interval);
SELECT nosql.time_bucket('12 hours', '1999-12-31'::date);

-- the time zone variant: local midnight, across DST changes
SELECT b, b AT TIME ZONE 'Europe/Berlin' AS local
  FROM (VALUES ('2021-03-27 23:30+00'::timestamptz), ('2021-03-28 21:59+00'), ('2021-03-28 22:00+00'),
               ('2021-10-31 12:00+00'), ('2021-10-31 23:00+00')) v(t),
       LATERAL nosql.time_bucket('1 day', t, 'Europe/Berlin') b;
-- two-hour buckets around the spring change hold one hour, in the autumn
-- three; a local start that occurs twice is its later instant (PostgreSQL's
-- reading of an ambiguous local time), so the repeated hour's first half
-- has a bucket that starts after it
SELECT t, nosql.time_bucket('2 hours', t, 'Europe/Berlin') AS b
  FROM generate_series('2021-03-27 22:00+00'::timestamptz, '2021-03-28 03:00+00', '1 hour') t;
SELECT t, nosql.time_bucket('2 hours', t, 'Europe/Berlin') AS b
  FROM generate_series('2021-10-30 22:00+00'::timestamptz, '2021-10-31 03:00+00', '1 hour') t;
SELECT nosql.time_bucket('1 month', '2021-03-31 22:30+00'::timestamptz, 'Europe/Berlin');
SELECT nosql.time_bucket('1 week', '2021-03-31 22:30+00'::timestamptz, 'America/New_York');
SELECT nosql.time_bucket('1 day', '2021-03-31 22:30+00'::timestamptz, 'Asia/Kolkata',
                         origin => '2000-01-01 06:00+05:30');
SELECT nosql.time_bucket('1 day', '2021-03-31 22:30+00'::timestamptz, 'Asia/Kolkata', "offset" => '6 hours');
SELECT nosql.time_bucket('1 day', '2021-03-31 22:30+00'::timestamptz, 'UTC') =
       nosql.time_bucket('1 day', '2021-03-31 22:30+00'::timestamptz) AS utc_same;
SELECT nosql.time_bucket('1 day', '2021-03-31 22:30+00'::timestamptz, NULL) IS NULL AS null_zone,
       nosql.time_bucket('1 day', NULL::timestamptz, 'UTC') IS NULL AS null_ts;

-- integers: aligned to 0, floored below it
SELECT nosql.time_bucket(10, 0), nosql.time_bucket(10, 9), nosql.time_bucket(10, -1), nosql.time_bucket(10, -10);
SELECT nosql.time_bucket(10, 13, 5), nosql.time_bucket(10, 3, 5), nosql.time_bucket(10, 3, -5);
SELECT nosql.time_bucket(1000::bigint, 1234567::bigint), nosql.time_bucket(1000::bigint, -1234567::bigint, 7::bigint);
SELECT nosql.time_bucket(5::smallint, -7::smallint), nosql.time_bucket(5::smallint, 7::smallint, 1::smallint);
SELECT nosql.time_bucket(10::bigint, 9223372036854775807::bigint),
       nosql.time_bucket(9223372036854775807::bigint, -9223372036854775807::bigint, (-9223372036854775808)::bigint);
SELECT nosql.time_bucket(2147483647, -2147483647, -2147483648);

-- infinite timestamps and dates are their own bucket, as in date_bin
SELECT nosql.time_bucket('1 hour', 'infinity'::timestamptz),
       nosql.time_bucket('1 month', '-infinity'::timestamp),
       nosql.time_bucket('1 day', 'infinity'::date),
       nosql.time_bucket('1 day', 'infinity'::timestamptz, 'Europe/Berlin');
-- near the limits of timestamps: the bucket when it exists, else an error
SELECT nosql.time_bucket('1 day', '4714-11-24 10:00:00+00 BC'::timestamptz);
SELECT nosql.time_bucket('1 day', '294276-12-31 23:59:59+00'::timestamptz, '4714-11-24 00:00:00+00 BC'::timestamptz);
SELECT nosql.time_bucket('1 month', '294276-12-31 23:59:59+00'::timestamptz);
SELECT nosql.time_bucket('2 days', '4714-11-24 00:00:00+00 BC'::timestamptz);
SELECT nosql.time_bucket('1 year', '4714-11-24 00:00:00+00 BC'::timestamptz);
SELECT nosql.time_bucket('1 hour', '4714-11-24 00:00:00 BC'::timestamp, '-1 hour'::interval),
       nosql.time_bucket('1 hour', '4714-11-24 01:00:00 BC'::timestamp, '30 minutes'::interval);
SELECT nosql.time_bucket('1 hour', '4714-11-24 00:00:00 BC'::timestamp, '30 minutes'::interval);
SELECT nosql.time_bucket('1 hour', '294276-12-31 23:30:00'::timestamp, '1 hour'::interval);
SELECT nosql.time_bucket(10::bigint, -9223372036854775807::bigint);
SELECT nosql.time_bucket(10, -2147483647);
SELECT nosql.time_bucket(10::smallint, -32767::smallint);

-- errors
SELECT nosql.time_bucket('0 minutes', now());
SELECT nosql.time_bucket('-1 hour', now());
SELECT nosql.time_bucket('1 day -25 hours', now());
SELECT nosql.time_bucket('-1 month', now());
SELECT nosql.time_bucket('1 month 1 day', now());
SELECT nosql.time_bucket('1 year 1 second', '2020-01-01'::date);
SELECT nosql.time_bucket('2147483647 days', now());
SELECT nosql.time_bucket(0, 5);
SELECT nosql.time_bucket(-10::bigint, 5::bigint);
SELECT nosql.time_bucket(0::smallint, 5::smallint);
SELECT nosql.time_bucket('1 hour', now(), '-infinity'::timestamptz);
SELECT nosql.time_bucket('1 day', '5000000-01-01'::date);
SELECT nosql.time_bucket('1 hour', '2020-01-01'::date, 'infinity'::date);
SELECT nosql.time_bucket('1 hour', now(), 'Mars/Olympus_Mons');
SELECT nosql.time_bucket('1 hour', now(), 'UTC', 'infinity');
-- an untyped third argument is a time zone: name the origin or give its type
SELECT nosql.time_bucket('1 hour', now(), '2000-01-01');

-- first and last
CREATE TABLE ts_m (device int, t timestamptz, v float8, s text, n numeric, i bigint, d nosql.bson);
INSERT INTO ts_m VALUES
  (1, '2020-01-01 00:00+00', 1.5, 'a', 1.10, 10, '{"x": 1}'),
  (1, '2020-01-01 00:02+00', NULL, NULL, NULL, NULL, NULL),
  (1, '2020-01-01 00:01+00', 2.5, 'b', 2.20, 20, '{"x": 2}'),
  (1, NULL, 9.5, 'z', 9.90, 90, '{"x": 9}'),
  (2, '2020-01-01 00:05+00', 3.5, 'c', 3.30, 30, '{"x": [3]}'),
  (2, '2020-01-01 00:05+00', 4.5, 'd', 4.40, 40, '{"x": [4]}'),
  (2, '2020-01-01 00:03+00', 5.5, 'e', 5.50, 50, '{"x": {"y": 5}}'),
  (3, NULL, 6.5, 'f', 6.60, 60, '{}');
-- device 1: the last value is NULL (it counts), the row without a time does not;
-- device 2: two rows at the last time, last takes the later one read;
-- device 3: no time at all
SELECT device, nosql.first(v, t) AS fv, nosql.last(v, t) AS lv, nosql.first(s, t) AS fs,
       nosql.last(s, t) AS ls, nosql.first(n, t) AS fn, nosql.last(i, t) AS li,
       nosql.first(d, t) AS fd, nosql.last(d, t) AS ld
  FROM ts_m GROUP BY device ORDER BY device;
-- ties: first keeps the first row read, last the last one
SELECT nosql.first(x, 0::bigint), nosql.last(x, 0::bigint) FROM (VALUES (1), (2), (3)) v(x);
-- the other types of time
SELECT nosql.first(s, t::timestamp) AS ts_first, nosql.last(s, t::timestamp) AS ts_last,
       nosql.first(s, (t - interval '1 day' * device)::date) AS date_first,
       nosql.last(s, extract(epoch FROM t)::bigint) AS bigint_last
  FROM ts_m;
-- infinite times are the extremes
SELECT nosql.first(x, t), nosql.last(x, t)
  FROM (VALUES (1, '2020-01-01'::timestamptz), (2, 'infinity'), (3, '-infinity')) v(x, t);
-- no rows, and arrays and records as values
SELECT nosql.first(1, now()) WHERE false;
SELECT nosql.last(ARRAY[x, x + 1], t), nosql.first(ROW(x, 'r'), t)
  FROM (VALUES (1, '2020-01-01'::timestamptz), (2, '2020-01-02')) v(x, t);
-- as window aggregates
SELECT device, t, nosql.last(v, t) OVER (PARTITION BY device ORDER BY t) AS running_last
  FROM ts_m WHERE t IS NOT NULL ORDER BY device, t, v;

-- a parallel aggregate: partial states cross from the workers to the leader
CREATE TABLE ts_big AS
  SELECT g % 7 AS k, '2020-01-01'::timestamptz + g * interval '1 second' AS t,
         g::float8 AS v, 'v' || g AS s, g::numeric / 3 AS n, g::bigint AS i,
         ('{"g": ' || g || '}')::nosql.bson AS d
    FROM generate_series(1, 50000) g;
ANALYZE ts_big;
CREATE TEMP TABLE ts_serial AS
  SELECT k, nosql.first(v, t) AS fv, nosql.last(v, t) AS lv, nosql.first(s, t) AS fs,
         nosql.last(s, t) AS ls, nosql.first(n, t) AS fn, nosql.last(n, t) AS ln,
         nosql.first(i, t) AS fi, nosql.last(i, t) AS li, nosql.first(d, t)::text AS fd,
         nosql.last(d, t)::text AS ld, count(*) AS c
    FROM ts_big GROUP BY k;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT k, nosql.first(v, t), nosql.last(s, t), nosql.last(d, t) FROM ts_big GROUP BY k;
CREATE TEMP TABLE ts_parallel AS
  SELECT k, nosql.first(v, t) AS fv, nosql.last(v, t) AS lv, nosql.first(s, t) AS fs,
         nosql.last(s, t) AS ls, nosql.first(n, t) AS fn, nosql.last(n, t) AS ln,
         nosql.first(i, t) AS fi, nosql.last(i, t) AS li, nosql.first(d, t)::text AS fd,
         nosql.last(d, t)::text AS ld, count(*) AS c
    FROM ts_big GROUP BY k;
SELECT count(*) AS groups, bool_and(p IS NOT DISTINCT FROM s) AS same
  FROM ts_serial s FULL JOIN ts_parallel p USING (k);
SELECT * FROM ts_parallel ORDER BY k LIMIT 2;
EXPLAIN (COSTS OFF) SELECT nosql.first(t, t), nosql.last(t, t) FROM ts_big;
SELECT nosql.first(t, t), nosql.last(t, t) FROM ts_big;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

-- time_bucket_series: the buckets covering [start, finish)
SELECT * FROM nosql.time_bucket_series('15 minutes', '2020-01-01 10:07+00', '2020-01-01 11:00+00');
SELECT * FROM nosql.time_bucket_series('15 minutes', '2020-01-01 10:07+00', '2020-01-01 11:00:01+00', '2020-01-01 00:05+00'::timestamptz);
SELECT * FROM nosql.time_bucket_series('1 month', '2020-01-31'::timestamp, '2020-05-01'::timestamp);
SELECT * FROM nosql.time_bucket_series('1 month', '2020-01-31'::timestamp, '2020-05-01'::timestamp, '2000-01-31'::timestamp);
SELECT count(*) FROM nosql.time_bucket_series('1 hour', '2020-01-01 10:00+00', '2020-01-01 10:00+00');
SELECT count(*) FROM nosql.time_bucket_series('1 hour', '2020-01-01 11:00+00', '2020-01-01 10:00+00');
-- with a time zone: local days, and hours across both DST changes
SELECT b, b AT TIME ZONE 'Europe/Berlin' AS local
  FROM nosql.time_bucket_series('1 day', '2021-03-26 12:00+00', '2021-03-30 00:00+00', 'Europe/Berlin') b;
SELECT b, b AT TIME ZONE 'Europe/Berlin' AS local
  FROM nosql.time_bucket_series('1 hour', '2021-03-27 23:00+00', '2021-03-28 03:00+00', 'Europe/Berlin') b;
SELECT b, b AT TIME ZONE 'Europe/Berlin' AS local
  FROM nosql.time_bucket_series('1 hour', '2021-10-30 23:00+00', '2021-10-31 03:00+00', 'Europe/Berlin') b;
-- every bucket time_bucket gives over a range is in the series, and no other
SELECT count(*) AS buckets,
       count(*) FILTER (WHERE s.b IS NULL) AS missing, count(*) FILTER (WHERE t.b IS NULL) AS extra
  FROM (SELECT DISTINCT nosql.time_bucket('2 hours', x, 'America/New_York') b
          FROM generate_series('2021-03-13 00:00+00'::timestamptz, '2021-11-08 00:00+00', '10 minutes') x) t
  FULL JOIN nosql.time_bucket_series('2 hours', '2021-03-13 00:00+00', '2021-11-08 00:00:01+00', 'America/New_York') s(b)
    USING (b);
-- the end of the range of timestamps stops the series
SELECT count(*) FROM nosql.time_bucket_series('1 day', '294276-12-29 00:00+00', '294276-12-31 23:59:59+00');
SELECT * FROM nosql.time_bucket_series('1 hour', now(), 'infinity');
SELECT * FROM nosql.time_bucket_series('0 hours', now(), now() + interval '1 day');
SELECT * FROM nosql.time_bucket_series('1 hour', now(), now() + interval '1 day', 'UTC', '-infinity');
SELECT count(*) FROM nosql.time_bucket_series('1 hour', now(), NULL, 'UTC');

-- gap filling: buckets without data get the last value (locf) or the
-- value on the line between their neighbours (interpolate)
CREATE TABLE ts_gaps (t timestamptz, v float8, i bigint);
INSERT INTO ts_gaps VALUES
  ('2020-01-01 10:01+00', 10, 1), ('2020-01-01 10:02+00', 20, 2),
  ('2020-01-01 10:31+00', 40, NULL), ('2020-01-01 10:50+00', NULL, 5);
SELECT b, avg(g.v) AS avg, nosql.locf(avg(g.v)) OVER w AS locf,
       nosql.interpolate(avg(g.v), b) OVER w AS interpolate,
       nosql.locf(max(g.i)) OVER w AS locf_i, nosql.interpolate(max(g.i), b) OVER w AS interpolate_i,
       nosql.locf(avg(g.v), count(g.t) = 0) OVER w AS locf_gaps_only
  FROM nosql.time_bucket_series('10 minutes', '2020-01-01 09:50+00', '2020-01-01 11:10+00') b
  LEFT JOIN ts_gaps g ON nosql.time_bucket('10 minutes', g.t) = b
 GROUP BY b
WINDOW w AS (ORDER BY b)
 ORDER BY b;
-- per partition, over text, with integer and date times
SELECT p, x, nosql.locf(s) OVER (PARTITION BY p ORDER BY x) AS locf_s,
       nosql.interpolate(f, x) OVER (PARTITION BY p ORDER BY x) AS by_bigint,
       nosql.interpolate(f, '2020-01-01'::date + x::int) OVER (PARTITION BY p ORDER BY x) AS by_date,
       nosql.interpolate(f, '2020-01-01'::timestamp + x * interval '1 hour') OVER (PARTITION BY p ORDER BY x) AS by_timestamp
  FROM (VALUES (1, 1::bigint, 'a', 1.0::float8), (1, 2, NULL, NULL), (1, 5, NULL, NULL), (1, 6, 'b', 6.0),
               (2, 1, NULL, NULL), (2, 2, 'c', 2.0), (2, 3, NULL, NULL), (2, 4, NULL, 0.0)) v(p, x, s, f)
 ORDER BY p, x;
-- the locf of every type, with treat_null_as_missing false
SELECT x, nosql.locf(d) OVER o AS locf_bson, nosql.locf(n) OVER o AS locf_numeric,
       nosql.locf(n, false) OVER o AS kept
  FROM (VALUES (1, '{"a": 1}'::nosql.bson, 1.5), (2, NULL, NULL), (3, '{"a": 3}', 3.5), (4, NULL, NULL)) v(x, d, n)
WINDOW o AS (ORDER BY x) ORDER BY x;
-- equal and infinite times, missing times
SELECT x, nosql.interpolate(f, t) OVER (ORDER BY x)
  FROM (VALUES (1, 1.0::float8, '2020-01-01'::timestamptz), (2, NULL, '2020-01-01'), (3, 3.0, '2020-01-01'),
               (4, NULL, NULL), (5, 5.0, 'infinity'), (6, NULL, '2020-01-02'), (7, 7.0, '2020-01-03')) v(x, f, t)
 ORDER BY x;
-- a large partition: one pass, rows before the last observation released
SELECT count(*), sum(l) AS sum_locf, round(sum(ip)::numeric, 6) AS sum_interpolate
  FROM (SELECT nosql.locf(CASE WHEN g % 100 = 0 THEN g END) OVER (ORDER BY g) AS l,
               nosql.interpolate(CASE WHEN g % 100 = 0 THEN g::float8 END, g) OVER (ORDER BY g) AS ip
          FROM generate_series(1, 100000) g) x;

DROP TABLE ts_m, ts_big, ts_gaps;
