/* multipart/form-data (RFC 7578 over RFC 2046 5.1): the boundary from the Content-Type, then the
 * parts of a body held whole in memory, as slices into it.
 *
 *   multipart-body := [preamble CRLF] dash-boundary transport-padding CRLF body-part
 *                     *( delimiter transport-padding CRLF body-part )
 *                     close-delimiter transport-padding [CRLF epilogue]
 *   delimiter      := CRLF "--" boundary      close-delimiter := delimiter "--"
 *
 * A delimiter is recognised only where the grammar allows one: "--boundary" at the very start or
 * after a CRLF, and followed by "--" or by optional padding and a CRLF. Anything else that looks
 * like one ("--boundary" inside data without a CRLF before it, or "--boundaryX") is data, as Go's
 * mime/multipart reads it. Part heads are strict (CRLF line endings, token names, no control
 * characters, no folding) and capped; the content is returned exactly as sent. */
#include <string.h>

#include "http/internal.h"
#include "http/multipart.h"

#define PART_HEAD_MAX 4096

static int fail(const char **why, int code, const char *reason)
{
    return cg_http_fail(why, code, reason);
}

/* ---- the boundary ---- */

/* bcharsnospace (RFC 2046 5.1.1); a space is allowed too, but not last. */
static bool is_bchar(uint8_t c)
{
    if ((uint8_t)(c - '0') < 10u || (uint8_t)((c | 0x20) - 'a') < 26u) return true;
    return c != 0 && strchr("'()+_,-./:=? ", c) != NULL;
}

static bool boundary_extra(uint8_t c)
{
    return c == '=' || c == '?' || c == '/' || c == ':';
}

static struct cg_slice skip_ows(struct cg_slice s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    return s;
}

/* A quoted-string (RFC 9110 5.6.4) at the start of s: its inner bytes as sent (escapes kept) in
 * *inner, and the bytes it took in *used; false when it is not well formed. */
