"""The sandbox (SPEC section 10, --sandbox) through the real binary.

The module tests/modules/sandboxprobe.so tries, per request, what a
sandbox should forbid and answers "WHAT ok" or "WHAT ERRNO"; under strict
a refused syscall kills the worker with SIGSYS instead, which is logged like
a crash. A kernel without Landlock or seccomp is shown to preforkd by a
seccomp filter (installed by a small Python wrapper before exec) that
answers those syscalls ENOSYS, as such a kernel does.
"""

import ctypes
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ServerTestCase, Client, run_cli  # noqa: E402

EX_USAGE = 64
EX_CONFIG = 78

# x86-64 numbers of the syscalls the wrapper hides.
NR_SECCOMP = 317
NR_LANDLOCK_CREATE_RULESET = 444

# Installs a filter answering ENOSYS for the numbers in argv[1] (comma-
# separated), then execs argv[2:]. Classic BPF by hand: the standard
# library has no seccomp binding.
HIDE_SRC = r'''
import ctypes, os, struct, sys
ins = []
def op(code, k, jt=0, jf=0):
    ins.append(struct.pack('HBBI', code, jt, jf, k))
op(0x20, 4)                        # ld arch
op(0x15, 0xc000003e, 1, 0)         # x86-64: go on
op(0x06, 0x7fff0000)               # else allow
op(0x20, 0)                        # ld nr
for nr in (int(x) for x in sys.argv[1].split(',')):
    op(0x15, nr, 0, 1)
    op(0x06, 0x00050000 | 38)      # ERRNO(ENOSYS)
op(0x06, 0x7fff0000)               # allow
buf = ctypes.create_string_buffer(b''.join(ins))
class Fprog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]
prog = Fprog(len(ins), ctypes.addressof(buf))
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(38, 1, 0, 0, 0) != 0 or \
        libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:
    sys.exit('cannot install the filter: errno %d' % ctypes.get_errno())
os.execv(sys.argv[2], sys.argv[2:])
'''


def hide(*nrs):
    """Wrapper argv that hides the syscalls nrs from what it execs."""
    return [sys.executable, '-c', HIDE_SRC, ','.join(map(str, nrs))]


def module_path(name):
    return os.path.join(harness.module_dirs()[0], name + '.so')


def proc_field(pid, name):
    """A field of /proc/PID/status ("Seccomp" -> "2"), or None."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                k, _, v = line.partition(':')
                if k == name:
                    return v.strip()
    except OSError:
        pass
    return None


def check_output(args, wrapper=()):
    """(rc, stdout, stderr) of preforkd args run to exit (with -t)."""
    p = subprocess.run(list(wrapper) + [harness.PREFORKD] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=20)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def sanitized():
    """An ASan build widens the sandbox for its runtime (-t says so)."""
    rc, out, _ = run_cli(['-t', '-l', '127.0.0.1:0', '.'])
    return 'sanitizer' in out


x86_64 = platform.machine() == 'x86_64'


class SandboxCli(unittest.TestCase):
    """Flags, -t and -V."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix='pfk-sbx-')
        self.addCleanup(shutil.rmtree, self.root, True)

    def check(self, *args):
        rc, out, err = run_cli(['-t', '-l', '127.0.0.1:0'] + list(args) +
                               [self.root])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines()[-1], 'ok')
        return out.splitlines()[0]

    def test_version_names_libseccomp(self):
        rc, out, err = run_cli(['-V'])
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r'(?m)^libseccomp \d+\.\d+\.\d+$')

    def test_check_config_reports_the_effective_sandbox(self):
        self.assertRegex(self.check(), r'^sandbox: strict \(Landlock ABI '
                         r'\d+, seccomp allow-list')
        self.assertRegex(self.check('-m', '/p=' + module_path('sandboxprobe')),
                         r'^sandbox: standard \(Landlock ABI \d+, seccomp '
                         r'deny-list')
        self.assertRegex(self.check('-m', '/p=' + module_path('sandboxprobe'),
                                    '--sandbox', 'strict'),
                         r'^sandbox: strict ')
        self.assertEqual(self.check('--sandbox', 'off'), 'sandbox: off')

    def test_bad_profile_is_a_usage_error(self):
        rc, out, err = run_cli(['-t', '--sandbox', 'loose', self.root])
        self.assertEqual(rc, EX_USAGE, err)
        self.assertIn('strict, standard or off', err)

    def test_relative_path_is_a_usage_error(self):
        rc, out, err = run_cli(['-t', '--sandbox-read', 'etc', self.root])
        self.assertEqual(rc, EX_USAGE, err)
        self.assertIn('absolute', err)

    def test_missing_path_is_a_config_error(self):
        missing = os.path.join(self.root, 'missing')
        rc, out, err = run_cli(['-t', '--sandbox-write', missing, self.root])
        self.assertEqual(rc, EX_CONFIG, err)
        self.assertIn(missing, err)
        # Not checked when nothing is sandboxed.
        rc, out, err = run_cli(['-t', '--sandbox', 'off', '--sandbox-write',
                                missing, self.root])
        self.assertEqual(rc, 0, err)


