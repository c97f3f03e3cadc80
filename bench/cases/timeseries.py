"""Time-series tables (nosql.create_timeseries, compressed with
nosql.compress_timeseries) against a plain PostgreSQL table of the same
rows: the figures of the time-series issue's "Speed and size" section.

Data (scale 1, the issue's shape, TSBS "cpu"-like): 100 hosts x 10 metrics
every 10 s for one day, 2025-01-01 00:00 to 2025-01-02 00:00 UTC: 864,000
rows of (time timestamptz, host text, m0 .. m9), written in time order (every
host at one instant, then the next instant), as a collector would.  `--scale`
multiplies the number of hosts (0.1: 10 hosts, a quick trial).

- A: random walks at full precision: each series starts uniform in [0, 100]
  and adds a normal(0, 1) step every 10 s, clamped to [0, 100].
- B: the same walks rounded to 0.1.
- C: integer counters: start uniform in 0..999,999, increments uniform in
  0..1000; stored in float8 columns (the issue's "C-as-float") and, as a
  second size case, in int8 columns.
- Timestamps are exactly every 10 s.

These are the definitions of test/unit/ts_codec_data.h (the codec
benchmark's generators) re-done in Python with its own seeded generator
(random.Random, one per series, seeds derived from the series number as
there): the same distributions and rules, not bit-identical values.

The tables: CREATE TABLE cpu_X (time timestamptz NOT NULL, host text NOT
NULL, m0 float8, ..., m9 float8) with an index on (host, time) -- TSBS's
usual set-up.  The peer is that plain table.  Ours is the same table turned
into a time-series table by nosql.create_timeseries('cpu_X', 'time',
segment_by => '{host}', chunk_interval => '1 day'), which keeps the index on
its partitions; the data's day is one partition (made by converting the
table with one row of that day in it, then emptied), and the partitions the
conversion makes ahead of now stay empty.

Cases (every figure lower-is-better; peer/ours > 1 favours us):

- ingest: COPY of all rows of data set A (text format, from a buffer in the
  client through copy_expert) into the empty table with its index: the
  time-series table against the plain one.  Timed by the harness (s); the
  rows/s of each run are logged.  Before every call of every case both
  ingest tables are truncated and a CHECKPOINT is taken (untimed).  Ours
  has compress_after => '1 day', so its day is due for compression and COPY
  writes the rows as compressed blocks as it reads them
  (nosql.timeseries_compress_copy, src/ts_copy.c); the peer writes heap rows
  and index entries.
- size A, B, C (float8), C (int8): loaded once in set-up, ours then
  compressed by nosql.compress_timeseries('cpu_X', '0') (when the function
  exists; otherwise the log says so and the rows stay uncompressed), then
  one VACUUM ANALYZE of the whole database (so of every partition and of
  wherever compressed blocks are kept).  Peer: pg_total_relation_size of
  the plain table (heap, index, TOAST, free space and visibility maps).
  Ours: nosql.timeseries_size('cpu_X'); the log breaks it down into the
  partitions' heaps, their indexes, the block tables (with TOAST) and their
  indexes.  The figure is
  bytes per value: size / (rows x 10); the time and host columns and the
  index are part of the cost.  The log compares ours with TimescaleDB 2.28's
  figures on this data (6.55 / 2.77 / 0.61 bytes per value for A / B /
  C-as-float) and the issue's aim, 0.9x those.  Measured once; every run
  reports the figure.
- one host, 12 hours, 1-minute buckets on data set A: SELECT
  nosql.time_bucket('1 minute', time) AS b, max(m0) ... WHERE host = 'host_7'
  AND time in [06:00, 18:00) GROUP BY b ORDER BY b; compressed ours vs the
  plain table, the same function on both sides so that only the storage
  differs.  The figure is the median of 20 executions (after one untimed
  warm-up, whose rows are checked) per call, ms per query, every row fetched
  to the client as the text the server sent (not made into Python objects:
  see timed_query).  Aim: <= 1.5
  ms and <= 0.25x the plain table.
- all hosts, one day, 1-hour buckets on data set A: SELECT
  nosql.time_bucket('1 hour', time) AS b, host, avg(m0), max(m1) ... GROUP BY
  b, host ORDER BY b, host; median of 5 executions per call.  Aim: <= 0.4x
  the plain table.

The query results of the two sides are compared (bucket count, max exactly,
avg to 1e-9), so that a fast wrong answer fails the run.

jit is off: its compile time (about 0.1 s) would otherwise land on whichever
side has the larger cost estimate and swamp the query figures.
"""
import array
import datetime
import io
import math
import random
import statistics
import sys
import time

