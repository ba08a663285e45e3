"""Upstreams: add / set / list / show / rm (SPEC.md section 1, "Upstream"; docs/cli.md).

Every value is checked before anything is stored: the URL (https only: certgate always
originates TLS; no user information, query or fragment; a port of 1..65535), the name, the CAs
(they must exist and be CA bundles), the SPKI pin (base64 of 32 bytes) and the timeouts
(1..600000 ms). A CA bundle that an upstream trusts cannot be removed, and the refusal names the
upstream. Environments do not see each other's upstreams."""

import base64
import hashlib

import pytest

from conftest import assert_error, openssl

FIELDS = ["name", "url", "host", "port", "base_path", "server_name", "trust", "spki_sha256",
          "connect_timeout_ms", "timeout_ms"]


def spki_of(crt):
    """base64 SHA-256 of the DER SubjectPublicKeyInfo, as docs/cli.md tells users to compute it."""
    pem = openssl("x509", "-in", crt, "-pubkey", "-noout")
    der = openssl("pkey", "-pubin", "-outform", "der", input=pem)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def ups(cg, envname=None):
    r = cg.ok("upstream", "list", "--json", envname=envname)
    lst = r.json()
    assert isinstance(lst, list), r
    return {u["name"]: u for u in lst}


def show(cg, name, envname=None):
    return cg.ok("upstream", "show", name, "--json", envname=envname).json()


@pytest.fixture
def cas(cg, pki):
    """Two CA bundles and a client certificate stored."""
    cg.ok("ca", "add", "corp-root", pki.root)
    cg.ok("ca", "add", "partner-cas", pki.ca_bundle2)
    cg.ok("cert", "add", "client1", pki.client, "--key", pki.client_key)
    return cg


# ---- add, show, list --------------------------------------------------------------------------

def test_add_minimal(cg):
    r = cg.ok("upstream", "add", "billing", "https://billing.partner.example")
    assert "added upstream 'billing' -> https://billing.partner.example (trust: system+env)" in r.out, r
    o = show(cg, "billing")
    assert list(o) == FIELDS, o
    assert o == {"name": "billing", "url": "https://billing.partner.example", "host": "billing.partner.example",
                 "port": 443, "base_path": "", "server_name": "billing.partner.example", "trust": "system+env",
                 "spki_sha256": None, "connect_timeout_ms": None, "timeout_ms": None}, o


def test_add_everything(cas, pki):
    cg = cas
    spki = spki_of(pki.server)
    r = cg.ok("upstream", "add", "partner", "https://API.Partner.example:8443/v1/", "--ca", "partner-cas",
              "--ca", "corp-root", "--server-name", "Verify.Partner.Example", "--spki-sha256", spki,
              "--connect-timeout", "1500", "--timeout", "600000")
    assert "added upstream 'partner'" in r.out and "SPKI pinned" in r.out, r
    o = show(cg, "partner")
    assert o == {"name": "partner", "url": "https://API.Partner.example:8443/v1/", "host": "api.partner.example",
                 "port": 8443, "base_path": "/v1", "server_name": "verify.partner.example",
                 "trust": ["partner-cas", "corp-root"], "spki_sha256": spki, "connect_timeout_ms": 1500,
                 "timeout_ms": 600000}, o
    # the pin is the one `cert show` prints for the same certificate
    cg.ok("cert", "add", "srv", pki.server, "--key", pki.server_key, "--kind", "server")
    assert cg.show("srv")["spki_sha256"] == spki
    # text form
    r = cg.ok("upstream", "show", "partner")
    for line in ("name:             partner", "host:             api.partner.example", "port:             8443",
                 "base path:        /v1", "server name:      verify.partner.example (override)",
                 "trust:            partner-cas (only the CA bundles listed)", "                  corp-root",
                 "spki sha256:      " + spki, "connect timeout:  1500 ms", "timeout:          600000 ms"):
        assert line in r.out, (line, r)


