"""Handler modules (SPEC section 7) through the real binary.

The shipped modules (modules/: hello, echo) come from --shipped-dir, the
test-only ones (tests/modules/: probe, fault, counter, hijack, badabi,
noinit, nodesc) from --modules-dir; see tests/modules/*.c for what each
does. The last test installs preforkd into a temporary directory and
builds a module against nothing but the installed header and preforkd.pc.
"""

import hashlib
import os
import random
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import (ServerTestCase, Server, ClosedError, request_bytes,  # noqa: E402
                     run_cli, socket_count, wait_for)

EX_CONFIG = 78
BIG = 10 * 1024 * 1024          # the streamed echo body
BIG_LIMIT = 20000000            # --max-body-size for it
WARN_RE = re.compile(r' (warn|error) (master|status|worker \d+) pid=')


def module_path(name):
    """Path of a test-only module (tests/modules/NAME.c)."""
    return os.path.join(harness.module_dirs()[0], name + '.so')


def shipped_path(name):
    """Path of a module that ships (modules/NAME.c)."""
    return os.path.join(harness.module_dirs()[1], name + '.so')


def big_body():
    """BIG deterministic, incompressible-looking bytes and their sha256."""
    data = random.Random(20240601).randbytes(BIG)
    return data, hashlib.sha256(data).hexdigest()


def parse_report(body):
    """probe's report: ({key: value}, [(header name, value)])."""
    fields, headers = {}, []
    for line in body.decode('utf-8').splitlines():
        key, _, value = line.partition(': ')
        if key == 'header':
            name, _, v = value.partition(': ')
            headers.append((name, v))
        else:
            fields[key] = value
    return fields, headers


def stream_piece(i, size):
    """What probe's /stream sends as piece i."""
    return bytes([ord('a') + i % 26]) * size


class ModuleTestCase(ServerTestCase):
    """Helpers shared by the module tests."""

    def problems(self, srv, mark):
        """warn/error lines in srv's error log after line index mark."""
        return [l for l in srv.error_lines()[mark:] if WARN_RE.search(l)]

    def get_ok(self, target, srv=None, headers=None):
        r = self.get(target, srv=srv, headers=headers)
        self.assertEqual(r.status, 200, r)
        return r

    def read_crash_reply(self, c):
        """After a handler crash the client sees a closed connection or a
        500 (SPEC 4 wants the 500 when no byte was sent; either is
        accepted until the supervision milestone)."""
        try:
            r = c.read_response(timeout=10)
        except ClosedError:
            return None
        self.assertEqual(r.status, 500, 'crash answered with %r' % r)
        return r

    def read_body_hashed(self, c, resp, deadline):
        """Reads the body of resp (chunked, Content-Length or until close)
        from c without keeping it: returns (length, sha256 hex)."""
        h = hashlib.sha256()
        total = 0

        def take(n):
            nonlocal total
            while n > 0:
                if not c.buf and not c._fill(deadline):
                    raise ClosedError('closed with %d body bytes read' % total)
                piece, c.buf = c.buf[:n], c.buf[n:]
                h.update(piece)
                total += len(piece)
                n -= len(piece)

        def line():
            while b'\r\n' not in c.buf:
                if not c._fill(deadline):
                    raise ClosedError('closed in chunk framing after %d bytes'
                                      % total)
            out, c.buf = c.buf.split(b'\r\n', 1)
            return out

        if resp.has_token('Transfer-Encoding', 'chunked'):
            while True:
                size = int(line().split(b';')[0].strip(), 16)
                if size == 0:
                    while line() != b'':
                        pass        # trailer fields
                    break
                take(size)
                if c._read_exact(2, deadline) != b'\r\n':
                    raise AssertionError('chunk not followed by CRLF')
        elif resp.header('Content-Length') is not None:
            take(int(resp.header('Content-Length')))
        else:
            while True:
                if c.buf:
                    h.update(c.buf)
                    total += len(c.buf)
                    c.buf = b''
                if not c._fill(deadline):
                    break
        return total, h.hexdigest()


# --------------------------------------------------------------------------
# One shared server: the modules that neither crash nor hang.

