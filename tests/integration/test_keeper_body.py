"""Request bodies read by the keeper (SPEC section 1, KEEPER.md 4).

A chunked body is framed by the keeper (sizes, extensions, CRLFs,
trailers) and handed to a worker untouched once it is complete, or as it
is once more than --buffer-body of it came; the body limit and every
framing error are answered by the keeper as a worker answers them. Two
ways into the keeper: a new connection whose first head is slow (the
worker that accepted it parks it), and a kept-alive connection that went
idle. Whether a connection is in the keeper is read from /proc: the
server side of this very connection among the keeper's descriptors.

The smuggling table of test_smuggling.py is replayed through both ways:
every payload must get the verdict the table wants and the very statuses
the worker path gives.
"""

import concurrent.futures
import os
import select
import shutil
import socket
import tempfile
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import (ServerTestCase, Server, request_bytes,  # noqa: E402
                     wait_for)
import test_smuggling as smug  # noqa: E402

FAST_PATH = 0.25    # IDLE_YIELD_MS: a worker waits this long before parking


def shipped_path(name):
    return os.path.join(harness.module_dirs()[1], name + '.so')


def server_inode(port, peer_port):
    """The inode of the server's socket of the loopback connection from
    peer_port to port (None when there is none)."""
    with open('/proc/net/tcp') as f:
        next(f)
        for line in f:
            p = line.split()
            if int(p[1].split(':')[1], 16) == port and \
                    int(p[2].split(':')[1], 16) == peer_port:
                return int(p[9])
    return None


def holds(pid, port, sock):
    """Whether process pid holds the server side of sock's connection."""
    inode = server_inode(port, sock.getsockname()[1])
    if inode is None or inode == 0:
        return False
    want = 'socket:[%d]' % inode
    try:
        fds = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink('/proc/%d/fd/%s' % (pid, fd)) == want:
                return True
        except OSError:
            pass
    return False


def readable(sock):
    return bool(select.select([sock], [], [], 0)[0])


def chunked(*pieces, ext=b'', trailers=b''):
    out = b''
    for p in pieces:
        out += b'%x%s\r\n' % (len(p), ext) + p + b'\r\n'
    return out + b'0\r\n' + trailers + b'\r\n'


def post_head(target='/hello.txt', headers=(), te=True):
    hdrs = [('Transfer-Encoding', 'chunked')] if te else []
    return request_bytes('POST', target, hdrs + list(headers))


# --------------------------------------------------------------------------
# Exchanges through the keeper (the outcome is judged as test_smuggling
# judges its own)

def finish_exchange(s, out, wanted):
    """Reads the answers to what was sent, then the sentinel's."""
    deadline = time.monotonic() + smug.READ_DEADLINE

    def enough(data, closed):
        return wanted is not None and \
            len(smug.parse_responses(data, closed)[0]) >= wanted

    out.data, out.closed = smug.recv_until(s, enough, deadline)
    if not out.closed:
        try:
            s.sendall(smug.SENTINEL)
        except OSError as e:
            out.send_error = e
        data, closed = smug.recv_until(s, lambda d, c: False,
                                       time.monotonic() + smug.READ_DEADLINE)
        out.sentinel_data, out.sentinel_closed = data, closed
    out.responses, out.rest = smug.parse_responses(out.data, out.closed)
    return out


def kept_alive_exchange(srv, keeper, data, wanted):
    """GET /ok.txt, waits until the idle connection is the keeper's, then
    sends data in one piece. Returns (outcome, parked)."""
    out = smug.Outcome()
    s = socket.create_connection(('127.0.0.1', srv.port),
                                 timeout=smug.READ_DEADLINE)
    try:
        s.sendall(b'GET /ok.txt HTTP/1.1\r\nHost: x\r\n\r\n')
        first, closed = smug.recv_until(
            s, lambda d, c: len(smug.parse_responses(d, c)[0]) >= 1,
            time.monotonic() + smug.READ_DEADLINE)
        rs, rest = smug.parse_responses(first, closed)
        if closed or len(rs) != 1 or rs[0].status != 200 or rest:
            raise AssertionError('GET /ok.txt got %r' % first[:200])
        parked = wait_for(lambda: holds(keeper, srv.port, s), 5.0)
        if not parked:
            return out, False
        try:
            s.sendall(data)
        except OSError as e:
            out.send_error = e
        return finish_exchange(s, out, wanted), True
    finally:
        s.close()


