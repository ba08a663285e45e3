/* Bytes travel as slices; wire data is read through a bounds-checked cursor, never with str*
 * functions (s2n-tls stuffer, BoringSSL CBS). */
#ifndef CG_CORE_SLICE_H
#define CG_CORE_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"

struct cg_slice {
    const uint8_t *ptr;
    size_t len;
};

static inline struct cg_slice cg_slice_make(const void *p, size_t n)
{
    struct cg_slice s = {(const uint8_t *)p, n};
    return s;
}
static inline struct cg_slice cg_slice_str(const char *s)
{
    return cg_slice_make(s, s ? strlen(s) : 0);
}
bool cg_slice_eq(struct cg_slice a, struct cg_slice b);
bool cg_slice_eq_str(struct cg_slice a, const char *s);
bool cg_slice_case_eq(struct cg_slice a, struct cg_slice b); /* ASCII case-insensitive */
bool cg_slice_starts_with(struct cg_slice a, const char *prefix);
/* Finds a byte string; returns its offset or -1. */
long cg_slice_find(struct cg_slice hay, const char *needle);
/* Trims ASCII whitespace on both ends. */
struct cg_slice cg_slice_trim(struct cg_slice s);

struct cg_cursor {
    const uint8_t *ptr;
    size_t len;
    size_t pos;
};

static inline void cg_cursor_init(struct cg_cursor *c, struct cg_slice s)
{
    c->ptr = s.ptr;
    c->len = s.len;
    c->pos = 0;
}
static inline size_t cg_cursor_left(const struct cg_cursor *c) { return c->len - c->pos; }
/* Each returns CG_EPROTO, and leaves the cursor unchanged, when fewer bytes remain. */
CG_RESULT cg_cursor_u8(struct cg_cursor *c, uint8_t *out);
CG_RESULT cg_cursor_u16be(struct cg_cursor *c, uint16_t *out);
CG_RESULT cg_cursor_u32be(struct cg_cursor *c, uint32_t *out);
CG_RESULT cg_cursor_take(struct cg_cursor *c, size_t n, struct cg_slice *out);
CG_RESULT cg_cursor_skip(struct cg_cursor *c, size_t n);

#endif
