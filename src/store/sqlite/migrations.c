/* Versioned schema migrations for the sqlite backend.
 *
 * The schema is the result of the steps below, applied in order; step i (0-based) takes the
 * store to version i + 1 and is recorded as a row of schema_version. To change the schema,
 * APPEND a step: never edit or reorder a step that has shipped, because stores in the field
 * have already applied it. A step is plain SQL with no parameters and may hold several
 * statements; it runs inside a transaction with foreign_keys=ON (SQLite ignores that pragma
 * inside a transaction), so a step that rebuilds a table must follow SQLite's "12-step"
 * procedure in a way that keeps the foreign keys valid at commit. */
#include "store/sqlite/sqlite_internal.h"

#include <time.h>

struct migration {
    const char *name; /* recorded in schema_version, for people reading the database */
    const char *sql;
};

static const struct migration steps[] = {
    /* 1 */
    {"environments, certificates and pins",
     /* One row per environment that was ever changed; revision grows by one on every change of
      * any object of the environment, in the same transaction as the change. */
     "CREATE TABLE environments ("
     "  name TEXT PRIMARY KEY,"
     "  revision INTEGER NOT NULL"
     ");"
     "CREATE TABLE certs ("
     "  id TEXT PRIMARY KEY,"                 /* 32 hex chars, the AAD of key_blob */
     "  env TEXT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  kind INTEGER NOT NULL CHECK (kind IN (0, 1, 2)),"  /* enum cg_store_cert_kind */
     "  is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),"
     "  cert_pem TEXT NOT NULL,"
     "  key_blob BLOB,"                       /* sealed private key; NULL for ca */
     "  warnings TEXT NOT NULL DEFAULT '[]'," /* JSON array of strings */
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL,"
     "  UNIQUE (env, name)"
     ");"
     /* At most one default certificate per environment, whatever the code above does. */
     "CREATE UNIQUE INDEX certs_one_default ON certs (env) WHERE is_default = 1;"
     /* cert_name NULL pins the target to "no certificate"; SQLite does not check a foreign key
      * with a NULL column, which is what that needs. RESTRICT: a pinned certificate cannot be
      * deleted (the store reports which pins hold it before the database would refuse). */
     "CREATE TABLE pins ("
     "  env TEXT NOT NULL,"
     "  target TEXT NOT NULL,"
     "  cert_name TEXT,"
     "  PRIMARY KEY (env, target),"
     "  FOREIGN KEY (env, cert_name) REFERENCES certs (env, name) ON DELETE RESTRICT"
     ");"
     "CREATE INDEX pins_by_cert ON pins (env, cert_name);"},
    /* 2 */
    {"upstreams",
     /* A named egress destination. url is validated by the writer (config/upstream.c);
      * server_name and spki_sha256 NULL mean "the URL's host" and "no SPKI pin"; a timeout of 0
      * means the daemon's default. */
     "CREATE TABLE upstreams ("
     "  env TEXT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  url TEXT NOT NULL,"
     "  server_name TEXT,"
     "  spki_sha256 TEXT,"
     "  connect_timeout_ms INTEGER NOT NULL DEFAULT 0 CHECK (connect_timeout_ms BETWEEN 0 AND 4294967295),"
     "  timeout_ms INTEGER NOT NULL DEFAULT 0 CHECK (timeout_ms BETWEEN 0 AND 4294967295),"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL,"
     "  UNIQUE (env, name)"
     ");"
     /* The CA bundles an upstream trusts alone (none: the environment's trust), in the order
      * given. RESTRICT: a CA that an upstream trusts cannot be removed (the store names the
      * upstreams before the database would refuse); CASCADE: removing or replacing the upstream
      * takes its list with it. */
     "CREATE TABLE upstream_cas ("
     "  env TEXT NOT NULL,"
     "  upstream TEXT NOT NULL,"
     "  ca_name TEXT NOT NULL,"
     "  position INTEGER NOT NULL,"
     "  PRIMARY KEY (env, upstream, position),"
     "  UNIQUE (env, upstream, ca_name),"
     "  FOREIGN KEY (env, upstream) REFERENCES upstreams (env, name) ON DELETE CASCADE,"
     "  FOREIGN KEY (env, ca_name) REFERENCES certs (env, name) ON DELETE RESTRICT"
     ");"
     "CREATE INDEX upstream_cas_by_ca ON upstream_cas (env, ca_name);"},
    /* 3 */
    {"sites, access profiles, path rules and CRLs",
     /* The CRLs of a ca bundle's issuers, PEM; NULL when none. */
     "ALTER TABLE certs ADD COLUMN crl_pem TEXT;"
     /* An ingress application. backend is validated by the writer (config/site.c); mtls is
      * enum cg_store_mtls. */
     "CREATE TABLE sites ("
     "  env TEXT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  backend TEXT NOT NULL,"
     "  mtls INTEGER NOT NULL DEFAULT 0 CHECK (mtls IN (0, 1, 2)),"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL,"
     "  UNIQUE (env, name)"
     ");"
     /* Every host certgate answers on, the domains and the mTLS domain of every site alike: the
      * primary key makes a host belong to one site of the environment. cert_name NULL: the
      * server certificate is chosen by its SANs. RESTRICT: a certificate a site presents cannot
      * be removed; CASCADE: the domains go with their site. */
     "CREATE TABLE site_domains ("
     "  env TEXT NOT NULL,"
     "  host TEXT NOT NULL,"
     "  site TEXT NOT NULL,"
     "  cert_name TEXT,"
     "  is_mtls INTEGER NOT NULL DEFAULT 0 CHECK (is_mtls IN (0, 1)),"
     "  PRIMARY KEY (env, host),"
     "  FOREIGN KEY (env, site) REFERENCES sites (env, name) ON DELETE CASCADE,"
     "  FOREIGN KEY (env, cert_name) REFERENCES certs (env, name) ON DELETE RESTRICT"
     ");"
     "CREATE INDEX site_domains_by_site ON site_domains (env, site);"
     "CREATE INDEX site_domains_by_cert ON site_domains (env, cert_name);"
     "CREATE UNIQUE INDEX site_domains_one_mtls ON site_domains (env, site) WHERE is_mtls = 1;"
     /* The client CAs of a site, in the order given. */
     "CREATE TABLE site_cas ("
     "  env TEXT NOT NULL,"
     "  site TEXT NOT NULL,"
     "  ca_name TEXT NOT NULL,"
     "  position INTEGER NOT NULL,"
     "  PRIMARY KEY (env, site, position),"
     "  UNIQUE (env, site, ca_name),"
     "  FOREIGN KEY (env, site) REFERENCES sites (env, name) ON DELETE CASCADE,"
     "  FOREIGN KEY (env, ca_name) REFERENCES certs (env, name) ON DELETE RESTRICT"
     ");"
     "CREATE INDEX site_cas_by_ca ON site_cas (env, ca_name);"
     "CREATE TABLE profiles ("
     "  env TEXT NOT NULL,"
     "  name TEXT NOT NULL CHECK (name NOT IN ('allow-all', 'deny-all')),"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL,"
     "  UNIQUE (env, name)"
     ");"
     /* Allowed (deny = 0) and denied (deny = 1) ranges, CIDR text normalised by the writer. */
     "CREATE TABLE profile_ips ("
     "  env TEXT NOT NULL,"
     "  profile TEXT NOT NULL,"
     "  deny INTEGER NOT NULL CHECK (deny IN (0, 1)),"
     "  cidr TEXT NOT NULL,"
     "  position INTEGER NOT NULL,"
     "  PRIMARY KEY (env, profile, deny, position),"
     "  UNIQUE (env, profile, deny, cidr),"
     "  FOREIGN KEY (env, profile) REFERENCES profiles (env, name) ON DELETE CASCADE"
     ");"
     "CREATE TABLE profile_cas ("
     "  env TEXT NOT NULL,"
     "  profile TEXT NOT NULL,"
     "  ca_name TEXT NOT NULL,"
     "  position INTEGER NOT NULL,"
     "  PRIMARY KEY (env, profile, position),"
     "  UNIQUE (env, profile, ca_name),"
     "  FOREIGN KEY (env, profile) REFERENCES profiles (env, name) ON DELETE CASCADE,"
     "  FOREIGN KEY (env, ca_name) REFERENCES certs (env, name) ON DELETE RESTRICT"
     ");"
     "CREATE INDEX profile_cas_by_ca ON profile_cas (env, ca_name);"
     /* The certificates of a profile CA's bundle accepted as signers (none: all of them). */
     "CREATE TABLE profile_ca_signers ("
     "  env TEXT NOT NULL,"
     "  profile TEXT NOT NULL,"
     "  ca_name TEXT NOT NULL,"
     "  fingerprint TEXT NOT NULL CHECK (length(fingerprint) = 64),"
     "  position INTEGER NOT NULL,"
     "  PRIMARY KEY (env, profile, ca_name, position),"
     "  UNIQUE (env, profile, ca_name, fingerprint),"
     "  FOREIGN KEY (env, profile, ca_name) REFERENCES profile_cas (env, profile, ca_name) ON DELETE CASCADE"
     ");"
     /* site + path prefix -> a profile, or a preset (exactly one of the two). RESTRICT: a profile
      * that a rule names cannot be removed; CASCADE: a site's rules go with it. */
     "CREATE TABLE rules ("
     "  env TEXT NOT NULL,"
     "  site TEXT NOT NULL,"
     "  path TEXT NOT NULL,"
     "  profile TEXT,"
     "  preset TEXT CHECK (preset IN ('allow-all', 'deny-all')),"
     "  PRIMARY KEY (env, site, path),"
     "  CHECK ((profile IS NULL) <> (preset IS NULL)),"
     "  FOREIGN KEY (env, site) REFERENCES sites (env, name) ON DELETE CASCADE,"
     "  FOREIGN KEY (env, profile) REFERENCES profiles (env, name) ON DELETE RESTRICT"
     ");"
     "CREATE INDEX rules_by_profile ON rules (env, profile);"},
    /* 4 */
    {"admin API tokens and the audit trail",
     /* Only the SHA-256 of a token's secret is kept; UNIQUE makes a lookup by it one indexed read
      * (and two tokens can never answer to one secret). No CHECK on role: the writer knows the
      * roles, and a new one must not need a table rebuild. Times are unix seconds, 0 = never. */
     "CREATE TABLE tokens ("
     "  env TEXT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  role TEXT NOT NULL,"
     "  hash TEXT NOT NULL UNIQUE CHECK (length(hash) = 64),"
     "  created_at INTEGER NOT NULL,"
     "  expires_at INTEGER NOT NULL DEFAULT 0,"
     "  last_used_at INTEGER NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (env, name)"
     ");"
     /* Append-only. AUTOINCREMENT: an id is never reused, even after the newest rows were
      * deleted by hand, so that "before id N" pages stay stable. before/after are JSON texts
      * ("null" when the object did not exist / was deleted). */
     "CREATE TABLE audit ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  env TEXT NOT NULL,"
     "  at_ms INTEGER NOT NULL,"
     "  actor TEXT NOT NULL,"
     "  action TEXT NOT NULL,"
     "  object TEXT NOT NULL,"
     "  before_json TEXT NOT NULL DEFAULT 'null',"
     "  after_json TEXT NOT NULL DEFAULT 'null'"
     ");"
     "CREATE INDEX audit_by_env ON audit (env, id);"},
    /* 5 */
    {"webhooks, events, deliveries and their attempts",
     /* An outgoing notification endpoint (SPEC.md section 1). url is validated by the writer;
      * trust is enum cg_store_webhook_trust (1, ca-only, needs a ca); secret_blob is the HMAC
      * secret sealed with the master key and id as associated data (NULL: unsigned); problem is
      * the dispatcher's flag (the last failure no retry can fix). RESTRICT: a certificate a
      * webhook presents or trusts cannot be removed. */
     "CREATE TABLE webhooks ("
     "  env TEXT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  id TEXT NOT NULL CHECK (length(id) = 32),"
     "  url TEXT NOT NULL,"
     "  client_cert TEXT NOT NULL,"
     "  ca TEXT,"
     "  trust INTEGER NOT NULL DEFAULT 0 CHECK (trust IN (0, 1) AND (trust = 0 OR ca IS NOT NULL)),"
     "  secret_blob BLOB,"
     "  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),"
     "  problem TEXT,"
     "  problem_at INTEGER NOT NULL DEFAULT 0,"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL,"
     "  UNIQUE (env, name),"
     "  FOREIGN KEY (env, client_cert) REFERENCES certs (env, name) ON DELETE RESTRICT,"
     "  FOREIGN KEY (env, ca) REFERENCES certs (env, name) ON DELETE RESTRICT"
     ");"
     "CREATE INDEX webhooks_by_client_cert ON webhooks (env, client_cert);"
     "CREATE INDEX webhooks_by_ca ON webhooks (env, ca);"
     /* The event types a webhook receives, in the order given; none: every type. */
     "CREATE TABLE webhook_events ("
     "  env TEXT NOT NULL,"
     "  webhook TEXT NOT NULL,"
     "  type TEXT NOT NULL,"
     "  position INTEGER NOT NULL,"
     "  PRIMARY KEY (env, webhook, position),"
     "  UNIQUE (env, webhook, type),"
     "  FOREIGN KEY (env, webhook) REFERENCES webhooks (env, name) ON DELETE CASCADE"
     ");"
     /* Traffic, not configuration: nothing below bumps the revision. An event's id is chosen by
      * its writer ("evt_" and 32 hex), unique in its environment; data is a JSON object. */
     "CREATE TABLE events ("
     "  env TEXT NOT NULL,"
     "  id TEXT NOT NULL,"
     "  type TEXT NOT NULL,"
     "  data_json TEXT NOT NULL,"
     "  created_at_ms INTEGER NOT NULL,"
     "  PRIMARY KEY (env, id)"
     ");"
     /* One POST of one event to one webhook. status is enum cg_store_delivery_status; a pending
      * delivery is due at next_at_ms and claimed by a dispatcher until lease_until_ms (0: not
      * claimed). webhook is a name, not a foreign key: deleting a webhook removes its pending
      * deliveries, and its finished ones stay for the record. AUTOINCREMENT: an id is never
      * reused, so that a delivery id shown to an operator always means the same delivery. */
     "CREATE TABLE deliveries ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  env TEXT NOT NULL,"
     "  event_id TEXT NOT NULL,"
     "  webhook TEXT NOT NULL,"
     "  status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),"
     "  attempts INTEGER NOT NULL DEFAULT 0,"
     "  next_at_ms INTEGER NOT NULL,"
     "  lease_until_ms INTEGER NOT NULL DEFAULT 0,"
     "  created_at_ms INTEGER NOT NULL,"
     "  updated_at_ms INTEGER NOT NULL,"
     "  UNIQUE (env, event_id, webhook),"
     "  FOREIGN KEY (env, event_id) REFERENCES events (env, id) ON DELETE CASCADE"
     ");"
     /* claim: the due pending deliveries, oldest first; and the leases held, per webhook */
     "CREATE INDEX deliveries_due ON deliveries (env, webhook, status, next_at_ms, id);"
     "CREATE INDEX deliveries_leased ON deliveries (env, webhook) WHERE status = 0 AND lease_until_ms > 0;"
     /* listings: one webhook's deliveries, newest first (of one status, or of any); the
      * counts of its pending and failed ones */
     "CREATE INDEX deliveries_by_webhook ON deliveries (env, webhook, id);"
     "CREATE INDEX deliveries_by_webhook_status ON deliveries (env, webhook, status, id);"
     /* Every attempt of a delivery, numbered from 1 in the order made (a replay goes on counting
      * here; the delivery's attempts column starts again from 0). */
     "CREATE TABLE attempts ("
     "  delivery_id INTEGER NOT NULL,"
     "  n INTEGER NOT NULL,"
     "  at_ms INTEGER NOT NULL,"
     "  status_code INTEGER NOT NULL DEFAULT 0,"
     "  error TEXT,"
     "  latency_ms INTEGER NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (delivery_id, n),"
     "  FOREIGN KEY (delivery_id) REFERENCES deliveries (id) ON DELETE CASCADE"
     ");"},
};

