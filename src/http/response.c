/* Response heads (RFC 9112 4, 5, 6) and their framing, which depends on the request's method
 * (RFC 9112 6.3). Shares the field parser with requests (internal.h). */
#include <string.h>

#include "http/internal.h"

static int parse(const uint8_t *buf, size_t len, struct cg_slice method, const struct cg_http_limits *lim,
                 struct cg_http_response *r, const char **why)
{
    static const char bad_version[] = "an HTTP version other than 1.0 or 1.1";
    static const char bad_status[] = "a status code that is not three digits";
    const uint8_t *p = buf, *end = buf + len;

    /* status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 4) */
    if (len < 8) {
        static const char prefix[] = "HTTP/1.";
        for (size_t i = 0; i < len && i < 7; i++)
            if (buf[i] != (uint8_t)prefix[i]) return cg_http_fail(why, CG_EPROTO, bad_version);
        return 0;
    }
    r->minor_version = cg_http_version_parse(p);
    if (r->minor_version < 0) return cg_http_fail(why, CG_EPROTO, bad_version);
    p += 8;
    if (p == end) return 0;
    if (*p != ' ') return cg_http_fail(why, CG_EPROTO, (uint8_t)(*p - '0') < 10u ? bad_version : "a malformed status line");
    p++;
    int status = 0;
    for (int i = 0; i < 3; i++, p++) {
        if (p == end) return 0;
        if ((uint8_t)(*p - '0') >= 10u) return cg_http_fail(why, CG_EPROTO, bad_status);
        status = status * 10 + (*p - '0');
    }
    if (status < 100) return cg_http_fail(why, CG_EPROTO, "a status code below 100");
    r->status = status;
    if (p == end) return 0;
    const uint8_t *reason = p, *reason_end = p;
    if (*p == ' ') { /* the reason may be empty, and its SP is often left out: both accepted */
        reason = ++p;
        while (p < end && cg_http_is_value(*p)) p++;
        if (p == end) return 0;
        reason_end = p;
    }
    if (*p == '\r') {
        if (p + 1 == end) return 0;
        if (p[1] != '\n') return cg_http_fail(why, CG_EPROTO, "a CR not followed by LF");
        p += 2;
    } else if (*p == '\n') {
        p++;
    } else {
        if (reason != p) return cg_http_fail(why, CG_EPROTO, "a control character in the reason phrase");
        return cg_http_fail(why, CG_EPROTO, (uint8_t)(*p - '0') < 10u ? bad_status : "a malformed status line");
    }
    r->reason = cg_slice_make(reason, (size_t)(reason_end - reason));

    struct cg_http_fields_facts f;
    int rc = cg_http_fields_parse(buf, (size_t)(p - buf), len, lim->max_headers, r->headers, &r->n_headers, &f, why);
    if (rc <= 0) return rc;

    /* RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing */
    if (f.has_te && r->minor_version == 0)
        return cg_http_fail(why, CG_EPROTO, "Transfer-Encoding in an HTTP/1.0 response");
    r->content_length = f.has_cl ? f.content_length : 0;
    /* RFC 9112 9.3 */
    r->keep_alive = !f.conn_close && (r->minor_version == 1 || f.conn_keep_alive);
    /* RFC 9112 6.3 item 3: with both, Transfer-Encoding wins and the connection must close */
    if (f.has_te && f.has_cl) r->keep_alive = false;

    bool head = method.len == 4 && memcmp(method.ptr, "HEAD", 4) == 0;
    bool connect = method.len == 7 && memcmp(method.ptr, "CONNECT", 7) == 0;
    /* RFC 9112 6.3, in its order */
    if (status == 101) /* RFC 9110 15.2.2: the connection switches protocol after the head */
        r->framing = CG_HTTP_BODY_TUNNEL;
    else if (connect && status >= 200 && status < 300) /* item 2; a 204 too (RFC 9110 9.3.6) */
        r->framing = CG_HTTP_BODY_TUNNEL;
    else if (head || status < 200 || status == 204 || status == 304) /* item 1 */
        r->framing = CG_HTTP_BODY_NONE;
    else if (f.has_te) /* items 3 and 4 */
        r->framing = f.te_chunked_final ? CG_HTTP_BODY_CHUNKED : CG_HTTP_BODY_CLOSE;
    else if (f.has_cl) /* items 5 and 6: an invalid Content-Length was refused above */
        r->framing = CG_HTTP_BODY_LENGTH;
    else /* item 8 */
        r->framing = CG_HTTP_BODY_CLOSE;
    /* a close-delimited body, or a connection that is no longer HTTP, is not reused */
    if (r->framing == CG_HTTP_BODY_CLOSE || r->framing == CG_HTTP_BODY_TUNNEL) r->keep_alive = false;
    return rc;
}

int cg_http_response_parse(const uint8_t *buf, size_t len, struct cg_slice method,
                           const struct cg_http_limits *lim, struct cg_http_response *out, const char **why)
{
    struct cg_http_limits l;
    cg_http_limits_resolve(lim, &l);
    size_t scan = len < l.max_head_bytes ? len : l.max_head_bytes;
    out->n_headers = 0;
    if (len == 0) return 0; /* buf may be NULL */
    int rc = parse(buf, scan, method, &l, out, why);
    if (rc == 0 && len >= l.max_head_bytes) return cg_http_fail(why, CG_ELIMIT, "header section too large");
    return rc;
}
