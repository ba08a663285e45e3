"""The daemon's life (SPEC.md section 4): SIGTERM drains (stop accepting, finish the requests in
flight, exit 0); the bootstrap file is checked at start (unknown keys and bad values refused with
the file and line, exit 2; no listener, exit 2; a port in use, exit 1 with a clear message); the
access log, one line per request, in text and JSON."""

import json
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import cert_fingerprint, certgate_bin, clean_env
from egress_fixtures import (SANITIZED, egress, epki, free_port, nginx, raw_server,  # noqa: F401
                             sanitizer_lines, store_client, trust_test_root)


@pytest.fixture
def gw(cg, epki, egress):
    store_client(cg, epki, "client")
    trust_test_root(cg, epki)
    cg.ok("pin", "set", "127.0.0.1", "client")
    return egress


# ---- SIGTERM -----------------------------------------------------------------------------------

def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return False
    except OSError:
        return True


def test_sigterm_drains_a_request_in_flight(gw, raw_server):
    srv = raw_server("slow", slow_chunks=10, slow_delay=0.2)  # 2 s of response
    d = gw()
    out = {}

    def slow():
        c = d.conn(timeout=15)
        try:
            c.request("GET", srv.url("/slow"))
            r = c.getresponse()
            out["status"], out["body"] = r.status, r.read()
        except Exception as e:  # noqa: BLE001
            out["error"] = repr(e)
        finally:
            c.close()

    th = threading.Thread(target=slow)
    th.start()
    deadline = time.monotonic() + 5
    while srv.requests == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # the response has begun
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    # no new connections are accepted
    t_refused = None
    while time.monotonic() - t0 < 1.5:
        if refused(d.port):
            t_refused = time.monotonic() - t0
            break
        time.sleep(0.05)
    assert t_refused is not None, "still accepting connections after SIGTERM"
    th.join(15)
    assert "error" not in out, out
    assert (out["status"], len(out["body"])) == (200, 10000), out
    rc = d.proc.wait(15)
    assert rc == 0, d.stderr()
    assert time.monotonic() - t0 >= 1.0, "exited before the response in flight had finished"
    err = d.stderr()
    assert "SIGTERM: draining" in err and "stopped" in err, err
    assert not sanitizer_lines(err), err
    lines = d.access_lines()
    assert any("/slow 200 " in l and " 10000 " in l for l in lines), lines


def test_sigterm_with_an_idle_application_connection_exits_promptly(gw):
    d = gw()
    s = socket.create_connection(("127.0.0.1", d.port))
    time.sleep(0.2)
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    rc = d.proc.wait(10)
    assert rc == 0, d.stderr()
    assert time.monotonic() - t0 < 3, "an idle connection held the drain"
    s.close()


# ---- the bootstrap file ------------------------------------------------------------------------

