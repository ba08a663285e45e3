/* cg_http_response_parse: status lines, every framing outcome of RFC 9112 6.3, the refusals,
 * incomplete input at every split point, and the limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/http.h"

static struct cg_http_response R;

static uint8_t *dup_n(const char *s, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static int parse_n(const char *s, size_t n, const char *method, const struct cg_http_limits *lim, const char **why)
{
    uint8_t *b = dup_n(s, n);
    *why = NULL;
    int rc = cg_http_response_parse(b, n, cg_slice_str(method), lim, &R, why);
    free(b);
    return rc;
}

static const struct cg_http_response *ok_m(const char *s, const char *method)
{
    const char *why = NULL;
    int rc = cg_http_response_parse((const uint8_t *)s, strlen(s), cg_slice_str(method), NULL, &R, &why);
    if (rc != (int)strlen(s)) fail_msg("'%s': rc %d (%s)", s, rc, why ? why : "-");
    return &R;
}
static const struct cg_http_response *ok(const char *s) { return ok_m(s, "GET"); }

static void refused_m(const char *s, const char *method, int code, const char *phrase)
{
    const char *why;
    int rc = parse_n(s, strlen(s), method, NULL, &why);
    if (rc != code) fail_msg("'%s': rc %d, expected %d (why: %s)", s, rc, code, why ? why : "-");
    if (!why || !strstr(why, phrase)) fail_msg("'%s': why '%s' lacks '%s'", s, why ? why : "(null)", phrase);
}
static void refused(const char *s, const char *phrase) { refused_m(s, "GET", CG_EPROTO, phrase); }

static void expect_framing(const char *s, const char *method, enum cg_http_framing fr, bool keep_alive)
{
    const struct cg_http_response *r = ok_m(s, method);
    if (r->framing != fr) fail_msg("'%s' to %s: framing %d, expected %d", s, method, r->framing, fr);
    if (r->keep_alive != keep_alive) fail_msg("'%s' to %s: keep_alive %d", s, method, r->keep_alive);
}

/* ---- framing: RFC 9112 6.3 ---- */

static void test_framing_length(void **state)
{
    (void)state;
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", CG_HTTP_BODY_LENGTH, true);
    assert_true(R.content_length == 5);
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n", "POST", CG_HTTP_BODY_LENGTH, true);
    expect_framing("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "GET", CG_HTTP_BODY_LENGTH, true);
    /* a non-2xx answer to CONNECT has an ordinary body */
    expect_framing("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 3\r\n\r\n", "CONNECT",
                   CG_HTTP_BODY_LENGTH, true);
}

static void test_framing_none(void **state)
{
    (void)state;
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", "HEAD", CG_HTTP_BODY_NONE, true);
    assert_true(R.content_length == 500);
    expect_framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD", CG_HTTP_BODY_NONE, true);
    expect_framing("HTTP/1.1 204 No Content\r\n\r\n", "GET", CG_HTTP_BODY_NONE, true);
    expect_framing("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", "DELETE", CG_HTTP_BODY_NONE, true);
    expect_framing("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", "GET", CG_HTTP_BODY_NONE, true);
    expect_framing("HTTP/1.1 100 Continue\r\n\r\n", "POST", CG_HTTP_BODY_NONE, true);
    expect_framing("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", "GET", CG_HTTP_BODY_NONE, true);
    expect_framing("HTTP/1.1 199 Whatever\r\n\r\n", "GET", CG_HTTP_BODY_NONE, true);
}

static void test_framing_tunnel(void **state)
{
    (void)state;
    expect_framing("HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT", CG_HTTP_BODY_TUNNEL, false);
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "CONNECT", CG_HTTP_BODY_TUNNEL, false);
    /* a 204 to CONNECT has no body, and the connection is a tunnel after it (RFC 9110 9.3.6) */
    expect_framing("HTTP/1.1 204 OK\r\n\r\n", "CONNECT", CG_HTTP_BODY_TUNNEL, false);
    expect_framing("HTTP/1.1 299 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "CONNECT", CG_HTTP_BODY_TUNNEL, false);
    expect_framing("HTTP/1.1 300 Multiple Choices\r\n\r\n", "CONNECT", CG_HTTP_BODY_CLOSE, false);
    expect_framing("HTTP/1.1 101 Switching Protocols\r\n\r\n", "HEAD", CG_HTTP_BODY_TUNNEL, false);
    expect_framing("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "GET",
                   CG_HTTP_BODY_TUNNEL, false);
    /* "connect" is not CONNECT: methods are case-sensitive */
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "connect", CG_HTTP_BODY_LENGTH, true);
}

