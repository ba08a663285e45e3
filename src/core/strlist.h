/* A growable list of owned strings (warnings, SANs, targets). */
#ifndef CG_CORE_STRLIST_H
#define CG_CORE_STRLIST_H

#include <stddef.h>

#include "core/error.h"

struct cg_strlist {
    char **items;
    size_t n;
    size_t cap;
};

void cg_strlist_init(struct cg_strlist *l);
void cg_strlist_cleanup(struct cg_strlist *l);
CG_RESULT cg_strlist_add(struct cg_strlist *l, const char *s);
CG_RESULT cg_strlist_addf(struct cg_strlist *l, const char *fmt, ...) CG_PRINTF(2, 3);
bool cg_strlist_contains(const struct cg_strlist *l, const char *s);
/* Splits s at sep into l, trimming whitespace around each item; empty items are kept
 * only when keep_empty is set. */
CG_RESULT cg_strlist_split(struct cg_strlist *l, const char *s, char sep, bool keep_empty);

#endif