def test_ipv6_and_ports(cg):
    cg.ok("upstream", "add", "v6", "https://[2001:DB8::1]:9443/api")
    o = show(cg, "v6")
    assert (o["host"], o["port"], o["base_path"], o["server_name"]) == ("2001:db8::1", 9443, "/api", "2001:db8::1")
    cg.ok("upstream", "add", "maxport", "https://h.example:65535")
    assert show(cg, "maxport")["port"] == 65535
    cg.ok("upstream", "add", "deep", "https://h.example/a/b%20c//")
    assert show(cg, "deep")["base_path"] == "/a/b%20c"


def test_list(cas):
    cg = cas
    r = cg.ok("upstream", "list")
    assert "no upstreams in environment 'production'" in r.out, r
    assert cg.ok("upstream", "list", "--json").json() == []
    cg.ok("upstream", "add", "zeta", "https://z.example", "--ca", "corp-root", "--timeout", "5000")
    cg.ok("upstream", "add", "alpha", "https://a.example/base", "--spki-sha256", "A" * 43 + "=")
    lst = cg.ok("upstream", "list", "--json").json()
    assert [u["name"] for u in lst] == ["alpha", "zeta"], lst  # ordered by name
    assert all(list(u) == FIELDS for u in lst), lst
    assert lst[1]["trust"] == ["corp-root"] and lst[1]["timeout_ms"] == 5000
    assert lst[0]["trust"] == "system+env" and lst[0]["spki_sha256"] == "A" * 43 + "="
    r = cg.ok("upstream", "list")
    lines = r.out.splitlines()
    assert lines[0].split() == ["NAME", "URL", "TRUST", "SERVER", "NAME", "SPKI", "PIN", "CONNECT", "TIMEOUT",
                                "TIMEOUT"], r
    assert lines[1].split() == ["alpha", "https://a.example/base", "system+env", "a.example", "yes", "default",
                                "default"], r
    assert lines[2].split() == ["zeta", "https://z.example", "corp-root", "z.example", "default", "5000", "ms"], r


def test_spki_is_stored_canonical(cg):
    # base64 with line breaks (as `base64` wraps long output) is the same pin
    pin = base64.b64encode(bytes(range(32))).decode()
    cg.ok("upstream", "add", "u", "https://u.example", "--spki-sha256", pin[:20] + "\n" + pin[20:])
    assert show(cg, "u")["spki_sha256"] == pin


# ---- refusals: nothing is stored ----------------------------------------------------------------

@pytest.mark.parametrize("url,phrases", [
    ("http://api.partner.example/", ["uses http://", "certgate always originates TLS"]),
    ("HTTP://api.partner.example:8080/x", ["uses http://"]),
    ("ftp://api.partner.example/", ["scheme 'ftp'"]),
    ("api.partner.example", ["not an absolute URL"]),
    ("https://user:secret@api.partner.example/", ["user information"]),
    ("https://user@api.partner.example/", ["user information"]),
    ("https://api.partner.example/v1?key=abc", ["query"]),
    ("https://api.partner.example?x=1", ["query"]),
    ("https://api.partner.example/#frag", ["fragment"]),
    ("https://api.partner.example:0/", ["port is out of range"]),
    ("https://api.partner.example:65536/", ["port is out of range"]),
    ("https://api.partner.example:abc/", ["bad port"]),
    ("https://api.partner.example:/", ["bad port"]),
    ("https://", ["no host"]),
    ("https:///v1", ["no host"]),
    ("https://api..example/", ["empty label"]),
    ("https://api.partner.example/a b", ["a space"]),
    ("https://api.partner.example/a/../b", ["'..' segment"]),
    ("https://[zz::1]/", ["IPv6"]),
    ("", ["has no URL"]),
])
def test_bad_urls(cg, url, phrases):
    r = cg("upstream", "add", "api", url)
    assert_error(r, 2, "upstream 'api'", *phrases, hint=True)
    if url:
        assert url in r.err, r
    assert ups(cg) == {}


