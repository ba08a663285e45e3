/* The ingress side of TLS (net/tls_server.h): per runtime, one verification store per site, one
 * SSL_CTX per domain, and the listener SSL_CTX whose ClientHello callback picks the domain by SNI.
 *
 * What OpenSSL takes from which context matters here. An SSL is made from the listener context
 * and moved to the domain's context by SSL_set_SSL_CTX in the ClientHello callback; that call
 * replaces the certificate (and with it the domain's verify store), the client-CA list, the cipher
 * list, the ALPN callback and the session id context, but NOT the options, mode, protocol versions,
 * verify parameters or ticket count, which the SSL copied from the listener at SSL_new; and the
 * session-ticket callbacks are always the listener's (OpenSSL calls them on the SSL's
 * session_ctx, the context it was made from). So every context gets the same settings
 * (ctx_new), and the verify mode is set on the SSL once the domain is known. */
#include "net/tls_server.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "config/snapshot.h"
#include "core/mem.h"
#include "core/slice.h"
#include "net/tickets.h"
#include "net/tls.h"
#include "pki/pki.h"

/* TLS 1.2: forward secrecy (ECDHE) and AEAD only, Mozilla's "intermediate" list. TLS 1.3 keeps
 * OpenSSL's default suites (all AEAD). */
static const char TLS12_CIPHERS[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
/* OpenSSL's default groups without finite-field DH: a client must not be able to make the server
 * compute an ffdhe8192 exchange per handshake. */
static const char GROUPS[] = "X25519:P-256:X448:P-384:P-521";

#define VERIFY_DEPTH 8           /* intermediates between a client certificate and its anchor */
#define SNI_MAX 253              /* RFC 1035 name length (without the trailing dot) */
#define APPDATA_MAX (16 * 1024)  /* a verified chain's issuers, kept in a ticket */
#define APPDATA_CERTS (VERIFY_DEPTH + 1)

struct domain_tls {
    SSL_CTX *ctx;                /* NULL: the domain has no server certificate */
    int verify_mode;             /* SSL_VERIFY_* for its site's mTLS mode */
};

struct cg_tls_server {
    SSL_CTX *listener;
    struct domain_tls *domains;  /* [snap->n_domains] */
    X509_STORE **stores;         /* [snap->n_sites]: client CAs and CRLs, shared by the site's contexts */
    size_t n_domains, n_sites;
};

/* ---- the accept record on the SSL ---- */

static int acc_index = -1;
static pthread_once_t acc_once = PTHREAD_ONCE_INIT;

static void acc_index_init(void) { acc_index = SSL_get_ex_new_index(0, "cg_tls_accept", NULL, NULL, NULL); }

static struct cg_tls_accept *accept_of(const SSL *ssl)
{
    pthread_once(&acc_once, acc_index_init);
    return acc_index >= 0 ? SSL_get_ex_data(ssl, acc_index) : NULL;
}

void cg_tls_server_detach(SSL *ssl)
{
    pthread_once(&acc_once, acc_index_init);
    if (acc_index >= 0) SSL_set_ex_data(ssl, acc_index, NULL);
    /* the ticket went out during the handshake (none is sent later: no SSL_new_session_ticket)
     * and the chain was read from a resumed one: the session needs the issuers no more */
    SSL_SESSION *sess = SSL_get_session(ssl);
    if (sess) SSL_SESSION_set1_ticket_appdata(sess, NULL, 0);
}

static void CG_PRINTF(2, 3) detail_set(struct cg_tls_accept *acc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(acc->detail, sizeof(acc->detail), fmt, ap);
    va_end(ap);
}

const char *cg_tls_verify_reason(long r)
{
    switch (r) {
    case X509_V_OK: return "";
    case X509_V_ERR_CERT_HAS_EXPIRED: return "expired";
    case X509_V_ERR_CERT_NOT_YET_VALID: return "not_yet_valid";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG: return "unknown_ca";
    case X509_V_ERR_CERT_REVOKED: return "revoked";
    case X509_V_ERR_INVALID_PURPOSE:
    case X509_V_ERR_CERT_REJECTED:
    case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE: return "wrong_usage";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: return "bad_signature";
    default: return "other";
    }
}

/* ---- client certificate verification ---- */

/* CRL checking is on for a site with any CRL, and then OpenSSL wants a CRL for every certificate
 * of the chain. An issuer the operator gave no CRL for is not checked (the certificate passes
 * that step); an issuer with a CRL that does not cover the certificate still fails. */
static int crl_tolerant(int ok, X509_STORE_CTX *x)
{
    if (ok || X509_STORE_CTX_get_error(x) != X509_V_ERR_UNABLE_TO_GET_CRL) return ok;
    X509 *cert = X509_STORE_CTX_get_current_cert(x);
    if (!cert) return 0;
    STACK_OF(X509_CRL) *crls = X509_STORE_CTX_get1_crls(x, X509_get_issuer_name(cert));
    int n = crls ? sk_X509_CRL_num(crls) : 0;
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    ERR_clear_error(); /* a lookup that found nothing may leave a note */
    if (n > 0) return 0;
    X509_STORE_CTX_set_error(x, X509_V_OK); /* or SSL_get_verify_result would still report it */
    return 1;
}

/* The first failure of a verification, for the log: OpenSSL's words, where in the chain (cur at
 * depth, when not the leaf), and the client certificate's subject (never anything secret). */
static void failure_record(struct cg_tls_accept *acc, long e, X509 *leaf, X509 *cur, int depth)
{
    if (acc->verify_result != X509_V_OK) return;
    if (e == X509_V_OK) e = X509_V_ERR_UNSPECIFIED;
    acc->failure = CG_TLS_ACCEPT_CERT_INVALID;
    acc->verify_result = e;
    acc->reason = cg_tls_verify_reason(e);
    char subject[112] = "", at[112] = "";
    if (leaf) cg_pki_subject_get(leaf, subject, sizeof(subject));
    if (cur && cur != leaf) cg_pki_subject_get(cur, at, sizeof(at));
    if (at[0])
        detail_set(acc, "%s: %s at depth %d (subject %s)", X509_verify_cert_error_string(e), at, depth, subject);
    else
        detail_set(acc, "%s (subject %s)", X509_verify_cert_error_string(e), subject);
}

static void verify_failure_record(struct cg_tls_accept *acc, X509_STORE_CTX *x)
{
    failure_record(acc, X509_STORE_CTX_get_error(x), X509_STORE_CTX_get0_cert(x), X509_STORE_CTX_get_current_cert(x),
                   X509_STORE_CTX_get_error_depth(x));
}

static int verify_cb(int ok, X509_STORE_CTX *x)
{
    ok = crl_tolerant(ok, x);
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct cg_tls_accept *acc = ssl ? accept_of(ssl) : NULL;
    if (acc) {
        acc->presented = true;
        if (!ok) verify_failure_record(acc, x);
    }
    return ok;
}

/* ---- the ClientHello: SNI picks the domain ---- */

static bool sni_char_ok(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/* The host_name of the server_name extension (RFC 6066 section 3), lowercased into acc; bytes no
 * host name has become '?' (so that the log shows them and no domain matches). 1: a usable name;
 * 0: no extension; -1: malformed; -2: a name no domain can have. */
static int sni_get(SSL *ssl, struct cg_tls_accept *acc)
{
    const unsigned char *p;
    size_t len;
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len)) return 0;
    struct cg_cursor c;
    cg_cursor_init(&c, cg_slice_make(p, len));
    uint16_t list_len, name_len;
    uint8_t type;
    struct cg_slice name;
    /* one entry, of type host_name (0): what OpenSSL itself accepts right after this callback */
    if (cg_cursor_u16be(&c, &list_len) < 0 || list_len != cg_cursor_left(&c) || cg_cursor_u8(&c, &type) < 0 ||
        type != TLSEXT_NAMETYPE_host_name || cg_cursor_u16be(&c, &name_len) < 0 ||
        cg_cursor_take(&c, name_len, &name) < 0 || cg_cursor_left(&c) != 0 || name_len == 0)
        return -1;
    bool clean = name.len <= SNI_MAX;
    size_t n = name.len < sizeof(acc->server_name) - 1 ? name.len : sizeof(acc->server_name) - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = name.ptr[i];
        if (ch >= 'A' && ch <= 'Z') ch = (uint8_t)(ch - 'A' + 'a');
        if (!sni_char_ok(ch)) {
            ch = '?';
            clean = false;
        }
        acc->server_name[i] = (char)ch;
    }
    acc->server_name[n] = '\0';
    return clean ? 1 : -2;
}

