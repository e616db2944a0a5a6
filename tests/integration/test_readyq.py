"""The ready queue and the keeper's counters (SPEC section 1, KEEPER.md).

The scoreboard counts what the keeper holds by kind (idle, head, linger,
sending), the connections in the ready queue (sent by the keeper, not yet
taken by a worker) and the hand-offs both ways; the status page (text,
JSON, HTML) and /metrics show them. The ready queue's length is derived
from hand-off numbers, so a keeper killed with hand-offs queued leaves it
true. And the hot path: a kept-alive connection served while no other
worker is free costs no poll() per request (strace, when installed).

Every wait is on a condition with a deadline.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import (ServerTestCase, Client, request_bytes,  # noqa: E402
                     socket_count, wait_for)

GET = request_bytes('GET', '/hello.txt')
KINDS = ('idle', 'head', 'linger', 'sending')


def module_path(name):
    return os.path.join(harness.module_dirs()[0], name + '.so')


def in_sleep(pid):
    """Whether pid sleeps in nanosleep()/clock_nanosleep() now (x86-64)."""
    try:
        with open('/proc/%d/syscall' % pid) as f:
            return f.read().split()[0] in ('35', '230')
    except (OSError, IndexError):
        return False


def is_worker(pid):
    """Whether pid's title is a worker's (not the status process)."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return b'worker' in f.read()
    except OSError:
        return False


def tracer_of(pid):
    """The PID tracing pid (0: none), from /proc."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('TracerPid:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def parse_metrics(text):
    """{(name, ((label, value), ...)): float} of a Prometheus text page."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        assert m, 'bad metrics line %r' % line
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(3) or '')))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


class ReadyQueueCase(ServerTestCase):

    def start(self, args, nworkers):
        srv = self.start_server(args + ['--status-listen', '127.0.0.1:0'])
        self.assertTrue(srv.wait_log(r'ready: %d workers' % nworkers))
        self.assertTrue(srv.wait_log(r'status process started'))
        srv.keeper = wait_for(srv.keeper_pid, 5.0)
        self.assertTrue(srv.keeper, 'no keeper')
        ports = re.findall(r'listening on 127\.0\.0\.1:(\d+)', srv.error_text())
        srv.sport = int(ports[-1])
        return srv

    def fetch(self, srv, target):
        with Client(srv.sport) as s:
            s.send(request_bytes('GET', target))
            r = s.read_response()
        self.assertEqual(r.status, 200, r)
        return r.body.decode()

    def keeper(self, srv):
        return json.loads(self.fetch(srv, '/status?format=json'))['keeper']

    def metrics(self, srv):
        return parse_metrics(self.fetch(srv, '/metrics'))

    def both(self, srv):
        """The keeper's JSON object and the metrics, read one after the
        other."""
        return self.keeper(srv), self.metrics(srv)

    def wait_both(self, srv, want, timeout=5.0, what=''):
        """Waits until want(keeper_json, metrics) holds; returns them."""
        last = []

        def check():
            k, m = self.both(srv)
            last[:] = [k, m]
            return (k, m) if want(k, m) else None
        got = wait_for(check, timeout, interval=0.02)
        self.assertTrue(got, 'never %s: keeper %r' % (what, last[:1]))
        return got

    def hello(self, c, timeout=harness.IO_TIMEOUT):
        c.send(GET)
        r = c.read_response(timeout=timeout)
        self.assertEqual(r.status, 200, r)
        return r


def parked(m, kind):
    return m.get(('preforkd_keeper_parked', (('kind', kind),)))


def handoffs(m, direction):
    return m.get(('preforkd_handoffs_total', (('direction', direction),)))


