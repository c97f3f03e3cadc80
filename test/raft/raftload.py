#!/usr/bin/python3
"""raftload: drive the replicated key-value store and record a history.

Usage:
    python3 test/raft/raftload.py --dsn 'host=... port=... dbname=postgres user=...' \\
        [--dsn ...] --clients N --keys K --duration SECONDS --history FILE \\
        [--read-ratio 0.5] [--seed S] [--statement-timeout 5] \\
        [--key-prefix k] [--no-reset] [--stale-read-injection P]

Each client is a thread with one connection at a time to one node (client i
starts at DSN i mod the number of DSNs).  It loops until the duration is up:
pick a key k<i> at random, then either put a value unique to the run,
"c<client>-<n>", with nosql.kv_put(key, value) (text overload), or get the
key's value with convert_from((nosql.kv_get(key)).value, 'UTF8') (NULL: the
key is absent; nosql.kv_get returns a NULL nosql.kv then).  Every operation
is recorded in the history file for lincheck.py as an "invoke" event taken
just before the statement is sent and a completion taken just after the
answer, both with time.monotonic():

    {"process": P, "type": "invoke", "f": "put", "key": "k3", "value": "c2-41", "time": T, "node": I}
    {"process": P, "type": "ok"|"fail"|"info", "f": "put", "key": "k3", "value": ..., "time": T}

Classification of a completion:
  * success: "ok" (a get records what it read);
  * a get that fails in any way: "fail" (a read has no effect);
  * a put whose error is in a class that certainly did not apply it:
    "fail" (SQLSTATE classes 55 object not in prerequisite state, 25 invalid
    transaction state, 42 syntax or access, 53 insufficient resources, and
    the code 57P03 the raft client raises before submitting anything when
    the node's raft worker is not running; see --definite-fail-classes);
  * any other put error: "info", the outcome is unknown: 08007
    (transaction_resolution_unknown), 57014 (statement timeout or cancel), a
    lost connection, the client-side deadline, anything unexpected.
After an "info" the client continues as a new process id (lincheck requires
that a process with an unknown outcome issues nothing more), on a new
connection to the next node.  After a lost connection, a client-side
timeout or a class 55 error (a node that cannot serve, e.g. not the leader)
the client also moves to the next node.  Connection attempts that fail are
retried on the next node after a short backoff (50 ms doubling up to 1 s),
so the load keeps running while nodes are down or partitioned.

Design note
-----------
Connections are psycopg2 asynchronous connections (always autocommit),
driven by a poll/select loop with a client-side deadline: the server's
statement_timeout (set with the connection's options) covers a statement
stuck inside a live server, the client deadline (statement timeout + 2 s)
covers a server that is stopped, frozen or cut off and will never answer;
the connection is then abandoned.  Events are appended to the history file
under a lock as they happen, so each process's completion follows its
invoke in the file; lincheck orders operations by their times.  Before the
load starts the keys are deleted (nosql.kv_delete, retried on every node
for up to 30 s, not recorded) so that every key starts absent, which is
lincheck's default initial state; --no-reset skips that.

--stale-read-injection P is the negative control: with probability P a
get's result is replaced by the previous value this client saw for that key
(by its own put or get), when that differs from what was read; such events
carry "injected": true.  Not every injection is a violation (the newer value
may come from a put concurrent with the read), but over thousands of reads
some are, and lincheck must find one.

Output: one line on stdout, "raftload: N ops (ok X, fail Y, info Z)",
then "raftload: ..." detail lines (errors by SQLSTATE, injected reads).
Exit status 0, or 1 when the keys could not be reset or no operation
succeeded at all.
"""

import argparse
import json
import random
import select
import signal
import sys
import threading
import time

import psycopg2
import psycopg2.extensions

PUT_SQL = "SELECT nosql.kv_put(%s::text, %s::text)"
GET_SQL = "SELECT convert_from((nosql.kv_get(%s::text)).value, 'UTF8')"
DELETE_SQL = "SELECT nosql.kv_delete(%s::text)"


