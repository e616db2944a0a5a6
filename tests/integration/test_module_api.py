"""The module API's edges (review #10): what the server refuses from a
module, what a hijacking module owns, and the --timeout handler's Date.

Test-only modules come from --modules-dir (tests/modules/: fault, hijack,
respcheck); see each .c file for what it does.
"""

import os
import re
import select
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import (ServerTestCase, ClosedError, request_bytes,  # noqa: E402
                     IMF_FIXDATE_RE)


def module_path(name):
    """Path of a test-only module (tests/modules/NAME.c)."""
    return os.path.join(harness.module_dirs()[0], name + '.so')


class ModuleApiTestCase(ServerTestCase):

    def start_ready(self, args, nworkers=1, **kw):
        srv = self.start_server(args, **kw)
        self.assertTrue(srv.wait_log(r'ready: %d workers' % nworkers),
                        'no "ready: %d workers" line' % nworkers)
        pids = srv.wait_workers(nworkers)
        self.assertEqual(len(pids), nworkers, 'children: %r' % pids)
        return srv, pids


# --------------------------------------------------------------------------
# The timeout handler formats its own Date (review #10 item 6).

class TimeoutDate(ModuleApiTestCase):

    def test_timeout_while_module_holds_the_time_zone_lock_answers_503(self):
        # fault's tzlock mode calls tzset() in a loop, so the timer fires
        # with libc's time zone lock held: a handler that called gmtime_r
        # then would deadlock until the master's kill, and the client
        # would get no 503. Three rounds, each on a fresh worker.
        srv, _ = self.start_ready([
            '-w', '1', '--timeout', '1', '-m', '/f=' + module_path('fault'),
            '--module-option', '/f mode tzlock'])
        for i in range(3):
            (worker,) = srv.wait_workers(1)
            mark = len(srv.error_lines())
            c = self.connect(srv, timeout=10)
            t0 = time.monotonic()
            c.send(request_bytes('GET', '/f/tz'))
            try:
                r = c.read_response(timeout=8)
            except ClosedError:
                self.fail('round %d: closed without a 503 after %.2f s: %r' % (
                    i, time.monotonic() - t0, srv.error_lines()[mark:]))
            self.assertEqual(r.status, 503, r)
            self.assertRegex(r.header('Date') or '', IMF_FIXDATE_RE)
            self.assert_common(r)
            self.assertTrue(r.has_token('Connection', 'close'), r)
            self.assertTrue(srv.wait_log(
                r'worker 1 \(pid %d\) exited with code 4\b' % worker, start=mark),
                'round %d: no "exited with code 4": %r' % (i, srv.error_lines()[mark:]))
            self.assertTrue(srv.wait_log(r'handler timed out \(--timeout\)', start=mark))
            self.assertNotRegex('\n'.join(srv.error_lines()[mark:]),
                                r'stuck for \d+ ms', 'the master had to kill it')
            c.close()



# --------------------------------------------------------------------------
# A hijacked connection is the module's, time included (item 8).

class HijackTime(ModuleApiTestCase):

    def test_hijack_open_past_timeout_gets_no_503_and_worker_survives(self):
        srv, (worker,) = self.start_ready([
            '-w', '1', '--timeout', '1', '-m', '/hj=' + module_path('hijack')])
        mark = len(srv.error_lines())
        c = self.connect(srv, timeout=10)
        c.send(request_bytes('GET', '/hj') + b'one\n')
        self.assertEqual(c._read_until(b'\n', time.monotonic() + 5), b'echo: one\n')
        # Past --timeout and the master's 2 s grace: nothing may arrive
        # (a 503 would be written into the stream) and nobody may close.
        held = 3.5
        ready, _, _ = select.select([c.sock], [], [], held)
        got = c.sock.recv(4096) if ready else None
        self.assertIsNone(got, 'bytes or a close during the hijack')
        c.send(b'two\n')
        self.assertEqual(c._read_until(b'\n', time.monotonic() + 5), b'echo: two\n')
        c.send(b'quit\n')
        data, closed = c.read_all_until_close(5)
        self.assertEqual((data, closed), (b'bye\n', True))
        self.assertEqual(self.get('/hello.txt', srv=srv).status, 200)
        self.assertEqual(srv.worker_pids(), [worker])
        new = srv.error_lines()[mark:]
        self.assertEqual([l for l in new if re.search(
            r'timed out|stuck for|exited with|killed by', l)], [], new)


if __name__ == '__main__':
    harness.main()
