/* multipart/form-data (http/multipart.c): the boundary from a Content-Type (quoted or not, and
 * every refusal), and bodies as browsers and curl send them -- fields and files, preamble and
 * epilogue, CRLF inside data, "--boundary" inside data that is not a delimiter -- and every
 * refusal: no opening or closing delimiter, truncated bodies, bad part heads, too many parts, a
 * head over the cap. Bodies are parsed from exact-size heap copies so that ASan sees any read past
 * the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "http/multipart.h"

/* ---- helpers ---- */

static struct cg_multipart mp;
static uint8_t *copy;

static int parse_n(const char *body, size_t n, const char *boundary, const char **why)
{
    free(copy);
    copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, body, n);
    *why = NULL;
    return cg_multipart_parse(copy, n, cg_slice_str(boundary), &mp, why);
}

static int parse(const char *body, const char *boundary, const char **why)
{
    return parse_n(body, strlen(body), boundary, why);
}

static void assert_slice(struct cg_slice s, const char *want)
{
    if (!cg_slice_eq_str(s, want)) fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, (const char *)s.ptr, want);
}

static void check_refused(int rc, int code, const char *why, const char *phrase)
{
    if (rc != code) fail_msg("rc %d, expected %d (why: %s)", rc, code, why ? why : "(null)");
    assert_non_null(why);
    if (!strstr(why, phrase)) fail_msg("why \"%s\" lacks \"%s\"", why, phrase);
}
/* a macro, so that the call has set why before it is read */
#define assert_refused(call, code, why, phrase)                                                   \
    do {                                                                                          \
        int rc_ = (call);                                                                         \
        check_refused(rc_, code, why, phrase);                                                    \
    } while (0)

static int teardown(void **state)
{
    (void)state;
    free(copy);
    copy = NULL;
    return 0;
}

/* ---- the boundary ---- */

static int boundary(const char *ct, struct cg_slice *b, const char **why)
{
    *why = NULL;
    return cg_multipart_boundary(cg_slice_str(ct), b, why);
}

static void test_boundary_forms(void **state)
{
    (void)state;
    struct cg_slice b;
    const char *why;
    assert_int_equal(boundary("multipart/form-data; boundary=----WebKitFormBoundaryx7Yz", &b, &why), 0);
    assert_slice(b, "----WebKitFormBoundaryx7Yz");
    assert_int_equal(boundary("Multipart/Form-Data;boundary=abc", &b, &why), 0);
    assert_slice(b, "abc");
    assert_int_equal(boundary("multipart/form-data; charset=utf-8; boundary=\"a b:c\"", &b, &why), 0);
    assert_slice(b, "a b:c");
    /* no whitespace around '=' (RFC 9110 5.6.6) */
    assert_int_equal(boundary("multipart/form-data; boundary = x", &b, &why), CG_EPROTO);
}

static void test_boundary_forms_ows(void **state)
{
    (void)state;
    struct cg_slice b;
    const char *why;
    /* OWS around ';' (RFC 9110 5.6.6); none is allowed around '=' */
    assert_int_equal(boundary("  multipart/form-data ;boundary=x ; charset=utf-8", &b, &why), 0);
    assert_slice(b, "x");
    assert_int_equal(boundary("multipart/form-data; boundary=a=b?c/d:e;", &b, &why), 0);
    assert_slice(b, "a=b?c/d:e");
    /* 70 characters is the most RFC 2046 allows */
    char ct[128] = "multipart/form-data; boundary=";
    size_t at = strlen(ct);
    memset(ct + at, 'x', 70);
    ct[at + 70] = '\0';
    assert_int_equal(boundary(ct, &b, &why), 0);
    assert_int_equal(b.len, 70);
}

