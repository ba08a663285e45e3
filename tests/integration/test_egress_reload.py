"""Hot reload (SPEC.md section 4): a change made by the CLI (pin set, cert add --replace,
upstream add) takes effect in a running daemon within one second, established connections and
requests in flight are not dropped, and while an application loops requests during a repin none
fails. SIGHUP forces a reload. A reload that fails keeps the old configuration and says so."""

import signal
import threading
import time

import pytest

from egress_fixtures import (SANITIZED, echo, egress, epki, error_body, nginx, raw_server,  # noqa: F401
                             send, store_client, trust_test_root)
from test_egress_basic import CLIENT2_DN, CLIENT3_DN, CLIENT_DN

WITHIN = 1.0  # seconds: the promise of SPEC.md section 4


@pytest.fixture
def gw(cg, epki, egress):
    store_client(cg, epki, "client")
    store_client(cg, epki, "client2", key=epki.client2_key, crt=epki.client2)
    trust_test_root(cg, epki)
    cg.ok("pin", "set", "127.0.0.1", "client")
    return egress


def dn_now(d, nginx, path="/r"):
    st, _, body = d.request("GET", nginx.url(path))
    assert st == 200, body
    e = echo(body)
    assert e["verify"] == "SUCCESS", e
    return e["dn"]


def time_until(pred, limit=5.0):
    """Seconds until pred() holds (polled), or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if pred():
            return time.monotonic() - t0
        time.sleep(0.01)
    return None


def test_repin_while_an_application_loops_requests(cg, gw, nginx):
    d = gw(workers=2)
    assert dn_now(d, nginx) == CLIENT_DN
    results, stop = [], threading.Event()

    def loop():
        while not stop.is_set():
            t = time.monotonic()
            try:
                st, _, body = d.request("GET", nginx.url("/loop"), timeout=5)
                results.append((t, st, echo(body)["dn"] if st == 200 else body))
            except Exception as e:  # noqa: BLE001 - every failure counts
                results.append((t, "exception", repr(e)))

    threads = [threading.Thread(target=loop) for _ in range(2)]
    for th in threads:
        th.start()
    try:
        time.sleep(0.4)
        cg.ok("pin", "set", "127.0.0.1", "client2")
        t_changed = time.monotonic()
        took = time_until(lambda: any(t > t_changed and r == CLIENT2_DN for t, _, r in results), limit=5)
        time.sleep(WITHIN + 0.3)
    finally:
        stop.set()
        for th in threads:
            th.join(10)
    failures = [r for r in results if r[1] != 200]
    assert not failures, "requests failed during the repin: %s" % failures[:5]
    assert len(results) > 20, len(results)
    assert took is not None and took <= WITHIN, "the new pin took %s s" % took
    # a request that started one second after the change never presents the old certificate
    late = [r for t, _, r in results if t > t_changed + WITHIN]
    assert late and all(r == CLIENT2_DN for r in late), late


def test_request_in_flight_survives_a_reload(cg, gw, raw_server):
    srv = raw_server("slow", slow_chunks=8, slow_delay=0.2)
    d = gw()
    out = {}

    def slow():
        out["r"] = d.request("GET", srv.url("/slow"), timeout=15)

    th = threading.Thread(target=slow)
    th.start()
    time.sleep(0.3)
    cg.ok("pin", "set", "127.0.0.1", "client2")
    cg.ok("upstream", "add", "later", "https://127.0.0.1:%d" % srv.port)
    th.join(15)
    st, _, body = out["r"]
    assert (st, len(body)) == (200, 8000), (st, body[:200])


def test_established_application_connection_is_kept_across_a_reload(cg, gw, nginx):
    d = gw()
    c = d.conn(timeout=3)
    try:
        st, _, body = send(c, "GET", nginx.url("/before"))
        assert echo(body)["dn"] == CLIENT_DN
        cg.ok("pin", "set", "127.0.0.1", "client2")
        time.sleep(WITHIN)
        st, _, body = send(c, "GET", nginx.url("/after"))
        assert st == 200 and echo(body)["dn"] == CLIENT2_DN, body
    finally:
        c.close()


def test_cert_replace_is_picked_up(cg, gw, nginx, epki):
    d = gw()
    assert dn_now(d, nginx) == CLIENT_DN
    r = cg.ok("cert", "add", "client", epki.client3, "--key", epki.client3_key, "--chain", epki.inter, "--replace")
    took = time_until(lambda: dn_now(d, nginx) == CLIENT3_DN)
    assert took is not None and took <= WITHIN, (took, r)


def test_upstream_add_is_picked_up(cg, gw, nginx):
    d = gw()
    st, h, body = d.request("GET", "/x", headers={"Host": "fresh-api"})
    assert st == 400 and error_body(st, h, body)["error"] == "unknown_destination"
    cg.ok("upstream", "add", "fresh-api", "https://127.0.0.1:%d/fresh" % nginx.port)

    def routed():
        st, _, body = d.request("GET", "/x", headers={"Host": "fresh-api"})
        return st == 200 and echo(body)["uri"] == "/fresh/x"
    took = time_until(routed)
    assert took is not None and took <= WITHIN, took


def test_sighup_reloads(cg, gw, nginx):
    d = gw()
    n = len(d.stderr())
    d.signal(signal.SIGHUP)
    assert d.wait_stderr("SIGHUP: reloading", start=n), d.stderr()
    assert d.wait_stderr("reloaded environment 'production'", start=n), d.stderr()
    assert dn_now(d, nginx) == CLIENT_DN
    assert d.proc.poll() is None


def test_sighup_forces_a_reload_before_the_next_poll(cg, gw, nginx):
    d = gw(extra={"reload_ms": 60000})
    assert dn_now(d, nginx) == CLIENT_DN
    cg.ok("pin", "set", "127.0.0.1", "client2")
    time.sleep(0.5)
    assert dn_now(d, nginx) == CLIENT_DN, "reloaded without SIGHUP although reload_ms is 60000"
    d.signal(signal.SIGHUP)
    took = time_until(lambda: dn_now(d, nginx) == CLIENT2_DN)
    assert took is not None and took <= WITHIN, took


def test_a_failed_reload_keeps_the_old_configuration(cg, gw, nginx, tmp_path, epki):
    # the system roots come from a file; when it cannot be read, a reload cannot build its trust
    # stores and must leave the running configuration in place
    sysca = tmp_path / "system-roots.pem"
    sysca.write_bytes(epki.root2.read_bytes())
    d = gw(env={"CERTGATE_SYSTEM_CA_FILE": str(sysca)})
    assert dn_now(d, nginx) == CLIENT_DN
    sysca.write_text("not a certificate\n")
    n = len(d.stderr())
    cg.ok("pin", "set", "127.0.0.1", "client2")
    assert d.wait_stderr("reload failed; still serving revision", start=n), d.stderr()
    assert "system" in d.stderr()[n:], d.stderr()
    # still serving, with the old pin
    for i in range(3):
        assert dn_now(d, nginx) == CLIENT_DN
    assert d.proc.poll() is None
    # once the cause is fixed, the change arrives
    sysca.write_bytes(epki.root2.read_bytes())
    took = time_until(lambda: dn_now(d, nginx) == CLIENT2_DN)
    assert took is not None and took <= WITHIN, (took, d.stderr())
