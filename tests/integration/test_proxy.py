"""PROXY protocol and trusted forwarded headers (SPEC section 9) through the
real binary.

A `,proxy` listener requires a PROXY v1/v2 header before any HTTP, from a
--trusted-proxy peer only; its source is the client for the connection's
whole keep-alive life (across a hand-off to the keeper and back) in the
access log, the module API and the scoreboard. Forwarded / X-Forwarded-For
/ X-Forwarded-Proto are believed from a trusted peer only. The whois test
module (tests/modules/whois.c) echoes pfd_client_addr, pfd_peer_addr and
pfd_scheme. Every peer here is 127.0.0.1.
"""

import json
import os
import re
import socket
import struct
import tempfile
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import (ServerTestCase, Client, request_bytes,  # noqa: E402
                     socket_count, wait_for, run_cli)

FAST_PATH = 0.25    # IDLE_YIELD_MS: a worker waits this long before parking
V2_SIG = b'\r\n\r\n\x00\r\nQUIT\n'
GET = request_bytes('GET', '/hello.txt')


def module_path(name):
    return os.path.join(harness.module_dirs()[0], name + '.so')


def v1(src='192.0.2.7', sport=5555, proto='TCP4', dst='127.0.0.1'):
    return ('PROXY %s %s %s %d 80\r\n' % (proto, src, dst, sport)).encode()


def v2_inet6(src, sport, tlvs=b''):
    block = (socket.inet_pton(socket.AF_INET6, src) +
             socket.inet_pton(socket.AF_INET6, '::1') +
             struct.pack('>HH', sport, 80) + tlvs)
    return V2_SIG + b'\x21\x21' + struct.pack('>H', len(block)) + block


def v2_local():
    return V2_SIG + b'\x20\x00\x00\x00'


def whois(r):
    """The whois module's answer as a dict."""
    return dict(l.split(': ', 1) for l in r.body.decode().splitlines())


