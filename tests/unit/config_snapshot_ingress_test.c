/* Snapshots, ingress part, through a real sqlite store: profiles (ranges parsed, CAs to indexes,
 * selected signers), sites (backend, rules longest first, client CAs as a deduplicated union),
 * domains sorted with their server certificate (named, or chosen by SAN and expiry), each ca's
 * CRLs; the per-handshake domain lookup; and refusal of stored rows that break the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "config/snapshot.h"
#include "core/file.h"
#include "testpki.h"
#include "teststore.h"

static const uint8_t master[CG_MASTER_KEY_LEN] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12, 13, 14, 15, 16,
                                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* the other branch of the test root, and its leaf */
static X509 *int_b, *leaf_b;
static EVP_PKEY *key_b;

static void put_ca(struct cg_store *s, const char *name, X509 *a, X509 *b, X509 *c, const char *crl_pem)
{
    struct cg_buf pem;
    cg_buf_init(&pem, 0);
    struct cg_err err;
    struct cg_store_cert rec = {0};
    assert_int_equal(cg_store_new_id(rec.id), 0);
    STACK_OF(X509) *rest = sk_X509_new_null();
    if (b) sk_X509_push(rest, b);
    if (c) sk_X509_push(rest, c);
    assert_int_equal(cg_pki_certs_to_pem(a, rest, &pem), 0);
    sk_X509_free(rest);
    rec.name = (char *)name;
    rec.kind = CG_STORE_CA;
    rec.cert_pem = (char *)cg_buf_str(&pem);
    rec.crl_pem = (char *)crl_pem;
    rec.warnings_json = "[]";
    if (cg_store_cert_put(s, "production", &rec, true, &err)) fail_msg("%s", err.msg);
    cg_buf_cleanup(&pem);
}

/* A CRL of issuer revoking one serial, PEM, into out. */
static void make_crl(X509 *issuer, EVP_PKEY *key, long serial, struct cg_buf *out)
{
    X509_CRL *crl = X509_CRL_new();
    assert_non_null(crl);
    assert_int_equal(X509_CRL_set_version(crl, 1), 1);
    assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)), 1);
    ASN1_TIME *t = ASN1_TIME_adj(NULL, time(NULL), -1, 0);
    assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
    ASN1_TIME_adj(t, time(NULL), 30, 0);
    assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
    X509_REVOKED *r = X509_REVOKED_new();
    ASN1_INTEGER *sn = ASN1_INTEGER_new();
    ASN1_INTEGER_set(sn, serial);
    X509_REVOKED_set_serialNumber(r, sn);
    X509_REVOKED_set_revocationDate(r, t);
    assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
    ASN1_INTEGER_free(sn);
    ASN1_TIME_free(t);
    assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509_CRL(bio, crl), 1);
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    tp_append(out, p, (size_t)n);
    BIO_free(bio);
    X509_CRL_free(crl);
}

static void put_profile(struct cg_store *s, const char *name, char **allow, size_t n_allow, char **deny,
                        size_t n_deny, struct cg_store_profile_ca *cas, size_t n_cas)
{
    struct cg_store_profile p = {.name = (char *)name, .allow_ips = allow, .n_allow_ips = n_allow,
                                 .deny_ips = deny, .n_deny_ips = n_deny, .cas = cas, .n_cas = n_cas};
    struct cg_err err;
    if (cg_store_profile_put(s, "production", &p, true, &err)) fail_msg("%s", err.msg);
}

static void put_rule(struct cg_store *s, const char *site, const char *path, const char *profile)
{
    struct cg_store_rule r = {.site = (char *)site, .path = (char *)path, .profile = (char *)profile};
    struct cg_err err;
    if (cg_store_rule_put(s, "production", &r, &err)) fail_msg("%s", err.msg);
}

