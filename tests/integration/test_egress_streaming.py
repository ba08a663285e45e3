"""Streaming through the egress (SPEC.md section 4): bodies are streamed in both directions, not
buffered, with Content-Length and chunked framing; a 50 MB download and a 20 MB upload arrive
byte-identical (compared by SHA-256: nginx serves the file and its WebDAV PUT writes what it
received); pipelined requests are answered in order."""

import hashlib
import http.client
import socket

import pytest

from egress_fixtures import curl, echo, egress, epki, nginx, store_client, trust_test_root  # noqa: F401

MB = 1024 * 1024


@pytest.fixture
def gw(cg, epki, egress):
    store_client(cg, epki, "client")
    trust_test_root(cg, epki)
    cg.ok("pin", "set", "127.0.0.1", "client")
    return egress()


@pytest.fixture(scope="module")
def big(nginx):
    return nginx.make_file("big.bin", 50 * MB)


def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def headers_of(dump):
    out = {}
    for l in dump.decode("latin-1").splitlines():
        k, sep, v = l.partition(":")
        if sep:
            out[k.strip().lower()] = v.strip()
    return out


@pytest.mark.parametrize("path", ["/files/big.bin", "/chunked/big.bin"], ids=["content-length", "chunked"])
def test_download_50mb(gw, nginx, big, tmp_path, path):
    _, digest = big
    out, hdr = tmp_path / "down.bin", tmp_path / "h.txt"
    r = curl("-x", gw.url, "-o", out, "-D", hdr, nginx.url(path), timeout=60)
    assert r.returncode == 0, r
    h = headers_of(hdr.read_bytes())
    if path.startswith("/chunked"):
        assert h.get("transfer-encoding") == "chunked" and "content-length" not in h, h
    else:
        assert h.get("content-length") == str(50 * MB), h
    assert out.stat().st_size == 50 * MB
    assert sha256_file(out) == digest
    lines = gw.wait_access(1)
    assert lines and " 200 " in lines[-1], lines
    # bytes out as sent to the application: the body, plus the chunk framing when chunked
    fields = lines[-1].split()
    assert int(fields[7]) >= 50 * MB, lines


def test_chunked_response_is_dechunked_for_an_http10_application(gw, nginx, big, tmp_path):
    # an HTTP/1.0 client cannot read chunked coding: certgate sends the payload and closes
    _, digest = big
    out, hdr = tmp_path / "down10.bin", tmp_path / "h10.txt"
    r = curl("--http1.0", "-x", gw.url, "-o", out, "-D", hdr, nginx.url("/chunked/big.bin"), timeout=60)
    assert r.returncode == 0, r
    h = headers_of(hdr.read_bytes())
    assert "transfer-encoding" not in h and "content-length" not in h, h
    assert h.get("connection") == "close", h
    assert out.stat().st_size == 50 * MB
    assert sha256_file(out) == digest
    lines = gw.wait_access(1)
    assert lines and " 200 " in lines[-1], lines
    assert int(lines[-1].split()[7]) == 50 * MB, lines  # exactly the payload: no chunk framing


def make_upload(tmp_path, size):
    p = tmp_path / "up.bin"
    h = hashlib.sha256()
    block = hashlib.sha512(b"upload").digest() * 2048  # 128 KiB
    with open(p, "wb") as f:
        for i in range(size // len(block)):
            b = bytes([i & 0xff]) + block[1:]
            f.write(b)
            h.update(b)
    return p, h.hexdigest()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_upload_20mb(gw, nginx, tmp_path, chunked):
    src, digest = make_upload(tmp_path, 20 * MB)
    name = "up-%s.bin" % ("chunked" if chunked else "cl")
    args = ["-x", gw.url, "-T", src, "-o", tmp_path / "resp.txt", "-w", "%{http_code}"]
    if chunked:
        args += ["-H", "Transfer-Encoding: chunked"]
    r = curl(*args, nginx.url("/upload/" + name), timeout=60)
    assert r.returncode == 0, r
    assert r.stdout.decode() in ("201", "204"), r
    dst = nginx.uploaded(name)
    assert dst.stat().st_size == 20 * MB
    assert sha256_file(dst) == digest


def test_chunked_body_reaches_a_proxying_server(gw, nginx):
    # http.client writes its own chunks; nginx de-chunks and proxies with a Content-Length
    def parts():
        for i in range(64):
            yield bytes([65 + i % 26]) * 4096
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=20)
    try:
        c.request("POST", nginx.url("/sink"), body=parts(), encode_chunked=True,
                  headers={"Transfer-Encoding": "chunked"})
        r = c.getresponse()
        body = r.read()
    finally:
        c.close()
    assert r.status == 200, body
    assert echo(body) == {"received_length": str(64 * 4096), "method": "POST"}


def test_head_request_has_no_body(gw, nginx, big):
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    try:
        c.request("HEAD", nginx.url("/files/big.bin"))
        r = c.getresponse()
        assert r.status == 200
        assert r.getheader("Content-Length") == str(50 * MB)
        assert r.read() == b""
    finally:
        c.close()


def read_response(f):
    """One response from a file object: (status, headers, body)."""
    line = f.readline()
    status = int(line.split()[1])
    headers = {}
    while True:
        l = f.readline()
        if l in (b"\r\n", b""):
            break
        k, _, v = l.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = f.read(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            n = int(f.readline().split(b";")[0], 16)
            if n == 0:
                f.readline()
                break
            body += f.read(n)
            f.readline()
    else:
        body = f.read()
    return status, headers, body


def test_pipelined_requests_are_answered_in_order(gw, nginx):
    reqs = b""
    for i in range(5):
        reqs += b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trace: %d\r\n\r\n" % (nginx.url("/pipe/%d" % i).encode(), i)
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=3)
    try:
        s.sendall(reqs)
        f = s.makefile("rb")
        for i in range(5):
            st, h, body = read_response(f)
            assert st == 200, (i, st, body)
            e = echo(body)
            assert (e["uri"], e["x_trace"]) == ("/pipe/%d" % i, str(i)), e
    finally:
        s.close()
