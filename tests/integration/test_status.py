"""The status process (SPEC section 9, --status-listen) through the real binary.

/status as text, JSON and HTML; a request in flight as the scoreboard
shows it; answers while every worker hangs; the status process is a
child of the master but not a worker, and is replaced when killed; bad,
huge and stalled requests cost it nothing. The HTML page is also loaded
in headless Chromium, which leaves a screenshot in the build directory's
meson-logs/status.png for a human to look at.

Slow and hung requests come from the test-only module tests/modules/fault.c
(modes sleep and hang), found through --modules-dir.
"""

import html.parser
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import (ServerTestCase, Client, ClosedError, DeadlineError,  # noqa: E402
                     children_of, proc_stat, request_bytes, wait_for)

STATES = {'starting', 'accepting', 'reading', 'handling', 'writing',
          'keepalive', 'closing'}
WORKER_KEYS = {'id', 'pid', 'gen', 'state', 'requests', 'method', 'path',
               'age_ms', 'client', 'uptime_ms'}
CHROMIUM = harness.CHROMIUM
SLEEP_MS = 1500                 # the fault module's slow request
# A target whose bytes need escaping in every format (0xe9: not UTF-8).
ODD_TARGET = b'/f/a"<b>\'&\\\xe9?q=<i>'


def module_path(name):
    """A test-only module (tests/modules/NAME.c)."""
    return os.path.join(harness.module_dirs()[0], name + '.so')


def status_port(srv, timeout=10.0):
    """The --status-listen port: the master binds it after the request
    listeners, so it is the last "listening on" line once the status
    process has started."""
    if not srv.wait_log(r'status process started \(pid \d+\)', timeout):
        raise AssertionError('no "status process started" line: %r'
                             % srv.error_lines()[-10:])
    ports = re.findall(r'listening on 127\.0\.0\.1:(\d+)', srv.error_text())
    return int(ports[-1])


def cmdline(pid):
    """What ps shows for pid (its title), or None when it is gone."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().replace(b'\0', b' ').decode('latin-1').strip()
    except (FileNotFoundError, ProcessLookupError):
        return None


class RowCounter(html.parser.HTMLParser):
    """Collects the worker rows (<tr class="w ...">) of a page's tbody."""

    def __init__(self):
        super().__init__()
        self.rows = []          # (classes, data-pid) per worker row
        self.in_tbody = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'tbody':
            self.in_tbody = True
        elif tag == 'tr' and self.in_tbody and 'w' in (a.get('class') or '').split():
            self.rows.append((a.get('class'), a.get('data-pid')))

    def handle_endtag(self, tag):
        if tag == 'tbody':
            self.in_tbody = False


