"""Access profiles: add / set / list / show / rm (SPEC.md section 1, "Access profile";
docs/cli.md).

A profile holds allowed and denied IP ranges (normalised; host bits and prefixes out of range
refused with the network meant) and client CAs, each optionally narrowed to some certificates of
its bundle by SHA-256 fingerprint (any case, colons or not; it must be a certificate of that
bundle). The preset names are reserved. A profile that a rule names cannot be removed, nor a CA
bundle that a profile trusts; a bundle cannot be replaced by one without a selected signer.
Every refusal stores nothing."""

import pytest

from conftest import assert_error, cert_fingerprint, cert_subject
from site_fixtures import spki  # noqa: F401

FIELDS = ["name", "allow_ips", "deny_ips", "client_cas", "rules"]


def profiles(cg):
    r = cg.ok("profile", "list", "--json")
    lst = r.json()
    assert isinstance(lst, list), r
    return {p["name"]: p for p in lst}


def show(cg, name):
    return cg.ok("profile", "show", name, "--json").json()


def colons(fp):
    return ":".join(fp[i:i + 2] for i in range(0, len(fp), 2)).upper()


@pytest.fixture
def cas(cg, pki):
    cg.ok("ca", "add", "corp", pki.ca_bundle)          # root + intermediate
    cg.ok("ca", "add", "others", pki.ca_bundle2)       # root + the other root
    cg.ok("cert", "add", "client1", pki.client, "--key", pki.client_key)
    return cg


def site_with_rule(cg, spki, profile, path="/admin/"):
    cg.ok("cert", "add", "shop-cert", spki.shop, "--key", spki.shop_key, "--kind", "server")
    cg.ok("site", "add", "shop", "--backend", "http://127.0.0.1:8080", "--domain", "www.shop.test")
    cg.ok("site", "rule", "shop", path, profile)


# ---- add, show, list --------------------------------------------------------------------------

def test_add_everything(cas, pki):
    cg = cas
    inter_fp = cert_fingerprint(pki.inter)
    r = cg.ok("profile", "add", "staff", "--allow-ip", "10.0.0.0/8", "--allow-ip", "2001:DB8::/32",
              "--allow-ip", "192.0.2.7", "--deny-ip", "10.6.6.0/24",
              "--client-ca", "corp@" + colons(inter_fp), "--client-ca", "others")
    assert "added profile 'staff': 3 allowed ranges, 1 denied, 2 client CAs" in r.out, r
    o = show(cg, "staff")
    assert list(o) == FIELDS, o
    assert o == {"name": "staff",
                 "allow_ips": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"],  # normalised, in order
                 "deny_ips": ["10.6.6.0/24"],
                 "client_cas": [{"ca": "corp", "signers": [inter_fp]}, {"ca": "others", "signers": []}],
                 "rules": []}, o
    assert profiles(cg) == {"staff": o}
    r = cg.ok("profile", "show", "staff")
    assert "10.0.0.0/8" in r.out and "signer %s (%s)" % (inter_fp, cert_subject(pki.inter)) in r.out, r
    assert "others (every certificate of the bundle)" in r.out, r
    r = cg.ok("profile", "list")
    assert r.out.splitlines()[0].split() == ["NAME", "ALLOW", "DENY", "CLIENT", "CAS", "RULES"], r
    assert "corp (selected), others" in r.out, r


def test_add_minimal_and_empty_list(cg):
    r = cg.ok("profile", "list")
    assert "no profiles in environment 'production'" in r.out, r
    assert cg.ok("profile", "list", "--json").json() == []
    cg.ok("profile", "add", "office", "--allow-ip", "203.0.113.0/24")
    assert show(cg, "office") == {"name": "office", "allow_ips": ["203.0.113.0/24"], "deny_ips": [],
                                  "client_cas": [], "rules": []}
    cg.ok("profile", "add", "nothing")  # passes nobody: no range, no CA
    assert show(cg, "nothing")["allow_ips"] == []


