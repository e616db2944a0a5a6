"""Static files for operators (issue 14): Cache-Control per path,
directory listings, error pages, .br/.gz siblings chosen by q-value,
system MIME types, and lost log lines reported.
"""

import gzip
import html.parser
import json
import os
import re
import shutil
import signal
import tempfile
import urllib.parse

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import ServerTestCase, Server, wait_for  # noqa: E402


def write(root, rel, data):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    return path


class OpsCase(ServerTestCase):
    """The shared server starts after extra_files are added to the root."""

    args = None
    extra_files = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for rel, data in cls.extra_files.items():
            write(cls.root, rel, data)
        if cls.args is not None:
            srv = Server()
            cls.addClassCleanup(srv.cleanup)
            srv.start(['-w', '1'] + cls.args, cls.root)
            cls.server = srv

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix='pfk-ops-')
        self.addCleanup(shutil.rmtree, d, True)
        return d


# --------------------------------------------------------------------------
# 1. Cache-Control per path

IMMUTABLE = 'public, max-age=31536000, immutable'


class CacheControl(OpsCase):
    args = ['--cache-control', '/ no-cache',
            '--cache-control', '/assets/ ' + IMMUTABLE,
            '--cache-control', '/assets/old max-age=60']
    extra_files = {
        'assets/app.0f3a.js': b'console.log(1);\n',
        'assets/old/x.css': b'a{}\n',
        'assetsfoo.txt': b'not below /assets\n',
    }

    def cc(self, target, status=200, headers=None):
        r = self.get(target, headers=headers)
        self.assertEqual(r.status, status, r)
        return r, r.header('Cache-Control')

    def test_longest_prefix_wins(self):
        self.assertEqual(self.cc('/assets/app.0f3a.js')[1], IMMUTABLE)
        self.assertEqual(self.cc('/assets/old/x.css')[1], 'max-age=60')
        self.assertEqual(self.cc('/hello.txt')[1], 'no-cache')
        self.assertEqual(self.cc('/')[1], 'no-cache')

    def test_prefix_ends_at_a_segment_boundary(self):
        self.assertEqual(self.cc('/assetsfoo.txt')[1], 'no-cache')

    def test_sent_on_304_and_206(self):
        r, v = self.cc('/assets/app.0f3a.js')
        r, v = self.cc('/assets/app.0f3a.js', 304,
                       [('If-None-Match', r.header('ETag'))])
        self.assertEqual(v, IMMUTABLE)
        r, v = self.cc('/assets/app.0f3a.js', 206, [('Range', 'bytes=0-3')])
        self.assertEqual(v, IMMUTABLE)
        self.assertEqual(r.body, b'cons')

    def test_never_on_errors(self):
        for target, status in (('/assets/nope.js', 404), ('/emptydir/', 403)):
            self.assertIsNone(self.cc(target, status)[1], target)
        r, v = self.cc('/assets/app.0f3a.js', 416, [('Range', 'bytes=900-')])
        self.assertIsNone(v)
        r = self.get('/hello.txt', method='POST')
        self.assertEqual(r.status, 405)
        self.assertIsNone(r.header('Cache-Control'))


class CacheControlConfig(OpsCase):
    def test_config_file_key_and_bad_value(self):
        tmp = self.tmpdir()
        conf = write(tmp, 'p.conf', b'cache-control /sub no-store\n')
        srv = self.start_server(['-w', '1', '-c', conf])
        r = self.get('/sub/index.html', srv=srv)
        self.assertEqual(r.header('Cache-Control'), 'no-store')
        self.assertIsNone(self.get('/hello.txt', srv=srv).header('Cache-Control'))
        bad = write(tmp, 'bad.conf', b'workers 1\ncache-control /x\n')
        rc, out, err = harness.run_cli(['-t', '-c', bad])
        self.assertEqual(rc, 78, err)
        self.assertRegex(err, r'bad\.conf:2: .*cache-control')


# --------------------------------------------------------------------------
# 2. Directory listings

ODD = 'a<b&"c d'
RAW = b'raw\xff\xfename.bin'     # not UTF-8


class Links(html.parser.HTMLParser):
    """The (href, text) of every <a>, and all the text of the page."""

    def __init__(self):
        super().__init__()
        self.links, self.text, self._href = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == 'a':
            self._href = dict(attrs)['href']

    def handle_data(self, data):
        self.text.append(data)
        if self._href is not None:
            self.links.append((self._href, data))
            self._href = None