def serve_with(cfg, timeout=8, env=None, sanitizer_clean=True):
    """Runs certgate -c cfg serve, expecting it to refuse to start: (rc, stderr)."""
    p = subprocess.Popen([certgate_bin(), "-c", str(cfg), "serve"], env=clean_env(env), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        raise AssertionError("certgate serve started instead of refusing:\n%s" % err.decode(errors="replace"))
    err = err.decode(errors="replace")
    if sanitizer_clean:
        assert not sanitizer_lines(err), err
    return p.returncode, err


def base_config(cg, port=None, listen=True):
    head = "environment: production\nstore: %s\nmaster_key: %s\n" % (cg.store_url, cg.key)
    if listen:
        head += "listen:\n  egress: 127.0.0.1:%d\n" % (port or free_port())
    return head


@pytest.mark.parametrize("tail,line,phrases", [
    ("lisen:\n  egress: 127.0.0.1:1\n", 6, ["unknown key 'lisen'", "did you mean 'listen'"]),
    ("timeouts:\n  conect_ms: 100\n", 7, ["unknown key 'conect_ms' in 'timeouts'", "connect_ms"]),
    ("timeouts:\n  connect_ms: fast\n", 7, ["'timeouts.connect_ms'", "fast"]),
    ("timeouts:\n  response_ms: 0\n", 7, ["'timeouts.response_ms'"]),
    ("egress:\n  allow_connect: maybe\n", 7, ["'egress.allow_connect'", "true or false"]),
    ("log:\n  format: xml\n", 7, ["'log.format'", "xml"]),
    ("workers: many\n", 6, ["'workers'"]),
], ids=["unknown-top", "unknown-nested", "not-a-number", "out-of-range", "not-a-bool", "bad-format", "workers"])
def test_bad_config_is_refused_with_file_and_line(cg, tmp_path, tail, line, phrases):
    cfg = tmp_path / "certgate.yaml"
    cfg.write_text(base_config(cg) + tail)
    rc, err = serve_with(cfg)
    assert rc == 2, err
    assert err.startswith("certgate: %s:%d: " % (cfg, line)), err
    for ph in phrases:
        assert ph in err, (ph, err)


def test_bad_listen_address_is_refused(cg, tmp_path):
    cfg = tmp_path / "certgate.yaml"
    cfg.write_text(base_config(cg, listen=False) + "listen:\n  egress: 127.0.0.1:99999\n")
    rc, err = serve_with(cfg)
    assert rc == 2 and "%s:5:" % cfg in err and "127.0.0.1:99999" in err, err


def test_no_listener_configured(cg, tmp_path):
    cfg = tmp_path / "certgate.yaml"
    cfg.write_text(base_config(cg, listen=False))
    rc, err = serve_with(cfg)
    assert rc == 2, err
    assert "nothing to serve" in err and "listen.egress" in err, err


def port_in_use(cg, tmp_path, **kw):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        cfg = tmp_path / "certgate.yaml"
        cfg.write_text(base_config(cg, port=port))
        rc, err = serve_with(cfg, **kw)
        return port, rc, err
    finally:
        s.close()


def test_port_in_use_is_refused(cg, tmp_path):
    # leak checking off here: the leak on this path is reported by the next test
    port, rc, err = port_in_use(cg, tmp_path, env={"ASAN_OPTIONS": "detect_leaks=0"})
    assert rc == 1, err
    assert "cannot listen on 127.0.0.1:%d" % port in err and "in use" in err, err
    assert "hint:" in err, err


def test_port_in_use_exits_cleanly(cg, tmp_path):
    port, rc, err = port_in_use(cg, tmp_path, sanitizer_clean=False)
    assert rc == 1, err
    assert not sanitizer_lines(err), err


def test_port_in_use_by_another_certgate_is_refused(cg, egress, tmp_path):
    first = egress()
    cfg = tmp_path / "second.yaml"
    cfg.write_text(base_config(cg, port=first.port))
    rc, err = serve_with(cfg, timeout=5)
    assert rc == 1 and "cannot listen on 127.0.0.1:%d" % first.port in err, err


def test_limits_and_reload_ms_are_accepted_and_applied(cg, gw, nginx):
    d = gw(extra={"limits": {"max_headers": 20}, "reload_ms": 100})
    many = "".join("X-H%d: v\r\n" % i for i in range(30)).encode()
    s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    try:
        s.sendall(b"GET " + nginx.url("/").encode() + b" HTTP/1.1\r\nHost: a\r\n" + many + b"\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 431 "), "limits.max_headers: 20 was not applied"
    finally:
        s.close()


def test_max_connections_caps_open_connections(gw, nginx):
    # limits.max_connections: 3 per worker. Three idle connections are held open; a fourth is
    # closed at once; once one of the three goes away, new connections are served again.
    d = gw(extra={"limits": {"max_connections": 3}})
    held = [socket.create_connection(("127.0.0.1", d.port), timeout=5) for _ in range(3)]
    time.sleep(0.3)
    extra = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    try:
        extra.sendall(b"GET " + nginx.url("/").encode() + b" HTTP/1.1\r\nHost: a\r\n\r\n")
        try:
            data = extra.recv(100)
        except ConnectionResetError:
            data = b""
        assert data == b"", "the fourth connection was served: %r" % data
    finally:
        extra.close()
    assert d.wait_stderr("closed at limits.max_connections (3)"), "no warning in the log"
    held.pop().close()
    time.sleep(0.3)
    st, _, _ = d.request("GET", nginx.url("/"))
    assert st == 200
    for s_ in held:
        s_.close()


# ---- the access log ----------------------------------------------------------------------------

TEXT_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) egress (?P<client>127\.0\.0\.1:\d+) (?P<method>\S+) "
    r"(?P<target>\S+) (?P<status>\d{3}) (?P<bytes_in>\d+) (?P<bytes_out>\d+) (?P<ms>\d+\.\d+)ms "
    r"upstream=(?P<upstream>\S+) cert=(?P<cert>\S+) sha256=(?P<sha>\S+) tls=(?P<tls>\S+) "
    r"resumed=(?P<resumed>\S+) reused=(?P<reused>\S+) error=(?P<error>\S+)$")