def test_http_hint_says_https(cg):
    r = cg("upstream", "add", "api", "http://api.partner.example:8080/")
    assert_error(r, 2, hint="write https://")


@pytest.mark.parametrize("name", ["_bad", ".bad", "a b", "none", "x" * 129, "a/b", "é"])
def test_bad_names(cg, name):
    r = cg("upstream", "add", name, "https://api.example")
    assert_error(r, 2, "upstream name", hint="letters, digits")
    assert ups(cg) == {}


def test_unknown_ca(cas):
    cg = cas
    r = cg("upstream", "add", "api", "https://api.example", "--ca", "corp-root", "--ca", "missing-ca")
    assert_error(r, 1, "upstream 'api'", "'missing-ca'", "no CA bundle", hint="certgate ca add missing-ca")
    assert ups(cg) == {}


@pytest.mark.parametrize("wrong", ["client1", "srv"])
def test_non_ca_as_ca(cas, pki, wrong):
    cg = cas
    cg.ok("cert", "add", "srv", pki.server, "--key", pki.server_key, "--kind", "server")
    r = cg("upstream", "add", "api", "https://api.example", "--ca", wrong)
    assert_error(r, 2, "upstream 'api'", "'%s'" % wrong, "not a CA bundle", hint="ca list")
    assert ups(cg) == {}


def test_ca_given_twice(cas):
    r = cas("upstream", "add", "api", "https://api.example", "--ca", "corp-root", "--ca", "corp-root")
    assert_error(r, 2, "'corp-root' is given twice")
    assert ups(cas) == {}


@pytest.mark.parametrize("pin,phrase", [
    ("abc", "not base64"),
    ("not-base64-at-all!!", "not base64"),
    (base64.b64encode(b"x" * 20).decode(), "20 bytes"),
    (base64.b64encode(b"x" * 33).decode(), "33 bytes"),
    ("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", "not base64"),  # padding missing
    ("", "not base64"),
])
def test_bad_spki(cg, pin, phrase):
    r = cg("upstream", "add", "api", "https://api.example", "--spki-sha256", pin)
    assert_error(r, 2, "upstream 'api'", "SPKI pin", phrase, hint="openssl dgst -sha256 -binary | base64")
    assert ups(cg) == {}


@pytest.mark.parametrize("opt", ["--connect-timeout", "--timeout"])
@pytest.mark.parametrize("value", ["0", "600001", "-1", "5s", "1.5", "", "99999999999999999999999"])
def test_bad_timeouts(cg, opt, value):
    r = cg("upstream", "add", "api", "https://api.example", opt, value)
    assert_error(r, 2, "upstream 'api'", opt, "from 1 to 600000", hint="milliseconds")
    assert ups(cg) == {}


@pytest.mark.parametrize("sn", ["a..b", "[::1]", "host:443", "a b", ""])
def test_bad_server_name(cg, sn):
    r = cg("upstream", "add", "api", "https://api.example", "--server-name", sn)
    assert_error(r, 2, "upstream 'api'", "not a server name", hint="DNS name")
    assert ups(cg) == {}


def test_usage_errors(cg):
    assert_error(cg("upstream", "add", "api"), 2, "missing arguments", hint="certgate upstream add NAME URL")
    assert_error(cg("upstream", "add", "api", "https://a.example", "--nope"), 2, "unknown option '--nope'")
    assert_error(cg("upstream", "add", "api", "https://a.example", "--timeout", "1", "--timeout", "2"), 2,
                 "given twice")
    assert_error(cg("upstream", "show"), 2, "missing arguments")
    assert_error(cg("upstream", "frob"), 2, "unknown command 'upstream frob'")
    assert ups(cg) == {}


# ---- duplicate, replace, set, rm ------------------------------------------------------------------

