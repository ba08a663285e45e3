/* Snapshots: one consistent read of an environment, pins resolved against its certificates,
 * private keys unsealed only when a master key is given, and refusal of an inconsistent store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <unistd.h>

#include "config/snapshot.h"
#include "config/upstream.h"
#include "testpki.h"
#include "teststore.h"

static const uint8_t master[CG_MASTER_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void test_load_and_resolve(void **state)
{
    (void)state;
    const struct tp_pki *p = tp_pki_get();
    struct cg_store *s = ts_store_open("resolve");
    struct cg_err err;
    ts_store_identity(s, "production", "alpha", CG_STORE_CLIENT, p->leaf, p->leaf_key, true, master);
    ts_store_identity(s, "production", "beta", CG_STORE_CLIENT, p->leaf_ec, p->ec_key, false, master);
    ts_store_identity(s, "stage", "alpha", CG_STORE_CLIENT, p->other, p->other_key, false, master);
    assert_int_equal(cg_store_pin_put(s, "production", "Billing.Pay", "beta", &err), 0);
    assert_int_equal(cg_store_pin_put(s, "production", "*.partner.example", NULL, &err), 0);

    struct cg_snapshot *snap;
    assert_int_equal(cg_snapshot_load(s, "production", NULL, &snap, &err), 0);
    uint64_t rev;
    assert_int_equal(cg_store_revision(s, "production", &rev, &err), 0);
    assert_int_equal(snap->revision, rev);
    assert_int_equal(snap->n_certs, 2); /* stage's certificate is not here */
    int beta = cg_snapshot_cert_find(snap, "beta");
    assert_true(beta >= 0);
    assert_null(snap->certs[beta].key); /* no master key given: nothing unsealed */
    assert_non_null(snap->certs[beta].leaf);
    assert_int_equal(sk_X509_num(snap->certs[beta].certs), 1); /* the chain */
    assert_int_equal(strlen(snap->certs[beta].fingerprint), 64);

    struct cg_pin_match m;
    cg_pin_resolve(snap->pins, cg_slice_str("x.example"), 443, cg_slice_str("Billing.Pay"), &m);
    assert_int_equal(m.cert, beta);
    cg_pin_resolve(snap->pins, cg_slice_str("api.partner.example"), 443, cg_slice_str(NULL), &m);
    assert_int_equal(m.cert, CG_PIN_NONE);
    assert_int_equal(m.rule, CG_PIN_RULE_WILDCARD);
    cg_pin_resolve(snap->pins, cg_slice_str("elsewhere.example"), 443, cg_slice_str(NULL), &m);
    assert_int_equal(m.rule, CG_PIN_RULE_DEFAULT);
    assert_string_equal(snap->certs[m.cert].name, "alpha");

    /* a reference keeps the snapshot alive after the loader lets go */
    struct cg_snapshot *held = cg_snapshot_ref(snap);
    cg_snapshot_unref(snap);
    assert_string_equal(held->env, "production");
    cg_snapshot_unref(held);
    cg_store_close(s);
}

static void test_unseal_with_master(void **state)
{
    (void)state;
    const struct tp_pki *p = tp_pki_get();
    struct cg_store *s = ts_store_open("unseal");
    ts_store_identity(s, "production", "alpha", CG_STORE_CLIENT, p->leaf, p->leaf_key, false, master);
    struct cg_snapshot *snap;
    struct cg_err err;
    assert_int_equal(cg_snapshot_load(s, "production", master, &snap, &err), 0);
    assert_non_null(snap->certs[0].key);
    assert_int_equal(X509_check_private_key(snap->certs[0].leaf, snap->certs[0].key), 1);
    cg_snapshot_unref(snap);

    /* another master key: the load fails and names the certificate */
    uint8_t wrong[CG_MASTER_KEY_LEN];
    memcpy(wrong, master, sizeof(wrong));
    wrong[0] ^= 1;
    cg_err_clear(&err);
    snap = NULL;
    assert_int_equal(cg_snapshot_load(s, "production", wrong, &snap, &err), CG_ECERT);
    assert_null(snap);
    assert_non_null(strstr(err.msg, "certificate 'alpha'"));
    assert_non_null(strstr(err.msg, "cannot decrypt"));
    cg_store_close(s);
}

