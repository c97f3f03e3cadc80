"""cdclatency: change streams as a client sees them, through nosql.watch:
commit-to-delivery latency, and the server CPU of many watchers.

Issue 8's "Speed" asks for two figures besides the decoding rate (bench
cdc): an event delivered p50 <= 2 ms and p99 <= 10 ms after its commit at
20 transactions/s, and 100 concurrent watchers costing at most 1.5x the CPU
of one.  Both are measured here through the SQL API only (run_command to
write, nosql.watch to read), as a client would, never through internals.

Latency (two cases, one measurement per run: the p99 case reports the p99
of the runs the p50 case made, so each run costs ~20 s per side, not 40):

- ours: a writer connection commits one small document insert
  (`nosql.run_command('benchdb', '{"insert": "lat", "documents": [...]}')`,
  one transaction, durable commit) every 50 ms, and notes when the reply
  arrived (time.perf_counter); a watcher connection, in a thread of the same
  process, loops on `nosql.watch('benchdb.lat', resume_after => <last
  _id>, max_wait_ms => 1000)` from a `nosql.watch_start_token()` taken
  before the first insert, and notes when each call's rows arrived.  The
  latency of a document is its arrival minus its commit acknowledgement
  (documents carry a sequence number); 10 warm-up transactions, then 400
  measured (20 s).
- peer: the PostgreSQL-native floor for commit-to-delivery, LISTEN/NOTIFY:
  the writer inserts the same document into a plain jsonb table and
  `pg_notify`s it in the same statement (one transaction, durable commit);
  a listener connection waits with poll() on its socket and reads the
  notifications (psycopg2's poll), at the same rate and counts.

Every event must arrive exactly once, in order, with its document; the run
fails otherwise.  Figures in ms, p50 and p99 (nearest rank); the log adds
mean and max.  A notification is sent as the commit is acknowledged, so the
listener often reads it before the writer's thread has seen its own
acknowledgement: such a sample (its sign is noise between two threads of
the client) counts as 0, and the log says how many there were.  The peer's
figures are therefore ~0 and the ratio says little; what matters is ours
against the issue's targets, and ours minus the peer (what the decoder path
adds to PostgreSQL's own signalling).

CPU (two cases, one measurement of 100 watchers per run that both report):
a writer commits 3,000 inserts at 200/s (15 s) while N watcher connections
each loop on nosql.watch(max_wait_ms => 1000) from the
same start token until they have every event.  The figure is the CPU time
(utime + stime from /proc/PID/stat) of the whole server — the postmaster and
every process it started: the decoder "nosql cdc decoder", the watchers'
backends, the WAL writer, ... — from just before the first insert to the
moment the last watcher has its last event, minus the writer's own backend.
Only server processes are counted: the Python client (one thread per
watcher) is not, and its own CPU is logged beside the figure, with the
watch calls made and the events per call (a slow client batches more
events per call, which is less work for the server: look at it when the
machine is loaded).  Every watcher must get every event exactly once, in
order.

- 100 watchers vs 1: "ours" is 100 watchers, the "peer" column is the same
  workload with 1 watcher, so peer/ours is the issue's ratio inverted: the
  target 100 watchers <= 1.5x one watcher is peer/ours >= 0.67.
- 100 watchers vs 100 LISTEN sessions: the same 100-watcher figure against
  the writer of the latency peer (insert into a jsonb table + pg_notify of
  the document) with 100 listening connections; the decoder's CPU (it still
  wakes every second and reads the WAL) is not counted on the peer's side.

- 100 streaming watchers vs 1 streaming watcher: the same workload read
  by N connections each running one `COPY (SELECT nosql.watch_stream(...,
  max_events => 3,000)) TO STDOUT` through psycopg2's copy_expert into an
  object that parses each row as it arrives (StreamReader); the target is
  the same, peer/ours >= 0.67.

The writer keeps to its schedule only if the machine keeps up; the log
gives the rate it reached (on 2 cores, 100 watchers at 200 inserts/s
saturate the server and the writer falls behind: the work, 3,000 inserts
to every watcher, stays the same).  The server runs with max_connections =
WATCHERS + 20 (SERVER_SETTINGS).

NOSQL_BENCH_CDCLATENCY_FACTOR=0.1 scales the transaction counts (hence the
durations) down for a quick trial; the case names then say "(factor 0.1)"
so that such rows never replace full-size ones in RESULTS.md.
NOSQL_BENCH_CDCLATENCY_WATCHERS changes the 100.

The server must be on this machine (the harness's cluster is): the CPU
case reads its processes' /proc entries.
"""
import json
import os
import resource
import select
import sys
import threading
import time

