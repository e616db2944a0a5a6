"""Error log and access log (SPEC section 8)."""

import calendar
import os
import re
import signal
import threading
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import (ServerTestCase, request_bytes, LOG_LINE_RE, ACCESS_LINE_RE,
                     wait_for)


def parse_log_line(line):
    m = LOG_LINE_RE.match(line)
    if not m:
        return None
    return {'time': m.group(1), 'level': m.group(2), 'role': m.group(3),
            'pid': int(m.group(4)), 'msg': m.group(5)}


class ErrorLog(ServerTestCase):

    def stop_term(self, srv):
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(srv.wait_exit(10), 0)

    def test_every_line_has_time_level_role_pid(self):
        srv, _ = self.start_ready(['-w', '2'], 2)
        self.assert_serving(srv)
        self.stop_term(srv)
        lines = srv.error_lines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, LOG_LINE_RE)

    def test_timestamps_are_current_utc_with_milliseconds(self):
        srv, _ = self.start_ready(['-w', '1'], 1)
        first = parse_log_line(srv.error_lines()[0])
        self.assertIsNotNone(first, srv.error_lines()[0])
        t = calendar.timegm(time.strptime(first['time'][:19], '%Y-%m-%dT%H:%M:%S'))
        self.assertLess(abs(t - time.time()), 30, first['time'])

    def test_master_lines_carry_the_master_pid(self):
        srv, _ = self.start_ready(['-w', '2'], 2)
        self.stop_term(srv)
        master = [parse_log_line(l) for l in srv.error_lines()]
        master = [p for p in master if p and p['role'] == 'master']
        self.assertTrue(master)
        for p in master:
            self.assertEqual(p['pid'], srv.pid, p)

    def test_listening_line_names_the_bound_address(self):
        srv, _ = self.start_ready(['-w', '1'], 1)
        self.assertTrue(srv.wait_log(
            r'info master pid=%d: listening on 127\.0\.0\.1:%d$' % (srv.pid, srv.port), 1))

    def test_started_line_for_each_worker_with_pid_and_gen(self):
        srv, _ = self.start_ready(['-w', '3'], 3)
        pids = srv.worker_pids()
        started = {}
        for line in srv.error_lines():
            m = re.search(r'master pid=\d+: worker (\d+) started \(pid (\d+), gen (\d+)\)$',
                          line)
            if m:
                started[int(m.group(2))] = int(m.group(1))
        self.assertEqual(sorted(started), pids)
        self.assertEqual(len(set(started.values())), 3, 'worker numbers not distinct')

    def test_ready_line_counts_workers(self):
        srv, _ = self.start_ready(['-w', '2'], 2)
        self.assertTrue(srv.wait_log(r'master pid=%d: ready: 2 workers$' % srv.pid, 1))

    def test_killed_worker_logged_with_number_and_signal_name(self):
        srv, _ = self.start_ready(['-w', '2'], 2)
        victim = srv.worker_pids()[0]
        m = srv.wait_log(r'worker (\d+) started \(pid %d,' % victim, 1)
        self.assertTrue(m)
        os.kill(victim, signal.SIGKILL)
        self.assertTrue(srv.wait_log(r'master pid=%d: worker %s \(pid %d\) killed by SIGKILL$'
                                     % (srv.pid, m.group(1), victim), 5),
                        'no "worker %s (pid %d) killed by SIGKILL" line'
                        % (m.group(1), victim))

    def test_term_logs_shutdown_worker_exits_and_exiting(self):
        srv, _ = self.start_ready(['-w', '2'], 2)
        pids = srv.worker_pids()
        self.stop_term(srv)
        text = srv.error_text()
        self.assertRegex(text, r'master pid=%d: graceful shutdown \(SIGTERM\)' % srv.pid)
        for pid in pids:
            self.assertRegex(text, r'worker \d+ \(pid %d\) exited with code 0' % pid)
        last_master = [l for l in srv.error_lines() if ' master pid=' in l][-1]
        self.assertTrue(last_master.endswith(': exiting'), last_master)

    def test_int_logs_fast_shutdown_and_exiting(self):
        srv, _ = self.start_ready(['-w', '1'], 1)
        srv.send_signal(signal.SIGINT)
        self.assertIsNotNone(srv.wait_exit(6))
        self.assertRegex(srv.error_text(), r'master pid=%d: fast shutdown \(SIGINT\)' % srv.pid)
        self.assertRegex(srv.error_text(), r'master pid=%d: exiting' % srv.pid)

    def test_client_hangups_are_not_logged_as_problems(self):
        srv, _ = self.start_ready(['-w', '1'], 1)
        mark = len(srv.error_lines())
        with srv.connect() as c:        # connect and leave at once
            pass
        with srv.connect() as c:        # half a head, then leave
            c.send(b'GET /hello.txt HTTP/1.1\r\nHo')
        with srv.connect(rcvbuf=4096) as c:     # leave in the middle of a body
            c.send(request_bytes('GET', '/1m.bin'))
            c.read_head()
        self.assert_serving(srv)        # one worker: all of the above are done
        self.stop_term(srv)
        noisy = [l for l in srv.error_lines()[mark:]
                 if re.search(r' (warn|error) ', l)]
        self.assertEqual(noisy, [])