def test_fingerprint_forms(cas, pki):
    cg = cas
    root_fp, inter_fp = cert_fingerprint(pki.root), cert_fingerprint(pki.inter)
    cg.ok("profile", "add", "p", "--client-ca", "corp@%s,%s" % (inter_fp.upper(), colons(root_fp).lower()))
    assert show(cg, "p")["client_cas"] == [{"ca": "corp", "signers": [inter_fp, root_fp]}]


def test_rules_listed(cg, spki):
    cg.ok("profile", "add", "staff", "--allow-ip", "10.0.0.0/8")
    site_with_rule(cg, spki, "staff")
    cg.ok("site", "rule", "shop", "/ops/", "staff")
    o = show(cg, "staff")
    assert o["rules"] == [{"site": "shop", "path": "/admin/"}, {"site": "shop", "path": "/ops/"}], o
    assert profiles(cg)["staff"]["rules"] == o["rules"]
    r = cg.ok("profile", "show", "staff")
    assert "used by:      site shop, path /admin/" in r.out, r


# ---- set and rm -------------------------------------------------------------------------------

def test_set_replaces_given_lists(cas, pki):
    cg = cas
    cg.ok("profile", "add", "p", "--allow-ip", "10.0.0.0/8", "--deny-ip", "10.1.0.0/16", "--client-ca", "corp")
    r = cg.ok("profile", "set", "p", "--allow-ip", "172.16.0.0/12", "--allow-ip", "192.168.0.0/16")
    assert "changed profile 'p'" in r.out, r
    o = show(cg, "p")
    assert o["allow_ips"] == ["172.16.0.0/12", "192.168.0.0/16"]
    assert o["deny_ips"] == ["10.1.0.0/16"] and o["client_cas"] == [{"ca": "corp", "signers": []}], o
    cg.ok("profile", "set", "p", "--client-ca", "others@" + cert_fingerprint(pki.root2), "--no-deny-ip")
    o = show(cg, "p")
    assert o["client_cas"] == [{"ca": "others", "signers": [cert_fingerprint(pki.root2)]}], o
    assert o["deny_ips"] == [] and o["allow_ips"] == ["172.16.0.0/12", "192.168.0.0/16"], o
    cg.ok("profile", "set", "p", "--no-allow-ip", "--no-client-ca")
    assert show(cg, "p") == {"name": "p", "allow_ips": [], "deny_ips": [], "client_cas": [], "rules": []}
    # the CA it no longer trusts can go
    cg.ok("ca", "rm", "others")


def test_set_refusals(cas):
    cg = cas
    cg.ok("profile", "add", "p", "--allow-ip", "10.0.0.0/8")
    assert_error(cg("profile", "set", "p"), 2, "nothing to set", hint="--allow-ip")
    assert_error(cg("profile", "set", "nope", "--allow-ip", "10.0.0.0/8"), 1, "no profile named 'nope'",
                 hint="certgate profile list")
    assert_error(cg("profile", "set", "p", "--allow-ip", "10.0.0.0/8", "--no-allow-ip"), 2,
                 "--allow-ip and --no-allow-ip contradict each other")
    assert_error(cg("profile", "set", "p", "--allow-ip", "10.0.0.1/8"), 2, "host bits")
    assert_error(cg("profile", "set", "p", "--client-ca", "missing"), 1, "no CA bundle", "'missing'")
    assert show(cg, "p")["allow_ips"] == ["10.0.0.0/8"]  # untouched


def test_rm(cg, spki):
    cg.ok("profile", "add", "staff", "--allow-ip", "10.0.0.0/8")
    site_with_rule(cg, spki, "staff")
    r = cg("profile", "rm", "staff")
    assert_error(r, 1, "cannot delete profile 'staff'", "1 rule uses it: site 'shop' path '/admin/'",
                 hint="certgate site rule rm SITE PATH")
    assert "staff" in profiles(cg)
    cg.ok("site", "rule", "shop", "/admin/", "deny-all")  # repointed: no longer used
    r = cg.ok("profile", "rm", "staff")
    assert "removed profile 'staff'" in r.out, r
    assert profiles(cg) == {}
    assert_error(cg("profile", "rm", "staff"), 1, "no profile named 'staff' in environment 'production'")


