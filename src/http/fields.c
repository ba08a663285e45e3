/* Field sections (RFC 9112 5, RFC 9110 5): the field-line parser shared by requests and
 * responses, the framing facts derived from the fields, and the field helpers of http.h. */
#include <string.h>

#include "http/internal.h"

/* One load per byte: CG_HTTP_C_TCHAR | VALUE | TARGET | HEX | REGNAME (see internal.h). */
const uint8_t cg_http_chars[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     2, 23,  6,  7, 23, 23, 23, 23, 22, 22, 23, 23, 22, 23, 23,  6,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31,  6, 22,  6, 22,  6,  6,
     6, 31, 31, 31, 31, 31, 31, 23, 23, 23, 23, 23, 23, 23, 23, 23,
    23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23,  6,  6,  6,  7, 23,
     7, 31, 31, 31, 31, 31, 31, 23, 23, 23, 23, 23, 23, 23, 23, 23,
    23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23,  6,  7,  6, 23,  0,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
};

static bool is_ows(uint8_t c) { return c == ' ' || c == '\t'; }
static bool is_digit(uint8_t c) { return (uint8_t)(c - '0') < 10u; }

/* RFC 9110 8.6: Content-Length = 1*DIGIT. A recipient may merge a list of identical values
 * ("42, 42", also spread over several fields); anything else -- a sign, hex, inner spaces, an
 * empty element, differing values, a value over 64 bits -- is refused (RFC 9112 6.3 item 5). */
static int content_length(struct cg_slice v, struct cg_http_fields_facts *f, const char **why)
{
    const uint8_t *p = v.ptr, *end = v.ptr + v.len;
    for (;;) {
        if (p == end || !is_digit(*p)) return cg_http_fail(why, CG_EPROTO, "a Content-Length that is not a plain decimal");
        uint64_t x = 0;
        do {
            unsigned d = (unsigned)(*p - '0');
            if (x > (UINT64_MAX - d) / 10) return cg_http_fail(why, CG_EPROTO, "a Content-Length that overflows 64 bits");
            x = x * 10 + d;
            p++;
        } while (p < end && is_digit(*p));
        if (f->has_cl && x != f->content_length)
            return cg_http_fail(why, CG_EPROTO, "several Content-Length values that differ");
        f->has_cl = true;
        f->content_length = x;
        while (p < end && is_ows(*p)) p++;
        if (p == end) return 0;
        if (*p != ',') return cg_http_fail(why, CG_EPROTO, "a Content-Length that is not a plain decimal");
        p++;
        while (p < end && is_ows(*p)) p++;
    }
}

/* quoted-string (RFC 9110 5.6.4) at *pp, which points at the opening quote; the bytes are
 * already known to be field-value bytes. */
static bool skip_quoted(const uint8_t **pp, const uint8_t *end)
{
    const uint8_t *p = *pp + 1;
    while (p < end) {
        if (*p == '"') {
            *pp = p + 1;
            return true;
        }
        if (*p == '\\' && ++p == end) return false;
        p++;
    }
    return false;
}

static const uint8_t *skip_token(const uint8_t *p, const uint8_t *end)
{
    while (p < end && cg_http_is_tchar(*p)) p++;
    return p;
}

/* RFC 9112 6.1, RFC 9110 10.1.4: Transfer-Encoding = #transfer-coding,
 * transfer-coding = token *( OWS ";" OWS token BWS "=" BWS ( token / quoted-string ) ).
 * Several fields form one list in order. Chunked may be applied once only, and takes no
 * parameters; whether it is the final coding is judged by the caller once all fields are in. */
static int transfer_encoding(struct cg_slice v, struct cg_http_fields_facts *f, const char **why)
{
    static const char bad[] = "a malformed Transfer-Encoding";
    const uint8_t *p = v.ptr, *end = v.ptr + v.len;
    bool any = false;
    for (;;) {
        while (p < end && (is_ows(*p) || *p == ',')) p++; /* empty list elements (RFC 9110 5.6.1) */
        if (p == end) break;
        const uint8_t *name = p;
        p = skip_token(p, end);
        if (p == name) return cg_http_fail(why, CG_EPROTO, bad);
        bool chunked = cg_http_token_is(name, (size_t)(p - name), "chunked", 7);
        if (chunked && f->te_chunked_seen)
            return cg_http_fail(why, CG_EPROTO, "chunked applied more than once in Transfer-Encoding");
        while (p < end && is_ows(*p)) p++;
        while (p < end && *p == ';') {
            if (chunked) return cg_http_fail(why, CG_EPROTO, "parameters on the chunked transfer coding");
            p++;
            while (p < end && is_ows(*p)) p++;
            const uint8_t *pn = p;
            p = skip_token(p, end);
            if (p == pn) return cg_http_fail(why, CG_EPROTO, bad);
            while (p < end && is_ows(*p)) p++;
            if (p == end || *p != '=') return cg_http_fail(why, CG_EPROTO, bad);
            p++;
            while (p < end && is_ows(*p)) p++;
            if (p < end && *p == '"') {
                if (!skip_quoted(&p, end)) return cg_http_fail(why, CG_EPROTO, bad);
            } else {
                const uint8_t *pv = p;
                p = skip_token(p, end);
                if (p == pv) return cg_http_fail(why, CG_EPROTO, bad);
            }
            while (p < end && is_ows(*p)) p++;
        }
        if (p < end && *p != ',') return cg_http_fail(why, CG_EPROTO, bad);
        any = true;
        f->te_chunked_final = chunked;
        f->te_chunked_seen |= chunked;
    }
    if (!any) return cg_http_fail(why, CG_EPROTO, "an empty Transfer-Encoding");
    f->has_te = true;
    return 0;
}

