/* The store: one interface, a const ops table per backend (sqlite: now, postgres: later).
 * Nothing above this header knows which backend runs.
 *
 * Every object belongs to an environment (the `env` argument); the same names in two
 * environments never collide. Every change bumps the environment's revision, so that a daemon
 * notices changes by polling cg_store_revision (cheap: one indexed read).
 *
 * Errors: CG_ENOSTORE (URL names a store that was never created: hint "certgate init"),
 * CG_ENOTFOUND, CG_EEXISTS, CG_EINUSE (a certificate still referenced by pins), CG_ESTORE
 * (anything the backend reports, with its message). All set a message in err. */
#ifndef CG_STORE_STORE_H
#define CG_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct cg_store;

enum cg_store_cert_kind { CG_STORE_CLIENT = 0, CG_STORE_SERVER = 1, CG_STORE_CA = 2 };

/* One row of the certificate table. Strings are owned by the record. */
struct cg_store_cert {
    char id[33];           /* 32 lowercase hex chars, random; the AAD of key_blob */
    char *name;
    int kind;              /* enum cg_store_cert_kind */
    bool is_default;       /* client only: presented when no pin matches */
    char *cert_pem;        /* leaf then chain (client/server), or the bundle (ca): public data */
    uint8_t *key_blob;     /* sealed private key (cg_pki_key_seal); NULL for ca */
    size_t key_blob_len;
    char *warnings_json;   /* JSON array of strings, "[]" when none */
    char *crl_pem;         /* ca only: the CRLs of the bundle's issuers, PEM; NULL when none */
    int64_t created_at;    /* unix seconds, set by the store */
    int64_t updated_at;
};

void cg_store_cert_cleanup(struct cg_store_cert *c); /* frees and wipes key_blob */

struct cg_store_cert_list {
    struct cg_store_cert *items;
    size_t n;
};
void cg_store_cert_list_cleanup(struct cg_store_cert_list *l);

/* A pin: target -> certificate name, or -> none (cert_name == NULL). */
struct cg_store_pin {
    char *target;
    char *cert_name;
};
struct cg_store_pin_list {
    struct cg_store_pin *items;
    size_t n;
};
void cg_store_pin_list_cleanup(struct cg_store_pin_list *l);

/* An upstream: a named egress destination (SPEC.md section 1). */
struct cg_store_upstream {
    char *name;
    char *url;            /* https://host[:port][/base], validated by the caller */
    char *server_name;    /* SNI and verify-name override; NULL = the URL's host */
    char *spki_sha256;    /* base64 SHA-256 of the server's SubjectPublicKeyInfo; NULL = no pin */
    char **cas;           /* names of `ca` certificates: only these are trusted; n_cas == 0 means
                           * the environment's trust (system roots + every ca) */
    size_t n_cas;
    uint32_t connect_timeout_ms; /* 0 = the daemon's default */
    uint32_t timeout_ms;         /* response timeout; 0 = the daemon's default */
};
void cg_store_upstream_cleanup(struct cg_store_upstream *u);
struct cg_store_upstream_list {
    struct cg_store_upstream *items;
    size_t n;
};
void cg_store_upstream_list_cleanup(struct cg_store_upstream_list *l);

/* ---- ingress objects (SPEC.md section 1: site, access profile, path rule) ---- */

enum cg_store_mtls { CG_STORE_MTLS_OFF = 0, CG_STORE_MTLS_OPTIONAL = 1, CG_STORE_MTLS_REQUIRED = 2 };

/* A host name a site answers on, and the server certificate it presents there. */
struct cg_store_site_domain {
    char *host;           /* lowercase; "*.example.com" (one label) allowed */
    char *cert_name;      /* a certificate of kind server; NULL = chosen automatically: the server
                           * certificate whose SANs cover the host and that is valid longest */
};

struct cg_store_site {
    char *name;
    char *backend;        /* http://host:port, validated by the writer (config/site.c) */
    int mtls;             /* enum cg_store_mtls */
    struct cg_store_site_domain *domains; /* ordered by host */
    size_t n_domains;
    struct cg_store_site_domain mtls_domain; /* host NULL: none */
    char **client_cas;    /* names of `ca` certificates, in the order given */
    size_t n_client_cas;
};
void cg_store_site_cleanup(struct cg_store_site *s);
struct cg_store_site_list {
    struct cg_store_site *items;
    size_t n;
};
void cg_store_site_list_cleanup(struct cg_store_site_list *l);

