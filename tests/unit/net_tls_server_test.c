/* The ingress TLS server (net/tls_server.c), in real handshakes over memory BIOs against a
 * snapshot built by hand: SNI picks the site and its certificate, unknown or missing names are
 * refused, the mTLS modes, every kind of bad client certificate with its reason, CRLs, a bundle
 * holding an intermediate only, the verify store being the domain's (not the listener's),
 * resumption through the SNI switch that never crosses sites or policies and brings back the
 * verified chain (checked again for time), ticket rotation, and the refusals of a runtime that
 * cannot be built. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "config/snapshot.h"
#include "core/mem.h"
#include "net/tickets.h"
#include "net/tls.h"
#include "net/tls_server.h"
#include "testpki.h"
#include "testutil.h"
#include "tlspair.h"

/* ---- the PKI ---- */

static struct {
    EVP_PKEY *k_root_a, *k_int_a1, *k_int_a2, *k_root_b, *k_srv, *k_cli, *k_other;
    X509 *root_a, *int_a1, *int_a2, *root_b;  /* two roots; root_a has two intermediate branches */
    X509 *srv_a, *srv_b;                      /* server certificates, from int_a1 and root_b */
    X509 *cli, *cli_expired, *cli_future, *cli_revoked, *cli_eku, *cli_b, *cli_a2, *cli_self;
    X509_CRL *crl_a1;                         /* int_a1's CRL: revokes cli_revoked */
    X509_CRL *crl_b_stale;                    /* root_b's CRL, past its nextUpdate */
} w;

#define REVOKED_SERIAL 0x77

static X509_CRL *crl_make(X509 *issuer, EVP_PKEY *key, long revoked, long last_s, long next_s)
{
    X509_CRL *c = X509_CRL_new();
    ASN1_TIME *last = X509_gmtime_adj(NULL, last_s), *next = X509_gmtime_adj(NULL, next_s);
    assert_non_null(c);
    assert_int_equal(X509_CRL_set_version(c, 1), 1);
    assert_int_equal(X509_CRL_set_issuer_name(c, X509_get_subject_name(issuer)), 1);
    assert_int_equal(X509_CRL_set1_lastUpdate(c, last), 1);
    assert_int_equal(X509_CRL_set1_nextUpdate(c, next), 1);
    if (revoked) {
        X509_REVOKED *r = X509_REVOKED_new();
        ASN1_INTEGER *serial = ASN1_INTEGER_new();
        ASN1_INTEGER_set(serial, revoked);
        X509_REVOKED_set_serialNumber(r, serial);
        X509_REVOKED_set_revocationDate(r, last);
        assert_int_equal(X509_CRL_add0_revoked(c, r), 1);
        ASN1_INTEGER_free(serial);
    }
    X509_CRL_sort(c);
    assert_true(X509_CRL_sign(c, key, EVP_sha256()) > 0);
    ASN1_TIME_free(last);
    ASN1_TIME_free(next);
    return c;
}

static void pki_make(void)
{
    w.k_root_a = tp_key_ec();
    w.k_int_a1 = tp_key_ec();
    w.k_int_a2 = tp_key_ec();
    w.k_root_b = tp_key_ec();
    w.k_srv = tp_key_ec();
    w.k_cli = tp_key_ec();
    w.k_other = tp_key_ec();
    struct tp_opts ca = {.ca = true, .not_after = 3650L * 86400, .serial = 1};
    w.root_a = tp_cert("Root A", w.k_root_a, NULL, NULL, &ca);
    ca.serial = 2;
    w.int_a1 = tp_cert("Intermediate A1", w.k_int_a1, w.root_a, w.k_root_a, &ca);
    ca.serial = 3;
    w.int_a2 = tp_cert("Intermediate A2", w.k_int_a2, w.root_a, w.k_root_a, &ca);
    ca.serial = 4;
    w.root_b = tp_cert("Root B", w.k_root_b, NULL, NULL, &ca);
    struct tp_opts srv = {.eku = "serverAuth", .serial = 10,
                          .san = "DNS:a.example,DNS:mtls.a.example,DNS:d.example,DNS:g.example,DNS:*.w.example,"
                                 "DNS:e.example,DNS:mtls.e.example"};
    w.srv_a = tp_cert("a.example", w.k_srv, w.int_a1, w.k_int_a1, &srv);
    srv.san = "DNS:b.example,DNS:s.example";
    w.srv_b = tp_cert("b.example", w.k_srv, w.root_b, w.k_root_b, &srv);
    struct tp_opts cli = {.eku = "clientAuth", .serial = 20};
    w.cli = tp_cert("client.example", w.k_cli, w.int_a1, w.k_int_a1, &cli);
    cli.serial = REVOKED_SERIAL;
    w.cli_revoked = tp_cert("revoked.example", w.k_cli, w.int_a1, w.k_int_a1, &cli);
    cli.serial = 21;
    w.cli_b = tp_cert("client-b.example", w.k_cli, w.root_b, w.k_root_b, &cli);
    cli.serial = 22;
    w.cli_a2 = tp_cert("client-a2.example", w.k_cli, w.int_a2, w.k_int_a2, &cli);
    cli.serial = 23;
    w.cli_self = tp_cert("self.example", w.k_cli, NULL, NULL, &cli);
    struct tp_opts exp = {.eku = "clientAuth", .not_before = -40L * 86400, .not_after = -10L * 86400, .serial = 24};
    w.cli_expired = tp_cert("expired.example", w.k_cli, w.int_a1, w.k_int_a1, &exp);
    struct tp_opts fut = {.eku = "clientAuth", .not_before = 10L * 86400, .not_after = 400L * 86400, .serial = 25};
    w.cli_future = tp_cert("future.example", w.k_cli, w.int_a1, w.k_int_a1, &fut);
    struct tp_opts eku = {.eku = "serverAuth", .serial = 26};
    w.cli_eku = tp_cert("server-only.example", w.k_cli, w.int_a1, w.k_int_a1, &eku);
    w.crl_a1 = crl_make(w.int_a1, w.k_int_a1, REVOKED_SERIAL, -3600, 7L * 86400);
    w.crl_b_stale = crl_make(w.root_b, w.k_root_b, 0, -10L * 86400, -86400);
}

