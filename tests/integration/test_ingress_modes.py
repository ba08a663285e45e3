"""The ingress' mTLS modes and client-certificate verification (SPEC.md section 4, "Ingress";
docs/ingress.md): what each mode asks for in the handshake (seen with `openssl s_client`), the
mTLS domain, and every kind of bad client certificate refused with its reason in the access log."""

import json
import ssl

import pytest

from ingress_fixtures import (add_site_a, backend, curl_ingress, header_values, ingress, ipki, s_client, seen, tls_get,
                              wait_access_line, wait_handshake_failure)

HS_ERRORS = (ssl.SSLError, ConnectionError, OSError)


def test_off_sends_no_certificate_request(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    d = ingress()
    rc, out = s_client(d.port, "a.test", "-CAfile", ipki.root, input=b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
    assert "No client certificate CA names sent" in out, out
    assert "Acceptable client certificate CA names" not in out, out
    assert "Verify return code: 0 (ok)" in out, out
    # a client holding a certificate is not asked for it: the backend hears NONE
    st, _, body = tls_get(ipki, d.port, "a.test", "/", cert=ipki.client_full, key=ipki.client_key)
    assert st == 200, body
    got = seen(body)
    assert header_values(got, "X-Client-Verify") == ["NONE"]
    assert header_values(got, "X-Forwarded-Client-Cert") == []


@pytest.mark.parametrize("mode", ["optional", "required"])
def test_certificate_request_names_the_site_cas(cg, ipki, backend, ingress, mode):
    add_site_a(cg, ipki, backend, mode=mode)
    d = ingress()
    rc, out = s_client(d.port, "a.test", "-CAfile", ipki.root, "-cert", ipki.client, "-key", ipki.client_key,
                       "-cert_chain", ipki.inter, "-ign_eof", input=b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    assert "Acceptable client certificate CA names" in out, out
    names = out.split("Acceptable client certificate CA names", 1)[1]
    for cn in ("CN = Test Root CA", "CN = Test Intermediate CA", "CN = Test Intermediate CA 2"):
        assert cn in names, out
    assert "Other Root CA" not in names, out
    assert "HTTP/1.1 200" in out, out


def test_optional_without_and_with_certificate_curl(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="optional")
    d = ingress()
    r = curl_ingress(ipki, d.port, "a.test", "/opt")
    assert r.returncode == 0, r.stderr
    assert header_values(seen(r.stdout), "X-Client-Verify") == ["NONE"]
    r = curl_ingress(ipki, d.port, "a.test", "/opt", "--cert", ipki.client_full, "--key", ipki.client_key)
    assert r.returncode == 0, r.stderr
    got = seen(r.stdout)
    assert header_values(got, "X-Client-Verify") == ["SUCCESS"]
    assert header_values(got, "X-Client-Cert-Fingerprint") == [ipki.fingerprint(ipki.client)]
    line = wait_access_line(d, lambda l: l["target"] == "/opt" and l.get("cert_sha256"))
    assert line["cert_sha256"] == ipki.fingerprint(ipki.client) and line["status"] == 200, line


def test_required_refuses_no_certificate(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="required")
    d = ingress()
    r = curl_ingress(ipki, d.port, "a.test", "/")
    assert r.returncode != 0, r.stdout
    line = wait_handshake_failure(d, "a.test")
    assert line["reason"] == "no_certificate", line
    assert line["error"] == "tls_client_certificate_required", line
    assert line["site"] == "a" and line["target"] == "a.test", line
    assert not backend.requests
    # with one: through, and the access log names the certificate
    r = curl_ingress(ipki, d.port, "a.test", "/in", "--cert", ipki.client_full, "--key", ipki.client_key)
    assert r.returncode == 0, r.stderr
    assert header_values(seen(r.stdout), "X-Client-Verify") == ["SUCCESS"]
    line = wait_access_line(d, lambda l: l["target"] == "/in")
    assert line["status"] == 200 and line["cert"].startswith("CN=client.example"), line


# every bad client certificate, in both modes that ask for one: refused in the handshake, the
# reason in the access log, nothing at the backend
BAD = [
    ("expired_full", "expired_key", "expired"),
    ("notyet_full", "notyet_key", "not_yet_valid"),
    ("client_r2", "client_r2_key", "unknown_ca"),
    ("wrong_eku_full", "wrong_eku_key", "wrong_usage"),
    ("revoked_full", "revoked_key", "revoked"),
]


@pytest.mark.parametrize("mode", ["optional", "required"])
@pytest.mark.parametrize("cert,key,reason", BAD, ids=[b[2] for b in BAD])
def test_bad_certificate_refused_with_reason(cg, ipki, backend, ingress, mode, cert, key, reason):
    add_site_a(cg, ipki, backend, mode=mode, crl=ipki.crl)
    d = ingress()
    with pytest.raises(HS_ERRORS):
        tls_get(ipki, d.port, "a.test", "/", cert=getattr(ipki, cert), key=getattr(ipki, key))
    line = wait_handshake_failure(d, "a.test")
    assert line["reason"] == reason, line
    assert line["error"] == "tls_client_certificate_rejected", line
    assert line["site"] == "a" and line["status"] == 0, line
    assert line["cert"], line  # OpenSSL's words and the subject, for the operator
    assert not backend.requests
    # the good certificate still passes on the same daemon (the CRL does not refuse everyone)
    st, _, body = tls_get(ipki, d.port, "a.test", "/", cert=ipki.client_full, key=ipki.client_key)
    assert st == 200, body


def test_revoked_by_crl_inside_the_bundle(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="required", ca_file=ipki.clients_ca_crl)
    crls = cg.ok("ca", "show", "clients", "--json").json()["crls"]
    assert len(crls) == 1 and crls[0]["revoked"] == 1, crls
    d = ingress()
    with pytest.raises(HS_ERRORS):
        tls_get(ipki, d.port, "a.test", "/", cert=ipki.revoked_full, key=ipki.revoked_key)
    line = wait_handshake_failure(d, "a.test")
    assert line["reason"] == "revoked", line
    # certificates of the other intermediate (no CRL) and unrevoked ones of the first pass
    for cert, key in ((ipki.client_full, ipki.client_key), (ipki.client_i2_full, ipki.client_i2_key)):
        st, _, body = tls_get(ipki, d.port, "a.test", "/", cert=cert, key=key)
        assert st == 200, body
    assert len(backend.requests) == 2


def test_revoked_passes_without_the_crl(cg, ipki, backend, ingress):
    """The control for the revocation tests: the same certificate, no CRL, is accepted."""
    add_site_a(cg, ipki, backend, mode="required")
    d = ingress()
    st, _, body = tls_get(ipki, d.port, "a.test", "/", cert=ipki.revoked_full, key=ipki.revoked_key)
    assert st == 200, body


def test_leaf_without_its_intermediate_is_unknown_ca_when_bundle_has_root_only(cg, ipki, backend, ingress):
    """A bundle with the root alone: the client must send its intermediate."""
    add_site_a(cg, ipki, backend, mode="required", ca_file=ipki.root)
    d = ingress()
    with pytest.raises(HS_ERRORS):
        tls_get(ipki, d.port, "a.test", "/", cert=ipki.client, key=ipki.client_key)
    line = wait_handshake_failure(d, "a.test")
    assert line["reason"] == "unknown_ca", line
    st, _, body = tls_get(ipki, d.port, "a.test", "/", cert=ipki.client_full, key=ipki.client_key)
    assert st == 200, body


def test_mtls_domain_is_required_whatever_the_mode(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off", mtls_domain=True)
    d = ingress()
    # the plain domain is open (mode off), the mTLS domain asks and requires
    st, _, body = tls_get(ipki, d.port, "a.test", "/")
    assert st == 200, body
    rc, out = s_client(d.port, "mtls.a.test", "-CAfile", ipki.root, input=b"")
    assert "Acceptable client certificate CA names" in out, out
    with pytest.raises(HS_ERRORS):
        tls_get(ipki, d.port, "mtls.a.test", "/")
    line = wait_handshake_failure(d, "mtls.a.test")
    assert line["reason"] == "no_certificate", line
    with pytest.raises(HS_ERRORS):
        tls_get(ipki, d.port, "mtls.a.test", "/", cert=ipki.expired_full, key=ipki.expired_key)
    wait_access_line(d, lambda l: l["target"] == "mtls.a.test" and l["reason"] == "expired")
    st, _, body = tls_get(ipki, d.port, "mtls.a.test", "/m", cert=ipki.client_full, key=ipki.client_key)
    assert st == 200, body
    got = seen(body)
    assert header_values(got, "X-Client-Verify") == ["SUCCESS"]
    assert header_values(got, "Host") == ["mtls.a.test"]


def test_required_site_with_mtls_domain_answers_403_on_others(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="required", mtls_domain=True)
    d = ingress()
    # a.test in required mode with an mTLS domain: the handshake passes (a client may hold no
    # certificate), and the answer names where to go
    for cert, key in ((None, None), (ipki.client_full, ipki.client_key)):
        st, h, body = tls_get(ipki, d.port, "a.test", "/x", cert=cert, key=key)
        assert st == 403, body
        o = json.loads(body)
        assert o["error"] == "mtls_domain_required" and o["mtls_domain"] == "mtls.a.test", o
        assert "mtls.a.test" in o["hint"], o
    assert not backend.requests
    line = wait_access_line(d, lambda l: l["status"] == 403)
    assert line["error"] == "mtls_domain_required" and line["site"] == "a", line
    st, _, body = tls_get(ipki, d.port, "mtls.a.test", "/x", cert=ipki.client_full, key=ipki.client_key)
    assert st == 200, body


def test_site_without_client_ca_refuses_every_certificate(cg, ipki, backend, ingress):
    """required with no client CA at all: stored with a warning, and nobody gets in."""
    add_site_a(cg, ipki, backend, mode="off", client_ca=None)
    r = cg("site", "set", "a", "--mtls", "required")
    assert r.rc == 0, r
    assert "warning:" in r.err, r
    d = ingress()
    with pytest.raises(HS_ERRORS):
        tls_get(ipki, d.port, "a.test", "/", cert=ipki.client_full, key=ipki.client_key)
    line = wait_handshake_failure(d, "a.test")
    assert line["reason"] == "unknown_ca", line
    assert not backend.requests
