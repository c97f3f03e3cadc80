"""The key-value store (nosql.kv_*) against etcd, the figures of the key-value
issue's "Speed" section.

The peer is a real etcd server (Debian's etcd-server, 3.4): one member,
default settings (its WAL fsynced on every commit), started by this module on
a free 127.0.0.1 port with a throwaway data directory and stopped and removed
at the end, also after an error.  Ours is nosql in the harness's cluster
(synchronous_commit on).  Both are driven by the same client program,
bench/kv/kvbench.go (built here with Debian's Go packages, no network): one
goroutine and one connection per client, etcd's own Go client on one side,
pgx with prepared statements (extended protocol, binary values) on the other,
over TCP on 127.0.0.1.  Keys are PREFIX + 8 digits, values 256 pseudo-random
bytes that both sides write alike and that every read checks.  Connecting and
one warm-up request per client are not timed.

Cases (scale 1; NOSQL_BENCH_KV_FACTOR scales the counts down for trial runs):

- sequential put: one client, 2,000 puts one after the other (each its own
  request, hence its own commit and fsync); the figure is the mean time per
  put (ms).  etcd Put vs SELECT nosql.kv_put($1, $2).
- 64-client put: 64 clients, 10,000 puts in all on 10,000 keys; the figure
  is wall-clock seconds per 1,000 puts (1000 / throughput; puts/s is
  logged).  While ours runs, pg_stat_activity is sampled and the clients'
  wait events are logged.
- get: one client, 5,000 reads of random keys among 10,000; mean ms per get.
  etcd's default Range is linearizable (a ReadIndex round through Raft);
  ours is SELECT ... FROM nosql.kv_get($1) (serializable => false), the
  whole nosql.kv row, as etcd returns the whole KeyValue.
- range: one client, 200 reads of a range of exactly 1,000 keys with their
  values (etcd Range [key, range_end) vs nosql.kv_range(key, range_end));
  mean ms per range.  The store also holds the get keys around the range.
- store size: a fresh store (a new etcd; for ours a new database with the
  extension) gets 100,000 keys of 256-byte values, written in requests of
  100 keys by 8 clients (an etcd txn of 100 puts; a pgx batch of 100
  kv_put calls, one transaction).  Then etcd is compacted to its current
  revision (physically) and defragmented, and the figure is the size of its
  backend file member/snap/db; ours calls nosql.kv_compact(current revision)
  when that function exists (otherwise the log says compaction was skipped),
  then VACUUMs, and the figure is pg_total_relation_size (heap, indexes,
  TOAST, free space and visibility maps) summed over the key-value tables:
  the tables of schema nosql named kv_* or lease*.  Write-ahead logs are
  excluded on both sides.  Measured once; every run reports that figure.
  NOSQL_BENCH_KV_SIZE_VERSIONS=N writes every key N times (default 1), so
  that compaction has old versions to remove; NOSQL_BENCH_KV_VACUUM_FULL=1
  runs VACUUM FULL instead, which, like etcd's defragmentation, gives the
  freed space back to the file system (plain VACUUM keeps it for reuse).

Every figure is lower-is-better; peer/ours > 1 means ours is faster (or
smaller).
"""
import atexit
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import psycopg2

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENT_SOURCE = os.path.join(BENCH_DIR, "kv", "kvbench.go")
# Debian's Go sources: golang-etcd-server-dev, golang-github-jackc-pgx-v4-dev
GOPATH = os.environ.get("NOSQL_BENCH_GOPATH", "/usr/share/gocode")
PACKAGES = ("etcd-server golang-go golang-etcd-server-dev "
            "golang-github-jackc-pgx-v4-dev")

FACTOR = float(os.environ.get("NOSQL_BENCH_KV_FACTOR", "1"))
SIZE_VERSIONS = int(os.environ.get("NOSQL_BENCH_KV_SIZE_VERSIONS", "1"))
# VACUUM FULL rewrites the tables as etcd's defragmentation rewrites its file
VACUUM = "VACUUM FULL" if os.environ.get("NOSQL_BENCH_KV_VACUUM_FULL") else "VACUUM"


def count(n):
    return max(1, int(n * FACTOR))


SEQ_PUTS = count(2000)
PAR_CLIENTS = 64
PAR_PUTS = count(10000)
GET_KEYS = count(10000)
GETS = count(5000)
RANGE_KEYS = 1000              # the range always returns 1,000 keys
RANGES = count(200)
SIZE_KEYS = count(100000)
LOAD_BATCH = 100               # etcd's default --max-txn-ops is 128
LOAD_CLIENTS = 8
SIZE_DATABASE = "bench_kv_size"