static void pki_free(void)
{
    X509 *certs[] = {w.root_a, w.int_a1, w.int_a2, w.root_b, w.srv_a, w.srv_b, w.cli, w.cli_expired,
                     w.cli_future, w.cli_revoked, w.cli_eku, w.cli_b, w.cli_a2, w.cli_self};
    for (size_t i = 0; i < CG_ARRAY_LEN(certs); i++) X509_free(certs[i]);
    EVP_PKEY *keys[] = {w.k_root_a, w.k_int_a1, w.k_int_a2, w.k_root_b, w.k_srv, w.k_cli, w.k_other};
    for (size_t i = 0; i < CG_ARRAY_LEN(keys); i++) EVP_PKEY_free(keys[i]);
    X509_CRL_free(w.crl_a1);
    X509_CRL_free(w.crl_b_stale);
}

/* ---- a snapshot by hand ---- */

static STACK_OF(X509) *certs_of(X509 *a, X509 *b)
{
    STACK_OF(X509) *s = sk_X509_new_null();
    X509 *all[] = {a, b};
    for (int i = 0; i < 2; i++)
        if (all[i]) {
            X509_up_ref(all[i]);
            sk_X509_push(s, all[i]);
        }
    return s;
}

static void cert_ca(struct cg_snapshot_cert *c, const char *name, X509 *a, X509 *b, X509_CRL *crl)
{
    c->name = cg_strdup(name);
    c->kind = CG_CERT_CA;
    c->certs = certs_of(a, b);
    if (crl) {
        c->crls = sk_X509_CRL_new_null();
        X509_CRL_up_ref(crl);
        sk_X509_CRL_push(c->crls, crl);
    }
}

static void cert_server(struct cg_snapshot_cert *c, const char *name, X509 *leaf, X509 *chain, EVP_PKEY *key)
{
    c->name = cg_strdup(name);
    c->kind = CG_CERT_SERVER;
    X509_up_ref(leaf);
    c->leaf = leaf;
    c->certs = certs_of(chain, NULL);
    if (key) EVP_PKEY_up_ref(key);
    c->key = key;
}

static void site_set(struct cg_snapshot_site *s, const char *name, enum cg_mtls_mode m, const char *mtls_domain,
                     int ca)
{
    s->name = cg_strdup(name);
    s->backend_host = cg_strdup("127.0.0.1");
    s->backend_port = 8080;
    s->mtls = m;
    s->mtls_domain = mtls_domain ? cg_strdup(mtls_domain) : NULL;
    if (ca >= 0) {
        s->client_cas = cg_calloc(1, sizeof(int));
        s->client_cas[0] = ca;
        s->n_client_cas = 1;
    }
}

enum { CA_A, CA_B, CA_INT, CA_STALE, SRV_A, SRV_B, N_CERTS };
enum { ALPHA, BETA, DELTA, EPSILON, GAMMA, STALE, N_SITES };

/* alpha: optional, root A + intermediate A1 with A1's CRL, mTLS domain mtls.a.example;
 * beta: required, root B; delta: required, intermediate A2 alone; epsilon: required with an mTLS
 * domain, root A; gamma: off, no CAs; stale: required, root B with an expired CRL. Domains sorted by host, as the loader sorts them. */
static struct cg_snapshot *snap_make(EVP_PKEY *srv_key)
{
    struct cg_snapshot *s = cg_calloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    s->revision = 7;
    s->env = cg_strdup("test");
    s->certs = cg_calloc(N_CERTS, sizeof(*s->certs));
    s->n_certs = N_CERTS;
    cert_ca(&s->certs[CA_A], "ca-a", w.root_a, w.int_a1, w.crl_a1);
    cert_ca(&s->certs[CA_B], "ca-b", w.root_b, NULL, NULL);
    cert_ca(&s->certs[CA_INT], "ca-int", w.int_a2, NULL, NULL);
    cert_ca(&s->certs[CA_STALE], "ca-stale", w.root_b, NULL, w.crl_b_stale);
    cert_server(&s->certs[SRV_A], "srv-a", w.srv_a, w.int_a1, srv_key);
    cert_server(&s->certs[SRV_B], "srv-b", w.srv_b, NULL, w.k_srv);
    s->sites = cg_calloc(N_SITES, sizeof(*s->sites));
    s->n_sites = N_SITES;
    site_set(&s->sites[ALPHA], "alpha", CG_MTLS_OPTIONAL, "mtls.a.example", CA_A);
    site_set(&s->sites[BETA], "beta", CG_MTLS_REQUIRED, NULL, CA_B);
    site_set(&s->sites[DELTA], "delta", CG_MTLS_REQUIRED, NULL, CA_INT);
    site_set(&s->sites[EPSILON], "epsilon", CG_MTLS_REQUIRED, "mtls.e.example", CA_A);
    site_set(&s->sites[GAMMA], "gamma", CG_MTLS_OFF, NULL, -1);
    site_set(&s->sites[STALE], "stale", CG_MTLS_REQUIRED, NULL, CA_STALE);
    static const struct {
        const char *host;
        int site, cert;
        bool mtls;
    } doms[] = {
        {"*.w.example", GAMMA, SRV_A, false},   {"a.example", ALPHA, SRV_A, false},
        {"b.example", BETA, SRV_B, false},      {"d.example", DELTA, SRV_A, false},
        {"e.example", EPSILON, SRV_A, false},   {"g.example", GAMMA, SRV_A, false},
        {"mtls.a.example", ALPHA, SRV_A, true}, {"mtls.e.example", EPSILON, SRV_A, true},
        {"nocert.example", GAMMA, -1, false},   {"s.example", STALE, SRV_B, false},
    };
    s->n_domains = CG_ARRAY_LEN(doms);
    s->domains = cg_calloc(s->n_domains, sizeof(*s->domains));
    for (size_t i = 0; i < s->n_domains; i++) {
        s->domains[i].host = cg_strdup(doms[i].host);
        s->domains[i].site = doms[i].site;
        s->domains[i].cert = doms[i].cert;
        s->domains[i].mtls_domain = doms[i].mtls;
    }
    return s;
}

