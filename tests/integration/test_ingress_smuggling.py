"""Request smuggling at the ingress (SPEC.md section 4: strict parsing): every ambiguous or
malformed framing gets 400 and a closed connection, and nothing of it reaches the backend --
neither the request nor what a lenient parser would have read as a second one."""

import time

import pytest

from ingress_fixtures import (add_site_a, backend, error_json, header_values, ingress, ipki, raw_exchange, read_response,
                              read_until_closed, request, seen, tls_connect, tls_context, wait_access_line, wait_until)

H = b"Host: a.test\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n"

# (id, bytes): each is one request as a client sends it, usually followed by what a lenient
# parser would take for the next request
SHAPES = [
    ("cl-and-te", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"0\r\n\r\n" + SMUGGLED),
    ("te-and-cl", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n"
                  b"0\r\n\r\n" + SMUGGLED),
    ("cl-differing-duplicates", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 0\r\nContent-Length: 41\r\n\r\n"
                                + SMUGGLED),
    ("cl-differing-list", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 0, 41\r\n\r\n" + SMUGGLED),
    ("cl-sign", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +41\r\n\r\n" + SMUGGLED),
    ("cl-hex", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 0x29\r\n\r\n" + SMUGGLED),
    ("cl-overflow", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 18446744073709551657\r\n\r\n" + SMUGGLED),
    ("te-not-final-chunked", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, identity\r\n\r\n"
                             b"0\r\n\r\n" + SMUGGLED),
    ("te-unknown", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
    ("te-chunked-twice", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
                         b"\r\n0\r\n\r\n" + SMUGGLED),
    ("te-in-http10", b"POST / HTTP/1.0\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
    ("te-obs-fold", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding:\r\n chunked\r\nContent-Length: 0\r\n\r\n"
                    b"0\r\n\r\n" + SMUGGLED),
    ("obs-fold", b"GET / HTTP/1.1\r\n" + H + b"X-A: one\r\n two\r\n\r\n"),
    ("space-before-colon", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\nContent-Length: 0\r\n\r\n"
                           b"0\r\n\r\n" + SMUGGLED),
    ("tab-in-name", b"GET / HTTP/1.1\r\n" + H + b"X\tA: b\r\n\r\n"),
    ("control-in-name", b"GET / HTTP/1.1\r\n" + H + b"X\x01A: b\r\n\r\n"),
    ("paren-in-name", b"GET / HTTP/1.1\r\n" + H + b"X(A): b\r\n\r\n"),
    ("empty-name", b"GET / HTTP/1.1\r\n" + H + b": b\r\n\r\n"),
    ("nul-in-value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n"),
    ("cr-in-value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n"),
    ("leading-whitespace-field", b"GET / HTTP/1.1\r\n Host: a.test\r\n\r\n"),
    ("chunk-size-negative", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n-1\r\n" + SMUGGLED),
    ("chunk-size-hex-prefix", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"
                              + SMUGGLED),
    ("chunk-size-not-hex", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nz\r\n" + SMUGGLED),
    ("chunk-size-empty", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n\r\n" + SMUGGLED),
    ("chunk-size-overflow", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                            b"10000000000000000000005\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
    ("chunk-size-bare-lf", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"
                           + SMUGGLED),
    ("chunk-size-space-inside", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5 5\r\nhello\r\n"
                                b"0\r\n\r\n" + SMUGGLED),
    ("chunk-data-too-long", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"
                            + SMUGGLED),
    ("chunk-trailer-bare-lf", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\n\r\n"
                              + SMUGGLED),
    ("two-hosts", b"GET / HTTP/1.1\r\n" + H + b"Host: b.test\r\n\r\n"),
    ("no-host", b"GET / HTTP/1.1\r\n\r\n"),
    ("request-line-extra-space", b"GET  / HTTP/1.1\r\n" + H + b"\r\n"),
    ("http2-preface-like", b"GET / HTTP/2.0\r\n" + H + b"\r\n"),
    ("fragment-in-target", b"GET /#x HTTP/1.1\r\n" + H + b"\r\n"),
]


@pytest.fixture
def site(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    return ingress()


@pytest.mark.parametrize("data", [s[1] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_smuggling_shape_refused(ipki, backend, site, data):
    st, h, body, raw = raw_exchange(ipki, site.port, "a.test", data)
    assert st == 400, raw
    # one answer, for the bad request, and the close: none for what follows it
    assert len(body) == int(h["content-length"]), raw
    o = error_json(st, h, body)
    assert o["error"] == "bad_request" and o["site"] == "a", o
    assert h.get("connection") == "close", h
    # nothing of it reached the backend: no connection, no head
    assert backend.requests == [] and backend.connections == 0, backend.requests
    line = wait_access_line(site, lambda l: l["status"] == 400)
    assert (line["error"], line["site"], line["upstream"]) == ("bad_request", "a", ""), line
    # "-" for a head that did not parse; the method of a head whose body was refused
    assert line["method"] in ("-", data.split(b" ")[0].decode()), line


BARE_LF = [
    ("request-line", b"GET /lf HTTP/1.1\nHost: a.test\r\nX-A: b\r\n\r\n"),
    ("header", b"GET /lf HTTP/1.1\r\nHost: a.test\nX-A: b\r\n\r\n"),
    ("end-of-head", b"GET /lf HTTP/1.1\r\nHost: a.test\r\nX-A: b\n\n"),
    # a parser that took only CRLF as a line end would read "b\nContent-Length: 5" as X-A's value
    # and see no body: certgate reads a Content-Length, and forwards exactly what it read
    ("hiding-content-length", b"POST /lf HTTP/1.1\r\nHost: a.test\r\nX-A: b\nContent-Length: 5\r\n\r\n"
                              b"hello"),
]


@pytest.mark.parametrize("data", [b[1] for b in BARE_LF], ids=[b[0] for b in BARE_LF])
def test_bare_lf_in_a_head_is_rewritten_with_crlf(ipki, backend, site, data):
    """A bare LF ending a head line is accepted (RFC 9112 2.2; src/http/http.h) because the head is
    re-serialized with CRLF: the backend gets exactly the fields and framing certgate read. (In a
    chunked body, forwarded as it came, a bare LF is refused: chunk-size-bare-lf above.)"""
    st, h, body, raw = raw_exchange(ipki, site.port, "a.test", data + b"GET /second HTTP/1.1\r\nHost: a.test\r\n"
                                    b"Connection: close\r\n\r\n")
    assert st == 200, raw
    assert [r[1] for r in backend.requests] == ["/lf", "/second"], backend.requests
    got = seen(body[:int(h["content-length"])])
    assert header_values(got, "X-A") == ["b"], got
    assert got["body_len"] == (5 if b"Content-Length" in data else 0), got


def test_valid_request_after_refusals_still_served(ipki, backend, site):
    """The control: the same daemon serves a well-formed request, chunked, with a trailer."""
    s = tls_connect(site.port, "a.test", tls_context(ipki))
    try:
        s.sendall(b"POST /ok HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n")
        st, _, body = read_response(s)
    finally:
        s.close()
    assert st == 200, body
    got = seen(body)
    assert got["target"] == "/ok" and got["body_len"] == 11, got
    assert [r[1] for r in backend.requests] == ["/ok"]


def test_smuggling_after_a_good_request_on_keep_alive(ipki, backend, site):
    """A clean request, then a CL+TE one on the same connection: the first is answered, the
    second gets 400 and the connection closes; the backend saw only the first."""
    s = tls_connect(site.port, "a.test", tls_context(ipki))
    try:
        st, _, body = request(s, "GET", "/first", "a.test")
        assert st == 200, body
        s.sendall(SHAPES[0][1])
        raw = read_until_closed(s)
    finally:
        s.close()
    assert raw.startswith(b"HTTP/1.1 400 "), raw
    assert raw.count(b"\r\n\r\n") == 1, raw  # one head: no answer for the smuggled request
    assert [r[1] for r in backend.requests] == ["/first"]


def test_bad_chunk_in_a_later_write(ipki, backend, site):
    """The body's bad chunk arrives after the head was sent on (a streaming proxy cannot wait
    for the whole body): the client gets 400 and a close, the backend never gets a complete
    request, and nothing after the bad chunk."""
    s = tls_connect(site.port, "a.test", tls_context(ipki))
    try:
        s.sendall(b"POST /late HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        assert wait_until(lambda: backend.requests, timeout=5)
        s.sendall(b"zz\r\n" + SMUGGLED)
        raw = read_until_closed(s)
    finally:
        s.close()
    assert raw.startswith(b"HTTP/1.1 400 "), raw
    time.sleep(0.2)
    assert [r[1] for r in backend.requests] == ["/late"], backend.requests
    # the backend got the head and the good chunk, and not a byte from the bad one on
    assert bytes(backend.received).endswith(b"\r\n\r\n5\r\nhello\r\n"), bytes(backend.received)
