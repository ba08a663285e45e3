/* The validation half of config/site.h (src/config/site.c): IP ranges, backends, domains and
 * rule paths, accepted and refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "config/site.h"
#include "core/mem.h"

#define assert_refused(rc, e, phrase)                                                                 \
    do {                                                                                              \
        int rc_ = (rc);                                                                               \
        if (rc_ != CG_EINVAL) fail_msg("rc %d, expected CG_EINVAL; message: %s", rc_, (e).msg);       \
        if (!strstr((e).msg, (phrase))) fail_msg("message \"%s\" lacks \"%s\"", (e).msg, (phrase)); \
        if (!(e).hint[0]) fail_msg("no hint for \"%s\"", (e).msg);                                    \
    } while (0)

/* ---- IP ranges ----------------------------------------------------------------------------- */

static void cidr_ok(const char *text, const char *canonical)
{
    struct cg_cidr c;
    struct cg_err err;
    cg_err_clear(&err);
    int rc = cg_cidr_parse(text, &c, &err);
    if (rc != 0) fail_msg("'%s' refused: %s", text, err.msg);
    char out[64];
    cg_cidr_format(&c, out, sizeof(out));
    assert_string_equal(out, canonical);
}

static void test_cidr_accepted(void **state)
{
    (void)state;
    cidr_ok("10.0.0.0/8", "10.0.0.0/8");
    cidr_ok("192.0.2.7", "192.0.2.7/32");
    cidr_ok("0.0.0.0/0", "0.0.0.0/0");
    cidr_ok("192.0.2.128/25", "192.0.2.128/25");
    cidr_ok("2001:db8::/32", "2001:db8::/32");
    cidr_ok("2001:DB8:0:0::/64", "2001:db8::/64");
    cidr_ok("::1", "::1/128");
    cidr_ok("::/0", "::/0");
    cidr_ok("fe80::/10", "fe80::/10");
    cidr_ok("64:ff9b::/96", "64:ff9b::/96");
    struct cg_cidr c;
    struct cg_err err;
    assert_int_equal(cg_cidr_parse("10.1.0.0/16", &c, &err), 0);
    assert_int_equal(c.family, 4);
    assert_int_equal(c.bits, 16);
    assert_int_equal(c.addr[0], 10);
    assert_int_equal(c.addr[1], 1);
    char small[8];
    cg_cidr_format(&c, small, sizeof(small)); /* cut short, still terminated */
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void test_cidr_refused(void **state)
{
    (void)state;
    struct cg_cidr c;
    struct cg_err err;
    cg_err_clear(&err);
    assert_refused(cg_cidr_parse("10.0.0.1/8", &c, &err), err, "host bits");
    assert_non_null(strstr(err.hint, "10.0.0.0/8"));
    assert_int_equal(c.family, 0); /* left zeroed */
    assert_refused(cg_cidr_parse("2001:db8::1/32", &c, &err), err, "host bits");
    assert_non_null(strstr(err.hint, "2001:db8::/32"));
    assert_refused(cg_cidr_parse("10.0.0.0/33", &c, &err), err, "/33 is out of range for IPv4 (0 to 32)");
    assert_refused(cg_cidr_parse("::/129", &c, &err), err, "/129 is out of range for IPv6");
    assert_refused(cg_cidr_parse("10.0.0.0/", &c, &err), err, "not a number");
    assert_refused(cg_cidr_parse("10.0.0.0/08", &c, &err), err, "not a number");
    assert_refused(cg_cidr_parse("10.0.0.0/+8", &c, &err), err, "not a number");
    assert_refused(cg_cidr_parse("10.0.0.0/8x", &c, &err), err, "not a number");
    assert_refused(cg_cidr_parse("10.0.0/8", &c, &err), err, "neither IPv4 nor IPv6");
    assert_refused(cg_cidr_parse("example.com", &c, &err), err, "neither IPv4 nor IPv6");
    assert_refused(cg_cidr_parse("fe80::1%eth0", &c, &err), err, "neither IPv4 nor IPv6");
    assert_refused(cg_cidr_parse(" 10.0.0.0/8", &c, &err), err, "neither IPv4 nor IPv6");
    assert_refused(cg_cidr_parse("", &c, &err), err, "empty");
    assert_refused(cg_cidr_parse(NULL, &c, &err), err, "empty");
    assert_refused(cg_cidr_parse("::ffff:10.0.0.0/104", &c, &err), err, "IPv4-mapped");
    assert_non_null(strstr(err.hint, "10.0.0.0/8"));
    char longer[200];
    memset(longer, '1', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_refused(cg_cidr_parse(longer, &c, &err), err, "bytes long");
}

static struct sockaddr_storage v4(const char *a)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, a, &in->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *a)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in6 *in = (struct sockaddr_in6 *)&ss;
    in->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, a, &in->sin6_addr), 1);
    return ss;
}

