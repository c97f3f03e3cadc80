"""bson against jsonb: parsing, binary loading, field extraction, sorting,
per-row memory and storage size, over the same small documents.

The documents are the kind an application stores: an integer _id, a few
strings, numbers, a boolean, a small array and a nested document, about
170 bytes of JSON each.  `scale` 1 is one million documents.

Every case does the same work on both sides through the same server and
client; the tables are unlogged on neither side (durable COPY).
"""

DESCRIPTION = ("bson vs jsonb: COPY text parse, COPY binary load, doc->'f' "
               "extraction, ORDER BY doc->'f', a filter over every row, memory "
               "over a 10M-row scan, size")

ROWS_PER_SCALE = 1_000_000

# Files the server writes and reads, in its data directory so that they go
# away with the throwaway cluster (set by setup).
TEXT_FILE = None
BSON_BINARY_FILE = None

DOC_SQL = """
    format('{"_id": %s, "name": "user%s", "email": "user%s@example.com", '
           '"age": %s, "score": %s, "active": %s, "tags": ["t%s", "t%s"], '
           '"address": {"city": "city%s", "zip": "%s"}}',
           g, g, g, g % 90, round((g * 0.37)::numeric % 1000, 2),
           (g % 2 = 0)::text, g % 10, g % 7, g % 100, 10000 + g % 90000)
"""


def rows(scale):
    return scale * ROWS_PER_SCALE


def setup(conn, scale):
    global TEXT_FILE, BSON_BINARY_FILE
    with conn.cursor() as cur:
        cur.execute("SHOW data_directory")
        datadir = cur.fetchone()[0]
        TEXT_FILE = datadir + "/bench_docs.txt"
        BSON_BINARY_FILE = datadir + "/bench_docs.bson.bin"
        # the input, written by the server so it can read it back
        cur.execute("COPY (SELECT %s FROM generate_series(1, %d) g) TO '%s'"
                    % (DOC_SQL, rows(scale), TEXT_FILE))
        cur.execute("CREATE TABLE docs_bson (doc nosql.bson)")
        cur.execute("CREATE TABLE docs_jsonb (doc jsonb)")
        cur.execute("COPY docs_bson FROM '%s'" % TEXT_FILE)
        cur.execute("COPY docs_jsonb FROM '%s'" % TEXT_FILE)
        cur.execute("COPY docs_bson TO '%s' WITH (FORMAT binary)" % BSON_BINARY_FILE)
        cur.execute("CREATE TABLE load_bson (doc nosql.bson)")
        cur.execute("CREATE TABLE load_jsonb (doc jsonb)")
        cur.execute("VACUUM ANALYZE docs_bson, docs_jsonb")
        # the two sides must hold the same documents
        cur.execute("SELECT count(*) FROM docs_bson b JOIN docs_jsonb j"
                    " ON (b.doc->>'_id')::int = (j.doc->>'_id')::int"
                    " WHERE b.doc::jsonb = j.doc")
        same = cur.fetchone()[0]
    if same != rows(scale):
        raise RuntimeError("bson and jsonb tables differ: %d of %d rows equal"
                           % (same, rows(scale)))


def prepare(conn, scale):
    with conn.cursor() as cur:
        cur.execute("TRUNCATE load_bson, load_jsonb")
        cur.execute("CHECKPOINT")


def run(conn, sql, expect=None):
    with conn.cursor() as cur:
        cur.execute(sql)
        result = cur.fetchone() if cur.description else None
    if expect is not None and result[0] != expect:
        raise RuntimeError("%s returned %r, expected %r" % (sql, result[0], expect))
    return result


# --- parse: COPY text into a bson column vs a jsonb column ---

def copy_text_bson(conn, scale):
    run(conn, "COPY load_bson FROM '%s'" % TEXT_FILE)


def copy_text_jsonb(conn, scale):
    run(conn, "COPY load_jsonb FROM '%s'" % TEXT_FILE)


# --- binary load: COPY BINARY of BSON bytes vs text jsonb ---

