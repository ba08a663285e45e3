"""Certificates and CRLs for the site and profile tests (test_sites.py, test_profiles.py).

* ``spki`` (session): the conftest PKI plus server certificates whose SANs the site commands
  check (one for www/app.shop.test, a wildcard *.wild.test, one for api.shop.test, one without
  any SAN), and CRLs made with ``openssl ca -gencrl``: the intermediate's (revoking a client) in
  PEM and DER, a stale one (nextUpdate passed), the other root's (another issuer than the test
  bundle), the test bundle with the intermediate's CRL inside, and a DER CRL cut short.

Nothing here changes the conftest PKI: files are written under their own names (prefix "site-").
"""

import datetime as dt
from pathlib import Path

import pytest

from conftest import openssl, utc_stamp

SERVER_EXT = ("basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\n"
              "extendedKeyUsage = serverAuth\n{san}"
              "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n")


class SitePKI:
    def __init__(self, pki, d: Path):
        self.pki = pki
        self.dir = d
        by_inter = (pki.inter, pki.inter_key)

        def server(name, cn, san):
            ext = "site-" + name
            line = "subjectAltName = %s\n" % san if san else ""
            (pki.dir / ("ext-%s.cnf" % ext)).write_text("[ext]\n" + SERVER_EXT.format(san=line))
            key = pki.ec_key(ext + ".key")
            return pki.sign(ext, cn, key, by_inter, ext), key

        self.shop, self.shop_key = server("shop", "www.shop.test", "DNS:www.shop.test, DNS:app.shop.test")
        self.wild, self.wild_key = server("wild", "*.wild.test", "DNS:*.wild.test")
        self.api, self.api_key = server("api", "api.shop.test", "DNS:api.shop.test")
        self.nosan, self.nosan_key = server("nosan", "nosan.shop.test", None)

        # CRLs: each issuer keeps its own small CA database, so that a CRL lists only its revocations
        self.revoked_key = pki.ec_key("site-revoked.key")
        self.revoked = pki.sign("site-revoked", "revoked.shop.test", self.revoked_key, by_inter, "client")
        self.inter_crl = self.gencrl("inter", pki.inter, pki.inter_key, revoke=[self.revoked])
        self.inter_crl_der = d / "inter.crl.der"
        openssl("crl", "-in", self.inter_crl, "-outform", "DER", "-out", self.inter_crl_der)
        now = pki.now
        self.stale_crl = self.gencrl("inter-stale", pki.inter, pki.inter_key,
                                     last=now - dt.timedelta(days=40), next=now - dt.timedelta(days=10))
        self.root_crl = self.gencrl("root", pki.root, pki.root_key)
        self.root2_crl = self.gencrl("root2", pki.root2, pki.root2_key)
        self.bundle_with_crl = d / "bundle-with-crl.pem"
        self.bundle_with_crl.write_bytes(pki.root.read_bytes() + pki.inter.read_bytes() +
                                         self.inter_crl.read_bytes())
        self.truncated_crl = d / "truncated.crl.der"
        data = self.inter_crl_der.read_bytes()
        self.truncated_crl.write_bytes(data[: len(data) - 20])
        self._verify()

    def gencrl(self, name, crt, key, revoke=(), last=None, next=None):
        db = self.dir / ("crl-db-" + name)
        db.mkdir()
        (db / "index.txt").write_text("")
        (db / "crlnumber").write_text("1000\n")
        cnf = db / "ca.cnf"
        cnf.write_text("[ca]\ndefault_ca = c\n[c]\ndatabase = %s/index.txt\ncrlnumber = %s/crlnumber\n"
                       "default_md = sha256\ndefault_crl_days = 30\n" % (db, db))
        for c in revoke:
            openssl("ca", "-config", cnf, "-revoke", c, "-cert", crt, "-keyfile", key)
        out = self.dir / (name + ".crl.pem")
        args = ["ca", "-config", cnf, "-gencrl", "-cert", crt, "-keyfile", key, "-out", out]
        if last:
            args += ["-crl_lastupdate", utc_stamp(last), "-crl_nextupdate", utc_stamp(next)]
        openssl(*args)
        return out

    def _verify(self):
        for crt in (self.shop, self.wild, self.api, self.nosan, self.revoked):
            openssl("verify", "-CAfile", self.pki.root, "-untrusted", self.pki.inter, crt)
        text = openssl("crl", "-in", self.inter_crl, "-noout", "-text").decode()
        assert "Revoked Certificates" in text and "Test Intermediate CA" in text, text
        assert openssl("crl", "-in", self.inter_crl_der, "-inform", "DER", "-noout", "-issuer")
        text = openssl("crl", "-in", self.stale_crl, "-noout", "-nextupdate").decode()
        assert str(self.pki.now.year) in text or str(self.pki.now.year - 1) in text, text
        ext = openssl("x509", "-in", self.nosan, "-noout", "-text").decode()
        assert "Subject Alternative Name" not in ext

    def __getattr__(self, name):
        return getattr(self.pki, name)


@pytest.fixture(scope="session")
def spki(pki, tmp_path_factory):
    return SitePKI(pki, tmp_path_factory.mktemp("spki"))
