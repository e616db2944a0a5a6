"""Request smuggling and desync payloads (SPEC section 5) through the real
binary.

One table of classic desync payloads: CL.TE, TE.CL, TE.TE with obfuscated
Transfer-Encoding, odd Content-Length values, chunk-size and chunk-extension
abuse, bare CR and LF, control bytes in names and values, request-line
oddities, absolute-form targets, duplicate Host. Each payload goes out in
ONE send together with a complete second request for /smuggled, a file
whose body is unique to this run. The verdict per payload is one of:

  reject    exactly one response, with one of the listed error statuses
            and Connection: close; then the server closes; the /smuggled
            body never appears.
  accept    the payload is unambiguous: it is answered exactly once, with
            framing that consumed exactly its declared body, and then
            /smuggled is answered as the normal second request.
  swallow   the declared body covers the second request: the payload is
            answered once and the second request never is.
  ...       a few payloads have two legitimate readings (say, a server
            may take "Content-Length: 5, 5" or refuse it); those list both.

When the connection is still open after the expected responses, a
sentinel request with Connection: close follows; it must get the only
further response (its 404), so that a response to a request hidden in a
body would show up in front of it.

A few of the nastiest payloads are also sent split in two at every byte
boundary: the verdict must not depend on how the bytes arrive.
"""

import os
import shutil
import socket
import tempfile
import time

import sys
sys.dont_write_bytecode = True    # keep the source tree clean
import harness  # noqa: E402
from harness import ServerTestCase, Server  # noqa: E402

MAX_HEADER = 4096
MAX_BODY = 1000
SERVER_ARGS = ['-w', '2', '--max-header-size', str(MAX_HEADER),
               '--max-body-size', str(MAX_BODY), '--header-timeout', '2',
               '--body-timeout', '2', '--idle-timeout', '3']

# Unique per run: it may only ever appear as the answer to /smuggled.
SMUGGLED_BODY = b'smuggled-' + os.urandom(12).hex().encode() + b'\n'
OK_BODY = b'the ok file\n'

SECOND = b'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'
SENTINEL = b'GET /sentinel-end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'

READ_DEADLINE = 8.0     # header/body timeouts are 2 s: the server acts first


# --------------------------------------------------------------------------
# Building payloads

def req(method=b'POST', target=b'/ok.txt', headers=(), body=b'',
        version=b'HTTP/1.1', host=True):
    """A request: request line, Host: x (unless host=False), the raw
    header lines given (bytes, without CRLF), an empty line, body."""
    lines = [method + b' ' + target + b' ' + version]
    if host:
        lines.append(b'Host: x')
    lines.extend(headers)
    return b'\r\n'.join(lines) + b'\r\n\r\n' + body


def chunked(*pieces):
    """A well-formed chunked body of the given pieces."""
    out = b''
    for p in pieces:
        out += b'%x\r\n' % len(p) + p + b'\r\n'
    return out + b'0\r\n\r\n'


GOOD_CHUNKED = chunked(b'hello', b' world')


def te_post(te_line, body=GOOD_CHUNKED, extra=()):
    return req(headers=[te_line] + list(extra), body=body)


def cl_post(cl_line, body=b'hello', extra=()):
    return req(headers=[cl_line] + list(extra), body=body)


# --------------------------------------------------------------------------
# Expectations

class Expect:
    """What one payload must get.

    statuses: one set of allowed status codes per response, in order (1xx
    interim responses are not counted). smuggled: the last of them is the
    answer to /smuggled (200, its body). closes: the server closes right
    after them (the last carries Connection: close); else the connection
    stays open and the sentinel must get the only further response.
    error: the single response is an error (text/plain, Connection: close).
    first_body: the first response's body, when it is checked.
    """

    def __init__(self, kind, statuses, smuggled=False, closes=False,
                 error=False, first_body=None):
        self.kind = kind
        self.statuses = [frozenset(s) for s in statuses]
        self.smuggled = smuggled
        self.closes = closes
        self.error = error
        self.first_body = first_body

    def describe(self):
        return '%s %s' % (self.kind, ' then '.join(
            '/'.join(str(x) for x in sorted(s)) for s in self.statuses))


def reject(*statuses):
    return Expect('reject', [statuses], closes=True, error=True)


def accept(*first, body=None):
    return Expect('accept', [first, {200}], smuggled=True, first_body=body)


def swallow(*first):
    return Expect('swallow', [first])


def once_then_close(*first):
    return Expect('once-then-close', [first], closes=True)


def then_reject(first, *statuses):
    return Expect('answer-then-reject', [{first}, statuses], closes=True)


def either(*options):
    return list(options)


# --------------------------------------------------------------------------
# The table. (name, payload, expectation, why)

CL_TE_BODY = b'0\r\n\r\nG'
TE_CL_BODY = (b'5c\r\nGPOST /smuggled HTTP/1.1\r\nHost: x\r\n'
              b'Content-Type: application/x-www-form-urlencoded\r\n'
              b'Content-Length: 15\r\n\r\nx=1\r\n0\r\n\r\n')