static bool match(const char *range, struct sockaddr_storage ss)
{
    struct cg_cidr c;
    struct cg_err err;
    assert_int_equal(cg_cidr_parse(range, &c, &err), 0);
    return cg_cidr_match(&c, (const struct sockaddr *)&ss);
}

static void test_cidr_match(void **state)
{
    (void)state;
    assert_true(match("10.0.0.0/8", v4("10.255.1.2")));
    assert_false(match("10.0.0.0/8", v4("11.0.0.0")));
    assert_true(match("192.0.2.128/25", v4("192.0.2.200")));
    assert_false(match("192.0.2.128/25", v4("192.0.2.127")));
    assert_true(match("192.0.2.7", v4("192.0.2.7")));
    assert_false(match("192.0.2.7", v4("192.0.2.6")));
    assert_true(match("0.0.0.0/0", v4("203.0.113.9")));
    assert_true(match("10.1.2.2/31", v4("10.1.2.3")));
    assert_false(match("10.1.2.3/32", v4("10.1.2.2")));
    /* IPv6, with a prefix that is not a whole number of bytes */
    assert_true(match("2001:db8::/32", v6("2001:db8:ffff::1")));
    assert_false(match("2001:db8::/32", v6("2001:db9::1")));
    assert_true(match("fe80::/10", v6("febf::1")));
    assert_false(match("fe80::/10", v6("fec0::1")));
    assert_true(match("::1", v6("::1")));
    /* an IPv4 client on a dual-stack socket arrives IPv4-mapped and is an IPv4 client */
    assert_true(match("10.0.0.0/8", v6("::ffff:10.9.8.7")));
    assert_false(match("10.0.0.0/8", v6("::ffff:11.9.8.7")));
    assert_false(match("::/0", v6("::ffff:10.9.8.7")));
    assert_false(match("::/0", v4("10.9.8.7")));
    assert_true(match("::/0", v6("2001:db8::1")));
    assert_false(match("0.0.0.0/0", v6("2001:db8::1")));
    /* no address, another family */
    struct cg_cidr c;
    struct cg_err err;
    assert_int_equal(cg_cidr_parse("0.0.0.0/0", &c, &err), 0);
    assert_false(cg_cidr_match(&c, NULL));
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_false(cg_cidr_match(&c, &un));
    assert_false(cg_cidr_match(NULL, (const struct sockaddr *)&un));
}

/* ---- backends ------------------------------------------------------------------------------ */

static void backend_ok(const char *url, const char *host, uint16_t port)
{
    char *h = NULL;
    uint16_t p = 0;
    struct cg_err err;
    cg_err_clear(&err);
    int rc = cg_site_backend_parse(url, &h, &p, &err);
    if (rc != 0) fail_msg("'%s' refused: %s", url, err.msg);
    assert_string_equal(h, host);
    assert_int_equal(p, port);
    cg_free(h);
}

static void backend_refused(const char *url, const char *phrase)
{
    char *h = (char *)"untouched";
    uint16_t p = 7;
    struct cg_err err;
    cg_err_clear(&err);
    assert_refused(cg_site_backend_parse(url, &h, &p, &err), err, phrase);
    assert_null(h);
    assert_int_equal(p, 0);
}

static void test_backend(void **state)
{
    (void)state;
    backend_ok("http://127.0.0.1:8080", "127.0.0.1", 8080);
    backend_ok("http://127.0.0.1:8080/", "127.0.0.1", 8080);
    backend_ok("HTTP://App.Internal:80", "app.internal", 80);
    backend_ok("http://[::1]:9000", "::1", 9000);
    backend_ok("http://app_1.svc:65535", "app_1.svc", 65535);
    backend_refused("https://127.0.0.1:8443", "uses https://");
    backend_refused("ftp://127.0.0.1:21", "is not an http:// URL");
    backend_refused("127.0.0.1:8080", "is not an http:// URL");
    backend_refused("http://127.0.0.1", "has no port");
    backend_refused("http://app.internal/", "has no port");
    backend_refused("http://127.0.0.1:8080/app", "has a path");
    backend_refused("http://127.0.0.1:8080?x=1", "has a path");
    backend_refused("http://127.0.0.1:0", "is not a valid URL");
    backend_refused("http://127.0.0.1:65536", "is not a valid URL");
    backend_refused("http://user@127.0.0.1:80", "is not a valid URL");
    backend_refused("http://127.0.0.1:80#frag", "is not a valid URL");
    backend_refused("http://a b:80", "is not a valid URL");
    backend_refused("http://[::g]:80", "is not a valid URL");
    backend_refused("http://[1::2::3]:80", "bad IPv6 address");
    backend_refused("http://a..b:80", "empty label");
    backend_refused("http://.a:80", "empty label");
    backend_refused("", "no backend");
    backend_refused(NULL, "no backend");
    char longer[700] = "http://";
    memset(longer + 7, 'a', sizeof(longer) - 8);
    longer[sizeof(longer) - 1] = '\0';
    backend_refused(longer, "bytes long");
}

