/* TLS for the daemon: the runtime built once per configuration snapshot (trust stores and
 * client SSL_CTX objects, never one per connection), and the classification of TLS failures
 * into the causes the egress reports (SPEC.md section 4). */
#ifndef CG_NET_TLS_H
#define CG_NET_TLS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config/snapshot.h"
#include "core/error.h"

/* Trust: CG_TRUST_ENV is the system roots plus every ca of the environment; an upstream with its
 * own CA list has trust id 1 + its index; webhook w has trust id 1 + n_upstreams + w (its ca with
 * or without the system roots, or the system roots alone: never the environment's other CAs). */
#define CG_TRUST_ENV 0

struct cg_runtime {
    _Atomic long refs;
    struct cg_snapshot *snap;     /* owned reference */
    X509_STORE **trust;           /* [1 + n_upstreams + n_webhooks]; built at creation */
    size_t n_trust;
    pthread_mutex_t lock;         /* guards ctx[] creation only */
    SSL_CTX **ctx;                /* [(n_certs + 1) * n_trust], lazily built: (cert or none) x trust */
    char *system_ca_file;         /* NULL: OpenSSL's default paths */
    struct cg_tls_server *server; /* the ingress contexts (net/tls_server.h); NULL without sites */
};

/* Builds the runtime for snap (takes its own reference). Trust stores are built eagerly so that
 * a broken CA fails the reload, not a request. system_ca_file overrides the system roots
 * (tests); NULL uses OpenSSL's defaults. */
CG_RESULT cg_runtime_new(struct cg_snapshot *snap, const char *system_ca_file, struct cg_runtime **out,
                         struct cg_err *err);
struct cg_runtime *cg_runtime_ref(struct cg_runtime *rt);
void cg_runtime_unref(struct cg_runtime *rt);

/* The trust id for upstream u (index into snap->upstreams), or CG_TRUST_ENV for -1. */
size_t cg_runtime_trust_id(const struct cg_runtime *rt, int upstream);

/* The trust id for webhook w (index into snap->webhooks). */
size_t cg_runtime_webhook_trust_id(const struct cg_runtime *rt, int webhook);

/* The client SSL_CTX presenting certificate `cert` (index into snap->certs, or CG_PIN_NONE) and
 * trusting `trust`; built on first use and kept for the runtime's lifetime. Borrowed. */
SSL_CTX *cg_runtime_client_ctx(struct cg_runtime *rt, int cert, size_t trust, struct cg_err *err);

/* What went wrong in a TLS exchange with an upstream, from the peer's alert, the verify result
 * and the error queue. */
enum cg_tls_failure {
    CG_TLS_OK,
    CG_TLS_VERIFY_FAILED,       /* we did not trust the server's certificate */
    CG_TLS_CERT_REQUIRED,       /* the server wanted a client certificate and we sent none */
    CG_TLS_CERT_REJECTED,       /* the server refused the certificate we presented */
    CG_TLS_PROTOCOL,            /* anything else: versions, ciphers, garbage, closed mid-handshake */
};

struct cg_tls_error {
    enum cg_tls_failure kind;
    int alert;                  /* the alert the peer sent, or -1 */
    long verify_result;         /* X509_V_* when kind == CG_TLS_VERIFY_FAILED */
    bool asked_for_cert;        /* the server sent a CertificateRequest */
    char detail[256];           /* OpenSSL's reasons, for the message */
};

/* Records the alert a peer sends (install with SSL_set_info_callback on every client SSL; the
 * alert lands in the struct cg_tls_error set with cg_tls_error_attach). */
void cg_tls_info_cb(const SSL *ssl, int where, int ret);
void cg_tls_error_attach(SSL *ssl, struct cg_tls_error *e);
/* Classifies a failed SSL_connect/SSL_read/SSL_write (ssl_err = SSL_get_error's answer) and
 * drains the error queue. presented: whether a client certificate was sent. */
void cg_tls_classify(SSL *ssl, int ssl_err, bool presented, struct cg_tls_error *e);

/* The name of a TLS alert (RFC 8446 section 6): "bad_certificate", "unknown_ca" ...; "none" for
 * -1, "other" for one not listed. */
const char *cg_tls_alert_name(int alert);

/* SHA-256 of the peer certificate's SubjectPublicKeyInfo. */
CG_RESULT cg_tls_peer_spki_sha256(SSL *ssl, uint8_t out[32]);

#endif