PAYLOADS = [
    # -- CL.TE and TE.CL: both framings in one message -------------------
    ('cl_te', req(headers=[b'Content-Length: 6', b'Transfer-Encoding: chunked'],
                  body=CL_TE_BODY),
     reject(400), 'RFC 9112 6.1: both framings is a 400'),
    ('te_cl', req(headers=[b'Transfer-Encoding: chunked', b'Content-Length: 4'],
                  body=TE_CL_BODY),
     reject(400), 'both framings, TE first'),
    ('cl_te_second_inside_body',
     req(headers=[b'Content-Length: %d' % (5 + len(SECOND)),
                  b'Transfer-Encoding: chunked'], body=b'0\r\n\r\n' + SECOND),
     reject(400), 'a TE reader would answer the /smuggled inside the body'),
    ('te_cl_second_inside_chunk',
     req(headers=[b'Transfer-Encoding: chunked', b'Content-Length: 3'],
         body=b'%x\r\n' % len(SECOND) + SECOND + b'\r\n0\r\n\r\n'),
     reject(400), 'a CL reader would answer the /smuggled inside the chunk'),
    ('cl_zero_te', req(headers=[b'Content-Length: 0', b'Transfer-Encoding: chunked'],
                       body=GOOD_CHUNKED),
     reject(400), 'both framings, CL 0'),
    ('te_identity_cl', req(headers=[b'Transfer-Encoding: identity',
                                    b'Content-Length: 5'], body=b'hello'),
     reject(400, 501), 'identity is no coding any more; both framings'),
    ('te_http10', req(headers=[b'Transfer-Encoding: chunked',
                               b'Connection: keep-alive'],
                      body=GOOD_CHUNKED, version=b'HTTP/1.0'),
     reject(400), 'RFC 9112 6.1: TE in HTTP/1.0 is faulty framing'),

    # -- TE.TE: Transfer-Encoding obfuscated ----------------------------
    ('te_value_case', te_post(b'Transfer-Encoding: Chunked'),
     accept(405), 'codings are case-insensitive: this is chunked'),
    ('te_name_case', te_post(b'TRANSFER-ENCODING: chunked'),
     accept(405), 'field names are case-insensitive'),
    ('te_ows_tab', te_post(b'Transfer-Encoding:\tchunked'),
     accept(405), 'HTAB is OWS'),
    ('te_no_ows', te_post(b'Transfer-Encoding:chunked'),
     accept(405), 'OWS is optional'),
    ('te_trailing_ows', te_post(b'Transfer-Encoding: chunked \t'),
     accept(405), 'trailing OWS is not part of the value'),
    ('te_on_get', req(b'GET', headers=[b'Transfer-Encoding: chunked'],
                      body=GOOD_CHUNKED),
     accept(200, body=OK_BODY), 'a GET may have a chunked body: it is read'),
    ('te_space_before_colon', te_post(b'Transfer-Encoding : chunked',
                                      extra=[b'Content-Length: 5']),
     reject(400), 'RFC 9112 5.1: whitespace before the colon is a 400'),
    ('te_tab_before_colon', te_post(b'Transfer-Encoding\t: chunked',
                                    extra=[b'Content-Length: 5']),
     reject(400), 'whitespace before the colon'),
    ('te_vtab_before_value', te_post(b'Transfer-Encoding:\x0bchunked',
                                     extra=[b'Content-Length: 5']),
     reject(400), 'VT is no OWS: a control byte in a value'),
    ('te_vtab_after_value', te_post(b'Transfer-Encoding: chunked\x0b',
                                    extra=[b'Content-Length: 5']),
     reject(400), 'VT after the value'),
    ('te_formfeed', te_post(b'Transfer-Encoding:\x0cchunked'),
     reject(400), 'FF in a value'),
    ('te_nul_after_value', te_post(b'Transfer-Encoding: chunked\x00'),
     reject(400), 'NUL in a value'),
    ('te_bare_cr_in_value', te_post(b'Transfer-Encoding: chun\rked'),
     reject(400), 'bare CR in a value'),
    ('te_obs_fold', te_post(b'Transfer-Encoding:\r\n chunked',
                            extra=[b'Content-Length: 5']),
     reject(400), 'obs-fold is a 400 (RFC 9112 5.2)'),
    ('te_after_obs_fold_line', req(headers=[b'X-A: a', b' Transfer-Encoding: chunked',
                                            b'Content-Length: 5'], body=b'hello'),
     reject(400), 'a folded line that looks like TE'),
    ('te_quoted', te_post(b'Transfer-Encoding: "chunked"',
                          extra=[b'Content-Length: 5']),
     reject(400, 501), 'a quoted coding is not the chunked token'),
    ('te_xchunked', te_post(b'Transfer-Encoding: xchunked',
                            extra=[b'Content-Length: 5']),
     reject(400, 501), 'an unknown coding, with a CL behind it'),
    ('te_chunked_suffix', te_post(b'Transfer-Encoding: chunked-false'),
     reject(400, 501), 'an unknown coding that starts with chunked'),
    ('te_duplicate_fields', te_post(b'Transfer-Encoding: chunked',
                                    extra=[b'Transfer-Encoding: chunked']),
     reject(400), 'chunked applied twice (RFC 9112 6.1)'),
    ('te_comma_duplicate', te_post(b'Transfer-Encoding: chunked, chunked'),
     reject(400), 'chunked twice in one list'),
    ('te_chunked_not_last', te_post(b'Transfer-Encoding: chunked, identity'),
     reject(400, 501), 'chunked not last: length cannot be determined'),
    ('te_chunked_not_last_two_fields',
     te_post(b'Transfer-Encoding: chunked', extra=[b'Transfer-Encoding: x']),
     reject(400, 501), 'the second field makes chunked not last'),
    ('te_gzip_chunked', te_post(b'Transfer-Encoding: gzip, chunked'),
     reject(501), 'a coding the server does not implement: 501'),
    ('te_empty_value', te_post(b'Transfer-Encoding:', body=b'hello',
                               extra=[b'Content-Length: 5']),
     reject(400), 'an empty Transfer-Encoding'),
    ('te_comma_only', te_post(b'Transfer-Encoding: ,', body=b'hello',
                              extra=[b'Content-Length: 5']),
     reject(400), 'a list with no coding'),
    ('te_leading_empty_element', te_post(b'Transfer-Encoding: , chunked'),
     either(reject(400), accept(405)),
     'RFC 9110 5.6.1 lets a recipient skip empty elements; refusing is safe'),
    ('te_underscore_name', req(b'GET', headers=[b'Transfer_Encoding: chunked']),
     either(accept(200, body=OK_BODY), reject(400)),
     'a different field: no body; dropping or refusing it are both safe'),

    # -- Content-Length -------------------------------------------------
    ('cl_plus', cl_post(b'Content-Length: +5'), reject(400), 'not 1*DIGIT'),
    ('cl_minus', cl_post(b'Content-Length: -5'), reject(400), 'not 1*DIGIT'),
    ('cl_leading_zeros', cl_post(b'Content-Length: 0005'),
     accept(405), '1*DIGIT: 0005 is 5'),
    ('cl_all_zeros', cl_post(b'Content-Length: 000', body=b''),
     accept(405), '000 is 0'),
    ('cl_inner_space', cl_post(b'Content-Length: 1 0', body=b'0123456789'),
     reject(400), 'a space inside the number'),
    ('cl_trailing_sp', cl_post(b'Content-Length: 5 '),
     accept(405), 'trailing OWS is not part of the value'),
    ('cl_trailing_tab', cl_post(b'Content-Length: 5\t'),
     either(reject(400), accept(405)),
     'HTAB is OWS too (RFC 9110 5.5); http-parser refuses it, which is safe'),
    ('cl_leading_tab', cl_post(b'Content-Length:\t5'),
     accept(405), 'HTAB is OWS'),
    ('cl_comma_same', cl_post(b'Content-Length: 5, 5'),
     either(reject(400), accept(405)),
     'RFC 9110 8.6: identical list members may be taken as one, or refused'),
    ('cl_comma_differ', cl_post(b'Content-Length: 5, 6', body=b'hello!'),
     reject(400), 'differing lengths'),
    ('cl_duplicate_same', cl_post(b'Content-Length: 5',
                                  extra=[b'Content-Length: 5']),
     either(reject(400), accept(405)), 'identical duplicates: one length, or refused'),
    ('cl_duplicate_differ', cl_post(b'Content-Length: 5',
                                    extra=[b'Content-Length: 6'], body=b'hello!'),
     reject(400), 'differing duplicate Content-Length'),
    ('cl_overflow_20_digits', cl_post(b'Content-Length: 99999999999999999999'),
     reject(400, 413), 'beyond 64 bits'),
    ('cl_overflow_wraps_to_5', cl_post(b'Content-Length: 18446744073709551621'),
     reject(400, 413), '2^64 + 5: a wrapping parser reads 5'),
    ('cl_overflow_wraps_negative', cl_post(b'Content-Length: 9223372036854775813'),
     reject(400, 413), '2^63 + 5: a signed parser goes negative'),
    ('cl_huge_in_range', cl_post(b'Content-Length: 999999999999999999'),
     reject(413), 'a valid length over --max-body-size'),
    ('cl_hex', cl_post(b'Content-Length: 0x5'), reject(400), 'not decimal'),
    ('cl_decimal_point', cl_post(b'Content-Length: 5.0'), reject(400), 'not an integer'),
    ('cl_empty', cl_post(b'Content-Length:'), reject(400), 'no value'),
    ('cl_space_before_colon', cl_post(b'Content-Length : 5'),
     reject(400), 'whitespace before the colon'),
    ('cl_on_get', req(b'GET', headers=[b'Content-Length: 5'], body=b'hello'),
     accept(200, body=OK_BODY), 'a GET body is read and dropped'),
    ('cl_covers_second', cl_post(b'Content-Length: %d' % len(SECOND), body=b''),
     swallow(405), 'the second request is the declared body'),
    ('cl_short_leaves_garbage', cl_post(b'Content-Length: 3', body=b'hello'),
     then_reject(405, 400, 501),
     '"lo" + the second request is the next request: an unknown method'),

    # -- chunk sizes, extensions, data, trailers --------------------------
    ('chunk_size_many_digits', te_post(b'Transfer-Encoding: chunked',
                                       body=b'1' + b'0' * 30 + b'\r\nhello\r\n0\r\n\r\n'),
     reject(400, 413), 'a chunk size beyond 64 bits'),
    ('chunk_size_wraps_to_5', te_post(b'Transfer-Encoding: chunked',
                                      body=b'10000000000000005\r\nhello\r\n0\r\n\r\n'),
     reject(400, 413), '2^64 + 5: a wrapping parser reads 5'),
    ('chunk_size_over_limit', te_post(b'Transfer-Encoding: chunked',
                                      body=b'fffffff\r\nhello\r\n0\r\n\r\n'),
     reject(413), 'a chunk over --max-body-size'),
    ('chunk_size_leading_zeros', te_post(b'Transfer-Encoding: chunked',
                                         body=b'0005\r\nhello\r\n0\r\n\r\n'),
     accept(405), '1*HEXDIG: 0005 is 5'),
    ('chunk_size_upper_hex', te_post(b'Transfer-Encoding: chunked',
                                     body=b'A\r\n0123456789\r\n0\r\n\r\n'),
     accept(405), 'HEXDIG is case-insensitive'),
    ('chunk_size_0x', te_post(b'Transfer-Encoding: chunked',
                              body=b'0x5\r\nhello\r\n0\r\n\r\n'),
     reject(400), 'no 0x prefix'),
    ('chunk_size_negative', te_post(b'Transfer-Encoding: chunked',
                                    body=b'-5\r\nhello\r\n0\r\n\r\n'),
     reject(400), 'no sign'),
    ('chunk_size_plus', te_post(b'Transfer-Encoding: chunked',
                                body=b'+5\r\nhello\r\n0\r\n\r\n'),
     reject(400), 'no sign'),
    ('chunk_size_trailing_space', te_post(b'Transfer-Encoding: chunked',
                                          body=b'5 \r\nhello\r\n0\r\n\r\n'),
     reject(400), 'BWS only before a ";"'),
    ('chunk_size_missing', te_post(b'Transfer-Encoding: chunked',
                                   body=b'\r\nhello\r\n0\r\n\r\n'),
     reject(400), 'an empty chunk-size line'),
    ('chunk_ext', te_post(b'Transfer-Encoding: chunked',
                          body=b'5;name=value\r\nhello\r\n0;x\r\n\r\n'),
     accept(405), 'extensions are allowed and ignored'),
    ('chunk_ext_bws', te_post(b'Transfer-Encoding: chunked',
                              body=b'5 ;name=value\r\nhello\r\n0\r\n\r\n'),
     either(accept(405), reject(400)), 'BWS before ";" is allowed; refusing is safe'),
    ('chunk_ext_bare_lf', te_post(b'Transfer-Encoding: chunked',
                                  body=b'5;a\nhello\r\n0\r\n\r\n'),
     reject(400), 'an extension ended by a bare LF'),
    ('chunk_ext_bare_cr', te_post(b'Transfer-Encoding: chunked',
                                  body=b'5;a\rb\r\nhello\r\n0\r\n\r\n'),
     reject(400), 'a bare CR inside an extension'),
    ('chunk_ext_nul', te_post(b'Transfer-Encoding: chunked',
                              body=b'5;a\x00b\r\nhello\r\n0\r\n\r\n'),
     reject(400), 'NUL inside an extension'),
    ('chunk_ext_oversized', te_post(b'Transfer-Encoding: chunked',
                                    body=b'5;' + b'e' * (MAX_HEADER + 100) +
                                    b'\r\nhello\r\n0\r\n\r\n'),
     reject(400, 413, 431), 'one extension longer than the head limit'),
    ('chunk_ext_flood', te_post(b'Transfer-Encoding: chunked',
                                body=(b'1;' + b'e' * 100 + b'\r\nx\r\n') * 200 +
                                b'0\r\n\r\n'),
     reject(400, 413, 431), 'framing dwarfing the data (200 bytes in 21 KB)'),
    ('chunk_data_no_crlf', te_post(b'Transfer-Encoding: chunked',
                                   body=b'5\r\nhello0\r\n\r\n'),
     reject(400), 'chunk data not followed by CRLF'),
    ('chunk_data_no_crlf_second_follows',
     te_post(b'Transfer-Encoding: chunked', body=b'5\r\nhello'),
     reject(400), 'the second request right behind unterminated chunk data'),
    ('chunk_data_lf_only', te_post(b'Transfer-Encoding: chunked',
                                   body=b'5\r\nhello\n0\r\n\r\n'),
     reject(400), 'chunk data ended by a bare LF'),
    ('chunk_data_longer_than_size', te_post(b'Transfer-Encoding: chunked',
                                            body=b'3\r\nhello\r\n0\r\n\r\n'),
     reject(400), 'more data than the size says'),
    ('chunk_size_bare_lf', te_post(b'Transfer-Encoding: chunked',
                                   body=b'5\nhello\r\n0\r\n\r\n'),
     reject(400), 'a chunk-size line ended by a bare LF'),
    ('chunk_last_bare_lf', te_post(b'Transfer-Encoding: chunked',
                                   body=b'5\r\nhello\r\n0\n\n'),
     reject(400), 'the last chunk ended by bare LFs'),
    ('chunk_no_final_crlf', te_post(b'Transfer-Encoding: chunked',
                                    body=b'5\r\nhello\r\n0\r\n'),
     reject(400), 'the second request is read as trailer fields: malformed'),
    ('chunk_trailer', te_post(b'Transfer-Encoding: chunked',
                              body=b'5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n'),
     accept(405), 'a trailer field'),
    ('chunk_trailer_framing_fields',
     te_post(b'Transfer-Encoding: chunked',
             body=b'5\r\nhello\r\n0\r\nContent-Length: 50\r\n'
                  b'Transfer-Encoding: chunked\r\n\r\n'),
     either(accept(405), reject(400)), 'trailers never change the framing'),
    ('chunk_trailer_bare_lf', te_post(b'Transfer-Encoding: chunked',
                                      body=b'5\r\nhello\r\n0\r\nX: y\n\r\n'),
     reject(400), 'a trailer line ended by a bare LF'),
    ('chunk_trailer_obs_fold', te_post(b'Transfer-Encoding: chunked',
                                       body=b'5\r\nhello\r\n0\r\nX: y\r\n z\r\n\r\n'),
     reject(400), 'obs-fold in the trailer section'),

    # -- bare CR and bare LF in the head ----------------------------------
    ('bare_lf_everywhere', b'GET /ok.txt HTTP/1.1\nHost: x\n\n',
     either(reject(400), accept(200, body=OK_BODY)),
     'RFC 9112 2.2: LF alone may be taken as a line end; refusing is safe'),
    ('bare_lf_request_line', b'GET /ok.txt HTTP/1.1\nHost: x\r\n\r\n',
     reject(400), 'mixed line ends'),
    ('bare_lf_hides_te', req(headers=[b'X-A: a\nTransfer-Encoding: chunked',
                                      b'Content-Length: 5'], body=b'hello'),
     reject(400), 'a TE field behind a bare LF'),
    ('bare_lf_ends_head', b'POST /ok.txt HTTP/1.1\r\nHost: x\r\n'
                          b'Content-Length: 5\r\n\nhello',
     reject(400), 'the head ended by CRLF LF'),
    ('bare_cr_in_value', req(b'GET', headers=[b'X-A: a\rb']),
     reject(400), 'RFC 9112 2.2: a bare CR must be refused (or replaced)'),
    ('bare_cr_hides_te', req(headers=[b'X-A: a\rTransfer-Encoding: chunked',
                                      b'Content-Length: 5'], body=b'hello'),
     reject(400), 'a TE field behind a bare CR'),
    ('cr_cr_lf', req(b'GET', headers=[b'X-A: a\r']),
     reject(400), 'CR CR LF'),

    # -- NUL and control bytes in names and values ------------------------
    ('nul_in_name', req(b'GET', headers=[b'X-A\x00b: 1']), reject(400), 'NUL in a name'),
    ('nul_in_value', req(b'GET', headers=[b'X-A: a\x00b']), reject(400), 'NUL in a value'),
    ('nul_in_target', req(b'GET', target=b'/ok.txt\x00.html'),
     reject(400), 'NUL in the target'),
    ('ctl_in_name', req(b'GET', headers=[b'X-\x01: 1']), reject(400), 'SOH in a name'),
    ('ctl_in_value', req(b'GET', headers=[b'X-A: \x01']), reject(400), 'SOH in a value'),
    ('esc_in_value', req(b'GET', headers=[b'X-A: \x1b[31mred']),
     reject(400), 'ESC in a value'),
    ('del_in_name', req(b'GET', headers=[b'X-A\x7f: 1']), reject(400), 'DEL in a name'),
    ('del_in_value', req(b'GET', headers=[b'X-A: a\x7f']), reject(400), 'DEL in a value'),
    ('obs_text_in_value', req(b'GET', headers=[b'X-A: caf\xe9']),
     accept(200, body=OK_BODY), 'obs-text is allowed in values'),
    ('space_in_name', req(b'GET', headers=[b'X A: 1']), reject(400), 'SP in a name'),
    ('empty_name', req(b'GET', headers=[b': 1']), reject(400), 'no name'),
    ('line_without_colon', req(b'GET', headers=[b'NoColonHere']),
     reject(400), 'a field line without a colon'),
    ('leading_ws_first_field', b'GET /ok.txt HTTP/1.1\r\n Host: x\r\n\r\n',
     reject(400), 'RFC 9112 2.2: whitespace before the first field line'),

    # -- request-line oddities ------------------------------------------
    ('rl_double_space_after_method', b'GET  /ok.txt HTTP/1.1\r\nHost: x\r\n\r\n',
     reject(400), 'two spaces'),
    ('rl_double_space_before_version', b'GET /ok.txt  HTTP/1.1\r\nHost: x\r\n\r\n',
     reject(400), 'two spaces'),
    ('rl_trailing_space', b'GET /ok.txt HTTP/1.1 \r\nHost: x\r\n\r\n',
     reject(400), 'a space after the version'),
    ('rl_leading_space', b' GET /ok.txt HTTP/1.1\r\nHost: x\r\n\r\n',
     reject(400), 'a space before the method'),
    ('rl_tabs', b'GET\t/ok.txt\tHTTP/1.1\r\nHost: x\r\n\r\n',
     reject(400), 'HTAB is no separator here'),
    ('rl_missing_version', b'GET /ok.txt\r\nHost: x\r\n\r\n',
     reject(400), 'no version'),
    ('rl_http09', b'GET /ok.txt\r\n',
     reject(400), 'the HTTP/0.9 form; the second request would be its "headers"'),
    ('rl_version_09', b'GET /ok.txt HTTP/0.9\r\nHost: x\r\n\r\n',
     reject(400, 505), 'HTTP/0.9 spelled out'),
    ('rl_lowercase_method', req(b'get', b'/ok.txt', body=b''),
     reject(400, 501), 'methods are case-sensitive: "get" is unknown'),
    ('rl_unknown_method', req(b'FOO', b'/ok.txt', body=b''),
     reject(501), 'a well-formed unknown method'),
    ('rl_lowercase_version', b'GET /ok.txt http/1.1\r\nHost: x\r\n\r\n',
     reject(400), 'HTTP-name is case-sensitive'),
    ('rl_version_no_minor', b'GET /ok.txt HTTP/1\r\nHost: x\r\n\r\n',
     reject(400), 'HTTP/1 is no version'),
    ('rl_version_leading_zero', b'GET /ok.txt HTTP/01.1\r\nHost: x\r\n\r\n',
     reject(400), 'one digit each'),
    ('rl_version_2', b'GET /ok.txt HTTP/2.0\r\nHost: x\r\n\r\n',
     reject(505), 'an unsupported major version'),
    ('rl_space_in_target', b'GET /ok .txt HTTP/1.1\r\nHost: x\r\n\r\n',
     reject(400), 'a space inside the target'),
    ('rl_missing_target', b'GET HTTP/1.1\r\nHost: x\r\n\r\n',
     reject(400), 'no target'),
    ('rl_asterisk_get', b'GET * HTTP/1.1\r\nHost: x\r\n\r\n',
     reject(400), 'asterisk-form is for OPTIONS only'),
    ('rl_connect_authority', b'CONNECT x:80 HTTP/1.1\r\nHost: x:80\r\n\r\n',
     reject(400, 405, 501), 'no tunnels: the bytes behind are not ours to forward'),
    ('rl_leading_crlf', b'\r\n' + req(b'GET', body=b''),
     accept(200, body=OK_BODY), 'RFC 9112 2.2: an empty line before the request line'),
    ('rl_absolute_form', req(b'GET', b'http://x/ok.txt'),
     accept(200, body=OK_BODY), 'absolute-form'),
    ('rl_absolute_form_other_host', req(b'GET', b'http://elsewhere/ok.txt'),
     accept(200, body=OK_BODY), 'absolute-form wins over Host'),
    ('rl_absolute_form_upper_scheme', req(b'GET', b'HTTP://x/ok.txt'),
     accept(200, body=OK_BODY), 'the scheme is case-insensitive'),

    # -- Host ---------------------------------------------------------------
    ('host_duplicate', req(b'GET', headers=[b'Host: y']),
     reject(400), 'RFC 9112 3.2: more than one Host is a 400'),
    ('host_duplicate_same', req(b'GET', headers=[b'Host: x']),
     reject(400), 'even with the same value'),
    ('host_duplicate_case', req(b'GET', headers=[b'hOST: y']),
     reject(400), 'names are case-insensitive'),
    ('host_comma_joined', req(b'GET', host=False, headers=[b'Host: x, y']),
     reject(400), 'two hosts joined into one field: an invalid Host value'),
    ('host_space_inside', req(b'GET', host=False, headers=[b'Host: x y']),
     reject(400), 'RFC 9112 3.2: an invalid Host value is a 400'),
    ('host_missing', req(b'GET', host=False), reject(400), 'HTTP/1.1 needs Host'),
    ('host_space_before_colon', req(b'GET', host=False, headers=[b'Host : x']),
     reject(400), 'whitespace before the colon'),

    # -- limits ---------------------------------------------------------------
    ('head_too_large', req(b'GET', headers=[b'X-Big: ' + b'b' * (MAX_HEADER + 10)]),
     reject(431), 'a head over --max-header-size'),
    ('request_line_too_long', req(b'GET', b'/' + b'a' * (MAX_HEADER + 10)),
     reject(414), 'a request line over --max-header-size'),
    ('too_many_fields', req(b'GET', headers=[b'X-%d: 1' % i for i in range(120)]),
     reject(431), 'more fields than the server keeps (MAX_HEADERS 100)'),

    # -- the connection's future --------------------------------------------
    ('http10_without_keepalive', req(headers=[b'Content-Length: 5'], body=b'hello',
                                     version=b'HTTP/1.0'),
     once_then_close(405), 'HTTP/1.0 closes after the first response'),
    ('http10_keepalive_cl', req(headers=[b'Connection: keep-alive',
                                         b'Content-Length: 5'], body=b'hello',
                                version=b'HTTP/1.0'),
     accept(405), 'HTTP/1.0 keep-alive with a Content-Length body'),
    ('upgrade_ignored_or_closed', req(b'GET', headers=[b'Connection: Upgrade',
                                                       b'Upgrade: foo/1']),
     either(once_then_close(200), accept(200, body=OK_BODY)),
     'no protocol switch: answer and close, or go on in HTTP/1.1'),
    ('expect_100_body_sent_anyway', req(headers=[b'Content-Length: 5',
                                                 b'Expect: 100-continue'],
                                        body=b'hello'),
     either(once_then_close(405), accept(405)),
     'the body came without waiting: read it, or close without reading'),
]