static void test_boundary_refused(void **state)
{
    (void)state;
    struct cg_slice b;
    const char *why;
    assert_refused(boundary("application/json", &b, &why), CG_EPROTO, why, "not multipart/form-data");
    assert_refused(boundary("multipart/mixed; boundary=x", &b, &why), CG_EPROTO, why, "not multipart/form-data");
    assert_refused(boundary("", &b, &why), CG_EPROTO, why, "not multipart/form-data");
    why = NULL;
    assert_int_equal(cg_multipart_boundary(cg_slice_make(NULL, 0), &b, &why), CG_EPROTO); /* no Content-Type */
    assert_non_null(why);
    assert_refused(boundary("multipart/form-data", &b, &why), CG_EPROTO, why, "without a boundary");
    assert_refused(boundary("multipart/form-data; charset=utf-8", &b, &why), CG_EPROTO, why, "without a boundary");
    assert_refused(boundary("multipart/form-data; boundary=\"\"", &b, &why), CG_EPROTO, why, "empty or longer");
    assert_refused(boundary("multipart/form-data; boundary=a; boundary=b", &b, &why), CG_EPROTO, why,
                   "two boundary");
    assert_refused(boundary("multipart/form-data; boundary=\"a\\\"b\"", &b, &why), CG_EPROTO, why, "bad character");
    assert_refused(boundary("multipart/form-data; boundary=\"ab \"", &b, &why), CG_EPROTO, why, "ends with a space");
    assert_refused(boundary("multipart/form-data; boundary=\"abc", &b, &why), CG_EPROTO, why, "malformed parameter");
    assert_refused(boundary("multipart/form-data; boundary", &b, &why), CG_EPROTO, why, "malformed parameter");
    assert_refused(boundary("multipart/form-data; boundary=a b", &b, &why), CG_EPROTO, why, "malformed parameter");
    assert_refused(boundary("multipart/form-data x; boundary=a", &b, &why), CG_EPROTO, why, "not multipart");
    char ct[128] = "multipart/form-data; boundary=";
    size_t at = strlen(ct);
    memset(ct + at, 'x', 71);
    ct[at + 71] = '\0';
    assert_refused(boundary(ct, &b, &why), CG_EPROTO, why, "longer than 70");
}

/* ---- bodies ---- */

#define B "----cgB0und"
#define DELIM "--" B "\r\n"
#define CLOSE "--" B "--"

static void test_fields_and_file(void **state)
{
    (void)state;
    const char *why;
    const char body[] = DELIM
        "Content-Disposition: form-data; name=\"name\"\r\n"
        "\r\n"
        "partner\r\n" DELIM
        "Content-Disposition: form-data; name=\"file\"; filename=\"client.p12\"\r\n"
        "Content-Type: application/x-pkcs12\r\n"
        "\r\n"
        "\x30\x82\r\n\x00\x01--" B "x\r\n" DELIM /* a CRLF, a NUL and a non-delimiter in the file */
        "content-disposition: FORM-DATA; name=password\r\n"
        "\r\n"
        "\r\n" /* an empty value */
        CLOSE "\r\n";
    assert_int_equal(parse_n(body, sizeof(body) - 1, B, &why), 0);
    assert_int_equal(mp.n, 3);
    assert_slice(mp.parts[0].name, "name");
    assert_int_equal(mp.parts[0].filename.len, 0);
    assert_int_equal(mp.parts[0].content_type.len, 0);
    assert_slice(mp.parts[0].data, "partner");
    assert_slice(mp.parts[1].name, "file");
    assert_slice(mp.parts[1].filename, "client.p12");
    assert_slice(mp.parts[1].content_type, "application/x-pkcs12");
    const char file[] = "\x30\x82\r\n\x00\x01--" B "x";
    assert_int_equal(mp.parts[1].data.len, sizeof(file) - 1);
    assert_memory_equal(mp.parts[1].data.ptr, file, sizeof(file) - 1);
    assert_slice(mp.parts[2].name, "password");
    assert_int_equal(mp.parts[2].data.len, 0);
}

