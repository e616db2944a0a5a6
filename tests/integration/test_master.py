"""The master's judgement of its workers and of reloads (review #10).

--timeout covers a module handler only, not a long download; a request
crash is replaced at once while a boot failure backs off, and exit codes
are decoded in the log; workers die with a SIGKILLed master also after
-u; -u root works; the module check runs as the worker user and is
bounded; a reload applies what it can to kept listeners and names what
needs a restart.

Faults come from the test-only modules tests/modules/fault.c and
hanginit.c (--modules-dir). Every wait is a condition with a deadline;
every process started here is stopped by PID.
"""

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import (ServerTestCase, Client, request_bytes,  # noqa: E402
                     wait_for, proc_stat)

# The crashes below are on purpose: no core files from them.
resource.setrlimit(resource.RLIMIT_CORE,
                   (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))

BIG = 64 * 1024 * 1024
NOBODY = 65534


def module_path(name):
    """A test-only module (tests/modules/NAME.c)."""
    return os.path.join(harness.module_dirs()[0], name + '.so')


def shipped_path(name):
    """A shipped module (modules/NAME.c)."""
    return os.path.join(harness.module_dirs()[1], name + '.so')


def proc_uid(pid):
    """The real uid of pid from /proc/PID/status, or None if it is gone."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('Uid:'):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def in_accept(pid):
    """Whether pid waits in accept4() (or poll(), epoll_wait(),
    epoll_pwait()) now, from /proc/PID/syscall (x86-64 numbers)."""
    try:
        with open('/proc/%d/syscall' % pid) as f:
            return f.read().split()[0] in ('288', '7', '232', '281')
    except (OSError, IndexError):
        return False


def backlog_of(port):
    """The backlog of the listener on 127.0.0.1:port, as ss shows it (the
    Send-Q column of a listening socket)."""
    out = subprocess.run(['ss', '-ltnH', 'sport = :%d' % port],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4 and f[3].endswith(':%d' % port):
            return int(f[2])
    return None


class MasterTest(ServerTestCase):

    def big_docroot(self):
        """A docroot with hello.txt and a 64 MiB sparse file big.bin."""
        root = tempfile.mkdtemp(prefix='pfk-big-')
        self.addCleanup(shutil.rmtree, root, True)
        os.chmod(root, 0o755)       # also for -u nobody
        with open(os.path.join(root, 'hello.txt'), 'wb') as f:
            f.write(b'Hello, World!')
        with open(os.path.join(root, 'big.bin'), 'wb') as f:
            f.truncate(BIG)
        return root

    def hello_ok(self, srv, timeout=harness.IO_TIMEOUT):
        c = self.connect(srv, timeout=timeout)
        c.send(request_bytes('GET', '/hello.txt'))
        r = c.read_response(timeout=timeout)
        c.close()
        self.assertEqual((r.status, r.body), (200, b'Hello, World!'), r)

    def ready(self, srv, n, others=0):
        """Waits for n workers (and others children more: the status
        process) to be ready; returns the children."""
        self.assertTrue(srv.wait_log(r'ready: %d workers' % n),
                        srv.error_lines()[-20:])
        return srv.wait_workers(n + others)

    # -- item 1: --timeout is the handler's time only ---------------------

    def test_slow_download_longer_than_timeout_arrives_whole(self):
        srv = self.start_server(['-w', '1', '--timeout', '1',
                                 '--status-listen', '127.0.0.1:0'],
                                docroot=self.big_docroot())
        kids = self.ready(srv, 1, others=1)
        self.assertTrue(srv.wait_log(r'status process started'))
        sport = int(re.findall(r'listening on 127\.0\.0\.1:(\d+)',
                               srv.error_text())[-1])
        c = self.connect(srv, timeout=20, rcvbuf=65536)
        c.send(request_bytes('GET', '/big.bin'))
        status = c.read_head(timeout=5)[1]
        self.assertEqual(status, 200)
        # 16 MiB/s: four seconds, past --timeout (1 s) + the master's 2 s
        # grace; the pacing is the client's, not a wait for the server.
        rate, got, t0 = 16 * 1024 * 1024, len(c.buf), time.monotonic()
        c.buf = b''
        states = set()
        while got < BIG:
            data = c.sock.recv(65536)
            if not data:
                break
            got += len(data)
            if not states and got > BIG // 4:
                with Client(sport) as s:
                    s.send(request_bytes('GET', '/status?format=json'))
                    j = json.loads(s.read_response().body)
                states = {w['state'] for w in j['workers']}
            ahead = got / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
        elapsed = time.monotonic() - t0
        self.assertGreater(elapsed, 3.5, 'too fast to prove anything')
        self.assertEqual(got, BIG, 'the download was cut after %d bytes' % got)
        self.assertEqual(states, {'writing'}, 'the status page during the '
                         'download')
        self.assertNotRegex(srv.error_text(), r'stuck for|killed by')
        self.assertEqual(srv.worker_pids(), kids)

    def test_slow_upload_longer_than_timeout_arrives_whole(self):
        """The reading half of item 1: a body streamed to a handler for
        longer than --timeout + the master's grace is the client's time,
        not the handler's. The keeper's body buffering is off, so the
        worker reads it all itself (pfd_read in the echo module)."""
        size, rate = 1024 * 1024, 256 * 1024
        srv = self.start_server(['-w', '1', '--timeout', '1',
                                 '--buffer-body', '0',
                                 '--body-timeout', '10',
                                 '-m', '/echo=' + shipped_path('echo')])
        kids = self.ready(srv, 1)
        c = self.connect(srv, timeout=20)
        c.send(request_bytes('POST', '/echo',
                             [('Content-Length', str(size)),
                              ('Content-Type', 'application/x-test')]))
        piece = bytes(range(256)) * 64          # 16 KiB
        sent, echoed, t0 = 0, b'', time.monotonic()
        c.sock.setblocking(False)
        # 256 KiB/s: four seconds of body, past --timeout (1 s) + the
        # master's 2 s grace. The echo is read as it comes back, so
        # neither side's buffers fill.
        deadline = t0 + 20
        while sent < size and time.monotonic() < deadline:
            ahead = sent / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(min(ahead, 0.05))
                try:
                    echoed += c.sock.recv(1 << 20)
                except BlockingIOError:
                    pass
                continue
            c.sock.setblocking(True)
            c.sock.sendall(piece)
            c.sock.setblocking(False)
            sent += len(piece)
        c.sock.setblocking(True)
        c.sock.settimeout(10)
        elapsed = time.monotonic() - t0
        while not echoed.endswith(b'\r\n0\r\n\r\n'):
            data = c.sock.recv(1 << 20)
            if not data:
                break
            echoed += data
        self.assertGreater(elapsed, 3.5, 'too fast to prove anything')
        head, _, body = echoed.partition(b'\r\n\r\n')
        self.assertTrue(head.startswith(b'HTTP/1.1 200'), head[:200])
        # The chunked echo, decoded: every byte came back.
        out, rest = b'', body
        while True:
            line, _, rest = rest.partition(b'\r\n')
            n = int(line, 16)
            if n == 0:
                break
            out += rest[:n]
            rest = rest[n + 2:]
        self.assertEqual(len(out), size)
        self.assertEqual(out, piece * (size // len(piece)))
        self.assertNotRegex(srv.error_text(), r'stuck for|killed by|'
                            r'timed out')
        self.assertEqual(srv.worker_pids(), kids)

    # -- item 5: request crash vs boot failure; decoded exit codes --------

    def test_young_worker_death_is_replaced_at_once(self):
        srv = self.start_server(['-w', '1', '--timeout', '1',
                                 '-m', '/f=' + module_path('fault'),
                                 '-m', '/h=' + module_path('fault'),
                                 '--module-option', '/h mode hang'])
        (worker,) = self.ready(srv, 1)
        # A request that crashes a worker younger than a second.
        c = self.connect(srv)
        c.send(request_bytes('GET', '/f/crash'))
        r = c.read_response()
        self.assertEqual(r.status, 500, r)
        self.assertTrue(srv.wait_log(r'worker 1 \(pid %d\) killed by SIGSEGV'
                                     % worker))
        old = worker
        (worker,) = wait_for(lambda: [p for p in srv.worker_pids()
                                      if p != old], 5)
        # One that dies idle, young and unused, once it waits in accept.
        self.assertTrue(wait_for(lambda: in_accept(worker), 5),
                        'worker %d never reached accept()' % worker)
        os.kill(worker, signal.SIGKILL)
        self.assertTrue(srv.wait_log(r'worker 1 \(pid %d\) killed by SIGKILL'
                                     % worker))
        self.hello_ok(srv)
        # The handler timeout's code, decoded.
        c = self.connect(srv, timeout=8)
        c.send(request_bytes('GET', '/h/x'))
        self.assertEqual(c.read_response(timeout=8).status, 503)
        self.assertTrue(srv.wait_log(r'worker 1 \(pid \d+\) exited with code 4 '
                                     r'\(handler timeout\) while serving GET /h/x'),
                        srv.error_lines()[-10:])
        self.hello_ok(srv)
        self.assertNotRegex(srv.error_text(), r'backoff')

    def test_boot_failure_backs_off_with_decoded_code(self):
        srv = self.start_server(['-w', '1', '-m', '/f=' + module_path('fault'),
                                 '--module-option', '/f mode bootfail'])
        self.assertTrue(srv.wait_log(r'worker 1 \(pid \d+\) exited with code 3 '
                                     r'\(boot failure\)$'), srv.error_lines())
        self.assertTrue(srv.wait_log(r'workers die right after start: '
                                     r'respawning with backoff'))

    # -- item 9: workers follow a SIGKILLed master, also after -u ---------

    def test_master_sigkill_with_user_takes_every_child(self):
        srv = self.start_server(['-w', '3', '-u', 'nobody',
                                 '-l', '127.0.0.1:0',
                                 '--status-listen', '127.0.0.1:0'],
                                docroot=self.big_docroot())
        kids = self.ready(srv, 3, others=1)
        self.assertEqual(len(kids), 4, 'not 3 workers and the status process')
        for pid in kids:
            self.assertEqual(proc_uid(pid), NOBODY)
            # Dumpable again after the drop: /proc/PID is the process's.
            self.assertEqual(os.stat('/proc/%d' % pid).st_uid, NOBODY)
        self.hello_ok(srv)
        os.kill(srv.pid, signal.SIGKILL)
        srv.wait_exit(5)

        def gone():
            for pid in kids:
                st = proc_stat(pid)
                if st is not None and st[0] != 'Z':
                    return False
            return True
        ok = wait_for(gone, 1.0)
        left = srv.kill_leftovers()
        self.assertTrue(ok, 'children still alive 1 s after the master '
                        'died: %r' % left)

    # -- item 10: -u root -----------------------------------------------

    def test_user_root_serves_as_root(self):
        srv = self.start_server(['-w', '2', '-u', 'root'])
        workers = self.ready(srv, 2)
        for pid in workers:
            self.assertEqual(proc_uid(pid), 0)
        self.hello_ok(srv)
        self.assertEqual(srv.worker_pids(), workers)
        self.assertNotRegex(srv.error_text(), r'regain root|exited with code')

    # -- item 11: the module check -------------------------------------------

    def test_module_check_runs_as_the_worker_user(self):
        d = tempfile.mkdtemp(prefix='pfk-uid-')
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o777)
        uid_file = os.path.join(d, 'uid')
        rc, out, err = harness.run_cli(
            ['-t', '-u', 'nobody', '-l', '127.0.0.1:0',
             '-m', '/h=' + module_path('hanginit'),
             '--module-option', '/h uid-file ' + uid_file, self.root])
        self.assertEqual((rc, out.splitlines()[-1:]), (0, ['ok']), err)
        with open(uid_file) as f:
            self.assertEqual(int(f.read()), NOBODY)

    def test_hanging_module_init_is_bounded(self):
        conf = os.path.join(tempfile.mkdtemp(prefix='pfk-conf-'), 'p.conf')
        self.addCleanup(shutil.rmtree, os.path.dirname(conf), True)
        mod = 'module /h %s\n' % module_path('hanginit')
        with open(conf, 'w') as f:
            f.write(mod)
        srv = self.start_server(['-w', '1', '-c', conf])
        (worker,) = self.ready(srv, 1)
        with open(conf, 'w') as f:
            f.write(mod + 'module-option /h hang yes\n')
        mark = len(srv.error_lines())
        # -t and the reload wait out the same limit side by side.
        t0 = time.monotonic()
        check = subprocess.Popen([harness.PREFORKD, '-t', '-c', conf,
                                  '-l', '127.0.0.1:0', self.root],
                                 stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        srv.send_signal(signal.SIGHUP)
        try:
            out, err = check.communicate(timeout=14)
        except subprocess.TimeoutExpired:
            # Its probe child holds the pipes too: stop both by PID.
            for pid in [check.pid] + list(harness.children_of(check.pid)):
                os.kill(pid, signal.SIGKILL)
            check.communicate()
            self.fail('preforkd -t still runs after 14 s')
        elapsed = time.monotonic() - t0
        self.assertNotEqual(check.returncode, 0)
        lines = err.decode().strip().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r'^preforkd: module check: module \S*'
                         r'hanginit\.so \(/h\) did not finish loading within '
                         r'\d+ s: killed$')
        self.assertLess(elapsed, 13)
        self.assertTrue(srv.wait_log(r'reload failed, generation 1 keeps '
                                     r'serving: module check: module \S*'
                                     r'hanginit\.so \(/h\) did not finish',
                                     timeout=14 - (time.monotonic() - t0),
                                     start=mark), srv.error_lines()[mark:])
        c = self.connect(srv)
        c.send(request_bytes('GET', '/h'))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b'hanginit ok\n'))
        self.assertEqual(srv.worker_pids(), [worker])
        # Still supervising: a dead worker is replaced, TTIN is obeyed.
        os.kill(worker, signal.SIGKILL)
        self.assertTrue(srv.wait_log(r'worker 1 started', start=mark, timeout=5))
        srv.send_signal(signal.SIGTTIN)
        self.assertTrue(srv.wait_log(r'SIGTTIN: 2 workers wanted', start=mark,
                                     timeout=5))
        self.assertEqual(len(srv.wait_workers(2)), 2)

    # -- item 14: what a reload applies to kept listeners -------------------

    def test_reload_applies_timeouts_and_backlog_names_the_rest(self):
        tmp = tempfile.mkdtemp(prefix='pfk-conf-')
        self.addCleanup(shutil.rmtree, tmp, True)
        conf = os.path.join(tmp, 'p.conf')
        pid1, pid2 = os.path.join(tmp, 'one.pid'), os.path.join(tmp, 'two.pid')
        with open(conf, 'w') as f:
            f.write('write-timeout 30\nbacklog 100\npid-file %s\n' % pid1)
        srv = self.start_server(['-w', '1', '-c', conf],
                                docroot=self.big_docroot())
        self.ready(srv, 1)
        self.assertEqual(backlog_of(srv.port), 100)
        with open(conf, 'w') as f:
            f.write('write-timeout 1\nbacklog 37\npid-file %s\nuser nobody\n'
                    'status-listen 127.0.0.1:0\n' % pid2)
        mark = len(srv.error_lines())
        srv.send_signal(signal.SIGHUP)
        self.assertTrue(srv.wait_log(r'generation 2 serving', start=mark),
                        srv.error_lines()[mark:])
        self.assertTrue(srv.wait_log(r'exited with code 0', start=mark))
        line = srv.wait_log(r'reload: (.*) needs? a restart to change; kept '
                            r'as before$', start=mark)
        self.assertTrue(line, srv.error_lines()[mark:])
        self.assertEqual(line.group(1), 'user, pid-file, status-listen')
        self.assertEqual(backlog_of(srv.port), 37)
        self.assertTrue(os.path.exists(pid1))
        self.assertFalse(os.path.exists(pid2))
        for pid in srv.worker_pids():
            self.assertEqual(proc_uid(pid), 0)
        # A client that does not read a download holds the one worker
        # only for the new write timeout (1 s, was 30 s).
        stall = self.connect(srv, rcvbuf=4096)
        stall.send(request_bytes('GET', '/big.bin'))
        self.hello_ok(srv, timeout=6)


if __name__ == '__main__':
    harness.main()
