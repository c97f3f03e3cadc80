"""MongoDB indexes (btrees over nosql.bson_index_key, a GIN beside the
multikey one) against the best plain-PostgreSQL indexes on the same data in
a jsonb table: btrees on expressions and GIN jsonb_path_ops.

Data (scale 1: one million documents, the indexes issue's shape):
  {_id: i, a: i % 1000, b: "str" || i, tags: [i % 7, i % 11],
   nested: {x: i % 97}, ts: date}
Ours: a collection with createIndexes a_1, b_1, tags_1; the peer: a jsonb
table with btree ((doc->'a')), btree ((doc->>'b')) and GIN (doc
jsonb_path_ops).  Queries go through nosql.run_command_bytes with BSON
commands built by the client (ours) and plain SQL (the peer), over the same
connection; per-call cases report the median of many round trips.

- equality: find {b: "str<k>"} (one document) vs doc->>'b' = ...
- range 1%: find {a: {$gte: k, $lt: k + 10}} returning all 10,000 documents
  in the reply vs the same range on the jsonb btree, all rows fetched.
- sort + limit: find sort {a: -1} limit 10 vs ORDER BY doc->'a' DESC LIMIT 10.
- multikey equality: find {tags: 10} limit 100 vs doc @> '{"tags": [10]}'
  LIMIT 100.
- count all, count {a: 5}: count command vs count(*).
- index size and build: a btree for nested.x, bytes and seconds.
- insert with 3 secondary indexes: 10 insert_many calls of 1,000 documents
  vs INSERT of the same documents as jsonb.
"""
import random
import statistics
import time

from _bsonmini import Array, encode_command

DESCRIPTION = ("indexes: equality, 1% range with the reply, sort+limit, multikey "
               "equality, counts, index size/build, insert with 3 indexes — "
               "MongoDB indexes via run_command vs jsonb btree/GIN")

ROWS_PER_SCALE = int(__import__("os").environ.get("NOSQL_BENCH_ROWS", "1000000"))
BATCH = 1000

DOC_SQL = """
    format('{"_id": %s, "a": %s, "b": "str%s", "tags": [%s, %s], "nested": {"x": %s}, '
           '"ts": {"$date": {"$numberLong": "%s"}}}',
           g, g % 1000, g, g % 7, g % 11, g % 97, 1600000000000 + g * 1000)
"""


def rows(scale):
    return int(scale * ROWS_PER_SCALE)


def run(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone() if cur.description else None


def command(cur, cmd):
    cur.execute("SELECT nosql.run_command_bytes('bench', %s)", (cmd,))
    return bytes(cur.fetchone()[0])


def ok(reply):
    if b"\x01ok\x00\x00\x00\x00\x00\x00\x00\xf0?" not in reply:
        raise RuntimeError("command failed: %r" % reply[:300])
    return reply


def setup(conn, scale):
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE batches AS SELECT (g - 1) / %d AS b, "
                    "'[' || string_agg(%s, ',' ORDER BY g) || ']' AS docs "
                    "FROM generate_series(1, %d) g GROUP BY 1" % (BATCH, DOC_SQL, rows(scale)))
        cur.execute("SELECT nosql.insert_many('bench.ix', docs::nosql.bson) FROM batches")
        cur.execute("CREATE TABLE ix_jsonb (id int PRIMARY KEY, doc jsonb)")
        cur.execute("INSERT INTO ix_jsonb SELECT (d->>'_id')::int, d FROM "
                    "(SELECT document::jsonb AS d FROM nosql_data.\"bench.ix\") x")
        ok(command(cur, encode_command([
            ("createIndexes", "ix"),
            ("indexes", Array([[("key", [("a", 1)]), ("name", "a_1")],
                               [("key", [("b", 1)]), ("name", "b_1")],
                               [("key", [("tags", 1)]), ("name", "tags_1")]]))])))
        cur.execute("CREATE INDEX ix_jsonb_a ON ix_jsonb ((doc->'a'))")
        cur.execute("CREATE INDEX ix_jsonb_b ON ix_jsonb ((doc->>'b'))")
        cur.execute("CREATE INDEX ix_jsonb_gin ON ix_jsonb USING gin (doc jsonb_path_ops)")
        # the insert case: a collection and a table with three secondary indexes
        cur.execute("SELECT nosql.create_collection('bench.ins')")
        ok(command(cur, encode_command([
            ("createIndexes", "ins"),
            ("indexes", Array([[("key", [("a", 1)]), ("name", "a_1")],
                               [("key", [("b", 1)]), ("name", "b_1")],
                               [("key", [("nested.x", 1)]), ("name", "x_1")]]))])))
        cur.execute("CREATE TABLE ins_jsonb (id int PRIMARY KEY, doc jsonb)")
        cur.execute("CREATE INDEX ON ins_jsonb ((doc->'a'))")
        cur.execute("CREATE INDEX ON ins_jsonb ((doc->>'b'))")
        cur.execute("CREATE INDEX ON ins_jsonb ((doc->'nested'->'x'))")
        cur.execute("CREATE TABLE ins_batches AS SELECT b, docs, docs::jsonb AS j FROM batches "
                    "WHERE b < 10")
        cur.execute("VACUUM ANALYZE")


