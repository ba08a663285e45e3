"""Peers and a running daemon for the ingress tests (SPEC.md section 4, "Ingress").

* ``ipki``     (session): the conftest PKI plus what the ingress needs: server certificates for
               the test sites (a.test with its mTLS domain mtls.a.test, b.test), a second
               intermediate under the same root (for "selected signer" tests) with a client of its
               own, a revoked client with the intermediate's CRL, and clients of every bad shape
               (expired, not yet valid, unknown CA, wrong EKU come from the conftest PKI); a
               client with URI and DNS SANs, a second server certificate for b.test (rotation),
               and the client CA bundle with and without the CRL inside.
* ``Backend``: a plain HTTP/1.1 backend (Python, threaded) that answers every request with JSON
               describing what it received (method, target, headers in order, body length and
               SHA-256; chunked bodies decoded), ``/big?n=BYTES`` streams a large body, and an
               ``Upgrade: websocket`` request gets a 101 and then an echo of raw bytes. It keeps
               every head (``requests``), a count of connections and the raw bytes received.
* ``ingress``  (function): a factory that starts ``certgate serve`` with an ingress listener (and
               no egress), waits until it listens; teardown checks SIGTERM -> exit 0 and no
               sanitizer output.
* ``tls_get``: one HTTPS request with Python's ssl (SNI, optional client certificate);
  ``raw_exchange`` sends bytes as they are and reads until the close; ``s_client`` and
  ``curl_ingress`` run the openssl and curl clients; ``wait_access_line`` and
  ``wait_handshake_failure`` find the access-log line of a request or a refused handshake.
"""

import datetime as dt
import hashlib
import json
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import openssl
from egress_fixtures import daemon_factory, start_daemon

SERVER_EXT = ("basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\n"
              "extendedKeyUsage = serverAuth\nsubjectAltName = {san}\n"
              "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n")

CLIENT_URI_EXT = ("basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                  "extendedKeyUsage = clientAuth\n"
                  "subjectAltName = URI:spiffe://example.org/ns/prod/sa/web, DNS:web.example, DNS:web2.example, "
                  "email:web@example.org\n"
                  "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n")


class IngressPKI:
    def __init__(self, pki, d: Path):
        self.pki = pki
        self.dir = d
        by_inter = (pki.inter, pki.inter_key)

        def server(name, san):
            (pki.dir / ("ext-%s.cnf" % name)).write_text("[ext]\n" + SERVER_EXT.format(san=san))
            key = pki.ec_key(name + ".key")
            crt = pki.sign(name, san.split(",")[0].split(":")[1], key, by_inter, name)
            full = d / (name + "-full.pem")
            full.write_bytes(crt.read_bytes() + pki.inter.read_bytes())
            return crt, key, full

        self.srv_a, self.srv_a_key, self.srv_a_full = server("srv-a", "DNS:a.test, DNS:mtls.a.test")
        self.srv_b, self.srv_b_key, self.srv_b_full = server("srv-b", "DNS:b.test, DNS:*.wild.test")
        # a second intermediate under the same root, and a client it issued
        self.inter2_key = pki.ec_key("inter2.key")
        self.inter2 = pki.sign("inter2", "Test Intermediate CA 2", self.inter2_key, (pki.root, pki.root_key), "inter",
                               end=pki.now + dt.timedelta(days=3000))
        self.client_i2_key = pki.ec_key("client-i2.key")
        self.client_i2 = pki.sign("client-i2", "client-i2.example", self.client_i2_key, (self.inter2, self.inter2_key),
                                  "client")
        # a client from the other root
        self.client_r2_key = pki.ec_key("client-r2.key")
        self.client_r2 = pki.sign("client-r2", "client-r2.example", self.client_r2_key, (pki.root2, pki.root2_key),
                                  "client")
        # a revoked client and the intermediate's CRL (its own CA database, so that the CRL lists
        # only what this intermediate revoked)
        self.revoked_key = pki.ec_key("revoked.key")
        self.revoked = pki.sign("revoked", "revoked.example", self.revoked_key, by_inter, "client")
        db = d / "crl-db"
        db.mkdir()
        (db / "index.txt").write_text("")
        (db / "crlnumber").write_text("1000\n")
        cnf = d / "crl.cnf"
        cnf.write_text("[ca]\ndefault_ca = c\n[c]\ndatabase = %s/index.txt\ncrlnumber = %s/crlnumber\n"
                       "default_md = sha256\ndefault_crl_days = 30\n" % (db, db))
        openssl("ca", "-config", cnf, "-revoke", self.revoked, "-cert", pki.inter, "-keyfile", pki.inter_key)
        self.crl = d / "inter.crl.pem"
        openssl("ca", "-config", cnf, "-gencrl", "-cert", pki.inter, "-keyfile", pki.inter_key, "-out", self.crl)
        # client chains as a TLS client sends them: leaf + its intermediate
        self.client_full = self.bundle("client-full.pem", pki.client, pki.inter)
        self.client_i2_full = self.bundle("client-i2-full.pem", self.client_i2, self.inter2)
        self.expired_full = self.bundle("expired-full.pem", pki.expired, pki.inter)
        self.notyet_full = self.bundle("notyet-full.pem", pki.notyet, pki.inter)
        self.wrong_eku_full = self.bundle("wrong-eku-full.pem", pki.wrong_eku, pki.inter)
        self.revoked_full = self.bundle("revoked-full.pem", self.revoked, pki.inter)
        # a client with URI and DNS SANs (the XFCC fields), a second server certificate for a.test
        # and b.test (rotation), and the client CA bundle with the intermediate's CRL inside
        (pki.dir / "ext-client-uri.cnf").write_text("[ext]\n" + CLIENT_URI_EXT)
        self.client_uri_key = pki.ec_key("client-uri.key")
        self.client_uri = pki.sign("client-uri", "web.example", self.client_uri_key, by_inter, "client-uri")
        self.client_uri_full = self.bundle("client-uri-full.pem", self.client_uri, pki.inter)
        self.srv_b2, self.srv_b2_key, _ = server("srv-b2", "DNS:b.test, DNS:*.wild.test")
        self.clients_ca = self.bundle("clients-ca.pem", pki.root, pki.inter, self.inter2)
        self.clients_ca_crl = self.bundle("clients-ca-crl.pem", pki.root, pki.inter, self.inter2, self.crl)

    def bundle(self, name, *parts):
        out = self.dir / name
        out.write_bytes(b"".join(p.read_bytes() for p in parts))
        return out

    def __getattr__(self, name):
        return getattr(self.pki, name)


