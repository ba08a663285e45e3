/* Field helpers (find, lists, hop-by-hop), the serializers and reason phrases, and the
 * incremental end-of-head search. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/http.h"

static struct cg_http_header hdr(const char *n, const char *v)
{
    struct cg_http_header h = {cg_slice_str(n), cg_slice_str(v)};
    return h;
}

static void test_header_find(void **state)
{
    (void)state;
    struct cg_http_header h[] = {hdr("Host", "a"), hdr("X-A", "1"), hdr("x-a", "2"), hdr("Content-Length", "5")};
    const struct cg_http_header *f = cg_http_header_find(h, 4, "x-A");
    assert_ptr_equal(f, &h[1]);
    assert_ptr_equal(cg_http_header_find(h, 4, "CONTENT-LENGTH"), &h[3]);
    assert_null(cg_http_header_find(h, 4, "X-B"));
    assert_null(cg_http_header_find(h, 4, "X"));
    assert_null(cg_http_header_find(h, 4, "Hosts"));
    assert_null(cg_http_header_find(h, 0, "Host"));
    assert_null(cg_http_header_find(h, 1, "X-A"));
    /* only ASCII letters fold: '-' (0x2d) is not CR (0x0d) */
    struct cg_http_header odd[] = {hdr("X\r", "1")};
    assert_null(cg_http_header_find(odd, 1, "X-"));
}

static void test_list_has(void **state)
{
    (void)state;
    assert_true(cg_http_list_has(cg_slice_str("close"), "close"));
    assert_true(cg_http_list_has(cg_slice_str("keep-alive, Upgrade"), "upgrade"));
    assert_true(cg_http_list_has(cg_slice_str(" a ,\tb\t, c "), "b"));
    assert_true(cg_http_list_has(cg_slice_str(",,a,,"), "a"));
    assert_true(cg_http_list_has(cg_slice_str("trailers, deflate;q=0.5"), "deflate"));
    assert_true(cg_http_list_has(cg_slice_str("deflate ; q=0.5"), "DEFLATE"));
    assert_false(cg_http_list_has(cg_slice_str("keep-alive"), "alive"));
    assert_false(cg_http_list_has(cg_slice_str("closed"), "close"));
    assert_false(cg_http_list_has(cg_slice_str("a b"), "a"));
    assert_false(cg_http_list_has(cg_slice_str(""), "a"));
    assert_false(cg_http_list_has(cg_slice_str(" , "), ""));
    assert_false(cg_http_list_has(cg_slice_make(NULL, 0), "x"));
}

static void test_hop_by_hop_fixed(void **state)
{
    (void)state;
    static const char *hop[] = {"Connection", "keep-alive", "PROXY-CONNECTION", "TE", "Transfer-Encoding", "Upgrade",
                                "Proxy-Authorization", "Proxy-Authenticate", "Trailer"};
    for (size_t i = 0; i < CG_ARRAY_LEN(hop); i++)
        if (!cg_http_is_hop_by_hop(cg_slice_str(hop[i]), NULL, 0)) fail_msg("%s is hop-by-hop", hop[i]);
    static const char *end[] = {"Host", "Content-Length", "Trailers", "Keep-Alives", "T", "X-Forwarded-For", "Cookie", ""};
    for (size_t i = 0; i < CG_ARRAY_LEN(end); i++)
        if (cg_http_is_hop_by_hop(cg_slice_str(end[i]), NULL, 0)) fail_msg("%s is end-to-end", end[i]);
}

static void test_hop_by_hop_connection(void **state)
{
    (void)state;
    struct cg_http_header h[] = {hdr("Host", "a"), hdr("connection", "close, X-Private"), hdr("X-Private", "s"),
                                 hdr("CONNECTION", "x-other ; p=1"), hdr("X-Ctx", "X-Not-Listed")};
    assert_true(cg_http_is_hop_by_hop(cg_slice_str("X-Private"), h, 5));
    assert_true(cg_http_is_hop_by_hop(cg_slice_str("x-PRIVATE"), h, 5));
    assert_true(cg_http_is_hop_by_hop(cg_slice_str("X-Other"), h, 5)); /* the second Connection field */
    assert_false(cg_http_is_hop_by_hop(cg_slice_str("X-Not-Listed"), h, 5)); /* not a Connection field */
    assert_false(cg_http_is_hop_by_hop(cg_slice_str("Host"), h, 5));
    assert_false(cg_http_is_hop_by_hop(cg_slice_str("X-Private"), h, 1)); /* only the fields given */
    assert_false(cg_http_is_hop_by_hop(cg_slice_str("X-Priv"), h, 5));
}

