/* The verdicts of a delivery attempt (webhook/exchange.c): which failures are retried, which fail
 * the delivery at once and flag the webhook, and the words an operator reads for each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "webhook/internal.h"

static void assert_has(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) fail_msg("\"%s\" lacks \"%s\"", hay, needle);
}

static struct wh_outcome tls(enum cg_tls_failure kind, int alert, long verify)
{
    struct cg_tls_error t = {.kind = kind, .alert = alert, .verify_result = verify};
    struct wh_outcome o;
    memset(&o, 0, sizeof(o));
    wh_tls_outcome(&t, "hooks.example:8443", "billing-client", "billing", &o);
    return o;
}

static void test_rejected_client_certificate_is_permanent(void **state)
{
    (void)state;
    int alerts[] = {SSL_AD_BAD_CERTIFICATE, SSL_AD_UNKNOWN_CA, SSL_AD_CERTIFICATE_REQUIRED, SSL_AD_CERTIFICATE_UNKNOWN,
                    SSL_AD_HANDSHAKE_FAILURE};
    const char *names[] = {"bad_certificate", "unknown_ca", "certificate_required", "certificate_unknown",
                           "handshake_failure"};
    for (size_t i = 0; i < 5; i++) {
        struct wh_outcome o = tls(CG_TLS_CERT_REJECTED, alerts[i], 0);
        assert_int_equal(o.verdict, WH_PERMANENT);
        assert_has(o.error, "hooks.example:8443 rejected the client certificate 'billing-client'");
        assert_has(o.error, names[i]);
        assert_has(o.problem, "your client certificate 'billing-client' was rejected by hooks.example:8443");
        assert_has(o.problem, "certgate webhook set billing --client-cert");
    }
}

static void test_server_certificate_failing_verification_is_permanent(void **state)
{
    (void)state;
    struct wh_outcome o = tls(CG_TLS_VERIFY_FAILED, -1, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    assert_int_equal(o.verdict, WH_PERMANENT);
    assert_has(o.error, "the certificate of hooks.example:8443 failed verification: unable to get local issuer");
    assert_has(o.problem, "hooks.example:8443's certificate failed verification");
    assert_has(o.problem, "certgate webhook set billing --ca CA");
    o = tls(CG_TLS_VERIFY_FAILED, -1, X509_V_ERR_HOSTNAME_MISMATCH);
    assert_has(o.problem, "certgate webhook set billing --url URL");
    o = tls(CG_TLS_VERIFY_FAILED, -1, X509_V_ERR_CERT_HAS_EXPIRED);
    assert_has(o.problem, "certificate has expired");
    assert_has(o.problem, "validity period");
}

static void test_other_tls_failures_are_retried(void **state)
{
    (void)state;
    struct wh_outcome o = tls(CG_TLS_PROTOCOL, SSL_AD_PROTOCOL_VERSION, 0);
    assert_int_equal(o.verdict, WH_RETRY);
    assert_has(o.error, "TLS with hooks.example:8443 failed");
    assert_has(o.error, "protocol_version");
    assert_string_equal(o.problem, "");
    o = tls(CG_TLS_PROTOCOL, -1, 0);
    assert_int_equal(o.verdict, WH_RETRY);
    assert_has(o.error, "the connection closed");
}

static struct wh_outcome status(int code, const char *peek)
{
    struct wh_outcome o;
    memset(&o, 0, sizeof(o));
    wh_status_outcome(code, cg_slice_str(peek), "hooks.example:8443", "billing-client", "billing", &o);
    return o;
}

static void test_statuses(void **state)
{
    (void)state;
    for (int s = 200; s <= 299; s += 33) {
        struct wh_outcome o = status(s, "");
        assert_int_equal(o.verdict, WH_DELIVERED);
        assert_int_equal(o.status_code, s);
        assert_string_equal(o.error, "");
    }
    int retried[] = {199, 300, 301, 400, 401, 403, 404, 410, 429, 500, 502, 503, 504, 599};
    for (size_t i = 0; i < sizeof(retried) / sizeof(retried[0]); i++) {
        struct wh_outcome o = status(retried[i], "<html>oops</html>");
        assert_int_equal(o.verdict, WH_RETRY);
        assert_int_equal(o.status_code, retried[i]);
        assert_has(o.error, "hooks.example:8443 answered");
    }
    assert_has(status(503, "").error, "answered 503 Service Unavailable");
}

static void test_nginx_refusing_the_certificate_in_http(void **state)
{
    (void)state;
    struct wh_outcome o = status(400, "<html>\r\n<head><title>400 The SSL certificate error</title></head>");
    assert_int_equal(o.verdict, WH_PERMANENT);
    assert_has(o.problem, "your client certificate 'billing-client' was rejected by hooks.example:8443");
    o = status(400, "<title>400 No required SSL certificate was sent</title>");
    assert_int_equal(o.verdict, WH_PERMANENT);
    assert_has(o.error, "no required SSL certificate was sent");
    /* the same words on another status, or another 400, are not that */
    assert_int_equal(status(500, "The SSL certificate error").verdict, WH_RETRY);
    assert_int_equal(status(400, "bad JSON").verdict, WH_RETRY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejected_client_certificate_is_permanent),
        cmocka_unit_test(test_server_certificate_failing_verification_is_permanent),
        cmocka_unit_test(test_other_tls_failures_are_retried),
        cmocka_unit_test(test_statuses),
        cmocka_unit_test(test_nginx_refusing_the_certificate_in_http),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
