#!/usr/bin/python3
"""lincheck: a linearizability checker for histories of per-key registers.

Usage:
    python3 test/raft/lincheck.py HISTORY.jsonl [--initial KEY=VALUE ...]
                                               [--timeout SECONDS] [--quiet]

The history is JSON lines, one event a line:

    {"process": 3, "type": "invoke", "f": "put", "key": "k1", "value": "c3-17", "time": 12.5}
    {"process": 3, "type": "ok",     "f": "put", "key": "k1", "value": "c3-17", "time": 12.6}

An invoke is followed, for the same process, by exactly one completion:
"ok" (a get's value is what it read, null: the key was absent), "fail" (the
operation certainly did not take effect) or "info" (the outcome is unknown:
it may have taken effect at any point after its invocation, or never).  An
invoke with no completion by the end of the file counts as "info".  Puts
write unique values.  Unknown fields are ignored.

Exit status and output (one summary line first, on stdout):

    0  "lincheck: N ops on K keys: linearizable"
    1  "lincheck: NOT linearizable on key K", then an explanation: the
       operations around the point where every search got stuck, with
       their times relative to the first event
    2  "lincheck: unknown: ..." (the --timeout expired; no violation found
       in the keys checked so far)
    3  "lincheck: bad history: ..." (malformed input)

Design note
-----------
A history of independent registers is linearizable exactly when each key's
sub-history is (locality, or P-compositionality), so the history is split by
key and each key is checked on its own, smallest first.

Each key's check is Wing & Gong's search as improved by Lowe (WGL): the
operations become call and return entries in a doubly linked list ordered by
time (at equal times calls come first, so touching operations count as
concurrent: the permissive reading).  The search walks the list from its
head; at a call entry it tries to linearize that operation now (apply it to
the register state: a put always succeeds and sets the state, a get
succeeds when it read the current state), and if that works and the pair
(set of linearized operations as an int bitset, register state) has not
been seen before, it records it, unlinks the call and its return from the
list and starts again from the head.  Reaching a return entry means the
operation it ends had to be linearized already: the search backtracks,
relinking the last operation it linearized and trying the next entry after
its call.  The history is linearizable when the list empties; it is not
when the search backtracks out of the first choice.  The memo of (bitset,
state) pairs is what makes the search practical (Lowe's insight): a
configuration that failed once fails again.

Operations whose outcome is unknown ("info") are calls without returns.  For
a register they reduce exactly to ordinary operations:
  * an info get has no effect and tells nothing: it is dropped (so is any
    "fail" operation);
  * an info put whose value nobody read can always be left out (a write no
    read observed can be removed from any linearization without changing
    what any read sees), so it is dropped;
  * an info put whose value some ok get read must take effect before each
    of those gets, so it gets a return time at the earliest return among
    them (never earlier than its own call: if a get returned before the put
    was even invoked, the put's return sits at its call, and the search
    finds the get's value was not written yet).
This keeps the search from trying every subset of a few hundred unknown
writes at every step.  One more reduction is applied during the search: a
pending get that read the current value is linearized at once and no
alternative is tried in that configuration (moving such a get to the front
of any valid continuation keeps it valid, since its call precedes every
pending return and it changes nothing).  A get that read a value no put (ok or info) of the
key wrote, or a value of a failed put, is reported before any search.

On failure the report shows the deepest point any search path reached: how
many operations it had linearized, the register value there and which put
wrote it, the operation whose return could not be passed, and the pending
operations that were concurrent with it.

Speed (Debian 12 python3, one core of the shared 2-core machine), measured
with `python3 test/raft/test_lincheck.py --bench` on simulated histories of
20,000 operations by 20 clients with about 270 unknown outcomes: 0.33 s on
30 keys, 0.3 s on 10 keys, 0.3 s on 50 keys; the same histories with one
stale read injected are rejected in 0.3-0.5 s.  An extreme case, 20 clients
with long overlapping operations all on ONE key (20,000 ops), takes 48 s:
the search is exponential in the number of concurrent operations on a key.
The --timeout option (default none) bounds pathological cases: when it expires the verdict is "unknown"
(exit 2) unless a violation was already found.
"""