static void fingerprint(X509 *x, char out[65])
{
    struct cg_pki_facts f;
    assert_int_equal(cg_pki_facts_get(x, &f), 0);
    memcpy(out, f.fingerprint, 65);
    cg_pki_facts_cleanup(&f);
}

/* Loads with standard error captured (the warnings the loader logs) into log. */
static int load_logged(struct cg_store *s, struct cg_snapshot **snap, struct cg_err *err, struct cg_buf *log)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/snapin-log-%d.txt", tp_tmpdir(), (int)getpid());
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    cg_err_clear(err);
    int rc = cg_snapshot_load(s, "production", NULL, snap, err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    cg_buf_init(log, 1 << 20);
    struct cg_err ferr;
    assert_int_equal(cg_file_read(path, log, &ferr), 0);
    unlink(path);
    return rc;
}

static int domain(const struct cg_snapshot *snap, const char *host)
{
    return cg_snapshot_domain_find(snap, cg_slice_str(host));
}

/* The environment most tests use: two server certificates for www (the later one expires later),
 * one for api and a wildcard; a bundle root + two intermediates with a CRL; a second ca. */
static struct cg_store *populate(const char *tag)
{
    const struct tp_pki *p = tp_pki_get();
    struct cg_store *s = ts_store_open(tag);
    struct tp_opts srv = {.eku = "serverAuth", .san = "DNS:www.example.com,DNS:shop.example.com", .serial = 50,
                          .not_after = 100L * 86400};
    X509 *www_old = tp_cert("www old", p->leaf_key, p->intm, p->int_key, &srv);
    srv.serial = 51;
    srv.not_after = 300L * 86400;
    X509 *www_new = tp_cert("www new", p->leaf_key, p->intm, p->int_key, &srv);
    srv.serial = 52;
    srv.san = "DNS:*.apps.example.com,DNS:API.example.com";
    X509 *wild = tp_cert("apps", p->leaf_key, p->intm, p->int_key, &srv);
    ts_store_identity(s, "production", "a-www-old", CG_STORE_SERVER, www_old, p->leaf_key, false, master);
    ts_store_identity(s, "production", "b-www-new", CG_STORE_SERVER, www_new, p->leaf_key, false, master);
    ts_store_identity(s, "production", "wild", CG_STORE_SERVER, wild, p->leaf_key, false, master);
    X509_free(www_old);
    X509_free(www_new);
    X509_free(wild);

    struct cg_buf crl;
    cg_buf_init(&crl, 0);
    make_crl(p->intm, p->int_key, 16, &crl);
    put_ca(s, "corp", p->root, p->intm, int_b, cg_buf_str(&crl));
    cg_buf_cleanup(&crl);
    put_ca(s, "partner", p->v1root, NULL, NULL, NULL);

    char fp_a[65];
    fingerprint(p->intm, fp_a);
    char *fps[] = {fp_a};
    struct cg_store_profile_ca office_ca = {.ca = "corp", .fingerprints = fps, .n_fingerprints = 1};
    char *allow[] = {"10.0.0.0/8", "2001:db8::/32"}, *deny[] = {"10.66.0.0/16"};
    put_profile(s, "office", allow, 2, deny, 1, &office_ca, 1);
    struct cg_store_profile_ca all_corp = {.ca = "corp"};
    put_profile(s, "everyone", NULL, 0, NULL, 0, &all_corp, 1);
    put_profile(s, "unused", allow, 1, NULL, 0, NULL, 0);