def slow_head_exchange(srv, keeper, data, wanted, cut=5):
    """Sends the first cut bytes of data on a new connection, waits until
    the keeper holds it (or the worker answered already), then the rest.
    Returns (outcome, parked)."""
    out = smug.Outcome()
    s = socket.create_connection(('127.0.0.1', srv.port),
                                 timeout=smug.READ_DEADLINE)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(data[:cut])
        wait_for(lambda: holds(keeper, srv.port, s) or readable(s), 5.0)
        parked = holds(keeper, srv.port, s)
        try:
            s.sendall(data[cut:])
        except OSError as e:
            out.send_error = e
        return finish_exchange(s, out, wanted), parked
    finally:
        s.close()


def statuses(out):
    return [r.status for r in out.responses]


class KeeperSmuggling(ServerTestCase):
    """The smuggling table through the keeper: one server (-w 2) with the
    same limits as test_smuggling's."""

    @classmethod
    def setUpClass(cls):
        root = tempfile.mkdtemp(prefix='pfk-kbody-')
        cls.addClassCleanup(shutil.rmtree, root, True)
        with open(os.path.join(root, 'smuggled'), 'wb') as f:
            f.write(smug.SMUGGLED_BODY)
        with open(os.path.join(root, 'ok.txt'), 'wb') as f:
            f.write(smug.OK_BODY)
        cls.root = root
        srv = Server()
        cls.addClassCleanup(srv.cleanup)
        srv.start(smug.SERVER_ARGS, root)
        cls.server = srv

    def setUp(self):
        super().setUp()
        self.pids = self.server.wait_workers(2)
        self.assertEqual(len(self.pids), 2, self.pids)
        self.keeper = wait_for(self.server.keeper_pid, 5.0)
        self.assertTrue(self.keeper, 'no keeper')

    def tearDown(self):
        if self.server.alive():
            self.assertEqual(self.server.worker_pids(), self.pids,
                             'workers changed: one died under a payload')
            self.assertEqual(self.server.keeper_pid(), self.keeper,
                             'the keeper died under a payload')
        super().tearDown()

    def replay(self, way):
        """Runs every payload the worker's way and the given way (a few at
        a time: the waits for parking overlap) and compares."""
        srv = self.server

        def one(item):
            name, payload, exp, why = item
            exps = exp if isinstance(exp, list) else [exp]
            wanted = smug.wanted_responses(exps)
            direct = smug.exchange(srv.port, [payload + smug.SECOND], wanted)
            out, parked = way(srv, self.keeper, payload + smug.SECOND, wanted)
            return name, why, exps, direct, out, parked

        problems, parked_n = [], 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            for name, why, exps, direct, out, parked in \
                    pool.map(one, smug.PAYLOADS):
                parked_n += parked
                problem = smug.verdict(exps, out)
                if problem is None and statuses(out) != statuses(direct):
                    problem = 'statuses %r, the worker path gives %r' % (
                        statuses(out), statuses(direct))
                if problem is not None:
                    problems.append('%s (%s): %s\n    got %r' % (
                        name, why, problem, out))
        self.assertEqual(problems, [], '\n'.join(problems))
        return parked_n

    def test_every_payload_after_keep_alive(self):
        parked = self.replay(kept_alive_exchange)
        self.assertEqual(parked, len(smug.PAYLOADS),
                         'not every connection was parked first')

    def test_every_payload_after_a_slow_first_head(self):
        parked = self.replay(slow_head_exchange)
        # A few payloads are refused on their first bytes.
        self.assertGreater(parked, len(smug.PAYLOADS) * 0.8)