static struct cg_runtime *rt;

static int setup(void **state)
{
    (void)state;
    pki_make();
    struct cg_err err;
    if (cg_tickets_init(0, &err)) fail_msg("%s", err.msg);
    struct cg_snapshot *s = snap_make(w.k_srv);
    if (cg_runtime_new(s, NULL, &rt, &err)) fail_msg("%s (hint: %s)", err.msg, err.hint);
    cg_snapshot_unref(s); /* the runtime holds its own */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cg_runtime_unref(rt);
    cg_tickets_cleanup();
    pki_free();
    return 0;
}

/* ---- one handshake ---- */

struct hs {
    /* in */
    const char *sni;            /* NULL: none sent */
    X509 *cert;                 /* the client's certificate (key k_cli), NULL: none */
    X509 *chain;                /* an intermediate it sends along */
    int max_version;            /* 0: TLS 1.3 */
    int min_version;
    const char *ciphers12;
    const char *groups;
    const unsigned char *alpn;  /* wire form */
    size_t alpn_len;
    SSL_SESSION *session;       /* to resume */
    void (*mutate)(uint8_t *p, size_t n, void *arg);
    /* out */
    bool ok;
    struct cg_tls_accept acc;
    int client_alert;
    bool asked;                 /* the server asked for a certificate */
    bool reused;
    long server_verify;         /* the client's verification of the server */
    char server_cn[64];
    char cipher[64];
    char alpn_sel[32];
    int peer_ca_names;          /* names in the CertificateRequest */
    bool ca_root_a, ca_int_a1;
    STACK_OF(X509) *chain_out;  /* cg_tls_server_client_chain */
    bool chain_owned;
    size_t appdata_len;         /* the issuers the session carries for its ticket */
    size_t appdata_after_detach;
    SSL_SESSION *new_session;
};

static int client_cert_cb(SSL *ssl, X509 **x, EVP_PKEY **k)
{
    (void)x;
    (void)k;
    bool *asked = SSL_get_ex_data(ssl, 1);
    if (asked) *asked = true;
    return 0;
}

static SSL_CTX *client_ctx(const struct hs *h)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    assert_non_null(c);
    X509_STORE *st = SSL_CTX_get_cert_store(c);
    X509_STORE_add_cert(st, w.root_a);
    X509_STORE_add_cert(st, w.root_b);
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL); /* the result is read, not enforced */
    SSL_CTX_set_min_proto_version(c, h->min_version ? h->min_version : TLS1_VERSION);
    SSL_CTX_set_max_proto_version(c, h->max_version ? h->max_version : TLS1_3_VERSION);
    SSL_CTX_set_security_level(c, 0); /* let the old versions reach the server */
    if (h->ciphers12) assert_int_equal(SSL_CTX_set_cipher_list(c, h->ciphers12), 1);
    if (h->groups) assert_int_equal(SSL_CTX_set1_groups_list(c, h->groups), 1);
    if (h->alpn) assert_int_equal(SSL_CTX_set_alpn_protos(c, h->alpn, (unsigned)h->alpn_len), 0);
    SSL_CTX_set_client_cert_cb(c, client_cert_cb);
    SSL_CTX_set_mode(c, SSL_MODE_NO_AUTO_CHAIN); /* the test says what the client sends */
    /* no client cache: OpenSSL's client would otherwise spend a TLS 1.3 ticket on its first use,
     * and the tests offer one session several times */
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    return c;
}

static bool ca_listed(const STACK_OF(X509_NAME) *names, X509 *ca)
{
    for (int i = 0; i < sk_X509_NAME_num(names); i++)
        if (X509_NAME_cmp(sk_X509_NAME_value(names, i), X509_get_subject_name(ca)) == 0) return true;
    return false;
}

static void outcome_read(struct tp_tls_pair *p, struct hs *h)
{
    h->client_alert = p->client_alert;
    h->server_verify = SSL_get_verify_result(p->client);
    X509 *srv = SSL_get0_peer_certificate(p->client);
    if (srv)
        X509_NAME_get_text_by_NID(X509_get_subject_name(srv), NID_commonName, h->server_cn, sizeof(h->server_cn));
    const STACK_OF(X509_NAME) *names = SSL_get0_peer_CA_list(p->client);
    h->peer_ca_names = names ? sk_X509_NAME_num(names) : 0;
    h->ca_root_a = names && ca_listed(names, w.root_a);
    h->ca_int_a1 = names && ca_listed(names, w.int_a1);
    if (!h->ok) return;
    h->reused = SSL_session_reused(p->server);
    snprintf(h->cipher, sizeof(h->cipher), "%s", SSL_CIPHER_get_name(SSL_get_current_cipher(p->server)));
    const unsigned char *a;
    unsigned alen;
    SSL_get0_alpn_selected(p->client, &a, &alen);
    snprintf(h->alpn_sel, sizeof(h->alpn_sel), "%.*s", (int)alen, (const char *)a);
    STACK_OF(X509) *chain = cg_tls_server_client_chain(p->server, rt, &h->acc, &h->chain_owned);
    /* the test reads it after the SSL is gone: a chain the SSL owns is copied */
    h->chain_out = chain && !h->chain_owned ? X509_chain_up_ref(chain) : chain;
    h->new_session = tp_tls_client_session(p);
    SSL_SESSION *sess = SSL_get_session(p->server);
    void *data = NULL;
    SSL_SESSION_get0_ticket_appdata(sess, &data, &h->appdata_len);
    cg_tls_server_detach(p->server);
    data = NULL;
    h->appdata_after_detach = 1;
    SSL_SESSION_get0_ticket_appdata(sess, &data, &h->appdata_after_detach);
}