int cg_store_sqlite_schema_latest(void) { return (int)CG_ARRAY_LEN(steps); }

/* The version recorded in db; 0 for a database that has no schema_version table (new). */
static int version_read(sqlite3 *db, const char *url, int *out, struct cg_err *err)
{
    *out = 0;
    CG_STMT st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
                           -1, &st, NULL) != SQLITE_OK)
        return cg_store_sqlite_fail(db, url, err);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return cg_store_sqlite_fail(db, url, err);

    CG_STMT v = NULL;
    if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &v, NULL) !=
        SQLITE_OK)
        return cg_store_sqlite_fail(db, url, err);
    if (sqlite3_step(v) != SQLITE_ROW) return cg_store_sqlite_fail(db, url, err);
    sqlite3_int64 n = sqlite3_column_int64(v, 0);
    *out = n > 1000000 ? 1000000 : (int)n;
    return 0;
}

static int refuse_newer(const char *url, int found, struct cg_err *err)
{
    cg_err_set(err, CG_ESTORE,
               "store '%s' has schema version %d, newer than this certgate knows (up to %d): "
               "it was written by a newer certgate",
               url, found, cg_store_sqlite_schema_latest());
    return cg_err_hint_code(err, CG_ESTORE, "upgrade certgate to the version that last wrote this store (the store "
                            "was left unchanged)");
}

