#include "core/slice.h"

#include <ctype.h>

bool cg_slice_eq(struct cg_slice a, struct cg_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool cg_slice_eq_str(struct cg_slice a, const char *s) { return cg_slice_eq(a, cg_slice_str(s)); }

bool cg_slice_case_eq(struct cg_slice a, struct cg_slice b)
{
    if (a.len != b.len) return false;
    for (size_t i = 0; i < a.len; i++)
        if (tolower(a.ptr[i]) != tolower(b.ptr[i])) return false;
    return true;
}

bool cg_slice_starts_with(struct cg_slice a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.len >= n && memcmp(a.ptr, prefix, n) == 0;
}

long cg_slice_find(struct cg_slice hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0) return 0;
    if (hay.len < n) return -1;
    for (size_t i = 0; i + n <= hay.len; i++)
        if (hay.ptr[i] == (uint8_t)needle[0] && memcmp(hay.ptr + i, needle, n) == 0) return (long)i;
    return -1;
}

struct cg_slice cg_slice_trim(struct cg_slice s)
{
    while (s.len && isspace(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && isspace(s.ptr[s.len - 1])) s.len--;
    return s;
}

int cg_cursor_u8(struct cg_cursor *c, uint8_t *out)
{
    CG_ENSURE(cg_cursor_left(c) >= 1, CG_EPROTO);
    *out = c->ptr[c->pos++];
    return 0;
}

int cg_cursor_u16be(struct cg_cursor *c, uint16_t *out)
{
    CG_ENSURE(cg_cursor_left(c) >= 2, CG_EPROTO);
    *out = (uint16_t)((c->ptr[c->pos] << 8) | c->ptr[c->pos + 1]);
    c->pos += 2;
    return 0;
}

int cg_cursor_u32be(struct cg_cursor *c, uint32_t *out)
{
    CG_ENSURE(cg_cursor_left(c) >= 4, CG_EPROTO);
    const uint8_t *p = c->ptr + c->pos;
    *out = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    c->pos += 4;
    return 0;
}

int cg_cursor_take(struct cg_cursor *c, size_t n, struct cg_slice *out)
{
    CG_ENSURE(cg_cursor_left(c) >= n, CG_EPROTO);
    out->ptr = c->ptr + c->pos;
    out->len = n;
    c->pos += n;
    return 0;
}

int cg_cursor_skip(struct cg_cursor *c, size_t n)
{
    CG_ENSURE(cg_cursor_left(c) >= n, CG_EPROTO);
    c->pos += n;
    return 0;
}
