/* Request heads (RFC 9112 3, 5, 6): one pass over the bytes, slices into the buffer, no
 * allocation. Incomplete input returns 0 and is cheap to parse again from the start. */
#include <string.h>

#include "http/internal.h"

void cg_http_limits_default(struct cg_http_limits *l)
{
    l->max_head_bytes = 64 * 1024;
    l->max_headers = 100;
    l->max_target_bytes = 8 * 1024;
}

/* Host = uri-host [ ":" port ] (RFC 9110 7.2); empty is allowed (a target without authority). */
static bool host_valid(struct cg_slice h)
{
    const uint8_t *p = h.ptr, *end = h.ptr + h.len;
    if (p == end) return true;
    if (*p == '[') { /* IP-literal */
        p++;
        const uint8_t *s = p;
        while (p < end && ((cg_http_chars[*p] & CG_HTTP_C_HEX) || *p == ':' || *p == '.')) p++;
        if (p == end || *p != ']' || p == s) return false;
        p++;
    } else {
        const uint8_t *s = p;
        while (p < end && (cg_http_chars[*p] & CG_HTTP_C_REGNAME)) p++;
        if (p == s) return false;
    }
    if (p == end) return true;
    if (*p++ != ':') return false;
    while (p < end && (uint8_t)(*p - '0') < 10u) p++; /* port = *DIGIT (RFC 3986 3.2.3) */
    return p == end;
}

/* The end of the start line at *pp: CRLF or a bare LF (RFC 9112 2.2). 1 when found, 0 when more
 * bytes are needed, or an error. */
static int line_end(const uint8_t **pp, const uint8_t *end, const char *junk, const char **why)
{
    const uint8_t *p = *pp;
    if (p == end) return 0;
    if (*p == '\n') {
        *pp = p + 1;
        return 1;
    }
    if (*p == '\r') {
        if (p + 1 == end) return 0;
        if (p[1] != '\n') return cg_http_fail(why, CG_EPROTO, "a CR not followed by LF");
        *pp = p + 2;
        return 1;
    }
    return cg_http_fail(why, CG_EPROTO, junk);
}

/* "HTTP/1.x" at p with fewer than 8 bytes available: 0 while they could still become a valid
 * version, so that "HTTP/2" is refused without waiting for more. */
static int version_prefix(const uint8_t *p, const uint8_t *end, const char **why)
{
    static const char prefix[] = "HTTP/1.";
    for (size_t i = 0; p + i < end && i < 7; i++)
        if (p[i] != (uint8_t)prefix[i]) return cg_http_fail(why, CG_EPROTO, "an HTTP version other than 1.0 or 1.1");
    return 0;
}

static int target_form(struct cg_http_request *r, const char **why)
{
    struct cg_slice m = r->method, t = r->target;
    struct cg_http_uri uri;
    /* RFC 9112 3.2.3: CONNECT takes the authority form, and only it does */
    if (m.len == 7 && memcmp(m.ptr, "CONNECT", 7) == 0) {
        CG_GUARD(cg_http_uri_parse(t, true, &uri, why));
        r->target_form = CG_HTTP_TARGET_AUTHORITY;
        return 0;
    }
    if (t.ptr[0] == '/') { /* RFC 9112 3.2.1: origin-form = absolute-path [ "?" query ] */
        if (memchr(t.ptr, '#', t.len)) return cg_http_fail(why, CG_EPROTO, "a fragment in the target is not allowed");
        r->target_form = CG_HTTP_TARGET_ORIGIN;
        return 0;
    }
    if (t.len == 1 && t.ptr[0] == '*') { /* RFC 9112 3.2.4: OPTIONS only */
        if (!(m.len == 7 && memcmp(m.ptr, "OPTIONS", 7) == 0))
            return cg_http_fail(why, CG_EPROTO, "the asterisk target with a method other than OPTIONS");
        r->target_form = CG_HTTP_TARGET_ASTERISK;
        return 0;
    }
    CG_GUARD(cg_http_uri_parse(t, false, &uri, why)); /* RFC 9112 3.2.2 */
    r->target_form = CG_HTTP_TARGET_ABSOLUTE;
    return 0;
}

