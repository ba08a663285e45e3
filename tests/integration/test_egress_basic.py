"""The egress, the paths that work (SPEC.md section 4, "Egress"): absolute-form proxy requests,
named upstreams with their base path, the default upstream, the Certgate-Service header, pins by
host:port and host and the default certificate, hop-by-hop fields, the client chain reaching the
server, trust (upstream --ca only, else system + environment CAs), the SPKI pin, and pooling:
keep-alive reuse, TLS session resumption, a retry on a fresh connection when a pooled one turns
out closed. The peer is a real nginx with ssl_verify_client on (it trusts the root only, so the
intermediate must be sent) whose locations echo what it saw."""

import pytest

from egress_fixtures import (curl, echo, egress, epki, error_body, nginx, raw_server, send,  # noqa: F401
                             spki_b64, store_client, trust_test_root)

CLIENT_DN = "CN=client.example,O=certgate tests"
CLIENT2_DN = "CN=client2.example,O=certgate tests"
CLIENT3_DN = "CN=client3.example,O=certgate tests"


@pytest.fixture
def gw(cg, epki, egress):
    """A store with three client certificates (with chains), the test root as an environment CA,
    127.0.0.1 pinned to 'client'; returns a function starting the daemon."""
    store_client(cg, epki, "client")
    store_client(cg, epki, "client2", key=epki.client2_key, crt=epki.client2)
    store_client(cg, epki, "client3", key=epki.client3_key, crt=epki.client3)
    trust_test_root(cg, epki)
    cg.ok("pin", "set", "127.0.0.1", "client")
    return egress


