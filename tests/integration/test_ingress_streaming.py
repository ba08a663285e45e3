"""HTTP/1.1 streaming through the ingress (SPEC.md section 4): a chunked upload of several MB
(hashed by the backend), a 50 MB download (counted and hashed by curl's output), Expect:
100-continue (the client waits for the 100 before it sends the body), a WebSocket echo after 101,
and pipelined requests answered in order."""

import hashlib
import os
import random

from ingress_fixtures import (add_site_a, backend, curl_ingress, header_values, ingress, ipki, read_response, request,
                              seen, tls_connect, tls_context, wait_access_line)

BIG = 50 * 1024 * 1024


def big_digest(n):
    """SHA-256 of the backend's /big?n=N body (a 64 KiB block repeated)."""
    block = hashlib.sha256(b"certgate").digest() * 2048
    h = hashlib.sha256()
    left = n
    while left:
        part = block[:min(len(block), left)]
        h.update(part)
        left -= len(part)
    return h.hexdigest()


def test_chunked_upload_several_mb(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="optional")
    d = ingress()
    rnd = random.Random(4)
    payload = os.urandom(6 * 1024 * 1024 + 123)
    s = tls_connect(d.port, "a.test", tls_context(ipki, ipki.client_full, ipki.client_key), timeout=60)
    try:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n")
        off = 0
        while off < len(payload):
            n = min(rnd.choice((1, 7, 100, 4096, 65536, 300000)), len(payload) - off)
            s.sendall(b"%x\r\n" % n + payload[off:off + n] + b"\r\n")
            off += n
        s.sendall(b"0\r\n\r\n")
        st, _, body = read_response(s)
        assert st == 200, body
        got = seen(body)
        assert got["body_len"] == len(payload)
        assert got["body_sha256"] == hashlib.sha256(payload).hexdigest()
        assert header_values(got, "Transfer-Encoding") == ["chunked"]
        assert header_values(got, "X-Client-Verify") == ["SUCCESS"]
        # the connection is still good for the next request
        st, _, body = request(s, "GET", "/after", "a.test")
        assert st == 200 and seen(body)["target"] == "/after"
    finally:
        s.close()
    line = wait_access_line(d, lambda l: l["target"] == "/upload")
    assert line["status"] == 200 and line["bytes_in"] > len(payload), line


def test_content_length_upload_with_curl(cg, ipki, backend, ingress, tmp_path):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress()
    f = tmp_path / "up.bin"
    data = os.urandom(3 * 1024 * 1024)
    f.write_bytes(data)
    r = curl_ingress(ipki, d.port, "a.test", "/put", "--data-binary", "@%s" % f, "-H", "Expect:")
    assert r.returncode == 0, r.stderr
    got = seen(r.stdout)
    assert (got["method"], got["body_len"]) == ("POST", len(data))
    assert got["body_sha256"] == hashlib.sha256(data).hexdigest()


def test_large_download(cg, ipki, backend, ingress, tmp_path):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress()
    out = tmp_path / "big.bin"
    r = curl_ingress(ipki, d.port, "a.test", "/big?n=%d" % BIG, "-o", out, "-w", "%{http_code} %{size_download}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "200 %d" % BIG
    h = hashlib.sha256()
    with open(out, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    assert h.hexdigest() == big_digest(BIG)
    line = wait_access_line(d, lambda l: l["target"].startswith("/big"))
    assert line["status"] == 200 and line["bytes_out"] >= BIG, line


def test_expect_100_continue(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress()
    body = os.urandom(200000)
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    try:
        s.sendall(b"PUT /cont HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n"
                  % len(body))
        # the body waits for the 100
        s.settimeout(5)
        first = b""
        while b"\r\n\r\n" not in first:
            d_ = s.recv(4096)
            assert d_, "closed before the 100: %r" % first
            first += d_
        assert first.startswith(b"HTTP/1.1 100 Continue\r\n"), first
        head, rest = first.split(b"\r\n\r\n", 1)
        assert rest == b"", rest  # nothing else before the body was sent
        s.sendall(body)
        st, _, resp = read_response(s)
        assert st == 200, resp
        got = seen(resp)
        assert got["body_len"] == len(body) and got["body_sha256"] == hashlib.sha256(body).hexdigest()
        assert header_values(got, "Expect") == ["100-continue"]
    finally:
        s.close()


def test_expect_100_continue_refused_request_gets_no_100(cg, ipki, backend, ingress):
    """A request the rules refuse is answered 403 at once: no 100, and the body is never asked for."""
    add_site_a(cg, ipki, backend, mode="off")
    cg.ok("site", "rule", "a", "/", "deny-all")
    d = ingress()
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    try:
        s.sendall(b"PUT /cont HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n")
        st, h, body = read_response(s)
    finally:
        s.close()
    assert st == 403, body
    assert not backend.requests


def test_websocket_echo(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="required")
    d = ingress()
    s = tls_connect(d.port, "a.test", tls_context(ipki, ipki.client_full, ipki.client_key))
    try:
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        s.settimeout(5)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            assert chunk, buf
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        assert lines[0].startswith("HTTP/1.1 101 "), head
        hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
        assert hdrs.get("upgrade", "").lower() == "websocket" and hdrs.get("connection", "").lower() == "upgrade", hdrs
        # raw bytes both ways, several rounds, binary and large
        for msg in (b"\x81\x05hello", bytes(range(256)) * 4, os.urandom(300000)):
            s.sendall(msg)
            got = rest
            rest = b""
            while len(got) < len(msg):
                chunk = s.recv(65536)
                assert chunk, "closed mid-echo"
                got += chunk
            assert got == msg
    finally:
        s.close()
    # the backend got the upgrade request with certgate's identity headers
    method, target, headers = backend.requests[0]
    assert target == "/ws"
    assert [v for k, v in headers if k.lower() == "x-client-verify"] == ["SUCCESS"]
    assert [v.lower() for k, v in headers if k.lower() == "upgrade"] == ["websocket"]


def test_pipelined_requests_answered_in_order(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress()
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    try:
        reqs = b""
        for i in range(8):
            body = b"x" * (i * 1000)
            reqs += b"POST /p/%d HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n\r\n" % (i, len(body)) + body
        reqs += b"GET /p/last HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
        s.sendall(reqs)
        for i in range(8):
            st, _, body = read_response(s)
            assert st == 200, body
            got = seen(body)
            assert (got["target"], got["body_len"]) == ("/p/%d" % i, i * 1000), got
        st, h, body = read_response(s)
        assert st == 200 and seen(body)["target"] == "/p/last"
        assert h.get("connection") == "close", h
    finally:
        s.close()
    assert [r[1] for r in backend.requests] == ["/p/%d" % i for i in range(8)] + ["/p/last"]
