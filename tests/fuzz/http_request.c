/* Fuzz target: request heads from untrusted clients (cg_http_request_parse). Beyond "no crash":
 * every slice lies inside the input; a head that parses is incomplete (0) at length - 1 and is
 * found by the incremental end-of-head search; the first input byte picks small limits, which
 * must be honoured; and an HTTP/1.1 head re-serialized with the writers parses to the same
 * request (what we forward, we would accept). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

#define CHECK(c)                                                                                \
    do {                                                                                        \
        if (!(c)) abort();                                                                      \
    } while (0)

static void in_buf(struct cg_slice s, const uint8_t *b, size_t n)
{
    if (s.len) CHECK(s.ptr >= b && s.ptr + s.len <= b + n);
}

static struct cg_http_request r, r2;

static void round_trip(const struct cg_http_request *a)
{
    struct cg_buf b;
    cg_buf_init(&b, 0);
    CHECK(cg_http_write_request_line(&b, a->method, a->target) == 0);
    for (size_t i = 0; i < a->n_headers; i++) CHECK(cg_http_write_header(&b, a->headers[i].name, a->headers[i].value) == 0);
    CHECK(cg_buf_append(&b, "\r\n", 2) == 0);
    struct cg_http_limits big = {1 << 20, CG_HTTP_MAX_HEADERS, 1 << 20};
    const char *why = NULL;
    CHECK(cg_http_request_parse(b.ptr, b.len, &big, &r2, &why) == (int)b.len);
    CHECK(cg_slice_eq(a->method, r2.method) && cg_slice_eq(a->target, r2.target));
    CHECK(a->n_headers == r2.n_headers && a->framing == r2.framing && a->content_length == r2.content_length);
    CHECK(a->keep_alive == r2.keep_alive && a->upgrade == r2.upgrade && a->expect_continue == r2.expect_continue);
    CHECK(a->target_form == r2.target_form && cg_slice_eq(a->host, r2.host));
    for (size_t i = 0; i < a->n_headers; i++)
        CHECK(cg_slice_eq(a->headers[i].name, r2.headers[i].name) && cg_slice_eq(a->headers[i].value, r2.headers[i].value));
    cg_buf_cleanup(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    int rc = cg_http_request_parse(data, size, NULL, &r, &why);
    CHECK(rc <= (int)size);
    if (rc < 0) CHECK(why != NULL && (rc == CG_EPROTO || rc == CG_ELIMIT));
    if (rc > 0) {
        size_t n = (size_t)rc;
        in_buf(r.method, data, n);
        in_buf(r.target, data, n);
        in_buf(r.host, data, n);
        CHECK(r.n_headers <= 100 && r.method.len > 0 && r.target.len > 0);
        CHECK(r.minor_version == 0 || r.minor_version == 1);
        CHECK(r.minor_version == 0 || r.host.ptr != NULL);
        for (size_t i = 0; i < r.n_headers; i++) {
            in_buf(r.headers[i].name, data, n);
            in_buf(r.headers[i].value, data, n);
            CHECK(r.headers[i].name.len > 0);
        }
        CHECK(r.framing == CG_HTTP_BODY_NONE || r.framing == CG_HTTP_BODY_LENGTH || r.framing == CG_HTTP_BODY_CHUNKED);
        /* a prefix of a valid head is incomplete, never an error or a head */
        uint8_t *copy = malloc(n);
        CHECK(copy != NULL);
        memcpy(copy, data, n);
        static struct cg_http_request p;
        CHECK(cg_http_request_parse(copy, n - 1, NULL, &p, &why) == 0);
        CHECK(cg_http_request_parse(copy, n / 2, NULL, &p, &why) == 0);
        free(copy);
        size_t from = 0;
        CHECK(cg_http_head_end(data, size, &from) == n);
        if (r.minor_version == 1) round_trip(&r);
    }
    /* limits chosen by the input: never exceeded by anything accepted */
    if (size > 0) {
        struct cg_http_limits l = {(size_t)data[0] * 4 + 1, (size_t)(data[0] % 7) + 1, (size_t)(data[0] % 61) + 1};
        rc = cg_http_request_parse(data, size, &l, &r, &why);
        if (rc > 0) CHECK((size_t)rc <= l.max_head_bytes && r.n_headers <= l.max_headers && r.target.len <= l.max_target_bytes);
        if (size >= l.max_head_bytes) CHECK(rc != 0);
    }
    return 0;
}