static int exec(sqlite3 *db, const char *url, const char *sql, struct cg_err *err)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) return cg_store_sqlite_fail(db, url, err);
    return 0;
}

static int step_record(sqlite3 *db, const char *url, int i, struct cg_err *err)
{
    CG_STMT st = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)", -1,
                           &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int(st, 1, i + 1) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, steps[i].name, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL)) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        return cg_store_sqlite_fail(db, url, err);
    return 0;
}

/* Applies steps[i] in one transaction, unless another process applied it meanwhile. */
static int step_apply(sqlite3 *db, const char *url, int i, struct cg_err *err)
{
    bool newer = false;
    int now = 0;
    int rc = exec(db, url, "BEGIN IMMEDIATE", err);
    if (rc == 0)
        rc = exec(db, url,
                  "CREATE TABLE IF NOT EXISTS schema_version ("
                  "  version INTEGER PRIMARY KEY,"
                  "  name TEXT NOT NULL,"
                  "  applied_at INTEGER NOT NULL"
                  ")",
                  err);
    if (rc == 0) rc = version_read(db, url, &now, err);
    if (rc == 0 && now > cg_store_sqlite_schema_latest()) {
        newer = true;
        rc = refuse_newer(url, now, err);
    }
    if (rc == 0 && now <= i) {
        rc = exec(db, url, steps[i].sql, err);
        if (rc == 0) rc = step_record(db, url, i, err);
    }
    if (rc == 0) rc = exec(db, url, "COMMIT", err);
    if (rc < 0) {
        if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        if (!newer)
            cg_err_prefix(err, "cannot upgrade the schema to version %d (%s)", i + 1,
                          steps[i].name);
    }
    return rc;
}

