/* multipart/form-data (RFC 7578), what a browser's upload form sends: pure parsing over a
 * complete body held in memory, no allocation, every count and size capped. */
#ifndef CG_HTTP_MULTIPART_H
#define CG_HTTP_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"

#define CG_MULTIPART_MAX_PARTS 16
#define CG_MULTIPART_MAX_BOUNDARY 70 /* RFC 2046 */

struct cg_multipart_part {
    struct cg_slice name;         /* form field name (from Content-Disposition), unquoted */
    struct cg_slice filename;     /* empty when the part is not a file */
    struct cg_slice content_type; /* empty when absent */
    struct cg_slice data;         /* the content, exactly as sent */
};

struct cg_multipart {
    struct cg_multipart_part parts[CG_MULTIPART_MAX_PARTS];
    size_t n;
};

/* The boundary parameter of a Content-Type value "multipart/form-data; boundary=...", quoted or
 * not. CG_EPROTO with *why when the type is not multipart/form-data or has no valid boundary. */
CG_RESULT cg_multipart_boundary(struct cg_slice content_type, struct cg_slice *boundary, const char **why);

/* Parses body into out (slices point into body). CG_EPROTO with *why ("no closing boundary",
 * "part without Content-Disposition: form-data", "bad part header" ...), CG_ELIMIT for more than
 * CG_MULTIPART_MAX_PARTS parts or a part head over 4 KiB. Quoted names may use \" and \\ escapes
 * and are returned as sent (with the backslashes: callers compare names they know, which never
 * contain those). */
CG_RESULT cg_multipart_parse(const uint8_t *body, size_t len, struct cg_slice boundary, struct cg_multipart *out,
                             const char **why);

#endif