import psycopg2

DESCRIPTION = ("change streams through nosql.watch: commit-to-delivery latency "
               "at 20 transactions/s vs LISTEN/NOTIFY, and server CPU of 100 "
               "watchers vs 1 at 200 inserts/s")

FACTOR = float(os.environ.get("NOSQL_BENCH_CDCLATENCY_FACTOR", "1"))
WATCHERS = int(os.environ.get("NOSQL_BENCH_CDCLATENCY_WATCHERS", "100"))

# 100 watchers, the writer and the harness's own connection
SERVER_SETTINGS = {"max_connections": str(max(100, WATCHERS + 20))}

DB = "benchdb"
LAT_COLL = "lat"
CPU_COLL = "cpu"
PEER_TABLE = "bench_cdclatency_peer"
CHANNEL = "bench_cdclatency"

LAT_RATE = 20            # transactions/s
LAT_TXNS = 400           # measured, 20 s at 20/s
LAT_WARMUP = 10          # written and checked, not measured
CPU_RATE = 200           # inserts/s
CPU_TXNS = 3000          # 15 s at 200/s
MAX_WAIT_MS = 1000
# how long after the last commit a reader may take to get every event
DELIVERY_DEADLINE = 30.0

# ~120 bytes of document besides _id, run and seq
PAD = "x" * 80


def scaled(n):
    return max(1, int(n * FACTOR))


def log(message):
    print(message, flush=True, file=sys.stderr)