@pytest.fixture(scope="session")
def ipki(pki, tmp_path_factory):
    return IngressPKI(pki, tmp_path_factory.mktemp("ipki"))


# ---------------------------------------------------------------------------------------------
# the backend


RECEIVED_KEEP = 1 << 20


class _Counting:
    """The backend's side of a connection: recv also records what arrived (Backend.received)."""

    def __init__(self, sock, backend):
        self.sock, self.backend = sock, backend

    def recv(self, n):
        d = self.sock.recv(n)
        with self.backend.lock:
            self.backend.received_n += len(d)
            keep = RECEIVED_KEEP - len(self.backend.received)
            if keep > 0:
                self.backend.received += d[:keep]
        return d

    def sendall(self, d):
        return self.sock.sendall(d)

    def close(self):
        return self.sock.close()


class Backend:
    """Threaded plain HTTP/1.1 server: answers JSON about each request (see the module doc)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.requests = []          # every request head received: (method, target, headers)
        self.connections = 0
        self.received = bytearray()  # every byte received, on all connections (the first RECEIVED_KEEP)
        self.received_n = 0
        self.lock = threading.Lock()
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(_Counting(c, self),), daemon=True).start()

    @staticmethod
    def _read_until(c, buf, marker):
        while marker not in buf:
            d = c.recv(65536)
            if not d:
                return buf, False
            buf += d
        return buf, True

    def _body(self, c, buf, headers):
        te = [v for k, v in headers if k.lower() == "transfer-encoding"]
        cl = [v for k, v in headers if k.lower() == "content-length"]
        h = hashlib.sha256()
        n = 0
        if te:
            while True:
                buf, ok = self._read_until(c, buf, b"\r\n")
                if not ok:
                    raise ConnectionError("eof in chunk size")
                line, buf = buf.split(b"\r\n", 1)
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    buf, _ = self._read_until(c, buf, b"\r\n")
                    _, buf = buf.split(b"\r\n", 1)
                    break
                while len(buf) < size + 2:
                    d = c.recv(65536)
                    if not d:
                        raise ConnectionError("eof in chunk")
                    buf += d
                h.update(buf[:size])
                n += size
                buf = buf[size + 2:]
        elif cl:
            want = int(cl[0])
            while len(buf) < want:
                d = c.recv(min(1 << 20, want - len(buf)))
                if not d:
                    raise ConnectionError("eof in body")
                buf += d
            h.update(buf[:want])
            n = want
            buf = buf[want:]
        return buf, n, h.hexdigest()

    def _serve(self, c):
        buf = b""
        try:
            while True:
                buf, ok = self._read_until(c, buf, b"\r\n\r\n")
                if not ok:
                    return
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = [tuple(l.split(":", 1)) for l in lines[1:]]
                headers = [(k, v.strip()) for k, v in headers]
                with self.lock:
                    self.requests.append((method, target, headers))
                hmap = {k.lower(): v for k, v in headers}
                if hmap.get("upgrade", "").lower() == "websocket":
                    c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
                    if buf:
                        c.sendall(buf)
                    while True:
                        d = c.recv(65536)
                        if not d:
                            return
                        c.sendall(d)
                if hmap.get("expect", "").lower() == "100-continue":
                    c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                buf, n, digest = self._body(c, buf, headers)
                if target.startswith("/big?n="):
                    size = int(target.split("=", 1)[1])
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                              b"Content-Length: %d\r\n\r\n" % size)
                    block = hashlib.sha256(b"certgate").digest() * 2048  # 64 KiB
                    sent = 0
                    while sent < size:
                        part = block[:min(len(block), size - sent)]
                        c.sendall(part)
                        sent += len(part)
                    continue
                body = json.dumps({"method": method, "target": target, "headers": headers, "body_len": n,
                                   "body_sha256": digest}).encode()
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                          % len(body) + body)
        except (OSError, ConnectionError, ValueError):
            pass
        finally:
            c.close()

    def stop(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not, on Linux)
        except OSError:
            pass
        self.sock.close()


@pytest.fixture
def backend():
    b = Backend()
    yield b
    b.stop()


# ---------------------------------------------------------------------------------------------
# the daemon


def start_ingress(cg, tmp_path, extra=None, env=None, workers=1, name="ig"):
    """`certgate serve` with an ingress listener only, its access log in JSON (d.port is the TLS
    listener)."""
    e = dict(extra or {})
    e.setdefault("log", {"format": "json"})
    return start_daemon(cg, tmp_path, extra=e, env=env, workers=workers, name=name, listener="ingress")


@pytest.fixture
def ingress(cg, tmp_path):
    """Factory: ingress(extra={...}) -> Daemon (d.port is the TLS listener)."""
    yield from daemon_factory(
        lambda extra, env, workers, name: start_ingress(cg, tmp_path, extra=extra, env=env, workers=workers, name=name),
        "ig")


# ---------------------------------------------------------------------------------------------
# clients


def tls_context(ipki, cert=None, key=None, session=None):
    ctx = ssl.create_default_context(cafile=str(ipki.root))
    if cert:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def tls_connect(port, host, ctx, timeout=10, session=None):
    """A TLS socket to 127.0.0.1:port naming host (SNI and verification)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=host, session=session)
    except Exception:
        raw.close()
        raise


