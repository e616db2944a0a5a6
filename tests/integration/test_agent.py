"""HAProxy's agent check (SPEC section 9, --agent-listen) through the real binary.

First the protocol over raw sockets: a connection gets one line and a
clean close (FIN, never a reset, also after an agent-send line): "ready
up 100%" while idle, a lower weight as workers are held busy by a slow
handler (down to the 1% floor), "drain" during --drain-delay after TERM,
"down" in a crash loop; the answers go on while agent and status clients
stall; bad values are one-line errors. Then with a real HAProxy (the
Debian package, skipped when it is not installed): two instances as
servers with agent-check; holding every worker of the first one busy
drops its weight in HAProxy's stats while the second stays at full and
takes the new requests, the weight comes back after, and a TERM with a
drain delay shows the first as DRAIN (agent).

Slow requests come from the test-only module tests/modules/fault.c
(modes sleep and bootfail), found through --modules-dir.
"""

import os
import re
import shutil
import signal
import socket
import tempfile
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import (ServerTestCase, Client, request_bytes, run_cli,  # noqa: E402
                     wait_for)
import lbtools_agent  # noqa: E402

EX_USAGE = 64
EX_CONFIG = 78
AGENT_CONNS = 16                # common/defaults.h
HEALTH = '/lb-health'


def module_path(name):
    return os.path.join(harness.module_dirs()[0], name + '.so')


def listen_ports(srv, timeout=10.0):
    """The "listening on 127.0.0.1:PORT" ports in the order bound (the
    request listener, then --status-listen, then --agent-listen), once the
    status process has started."""
    if not srv.wait_log(r'status process started \(pid \d+\)', timeout):
        raise AssertionError('no status process: %r' % srv.error_lines()[-10:])
    return [int(p) for p in re.findall(r'listening on 127\.0\.0\.1:(\d+)',
                                       srv.error_text())]


def ask(port, send=None, timeout=3.0):
    """One agent check: connect, optionally send a line, read until the
    server closes. Returns the bytes; a reset raises."""
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        if send is not None:
            s.sendall(send)
        out = b''
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            d = s.recv(4096)
            if not d:
                return out
            out += d
        raise AssertionError('agent connection not closed: %r' % out)


def hold(port, target):
    """Sends a request that a sleeping handler keeps; returns the client
    (read its response later)."""
    c = Client(port, timeout=30.0)
    c.send(request_bytes('GET', target))
    return c


class AgentTestCase(ServerTestCase):

    def start_agent(self, args, nworkers=2, status=False, ready=True):
        a = ['-w', str(nworkers), '--agent-listen', '127.0.0.1:0']
        if status:
            a += ['--status-listen', '127.0.0.1:0']
        srv = self.start_server(a + list(args))
        if ready:
            self.assertTrue(srv.wait_log(r'ready: %d workers' % nworkers),
                            srv.error_lines()[-5:])
        ports = listen_ports(srv)
        srv.agent_port = ports[-1]
        srv.status_port = ports[1] if status else None
        return srv

    def wait_answer(self, srv, want, timeout=10.0):
        """Polls the agent until its answer is want; returns the answers seen."""
        seen = []

        def check():
            a = ask(srv.agent_port)
            if not seen or seen[-1] != a:
                seen.append(a)
            return a == want
        self.assertTrue(wait_for(check, timeout, interval=0.05),
                        'agent never said %r; it said %r' % (want, seen))
        return seen


