#!/usr/bin/env python3
"""Side-by-side benchmark harness for nosql.

    python3 bench/harness.py NAME [--runs N] [--scale S] [--record] [--keep]
                                  [--async-commit]

Starts a throwaway PostgreSQL cluster on a free 127.0.0.1 port, creates the
database `bench` (with the nosql extension when it is installed), loads the
benchmark bench/cases/NAME.py and runs each of its cases: our implementation
and the peer alternately (ours, peer, ours, peer, ...) N times, in one process,
against one server.  It prints medians, min/max and the ratios, optionally
records them in bench/RESULTS.md, and removes the cluster on the way out,
including after an error or Ctrl-C.  bench/README.md describes the benchmark
module interface.
"""

import argparse
import dataclasses
import datetime
import getpass
import importlib.util
import numbers
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import typing

import psycopg2

# A benchmark is a module loaded from a file; don't leave root-owned
# __pycache__ directories in the checkout.
sys.dont_write_bytecode = True

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(BENCH_DIR, "cases")
RESULTS_FILE = os.path.join(BENCH_DIR, "RESULTS.md")

# Same defaults and environment variables as scripts/common.sh.
PG_CONFIG = os.environ.get(
    "PG_CONFIG",
    "/usr/lib/postgresql/%s/bin/pg_config" % os.environ.get("PG_MAJOR", "15"))
# The account that owns the cluster when the harness runs as root.
SERVER_ACCOUNT = os.environ.get("NOSQL_USER", "nosql")

DATABASE = "bench"
TIME_UNIT = "s"
DEFAULT_RUNS = 5
DEFAULT_SCALE = 1

TABLE_HEADER = ("| benchmark | case | ours | peer | ratio (peer/ours) "
                "| runs | machine | date |")
TABLE_SEPARATOR = "|---|---|---:|---:|---:|---:|---|---|"


class Interrupted(Exception):
    """Raised in the main thread by SIGINT, SIGTERM or SIGHUP."""


class BenchmarkError(Exception):
    """A benchmark module that breaks the interface in bench/README.md."""


def log(message):
    print(message, file=sys.stderr, flush=True)


def pg_config(option):
    return subprocess.run([PG_CONFIG, option], check=True, text=True,
                          capture_output=True).stdout.strip()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine_description():
    """Cores available to us, CPU model and RAM, for RESULTS.md."""
    cores = len(os.sched_getaffinity(0))
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        kib = next(int(line.split()[1]) for line in meminfo
                   if line.startswith("MemTotal:"))
    return "%d cores, %s, %.0f GiB" % (cores, model, kib / 1024 ** 2)