class StatusTestCase(ServerTestCase):
    """Helpers: servers with --status-listen, requests to the status port."""

    def start_status(self, args=(), nworkers=2):
        """A per-test server with a status listener, its workers accepting."""
        srv = self.start_server(['-w', str(nworkers), '--status-listen',
                                 '127.0.0.1:0'] + list(args))
        srv.status_port = status_port(srv)
        self.wait_steady(srv, nworkers)
        return srv

    def wait_steady(self, srv, nworkers, timeout=10.0):
        """Waits until the status lists nworkers workers, all accepting."""
        def steady():
            j = self.status_json(srv)
            return j if (len(j['workers']) == nworkers and
                         all(w['state'] == 'accepting' for w in j['workers'])) else None
        j = wait_for(steady, timeout, interval=0.05)
        self.assertTrue(j, 'workers not all accepting: %r' % self.status_json(srv))
        return j

    def status_raw(self, raw, srv=None, method='GET', timeout=5.0):
        """Sends raw to the status port; returns the response, after
        checking that the connection is closed after it."""
        srv = srv or self.server
        with Client(srv.status_port, timeout=timeout) as c:
            c.send(raw)
            r = c.read_response(method, timeout)
            self.assertTrue(c.is_closed(3.0), 'status connection left open')
            self.assertEqual(c.extra, b'', 'bytes after the response')
        return r

    def status(self, target='/status', srv=None, method='GET', timeout=5.0):
        r = self.status_raw(request_bytes(method, target), srv, method, timeout)
        self.assert_common(r, method)
        self.assertTrue(r.has_token('Connection', 'close'), r)
        self.assertEqual(r.header('Cache-Control'), 'no-store', r)
        return r

    def status_json(self, srv=None):
        r = self.status('/status?format=json', srv)
        self.assertEqual(r.status, 200, r)
        return json.loads(r.body)

    def assert_shape(self, j, nworkers, srv=None):
        """The JSON document: master facts and exactly nworkers workers,
        whose pids are the master's children (minus the status process)."""
        srv = srv or self.server
        self.assertEqual(j['master_pid'], srv.pid)
        self.assertEqual(j['workers_wanted'], nworkers)
        self.assertGreaterEqual(j['generation'], 1)
        self.assertGreaterEqual(j['uptime_ms'], 0)
        self.assertIsInstance(j['started_unix'], int)
        self.assertEqual(len(j['workers']), nworkers, j)
        kids = {p for p, (s, _) in children_of(srv.pid).items() if s != 'Z'}
        pids = {w['pid'] for w in j['workers']}
        self.assertIn(j['status_pid'], kids)
        self.assertEqual(pids, kids - {j['status_pid']}, j)
        self.assertEqual(sorted(w['id'] for w in j['workers']),
                         list(range(1, nworkers + 1)))
        for w in j['workers']:
            self.assertEqual(set(w), WORKER_KEYS, w)
            self.assertIn(w['state'], STATES)
            self.assertIsInstance(w['requests'], int)
            self.assertGreaterEqual(w['uptime_ms'], 0)


# --------------------------------------------------------------------------
# One shared server: three workers and a slow mount.

