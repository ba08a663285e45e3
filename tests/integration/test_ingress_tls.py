"""TLS at the ingress (SPEC.md section 4): an unknown or missing server name refused with
unrecognized_name (never served by another site), TLS 1.2 and 1.3 accepted and 1.1 refused, and
session resumption that works within a site and never carries a session into another site."""

import ssl
import subprocess

import pytest

from ingress_fixtures import (add_site_a, backend, header_values, ingress, ipki, request, s_client,
                              seen, tls_connect, tls_context, wait_access_line, wait_until)


def two_sites(cg, ipki, backend, mode_a="off"):
    add_site_a(cg, ipki, backend, mode=mode_a)
    cg.ok("site", "add", "b", "--backend", backend.url, "--domain", "b.test=srv-b")


@pytest.mark.parametrize("args,what", [
    (["-servername", "nowhere.test"], "tls_unknown_server_name"),
    (["-noservername"], "tls_no_server_name"),
    (["-servername", "A.TEST.evil"], "tls_unknown_server_name"),
])
def test_unknown_and_missing_server_name(cg, ipki, backend, ingress, args, what):
    two_sites(cg, ipki, backend)
    d = ingress()
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % d.port, *args, "-CAfile", str(ipki.root)],
                       input=b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    out = p.stdout.decode(errors="replace")
    assert p.returncode != 0, out
    assert "unrecognized name" in out, out
    assert "BEGIN CERTIFICATE" not in out and "Server certificate" not in out, out  # no site's certificate
    line = wait_access_line(d, lambda l: l["error"] == what and l["method"] == "-")
    assert line["site"] == "-", line
    assert not backend.requests


def test_server_name_any_case_and_trailing_dot(cg, ipki, backend, ingress):
    two_sites(cg, ipki, backend)
    d = ingress()
    rc, out = s_client(d.port, "B.Test", "-CAfile", ipki.root, "-verify_hostname", "b.test", "-verify_return_error",
                       input=b"")
    assert "Verify return code: 0 (ok)" in out, out
    assert "CN = b.test" in out, out


