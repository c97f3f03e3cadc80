"""The aggregation pipeline against the equivalent SQL over jsonb tables.

Data (scale 1, the aggregation issue's shape):
  events: one million documents {_id: i, a: i % 1000, v: i % 100,
          tags: [i % 5, i % 7, i % 11, i % 13, i % 17]} with an index on a
          (ours: createIndexes a_1; the peer: btree ((doc->'a')));
  orders: 100,000 {_id: i, cust: i % 10000, amount: i % 500};
  customers: 10,000 {_id: k, name: "c<k>"} (ours: the _id primary key; the
          peer: a primary key on the id column and a btree on doc->'_id').
Pipelines go through nosql.run_command_bytes as BSON commands built by the
client; the peer runs plain SQL on the same connection.

- $match + $group with $sum and $avg: {a: {$lt: 500}}, grouped by v, vs
  SELECT doc->'v', sum, avg ... WHERE doc->'a' < '500' GROUP BY 1.
- $lookup of the orders to their customers, then the sum of the arrays'
  sizes (see below for the two peers).
- $sort + $limit 10 on the indexed field, per call.
- $unwind + $group over the 5-element tags, vs jsonb_array_elements.
- $lookup is measured twice: against the equivalent jsonb join that builds
  each order's array of customers (jsonb_agg), and against a LATERAL join
  that only counts the matches (a lower bound that builds nothing).
"""
import statistics
import time

from _bsonmini import Array, encode_command

DESCRIPTION = ("aggregation: $match+$group, $lookup, $sort+$limit, $unwind+$group — "
               "pipelines via run_command vs the equivalent SQL over jsonb")

ROWS_PER_SCALE = int(__import__("os").environ.get("NOSQL_BENCH_ROWS", "1000000"))
BATCH = 1000


def rows(scale):
    return int(scale * ROWS_PER_SCALE)


