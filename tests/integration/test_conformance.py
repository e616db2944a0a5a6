"""Conformance of the static handler and the request reader (review #10):
the directory redirect's Location, revalidation of cached files, Vary on
files with a .gz variant, chunk extensions with BWS, and HTTP/1.x minor
versions above 1."""

import gzip
import os

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import ServerTestCase, request_bytes, wait_for  # noqa: E402

# A worker re-checks a cached file at most once a second (fcache.h).
RECHECK_DEADLINE = 5.0


class DirectoryRedirect(ServerTestCase):
    """The 301 that adds a directory's slash (#10 item 4)."""

    server_args = ['-w', '2']

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for d in ('a b', '\\evil.example', 'q%d'):
            os.makedirs(os.path.join(cls.root, d))

    def location(self, target):
        r = self.get(target)
        self.assertEqual(r.status, 301, '%s: %r' % (target, r))
        loc = r.header('Location')
        self.assertIsNotNone(loc, r)
        self.assertFalse(loc.startswith('//'), '%s: Location %r' % (target, loc))
        self.assertNotIn('\\', loc, '%s: Location %r' % (target, loc))
        return loc

    def test_no_open_redirect(self):
        # "//evil.example/../sub" names /sub; a browser would follow
        # "//evil.example/../sub/" off-site.
        self.assertEqual(self.location('//evil.example/../sub'), '/sub/')
        self.assertEqual(self.location('//evil.example/%2e%2e/sub?x=1'),
                         '/sub/?x=1')
        self.assertEqual(self.location('http://x//evil.example/../sub'),
                         '/sub/')
        self.assertEqual(self.location('/sub/..//sub'), '/sub/')

    def test_backslash_is_encoded(self):
        # Browsers read "/\host" as "//host".
        self.assertEqual(self.location('/\\evil.example'), '/%5Cevil.example/')
        self.assertEqual(self.location('/%5Cevil.example'), '/%5Cevil.example/')

    def test_plain_directory_query_kept(self):
        self.assertEqual(self.location('/sub'), '/sub/')
        self.assertEqual(self.location('/sub?x=1'), '/sub/?x=1')
        self.assertEqual(self.location('/sub?a=%20b&c=/d?e'), '/sub/?a=%20b&c=/d?e')
        # from the normalised path
        self.assertEqual(self.location('/./sub'), '/sub/')
        self.assertEqual(self.location('/emptydir/../sub?x=1'), '/sub/?x=1')

    def test_path_percent_encoded(self):
        self.assertEqual(self.location('/a%20b'), '/a%20b/')
        self.assertEqual(self.location('/q%25d'), '/q%25d/')
        self.assertEqual(self.location('/%71%25d'), '/q%25d/')
        self.assertEqual(self.location('/sub/../a%20b'), '/a%20b/')
        # the Location leads to the directory's index: 403 (none here)
        self.assertEqual(self.get('/a%20b/').status, 403)


