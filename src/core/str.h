/* String helpers that replace the banned libc functions (STYLE.md). */
#ifndef CG_CORE_STR_H
#define CG_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"

/* Copies at most n-1 bytes and always NUL-terminates; returns strlen(src) (truncation when
 * the result is >= n). */
size_t cg_strlcpy(char *dst, const char *src, size_t n);
/* Whole decimal numbers only, no sign for unsigned, no trailing junk, range-checked. */
CG_RESULT cg_str_to_u64(const char *s, uint64_t *out);
CG_RESULT cg_str_to_i64(const char *s, int64_t *out);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void cg_hex_encode(const uint8_t *p, size_t n, char *out);

/* Percent-decodes in (RFC 3986 section 2.1; '+' is a space when form is set: the WHATWG form
 * encoding) into out, NUL-terminated, *len the decoded length. CG_EPROTO for a '%' not followed
 * by two hex digits, CG_EINVAL for a decoded NUL, CG_ELIMIT when it does not fit in cap. */
CG_RESULT cg_pct_decode(struct cg_slice in, bool form, char *out, size_t cap, size_t *len);
/* ASCII lowercase copy into a new string (cg_free). */
char *cg_str_lower_dup(const char *s);
bool cg_str_ends_with(const char *s, const char *suffix);

#endif