static bool handshake_on(struct cg_runtime *r, struct hs *h)
{
    SSL_CTX *cctx = client_ctx(h);
    SSL *c = SSL_new(cctx);
    SSL *s = cg_tls_server_ssl_new(r, &h->acc);
    assert_non_null(c);
    assert_non_null(s);
    SSL_set_ex_data(c, 1, &h->asked);
    if (h->sni) assert_int_equal(SSL_set_tlsext_host_name(c, h->sni), 1);
    if (h->sni) SSL_set1_host(c, h->sni);
    if (h->cert) {
        assert_int_equal(SSL_use_certificate(c, h->cert), 1);
        assert_int_equal(SSL_use_PrivateKey(c, w.k_cli), 1);
        if (h->chain) assert_int_equal(SSL_add1_chain_cert(c, h->chain), 1);
    }
    if (h->session) {
        assert_true(SSL_SESSION_is_resumable(h->session)); /* offered for sure */
        assert_int_equal(SSL_set_session(c, h->session), 1);
    }
    struct tp_tls_pair p;
    tp_tls_pair_init(&p, c, s);
    p.mutate = h->mutate;
    h->ok = tp_tls_handshake(&p);
    outcome_read(&p, h);
    tp_tls_pair_free(&p);
    SSL_CTX_free(cctx);
    ERR_clear_error();
    return h->ok;
}

static bool handshake(struct hs *h) { return handshake_on(rt, h); }

static void hs_cleanup(struct hs *h)
{
    sk_X509_pop_free(h->chain_out, X509_free);
    SSL_SESSION_free(h->new_session);
    h->chain_out = NULL;
    h->new_session = NULL;
}

static bool chain_has(STACK_OF(X509) *chain, X509 *x)
{
    for (int i = 0; i < sk_X509_num(chain); i++)
        if (X509_cmp(sk_X509_value(chain, i), x) == 0) return true;
    return false;
}

/* The chain's copy of x is the snapshot's own parsed certificate (the same object). */
static bool chain_shares(STACK_OF(X509) *chain, X509 *x)
{
    X509 *mine = NULL;
    for (size_t i = 0; !mine && i < rt->snap->n_certs; i++) {
        STACK_OF(X509) *certs = rt->snap->certs[i].certs;
        for (int k = 0; !mine && k < sk_X509_num(certs); k++)
            if (X509_cmp(sk_X509_value(certs, k), x) == 0) mine = sk_X509_value(certs, k);
    }
    for (int i = 0; mine && i < sk_X509_num(chain); i++)
        if (sk_X509_value(chain, i) == mine) return true;
    return false;
}

/* ---- SNI ---- */

static void test_sni_selects_certificate(void **state)
{
    (void)state;
    struct hs h = {.sni = "a.example"};
    assert_true(handshake(&h));
    assert_string_equal(h.server_cn, "a.example");
    assert_int_equal(h.server_verify, X509_V_OK); /* the chain (intermediate A1) was sent */
    assert_int_equal(h.acc.failure, CG_TLS_ACCEPT_OK);
    assert_int_equal(h.acc.site, ALPHA);
    assert_string_equal(rt->snap->domains[h.acc.domain].host, "a.example");
    assert_string_equal(h.acc.server_name, "a.example");
    hs_cleanup(&h);

    struct hs b = {.sni = "b.example", .cert = w.cli_b};
    assert_true(handshake(&b));
    assert_string_equal(b.server_cn, "b.example");
    assert_int_equal(b.server_verify, X509_V_OK);
    assert_int_equal(b.acc.site, BETA);
    hs_cleanup(&b);

    /* case and a trailing dot do not matter; the name is kept lowercase */
    struct hs u = {.sni = "A.Example."};
    assert_true(handshake(&u));
    assert_string_equal(u.acc.server_name, "a.example.");
    assert_int_equal(u.acc.site, ALPHA);
    hs_cleanup(&u);

    /* one label under a wildcard domain */
    struct hs wc = {.sni = "x.w.example"};
    assert_true(handshake(&wc));
    assert_int_equal(wc.acc.site, GAMMA);
    assert_string_equal(rt->snap->domains[wc.acc.domain].host, "*.w.example");
    hs_cleanup(&wc);
    struct hs deep = {.sni = "y.x.w.example"};
    assert_false(handshake(&deep));
    assert_int_equal(deep.acc.failure, CG_TLS_ACCEPT_UNKNOWN_SNI);
}

static void test_no_sni_refused(void **state)
{
    (void)state;
    struct hs h = {0};
    assert_false(handshake(&h));
    assert_int_equal(h.acc.failure, CG_TLS_ACCEPT_NO_SNI);
    assert_int_equal(h.client_alert, SSL_AD_UNRECOGNIZED_NAME);
    assert_string_equal(h.acc.server_name, "");
    assert_int_equal(h.acc.site, -1);
    assert_non_null(strstr(h.acc.detail, "no SNI"));
    /* TLS 1.2 the same */
    struct hs h12 = {.max_version = TLS1_2_VERSION};
    assert_false(handshake(&h12));
    assert_int_equal(h12.acc.failure, CG_TLS_ACCEPT_NO_SNI);
    assert_int_equal(h12.client_alert, SSL_AD_UNRECOGNIZED_NAME);
}

static void test_unknown_sni_refused(void **state)
{
    (void)state;
    struct hs h = {.sni = "z.example"};
    assert_false(handshake(&h));
    assert_int_equal(h.acc.failure, CG_TLS_ACCEPT_UNKNOWN_SNI);
    assert_int_equal(h.client_alert, SSL_AD_UNRECOGNIZED_NAME);
    assert_string_equal(h.acc.server_name, "z.example");
    assert_non_null(strstr(h.acc.detail, "'z.example'"));

    /* bytes no host name has: shown as '?', matched by nothing */
    struct hs bad = {.sni = "a.example:443"};
    assert_false(handshake(&bad));
    assert_int_equal(bad.acc.failure, CG_TLS_ACCEPT_UNKNOWN_SNI);
    assert_string_equal(bad.acc.server_name, "a.example?443");
    struct hs star = {.sni = "*.w.example"};
    assert_false(handshake(&star));
    assert_int_equal(star.acc.failure, CG_TLS_ACCEPT_UNKNOWN_SNI);

    /* longer than a DNS name can be */
    char longname[255];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    struct hs lg = {.sni = longname};
    assert_false(handshake(&lg));
    assert_int_equal(lg.acc.failure, CG_TLS_ACCEPT_UNKNOWN_SNI);
    assert_int_equal(strlen(lg.acc.server_name), 254);
}

