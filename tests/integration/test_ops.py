"""Operating the server (SPEC sections 2, 3 and 8) through the real binary.

The config file (-c, -t, flags over the file), HUP reloads under load
(worker count and listeners changing, a broken file, workers that die at
start), USR2 binary upgrades under load (and a broken new binary), USR1
after logrotate, the pid file, -s, -D, WINCH, sd_notify and socket
activation.

Processes that outlive their parent (the masters of an upgrade, a -D
daemon) are not children of the test: they run a private copy of the
binary in a temp dir, and clean-up stops every process running that copy,
by PID. A zombie counts as gone: reaping orphans is init's business.
"""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import (ServerTestCase, Server, request_bytes, run_cli,  # noqa: E402
                     proc_stat, children_of, socket_count, wait_for)

EX_USAGE = 64
EX_UNAVAILABLE = 69
EX_CONFIG = 78
HELLO = b'Hello, World!'
IO = 5.0                        # one response, at most
HELLO_REQ = request_bytes('GET', '/hello.txt')


def module_path(name):
    """A test-only module (tests/modules/NAME.c)."""
    return os.path.join(harness.module_dirs()[0], name + '.so')


def shipped_path(name):
    """A module that ships (modules/NAME.c)."""
    return os.path.join(harness.module_dirs()[1], name + '.so')


# --------------------------------------------------------------------------
# Processes, files and ports

def free_port():
    """A loopback port that nobody listens on now (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def cmdline(pid):
    """What ps shows for pid (the process title), or None once it is gone."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().replace(b'\0', b' ').decode('latin-1').strip()
    except (FileNotFoundError, ProcessLookupError):
        return None


def alive(pid, start=None):
    """pid runs (not a zombie), and started at start when it is given."""
    st = proc_stat(pid)
    return st is not None and st[0] != 'Z' and (start is None or st[2] == start)


def start_time(pid):
    st = proc_stat(pid)
    return None if st is None else st[2]


def live_children(pid):
    return sorted(p for p, (s, _) in children_of(pid).items() if s != 'Z')


def ancestors(pid):
    """The PIDs above pid, up to (not including) 0."""
    out = []
    while pid > 1:
        st = proc_stat(pid)
        if st is None:
            break
        pid = st[1]
        out.append(pid)
    return out


def exe_pids(path):
    """Live processes running the executable at path (also once it was
    replaced on disk: the kernel then says "PATH (deleted)")."""
    out = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            exe = os.readlink('/proc/%s/exe' % name)
        except OSError:
            continue
        if exe in (path, path + ' (deleted)') and alive(int(name)):
            out.append(int(name))
    return sorted(out)


def masters_of(path):
    return [p for p in exe_pids(path)
            if (cmdline(p) or '').startswith('preforkd: master')]


def stop_all_running(path):
    """Clean-up: stops, by PID, every process that runs the private binary
    at path: masters first (TERM, then KILL), then what is left."""
    for pid in masters_of(path):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    wait_for(lambda: not masters_of(path), 10)
    for pid in exe_pids(path):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_for(lambda: not exe_pids(path), 5)


