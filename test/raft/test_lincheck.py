#!/usr/bin/python3
"""Unit tests of lincheck.py (run: python3 test/raft/test_lincheck.py).

Design note
-----------
Two kinds of test.  Hand-written histories pin down the checker's verdict on
the cases that matter for a replicated store: a stale read after a completed
write, a read of a value never written, a read that sees a write invoked
after the read returned, a read of a failed write (all caught), and
overlapping operations or unknown outcomes that are fine (all pass).

Randomized histories come from a simulated linearizable register: each
client issues operations with random durations, each operation takes effect
at a random instant inside its interval, and the register is replayed in
the order of those instants to decide what each get returns.  Some puts
fail (no effect) and some have an unknown outcome (took effect or not, at
random; the client then continues as a new process).  Such histories are
linearizable by construction and must pass.  The negative control takes the
same history and changes one read to a value that was certainly overwritten
before the read began (its put returned before the overwriting put was
invoked, and the overwriting put returned before the read was invoked), so
no linearization exists: it must be caught.

The last line printed is "lincheck tests: N passed, M failed"; the exit
status is non-zero when a test failed.  With --bench it instead times the
checker on a 20,000-operation history (the figure quoted in lincheck.py).
"""

import io
import json
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lincheck  # noqa: E402


def ev(process, typ, f, key, value, t):
    return json.dumps({'process': process, 'type': typ, 'f': f, 'key': key,
                       'value': value, 'time': t})


def run(events, **kw):
    """Check a list of event tuples; return (verdict, summary, lines)."""
    ops = lincheck.parse_history([ev(*e) for e in events])
    return lincheck.check(ops, **kw)


def simulate(seed, nops=600, clients=5, keys=3, p_fail=0.03, p_info=0.03,
             p_get=0.5):
    """A history of a linearizable register store (see the design note).
    Returns (events, ops) where ops are dicts with the simulated facts."""
    rng = random.Random(seed)
    ops = []
    next_pid = clients
    for c in range(clients):
        t = rng.random()
        pid = c
        n = 0
        while len(ops) < nops * (c + 1) // clients:
            t += rng.expovariate(2.0)
            dur = rng.expovariate(1.0 / rng.choice((0.2, 1.0, 3.0)))
            key = 'k%d' % rng.randrange(keys)
            f = 'get' if rng.random() < p_get else 'put'
            n += 1
            op = {'pid': pid, 'f': f, 'key': key, 'call': t, 'ret': t + dur,
                  'value': 'c%d-%d' % (c, n) if f == 'put' else None}
            r = rng.random()
            if r < p_fail:
                op['status'] = 'fail'
                op['effect'] = False
            elif r < p_fail + p_info:
                op['status'] = 'info'
                op['effect'] = f == 'put' and rng.random() < 0.5
                pid = next_pid
                next_pid += 1
            else:
                op['status'] = 'ok'
                op['effect'] = True
            # the instant it takes effect: inside the interval; an unknown
            # outcome may take effect well after the client gave up
            end = op['ret'] + (rng.expovariate(0.5) if op['status'] == 'info' else 0)
            op['lin'] = rng.uniform(op['call'], end)
            ops.append(op)
            t = op['ret']
    state = {}
    for op in sorted(ops, key=lambda o: o['lin']):
        if not op['effect']:
            continue
        if op['f'] == 'put':
            state[op['key']] = op['value']
        else:
            op['value'] = state.get(op['key'])
    events = []
    for op in ops:
        events.append((op['pid'], 'invoke', op['f'], op['key'],
                       op['value'] if op['f'] == 'put' else None, op['call']))
        events.append((op['pid'], op['status'], op['f'], op['key'],
                       op['value'] if op['status'] == 'ok' or op['f'] == 'put' else None,
                       op['ret']))
    events.sort(key=lambda e: e[5])
    return events, ops


def stale_values(g, puts):
    """Values the get g certainly cannot read: null once a put completed
    before it, and any value whose put returned before another put that
    itself returned before g was invoked."""
    done = [p for p in puts if p['ret'] < g['call']]
    if not done:
        return []
    out = [] if g['value'] is None else [None]
    latest = max(done, key=lambda p: p['call'])
    for w in puts:
        if w['value'] != g['value'] and w is not latest and w['ret'] < latest['call']:
            out.append(w['value'])
    return out


