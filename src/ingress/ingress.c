/* The ingress session: the proxy engine (proxy/proxy.h) behind a TLS handshake, with the site's
 * policy applied to every request on the configuration current at that request (a mode, rule or
 * CA change reaches established connections at their next request, without closing them). */
#include "ingress/ingress.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "config/site.h"
#include "config/snapshot.h"
#include "core/mem.h"
#include "core/str.h"
#include "net/tls_server.h"

/* An idle connection is parked after a second (proxy/park.h): a client that comes back sooner,
 * as keep-alive clients under load do, finds its session as it left it. */
#define PARK_AFTER_MS 1000

void cg_ingress_config_defaults(struct cg_ingress_config *c)
{
    memset(c, 0, sizeof(*c));
    cg_proxy_config_defaults(&c->proxy);
    c->proxy.release_idle_buffers = true;
    c->proxy.park_after_ms = PARK_AFTER_MS;
}

/* What the connection keeps of its handshake, for all its requests; parked with it. */
struct conn_facts {
    struct cg_runtime *hs_rt;     /* the configuration of the handshake */
    STACK_OF(X509) *chain;        /* a resumed session's verified chain; NULL: the SSL's own (a full
                                   * handshake: SSL_get0_verified_chain), or none */
    const char *hs_reason;        /* the client certificate's verification verdict, for the log */
    int hs_site;                  /* the site of the handshake (index in hs_rt's snapshot) */
    bool cert;                    /* the client presented a certificate that verified */
    char sni[];                   /* the server name of the handshake, lowercase */
};

/* The client certificate's facts, as the backend receives them: made at the first request the
 * certificate counts for, kept with the session (so not while the connection is parked). Inside
 * the session rather than on the heap, as far as they fit: a connection that parks frees it whole. */
#define IDENTITY_TEXT 512

struct identity {
    bool made;
    const char *xfcc;      /* X-Forwarded-Client-Cert value */
    const char *subject, *issuer; /* RFC 2253 */
    char serial[96];       /* hex */
    char sha256[65];       /* lowercase hex of the DER */
    char not_after[32];    /* RFC 3339 */
    char *heap;            /* the three strings when they do not fit in text */
    char text[IDENTITY_TEXT]; /* xfcc, subject and issuer, one after the other */
};

struct ingress {
    struct cg_proxy p; /* first */
    struct cg_runtime *hs_rt;     /* during the handshake: its configuration (acc's indexes refer to
                                   * it); then in c */
    struct cg_tls_accept *acc;    /* during the handshake only */
    struct conn_facts *c;         /* after the handshake */
    struct identity id;           /* of the client certificate, once made */

    /* the request in flight: valid only while request_no is p->requests (they point into p->rt's
     * snapshot, which a later request may no longer hold) */
    uint64_t request_no;
    const char *site;             /* name, in p->rt's snapshot */
    struct cg_access_verdict verdict;
    bool decided;                 /* verdict is set */
    const char *mtls_domain;      /* for the answer that names it */
    bool cert_ok;                 /* the chain counts for this request's site */

    /* the backend the last request went to, to spare the pool lookup */
    struct {
        uint64_t gen;
        int site;
        struct cg_pool_entry *entry;
    } backend;
};

/* ---- the client's identity ---- */

static char *name_text(X509_NAME *n)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b) return NULL;
    char *out = NULL;
    if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0) {
        char *p;
        long len = BIO_get_mem_data(b, &p);
        out = cg_malloc((size_t)len + 1);
        if (out) {
            memcpy(out, p, (size_t)len);
            out[len] = '\0';
            /* RFC 2253 escapes control and non-ASCII bytes; a header value gets nothing else */
            for (char *c = out; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
        }
    }
    BIO_free(b);
    return out;
}