def prepare(conn, scale):
    with conn.cursor() as cur:
        cur.execute("DELETE FROM nosql_data.\"bench.ins\"")
        cur.execute("TRUNCATE ins_jsonb")
        cur.execute("SELECT nosql.drop_index('bench.ix', 'x_1') "
                    "WHERE EXISTS (SELECT FROM nosql.collection WHERE name = 'ix' "
                    "AND indexes::text LIKE '%%x_1%%')")
        cur.execute("DROP INDEX IF EXISTS ix_jsonb_x")


MATCHES = {}


def check(case, side, n):
    key = (case, side)
    MATCHES[key] = n
    other = MATCHES.get((case, "peer" if side == "ours" else "ours"))
    if other is not None and other != n:
        raise RuntimeError("%s: ours and the peer disagree: %r" % (case, MATCHES))


def per_call(keys, fn):
    times = []
    for k in keys:
        start = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def keys(n, hi, seed=7):
    rnd = random.Random(seed)
    return [rnd.randint(1, hi) for _ in range(n)]


# --- equality on an indexed field ---

def eq_ours(conn, scale):
    with conn.cursor() as cur:
        def one(k):
            reply = ok(command(cur, encode_command([("find", "ix"), ("filter", [("b", "str%d" % k)])])))
            if ("str%d\x00" % k).encode() not in reply:
                raise RuntimeError("find {b} found nothing")
        return per_call(keys(2000, rows(scale)), one)


def eq_peer(conn, scale):
    with conn.cursor() as cur:
        def one(k):
            cur.execute("SELECT doc FROM ix_jsonb WHERE doc->>'b' = %s", ("str%d" % k,))
            if len(cur.fetchall()) != 1:
                raise RuntimeError("jsonb b lookup failed")
        return per_call(keys(2000, rows(scale)), one)


# --- a 1% range, the whole result in the reply ---

def range_ours(conn, scale):
    with conn.cursor() as cur:
        def one(k):
            reply = ok(command(cur, encode_command([
                ("find", "ix"), ("filter", [("a", [("$gte", k), ("$lt", k + 10)])]),
                ("batchSize", 1000000)])))
            check("range", "ours", reply.count(b"\x04tags\x00"))
        return per_call(keys(20, 980, 3), one)


def range_peer(conn, scale):
    with conn.cursor() as cur:
        def one(k):
            cur.execute("SELECT doc FROM ix_jsonb WHERE doc->'a' >= %s::jsonb AND doc->'a' < %s::jsonb",
                        (str(k), str(k + 10)))
            check("range", "peer", len(cur.fetchall()))
        return per_call(keys(20, 980, 3), one)


# --- sort by an indexed field, limit 10 ---

def sort_ours(conn, scale):
    cmd = encode_command([("find", "ix"), ("sort", [("a", -1)]), ("limit", 10)])
    with conn.cursor() as cur:
        def one(k):
            reply = ok(command(cur, cmd))
            if reply.count(b"\x04tags\x00") != 10:
                raise RuntimeError("sort+limit did not return 10 documents")
        return per_call(range(500), one)


