"""10,000 idle keep-alive connections in the keeper (SPEC section 1).

One client process (this test, non-blocking sockets and a selector)
opens 10,000 keep-alive connections to a -w 2 server on loopback, makes
one request on each and leaves them idle: the keeper must hold them all
(--max-parked defaults to 10000, and the keeper raises its descriptor
limit), a new client must still be answered at once (the median of a few
probes under 50 ms; an ASan build is only measured), and the keeper must
stay small: its RSS (VmRSS and Private_Dirty) is reported before and
after, and an idle connection may cost it at most 4 KiB.

The sources are spread over 127.0.0.1-4 (IP_BIND_ADDRESS_NO_PORT), so
that ephemeral ports never run short. Everything is bounded: the opening
by a deadline and a cap on connections in flight, every wait by a
deadline; every socket is closed at the end, also on failure.
"""

import os
import resource
import selectors
import socket
import statistics
import subprocess
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import ServerTestCase, socket_count, wait_for  # noqa: E402

N = 10000
BUDGET = 28.0                   # seconds for the whole test, failures too
NOFILE_NEEDED = N + 300         # our own sockets, plus Python's and slack
IN_FLIGHT = 200                 # connections being opened at once
OPEN_DEADLINE = 15.0            # for all N to be opened and answered
PROBES = 7
PROBE_MEDIAN = 0.050            # seconds
PER_CONN_MAX = 4096             # bytes of keeper memory per idle connection
SOURCES = ['127.0.0.%d' % i for i in range(1, 5)]
IP_BIND_ADDRESS_NO_PORT = getattr(socket, 'IP_BIND_ADDRESS_NO_PORT', 24)

REQUEST = b'GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n'
PROBE = b'GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'


def sanitized():
    """Whether the binary is an ASan build (its -t output says so)."""
    p = subprocess.run([harness.PREFORKD, '-t', '-l', '127.0.0.1:0', '.'],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=20)
    return 'sanitizer' in p.stdout.decode()


def memory(pid):
    """(VmRSS, Private_Dirty) of pid in bytes."""
    def field(path, name):
        with open(path) as f:
            for line in f:
                if line.startswith(name + ':'):
                    return int(line.split()[1]) * 1024
        raise AssertionError('no %s in %s' % (name, path))
    return (field('/proc/%d/status' % pid, 'VmRSS'),
            field('/proc/%d/smaps_rollup' % pid, 'Private_Dirty'))


def nofile(pid):
    """(soft, hard) RLIMIT_NOFILE of pid."""
    with open('/proc/%d/limits' % pid) as f:
        for line in f:
            if line.startswith('Max open files'):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError('no open-files limit for %d' % pid)


def kib(n):
    return '%.1f KiB' % (n / 1024.0)


class Conns:
    """N client connections opened without blocking, IN_FLIGHT at a time;
    each sends one request and reads its response, then stays idle."""

    def __init__(self, port):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.socks = []
        self.idle = 0
        self.errors = []

    def _open(self, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socks.append(s)
        s.setblocking(False)
        s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((SOURCES[i % len(SOURCES)], 0))
        err = s.connect_ex(('127.0.0.1', self.port))
        if err not in (0, 115):     # EINPROGRESS
            raise OSError(err, 'connect() to 127.0.0.1:%d: %s' % (
                self.port, os.strerror(err)))
        self.sel.register(s, selectors.EVENT_WRITE, [b''])

    def _event(self, key, mask):
        s, got = key.fileobj, key.data
        if mask & selectors.EVENT_WRITE:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, 'connect(): %s' % os.strerror(err))
            s.send(REQUEST)     # 37 bytes into an empty buffer
            self.sel.modify(s, selectors.EVENT_READ, got)
            return
        data = s.recv(4096)
        if not data:
            raise AssertionError('closed before its response: %r' % got[0])
        got[0] += data
        head, sep, body = got[0].partition(b'\r\n\r\n')
        if sep and len(body) >= 13:
            if not head.startswith(b'HTTP/1.1 200') or \
                    b'Connection: close' in head or body != b'Hello, World!':
                raise AssertionError('unexpected response %r' % got[0][:300])
            self.sel.unregister(s)
            self.idle += 1

    def open_all(self, n, deadline):
        """Opens n connections; each gets its response. Raises on a
        failure, or AssertionError past the deadline."""
        opened = 0
        while self.idle < n:
            while opened < n and opened - self.idle < IN_FLIGHT:
                self._open(opened)
                opened += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('%d of %d connections answered by the '
                                     'deadline' % (self.idle, n))
            for key, mask in self.sel.select(min(left, 1.0)):
                self._event(key, mask)

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []
        self.sel.close()


