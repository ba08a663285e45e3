"""Limits and timeouts at the ingress (the bootstrap keys limits.* and timeouts.*, see
src/config/bootstrap.h): 431 for a head too large or with too many fields, 413 for a body over
the limit, 408 for a head that stops arriving, idle keep-alive connections and handshakes that
never complete closed in time; and no limit refusal ever reaches the backend."""

import socket
import ssl
import time

from egress_fixtures import free_port
from ingress_fixtures import (add_site_a, backend, error_json, ingress, ipki, raw_exchange, read_response,
                              read_until_closed, request, seen, tls_connect, tls_context, wait_access_line)


def refused(ipki, d, data, status, error):
    st, h, body, raw = raw_exchange(ipki, d.port, "a.test", data)
    assert st == status, raw[:400]
    o = error_json(st, h, body)
    assert o["error"] == error, o
    assert h.get("connection") == "close", h
    line = wait_access_line(d, lambda l: l["status"] == status)
    assert line["error"] == error and line["site"] == "a", line
    return o


def test_head_too_large_431(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress(extra={"limits": {"max_head_bytes": 4096}})
    # just under the limit passes
    st, _, body = raw_exchange(ipki, d.port, "a.test", b"GET /ok HTTP/1.1\r\nHost: a.test\r\nX-Pad: " + b"p" * 3000
                               + b"\r\nConnection: close\r\n\r\n")[:3]
    assert st == 200, body
    o = refused(ipki, d, b"GET / HTTP/1.1\r\nHost: a.test\r\nX-Pad: " + b"p" * 5000 + b"\r\n\r\n", 431,
                "request_too_large")
    assert "too large" in o["message"], o
    # a head that never ends is refused as soon as it passes the limit, without waiting for more
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n" + b"X-A: b\r\n" * 700)
        raw = read_until_closed(s)
    finally:
        s.close()
    assert raw.startswith(b"HTTP/1.1 431 "), raw
    assert [r[1] for r in backend.requests] == ["/ok"]


def test_too_many_headers_431(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress(extra={"limits": {"max_headers": 10}})
    ok = b"GET /ok HTTP/1.1\r\nHost: a.test\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(8)) + \
        b"Connection: close\r\n\r\n"
    assert raw_exchange(ipki, d.port, "a.test", ok)[0] == 200
    o = refused(ipki, d, b"GET / HTTP/1.1\r\nHost: a.test\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(20))
                + b"\r\n", 431, "request_too_large")
    assert "too many header fields" in o["message"], o
    assert [r[1] for r in backend.requests] == ["/ok"]


def test_body_over_limit_413(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress(extra={"limits": {"max_body_bytes": 1000}})
    st, _, body = tls_get_body(ipki, d, b"x" * 1000)
    assert st == 200 and seen(body)["body_len"] == 1000
    # announced: refused before anything is sent on
    o = refused(ipki, d, b"POST /big HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1001\r\n\r\n" + b"x" * 1001, 413,
                "request_body_too_large")
    assert "1000" in o["message"], o
    assert [r[1] for r in backend.requests] == ["/b"]
    # chunked: refused when the bytes pass the limit; the backend never gets the whole body
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    try:
        s.sendall(b"POST /chunked HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(10):
            try:
                s.sendall(b"100\r\n" + b"y" * 256 + b"\r\n")
            except (ssl.SSLError, OSError):
                break
        raw = read_until_closed(s)
    finally:
        s.close()
    assert raw.startswith(b"HTTP/1.1 413 "), raw
    assert len([l for l in d.access_lines() if '"status":413' in l]) == 2


def tls_get_body(ipki, d, body):
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    try:
        return request(s, "POST", "/b", "a.test", body=body)
    finally:
        s.close()


def test_head_that_stops_arriving_408(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress(extra={"timeouts": {"head_ms": 400}})
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    try:
        t0 = time.monotonic()
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: a.te")
        raw = read_until_closed(s, timeout=5)
        took = time.monotonic() - t0
    finally:
        s.close()
    assert raw.startswith(b"HTTP/1.1 408 "), raw
    assert b'"error":"request_timeout"' in raw, raw
    assert 0.3 <= took <= 2.5, took
    line = wait_access_line(d, lambda l: l["status"] == 408)
    assert line["error"] == "request_timeout" and line["site"] == "a", line
    assert not backend.requests


def test_idle_keep_alive_closed(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress(extra={"timeouts": {"idle_ms": 500}})
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    try:
        st, _, body = request(s, "GET", "/1", "a.test")
        assert st == 200
        # still open while within the idle time: a second request after 200 ms is served
        time.sleep(0.2)
        st, _, body = request(s, "GET", "/2", "a.test")
        assert st == 200
        t0 = time.monotonic()
        raw = read_until_closed(s, timeout=5)
        took = time.monotonic() - t0
    finally:
        s.close()
    assert raw == b"", raw  # closed without an answer: no request was in flight
    assert 0.4 <= took <= 2.5, took
    assert [r[1] for r in backend.requests] == ["/1", "/2"]


def test_handshake_that_never_completes_is_closed(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress(extra={"timeouts": {"handshake_ms": 400}})
    for first in (b"", b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03"):  # nothing; half a ClientHello
        s = socket.create_connection(("127.0.0.1", d.port))
        try:
            t0 = time.monotonic()
            s.sendall(first)
            s.settimeout(5)
            try:
                got = s.recv(100)
            except ConnectionResetError:
                got = b""
            took = time.monotonic() - t0
        finally:
            s.close()
        assert got == b"", got
        assert 0.3 <= took <= 2.5, took
    # the daemon is fine: a real handshake right after
    st, _, _ = raw_exchange(ipki, d.port, "a.test", b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")[:3]
    assert st == 200


def test_default_timeouts_keep_a_slow_client(cg, ipki, backend, ingress):
    """The control of the timeout tests: with the defaults, the same slow head is served."""
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress()
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    try:
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: a.te")
        time.sleep(0.6)
        s.sendall(b"st\r\n\r\n")
        st, _, body = read_response(s)
    finally:
        s.close()
    assert st == 200, body


def test_413_after_reloads_on_keep_alive(cg, ipki, backend, ingress):
    """A head refused before routing (413) on a connection whose previous request ran on a
    configuration since replaced twice: the answer and the log line name the connection's site,
    no stale rule (certgate once read the freed configuration here)."""
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress(extra={"limits": {"max_body_bytes": 100}, "reload_ms": 50})
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    try:
        cg.ok("site", "rule", "a", "/y", "allow-all")
        time.sleep(0.3)
        st, _, body = request(s, "GET", "/y", "a.test")  # decided by the rule /y, on a new configuration
        assert st == 200
        cg.ok("site", "rule", "a", "/z", "allow-all")
        time.sleep(0.3)
        s.sendall(b"POST /y HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1000\r\n\r\n")
        st, h, body = read_response(s)
    finally:
        s.close()
    assert st == 413, body
    o = error_json(st, h, body)
    assert o["site"] == "a" and "rule" not in o and "reason" not in o, o
    line = wait_access_line(d, lambda l: l["status"] == 413)
    assert (line["site"], line["rule"], line["profile"]) == ("a", None, None), line


def test_path_longer_than_the_buffer_414(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress()
    st, _, body = raw_exchange(ipki, d.port, "a.test", b"GET /" + b"a" * 4000 + b" HTTP/1.1\r\nHost: a.test\r\n"
                               b"Connection: close\r\n\r\n")[:3]
    assert st == 200, body
    o = refused(ipki, d, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: a.test\r\n\r\n", 414, "uri_too_long")
    assert "4095" in o["message"], o
    assert len(backend.requests) == 1


def test_backend_down_502(cg, ipki, ingress):
    class Down:
        port = free_port()  # nothing listens there
        url = "http://127.0.0.1:%d" % port
    add_site_a(cg, ipki, Down, mode="off")
    d = ingress()
    o = refused(ipki, d, b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", 502, "backend_refused")
    assert "site show" in o["hint"], o
    line = wait_access_line(d, lambda l: l["status"] == 502)
    assert line["upstream"] == "127.0.0.1:%d" % Down.port, line