/* A client CA of a profile and the certificates of its bundle selected as signers (SHA-256
 * fingerprints, 64 lowercase hex; none = every certificate of the bundle). */
struct cg_store_profile_ca {
    char *ca;
    char **fingerprints;
    size_t n_fingerprints;
};

struct cg_store_profile {
    char *name;
    char **allow_ips;     /* CIDR strings, normalised by the writer (config/site.c) */
    size_t n_allow_ips;
    char **deny_ips;
    size_t n_deny_ips;
    struct cg_store_profile_ca *cas;
    size_t n_cas;
};
void cg_store_profile_cleanup(struct cg_store_profile *p);
struct cg_store_profile_list {
    struct cg_store_profile *items;
    size_t n;
};
void cg_store_profile_list_cleanup(struct cg_store_profile_list *l);

/* The presets a rule may name instead of a profile; no profile can take these names. */
#define CG_STORE_PROFILE_ALLOW_ALL "allow-all"
#define CG_STORE_PROFILE_DENY_ALL "deny-all"

struct cg_store_rule {
    char *site;
    char *path;           /* a path prefix starting with '/' */
    char *profile;        /* a profile name, or one of the presets */
};
struct cg_store_rule_list {
    struct cg_store_rule *items;
    size_t n;
};
void cg_store_rule_list_cleanup(struct cg_store_rule_list *l);

/* ---- admin objects (issue 5): API tokens and the audit trail ----
 * Neither is part of the configuration a daemon loads: changing them does not bump the revision. */

/* An admin API token. The secret itself is never stored: only its SHA-256. */
struct cg_store_token {
    char *name;
    char *role;           /* "viewer", "operator" or "admin" (checked by the writer) */
    char hash[65];        /* lowercase hex SHA-256 of the secret the holder sends */
    int64_t created_at;   /* unix seconds, set by the store */
    int64_t expires_at;   /* unix seconds; 0 = never */
    int64_t last_used_at; /* unix seconds; 0 = never used */
};
void cg_store_token_cleanup(struct cg_store_token *t);
struct cg_store_token_list {
    struct cg_store_token *items;
    size_t n;
};
void cg_store_token_list_cleanup(struct cg_store_token_list *l);

/* Caps on an audit record (CG_ELIMIT above them): actor, action and object name things, they
 * do not hold them; before and after hold whole objects. */
#define CG_STORE_AUDIT_TEXT_MAX 512
#define CG_STORE_AUDIT_JSON_MAX (1024 * 1024)
#define CG_STORE_AUDIT_LIST_MAX 1000 /* records one audit_list returns at most */

/* One change made through the CLI or the API. */
struct cg_store_audit {
    int64_t id;           /* set by the store: grows with every record of the store */
    int64_t at_ms;        /* unix milliseconds, set by the caller */
    char *actor;          /* the token's name, or "cli:<unix user>" */
    char *action;         /* the command: "site set", "cert add", "pin rm" ... */
    char *object;         /* "site/web", "pin/api.partner.example", "import/mendix" */
    char *before_json;    /* the object before (its `show --json`), "null" when it did not exist */
    char *after_json;     /* the object after, "null" when deleted */
};
void cg_store_audit_cleanup(struct cg_store_audit *a);
struct cg_store_audit_list {
    struct cg_store_audit *items;
    size_t n;
};
void cg_store_audit_list_cleanup(struct cg_store_audit_list *l);

/* ---- webhooks (issue 6): endpoints, events, deliveries and their attempts ----
 * A webhook is configuration (its changes bump the revision); events, deliveries and attempts
 * are traffic (they do not). */

enum cg_store_webhook_trust { CG_WEBHOOK_TRUST_SYSTEM_CA = 0, CG_WEBHOOK_TRUST_CA_ONLY = 1 };

/* Caps. An event type is 1 to CG_STORE_EVENT_TYPE_MAX of [A-Za-z0-9._-] (a webhook's types too);
 * an event's data is a JSON object of at most CG_STORE_EVENT_DATA_MAX bytes (CG_ELIMIT above).
 * A problem or an attempt's error longer than CG_STORE_PROBLEM_MAX characters is cut there. */
