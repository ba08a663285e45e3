/* cg_pki_certs_to_pem / cg_pki_certs_from_pem: the store's certificate PEM round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pki/pki.h"
#include "testpki.h"
#include "testutil.h"

static void test_round_trip(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    STACK_OF(X509) *chain = sk_X509_new_null();
    sk_X509_push(chain, p->intm);
    sk_X509_push(chain, p->root);
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_pki_certs_to_pem(p->leaf, chain, &b), 0);
    STACK_OF(X509) *back = NULL;
    struct cg_err err;
    assert_ok(cg_pki_certs_from_pem(cg_buf_slice(&b), &back, &err), err);
    assert_int_equal(sk_X509_num(back), 3);
    assert_int_equal(X509_cmp(sk_X509_value(back, 0), p->leaf), 0);
    assert_int_equal(X509_cmp(sk_X509_value(back, 2), p->root), 0);
    sk_X509_pop_free(back, X509_free);

    cg_buf_reset(&b); /* chain only, and nothing at all */
    assert_int_equal(cg_pki_certs_to_pem(NULL, chain, &b), 0);
    assert_ok(cg_pki_certs_from_pem(cg_buf_slice(&b), &back, &err), err);
    assert_int_equal(sk_X509_num(back), 2);
    sk_X509_pop_free(back, X509_free);
    cg_buf_reset(&b);
    assert_int_equal(cg_pki_certs_to_pem(NULL, NULL, &b), 0);
    assert_int_equal(b.len, 0);
    assert_ok(cg_pki_certs_from_pem(cg_buf_slice(&b), &back, &err), err);
    assert_int_equal(sk_X509_num(back), 0);
    sk_X509_pop_free(back, X509_free);
    sk_X509_free(chain);
    cg_buf_cleanup(&b);
}

static void test_refusals(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct cg_buf b;
    cg_buf_init(&b, 0);
    STACK_OF(X509) *back = NULL;
    struct cg_err err;
    tp_pem_key(&b, p->leaf_key, TP_KEY_PKCS8, NULL);
    assert_refused(cg_pki_certs_from_pem(cg_buf_slice(&b), &back, &err), CG_EFORMAT, err, "not a certificate");
    assert_null(back);
    cg_buf_reset(&b);
    tp_pem_cert(&b, p->leaf);
    b.len -= 30;
    assert_refused(cg_pki_certs_from_pem(cg_buf_slice(&b), &back, &err), CG_EPROTO, err, "truncated or corrupt");
    cg_buf_reset(&b);
    tp_pem_cert(&b, p->leaf);
    b.ptr[80] = '*';
    assert_refused(cg_pki_certs_from_pem(cg_buf_slice(&b), &back, &err), CG_EPROTO, err, "truncated or corrupt");
    assert_null(back);
    cg_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