class ProxyTest(ServerTestCase):

    def start_proxy(self, args=(), trusted=('127.0.0.0/8',), fmt=None,
                    nworkers=1, ready=True):
        """A server whose only listener is a ,proxy one, with the whois
        module at /who."""
        a = ['-l', '127.0.0.1:0,proxy', '-w', str(nworkers),
             '--header-timeout', '1', '-m', '/who=' + module_path('whois')]
        for t in trusted:
            a += ['--trusted-proxy', t]
        if fmt:
            a += ['--access-log-format', fmt]
        if not ready:
            return self.start_server(a + list(args), listen=False)
        srv, _ = self.start_ready(a + list(args), nworkers, listen=False)
        return srv

    def start_plain(self, trusted=('127.0.0.0/8',)):
        a = ['-w', '1', '-m', '/who=' + module_path('whois')]
        for t in trusted:
            a += ['--trusted-proxy', t]
        srv, _ = self.start_ready(a)
        return srv

    def assert_dropped(self, c, timeout=3.0):
        """Closed without a byte of HTTP."""
        self.assertTrue(c.is_closed(timeout), 'connection left open')
        self.assertEqual(c.extra, b'', 'an HTTP response was sent')

    # -- PROXY on a trusted peer ------------------------------------------

    def test_v1_source_is_the_client_for_the_whole_connection(self):
        srv = self.start_proxy()
        c = self.connect(srv)
        c.send(v1() + GET)
        self.assertEqual(c.read_response().status, 200)
        c.send(request_bytes('GET', '/who'))
        r = c.read_response()
        self.assertEqual(whois(r), {'client': '192.0.2.7 5555',
                                    'peer': '127.0.0.1', 'scheme': 'http'})
        lines = srv.wait_access_lines(2)
        self.assertEqual(len(lines), 2, lines)
        for l in lines:
            self.assertTrue(l.startswith('192.0.2.7 - - ['), l)

    def test_v2_ipv6_with_tlvs_json_log(self):
        srv = self.start_proxy(fmt='json')
        tlvs = b'\x01\x00\x02h2' + b'\x04\x00\x03abc'   # ALPN, NOOP
        c = self.connect(srv)
        c.send(v2_inet6('2001:db8::7', 4711, tlvs) + GET)
        self.assertEqual(c.read_response().status, 200)
        c.send(GET)
        self.assertEqual(c.read_response().status, 200)
        lines = srv.wait_access_lines(2)
        self.assertEqual([json.loads(l)['client'] for l in lines],
                         ['2001:db8::7'] * 2)

    def test_v2_local_keeps_the_socket_peer(self):
        srv = self.start_proxy()
        c = self.connect(srv)
        c.send(v2_local() + request_bytes('GET', '/who'))
        self.assertEqual(whois(c.read_response())['client'].split()[0],
                         '127.0.0.1')

    def test_header_in_pieces_then_request(self):
        srv = self.start_proxy()
        c = self.connect(srv)
        c.send_slowly(v1(src='198.51.100.20') + request_bytes('GET', '/who'))
        self.assertEqual(whois(c.read_response())['client'],
                         '198.51.100.20 5555')

    def test_scoreboard_shows_the_proxy_source(self):
        srv = self.start_proxy(['--status-listen', '127.0.0.1:0'],
                               ready=False)
        self.assertTrue(srv.wait_log(r'status process started'))
        self.assertTrue(srv.wait_log(r'ready: 1 workers'))
        sport = int(re.findall(r'listening on 127\.0\.0\.1:(\d+)',
                               srv.error_text())[-1])
        c = self.connect(srv)
        c.send(v1(src='203.0.113.77', sport=6000) + GET)
        self.assertEqual(c.read_response().status, 200)

        def client():
            with Client(sport) as s:
                s.send(request_bytes('GET', '/status?format=json'))
                j = json.loads(s.read_response().body)
            return [w['client'] for w in j['workers']]
        self.assertEqual(wait_for(lambda: client() == ['203.0.113.77:6000'],
                                  3.0, 0.1) and client(),
                         ['203.0.113.77:6000'])

    def test_parked_with_the_keeper_keeps_the_proxy_address(self):
        srv = self.start_proxy()
        keeper = wait_for(srv.keeper_pid, 5.0)
        self.assertTrue(keeper)
        c = self.connect(srv)
        c.send(v1(src='192.0.2.99', sport=7000) + GET)
        self.assertEqual(c.read_response().status, 200)
        # Idle past the worker's fast path: the keeper holds it now.
        self.assertTrue(wait_for(lambda: socket_count(keeper) == 2,
                                 FAST_PATH + 3.0),
                        'the connection was not parked')
        c.send(request_bytes('GET', '/who'))
        self.assertEqual(whois(c.read_response())['client'], '192.0.2.99 7000')
        # And a second time, with a head that arrives in two parts there.
        self.assertTrue(wait_for(lambda: socket_count(keeper) == 2,
                                 FAST_PATH + 3.0))
        c.send(b'GET /hello.txt HTTP/1.1\r\n')
        time.sleep(0.05)    # the keeper sees the first half alone
        c.send(b'Host: x\r\n\r\n')
        self.assertEqual(c.read_response().status, 200)
        lines = srv.wait_access_lines(3)
        self.assertEqual([l.split()[0] for l in lines], ['192.0.2.99'] * 3)

    # -- closed without a response ------------------------------------------

    def test_missing_header_closes(self):
        srv = self.start_proxy()
        c = self.connect(srv)
        c.send(GET)
        self.assert_dropped(c)

    def test_garbage_closes(self):
        srv = self.start_proxy()
        for junk in (b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03',
                     b'PROXY TCP4 192.0.2.7 127.0.0.1 5555 80 9\r\n' + GET,
                     b'PROXY TCP5 x\r\n',
                     V2_SIG + b'\x21\x41\x00\x0c' + b'\x00' * 12 + GET,
                     V2_SIG + b'\x21\x11\xff\xff'):
            c = self.connect(srv)
            c.send(junk)
            self.assert_dropped(c)
        self.assertEqual(srv.access_lines(), [])

    def test_truncated_then_silence_closes_within_the_header_timeout(self):
        srv = self.start_proxy()
        for part in (b'PROXY TCP4 192.0.2.7', V2_SIG[:7], v2_inet6('::2', 1)[:30]):
            c = self.connect(srv)
            t0 = time.monotonic()
            c.send(part)
            self.assert_dropped(c, timeout=4.0)
            self.assertLess(time.monotonic() - t0, 3.0)
        # The worker is free again.
        c = self.connect(srv)
        c.send(v1() + GET)
        self.assertEqual(c.read_response().status, 200)

    def test_untrusted_peer_closes(self):
        srv = self.start_proxy(trusted=('10.0.0.0/8', '::1/128'))
        c = self.connect(srv)
        c.send(v1() + GET)
        self.assert_dropped(c)
        self.assertEqual(srv.access_lines(), [])

    def test_no_trusted_proxy_at_all_closes_and_says_so(self):
        srv = self.start_proxy(trusted=())
        self.assertTrue(srv.wait_log(r'trusted proxies: none .*PROXY protocol '
                                     r'required on 127\.0\.0\.1:0 \(no '
                                     r'trusted source'))
        c = self.connect(srv)
        c.send(v1() + GET)
        self.assert_dropped(c)

    def test_plain_listener_beside_is_not_proxied(self):
        a = ['-l', '127.0.0.1:0,proxy', '-l', '127.0.0.1:0', '-w', '1',
             '--trusted-proxy', '127.0.0.0/8']
        srv, _ = self.start_ready(a, 1, listen=False)
        ports = [int(p) for p in re.findall(r'listening on 127\.0\.0\.1:(\d+)',
                                             srv.error_text())]
        self.assertEqual(len(ports), 2)
        with Client(ports[1]) as c:
            c.send(GET)
            self.assertEqual(c.read_response().status, 200)
            c.send(v1() + GET)      # a PROXY line is a bad request here
            self.assertEqual(c.read_response().status, 400)

    # -- forwarded headers ----------------------------------------------------

    def test_spoofed_xff_from_a_trusted_peer_yields_the_rightmost_untrusted(self):
        srv = self.start_plain(trusted=('127.0.0.0/8', '10.0.0.0/8'))
        c = self.connect(srv)
        c.send(request_bytes('GET', '/who', [
            ('X-Forwarded-For', '6.6.6.6, 198.51.100.2'),
            ('X-Forwarded-For', '10.1.2.3, 127.0.0.9'),
            ('X-Forwarded-Proto', 'https')]))
        self.assertEqual(whois(c.read_response()),
                         {'client': '198.51.100.2 0', 'peer': '127.0.0.1',
                          'scheme': 'https'})
        # Per request: the next one on the connection says nothing.
        c.send(request_bytes('GET', '/who'))
        self.assertEqual(whois(c.read_response()),
                         {'client': '127.0.0.1 ' + whois_port(c),
                          'peer': '127.0.0.1', 'scheme': 'http'})
        lines = srv.wait_access_lines(2)
        self.assertEqual([l.split()[0] for l in lines],
                         ['198.51.100.2', '127.0.0.1'])

    def test_forwarded_header_from_a_trusted_peer(self):
        srv = self.start_plain()
        c = self.connect(srv)
        c.send(request_bytes('GET', '/who', [
            ('Forwarded', 'for=6.6.6.6;proto=http, '
                          'for="[2001:db8::5]:4711";proto=https'),
            ('X-Forwarded-For', '198.51.100.3')]))
        self.assertEqual(whois(c.read_response()),
                         {'client': '2001:db8::5 4711', 'peer': '127.0.0.1',
                          'scheme': 'https'})

    def test_forwarded_headers_from_an_untrusted_peer_are_ignored(self):
        srv = self.start_plain(trusted=('10.0.0.0/8',))
        c = self.connect(srv)
        c.send(request_bytes('GET', '/who', [
            ('X-Forwarded-For', '198.51.100.2'),
            ('Forwarded', 'for=198.51.100.4;proto=https'),
            ('X-Forwarded-Proto', 'https')]))
        w = whois(c.read_response())
        self.assertEqual((w['client'].split()[0], w['peer'], w['scheme']),
                         ('127.0.0.1', '127.0.0.1', 'http'))
        self.assertEqual(srv.wait_access_lines(1)[0].split()[0], '127.0.0.1')

    def test_without_trusted_proxy_headers_are_ignored(self):
        srv = self.start_plain(trusted=())
        c = self.connect(srv)
        c.send(request_bytes('GET', '/who', [
            ('X-Forwarded-For', '198.51.100.2'),
            ('X-Forwarded-Proto', 'https')]))
        w = whois(c.read_response())
        self.assertEqual((w['client'].split()[0], w['scheme']),
                         ('127.0.0.1', 'http'))

    def test_proxy_source_decides_trust_for_headers(self):
        # Through a ,proxy listener the PROXY source is the peer that
        # headers must come from: an untrusted source's XFF is ignored,
        # a trusted one's (another balancer) believed.
        srv = self.start_proxy(trusted=('127.0.0.0/8', '10.0.0.0/8'))
        c = self.connect(srv)
        c.send(v1(src='192.0.2.7') + request_bytes('GET', '/who', [
            ('X-Forwarded-For', '198.51.100.2')]))
        self.assertEqual(whois(c.read_response())['client'], '192.0.2.7 5555')
        c = self.connect(srv)
        c.send(v1(src='10.9.9.9') + request_bytes('GET', '/who', [
            ('X-Forwarded-For', '198.51.100.2')]))
        self.assertEqual(whois(c.read_response())['client'], '198.51.100.2 0')

    # -- start-up, configuration, ABI -----------------------------------------

    def test_trust_settings_logged_once_at_start(self):
        srv = self.start_proxy(trusted=('127.0.0.0/8', '2001:db8::/32'))
        self.assertTrue(srv.wait_log(r'ready: 1 workers'))
        lines = [l for l in srv.error_lines() if 'trusted proxies' in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r' info master pid=\d+: trusted proxies: '
                         r'127\.0\.0\.0/8 2001:db8::/32; PROXY protocol '
                         r'required on 127\.0\.0\.1:0$')

    def test_bad_config_is_refused(self):
        for args, what in ((['-l', 'unix:/tmp/pfk-x.sock,proxy'], 'TCP'),
                           (['-l', '127.0.0.1:0,tls'], 'tls'),
                           (['--trusted-proxy', '10.0.0.0/40'], '10.0.0.0/40'),
                           (['--trusted-proxy', 'example.org'], 'example.org')):
            rc, out, err = run_cli(['-t'] + args + [self.root])
            self.assertIn(rc, (64, 78), (args, err))   # flag: EX_USAGE
            self.assertIn(what, err)
        rc, out, err = run_cli(['-t', '-l', '[::1]:0,proxy', '--trusted-proxy',
                                '::1', self.root])
        self.assertEqual(rc, 0, err)

    def test_config_file_keys(self):
        fd, conf = tempfile.mkstemp(suffix='.conf')
        with os.fdopen(fd, 'w') as f:
            f.write('listen 127.0.0.1:0,proxy\ntrusted-proxy 127.0.0.1\n')
        self.addCleanup(os.unlink, conf)
        srv, _ = self.start_ready(['-c', conf, '-w', '1'], 1, listen=False)
        c = self.connect(srv)
        c.send(v1(src='192.0.2.8') + GET)
        self.assertEqual(c.read_response().status, 200)
        self.assertEqual(srv.wait_access_lines(1)[0].split()[0], '192.0.2.8')

    def test_module_built_for_abi_1_0_still_loads(self):
        srv, _ = self.start_ready(['-w', '1', '-m', '/old=' + module_path('oldabi')])
        r = self.get('/old', srv=srv)
        self.assertEqual((r.status, r.body), (200, b'old abi\n'))


def whois_port(c):
    return str(c.sock.getsockname()[1])


if __name__ == '__main__':
    harness.main()
