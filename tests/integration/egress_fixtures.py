"""Peers and a running daemon for the egress tests (SPEC.md section 4, "Egress").

Everything here is real and listens on 127.0.0.1 on ports picked by the kernel (bind to port 0):

* ``epki``     (session): the conftest PKI plus the server-side shapes the egress needs: an
               expired server certificate, one issued by an untrusted root, a full chain file.
* ``nginx``    (module): nginx with TLS, ``ssl_verify_client on`` against the test root only (so
               a client must send its intermediate), locations that echo what nginx saw
               (client DN and verification, connection serial number, session reuse, the request
               headers the tests look for), a 50 MB static file, a WebDAV PUT sink whose files the
               tests hash, and a body sink behind proxy_pass that answers the Content-Length it got.
* ``RawServer``: a small Python TLS (or plain) server that accepts and then never answers,
               closes without answering, or sends a slow response: what nginx cannot do.
* ``SServer``: ``openssl s_server -www`` with -Verify 1 and -tls1_2 / -tls1_3, for handshakes.
* ``egress``   (function): a factory that starts ``certgate serve`` on a free port with a config
               file, waits until it listens, and on teardown sends SIGTERM and checks exit 0 and
               that no sanitizer output appeared on stderr.
"""

import datetime as dt
import hashlib
import http.client
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import certgate_bin, clean_env, openssl

NGINX = "/usr/sbin/nginx"
BIG_SIZE = 50 * 1024 * 1024
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:",
                   "ThreadSanitizer", "ERROR: ")


# ---------------------------------------------------------------------------------------------
# ports


def free_port():
    """A port the kernel just handed out on 127.0.0.1 (bound to 0, then released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(port, proc=None, timeout=15.0, what="server"):
    """Waits until something accepts on 127.0.0.1:port; fails early when proc exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError("%s exited with %s before listening on %d" % (what, proc.returncode, port))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError("%s did not listen on 127.0.0.1:%d within %.0f s" % (what, port, timeout))


# ---------------------------------------------------------------------------------------------
# the PKI: server-side shapes


class EgressPKI:
    """Wraps the session PKI and adds the server certificates the egress tests need."""

    def __init__(self, pki, d: Path):
        self.pki = pki
        self.dir = d
        now = pki.now
        by_inter = (pki.inter, pki.inter_key)
        # server.crt + intermediate: what a well-configured server sends
        self.server_full = d / "server-full.pem"
        self.server_full.write_bytes(pki.server.read_bytes() + pki.inter.read_bytes())
        self.server_key = pki.server_key
        # expired (SAN 127.0.0.1, valid chain)
        self.expired_key = pki.ec_key("srv-expired.key")
        crt = pki.sign("srv-expired", "server.example", self.expired_key, by_inter, "server",
                       start=now - dt.timedelta(days=400), end=now - dt.timedelta(days=2))
        self.expired_full = d / "srv-expired-full.pem"
        self.expired_full.write_bytes(crt.read_bytes() + pki.inter.read_bytes())
        # issued by the second root, which the environment does not trust
        self.other_key = pki.ec_key("srv-other.key")
        crt = pki.sign("srv-other", "server.example", self.other_key, (pki.root2, pki.root2_key), "server")
        self.other_full = d / "srv-other-full.pem"
        self.other_full.write_bytes(crt.read_bytes())
        # the root alone: what nginx trusts for client certificates (so the chain must be sent)
        self.client_ca = pki.root
        self.root2 = pki.root2

    def __getattr__(self, name):
        return getattr(self.pki, name)


@pytest.fixture(scope="session")
def epki(pki, tmp_path_factory):
    return EgressPKI(pki, tmp_path_factory.mktemp("epki"))


def spki_b64(crt):
    """base64 SHA-256 of the DER SubjectPublicKeyInfo of a certificate (the upstream pin)."""
    import base64
    pem = openssl("x509", "-in", crt, "-pubkey", "-noout")
    der = openssl("pkey", "-pubin", "-outform", "der", input=pem)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


# ---------------------------------------------------------------------------------------------
# nginx

