"""HTTP/1.1 protocol behaviour of a worker (SPEC section 5)."""

import calendar
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import ServerTestCase, request_bytes

# Small limits make the error paths cheap to reach.
SHARED_ARGS = ['-w', '3', '--header-timeout', '1', '--idle-timeout', '2',
               '--max-header-size', '1024', '--max-body-size', '1000']


class HttpBasics(ServerTestCase):
    server_args = SHARED_ARGS

    def test_get_returns_body_and_content_length(self):
        r = self.get('/hello.txt')
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header('Content-Length'), '13')
        self.assertEqual(r.body, b'Hello, World!')

    def test_date_header_is_current_imf_fixdate(self):
        r = self.get('/hello.txt')
        t = calendar.timegm(time.strptime(r.header('Date'),
                                          '%a, %d %b %Y %H:%M:%S GMT'))
        self.assertLess(abs(t - time.time()), 5, r.header('Date'))

    def test_server_header_names_project_version(self):
        r = self.get('/hello.txt')
        self.assertEqual(r.header('Server'), 'preforkd/' + harness.project_version())

    def test_http11_keeps_alive_by_default(self):
        c = self.connect()
        c.send(request_bytes('GET', '/hello.txt'))
        r1 = c.read_response()
        self.assertEqual(r1.status, 200)
        self.assertFalse(r1.has_token('Connection', 'close'), r1)
        c.send(request_bytes('GET', '/hello.txt'))
        r2 = c.read_response()
        self.assertEqual(r2.status, 200)
        self.assertEqual(r2.body, b'Hello, World!')

    def test_http11_connection_close_request_closes(self):
        r, c = self.exchange(request_bytes('GET', '/hello.txt',
                                           [('Connection', 'close')]))
        self.assertEqual(r.status, 200)
        self.assertTrue(r.has_token('Connection', 'close'), r)
        self.assert_closed(c)

    def test_http10_closes_by_default(self):
        r, c = self.exchange(request_bytes('GET', '/hello.txt', version='HTTP/1.0'))
        self.assertEqual(r.status, 200)
        self.assert_common(r)
        self.assertEqual(r.body, b'Hello, World!')
        self.assertTrue(r.has_token('Connection', 'close'), r)
        self.assert_closed(c)

    def test_http10_keepalive_on_request(self):
        c = self.connect()
        req = request_bytes('GET', '/hello.txt', [('Connection', 'keep-alive')],
                            version='HTTP/1.0')
        c.send(req)
        r1 = c.read_response()
        self.assertEqual(r1.status, 200)
        self.assertTrue(r1.has_token('Connection', 'keep-alive'), r1)
        c.send(req)
        r2 = c.read_response()
        self.assertEqual(r2.status, 200)
        self.assertEqual(r2.body, b'Hello, World!')

    def test_http10_without_host_is_served(self):
        r, c = self.exchange(b'GET /hello.txt HTTP/1.0\r\n\r\n')
        self.assertEqual(r.status, 200)
        self.assert_common(r)
        self.assertEqual(r.body, b'Hello, World!')

    def test_absolute_form_target_is_served(self):
        r = self.get('http://localhost/hello.txt')
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b'Hello, World!')

    def test_pipelined_three_gets_answered_in_order(self):
        c = self.connect()
        c.send(request_bytes('GET', '/hello.txt') +
               request_bytes('GET', '/1k.bin') +
               request_bytes('GET', '/sub/'))
        bodies = []
        for _ in range(3):
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assert_common(r)
            bodies.append(r.body)
        self.assertEqual(bodies, [self.files['hello.txt'], self.files['1k.bin'],
                                  self.files['sub/index.html']])

    def test_pipelined_post_chunked_body_is_drained_then_get(self):
        c = self.connect()
        post = request_bytes('POST', '/hello.txt',
                             [('Transfer-Encoding', 'chunked')],
                             body=b'5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n')
        c.send(post + request_bytes('GET', '/hello.txt'))
        r1 = c.read_response()
        self.assertEqual(r1.status, 405, r1)
        self.assertFalse(r1.has_token('Connection', 'close'), r1)
        r2 = c.read_response()
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.body, b'Hello, World!')

    def test_pipelined_post_content_length_body_is_drained_then_get(self):
        c = self.connect()
        post = request_bytes('POST', '/hello.txt', [('Content-Length', '11')],
                             body=b'hello world')
        c.send(post + request_bytes('GET', '/hello.txt'))
        r1 = c.read_response()
        self.assertEqual(r1.status, 405, r1)
        self.assertFalse(r1.has_token('Connection', 'close'), r1)
        r2 = c.read_response()
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.body, b'Hello, World!')

    def test_chunk_extensions_and_trailers_are_drained_then_get(self):
        c = self.connect()
        post = request_bytes('POST', '/hello.txt',
                             [('Transfer-Encoding', 'chunked')],
                             body=b'5;name=value\r\nhello\r\n0\r\n'
                                  b'X-Trailer: yes\r\n\r\n')
        c.send(post + request_bytes('GET', '/hello.txt'))
        self.assertEqual(c.read_response().status, 405)
        r2 = c.read_response()
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.body, b'Hello, World!')

    def test_body_sent_byte_by_byte_is_drained_then_get(self):
        c = self.connect()
        c.send(request_bytes('POST', '/hello.txt', [('Content-Length', '20')]))
        c.send_slowly(b'0123456789abcdefghij' + request_bytes('GET', '/hello.txt'),
                      pause=0.002)
        self.assertEqual(c.read_response().status, 405)
        r2 = c.read_response()
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.body, b'Hello, World!')

    def test_many_pipelined_requests_answered_in_order(self):
        paths = ['/hello.txt', '/1k.bin', '/sub/', '/missing'] * 50
        want = {'/hello.txt': (200, self.files['hello.txt']),
                '/1k.bin': (200, self.files['1k.bin']),
                '/sub/': (200, self.files['sub/index.html'])}
        c = self.connect(timeout=10)
        c.send(b''.join(request_bytes('GET', p) for p in paths))
        for i, p in enumerate(paths):
            r = c.read_response(timeout=10)
            if p in want:
                self.assertEqual((r.status, r.body), want[p], 'response %d' % i)
            else:
                self.assertEqual(r.status, 404, 'response %d' % i)

    def test_header_names_are_case_insensitive(self):
        c = self.connect()
        c.send(b'POST /hello.txt HTTP/1.1\r\nhOsT: localhost\r\n'
               b'CONTENT-LENGTH: 3\r\n\r\nabc' +
               b'GET /hello.txt HTTP/1.1\r\nHOST: localhost\r\n'
               b'connection: CLOSE\r\n\r\n')
        self.assertEqual(c.read_response().status, 405)
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertTrue(r.has_token('Connection', 'close'), r)
        self.assert_closed(c)

    def test_head_has_get_headers_and_no_body(self):
        c = self.connect()
        c.send(request_bytes('HEAD', '/1k.bin') + request_bytes('GET', '/1k.bin'))
        head = c.read_response('HEAD')
        get = c.read_response('GET')
        self.assertEqual(head.status, 200)
        self.assertEqual(get.status, 200)
        self.assertEqual(get.body, self.files['1k.bin'])

        def nodate(r):
            return [(k, v) for k, v in r.headers if k.lower() != 'date']
        self.assertEqual(nodate(head), nodate(get))
        self.assertEqual(head.header('Content-Length'), '1024')

    def test_request_sent_byte_by_byte_is_served(self):
        c = self.connect()
        c.send_slowly(request_bytes('GET', '/hello.txt'))
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b'Hello, World!')

    def test_not_found_has_small_text_plain_body(self):
        r = self.get('/no-such-file')
        self.assertEqual(r.status, 404)
        self.assertTrue((r.header('Content-Type') or '').startswith('text/plain'), r)
        self.assertTrue(0 < len(r.body) < 1024, r)

    def test_expect_100_continue_get_without_body_is_served(self):
        c = self.connect()
        c.send(request_bytes('GET', '/hello.txt', [('Expect', '100-continue')]))
        r = c.read_response()
        if r.status == 100:
            r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b'Hello, World!')