class Modules(ModuleTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server_args = [
            '-w', '2', '--max-body-size', str(BIG_LIMIT),
            '-m', '/hello=' + shipped_path('hello'),
            '-m', '/echo=' + shipped_path('echo'),
            '-m', '/p=' + module_path('probe'),
            '-m', '/a=' + shipped_path('hello'),
            '-m', '/a/b=' + module_path('probe'),
            '-m', '/hj=' + module_path('hijack'),
            '-m', '/sleep=' + module_path('fault'),
            '--module-option', '/sleep mode sleep',
            '--module-option', '/sleep ms 300',
        ]
        super().setUpClass()

    def probe(self, target, headers=None, version='HTTP/1.1', method='GET',
              body=b''):
        r = self.get(target, headers=headers, version=version, method=method,
                     body=body)
        self.assertEqual(r.status, 200, r)
        return parse_report(r.body)

    # -- hello ------------------------------------------------------------

    def test_hello_returns_fixed_body(self):
        r = self.get_ok('/hello')
        self.assertEqual(r.body, b'Hello, World!')
        self.assertEqual(r.header('Content-Length'), '13')
        self.assertTrue(r.header('Content-Type', '').startswith('text/plain'), r)

    def test_hello_keeps_alive_for_pipelined_requests(self):
        c = self.connect()
        c.send(request_bytes('GET', '/hello') * 3)
        for i in range(3):
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b'Hello, World!'),
                             'response %d: %r' % (i, r))
            self.assertFalse(r.has_token('Connection', 'close'), r)

    # -- what a handler sees ------------------------------------------------

    def test_probe_reports_target_paths_and_query(self):
        c = self.connect()
        c.send(request_bytes('GET', '/p/a%20b/c%2Fd?x=1&y=%41'))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        f, _ = parse_report(r.body)
        self.assertEqual(f['method'], 'GET')
        self.assertEqual(f['target'], '/p/a%20b/c%2Fd?x=1&y=%41')
        self.assertEqual(f['raw_path'], '/p/a%20b/c%2Fd')
        self.assertEqual(f['path'], '/p/a b/c/d')
        self.assertEqual(f['query'], 'x=1&y=%41')
        self.assertEqual(f['prefix'], '/p')
        self.assertEqual(f['http_minor'], '1')
        self.assertIn(f['worker'], ('1', '2'))
        self.assertEqual(f['client'], '127.0.0.1 %d' % c.sock.getsockname()[1])
        self.assertEqual(f['content_length'], '-1')
        self.assertEqual(f['started'], '0')
        self.assertEqual(f['header_at_out_of_range'], 'refused')

    def test_probe_without_query_has_empty_query(self):
        f, _ = self.probe('/p')
        self.assertEqual((f['target'], f['raw_path'], f['query']), ('/p', '/p', ''))
        f, _ = self.probe('/p?')
        self.assertEqual((f['raw_path'], f['query']), ('/p', ''))

    def test_probe_reports_headers_in_order_with_repeats(self):
        sent = [('Host', 'example.test'), ('X-First', '1'), ('X-Multi', 'a'),
                ('accept', '*/*'), ('X-Multi', 'b'),
                ('X-Mixed', 'Some Value; q=1'), ('X-Empty', ''),
                ('X-Multi', 'c, d')]
        f, headers = self.probe('/p/h', headers=sent)
        self.assertEqual(headers, sent)
        self.assertEqual(f['header_count'], str(len(sent)))

    def test_probe_header_values_lose_surrounding_whitespace(self):
        c = self.connect()
        c.send(b'GET /p/ws HTTP/1.1\r\nHost: x\r\nX-Spaced: \t inner  space \t\r\n\r\n')
        r = c.read_response()
        _, headers = parse_report(r.body)
        self.assertIn(('X-Spaced', 'inner  space'), headers)

    def test_probe_path_with_invalid_escape_is_null(self):
        for target in ('/p/%zz', '/p/a%0', '/p/nul%00x'):
            f, _ = self.probe(target)
            self.assertEqual(f['path'], '(invalid)', target)
            self.assertEqual(f['raw_path'], target, target)

    def test_probe_http10_request(self):
        f, _ = self.probe('/p/old', version='HTTP/1.0')
        self.assertEqual(f['http_minor'], '0')

    def test_probe_sees_content_length_and_unread_body_is_drained(self):
        c = self.connect()
        c.send(request_bytes('POST', '/p/post', [('Content-Length', '11')],
                             body=b'hello world') + request_bytes('GET', '/p/next'))
        r1 = c.read_response()
        self.assertEqual(r1.status, 200, r1)
        f, _ = parse_report(r1.body)
        self.assertEqual((f['method'], f['content_length']), ('POST', '11'))
        self.assertFalse(r1.has_token('Connection', 'close'), r1)
        r2 = c.read_response()
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(parse_report(r2.body)[0]['raw_path'], '/p/next')

    def test_probe_chunked_body_has_no_content_length(self):
        c = self.connect()
        c.send(request_bytes('POST', '/p/chunked', [('Transfer-Encoding', 'chunked')],
                             body=b'5\r\nhello\r\n0\r\n\r\n') +
               request_bytes('GET', '/hello'))
        r1 = c.read_response()
        self.assertEqual(parse_report(r1.body)[0]['content_length'], '-1')
        r2 = c.read_response()
        self.assertEqual((r2.status, r2.body), (200, b'Hello, World!'))

    def test_longest_prefix_wins(self):
        self.assertEqual(self.get_ok('/a').body, b'Hello, World!')
        self.assertEqual(self.get_ok('/a/x').body, b'Hello, World!')
        self.assertEqual(self.get_ok('/a/bc').body, b'Hello, World!')
        for target in ('/a/b', '/a/b/c', '/a/b?q=1'):
            f, _ = self.probe(target)
            self.assertEqual(f['prefix'], '/a/b', target)
        # Not at a segment boundary: the static handler (no such file).
        self.assertEqual(self.get('/ab').status, 404)
        self.assertEqual(self.get('/hellox').status, 404)

    # -- how a handler answers ----------------------------------------------

    def test_status_returned_by_handler_is_answered(self):
        r = self.get('/p/status418')
        self.assertEqual(r.status, 418, r)
        self.assertTrue(r.body, r)

    def test_status_and_header_set_by_handler(self):
        r = self.get('/p/created')
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.header('X-Probe'), 'created')
        self.assertEqual(r.body, b'created\n')

    def test_api_misuse_is_refused(self):
        r = self.get('/p/contract')
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.header('X-Contract'), 'before')
        self.assertIsNone(r.header('X-Late'))
        self.assertIsNone(r.header('Injected'))
        lines = r.body.decode().splitlines()
        self.assertEqual(lines[-1:], ['end'], r.body)
        failed = [l for l in lines[:-1] if not l.endswith(': ok')]
        self.assertEqual(failed, [], r.body)
        self.assertEqual(len(lines), 17, r.body)

    def test_stream_with_content_length(self):
        r = self.get('/p/stream?pieces=5&size=1000&fixed=1')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header('Content-Length'), '5000')
        self.assertIsNone(r.header('Transfer-Encoding'))
        self.assertEqual(r.body, b''.join(stream_piece(i, 1000) for i in range(5)))

    def test_stream_without_length_is_chunked_and_keeps_alive(self):
        c = self.connect()
        c.send(request_bytes('GET', '/p/stream?pieces=30&size=777'))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.has_token('Transfer-Encoding', 'chunked'), r)
        self.assertIsNone(r.header('Content-Length'))
        self.assertEqual(r.body, b''.join(stream_piece(i, 777) for i in range(30)))
        self.assertFalse(r.has_token('Connection', 'close'), r)
        c.send(request_bytes('GET', '/hello'))
        self.assertEqual(c.read_response().body, b'Hello, World!')

    def test_stream_to_http10_client_is_close_delimited(self):
        for extra in ([], [('Connection', 'keep-alive')]):
            r, c = self.exchange(request_bytes('GET', '/p/stream?pieces=4&size=100',
                                               extra, version='HTTP/1.0'))
            self.assertEqual(r.status, 200, r)
            self.assertIsNone(r.header('Transfer-Encoding'), r)
            self.assertIsNone(r.header('Content-Length'), r)
            self.assertEqual(r.body, b''.join(stream_piece(i, 100) for i in range(4)))
            self.assertTrue(c.eof, 'body not ended by a close')
            self.assertFalse(r.has_token('Connection', 'keep-alive'), r)

    def test_stream_with_length_to_http10_client(self):
        r = self.get('/p/stream?pieces=2&size=10&fixed=1', version='HTTP/1.0')
        self.assertEqual(r.header('Content-Length'), '20')
        self.assertEqual(r.body, b'a' * 10 + b'b' * 10)

    def test_head_to_streaming_handler_sends_no_body(self):
        for q in ('pieces=3&size=10', 'pieces=3&size=10&fixed=1'):
            c = self.connect()
            c.send(request_bytes('HEAD', '/p/stream?' + q) + request_bytes('GET', '/hello'))
            h = c.read_response('HEAD')
            self.assertEqual(h.status, 200, h)
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b'Hello, World!'),
                             '%s: bytes after the HEAD response? %r' % (q, r))

    def test_short_body_closes_the_connection(self):
        c = self.connect()
        c.send(request_bytes('GET', '/p/short'))
        _, status, _, headers, _ = c.read_head()
        self.assertEqual(status, 200)
        self.assertIn(('Content-Length', '100'), headers)
        # 100 bytes were announced, 10 sent: only a close can end it.
        data, closed = c.read_all_until_close(5)
        self.assertEqual(data, b'0123456789')
        self.assertTrue(closed, 'connection kept open after a short body')

    def test_write_past_announced_length_is_refused(self):
        c = self.connect()
        c.send(request_bytes('GET', '/p/overflow') + request_bytes('GET', '/hello'))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b'abcde'))
        r2 = c.read_response()
        self.assertEqual((r2.status, r2.body), (200, b'Hello, World!'),
                         'the refused byte reached the wire: %r' % r2)

    def test_unread_chunked_body_past_drain_bound_announces_close(self):
        # probe answers without reading; 1 MiB of chunked body is more
        # than the server drains. Whether it closes or drains, the
        # response must say which (SPEC 5: "Connection: close when the
        # server will close").
        c = self.connect(timeout=10)
        c.send(request_bytes('POST', '/p/noread', [('Transfer-Encoding', 'chunked')]))
        out = c.sock.dup()
        self.addCleanup(out.close)
        out.settimeout(10)

        def sender():
            try:
                for _ in range(16):
                    out.sendall(b'10000\r\n' + b'z' * 65536 + b'\r\n')
                out.sendall(b'0\r\n\r\n' + request_bytes('GET', '/hello'))
            except OSError:
                pass        # the server may close on us: that is allowed
        t = threading.Thread(target=sender, daemon=True)
        t.start()
        r = c.read_response(timeout=10)
        self.assertEqual(r.status, 200, r)
        if r.has_token('Connection', 'close'):
            self.assertTrue(c.is_closed(5), 'Connection: close but kept open')
        else:
            try:
                r2 = c.read_response(timeout=10)
            except ClosedError:
                self.fail('closed after a response without Connection: close '
                          '(%r)' % r.headers)
            self.assertEqual((r2.status, r2.body), (200, b'Hello, World!'))
        t.join(10)
        self.assertFalse(t.is_alive(), 'sender still blocked')

    # -- echo: streamed request bodies ----------------------------------------

    def test_echo_small_body_with_content_type(self):
        r = self.get('/echo', method='POST', body=b'hello module',
                     headers=[('Content-Type', 'text/x-test'),
                              ('Content-Length', '12')])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b'hello module')
        self.assertEqual(r.header('Content-Type'), 'text/x-test')

    def test_echo_empty_body(self):
        r = self.get('/echo', method='POST', headers=[('Content-Length', '0')])
        self.assertEqual((r.status, r.body), (200, b''))

    def echo_big(self, chunked):
        data, digest = big_body()
        hdrs = [('Content-Type', 'application/x-big')]
        hdrs.append(('Transfer-Encoding', 'chunked') if chunked
                    else ('Content-Length', str(len(data))))
        c = self.connect(timeout=60)
        c.send(request_bytes('POST', '/echo', hdrs))
        # The echo streams back while we send: send from a thread, or both
        # sides would block on full socket buffers.
        out = c.sock.dup()
        self.addCleanup(out.close)
        out.settimeout(60)
        failure = []

        def sender():
            try:
                step = 65536
                for off in range(0, len(data), step):
                    piece = data[off:off + step]
                    if chunked:
                        out.sendall(b'%x\r\n' % len(piece) + piece + b'\r\n')
                    else:
                        out.sendall(piece)
                if chunked:
                    out.sendall(b'0\r\n\r\n')
            except OSError as e:
                failure.append(e)
        t = threading.Thread(target=sender, daemon=True)
        t.start()
        deadline = time.monotonic() + 60
        # read_response('HEAD') reads the head and leaves the body to us.
        r = c.read_response('HEAD', timeout=60)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header('Content-Type'), 'application/x-big')
        n, got = self.read_body_hashed(c, r, deadline)
        t.join(max(0.1, deadline - time.monotonic()))
        self.assertFalse(t.is_alive(), 'sender still blocked')
        self.assertEqual(failure, [])
        self.assertEqual((n, got), (len(data), digest))
        # The head goes out before the body is read: with more unread
        # than the server would drain, it announces the close (and must
        # then close); else the connection is good for another request.
        if r.has_token('Connection', 'close'):
            self.assert_closed(c)
        else:
            c.send(request_bytes('GET', '/hello'))
            self.assertEqual(c.read_response().body, b'Hello, World!')

    def test_echo_10mib_with_content_length(self):
        self.echo_big(chunked=False)

    def test_echo_10mib_chunked(self):
        self.echo_big(chunked=True)

    def test_echo_body_over_limit_is_413(self):
        c = self.connect()
        c.send(request_bytes('POST', '/echo', [('Content-Length', str(BIG_LIMIT + 1)),
                                               ('Expect', '100-continue')]))
        r = c.read_response()
        self.assertEqual(r.status, 413, 'expected 413 without a 100, got %r' % r)
        self.assert_closed(c)

    # -- Expect: 100-continue ---------------------------------------------------

    def test_expect_100_sent_when_echo_reads(self):
        c = self.connect()
        c.send(request_bytes('POST', '/echo', [('Content-Length', '11'),
                                               ('Expect', '100-continue')]))
        r = c.read_response()
        self.assertEqual(r.status, 100, 'expected 100 Continue, got %r' % r)
        self.assertEqual(r.head_raw, b'HTTP/1.1 100 Continue\r\n\r\n')
        c.send(b'hello world')
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b'hello world'), r)
        c.send(request_bytes('GET', '/hello'))
        self.assertEqual(c.read_response().body, b'Hello, World!')

    def test_expect_100_not_sent_when_handler_does_not_read(self):
        c = self.connect()
        c.send(request_bytes('POST', '/p/noread', [('Content-Length', '5'),
                                                   ('Expect', '100-continue')]))
        r = c.read_response()
        self.assertEqual(r.status, 200, 'expected the final response, got %r' % r)
        self.assertEqual(parse_report(r.body)[0]['content_length'], '5')
        self.assertTrue(r.has_token('Connection', 'close'), r)
        self.assert_closed(c)

    # -- hijack -----------------------------------------------------------------

    def test_hijack_line_protocol_with_pipelined_bytes(self):
        c = self.connect()
        c.send(request_bytes('GET', '/hj') + b'first\nsecond\r\nthi')
        self.assertEqual(c._read_until(b'second\n', time.monotonic() + 5),
                         b'echo: first\necho: second\n')
        c.send(b'rd\n')
        self.assertEqual(c._read_until(b'\n', time.monotonic() + 5), b'echo: third\n')
        c.send(b'quit\n')
        data, closed = c.read_all_until_close(5)
        self.assertEqual(data, b'bye\n')
        self.assertTrue(closed, 'hijacked connection not closed after quit')

    def test_hijack_without_pipelined_bytes(self):
        c = self.connect()
        c.send(request_bytes('GET', '/hj/x'))
        c.send(b'ping\n')
        self.assertEqual(c._read_until(b'\n', time.monotonic() + 5), b'echo: ping\n')
        c.send(b'quit\n')
        data, closed = c.read_all_until_close(5)
        self.assertEqual((data, closed), (b'bye\n', True))

    # -- sleep --------------------------------------------------------------------

    def test_sleeping_handler_answers_after_its_sleep(self):
        t0 = time.monotonic()
        r = self.get_ok('/sleep')
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.assertEqual(r.body, b'slept 300\n')