static int refuse(struct cg_tls_accept *acc, int *al, enum cg_tls_accept_failure why, int alert)
{
    acc->failure = why;
    *al = alert;
    return SSL_CLIENT_HELLO_ERROR;
}

static int client_hello_cb(SSL *ssl, int *al, void *arg)
{
    struct cg_runtime *rt = arg;
    struct cg_tls_server *srv = rt->server;
    struct cg_tls_accept *acc = accept_of(ssl);
    if (!acc || !srv) {
        *al = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    int prev = acc->domain; /* >= 0 on the second ClientHello after a HelloRetryRequest */
    switch (sni_get(ssl, acc)) {
    case 0:
        detail_set(acc, "the ClientHello names no server (no SNI)");
        return refuse(acc, al, CG_TLS_ACCEPT_NO_SNI, SSL_AD_UNRECOGNIZED_NAME);
    case -1:
        detail_set(acc, "malformed server_name extension");
        return refuse(acc, al, CG_TLS_ACCEPT_PROTOCOL, SSL_AD_DECODE_ERROR);
    case -2:
        detail_set(acc, "the server name is not a host name");
        return refuse(acc, al, CG_TLS_ACCEPT_UNKNOWN_SNI, SSL_AD_UNRECOGNIZED_NAME);
    default: break;
    }
    const struct cg_snapshot *snap = rt->snap;
    int d = cg_snapshot_domain_find(snap, cg_slice_str(acc->server_name));
    if (d < 0 || (size_t)d >= srv->n_domains) {
        detail_set(acc, "no site has the domain '%s'", acc->server_name);
        return refuse(acc, al, CG_TLS_ACCEPT_UNKNOWN_SNI, SSL_AD_UNRECOGNIZED_NAME);
    }
    if (prev >= 0 && prev != d) {
        detail_set(acc, "the second ClientHello names another server ('%s')", acc->server_name);
        return refuse(acc, al, CG_TLS_ACCEPT_PROTOCOL, SSL_AD_ILLEGAL_PARAMETER);
    }
    acc->domain = d;
    acc->site = snap->domains[d].site;
    const struct domain_tls *dt = &srv->domains[d];
    if (!dt->ctx) {
        detail_set(acc, "domain '%s' of site '%s' has no server certificate", snap->domains[d].host,
                   snap->sites[acc->site].name);
        return refuse(acc, al, CG_TLS_ACCEPT_NO_SERVER_CERT, SSL_AD_UNRECOGNIZED_NAME);
    }
    if (SSL_set_SSL_CTX(ssl, dt->ctx) != dt->ctx) {
        detail_set(acc, "out of memory switching to the domain's TLS context");
        return refuse(acc, al, CG_TLS_ACCEPT_PROTOCOL, SSL_AD_INTERNAL_ERROR);
    }
    SSL_set_verify(ssl, dt->verify_mode, verify_cb);
    return SSL_CLIENT_HELLO_SUCCESS;
}

/* Until the handshake completes, failure says PROTOCOL unless a cause was recorded; the alert we
 * send while reading the client's Certificate, when it presented none, means a required
 * certificate is missing (certificate_required in TLS 1.3, handshake_failure in 1.2). */
static void info_cb(const SSL *ssl, int where, int ret)
{
    struct cg_tls_accept *acc = accept_of(ssl);
    if (!acc) return;
    if (where & SSL_CB_HANDSHAKE_DONE) {
        if (acc->failure == CG_TLS_ACCEPT_PROTOCOL) acc->failure = CG_TLS_ACCEPT_OK;
        return;
    }
    if (!(where & SSL_CB_ALERT) || (ret >> 8) != SSL3_AL_FATAL || acc->failure != CG_TLS_ACCEPT_PROTOCOL) return;
    int alert = ret & 0xff;
    bool sent = (where & SSL_CB_WRITE) != 0;
    if (sent && !acc->presented && SSL_get_state(ssl) == TLS_ST_SR_CERT &&
        (alert == SSL_AD_CERTIFICATE_REQUIRED || alert == SSL_AD_HANDSHAKE_FAILURE)) {
        acc->failure = CG_TLS_ACCEPT_CERT_REQUIRED;
        acc->reason = "no_certificate";
        detail_set(acc, "the client presented no certificate");
        return;
    }
    if (!acc->detail[0])
        detail_set(acc, "%s alert %s", sent ? "sent" : "received", SSL_alert_desc_string_long(ret));
}

/* ---- tickets carry the verified chain ---- */

/* A ticket holds the session, which keeps the client's certificate but not the chain it was
 * verified with. The chain's issuers go into the ticket's application data (encrypted and
 * authenticated with it), so that a resumed session has its chain without verifying signatures
 * again: the session id context binds the ticket to the site's exact CAs, CRLs and mode, so only
 * time can have changed since (cg_tls_server_client_chain checks it). A chain that cannot be
 * carried (too large, out of memory) makes a ticket that has expired already: that client makes a
 * full handshake next time rather than resume without its chain. */
static int ticket_gen_cb(SSL *ssl, void *arg)
{
    CG_UNUSED(arg);
    SSL_SESSION *sess = SSL_get_session(ssl);
    void *old = NULL;
    size_t old_len = 0;
    if (!sess || (SSL_SESSION_get0_ticket_appdata(sess, &old, &old_len) && old_len > 0)) return 1; /* renewed */
    if (!SSL_get0_peer_certificate(ssl)) return 1; /* no client certificate */
    /* NULL after cg_tls_server_detach dropped a resumed session's issuers (no ticket is issued
     * after the handshake, but if one were, it must not resume without its chain) */
    STACK_OF(X509) *chain = SSL_get0_verified_chain(ssl);
    unsigned char buf[APPDATA_MAX];
    size_t len = 0;
    bool ok = chain && sk_X509_num(chain) > 1 && sk_X509_num(chain) <= APPDATA_CERTS + 1;
    for (int i = 1; ok && i < sk_X509_num(chain); i++) { /* the leaf is in the session */
        int n = i2d_X509(sk_X509_value(chain, i), NULL);
        unsigned char *p = buf + len;
        ok = n > 0 && (size_t)n <= sizeof(buf) - len && i2d_X509(sk_X509_value(chain, i), &p) == n;
        len += ok ? (size_t)n : 0;
    }
    if (!ok || SSL_SESSION_set1_ticket_appdata(sess, buf, len) != 1) SSL_SESSION_set_timeout(sess, 0);
    ERR_clear_error();
    return 1;
}

/* rt's own parsed copy of x when the site's bundles hold it (then x is freed), else x: a resumed
 * chain then holds references to the configuration's CA certificates, not decoded copies of them
 * (a few KiB each, for as long as the connection lives). */
static X509 *shared_copy(const struct cg_runtime *rt, int site, X509 *x)
{
    const struct cg_snapshot *snap = rt ? rt->snap : NULL;
    if (!snap || site < 0 || (size_t)site >= snap->n_sites) return x;
    const struct cg_snapshot_site *s = &snap->sites[site];
    for (size_t i = 0; i < s->n_client_cas; i++) {
        STACK_OF(X509) *certs = snap->certs[s->client_cas[i]].certs;
        for (int k = 0; k < sk_X509_num(certs); k++) {
            X509 *c = sk_X509_value(certs, k);
            if (X509_cmp(c, x) == 0 && X509_up_ref(c)) {
                X509_free(x);
                return c;
            }
        }
    }
    return x;
}

/* The issuers from the ticket, all of them or NULL. */
static STACK_OF(X509) *ticket_issuers(SSL *ssl, const struct cg_runtime *rt, int site)
{
    void *data = NULL;
    size_t len = 0;
    SSL_SESSION *sess = SSL_get_session(ssl);
    if (!sess || !SSL_SESSION_get0_ticket_appdata(sess, &data, &len) || len == 0 || len > APPDATA_MAX) return NULL;
    STACK_OF(X509) *out = sk_X509_new_null();
    const unsigned char *p = data, *end = p + len;
    while (out && p < end) {
        X509 *x = sk_X509_num(out) < APPDATA_CERTS ? d2i_X509(NULL, &p, end - p) : NULL;
        if (x) x = shared_copy(rt, site, x);
        if (!x || !sk_X509_push(out, x)) {
            X509_free(x);
            sk_X509_pop_free(out, X509_free);
            out = NULL;
        }
    }
    ERR_clear_error();
    return out;
}

/* ---- ALPN: HTTP/1.1 when offered, else no ALPN at all ---- */

static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned int inlen, void *arg)
{
    CG_UNUSED(ssl);
    CG_UNUSED(arg);
    struct cg_cursor c;
    cg_cursor_init(&c, cg_slice_make(in, inlen));
    uint8_t n;
    struct cg_slice proto;
    while (cg_cursor_u8(&c, &n) == 0 && cg_cursor_take(&c, n, &proto) == 0)
        if (cg_slice_eq_str(proto, "http/1.1")) {
            *out = proto.ptr;
            *outlen = n;
            return SSL_TLSEXT_ERR_OK;
        }
    return SSL_TLSEXT_ERR_NOACK;
}