static void test_empty_environment(void **state)
{
    (void)state;
    struct cg_store *s = ts_store_open("empty");
    struct cg_snapshot *snap;
    struct cg_err err;
    assert_int_equal(cg_snapshot_load(s, "nowhere", master, &snap, &err), 0);
    assert_int_equal(snap->n_certs, 0);
    assert_int_equal(snap->revision, 0);
    struct cg_pin_match m;
    cg_pin_resolve(snap->pins, cg_slice_str("a.example"), 0, cg_slice_str(NULL), &m);
    assert_int_equal(m.rule, CG_PIN_RULE_NONE);
    cg_snapshot_unref(snap);
    cg_snapshot_unref(NULL);
    cg_store_close(s);
}

/* ---- upstreams ----------------------------------------------------------------------------- */

static void put_ca(struct cg_store *s, const char *env, const char *name, X509 *x)
{
    struct cg_buf pem;
    cg_buf_init(&pem, 0);
    struct cg_err err;
    struct cg_store_cert rec = {0};
    assert_int_equal(cg_store_new_id(rec.id), 0);
    assert_int_equal(cg_pki_certs_to_pem(x, NULL, &pem), 0);
    rec.name = (char *)name;
    rec.kind = CG_STORE_CA;
    rec.cert_pem = (char *)cg_buf_str(&pem);
    rec.warnings_json = "[]";
    if (cg_store_cert_put(s, env, &rec, false, &err)) fail_msg("%s", err.msg);
    cg_buf_cleanup(&pem);
}

static void put_upstream(struct cg_store *s, const char *env, const char *name, const char *url, char **cas,
                         size_t n_cas, const char *server_name, const char *spki)
{
    struct cg_store_upstream u = {0};
    u.name = (char *)name;
    u.url = (char *)url;
    u.cas = cas;
    u.n_cas = n_cas;
    u.server_name = (char *)server_name;
    u.spki_sha256 = (char *)spki;
    u.connect_timeout_ms = 2500;
    struct cg_err err;
    if (cg_store_upstream_put(s, env, &u, false, &err)) fail_msg("%s", err.msg);
}

/* SHA-256 of "" : 32 bytes that start e3 b0 c4 42 */
static const char SPKI_B64[] = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

static void test_upstreams_loaded(void **state)
{
    (void)state;
    const struct tp_pki *p = tp_pki_get();
    struct cg_store *s = ts_store_open("upstreams");
    struct cg_err err;
    ts_store_identity(s, "production", "alpha", CG_STORE_CLIENT, p->leaf, p->leaf_key, true, master);
    put_ca(s, "production", "corp-inter", p->intm);
    put_ca(s, "production", "corp-root", p->root);
    put_ca(s, "stage", "corp-root", p->root);
    char *cas[] = {"corp-root", "corp-inter"};
    put_upstream(s, "production", "Partner", "HTTPS://API.Partner.example:8443/v1/", cas, 2, "verify.partner.example",
                 SPKI_B64);
    put_upstream(s, "production", "plain", "https://plain.example/", NULL, 0, NULL, NULL);
    put_upstream(s, "production", "v6", "https://[2001:DB8::1]", NULL, 0, NULL, NULL);
    put_upstream(s, "stage", "stage-only", "https://stage.example", NULL, 0, NULL, NULL);

    struct cg_snapshot *snap;
    if (cg_snapshot_load(s, "production", NULL, &snap, &err)) fail_msg("%s", err.msg);
    assert_int_equal(snap->n_upstreams, 3); /* stage's is not here */
    int i = cg_snapshot_upstream_find(snap, cg_slice_str("partner")); /* as Host fields compare */
    assert_int_equal(i, 0);
    assert_int_equal(cg_snapshot_upstream_find(snap, cg_slice_str("PARTNER")), 0);
    assert_int_equal(cg_snapshot_upstream_find(snap, cg_slice_str("partne")), -1);
    assert_int_equal(cg_snapshot_upstream_find(snap, cg_slice_str("stage-only")), -1);
    const struct cg_snapshot_upstream *u = &snap->upstreams[i];
    assert_string_equal(u->name, "Partner");
    assert_string_equal(u->host, "api.partner.example");
    assert_int_equal(u->port, 8443);
    assert_string_equal(u->base_path, "/v1");
    assert_string_equal(u->server_name, "verify.partner.example");
    assert_true(u->has_spki);
    assert_int_equal(u->spki_sha256[0], 0xe3);
    assert_int_equal(u->spki_sha256[31], 0x55);
    assert_int_equal(u->n_cas, 2);
    assert_string_equal(snap->certs[u->cas[0]].name, "corp-root"); /* in the order given */
    assert_string_equal(snap->certs[u->cas[1]].name, "corp-inter");
    assert_int_equal(snap->certs[u->cas[0]].kind, CG_CERT_CA);
    assert_int_equal(u->connect_timeout_ms, 2500);
    assert_int_equal(u->timeout_ms, 0);

    u = &snap->upstreams[cg_snapshot_upstream_find(snap, cg_slice_str("plain"))];
    assert_string_equal(u->host, "plain.example");
    assert_int_equal(u->port, 443);
    assert_string_equal(u->base_path, "");
    assert_string_equal(u->server_name, "plain.example"); /* no override: the host */
    assert_false(u->has_spki);
    assert_int_equal(u->n_cas, 0);
    assert_null(u->cas);

    u = &snap->upstreams[cg_snapshot_upstream_find(snap, cg_slice_str("v6"))];
    assert_string_equal(u->host, "2001:db8::1");
    assert_int_equal(u->port, 443);
    cg_snapshot_unref(snap);

    /* a row that breaks the rules (the store does not check URLs) fails the load, naming it */
    put_upstream(s, "production", "zz-plain-http", "http://legacy.example/", NULL, 0, NULL, NULL);
    snap = NULL;
    cg_err_clear(&err);
    assert_int_equal(cg_snapshot_load(s, "production", NULL, &snap, &err), CG_ESTORE);
    assert_null(snap);
    assert_non_null(strstr(err.msg, "zz-plain-http"));
    assert_non_null(strstr(err.msg, "http://"));
    assert_non_null(strstr(err.hint, "certgate upstream set zz-plain-http"));
    assert_int_equal(cg_store_upstream_delete(s, "production", "zz-plain-http", &err), 0);
    put_upstream(s, "production", "zz-bad-spki", "https://x.example/", NULL, 0, NULL, "c2hvcnQ=");
    assert_int_equal(cg_snapshot_load(s, "production", NULL, &snap, &err), CG_ESTORE);
    assert_non_null(strstr(err.msg, "zz-bad-spki"));
    cg_store_close(s);
}