/* ---- domains ------------------------------------------------------------------------------- */

static void host_ok(const char *in, const char *want)
{
    char *out = NULL;
    struct cg_err err;
    cg_err_clear(&err);
    int rc = cg_site_host_normalize(in, &out, &err);
    if (rc != 0) fail_msg("'%s' refused: %s", in, err.msg);
    assert_string_equal(out, want);
    cg_free(out);
}

static void host_refused(const char *in, const char *phrase)
{
    char *out = (char *)"untouched";
    struct cg_err err;
    cg_err_clear(&err);
    assert_refused(cg_site_host_normalize(in, &out, &err), err, phrase);
    assert_null(out);
}

static void test_host(void **state)
{
    (void)state;
    host_ok("App.Example.COM", "app.example.com");
    host_ok("example.com.", "example.com");
    host_ok("*.Example.com", "*.example.com");
    host_ok("localhost", "localhost");
    host_ok("127.0.0.1", "127.0.0.1"); /* wrk and some libraries send the address as SNI */
    host_ok("::1", "::1");
    host_ok("2001:DB8:0::1", "2001:db8::1");
    host_ok("xn--bcher-kva.example", "xn--bcher-kva.example");
    host_ok("a-b.c1.example", "a-b.c1.example");
    char label63[80];
    snprintf(label63, sizeof(label63), "%.63s.example", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    host_ok(label63, label63);
    host_refused("a..example.com", "empty label");
    host_refused(".example.com", "empty label");
    host_refused(".", "empty label");
    host_refused("-a.example.com", "starts or ends with '-'");
    host_refused("a-.example.com", "starts or ends with '-'");
    host_refused("a_b.example.com", "the character '_'");
    host_refused("a b.example.com", "has a space");
    host_refused("app.example.com:443", "the character ':'");
    host_refused("\xc3\xa9.example", "the byte 0xc3");
    host_refused("a.*.example.com", "not the whole leading label");
    host_refused("*a.example.com", "partial wildcard");
    host_refused("*", "partial wildcard");
    host_refused("*.com", "wildcard over a top-level domain");
    host_refused("**.example.com", "partial wildcard");
    host_refused("10.0.0.256", "not an IP address");
    host_refused("", "empty domain");
    host_refused(NULL, "empty domain");
    char label64[80];
    snprintf(label64, sizeof(label64), "%.64s.example", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    host_refused(label64, "longer than 63");
    char longer[300];
    for (size_t i = 0; i < sizeof(longer) - 1; i++) longer[i] = i % 10 == 9 ? '.' : 'a';
    longer[sizeof(longer) - 1] = '\0';
    host_refused(longer, "bytes long");
}

/* ---- rule paths ---------------------------------------------------------------------------- */

static void path_ok(const char *p)
{
    struct cg_err err;
    cg_err_clear(&err);
    if (cg_site_path_check(p, &err) != 0) fail_msg("'%s' refused: %s", p, err.msg);
}

static void path_refused(const char *p, const char *phrase)
{
    struct cg_err err;
    cg_err_clear(&err);
    assert_refused(cg_site_path_check(p, &err), err, phrase);
}

static void test_path(void **state)
{
    (void)state;
    path_ok("/");
    path_ok("/api");
    path_ok("/api/");
    path_ok("/api/v1/users");
    path_ok("/a.b/c..d/.well-known/x");
    path_ok("/caf\xc3\xa9/");
    path_refused("api/", "does not start with '/'");
    path_refused("", "empty rule path");
    path_refused(NULL, "empty rule path");
    path_refused("/api?x=1", "query or a fragment");
    path_refused("/api#top", "query or a fragment");
    path_refused("/a b", "space");
    path_refused("/a\tb", "control character");
    path_refused("/a\x7f", "control character");
    path_refused("/a/./b", "'.' or '..' segment");
    path_refused("/a/../admin", "'.' or '..' segment");
    path_refused("/..", "'.' or '..' segment");
    path_refused("/a/.", "'.' or '..' segment");
    path_refused("/%61dmin", "'%' escape");
    path_refused("//admin", "'//'");
    path_refused("/a//b", "'//'");
    char longer[1100];
    longer[0] = '/';
    memset(longer + 1, 'a', sizeof(longer) - 2);
    longer[sizeof(longer) - 1] = '\0';
    path_refused(longer, "bytes long");
    longer[1024] = '\0';
    path_ok(longer); /* exactly 1024 bytes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_accepted), cmocka_unit_test(test_cidr_refused), cmocka_unit_test(test_cidr_match),
        cmocka_unit_test(test_backend),       cmocka_unit_test(test_host),         cmocka_unit_test(test_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