def test_site_rm_frees_profile(cg, spki):
    cg.ok("profile", "add", "staff", "--allow-ip", "10.0.0.0/8")
    site_with_rule(cg, spki, "staff")
    cg.ok("site", "rm", "shop")
    cg.ok("profile", "rm", "staff")


# ---- refusals ---------------------------------------------------------------------------------

@pytest.mark.parametrize("cidr,phrases,hint", [
    ("10.0.0.1/8", ["'10.0.0.1/8' is not a valid range", "host bits"], "10.0.0.0/8"),
    ("192.0.2.130/25", ["host bits"], "192.0.2.128/25"),
    ("2001:db8::1/32", ["host bits"], "2001:db8::/32"),
    ("10.0.0.0/33", ["/33 is out of range for IPv4 (0 to 32)"], "/32"),
    ("::/129", ["/129 is out of range for IPv6"], "/128"),
    ("10.0.0/8", ["is not an IP address or range"], "10.0.0.0/8"),
    ("office.example", ["is not an IP address or range"], "host names are not allowed"),
    ("10.0.0.0/x", ["not a number"], "number of bits"),
    ("::ffff:10.0.0.0/104", ["IPv4-mapped"], "10.0.0.0/8"),
])
def test_bad_cidr(cg, cidr, phrases, hint):
    for opt in ("--allow-ip", "--deny-ip"):
        r = cg("profile", "add", "p", opt, cidr)
        assert_error(r, 2, "profile 'p': %s" % opt, *phrases, hint=hint)
    assert profiles(cg) == {}


def test_duplicate_range(cg):
    r = cg("profile", "add", "p", "--allow-ip", "10.0.0.0/8", "--allow-ip", "10.0.0.0/8")
    assert_error(r, 2, "--allow-ip 10.0.0.0/8 is given twice")
    r = cg("profile", "add", "p", "--deny-ip", "192.0.2.7", "--deny-ip", "192.0.2.7/32")
    assert_error(r, 2, "--deny-ip 192.0.2.7/32 is given twice (as '192.0.2.7/32')")
    assert profiles(cg) == {}


@pytest.mark.parametrize("name", ["allow-all", "deny-all"])
def test_reserved_names(cg, name):
    r = cg("profile", "add", name, "--allow-ip", "10.0.0.0/8")
    assert_error(r, 2, "profile name '%s' is reserved" % name, hint="certgate site rule SITE PATH %s" % name)
    assert profiles(cg) == {}


def test_bad_names(cg):
    assert_error(cg("profile", "add", "-x"), 2, "unknown option")
    assert_error(cg("profile", "add", "a b"), 2, "profile name 'a b' is not valid")
    assert_error(cg("profile", "add", "none"), 2, "profile name 'none' is not valid")


def test_fingerprint_not_in_bundle(cas, pki):
    cg = cas
    other = cert_fingerprint(pki.root2)  # a certificate of another bundle
    r = cg("profile", "add", "p", "--client-ca", "corp@" + other)
    assert_error(r, 2, "CA bundle 'corp' holds no certificate with SHA-256 %s" % other,
                 "'%s' (sha256 %s)" % (cert_subject(pki.root), cert_fingerprint(pki.root)),
                 "'%s' (sha256 %s)" % (cert_subject(pki.inter), cert_fingerprint(pki.inter)),
                 hint="certgate ca show corp")
    assert profiles(cg) == {}


@pytest.mark.parametrize("value,phrase", [
    ("corp@abcd", "'abcd' (after 'corp@') is not a SHA-256 fingerprint"),
    ("corp@" + "g" * 64, "is not a SHA-256 fingerprint"),
    ("corp@" + "a" * 66, "is not a SHA-256 fingerprint"),
    ("corp@", "names no fingerprint after '@'"),
    ("corp@,", "names no fingerprint after '@'"),
    ("@" + "a" * 64, "CA bundle name '' is not valid"),
])
def test_bad_fingerprint_syntax(cas, value, phrase):
    assert_error(cas("profile", "add", "p", "--client-ca", value), 2, phrase, hint=True)
    assert profiles(cas) == {}