import argparse
import json
import sys
import time

INF = float('inf')


class BadHistory(Exception):
    pass


class Timeout(Exception):
    pass


class Op:
    """One operation: put (value = what it wrote) or get (value = what it read)."""

    __slots__ = ('id', 'process', 'f', 'key', 'value', 'call', 'ret', 'status')

    def __init__(self, process, f, key, value, call):
        self.id = -1
        self.process = process
        self.f = f
        self.key = key
        self.value = value
        self.call = call
        self.ret = INF
        self.status = None      # 'ok', 'fail' or 'info'

    def describe(self, t0):
        ret = 'never' if self.ret == INF else '%.6f' % (self.ret - t0)
        what = '%s(%s)' % (self.f, 'null' if self.value is None else json.dumps(self.value))
        if self.f == 'get':
            what = 'get -> %s' % ('null' if self.value is None else json.dumps(self.value))
        return 'process %s %s [%.6f .. %s]%s' % (
            self.process, what, self.call - t0, ret,
            ' (unknown outcome)' if self.status == 'info' else '')


def parse_history(lines):
    """Pair invokes with completions; return the list of all operations."""
    pending = {}
    ops = []
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            ev = json.loads(line)
            p = ev['process']
            typ = ev['type']
            f = ev['f']
            key = ev['key']
            value = ev.get('value')
            t = float(ev['time'])
        except (ValueError, KeyError, TypeError) as e:
            raise BadHistory('line %d: %s' % (lineno, e))
        if f not in ('put', 'get'):
            raise BadHistory('line %d: unknown f %r' % (lineno, f))
        if value is not None and not isinstance(value, str):
            raise BadHistory('line %d: value must be a string or null' % lineno)
        if typ == 'invoke':
            if p in pending:
                raise BadHistory('line %d: process %s invokes while an operation is pending'
                                 % (lineno, p))
            op = Op(p, f, key, value, t)
            pending[p] = op
            ops.append(op)
        elif typ in ('ok', 'fail', 'info'):
            op = pending.pop(p, None)
            if op is None:
                raise BadHistory('line %d: process %s completes with no invoke' % (lineno, p))
            if op.f != f or op.key != key:
                raise BadHistory('line %d: completion does not match its invoke' % lineno)
            if t < op.call:
                raise BadHistory('line %d: completion before its invoke' % lineno)
            op.status = typ
            if typ == 'ok':
                op.ret = t
                if f == 'get':
                    op.value = value
                elif value is not None and value != op.value:
                    raise BadHistory('line %d: put completes with another value' % lineno)
        else:
            raise BadHistory('line %d: unknown type %r' % (lineno, typ))
    for op in pending.values():
        op.status = 'info'
    return ops


class Violation(Exception):
    def __init__(self, key, lines):
        Exception.__init__(self, key)
        self.key = key
        self.lines = lines


def prepare_key(key, ops, initial, t0):
    """Reduce one key's operations to those the search needs (see the design
    note); raise Violation for reads of values never written."""
    put_by_value = {}
    failed_values = {}
    for op in ops:
        if op.f == 'put':
            if op.status == 'fail':
                failed_values[op.value] = op
            else:
                if op.value in put_by_value:
                    raise BadHistory('key %s: value %r written twice (puts must write unique values)'
                                     % (key, op.value))
                put_by_value[op.value] = op
    first_read_ret = {}
    kept = []
    for op in ops:
        if op.f != 'get' or op.status != 'ok':
            continue
        kept.append(op)
        v = op.value
        if v is None or v == initial:
            continue
        if v not in put_by_value:
            why = ('the value of a put that failed: %s' % failed_values[v].describe(t0)
                   if v in failed_values else 'a value no put wrote')
            raise Violation(key, ['%s read %s' % (op.describe(t0), why)])
        if v not in first_read_ret or op.ret < first_read_ret[v]:
            first_read_ret[v] = op.ret
    for op in put_by_value.values():
        if op.status == 'ok':
            kept.append(op)
        elif op.value in first_read_ret:       # info put some get saw
            op.ret = max(op.call, first_read_ret[op.value])
            kept.append(op)
    kept.sort(key=lambda o: o.call)
    for i, op in enumerate(kept):
        op.id = i
    return kept