def run(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else None


def command(cur, cmd):
    cur.execute("SELECT nosql.run_command_bytes('bench', %s)", (cmd,))
    return bytes(cur.fetchone()[0])


def ok(reply):
    if b"\x01ok\x00\x00\x00\x00\x00\x00\x00\xf0?" not in reply:
        raise RuntimeError("command failed: %r" % reply[:300])
    return reply


def aggregate(cur, coll, pipeline):
    return ok(command(cur, encode_command([("aggregate", coll), ("pipeline", pipeline),
                                           ("cursor", [("batchSize", 1000000)])])))


def setup(conn, scale):
    n = rows(scale)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE ev_batches AS SELECT (g - 1) / %d AS b, '[' || string_agg("
                    "format('{\"_id\": %%s, \"a\": %%s, \"v\": %%s, \"tags\": [%%s, %%s, %%s, %%s, %%s]}', "
                    "g, g %% 1000, g %% 100, g %% 5, g %% 7, g %% 11, g %% 13, g %% 17), ',' ORDER BY g) "
                    "|| ']' AS docs FROM generate_series(1, %d) g GROUP BY 1" % (BATCH, n))
        cur.execute("SELECT nosql.insert_many('bench.ev', docs::nosql.bson) FROM ev_batches")
        cur.execute("CREATE TABLE ev_jsonb (id int PRIMARY KEY, doc jsonb)")
        cur.execute("INSERT INTO ev_jsonb SELECT (d->>'_id')::int, d FROM "
                    "(SELECT document::jsonb AS d FROM nosql_data.\"bench.ev\") x")
        ok(command(cur, encode_command([("createIndexes", "ev"), ("indexes", Array([
            [("key", [("a", 1)]), ("name", "a_1")]]))])))
        cur.execute("CREATE INDEX ON ev_jsonb ((doc->'a'))")
        cur.execute("SELECT nosql.insert_many('bench.customers', ('[' || string_agg("
                    "format('{\"_id\": %s, \"name\": \"c%s\"}', k, k), ',') || ']')::nosql.bson) "
                    "FROM generate_series(0, 9999) k")
        cur.execute("SELECT sum(nosql.insert_many('bench.orders', docs::nosql.bson)) FROM ("
                    "SELECT '[' || string_agg(format('{\"_id\": %s, \"cust\": %s, \"amount\": %s}', "
                    "i, i % 10000, i % 500), ',') || ']' AS docs "
                    "FROM generate_series(1, 100000) i GROUP BY i / 1000) b")
        cur.execute("CREATE TABLE customers_jsonb (id int PRIMARY KEY, doc jsonb)")
        cur.execute("INSERT INTO customers_jsonb SELECT (document::jsonb->>'_id')::int, document::jsonb "
                    "FROM nosql_data.\"bench.customers\"")
        cur.execute("CREATE INDEX ON customers_jsonb ((doc->'_id'))")
        cur.execute("CREATE TABLE orders_jsonb (id int PRIMARY KEY, doc jsonb)")
        cur.execute("INSERT INTO orders_jsonb SELECT (document::jsonb->>'_id')::int, document::jsonb "
                    "FROM nosql_data.\"bench.orders\"")
        cur.execute("VACUUM ANALYZE")


def prepare(conn, scale):
    pass


MATCHES = {}


def check(case, side, n):
    MATCHES[(case, side)] = n
    other = MATCHES.get((case, "peer" if side == "ours" else "ours"))
    if other is not None and other != n:
        raise RuntimeError("%s: ours and the peer disagree: %r" % (case, MATCHES))


def per_call(n, fn):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- $match + $group ---

def group_ours(conn, scale):
    with conn.cursor() as cur:
        reply = aggregate(cur, "ev", Array([[("$match", [("a", [("$lt", 500)])])],
                                            [("$group", [("_id", "$v"), ("s", [("$sum", "$a")]),
                                                         ("m", [("$avg", "$a")])])]]))
        check("group", "ours", reply.count(b"\x01m\x00"))


def group_peer(conn, scale):
    res = run(conn, "SELECT doc->'v', sum((doc->>'a')::int), avg((doc->>'a')::int) FROM ev_jsonb "
                    "WHERE doc->'a' < '500' GROUP BY 1")
    check("group", "peer", len(res))


# --- $lookup ---

def lookup_ours(conn, scale):
    with conn.cursor() as cur:
        reply = aggregate(cur, "orders", Array([
            [("$lookup", [("from", "customers"), ("localField", "cust"),
                          ("foreignField", "_id"), ("as", "c")])],
            [("$group", [("_id", None), ("n", [("$sum", [("$size", "$c")])])])]]))
        cur.execute("SELECT (nosql.bson(%s::bytea)->'cursor'->'firstBatch'->0->'n')::bigint", (reply,))
        check("lookup", "ours", cur.fetchone()[0])


def lookup_peer(conn, scale):
    # the same work as $lookup: every order gets the array of its matching
    # customers' documents (jsonb_agg), then the arrays' sizes are summed
    res = run(conn, "SELECT sum(jsonb_array_length(d->'c')) FROM (SELECT o.doc || "
                    "jsonb_build_object('c', COALESCE((SELECT jsonb_agg(c.doc) FROM customers_jsonb c "
                    "WHERE c.doc->'_id' = o.doc->'cust'), '[]'::jsonb)) AS d FROM orders_jsonb o) y")
    check("lookup", "peer", int(res[0][0]))


def lookup_ours_count(conn, scale):
    with conn.cursor() as cur:
        reply = aggregate(cur, "orders", Array([
            [("$lookup", [("from", "customers"), ("localField", "cust"),
                          ("foreignField", "_id"), ("as", "c")])],
            [("$group", [("_id", None), ("n", [("$sum", [("$size", "$c")])])])]]))
        cur.execute("SELECT (nosql.bson(%s::bytea)->'cursor'->'firstBatch'->0->'n')::bigint", (reply,))
        check("lookupcount", "ours", cur.fetchone()[0])


def lookup_peer_count(conn, scale):
    # a lower bound, not an equivalent: it only counts the matches and builds
    # no documents
    res = run(conn, "SELECT sum(x.n) FROM orders_jsonb o, LATERAL (SELECT count(*) AS n FROM "
                    "customers_jsonb c WHERE c.doc->'_id' = o.doc->'cust') x")
    check("lookupcount", "peer", int(res[0][0]))


# --- $sort + $limit on the indexed field ---

def sort_ours(conn, scale):
    cmd = encode_command([("aggregate", "ev"),
                          ("pipeline", Array([[("$sort", [("a", -1)])], [("$limit", 10)]])),
                          ("cursor", [])])
    with conn.cursor() as cur:
        def one():
            reply = ok(command(cur, cmd))
            if reply.count(b"\x04tags\x00") != 10:
                raise RuntimeError("sort+limit did not return 10 documents")
        return per_call(500, one)


def sort_peer(conn, scale):
    with conn.cursor() as cur:
        def one():
            cur.execute("SELECT doc FROM ev_jsonb ORDER BY doc->'a' DESC LIMIT 10")
            if len(cur.fetchall()) != 10:
                raise RuntimeError("jsonb sort+limit")
        return per_call(500, one)


# --- $unwind + $group ---

def unwind_ours(conn, scale):
    with conn.cursor() as cur:
        reply = aggregate(cur, "ev", Array([[("$unwind", "$tags")],
                                            [("$group", [("_id", "$tags"), ("n", [("$sum", 1)])])]]))
        check("unwind", "ours", reply.count(b"\x10n\x00"))


def unwind_peer(conn, scale):
    res = run(conn, "SELECT e, count(*) FROM ev_jsonb, jsonb_array_elements(doc->'tags') e GROUP BY e")
    check("unwind", "peer", len(res))


CASES = [
    ("$match + $group with $sum/$avg (500k of 1M docs, 100 groups)", group_ours, group_peer, "s"),
    ("$lookup 100k orders to 10k customers", lookup_ours, lookup_peer, "s"),
    ("$lookup 100k orders to 10k customers vs a count-only LATERAL join", lookup_ours_count,
     lookup_peer_count, "s"),
    ("$sort + $limit 10 on an indexed field, per call", sort_ours, sort_peer, "s/call"),
    ("$unwind + $group over a 5-element array (1M docs)", unwind_ours, unwind_peer, "s"),
]

# NOSQL_BENCH_SKIP: words naming cases to leave out (e.g. "lookup")
_skip = __import__("os").environ.get("NOSQL_BENCH_SKIP", "").split()
CASES = [c for c in CASES if not any(w in c[0] for w in _skip)]
