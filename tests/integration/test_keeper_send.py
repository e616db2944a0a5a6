"""Slow readers (SPEC section 1, KEEPER.md "Slow readers"): a static file
body that the client stops taking is handed to the keeper with the open
file, and the keeper finishes it with sendfile() as the client reads, under
--write-timeout and --min-send-rate, then keeps the connection alive or
closes it. The worker is free meanwhile.

Where a body is: the keeper holds the served file open while it sends it
(/proc/PID/fd). Clients that read slowly shrink their receive buffer so
that the kernel does not take the whole file for them. Every wait is on a
condition with a deadline; the sleeps pace a client's reading, which is
the point of those tests.
"""

import csv
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import ServerTestCase, Client, request_bytes, wait_for  # noqa: E402

BIG = 16 * 1024 * 1024     # far more than any socket buffer holds
SMALL_RCVBUF = 8192        # a slow reader's receive buffer


def make_big(root, name, size):
    """A file of size deterministic bytes in root; returns its bytes."""
    block = hashlib.sha256(name.encode()).digest() * 2048    # 64 KiB
    data = (block * (size // len(block) + 1))[:size]
    # Make every 64 KiB block differ, so that a misplaced one shows.
    data = b''.join(data[i:i + 65536][:-8] + b'%08d' % (i // 65536)
                    for i in range(0, size, 65536))[:size]
    with open(os.path.join(root, name), 'wb') as f:
        f.write(data)
    return data


def holds_file(pid, path):
    """Whether process pid has path open."""
    try:
        fds = os.listdir('/proc/%d/fd' % pid)
    except (FileNotFoundError, ProcessLookupError):
        return False
    for fd in fds:
        try:
            if os.readlink('/proc/%d/fd/%s' % (pid, fd)) == path:
                return True
        except OSError:
            pass
    return False


class SendCase(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.big = make_big(cls.root, 'big.bin', BIG)
        cls.big_path = os.path.realpath(os.path.join(cls.root, 'big.bin'))

    def start_keeper(self, args, nworkers=1):
        srv, _ = self.start_ready(args, nworkers)
        srv.keeper = wait_for(srv.keeper_pid, 5.0)
        self.assertTrue(srv.keeper, 'no keeper')
        return srv

    def wait_sending(self, srv, timeout=5.0, keeper=None):
        """Waits until the keeper holds big.bin open: it sends it."""
        got = wait_for(lambda: holds_file(keeper or srv.keeper, self.big_path),
                       timeout)
        self.assertTrue(got, 'the keeper never took the body')

    def slow_client(self, srv, target='/big.bin', headers=None):
        """Asks for target on a connection with a small receive buffer and
        reads nothing yet."""
        c = Client(srv.port, rcvbuf=SMALL_RCVBUF, timeout=30)
        self.addCleanup(c.close)
        c.send(request_bytes('GET', target, headers))
        return c

    def assert_prompt(self, srv, limit=0.5, n=3):
        """Another client's requests are answered within limit seconds."""
        with Client(srv.port, timeout=5) as p:
            for _ in range(n):
                t0 = time.monotonic()
                p.send(request_bytes('GET', '/hello.txt'))
                r = p.read_response(timeout=5)
                took = time.monotonic() - t0
                self.assertEqual((r.status, r.body), (200, b'Hello, World!'))
                self.assertLess(took, limit, 'another client waited %.2f s'
                                % took)

    def read_paced(self, c, want, rate, limit):
        """Reads up to want bytes at about rate bytes/s (in 2 KiB steps),
        until EOF or limit seconds. Returns (bytes, eof, seconds)."""
        step = 2048
        got = []
        n = 0
        t0 = time.monotonic()
        c.sock.settimeout(2.0)
        eof = False
        while n < want and time.monotonic() - t0 < limit:
            try:
                d = c.sock.recv(min(step, want - n))
            except socket.timeout:
                d = None
            except ConnectionResetError:
                d = b''
            if d == b'':
                eof = True
                break
            if d:
                got.append(d)
                n += len(d)
            # The pace: the next read is due when n bytes at rate are.
            due = t0 + n / rate
            time.sleep(max(0.0, due - time.monotonic()))
        return b''.join(got), eof, time.monotonic() - t0


class SlowReaders(SendCase):

    def test_slow_reader_frees_the_worker_and_gets_every_byte(self):
        srv = self.start_keeper(['-w', '1'])
        c = self.slow_client(srv)
        self.wait_sending(srv)
        # The only worker is free: another client is answered at once.
        self.assert_prompt(srv)
        # The slow reader finally reads: the whole file, byte-exact.
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        r = c.read_response(timeout=30)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(int(r.header('Content-Length')), BIG)
        self.assertEqual(len(r.body), BIG)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(),
                         hashlib.sha256(self.big).hexdigest())
        # Kept alive: the next request on it works, whoever holds it.
        c.send(request_bytes('GET', '/hello.txt'))
        r = c.read_response(timeout=5)
        self.assertEqual((r.status, r.body), (200, b'Hello, World!'))
        # Logged once, by the worker, with the full size.
        lines = [l for l in srv.access_lines() if '/big.bin' in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn('" 200 %d ' % BIG, lines[0])

    def test_pipelined_request_behind_the_body_is_answered(self):
        # The bytes read past the big request travel with the body.
        srv = self.start_keeper(['-w', '1'])
        c = Client(srv.port, rcvbuf=SMALL_RCVBUF, timeout=30)
        self.addCleanup(c.close)
        c.send(request_bytes('GET', '/big.bin') +
               request_bytes('GET', '/hello.txt'))
        self.wait_sending(srv)
        self.assert_prompt(srv)
        r = c.read_response(timeout=30)
        self.assertEqual((r.status, len(r.body)), (200, BIG))
        self.assertEqual(r.body, self.big)
        r = c.read_response(timeout=5)
        self.assertEqual((r.status, r.body), (200, b'Hello, World!'))

    def test_connection_close_is_closed_after_the_body(self):
        srv = self.start_keeper(['-w', '1'])
        c = self.slow_client(srv, headers=[('Connection', 'close')])
        self.wait_sending(srv)
        r = c.read_response(timeout=30)
        self.assertEqual(len(r.body), BIG)
        self.assertTrue(r.has_token('Connection', 'close'), r)
        self.assertTrue(c.is_closed(3.0), 'still open after the body')
        self.assertEqual(c.extra, b'')

    def test_fast_reader_stays_with_its_worker(self):
        # A client that reads at once never goes through the keeper.
        srv = self.start_keeper(['-w', '1'])
        with Client(srv.port, rcvbuf=4 << 20, timeout=30) as c:
            for _ in range(3):
                c.send(request_bytes('GET', '/big.bin'))
                r = c.read_response(timeout=30)
                self.assertEqual(r.body, self.big)
        self.assertFalse(holds_file(srv.keeper, self.big_path))
        self.assertFalse(srv.wait_log(r'slow reader', timeout=0.1))

    def test_range_and_head(self):
        srv = self.start_keeper(['-w', '1'])
        first, last = 1000, 9000999
        c = self.slow_client(srv, headers=[('Range', 'bytes=%d-%d' % (first, last))])
        self.wait_sending(srv)
        self.assert_prompt(srv)
        r = c.read_response(timeout=30)
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.header('Content-Range'),
                         'bytes %d-%d/%d' % (first, last, BIG))
        self.assertEqual(r.body, self.big[first:last + 1])
        # HEAD: headers only, on the same connection, kept alive.
        c.send(request_bytes('HEAD', '/big.bin'))
        r = c.read_response('HEAD', timeout=5)
        self.assertEqual((r.status, r.header('Content-Length')), (200, str(BIG)))
        c.send(request_bytes('GET', '/hello.txt'))
        r = c.read_response(timeout=5)
        self.assertEqual((r.status, r.body), (200, b'Hello, World!'))


    def test_max_parked_closes_an_idle_one_never_a_response(self):
        # --max-parked 1: the slow reader's response holds the one place;
        # an idle connection parked beside it is the one closed.
        srv = self.start_keeper(['-w', '1', '--max-parked', '1'])
        c = self.slow_client(srv)
        self.wait_sending(srv)
        idle = Client(srv.port, timeout=10)
        self.addCleanup(idle.close)
        idle.send(request_bytes('GET', '/hello.txt'))
        self.assertEqual(idle.read_response().status, 200)
        self.assertTrue(idle.is_closed(5.0), 'the idle one was kept')
        self.assertTrue(holds_file(srv.keeper, self.big_path))
        r = c.read_response(timeout=30)
        self.assertEqual(r.body, self.big)


class Deadlines(SendCase):

    def test_write_timeout_closes_a_reader_that_reads_nothing(self):
        srv = self.start_keeper(['-w', '1', '--write-timeout', '2'])
        mark = len(srv.error_lines())
        c = self.slow_client(srv)
        t0 = time.monotonic()
        self.wait_sending(srv)
        # Cut 2 s after it took its last byte, seen within a tick (1 s).
        m = srv.wait_log(r'closed a slow reader \S+ \(write timeout\): '
                         r'(\d+) of %d body bytes taken, (\d+) sent' % BIG,
                         timeout=8, start=mark)
        took = time.monotonic() - t0
        self.assertTrue(m, 'no write timeout in the keeper')
        self.assertGreater(took, 1.5)
        self.assertLess(took, 5.0, 'cut after %.2f s' % took)
        self.assertTrue(wait_for(lambda: not holds_file(srv.keeper, self.big_path),
                                 2.0))
        self.assert_prompt(srv)
        # The client gets what was sent, then the end: a short body.
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        data, closed = c.read_all_until_close(10)
        self.assertTrue(closed, 'not closed')
        self.assertLess(len(data), BIG)
        self.assertTrue(data.startswith(b'HTTP/1.1 200 '))

    def test_min_send_rate_cuts_a_trickle_and_spares_a_fast_reader(self):
        # 64 KiB/s after the first 2 s: 16 KiB/s is cut, 512 KiB/s is not.
        srv = self.start_keeper(['-w', '1', '--write-timeout', '2',
                                 '--min-send-rate', '65536'])
        mark = len(srv.error_lines())
        slow = self.slow_client(srv)
        self.wait_sending(srv)
        data, eof, took = self.read_paced(slow, BIG, 16384, 20)
        self.assertTrue(eof, 'a 16 KiB/s reader was not cut in %.1f s' % took)
        self.assertLess(len(data), BIG)
        self.assertLess(took, 10, 'cut after %.1f s' % took)
        self.assertTrue(srv.wait_log(r'closed a slow reader \S+ \(slower than '
                                     r'min-send-rate\)', timeout=2, start=mark))
        # 4 MiB at 512 KiB/s: 8 s, past the first period, all of it.
        fast = self.slow_client(srv, headers=[('Range', 'bytes=0-4194303')])
        self.wait_sending(srv)
        _, status, _, _, _ = fast.read_head(timeout=5)
        self.assertEqual(status, 206)
        early, fast.buf = fast.buf, b''
        data, eof, took = self.read_paced(fast, 4194304 - len(early),
                                          512 * 1024, 30)
        self.assertEqual(early + data, self.big[:4194304],
                         'a fast reader was cut')
        fast.send(request_bytes('GET', '/hello.txt'))
        r = fast.read_response(timeout=5)
        self.assertEqual((r.status, r.body), (200, b'Hello, World!'))

    def test_min_send_rate_0_is_off(self):
        # The same 16 KiB/s trickle for 5 s is not cut without a rate
        # (it takes something every write-timeout period); then it reads
        # the rest at once and has every byte.
        srv = self.start_keeper(['-w', '1', '--write-timeout', '2',
                                 '--min-send-rate', '0'])
        c = self.slow_client(srv)
        self.wait_sending(srv)
        data, eof, took = self.read_paced(c, 5 * 16384, 16384, 8)
        self.assertFalse(eof, 'cut after %.1f s' % took)
        c.buf = data
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        r = c.read_response(timeout=30)
        self.assertEqual(r.body, self.big)
        self.assertFalse(srv.wait_log(r'slow reader', timeout=0.1))


class KeeperCrash(SendCase):

    def test_keeper_killed_while_sending_loses_only_that_connection(self):
        srv = self.start_keeper(['-w', '1'])
        idle = Client(srv.port, timeout=10)
        self.addCleanup(idle.close)
        c = self.slow_client(srv)
        self.wait_sending(srv)
        old = srv.keeper
        mark = len(srv.error_lines())
        os.kill(old, signal.SIGKILL)
        m = srv.wait_log(r'keeper started \(pid (\d+)\)', timeout=3, start=mark)
        self.assertTrue(m, 'no new keeper')
        srv.keeper = int(m.group(1))
        # The slow reader's connection is gone (short body, then the end).
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        data, closed = c.read_all_until_close(10)
        self.assertTrue(closed)
        self.assertLess(len(data), BIG)
        # A connection the worker was not done with is untouched.
        idle.send(request_bytes('GET', '/hello.txt'))
        self.assertEqual(idle.read_response(timeout=5).status, 200)
        self.assert_prompt(srv)
        # And the new keeper takes slow readers again.
        c2 = self.slow_client(srv)
        self.wait_sending(srv)
        self.assert_prompt(srv)
        r = c2.read_response(timeout=30)
        self.assertEqual(r.body, self.big)


class SlowRead(SendCase):
    """slowhttptest -X: connections that read a 1 MiB file a few bytes at a
    time through a tiny window, while the tool probes the service."""

    def test_slowhttptest_slow_read(self):
        exe = shutil.which('slowhttptest')
        if exe is None:
            self.assertFalse(os.environ.get('CI'), 'slowhttptest not installed')
            self.skipTest('slowhttptest not installed')
        srv = self.start_keeper(['-w', '4'], 4)
        out = tempfile.mkdtemp(prefix='pfk-slowread-')
        self.addCleanup(shutil.rmtree, out, True)
        log = open(os.path.join(out, 'tool.log'), 'wb')
        self.addCleanup(log.close)
        tool = subprocess.Popen(
            [exe, '-X', '-c', '60', '-r', '30', '-l', '6', '-i', '1',
             '-p', '2', '-k', '3', '-n', '1', '-w', '1', '-y', '64', '-z', '32',
             '-g', '-o', os.path.join(out, 'x'),
             '-u', 'http://127.0.0.1:%d/1m.bin' % srv.port],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def stop():
            if tool.poll() is None:
                tool.kill()
            tool.wait(timeout=10)
        self.addCleanup(stop)
        try:
            tool.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.fail('slowhttptest ran past its -l 6')
        with open(os.path.join(out, 'x.csv')) as f:
            rows = list(csv.DictReader(f))
        with open(os.path.join(out, 'tool.log'), 'rb') as f:
            report = re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '',
                            f.read().decode(errors='replace'))
        self.assertIn('SLOW READ', report)
        self.assertGreaterEqual(len(rows), 5, rows)
        down = [r['Seconds'] for r in rows if int(r['Service Available']) == 0]
        self.assertEqual(down, [], 'service unavailable in seconds %r' % down)
        self.assertGreaterEqual(max(int(r['Connected']) for r in rows), 40, rows)
        self.assert_prompt(srv)


if __name__ == '__main__':
    harness.main()
