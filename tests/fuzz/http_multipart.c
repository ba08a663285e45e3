/* Fuzz target: multipart/form-data uploads from untrusted browsers and scripts
 * (cg_multipart_boundary, cg_multipart_parse). The input is a Content-Type value, a newline, and
 * the body; when the Content-Type yields no boundary the body is still parsed with the boundary
 * "b". Both run on exact-size heap copies (a read past the end is an ASan error), and an accepted
 * body must hold what the parser claims: every slice inside the body, parts in order, each part's
 * data followed by "CRLF--boundary", every refusal with a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"

#define CHECK(c)                                                                                \
    do {                                                                                        \
        if (!(c)) abort();                                                                      \
    } while (0)

static void inside(struct cg_slice s, const uint8_t *lo, const uint8_t *hi)
{
    if (s.len == 0) return;
    CHECK(s.ptr >= lo && s.ptr + s.len <= hi);
}

static void check_parts(const struct cg_multipart *mp, const uint8_t *body, size_t len, struct cg_slice b)
{
    const uint8_t *end = body + len, *prev = body;
    CHECK(mp->n <= CG_MULTIPART_MAX_PARTS);
    for (size_t i = 0; i < mp->n; i++) {
        const struct cg_multipart_part *p = &mp->parts[i];
        CHECK(p->data.ptr >= prev && p->data.ptr + p->data.len <= end);
        /* the head's fields come before the data, after the previous part */
        inside(p->name, prev, p->data.ptr);
        inside(p->filename, prev, p->data.ptr);
        inside(p->content_type, prev, p->data.ptr);
        const uint8_t *after = p->data.ptr + p->data.len;
        CHECK((size_t)(end - after) >= 4 + b.len);
        CHECK(memcmp(after, "\r\n--", 4) == 0 && memcmp(after + 4, b.ptr, b.len) == 0);
        prev = after;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ct_len = nl ? (size_t)(nl - data) : 0;
    size_t body_off = nl ? ct_len + 1 : 0;
    uint8_t *ct = malloc(ct_len ? ct_len : 1);
    uint8_t *body = malloc(size - body_off ? size - body_off : 1);
    CHECK(ct && body);
    memcpy(ct, data, ct_len);
    memcpy(body, data + body_off, size - body_off);
    size_t len = size - body_off;

    struct cg_slice b;
    const char *why = NULL;
    int rc = cg_multipart_boundary(cg_slice_make(ct, ct_len), &b, &why);
    if (rc == 0) {
        CHECK(b.len >= 1 && b.len <= CG_MULTIPART_MAX_BOUNDARY);
        inside(b, ct, ct + ct_len);
    } else {
        CHECK(rc == CG_EPROTO && why != NULL);
        b = cg_slice_str("b");
    }

    struct cg_multipart mp;
    why = NULL;
    rc = cg_multipart_parse(body, len, b, &mp, &why);
    if (rc == 0)
        check_parts(&mp, body, len, b);
    else
        CHECK((rc == CG_EPROTO || rc == CG_ELIMIT) && why != NULL);
    free(ct);
    free(body);
    return 0;
}
