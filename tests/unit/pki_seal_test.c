/* cg_pki_key_seal / cg_pki_key_unseal: round trip, fresh nonce, and every way to fail: wrong
 * master key, wrong aad, any flipped byte, truncation, unknown magic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pki/pki.h"
#include "testpki.h"
#include "testutil.h"

static const uint8_t master[CG_MASTER_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void seal(EVP_PKEY *k, const char *aad, struct cg_buf *out)
{
    struct cg_err err;
    cg_buf_init(out, 0);
    assert_ok(cg_pki_key_seal(master, cg_slice_str(aad), k, out, &err), err);
}

static void test_round_trip(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    EVP_PKEY *keys[] = {p->leaf_key, p->ec_key};
    for (int i = 0; i < 2; i++) {
        struct cg_buf b;
        seal(keys[i], "cert-42", &b);
        assert_memory_equal(b.ptr, "CGK1", 4);
        EVP_PKEY *back = NULL;
        struct cg_err err;
        assert_ok(cg_pki_key_unseal(master, cg_slice_str("cert-42"), cg_buf_slice(&b), &back, &err), err);
        assert_int_equal(EVP_PKEY_eq(back, keys[i]), 1);
        EVP_PKEY_free(back);
        cg_buf_cleanup(&b);
    }
    /* empty aad works too */
    struct cg_buf b;
    seal(p->ec_key, "", &b);
    EVP_PKEY *back = NULL;
    struct cg_err err;
    assert_ok(cg_pki_key_unseal(master, cg_slice_str(""), cg_buf_slice(&b), &back, &err), err);
    EVP_PKEY_free(back);
    cg_buf_cleanup(&b);
}

static void test_fresh_nonce(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct cg_buf a, b;
    seal(p->ec_key, "x", &a);
    seal(p->ec_key, "x", &b);
    assert_int_equal(a.len, b.len);
    assert_memory_not_equal(a.ptr + 4, b.ptr + 4, 12);
    assert_memory_not_equal(a.ptr + 16, b.ptr + 16, a.len - 16);
    cg_buf_cleanup(&a);
    cg_buf_cleanup(&b);
}

static void test_refusals(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct cg_buf b;
    seal(p->ec_key, "cert-1", &b);
    EVP_PKEY *back = NULL;
    struct cg_err err;

    uint8_t other[CG_MASTER_KEY_LEN];
    memcpy(other, master, sizeof(other));
    other[31] ^= 1;
    assert_refused(cg_pki_key_unseal(other, cg_slice_str("cert-1"), cg_buf_slice(&b), &back, &err), CG_ECERT, err,
                   "cannot decrypt");
    assert_true(strstr(err.hint, "master key") != NULL);
    assert_null(back);
    assert_refused(cg_pki_key_unseal(master, cg_slice_str("cert-2"), cg_buf_slice(&b), &back, &err), CG_ECERT, err,
                   "cannot decrypt");
    assert_null(back);
    for (size_t i = 0; i < b.len; i++) { /* every single flipped byte: magic, nonce, body, tag */
        b.ptr[i] ^= 0x20;
        if (cg_pki_key_unseal(master, cg_slice_str("cert-1"), cg_buf_slice(&b), &back, &err) != CG_ECERT)
            fail_msg("flipped byte %zu was not detected", i);
        assert_non_null(strstr(err.msg, "cannot decrypt"));
        assert_null(back);
        b.ptr[i] ^= 0x20;
    }
    assert_int_equal(ERR_peek_error(), 0);
    assert_refused(cg_pki_key_unseal(master, cg_slice_str("cert-1"), cg_slice_make(b.ptr, b.len - 1), &back, &err),
                   CG_ECERT, err, "cannot decrypt");
    assert_refused(cg_pki_key_unseal(master, cg_slice_str("cert-1"), cg_slice_make(b.ptr, 20), &back, &err),
                   CG_ECERT, err, "cannot decrypt");
    assert_refused(cg_pki_key_unseal(master, cg_slice_str("cert-1"), cg_slice_make(NULL, 0), &back, &err), CG_ECERT,
                   err, "cannot decrypt");
    /* and it still opens untouched */
    assert_ok(cg_pki_key_unseal(master, cg_slice_str("cert-1"), cg_buf_slice(&b), &back, &err), err);
    EVP_PKEY_free(back);
    cg_buf_cleanup(&b);
}

static void test_seal_appends_and_limits(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct cg_buf b;
    cg_buf_init(&b, 0);
    tp_append_str(&b, "prefix");
    struct cg_err err;
    assert_ok(cg_pki_key_seal(master, cg_slice_str("a"), p->ec_key, &b, &err), err);
    assert_memory_equal(b.ptr, "prefixCGK1", 10);
    cg_buf_cleanup(&b);
    cg_buf_init(&b, 10); /* capped output: clean error, nothing half-written */
    assert_refused(cg_pki_key_seal(master, cg_slice_str("a"), p->ec_key, &b, &err), CG_ELIMIT, err,
                   "cannot seal");
    assert_int_equal(b.len, 0);
    cg_buf_cleanup(&b);
}

/* The same format over raw bytes (a webhook's HMAC secret): round trip, appended after what the
 * buffer held, and a wrong record id or a flipped byte refused with nothing appended. */
static void test_secret(void **s)
{
    (void)s;
    struct cg_buf b, plain;
    struct cg_err err;
    cg_buf_init(&b, 0);
    cg_buf_init_secret(&plain, 1024);
    assert_ok(cg_pki_secret_seal(master, cg_slice_str("wh-1"), cg_slice_str("s3cret"), &b, &err), err);
    assert_memory_equal(b.ptr, "CGK1", 4);
    assert_null(memmem(b.ptr, b.len, "s3cret", 6));
    tp_append_str(&plain, "x");
    assert_ok(cg_pki_secret_unseal(master, cg_slice_str("wh-1"), cg_buf_slice(&b), &plain, &err), err);
    assert_string_equal(cg_buf_str(&plain), "xs3cret");
    assert_refused(cg_pki_secret_unseal(master, cg_slice_str("wh-2"), cg_buf_slice(&b), &plain, &err), CG_ECERT, err,
                   "sealed secret: cannot decrypt");
    b.ptr[b.len - 1] ^= 1;
    assert_refused(cg_pki_secret_unseal(master, cg_slice_str("wh-1"), cg_buf_slice(&b), &plain, &err), CG_ECERT, err,
                   "cannot decrypt");
    assert_string_equal(cg_buf_str(&plain), "xs3cret");
    cg_buf_cleanup(&b);
    cg_buf_cleanup(&plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_fresh_nonce),
        cmocka_unit_test(test_seal_appends_and_limits),
        cmocka_unit_test(test_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
