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

struct cg_snapshot {
    _Atomic long refs;
    uint64_t revision;
    char *env;
    struct cg_snapshot_cert *certs; /* ordered by name */
    size_t n_certs;
    struct cg_pin_table *pins;      /* cert indexes refer to certs[] */
    struct cg_snapshot_upstream *upstreams; /* ordered by name */
    size_t n_upstreams;
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

#endif