class ProtocolTest(AgentTestCase):
    """The answers over raw sockets."""

    def test_idle_instance_is_at_full_weight(self):
        srv = self.start_agent([])
        self.assertEqual(ask(srv.agent_port), b'ready up 100%\n')
        # HAProxy's agent-send: a line first; the answer is the same and
        # the close is clean (read until EOF, no reset).
        self.assertEqual(ask(srv.agent_port, b'be/s1\n'), b'ready up 100%\n')
        self.assertEqual(ask(srv.agent_port, b'x' * 3000), b'ready up 100%\n')
        # Bytes that arrive after the answer (a late agent-send) are read
        # and dropped while the connection lingers: no reset comes back.
        with socket.create_connection(('127.0.0.1', srv.agent_port), timeout=3) as s:
            got = b''
            while not got.endswith(b'\n'):
                d = s.recv(100)
                self.assertTrue(d, got)
                got += d
            self.assertEqual(got, b'ready up 100%\n')
            self.assertEqual(s.recv(100), b'')         # its half-close
            t0 = time.monotonic()
            while time.monotonic() - t0 < 0.3:         # a reset needs an RTT
                s.sendall(b'be/s1\n')                   # raises once reset
                time.sleep(0.01)
        # Without --status-listen the status process serves the agent only.
        with open('/proc/%d/cmdline' % self.status_pid(srv), 'rb') as f:
            title = f.read().decode('latin-1')
        self.assertTrue(title.startswith('preforkd: status agent 127.0.0.1:%d'
                                         % srv.agent_port), title)

    def test_busy_workers_lower_the_weight(self):
        srv = self.start_agent(['-m', '/f=' + module_path('fault'),
                                '--module-option', '/f mode sleep',
                                '--module-option', '/f ms 4000'])
        self.assertEqual(ask(srv.agent_port), b'ready up 100%\n')
        one = hold(srv.port, '/f/one')
        self.addCleanup(one.close)
        self.wait_answer(srv, b'ready up 50%\n')
        two = hold(srv.port, '/f/two')
        self.addCleanup(two.close)
        # Every worker busy: the floor, never 0% while up.
        self.wait_answer(srv, b'ready up 1%\n')
        # A client waiting in the accept queue keeps it at the floor.
        three = hold(srv.port, '/hello.txt')
        self.addCleanup(three.close)
        self.assertEqual(ask(srv.agent_port), b'ready up 1%\n')
        for c in (one, two, three):
            self.assertEqual(c.read_response(timeout=30.0).status, 200)
        self.wait_answer(srv, b'ready up 100%\n')

    def test_drain_during_drain_delay(self):
        srv = self.start_agent(['--drain-delay', '3', '--health-path', HEALTH])
        self.assertEqual(ask(srv.agent_port), b'ready up 100%\n')
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        self.wait_answer(srv, b'drain\n', timeout=2.5)
        self.assertLess(time.monotonic() - t0, 3.0)
        # Health agrees.
        r = self.get(HEALTH, srv=srv)
        self.assertEqual(r.status, 503)
        self.assertEqual(srv.wait_exit(15), 0)

    def test_crash_loop_is_down(self):
        srv = self.start_agent(['-m', '/f=' + module_path('fault'),
                                '--module-option', '/f mode bootfail'],
                               status=True, ready=False)
        self.assertTrue(srv.wait_log(r'respawning with backoff'))
        self.wait_answer(srv, b'down\n')
        with Client(srv.status_port) as c:      # what /healthz says then
            c.send(request_bytes('GET', '/healthz'))
            self.assertEqual(c.read_response().status, 503)

    def test_slow_clients_stall_nobody(self):
        srv = self.start_agent([], status=True)
        spid = self.status_pid(srv)
        # A status client that stalls mid-head (the status process gives
        # it 2 s): agent answers go on meanwhile.
        base = harness.socket_count(spid)
        stall = Client(srv.status_port, timeout=5.0)
        self.addCleanup(stall.close)
        stall.send(b'GET /status HTTP/1.1\r\nHost: x\r\n')
        self.assertTrue(wait_for(lambda: harness.socket_count(spid) > base, 2.0),
                        'the status process did not take the stalled client')
        for _ in range(5):
            t0 = time.monotonic()
            self.assertEqual(ask(srv.agent_port, timeout=3.0), b'ready up 100%\n')
            self.assertLess(time.monotonic() - t0, 1.0)
        stall.close()
        # More agent clients than slots, none of them reading or closing:
        # the status page and new agent clients are answered at once.
        idle = []
        for _ in range(3 * AGENT_CONNS):
            s = socket.create_connection(('127.0.0.1', srv.agent_port), timeout=5)
            self.addCleanup(s.close)
            idle.append(s)
        t0 = time.monotonic()
        with Client(srv.status_port, timeout=2.0) as c:
            c.send(request_bytes('GET', '/healthz'))
            self.assertEqual(c.read_response().status, 200)
        self.assertEqual(ask(srv.agent_port, timeout=2.0), b'ready up 100%\n')
        self.assertLess(time.monotonic() - t0, 1.5)
        # Each got its line, and each is closed (room made, or its 1 s up).
        for s in idle:
            s.settimeout(5.0)
            data = b''
            while True:
                d = s.recv(4096)
                if not d:
                    break
                data += d
            self.assertEqual(data, b'ready up 100%\n')

    def status_pid(self, srv):
        def find():
            for p in srv.children(keeper=True):
                try:
                    with open('/proc/%d/cmdline' % p, 'rb') as f:
                        if f.read().startswith(b'preforkd: status'):
                            return p
                except OSError:
                    pass
            return None
        pid = wait_for(find, 5.0)
        self.assertTrue(pid, 'no status process')
        return pid

    def test_reload_keeps_the_agent(self):
        srv = self.start_agent([])
        self.assertEqual(ask(srv.agent_port), b'ready up 100%\n')
        mark = len(srv.error_lines())
        srv.send_signal(signal.SIGHUP)
        self.assertTrue(srv.wait_log(r'reload', 10, mark))
        self.wait_answer(srv, b'ready up 100%\n')
        self.assertTrue(wait_for(lambda: ask(srv.agent_port) == b'ready up 100%\n'
                                 and re.search(r'status process started', '\n'.join(
                                     srv.error_lines()[mark:])), 10))