class ClientTimeout(Exception):
    pass


def wait(conn, deadline):
    """Drive an asynchronous connection until its current work is done."""
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ClientTimeout()
        if state == psycopg2.extensions.POLL_READ:
            select.select([conn.fileno()], [], [], remaining)
        elif state == psycopg2.extensions.POLL_WRITE:
            select.select([], [conn.fileno()], [], remaining)
        else:
            raise psycopg2.OperationalError('bad poll state %r' % state)


def close_quietly(conn):
    if conn is not None:
        try:
            conn.close()
        except Exception:
            pass


class Load:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.history = open(args.history, 'w')
        self.next_pid = args.clients
        self.stop = threading.Event()
        self.counts = {'ok': 0, 'fail': 0, 'info': 0}
        self.errors = {}
        self.injected = 0
        self.keys = ['%s%d' % (args.key_prefix, i) for i in range(args.keys)]
        self.fail_classes = set(c.strip() for c in args.definite_fail_classes.split(',') if c.strip())
        self.timeout = args.statement_timeout
        self.client_deadline = args.statement_timeout + 2.0

    def connect(self, node):
        dsn = psycopg2.extensions.make_dsn(
            self.args.dsn[node],
            options='-c statement_timeout=%d' % int(self.timeout * 1000),
            application_name='raftload')
        conn = psycopg2.connect(dsn, async_=1)
        try:
            wait(conn, time.monotonic() + self.client_deadline)
        except BaseException:
            close_quietly(conn)
            raise
        return conn

    def record(self, event, count=None, sqlstate=None):
        line = json.dumps(event)
        with self.lock:
            self.history.write(line + '\n')
            if count is not None:
                self.counts[count] += 1
            if sqlstate is not None:
                self.errors[sqlstate] = self.errors.get(sqlstate, 0) + 1

    def new_pid(self):
        with self.lock:
            pid = self.next_pid
            self.next_pid += 1
            return pid

    def classify(self, f, err):
        """(completion type, SQLSTATE or a name, connection lost?)"""
        if isinstance(err, ClientTimeout):
            return ('fail' if f == 'get' else 'info'), 'client-timeout', True
        code = getattr(err, 'pgcode', None)
        lost = code is None or code.startswith('08')
        name = code or 'connection'
        if f == 'get':
            return 'fail', name, lost
        if code is None or code in ('08007', '57014'):
            return 'info', name, lost
        if code[:2] in self.fail_classes or code in self.fail_classes:
            return 'fail', name, lost
        return 'info', name, lost

    def client(self, c, end):
        rng = random.Random(None if self.args.seed is None else self.args.seed * 1000003 + c)
        ndsn = len(self.args.dsn)
        node = c % ndsn
        pid = c
        n = 0
        conn = None
        backoff = 0.05
        last_seen = {}
        while not self.stop.is_set() and time.monotonic() < end:
            if conn is None:
                try:
                    conn = self.connect(node)
                    backoff = 0.05
                except (psycopg2.Error, ClientTimeout):
                    node = (node + 1) % ndsn
                    self.stop.wait(min(backoff, max(0.0, end - time.monotonic())))
                    backoff = min(backoff * 2, 1.0)
                    continue
            key = rng.choice(self.keys)
            if rng.random() < self.args.read_ratio:
                f, value, sql, params = 'get', None, GET_SQL, (key,)
            else:
                n += 1
                value = 'c%d-%d' % (c, n)
                f, sql, params = 'put', PUT_SQL, (key, value)
            self.record({'process': pid, 'type': 'invoke', 'f': f, 'key': key,
                         'value': value, 'time': time.monotonic(), 'node': node})
            try:
                cur = conn.cursor()
                cur.execute(sql, params)
                wait(conn, time.monotonic() + self.client_deadline)
                row = cur.fetchone()
                t = time.monotonic()
                cur.close()
            except (psycopg2.Error, ClientTimeout) as err:
                t = time.monotonic()
                typ, name, lost = self.classify(f, err)
                self.record({'process': pid, 'type': typ, 'f': f, 'key': key,
                             'value': value, 'time': t, 'error': name}, typ, name)
                if typ == 'info':
                    pid = self.new_pid()
                if typ == 'info' or lost or name.startswith('55') or conn.closed:
                    close_quietly(conn)
                    conn = None
                    node = (node + 1) % ndsn
                continue
            event = {'process': pid, 'type': 'ok', 'f': f, 'key': key, 'time': t}
            if f == 'get':
                got = row[0]
                prev = last_seen.get(key, got)
                last_seen[key] = got
                if (self.args.stale_read_injection > 0 and prev != got
                        and rng.random() < self.args.stale_read_injection):
                    event['injected'] = True
                    got = prev
                    with self.lock:
                        self.injected += 1
                event['value'] = got
            else:
                event['value'] = value
                last_seen[key] = value
            self.record(event, 'ok')
        close_quietly(conn)

    def reset(self):
        """Delete the keys so that each starts absent (not recorded)."""
        deadline = time.monotonic() + 30
        node = 0
        last = None
        while time.monotonic() < deadline and not self.stop.is_set():
            conn = None
            try:
                conn = self.connect(node)
                for key in self.keys:
                    cur = conn.cursor()
                    cur.execute(DELETE_SQL, (key,))
                    wait(conn, time.monotonic() + self.client_deadline)
                    cur.close()
                close_quietly(conn)
                return True
            except (psycopg2.Error, ClientTimeout) as err:
                last = err
                close_quietly(conn)
                node = (node + 1) % len(self.args.dsn)
                time.sleep(0.2)
        print('raftload: cannot reset the keys: %s' % (str(last).strip() or type(last).__name__),
              file=sys.stderr)
        return False

    def run(self):
        if not self.args.no_reset and not self.reset():
            return 1
        end = time.monotonic() + self.args.duration
        threads = [threading.Thread(target=self.client, args=(c, end), daemon=True)
                   for c in range(self.args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)
        self.history.close()
        total = sum(self.counts.values())
        print('raftload: %d ops (ok %d, fail %d, info %d)'
              % (total, self.counts['ok'], self.counts['fail'], self.counts['info']))
        if self.errors:
            print('raftload: errors: %s' % ', '.join(
                '%s x%d' % (k, v) for k, v in sorted(self.errors.items())))
        if self.args.stale_read_injection > 0:
            print('raftload: injected %d stale reads' % self.injected)
        sys.stdout.flush()
        return 0 if self.counts['ok'] > 0 else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description='Drive the replicated key-value store and record '
                                 'a history for lincheck.py.')
    ap.add_argument('--dsn', action='append', required=True, help='a node (repeat for each)')
    ap.add_argument('--clients', type=int, default=8)
    ap.add_argument('--keys', type=int, default=10)
    ap.add_argument('--duration', type=float, default=10.0, help='seconds')
    ap.add_argument('--history', required=True, help='the JSON-lines history to write')
    ap.add_argument('--read-ratio', type=float, default=0.5)
    ap.add_argument('--seed', type=int, default=None)
    ap.add_argument('--statement-timeout', type=float, default=5.0,
                    help='seconds (server-side; the client gives up 2 s later)')
    ap.add_argument('--key-prefix', default='k')
    ap.add_argument('--no-reset', action='store_true',
                    help='do not delete the keys first')
    ap.add_argument('--definite-fail-classes', default='55,25,42,53,57P03',
                    help='SQLSTATE classes (2 characters) or codes (5) that mean a put '
                    'certainly did not apply (57P03: the raft worker is not running, '
                    'checked before the request is submitted)')
    ap.add_argument('--stale-read-injection', type=float, default=0.0, metavar='P')
    args = ap.parse_args(argv)
    if args.clients < 1 or args.keys < 1:
        ap.error('--clients and --keys must be at least 1')
    load = Load(args)

    def on_signal(signum, frame):
        load.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return load.run()


if __name__ == '__main__':
    sys.exit(main())