/* Appends "key=value", quoting the value as Envoy does when it holds , ; = or " (RFC 7239 style). */
static int xfcc_field(struct cg_buf *b, const char *key, const char *value, size_t len)
{
    if (b->len) CG_GUARD(cg_buf_append(b, ";", 1));
    CG_GUARD(cg_buf_append_str(b, key));
    CG_GUARD(cg_buf_append(b, "=", 1));
    bool quote = false;
    for (size_t i = 0; i < len; i++)
        if (strchr(",;=\"", value[i]) || value[i] == ' ') quote = true;
    if (quote) CG_GUARD(cg_buf_append(b, "\"", 1));
    size_t run = 0; /* plain bytes go out in runs */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        bool control = c < 0x20 || c == 0x7f, escape = c == '"' || c == '\\';
        if (!control && !escape) continue;
        CG_GUARD(cg_buf_append(b, value + run, i - run));
        CG_GUARD(control ? cg_buf_append(b, "?", 1) : cg_buf_append(b, (const char[]){'\\', (char)c}, 2));
        run = i + 1;
    }
    CG_GUARD(cg_buf_append(b, value + run, len - run));
    if (quote) CG_GUARD(cg_buf_append(b, "\"", 1));
    return 0;
}

static void identity_clear(struct identity *id)
{
    cg_free(id->heap);
    id->heap = NULL;
    id->made = false;
}

/* Appends the X-Forwarded-Client-Cert value of leaf (whose SHA-256 is in id) and a NUL. */
static int xfcc_append(struct cg_buf *b, const struct identity *id, const char *subject, X509 *leaf)
{
    int rc = xfcc_field(b, "Hash", id->sha256, 64);
    if (!rc) rc = xfcc_field(b, "Subject", subject, strlen(subject));
    GENERAL_NAMES *sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    for (int kind = 0; kind < 2 && !rc; kind++) { /* URIs first, then DNS names, as Envoy writes them */
        for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && !rc; i++) {
            const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
            int want = kind == 0 ? GEN_URI : GEN_DNS;
            if (g->type != want) continue;
            const ASN1_IA5STRING *s = kind == 0 ? g->d.uniformResourceIdentifier : g->d.dNSName;
            rc = xfcc_field(b, kind == 0 ? "URI" : "DNS", (const char *)ASN1_STRING_get0_data(s),
                            (size_t)ASN1_STRING_length(s));
        }
    }
    GENERAL_NAMES_free(sans);
    return rc ? rc : cg_buf_append(b, "", 1);
}

/* The text strings, one after the other in b, into id: into its own text when they fit (b is
 * freed), else b's memory becomes id->heap. */
static void identity_texts(struct identity *id, struct cg_buf *b, size_t subject_at, size_t issuer_at)
{
    char *t = (char *)b->ptr;
    if (b->len <= sizeof(id->text)) {
        memcpy(id->text, b->ptr, b->len);
        t = id->text;
        cg_buf_cleanup(b);
    } else {
        id->heap = t;
    }
    id->xfcc = t;
    id->subject = t + subject_at;
    id->issuer = t + issuer_at;
}

static int identity_make(struct identity *id, X509 *leaf)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!X509_digest(leaf, EVP_sha256(), md, &mdlen) || mdlen != 32) return CG_ECERT;
    cg_hex_encode(md, 32, id->sha256);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    cg_strlcpy(id->serial, hex ? hex : "", sizeof(id->serial));
    OPENSSL_free(hex);
    BN_free(bn);
    struct tm tm;
    id->not_after[0] = '\0';
    if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm))
        strftime(id->not_after, sizeof(id->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);

    char *subject = name_text(X509_get_subject_name(leaf));
    char *issuer = name_text(X509_get_issuer_name(leaf));
    struct cg_buf b;
    cg_buf_init(&b, 16384);
    size_t subject_at = 0, issuer_at = 0;
    int rc = subject && issuer ? xfcc_append(&b, id, subject, leaf) : CG_ENOMEM;
    if (!rc) {
        subject_at = b.len;
        rc = cg_buf_append(&b, subject, strlen(subject) + 1);
    }
    if (!rc) {
        issuer_at = b.len;
        rc = cg_buf_append(&b, issuer, strlen(issuer) + 1);
    }
    cg_free(subject);
    cg_free(issuer);
    if (rc) {
        cg_buf_cleanup(&b);
        return rc;
    }
    identity_texts(id, &b, subject_at, issuer_at);
    id->made = true;
    return 0;
}