def test_absolute_form_presents_the_pinned_certificate_and_its_chain(gw, nginx):
    d = gw()
    st, h, body = d.request("GET", nginx.url("/a/b?c=d&e=%20f"), headers={"X-Custom": "kept"})
    assert st == 200, (st, h, body)
    e = echo(body)
    # nginx trusts only the root: SUCCESS means the intermediate travelled with the leaf
    assert e["verify"] == "SUCCESS", e
    assert e["dn"] == CLIENT_DN, e
    assert e["uri"] == "/a/b?c=d&e=%20f", e
    assert e["host"] == nginx.authority, e
    assert e["method"] == "GET", e
    assert e["x_custom"] == "kept", e
    assert e["proto"] in ("TLSv1.3", "TLSv1.2"), e
    # SNI is not sent for an IP literal (RFC 6066 section 3)
    assert e["sni"] == "", e
    # the same through curl as an application configured with a proxy would do it
    r = curl("-x", d.url, nginx.url("/via-curl"))
    assert r.returncode == 0, r
    e = echo(r.stdout)
    assert (e["uri"], e["verify"], e["dn"]) == ("/via-curl", "SUCCESS", CLIENT_DN), e
    # http_proxy in the environment: the application writes a plain http:// URL
    import os
    import subprocess
    env = dict(os.environ, http_proxy=d.url)
    r = subprocess.run(["curl", "-sS", "--max-time", "20", nginx.url("/via-env")], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 0, r
    assert echo(r.stdout)["uri"] == "/via-env"


def test_a_certificate_without_its_chain_is_refused_by_the_server(cg, epki, gw, nginx):
    # the contrast to the test above: the same kind of leaf stored without the intermediate does
    # not verify at nginx, which trusts the root only
    cg.ok("cert", "add", "nochain", epki.client2, "--key", epki.client2_key)
    cg.ok("pin", "set", "No.Chain", "nochain")
    d = gw()
    st, h, body = d.request("GET", nginx.url("/x"), headers={"Certgate-Service": "No.Chain"})
    assert st == 400 and b"SSL certificate error" in body, (st, body)
    st, h, body = d.request("GET", nginx.url("/x"))
    assert st == 200 and echo(body)["verify"] == "SUCCESS", (st, body)


def test_service_header_selects_the_pin_and_is_not_forwarded(cg, gw, nginx):
    cg.ok("pin", "set", "Billing.PaymentService", "client2")
    d = gw()
    st, _, body = d.request("GET", nginx.url("/svc"), headers={"Certgate-Service": "Billing.PaymentService"})
    assert st == 200, body
    e = echo(body)
    assert e["dn"] == CLIENT2_DN and e["verify"] == "SUCCESS", e
    assert e["service"] == "", "Certgate-Service was forwarded: %r" % e
    # the field name is case-insensitive (RFC 9110 5.1)
    st, _, body = d.request("GET", nginx.url("/svc"), headers={"certgate-service": "Billing.PaymentService"})
    e = echo(body)
    assert (e["dn"], e["service"]) == (CLIENT2_DN, ""), e
    # an unknown service falls back to the host pin; and the header is still removed
    st, _, body = d.request("GET", nginx.url("/svc"), headers={"Certgate-Service": "Nobody.Knows"})
    e = echo(body)
    assert (e["dn"], e["service"]) == (CLIENT_DN, ""), e
    # without the header: the host pin
    st, _, body = d.request("GET", nginx.url("/svc"))
    assert echo(body)["dn"] == CLIENT_DN


def test_host_port_pin_beats_host_pin_and_default_applies_last(cg, gw, nginx):
    cg.ok("pin", "set", nginx.authority, "client3")
    d = gw()
    st, _, body = d.request("GET", nginx.url("/hp"))
    assert st == 200 and echo(body)["dn"] == CLIENT3_DN, body
    # another port of the same host: the host pin
    st, _, body = d.request("GET", nginx.url("/hp", port=nginx.close_port))
    assert st == 200 and echo(body)["dn"] == CLIENT_DN, body


def test_default_certificate_when_no_pin_matches(cg, epki, egress, nginx):
    store_client(cg, epki, "dflt", key=epki.client2_key, crt=epki.client2, default=True)
    trust_test_root(cg, epki)
    d = egress()
    st, _, body = d.request("GET", nginx.url("/d"))
    assert st == 200, body
    e = echo(body)
    assert (e["dn"], e["verify"]) == (CLIENT2_DN, "SUCCESS"), e


def test_named_upstream_with_base_path(cg, gw, nginx):
    cg.ok("upstream", "add", "partner-api", "https://127.0.0.1:%d/v1/" % nginx.port)
    d = gw()
    # origin form, Host names the upstream
    st, _, body = d.request("GET", "/orders?id=3", headers={"Host": "partner-api"})
    assert st == 200, body
    e = echo(body)
    assert e["uri"] == "/v1/orders?id=3", e
    assert e["host"] == nginx.authority, "the upstream's authority must replace Host: %r" % e
    assert (e["dn"], e["verify"]) == (CLIENT_DN, "SUCCESS"), e
    # Host with a port still names the upstream
    st, _, body = d.request("GET", "/p", headers={"Host": "partner-api:80"})
    assert st == 200 and echo(body)["uri"] == "/v1/p", body
    # the root path
    st, _, body = d.request("GET", "/", headers={"Host": "partner-api"})
    assert st == 200 and echo(body)["uri"] in ("/v1/", "/v1"), body
    # absolute form naming the upstream goes to it too
    st, _, body = d.request("GET", "http://partner-api/abs")
    assert st == 200 and echo(body)["uri"] == "/v1/abs", body


def test_default_upstream_takes_origin_form_requests(cg, gw, nginx, raw_server):
    other = raw_server("ok")
    cg.ok("upstream", "add", "main", "https://127.0.0.1:%d/base" % nginx.port)
    cg.ok("upstream", "add", "other", "https://127.0.0.1:%d" % other.port)
    d = gw(extra={"egress": {"default_upstream": "main"}})
    st, _, body = d.request("GET", "/x/y", headers={"Host": "app.internal"})
    assert st == 200, body
    assert echo(body)["uri"] == "/base/x/y"
    # a Host that names an upstream still wins over the default
    st, _, body = d.request("GET", "/z", headers={"Host": "other"})
    assert (st, body) == (200, b"ok")
    # absolute form is not affected by the default
    st, _, body = d.request("GET", nginx.url("/abs"))
    assert st == 200 and echo(body)["uri"] == "/abs", body


def test_hop_by_hop_fields_are_not_forwarded(gw, nginx):
    d = gw()
    headers = {
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "connection-specific",
        "Keep-Alive": "timeout=5",
        "Proxy-Connection": "keep-alive",
        "TE": "trailers",
        "Upgrade": "h2c-not-really",
        "Proxy-Authorization": "Basic c2VjcmV0OnNlY3JldA==",
        "X-Custom": "end-to-end",
    }
    st, _, body = d.request("GET", nginx.url("/hop"), headers=headers)
    assert st == 200, body
    e = echo(body)
    for f in ("x_hop", "keep_alive", "proxy_connection", "te", "upgrade", "proxy_authorization"):
        assert e[f] == "", "%s was forwarded: %r" % (f, e)
    assert "x-hop" not in e["connection"].lower(), e
    assert e["x_custom"] == "end-to-end", e




def test_application_keep_alive_connection_serves_many_requests(gw, nginx):
    d = gw()
    c = d.conn(timeout=3)
    conns = []
    try:
        for i in range(10):
            st, _, body = send(c, "GET", nginx.url("/ka/%d" % i), headers={"X-Trace": str(i)})
            assert st == 200, body
            e = echo(body)
            assert (e["uri"], e["x_trace"]) == ("/ka/%d" % i, str(i)), e
            conns.append(e["conn"])
    finally:
        c.close()
    assert len(set(conns)) == 1, conns


def test_response_hop_by_hop_and_status_pass_through(gw, nginx):
    d = gw()
    st, h, body = d.request("GET", nginx.url("/status/x"))
    assert (st, body) == (418, b"teapot"), (st, h, body)
    assert h.get("server", "").startswith("nginx"), h


def test_keep_alive_pooling_reuses_upstream_connections(gw, nginx):
    d = gw()
    conns, counts = [], []
    # many application connections, one request each: the upstream connection is pooled
    for i in range(30):
        st, _, body = d.request("GET", nginx.url("/pool/%d" % i))
        assert st == 200, body
        e = echo(body)
        conns.append(e["conn"])
        counts.append(int(e["conn_requests"]))
    assert len(set(conns)) <= 2, "30 sequential requests used %d upstream connections: %s" % (
        len(set(conns)), conns)
    assert max(counts) >= 20, counts
    lines = d.wait_access(30)
    assert len(lines) >= 30, lines
    assert sum(1 for l in lines if "reused=yes" in l) >= 28, "\n".join(lines)


def test_tls_sessions_are_resumed(gw, nginx):
    # nginx's second server closes every connection after one response: each request dials anew
    # and should resume the session of the previous one
    d = gw()
    reused = []
    for i in range(5):
        st, h, body = d.request("GET", nginx.url("/resume/%d" % i, port=nginx.close_port))
        assert st == 200, (st, h, body)
        e = echo(body)
        assert e["verify"] == "SUCCESS", e
        reused.append(e["reused"])
    assert reused[0] == ".", reused
    assert reused[1:] == ["r"] * 4, "sessions were not resumed: %s" % reused
    lines = d.wait_access(5)
    assert sum(1 for l in lines if "resumed=yes" in l) == 4, "\n".join(lines)


def check_retry(d, srv):
    st, _, body = d.request("GET", srv.url("/one"))
    assert (st, body) == (200, b"ok")
    # the pooled connection is taken for the next request; the server closes it without
    # answering; an idempotent request is sent again on a new connection
    for i in range(3):
        st, h, body = d.request("GET", srv.url("/again/%d" % i))
        assert (st, body) == (200, b"ok"), (i, st, h, body)
    assert srv.accepted == 4, srv.accepted
    assert srv.requests == 7, srv.requests  # 1 + 3 x (the lost one + the retry)
    # a POST with a body is not retried: the application hears that the upstream closed
    st, h, body = d.request("POST", srv.url("/post"), body=b"payload", headers={"Content-Type": "text/plain"})
    assert st == 502, (st, body)
    o = error_body(st, h, body)
    assert o["error"] == "upstream_closed", o
    assert srv.authority in o["message"] and o["destination"] == srv.authority, o


def test_retry_on_a_fresh_connection_when_the_pooled_one_is_closed(gw, raw_server):
    # the server sends a TLS close_notify, then closes the TCP connection
    check_retry(gw(), raw_server("close_on_second_notify"))


def test_retry_when_the_pooled_connection_was_reset_without_close_notify(gw, raw_server):
    check_retry(gw(), raw_server("close_on_second"))


def test_upstream_ca_list_is_the_only_trust(cg, epki, gw, nginx):
    # the environment trusts the test root, but an upstream with --ca trusts only its list
    cg.ok("ca", "add", "other-root", epki.root2)
    cg.ok("upstream", "add", "zero-trust", "https://127.0.0.1:%d" % nginx.port, "--ca", "other-root")
    cg.ok("upstream", "add", "own-ca", "https://127.0.0.1:%d/own" % nginx.port, "--ca", "test-root")
    d = gw()
    st, h, body = d.request("GET", "/x", headers={"Host": "zero-trust"})
    assert st == 502, body
    o = error_body(st, h, body)
    assert o["error"] == "upstream_certificate_invalid", o
    st, _, body = d.request("GET", "/x", headers={"Host": "own-ca"})
    assert st == 200 and echo(body)["uri"] == "/own/x", body


def test_environment_and_system_trust(cg, epki, egress, nginx, tmp_path):
    store_client(cg, epki, "client")
    cg.ok("pin", "set", "127.0.0.1", "client")
    # the system roots (a file standing in for the distribution bundle) do not hold the test
    # root, and the environment has no CA: verification fails
    sysca = tmp_path / "system-roots.pem"
    sysca.write_bytes(epki.root2.read_bytes())
    d = egress(env={"CERTGATE_SYSTEM_CA_FILE": str(sysca)}, name="sys1")
    st, h, body = d.request("GET", nginx.url("/t"))
    assert st == 502 and error_body(st, h, body)["error"] == "upstream_certificate_invalid", body
    d.check_clean()
    # the test root among the system roots: trusted without any environment CA
    sysca2 = tmp_path / "system-roots2.pem"
    sysca2.write_bytes(epki.root2.read_bytes() + epki.root.read_bytes())
    d = egress(env={"CERTGATE_SYSTEM_CA_FILE": str(sysca2)}, name="sys2")
    st, _, body = d.request("GET", nginx.url("/t"))
    assert st == 200 and echo(body)["verify"] == "SUCCESS", body
    d.check_clean()
    # an environment CA is trusted in addition to the system roots
    trust_test_root(cg, epki)
    d = egress(env={"CERTGATE_SYSTEM_CA_FILE": str(sysca)}, name="sys3")
    st, _, body = d.request("GET", nginx.url("/t"))
    assert st == 200 and echo(body)["verify"] == "SUCCESS", body


def test_spki_pin_that_matches(cg, epki, gw, nginx):
    cg.ok("upstream", "add", "pinned", "https://127.0.0.1:%d" % nginx.port, "--spki-sha256",
          spki_b64(epki.server))
    d = gw()
    st, _, body = d.request("GET", "/k", headers={"Host": "pinned"})
    assert st == 200 and echo(body)["verify"] == "SUCCESS", body


def test_upstream_server_name_override(cg, epki, gw, nginx):
    # the certificate is for server.example: an upstream by IP that verifies that name
    cg.ok("upstream", "add", "by-name", "https://127.0.0.1:%d" % nginx.port, "--server-name", "server.example")
    d = gw()
    st, _, body = d.request("GET", "/n", headers={"Host": "by-name"})
    assert st == 200, body
    assert echo(body)["sni"] == "server.example"
