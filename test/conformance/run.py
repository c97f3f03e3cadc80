#!/usr/bin/python3
"""Run the recorded MongoDB conformance cases through nosql.run_command.

    run.py --cases FILE [--area PREFIX]... [--report FILE]
           [--ratchet FILE [--update-ratchet]] [--dsn CONNINFO] [--jobs N]
           [--timeout SECONDS] [-v]

FILE is ../shared/conformance/functional-tests.jsonl (format and comparison
rules in the README.md beside it).  Each case gets fresh database and
collection names for its placeholders, its events run in order through
SELECT nosql.run_command_bytes(database, <BSON bytes>), each expect is
checked against its command's reply by compare.check_expect, and the case's
database is dropped afterwards.  A Postgres error from run_command fails the
case (with the error as the reason); the next statement runs as usual (the
connection is in autocommit mode, and is re-opened if it was lost).

Output: a line per area, the most common failure reasons, and last
"N passed, N failed".  --report writes one JSON line per case (id, area,
status, cause, reason).  --ratchet FILE (sorted case ids, one a line): exit 1
when a case listed there (and selected by --area) does not pass now;
--update-ratchet rewrites the file with the cases that pass now (ids outside
the selected areas are kept).  Exit 2 when the runner itself cannot go on.
"""
import argparse
import collections
import json
import multiprocessing
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare as C  # noqa: E402

try:
    import psycopg2
except ImportError:  # an interpreter other than Debian's (e.g. pyenv's python3)
    sys.path.append("/usr/lib/python3/dist-packages")
    import psycopg2

SQL = "SELECT nosql.run_command_bytes(%s::text, %s::bytea)"
RECONNECT_SECONDS = 60

EVENT_FIELDS = {
    "create_collection": {"op", "collection", "options"},
    "drop_collection": {"op", "collection"},
    "insert": {"op", "collection", "documents"},
    "create_index": {"op", "collection", "keys", "options"},
    "create_indexes": {"op", "collection", "models"},
    "command": {"op", "database", "command"},
}


class RunnerBroken(Exception):
    """The runner cannot go on (no database connection)."""


class CaseFailure(Exception):
    def __init__(self, cause, reason):
        Exception.__init__(self, reason)
        self.cause = cause
        self.reason = reason


# ---------------------------------------------------------------------------
# The database side
# ---------------------------------------------------------------------------

def pg_error_text(e):
    diag = getattr(e, "diag", None)
    primary = diag.message_primary if diag is not None else None
    text = primary or (str(e).strip().splitlines() or ["(no message)"])[0]
    code = getattr(e, "pgcode", None)
    s = "postgres error %s: %s" % (code, text) if code else "postgres error: %s" % text
    detail = diag.message_detail if diag is not None else None
    if detail:
        s += " (detail: %s)" % detail.splitlines()[0]
    return s


