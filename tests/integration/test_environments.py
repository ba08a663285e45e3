"""Environments are isolated: the same names on both sides never collide; certificates, pins
and the default belong to one environment. The environment comes from --env, CERTGATE_ENV or
the config file (flags first)."""

import pytest

from conftest import assert_error, assert_leaf, run_raw


def test_same_names_both_sides(cg, pki):
    cg.ok("cert", "add", "partner", pki.client, "--key", pki.client_key, "--default", envname="stage")
    cg.ok("cert", "add", "partner", pki.client2, "--key", pki.client2_key, envname="production")
    stage = cg.certs("stage")
    prod = cg.certs("production")
    assert list(stage) == ["partner"] and list(prod) == ["partner"]
    assert stage["partner"]["fingerprint_sha256"] == pki.fingerprint(pki.client)
    assert prod["partner"]["fingerprint_sha256"] == pki.fingerprint(pki.client2)
    assert stage["partner"]["default"] is True and prod["partner"]["default"] is False
    assert cg.certs("preprod") == {}


def test_pins_and_default_are_per_environment(cg, pki):
    for env, crt, key in (("stage", pki.client, pki.client_key), ("production", pki.client2, pki.client2_key)):
        cg.ok("cert", "add", "c", crt, "--key", key, envname=env)
    cg.ok("pin", "set", "api.partner.example", "c", envname="stage")
    cg.ok("pin", "set", "api.partner.example", "none", envname="production")
    assert cg.pins("stage") == {"api.partner.example": "c"}
    assert cg.pins("production") == {"api.partner.example": None}
    res = cg.resolve("api.partner.example", envname="stage")
    assert res["fingerprint_sha256"] == pki.fingerprint(pki.client), res
    res = cg.resolve("api.partner.example", envname="production")
    assert res["cert"] is None and res["matched"] == "host", res
    # default in stage only
    cg.ok("cert", "set", "c", "--default", envname="stage")
    assert cg.resolve("other.example", envname="stage")["matched"] == "default"
    assert cg.resolve("other.example", envname="production")["matched"] == "none"
    # pinned in stage; rm in production is not affected by stage's pin
    cg.ok("pin", "rm", "api.partner.example", envname="production")
    cg.ok("cert", "rm", "c", envname="production")
    assert cg.certs("production") == {}
    r = cg("cert", "rm", "c", envname="stage")
    assert_error(r, 1, "pinned by 1 target")


def test_pin_cannot_name_a_certificate_of_another_environment(cg, pki):
    cg.ok("cert", "add", "only-stage", pki.client, "--key", pki.client_key, envname="stage")
    r = cg("pin", "set", "api.example.com", "only-stage", envname="production")
    assert_error(r, 1, "no certificate named 'only-stage' in environment 'production'")


def test_rm_and_replace_stay_in_their_environment(cg, pki):
    cg.ok("cert", "add", "c", pki.client, "--key", pki.client_key, envname="stage")
    cg.ok("cert", "add", "c", pki.client, "--key", pki.client_key, envname="production")
    cg.ok("cert", "add", "c", pki.client2, "--key", pki.client2_key, "--replace", envname="production")
    assert cg.certs("stage")["c"]["fingerprint_sha256"] == pki.fingerprint(pki.client)
    cg.ok("cert", "rm", "c", envname="stage")
    assert cg.certs("stage") == {}
    assert cg.certs("production")["c"]["fingerprint_sha256"] == pki.fingerprint(pki.client2)


def test_certgate_env_variable(cg, pki):
    r = run_raw("--store", cg.store_url, "cert", "add", "c", pki.client, "--key", pki.client_key,
                env={"CERTGATE_ENV": "preprod"})
    assert r.rc == 0, r
    assert "c" in cg.certs("preprod") and cg.certs("production") == {}
    # the flag beats the variable
    r = run_raw("--store", cg.store_url, "--env", "production", "cert", "list", "--json",
                env={"CERTGATE_ENV": "preprod"})
    assert r.json() == []


def test_default_environment_is_production(cg, pki):
    r = run_raw("--store", cg.store_url, "cert", "add", "c", pki.client, "--key", pki.client_key)
    assert r.rc == 0, r
    assert_leaf(cg, "c", pki.client)


def test_empty_env_flag_is_misuse(cg, pki):
    # `certgate --env "$ENV" ...` with ENV unset must not act on production: exit 2
    r = run_raw("--store", cg.store_url, "--env", "", "cert", "add", "c1", pki.client, "--key", pki.client_key)
    assert r.rc == 2, r
    assert cg.certs() == {}


def test_empty_env_variable_or_store_is_misuse(cg, pki):
    # CERTGATE_ENV="$ENV" with ENV unset must not fall back to production either
    r = run_raw("--store", cg.store_url, "cert", "add", "c1", pki.client, "--key", pki.client_key,
                env={"CERTGATE_ENV": ""})
    assert r.rc == 2, r
    assert "CERTGATE_ENV" in r.err and "empty" in r.err, r
    r = run_raw("--store", "", "cert", "list")
    assert r.rc == 2, r
    assert "--store is empty" in r.err, r
    assert cg.certs() == {}