#define CG_STORE_EVENT_TYPE_MAX 128
#define CG_STORE_EVENT_DATA_MAX (256 * 1024)
#define CG_STORE_PROBLEM_MAX 1024
#define CG_STORE_DELIVERY_LIST_MAX 1000 /* deliveries one delivery_list or delivery_claim returns at most */

struct cg_store_webhook {
    char id[33];            /* random, set by the caller on add: the AAD of secret_blob */
    char *name;
    char *url;              /* https://host[:port][/path], validated by the writer */
    char *client_cert;      /* a certificate of kind client (required) */
    char *ca;               /* a certificate of kind ca, or NULL */
    int trust;              /* enum cg_store_webhook_trust; ca-only needs a ca */
    uint8_t *secret_blob;   /* the HMAC secret sealed like a private key (cg_pki_key_seal's format
                             * over the raw secret), or NULL: deliveries are not signed */
    size_t secret_blob_len;
    char **events;          /* event types it receives; n_events == 0: every type */
    size_t n_events;
    bool disabled;
    char *problem;          /* the last failure no retry can fix ("the server rejected our client
                             * certificate: ..."), NULL when none; set and cleared by the dispatcher */
    int64_t problem_at;     /* unix seconds */
    int64_t created_at, updated_at;
    uint64_t n_pending, n_failed; /* its deliveries in those states: filled by get/list, ignored by put */
};
void cg_store_webhook_cleanup(struct cg_store_webhook *w); /* wipes secret_blob */
struct cg_store_webhook_list {
    struct cg_store_webhook *items;
    size_t n;
};
void cg_store_webhook_list_cleanup(struct cg_store_webhook_list *l);

struct cg_store_event {
    char id[40];            /* "evt_" + 32 lowercase hex, set by the caller */
    char *type;             /* "invoice.paid", "certificate.expiring" ... */
    char *data_json;        /* a JSON object */
    int64_t created_at_ms;  /* 0 on put: now */
};
void cg_store_event_cleanup(struct cg_store_event *e);

enum cg_store_delivery_status { CG_DELIVERY_PENDING = 0, CG_DELIVERY_SUCCEEDED = 1, CG_DELIVERY_FAILED = 2 };

struct cg_store_attempt {
    int64_t at_ms;
    int status_code;        /* the HTTP status, or 0 when there was none */
    char *error;            /* "connect refused", "tls: the server rejected our client certificate
                             * (alert bad_certificate)", "timeout" ...; NULL on a 2xx */
    int64_t latency_ms;
};

struct cg_store_delivery {
    int64_t id;             /* set by the store */
    char event_id[40];
    char *event_type;       /* of the event, for listings */
    char *webhook;
    int status;             /* enum cg_store_delivery_status */
    int attempts;           /* attempts made (claims taken) */
    int64_t next_at_ms;     /* pending: not before this */
    int64_t lease_until_ms; /* claimed by a dispatcher until then (0: not claimed) */
    int64_t created_at_ms, updated_at_ms;
    struct cg_store_attempt *history; /* filled by delivery_get/list with attempts (oldest first) */
    size_t n_history;
};
void cg_store_delivery_cleanup(struct cg_store_delivery *d);
struct cg_store_delivery_list {
    struct cg_store_delivery *items;
    size_t n;
};
void cg_store_delivery_list_cleanup(struct cg_store_delivery_list *l);

struct cg_store_ops {
    const char *scheme; /* "sqlite" */
    /* create: make the store (and its schema) when missing; otherwise a missing store is
     * CG_ENOSTORE. Runs pending migrations either way. */
    int (*open)(const char *url, bool create, struct cg_store **out, struct cg_err *err);
    void (*close)(struct cg_store *s);
    /* Where the master key lives by default for this URL (sqlite: beside the database file);
     * CG_EUSAGE when the backend has no such place (postgres: --master-key is required). */
    int (*default_master_key)(const char *url, char *out, size_t n, struct cg_err *err);

    /* Transactions: everything between begin and commit is applied at once or not at all. They
     * nest: a begin inside an open transaction only counts a level, and its commit only
     * uncounts it; a rollback inside one dooms the whole (the outermost commit then rolls
     * everything back and fails with CG_ESTORE "... nothing was saved"). */
    int (*begin)(struct cg_store *s, struct cg_err *err);
    int (*commit)(struct cg_store *s, struct cg_err *err);
    void (*rollback)(struct cg_store *s);