def mutate(events, ops, rng):
    """The history with one ok get changed to a stale value (None: no get
    has one)."""
    puts = {}
    for op in ops:
        if op['f'] == 'put' and op['status'] == 'ok':
            puts.setdefault(op['key'], []).append(op)
    gets = [o for o in ops if o['f'] == 'get' and o['status'] == 'ok']
    rng.shuffle(gets)
    for g in gets:
        cands = stale_values(g, puts.get(g['key'], []))
        if cands:
            stale = rng.choice(cands)
            break
    else:
        return None
    out = []
    for e in events:
        if (e[0] == g['pid'] and e[1] == 'ok' and e[2] == 'get' and e[5] == g['ret']):
            e = (e[0], e[1], e[2], e[3], stale, e[5])
        out.append(e)
    return out


class HandWritten(unittest.TestCase):

    def assertLinearizable(self, events, **kw):
        verdict, summary, lines = run(events, **kw)
        self.assertEqual(verdict, 0, '\n'.join([summary] + lines))
        self.assertTrue(summary.endswith(': linearizable'), summary)

    def assertNot(self, events, key='k', **kw):
        verdict, summary, lines = run(events, **kw)
        self.assertEqual(verdict, 1, summary)
        self.assertEqual(summary, 'lincheck: NOT linearizable on key %s' % key)
        self.assertTrue(lines)
        return lines

    def test_empty(self):
        self.assertEqual(run([])[0], 0)

    def test_sequential(self):
        self.assertLinearizable([
            (1, 'invoke', 'get', 'k', None, 0), (1, 'ok', 'get', 'k', None, 1),
            (1, 'invoke', 'put', 'k', 'a', 2), (1, 'ok', 'put', 'k', 'a', 3),
            (2, 'invoke', 'get', 'k', None, 4), (2, 'ok', 'get', 'k', 'a', 5),
        ])

    def test_stale_read_after_completed_write(self):
        lines = self.assertNot([
            (1, 'invoke', 'put', 'k', 'a', 0), (1, 'ok', 'put', 'k', 'a', 1),
            (1, 'invoke', 'put', 'k', 'b', 2), (1, 'ok', 'put', 'k', 'b', 3),
            (2, 'invoke', 'get', 'k', None, 4), (2, 'ok', 'get', 'k', 'a', 5),
        ])
        text = '\n'.join(lines)
        self.assertIn('get -> "a"', text)
        self.assertIn('put("b")', text)

    def test_absent_read_after_completed_write(self):
        self.assertNot([
            (1, 'invoke', 'put', 'k', 'a', 0), (1, 'ok', 'put', 'k', 'a', 1),
            (2, 'invoke', 'get', 'k', None, 2), (2, 'ok', 'get', 'k', None, 3),
        ])

    def test_read_of_value_never_written(self):
        lines = self.assertNot([
            (1, 'invoke', 'put', 'k', 'a', 0), (1, 'ok', 'put', 'k', 'a', 1),
            (2, 'invoke', 'get', 'k', None, 0.5), (2, 'ok', 'get', 'k', 'zz', 3),
        ])
        self.assertIn('no put wrote', lines[0])

    def test_read_sees_write_invoked_after_read_ended(self):
        self.assertNot([
            (2, 'invoke', 'get', 'k', None, 0), (2, 'ok', 'get', 'k', 'a', 1),
            (1, 'invoke', 'put', 'k', 'a', 2), (1, 'ok', 'put', 'k', 'a', 3),
        ])

    def test_future_read_of_unknown_write(self):
        # the same with the write's outcome unknown: still impossible
        self.assertNot([
            (2, 'invoke', 'get', 'k', None, 0), (2, 'ok', 'get', 'k', 'a', 1),
            (1, 'invoke', 'put', 'k', 'a', 2), (1, 'info', 'put', 'k', 'a', 3),
        ])

    def test_concurrent_overlaps(self):
        # two overlapping puts, reads that order them either way while
        # overlapping, then a read after both that agrees with one order
        self.assertLinearizable([
            (1, 'invoke', 'put', 'k', 'a', 0),
            (2, 'invoke', 'put', 'k', 'b', 0.1),
            (3, 'invoke', 'get', 'k', None, 0.2),
            (4, 'invoke', 'get', 'k', None, 0.3),
            (3, 'ok', 'get', 'k', 'b', 0.4),
            (4, 'ok', 'get', 'k', 'a', 0.5),
            (1, 'ok', 'put', 'k', 'a', 1),
            (2, 'ok', 'put', 'k', 'b', 1.1),
            (3, 'invoke', 'get', 'k', None, 2), (3, 'ok', 'get', 'k', 'a', 3),
        ])

    def test_concurrent_overlaps_no_order(self):
        # overlapping reads saw b then a, a later read sees b again: a put
        # cannot be undone, so no order works
        self.assertNot([
            (1, 'invoke', 'put', 'k', 'a', 0),
            (2, 'invoke', 'put', 'k', 'b', 0.1),
            (3, 'invoke', 'get', 'k', None, 0.2),
            (3, 'ok', 'get', 'k', 'b', 0.4),
            (4, 'invoke', 'get', 'k', None, 0.45),
            (4, 'ok', 'get', 'k', 'a', 0.5),
            (1, 'ok', 'put', 'k', 'a', 1),
            (2, 'ok', 'put', 'k', 'b', 1.1),
            (3, 'invoke', 'get', 'k', None, 2), (3, 'ok', 'get', 'k', 'b', 3),
        ])

    def test_read_concurrent_with_write_sees_old_or_new(self):
        for seen in (None, 'a'):
            self.assertLinearizable([
                (1, 'invoke', 'put', 'k', 'a', 0),
                (2, 'invoke', 'get', 'k', None, 0.5), (2, 'ok', 'get', 'k', seen, 0.6),
                (1, 'ok', 'put', 'k', 'a', 1),
            ])

    def test_unknown_write_seen_later(self):
        self.assertLinearizable([
            (1, 'invoke', 'put', 'k', 'a', 0), (1, 'ok', 'put', 'k', 'a', 1),
            (2, 'invoke', 'put', 'k', 'b', 2), (2, 'info', 'put', 'k', 'b', 3),
            (3, 'invoke', 'get', 'k', None, 4), (3, 'ok', 'get', 'k', 'a', 5),
            (3, 'invoke', 'get', 'k', None, 10), (3, 'ok', 'get', 'k', 'b', 11),
            (3, 'invoke', 'get', 'k', None, 12), (3, 'ok', 'get', 'k', 'b', 13),
        ])

    def test_unknown_write_never_seen(self):
        self.assertLinearizable([
            (1, 'invoke', 'put', 'k', 'a', 0), (1, 'ok', 'put', 'k', 'a', 1),
            (2, 'invoke', 'put', 'k', 'b', 2), (2, 'info', 'put', 'k', 'b', 3),
            (3, 'invoke', 'get', 'k', None, 4), (3, 'ok', 'get', 'k', 'a', 5),
            (3, 'invoke', 'get', 'k', None, 10), (3, 'ok', 'get', 'k', 'a', 11),
        ])

    def test_unknown_write_pending_at_end(self):
        # an invoke with no completion counts as an unknown outcome
        self.assertLinearizable([
            (1, 'invoke', 'put', 'k', 'a', 0),
            (3, 'invoke', 'get', 'k', None, 4), (3, 'ok', 'get', 'k', 'a', 5),
        ])

    def test_unknown_write_seen_then_unseen(self):
        # once seen, an unknown write is in effect: reading the older value
        # afterwards is stale
        self.assertNot([
            (1, 'invoke', 'put', 'k', 'a', 0), (1, 'ok', 'put', 'k', 'a', 1),
            (2, 'invoke', 'put', 'k', 'b', 2), (2, 'info', 'put', 'k', 'b', 3),
            (3, 'invoke', 'get', 'k', None, 4), (3, 'ok', 'get', 'k', 'b', 5),
            (3, 'invoke', 'get', 'k', None, 6), (3, 'ok', 'get', 'k', 'a', 7),
        ])

    def test_failed_write_read_later(self):
        lines = self.assertNot([
            (1, 'invoke', 'put', 'k', 'a', 0), (1, 'fail', 'put', 'k', 'a', 1),
            (2, 'invoke', 'get', 'k', None, 2), (2, 'ok', 'get', 'k', 'a', 3),
        ])
        self.assertIn('failed', lines[0])

    def test_failed_and_unknown_reads_ignored(self):
        self.assertLinearizable([
            (1, 'invoke', 'put', 'k', 'a', 0), (1, 'ok', 'put', 'k', 'a', 1),
            (2, 'invoke', 'get', 'k', None, 2), (2, 'fail', 'get', 'k', None, 3),
            (4, 'invoke', 'get', 'k', None, 2), (4, 'info', 'get', 'k', None, 3),
        ])

    def test_keys_independent(self):
        lines = self.assertNot([
            (1, 'invoke', 'put', 'x', 'a', 0), (1, 'ok', 'put', 'x', 'a', 1),
            (1, 'invoke', 'put', 'y', 'b', 2), (1, 'ok', 'put', 'y', 'b', 3),
            (2, 'invoke', 'get', 'x', None, 4), (2, 'ok', 'get', 'x', 'a', 5),
            (2, 'invoke', 'get', 'y', None, 6), (2, 'ok', 'get', 'y', None, 7),
        ], key='y')
        self.assertTrue(lines)

    def test_initial_value(self):
        events = [(2, 'invoke', 'get', 'k', None, 0), (2, 'ok', 'get', 'k', 'i', 1)]
        self.assertNot(events)
        self.assertLinearizable(events, initial={'k': 'i'})
        self.assertLinearizable(events, default_initial='i')

    def test_bad_history(self):
        with self.assertRaises(lincheck.BadHistory):
            run([(1, 'ok', 'get', 'k', None, 0)])
        with self.assertRaises(lincheck.BadHistory):
            run([(1, 'invoke', 'get', 'k', None, 0), (1, 'invoke', 'get', 'k', None, 1)])

    def test_main_exit_codes(self):
        import tempfile
        good = [(1, 'invoke', 'put', 'k', 'a', 0), (1, 'ok', 'put', 'k', 'a', 1)]
        bad = good + [(2, 'invoke', 'get', 'k', None, 2), (2, 'ok', 'get', 'k', None, 3)]
        for events, code, first in ((good, 0, 'lincheck: 1 ops on 1 keys: linearizable'),
                                    (bad, 1, 'lincheck: NOT linearizable on key k')):
            with tempfile.NamedTemporaryFile('w', suffix='.jsonl', delete=False) as fh:
                fh.write('\n'.join(ev(*e) for e in events) + '\n')
            out = io.StringIO()
            old, sys.stdout = sys.stdout, out
            olderr, sys.stderr = sys.stderr, io.StringIO()
            try:
                rc = lincheck.main([fh.name])
            finally:
                sys.stdout, sys.stderr = old, olderr
                os.unlink(fh.name)
            self.assertEqual(rc, code)
            self.assertEqual(out.getvalue().splitlines()[0], first)

    def test_timeout_reports_unknown(self):
        events, _ = simulate(7, nops=3000, clients=10, keys=1)
        verdict, summary, _ = run(events, timeout=0.0)
        self.assertEqual(verdict, 2, summary)
        self.assertTrue(summary.startswith('lincheck: unknown'), summary)


