/* Growable byte buffer with a hard cap. The contents are always NUL-terminated (not counted
 * in len) so that text can be handed to C APIs; binary data may contain NULs. */
#ifndef CG_CORE_BUF_H
#define CG_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"

struct cg_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;
    size_t max;  /* appends beyond this fail with CG_ELIMIT; 0 = SIZE_MAX/2 */
    bool secret; /* wipe on growth and cleanup */
};

void cg_buf_init(struct cg_buf *b, size_t max);
void cg_buf_init_secret(struct cg_buf *b, size_t max);
void cg_buf_cleanup(struct cg_buf *b);
void cg_buf_reset(struct cg_buf *b); /* len = 0, keeps the memory */
CG_RESULT cg_buf_reserve(struct cg_buf *b, size_t extra);
CG_RESULT cg_buf_append(struct cg_buf *b, const void *p, size_t n);
CG_RESULT cg_buf_append_str(struct cg_buf *b, const char *s);
CG_RESULT cg_buf_printf(struct cg_buf *b, const char *fmt, ...) CG_PRINTF(2, 3);
static inline struct cg_slice cg_buf_slice(const struct cg_buf *b)
{
    return cg_slice_make(b->ptr, b->len);
}
static inline const char *cg_buf_str(const struct cg_buf *b)
{
    return b->ptr ? (const char *)b->ptr : "";
}
/* Hands the memory to the caller (NUL-terminated; free with cg_free) and resets b. */
uint8_t *cg_buf_steal(struct cg_buf *b, size_t *len);

#endif