/* Breaks the server_name list length in the ClientHello (the name "a.example" is 9 bytes, after
 * type (1) and length (2), after the list length (2)). */
static void sni_corrupt(uint8_t *p, size_t n, void *arg)
{
    (void)arg;
    for (size_t i = 5; i + 9 <= n; i++)
        if (memcmp(p + i, "a.example", 9) == 0 && p[i - 1] == 9 && p[i - 3] == 0) {
            p[i - 4] = 0x7f; /* list length far beyond the extension */
            return;
        }
}

static void test_malformed_sni_refused(void **state)
{
    (void)state;
    struct hs h = {.sni = "a.example", .mutate = sni_corrupt};
    assert_false(handshake(&h));
    assert_int_equal(h.acc.failure, CG_TLS_ACCEPT_PROTOCOL);
    assert_int_equal(h.client_alert, SSL_AD_DECODE_ERROR);
    assert_non_null(strstr(h.acc.detail, "malformed server_name"));
}

static void test_no_server_cert_refused(void **state)
{
    (void)state;
    struct hs h = {.sni = "nocert.example"};
    assert_false(handshake(&h));
    assert_int_equal(h.acc.failure, CG_TLS_ACCEPT_NO_SERVER_CERT);
    assert_int_equal(h.client_alert, SSL_AD_UNRECOGNIZED_NAME);
    assert_int_equal(h.acc.site, GAMMA);
    assert_non_null(strstr(h.acc.detail, "no server certificate"));
}

/* ---- modes ---- */

static void test_mode_off(void **state)
{
    (void)state;
    struct hs h = {.sni = "g.example"};
    assert_true(handshake(&h));
    assert_false(h.asked); /* no CertificateRequest */
    assert_false(h.acc.presented);
    assert_null(h.chain_out);
    assert_string_equal(h.acc.reason, "");
    hs_cleanup(&h);
}

static void test_mode_optional(void **state)
{
    (void)state;
    /* no certificate: allowed, but asked for, naming the site's CAs */
    struct hs none = {.sni = "a.example"};
    assert_true(handshake(&none));
    assert_true(none.asked);
    assert_int_equal(none.peer_ca_names, 2);
    assert_true(none.ca_root_a);
    assert_true(none.ca_int_a1);
    assert_false(none.acc.presented);
    assert_null(none.chain_out);
    hs_cleanup(&none);

    /* a valid one: verified (root A has no CRL, A1 has one: both fine) */
    struct hs good = {.sni = "a.example", .cert = w.cli};
    assert_true(handshake(&good));
    assert_true(good.acc.presented);
    assert_int_equal(good.acc.verify_result, X509_V_OK);
    assert_non_null(good.chain_out);
    assert_int_equal(sk_X509_num(good.chain_out), 3);
    assert_int_equal(X509_cmp(sk_X509_value(good.chain_out, 0), w.cli), 0);
    assert_true(chain_has(good.chain_out, w.root_a));
    assert_false(good.chain_owned); /* the SSL's own verified chain */
    /* the ticket carried the issuers; after the handshake the session keeps them no more */
    assert_true(good.appdata_len > 0);
    assert_int_equal(good.appdata_after_detach, 0);
    hs_cleanup(&good);

    /* an invalid one: refused, even though none would do */
    struct hs bad = {.sni = "a.example", .cert = w.cli_expired};
    assert_false(handshake(&bad));
    assert_int_equal(bad.acc.failure, CG_TLS_ACCEPT_CERT_INVALID);
    assert_string_equal(bad.acc.reason, "expired");
}

static void test_mode_required(void **state)
{
    (void)state;
    int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
    for (size_t i = 0; i < 2; i++) {
        struct hs h = {.sni = "b.example", .max_version = versions[i]};
        assert_false(handshake(&h));
        assert_true(h.asked);
        assert_int_equal(h.acc.failure, CG_TLS_ACCEPT_CERT_REQUIRED);
        assert_string_equal(h.acc.reason, "no_certificate");
        assert_false(h.acc.presented);
        assert_int_equal(h.client_alert, versions[i] == TLS1_3_VERSION ? SSL_AD_CERTIFICATE_REQUIRED
                                                                       : SSL_AD_HANDSHAKE_FAILURE);
    }
    /* the mTLS domain of an optional site is always required */
    struct hs m = {.sni = "mtls.a.example"};
    assert_false(handshake(&m));
    assert_int_equal(m.acc.failure, CG_TLS_ACCEPT_CERT_REQUIRED);
    struct hs ok = {.sni = "mtls.a.example", .cert = w.cli, .max_version = TLS1_2_VERSION};
    assert_true(handshake(&ok));
    assert_int_equal(ok.acc.site, ALPHA);
    assert_non_null(ok.chain_out);
    hs_cleanup(&ok);

    /* a required site with an mTLS domain: its other domains complete the handshake without asking
     * (the ingress answers them 403 naming the mTLS domain), the mTLS domain requires */
    struct hs plain = {.sni = "e.example"};
    assert_true(handshake(&plain));
    assert_false(plain.asked);
    assert_int_equal(plain.acc.site, EPSILON);
    hs_cleanup(&plain);
    struct hs strict = {.sni = "mtls.e.example"};
    assert_false(handshake(&strict));
    assert_int_equal(strict.acc.failure, CG_TLS_ACCEPT_CERT_REQUIRED);
    struct hs strict_ok = {.sni = "mtls.e.example", .cert = w.cli};
    assert_true(handshake(&strict_ok));
    assert_non_null(strict_ok.chain_out);
    hs_cleanup(&strict_ok);
}