# --------------------------------------------------------------------------
# Per-test servers: abort, hijack teardown, lifecycle, faults.

class ModuleLifecycle(ModuleTestCase):

    def test_abort_after_head_closes_without_error_log(self):
        srv, _ = self.start_ready(['-w', '1', '-m', '/p=' + module_path('probe')])
        mark = len(srv.error_lines())
        c = self.connect(srv)
        c.send(request_bytes('GET', '/p/abort'))
        with self.assertRaises(ClosedError, msg='aborted response completed'):
            c.read_response()
        # One worker: this request runs after the aborted one's teardown.
        self.assertEqual(self.get('/hello.txt', srv=srv).status, 200)
        self.assertEqual(self.problems(srv, mark), [])

    def test_abort_before_head_closes_without_bytes_or_error_log(self):
        srv, _ = self.start_ready(['-w', '1', '-m', '/p=' + module_path('probe')])
        mark = len(srv.error_lines())
        c = self.connect(srv)
        c.send(request_bytes('GET', '/p/abort-early'))
        data, closed = c.read_all_until_close(5)
        self.assertEqual((data, closed), (b'', True))
        self.assertEqual(self.get('/hello.txt', srv=srv).status, 200)
        self.assertEqual(self.problems(srv, mark), [])

    def test_hijacked_socket_is_not_leaked_and_worker_serves_on(self):
        srv, (worker,) = self.start_ready(['-w', '1', '-m', '/hj=' + module_path('hijack')])
        base = socket_count(worker)
        c = self.connect(srv)
        c.send(request_bytes('GET', '/hj') + b'one\nquit\n')
        data, closed = c.read_all_until_close(5)
        self.assertEqual((data, closed), (b'echo: one\nbye\n', True))
        self.assertEqual(self.get('/hello.txt', srv=srv).status, 200)
        self.assertTrue(wait_for(lambda: socket_count(worker) == base, 5),
                        'worker holds %r sockets, %d before' % (socket_count(worker), base))
        self.assertEqual(srv.worker_pids(), [worker])

    def test_init_and_fini_run_once_per_worker(self):
        log = os.path.join(tempfile.mkdtemp(prefix='pfk-counter-'), 'counter.log')
        self.addCleanup(shutil.rmtree, os.path.dirname(log), True)
        # fini writes after the sandbox is on: the module declares it.
        srv, pids = self.start_ready(['-w', '2', '-m', '/c=' + module_path('counter'),
                                      '--module-option', '/c file ' + log,
                                      '--module-option', '/c sandbox-write ' +
                                      os.path.dirname(log)], 2)

        def lines():
            try:
                with open(log) as f:
                    return [l.split() for l in f.read().splitlines()]
            except FileNotFoundError:
                return []

        def worker_lines(kind):
            return sorted((int(w), int(p)) for k, w, p in lines()
                          if k == kind and w != '0')

        wait_for(lambda: len(worker_lines('init')) >= 2, 5)
        for _ in range(6):
            self.assertTrue(self.get_ok('/c', srv=srv).body.startswith(b'counter worker '))
        inits = worker_lines('init')
        self.assertEqual([w for w, _ in inits], [1, 2], lines())
        self.assertEqual(sorted(p for _, p in inits), pids, lines())
        self.assertEqual(worker_lines('fini'), [], 'fini before any exit')
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        self.assertEqual(worker_lines('fini'), inits, lines())
        # The start-up check (docs/modules.md) runs init and fini once in
        # a throw-away child with worker id 0; nothing else may appear.
        others = [l for l in lines() if l[1] == '0']
        self.assertIn(sorted(l[0] for l in others), ([], ['fini', 'init']), lines())
        self.assertTrue(all(int(l[2]) not in pids for l in others), lines())
        self.assertEqual(len(lines()), 4 + len(others), lines())

    # -- faults: a bad handler costs its own worker only ------------------------

    def fault_server(self, mode, workers=1, extra=()):
        args = ['-w', str(workers), '-m', '/f=' + module_path('fault'),
                '--module-option', '/f mode ' + mode] + list(extra)
        return self.start_ready(args, workers)

    def fault_ok(self, srv):
        """A non-crashing fault request: (worker pid, per-worker count)."""
        r = self.get_ok('/f/ok', srv=srv)
        m = re.match(rb'^ok worker \d+ pid (\d+) n (\d+)\n$', r.body)
        self.assertIsNotNone(m, r.body)
        return int(m.group(1)), int(m.group(2))

    def test_segfault_on_path_replaces_worker(self):
        srv, (worker,) = self.fault_server('segv')
        self.assertEqual(self.fault_ok(srv), (worker, 1))
        mark = len(srv.error_lines())
        c = self.connect(srv)
        c.send(request_bytes('GET', '/f/crash'))
        self.read_crash_reply(c)
        self.assertTrue(srv.wait_log(r'worker 1 \(pid %d\) killed by SIGSEGV' % worker,
                                     start=mark),
                        'no "killed by SIGSEGV" line: %r' % srv.error_lines()[mark:])
        pid, n = self.fault_ok(srv)
        self.assertNotEqual(pid, worker)
        self.assertEqual(n, 1)
        self.assertTrue(srv.alive())

    def test_segfault_every_nth_request(self):
        srv, (worker,) = self.fault_server('segv', extra=['--module-option', '/f every 3'])
        self.assertEqual(self.fault_ok(srv), (worker, 1))
        self.assertEqual(self.fault_ok(srv), (worker, 2))
        c = self.connect(srv)
        c.send(request_bytes('GET', '/f/ok'))
        self.read_crash_reply(c)
        self.assertTrue(srv.wait_log(r'\(pid %d\) killed by SIGSEGV' % worker))
        pid, n = self.fault_ok(srv)
        self.assertNotEqual(pid, worker)
        self.assertEqual(n, 1, 'the replacement did not run init afresh')

    def test_abort_in_handler_replaces_worker(self):
        srv, (worker,) = self.fault_server('abort', extra=[
            '-m', '/ok=' + shipped_path('hello')])
        c = self.connect(srv)
        c.send(request_bytes('GET', '/f'))
        self.read_crash_reply(c)
        self.assertTrue(srv.wait_log(r'\(pid %d\) killed by SIGABRT' % worker),
                        srv.error_lines())
        self.assertEqual(self.get_ok('/ok', srv=srv).body, b'Hello, World!')
        self.assertNotIn(worker, srv.worker_pids())

    def test_crash_after_partial_response(self):
        srv, (worker,) = self.fault_server('halfcrash', extra=[
            '-m', '/ok=' + shipped_path('hello')])
        c = self.connect(srv)
        c.send(request_bytes('GET', '/f'))
        version, status, _, headers, _ = c.read_head()
        self.assertEqual(status, 200)
        self.assertIn(('Content-Length', '1000'), headers)
        with self.assertRaises(ClosedError):
            c._read_exact(1000, time.monotonic() + 10)
        self.assertEqual(c.buf, b'x' * 100, 'the 100 bytes sent before the crash')
        self.assertTrue(srv.wait_log(r'\(pid %d\) killed by SIGSEGV' % worker))
        self.assertEqual(self.get_ok('/ok', srv=srv).body, b'Hello, World!')

    def test_hung_handler_costs_only_its_worker(self):
        srv, pids = self.fault_server('hang', workers=2, extra=[
            '--graceful-timeout', '1', '-m', '/ok=' + shipped_path('hello')])
        base = {p: socket_count(p) for p in pids}
        hung = self.connect(srv)
        hung.send(request_bytes('GET', '/f'))

        def busy():
            return [p for p in pids if (socket_count(p) or 0) > base[p]]
        self.assertTrue(wait_for(busy, 5), 'no worker took the hanging request')
        (victim,) = busy()
        for i in range(6):
            r = self.get('/ok', srv=srv)
            self.assertEqual((r.status, r.body), (200, b'Hello, World!'), 'request %d' % i)
        # Still hung, still holding its client, which got nothing (the
        # other worker may take a moment to drop its last connection).
        self.assertEqual(wait_for(lambda: busy() == [victim], 5) and busy(), [victim])
        readable, _, _ = select.select([hung.sock], [], [], 0)
        self.assertEqual(readable, [], 'the hanging request got an answer')