static void test_preamble_epilogue_padding(void **state)
{
    (void)state;
    const char *why;
    /* a preamble before the first delimiter, transport padding after each, an epilogue */
    assert_int_equal(parse("This is a preamble.\r\n--" B " \t\r\n"
                           "Content-Disposition: form-data; name=a\r\n\r\n1\r\n--" B "  \r\n"
                           "Content-Disposition: form-data; name=b\r\n\r\n2\r\n--" B "--  \r\nepilogue --" B "\r\n",
                           B, &why),
                     0);
    assert_int_equal(mp.n, 2);
    assert_slice(mp.parts[0].data, "1");
    assert_slice(mp.parts[1].data, "2");
    /* no CRLF at the end at all (curl adds one; it is optional) */
    assert_int_equal(parse(DELIM "Content-Disposition: form-data; name=a\r\n\r\nx\r\n" CLOSE, B, &why), 0);
    assert_int_equal(mp.n, 1);
    /* a form with no parts is well formed */
    assert_int_equal(parse(CLOSE "\r\n", B, &why), 0);
    assert_int_equal(mp.n, 0);
}

static void test_boundary_inside_data(void **state)
{
    (void)state;
    const char *why;
    /* "--boundary" without the CRLF before it, and "CRLF--boundary" followed by other bytes, are data */
    assert_int_equal(parse(DELIM "Content-Disposition: form-data; name=f\r\n\r\n"
                           "a--" B "\r\nb\r\n--" B "c\r\n--" B "-x\r\n--" B " y\r\n" CLOSE,
                           B, &why),
                     0);
    assert_int_equal(mp.n, 1);
    assert_slice(mp.parts[0].data, "a--" B "\r\nb\r\n--" B "c\r\n--" B "-x\r\n--" B " y");
    /* a boundary that is a prefix of another delimiter-like line */
    assert_int_equal(parse("--ab\r\nContent-Disposition: form-data; name=f\r\n\r\n\r\n--abc\r\n\r\n--ab--", "ab", &why),
                     0);
    assert_slice(mp.parts[0].data, "\r\n--abc\r\n");
    /* data that ends in CR or CRLF keeps it: only the delimiter's own CRLF is removed */
    assert_int_equal(parse(DELIM "Content-Disposition: form-data; name=f\r\n\r\nx\r\r\n\r\n" CLOSE, B, &why), 0);
    assert_slice(mp.parts[0].data, "x\r\r\n");
}

static void test_quoted_names(void **state)
{
    (void)state;
    const char *why;
    assert_int_equal(parse(DELIM "Content-Disposition: form-data; name=\"a \\\"q\\\" b\"; filename=\"c:\\\\x;y.pem\"\r\n"
                           "\r\nv\r\n" CLOSE,
                           B, &why),
                     0);
    /* returned as sent, backslashes included */
    assert_slice(mp.parts[0].name, "a \\\"q\\\" b");
    assert_slice(mp.parts[0].filename, "c:\\\\x;y.pem");
    /* UTF-8 in a filename (obs-text), unknown parameters ignored, filename* ignored */
    assert_int_equal(parse(DELIM "Content-Disposition: form-data;name=\"f\";filename=\"\xc3\xa9.p12\"; "
                           "filename*=UTF-8''x; size=3\r\nX-Other: 1\r\n\r\nv\r\n" CLOSE,
                           B, &why),
                     0);
    assert_slice(mp.parts[0].name, "f");
    assert_slice(mp.parts[0].filename, "\xc3\xa9.p12");
}