class Session:
    """One connection in autocommit mode, re-opened when it is lost."""

    def __init__(self, dsn, timeout):
        self.dsn = dsn
        self.timeout = timeout
        self.conn = None
        self.connect(first=True)

    def connect(self, first=False):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None
        deadline = time.monotonic() + (0 if first else RECONNECT_SECONDS)
        while True:
            try:
                conn = psycopg2.connect(self.dsn, application_name="nosql-conformance")
                conn.autocommit = True
                with conn.cursor() as cur:
                    if self.timeout:
                        cur.execute("SET statement_timeout = %s", (int(self.timeout * 1000),))
                self.conn = conn
                return
            except psycopg2.Error as e:
                if time.monotonic() >= deadline:
                    raise RunnerBroken("cannot connect to %r: %s" % (
                        self.dsn, str(e).strip().splitlines()[0] if str(e).strip() else e))
                time.sleep(1)

    def run(self, database, doc):
        """An Outcome: the decoded reply, or why there is none."""
        if PROJECT_AS_FIND:
            doc = self.project_as_find(database, doc)
        try:
            payload = C.encode(doc)
        except (C.BSONError, UnicodeEncodeError) as e:
            return C.Outcome(failure="the runner cannot encode the command as BSON: %s" % e)
        try:
            with self.conn.cursor() as cur:
                cur.execute(SQL, (database, payload))
                row = cur.fetchone()
        except psycopg2.Error as e:
            text = pg_error_text(e)
            if self.conn.closed:
                text += " (connection lost; reconnected)"
                self.connect()
            return C.Outcome(failure=text)
        if row is None or row[0] is None:
            return C.Outcome(failure="run_command returned NULL")
        try:
            return C.Outcome(reply=C.decode(bytes(row[0])))
        except C.BSONError as e:
            return C.Outcome(failure="the reply is not valid BSON: %s" % e)


    def project_as_find(self, database, doc):
        """Developer aid (--project-as-find, never for the recorded figures):
        an aggregate whose pipeline is [$project] or [$documents, $project]
        becomes a find with that projection (over a scratch collection
        holding the $documents), so the expression engine can be exercised
        before every part of the aggregate command exists."""
        if not isinstance(doc, dict) or "aggregate" not in doc:
            return doc
        pipeline = doc.get("pipeline")
        if not isinstance(pipeline, list) or not all(isinstance(s, dict) and len(s) == 1
                                                     for s in pipeline):
            return doc
        names = [next(iter(s)) for s in pipeline]
        coll = doc["aggregate"]
        if names == ["$project"] and isinstance(coll, str):
            return {"find": coll, "projection": pipeline[0]["$project"]}
        if names == ["$documents", "$project"] and isinstance(pipeline[0]["$documents"], list):
            scratch = "__project_as_find"
            self.run_raw(database, {"drop": scratch})
            docs = pipeline[0]["$documents"]
            if docs:
                reply = self.run_raw(database, {"insert": scratch, "documents": docs})
                if reply.failure is not None:
                    return doc
            proj = dict(pipeline[1]["$project"]) if isinstance(pipeline[1]["$project"], dict) else None
            if proj is None:
                return doc
            if "_id" not in proj:
                proj = {"_id": C.Int32(0), **proj}
            return {"find": scratch, "projection": proj, "sort": {"_id": C.Int32(1)}}
        return doc

    def run_raw(self, database, doc):
        global PROJECT_AS_FIND
        saved, PROJECT_AS_FIND = PROJECT_AS_FIND, False
        try:
            return self.run(database, doc)
        finally:
            PROJECT_AS_FIND = saved


PROJECT_AS_FIND = False


# ---------------------------------------------------------------------------
# One case
# ---------------------------------------------------------------------------

def validate(case):
    """Refuse, before running anything, what this runner does not implement."""
    ncommands = 0
    nexpects = 0
    for n, ev in enumerate(case["events"]):
        if type(ev) is not dict:
            raise C.Unsupported("event %d is not an object" % n)
        op = ev.get("op")
        if op == "expect":
            nexpects += 1
            kind = ev.get("kind")
            allowed = C.EXPECT_FIELDS.get(kind)
            if allowed is None:
                raise C.Unsupported("expect kind %r" % (kind,))
            extra = sorted(set(ev) - allowed)
            if extra:
                raise C.Unsupported("expect %s with field(s) %s" % (kind, ", ".join(extra)))
            idx = ev.get("command_index")
            if not C._is_int(idx) or not 0 <= idx < sum(
                    1 for e in case["events"] if type(e) is dict and e.get("op") == "command"):
                raise C.Unsupported("expect of command_index %r, which is no command" % (idx,))
            continue
        fields = EVENT_FIELDS.get(op)
        if fields is None:
            raise C.Unsupported("event op %r" % (op,))
        if set(ev) != fields:
            raise C.Unsupported("%s event with fields %s" % (op, ", ".join(sorted(ev))))
        if "collection" in ev and type(ev["collection"]) is not str:
            raise C.Unsupported("%s event with a non-string collection" % op)
        if op == "command":
            ncommands += 1
            if type(ev["database"]) is not str or type(ev["command"]) is not dict:
                raise C.Unsupported("command event with database %r" % (ev["database"],))
        elif op in ("create_collection", "create_index") and type(ev["options"]) is not dict:
            raise C.Unsupported("%s event with non-document options" % op)
        elif op == "insert" and (type(ev["documents"]) is not list or
                                 any(type(d) is not dict for d in ev["documents"])):
            raise C.Unsupported("insert event whose documents are not all documents")
        elif op == "create_index" and index_pairs(ev["keys"]) is None:
            raise C.Unsupported("create_index keys %s" % C.fmt(ev["keys"], 80))
        elif op == "create_indexes" and (type(ev["models"]) is not list or
                                         any(type(m) is not dict for m in ev["models"])):
            raise C.Unsupported("create_indexes models that are not documents")
    if nexpects == 0:
        raise C.Unsupported("a case without an expect event")


