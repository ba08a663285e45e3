/* cg_pki_identity_check / cg_pki_ca_check warnings, and the certificate kind names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pki/pki.h"
#include "testpki.h"
#include "testutil.h"

static bool has(const struct cg_strlist *w, const char *phrase)
{
    for (size_t i = 0; i < w->n; i++)
        if (strstr(w->items[i], phrase)) return true;
    return false;
}

static void check(X509 *leaf, X509 *c0, X509 *c1, enum cg_cert_kind kind, struct cg_strlist *w)
{
    struct cg_pki_identity id = {.leaf = leaf, .key = NULL, .chain = sk_X509_new_null()};
    if (c0) sk_X509_push(id.chain, c0);
    if (c1) sk_X509_push(id.chain, c1);
    cg_strlist_init(w);
    assert_int_equal(cg_pki_identity_check(&id, kind, time(NULL), w), 0);
    sk_X509_free(id.chain);
}

static void test_warnings(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct cg_strlist w;

    check(p->leaf, p->intm, p->root, CG_CERT_CLIENT, &w);
    assert_int_equal(w.n, 0); /* a good client certificate: nothing to say */
    cg_strlist_cleanup(&w);

    check(p->expired, p->intm, NULL, CG_CERT_CLIENT, &w);
    assert_true(has(&w, "expired on "));
    cg_strlist_cleanup(&w);

    check(p->future, NULL, NULL, CG_CERT_CLIENT, &w);
    assert_true(has(&w, "not valid before "));
    cg_strlist_cleanup(&w);

    check(p->soon, NULL, NULL, CG_CERT_CLIENT, &w);
    assert_true(has(&w, "expires in 5 days"));
    cg_strlist_cleanup(&w);

    check(p->server, NULL, NULL, CG_CERT_CLIENT, &w);
    assert_true(has(&w, "extended key usage does not allow clientAuth"));
    cg_strlist_cleanup(&w);
    check(p->leaf, NULL, NULL, CG_CERT_SERVER, &w);
    assert_true(has(&w, "extended key usage does not allow serverAuth"));
    cg_strlist_cleanup(&w);
    check(p->leaf_ec, NULL, NULL, CG_CERT_SERVER, &w); /* both usages */
    assert_int_equal(w.n, 0);
    cg_strlist_cleanup(&w);
    check(p->root, NULL, NULL, CG_CERT_CLIENT, &w); /* no EKU at all: any usage */
    assert_int_equal(w.n, 0);
    cg_strlist_cleanup(&w);

    check(p->leaf, p->root, NULL, CG_CERT_CLIENT, &w); /* intermediate missing */
    assert_true(has(&w, "chain does not lead to the issuer of 'CN=client.example"));
    cg_strlist_cleanup(&w);
    check(p->leaf, p->intm, p->v1root, CG_CERT_CLIENT, &w); /* gap after the intermediate */
    assert_true(has(&w, "chain does not lead to the issuer of 'CN=Test Intermediate CA"));
    cg_strlist_cleanup(&w);
    check(p->leaf, NULL, NULL, CG_CERT_CLIENT, &w); /* an empty chain is not checked */
    assert_int_equal(w.n, 0);
    cg_strlist_cleanup(&w);

    struct cg_pki_identity none = {0};
    cg_strlist_init(&w);
    assert_int_equal(cg_pki_identity_check(&none, CG_CERT_CLIENT, time(NULL), &w), CG_EINVAL);
}

static void test_ca_check(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct tp_opts o = {.ca = true, .not_before = -20L * 86400, .not_after = -86400, .serial = 99};
    X509 *old = tp_cert("Old CA", p->other_key, NULL, NULL, &o);
    STACK_OF(X509) *cas = sk_X509_new_null();
    sk_X509_push(cas, p->root);
    sk_X509_push(cas, old);
    struct cg_strlist w;
    cg_strlist_init(&w);
    assert_int_equal(cg_pki_ca_check(cas, time(NULL), &w), 0);
    assert_int_equal(w.n, 1);
    assert_true(has(&w, "CA 'CN=Old CA,O=Certgate Test': expired on "));
    cg_strlist_cleanup(&w);
    /* the clock is a parameter: ten years on, the root has expired too */
    assert_int_equal(cg_pki_ca_check(cas, time(NULL) + 3700L * 86400, &w), 0);
    assert_int_equal(w.n, 2);
    cg_strlist_cleanup(&w);
    sk_X509_free(cas);
    X509_free(old);
}

static void test_kind_names(void **s)
{
    (void)s;
    enum cg_cert_kind k;
    assert_string_equal(cg_cert_kind_name(CG_CERT_CLIENT), "client");
    assert_string_equal(cg_cert_kind_name(CG_CERT_SERVER), "server");
    assert_string_equal(cg_cert_kind_name(CG_CERT_CA), "ca");
    assert_int_equal(cg_cert_kind_parse("server", &k), 0);
    assert_int_equal(k, CG_CERT_SERVER);
    assert_int_equal(cg_cert_kind_parse("ca", &k), 0);
    assert_int_equal(k, CG_CERT_CA);
    assert_int_equal(cg_cert_kind_parse("Client", &k), CG_EINVAL);
    assert_int_equal(cg_cert_kind_parse("", &k), CG_EINVAL);
    assert_int_equal(cg_cert_kind_parse(NULL, &k), CG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_ca_check),
        cmocka_unit_test(test_kind_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