/* True when db holds tables of its own: a database of something else, not a new file. */
static int has_tables(sqlite3 *db, const char *url, bool *out, struct cg_err *err)
{
    CG_STMT st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1", -1, &st, NULL) !=
        SQLITE_OK)
        return cg_store_sqlite_fail(db, url, err);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return cg_store_sqlite_fail(db, url, err);
    *out = rc == SQLITE_ROW;
    return 0;
}

int cg_store_sqlite_migrate(sqlite3 *db, const char *url, bool create, struct cg_err *err)
{
    int current = 0;
    CG_GUARD(version_read(db, url, &current, err));
    if (current > cg_store_sqlite_schema_latest()) return refuse_newer(url, current, err);
    if (current == 0) {
        bool other = false;
        CG_GUARD(has_tables(db, url, &other, err));
        if (other) {
            cg_err_set(err, CG_ESTORE, "'%s' is a SQLite database of another program, not a certgate store", url);
            return cg_err_hint_code(err, CG_ESTORE, "point --store at a certgate store, or at a new file for 'certgate init'");
        }
        if (!create) {
            cg_err_set(err, CG_ENOSTORE, "store '%s' was never initialised (the file is empty)", url);
            return cg_err_hint_code(err, CG_ENOSTORE, "run 'certgate init' first (or check --store / CERTGATE_STORE)");
        }
    }
    for (int i = current; i < cg_store_sqlite_schema_latest(); i++) CG_GUARD(step_apply(db, url, i, err));
    return 0;
}
