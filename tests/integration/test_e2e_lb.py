"""preforkd behind real load balancers, end to end (issue 12).

HAProxy 2.6 and nginx 1.22 run from the test with the documented configs
docs/deploy/haproxy.cfg and docs/deploy/nginx.conf (addresses, paths and
intervals substituted by lbtools.render, which fails when a substituted
text is missing from the file), in front of two preforkd instances. A load
client, bound to its own loopback address 127.0.0.77, sends keep-alive
GETs of a static file and POSTs of a few KiB to the echo module through
the balancer for the whole sequence, and counts every failure:

- HAProxyTest.test_stop_restart_reload_upgrade_under_load: health check
  and PROXY v2; instance 1 stopped (TERM, its drain delay longer than
  HAProxy's inter x fall) and started again on its port, HAProxy marking
  it DOWN then UP; instance 2 reloaded (HUP) and upgraded (USR2). 0 failed
  requests, 0 resets; the access logs show 127.0.0.77, the client.
- NginxTest.test_stop_restart_reload_upgrade_under_load: the same through
  nginx (keep-alive upstream pool, proxy_next_upstream, plain listeners
  and X-Forwarded-For from a trusted proxy): 0 502s, 0 failures.
- HAProxyTest.test_sigkill_of_an_instance_under_load: every process of
  instance 1 SIGKILLed at once; HAProxy's retries (retry-on with
  redispatch) hide the loss: the counts are printed, GET failures must
  stay within a small bound (0 expected).

The instances run private copies of the binary, so that every process of
one instance (also a master started by USR2, which outlives its parent)
is found by /proc/PID/exe and stopped by PID.
"""

import os
import shutil
import signal
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import ServerTestCase, Server, proc_stat, wait_for  # noqa: E402
import lbtools  # noqa: E402

CLIENT_ADDR = '127.0.0.77'      # the load client's source address
LB_ADDR = '127.0.0.1'           # the balancer's (and its upstream side)
HEALTH = '/healthz'
WORKERS = 2
# HAProxy checks every CHECK_INTER, a server is DOWN after fall = 2 failed
# checks: the drain delay outlasts that, with room for a loaded machine.
CHECK_INTER = '250ms'
DRAIN = 1.5
SCENARIO_SECONDS = 45.0         # bound of one load run


def exe_pids(path):
    """Live (not zombie) processes running the executable at path."""
    out = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            exe = os.readlink('/proc/%s/exe' % name)
        except OSError:
            continue
        if exe in (path, path + ' (deleted)'):
            st = proc_stat(int(name))
            if st is not None and st[0] != 'Z':
                out.append(int(name))
    return sorted(out)


