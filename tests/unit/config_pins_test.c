/* Pin resolution: precedence, case rules, wildcards, ports, none, default, target validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/pins.h"

enum { CERT_A, CERT_B, CERT_C, CERT_D, CERT_DEF };

static struct cg_pin_table *table(bool with_default)
{
    struct cg_pin_table *t = cg_pin_table_new();
    assert_non_null(t);
    struct cg_err err;
    assert_int_equal(cg_pin_table_add(t, "Billing.PaymentService", CERT_A, &err), 0);
    assert_int_equal(cg_pin_table_add(t, "api.partner.example:8443", CERT_B, &err), 0);
    assert_int_equal(cg_pin_table_add(t, "api.partner.example", CERT_C, &err), 0);
    assert_int_equal(cg_pin_table_add(t, "*.partner.example", CERT_D, &err), 0);
    assert_int_equal(cg_pin_table_add(t, "nocert.partner.example", CG_PIN_NONE, &err), 0);
    assert_int_equal(cg_pin_table_add(t, "Module.WebService2", CG_PIN_NONE, &err), 0);
    assert_int_equal(cg_pin_table_add(t, "[2001:db8::1]:9443", CERT_B, &err), 0);
    assert_int_equal(cg_pin_table_add(t, "10.1.2.3", CERT_C, &err), 0);
    if (with_default) cg_pin_table_set_default(t, CERT_DEF);
    assert_int_equal(cg_pin_table_build(t), 0);
    return t;
}

static struct cg_pin_match resolve(struct cg_pin_table *t, const char *host, uint16_t port, const char *svc)
{
    struct cg_pin_match m;
    cg_pin_resolve(t, cg_slice_str(host), port, cg_slice_str(svc), &m);
    return m;
}

static void test_precedence(void **state)
{
    (void)state;
    struct cg_pin_table *t = table(true);
    struct cg_pin_match m;

    /* service beats every host rule */
    m = resolve(t, "api.partner.example", 8443, "Billing.PaymentService");
    assert_int_equal(m.cert, CERT_A);
    assert_int_equal(m.rule, CG_PIN_RULE_SERVICE);
    assert_string_equal(m.target, "Billing.PaymentService");
    /* host:port beats host */
    m = resolve(t, "api.partner.example", 8443, NULL);
    assert_int_equal(m.cert, CERT_B);
    assert_int_equal(m.rule, CG_PIN_RULE_HOST_PORT);
    /* host beats wildcard; another port falls back to the host pin */
    m = resolve(t, "api.partner.example", 443, NULL);
    assert_int_equal(m.cert, CERT_C);
    assert_int_equal(m.rule, CG_PIN_RULE_HOST);
    m = resolve(t, "api.partner.example", 0, NULL);
    assert_int_equal(m.rule, CG_PIN_RULE_HOST);
    /* wildcard */
    m = resolve(t, "other.partner.example", 443, NULL);
    assert_int_equal(m.cert, CERT_D);
    assert_int_equal(m.rule, CG_PIN_RULE_WILDCARD);
    assert_string_equal(m.target, "*.partner.example");
    /* unknown service falls through to host rules */
    m = resolve(t, "other.partner.example", 443, "Unknown.Service");
    assert_int_equal(m.rule, CG_PIN_RULE_WILDCARD);
    /* default */
    m = resolve(t, "elsewhere.example", 443, NULL);
    assert_int_equal(m.cert, CERT_DEF);
    assert_int_equal(m.rule, CG_PIN_RULE_DEFAULT);
    assert_null(m.target);
    cg_pin_table_free(t);
}

static void test_wildcard_is_one_label(void **state)
{
    (void)state;
    struct cg_pin_table *t = table(false);
    struct cg_pin_match m = resolve(t, "a.b.partner.example", 443, NULL);
    assert_int_equal(m.rule, CG_PIN_RULE_NONE);
    assert_int_equal(m.cert, CG_PIN_NONE);
    m = resolve(t, "partner.example", 443, NULL); /* the bare domain is not covered */
    assert_int_equal(m.rule, CG_PIN_RULE_NONE);
    cg_pin_table_free(t);
}

static void test_pin_to_none_beats_default(void **state)
{
    (void)state;
    struct cg_pin_table *t = table(true);
    struct cg_pin_match m = resolve(t, "nocert.partner.example", 443, NULL);
    assert_int_equal(m.cert, CG_PIN_NONE);
    assert_int_equal(m.rule, CG_PIN_RULE_HOST); /* a pinned "none", not the wildcard, not default */
    m = resolve(t, "x.example", 443, "Module.WebService2");
    assert_int_equal(m.cert, CG_PIN_NONE);
    assert_int_equal(m.rule, CG_PIN_RULE_SERVICE);
    cg_pin_table_free(t);
}

static void test_case_rules(void **state)
{
    (void)state;
    struct cg_pin_table *t = table(false);
    /* hosts ignore case and a trailing dot */
    struct cg_pin_match m = resolve(t, "API.Partner.EXAMPLE.", 443, NULL);
    assert_int_equal(m.cert, CERT_C);
    m = resolve(t, "Other.PARTNER.example", 443, NULL);
    assert_int_equal(m.cert, CERT_D);
    /* service names are exact */
    m = resolve(t, "nowhere.example", 443, "billing.paymentservice");
    assert_int_equal(m.rule, CG_PIN_RULE_NONE);
    cg_pin_table_free(t);
}

