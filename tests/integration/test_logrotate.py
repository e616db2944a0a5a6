"""Log files through the real binary: USR1 after a logrotate-style move with
workers running as another user (-u), the status process's role in the
error log, and --log-level.

The crashing request comes from the test-only module tests/modules/fault.c
(mode segv), found through --modules-dir.
"""

import os
import pwd
import re
import signal
import socket
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import (ServerTestCase, Server, LOG_LINE_RE,  # noqa: E402
                     request_bytes, wait_for)


def fault_args():
    """Mounts the fault module at /f: /f/crash kills its worker."""
    return ['-m', '/f=' + os.path.join(harness.module_dirs()[0], 'fault.so'),
            '--module-option', '/f mode segv']


def file_size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return None


class LogTestCase(ServerTestCase):

    def start_in(self, args, dir_mode=None, **kw):
        """start_server, but dir_mode (e.g. 0o755) is given to the server's
        temp dir, where its logs are, before it starts."""
        srv = Server()
        self.addCleanup(srv.cleanup)
        self._servers.append(srv)
        if dir_mode is not None:
            os.chmod(srv.tmp, dir_mode)
        srv.start(list(args), self.root, **kw)
        return srv

    def wait_lines(self, srv, pattern, n, start=0, timeout=10.0):
        """Waits for n error-log lines (from index start) matching pattern;
        returns them."""
        rx = re.compile(pattern)

        def found():
            got = [l for l in srv.error_lines()[start:] if rx.search(l)]
            return got if len(got) >= n else None
        got = wait_for(found, timeout)
        self.assertTrue(got, 'not %d lines matching %r in %r' % (
            n, pattern, srv.error_lines()[start:]))
        return got

    def get_hello(self, srv):
        r = self.get('/hello.txt', srv=srv)
        self.assertEqual(r.status, 200)


class Rotation(LogTestCase):

    def test_usr1_after_move_reopens_in_workers_running_as_user(self):
        if os.geteuid() != 0:
            self.skipTest('needs root (-u nobody)')
        nobody = pwd.getpwnam('nobody')
        # The workers read the document root as nobody; the log dir stays
        # root's (0755): they cannot create files in it.
        os.chmod(self.root, 0o755)
        srv = self.start_in(['-u', 'nobody', '-w', '2', '--log-level',
                             'debug', '--status-listen', '127.0.0.1:0']
                            + fault_args(), dir_mode=0o755)
        self.assertTrue(srv.wait_log(r'ready: 2 workers'), srv.error_lines())
        self.assertTrue(srv.wait_log(r'status process started'))
        self.get_hello(srv)
        srv.wait_access_lines(1)
        old_error = srv.error_log + '.1'
        old_access = srv.access_log + '.1'
        os.rename(srv.error_log, old_error)
        os.rename(srv.access_log, old_access)
        os.kill(srv.pid, signal.SIGUSR1)
        # Each process answers, wherever its lines go: the master at info,
        # the two workers and the status process at debug (or a warning
        # that they could not), and all say so in the new file.
        rx = re.compile(r' (?:master|status|worker \d+) pid=\d+: '
                        r'(?:logs reopened|reopening logs)')

        def answers():
            got = [l for l in harness.Server._read(old_error).splitlines()
                   + srv.error_lines() if rx.search(l)]
            return got if len(got) >= 4 else None
        got = wait_for(answers, 10)
        self.assertTrue(got, 'not 4 answers in %r nor in %r' % (
            srv.error_lines(), harness.Server._read(old_error).splitlines()))
        self.assertEqual(sorted(re.sub(r'^\S+ (\w+) (\w+)(?: \d+)? pid=\d+: ',
                                       r'\1 \2: ', l) for l in got),
                         ['debug status: logs reopened',
                          'debug worker: logs reopened',
                          'debug worker: logs reopened',
                          'info master: logs reopened'], got)
        self.wait_lines(srv, r' debug worker \d+ pid=\d+: logs reopened$', 2)
        self.wait_lines(srv, r' debug status pid=\d+: logs reopened$', 1)
        for path in (srv.error_log, srv.access_log):
            self.assertEqual(os.stat(path).st_uid, nobody.pw_uid,
                             '%s not given to the workers\' user' % path)
        sizes = (file_size(old_error), file_size(old_access))
        for _ in range(6):
            self.get_hello(srv)
        lines = srv.wait_access_lines(6)
        self.assertEqual(len(lines), 6, lines)
        # A worker writes to the new error log too: its crash report.
        c = self.connect(srv)
        c.send(request_bytes('GET', '/f/crash', [('Connection', 'close')]))
        c.read_all_until_close()
        self.wait_lines(srv, r' error worker \d+ pid=\d+: crashed with '
                        r'SIGSEGV', 1)
        self.wait_lines(srv, r'killed by SIGSEGV', 1)
        self.get_hello(srv)
        srv.stop()
        self.assertEqual((file_size(old_error), file_size(old_access)), sizes,
                         'the moved files still grow')
        self.assertFalse([l for l in srv.error_lines() if 'reopening' in l],
                         srv.error_lines())


    def test_usr1_without_move_keeps_root_owned_files_quietly(self):
        if os.geteuid() != 0:
            self.skipTest('needs root (-u nobody)')
        os.chmod(self.root, 0o755)
        srv = Server()
        self.addCleanup(srv.cleanup)
        self._servers.append(srv)
        os.chmod(srv.tmp, 0o755)
        # Left by an earlier run as root: the workers cannot open them.
        for path in (srv.error_log, srv.access_log):
            with open(path, 'w'):
                pass
            os.chmod(path, 0o644)
        srv.start(['-u', 'nobody', '-w', '2', '--log-level', 'debug'],
                  self.root)
        self.assertTrue(srv.wait_log(r'ready: 2 workers'), srv.error_lines())
        mark = len(srv.error_lines())
        os.kill(srv.pid, signal.SIGUSR1)
        rx = r' worker \d+ pid=\d+: (?:logs reopened|reopening logs)'
        got = self.wait_lines(srv, rx, 2, start=mark)
        self.assertEqual([l for l in got if 'logs reopened' not in l], [])
        self.get_hello(srv)
        self.assertEqual(len(srv.wait_access_lines(1)), 1)