    struct cg_err err;
    struct cg_store_site_domain shop_domains[] = {{.host = "shop.example.com"}, {.host = "www.example.com",
                                                                                 .cert_name = "a-www-old"}};
    char *shop_cas[] = {"partner", "corp"};
    struct cg_store_site shop = {.name = "shop", .backend = "http://127.0.0.1:8080", .mtls = CG_STORE_MTLS_REQUIRED,
                                 .domains = shop_domains, .n_domains = 2,
                                 .mtls_domain = {.host = "mtls.shop.example"}, .client_cas = shop_cas,
                                 .n_client_cas = 2};
    if (cg_store_site_put(s, "production", &shop, false, &err)) fail_msg("%s", err.msg);
    struct cg_store_site_domain apps_domains[] = {{.host = "*.apps.example.com"}, {.host = "api.example.com"}};
    struct cg_store_site apps = {.name = "apps", .backend = "http://[::1]:9000", .mtls = CG_STORE_MTLS_OPTIONAL,
                                 .domains = apps_domains, .n_domains = 2};
    if (cg_store_site_put(s, "production", &apps, false, &err)) fail_msg("%s", err.msg);

    put_rule(s, "shop", "/", "office");
    put_rule(s, "shop", "/api/", "everyone");
    put_rule(s, "shop", "/public/", "allow-all");
    put_rule(s, "shop", "/ab", "deny-all");
    put_rule(s, "shop", "/zz", "office");
    put_rule(s, "apps", "/admin/", "office");
    return s;
}

static void test_profiles(void **state)
{
    (void)state;
    const struct tp_pki *p = tp_pki_get();
    struct cg_store *s = populate("profiles");
    struct cg_snapshot *snap;
    struct cg_err err;
    if (cg_snapshot_load(s, "production", NULL, &snap, &err)) fail_msg("%s", err.msg);
    assert_int_equal(snap->n_profiles, 3);
    assert_string_equal(snap->profiles[0].name, "everyone"); /* ordered by name */
    assert_string_equal(snap->profiles[1].name, "office");
    assert_string_equal(snap->profiles[2].name, "unused");

    const struct cg_snapshot_profile *office = &snap->profiles[1];
    assert_int_equal(office->n_allow, 2);
    assert_int_equal(office->allow[0].family, 4);
    assert_int_equal(office->allow[0].bits, 8);
    assert_int_equal(office->allow[1].family, 6);
    assert_int_equal(office->n_deny, 1);
    assert_int_equal(office->deny[0].addr[1], 66);
    assert_int_equal(office->n_cas, 1);
    assert_string_equal(snap->certs[office->cas[0]].name, "corp");
    assert_int_equal(office->n_signers, 1); /* only the selected intermediate */
    assert_int_equal(X509_cmp(office->signers[0], p->intm), 0);

    const struct cg_snapshot_profile *everyone = &snap->profiles[0];
    assert_int_equal(everyone->n_allow + everyone->n_deny, 0);
    assert_int_equal(everyone->n_signers, 3); /* no selection: the whole bundle */
    assert_int_equal(X509_cmp(everyone->signers[0], p->root), 0);
    assert_int_equal(X509_cmp(everyone->signers[2], int_b), 0);

    /* the signers are references of the snapshot's own: they outlive the bundle's stack */
    X509 *held = office->signers[0];
    X509_up_ref(held);
    cg_snapshot_unref(snap);
    assert_int_equal(X509_cmp(held, p->intm), 0);
    X509_free(held);
    cg_store_close(s);
}