/* ---- hooks ---- */

/* Whether the request fields were set for the request being answered (not a previous one: a head
 * refused before routing, 400/408/413/431, never reached request()). */
static bool request_current(const struct ingress *s)
{
    return s->p.rt && s->request_no == s->p.requests;
}

/* The name of the site the handshake chose, "-" when none (the connection holds its runtime). */
static const char *handshake_site(const struct ingress *s)
{
    const struct cg_runtime *rt = s->c ? s->c->hs_rt : s->hs_rt;
    const struct cg_snapshot *snap = rt ? rt->snap : NULL;
    int site = s->acc ? s->acc->site : s->c ? s->c->hs_site : -1;
    return snap && site >= 0 && (size_t)site < snap->n_sites ? snap->sites[site].name : "-";
}

/* The client's verified chain (leaf first), or NULL. */
static STACK_OF(X509) *client_chain(const struct ingress *s)
{
    if (!s->c || !s->c->cert) return NULL;
    return s->c->chain ? s->c->chain : SSL_get0_verified_chain(s->p.client.ssl);
}

static void log_fill(struct cg_proxy *p, struct cg_access_entry *e)
{
    struct ingress *s = (struct ingress *)p;
    bool current = request_current(s);
    if (s->id.made && current && s->cert_ok) {
        e->cert = s->id.subject;
        e->fingerprint = s->id.sha256;
    }
    if (p->client.ssl) {
        e->tls_version = SSL_get_version(p->client.ssl);
        e->resumed = SSL_session_reused(p->client.ssl);
    }
    e->site = current && s->site ? s->site : handshake_site(s);
    if (current && s->decided) {
        e->rule = s->verdict.rule;
        e->profile = s->verdict.profile;
        e->reason = s->verdict.reason;
    } else if (s->c && s->c->hs_reason && s->c->hs_reason[0]) {
        e->reason = s->c->hs_reason;
    }
}

static void error_fields(struct cg_proxy *p, json_t *o)
{
    struct ingress *s = (struct ingress *)p;
    bool current = request_current(s);
    const char *site = current && s->site ? s->site : handshake_site(s);
    json_object_set_new(o, "site", strcmp(site, "-") ? json_string(site) : json_null());
    if (current && s->decided && !s->verdict.allowed) {
        json_object_set_new(o, "rule", s->verdict.rule ? json_string(s->verdict.rule) : json_null());
        json_object_set_new(o, "profile", s->verdict.profile ? json_string(s->verdict.profile) : json_null());
        json_object_set_new(o, "reason", json_string(s->verdict.reason ? s->verdict.reason : "denied"));
    }
    if (current && s->mtls_domain) json_object_set_new(o, "mtls_domain", json_string(s->mtls_domain));
}

static const char *failure_word(enum cg_tls_accept_failure f)
{
    switch (f) {
    case CG_TLS_ACCEPT_NO_SNI: return "tls_no_server_name";
    case CG_TLS_ACCEPT_UNKNOWN_SNI: return "tls_unknown_server_name";
    case CG_TLS_ACCEPT_NO_SERVER_CERT: return "tls_no_server_certificate";
    case CG_TLS_ACCEPT_CERT_REQUIRED: return "tls_client_certificate_required";
    case CG_TLS_ACCEPT_CERT_INVALID: return "tls_client_certificate_rejected";
    default: return "tls_handshake_failed";
    }
}

/* A refused handshake gets an access-log line of its own: the method is "-", the target the
 * server name asked for, and the reason why (the client certificate's, when that was it). */