class Roles(LogTestCase):

    def test_status_process_logs_as_status(self):
        srv = self.start_in(['-w', '1', '--log-level', 'debug',
                             '--status-listen', '127.0.0.1:0'])
        m = srv.wait_log(r'status process started \(pid (\d+)\)')
        self.assertTrue(m, srv.error_lines())
        mark = len(srv.error_lines())
        os.kill(srv.pid, signal.SIGUSR1)
        self.wait_lines(srv, r'^\S+ debug status pid=%s: logs reopened$'
                        % m.group(1), 1, start=mark)
        for line in srv.error_lines():
            self.assertRegex(line, LOG_LINE_RE)


class Level(LogTestCase):

    def test_log_level_debug_shows_and_warn_hides(self):
        srv = self.start_in(['-w', '2', '--log-level', 'debug'])
        self.assertTrue(srv.wait_log(r'ready: 2 workers'))
        os.kill(srv.pid, signal.SIGUSR1)
        self.wait_lines(srv, r' debug worker \d+ pid=\d+: logs reopened$', 2)

        # warn: not even "listening on" (info): wait on the socket itself.
        srv = Server()
        self.addCleanup(srv.cleanup)
        self._servers.append(srv)
        path = os.path.join(srv.tmp, 's.sock')
        srv.start(['-l', 'unix:' + path, '-w', '1', '--log-level', 'warn']
                  + fault_args(), self.root, listen=False, wait=False)

        def ask(target):
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(harness.IO_TIMEOUT)
                    s.connect(path)
                    s.sendall(request_bytes('GET', target,
                                            [('Connection', 'close')]))
                    data = b''
                    while True:
                        got = s.recv(65536)
                        if not got:
                            return data
                        data += got
            except OSError:
                return None
        self.assertTrue(wait_for(lambda: ask('/hello.txt'), 10),
                        'no answer on %s: %r' % (path, srv.error_lines()))
        self.assertIsNotNone(ask('/f/crash'))
        self.wait_lines(srv, r' warn master pid=\d+: worker \d+ .*killed by '
                        r'SIGSEGV', 1)
        self.assertTrue(wait_for(lambda: (ask('/hello.txt') or b'')
                                 .startswith(b'HTTP/1.1 200'), 10))
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(srv.wait_exit(10), 0)
        shown = [l for l in srv.error_lines() if LOG_LINE_RE.match(l)]
        self.assertTrue(shown)
        self.assertFalse([l for l in shown
                          if LOG_LINE_RE.match(l).group(2) in ('debug', 'info')],
                         shown)


if __name__ == '__main__':
    harness.main()