/* ---- client certificates that fail ---- */

static void expect_rejected(X509 *cert, X509 *chain, const char *sni, const char *reason, long vr, const char *subject)
{
    int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
    for (size_t i = 0; i < 2; i++) {
        struct hs h = {.sni = sni, .cert = cert, .chain = chain, .max_version = versions[i]};
        assert_false(handshake(&h));
        assert_int_equal(h.acc.failure, CG_TLS_ACCEPT_CERT_INVALID);
        assert_true(h.acc.presented);
        assert_string_equal(h.acc.reason, reason);
        if (vr) assert_int_equal(h.acc.verify_result, vr);
        if (!strstr(h.acc.detail, subject)) fail_msg("detail \"%s\" lacks \"%s\"", h.acc.detail, subject);
        assert_true(h.client_alert > 0);
    }
}

static void test_rejected_certificates(void **state)
{
    (void)state;
    expect_rejected(w.cli_expired, NULL, "mtls.a.example", "expired", X509_V_ERR_CERT_HAS_EXPIRED,
                    "CN=expired.example");
    expect_rejected(w.cli_future, NULL, "mtls.a.example", "not_yet_valid", X509_V_ERR_CERT_NOT_YET_VALID,
                    "CN=future.example");
    expect_rejected(w.cli_revoked, NULL, "mtls.a.example", "revoked", X509_V_ERR_CERT_REVOKED, "CN=revoked.example");
    expect_rejected(w.cli_eku, NULL, "mtls.a.example", "wrong_usage", X509_V_ERR_INVALID_PURPOSE,
                    "CN=server-only.example");
    expect_rejected(w.cli_self, NULL, "a.example", "unknown_ca", 0, "CN=self.example");
    /* another site's CA: the store is the domain's, not a union, and not the listener's */
    expect_rejected(w.cli_b, NULL, "a.example", "unknown_ca", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                    "CN=client-b.example");
    expect_rejected(w.cli, NULL, "b.example", "unknown_ca", 0, "CN=client.example");
    /* a CRL past its nextUpdate fails closed */
    expect_rejected(w.cli_b, NULL, "s.example", "other", X509_V_ERR_CRL_HAS_EXPIRED, "CRL has expired");
}

static void test_verify_store_is_the_domains(void **state)
{
    (void)state;
    struct hs b = {.sni = "b.example", .cert = w.cli_b};
    assert_true(handshake(&b));
    assert_int_equal(sk_X509_num(b.chain_out), 2);
    assert_true(chain_has(b.chain_out, w.root_b));
    /* beta names root B only */
    assert_int_equal(b.peer_ca_names, 1);
    assert_false(b.ca_root_a);
    hs_cleanup(&b);
}

static void test_intermediates(void **state)
{
    (void)state;
    /* delta trusts intermediate A2 alone: a certificate it issued verifies without the root */
    struct hs a2 = {.sni = "d.example", .cert = w.cli_a2};
    assert_true(handshake(&a2));
    assert_int_equal(sk_X509_num(a2.chain_out), 2);
    assert_true(chain_has(a2.chain_out, w.int_a2));
    assert_false(chain_has(a2.chain_out, w.root_a));
    hs_cleanup(&a2);
    /* ... and one from the other branch of the same root does not */
    expect_rejected(w.cli, w.int_a1, "d.example", "unknown_ca", 0, "CN=client.example");

    /* alpha holds root A and A1: A1's certificate verifies when sent alone */
    struct hs a1 = {.sni = "mtls.a.example", .cert = w.cli};
    assert_true(handshake(&a1));
    assert_true(chain_has(a1.chain_out, w.int_a1));
    hs_cleanup(&a1);
    /* A2's needs its intermediate from the client; the chain then ends at root A (the access
     * check decides whether A2 is a selected signer) */
    expect_rejected(w.cli_a2, NULL, "mtls.a.example", "unknown_ca", 0, "CN=client-a2.example");
    struct hs sent = {.sni = "mtls.a.example", .cert = w.cli_a2, .chain = w.int_a2};
    assert_true(handshake(&sent));
    assert_true(chain_has(sent.chain_out, w.int_a2));
    assert_true(chain_has(sent.chain_out, w.root_a));
    hs_cleanup(&sent);
}

/* ---- versions, ciphers, ALPN ---- */

