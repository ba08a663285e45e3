"""The egress error answers (SPEC.md section 4, "Egress"): every failure answers the application
with 502 (504 for timeouts; 4xx for what the application itself got wrong) and a JSON body
{"error", "message", "destination", "certificate", "hint"}, with the code repeated in a
Certgate-Error header. The message names the destination and, where it matters, the certificate.
Real peers: nginx, a Python TLS server that hangs or closes, openssl s_server with -Verify 1 in
TLS 1.2 and TLS 1.3 (where the server's verdict on the client certificate arrives after the
handshake), a socket that listens but never accepts."""

import socket
import time

import pytest

from egress_fixtures import (egress, epki, error_body, free_port, nginx, raw_server, s_server,  # noqa: F401
                             spki_b64, store_client, trust_test_root)

FAST = {"timeouts": {"connect_ms": 1000, "response_ms": 1200}}


@pytest.fixture
def gw(cg, epki, egress):
    """'client' stored with its chain, the test root trusted by the environment, no pins."""
    store_client(cg, epki, "client")
    trust_test_root(cg, epki)

    def start(extra=None):
        e = dict(FAST)
        e.update(extra or {})
        return egress(extra=e)
    return start


def expect(d, target, status, code, headers=None, method="GET", body=None):
    st, h, data = d.request(method, target, headers=headers, body=body)
    assert st == status, (st, h, data)
    o = error_body(st, h, data)
    assert o["error"] == code, o
    assert isinstance(o["message"], str) and o["message"], o
    return o


def test_dns_failure(gw):
    d = gw()
    o = expect(d, "http://no-such-host.invalid/x", 502, "dns_failure")
    assert o["destination"] == "no-such-host.invalid:443", o
    assert "no-such-host.invalid" in o["message"], o
    assert o["hint"], o


def test_connect_refused(gw):
    d = gw()
    port = free_port()  # nothing listens there
    o = expect(d, "http://127.0.0.1:%d/x" % port, 502, "connect_refused")
    assert o["destination"] == "127.0.0.1:%d" % port, o
    assert "127.0.0.1:%d" % port in o["message"] and "refused" in o["message"], o
    assert o["certificate"] is None, o


def test_connect_timeout_when_the_handshake_never_completes(gw):
    # a socket that listens but never accepts: TCP connects (the kernel's backlog), TLS waits
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        d = gw()
        t0 = time.monotonic()
        o = expect(d, "http://127.0.0.1:%d/x" % port, 504, "connect_timeout")
        took = time.monotonic() - t0
        assert 0.8 <= took < 5, took
        assert o["destination"] == "127.0.0.1:%d" % port, o
        assert "127.0.0.1:%d" % port in o["message"], o
    finally:
        s.close()


def test_upstream_certificate_from_an_untrusted_ca(gw, raw_server, epki):
    srv = raw_server("ok", cert=epki.other_full, key=epki.other_key)
    d = gw()
    o = expect(d, srv.url("/x"), 502, "upstream_certificate_invalid")
    assert o["destination"] == srv.authority and srv.authority in o["message"], o
    assert "issuer" in o["message"] or "self-signed" in o["message"] or "unable to get" in o["message"], o
    assert "ca add" in o["hint"], o


def test_upstream_certificate_for_another_name(cg, gw, nginx):
    cg.ok("upstream", "add", "misnamed", "https://127.0.0.1:%d" % nginx.port, "--server-name", "wrong.example")
    d = gw()
    o = expect(d, "/x", 502, "upstream_certificate_invalid", headers={"Host": "misnamed"})
    assert "mismatch" in o["message"].lower(), o
    assert "wrong.example" in o["hint"] and "--server-name" in o["hint"], o
    assert o["destination"] == nginx.authority, o


def test_upstream_certificate_expired(gw, raw_server, epki):
    srv = raw_server("ok", cert=epki.expired_full, key=epki.expired_key)
    d = gw()
    o = expect(d, srv.url("/x"), 502, "upstream_certificate_invalid")
    assert "expired" in o["message"], o
    assert "validity" in o["hint"], o


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_client_certificate_required_and_none_pinned(gw, s_server, version):
    srv = s_server("-Verify", "1", "-verify_return_error", version)
    d = gw()
    o = expect(d, srv.url("/"), 502, "client_certificate_required")
    assert o["certificate"] is None, o
    assert o["destination"] == srv.authority and srv.authority in o["message"], o
    assert "pin set 127.0.0.1" in o["hint"], o


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_client_certificate_rejected_by_the_server(cg, gw, s_server, epki, version):
    # the server trusts only the other root: our certificate is refused (in TLS 1.3 the alert
    # arrives after the handshake, on the first read; in TLS 1.2 during the handshake)
    srv = s_server("-Verify", "1", "-verify_return_error", "-CAfile", epki.root2, version)
    cg.ok("pin", "set", "127.0.0.1", "client")
    d = gw()
    o = expect(d, srv.url("/"), 502, "client_certificate_rejected")
    assert o["certificate"] == "client", o
    assert "'client'" in o["message"] and srv.authority in o["message"], o
    assert "pin set" in o["hint"], o


