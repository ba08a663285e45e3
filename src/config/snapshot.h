/* A configuration snapshot: everything the hot path needs from the store for one environment,
 * read in one transaction, immutable once built and reference-counted, so that a daemon can
 * swap snapshots atomically while in-flight requests finish on the old one (STYLE.md, hot
 * reload). The CLI uses the same object for `pin resolve`, so that the answer it gives is the
 * answer the egress will act on. */
#ifndef CG_CONFIG_SNAPSHOT_H
#define CG_CONFIG_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "config/pins.h"
#include "config/site.h"
#include "core/error.h"
#include "pki/pki.h"
#include "store/store.h"

struct cg_snapshot_cert {
    char *name;
    enum cg_cert_kind kind;
    bool is_default;
    char fingerprint[65];  /* of the leaf (or of the first certificate of a CA bundle) */
    X509 *leaf;            /* NULL for a CA */
    STACK_OF(X509) *certs; /* chain (client/server) or the bundle (ca) */
    EVP_PKEY *key;         /* only when the snapshot was loaded with a master key */
    STACK_OF(X509_CRL) *crls; /* ca only: CRLs given with `ca add --crl` or found in the bundle; NULL when none */
};

/* An upstream, ready for the egress: the URL taken apart, the trust resolved to certificate
 * indexes. */
struct cg_snapshot_upstream {
    char *name;
    char *host;              /* from the URL, lowercase, without IPv6 brackets */
    uint16_t port;           /* 443 when the URL has none */
    char *base_path;         /* "" or "/base" (no trailing '/'): prefixed to origin-form paths */
    char *server_name;       /* SNI and the name verified: the override, or host */
    bool has_spki;
    uint8_t spki_sha256[32]; /* the pinned SubjectPublicKeyInfo hash, when has_spki */
    int *cas;                /* indexes into certs[] (kind ca) trusted alone; n_cas == 0: the
                              * environment's trust (system roots + every ca) */
    size_t n_cas;
    uint32_t connect_timeout_ms, timeout_ms; /* 0 = the daemon's defaults */
};

/* ---- ingress (SPEC.md section 1: site, access profile, path rule) ---- */

enum cg_mtls_mode { CG_MTLS_OFF = 0, CG_MTLS_OPTIONAL = 1, CG_MTLS_REQUIRED = 2 };

/* Rule targets that are not profiles. */
#define CG_PROFILE_ALLOW_ALL (-1)
#define CG_PROFILE_DENY_ALL (-2)

struct cg_snapshot_profile {
    char *name;
    struct cg_cidr *allow;     /* allowed ranges */
    size_t n_allow;
    struct cg_cidr *deny;      /* denied ranges: always refused */
    size_t n_deny;
    int *cas;                  /* indexes into certs[] (kind ca) of the profile's client CAs */
    size_t n_cas;
    X509 **signers;            /* owned references: the selected certificates of those bundles (every
                                * certificate of a bundle with no selection); a client certificate
                                * passes when its verified chain contains one of them */
    size_t n_signers;
};

struct cg_snapshot_rule {
    char *path;                /* prefix, starts with '/' */
    size_t path_len;
    int profile;               /* index into profiles[], or CG_PROFILE_ALLOW_ALL / CG_PROFILE_DENY_ALL */
};

struct cg_snapshot_site {
    char *name;
    char *backend_host;        /* from http://host:port, lowercase, without IPv6 brackets */
    uint16_t backend_port;
    enum cg_mtls_mode mtls;
    char *mtls_domain;         /* NULL: none */
    struct cg_snapshot_rule *rules; /* longest path first */
    size_t n_rules;
    int *client_cas;           /* cert indexes (kind ca), deduplicated: the site's own client CAs and
                                * those of every profile its rules name -- what the handshake
                                * verifies client certificates against */
    size_t n_client_cas;
};

/* A host name certgate answers on (a site's domain or mTLS domain). */
struct cg_snapshot_domain {
    char *host;                /* lowercase; "*.example.com" matches one label */
    int site;                  /* index into sites[] */
    int cert;                  /* index into certs[] (kind server), or -1 when no certificate fits the
                                * host (a warning was logged at load; handshakes for it are refused) */
    bool mtls_domain;          /* the site's dedicated mTLS host name: always `required` */
};

/* A webhook, ready for the dispatcher (issue 6). */
struct cg_snapshot_webhook {
    char *name;
    char *url;
    char *host;              /* from the URL, lowercase, without IPv6 brackets */
    uint16_t port;           /* 443 when the URL has none */
    char *path;              /* the URL's path as written, "/" when empty (webhook URLs take no query) */
    int cert;                /* index into certs[]: the client certificate presented */
    int ca;                  /* index into certs[] (kind ca), or -1 */
    bool ca_only;            /* trust the ca alone (else the system roots and the ca) */
    uint8_t *secret;         /* unsealed when loaded with a master key; NULL: unsigned */
    size_t secret_len;
    char **events;           /* n_events == 0: every type */
    size_t n_events;
    bool disabled;
};

struct cg_snapshot {
    _Atomic long refs;
    uint64_t revision;
    char *env;
    struct cg_snapshot_cert *certs; /* ordered by name */
    size_t n_certs;
    struct cg_pin_table *pins;      /* cert indexes refer to certs[] */
    struct cg_snapshot_upstream *upstreams; /* ordered by name */
    size_t n_upstreams;
    struct cg_snapshot_profile *profiles; /* ordered by name */
    size_t n_profiles;
    struct cg_snapshot_site *sites;       /* ordered by name */
    size_t n_sites;
    struct cg_snapshot_domain *domains;   /* ordered by host (exact and wildcard entries alike) */
    size_t n_domains;
    struct cg_snapshot_webhook *webhooks; /* ordered by name */
    size_t n_webhooks;
};

/* Loads the environment's state. master may be NULL: private keys are then not decrypted (the
 * CLI needs none to answer questions). Starts with one reference. */
CG_RESULT cg_snapshot_load(struct cg_store *store, const char *env, const uint8_t *master,
                           struct cg_snapshot **out, struct cg_err *err);
struct cg_snapshot *cg_snapshot_ref(struct cg_snapshot *s);
void cg_snapshot_unref(struct cg_snapshot *s); /* frees at zero; accepts NULL */
/* Index of the certificate named name, or -1. */
int cg_snapshot_cert_find(const struct cg_snapshot *s, const char *name);

/* Index of the upstream named name (ASCII case-insensitive, as Host fields compare), or -1. */
int cg_snapshot_upstream_find(const struct cg_snapshot *s, struct cg_slice name);

/* The domain for a TLS server name or Host (ASCII case-insensitive; a trailing dot and a ":port"
 * are ignored): the exact host, else the one-label wildcard; -1 when none. */
int cg_snapshot_domain_find(const struct cg_snapshot *s, struct cg_slice host);
/* Index of the site named name, or -1. */
int cg_snapshot_site_find(const struct cg_snapshot *s, const char *name);
/* Index of the webhook named name, or -1. */
int cg_snapshot_webhook_find(const struct cg_snapshot *s, const char *name);

#endif
