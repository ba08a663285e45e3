"""The ingress, first scenarios: SNI selects the site and its certificate, the modes, the mTLS
domain, identity headers (client copies removed), and the access log (SPEC.md section 4)."""

import json
import ssl

import pytest

from ingress_fixtures import (backend, header_values, ingress, ipki, request, seen, setup_sites, tls_connect,
                              tls_context, tls_get)


def test_sni_selects_site_and_certificate(cg, ipki, backend, ingress):
    setup_sites(cg, ipki, backend, mode="off", mtls_domain=False)
    d = ingress()
    st, h, body = tls_get(ipki, d.port, "b.test", "/hello?x=1")
    assert st == 200, body
    got = seen(body)
    assert got["target"] == "/hello?x=1"
    assert header_values(got, "Host") == ["b.test"]
    assert header_values(got, "X-Client-Verify") == ["NONE"]
    assert header_values(got, "X-Forwarded-Proto") == ["https"]
    assert header_values(got, "X-Forwarded-For") == ["127.0.0.1"]
    # the certificate presented is the site's (verified against the test root, name a.test)
    s = tls_connect(d.port, "a.test", tls_context(ipki))
    der = s.getpeercert(binary_form=True)
    s.close()
    assert der == ssl.PEM_cert_to_DER_cert(ipki.srv_a.read_text())


def test_unknown_and_missing_sni_refused(cg, ipki, backend, ingress):
    setup_sites(cg, ipki, backend, mode="off", mtls_domain=False)
    d = ingress()
    with pytest.raises(ssl.SSLError) as e:
        tls_get(ipki, d.port, "nowhere.test")
    assert "UNRECOGNIZED_NAME" in str(e.value).upper()
    # no SNI at all: an IP address as the server name sends none
    ctx = tls_context(ipki)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with pytest.raises(ssl.SSLError):
        s = tls_connect(d.port, None, ctx)
        s.close()
    assert not backend.requests


def test_required_mode_and_identity_headers(cg, ipki, backend, ingress):
    setup_sites(cg, ipki, backend, mode="required", mtls_domain=False)
    d = ingress()
    spoof = {"X-Client-Verify": "SUCCESS", "x-forwarded-client-cert": "Hash=evil", "X-Client-Cert-Subject": "CN=evil",
             "X-Forwarded-For": "6.6.6.6"}
    st, h, body = tls_get(ipki, d.port, "a.test", "/", cert=ipki.client_full, key=ipki.client_key, headers=spoof)
    assert st == 200, body
    got = seen(body)
    assert header_values(got, "X-Client-Verify") == ["SUCCESS"]
    xfcc = header_values(got, "X-Forwarded-Client-Cert")
    assert len(xfcc) == 1
    fp = ipki.fingerprint(ipki.client).replace(":", "").lower()
    assert xfcc[0].startswith("Hash=%s;Subject=\"" % fp), xfcc
    assert "CN=client.example" in xfcc[0]
    assert header_values(got, "X-Client-Cert-Fingerprint") == [fp]
    assert header_values(got, "X-Client-Cert-Subject")[0].startswith("CN=client.example")
    assert header_values(got, "X-Forwarded-For") == ["127.0.0.1"]
    # no certificate: no handshake
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        tls_get(ipki, d.port, "a.test", "/")


@pytest.mark.parametrize("which,reason", [
    ("expired_full", "expired"),
    ("notyet_full", "not_yet_valid"),
    ("wrong_eku_full", "wrong_usage"),
])
def test_bad_client_certificates_refused(cg, ipki, backend, ingress, which, reason):
    setup_sites(cg, ipki, backend, mode="optional", mtls_domain=False)
    d = ingress()
    keys = {"expired_full": ipki.expired_key, "notyet_full": ipki.notyet_key, "wrong_eku_full": ipki.wrong_eku_key}
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        tls_get(ipki, d.port, "a.test", "/", cert=getattr(ipki, which), key=keys[which])
    lines = [json.loads(l) for l in d.wait_access(1)]
    assert any(l.get("reason") == reason for l in lines), lines
    assert not backend.requests


def test_optional_mode_allows_none(cg, ipki, backend, ingress):
    setup_sites(cg, ipki, backend, mode="optional", mtls_domain=False)
    d = ingress()
    st, _, body = tls_get(ipki, d.port, "a.test", "/")
    assert st == 200
    assert header_values(seen(body), "X-Client-Verify") == ["NONE"]
    st, _, body = tls_get(ipki, d.port, "a.test", "/", cert=ipki.client_full, key=ipki.client_key)
    assert st == 200
    assert header_values(seen(body), "X-Client-Verify") == ["SUCCESS"]


def test_mtls_domain(cg, ipki, backend, ingress):
    setup_sites(cg, ipki, backend, mode="required", mtls_domain=True)
    d = ingress()
    # the plain domain answers 403 naming the mTLS domain
    st, h, body = tls_get(ipki, d.port, "a.test", "/")
    assert st == 403, body
    o = json.loads(body)
    assert o["error"] == "mtls_domain_required" and o["mtls_domain"] == "mtls.a.test"
    # the mTLS domain requires a certificate
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        tls_get(ipki, d.port, "mtls.a.test", "/")
    st, _, body = tls_get(ipki, d.port, "mtls.a.test", "/", cert=ipki.client_full, key=ipki.client_key)
    assert st == 200
    assert header_values(seen(body), "X-Client-Verify") == ["SUCCESS"]


def test_host_of_another_site_is_misdirected(cg, ipki, backend, ingress):
    setup_sites(cg, ipki, backend, mode="off", mtls_domain=False)
    d = ingress()
    s = tls_connect(d.port, "b.test", tls_context(ipki))
    try:
        st, _, body = request(s, "GET", "/", "a.test")
    finally:
        s.close()
    assert st == 421, body
    assert not backend.requests


def test_keep_alive_and_pooling(cg, ipki, backend, ingress):
    setup_sites(cg, ipki, backend, mode="off", mtls_domain=False)
    d = ingress()
    s = tls_connect(d.port, "b.test", tls_context(ipki))
    try:
        for i in range(20):
            st, _, body = request(s, "POST", "/n/%d" % i, "b.test", body=b"x" * i)
            assert st == 200
            assert seen(body)["body_len"] == i
    finally:
        s.close()
    assert backend.connections <= 2