static void url_ok(const char *url, const char *host, uint16_t port, const char *base)
{
    struct cg_upstream_url u;
    struct cg_err err;
    if (cg_config_upstream_url_parse("t", url, &u, &err)) fail_msg("'%s' refused: %s", url, err.msg);
    if (strcmp(u.host, host)) fail_msg("'%s': host '%s'", url, u.host);
    assert_int_equal(u.port, port);
    if (strcmp(u.base_path, base)) fail_msg("'%s': base '%s'", url, u.base_path);
    cg_config_upstream_url_cleanup(&u);
}

static void url_bad(const char *url, const char *phrase)
{
    struct cg_upstream_url u;
    struct cg_err err;
    cg_err_clear(&err);
    if (cg_config_upstream_url_parse("up1", url, &u, &err) != CG_EINVAL) fail_msg("'%s' accepted", url);
    assert_null(u.host);
    if (!strstr(err.msg, "upstream 'up1'")) fail_msg("'%s': message does not name the upstream: %s", url, err.msg);
    if (!strstr(err.msg, phrase)) fail_msg("'%s': '%s' not in: %s", url, phrase, err.msg);
    if (!err.hint[0]) fail_msg("'%s': no hint", url);
}

static void test_upstream_url_rules(void **state)
{
    (void)state;
    url_ok("https://api.partner.example", "api.partner.example", 443, "");
    url_ok("https://api.partner.example/", "api.partner.example", 443, "");
    url_ok("https://API.Partner.Example:8443/v1/", "api.partner.example", 8443, "/v1");
    url_ok("HTTPS://h.example/a/b//", "h.example", 443, "/a/b");
    url_ok("https://h.example/a%20b/c:d@e/", "h.example", 443, "/a%20b/c:d@e");
    url_ok("https://10.0.0.1:9443/x", "10.0.0.1", 9443, "/x");
    url_ok("https://[2001:db8::1]:8443/p", "2001:db8::1", 8443, "/p");
    url_ok("https://h.example:65535", "h.example", 65535, "");

    url_bad("http://api.example/", "uses http://, but certgate always originates TLS");
    url_bad("HTTP://api.example:8080/", "uses http://");
    url_bad("ftp://api.example/", "scheme 'ftp'");
    url_bad("api.example", "not an absolute URL");
    url_bad("api.example:443/x", "not an absolute URL");
    url_bad("://api.example", "not an absolute URL");
    url_bad("https://user:pw@api.example/", "user information");
    url_bad("https://user@api.example/", "user information");
    url_bad("https://api.example/v1?key=1", "query");
    url_bad("https://api.example?x", "query");
    url_bad("https://api.example/#top", "fragment");
    url_bad("https://api.example:0/", "port");
    url_bad("https://api.example:65536/", "port");
    url_bad("https://api.example:/", "port");
    url_bad("https://api.example:12ab/", "port");
    url_bad("https:///v1", "no host");
    url_bad("https://", "no host");
    url_bad("https://api..example/", "empty label");
    url_bad("https://.api.example/", "empty label");
    url_bad("https://api.example/a b", "a space");
    url_bad("https://api.example/a\tb", "byte 0x09");
    url_bad("https://api.example/a\\b", "character '\\'");
    url_bad("https://api.example/%zz", "character '%'");
    url_bad("https://api.example/a/../b", "'..' segment");
    url_bad("https://api.example/./b", "'..' segment");
    url_bad("https://[zz::1]/", "IPv6");
    url_bad("https://[2001:db8::1::2]/", "IPv6");
    url_bad("", "has no URL");

    char long_url[CG_UPSTREAM_URL_MAX + 64];
    snprintf(long_url, sizeof(long_url), "https://h.example/");
    memset(long_url + 18, 'a', sizeof(long_url) - 19);
    long_url[sizeof(long_url) - 1] = '\0';
    url_bad(long_url, "bytes long");

    /* SPKI pins: base64 of exactly 32 bytes */
    uint8_t spki[CG_UPSTREAM_SPKI_LEN];
    struct cg_err err;
    assert_int_equal(cg_config_upstream_spki_parse("t", SPKI_B64, spki, &err), 0);
    assert_int_equal(spki[1], 0xb0);
    assert_int_equal(cg_config_upstream_spki_parse("t", "c2hvcnQ=", spki, &err), CG_EINVAL); /* 5 bytes */
    assert_non_null(strstr(err.msg, "5 bytes"));
    assert_non_null(strstr(err.hint, "openssl dgst -sha256 -binary"));
    assert_int_equal(cg_config_upstream_spki_parse("t", "not base64!", spki, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "not base64"));
    assert_int_equal(cg_config_upstream_spki_parse("t", "", spki, &err), CG_EINVAL);
    assert_int_equal(cg_config_upstream_spki_parse("t", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", spki, &err),
                     CG_EINVAL); /* padding required */
    assert_int_equal(cg_config_upstream_spki_parse("t", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA", spki, &err),
                     CG_EINVAL); /* 33 bytes */

    /* server names */
    const char *names_ok[] = {"api.example", "a", "x_y.example", "10.0.0.1", "2001:db8::1", "A-B.example"};
    for (size_t i = 0; i < CG_ARRAY_LEN(names_ok); i++)
        if (cg_config_upstream_server_name_check("t", names_ok[i], &err)) fail_msg("'%s': %s", names_ok[i], err.msg);
    const char *names_bad[] = {"", ".a", "a.", "a..b", "a b", "[::1]", "a/b", "2001:zz::1", "host:443"};
    for (size_t i = 0; i < CG_ARRAY_LEN(names_bad); i++)
        if (cg_config_upstream_server_name_check("t", names_bad[i], &err) != CG_EINVAL) fail_msg("'%s' accepted",
                                                                                               names_bad[i]);

    /* timeouts */
    uint32_t ms = 0;
    assert_int_equal(cg_config_upstream_timeout_parse("t", "--timeout", "1", &ms, &err), 0);
    assert_int_equal(ms, 1);
    assert_int_equal(cg_config_upstream_timeout_parse("t", "--timeout", "600000", &ms, &err), 0);
    assert_int_equal(ms, 600000);
    const char *ms_bad[] = {"0", "600001", "-5", "5s", "", "1.5", "99999999999999999999999"};
    for (size_t i = 0; i < CG_ARRAY_LEN(ms_bad); i++) {
        ms = 7;
        if (cg_config_upstream_timeout_parse("t", "--timeout", ms_bad[i], &ms, &err) != CG_EINVAL)
            fail_msg("timeout '%s' accepted", ms_bad[i]);
        assert_int_equal(ms, 7);
    }
    assert_non_null(strstr(err.msg, "--timeout"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_resolve),
        cmocka_unit_test(test_unseal_with_master),
        cmocka_unit_test(test_empty_environment),
        cmocka_unit_test(test_upstreams_loaded),
        cmocka_unit_test(test_upstream_url_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
