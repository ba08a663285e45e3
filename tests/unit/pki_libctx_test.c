/* cg_pki_import_libctx: legacy algorithms live in the import context only; concurrent first
 * use gives one context. cg_pki_drain_errors empties the queue and reports the reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "pki/pki.h"
#include "testutil.h"

static void *get_cb(void *arg)
{
    (void)arg;
    return cg_pki_import_libctx();
}

static void test_import_ctx(void **s)
{
    (void)s;
    pthread_t t[8];
    void *got[8];
    for (int i = 0; i < 8; i++) pthread_create(&t[i], NULL, get_cb, NULL);
    for (int i = 0; i < 8; i++) pthread_join(t[i], &got[i]);
    OSSL_LIB_CTX *ctx = cg_pki_import_libctx();
    assert_non_null(ctx);
    for (int i = 0; i < 8; i++) assert_ptr_equal(got[i], ctx);

    EVP_CIPHER *rc2 = EVP_CIPHER_fetch(ctx, "RC2-40-CBC", NULL);
    assert_non_null(rc2); /* legacy here */
    EVP_CIPHER_free(rc2);
    EVP_CIPHER *aes = EVP_CIPHER_fetch(ctx, "AES-256-CBC", NULL);
    assert_non_null(aes); /* and default algorithms too */
    EVP_CIPHER_free(aes);
    rc2 = EVP_CIPHER_fetch(NULL, "RC2-40-CBC", NULL);
    assert_null(rc2); /* but not in the default context */
    ERR_clear_error();
}

static void test_drain(void **s)
{
    (void)s;
    char buf[256];
    cg_pki_drain_errors(buf, sizeof(buf));
    assert_string_equal(buf, "");
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "NO-SUCH-CIPHER", NULL);
    assert_null(c);
    ERR_raise(ERR_LIB_EVP, EVP_R_BAD_DECRYPT);
    assert_int_not_equal(ERR_peek_error(), 0);
    cg_pki_drain_errors(buf, sizeof(buf));
    assert_int_equal(ERR_peek_error(), 0);
    assert_non_null(strstr(buf, "unsupported"));
    assert_non_null(strstr(buf, "; bad decrypt"));
    char tiny[8];
    ERR_raise(ERR_LIB_EVP, EVP_R_BAD_DECRYPT);
    cg_pki_drain_errors(tiny, sizeof(tiny));
    assert_true(strlen(tiny) < sizeof(tiny));
    ERR_raise(ERR_LIB_EVP, EVP_R_BAD_DECRYPT);
    cg_pki_drain_errors(NULL, 0);
    assert_int_equal(ERR_peek_error(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_ctx),
        cmocka_unit_test(test_drain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