class BadValueTest(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix='pfk-agent-')
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_bad(self, args, code, mention):
        full = ['-l', '127.0.0.1:0', '--error-log', os.path.join(self.tmp, 'e'),
                '--access-log', 'off'] + list(args) + [self.root]
        rc, out, err = run_cli(full)
        self.assertEqual(rc, code, '%r: exit %r, stderr %r' % (args, rc, err))
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, err)
        self.assertIn(mention, lines[0])

    def test_bad_flag_values(self):
        self.run_bad(['--agent-listen', 'nonsense'], EX_USAGE,
                     "agent-listen: invalid listen address 'nonsense'")
        self.run_bad(['--agent-listen', '127.0.0.1:70000'], EX_USAGE, '70000')
        self.run_bad(['--agent-listen', ''], EX_USAGE, 'agent-listen')
        self.run_bad(['--agent-listen', 'unix:' + os.path.join(self.tmp, 's')],
                     EX_USAGE, 'agent-listen')

    def test_bad_config_value(self):
        path = os.path.join(self.tmp, 'p.conf')
        with open(path, 'w') as f:
            f.write('workers 1\nagent-listen nowhere\n')
        self.run_bad(['-c', path], EX_CONFIG, path + ":2: agent-listen: "
                     "invalid listen address 'nowhere'")

    def test_check_config_accepts_it(self):
        rc, out, err = run_cli(['-t', '--agent-listen', '127.0.0.1:9001', self.root])
        self.assertEqual((rc, out.strip().split('\n')[-1]), (0, 'ok'), err)


HAPROXY_CFG = """
global
    stats socket {dir}/h.sock level admin
    maxconn 200
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # a health check waits while every worker is held busy
    timeout check 30s
frontend fe
    bind fd@%(fefd)d
    default_backend be
backend be
    balance roundrobin
    option httpchk GET %(health)s
    server s1 127.0.0.1:%(p1)d weight 100 check inter 1s agent-check agent-port %(a1)d agent-inter 200ms
    server s2 127.0.0.1:%(p2)d weight 100 check inter 1s agent-check agent-port %(a2)d agent-inter 200ms
"""