# Split at every byte boundary: the verdict must not change.
SPLIT_NAMES = ['cl_te', 'te_cl', 'chunk_data_no_crlf_second_follows',
               'te_cl_second_inside_chunk', 'cl_covers_second']


# --------------------------------------------------------------------------
# Reading what comes back

class Resp:
    def __init__(self, status, headers, body, raw):
        self.status = status
        self.headers = headers
        self.body = body
        self.raw = raw

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def closes(self):
        return any(t.strip().lower() == 'close'
                   for k, v in self.headers if k.lower() == 'connection'
                   for t in v.split(','))

    def __repr__(self):
        return '<%d %r body=%r>' % (self.status, self.headers, (self.body or b'')[:60])


def parse_responses(data, closed):
    """Splits data into complete responses. Returns (responses, rest):
    rest is what does not (yet) make a complete response. A body without
    framing runs to the close."""
    out = []
    while data:
        end = data.find(b'\r\n\r\n')
        if end < 0:
            break
        head = data[:end].split(b'\r\n')
        parts = head[0].split(b' ', 2)
        if len(parts) < 2 or not parts[0].startswith(b'HTTP/') or \
                not parts[1].isdigit():
            break       # not a response: left in rest, reported as junk
        status = int(parts[1])
        headers = []
        for line in head[1:]:
            k, _, v = line.partition(b':')
            headers.append((k.decode('latin-1'), v.strip().decode('latin-1')))
        r = Resp(status, headers, b'', data[:end + 4])
        pos = end + 4
        if status < 200 or status in (204, 304):
            pass
        elif (r.header('Transfer-Encoding') or '').lower().endswith('chunked'):
            body, n = b'', pos
            complete = False
            while True:
                le = data.find(b'\r\n', n)
                if le < 0:
                    break
                size = int(data[n:le].split(b';')[0], 16)
                if size == 0:
                    te = data.find(b'\r\n\r\n', le)
                    if te < 0:
                        break
                    n = te + 4
                    complete = True
                    break
                if len(data) < le + 2 + size + 2:
                    break
                body += data[le + 2:le + 2 + size]
                n = le + 2 + size + 2
            if not complete:
                break
            r.body, pos = body, n
        elif r.header('Content-Length') is not None:
            n = int(r.header('Content-Length'))
            if len(data) < pos + n:
                break
            r.body = data[pos:pos + n]
            pos += n
        else:
            if not closed:
                break
            r.body = data[pos:]
            pos = len(data)
        r.raw = data[:pos]
        data = data[pos:]
        if status >= 200:       # interim 1xx are not answers
            out.append(r)
    return out, data