def test_duplicate_and_replace(cas):
    cg = cas
    cg.ok("upstream", "add", "api", "https://api.example/v1", "--ca", "corp-root", "--timeout", "3000",
          "--server-name", "x.example")
    r = cg("upstream", "add", "api", "https://other.example")
    assert_error(r, 1, "an upstream named 'api' already exists in environment 'production'", hint="--replace")
    assert show(cg, "api")["url"] == "https://api.example/v1"
    r = cg.ok("upstream", "add", "api", "https://other.example:8443", "--replace")
    assert "stored upstream 'api' -> https://other.example:8443" in r.out, r
    # a replace is whole: what was not given is back to its default
    assert show(cg, "api") == {"name": "api", "url": "https://other.example:8443", "host": "other.example",
                               "port": 8443, "base_path": "", "server_name": "other.example",
                               "trust": "system+env", "spki_sha256": None, "connect_timeout_ms": None,
                               "timeout_ms": None}
    # so the CA is free again
    cg.ok("ca", "rm", "corp-root")
    # names ignore case, as the Host field that names them does
    assert_error(cg("upstream", "add", "API", "https://x.example"), 1, "'api' already exists", "ignore case")
    # --replace of a new name adds it
    cg.ok("upstream", "add", "new", "https://new.example", "--replace")
    assert set(ups(cg)) == {"api", "new"}


def test_set(cas, pki):
    cg = cas
    cg.ok("upstream", "add", "api", "https://api.example/v1", "--ca", "corp-root", "--connect-timeout", "2000")
    r = cg.ok("upstream", "set", "api", "--timeout", "9000")
    assert "changed upstream 'api'" in r.out, r
    o = show(cg, "api")
    assert (o["url"], o["trust"], o["connect_timeout_ms"], o["timeout_ms"]) == \
        ("https://api.example/v1", ["corp-root"], 2000, 9000), o  # the rest is kept
    spki = spki_of(pki.server)
    cg.ok("upstream", "set", "api", "--url", "https://api2.example:444/v2/", "--ca", "partner-cas", "--ca",
          "corp-root", "--server-name", "sni.example", "--spki-sha256", spki)
    o = show(cg, "api")
    assert (o["host"], o["port"], o["base_path"], o["server_name"], o["trust"], o["spki_sha256"]) == \
        ("api2.example", 444, "/v2", "sni.example", ["partner-cas", "corp-root"], spki), o
    cg.ok("upstream", "set", "api", "--no-ca", "--no-server-name", "--no-spki")
    o = show(cg, "api")
    assert (o["trust"], o["server_name"], o["spki_sha256"], o["timeout_ms"]) == \
        ("system+env", "api2.example", None, 9000), o


def test_set_refusals_change_nothing(cas):
    cg = cas
    cg.ok("upstream", "add", "api", "https://api.example", "--ca", "corp-root")
    before = show(cg, "api")
    assert_error(cg("upstream", "set", "api"), 2, "nothing to set", hint="--url")
    assert_error(cg("upstream", "set", "api", "--ca", "corp-root", "--no-ca"), 2, "--ca and --no-ca")
    assert_error(cg("upstream", "set", "api", "--server-name", "a.example", "--no-server-name"), 2,
                 "--server-name and --no-server-name")
    assert_error(cg("upstream", "set", "api", "--spki-sha256", "A" * 43 + "=", "--no-spki"), 2,
                 "--spki-sha256 and --no-spki")
    assert_error(cg("upstream", "set", "api", "--url", "http://api.example"), 2, "uses http://")
    assert_error(cg("upstream", "set", "api", "--ca", "client1"), 2, "not a CA bundle")
    assert_error(cg("upstream", "set", "api", "--ca", "corp-root", "--ca", "nope"), 1, "'nope'")
    assert_error(cg("upstream", "set", "api", "--timeout", "0"), 2, "--timeout")
    assert_error(cg("upstream", "set", "api", "--spki-sha256", "abcd"), 2, "SPKI pin")
    assert show(cg, "api") == before
    r = cg("upstream", "set", "nope", "--timeout", "5")
    assert_error(r, 1, "no upstream named 'nope' in environment 'production'", hint="certgate upstream list")


