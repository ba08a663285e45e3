/* cg_pki_ca_load: CA bundles in PEM, DER and base64; refusals of non-CA certificates, private
 * keys, wrong formats, corrupt input and oversize input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pki/pki.h"
#include "testpki.h"
#include "testutil.h"

static int load(struct cg_buf *b, STACK_OF(X509) **out, struct cg_err *err)
{
    struct cg_pki_input in = {"ca.pem", cg_buf_slice(b)};
    return cg_pki_ca_load(&in, out, err);
}

static void test_refuse_non_ca(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct cg_buf b;
    cg_buf_init(&b, 0);
    tp_pem_cert(&b, p->root);
    tp_pem_cert(&b, p->leaf);
    STACK_OF(X509) *cas = NULL;
    struct cg_err err;
    assert_refused(load(&b, &cas, &err), CG_ECERT, err, "is not a CA certificate");
    assert_non_null(strstr(err.msg, "CN=client.example"));
    assert_null(cas);
    cg_buf_reset(&b);
    tp_der_cert(&b, p->leaf);
    assert_refused(load(&b, &cas, &err), CG_ECERT, err, "is not a CA certificate");
    cg_buf_cleanup(&b);
}

static void test_refuse_private_key(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct cg_buf b;
    cg_buf_init(&b, 0);
    tp_pem_cert(&b, p->root);
    tp_pem_key(&b, p->root_key, TP_KEY_PKCS8, NULL);
    STACK_OF(X509) *cas = NULL;
    struct cg_err err;
    assert_refused(load(&b, &cas, &err), CG_ECERT, err, "holds a private key");
    cg_buf_reset(&b);
    tp_pem_key(&b, p->root_key, TP_KEY_PKCS8_ENC, "x");
    assert_refused(load(&b, &cas, &err), CG_ECERT, err, "holds a private key");
    cg_buf_reset(&b);
    tp_der_key(&b, p->root_key, TP_KEY_TRAD, NULL);
    assert_refused(load(&b, &cas, &err), CG_ECERT, err, "holds a private key");
    cg_buf_reset(&b);
    tp_p12(&b, "pw", p->root_key, p->root, NULL, 0, 0, true);
    assert_refused(load(&b, &cas, &err), CG_ECERT, err, "holds a private key");
    assert_null(cas);
    cg_buf_cleanup(&b);
}

static void test_refuse_format_corrupt_limit(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct cg_buf b;
    cg_buf_init(&b, 0);
    STACK_OF(X509) *cas = NULL;
    struct cg_err err;
    assert_refused(load(&b, &cas, &err), CG_EFORMAT, err, "'ca.pem' is an empty file, not a CA certificate bundle");
    tp_append_str(&b, "just some words here\n");
    assert_refused(load(&b, &cas, &err), CG_EFORMAT, err, "is text that is not PEM or base64, not");
    cg_buf_reset(&b);
    tp_pem_cert(&b, p->root);
    b.len -= 25;
    assert_refused(load(&b, &cas, &err), CG_EPROTO, err, "truncated or corrupt");
    cg_buf_reset(&b);
    tp_der_cert(&b, p->root);
    b.len -= 25;
    assert_refused(load(&b, &cas, &err), CG_EPROTO, err, "truncated or corrupt");
    cg_buf_reset(&b);
    for (long i = 0; i <= CG_PKI_MAX_CERTS; i++) {
        struct tp_opts o = {.ca = true, .serial = 500 + i};
        X509 *x = tp_cert("Many CA", p->other_key, NULL, NULL, &o);
        tp_pem_cert(&b, x);
        X509_free(x);
    }
    assert_refused(load(&b, &cas, &err), CG_ELIMIT, err, "more than 64 certificates");
    cg_buf_reset(&b);
    tp_reserve(&b, CG_PKI_MAX_INPUT + 1);
    memset(b.ptr, '\n', CG_PKI_MAX_INPUT + 1);
    b.len = CG_PKI_MAX_INPUT + 1;
    assert_refused(load(&b, &cas, &err), CG_ELIMIT, err, "larger than");
    assert_null(cas);
    cg_buf_cleanup(&b);
}

static void test_accept_shapes(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct cg_buf b, pem;
    cg_buf_init(&b, 0);
    cg_buf_init(&pem, 0);
    STACK_OF(X509) *cas = NULL;
    struct cg_err err;

    tp_pem_cert(&pem, p->intm);
    tp_pem_cert(&pem, p->root);
    tp_pem_cert(&pem, p->v1root); /* self-signed v1 root: accepted */
    tp_pem_cert(&pem, p->root);   /* duplicate: dropped */
    tp_append(&b, pem.ptr, pem.len);
    assert_ok(load(&b, &cas, &err), err);
    assert_int_equal(sk_X509_num(cas), 3);
    assert_int_equal(X509_cmp(sk_X509_value(cas, 0), p->intm), 0); /* input order */
    assert_int_equal(X509_cmp(sk_X509_value(cas, 1), p->root), 0);
    sk_X509_pop_free(cas, X509_free);

    cg_buf_reset(&b);
    tp_base64(&b, &pem); /* CERTIFICATE_AUTHORITIES as base64 of PEM */
    assert_ok(load(&b, &cas, &err), err);
    assert_int_equal(sk_X509_num(cas), 3);
    sk_X509_pop_free(cas, X509_free);

    cg_buf_reset(&b);
    tp_der_cert(&b, p->root);
    assert_ok(load(&b, &cas, &err), err);
    assert_int_equal(sk_X509_num(cas), 1);
    sk_X509_pop_free(cas, X509_free);

    cg_buf_reset(&pem);
    tp_der_cert(&pem, p->intm);
    cg_buf_reset(&b);
    tp_base64(&b, &pem);
    assert_ok(load(&b, &cas, &err), err);
    assert_int_equal(sk_X509_num(cas), 1);
    sk_X509_pop_free(cas, X509_free);
    cg_buf_cleanup(&pem);
    cg_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuse_non_ca),
        cmocka_unit_test(test_refuse_private_key),
        cmocka_unit_test(test_refuse_format_corrupt_limit),
        cmocka_unit_test(test_accept_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
