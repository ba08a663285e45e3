"""A webhook receiver and a daemon that delivers to it (SPEC.md section 4, "Webhooks").

* ``Receiver``: a real HTTPS server in threads on 127.0.0.1 (a kernel-picked port) that REQUIRES a
  client certificate from the CA it is given (Python's ssl: CERT_REQUIRED, so a certificate from
  another CA is refused in the handshake) and records every request (method, path, headers,
  body, the client certificate's CN, the time), and every handshake it refused. What it answers
  is up to the test: ``respond(request, n)`` returns (status, {header: value}, body) for the n-th
  request carrying the same event id (0 for the first), and may sleep to be slow.
* ``wpki`` (session): the conftest PKI plus what the receivers need: the server certificate with
  its intermediate, one from the second root (which no webhook trusts), the second root for a
  receiver that trusts another CA than the client certificate's.
* ``hooks`` (function): a factory that starts ``certgate serve`` with an admin listener and the
  ``webhooks:`` settings given (small delays for the tests), with an operator token for the API.
* ``verify_signature``: what docs/webhooks.md tells a receiver to do with Certgate-Signature.
"""

import hashlib
import hmac
import http.client
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from egress_fixtures import daemon_factory, start_daemon, wait_for

SECRET = "whsec_integration-tests-0123456789"


# ---------------------------------------------------------------------------------------------
# the PKI


class WebhookPKI:
    def __init__(self, pki, d: Path):
        self.pki = pki
        self.dir = d
        by_root2 = (pki.root2, pki.root2_key)
        # what a well-configured receiver sends: its certificate and the intermediate
        self.server_full = d / "receiver-full.pem"
        self.server_full.write_bytes(pki.server.read_bytes() + pki.inter.read_bytes())
        self.server_key = pki.server_key
        # a receiver whose certificate comes from the second root: no webhook trusts it
        self.other_key = pki.ec_key("receiver-other.key")
        self.other_full = pki.sign("receiver-other", "server.example", self.other_key, by_root2, "server")

    def __getattr__(self, name):
        return getattr(self.pki, name)


@pytest.fixture(scope="session")
def wpki(pki, tmp_path_factory):
    return WebhookPKI(pki, tmp_path_factory.mktemp("wpki"))


# ---------------------------------------------------------------------------------------------
# the receiver


class Request:
    def __init__(self, method, path, headers, body, cn):
        self.method, self.path, self.headers, self.body, self.cn = method, path, headers, body, cn
        self.t = time.monotonic()

    @property
    def event_id(self):
        return self.headers.get("certgate-event-id")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "%s %s %s" % (self.method, self.path, self.event_id)


def ok_200(req, n):
    return 200, {}, b"ok"


class Receiver:
    """HTTPS, client certificate required; .requests, .refused (handshake errors), .url(path)."""

    def __init__(self, cert, key, client_ca, respond=ok_200):
        self.respond = respond
        self.requests = []
        self.refused = []
        self.lock = threading.Lock()
        self.counts = {}
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(str(client_ca))
        self.ctx = ctx
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                cert = self.connection.getpeercert() or {}
                cn = dict(x[0] for x in cert.get("subject", ())).get("commonName")
                req = Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body, cn)
                req.conn = self.client_address[1]  # the client port: one per connection
                req.resumed = self.connection.session_reused
                with receiver.lock:
                    k = req.event_id
                    seen = receiver.counts.get(k, 0)
                    receiver.counts[k] = seen + 1
                status, headers, out = receiver.respond(req, seen)
                with receiver.lock:
                    req.status = status
                    receiver.requests.append(req)
                self.send_response(status)
                for hk, hv in headers.items():
                    self.send_header(hk, hv)
                    if hk.lower() == "connection" and hv.lower() == "close":
                        self.close_connection = True
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def finish_request(self, request, client_address):
                # the handshake in the connection's own thread: a slow client holds up no other
                try:
                    tls = receiver.ctx.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    # the socket is closed at once, as most servers do: with TLS 1.3 the client may
                    # have sent its request already, and then gets the alert and a reset
                    with receiver.lock:
                        receiver.refused.append(str(e))
                    return
                try:
                    Handler(tls, client_address, self)
                finally:
                    try:
                        tls.close()
                    except OSError:
                        pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def event_ids(self):
        with self.lock:
            return [r.event_id for r in self.requests]

    def of(self, event_id):
        with self.lock:
            return [r for r in self.requests if r.event_id == event_id]

    def wait(self, n, timeout=10.0):
        """Waits for at least n requests; returns them."""
        wait_for(lambda: len(self.requests) >= n, timeout)
        with self.lock:
            return list(self.requests)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(wpki):
    """Factory: receiver(respond=..., client_ca=..., cert=..., key=...) -> Receiver, stopped at the end."""
    made = []

    def make(respond=ok_200, client_ca=None, cert=None, key=None):
        r = Receiver(cert or wpki.server_full, key or wpki.server_key, client_ca or wpki.root, respond)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