class CacheRevalidation(ServerTestCase):
    """A cached file rewritten with the same size and mtime (#10 item 16).
    One worker, so every request sees the same cache."""

    server_args = ['-w', '1']

    def put(self, name, data):
        path = os.path.join(self.root, name)
        with open(path, 'wb') as f:
            f.write(data)
        return path

    def fetch(self, name, headers=None):
        r = self.get('/' + name, headers=headers)
        self.assertIn(r.status, (200, 304), r)
        return r

    def warm(self, name, data):
        """Serves name until the worker has it cached; returns its ETag."""
        for _ in range(2):
            r = self.fetch(name)
            self.assertEqual(r.body, data)
        return r.header('ETag')

    def rewrite_in_place(self, path, data):
        """Rewrites path in place (same inode, same size), mtime restored
        (what "cp -p" or "rsync -t --inplace" does): only ctime moves."""
        st = os.stat(path)

        def rewrite():
            with open(path, 'r+b') as f:
                f.write(data)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
            return os.stat(path).st_ctime_ns != st.st_ctime_ns
        # A file system's coarse clock may not have ticked yet.
        self.assertTrue(wait_for(rewrite, 2.0, interval=0.005))
        now = os.stat(path)
        self.assertEqual((now.st_ino, now.st_size, now.st_mtime_ns),
                         (st.st_ino, st.st_size, st.st_mtime_ns))

    def replace_by_rename(self, path, data):
        """Puts a new file (new inode) with the same size and mtime in
        path's place by rename."""
        st = os.stat(path)
        tmp = path + '.tmp'
        with open(tmp, 'wb') as f:
            f.write(data)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.rename(tmp, path)
        now = os.stat(path)
        self.assertNotEqual(now.st_ino, st.st_ino)
        self.assertEqual((now.st_size, now.st_mtime_ns),
                         (st.st_size, st.st_mtime_ns))

    def await_new(self, name, new):
        """Waits until the new bytes are served; returns that response."""
        last = []

        def served():
            r = self.fetch(name)
            last[:] = [r]
            return r.body == new
        self.assertTrue(wait_for(served, RECHECK_DEADLINE, interval=0.1),
                        'still the old bytes after %.0f s: %r' % (
                            RECHECK_DEADLINE, last[0]))
        return last[0]

    def test_rewrite_in_place_same_mtime(self):
        old, new = b'version one\n' * 10, b'version TWO\n' * 10
        path = self.put('inplace.txt', old)
        etag = self.warm('inplace.txt', old)
        lastmod = self.fetch('inplace.txt').header('Last-Modified')
        self.rewrite_in_place(path, new)
        r = self.await_new('inplace.txt', new)
        self.assertNotEqual(r.header('ETag'), etag)
        self.assertEqual(r.header('Last-Modified'), lastmod)
        # A client holding the old ETag gets the new bytes, not a 304.
        r = self.fetch('inplace.txt', headers=[('If-None-Match', etag)])
        self.assertEqual((r.status, r.body), (200, new))

    def test_rewrite_in_place_large_file(self):
        # Over the in-memory limit: served from the descriptor.
        old, new = b'a' * 40000, b'b' * 40000
        path = self.put('inplace.bin', old)
        etag = self.warm('inplace.bin', old)
        self.rewrite_in_place(path, new)
        self.assertTrue(wait_for(
            lambda: self.fetch('inplace.bin').header('ETag') != etag,
            RECHECK_DEADLINE, interval=0.1), 'ETag unchanged')
        self.assertEqual(self.fetch('inplace.bin').body, new)

    def test_replace_by_rename_same_mtime(self):
        old, new = b'first file\n' * 10, b'other file\n' * 10
        path = self.put('renamed.txt', old)
        etag = self.warm('renamed.txt', old)
        self.replace_by_rename(path, new)
        r = self.await_new('renamed.txt', new)
        self.assertNotEqual(r.header('ETag'), etag)
        r = self.fetch('renamed.txt', headers=[('If-None-Match', etag)])
        self.assertEqual((r.status, r.body), (200, new))


class VaryOnVariants(ServerTestCase):
    """Vary: Accept-Encoding on every response for a file with a .gz
    sibling, whichever variant it carries (#10 item 21)."""

    server_args = ['-w', '2']

    GZ = [('Accept-Encoding', 'gzip')]

    def assert_vary(self, r, want=True):
        self.assertEqual(r.has_token('Vary', 'Accept-Encoding'), want, r)

    def test_both_variants_vary(self):
        r = self.get('/big.txt')
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header('Content-Encoding'))
        self.assertEqual(r.body, self.files['big.txt'])
        self.assert_vary(r)
        r = self.get('/big.txt', headers=self.GZ)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header('Content-Encoding'), 'gzip')
        self.assertEqual(gzip.decompress(r.body), self.files['big.txt'])
        self.assert_vary(r)

    def test_head_varies(self):
        for headers in (None, self.GZ):
            r = self.get('/big.txt', headers=headers, method='HEAD')
            self.assertEqual(r.status, 200)
            self.assert_vary(r)

    def test_304_varies(self):
        for headers in ([], self.GZ):
            etag = self.get('/big.txt', headers=headers).header('ETag')
            r = self.get('/big.txt', headers=headers + [('If-None-Match', etag)])
            self.assertEqual(r.status, 304, r)
            self.assert_vary(r)

    def test_range_varies(self):
        for headers in ([], self.GZ):
            r = self.get('/big.txt', headers=headers + [('Range', 'bytes=0-9')])
            self.assertEqual(r.status, 206, r)
            self.assert_vary(r)
            r = self.get('/big.txt', headers=headers + [('Range', 'bytes=9999999-')])
            self.assertEqual(r.status, 416, r)
            self.assert_vary(r)

    def test_vary_only_with_a_sibling(self):
        for headers in (None, self.GZ):
            for method in ('GET', 'HEAD'):
                r = self.get('/hello.txt', headers=headers, method=method)
                self.assertEqual(r.status, 200)
                self.assert_vary(r, False)
        # a sibling that appears is seen when the entry is re-checked
        with open(os.path.join(self.root, 'late.txt'), 'wb') as f:
            f.write(b'late\n')
        self.assert_vary(self.get('/late.txt'), False)
        with open(os.path.join(self.root, 'late.txt.gz'), 'wb') as f:
            f.write(gzip.compress(b'late\n'))
        self.assertTrue(wait_for(
            lambda: self.get('/late.txt').has_token('Vary', 'Accept-Encoding'),
            RECHECK_DEADLINE, interval=0.1), 'no Vary after the .gz appeared')


