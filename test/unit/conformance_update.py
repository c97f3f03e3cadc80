#!/usr/bin/env python3
"""Replay the recorded MongoDB update cases on the update engine alone.

    conformance_update.py [-v] [-a AREA_PREFIX]... DRIVER CASES_FILE

A case is runnable here when its events are inserts into one collection
(create_collection without options allowed), one "update" command, at most
one "find" with only a filter, and expectations on those: an error code of
the update, n/nModified of the update (success_partial), or the find's first
batch.  Each runnable case is sent to DRIVER (build/conformance_update, see
conformance_update.c) as one JSON line; the reply is compared by the
README's rules: documents as key sets, numbers type-strict, -0.0 distinct
from 0.0.  Prints a line per area, the skip reasons, and
"conformance-update: N passed, N failed (N skipped)".
"""
import collections
import json
import math
import subprocess
import sys

DEFAULT_AREAS = ["core/operator/update/", "core/query_and_write/commands/update/"]


def escape_keys(v):
    """Rename "$regex"/"$options" keys so the C side reads them as keys."""
    if isinstance(v, dict):
        return {("\u0001" + k[1:] if k in ("$regex", "$options") else k): escape_keys(x)
                for k, x in v.items()}
    if isinstance(v, list):
        return [escape_keys(x) for x in v]
    return v


def norm(v):
    """A comparable form of canonical Extended JSON (doubles by value)."""
    if isinstance(v, dict):
        if set(v) == {"$numberDouble"}:
            f = float(v["$numberDouble"])
            if math.isnan(f):
                return ("double", "nan")
            return ("double", f, math.copysign(1, f))
        if set(v) in ({"$minKey"}, {"$maxKey"}):
            return list(v)[0]
        if set(v) == {"$timestamp"}:
            return ("timestamp", norm(v["$timestamp"]["t"]), norm(v["$timestamp"]["i"]))
        if set(v) == {"$numberInt"}:
            return ("int", int(v["$numberInt"]))
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, int) and not isinstance(v, bool):
        return ("int", v)
    return v


def classify(case):
    ev = case["events"]
    docs = []
    commands = []
    expects = []
    for e in ev:
        op = e["op"]
        if op == "insert":
            if e.get("collection") != "$coll":
                return None, "insert into another collection"
            docs.extend(e["documents"])
        elif op == "create_collection":
            if e.get("options"):
                return None, "create_collection with options"
        elif op == "command":
            commands.append(e["command"])
        elif op == "expect":
            expects.append(e)
        else:
            return None, "event " + op
    updates = [c for c in commands if "update" in c]
    finds = [c for c in commands if "find" in c]
    if len(updates) != 1 or len(finds) > 1 or len(updates) + len(finds) != len(commands):
        return None, "commands other than one update and a find"
    u = updates[0]
    if set(u) - {"update", "updates", "ordered"}:
        return None, "update command options " + ",".join(sorted(set(u) - {"update", "updates", "ordered"}))
    if "updates" not in u or not isinstance(u["updates"], list):
        return None, "malformed update command"
    for s in u["updates"]:
        if set(s) - {"q", "u", "upsert", "multi", "arrayFilters"}:
            return None, "statement fields " + ",".join(sorted(set(s) - {"q", "u", "upsert", "multi", "arrayFilters"}))
    if any("_id" not in d for d in docs):
        return None, "insert without _id"
    find = None
    if finds:
        f = finds[0]
        if set(f) - {"find", "filter"}:
            return None, "find options"
        find = f.get("filter", {})
    for s in u["updates"]:
        if s.get("upsert") and not isinstance(s.get("q"), dict):
            return None, "bad upsert"
    return {"docs": docs, "updates": u["updates"], "find": find if find is not None else {},
            "commands": commands, "expects": expects}, None


