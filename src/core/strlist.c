#include "core/strlist.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"

void cg_strlist_init(struct cg_strlist *l)
{
    l->items = NULL;
    l->n = l->cap = 0;
}

void cg_strlist_cleanup(struct cg_strlist *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) cg_free(l->items[i]);
    cg_free(l->items);
    cg_strlist_init(l);
}

static int push(struct cg_strlist *l, char *s)
{
    if (cg_array_reserve(&l->items, &l->cap, l->n + 1, sizeof(*l->items)) < 0) {
        cg_free(s);
        return CG_ENOMEM;
    }
    l->items[l->n++] = s;
    return 0;
}

int cg_strlist_add(struct cg_strlist *l, const char *s)
{
    char *d = cg_strdup(s);
    CG_ENSURE(d, CG_ENOMEM);
    return push(l, d);
}

int cg_strlist_addf(struct cg_strlist *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    CG_ENSURE(n >= 0, CG_EINTERNAL);
    char *d = cg_malloc((size_t)n + 1);
    CG_ENSURE(d, CG_ENOMEM);
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return push(l, d);
}

bool cg_strlist_contains(const struct cg_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], s) == 0) return true;
    return false;
}

int cg_strlist_split(struct cg_strlist *l, const char *s, char sep, bool keep_empty)
{
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, sep);
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *a = p;
        while (n && isspace((unsigned char)a[0])) {
            a++;
            n--;
        }
        while (n && isspace((unsigned char)a[n - 1])) n--;
        if (n || keep_empty) {
            char *d = cg_strndup(a, n);
            CG_ENSURE(d, CG_ENOMEM);
            CG_GUARD(push(l, d));
        }
        if (!end) break;
        p = end + 1;
    }
    return 0;
}