class AccessLog(ServerTestCase):
    server_args = ['-w', '2']

    def ua(self):
        return 'ua-' + self.id().rsplit('.', 1)[-1]

    def lines_for(self, ua, n=1):
        """Waits for n access-log lines whose user agent is ua."""
        def mine():
            return [l for l in self.server.access_lines() if '"%s"' % ua in l]
        wait_for(lambda: len(mine()) >= n, 5)
        got = mine()
        self.assertEqual(len(got), n, 'access lines for %s: %r' % (ua, got))
        return got

    def parse(self, line):
        m = ACCESS_LINE_RE.match(line)
        self.assertIsNotNone(m, 'not combined + micros: %r' % line)
        return {'host': m.group(1), 'ident': m.group(2), 'user': m.group(3),
                'time': m.group(4), 'request': m.group(5), 'status': int(m.group(6)),
                'bytes': m.group(7), 'referer': m.group(8), 'ua': m.group(9),
                'micros': int(m.group(10))}

    def test_line_is_combined_format_plus_microseconds(self):
        ua = self.ua()
        self.get('/hello.txt', headers=[('User-Agent', ua),
                                        ('Referer', 'http://ref.example/page')])
        p = self.parse(self.lines_for(ua)[0])
        self.assertEqual(p['host'], '127.0.0.1')
        self.assertEqual((p['ident'], p['user']), ('-', '-'))
        self.assertEqual(p['request'], 'GET /hello.txt HTTP/1.1')
        self.assertEqual(p['status'], 200)
        self.assertEqual(p['bytes'], '13')
        self.assertEqual(p['referer'], 'http://ref.example/page')
        self.assertEqual(p['ua'], ua)
        self.assertLess(p['micros'], 10 * 1000 * 1000)

    def test_time_field_is_current(self):
        ua = self.ua()
        self.get('/hello.txt', headers=[('User-Agent', ua)])
        p = self.parse(self.lines_for(ua)[0])
        t = time.strptime(p['time'], '%d/%b/%Y:%H:%M:%S %z')
        epoch = calendar.timegm(t) - t.tm_gmtoff
        self.assertLess(abs(epoch - time.time()), 30, p['time'])

    def test_missing_referer_is_dash(self):
        ua = self.ua()
        self.get('/hello.txt', headers=[('User-Agent', ua)])
        self.assertEqual(self.parse(self.lines_for(ua)[0])['referer'], '-')

    def test_missing_user_agent_is_dash(self):
        marker = '/hello.txt?noua=%d' % os.getpid()
        self.get(marker)
        wait_for(lambda: any(marker in l for l in self.server.access_lines()), 5)
        line = [l for l in self.server.access_lines() if marker in l]
        self.assertEqual(len(line), 1)
        self.assertEqual(self.parse(line[0])['ua'], '-')

    def test_query_is_kept_in_request_line(self):
        ua = self.ua()
        self.get('/hello.txt?a=1&b=two', headers=[('User-Agent', ua)])
        self.assertEqual(self.parse(self.lines_for(ua)[0])['request'],
                         'GET /hello.txt?a=1&b=two HTTP/1.1')

    def test_not_found_logs_status_and_body_bytes(self):
        ua = self.ua()
        r = self.get('/missing', headers=[('User-Agent', ua)])
        p = self.parse(self.lines_for(ua)[0])
        self.assertEqual(p['status'], 404)
        self.assertEqual(p['bytes'], str(len(r.body)))

    def test_head_logs_no_body_bytes(self):
        ua = self.ua()
        self.get('/hello.txt', method='HEAD', headers=[('User-Agent', ua)])
        p = self.parse(self.lines_for(ua)[0])
        self.assertEqual(p['request'], 'HEAD /hello.txt HTTP/1.1')
        self.assertIn(p['bytes'], ('0', '-'))

    def test_range_logs_206_and_partial_bytes(self):
        ua = self.ua()
        self.get('/1k.bin', headers=[('User-Agent', ua), ('Range', 'bytes=0-99')])
        p = self.parse(self.lines_for(ua)[0])
        self.assertEqual((p['status'], p['bytes']), (206, '100'))

    def test_one_line_per_pipelined_request_in_order(self):
        ua = self.ua()
        c = self.connect()
        paths = ['/hello.txt', '/1k.bin', '/missing']
        c.send(b''.join(request_bytes('GET', p, [('User-Agent', ua)]) for p in paths))
        for _ in paths:
            c.read_response()
        got = [self.parse(l)['request'] for l in self.lines_for(ua, 3)]
        self.assertEqual(got, ['GET %s HTTP/1.1' % p for p in paths])

    def test_quote_in_user_agent_does_not_break_the_line(self):
        ua = self.ua() + '"evil'
        self.get('/hello.txt', headers=[('User-Agent', ua)])
        marker = self.ua()
        wait_for(lambda: any(marker in l for l in self.server.access_lines()), 5)
        line = [l for l in self.server.access_lines() if marker in l]
        self.assertEqual(len(line), 1)
        self.parse(line[0])     # still one well-formed record


