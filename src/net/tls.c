#include "net/tls.h"

#include "net/dial.h"
#include "net/tls_server.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "core/mem.h"
#include "pki/pki.h"

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void ex_init(void) { ex_index = SSL_get_ex_new_index(0, "cg_tls_error", NULL, NULL, NULL); }

static struct cg_tls_error *error_of(const SSL *ssl)
{
    pthread_once(&ex_once, ex_init);
    return ex_index >= 0 ? SSL_get_ex_data(ssl, ex_index) : NULL;
}

void cg_tls_error_attach(SSL *ssl, struct cg_tls_error *e)
{
    pthread_once(&ex_once, ex_init);
    memset(e, 0, sizeof(*e));
    e->alert = -1;
    SSL_set_ex_data(ssl, ex_index, e);
    SSL_set_info_callback(ssl, cg_tls_info_cb);
}

void cg_tls_info_cb(const SSL *ssl, int where, int ret)
{
    if (!(where & SSL_CB_READ_ALERT)) return;
    /* close_notify is an orderly close, not a verdict: only other alerts explain a failure */
    if ((ret & 0xff) == SSL_AD_CLOSE_NOTIFY) return;
    struct cg_tls_error *e = error_of(ssl);
    if (e && e->alert < 0) e->alert = ret & 0xff;
}

/* Called when the server asks for a certificate and this SSL has none to present. */
static int client_cert_cb(SSL *ssl, X509 **x509, EVP_PKEY **pkey)
{
    CG_UNUSED(x509);
    CG_UNUSED(pkey);
    struct cg_tls_error *e = error_of(ssl);
    if (e) e->asked_for_cert = true;
    return 0; /* present nothing */
}

static X509_STORE *store_new(const char *system_ca_file, bool system)
{
    X509_STORE *st = X509_STORE_new();
    if (!st) return NULL;
    if (system) {
        int ok = system_ca_file ? X509_STORE_load_file(st, system_ca_file) : X509_STORE_set_default_paths(st);
        if (!ok) {
            X509_STORE_free(st);
            return NULL;
        }
    }
    return st;
}

static int store_add(X509_STORE *st, STACK_OF(X509) *certs)
{
    for (int i = 0; i < sk_X509_num(certs); i++)
        if (!X509_STORE_add_cert(st, sk_X509_value(certs, i))) {
            /* the same CA in two bundles is not an error */
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE) return CG_ECERT;
            ERR_clear_error();
        }
    return 0;
}

/* Each webhook's own store (SPEC.md section 1, "Webhook"): its ca added to the system roots, or
 * its ca alone (ca-only), or the system roots alone when it names no ca. */
static int webhook_trust(struct cg_runtime *rt, const struct cg_snapshot *snap, const char *system_ca_file,
                         struct cg_err *err)
{
    for (size_t w = 0; w < snap->n_webhooks; w++) {
        const struct cg_snapshot_webhook *wh = &snap->webhooks[w];
        X509_STORE *st = store_new(system_ca_file, !wh->ca_only);
        if (!st) {
            cg_pki_drain_errors(NULL, 0);
            return cg_err_set(err, CG_ECERT, "webhook '%s': cannot load the system's trusted roots%s%s", wh->name,
                              system_ca_file ? " from " : "", system_ca_file ? system_ca_file : "");
        }
        rt->trust[1 + snap->n_upstreams + w] = st;
        if (wh->ca >= 0 && store_add(st, snap->certs[wh->ca].certs) < 0) {
            cg_pki_drain_errors(NULL, 0);
            return cg_err_set(err, CG_ECERT, "webhook '%s': ca '%s' cannot be added to its trust store", wh->name,
                              snap->certs[wh->ca].name);
        }
    }
    return 0;
}