/* ---- building ---- */

/* The settings every ingress context shares (see the top of the file for why all of them). */
static SSL_CTX *ctx_new(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return NULL;
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 || SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
        SSL_CTX_set1_groups_list(ctx, GROUPS) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* IGNORE_UNEXPECTED_EOF: clients close without close_notify all the time; the HTTP framing
     * tells a complete message from a cut one */
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_ENABLE_PARTIAL_WRITE);
    /* one read(2) per record rather than one for the header and one for the body; the proxy
     * engine looks at SSL_has_pending before it waits for the poll */
    SSL_CTX_set_read_ahead(ctx, 1);
    /* stateless tickets only: no per-session memory in the server */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    SSL_CTX_set_session_ticket_cb(ctx, ticket_gen_cb, NULL, NULL);
    cg_tickets_attach(ctx);
    return ctx;
}

/* OpenSSL's reasons for a failure just seen (the queue is drained). */
static const char *ssl_detail(char *buf, size_t n)
{
    cg_pki_drain_errors(buf, n);
    return buf[0] ? buf : "OpenSSL gave no reason";
}

/* Whether the site's bundles hold the issuer of x (or x is a root). */
static bool issuer_held(const struct cg_snapshot *snap, const struct cg_snapshot_site *site, X509 *x)
{
    if (X509_self_signed(x, 0) == 1) return true;
    for (size_t i = 0; i < site->n_client_cas; i++) {
        STACK_OF(X509) *certs = snap->certs[site->client_cas[i]].certs;
        for (int k = 0; k < sk_X509_num(certs); k++)
            if (X509_check_issued(sk_X509_value(certs, k), x) == X509_V_OK) return true;
    }
    return false;
}