def run(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone() if cur.description else None


def connect(conn, name):
    """A new autocommit connection to the harness's database."""
    info = conn.info
    c = psycopg2.connect(host=info.host, port=info.port, user=info.user,
                         dbname=info.dbname,
                         application_name="nosql-bench-" + name)
    c.autocommit = True
    return c


RUN = 0


def next_run():
    """A number that makes this call's documents' _id distinct."""
    global RUN
    RUN += 1
    return RUN


def document(run_no, seq):
    return {"_id": run_no * 1_000_000 + seq, "run": run_no, "seq": seq,
            "city": "city%d" % (seq % 100), "score": seq % 1000, "pad": PAD}


def setup(conn, scale):
    with conn.cursor() as cur:
        cur.execute("SHOW wal_level")
        if cur.fetchone()[0] != "logical":
            raise RuntimeError("cdclatency: change streams need wal_level = logical")
        for coll in (LAT_COLL, CPU_COLL):
            cur.execute("SELECT nosql.create_collection(%s)", ("%s.%s" % (DB, coll),))
        cur.execute("CREATE TABLE %s (id bigint PRIMARY KEY, doc jsonb NOT NULL)"
                    % PEER_TABLE)
        # starts the database's decoder (and creates its slot) untimed
        cur.execute("SELECT nosql.watch_start_token()")


# --- writers ---

class OursWriter:
    """Inserts one document per transaction through the document API."""

    def __init__(self, conn, coll):
        self.conn = connect(conn, "writer")
        self.coll = coll
        self.pid = run(self.conn, "SELECT pg_backend_pid()")[0]

    def write(self, doc):
        """Commits doc; the time its acknowledgement arrived."""
        command = json.dumps({"insert": self.coll, "documents": [doc]})
        with self.conn.cursor() as cur:
            cur.execute("SELECT nosql.run_command(%s, %s::nosql.bson)", (DB, command))
            acked = time.perf_counter()
            reply = json.loads(cur.fetchone()[0])
        if reply.get("n") != 1 or "writeErrors" in reply:
            raise RuntimeError("cdclatency: insert failed: %r" % (reply,))
        return acked

    def close(self):
        self.conn.close()


class PeerWriter:
    """Inserts one row into a jsonb table and NOTIFYs its document, in one
    statement (one transaction)."""

    def __init__(self, conn):
        self.conn = connect(conn, "writer")
        self.pid = run(self.conn, "SELECT pg_backend_pid()")[0]

    def write(self, doc):
        """Commits doc; the time its acknowledgement arrived."""
        with self.conn.cursor() as cur:
            cur.execute("WITH ins AS (INSERT INTO %s VALUES (%%s, %%s::jsonb) "
                        "RETURNING doc) SELECT count(pg_notify('%s', doc::text)) "
                        "FROM ins" % (PEER_TABLE, CHANNEL),
                        (doc["_id"], json.dumps(doc)))
            acked = time.perf_counter()
            n = cur.fetchone()[0]
        if n != 1:
            raise RuntimeError("cdclatency: peer insert wrote %r rows" % n)
        return acked

    def close(self):
        self.conn.close()


def write_paced(writer, run_no, first, count, rate, acks=None):
    """Writes documents first .. first+count-1, one every 1/rate s on a
    fixed schedule (a late write does not push the later ones back); the
    commit acknowledgement times go into acks[seq]."""
    period = 1.0 / rate
    start = time.perf_counter()
    for i in range(count):
        seq = first + i
        due = start + i * period
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        acked = writer.write(document(run_no, seq))
        if acks is not None:
            acks[seq] = acked
    return time.perf_counter() - start


# --- readers ---

class Reader(threading.Thread):
    """Reads the events of one run, seq 0 .. expected-1, in a thread; notes
    when each arrived.  Fails (self.error) on a missing, doubled or
    out-of-order event."""

    def __init__(self, conn, name, run_no, expected):
        super().__init__(name=name, daemon=True)
        self.conn = connect(conn, name)
        self.pid = run(self.conn, "SELECT pg_backend_pid()")[0]
        self.run_no = run_no
        self.expected = expected
        self.arrivals = [None] * expected
        self.received = 0
        self.calls = 0
        self.ready = threading.Event()
        self.go = threading.Event()
        self.deadline = None      # set by the writer once it is done
        self.error = None

    def got(self, doc, when):
        if doc.get("run") != self.run_no:
            raise RuntimeError("%s: event of another run: %r" % (self.name, doc))
        seq = doc["seq"]
        if not 0 <= seq < self.expected:
            raise RuntimeError("%s: unexpected seq %r" % (self.name, seq))
        if self.arrivals[seq] is not None:
            raise RuntimeError("%s: seq %d delivered twice" % (self.name, seq))
        if seq != self.received:
            raise RuntimeError("%s: seq %d delivered after %d events (out of "
                               "order or one missing)" % (self.name, seq,
                                                          self.received))
        if doc != document(self.run_no, seq):
            raise RuntimeError("%s: wrong document for seq %d: %r"
                               % (self.name, seq, doc))
        self.arrivals[seq] = when
        self.received += 1

    def run(self):
        try:
            self.prime()
            self.ready.set()
            self.go.wait()
            while self.received < self.expected:
                if self.deadline is not None and time.perf_counter() > self.deadline:
                    raise RuntimeError(
                        "%s: %d of %d events %.0f s after the last commit"
                        % (self.name, self.received, self.expected,
                           DELIVERY_DEADLINE))
                self.read()
        except BaseException as error:
            self.error = error
        finally:
            self.ready.set()
        # the connection stays open (close_readers): a backend that exits
        # takes its CPU time out of /proc before the window closes

    def check(self):
        if self.error is not None:
            raise self.error
        if self.received != self.expected:
            raise RuntimeError("%s: %d of %d events"
                               % (self.name, self.received, self.expected))


class WatchReader(Reader):
    """Loops on nosql.watch, resuming after the last event it got."""

    def __init__(self, conn, name, run_no, expected, coll, token):
        super().__init__(conn, name, run_no, expected)
        self.ns = "%s.%s" % (DB, coll)
        self.token = token
        self.cur = self.conn.cursor()

    def call(self, max_wait_ms):
        self.cur.execute("SELECT * FROM nosql.watch(%s, resume_after => %s::nosql.bson, "
                         "max_wait_ms => %s)", (self.ns, self.token, max_wait_ms))
        rows = self.cur.fetchall()
        when = time.perf_counter()
        self.calls += 1
        return rows, when

    def prime(self):
        # a first call, so that what one backend does once (loading the
        # library, filling its caches) is not in the measurement
        rows, _ = self.call(0)
        self.calls = 0
        if rows:
            raise RuntimeError("%s: events before the first insert: %r"
                               % (self.name, rows[:3]))

    def read(self):
        rows, when = self.call(MAX_WAIT_MS)
        for (text,) in rows:
            event = json.loads(text)
            if event.get("operationType") != "insert":
                raise RuntimeError("%s: unexpected event %r" % (self.name, event))
            self.got(event["fullDocument"], when)
            self.token = json.dumps(event["_id"])


class StreamReader(Reader):
    """One nosql.watch_stream call, read with COPY (SELECT
    nosql.watch_stream(...)) TO STDOUT through psycopg2's copy_expert into
    this object, which parses the rows as they arrive; the call ends after
    the expected number of events (max_events), or after DELIVERY_DEADLINE
    without one (idle_timeout_ms), and is made again from the last token
    only if events are missing."""

    def __init__(self, conn, name, run_no, expected, coll, token):
        super().__init__(conn, name, run_no, expected)
        self.ns = "%s.%s" % (DB, coll)
        self.token = token
        self.cur = self.conn.cursor()
        self.pending = ""

    def stream(self, max_events, idle_ms):
        sql = self.cur.mogrify(
            "COPY (SELECT nosql.watch_stream(%s, resume_after => %s::nosql.bson, "
            "max_events => %s, idle_timeout_ms => %s)) TO STDOUT",
            (self.ns, self.token, max_events, idle_ms))
        self.calls += 1
        self.cur.copy_expert(sql.decode() if isinstance(sql, bytes) else sql, self)

    def write(self, data):
        """copy_expert's output: rows as they come, split anywhere."""
        when = time.perf_counter()
        if isinstance(data, bytes):
            data = data.decode()
        self.pending += data
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            event = json.loads(line)
            if event.get("operationType") != "insert":
                raise RuntimeError("%s: unexpected event %r" % (self.name, event))
            self.got(event["fullDocument"], when)
            self.token = json.dumps(event["_id"])

    def prime(self):
        # a first call, so that what one backend does once (loading the
        # library, filling its caches) is not in the measurement
        self.stream(0, 1)
        self.calls = 0
        if self.received:
            raise RuntimeError("%s: events before the first insert" % self.name)

    def read(self):
        self.stream(self.expected - self.received, int(DELIVERY_DEADLINE * 1000))


class NotifyReader(Reader):
    """LISTENs and waits for notifications on its socket (poll(2))."""

    def prime(self):
        run(self.conn, "LISTEN " + CHANNEL)
        self.poller = select.poll()
        self.poller.register(self.conn, select.POLLIN)

    def read(self):
        if self.poller.poll(MAX_WAIT_MS):
            self.conn.poll()
            when = time.perf_counter()
            self.calls += 1
            while self.conn.notifies:
                note = self.conn.notifies.pop(0)
                if note.channel == CHANNEL:
                    self.got(json.loads(note.payload), when)


def start_readers(readers):
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.ready.wait()
    for reader in readers:
        if reader.error is not None:
            raise reader.error


def finish_readers(readers):
    deadline = time.perf_counter() + DELIVERY_DEADLINE
    for reader in readers:
        reader.deadline = deadline
    for reader in readers:
        reader.join()
    for reader in readers:
        reader.check()


def stop_readers(readers):
    """After an error: make them give up at once."""
    for reader in readers:
        reader.deadline = 0.0
        reader.go.set()
    for reader in readers:
        if reader.ident is not None:
            reader.join(MAX_WAIT_MS / 1000.0 + 5)


def close_readers(readers):
    for reader in readers:
        if not reader.is_alive():
            reader.conn.close()


# --- latency ---

def percentile(values, p):
    """Nearest rank."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


LATENCIES = {"ours": [], "peer": []}


def latency_run(conn, side):
    run_no = next_run()
    total = LAT_WARMUP + scaled(LAT_TXNS)
    acks = [None] * total
    if side == "ours":
        writer = OursWriter(conn, LAT_COLL)
        token = run(conn, "SELECT nosql.watch_start_token()")[0]
        reader = WatchReader(conn, "watcher", run_no, total, LAT_COLL, token)
    else:
        writer = PeerWriter(conn)
        reader = NotifyReader(conn, "listener", run_no, total)
    try:
        start_readers([reader])
        reader.go.set()
        elapsed = write_paced(writer, run_no, 0, total, LAT_RATE, acks)
        finish_readers([reader])
    except BaseException:
        stop_readers([reader])
        raise
    finally:
        writer.close()
        close_readers([reader])
    raw = [(reader.arrivals[i] - acks[i]) * 1000.0 for i in range(LAT_WARMUP, total)]
    # an event read before the writer's thread saw the acknowledgement was
    # sent as the commit was acknowledged: no delay, 0
    lat = [max(0.0, ms) for ms in raw]
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    log("    %s: %d transactions at %.1f/s, %d reads: commit-to-delivery p50 %.3f ms, "
        "p99 %.3f ms, mean %.3f ms, max %.3f ms; %d read before the writer saw "
        "its acknowledgement (counted as 0; earliest %.3f ms before)" % (
            side, len(lat), total / elapsed, reader.calls, p50, p99,
            sum(lat) / len(lat), max(lat), sum(1 for ms in raw if ms < 0),
            max(0.0, -min(raw))))
    LATENCIES[side].append((p50, p99))
    return p50


def latency_p99(side, conn):
    # the p99 of the run the p50 case made, in the same order; measured
    # afresh only if there is none left
    if not LATENCIES[side]:
        latency_run(conn, side)
    return LATENCIES[side].pop(0)[1]


def lat_p50_ours(conn, scale):
    return latency_run(conn, "ours")


def lat_p50_peer(conn, scale):
    return latency_run(conn, "peer")


def lat_p99_ours(conn, scale):
    return latency_p99("ours", conn)


def lat_p99_peer(conn, scale):
    return latency_p99("peer", conn)


# --- CPU of N watchers ---

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    """(ppid, utime + stime in ticks) of a process, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    # comm, in parentheses, may hold spaces: the fields after it
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def proc_title(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def server_cpu(postmaster):
    """{pid: ticks} of the postmaster and its children."""
    ticks = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat is not None and (stat[0] == postmaster or int(entry) == postmaster):
                ticks[int(entry)] = stat[1]
    return ticks


def postmaster_pid(conn):
    backend = run(conn, "SELECT pg_backend_pid()")[0]
    stat = proc_stat(backend)
    if stat is None:
        raise RuntimeError("cdclatency: the server's processes are not in this "
                           "machine's /proc (backend %d)" % backend)
    return stat[0]


def cpu_run(conn, watchers, side="ours"):
    """Server CPU-seconds (without the writer's backend) for CPU_TXNS
    inserts at CPU_RATE delivered to `watchers` readers: nosql.watch
    (ours) or LISTEN sessions (peer)."""
    run_no = next_run()
    total = scaled(CPU_TXNS)
    postmaster = postmaster_pid(conn)
    readers = []
    if side in ("ours", "stream"):
        writer = OursWriter(conn, CPU_COLL)
        token = run(conn, "SELECT nosql.watch_start_token()")[0]
    else:
        writer = PeerWriter(conn)
    try:
        for i in range(watchers):
            if side == "ours":
                readers.append(WatchReader(conn, "watcher%d" % i, run_no, total,
                                           CPU_COLL, token))
            elif side == "stream":
                readers.append(StreamReader(conn, "streamer%d" % i, run_no, total,
                                            CPU_COLL, token))
            else:
                readers.append(NotifyReader(conn, "listener%d" % i, run_no, total))
        start_readers(readers)
        before = server_cpu(postmaster)
        client_before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        for reader in readers:
            reader.go.set()
        acks = [None] * total
        elapsed = write_paced(writer, run_no, 0, total, CPU_RATE, acks)
        finish_readers(readers)
        wall = time.perf_counter() - t0
        after = server_cpu(postmaster)
        client_after = resource.getrusage(resource.RUSAGE_SELF)
    except BaseException:
        stop_readers(readers)
        raise
    finally:
        writer.close()
        close_readers(readers)
    used = {pid: ticks - before.get(pid, 0) for pid, ticks in after.items()}
    gone = sorted(set(before) - set(after))
    watcher_pids = {reader.pid for reader in readers}
    decoder = sum(t for pid, t in used.items() if "cdc decoder" in proc_title(pid))
    watching = sum(used.get(pid, 0) for pid in watcher_pids)
    writing = used.get(writer.pid, 0)
    figure = sum(used.values()) - writing
    if side == "peer":
        # the decoder has nothing to do with LISTEN/NOTIFY (it still wakes
        # every second and reads the peer's WAL, finding no collection)
        figure -= decoder
    others = sorted(((t, proc_title(pid)) for pid, t in used.items()
                     if t > 0 and pid not in watcher_pids and pid != writer.pid
                     and "cdc decoder" not in proc_title(pid)), reverse=True)
    calls = sum(reader.calls for reader in readers)
    # acknowledgement to arrival in the client, over every reader and event
    # (the client's threads share one interpreter: with 100 of them this is
    # what a loaded client sees, an upper bound of the server's part)
    delays = sorted(max(0.0, (reader.arrivals[i] - acks[i]) * 1000.0)
                    for reader in readers for i in range(total))
    delivery = " delivery p50 %.1f ms, p99 %.1f ms;" % (
        percentile(delays, 50), percentile(delays, 99)) if delays else ""
    client = (client_after.ru_utime - client_before.ru_utime
              + client_after.ru_stime - client_before.ru_stime)
    log("    %s, %d %s(s): %d inserts at %.0f/s, all delivered after %.2f s; "
        "server CPU %.2f s without the writer's backend%s (decoder %.2f, readers "
        "%.2f, other %.2f%s; writer %.2f); %d reads, %.1f events per read;%s "
        "client CPU %.2f s (%.0f%% of a core)%s" % (
            side, watchers, "listener" if side == "peer" else "watcher",
            total, total / elapsed, wall, figure / CLK_TCK,
            " and the decoder" if side == "peer" else "",
            decoder / CLK_TCK, watching / CLK_TCK,
            (sum(used.values()) - writing - decoder - watching) / CLK_TCK,
            "".join(": %s %.2f" % (title, t / CLK_TCK) if i == 0 else
                    ", %s %.2f" % (title, t / CLK_TCK)
                    for i, (t, title) in enumerate(others[:4])),
            writing / CLK_TCK,
            calls, total * watchers / max(1, calls), delivery, client,
            100.0 * client / wall,
            "; processes gone meanwhile (their CPU is not counted): %s" % gone
            if gone else ""))
    return figure / CLK_TCK


CPU_MANY = []


def cpu_many(conn, scale):
    CPU_MANY.append(cpu_run(conn, WATCHERS))
    return CPU_MANY[-1]


def cpu_one(conn, scale):
    return cpu_run(conn, 1)


def cpu_many_again(conn, scale):
    # the figure of the run the previous case made, in the same order;
    # measured afresh only if there is none left
    return CPU_MANY.pop(0) if CPU_MANY else cpu_run(conn, WATCHERS)


def cpu_many_listen(conn, scale):
    return cpu_run(conn, WATCHERS, "peer")


def cpu_many_stream(conn, scale):
    return cpu_run(conn, WATCHERS, "stream")


def cpu_one_stream(conn, scale):
    return cpu_run(conn, 1, "stream")


def case_name(name):
    """A trial at other counts never replaces a full-size row of RESULTS.md."""
    return name if FACTOR == 1 else "%s (factor %g)" % (name, FACTOR)


CASES = [
    (case_name("commit-to-delivery p50 at 20 tx/s: nosql.watch vs LISTEN/NOTIFY"),
     lat_p50_ours, lat_p50_peer, "ms"),
    (case_name("commit-to-delivery p99 at 20 tx/s: nosql.watch vs LISTEN/NOTIFY"),
     lat_p99_ours, lat_p99_peer, "ms"),
    (case_name("server CPU, 3,000 inserts at 200/s: %d watchers (ours) vs 1 watcher (peer)"
               % WATCHERS),
     cpu_many, cpu_one, "CPU-s"),
    (case_name("server CPU, 3,000 inserts at 200/s to %d readers: nosql.watch vs LISTEN/NOTIFY"
               % WATCHERS),
     cpu_many_again, cpu_many_listen, "CPU-s"),
    (case_name("server CPU, 3,000 inserts at 200/s: %d streaming watchers (ours) vs 1 streaming watcher (peer)"
               % WATCHERS),
     cpu_many_stream, cpu_one_stream, "CPU-s"),
]
