#!/usr/bin/python3
"""Mutation fuzzing of nosql.kv_txn, the key-value store's etcd Txn parser.

    fuzz_kv_txn.py --dsn CONNINFO [--seconds N] [--seed S]

Starts from valid TxnRequests (compares on every target and result, every
request op, nested txns), mutates them (a value anywhere replaced by a random
BSON value of any type, fields dropped or added, lists made long, nesting
made deep) and runs each through nosql.kv_txn.  A request may fail, but only
with an ordinary error: never a crash (the connection lost), never an
internal error (XX000), and a failed request must leave the store's revision
where it was (no partial write).  Prints "fuzz_kv_txn: N requests, N
succeeded" and exits 1 on the first failure, printing the request.
"""
import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare as C  # noqa: E402
from fuzz_commands import random_value  # noqa: E402

try:
    import psycopg2
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    import psycopg2

REVISION = "SELECT nosql.kv_current_revision()"

KEYS = ["a", "b", "fz/1", "fz/2", "fz/", "\u00e9", "z" * 300]
TARGETS = {"VERSION": "version", "CREATE": "create_revision", "MOD": "mod_revision",
           "VALUE": "value", "LEASE": "lease"}
RESULTS = ["EQUAL", "NOT_EQUAL", "GREATER", "LESS"]


def seed_compare(rnd):
    target = rnd.choice(list(TARGETS))
    c = {"key": rnd.choice(KEYS), "target": target, "result": rnd.choice(RESULTS)}
    if rnd.random() < 0.3:
        c["range_end"] = rnd.choice(["fz0", "\u0000", "zz"])
    c[TARGETS[target]] = "v" if target == "VALUE" else C.Int64(rnd.randrange(0, 20))
    return c


def seed_op(rnd, depth):
    kind = rnd.randrange(5 if depth < 3 else 4)
    if kind == 0:
        return {"request_put": {"key": rnd.choice(KEYS), "value": rnd.choice(["v", "", "x" * 100]),
                                "prev_kv": rnd.choice([True, False])}}
    if kind == 1:
        r = {"key": rnd.choice(KEYS), "limit": C.Int64(rnd.randrange(0, 3)),
             "sort_order": rnd.choice(["NONE", "ASCEND", "DESCEND"]),
             "sort_target": rnd.choice(["KEY", "VERSION", "CREATE", "MOD", "VALUE"]),
             "keys_only": rnd.choice([True, False]), "count_only": rnd.choice([True, False])}
        if rnd.random() < 0.5:
            r["range_end"] = rnd.choice(["fz0", "\u0000", "zz"])
        return {"request_range": r}
    if kind == 2:
        d = {"key": rnd.choice(KEYS), "prev_kv": rnd.choice([True, False])}
        if rnd.random() < 0.5:
            d["range_end"] = rnd.choice(["fz0", "\u0000"])
        return {"request_delete_range": d}
    if kind == 3:
        return {"request_range": {"key": rnd.choice(KEYS)}}
    return {"request_txn": seed_txn(rnd, depth + 1)}


def seed_txn(rnd, depth=0):
    return {"compare": [seed_compare(rnd) for _ in range(rnd.randrange(3))],
            "success": [seed_op(rnd, depth) for _ in range(rnd.randrange(4))],
            "failure": [seed_op(rnd, depth) for _ in range(rnd.randrange(3))]}


def mutate(rnd, value, depth=0):
    """A copy of value with a few random changes somewhere inside."""
    if isinstance(value, dict):
        value = dict(value)
        op = rnd.randrange(6)
        keys = list(value)
        if op == 0 and keys:
            value[rnd.choice(keys)] = random_value(rnd)
        elif op == 1 and keys:
            value.pop(rnd.choice(keys))
        elif op == 2:
            value[rnd.choice(["key", "range_end", "value", "target", "result", "lease",
                              "limit", "revision", "compare", "success", "failure",
                              "request_put", "request_txn", "ignore_value", "ignore_lease",
                              "min_mod_revision", "bogus"])] = random_value(rnd)
        elif keys:
            k = rnd.choice(keys)
            value[k] = mutate(rnd, value[k], depth + 1)
        return value
    if isinstance(value, list):
        value = list(value)
        op = rnd.randrange(4)
        if op == 0 and value:
            value[rnd.randrange(len(value))] = random_value(rnd)
        elif op == 1:
            value = value * rnd.choice([2, 40, 70])
        elif value:
            i = rnd.randrange(len(value))
            value[i] = mutate(rnd, value[i], depth + 1)
        return value
    return random_value(rnd)


def nest(rnd, txn):
    for _ in range(rnd.randrange(10, 25)):
        txn = {"success": [{"request_txn": txn}]}
    return txn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", default="")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rnd = random.Random(seed)
    conn = psycopg2.connect(args.dsn, application_name="nosql-fuzz-kv-txn")
    conn.autocommit = True
    deadline = time.time() + args.seconds
    n = succeeded = 0
    while time.time() < deadline:
        txn = seed_txn(rnd)
        for _ in range(rnd.randrange(0, 4)):
            txn = mutate(rnd, txn)
        if rnd.random() < 0.05:
            txn = nest(rnd, txn)
        try:
            payload = C.encode(txn)
        except (C.BSONError, UnicodeEncodeError, ValueError, OverflowError, TypeError):
            continue
        # a list repeated inside a repeated list grows without bound (one
        # seed made a 641 MB request, more than the backend's memory here):
        # past BSON's 16 MiB document limit, which no client can send, the
        # size checks are not what is being fuzzed
        if len(payload) > 16 * 1024 * 1024:
            continue
        n += 1
        try:
            with conn.cursor() as cur:
                cur.execute(REVISION)
                before = cur.fetchone()[0]
                cur.execute("SELECT nosql.bytea(nosql.kv_txn(%s::bytea::nosql.bson))", (payload,))
                reply = C.decode(bytes(cur.fetchone()[0]))
        except psycopg2.Error as e:
            if conn.closed or (e.pgcode or "").startswith("XX") or e.pgcode is None:
                print("fuzz_kv_txn: FAILED (seed %d): %s\nrequest: %s" % (
                    seed, str(e).strip(), C.fmt(txn, 2000)))
                return 1
            with conn.cursor() as cur:
                cur.execute(REVISION)
                after = cur.fetchone()[0]
            if after != before:
                print("fuzz_kv_txn: FAILED (seed %d): a failed request moved the revision from %d to %d\nrequest: %s" % (
                    seed, before, after, C.fmt(txn, 2000)))
                return 1
            continue
        if "header" not in reply or "succeeded" not in reply or "responses" not in reply:
            print("fuzz_kv_txn: FAILED (seed %d): not a TxnResponse: %s\nrequest: %s" % (
                seed, C.fmt(reply, 2000), C.fmt(txn, 2000)))
            return 1
        succeeded += 1
    print("fuzz_kv_txn: %d requests, %d succeeded (seed %d)" % (n, succeeded, seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
