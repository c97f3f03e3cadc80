"""The key-value store replicated by Raft (three PostgreSQL servers running
nosql's raft worker) against a three-member etcd, the figures of the Raft
issue's "Speed" section.

The peer is a real etcd cluster (Debian's etcd-server, 3.4): three members
on free 127.0.0.1 ports, throwaway data directories, --heartbeat-interval=100
--election-timeout=1000, everything else default (its WAL fsynced before a
put is acknowledged).  Ours is three more PostgreSQL servers started by this
module (not the harness's own cluster, which is no raft member and is not
used): shared_preload_libraries = 'nosql', fsync and synchronous_commit on,
nosql.raft_node_id 1..3, nosql.raft_listen / nosql.raft_peers on free
127.0.0.1 ports, a random nosql.raft_secret, nosql.raft_heartbeat_ms = 100
and nosql.raft_election_timeout_ms = 1000 (the same timing as etcd), the
extension created in database postgres on each; set-up waits until
nosql.raft_status shows a leader.  As root the servers run as the account
`nosql` ($NOSQL_USER) through runuser, as the harness's do.  Both groups
are removed at the end, also after an error (and etcd gets SIGKILL if we
die: setpriv --pdeathsig).  All six servers share the machine's cores.

Both sides are driven by bench/kv/kvbench.go, the client of the kv
benchmark (built there, offline): etcd's clientv3 on one side, pgx with
prepared statements (extended protocol, binary values) on the other, one
connection per client over TCP on 127.0.0.1, 256-byte values that every
read checks.  Connecting and one warm-up request per client are not timed.
Where a client talks to a given member, which member is the leader is
looked up before each call (etcd: Maintenance Status of every member; ours:
nosql.raft_status on every member), since it moves when a leader is killed.

Cases (NOSQL_BENCH_RAFT_FACTOR scales the counts down for trial runs; the
case names then say so, so such rows never replace full-size ones):

- sequential put via the leader: one client connected to the leader only
  (the etcd client pinned to the leader's endpoint), 2,000 puts one after
  the other; the figure is the mean ms per put (p50, p99 and puts/s are
  logged).  Each put is one log entry replicated to a majority, with the
  leader's and one follower's log on disk, before it is acknowledged.
- sequential put via a follower: the same with the client on a follower,
  which forwards each put to the leader (etcd: the member's own forwarding
  of the proposal; ours: the follower's raft worker forwards it): the cost
  of a client that does not know or care where the leader is.
- put throughput, 64 clients: 10,000 puts on 10,000 keys from 64 clients
  spread over the members, as a deployment's clients would be: nosql client
  c connects to member c mod 3; every etcd client is given all three
  endpoints and clientv3 balances its requests over them (etcd's usual
  client set-up).  Two thirds of the requests on both sides thus arrive at
  a follower and are forwarded.  The figure is wall-clock seconds per 1,000
  puts (1000 / puts per second; puts/s is logged).
- linearizable get on a follower: one client on a follower, 5,000 gets of
  random keys among 1,000 written in set-up: etcd's default (linearizable)
  Range vs SELECT ... FROM nosql.kv_get($1) (serializable => false).  On a
  follower both must learn the leader's commit index (ReadIndex: a round
  trip to the leader, which confirms it is still leader with a heartbeat
  round) and wait until they have applied it; on the leader that is local.
  Mean ms per get; every value is checked against the one written.
- failover: 10 trials per run (each side).  Before a trial the group has
  all three members running, one leader and every member at the same
  applied index.  The client connects to the two members that will survive
  (etcd: one clientv3 client with both endpoints; ours: a pool of sessions
  round-robin over both, a new session whenever none is free) and warms
  up; then the leader is killed - etcd: SIGKILL of its process; ours:
  SIGKILL of its raft worker, then SIGQUIT to its postmaster, which is what
  `pg_ctl stop -m immediate` sends (sent directly so that the moment of the
  kill is known to the microsecond; the worker is killed first because
  after SIGQUIT alone it dies a few milliseconds later, and the dying
  leader could still commit a put sent after the kill) - and from then on the
  client starts a new put every 10 ms, each with a 5 s limit, without
  waiting for the earlier ones (a put sent to a member that still believes
  in the dead leader may hang until it gives up, which must not hold back
  the next try).  The trial's figure is the time from the kill to the first
  put acknowledged; the killed member is then restarted (same data
  directory) and the group must converge again before the next trial.  The
  figure recorded is the median of the trials, in seconds (all trials, the
  errors the attempts got and the number of sessions ours needed are
  logged).

Every figure is lower-is-better; peer/ours > 1 means ours is faster.
Linearizability under failures is not measured here (TAP test
023_raft_failures checks histories); reads here only check values.
"""
import atexit
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import psycopg2

