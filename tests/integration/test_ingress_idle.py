"""Idle connections at the ingress: a connection without a request for a second is parked (its
session freed; its socket, TLS state and handshake facts kept: docs/performance.md, "Memory per
idle connection"). A parked connection serves its next request exactly as an unparked one would
-- identity headers, access log, rules, on the configuration current then, resumed sessions
included -- and keeps the idle timeout, limits.max_connections and the drain on SIGTERM.

That a connection is parked is read from /proc: its socket then sits in an epoll set of its own
(the worker's park), not in the one with the listening socket."""

import hashlib
import os
import re
import socket
import ssl
import time

import pytest

from conftest import cert_not_after, cert_serial, cert_subject
from ingress_fixtures import (add_site_a, backend, error_json, header_values, ingress, ipki, read_response,
                              read_until_closed, request, seen, tls_connect, tls_context, wait_access_line,
                              wait_until)

PARK_AFTER = 1.0  # seconds: PARK_AFTER_MS in src/ingress/ingress.c
IDLE = PARK_AFTER + 0.6  # a pause after which a connection has been parked

IDENTITY = ["X-Forwarded-Client-Cert", "X-Client-Verify", "X-Client-Cert-Subject", "X-Client-Cert-Issuer",
            "X-Client-Cert-Serial", "X-Client-Cert-Fingerprint", "X-Client-Cert-Not-After", "X-Forwarded-For"]


# ---- what /proc says about the daemon's sockets ----------------------------------------------

def _tcp_inodes(port, state=None):
    """{(local port, remote port): inode} of the IPv4 TCP sockets on 127.0.0.1:port."""
    out = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            lport = int(p[1].split(":")[1], 16)
            rport = int(p[2].split(":")[1], 16)
            if lport == port and (state is None or p[3] == state):
                out[(lport, rport)] = p[9]
    return out


def _fd_of_inode(pid, inode):
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "socket:[%s]" % inode:
                return int(fd)
        except OSError:
            pass
    return None


def _epoll_sets(pid):
    """The fds registered in each epoll instance of the process."""
    sets = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "anon_inode:[eventpoll]":
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                sets.append({int(m) for m in re.findall(r"^tfd:\s*(\d+)", f.read(), re.M)})
        except OSError:
            pass
    return sets


def daemon_fd(d, s, client_port=None):
    """The daemon's fd of the connection whose client end is s (or has client_port): None when
    the daemon has closed it."""
    inode = _tcp_inodes(d.port).get((d.port, client_port or s.getsockname()[1]))
    return _fd_of_inode(d.proc.pid, inode) if inode else None


def parked(d, s):
    listening = [_fd_of_inode(d.proc.pid, i) for i in _tcp_inodes(d.port, state="0A").values()]
    fd = daemon_fd(d, s)
    assert fd is not None, "the daemon has no socket for this connection"
    return any(fd in e and not any(l in e for l in listening) for e in _epoll_sets(d.proc.pid))


def certified(ipki, d, host="a.test"):
    return tls_connect(d.port, host, tls_context(ipki, ipki.client_full, ipki.client_key))


def identity_of(got):
    return {name: header_values(got, name) for name in IDENTITY}


# ---- the next request ------------------------------------------------------------------------

def test_parked_connection_serves_its_next_request_alike(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="required")
    d = ingress()
    s = certified(ipki, d)
    try:
        st, _, body = request(s, "GET", "/1", "a.test")
        assert st == 200, body
        first = identity_of(seen(body))
        assert not parked(d, s), "parked at once: the warm period is gone"
        assert wait_until(lambda: parked(d, s), timeout=PARK_AFTER + 1.5), "not parked after an idle second"
        st, _, body = request(s, "GET", "/2", "a.test")
        assert st == 200, body
        assert not parked(d, s)  # taken up again
        # and it stays a keep-alive connection, warm
        st, _, body3 = request(s, "GET", "/3", "a.test")
        assert st == 200, body3
    finally:
        s.close()
    got = seen(body)
    assert identity_of(got) == first
    der = ssl.PEM_cert_to_DER_cert(ipki.client.read_text())
    digest = hashlib.sha256(der).hexdigest()
    assert header_values(got, "X-Forwarded-Client-Cert") == [
        'Hash=%s;Subject="%s"' % (digest, cert_subject(ipki.client))]
    assert header_values(got, "X-Client-Verify") == ["SUCCESS"]
    assert header_values(got, "X-Client-Cert-Issuer") == [cert_subject(ipki.inter)]
    assert int(header_values(got, "X-Client-Cert-Serial")[0], 16) == cert_serial(ipki.client)
    assert header_values(got, "X-Client-Cert-Not-After") == [cert_not_after(ipki.client)]
    assert header_values(got, "X-Forwarded-For") == ["127.0.0.1"]
    one = wait_access_line(d, lambda l: l["target"] == "/1")
    two = wait_access_line(d, lambda l: l["target"] == "/2")
    for k in ("client", "cert", "cert_sha256", "site", "tls", "resumed"):
        assert two[k] == one[k], (k, one, two)
    assert two["cert_sha256"] == digest and two["site"] == "a", two
    assert [r[1] for r in backend.requests] == ["/1", "/2", "/3"]