/* Next element of a comma-separated list (RFC 9110 5.6.1), without OWS; empty elements are
 * skipped. Parameters (";...") stay part of the element. */
static bool list_next(const uint8_t **pp, const uint8_t *end, struct cg_slice *elem)
{
    const uint8_t *p = *pp;
    while (p < end && (is_ows(*p) || *p == ',')) p++;
    if (p == end) return false;
    const uint8_t *s = p;
    while (p < end && *p != ',') p++;
    const uint8_t *e = p;
    while (e > s && is_ows(e[-1])) e--;
    *elem = cg_slice_make(s, (size_t)(e - s));
    *pp = p;
    return true;
}

static void connection(struct cg_slice v, struct cg_http_fields_facts *f)
{
    const uint8_t *p = v.ptr, *end = v.ptr + v.len;
    struct cg_slice e;
    while (list_next(&p, end, &e)) {
        if (CG_HTTP_TOKEN_IS(e, "close")) f->conn_close = true;
        else if (CG_HTTP_TOKEN_IS(e, "keep-alive")) f->conn_keep_alive = true;
        else if (CG_HTTP_TOKEN_IS(e, "upgrade")) f->conn_upgrade = true;
    }
}

/* The facts one field contributes; the dispatch on the name's length keeps this to one
 * comparison for almost every field. */
static int field_fact(const struct cg_http_header *hd, struct cg_http_fields_facts *f, const char **why)
{
    switch (hd->name.len) {
    case 4:
        if (CG_HTTP_TOKEN_IS(hd->name, "host")) {
            if (f->n_host++ == 0) f->host = hd->value;
        }
        break;
    case 6:
        if (CG_HTTP_TOKEN_IS(hd->name, "expect") && cg_http_list_has(hd->value, "100-continue"))
            f->expect_continue = true;
        break;
    case 7:
        if (CG_HTTP_TOKEN_IS(hd->name, "upgrade")) f->has_upgrade = true;
        break;
    case 10:
        if (CG_HTTP_TOKEN_IS(hd->name, "connection")) connection(hd->value, f);
        break;
    case 14:
        if (CG_HTTP_TOKEN_IS(hd->name, "content-length")) return content_length(hd->value, f, why);
        break;
    case 17:
        if (CG_HTTP_TOKEN_IS(hd->name, "transfer-encoding")) return transfer_encoding(hd->value, f, why);
        break;
    default:
        break;
    }
    return 0;
}

int cg_http_fields_parse(const uint8_t *buf, size_t pos, size_t len, size_t max_headers, struct cg_http_header *h,
                         size_t *n_headers, struct cg_http_fields_facts *facts, const char **why)
{
    memset(facts, 0, sizeof(*facts));
    const uint8_t *p = buf + pos, *end = buf + len;
    size_t n = 0;
    for (;;) {
        if (p == end) return 0;
        /* the empty line that ends the head */
        if (*p == '\r') {
            if (p + 1 == end) return 0;
            if (p[1] != '\n') return cg_http_fail(why, CG_EPROTO, "a CR not followed by LF");
            p += 2;
            break;
        }
        if (*p == '\n') { /* a bare LF ends a line (RFC 9112 2.2) */
            p++;
            break;
        }
        /* RFC 9112 5.2: obs-fold is refused; RFC 9112 2.2: so is whitespace between the start
         * line and the first field */
        if (is_ows(*p))
            return cg_http_fail(why, CG_EPROTO, n ? "obsolete line folding" : "whitespace before the first field line");

        /* field-name ":" OWS field-value OWS (RFC 9112 5) */
        const uint8_t *name = p;
        p = cg_http_scan(p, end, CG_HTTP_C_TCHAR);
        if (p == end) return 0;
        if (*p != ':') {
            if (p > name && is_ows(*p)) { /* RFC 9112 5.1: "MUST reject" */
                const uint8_t *q = p;
                while (q < end && is_ows(*q)) q++;
                if (q == end || *q == ':')
                    return cg_http_fail(why, CG_EPROTO, "whitespace between a field name and its colon");
            }
            return cg_http_fail(why, CG_EPROTO, "a bad character in a field name");
        }
        if (p == name) return cg_http_fail(why, CG_EPROTO, "an empty field name");
        const uint8_t *name_end = p++;
        while (p < end && is_ows(*p)) p++;
        const uint8_t *val = p;
        p = cg_http_scan(p, end, CG_HTTP_C_VALUE);
        if (p == end) return 0;
        const uint8_t *val_end = p;
        if (*p == '\r') {
            if (p + 1 == end) return 0;
            if (p[1] != '\n') return cg_http_fail(why, CG_EPROTO, "a CR not followed by LF");
            p += 2;
        } else if (*p == '\n') {
            p++;
        } else { /* RFC 9110 5.5: NUL, CR and other controls (but HTAB) are not field content */
            return cg_http_fail(why, CG_EPROTO, "a control character in a field value");
        }
        while (val_end > val && is_ows(val_end[-1])) val_end--;
        if (n == max_headers) return cg_http_fail(why, CG_ELIMIT, "too many header fields");
        h[n].name = cg_slice_make(name, (size_t)(name_end - name));
        h[n].value = cg_slice_make(val, (size_t)(val_end - val));
        CG_GUARD(field_fact(&h[n], facts, why));
        n++;
    }
    *n_headers = n;
    return (int)(p - buf);
}