/* hop-by-hop through a parsed request, as the proxy will use it */
static void test_hop_by_hop_parsed(void **state)
{
    (void)state;
    static struct cg_http_request r;
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Trace\r\nX-Trace: 1\r\nX-Keep: 2\r\n\r\n";
    const char *why;
    assert_int_equal(cg_http_request_parse((const uint8_t *)s, strlen(s), NULL, &r, &why), (int)strlen(s));
    bool hop[4];
    for (size_t i = 0; i < r.n_headers; i++) hop[i] = cg_http_is_hop_by_hop(r.headers[i].name, r.headers, r.n_headers);
    assert_false(hop[0]);
    assert_true(hop[1]);
    assert_true(hop[2]);
    assert_false(hop[3]);
}

static void test_write(void **state)
{
    (void)state;
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_http_write_request_line(&b, cg_slice_str("GET"), cg_slice_str("/x?y=1")), 0);
    assert_int_equal(cg_http_write_status_line(&b, 502, cg_slice_str("")), 0);
    assert_int_equal(cg_http_write_status_line(&b, 200, cg_slice_str("Fine")), 0);
    assert_int_equal(cg_http_write_status_line(&b, 599, cg_slice_str("")), 0);
    assert_int_equal(cg_http_write_status_line(&b, 100, cg_slice_str("")), 0);
    assert_int_equal(cg_http_write_header(&b, cg_slice_str("X-A"), cg_slice_str("v 1\t2")), 0);
    assert_int_equal(cg_http_write_header(&b, cg_slice_str("X-Empty"), cg_slice_str("")), 0);
    assert_string_equal(cg_buf_str(&b), "GET /x?y=1 HTTP/1.1\r\n"
                                        "HTTP/1.1 502 Bad Gateway\r\n"
                                        "HTTP/1.1 200 Fine\r\n"
                                        "HTTP/1.1 599 \r\n"
                                        "HTTP/1.1 100 Continue\r\n"
                                        "X-A: v 1\t2\r\n"
                                        "X-Empty: \r\n");
    size_t len = b.len;
    /* nothing that could break a head is written (response splitting) */
    assert_int_equal(cg_http_write_header(&b, cg_slice_str("X-A"), cg_slice_str("a\r\nSet-Cookie: x")), CG_EINVAL);
    assert_int_equal(cg_http_write_header(&b, cg_slice_str("X-A"), cg_slice_str("a\nb")), CG_EINVAL);
    assert_int_equal(cg_http_write_header(&b, cg_slice_make("a\0b", 3), cg_slice_str("v")), CG_EINVAL);
    assert_int_equal(cg_http_write_header(&b, cg_slice_str("X-A"), cg_slice_make("a\0b", 3)), CG_EINVAL);
    assert_int_equal(cg_http_write_header(&b, cg_slice_str("X A"), cg_slice_str("v")), CG_EINVAL);
    assert_int_equal(cg_http_write_header(&b, cg_slice_str("X:"), cg_slice_str("v")), CG_EINVAL);
    assert_int_equal(cg_http_write_header(&b, cg_slice_str(""), cg_slice_str("v")), CG_EINVAL);
    assert_int_equal(cg_http_write_request_line(&b, cg_slice_str("GET"), cg_slice_str("/a b")), CG_EINVAL);
    assert_int_equal(cg_http_write_request_line(&b, cg_slice_str("GET"), cg_slice_str("")), CG_EINVAL);
    assert_int_equal(cg_http_write_request_line(&b, cg_slice_str("G T"), cg_slice_str("/")), CG_EINVAL);
    assert_int_equal(cg_http_write_request_line(&b, cg_slice_str(""), cg_slice_str("/")), CG_EINVAL);
    assert_int_equal(cg_http_write_status_line(&b, 99, cg_slice_str("")), CG_EINVAL);
    assert_int_equal(cg_http_write_status_line(&b, 1000, cg_slice_str("")), CG_EINVAL);
    assert_int_equal(cg_http_write_status_line(&b, 200, cg_slice_str("O\r\nK")), CG_EINVAL);
    assert_int_equal(b.len, len);
    cg_buf_cleanup(&b);
    /* a capped buffer reports the cap */
    cg_buf_init(&b, 8);
    assert_int_equal(cg_http_write_header(&b, cg_slice_str("Name"), cg_slice_str("value")), CG_ELIMIT);
    cg_buf_cleanup(&b);
}