def test_identity_with_quotes_and_backslashes_made_again_alike(cg, ipki, backend, ingress, tmp_path):
    """The identity is made again after parking: the same bytes, escapes included (Envoy's
    quoting of the X-Forwarded-Client-Cert Subject: \\ and \" inside the quotes)."""
    key = ipki.ec_key("client-quote.key")
    crt = ipki.sign("client-quote", 'q"uote\\\\back, and; more=', key, (ipki.inter, ipki.inter_key), "client")
    full = tmp_path / "client-quote-full.pem"
    full.write_bytes(crt.read_bytes() + ipki.inter.read_bytes())
    add_site_a(cg, ipki, backend, mode="required")
    d = ingress()
    s = tls_connect(d.port, "a.test", tls_context(ipki, full, key))
    try:
        st, _, body = request(s, "GET", "/1", "a.test")
        assert st == 200, body
        assert wait_until(lambda: parked(d, s), timeout=PARK_AFTER + 1.5)
        st, _, body2 = request(s, "GET", "/2", "a.test")
        assert st == 200, body2
    finally:
        s.close()
    subject = cert_subject(crt)
    assert '\\"' in subject and "\\\\" in subject, subject  # RFC 2253 escaped them already
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(crt.read_text())).hexdigest()
    quoted = subject.replace("\\", "\\\\").replace('"', '\\"')
    for got in (seen(body), seen(body2)):
        assert header_values(got, "X-Forwarded-Client-Cert") == ['Hash=%s;Subject="%s"' % (digest, quoted)], got
        assert header_values(got, "X-Client-Cert-Subject") == [subject]


def test_parked_right_after_the_handshake(cg, ipki, backend, ingress):
    """A client that connects and says nothing for a while is parked too, and then served."""
    add_site_a(cg, ipki, backend, mode="optional")
    d = ingress()
    s = certified(ipki, d)
    try:
        assert wait_until(lambda: parked(d, s), timeout=PARK_AFTER + 1.5)
        st, _, body = request(s, "GET", "/late", "a.test")
    finally:
        s.close()
    assert st == 200, body
    assert header_values(seen(body), "X-Client-Verify") == ["SUCCESS"]


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls12", "tls13"])
def test_parked_resumed_session_keeps_its_chain(cg, ipki, backend, ingress, version):
    """A resumed session's chain comes from its ticket, not from a verification: parking keeps it,
    and a rule that selects the intermediate still finds it there."""
    add_site_a(cg, ipki, backend, mode="required")
    cg.ok("profile", "add", "inter-only", "--client-ca", "clients@" + ipki.fingerprint(ipki.inter))
    cg.ok("site", "rule", "a", "/", "inter-only")
    d = ingress()
    ctx = tls_context(ipki, ipki.client_full, ipki.client_key)
    ctx.minimum_version = ctx.maximum_version = version
    s = tls_connect(d.port, "a.test", ctx)
    try:
        assert request(s, "GET", "/first", "a.test")[0] == 200  # the TLS 1.3 ticket comes with it
        sess = s.session
    finally:
        s.close()
    s = tls_connect(d.port, "a.test", ctx, session=sess)
    try:
        assert s.session_reused
        assert wait_until(lambda: parked(d, s), timeout=PARK_AFTER + 1.5)
        st, _, body = request(s, "GET", "/resumed", "a.test")
    finally:
        s.close()
    assert st == 200, body
    assert header_values(seen(body), "X-Client-Cert-Fingerprint") == [ipki.fingerprint(ipki.client)]
    line = wait_access_line(d, lambda l: l["target"] == "/resumed")
    assert line["resumed"] is True and line["profile"] == "inter-only" and line["reason"] == "certificate", line