ECHO_VARS = [
    ("dn", "$ssl_client_s_dn"),
    ("verify", "$ssl_client_verify"),
    ("conn", "$connection"),
    ("conn_requests", "$connection_requests"),
    ("reused", "$ssl_session_reused"),
    ("proto", "$ssl_protocol"),
    ("sni", "$ssl_server_name"),
    ("host", "$http_host"),
    ("uri", "$request_uri"),
    ("method", "$request_method"),
    ("service", "$http_certgate_service"),
    ("connection", "$http_connection"),
    ("keep_alive", "$http_keep_alive"),
    ("proxy_connection", "$http_proxy_connection"),
    ("te", "$http_te"),
    ("upgrade", "$http_upgrade"),
    ("proxy_authorization", "$http_proxy_authorization"),
    ("x_hop", "$http_x_hop"),
    ("x_custom", "$http_x_custom"),
    ("x_trace", "$http_x_trace"),
    ("content_length", "$content_length"),
]

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    default_type application/octet-stream;
    keepalive_requests 10000;
    keepalive_timeout 60s;
    client_max_body_size 200m;
    sendfile on;

    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_client_certificate {client_ca};
    ssl_verify_client {verify};
    ssl_verify_depth 3;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:eg:1m;
    ssl_session_tickets on;

    server {{
        listen 127.0.0.1:{port} ssl;
        server_name server.example;

        location / {{
            default_type application/json;
            return 200 '{echo}';
        }}
        location /files/ {{
            root {d}/www;
        }}
        location /chunked/ {{
            alias {d}/www/files/;
            sub_filter_types *;
            sub_filter 'certgate-never-in-these-files' 'x';
        }}
        location /upload/ {{
            root {d}/www;
            dav_methods PUT;
            create_full_put_path on;
            client_body_buffer_size 1m;
        }}
        location /sink {{
            proxy_pass http://127.0.0.1:{plain};
        }}
        location /status/ {{
            return 418 'teapot';
        }}
    }}

    # every response closes the connection: each request needs a new TLS connection (resumption)
    server {{
        listen 127.0.0.1:{close_port} ssl;
        keepalive_timeout 0;
        location / {{
            default_type application/json;
            return 200 '{echo}';
        }}
    }}

    server {{
        listen 127.0.0.1:{plain};
        location / {{
            default_type application/json;
            return 200 '{{"received_length": "$content_length", "method": "$request_method"}}';
        }}
    }}
}}
"""


def echo_body():
    parts = ['"%s": "%s"' % (k, v) for k, v in ECHO_VARS]
    return "{" + ", ".join(parts) + "}"


class Nginx:
    def __init__(self, d: Path, epki, verify="on", cert=None, key=None):
        self.dir = d
        (d / "tmp").mkdir(parents=True, exist_ok=True)
        (d / "www" / "files").mkdir(parents=True, exist_ok=True)
        (d / "www" / "upload").mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.plain_port = free_port()
        self.close_port = free_port()
        self.epki, self.verify, self.cert, self.key = epki, verify, cert, key
        self._write()
        self.proc = None

    def _write(self):
        d, epki = self.dir, self.epki
        conf = NGINX_CONF.format(d=d, port=self.port, plain=self.plain_port, close_port=self.close_port,
                                 cert=self.cert or epki.server_full, key=self.key or epki.server_key,
                                 client_ca=epki.client_ca, verify=self.verify, echo=echo_body())
        self.conf = d / "nginx.conf"
        self.conf.write_text(conf)

    def start(self):
        for attempt in range(3):
            self.proc = subprocess.Popen([NGINX, "-p", str(self.dir), "-c", str(self.conf)],
                                         stdout=subprocess.DEVNULL, stderr=open(self.dir / "stderr.log", "ab"))
            try:
                wait_listening(self.port, self.proc, what="nginx")
                wait_listening(self.plain_port, self.proc, what="nginx")
                wait_listening(self.close_port, self.proc, what="nginx")
                return self
            except AssertionError:
                # a port picked by free_port() was taken meanwhile: pick others and try again
                self.stop()
                if attempt == 2:
                    raise AssertionError("nginx did not start: %s" % self.errors())
                self.port, self.plain_port, self.close_port = free_port(), free_port(), free_port()
                self._write()
        return self

    def errors(self):
        out = ""
        for f in ("stderr.log", "error.log"):
            p = self.dir / f
            if p.exists():
                out += p.read_text(errors="replace")
        return out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def authority(self):
        return "127.0.0.1:%d" % self.port

    def url(self, path="/", port=None):
        """The absolute-form target for this nginx (http://: certgate does the TLS)."""
        return "http://127.0.0.1:%d%s" % (port or self.port, path)

    def make_file(self, name, size, seed=b"certgate"):
        """A file of pseudo-random bytes under /files/; returns (path, sha256)."""
        p = self.dir / "www" / "files" / name
        h = hashlib.sha256()
        block = hashlib.sha512(seed).digest() * 1024  # 64 KiB
        with open(p, "wb") as f:
            left = size
            i = 0
            while left:
                chunk = block[: min(len(block), left)]
                chunk = bytes([i & 0xff]) + chunk[1:]
                f.write(chunk)
                h.update(chunk)
                left -= len(chunk)
                i += 1
        return p, h.hexdigest()

    def uploaded(self, name):
        return self.dir / "www" / "upload" / name


@pytest.fixture(scope="module")
def nginx(epki, tmp_path_factory):
    if not os.access(NGINX, os.X_OK):
        pytest.fail("%s is missing: scripts/deps installs nginx-light" % NGINX)
    n = Nginx(tmp_path_factory.mktemp("nginx"), epki).start()
    yield n
    n.stop()


# ---------------------------------------------------------------------------------------------
# a small server for what nginx cannot do


class RawServer:
    """Accepts on 127.0.0.1:port, optionally TLS (server chain + key, optional client CA), and runs
    mode for each connection in a thread:

    * "hang":   read the request, never answer (keep the socket open until stop)
    * "close":  read the request head, close without a byte (and without a TLS close_notify)
    * "close_notify": read the request head, send a TLS close_notify, close
    * "slow":   answer 200 with a Content-Length body of `slow_chunks` parts, `slow_delay` s apart
    * "ok":     answer 200 "ok" with keep-alive, for every request on the connection
    * "close_on_second": answer the first request of a connection (keep-alive); on the second,
                 close without answering (a pooled connection that turns out closed), without a TLS
                 close_notify; "close_on_second_notify": the same with a close_notify first
    """

    def __init__(self, mode, cert=None, key=None, slow_chunks=10, slow_delay=0.2, tls=True):
        self.mode = mode
        self.slow_chunks, self.slow_delay = slow_chunks, slow_delay
        self.ctx = None
        if tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(str(cert), str(key))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.conns = []
        self.accepted = 0
        self.requests = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    @property
    def authority(self):
        return "127.0.0.1:%d" % self.port

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def _accept_loop(self):
        while not self.stopping:
            try:
                r, _, _ = select.select([self.sock], [], [], 0.1)
                if not r:
                    continue
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _read_head(self, c, buf):
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return None, buf
            buf += d
        head, rest = buf.split(b"\r\n\r\n", 1)
        return head, rest

    def _serve(self, raw):
        c = raw
        try:
            raw.settimeout(30)
            if self.ctx:
                c = self.ctx.wrap_socket(raw, server_side=True)
            with self.lock:
                self.conns.append(c)
            buf = b""
            n_on_conn = 0
            while True:
                head, buf = self._read_head(c, buf)
                if head is None:
                    return
                n_on_conn += 1
                with self.lock:
                    self.requests += 1
                if self.mode.startswith("close_on_second") and n_on_conn >= 2:
                    if self.mode == "close_on_second_notify" and self.ctx:
                        try:
                            c = c.unwrap()  # a TLS close_notify, then the TCP close
                        except (OSError, ssl.SSLError):
                            pass
                    return
                if self.mode == "hang":
                    c.settimeout(0.2)
                    while not self.stopping:
                        try:
                            if not c.recv(65536):
                                return
                        except socket.timeout:
                            continue
                        except (OSError, ssl.SSLError):
                            return
                    return
                if self.mode == "close":
                    return
                if self.mode == "close_notify":
                    if self.ctx:
                        try:
                            c = c.unwrap()
                        except (OSError, ssl.SSLError):
                            pass
                    return
                if self.mode == "slow":
                    part = b"x" * 1000
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n\r\n"
                              % (len(part) * self.slow_chunks))
                    for _ in range(self.slow_chunks):
                        time.sleep(self.slow_delay)
                        c.sendall(part)
                    continue
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
        except (OSError, ssl.SSLError):
            return
        finally:
            try:
                c.close()
            except OSError:
                pass

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass


@pytest.fixture
def raw_server(epki):
    made = []

    def make(mode, **kw):
        kw.setdefault("cert", epki.server_full)
        kw.setdefault("key", epki.server_key)
        s = RawServer(mode, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


# ---------------------------------------------------------------------------------------------
# openssl s_server


class SServer:
    def __init__(self, d: Path, epki, *args):
        self.log = d / ("s_server-%d.log" % time.monotonic_ns())
        for attempt in range(3):
            self.port = free_port()
            cmd = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % self.port, "-naccept", "100",
                   "-cert", str(epki.server), "-key", str(epki.server_key), "-cert_chain", str(epki.inter),
                   "-www", "-quiet", *[str(a) for a in args]]
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=open(self.log, "ab"),
                                         stderr=subprocess.STDOUT)
            try:
                wait_listening(self.port, self.proc, what="openssl s_server")
                return
            except AssertionError:
                self.stop()
                if attempt == 2:
                    raise

    @property
    def authority(self):
        return "127.0.0.1:%d" % self.port

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def output(self):
        return self.log.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def s_server(epki, tmp_path):
    made = []

    def make(*args):
        s = SServer(tmp_path, epki, *args)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


# ---------------------------------------------------------------------------------------------
# the daemon


def yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))


def config_text(store_url, master_key, listen, access_log, extra=None, env_name="production", ingress=None,
                admin=None):
    """A bootstrap file. extra is a dict: top-level scalars, or dicts for sections. listen: the
    egress address (None: no egress); ingress, admin: the ingress or admin address, or None."""
    lines = ["environment: %s" % env_name, "store: %s" % yaml_scalar(store_url),
             "master_key: %s" % yaml_scalar(master_key), "listen:"]
    if listen:
        lines.append("  egress: %s" % listen)
    if ingress:
        lines.append("  ingress: %s" % ingress)
    if admin:
        lines.append("  admin: %s" % admin)
    extra = dict(extra or {})
    log = {"level": "info", "access": str(access_log)}
    log.update(extra.pop("log", {}))
    lines.append("log:")
    lines += ["  %s: %s" % (k, yaml_scalar(v)) for k, v in log.items()]
    extra.setdefault("workers", 1)
    for k, v in extra.items():
        if isinstance(v, dict):
            lines.append("%s:" % k)
            lines += ["  %s: %s" % (kk, yaml_scalar(vv)) for kk, vv in v.items()]
        else:
            lines.append("%s: %s" % (k, yaml_scalar(v)))
    return "\n".join(lines) + "\n"


