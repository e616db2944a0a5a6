"""A real HAProxy for the tests, started and stopped by PID.

start_haproxy(cfg_text) writes the configuration into a fresh temporary
directory (the text may use {dir} for it, e.g. for the stats socket),
runs `haproxy -f CFG -db` in the foreground, and waits until its stats
socket answers. The returned object speaks to that socket: stat() parses
`show stat`, servers_state() parses `show servers state`, cmd() sends any
command; stop() ends HAProxy by its PID (TERM, then KILL) and removes the
directory. Standard library only. Needs a `stats socket {dir}/h.sock`
line in the global section.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

START_TIMEOUT = 10.0


def haproxy_path():
    """The haproxy binary, or None when it is not installed."""
    return shutil.which('haproxy') or next(
        (p for p in ('/usr/sbin/haproxy', '/usr/local/sbin/haproxy')
         if os.access(p, os.X_OK)), None)


class HAProxy:
    def __init__(self, exe, cfg_text, pass_fds=()):
        self.dir = tempfile.mkdtemp(prefix='pfk-haproxy-')
        self.cfg = os.path.join(self.dir, 'haproxy.cfg')
        self.sock = os.path.join(self.dir, 'h.sock')
        self.log = os.path.join(self.dir, 'haproxy.log')
        with open(self.cfg, 'w') as f:
            f.write(cfg_text.replace('{dir}', self.dir))
        with open(self.log, 'wb') as out:
            self.proc = subprocess.Popen(
                [exe, '-f', self.cfg, '-db'], stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, cwd=self.dir,
                pass_fds=tuple(pass_fds))
        self.pid = self.proc.pid

    def log_text(self):
        with open(self.log, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def cmd(self, line, timeout=5.0):
        """One command on the stats socket; returns the whole answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.sock)
            s.sendall(line.encode() + b'\n')
            out = b''
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        return out.decode('utf-8', 'replace')

    def stat(self):
        """`show stat` as a list of dicts (pxname, svname, status, weight...)."""
        lines = [l for l in self.cmd('show stat').split('\n') if l]
        head = lines[0].lstrip('# ').split(',')
        return [dict(zip(head, l.split(','))) for l in lines[1:]]

    def server(self, backend, name):
        """The `show stat` row of one server, or None."""
        for row in self.stat():
            if row.get('pxname') == backend and row.get('svname') == name:
                return row
        return None

    def servers_state(self, backend=''):
        """`show servers state` as a list of dicts (srv_name, srv_uweight...)."""
        lines = [l for l in self.cmd('show servers state ' + backend).split('\n')
                 if l]
        head = None
        rows = []
        for l in lines[1:]:             # the first is the format version
            if l.startswith('#'):
                head = l.lstrip('# ').split(' ')
            elif head:
                rows.append(dict(zip(head, l.split(' '))))
        return rows

    def wait_started(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('haproxy exited with %d: %s' % (
                    self.proc.returncode, self.log_text()[-2000:]))
            try:
                if 'pxname' in self.cmd('show stat', timeout=1.0):
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError('haproxy stats socket silent: %s' % self.log_text())

    def stop(self):
        """Ends HAProxy by its PID and removes its directory."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        shutil.rmtree(self.dir, True)


def start_haproxy(cfg_text, pass_fds=()):
    """Starts HAProxy with cfg_text ({dir}: its temporary directory);
    returns the HAProxy object once its stats socket answers."""
    exe = haproxy_path()
    if exe is None:
        raise FileNotFoundError('haproxy is not installed')
    return HAProxy(exe, cfg_text, pass_fds).wait_started()