import kv

FACTOR = float(os.environ.get("NOSQL_BENCH_RAFT_FACTOR", "1"))
HEARTBEAT_MS = 100
ELECTION_MS = 1000
MEMBERS = 3


def count(n):
    return max(1, int(n * FACTOR))


SEQ_PUTS = count(2000)
PAR_CLIENTS = 64
PAR_PUTS = count(10000)
GET_KEYS = 1000
GETS = count(5000)
FAILOVER_TRIALS = max(1, round(10 * FACTOR))
LOAD_CLIENTS = 8
CONVERGE_TIMEOUT = 120

DESCRIPTION = ("3-member raft group of nosql servers vs 3-member etcd %s "
               "(heartbeat %d ms, election timeout %d ms): sequential put, "
               "64-client put throughput, linearizable get on a follower, "
               "failover" % ("3.4", HEARTBEAT_MS, ELECTION_MS))

SERVER_ACCOUNT = os.environ.get("NOSQL_USER", "nosql")
PG_CONFIG = os.environ.get(
    "PG_CONFIG",
    "/usr/lib/postgresql/%s/bin/pg_config" % os.environ.get("PG_MAJOR", "15"))


def log(message):
    print(message, file=sys.stderr, flush=True)


def scaled(n, scale):
    return n * scale


# --- the client program ---

def client(argv_tail, stdin=None):
    argv = [kv.CLIENT] + argv_tail
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("raft: %s failed (exit %d):\n%s" % (
            " ".join(argv), result.returncode, result.stderr))
    return json.loads(result.stdout)


def target_args(group, members):
    """kvbench's -target and -endpoint/-dsn flags for these members."""
    flag = "-endpoint" if group.target == "etcd" else "-dsn"
    argv = ["-target", group.target]
    for i in members:
        argv += [flag, group.address(i)]
    return argv


def workload(group, members, op, **flags):
    argv = target_args(group, members) + ["-op", op]
    for name, value in flags.items():
        if value is True:
            argv.append("-" + name)
        else:
            argv += ["-" + name.replace("_", "-"), str(value)]
    return client(argv)


# --- etcd ---