    int (*revision)(struct cg_store *s, const char *env, uint64_t *out, struct cg_err *err);

    /* Inserts c (c->id must be set by the caller). replace: an existing certificate of that
     * name is replaced (its pins keep pointing at the name); otherwise CG_EEXISTS. */
    int (*cert_put)(struct cg_store *s, const char *env, const struct cg_store_cert *c, bool replace,
                    struct cg_err *err);
    int (*cert_get)(struct cg_store *s, const char *env, const char *name, struct cg_store_cert *out,
                    struct cg_err *err);
    /* Ordered by name. */
    int (*cert_list)(struct cg_store *s, const char *env, struct cg_store_cert_list *out,
                     struct cg_err *err);
    /* CG_ENOTFOUND; CG_EINUSE when pins name it (message lists up to 5 targets). */
    int (*cert_delete)(struct cg_store *s, const char *env, const char *name, struct cg_err *err);
    /* Marks name as the default client certificate and clears the mark on every other. */
    int (*cert_set_default)(struct cg_store *s, const char *env, const char *name, struct cg_err *err);

    /* Upsert. cert_name NULL = pin to none; otherwise the certificate must exist (CG_ENOTFOUND). */
    int (*pin_put)(struct cg_store *s, const char *env, const char *target, const char *cert_name,
                   struct cg_err *err);
    int (*pin_delete)(struct cg_store *s, const char *env, const char *target, struct cg_err *err);
    /* Ordered by target. */
    int (*pin_list)(struct cg_store *s, const char *env, struct cg_store_pin_list *out,
                    struct cg_err *err);

    /* Upstreams. put: every name in u->cas must be a certificate of kind ca (CG_ENOTFOUND /
     * CG_EINVAL naming it); replace as for cert_put. A ca named by an upstream cannot be deleted
     * (cert_delete answers CG_EINUSE naming the upstream). Lists ordered by name. */
    int (*upstream_put)(struct cg_store *s, const char *env, const struct cg_store_upstream *u, bool replace,
                        struct cg_err *err);
    int (*upstream_get)(struct cg_store *s, const char *env, const char *name, struct cg_store_upstream *out,
                        struct cg_err *err);
    int (*upstream_list)(struct cg_store *s, const char *env, struct cg_store_upstream_list *out,
                         struct cg_err *err);
    int (*upstream_delete)(struct cg_store *s, const char *env, const char *name, struct cg_err *err);

    /* Sites. put: every domain's and the mTLS domain's cert_name must be a certificate of kind
     * server, every client_cas name one of kind ca (CG_ENOTFOUND / CG_EINVAL naming it); a host
     * (domain or mTLS domain) belongs to one site of the environment only (CG_EEXISTS naming the
     * other site). replace as for cert_put; a replaced site keeps its rules. delete removes the
     * site's rules with it. Certificates a site names cannot be deleted (cert_delete: CG_EINUSE
     * naming the site). */
    int (*site_put)(struct cg_store *s, const char *env, const struct cg_store_site *site, bool replace,
                    struct cg_err *err);
    int (*site_get)(struct cg_store *s, const char *env, const char *name, struct cg_store_site *out,
                    struct cg_err *err);
    int (*site_list)(struct cg_store *s, const char *env, struct cg_store_site_list *out, struct cg_err *err);
    int (*site_delete)(struct cg_store *s, const char *env, const char *name, struct cg_err *err);

    /* Profiles: every cas[].ca must be a certificate of kind ca; the presets' names are refused
     * (CG_EINVAL). A profile named by a rule cannot be deleted (CG_EINUSE naming site and path);
     * a ca named by a profile cannot be deleted (cert_delete: CG_EINUSE naming the profile). */
    int (*profile_put)(struct cg_store *s, const char *env, const struct cg_store_profile *p, bool replace,
                       struct cg_err *err);
    int (*profile_get)(struct cg_store *s, const char *env, const char *name, struct cg_store_profile *out,
                       struct cg_err *err);
    int (*profile_list)(struct cg_store *s, const char *env, struct cg_store_profile_list *out,
                        struct cg_err *err);
    int (*profile_delete)(struct cg_store *s, const char *env, const char *name, struct cg_err *err);