def index_pairs(keys):
    """[(field, direction)] of create_index keys, as pymongo's
    helpers._index_list reads them (a name, a mapping, or a list of names
    and [name, direction] pairs); None for anything else."""
    if type(keys) is str:
        return [(keys, 1)]
    if type(keys) is dict:
        return list(keys.items()) or None
    if type(keys) is not list or not keys:
        return None
    pairs = []
    for p in keys:
        if type(p) is str:
            pairs.append((p, 1))
        elif type(p) is list and len(p) == 2 and type(p[0]) is str:
            pairs.append((p[0], p[1]))
        else:
            return None
    return pairs


def index_name(keys):
    """pymongo's helpers._gen_index_name."""
    return "_".join("%s_%s" % (k, v) for k, v in keys)


def setup_command(ev):
    """The command a setup event stands for, as pymongo's helpers send it
    (Database.create_collection, drop_collection, insert_many,
    create_index, create_indexes)."""
    op = ev["op"]
    coll = ev["collection"]
    if op == "create_collection":
        cmd = {"create": coll}
        options = dict(ev["options"])
        if "size" in options and (C._is_int(options["size"]) or
                                  type(options["size"]) is float):
            options["size"] = float(options["size"])  # pymongo sends size as a double
        collation = options.pop("collation", None)
        cmd.update(options)
        if collation is not None:
            cmd["collation"] = collation
        return cmd
    if op == "drop_collection":
        return {"drop": coll}
    if op == "insert":
        docs = []
        for d in ev["documents"]:
            # the driver adds a missing _id and always sends _id first
            oid = d["_id"] if "_id" in d else C.ObjectId.generate()
            doc = {"_id": oid}
            doc.update((k, v) for k, v in d.items() if k != "_id")
            docs.append(doc)
        return {"insert": coll, "ordered": True, "documents": docs}
    if op == "create_index":
        pairs = index_pairs(ev["keys"])
        spec = dict(ev["options"])
        collation = spec.pop("collation", None)
        if spec.get("name") is None:
            spec["name"] = index_name(pairs)
        spec["key"] = dict(pairs)
        if collation is not None:
            spec["collation"] = collation
        return {"createIndexes": coll, "indexes": [spec]}
    if op == "create_indexes":
        return {"createIndexes": coll, "indexes": list(ev["models"])}
    raise C.Unsupported("event op %r" % (op,))


def substitute_event(ev, names):
    return {k: (C.substitute_database(v, names) if k == "database" and type(v) is str
                else C.substitute(v, names))
            for k, v in ev.items()}


def run_events(session, case, names):
    """Raise CaseFailure, or return when every expect held."""
    outcomes = []
    for n, raw in enumerate(case["events"]):
        ev = substitute_event(raw, names)
        op = ev["op"]
        if op == "command":
            outcomes.append(session.run(ev["database"], ev["command"]))
        elif op == "expect":
            idx = ev["command_index"]
            outcome = outcomes[idx] if idx < len(outcomes) else None
            if outcome is None:
                raise C.Unsupported("expect of command %d before it ran" % idx)
            ok, reason = C.check_expect(ev, outcome)
            if not ok:
                cause = "postgres error" if (outcome.failure or "").startswith("postgres") \
                    else "runner" if outcome.failure else "mismatch"
                raise CaseFailure(cause, "command %d: %s" % (idx, reason))
        else:
            cmd = setup_command(ev)
            outcome = session.run(names.db, cmd)
            if outcome.failure is not None:
                cause = "postgres error" if outcome.failure.startswith("postgres") else "runner"
                raise CaseFailure(cause, "setup event %d (%s %s): %s" % (
                    n, op, json.dumps(raw["collection"], ensure_ascii=False), outcome.failure))
            is_error, code, msg = C.classify(outcome.reply)
            if is_error and op == "drop_collection" and type(code) is C.Int32 and code == 26:
                continue  # pymongo's drop_collection allows "ns not found"
            if not is_error and op == "insert" and "writeErrors" in outcome.reply:
                is_error = True
            if is_error:
                raise CaseFailure("setup", "setup event %d (%s %s) failed: %s" % (
                    n, op, json.dumps(raw["collection"], ensure_ascii=False),
                    outcome.describe()))


