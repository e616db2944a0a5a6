"""Integration test harness for preforkd.

Starts the real binary on 127.0.0.1 with an ephemeral port, waits for the
"listening on" line in its error log, speaks raw HTTP over loopback and
inspects the process tree through /proc.  Standard library only.

Every wait in here is a loop on a condition with a deadline; every process
a test starts is stopped by PID in a cleanup, also when the test fails.
"""

import gzip
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Set by main() from --preforkd (or the PREFORKD environment variable).
PREFORKD = os.environ.get('PREFORKD',
                          os.path.join(REPO, 'build', 'master', 'preforkd'))

# Directories of the test-only and the shipped handler modules, set by
# main() from --modules-dir / --shipped-dir (or the environment). When
# unset, module_dirs() derives them from the binary's build directory.
MODULES_DIR = os.environ.get('PFK_MODULES_DIR')
SHIPPED_DIR = os.environ.get('PFK_SHIPPED_DIR')

START_TIMEOUT = 10.0    # binary start until "listening on"
STOP_TIMEOUT = 15.0     # TERM until exit, before KILL
IO_TIMEOUT = 5.0        # default deadline for one response

LOG_LINE_RE = re.compile(
    r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (debug|info|warn|error) '
    r'(master|status|keeper|worker \d+) pid=(\d+): (.*)$')

ACCESS_LINE_RE = re.compile(
    r'^(\S+) (\S+) (\S+) \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
    r'"((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" '
    r'"((?:[^"\\]|\\.)*)" (\d+)$')

IMF_FIXDATE_RE = re.compile(
    r'^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d '
    r'(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} '
    r'\d\d:\d\d:\d\d GMT$')


def project_version():
    """The version in the top-level meson.build (what -V must print)."""
    with open(os.path.join(REPO, 'meson.build')) as f:
        m = re.search(r"version\s*:\s*'([^']+)'", f.read())
    return m.group(1) if m else None


