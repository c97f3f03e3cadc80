#!/usr/bin/python3
"""raftproxy: a TCP proxy that partitions Raft peers on 127.0.0.1 on command.

Usage:
    python3 test/raft/raftproxy.py --control PORT \\
        --link NAME:LISTEN_PORT:TARGET_PORT [--link ...]

Each link is one direction between two nodes: node A dials node B through the
link named "A-B", whose LISTEN_PORT is what A has in its peer list for B;
TARGET_PORT is B's real Raft port.  The proxy runs in the foreground, prints
"raftproxy: ready" (flushed) once every listener is bound, and forwards
bytes until told to quit (or killed).

Control: connect to 127.0.0.1:PORT and send commands, one a line, as many
per connection as wanted; each gets one reply line, "ok ..." or "error ...":

    block NAME        cut one link
    unblock NAME      restore one link
    isolate N         block every link named "N-*" or "*-N"
    unisolate N       unblock those links
    heal              unblock every link (delays are kept)
    delay NAME MS     forward that link's bytes MS milliseconds late (0: off)
    stall NAME        the link's open connections stop carrying bytes, both
                      ways, without being closed (what they get is read
                      and dropped); new connections work
    status            "ok NAME=open|blocked[,delay=MS][,conns=C][,stalled=S] ..." in
                      the order the links were given
    quit              reply "ok" and stop the proxy (exit status 0)

With --log FILE, every connection's life (accepted, held, forwarded, ended
and why) is appended to FILE, one timestamped line each, so that a test
that failed can show what the proxy saw.

Design note
-----------
One thread runs a selectors loop over every socket: the listeners, the
control connections, and both sides of each proxied connection.  Sockets are
non-blocking; each direction of a proxied connection has a buffer (bytes
read from one side and not yet written to the other) and, when the link has
a delay, a queue of (due time, bytes) ahead of that buffer.  A side is read
only while the other side's buffer is small, so a slow reader slows its
writer instead of filling memory.  An end of file is passed on as a
shutdown of the other side's writing once its buffer has drained; the pair
is closed when both directions have ended or on any error.

A blocked link is a silent partition: its open connections are closed at
once on both sides (a connection is only ever cut whole, never left open
with bytes missing in the middle), and connections dialled while it is
blocked are accepted but held: whatever they send is read and discarded,
nothing reaches the target, no byte goes back.  Unblocking closes the held
connections, so the dialer sees its connection end and dials again, this
time through to the target.  A connection whose target refuses it is closed
at once (the node behind it is down).
"""

import argparse
import collections
import errno
import selectors
import socket
import struct
import sys
import time

BUF_LIMIT = 1 << 20         # stop reading a side while its peer has this much pending
CHUNK = 65536


class Link:
    def __init__(self, name, listen_port, target_port):
        self.name = name
        self.listen_port = listen_port
        self.target_port = target_port
        self.blocked = False
        self.delay = 0.0            # seconds
        self.pairs = set()          # forwarding connections
        self.held = set()           # sockets accepted while blocked
        self.listener = None


class Side:
    """One socket of a pair and the bytes waiting to be written to it."""

    def __init__(self, sock):
        self.sock = sock
        self.out = bytearray()
        self.delayed = collections.deque()  # (due, bytes) not yet in out
        self.eof_in = False         # the socket sent its end of file
        self.shut_out = False       # we shut down its writing side
        self.connected = True
        self.events = 0             # what the selector watches it for


class Pair:
    def __init__(self, link, client, server):
        self.link = link
        self.a = Side(client)       # the dialer
        self.b = Side(server)       # the target
        self.b.connected = False
        self.closed = False
        self.stalled = False        # bytes are read and dropped, both ways
        self.port = 0               # the dialer's port, for the log

    def other(self, side):
        return self.b if side is self.a else self.a


