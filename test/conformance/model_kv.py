#!/usr/bin/python3
"""Randomized model check of the key-value store.

    model_kv.py --dsn CONNINFO [--steps N] [--seed S]

Runs random puts, range deletes, txns, ranges (current and historical, with
limits), counts and compactions against nosql.kv_* on keys chosen to be hard
(keys longer than the 1 kB head the index keeps, several sharing one head,
multibyte keys) and checks every answer against a model of etcd's rules kept
here: revisions, versions, create revisions, range order in bytes, a delete
of nothing creating no revision, the history gap-free, reads below the last
compaction refused.  Prints "model_kv: N steps ok" or the first difference,
and exits 1 then.  It truncates the store first: run it on a test server.
"""
import argparse
import json
import random
import sys

try:
    import psycopg2
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    import psycopg2

HEAD = "h" * 1030
KEYS = [HEAD + "a", HEAD + "b", HEAD + "ab", HEAD, "k1", "k2", "k10", "\u00e9x", "\u00e9",
        "z" * 2000 + "1", "z" * 2000 + "2", "a/", "a/b"]


def in_range(key, lo, hi):
    return lo.encode() <= key.encode() < hi.encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", default="")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rnd = random.Random(seed)
    conn = psycopg2.connect(args.dsn, application_name="nosql-model-kv")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("TRUNCATE nosql.kv_history, nosql.kv_compaction")

    def fail(what):
        print("model_kv: FAILED (seed %d): %s" % (seed, what))
        sys.exit(1)

    model = {}          # key -> (value, version, create_revision, mod_revision)
    snapshots = {1: {}}  # revision -> model as of it
    rev = 1
    compacted = 0

    def read(sql, params):
        cur.execute(sql, params)
        return cur.fetchall()

    def expect_range(state, lo, hi, limit):
        keys = sorted((k for k in state if in_range(k, lo, hi)), key=lambda s: s.encode())
        if limit > 0:
            keys = keys[:limit]
        return [(k,) + state[k] for k in keys]

    for step in range(args.steps):
        op = rnd.random()
        k = rnd.choice(KEYS)
        if op < 0.45:
            v = "v%d" % step
            r = read("SELECT nosql.kv_put(%s, %s)", (k, v))[0][0]
            rev += 1
            if r != rev:
                fail("put %r: revision %d, expected %d" % (k[-8:], r, rev))
            old = model.get(k)
            model[k] = (v, old[1] + 1, old[2], r) if old else (v, 1, r, r)
            snapshots[rev] = dict(model)
        elif op < 0.60:
            lo, hi = sorted([rnd.choice(KEYS), rnd.choice(KEYS)])
            n = read("SELECT nosql.kv_delete(%s, %s)", (lo, hi))[0][0]
            gone = [x for x in model if in_range(x, lo, hi)]
            if n != len(gone):
                fail("delete [%r, %r): %d deleted, expected %d" % (lo[-8:], hi[-8:], n, len(gone)))
            if gone:
                rev += 1
                for x in gone:
                    del model[x]
                snapshots[rev] = dict(model)
        elif op < 0.70:
            # a txn: a version compare decides between two puts of other keys
            a, b = rnd.sample(KEYS, 2)
            ver = model[a][1] if a in model and rnd.random() < 0.5 else rnd.randrange(0, 3)
            txn = {"compare": [{"key": a, "target": "VERSION", "result": "EQUAL", "version": ver}],
                   "success": [{"request_put": {"key": b, "value": "s%d" % step}},
                               {"request_delete_range": {"key": a}}],
                   "failure": [{"request_range": {"key": a}}]}
            reply = read("SELECT nosql.kv_txn(%s::nosql.bson)::text", (json.dumps(txn),))[0][0]
            cur_ver = model[a][1] if a in model else 0
            succeeded = cur_ver == ver
            if ('"succeeded": true' in reply) != succeeded:
                fail("txn on %r version %d (have %d): %s" % (a[-8:], ver, cur_ver, reply[:300]))
            if succeeded:
                rev += 1
                old = model.get(b)
                model[b] = ("s%d" % step, old[1] + 1, old[2], rev) if old else ("s%d" % step, 1, rev, rev)
                model.pop(a, None)
                snapshots[rev] = dict(model)
        elif op < 0.90:
            lo, hi = sorted([rnd.choice(KEYS), rnd.choice(KEYS)])
            limit = rnd.choice([0, 1, 2, 5])
            at = rnd.choice([0, 0, rnd.randrange(1, rev + 1)])
            q = ("SELECT key, convert_from(value, 'UTF8'), version, create_revision, mod_revision "
                 "FROM nosql.kv_range(%s, %s, %s, %s)")
            if at and at < compacted:
                try:
                    read(q, (lo, hi, limit, at))
                except psycopg2.Error as e:
                    if e.pgcode != "55000":
                        fail("read below compaction: %s" % e)
                    continue
                fail("read at %d below the compaction at %d did not fail" % (at, compacted))
            got = read(q, (lo, hi, limit, at))
            state = model if not at else snapshots[max(r for r in snapshots if r <= at)]
            exp = expect_range(state, lo, hi, limit)
            if got != exp:
                fail("range [%r, %r) limit %d at %d: %r, expected %r" % (
                    lo[-8:], hi[-8:], limit, at, [g[0][-8:] for g in got], [e[0][-8:] for e in exp]))
            n = read("SELECT nosql.kv_count(%s, %s)", (lo, hi))[0][0]
            if n != len(expect_range(model, lo, hi, 0)):
                fail("count [%r, %r): %d" % (lo[-8:], hi[-8:], n))
        else:
            c = read("SELECT nosql.kv_current_revision()", ())[0][0]
            if c != rev:
                fail("current revision %d, expected %d" % (c, rev))
            if rnd.random() < 0.3:
                target = max(compacted + 1, rev - rnd.randrange(0, 20))
                if target <= rev:
                    read("SELECT nosql.kv_compact(%s)", (target,))
                    compacted = target
    rows = read("SELECT count(*), count(DISTINCT mod_revision), max(mod_revision) FROM nosql.kv_history "
                "WHERE mod_revision > %s", (compacted,))[0]
    if rows[2] is not None and (rows[2] != rev or rows[1] != rev - compacted):
        fail("history after compaction %d: %r, expected revisions %d..%d each" % (compacted, rows, compacted + 1, rev))
    print("model_kv: %d steps ok, revision %d (seed %d)" % (args.steps, rev, seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
