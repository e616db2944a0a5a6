"""Keep-alive connections across a worker's retirement, and the last
handshakes of a stop.

- A worker retired by a reload (HUP) or TTOU hands its kept-alive
  connection to the keeper after its last response instead of closing
  it, and parks an idle one at once: a client (or a balancer's pooled
  connection) never sees Connection: close or a close from a reload, so
  no request of it can cross a close. (A recycling worker's last response
  still says Connection: close, as SPEC 4 asks; test_supervision.)
- A stop (TERM, no drain delay) waits a moment on the closing listeners:
  a client whose handshake completed before the stop but whose request
  arrives a little later (TCP_DEFER_ACCEPT keeps such a connection out of
  the accept queue until then) is answered, not reset.
"""

import os
import re
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import ServerTestCase, request_bytes, wait_for  # noqa: E402


class Steady:
    """nconn clients, each sending GET /hello.txt on one kept-alive
    connection every pause seconds until stop() (bounded by max_seconds);
    records every response and whether the server ever closed."""

    def __init__(self, tc, srv, nconn, pause, max_seconds=20.0):
        self.clients = [tc.connect(srv) for _ in range(nconn)]
        self.pause = pause
        self.max_seconds = max_seconds
        self.ok = [0] * nconn
        self.problems = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,),
                                          daemon=True) for i in range(nconn)]

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def _run(self, i):
        c = self.clients[i]
        end = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < end:
            try:
                c.send(request_bytes('GET', '/hello.txt'))
                r = c.read_response(timeout=5)
            except (AssertionError, OSError) as e:
                self.problems.append('client %d after %d: %s' % (i, self.ok[i], e))
                return
            if r.status != 200 or r.has_token('Connection', 'close'):
                self.problems.append('client %d after %d: %d %s' % (
                    i, self.ok[i], r.status, r.header('Connection')))
                return
            self.ok[i] += 1
            if self.pause:
                time.sleep(self.pause)

    def total(self):
        return sum(self.ok)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(10)


class Retire(ServerTestCase):

    def run_across(self, srv, pauses, action):
        """Clients with these pauses between requests run while action()
        happens; none may see a close or a Connection: close."""
        loads = [Steady(self, srv, 2, p) for p in pauses]
        for ld in loads:
            ld.start()
            self.addCleanup(ld.stop)
        self.assertTrue(wait_for(lambda: all(ld.total() >= 5 for ld in loads), 10),
                        'the clients did not get going')
        action()
        base = [ld.total() for ld in loads]
        self.assertTrue(wait_for(lambda: all(ld.total() >= b + 5 or ld.problems
                                             for ld, b in zip(loads, base)), 10))
        for ld in loads:
            ld.stop()
        problems = [p for ld in loads for p in ld.problems]
        self.assertEqual(problems, [], 'connections closed on the clients')

    def test_reload_keeps_kept_alive_connections(self):
        srv, _ = self.start_ready(['-w', '2', '--keepalive-requests', '1000000'], 2)

        def reload_twice():
            for gen in (2, 3):
                mark = len(srv.error_lines())
                srv.send_signal(signal.SIGHUP)
                self.assertTrue(srv.wait_log(r'reload: generation %d serving' % gen,
                                             start=mark))
                # The retired workers are gone: their connections moved.
                self.assertTrue(srv.wait_log(r'exited with code 0', start=mark))
                self.assertTrue(wait_for(lambda: len(srv.worker_pids()) == 2, 10))
        # Back to back (each connection busy in a worker), and with pauses
        # long enough that a worker holds the connection idle when told.
        self.run_across(srv, [0, 0.05, 0.2], reload_twice)

    def test_ttou_keeps_kept_alive_connections(self):
        srv, _ = self.start_ready(['-w', '3', '--keepalive-requests', '1000000'], 3)

        def ttou_twice():
            for n in (2, 1):
                mark = len(srv.error_lines())
                srv.send_signal(signal.SIGTTOU)
                self.assertTrue(srv.wait_log(r'SIGTTOU: %d workers wanted' % n,
                                             start=mark))
                self.assertTrue(srv.wait_log(r'exited with code 0', start=mark))
                self.assertTrue(wait_for(lambda: len(srv.worker_pids()) == n, 10))
        self.run_across(srv, [0, 0.05, 0.2], ttou_twice)


class StopHandshakes(ServerTestCase):

    def test_request_after_the_stop_on_an_earlier_handshake_is_answered(self):
        srv, _ = self.start_ready(['-w', '2'], 2)
        # Connected (the kernel completed the handshake; with
        # TCP_DEFER_ACCEPT nothing reaches the accept queue yet) ...
        socks = []
        for _ in range(3):
            s = socket.create_connection(('127.0.0.1', srv.port), timeout=5)
            self.addCleanup(s.close)
            socks.append(s)
        srv.send_signal(signal.SIGTERM)
        self.assertTrue(srv.wait_log(r'graceful shutdown'))
        # ... and the requests come a moment after the stop began.
        time.sleep(0.1)
        for s in socks:
            s.sendall(request_bytes('GET', '/hello.txt'))
        for i, s in enumerate(socks):
            data = b''
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    data += d
            except ConnectionResetError:
                self.fail('connection %d reset after %r' % (i, data[:40]))
            self.assertTrue(data.startswith(b'HTTP/1.1 200 '), 'connection %d: %r'
                            % (i, data[:80]))
            self.assertTrue(data.endswith(self.files['hello.txt']), data[-40:])
        self.assertEqual(srv.wait_exit(10), 0)


if __name__ == '__main__':
    harness.main()