DESCRIPTION = ("timeseries: 100 hosts x 10 metrics every 10 s for a day; "
               "COPY into a time-series table vs a plain table, bytes per value "
               "compressed vs plain (data A/B/C), two time_bucket queries")

SERVER_SETTINGS = {"jit": "off"}

HOSTS = 100
METRICS = 10
POINTS = 8640                   # one day every 10 s
DAY_START = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
DAY_START_SQL = "2025-01-01 00:00:00+00"
DAY_END_SQL = "2025-01-02 00:00:00+00"

# TimescaleDB 2.28 on this data (the issue), bytes per value
TIMESCALE = {"A": 6.55, "B": 2.77, "C": 0.61}
SIZE_AIM = 0.9

Q1_REPEAT = 20
Q2_REPEAT = 5

# state filled by setup
DATA_A = None                   # the text of data set A, for the ingest case
SIZES = {}                      # (data set, side) -> bytes per value
UNCOMPRESSED = {}               # table suffix -> our size before compression
COMPRESSED = None               # whether compress_timeseries was there
RESULTS = {}                    # query results, per case and side


def log(message):
    print(message, file=sys.stderr, flush=True)


def hosts(scale):
    return max(1, round(HOSTS * scale))


def rows(scale):
    return hosts(scale) * POINTS


def query_host(scale):
    return "host_%d" % min(7, hosts(scale) - 1)