static bool quoted_string(struct cg_slice s, struct cg_slice *inner, size_t *used)
{
    if (s.len == 0 || s.ptr[0] != '"') return false;
    for (size_t i = 1; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c == '"') {
            *inner = cg_slice_make(s.ptr + 1, i - 1);
            *used = i + 1;
            return true;
        }
        if (c == '\\') { /* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
            if (++i == s.len || !cg_http_is_value(s.ptr[i])) return false;
        } else if (!cg_http_is_value(c)) {
            return false;
        }
    }
    return false;
}

/* One "; name=value" parameter at the start of s (after the ';'): name and value (a token, or the
 * inner bytes of a quoted-string), and how many bytes it took. */
static bool parameter(struct cg_slice s, struct cg_slice *name, struct cg_slice *value, size_t *used)
{
    size_t lead = s.len;
    s = skip_ows(s);
    lead -= s.len;
    size_t n = 0;
    while (n < s.len && cg_http_is_tchar(s.ptr[n])) n++;
    if (n == 0 || n == s.len || s.ptr[n] != '=') return false;
    *name = cg_slice_make(s.ptr, n);
    struct cg_slice rest = cg_slice_make(s.ptr + n + 1, s.len - n - 1);
    size_t vlen;
    if (rest.len && rest.ptr[0] == '"') {
        if (!quoted_string(rest, value, &vlen)) return false;
    } else {
        /* a token; the boundary's own characters ('=', '?', '/', ':') are tolerated unquoted */
        vlen = 0;
        while (vlen < rest.len && (cg_http_is_tchar(rest.ptr[vlen]) || boundary_extra(rest.ptr[vlen]))) vlen++;
        if (vlen == 0) return false;
        *value = cg_slice_make(rest.ptr, vlen);
    }
    struct cg_slice after = skip_ows(cg_slice_make(rest.ptr + vlen, rest.len - vlen));
    if (after.len && after.ptr[0] != ';') return false;
    *used = lead + n + 1 + vlen + (rest.len - vlen - after.len);
    return true;
}

/* Called for each parameter: 0 to go on, or an error that ends the walk. */
typedef int param_fn(void *arg, struct cg_slice name, struct cg_slice value);

/* Walks the parameters after the type in s (s starts at the first ';' or is empty), calling
 * visit for each: 0, visit's error, or CG_EPROTO with *why = bad for a malformed one. */
static int parameters(struct cg_slice s, param_fn *visit, void *arg, const char **why, const char *bad)
{
    while (s.len) {
        if (s.ptr[0] != ';') return fail(why, CG_EPROTO, bad);
        s = cg_slice_make(s.ptr + 1, s.len - 1);
        if (skip_ows(s).len == 0) break; /* a trailing ';' */
        struct cg_slice name, value;
        size_t used;
        if (!parameter(s, &name, &value, &used)) return fail(why, CG_EPROTO, bad);
        int rc = visit(arg, name, value);
        if (rc < 0) return rc;
        s = cg_slice_make(s.ptr + used, s.len - used);
    }
    return 0;
}

/* The media type before the parameters ("multipart/form-data"), trimmed; rest gets the
 * parameters from the first ';'. */
static struct cg_slice media_type(struct cg_slice v, struct cg_slice *rest)
{
    v = skip_ows(v);
    if (v.len == 0) { /* an absent field: v.ptr may be NULL */
        *rest = v;
        return v;
    }
    const uint8_t *semi = memchr(v.ptr, ';', v.len);
    size_t n = semi ? (size_t)(semi - v.ptr) : v.len;
    *rest = cg_slice_make(v.ptr + n, v.len - n);
    struct cg_slice t = cg_slice_make(v.ptr, n);
    while (t.len && (t.ptr[t.len - 1] == ' ' || t.ptr[t.len - 1] == '\t')) t.len--;
    return t;
}

struct boundary_visit {
    struct cg_slice *out;
    const char **why;
    bool seen;
};

static int boundary_param(void *arg, struct cg_slice name, struct cg_slice value)
{
    struct boundary_visit *v = arg;
    if (!CG_HTTP_TOKEN_IS(name, "boundary")) return 0;
    if (v->seen) return fail(v->why, CG_EPROTO, "two boundary parameters in the Content-Type");
    v->seen = true;
    if (value.len == 0 || value.len > CG_MULTIPART_MAX_BOUNDARY)
        return fail(v->why, CG_EPROTO, "a boundary that is empty or longer than 70 characters");
    for (size_t i = 0; i < value.len; i++)
        if (!is_bchar(value.ptr[i])) return fail(v->why, CG_EPROTO, "a bad character in the boundary");
    if (value.ptr[value.len - 1] == ' ') return fail(v->why, CG_EPROTO, "a boundary that ends with a space");
    *v->out = value;
    return 0;
}

int cg_multipart_boundary(struct cg_slice content_type, struct cg_slice *boundary, const char **why)
{
    const char *ignored;
    if (!why) why = &ignored;
    *boundary = cg_slice_make(NULL, 0);
    struct cg_slice params;
    struct cg_slice type = media_type(content_type, &params);
    if (!CG_HTTP_TOKEN_IS(type, "multipart/form-data"))
        return fail(why, CG_EPROTO, "the Content-Type is not multipart/form-data");
    struct boundary_visit v = {boundary, why, false};
    CG_GUARD(parameters(params, boundary_param, &v, why, "a malformed parameter in the Content-Type"));
    if (!v.seen) return fail(why, CG_EPROTO, "multipart/form-data without a boundary parameter");
    return 0;
}

/* ---- the body ---- */

struct scan {
    const uint8_t *body;
    size_t len;
    struct cg_slice boundary;
};

/* Whether a "--boundary" ending at i (the index after it) is a delimiter: followed by "--" (the
 * close delimiter: *close set) or by transport padding and CRLF (*next is the index after it). */
static bool delimiter_end(const struct scan *s, size_t i, bool *close, size_t *next)
{
    if (i + 2 <= s->len && s->body[i] == '-' && s->body[i + 1] == '-') {
        *close = true;
        *next = i + 2;
        return true;
    }
    while (i < s->len && (s->body[i] == ' ' || s->body[i] == '\t')) i++;
    if (i + 2 > s->len || s->body[i] != '\r' || s->body[i + 1] != '\n') return false;
    *close = false;
    *next = i + 2;
    return true;
}

/* The next delimiter "CRLF--boundary" at or after from: its offset (where the part before it
 * ends) in *at; -1 when there is none. */
static int next_delimiter(const struct scan *s, size_t from, size_t *at, bool *close, size_t *next)
{
    size_t blen = s->boundary.len;
    while (from < s->len) {
        const uint8_t *p = memmem(s->body + from, s->len - from, "\r\n--", 4);
        if (!p) return -1;
        size_t i = (size_t)(p - s->body);
        if (i + 4 + blen <= s->len && memcmp(p + 4, s->boundary.ptr, blen) == 0 &&
            delimiter_end(s, i + 4 + blen, close, next)) {
            *at = i;
            return 0;
        }
        from = i + 1;
    }
    return -1;
}

/* The first delimiter: "--boundary" at the very start, or else after the preamble's CRLF. */
static int first_delimiter(const struct scan *s, bool *close, size_t *next)
{
    size_t blen = s->boundary.len, at;
    if (s->len >= 2 + blen && s->body[0] == '-' && s->body[1] == '-' && memcmp(s->body + 2, s->boundary.ptr, blen) == 0 &&
        delimiter_end(s, 2 + blen, close, next))
        return 0;
    return next_delimiter(s, 0, &at, close, next);
}

/* ---- part heads ---- */

struct disposition {
    struct cg_multipart_part *part;
    const char **why;
    bool has_name, has_filename;
};

static int disposition_param(void *arg, struct cg_slice name, struct cg_slice value)
{
    struct disposition *d = arg;
    bool *seen;
    struct cg_slice *out;
    if (CG_HTTP_TOKEN_IS(name, "name")) {
        seen = &d->has_name;
        out = &d->part->name;
    } else if (CG_HTTP_TOKEN_IS(name, "filename")) {
        seen = &d->has_filename;
        out = &d->part->filename;
    } else {
        return 0; /* filename* and others: RFC 7578 4.2 says senders do not use them */
    }
    if (*seen) return fail(d->why, CG_EPROTO, "a Content-Disposition with a repeated name or filename parameter");
    *seen = true;
    *out = value;
    return 0;
}

static int content_disposition(struct cg_slice value, struct cg_multipart_part *part, const char **why)
{
    struct cg_slice params;
    struct cg_slice type = media_type(value, &params);
    if (!CG_HTTP_TOKEN_IS(type, "form-data"))
        return fail(why, CG_EPROTO, "part without Content-Disposition: form-data");
    struct disposition d = {part, why, false, false};
    CG_GUARD(parameters(params, disposition_param, &d, why, "bad part header (a malformed Content-Disposition)"));
    if (!d.has_name) return fail(why, CG_EPROTO, "a part whose Content-Disposition has no name");
    return 0;
}

/* One "Name: value" line (without its CRLF) of a part head. */
static int head_line(struct cg_slice line, struct cg_multipart_part *part, bool *has_disposition, const char **why)
{
    size_t n = 0;
    while (n < line.len && cg_http_is_tchar(line.ptr[n])) n++;
    if (n == 0 || n == line.len || line.ptr[n] != ':')
        return fail(why, CG_EPROTO, "bad part header (not a \"Name: value\" line)");
    struct cg_slice name = cg_slice_make(line.ptr, n);
    struct cg_slice value = skip_ows(cg_slice_make(line.ptr + n + 1, line.len - n - 1));
    while (value.len && (value.ptr[value.len - 1] == ' ' || value.ptr[value.len - 1] == '\t')) value.len--;
    for (size_t i = 0; i < value.len; i++)
        if (!cg_http_is_value(value.ptr[i])) return fail(why, CG_EPROTO, "bad part header (a control character)");
    if (CG_HTTP_TOKEN_IS(name, "content-disposition")) {
        if (*has_disposition) return fail(why, CG_EPROTO, "a part with two Content-Disposition fields");
        *has_disposition = true;
        return content_disposition(value, part, why);
    }
    if (CG_HTTP_TOKEN_IS(name, "content-type")) part->content_type = value;
    return 0; /* other fields (Content-Transfer-Encoding ...) are ignored, RFC 7578 4.7 */
}

/* Splits raw (one part, between delimiters) into its head and content. */
static int part_parse(struct cg_slice raw, struct cg_multipart_part *part, const char **why)
{
    memset(part, 0, sizeof(*part));
    bool has_disposition = false;
    size_t i = 0;
    for (;;) {
        /* look no further than the cap: a head is found within it or refused */
        size_t window = raw.len < PART_HEAD_MAX ? raw.len : PART_HEAD_MAX;
        const uint8_t *lf = i < window ? memchr(raw.ptr + i, '\n', window - i) : NULL;
        if (!lf && raw.len >= PART_HEAD_MAX) return fail(why, CG_ELIMIT, "a part head over 4 KiB");
        size_t end = lf ? (size_t)(lf - raw.ptr) : raw.len;
        if (!lf) return fail(why, CG_EPROTO, "bad part header (the head does not end with an empty line)");
        if (end == i || raw.ptr[end - 1] != '\r') return fail(why, CG_EPROTO, "bad part header (a bare LF)");
        struct cg_slice line = cg_slice_make(raw.ptr + i, end - 1 - i);
        i = end + 1;
        if (line.len == 0) break; /* the empty line ends the head */
        /* a continuation line (obsolete folding) belongs to this field: refuse before reading it */
        if (line.ptr[0] == ' ' || line.ptr[0] == '\t' || (i < raw.len && (raw.ptr[i] == ' ' || raw.ptr[i] == '\t')))
            return fail(why, CG_EPROTO, "bad part header (obsolete line folding)");
        CG_GUARD(head_line(line, part, &has_disposition, why));
    }
    if (!has_disposition) return fail(why, CG_EPROTO, "part without Content-Disposition: form-data");
    part->data = cg_slice_make(raw.ptr + i, raw.len - i);
    return 0;
}

int cg_multipart_parse(const uint8_t *body, size_t len, struct cg_slice boundary, struct cg_multipart *out,
                       const char **why)
{
    const char *ignored;
    if (!why) why = &ignored;
    out->n = 0;
    if (boundary.len == 0 || boundary.len > CG_MULTIPART_MAX_BOUNDARY)
        return fail(why, CG_EPROTO, "a boundary that is empty or longer than 70 characters");
    struct scan s = {body, body ? len : 0, boundary};
    bool close;
    size_t next, at;
    if (first_delimiter(&s, &close, &next) < 0) return fail(why, CG_EPROTO, "no opening boundary");
    while (!close) {
        size_t start = next;
        if (next_delimiter(&s, start, &at, &close, &next) < 0) return fail(why, CG_EPROTO, "no closing boundary");
        if (out->n == CG_MULTIPART_MAX_PARTS) return fail(why, CG_ELIMIT, "more than 16 parts");
        CG_GUARD(part_parse(cg_slice_make(body + start, at - start), &out->parts[out->n], why));
        out->n++;
    }
    return 0; /* what follows the close delimiter is the epilogue: ignored */
}