class Randomized(unittest.TestCase):

    def test_simulated_histories_pass_and_mutants_fail(self):
        caught = 0
        for seed in range(40):
            rng = random.Random(1000 + seed)
            events, ops = simulate(seed, nops=rng.choice((50, 200, 600)),
                                   clients=rng.choice((2, 5, 10)),
                                   keys=rng.choice((1, 3)))
            verdict, summary, lines = run(events, timeout=60)
            self.assertEqual(verdict, 0, 'seed %d: %s\n%s' % (seed, summary, '\n'.join(lines)))
            mutant = mutate(events, ops, rng)
            if mutant is None:
                continue
            verdict, summary, lines = run(mutant, timeout=60)
            self.assertEqual(verdict, 1, 'seed %d mutant: %s' % (seed, summary))
            caught += 1
        self.assertGreater(caught, 30)

    def test_many_unknown_outcomes(self):
        events, ops = simulate(99, nops=2000, clients=10, keys=2, p_info=0.15)
        self.assertEqual(run(events, timeout=60)[0], 0)
        mutant = mutate(events, ops, random.Random(5))
        self.assertEqual(run(mutant, timeout=60)[0], 1)


def bench():
    for keys in (30, 10, 50):
        events, ops = simulate(2024, nops=20000, clients=20, keys=keys, p_fail=0.01,
                               p_info=0.015)
        ninfo = sum(1 for o in ops if o['status'] == 'info')
        for name, evs in (('linearizable', events),
                          ('one stale read', mutate(events, ops, random.Random(3)))):
            start = time.monotonic()
            verdict, summary, _ = run(evs)
            print('%s (20 clients, %d unknown outcomes): %s [verdict %d] in %.2fs'
                  % (name, ninfo, summary, verdict, time.monotonic() - start))


def main():
    if '--bench' in sys.argv:
        bench()
        return 0
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print('lincheck tests: %d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