class Cluster:
    """A throwaway PostgreSQL cluster in a fresh temporary directory.

    As root, initdb and pg_ctl run as SERVER_ACCOUNT through runuser (initdb
    refuses root) and the directory is handed to that account.  Used as a
    context manager: the server is stopped and the directory removed on exit,
    unless keep is set.
    """

    def __init__(self, async_commit, keep, extra_settings=None):
        self.async_commit = async_commit
        self.keep = keep
        # a benchmark's SERVER_SETTINGS (max_connections, ...)
        self.extra_settings = dict(extra_settings or {})
        self.bindir = pg_config("--bindir")
        self.pkglibdir = pg_config("--pkglibdir")
        self.as_root = os.geteuid() == 0
        self.user = SERVER_ACCOUNT if self.as_root else getpass.getuser()
        self.dir = None
        self.port = None

    @property
    def datadir(self):
        return os.path.join(self.dir, "data")

    @property
    def logfile(self):
        return os.path.join(self.dir, "server.log")

    def url(self, dbname):
        return "postgresql://%s@127.0.0.1:%d/%s" % (self.user, self.port, dbname)

    def _server_command(self, program, *args):
        """argv running a PostgreSQL program as the cluster's owner."""
        argv = [os.path.join(self.bindir, program), *args]
        return ["runuser", "-u", self.user, "--", *argv] if self.as_root else argv

    def _run(self, program, *args):
        result = subprocess.run(
            self._server_command(program, *args), cwd=self.dir, text=True,
            capture_output=True, env=dict(os.environ, LANG="C.UTF-8"))
        if result.returncode != 0:
            raise RuntimeError("%s failed (exit %d):\n%s%s" % (
                program, result.returncode, result.stdout, result.stderr))

    def settings(self):
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            # pg_ctl and psql find the socket here; TCP is what we use
            "unix_socket_directories": "'%s'" % self.dir,
            "wal_level": "logical",
            "shared_buffers": "1GB",
            "max_wal_size": "4GB",
        }
        # Preloading a library that is not installed would stop the server
        # from starting; without it the peers can still be measured.
        if os.path.exists(os.path.join(self.pkglibdir, "nosql.so")):
            settings["shared_preload_libraries"] = "'nosql'"
        else:
            log("note: nosql is not installed in %s; not preloading it"
                % self.pkglibdir)
        # Debian's PostgreSQL lets only the output plugins listed here be
        # used (superusers too); other builds lack the setting
        described = subprocess.run(
            [os.path.join(self.bindir, "postgres"), "--describe-config"],
            capture_output=True, text=True).stdout
        if any(line.startswith("output_plugin_libraries") for line in described.splitlines()):
            settings["output_plugin_libraries"] = "'pgoutput, test_decoding, wal2json, nosql'"
        if self.async_commit:
            settings["synchronous_commit"] = "off"
        settings.update(self.extra_settings)
        return settings

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="nosql-bench-")
        if self.as_root:
            shutil.chown(self.dir, user=self.user)
        self._run("initdb", "-D", self.datadir, "-U", self.user,
                  "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        self.port = free_port()
        with open(os.path.join(self.datadir, "postgresql.conf"), "a") as conf:
            conf.write("\n# --- bench/harness.py ---\n")
            for name, value in self.settings().items():
                conf.write("%s = %s\n" % (name, value))
        try:
            self._run("pg_ctl", "-D", self.datadir, "-l", self.logfile,
                      "-w", "-t", "120", "start")
        except RuntimeError as error:
            raise RuntimeError("%s\nlast lines of %s:\n%s" % (
                error, self.logfile, self._log_tail())) from None

    def _log_tail(self, lines=20):
        try:
            with open(self.logfile) as logfile:
                return "".join(logfile.readlines()[-lines:])
        except OSError as error:
            return str(error)

    def remove(self):
        """Stop the server (if it runs) and delete the directory."""
        if self.dir is None:
            return
        # A second Ctrl-C must not leave the cluster behind half-removed;
        # pg_ctl inherits the ignored SIGINT as well.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if os.path.exists(os.path.join(self.datadir, "postmaster.pid")):
                try:
                    self._run("pg_ctl", "-D", self.datadir, "-m", "fast",
                              "-w", "stop")
                except RuntimeError as error:
                    log("warning: %s" % error)
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        finally:
            signal.signal(signal.SIGINT, previous)

    def connect(self, dbname):
        conn = psycopg2.connect(host="127.0.0.1", port=self.port,
                                user=self.user, dbname=dbname,
                                application_name="nosql-bench")
        conn.autocommit = True
        return conn

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc_info):
        if self.keep:
            log("cluster kept in %s\n  connect: psql '%s'\n  stop:    %s"
                " && rm -rf %s" % (
                    self.dir, self.url(DATABASE),
                    " ".join(self._server_command(
                        "pg_ctl", "-D", self.datadir, "stop")), self.dir))
        else:
            self.remove()


def prepare_database(cluster):
    """Create the bench database and, when available, the extension in it.

    Returns an autocommit connection to it and the nosql version (or None).
    """
    admin = cluster.connect("postgres")
    try:
        with admin.cursor() as cur:
            cur.execute("CREATE DATABASE " + DATABASE)
    finally:
        admin.close()
    conn = cluster.connect(DATABASE)
    with conn.cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT FROM pg_available_extensions"
                    " WHERE name = 'nosql')")
        if not cur.fetchone()[0]:
            return conn, None
        cur.execute("CREATE EXTENSION IF NOT EXISTS nosql")
        cur.execute("SELECT extversion FROM pg_extension"
                    " WHERE extname = 'nosql'")
        return conn, cur.fetchone()[0]


@dataclasses.dataclass
class Case:
    name: str
    ours: typing.Callable
    peer: typing.Callable
    unit: str