class ParkedByKind(ReadyQueueCase):

    def test_idle_connections_are_counted_as_idle(self):
        srv = self.start(['-w', '2'], 2)
        cs = [self.connect(srv) for _ in range(3)]
        for c in cs:
            self.hello(c)
        k, m = self.wait_both(
            srv, lambda k, m: k['parked_idle'] == 3 and parked(m, 'idle') == 3,
            what='3 idle')
        self.assertEqual((k['parked_head'], k['parked_linger'],
                          k['parked_sending']), (0, 0, 0), k)
        for kind in ('head', 'linger', 'sending'):
            self.assertEqual(parked(m, kind), 0, kind)
        # The by-kind gauges and the old total agree.
        self.assertEqual(k['parked'], 3, k)
        text = self.fetch(srv, '/status')
        self.assertIn('parked by kind: 3 idle, 0 head, 0 linger, 0 sending',
                      text)
        html = self.fetch(srv, '/status?format=html')
        self.assertRegex(html, r'<small>Parked</small><b>3<span> 3 idle')
        self.assertIn('<small>Ready queue</small>', html)
        # Each one's next request takes it out of the keeper.
        for c in cs:
            self.hello(c)
        self.check_promtool(self.fetch(srv, '/metrics'))

    def test_an_incomplete_head_is_counted_as_head(self):
        srv = self.start(['-w', '2'], 2)
        c = self.connect(srv)
        c.send(b'GET /hello.txt HTTP/1.1\r\nHost: x\r\n')
        self.wait_both(
            srv, lambda k, m: k['parked_head'] == 1 and parked(m, 'head') == 1,
            what='1 head')
        c.send(b'\r\n')
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        # Served, then idle in the keeper again: no longer a head.
        self.wait_both(
            srv, lambda k, m: k['parked_head'] == 0 and parked(m, 'head') == 0
            and k['parked_idle'] == 1, what='0 head, 1 idle')

    def test_a_lingering_close_is_counted_as_linger(self):
        # The keeper answers a bad head with 400 and lingers for
        # LINGER_MS (500 ms) while the client keeps its socket open: a
        # window to see; a few rounds in case one is missed under load.
        srv = self.start(['-w', '2'], 2)
        seen = None
        for _ in range(5):
            cs = [self.connect(srv) for _ in range(4)]
            for c in cs:
                c.send(b'GET /hello.txt HTTP/1.1\r\n')
            if not wait_for(lambda: self.keeper(srv)['parked_head'] == 4, 3.0):
                continue
            for c in cs:
                c.send(b'no colon here\r\n\r\n')
            seen = wait_for(lambda: (lambda k, m: (k, m) if k['parked_linger']
                                     >= 1 and parked(m, 'linger') >= 1
                                     else None)(*self.both(srv)), 0.4)
            for c in cs:
                r = c.read_response()
                self.assertEqual(r.status, 400, r)
            if seen:
                break
        self.assertTrue(seen, 'no lingering connection ever counted')
        # The linger ends (EOF from us, or LINGER_MS): back to 0.
        for c in cs:
            c.close()
        self.wait_both(srv, lambda k, m: k['parked_linger'] == 0 and
                       parked(m, 'linger') == 0, what='0 linger')

    def check_promtool(self, text):
        exe = shutil.which('promtool')
        if exe is None:
            self.assertFalse(os.environ.get('CI'), 'promtool not installed')
            return
        p = subprocess.run([exe, 'check', 'metrics'], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        self.assertEqual(p.returncode, 0, 'promtool: %s' % p.stdout.decode())


class ReadyQueue(ReadyQueueCase):

    def busy_one_worker(self, ms):
        """-w 1 with a sleeping handler; three clients parked idle."""
        srv = self.start(['-w', '1', '-m', '/slow=' + module_path('fault'),
                          '--module-option', '/slow mode sleep',
                          '--module-option', '/slow ms %d' % ms], 1)
        bs = [self.connect(srv, timeout=15) for _ in range(3)]
        for b in bs:
            self.hello(b)
        self.wait_both(srv, lambda k, m: k['parked_idle'] == 3,
                       what='3 parked idle')
        return srv, bs

    def make_ready(self, srv, bs, ms):
        """The worker sleeps in a handler; the parked clients' requests
        become ready and wait in the queue. Returns the slow client."""
        slow = self.connect(srv, timeout=15)
        slow.send(request_bytes('GET', '/slow/x'))
        self.assertTrue(wait_for(lambda: any(in_sleep(w) for w in srv.worker_pids()),
                                 3.0), 'the worker is not in the handler')
        for b in bs:
            b.send(GET)
        return slow

    def test_ready_queue_fills_while_workers_are_busy_then_empties(self):
        srv, bs = self.busy_one_worker(2000)
        k0, m0 = self.both(srv)
        self.assertEqual((k0['ready_queue'], m0[('preforkd_ready_queue', ())]),
                         (0, 0), k0)
        slow = self.make_ready(srv, bs, 2000)
        k, m = self.wait_both(
            srv, lambda k, m: k['ready_queue'] == 3 and
            m[('preforkd_ready_queue', ())] == 3, what='3 ready')
        self.assertIn('ready queue: 3;', self.fetch(srv, '/status'))
        r = slow.read_response(timeout=15)
        self.assertEqual((r.status, r.body), (200, b'slept 2000\n'))
        for b in bs:
            r = b.read_response(timeout=15)
            self.assertEqual(r.status, 200, r)
        k, m = self.wait_both(
            srv, lambda k, m: k['ready_queue'] == 0 and
            m[('preforkd_ready_queue', ())] == 0, what='0 ready')
        # Hand-offs both ways: three to the keeper (idle) and back.
        self.assertGreaterEqual(k['handed_off'] - k0['handed_off'], 3, k)
        self.assertGreaterEqual(k['handed_to_keeper'] - k0['handed_to_keeper'],
                                3, k)
        self.assertGreaterEqual(handoffs(m, 'to_worker') -
                                handoffs(m0, 'to_worker'), 3)
        self.assertGreaterEqual(handoffs(m, 'to_keeper'), 3)
        self.assertEqual(handoffs(m, 'to_worker'), k['handed_off'])
        # The status process's per-second history has them too.
        hist = wait_for(lambda: (lambda h: h if sum(h['handoffs_to_worker_per_s'])
                                 >= k['handed_off'] else None)(json.loads(
                                     self.fetch(srv, '/status?format=json'))
                                     ['history']), 4.0, interval=0.2)
        self.assertTrue(hist, 'no hand-offs in the per-second history')
        self.assertGreaterEqual(sum(hist['handoffs_to_keeper_per_s']), 3, hist)

    def test_ready_queue_stays_true_when_the_keeper_is_killed(self):
        srv, bs = self.busy_one_worker(3000)
        idle = self.connect(srv)
        self.hello(idle)
        self.wait_both(srv, lambda k, m: k['parked_idle'] == 4, what='4 idle')
        slow = self.make_ready(srv, bs, 3000)
        self.wait_both(srv, lambda k, m: k['ready_queue'] == 3 and
                       k['parked_idle'] == 1, what='3 ready, 1 idle')
        old = srv.keeper
        mark = len(srv.error_lines())
        os.kill(old, signal.SIGKILL)
        m = srv.wait_log(r'keeper started \(pid (\d+)\)', timeout=3, start=mark)
        self.assertTrue(m, 'no new keeper')
        new = int(m.group(1))
        # What it held is gone (the idle one), what it sent is not: the
        # three hand-offs still wait in the queue, and the count says so.
        self.assertTrue(idle.is_closed(3.0), 'the idle connection hangs')
        k, mt = self.wait_both(
            srv, lambda k, m: k['pid'] == new and k['parked_idle'] == 0,
            what='a new keeper holding nothing')
        self.assertTrue(any(in_sleep(w) for w in srv.worker_pids()),
                        'the handler ended before the check: make it longer')
        self.assertEqual(k['ready_queue'], 3, k)
        self.assertEqual(mt[('preforkd_ready_queue', ())], 3)
        r = slow.read_response(timeout=15)
        self.assertEqual(r.status, 200, r)
        for b in bs:
            r = b.read_response(timeout=15)
            self.assertEqual(r.status, 200, r)
        self.wait_both(srv, lambda k, m: k['ready_queue'] == 0 and
                       m[('preforkd_ready_queue', ())] == 0, what='0 ready')
        # And the counting goes on with the new keeper.
        for b in bs:
            self.hello(b)
        self.wait_both(srv, lambda k, m: k['parked_idle'] == 3 and
                       k['ready_queue'] == 0, what='3 idle again')


POLL_RE = re.compile(r'^(?:\d+ +)?p?poll\(\[.*\], \d+, (\{[^}]*\}|-?\d+)')
EAGAIN_READ_RE = re.compile(r'^(?:\d+ +)?read\(\d+, .*= -1 EAGAIN')


def raw_response(case, c):
    """One GET on c, its response as bytes (head and body)."""
    c.send(GET)
    r = c.read_response(timeout=harness.IO_TIMEOUT)
    case.assertEqual(r.status, 200, r)
    case.assertEqual(c.buf, b'', 'bytes after the response')
    return r.head_raw + r.body


class HotPath(ReadyQueueCase):
    """A kept-alive connection while the only other worker sleeps in a
    handler: no worker is free, so fairness applies. Its waits between
    requests are a read() bounded by the fairness slice; a poll() with a
    timeout comes only after such a read timed out (the client was quiet
    for a slice). Before, every request paid a poll() of the connection,
    the listeners and the queue."""

    N = 400

    def test_no_poll_per_request_while_the_other_workers_are_busy(self):
        exe = shutil.which('strace')
        if exe is None:
            self.skipTest('strace is not installed')
        srv = self.start(['-w', '2', '-m', '/slow=' + module_path('fault'),
                          '--module-option', '/slow mode sleep',
                          '--module-option', '/slow ms 5000'], 2)
        slow = self.connect(srv, timeout=30)
        slow.send(request_bytes('GET', '/slow/x'))
        self.assertTrue(wait_for(lambda: any(in_sleep(w) for w in srv.worker_pids()),
                                 3.0), 'no worker in the handler')
        free = [w for w in srv.worker_pids() if not in_sleep(w) and
                is_worker(w)]
        self.assertEqual(len(free), 1, srv.worker_pids())
        c = self.connect(srv)
        self.hello(c)
        out = tempfile.NamedTemporaryFile(prefix='pfk-strace-', delete=False)
        out.close()
        self.addCleanup(os.unlink, out.name)
        tr = subprocess.Popen([exe, '-p', str(free[0]), '-e',
                               'trace=read,poll,ppoll', '-o', out.name],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: tr.poll() is None and tr.kill())
        self.assertTrue(wait_for(lambda: tracer_of(free[0]) == tr.pid or
                                 tr.poll() is not None, 5.0),
                        'strace did not attach')
        self.assertIsNone(tr.poll(), 'strace exited')
        # Back to back, as a client that pays: the fairness rule waits
        # with a read only while requests come within a slice (1 ms), so
        # the loop does no more than send and take the (fixed-size)
        # response; the traced worker is slow enough as it is.
        size = len(raw_response(self, c))
        buf = bytearray(size)
        c.sock.settimeout(harness.IO_TIMEOUT)
        t0 = time.monotonic()
        for _ in range(self.N):
            c.sock.sendall(GET)
            view, got = memoryview(buf), 0
            while got < size:
                n = c.sock.recv_into(view[got:])
                self.assertGreater(n, 0, 'closed after %d bytes' % got)
                got += n
        took = time.monotonic() - t0
        self.assertTrue(bytes(buf).startswith(b'HTTP/1.1 200 '), buf[:80])
        still = any(in_sleep(w) for w in srv.worker_pids())
        tr.send_signal(signal.SIGINT)
        tr.wait(10)
        with open(out.name) as f:
            lines = f.read().splitlines()
        polls = [l for l in lines if POLL_RE.match(l)]
        waits = [l for l in polls if POLL_RE.match(l).group(1) not in ('0', '{tv_sec=0, tv_nsec=0}')]
        timed_out = [l for l in lines if EAGAIN_READ_RE.match(l)]
        reads = [l for l in lines if re.match(r'^(?:\d+ +)?read\(', l)]
        msg = ('%d requests in %.2f s: %d reads (%d timed out), %d polls '
               '(%d with a timeout)' % (self.N, took, len(reads),
                                        len(timed_out), len(polls), len(waits)))
        sys.stderr.write('\n' + msg + '\n')
        self.assertGreaterEqual(len(reads), self.N, msg)
        # A waiting poll() only after a read() that waited a slice in vain,
        # or after a request that came more than a slice after the last
        # one (the client paused: a scheduling hiccup of this process or
        # of the traced worker), and the one strace attached in. Before,
        # every request paid one: N of them.
        self.assertLessEqual(len(waits), len(timed_out) + 1 + self.N // 20,
                             msg)
        # The other worker was busy all along (else no fairness applied).
        self.assertTrue(still, 'the handler ended first: ' + msg)
        r = slow.read_response(timeout=30)
        self.assertEqual(r.status, 200, r)


if __name__ == '__main__':
    harness.main()