@unittest.skipUnless(x86_64, 'the ENOSYS wrapper knows x86-64 numbers only')
class SandboxDegraded(ServerTestCase):
    """A kernel without Landlock or seccomp: one warning, or a refusal."""

    def test_no_landlock_warns_once_and_serves(self):
        srv, pids = self.start_ready(['-w', '2'],
                                     wrapper=hide(NR_LANDLOCK_CREATE_RULESET),
                                     nworkers=2)
        self.assert_serving(srv)
        warns = [l for l in srv.error_lines() if 'sandbox' in l]
        self.assertEqual(len(warns), 1, warns)
        self.assertRegex(warns[0], r' warn master pid=\d+: sandbox strict: '
                         r'this kernel offers no Landlock, so file-system '
                         r'rules are not enforced$')
        # What the kernel has is still applied.
        self.assertEqual(proc_field(pids[0], 'Seccomp'), '2')

    def test_no_landlock_refuses_explicit_strict(self):
        rc, out, err = check_output(['-l', '127.0.0.1:0', '--sandbox',
                                     'strict', self.root],
                                    wrapper=hide(NR_LANDLOCK_CREATE_RULESET))
        self.assertEqual(rc, EX_CONFIG, (out, err))
        self.assertEqual(err.strip(), 'preforkd: --sandbox strict cannot be '
                         'enforced: this kernel offers no Landlock')
        # standard, asked for explicitly, is done as far as it goes.
        rc, out, err = check_output(['-t', '--sandbox', 'standard',
                                     self.root],
                                    wrapper=hide(NR_LANDLOCK_CREATE_RULESET))
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r'sandbox: standard \(no Landlock, seccomp '
                         r'deny-list(, widened for the sanitizers)?\)')

    def test_no_seccomp_is_reported_and_refused(self):
        rc, out, err = check_output(['-t', self.root],
                                    wrapper=hide(NR_SECCOMP))
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r'sandbox: strict \(Landlock ABI \d+, no '
                         r'seccomp(, widened for the sanitizers)?\)')
        rc, out, err = check_output(['-t', '--sandbox', 'strict', self.root],
                                    wrapper=hide(NR_SECCOMP))
        self.assertEqual(rc, EX_CONFIG, err)
        self.assertIn('offers no seccomp', err)