def test_parked_connection_decided_on_the_new_configuration(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress(extra={"reload_ms": 100})
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    try:
        assert request(s, "GET", "/admin/x", "a.test")[0] == 200
        assert wait_until(lambda: parked(d, s), timeout=PARK_AFTER + 1.5)
        cg.ok("site", "rule", "a", "/admin", "deny-all")
        time.sleep(1.0)  # applied within a second
        assert parked(d, s)
        st, h, body = request(s, "GET", "/admin/x", "a.test")
    finally:
        s.close()
    assert st == 403, body
    o = error_json(st, h, body)
    assert (o["rule"], o["profile"], o["reason"]) == ("/admin", "deny-all", "deny_all"), o


def test_a_head_in_progress_is_not_parked(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress()
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    try:
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: a.te")
        time.sleep(IDLE)
        assert not parked(d, s)
        s.sendall(b"st\r\n\r\n")
        st, _, body = read_response(s)
    finally:
        s.close()
    assert st == 200, body


def test_many_parked_connections_wake_at_once(cg, ipki, backend, ingress):
    """More parked connections than one wake-up takes (64) get bytes at the same moment."""
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress()
    ctx = tls_context(ipki)
    conns = [tls_connect(d.port, "a.test", ctx) for _ in range(100)]
    try:
        for i, s in enumerate(conns):
            assert request(s, "GET", "/a%d" % i, "a.test")[0] == 200
        assert wait_until(lambda: parked(d, conns[-1]), timeout=PARK_AFTER + 1.5)
        assert all(parked(d, s) for s in conns)
        for i, s in enumerate(conns):
            s.sendall(b"GET /b%d HTTP/1.1\r\nHost: a.test\r\n\r\n" % i)
        for i, s in enumerate(conns):
            st, _, body = read_response(s)
            assert st == 200 and seen(body)["target"] == "/b%d" % i, body
    finally:
        for s in conns:
            s.close()


# ---- timeouts, limits, closes --------------------------------------------------------------

def test_parked_connection_closed_at_the_idle_timeout(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress(extra={"timeouts": {"idle_ms": 2500}})
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    try:
        assert request(s, "GET", "/1", "a.test")[0] == 200
        t0 = time.monotonic()
        assert wait_until(lambda: parked(d, s), timeout=PARK_AFTER + 1.0)
        raw = read_until_closed(s, timeout=5)
        took = time.monotonic() - t0
    finally:
        s.close()
    assert raw == b"", raw  # no request was in flight: no answer
    assert 2.3 <= took <= 3.5, took


def test_client_that_closes_while_parked(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress()
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    assert request(s, "GET", "/1", "a.test")[0] == 200
    assert wait_until(lambda: parked(d, s), timeout=PARK_AFTER + 1.5)
    port = s.getsockname()[1]
    s.close()
    # the daemon lets its socket go, and logs nothing for it
    assert wait_until(lambda: daemon_fd(d, None, port) is None, timeout=3)
    assert len(d.wait_access(1)) == 1
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    try:
        assert request(s, "GET", "/2", "a.test")[0] == 200
    finally:
        s.close()


def test_parked_connections_count_against_max_connections(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress(extra={"limits": {"max_connections": 2}})
    ctx = tls_context(ipki)
    a, b = tls_connect(d.port, "a.test", ctx), tls_connect(d.port, "a.test", ctx)
    try:
        assert request(a, "GET", "/a", "a.test")[0] == 200
        assert request(b, "GET", "/b", "a.test")[0] == 200
        assert wait_until(lambda: parked(d, a) and parked(d, b), timeout=PARK_AFTER + 1.5)
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            s = tls_connect(d.port, "a.test", ctx, timeout=5)
            try:
                request(s, "GET", "/c", "a.test")
            finally:
                s.close()
        assert d.wait_stderr("closed at limits.max_connections (2)")
        # one leaves: there is room again
        a.close()
        time.sleep(0.3)
        s = tls_connect(d.port, "a.test", ctx)
        try:
            assert request(s, "GET", "/d", "a.test")[0] == 200
        finally:
            s.close()
    finally:
        a.close()
        b.close()


def test_sigterm_closes_parked_connections(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress()
    conns = [tls_connect(d.port, "a.test", tls_context(ipki)) for _ in range(3)]
    try:
        for s in conns:
            assert request(s, "GET", "/", "a.test")[0] == 200
        assert wait_until(lambda: all(parked(d, s) for s in conns), timeout=PARK_AFTER + 1.5)
        t0 = time.monotonic()
        assert d.stop(timeout=10) == 0, d.stderr()
        assert time.monotonic() - t0 < 3
        for s in conns:
            assert read_until_closed(s, timeout=2) == b""
    finally:
        for s in conns:
            s.close()
