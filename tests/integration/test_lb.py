"""Behind a load balancer (SPEC sections 3 and 9) through the real binary.

Health (--health-path on the workers, /healthz on the status listener),
the drain on TERM (--drain-delay: health 503 and Connection: close on
everything else, then the accept queue served, and no reset towards any
client), and the Prometheus /metrics of the status listener: exact
counter deltas across requests, a crash, a handler timeout, a
--max-requests recycle and a HUP reload, never a counter going down, the
accept-queue length of a listener, and the text format checked by
promtool when it is installed (Debian package prometheus), else by the
checks here.

Crashes, slow and timed-out handlers come from the test-only module
tests/modules/fault.c, found through --modules-dir.
"""

import errno
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import (ServerTestCase, Client, request_bytes,  # noqa: E402
                     wait_for)

HEALTH = '/lb-health'


def module_path(name):
    return os.path.join(harness.module_dirs()[0], name + '.so')


def status_port(srv, timeout=10.0):
    """The --status-listen port: the last "listening on" line once the
    status process has started."""
    if not srv.wait_log(r'status process started \(pid \d+\)', timeout):
        raise AssertionError('no status process: %r' % srv.error_lines()[-10:])
    return int(re.findall(r'listening on 127\.0\.0\.1:(\d+)',
                          srv.error_text())[-1])


def fetch(port, target, method='GET', headers=None, timeout=5.0):
    """One request on a fresh connection; returns the Response."""
    with Client(port, timeout=timeout) as c:
        c.send(request_bytes(method, target, headers))
        return c.read_response(method, timeout)


def wait_handling(sport, n=1, timeout=5.0):
    """Waits until /metrics shows n workers handling a request."""
    def handling():
        r = fetch(sport, '/metrics')
        return re.search(r'^preforkd_workers\{state="handling"\} %d$' % n,
                         r.body.decode(), re.M)
    return wait_for(handling, timeout)


class Reset(Exception):
    pass


class Closed(Exception):
    pass


def raw_exchange(sock, buf):
    """Sends GET / on sock and reads the response (Content-Length framed).
    Returns (close?, rest of buf). Raises Reset on a reset, Closed on an
    EOF before the response is complete."""
    try:
        sock.sendall(request_bytes('GET', '/'))
        while b'\r\n\r\n' not in buf:
            d = sock.recv(65536)
            if not d:
                raise Closed(buf)
            buf += d
        head, _, buf = buf.partition(b'\r\n\r\n')
        n = int(re.search(rb'(?im)^content-length: *(\d+)', head).group(1))
        while len(buf) < n:
            d = sock.recv(65536)
            if not d:
                raise Closed(buf)
            buf += d
    except (ConnectionResetError, BrokenPipeError) as e:
        raise Reset(repr(e)) from None
    assert head.startswith(b'HTTP/1.1 200 '), head
    return re.search(rb'(?im)^connection: *close', head) is not None, buf[n:]


# --------------------------------------------------------------------------
# The exposition format

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_metrics(text):
    """Checks the text format 0.0.4 (HELP and TYPE once per family, before
    its samples; well-formed samples and labels; no duplicate series;
    cumulative histogram buckets ending at +Inf equal to _count) and
    returns {(name, ((label, value), ...)): float}."""
    series, types, seen_family = {}, {}, set()
    for line in text.split('\n')[:-1]:
        if line.startswith('#'):
            parts = line.split(' ', 3)
            assert parts[1] in ('HELP', 'TYPE') and len(parts) == 4, line
            if parts[1] == 'TYPE':
                assert parts[2] not in types, 'TYPE twice: %r' % line
                assert parts[3] in ('counter', 'gauge', 'histogram'), line
                types[parts[2]] = parts[3]
            continue
        m = SAMPLE_RE.match(line)
        assert m, 'bad sample line %r' % line
        name, labels = m.group(1), ()
        if m.group(3):
            found = LABEL_RE.findall(m.group(3))
            assert ''.join('%s="%s"%s' % f for f in found) == m.group(3), line
            labels = tuple(sorted((k, v) for k, v, _ in found))
        family = re.sub(r'_(bucket|sum|count)$', '', name)
        family = family if family in types else name
        assert family in types, 'sample before its TYPE: %r' % line
        if types[family] == 'counter':
            assert name.endswith('_total'), line
        seen_family.add(family)
        key = (name, labels)
        assert key not in series, 'series twice: %r' % line
        series[key] = float(m.group(4))
    assert text.endswith('\n')
    for fam, t in types.items():
        if t != 'histogram':
            continue
        buckets = sorted(((float(dict(l)['le']), v) for (n, l), v in series.items()
                          if n == fam + '_bucket'))
        assert buckets and buckets[-1][0] == float('inf'), fam
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), 'buckets not cumulative: %r' % counts
        assert counts[-1] == series[(fam + '_count', ())], fam
    return series


