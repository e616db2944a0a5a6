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
from harness import ClosedError, request_bytes, IMF_FIXDATE_RE  # noqa: E402
# The module tests' helpers (start_ready, module_path), not a sixth copy.
from test_modules import ModuleTestCase as ModuleApiTestCase, module_path  # noqa: E402


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



# --------------------------------------------------------------------------
# What pfd_add_header and pfd_set_status refuse (item 17).

REFUSED = [
    'Content-Length', 'content-length', 'Transfer-Encoding',
    'TRANSFER-ENCODING', 'Connection', 'connection',
    'name with space', 'name with colon', 'name with slash',
    'name with parenthesis', 'name with quote', 'name with tab',
    'name with CR', 'name with 8-bit byte', 'empty name',
    'value with CRLF', 'value with LF', 'value with CR', 'value with SOH',
    'value with DEL',
    'status 100', 'status 101', 'status 199', 'status 600', 'status 999',
    'status 1000',
]
ACCEPTED = [
    'token name', 'value with tab', 'value with 8-bit bytes', 'empty value',
    'Content-Type', 'status 599', 'status 200',
]


class ResponseChecks(ModuleApiTestCase):

    @classmethod
    def setUpClass(cls):
        # module_path() is known only once main() has read its options.
        # how=file sends from /proc/self/exe, opened per request: the
        # module declares it for the sandbox.
        cls.server_args = ['-w', '1', '-m', '/r=' + module_path('respcheck'),
                           '--module-option', '/r sandbox-read ' +
                           os.path.realpath(harness.PREFORKD)]
        super().setUpClass()

    def test_bad_fields_and_statuses_refused_good_ones_accepted(self):
        r = self.get('/r/fields')
        self.assertEqual(r.status, 200, r)
        got = {}
        for line in r.body.decode('latin-1').splitlines():
            rc, _, label = line.partition(' ')
            if rc == '-1':
                err, _, label = label.partition(' ')
                rc = '-1 ' + err
            got[label] = rc
        self.assertEqual(sorted(got), sorted(REFUSED + ACCEPTED), r.body)
        for label in REFUSED:
            self.assertEqual(got[label], '-1 EINVAL', label)
        for label in ACCEPTED:
            self.assertEqual(got[label], '0', label)
        # The server's framing is the only one, and nothing got in.
        self.assertEqual(r.header_all('Content-Length'), [str(len(r.body))])
        self.assertEqual(r.header_all('Transfer-Encoding'), [])
        self.assertEqual(r.header_all('Connection'), [])
        self.assertEqual(r.header_all('X-Bad'), [])
        self.assertEqual(r.header_all('Injected'), [])
        self.assertEqual(r.header('X-Token!#$%&\'*+-.^_`|~09'), 'ok')
        self.assertEqual(r.header('X-Tab'), 'a\tb')
        self.assertEqual(r.header('X-Obs'), 'caf\xc3\xa9')
        self.assertEqual(r.header_all('X-Empty'), [''])

    def check_nobody(self, status, how):
        c = self.connect()
        c.send(request_bytes('GET', '/r/nobody?status=%d&how=%s' % (status, how)))
        r = c.read_response()
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.header('X-Result'), '-1 EINVAL', r)
        self.assertIsNone(r.header('Transfer-Encoding'), r)
        self.assertIsNone(r.header('Content-Length'), r)
        # No stray body: the next response on the connection parses.
        c.send(request_bytes('GET', '/r/fields'))
        r2 = c.read_response()
        self.assertEqual(r2.status, 200, r2)
        self.assertTrue(r2.body.startswith(b'-1 EINVAL Content-Length\n'), r2)

    def test_body_on_204_refused(self):
        for how in ('send', 'write', 'file', 'length'):
            with self.subTest(how=how):
                self.check_nobody(204, how)

    def test_body_on_304_refused(self):
        for how in ('send', 'write', 'file', 'length'):
            with self.subTest(how=how):
                self.check_nobody(304, how)



# --------------------------------------------------------------------------
# Module fields never overflow the response head (item 15).

class HeadSize(ModuleApiTestCase):

    def many(self, srv, c, n, length):
        """GET /r/many: returns (response, {index: result})."""
        c.send(request_bytes('GET', '/r/many?n=%d&len=%d' % (n, length)))
        r = c.read_response()
        results = {}
        if r.status == 200:
            for line in r.body.decode().splitlines():
                rc, _, i = line.rpartition(' ')
                results[int(i)] = rc
        return r, results

    def assert_intact_or_500(self, srv, mark, r, results, n, length):
        """Every accepted field arrived whole, the refused ones not at all;
        or the response is a 500 and the error log says why."""
        if r.status == 500:
            self.assertTrue(srv.wait_log(r'response head .* answered 500', start=mark),
                            srv.error_lines()[mark:])
            return []
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(results), list(range(n)), r.body)
        accepted = [i for i in range(n) if results[i] == '0']
        for i in range(n):
            want = [chr(ord('a') + i % 26) * length] if i in accepted else []
            self.assertEqual(r.header_all('X-Many-%d' % i), want, i)
            if i not in accepted:
                self.assertEqual(results[i], '-1 ENOSPC', i)
        return accepted

    def test_many_module_fields_with_smallest_max_header_size(self):
        srv, _ = self.start_ready(['-w', '1', '--max-header-size', '256',
                                   '-m', '/r=' + module_path('respcheck')])
        mark = len(srv.error_lines())
        c = self.connect(srv)
        r, results = self.many(srv, c, 40, 100)
        accepted = self.assert_intact_or_500(srv, mark, r, results, 40, 100)
        self.assertLess(len(accepted), 40, 'the 256-byte budget did not bind')
        if r.status == 200:
            # The first ones fit, then nothing more: fields are not reordered.
            self.assertEqual(accepted, list(range(len(accepted))))
            self.assertGreaterEqual(len(accepted), 1)
            # A field bigger than the whole budget alone, on the same
            # connection: refused, and the response is whole.
            r, results = self.many(srv, c, 1, 300)
            self.assertEqual(self.assert_intact_or_500(srv, mark, r, results, 1, 300), [])
            self.assertEqual(results, {0: '-1 ENOSPC'})
            self.assertEqual(self.get('/hello.txt', srv=srv).status, 200)


if __name__ == '__main__':
    harness.main()