class Entry:
    __slots__ = ('op', 'is_call', 'match', 'prev', 'next')

    def __init__(self, op, is_call):
        self.op = op
        self.is_call = is_call
        self.match = None
        self.prev = None
        self.next = None


def check_key(key, ops, initial, t0, deadline):
    """WGL search over one key's operations; raise Violation or Timeout."""
    events = []
    for op in ops:
        c = Entry(op, True)
        r = Entry(op, False)
        c.match = r
        events.append((op.call, 0, op.id, c))
        events.append((op.ret, 1, op.id, r))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    head = Entry(None, False)
    prev = head
    for _, _, _, e in events:
        prev.next = e
        e.prev = prev
        prev = e

    def lift(c):
        c.prev.next = c.next
        c.next.prev = c.prev        # a call is always followed by its return
        r = c.match
        r.prev.next = r.next
        if r.next is not None:
            r.next.prev = r.prev

    def unlift(c):
        r = c.match
        r.prev.next = r
        if r.next is not None:
            r.next.prev = r
        c.prev.next = c
        c.next.prev = c

    seen = set()
    stack = []              # (call entry, state before it, forced)
    state = initial
    linearized = 0
    entry = head.next
    fresh = True            # at a configuration not yet scanned for reads
    steps = 0
    best_depth = -1
    best = None
    while head.next is not None:
        steps += 1
        if steps & 0x3ff == 0 and deadline is not None and time.monotonic() > deadline:
            raise Timeout(key)
        if fresh:
            # A pending get that reads the current value can go first: moving
            # it to the front of any linearization from here keeps it valid
            # (its call precedes every pending return, and it changes
            # nothing), so this configuration succeeds exactly when the one
            # with it linearized does, and nothing else need be tried here.
            fresh = False
            e = head.next
            while e.is_call and not (e.op.f == 'get' and e.op.value == state):
                e = e.next
            if e.is_call:
                bits = linearized | (1 << e.op.id)
                memo = (bits, state)
                if memo not in seen:
                    seen.add(memo)
                    stack.append((e, state, True))
                    linearized = bits
                    lift(e)
                    fresh = True
                    continue
                entry = None            # known to fail: backtrack
            else:
                entry = head.next
        if entry is not None and entry.is_call:
            op = entry.op
            if op.f == 'put':
                ok, new_state = True, op.value
            else:
                ok, new_state = op.value == state, state
            if ok:
                bits = linearized | (1 << op.id)
                memo = (bits, new_state)
                if memo not in seen:
                    seen.add(memo)
                    stack.append((entry, state, False))
                    state = new_state
                    linearized = bits
                    lift(entry)
                    fresh = True
                    continue
            entry = entry.next
            continue
        # a return entry (or a configuration known to fail): backtrack
        if entry is not None and len(stack) > best_depth:
            best_depth = len(stack)
            pend = []
            e = head.next
            while e is not None and e is not entry:
                if e.is_call:
                    pend.append(e.op)
                e = e.next
            last_put = None
            for c, _, _ in reversed(stack):
                if c.op.f == 'put':
                    last_put = c.op
                    break
            best = (state, last_put, entry.op, pend)
        while True:
            if not stack:
                raise Violation(key, explain(key, ops, best_depth, best, initial, t0))
            entry, state, forced = stack.pop()
            linearized &= ~(1 << entry.op.id)
            unlift(entry)
            if not forced:
                break
        entry = entry.next
    return len(seen)