class EtcdGroup:
    """Three etcd members in one throwaway directory."""

    target = "etcd"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="nosql-bench-etcd3-")
        self.client_ports = [kv.free_port() for _ in range(MEMBERS)]
        self.peer_ports = [kv.free_port() for _ in range(MEMBERS)]
        self.procs = [None] * MEMBERS
        self.logs = [None] * MEMBERS
        self.cluster = ",".join("m%d=http://127.0.0.1:%d" % (i + 1, p)
                                for i, p in enumerate(self.peer_ports))

    def address(self, i):
        return "127.0.0.1:%d" % self.client_ports[i]

    def logfile(self, i):
        return os.path.join(self.dir, "m%d.log" % (i + 1))

    def start(self, i):
        peer = "http://127.0.0.1:%d" % self.peer_ports[i]
        argv = ["etcd", "--name", "m%d" % (i + 1),
                "--data-dir", os.path.join(self.dir, "m%d" % (i + 1)),
                "--listen-client-urls", "http://" + self.address(i),
                "--advertise-client-urls", "http://" + self.address(i),
                "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer,
                "--initial-cluster", self.cluster,
                "--initial-cluster-state", "new",
                "--initial-cluster-token", "nosql-bench-raft",
                "--heartbeat-interval", str(HEARTBEAT_MS),
                "--election-timeout", str(ELECTION_MS)]
        if shutil.which("setpriv"):
            argv = ["setpriv", "--pdeathsig", "KILL", "--"] + argv
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        if self.logs[i] is None:
            self.logs[i] = open(self.logfile(i), "a")
        self.procs[i] = subprocess.Popen(argv, stdout=self.logs[i],
                                         stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL)

    def start_all(self):
        for i in range(MEMBERS):
            self.start(i)
        self.wait_converged()

    def kill_leader(self, i):
        """SIGKILL member i; returns the time of the kill (ns)."""
        t = time.time_ns()
        self.procs[i].send_signal(signal.SIGKILL)
        return t

    def wait_stopped(self, i):
        self.procs[i].wait()

    def restart(self, i):
        self.start(i)

    def status(self):
        """[(member id, leader id, applied index)] or None per member."""
        out = []
        for i, st in enumerate(workload(self, range(MEMBERS), "status")):
            if st.get("error") or self.procs[i].poll() is not None:
                out.append(None)
            else:
                out.append((st["member_id"], st["leader"], st["raft_index"]))
        return out

    def leader(self):
        for i, st in enumerate(self.status()):
            if st and st[0] == st[1]:
                return i
        raise RuntimeError("raft: etcd has no leader")

    def wait_converged(self):
        deadline = time.monotonic() + CONVERGE_TIMEOUT
        while True:
            for i, proc in enumerate(self.procs):
                if proc.poll() is not None:
                    raise RuntimeError("raft: etcd member %d exited (%d):\n%s"
                                       % (i + 1, proc.returncode, tail(self.logfile(i))))
            st = self.status()
            if (all(st) and len({s[1] for s in st}) == 1 and st[0][1] != "0"
                    and any(s[0] == s[1] for s in st)
                    and len({s[2] for s in st}) == 1):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("raft: etcd did not converge in %ds: %r"
                                   % (CONVERGE_TIMEOUT, st))
            time.sleep(0.1)

    def version(self):
        with urllib.request.urlopen("http://%s/version" % self.address(0),
                                    timeout=5) as reply:
            return json.load(reply)["etcdserver"]

    def stop(self):
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            if proc is not None:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for f in self.logs:
            if f is not None:
                f.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as error:
        return str(error)


# --- ours ---

