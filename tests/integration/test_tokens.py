"""Admin API tokens: token add / list / show / rm (docs/cli.md, "token"). A token is printed once
as cg_ + 64 lowercase hex; the store keeps only the SHA-256 of that string, and nothing prints
the token or its hash again. Roles and expiry days are validated; unknown names fail clearly."""

import datetime as dt
import hashlib
import re
import sqlite3
import time

import pytest

from conftest import assert_error

TOKEN_RE = re.compile(r"^cg_[0-9a-f]{64}$")
RFC3339_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def tokens(cg, envname=None):
    r = cg.ok("token", "list", "--json", envname=envname)
    lst = r.json()
    assert isinstance(lst, list), r
    return lst


def add(cg, name, role, *extra, envname=None):
    """token add; returns the token (checked: alone on stdout, in its shape)."""
    r = cg.ok("token", "add", name, "--role", role, *extra, envname=envname)
    assert TOKEN_RE.match(r.out.strip()), r
    assert r.out.count("\n") == 1, r  # the token alone, on a line of its own
    return r.out.strip()


def stored_rows(cg):
    db = sqlite3.connect(str(cg.db))
    try:
        return db.execute("SELECT env, name, role, hash FROM tokens ORDER BY name").fetchall()
    finally:
        db.close()


def rfc3339(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def test_add_prints_the_token_once_and_stores_only_its_hash(cg):
    r = cg.ok("token", "add", "ci", "--role", "operator")
    token = r.out.strip()
    assert TOKEN_RE.match(token) and r.out == token + "\n", r
    assert "only this once" in r.err and "ci" in r.err and "never expires" in r.err, r
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert stored_rows(cg) == [("production", "ci", "operator", digest)]

    # nothing shows the token or its hash again: list, show, the audit trail
    outputs = [cg.ok("token", "list"), cg.ok("token", "list", "--json"), cg.ok("token", "show", "ci"),
               cg.ok("token", "show", "ci", "--json"), cg.ok("audit"), cg.ok("audit", "--json")]
    for o in outputs:
        assert token not in o.out and token[3:] not in o.out and digest not in o.out, o
        assert token not in o.err and digest not in o.err, o
    # nor does the database file
    for f in cg.dir.iterdir():
        if f.name.startswith("s.db"):
            data = f.read_bytes()
            assert token.encode() not in data and token[3:].encode() not in data, f

    # each token is new
    other = add(cg, "ci2", "viewer")
    assert other != token


def test_add_json(cg):
    r = cg.ok("token", "add", "deploy", "--role", "admin", "--json")
    o = r.json()
    assert list(o) == ["name", "role", "token", "expires_at"], o
    assert o["name"] == "deploy" and o["role"] == "admin" and o["expires_at"] is None, o
    assert TOKEN_RE.match(o["token"]), o
    assert stored_rows(cg)[0][3] == hashlib.sha256(o["token"].encode()).hexdigest()

    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    o = cg.ok("token", "add", "short", "--role", "viewer", "--expires", "30", "--json").json()
    after = dt.datetime.now(dt.timezone.utc)
    assert RFC3339_RE.match(o["expires_at"]), o
    exp = rfc3339(o["expires_at"])
    assert before + dt.timedelta(days=30) <= exp <= after + dt.timedelta(days=30), o


def test_list_and_show(cg):
    assert tokens(cg) == []
    r = cg.ok("token", "list")
    assert "no tokens in environment 'production'" in r.out and "token add" in r.out, r
    add(cg, "zeta", "viewer", "--expires", "1")
    add(cg, "alpha", "admin")
    lst = tokens(cg)
    assert [t["name"] for t in lst] == ["alpha", "zeta"], lst
    for t in lst:
        assert list(t) == ["name", "role", "created_at", "expires_at", "last_used_at", "expired"], t
        assert RFC3339_RE.match(t["created_at"]) and t["last_used_at"] is None and t["expired"] is False, t
    assert lst[0]["role"] == "admin" and lst[0]["expires_at"] is None
    assert lst[1]["role"] == "viewer" and RFC3339_RE.match(lst[1]["expires_at"])
    assert cg.ok("token", "show", "zeta", "--json").json() == lst[1]

    r = cg.ok("token", "list")
    head = r.out.splitlines()[0].split()
    assert head == ["NAME", "ROLE", "CREATED", "EXPIRES", "LAST", "USED"], r
    assert re.search(r"^alpha\s+admin\s+\S+Z\s+never\s+never$", r.out, re.M), r
    r = cg.ok("token", "show", "alpha")
    assert "role:       admin" in r.out and "expires:    never" in r.out and "last used:  never" in r.out, r

    r = cg("token", "show", "nope")
    assert_error(r, 1, "no token named 'nope' in environment 'production'", hint="certgate token list")


def test_expired_token_is_flagged(cg):
    # made "two days ago" with one day of validity: it expired yesterday
    then = int(time.time()) - 2 * 86400
    add(cg, "old", "operator", "--expires", "1")
    cg.ok("token", "add", "past", "--role", "operator", "--expires", "1", env={"CERTGATE_NOW": str(then)})
    by = {t["name"]: t for t in tokens(cg)}
    assert by["past"]["expired"] is True and by["old"]["expired"] is False, by
    assert rfc3339(by["past"]["expires_at"]).timestamp() == then + 86400
    r = cg.ok("token", "list")
    assert re.search(r"^past\s.*\(expired\)", r.out, re.M), r
    assert not re.search(r"^old\s.*\(expired\)", r.out, re.M), r
    r = cg.ok("token", "show", "past")
    assert "expired: the admin API refuses it" in r.out, r


@pytest.mark.parametrize("role", ["root", "Viewers", "", "admin,viewer"])
def test_unknown_role_refused(cg, role):
    r = cg("token", "add", "ci", "--role", role)
    assert_error(r, 2, "token 'ci': unknown role '%s'" % role, hint="viewer")
    assert "operator" in r.err and "admin" in r.err, r
    assert r.out == "", r
    assert tokens(cg) == []


def test_missing_role_refused(cg):
    r = cg("token", "add", "ci")
    assert_error(r, 2, "token 'ci': no role given", hint="--role viewer")
    assert r.out == "" and tokens(cg) == [], r


def test_role_ignores_case(cg):
    add(cg, "ci", "OPERATOR")
    assert tokens(cg)[0]["role"] == "operator"


@pytest.mark.parametrize("days", ["0", "3651", "-1", "abc", "1.5", "", "99999999999999999999999"])
def test_expiry_days_validated(cg, days):
    r = cg("token", "add", "ci", "--role", "admin", "--expires", days)
    assert_error(r, 2, "token 'ci': --expires '%s' is not a number of days from 1 to 3650" % days,
                 hint="--expires 90")
    assert r.out == "" and tokens(cg) == [], r


def test_expiry_bounds_accepted(cg):
    now = dt.datetime.now(dt.timezone.utc)
    for name, days in (("one", 1), ("max", 3650)):
        o = cg.ok("token", "add", name, "--role", "viewer", "--expires", str(days), "--json").json()
        delta = rfc3339(o["expires_at"]) - now
        assert abs(delta.total_seconds() - days * 86400) < 120, o


def test_names_and_duplicates(cg):
    token = add(cg, "ci", "viewer")
    r = cg("token", "add", "ci", "--role", "admin")
    assert_error(r, 1, "a token named 'ci' already exists in environment 'production'", hint="certgate token rm ci")
    assert r.out == "", r
    # the refused add changed nothing
    assert stored_rows(cg) == [("production", "ci", "viewer", hashlib.sha256(token.encode()).hexdigest())]
    for bad in ("bad name", "_x", "none", "a/b", "x" * 129):
        r = cg("token", "add", bad, "--role", "admin")
        assert r.rc == 2 and "token name" in r.err, r
    assert len(tokens(cg)) == 1


def test_rm(cg):
    add(cg, "ci", "operator")
    add(cg, "keep", "viewer")
    r = cg.ok("token", "rm", "ci")
    assert "removed token 'ci'" in r.out, r
    assert [t["name"] for t in tokens(cg)] == ["keep"]
    assert [row[1] for row in stored_rows(cg)] == ["keep"]
    r = cg("token", "rm", "ci")
    assert_error(r, 1, "no token named 'ci' in environment 'production'", hint="certgate token list --env production")
    r = cg("token", "rm", "nope")
    assert_error(r, 1, "no token named 'nope'", hint=True)
    assert [t["name"] for t in tokens(cg)] == ["keep"]


def test_environments_are_separate(cg):
    add(cg, "ci", "admin", envname="staging")
    assert tokens(cg) == []
    assert [t["name"] for t in tokens(cg, envname="staging")] == ["ci"]
    add(cg, "ci", "viewer")  # the same name in another environment is another token
    assert_error(cg("token", "rm", "ci", envname="nowhere"), 1, "no token named 'ci' in environment 'nowhere'")
    assert [t["role"] for t in tokens(cg, envname="staging")] == ["admin"]


def test_tokens_do_not_bump_the_revision(cg):
    """Tokens are not gateway configuration: a running daemon has nothing to reload."""
    def revision():
        db = sqlite3.connect(str(cg.db))
        try:
            row = db.execute("SELECT revision FROM environments WHERE name = 'production'").fetchone()
            return row[0] if row else 0
        finally:
            db.close()
    r0 = revision()
    add(cg, "ci", "admin")
    cg.ok("token", "rm", "ci")
    assert revision() == r0


def test_help_lists_the_commands(cg):
    r = cg.ok("token", "--help")
    for c in ("token add NAME --role viewer|operator|admin|events [--expires DAYS]", "token list",
              "token show NAME", "token rm NAME"):
        assert c in r.out, r