class Outcome:
    """What one exchange produced."""

    def __init__(self):
        self.data = b''         # everything before the sentinel was sent
        self.closed = False     # closed before the sentinel
        self.responses = []
        self.rest = b''
        self.sentinel_data = None   # everything after the sentinel was sent
        self.sentinel_closed = False
        self.send_error = None

    def __repr__(self):
        return ('responses=%r closed=%r rest=%r after-sentinel=%r' % (
            self.responses, self.closed, self.rest[:80],
            None if self.sentinel_data is None else self.sentinel_data[:300]))


def recv_until(sock, done, deadline):
    """Reads until done(data, closed) or EOF/reset or the deadline.
    Returns (data, closed)."""
    data = b''
    while not done(data, False):
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def exchange(port, parts, wanted):
    """Sends parts (one send each, paced by a millisecond so that each is
    likely its own segment) on a new connection; reads until the server
    closes, or until wanted responses are complete (wanted None: only the
    close ends it); then, if the connection is still open, sends the
    sentinel and reads to the close."""
    out = Outcome()
    s = socket.create_connection(('127.0.0.1', port), timeout=READ_DEADLINE)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i, p in enumerate(parts):
            if i > 0:
                time.sleep(0.001)   # pacing the client, not waiting for the server
            try:
                s.sendall(p)
            except OSError as e:    # the server answered and closed already
                out.send_error = e
                break
        deadline = time.monotonic() + READ_DEADLINE

        def enough(data, closed):
            return wanted is not None and \
                len(parse_responses(data, closed)[0]) >= wanted

        out.data, out.closed = recv_until(s, enough, deadline)
        if not out.closed:
            # Whatever was going to come with the payload comes first.
            try:
                s.sendall(SENTINEL)
            except OSError as e:
                out.send_error = e
            data, closed = recv_until(s, lambda d, c: False,
                                      time.monotonic() + READ_DEADLINE)
            out.sentinel_data, out.sentinel_closed = data, closed
        out.responses, out.rest = parse_responses(out.data, out.closed)
    finally:
        s.close()
    return out