class PgGroup:
    """Three PostgreSQL servers forming one nosql raft group."""

    target = "nosql"

    def __init__(self):
        self.bindir = subprocess.run([PG_CONFIG, "--bindir"], check=True,
                                     capture_output=True, text=True).stdout.strip()
        self.as_root = os.geteuid() == 0
        self.user = SERVER_ACCOUNT if self.as_root else os.environ.get(
            "USER") or subprocess.run(["id", "-un"], capture_output=True,
                                      text=True).stdout.strip()
        self.dir = tempfile.mkdtemp(prefix="nosql-bench-raft-")
        if self.as_root:
            shutil.chown(self.dir, user=self.user)
        self.ports = [kv.free_port() for _ in range(MEMBERS)]
        self.raft_ports = [kv.free_port() for _ in range(MEMBERS)]
        self.started = [False] * MEMBERS

    def datadir(self, i):
        return os.path.join(self.dir, "m%d" % (i + 1))

    def logfile(self, i):
        return os.path.join(self.dir, "m%d.log" % (i + 1))

    def address(self, i):
        return ("host=127.0.0.1 port=%d user=%s dbname=postgres "
                "sslmode=disable application_name=kvbench"
                % (self.ports[i], self.user))

    def run(self, program, *args):
        argv = [os.path.join(self.bindir, program), *args]
        if self.as_root:
            argv = ["runuser", "-u", self.user, "--"] + argv
        result = subprocess.run(argv, cwd=self.dir, capture_output=True,
                                text=True, env=dict(os.environ, LANG="C.UTF-8"))
        if result.returncode != 0:
            raise RuntimeError("raft: %s failed (exit %d):\n%s%s" % (
                program, result.returncode, result.stdout, result.stderr))

    def start_all(self):
        secret = secrets.token_hex(16)
        peers = ",".join("%d=127.0.0.1:%d" % (i + 1, p)
                         for i, p in enumerate(self.raft_ports))
        for i in range(MEMBERS):
            self.run("initdb", "-D", self.datadir(i), "-U", self.user,
                     "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
            settings = {
                "listen_addresses": "'127.0.0.1'",
                "port": str(self.ports[i]),
                "unix_socket_directories": "'%s'" % self.dir,
                "shared_buffers": "256MB",
                "max_wal_size": "4GB",
                "max_connections": "300",
                "fsync": "on",
                "synchronous_commit": "on",
                "shared_preload_libraries": "'nosql'",
                "nosql.raft_node_id": str(i + 1),
                "nosql.raft_listen": "'127.0.0.1:%d'" % self.raft_ports[i],
                "nosql.raft_peers": "'%s'" % peers,
                "nosql.raft_secret": "'%s'" % secret,
                "nosql.raft_heartbeat_ms": str(HEARTBEAT_MS),
                "nosql.raft_election_timeout_ms": str(ELECTION_MS),
            }
            with open(os.path.join(self.datadir(i), "postgresql.conf"), "a") as conf:
                conf.write("\n# --- bench/cases/raft.py ---\n")
                for name, value in settings.items():
                    conf.write("%s = %s\n" % (name, value))
        for i in range(MEMBERS):
            self.start(i)
        for i in range(MEMBERS):
            conn = self.connect(i)
            with conn.cursor() as cur:
                cur.execute("CREATE EXTENSION nosql")
            conn.close()
        self.wait_converged()

    def start(self, i):
        self.started[i] = True
        try:
            self.run("pg_ctl", "-D", self.datadir(i), "-l", self.logfile(i),
                     "-w", "-t", "120", "start")
        except RuntimeError as error:
            raise RuntimeError("%s\nlast lines of %s:\n%s" % (
                error, self.logfile(i), tail(self.logfile(i)))) from None

    def connect(self, i):
        conn = psycopg2.connect(host="127.0.0.1", port=self.ports[i],
                                user=self.user, dbname="postgres",
                                application_name="nosql-bench-raft",
                                connect_timeout=5)
        conn.autocommit = True
        return conn

    def postmaster_pid(self, i):
        with open(os.path.join(self.datadir(i), "postmaster.pid")) as f:
            return int(f.readline())

    def kill_leader(self, i):
        """SIGKILL to member i's raft worker, then what pg_ctl stop -m
        immediate does (SIGQUIT to the postmaster, which stops the rest and
        removes its pid file); returns the time of the first signal (ns).
        The worker is killed outright as etcd's process is: after SIGQUIT
        alone it takes the postmaster's relay and a few milliseconds to die,
        in which the dying leader could still commit a put sent after the
        'kill' (trials of 0.001-0.011 s were seen)."""
        self.killed_pid = self.postmaster_pid(i)
        workers = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
                with open("/proc/%s/cmdline" % entry, "rb") as cmd:
                    raft = b"nosql raft" in cmd.read()
            except OSError:
                continue
            if ppid == self.killed_pid and raft:
                workers.append(int(entry))
        t = time.time_ns()
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.kill(self.killed_pid, signal.SIGQUIT)
        return t

    def wait_stopped(self, i):
        """Until the killed postmaster has exited (it is not our child: once
        it is a zombie it is gone as far as we care)."""
        deadline = time.monotonic() + 60
        while True:
            try:
                with open("/proc/%d/stat" % self.killed_pid) as stat:
                    if stat.read().rsplit(")", 1)[1].split()[0] in "ZX":
                        return
            except OSError:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("raft: member %d did not stop" % (i + 1))
            time.sleep(0.01)

    def restart(self, i):
        self.start(i)

    def status(self):
        """[(node id, role, leader id, term, applied index)] or None per
        member."""
        out = []
        for i in range(MEMBERS):
            try:
                conn = self.connect(i)
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT node_id, role, coalesce(leader_id, 0),"
                                    " term, applied_index FROM nosql.raft_status")
                        out.append(cur.fetchone())
                finally:
                    conn.close()
            except psycopg2.Error:
                out.append(None)
        return out

    def leader(self):
        for i, st in enumerate(self.status()):
            if st and st[1] == "leader":
                return i
        raise RuntimeError("raft: our group has no leader")

    def wait_converged(self):
        deadline = time.monotonic() + CONVERGE_TIMEOUT
        while True:
            st = self.status()
            if (all(st) and len({s[2] for s in st}) == 1 and st[0][2] != 0
                    and sum(s[1] == "leader" for s in st) == 1
                    and len({s[4] for s in st}) == 1):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("raft: our group did not converge in %ds: "
                                   "%r; see %s" % (CONVERGE_TIMEOUT, st, self.dir))
            time.sleep(0.1)

    def stop(self):
        for i in range(MEMBERS):
            if os.path.exists(os.path.join(self.datadir(i), "postmaster.pid")):
                try:
                    self.run("pg_ctl", "-D", self.datadir(i), "-m", "fast",
                             "-w", "stop")
                except RuntimeError as error:
                    log("warning: %s" % error)
        if os.environ.get("NOSQL_BENCH_RAFT_KEEP_LOGS"):
            for i in range(MEMBERS):
                try:
                    shutil.copy(self.logfile(i), "/tmp/nosql-bench-raft-m%d.log" % (i + 1))
                except OSError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