int cg_runtime_new(struct cg_snapshot *snap, const char *system_ca_file, struct cg_runtime **out,
                   struct cg_err *err)
{
    struct cg_runtime *rt = cg_calloc(1, sizeof(*rt));
    CG_ENSURE(rt, CG_ENOMEM);
    atomic_init(&rt->refs, 1);
    pthread_mutex_init(&rt->lock, NULL);
    rt->snap = cg_snapshot_ref(snap);
    rt->n_trust = 1 + snap->n_upstreams + snap->n_webhooks;
    rt->trust = cg_calloc(rt->n_trust, sizeof(*rt->trust));
    rt->ctx = cg_calloc((snap->n_certs + 1) * rt->n_trust, sizeof(*rt->ctx));
    if (system_ca_file && !(rt->system_ca_file = cg_strdup(system_ca_file))) goto nomem;
    if (!rt->trust || !rt->ctx) goto nomem;
    rt->trust[CG_TRUST_ENV] = store_new(system_ca_file, true);
    if (!rt->trust[CG_TRUST_ENV]) {
        cg_pki_drain_errors(NULL, 0);
        cg_runtime_unref(rt);
        return cg_err_set(err, CG_ECERT, "cannot load the system's trusted roots%s%s", system_ca_file ? " from " : "",
                          system_ca_file ? system_ca_file : "");
    }
    for (size_t i = 0; i < snap->n_certs; i++)
        if (snap->certs[i].kind == CG_CERT_CA && store_add(rt->trust[CG_TRUST_ENV], snap->certs[i].certs) < 0) {
            cg_pki_drain_errors(NULL, 0);
            cg_runtime_unref(rt);
            return cg_err_set(err, CG_ECERT, "ca '%s' cannot be added to the trust store", snap->certs[i].name);
        }
    for (size_t u = 0; u < snap->n_upstreams; u++) {
        const struct cg_snapshot_upstream *up = &snap->upstreams[u];
        if (up->n_cas == 0) continue; /* environment trust */
        X509_STORE *st = store_new(NULL, false);
        if (!st) goto nomem;
        rt->trust[1 + u] = st;
        for (size_t k = 0; k < up->n_cas; k++)
            if (store_add(st, snap->certs[up->cas[k]].certs) < 0) {
                cg_pki_drain_errors(NULL, 0);
                cg_runtime_unref(rt);
                return cg_err_set(err, CG_ECERT, "upstream '%s': ca '%s' cannot be added to its trust store", up->name,
                                  snap->certs[up->cas[k]].name);
            }
    }
    int rc = webhook_trust(rt, snap, system_ca_file, err);
    if (rc < 0) {
        cg_runtime_unref(rt);
        return rc;
    }
    rc = snap->n_sites > 0 ? cg_tls_server_build(rt, err) : 0; /* the ingress contexts */
    if (rc < 0) {
        cg_runtime_unref(rt);
        return rc;
    }
    *out = rt;
    return 0;
nomem:
    cg_runtime_unref(rt);
    return cg_err_set(err, CG_ENOMEM, "out of memory building the TLS runtime");
}

struct cg_runtime *cg_runtime_ref(struct cg_runtime *rt)
{
    if (rt) atomic_fetch_add(&rt->refs, 1);
    return rt;
}

void cg_runtime_unref(struct cg_runtime *rt)
{
    if (!rt || atomic_fetch_sub(&rt->refs, 1) != 1) return;
    cg_tls_server_free(rt);
    size_t n_ctx = rt->snap ? (rt->snap->n_certs + 1) * rt->n_trust : 0;
    for (size_t i = 0; rt->ctx && i < n_ctx; i++) SSL_CTX_free(rt->ctx[i]);
    for (size_t i = 0; rt->trust && i < rt->n_trust; i++) X509_STORE_free(rt->trust[i]);
    cg_free(rt->ctx);
    cg_free(rt->trust);
    cg_free(rt->system_ca_file);
    cg_snapshot_unref(rt->snap);
    pthread_mutex_destroy(&rt->lock);
    cg_free(rt);
}

size_t cg_runtime_trust_id(const struct cg_runtime *rt, int upstream)
{
    if (upstream < 0 || rt->trust[1 + upstream] == NULL) return CG_TRUST_ENV;
    return 1 + (size_t)upstream;
}

size_t cg_runtime_webhook_trust_id(const struct cg_runtime *rt, int webhook)
{
    return 1 + rt->snap->n_upstreams + (size_t)webhook;
}