/* Adds a bundle certificate. One whose issuer the site does not hold (an intermediate given
 * without its root) becomes a trust anchor for client authentication, through an auxiliary trust
 * setting on a copy: its certificates verify, and the chain ends there. The other certificates
 * stay plain, so that a chain through them still ends at its root and the access check sees every
 * CA a profile may select (X509_V_FLAG_PARTIAL_CHAIN would cut every chain at the first bundle
 * certificate instead). */
static bool anchor_add(X509_STORE *st, X509 *x, bool orphan)
{
    X509 *copy = orphan ? X509_dup(x) : NULL;
    if (orphan && (!copy || X509_add1_trust_object(copy, OBJ_nid2obj(NID_client_auth)) != 1)) {
        X509_free(copy);
        return false;
    }
    int ok = X509_STORE_add_cert(st, copy ? copy : x);
    X509_free(copy);
    if (ok) return true;
    /* the same CA in two bundles is not an error */
    if (ERR_GET_REASON(ERR_peek_last_error()) != X509_R_CERT_ALREADY_IN_HASH_TABLE) return false;
    ERR_clear_error();
    return true;
}

static bool crls_add(X509_STORE *st, STACK_OF(X509_CRL) *crls)
{
    for (int i = 0; i < sk_X509_CRL_num(crls); i++)
        if (!X509_STORE_add_crl(st, sk_X509_CRL_value(crls, i))) {
            if (ERR_GET_REASON(ERR_peek_last_error()) != X509_R_CERT_ALREADY_IN_HASH_TABLE) return false;
            ERR_clear_error();
        }
    return true;
}

