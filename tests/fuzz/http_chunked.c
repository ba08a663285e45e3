/* Fuzz target: chunked bodies from untrusted peers (cg_http_chunked_scan). The input is scanned
 * whole, then split in two at a point derived from the data, then in pieces of a data-derived
 * size: all runs must agree on the result, the reason, the bytes consumed, the end and the
 * decoded payload (the state machine must not depend on how reads fall). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

#define CHECK(c)                                                                                \
    do {                                                                                        \
        if (!(c)) abort();                                                                      \
    } while (0)

struct run {
    int rc;
    const char *why;
    size_t consumed;
    bool done;
    struct cg_buf out;
};

static void scan(const uint8_t *data, size_t size, size_t step, size_t first, size_t max_trailer, struct run *r)
{
    struct cg_http_chunked c;
    cg_http_chunked_init(&c);
    c.max_trailer_bytes = max_trailer;
    cg_buf_init(&r->out, 1 << 20);
    r->rc = 0;
    r->why = NULL;
    r->consumed = 0;
    r->done = false;
    size_t at = 0, len = first;
    for (;;) {
        if (len > size - at) len = size - at;
        /* an exact-size copy: reading past a piece is an ASan error */
        uint8_t *piece = malloc(len ? len : 1);
        CHECK(piece != NULL);
        memcpy(piece, data + at, len);
        size_t used = 0;
        bool done = false;
        r->rc = cg_http_chunked_scan(&c, piece, len, &used, &done, &r->out, &r->why);
        free(piece);
        CHECK(used <= len);
        r->consumed += used;
        if (r->rc < 0) {
            CHECK(r->why != NULL);
            return;
        }
        if (done) {
            r->done = true;
            return;
        }
        CHECK(used == len);
        at += len;
        if (at >= size) return;
        len = step; /* >= 1 here */
    }
}

static void same(const struct run *a, const struct run *b)
{
    CHECK(a->rc == b->rc && a->consumed == b->consumed && a->done == b->done);
    CHECK(a->why == b->why || (a->why && b->why && strcmp(a->why, b->why) == 0));
    CHECK(cg_slice_eq(cg_buf_slice(&a->out), cg_buf_slice(&b->out)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t max_trailer = size ? (size_t)data[0] * 8 : 0; /* 0: the default */
    struct run whole, split, pieces;
    scan(data, size, size, size, max_trailer, &whole);
    if (whole.rc == 0 && !whole.done) CHECK(whole.consumed == size);
    if (whole.done) CHECK(whole.consumed >= 3); /* "0\n\n" is the shortest body */
    size_t cut = size ? ((size_t)data[size / 2] * 131 + size / 3) % (size + 1) : 0;
    scan(data, size, size, cut, max_trailer, &split);
    same(&whole, &split);
    size_t step = size ? (size_t)(data[size - 1] % 13) + 1 : 1;
    scan(data, size, step, step, max_trailer, &pieces);
    same(&whole, &pieces);
    cg_buf_cleanup(&whole.out);
    cg_buf_cleanup(&split.out);
    cg_buf_cleanup(&pieces.out);
    return 0;
}