class HttpErrors(ServerTestCase):
    """Malformed requests: the status, a small text/plain body, Connection:
    close, an actual close, and a server that keeps serving."""
    server_args = SHARED_ARGS

    def test_transfer_encoding_and_content_length_is_400(self):
        self.assert_error_closes(request_bytes(
            'POST', '/hello.txt', [('Content-Length', '5'),
                                   ('Transfer-Encoding', 'chunked')],
            body=b'0\r\n\r\n'), 400)

    def test_differing_duplicate_content_length_is_400(self):
        self.assert_error_closes(request_bytes(
            'POST', '/hello.txt', [('Content-Length', '5'),
                                   ('Content-Length', '6')],
            body=b'hello!'), 400)

    def test_negative_content_length_is_400(self):
        self.assert_error_closes(request_bytes(
            'POST', '/hello.txt', [('Content-Length', '-1')]), 400)

    def test_non_numeric_content_length_is_400(self):
        self.assert_error_closes(request_bytes(
            'POST', '/hello.txt', [('Content-Length', 'abc')]), 400)

    def test_obs_fold_is_400(self):
        self.assert_error_closes(
            b'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n'
            b'X-Folded: first\r\n  continued\r\n\r\n', 400)

    def test_whitespace_before_colon_is_400(self):
        self.assert_error_closes(
            b'GET /hello.txt HTTP/1.1\r\nHost : localhost\r\n\r\n', 400)

    def test_http11_without_host_is_400(self):
        self.assert_error_closes(b'GET /hello.txt HTTP/1.1\r\n\r\n', 400)

    def test_two_host_headers_is_400(self):
        self.assert_error_closes(request_bytes(
            'GET', '/hello.txt', [('Host', 'a.example'), ('Host', 'b.example')]), 400)

    def test_garbage_request_line_is_400(self):
        self.assert_error_closes(b'this is not http\r\n\r\n', 400)

    def test_unknown_transfer_encoding_is_501(self):
        self.assert_error_closes(request_bytes(
            'POST', '/hello.txt', [('Transfer-Encoding', 'gzip')],
            body=b'xxxx'), 501)

    def test_http20_is_505(self):
        self.assert_error_closes(request_bytes('GET', '/hello.txt',
                                               version='HTTP/2.0'), 505)

    def test_http31_is_505(self):
        self.assert_error_closes(request_bytes('GET', '/hello.txt',
                                               version='HTTP/3.1'), 505)

    def test_bad_chunk_size_is_400(self):
        self.assert_error_closes(request_bytes(
            'POST', '/hello.txt', [('Transfer-Encoding', 'chunked')],
            body=b'zz\r\nhello\r\n0\r\n\r\n'), 400)

    def test_header_section_over_max_header_size_is_431(self):
        hdrs = [('X-Filler-%02d' % i, 'y' * 90) for i in range(30)]
        self.assert_error_closes(request_bytes('GET', '/hello.txt', hdrs), 431)

    def test_request_line_over_max_header_size_is_414(self):
        self.assert_error_closes(request_bytes('GET', '/' + 'a' * 3000), 414)

    def test_body_over_max_body_size_is_413(self):
        self.assert_error_closes(request_bytes(
            'POST', '/hello.txt', [('Content-Length', '5000')],
            body=b'x' * 5000), 413)

    def test_body_over_limit_with_expect_gets_413_without_100(self):
        c = self.connect()
        c.send(request_bytes('POST', '/hello.txt',
                             [('Content-Length', '5000'),
                              ('Expect', '100-continue')]))
        r = c.read_response()
        self.assertEqual(r.status, 413, 'expected 413 before any 100, got %r' % r)
        self.assertTrue(r.has_token('Connection', 'close'), r)
        self.assert_closed(c)
        self.assert_serving()

    def test_expect_100_continue_post_gets_final_response(self):
        c = self.connect()
        c.send(request_bytes('POST', '/hello.txt',
                             [('Content-Length', '10'),
                              ('Expect', '100-continue')]))
        r = c.read_response()
        if r.status == 100:
            c.send(b'0123456789')
            r = c.read_response()
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.header('Allow'), 'GET, HEAD')
        self.assert_serving()

    def test_unknown_expectation_is_417(self):
        r, c = self.exchange(request_bytes(
            'POST', '/hello.txt', [('Content-Length', '4'),
                                   ('Expect', 'something-else')], body=b'abcd'))
        self.assertEqual(r.status, 417, r)
        self.assert_common(r)
        if r.has_token('Connection', 'close'):
            self.assert_closed(c)
        self.assert_serving()

    def test_partial_head_then_silence_is_408_then_close(self):
        c = self.connect(timeout=8)
        c.send(b'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n')
        t0 = time.monotonic()
        r = c.read_response(timeout=6)
        elapsed = time.monotonic() - t0
        self.assertEqual(r.status, 408, r)
        self.assertGreaterEqual(elapsed, 0.8, 'header timeout is 1 s')
        self.assertLess(elapsed, 5.0)
        self.assertTrue(r.has_token('Connection', 'close'), r)
        self.assert_closed(c)
        self.assert_serving()

    def test_trickled_head_is_cut_at_header_timeout(self):
        # --header-timeout bounds the whole head, not the gap between bytes
        # (slowloris): one byte every 0.2 s must not keep the worker.
        c = self.connect(timeout=8)
        head = request_bytes('GET', '/hello.txt',
                             [('X-Slow-%02d' % i, 'v') for i in range(40)])
        t0 = time.monotonic()
        cut = None
        for i in range(len(head) - 2):      # never complete the head
            try:
                c.send(head[i:i + 1])
            except OSError:
                cut = time.monotonic() - t0
                break
            data, closed = c.read_all_until_close(timeout=0.2)
            c.buf = data
            if data or closed:
                cut = time.monotonic() - t0
                break
            if time.monotonic() - t0 > 6:
                break
        self.assertIsNotNone(cut, 'trickled head kept the connection for 6 s '
                             '(header timeout is 1 s)')
        self.assertLess(cut, 3.0)
        if c.buf:
            r = c.read_response()
            self.assertEqual(r.status, 408, r)
        self.assert_serving()

    def test_no_bytes_then_silent_close(self):
        c = self.connect(timeout=8)
        t0 = time.monotonic()
        data, closed = c.read_all_until_close(timeout=6)
        elapsed = time.monotonic() - t0
        self.assertTrue(closed, 'connection without bytes never closed')
        self.assertEqual(data, b'', 'a silent connection got response bytes')
        self.assertGreaterEqual(elapsed, 0.8)
        self.assert_serving()

    def test_errors_in_a_row_leave_server_serving(self):
        for raw in (b'junk\r\n\r\n', b'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
                    b'GET /hello.txt HTTP/1.1\r\n\r\n') * 4:
            r, c = self.exchange(raw)
            self.assertIn(r.status, (400, 505), r)
            c.close()
        self.assert_serving()