# --------------------------------------------------------------------------
# Load errors and -t

class ModuleLoading(ModuleTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix='pfk-modcli-')
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_modules(self, mods, check=False):
        args = ['-l', '127.0.0.1:0', '--error-log', os.path.join(self.tmp, 'error.log'),
                '--access-log', 'off']
        if check:
            args.append('-t')
        for prefix, path in mods:
            args += ['-m', '%s=%s' % (prefix, path)]
        return run_cli(args + [self.root])

    def assert_config_error(self, mods, mention, check=False):
        rc, out, err = self.run_modules(mods, check)
        self.assertIsNotNone(rc, 'started serving with %r' % mods)
        self.assertEqual(rc, EX_CONFIG, 'exit %r, stderr %r' % (rc, err))
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, 'stderr should be one line: %r' % err)
        self.assertIn(mention, lines[0])
        self.assertNotIn('ok', out.split())
        return lines[0]

    def test_abi_mismatch_is_config_error(self):
        path = module_path('badabi')
        line = self.assert_config_error([('/x', path)], path)
        self.assertIn('999', line)

    def test_abi_mismatch_with_check_config(self):
        path = module_path('badabi')
        self.assert_config_error([('/x', path)], path, check=True)

    def test_missing_module_file_is_config_error(self):
        path = os.path.join(self.tmp, 'no-such-module.so')
        self.assert_config_error([('/x', path)], path)

    def test_failing_init_is_config_error(self):
        path = module_path('noinit')
        self.assert_config_error([('/x', path)], path)

    def test_object_without_descriptor_is_config_error(self):
        path = module_path('nodesc')
        self.assert_config_error([('/x', path)], path)

    def test_bad_module_among_good_ones_is_config_error(self):
        path = module_path('badabi')
        self.assert_config_error([('/h', shipped_path('hello')), ('/x', path)], path)

    def test_check_config_with_good_modules_prints_ok(self):
        rc, out, err = self.run_modules([('/h', shipped_path('hello')),
                                         ('/e', shipped_path('echo')),
                                         ('/p', module_path('probe'))], check=True)
        self.assertEqual((rc, out.splitlines()[-1:]), (0, ['ok']), err)


