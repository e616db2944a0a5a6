"""The deployment files in docs/deploy/ (issue 12), as far as they can be
checked without systemd running or a Kubernetes cluster.

- preforkd.service: `systemd-analyze verify` prints nothing (ExecStart
  pointed at the binary under test); Type=notify, KillMode=mixed,
  ExecReload's HUP; TimeoutStopSec above drain-delay + graceful-timeout
  of docs/examples/preforkd.conf, which must not ask for daemon mode.
  What KillMode=mixed is for: TERM to the master alone lets a request in
  flight finish; TERM to every process of the group at once (systemd's
  default, KillMode=control-group) cuts it off.
- kubernetes.yaml: says it is untested; valid YAML (PyYAML); the probes
  use the paths and ports the arguments configure; the grace period
  outlasts drain-delay + graceful-timeout; preforkd -t accepts the args.
- prometheus.yml is run for real by test_prometheus.py.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import ServerTestCase, request_bytes, run_cli, wait_for  # noqa: E402

DEPLOY = os.path.join(harness.REPO, 'docs', 'deploy')
CONF = os.path.join(harness.REPO, 'docs', 'examples', 'preforkd.conf')


def read(path):
    with open(path) as f:
        return f.read()


def unit_values(text):
    """{key: [values]} of a unit file (comments and sections dropped)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in '#;[':
            continue
        k, _, v = line.partition('=')
        out.setdefault(k.strip(), []).append(v.strip())
    return out


def conf_seconds(text, key, default):
    m = re.search(r'(?m)^%s\s+(\S+)' % re.escape(key), text)
    return float(m.group(1)) if m else default


class SystemdUnit(ServerTestCase):

    def test_unit(self):
        path = os.path.join(DEPLOY, 'preforkd.service')
        text = read(path)
        v = unit_values(text)
        self.assertEqual(v['Type'], ['notify'])
        self.assertEqual(v['NotifyAccess'], ['all'])    # MAINPID= after USR2
        self.assertEqual(v['KillMode'], ['mixed'])
        self.assertIn(v['KillSignal'], (['SIGTERM'], ['SIGQUIT']))
        self.assertEqual(v['ExecReload'][-1], '/bin/kill -HUP $MAINPID')
        conf = read(CONF)
        self.assertIsNone(re.search(r'(?m)^daemon\b', conf),
                          'Type=notify runs it in the foreground')
        stop = float(re.fullmatch(r'(\d+)s?', v['TimeoutStopSec'][0]).group(1))
        need = (conf_seconds(conf, 'drain-delay', 0) +
                conf_seconds(conf, 'graceful-timeout', 30))
        self.assertGreater(stop, need + 2)

        exe = shutil.which('systemd-analyze')
        if exe is None:
            self.assertFalse(os.environ.get('CI'), 'systemd not installed')
            self.skipTest('systemd-analyze not installed')
        tmp = tempfile.mkdtemp(prefix='pfk-unit-')
        self.addCleanup(shutil.rmtree, tmp, True)
        unit = os.path.join(tmp, 'preforkd.service')
        with open(unit, 'w') as f:
            f.write(text.replace('/usr/sbin/preforkd',
                                 os.path.abspath(harness.PREFORKD)))
        # --man=no: the man page is not installed where the tests run.
        p = subprocess.run([exe, 'verify', '--man=no', unit],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60, cwd=tmp)
        self.assertEqual((p.returncode, p.stdout.decode()), (0, ''))

    def stop_during_request(self, everyone):
        """Starts a server with a request in flight (a 1.5 s handler),
        sends TERM to the master alone or to every process of the
        instance at once, and returns the response (or None)."""
        mod = os.path.join(harness.module_dirs()[0], 'fault.so')
        srv, _ = self.start_ready([
            '-w', '1', '-m', '/s=' + mod, '--module-option', '/s mode sleep',
            '--module-option', '/s ms 1500'])
        c = self.connect(srv)
        c.send(request_bytes('GET', '/s/x'))
        # The worker's title says so after ~100 ms of handling.
        self.assertTrue(wait_for(lambda: any(
            'handling GET /s/x' in harness.Server._read('/proc/%d/cmdline' % p)
            for p in srv.worker_pids()), 5))
        pids = [srv.pid] + (list(srv.children(keeper=True)) if everyone else [])
        for p in pids:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            r = c.read_response('GET', 5)
        except (AssertionError, OSError):    # closed, or reset
            r = None
        code = srv.wait_exit(10)
        self.assertIsNotNone(code)
        if not everyone:
            self.assertEqual(code, 0)
        return r

    def test_kill_mode_mixed_lets_requests_finish(self):
        r = self.stop_during_request(everyone=False)
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b'slept 1500\n')
        # What KillMode=control-group would do: the worker dies of TERM.
        self.assertIsNone(self.stop_during_request(everyone=True))


class Kubernetes(ServerTestCase):

    def test_manifest(self):
        text = read(os.path.join(DEPLOY, 'kubernetes.yaml'))
        self.assertTrue(text.startswith('# untested: no Kubernetes cluster in CI'))
        try:
            import yaml
        except ImportError:
            self.assertFalse(os.environ.get('CI'), 'python3-yaml not installed')
            self.skipTest('PyYAML not installed (Debian python3-yaml)')
        docs = list(yaml.safe_load_all(text))
        kinds = {d['kind']: d for d in docs}
        self.assertEqual(sorted(kinds), ['Deployment', 'Service'])
        pod = kinds['Deployment']['spec']['template']['spec']
        self.assertNotIn('lifecycle', pod['containers'][0])   # no preStop
        ctr = pod['containers'][0]
        args = [str(a) for a in ctr['args']]

        def arg(flag):
            return args[args.index(flag) + 1]
        ports = {p['name']: p['containerPort'] for p in ctr['ports']}
        self.assertEqual(arg('--listen'), ':%d' % ports['http'])
        self.assertEqual(arg('--status-listen'), ':%d' % ports['status'])
        self.assertEqual(ctr['readinessProbe']['httpGet'],
                         {'path': arg('--health-path'), 'port': 'http'})
        self.assertEqual(ctr['livenessProbe']['httpGet'],
                         {'path': '/healthz', 'port': 'status'})
        self.assertGreater(pod['terminationGracePeriodSeconds'],
                           float(arg('--drain-delay')) +
                           float(arg('--graceful-timeout')))
        svc = kinds['Service']['spec']
        self.assertEqual(svc['selector'],
                         kinds['Deployment']['spec']['selector']['matchLabels'])
        self.assertEqual([p['targetPort'] for p in svc['ports']], ['http'])

        # The flags exist and the values are valid (the docroot is ours).
        self.assertEqual(args[-1], '/srv/www')
        rc, out, err = run_cli(args[:-1] + [self.root, '-t'])
        self.assertEqual((rc, out.strip().splitlines()[-1:]), (0, ['ok']), err)


if __name__ == '__main__':
    harness.main()