class HttpKeepAlivePolicy(ServerTestCase):
    """Per-test servers with a specific keep-alive policy."""

    def test_keepalive_requests_limit_closes_after_third(self):
        srv = self.start_server(['-w', '1', '--keepalive-requests', '3'])
        c = self.connect(srv)
        for i in range(1, 4):
            c.send(request_bytes('GET', '/hello.txt'))
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            if i < 3:
                self.assertFalse(r.has_token('Connection', 'close'),
                                 'response %d: %r' % (i, r))
            else:
                self.assertTrue(r.has_token('Connection', 'close'),
                                'response %d: %r' % (i, r))
        self.assert_closed(c)
        self.assert_serving(srv)

    def test_idle_keepalive_connection_closed_after_idle_timeout(self):
        srv = self.start_server(['-w', '1', '--idle-timeout', '0.5'])
        c = self.connect(srv, timeout=5)
        c.send(request_bytes('GET', '/hello.txt'))
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertFalse(r.has_token('Connection', 'close'), r)
        t0 = time.monotonic()
        data, closed = c.read_all_until_close(timeout=4)
        elapsed = time.monotonic() - t0
        self.assertTrue(closed, 'idle connection still open after 4 s')
        self.assertEqual(data, b'', 'idle close sent bytes')
        self.assertGreaterEqual(elapsed, 0.4)
        self.assertLess(elapsed, 3.0)
        self.assert_serving(srv)

    def test_idle_keepalive_yields_worker_to_waiting_client(self):
        # SPEC 5 fairness: with every worker busy and a client waiting in
        # the accept queue, an idle keep-alive connection must not hold its
        # worker for the whole idle timeout.
        srv = self.start_server(['-w', '1', '--idle-timeout', '5'])
        a = self.connect(srv)
        a.send(request_bytes('GET', '/hello.txt'))
        self.assertEqual(a.read_response().status, 200)
        b = self.connect(srv, timeout=6)
        t0 = time.monotonic()
        b.send(request_bytes('GET', '/hello.txt'))
        r = b.read_response(timeout=6)
        elapsed = time.monotonic() - t0
        self.assertEqual(r.status, 200)
        self.assertLess(elapsed, 1.0, 'waiting client served only after %.2f s '
                        '(idle keep-alive connection kept the only worker)' % elapsed)

    def test_large_unread_body_closes_or_is_drained(self):
        # SPEC 5: an unread body is drained up to a bound; past it the
        # connection closes after the response. Either way: no hang, and
        # the Connection header tells the truth.
        srv = self.start_server(['-w', '1', '--max-body-size', str(8 << 20)])
        c = self.connect(srv, timeout=15)
        size = 4 << 20
        c.send(request_bytes('POST', '/hello.txt', [('Content-Length', str(size))]))
        r = c.read_response()
        self.assertEqual(r.status, 405, r)
        if r.has_token('Connection', 'close'):
            self.assert_closed(c, timeout=5)
        else:
            c.send(b'z' * size + request_bytes('GET', '/hello.txt'))
            r2 = c.read_response(timeout=15)
            self.assertEqual(r2.body, b'Hello, World!')
        c.close()
        self.assert_serving(srv)

    def test_stalled_unread_body_is_not_kept_forever(self):
        srv = self.start_server(['-w', '1', '--body-timeout', '1',
                                 '--idle-timeout', '10'])
        c = self.connect(srv, timeout=10)
        c.send(request_bytes('POST', '/hello.txt', [('Content-Length', '10')],
                             body=b'12345'))
        r = c.read_response()
        self.assertIn(r.status, (405, 408), r)
        t0 = time.monotonic()
        self.assertTrue(c.is_closed(6), 'stalled body kept the connection 6 s '
                        '(body timeout is 1 s)')
        self.assertLess(time.monotonic() - t0, 4.0)
        self.assert_serving(srv)

    def test_keepalive_connection_reused_before_idle_timeout(self):
        srv = self.start_server(['-w', '1', '--idle-timeout', '2'])
        c = self.connect(srv)
        for _ in range(5):
            c.send(request_bytes('GET', '/hello.txt'))
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertFalse(r.has_token('Connection', 'close'), r)


if __name__ == '__main__':
    harness.main()