static bool bundle_add(X509_STORE *st, const struct cg_snapshot *snap, const struct cg_snapshot_site *site,
                       const struct cg_snapshot_cert *ca)
{
    for (int k = 0; k < sk_X509_num(ca->certs); k++) {
        X509 *x = sk_X509_value(ca->certs, k);
        if (!anchor_add(st, x, !issuer_held(snap, site, x))) return false;
    }
    return crls_add(st, ca->crls);
}

/* The site's client CAs and their CRLs. */
static int store_build(const struct cg_snapshot *snap, const struct cg_snapshot_site *site, X509_STORE **out,
                       struct cg_err *err)
{
    X509_STORE *st = X509_STORE_new();
    if (!st) return cg_err_set(err, CG_ENOMEM, "out of memory building site '%s'", site->name);
    bool crls = false;
    for (size_t i = 0; i < site->n_client_cas; i++) {
        const struct cg_snapshot_cert *ca = &snap->certs[site->client_cas[i]];
        if (!bundle_add(st, snap, site, ca)) {
            X509_STORE_free(st);
            char detail[256];
            cg_err_set(err, CG_ECERT, "site '%s': client ca '%s' cannot be added to its verification store: %s",
                       site->name, ca->name, ssl_detail(detail, sizeof(detail)));
            return cg_err_hint(err, "check the bundle with: certgate cert show %s", ca->name);
        }
        crls |= sk_X509_CRL_num(ca->crls) > 0;
    }
    if (crls) X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    X509_STORE_set_depth(st, VERIFY_DEPTH);
    X509_STORE_set_purpose(st, X509_PURPOSE_SSL_CLIENT); /* a leaf without clientAuth fails */
    *out = st;
    return 0;
}