GROUPS = {}


def setup(conn, scale):
    kv.CLIENT = kv.client_binary()
    atexit.register(teardown, None, scale)
    GROUPS["etcd"] = EtcdGroup()
    GROUPS["etcd"].start_all()
    log("raft: etcd %s, members on %s, data in %s" % (
        GROUPS["etcd"].version(),
        ", ".join(GROUPS["etcd"].address(i) for i in range(MEMBERS)),
        GROUPS["etcd"].dir))
    GROUPS["nosql"] = PgGroup()
    GROUPS["nosql"].start_all()
    log("raft: our members on ports %s (raft %s), data in %s; leader: "
        "member %d" % (GROUPS["nosql"].ports, GROUPS["nosql"].raft_ports,
                       GROUPS["nosql"].dir, GROUPS["nosql"].leader() + 1))
    for target in ("nosql", "etcd"):
        group = GROUPS[target]
        t = time.monotonic()
        workload(group, range(MEMBERS), "put", prefix="/bench/get/",
                 keys=GET_KEYS, ops=GET_KEYS, clients=LOAD_CLIENTS)
        group.wait_converged()
        log("raft: %s: %d get keys written in %.1f s" % (
            target, GET_KEYS, time.monotonic() - t))


def teardown(conn, scale):
    for target in list(GROUPS):
        GROUPS.pop(target).stop()


def roles(group):
    leader = group.leader()
    return leader, [i for i in range(MEMBERS) if i != leader]


# --- sequential put ---

def seq_put(target, scale, via_leader):
    group = GROUPS[target]
    leader, followers = roles(group)
    member = leader if via_leader else followers[0]
    n = scaled(SEQ_PUTS, scale)
    r = workload(group, [member], "put", prefix="/bench/seq/", keys=n, ops=n)
    log("    %s via member %d (%s): %.0f puts/s, p50 %.3f ms, p99 %.3f ms, "
        "max %.3f ms" % (target, member + 1,
                         "leader" if via_leader else "follower",
                         r["ops_per_s"], r["p50_ms"], r["p99_ms"], r["max_ms"]))
    return r["mean_ms"]


def seq_put_leader_ours(conn, scale):
    return seq_put("nosql", scale, True)


def seq_put_leader_peer(conn, scale):
    return seq_put("etcd", scale, True)


def seq_put_follower_ours(conn, scale):
    return seq_put("nosql", scale, False)


def seq_put_follower_peer(conn, scale):
    return seq_put("etcd", scale, False)


# --- 64-client throughput ---

def par_put(target, scale):
    group = GROUPS[target]
    n = scaled(PAR_PUTS, scale)
    r = workload(group, range(MEMBERS), "put", prefix="/bench/put64/",
                 keys=n, ops=n, clients=PAR_CLIENTS)
    log("    %s: %.0f puts/s, p50 %.3f ms, p99 %.3f ms, max %.3f ms" % (
        target, r["ops_per_s"], r["p50_ms"], r["p99_ms"], r["max_ms"]))
    return 1000.0 / r["ops_per_s"]