static void test_framing_chunked_and_close(void **state)
{
    (void)state;
    expect_framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", CG_HTTP_BODY_CHUNKED, true);
    expect_framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", "GET", CG_HTTP_BODY_CHUNKED, true);
    /* Transfer-Encoding without a final chunked: until close (RFC 9112 6.3 item 4) */
    expect_framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET", CG_HTTP_BODY_CLOSE, false);
    expect_framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n", "GET", CG_HTTP_BODY_CLOSE, false);
    /* both: Transfer-Encoding wins, and the connection is not reused (item 3) */
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "GET",
                   CG_HTTP_BODY_CHUNKED, false);
    expect_framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n", "GET", CG_HTTP_BODY_CLOSE, false);
    /* neither: until close (item 8) */
    expect_framing("HTTP/1.1 200 OK\r\n\r\n", "GET", CG_HTTP_BODY_CLOSE, false);
    expect_framing("HTTP/1.0 200 OK\r\n\r\n", "GET", CG_HTTP_BODY_CLOSE, false);
}

static void test_keep_alive(void **state)
{
    (void)state;
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", "GET", CG_HTTP_BODY_LENGTH, false);
    expect_framing("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", "GET", CG_HTTP_BODY_LENGTH, false);
    expect_framing("HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", "GET", CG_HTTP_BODY_LENGTH, true);
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: x, Close\r\n\r\n", "GET", CG_HTTP_BODY_LENGTH, false);
}

/* ---- status lines ---- */