def is_master(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().startswith(b'preforkd: master')
    except OSError:
        return False


def kill_all(path, sig=signal.SIGKILL, timeout=10.0):
    """Sends sig to every process running path (masters first, so that no
    replacement is forked meanwhile) until none is left."""
    def sweep():
        pids = exe_pids(path)
        for pid in sorted(pids, key=lambda p: not is_master(p)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return not exe_pids(path)
    return wait_for(sweep, timeout, 0.05)


def stop_all(path):
    """Clean-up: TERM to the masters running path, then KILL what is left."""
    for pid in exe_pids(path):
        if is_master(pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    wait_for(lambda: not [p for p in exe_pids(path) if is_master(p)], 10)
    kill_all(path)


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


class Instance:
    """One preforkd instance on a fixed port: a private binary, a pid
    file, an access log kept across restarts and upgrades."""

    def __init__(self, tc, name, port, extra):
        self.tc, self.name, self.port, self.extra = tc, name, port, extra
        self.dir = os.path.join(tc.tmp, name)
        os.makedirs(self.dir)
        self.exe = os.path.join(self.dir, 'preforkd')
        shutil.copy2(harness.PREFORKD, self.exe)
        os.chmod(self.exe, 0o755)
        self.pid_file = os.path.join(self.dir, 'preforkd.pid')
        self.access_log = os.path.join(self.dir, 'access.log')
        self.srv = None
        tc.addCleanup(stop_all, self.exe)

    def start(self):
        srv = Server(exe=self.exe)
        srv.access_log = self.access_log
        self.tc.addCleanup(srv.cleanup)
        self.tc._servers.append(srv)
        echo = os.path.join(harness.module_dirs()[1], 'echo.so')
        srv.start(['-w', str(WORKERS), '--health-path', HEALTH,
                   '--drain-delay', str(DRAIN), '--idle-timeout', '65',
                   '--pid-file', self.pid_file, '-m', '/echo=' + echo]
                  + list(self.extra), self.tc.root, listen=False)
        self.tc.assertTrue(srv.wait_log(r'ready: %d workers' % WORKERS))
        # The workers and the status process (it answers the agent check).
        self.tc.assertEqual(len(srv.wait_workers(WORKERS + 1)), WORKERS + 1)
        self.srv = srv
        return self

    def master(self):
        return read_pid(self.pid_file)

    def client_addrs(self):
        """Client addresses of the load client's requests in the access log."""
        with open(self.access_log, 'rb') as f:
            lines = f.read().decode('utf-8', 'replace').splitlines()
        out = []
        for line in lines:
            m = harness.ACCESS_LINE_RE.match(line)
            self.tc.assertIsNotNone(m, 'bad access log line %r' % line)
            if m.group(5).startswith(('GET /hello.txt ', 'POST /echo/')):
                out.append(m.group(1))
        return out


class E2ETestCase(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix='pfk-e2e-')
        if not os.environ.get('PFK_KEEP'):
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self.t_start = time.monotonic()

    def instances(self, extra_fn):
        """Two instances on ports of their own; extra_fn(port) gives the
        flags that depend on the port (the listener). Each answers the
        agent check on a port of its own too (agent_port)."""
        out = []
        for name in ('i1', 'i2'):
            port, agent = lbtools.free_port(), lbtools.free_port()
            inst = Instance(self, name, port, extra_fn(port) + [
                '--agent-listen', '127.0.0.1:%d' % agent])
            inst.agent_port = agent
            out.append(inst.start())
        return out

    def load(self, port):
        load = lbtools.LoadClient(
            LB_ADDR, port, CLIENT_ADDR, '/hello.txt', self.files['hello.txt'],
            '/echo/x', max_seconds=SCENARIO_SECONDS)
        self.addCleanup(load.stop)
        return load.start()

    def progress(self, load, what, n=100):
        self.assertTrue(load.wait_more(n, 20), '%s: load stalled: %s'
                        % (what, load.summary()))

    def report(self, what, load):
        sys.stderr.write('\n  [%s: %s; test %.1f s] ' % (
            what, load.summary(), time.monotonic() - self.t_start))

    # -- the sequence -----------------------------------------------------

    def stop_and_restart(self, inst, load, lb_down=None, lb_up=None):
        """TERM to inst (waiting for the balancer to take it out, when
        lb_down is given), its exit, a new start on the same port, and
        (lb_up) the balancer taking it back."""
        srv = inst.srv
        srv.send_signal(signal.SIGTERM)
        if lb_down is not None:
            self.assertTrue(lb_down(), 'the balancer did not take %s out'
                            % inst.name)
        self.assertEqual(srv.wait_exit(DRAIN + 20), 0, 'TERM: exit code')
        self.progress(load, 'after the stop')
        inst.start()
        if lb_up is not None:
            self.assertTrue(lb_up(), 'the balancer did not take %s back'
                            % inst.name)
        self.progress(load, 'after the restart')

    def reload_and_upgrade(self, inst, load):
        """HUP (wait for the new generation), then USR2: the pid file
        names the new master, which takes over; the old master retires by
        itself once the new one's workers accept (README, Signals)."""
        srv = inst.srv
        mark = len(srv.error_lines())
        srv.send_signal(signal.SIGHUP)
        self.assertTrue(srv.wait_log(r'reload: generation 2 serving',
                                     timeout=20, start=mark),
                        'no reload: %r' % srv.error_lines()[mark:])
        self.progress(load, 'after the reload')
        old = srv.pid
        mark = len(srv.error_lines())
        srv.send_signal(signal.SIGUSR2)
        new = wait_for(lambda: (inst.master() or old) != old and inst.master(),
                       20)
        self.assertTrue(new, 'USR2: the pid file still names %r'
                        % inst.master())
        self.assertTrue(srv.wait_log(r'master pid=%d: taking over from the old '
                                     r'master \(pid %d\)' % (new, old),
                                     timeout=20, start=mark),
                        'no take-over: %r' % srv.error_lines()[mark:])
        self.assertEqual(srv.wait_exit(DRAIN + 30), 0,
                         'the old master did not retire')
        self.assertTrue(wait_for(lambda: len([
            p for p in exe_pids(inst.exe) if not is_master(p)]) >= WORKERS, 10))
        self.progress(load, 'after the upgrade')

    def assert_clean(self, load, what):
        load.stop()
        self.report(what, load)
        self.assertFalse(load.ran_out, 'the load ran out of time: %s'
                         % load.summary())
        self.assertEqual([t for _, t in load.all_failures()][:20], [],
                         '%s: %s' % (what, load.summary()))

    def assert_client_logged(self, insts):
        for inst in insts:
            addrs = inst.client_addrs()
            self.assertTrue(addrs, '%s served none of the load' % inst.name)
            wrong = sorted(set(addrs) - {CLIENT_ADDR})
            self.assertEqual(wrong, [], '%s logged %r for the client'
                             % (inst.name, wrong))


def need(exe):
    """Skips without the balancer exe, except in CI, where scripts/test
    installs it and its absence is a failure."""
    def deco(cls):
        if os.access(exe, os.X_OK) or os.environ.get('CI'):
            return cls
        return unittest.skip('%s not installed (scripts/test installs it)'
                             % exe)(cls)
    return deco


@need(lbtools.HAPROXY)
class HAProxyTest(E2ETestCase):
    """docs/deploy/haproxy.cfg in front of two instances (PROXY v2)."""

    def start_haproxy(self, a, b):
        port = lbtools.free_port()
        subs = [
            ('bind :80', 'bind %s:%d' % (LB_ADDR, port), 1),
            ('server app1 10.0.0.11:8080 ', 'server app1 127.0.0.1:%d agent-port %d '
             % (a.port, a.agent_port), 1),
            ('server app2 10.0.0.12:8080 ', 'server app2 127.0.0.1:%d agent-port %d '
             % (b.port, b.agent_port), 1),
            ('agent-inter 2s', 'agent-inter %s' % CHECK_INTER, 1),
            ('maxconn 2', 'maxconn %d' % WORKERS, 3),
            ('/run/haproxy/admin.sock', os.path.join(self.tmp, 'admin.sock'), 1),
            ('default-server check inter 2s ',
             'default-server check inter %s ' % CHECK_INTER, 1),
            ('log /dev/log local0', 'log stderr format short local0', 1),
        ]
        if os.geteuid() != 0:
            subs += [('    chroot /var/lib/haproxy\n', '', 1),
                     ('    user haproxy\n', '', 1), ('    group haproxy\n', '', 1)]
        hap = lbtools.HAProxy(self.tmp)
        self.addCleanup(hap.stop)
        hap.start(lbtools.render('haproxy.cfg', subs), LB_ADDR, port)
        for sv in ('app1', 'app2'):
            self.assertTrue(hap.wait_status('preforkd', sv, 'UP', 15),
                            '%s not UP: %r %s' % (sv, hap.server_status(
                                'preforkd', sv), hap.log_tail()))

        def agents_ok():
            rows = hap.show_stat()
            return all(rows[('preforkd', sv)].get('agent_status') == 'L7OK' and
                       rows[('preforkd', sv)].get('weight') == '100'
                       for sv in ('app1', 'app2'))
        # The documented agent check is on: both agents answer, idle
        # instances at full weight.
        self.assertTrue(wait_for(agents_ok, 15), [
            (k[1], r.get('agent_status'), r.get('weight'))
            for k, r in hap.show_stat().items() if k[0] == 'preforkd'])
        return hap, port

    def test_stop_restart_reload_upgrade_under_load(self):
        a, b = self.instances(lambda port: [
            '-l', '127.0.0.1:%d,proxy' % port, '--trusted-proxy', LB_ADDR])
        hap, port = self.start_haproxy(a, b)
        load = self.load(port)
        self.progress(load, 'start')
        self.stop_and_restart(
            a, load,
            lb_down=lambda: hap.wait_status('preforkd', 'app1', 'DOWN', 15),
            lb_up=lambda: hap.wait_status('preforkd', 'app1', 'UP', 15))
        # Taken out by the failing health check during the drain delay
        # (503), not by a refused connection once the listener closed.
        down = [l for l in hap.log_lines() if 'preforkd/app1 is DOWN' in l]
        self.assertTrue(down and 'Layer7 wrong status, code: 503' in down[0],
                        down)
        self.reload_and_upgrade(b, load)
        # The old master's workers answer health with 503 "upgrading":
        # a check may fail meanwhile ("UP 1/2"); the new master's pass.
        self.assertTrue(hap.wait_status('preforkd', 'app2', 'UP', 15, exact=True),
                        hap.server_status('preforkd', 'app2'))
        self.assert_clean(load, 'haproxy: TERM+restart, HUP, USR2')
        self.assert_client_logged((a, b))

    def test_sigkill_of_an_instance_under_load(self):
        a, b = self.instances(lambda port: [
            '-l', '127.0.0.1:%d,proxy' % port, '--trusted-proxy', LB_ADDR])
        hap, port = self.start_haproxy(a, b)
        load = self.load(port)
        self.progress(load, 'start', 200)
        self.assertTrue(len(exe_pids(a.exe)) >= WORKERS + 2)    # + master, keeper
        self.assertTrue(kill_all(a.exe), 'processes left: %r' % exe_pids(a.exe))
        a.srv.wait_exit(5)
        self.assertTrue(hap.wait_status('preforkd', 'app1', 'DOWN', 15))
        self.progress(load, 'after the kill', 300)
        load.stop()
        self.report('haproxy: SIGKILL of one instance', load)
        sys.stderr.write('[HAProxy retried %d requests, %d of them on the '
                         'other server] ' % hap.retried())
        failed = load.failed_by_method()
        # Retried on the other instance (retry-on empty-response and
        # conn-failure, redispatch): 0 expected; a small bound asserted.
        self.assertLessEqual(failed['GET'], 2, load.summary())
        self.assertLessEqual(failed['POST'], 2, load.summary())
        self.assertFalse(load.ran_out, load.summary())
        self.assert_client_logged((b,))


@need(lbtools.NGINX)
class NginxTest(E2ETestCase):
    """docs/deploy/nginx.conf in front of two instances (X-Forwarded-For)."""

    def test_stop_restart_reload_upgrade_under_load(self):
        a, b = self.instances(lambda port: [
            '-l', '127.0.0.1:%d' % port, '--trusted-proxy', LB_ADDR])
        port = lbtools.free_port()
        conf = lbtools.render('nginx.conf', [
            ('listen 80;', 'listen %s:%d;' % (LB_ADDR, port), 1),
            ('server 10.0.0.11:8080 ', 'server 127.0.0.1:%d ' % a.port, 1),
            ('server 10.0.0.12:8080 ', 'server 127.0.0.1:%d ' % b.port, 1),
            ('fail_timeout=5s', 'fail_timeout=1s', 3),
            ('pid /run/nginx.pid;', 'pid %s/nginx.pid;' % self.tmp, 1),
            ('error_log /var/log/nginx/error.log;',
             'error_log %s/nginx-error.log;' % self.tmp, 1),
            ('access_log /var/log/nginx/access.log;',
             'access_log %s/nginx-access.log;' % self.tmp, 1),
        ] + ([] if os.geteuid() == 0 else [('user www-data;\n', '', 1)]))
        ngx = lbtools.Nginx(self.tmp)
        self.addCleanup(ngx.stop)
        ngx.start(conf, LB_ADDR, port)
        load = self.load(port)
        self.progress(load, 'start')

        def serving_again():
            n = len(a.client_addrs())
            return wait_for(lambda: len(a.client_addrs()) > n + 20, 15)
        self.stop_and_restart(a, load, lb_up=serving_again)
        self.reload_and_upgrade(b, load)
        self.assert_clean(load, 'nginx: TERM+restart, HUP, USR2')
        sys.stderr.write('[nginx logged %d failed upstream attempts, each '
                         'passed to the other server] '
                         % len(ngx.upstream_errors()))
        self.assertEqual(load.counts().get('status 502', 0), 0)
        self.assert_client_logged((a, b))


if __name__ == '__main__':
    harness.main()