def sanitizer_lines(text):
    return [l for l in text.splitlines() if any(m in l for m in SANITIZER_MARKS)]


class Daemon:
    """A running `certgate serve`. url is http://127.0.0.1:PORT (the egress listener)."""

    def __init__(self, cg, config, port, access_log, stderr_path, env=None):
        self.cg = cg
        self.config = config
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.access_log = access_log
        self.stderr_path = stderr_path
        self.proc = subprocess.Popen([certgate_bin(), "-c", str(config), "serve"], env=clean_env(env),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(stderr_path, "ab"))
        self.checked = False

    def __iter__(self):  # (url, log path, process)
        return iter((self.url, self.access_log, self.proc))

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def access_lines(self):
        if not self.access_log.exists():
            return []
        return [l for l in self.access_log.read_text(errors="replace").splitlines() if l.strip()]

    def wait_access(self, n, timeout=5.0):
        """Waits until at least n access-log lines are written; returns them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.access_lines()
            if len(lines) >= n:
                return lines
            time.sleep(0.02)
        return self.access_lines()

    def wait_stderr(self, phrase, timeout=5.0, start=0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if phrase in self.stderr()[start:]:
                return True
            time.sleep(0.02)
        return False

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM, then the exit status (killed after timeout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("certgate serve did not exit within %d s of SIGTERM:\n%s" % (timeout, self.stderr()))
        return self.proc.returncode

    def check_clean(self):
        """Exit status 0 after SIGTERM and no sanitizer report on stderr."""
        if self.checked:
            return
        self.checked = True
        rc = self.stop()
        err = self.stderr()
        assert rc == 0, "certgate serve exited %s after SIGTERM:\n%s" % (rc, err)
        bad = sanitizer_lines(err)
        assert not bad, "sanitizer output from certgate serve:\n%s" % err

    # -- talking to it ------------------------------------------------------------------------
    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, target, body=None, headers=None, timeout=10):
        """One request on a new connection; returns (status, headers dict lowercased, body bytes)."""
        c = self.conn(timeout)
        try:
            return send(c, method, target, body, headers)
        finally:
            c.close()


def send(c, method, target, body=None, headers=None):
    """Sends one request on an http.client connection: (status, {lower name: value}, body)."""
    h = dict(headers or {})
    c.request(method, target, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def start_daemon(cg, tmp_path, extra=None, env=None, workers=1, name="cg", listener="egress"):
    """Starts `certgate serve` with one listener on a free port: the egress (plain, d.url
    http://...), the ingress (TLS, d.url https://...) or the admin listener (d.url http://...,
    or https://... when extra has admin.tls); waits until it listens."""
    access = tmp_path / ("%s-access.log" % name)
    stderr_path = tmp_path / ("%s-stderr.log" % name)
    for attempt in range(3):
        port = free_port()
        e = dict(extra or {})
        e.setdefault("workers", workers)
        cfg = tmp_path / ("%s.yaml" % name)
        addr = "127.0.0.1:%d" % port
        if listener == "ingress":
            cfg.write_text(config_text(cg.store_url, cg.key, None, access, e, ingress=addr))
        elif listener == "admin":
            cfg.write_text(config_text(cg.store_url, cg.key, None, access, e, admin=addr))
        else:
            cfg.write_text(config_text(cg.store_url, cg.key, addr, access, e))
        d = Daemon(cg, cfg, port, access, stderr_path, env=env)
        if listener == "ingress" or (listener == "admin" and "tls" in e.get("admin", {})):
            d.url = "https://%s" % addr
        try:
            wait_listening(port, d.proc, what="certgate serve")
            # the listener is up; the configuration was loaded before it
            return d
        except AssertionError:
            err = d.stderr()
            if d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()
            if "cannot listen" in err and attempt < 2:
                continue
            raise AssertionError("certgate serve did not start:\n%s" % err)


def daemon_factory(start, prefix):
    """The body of a daemon fixture: yields make(extra=, env=, workers=, name=) -> Daemon, built
    with start(extra, env, workers, name); teardown: SIGTERM, exit 0, no sanitizer output."""
    made = []

    def make(extra=None, env=None, workers=1, name=None):
        d = start(extra, env, workers, name or "%s%d" % (prefix, len(made)))
        made.append(d)
        return d

    yield make
    failures = []
    for d in made:
        try:
            d.check_clean()
        except AssertionError as e:
            failures.append(str(e))
    if failures:
        pytest.fail("\n\n".join(failures))


@pytest.fixture
def egress(cg, tmp_path):
    """Factory: egress(extra={...}) -> Daemon. Teardown: SIGTERM, exit 0, no sanitizer output."""
    yield from daemon_factory(
        lambda extra, env, workers, name: start_daemon(cg, tmp_path, extra=extra, env=env, workers=workers, name=name),
        "cg")


# ---------------------------------------------------------------------------------------------
# setting up a store for the egress


def store_client(cg, epki, name="client", chain=True, default=False, key=None, crt=None):
    args = ["cert", "add", name, crt or epki.client, "--key", key or epki.client_key]
    if chain:
        args += ["--chain", epki.inter]
    if default:
        args.append("--default")
    cg.ok(*args)


def trust_test_root(cg, epki, name="test-root"):
    cg.ok("ca", "add", name, epki.root)


def error_body(status, headers, body):
    """The JSON error answer, checked for shape: returns the object."""
    assert headers.get("content-type", "").startswith("application/json"), (status, headers, body)
    try:
        o = json.loads(body)
    except ValueError:
        raise AssertionError("error body is not JSON: %r" % body)
    for k in ("error", "message", "destination", "certificate"):
        assert k in o, (k, o)
    assert headers.get("certgate-error") == o["error"], (headers, o)
    return o


def curl(*args, timeout=30):
    """Runs curl -sS; returns CompletedProcess with bytes stdout/stderr."""
    return subprocess.run(["curl", "-sS", "--max-time", str(timeout), *[str(a) for a in args]],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout + 10)


# ---------------------------------------------------------------------------------------------
# the build under test


def sanitized_build():
    """True when CERTGATE_BIN is an ASan/UBSan build (their runtime is linked in)."""
    b = os.environ.get("CERTGATE_BIN")
    if not b or not os.path.exists(b):
        return False
    with open(b, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__ubsan_handle" in data


SANITIZED = sanitized_build()


def echo(body):
    """The echo location's JSON body."""
    try:
        return json.loads(body)
    except ValueError:
        raise AssertionError("not the echo JSON: %r" % body[:500])


def wait_for(pred, timeout=5.0, step=0.02):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(step)
    return last