def explain(key, ops, depth, best, initial, t0):
    if best is None:
        return ['no operation could be linearized first']
    state, last_put, stuck, pend = best
    lines = ['the search linearized at most %d of the key\'s %d operations; there the value was %s'
             % (depth, len(ops), 'null' if state is None else json.dumps(state))]
    if last_put is not None:
        lines.append('  written by   %s' % last_put.describe(t0))
    elif state == initial:
        lines.append('  (the initial value)')
    lines.append('  and no order of the pending operations lets this one complete:')
    lines.append('  stuck at     %s' % stuck.describe(t0))
    if stuck.f == 'get':
        src = [o for o in ops if o.f == 'put' and o.value == stuck.value]
        if src:
            lines.append('  which read   %s' % src[0].describe(t0))
            later = [o for o in ops if o.f == 'put' and o.status == 'ok'
                     and o.call > src[0].ret and o.ret < stuck.call]
            if later:
                later.sort(key=lambda o: o.ret)
                lines.append('  but these puts came after that one and before the read began:')
                for o in later[-5:]:
                    lines.append('    %s' % o.describe(t0))
        elif stuck.value is None:
            lines.append('  which read   the key absent')
    shown = [o for o in pend if o is not stuck]
    shown.sort(key=lambda o: o.call)
    if shown:
        lines.append('  concurrent pending operations:')
        for o in shown[:20]:
            lines.append('    %s' % o.describe(t0))
        if len(shown) > 20:
            lines.append('    ... and %d more' % (len(shown) - 20))
    return lines


def check(ops, initial=None, timeout=None, default_initial=None):
    """Check a parsed history.  Returns (verdict, summary, detail lines) with
    verdict 0 (linearizable), 1 (not) or 2 (unknown: timeout)."""
    initial = initial or {}
    deadline = None if timeout is None else time.monotonic() + timeout
    t0 = min((o.call for o in ops), default=0.0)
    by_key = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    nops = len(ops)
    prepared = []
    for key in sorted(by_key):
        init = initial.get(key, default_initial)
        try:
            kept = prepare_key(key, by_key[key], init, t0)
        except Violation as v:
            return 1, 'lincheck: NOT linearizable on key %s' % v.key, v.lines
        prepared.append((len(kept), key, kept, init))
    prepared.sort(key=lambda p: (p[0], p[1]))
    timed_out = []
    for _, key, kept, init in prepared:
        try:
            check_key(key, kept, init, t0, deadline)
        except Violation as v:
            return 1, 'lincheck: NOT linearizable on key %s' % v.key, v.lines
        except Timeout:
            timed_out.append(key)
            deadline = time.monotonic()     # the rest: only the pre-checks
    if timed_out:
        return (2, 'lincheck: unknown: timeout after %gs (%d ops on %d keys; %d keys not decided: %s)'
                % (timeout, nops, len(by_key), len(timed_out), ' '.join(timed_out[:10])), [])
    return 0, 'lincheck: %d ops on %d keys: linearizable' % (nops, len(by_key)), []


def main(argv=None):
    ap = argparse.ArgumentParser(description='Check a JSON-lines history of per-key register '
                                 'operations for linearizability.')
    ap.add_argument('history', help='the history file (- for stdin)')
    ap.add_argument('--initial', action='append', default=[], metavar='KEY=VALUE',
                    help='a key\'s initial value (default: absent); KEY * sets every key\'s')
    ap.add_argument('--timeout', type=float, default=None,
                    help='give up after this many seconds with verdict unknown (exit 2)')
    ap.add_argument('--quiet', action='store_true', help='only the summary line')
    args = ap.parse_args(argv)
    initial = {}
    default_initial = None
    for kv in args.initial:
        if '=' not in kv:
            ap.error('--initial wants KEY=VALUE')
        k, v = kv.split('=', 1)
        if k == '*':
            default_initial = v
        else:
            initial[k] = v
    started = time.monotonic()
    try:
        if args.history == '-':
            ops = parse_history(sys.stdin)
        else:
            with open(args.history) as fh:
                ops = parse_history(fh)
        verdict, summary, lines = check(ops, initial, args.timeout, default_initial)
    except (BadHistory, OSError) as e:
        print('lincheck: bad history: %s' % e)
        return 3
    print(summary)
    if not args.quiet:
        for line in lines:
            print(line)
    sys.stdout.flush()
    if not args.quiet:
        print('lincheck: %.2fs' % (time.monotonic() - started), file=sys.stderr)
    return verdict


if __name__ == '__main__':
    sys.exit(main())
