/* Allocation. Every allocation is checked; callers turn NULL into CG_ENOMEM.
 * Sizes computed from peer input must be capped before they reach these functions. */
#ifndef CG_CORE_MEM_H
#define CG_CORE_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

void *cg_malloc(size_t n);
void *cg_calloc(size_t count, size_t size); /* overflow-checked */
void *cg_realloc(void *p, size_t n);
char *cg_strdup(const char *s);             /* NULL in, NULL out */
char *cg_strndup(const char *s, size_t n);
void cg_free(void *p);

/* Makes room for `need` elements in a growable array (*items, *cap), doubling from 8; the array
 * is untouched on failure (CG_ENOMEM, or overflow). */
CG_RESULT cg_array_reserve(void *items, size_t *cap, size_t need, size_t elem_size);

/* Overwrites n bytes so that the compiler cannot drop it (explicit_bzero). */
void cg_wipe(void *p, size_t n);
/* Wipes a NUL-terminated string in place and frees it. Accepts NULL. */
void cg_free_secret_str(char *s);

/* Scope cleanups (s2n-tls DEFER_CLEANUP): `CG_AUTOFREE char *s = cg_strdup(x);` */
void cg_free_p(void *pp);
#define CG_AUTOFREE __attribute__((cleanup(cg_free_p)))

#endif
