/* A wrong password is reported as a wrong password, whatever OpenSSL's decoder says about the
 * garbage it decrypted to (tests/data/README.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "core/file.h"
#include "pki/pki.h"
#include "testpki.h"

static void load_vector(struct cg_buf *b)
{
    char path[1024];
    const char *dir = getenv("CG_TEST_DATA");
    snprintf(path, sizeof(path), "%s/pkcs8-padding-collision.pem", dir ? dir : "tests/data");
    struct cg_err err;
    if (cg_file_read(path, b, &err)) fail_msg("%s", err.msg);
}

static void test_padding_collision_is_wrong_password(void **state)
{
    (void)state;
    struct cg_buf key;
    cg_buf_init(&key, 0);
    load_vector(&key);
    /* a certificate for the key does not matter here: the key fails first */
    struct cg_buf cert;
    cg_buf_init(&cert, 0);
    tp_pem_cert(&cert, tp_pki_get()->leaf);
    struct cg_pki_input in_cert = {"cert.pem", cg_buf_slice(&cert)};
    struct cg_pki_input in_key = {"enc.pem", cg_buf_slice(&key)};
    struct cg_pki_identity id;
    cg_pki_identity_init(&id);
    struct cg_err err;
    cg_err_clear(&err);
    int rc = cg_pki_identity_load(&in_cert, &in_key, NULL, "wrong-487", &id, &err);
    if (rc != CG_EPASSWORD) fail_msg("rc %d: %s", rc, err.msg);
    assert_non_null(strstr(err.msg, "wrong password"));
    assert_null(strstr(err.msg, "not supported"));
    assert_int_equal(ERR_peek_error(), 0);
    /* the right password opens it (and then the key does not match the unrelated certificate) */
    cg_err_clear(&err);
    rc = cg_pki_identity_load(&in_cert, &in_key, NULL, "right-password", &id, &err);
    assert_int_equal(rc, CG_EKEYMISMATCH);
    cg_buf_cleanup(&key);
    cg_buf_cleanup(&cert);
}

/* Fresh random salts: every wrong password must be reported as such (1 in 256 hits the padding
 * case; 64 rounds make a regression likely to show within a few runs even without the vector). */
static void test_random_wrong_passwords(void **state)
{
    (void)state;
    const struct tp_pki *p = tp_pki_get();
    for (int i = 0; i < 64; i++) {
        struct cg_buf pem;
        cg_buf_init(&pem, 0);
        tp_pem_cert(&pem, p->leaf_ec);
        tp_pem_key(&pem, p->ec_key, TP_KEY_PKCS8_ENC, "secret");
        struct cg_pki_input in = {"combined.pem", cg_buf_slice(&pem)};
        struct cg_pki_identity id;
        cg_pki_identity_init(&id);
        struct cg_err err;
        char wrong[32];
        snprintf(wrong, sizeof(wrong), "nope-%d", i);
        int rc = cg_pki_identity_load(&in, NULL, NULL, wrong, &id, &err);
        if (rc != CG_EPASSWORD) fail_msg("round %d: rc %d: %s", i, rc, err.msg);
        cg_buf_cleanup(&pem);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_padding_collision_is_wrong_password),
        cmocka_unit_test(test_random_wrong_passwords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