# --------------------------------------------------------------------------
# Judging an outcome

def judge(exp, out):
    """None when out is what exp wants, else why not."""
    rs = out.responses
    everything = out.data + (out.sentinel_data or b'')
    n_smuggled = everything.count(SMUGGLED_BODY)
    if n_smuggled and not exp.smuggled:
        return 'the second request was answered (the /smuggled body came ' \
               '%d time(s)); statuses %r' % (n_smuggled, [r.status for r in rs])
    if len(rs) != len(exp.statuses):
        return 'expected %d response(s), got %d' % (len(exp.statuses), len(rs))
    for i, (r, allowed) in enumerate(zip(rs, exp.statuses)):
        if r.status not in allowed:
            return 'response %d: expected %s, got %d' % (
                i + 1, '/'.join(map(str, sorted(allowed))), r.status)
    if out.rest:
        return 'unparsable bytes after the responses: %r' % out.rest[:120]
    if exp.first_body is not None and rs[0].body != exp.first_body:
        return 'first response body %r, expected %r' % (rs[0].body[:60], exp.first_body)
    if exp.smuggled:
        if rs[-1].body != SMUGGLED_BODY:
            return 'second response body %r is not /smuggled' % rs[-1].body[:60]
        if n_smuggled != 1:
            return '/smuggled answered %d times' % n_smuggled
    for r in rs[:-1]:
        if r.closes():
            return 'an early response says Connection: close: %r' % r
    if exp.error:
        ctype = rs[0].header('Content-Type') or ''
        if not ctype.startswith('text/plain'):
            return 'error response Content-Type %r' % ctype
    if exp.closes:
        if not rs[-1].closes():
            return 'last response lacks Connection: close: %r' % rs[-1]
        # Closed at once, or by the time the sentinel went out.
        if not (out.closed or (out.sentinel_data == b'' and out.sentinel_closed)):
            return 'connection not closed after the response (sentinel got %r)' \
                % (out.sentinel_data or b'')[:200]
        return None
    # Kept alive: the sentinel gets exactly one response, its 404.
    if out.closed:
        return 'connection closed after the response(s); keep-alive expected'
    if rs and rs[-1].closes():
        return 'last response says Connection: close but keep-alive expected'
    srs, srest = parse_responses(out.sentinel_data or b'', out.sentinel_closed)
    if len(srs) != 1 or srs[0].status != 404 or srest:
        return 'the sentinel got %r (rest %r): expected one 404' % (srs, srest[:120])
    if not out.sentinel_closed:
        return 'connection open after the sentinel (Connection: close)'
    return None


