/* When a delivery is tried again (webhook/backoff.c): the backoff with its jitter and cap, and
 * Retry-After in both of its forms and the junk a server may send instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "webhook/webhook.h"

static void test_backoff_doubles_from_the_base(void **state)
{
    (void)state;
    /* rnd 0.5 is the middle of [d/2, 3d/2): d itself */
    assert_int_equal(cg_webhook_backoff_ms(1, 5000, 3600000, 0.5), 5000);
    assert_int_equal(cg_webhook_backoff_ms(2, 5000, 3600000, 0.5), 10000);
    assert_int_equal(cg_webhook_backoff_ms(3, 5000, 3600000, 0.5), 20000);
    assert_int_equal(cg_webhook_backoff_ms(11, 5000, 3600000, 0.5), 3600000); /* 5120 s, capped */
}

static void test_backoff_jitter_range(void **state)
{
    (void)state;
    assert_int_equal(cg_webhook_backoff_ms(1, 5000, 3600000, 0.0), 2500);  /* d/2 */
    assert_true(cg_webhook_backoff_ms(1, 5000, 3600000, 0.999999) < 7500); /* below 3d/2 */
    assert_true(cg_webhook_backoff_ms(1, 5000, 3600000, 0.999999) >= 7499);
    /* every draw stays in its band, and the bands grow */
    for (unsigned f = 1; f <= 8; f++)
        for (double r = 0; r < 1; r += 0.125) {
            uint64_t d = 5000ull << (f - 1), v = cg_webhook_backoff_ms(f, 5000, 3600000, r);
            assert_true(v >= d / 2 && v < d + d / 2);
        }
}

static void test_backoff_never_above_the_cap(void **state)
{
    (void)state;
    for (double r = 0; r < 1; r += 0.1) assert_true(cg_webhook_backoff_ms(40, 5000, 3600000, r) <= 3600000);
    assert_int_equal(cg_webhook_backoff_ms(1000, 5000, 3600000, 0.99), 3600000);
    assert_int_equal(cg_webhook_backoff_ms(UINT32_MAX, UINT32_MAX, UINT32_MAX, 0.99), UINT32_MAX); /* no overflow */
    assert_int_equal(cg_webhook_backoff_ms(2, 100, 150, 0.0), 75); /* capped d, then jittered */
}

static void test_backoff_out_of_contract_inputs(void **state)
{
    (void)state;
    assert_int_equal(cg_webhook_backoff_ms(0, 1000, 10000, 0.5), 1000); /* 0 failures: as 1 */
    assert_int_equal(cg_webhook_backoff_ms(1, 1000, 10000, -1.0), 1000); /* a draw outside [0,1): the middle */
    assert_int_equal(cg_webhook_backoff_ms(1, 1000, 10000, 1.0), 1000);
    assert_int_equal(cg_webhook_backoff_ms(1, 1000, 10000, NAN), 1000);
}

static int64_t ra(const char *v, int64_t now) { return cg_webhook_retry_after_ms(cg_slice_str(v), now); }

static void test_retry_after_delta_seconds(void **state)
{
    (void)state;
    assert_int_equal(ra("120", 0), 120000);
    assert_int_equal(ra("0", 0), 0);
    assert_int_equal(ra(" 5 ", 0), 5000);
    assert_int_equal(ra("99999999999999999999999", 0), 2147483647LL * 1000); /* huge: capped, not wrapped */
}

static void test_retry_after_http_dates(void **state)
{
    (void)state;
    const int64_t t = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110 5.6.7) */
    assert_int_equal(ra("Sun, 06 Nov 1994 08:49:37 GMT", t - 30), 30000);
    assert_int_equal(ra("Sunday, 06-Nov-94 08:49:37 GMT", t - 30), 30000); /* rfc850 */
    assert_int_equal(ra("Sun Nov  6 08:49:37 1994", t - 30), 30000);       /* asctime */
    assert_int_equal(ra("Sun, 06 Nov 1994 08:49:37 GMT", t + 100), 0);    /* in the past: now */
    assert_int_equal(ra("Wed, 01 Jan 2031 00:00:00 GMT", 1924992000 - 1), 1000);
}

static void test_retry_after_junk(void **state)
{
    (void)state;
    const char *junk[] = {"", " ", "-5", "1.5", "5 s", "abc", "0x10", "+3", "Sun, 06 Nov 1994 08:49:37 UTC",
                          "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Foo 1994 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 00 Nov 1994 08:49:37 GMT",
                          "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov 6 08:49:37 1994",
                          "Sun, 06 Nov 1994 08:49:37 GMT and then some more text after it that is long"};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        if (ra(junk[i], 0) != -1) fail_msg("'%s' was taken as %lld", junk[i], (long long)ra(junk[i], 0));
    assert_int_equal(cg_webhook_retry_after_ms(cg_slice_make(NULL, 0), 0), -1);
    assert_int_equal(cg_webhook_retry_after_ms(cg_slice_make("12\0" "3", 4), 0), -1); /* a NUL inside */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_from_the_base),
        cmocka_unit_test(test_backoff_jitter_range),
        cmocka_unit_test(test_backoff_never_above_the_cap),
        cmocka_unit_test(test_backoff_out_of_contract_inputs),
        cmocka_unit_test(test_retry_after_delta_seconds),
        cmocka_unit_test(test_retry_after_http_dates),
        cmocka_unit_test(test_retry_after_junk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
