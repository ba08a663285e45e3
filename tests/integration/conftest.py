"""Shared fixtures for the black-box CLI tests.

* ``pki``   (session): a private PKI made with the ``openssl`` command: CAs, leaves of every
            shape the tests need (expired, not yet valid, expiring, wrong EKU, two leaves
            sharing one key, ...) and every PKCS#12 / PEM / DER / base64 container shape.
* ``cg``    (function): a fresh ``certgate init`` store in a per-test directory and a helper
            that runs the binary against it: ``cg("cert", "list", "--json")`` returns a Result
            with ``rc``, ``out`` and ``err``.

The binary is named by the environment variable CERTGATE_BIN (ctest sets it).
"""

import base64
import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

PASSWORD = "s3cret-Pa55"
KEY_PASSWORD = "key-Pa55word"
ORG = "certgate tests"

# ---------------------------------------------------------------------------------------------
# the openssl command


def openssl(*args, cwd=None, input=None):
    """Runs openssl and returns stdout bytes; fails the session on any error."""
    p = subprocess.run(["openssl", *[str(a) for a in args]], cwd=cwd, input=input,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed (%d): %s" % (" ".join(map(str, args)), p.returncode,
                                                            p.stderr.decode(errors="replace")))
    return p.stdout


def utc_stamp(when):
    return when.strftime("%Y%m%d%H%M%SZ")


def cert_fingerprint(path, inform="PEM"):
    """SHA-256 fingerprint as certgate prints it: lowercase hex without colons."""
    out = openssl("x509", "-in", path, "-inform", inform, "-noout", "-fingerprint", "-sha256").decode()
    return out.strip().split("=", 1)[1].replace(":", "").lower()


def cert_subject(path, inform="PEM"):
    out = openssl("x509", "-in", path, "-inform", inform, "-noout", "-subject", "-nameopt", "RFC2253").decode()
    return out.strip().split("=", 1)[1]


def cert_not_after(path):
    """notAfter as RFC 3339 UTC ("2027-11-22T14:39:58Z"), as certgate prints it."""
    out = openssl("x509", "-in", path, "-noout", "-enddate").decode().strip().split("=", 1)[1]
    t = dt.datetime.strptime(" ".join(out.split()), "%b %d %H:%M:%S %Y GMT")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def cert_serial(path):
    return int(openssl("x509", "-in", path, "-noout", "-serial").decode().strip().split("=", 1)[1], 16)