static void handshake_count(struct cg_proxy *p, const struct cg_tls_accept *acc)
{
    struct cg_metrics *m = &p->w->metrics;
    if (acc->failure == CG_TLS_ACCEPT_OK) {
        cg_counter_add(&m->handshakes, 1);
        cg_counter_add(&m->verifications[acc->presented ? CG_VERIFY_SUCCESS : CG_VERIFY_NONE], 1);
        return;
    }
    if ((unsigned)acc->failure - 1 < CG_METRICS_HS_REASONS) cg_counter_add(&m->handshake_failures[acc->failure - 1], 1);
    if (acc->failure == CG_TLS_ACCEPT_CERT_INVALID)
        cg_counter_add(&m->verifications[cg_metrics_verify_of(acc->reason)], 1);
    else if (acc->failure == CG_TLS_ACCEPT_CERT_REQUIRED)
        cg_counter_add(&m->verifications[CG_VERIFY_NONE], 1);
}

static void handshake_failed(struct cg_proxy *p)
{
    struct ingress *s = (struct ingress *)p;
    /* a connection that closed before its ClientHello (a port probe, a load balancer's health
     * check) is no refusal worth a line or a count */
    if (!s->acc || (s->acc->failure == CG_TLS_ACCEPT_PROTOCOL && SSL_get_state(p->client.ssl) == TLS_ST_BEFORE)) return;
    handshake_count(p, s->acc);
    if (!p->cfg->log) return;
    const char *reason = s->acc->reason && s->acc->reason[0] ? s->acc->reason : NULL;
    if (!reason && s->acc->failure == CG_TLS_ACCEPT_CERT_REQUIRED) reason = "no_certificate";
    struct cg_access_entry e = {
        .listener = "ingress",
        .client = p->client_addr,
        .method = "-",
        .target = s->acc->server_name[0] ? s->acc->server_name : "-",
        .upstream = "",
        .cert = s->acc->detail[0] ? s->acc->detail : NULL,
        .resumed = -1,
        .reused = -1,
        .error = failure_word(s->acc->failure),
        .site = handshake_site(s),
        .reason = reason,
    };
    cg_access_log_write(p->cfg->log, &e);
}

static void facts_free(struct conn_facts *c)
{
    if (!c) return;
    sk_X509_pop_free(c->chain, X509_free);
    cg_runtime_unref(c->hs_rt);
    cg_free(c);
}

static bool handshake_done(struct cg_proxy *p)
{
    struct ingress *s = (struct ingress *)p;
    bool owned = false;
    STACK_OF(X509) *chain = cg_tls_server_client_chain(p->client.ssl, s->hs_rt, s->acc, &owned);
    if (!chain && s->acc->presented) {
        /* a resumed session whose certificate no longer verifies */
        s->acc->failure = CG_TLS_ACCEPT_CERT_INVALID;
        handshake_failed(p);
        cg_proxy_close(p);
        return false;
    }
    handshake_count(p, s->acc);
    /* what the connection keeps of its handshake: the accept record (half a KiB) goes */
    size_t n = strlen(s->acc->server_name);
    struct conn_facts *c = cg_malloc(sizeof(*c) + n + 1);
    if (!c) {
        if (owned) sk_X509_pop_free(chain, X509_free);
        cg_proxy_close(p);
        return false;
    }
    c->hs_rt = s->hs_rt;
    s->hs_rt = NULL;
    c->chain = owned ? chain : NULL;
    c->cert = chain != NULL;
    c->hs_reason = s->acc->reason;
    c->hs_site = s->acc->site;
    memcpy(c->sni, s->acc->server_name, n + 1);
    s->c = c;
    cg_tls_server_detach(p->client.ssl);
    cg_free(s->acc);
    s->acc = NULL;
    return true;
}

static void dial_failed(struct cg_proxy *p, const struct cg_dial_error *err)
{
    const char *hint = "check that the site's backend is running: certgate site show SITE";
    switch (err->kind) {
    case CG_DIAL_TIMEOUT: cg_proxy_fail(p, 504, "backend_timeout", hint, "%s", err->message); break;
    case CG_DIAL_REFUSED: cg_proxy_fail(p, 502, "backend_refused", hint, "%s", err->message); break;
    case CG_DIAL_DNS: cg_proxy_fail(p, 502, "backend_dns_failure", hint, "%s", err->message); break;
    default: cg_proxy_fail(p, 502, "backend_unreachable", hint, "%s", err->message); break;
    }
}