def par_put_ours(conn, scale):
    return par_put("nosql", scale)


def par_put_peer(conn, scale):
    return par_put("etcd", scale)


# --- linearizable get on a follower ---

def get(target, scale):
    group = GROUPS[target]
    _, followers = roles(group)
    r = workload(group, [followers[0]], "get", prefix="/bench/get/",
                 keys=GET_KEYS, ops=scaled(GETS, scale))
    log("    %s on follower %d: %.0f gets/s, p50 %.3f ms, p99 %.3f ms, "
        "max %.3f ms" % (target, followers[0] + 1, r["ops_per_s"],
                         r["p50_ms"], r["p99_ms"], r["max_ms"]))
    return r["mean_ms"]


def get_ours(conn, scale):
    return get("nosql", scale)


def get_peer(conn, scale):
    return get("etcd", scale)


# --- failover ---

def failover_trial(group):
    group.wait_converged()
    leader, survivors = roles(group)
    argv = [kv.CLIENT] + target_args(group, survivors) + [
        "-op", "failover", "-prefix", "/bench/failover/", "-keys", "1000",
        "-interval", "10ms", "-timeout", "5s"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            raise RuntimeError("raft: failover client: %r %s" % (
                line, proc.stderr.read()))
        killed_ns = group.kill_leader(leader)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        group.wait_stopped(leader)
        out, err = proc.communicate(timeout=180)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError("raft: failover client failed (exit %d):\n%s" % (
            proc.returncode, err))
    r = json.loads(out.strip().splitlines()[-1])
    seconds = (r["success_unix_ns"] - killed_ns) / 1e9
    group.restart(leader)
    t = time.monotonic()
    group.wait_converged()
    errors = "; ".join("%dx %s" % (n, e) for e, n in sorted(
        r["errors"].items(), key=lambda kv_: -kv_[1])[:3])
    log("      %s: leader %d killed; first write after %.3f s (attempt sent "
        "%.3f s after the kill; %d attempts, %d failed%s%s); converged "
        "%.1f s after the restart" % (
            group.target, leader + 1, seconds,
            (r["winner_sent_unix_ns"] - killed_ns) / 1e9, r["attempts"],
            r["failed"], ", %d sessions" % r["connections"]
            if group.target == "nosql" else "",
            ": " + errors if errors else "", time.monotonic() - t))
    return seconds


def failover(target, scale):
    group = GROUPS[target]
    trials = [failover_trial(group) for _ in range(FAILOVER_TRIALS)]
    log("    %s: failover median %.3f s over %d trials: %s" % (
        target, statistics.median(trials), len(trials),
        ", ".join("%.3f" % t for t in trials)))
    return statistics.median(trials)


def failover_ours(conn, scale):
    return failover("nosql", scale)


def failover_peer(conn, scale):
    return failover("etcd", scale)


def thousands(n):
    return "{:,}".format(n)


def case_name(name):
    return name if FACTOR == 1 else "%s (factor %g)" % (name, FACTOR)


CASES = [
    (case_name("sequential put via the leader, 1 client, %s puts"
               % thousands(SEQ_PUTS)),
     seq_put_leader_ours, seq_put_leader_peer, "ms/put"),
    (case_name("sequential put via a follower, 1 client, %s puts"
               % thousands(SEQ_PUTS)),
     seq_put_follower_ours, seq_put_follower_peer, "ms/put"),
    (case_name("put throughput, %d clients over 3 members, %s puts"
               % (PAR_CLIENTS, thousands(PAR_PUTS))),
     par_put_ours, par_put_peer, "s/1000 puts"),
    (case_name("linearizable get on a follower, 1 client, %s gets"
               % thousands(GETS)),
     get_ours, get_peer, "ms/get"),
    (case_name("failover: leader killed to first write, median of %d"
               % FAILOVER_TRIALS),
     failover_ours, failover_peer, "s (median)"),
]