def wait_for(predicate, timeout, interval=0.02):
    """Polls predicate() until it returns a true value or timeout passes.

    Returns that value, or the last (false) value on timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# --------------------------------------------------------------------------
# Headless Chromium (the status page tests)

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_TIMEOUT = 90.0


def session_members(sid):
    """PIDs of the live processes in session sid (a Chromium and its
    helpers, started in a session of their own)."""
    out = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name, 'rb') as f:
                data = f.read().decode('ascii', 'replace')
        except OSError:
            continue
        rest = data[data.rfind(')') + 2:].split()
        if int(rest[3]) == sid and rest[0] != 'Z':
            out.append(int(name))
    return out


def run_chromium(testcase, profile, *args):
    """Runs headless Chromium with args under a deadline, its profile and
    output in the directory profile; checks (on testcase) that it
    succeeded and returns its stdout. Its processes get a session of their
    own, so that on timeout each one left can be found and killed by PID."""
    cmd = [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--no-first-run', '--disable-extensions',
           '--user-data-dir=' + os.path.join(profile, 'profile')] + list(args)
    out_path = os.path.join(profile, 'stdout')
    err_path = os.path.join(profile, 'stderr')
    with open(out_path, 'wb') as out, open(err_path, 'wb') as err:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err, start_new_session=True)
        try:
            rc = p.wait(timeout=CHROMIUM_TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None
            os.kill(p.pid, signal.SIGKILL)
        # Helpers outliving the browser (its session id stays theirs).
        for pid in session_members(p.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if rc is None:
            p.wait(10)
    with open(err_path, 'rb') as f:
        err_tail = f.read()[-1500:]
    testcase.assertIsNotNone(rc, 'chromium did not finish within %.0f s: %r; '
                             'stderr %r' % (CHROMIUM_TIMEOUT, cmd, err_tail))
    testcase.assertEqual(rc, 0, 'chromium failed: %r; stderr %r'
                         % (cmd, err_tail))
    with open(out_path, 'rb') as f:
        return f.read()


# --------------------------------------------------------------------------
# /proc helpers

def proc_stat(pid):
    """Returns (state, ppid, starttime) of pid, or None if it is gone."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            data = f.read().decode('ascii', 'replace')
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may hold spaces and parentheses: split after the last ')'.
    rest = data[data.rfind(')') + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def children_of(ppid, keeper=False):
    """Returns {pid: (state, starttime)} of the processes whose parent is
    ppid; a keeper (by its title) only when keeper is true."""
    out = {}
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st is not None and st[1] == ppid and \
                (keeper or not is_keeper_title(int(name))):
            out[int(name)] = (st[0], st[2])
    return out


def is_keeper_title(pid):
    """True when pid's process title says it is a keeper."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().startswith(b'preforkd: keeper')
    except (FileNotFoundError, ProcessLookupError):
        return False


def socket_count(pid):
    """Number of socket descriptors pid holds (None if it is gone)."""
    try:
        fds = os.listdir('/proc/%d/fd' % pid)
    except (FileNotFoundError, ProcessLookupError):
        return None
    n = 0
    for fd in fds:
        try:
            if os.readlink('/proc/%d/fd/%s' % (pid, fd)).startswith('socket:'):
                n += 1
        except OSError:
            pass
    return n


# --------------------------------------------------------------------------
# Fixture document root

SECRET = b'TOP SECRET: outside the document root\n'


def make_docroot():
    """Builds a document root in fresh temp dirs.

    Returns (root, info, dirs): info maps names to expected contents and
    digests; dirs lists the temp dirs to remove.
    """
    root = tempfile.mkdtemp(prefix='pfk-root-')
    outside = tempfile.mkdtemp(prefix='pfk-outside-')
    info = {}

    def put(rel, data):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)
        info[rel] = data

    put('index.html', b'<!doctype html><title>root</title><p>root index</p>\n')
    put('hello.txt', b'Hello, World!')
    put('1k.bin', bytes(range(256)) * 4)
    # 1 MiB of deterministic, incompressible-looking bytes.
    chunks, seed = [], b'preforkd'
    while sum(map(len, chunks)) < 1024 * 1024:
        seed = hashlib.sha256(seed).digest()
        chunks.append(seed * 64)
    mib = b''.join(chunks)[:1024 * 1024]
    put('1m.bin', mib)
    info['1m.sha256'] = hashlib.sha256(mib).hexdigest()
    put('sub/index.html', b'<!doctype html><title>sub</title><p>sub index</p>\n')
    os.makedirs(os.path.join(root, 'emptydir'))
    put('.hidden', b'hidden dotfile\n')
    put('sub/.secret', b'hidden in sub\n')
    put('with space.txt', b'a file with a space\n')
    put('style.css', b'body { color: black; }\n')
    put('app.js', b'console.log("hi");\n')
    put('img.png', b'\x89PNG\r\n\x1a\n' + b'\x00' * 56)
    big = b''.join(b'line %06d of big.txt, quite compressible\n' % i
                   for i in range(4000))
    put('big.txt', big)
    put('big.txt.gz', gzip.compress(big, mtime=0))
    with open(os.path.join(outside, 'secret.txt'), 'wb') as f:
        f.write(SECRET)
    os.symlink(os.path.join(outside, 'secret.txt'),
               os.path.join(root, 'escape.txt'))
    os.symlink(outside, os.path.join(root, 'escapedir'))
    os.symlink('hello.txt', os.path.join(root, 'link.txt'))
    os.symlink('sub', os.path.join(root, 'linkdir'))
    return root, info, [root, outside]


# --------------------------------------------------------------------------
# The server under test

class ServerError(AssertionError):
    pass


class Server:
    """One preforkd master started from the test, stopped by PID."""

    def __init__(self, exe=None):
        self.exe = exe or PREFORKD
        self.tmp = tempfile.mkdtemp(prefix='pfk-it-')
        self.error_log = os.path.join(self.tmp, 'error.log')
        self.access_log = os.path.join(self.tmp, 'access.log')
        self.stdout_path = os.path.join(self.tmp, 'stdout')
        self.stderr_path = os.path.join(self.tmp, 'stderr')
        self.proc = None
        self.pid = None
        self.port = None
        self.listening = []     # addresses from "listening on ADDR" lines
        self.returncode = None
        self._seen = {}         # pid -> starttime of every worker seen
        self.cmd = None

    # -- lifecycle --------------------------------------------------------

    def start(self, args=(), docroot=None, access_log=True, listen=True,
              timeout=START_TIMEOUT, env=None, pass_fds=(), wrapper=(),
              wait=True):
        """Runs the binary and waits for "listening on 127.0.0.1:PORT"
        (wait=False: for a server that does not log it, returns at once).

        access_log: True for the file self.access_log, None to pass no
        --access-log flag (the default: stdout), or a string to pass as is.
        listen=False passes no -l (the config file names the listeners):
        any "listening on" line will do, and the first 127.0.0.1 port seen
        becomes self.port. env (the whole environment), pass_fds and
        wrapper (argv put in front, e.g. a shell that execs the rest)
        go to subprocess.Popen as they are.
        """
        cmd = list(wrapper) + [self.exe]
        if listen:
            cmd += ['-l', '127.0.0.1:0']
        cmd += ['--error-log', self.error_log]
        if access_log is True:
            cmd += ['--access-log', self.access_log]
        elif access_log is not None:
            cmd += ['--access-log', access_log]
        cmd += list(args)
        if docroot is not None:
            cmd.append(docroot)
        self.cmd = cmd
        with open(self.stdout_path, 'wb') as out, \
                open(self.stderr_path, 'wb') as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, cwd=self.tmp,
                                         env=env, pass_fds=tuple(pass_fds))
        self.pid = self.proc.pid
        if not wait:
            return self
        deadline = time.monotonic() + timeout
        while True:
            # One read per look, whole lines only: a second read could
            # see a line the first missed (and leave the port unset).
            text = self.error_text()
            text = text[:text.rfind('\n') + 1]
            m = re.search(r'listening on 127\.0\.0\.1:(\d+)\b', text)
            if m and listen:
                self.port = int(m.group(1))
                break
            if not listen and 'listening on' in text:
                if m:
                    self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise ServerError('preforkd exited with %d before listening; '
                                  'cmd %r; stderr: %r; error log: %r' % (
                                      self.returncode, cmd, self.stderr_text(),
                                      self.error_text()[-2000:]))
            if time.monotonic() >= deadline:
                raise ServerError('no "listening on" line within %.0f s; '
                                  'stderr: %r; error log: %r' % (
                                      timeout, self.stderr_text(),
                                      self.error_text()[-2000:]))
            time.sleep(0.02)
        self.listening = re.findall(r'listening on (\S+)', self.error_text())
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout):
        """Waits up to timeout for the master to exit; returns its code or None."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Stops the master (sig, then SIGKILL after timeout) and every
        worker seen; reaps the master. Returns the master's exit code.
        Safe to call twice."""
        if self.proc is None:
            return None
        if self.alive():
            self.worker_pids()
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            if self.wait_exit(timeout) is None:
                self.worker_pids()
                os.kill(self.pid, signal.SIGKILL)
                self.wait_exit(timeout)
        else:
            self.wait_exit(timeout)
        self.kill_leftovers()
        return self.returncode

    def kill_leftovers(self):
        """SIGKILLs, by PID, every worker seen that still runs (same start
        time, so never a recycled PID). Returns the list of those PIDs."""
        left = self.leftover_pids()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return left

    def leftover_pids(self):
        """Workers seen earlier that are still alive (zombies count as gone:
        once the master is gone, reaping them is init's business)."""
        left = []
        for pid, start in self._seen.items():
            st = proc_stat(pid)
            if st is not None and st[2] == start and st[0] != 'Z':
                left.append(pid)
        return left

    def cleanup(self):
        self.stop()
        if not os.environ.get('PFK_KEEP'):
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- processes ------------------------------------------------------------

    def keeper_pids(self):
        """Every PID the master logged as its keeper ("keeper started")."""
        return [int(p) for p in
                re.findall(r'keeper started \(pid (\d+)\)', self.error_text())]

    def children(self, keeper=False):
        """{pid: (state, starttime)} of the master's children: its workers
        (and the status process); the keeper too when keeper is true. Every
        child seen is remembered for kill_leftovers()."""
        if self.pid is None:
            return {}
        kids = children_of(self.pid, keeper=True)
        for pid, (state, start) in kids.items():
            self._seen[pid] = start
        if keeper:
            return kids
        # The log after the listing: a keeper forked before it is named.
        keepers = set(self.keeper_pids())
        return {p: v for p, v in kids.items()
                if p not in keepers and not is_keeper_title(p)}

    def keeper_pid(self):
        """The live keeper's PID, or None."""
        for pid, (state, _) in self.children(keeper=True).items():
            if state != 'Z' and (is_keeper_title(pid) or
                                 pid in self.keeper_pids()):
                return pid
        return None

    def worker_pids(self):
        """Sorted PIDs of the master's live (non-zombie) children, the
        keeper left out."""
        kids = self.children()
        return sorted(p for p, (s, _) in kids.items() if s != 'Z')

    def zombies(self):
        return sorted(p for p, (s, _) in self.children().items() if s == 'Z')

    def wait_workers(self, n, timeout=10.0):
        """Waits until the master has exactly n live children; returns them."""
        wait_for(lambda: len(self.worker_pids()) == n, timeout)
        return self.worker_pids()

    # -- logs -------------------------------------------------------------

    @staticmethod
    def _read(path):
        try:
            with open(path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''

    def error_text(self):
        return self._read(self.error_log)

    def error_lines(self):
        return self.error_text().splitlines()

    def access_lines(self):
        return self._read(self.access_log).splitlines()

    def stdout_text(self):
        return self._read(self.stdout_path)

    def stderr_text(self):
        return self._read(self.stderr_path)

    def wait_log(self, pattern, timeout=10.0, start=0):
        """Waits for an error-log line (from line index start) matching the
        regex pattern; returns the match or None."""
        rx = re.compile(pattern)

        def find():
            for line in self.error_lines()[start:]:
                m = rx.search(line)
                if m:
                    return m
            return None
        return wait_for(find, timeout)

    def wait_access_lines(self, n, timeout=5.0):
        """Waits until the access log has at least n lines; returns them."""
        wait_for(lambda: len(self.access_lines()) >= n, timeout)
        return self.access_lines()

    # -- clients ------------------------------------------------------------

    def connect(self, **kw):
        return Client(self.port, **kw)


def run_cli(args, timeout=10.0, cwd=None):
    """Runs the binary with args, expecting it to exit by itself.

    Returns (returncode, stdout, stderr). If it is still running after
    timeout (it started serving), it is stopped by PID (TERM, then KILL,
    with its children) and returncode is None.
    """
    proc = subprocess.Popen([PREFORKD] + list(args), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=cwd)
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode('utf-8', 'replace'), \
            err.decode('utf-8', 'replace')
    except subprocess.TimeoutExpired:
        kids = children_of(proc.pid)
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        for pid, (_, start) in kids.items():
            st = proc_stat(pid)
            if st is not None and st[2] == start and st[0] != 'Z':
                os.kill(pid, signal.SIGKILL)
        return None, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace')


# --------------------------------------------------------------------------
# Raw HTTP client

class Response:
    def __init__(self, version, status, reason, headers, body, head_raw):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers      # [(name, value)], order and case kept
        self.body = body            # bytes, or None when no body may follow
        self.head_raw = head_raw

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has_token(self, name, token):
        """Whether the comma-separated header name lists token."""
        token = token.lower()
        for v in self.header_all(name):
            for t in v.split(','):
                if t.strip().lower() == token:
                    return True
        return False

    def __repr__(self):
        return '<Response %s %d %r headers=%r body=%r>' % (
            self.version, self.status, self.reason, self.headers,
            None if self.body is None else self.body[:80])


class ClosedError(AssertionError):
    """The connection ended before a complete response."""


class DeadlineError(AssertionError):
    """Nothing (or not enough) arrived before the deadline."""


class Client:
    """One TCP connection with a read buffer (pipelined responses may
    share a segment)."""

    def __init__(self, port, host='127.0.0.1', timeout=IO_TIMEOUT, rcvbuf=None,
                 family=None):
        if family is None:
            family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b''
        self.eof = False
        self.timeout = timeout

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- sending ------------------------------------------------------------

    def send(self, data):
        if isinstance(data, str):
            data = data.encode('latin-1')
        self.sock.sendall(data)

    def send_slowly(self, data, pause=0.005):
        """Sends one byte per segment, pausing between them (pacing the
        client, not waiting for the server)."""
        if isinstance(data, str):
            data = data.encode('latin-1')
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            self.sock.sendall(data[i:i + 1])
            time.sleep(pause)

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    # -- receiving ------------------------------------------------------------

    def _fill(self, deadline, size=65536):
        """Reads more into buf. Returns False at EOF (or reset)."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineError('deadline passed waiting for data; have %r'
                                % self.buf[:200])
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(size)
        except socket.timeout:
            raise DeadlineError('deadline passed waiting for data; have %r'
                                % self.buf[:200]) from None
        except ConnectionResetError:
            data = b''
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_until(self, sep, deadline):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out, self.buf = self.buf[:i + len(sep)], self.buf[i + len(sep):]
                return out
            if not self._fill(deadline):
                raise ClosedError('connection closed; partial data %r' % self.buf[:200])

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ClosedError('connection closed after %d of %d bytes' % (
                    len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self, timeout=IO_TIMEOUT):
        """Reads a status line and headers. Returns (version, status, reason,
        headers, raw)."""
        deadline = time.monotonic() + timeout
        raw = self._read_until(b'\r\n\r\n', deadline)
        lines = raw[:-4].split(b'\r\n')
        m = re.match(rb'^(HTTP/\d\.\d) (\d{3})(?: (.*))?$', lines[0])
        if not m:
            raise AssertionError('bad status line %r' % lines[0])
        headers = []
        for line in lines[1:]:
            k, sep, v = line.partition(b':')
            if not sep:
                raise AssertionError('bad header line %r' % line)
            headers.append((k.decode('latin-1'), v.strip().decode('latin-1')))
        return (m.group(1).decode(), int(m.group(2)),
                (m.group(3) or b'').decode('latin-1'), headers, raw)

    def read_response(self, method='GET', timeout=IO_TIMEOUT):
        """Reads one response (an interim 1xx is returned as is). The body
        is framed by chunked coding, Content-Length, or the close."""
        deadline = time.monotonic() + timeout
        version, status, reason, headers, raw = self.read_head(timeout)
        resp = Response(version, status, reason, headers, None, raw)
        if method == 'HEAD' or status < 200 or status in (204, 304):
            return resp
        te = resp.header('Transfer-Encoding')
        cl = resp.header('Content-Length')
        if te is not None and te.strip().lower().endswith('chunked'):
            resp.body = self._read_chunked(deadline)
        elif cl is not None:
            resp.body = self._read_exact(int(cl), deadline)
        else:
            resp.body = self.read_all_until_close(deadline - time.monotonic())[0]
        return resp

    def _read_chunked(self, deadline):
        body = b''
        while True:
            line = self._read_until(b'\r\n', deadline)
            size = int(line.split(b';')[0].strip(), 16)
            if size == 0:
                while self._read_until(b'\r\n', deadline) != b'\r\n':
                    pass    # trailer fields
                return body
            body += self._read_exact(size, deadline)
            if self._read_exact(2, deadline) != b'\r\n':
                raise AssertionError('chunk not followed by CRLF')

    def read_all_until_close(self, timeout=IO_TIMEOUT):
        """Reads until EOF/reset or timeout. Returns (data, closed)."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
            closed = True
        except DeadlineError:
            closed = False
        data, self.buf = self.buf, b''
        return data, closed

    def is_closed(self, timeout=2.0):
        """True when the peer closes (EOF or reset) within timeout. Bytes
        arriving meanwhile are kept in self.extra."""
        self.extra, closed = self.read_all_until_close(timeout)
        return closed


def is_closed(client, timeout=2.0):
    return client.is_closed(timeout)


def request_bytes(method, target, headers=None, version='HTTP/1.1', body=b'',
                  host='localhost'):
    """Builds a request; Host first unless headers has one or host is None."""
    lines = ['%s %s %s' % (method, target, version)]
    hdrs = list(headers or [])
    if host is not None and not any(k.lower() == 'host' for k, _ in hdrs):
        lines.append('Host: %s' % host)
    for k, v in hdrs:
        lines.append('%s: %s' % (k, v))
    data = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')
    if isinstance(body, str):
        body = body.encode('latin-1')
    return data + body


# --------------------------------------------------------------------------
# Test case base

class ServerTestCase(unittest.TestCase):
    """Builds a docroot per class; starts one shared server per class when
    server_args is not None; per-test servers via self.start_server()."""

    server_args = None

    @classmethod
    def setUpClass(cls):
        root, info, dirs = make_docroot()
        for d in dirs:
            cls.addClassCleanup(shutil.rmtree, d, True)
        cls.root, cls.files = root, info
        cls.server = None
        if cls.server_args is not None:
            srv = Server()
            cls.addClassCleanup(srv.cleanup)
            srv.start(cls.server_args, cls.root)
            cls.server = srv

    def setUp(self):
        self._servers = []
        self._log_mark = None
        if self.server is not None:
            self._log_mark = len(self.server.error_lines())

    def tearDown(self):
        """On failure, print the tail of each server's error log, and for
        the shared server fail the test if a worker crashed during it."""
        outcome = getattr(self, '_outcome', None)
        failed = outcome is not None and not getattr(outcome, 'success', True)
        servers = list(self._servers)
        if self.server is not None:
            servers.append(self.server)
        if failed:
            for srv in servers:
                sys.stderr.write('\n--- %s: error log of %r (tail) ---\n%s\n' % (
                    self.id(), srv.cmd, '\n'.join(srv.error_lines()[-25:])))
        if self.server is not None and self._log_mark is not None:
            new = self.server.error_lines()[self._log_mark:]
            crashes = [l for l in new if re.search(r'killed by|exited with code [^0]', l)]
            if crashes:
                self.fail('a worker died during this test: %r' % crashes)
            if not self.server.alive():
                self.fail('the shared master exited (code %r)' % self.server.proc.poll())

    # -- servers ------------------------------------------------------------

    def start_server(self, args=(), docroot=None, **kw):
        srv = Server()
        self.addCleanup(srv.cleanup)
        self._servers.append(srv)
        srv.start(list(args), self.root if docroot is None else docroot, **kw)
        return srv

    def wait_ready(self, srv, nworkers):
        """Waits for "ready: N workers" and N live children; returns their
        PIDs."""
        self.assertTrue(srv.wait_log(r'ready: %d workers' % nworkers),
                        'no "ready: %d workers" line' % nworkers)
        pids = srv.wait_workers(nworkers)
        self.assertEqual(len(pids), nworkers, 'children: %r' % pids)
        return pids

    def start_ready(self, args, nworkers=1, **kw):
        """start_server, then wait_ready. Returns (server, worker PIDs)."""
        srv = self.start_server(args, **kw)
        return srv, self.wait_ready(srv, nworkers)

    # -- clients ------------------------------------------------------------

    def connect(self, srv=None, **kw):
        c = (srv or self.server).connect(**kw)
        self.addCleanup(c.close)
        return c

    def exchange(self, raw, method='GET', srv=None, timeout=IO_TIMEOUT):
        """Sends raw on a fresh connection, returns (response, client)."""
        c = self.connect(srv)
        c.send(raw)
        r = c.read_response(method, timeout)
        return r, c

    def get(self, target, headers=None, method='GET', version='HTTP/1.1',
            srv=None, body=b''):
        r, c = self.exchange(request_bytes(method, target, headers, version, body),
                             method, srv)
        c.close()
        self.assert_common(r, method)
        return r

    # -- assertions ---------------------------------------------------------

    def assert_common(self, r, method='GET'):
        """What every final response carries: Date (IMF-fixdate), Server
        preforkd/VERSION, and framing."""
        date = r.header('Date')
        self.assertIsNotNone(date, 'no Date header in %r' % r)
        self.assertRegex(date, IMF_FIXDATE_RE)
        server = r.header('Server')
        self.assertIsNotNone(server, 'no Server header in %r' % r)
        self.assertRegex(server, r'^preforkd/\S+')
        if r.status >= 200 and r.status not in (204, 304):
            self.assertTrue(r.header('Content-Length') is not None or
                            r.has_token('Transfer-Encoding', 'chunked'),
                            'no framing in %r' % r)
        if r.body is not None and r.header('Content-Length') is not None:
            self.assertEqual(int(r.header('Content-Length')), len(r.body))

    def assert_closed(self, c, timeout=3.0):
        self.assertTrue(c.is_closed(timeout),
                        'connection still open after %.1f s' % timeout)
        self.assertEqual(c.extra, b'', 'unexpected bytes after the response')

    def assert_error_closes(self, raw, status, srv=None, method='GET'):
        """raw gets status with a small text/plain body and Connection:
        close, then the server closes; the server still serves afterwards."""
        r, c = self.exchange(raw, method, srv)
        self.assertEqual(r.status, status, 'expected %d, got %r' % (status, r))
        self.assert_common(r, method)
        self.assertTrue(r.has_token('Connection', 'close'),
                        'no Connection: close on %r' % r)
        ctype = r.header('Content-Type') or ''
        self.assertTrue(ctype.startswith('text/plain'), 'Content-Type %r' % ctype)
        if method != 'HEAD':
            self.assertTrue(r.body, 'error response without a body')
        self.assert_closed(c)
        self.assert_serving(srv)
        return r

    def assert_serving(self, srv=None):
        r = self.get('/hello.txt', srv=srv)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b'Hello, World!')


def build_dir():
    """The meson build directory the binary comes from (<build>/master/preforkd)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(PREFORKD)))


def module_dirs():
    """(test-only modules dir, shipped modules dir), defaulting to the
    binary's build directory when main() was not given them."""
    b = build_dir()
    return (MODULES_DIR or os.path.join(b, 'tests', 'modules'),
            SHIPPED_DIR or os.path.join(b, 'modules'))


def main():
    """Runs unittest.main with our own options taken out of argv:
    --preforkd PATH, and optionally --modules-dir DIR, --shipped-dir DIR
    (each also as --opt=VALUE)."""
    global PREFORKD, MODULES_DIR, SHIPPED_DIR
    opts = {'--preforkd': None, '--modules-dir': None, '--shipped-dir': None}
    argv = [sys.argv[0]]
    args = sys.argv[1:]
    i = 0
    while i < len(args):
        a = args[i]
        name, eq, value = a.partition('=')
        if a in opts and i + 1 < len(args):
            opts[a] = os.path.abspath(args[i + 1])
            i += 2
            continue
        if eq and name in opts:
            opts[name] = os.path.abspath(value)
        else:
            argv.append(a)
        i += 1
    if opts['--preforkd'] is not None:
        PREFORKD = opts['--preforkd']
    if opts['--modules-dir'] is not None:
        MODULES_DIR = opts['--modules-dir']
    if opts['--shipped-dir'] is not None:
        SHIPPED_DIR = opts['--shipped-dir']
    if not os.access(PREFORKD, os.X_OK):
        sys.stderr.write('preforkd binary not found at %s (use --preforkd PATH)\n'
                         % PREFORKD)
        sys.exit(2)
    unittest.main(module='__main__', argv=argv, verbosity=2)