class HAProxyTest(AgentTestCase):
    """Two instances behind a real HAProxy that asks their agents."""

    SLEEP_MS = 6000
    N = 20

    def setUp(self):
        super().setUp()
        if lbtools_agent.haproxy_path() is None:
            # scripts/test installs it: in CI its absence is a failure.
            self.assertFalse(os.environ.get('CI'), 'haproxy not installed')
            self.skipTest('haproxy is not installed (Debian package haproxy)')

    def instance(self, name, extra=()):
        root = tempfile.mkdtemp(prefix='pfk-agent-root-')
        self.addCleanup(shutil.rmtree, root, True)
        with open(os.path.join(root, 'who.txt'), 'w') as f:
            f.write(name)
        return self.start_agent_root(root, [
            '--health-path', HEALTH, '-m', '/f=' + module_path('fault'),
            '--module-option', '/f mode sleep',
            '--module-option', '/f ms %d' % self.SLEEP_MS] + list(extra))

    def start_agent_root(self, root, args):
        srv = self.start_server(['-w', '2', '--agent-listen', '127.0.0.1:0'] + args,
                                docroot=root)
        self.assertTrue(srv.wait_log(r'ready: 2 workers'), srv.error_lines()[-5:])
        srv.agent_port = listen_ports(srv)[-1]
        return srv

    def spread(self, port):
        """N requests through HAProxy, each on its own connection; returns
        {instance name: count}."""
        out = {}
        for _ in range(self.N):
            with Client(port, timeout=30.0) as c:
                c.send(request_bytes('GET', '/who.txt', [('Connection', 'close')]))
                r = c.read_response()
            self.assertEqual(r.status, 200, r)
            out[r.body.decode()] = out.get(r.body.decode(), 0) + 1
        return out

    def test_weight_follows_free_workers(self):
        s1 = self.instance('one', ['--drain-delay', '3'])
        s2 = self.instance('two')
        fe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(fe.close)
        fe.bind(('127.0.0.1', 0))
        fe.listen(64)
        fe.set_inheritable(True)
        fe_port = fe.getsockname()[1]
        hap = lbtools_agent.start_haproxy(HAPROXY_CFG % {
            'fefd': fe.fileno(), 'health': HEALTH, 'p1': s1.port,
            'p2': s2.port, 'a1': s1.agent_port, 'a2': s2.agent_port},
            pass_fds=[fe.fileno()])
        self.addCleanup(hap.stop)
        fe.close()              # HAProxy holds it now
        seen = {'s1': [], 's2': []}

        def weights():
            out = {}
            for name in ('s1', 's2'):
                row = hap.server('be', name)
                out[name] = (row['status'], int(row['weight'] or 0))
                if not seen[name] or seen[name][-1] != out[name]:
                    seen[name].append(out[name])
            return out

        def until(pred, timeout=10.0):
            ok = wait_for(lambda: pred(weights()), timeout, interval=0.05)
            self.assertTrue(ok, 'HAProxy stats: %r; log: %s' % (
                seen, hap.log_text()[-1500:]))

        until(lambda w: w == {'s1': ('UP', 100), 's2': ('UP', 100)})
        before = self.spread(fe_port)
        self.assertGreaterEqual(before.get('one', 0), self.N // 4, before)
        self.assertGreaterEqual(before.get('two', 0), self.N // 4, before)

        # Both workers of instance 1 held busy, directly (HAProxy knows
        # nothing of these requests but what the agent says).
        held = [hold(s1.port, '/f/%d' % i) for i in range(2)]
        for c in held:
            self.addCleanup(c.close)
        t0 = time.monotonic()
        until(lambda w: w['s1'] == ('UP', 1) and w['s2'] == ('UP', 100))
        t_drop = time.monotonic() - t0
        state = {r['srv_name']: (r['srv_uweight'], r['srv_iweight'])
                 for r in hap.servers_state('be')}
        self.assertEqual(state, {'s1': ('1', '100'), 's2': ('100', '100')})
        during = self.spread(fe_port)
        self.assertLess(time.monotonic() - t0, self.SLEEP_MS / 1000.0,
                        'too slow to measure while held')
        self.assertGreaterEqual(during.get('two', 0), self.N - 1, during)

        for c in held:
            self.assertEqual(c.read_response(timeout=30.0).status, 200)
        until(lambda w: w == {'s1': ('UP', 100), 's2': ('UP', 100)})
        after = self.spread(fe_port)
        self.assertGreaterEqual(after.get('one', 0), self.N // 4, after)

        # TERM with a drain delay: HAProxy puts it in DRAIN (agent).
        s1.send_signal(signal.SIGTERM)
        until(lambda w: w['s1'][0].startswith('DRAIN'), 3.0)
        drained = self.spread(fe_port)
        self.assertEqual(drained.get('two', 0), self.N, drained)
        self.assertEqual(s1.wait_exit(15), 0)
        sys.stderr.write('\nHAProxy weights seen (status, weight): %r; drop '
                         'after %.2f s; requests one/two before %r, held %r, '
                         'after %r, draining %r\n' % (
                             seen, t_drop, before, during, after, drained))


if __name__ == '__main__':
    harness.main()