class Status(StatusTestCase):

    N = 3

    @classmethod
    def setUpClass(cls):
        cls.server_args = [
            '-w', str(cls.N), '--status-listen', '127.0.0.1:0',
            '-m', '/f=' + module_path('fault'),
            '--module-option', '/f mode sleep',
            '--module-option', '/f ms %d' % SLEEP_MS,
        ]
        super().setUpClass()
        cls.server.status_port = status_port(cls.server)

    def setUp(self):
        super().setUp()
        self.wait_steady(self.server, self.N)

    # -- the three formats ----------------------------------------------------

    def test_text(self):
        r = self.status()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header('Content-Type'), 'text/plain; charset=utf-8')
        text = r.body.decode('utf-8')
        self.assertRegex(text, r'(?m)^master pid +%d$' % self.server.pid)
        self.assertRegex(text, r'(?m)^uptime +\S+ \(\d+ s\)$')
        self.assertRegex(text, r'(?m)^generation +1$')
        self.assertRegex(text, r'(?m)^workers wanted +%d$' % self.N)
        header = [l for l in text.splitlines() if l.split()[:4] == ['id', 'pid', 'gen', 'state']]
        self.assertEqual(len(header), 1, text)
        rows = re.findall(r'(?m)^ +(\d+) +(\d+) +(\d+)  (\w+) +(\d+) +\S+ +(-|\d+)  (\S+) +(.*)$',
                          text)
        self.assertEqual(len(rows), self.N, text)
        j = self.status_json()
        self.assertEqual(sorted(int(row[1]) for row in rows),
                         sorted(w['pid'] for w in j['workers']))
        for row in rows:
            self.assertIn(row[3], STATES)
        # Aligned: the state column starts at the same offset on every row.
        lines = [l for l in text.splitlines() if re.match(r'^ +\d+ +\d+ +\d+  \w', l)]
        offsets = {l.index(s) for l, s in zip(lines, (row[3] for row in rows))}
        self.assertEqual(len(offsets), 1, lines)

    def test_json(self):
        r = self.status('/status?format=json')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header('Content-Type'), 'application/json')
        j = json.loads(r.body.decode('utf-8'))
        self.assert_shape(j, self.N)
        for w in j['workers']:
            self.assertEqual(w['state'], 'accepting', j)
            self.assertEqual(w['gen'], j['generation'])
            self.assertIsNone(w['method'])
            self.assertIsNone(w['path'])
            self.assertIsNone(w['age_ms'])

    def test_html(self):
        r = self.status('/status?format=html')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header('Content-Type'), 'text/html; charset=utf-8')
        self.assertIn("default-src 'none'", r.header('Content-Security-Policy', ''))
        page = r.body.decode('utf-8')
        self.assertTrue(page.startswith('<!doctype html>'), page[:80])
        self.assertIn('<meta http-equiv="refresh" content="2">', page)
        self.assertIn('<meta name="viewport"', page)
        self.assertIn('<style>', page)
        # Self-contained: nothing to fetch from anywhere.
        self.assertNotRegex(page, r'(?i)<(script|link|img|iframe)\b|src=|url\(|@import')
        self.assertNotRegex(page, r'(?i)https?://')
        rows = RowCounter()
        rows.feed(page)
        j = self.status_json()
        self.assertEqual(len(rows.rows), self.N, rows.rows)
        self.assertEqual(sorted(int(p) for _, p in rows.rows),
                         sorted(w['pid'] for w in j['workers']))
        for cls, _ in rows.rows:
            self.assertIn('s-accepting', cls.split())

    def test_query_forms(self):
        for target in ('/status?format=text', '/status?x=1&format=json',
                       '/status?format=html&x=1', '/status?'):
            r = self.status(target)
            self.assertEqual(r.status, 200, (target, r))
        self.assertTrue(self.status('/status?format=text').header(
            'Content-Type').startswith('text/plain'))
        self.assertEqual(self.status('/status?x=1&format=json').header('Content-Type'),
                         'application/json')
        r = self.status('/status?format=xml')
        self.assertEqual(r.status, 400, r)

    def test_head(self):
        for fmt in ('text', 'json', 'html'):
            r = self.status('/status?format=' + fmt, method='HEAD')
            self.assertEqual(r.status, 200, r)
            self.assertGreater(int(r.header('Content-Length')), 0)

    # -- a request in flight ----------------------------------------------------

    def in_flight(self, target):
        """Starts target on a request connection in a thread; returns the
        thread and a dict that gets the response (or the error)."""
        out = {}

        def run():
            try:
                with Client(self.server.port, timeout=10) as c:
                    c.send(request_bytes('GET', target.decode('latin-1')))
                    out['r'] = c.read_response(timeout=10)
            except Exception as e:      # reported by the test, not lost
                out['e'] = e
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.addCleanup(t.join, 15)
        return t, out

    def wait_handling(self, path, min_age_ms=50):
        """Waits for the worker handling path for at least min_age_ms;
        returns (json, worker)."""
        def find():
            j = self.status_json()
            for w in j['workers']:
                if (w['state'] == 'handling' and w['path'] == path and
                        w['age_ms'] >= min_age_ms):
                    return j, w
            return None
        found = wait_for(find, SLEEP_MS / 1000.0 - 0.2, interval=0.01)
        self.assertTrue(found, 'no worker handling %r: %r' % (path, self.status_json()))
        return found

    def test_request_in_flight_shows(self):
        target = b'/f/slow?n=1'
        t, out = self.in_flight(target)
        j, w = self.wait_handling(target.decode())
        self.assertEqual(w['method'], 'GET')
        self.assertGreater(w['age_ms'], 0)      # and it grows:
        self.assertGreater(self.wait_handling(target.decode(), w['age_ms'] + 1)[1]['age_ms'],
                           w['age_ms'])
        self.assertLess(w['age_ms'], SLEEP_MS + 1000)
        self.assertRegex(w['client'], r'^127\.0\.0\.1:\d+$')
        text = self.status().body.decode()
        line = [l for l in text.splitlines() if re.match(r'^ +\d+ +%d ' % w['pid'], l)]
        self.assertEqual(len(line), 1, text)
        self.assertIn('handling', line[0])
        self.assertTrue(line[0].endswith('GET /f/slow?n=1'), line[0])
        page = self.status('/status?format=html').body.decode()
        row = re.search(r'<tr class="w s-handling" data-pid="%d">.*?</tr>' % w['pid'], page)
        self.assertIsNotNone(row, page)
        self.assertIn('<b>GET</b>/f/slow?n=1', row.group(0))
        t.join(10)
        self.assertNotIn('e', out, out.get('e'))
        self.assertEqual(out['r'].body, b'slept %d\n' % SLEEP_MS)
        after = self.wait_steady(self.server, self.N)
        done = [x for x in after['workers'] if x['pid'] == w['pid']]
        self.assertEqual(len(done), 1, after)
        self.assertGreaterEqual(done[0]['requests'], 1)
        self.assertIsNone(done[0]['path'])

    def test_strings_are_escaped(self):
        """Slots hold raw bytes from the wire: each format escapes them
        (JSON and HTML read each byte as one Latin-1 code point)."""
        t, out = self.in_flight(ODD_TARGET)
        j, w = self.wait_handling(ODD_TARGET.decode('latin-1'))
        page = self.status('/status?format=html').body
        page.decode('utf-8')            # valid UTF-8 despite the 0xe9
        row = re.search(rb'<tr class="w s-handling" data-pid="%d">.*?</tr>' % w['pid'], page)
        self.assertIsNotNone(row, page)
        self.assertIn(b'&#x22;&#x3c;b&#x3e;&#x27;&#x26;\\&#xe9;?q=&#x3c;i&#x3e;', row.group(0))
        self.assertNotIn(b'q=<i>', page)
        text = self.status().body
        self.assertIn(b'GET /f/a"<b>\'&\\x5c\\xe9?q=<i>\n', text)
        t.join(10)
        self.assertNotIn('e', out, out.get('e'))
        self.assertEqual(out['r'].status, 200)

    # -- not a worker --------------------------------------------------------

    def test_status_process_is_not_a_worker(self):
        j = self.status_json()
        sp = j['status_pid']
        self.assertNotIn(sp, [w['pid'] for w in j['workers']])
        self.assertEqual(proc_stat(sp)[1], self.server.pid, 'not a child of the master')
        title = cmdline(sp)
        self.assertRegex(title, r'^preforkd: status 127\.0\.0\.1:%d\b' % self.server.status_port)
        for w in j['workers']:
            self.assertRegex(cmdline(w['pid']), r'^preforkd: worker %d\b' % w['id'])
        # It holds the status listener only, not the request listeners.
        self.assertEqual(harness.socket_count(sp), 1)

    # -- errors --------------------------------------------------------------

    def test_method_not_allowed(self):
        for method in ('POST', 'PUT', 'DELETE', 'OPTIONS'):
            r = self.status('/status', method=method)
            self.assertEqual(r.status, 405, r)
            self.assertEqual(r.header('Allow'), 'GET, HEAD')
            self.assertTrue(r.header('Content-Type').startswith('text/plain'))
        r = self.status_raw(request_bytes('POST', '/status', body='a=1' * 1000,
                                          headers=[('Content-Length', '3000')]))
        self.assertEqual(r.status, 405, r)

    def test_not_found(self):
        for target in ('/nope', '/', '/status/', '/statusx', '/%73tatus'):
            r = self.status(target)
            self.assertEqual(r.status, 404, (target, r))
            self.assertEqual(r.body, b'404 Not Found\n')
        r = self.status('/nope', method='HEAD')
        self.assertEqual(r.status, 404, r)

    def test_bad_requests(self):
        for raw, status in ((b'HELLO\r\n\r\n', 400),
                            (b'GET status HTTP/1.1\r\n\r\n', 400),
                            (b'GET /status HTTP/9.9\r\n\r\n', 505),
                            (b'GET /status\r\n\r\n', 400),
                            (b'GET  /status HTTP/1.1\r\n\r\n', 400),
                            (b'G(T /status HTTP/1.1\r\n\r\n', 400)):
            r = self.status_raw(raw)
            self.assertEqual(r.status, status, (raw, r))
        self.assertEqual(self.status().status, 200)

    def test_huge_garbage_does_not_hurt(self):
        sp = self.status_json()['status_pid']
        junk = bytes(b if b != 10 else 46 for b in os.urandom(20 * 1024))
        with Client(self.server.status_port) as c:
            try:
                c.send(junk)
                r = c.read_response(timeout=5)
                self.assertEqual(r.status, 431, r)
            except (ClosedError, ConnectionError):
                pass            # a reset is fine too: it is garbage
        with Client(self.server.status_port) as c:
            c.send(b'\x00\xff' * 3000 + b'\r\n\r\n')
            r = c.read_response(timeout=5)
            self.assertEqual(r.status, 400, r)
        j = self.status_json()
        self.assertEqual(j['status_pid'], sp, 'the status process was replaced')
        self.assert_shape(j, self.N)

    def test_stalled_client_is_bounded(self):
        """A client that stops mid-head gets 408 after ~2 s; the next one
        waits at most that long."""
        with Client(self.server.status_port, timeout=10) as stalled:
            stalled.send(b'GET /sta')
            t0 = time.monotonic()
            r = self.status()
            elapsed = time.monotonic() - t0
            self.assertEqual(r.status, 200)
            self.assertLess(elapsed, 4.0)
            r = stalled.read_response(timeout=5)
            self.assertEqual(r.status, 408, r)
        # A client that connects and says nothing is dropped silently.
        with Client(self.server.status_port, timeout=10) as silent:
            self.assertTrue(silent.is_closed(5.0))
            self.assertEqual(silent.extra, b'')
        self.assertEqual(self.status().status, 200)