/* The mTLS domain is always `required`. A `required` site's other domains ask for nothing when
 * the site has an mTLS domain: the ingress answers them 403 naming that domain (SPEC.md section 4),
 * which needs a completed handshake. */
static int verify_mode_of(const struct cg_snapshot_site *site, const struct cg_snapshot_domain *d)
{
    enum cg_mtls_mode m = d->mtls_domain ? CG_MTLS_REQUIRED : site->mtls;
    if (!d->mtls_domain && m == CG_MTLS_REQUIRED && site->mtls_domain) m = CG_MTLS_OFF;
    if (m == CG_MTLS_OFF) return SSL_VERIFY_NONE;
    if (m == CG_MTLS_OPTIONAL) return SSL_VERIFY_PEER;
    return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
}

static bool digest_update_x509(EVP_MD_CTX *md, X509 *x)
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    return X509_digest(x, EVP_sha256(), h, &n) == 1 && EVP_DigestUpdate(md, h, n) == 1;
}

static bool digest_update_crl(EVP_MD_CTX *md, X509_CRL *c)
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    return X509_CRL_digest(c, EVP_sha256(), h, &n) == 1 && EVP_DigestUpdate(md, h, n) == 1;
}

/* The session id context: SHA-256 of what decides whether a session may be resumed here -- the
 * site, the verify mode and every certificate and CRL the client was verified against -- so that a
 * session never resumes into another site, a stricter mode, another CA set or another CRL, and
 * the chain a ticket carries was verified under exactly the policy in force. The revision is not
 * in it: an unrelated change (a pin, another site) keeps sessions resumable. */
static bool sid_ctx_make(const struct cg_snapshot *snap, const struct cg_snapshot_site *site, int mode,
                         unsigned char out[SSL_MAX_SID_CTX_LENGTH])
{
    static const char tag[] = "certgate ingress 1";
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char m[4] = {(unsigned char)mode, 0, 0, 0};
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, tag, sizeof(tag)) == 1 &&
              EVP_DigestUpdate(md, site->name, strlen(site->name) + 1) == 1 && EVP_DigestUpdate(md, m, 4) == 1;
    for (size_t i = 0; ok && mode != SSL_VERIFY_NONE && i < site->n_client_cas; i++) {
        const struct cg_snapshot_cert *ca = &snap->certs[site->client_cas[i]];
        for (int k = 0; ok && k < sk_X509_num(ca->certs); k++) ok = digest_update_x509(md, sk_X509_value(ca->certs, k));
        for (int k = 0; ok && k < sk_X509_CRL_num(ca->crls); k++)
            ok = digest_update_crl(md, sk_X509_CRL_value(ca->crls, k));
    }
    unsigned int n = 0;
    ok = ok && EVP_DigestFinal_ex(md, out, &n) == 1 && n == SSL_MAX_SID_CTX_LENGTH;
    EVP_MD_CTX_free(md);
    return ok;
}