/* What the writers produce parses back to the same request. */
static void test_write_round_trip(void **state)
{
    (void)state;
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_http_write_request_line(&b, cg_slice_str("POST"), cg_slice_str("http://h:8080/p")), 0);
    assert_int_equal(cg_http_write_header(&b, cg_slice_str("Host"), cg_slice_str("h:8080")), 0);
    assert_int_equal(cg_http_write_header(&b, cg_slice_str("Content-Length"), cg_slice_str("3")), 0);
    assert_int_equal(cg_buf_append(&b, "\r\n", 2), 0);
    static struct cg_http_request r;
    const char *why;
    assert_int_equal(cg_http_request_parse(b.ptr, b.len, NULL, &r, &why), (int)b.len);
    assert_int_equal(r.target_form, CG_HTTP_TARGET_ABSOLUTE);
    assert_true(r.content_length == 3);
    cg_buf_cleanup(&b);
}

static void test_reason(void **state)
{
    (void)state;
    static const int known[] = {100, 101, 200, 201, 202, 203, 204, 205, 206, 301, 302, 303, 304, 305, 307, 308,
                                400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415,
                                416, 417, 421, 422, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504};
    for (size_t i = 0; i < CG_ARRAY_LEN(known); i++)
        if (cg_http_reason(known[i])[0] == 0) fail_msg("no reason for %d", known[i]);
    assert_string_equal(cg_http_reason(502), "Bad Gateway");
    assert_string_equal(cg_http_reason(504), "Gateway Timeout");
    assert_string_equal(cg_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(cg_http_reason(0), "");
    assert_string_equal(cg_http_reason(299), "");
    assert_string_equal(cg_http_reason(-1), "");
}

static void test_head_end(void **state)
{
    (void)state;
    struct {
        const char *s;
        size_t end;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", 27},
        {"GET / HTTP/1.1\nHost: a\n\nbody", 24},
        {"GET / HTTP/1.1\r\nHost: a\n\r\n", 26},
        {"\r\n\r\nGET / HTTP/1.0\r\n\r\n", 22},
        {"\n\nGET / HTTP/1.0\n\n", 18},
        {"HTTP/1.1 200 OK\r\n\r\n", 19},
        {"GET / HTTP/1.1\r\nHost: a\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: a\r\n\r", 0},
        {"GET / HTTP/1.1\r\nX: \r\r\n", 0},
        {"\r\n\r\n", 0},
        {"", 0},
    };
    for (size_t i = 0; i < CG_ARRAY_LEN(cases); i++) {
        const uint8_t *s = (const uint8_t *)cases[i].s;
        size_t n = strlen(cases[i].s), from = 0;
        if (cg_http_head_end(s, n, &from) != cases[i].end) fail_msg("case %zu: not %zu", i, cases[i].end);
        /* byte by byte: the same answer, and each byte looked at a bounded number of times */
        from = 0;
        size_t found = 0;
        for (size_t k = 0; k <= n && !found; k++) {
            found = cg_http_head_end(s, k, &from);
            /* linear: what was searched is not searched again (but for leading empty lines) */
            if (!found && s[0] != '\r' && s[0] != '\n' && from + 2 < k) fail_msg("case %zu: from %zu at %zu", i, from, k);
            if (found) assert_int_equal(k, cases[i].end);
        }
        assert_int_equal(found, cases[i].end);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_find),
        cmocka_unit_test(test_list_has),
        cmocka_unit_test(test_hop_by_hop_fixed),
        cmocka_unit_test(test_hop_by_hop_connection),
        cmocka_unit_test(test_hop_by_hop_parsed),
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_write_round_trip),
        cmocka_unit_test(test_reason),
        cmocka_unit_test(test_head_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