CLK_TCK = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pid):
    """utime + stime of pid, in seconds (None once it is gone)."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            data = f.read().decode('ascii', 'replace')
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rfind(')') + 2:].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def read_pid_file(path):
    """The PID in a pid file, or None (missing, empty, being written)."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def status_ids(pid, field):
    """The four ids of the Uid: or Gid: line of /proc/PID/status."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith(field + ':'):
                    return [int(x) for x in line.split()[1:5]]
    except FileNotFoundError:
        return None
    return None


def read_text(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')
    except FileNotFoundError:
        return ''


def write_file(path, lines):
    """Writes a config file whole (a new file renamed over the old one, so
    that a reload never reads half of it)."""
    tmp = path + '.new'
    with open(tmp, 'w') as f:
        f.write(''.join(line + '\n' for line in lines))
    os.replace(tmp, path)


def refuses(port):
    """True when a connection to 127.0.0.1:port is refused."""
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def fetch(port, target='/hello.txt', timeout=IO):
    """One GET on a fresh connection (Connection: close): (status, body)."""
    c = harness.Client(port, timeout=timeout)
    try:
        c.send(request_bytes('GET', target, [('Connection', 'close')]))
        r = c.read_response(timeout=timeout)
        return r.status, r.body
    finally:
        c.close()


def private_binary(tmp):
    """A copy of the binary under test in tmp: processes running it are
    found by their /proc/PID/exe, and only this test runs it."""
    path = os.path.join(tmp, 'preforkd')
    shutil.copy2(harness.PREFORKD, path)
    os.chmod(path, 0o755)
    return path


# --------------------------------------------------------------------------
# Load: keep-alive clients in threads

class LoadError(Exception):
    """A response that did not arrive complete."""


def _recv_more(sock, buf, deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise LoadError('no complete response within %.0f s; have %r'
                        % (IO, buf[:80]))
    sock.settimeout(left)
    try:
        data = sock.recv(65536)
    except socket.timeout:
        raise LoadError('no complete response within %.0f s; have %r'
                        % (IO, buf[:80])) from None
    if not data:
        raise LoadError('connection closed after %d bytes of a response'
                        % len(buf))
    return buf + data


def read_hello(sock, buf, deadline):
    """Reads one response framed by Content-Length. Returns (status,
    closing, body, the bytes after it)."""
    while b'\r\n\r\n' not in buf:
        buf = _recv_more(sock, buf, deadline)
    head, buf = buf.split(b'\r\n\r\n', 1)
    lines = head.split(b'\r\n')
    m = re.match(rb'^HTTP/1\.[01] (\d{3})\b', lines[0])
    if m is None:
        raise LoadError('bad status line %r' % lines[0])
    fields = {}
    for line in lines[1:]:
        k, _, v = line.partition(b':')
        fields[k.strip().lower()] = v.strip().lower()
    if b'content-length' not in fields:
        raise LoadError('no Content-Length in %r' % head)
    n = int(fields[b'content-length'])
    while len(buf) < n:
        buf = _recv_more(sock, buf, deadline)
    closing = b'close' in [t.strip() for t in
                           fields.get(b'connection', b'').split(b',')]
    return int(m.group(1)), closing, buf[:n], buf[n:]


class Load:
    """nthreads clients, each sending GET /hello.txt back to back on one
    keep-alive connection (a new one after Connection: close), until
    stop(), max_seconds or per_thread requests.

    A request fails unless a complete 200 with the file arrives; a
    connection closed or reset after a request was sent, a refused
    connect and a timeout are failures. Counters are per thread (no
    locks); the totals are summed when read."""

    def __init__(self, port, nthreads=4, max_seconds=20.0, per_thread=200000):
        self.port = port
        self.nthreads = nthreads
        self.max_seconds = max_seconds
        self.per_thread = per_thread
        self.ok = [0] * nthreads
        self.connects = [0] * nthreads
        self.resets = [0] * nthreads
        self.failures = [[] for _ in range(nthreads)]
        self.slowest = [0.0] * nthreads     # longest wait for a response
        self._stop = threading.Event()
        self._threads = []
        self.t0 = None
        self.ran_out = False    # stopped by its own bound, not by stop()

    def start(self):
        self.t0 = time.monotonic()
        self._threads = [threading.Thread(target=self._client, args=(i,),
                                          daemon=True)
                         for i in range(self.nthreads)]
        for t in self._threads:
            t.start()
        return self

    def _fail(self, tid, nth, why):
        self.failures[tid].append('t=%.3fs thread %d request %d on its '
                                  'connection: %s' % (
                                      time.monotonic() - self.t0, tid, nth, why))

    def _client(self, tid):
        sock, buf, nth = None, b'', 0
        hard_stop = self.t0 + self.max_seconds
        try:
            for _ in range(self.per_thread):
                if self._stop.is_set():
                    return
                if time.monotonic() >= hard_stop:
                    self.ran_out = True
                    return
                try:
                    if sock is None:
                        sock = socket.create_connection(('127.0.0.1', self.port),
                                                        timeout=IO)
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        buf, nth = b'', 0
                        self.connects[tid] += 1
                    nth += 1
                    sent = time.monotonic()
                    sock.sendall(HELLO_REQ)
                    status, closing, body, buf = read_hello(
                        sock, buf, sent + IO)
                    self.slowest[tid] = max(self.slowest[tid],
                                            time.monotonic() - sent)
                except ConnectionResetError as e:
                    self.resets[tid] += 1
                    self._fail(tid, nth, 'connection reset (%s)' % e)
                    sock.close()
                    sock = None
                    continue
                except (OSError, LoadError) as e:
                    self._fail(tid, nth, '%s: %s' % (type(e).__name__, e))
                    if sock is not None:
                        sock.close()
                    sock = None
                    continue
                if status == 200 and body == HELLO:
                    self.ok[tid] += 1
                else:
                    self._fail(tid, nth, 'got %d %r' % (status, body[:60]))
                if closing:
                    sock.close()
                    sock = None
        finally:
            if sock is not None:
                sock.close()

    def total(self):
        return sum(self.ok)

    def all_failures(self):
        return [f for fs in self.failures for f in fs]

    def wait_more(self, n, timeout=10.0):
        """Waits until n more requests succeeded; True when they did."""
        want = self.total() + n
        return bool(wait_for(lambda: self.total() >= want, timeout))

    def stop(self):
        """Stops the clients; each ends within its response deadline."""
        self._stop.set()
        for t in self._threads:
            t.join(IO + 5.0)
        stuck = [t for t in self._threads if t.is_alive()]
        if stuck:
            raise AssertionError('%d load threads still running' % len(stuck))

    def summary(self):
        return ('%d ok on %d connections, %d failed, %d resets, slowest '
                '%.3f s, %.1f s in all' % (
                    self.total(), sum(self.connects), len(self.all_failures()),
                    sum(self.resets), max(self.slowest),
                    time.monotonic() - self.t0))


# --------------------------------------------------------------------------
# Shared helpers of the test cases

class OpsTestCase(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix='pfk-ops-')
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def track(self, srv):
        """Has srv stopped at clean-up, and its log shown on failure."""
        self.addCleanup(srv.cleanup)
        self._servers.append(srv)
        return srv

    def assert_one_line(self, text, regex):
        """text is exactly one line (stderr of a fatal error) matching regex."""
        self.assertEqual(len(text.splitlines()), 1, 'not one line: %r' % text)
        self.assertTrue(text.endswith('\n'), 'no newline: %r' % text)
        self.assertRegex(text.rstrip('\n'), regex)

    def assert_hello(self, port):
        status, body = fetch(port)
        self.assertEqual((status, body), (200, HELLO),
                         'GET /hello.txt on port %d' % port)

    def assert_titles(self, pids, gen):
        """ps shows each worker as 'preforkd: worker N (gen GEN) ...'."""
        for pid in pids:
            title = cmdline(pid) or ''
            self.assertRegex(title, r'^preforkd: worker \d+ \(gen %d\)' % gen,
                             'title of pid %d' % pid)

    def new_errors(self, srv, mark):
        """error-level lines after line index mark."""
        return [l for l in srv.error_lines()[mark:] if ' error master ' in l
                or re.search(r' error worker \d+ ', l)]


# --------------------------------------------------------------------------
# 1. The config file

class ConfigFile(OpsTestCase):

    def good_file(self, listen='127.0.0.1:0', workers=3):
        """A file using every kind of key, with both kinds of comment and
        a blank line; returns its path."""
        conf = self.path('good.conf')
        write_file(conf, [
            '# preforkd test configuration',
            '',
            'workers %d   # after white space: a comment' % workers,
            '   # an indented full-line comment',
            'listen %s' % listen,
            'access-log %s\t# tab before the comment' % self.path('access.log'),
            'docroot %s' % self.root,
            'module /h %s' % shipped_path('hello'),
            'module /f %s' % module_path('fault'),
            'module-option /f mode sleep',
            'module-option /f ms 1',
        ])
        return conf

    def test_check_config_with_a_good_file_prints_ok(self):
        code, out, err = run_cli(['-t', '-c', self.good_file()])
        self.assertEqual((code, out.splitlines()[-1:], err), (0, ['ok'], ''))

    def test_file_settings_apply(self):
        conf = self.good_file()
        srv = self.start_server(['-c', conf], docroot=None, access_log=None,
                                listen=False)
        self.wait_ready(srv, 3)
        self.assertIsNotNone(srv.port, 'no 127.0.0.1 listener: %r' % srv.listening)
        self.assert_hello(srv.port)                        # docroot
        self.assertEqual(fetch(srv.port, '/h'), (200, HELLO))  # module
        # module-option: the fault module in mode sleep answers "slept MS"
        self.assertEqual(fetch(srv.port, '/f'), (200, b'slept 1\n'))
        # access-log: the three requests, in the file's log
        log = self.path('access.log')
        wait_for(lambda: len(read_text(log).splitlines()) >= 3, 5)
        lines = read_text(log).splitlines()
        self.assertEqual(len(lines), 3, lines)
        self.assertEqual(srv.access_lines(), [], 'default access log used')

    def test_flags_override_the_file(self):
        file_port = free_port()
        conf = self.good_file(listen='127.0.0.1:%d' % file_port, workers=3)
        # -w 1 over "workers 3"; the harness's -l 127.0.0.1:0 replaces the
        # file's listen list; --access-log replaces the file's.
        srv = self.start_server(['-c', conf, '-w', '1'], docroot=None)
        self.wait_ready(srv, 1)
        self.assertEqual(srv.listening, ['127.0.0.1:%d' % srv.port])
        self.assertNotEqual(srv.port, file_port)
        self.assertTrue(refuses(file_port),
                        'the file\'s listener (port %d) is open' % file_port)
        self.assert_hello(srv.port)
        self.assertEqual(len(srv.wait_access_lines(1)), 1)
        self.assertEqual(read_text(self.path('access.log')), '',
                         'the file\'s access log was used')

    def test_errors_name_file_and_line_and_exit_78(self):
        cases = [
            ('unknown key', 'frobnicate 3', r"unknown key 'frobnicate'"),
            ('bad value', 'workers lots', r"'lots'.*workers"),
            ('key without value', 'workers', r"'workers' needs a value"),
            ('key without value, trailing blanks', 'docroot   ',
             r"'docroot' needs a value"),
            ('config key', 'config %s' % self.path('other.conf'),
             r"'config' cannot be set in a config file"),
        ]
        for what, bad, mention in cases:
            with self.subTest(what):
                conf = self.path('bad.conf')
                write_file(conf, ['# line 1', 'workers 2', '', bad,
                                  'listen 127.0.0.1:0'])
                want = r'^preforkd: %s:4: .*%s' % (re.escape(conf), mention)
                code, out, err = run_cli(['-t', '-c', conf, self.root])
                self.assertEqual(code, EX_CONFIG, 'with -t: %r' % err)
                self.assertEqual(out, '')
                self.assert_one_line(err, want)
                # Starting with it fails the same way; nothing serves.
                code, out, err = run_cli(
                    ['-c', conf, '--error-log', self.path('e.log'), self.root])
                self.assertEqual(code, EX_CONFIG, 'starting: %r' % err)
                self.assert_one_line(err, want)


# --------------------------------------------------------------------------
# 2-4. HUP reloads

class Reload(OpsTestCase):

    def conf_lines(self, workers, extra=None, more=()):
        lines = ['# written by test_ops',
                 'workers %d' % workers,
                 'listen 127.0.0.1:0   # the primary: kept across reloads',
                 'docroot %s' % self.root,
                 'access-log off']
        if extra is not None:
            lines.append('listen 127.0.0.1:%d' % extra)
        return lines + list(more)

    def start_conf(self, lines, nworkers):
        conf = self.path('preforkd.conf')
        write_file(conf, lines)
        srv = self.start_server(['-c', conf], docroot=None, access_log=None,
                                listen=False)
        self.wait_ready(srv, nworkers)
        self.assertIsNotNone(srv.port)
        return srv, conf

    def test_hup_20_times_under_load_changing_workers_and_listeners(self):
        b, c = free_port(), free_port()
        while c == b:
            c = free_port()

        def plan(k):
            """Workers and extra listener of the k-th reload (0: start):
            3/2 workers alternately; b, c or none in turn, so that the
            last reload removes b and adds c."""
            return (3 if k % 2 else 2), ({1: b, 2: c, 0: None}[k % 3]
                                         if k else None)

        srv, conf = self.start_conf(self.conf_lines(*plan(0)), 2)
        load = Load(srv.port, nthreads=4, max_seconds=20.0)
        self.addCleanup(load.stop)
        load.start()
        self.assertTrue(load.wait_more(50), 'load: %s' % load.summary())
        for k in range(1, 21):
            workers, extra = plan(k)
            gen = k + 1
            write_file(conf, self.conf_lines(workers, extra))
            mark = len(srv.error_lines())
            os.kill(srv.pid, signal.SIGHUP)
            m = srv.wait_log(r'reload: generation %d serving with (\d+) workers'
                             % gen, start=mark)
            self.assertTrue(m, 'reload %d: no "generation %d serving"; new '
                            'lines %r' % (k, gen, srv.error_lines()[mark:]))
            self.assertEqual(int(m.group(1)), workers)
            self.assertEqual(self.new_errors(srv, mark), [])
            # The old generation retires; then the next reload.
            pids = srv.wait_workers(workers)
            self.assertEqual(len(pids), workers, 'reload %d: children %r'
                             % (k, pids))
            self.assert_titles(pids, gen)
            if extra is not None and extra != plan(k - 1)[1]:
                self.assertTrue(srv.wait_log(r'listening on 127\.0\.0\.1:%d$'
                                             % extra, start=mark, timeout=0),
                                'reload %d: port %d not bound' % (k, extra))
            self.assertTrue(load.wait_more(30), 'reload %d: load stalled: %s'
                            % (k, load.summary()))
        load.stop()
        self.assertFalse(load.ran_out, 'the load ended before the reloads '
                         'did: %s' % load.summary())
        self.assertEqual(load.all_failures()[:20], [],
                         'failed requests: %s' % load.summary())
        self.assertEqual(sum(load.resets), 0, load.summary())
        # Generation 21: 2 workers, listeners primary + c; b was removed.
        pids = srv.wait_workers(2)
        self.assertEqual(len(pids), 2, pids)
        self.assert_titles(pids, 21)
        self.assertRegex(cmdline(srv.pid) or '', r'^preforkd: master \(gen 21\)')
        self.assert_hello(srv.port)
        self.assert_hello(c)
        self.assertTrue(wait_for(lambda: refuses(b), 5),
                        'the removed listener (port %d) still accepts' % b)

    def test_added_listener_is_not_starved_by_load_on_the_first(self):
        # SPEC 5: a waiting client gets a worker within a few slices, on
        # whichever listener it waits.
        b = free_port()
        srv, conf = self.start_conf(self.conf_lines(2), 2)
        write_file(conf, self.conf_lines(2, b))
        mark = len(srv.error_lines())
        os.kill(srv.pid, signal.SIGHUP)
        self.assertTrue(srv.wait_log(r'reload: generation 2 serving', start=mark))
        srv.wait_workers(2)
        load = Load(srv.port, nthreads=4, max_seconds=20.0)
        self.addCleanup(load.stop)
        load.start()
        self.assertTrue(load.wait_more(100), load.summary())
        waits = []
        until = time.monotonic() + 8.0      # at most 20 requests or 8 s
        while len(waits) < 20 and time.monotonic() < until:
            t0 = time.monotonic()
            self.assertEqual(fetch(b, timeout=10), (200, HELLO))
            waits.append(time.monotonic() - t0)
        load.stop()
        self.assertEqual(load.all_failures()[:20], [], load.summary())
        self.assertLess(max(waits), 0.25, 'waits on the added listener (s): '
                        '%s; on the loaded one: %s' % (
                            ' '.join('%.3f' % w for w in waits),
                            load.summary()))

    def test_removing_a_listener_leaves_idle_workers_idle(self):
        b = free_port()
        srv, conf = self.start_conf(self.conf_lines(2, b), 2)
        write_file(conf, self.conf_lines(2))
        mark = len(srv.error_lines())
        os.kill(srv.pid, signal.SIGHUP)
        self.assertTrue(srv.wait_log(r'reload: generation 2 serving', start=mark))
        pids = srv.wait_workers(2)
        self.assertEqual(len(pids), 2, pids)
        self.assert_hello(srv.port)
        # A window of one second, during which an idle worker (blocked in
        # accept) uses next to no CPU; it must not end early.
        cpu0 = [cpu_seconds(p) for p in pids]
        t0 = time.monotonic()
        gone = wait_for(lambda: srv.worker_pids() != pids, 1.0)
        window = time.monotonic() - t0
        self.assertFalse(gone, 'workers changed: %r' % srv.worker_pids())
        used = [cpu_seconds(p) - c for p, c in zip(pids, cpu0)]
        self.assertLess(max(used), 0.1, 'idle workers used %s s of CPU in '
                        '%.2f s' % (used, window))
        self.assert_hello(srv.port)
        self.assertTrue(wait_for(lambda: refuses(b), 5),
                        'the removed listener (port %d) still accepts' % b)

    def test_hup_with_a_broken_file_keeps_the_old_generation(self):
        srv, conf = self.start_conf(self.conf_lines(2), 2)
        before = srv.worker_pids()
        write_file(conf, self.conf_lines(2, more=['workers many']))
        bad_line = len(self.conf_lines(2)) + 1
        mark = len(srv.error_lines())
        os.kill(srv.pid, signal.SIGHUP)
        m = srv.wait_log(r'reload failed', start=mark)
        self.assertTrue(m, 'no "reload failed" line: %r'
                        % srv.error_lines()[mark:])
        for _ in range(5):
            self.assert_hello(srv.port)
        errors = self.new_errors(srv, mark)
        self.assertEqual(len(errors), 1, errors)
        self.assertRegex(errors[0], r' error master pid=%d: reload failed, '
                         r'generation 1 keeps serving: %s:%d: '
                         % (srv.pid, re.escape(conf), bad_line))
        self.assertEqual(srv.worker_pids(), before)
        self.assert_titles(before, 1)
        # Mended, the next HUP goes through.
        write_file(conf, self.conf_lines(2))
        mark = len(srv.error_lines())
        os.kill(srv.pid, signal.SIGHUP)
        self.assertTrue(srv.wait_log(r'reload: generation 2 serving', start=mark))

    def test_reload_whose_workers_die_at_start_is_aborted(self):
        srv, conf = self.start_conf(self.conf_lines(2), 2)
        before = srv.worker_pids()
        # "bootfail": the start-up check (worker id 0) passes, every real
        # worker's init fails.
        write_file(conf, self.conf_lines(2, more=[
            'module /f %s' % module_path('fault'),
            'module-option /f mode bootfail']))
        mark = len(srv.error_lines())
        os.kill(srv.pid, signal.SIGHUP)
        m = srv.wait_log(r'reload aborted', start=mark, timeout=15)
        self.assertTrue(m, 'no "reload aborted" line: %r'
                        % srv.error_lines()[mark:])
        self.assertRegex(m.string, r' error master pid=%d: reload aborted\b.*'
                         r'generation 1 keeps serving' % srv.pid)
        self.assertFalse(srv.wait_log(r'reload: generation 2 serving',
                                      start=mark, timeout=0))
        # The new generation's workers are gone; the old ones serve.
        self.assertTrue(wait_for(lambda: srv.worker_pids() == before, 10),
                        'children %r, before %r' % (srv.worker_pids(), before))
        self.assert_titles(before, 1)
        for _ in range(5):
            self.assert_hello(srv.port)


# --------------------------------------------------------------------------
# 5. USR2 binary upgrade

class Upgrade(OpsTestCase):

    def test_three_upgrades_under_load_then_a_broken_binary(self):
        exe = private_binary(self.tmp)
        pidf = self.path('preforkd.pid')
        oldbin = pidf + '.oldbin'
        srv = Server(exe=exe)
        self.track(srv)
        self.addCleanup(stop_all_running, exe)      # runs before srv.cleanup
        srv.start(['-w', '2', '--pid-file', pidf], self.root, access_log='off')
        self.wait_ready(srv, 2)
        self.assertEqual(read_pid_file(pidf), srv.pid)
        load = Load(srv.port, nthreads=4, max_seconds=40.0)
        self.addCleanup(load.stop)
        load.start()
        self.assertTrue(load.wait_more(50), load.summary())
        master = srv.pid
        for step in range(1, 4):
            old, old_start = master, start_time(master)
            mark = len(srv.error_lines())
            os.kill(old, signal.SIGUSR2)
            new = wait_for(lambda: (read_pid_file(pidf) or old) != old and
                           read_pid_file(pidf), 10)
            self.assertTrue(new, 'step %d: the pid file still names %r; log %r'
                            % (step, read_pid_file(pidf), srv.error_lines()[mark:]))
            # The old master is still around (it waits for the new one's
            # workers): its pid file is FILE.oldbin.
            # It may also have finished already: then FILE.oldbin is gone
            # and the old master is on its way out.
            held = read_pid_file(oldbin)
            self.assertTrue(held == old or wait_for(
                                lambda: not alive(old, old_start), 5),
                            'step %d: %s holds %r, old master %d alive'
                            % (step, oldbin, held, old))
            self.assertTrue(srv.wait_log(r'master pid=%d: taking over from the '
                                         r'old master \(pid %d\)' % (new, old),
                                         start=mark, timeout=15),
                            'step %d: no take-over line' % step)
            self.assertTrue(wait_for(lambda: not alive(old, old_start), 20),
                            'step %d: old master %d still running' % (step, old))
            if old == srv.pid:
                srv.wait_exit(5)                   # our child: reap it
                self.assertEqual(srv.returncode, 0)
            self.assertTrue(wait_for(lambda: not os.path.exists(oldbin), 5),
                            'step %d: %s left behind' % (step, oldbin))
            self.assertEqual(read_pid_file(pidf), new)
            self.assertTrue(alive(new))
            self.assertEqual(len(wait_for(lambda: len(live_children(new)) == 2
                                          and live_children(new), 10) or []), 2,
                             'step %d: workers of the new master: %r'
                             % (step, live_children(new)))
            master = new
            self.assertTrue(load.wait_more(50), 'step %d: load stalled: %s'
                            % (step, load.summary()))
        load.stop()
        self.assertFalse(load.ran_out, load.summary())
        self.assertEqual(load.all_failures()[:20], [],
                         'failed requests: %s' % load.summary())
        self.assertEqual(sum(load.resets), 0, load.summary())
        self.assertEqual(masters_of(exe), [master])

        # A broken new binary: the upgrade fails, the old master stays.
        broken = exe + '.broken'
        with open(broken, 'w') as f:
            f.write('#!/bin/sh\nexit 1\n')
        os.chmod(broken, 0o755)
        os.replace(broken, exe)
        mark = len(srv.error_lines())
        os.kill(master, signal.SIGUSR2)
        self.assertTrue(srv.wait_log(r'master pid=%d: upgrade failed' % master,
                                     start=mark),
                        'no "upgrade failed" line: %r' % srv.error_lines()[mark:])
        self.assertTrue(wait_for(lambda: read_pid_file(pidf) == master and
                                 not os.path.exists(oldbin), 5),
                        'pid file %r, %s exists: %r' % (
                            read_pid_file(pidf), oldbin, os.path.exists(oldbin)))
        self.assertTrue(alive(master))
        for _ in range(5):
            self.assert_hello(srv.port)
        self.assertEqual(masters_of(exe), [master])


# --------------------------------------------------------------------------
# 6. USR1 after logrotate

class Reopen(OpsTestCase):

    def test_usr1_after_rename_writes_fresh_files_and_loses_nothing(self):
        srv, _ = self.start_ready(['-w', '2'], 2)
        for _ in range(10):
            self.assert_hello(srv.port)
        srv.wait_access_lines(10)
        rotated_a = srv.access_log + '.1'
        rotated_e = srv.error_log + '.1'
        os.rename(srv.access_log, rotated_a)
        os.rename(srv.error_log, rotated_e)
        os.kill(srv.pid, signal.SIGUSR1)
        self.assertTrue(srv.wait_log(r'master pid=%d: logs reopened' % srv.pid),
                        'no "logs reopened" in a fresh %s' % srv.error_log)
        # Every process let go of the rotated files.
        procs = [srv.pid] + srv.worker_pids()

        def holding():
            out = []
            for pid in procs:
                try:
                    fds = os.listdir('/proc/%d/fd' % pid)
                except FileNotFoundError:
                    continue
                for fd in fds:
                    try:
                        target = os.readlink('/proc/%d/fd/%s' % (pid, fd))
                    except OSError:
                        continue
                    if target.startswith((rotated_a, rotated_e)):
                        out.append((pid, target))
            return out
        wait_for(lambda: not holding(), 5)
        self.assertEqual(holding(), [], 'rotated logs still open')
        for _ in range(10):
            self.assert_hello(srv.port)
        wait_for(lambda: len(srv.access_lines()) >= 10, 5)
        old = read_text(rotated_a).splitlines()
        new = srv.access_lines()
        self.assertEqual((len(old), len(new)), (10, 10),
                         'access lines in FILE.1 and FILE')
        self.assertNotIn('logs reopened', read_text(rotated_e))


# --------------------------------------------------------------------------
# 7-8. The pid file and -s

class PidFile(OpsTestCase):

    def test_second_instance_refuses_and_clean_stop_removes_the_file(self):
        pidf = self.path('preforkd.pid')
        srv, _ = self.start_ready(['-w', '1', '--pid-file', pidf], 1)
        self.assertEqual(read_pid_file(pidf), srv.pid)
        code, out, err = run_cli(['-l', '127.0.0.1:0', '-w', '1',
                                  '--pid-file', pidf, '--error-log',
                                  self.path('second.log'), self.root])
        self.assertEqual(code, EX_UNAVAILABLE, err)
        self.assert_one_line(err, r'^preforkd: already running as pid %d \(%s\)$'
                             % (srv.pid, re.escape(pidf)))
        self.assertEqual(read_pid_file(pidf), srv.pid)
        self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.exists(pidf), 'pid file left after a clean stop')


class SignalFlag(OpsTestCase):

    def signal_cli(self, name, pidf):
        return run_cli(['-s', name, '--pid-file', pidf])

    def test_reload_reopen_quit_reach_the_master(self):
        pidf = self.path('preforkd.pid')
        srv, _ = self.start_ready(['-w', '1', '--pid-file', pidf], 1)
        for name, line in (('reload', r'reload: generation 2 serving'),
                           ('reopen', r'logs reopened')):
            mark = len(srv.error_lines())
            self.assertEqual(self.signal_cli(name, pidf), (0, '', ''), name)
            self.assertTrue(srv.wait_log(r'master pid=%d: %s' % (srv.pid, line),
                                         start=mark), '-s %s: no %r' % (name, line))
        mark = len(srv.error_lines())
        self.assertEqual(self.signal_cli('quit', pidf), (0, '', ''))
        self.assertEqual(srv.wait_exit(15), 0)
        self.assertTrue(srv.wait_log(r'graceful shutdown \(SIGTERM\)', start=mark,
                                     timeout=0))

    def test_stop_is_a_fast_shutdown(self):
        pidf = self.path('preforkd.pid')
        srv, _ = self.start_ready(['-w', '1', '--pid-file', pidf], 1)
        self.assertEqual(self.signal_cli('stop', pidf), (0, '', ''))
        self.assertIsNotNone(srv.wait_exit(10), 'still running after -s stop')
        self.assertTrue(srv.wait_log(r'fast shutdown \(SIGINT\)', timeout=0))

    def test_no_master_running_is_unavailable(self):
        missing = self.path('missing.pid')
        code, out, err = self.signal_cli('reload', missing)
        self.assertEqual(code, EX_UNAVAILABLE, err)
        self.assert_one_line(err, r'^preforkd: .*%s' % re.escape(missing))
        # A stale file (nobody holds its lock) names no master either.
        stale = self.path('stale.pid')
        with open(stale, 'w') as f:
            f.write('%d\n' % os.getpid())   # a live pid, not a preforkd
        code, out, err = self.signal_cli('reopen', stale)
        self.assertEqual(code, EX_UNAVAILABLE, err)
        self.assert_one_line(err, r'^preforkd: .*%s' % re.escape(stale))

    def test_without_pid_file_is_usage_error(self):
        code, out, err = run_cli(['-s', 'reload'])
        self.assertEqual(code, EX_USAGE, err)
        self.assert_one_line(err, r'^preforkd: .*pid-file')


# --------------------------------------------------------------------------
# 9. -D

@unittest.skipUnless(os.getuid() == 0, 'needs root (-u)')
class Daemon(OpsTestCase):

    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o755)
        self.www = self.path('www')
        os.mkdir(self.www, 0o755)
        with open(os.path.join(self.www, 'hello.txt'), 'wb') as f:
            f.write(HELLO)
        os.chmod(os.path.join(self.www, 'hello.txt'), 0o644)
        self.exe = private_binary(self.tmp)
        self.addCleanup(stop_all_running, self.exe)
        self.pidf = self.path('preforkd.pid')
        self.elog = self.path('error.log')

    def daemon(self, extra, timeout=30):
        """Runs -D; returns (exit code, stderr, seconds it took, pid of the
        starting process)."""
        cmd = [self.exe, '-D', '--pid-file', self.pidf, '--error-log',
               self.elog, '--access-log', 'off', '-l', '127.0.0.1:0'] + extra
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             cwd=self.tmp)
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()        # the clean-up stops what it started
            _, err = p.communicate()
            self.fail('-D did not return within %d s' % timeout)
        return p.returncode, err.decode('utf-8', 'replace'), \
            time.monotonic() - t0, p.pid

    def log_tail(self):
        return '\n'.join(read_text(self.elog).splitlines()[-20:])

    def test_detaches_once_serving_with_workers_as_user(self):
        nobody = pwd.getpwnam('nobody')
        code, err, took, starter = self.daemon(['-u', 'nobody', '-w', '2',
                                                self.www])
        self.assertEqual((code, err), (0, ''), self.log_tail())
        # It answers as soon as the starting process is gone.
        m = re.search(r'listening on 127\.0\.0\.1:(\d+)', read_text(self.elog))
        self.assertTrue(m, self.log_tail())
        self.assert_hello(int(m.group(1)))
        master = read_pid_file(self.pidf)
        self.assertIsNotNone(master)
        self.assertNotEqual(master, starter)
        self.assertTrue(alive(master))
        ppid = proc_stat(master)[1]
        self.assertIn(ppid, [1] + ancestors(os.getpid()),
                      'master %d has parent %d: not init nor a subreaper'
                      % (master, ppid))
        workers = wait_for(lambda: len(live_children(master)) == 2 and
                           live_children(master), 10)
        self.assertTrue(workers, 'workers: %r' % live_children(master))
        for pid in workers:
            self.assertEqual(status_ids(pid, 'Uid'), [nobody.pw_uid] * 4,
                             'uids of worker %d' % pid)
            self.assertEqual(status_ids(pid, 'Gid'), [nobody.pw_gid] * 4,
                             'gids of worker %d' % pid)
        # Stopped by its pid, it goes and takes its pid file along.
        os.kill(master, signal.SIGTERM)
        self.assertTrue(wait_for(lambda: not exe_pids(self.exe), 15),
                        'still running: %r' % exe_pids(self.exe))
        self.assertFalse(os.path.exists(self.pidf))

    def test_as_root_without_user_is_usage_error(self):
        code, err, _, _ = self.daemon([self.www])
        self.assertEqual(code, EX_USAGE, err)
        self.assert_one_line(err, r'^preforkd: .*-u')
        self.assertEqual(exe_pids(self.exe), [])

    def test_workers_that_cannot_start_fail_the_start(self):
        code, err, took, _ = self.daemon([
            '-u', 'nobody', '-w', '1',
            '-m', '/f=' + module_path('fault'),
            '--module-option', '/f mode bootfail', self.www])
        self.assertNotEqual(code, 0, 'exit 0 after %.1f s; log: %s'
                            % (took, self.log_tail()))
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertRegex(err, r'^preforkd: \S.*')
        self.assertTrue(wait_for(lambda: not exe_pids(self.exe), 10),
                        'left running: %r' % exe_pids(self.exe))


# --------------------------------------------------------------------------
# 10. WINCH

class Winch(OpsTestCase):

    def test_winch_stops_the_workers_and_keeps_the_master(self):
        srv, pids = self.start_ready(['-w', '2'], 2)    # stdin: /dev/null
        mark = len(srv.error_lines())
        os.kill(srv.pid, signal.SIGWINCH)
        for pid in pids:
            self.assertTrue(srv.wait_log(r'worker \d+ \(pid %d\) exited with '
                                         r'code 0$' % pid, start=mark),
                            'worker %d: %r' % (pid, srv.error_lines()[mark:]))
        self.assertTrue(wait_for(lambda: srv.worker_pids() == [], 10),
                        'children: %r' % srv.worker_pids())
        self.assertTrue(srv.alive())
        # The listener stays open in the master: the kernel still
        # completes connections (nobody accepts them).
        self.assertGreaterEqual(socket_count(srv.pid) or 0, 1)
        with socket.create_connection(('127.0.0.1', srv.port), timeout=2):
            pass
        self.assertFalse(srv.wait_log(r'worker \d+ started', start=mark,
                                      timeout=0), 'a worker was started again')
        self.assertTrue(srv.alive())
        self.assertEqual(srv.stop(), 0)


# --------------------------------------------------------------------------
# 11. sd_notify

class Notify(OpsTestCase):

    def test_ready_reloading_ready_stopping(self):
        path = self.path('notify')
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(path)

        def next_message(timeout=10.0):
            sock.settimeout(timeout)
            try:
                return sock.recv(4096).decode()
            except socket.timeout:
                return None

        env = dict(os.environ, NOTIFY_SOCKET=path)
        srv = self.track(Server())
        srv.start(['-w', '2'], self.root, env=env)
        self.assertEqual(next_message(), 'READY=1')
        self.assertTrue(srv.wait_log(r'ready: 2 workers', timeout=0))
        t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        os.kill(srv.pid, signal.SIGHUP)
        msg = next_message()
        t1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.assertIsNotNone(msg, 'nothing after HUP')
        fields = dict(l.split('=', 1) for l in msg.splitlines())
        self.assertEqual(sorted(fields), ['MONOTONIC_USEC', 'RELOADING'], msg)
        self.assertEqual(fields['RELOADING'], '1')
        self.assertTrue(t0 <= int(fields['MONOTONIC_USEC']) <= t1,
                        'MONOTONIC_USEC %s not in [%d, %d]' % (
                            fields['MONOTONIC_USEC'], t0, t1))
        self.assertEqual(next_message(), 'READY=1')
        self.assertTrue(srv.wait_log(r'reload: generation 2 serving', timeout=0))
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(next_message(), 'STOPPING=1')
        self.assertEqual(srv.wait_exit(15), 0)


# --------------------------------------------------------------------------
# 12. Socket activation

class SocketActivation(OpsTestCase):

    def test_inherited_listener_is_served(self):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(ls.close)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(('127.0.0.1', 0))
        ls.listen(64)
        port, fd = ls.getsockname()[1], ls.fileno()
        # LISTEN_PID must be the pid that execs preforkd: the shell's own.
        move = '' if fd == 3 else ' %d<&-' % fd
        script = 'LISTEN_PID=$$ exec "$@" 3<&%d%s' % (fd, move)
        env = {k: v for k, v in os.environ.items()
               if k not in ('LISTEN_PID', 'LISTEN_FDNAMES')}
        env['LISTEN_FDS'] = '1'
        srv = self.track(Server())
        srv.start(['-l', '127.0.0.1:%d' % port, '-w', '2'], self.root,
                  listen=False, env=env, pass_fds=(fd,),
                  wrapper=['/bin/sh', '-c', script, 'sh'])
        self.assertIn('listening on 127.0.0.1:%d (inherited)' % port,
                      srv.error_text())
        self.assertEqual(srv.port, port)
        ls.close()              # only the server holds it now
        self.wait_ready(srv, 2)
        for _ in range(5):
            self.assert_hello(port)


if __name__ == '__main__':
    harness.main()
