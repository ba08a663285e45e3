/* Request targets in absolute form (RFC 9112 3.2.2) and authority form (3.2.3). */
#include <ctype.h>
#include <string.h>

#include "http/http.h"

static int bad(const char **why, const char *reason)
{
    if (why) *why = reason;
    return CG_EPROTO;
}

/* host[:port] or [v6][:port]; fills host, port, ipv6. */
static int authority(struct cg_slice a, struct cg_http_uri *out, const char **why)
{
    const char *p = (const char *)a.ptr, *end = p + a.len;
    if (a.len == 0) return bad(why, "the target has no host");
    if (memchr(p, '@', a.len)) return bad(why, "user information in the target is not allowed");
    const char *host_end;
    if (*p == '[') {
        const char *close = memchr(p, ']', a.len);
        if (!close || close == p + 1) return bad(why, "an IPv6 address in the target has no closing ']'");
        for (const char *q = p + 1; q < close; q++)
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.') return bad(why, "a bad IPv6 address in the target");
        out->host = cg_slice_make(p + 1, (size_t)(close - p - 1));
        out->ipv6 = true;
        host_end = close + 1;
        if (host_end < end && *host_end != ':') return bad(why, "junk after the IPv6 address in the target");
    } else {
        host_end = memchr(p, ':', a.len);
        if (!host_end) host_end = end;
        if (host_end == p) return bad(why, "the target has no host");
        for (const char *q = p; q < host_end; q++) {
            unsigned char c = (unsigned char)*q;
            if (!isalnum(c) && c != '.' && c != '-' && c != '_') return bad(why, "a bad character in the target's host");
        }
        out->host = cg_slice_make(p, (size_t)(host_end - p));
    }
    out->port = 0;
    if (host_end < end) { /* ':' port */
        const char *d = host_end + 1;
        if (d == end || end - d > 5) return bad(why, "a bad port in the target");
        unsigned v = 0;
        for (; d < end; d++) {
            if (!isdigit((unsigned char)*d)) return bad(why, "a bad port in the target");
            v = v * 10 + (unsigned)(*d - '0');
        }
        if (v == 0 || v > 65535) return bad(why, "the target's port is out of range");
        out->port = (uint16_t)v;
    }
    if (out->host.len > 253) return bad(why, "the target's host is too long");
    return 0;
}

int cg_http_uri_parse(struct cg_slice target, bool authority_only, struct cg_http_uri *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    if (authority_only) {
        CG_GUARD(authority(target, out, why));
        if (!out->port) return bad(why, "a CONNECT target needs a port (host:port)");
        return 0;
    }
    const char *p = (const char *)target.ptr;
    size_t n = target.len;
    const char *sep = n >= 3 ? memchr(p, ':', n) : NULL;
    if (!sep || (size_t)(sep - p) + 3 > n || sep[1] != '/' || sep[2] != '/')
        return bad(why, "the target is not an absolute URI (scheme://host/path)");
    out->scheme = cg_slice_make(p, (size_t)(sep - p));
    if (!cg_slice_case_eq(out->scheme, cg_slice_str("http")) && !cg_slice_case_eq(out->scheme, cg_slice_str("https")))
        return bad(why, "only http:// and https:// targets are proxied");
    const char *auth = sep + 3, *end = p + n;
    const char *path = auth;
    while (path < end && *path != '/' && *path != '?' && *path != '#') path++;
    CG_GUARD(authority(cg_slice_make(auth, (size_t)(path - auth)), out, why));
    if (memchr(path, '#', (size_t)(end - path))) return bad(why, "a fragment in the target is not allowed");
    out->path = path < end ? cg_slice_make(path, (size_t)(end - path)) : cg_slice_str("/");
    return 0;
}