class Proxy:
    def __init__(self, control_port, links, log=None):
        self.log_file = open(log, 'a', buffering=1) if log else None
        self.sel = selectors.DefaultSelector()
        self.links = links
        self.by_name = {l.name: l for l in links}
        self.running = True
        self.control = self._listen(control_port)
        self.sel.register(self.control, selectors.EVENT_READ, ('control-listen', None))
        for link in links:
            link.listener = self._listen(link.listen_port)
            self.sel.register(link.listener, selectors.EVENT_READ, ('listen', link))

    def log(self, fmt, *args):
        if self.log_file:
            now = time.time()
            print('%s.%03d %s' % (time.strftime('%H:%M:%S', time.localtime(now)),
                                   int(now * 1000) % 1000, fmt % args),
                  file=self.log_file)

    @staticmethod
    def _listen(port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.1', port))
        s.listen(64)
        s.setblocking(False)
        return s

    # -- proxied connections ------------------------------------------------

    def accept(self, link):
        try:
            sock, peer = link.listener.accept()
        except OSError as e:
            self.log('%s: accept failed: %s', link.name, e)
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if link.blocked:
            link.held.add(sock)
            self.sel.register(sock, selectors.EVENT_READ, ('held', link))
            self.log('%s: held a connection from port %d', link.name, peer[1])
            return
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setblocking(False)
        server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = server.connect_ex(('127.0.0.1', link.target_port))
        if err not in (0, errno.EINPROGRESS):
            self.log('%s: could not reach the target: %s', link.name, errno.errorcode.get(err, err))
            server.close()
            sock.close()
            return
        pair = Pair(link, sock, server)
        pair.port = peer[1]
        self.log('%s: forwarding a connection from port %d', link.name, peer[1])
        link.pairs.add(pair)
        self.update_interest(pair)

    def close_pair(self, pair, cut=True, why='cut'):
        """Close both sides; a cut (block, error) resets them, an orderly
        end (both directions finished) lets the kernel deliver what it has."""
        if pair.closed:
            return
        self.log('%s: connection from port %d closed: %s', pair.link.name,
                 pair.port, why)
        pair.closed = True
        pair.link.pairs.discard(pair)
        for side in (pair.a, pair.b):
            if side.events:
                self.sel.unregister(side.sock)
                side.events = 0
            if cut:
                try:
                    side.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                         struct.pack('ii', 1, 0))
                except OSError:
                    pass
            side.sock.close()

    def close_held(self, link):
        if link.held:
            self.log('%s: closing %d held connections', link.name, len(link.held))
        for sock in list(link.held):
            try:
                self.sel.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()
        link.held.clear()

    def update_interest(self, pair):
        if pair.closed:
            return
        for side in (pair.a, pair.b):
            other = pair.other(side)
            if not side.connected:
                ev = selectors.EVENT_WRITE
            else:
                ev = 0
                if not side.eof_in and other.connected and len(other.out) < BUF_LIMIT:
                    ev |= selectors.EVENT_READ
                if side.out:
                    ev |= selectors.EVENT_WRITE
            if ev == side.events:
                continue
            if side.events == 0:
                self.sel.register(side.sock, ev, ('pair', (pair, side)))
            elif ev == 0:
                self.sel.unregister(side.sock)
            else:
                self.sel.modify(side.sock, ev, ('pair', (pair, side)))
            side.events = ev

    def pair_event(self, pair, side, mask):
        other = pair.other(side)
        if not side.connected and mask & selectors.EVENT_WRITE:
            err = side.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err != 0:
                self.close_pair(pair, why='the target refused it')   # the target is down
                return
            side.connected = True
        if mask & selectors.EVENT_READ and side.connected and not side.eof_in:
            try:
                data = side.sock.recv(CHUNK)
            except BlockingIOError:
                data = None
            except OSError as e:
                self.close_pair(pair, why='read from the %s: %s' % ('dialer' if side is pair.a else 'target', e))
                return
            if data == b'':
                side.eof_in = True
                self.log('%s: connection from port %d: end of file from the %s', pair.link.name,
                         pair.port, 'dialer' if side is pair.a else 'target')
            elif data and pair.stalled:
                pass                        # dropped: nobody hears it
            elif data:
                if pair.link.delay > 0 or other.delayed:
                    other.delayed.append((time.monotonic() + pair.link.delay, data))
                else:
                    other.out += data
        if mask & selectors.EVENT_WRITE and side.connected and side.out:
            try:
                n = side.sock.send(side.out)
                del side.out[:n]
            except BlockingIOError:
                pass
            except OSError as e:
                self.close_pair(pair, why='write to the %s: %s' % ('dialer' if side is pair.a else 'target', e))
                return
        self.settle(pair)

    def settle(self, pair):
        """Pass ends of file on, close finished pairs, update interests."""
        if pair.closed:
            return
        for side in (pair.a, pair.b):
            other = pair.other(side)
            if (other.eof_in and not other.delayed and not side.out
                    and side.connected and not side.shut_out):
                try:
                    side.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                side.shut_out = True
        if pair.a.shut_out and pair.b.shut_out:
            self.close_pair(pair, cut=False, why='both ended')
            return
        self.update_interest(pair)

    def release_delayed(self):
        """Move due delayed bytes into the output buffers; return the time
        to wait for the next one (None: nothing delayed)."""
        now = time.monotonic()
        wait = None
        for link in self.links:
            for pair in list(link.pairs):
                moved = False
                for side in (pair.a, pair.b):
                    while side.delayed and side.delayed[0][0] <= now:
                        side.out += side.delayed.popleft()[1]
                        moved = True
                    if side.delayed:
                        w = side.delayed[0][0] - now
                        wait = w if wait is None else min(wait, w)
                if moved:
                    self.settle(pair)
        return wait

    # -- control ------------------------------------------------------------

    def block(self, link):
        link.blocked = True
        for pair in list(link.pairs):
            self.close_pair(pair, why='blocked')

    def unblock(self, link):
        link.blocked = False
        self.close_held(link)

    def command(self, line):
        words = line.split()
        if not words:
            return None
        cmd, args = words[0].lower(), words[1:]
        if cmd in ('block', 'unblock') and len(args) == 1:
            link = self.by_name.get(args[0])
            if link is None:
                return 'error no link %s' % args[0]
            (self.block if cmd == 'block' else self.unblock)(link)
            return 'ok'
        if cmd in ('isolate', 'unisolate') and len(args) == 1:
            n = args[0]
            hit = [l for l in self.links if l.name.startswith(n + '-') or l.name.endswith('-' + n)]
            if not hit:
                return 'error no link of node %s' % n
            for link in hit:
                (self.block if cmd == 'isolate' else self.unblock)(link)
            return 'ok %s' % ' '.join(l.name for l in hit)
        if cmd == 'heal' and not args:
            for link in self.links:
                self.unblock(link)
            return 'ok'
        if cmd == 'delay' and len(args) == 2:
            link = self.by_name.get(args[0])
            if link is None:
                return 'error no link %s' % args[0]
            try:
                ms = float(args[1])
            except ValueError:
                return 'error bad delay %s' % args[1]
            if ms < 0:
                return 'error bad delay %s' % args[1]
            link.delay = ms / 1000.0
            return 'ok'
        if cmd == 'stall' and len(args) == 1:
            link = self.by_name.get(args[0])
            if link is None:
                return 'error no link %s' % args[0]
            for pair in link.pairs:
                pair.stalled = True
                for side in (pair.a, pair.b):
                    side.out.clear()
                    side.delayed.clear()
                self.log('%s: connection from port %d stalled', link.name, pair.port)
            return 'ok %d' % len(link.pairs)
        if cmd == 'status' and not args:
            parts = []
            for l in self.links:
                s = '%s=%s' % (l.name, 'blocked' if l.blocked else 'open')
                if l.delay:
                    s += ',delay=%g' % (l.delay * 1000)
                n = len(l.held) if l.blocked else len(l.pairs)
                if n:
                    s += ',conns=%d' % n
                stalled = sum(1 for p in l.pairs if p.stalled)
                if stalled:
                    s += ',stalled=%d' % stalled
                parts.append(s)
            return 'ok ' + ' '.join(parts)
        if cmd == 'quit' and not args:
            self.running = False
            return 'ok'
        return 'error unknown command: %s' % line.strip()

    def control_event(self, conn, state):
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b''
        if not data:
            self.sel.unregister(conn)
            conn.close()
            return
        state['buf'] += data
        while b'\n' in state['buf']:
            line, _, rest = bytes(state['buf']).partition(b'\n')
            state['buf'] = bytearray(rest)
            reply = self.command(line.decode('utf-8', 'replace'))
            if reply is not None:
                conn.setblocking(True)
                try:
                    conn.sendall((reply + '\n').encode())
                except OSError:
                    pass
                conn.setblocking(False)

    # -- loop ---------------------------------------------------------------

    def run(self):
        print('raftproxy: ready', flush=True)
        while self.running:
            wait = self.release_delayed()
            for key, mask in self.sel.select(timeout=1.0 if wait is None else max(wait, 0)):
                kind, data = key.data
                if kind == 'listen':
                    self.accept(data)
                elif kind == 'control-listen':
                    try:
                        conn, _ = self.control.accept()
                    except OSError:
                        continue
                    conn.setblocking(False)
                    self.sel.register(conn, selectors.EVENT_READ,
                                      ('control', {'buf': bytearray()}))
                elif kind == 'control':
                    self.control_event(key.fileobj, data)
                elif kind == 'held':
                    try:
                        if not key.fileobj.recv(CHUNK):
                            self.log('%s: a held connection ended', data.name)
                            data.held.discard(key.fileobj)
                            self.sel.unregister(key.fileobj)
                            key.fileobj.close()
                    except BlockingIOError:
                        pass
                    except OSError:
                        data.held.discard(key.fileobj)
                        self.sel.unregister(key.fileobj)
                        key.fileobj.close()
                elif kind == 'pair':
                    pair, side = data
                    if not pair.closed:
                        self.pair_event(pair, side, mask)
        for link in self.links:
            for pair in list(link.pairs):
                self.close_pair(pair)
            self.close_held(link)


def parse_link(text):
    try:
        name, listen, target = text.rsplit(':', 2)
        return Link(name, int(listen), int(target))
    except ValueError:
        raise argparse.ArgumentTypeError('--link wants NAME:LISTEN_PORT:TARGET_PORT')


def main(argv=None):
    ap = argparse.ArgumentParser(description='A TCP proxy that partitions Raft peers on command.')
    ap.add_argument('--control', type=int, required=True, metavar='PORT')
    ap.add_argument('--log', metavar='FILE', help='append a line per connection event to FILE')
    ap.add_argument('--link', type=parse_link, action='append', required=True,
                    metavar='NAME:LISTEN_PORT:TARGET_PORT')
    args = ap.parse_args(argv)
    names = [l.name for l in args.link]
    if len(set(names)) != len(names):
        ap.error('link names must be unique')
    try:
        proxy = Proxy(args.control, args.link, log=args.log)
    except OSError as e:
        print('raftproxy: cannot listen: %s' % e, file=sys.stderr)
        return 1
    try:
        proxy.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