# --------------------------------------------------------------------------
# A module built out of tree against the installed header

OOT_SOURCE = r'''
#include <preforkd.h>
#include <stdio.h>

static const char *word = "hi";

static int
oot_init(const struct pfd_init *init, void **state)
{
	const char *w = pfd_init_option(init, "word");

	(void)state;
	if (w != NULL)
		word = w;
	return 0;
}

static int
oot_handle(struct pfd_req *req, void *state)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "%s from out of tree: %s\n",
	    word, pfd_query(req));

	(void)state;
	if (n < 0 || (size_t)n >= sizeof(body))
		return 500;
	pfd_add_header(req, "Content-Type", "text/plain");
	return pfd_send(req, body, (size_t)n) == 0 ? 0 : 500;
}

PREFORKD_MODULE(.name = "oot", .init = oot_init, .handle = oot_handle);
'''


class InstalledModule(ModuleTestCase):

    def find(self, top, name, want_exec=False):
        for d, _, files in os.walk(top):
            if name in files:
                p = os.path.join(d, name)
                if not want_exec or os.access(p, os.X_OK):
                    return p
        return None

    def test_module_built_against_installed_header_loads_and_serves(self):
        for tool in ('meson', 'pkg-config', 'cc'):
            if shutil.which(tool) is None:
                self.skipTest('%s not on PATH: cannot build against an installed '
                              'preforkd' % tool)
        build = harness.build_dir()
        if not os.path.exists(os.path.join(build, 'meson-private', 'coredata.dat')):
            self.skipTest('%s is not a meson build directory' % build)
        tmp = tempfile.mkdtemp(prefix='pfk-install-')
        self.addCleanup(shutil.rmtree, tmp, True)
        dest = os.path.join(tmp, 'dest')
        p = subprocess.run(['meson', 'install', '-C', build, '--destdir', dest,
                            '--no-rebuild', '--quiet'],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, 'meson install failed: %r' % p.stderr[-2000:])
        pc = self.find(dest, 'preforkd.pc')
        header = self.find(dest, 'preforkd.h')
        exe = self.find(dest, 'preforkd', want_exec=True)
        self.assertIsNotNone(pc, 'no preforkd.pc installed')
        self.assertIsNotNone(header, 'no preforkd.h installed')
        self.assertIsNotNone(exe, 'no preforkd binary installed')
        # Nothing of the test-only modules is installed.
        self.assertIsNone(self.find(dest, 'probe.so'))
        self.assertIsNotNone(self.find(dest, 'hello.so'))

        # Only the installed .pc; keep -I even for a /usr prefix.
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pc),
                   PKG_CONFIG_LIBDIR=os.path.dirname(pc), PKG_CONFIG_SYSROOT_DIR=dest,
                   PKG_CONFIG_ALLOW_SYSTEM_CFLAGS='1')
        q = subprocess.run(['pkg-config', '--cflags', 'preforkd'], env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(q.returncode, 0, q.stderr)
        cflags = q.stdout.split()
        incs = [f[2:] for f in cflags if f.startswith('-I')]
        self.assertTrue(incs and all(os.path.realpath(i).startswith(os.path.realpath(dest))
                                     for i in incs), cflags)
        self.assertIn(os.path.realpath(os.path.dirname(header)),
                      [os.path.realpath(i) for i in incs])
        abi = subprocess.run(['pkg-config', '--variable=abi_version', 'preforkd'],
                             env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(abi.stdout.strip(), '1')

        src = os.path.join(tmp, 'oot.c')
        so = os.path.join(tmp, 'oot.so')
        with open(src, 'w') as f:
            f.write(OOT_SOURCE)
        b = subprocess.run(['cc'] + cflags + ['-Wall', '-Wextra', '-Werror', '-shared',
                                              '-fPIC', '-o', so, src],
                           cwd=tmp, capture_output=True, text=True, timeout=120)
        self.assertEqual(b.returncode, 0, 'cc failed: %s' % b.stderr)

        srv = Server(exe=exe)
        self.addCleanup(srv.cleanup)
        self._servers.append(srv)
        srv.start(['-w', '1', '-m', '/oot=' + so, '--module-option', '/oot word howdy'],
                  self.root)
        r = self.get('/oot?q=1', srv=srv)
        self.assertEqual((r.status, r.body), (200, b'howdy from out of tree: q=1\n'))


if __name__ == '__main__':
    harness.main()