def check(req, reply, verbose, cid):
    ok = True
    why = []
    for e in req["expects"]:
        cmd = req["commands"][e["command_index"]]
        kind = e["kind"]
        if "update" in cmd:
            if kind == "error":
                if reply.get("ok") != 1 and reply.get("code") == e["error_code"]:
                    continue
                # ordered updates report write errors, the command succeeds
                ok = False
                why.append("expected error %s, got %s" % (e["error_code"], reply.get("code", "success")))
            elif kind in ("success", "success_partial", "no_error"):
                if reply.get("ok") != 1:
                    ok = False
                    why.append("expected success, got error %s %s" % (reply.get("code"), reply.get("errmsg")))
                    continue
                exp = e.get("expected") or {}
                for k in ("n", "nModified"):
                    if k in exp:
                        want = exp[k]
                        want = int(want["$numberInt"]) if isinstance(want, dict) else want
                        got = reply[k]["$numberInt"] if isinstance(reply[k], dict) else reply[k]
                        if int(got) != int(want):
                            ok = False
                            why.append("%s %s, expected %s" % (k, got, want))
            else:
                ok = False
                why.append("kind " + kind)
        else:
            if reply.get("ok") != 1:
                ok = False
                why.append("update failed: %s %s" % (reply.get("code"), reply.get("errmsg")))
                continue
            if kind != "success":
                continue
            got = [norm(d) for d in reply["find"]]
            want = [norm(d) for d in e["expected"]]
            if e.get("ignore_doc_order"):
                same = len(got) == len(want) and all(w in got for w in want)
            else:
                same = got == want
            if not same:
                ok = False
                why.append("find: expected %s\n      got      %s" % (json.dumps(e["expected"]), json.dumps(reply["find"])))
    if not ok and verbose:
        print("FAIL", cid)
        print("    updates:", json.dumps(req["updates"])[:400])
        print("    docs:", json.dumps(req["docs"])[:300])
        for w in why:
            print("    " + w)
    return ok


def main():
    args = sys.argv[1:]
    verbose = False
    areas = []
    while args and args[0].startswith("-"):
        if args[0] == "-v":
            verbose = True
            args = args[1:]
        elif args[0] == "-a":
            areas.append(args[1])
            args = args[2:]
        else:
            break
    driver, cases_file = args
    areas = areas or DEFAULT_AREAS

    runnable = []
    skipped = collections.Counter()
    counts = collections.defaultdict(lambda: [0, 0, 0])
    with open(cases_file) as f:
        for line in f:
            case = json.loads(line)
            cid = case["id"]
            if not any(cid.startswith(a) for a in areas):
                continue
            area = "/".join(cid.split("::")[0].split("/")[:4])
            req, reason = classify(case)
            if req is None:
                skipped[reason] += 1
                counts[area][2] += 1
                continue
            runnable.append((cid, area, req))

    proc = subprocess.Popen([driver], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    passed = failed = 0
    for cid, area, req in runnable:
        line = json.dumps(escape_keys({"docs": req["docs"], "updates": req["updates"], "find": req["find"]}))
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        out = proc.stdout.readline()
        if not out:
            print("driver died at", cid)
            sys.exit(1)
        reply = json.loads(out)
        if isinstance(reply.get("ok"), dict):
            reply["ok"] = int(reply["ok"]["$numberInt"])
        if isinstance(reply.get("code"), dict):
            reply["code"] = int(reply["code"]["$numberInt"])
        if check(req, reply, verbose, cid):
            passed += 1
            counts[area][0] += 1
        else:
            failed += 1
            counts[area][1] += 1
    proc.stdin.close()
    proc.wait()

    for area in sorted(counts):
        p, fl, s = counts[area]
        print("%-60s %4d passed %4d failed %4d skipped" % (area, p, fl, s))
    for reason, n in skipped.most_common():
        print("  skipped %4d: %s" % (n, reason))
    print("conformance-update: %d passed, %d failed (%d skipped)" % (passed, failed, sum(skipped.values())))


if __name__ == "__main__":
    main()