def promtool_check(testcase, text):
    """promtool check metrics, when promtool is installed."""
    exe = shutil.which('promtool')
    if exe is None:
        # scripts/test installs it: in CI its absence is a failure.
        testcase.assertFalse(os.environ.get('CI'), 'promtool not installed')
        return False
    p = subprocess.run([exe, 'check', 'metrics'], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    testcase.assertEqual(p.returncode, 0, 'promtool: %s' % p.stdout.decode())
    return True


def val(series, name, **labels):
    return series.get((name, tuple(sorted(labels.items()))), 0.0)


def counters(series):
    """Every series that may only grow: counters and histogram parts."""
    return {k: v for k, v in series.items()
            if k[0].endswith(('_total', '_bucket', '_sum', '_count'))}


# --------------------------------------------------------------------------

class LBTestCase(ServerTestCase):
    """Servers with a status listener; scrapes of /metrics."""

    def start_lb(self, args, nworkers=1):
        srv = self.start_server(['-w', str(nworkers), '--status-listen',
                                 '127.0.0.1:0'] + list(args))
        self.assertTrue(srv.wait_log(r'ready: %d workers' % nworkers),
                        srv.error_lines()[-5:])
        srv.status_port = status_port(srv)
        return srv

    def scrape(self, srv):
        r = fetch(srv.status_port, '/metrics')
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header('Content-Type'),
                         'text/plain; version=0.0.4; charset=utf-8')
        text = r.body.decode()
        series = parse_metrics(text)
        self.checked_by_promtool = promtool_check(self, text)
        return series

    def wait_accepting(self, srv, n=1, timeout=10.0):
        self.assertTrue(wait_for(lambda: val(self.scrape(srv), 'preforkd_workers',
                                             state='accepting') == n, timeout))


class HealthTest(LBTestCase):
    """--health-path and /healthz."""

    def test_health_path_bypasses_handlers_and_files(self):
        # The health path lies under a module that would crash, and no
        # such file exists: the answer is the worker's own.
        srv = self.start_lb([
            '--health-path', '/f' + HEALTH, '-m', '/f=' + module_path('fault'),
            '--module-option', '/f mode segv', '--module-option', '/f every 1'])
        for method in ('GET', 'HEAD', 'OPTIONS'):
            r = fetch(srv.port, '/f' + HEALTH, method)
            self.assertEqual(r.status, 200, method)
            self.assertEqual(r.header('Cache-Control'), 'no-store')
            if method != 'HEAD':
                self.assertEqual(r.body, b'ok\n')
        r = fetch(srv.status_port, '/healthz')
        self.assertEqual((r.status, r.body), (200, b'ok\n'))
        self.assertFalse(re.search(r'killed by', srv.error_text()))

    def test_crash_loop_fails_health(self):
        srv = self.start_server([
            '-w', '2', '--status-listen', '127.0.0.1:0',
            '-m', '/f=' + module_path('fault'),
            '--module-option', '/f mode bootfail'])
        port = status_port(srv)
        self.assertTrue(srv.wait_log(r'respawning with backoff'))
        r = fetch(port, '/healthz')
        self.assertEqual((r.status, r.body), (503, b'crash loop\n'))
        self.assertEqual(fetch(port, '/healthz', 'HEAD').status, 503)


