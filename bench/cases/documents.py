"""The document API against its peers: loading with insert_many, finding a
document by _id through run_command, and a MongoDB filter over a collection
without an index.

The documents are those of the bson benchmark (about 170 bytes of JSON, an
integer _id); `scale` 1 is one million documents.

- insert_many: 1,000 calls of nosql.insert_many(coll, '[...1000 documents...]')
  with the documents as JSON text (so parsing is included, as in COPY), into
  a collection (a table with the _id primary key), in one statement, against
  COPY of the same documents as text into a plain jsonb table (no index).
- find by _id: the median round trip of one find command with an _id
  filter sent as BSON through nosql.run_command_bytes from the client,
  against the median round trip of a primary-key lookup of a jsonb document
  by plain SQL over the same connection.  Units are seconds per call.
- filter: count of {age: {$gt: 5}, "address.city": "city7"} through the
  count command (run_command) against the equivalent jsonb expression.
"""
import random
import statistics
import struct
import time

from _bsonmini import encode_command

DESCRIPTION = ("documents: insert_many of 1M documents in batches of 1000 vs COPY "
               "into jsonb; find by _id round trip via run_command vs a jsonb "
               "primary-key lookup; filter count via run_command vs jsonb expression")

ROWS_PER_SCALE = 1_000_000
BATCH = 1000
LOOKUPS = 3000

TEXT_FILE = None

DOC_SQL = """
    format('{"_id": %s, "name": "user%s", "email": "user%s@example.com", '
           '"age": %s, "score": %s, "active": %s, "tags": ["t%s", "t%s"], '
           '"address": {"city": "city%s", "zip": "%s"}}',
           g, g, g, g % 90, round((g * 0.37)::numeric % 1000, 2),
           (g % 2 = 0)::text, g % 10, g % 7, g % 100, 10000 + g % 90000)
"""


def rows(scale):
    return scale * ROWS_PER_SCALE


def run(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone() if cur.description else None


def setup(conn, scale):
    global TEXT_FILE
    with conn.cursor() as cur:
        cur.execute("SHOW data_directory")
        TEXT_FILE = cur.fetchone()[0] + "/bench_documents.txt"
        cur.execute("COPY (SELECT %s FROM generate_series(1, %d) g) TO '%s'"
                    % (DOC_SQL, rows(scale), TEXT_FILE))
        # the insert_many input: JSON text arrays of BATCH documents
        cur.execute("CREATE TABLE batches AS SELECT (g - 1) / %d AS b, "
                    "'[' || string_agg(%s, ',' ORDER BY g) || ']' AS docs "
                    "FROM generate_series(1, %d) g GROUP BY 1" % (BATCH, DOC_SQL, rows(scale)))
        # stored uncompressed, as COPY's input file is: the input is not
        # what is measured
        cur.execute("ALTER TABLE batches ALTER docs SET STORAGE EXTERNAL")
        cur.execute("UPDATE batches SET docs = docs || ''")
        cur.execute("CREATE TABLE load_jsonb (doc jsonb)")
        # the lookup and filter tables
        cur.execute("SELECT nosql.insert_many('bench.lookup', docs::nosql.bson) FROM batches")
        cur.execute("CREATE TABLE lookup_jsonb (id int PRIMARY KEY, doc jsonb)")
        cur.execute("INSERT INTO lookup_jsonb SELECT (d->>'_id')::int, d FROM "
                    "(SELECT document::jsonb AS d FROM nosql_data.\"bench.lookup\") x")
        cur.execute("VACUUM ANALYZE nosql_data.\"bench.lookup\", lookup_jsonb, batches")


def prepare(conn, scale):
    with conn.cursor() as cur:
        cur.execute("SELECT nosql.drop_collection('bench.load')")
        cur.execute("SELECT nosql.create_collection('bench.load')")
        cur.execute("TRUNCATE load_jsonb")
        cur.execute("CHECKPOINT")


# --- insert_many in batches of 1000 vs COPY into jsonb ---

def insert_many(conn, scale):
    n = run(conn, "SELECT sum(nosql.insert_many('bench.load', docs::nosql.bson)) FROM batches")[0]
    if n != rows(scale):
        raise RuntimeError("insert_many inserted %s of %d" % (n, rows(scale)))


def copy_jsonb(conn, scale):
    run(conn, "COPY load_jsonb FROM '%s'" % TEXT_FILE)


# --- find by _id, one round trip per call ---

def lookup_keys(scale):
    rnd = random.Random(42)
    return [rnd.randint(1, rows(scale)) for _ in range(LOOKUPS)]


def find_by_id(conn, scale):
    keys = lookup_keys(scale)
    cmds = [encode_command([("find", "lookup"), ("filter", [("_id", k)])]) for k in keys]
    times = []
    with conn.cursor() as cur:
        for k, cmd in zip(keys, cmds):
            start = time.perf_counter()
            cur.execute("SELECT nosql.run_command_bytes('bench', %s)", (cmd,))
            reply = bytes(cur.fetchone()[0])
            times.append(time.perf_counter() - start)
            if struct.unpack("<i", reply[:4])[0] != len(reply):
                raise RuntimeError("bad reply")
            if ("user%d" % k).encode() not in reply:
                raise RuntimeError("find by _id %d did not return the document" % k)
    return statistics.median(times)


def pk_jsonb(conn, scale):
    keys = lookup_keys(scale)
    times = []
    with conn.cursor() as cur:
        for k in keys:
            start = time.perf_counter()
            cur.execute("SELECT doc FROM lookup_jsonb WHERE id = %s", (k,))
            row = cur.fetchone()
            times.append(time.perf_counter() - start)
            if row is None:
                raise RuntimeError("jsonb lookup %d found nothing" % k)
    return statistics.median(times)


# --- a filter over every document, no index ---

MATCHES = {}


def check(name, n):
    MATCHES[name] = n
    if len(set(MATCHES.values())) > 1:
        raise RuntimeError("the sides disagree: %r" % MATCHES)


def filter_count(conn, scale):
    cmd = encode_command([("count", "lookup"),
                          ("query", [("age", [("$gt", 5)]), ("address.city", "city7")])])
    with conn.cursor() as cur:
        cur.execute("SELECT (nosql.bson(nosql.run_command_bytes('bench', %s))->'n')::int", (cmd,))
        check("ours", cur.fetchone()[0])


def filter_jsonb(conn, scale):
    n = run(conn, "SELECT count(*) FROM lookup_jsonb WHERE (doc->'age')::numeric > 5 "
                  "AND doc->'address'->>'city' = 'city7'")[0]
    check("peer", n)


CASES = [
    ("insert_many 1000/batch vs COPY into jsonb", insert_many, copy_jsonb, "s"),
    ("find by _id round trip vs jsonb pk lookup", find_by_id, pk_jsonb, "s/call"),
    ("count filter via run_command vs jsonb expression", filter_count, filter_jsonb, "s"),
]
