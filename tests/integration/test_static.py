"""The static file handler (SPEC section 6)."""

import calendar
import email.utils
import gzip
import hashlib
import os

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import ServerTestCase, request_bytes, SECRET

STATIC_ARGS = ['-w', '2']


class StaticFiles(ServerTestCase):
    server_args = STATIC_ARGS

    def assert_status(self, target, status, **kw):
        r = self.get(target, **kw)
        self.assertEqual(r.status, status, '%s: %r' % (target, r))
        return r

    def test_root_serves_index_html(self):
        r = self.assert_status('/', 200)
        self.assertEqual(r.body, self.files['index.html'])
        self.assertTrue(r.header('Content-Type', '').startswith('text/html'), r)

    def test_subdir_with_slash_serves_its_index(self):
        r = self.assert_status('/sub/', 200)
        self.assertEqual(r.body, self.files['sub/index.html'])

    def test_index_html_by_name(self):
        r = self.assert_status('/sub/index.html', 200)
        self.assertEqual(r.body, self.files['sub/index.html'])

    def test_dir_without_slash_redirects_301(self):
        r = self.assert_status('/sub', 301)
        self.assertRegex(r.header('Location', ''), r'^(https?://[^/]+)?/sub/$')

    def test_dir_redirect_preserves_query(self):
        r = self.assert_status('/sub?a=1&b=2', 301)
        self.assertRegex(r.header('Location', ''),
                         r'^(https?://[^/]+)?/sub/\?a=1&b=2$')

    def test_dir_without_index_is_403(self):
        r = self.assert_status('/emptydir/', 403)
        self.assertTrue(r.header('Content-Type', '').startswith('text/plain'), r)

    def test_empty_dir_without_slash_redirects_301(self):
        r = self.assert_status('/emptydir', 301)
        self.assertRegex(r.header('Location', ''), r'^(https?://[^/]+)?/emptydir/$')

    def test_missing_file_is_404(self):
        self.assert_status('/nope.txt', 404)
        self.assert_status('/sub/nope/', 404)

    def test_dotfile_is_404(self):
        r = self.assert_status('/.hidden', 404)
        self.assertNotIn(b'hidden dotfile', r.body)

    def test_dotfile_in_subdir_is_404(self):
        r = self.assert_status('/sub/.secret', 404)
        self.assertNotIn(b'hidden in sub', r.body)

    def test_percent_encoded_dotfile_is_404(self):
        r = self.assert_status('/%2ehidden', 404)
        self.assertNotIn(b'hidden dotfile', r.body)

    def test_file_with_space_percent_encoded(self):
        r = self.assert_status('/with%20space.txt', 200)
        self.assertEqual(r.body, self.files['with space.txt'])

    def test_query_string_is_ignored_for_files(self):
        r = self.assert_status('/hello.txt?x=1&y=%2e%2e', 200)
        self.assertEqual(r.body, b'Hello, World!')

    def test_dot_segments_inside_root_are_normalised(self):
        for target in ('/sub/../hello.txt', '/./hello.txt', '//hello.txt'):
            r = self.assert_status(target, 200)
            self.assertEqual(r.body, b'Hello, World!', target)

    def assert_path_400(self, target):
        r, c = self.exchange(request_bytes('GET', target))
        self.assertEqual(r.status, 400, '%s: %r' % (target, r))
        self.assert_common(r)
        self.assertTrue(r.header('Content-Type', '').startswith('text/plain'), r)
        if r.has_token('Connection', 'close'):
            self.assert_closed(c)
        self.assert_serving()

    def test_dotdot_above_root_is_400(self):
        self.assert_path_400('/../hello.txt')

    def test_dotdot_deep_above_root_is_400(self):
        self.assert_path_400('/sub/../../hello.txt')

    def test_encoded_dotdot_above_root_is_400(self):
        self.assert_path_400('/%2e%2e/hello.txt')

    def test_encoded_dotdot_uppercase_above_root_is_400(self):
        self.assert_path_400('/sub/%2E%2E/%2E%2E/hello.txt')

    def test_encoded_slash_is_400(self):
        self.assert_path_400('/sub%2Findex.html')

    def test_encoded_nul_is_400(self):
        self.assert_path_400('/hello.txt%00')

    def test_bad_percent_escape_is_400(self):
        self.assert_path_400('/hello%zz.txt')

    def test_symlink_outside_root_is_refused(self):
        r = self.get('/escape.txt')
        self.assertIn(r.status, (403, 404), r)
        self.assertNotIn(SECRET, r.body)

    def test_symlinked_dir_outside_root_is_refused(self):
        r = self.get('/escapedir/secret.txt')
        self.assertIn(r.status, (403, 404), r)
        self.assertNotIn(SECRET, r.body)

    def test_symlink_inside_root_is_served(self):
        r = self.assert_status('/link.txt', 200)
        self.assertEqual(r.body, b'Hello, World!')

    def test_symlinked_dir_inside_root_is_served(self):
        r = self.assert_status('/linkdir/index.html', 200)
        self.assertEqual(r.body, self.files['sub/index.html'])

    def test_mime_types_from_extension(self):
        expected = {
            '/index.html': ('text/html',),
            '/hello.txt': ('text/plain',),
            '/style.css': ('text/css',),
            '/app.js': ('text/javascript', 'application/javascript'),
            '/img.png': ('image/png',),
            '/1k.bin': ('application/octet-stream',),
        }
        for target, types in expected.items():
            with self.subTest(target=target):
                r = self.assert_status(target, 200)
                ctype = r.header('Content-Type', '').split(';')[0].strip()
                self.assertIn(ctype, types, target)

    def test_1k_binary_file_is_exact(self):
        r = self.assert_status('/1k.bin', 200)
        self.assertEqual(r.body, self.files['1k.bin'])

    def test_1mib_file_is_intact(self):
        c = self.connect(timeout=15)
        c.send(request_bytes('GET', '/1m.bin'))
        r = c.read_response(timeout=15)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header('Content-Length'), str(1024 * 1024))
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), self.files['1m.sha256'])
        # The connection is still usable after a sendfile body.
        c.send(request_bytes('GET', '/hello.txt'))
        self.assertEqual(c.read_response().body, b'Hello, World!')

    # -- validators and conditional requests ---------------------------------

    def etag(self, target='/hello.txt'):
        return self.get(target).header('ETag')

    def test_etag_is_strong_and_stable(self):
        e1, e2 = self.etag(), self.etag()
        self.assertRegex(e1 or '', r'^"[^"]+"$')
        self.assertEqual(e1, e2)
        self.assertNotEqual(e1, self.etag('/1k.bin'))

    def test_last_modified_is_file_mtime(self):
        r = self.get('/hello.txt')
        lm = r.header('Last-Modified', '')
        self.assertRegex(lm, harness.IMF_FIXDATE_RE)
        t = calendar.timegm(email.utils.parsedate(lm))
        self.assertEqual(t, int(os.stat(os.path.join(self.root, 'hello.txt')).st_mtime))

    def test_if_none_match_same_etag_is_304(self):
        etag = self.etag()
        r = self.assert_status('/hello.txt', 304, headers=[('If-None-Match', etag)])
        self.assertIsNone(r.body)
        self.assertEqual(r.header('ETag'), etag)

    def test_if_none_match_304_has_no_body_on_keepalive(self):
        etag = self.etag()
        c = self.connect()
        c.send(request_bytes('GET', '/hello.txt', [('If-None-Match', etag)]) +
               request_bytes('GET', '/hello.txt'))
        self.assertEqual(c.read_response().status, 304)
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b'Hello, World!')

    def test_if_none_match_in_list_is_304(self):
        self.assert_status('/hello.txt', 304,
                           headers=[('If-None-Match', '"nope", %s' % self.etag())])

    def test_if_none_match_star_is_304(self):
        self.assert_status('/hello.txt', 304, headers=[('If-None-Match', '*')])

    def test_if_none_match_other_etag_is_200(self):
        r = self.assert_status('/hello.txt', 200,
                               headers=[('If-None-Match', '"not-the-etag"')])
        self.assertEqual(r.body, b'Hello, World!')

    def test_if_modified_since_last_modified_is_304(self):
        lm = self.get('/hello.txt').header('Last-Modified')
        self.assert_status('/hello.txt', 304, headers=[('If-Modified-Since', lm)])

    def test_if_modified_since_old_date_is_200(self):
        self.assert_status('/hello.txt', 200, headers=[
            ('If-Modified-Since', 'Mon, 01 Jan 1990 00:00:00 GMT')])

    def test_if_match_other_etag_is_412(self):
        self.assert_status('/hello.txt', 412, headers=[('If-Match', '"nope"')])

    def test_if_match_same_etag_is_200(self):
        self.assert_status('/hello.txt', 200, headers=[('If-Match', self.etag())])

    def test_if_unmodified_since_old_date_is_412(self):
        self.assert_status('/hello.txt', 412, headers=[
            ('If-Unmodified-Since', 'Mon, 01 Jan 1990 00:00:00 GMT')])

    # -- ranges -------------------------------------------------------------

    def assert_range(self, spec, first, last, extra=()):
        data = self.files['1k.bin']
        r = self.assert_status('/1k.bin', 206, headers=[('Range', spec)] + list(extra))
        self.assertEqual(r.header('Content-Range'),
                         'bytes %d-%d/%d' % (first, last, len(data)))
        self.assertEqual(r.header('Content-Length'), str(last - first + 1))
        self.assertEqual(r.body, data[first:last + 1])

    def test_range_first_bytes_is_206(self):
        self.assert_range('bytes=0-99', 0, 99)

    def test_range_suffix_is_206(self):
        self.assert_range('bytes=-100', 924, 1023)

    def test_range_open_ended_is_206(self):
        self.assert_range('bytes=1000-', 1000, 1023)

    def test_range_end_past_size_is_clamped(self):
        self.assert_range('bytes=1000-5000', 1000, 1023)

    def test_range_unsatisfiable_is_416(self):
        r = self.assert_status('/1k.bin', 416, headers=[('Range', 'bytes=2000-3000')])
        self.assertEqual(r.header('Content-Range'), 'bytes */1024')

    def test_multiple_ranges_serve_full_200(self):
        r = self.assert_status('/1k.bin', 200, headers=[('Range', 'bytes=0-1,5-6')])
        self.assertEqual(r.body, self.files['1k.bin'])
        self.assertIsNone(r.header('Content-Range'))

    def test_if_range_matching_etag_gives_206(self):
        self.assert_range('bytes=0-9', 0, 9,
                          extra=[('If-Range', self.etag('/1k.bin'))])

    def test_if_range_other_etag_gives_full_200(self):
        r = self.assert_status('/1k.bin', 200, headers=[('Range', 'bytes=0-9'),
                                                        ('If-Range', '"stale"')])
        self.assertEqual(r.body, self.files['1k.bin'])

    # -- precompressed variants ------------------------------------------------

    def test_gzip_variant_served_when_accepted(self):
        r = self.assert_status('/big.txt', 200, headers=[('Accept-Encoding', 'gzip')])
        self.assertEqual(r.header('Content-Encoding'), 'gzip', r)
        self.assertTrue(r.has_token('Vary', 'Accept-Encoding'), r)
        self.assertTrue(r.header('Content-Type', '').startswith('text/plain'), r)
        self.assertEqual(r.body, self.files['big.txt.gz'])
        self.assertEqual(gzip.decompress(r.body), self.files['big.txt'])

    def test_gzip_variant_served_with_qvalues_list(self):
        r = self.assert_status('/big.txt', 200, headers=[
            ('Accept-Encoding', 'br;q=1.0, gzip;q=0.8, *;q=0.1')])
        self.assertEqual(r.header('Content-Encoding'), 'gzip', r)

    def test_identity_served_without_accept_encoding(self):
        r = self.assert_status('/big.txt', 200)
        self.assertIsNone(r.header('Content-Encoding'))
        self.assertEqual(r.body, self.files['big.txt'])

    def test_identity_served_when_gzip_q0(self):
        r = self.assert_status('/big.txt', 200,
                               headers=[('Accept-Encoding', 'gzip;q=0')])
        self.assertIsNone(r.header('Content-Encoding'), r)
        self.assertEqual(r.body, self.files['big.txt'])

    # -- methods --------------------------------------------------------------

    def test_post_is_405_with_allow(self):
        r = self.assert_status('/hello.txt', 405, method='POST',
                               headers=[('Content-Length', '0')])
        self.assertEqual(r.header('Allow'), 'GET, HEAD')
        self.assertTrue(r.header('Content-Type', '').startswith('text/plain'), r)

    def test_put_and_delete_are_405(self):
        for method in ('PUT', 'DELETE'):
            with self.subTest(method=method):
                r = self.assert_status('/hello.txt', 405, method=method,
                                       headers=[('Content-Length', '0')])
                self.assertEqual(r.header('Allow'), 'GET, HEAD')

    def test_head_of_file_has_length_and_no_body(self):
        r = self.assert_status('/1m.bin', 200, method='HEAD')
        self.assertEqual(r.header('Content-Length'), str(1024 * 1024))
        self.assertIsNone(r.body)


if __name__ == '__main__':
    harness.main()
