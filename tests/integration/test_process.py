"""Process model, supervision and shutdown signals (SPEC sections 1, 3, 4)."""

import hashlib
import os
import signal
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import ServerTestCase, request_bytes, socket_count, wait_for


class Processes(ServerTestCase):

    def try_request(self, srv):
        """One GET on a fresh connection; True when it got 200 Hello."""
        try:
            with srv.connect(timeout=2) as c:
                c.send(request_bytes('GET', '/hello.txt', [('Connection', 'close')]))
                r = c.read_response(timeout=2)
                return r.status == 200 and r.body == b'Hello, World!'
        except (OSError, AssertionError):
            return False

    def wait_accepted(self, srv, worker, base):
        """Waits until worker holds one socket more than base (it accepted),
        or the keeper holds it (a partial first head is parked there)."""
        def taken():
            keeper = srv.keeper_pid()
            return ((socket_count(worker) or 0) > base or
                    (keeper is not None and (socket_count(keeper) or 0) > 1))
        self.assertTrue(wait_for(taken, 5),
                        'worker %d never accepted the connection' % worker)

    def assert_all_gone(self, srv, timeout=5):
        wait_for(lambda: not srv.leftover_pids(), timeout)
        self.assertEqual(srv.leftover_pids(), [],
                         'workers still running after the master exited')

    # -- process model ------------------------------------------------------

    def test_workers_flag_gives_that_many_children(self):
        srv, pids = self.start_ready(['-w', '2'], 2)
        self.assertEqual(len(pids), 2)
        self.assertNotIn(srv.pid, pids)
        self.assertTrue(self.try_request(srv))

    def test_killed_worker_is_replaced_and_requests_succeed(self):
        srv, pids = self.start_ready(['-w', '2'], 2)
        for _ in range(5):
            self.assertTrue(self.try_request(srv))
        victim = pids[0]
        os.kill(victim, signal.SIGKILL)
        # A client keeps making requests (some may fail while the victim
        # dies) until the master has two live workers again.
        deadline = time.monotonic() + 10
        replaced = False
        while time.monotonic() < deadline:
            self.try_request(srv)
            now = srv.worker_pids()
            if len(now) == 2 and victim not in now:
                replaced = True
                break
        self.assertTrue(replaced, 'no replacement: children %r' % srv.worker_pids())
        new = set(srv.worker_pids()) - set(pids)
        self.assertEqual(len(new), 1, 'expected one new pid, got %r' % srv.worker_pids())
        self.assertTrue(srv.wait_log(r'worker \d+ \(pid %d\) killed by SIGKILL' % victim),
                        'no "killed by SIGKILL" line for pid %d' % victim)
        self.assertTrue(srv.wait_log(r'worker \d+ started \(pid %d, gen \d+\)'
                                     % new.pop()), 'no "started" line for the replacement')
        for i in range(20):
            self.assertTrue(self.try_request(srv), 'request %d after replacement' % i)

    def test_no_zombie_after_worker_killed(self):
        srv, pids = self.start_ready(['-w', '2'], 2)
        os.kill(pids[1], signal.SIGKILL)
        self.assertTrue(wait_for(lambda: pids[1] not in srv.children(), 5),
                        'killed worker %d not reaped: %r' % (pids[1], srv.children()))
        self.assertEqual(srv.zombies(), [])
        srv.wait_workers(2)
        self.assertEqual(srv.zombies(), [])

    # -- graceful shutdown --------------------------------------------------

    def test_term_idle_server_exits_zero_and_workers_gone(self):
        srv, pids = self.start_ready(['-w', '2'], 2)
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait_exit(10)
        self.assertEqual(rc, 0, 'master exit code after TERM')
        self.assert_all_gone(srv)
        self.assertTrue(srv.wait_log(r'graceful shutdown \(SIGTERM\)', 1))
        self.assertTrue(srv.wait_log(r'master pid=%d: exiting' % srv.pid, 1))

    def test_term_finishes_request_with_partial_head(self):
        srv, (worker,) = self.start_ready(['-w', '1', '--graceful-timeout', '10'], 1)
        base = socket_count(worker)
        c = self.connect(srv, timeout=10)
        c.send(b'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n')
        self.wait_accepted(srv, worker, base)
        srv.send_signal(signal.SIGTERM)
        self.assertTrue(srv.wait_log(r'graceful shutdown \(SIGTERM\)', 5))
        self.assertTrue(srv.alive(), 'master exited with a request in flight')
        c.send(b'X-Late: yes\r\n\r\n')
        r = c.read_response(timeout=10)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b'Hello, World!')
        self.assertTrue(r.has_token('Connection', 'close'),
                        'in-flight response during shutdown lacks Connection: close: %r' % r)
        self.assert_closed(c)
        self.assertEqual(srv.wait_exit(10), 0, 'master exit code after TERM')
        self.assert_all_gone(srv)

    def test_term_finishes_slow_large_download(self):
        srv, (worker,) = self.start_ready(['-w', '1', '--graceful-timeout', '15'], 1)
        c = self.connect(srv, timeout=20, rcvbuf=4096)
        c.send(request_bytes('GET', '/1m.bin'))
        version, status, reason, headers, raw = c.read_head(timeout=10)
        self.assertEqual(status, 200)
        length = int(dict((k.lower(), v) for k, v in headers)['content-length'])
        self.assertEqual(length, 1024 * 1024)
        # The client has read only the head; the worker is writing.
        srv.send_signal(signal.SIGTERM)
        self.assertTrue(srv.wait_log(r'graceful shutdown \(SIGTERM\)', 5))
        deadline = time.monotonic() + 20
        body = c._read_exact(length, deadline)
        self.assertEqual(hashlib.sha256(body).hexdigest(), self.files['1m.sha256'])
        self.assert_closed(c, timeout=10)
        self.assertEqual(srv.wait_exit(10), 0, 'master exit code after TERM')
        self.assert_all_gone(srv)

    def test_term_closes_idle_keepalive_connection(self):
        srv, (worker,) = self.start_ready(['-w', '1', '--idle-timeout', '30'], 1)
        c = self.connect(srv, timeout=10)
        c.send(request_bytes('GET', '/hello.txt'))
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertFalse(r.has_token('Connection', 'close'))
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        self.assertTrue(c.is_closed(5), 'idle keep-alive connection kept open '
                        'during graceful shutdown')
        self.assertEqual(srv.wait_exit(10), 0)
        self.assertLess(time.monotonic() - t0, 5,
                        'shutdown waited for the idle timeout (30 s)')
        self.assert_all_gone(srv)

    def test_quit_is_graceful_and_exits_zero(self):
        srv, pids = self.start_ready(['-w', '2'], 2)
        srv.send_signal(signal.SIGQUIT)
        self.assertEqual(srv.wait_exit(10), 0, 'master exit code after QUIT')
        self.assert_all_gone(srv)
        self.assertTrue(srv.wait_log(r'graceful shutdown \(SIGQUIT\)', 1))

    def test_term_serves_connection_waiting_in_accept_queue(self):
        srv, (worker,) = self.start_ready(['-w', '1', '--graceful-timeout', '10'], 1)
        base = socket_count(worker)
        a = self.connect(srv, timeout=10)
        a.send(b'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n')
        self.wait_accepted(srv, worker, base)
        # b waits in the accept queue behind a (one worker).
        b = self.connect(srv, timeout=10)
        b.send(request_bytes('GET', '/1k.bin'))
        srv.send_signal(signal.SIGTERM)
        self.assertTrue(srv.wait_log(r'graceful shutdown \(SIGTERM\)', 5))
        a.send(b'\r\n')
        ra = a.read_response(timeout=10)
        self.assertEqual(ra.status, 200, ra)
        self.assert_closed(a)
        try:
            rb = b.read_response(timeout=10)
        except harness.ClosedError as e:
            self.fail('connection waiting in the accept queue at TERM was closed '
                      'without a response (%s)' % e)
        self.assertEqual(rb.status, 200, 'queued connection not served: %r' % rb)
        self.assertEqual(rb.body, self.files['1k.bin'])
        self.assertTrue(rb.has_token('Connection', 'close'), rb)
        self.assertEqual(srv.wait_exit(10), 0)
        self.assert_all_gone(srv)

    def test_term_kills_request_past_graceful_timeout(self):
        srv, (worker,) = self.start_ready(
            ['-w', '1', '--header-timeout', '30', '--graceful-timeout', '1'], 1)
        base = socket_count(worker)
        c = self.connect(srv, timeout=10)
        c.send(b'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n')
        self.wait_accepted(srv, worker, base)
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait_exit(8)
        elapsed = time.monotonic() - t0
        self.assertIsNotNone(rc, 'master still running 8 s after TERM '
                             'with --graceful-timeout 1')
        self.assertEqual(rc, 0)
        self.assertGreaterEqual(elapsed, 0.8, 'did not wait for the in-flight request')
        self.assertLess(elapsed, 4.0)
        self.assert_all_gone(srv)

    def test_int_during_graceful_shutdown_escalates(self):
        srv, (worker,) = self.start_ready(
            ['-w', '1', '--header-timeout', '30', '--graceful-timeout', '30'], 1)
        base = socket_count(worker)
        c = self.connect(srv, timeout=10)
        c.send(b'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n')
        self.wait_accepted(srv, worker, base)
        srv.send_signal(signal.SIGTERM)
        self.assertTrue(srv.wait_log(r'graceful shutdown \(SIGTERM\)', 5))
        self.assertTrue(srv.alive())
        t0 = time.monotonic()
        srv.send_signal(signal.SIGINT)
        rc = srv.wait_exit(6)
        self.assertIsNotNone(rc, 'master still running 6 s after TERM then INT')
        self.assertLess(time.monotonic() - t0, 3.5)
        self.assert_all_gone(srv, timeout=2)

    # -- fast shutdown --------------------------------------------------------

    def test_int_exits_fast_with_connection_in_flight(self):
        srv, (worker,) = self.start_ready(
            ['-w', '1', '--header-timeout', '30', '--graceful-timeout', '30'], 1)
        base = socket_count(worker)
        c = self.connect(srv, timeout=10)
        c.send(b'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n')
        self.wait_accepted(srv, worker, base)
        t0 = time.monotonic()
        srv.send_signal(signal.SIGINT)
        rc = srv.wait_exit(6)
        elapsed = time.monotonic() - t0
        self.assertIsNotNone(rc, 'master still running 6 s after INT')
        self.assertLess(elapsed, 3.5, 'INT took %.1f s' % elapsed)
        self.assert_all_gone(srv, timeout=2)
        self.assertTrue(srv.wait_log(r'fast shutdown \(SIGINT\)', 1))
        self.assertTrue(c.is_closed(3), 'client connection survived INT')

    def test_int_idle_server_exits_and_workers_gone(self):
        srv, pids = self.start_ready(['-w', '2'], 2)
        t0 = time.monotonic()
        srv.send_signal(signal.SIGINT)
        rc = srv.wait_exit(6)
        self.assertIsNotNone(rc, 'master still running 6 s after INT')
        self.assertLess(time.monotonic() - t0, 3.5)
        self.assert_all_gone(srv, timeout=2)


if __name__ == '__main__':
    harness.main()