size_t cg_http_head_end(const uint8_t *buf, size_t len, size_t *scan_from)
{
    size_t i = *scan_from;
    if (i == 0) { /* empty lines before a request line are not the end (RFC 9112 2.2) */
        while (i < len && (buf[i] == '\r' || buf[i] == '\n')) i++;
        if (i == len) return 0;
    }
    while (i < len) {
        const uint8_t *lf = memchr(buf + i, '\n', len - i);
        if (!lf) break;
        size_t at = (size_t)(lf - buf);
        if (at + 1 < len && buf[at + 1] == '\n') {
            *scan_from = at + 2;
            return at + 2;
        }
        if (at + 2 < len && buf[at + 1] == '\r' && buf[at + 2] == '\n') {
            *scan_from = at + 3;
            return at + 3;
        }
        if (at + 2 >= len) { /* the end may straddle the next read: look at this LF again */
            *scan_from = at;
            return 0;
        }
        i = at + 1;
    }
    *scan_from = len;
    return 0;
}

/* ---- field helpers ---- */

static bool case_eq(const uint8_t *p, size_t n, const char *s, size_t sn)
{
    if (n != sn) return false;
    for (size_t i = 0; i < n; i++)
        if (cg_http_lower(p[i]) != cg_http_lower((uint8_t)s[i])) return false;
    return true;
}

const struct cg_http_header *cg_http_header_find(const struct cg_http_header *h, size_t n, const char *name)
{
    size_t nl = strlen(name); /* our own literal, not input */
    for (size_t i = 0; i < n; i++)
        if (case_eq(h[i].name.ptr, h[i].name.len, name, nl)) return &h[i];
    return NULL;
}

static bool list_has_slice(struct cg_slice value, const uint8_t *tok, size_t tok_len)
{
    if (value.len == 0) return false; /* also keeps a NULL slice out of pointer arithmetic */
    const uint8_t *p = value.ptr, *end = value.ptr + value.len;
    struct cg_slice e;
    while (list_next(&p, end, &e)) {
        /* compare the element up to its parameters ("deflate;q=0.5" has "deflate") */
        const uint8_t *semi = memchr(e.ptr, ';', e.len);
        if (semi) {
            e.len = (size_t)(semi - e.ptr);
            while (e.len && is_ows(e.ptr[e.len - 1])) e.len--;
        }
        if (case_eq(e.ptr, e.len, (const char *)tok, tok_len)) return true;
    }
    return false;
}

bool cg_http_list_has(struct cg_slice value, const char *token)
{
    return list_has_slice(value, (const uint8_t *)token, strlen(token));
}

bool cg_http_is_hop_by_hop(struct cg_slice name, const struct cg_http_header *h, size_t n)
{
    /* RFC 9110 7.6.1, plus the fields a proxy consumes itself */
    static const char *const fixed[] = {"connection",          "keep-alive",         "proxy-connection",
                                        "te",                  "transfer-encoding",  "upgrade",
                                        "proxy-authorization", "proxy-authenticate", "trailer"};
    for (size_t i = 0; i < CG_ARRAY_LEN(fixed); i++)
        if (case_eq(name.ptr, name.len, fixed[i], strlen(fixed[i]))) return true;
    if (name.len == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (case_eq(h[i].name.ptr, h[i].name.len, "connection", 10) && list_has_slice(h[i].value, name.ptr, name.len))
            return true;
    return false;
}