static void test_sites_and_rules(void **state)
{
    (void)state;
    struct cg_store *s = populate("sites");
    struct cg_snapshot *snap;
    struct cg_err err;
    if (cg_snapshot_load(s, "production", NULL, &snap, &err)) fail_msg("%s", err.msg);
    assert_int_equal(snap->n_sites, 2);
    int shop_i = cg_snapshot_site_find(snap, "shop"), apps_i = cg_snapshot_site_find(snap, "apps");
    assert_int_equal(apps_i, 0);
    assert_int_equal(shop_i, 1);
    assert_int_equal(cg_snapshot_site_find(snap, "nope"), -1);
    assert_int_equal(cg_snapshot_site_find(snap, "Shop"), -1);

    const struct cg_snapshot_site *shop = &snap->sites[shop_i];
    assert_string_equal(shop->backend_host, "127.0.0.1");
    assert_int_equal(shop->backend_port, 8080);
    assert_int_equal(shop->mtls, CG_MTLS_REQUIRED);
    assert_string_equal(shop->mtls_domain, "mtls.shop.example");
    /* longest first; equal lengths by string */
    const char *order[] = {"/public/", "/api/", "/ab", "/zz", "/"};
    assert_int_equal(shop->n_rules, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(shop->rules[i].path, order[i]);
        assert_int_equal(shop->rules[i].path_len, strlen(order[i]));
    }
    assert_int_equal(shop->rules[0].profile, CG_PROFILE_ALLOW_ALL);
    assert_string_equal(snap->profiles[shop->rules[1].profile].name, "everyone");
    assert_int_equal(shop->rules[2].profile, CG_PROFILE_DENY_ALL);
    assert_string_equal(snap->profiles[shop->rules[3].profile].name, "office");
    assert_string_equal(snap->profiles[shop->rules[4].profile].name, "office");
    /* the site's own CAs in order, then the profiles' -- corp once, though three sources name it */
    assert_int_equal(shop->n_client_cas, 2);
    assert_string_equal(snap->certs[shop->client_cas[0]].name, "partner");
    assert_string_equal(snap->certs[shop->client_cas[1]].name, "corp");

    const struct cg_snapshot_site *apps = &snap->sites[apps_i];
    assert_string_equal(apps->backend_host, "::1");
    assert_int_equal(apps->backend_port, 9000);
    assert_int_equal(apps->mtls, CG_MTLS_OPTIONAL);
    assert_null(apps->mtls_domain);
    assert_int_equal(apps->n_rules, 1);
    assert_int_equal(apps->n_client_cas, 1); /* only through the profile of its rule */
    assert_string_equal(snap->certs[apps->client_cas[0]].name, "corp");

    /* the decision over the loaded snapshot */
    const struct tp_pki *p = tp_pki_get();
    STACK_OF(X509) *chain = sk_X509_new_null();
    sk_X509_push(chain, leaf_b);
    sk_X509_push(chain, int_b);
    sk_X509_push(chain, p->root);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "203.0.113.5", &sin.sin_addr);
    struct cg_access_request r = {.site = shop_i, .path = "/api/x", .path_len = 6, .addr = (struct sockaddr *)&sin,
                                  .chain = chain};
    struct cg_access_verdict v;
    cg_access_check(snap, &r, &v);
    assert_true(v.allowed);
    assert_string_equal(v.reason, "certificate");
    r.path = "/other";
    r.path_len = 6;
    cg_access_check(snap, &r, &v); /* office selects intermediate A only */
    assert_false(v.allowed);
    assert_string_equal(v.reason, "certificate_not_accepted");
    assert_string_equal(v.profile, "office");
    inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr);
    cg_access_check(snap, &r, &v);
    assert_true(v.allowed);
    assert_string_equal(v.reason, "ip_allowed");
    sk_X509_free(chain);
    cg_snapshot_unref(snap);
    cg_store_close(s);
}