static void upstream_failed(struct cg_proxy *p, const char *when)
{
    cg_proxy_fail(p, 502, "backend_closed", NULL, "the backend %s closed the connection %s", p->rq->dest, when);
}

/* ---- the request ---- */

/* Whether the chain leads to one of the site's client CAs in the current configuration (a CA
 * removed since the handshake no longer vouches for the connection). */
static bool chain_fits_site(const struct cg_snapshot *snap, const struct cg_snapshot_site *site,
                            STACK_OF(X509) *chain)
{
    for (size_t i = 0; i < site->n_client_cas; i++) {
        STACK_OF(X509) *bundle = snap->certs[site->client_cas[i]].certs;
        for (int k = 0; bundle && k < sk_X509_num(bundle); k++) {
            X509 *ca = sk_X509_value(bundle, k);
            if (cg_chain_contains_any(chain, &ca, 1)) return true;
        }
    }
    return false;
}

/* Whether the first len bytes of name spell want (lowercase, '-' separated) in any case and with
 * '_' for '-': CGI-style backends (WSGI, PHP, Rack) read X_Client_Verify as X-Client-Verify. */
static bool name_is(struct cg_slice name, size_t len, const char *want)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = name.ptr[i];
        if (c >= 'A' && c <= 'Z') c = (uint8_t)(c - 'A' + 'a');
        if (c == '_') c = '-';
        if (c != (uint8_t)want[i]) return false;
    }
    return true;
}

/* Fields the backend must only ever get from certgate: client-sent copies are dropped. */
static bool is_identity_header(struct cg_slice name)
{
    static const char *const names[] = {
        "x-forwarded-client-cert", "x-client-verify", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
    };
    for (size_t i = 0; i < CG_ARRAY_LEN(names); i++)
        if (name.len == strlen(names[i]) && name_is(name, name.len, names[i])) return true;
    return name.len > 14 && name_is(name, 14, "x-client-cert-");
}

static int add_header(struct cg_proxy *p, const char *name, const char *value)
{
    return cg_http_write_header(&p->to_up, cg_slice_str(name), cg_slice_str(value));
}

static int write_head(struct ingress *s, const struct cg_http_request *req)
{
    struct cg_proxy *p = &s->p;
    CG_GUARD(cg_proxy_head_begin(p, req, req->target, NULL, is_identity_header));
    char ip[INET6_ADDRSTRLEN];
    cg_proxy_client_ip(p, ip, sizeof(ip));
    CG_GUARD(add_header(p, "X-Forwarded-For", ip));
    CG_GUARD(add_header(p, "X-Forwarded-Proto", "https"));
    CG_GUARD(cg_http_write_header(&p->to_up, cg_slice_str("X-Forwarded-Host"), req->host));
    if (s->cert_ok && s->id.made) {
        CG_GUARD(add_header(p, "X-Forwarded-Client-Cert", s->id.xfcc));
        CG_GUARD(add_header(p, "X-Client-Verify", "SUCCESS"));
        CG_GUARD(add_header(p, "X-Client-Cert-Subject", s->id.subject));
        CG_GUARD(add_header(p, "X-Client-Cert-Issuer", s->id.issuer));
        CG_GUARD(add_header(p, "X-Client-Cert-Serial", s->id.serial));
        CG_GUARD(add_header(p, "X-Client-Cert-Fingerprint", s->id.sha256));
        CG_GUARD(add_header(p, "X-Client-Cert-Not-After", s->id.not_after));
    } else {
        CG_GUARD(add_header(p, "X-Client-Verify", "NONE"));
    }
    return cg_proxy_head_end(p);
}

