/* The Certgate-Signature value (webhook/sign.c) against vectors computed with Python's hmac:
 *   hmac.new(secret, b"<t>." + body, hashlib.sha256).hexdigest() */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "webhook/webhook.h"

#define BODY "{\"id\":\"evt_0123456789abcdef0123456789abcdef\",\"type\":\"invoice.paid\",\"created_at\":" \
             "\"2023-11-14T22:13:20Z\",\"data\":{\"amount\":42}}"

static void test_known_vector(void **state)
{
    (void)state;
    static const char secret[] = "whsec_test-secret";
    char sig[CG_WEBHOOK_SIGNATURE_MAX];
    assert_int_equal(cg_webhook_signature((const uint8_t *)secret, strlen(secret), 1700000000, cg_slice_str(BODY),
                                          sig, sizeof(sig)),
                     0);
    assert_string_equal(sig, "t=1700000000,v1=aed1ce53ccba1f8ce659dead62684e3709493b950aeea9f0efa59ed2f8c17dc3");
}

static void test_empty_body_and_t_zero(void **state)
{
    (void)state;
    char sig[CG_WEBHOOK_SIGNATURE_MAX];
    assert_int_equal(cg_webhook_signature((const uint8_t *)"k", 1, 0, cg_slice_make(NULL, 0), sig, sizeof(sig)), 0);
    assert_string_equal(sig, "t=0,v1=6b4a4b8b3c40f1e8f53a3d36682e5f99f7ad2ac1df1c93dfe336f329167641e7");
}

static void test_every_input_counts(void **state)
{
    (void)state;
    char a[CG_WEBHOOK_SIGNATURE_MAX], b[CG_WEBHOOK_SIGNATURE_MAX];
    const uint8_t *k = (const uint8_t *)"secret";
    assert_int_equal(cg_webhook_signature(k, 6, 1, cg_slice_str("{}"), a, sizeof(a)), 0);
    assert_int_equal(cg_webhook_signature(k, 6, 2, cg_slice_str("{}"), b, sizeof(b)), 0); /* another t */
    assert_string_not_equal(a + 4, b + 4);
    assert_int_equal(cg_webhook_signature(k, 5, 1, cg_slice_str("{}"), b, sizeof(b)), 0); /* another key */
    assert_string_not_equal(a, b);
    assert_int_equal(cg_webhook_signature(k, 6, 1, cg_slice_str("{ }"), b, sizeof(b)), 0); /* another body */
    assert_string_not_equal(a, b);
    /* the longest t still fits */
    assert_int_equal(cg_webhook_signature(k, 6, INT64_MIN, cg_slice_str("{}"), b, sizeof(b)), 0);
    assert_true(strlen(b) < CG_WEBHOOK_SIGNATURE_MAX);
}

static void test_refusals(void **state)
{
    (void)state;
    char sig[CG_WEBHOOK_SIGNATURE_MAX];
    assert_int_equal(cg_webhook_signature(NULL, 0, 1, cg_slice_str("{}"), sig, sizeof(sig)), CG_EINVAL);
    assert_int_equal(cg_webhook_signature((const uint8_t *)"k", 0, 1, cg_slice_str("{}"), sig, sizeof(sig)),
                     CG_EINVAL); /* an empty secret signs nothing */
    assert_int_equal(cg_webhook_signature((const uint8_t *)"k", 1, 1, cg_slice_str("{}"), sig, 10), CG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vector),
        cmocka_unit_test(test_empty_body_and_t_zero),
        cmocka_unit_test(test_every_input_counts),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