def copy_binary_bson(conn, scale):
    run(conn, "COPY load_bson FROM '%s' WITH (FORMAT binary)" % BSON_BINARY_FILE)


# --- extract one field from every document ---

def extract_bson(conn, scale):
    run(conn, "SELECT count(doc->'age') FROM docs_bson", rows(scale))


def extract_jsonb(conn, scale):
    run(conn, "SELECT count(doc->'age') FROM docs_jsonb", rows(scale))


# --- sort every document by a field ---

def sort_bson(conn, scale):
    run(conn, "SELECT doc->'_id' FROM docs_bson ORDER BY doc->'score', doc->'_id'"
              " LIMIT 1 OFFSET %d" % (rows(scale) - 1))


def sort_jsonb(conn, scale):
    run(conn, "SELECT doc->'_id' FROM docs_jsonb ORDER BY doc->'score', doc->'_id'"
              " LIMIT 1 OFFSET %d" % (rows(scale) - 1))


# --- a MongoDB filter over every row, no index ---
# {age: {$gt: 5}, "address.city": "city7"}; the peer is jsonb's own filter
# language (jsonpath, lax like MongoDB's paths) and the plain expression.

FILTER_MATCHES = None


def filter_count(conn, sql):
    global FILTER_MATCHES
    found = run(conn, sql)[0]
    if FILTER_MATCHES is None:
        FILTER_MATCHES = found
    elif found != FILTER_MATCHES:
        raise RuntimeError("%s matched %d rows, the other side %d"
                           % (sql, found, FILTER_MATCHES))


def filter_bson(conn, scale):
    filter_count(conn, "SELECT count(*) FROM docs_bson WHERE doc OPERATOR(nosql.@@) "
                       "'{\"age\": {\"$gt\": 5}, \"address.city\": \"city7\"}'")


def filter_jsonpath(conn, scale):
    filter_count(conn, "SELECT count(*) FROM docs_jsonb WHERE doc @@ "
                       "'$.age > 5 && $.address.city == \"city7\"'")


def filter_jsonb_expression(conn, scale):
    filter_count(conn, "SELECT count(*) FROM docs_jsonb WHERE (doc->'age')::numeric > 5 "
                       "AND doc->'address'->>'city' = 'city7'")


# --- memory: backend RSS growth over a 10M-row scan ---

def backend_rss(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for backend %d" % pid)


def rss_growth(conn, table, scale):
    # warm the backend so the first call's one-time allocations do not count
    run(conn, "SELECT count(doc->'age') FROM %s LIMIT 1" % table)
    before = backend_rss(conn)
    run(conn, "SELECT count(doc->'age'), count(doc->>'name') FROM %s,"
              " generate_series(1, 10)" % table)
    return max(backend_rss(conn) - before, 0)


def rss_bson(conn, scale):
    return rss_growth(conn, "docs_bson", scale)


def rss_jsonb(conn, scale):
    return rss_growth(conn, "docs_jsonb", scale)


# --- storage ---

def size_bson(conn, scale):
    return run(conn, "SELECT pg_total_relation_size('docs_bson')")[0]


def size_jsonb(conn, scale):
    return run(conn, "SELECT pg_total_relation_size('docs_jsonb')")[0]


CASES = [
    ("COPY text: parse into bson vs jsonb", copy_text_bson, copy_text_jsonb, "s"),
    ("COPY binary bson vs COPY text jsonb", copy_binary_bson, copy_text_jsonb, "s"),
    ("extract doc->'age' from every row", extract_bson, extract_jsonb, "s"),
    ("ORDER BY doc->'score' over every row", sort_bson, sort_jsonb, "s"),
    ("filter @@ vs jsonpath @@ over every row", filter_bson, filter_jsonpath, "s"),
    ("filter @@ vs jsonb expression over every row", filter_bson, filter_jsonb_expression, "s"),
    ("backend RSS growth over a 10M-row scan", rss_bson, rss_jsonb, "bytes"),
    ("table size", size_bson, size_jsonb, "bytes"),
]

