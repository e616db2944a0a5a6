"""Real load balancers on loopback for the end-to-end tests.

HAProxy and nginx run from the test with a config rendered from the
documented files in docs/deploy/ (the test substitutes addresses, paths
and intervals, and each substitution must find its text, so the file that
is documented is the file that runs), in a temp dir of their own: their
own pid file, logs and sockets, never a system service. They are started
in the foreground, waited for by polling their port under a deadline and
stopped by PID (nginx's workers too, by PID, should the master leave
them).

LoadClient is a multi-threaded HTTP/1.1 keep-alive client with exact
accounting: every request either gets a complete, correct 2xx answer or
is counted as a failure by kind (reset, closed early, timeout, refused,
non-2xx status, wrong body). Its sockets are bound to a source address of
their own (e.g. 127.0.0.77) so that logs can tell the client from the
balancer. Standard library only.
"""

import csv
import io
import os
import re
import signal
import socket
import subprocess
import threading
import time

from harness import REPO, proc_stat, children_of, wait_for

DEPLOY = os.path.join(REPO, 'docs', 'deploy')
HAPROXY = '/usr/sbin/haproxy'
NGINX = '/usr/sbin/nginx'
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


def free_port(host='127.0.0.1'):
    """A port nobody listens on now (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def render(name, subs):
    """The text of docs/deploy/NAME with each (old, new, count) of subs
    applied; old must occur exactly count times (a documented file that
    changed under the test fails loudly, not silently)."""
    with open(os.path.join(DEPLOY, name)) as f:
        text = f.read()
    for old, new, count in subs:
        found = text.count(old)
        if found != count:
            raise AssertionError('docs/deploy/%s: %r found %d times, expected %d'
                                 % (name, old, found, count))
        text = text.replace(old, new)
    return text


class Daemon:
    """A foreground process run in tmp, stopped by PID."""

    name = 'daemon'

    def __init__(self, tmp):
        self.tmp = tmp
        self.proc = None
        self.stdout_path = os.path.join(tmp, self.name + '.stdout')
        self.stderr_path = os.path.join(tmp, self.name + '.stderr')
        self._seen = {}     # pid -> start time of helper processes seen

    def _spawn(self, cmd):
        self.cmd = cmd
        with open(self.stdout_path, 'wb') as out, \
                open(self.stderr_path, 'wb') as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, cwd=self.tmp)

    def _wait_port(self, host, port, timeout=START_TIMEOUT):
        ok = wait_for(lambda: self.proc.poll() is not None or
                      port_open(host, port), timeout)
        if not ok or self.proc.poll() is not None:
            raise AssertionError('%s did not start listening on %s:%d '
                                 '(exit %r): %s' % (
                                     self.name, host, port, self.proc.poll(),
                                     self.log_tail()))

    def log_tail(self, n=3000):
        out = []
        for path in (self.stdout_path, self.stderr_path):
            try:
                with open(path, 'rb') as f:
                    out.append(f.read()[-n:].decode('utf-8', 'replace'))
            except FileNotFoundError:
                pass
        return '\n'.join(out)

    def remember_children(self):
        if self.proc is not None:
            for pid, (_, start) in children_of(self.proc.pid,
                                               keeper=True).items():
                self._seen[pid] = start

    def stop(self, sig=signal.SIGTERM):
        """sig, then SIGKILL after STOP_TIMEOUT; then any child seen that
        still runs (same start time), by PID. Safe to call twice."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.remember_children()
            try:
                self.proc.send_signal(sig)
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        for pid, start in self._seen.items():
            st = proc_stat(pid)
            if st is not None and st[2] == start and st[0] != 'Z':
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return self.proc.returncode