/* The CertificateRequest's names: every certificate of the site's bundles, once. */
static bool ca_names_add(SSL_CTX *ctx, const struct cg_snapshot *snap, const struct cg_snapshot_site *site)
{
    for (size_t i = 0; i < site->n_client_cas; i++) {
        STACK_OF(X509) *certs = snap->certs[site->client_cas[i]].certs;
        for (int k = 0; k < sk_X509_num(certs); k++) {
            X509 *x = sk_X509_value(certs, k);
            STACK_OF(X509_NAME) *have = SSL_CTX_get_client_CA_list(ctx);
            bool dup = false;
            for (int j = 0; !dup && j < sk_X509_NAME_num(have); j++)
                dup = X509_NAME_cmp(sk_X509_NAME_value(have, j), X509_get_subject_name(x)) == 0;
            if (!dup && SSL_CTX_add_client_CA(ctx, x) != 1) return false;
        }
    }
    return true;
}

static int domain_build(struct cg_runtime *rt, size_t di, X509_STORE *store, struct domain_tls *out,
                        struct cg_err *err)
{
    const struct cg_snapshot *snap = rt->snap;
    const struct cg_snapshot_domain *d = &snap->domains[di];
    const struct cg_snapshot_site *site = &snap->sites[d->site];
    out->verify_mode = verify_mode_of(site, d);
    if (d->cert < 0) return 0; /* handshakes for it are refused (a warning was logged at load) */
    const struct cg_snapshot_cert *c = &snap->certs[d->cert];
    if (!c->leaf || !c->key) {
        cg_err_set(err, CG_ECERT, "site '%s', domain '%s': server certificate '%s' has no private key loaded",
                   site->name, d->host, c->name);
        return cg_err_hint(err, "the daemon unseals private keys with the master key: check master_key in its "
                                "configuration");
    }
    unsigned char sid[SSL_MAX_SID_CTX_LENGTH];
    SSL_CTX *ctx = ctx_new();
    if (!ctx || SSL_CTX_use_certificate(ctx, c->leaf) != 1 || SSL_CTX_use_PrivateKey(ctx, c->key) != 1 ||
        SSL_CTX_set1_chain(ctx, c->certs) != 1 || SSL_CTX_check_private_key(ctx) != 1 ||
        !sid_ctx_make(snap, site, out->verify_mode, sid) || SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid)) != 1 ||
        SSL_CTX_set1_verify_cert_store(ctx, store) != 1 ||
        (out->verify_mode != SSL_VERIFY_NONE && !ca_names_add(ctx, snap, site))) {
        SSL_CTX_free(ctx);
        char detail[256];
        cg_err_set(err, CG_ECERT, "site '%s', domain '%s': server certificate '%s' cannot be used: %s", site->name,
                   d->host, c->name, ssl_detail(detail, sizeof(detail)));
        return cg_err_hint(err, "import the certificate again with the private key that belongs to it");
    }
    SSL_CTX_set_verify(ctx, out->verify_mode, verify_cb);
    out->ctx = ctx;
    return 0;
}

static int listener_build(struct cg_runtime *rt, struct cg_tls_server *srv, struct cg_err *err)
{
    static const unsigned char sid[] = "certgate ingress listener";
    srv->listener = ctx_new();
    if (!srv->listener || SSL_CTX_set_session_id_context(srv->listener, sid, sizeof(sid) - 1) != 1) {
        char detail[256];
        return cg_err_set(err, CG_EINTERNAL, "cannot build the ingress TLS context: %s",
                          ssl_detail(detail, sizeof(detail)));
    }
    SSL_CTX_set_client_hello_cb(srv->listener, client_hello_cb, rt);
    return 0;
}

static void server_free(struct cg_tls_server *srv)
{
    if (!srv) return;
    for (size_t i = 0; srv->domains && i < srv->n_domains; i++) SSL_CTX_free(srv->domains[i].ctx);
    for (size_t i = 0; srv->stores && i < srv->n_sites; i++) X509_STORE_free(srv->stores[i]);
    SSL_CTX_free(srv->listener);
    cg_free(srv->domains);
    cg_free(srv->stores);
    cg_free(srv);
}

