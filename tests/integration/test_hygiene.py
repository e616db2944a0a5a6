"""Descriptor and memory hygiene of every process (SPEC sections 1, 7, 9;
STYLE "Buffers, limits, syscalls": listeners are the only intended
inheritance).

A server with two workers, the probe and echo modules mounted and a
status listener takes a few thousand mixed requests: good and missing
static files, module requests, malformed heads, bodies cut off halfway,
client resets in the middle of a 1 MiB response, pipelined bursts and
chunked uploads. Afterwards the same workers are alive, each holds the
same descriptors as after the warm-up, and none grew its RSS by more
than 256 KiB.

Every process is inventoried through /proc/PID/fd, each descriptor
classified by what it points at (the same file: st_dev and st_ino of the
target; a socket: its inode, looked up in /proc/net/tcp):

  master   0-2, the error and access logs, the pid file, the request
           listener(s) and the status listener; nothing else (no accepted
           connection, no pipe left over from start-up);
  worker   0-2, the logs, its listener(s), the document root (an O_PATH
           directory) and files beneath it (the open-file cache); when
           idle nothing else: no pid file, no status listener, no socket
           of the master or of another worker;
  status   0-2, the logs and its own listener.

Modules run inside the worker, so what a module can see is the worker's
descriptor table while it runs: that table is inventoried in the middle
of a probe response and of an echo upload (probe cannot list
/proc/self/fd itself; the worker's table is the same table). It must be
the idle set plus exactly the one client connection.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import tempfile
import threading
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import (ServerTestCase, Client, request_bytes, wait_for)  # noqa: E402

RSS_SLACK_KB = 256
LOAD_REQUESTS = 10000   # at least MIN_LOAD_REQUESTS of them
LOAD_SECONDS = 12.0             # the load stops here even if short of its count
MIN_LOAD_REQUESTS = 3000
WARM_REQUESTS = 400
CLIENT_THREADS = 2
GOOD = ['/hello.txt', '/1k.bin', '/big.txt', '/', '/sub/', '/style.css',
        '/app.js', '/img.png', '/with%20space.txt']
BAD_HEADS = [
    b'junk\r\n\r\n',
    b'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n'
    b'Transfer-Encoding: chunked\r\n\r\n',
    b'GET / HTTP/1.1\r\n\r\n',
    b'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
    b'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n',
    b'GET / HTTP/1.1\r\nHost : x\r\n\r\n',
    b'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
    b'zz\r\n',
]
TCP_STATES = {'01': 'ESTABLISHED', '0A': 'LISTEN'}


def module_path(name):
    return os.path.join(harness.module_dirs()[0], name + '.so')


def shipped_path(name):
    return os.path.join(harness.module_dirs()[1], name + '.so')


# --------------------------------------------------------------------------
# /proc

def fd_table(pid):
    """{fd: (link target, (st_dev, st_ino) or None)} of pid, or None when
    it is gone. Descriptors that close while being read are skipped."""
    base = '/proc/%d/fd' % pid
    try:
        names = os.listdir(base)
    except (FileNotFoundError, ProcessLookupError):
        return None
    out = {}
    for n in names:
        try:
            target = os.readlink('%s/%s' % (base, n))
        except OSError:
            continue
        try:
            st = os.stat('%s/%s' % (base, n))
            key = (st.st_dev, st.st_ino)
        except OSError:
            key = None
        out[int(n)] = (target, key)
    return out


def vm_rss_kb(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def tcp_sockets():
    """{socket inode: (local port, remote port, state)} from /proc/net/tcp{,6}."""
    out = {}
    for name in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(name) as f:
                lines = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            p = line.split()
            local, remote, st, inode = p[1], p[2], p[3], int(p[9])
            out[inode] = (int(local.split(':')[1], 16),
                          int(remote.split(':')[1], 16),
                          TCP_STATES.get(st, st))
    return out


def seqpacket_inodes():
    """Inodes of the AF_UNIX SOCK_SEQPACKET sockets (the keeper queue),
    from /proc/net/unix."""
    out = set()
    with open('/proc/net/unix') as f:
        for line in f.read().splitlines()[1:]:
            p = line.split()
            if len(p) >= 7 and p[4] == '0005':
                out.add(int(p[6]))
    return out


def socket_inode(target):
    m = re.match(r'^socket:\[(\d+)\]$', target)
    return int(m.group(1)) if m else None


def describe_table(table, socks=None):
    socks = socks if socks is not None else tcp_sockets()
    parts = []
    for fd in sorted(table):
        target = table[fd][0]
        ino = socket_inode(target)
        if ino is not None and ino in socks:
            lp, rp, st = socks[ino]
            target += ' (tcp :%d -> :%d %s)' % (lp, rp, st)
        parts.append('%d -> %s' % (fd, target))
    return '; '.join(parts)


# --------------------------------------------------------------------------
# The mixed load

class Load:
    """Mixed requests from a few client threads, bounded in count and time.
    Each operation returns how many requests it made; problems (a wrong
    status, a wrong echo) are collected, not raised, so that one thread's
    surprise does not hide the descriptor check."""

    def __init__(self, srv, root_files, seed):
        self.srv = srv
        self.files = root_files
        self.seed = seed
        self.lock = threading.Lock()
        self.count = 0
        self.kinds = {}
        self.problems = []

    # -- helpers -----------------------------------------------------------

    def note(self, what):
        with self.lock:
            if len(self.problems) < 50:
                self.problems.append(what)

    def client(self, **kw):
        return Client(self.srv.port, timeout=10, **kw)

    def expect_ok(self, r, target):
        if target == '/':
            want = self.files['index.html']
        elif target == '/sub/':
            want = self.files['sub/index.html']
        elif target == '/with%20space.txt':
            want = self.files['with space.txt']
        else:
            want = self.files[target[1:]]
        if r.status != 200 or r.body != want:
            self.note('GET %s: %r' % (target, r))

    # -- operations ------------------------------------------------------------

    def op_keepalive_gets(self, rng):
        n = 0
        c = self.client()
        try:
            for _ in range(5):
                t = rng.choice(GOOD)
                c.send(request_bytes('GET', t))
                r = c.read_response()
                n += 1
                self.expect_ok(r, t)
                if r.has_token('Connection', 'close'):
                    break       # fair keep-alive gave the worker away
        finally:
            c.close()
        return n

    def op_not_found(self, rng):
        with self.client() as c:
            c.send(request_bytes('GET', '/missing-%d' % rng.randrange(10 ** 6),
                                 [('Connection', 'close')]))
            r = c.read_response()
            if r.status != 404:
                self.note('404 expected: %r' % r)
        return 1

    def op_module(self, rng):
        n = 0
        with self.client() as c:
            c.send(request_bytes('GET', '/p/info?n=%d' % rng.randrange(1000)))
            r = c.read_response()
            n += 1
            if r.status != 200 or b'method: GET' not in (r.body or b''):
                self.note('probe report: %r' % r)
            if not r.has_token('Connection', 'close'):
                c.send(request_bytes('GET', '/p/stream?pieces=3&size=700',
                                     [('Connection', 'close')]))
                r = c.read_response()
                n += 1
                if r.status != 200 or r.body != b'a' * 700 + b'b' * 700 + b'c' * 700:
                    self.note('probe stream: %r' % r)
        return n

    def op_malformed(self, rng):
        with self.client() as c:
            c.send(rng.choice(BAD_HEADS))
            r = c.read_response()
            if r.status not in (400, 501, 505) or not r.has_token('Connection', 'close'):
                self.note('malformed head answered %r' % r)
            if not c.is_closed(3.0):
                self.note('connection open after %r' % r)
        return 1

    def op_post_aborted(self, rng):
        # Half of a declared body, then a plain close (FIN).
        target = rng.choice(['/hello.txt', '/echo'])
        with self.client() as c:
            if rng.random() < 0.5:
                c.send(request_bytes('POST', target, [('Content-Length', '20000')],
                                     body=b'q' * 10000))
            else:
                c.send(request_bytes('POST', target,
                                     [('Transfer-Encoding', 'chunked')],
                                     body=b'2710\r\n' + b'q' * 5000))
        return 1

    def op_reset_mid_response(self, rng):
        # RST (SO_LINGER 0) once part of the 1 MiB body has arrived.
        with self.client(rcvbuf=16384) as c:
            c.send(request_bytes('GET', '/1m.bin'))
            deadline = time.monotonic() + 10
            while len(c.buf) < 4096 and c._fill(deadline):
                pass
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              struct.pack('ii', 1, 0))
        return 1

    def op_reset_after_request(self, rng):
        # RST right behind the request: the worker finds a dead peer.
        with self.client() as c:
            c.send(request_bytes('GET', rng.choice(['/1m.bin', '/p/stream?pieces=50&size=4096'])))
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              struct.pack('ii', 1, 0))
        return 1

    def op_pipelined(self, rng):
        targets = [rng.choice(GOOD + ['/missing', '/p/x']) for _ in range(10)]
        n = 0
        with self.client() as c:
            c.send(b''.join(request_bytes('GET', t) for t in targets))
            for t in targets:
                r = c.read_response()
                n += 1
                if t == '/missing':
                    if r.status != 404:
                        self.note('pipelined 404 expected: %r' % r)
                elif t == '/p/x':
                    if r.status != 200:
                        self.note('pipelined probe: %r' % r)
                else:
                    self.expect_ok(r, t)
                if r.has_token('Connection', 'close'):
                    break
        return n

    def op_echo_chunked(self, rng):
        pieces = [bytes([65 + rng.randrange(26)]) * rng.randrange(1, 3000)
                  for _ in range(rng.randrange(1, 5))]
        body = b''.join(b'%x\r\n%s\r\n' % (len(p), p) for p in pieces) + b'0\r\n\r\n'
        with self.client() as c:
            c.send(request_bytes('POST', '/echo',
                                 [('Transfer-Encoding', 'chunked'),
                                  ('Content-Type', 'text/x-test'),
                                  ('Connection', 'close')], body=body))
            r = c.read_response()
            if r.status != 200 or r.body != b''.join(pieces):
                self.note('echo: %r' % r)
        return 1

    OPS = [('keepalive_gets', 5), ('not_found', 3), ('module', 3), ('malformed', 2),
           ('post_aborted', 2), ('reset_mid_response', 1),
           ('reset_after_request', 1), ('pipelined', 2), ('echo_chunked', 3)]

    # -- driving -------------------------------------------------------------

    def all_kinds_once(self, rng):
        """One of each operation (so a warm-up has touched every path)."""
        for name, _ in self.OPS:
            self._run_one(name, rng)

    def _run_one(self, name, rng):
        try:
            n = getattr(self, 'op_' + name)(rng)
        except (AssertionError, OSError) as e:
            self.note('%s: %s: %s' % (name, type(e).__name__, e))
            n = 1
        with self.lock:
            self.count += n
            self.kinds[name] = self.kinds.get(name, 0) + n

    def _thread(self, idx, total, deadline):
        rng = random.Random(self.seed * 100 + idx)
        names = [n for n, w in self.OPS for _ in range(w)]
        for _ in range(total):          # bounded in count ...
            with self.lock:
                if self.count >= total:
                    return
            if time.monotonic() >= deadline:    # ... and in time
                return
            self._run_one(rng.choice(names), rng)

    def run(self, total, seconds, threads=CLIENT_THREADS):
        deadline = time.monotonic() + seconds
        ts = [threading.Thread(target=self._thread, args=(i, total, deadline))
              for i in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(seconds + 30)
        alive = [t for t in ts if t.is_alive()]
        if alive:
            raise AssertionError('load threads still running after %.0f s'
                                 % (seconds + 30))
        return self.count


# --------------------------------------------------------------------------

class Hygiene(ServerTestCase):

    NWORKERS = 2

    def setUp(self):
        super().setUp()
        probe, echo = module_path('probe'), shipped_path('echo')
        for p in (probe, echo):
            if not os.path.exists(p):
                self.skipTest('module %s not built' % p)
        self.probe, self.echo = probe, echo

    # -- the server and its processes ----------------------------------------

    def start_hygiene(self, extra=()):
        tmp = tempfile.mkdtemp(prefix='pfk-hyg-')
        self.addCleanup(shutil.rmtree, tmp, True)
        pid_file = os.path.join(tmp, 'preforkd.pid')
        srv = self.start_server(['-w', str(self.NWORKERS),
                                 '--status-listen', '127.0.0.1:0',
                                 '--pid-file', pid_file,
                                 '-m', '/p=' + self.probe,
                                 '-m', '/echo=' + self.echo,
                                 '--max-body-size', str(1 << 20)] + list(extra))
        srv.pid_file = pid_file
        m = srv.wait_log(r'status process started \(pid (\d+)\)')
        self.assertTrue(m, 'no "status process started" line')
        srv.status_pid = int(m.group(1))
        ports = re.findall(r'listening on 127\.0\.0\.1:(\d+)', srv.error_text())
        srv.status_port = int(ports[-1])
        self.assertNotEqual(srv.status_port, srv.port)
        self.assertTrue(wait_for(lambda: os.path.exists(pid_file), 5.0),
                        'no pid file')
        self.wait_idle(srv)
        return srv

    def status_json(self, srv):
        with Client(srv.status_port, timeout=5) as c:
            c.send(request_bytes('GET', '/status?format=json'))
            r = c.read_response()
        self.assertEqual(r.status, 200, r)
        return json.loads(r.body)

    def wait_idle(self, srv, timeout=10.0):
        """Waits until exactly NWORKERS workers are all accepting (no
        connection held); returns {pid: worker id}."""
        def idle():
            j = self.status_json(srv)
            ws = j['workers']
            if len(ws) == self.NWORKERS and all(w['state'] == 'accepting' for w in ws):
                return {w['pid']: w['id'] for w in ws}
            return None
        got = wait_for(idle, timeout, interval=0.05)
        self.assertTrue(got, 'workers not all idle: %r' % self.status_json(srv))
        return got

    def objects(self, srv):
        """The (st_dev, st_ino) of everything a process may legitimately
        hold, and the listener socket inodes (from the master's table)."""
        def key(path):
            st = os.stat(path)
            return (st.st_dev, st.st_ino)
        socks = tcp_sockets()
        master = fd_table(srv.pid)
        self.assertIsNotNone(master, 'master gone')
        req_l, status_l, queue = set(), set(), set()
        seqp = seqpacket_inodes()
        for fd, (target, _) in master.items():
            ino = socket_inode(target)
            if ino in seqp:
                queue.add(ino)      # the keeper queue, both ends
            if ino is None or ino not in socks:
                continue
            lp, _, st = socks[ino]
            if st == 'LISTEN' and lp == srv.port:
                req_l.add(ino)
            elif st == 'LISTEN' and lp == srv.status_port:
                status_l.add(ino)
        self.assertEqual(len(req_l), 1, 'request listener not found in the '
                         'master: %s' % describe_table(master, socks))
        self.assertEqual(len(status_l), 1, 'status listener not found in the '
                         'master: %s' % describe_table(master, socks))
        return {
            'error_log': key(srv.error_log),
            'access_log': key(srv.access_log),
            'pid_file': key(srv.pid_file),
            'root': key(self.root),
            'root_path': os.path.realpath(self.root),
            'req_listeners': req_l,
            'status_listeners': status_l,
            'queue': queue,
        }

    def check_process(self, srv, pid, role, obj, conns=0):
        """Classifies every descriptor of pid. Returns (problems, listing).
        conns: established connections to the request port allowed (a
        worker in the middle of a request)."""
        table = fd_table(pid)
        if table is None:
            return ['%s %d is gone' % (role, pid)], ''
        socks = tcp_sockets()
        problems = []
        have = {'error_log': 0, 'access_log': 0, 'listeners': set(), 'conns': 0,
                'queue': 0, 'epoll': 0}
        for fd, (target, key) in sorted(table.items()):
            what = '%s %d fd %d -> %s' % (role, pid, fd, target)
            if fd <= 2:
                continue
            ino = socket_inode(target)
            if ino is not None:
                lp, rp, st = socks.get(ino, (None, None, 'not TCP'))
                if ino in obj['queue'] and role != 'status':
                    have['queue'] += 1
                elif ino in obj['req_listeners']:
                    if role == 'status':
                        problems.append(what + ': a request listener in the '
                                        'status process')
                    have['listeners'].add(ino)
                elif ino in obj['status_listeners']:
                    if role == 'worker':
                        problems.append(what + ': the status listener in a worker')
                    have['listeners'].add(ino)
                elif (role in ('worker', 'keeper') and
                      st == 'ESTABLISHED' and lp == srv.port):
                    have['conns'] += 1
                else:
                    problems.append(what + ' (tcp :%s -> :%s %s): a socket '
                                    'that is not %s\'s' % (lp, rp, st, role))
                continue
            if key == obj['error_log']:
                have['error_log'] += 1
                continue
            if key == obj['access_log']:
                have['access_log'] += 1
                continue
            if key == obj['pid_file']:
                if role != 'master':
                    problems.append(what + ': the pid file outside the master')
                continue
            if role in ('worker', 'keeper') and \
                    target == 'anon_inode:[eventpoll]':
                have['epoll'] += 1
                continue        # its wait for connections
            if role == 'worker' and key == obj['root']:
                continue        # the document root, O_PATH
            if role == 'worker' and target.startswith(obj['root_path'] + '/') \
                    and os.path.isfile(target):
                continue        # the open-file cache
            problems.append(what + ': not something a %s needs' % role)
        want_l = {'master': obj['req_listeners'] | obj['status_listeners'],
                  'worker': obj['req_listeners'],
                  'keeper': set(),
                  'status': obj['status_listeners']}[role]
        want_q = {'master': 2, 'worker': 1, 'keeper': 1, 'status': 0}[role]
        if have['queue'] != want_q:
            problems.append('%s %d holds %d end(s) of the keeper queue, '
                            'expected %d' % (role, pid, have['queue'], want_q))
        if have['epoll'] > 1:
            problems.append('%s %d holds %d epoll descriptors' % (
                role, pid, have['epoll']))
        if have['listeners'] != want_l:
            problems.append('%s %d holds listeners %r, expected %r' % (
                role, pid, sorted(have['listeners']), sorted(want_l)))
        if conns is not None and have['conns'] != conns:
            problems.append('%s %d holds %d client connection(s), expected %d' % (
                role, pid, have['conns'], conns))
        for log in ('error_log', 'access_log'):
            if have[log] > 1:
                problems.append('%s %d has the %s open %d times' % (
                    role, pid, log, have[log]))
        return problems, describe_table(table, socks)

    def assert_inventory(self, srv, workers, when, timeout=3.0):
        """Every process of srv holds only what its role needs. Checked
        until clean or timeout: the status process may still be closing
        the connection that asked it whether the workers are idle."""
        obj = self.objects(srv)
        last = {}

        def clean():
            report, problems = [], []
            procs = [(srv.pid, 'master'), (srv.status_pid, 'status'),
                     (srv.keeper_pid(), 'keeper')] + \
                [(p, 'worker') for p in sorted(workers)]
            for pid, role in procs:
                # The keeper may still hold a client's last connection.
                p, listing = self.check_process(
                    srv, pid, role, obj, None if role == 'keeper' else 0)
                problems += p
                report.append('%s %d: %s' % (role, pid, listing))
            last['problems'], last['report'] = problems, report
            return not problems
        wait_for(clean, timeout, interval=0.05)
        self.assertEqual(last['problems'], [], '%s:\n  %s\nfd tables:\n  %s' % (
            when, '\n  '.join(last['problems']), '\n  '.join(last['report'])))

    def snapshot(self, workers):
        return {pid: (fd_table(pid), vm_rss_kb(pid)) for pid in workers}

    def warm(self, srv, load):
        """Every worker serves every cached file and every kind of request:
        two kept-alive connections pin the two workers (probe says which
        one answered), then a short mixed load."""
        ids = set()
        pinned = []
        try:
            for _ in range(self.NWORKERS):
                c = Client(srv.port, timeout=10)
                pinned.append(c)
                c.send(request_bytes('GET', '/p/who'))
                r = c.read_response()
                self.assertEqual(r.status, 200, r)
                m = re.search(rb'^worker: (\d+)$', r.body, re.M)
                self.assertTrue(m, r.body)
                ids.add(int(m.group(1)))
            self.assertEqual(len(ids), self.NWORKERS,
                             'pinned connections landed on workers %r' % ids)
            for c in pinned:
                for t in GOOD + ['/1m.bin', '/p/stream?pieces=3&size=700']:
                    c.send(request_bytes('GET', t))
                    r = c.read_response(timeout=10)
                    self.assertEqual(r.status, 200, '%s: %r' % (t, r))
        finally:
            for c in pinned:
                c.close()
        rng = random.Random(7)
        for _ in range(3):
            load.all_kinds_once(rng)
        load.run(WARM_REQUESTS, LOAD_SECONDS)

    # -- tests -----------------------------------------------------------------

    def test_inventory_after_start(self):
        srv = self.start_hygiene()
        workers = self.wait_idle(srv)
        self.assert_inventory(srv, workers, 'right after start')

    def test_flat_under_mixed_load(self):
        srv = self.start_hygiene()
        warm = Load(srv, self.files, seed=1)
        self.warm(srv, warm)
        workers = self.wait_idle(srv)
        before = self.snapshot(workers)
        mark = len(srv.error_lines())

        load = Load(srv, self.files, seed=2)
        t0 = time.monotonic()
        n = load.run(LOAD_REQUESTS, LOAD_SECONDS)
        took = time.monotonic() - t0
        sys.stderr.write('\n  load: %d requests in %.1f s: %r\n' % (
            n, took, sorted(load.kinds.items())))
        self.assertGreaterEqual(n, MIN_LOAD_REQUESTS,
                                'only %d requests in %.0f s' % (n, took))

        after_workers = self.wait_idle(srv)
        self.assertEqual(sorted(after_workers), sorted(workers),
                         'workers changed under load (a crash?); error log: %r'
                         % srv.error_lines()[mark:][-10:])
        deaths = [l for l in srv.error_lines()[mark:]
                  if re.search(r'killed by|exited with', l)]
        self.assertEqual(deaths, [])
        # Idle means no connection: the counts settle at once (the wait
        # only covers a descriptor being closed while it is read).
        wait_for(lambda: all(len(fd_table(p) or {}) == len(before[p][0])
                             for p in workers), 3.0, interval=0.05)
        after = self.snapshot(workers)
        sys.stderr.write('  VmRSS kB (after warm-up -> after load): %s\n' % ', '.join(
            'worker %d %s -> %s' % (p, before[p][1], after[p][1]) for p in sorted(workers)))
        socks = tcp_sockets()
        for pid in sorted(workers):
            (t0_, rss0), (t1_, rss1) = before[pid], after[pid]
            with self.subTest(worker=pid, what='fds'):
                self.assertEqual(len(t1_), len(t0_),
                                 'worker %d: %d fds after warm-up, %d after load\n'
                                 '  before: %s\n  after:  %s' % (
                                     pid, len(t0_), len(t1_),
                                     describe_table(t0_, socks),
                                     describe_table(t1_, socks)))
            with self.subTest(worker=pid, what='rss'):
                self.assertLess(rss1 - rss0, RSS_SLACK_KB,
                                'worker %d: VmRSS %d kB after warm-up, %d kB '
                                'after %d requests' % (pid, rss0, rss1, n))
        self.assert_inventory(srv, workers, 'idle after %d mixed requests' % n)
        self.assertEqual(load.problems, [], 'unexpected answers under load')

    def worker_busy_with(self, srv, path_prefix, timeout=10.0):
        """Waits for the worker whose scoreboard shows a request for
        path_prefix; returns its pid."""
        def busy():
            for w in self.status_json(srv)['workers']:
                if (w.get('path') or '').startswith(path_prefix) and \
                        w['state'] in ('handling', 'writing', 'reading'):
                    return w['pid']
            return None
        pid = wait_for(busy, timeout, interval=0.02)
        self.assertTrue(pid, 'no worker busy with %s: %r' % (
            path_prefix, self.status_json(srv)))
        return pid

    def assert_module_view(self, srv, pid, when):
        obj = self.objects(srv)
        problems, listing = self.check_process(srv, pid, 'worker', obj, conns=1)
        self.assertEqual(problems, [], '%s: %s\n  fds: %s' % (
            when, '\n  '.join(problems), listing))

    def test_module_sees_only_its_connection(self):
        srv = self.start_hygiene()
        # probe, blocked writing a long stream to a client that does not read.
        c = self.connect(srv, rcvbuf=4096, timeout=10)
        c.send(request_bytes('GET', '/p/stream?pieces=100000&size=65536'))
        pid = self.worker_busy_with(srv, '/p/stream')
        self.assert_module_view(srv, pid, 'worker %d inside probe' % pid)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        c.close()
        self.wait_idle(srv)
        # echo, blocked reading the rest of a chunked upload (with
        # Expect: 100-continue, or the keeper would wait for the rest).
        c = self.connect(srv, timeout=10)
        c.send(request_bytes('POST', '/echo', [('Transfer-Encoding', 'chunked'),
                                               ('Expect', '100-continue')],
                             body=b'10\r\n0123'))
        pid = self.worker_busy_with(srv, '/echo')
        self.assert_module_view(srv, pid, 'worker %d inside echo' % pid)
        c.close()
        workers = self.wait_idle(srv)
        self.assert_inventory(srv, workers, 'after the module requests')

    def test_replacement_workers_inherit_nothing(self):
        # A worker forked later (after a crash, or one more on TTIN) gets
        # the same clean table: whatever the master or the other workers
        # held at that moment stays out.
        srv = self.start_hygiene()
        workers = self.wait_idle(srv)
        busy = self.connect(srv, rcvbuf=4096, timeout=10)
        busy.send(request_bytes('GET', '/p/stream?pieces=100000&size=65536'))
        busy_pid = self.worker_busy_with(srv, '/p/stream')
        victim = [p for p in workers if p != busy_pid][0]
        os.kill(victim, signal.SIGKILL)

        def replaced():
            j = self.status_json(srv)
            pids = {w['pid'] for w in j['workers'] if w['state'] == 'accepting'}
            new = pids - set(workers)
            return new if new else None
        new = wait_for(replaced, 10.0, interval=0.05)
        self.assertTrue(new, 'killed worker %d not replaced' % victim)
        (new_pid,) = tuple(new)
        obj = self.objects(srv)
        problems, listing = self.check_process(srv, new_pid, 'worker', obj)
        self.assertEqual(problems, [], 'replacement worker %d (forked while '
                         'worker %d served a client): %s\n  fds: %s' % (
                             new_pid, busy_pid, '\n  '.join(problems), listing))
        problems, listing = self.check_process(srv, busy_pid, 'worker', obj, conns=1)
        self.assertEqual(problems, [], 'busy worker %d: %s\n  fds: %s' % (
            busy_pid, '\n  '.join(problems), listing))
        busy.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        busy.close()
        workers = self.wait_idle(srv)
        self.assertIn(new_pid, workers)
        self.assert_inventory(srv, workers, 'after a worker was replaced')


if __name__ == '__main__':
    harness.main()
