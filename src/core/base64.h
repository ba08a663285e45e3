/* Base64 (RFC 4648 section 4). */
#ifndef CG_CORE_BASE64_H
#define CG_CORE_BASE64_H

#include <stdbool.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/slice.h"

/* Strict decoding: the standard alphabet, padding required, ASCII whitespace (line breaks of
 * PEM-style wrapping) skipped anywhere. CG_EPROTO for any other byte, bad padding or a length
 * that is not a multiple of 4; out is then left as it was. */
CG_RESULT cg_base64_decode(struct cg_slice text, struct cg_buf *out);
/* True when text is non-empty and consists only of base64 characters and whitespace. */
bool cg_base64_looks_like(struct cg_slice text);
CG_RESULT cg_base64_encode(struct cg_slice data, struct cg_buf *out);

#endif
