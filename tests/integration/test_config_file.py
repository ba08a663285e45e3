"""The bootstrap file (-c FILE, --config, CERTGATE_CONFIG) with environment / store /
master_key; CERTGATE_STORE, CERTGATE_ENV, CERTGATE_MASTER_KEY; precedence flags > environment
variables > file. Unknown keys are refused with the file name and line."""

import os
import stat

from conftest import assert_error, assert_leaf, run_raw


def write_config(tmp_path, text, name="certgate.yaml"):
    f = tmp_path / name
    f.write_text(text)
    return f


def test_config_file_names_env_store_and_key(tmp_path, pki):
    db = tmp_path / "data" / "cg.db"
    key = tmp_path / "secrets" / "master.key"
    (tmp_path / "data").mkdir()
    cfg = write_config(tmp_path, "environment: stage\nstore: sqlite:%s\nmaster_key: %s\n" % (db, key))
    r = run_raw("-c", cfg, "init")
    assert r.rc == 0, r
    assert "environment: stage" in r.out
    assert db.exists() and key.exists()
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert not (tmp_path / "data" / "master.key").exists()
    r = run_raw("--config", cfg, "cert", "add", "c1", pki.client, "--key", pki.client_key)
    assert r.rc == 0, r
    r = run_raw("--config=%s" % cfg, "cert", "list", "--json")
    assert [c["name"] for c in r.json()] == ["c1"]
    # it went to stage: production of the same store is empty
    r = run_raw("--store", "sqlite:%s" % db, "--master-key", key, "--env", "production", "cert", "list", "--json")
    assert r.rc == 0 and r.json() == [], r
    # the flag beats the file
    r = run_raw("-c", cfg, "--env", "production", "cert", "list", "--json")
    assert r.rc == 0 and r.json() == [], r
    # CERTGATE_CONFIG names the file
    r = run_raw("cert", "list", "--json", env={"CERTGATE_CONFIG": str(cfg)})
    assert r.rc == 0 and [c["name"] for c in r.json()] == ["c1"], r
    # the environment variable beats the file
    r = run_raw("-c", cfg, "cert", "list", "--json", env={"CERTGATE_ENV": "production"})
    assert r.rc == 0 and r.json() == [], r


def test_environment_variables(tmp_path, pki):
    db = tmp_path / "v.db"
    env = {"CERTGATE_STORE": "sqlite:%s" % db, "CERTGATE_ENV": "preprod"}
    r = run_raw("init", env=env)
    assert r.rc == 0, r
    assert "environment: preprod" in r.out
    assert (tmp_path / "master.key").exists()
    r = run_raw("cert", "add", "c1", pki.client, "--key", pki.client_key, env=env)
    assert r.rc == 0, r
    r = run_raw("cert", "list", "--json", env=env)
    assert [c["name"] for c in r.json()] == ["c1"]
    r = run_raw("--store", "sqlite:%s" % db, "--env", "preprod", "cert", "list", "--json")
    assert [c["name"] for c in r.json()] == ["c1"]
    # CERTGATE_MASTER_KEY
    key2 = tmp_path / "k2" / "m.key"
    db2 = tmp_path / "w.db"
    env2 = {"CERTGATE_STORE": "sqlite:%s" % db2, "CERTGATE_MASTER_KEY": str(key2)}
    assert run_raw("init", env=env2).rc == 0
    assert key2.exists()
    r = run_raw("cert", "add", "c1", pki.client, "--key", pki.client_key, env=env2)
    assert r.rc == 0, r


def test_unknown_key_names_file_and_line(tmp_path):
    cfg = write_config(tmp_path, "environment: stage\nstore: sqlite:%s/x.db\nstorr: oops\n" % tmp_path)
    r = run_raw("-c", cfg, "cert", "list")
    assert_error(r, 2, "%s:3:" % cfg, "unknown key 'storr'", hint=True)
    assert not (tmp_path / "x.db").exists()


def test_unknown_nested_key(tmp_path):
    cfg = write_config(tmp_path, "environment: stage\nlisten:\n  egres: 127.0.0.1:8080\n")
    r = run_raw("-c", cfg, "init")
    assert_error(r, 2, "%s:3:" % cfg, "unknown key 'egres'")


def test_bad_environment_in_file(tmp_path):
    cfg = write_config(tmp_path, "environment: Prod Env\nstore: sqlite:%s/x.db\n" % tmp_path)
    r = run_raw("-c", cfg, "init")
    assert_error(r, 2, "%s:1:" % cfg, "not a valid environment name")


def test_yaml_syntax_error(tmp_path):
    cfg = write_config(tmp_path, 'environment: "stage\nstore: x\n')
    r = run_raw("-c", cfg, "init")
    assert_error(r, 1, str(cfg), "YAML syntax error", hint=True)


def test_list_where_a_value_belongs(tmp_path):
    cfg = write_config(tmp_path, "environment: [stage]\n")
    r = run_raw("-c", cfg, "init")
    assert_error(r, 2, "%s:1:" % cfg, "'environment' must be a single value", hint=True)


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    r = run_raw("-c", missing, "cert", "list")
    assert_error(r, 1, name=missing)


def test_config_with_only_store_defaults_to_production(tmp_path, pki):
    db = tmp_path / "p.db"
    cfg = write_config(tmp_path, "store: sqlite:%s\n" % db)
    assert run_raw("-c", cfg, "init").rc == 0
    assert run_raw("-c", cfg, "cert", "add", "c1", pki.client, "--key", pki.client_key).rc == 0
    r = run_raw("--store", "sqlite:%s" % db, "--env", "production", "cert", "list", "--json")
    assert [c["name"] for c in r.json()] == ["c1"]