@pytest.mark.parametrize("version,name", [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")])
def test_tls12_and_tls13(cg, ipki, backend, ingress, version, name):
    add_site_a(cg, ipki, backend, mode="required")
    d = ingress()
    ctx = tls_context(ipki, ipki.client_full, ipki.client_key)
    ctx.minimum_version = ctx.maximum_version = version
    s = tls_connect(d.port, "a.test", ctx)
    try:
        assert s.version() == name
        st, _, body = request(s, "GET", "/v", "a.test")
    finally:
        s.close()
    assert st == 200, body
    assert header_values(seen(body), "X-Client-Verify") == ["SUCCESS"]
    line = wait_access_line(d, lambda l: l["target"] == "/v")
    assert line["tls"] == name, line


def test_tls12_refuses_weak_ciphers(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress()
    for cipher in ("AES128-SHA", "ECDHE-ECDSA-AES128-SHA", "AES256-GCM-SHA384"):  # no ECDHE, or no AEAD
        rc, out = s_client(d.port, "a.test", "-tls1_2", "-cipher", cipher, input=b"")
        assert rc != 0 and "handshake failure" in out, (cipher, out)
    rc, out = s_client(d.port, "a.test", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", input=b"")
    assert "Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" in out, out


@pytest.mark.parametrize("flag", ["-tls1_1", "-tls1"])
def test_old_tls_refused(cg, ipki, backend, ingress, flag):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress()
    rc, out = s_client(d.port, "a.test", flag, "-cipher", "DEFAULT:@SECLEVEL=0", input=b"")
    assert rc != 0, out
    # the server said so (protocol_version), not the client refusing to try
    assert "alert protocol version" in out, out
    assert not backend.requests


def resumed_pair(ipki, port, host, version, cert=None, key=None, host2=None):
    """Two connections with one context: the second offers the first's session. Returns
    (reused, response of the second)."""
    ctx = tls_context(ipki, cert, key)
    ctx.minimum_version = ctx.maximum_version = version
    s = tls_connect(port, host, ctx)
    try:
        st, _, body = request(s, "GET", "/first", host)  # TLS 1.3 tickets arrive after the handshake
        assert st == 200, body
        sess = s.session
    finally:
        s.close()
    assert sess is not None and (sess.has_ticket or version == ssl.TLSVersion.TLSv1_2)
    host2 = host2 or host
    s = tls_connect(port, host2, ctx, session=sess)
    try:
        reused = s.session_reused
        resp = request(s, "GET", "/second", host2)
    finally:
        s.close()
    return reused, resp


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls12", "tls13"])
def test_session_resumption(cg, ipki, backend, ingress, version):
    two_sites(cg, ipki, backend, mode_a="required")
    d = ingress()
    reused, (st, _, body) = resumed_pair(ipki, d.port, "a.test", version, ipki.client_full, ipki.client_key)
    assert reused, "the session was not resumed"
    assert st == 200, body
    # the resumed connection still carries the verified identity
    got = seen(body)
    assert header_values(got, "X-Client-Verify") == ["SUCCESS"]
    assert header_values(got, "X-Client-Cert-Fingerprint") == [ipki.fingerprint(ipki.client)]
    line = wait_access_line(d, lambda l: l["target"] == "/second")
    assert line["resumed"] is True, line
    first = wait_access_line(d, lambda l: l["target"] == "/first")
    assert first["resumed"] is False, first


def test_session_of_site_b_does_not_resume_on_site_a(cg, ipki, backend, ingress):
    two_sites(cg, ipki, backend, mode_a="off")
    d = ingress()
    # the control: b's session resumes on b
    reused, _ = resumed_pair(ipki, d.port, "b.test", ssl.TLSVersion.TLSv1_3)
    assert reused
    for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        reused, (st, _, body) = resumed_pair(ipki, d.port, "b.test", version, host2="a.test")
        assert not reused, "a session of site b was resumed on site a (%s)" % version
        assert st == 200 and seen(body)["headers"][0] == ["Host", "a.test"], body


def test_session_resumption_with_s_client(cg, ipki, backend, ingress, tmp_path):
    two_sites(cg, ipki, backend, mode_a="off")
    d = ingress()
    sess = tmp_path / "b.sess"
    req = b"GET / HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n"
    rc, out = s_client(d.port, "b.test", "-CAfile", ipki.root, "-sess_out", sess, "-ign_eof", input=req)
    assert "New, TLSv1.3" in out and sess.exists(), out
    rc, out = s_client(d.port, "b.test", "-CAfile", ipki.root, "-sess_in", sess, "-ign_eof", input=req)
    assert "Reused, TLSv1.3" in out, out
    assert "HTTP/1.1 200" in out, out
    rc, out = s_client(d.port, "a.test", "-CAfile", ipki.root, "-sess_in", sess, "-ign_eof",
                       input=req.replace(b"b.test", b"a.test"))
    assert "New, TLSv1.3" in out and "Reused" not in out, out


def test_mode_change_ends_resumption_of_an_open_session(cg, ipki, backend, ingress):
    """A session made while the site was off must not resume once it is required (the client
    would skip the certificate it now needs)."""
    two_sites(cg, ipki, backend, mode_a="off")
    d = ingress(extra={"reload_ms": 50})
    ctx = tls_context(ipki)
    s = tls_connect(d.port, "a.test", ctx)
    try:
        st, _, _ = request(s, "GET", "/first", "a.test")
        assert st == 200
        sess = s.session
    finally:
        s.close()
    cg.ok("site", "set", "a", "--mtls", "required")
    def refused():
        try:
            s2 = tls_connect(d.port, "a.test", tls_context(ipki))
        except (ssl.SSLError, OSError):
            return True
        try:
            request(s2, "GET", "/probe", "a.test")
            return False
        except (ssl.SSLError, OSError, ConnectionError):
            return True
        finally:
            s2.close()
    assert wait_until(refused, timeout=2)
    with pytest.raises((ssl.SSLError, OSError, ConnectionError)):
        s = tls_connect(d.port, "a.test", ctx, session=sess)
        try:
            request(s, "GET", "/resumed", "a.test")
        finally:
            s.close()
    assert "/resumed" not in [r[1] for r in backend.requests]
