"""A real Prometheus scraping preforkd's /metrics (issue 12).

The test runs the Prometheus server of Debian's `prometheus` package with
docs/deploy/prometheus.yml (its targets and a 1 s scrape interval put in),
scraping the status listeners of two preforkd instances while Python
client threads send keep-alive GETs for ~15 s and, meanwhile, workers
crash (the fault test module, tests/modules/fault.c), are recycled
(--max-requests) and one instance reloads (HUP). Then it asks Prometheus'
HTTP API what it recorded and compares with what the clients counted:

- Exact counts: the raw counter at the end minus the raw counter before
  the load, per instance, in one query with the @ modifier:
      sum by (instance) (preforkd_http_requests_total @ T1)
    - sum by (instance) (preforkd_http_requests_total @ T0)
  T0 is a moment before the first load request, after a scrape of both
  targets; T1 is after a scrape that started once the last response had
  arrived. This is the number of requests the workers counted; it must be
  within 2% of the responses the clients received (it is in fact equal).
  increase() and rate() are not used for that: they extrapolate to the
  ends of their window, so they estimate. rate() over the load's window is
  reported next to the clients' own rate, with a loose bound.
- No resets: resets(NAME[D] @ T1) == 0 for every series of every counter
  family (and histogram part) over the whole run.
- No gaps: every such series is in every successful scrape
  (count_over_time equals that of up), and every scrape succeeded.
- The other counters: crashes, respawns, reloads grew by exactly what was
  done; recycles grew.
- promtool check metrics on /metrics bodies taken during the load, and
  promtool check config on the file as documented.
- Every PromQL line documented in the file evaluates without error to a
  non-empty result.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import ServerTestCase, Client, request_bytes, wait_for  # noqa: E402
from test_lb import parse_metrics, promtool_check, status_port  # noqa: E402

CONFIG = os.path.join(harness.REPO, 'docs', 'deploy', 'prometheus.yml')
LOAD_SECONDS = 15.0
THREADS = 3             # client threads per instance
CRASH_EVERY = 1.5       # seconds between crash requests (alternating)
HUP_AT = 5.0            # seconds into the load
MAX_REQUESTS = 200


def module_path(name):
    return os.path.join(harness.module_dirs()[0], name + '.so')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def fetch(port, target, timeout=5.0):
    with Client(port, timeout=timeout) as c:
        c.send(request_bytes('GET', target))
        return c.read_response('GET', timeout)


def documented_queries(text):
    """The PromQL lines of the file: comments indented by three spaces
    after the "Useful PromQL" line."""
    part = text.split('# Useful PromQL', 1)[1]
    out = []
    for line in part.split('\n')[1:]:
        if not line.startswith('#'):
            break
        if line.startswith('#   ') and not line.startswith('#    '):
            out.append(line[4:].strip())
    return out


def config_for(targets):
    """docs/deploy/prometheus.yml with the job's interval at 1 s and the
    targets replaced; each replaced line must be there exactly once."""
    with open(CONFIG) as f:
        text = f.read()
    text, n = re.subn(r'(?m)^(    scrape_interval: )15s( .*)?$', r'\g<1>1s',
                      text)
    assert n == 1, 'job scrape_interval line not found'
    text, n = re.subn(r"(?m)^(      - targets: )\[.*$",
                      lambda m: m.group(1) + json.dumps(targets), text)
    assert n == 1, 'targets line not found'
    return text


class Prometheus:
    """A Prometheus server in a temporary directory, stopped by PID."""

    def __init__(self, config_text):
        self.exe = shutil.which('prometheus')
        self.tmp = tempfile.mkdtemp(prefix='pfk-prom-')
        self.config = os.path.join(self.tmp, 'prometheus.yml')
        with open(self.config, 'w') as f:
            f.write(config_text)
        self.log = os.path.join(self.tmp, 'prometheus.log')
        self.proc = None
        self.port = None

    def start(self, timeout=20.0):
        for _ in range(3):      # the port may be taken between probe and bind
            self.port = free_port()
            with open(self.log, 'ab') as log:
                self.proc = subprocess.Popen(
                    [self.exe, '--config.file=' + self.config,
                     '--storage.tsdb.path=' + os.path.join(self.tmp, 'data'),
                     '--web.listen-address=127.0.0.1:%d' % self.port,
                     '--storage.tsdb.retention.time=1h',
                     '--log.level=warn'],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    cwd=self.tmp)
            if wait_for(lambda: self.ready() or self.proc.poll() is not None,
                        timeout, 0.1) and self.proc.poll() is None:
                return
            self.stop()
        raise AssertionError('prometheus did not get ready: %s' % self.log_tail())

    def ready(self):
        try:
            with urllib.request.urlopen('http://127.0.0.1:%d/-/ready' % self.port,
                                        timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def query(self, expr, at=None):
        """An instant query; returns the result list (vector or scalar)."""
        args = {'query': expr}
        if at is not None:
            args['time'] = '%.3f' % at
        url = 'http://127.0.0.1:%d/api/v1/query?%s' % (
            self.port, urllib.parse.urlencode(args))
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            raise AssertionError('%s: %s' % (expr, e.read().decode())) from None
        assert body['status'] == 'success', (expr, body)
        return body['data']['result']

    def vector(self, expr, at=None, key='instance'):
        """{labels[key]: float} of an instant vector query."""
        return {s['metric'].get(key): float(s['value'][1])
                for s in self.query(expr, at)}

    def log_tail(self):
        try:
            with open(self.log, 'rb') as f:
                return f.read()[-3000:].decode('utf-8', 'replace')
        except OSError:
            return ''

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def cleanup(self):
        self.stop()
        if not os.environ.get('PFK_KEEP'):
            shutil.rmtree(self.tmp, ignore_errors=True)


class Load:
    """Keep-alive GETs from client threads until a deadline; counts every
    response received, by status, and the requests that got none (sent on
    a connection the server closed)."""

    REQ = b'GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n'

    def __init__(self, port):
        self.port = port
        self.lock = threading.Lock()
        self.status = {}
        self.lost = 0
        self.errors = []

    def run(self, deadline, max_requests=500000):
        status, lost, n = {}, 0, 0
        sock, buf = None, b''
        try:
            while n < max_requests and time.monotonic() < deadline:
                if sock is None:
                    sock = socket.create_connection(('127.0.0.1', self.port), 5)
                    buf = b''
                n += 1
                try:
                    sock.sendall(self.REQ)
                    while b'\r\n\r\n' not in buf:
                        d = sock.recv(65536)
                        if not d:
                            raise ConnectionError('EOF')
                        buf += d
                    head, _, buf = buf.partition(b'\r\n\r\n')
                    m = re.search(rb'(?im)^content-length: *(\d+)', head)
                    size = int(m.group(1)) if m else 0
                    while len(buf) < size:
                        d = sock.recv(65536)
                        if not d:
                            raise ConnectionError('EOF in body')
                        buf += d
                    buf = buf[size:]
                except (ConnectionError, socket.timeout) as e:
                    lost += 1
                    if len(self.errors) < 5:
                        self.errors.append(repr(e))
                    sock.close()
                    sock = None
                    continue
                code = int(head[9:12])
                status[code] = status.get(code, 0) + 1
                if re.search(rb'(?im)^connection: *close', head):
                    sock.close()
                    sock = None
        finally:
            if sock is not None:
                sock.close()
            with self.lock:
                for k, v in status.items():
                    self.status[k] = self.status.get(k, 0) + v
                self.lost += lost

    def responses(self):
        return sum(self.status.values())


class PrometheusTest(ServerTestCase):

    def start_instance(self):
        srv = self.start_server([
            '-w', '2', '--status-listen', '127.0.0.1:0',
            '--max-requests', str(MAX_REQUESTS),
            '-m', '/f=' + module_path('fault'), '--module-option', '/f mode segv'])
        self.assertTrue(srv.wait_log(r'ready: 2 workers'), srv.error_lines()[-5:])
        srv.status_port = status_port(srv)
        return srv

    def crash(self, srv):
        r = fetch(srv.port, '/f/crash')
        self.assertEqual(r.status, 500)

    def test_counts_match_clients_across_crash_recycle_reload(self):
        if shutil.which('prometheus') is None:
            # scripts/test installs it: in CI its absence is a failure.
            self.assertFalse(os.environ.get('CI'), 'prometheus not installed')
            self.skipTest('prometheus not installed (Debian package prometheus)')
        began = time.monotonic()
        with open(CONFIG) as f:
            queries = documented_queries(f.read())
        self.assertGreaterEqual(len(queries), 5, queries)
        self.assertTrue(promtool_check_config(self, CONFIG))

        a, b = self.start_instance(), self.start_instance()
        srvs = {'127.0.0.1:%d' % s.status_port: s for s in (a, b)}
        name_a = '127.0.0.1:%d' % a.status_port
        prom = Prometheus(config_for(sorted(srvs)))
        self.addCleanup(prom.cleanup)
        prom.start()
        crashes = {k: 0 for k in srvs}

        # One crash each before T0, so that the SIGSEGV series exists all
        # along; then a scrape of both that shows it.
        for k, s in srvs.items():
            self.crash(s)
            crashes[k] += 1
        crashed_at = time.time()
        self.assertTrue(wait_for(lambda: len(prom.vector(
            'preforkd_worker_crashes_total{signal="SIGSEGV"} == 1 and '
            'on (instance) timestamp(up) > %.3f' % crashed_at)) == 2, 15, 0.2),
            prom.log_tail())
        # Both workers of each replaced and accepting, so that no start-up
        # is in the way of T0.
        for s in srvs.values():
            self.assertTrue(wait_for(lambda: re.search(
                r'(?m)^preforkd_workers\{state="accepting"\} 2$',
                fetch(s.status_port, '/metrics').body.decode()), 10))
        t0 = time.time()
        for k, s in srvs.items():
            self.assertEqual(prom.vector('up', t0).get(k), 1.0)

        # The load.
        loads = {k: Load(s.port) for k, s in srvs.items()}
        start = time.monotonic()
        deadline = start + LOAD_SECONDS
        threads = [threading.Thread(target=l.run, args=(deadline,), daemon=True)
                   for l in loads.values() for _ in range(THREADS)]
        for t in threads:
            t.start()
        during = []
        hup_done = False
        turn = 0
        next_crash = start + CRASH_EVERY
        while time.monotonic() < deadline:
            now = time.monotonic()
            if not hup_done and now >= start + HUP_AT:
                a.send_signal(signal.SIGHUP)
                hup_done = True
            if now >= next_crash:
                k = sorted(srvs)[turn % 2]
                self.crash(srvs[k])
                crashes[k] += 1
                turn += 1
                next_crash += CRASH_EVERY
            if hup_done and not during and a.wait_log(
                    r'reload: generation 2 serving', 0):
                # The bodies promtool checks: under load, after the reload.
                during = [fetch(s.status_port, '/metrics').body.decode()
                          for s in srvs.values()]
            time.sleep(0.05)
        for t in threads:
            t.join(10)
            self.assertFalse(t.is_alive())
        t_end = time.time()
        load_s = time.monotonic() - start
        self.assertTrue(a.wait_log(r'reload: generation 2 serving', 5))
        self.assertEqual(len(during), 2, 'no /metrics taken after the reload')
        for text in during:
            parse_metrics(text)
            promtool_ok = promtool_check(self, text)

        # T1: after a scrape that began once the last response was in;
        # every sample up to T1 is stored once a later scrape of each
        # target is (a target's scrapes are sequential).
        t1 = t_end + 2.5
        self.assertTrue(wait_for(lambda: len(prom.vector(
            'timestamp(up{job="preforkd"}) > %.3f' % (t1 + 0.5))) == 2,
            15, 0.2), prom.log_tail())
        last = prom.vector('timestamp(up{job="preforkd"})', t1)
        for k in srvs:
            self.assertGreater(last[k], t_end + 0.2, 'no scrape after the load')

        # (a) The exact count, per instance, against the clients' count.
        got = prom.vector('sum by (instance) (preforkd_http_requests_total @ %.3f)'
                          ' - sum by (instance) (preforkd_http_requests_total @ %.3f)'
                          % (t1, t0))
        want = {k: l.responses() for k, l in loads.items()}
        for k in srvs:
            self.assertTrue(want[k] > 1000, (k, want[k]))
            self.assertEqual(set(loads[k].status), {200}, loads[k].status)
            self.assertLessEqual(abs(got[k] - want[k]), 0.02 * want[k],
                                 '%s: Prometheus %r, clients %r' % (k, got[k], want[k]))
            # Exactly: all the clients got, plus perhaps some of those
            # sent on a connection the server closed.
            self.assertTrue(want[k] <= got[k] <= want[k] + loads[k].lost,
                            (k, got[k], want[k], loads[k].lost))

        def delta(expr):
            return prom.vector('sum by (instance) (%s @ %.3f) - sum by (instance) '
                               '(%s @ %.3f)' % (expr, t1, expr, t0))
        dur = delta('preforkd_http_request_duration_seconds_count')
        crashed = delta('preforkd_worker_crashes_total')
        respawned = delta('preforkd_worker_respawns_total')
        recycled = delta('preforkd_worker_recycles_total')
        reloaded = delta('preforkd_reloads_total')
        for k in srvs:
            pre = 1     # the crash before T0
            self.assertEqual(dur[k], got[k], ('durations', k))
            self.assertEqual(crashed[k], crashes[k] - pre, ('crashes', k))
            # A worker that crashes while retiring (its successor took
            # over: recycling, reload) is not replaced, so not counted.
            self.assertTrue(0 < respawned[k] <= crashed[k],
                            ('respawns', k, respawned[k], crashed[k]))
            self.assertGreater(recycled[k], want[k] / MAX_REQUESTS / 4,
                               ('recycles', k))
            self.assertEqual(reloaded[k], 1 if k == name_a else 0, ('reloads', k))

        # No resets and no gaps, for every series of every counter family.
        span_ms = int((t1 - t0 + 1.0) * 1000)
        ups = prom.vector('count_over_time(up{job="preforkd"}[%dms] @ %.3f)'
                          % (span_ms, t1))
        self.assertEqual(prom.vector('min_over_time(up{job="preforkd"}[%dms] @ %.3f)'
                                     % (span_ms, t1)), {k: 1.0 for k in srvs})
        names = [s['metric']['__name__'] for s in
                 prom.query('group by (__name__) ({job="preforkd"})', t1)]
        names = [n for n in names if re.search(r'_(total|bucket|sum|count)$', n)]
        self.assertIn('preforkd_http_requests_total', names)
        self.assertIn('preforkd_worker_crashes_total', names)
        resets, nseries = {}, 0
        for n in sorted(names):
            for s in prom.query('resets(%s[%dms] @ %.3f)' % (n, span_ms, t1)):
                nseries += 1
                if float(s['value'][1]) != 0:
                    resets[(n, json.dumps(s['metric'], sort_keys=True))] = \
                        s['value'][1]
            for s in prom.query('count_over_time(%s[%dms] @ %.3f)'
                                % (n, span_ms, t1)):
                self.assertEqual(float(s['value'][1]), ups[s['metric']['instance']],
                                 'series missing from some scrapes: %s %r'
                                 % (n, s['metric']))
        self.assertEqual(resets, {})

        # rate() and increase() estimate: reported, and roughly right.
        win_ms = int(load_s * 1000)
        rate = prom.vector('sum(rate(preforkd_http_requests_total[%dms] @ %.3f))'
                           % (win_ms, t_end), key=None)[None]
        inc = prom.vector('sum(increase(preforkd_http_requests_total[%dms] @ %.3f))'
                          % (win_ms, t_end), key=None)[None]
        total = sum(want.values())
        client_rate = total / load_s
        self.assertLess(abs(rate - client_rate), 0.25 * client_rate,
                        (rate, client_rate))

        slowest = prom.vector('max_over_time(scrape_duration_seconds'
                              '{job="preforkd"}[%dms] @ %.3f)' % (span_ms, t1))

        # The documented queries run and find data.
        for q in queries:
            self.assertTrue(prom.query(q, t1), 'no result: %s' % q)

        sys.stderr.write(
            '\n  clients: %s responses (%s), %s without one; Prometheus: %s; '
            'crashes %s, recycles %s; resets: %d in %d series; '
            'rate() %.0f/s vs clients %.0f/s, increase() %.0f vs %d; '
            'slowest scrape %.3f s; load %.1f s, test %.1f s; promtool %s\n' % (
                want, ', '.join('%s: %s' % (k, l.status) for k, l in loads.items()),
                {k: l.lost for k, l in loads.items()},
                {k: int(v) for k, v in got.items()},
                {k: int(v) for k, v in crashed.items()},
                {k: int(v) for k, v in recycled.items()},
                len(resets), nseries, rate, client_rate, inc, total,
                max(slowest.values()), load_s,
                time.monotonic() - began, 'ran' if promtool_ok else 'absent'))


def promtool_check_config(testcase, path):
    """promtool check config on the documented file, when installed."""
    exe = shutil.which('promtool')
    if exe is None:
        testcase.assertFalse(os.environ.get('CI'), 'promtool not installed')
        return True
    p = subprocess.run([exe, 'check', 'config', path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    testcase.assertEqual(p.returncode, 0, p.stdout.decode())
    return True


if __name__ == '__main__':
    harness.main()