class HAProxy(Daemon):
    """haproxy -db (foreground, one process) with a rendered config."""

    name = 'haproxy'

    def __init__(self, tmp):
        super().__init__(tmp)
        self.cfg_path = os.path.join(tmp, 'haproxy.cfg')
        self.stats_socket = os.path.join(tmp, 'admin.sock')

    def start(self, cfg_text, host, port):
        with open(self.cfg_path, 'w') as f:
            f.write(cfg_text)
        self._spawn([HAPROXY, '-db', '-f', self.cfg_path])
        self._wait_port(host, port)
        wait_for(lambda: os.path.exists(self.stats_socket), START_TIMEOUT)
        return self

    def command(self, line, timeout=5.0):
        """One command on the stats socket; returns the answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.stats_socket)
            s.sendall(line.encode() + b'\n')
            out = b''
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        return out.decode('utf-8', 'replace')

    def show_stat(self):
        """{(proxy, server): row dict} from "show stat"."""
        text = self.command('show stat')
        if text.startswith('# '):
            text = text[2:]
        rows = {}
        for row in csv.DictReader(io.StringIO(text)):
            rows[(row['pxname'], row['svname'])] = row
        return rows

    def server_status(self, backend, server):
        row = self.show_stat().get((backend, server))
        return None if row is None else row['status']

    def log_lines(self):
        """HAProxy's request log (the test sends it to stderr)."""
        try:
            with open(self.stderr_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace').splitlines()
        except FileNotFoundError:
            return []

    def retried(self):
        """(requests HAProxy retried, of which redispatched): the last
        field of actconn/feconn/beconn/srv_conn/retries in its log is the
        retry count, with a + when the request went to another server."""
        n = redispatched = 0
        for line in self.log_lines():
            m = re.search(r' \d+/\d+/\d+/\d+/(\+?)(\d+) \d+/\d+ "', line)
            if m and m.group(2) != '0':
                n += 1
                redispatched += m.group(1) == '+'
        return n, redispatched

    def wait_status(self, backend, server, want, timeout=15.0, exact=False):
        """Waits until the server's status is want (UP, DOWN), or with
        exact=False starts with it (HAProxy says "UP 1/2" after a failed
        check, "DOWN 1/2" while it rises). True when it did."""
        def match():
            st = self.server_status(backend, server) or ''
            return st == want if exact else st.split(' ')[0] == want
        return bool(wait_for(match, timeout, 0.05))


class Nginx(Daemon):
    """nginx (master in the foreground) with a rendered config, its own
    prefix, pid file and error log."""

    name = 'nginx'

    def __init__(self, tmp):
        super().__init__(tmp)
        self.conf_path = os.path.join(tmp, 'nginx.conf')
        self.error_log = os.path.join(tmp, 'nginx-error.log')

    def start(self, conf_text, host, port):
        with open(self.conf_path, 'w') as f:
            f.write(conf_text)
        self._spawn([NGINX, '-p', self.tmp + '/', '-e', self.error_log,
                     '-c', self.conf_path, '-g', 'daemon off;'])
        self._wait_port(host, port)
        self.remember_children()
        return self

    def log_tail(self, n=3000):
        out = super().log_tail(n)
        try:
            with open(self.error_log, 'rb') as f:
                out += '\n' + f.read()[-n:].decode('utf-8', 'replace')
        except FileNotFoundError:
            pass
        return out

    def upstream_errors(self):
        """[error] lines of the error log (a failed upstream attempt that
        nginx then passed to the next server, or a failure)."""
        try:
            with open(self.error_log, 'rb') as f:
                text = f.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return []
        return [l for l in text.splitlines() if ' [error] ' in l]

    def stop(self, sig=signal.SIGQUIT):
        return super().stop(sig)


# --------------------------------------------------------------------------
# The load client

class Failure(Exception):
    def __init__(self, kind, detail):
        super().__init__('%s: %s' % (kind, detail))
        self.kind = kind


def _recv(sock, buf, deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise Failure('timeout', 'have %r' % buf[:80])
    sock.settimeout(left)
    try:
        d = sock.recv(65536)
    except socket.timeout:
        raise Failure('timeout', 'have %r' % buf[:80]) from None
    if not d:
        raise Failure('closed', 'EOF after %d bytes of a response' % len(buf))
    return buf + d


def read_response(sock, buf, deadline):
    """One response framed by Content-Length or chunked coding. Returns
    (status, closing, body, rest)."""
    while b'\r\n\r\n' not in buf:
        buf = _recv(sock, buf, deadline)
    head, buf = buf.split(b'\r\n\r\n', 1)
    lines = head.split(b'\r\n')
    m = re.match(rb'^HTTP/1\.[01] (\d{3})\b', lines[0])
    if m is None:
        raise Failure('junk', 'status line %r' % lines[0][:80])
    fields = {}
    for line in lines[1:]:
        k, _, v = line.partition(b':')
        fields[k.strip().lower()] = v.strip().lower()
    closing = b'close' in [t.strip() for t in
                           fields.get(b'connection', b'').split(b',')] or \
        lines[0].startswith(b'HTTP/1.0')
    if b'chunked' in fields.get(b'transfer-encoding', b''):
        body = b''
        while True:
            while b'\r\n' not in buf:
                buf = _recv(sock, buf, deadline)
            line, buf = buf.split(b'\r\n', 1)
            size = int(line.split(b';')[0].strip(), 16)
            while len(buf) < size + 2:
                buf = _recv(sock, buf, deadline)
            if size == 0:
                if buf[:2] != b'\r\n':     # no trailers expected
                    raise Failure('junk', 'trailer %r' % buf[:80])
                buf = buf[2:]
                break
            body += buf[:size]
            buf = buf[size + 2:]
    elif b'content-length' in fields:
        n = int(fields[b'content-length'])
        while len(buf) < n:
            buf = _recv(sock, buf, deadline)
        body, buf = buf[:n], buf[n:]
    else:
        raise Failure('junk', 'no framing in %r' % head[:200])
    return int(m.group(1)), closing, body, buf


class LoadClient:
    """nthreads keep-alive clients bound to source, alternating GET of a
    static file and POST of a body of a few KiB to an echo handler, until
    stop(), max_seconds or per_thread requests.

    Every request is accounted for: ok, or one failure of a kind (reset,
    closed, timeout, refused, junk, status NNN, body). Counters are per
    thread; read them once the threads stopped (or as rough progress)."""

    KINDS = ('reset', 'closed', 'timeout', 'refused', 'junk', 'status', 'body')

    def __init__(self, host, port, source, get_path, get_body, post_path,
                 nthreads=4, max_seconds=50.0, per_thread=100000, pause=0.001,
                 io_timeout=10.0):
        self.host, self.port, self.source = host, port, source
        self.get_path, self.get_body = get_path, get_body
        self.post_path = post_path
        self.nthreads = nthreads
        self.max_seconds = max_seconds
        self.per_thread = per_thread
        self.pause = pause
        self.io_timeout = io_timeout
        self.ok = [0] * nthreads
        self.ok_by_method = [{'GET': 0, 'POST': 0} for _ in range(nthreads)]
        self.connects = [0] * nthreads
        self.failures = [[] for _ in range(nthreads)]
        self._stop = threading.Event()
        self._threads = []
        self.t0 = None
        self.ran_out = False

    def start(self):
        self.t0 = time.monotonic()
        self._threads = [threading.Thread(target=self._client, args=(i,),
                                          daemon=True)
                         for i in range(self.nthreads)]
        for t in self._threads:
            t.start()
        return self

    def _connect(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((self.source, 0))
            sock.settimeout(self.io_timeout)
            sock.connect((self.host, self.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except ConnectionRefusedError as e:
            sock.close()
            raise Failure('refused', str(e)) from None
        except ConnectionResetError as e:
            sock.close()
            raise Failure('reset', 'on connect: %s' % e) from None
        except OSError as e:
            sock.close()
            raise Failure('refused', 'connect: %s' % e) from None
        return sock

    def _client(self, tid):
        sock, buf, nth = None, b'', 0
        hard_stop = self.t0 + self.max_seconds
        # A body of a few KiB, different per thread and per request.
        base = bytes((tid * 7 + i) % 251 for i in range(4096))
        try:
            for i in range(self.per_thread):
                if self._stop.is_set():
                    return
                if time.monotonic() >= hard_stop:
                    self.ran_out = True
                    return
                post = i % 2 == 1
                if post:
                    body = (b'%08d:' % i) + base[:2048 + (i * 37) % 2048]
                    req = (b'POST %s HTTP/1.1\r\nHost: lb-test\r\n'
                           b'Content-Type: application/x-test\r\n'
                           b'Content-Length: %d\r\n\r\n' % (
                               self.post_path.encode(), len(body))) + body
                    want = body
                else:
                    req = (b'GET %s HTTP/1.1\r\nHost: lb-test\r\n\r\n'
                           % self.get_path.encode())
                    want = self.get_body
                try:
                    if sock is None:
                        sock = self._connect()
                        buf, nth = b'', 0
                        self.connects[tid] += 1
                    nth += 1
                    try:
                        sock.sendall(req)
                        status, closing, got, buf = read_response(
                            sock, buf, time.monotonic() + self.io_timeout)
                    except (ConnectionResetError, BrokenPipeError) as e:
                        raise Failure('reset', str(e)) from None
                    except OSError as e:
                        raise Failure('closed', str(e)) from None
                    if not 200 <= status < 300:
                        raise Failure('status', '%d %r' % (status, got[:80]))
                    if got != want:
                        raise Failure('body', '%d bytes, want %d' % (
                            len(got), len(want)))
                except Failure as f:
                    self.failures[tid].append(
                        (f.kind, 't=%.3fs thread %d %s #%d on its connection: '
                         '%s' % (time.monotonic() - self.t0, tid,
                                 'POST' if post else 'GET', nth, f)))
                    if sock is not None:
                        sock.close()
                    sock = None
                    continue
                self.ok[tid] += 1
                self.ok_by_method[tid]['POST' if post else 'GET'] += 1
                if closing:
                    sock.close()
                    sock = None
                if self.pause:
                    time.sleep(self.pause)
        finally:
            if sock is not None:
                sock.close()

    def total(self):
        return sum(self.ok)

    def wait_more(self, n, timeout=15.0):
        want = self.total() + n
        return bool(wait_for(lambda: self.total() >= want, timeout))

    def all_failures(self):
        return [f for fs in self.failures for f in fs]

    def counts(self):
        """{kind: n} of the failures (status by code: 'status 502')."""
        out = {}
        for kind, text in self.all_failures():
            if kind == 'status':
                m = re.search(r'status: (\d{3})', text)
                kind = 'status %s' % (m.group(1) if m else '?')
            out[kind] = out.get(kind, 0) + 1
        return out

    def failed_by_method(self):
        out = {'GET': 0, 'POST': 0}
        for _, text in self.all_failures():
            out['POST' if ' POST #' in text else 'GET'] += 1
        return out

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(self.io_timeout + 5.0)
        if any(t.is_alive() for t in self._threads):
            raise AssertionError('load threads still running')

    def summary(self):
        get = sum(d['GET'] for d in self.ok_by_method)
        post = sum(d['POST'] for d in self.ok_by_method)
        return ('%d ok (%d GET, %d POST) on %d connections, %d failed %r '
                'by method %r, %.1f s' % (
                    self.total(), get, post, sum(self.connects),
                    len(self.all_failures()), self.counts(),
                    self.failed_by_method(), time.monotonic() - self.t0))