def test_duplicate_ca_and_signer(cas, pki):
    fp = cert_fingerprint(pki.root)
    assert_error(cas("profile", "add", "p", "--client-ca", "corp", "--client-ca", "corp@" + fp), 2,
                 "--client-ca corp is given twice", hint="corp@FP1,FP2")
    assert_error(cas("profile", "add", "p", "--client-ca", "corp@%s,%s" % (fp, colons(fp))), 2, "selects %s twice" % fp)
    assert profiles(cas) == {}


def test_client_ca_must_be_a_bundle(cas):
    assert_error(cas("profile", "add", "p", "--client-ca", "missing"), 1,
                 "profile 'p' trusts CA 'missing', but there is no CA bundle", hint="certgate ca add missing")
    assert_error(cas("profile", "add", "p", "--client-ca", "client1"), 2, "it is a client certificate, not a CA bundle")
    # a fingerprint selection on something that is not a bundle gets the same refusal
    assert_error(cas("profile", "add", "p", "--client-ca", "client1@" + "a" * 64), 2, "not a CA bundle")
    assert profiles(cas) == {}


def test_duplicate_profile(cg):
    cg.ok("profile", "add", "p", "--allow-ip", "10.0.0.0/8")
    assert_error(cg("profile", "add", "p"), 1, "a profile named 'p' already exists", hint="certgate profile set p")
    cg.ok("profile", "add", "p", "--deny-ip", "10.0.0.0/8", "--replace")
    assert show(cg, "p")["allow_ips"] == [] and show(cg, "p")["deny_ips"] == ["10.0.0.0/8"]


# ---- the CA bundles a profile trusts ----------------------------------------------------------

def test_trusted_ca_cannot_be_removed(cas):
    cg = cas
    cg.ok("profile", "add", "p", "--client-ca", "corp")
    for cmd in (("ca", "rm", "corp"), ("cert", "rm", "corp")):
        assert_error(cg(*cmd), 1, "cannot delete certificate 'corp'", "trusted by 1 profile: 'p'",
                     hint="certgate profile set PROFILE --client-ca")
    cg.ok("profile", "rm", "p")
    cg.ok("ca", "rm", "corp")


def test_replaced_bundle_keeps_selected_signers(cas, pki):
    cg = cas
    inter_fp = cert_fingerprint(pki.inter)
    cg.ok("profile", "add", "p", "--client-ca", "corp@" + inter_fp)
    # a new bundle without the selected intermediate would leave the profile selecting nothing
    r = cg("ca", "add", "corp", pki.root, "--replace")
    assert_error(r, 1, "cannot replace ca 'corp': profile 'p' selects its certificate with SHA-256 %s" % inter_fp,
                 hint="certgate profile set p --client-ca corp@FINGERPRINT")
    assert len(cg.show("corp")["certificates"]) == 2  # kept whole
    # a bundle that still holds it is a rotation
    cg.ok("ca", "add", "corp", pki.ca_bundle, "--replace")
    cg.ok("profile", "set", "p", "--client-ca", "corp")  # every certificate of the bundle
    cg.ok("ca", "add", "corp", pki.root, "--replace")


def test_environments_are_separate(cas, pki):
    cg = cas
    cg.ok("profile", "add", "p", "--client-ca", "corp")
    assert cg.ok("profile", "list", "--json", envname="stage").json() == []
    assert_error(cg("profile", "add", "p", "--client-ca", "corp", envname="stage"), 1, "environment 'stage'")
    cg.ok("ca", "add", "corp", pki.ca_bundle, envname="stage")
    cg.ok("profile", "add", "p", "--client-ca", "corp", envname="stage")
    cg.ok("profile", "rm", "p", envname="stage")
    assert "p" in profiles(cg)