def wanted_responses(exps):
    """How many responses to wait for before the sentinel: None (wait for
    the close) when every reading closes the connection."""
    if all(e.closes for e in exps):
        return None
    return max(len(e.statuses) for e in exps)


def verdict(exps, out):
    """None when out satisfies one of exps, else the reasons."""
    why = []
    for e in exps:
        w = judge(e, out)
        if w is None:
            return None
        why.append('%s: %s' % (e.describe(), w))
    return '; '.join(why)


# --------------------------------------------------------------------------
# Tests

class Smuggling(ServerTestCase):
    """One server (-w 2) over a small document root."""

    @classmethod
    def setUpClass(cls):
        root = tempfile.mkdtemp(prefix='pfk-smug-')
        cls.addClassCleanup(shutil.rmtree, root, True)
        with open(os.path.join(root, 'smuggled'), 'wb') as f:
            f.write(SMUGGLED_BODY)
        with open(os.path.join(root, 'ok.txt'), 'wb') as f:
            f.write(OK_BODY)
        cls.root, cls.files = root, {'smuggled': SMUGGLED_BODY, 'ok.txt': OK_BODY}
        srv = Server()
        cls.addClassCleanup(srv.cleanup)
        srv.start(SERVER_ARGS, root)
        cls.server = srv

    def setUp(self):
        super().setUp()
        self.pids = self.server.wait_workers(2)
        self.assertEqual(len(self.pids), 2, self.pids)

    def tearDown(self):
        # Still serving, with the same two workers: no payload crashed one.
        if self.server.alive():
            ok = exchange(self.server.port, [SECOND], 1)
            self.assertEqual([r.status for r in ok.responses], [200], ok)
            self.assertEqual(ok.responses[0].body, SMUGGLED_BODY)
            self.assertEqual(self.server.worker_pids(), self.pids,
                             'workers changed: one died under a payload')
        super().tearDown()

    def run_payload(self, name, payload, exp, why, parts=None):
        exps = exp if isinstance(exp, list) else [exp]
        parts = parts or [payload + SECOND]
        out = exchange(self.server.port, parts, wanted_responses(exps))
        problem = verdict(exps, out)
        if problem is not None:
            self.fail('%s (%s): %s\n  payload %r\n  got %r' % (
                name, why, problem, payload[:300], out))

    def test_table_is_sane(self):
        names = [p[0] for p in PAYLOADS]
        self.assertEqual(len(names), len(set(names)), 'duplicate payload names')
        self.assertGreaterEqual(len(names), 40)
        for n in SPLIT_NAMES:
            self.assertIn(n, names)
        for name, payload, _, _ in PAYLOADS:
            self.assertNotIn(SMUGGLED_BODY, payload, name)

    def test_every_payload(self):
        for name, payload, exp, why in PAYLOADS:
            with self.subTest(payload=name):
                self.run_payload(name, payload, exp, why)

    def test_split_at_every_byte(self):
        table = {p[0]: p for p in PAYLOADS}
        for sname in SPLIT_NAMES:
            name, payload, exp, why = table[sname]
            data = payload + SECOND
            for cut in range(1, len(data)):
                with self.subTest(payload=name, cut=cut):
                    self.run_payload('%s split at %d' % (name, cut), payload,
                                     exp, why, parts=[data[:cut], data[cut:]])

    def test_byte_by_byte(self):
        # The same nasty payloads, one byte per segment.
        table = {p[0]: p for p in PAYLOADS}
        for sname in SPLIT_NAMES:
            name, payload, exp, why = table[sname]
            data = payload + SECOND
            with self.subTest(payload=name):
                self.run_payload(name + ' byte by byte', payload, exp, why,
                                 parts=[data[i:i + 1] for i in range(len(data))])


if __name__ == '__main__':
    harness.main()