class AccessLogConcurrency(ServerTestCase):

    def test_lines_never_interleave_across_workers(self):
        srv = self.start_server(['-w', '3'])
        nthreads, per = 6, 30
        errors = []

        def client(i):
            try:
                for j in range(per):
                    with srv.connect() as c:
                        c.send(request_bytes('GET', '/1k.bin?t=%d&j=%d' % (i, j),
                                             [('User-Agent', 'load-%d' % i),
                                              ('Connection', 'close')]))
                        if c.read_response().status != 200:
                            errors.append((i, j))
            except Exception as e:      # reported below, in the main thread
                errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(nthreads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads), 'clients hung')
        self.assertEqual(errors, [])
        lines = srv.wait_access_lines(nthreads * per)
        self.assertEqual(len(lines), nthreads * per)
        for line in lines:
            self.assertRegex(line, ACCESS_LINE_RE)
        targets = sorted(re.search(r'"GET (\S+) ', l).group(1) for l in lines)
        self.assertEqual(targets, sorted('/1k.bin?t=%d&j=%d' % (i, j)
                                         for i in range(nthreads) for j in range(per)))


class AccessLogDestination(ServerTestCase):

    def stop_and_read_stdout(self, srv):
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(srv.wait_exit(10), 0)
        return srv.stdout_text()

    def test_default_access_log_is_stdout(self):
        srv = self.start_server(['-w', '1'], access_log=None)
        self.get('/hello.txt', srv=srv, headers=[('User-Agent', 'to-stdout')])
        out = self.stop_and_read_stdout(srv)
        lines = [l for l in out.splitlines() if 'to-stdout' in l]
        self.assertEqual(len(lines), 1, out)
        self.assertRegex(lines[0], ACCESS_LINE_RE)

    def test_access_log_dash_is_stdout(self):
        srv = self.start_server(['-w', '1'], access_log='-')
        self.get('/hello.txt', srv=srv, headers=[('User-Agent', 'dash')])
        out = self.stop_and_read_stdout(srv)
        self.assertEqual(len([l for l in out.splitlines() if '"dash"' in l]), 1, out)

    def test_access_log_off_writes_nothing(self):
        srv = self.start_server(['-w', '1'], access_log='off')
        self.get('/hello.txt', srv=srv)
        out = self.stop_and_read_stdout(srv)
        self.assertEqual(out, '')
        self.assertFalse(os.path.exists(os.path.join(srv.tmp, 'off')))


if __name__ == '__main__':
    harness.main()
