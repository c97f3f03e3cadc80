#!/usr/bin/python3
"""Self-test of raftproxy.py (run: python3 test/raft/test_raftproxy.py).

Design note
-----------
Local echo servers stand in for Raft nodes; the proxy runs as a child
process exactly as the TAP tests start it, on free ports, with the links of
a three-node cluster (1-2, 2-1, 1-3, 3-1, 2-3, 3-2) all pointing at echo
servers.  The tests talk through the links and drive the control port:
forwarding is byte-exact (also for megabytes, through the back-pressure),
blocking cuts open connections and holds new ones silently, unblocking
closes the held ones so that a new dial goes through, isolate and heal
choose the right links, delay delays, a stalled connection stays open but
carries nothing while a new one works, a dead target closes the dialer's
connection, bad commands get "error" replies, and quit stops the proxy.

The last line printed is "raftproxy tests: N passed, M failed"; the exit
status is non-zero when a test failed.
"""

import os
import socket
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
LINKS = ('1-2', '2-1', '1-3', '3-1', '2-3', '3-2')


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class EchoServer:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self.echo, args=(conn,), daemon=True).start()

    @staticmethod
    def echo(conn):
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()


class ProxyTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.echo = EchoServer()
        cls.dead_port = free_port()     # nothing listens there
        cls.control = free_port()
        cls.ports = {name: free_port() for name in LINKS + ('dead',)}
        args = [sys.executable, os.path.join(HERE, 'raftproxy.py'), '--control', str(cls.control)]
        for name in LINKS:
            args += ['--link', '%s:%d:%d' % (name, cls.ports[name], cls.echo.port)]
        args += ['--link', 'dead:%d:%d' % (cls.ports['dead'], cls.dead_port)]
        cls.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = cls.proc.stdout.readline()
        assert line.strip() == 'raftproxy: ready', line

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.kill()
        cls.proc.wait()
        cls.proc.stdout.close()
        cls.echo.sock.close()

    def tearDown(self):
        if self.proc.poll() is None:
            self.ctl('heal')
            for name in LINKS:
                self.ctl('delay %s 0' % name)

    def ctl(self, *commands):
        """Send commands on one control connection; return the replies."""
        with socket.create_connection(('127.0.0.1', self.control), timeout=5) as s:
            s.sendall(''.join(c + '\n' for c in commands).encode())
            f = s.makefile('r')
            return [f.readline().rstrip('\n') for _ in commands]

    def dial(self, name):
        s = socket.create_connection(('127.0.0.1', self.ports[name]), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def roundtrip(self, s, data=b'hello raft\n', timeout=2.0):
        s.settimeout(timeout)
        s.sendall(data)
        got = b''
        while len(got) < len(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got

    def assertClosed(self, s, timeout=3.0):
        s.settimeout(timeout)
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    return
        except (ConnectionResetError, BrokenPipeError):
            return
        except socket.timeout:
            self.fail('the connection stayed open')

    def assertSilent(self, s, wait=0.5):
        s.settimeout(wait)
        s.sendall(b'anyone there?\n')
        with self.assertRaises(socket.timeout):
            data = s.recv(65536)
            self.fail('got %r through a blocked link' % data)

    def test_forwarding(self):
        with self.dial('1-2') as s:
            self.assertEqual(self.roundtrip(s), b'hello raft\n')
            self.assertEqual(self.roundtrip(s, b'again'), b'again')

    def test_large_transfer_is_exact(self):
        data = os.urandom(4 << 20)
        with self.dial('2-3') as s:
            s.settimeout(10)
            got = bytearray()

            def reader():
                while len(got) < len(data):
                    chunk = s.recv(1 << 16)
                    if not chunk:
                        break
                    got.extend(chunk)

            t = threading.Thread(target=reader)
            t.start()
            s.sendall(data)
            t.join(20)
            self.assertEqual(bytes(got), data)

    def test_block_and_unblock(self):
        old = self.dial('1-2')
        self.assertEqual(self.roundtrip(old), b'hello raft\n')
        self.assertEqual(self.ctl('block 1-2'), ['ok'])
        self.assertClosed(old)
        old.close()
        held = self.dial('1-2')              # accepted, but nothing gets through
        self.assertSilent(held)
        with self.dial('2-1') as other:     # the other direction still works
            self.assertEqual(self.roundtrip(other), b'hello raft\n')
        st = self.ctl('status')[0]
        self.assertIn('1-2=blocked,conns=1', st)
        self.assertIn('2-1=open', st)
        self.assertEqual(self.ctl('unblock 1-2'), ['ok'])
        self.assertClosed(held)             # the dialer must dial again
        held.close()
        with self.dial('1-2') as s:
            self.assertEqual(self.roundtrip(s), b'hello raft\n')

    def test_isolate_and_heal(self):
        self.assertEqual(self.ctl('isolate 2'), ['ok 1-2 2-1 2-3 3-2'])
        st = self.ctl('status')[0].split()
        self.assertEqual(st[0], 'ok')
        state = dict(w.split('=')[0:2] for w in st[1:])
        self.assertEqual({k: v.split(',')[0] for k, v in state.items()},
                         {'1-2': 'blocked', '2-1': 'blocked', '1-3': 'open', '3-1': 'open',
                          '2-3': 'blocked', '3-2': 'blocked', 'dead': 'open'})
        for name in ('1-2', '3-2'):
            with self.dial(name) as s:
                self.assertSilent(s, 0.3)
        with self.dial('1-3') as s:
            self.assertEqual(self.roundtrip(s), b'hello raft\n')
        self.assertEqual(self.ctl('heal'), ['ok'])
        for name in LINKS:
            with self.dial(name) as s:
                self.assertEqual(self.roundtrip(s), b'hello raft\n')

    def test_delay(self):
        self.assertEqual(self.ctl('delay 3-1 300'), ['ok'])
        with self.dial('3-1') as s:
            start = time.monotonic()
            self.assertEqual(self.roundtrip(s, timeout=3), b'hello raft\n')
            self.assertGreaterEqual(time.monotonic() - start, 0.55)   # both ways
        self.assertIn('3-1=open,delay=300', self.ctl('status')[0])
        self.assertEqual(self.ctl('delay 3-1 0'), ['ok'])
        with self.dial('3-1') as s:
            start = time.monotonic()
            self.assertEqual(self.roundtrip(s), b'hello raft\n')
            self.assertLess(time.monotonic() - start, 0.25)

    def test_stall(self):
        old = self.dial('3-2')
        self.assertEqual(self.roundtrip(old), b'hello raft\n')
        self.assertEqual(self.ctl('stall 3-2'), ['ok 1'])
        self.assertIn('3-2=open,conns=1,stalled=1', self.ctl('status')[0])
        self.assertSilent(old)              # open, but nothing comes back
        with self.dial('3-2') as s:         # a new connection goes through
            self.assertEqual(self.roundtrip(s), b'hello raft\n')
        old.close()

    def test_dead_target(self):
        try:
            s = self.dial('dead')
        except ConnectionError:
            return                  # reset before connect() even returned
        with s:
            self.assertClosed(s)

    def test_errors(self):
        self.assertEqual(self.ctl('block 9-9', 'isolate 7', 'frobnicate', 'delay 1-2 x', 'stall 9-9'),
                         ['error no link 9-9', 'error no link of node 7',
                          'error unknown command: frobnicate', 'error bad delay x',
                          'error no link 9-9'])

    def test_zz_quit(self):
        self.assertEqual(self.ctl('quit'), ['ok'])
        self.assertEqual(self.proc.wait(5), 0)


def main():
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(ProxyTest)
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print('raftproxy tests: %d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