def read_response(s):
    """Reads one HTTP/1.1 response (Content-Length or chunked or close): (status, headers, body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed before a response head: %r" % buf)
        buf += d
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for l in lines[1:]:
        k, v = l.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(buf) < n:
            d = s.recv(65536)
            if not d:
                raise ConnectionError("closed in the body")
            buf += d
        return status, headers, buf[:n]
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            while b"\r\n" not in buf:
                buf += s.recv(65536)
            line, buf = buf.split(b"\r\n", 1)
            size = int(line, 16)
            while len(buf) < size + 2:
                buf += s.recv(65536)
            body += buf[:size]
            buf = buf[size + 2:]
            if size == 0:
                return status, headers, body
    while True:
        d = s.recv(65536)
        if not d:
            return status, headers, buf
        buf += d


def request(s, method, target, host, headers=None, body=b""):
    """Sends one request on a connected socket and reads the response."""
    h = {"Host": host}
    if body:
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = "%s %s HTTP/1.1\r\n" % (method, target) + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
    s.sendall(head.encode() + body)
    return read_response(s)


def tls_get(ipki, port, host, target="/", cert=None, key=None, headers=None, method="GET", body=b""):
    """One request on a new TLS connection: (status, headers, body)."""
    s = tls_connect(port, host, tls_context(ipki, cert, key))
    try:
        return request(s, method, target, host, headers, body)
    finally:
        s.close()


def seen(body):
    """The backend's JSON description of the request it received."""
    return json.loads(body)


def header_values(desc, name):
    return [v for k, v in desc["headers"] if k.lower() == name.lower()]


def setup_sites(cg, ipki, backend, mode="required", mtls_domain=True):
    """Server certificates, the client CA (root + both intermediates) and two sites:
    a (a.test, mTLS domain mtls.a.test, the given mode) and b (b.test, off)."""
    cg.ok("cert", "add", "srv-a", ipki.srv_a, "--key", ipki.srv_a_key, "--chain", ipki.inter, "--kind", "server")
    cg.ok("cert", "add", "srv-b", ipki.srv_b, "--key", ipki.srv_b_key, "--chain", ipki.inter, "--kind", "server")
    cg.ok("ca", "add", "clients", ipki.bundle("clients-ca.pem", ipki.root, ipki.inter, ipki.inter2))
    args = ["site", "add", "a", "--backend", backend.url, "--domain", "a.test=srv-a", "--mtls", mode,
            "--client-ca", "clients"]
    if mtls_domain:
        args += ["--mtls-domain", "mtls.a.test=srv-a"]
    cg.ok(*args)
    cg.ok("site", "add", "b", "--backend", backend.url, "--domain", "b.test=srv-b")


