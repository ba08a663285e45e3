#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/mem.h"

void cg_buf_init(struct cg_buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : SIZE_MAX / 2;
    b->secret = false;
}

void cg_buf_init_secret(struct cg_buf *b, size_t max)
{
    cg_buf_init(b, max);
    b->secret = true;
}

void cg_buf_cleanup(struct cg_buf *b)
{
    if (!b) return;
    if (b->secret) cg_wipe(b->ptr, b->cap);
    cg_free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void cg_buf_reset(struct cg_buf *b)
{
    if (b->secret) cg_wipe(b->ptr, b->cap);
    b->len = 0;
    if (b->ptr) b->ptr[0] = 0;
}

int cg_buf_reserve(struct cg_buf *b, size_t extra)
{
    CG_ENSURE(extra <= b->max && b->len <= b->max - extra, CG_ELIMIT);
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    uint8_t *p;
    if (b->secret) {
        /* never leave a copy of a secret behind in freed memory */
        p = cg_malloc(cap);
        CG_ENSURE(p, CG_ENOMEM);
        if (b->ptr) {
            memcpy(p, b->ptr, b->len + 1);
            cg_wipe(b->ptr, b->cap);
            cg_free(b->ptr);
        }
    } else {
        p = cg_realloc(b->ptr, cap);
        CG_ENSURE(p, CG_ENOMEM);
    }
    b->ptr = p;
    b->cap = cap;
    b->ptr[b->len] = 0; /* the contents are always NUL-terminated */
    return 0;
}

int cg_buf_append(struct cg_buf *b, const void *p, size_t n)
{
    CG_GUARD(cg_buf_reserve(b, n));
    if (n) memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = 0;
    return 0;
}

int cg_buf_append_str(struct cg_buf *b, const char *s) { return cg_buf_append(b, s, strlen(s)); }

int cg_buf_printf(struct cg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    CG_ENSURE(n >= 0, CG_EINTERNAL);
    CG_GUARD(cg_buf_reserve(b, (size_t)n));
    va_start(ap, fmt);
    vsnprintf((char *)b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

uint8_t *cg_buf_steal(struct cg_buf *b, size_t *len)
{
    if (!b->ptr && cg_buf_reserve(b, 0) < 0) return NULL;
    uint8_t *p = b->ptr;
    if (len) *len = b->len;
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}