def test_rm(cg):
    cg.ok("upstream", "add", "api", "https://api.example")
    r = cg.ok("upstream", "rm", "api")
    assert "removed upstream 'api'" in r.out, r
    assert ups(cg) == {}
    assert_error(cg("upstream", "rm", "api"), 1, "no upstream named 'api'", hint="certgate upstream list")
    assert_error(cg("upstream", "show", "api"), 1, "no upstream named 'api'")


# ---- a CA that an upstream trusts ---------------------------------------------------------------

def test_ca_in_use_cannot_be_removed(cas, pki):
    cg = cas
    cg.ok("upstream", "add", "alpha", "https://a.example", "--ca", "corp-root")
    cg.ok("upstream", "add", "beta", "https://b.example", "--ca", "partner-cas", "--ca", "corp-root")
    for cmd in (("ca", "rm", "corp-root"), ("cert", "rm", "corp-root")):
        r = cg(*cmd)
        assert_error(r, 1, "cannot delete certificate 'corp-root'", "trusted by 2 upstreams: 'alpha', 'beta'",
                     hint="certgate upstream set")
        assert "corp-root" in cg.certs()
    cg.ok("upstream", "set", "beta", "--ca", "partner-cas")
    assert_error(cg("ca", "rm", "corp-root"), 1, "trusted by 1 upstream: 'alpha'")
    cg.ok("upstream", "rm", "alpha")
    cg.ok("ca", "rm", "corp-root")
    # rotating a trusted bundle (replaced by another bundle) is allowed, and the upstream keeps it
    cg.ok("ca", "add", "partner-cas", pki.root2, "--replace")
    assert show(cg, "beta")["trust"] == ["partner-cas"]


# ---- environments ---------------------------------------------------------------------------------

def test_environments_isolated(cas, pki):
    cg = cas
    cg.ok("upstream", "add", "api", "https://api.example", "--ca", "corp-root")
    assert ups(cg, "stage") == {}
    assert_error(cg("upstream", "show", "api", envname="stage"), 1, "no upstream named 'api' in environment 'stage'")
    # the CA of production is not there in stage
    r = cg("upstream", "add", "api", "https://api.stage.example", "--ca", "corp-root", envname="stage")
    assert_error(r, 1, "no CA bundle", "environment 'stage'")
    cg.ok("ca", "add", "corp-root", pki.root, envname="stage")
    cg.ok("upstream", "add", "api", "https://api.stage.example", "--ca", "corp-root", envname="stage")
    assert show(cg, "api", "stage")["host"] == "api.stage.example"
    assert show(cg, "api")["host"] == "api.example"
    cg.ok("upstream", "rm", "api", envname="stage")
    cg.ok("ca", "rm", "corp-root", envname="stage")  # stage's copy is free
    assert_error(cg("ca", "rm", "corp-root"), 1, "trusted by 1 upstream: 'api'")  # production's is not
    assert set(ups(cg)) == {"api"}


# ---- help -------------------------------------------------------------------------------------------

def test_help(cg):
    r = cg.ok("--help")
    for cmd in ("certgate upstream add NAME URL", "certgate upstream set NAME", "certgate upstream list",
                "certgate upstream show NAME", "certgate upstream rm NAME"):
        assert cmd in r.out, (cmd, r)
    r = cg.ok("upstream", "--help")
    assert r.out.startswith("certgate upstream: named egress destinations"), r
    assert "certgate cert add" not in r.out
    r = cg.ok("upstream", "add", "--help")
    assert "--spki-sha256 B64" in r.out and "--replace" in r.out