def wait_until(pred, timeout=5.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


# ---------------------------------------------------------------------------------------------
# for the scenario files (test_ingress_*.py): more peers and observations


def add_server_certs(cg, ipki):
    """The server certificates of a.test / mtls.a.test (srv-a) and b.test / *.wild.test (srv-b)."""
    cg.ok("cert", "add", "srv-a", ipki.srv_a, "--key", ipki.srv_a_key, "--chain", ipki.inter, "--kind", "server")
    cg.ok("cert", "add", "srv-b", ipki.srv_b, "--key", ipki.srv_b_key, "--chain", ipki.inter, "--kind", "server")


def add_site_a(cg, ipki, backend, mode="off", client_ca="clients", mtls_domain=False, crl=None, ca_file=None):
    """Server certificates, the client CA bundle `clients` (root + both intermediates, or ca_file;
    with --crl crl) and the site a (a.test, optionally mtls.a.test) in the given mode."""
    add_server_certs(cg, ipki)
    args = ["ca", "add", "clients", ca_file or ipki.clients_ca]
    if crl:
        args += ["--crl", crl]
    cg.ok(*args)
    args = ["site", "add", "a", "--backend", backend.url, "--domain", "a.test=srv-a", "--mtls", mode]
    if client_ca:
        args += ["--client-ca", client_ca]
    if mtls_domain:
        args += ["--mtls-domain", "mtls.a.test=srv-a"]
    cg.ok(*args)


def wait_access_line(d, pred, timeout=5.0):
    """The first access-log line (parsed) for which pred is true; fails with the log otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [json.loads(l) for l in d.access_lines()]
        for l in lines:
            if pred(l):
                return l
        if time.monotonic() > deadline:
            raise AssertionError("no such access-log line in:\n%s" % "\n".join(map(json.dumps, lines)))
        time.sleep(0.02)


def s_client(port, host, *args, input=b"", timeout=20):
    """`openssl s_client` to 127.0.0.1:port naming host (None: -noservername); (rc, stdout+stderr text)."""
    sni = ["-noservername"] if host is None else ["-servername", host]
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, *sni, *[str(a) for a in args]],
                       input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace")


def curl_ingress(ipki, port, host, target="/", *args, timeout=60):
    """curl -sS over TLS to host (resolved to 127.0.0.1), trusting the test root: CompletedProcess
    whose stdout is the body; -w output appended when asked for."""
    return subprocess.run(["curl", "-sS", "--max-time", str(timeout), "--cacert", str(ipki.root),
                           "--resolve", "%s:%d:127.0.0.1" % (host, port), *[str(a) for a in args],
                           "https://%s:%d%s" % (host, port, target)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout + 10)


def read_until_closed(s, timeout=5.0):
    """Everything the peer sends until it closes (b"" more); raises when it stays open past timeout."""
    s.settimeout(timeout)
    data = b""
    while True:
        try:
            d = s.recv(65536)
        except (ssl.SSLEOFError, ConnectionResetError, ssl.SSLZeroReturnError):
            return data
        except socket.timeout:
            raise AssertionError("the connection is still open after %.1f s; received %r" % (timeout, data[:300]))
        if not d:
            return data
        data += d


def raw_exchange(ipki, port, host, data, cert=None, key=None, timeout=5.0):
    """Sends raw bytes over a new TLS connection and reads until the server closes:
    (status or None, headers, body, all bytes)."""
    s = tls_connect(port, host, tls_context(ipki, cert, key))
    try:
        s.sendall(data)
        got = read_until_closed(s, timeout)
    finally:
        s.close()
    if not got.startswith(b"HTTP/1.1 ") or b"\r\n\r\n" not in got:
        return None, {}, b"", got
    head, body = got.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for l in lines[1:]:
        k, v = l.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split(" ")[1]), headers, body, got


def error_json(status, headers, body):
    """An error answer of the ingress: JSON, Certgate-Error equal to its "error"."""
    assert headers.get("content-type", "").startswith("application/json"), (status, headers, body)
    o = json.loads(body)
    assert headers.get("certgate-error") == o["error"], (headers, o)
    assert o.get("message"), o
    return o


def wait_handshake_failure(d, host, timeout=5.0):
    """The access-log line of a refused handshake that named host (the listener probe of the
    fixture, which names nothing, is not one)."""
    return wait_access_line(d, lambda l: l["method"] == "-" and l["target"] == host, timeout)