static void test_versions_and_ciphers(void **state)
{
    (void)state;
    struct hs old = {.sni = "a.example", .max_version = TLS1_1_VERSION};
    assert_false(handshake(&old));
    assert_int_equal(old.acc.failure, CG_TLS_ACCEPT_PROTOCOL);
    assert_int_equal(old.client_alert, SSL_AD_PROTOCOL_VERSION);

    struct hs rsa_kx = {.sni = "a.example", .max_version = TLS1_2_VERSION, .ciphers12 = "AES128-GCM-SHA256:AES256-SHA"};
    assert_false(handshake(&rsa_kx));
    assert_int_equal(rsa_kx.acc.failure, CG_TLS_ACCEPT_PROTOCOL);
    assert_int_equal(rsa_kx.client_alert, SSL_AD_HANDSHAKE_FAILURE);

    struct hs cbc = {.sni = "a.example", .max_version = TLS1_2_VERSION, .ciphers12 = "ECDHE-ECDSA-AES128-SHA256"};
    assert_false(handshake(&cbc));

    /* the server's preference, not the client's order */
    struct hs pref = {.sni = "a.example", .max_version = TLS1_2_VERSION,
                      .ciphers12 = "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256"};
    assert_true(handshake(&pref));
    assert_string_equal(pref.cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
    assert_string_equal(pref.acc.detail, "");
    hs_cleanup(&pref);

    struct hs t13 = {.sni = "a.example"};
    assert_true(handshake(&t13));
    assert_non_null(strstr(t13.cipher, "TLS_"));
    hs_cleanup(&t13);
}

static void test_hello_retry(void **state)
{
    (void)state;
    /* the client's key share (ffdhe2048) is not one the server takes: a HelloRetryRequest, and the
     * second ClientHello goes through the callback again */
    struct hs h = {.sni = "b.example", .cert = w.cli_b, .groups = "ffdhe2048:X25519"};
    assert_true(handshake(&h));
    assert_int_equal(h.acc.site, BETA);
    assert_non_null(h.chain_out);
    hs_cleanup(&h);
}

static void test_alpn(void **state)
{
    (void)state;
    static const unsigned char both[] = "\x02h2\x08http/1.1";
    struct hs h = {.sni = "g.example", .alpn = both, .alpn_len = sizeof(both) - 1};
    assert_true(handshake(&h));
    assert_string_equal(h.alpn_sel, "http/1.1");
    hs_cleanup(&h);
    static const unsigned char h2[] = "\x02h2";
    struct hs only = {.sni = "g.example", .alpn = h2, .alpn_len = sizeof(h2) - 1};
    assert_true(handshake(&only));
    assert_string_equal(only.alpn_sel, "");
    hs_cleanup(&only);
}

/* ---- resumption ---- */

static SSL_SESSION *session_from(const char *sni, X509 *cert, X509 *chain, int version)
{
    struct hs h = {.sni = sni, .cert = cert, .chain = chain, .max_version = version};
    assert_true(handshake(&h));
    assert_false(h.reused);
    SSL_SESSION *s = h.new_session;
    h.new_session = NULL;
    hs_cleanup(&h);
    assert_non_null(s);
    assert_true(SSL_SESSION_is_resumable(s));
    return s;
}

static void test_resumption(void **state)
{
    (void)state;
    int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
    for (size_t i = 0; i < 2; i++) {
        SSL_SESSION *s = session_from("a.example", w.cli, NULL, versions[i]);
        struct hs again = {.sni = "a.example", .cert = w.cli, .session = s, .max_version = versions[i]};
        assert_true(handshake(&again));
        assert_true(again.reused);
        assert_true(again.acc.presented);
        /* verified again: the same chain, from the site's store */
        assert_non_null(again.chain_out);
        assert_int_equal(sk_X509_num(again.chain_out), 3);
        assert_true(chain_has(again.chain_out, w.root_a));
        /* a stack of its own, whose CAs are the configuration's objects rather than decoded copies */
        assert_true(again.chain_owned);
        assert_true(chain_shares(again.chain_out, w.root_a));
        assert_true(chain_shares(again.chain_out, w.int_a1));
        assert_int_equal(again.appdata_after_detach, 0);
        hs_cleanup(&again);

        /* another site, or the same site's stricter mTLS domain: a full handshake */
        struct hs other = {.sni = "d.example", .session = s, .cert = w.cli_a2, .max_version = versions[i]};
        assert_true(handshake(&other));
        assert_false(other.reused);
        hs_cleanup(&other);
        struct hs strict = {.sni = "mtls.a.example", .session = s, .cert = w.cli, .max_version = versions[i]};
        assert_true(handshake(&strict));
        assert_false(strict.reused);
        hs_cleanup(&strict);
        SSL_SESSION_free(s);

        /* two domains of one site and mode share sessions */
        s = session_from("g.example", NULL, NULL, versions[i]);
        struct hs sib = {.sni = "x.w.example", .session = s, .max_version = versions[i]};
        assert_true(handshake(&sib));
        assert_true(sib.reused);
        hs_cleanup(&sib);
        SSL_SESSION_free(s);
    }
}

static void test_resumption_keeps_sent_intermediates(void **state)
{
    (void)state;
    /* alpha's bundle lacks A2: the resumed session has the chain verified in the full handshake,
     * the intermediate the client sent included, carried in the ticket */
    SSL_SESSION *s = session_from("mtls.a.example", w.cli_a2, w.int_a2, TLS1_3_VERSION);
    struct hs again = {.sni = "mtls.a.example", .session = s};
    assert_true(handshake(&again));
    assert_true(again.reused);
    assert_non_null(again.chain_out);
    assert_true(chain_has(again.chain_out, w.int_a2));
    assert_true(chain_has(again.chain_out, w.root_a));
    /* the intermediate the client sent is in no bundle: a decoded copy of its own */
    assert_false(chain_shares(again.chain_out, w.int_a2));
    assert_true(chain_shares(again.chain_out, w.root_a));
    /* a ticket sealed with the current key is not renewed (a TLS 1.3 ticket costs the server
     * more than the resumption it saves) */
    assert_ptr_equal(again.new_session, s);
    hs_cleanup(&again);

    /* after a rotation it is, and the renewed ticket still carries the intermediate */
    cg_tickets_rotate();
    struct hs r1 = {.sni = "mtls.a.example", .session = s};
    assert_true(handshake(&r1));
    assert_true(r1.reused);
    assert_ptr_not_equal(r1.new_session, s);
    struct hs r2 = {.sni = "mtls.a.example", .session = r1.new_session};
    assert_true(handshake(&r2));
    assert_true(r2.reused);
    assert_non_null(r2.chain_out);
    assert_true(chain_has(r2.chain_out, w.int_a2));
    hs_cleanup(&r1);
    hs_cleanup(&r2);
    SSL_SESSION_free(s);
}

static void test_resumed_certificate_checked_again(void **state)
{
    (void)state;
    /* a certificate that expires between the full handshake and the resumption: 4 s leave the
     * full handshake room on a loaded machine under ASan (1 s did not, in CI) */
    struct tp_opts brief = {.eku = "clientAuth", .not_after = 4, .serial = 30};
    X509 *x = tp_cert("brief.example", w.k_cli, w.int_a1, w.k_int_a1, &brief);
    SSL_SESSION *s = session_from("a.example", x, NULL, TLS1_3_VERSION);
    sleep(5);
    struct hs again = {.sni = "a.example", .session = s};
    assert_true(handshake(&again));
    assert_true(again.reused);
    assert_null(again.chain_out);
    assert_string_equal(again.acc.reason, "expired");
    assert_int_equal(again.acc.failure, CG_TLS_ACCEPT_CERT_INVALID);
    assert_non_null(strstr(again.acc.detail, "CN=brief.example"));
    assert_int_equal(ERR_peek_error(), 0);
    hs_cleanup(&again);
    SSL_SESSION_free(s);
    X509_free(x);
}

static void test_ticket_rotation(void **state)
{
    (void)state;
    SSL_SESSION *s1 = session_from("g.example", NULL, NULL, TLS1_3_VERSION);
    SSL_SESSION *s2 = session_from("g.example", NULL, NULL, TLS1_2_VERSION);
    SSL_SESSION *s3 = session_from("g.example", NULL, NULL, TLS1_3_VERSION);
    cg_tickets_rotate();
    struct hs one = {.sni = "g.example", .session = s1};
    assert_true(handshake(&one));
    assert_true(one.reused); /* the previous key still decrypts */
    hs_cleanup(&one);
    cg_tickets_rotate();
    struct hs two = {.sni = "g.example", .session = s2, .max_version = TLS1_2_VERSION};
    assert_true(handshake(&two));
    assert_true(two.reused); /* and the one before */
    hs_cleanup(&two);
    cg_tickets_rotate();
    struct hs three = {.sni = "g.example", .session = s3};
    assert_true(handshake(&three));
    assert_false(three.reused); /* aged out: a full handshake */
    hs_cleanup(&three);
    SSL_SESSION_free(s1);
    SSL_SESSION_free(s2);
    SSL_SESSION_free(s3);
}

/* A second runtime (a reload) with the same sites: sessions carry over. */
static void test_resumption_across_reload(void **state)
{
    (void)state;
    SSL_SESSION *s = session_from("a.example", w.cli, NULL, TLS1_3_VERSION);
    struct cg_snapshot *snap = snap_make(w.k_srv);
    snap->revision = 8;
    struct cg_runtime *rt2;
    struct cg_err err;
    assert_ok(cg_runtime_new(snap, NULL, &rt2, &err), err);
    cg_snapshot_unref(snap);
    struct hs h = {.sni = "a.example", .session = s};
    assert_true(handshake_on(rt2, &h));
    assert_true(h.reused);
    hs_cleanup(&h);
    cg_runtime_unref(rt2);
    SSL_SESSION_free(s);
}

/* ---- building ---- */

static void test_build_refusals(void **state)
{
    (void)state;
    struct cg_err err;
    struct cg_runtime *r = NULL;
    struct cg_snapshot *s = snap_make(NULL); /* srv-a without its key */
    assert_refused(cg_runtime_new(s, NULL, &r, &err), CG_ECERT, err,
                   "site 'gamma', domain '*.w.example': server certificate 'srv-a' has no private key loaded");
    assert_non_null(strstr(err.hint, "master key"));
    assert_null(r);
    cg_snapshot_unref(s);

    s = snap_make(w.k_other); /* srv-a with another key */
    assert_refused(cg_runtime_new(s, NULL, &r, &err), CG_ECERT, err, "server certificate 'srv-a' cannot be used");
    assert_non_null(strstr(err.msg, "key values mismatch"));
    assert_non_null(strstr(err.hint, "private key that belongs to it"));
    cg_snapshot_unref(s);

    /* no sites: no ingress contexts, no SSL */
    s = snap_make(w.k_srv);
    size_t n = s->n_sites;
    s->n_sites = 0;
    assert_ok(cg_runtime_new(s, NULL, &r, &err), err);
    assert_null(r->server);
    struct cg_tls_accept acc;
    assert_null(cg_tls_server_ssl_new(r, &acc));
    cg_runtime_unref(r);
    s->n_sites = n;
    cg_snapshot_unref(s);
}

static void test_verify_reasons(void **state)
{
    (void)state;
    assert_string_equal(cg_tls_verify_reason(X509_V_OK), "");
    assert_string_equal(cg_tls_verify_reason(X509_V_ERR_CERT_HAS_EXPIRED), "expired");
    assert_string_equal(cg_tls_verify_reason(X509_V_ERR_CERT_NOT_YET_VALID), "not_yet_valid");
    assert_string_equal(cg_tls_verify_reason(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY), "unknown_ca");
    assert_string_equal(cg_tls_verify_reason(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT), "unknown_ca");
    assert_string_equal(cg_tls_verify_reason(X509_V_ERR_CERT_REVOKED), "revoked");
    assert_string_equal(cg_tls_verify_reason(X509_V_ERR_INVALID_PURPOSE), "wrong_usage");
    assert_string_equal(cg_tls_verify_reason(X509_V_ERR_CERT_SIGNATURE_FAILURE), "bad_signature");
    assert_string_equal(cg_tls_verify_reason(X509_V_ERR_CRL_HAS_EXPIRED), "other");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sni_selects_certificate),
        cmocka_unit_test(test_no_sni_refused),
        cmocka_unit_test(test_unknown_sni_refused),
        cmocka_unit_test(test_malformed_sni_refused),
        cmocka_unit_test(test_no_server_cert_refused),
        cmocka_unit_test(test_mode_off),
        cmocka_unit_test(test_mode_optional),
        cmocka_unit_test(test_mode_required),
        cmocka_unit_test(test_rejected_certificates),
        cmocka_unit_test(test_verify_store_is_the_domains),
        cmocka_unit_test(test_intermediates),
        cmocka_unit_test(test_versions_and_ciphers),
        cmocka_unit_test(test_hello_retry),
        cmocka_unit_test(test_alpn),
        cmocka_unit_test(test_resumption),
        cmocka_unit_test(test_resumption_keeps_sent_intermediates),
        cmocka_unit_test(test_resumed_certificate_checked_again),
        cmocka_unit_test(test_ticket_rotation),
        cmocka_unit_test(test_resumption_across_reload),
        cmocka_unit_test(test_build_refusals),
        cmocka_unit_test(test_verify_reasons),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