class KeeperScale(ServerTestCase):

    def setUp(self):
        super().setUp()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < NOFILE_NEEDED:
            self.skipTest('RLIMIT_NOFILE hard limit %d is below the %d '
                          'descriptors 10,000 connections need' % (
                              hard, NOFILE_NEEDED))
        if soft != resource.RLIM_INFINITY and soft < NOFILE_NEEDED:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE,
                            (soft, hard))

    def left(self, most):
        """Seconds a wait may take: most, within the test's budget."""
        return max(0.1, min(most, self.deadline - time.monotonic()))

    def probe(self, port):
        """Seconds for a new client to get its answer."""
        t0 = time.monotonic()
        with harness.Client(port, timeout=self.left(2.0)) as c:
            c.send(PROBE)
            r = c.read_response(timeout=self.left(2.0))
        took = time.monotonic() - t0
        self.assertEqual((r.status, r.body), (200, b'Hello, World!'))
        return took

    def test_10000_idle_connections(self):
        asan = sanitized()
        self.deadline = time.monotonic() + BUDGET
        # A long idle timeout: the test's own deadlines rule. The server
        # starts with a soft descriptor limit of 1024: the keeper raises
        # its own to the hard limit.
        srv, _ = self.start_ready(
            ['-w', '2', '--idle-timeout', '60'], 2,
            wrapper=['sh', '-c', 'ulimit -S -n 1024 && exec "$@"', 'sh'])
        keeper = wait_for(srv.keeper_pid, 5.0)
        self.assertTrue(keeper, 'no keeper')
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        self.assertEqual(nofile(srv.pid), (1024, hard))
        self.assertEqual(nofile(keeper), (hard, hard))
        for _ in range(3):      # warm-up; these close, none is parked
            self.probe(srv.port)
        self.assertTrue(wait_for(lambda: socket_count(keeper) == 1,
                                 self.left(5.0)))
        before = memory(keeper)

        conns = Conns(srv.port)
        self.addCleanup(conns.close)
        t0 = time.monotonic()
        conns.open_all(N, t0 + OPEN_DEADLINE)
        opened_in = time.monotonic() - t0
        parked = wait_for(lambda: socket_count(keeper) == 1 + N,
                          self.left(5.0))
        self.assertTrue(parked, 'the keeper holds %r sockets, wanted 1 + %d'
                        % (socket_count(keeper), N))
        after = memory(keeper)

        probes = sorted(self.probe(srv.port) for _ in range(PROBES))
        median = statistics.median(probes)
        per_rss = (after[0] - before[0]) / N
        per_dirty = (after[1] - before[1]) / N
        sys.stderr.write(
            '\n%d connections opened and answered in %.1f s%s\n'
            'keeper VmRSS %s -> %s, Private_Dirty %s -> %s\n'
            'per idle connection: %.0f B RSS, %.0f B Private_Dirty\n'
            'probe latency: median %.1f ms (min %.1f, max %.1f)\n' % (
                N, opened_in, ' (ASan build)' if asan else '',
                kib(before[0]), kib(after[0]), kib(before[1]), kib(after[1]),
                per_rss, per_dirty, median * 1000, probes[0] * 1000,
                probes[-1] * 1000))
        # Still all there: the probes pushed none out (max-parked 10000).
        self.assertEqual(socket_count(keeper), 1 + N)
        if not asan:    # ASan's shadow and quarantine: measured only
            self.assertLess(per_dirty, PER_CONN_MAX)
            self.assertLess(per_rss, PER_CONN_MAX)
            self.assertLess(median, PROBE_MEDIAN,
                            'probes took %r s' % probes)
        else:
            self.assertLess(median, 1.0, 'probes took %r s' % probes)

        # Every connection is still usable after its idle time in the
        # keeper: a sample of them gets its second answer.
        for s in conns.socks[::1000]:
            s.setblocking(True)
            s.settimeout(self.left(2.0))
            s.sendall(PROBE)
            data = b''
            while not data.endswith(b'Hello, World!'):
                chunk = s.recv(4096)
                self.assertTrue(chunk, 'closed: %r' % data[:200])
                data += chunk
            self.assertIn(b' 200 ', data.split(b'\r\n', 1)[0])
        conns.close()
        self.assertTrue(wait_for(lambda: socket_count(keeper) <= 1 + 10,
                                 self.left(10.0)),
                        'the keeper still holds %r sockets'
                        % socket_count(keeper))


if __name__ == '__main__':
    harness.main()
