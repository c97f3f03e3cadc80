"""Harness self-test: proves bench/harness.py works end to end.

No nosql code is involved and the numbers say nothing about nosql.  The two
cases exercise every part of the benchmark interface: setup, the untimed
prepare hook, a timed case (unit "s") and a case that reports its own metric
(unit "bytes").  "ours" and "peer" are stand-ins, not competitors.
"""

DESCRIPTION = ("harness self-test, no nosql code: count(*) over generate_series"
               " vs a plain table; size of a table without vs with an index")

ROWS_PER_SCALE = 100_000


def rows(scale):
    return scale * ROWS_PER_SCALE


def setup(conn, scale):
    with conn.cursor() as cur:
        for table in ("smoke", "smoke_indexed"):
            cur.execute("CREATE TABLE %s AS SELECT g::int8 AS n"
                        " FROM generate_series(1, %%s) g" % table,
                        (rows(scale),))
        cur.execute("CREATE INDEX ON smoke_indexed (n)")
        cur.execute("VACUUM ANALYZE smoke, smoke_indexed")


def prepare(conn, scale):
    """Untimed, before every call: no call pays for writing out another's
    dirty buffers."""
    with conn.cursor() as cur:
        cur.execute("CHECKPOINT")


def check_count(conn, scale, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        found = cur.fetchone()[0]
    if found != rows(scale):
        raise RuntimeError("%s counted %d rows, expected %d"
                           % (sql, found, rows(scale)))


def count_series(conn, scale):
    check_count(conn, scale, "SELECT count(*) FROM generate_series(1, %s)",
                (rows(scale),))


def count_table(conn, scale):
    check_count(conn, scale, "SELECT count(*) FROM smoke")


def total_bytes(conn, table):
    with conn.cursor() as cur:
        cur.execute("SELECT pg_total_relation_size(%s)", (table,))
        return cur.fetchone()[0]


def size_plain(conn, scale):
    return total_bytes(conn, "smoke")


def size_indexed(conn, scale):
    return total_bytes(conn, "smoke_indexed")


CASES = [
    ("count(*): generate_series vs table", count_series, count_table, "s"),
    ("total size: table vs table + index", size_plain, size_indexed, "bytes"),
]
