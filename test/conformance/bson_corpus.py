#!/usr/bin/env python3
"""Check the bson type against MongoDB's BSON corpus (bson-corpus/tests/*.json
of the specifications repository).

The corpus is not shipped here (its licence does not allow copying it), so
this is a manual check, not part of scripts/test:

    python3 test/conformance/bson_corpus.py CORPUS_DIR "CONNINFO" [-v]

CONNINFO is a libpq connection string to a database with the extension.
It follows the corpus README: valid cases round-trip bytes and canonical
Extended JSON, lossy cases are skipped for JSON to bytes, degenerate forms
read to the canonical bytes, decodeErrors and parseErrors are rejected.
"""
import glob
import json
import sys

import psycopg2

corpus_dir, conninfo = sys.argv[1], sys.argv[2]
conn = psycopg2.connect(conninfo)
conn.autocommit = True
cur = conn.cursor()
cur.execute("SET search_path = public, nosql")
stats = {}
fails = []
def q(sql, args):
    try:
        cur.execute(sql, args); return cur.fetchone()[0], None
    except Exception as e:
        return None, str(e).splitlines()[0] + " | " + (str(e).splitlines()[1] if len(str(e).splitlines())>1 else "")
def norm(js):
    return json.loads(js, object_pairs_hook=lambda p: p)
def count(k, ok, info):
    s = stats.setdefault(k, [0, 0]); s[0 if ok else 1] += 1
    if not ok: fails.append((k, info))
for path in sorted(glob.glob(corpus_dir + "/*.json")):
    t = json.load(open(path)); name = path.split("/")[-1]
    for v in t.get("valid", []):
        cb = v["canonical_bson"].lower()
        # decode bytes
        out, err = q("SELECT encode(nosql.bson(decode(%s,'hex'))::bytea,'hex')", (cb,))
        count("valid: bytes accepted, same bytes back", out == cb, (name, v["description"], err or out))
        # canonical extjson in -> canonical bytes
        lossy = v.get("lossy", False)
        out, err = q("SELECT encode(%s::nosql.bson::bytea,'hex')", (v["canonical_extjson"],))
        if not lossy: count("valid: canonical Extended JSON -> canonical bytes", out == cb, (name, v["description"], err or out))
        if "relaxed_extjson" in v:
            out, err = q("SELECT %s::nosql.bson::text", (v["relaxed_extjson"],))
            same = out is not None and norm(out) == norm(v["relaxed_extjson"])
            count("valid: relaxed Extended JSON -> bson -> relaxed Extended JSON", same, (name, v["description"], err or out, v["relaxed_extjson"]))
        # our canonical output parses back to the same bytes and equals cE semantically
        cur.execute("SET nosql.bson_output = canonical")
        out, err = q("SELECT nosql.bson(decode(%s,'hex'))::text", (cb,))
        cur.execute("RESET nosql.bson_output")
        if out is not None:
            try:
                same = norm(out) == norm(v["canonical_extjson"])
            except Exception as e:
                same = False
            count("valid: canonical output equals canonical_extjson (as JSON values)", same, (name, v["description"], out, v["canonical_extjson"]))
        if "degenerate_bson" in v:
            out, err = q("SELECT encode(nosql.bson(decode(%s,'hex'))::bytea,'hex')", (v["degenerate_bson"].lower(),))
            count("valid: degenerate bytes -> canonical bytes", out == cb, (name, v["description"], err or out))
        if "degenerate_extjson" in v:
            out, err = q("SELECT encode(%s::nosql.bson::bytea,'hex')", (v["degenerate_extjson"],))
            if not lossy: count("valid: degenerate Extended JSON -> canonical bytes", out == cb, (name, v["description"], err or out))
    for d in t.get("decodeErrors", []):
        out, err = q("SELECT nosql.bson(decode(%s,'hex'))::text", (d["bson"].lower(),))
        count("decodeErrors rejected", err is not None, (name, d["description"], out))
    for p in t.get("parseErrors", []):
        s = p["string"]
        tk = t.get("bson_type", "")
        if tk == "0x13":
            s = '{"d": {"$numberDecimal": %s}}' % json.dumps(s)
        out, err = q("SELECT %s::nosql.bson::text", (s,))
        count("parseErrors rejected", err is not None, (name, p["description"], out))
for k, (ok, bad) in stats.items():
    print("%-70s %5d ok %4d fail" % (k, ok, bad))
if "-v" in sys.argv:
    for f in fails:
        print(f)
total_ok = sum(v[0] for v in stats.values())
total_bad = sum(v[1] for v in stats.values())
print("bson corpus: %d passed, %d failed" % (total_ok, total_bad))
sys.exit(1 if total_bad else 0)