class Conformance(ServerTestCase):
    """Chunk extensions with BWS, and HTTP/1.x minor versions (#10 item 22)."""

    server_args = ['-w', '2']

    def post_then_get(self, chunk_line):
        """A chunked POST whose first chunk line is chunk_line, pipelined
        with a GET: both must be answered on the one connection."""
        raw = (b'POST /hello.txt HTTP/1.1\r\nHost: x\r\n'
               b'Transfer-Encoding: chunked\r\n\r\n' + chunk_line +
               b'\r\nhello\r\n0\r\n\r\n' +
               request_bytes('GET', '/hello.txt'))
        c = self.connect()
        c.send(raw)
        first = c.read_response()
        if first.status != 405:
            return first, None
        return first, c.read_response()

    def test_chunk_ext_with_bws(self):
        for line in (b'5;q=1', b'5 ;q=1', b'5; q=1', b'5 ; q = 1',
                     b'5\t;\tq\t=\t1', b'5  ;a;b="x y"', b'05 ; q'):
            first, second = self.post_then_get(line)
            self.assertEqual(first.status, 405, '%r: %r' % (line, first))
            self.assertFalse(first.has_token('Connection', 'close'), first)
            self.assertEqual((second.status, second.body),
                             (200, b'Hello, World!'), line)
        # BWS is allowed before ";" only: the chunk line stays strict
        for line in (b'5 ', b'5\t', b'5 5', b' 5;q=1', b'5 x;q=1'):
            raw = (b'POST /hello.txt HTTP/1.1\r\nHost: x\r\n'
                   b'Transfer-Encoding: chunked\r\n\r\n' + line +
                   b'\r\nhello\r\n0\r\n\r\n')
            self.assert_error_closes(raw, 400)

    def test_http_1_2_is_served_as_1_1(self):
        c = self.connect()
        c.send(request_bytes('GET', '/hello.txt', version='HTTP/1.2') +
               request_bytes('GET', '/hello.txt', version='HTTP/1.9'))
        for _ in range(2):
            r = c.read_response()
            self.assert_common(r)
            self.assertEqual((r.version, r.status, r.body),
                             ('HTTP/1.1', 200, b'Hello, World!'))
            # 1.1 semantics: persistent by default
            self.assertFalse(r.has_token('Connection', 'close'), r)

    def test_version_errors(self):
        # 1.2 is 1.1: Host is required
        self.assert_error_closes(b'GET /hello.txt HTTP/1.2\r\n\r\n', 400)
        # other major versions as before
        for version, status in (('HTTP/2.0', 505), ('HTTP/3.1', 505),
                                ('HTTP/0.9', 400)):
            self.assert_error_closes(
                request_bytes('GET', '/hello.txt', version=version), status)
        r = self.get('/hello.txt', version='HTTP/1.0')
        self.assertEqual((r.version, r.status), ('HTTP/1.1', 200))


if __name__ == '__main__':
    harness.main()