class DrainTest(LBTestCase):
    """TERM with --drain-delay, and what a graceful stop promises."""

    def test_drain_delay(self):
        delay = 1.5
        srv = self.start_lb(['--drain-delay', str(delay), '--health-path',
                             HEALTH], nworkers=2)
        sport = srv.status_port
        self.assertEqual(fetch(srv.port, HEALTH).status, 200)
        # A keep-alive connection from before the stop.
        ka = self.connect(srv)
        ka.send(request_bytes('GET', '/'))
        r = ka.read_response()
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header('Connection'))
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        self.assertTrue(srv.wait_log(r'graceful shutdown'))
        # During the delay: health fails, everything else is served with
        # Connection: close.
        n = 0
        while time.monotonic() - t0 < delay - 0.5:
            h = fetch(srv.port, HEALTH)
            self.assertEqual((h.status, h.body), (503, b'draining\n'))
            self.assertTrue(h.has_token('Connection', 'close'))
            s = fetch(sport, '/healthz')
            self.assertEqual((s.status, s.body), (503, b'draining\n'))
            r = fetch(srv.port, '/')
            self.assertEqual(r.status, 200)
            self.assertTrue(r.has_token('Connection', 'close'))
            n += 1
        self.assertGreater(n, 0)
        ka.send(request_bytes('GET', '/'))
        r = ka.read_response()
        self.assertEqual(r.status, 200)
        self.assertTrue(r.has_token('Connection', 'close'))
        self.assertTrue(ka.is_closed())
        self.assertEqual(srv.wait_exit(10), 0)
        self.assertGreaterEqual(time.monotonic() - t0, delay)

    def test_queued_connections_answered(self):
        # One worker busy in a slow handler; connections wait in the
        # accept queue, their requests sent; the stop comes (the drain
        # delay ends) while they wait: every one is answered.
        srv = self.start_lb([
            '--drain-delay', '0.3', '-m', '/f=' + module_path('fault'),
            '--module-option', '/f mode sleep', '--module-option', '/f ms 1500'])
        sport = srv.status_port
        busy = self.connect(srv)
        busy.send(request_bytes('GET', '/f/x'))
        self.assertTrue(wait_handling(sport))
        queued = []
        for i in range(20):
            c = self.connect(srv)
            c.send(request_bytes('GET', '/'))
            queued.append(c)
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(busy.read_response().status, 200)
        for c in queued:
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertTrue(r.has_token('Connection', 'close'))
        self.assertEqual(srv.wait_exit(10), 0)

    def test_idle_keepalive_closed_without_reset(self):
        # A stopping worker lets an idle keep-alive connection go with a
        # half-close and then reads: a request that crosses its FIN is
        # read and dropped, not answered with a reset (which a second
        # write would then report).
        srv = self.start_lb(['--drain-delay', '0'])
        ka = socket.create_connection(('127.0.0.1', srv.port), timeout=5)
        self.addCleanup(ka.close)
        close, rest = raw_exchange(ka, b'')
        self.assertFalse(close)
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(ka.recv(100), b'', 'no FIN from the stopping worker')
        ka.sendall(request_bytes('GET', '/'))
        time.sleep(0.1)     # the reset, if any, comes back in one RTT
        try:
            ka.sendall(request_bytes('GET', '/'))
        except (ConnectionResetError, BrokenPipeError) as e:
            self.fail('reset after a request crossed the FIN: %r' % e)
        self.assertEqual(srv.wait_exit(10), 0)

    def test_no_reset_during_stop(self):
        # Keep-alive clients pausing 0-300 ms between requests (some pause
        # past the moment a stopping worker gives an idle connection up)
        # and new connections all through a graceful stop (some complete
        # after the workers' last accept() unless the listener refuses
        # them first): no client ever
        # sees a reset, and none that was accepted goes unanswered.
        srv, _ = self.start_ready(['-w', '2', '--drain-delay', '0'], nworkers=2)
        port = srv.port
        stop = threading.Event()
        lock = threading.Lock()
        tally = {'ok': 0, 'refused': 0, 'idle_closed': 0, 'reset': [],
                 'unanswered': 0}

        def note(k, v=1):
            with lock:
                if isinstance(tally[k], list):
                    tally[k].append(v)
                else:
                    tally[k] += v

        def client(seed, fresh):
            rnd = random.Random(seed)
            while not stop.is_set():
                sock = socket.socket()
                sock.settimeout(5.0)
                try:
                    sock.connect(('127.0.0.1', port))
                except ConnectionResetError:
                    note('reset', 'connect')
                    sock.close()
                    continue
                except OSError:     # refused, or no answer to the SYN
                    note('refused')
                    sock.close()
                    time.sleep(0.02)
                    continue
                served, buf = 0, b''
                try:
                    while not stop.is_set():
                        close, buf = raw_exchange(sock, buf)
                        served += 1
                        note('ok')
                        if close or fresh:
                            break
                        time.sleep(rnd.uniform(0, 0.3))
                except Reset as e:
                    note('reset', str(e))
                except Closed:
                    # On a reused connection: the keep-alive race that
                    # clients retry; on a fresh one: unanswered.
                    note('idle_closed' if served else 'unanswered')
                except socket.timeout:
                    note('unanswered')
                finally:
                    sock.close()

        # Half of them open a new connection for every request.
        threads = [threading.Thread(target=client, args=(i, i % 2))
                   for i in range(12)]
        for t in threads:
            t.start()
        try:
            self.assertTrue(wait_for(lambda: tally['ok'] > 100, 10))
            srv.send_signal(signal.SIGTERM)
            self.assertEqual(srv.wait_exit(15), 0)
            time.sleep(0.3)     # clients meet the closed port
        finally:
            stop.set()
            for t in threads:
                t.join(15)
        self.assertEqual(tally['reset'], [], tally)
        self.assertEqual(tally['unanswered'], 0, tally)


