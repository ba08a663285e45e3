"""Identity headers at the ingress (SPEC.md section 4): client-sent copies, in any case, any
number, in every mode, never reach the backend; certgate's own are there once, with the exact
X-Forwarded-Client-Cert shape (Envoy's: Hash of the DER, quoted Subject, URI and DNS SANs)."""

import hashlib
import ssl

import pytest

from conftest import cert_not_after, cert_serial, cert_subject
from ingress_fixtures import (add_site_a, backend, header_values, ingress, ipki, read_response, request, seen,
                              tls_connect, tls_context, tls_get)

IDENTITY = ["X-Forwarded-Client-Cert", "X-Client-Verify", "X-Client-Cert-Subject", "X-Client-Cert-Issuer",
            "X-Client-Cert-Serial", "X-Client-Cert-Fingerprint", "X-Client-Cert-Not-After", "X-Forwarded-For",
            "X-Forwarded-Proto", "X-Forwarded-Host"]

EVIL = "evil-spoof"


def spoof_head(host, target="/"):
    """A request with every identity header sent by the client: several copies, odd cases, and the
    underscore spelling that CGI-style backends (WSGI, PHP, Rack) read as the same variable."""
    lines = ["GET %s HTTP/1.1" % target, "Host: %s" % host]
    for name in IDENTITY:
        lines.append("%s: %s" % (name, EVIL))
        lines.append("%s: %s-2" % (name.lower(), EVIL))
        lines.append("%s: %s-3" % (name.upper(), EVIL))
        lines.append("%s: %s-4" % (name.replace("-", "_"), EVIL))
    lines += ["X-Client-Cert-Anything: %s" % EVIL, "x-client-cert-chain: %s" % EVIL,
              "Connection: X-Client-Verify"]  # naming it hop-by-hop must not drop certgate's own
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_no_spoof(got):
    for k, v in got["headers"]:
        assert EVIL not in v, (k, v, got["headers"])
        norm = k.lower().replace("_", "-")
        if norm.startswith("x-client-cert") or norm in [n.lower() for n in IDENTITY]:
            assert "_" not in k, ("an underscore spelling of an identity header reached the backend", k, v)


def one(got, name):
    v = header_values(got, name)
    assert len(v) == 1, (name, got["headers"])
    return v[0]


MODES = [
    # (mode, host, client certificate)
    ("off", "a.test", False),
    ("off", "a.test", True),      # a certificate a client would send, never asked for
    ("optional", "a.test", False),
    ("optional", "a.test", True),
    ("required", "a.test", True),
    ("mtls-domain", "mtls.a.test", True),
]


@pytest.mark.parametrize("mode,host,with_cert", MODES,
                         ids=["%s-%s" % (m, "cert" if c else "nocert") for m, _, c in MODES])
def test_spoofed_identity_headers_never_reach_backend(cg, ipki, backend, ingress, mode, host, with_cert):
    add_site_a(cg, ipki, backend, mode="off" if mode == "mtls-domain" else mode, mtls_domain=mode == "mtls-domain")
    d = ingress()
    cert, key = (ipki.client_full, ipki.client_key) if with_cert else (None, None)
    s = tls_connect(d.port, host, tls_context(ipki, cert, key))
    try:
        s.sendall(spoof_head(host))
        st, _, body = read_response(s)
    finally:
        s.close()
    assert st == 200, body
    got = seen(body)
    assert_no_spoof(got)
    asked = mode != "off"
    verified = asked and with_cert
    assert one(got, "X-Client-Verify") == ("SUCCESS" if verified else "NONE")
    assert one(got, "X-Forwarded-For") == "127.0.0.1"
    assert one(got, "X-Forwarded-Proto") == "https"
    assert one(got, "X-Forwarded-Host") == host
    for name in IDENTITY[:1] + IDENTITY[2:7]:
        assert len(header_values(got, name)) == (1 if verified else 0), (name, got["headers"])
    if verified:
        assert one(got, "X-Client-Cert-Fingerprint") == ipki.fingerprint(ipki.client)
    # the ordinary headers of the request are kept
    assert one(got, "Host") == host


def test_spoofed_headers_on_a_keep_alive_connection(cg, ipki, backend, ingress):
    """Two requests on one connection, the second spoofing: each is cleaned on its own."""
    add_site_a(cg, ipki, backend, mode="optional")
    d = ingress()
    s = tls_connect(d.port, "a.test", tls_context(ipki, ipki.client_full, ipki.client_key))
    try:
        st, _, body = request(s, "GET", "/1", "a.test")
        assert st == 200 and one(seen(body), "X-Client-Verify") == "SUCCESS"
        s.sendall(spoof_head("a.test", "/2"))
        st, _, body = read_response(s)
    finally:
        s.close()
    assert st == 200, body
    got = seen(body)
    assert got["target"] == "/2"
    assert_no_spoof(got)
    assert one(got, "X-Client-Verify") == "SUCCESS"


def test_xfcc_exact_shape(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="required")
    d = ingress()
    st, _, body = tls_get(ipki, d.port, "a.test", "/", cert=ipki.client_uri_full, key=ipki.client_uri_key)
    assert st == 200, body
    got = seen(body)
    der = ssl.PEM_cert_to_DER_cert(ipki.client_uri.read_text())
    digest = hashlib.sha256(der).hexdigest()
    subject = cert_subject(ipki.client_uri)
    assert subject == "CN=web.example,O=certgate tests"
    assert one(got, "X-Forwarded-Client-Cert") == (
        'Hash=%s;Subject="%s";URI=spiffe://example.org/ns/prod/sa/web;DNS=web.example;DNS=web2.example'
        % (digest, subject))
    assert one(got, "X-Client-Cert-Fingerprint") == digest
    assert one(got, "X-Client-Cert-Subject") == subject
    assert one(got, "X-Client-Cert-Issuer") == cert_subject(ipki.inter)
    assert int(one(got, "X-Client-Cert-Serial"), 16) == cert_serial(ipki.client_uri)
    assert one(got, "X-Client-Cert-Not-After") == cert_not_after(ipki.client_uri)
    assert one(got, "X-Client-Verify") == "SUCCESS"


def test_xfcc_without_sans(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="required")
    d = ingress()
    st, _, body = tls_get(ipki, d.port, "a.test", "/", cert=ipki.client_full, key=ipki.client_key)
    assert st == 200, body
    der = ssl.PEM_cert_to_DER_cert(ipki.client.read_text())
    assert one(seen(body), "X-Forwarded-Client-Cert") == 'Hash=%s;Subject="%s"' % (
        hashlib.sha256(der).hexdigest(), cert_subject(ipki.client))