def test_access_log_text(gw, nginx, epki):
    d = gw()
    fp = cert_fingerprint(epki.client)
    for i in range(2):
        st, _, _ = d.request("GET", nginx.url("/log/%d?q=1" % i))
        assert st == 200
    dead = free_port()
    st, _, _ = d.request("POST", "http://127.0.0.1:%d/nothing" % dead, body=b"abc")
    assert st == 502
    lines = d.wait_access(3)
    assert len(lines) == 3, lines
    m = [TEXT_LINE.match(l) for l in lines]
    assert all(m), lines
    a, b, c = (x.groupdict() for x in m)
    assert (a["method"], a["target"], a["status"]) == ("GET", nginx.url("/log/0?q=1"), "200"), a
    assert a["upstream"] == nginx.authority and a["cert"] == "client" and a["sha"] == fp, a
    assert a["tls"] in ("TLSv1.3", "TLSv1.2") and a["resumed"] == "no" and a["reused"] == "no", a
    assert int(a["bytes_out"]) > 0 and float(a["ms"]) > 0 and a["error"] == "-", a
    assert b["reused"] == "yes", b
    assert (c["method"], c["status"], c["error"], c["upstream"]) == ("POST", "502", "connect_refused",
                                                                      "127.0.0.1:%d" % dead), c
    assert c["tls"] == "-" and c["reused"] == "-", c


def test_access_log_json(gw, nginx, epki):
    d = gw(extra={"log": {"format": "json"}})
    fp = cert_fingerprint(epki.client)
    st, _, _ = d.request("GET", nginx.url("/json?x=\"q\""))
    assert st == 200
    st, _, _ = d.request("GET", "/x", headers={"Host": "nobody"})
    assert st == 400
    lines = d.wait_access(2)
    assert len(lines) == 2, lines
    a, b = (json.loads(l) for l in lines)
    keys = ["time", "listener", "client", "method", "target", "status", "bytes_in", "bytes_out", "duration_ms",
            "upstream", "cert", "cert_sha256", "tls", "resumed", "reused", "error"]
    assert list(a) == keys, a
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["time"]), a
    assert a["listener"] == "egress" and a["client"].startswith("127.0.0.1:"), a
    assert (a["method"], a["target"], a["status"]) == ("GET", nginx.url("/json?x=\"q\""), 200), a
    assert (a["upstream"], a["cert"], a["cert_sha256"]) == (nginx.authority, "client", fp), a
    assert a["tls"] in ("TLSv1.3", "TLSv1.2") and a["resumed"] is False and a["reused"] is False, a
    assert a["bytes_out"] > 0 and a["duration_ms"] > 0 and a["error"] is None, a
    assert (b["status"], b["error"], b["tls"], b["reused"]) == (400, "unknown_destination", None, None), b
