/* cg_http_request_parse: every strictness rule of http.h, every accepted shape, incomplete input
 * at every split point, and the limits. Inputs are copied to heap buffers of their exact length,
 * so that ASan catches any read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/http.h"

static uint8_t *dup_n(const char *s, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

/* Parses the first n bytes of s from an exact-size copy; the slices in r point into a buffer
 * that is freed, so callers only look at lengths and offsets after this returns (see parse_ok). */
static int parse_n(const char *s, size_t n, const struct cg_http_limits *lim, struct cg_http_request *r,
                   const char **why)
{
    uint8_t *b = dup_n(s, n);
    *why = NULL;
    int rc = cg_http_request_parse(b, n, lim, r, why);
    free(b);
    return rc;
}

static struct cg_http_request R; /* large: not on the stack */

/* Parses s (in place, so that slices stay valid) and requires success with the whole of s. */
static const struct cg_http_request *parse_ok(const char *s)
{
    const char *why = NULL;
    int rc = cg_http_request_parse((const uint8_t *)s, strlen(s), NULL, &R, &why);
    if (rc != (int)strlen(s)) fail_msg("'%s': rc %d (%s)", s, rc, why ? why : "-");
    return &R;
}

static void refused_lim(const char *s, const struct cg_http_limits *lim, int code, const char *phrase)
{
    const char *why = NULL;
    struct cg_http_request *r = &R;
    int rc = parse_n(s, strlen(s), lim, r, &why);
    if (rc != code) fail_msg("'%s': rc %d, expected %d (why: %s)", s, rc, code, why ? why : "-");
    if (!why || !strstr(why, phrase)) fail_msg("'%s': why '%s' lacks '%s'", s, why ? why : "(null)", phrase);
}
static void refused(const char *s, const char *phrase) { refused_lim(s, NULL, CG_EPROTO, phrase); }

static bool eq(struct cg_slice a, const char *s) { return cg_slice_eq_str(a, s); }

#define H11 "GET / HTTP/1.1\r\nHost: a\r\n"

/* ---- refused shapes: one test each ---- */

static void test_cl_with_te(void **state)
{
    (void)state;
    refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "Content-Length with Transfer-Encoding");
    refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
            "Content-Length with Transfer-Encoding");
}