    /* Path rules: upsert by (site, path); the site must exist and profile must name a profile
     * or a preset (CG_ENOTFOUND). list: one site's rules (site != NULL) or all, ordered by site
     * then path. */
    int (*rule_put)(struct cg_store *s, const char *env, const struct cg_store_rule *r, struct cg_err *err);
    int (*rule_delete)(struct cg_store *s, const char *env, const char *site, const char *path,
                       struct cg_err *err);
    int (*rule_list)(struct cg_store *s, const char *env, const char *site, struct cg_store_rule_list *out,
                     struct cg_err *err);

    /* Tokens: put inserts (CG_EEXISTS for a name in use); find looks a token up by the hash of
     * its secret (CG_ENOTFOUND; expiry is the caller's to check); touch records a use (no
     * revision bump, no audit). Lists ordered by name. */
    int (*token_put)(struct cg_store *s, const char *env, const struct cg_store_token *t, struct cg_err *err);
    int (*token_find)(struct cg_store *s, const char *env, const char *hash, struct cg_store_token *out,
                      struct cg_err *err);
    int (*token_get)(struct cg_store *s, const char *env, const char *name, struct cg_store_token *out,
                     struct cg_err *err);
    int (*token_list)(struct cg_store *s, const char *env, struct cg_store_token_list *out, struct cg_err *err);
    int (*token_delete)(struct cg_store *s, const char *env, const char *name, struct cg_err *err);
    int (*token_touch)(struct cg_store *s, const char *env, const char *name, int64_t at, struct cg_err *err);

    /* Audit: append one record (a->id is ignored and assigned; before/after must be JSON, NULL
     * stands for "null"; CG_EINVAL / CG_ELIMIT); list the newest first, at most limit records
     * (capped at CG_STORE_AUDIT_LIST_MAX) with id < before_id (before_id 0: from the newest). */
    int (*audit_put)(struct cg_store *s, const char *env, const struct cg_store_audit *a, struct cg_err *err);
    int (*audit_list)(struct cg_store *s, const char *env, int64_t before_id, size_t limit,
                      struct cg_store_audit_list *out, struct cg_err *err);

    /* Webhooks: put (replace as for cert_put; the certificates must exist and be of the right
     * kind: CG_ENOTFOUND / CG_EINVAL naming them; a certificate a webhook names cannot be deleted:
     * cert_delete answers CG_EINUSE naming the webhook); get/list ordered by name; delete removes
     * its pending deliveries too (succeeded and failed ones stay, for the record). problem_set
     * records (problem != NULL) or clears a webhook's problem without bumping the revision. */
    int (*webhook_put)(struct cg_store *s, const char *env, const struct cg_store_webhook *w, bool replace,
                       struct cg_err *err);
    int (*webhook_get)(struct cg_store *s, const char *env, const char *name, struct cg_store_webhook *out,
                       struct cg_err *err);
    int (*webhook_list)(struct cg_store *s, const char *env, struct cg_store_webhook_list *out, struct cg_err *err);
    int (*webhook_delete)(struct cg_store *s, const char *env, const char *name, struct cg_err *err);
    int (*webhook_problem_set)(struct cg_store *s, const char *env, const char *name, const char *problem,
                               int64_t at, struct cg_err *err);

    /* Events: stores the event and one pending delivery (next_at_ms = now) for every enabled
     * webhook whose types include it (or that takes every type), in one transaction; *n_deliveries
     * says how many (n_deliveries may be NULL). An id already stored is CG_EEXISTS (the daemon's own events use ids derived
     * from what they are about, so that each is sent once). */
    int (*event_put)(struct cg_store *s, const char *env, const struct cg_store_event *e, size_t *n_deliveries,
                     struct cg_err *err);
    int (*event_get)(struct cg_store *s, const char *env, const char *id, struct cg_store_event *out,
                     struct cg_err *err);