class Listing(OpsCase):
    args = []           # the shared server: no --autoindex

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # names with odd bytes, made through bytes paths
        root = tempfile.mkdtemp(prefix='pfk-list-')
        cls.addClassCleanup(shutil.rmtree, root, True)
        d = os.path.join(root.encode(), b'd')
        os.makedirs(os.path.join(d, b'zsub'))
        os.makedirs(os.path.join(d, b'Asub'))
        for name, data in ((ODD.encode(), b'odd\n'), (RAW, b'raw bytes\n'),
                           (b'.dotfile', b'hidden\n'), (b'b.txt', b'bb\n'),
                           (b'B.txt', b'BB\n')):
            with open(os.path.join(d, name), 'wb') as f:
                f.write(data)
        with open(os.path.join(d, b'zsub', b'index.html'), 'wb') as f:
            f.write(b'zsub index\n')
        os.symlink(b'/etc/passwd', os.path.join(d, b'outside'))
        os.symlink(b'b.txt', os.path.join(d, b'inside'))
        srv = Server()
        cls.addClassCleanup(srv.cleanup)
        srv.start(['-w', '1', '--autoindex'], root)
        cls.lsrv = srv

    def page(self, target, status=200):
        r = self.get(target, srv=self.lsrv)
        self.assertEqual(r.status, status, r)
        return r

    def test_html_listing(self):
        r = self.page('/d/')
        self.assertEqual(r.header('Content-Type'), 'text/html; charset=utf-8')
        body = r.body.decode('utf-8')      # valid UTF-8 whatever the names
        p = Links()
        p.feed(body)
        texts = [t for _, t in p.links]
        # parent first, directories, then names in byte order
        self.assertEqual(texts, ['../', 'Asub/', 'zsub/', 'B.txt', ODD,
                                 'b.txt', 'inside',
                                 'raw\ufffd\ufffdname.bin'], body)
        self.assertNotIn('dotfile', body)
        self.assertNotIn('outside', body)   # a link that leaves the root
        self.assertNotIn('<b&', body)       # escaped, not markup
        self.assertIn('a&lt;b&amp;&quot;c d', body)
        self.assertRegex(body, r'>b\.txt</a></td><td>3</td><td>'
                         r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<')
        # every link fetches what it names, odd bytes included
        want = {ODD: b'odd\n', 'raw\ufffd\ufffdname.bin': b'raw bytes\n',
                'b.txt': b'bb\n', 'B.txt': b'BB\n', 'inside': b'bb\n',
                'zsub/': b'zsub index\n'}
        for href, text in p.links:
            if text in want:
                self.assertRegex(href, r'^[A-Za-z0-9._~%/-]+$')
                self.assertEqual(self.page('/d/' + href).body, want[text], href)

    def test_json_listing(self):
        r = self.page('/d/?format=json')
        self.assertEqual(r.header('Content-Type'), 'application/json')
        items = json.loads(r.body.decode('utf-8'))
        self.assertEqual([i['name'] for i in items],
                         ['Asub', 'zsub', 'B.txt', ODD, 'b.txt', 'inside',
                          'raw\ufffd\ufffdname.bin'])
        odd = items[3]
        self.assertEqual((odd['type'], odd['size']), ('file', 4))
        self.assertEqual(items[0]['type'], 'directory')
        self.assertIsNone(items[0]['size'])
        self.assertRegex(odd['mtime'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
        raw = items[6]
        self.assertEqual(urllib.parse.unquote_to_bytes(raw['href']), RAW)
        self.assertEqual(self.page('/d/' + raw['href']).body, b'raw bytes\n')
        self.assertEqual(self.page('/d/?a=1&format=json').header('Content-Type'),
                         'application/json')

    def test_root_has_no_parent_link(self):
        body = self.page('/').body.decode()
        self.assertNotIn('../', body)
        self.assertIn('href="d/"', body)

    def test_head_and_index_html_first(self):
        r = self.get('/d/', method='HEAD', srv=self.lsrv)
        self.assertEqual(r.status, 200)
        self.assertGreater(int(r.header('Content-Length')), 100)
        self.assertEqual(self.page('/d/zsub/').body, b'zsub index\n')

    def test_off_by_default(self):
        self.assertEqual(self.get('/emptydir/').status, 403)


# --------------------------------------------------------------------------
# 3. Error pages

PAGE1 = b'<!doctype html><title>Not here</title><p>custom 404, take one</p>\n'
PAGE2 = b'<!doctype html><title>Not here</title><p>take two</p>\n'


class ErrorPages(OpsCase):
    def test_page_for_404_and_a_reload_that_changes_it(self):
        tmp = self.tmpdir()
        page = write(tmp, '404.html', PAGE1)
        conf = write(tmp, 'p.conf', b'workers 1\nerror-page 404 %s\n' %
                     page.encode())
        srv = self.start_server(['-c', conf])
        self.wait_ready(srv, 1)
        r = self.get('/nope', srv=srv)
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, PAGE1)
        self.assertEqual(r.header('Content-Type'), 'text/html; charset=utf-8')
        self.assertIsNone(r.header('Cache-Control'))
        r = self.get('/nope', srv=srv, method='HEAD')
        self.assertEqual((r.status, r.header('Content-Length')),
                         (404, str(len(PAGE1))))
        # other codes keep the built-in short bodies
        r = self.get('/emptydir/', srv=srv)
        self.assertEqual((r.status, r.body), (403, b'403 Forbidden\n'))
        # the page is read at reload, not per request
        write(tmp, '404.html', PAGE2)
        self.assertEqual(self.get('/nope', srv=srv).body, PAGE1)
        mark = len(srv.error_lines())
        os.kill(srv.pid, signal.SIGHUP)
        self.assertTrue(srv.wait_log(r'reload: generation 2 serving',
                                     start=mark))
        self.assertTrue(wait_for(
            lambda: self.get('/nope', srv=srv).body == PAGE2, 10))
        # a page that became unreadable fails the reload, naming it
        os.unlink(page)
        mark = len(srv.error_lines())
        os.kill(srv.pid, signal.SIGHUP)
        self.assertTrue(srv.wait_log(
            r'reload failed, generation 2 keeps serving: .*p\.conf:2: '
            r'error-page 404: cannot read .*404\.html: No such file',
            start=mark), srv.error_text()[-1500:])
        r = self.get('/nope', srv=srv)
        self.assertEqual((r.status, r.body), (404, PAGE2))

    def test_page_with_its_own_type_for_a_parse_error(self):
        tmp = self.tmpdir()
        page = write(tmp, 'bad.json', b'{"error": "bad request"}')
        srv = self.start_server(['-w', '1', '--error-page', '400=' + page])
        self.wait_ready(srv, 1)
        r, c = self.exchange(b'GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n',
                             srv=srv)
        self.assertEqual(r.status, 400)
        self.assertEqual(r.header('Content-Type'), 'application/json')
        self.assertEqual(r.body, b'{"error": "bad request"}')

    def test_unreadable_page_is_a_config_error(self):
        rc, out, err = harness.run_cli(['-t', '--error-page',
                                        '404=/nonexistent/404.html'])
        self.assertNotEqual(rc, 0)
        self.assertIn('/nonexistent/404.html', err)
        tmp = self.tmpdir()
        conf = write(tmp, 'p.conf', b'workers 1\nerror-page 404 nope.html\n')
        rc, out, err = harness.run_cli(['-t', '-c', conf], cwd=tmp)
        self.assertEqual(rc, 78, err)
        self.assertRegex(err, r'p\.conf:2: error-page 404: cannot read '
                         r'nope\.html: No such file')


# --------------------------------------------------------------------------
# 4. Precompressed siblings: FILE.br and FILE.gz by Accept-Encoding q-values

JS = b'function f() { return 1; }\n' * 40
JS_GZ = gzip.compress(JS, mtime=0)
JS_BR = b'\x1b' + b'not really brotli, but distinct bytes ' * 4


class Siblings(OpsCase):
    args = []
    extra_files = {'app.js': JS, 'app.js.gz': JS_GZ, 'app.js.br': JS_BR,
                   'only.txt': b'identity\n', 'only.txt.br': b'BR-ONLY',
                   'plain.txt': b'no siblings\n'}

    def fetch(self, target, ae=None, status=200, extra=()):
        hdrs = list(extra)
        if ae is not None:
            hdrs.append(('Accept-Encoding', ae))
        r = self.get(target, headers=hdrs)
        self.assertEqual(r.status, status, r)
        return r

    def assert_variant(self, r, enc, body):
        self.assertEqual(r.header('Content-Encoding'), enc, r)
        self.assertTrue(r.has_token('Vary', 'Accept-Encoding'), r)
        self.assertEqual(r.body, body)

    def test_br_preferred_over_gzip_at_equal_q(self):
        for ae in ('gzip, br', 'br, gzip', '*', 'gzip;q=0.5, br;q=0.5'):
            self.assert_variant(self.fetch('/app.js', ae), 'br', JS_BR)

    def test_higher_q_wins(self):
        self.assert_variant(self.fetch('/app.js', 'br;q=0.5, gzip'), 'gzip',
                            JS_GZ)
        self.assert_variant(self.fetch('/app.js', 'br;q=0.9, gzip;q=0.8'),
                            'br', JS_BR)

    def test_br_q0_is_refused(self):
        self.assert_variant(self.fetch('/app.js', 'br;q=0, gzip'), 'gzip', JS_GZ)
        self.assert_variant(self.fetch('/app.js', 'br;q=0, *'), 'gzip', JS_GZ)
        self.assert_variant(self.fetch('/app.js', 'br;q=0, gzip;q=0'), None, JS)
        self.assert_variant(self.fetch('/only.txt', 'br;q=0.000'), None,
                            b'identity\n')

    def test_vary_on_identity_of_a_file_with_only_a_br_sibling(self):
        self.assert_variant(self.fetch('/only.txt'), None, b'identity\n')
        self.assert_variant(self.fetch('/only.txt', 'gzip'), None, b'identity\n')
        self.assert_variant(self.fetch('/only.txt', 'br'), 'br', b'BR-ONLY')
        r = self.fetch('/plain.txt', 'br, gzip')
        self.assertIsNone(r.header('Vary'), r)
        self.assertIsNone(r.header('Content-Encoding'), r)

    def test_etags_differ_per_encoding_and_validate_their_own(self):
        tags = {}
        for enc, ae in (('identity', None), ('gzip', 'gzip'), ('br', 'br')):
            tags[enc] = self.fetch('/app.js', ae).header('ETag')
        self.assertEqual(len(set(tags.values())), 3, tags)
        r = self.fetch('/app.js', 'br', 304, [('If-None-Match', tags['br'])])
        self.assertTrue(r.has_token('Vary', 'Accept-Encoding'), r)
        self.assertEqual(r.header('ETag'), tags['br'])
        # the br validator does not match the gzip variant
        self.assert_variant(self.fetch('/app.js', 'gzip', 200,
                                       [('If-None-Match', tags['br'])]),
                            'gzip', JS_GZ)

    def test_range_applies_to_the_encoded_bytes(self):
        r = self.fetch('/app.js', 'br', 206, [('Range', 'bytes=1-10')])
        self.assert_variant(r, 'br', JS_BR[1:11])
        self.assertEqual(r.header('Content-Range'), 'bytes 1-10/%d' % len(JS_BR))
        r = self.fetch('/app.js', 'gzip', 206, [('Range', 'bytes=-4')])
        self.assert_variant(r, 'gzip', JS_GZ[-4:])


# --------------------------------------------------------------------------
# 5. MIME types: --mime-type, the built-in table, /etc/mime.types

def system_types():
    """/etc/mime.types as {ext: type}, the first line naming an ext."""
    types = {}
    try:
        with open('/etc/mime.types', encoding='utf-8') as f:
            for line in f:
                words = line.split()
                if not words or words[0].startswith('#'):
                    continue
                for ext in words[1:]:
                    types.setdefault(ext.lower(), words[0])
    except FileNotFoundError:
        pass
    return types


class MimeTypes(OpsCase):
    args = ['--mime-type', 'md=text/x-notes', '--mime-type', '.odt=x/y']
    extra_files = {'doc.odt': b'PK\3\4', 'tool.py': b'print(1)\n',
                   'sound.wav': b'RIFF', 'notes.md': b'# hi\n',
                   'page.sxw': b'x'}

    def ctype(self, target):
        r = self.get(target)
        self.assertEqual(r.status, 200, r)
        return r.header('Content-Type')

    def test_extension_only_the_system_file_knows(self):
        sys_types = system_types()
        if sys_types.get('sxw') != 'application/vnd.sun.xml.writer':
            self.skipTest('/etc/mime.types (media-types) lacks sxw')
        self.assertEqual(self.ctype('/page.sxw'), 'application/vnd.sun.xml.writer')

    def test_system_text_type_gets_the_charset(self):
        if system_types().get('py') != 'text/x-python':
            self.skipTest('/etc/mime.types (media-types) lacks py')
        self.assertEqual(self.ctype('/tool.py'), 'text/x-python; charset=utf-8')

    def test_built_in_table_wins_over_the_system_file(self):
        # media-types says audio/x-wav; the built-in table says audio/wav
        self.assertEqual(self.ctype('/sound.wav'), 'audio/wav')

    def test_mime_type_flag_overrides_both(self):
        self.assertEqual(self.ctype('/notes.md'), 'text/x-notes; charset=utf-8')
        self.assertEqual(self.ctype('/doc.odt'), 'x/y')

    def test_bad_mime_type_is_a_usage_error(self):
        rc, out, err = harness.run_cli(['-t', '--mime-type', 'md'])
        self.assertEqual(rc, 64, err)
        self.assertIn("mime-type 'md'", err)


# --------------------------------------------------------------------------
# 7. Lost log lines are reported

class LostLogLines(OpsCase):
    def test_access_log_on_a_full_device(self):
        srv = self.start_server(['-w', '1'], access_log='/dev/full')
        self.wait_ready(srv, 1)
        for _ in range(20):
            self.assertEqual(self.get('/hello.txt', srv=srv).status, 200)
        lost = r'access log: 1 line lost: No space left on device'
        self.assertTrue(srv.wait_log(lost), srv.error_text()[-2000:])
        for _ in range(20):
            self.assertEqual(self.get('/hello.txt', srv=srv).status, 200)
        lines = [l for l in srv.error_lines() if 'lost' in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r' warn worker 1 pid=\d+: ')


if __name__ == '__main__':
    harness.main()
