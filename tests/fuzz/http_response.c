/* Fuzz target: response heads from untrusted upstreams (cg_http_response_parse), as answers to
 * GET, HEAD and CONNECT. Every slice lies inside the input; a head that parses is incomplete at
 * length - 1 and found by the incremental end-of-head search; the framing obeys RFC 9112 6.3. */
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

static struct cg_http_response r, p;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *methods[] = {"GET", "HEAD", "CONNECT", "POST"};
    for (size_t m = 0; m < 4; m++) {
        struct cg_slice meth = cg_slice_str(methods[m]);
        const char *why = NULL;
        int rc = cg_http_response_parse(data, size, meth, NULL, &r, &why);
        CHECK(rc <= (int)size);
        if (rc < 0) CHECK(why != NULL && (rc == CG_EPROTO || rc == CG_ELIMIT));
        if (rc <= 0) continue;
        size_t n = (size_t)rc;
        CHECK(r.status >= 100 && r.status <= 999);
        CHECK(r.minor_version == 0 || r.minor_version == 1);
        in_buf(r.reason, data, n);
        for (size_t i = 0; i < r.n_headers; i++) {
            in_buf(r.headers[i].name, data, n);
            in_buf(r.headers[i].value, data, n);
        }
        bool tunnel = r.status == 101 || (m == 2 && r.status >= 200 && r.status < 300);
        if (!tunnel && (m == 1 || r.status < 200 || r.status == 204 || r.status == 304))
            CHECK(r.framing == CG_HTTP_BODY_NONE);
        if (r.status == 101 || (m == 2 && r.status >= 200 && r.status < 300)) CHECK(r.framing == CG_HTTP_BODY_TUNNEL);
        if (r.framing == CG_HTTP_BODY_CLOSE || r.framing == CG_HTTP_BODY_TUNNEL) CHECK(!r.keep_alive);
        uint8_t *copy = malloc(n);
        CHECK(copy != NULL);
        memcpy(copy, data, n);
        CHECK(cg_http_response_parse(copy, n - 1, meth, NULL, &p, &why) == 0);
        free(copy);
        size_t from = 0;
        CHECK(cg_http_head_end(data, size, &from) == n);
        /* the status line we would write parses back */
        struct cg_buf b;
        cg_buf_init(&b, 0);
        CHECK(cg_http_write_status_line(&b, r.status, r.reason) == 0);
        CHECK(cg_buf_append(&b, "\r\n", 2) == 0);
        CHECK(cg_http_response_parse(b.ptr, b.len, meth, NULL, &p, &why) == (int)b.len && p.status == r.status);
        cg_buf_cleanup(&b);
    }
    return 0;
}