class MetricsTest(LBTestCase):
    """/metrics: exact deltas, never backwards, the format."""

    def assert_grew(self, before, after, expect, what):
        """Every counter of after >= before; those in expect grew by
        exactly that much, all others not at all."""
        b, a = counters(before), counters(after)
        for k, v in b.items():
            self.assertIn(k, a, '%s: series %r vanished' % (what, k))
            self.assertGreaterEqual(a[k], v, '%s: %r went down' % (what, k))
        for k, v in a.items():
            if k[0].endswith(('_bucket', '_sum')):
                continue        # timing: checked through _count
            if k[0] == 'preforkd_handoffs_total' and k not in expect:
                # Whether a closing client's connection was parked first
                # is a race with its FIN: timing, like the durations.
                continue
            want = expect.get(k, 0)
            self.assertEqual(v - b.get(k, 0.0), want, '%s: %r' % (what, k))

    def req(self, name, method, code):
        return ('preforkd_http_requests_total',
                (('code', code), ('method', method)))

    def test_counters_across_crash_timeout_recycle_reload(self):
        srv = self.start_lb([
            '--max-requests', '15', '--timeout', '1',
            '-m', '/f=' + module_path('fault'), '--module-option', '/f mode segv',
            '-m', '/s=' + module_path('fault'), '--module-option', '/s mode sleep',
            '--module-option', '/s ms 5000'])
        dur = ('preforkd_http_request_duration_seconds_count', ())
        conns = ('preforkd_connections_accepted_total', ())
        body = ('preforkd_http_response_body_bytes_total', ())
        m0 = self.scrape(srv)
        self.assertEqual(val(m0, 'preforkd_generation'), 1)
        self.assertEqual(val(m0, 'preforkd_workers', state='accepting'), 1)
        self.assertEqual(val(m0, 'preforkd_build_info',
                             version=harness.project_version()), 1)

        # 14 requests of a known kind and size, on worker 1.
        sent = 0
        for target, method, code in ([('/', 'GET', 200)] * 10 +
                                     [('/missing', 'GET', 404)] * 2 +
                                     [('/', 'HEAD', 200), ('/', 'POST', 405)]):
            r = fetch(srv.port, target, method)
            self.assertEqual(r.status, code)
            sent += len(r.body or b'')
        m1 = self.scrape(srv)
        self.assert_grew(m0, m1, {
            self.req(m1, 'GET', '2xx'): 10, self.req(m1, 'GET', '4xx'): 2,
            self.req(m1, 'HEAD', '2xx'): 1, self.req(m1, 'POST', '4xx'): 1,
            dur: 14, conns: 14, body: sent}, 'requests')

        # A crash: the worker is replaced, its counts stay.
        self.assertEqual(fetch(srv.port, '/f/crash').status, 500)
        self.assertTrue(srv.wait_log(r'killed by SIGSEGV'))
        self.wait_accepting(srv)
        m2 = self.scrape(srv)
        self.assert_grew(m1, m2, {
            ('preforkd_worker_crashes_total', (('signal', 'SIGSEGV'),)): 1,
            ('preforkd_worker_respawns_total', ()): 1, conns: 1}, 'crash')

        # A handler past --timeout: 503, the worker exits and is replaced.
        self.assertEqual(fetch(srv.port, '/s/x').status, 503)
        self.assertTrue(srv.wait_log(r'handler timeout'))
        self.wait_accepting(srv)
        m3 = self.scrape(srv)
        self.assert_grew(m2, m3, {
            ('preforkd_handler_timeouts_total', ()): 1,
            ('preforkd_worker_respawns_total', ()): 1, conns: 1}, 'timeout')

        # --max-requests 15: the 15th request recycles the worker.
        sent = 0
        for _ in range(15):
            r = fetch(srv.port, '/')
            self.assertEqual(r.status, 200)
            sent += len(r.body)
        self.assertTrue(srv.wait_log(r'recycled after 15 requests'))
        self.assertTrue(srv.wait_log(r'worker 1 \(pid \d+\) exited'))
        self.wait_accepting(srv)
        m4 = self.scrape(srv)
        self.assert_grew(m3, m4, {
            self.req(m4, 'GET', '2xx'): 15, dur: 15, conns: 15, body: sent,
            ('preforkd_worker_recycles_total', ()): 1}, 'recycle')

        # HUP: a new generation; the old worker's counts stay.
        srv.send_signal(signal.SIGHUP)
        self.assertTrue(srv.wait_log(r'reload: generation 2 serving'))
        self.assertTrue(wait_for(lambda: sum(
            v for (n, _), v in self.scrape(srv).items()
            if n == 'preforkd_workers') == 1, 10))
        m5 = self.scrape(srv)
        self.assertEqual(val(m5, 'preforkd_generation'), 2)
        self.assert_grew(m4, m5, {('preforkd_reloads_total', ()): 1}, 'reload')
        for _ in range(3):
            self.assertEqual(fetch(srv.port, '/').status, 200)
        m6 = self.scrape(srv)
        self.assert_grew(m5, m6, {self.req(m6, 'GET', '2xx'): 3, dur: 3,
                                  conns: 3, body: 3 * len(r.body)}, 'after')
        sys.stderr.write(' [format checked by %s] ' % (
            'promtool and the test' if self.checked_by_promtool else 'the test'))

    def test_accept_queue_length(self):
        srv = self.start_lb([
            '-m', '/s=' + module_path('fault'),
            '--module-option', '/s mode sleep', '--module-option', '/s ms 3000'])
        key = ('preforkd_listen_queue_length',
               (('listener', '127.0.0.1:%d' % srv.port),))
        self.assertEqual(self.scrape(srv)[key], 0)
        busy = self.connect(srv)
        busy.send(request_bytes('GET', '/s/x'))
        self.assertTrue(wait_for(lambda: val(self.scrape(srv), 'preforkd_workers',
                                             state='handling') == 1, 5))
        waiting = [self.connect(srv) for _ in range(5)]
        for c in waiting:   # TCP_DEFER_ACCEPT: queued once they send
            c.send(b'GET /')
        self.assertTrue(wait_for(lambda: self.scrape(srv)[key] == 5, 5),
                        self.scrape(srv)[key])
        for c in waiting:
            c.close()       # each is then an EOF for the worker
        self.assertEqual(busy.read_response().status, 200)
        self.assertTrue(wait_for(lambda: self.scrape(srv)[key] == 0, 5))


if __name__ == '__main__':
    harness.main()