static void test_status_line(void **state)
{
    (void)state;
    const struct cg_http_response *r = ok("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(r->status, 200);
    assert_int_equal(r->minor_version, 1);
    assert_true(cg_slice_eq_str(r->reason, "OK"));
    assert_int_equal(r->n_headers, 1);
    r = ok("HTTP/1.1 502 Bad  Gateway \t\r\n\r\n");
    assert_true(cg_slice_eq_str(r->reason, "Bad  Gateway \t"));
    r = ok("HTTP/1.1 200 \r\n\r\n");
    assert_int_equal(r->reason.len, 0);
    r = ok("HTTP/1.1 200\r\n\r\n"); /* no SP before an empty reason: tolerated */
    assert_int_equal(r->reason.len, 0);
    assert_int_equal(r->status, 200);
    r = ok("HTTP/1.0 999 Odd\nX: 1\n\n");
    assert_int_equal(r->status, 999);
    assert_int_equal(r->minor_version, 0);
    r = ok("HTTP/1.1 200 caf\xc3\xa9\r\n\r\n");
    assert_int_equal(r->reason.len, 5);
}

static void test_status_refused(void **state)
{
    (void)state;
    refused("HTTP/1.1 20 OK\r\n\r\n", "three digits");
    refused("HTTP/1.1 2000 OK\r\n\r\n", "three digits");
    refused("HTTP/1.1 2x0 OK\r\n\r\n", "three digits");
    refused("HTTP/1.1 -20 OK\r\n\r\n", "three digits");
    refused("HTTP/1.1 099 OK\r\n\r\n", "below 100");
    refused("HTTP/1.1 000 OK\r\n\r\n", "below 100");
    refused("HTTP/1.1  200 OK\r\n\r\n", "three digits");
    refused("HTTP/1.1 200OK\r\n\r\n", "malformed status line");
    refused("HTTP/1.1\t200 OK\r\n\r\n", "malformed status line");
    refused("HTTP/1.10 200 OK\r\n\r\n", "HTTP version");
    refused("HTTP/2 200 OK\r\n\r\n", "HTTP version");
    refused("HTTP/2.0 200 OK\r\n\r\n", "HTTP version");
    refused("http/1.1 200 OK\r\n\r\n", "HTTP version");
    refused("ICY 200 OK\r\n\r\n", "HTTP version");
    refused("\r\nHTTP/1.1 200 OK\r\n\r\n", "HTTP version");
    refused("HTTP/1.1 200 O\x01K\r\n\r\n", "control character in the reason phrase");
    refused("HTTP/1.1 200 OK\rX\r\n\r\n", "a CR not followed by LF");
    refused("HTTP/1.1 200\rX\r\n\r\n", "a CR not followed by LF");
}

static void test_fields_refused(void **state)
{
    (void)state;
    refused("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "differ");
    refused("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "differ");
    refused("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", "not a plain decimal");
    refused("HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n", "not a plain decimal");
    refused("HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n", "not a plain decimal");
    refused("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", "overflows");
    /* invalid framing is refused even where it does not decide the framing */
    refused_m("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "HEAD", CG_EPROTO, "not a plain decimal");
    refused("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding in an HTTP/1.0 response");
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", "more than once");
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", "empty Transfer-Encoding");
    refused("HTTP/1.1 200 OK\r\nX: 1\r\n 2\r\n\r\n", "obsolete line folding");
    refused("HTTP/1.1 200 OK\r\n X: 1\r\n\r\n", "whitespace before the first field");
    refused("HTTP/1.1 200 OK\r\nX : 1\r\n\r\n", "whitespace between a field name and its colon");
    refused("HTTP/1.1 200 OK\r\nX Y: 1\r\n\r\n", "a bad character in a field name");
    refused("HTTP/1.1 200 OK\r\nX: a\x7f" "b\r\n\r\n", "control character in a field value");
    static const char nul[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n";
    const char *why;
    assert_int_equal(parse_n(nul, sizeof(nul) - 1, "GET", NULL, &why), CG_EPROTO);
    assert_non_null(strstr(why, "control character in a field value"));
    static const char nul_reason[] = "HTTP/1.1 200 O\0K\r\n\r\n";
    assert_int_equal(parse_n(nul_reason, sizeof(nul_reason) - 1, "GET", NULL, &why), CG_EPROTO);
    assert_non_null(strstr(why, "control character in the reason phrase"));
    refused("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "a CR not followed by LF");
}

/* ---- every split point ---- */

static void test_every_split(void **state)
{
    (void)state;
    static const struct {
        const char *msg, *method;
    } msgs[] = {
        {"HTTP/1.1 200 OK\r\nServer: test\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n", "GET"},
        {"HTTP/1.1 100 Continue\r\n\r\n", "POST"},
        {"HTTP/1.1 200\nTransfer-Encoding: chunked\nConnection: keep-alive\n\n", "GET"},
        {"HTTP/1.0 304 Not Modified\r\nETag: \"x\"\r\n\r\n", "GET"},
        {"HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT"},
        {"HTTP/1.1 204 \r\n\r\n", "HEAD"},
    };
    static struct cg_http_response full, part;
    for (size_t m = 0; m < CG_ARRAY_LEN(msgs); m++) {
        size_t n = strlen(msgs[m].msg);
        struct cg_slice meth = cg_slice_str(msgs[m].method);
        uint8_t *fb = dup_n(msgs[m].msg, n);
        const char *why = NULL;
        int rc = cg_http_response_parse(fb, n, meth, NULL, &full, &why);
        if (rc != (int)n) fail_msg("message %zu: rc %d (%s)", m, rc, why ? why : "-");
        size_t from = 0;
        for (size_t k = 0; k < n; k++) {
            uint8_t *b = dup_n(msgs[m].msg, k);
            rc = cg_http_response_parse(b, k, meth, NULL, &part, &why);
            if (rc != 0) fail_msg("message %zu, prefix %zu: rc %d (%s)", m, k, rc, why ? why : "-");
            if (cg_http_head_end(b, k, &from) != 0) fail_msg("message %zu: head_end early at %zu", m, k);
            free(b);
        }
        assert_int_equal(cg_http_head_end(fb, n, &from), n);
        uint8_t *b = dup_n(msgs[m].msg, n);
        assert_int_equal(cg_http_response_parse(b, n, meth, NULL, &part, &why), (int)n);
        assert_int_equal(part.status, full.status);
        assert_int_equal(part.minor_version, full.minor_version);
        assert_true(part.reason.len == full.reason.len && part.reason.ptr - b == full.reason.ptr - fb);
        assert_int_equal(part.n_headers, full.n_headers);
        for (size_t i = 0; i < full.n_headers; i++) {
            assert_true(part.headers[i].name.ptr - b == full.headers[i].name.ptr - fb);
            assert_true(part.headers[i].value.ptr - b == full.headers[i].value.ptr - fb);
            assert_true(part.headers[i].value.len == full.headers[i].value.len);
        }
        assert_int_equal(part.framing, full.framing);
        assert_true(part.content_length == full.content_length);
        assert_int_equal(part.keep_alive, full.keep_alive);
        free(b);
        free(fb);
    }
}

static void test_incomplete_version(void **state)
{
    (void)state;
    const char *why;
    /* short prefixes of a valid version wait; a wrong one is refused at once */
    assert_int_equal(parse_n("HTTP/1.", 7, "GET", NULL, &why), 0);
    assert_int_equal(parse_n("HTTP/1.1 2", 10, "GET", NULL, &why), 0);
    assert_int_equal(parse_n("HTTP/1.1 200 OK", 15, "GET", NULL, &why), 0);
    assert_int_equal(parse_n("HTTP/2", 6, "GET", NULL, &why), CG_EPROTO);
    assert_int_equal(parse_n("X", 1, "GET", NULL, &why), CG_EPROTO);
    assert_int_equal(parse_n("", 0, "GET", NULL, &why), 0);
    assert_int_equal(cg_http_response_parse(NULL, 0, cg_slice_str("GET"), NULL, &R, &why), 0);
}

/* ---- limits ---- */

static char big[128 * 1024];

static void test_limits(void **state)
{
    (void)state;
    const char *why;
    size_t len = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX: ");
    memset(big + len, 'a', sizeof(big) - len);
    assert_int_equal(parse_n(big, 64 * 1024 - 1, "GET", NULL, &why), 0);
    assert_int_equal(parse_n(big, 64 * 1024, "GET", NULL, &why), CG_ELIMIT);
    assert_non_null(strstr(why, "too large"));
    struct cg_http_limits l = {.max_head_bytes = 40, .max_headers = 2, .max_target_bytes = 1};
    const char *s = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n";
    assert_int_equal(parse_n(s, strlen(s), "GET", &l, &why), (int)strlen(s));
    s = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_int_equal(parse_n(s, strlen(s), "GET", &l, &why), CG_ELIMIT);
    assert_non_null(strstr(why, "too many header fields"));
    s = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 22222222222222\r\n\r\n";
    assert_int_equal(parse_n(s, strlen(s), "GET", &l, &why), CG_ELIMIT);
    assert_non_null(strstr(why, "header section too large"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing_length),
        cmocka_unit_test(test_framing_none),
        cmocka_unit_test(test_framing_tunnel),
        cmocka_unit_test(test_framing_chunked_and_close),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_status_line),
        cmocka_unit_test(test_status_refused),
        cmocka_unit_test(test_fields_refused),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_incomplete_version),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
