#!/usr/bin/python3
"""Mutation fuzzing of nosql.run_command over the recorded commands.

    fuzz_commands.py --cases FILE --dsn CONNINFO [--seconds N] [--seed S]

Takes the command documents of the recorded MongoDB cases, mutates them
(a field's value replaced by a random BSON value of any type, a field
dropped or added, values nested deeply, strings made huge or odd), and sends
each through nosql.run_command_bytes.  Every reply must be a valid BSON
document with an "ok" field; the server must never close the connection
(a crash) and no statement may fail with an internal error (XX000).
Prints "fuzz_commands: N commands, N replies ok" and exits 1 on the first
failure, printing the command that caused it.
"""
import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare as C  # noqa: E402

try:
    import psycopg2
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    import psycopg2

SQL = "SELECT nosql.run_command_bytes(%s::text, %s::bytea)"


def random_value(rnd, depth=0):
    kind = rnd.randrange(22)
    if kind == 0:
        return C.Int32(rnd.choice([0, 1, -1, 2**31 - 1, -2**31, rnd.randrange(-1000, 1000)]))
    if kind == 1:
        return C.Int64(rnd.choice([0, -1, 2**63 - 1, -2**63, rnd.randrange(-10**12, 10**12)]))
    if kind == 2:
        return rnd.choice([0.0, -0.0, 1.5, -2.5, float("inf"), float("-inf"), float("nan"), 1e300])
    if kind == 3:
        return rnd.choice(["", "a", "$x", "a.b", "$", "x" * 5000, "\u00e9\u6d4b", "function(){}"])
    if kind == 4:
        return rnd.choice([True, False])
    if kind == 5:
        return None
    if kind == 6 and depth < 4:
        return {rnd.choice(["a", "$gt", "$in", "_id", "$set", "", "b.c", "$each"]):
                random_value(rnd, depth + 1) for _ in range(rnd.randrange(3))}
    if kind == 7 and depth < 4:
        return [random_value(rnd, depth + 1) for _ in range(rnd.randrange(4))]
    if kind == 8:
        return C.ObjectId.generate()
    if kind == 9:
        return C.Decimal128.from_string(rnd.choice(["1", "-0", "NaN", "Infinity", "1E+6144", "0.1"]))
    if kind == 10:
        return C.MinKey()
    if kind == 11:
        return C.MaxKey()
    if kind == 12:
        return C.Regex(rnd.choice(["^a", "(", "a{1000000}", ""]), rnd.choice(["", "i", "imsx"]))
    if kind == 13:
        return C.DateTime(rnd.choice([0, -1, 2**62, -2**62]))
    if kind == 14:
        return C.Timestamp(rnd.randrange(2**32), rnd.randrange(2**32))
    if kind == 15:
        return C.Binary(rnd.choice([0, 5, 128]),
                        bytes(rnd.randrange(256) for _ in range(rnd.randrange(20))))
    if kind == 16:
        return C.Undefined()
    if kind == 17:
        v = 1
        for _ in range(rnd.randrange(1, 150)):
            v = {"a": v} if rnd.random() < 0.5 else [v]
        return v
    return C.Int32(rnd.randrange(-5, 5))


def mutate(rnd, cmd):
    cmd = dict(cmd)
    keys = list(cmd.keys())
    for _ in range(rnd.randrange(1, 4)):
        op = rnd.randrange(5)
        if op == 0 and len(keys) > 1:
            k = rnd.choice(keys[1:])
            cmd[k] = random_value(rnd)
        elif op == 1 and len(keys) > 1:
            k = rnd.choice(keys[1:])
            cmd.pop(k, None)
        elif op == 2:
            cmd[rnd.choice(["filter", "sort", "projection", "update", "u", "q",
                            "documents", "updates", "deletes", "limit", "skip",
                            "batchSize", "collation", "hint", "let", "bogus"])] = random_value(rnd)
        elif op == 3:
            # mutate inside a nested document or array value
            k = rnd.choice(keys)
            v = cmd.get(k)
            if isinstance(v, dict) and v:
                v = dict(v)
                v[rnd.choice(list(v.keys()))] = random_value(rnd)
                cmd[k] = v
            elif isinstance(v, list) and v:
                v = list(v)
                v[rnd.randrange(len(v))] = random_value(rnd)
                cmd[k] = v
        else:
            cmd[keys[0]] = rnd.choice([cmd[keys[0]], "c", "", "a.b", random_value(rnd)])
    return cmd


def load_commands(path, limit):
    cmds = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                case = C.parse_case(line)
            except C.CaseError:
                continue
            for ev in case["events"]:
                if ev["op"] == "command" and isinstance(ev["command"], dict) and ev["command"]:
                    cmds.append(ev["command"])
            if len(cmds) >= limit:
                break
    return cmds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", required=True)
    ap.add_argument("--dsn", default="")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rnd = random.Random(seed)
    cmds = load_commands(args.cases, 40000)
    conn = psycopg2.connect(args.dsn, application_name="nosql-fuzz-commands")
    conn.autocommit = True
    deadline = time.time() + args.seconds
    n = ok = 0
    db = "fuzz_%d" % (seed % 100000)
    while time.time() < deadline:
        cmd = mutate(rnd, rnd.choice(cmds))
        try:
            payload = C.encode(cmd)
        except (C.BSONError, UnicodeEncodeError, ValueError, OverflowError, TypeError):
            continue
        n += 1
        try:
            with conn.cursor() as cur:
                cur.execute(SQL, (db, payload))
                reply = C.decode(bytes(cur.fetchone()[0]))
        except psycopg2.Error as e:
            if conn.closed or (e.pgcode or "").startswith("XX") or e.pgcode is None:
                print("fuzz_commands: FAILED (seed %d): %s\ncommand: %s" % (
                    seed, str(e).strip(), C.fmt(cmd, 2000)))
                return 1
            continue  # an ordinary PostgreSQL error (e.g. invalid BSON bytes) is fine
        except C.BSONError as e:
            print("fuzz_commands: FAILED (seed %d): invalid reply: %s\ncommand: %s" % (
                seed, e, C.fmt(cmd, 2000)))
            return 1
        if "ok" not in reply:
            print("fuzz_commands: FAILED (seed %d): reply without ok: %s" % (seed, C.fmt(reply)))
            return 1
        ok += 1
        if n % 500 == 0:
            with conn.cursor() as cur:
                cur.execute(SQL, (db, C.encode({"dropDatabase": C.Int32(1)})))
    print("fuzz_commands: %d commands, %d replies ok (seed %d)" % (n, ok, seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