class SandboxStatic(ServerTestCase):
    """A plain static server: strict by default, and still serving."""

    def test_workers_keeper_and_status_process_are_confined(self):
        srv = self.start_server(['-w', '2', '--status-listen',
                                 '127.0.0.1:0'])
        self.assertTrue(srv.wait_log(r'ready: 2 workers'))
        m = srv.wait_log(r'status process started \(pid (\d+)\)')
        self.assertTrue(m)
        spid = int(m.group(1))
        pids = [p for p in srv.wait_workers(3) if p != spid]
        self.assertEqual(len(pids), 2, pids)
        for pid in pids:
            self.assertEqual(proc_field(pid, 'NoNewPrivs'), '1')
            self.assertEqual(proc_field(pid, 'Seccomp'), '2')
        self.assertEqual(proc_field(srv.pid, 'Seccomp'), '0')
        self.assertTrue(harness.wait_for(
            lambda: proc_field(spid, 'Seccomp') == '2', 5.0))
        # SPEC 10: the keeper too, always strict.
        self.assertTrue(harness.wait_for(
            lambda: srv.keeper_pid() is not None, 5.0))
        kpid = srv.keeper_pid()
        self.assertTrue(harness.wait_for(
            lambda: proc_field(kpid, 'Seccomp') == '2', 5.0),
            proc_field(kpid, 'Seccomp'))
        self.assertEqual(proc_field(kpid, 'NoNewPrivs'), '1')
        port = int(re.findall(r'listening on 127\.0\.0\.1:(\d+)',
                              srv.error_text())[-1])
        with Client(port) as c:
            c.send(b'GET /status HTTP/1.1\r\nHost: x\r\n\r\n')
            r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertIn(b'workers', r.body.lower())
        self.assertEqual(proc_field(spid, 'Seccomp'), '2')

    def test_static_requests_under_strict(self):
        srv, pids = self.start_ready(['-w', '1'])
        self.assertEqual(proc_field(pids[0], 'Seccomp'), '2')
        r = self.get('/hello.txt', srv=srv)
        self.assertEqual((r.status, r.body), (200, b'Hello, World!'))
        r = self.get('/1k.bin', [('Range', 'bytes=10-19')], srv=srv)
        self.assertEqual((r.status, r.body), (206, bytes(range(10, 20))))
        r = self.get('/big.txt', [('Accept-Encoding', 'gzip')], srv=srv)
        self.assertEqual((r.status, r.header('Content-Encoding')),
                         (200, 'gzip'))
        lm = self.get('/hello.txt', srv=srv).header('Last-Modified')
        r = self.get('/hello.txt', [('If-Modified-Since', lm)], srv=srv)
        self.assertEqual(r.status, 304)
        self.assertEqual(self.get('/nope', srv=srv).status, 404)
        self.assertEqual(self.get('/sub/', srv=srv).status, 200)
        self.assertEqual(self.get('/escape.txt', srv=srv).status, 403)
        self.assertEqual(srv.worker_pids(), pids)
        self.assertNotIn('blocked syscall', srv.error_text())

    def test_usr1_reopens_the_logs_under_strict(self):
        srv, pids = self.start_ready(['-w', '2'], nworkers=2)
        self.assertEqual(proc_field(pids[0], 'Seccomp'), '2')
        self.assert_serving(srv)
        for p in (srv.error_log, srv.access_log):
            os.rename(p, p + '.1')
        srv.send_signal(signal.SIGUSR1)
        self.assertTrue(srv.wait_log(r'logs reopened'))
        for _ in range(4):      # both workers, whichever takes them
            self.assert_serving(srv)
        self.assertTrue(harness.wait_for(
            lambda: os.path.exists(srv.access_log) and
            srv._read(srv.access_log).count('GET /hello.txt') >= 4, 5.0))
        self.assertEqual(sorted(srv.worker_pids()), sorted(pids))
        text = srv.error_text() + srv._read(srv.error_log + '.1')
        self.assertNotIn('reopening logs', text)
        self.assertNotIn('blocked syscall', text)