    /* Deliveries. claim: up to max (capped at CG_STORE_DELIVERY_LIST_MAX) pending deliveries due
     * at now_ms (next_at_ms <= now_ms) whose lease expired, oldest due first, at most per_webhook
     * of any one webhook (counting the ones it already holds under a lease; 0: no such limit),
     * each leased until now_ms + lease_ms and its attempts counted; atomically, so that two
     * dispatchers never claim the same delivery. The claimed come without their history.
     * finish: records the attempt (NULL: none was made) and the outcome -- status SUCCEEDED or
     * FAILED ends it, PENDING reschedules it at next_at_ms (the lease is released either way); a
     * delivery that ended meanwhile (its lease expired, another dispatcher finished it) keeps its
     * outcome and only gains the attempt. release_all: every lease of the environment (a daemon
     * starting up: what it held when it died is due again). list: of one webhook (webhook !=
     * NULL) or all, newest first, filtered by status (-1: any), at most limit (capped at
     * CG_STORE_DELIVERY_LIST_MAX), with their attempts. replay: a FAILED (or SUCCEEDED) delivery
     * becomes PENDING, due at now_ms, its attempts counted from 0 again, its history kept
     * (CG_ENOTFOUND, also when its webhook was removed; CG_EINVAL when pending). */
    int (*delivery_claim)(struct cg_store *s, const char *env, int64_t now_ms, int64_t lease_ms, size_t max,
                          size_t per_webhook, struct cg_store_delivery_list *out, struct cg_err *err);
    int (*delivery_finish)(struct cg_store *s, const char *env, int64_t id, int status, int64_t next_at_ms,
                           const struct cg_store_attempt *attempt, struct cg_err *err);
    int (*delivery_release_all)(struct cg_store *s, const char *env, struct cg_err *err);
    int (*delivery_get)(struct cg_store *s, const char *env, int64_t id, struct cg_store_delivery *out,
                        struct cg_err *err);
    int (*delivery_list)(struct cg_store *s, const char *env, const char *webhook, int status, size_t limit,
                         struct cg_store_delivery_list *out, struct cg_err *err);
    int (*delivery_replay)(struct cg_store *s, const char *env, int64_t id, int64_t now_ms, struct cg_err *err);
    /* Pending deliveries of the environment (for /metrics). */
    int (*delivery_pending_count)(struct cg_store *s, const char *env, uint64_t *out, struct cg_err *err);
};

/* Every store object starts with this. */
struct cg_store {
    const struct cg_store_ops *ops;
};

/* Picks the backend from the URL scheme ("sqlite:PATH"); CG_EUSAGE for an unknown scheme with
 * a message listing the known ones. */
CG_RESULT cg_store_open(const char *url, bool create, struct cg_store **out, struct cg_err *err);
void cg_store_close(struct cg_store *s); /* accepts NULL */
CG_RESULT cg_store_default_master_key(const char *url, char *out, size_t n, struct cg_err *err);
/* 32 random hex chars for a new record id. */
CG_RESULT cg_store_new_id(char out[33]);
/* The rule of event types (an event's, and what a webhook subscribes to): 1 to
 * CG_STORE_EVENT_TYPE_MAX of [A-Za-z0-9._-]. */
bool cg_store_event_type_valid(const char *type);