DESCRIPTION = ("key-value store vs etcd %s: sequential put, 64-client put "
               "throughput, linearizable get, 1,000-key range, store size "
               "after compaction" % "3.4")


def log(message):
    print(message, file=sys.stderr, flush=True)


def scaled(n, scale):
    return n * scale


# --- the client program ---

def client_binary():
    """Build bench/kv/kvbench.go once per source version, offline."""
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("kv: no go compiler; apt-get install %s" % PACKAGES)
    with open(CLIENT_SOURCE, "rb") as source:
        digest = hashlib.sha256(source.read())
    digest.update(subprocess.run([go, "version"], check=True,
                                 capture_output=True).stdout)
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME")
                         or os.path.expanduser("~/.cache"), "nosql-bench")
    binary = os.path.join(cache, "kvbench-" + digest.hexdigest()[:16])
    if os.path.exists(binary):
        return binary
    os.makedirs(cache, exist_ok=True)
    log("kv: building %s" % os.path.relpath(CLIENT_SOURCE))
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOFLAGS="",
               GOCACHE=os.path.join(cache, "go-build"), CGO_ENABLED="0")
    partial = binary + ".partial"
    result = subprocess.run([go, "build", "-o", partial, CLIENT_SOURCE],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("kv: building the client failed (are %s "
                           "installed?):\n%s" % (PACKAGES, result.stderr))
    os.replace(partial, binary)
    return binary


CLIENT = None


def client(target, op, etcd=None, dsn=None, **flags):
    """Run one workload against etcd (default: ETCD) or nosql (default:
    OURS_DSN); the JSON object it printed."""
    argv = [CLIENT, "-target", target, "-op", op]
    if target == "etcd":
        argv += ["-endpoint", (etcd or ETCD).endpoint]
    else:
        argv += ["-dsn", dsn or OURS_DSN]
    for name, value in flags.items():
        argv += ["-" + name.replace("_", "-"), str(value)]
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("kv: %s failed (exit %d):\n%s" % (
            " ".join(argv), result.returncode, result.stderr))
    return json.loads(result.stdout)


# --- etcd ---

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Etcd:
    """One etcd member with default settings in a throwaway directory."""

    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix="nosql-bench-etcd-")
        self.datadir = os.path.join(self.dir, "data")
        self.proc = None
        client_port, peer_port = free_port(), free_port()
        self.endpoint = "127.0.0.1:%d" % client_port
        peer = "http://127.0.0.1:%d" % peer_port
        argv = ["etcd", "--name", name, "--data-dir", self.datadir,
                "--listen-client-urls", "http://" + self.endpoint,
                "--advertise-client-urls", "http://" + self.endpoint,
                "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "%s=%s" % (name, peer)]
        # etcd dies with us even if we are killed (setpriv is util-linux)
        if shutil.which("setpriv"):
            argv = ["setpriv", "--pdeathsig", "KILL", "--"] + argv
        # ETCD_* variables would change etcd's settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        self.logfile = open(os.path.join(self.dir, "etcd.log"), "w")
        try:
            self.proc = subprocess.Popen(argv, stdout=self.logfile,
                                         stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL)
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise

    def wait_healthy(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("kv: etcd exited (%d):\n%s" % (
                    self.proc.returncode, self.log_tail()))
            try:
                with urllib.request.urlopen("http://%s/health" % self.endpoint,
                                            timeout=2) as reply:
                    if json.load(reply).get("health") == "true":
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("kv: etcd not healthy after %ds:\n%s" % (
                    timeout, self.log_tail()))
            time.sleep(0.1)

    def log_tail(self, lines=20):
        self.logfile.flush()
        with open(self.logfile.name) as logfile:
            return "".join(logfile.readlines()[-lines:])

    def version(self):
        with urllib.request.urlopen("http://%s/version" % self.endpoint,
                                    timeout=5) as reply:
            return json.load(reply)["etcdserver"]

    def db_file(self):
        return os.path.join(self.datadir, "member", "snap", "db")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logfile.close()
        shutil.rmtree(self.dir, ignore_errors=True)


ETCD = None
OURS_DSN = None
SIZES = {}


def ours_dsn(conn, dbname):
    info = conn.info
    return ("host=%s port=%s user=%s dbname=%s sslmode=disable "
            "application_name=kvbench" % (info.host, info.port, info.user,
                                           dbname))


def load(target, prefix, keys, seed=1, etcd=None, dsn=None):
    """Write keys [0, keys) under prefix in batches (untimed set-up)."""
    return client(target, "put", etcd=etcd, dsn=dsn, prefix=prefix,
                  keys=keys, batch=LOAD_BATCH,
                  ops=(keys + LOAD_BATCH - 1) // LOAD_BATCH,
                  clients=LOAD_CLIENTS, seed=seed)


def setup(conn, scale):
    global CLIENT, ETCD, OURS_DSN
    CLIENT = client_binary()
    atexit.register(teardown, None, scale)
    ETCD = Etcd("bench")
    log("kv: etcd %s on %s, data in %s" % (ETCD.version(), ETCD.endpoint,
                                           ETCD.datadir))
    OURS_DSN = ours_dsn(conn, conn.info.dbname)
    for target in ("nosql", "etcd"):
        load(target, "/bench/get/", scaled(GET_KEYS, scale))
        load(target, "/bench/range/", RANGE_KEYS)


def teardown(conn, scale):
    global ETCD
    if ETCD is not None:
        ETCD.stop()
        ETCD = None


# --- sequential put ---

def seq_put(target, scale):
    n = scaled(SEQ_PUTS, scale)
    r = client(target, "put", prefix="/bench/put/", keys=n, ops=n)
    log("    %s: %.0f puts/s, p50 %.3f ms, p99 %.3f ms" % (
        target, r["ops_per_s"], r["p50_ms"], r["p99_ms"]))
    return r["mean_ms"]


def seq_put_ours(conn, scale):
    return seq_put("nosql", scale)


def seq_put_peer(conn, scale):
    return seq_put("etcd", scale)


# --- 64-client put throughput ---

class WaitSampler:
    """Samples what the client's sessions wait on, every 10 ms, in a thread."""

    def __init__(self, conn):
        info = conn.info
        self.conn = psycopg2.connect(host=info.host, port=info.port,
                                     user=info.user, dbname=info.dbname,
                                     application_name="nosql-bench-sampler")
        self.conn.autocommit = True
        self.counts = {}
        self.samples = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        with self.conn.cursor() as cur:
            while not self.done.wait(0.01):
                cur.execute("""
                    SELECT CASE WHEN state <> 'active' THEN 'idle (client)'
                                WHEN wait_event IS NULL THEN 'CPU'
                                ELSE wait_event_type || ':' || wait_event END,
                           count(*)
                    FROM pg_stat_activity
                    WHERE application_name = 'kvbench' GROUP BY 1""")
                self.samples += 1
                for event, n in cur.fetchall():
                    self.counts[event] = self.counts.get(event, 0) + n

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.done.set()
        self.thread.join()
        self.conn.close()

    def summary(self):
        total = sum(self.counts.values()) or 1
        top = sorted(self.counts.items(), key=lambda kv: -kv[1])[:8]
        return ", ".join("%s %.0f%%" % (event, 100.0 * n / total)
                         for event, n in top)


def par_put(target, scale, conn=None):
    n = scaled(PAR_PUTS, scale)
    flags = dict(prefix="/bench/put64/", keys=n, ops=n, clients=PAR_CLIENTS)
    if conn is None:
        r = client(target, "put", **flags)
    else:
        with WaitSampler(conn) as sampler:
            r = client(target, "put", **flags)
        log("    %s sessions' wait events (%d samples): %s" % (
            target, sampler.samples, sampler.summary()))
    log("    %s: %.0f puts/s, p50 %.3f ms, p99 %.3f ms" % (
        target, r["ops_per_s"], r["p50_ms"], r["p99_ms"]))
    return 1000.0 / r["ops_per_s"]


def par_put_ours(conn, scale):
    return par_put("nosql", scale, conn)


def par_put_peer(conn, scale):
    return par_put("etcd", scale)


# --- single-client linearizable get ---

def get(target, scale):
    r = client(target, "get", prefix="/bench/get/", keys=scaled(GET_KEYS, scale),
               ops=scaled(GETS, scale))
    log("    %s: %.0f gets/s, p50 %.3f ms, p99 %.3f ms" % (
        target, r["ops_per_s"], r["p50_ms"], r["p99_ms"]))
    return r["mean_ms"]


def get_ours(conn, scale):
    return get("nosql", scale)


def get_peer(conn, scale):
    return get("etcd", scale)


# --- range of 1,000 keys ---

def range_read(target, scale):
    r = client(target, "range", prefix="/bench/range/", expect=RANGE_KEYS,
               ops=scaled(RANGES, scale))
    log("    %s: p50 %.3f ms, p99 %.3f ms" % (target, r["p50_ms"], r["p99_ms"]))
    return r["mean_ms"]


def range_ours(conn, scale):
    return range_read("nosql", scale)


def range_peer(conn, scale):
    return range_read("etcd", scale)


# --- store size after 100k keys and compaction ---

KV_TABLES = """
    SELECT c.oid::regclass::text, pg_total_relation_size(c.oid),
           pg_relation_size(c.oid), pg_indexes_size(c.oid)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'nosql' AND c.relkind IN ('r', 'p')
      AND (c.relname LIKE 'kv\\_%' OR c.relname LIKE 'lease%')
    ORDER BY 1"""


def size_ours(conn, scale):
    if "ours" in SIZES:
        return SIZES["ours"]
    n = scaled(SIZE_KEYS, scale)
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS " + SIZE_DATABASE)
        cur.execute("CREATE DATABASE " + SIZE_DATABASE)
    db = psycopg2.connect(host=conn.info.host, port=conn.info.port,
                          user=conn.info.user, dbname=SIZE_DATABASE)
    db.autocommit = True
    try:
        with db.cursor() as cur:
            cur.execute("CREATE EXTENSION nosql")
            for version in range(SIZE_VERSIONS):
                load("nosql", "/bench/size/", n, seed=100 + version,
                     dsn=ours_dsn(conn, SIZE_DATABASE))
            cur.execute("SELECT nosql.kv_current_revision()")
            revision = cur.fetchone()[0]
            cur.execute("SELECT EXISTS (SELECT FROM pg_proc WHERE proname = "
                        "'kv_compact' AND pronamespace = 'nosql'::regnamespace)")
            if cur.fetchone()[0]:
                cur.execute("SELECT nosql.kv_compact(%s::bigint)", (revision,))
                log("    nosql: compacted to revision %d" % revision)
            else:
                log("    nosql: no nosql.kv_compact yet: compaction skipped "
                    "(revision %d)" % revision)
            cur.execute(KV_TABLES)
            tables = cur.fetchall()
            for table, *_ in tables:
                cur.execute("%s %s" % (VACUUM, table))
            cur.execute(KV_TABLES)
            tables = cur.fetchall()
    finally:
        db.close()
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE " + SIZE_DATABASE)
    log("    nosql: %d keys x %d version(s), %s: %s" % (
        n, SIZE_VERSIONS, VACUUM, ", ".join("%s %d (heap %d, indexes %d)" % t
                                    for t in tables)))
    SIZES["ours"] = sum(size for _, size, _, _ in tables)
    return SIZES["ours"]


def size_peer(conn, scale):
    if "peer" in SIZES:
        return SIZES["peer"]
    n = scaled(SIZE_KEYS, scale)
    etcd = Etcd("size")
    try:
        for version in range(SIZE_VERSIONS):
            load("etcd", "/bench/size/", n, seed=100 + version, etcd=etcd)
        status = client("etcd", "compact", etcd=etcd)
        st = os.stat(etcd.db_file())
    finally:
        etcd.stop()
    log("    etcd: %d keys x %d version(s), compacted to revision %d and "
        "defragmented: db file %d bytes (%d allocated on disk); etcd's "
        "status: db size %d, in use %d (before: %d, %d)" % (
            n, SIZE_VERSIONS, status["revision"], st.st_size,
            st.st_blocks * 512, status["db_size"], status["db_size_in_use"],
            status["db_size_before"], status["db_size_in_use_before"]))
    SIZES["peer"] = st.st_size
    return SIZES["peer"]


def thousands(n):
    return "{:,}".format(n)


def case_name(name):
    """A trial at other counts never replaces a full-size row of RESULTS.md."""
    return name if FACTOR == 1 else "%s (factor %g)" % (name, FACTOR)


CASES = [
    (case_name("sequential put, 1 client, %s puts" % thousands(SEQ_PUTS)),
     seq_put_ours, seq_put_peer, "ms/put"),
    (case_name("put throughput, %d clients, %s puts"
               % (PAR_CLIENTS, thousands(PAR_PUTS))),
     par_put_ours, par_put_peer, "s/1000 puts"),
    (case_name("linearizable get, 1 client, %s gets" % thousands(GETS)),
     get_ours, get_peer, "ms/get"),
    (case_name("range of 1,000 keys with values, 1 client"),
     range_ours, range_peer, "ms/range"),
    (case_name("store size, %s keys of 256 bytes, after compaction"
               % thousands(SIZE_KEYS)
               + ("" if SIZE_VERSIONS == 1 else ", %d versions each" % SIZE_VERSIONS)
               + ("" if VACUUM == "VACUUM" else ", VACUUM FULL")),
     size_ours, size_peer, "bytes"),
]