static void test_cl_differing(void **state)
{
    (void)state;
    refused(H11 "Content-Length: 5, 6\r\n\r\n", "differ");
    refused(H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", "differ");
    refused(H11 "Content-Length: 5, 5\r\ncontent-length: 05, 7\r\n\r\n", "differ");
}

static void test_cl_not_decimal(void **state)
{
    (void)state;
    static const char *bad[] = {"+5", "-5", "0x5", "5 5", "5a", "", "5,", ",5", "5,,5", "5;", "five", "5.0", "\"5\"", "5, ,5"};
    char msg[256];
    for (size_t i = 0; i < CG_ARRAY_LEN(bad); i++) {
        snprintf(msg, sizeof(msg), H11 "Content-Length: %s\r\n\r\n", bad[i]);
        refused(msg, "Content-Length that is not a plain decimal");
    }
    refused(H11 "Content-Length:  5 5 \r\n\r\n", "not a plain decimal"); /* " 5 5": inner space */
}

static void test_cl_overflow(void **state)
{
    (void)state;
    refused(H11 "Content-Length: 18446744073709551616\r\n\r\n", "overflows");
    refused(H11 "Content-Length: 99999999999999999999999999999\r\n\r\n", "overflows");
    const struct cg_http_request *r = parse_ok(H11 "Content-Length: 18446744073709551615\r\n\r\n");
    assert_true(r->content_length == UINT64_MAX);
}

static void test_te_not_chunked_final(void **state)
{
    (void)state;
    refused(H11 "Transfer-Encoding: chunked, identity\r\n\r\n", "final coding is not chunked");
    refused(H11 "Transfer-Encoding: xchunked\r\n\r\n", "final coding is not chunked");
    refused(H11 "Transfer-Encoding: chunkedx\r\n\r\n", "final coding is not chunked");
    refused(H11 "Transfer-Encoding: identity\r\n\r\n", "final coding is not chunked");
    refused(H11 "Transfer-Encoding: gzip\r\n\r\n", "final coding is not chunked");
    refused(H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", "final coding is not chunked");
}

static void test_te_malformed(void **state)
{
    (void)state;
    refused(H11 "Transfer-Encoding: chunked, chunked\r\n\r\n", "more than once");
    refused(H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "more than once");
    refused(H11 "Transfer-Encoding: chunked;x=1\r\n\r\n", "parameters on the chunked");
    refused(H11 "Transfer-Encoding:\r\n\r\n", "empty Transfer-Encoding");
    refused(H11 "Transfer-Encoding: ,\r\n\r\n", "empty Transfer-Encoding");
    refused(H11 "Transfer-Encoding: \"chunked\"\r\n\r\n", "malformed Transfer-Encoding");
    refused(H11 "Transfer-Encoding: chunked chunked\r\n\r\n", "malformed Transfer-Encoding");
    refused(H11 "Transfer-Encoding: gzip;q\r\n\r\n", "malformed Transfer-Encoding");
    refused(H11 "Transfer-Encoding: gzip;q=\"x\r\n\r\n", "malformed Transfer-Encoding");
    refused(H11 "Transfer-Encoding: chunked\x0b\r\n\r\n", "control character");
}

static void test_te_in_http10(void **state)
{
    (void)state;
    refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding in an HTTP/1.0 request");
}

static void test_obs_fold(void **state)
{
    (void)state;
    refused(H11 "X-A: 1\r\n 2\r\n\r\n", "obsolete line folding");
    refused(H11 "X-A: 1\r\n\t2\r\n\r\n", "obsolete line folding");
    refused(H11 "X-A: 1\n 2\n\n", "obsolete line folding");
    refused("GET / HTTP/1.1\r\n Host: a\r\n\r\n", "whitespace before the first field");
}

static void test_space_before_colon(void **state)
{
    (void)state;
    refused("GET / HTTP/1.1\r\nHost : a\r\n\r\n", "whitespace between a field name and its colon");
    refused("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", "whitespace between a field name and its colon");
    refused(H11 "Content-Length : 5\r\n\r\n", "whitespace between a field name and its colon");
}

static void test_bad_name(void **state)
{
    (void)state;
    refused(H11 "Bad Name: x\r\n\r\n", "a bad character in a field name");
    refused(H11 "X(y): x\r\n\r\n", "a bad character in a field name");
    refused(H11 "X\x80y: x\r\n\r\n", "a bad character in a field name");
    refused(H11 "X\x01: x\r\n\r\n", "a bad character in a field name");
    refused(H11 "X-A\r\n\r\n", "a bad character in a field name"); /* no colon */
    refused(H11 ": x\r\n\r\n", "an empty field name");
    refused(H11 "\"x\": y\r\n\r\n", "a bad character in a field name");
}

static void test_bare_cr(void **state)
{
    (void)state;
    refused(H11 "X-A: 1\r2\r\n\r\n", "a CR not followed by LF"); /* CR inside a value */
    refused(H11 "X-A: 1\rX-B: 2\r\n\r\n", "a CR not followed by LF");
    refused(H11 "X-A: 1\r\n\rX\r\n", "a CR not followed by LF");
    refused(H11 "\r\r\n", "a CR not followed by LF");
    refused("GET / HTTP/1.1\rHost: a\r\n\r\n", "a CR not followed by LF");
    refused("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", "a CR not followed by LF");
    refused(H11 "X-A: 1\r \n\r\n", "a CR not followed by LF");
}

static void test_controls_in_value(void **state)
{
    (void)state;
    static const char ctl[] = {0x00, 0x01, 0x07, 0x08, 0x0b, 0x0c, 0x1b, 0x1f, 0x7f};
    for (size_t i = 0; i < sizeof(ctl); i++) {
        char m[64];
        int n = snprintf(m, sizeof(m), H11 "X-A: a%cb\r\n\r\n", 'Q');
        char *q = memchr(m, 'Q', (size_t)n);
        *q = ctl[i];
        const char *why;
        int rc = parse_n(m, (size_t)n, NULL, &R, &why);
        if (rc != CG_EPROTO || !strstr(why, "control character")) fail_msg("control 0x%02x: rc %d", ctl[i], rc);
    }
}

static void test_host_rules(void **state)
{
    (void)state;
    refused("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "several Host fields");
    refused("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", "several Host fields");
    refused("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", "several Host fields");
    refused("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", "without Host");
    refused("GET http://a/ HTTP/1.1\r\n\r\n", "without Host");
    static const char *bad[] = {"a b", "a/b", "a@b", "[::1", "[]", "[::1]x", "a:b", "a:1:2", "a\"b", "a?b", "a#b", ":80"};
    char m[128];
    for (size_t i = 0; i < CG_ARRAY_LEN(bad); i++) {
        snprintf(m, sizeof(m), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
        refused(m, "malformed Host");
    }
}

static void test_version(void **state)
{
    (void)state;
    static const char *bad[] = {"HTTP/2.0", "HTTP/1.10", "HTTP/1.2", "HTTP/0.9", "http/1.1", "HTTP/11", "HTTP/1.1x",
                                "HTTP/1.", "HTTP/1", "HTTP", "HTTPS/1.1", "HTTP/1.1/", "HTTP 1.1", "HTTP/2"};
    char m[128];
    for (size_t i = 0; i < CG_ARRAY_LEN(bad); i++) {
        snprintf(m, sizeof(m), "GET / %s\r\nHost: a\r\n\r\n", bad[i]);
        refused(m, "HTTP version");
    }
    refused("GET / HTTP/2", "HTTP version"); /* refused before the line ends */
}

static void test_request_line_spaces(void **state)
{
    (void)state;
    refused("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "extra spaces");
    refused("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", "extra spaces");
    refused("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", "extra spaces");
    refused(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", "does not start with a method");
    refused("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", "a bad character in the method");
    refused("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", "a bad character in the request target");
    refused("GET /\r\nHost: a\r\n\r\n", "without an HTTP version");
    refused("GET / \r\nHost: a\r\n\r\n", "HTTP version");
    refused("GET\r\n\r\n", "a bad character in the method");
    refused("GET /x\r\n\r\n", "without an HTTP version");
}

static void test_method(void **state)
{
    (void)state;
    refused("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", "a bad character in the method");
    refused("G\x80T / HTTP/1.1\r\nHost: a\r\n\r\n", "a bad character in the method");
    refused("GET/ HTTP/1.1\r\nHost: a\r\n\r\n", "a bad character in the method");
    refused(":GET / HTTP/1.1\r\nHost: a\r\n\r\n", "does not start with a method");
}

static void test_target_bytes(void **state)
{
    (void)state;
    static const char bad[] = {0x01, 0x7f, (char)0x80, (char)0xff, '\t', 0x00};
    for (size_t i = 0; i < sizeof(bad); i++) {
        char m[64];
        int n = snprintf(m, sizeof(m), "GET /aQb HTTP/1.1\r\nHost: a\r\n\r\n");
        *(char *)memchr(m, 'Q', (size_t)n) = bad[i];
        const char *why;
        int rc = parse_n(m, (size_t)n, NULL, &R, &why);
        if (rc != CG_EPROTO || !strstr(why, "request target")) fail_msg("byte 0x%02x in target: rc %d", (uint8_t)bad[i], rc);
    }
}

static void test_target_forms_refused(void **state)
{
    (void)state;
    refused("GET * HTTP/1.1\r\nHost: a\r\n\r\n", "asterisk");
    refused("options * HTTP/1.1\r\nHost: a\r\n\r\n", "asterisk"); /* methods are case-sensitive */
    refused("GET x HTTP/1.1\r\nHost: a\r\n\r\n", "absolute URI");
    refused("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", "absolute URI");
    refused("GET ** HTTP/1.1\r\nHost: a\r\n\r\n", "absolute URI");
    refused("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "only http");
    refused("GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", "user information");
    refused("GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n", "fragment");
    refused("GET http://a/#f HTTP/1.1\r\nHost: a\r\n\r\n", "fragment");
    refused("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", "bad character in the target's host");
    refused("CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n", "needs a port");
    refused("CONNECT http://a:443/ HTTP/1.1\r\nHost: a\r\n\r\n", "port");
    refused("CONNECT * HTTP/1.1\r\nHost: a\r\n\r\n", "host");
}

/* ---- accepted shapes ---- */

static void test_typical(void **state)
{
    (void)state;
    const char *s = "GET /index.html?q=1 HTTP/1.1\r\n"
                    "Host: www.example.com:8080\r\n"
                    "User-Agent:  curl/8.0 \t\r\n"
                    "Accept: */*\r\n"
                    "X-Empty:\r\n"
                    "X-Tab:\ta\tb\t\r\n"
                    "X-Obs: caf\xc3\xa9\r\n"
                    "\r\n";
    const struct cg_http_request *r = parse_ok(s);
    assert_true(eq(r->method, "GET"));
    assert_true(eq(r->target, "/index.html?q=1"));
    assert_int_equal(r->target_form, CG_HTTP_TARGET_ORIGIN);
    assert_int_equal(r->minor_version, 1);
    assert_int_equal(r->n_headers, 6);
    assert_true(eq(r->headers[1].name, "User-Agent"));
    assert_true(eq(r->headers[1].value, "curl/8.0"));
    assert_true(eq(r->headers[3].name, "X-Empty"));
    assert_int_equal(r->headers[3].value.len, 0);
    assert_true(eq(r->headers[4].value, "a\tb"));
    assert_true(eq(r->headers[5].value, "caf\xc3\xa9"));
    assert_true(eq(r->host, "www.example.com:8080"));
    assert_int_equal(r->framing, CG_HTTP_BODY_NONE);
    assert_true(r->keep_alive);
    assert_false(r->expect_continue);
    assert_false(r->upgrade);
}

static void test_body_after_head(void **state)
{
    (void)state;
    const char *s = "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET";
    const char *why;
    int rc = cg_http_request_parse((const uint8_t *)s, strlen(s), NULL, &R, &why);
    assert_int_equal(rc, (int)strlen(s) - 8);
    assert_int_equal(R.framing, CG_HTTP_BODY_LENGTH);
    assert_true(R.content_length == 5);
}

static void test_content_length_merged(void **state)
{
    (void)state;
    const struct cg_http_request *r = parse_ok(H11 "Content-Length: 5, 5\r\n\r\n");
    assert_int_equal(r->framing, CG_HTTP_BODY_LENGTH);
    assert_true(r->content_length == 5);
    r = parse_ok(H11 "Content-Length: 5\r\ncontent-length: 5\r\nCONTENT-LENGTH: 5 ,5\r\n\r\n");
    assert_true(r->content_length == 5);
    r = parse_ok(H11 "Content-Length: 007\r\n\r\n");
    assert_true(r->content_length == 7);
    r = parse_ok(H11 "Content-Length: 0\r\n\r\n");
    assert_int_equal(r->framing, CG_HTTP_BODY_LENGTH);
    assert_true(r->content_length == 0);
}

static void test_chunked_accepted(void **state)
{
    (void)state;
    static const char *ok[] = {"chunked", "Chunked", "CHUNKED", "gzip, chunked", "gzip,chunked", " , gzip ,, chunked ,",
                               "gzip;level=1, chunked", "gzip ; q = \"a,\\\"b\" , chunked"};
    char m[256];
    for (size_t i = 0; i < CG_ARRAY_LEN(ok); i++) {
        snprintf(m, sizeof(m), "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n", ok[i]);
        const struct cg_http_request *r = parse_ok(m);
        assert_int_equal(r->framing, CG_HTTP_BODY_CHUNKED);
    }
    const struct cg_http_request *r = parse_ok(H11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_int_equal(r->framing, CG_HTTP_BODY_CHUNKED);
}

static void test_http10(void **state)
{
    (void)state;
    const struct cg_http_request *r = parse_ok("GET / HTTP/1.0\r\n\r\n");
    assert_int_equal(r->minor_version, 0);
    assert_false(r->keep_alive);
    assert_null(r->host.ptr);
    assert_int_equal(r->n_headers, 0);
    r = parse_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    assert_true(r->keep_alive);
    r = parse_ok("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
    assert_false(r->keep_alive);
    r = parse_ok("POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n");
    assert_int_equal(r->framing, CG_HTTP_BODY_LENGTH);
    assert_false(r->expect_continue); /* RFC 9110 10.1.1 */
    assert_false(r->upgrade);         /* RFC 9110 7.8 */
}

static void test_connection_tokens(void **state)
{
    (void)state;
    const struct cg_http_request *r = parse_ok(H11 "Connection: close\r\n\r\n");
    assert_false(r->keep_alive);
    r = parse_ok(H11 "Connection: foo\r\nConnection: CLOSE\r\n\r\n");
    assert_false(r->keep_alive);
    r = parse_ok(H11 "Connection: closed\r\n\r\n");
    assert_true(r->keep_alive);
    r = parse_ok(H11 "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n");
    assert_true(r->upgrade);
    assert_true(r->keep_alive);
    r = parse_ok(H11 "Upgrade: websocket\r\n\r\n");
    assert_false(r->upgrade);
    r = parse_ok(H11 "Connection: upgrade\r\n\r\n");
    assert_false(r->upgrade);
}

static void test_expect(void **state)
{
    (void)state;
    assert_true(parse_ok(H11 "Expect: 100-continue\r\n\r\n")->expect_continue);
    assert_true(parse_ok(H11 "expect: 100-Continue\r\n\r\n")->expect_continue);
    assert_false(parse_ok(H11 "Expect: 200-ok\r\n\r\n")->expect_continue);
    assert_false(parse_ok(H11 "Expect:\r\n\r\n")->expect_continue);
    assert_false(parse_ok(H11 "X-Expect: 100-continue\r\n\r\n")->expect_continue);
}

static void test_target_forms(void **state)
{
    (void)state;
    const struct cg_http_request *r = parse_ok("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(r->target_form, CG_HTTP_TARGET_ASTERISK);
    r = parse_ok("CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n\r\n");
    assert_int_equal(r->target_form, CG_HTTP_TARGET_AUTHORITY);
    assert_true(eq(r->target, "api.example:443"));
    r = parse_ok("CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n");
    assert_int_equal(r->target_form, CG_HTTP_TARGET_AUTHORITY);
    r = parse_ok("GET http://api.partner.example/x HTTP/1.1\r\nHost: api.partner.example\r\n\r\n");
    assert_int_equal(r->target_form, CG_HTTP_TARGET_ABSOLUTE);
    r = parse_ok("GET HTTPS://h:8443?q HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(r->target_form, CG_HTTP_TARGET_ABSOLUTE);
    r = parse_ok("OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(r->target_form, CG_HTTP_TARGET_ORIGIN);
    r = parse_ok("M-SEARCH //a/%20b?c=d&e HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_true(eq(r->method, "M-SEARCH"));
    assert_true(eq(r->target, "//a/%20b?c=d&e"));
}

static void test_host_values(void **state)
{
    (void)state;
    static const char *ok[] = {"a", "example.com:8080", "example.com:", "[::1]", "[2001:db8::1]:443", "10.0.0.1:1",
                               "xn--bcher-kva.example", "a_b~c%41!$&'()*+,;="};
    char m[128];
    for (size_t i = 0; i < CG_ARRAY_LEN(ok); i++) {
        snprintf(m, sizeof(m), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", ok[i]);
        assert_true(eq(parse_ok(m)->host, ok[i]));
    }
    assert_int_equal(parse_ok("GET / HTTP/1.1\r\nHost:\r\n\r\n")->host.len, 0); /* RFC 9112 3.2 */
    assert_int_equal(parse_ok("GET / HTTP/1.1\r\nHost:  a \r\n\r\n")->host.len, 1);
}

static void test_line_endings(void **state)
{
    (void)state;
    const struct cg_http_request *r = parse_ok("GET / HTTP/1.1\nHost: a\nX: 1\n\n");
    assert_int_equal(r->n_headers, 2);
    assert_true(eq(r->headers[1].value, "1"));
    r = parse_ok("GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\n");
    assert_int_equal(r->n_headers, 2);
    /* empty lines before the request line (RFC 9112 2.2) */
    r = parse_ok("\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_true(eq(r->method, "GET"));
}

static void test_head_length_and_prefix_errors(void **state)
{
    (void)state;
    /* errors are found as early as the bytes show them, without waiting for the whole head */
    const char *why;
    const char *s = "GET / HTTP/1.1\r\nHost : a";
    assert_int_equal(parse_n(s, strlen(s), NULL, &R, &why), CG_EPROTO);
    s = "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2";
    assert_int_equal(parse_n(s, strlen(s), NULL, &R, &why), CG_EPROTO);
    s = "GET / HTTP/1.1\r\nHost: a\x01";
    assert_int_equal(parse_n(s, strlen(s), NULL, &R, &why), CG_EPROTO);
}

/* ---- every split point ---- */

static void same_request(const struct cg_http_request *a, const uint8_t *ab, const struct cg_http_request *b,
                         const uint8_t *bb)
{
#define OFF(s, base) ((s).ptr ? (long)((s).ptr - (base)) : -1L)
    assert_true(OFF(a->method, ab) == OFF(b->method, bb) && a->method.len == b->method.len);
    assert_true(OFF(a->target, ab) == OFF(b->target, bb) && a->target.len == b->target.len);
    assert_true(OFF(a->host, ab) == OFF(b->host, bb) && a->host.len == b->host.len);
    assert_int_equal(a->n_headers, b->n_headers);
    for (size_t i = 0; i < a->n_headers; i++) {
        assert_true(OFF(a->headers[i].name, ab) == OFF(b->headers[i].name, bb));
        assert_true(a->headers[i].name.len == b->headers[i].name.len);
        assert_true(OFF(a->headers[i].value, ab) == OFF(b->headers[i].value, bb));
        assert_true(a->headers[i].value.len == b->headers[i].value.len);
    }
    assert_int_equal(a->target_form, b->target_form);
    assert_int_equal(a->minor_version, b->minor_version);
    assert_int_equal(a->framing, b->framing);
    assert_true(a->content_length == b->content_length);
    assert_int_equal(a->keep_alive, b->keep_alive);
    assert_int_equal(a->expect_continue, b->expect_continue);
    assert_int_equal(a->upgrade, b->upgrade);
#undef OFF
}

static void test_every_split(void **state)
{
    (void)state;
    static const char *msgs[] = {
        "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: test\r\nAccept: */*\r\n\r\n",
        "POST /api/v1/x?y=1 HTTP/1.1\r\nHost: a:1\r\nContent-Length: 11, 11\r\nExpect: 100-continue\r\n\r\n",
        "PUT /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n",
        "\r\nGET http://h:8080/p HTTP/1.1\nHost: h\nConnection: Upgrade\nUpgrade: websocket\n\n",
        "CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tab:\t \t\r\n\r\n",
    };
    static struct cg_http_request full, part;
    for (size_t m = 0; m < CG_ARRAY_LEN(msgs); m++) {
        size_t n = strlen(msgs[m]);
        uint8_t *fb = dup_n(msgs[m], n);
        const char *why = NULL;
        int rc = cg_http_request_parse(fb, n, NULL, &full, &why);
        if (rc != (int)n) fail_msg("message %zu: rc %d (%s)", m, rc, why ? why : "-");
        size_t from = 0;
        for (size_t k = 0; k < n; k++) {
            uint8_t *b = dup_n(msgs[m], k);
            rc = cg_http_request_parse(b, k, NULL, &part, &why);
            if (rc != 0) fail_msg("message %zu, prefix %zu: rc %d (%s)", m, k, rc, why ? why : "-");
            /* the incremental end-of-head search agrees */
            if (cg_http_head_end(b, k, &from) != 0) fail_msg("message %zu: head_end found an end at prefix %zu", m, k);
            free(b);
        }
        assert_int_equal(cg_http_head_end(fb, n, &from), n);
        size_t from0 = 0;
        assert_int_equal(cg_http_head_end(fb, n, &from0), n);
        uint8_t *b = dup_n(msgs[m], n);
        assert_int_equal(cg_http_request_parse(b, n, NULL, &part, &why), (int)n);
        same_request(&full, fb, &part, b);
        free(b);
        free(fb);
    }
}

/* A refused message is refused, never accepted, at every prefix that shows the fault. */
static void test_every_split_refused(void **state)
{
    (void)state;
    static const char *msgs[] = {
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "GET / HTTP/1.10\r\nHost: a\r\n\r\n",
    };
    for (size_t m = 0; m < CG_ARRAY_LEN(msgs); m++) {
        size_t n = strlen(msgs[m]);
        const char *why;
        for (size_t k = 0; k <= n; k++) {
            int rc = parse_n(msgs[m], k, NULL, &R, &why);
            if (rc > 0 || (k == n && rc != CG_EPROTO)) fail_msg("message %zu prefix %zu: rc %d", m, k, rc);
        }
    }
}

/* ---- limits ---- */

static void test_limits_default(void **state)
{
    (void)state;
    struct cg_http_limits l;
    cg_http_limits_default(&l);
    assert_int_equal(l.max_head_bytes, 64 * 1024);
    assert_int_equal(l.max_headers, 100);
    assert_int_equal(l.max_target_bytes, 8 * 1024);
    assert_true(l.max_headers <= CG_HTTP_MAX_HEADERS);
    const char *why;
    assert_int_equal(cg_http_request_parse(NULL, 0, NULL, &R, &why), 0); /* nothing yet */
}

static char big[300 * 1024];

static void test_limit_head_bytes(void **state)
{
    (void)state;
    struct cg_http_limits l = {.max_head_bytes = 100, .max_headers = 100, .max_target_bytes = 100};
    const char *why;
    /* exactly 100 bytes: accepted */
    char m[256];
    int n = snprintf(m, sizeof(m), "GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n\r\n",
                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    assert_int_equal(n, 100);
    assert_int_equal(parse_n(m, 100, &l, &R, &why), 100);
    l.max_head_bytes = 99;
    refused_lim(m, &l, CG_ELIMIT, "header section too large");
    /* an incomplete head over the cap is refused too: a peer cannot make us buffer forever */
    assert_int_equal(parse_n(m, 98, &l, &R, &why), 0);
    assert_int_equal(parse_n(m, 99, &l, &R, &why), CG_ELIMIT);
    /* the default cap, with a head that never ends */
    size_t len = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    memset(big + len, 'a', sizeof(big) - len);
    assert_int_equal(parse_n(big, 64 * 1024 - 1, NULL, &R, &why), 0);
    assert_int_equal(parse_n(big, 64 * 1024, NULL, &R, &why), CG_ELIMIT);
    assert_int_equal(parse_n(big, sizeof(big), NULL, &R, &why), CG_ELIMIT);
    assert_non_null(strstr(why, "too large"));
    /* zero fields mean the default */
    struct cg_http_limits z = {0, 0, 0};
    assert_int_equal(parse_n(big, 64 * 1024, &z, &R, &why), CG_ELIMIT);
}

static void test_limit_headers(void **state)
{
    (void)state;
    struct cg_http_limits l = {.max_head_bytes = 64 * 1024, .max_headers = 3, .max_target_bytes = 100};
    const char *why;
    const char *three = "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n";
    assert_int_equal(parse_n(three, strlen(three), &l, &R, &why), (int)strlen(three));
    refused_lim("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\nZ: 3\r\n\r\n", &l, CG_ELIMIT, "too many header fields");
    /* defaults: 100 fields pass, 101 do not; a limit over CG_HTTP_MAX_HEADERS is clamped */
    for (size_t count = 100; count <= 129; count += 29) {
        size_t len = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\n");
        for (size_t i = 1; i < count; i++) len += (size_t)snprintf(big + len, sizeof(big) - len, "X-%zu: %zu\r\n", i, i);
        len += (size_t)snprintf(big + len, sizeof(big) - len, "\r\n");
        assert_int_equal(parse_n(big, len, NULL, &R, &why), count == 100 ? (int)len : CG_ELIMIT);
        struct cg_http_limits huge = {.max_head_bytes = 0, .max_headers = 100000, .max_target_bytes = 0};
        assert_int_equal(parse_n(big, len, &huge, &R, &why), count <= CG_HTTP_MAX_HEADERS ? (int)len : CG_ELIMIT);
    }
    size_t len = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (size_t i = 1; i <= 100; i++) len += (size_t)snprintf(big + len, sizeof(big) - len, "X-%zu: %zu\r\n", i, i);
    assert_int_equal(parse_n(big, len, NULL, &R, &why), CG_ELIMIT); /* found before the head ends */
}

static void test_limit_target(void **state)
{
    (void)state;
    struct cg_http_limits l = {.max_head_bytes = 1000, .max_headers = 10, .max_target_bytes = 8};
    const char *why;
    const char *ok = "GET /1234567 HTTP/1.1\r\nHost: a\r\n\r\n"; /* 8 bytes */
    assert_int_equal(parse_n(ok, strlen(ok), &l, &R, &why), (int)strlen(ok));
    refused_lim("GET /12345678 HTTP/1.1\r\nHost: a\r\n\r\n", &l, CG_ELIMIT, "request target too long");
    refused_lim("GET /12345678", &l, CG_ELIMIT, "request target too long"); /* incomplete */
    assert_int_equal(parse_n("GET /1234567", 12, &l, &R, &why), 0);
    /* default 8 KiB */
    size_t len = (size_t)snprintf(big, sizeof(big), "GET /");
    memset(big + len, 'a', 9000);
    assert_int_equal(parse_n(big, len + 8191, NULL, &R, &why), 0);
    assert_int_equal(parse_n(big, len + 8192, NULL, &R, &why), CG_ELIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cl_with_te),
        cmocka_unit_test(test_cl_differing),
        cmocka_unit_test(test_cl_not_decimal),
        cmocka_unit_test(test_cl_overflow),
        cmocka_unit_test(test_te_not_chunked_final),
        cmocka_unit_test(test_te_malformed),
        cmocka_unit_test(test_te_in_http10),
        cmocka_unit_test(test_obs_fold),
        cmocka_unit_test(test_space_before_colon),
        cmocka_unit_test(test_bad_name),
        cmocka_unit_test(test_bare_cr),
        cmocka_unit_test(test_controls_in_value),
        cmocka_unit_test(test_host_rules),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_request_line_spaces),
        cmocka_unit_test(test_method),
        cmocka_unit_test(test_target_bytes),
        cmocka_unit_test(test_target_forms_refused),
        cmocka_unit_test(test_typical),
        cmocka_unit_test(test_body_after_head),
        cmocka_unit_test(test_content_length_merged),
        cmocka_unit_test(test_chunked_accepted),
        cmocka_unit_test(test_http10),
        cmocka_unit_test(test_connection_tokens),
        cmocka_unit_test(test_expect),
        cmocka_unit_test(test_target_forms),
        cmocka_unit_test(test_host_values),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_head_length_and_prefix_errors),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_every_split_refused),
        cmocka_unit_test(test_limits_default),
        cmocka_unit_test(test_limit_head_bytes),
        cmocka_unit_test(test_limit_headers),
        cmocka_unit_test(test_limit_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
