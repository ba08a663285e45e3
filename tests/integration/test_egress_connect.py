"""CONNECT (SPEC.md section 4): a blind tunnel when egress.allow_connect is true; refused with 403
when disabled, and refused with 403 and an explanation when the destination would get a client
certificate (a tunnel cannot present it). The application does its own TLS through the tunnel
(curl -p with its own client certificate)."""

import socket

import pytest

from egress_fixtures import curl, echo, egress, epki, error_body, nginx, store_client, trust_test_root  # noqa: F401


@pytest.fixture
def gw(cg, epki, egress):
    store_client(cg, epki, "client")
    trust_test_root(cg, epki)
    return egress


def connect_raw(d, authority):
    """Sends CONNECT and returns (status, headers, body, socket)."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (authority.encode(), authority.encode()))
    f = s.makefile("rb")
    status = int(f.readline().split()[1])
    headers = {}
    while True:
        l = f.readline()
        if l in (b"\r\n", b""):
            break
        k, _, v = l.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    body = f.read(int(headers["content-length"])) if "content-length" in headers else b""
    return status, headers, body, s


def tunnel_with_curl(d, nginx, epki, tmp_path):
    full = tmp_path / "app-client.pem"
    full.write_bytes(epki.client2.read_bytes() + epki.inter.read_bytes())
    return curl("-p", "-x", d.url, "--cacert", epki.root, "--cert", full, "--key", epki.client2_key,
                "https://127.0.0.1:%d/tunnelled" % nginx.port)


def test_tunnel_when_allowed(gw, nginx, epki, tmp_path):
    d = gw(extra={"egress": {"allow_connect": True}})
    r = tunnel_with_curl(d, nginx, epki, tmp_path)
    assert r.returncode == 0, r
    e = echo(r.stdout)
    # the application's own certificate went through: certgate did not touch the TLS
    assert (e["uri"], e["verify"], e["dn"]) == ("/tunnelled", "SUCCESS", "CN=client2.example,O=certgate tests"), e
    lines = d.wait_access(1)
    assert any(" CONNECT " in l and " 200 " in l for l in lines), lines


def test_tunnel_refused_when_disabled(gw, nginx, epki, tmp_path):
    d = gw()
    st, h, body, s = connect_raw(d, "127.0.0.1:%d" % nginx.port)
    s.close()
    assert st == 403, (st, body)
    o = error_body(st, h, body)
    assert o["error"] == "connect_disabled", o
    assert "allow_connect" in o["hint"], o
    r = tunnel_with_curl(d, nginx, epki, tmp_path)
    assert r.returncode != 0 and b"403" in r.stderr, r


@pytest.mark.parametrize("how", ["host", "host:port", "default"])
def test_tunnel_refused_to_a_destination_that_gets_a_certificate(cg, gw, nginx, how):
    if how == "host":
        cg.ok("pin", "set", "127.0.0.1", "client")
    elif how == "host:port":
        cg.ok("pin", "set", nginx.authority, "client")
    else:
        cg.ok("cert", "set", "client", "--default")
    d = gw(extra={"egress": {"allow_connect": True}})
    st, h, body, s = connect_raw(d, nginx.authority)
    s.close()
    assert st == 403, (st, body)
    o = error_body(st, h, body)
    assert o["error"] == "connect_would_skip_certificate", o
    assert o["certificate"] == "client" and "'client'" in o["message"], o
    assert nginx.authority in o["message"] and o["destination"] == nginx.authority, o
    assert "http://%s/" % nginx.authority in o["hint"], o


def test_tunnel_allowed_when_the_destination_is_pinned_to_none(cg, gw, nginx, epki, tmp_path):
    # a default certificate exists, but this host:port is pinned to "present nothing"
    cg.ok("cert", "set", "client", "--default")
    cg.ok("pin", "set", nginx.authority, "none")
    d = gw(extra={"egress": {"allow_connect": True}})
    r = tunnel_with_curl(d, nginx, epki, tmp_path)
    assert r.returncode == 0, r
    assert echo(r.stdout)["verify"] == "SUCCESS"
