"""/metrics against a daemon that serves real traffic: the egress, the ingress (handshakes refused
for their reasons, certificates verified, requests answered) and the admin listener, in one
process; counters read in the Prometheus text format."""

import datetime as dt
import json
import re
import ssl
import time

import pytest

from conftest import openssl
from egress_fixtures import Daemon, config_text, free_port, wait_listening
from ingress_fixtures import Backend, ipki, tls_get  # noqa: F401 (ipki: a fixture)
from test_api import Api, token

LINE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def scrape(api):
    st, hd, text = api.call("GET", "/metrics")
    assert st == 200, text
    assert hd["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        assert m, "not a Prometheus sample line: %r" % line
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return text, samples


def not_after_epoch(crt):
    out = openssl("x509", "-in", crt, "-noout", "-enddate").decode().strip().split("=", 1)[1]
    t = dt.datetime.strptime(" ".join(out.split()), "%b %d %H:%M:%S %Y GMT").replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp())


@pytest.fixture
def daemon(cg, tmp_path, ipki):
    backend = Backend()
    cg.ok("cert", "add", "web-cert", ipki.srv_a_full, "--key", ipki.srv_a_key, "--kind", "server")
    cg.ok("ca", "add", "clients", ipki.clients_ca)
    cg.ok("site", "add", "web", "--backend", backend.url, "--domain", "a.test=web-cert", "--mtls-domain",
          "mtls.a.test=web-cert", "--mtls", "optional", "--client-ca", "clients")
    cg.ok("profile", "add", "nobody", "--allow-ip", "192.0.2.0/24")
    cg.ok("site", "rule", "web", "/private", "nobody")
    tok = token(cg, "prom", "viewer")
    ports = {k: free_port() for k in ("egress", "ingress", "admin")}
    cfg = tmp_path / "m.yaml"
    cfg.write_text(config_text(cg.store_url, cg.key, "127.0.0.1:%d" % ports["egress"], tmp_path / "m.log",
                               {"workers": 2}, ingress="127.0.0.1:%d" % ports["ingress"],
                               admin="127.0.0.1:%d" % ports["admin"]))
    d = Daemon(cg, cfg, ports["admin"], tmp_path / "m.log", tmp_path / "m.err")
    try:
        for p in ports.values():
            wait_listening(p, d.proc, what="certgate serve")
        yield d, Api(d, tok), ports
    finally:
        d.check_clean()
        backend.stop()


def test_metrics_need_a_token(daemon):
    d, api, _ = daemon
    st, _, body = api.call("GET", "/metrics", tok="")
    assert st == 401


def test_metrics_count_the_traffic(daemon, ipki):
    d, api, ports = daemon
    _, before = scrape(api)
    assert not any(k.startswith("certgate_requests_total") for k in before), before  # nothing yet
    port = ports["ingress"]
    # a request with a valid certificate, one without (optional: allowed), one refused by a rule
    assert tls_get(ipki, port, "a.test", cert=ipki.client_full, key=ipki.client_key)[0] == 200
    assert tls_get(ipki, port, "a.test")[0] == 200
    assert tls_get(ipki, port, "a.test", target="/private/x")[0] == 403
    # handshakes refused: an unknown name, no certificate on the mTLS domain, an expired one
    for host, cert, key in (("nope.test", None, None), ("mtls.a.test", None, None),
                            ("mtls.a.test", ipki.expired_full, ipki.expired_key)):
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            tls_get(ipki, port, host, cert=cert, key=key)
    # the egress: a destination that refuses connections
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", ports["egress"], timeout=10)
    c.request("GET", "http://127.0.0.1:%d/" % free_port())
    assert c.getresponse().status == 502
    c.close()

    deadline = time.monotonic() + 5
    while True:  # the counters are summed from the workers: give the last connections time to close
        text, m = scrape(api)
        if m.get('certgate_connections_open{listener="ingress"}', 1) == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert m['certgate_requests_total{listener="ingress",status="200"}'] == 2
    assert m['certgate_requests_total{listener="ingress",status="403"}'] == 1
    assert m['certgate_requests_total{listener="egress",status="502"}'] == 1
    assert m['certgate_upstream_connect_failures_total{listener="egress",reason="refused"}'] == 1
    assert m['certgate_tls_handshakes_total{listener="ingress"}'] == 3
    fails = {r: m['certgate_tls_handshake_failures_total{listener="ingress",reason="%s"}' % r]
             for r in ("unknown_sni", "certificate_required", "certificate_invalid", "no_sni")}
    assert fails == {"unknown_sni": 1, "certificate_required": 1, "certificate_invalid": 1, "no_sni": 0}, fails
    assert m['certgate_client_certificate_verifications_total{result="success"}'] == 1
    assert m['certgate_client_certificate_verifications_total{result="none"}'] >= 2
    assert m['certgate_client_certificate_verifications_total{result="expired"}'] == 1
    # (the fixture's probes of the listening ports were connections too: count from before)
    accepted = {k: m['certgate_connections_accepted_total{listener="%s"}' % k] -
                before['certgate_connections_accepted_total{listener="%s"}' % k] for k in ("ingress", "egress")}
    assert accepted == {"ingress": 6, "egress": 1}, accepted
    assert m['certgate_connections_open{listener="ingress"}'] == 0
    assert m['certgate_connections_open{listener="admin"}'] >= 1
    # the backend answered twice (the 403 never reached it): a histogram of two
    assert m['certgate_upstream_latency_seconds_count{listener="ingress"}'] == 2
    assert m['certgate_upstream_latency_seconds_bucket{listener="ingress",le="+Inf"}'] == 2
    assert 0 < m['certgate_upstream_latency_seconds_sum{listener="ingress"}'] < 5
    buckets = [v for k, v in m.items() if k.startswith('certgate_upstream_latency_seconds_bucket{listener="ingress"')]
    assert buckets == sorted(buckets), "histogram buckets must be cumulative"
    # configuration and certificates
    st, _, status = api.call("GET", "/api/v1/status")
    assert m["certgate_config_revision"] == status["revision"]
    assert m["certgate_config_reload_failures_total"] == 0
    assert m['certgate_certificate_not_after_seconds{name="web-cert",kind="server"}'] == not_after_epoch(ipki.srv_a)
    assert 'certgate_certificate_not_after_seconds{name="clients",kind="ca"}' in m
    assert "# TYPE certgate_upstream_latency_seconds histogram" in text
    assert m["certgate_webhook_deliveries_pending"] == 0