# ---------------------------------------------------------------------------------------------
# the daemon


FAST = {"poll_ms": 50, "retry_base_ms": 200, "retry_max_ms": 2000, "max_attempts": 4, "timeout_ms": 3000}


def token(cg, name, role):
    return json.loads(cg.ok("token", "add", name, "--role", role, "--json").out)["token"]


class Hooks:
    """A running daemon (admin listener) plus its store: post events, read deliveries."""

    def __init__(self, cg, daemon, tok):
        self.cg = cg
        self.d = daemon
        self.tok = tok

    def post_event(self, type_, data=None):
        """POST /api/v1/events: (status, JSON answer)."""
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        try:
            c.request("POST", "/api/v1/events", body=json.dumps({"type": type_, "data": data or {}}),
                      headers={"Authorization": "Bearer " + self.tok, "Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, json.loads(r.read() or b"null")
        finally:
            c.close()

    def send(self, type_, data=None):
        """An event through the CLI; its id."""
        args = ["event", "send", type_, "--json"]
        if data is not None:
            args += ["--data", json.dumps(data)]
        return self.cg.ok(*args).json()["id"]

    def deliveries(self, webhook, status=None):
        args = ["webhook", "deliveries", webhook, "--json", "--limit", "1000"]
        if status:
            args += ["--status", status]
        return self.cg.ok(*args).json()

    def show(self, webhook):
        return self.cg.ok("webhook", "show", webhook, "--json").json()

    def wait_status(self, webhook, status, n=1, timeout=10.0):
        """Waits until at least n deliveries of webhook have status; returns them."""
        def have():
            got = [d for d in self.deliveries(webhook) if d["status"] == status]
            return got if len(got) >= n else None
        got = wait_for(have, timeout, step=0.1)
        assert got, "no %d %s deliveries of %s within %.0f s: %s" % (n, status, webhook, timeout,
                                                                      self.deliveries(webhook))
        return got


def store_webhook_pki(cg, wpki, client="hook-client", ca="receiver-ca"):
    """The client certificate the webhooks present and the CA that signs the receivers."""
    cg.ok("cert", "add", client, wpki.client, "--key", wpki.client_key, "--chain", wpki.inter)
    cg.ok("ca", "add", ca, wpki.root)


def add_webhook(cg, name, url, *extra, client="hook-client", ca="receiver-ca", secret=True):
    args = ["webhook", "add", name, url, "--client-cert", client]
    if ca:
        args += ["--ca", ca]
    env = None
    if secret:
        args += ["--secret-env", "CG_TEST_WEBHOOK_SECRET"]
        env = {"CG_TEST_WEBHOOK_SECRET": SECRET}
    cg.ok(*args, *extra, env=env)


@pytest.fixture
def hooks(cg, tmp_path):
    """Factory: hooks(webhooks={...}, name=...) -> Hooks (the daemon is stopped cleanly at the end)."""
    tok = token(cg, "events-test", "operator")

    def start(extra, env, workers, name):
        return start_daemon(cg, tmp_path, extra=extra, env=env, workers=workers, name=name, listener="admin")

    gen = daemon_factory(start, "hooks")
    make_daemon = next(gen)

    def make(webhooks=None, name=None, env=None):
        settings = dict(FAST)
        settings.update(webhooks or {})
        d = make_daemon(extra={"webhooks": settings}, env=env, name=name)
        return Hooks(cg, d, tok)

    yield make
    try:
        next(gen)
    except StopIteration:
        pass


# ---------------------------------------------------------------------------------------------
# what a receiver does with the signature (docs/webhooks.md)


def verify_signature(secret, header, body, tolerance=300, now=None):
    """True when header ("t=...,v1=...") is the HMAC-SHA256 of "<t>.<body>" with secret, and t is
    within tolerance seconds of now."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    t = int(dict(parts)["t"])
    expected = hmac.new(secret.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
    fresh = abs((now or time.time()) - t) <= tolerance
    return fresh and any(k == "v1" and hmac.compare_digest(expected, v) for k, v in parts)