# --------------------------------------------------------------------------
# Per-test servers: hung workers, a killed status process.

class StatusSupervision(StatusTestCase):

    def test_answers_while_every_worker_hangs(self):
        srv = self.start_status(['-m', '/f=' + module_path('fault'),
                                 '--module-option', '/f mode hang',
                                 '--timeout', '30', '--graceful-timeout', '1'], 2)
        hung = [self.connect(srv) for _ in range(2)]
        for i, c in enumerate(hung):
            c.send(request_bytes('GET', '/f/hang%d' % i))

        def all_hung():
            j = self.status_json(srv)
            return j if [w['state'] for w in j['workers']] == ['handling'] * 2 else None
        j = wait_for(all_hung, 5, interval=0.05)
        self.assertTrue(j, 'workers not both hung: %r' % self.status_json(srv))
        self.assertEqual(sorted(w['path'] for w in j['workers']), ['/f/hang0', '/f/hang1'])
        # Nobody is left to serve a request...
        with Client(srv.port, timeout=5) as c:
            c.send(request_bytes('GET', '/index.html'))
            with self.assertRaises(DeadlineError):
                c.read_response(timeout=0.5)
        # ...but the status answers, quickly and repeatedly.
        for target in ('/status', '/status?format=json', '/status?format=html') * 2:
            t0 = time.monotonic()
            r = self.status(target, srv, timeout=1.0)
            self.assertLess(time.monotonic() - t0, 1.0, target)
            self.assertEqual(r.status, 200)
        j = self.status_json(srv)
        self.assertTrue(all(w['age_ms'] >= 500 for w in j['workers']), j)

    def test_killed_status_process_is_replaced(self):
        srv = self.start_status([], 2)
        j = self.status_json(srv)
        old = j['status_pid']
        workers = sorted(w['pid'] for w in j['workers'])
        mark = len(srv.error_lines())
        os.kill(old, signal.SIGKILL)
        self.assertTrue(srv.wait_log(r'status process \(pid %d\) died' % old, 5, mark),
                        srv.error_lines()[mark:])

        def replaced():
            try:
                j2 = self.status_json(srv)
            except (ClosedError, DeadlineError, ConnectionError):
                return None
            return j2 if j2['status_pid'] != old else None
        j2 = wait_for(replaced, 5, interval=0.05)
        self.assertTrue(j2, 'no new status process answered')
        new = j2['status_pid']
        self.assertTrue(srv.wait_log(r'status process started \(pid %d\)' % new, 5, mark))
        self.assertEqual(sorted(w['pid'] for w in j2['workers']), workers,
                         'the workers were touched')
        self.assert_shape(j2, 2, srv)
        # A graceful stop takes the status process along.
        self.assertEqual(srv.stop(), 0)
        st = proc_stat(new)
        self.assertTrue(st is None or st[0] == 'Z', 'status process %d left behind' % new)

    def test_signal_dispositions(self):
        """The master's handlers and blocked mask do not survive the fork:
        the master's own signals leave it serving, TERM ends it at once."""
        srv = self.start_status([], 1)
        sp = self.status_json(srv)['status_pid']
        for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH,
                    signal.SIGTTIN, signal.SIGTTOU, signal.SIGCHLD, signal.SIGPIPE):
            os.kill(sp, sig)
            self.assertEqual(self.status_json(srv)['status_pid'], sp, sig)
        mark = len(srv.error_lines())
        os.kill(sp, signal.SIGTERM)
        self.assertTrue(srv.wait_log(r'status process \(pid %d\) died' % sp, 5, mark),
                        'SIGTERM did not end the status process: blocked?')
        j = wait_for(lambda: self.status_json(srv)['status_pid'] != sp, 5)
        self.assertTrue(j)


