/* The dispatcher's settings (webhook/config.c) and the bootstrap file's webhooks.* keys
 * (config/bootstrap.c) that feed them: defaults, overrides, ranges, and the checks across keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "webhook/webhook.h"

static void assert_has(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) fail_msg("\"%s\" lacks \"%s\"", hay, needle);
}

static void parse(const char *yaml, struct cg_config *c)
{
    struct cg_err err;
    cg_config_init(c);
    if (cg_config_parse("t.yaml", cg_slice_str(yaml), c, &err)) fail_msg("%s", err.msg);
}

static void test_defaults(void **state)
{
    (void)state;
    struct cg_config f;
    parse("environment: x\n", &f);
    struct cg_webhook_config c;
    cg_webhook_config_defaults(&c);
    cg_webhook_config_apply(&c, &f);
    assert_int_equal(c.poll_ms, 250);
    assert_int_equal(c.retry_base_ms, 5000);
    assert_int_equal(c.retry_max_ms, 3600000);
    assert_int_equal(c.max_attempts, 12);
    assert_int_equal(c.timeout_ms, 10000);
    assert_int_equal(c.concurrency, 64);
    assert_int_equal(c.per_webhook, 4);
    assert_true(c.lease_ms > 3 * c.timeout_ms);
    struct cg_err err;
    assert_int_equal(cg_webhook_config_check(&c, &err), 0);
    cg_config_cleanup(&f);
}

static void test_keys_override(void **state)
{
    (void)state;
    struct cg_config f;
    parse("webhooks:\n  poll_ms: 50\n  retry_base_ms: 100\n  retry_max_ms: 2000\n  max_attempts: 3\n"
          "  timeout_ms: 40000\n  concurrency: 8\n  per_webhook: 2\n",
          &f);
    struct cg_webhook_config c;
    cg_webhook_config_defaults(&c);
    cg_webhook_config_apply(&c, &f);
    assert_int_equal(c.poll_ms, 50);
    assert_int_equal(c.retry_base_ms, 100);
    assert_int_equal(c.retry_max_ms, 2000);
    assert_int_equal(c.max_attempts, 3);
    assert_int_equal(c.timeout_ms, 40000);
    assert_int_equal(c.concurrency, 8);
    assert_int_equal(c.per_webhook, 2);
    assert_true(c.lease_ms > 3 * 40000); /* the lease grows with the timeout */
    struct cg_err err;
    assert_int_equal(cg_webhook_config_check(&c, &err), 0);
    cg_config_cleanup(&f);
}

static void refuse(const char *yaml, const char *phrase)
{
    struct cg_config c;
    cg_config_init(&c);
    struct cg_err err;
    cg_err_clear(&err);
    assert_int_equal(cg_config_parse("t.yaml", cg_slice_str(yaml), &c, &err), CG_EINVAL);
    assert_has(err.msg, phrase);
    cg_config_cleanup(&c);
}

static void test_keys_refused(void **state)
{
    (void)state;
    refuse("webhooks:\n  poll_ms: 0\n", "'webhooks.poll_ms' is '0', not a whole number from 10 to 60000");
    refuse("webhooks:\n  max_attempts: 0\n", "webhooks.max_attempts");
    refuse("webhooks:\n  max_attempts: many\n", "webhooks.max_attempts");
    refuse("webhooks:\n  timeout_ms: 50\n", "webhooks.timeout_ms");
    refuse("webhooks:\n  concurrency: -1\n", "webhooks.concurrency");
    refuse("webhooks:\n  per_hook: 2\n", "per_hook");
    refuse("webhooks: 5\n", "must be a mapping");
}

static void test_checks_across_keys(void **state)
{
    (void)state;
    struct cg_webhook_config c;
    struct cg_err err;
    cg_webhook_config_defaults(&c);
    c.retry_base_ms = 10000;
    c.retry_max_ms = 5000;
    assert_int_equal(cg_webhook_config_check(&c, &err), CG_EINVAL);
    assert_has(err.msg, "webhooks.retry_base_ms (10000) is more than webhooks.retry_max_ms (5000)");
    assert_has(err.hint, "config file");
    cg_webhook_config_defaults(&c);
    c.per_webhook = 65;
    assert_int_equal(cg_webhook_config_check(&c, &err), CG_EINVAL);
    assert_has(err.msg, "webhooks.per_webhook (65) is more than webhooks.concurrency (64)");
    cg_webhook_config_defaults(&c);
    c.lease_ms = c.timeout_ms;
    assert_int_equal(cg_webhook_config_check(&c, &err), CG_EINVAL);
    cg_webhook_config_defaults(&c);
    c.max_attempts = 0;
    assert_int_equal(cg_webhook_config_check(&c, &err), CG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_keys_override),
        cmocka_unit_test(test_keys_refused),
        cmocka_unit_test(test_checks_across_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