static SSL_CTX *ctx_build(struct cg_runtime *rt, int cert, size_t trust, struct cg_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) goto fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set1_cert_store(ctx, rt->trust[trust]);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    /* one read(2) per record instead of header and body separately */
    SSL_CTX_set_read_ahead(ctx, 1);
    /* Many servers close without close_notify; OpenSSL 3 calls that an error. The HTTP framing
     * already tells a complete message from a truncated one, so treat it as the EOF it is: the
     * egress then reports "upstream_closed" or retries a pooled connection. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, cg_dial_new_session_cb);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    if (cert >= 0) {
        const struct cg_snapshot_cert *c = &rt->snap->certs[cert];
        if (!c->leaf || !c->key) {
            SSL_CTX_free(ctx);
            return cg_err_set(err, CG_EINTERNAL, "certificate '%s' has no private key loaded", c->name), NULL;
        }
        if (SSL_CTX_use_certificate(ctx, c->leaf) != 1 || SSL_CTX_use_PrivateKey(ctx, c->key) != 1 ||
            SSL_CTX_set1_chain(ctx, c->certs) != 1 || SSL_CTX_check_private_key(ctx) != 1)
            goto fail;
    } else {
        SSL_CTX_set_client_cert_cb(ctx, client_cert_cb);
    }
    return ctx;
fail: {
    char detail[256];
    cg_pki_drain_errors(detail, sizeof(detail));
    SSL_CTX_free(ctx);
    cg_err_set(err, CG_EINTERNAL, "cannot build a TLS context: %s", detail);
    return NULL;
}
}

SSL_CTX *cg_runtime_client_ctx(struct cg_runtime *rt, int cert, size_t trust, struct cg_err *err)
{
    size_t slot = (size_t)(cert + 1) * rt->n_trust + trust;
    SSL_CTX *ctx = __atomic_load_n(&rt->ctx[slot], __ATOMIC_ACQUIRE);
    if (ctx) return ctx;
    pthread_mutex_lock(&rt->lock);
    ctx = rt->ctx[slot];
    if (!ctx && (ctx = ctx_build(rt, cert, trust, err))) __atomic_store_n(&rt->ctx[slot], ctx, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&rt->lock);
    return ctx;
}

void cg_tls_classify(SSL *ssl, int ssl_err, bool presented, struct cg_tls_error *e)
{
    char detail[256] = "";
    unsigned long first = ERR_peek_error();
    cg_pki_drain_errors(detail, sizeof(detail));
    memcpy(e->detail, detail, sizeof(e->detail));
    long vr = SSL_get_verify_result(ssl);
    bool verify_failed = first && ERR_GET_LIB(first) == ERR_LIB_SSL &&
                         ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED;
    if (verify_failed || (vr != X509_V_OK && !SSL_is_init_finished(ssl))) {
        e->kind = CG_TLS_VERIFY_FAILED;
        e->verify_result = vr;
        return;
    }
    switch (e->alert) {
    case SSL_AD_CERTIFICATE_REQUIRED:
        e->kind = presented ? CG_TLS_CERT_REJECTED : CG_TLS_CERT_REQUIRED;
        return;
    case SSL_AD_HANDSHAKE_FAILURE:
        /* TLS 1.2 servers answer a missing certificate with handshake_failure, and some a refused
         * one too: after the server's certificate came and passed (no shared cipher or version
         * fails before it), what is left to refuse is ours */
        if (presented)
            e->kind = SSL_get0_peer_certificate(ssl) ? CG_TLS_CERT_REJECTED : CG_TLS_PROTOCOL;
        else
            e->kind = e->asked_for_cert ? CG_TLS_CERT_REQUIRED : CG_TLS_PROTOCOL;
        return;
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_ACCESS_DENIED:
    case SSL_AD_DECRYPT_ERROR:
        e->kind = presented ? CG_TLS_CERT_REJECTED : (e->asked_for_cert ? CG_TLS_CERT_REQUIRED : CG_TLS_PROTOCOL);
        return;
    default: break;
    }
    CG_UNUSED(ssl_err);
    e->kind = CG_TLS_PROTOCOL;
}

const char *cg_tls_alert_name(int alert)
{
    switch (alert) {
    case SSL_AD_HANDSHAKE_FAILURE: return "handshake_failure";
    case SSL_AD_BAD_CERTIFICATE: return "bad_certificate";
    case SSL_AD_UNSUPPORTED_CERTIFICATE: return "unsupported_certificate";
    case SSL_AD_CERTIFICATE_REVOKED: return "certificate_revoked";
    case SSL_AD_CERTIFICATE_EXPIRED: return "certificate_expired";
    case SSL_AD_CERTIFICATE_UNKNOWN: return "certificate_unknown";
    case SSL_AD_ILLEGAL_PARAMETER: return "illegal_parameter";
    case SSL_AD_UNKNOWN_CA: return "unknown_ca";
    case SSL_AD_ACCESS_DENIED: return "access_denied";
    case SSL_AD_DECODE_ERROR: return "decode_error";
    case SSL_AD_DECRYPT_ERROR: return "decrypt_error";
    case SSL_AD_PROTOCOL_VERSION: return "protocol_version";
    case SSL_AD_INTERNAL_ERROR: return "internal_error";
    case SSL_AD_UNRECOGNIZED_NAME: return "unrecognized_name";
    case SSL_AD_CERTIFICATE_REQUIRED: return "certificate_required";
    case SSL_AD_NO_APPLICATION_PROTOCOL: return "no_application_protocol";
    case -1: return "none";
    default: return "other";
    }
}

int cg_tls_peer_spki_sha256(SSL *ssl, uint8_t out[32])
{
    X509 *peer = SSL_get0_peer_certificate(ssl);
    CG_ENSURE(peer, CG_ECERT);
    unsigned char *der = NULL;
    int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(peer), &der);
    CG_ENSURE(len > 0, CG_ECERT);
    SHA256(der, (size_t)len, out);
    OPENSSL_free(der);
    return 0;
}