int cg_tls_server_build(struct cg_runtime *rt, struct cg_err *err)
{
    const struct cg_snapshot *snap = rt->snap;
    pthread_once(&acc_once, acc_index_init);
    struct cg_tls_server *srv = cg_calloc(1, sizeof(*srv));
    if (srv) {
        srv->n_sites = snap->n_sites;
        srv->n_domains = snap->n_domains;
        srv->stores = cg_calloc(snap->n_sites ? snap->n_sites : 1, sizeof(*srv->stores));
        srv->domains = cg_calloc(snap->n_domains ? snap->n_domains : 1, sizeof(*srv->domains));
    }
    if (!srv || !srv->stores || !srv->domains || acc_index < 0) {
        server_free(srv);
        return cg_err_set(err, CG_ENOMEM, "out of memory building the ingress TLS contexts");
    }
    int rc = 0;
    for (size_t s = 0; rc == 0 && s < snap->n_sites; s++) rc = store_build(snap, &snap->sites[s], &srv->stores[s], err);
    for (size_t d = 0; rc == 0 && d < snap->n_domains; d++)
        rc = domain_build(rt, d, srv->stores[snap->domains[d].site], &srv->domains[d], err);
    if (rc == 0) rc = listener_build(rt, srv, err);
    if (rc < 0) {
        server_free(srv);
        return rc;
    }
    rt->server = srv;
    return 0;
}

void cg_tls_server_free(struct cg_runtime *rt)
{
    server_free(rt->server);
    rt->server = NULL;
}

SSL *cg_tls_server_ssl_new(struct cg_runtime *rt, struct cg_tls_accept *acc)
{
    if (!rt->server) return NULL;
    SSL *ssl = SSL_new(rt->server->listener);
    if (!ssl) {
        ERR_clear_error();
        return NULL;
    }
    memset(acc, 0, sizeof(*acc));
    acc->failure = CG_TLS_ACCEPT_PROTOCOL; /* until the handshake completes or a cause is known */
    acc->domain = acc->site = -1;
    acc->verify_result = X509_V_OK;
    acc->reason = "";
    SSL_set_ex_data(ssl, acc_index, acc);
    SSL_set_info_callback(ssl, info_cb);
    SSL_set_accept_state(ssl);
    return ssl;
}

/* Every certificate of the chain within its validity period now (what X509_verify_cert checks
 * of time); the first that is not is recorded. */
static bool chain_times_ok(STACK_OF(X509) *chain, struct cg_tls_accept *acc)
{
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *x = sk_X509_value(chain, i);
        long e = X509_V_OK;
        if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) e = X509_V_ERR_CERT_NOT_YET_VALID;
        else if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) e = X509_V_ERR_CERT_HAS_EXPIRED;
        if (e != X509_V_OK) {
            failure_record(acc, e, sk_X509_value(chain, 0), x, i);
            return false;
        }
    }
    return true;
}

/* A resumed session: the chain verified in its full handshake, from the ticket, checked again
 * for time (an expired certificate is as invalid as in a full handshake). */
static STACK_OF(X509) *resumed_chain(SSL *ssl, X509 *peer, const struct cg_runtime *rt, struct cg_tls_accept *acc)
{
    STACK_OF(X509) *chain = ticket_issuers(ssl, rt, acc->site);
    if (!chain || !sk_X509_insert(chain, peer, 0)) {
        sk_X509_pop_free(chain, X509_free);
        acc->failure = CG_TLS_ACCEPT_CERT_INVALID;
        acc->reason = "other";
        detail_set(acc, "the resumed session carries no verified chain");
        return NULL;
    }
    X509_up_ref(peer);
    if (chain_times_ok(chain, acc)) return chain;
    sk_X509_pop_free(chain, X509_free);
    return NULL;
}

STACK_OF(X509) *cg_tls_server_client_chain(SSL *ssl, struct cg_runtime *rt, struct cg_tls_accept *acc, bool *owned)
{
    *owned = false;
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (!peer) return NULL;
    acc->presented = true;
    if (!SSL_session_reused(ssl)) {
        STACK_OF(X509) *v = SSL_get0_verified_chain(ssl);
        if (!v) {
            acc->reason = "other";
            detail_set(acc, "no verified chain for the client certificate");
        }
        return v;
    }
    /* the ticket's chain was verified against rt's policy (the session id context) */
    STACK_OF(X509) *chain = resumed_chain(ssl, peer, rt, acc);
    *owned = chain != NULL;
    return chain;
}
