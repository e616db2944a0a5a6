"""The command line (SPEC section 2): usage errors, exit codes, listeners."""

import os
import socket
import tempfile
import shutil

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import ServerTestCase, Client, request_bytes, run_cli

EX_USAGE = 64
EX_NOINPUT = 66
EX_UNAVAILABLE = 69


class CommandLine(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix='pfk-cli-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.errlog = os.path.join(self.tmp, 'error.log')

    def run_bad(self, args, code, mention=None, listen=True):
        """args (after a safe listener and log) exit with code and exactly
        one non-empty line on stderr, which contains mention if given."""
        full = ['-l', '127.0.0.1:0'] if listen else []
        full += ['--error-log', self.errlog, '--access-log', 'off'] + list(args)
        rc, out, err = run_cli(full)
        self.assertIsNotNone(rc, '%r did not exit (it started serving)' % args)
        self.assertEqual(rc, code, '%r: exit %r, stderr %r' % (args, rc, err))
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, '%r: stderr should be one line: %r' % (args, err))
        if mention is not None:
            self.assertIn(mention, lines[0])
        return lines[0]

    # -- informational flags ------------------------------------------------

    def test_help_prints_usage_and_exits_0(self):
        rc, out, err = run_cli(['-h'])
        self.assertEqual(rc, 0, err)
        self.assertRegex(out + err, r'(?i)usage')
        self.assertIn('--workers', out + err)

    def test_version_prints_versions_and_exits_0(self):
        rc, out, err = run_cli(['-V'])
        self.assertEqual(rc, 0, err)
        text = out + err
        self.assertIn('preforkd', text)
        self.assertIn(harness.project_version(), text)
        self.assertRegex(text, r'(?i)http.?parser')
        self.assertRegex(text, r'(?i)libbsd')

    # -- usage errors: EX_USAGE and one line --------------------------------

    def test_workers_zero_is_usage_error(self):
        self.run_bad(['--workers', '0', self.root], EX_USAGE)

    def test_workers_non_numeric_is_usage_error(self):
        self.run_bad(['--workers', 'abc', self.root], EX_USAGE)

    def test_workers_short_flag_non_numeric_is_usage_error(self):
        self.run_bad(['-w', '3x', self.root], EX_USAGE)

    def test_negative_idle_timeout_is_usage_error(self):
        self.run_bad(['--idle-timeout', '-1', self.root], EX_USAGE)

    def test_non_numeric_header_timeout_is_usage_error(self):
        self.run_bad(['--header-timeout', 'soon', self.root], EX_USAGE)

    def test_bad_listen_address_is_usage_error(self):
        self.run_bad(['--listen', 'nonsense', self.root], EX_USAGE)

    def test_listen_port_out_of_range_is_usage_error(self):
        self.run_bad(['--listen', '127.0.0.1:70000', self.root], EX_USAGE)

    def test_unknown_option_is_usage_error(self):
        self.run_bad(['--no-such-option', self.root], EX_USAGE)

    def test_missing_option_argument_is_usage_error(self):
        self.run_bad([self.root, '--workers'], EX_USAGE)

    def test_bad_max_header_size_is_usage_error(self):
        self.run_bad(['--max-header-size', 'big', self.root], EX_USAGE)

    def test_bad_log_level_is_usage_error(self):
        self.run_bad(['--log-level', 'loud', self.root], EX_USAGE)

    def test_bad_access_log_format_is_usage_error(self):
        self.run_bad(['--access-log-format', 'xml', self.root], EX_USAGE)

    def test_two_docroots_is_usage_error(self):
        self.run_bad([self.root, self.root], EX_USAGE)

    # -- startup failures ---------------------------------------------------

    def test_missing_docroot_is_noinput(self):
        missing = os.path.join(self.tmp, 'does-not-exist')
        self.run_bad([missing], EX_NOINPUT, mention=missing)

    def test_port_in_use_is_unavailable_and_names_address(self):
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(blocker.close)
        blocker.bind(('127.0.0.1', 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        self.run_bad(['-l', '127.0.0.1:%d' % port, self.root], EX_UNAVAILABLE,
                     mention='127.0.0.1:%d' % port, listen=False)

    # -- listeners and arguments that must work -------------------------------

    def test_ephemeral_port_is_logged_and_served(self):
        srv = self.start_server(['-w', '1'])
        self.assertGreater(srv.port, 0)
        self.assertIn('127.0.0.1:%d' % srv.port, srv.listening)
        self.assert_serving(srv)

    def test_decimal_second_timeouts_are_accepted(self):
        srv = self.start_server(['-w', '1', '--idle-timeout', '0.5',
                                 '--header-timeout', '1.5', '--graceful-timeout', '2.25'])
        self.assert_serving(srv)

    def test_docroot_defaults_to_current_directory(self):
        srv = harness.Server()
        self.addCleanup(srv.cleanup)
        self._servers.append(srv)
        with open(os.path.join(srv.tmp, 'cwd.txt'), 'wb') as f:
            f.write(b'served from the cwd')
        srv.start(['-w', '1'], None)
        r = self.get('/cwd.txt', srv=srv)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b'served from the cwd')

    def test_ipv6_loopback_listener(self):
        try:
            probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            probe.bind(('::1', 0))
            probe.close()
        except OSError:
            self.skipTest('no IPv6 loopback')
        srv = self.start_server(['-w', '1', '-l', '[::1]:0'])
        m = srv.wait_log(r'listening on \[::1\]:(\d+)', 5)
        self.assertTrue(m, 'no "listening on [::1]:PORT" line')
        c = Client(int(m.group(1)), host='::1')
        self.addCleanup(c.close)
        c.send(request_bytes('GET', '/hello.txt'))
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b'Hello, World!')
        c.close()                   # one worker: free it for the next client
        self.assert_serving(srv)    # and still on 127.0.0.1


if __name__ == '__main__':
    harness.main()