class ChunkedBodies(ServerTestCase):
    """A chunked body waits in the keeper, not in a worker (-w 1)."""

    def start_echo(self, extra=()):
        srv, _ = self.start_ready(['-w', '1', '-m', '/echo=' +
                                   shipped_path('echo')] + list(extra), 1)
        srv.keeper = wait_for(srv.keeper_pid, 5.0)
        self.assertTrue(srv.keeper, 'no keeper')
        return srv

    def wait_keeper_holds(self, srv, c, timeout=5.0):
        self.assertTrue(wait_for(lambda: holds(srv.keeper, srv.port, c.sock),
                                 timeout), 'the keeper does not hold it')

    def assert_prompt(self, srv, limit=1.0):
        """Another client is served at once: the only worker is free."""
        t0 = time.monotonic()
        with harness.Client(srv.port, timeout=limit + 1) as p:
            p.send(request_bytes('GET', '/hello.txt',
                                 [('Connection', 'close')]))
            r = p.read_response(timeout=limit + 1)
        self.assertEqual(r.status, 200, r)
        took = time.monotonic() - t0
        self.assertLess(took, limit, 'another client waited %.2f s' % took)

    def kept_alive(self, srv):
        c = self.connect(srv)
        c.send(request_bytes('GET', '/hello.txt'))
        self.assertEqual(c.read_response().status, 200)
        self.wait_keeper_holds(srv, c)
        return c

    def test_slow_chunked_body_of_a_new_connection_waits_in_the_keeper(self):
        srv = self.start_echo()
        c = self.connect(srv)
        c.send(post_head('/echo') + b'5\r\nhello\r\n')
        self.wait_keeper_holds(srv, c)
        self.assert_prompt(srv)
        c.send(b'6\r\n world\r\n0\r\n\r\n')
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b'hello world'))
        self.assert_prompt(srv)

    def test_chunked_body_after_keep_alive_waits_in_the_keeper(self):
        srv = self.start_echo()
        c = self.kept_alive(srv)
        c.send(post_head('/echo') + b'5\r\nhel')
        time.sleep(FAST_PATH)   # the point: the keeper had time to hand it
        self.assertTrue(holds(srv.keeper, srv.port, c.sock),
                        'handed to a worker before its body came')
        self.assert_prompt(srv)
        c.send(b'lo\r\n0\r\n\r\n' + request_bytes('GET', '/hello.txt'))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b'hello'))
        r = c.read_response()   # the pipelined request travelled too
        self.assertEqual((r.status, r.body), (200, b'Hello, World!'))

    def test_chunked_form_goes_over_untouched(self):
        # Extensions, trailers, many small chunks sent in odd pieces: the
        # worker decodes what the client sent.
        srv = self.start_echo()
        pieces = [bytes([65 + i % 26]) * (i % 7 + 1) for i in range(60)]
        body = chunked(*pieces, ext=b' ; name="a b";x',
                       trailers=b'X-Sum: 1\r\nX-Other: two\r\n')
        c = self.kept_alive(srv)
        c.send(post_head('/echo') + body[:100])
        time.sleep(FAST_PATH)   # the point: the keeper holds it meanwhile
        self.assertTrue(holds(srv.keeper, srv.port, c.sock))
        for i in range(100, len(body), 77):
            c.send(body[i:i + 77])
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b''.join(pieces)))

    def test_chunked_body_over_buffer_body_is_handed_over_as_it_is(self):
        srv = self.start_echo(['--buffer-body', '1024'])
        c = self.kept_alive(srv)
        c.send(post_head('/echo') + b'258\r\n' + b'a' * 600)    # 0x258 = 600
        time.sleep(FAST_PATH)   # the point: it stays while under 1024
        self.assertTrue(holds(srv.keeper, srv.port, c.sock))
        c.send(b'\r\n258\r\n' + b'b' * 600)
        # Past --buffer-body: a worker takes it and reads the rest itself.
        self.assertTrue(wait_for(lambda: not holds(srv.keeper, srv.port,
                                                   c.sock), 3.0),
                        'the keeper still holds a body over --buffer-body')
        c.send(b'\r\n0\r\n\r\n')
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b'a' * 600 + b'b' * 600))

    def test_chunked_body_timeout_in_the_keeper(self):
        srv = self.start_echo(['--body-timeout', '1'])
        c = self.kept_alive(srv)
        t0 = time.monotonic()
        c.send(post_head('/echo') + b'5\r\nhel')
        r = c.read_response(timeout=4)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 408, r)
        self.assertGreater(took, 0.8, '408 after %.2f s' % took)
        self.assert_closed(c)

    def worker_answer(self, srv, raw):
        """What the worker answers for raw sent at once on a new
        connection: (status, closes)."""
        with harness.Client(srv.port) as c:
            c.send(raw)
            r = c.read_response()
            return r.status, r.has_token('Connection', 'close') and \
                c.is_closed(3.0)

    def keeper_answers(self, srv, raw, status):
        """raw gets status from the keeper itself, on a kept-alive
        connection and on a new one with a slow first head, with
        Connection: close and a close; a worker answers it the same way
        (and logs it, which the keeper does not)."""
        self.assertEqual(self.worker_answer(srv, raw), (status, True))
        logged = len(srv.access_lines())
        for way in ('kept-alive', 'slow-head'):
            with self.subTest(way=way):
                if way == 'kept-alive':
                    c = self.kept_alive(srv)
                    logged += 1
                    c.send(raw)
                else:
                    c = self.connect(srv)
                    c.send(raw[:10])
                    self.wait_keeper_holds(srv, c)
                    c.send(raw[10:])
                r = c.read_response()
                self.assertEqual(r.status, status, r)
                self.assert_common(r, 'POST')
                self.assertTrue(r.has_token('Connection', 'close'), r)
                self.assert_closed(c)
        # Each connection was closed after its line was written.
        self.assertEqual(len(srv.access_lines()), logged,
                         'a worker saw a request the keeper should answer: %r'
                         % srv.access_lines()[-4:])

    def test_bad_chunk_framing_is_answered_by_the_keeper(self):
        srv = self.start_echo(['--max-header-size', '1024'])
        cases = [
            ('bad hex', b'5x\r\nhello\r\n0\r\n\r\n'),
            ('no digits', b'\r\nhello\r\n0\r\n\r\n'),
            ('size overflow', b'10000000000000005\r\nhello\r\n0\r\n\r\n'),
            ('no CRLF after the data', b'5\r\nhelloX\r\n0\r\n\r\n'),
            ('bare LF after the size', b'5\nhello\r\n0\r\n\r\n'),
            ('size line too long', b'5;' + b'e' * 1100 + b'\r\nhello\r\n'),
            ('BWS without an extension', b'5 \r\nhello\r\n0\r\n\r\n'),
            ('trailer without a colon', b'0\r\nNoColon\r\n\r\n'),
            ('extensions dwarfing the data',
             (b'1;' + b'e' * 200 + b'\r\nx\r\n') * 20 + b'0\r\n\r\n'),
        ]
        for what, body in cases:
            with self.subTest(what=what):
                self.keeper_answers(srv, post_head() + body, 400)

    def test_max_body_size_in_the_keeper(self):
        srv = self.start_echo(['--max-body-size', '100'])
        with self.subTest(what='Content-Length over it, at once'):
            self.keeper_answers(srv, post_head(headers=[
                ('Content-Length', '101')], te=False), 413)
        with self.subTest(what='chunks adding up over it'):
            self.keeper_answers(srv, post_head() + chunked(b'a' * 60,
                                                           b'b' * 41), 413)
        with self.subTest(what='exactly the limit is served'):
            c = self.kept_alive(srv)
            c.send(post_head('/echo') + chunked(b'a' * 60, b'b' * 40))
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b'a' * 60 + b'b' * 40))

    def test_framing_rules_of_the_head_in_the_keeper(self):
        # Both framings, a coding after chunked, differing lengths: the
        # keeper refuses them as the worker does.
        srv = self.start_echo()
        cases = [
            ('CL and TE', [('Content-Length', '5'),
                           ('Transfer-Encoding', 'chunked')], 400),
            ('TE not ending in chunked', [('Transfer-Encoding',
                                           'chunked, gzip')], 501),
            ('chunked twice', [('Transfer-Encoding', 'chunked'),
                               ('Transfer-Encoding', 'chunked')], 400),
            ('differing Content-Lengths', [('Content-Length', '5'),
                                           ('Content-Length', '6')], 400),
            ('unknown coding', [('Transfer-Encoding', 'gzip, chunked')], 501),
        ]
        for what, hdrs, status in cases:
            with self.subTest(what=what):
                self.keeper_answers(srv, post_head(headers=hdrs, te=False) +
                                    chunked(b'hello'), status)


if __name__ == '__main__':
    harness.main()