def load_benchmark(name):
    """Import bench/cases/NAME.py and check its interface: (module, cases)."""
    path = os.path.join(CASES_DIR, name + ".py")
    if not re.fullmatch(r"\w+", name) or not os.path.isfile(path):
        available = sorted(f[:-3] for f in os.listdir(CASES_DIR)
                           if f.endswith(".py") and not f.startswith("_"))
        raise BenchmarkError("no benchmark %r; available: %s"
                             % (name, ", ".join(available) or "none"))
    # benchmarks import their shared helpers (cases/_NAME.py) as _NAME
    if CASES_DIR not in sys.path:
        sys.path.insert(0, CASES_DIR)
    spec = importlib.util.spec_from_file_location("bench_case_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    if not isinstance(getattr(module, "DESCRIPTION", None), str):
        raise BenchmarkError("%s: DESCRIPTION must be a string" % path)
    for hook in ("setup", "prepare", "teardown"):
        if hasattr(module, hook) and not callable(getattr(module, hook)):
            raise BenchmarkError("%s: %s must be a function" % (path, hook))
    extra = getattr(module, "SERVER_SETTINGS", {})
    if (not isinstance(extra, dict)
            or not all(isinstance(k, str) and re.fullmatch(r"\w+", k)
                       and isinstance(v, str) for k, v in extra.items())):
        raise BenchmarkError("%s: SERVER_SETTINGS must map setting names to"
                             " their values as postgresql.conf text" % path)
    cases = []
    for entry in getattr(module, "CASES", None) or []:
        if (not isinstance(entry, tuple) or len(entry) != 4
                or not callable(entry[1]) or not callable(entry[2])):
            raise BenchmarkError("%s: CASES entries are (case_name, ours_fn,"
                                 " peer_fn, unit), not %r" % (path, entry))
        cases.append(Case(*entry))
    names = [case.name for case in cases]
    if not cases or len(set(names)) != len(names):
        raise BenchmarkError("%s: CASES must be a non-empty list with"
                             " distinct case names" % path)
    return module, cases


def is_number(value):
    return (isinstance(value, numbers.Number) and not isinstance(value, bool)
            and not isinstance(value, complex))


def measure(module, case, fn, conn, scale):
    """One call of fn: seconds taken, or the number it returned."""
    if hasattr(module, "prepare"):
        module.prepare(conn, scale)
    start = time.perf_counter()
    value = fn(conn, scale)
    elapsed = time.perf_counter() - start
    if case.unit == TIME_UNIT:
        if value is not None:
            raise BenchmarkError("case %r: unit %r is timed by the harness, but"
                                 " %s returned %r" % (case.name, TIME_UNIT,
                                                      fn.__name__, value))
        return elapsed
    if not is_number(value):
        raise BenchmarkError("case %r: unit %r needs %s to return a number,"
                             " not %r" % (case.name, case.unit,
                                          fn.__name__, value))
    return float(value)


@dataclasses.dataclass
class Result:
    case: Case
    ours: list
    peer: list

    @property
    def ours_median(self):
        return statistics.median(self.ours)

    @property
    def peer_median(self):
        return statistics.median(self.peer)

    def ratio(self):
        """peer/ours: above 1 means ours is faster (or smaller)."""
        return divide(self.peer_median, self.ours_median)


def divide(a, b):
    return a / b if b else float("inf")


def run_benchmark(module, cases, conn, runs, scale):
    """setup once, then every case N times, ours and peer alternately;
    teardown at the end, also after an error or an interruption."""
    try:
        if hasattr(module, "setup"):
            module.setup(conn, scale)
        results = []
        for case in cases:
            result = Result(case, [], [])
            for run in range(1, runs + 1):
                result.ours.append(measure(module, case, case.ours, conn, scale))
                result.peer.append(measure(module, case, case.peer, conn, scale))
                log("  %s: run %d/%d: ours %s, peer %s" % (
                    case.name, run, runs, fmt_value(result.ours[-1], case.unit),
                    fmt_value(result.peer[-1], case.unit)))
            results.append(result)
        return results
    finally:
        if hasattr(module, "teardown"):
            module.teardown(conn, scale)


def run_cancellable(conn, work):
    """Run work() in a thread and return its result.

    psycopg2 waits for the server without going back to the interpreter, so
    a signal handler would only run once the statement in flight finishes.
    With the work in a thread, the main thread sees Ctrl-C at once and
    cancels that statement (again, in case the next one had just started)
    until the work gives up.
    """
    outcome = {}

    def target():
        try:
            outcome["value"] = work()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=target, name="benchmark", daemon=True)
    thread.start()
    try:
        thread.join()
    except Interrupted:
        while thread.is_alive():
            conn.cancel()
            thread.join(0.2)
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def fmt_value(value, unit):
    if unit == TIME_UNIT:
        if value >= 1:
            return "%.2f s" % value
        if value >= 1e-3:
            return "%.3g ms" % (value * 1e3)
        return "%.3g µs" % (value * 1e6)
    if float(value).is_integer():
        return "%d %s" % (value, unit)
    return "%.4g %s" % (value, unit)


def fmt_ratio(value):
    return "%.2f" % value


def print_report(results):
    header = ("case", "ours median", "ours min..max", "peer median",
              "peer min..max", "peer/ours", "ours/peer")
    rows = []
    for r in results:
        unit = r.case.unit
        rows.append((
            r.case.name,
            fmt_value(r.ours_median, unit),
            "%s..%s" % (fmt_value(min(r.ours), unit), fmt_value(max(r.ours), unit)),
            fmt_value(r.peer_median, unit),
            "%s..%s" % (fmt_value(min(r.peer), unit), fmt_value(max(r.peer), unit)),
            fmt_ratio(r.ratio()),
            fmt_ratio(divide(r.ours_median, r.peer_median)),
        ))
    widths = [max(len(row[i]) for row in [header] + rows)
              for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                        for i, (cell, width) in enumerate(zip(row, widths))))
    print("peer/ours > 1: ours is faster (smaller, for other units)")