static void test_domains_and_certificates(void **state)
{
    (void)state;
    struct cg_store *s = populate("domains");
    struct cg_snapshot *snap;
    struct cg_err err;
    struct cg_buf log;
    if (load_logged(s, &snap, &err, &log)) fail_msg("%s", err.msg);
    const char *hosts[] = {"*.apps.example.com", "api.example.com", "mtls.shop.example", "shop.example.com",
                           "www.example.com"};
    assert_int_equal(snap->n_domains, 5);
    for (size_t i = 0; i < 5; i++) assert_string_equal(snap->domains[i].host, hosts[i]);
    int shop = cg_snapshot_site_find(snap, "shop"), apps = cg_snapshot_site_find(snap, "apps");
    const struct cg_snapshot_domain *d = snap->domains;
    assert_int_equal(d[0].site, apps);
    assert_string_equal(snap->certs[d[0].cert].name, "wild");
    assert_string_equal(snap->certs[d[1].cert].name, "wild"); /* SAN "API.example.com": case ignored */
    assert_int_equal(d[2].site, shop);
    assert_true(d[2].mtls_domain);
    assert_int_equal(d[2].cert, -1); /* no certificate names it */
    assert_false(d[3].mtls_domain);
    assert_string_equal(snap->certs[d[3].cert].name, "b-www-new"); /* automatic: the one valid longest */
    assert_string_equal(snap->certs[d[4].cert].name, "a-www-old"); /* named */
    /* the warning names the site, the host and the fix */
    const char *text = cg_buf_str(&log);
    if (!strstr(text, "site 'shop': no server certificate covers 'mtls.shop.example'") ||
        !strstr(text, "certgate cert add NAME FILE --kind server"))
        fail_msg("warning missing: %s", text);
    cg_buf_cleanup(&log);

    /* per handshake and per request */
    assert_int_equal(domain(snap, "www.example.com"), 4);
    assert_int_equal(domain(snap, "WWW.Example.COM"), 4);
    assert_int_equal(domain(snap, "www.example.com."), 4);
    assert_int_equal(domain(snap, "www.example.com:8443"), 4);
    assert_int_equal(domain(snap, "www.example.com.:443"), 4);
    assert_int_equal(domain(snap, "x.apps.example.com"), 0);
    assert_int_equal(domain(snap, "X-1.Apps.Example.Com"), 0);
    assert_int_equal(domain(snap, "api.example.com"), 1); /* exact before wildcard */
    assert_int_equal(domain(snap, "a.b.apps.example.com"), -1); /* the wildcard is one label */
    assert_int_equal(domain(snap, "apps.example.com"), -1);
    assert_int_equal(domain(snap, ".apps.example.com"), -1);
    assert_int_equal(domain(snap, "example.com"), -1);
    assert_int_equal(domain(snap, "www.example.co"), -1);
    assert_int_equal(domain(snap, "www.example.comm"), -1);
    assert_int_equal(domain(snap, ""), -1);
    assert_int_equal(domain(snap, "."), -1);
    assert_int_equal(domain(snap, ":443"), -1);
    assert_int_equal(domain(snap, "[::1]:443"), -1);
    assert_int_equal(cg_snapshot_domain_find(snap, cg_slice_make("www.example.com\0x", 17)), -1);
    char longest[300];
    memset(longest, 'a', sizeof(longest));
    assert_int_equal(cg_snapshot_domain_find(snap, cg_slice_make(longest, sizeof(longest))), -1);
    memcpy(longest + 300 - 17, ".apps.example.com", 17); /* 300 bytes: over the DNS limit */
    assert_int_equal(cg_snapshot_domain_find(snap, cg_slice_make(longest, sizeof(longest))), -1);

    /* CRLs: kept with their ca, none where there are none */
    int corp = cg_snapshot_cert_find(snap, "corp"), partner = cg_snapshot_cert_find(snap, "partner");
    assert_non_null(snap->certs[corp].crls);
    assert_int_equal(sk_X509_CRL_num(snap->certs[corp].crls), 1);
    assert_null(snap->certs[partner].crls);
    assert_int_equal(sk_X509_num(snap->certs[corp].certs), 3);
    cg_snapshot_unref(snap);
    cg_store_close(s);
}

static void test_empty_environment(void **state)
{
    (void)state;
    struct cg_store *s = ts_store_open("empty");
    struct cg_snapshot *snap;
    struct cg_err err;
    assert_int_equal(cg_snapshot_load(s, "production", NULL, &snap, &err), 0);
    assert_int_equal(snap->n_sites + snap->n_profiles + snap->n_domains, 0);
    assert_int_equal(domain(snap, "www.example.com"), -1);
    assert_int_equal(cg_snapshot_site_find(snap, "shop"), -1);
    cg_snapshot_unref(snap);
    cg_store_close(s);
}