static void test_missing_delimiters(void **state)
{
    (void)state;
    const char *why;
    assert_refused(parse("", B, &why), CG_EPROTO, why, "no opening boundary");
    assert_refused(parse("no delimiter here", B, &why), CG_EPROTO, why, "no opening boundary");
    assert_refused(parse("x--" B "\r\n", B, &why), CG_EPROTO, why, "no opening boundary");
    assert_refused(parse("--" B "x\r\n", B, &why), CG_EPROTO, why, "no opening boundary");
    assert_refused(parse("--" B, B, &why), CG_EPROTO, why, "no opening boundary");
    const char *full = DELIM "Content-Disposition: form-data; name=a\r\n\r\nvalue\r\n" CLOSE "\r\n";
    /* every truncation short of the close delimiter is refused, none reads past the end */
    size_t n = strlen(full);
    size_t close_end = n - 2;
    for (size_t i = 0; i < close_end; i++) {
        int rc = parse_n(full, i, B, &why);
        if (rc != CG_EPROTO) fail_msg("a body cut at %zu: rc %d", i, rc);
        assert_non_null(why);
    }
    assert_int_equal(parse_n(full, close_end, B, &why), 0);
    assert_refused(parse(DELIM "Content-Disposition: form-data; name=a\r\n\r\nv\r\n" DELIM, B, &why), CG_EPROTO, why,
                   "no closing boundary");
    assert_refused(parse(DELIM "Content-Disposition: form-data; name=a\r\n\r\nv\r\n--" B "-", B, &why), CG_EPROTO,
                   why, "no closing boundary");
}

static void test_bad_heads(void **state)
{
    (void)state;
    const char *why;
    assert_refused(parse(DELIM "\r\nv\r\n" CLOSE, B, &why), CG_EPROTO, why, "without Content-Disposition");
    assert_refused(parse(DELIM "Content-Type: text/plain\r\n\r\nv\r\n" CLOSE, B, &why), CG_EPROTO, why,
                   "without Content-Disposition");
    assert_refused(parse(DELIM "Content-Disposition: attachment; name=a\r\n\r\nv\r\n" CLOSE, B, &why), CG_EPROTO, why,
                   "form-data");
    assert_refused(parse(DELIM "Content-Disposition: form-data; filename=a\r\n\r\nv\r\n" CLOSE, B, &why), CG_EPROTO,
                   why, "has no name");
    assert_refused(parse(DELIM "Content-Disposition: form-data; name=a; name=b\r\n\r\nv\r\n" CLOSE, B, &why), CG_EPROTO,
                   why, "repeated");
    assert_refused(parse(DELIM "Content-Disposition: form-data; name=a\r\nContent-Disposition: form-data; name=b\r\n"
                               "\r\nv\r\n" CLOSE,
                         B, &why),
                   CG_EPROTO, why, "two Content-Disposition");
    assert_refused(parse(DELIM "Content-Disposition: form-data; name=\"a\r\n\r\nv\r\n" CLOSE, B, &why), CG_EPROTO, why,
                   "malformed Content-Disposition");
    assert_refused(parse(DELIM "Content-Disposition: form-data; name=a b\r\n\r\nv\r\n" CLOSE, B, &why), CG_EPROTO,
                   why, "malformed Content-Disposition");
    assert_refused(parse(DELIM "Content-Disposition: form-data; name=a\nX: 1\r\n\r\nv\r\n" CLOSE, B, &why), CG_EPROTO,
                   why, "bare LF");
    assert_refused(parse(DELIM "Content-Disposition : form-data; name=a\r\n\r\nv\r\n" CLOSE, B, &why), CG_EPROTO, why,
                   "Name: value");
    assert_refused(parse(DELIM "Content-Disposition: form-data;\r\n name=a\r\n\r\nv\r\n" CLOSE, B, &why), CG_EPROTO,
                   why, "folding");
    assert_refused(parse(DELIM "Content-Disposition: form-data; name=a\r\nX: a\x01z\r\n\r\nv\r\n" CLOSE, B, &why),
                   CG_EPROTO, why, "control character");
    /* a head that never ends with an empty line before the next delimiter */
    assert_refused(parse(DELIM "Content-Disposition: form-data; name=a\r\n" DELIM "Content-Disposition: form-data; "
                               "name=b\r\n\r\nv\r\n" CLOSE,
                         B, &why),
                   CG_EPROTO, why, "empty line");
}