def test_client_certificate_accepted_by_s_server(cg, gw, s_server, epki):
    # the contrast: the same server shape trusting our root accepts the pinned certificate
    srv = s_server("-Verify", "1", "-verify_return_error", "-CAfile", epki.root, "-tls1_3")
    cg.ok("pin", "set", "127.0.0.1", "client")
    d = gw()
    st, h, body = d.request("GET", srv.url("/"))
    assert st == 200, (st, body)
    assert b"client.example" in body or b"Client certificate" in body, body


def test_upstream_key_mismatch(cg, gw, nginx, epki):
    cg.ok("upstream", "add", "pinned", "https://127.0.0.1:%d" % nginx.port, "--spki-sha256", spki_b64(epki.client))
    cg.ok("pin", "set", "127.0.0.1", "client")
    d = gw()
    o = expect(d, "/x", 502, "upstream_key_mismatch", headers={"Host": "pinned"})
    assert nginx.authority in o["message"] and "SPKI" in o["message"], o
    assert "--spki-sha256" in o["hint"], o


def test_upstream_timeout_when_the_server_never_answers(cg, gw, raw_server):
    srv = raw_server("hang")
    cg.ok("pin", "set", "127.0.0.1", "client")
    d = gw()
    t0 = time.monotonic()
    o = expect(d, srv.url("/slow"), 504, "upstream_timeout")
    took = time.monotonic() - t0
    assert 1.0 <= took < 6, took
    assert o["destination"] == srv.authority and srv.authority in o["message"], o
    assert o["certificate"] == "client", o


def test_upstream_timeout_per_upstream_setting(cg, gw, raw_server):
    srv = raw_server("hang")
    cg.ok("upstream", "add", "quick", "https://127.0.0.1:%d" % srv.port, "--timeout", "300")
    d = gw(extra={"timeouts": {"connect_ms": 1000, "response_ms": 20000}})
    t0 = time.monotonic()
    expect(d, "/x", 504, "upstream_timeout", headers={"Host": "quick"})
    assert time.monotonic() - t0 < 5


def test_upstream_closed_without_answering(gw, raw_server):
    srv = raw_server("close_notify")
    d = gw()
    o = expect(d, srv.url("/x"), 502, "upstream_closed")
    assert o["destination"] == srv.authority and srv.authority in o["message"], o


def test_upstream_closed_without_close_notify(gw, raw_server):
    srv = raw_server("close")
    d = gw()
    o = expect(d, srv.url("/x"), 502, "upstream_closed")
    assert o["destination"] == srv.authority and srv.authority in o["message"], o


def raw_exchange(d, data, timeout=5):
    s = socket.create_connection(("127.0.0.1", d.port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed before all of it was sent: read what came
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                # certgate closed with the rest of an oversized request unread: the kernel resets;
                # what was answered before has been read
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def parse_raw(out):
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


@pytest.mark.parametrize("request_bytes", [
    b"this is not http\r\n\r\n",
    b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
    b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n",
    b"GET http://127.0.0.1/ HTTP/1.1\r\nBad Name: a\r\n\r\n",
], ids=["garbage", "cl-and-te", "two-cl", "obs-fold", "space-in-name"])
def test_bad_request(gw, request_bytes):
    d = gw()
    out = raw_exchange(d, request_bytes)
    assert out, "no answer"
    st, h, body = parse_raw(out)
    assert st == 400, out
    o = error_body(st, h, body)
    assert o["error"] == "bad_request", o
    assert o["destination"] is None, o


def test_request_too_large(gw):
    d = gw()
    big = b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n"
    out = raw_exchange(d, big)
    st, h, body = parse_raw(out)
    assert st == 431, out[:300]
    assert error_body(st, h, body)["error"] == "request_too_large"
    many = b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"\r\n"
    out = raw_exchange(d, many)
    st, h, body = parse_raw(out)
    assert st == 431, out[:300]
    assert error_body(st, h, body)["error"] == "request_too_large"


def test_unknown_destination(gw):
    d = gw()
    st, h, body = d.request("GET", "/x", headers={"Host": "nobody-knows"})
    assert st == 400, (st, body)
    o = error_body(st, h, body)
    assert o["error"] == "unknown_destination", o
    assert "nobody-knows" in o["message"], o
    assert "upstream add" in o["hint"], o