def run_case(session, line, nonce):
    """(id, status, cause, reason) of one line of the cases file."""
    try:
        case = C.parse_case(line)
    except C.CaseError as e:
        return None, "failed", "load", "failed to load: %s" % e
    cid = case["id"]
    names = C.Names(cid, nonce)
    try:
        validate(case)
        run_events(session, case, names)
        status, cause, reason = "passed", None, ""
    except C.Unsupported as e:
        status, cause, reason = "failed", "unsupported", "unsupported by runner: %s" % e
    except CaseFailure as e:
        status, cause, reason = "failed", e.cause, e.reason
    except RunnerBroken:
        raise
    except Exception as e:  # a bug in the runner must not pass or stop the run
        status, cause, reason = "failed", "runner", "runner error: %s: %s" % (
            type(e).__name__, e)
    # clean up: the case's database (its failure does not matter)
    try:
        session.run(names.db, {"dropDatabase": 1})
    except RunnerBroken:
        raise
    except Exception:
        pass
    return cid, status, cause, reason


# ---------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------

_worker = {}


def _worker_init(dsn, timeout, nonce):
    # an initializer that raises makes the pool start workers forever: keep
    # the error and report it from the first case instead
    _worker["nonce"] = nonce
    try:
        _worker["session"] = Session(dsn, timeout)
    except RunnerBroken as e:
        _worker["broken"] = str(e)


def _worker_run(item):
    index, line = item
    if "broken" in _worker:
        return (index, None, "broken", "runner", _worker["broken"])
    try:
        return (index,) + run_case(_worker["session"], line, _worker["nonce"])
    except RunnerBroken as e:
        return (index, None, "broken", "runner", str(e))


# ---------------------------------------------------------------------------
# Selection, output, ratchet
# ---------------------------------------------------------------------------