# --------------------------------------------------------------------------
# The page in a real browser.

class StatusBrowser(StatusTestCase):

    def setUp(self):
        super().setUp()
        if not os.access(CHROMIUM, os.X_OK):
            if os.environ.get('CI'):
                self.fail('%s is missing: CI must install the chromium package' % CHROMIUM)
            self.skipTest('%s not installed (apt-get install chromium); '
                          'set CI=1 to make this a failure' % CHROMIUM)
        self.profile = tempfile.mkdtemp(prefix='pfk-chromium-')
        self.addCleanup(shutil.rmtree, self.profile, True)

    def chromium(self, *args):
        return harness.run_chromium(self, self.profile, *args)

    def test_page_in_chromium(self):
        n = 3
        srv = self.start_status(['-m', '/f=' + module_path('fault'),
                                 '--module-option', '/f mode sleep',
                                 '--module-option', '/f ms 4000'], n)
        url = 'http://127.0.0.1:%d/status?format=html' % srv.status_port
        # Some life on the page: one slow request in flight, one served.
        self.assertEqual(self.get('/index.html', srv=srv).status, 200)
        busy = self.connect(srv)
        busy.send(request_bytes('GET', '/f/report?week=42'))
        wait_for(lambda: any(w['state'] == 'handling'
                             for w in self.status_json(srv)['workers']), 3)

        shot = os.path.join(self.profile, 'status.png')
        self.chromium('--screenshot=' + shot, '--window-size=1000,700',
                      '--hide-scrollbars', url)
        self.assertTrue(os.path.exists(shot), 'no screenshot')
        with open(shot, 'rb') as f:
            png = f.read()
        self.assertEqual(png[:8], b'\x89PNG\r\n\x1a\n')
        self.assertGreater(len(png), 5 * 1024, 'screenshot too small: blank page?')
        logs = os.path.join(harness.build_dir(), 'meson-logs')
        os.makedirs(logs, exist_ok=True)
        shutil.copyfile(shot, os.path.join(logs, 'status.png'))
        sys.stderr.write('\nscreenshot of the status page: %s\n'
                         % os.path.join(logs, 'status.png'))

        dom = self.chromium('--dump-dom', url)
        rows = RowCounter()
        rows.feed(dom.decode('utf-8'))
        j = self.status_json(srv)
        self.assertEqual(len(rows.rows), n, dom[-2000:])
        self.assertEqual(sorted(int(p) for _, p in rows.rows),
                         sorted(w['pid'] for w in j['workers']))
        self.assertIn(b'<title>preforkd status', dom)


if __name__ == '__main__':
    harness.main()