def run(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else None


def one(conn, sql, params=None):
    return run(conn, sql, params)[0][0]


# --- the data (test/unit/ts_codec_data.h, in Python) ---

def walk(series):
    """Data A, one series: start uniform in [0, 100], normal(0, 1) steps,
    clamped to [0, 100] (TsdWalk)."""
    rnd = random.Random(series * 7919 + 1)
    gauss = rnd.gauss
    x = rnd.random() * 100.0
    out = array.array("d", bytes(8 * POINTS))
    for i in range(POINTS):
        x += gauss(0.0, 1.0)
        if x < 0.0:
            x = 0.0
        elif x > 100.0:
            x = 100.0
        out[i] = x
    return out


def counter(series):
    """Data C, one series: start uniform in 0..999,999, increments uniform
    in 0..1000 (TsdCounter)."""
    rnd = random.Random(series * 104729 + 3)
    randrange = rnd.randrange
    c = randrange(1000000)
    out = []
    for _ in range(POINTS):
        c += randrange(1001)
        out.append(c)
    return out


def round_tenth(x):
    # C's round(): half away from zero (x >= 0 here)
    return math.floor(x * 10.0 + 0.5) / 10.0


def data_text(kind, scale):
    """COPY text of a data set, rows in time order: bytes.

    kind: "A" (full precision: repr, the shortest text that reads back as
    the same float8), "B" (rounded to 0.1) or "C" (counters)."""
    times = [(DAY_START + datetime.timedelta(seconds=10 * i))
             .strftime("%Y-%m-%d %H:%M:%S+00") for i in range(POINTS)]
    per_host = []
    for h in range(hosts(scale)):
        columns = []
        for m in range(METRICS):
            series = h * METRICS + m
            if kind == "A":
                columns.append(list(map(repr, walk(series))))
            elif kind == "B":
                columns.append([repr(round_tenth(x)) for x in walk(series)])
            else:
                columns.append(list(map(str, counter(series))))
        name = "host_%d" % h
        per_host.append(["%s\t%s\t%s\n" % (t, name, "\t".join(values))
                         for t, *values in zip(times, *columns)])
    # time order: every host at one instant, then the next instant
    return "".join(line for at_time in zip(*per_host)
                   for line in at_time).encode()


# --- tables ---

def create_plain(conn, name, coltype):
    metrics = ", ".join("m%d %s" % (m, coltype) for m in range(METRICS))
    run(conn, "DROP TABLE IF EXISTS %s" % name)
    run(conn, "CREATE TABLE %s (time timestamptz NOT NULL, host text NOT NULL,"
              " %s)" % (name, metrics))
    run(conn, "CREATE INDEX ON %s (host, time)" % name)


def create_ours(conn, name, coltype, compress_after=None):
    """A time-series table with the partition of the data's day, empty."""
    create_plain(conn, name, coltype)
    run(conn, "INSERT INTO %s (time, host) VALUES ('%s', 'host_0')"
              % (name, DAY_START_SQL))
    run(conn, "SELECT nosql.create_timeseries('%s', 'time', segment_by => '{host}',"
              " chunk_interval => '1 day'%s)"
        % (name, "" if compress_after is None
           else ", compress_after => '%s'" % compress_after))
    run(conn, "TRUNCATE %s" % name)
    parts = one(conn, "SELECT count(*) FROM nosql.timeseries_partition"
                      " WHERE relid = '%s'::regclass AND range_start = '%s'"
                % (name, DAY_START_SQL))
    if parts != 1:
        raise RuntimeError("%s has no partition for %s" % (name, DAY_START_SQL))


def copy_in(conn, table, data):
    with conn.cursor() as cur:
        cur.copy_expert("COPY %s FROM STDIN" % table, io.BytesIO(data))
        return cur.rowcount


def compress_available(conn):
    return one(conn, "SELECT to_regprocedure("
                     "'nosql.compress_timeseries(regclass, interval)') IS NOT NULL")


def names(kind, coltype):
    """(suffix, plain table, our table) of a data set."""
    suffix = kind.lower() + ("_int8" if coltype == "int8" else "")
    return suffix, "cpu_%s_plain" % suffix, "cpu_%s" % suffix


def load(conn, scale, kind, coltype, data):
    """Both tables of one data set, ours compressed when it can be."""
    suffix, plain, ours = names(kind, coltype)
    create_plain(conn, plain, coltype)
    copy_in(conn, plain, data)
    create_ours(conn, ours, coltype)
    copy_in(conn, ours, data)
    UNCOMPRESSED[suffix] = one(conn, "SELECT nosql.timeseries_size(%s)", (ours,))
    if COMPRESSED:
        start = time.perf_counter()
        moved = one(conn, "SELECT nosql.compress_timeseries(%s, '0')", (ours,))
        log("  %s: compress_timeseries: %s rows in %.2f s"
            % (ours, moved, time.perf_counter() - start))


def measure_sizes(conn, scale, kind, coltype):
    """Bytes per value of each side of a data set, after VACUUM."""
    suffix, plain, ours = names(kind, coltype)
    values = rows(scale) * METRICS
    plain_bytes = one(conn, "SELECT pg_total_relation_size(%s)", (plain,))
    ours_bytes = one(conn, "SELECT nosql.timeseries_size(%s)", (ours,))
    n = one(conn, "SELECT count(*) FROM %s" % ours)
    if n != rows(scale) or one(conn, "SELECT count(*) FROM %s" % plain) != n:
        raise RuntimeError("%s holds %d rows, not %d" % (ours, n, rows(scale)))
    log("  %s: %d rows; plain %.3f bytes/value (%d bytes); ours %.3f"
        " bytes/value (%d bytes; %.3f before compression)"
        % (ours, n, plain_bytes / values, plain_bytes, ours_bytes / values,
           ours_bytes, UNCOMPRESSED[suffix] / values))
    breakdown(conn, ours, values)
    return plain_bytes / values, ours_bytes / values


def breakdown(conn, ours, values):
    """Log where our bytes are: partition heaps and their indexes, block
    tables (with TOAST) and their indexes, in bytes per value."""
    parts = run(conn, """
        SELECT coalesce(sum(pg_table_size(p.partition)), 0),
               coalesce(sum(pg_indexes_size(p.partition)), 0),
               coalesce(sum(pg_table_size(p.blocks)), 0),
               coalesce(sum(pg_indexes_size(p.blocks)), 0),
               count(p.blocks)
          FROM nosql.timeseries_partition p WHERE p.relid = %s::regclass""", (ours,))[0]
    log("    %s bytes/value: partition heaps %.3f, their indexes %.3f;"
        " block tables %.3f, their indexes %.3f (%d compressed partitions)"
        % (ours, parts[0] / values, parts[1] / values, parts[2] / values,
           parts[3] / values, parts[4]))


DATA_SETS = [("A", "float8"), ("B", "float8"), ("C", "float8"), ("C", "int8")]


def size_key(kind, coltype):
    return kind if coltype == "float8" else kind + " " + coltype


def setup(conn, scale):
    global DATA_A, COMPRESSED
    if query_host(scale) != "host_7":
        log("note: %d hosts; the one-host query reads %s"
            % (hosts(scale), query_host(scale)))
    COMPRESSED = compress_available(conn)
    if not COMPRESSED:
        log("note: nosql.compress_timeseries(regclass, interval) does not"
            " exist in this build: ours is measured UNCOMPRESSED (plain"
            " partitions)")
    data = None
    for kind, coltype in DATA_SETS:
        if data is None or data[0] != kind:
            start = time.perf_counter()
            data = (kind, data_text(kind, scale))
            log("  data set %s: %d rows, %.0f MB of COPY text, made in %.1f s"
                % (kind, rows(scale), len(data[1]) / 1e6,
                   time.perf_counter() - start))
            if kind == "A":
                DATA_A = data[1]
        load(conn, scale, kind, coltype, data[1])
    data = None
    # the whole database: the plain tables, every partition of ours and
    # wherever its compressed blocks are kept
    start = time.perf_counter()
    run(conn, "VACUUM ANALYZE")
    log("  VACUUM ANALYZE of the database: %.1f s" % (time.perf_counter() - start))
    if COMPRESSED:
        # the background worker's round (run here at once): it gives back
        # the heap and index space of the rows compression moved
        start = time.perf_counter()
        for kind, coltype in DATA_SETS:
            run(conn, "SELECT nosql.timeseries_maintain(%s)", (names(kind, coltype)[2],))
        log("  maintenance round (space of compressed partitions given back): %.1f s"
            % (time.perf_counter() - start))
    for kind, coltype in DATA_SETS:
        key = size_key(kind, coltype)
        SIZES[key, "peer"], SIZES[key, "ours"] = measure_sizes(
            conn, scale, kind, coltype)
    for kind, coltype in DATA_SETS:
        key = size_key(kind, coltype)
        line = "  size %s: ours %.3f bytes/value, plain %.3f" % (
            key, SIZES[key, "ours"], SIZES[key, "peer"])
        ref = TIMESCALE.get(key)
        if ref is not None:
            aim = SIZE_AIM * ref
            line += "; TimescaleDB %.2f, aim <= %.3f: %s" % (
                ref, aim, "met" if SIZES[key, "ours"] <= aim else "NOT met")
        log(line)
    create_plain(conn, "ingest_plain", "float8")
    # a compression policy, so that COPY compresses the rows of the
    # (long past) day as it loads them (nosql.timeseries_compress_copy)
    create_ours(conn, "ingest_ts", "float8", compress_after="1 day")


def prepare(conn, scale):
    # the ingest tables empty for the next ingest call, and no dirty
    # buffers of an earlier call flushed during the next one
    run(conn, "TRUNCATE ingest_plain")
    run(conn, "TRUNCATE ingest_ts")
    run(conn, "CHECKPOINT")


def teardown(conn, scale):
    global DATA_A
    DATA_A = None


# --- ingest: COPY of data set A into an empty table ---

def ingest(conn, scale, table, side):
    start = time.perf_counter()
    n = copy_in(conn, table, DATA_A)
    elapsed = time.perf_counter() - start
    if n != rows(scale):
        raise RuntimeError("COPY into %s took %d rows, not %d" % (table, n, rows(scale)))
    log("    ingest %s: %.0f rows/s" % (side, n / elapsed))


def ingest_ours(conn, scale):
    ingest(conn, scale, "ingest_ts", "ours")


def ingest_peer(conn, scale):
    ingest(conn, scale, "ingest_plain", "peer")


# --- size: bytes per value, measured in setup ---

def size_case(key):
    def ours(conn, scale):
        return SIZES[key, "ours"]

    def peer(conn, scale):
        return SIZES[key, "peer"]
    ours.__name__ = "size_ours"
    peer.__name__ = "size_peer"
    return ours, peer


# --- queries on data set A ---

Q1 = ("SELECT nosql.time_bucket('1 minute', time) AS b, max(m0) FROM %s"
      " WHERE host = %%s AND time >= '2025-01-01 06:00:00+00'"
      " AND time < '2025-01-01 18:00:00+00' GROUP BY b ORDER BY b")
Q2 = ("SELECT nosql.time_bucket('1 hour', time) AS b, host, avg(m0), max(m1)"
      " FROM %s WHERE time >= '" + DAY_START_SQL + "' AND time < '"
      + DAY_END_SQL + "' GROUP BY b, host ORDER BY b, host")


def check(case, side, result, expected_rows):
    if len(result) != expected_rows:
        raise RuntimeError("%s (%s): %d rows, not %d"
                           % (case, side, len(result), expected_rows))
    RESULTS[case, side] = result
    other = RESULTS.get((case, "peer" if side == "ours" else "ours"))
    if other is None:
        return
    for a, b in zip(result, other):
        for x, y in zip(a, b):
            same = (math.isclose(x, y, rel_tol=1e-9) if isinstance(x, float)
                    else x == y)
            if not same:
                raise RuntimeError("%s: the sides disagree: %r vs %r" % (case, a, b))


# The timed executions fetch every row but keep the values as the text the
# server sent: psycopg2's conversion of 720 timestamps and floats into
# Python objects cost about 1.2 ms a query here (float8 alone 0.8 ms), more
# than the compressed query itself, and it is the client's cost, the same
# for both sides.  The untimed warm-up converts, for the check of results.
RAW_TYPES = (20, 21, 23, 700, 701, 1082, 1114, 1184, 1700)


def raw_cursor(conn):
    import psycopg2.extensions
    cur = conn.cursor()
    raw = psycopg2.extensions.new_type(RAW_TYPES, "BENCH_RAW", lambda value, c: value)
    psycopg2.extensions.register_type(raw, cur)
    return cur


def timed_query(conn, sql, params, repeat):
    """One untimed warm-up, then the median of repeat executions (ms)."""
    times = []
    with conn.cursor() as cur:
        cur.execute(sql, params)
        result = cur.fetchall()
    with raw_cursor(conn) as cur:
        for _ in range(repeat):
            start = time.perf_counter()
            cur.execute(sql, params)
            rows = cur.fetchall()
            times.append(time.perf_counter() - start)
            if len(rows) != len(result):
                raise RuntimeError("%d rows, then %d" % (len(result), len(rows)))
    return statistics.median(times) * 1e3, result


def q1(conn, scale, table, side):
    ms, result = timed_query(conn, Q1 % table, (query_host(scale),), Q1_REPEAT)
    check("q1", side, result, 12 * 60)
    return ms


def q2(conn, scale, table, side):
    ms, result = timed_query(conn, Q2 % table, None, Q2_REPEAT)
    check("q2", side, result, 24 * hosts(scale))
    return ms


def q1_ours(conn, scale):
    return q1(conn, scale, "cpu_a", "ours")


def q1_peer(conn, scale):
    return q1(conn, scale, "cpu_a_plain", "peer")


def q2_ours(conn, scale):
    return q2(conn, scale, "cpu_a", "ours")


def q2_peer(conn, scale):
    return q2(conn, scale, "cpu_a_plain", "peer")


CASES = [
    ("ingest: COPY data set A", ingest_ours, ingest_peer, "s"),
    ("size A: float8 walks", *size_case("A"), "bytes/value"),
    ("size B: walks rounded to 0.1", *size_case("B"), "bytes/value"),
    ("size C: counters as float8", *size_case("C"), "bytes/value"),
    ("size C: counters as int8", *size_case("C int8"), "bytes/value"),
    ("one host, 12 h, 1-minute buckets", q1_ours, q1_peer, "ms/query"),
    ("all hosts, 1 day, 1-hour buckets", q2_ours, q2_peer, "ms/query"),
]