/* Thin wrappers so that callers read `cg_store_cert_put(s, ...)` and must test the result. */
static inline CG_RESULT cg_store_begin(struct cg_store *s, struct cg_err *e) { return s->ops->begin(s, e); }
static inline CG_RESULT cg_store_commit(struct cg_store *s, struct cg_err *e) { return s->ops->commit(s, e); }
static inline void cg_store_rollback(struct cg_store *s) { s->ops->rollback(s); }
static inline CG_RESULT cg_store_revision(struct cg_store *s, const char *env, uint64_t *o, struct cg_err *e)
{ return s->ops->revision(s, env, o, e); }
static inline CG_RESULT cg_store_cert_put(struct cg_store *s, const char *env, const struct cg_store_cert *c,
                                          bool replace, struct cg_err *e)
{ return s->ops->cert_put(s, env, c, replace, e); }
static inline CG_RESULT cg_store_cert_get(struct cg_store *s, const char *env, const char *name,
                                          struct cg_store_cert *o, struct cg_err *e)
{ return s->ops->cert_get(s, env, name, o, e); }
static inline CG_RESULT cg_store_cert_list(struct cg_store *s, const char *env, struct cg_store_cert_list *o,
                                           struct cg_err *e)
{ return s->ops->cert_list(s, env, o, e); }
static inline CG_RESULT cg_store_cert_delete(struct cg_store *s, const char *env, const char *name, struct cg_err *e)
{ return s->ops->cert_delete(s, env, name, e); }
static inline CG_RESULT cg_store_cert_set_default(struct cg_store *s, const char *env, const char *name,
                                                  struct cg_err *e)
{ return s->ops->cert_set_default(s, env, name, e); }
static inline CG_RESULT cg_store_pin_put(struct cg_store *s, const char *env, const char *target,
                                         const char *cert_name, struct cg_err *e)
{ return s->ops->pin_put(s, env, target, cert_name, e); }
static inline CG_RESULT cg_store_pin_delete(struct cg_store *s, const char *env, const char *target, struct cg_err *e)
{ return s->ops->pin_delete(s, env, target, e); }
static inline CG_RESULT cg_store_pin_list(struct cg_store *s, const char *env, struct cg_store_pin_list *o,
                                          struct cg_err *e)
{ return s->ops->pin_list(s, env, o, e); }
static inline CG_RESULT cg_store_upstream_put(struct cg_store *s, const char *env, const struct cg_store_upstream *u,
                                              bool replace, struct cg_err *e)
{ return s->ops->upstream_put(s, env, u, replace, e); }
static inline CG_RESULT cg_store_upstream_get(struct cg_store *s, const char *env, const char *name,
                                              struct cg_store_upstream *o, struct cg_err *e)
{ return s->ops->upstream_get(s, env, name, o, e); }
static inline CG_RESULT cg_store_upstream_list(struct cg_store *s, const char *env,
                                               struct cg_store_upstream_list *o, struct cg_err *e)
{ return s->ops->upstream_list(s, env, o, e); }
static inline CG_RESULT cg_store_upstream_delete(struct cg_store *s, const char *env, const char *name,
                                                 struct cg_err *e)
{ return s->ops->upstream_delete(s, env, name, e); }

static inline CG_RESULT cg_store_site_put(struct cg_store *s, const char *env, const struct cg_store_site *x,
                                          bool replace, struct cg_err *e)
{ return s->ops->site_put(s, env, x, replace, e); }
static inline CG_RESULT cg_store_site_get(struct cg_store *s, const char *env, const char *name,
                                          struct cg_store_site *o, struct cg_err *e)
{ return s->ops->site_get(s, env, name, o, e); }
static inline CG_RESULT cg_store_site_list(struct cg_store *s, const char *env, struct cg_store_site_list *o,
                                           struct cg_err *e)
{ return s->ops->site_list(s, env, o, e); }
static inline CG_RESULT cg_store_site_delete(struct cg_store *s, const char *env, const char *name, struct cg_err *e)
{ return s->ops->site_delete(s, env, name, e); }
static inline CG_RESULT cg_store_profile_put(struct cg_store *s, const char *env, const struct cg_store_profile *x,
                                             bool replace, struct cg_err *e)
{ return s->ops->profile_put(s, env, x, replace, e); }
static inline CG_RESULT cg_store_profile_get(struct cg_store *s, const char *env, const char *name,
                                             struct cg_store_profile *o, struct cg_err *e)
{ return s->ops->profile_get(s, env, name, o, e); }
static inline CG_RESULT cg_store_profile_list(struct cg_store *s, const char *env, struct cg_store_profile_list *o,
                                              struct cg_err *e)
{ return s->ops->profile_list(s, env, o, e); }
static inline CG_RESULT cg_store_profile_delete(struct cg_store *s, const char *env, const char *name,
                                                struct cg_err *e)
{ return s->ops->profile_delete(s, env, name, e); }
static inline CG_RESULT cg_store_rule_put(struct cg_store *s, const char *env, const struct cg_store_rule *r,
                                          struct cg_err *e)
{ return s->ops->rule_put(s, env, r, e); }
static inline CG_RESULT cg_store_rule_delete(struct cg_store *s, const char *env, const char *site, const char *path,
                                             struct cg_err *e)
{ return s->ops->rule_delete(s, env, site, path, e); }
static inline CG_RESULT cg_store_rule_list(struct cg_store *s, const char *env, const char *site,
                                           struct cg_store_rule_list *o, struct cg_err *e)
{ return s->ops->rule_list(s, env, site, o, e); }

/* The ops added since tokens: one line each (the ones above were written out by hand). */
#define CG_STORE_WRAP(name, params, args)                                                                         \
    static inline CG_RESULT cg_store_##name params { return s->ops->name args; }