class SandboxProbe(ServerTestCase):
    """The probe module under each profile."""

    def setUp(self):
        super().setUp()
        self.created = os.path.join(self.root, 'sandboxprobe-created')
        self.addCleanup(lambda: os.path.exists(self.created) and
                        os.unlink(self.created))
        # A listener of ours for the outbound connection.
        self.lsock = socket.socket()
        self.addCleanup(self.lsock.close)
        self.lsock.bind(('127.0.0.1', 0))
        self.lsock.listen(8)
        self.lport = self.lsock.getsockname()[1]

    def start_probe(self, *args):
        srv, _ = self.start_ready(['-w', '1', '-m', '/p=' +
                                   module_path('sandboxprobe'),
                                   '--module-option', '/p dir ' + self.root] +
                                  list(args))
        return srv

    def outcomes(self, srv, names=('passwd', 'create', 'link', 'exec',
                                   'ptrace')):
        """{name: body line} of each attempt that got a 200."""
        got = {}
        for n in names:
            r = self.get('/p/' + n, srv=srv)
            self.assertEqual(r.status, 200, (n, r))
            got[n] = r.body.decode().strip()
        return got

    def connect_outcome(self, srv):
        r = self.get('/p/connect?%d' % self.lport, srv=srv)
        return r

    def test_strict_denies_files_and_kills_on_other_syscalls(self):
        srv = self.start_probe('--sandbox', 'strict')
        self.assertEqual(self.outcomes(srv, ('passwd', 'create', 'link')),
                         {'passwd': 'passwd EACCES',
                          'create': 'create EACCES',
                          'link': 'link EACCES'})
        self.assertFalse(os.path.exists(self.created))
        killers = [('exec', 'execve'), ('connect?%d' % self.lport, 'socket'),
                   ('kill', 'kill')]
        if sanitized():     # LeakSanitizer's ptrace is allowed there
            self.assertEqual(self.outcomes(srv, ('ptrace',)),
                             {'ptrace': 'ptrace ESRCH'})
        else:
            killers.append(('ptrace', 'ptrace'))
        for what, call in killers:
            mark = len(srv.error_lines())
            pid = srv.worker_pids()[0]
            r = self.get('/p/' + what, srv=srv)
            self.assertEqual(r.status, 500, (what, r))
            line = srv.wait_log(
                r'error worker 1 pid=%d: worker 1 \(pid %d\) blocked syscall '
                r'%s \(\d+\) while serving GET /p/%s from 127\.0\.0\.1:\d+; '
                r'backtrace:' % (pid, pid, call, re.escape(what)), start=mark)
            self.assertTrue(line, srv.error_lines()[mark:])
            self.assertTrue(srv.wait_log(
                r'warn master pid=\d+: worker 1 \(pid %d\) killed by SIGSYS '
                r'while serving GET /p/%s' % (pid, re.escape(what)),
                start=mark), srv.error_lines()[mark:])
            # The report carries the backtrace through the module.
            self.assertIn('sandboxprobe.so', srv.error_text())
            srv.wait_workers(1)

    def test_standard_denies_files_and_exec_keeps_network(self):
        srv = self.start_probe()        # the default with a module
        self.assertEqual(self.outcomes(srv), {
            'passwd': 'passwd EACCES', 'create': 'create EACCES',
            'link': 'link EACCES', 'exec': 'exec EPERM',
            'ptrace': 'ptrace ' + ('ESRCH' if sanitized() else 'EPERM')})
        self.assertFalse(os.path.exists(self.created))
        r = self.connect_outcome(srv)
        self.assertEqual((r.status, r.body), (200, b'connect ok\n'))
        # Processes yes, namespaces no.
        self.assertEqual(self.outcomes(srv, ('fork', 'newns', 'kill')),
                         {'fork': 'fork ok', 'newns': 'newns EPERM',
                          'kill': 'kill ok'})
        self.assertNotIn('killed by', srv.error_text())

    def test_off_allows_everything(self):
        srv = self.start_probe('--sandbox', 'off')
        # exec and ptrace got past every permission check: EFAULT (the
        # argv is invalid on purpose) and ESRCH (nothing traced).
        self.assertEqual(self.outcomes(srv), {
            'passwd': 'passwd ok', 'create': 'create ok', 'link': 'link ok',
            'exec': 'exec EFAULT', 'ptrace': 'ptrace ESRCH'})
        self.assertTrue(os.path.exists(self.created))
        r = self.connect_outcome(srv)
        self.assertEqual((r.status, r.body), (200, b'connect ok\n'))
        self.assertEqual(self.outcomes(srv, ('fork', 'newns', 'kill')),
                         {'fork': 'fork ok', 'newns': 'newns ok',
                          'kill': 'kill ok'})
        pid = srv.worker_pids()[0]
        self.assertEqual(proc_field(pid, 'Seccomp'), '0')

    def test_declared_paths_are_granted(self):
        spool = tempfile.mkdtemp(prefix='pfk-spool-')
        self.addCleanup(shutil.rmtree, spool, True)
        srv, _ = self.start_ready([
            '-w', '1', '-m', '/p=' + module_path('sandboxprobe'),
            '--module-option', '/p dir ' + spool,
            '--module-option', '/p sandbox-read /etc/passwd',
            '--sandbox-write', spool])
        self.assertEqual(self.outcomes(srv, ('passwd', 'create')),
                         {'passwd': 'passwd ok', 'create': 'create ok'})
        self.assertTrue(os.path.exists(os.path.join(
            spool, 'sandboxprobe-created')))
        # Declaring paths lifts no syscall rule.
        self.assertEqual(self.outcomes(srv, ('exec',)),
                         {'exec': 'exec EPERM'})


if __name__ == '__main__':
    harness.main()