/* The path of the target, without the query, for the rules. */
static struct cg_slice target_path(const struct cg_http_request *req)
{
    struct cg_slice t = req->target;
    if (req->target_form == CG_HTTP_TARGET_ABSOLUTE) {
        /* scheme://authority/path: skip to the path */
        const uint8_t *a = memchr(t.ptr, ':', t.len);
        size_t off = a ? (size_t)(a - t.ptr) + 3 : t.len;
        const uint8_t *slash = off < t.len ? memchr(t.ptr + off, '/', t.len - off) : NULL;
        t = slash ? cg_slice_make(slash, t.len - (size_t)(slash - t.ptr)) : cg_slice_str("/");
    }
    const uint8_t *q = memchr(t.ptr, '?', t.len);
    if (q) t.len = (size_t)(q - t.ptr);
    return t;
}

static void request(struct cg_proxy *p, const struct cg_http_request *req)
{
    struct ingress *s = (struct ingress *)p;
    const struct cg_snapshot *snap = p->rt->snap;
    s->request_no = p->requests;
    s->site = NULL;
    s->decided = false;
    s->mtls_domain = NULL;
    s->cert_ok = false;

    const char *sni = s->c->sni;
    int d = cg_snapshot_domain_find(snap, cg_slice_str(sni));
    if (d < 0) {
        cg_proxy_fail(p, 421, "unknown_host", NULL, "'%s' is not served here any more", sni);
        return;
    }
    const struct cg_snapshot_domain *dom = &snap->domains[d];
    const struct cg_snapshot_site *site = &snap->sites[dom->site];
    s->site = site->name;
    /* the Host must belong to the site the handshake was for: no reaching another site's
     * backend, or policy, through this connection */
    int hd = req->host.len ? cg_snapshot_domain_find(snap, req->host) : -1;
    if (hd < 0 || snap->domains[hd].site != dom->site) {
        cg_proxy_fail(p, 421, "misdirected_request", "send requests for each host name over a connection made to it",
                      "Host '%.*s' is not a domain of the site '%s' this connection was made for ('%s')",
                      (int)(req->host.len > 200 ? 200 : req->host.len), (const char *)req->host.ptr, site->name,
                      sni);
        return;
    }
    if (site->mtls == CG_MTLS_REQUIRED && site->mtls_domain && !dom->mtls_domain) {
        s->mtls_domain = site->mtls_domain;
        char hint[320];
        snprintf(hint, sizeof(hint), "connect to https://%s/ with a client certificate", site->mtls_domain);
        cg_proxy_fail(p, 403, "mtls_domain_required", hint,
                      "the site '%s' accepts requests only on its mTLS domain %s", site->name, site->mtls_domain);
        return;
    }
    bool wants_cert = dom->mtls_domain || site->mtls != CG_MTLS_OFF;
    STACK_OF(X509) *chain = client_chain(s);
    s->cert_ok = wants_cert && chain && chain_fits_site(snap, site, chain);
    if ((dom->mtls_domain || site->mtls == CG_MTLS_REQUIRED) && !s->cert_ok) {
        cg_proxy_fail(p, 403, "client_certificate_required", "connect again presenting a client certificate",
                      "the site '%s' requires a client certificate signed by one of its CAs", site->name);
        return;
    }
    if (s->cert_ok && !s->id.made && identity_make(&s->id, sk_X509_value(chain, 0)) < 0) {
        cg_proxy_fail(p, 502, "internal", NULL, "the identity headers of the client certificate could not be made "
                                                 "(out of memory)");
        return;
    }

    char path[4096];
    size_t path_len = 0;
    const char *why = NULL;
    int rc = cg_site_path_normalize(target_path(req), path, sizeof(path), &path_len, &why);
    if (rc == CG_ELIMIT) {
        cg_proxy_fail(p, 414, "uri_too_long", NULL, "the request path is longer than %zu bytes", sizeof(path) - 1);
        return;
    }
    if (rc < 0) {
        cg_proxy_fail(p, 400, "bad_path", NULL, "the request path is not valid: %s", why ? why : "?");
        return;
    }
    struct cg_access_request ar = {
        .site = dom->site,
        .path = path,
        .path_len = path_len,
        .addr = (const struct sockaddr *)&p->peer,
        .chain = s->cert_ok ? chain : NULL,
    };
    cg_access_check(snap, &ar, &s->verdict);
    s->decided = true;
    if (!s->verdict.allowed) {
        cg_proxy_fail(p, 403, "access_denied", NULL, "the rule for '%s' of the site '%s' refuses this request (%s)",
                      s->verdict.rule ? s->verdict.rule : "/", site->name, s->verdict.reason);
        return;
    }

    /* to the backend */
    cg_strlcpy(p->rq->host, site->backend_host, sizeof(p->rq->host));
    p->port = site->backend_port;
    snprintf(p->rq->dest, sizeof(p->rq->dest), strchr(p->rq->host, ':') ? "[%s]:%u" : "%s:%u", p->rq->host, p->port);
    if (!s->backend.entry || s->backend.gen != p->w->gen || s->backend.site != dom->site) {
        char key[400];
        snprintf(key, sizeof(key), "%sbackend|%s", p->w->pool_prefix, p->rq->dest);
        s->backend.entry = cg_pool_entry_get(p->w->pool, key);
        s->backend.gen = p->w->gen;
        s->backend.site = dom->site;
    }
    if (!s->backend.entry || write_head(s, req) < 0) {
        cg_proxy_fail(p, 502, "internal", NULL, "cannot build the backend request");
        return;
    }
    struct cg_dial_params dp = {
        .entry = s->backend.entry,
        .host = p->rq->host,
        .port = p->port,
        .timeout_ms = p->cfg->connect_timeout_ms,
    };
    cg_proxy_connect(p, &dp);
}