CG_STORE_WRAP(token_put, (struct cg_store *s, const char *env, const struct cg_store_token *t, struct cg_err *e),
              (s, env, t, e))
CG_STORE_WRAP(token_find, (struct cg_store *s, const char *env, const char *hash, struct cg_store_token *o,
                           struct cg_err *e), (s, env, hash, o, e))
CG_STORE_WRAP(token_get, (struct cg_store *s, const char *env, const char *name, struct cg_store_token *o,
                          struct cg_err *e), (s, env, name, o, e))
CG_STORE_WRAP(token_list, (struct cg_store *s, const char *env, struct cg_store_token_list *o, struct cg_err *e),
              (s, env, o, e))
CG_STORE_WRAP(token_delete, (struct cg_store *s, const char *env, const char *name, struct cg_err *e), (s, env, name, e))
CG_STORE_WRAP(token_touch, (struct cg_store *s, const char *env, const char *name, int64_t at, struct cg_err *e),
              (s, env, name, at, e))
CG_STORE_WRAP(audit_put, (struct cg_store *s, const char *env, const struct cg_store_audit *a, struct cg_err *e),
              (s, env, a, e))
CG_STORE_WRAP(audit_list, (struct cg_store *s, const char *env, int64_t before_id, size_t limit,
                           struct cg_store_audit_list *o, struct cg_err *e), (s, env, before_id, limit, o, e))
CG_STORE_WRAP(webhook_put, (struct cg_store *s, const char *env, const struct cg_store_webhook *w, bool replace,
                                 struct cg_err *e), (s, env, w, replace, e))
CG_STORE_WRAP(webhook_get, (struct cg_store *s, const char *env, const char *name, struct cg_store_webhook *o,
                                 struct cg_err *e), (s, env, name, o, e))
CG_STORE_WRAP(webhook_list, (struct cg_store *s, const char *env, struct cg_store_webhook_list *o,
                                  struct cg_err *e), (s, env, o, e))
CG_STORE_WRAP(webhook_delete, (struct cg_store *s, const char *env, const char *name, struct cg_err *e),
              (s, env, name, e))
CG_STORE_WRAP(webhook_problem_set, (struct cg_store *s, const char *env, const char *name, const char *problem,
                                         int64_t at, struct cg_err *e), (s, env, name, problem, at, e))
CG_STORE_WRAP(event_put, (struct cg_store *s, const char *env, const struct cg_store_event *ev, size_t *n,
                               struct cg_err *e), (s, env, ev, n, e))
CG_STORE_WRAP(event_get, (struct cg_store *s, const char *env, const char *id, struct cg_store_event *o,
                               struct cg_err *e), (s, env, id, o, e))
CG_STORE_WRAP(delivery_claim, (struct cg_store *s, const char *env, int64_t now_ms, int64_t lease_ms, size_t max,
                                    size_t per_webhook, struct cg_store_delivery_list *o, struct cg_err *e),
              (s, env, now_ms, lease_ms, max, per_webhook, o, e))
CG_STORE_WRAP(delivery_finish, (struct cg_store *s, const char *env, int64_t id, int status, int64_t next_at_ms,
                                     const struct cg_store_attempt *a, struct cg_err *e),
              (s, env, id, status, next_at_ms, a, e))
CG_STORE_WRAP(delivery_release_all, (struct cg_store *s, const char *env, struct cg_err *e), (s, env, e))
CG_STORE_WRAP(delivery_get, (struct cg_store *s, const char *env, int64_t id, struct cg_store_delivery *o,
                                  struct cg_err *e), (s, env, id, o, e))
CG_STORE_WRAP(delivery_list, (struct cg_store *s, const char *env, const char *webhook, int status, size_t limit,
                                   struct cg_store_delivery_list *o, struct cg_err *e),
              (s, env, webhook, status, limit, o, e))
CG_STORE_WRAP(delivery_replay, (struct cg_store *s, const char *env, int64_t id, int64_t now_ms,
                                     struct cg_err *e), (s, env, id, now_ms, e))
CG_STORE_WRAP(delivery_pending_count, (struct cg_store *s, const char *env, uint64_t *o, struct cg_err *e),
              (s, env, o, e))

#endif
