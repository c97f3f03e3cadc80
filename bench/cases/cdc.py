"""cdc: decoding one WAL with the nosql output plugin vs wal2json and pgoutput.

Issue 8's "Speed": 200k inserts and 200k updates of ~250-byte documents in
~400 transactions, decoded by the plugin while emitting full MongoDB-shaped
events, side by side with wal2json (format 2) and pgoutput on the same WAL.

Set-up (untimed): a publication for pgoutput and one logical slot per
plugin, all created before any change so that every slot sees the same
WAL; then, through the document API, 200 `insert_many` calls of 1,000
documents (one transaction each) and 200 `update` commands that change
1,000 documents each with `$inc` and `$set` (one transaction each).

Each timed call peeks every change of its slot
(`pg_logical_slot_peek_changes`, which leaves the slot where it is, so
every run decodes the same WAL from the start) and counts the messages on
the server: the figure is the decoding, not the transfer to a client.  The
counts are checked: the plugin emits one event per document change (400k);
wal2json adds its begin and commit messages.
"""

DESCRIPTION = ("change streams: decode 200k inserts + 200k updates of ~250-byte "
               "documents in ~400 transactions with the nosql plugin, vs "
               "wal2json (format 2) and pgoutput on the same WAL")

DOCS = 200_000
BATCH = 1000

# ~250 bytes of BSON per document
DOC_SQL = ("format('{\"_id\": %s, \"name\": \"user %s\", \"email\": \"user%s@example.com\", "
           "\"city\": \"%s\", \"score\": %s, \"active\": %s, \"tags\": [\"a%s\", \"b%s\", \"c\"], "
           "\"address\": {\"street\": \"%s Main Street\", \"zip\": \"%s\"}, "
           "\"note\": \"%s\"}', g, g, g, 'city' || (g % 100), g % 1000, "
           "CASE WHEN g % 2 = 0 THEN 'true' ELSE 'false' END, g % 7, g % 11, g, "
           "lpad((g % 100000)::text, 5, '0'), repeat('x', 60))")

SLOTS = {
    "nosql": "bench_cdc_nosql",
    "wal2json": "bench_cdc_wal2json",
    "pgoutput": "bench_cdc_pgoutput",
}


def run(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone() if cur.description else None


def setup(conn, scale):
    docs = DOCS * scale
    run(conn, "CREATE PUBLICATION bench_cdc_pub FOR ALL TABLES")
    run(conn, "SELECT nosql.create_collection('bench.events')")
    for plugin, slot in SLOTS.items():
        run(conn, "SELECT pg_create_logical_replication_slot(%s, %s)", (slot, plugin))
    for lo in range(1, docs + 1, BATCH):
        # no parameters: DOC_SQL's format() holds % signs
        n = run(conn, "SELECT nosql.insert_many('bench.events', ("
                "SELECT ('[' || string_agg(" + DOC_SQL + ", ',' ORDER BY g) || ']')::nosql.bson "
                "FROM generate_series(%d, %d) g))" % (lo, lo + BATCH - 1))[0]
        if n != BATCH:
            raise RuntimeError("insert_many inserted %s of %d" % (n, BATCH))
    for lo in range(1, docs + 1, BATCH):
        reply = run(conn, "SELECT nosql.run_command('bench', ('{\"update\": \"events\", "
                    "\"updates\": [{\"q\": {\"_id\": {\"$gte\": ' || %s || ', \"$lt\": ' || %s || '}}, "
                    "\"u\": {\"$inc\": {\"score\": 1}, \"$set\": {\"city\": \"moved\"}}, "
                    "\"multi\": true}]}')::nosql.bson)::jsonb->>'nModified'",
                    (lo, lo + BATCH))[0]
        if int(reply) != BATCH:
            raise RuntimeError("update modified %s of %d" % (reply, BATCH))


def teardown(conn, scale):
    for slot in SLOTS.values():
        run(conn, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                  "WHERE slot_name = %s", (slot,))


def count(conn, sql, at_least, exactly=None):
    n = run(conn, sql)[0]
    if (exactly is not None and n != exactly) or n < at_least:
        raise RuntimeError("%s: %d messages, expected %s" % (
            sql, n, exactly if exactly is not None else "at least %d" % at_least))


def nosql_json(conn, scale):
    count(conn, "SELECT count(*) FROM pg_logical_slot_peek_changes('%s', NULL, NULL)"
          % SLOTS["nosql"], 2 * DOCS * scale, 2 * DOCS * scale)


def nosql_bson(conn, scale):
    count(conn, "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('%s', NULL, NULL, "
          "'format', 'bson')" % SLOTS["nosql"], 2 * DOCS * scale, 2 * DOCS * scale)


def wal2json(conn, scale):
    count(conn, "SELECT count(*) FROM pg_logical_slot_peek_changes('%s', NULL, NULL, "
          "'format-version', '2')" % SLOTS["wal2json"], 2 * DOCS * scale)


def pgoutput(conn, scale):
    count(conn, "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('%s', NULL, NULL, "
          "'proto_version', '1', 'publication_names', 'bench_cdc_pub')" % SLOTS["pgoutput"],
          2 * DOCS * scale)


CASES = [
    ("decode 200k inserts + 200k updates, JSON: nosql events vs wal2json format 2",
     nosql_json, wal2json, "s"),
    ("decode 200k inserts + 200k updates, binary: nosql BSON events vs pgoutput",
     nosql_bson, pgoutput, "s"),
]
