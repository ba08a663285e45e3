/* cg_http_chunked_scan: accepted bodies fed whole, split at every byte boundary and one byte at a
 * time (all must agree), and every refusal, also at every split point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/http.h"

struct result {
    int rc;
    const char *why;
    size_t consumed;
    bool done;
    struct cg_buf decoded;
};

/* Feeds s[0..n) to a fresh scanner in pieces ending at cuts[] (ascending, < n), each from an
 * exact-size heap copy. Stops at the first error or when done. */
static void feed(const char *s, size_t n, const size_t *cuts, size_t n_cuts, size_t max_trailer, struct result *res)
{
    struct cg_http_chunked c;
    cg_http_chunked_init(&c);
    if (max_trailer) c.max_trailer_bytes = max_trailer;
    cg_buf_init(&res->decoded, 0);
    res->rc = 0;
    res->why = NULL;
    res->consumed = 0;
    res->done = false;
    size_t at = 0;
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t to = i < n_cuts ? cuts[i] : n;
        uint8_t *piece = malloc(to - at + 1);
        assert_non_null(piece);
        memcpy(piece, s + at, to - at);
        size_t used = 0;
        bool done = false;
        res->rc = cg_http_chunked_scan(&c, piece, to - at, &used, &done, &res->decoded, &res->why);
        free(piece);
        assert_true(used <= to - at);
        res->consumed += used;
        if (res->rc < 0) return;
        if (done) {
            res->done = true;
            /* once done, more input is not body */
            size_t more = 0;
            bool d2 = false;
            assert_int_equal(cg_http_chunked_scan(&c, (const uint8_t *)"x", 1, &more, &d2, NULL, NULL), 0);
            assert_int_equal(more, 0);
            assert_true(d2);
            return;
        }
        assert_int_equal(used, to - at); /* not done: all bytes belong to the body */
        at = to;
    }
}

static void same(const struct result *a, const struct result *b, const char *what, size_t k)
{
    if (a->rc != b->rc || a->consumed != b->consumed || a->done != b->done ||
        !cg_slice_eq(cg_buf_slice(&a->decoded), cg_buf_slice(&b->decoded)) ||
        (a->why != b->why && (!a->why || !b->why || strcmp(a->why, b->why))))
        fail_msg("%s (split %zu): rc %d/%d consumed %zu/%zu done %d/%d why %s/%s", what, k, a->rc, b->rc, a->consumed,
                 b->consumed, a->done, b->done, a->why ? a->why : "-", b->why ? b->why : "-");
}

/* Scans s whole, then split at every point, then byte by byte; all must agree. */
static void scan_all_ways(const char *s, size_t n, size_t max_trailer, struct result *whole)
{
    feed(s, n, NULL, 0, max_trailer, whole);
    struct result r;
    for (size_t k = 0; k <= n; k++) {
        feed(s, n, &k, 1, max_trailer, &r);
        same(whole, &r, s, k);
        cg_buf_cleanup(&r.decoded);
    }
    size_t *cuts = malloc((n + 1) * sizeof(*cuts));
    for (size_t k = 0; k < n; k++) cuts[k] = k + 1;
    feed(s, n, cuts, n ? n - 1 : 0, max_trailer, &r);
    same(whole, &r, s, SIZE_MAX);
    cg_buf_cleanup(&r.decoded);
    free(cuts);
}

static void accepted(const char *s, const char *payload, size_t body_len)
{
    struct result r;
    size_t n = strlen(s);
    scan_all_ways(s, n, 0, &r);
    if (r.rc != 0) fail_msg("'%s': rc %d (%s)", s, r.rc, r.why);
    assert_true(r.done);
    assert_int_equal(r.consumed, body_len ? body_len : n);
    if (!cg_slice_eq_str(cg_buf_slice(&r.decoded), payload))
        fail_msg("'%s': decoded '%s'", s, cg_buf_str(&r.decoded));
    cg_buf_cleanup(&r.decoded);
}

static void refused_n(const char *s, size_t n, size_t max_trailer, int code, const char *phrase)
{
    struct result r;
    scan_all_ways(s, n, max_trailer, &r);
    if (r.rc != code) fail_msg("'%s': rc %d, expected %d", s, r.rc, code);
    if (!r.why || !strstr(r.why, phrase)) fail_msg("'%s': why '%s' lacks '%s'", s, r.why ? r.why : "-", phrase);
    assert_false(r.done);
    cg_buf_cleanup(&r.decoded);
}
static void refused(const char *s, const char *phrase) { refused_n(s, strlen(s), 0, CG_EPROTO, phrase); }

/* ---- accepted ---- */