_ID_RE = re.compile(r'"id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def read_cases(path, prefixes):
    """[(line number, id, no_parallel, line)] of the selected cases."""
    selected = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            cid, no_parallel = None, False
            try:
                head = json.loads(line)
                if isinstance(head, dict) and isinstance(head.get("id"), str):
                    cid = head["id"]
                    no_parallel = "no_parallel" in (head.get("markers") or [])
            except (ValueError, RecursionError):
                m = _ID_RE.search(line)
                if m:
                    try:
                        cid = json.loads('"%s"' % m.group(1))
                    except ValueError:
                        cid = None
            if prefixes and (cid is None or not any(cid.startswith(p) for p in prefixes)):
                continue
            selected.append((lineno, cid or "<line %d>" % lineno, no_parallel, line))
    return selected


def read_ratchet(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [l.rstrip("\n") for l in f if l.strip()]
    except FileNotFoundError:
        return []


def write_ratchet(path, ids):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for i in sorted(set(ids)):
            f.write(i + "\n")
    os.replace(tmp, path)


def _reason_key(reason):
    """A failure reason with the case-specific parts blurred, to count alike ones."""
    r = re.sub(r"\b(test|coll)_master_[0-9a-f]{8}_[^\s\"'.,)]*", "<name>", reason)
    r = re.sub(r"^(command|setup event) \d+", r"\1 N", r)
    return r[:110]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", required=True, help="the cases file (JSON lines)")
    ap.add_argument("--area", action="append", default=[], metavar="PREFIX",
                    help="run only the cases whose id starts with PREFIX (repeatable)")
    ap.add_argument("--report", metavar="FILE", help="write one JSON line per case here")
    ap.add_argument("--ratchet", metavar="FILE",
                    help="ids that passed before; exit 1 if one of them fails now")
    ap.add_argument("--update-ratchet", action="store_true",
                    help="rewrite the --ratchet file with the ids that pass now")
    ap.add_argument("--dsn", default="", help="libpq connection string (default: PG* "
                    "environment)")
    ap.add_argument("--jobs", type=int, default=1, help="parallel connections (default 1)")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="statement_timeout per command in seconds (0: none; default 60)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every failure")
    ap.add_argument("--project-as-find", action="store_true",
                    help="developer aid: run [$project] and [$documents, $project] pipelines "
                         "as finds (not for recorded figures; refused with --update-ratchet)")
    args = ap.parse_args(argv)
    if args.update_ratchet and not args.ratchet:
        ap.error("--update-ratchet needs --ratchet FILE")
    if args.jobs < 1:
        ap.error("--jobs must be at least 1")
    if args.project_as_find:
        if args.update_ratchet:
            ap.error("--project-as-find is a developer aid: no --update-ratchet with it")
        global PROJECT_AS_FIND
        PROJECT_AS_FIND = True

    started = time.monotonic()
    try:
        cases = read_cases(args.cases, args.area)
    except OSError as e:
        print("run.py: cannot read %s: %s" % (args.cases, e), file=sys.stderr)
        return 2
    nonce = os.urandom(8).hex()
    results = [None] * len(cases)

    def note(i, res):
        results[i] = res
        if args.verbose and res[1] != "passed":
            print("FAIL %s: %s" % (cases[i][1], res[3]), flush=True)

    try:
        if args.jobs == 1:
            session = Session(args.dsn, args.timeout)
            for i, (_, _, _, line) in enumerate(cases):
                cid, status, cause, reason = run_case(session, line, nonce)
                note(i, (cid, status, cause, reason))
        else:
            Session(args.dsn, args.timeout).conn.close()  # fail early without a server
            parallel = [i for i, c in enumerate(cases) if not c[2]]
            serial = [i for i, c in enumerate(cases) if c[2]]
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(args.jobs, _worker_init, (args.dsn, args.timeout, nonce)) as pool:
                for index, cid, status, cause, reason in pool.imap(
                        _worker_run, [(i, cases[i][3]) for i in parallel], chunksize=4):
                    if status == "broken":
                        raise RunnerBroken(reason)
                    note(index, (cid, status, cause, reason))
            # the suite's no_parallel cases, alone
            session = Session(args.dsn, args.timeout)
            for i in serial:
                note(i, run_case(session, cases[i][3], nonce))
    except RunnerBroken as e:
        print("run.py: %s" % e, file=sys.stderr)
        return 2
    elapsed = time.monotonic() - started

    areas = collections.OrderedDict()
    reasons = collections.Counter()
    causes = collections.Counter()
    passed_ids = []
    for (lineno, cid, _, _), (rid, status, cause, reason) in zip(cases, results):
        area = C.area_of(cid)
        a = areas.setdefault(area, [0, 0])
        if status == "passed":
            a[0] += 1
            passed_ids.append(cid)
        else:
            a[1] += 1
            causes[cause] += 1
            reasons[_reason_key(reason)] += 1

    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            for (lineno, cid, _, _), (rid, status, cause, reason) in zip(cases, results):
                f.write(json.dumps({"id": cid, "area": C.area_of(cid), "line": lineno,
                                    "status": status, "cause": cause, "reason": reason},
                                   ensure_ascii=False) + "\n")

    width = max([len(a) for a in areas] + [4])
    print("%-*s %7s %7s %7s" % (width, "area", "passed", "failed", "pass%"))
    for area in sorted(areas):
        p, f = areas[area]
        print("%-*s %7d %7d %6.1f%%" % (width, area, p, f, 100.0 * p / (p + f)))
    total_passed = sum(a[0] for a in areas.values())
    total_failed = sum(a[1] for a in areas.values())
    if total_failed:
        print("failures by cause: " + ", ".join(
            "%d %s" % (n, c) for c, n in sorted(causes.items(), key=lambda x: -x[1])))
        if causes.get("load"):
            print("cases that failed to load: %d" % causes["load"])
        if causes.get("unsupported"):
            print("cases unsupported by the runner: %d" % causes["unsupported"])
        print("most common failure reasons:")
        for r, n in reasons.most_common(10):
            print("  %6d  %s" % (n, r))
    print("ran %d cases in %.1f s with %d job(s)" % (len(cases), elapsed, args.jobs))

    status = 0
    if args.ratchet:
        try:
            ratchet = read_ratchet(args.ratchet)
        except OSError as e:
            print("run.py: cannot read %s: %s" % (args.ratchet, e), file=sys.stderr)
            return 2
        in_scope = [i for i in ratchet if not args.area or any(i.startswith(p) for p in args.area)]
        now = set(passed_ids)
        ran = {c[1] for c in cases}
        regressed = [i for i in in_scope if i in ran and i not in now]
        missing = [i for i in in_scope if i not in ran]
        if args.update_ratchet:
            keep = [i for i in ratchet if i not in set(in_scope)]
            write_ratchet(args.ratchet, keep + passed_ids)
            print("ratchet %s: %d ids (%d new, %d dropped)" % (
                args.ratchet, len(set(keep + passed_ids)),
                len(now - set(in_scope)), len(regressed) + len(missing)))
            for i in regressed + missing:
                print("  dropped: %s" % i)
        else:
            for i in regressed:
                print("REGRESSION (in the ratchet, fails now): %s" % i)
            for i in missing:
                print("REGRESSION (in the ratchet, not in the cases file): %s" % i)
            if regressed or missing:
                print("ratchet %s: %d regression(s)" % (args.ratchet,
                                                        len(regressed) + len(missing)))
                status = 1
            else:
                print("ratchet %s: all %d ids still pass" % (args.ratchet, len(in_scope)))
    print("%d passed, %d failed" % (total_passed, total_failed))
    return status


if __name__ == "__main__":
    sys.exit(main())