static void test_ip_literals(void **state)
{
    (void)state;
    struct cg_pin_table *t = table(false);
    struct cg_pin_match m = resolve(t, "2001:db8::1", 9443, NULL);
    assert_int_equal(m.cert, CERT_B);
    assert_int_equal(m.rule, CG_PIN_RULE_HOST_PORT);
    m = resolve(t, "[2001:DB8::1]", 9443, NULL);
    assert_int_equal(m.cert, CERT_B);
    m = resolve(t, "10.1.2.3", 8080, NULL);
    assert_int_equal(m.cert, CERT_C);
    assert_int_equal(m.rule, CG_PIN_RULE_HOST);
    cg_pin_table_free(t);
}

static void test_empty_table(void **state)
{
    (void)state;
    struct cg_pin_table *t = cg_pin_table_new();
    assert_int_equal(cg_pin_table_build(t), 0);
    struct cg_pin_match m = resolve(t, "a.example", 443, "X.Y");
    assert_int_equal(m.rule, CG_PIN_RULE_NONE);
    cg_pin_table_free(t);
    t = cg_pin_table_new();
    cg_pin_table_set_default(t, 3);
    assert_int_equal(cg_pin_table_build(t), 0);
    m = resolve(t, "", 0, NULL);
    assert_int_equal(m.cert, 3);
    assert_int_equal(m.rule, CG_PIN_RULE_DEFAULT);
    cg_pin_table_free(t);
}

static void test_long_host_does_not_overflow(void **state)
{
    (void)state;
    struct cg_pin_table *t = table(true);
    char host[4096];
    memset(host, 'a', sizeof(host) - 1);
    host[sizeof(host) - 1] = 0;
    struct cg_pin_match m = resolve(t, host, 443, host);
    assert_int_equal(m.rule, CG_PIN_RULE_DEFAULT);
    cg_pin_table_free(t);
}

static void test_target_validation(void **state)
{
    (void)state;
    static const char *good[] = {"Module.Service", "api.example.com", "api.example.com:8443", "*.example.com",
                                 "localhost", "[::1]", "[2001:db8::1]:443", "10.0.0.1:65535", "svc_name-1"};
    static const char *bad[] = {"", "*.com", "*.example.com:443", "a..b", ".a", "a.", "host:0", "host:65536",
                                "host:8x", "2001:db8::1", "has space", "a/b", "*", "**.example.com",
                                "a*.example.com", "[zz::1]", "[::1]x", "host:"};
    enum cg_pin_target_kind kind;
    struct cg_err err;
    for (size_t i = 0; i < CG_ARRAY_LEN(good); i++) {
        int rc = cg_pin_target_parse(good[i], &kind, &err);
        if (rc) fail_msg("'%s' refused: %s", good[i], err.msg);
    }
    for (size_t i = 0; i < CG_ARRAY_LEN(bad); i++) {
        cg_err_clear(&err);
        if (cg_pin_target_parse(bad[i], &kind, &err) == 0) fail_msg("'%s' accepted", bad[i]);
        assert_int_equal(err.code, CG_EINVAL);
        assert_non_null(strstr(err.hint, "service name"));
    }
    assert_int_equal(cg_pin_target_parse("*.example.com", &kind, &err), 0);
    assert_int_equal(kind, CG_PIN_TARGET_WILDCARD);
    assert_int_equal(cg_pin_target_parse("a.example.com:1", &kind, &err), 0);
    assert_int_equal(kind, CG_PIN_TARGET_HOST_PORT);
}

static void test_duplicates_refused(void **state)
{
    (void)state;
    struct cg_pin_table *t = cg_pin_table_new();
    struct cg_err err;
    assert_int_equal(cg_pin_table_add(t, "api.example.com", 0, &err), 0);
    assert_int_equal(cg_pin_table_add(t, "API.example.com", 1, &err), CG_EEXISTS);
    assert_non_null(strstr(err.msg, "ignore case"));
    assert_int_equal(cg_pin_table_add(t, "api.example.com", 1, &err), CG_EEXISTS);
    assert_int_equal(cg_pin_table_add(t, "bad target", 1, &err), CG_EINVAL);
    cg_pin_table_free(t);
}

static void test_many_pins(void **state)
{
    (void)state;
    struct cg_pin_table *t = cg_pin_table_new();
    struct cg_err err;
    char name[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "host%d.example.com", i);
        assert_int_equal(cg_pin_table_add(t, name, i, &err), 0);
    }
    assert_int_equal(cg_pin_table_build(t), 0);
    for (int i = 0; i < 5000; i += 7) {
        snprintf(name, sizeof(name), "HOST%d.example.com", i);
        struct cg_pin_match m = resolve(t, name, 443, NULL);
        assert_int_equal(m.cert, i);
    }
    cg_pin_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),          cmocka_unit_test(test_wildcard_is_one_label),
        cmocka_unit_test(test_pin_to_none_beats_default), cmocka_unit_test(test_case_rules),
        cmocka_unit_test(test_ip_literals),         cmocka_unit_test(test_empty_table),
        cmocka_unit_test(test_long_host_does_not_overflow), cmocka_unit_test(test_target_validation),
        cmocka_unit_test(test_duplicates_refused),  cmocka_unit_test(test_many_pins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