/* A selection naming a certificate the bundle no longer holds accepts nothing -- it must not
 * widen to "every certificate of the bundle". */
static void test_stale_selection_fails_closed(void **state)
{
    (void)state;
    const struct tp_pki *p = tp_pki_get();
    struct cg_store *s = populate("stale");
    put_ca(s, "corp", p->root, int_b, NULL, NULL); /* replaced: intermediate A is gone */
    struct cg_snapshot *snap;
    struct cg_err err;
    struct cg_buf log;
    if (load_logged(s, &snap, &err, &log)) fail_msg("%s", err.msg);
    const struct cg_snapshot_profile *office = &snap->profiles[1];
    assert_string_equal(office->name, "office");
    assert_int_equal(office->n_signers, 0);
    assert_int_equal(snap->profiles[0].n_signers, 2);
    char fp[65];
    fingerprint(p->intm, fp);
    const char *text = cg_buf_str(&log);
    if (!strstr(text, "profile 'office': client CA 'corp' holds no certificate with SHA-256 fingerprint") ||
        !strstr(text, fp) || !strstr(text, "certgate profile set office --client-ca corp@"))
        fail_msg("warning missing: %s", text);
    cg_buf_cleanup(&log);
    cg_snapshot_unref(snap);
    cg_store_close(s);
}

/* Rows the writer would have refused fail the load, naming the object and the fix. */
static void test_refused_rows(void **state)
{
    (void)state;
    struct cg_store *s = populate("refused");
    struct cg_snapshot *snap = NULL;
    struct cg_err err;

    char *bad_allow[] = {"10.0.0.1/8"};
    put_profile(s, "zz-bad", bad_allow, 1, NULL, 0, NULL, 0);
    assert_int_equal(cg_snapshot_load(s, "production", NULL, &snap, &err), CG_ESTORE);
    assert_null(snap);
    if (!strstr(err.msg, "profile 'zz-bad'") || !strstr(err.msg, "10.0.0.1/8")) fail_msg("%s", err.msg);
    assert_non_null(strstr(err.hint, "certgate profile set zz-bad --env production"));
    assert_int_equal(cg_store_profile_delete(s, "production", "zz-bad", &err), 0);

    struct cg_store_site bad = {.name = "zz-tls", .backend = "https://127.0.0.1:8443"};
    assert_int_equal(cg_store_site_put(s, "production", &bad, false, &err), 0);
    assert_int_equal(cg_snapshot_load(s, "production", NULL, &snap, &err), CG_ESTORE);
    if (!strstr(err.msg, "site 'zz-tls'") || !strstr(err.msg, "https://127.0.0.1:8443")) fail_msg("%s", err.msg);
    assert_non_null(strstr(err.hint, "certgate site set zz-tls --env production"));
    assert_int_equal(cg_store_site_delete(s, "production", "zz-tls", &err), 0);

    assert_int_equal(cg_snapshot_load(s, "production", NULL, &snap, &err), 0); /* back to good */
    cg_snapshot_unref(snap);
    snap = NULL;

    put_ca(s, "partner", tp_pki_get()->v1root, NULL, NULL,
           "-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n");
    assert_true(cg_snapshot_load(s, "production", NULL, &snap, &err) < 0);
    assert_null(snap);
    if (!strstr(err.msg, "ca 'partner'")) fail_msg("%s", err.msg);
    cg_store_close(s);
}

/* Stored rule paths are matched in the form request paths take; two spellings of one path warn,
 * and the stricter target applies. */