static void test_simple(void **state)
{
    (void)state;
    accepted("5\r\nhello\r\n0\r\n\r\n", "hello", 0);
    accepted("0\r\n\r\n", "", 0);
    accepted("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 0);
    accepted("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij", 0);
    accepted("0005\r\nhello\r\n000\r\n\r\n", "hello", 0);
    accepted("0000000000000005\r\nhello\r\n0\r\n\r\n", "hello", 0); /* 16 digits */
    accepted("2\r\n\r\n\r\n0\r\n\r\n", "\r\n", 0);                  /* data may hold anything */
}

static void test_extensions(void **state)
{
    (void)state;
    accepted("5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello", 0);
    accepted("5;a;b=\"x;y\\\"z\"\r\nhello\r\n0\r\n\r\n", "hello", 0);
    accepted("5 ;a\r\nhello\r\n0\t \t;b\r\n\r\n", "hello", 0); /* BWS before ';' */
    accepted("5;\xc3\xa9\r\nhello\r\n0\r\n\r\n", "hello", 0);
}

static void test_trailers(void **state)
{
    (void)state;
    accepted("5\r\nhello\r\n0\r\nX-Sum: abc\r\nY:\r\nZ: a \t b\r\n\r\n", "hello", 0);
    refused("0\r\nX: 1\n\n", "a bare LF in the trailer section");
}

/* Chunked bodies are forwarded as they came, so every line must end in CRLF: a backend that
 * reads a bare LF differently would see other chunk boundaries (chunked.c). */
static void test_bare_lf_lines(void **state)
{
    (void)state;
    refused("5\nhello\r\n0\r\n\r\n", "a bare LF ending a chunk size line");
    refused("5;x\nhello\r\n0\r\n\r\n", "a bare LF ending a chunk size line");
    refused("5\r\nhello\r\n0\n\r\n", "a bare LF ending a chunk size line");
    refused("5\r\nhello\r\n0\r\n\n", "a bare LF in the trailer section");
    refused("5\r\nhello\r\n0\r\nT: 1\n\r\n", "a bare LF in the trailer section");
}

static void test_stops_at_end(void **state)
{
    (void)state;
    const char *s = "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    accepted(s, "hello", strlen("5\r\nhello\r\n0\r\n\r\n"));
}

static void test_max_size(void **state)
{
    (void)state;
    /* the largest size is accepted; the data then simply never ends in this input */
    struct result r;
    const char *s = "ffffffffffffffff\r\nabc";
    feed(s, strlen(s), NULL, 0, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_false(r.done);
    assert_int_equal(r.consumed, strlen(s));
    assert_true(cg_slice_eq_str(cg_buf_slice(&r.decoded), "abc"));
    cg_buf_cleanup(&r.decoded);
}

static void test_no_decode_and_done_state(void **state)
{
    (void)state;
    struct cg_http_chunked c;
    cg_http_chunked_init(&c);
    assert_int_equal(c.max_trailer_bytes, 16 * 1024);
    const char *s = "3\r\nabc\r\n0\r\n\r\nXYZ";
    size_t used;
    bool done;
    const char *why = NULL;
    assert_int_equal(cg_http_chunked_scan(&c, (const uint8_t *)s, strlen(s), &used, &done, NULL, &why), 0);
    assert_true(done);
    assert_int_equal(used, strlen(s) - 3);
    assert_int_equal(cg_http_chunked_scan(&c, (const uint8_t *)"XYZ", 3, &used, &done, NULL, &why), 0);
    assert_true(done);
    assert_int_equal(used, 0);
    /* an empty scan before the end is fine and not done */
    cg_http_chunked_init(&c);
    assert_int_equal(cg_http_chunked_scan(&c, (const uint8_t *)"", 0, &used, &done, NULL, &why), 0);
    assert_int_equal(cg_http_chunked_scan(&c, NULL, 0, &used, &done, NULL, &why), 0);
    assert_false(done);
    assert_int_equal(used, 0);
    /* max_trailer_bytes of 0 means the default */
    c.max_trailer_bytes = 0;
    assert_int_equal(cg_http_chunked_scan(&c, (const uint8_t *)"0\r\nA: b\r\n\r\n", 11, &used, &done, NULL, &why), 0);
    assert_true(done);
}

static void test_decode_cap(void **state)
{
    (void)state;
    struct cg_http_chunked c;
    cg_http_chunked_init(&c);
    struct cg_buf out;
    cg_buf_init(&out, 4);
    size_t used;
    bool done;
    const char *why = NULL;
    int rc = cg_http_chunked_scan(&c, (const uint8_t *)"5\r\nhello\r\n", 10, &used, &done, &out, &why);
    assert_int_equal(rc, CG_ELIMIT);
    assert_non_null(strstr(why, "decoded body"));
    cg_buf_cleanup(&out);
}

/* ---- refused ---- */

static void test_data_not_ended_by_crlf(void **state)
{
    (void)state;
    refused("5\r\nhelloX\r\n0\r\n\r\n", "a chunk not ended by CRLF");
    refused("5\r\nhello\n0\r\n\r\n", "a chunk not ended by CRLF"); /* bare LF after data: refused */
    refused("5\r\nhello\rX\n0\r\n\r\n", "a chunk not ended by CRLF");
    refused("5\r\nhello world\r\n0\r\n\r\n", "a chunk not ended by CRLF"); /* size too small */
    refused("5\r\nhello\r\r\n", "a chunk not ended by CRLF");
}

static void test_size_not_hex(void **state)
{
    (void)state;
    static const char *bad[] = {"g\r\n", "\r\n", "\n", "-5\r\n", "+5\r\n", " 5\r\n", ";x\r\n", "5x\r\n", "0x5\r\n", "5.0\r\n"};
    for (size_t i = 0; i < CG_ARRAY_LEN(bad); i++) refused(bad[i], "a chunk size that is not hex");
}

static void test_size_overflow(void **state)
{
    (void)state;
    refused("10000000000000000\r\n", "overflows 64 bits");  /* 17 digits */
    refused("00000000000000005\r\n", "overflows 64 bits");  /* 17 digits, leading zeros count */
    refused("fffffffffffffffffffff\r\n", "overflows 64 bits");
}

static void test_size_line(void **state)
{
    (void)state;
    refused("5 \r\nhello\r\n0\r\n\r\n", "whitespace after a chunk size");
    refused("5 x\r\n", "whitespace after a chunk size");
    refused("5\rX", "a CR not followed by LF in a chunk size line");
    refused("5;a\rb\r\n", "a CR not followed by LF in a chunk size line");
    refused("5;a\x01\r\n", "a control character in a chunk extension");
    refused("5;a\x7f\r\n", "a control character in a chunk extension");
    static const char nul[] = "5;a\0b\r\nhello\r\n";
    refused_n(nul, sizeof(nul) - 1, 0, CG_EPROTO, "a control character in a chunk extension");
    /* the size line with its extensions is capped at 4 KiB */
    static char line[6000];
    memcpy(line, "1;", 2);
    memset(line + 2, 'a', 4094);
    memcpy(line + 4096, "\r\nx\r\n0\r\n\r\n", 11);
    refused_n(line, strlen(line), 0, CG_ELIMIT, "chunk size line too long"); /* 4098 with CRLF: over */
    line[4094] = '\r';
    line[4095] = '\n';
    line[4096] = 'x';
    memcpy(line + 4097, "\r\n0\r\n\r\n", 8);
    accepted(line, "x", 0); /* 4096 bytes with its CRLF: the most allowed */
    line[4093] = 'a';
    line[4094] = 'a';
    line[4095] = '\r';
    line[4096] = '\n';
    refused_n(line, strlen(line), 0, CG_ELIMIT, "chunk size line too long"); /* 4097 */
}

static void test_trailer_refused(void **state)
{
    (void)state;
    refused("0\r\nX: 1\r\n 2\r\n\r\n", "obsolete line folding");
    refused("0\r\n X: 1\r\n\r\n", "obsolete line folding");
    refused("0\r\nX : 1\r\n\r\n", "whitespace between a field name and its colon");
    refused("0\r\nX Y: 1\r\n\r\n", "whitespace between a field name and its colon");
    refused("0\r\nX(: 1\r\n\r\n", "a bad character in a trailer field name");
    refused("0\r\n:1\r\n\r\n", "a bad character in a trailer field name");
    refused("0\r\nX\r\n\r\n", "a bad character in a trailer field name");
    refused("0\r\nX: a\x01\r\n\r\n", "a control character in a trailer field value");
    refused("0\r\nX: a\rb\r\n\r\n", "a CR not followed by LF in the trailer section");
    refused("0\r\n\rX", "a CR not followed by LF in the trailer section");
    static const char nul[] = "0\r\nX: a\0\r\n\r\n";
    refused_n(nul, sizeof(nul) - 1, 0, CG_EPROTO, "a control character in a trailer field value");
    /* the cap */
    const char *t = "0\r\nX-Long: 0123456789\r\n\r\n"; /* trailer section: 22 bytes */
    refused_n(t, strlen(t), 21, CG_ELIMIT, "trailer section too large");
    struct result r;
    feed(t, strlen(t), NULL, 0, 22, &r);
    assert_int_equal(r.rc, 0);
    assert_true(r.done);
    cg_buf_cleanup(&r.decoded);
    static char big[20000];
    memcpy(big, "0\r\nX: ", 6);
    memset(big + 6, 'a', sizeof(big) - 7);
    refused_n(big, strlen(big), 0, CG_ELIMIT, "trailer section too large"); /* default 16 KiB, never ends */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),
        cmocka_unit_test(test_extensions),
        cmocka_unit_test(test_trailers),
        cmocka_unit_test(test_bare_lf_lines),
        cmocka_unit_test(test_stops_at_end),
        cmocka_unit_test(test_max_size),
        cmocka_unit_test(test_no_decode_and_done_state),
        cmocka_unit_test(test_decode_cap),
        cmocka_unit_test(test_data_not_ended_by_crlf),
        cmocka_unit_test(test_size_not_hex),
        cmocka_unit_test(test_size_overflow),
        cmocka_unit_test(test_size_line),
        cmocka_unit_test(test_trailer_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