static void test_limits(void **state)
{
    (void)state;
    const char *why;
    struct cg_buf b;
    cg_buf_init(&b, 0);
    for (int i = 0; i < CG_MULTIPART_MAX_PARTS; i++)
        assert_int_equal(cg_buf_printf(&b, DELIM "Content-Disposition: form-data; name=f%d\r\n\r\n%d\r\n", i, i), 0);
    size_t sixteen = b.len;
    assert_int_equal(cg_buf_append_str(&b, CLOSE), 0);
    assert_int_equal(parse_n(cg_buf_str(&b), b.len, B, &why), 0);
    assert_int_equal(mp.n, CG_MULTIPART_MAX_PARTS);
    assert_slice(mp.parts[15].name, "f15");
    assert_slice(mp.parts[15].data, "15");
    b.len = sixteen;
    assert_int_equal(cg_buf_append_str(&b, DELIM "Content-Disposition: form-data; name=x\r\n\r\nx\r\n" CLOSE), 0);
    assert_refused(parse_n(cg_buf_str(&b), b.len, B, &why), CG_ELIMIT, why, "more than 16 parts");

    /* a head of exactly 4096 bytes passes; one more byte is refused, however long the part */
    cg_buf_reset(&b);
    const char *cd = "Content-Disposition: form-data; name=a\r\nX-Pad: ";
    assert_int_equal(cg_buf_append_str(&b, DELIM), 0);
    size_t head_start = b.len;
    assert_int_equal(cg_buf_append_str(&b, cd), 0);
    while (b.len - head_start < 4096 - 4) assert_int_equal(cg_buf_append_str(&b, "p"), 0);
    assert_int_equal(cg_buf_append_str(&b, "\r\n\r\n"), 0);
    assert_int_equal(b.len - head_start, 4096);
    size_t head_end = b.len;
    assert_int_equal(cg_buf_append_str(&b, "data\r\n" CLOSE), 0);
    assert_int_equal(parse_n(cg_buf_str(&b), b.len, B, &why), 0);
    assert_slice(mp.parts[0].data, "data");
    struct cg_buf c;
    cg_buf_init(&c, 0);
    assert_int_equal(cg_buf_append(&c, b.ptr, head_end - 4), 0);
    assert_int_equal(cg_buf_append_str(&c, "p\r\n\r\ndata\r\n" CLOSE), 0);
    assert_refused(parse_n(cg_buf_str(&c), c.len, B, &why), CG_ELIMIT, why, "over 4 KiB");
    /* a line with no LF at all in a large part */
    cg_buf_reset(&c);
    assert_int_equal(cg_buf_append_str(&c, DELIM), 0);
    for (int i = 0; i < 8192; i++) assert_int_equal(cg_buf_append_str(&c, "z"), 0);
    assert_int_equal(cg_buf_append_str(&c, "\r\n" CLOSE), 0);
    assert_refused(parse_n(cg_buf_str(&c), c.len, B, &why), CG_ELIMIT, why, "over 4 KiB");
    cg_buf_cleanup(&b);
    cg_buf_cleanup(&c);
}

static void test_bad_boundary_argument(void **state)
{
    (void)state;
    const char *why;
    assert_refused(parse(DELIM CLOSE, "", &why), CG_EPROTO, why, "empty");
    why = NULL;
    assert_int_equal(cg_multipart_parse(NULL, 0, cg_slice_str("x"), &mp, &why), CG_EPROTO);
    assert_non_null(why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary_forms),
        cmocka_unit_test(test_boundary_forms_ows),
        cmocka_unit_test(test_boundary_refused),
        cmocka_unit_test_teardown(test_fields_and_file, teardown),
        cmocka_unit_test_teardown(test_preamble_epilogue_padding, teardown),
        cmocka_unit_test_teardown(test_boundary_inside_data, teardown),
        cmocka_unit_test_teardown(test_quoted_names, teardown),
        cmocka_unit_test_teardown(test_missing_delimiters, teardown),
        cmocka_unit_test_teardown(test_bad_heads, teardown),
        cmocka_unit_test_teardown(test_limits, teardown),
        cmocka_unit_test_teardown(test_bad_boundary_argument, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