def sort_peer(conn, scale):
    with conn.cursor() as cur:
        def one(k):
            cur.execute("SELECT doc FROM ix_jsonb ORDER BY doc->'a' DESC LIMIT 10")
            if len(cur.fetchall()) != 10:
                raise RuntimeError("jsonb sort+limit")
        return per_call(range(500), one)


# --- multikey equality ---

def multikey_ours(conn, scale):
    with conn.cursor() as cur:
        def one(k):
            reply = ok(command(cur, encode_command([("find", "ix"), ("filter", [("tags", k)]),
                                                    ("limit", 100)])))
            if reply.count(b"\x04tags\x00") != 100:
                raise RuntimeError("multikey find")
        return per_call([7, 8, 9, 10] * 100, one)


def multikey_peer(conn, scale):
    with conn.cursor() as cur:
        def one(k):
            cur.execute("SELECT doc FROM ix_jsonb WHERE doc @> %s::jsonb LIMIT 100",
                        ('{"tags": [%d]}' % k,))
            if len(cur.fetchall()) != 100:
                raise RuntimeError("jsonb multikey")
        return per_call([7, 8, 9, 10] * 100, one)


# --- counts ---

def count_all_ours(conn, scale):
    with conn.cursor() as cur:
        reply = ok(command(cur, encode_command([("count", "ix")])))
        cur.execute("SELECT (nosql.bson(%s::bytea)->'n')::bigint", (reply,))
        check("count all", "ours", cur.fetchone()[0])


def count_all_peer(conn, scale):
    check("count all", "peer", run(conn, "SELECT count(*) FROM ix_jsonb")[0])


def count_eq_ours(conn, scale):
    with conn.cursor() as cur:
        reply = ok(command(cur, encode_command([("count", "ix"), ("query", [("a", 5)])])))
        cur.execute("SELECT (nosql.bson(%s::bytea)->'n')::bigint", (reply,))
        check("count eq", "ours", cur.fetchone()[0])


def count_eq_peer(conn, scale):
    check("count eq", "peer", run(conn, "SELECT count(*) FROM ix_jsonb WHERE doc->'a' = '5'")[0])


# --- index build and size ---

def build_ours(conn, scale):
    with conn.cursor() as cur:
        ok(command(cur, encode_command([
            ("createIndexes", "ix"),
            ("indexes", Array([[("key", [("nested.x", 1)]), ("name", "x_1")]]))])))


def build_peer(conn, scale):
    run(conn, "CREATE INDEX ix_jsonb_x ON ix_jsonb ((doc->'nested'->'x'))")


def size_ours(conn, scale):
    return run(conn, "SELECT pg_relation_size(indexrelid) FROM pg_index i JOIN pg_class c "
                     "ON c.oid = i.indexrelid WHERE indrelid = 'nosql_data.\"bench.ix\"'::regclass "
                     "AND pg_get_indexdef(indexrelid) LIKE '%%bson_index_key(document, ''a''::text)%%'")[0]


def size_peer(conn, scale):
    return run(conn, "SELECT pg_relation_size('ix_jsonb_a')")[0]


# --- inserts with three secondary indexes ---

def insert_ours(conn, scale):
    n = run(conn, "SELECT sum(nosql.insert_many('bench.ins', docs::nosql.bson)) FROM ins_batches")[0]
    if n != 10 * BATCH:
        raise RuntimeError("inserted %s" % n)


def insert_peer(conn, scale):
    run(conn, "INSERT INTO ins_jsonb SELECT (e->>'_id')::int, e FROM ins_batches, "
              "jsonb_array_elements(j) e")


CASES = [
    ("find equality on an indexed field (1 doc), per call", eq_ours, eq_peer, "s/call"),
    ("find 1% range (10k docs, whole reply), per call", range_ours, range_peer, "s/call"),
    ("find sort by indexed field limit 10, per call", sort_ours, sort_peer, "s/call"),
    ("find multikey equality limit 100, per call", multikey_ours, multikey_peer, "s/call"),
    ("count all documents", count_all_ours, count_all_peer, "s"),
    ("count with an indexed equality", count_eq_ours, count_eq_peer, "s"),
    ("build a single-field index (1M docs)", build_ours, build_peer, "s"),
    ("size of the index on a", size_ours, size_peer, "bytes"),
    ("insert 10k docs with 3 secondary indexes", insert_ours, insert_peer, "s"),
]