static int parse(const uint8_t *buf, size_t len, const struct cg_http_limits *lim, struct cg_http_request *r,
                 const char **why)
{
    const uint8_t *p = buf, *end = buf + len;
    /* RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request-line */
    while (p < end && (*p == '\r' || *p == '\n')) {
        if (*p == '\r') {
            if (p + 1 == end) return 0;
            if (p[1] != '\n') return cg_http_fail(why, CG_EPROTO, "a CR not followed by LF");
            p++;
        }
        p++;
    }

    /* request-line = method SP request-target SP HTTP-version (RFC 9112 3), single spaces */
    const uint8_t *s = p;
    while (p < end && cg_http_is_tchar(*p)) p++;
    if (p == end) return 0;
    if (*p != ' ' || p == s) return cg_http_fail(why, CG_EPROTO, p == s ? "a request line that does not start with a method" : "a bad character in the method");
    r->method = cg_slice_make(s, (size_t)(p - s));
    s = ++p;
    p = cg_http_scan(p, end, CG_HTTP_C_TARGET);
    if ((size_t)(p - s) > lim->max_target_bytes) return cg_http_fail(why, CG_ELIMIT, "request target too long");
    if (p == end) return 0;
    if (*p != ' ' || p == s) {
        if (*p == ' ') return cg_http_fail(why, CG_EPROTO, "a request line with extra spaces");
        if (*p == '\r' || *p == '\n') return cg_http_fail(why, CG_EPROTO, "a request line without an HTTP version");
        return cg_http_fail(why, CG_EPROTO, "a bad character in the request target");
    }
    r->target = cg_slice_make(s, (size_t)(p - s));
    p++;
    if (p < end && *p == ' ') return cg_http_fail(why, CG_EPROTO, "a request line with extra spaces");
    if (end - p < 8) return version_prefix(p, end, why);
    r->minor_version = cg_http_version_parse(p);
    if (r->minor_version < 0) return cg_http_fail(why, CG_EPROTO, "an HTTP version other than 1.0 or 1.1");
    p += 8;
    int rc = line_end(&p, end, p < end && *p == ' ' ? "a request line with extra spaces" : "an HTTP version other than 1.0 or 1.1", why);
    if (rc <= 0) return rc;

    struct cg_http_fields_facts f;
    rc = cg_http_fields_parse(buf, (size_t)(p - buf), len, lim->max_headers, r->headers, &r->n_headers, &f, why);
    if (rc <= 0) return rc;

    CG_GUARD(target_form(r, why));

    /* framing, RFC 9112 6.1-6.3 */
    r->content_length = 0;
    if (f.has_te) {
        if (r->minor_version == 0) /* RFC 9112 6.1: faulty framing */
            return cg_http_fail(why, CG_EPROTO, "Transfer-Encoding in an HTTP/1.0 request");
        if (f.has_cl) /* RFC 9112 6.1, 6.3 item 3: the classic smuggling shape */
            return cg_http_fail(why, CG_EPROTO, "Content-Length with Transfer-Encoding");
        if (!f.te_chunked_final) /* RFC 9112 6.3 item 4: 400 and close */
            return cg_http_fail(why, CG_EPROTO, "Transfer-Encoding whose final coding is not chunked");
        r->framing = CG_HTTP_BODY_CHUNKED;
    } else if (f.has_cl) {
        r->framing = CG_HTTP_BODY_LENGTH;
        r->content_length = f.content_length;
    } else {
        r->framing = CG_HTTP_BODY_NONE; /* RFC 9112 6.3 item 7 */
    }

    /* RFC 9112 3.2: exactly one Host in 1.1, never several, and a valid value */
    if (f.n_host > 1) return cg_http_fail(why, CG_EPROTO, "several Host fields");
    if (f.n_host == 0 && r->minor_version == 1) return cg_http_fail(why, CG_EPROTO, "an HTTP/1.1 request without Host");
    if (f.n_host && !host_valid(f.host)) return cg_http_fail(why, CG_EPROTO, "a malformed Host field");
    r->host = f.n_host ? f.host : cg_slice_make(NULL, 0);

    /* RFC 9112 9.3: persistence */
    r->keep_alive = !f.conn_close && (r->minor_version == 1 || f.conn_keep_alive);
    /* RFC 9110 10.1.1 and 7.8: 1.0 requests' Expect: 100-continue and Upgrade are ignored */
    r->expect_continue = r->minor_version == 1 && f.expect_continue;
    r->upgrade = r->minor_version == 1 && f.conn_upgrade && f.has_upgrade;
    return rc;
}

int cg_http_request_parse(const uint8_t *buf, size_t len, const struct cg_http_limits *lim,
                          struct cg_http_request *out, const char **why)
{
    struct cg_http_limits l;
    cg_http_limits_resolve(lim, &l);
    /* Never look past the cap: a head that has not ended within it is too large, however the
     * bytes arrive (a peer cannot make us buffer forever). */
    size_t scan = len < l.max_head_bytes ? len : l.max_head_bytes;
    out->n_headers = 0;
    if (len == 0) return 0; /* buf may be NULL */
    int rc = parse(buf, scan, &l, out, why);
    if (rc == 0 && len >= l.max_head_bytes) return cg_http_fail(why, CG_ELIMIT, "header section too large");
    return rc;
}
