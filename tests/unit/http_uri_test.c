#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/http.h"

static void ok(const char *t, bool auth, const char *host, uint16_t port, const char *path, bool v6)
{
    struct cg_http_uri u;
    const char *why = NULL;
    int rc = cg_http_uri_parse(cg_slice_str(t), auth, &u, &why);
    if (rc) fail_msg("'%s': %s", t, why);
    if (!cg_slice_eq_str(u.host, host)) fail_msg("'%s': host '%.*s'", t, (int)u.host.len, u.host.ptr);
    assert_int_equal(u.port, port);
    if (path && !cg_slice_eq_str(u.path, path)) fail_msg("'%s': path '%.*s'", t, (int)u.path.len, u.path.ptr);
    assert_int_equal(u.ipv6, v6);
}

static void test_accepted(void **state)
{
    (void)state;
    ok("http://api.partner.example/x?y=1", false, "api.partner.example", 0, "/x?y=1", false);
    ok("http://api.partner.example:8443/", false, "api.partner.example", 8443, "/", false);
    ok("HTTPS://Host.Example", false, "Host.Example", 0, "/", false);
    ok("http://h?q", false, "h", 0, "?q", false);
    ok("http://[2001:db8::1]:9443/p", false, "2001:db8::1", 9443, "/p", true);
    ok("http://10.0.0.1/", false, "10.0.0.1", 0, "/", false);
    ok("api.example:443", true, "api.example", 443, NULL, false);
    ok("[::1]:8443", true, "::1", 8443, NULL, true);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *bad_abs[] = {"", "/path", "ftp://h/", "http:/h", "http://", "http:///p", "http://u@h/",
                                    "http://h:0/", "http://h:65536/", "http://h:/", "http://h:12a/", "http://[::1/",
                                    "http://[zz]/", "http://h h/", "http://h/#frag", "http://[::1]x/",
                                    "http://h:123456/"};
    static const char *bad_auth[] = {"h", "h:", ":443", "h:0", "u@h:443", "[::1]"};
    struct cg_http_uri u;
    const char *why;
    for (size_t i = 0; i < CG_ARRAY_LEN(bad_abs); i++) {
        why = NULL;
        if (cg_http_uri_parse(cg_slice_str(bad_abs[i]), false, &u, &why) != CG_EPROTO) fail_msg("'%s' accepted", bad_abs[i]);
        assert_non_null(why);
    }
    for (size_t i = 0; i < CG_ARRAY_LEN(bad_auth); i++)
        if (cg_http_uri_parse(cg_slice_str(bad_auth[i]), true, &u, &why) != CG_EPROTO) fail_msg("'%s' accepted", bad_auth[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_accepted), cmocka_unit_test(test_refused)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