def days_left(not_after_rfc3339):
    """Whole days until not_after, floored, as certgate computes them."""
    t = dt.datetime.strptime(not_after_rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    secs = (t - dt.datetime.now(dt.timezone.utc)).total_seconds()
    return int(secs // 86400)


def pubkey_of_cert(path):
    return openssl("x509", "-in", path, "-noout", "-pubkey")


def pubkey_of_key(path, passin=None):
    args = ["pkey", "-in", path, "-pubout"]
    if passin is not None:
        args += ["-passin", "pass:" + passin]
    return openssl(*args)


# ---------------------------------------------------------------------------------------------
# the PKI factory

CA_CNF = """\
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/newcerts
serial = {dir}/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ policy_any ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
"""

EXT = {
    "ca": "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n"
          "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n",
    "inter": "basicConstraints = critical, CA:TRUE, pathlen:0\nkeyUsage = critical, keyCertSign, cRLSign\n"
             "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n",
    "client": "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\n"
              "extendedKeyUsage = clientAuth\nsubjectKeyIdentifier = hash\n"
              "authorityKeyIdentifier = keyid:always\n",
    "server": "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\n"
              "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:server.example, IP:127.0.0.1\n"
              "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n",
    "wrong_eku": "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                 "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:wrong-eku.example\n"
                 "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n",
}


class PKI:
    """Every file lives in self.dir; attributes are Paths. Built once per session."""

    def __init__(self, d: Path):
        self.dir = d
        (d / "ca-db" / "newcerts").mkdir(parents=True)
        (d / "ca-db" / "index.txt").write_text("")
        (d / "ca-db" / "serial").write_text("1000\n")
        self.ca_cnf = d / "ca.cnf"
        self.ca_cnf.write_text(CA_CNF.format(dir=d / "ca-db"))
        for name, text in EXT.items():
            (d / ("ext-%s.cnf" % name)).write_text("[ext]\n" + text)
        self.now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        self._build()
        self._verify()

    def p(self, name):
        return self.dir / name

    # -- keys and certificates ----------------------------------------------------------------
    def ec_key(self, name):
        path = self.p(name)
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
        return path

    def rsa_key(self, name, bits=2048):
        path = self.p(name)
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%d" % bits, "-out", path)
        return path

    def sign(self, name, cn, key, issuer, ext, start=None, end=None):
        """Signs a certificate for key with issuer (name of a (crt, key) pair), explicit dates."""
        start = start or self.now - dt.timedelta(days=1)
        end = end or self.now + dt.timedelta(days=365)
        csr = self.p(name + ".csr")
        openssl("req", "-new", "-key", key, "-subj", "/O=%s/CN=%s" % (ORG, cn), "-out", csr,
                "-config", self.ca_cnf)
        crt = self.p(name + ".crt")
        icrt, ikey = issuer
        openssl("ca", "-batch", "-config", self.ca_cnf, "-in", csr, "-cert", icrt, "-keyfile", ikey,
                "-out", crt, "-notext", "-preserveDN", "-rand_serial",
                "-startdate", utc_stamp(start), "-enddate", utc_stamp(end),
                "-extfile", self.p("ext-%s.cnf" % ext), "-extensions", "ext")
        return crt

    def _build(self):
        d = self.dir
        now = self.now
        # root (self-signed, 10 years) and intermediate
        self.root_key = self.ec_key("root.key")
        self.root = self.p("root.crt")
        openssl("req", "-x509", "-new", "-key", self.root_key, "-subj", "/O=%s/CN=Test Root CA" % ORG,
                "-days", "3650", "-out", self.root, "-config", self.ca_cnf,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.inter_key = self.ec_key("inter.key")
        self.inter = self.sign("inter", "Test Intermediate CA", self.inter_key, (self.root, self.root_key), "inter",
                               end=now + dt.timedelta(days=3000))
        by_inter = (self.inter, self.inter_key)

        # EC client leaf (365 days) and its chain
        self.client_key = self.ec_key("client.key")              # PKCS#8 PEM
        self.client = self.sign("client", "client.example", self.client_key, by_inter, "client")
        self.chain = self.p("chain.pem")                         # intermediate then root
        self.chain.write_bytes(self.inter.read_bytes() + self.root.read_bytes())

        # RSA client leaf
        self.rsa_key_pkcs8 = self.rsa_key("client-rsa.pkcs8.key")
        self.rsa_client = self.sign("client-rsa", "rsa-client.example", self.rsa_key_pkcs8, by_inter, "client")

        # server leaf (serverAuth, SAN DNS + IP)
        self.server_key = self.ec_key("server.key")
        self.server = self.sign("server", "server.example", self.server_key, by_inter, "server")

        # warnings: wrong EKU, expired, not yet valid, expiring in 10 days
        self.wrong_eku_key = self.ec_key("wrong-eku.key")
        self.wrong_eku = self.sign("wrong-eku", "wrong-eku.example", self.wrong_eku_key, by_inter, "wrong_eku")
        self.expired_key = self.ec_key("expired.key")
        self.expired = self.sign("expired", "expired.example", self.expired_key, by_inter, "client",
                                 start=now - dt.timedelta(days=400), end=now - dt.timedelta(days=35))
        self.notyet_key = self.ec_key("notyet.key")
        self.notyet = self.sign("notyet", "notyet.example", self.notyet_key, by_inter, "client",
                                start=now + dt.timedelta(days=30), end=now + dt.timedelta(days=400))
        self.expiring_key = self.ec_key("expiring.key")
        self.expiring = self.sign("expiring", "expiring.example", self.expiring_key, by_inter, "client",
                                  start=now - dt.timedelta(days=20), end=now + dt.timedelta(days=10, hours=1))

        # two more client identities for multi-certificate scenarios (pins, mendix)
        self.client2_key = self.ec_key("client2.key")
        self.client2 = self.sign("client2", "client2.example", self.client2_key, by_inter, "client")
        self.client3_key = self.ec_key("client3.key")
        self.client3 = self.sign("client3", "client3.example", self.client3_key, by_inter, "client")

        # a key that matches nothing; two leaves sharing one key
        self.other_key = self.ec_key("other.key")
        self.twin_key = self.ec_key("twin.key")
        self.twin1 = self.sign("twin1", "twin1.example", self.twin_key, by_inter, "client")
        self.twin2 = self.sign("twin2", "twin2.example", self.twin_key, by_inter, "client")

        # a second, unrelated root (for a CA bundle) and a CA bundle with a non-CA certificate
        self.root2_key = self.ec_key("root2.key")
        self.root2 = self.p("root2.crt")
        openssl("req", "-x509", "-new", "-key", self.root2_key, "-subj", "/O=%s/CN=Other Root CA" % ORG,
                "-days", "3650", "-out", self.root2, "-config", self.ca_cnf,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")

        # ---- PEM shapes -----------------------------------------------------------------------
        self.client_sec1 = self.p("client.sec1.key")
        openssl("ec", "-in", self.client_key, "-out", self.client_sec1)
        self.rsa_key_pkcs1 = self.p("client-rsa.pkcs1.key")
        openssl("rsa", "-in", self.rsa_key_pkcs8, "-traditional", "-out", self.rsa_key_pkcs1)
        self.client_key_enc = self.p("client.enc.key")
        openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", self.client_key, "-out", self.client_key_enc,
                "-passout", "pass:" + KEY_PASSWORD)
        self.client_der = self.p("client.der")
        openssl("x509", "-in", self.client, "-outform", "DER", "-out", self.client_der)
        self.client_key_der = self.p("client.key.der")
        openssl("pkey", "-in", self.client_key, "-outform", "DER", "-out", self.client_key_der)
        self.rsa_key_der = self.p("client-rsa.key.der")
        openssl("pkey", "-in", self.rsa_key_pkcs8, "-outform", "DER", "-out", self.rsa_key_der)
        # one file: root, key, leaf, intermediate (mixed order)
        self.combined = self.p("combined.pem")
        self.combined.write_bytes(self.root.read_bytes() + self.client_key.read_bytes() +
                                  self.client.read_bytes() + self.inter.read_bytes())
        # a key with two leaves that both match it
        self.twins_pem = self.p("twins.pem")
        self.twins_pem.write_bytes(self.twin_key.read_bytes() + self.twin1.read_bytes() + self.twin2.read_bytes())
        # CA bundles
        self.ca_bundle = self.p("ca-bundle.pem")                  # root + intermediate
        self.ca_bundle.write_bytes(self.root.read_bytes() + self.inter.read_bytes())
        self.ca_bundle2 = self.p("ca-bundle2.pem")                # two roots
        self.ca_bundle2.write_bytes(self.root.read_bytes() + self.root2.read_bytes())
        self.root_der = self.p("root.der")
        openssl("x509", "-in", self.root, "-outform", "DER", "-out", self.root_der)
        self.ca_bundle_b64 = self.p("ca-bundle.b64")
        self.ca_bundle_b64.write_bytes(base64.encodebytes(self.ca_bundle.read_bytes()))
        self.ca_with_leaf = self.p("ca-with-leaf.pem")            # root + a non-CA certificate
        self.ca_with_leaf.write_bytes(self.root.read_bytes() + self.client.read_bytes())
        self.ca_with_key = self.p("ca-with-key.pem")
        self.ca_with_key.write_bytes(self.root.read_bytes() + self.other_key.read_bytes())
        # not certificates at all
        self.garbage = self.p("garbage.bin")
        self.garbage.write_bytes(bytes(range(256)) * 4)
        self.text = self.p("notes.txt")
        self.text.write_text("these are not the certificates you are looking for\n")
        self.empty = self.p("empty.pem")
        self.empty.write_bytes(b"")
        self.truncated_pem = self.p("truncated.pem")
        self.truncated_pem.write_bytes(self.client.read_bytes()[:300])

        # ---- PKCS#12 shapes --------------------------------------------------------------------
        def p12(name, *args, key=self.client_key, cert=self.client, chain=self.chain, password=PASSWORD):
            out = self.p(name)
            a = ["pkcs12", "-export", "-out", out, "-passout", "pass:" + password, "-name", "certgate test"]
            if key is not None:
                a += ["-inkey", key]
            if cert is not None:
                a += ["-in", cert]
            if chain is not None:
                a += ["-certfile", chain]
            openssl(*a, *args)
            return out

        self.p12_modern = p12("modern.p12")
        self.p12_legacy = p12("legacy.p12", "-legacy")
        self.p12_3des = p12("3des.p12", "-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES")
        self.p12_nomac = p12("nomac.p12", "-nomac")
        self.p12_nopass = p12("nopass.p12", password="")
        self.p12_leaf_only = p12("leaf-only.p12", chain=None)
        shuffled = self.p("shuffled-chain.pem")                  # root before intermediate
        shuffled.write_bytes(self.root.read_bytes() + self.inter.read_bytes())
        self.p12_shuffled = p12("shuffled.p12", chain=shuffled)
        self.p12_rsa = p12("rsa.p12", key=self.rsa_key_pkcs8, cert=self.rsa_client)
        self.p12_client2 = p12("client2.p12", key=self.client2_key, cert=self.client2)
        self.p12_client3 = p12("client3.p12", key=self.client3_key, cert=self.client3)
        self.p12_nokeys = p12("nokeys.p12", "-nokeys", key=None)
        self.p12_nocerts = p12("nocerts.p12", "-nocerts", cert=None, chain=None)
        self.p12_twins = p12("twins.p12", cert=self.twins_pem, chain=None, key=self.twin_key)
        self.p12_mismatch = p12("mismatch.p12", "-nocerts", key=self.other_key, cert=None, chain=None)
        self.p12_truncated = self.p("truncated.p12")
        data = self.p12_modern.read_bytes()
        self.p12_truncated.write_bytes(data[: len(data) // 2])
        self.p12_b64 = self.p("modern.p12.b64")
        self.p12_b64.write_bytes(base64.encodebytes(data))

    # -- sanity checks of what was made -------------------------------------------------------
    def _verify(self):
        # every leaf verifies against root + intermediate (except the dated ones, checked
        # at their own time), and every key matches its certificate
        for crt in (self.client, self.rsa_client, self.server, self.wrong_eku, self.client2, self.client3,
                    self.twin1, self.twin2, self.expiring):
            openssl("verify", "-CAfile", self.root, "-untrusted", self.inter, crt)
        openssl("verify", "-CAfile", self.root, "-untrusted", self.inter, "-no_check_time", self.expired)
        openssl("verify", "-CAfile", self.root, "-untrusted", self.inter, "-no_check_time", self.notyet)
        pairs = [(self.client, self.client_key), (self.client, self.client_sec1), (self.rsa_client, self.rsa_key_pkcs8),
                 (self.rsa_client, self.rsa_key_pkcs1), (self.server, self.server_key),
                 (self.twin1, self.twin_key), (self.twin2, self.twin_key), (self.expired, self.expired_key),
                 (self.notyet, self.notyet_key), (self.expiring, self.expiring_key),
                 (self.wrong_eku, self.wrong_eku_key), (self.client2, self.client2_key)]
        for crt, key in pairs:
            assert pubkey_of_cert(crt) == pubkey_of_key(key), (crt, key)
        assert pubkey_of_cert(self.client) == pubkey_of_key(self.client_key_enc, KEY_PASSWORD)
        assert pubkey_of_cert(self.client) != pubkey_of_key(self.other_key)
        assert b"BEGIN EC PRIVATE KEY" in self.client_sec1.read_bytes()
        assert b"BEGIN RSA PRIVATE KEY" in self.rsa_key_pkcs1.read_bytes()
        assert b"BEGIN PRIVATE KEY" in self.rsa_key_pkcs8.read_bytes()
        assert b"BEGIN ENCRYPTED PRIVATE KEY" in self.client_key_enc.read_bytes()
        # the PKCS#12 files open with openssl (the legacy one needs the legacy provider)
        for f, pw, extra in ((self.p12_modern, PASSWORD, []), (self.p12_3des, PASSWORD, []),
                             (self.p12_nomac, PASSWORD, []), (self.p12_nopass, "", []),
                             (self.p12_shuffled, PASSWORD, []), (self.p12_nokeys, PASSWORD, []),
                             (self.p12_nocerts, PASSWORD, []), (self.p12_twins, PASSWORD, []),
                             (self.p12_legacy, PASSWORD, ["-legacy"])):
            openssl("pkcs12", "-in", f, "-passin", "pass:" + pw, "-noout", *extra)
        def p12_info(f, pw, *extra):
            return subprocess.run(["openssl", "pkcs12", *extra, "-in", str(f), "-passin", "pass:" + pw, "-info",
                                   "-noout"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode()
        info = p12_info(self.p12_modern, PASSWORD)
        assert "AES-256-CBC" in info and "PBKDF2" in info, info
        info = p12_info(self.p12_legacy, PASSWORD, "-legacy")
        assert "RC2" in info and "TripleDES" in info, info
        info = p12_info(self.p12_3des, PASSWORD)
        assert "TripleDES" in info and "AES" not in info, info
        info = p12_info(self.p12_nomac, PASSWORD)
        assert "MAC:" not in info, info
        assert "MAC:" in p12_info(self.p12_modern, PASSWORD)
        # negative shapes really are what they claim
        assert subprocess.run(["openssl", "pkcs12", "-in", str(self.p12_truncated), "-passin",
                               "pass:" + PASSWORD, "-noout"], capture_output=True).returncode != 0
        assert subprocess.run(["openssl", "pkcs12", "-in", str(self.p12_modern), "-passin", "pass:wrong",
                               "-noout"], capture_output=True).returncode != 0
        nokeys = openssl("pkcs12", "-in", self.p12_nokeys, "-passin", "pass:" + PASSWORD, "-nodes")
        assert b"PRIVATE KEY" not in nokeys and b"BEGIN CERTIFICATE" in nokeys
        nocerts = openssl("pkcs12", "-in", self.p12_nocerts, "-passin", "pass:" + PASSWORD, "-nodes")
        assert b"PRIVATE KEY" in nocerts and b"BEGIN CERTIFICATE" not in nocerts
        twins = openssl("pkcs12", "-in", self.p12_twins, "-passin", "pass:" + PASSWORD, "-nodes", "-nokeys")
        assert twins.count(b"BEGIN CERTIFICATE") == 2
        assert base64.decodebytes(self.p12_b64.read_bytes()) == self.p12_modern.read_bytes()
        assert openssl("x509", "-in", self.root_der, "-inform", "DER", "-noout", "-subject")
        ext = openssl("x509", "-in", self.server, "-noout", "-ext", "subjectAltName,extendedKeyUsage").decode()
        assert "DNS:server.example" in ext and "IP Address:127.0.0.1" in ext and "TLS Web Server" in ext
        ext = openssl("x509", "-in", self.wrong_eku, "-noout", "-ext", "extendedKeyUsage").decode()
        assert "TLS Web Server" in ext and "Client" not in ext
        assert days_left(cert_not_after(self.expiring)) in (9, 10)
        assert cert_not_after(self.expired) < self.now.strftime("%Y-%m-%dT%H:%M:%SZ")

    # -- helpers ------------------------------------------------------------------------------
    def fingerprint(self, crt):
        return cert_fingerprint(crt)

    def subject(self, crt):
        return cert_subject(crt)

    def not_after(self, crt):
        return cert_not_after(crt)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.fail("the openssl command is needed to build the test PKI")
    return PKI(tmp_path_factory.mktemp("pki"))


# ---------------------------------------------------------------------------------------------
# running the binary


class Result:
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise AssertionError("not JSON (%s): %r\nstderr: %s" % (e, self.out, self.err))

    def __repr__(self):
        return "certgate %s -> exit %d\n--- stdout\n%s--- stderr\n%s" % (
            " ".join(self.args), self.rc, self.out, self.err)


def certgate_bin():
    b = os.environ.get("CERTGATE_BIN")
    if not b:
        pytest.fail("CERTGATE_BIN is not set: run through ctest, or export CERTGATE_BIN=path/to/certgate")
    if not os.access(b, os.X_OK):
        pytest.fail("CERTGATE_BIN=%s is not an executable" % b)
    return b


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CERTGATE_") and k not in ("CLIENT_CERTIFICATES", "CERTIFICATE_AUTHORITIES")}
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "detect_leaks=1")
    if extra:
        env.update(extra)
    return env


def run_raw(*args, env=None, cwd=None, input=None):
    """Runs the binary with exactly these arguments (no --store/--env added)."""
    args = [str(a) for a in args]
    # stdin is never a terminal: a command that needs a password must not wait for a prompt
    p = subprocess.run([certgate_bin(), *args], env=clean_env(env), cwd=cwd,
                       input=input if input is not None else b"",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    r = Result(args, p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))
    # no command may crash or trip a sanitizer, whatever its exit status
    assert p.returncode >= 0, "killed by signal %d: %r" % (-p.returncode, r)
    assert "AddressSanitizer" not in r.err and "runtime error:" not in r.err \
        and "LeakSanitizer" not in r.err, r
    return r


class CG:
    """One store (sqlite file + master key) in its own directory."""

    def __init__(self, d: Path, env_name="production"):
        self.dir = d
        self.db = d / "s.db"
        self.key = d / "master.key"
        self.store_url = "sqlite:%s" % self.db
        self.env_name = env_name

    def __call__(self, *args, env=None, envname=None, cwd=None, input=None):
        return run_raw("--store", self.store_url, "--env", envname or self.env_name, *args,
                       env=env, cwd=cwd, input=input)

    def ok(self, *args, **kw):
        r = self(*args, **kw)
        assert r.rc == 0, r
        return r

    def certs(self, envname=None):
        """cert list --json as a dict name -> object."""
        r = self.ok("cert", "list", "--json", envname=envname)
        lst = r.json()
        assert isinstance(lst, list), r
        return {c["name"]: c for c in lst}

    def show(self, name, envname=None):
        return self.ok("cert", "show", name, "--json", envname=envname).json()

    def pins(self, envname=None):
        r = self.ok("pin", "list", "--json", envname=envname)
        return {p["target"]: p["cert"] for p in r.json()}

    def resolve(self, dest, service=None, envname=None):
        args = ["pin", "resolve", dest, "--json"]
        if service:
            args += ["--service", service]
        return self.ok(*args, envname=envname).json()

    def pw_file(self, password, name="pw.txt"):
        f = self.dir / name
        f.write_text(password + "\n")
        return f


@pytest.fixture
def cg(tmp_path):
    c = CG(tmp_path)
    r = c("init")
    assert r.rc == 0, r
    return c


@pytest.fixture
def fresh(tmp_path):
    """A CG whose store has not been initialised."""
    return CG(tmp_path)


# ---------------------------------------------------------------------------------------------
# assertions shared by the test files


def assert_error(r, rc, *phrases, name=None, hint=None):
    """rc, then stderr starts with "certgate: ", names `name` (a file or entry), holds each phrase
    and, when hint is True (or a phrase), a "hint:" line."""
    assert r.rc == rc, r
    assert r.err.startswith("certgate: "), r
    for ph in phrases:
        assert ph in r.err, "%r not in stderr: %r" % (ph, r)
    if name is not None:
        assert str(name) in r.err, "%r not named in stderr: %r" % (str(name), r)
    if hint:
        lines = [l for l in r.err.splitlines() if l.startswith("hint: ")]
        assert lines, "no hint line: %r" % (r,)
        if isinstance(hint, str):
            assert any(hint in l for l in lines), "%r not in hint: %r" % (hint, r)


def assert_nothing_stored(c, envname=None):
    assert c.certs(envname) == {}, "something was stored after a refusal"
    assert c.pins(envname) == {}, "a pin was stored after a refusal"


def assert_leaf(c, name, crt, kind="client", default=None, warnings=None):
    """The stored certificate `name` is `crt` with the right facts."""
    certs = c.certs()
    assert name in certs, certs
    o = certs[name]
    assert o["kind"] == kind, o
    assert o["fingerprint_sha256"] == cert_fingerprint(crt), o
    assert re.fullmatch(r"[0-9a-f]{64}", o["fingerprint_sha256"]), o
    assert o["subject"] == cert_subject(crt), o
    assert o["not_after"] == cert_not_after(crt), o
    assert abs(o["days_left"] - days_left(o["not_after"])) <= 1, o
    if default is not None:
        assert o["default"] is default, o
    if warnings is not None:
        assert o["warnings"] == warnings, o
    return o