static void test_rule_paths_normalised(void **state)
{
    (void)state;
    struct cg_store *s = populate("rulepaths");
    put_rule(s, "apps", "/files;v=1/x", "allow-all");
    put_rule(s, "apps", "/files/x", "deny-all");
    put_rule(s, "apps", "/files/", "allow-all");
    struct cg_snapshot *snap;
    struct cg_err err;
    struct cg_buf log;
    if (load_logged(s, &snap, &err, &log)) fail_msg("%s", err.msg);
    const struct cg_snapshot_site *apps = &snap->sites[cg_snapshot_site_find(snap, "apps")];
    assert_int_equal(apps->n_rules, 4);
    assert_string_equal(apps->rules[0].path, "/files/x");
    assert_int_equal(apps->rules[0].profile, CG_PROFILE_DENY_ALL);
    assert_string_equal(apps->rules[1].path, "/files/x");
    assert_int_equal(apps->rules[1].profile, CG_PROFILE_ALLOW_ALL);
    assert_string_equal(apps->rules[2].path, "/admin/");
    assert_string_equal(apps->rules[3].path, "/files/");
    const char *text = cg_buf_str(&log);
    if (!strstr(text, "site 'apps': the rule path '/files;v=1/x' is matched as '/files/x'") ||
        !strstr(text, "site 'apps': two rules are the path '/files/x' once normalised; 'deny-all' applies"))
        fail_msg("warnings missing: %s", text);
    cg_buf_cleanup(&log);
    struct cg_access_request r = {.site = cg_snapshot_site_find(snap, "apps"), .path = "/files/x/1", .path_len = 9};
    struct cg_access_verdict v;
    cg_access_check(snap, &r, &v);
    assert_false(v.allowed);
    cg_snapshot_unref(snap);

    put_rule(s, "apps", "/../x", "deny-all");
    snap = NULL;
    assert_int_equal(cg_snapshot_load(s, "production", NULL, &snap, &err), CG_ESTORE);
    assert_null(snap);
    if (!strstr(err.msg, "site 'apps': the rule path '/../x' is not usable") || !strstr(err.msg, "above the root"))
        fail_msg("%s", err.msg);
    assert_non_null(strstr(err.hint, "certgate site rule rm apps '/../x' --env production"));
    cg_store_close(s);
}

/* The domain lookup runs per handshake and per request: measure it. */
static void test_domain_find_is_fast(void **state)
{
    (void)state;
    struct cg_store *s = populate("fast");
    struct cg_snapshot *snap;
    struct cg_err err;
    struct cg_buf log;
    if (load_logged(s, &snap, &err, &log)) fail_msg("%s", err.msg);
    cg_buf_cleanup(&log);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    long hits = 0;
    for (int i = 0; i < 200000; i++) {
        hits += domain(snap, "X.Apps.Example.com") == 0;
        hits += domain(snap, "nothing.example.net") == -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(hits, 400000);
    double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 400000.0;
    print_message("cg_snapshot_domain_find: %.0f ns per lookup\n", ns);
    assert_true(ns < 5000); /* generous: sanitizers and a shared CPU */
    cg_snapshot_unref(snap);
    cg_store_close(s);
}

static int setup(void **state)
{
    (void)state;
    const struct tp_pki *p = tp_pki_get();
    key_b = tp_key_ec();
    struct tp_opts ca = {.ca = true, .not_after = 3650L * 86400, .serial = 40};
    int_b = tp_cert("Test Intermediate B", key_b, p->root, p->root_key, &ca);
    struct tp_opts leaf = {.eku = "clientAuth", .serial = 41};
    leaf_b = tp_cert("b.example", key_b, int_b, key_b, &leaf);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    X509_free(leaf_b);
    X509_free(int_b);
    EVP_PKEY_free(key_b);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_sites_and_rules),
        cmocka_unit_test(test_domains_and_certificates),
        cmocka_unit_test(test_empty_environment),
        cmocka_unit_test(test_stale_selection_fails_closed),
        cmocka_unit_test(test_refused_rows),
        cmocka_unit_test(test_rule_paths_normalised),
        cmocka_unit_test(test_domain_find_is_fast),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