def table_cells(line):
    """The cells of a Markdown table row, `\\|` kept escaped."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]


def escape_cell(text):
    return text.replace("|", "\\|")


def record(name, scale, runs, results, path=RESULTS_FILE):
    """Add or replace this benchmark's rows in the table of RESULTS.md.

    A row is identified by benchmark + case; everything else in the file is
    left as it is.  A run at a non-default scale is its own benchmark row.
    """
    benchmark = name if scale == DEFAULT_SCALE else "%s (scale %g)" % (name, scale)
    machine = machine_description()
    today = datetime.date.today().isoformat()
    new_rows = [
        "| %s |" % " | ".join(escape_cell(cell) for cell in (
            benchmark, r.case.name, fmt_value(r.ours_median, r.case.unit),
            fmt_value(r.peer_median, r.case.unit), fmt_ratio(r.ratio()),
            str(runs), machine, today))
        for r in results]

    lines = []
    if os.path.exists(path):
        with open(path) as results_file:
            lines = results_file.read().splitlines()
    try:
        header_at = next(i for i, line in enumerate(lines)
                         if line.strip() == TABLE_HEADER)
    except StopIteration:
        if lines and lines[-1].strip():
            lines.append("")
        header_at = len(lines)
        lines += [TABLE_HEADER, TABLE_SEPARATOR]
    end = header_at + 2
    while end < len(lines) and lines[end].lstrip().startswith("|"):
        end += 1

    table = lines[header_at + 2:end]
    for row in new_rows:
        key = table_cells(row)[:2]
        at = next((i for i, old in enumerate(table)
                   if table_cells(old)[:2] == key), None)
        if at is None:
            table.append(row)
        else:
            table[at] = row
    lines[header_at + 2:end] = table
    with open(path, "w") as results_file:
        results_file.write("\n".join(lines) + "\n")


def scale_value(text):
    """--scale: a positive number, an int when it is whole (what most
    benchmarks multiply their counts by), else a float (for benchmarks that
    can shrink below 1, e.g. timeseries)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text) from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be positive: %r" % text)
    return int(value) if value.is_integer() else value


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Run a benchmark from bench/cases/ side by side with its"
                    " peer on a throwaway PostgreSQL cluster.")
    parser.add_argument("name", help="benchmark: bench/cases/NAME.py")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS,
                        help="calls of each side per case (default %(default)s)")
    parser.add_argument("--scale", type=scale_value, default=DEFAULT_SCALE,
                        help="size factor passed to the benchmark"
                             " (default %(default)s; a fraction such as 0.1"
                             " only for benchmarks that take one)")
    parser.add_argument("--record", action="store_true",
                        help="add or update the rows in bench/RESULTS.md")
    parser.add_argument("--keep", action="store_true",
                        help="leave the cluster running and print how to reach it")
    parser.add_argument("--async-commit", action="store_true",
                        help="synchronous_commit = off (not a fair default;"
                             " never use it with --record)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.record and args.async_commit:
        parser.error("--record measures with the default, durable commits;"
                     " drop --async-commit")
    return args


def on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def main(argv):
    args = parse_args(argv)
    try:
        module, cases = load_benchmark(args.name)
    except BenchmarkError as error:
        log("error: %s" % error)
        return 2
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)

    try:
        with Cluster(args.async_commit, args.keep,
                     getattr(module, "SERVER_SETTINGS", None)) as cluster:
            conn, nosql_version = prepare_database(cluster)
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                server_version = cur.fetchone()[0]
            log("benchmark %s: %s" % (args.name, module.DESCRIPTION))
            log("PostgreSQL %s, nosql %s, synchronous_commit=%s, runs %d,"
                " scale %g, %s" % (
                    server_version, nosql_version or "not installed",
                    "off" if args.async_commit else "on", args.runs,
                    args.scale, machine_description()))
            if getattr(module, "SERVER_SETTINGS", None):
                log("settings of this benchmark: %s" % ", ".join(
                    "%s = %s" % item for item in module.SERVER_SETTINGS.items()))
            results = run_cancellable(conn, lambda: run_benchmark(
                module, cases, conn, args.runs, args.scale))
            # Closed only on success: after an interruption the benchmark
            # thread may still hold the connection (close() would wait for
            # its statement); stopping the server ends it instead.
            conn.close()
    except Interrupted as signame:
        log("interrupted (%s)" % signame)
        return 130
    except BenchmarkError as error:
        log("error: %s" % error)
        return 2

    print_report(results)
    if args.record:
        record(args.name, args.scale, args.runs, results)
        log("recorded in %s" % os.path.relpath(RESULTS_FILE))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
