#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

void *cg_malloc(size_t n) { return malloc(n ? n : 1); }

void *cg_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *cg_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }

char *cg_strdup(const char *s)
{
    if (!s) return NULL;
    return cg_strndup(s, strlen(s));
}

char *cg_strndup(const char *s, size_t n)
{
    if (!s) return NULL;
    size_t len = strnlen(s, n);
    char *d = malloc(len + 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void cg_free(void *p) { free(p); }

int cg_array_reserve(void *items, size_t *cap, size_t need, size_t elem_size)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        CG_ENSURE(n <= SIZE_MAX / 2, CG_ENOMEM);
        n *= 2;
    }
    CG_ENSURE(elem_size && n <= SIZE_MAX / elem_size, CG_ENOMEM);
    void **p = items;
    void *grown = realloc(*p, n * elem_size);
    CG_ENSURE(grown, CG_ENOMEM);
    *p = grown;
    *cap = n;
    return 0;
}

void cg_wipe(void *p, size_t n)
{
    if (p && n) explicit_bzero(p, n);
}

void cg_free_secret_str(char *s)
{
    if (!s) return;
    cg_wipe(s, strlen(s));
    free(s);
}

void cg_free_p(void *pp)
{
    void **p = pp;
    free(*p);
    *p = NULL;
}