static void cleanup(struct cg_proxy *p)
{
    struct ingress *s = (struct ingress *)p;
    facts_free(s->c);
    identity_clear(&s->id);
    cg_free(s->acc);
    cg_runtime_unref(s->hs_rt);
}

/* ---- parking: the connection's facts wait with it; the identity is made again if needed ---- */

static bool park(struct cg_proxy *p, void **state)
{
    struct ingress *s = (struct ingress *)p;
    if (!s->c) return false;
    *state = s->c;
    s->c = NULL;
    return true;
}

static void unpark(struct cg_proxy *p, void *state)
{
    struct ingress *s = (struct ingress *)p;
    s->c = state;
}

static void park_free(void *state) { facts_free(state); }

static const struct cg_proxy_ops ingress_ops = {
    .listener = "ingress",
    .kind = CG_LISTENER_INGRESS,
    .size = sizeof(struct ingress),
    .handshake_done = handshake_done,
    .handshake_failed = handshake_failed,
    .request = request,
    .dial_failed = dial_failed,
    .upstream_failed = upstream_failed,
    .log_fill = log_fill,
    .error_fields = error_fields,
    .cleanup = cleanup,
    .park = park,
    .unpark = unpark,
    .park_free = park_free,
    .timeout_hint = "the backend did not answer in time: check it, or raise timeouts.response_ms",
};

void cg_ingress_accept(struct cg_worker *w, int fd, void *arg)
{
    const struct cg_ingress_config *cfg = arg;
    struct cg_proxy *p = cg_proxy_new(w, fd, &ingress_ops, &cfg->proxy);
    if (!p) return;
    struct ingress *s = (struct ingress *)p;
    s->acc = cg_calloc(1, sizeof(*s->acc));
    s->hs_rt = cg_runtime_ref(cg_worker_runtime(w));
    if (s->acc) s->acc->domain = s->acc->site = -1;
    SSL *ssl = s->hs_rt && s->acc ? cg_tls_server_ssl_new(s->hs_rt, s->acc) : NULL;
    if (!ssl || !SSL_set_fd(ssl, fd)) {
        SSL_free(ssl);
        cg_proxy_close(p); /* no site configured: nothing to present */
        return;
    }
    p->client.ssl = ssl;
    cg_proxy_start(p);
}
