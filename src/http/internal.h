/* Scanning helpers shared by the request and response parsers, the chunked scanner and the
 * serializers: character classes as 256-entry tables (one load per byte, picohttpparser style),
 * the field-section parser both head parsers use, and the framing facts it derives.
 * Not part of the module's interface. */
#ifndef CG_HTTP_INTERNAL_H
#define CG_HTTP_INTERNAL_H

#include <limits.h>

#include "http/http.h"

/* Character classes (bit flags in cg_http_chars[]). */
enum {
    CG_HTTP_C_TCHAR = 1,  /* token character, RFC 9110 5.6.2 */
    CG_HTTP_C_VALUE = 2,  /* field-value byte: HTAB, SP, VCHAR, obs-text (RFC 9110 5.5) */
    CG_HTTP_C_TARGET = 4, /* request-target byte: VCHAR only (RFC 9112 3.2; no SP, CTL, DEL, >= 0x80) */
    CG_HTTP_C_HEX = 8,    /* HEXDIG */
    CG_HTTP_C_REGNAME = 16, /* reg-name byte: unreserved, sub-delims, '%' (RFC 3986 3.2.2) */
};
extern const uint8_t cg_http_chars[256];

static inline bool cg_http_is_tchar(uint8_t c) { return cg_http_chars[c] & CG_HTTP_C_TCHAR; }
static inline bool cg_http_is_value(uint8_t c) { return cg_http_chars[c] & CG_HTTP_C_VALUE; }

/* The first byte at or after p (before end) not in class cls, or end. Unrolled: the loops over
 * field values and targets are where a parse spends its time. */
static inline const uint8_t *cg_http_scan(const uint8_t *p, const uint8_t *end, uint8_t cls)
{
    while (end - p >= 8) {
        if (!(cg_http_chars[p[0]] & cls)) return p;
        if (!(cg_http_chars[p[1]] & cls)) return p + 1;
        if (!(cg_http_chars[p[2]] & cls)) return p + 2;
        if (!(cg_http_chars[p[3]] & cls)) return p + 3;
        if (!(cg_http_chars[p[4]] & cls)) return p + 4;
        if (!(cg_http_chars[p[5]] & cls)) return p + 5;
        if (!(cg_http_chars[p[6]] & cls)) return p + 6;
        if (!(cg_http_chars[p[7]] & cls)) return p + 7;
        p += 8;
    }
    while (p < end && (cg_http_chars[*p] & cls)) p++;
    return p;
}

/* Limits with NULL and zero fields replaced by the defaults, and clamped so that a head length
 * always fits the int that the parsers return. */
static inline void cg_http_limits_resolve(const struct cg_http_limits *in, struct cg_http_limits *out)
{
    cg_http_limits_default(out);
    if (in) {
        if (in->max_head_bytes) out->max_head_bytes = in->max_head_bytes;
        if (in->max_headers) out->max_headers = in->max_headers;
        if (in->max_target_bytes) out->max_target_bytes = in->max_target_bytes;
    }
    if (out->max_head_bytes > (size_t)INT_MAX) out->max_head_bytes = (size_t)INT_MAX;
    if (out->max_headers > CG_HTTP_MAX_HEADERS) out->max_headers = CG_HTTP_MAX_HEADERS;
}

static inline uint8_t cg_http_lower(uint8_t c) { return (uint8_t)(c - 'A') < 26u ? (uint8_t)(c | 0x20) : c; }

/* ASCII case-insensitive comparison of bytes with a lowercase literal (field names, tokens). */
static inline bool cg_http_token_is(const uint8_t *p, size_t n, const char *lower, size_t lower_len)
{
    if (n != lower_len) return false;
    for (size_t i = 0; i < n; i++)
        if (cg_http_lower(p[i]) != (uint8_t)lower[i]) return false;
    return true;
}
#define CG_HTTP_TOKEN_IS(s, lit) cg_http_token_is((s).ptr, (s).len, lit, sizeof(lit) - 1)

/* What the field section says about framing and the connection (RFC 9112 6, RFC 9110 7.6.1). */
struct cg_http_fields_facts {
    bool has_cl;             /* at least one Content-Length field */
    uint64_t content_length; /* the (merged) value */
    bool has_te;             /* at least one Transfer-Encoding field */
    bool te_chunked_final;   /* the last transfer coding is chunked */
    bool te_chunked_seen;    /* chunked appeared (it may appear only once, RFC 9112 6.1) */
    unsigned n_host;         /* number of Host fields */
    struct cg_slice host;
    bool conn_close, conn_keep_alive, conn_upgrade; /* Connection tokens */
    bool has_upgrade;        /* an Upgrade field */
    bool expect_continue;    /* Expect: 100-continue */
};

/* Parses the field lines of a head starting at buf[pos] through the empty line that ends the
 * head, into h[] (at most max_headers) and facts. Returns the head's total length (> 0), 0 when
 * buf[0..len) ends before the head does, or CG_EPROTO / CG_ELIMIT with *why. Errors are found
 * line by line, so a prefix of a head is refused for the same reason as the whole head. */
int cg_http_fields_parse(const uint8_t *buf, size_t pos, size_t len, size_t max_headers, struct cg_http_header *h,
                         size_t *n_headers, struct cg_http_fields_facts *facts, const char **why);

/* Parses "HTTP/1.0" or "HTTP/1.1" at p (8 bytes available): the minor version, or -1. */
static inline int cg_http_version_parse(const uint8_t *p)
{
    /* RFC 9112 2.3: HTTP-version is case-sensitive; exactly one digit each side of the dot */
    if (p[0] != 'H' || p[1] != 'T' || p[2] != 'T' || p[3] != 'P' || p[4] != '/' || p[5] != '1' || p[6] != '.')
        return -1;
    if (p[7] == '0') return 0;
    if (p[7] == '1') return 1;
    return -1;
}

static inline int cg_http_fail(const char **why, int code, const char *reason)
{
    if (why) *why = reason;
    return code;
}

#endif
