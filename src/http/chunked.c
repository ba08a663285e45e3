/* Chunked transfer coding (RFC 9112 7.1) as a byte-at-a-time state machine, so that a body
 * split anywhere across reads scans the same; chunk data is skipped (or copied) in bulk.
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk   = 1*("0") [ chunk-ext ] CRLF
 *
 * Every line ending here must be CRLF. RFC 9112 2.2 lets a recipient accept a bare LF, but a
 * proxy forwards chunked bodies as they came: a backend that reads line endings differently
 * could then see other chunk boundaries than we did (request smuggling), so we accept only the
 * form every parser agrees on. */
#include <string.h>

#include "http/internal.h"

#define CHUNK_LINE_MAX 4096            /* size line with its extensions */
#define CHUNK_HEX_MAX 16               /* 16 hex digits hold any 64-bit size */
#define TRAILER_DEFAULT (16 * 1024)

enum {
    S_SIZE_START, /* first hex digit of a size line */
    S_SIZE,       /* more hex digits */
    S_SIZE_WS,    /* BWS after the size: only ';' may follow (RFC 9112 7.1.1) */
    S_EXT,        /* chunk extensions: skipped */
    S_SIZE_LF,    /* LF after the size line's CR */
    S_DATA,
    S_DATA_CR,    /* CR after chunk data */
    S_DATA_LF,    /* LF after chunk data */
    S_TR_START,   /* start of a trailer line, or of the final empty line */
    S_TR_NAME,
    S_TR_VALUE,
    S_TR_LF,      /* LF after a trailer line's CR */
    S_TR_END_LF,  /* LF after the final CR */
    S_DONE,
};

void cg_http_chunked_init(struct cg_http_chunked *c)
{
    memset(c, 0, sizeof(*c));
    c->state = S_SIZE_START;
    c->max_trailer_bytes = TRAILER_DEFAULT;
}

static int hexval(uint8_t ch)
{
    if ((uint8_t)(ch - '0') < 10u) return ch - '0';
    ch |= 0x20;
    if ((uint8_t)(ch - 'a') < 6u) return ch - 'a' + 10;
    return -1;
}

int cg_http_chunked_scan(struct cg_http_chunked *c, const uint8_t *buf, size_t len, size_t *consumed,
                         bool *done, struct cg_buf *decode, const char **why)
{
    if (len == 0) { /* buf may be NULL */
        *consumed = 0;
        *done = c->state == S_DONE;
        return 0;
    }
    const uint8_t *p = buf, *end = buf + len;
    size_t max_trailer = c->max_trailer_bytes ? c->max_trailer_bytes : TRAILER_DEFAULT;
    int rc = 0;
    *done = false;

#define FAIL(code, reason)                                                                      \
    do {                                                                                        \
        rc = cg_http_fail(why, code, reason);                                                   \
        goto out;                                                                               \
    } while (0)

    while (p < end && c->state != S_DONE) {
        uint8_t ch = *p;
        if (c->state >= S_SIZE_START && c->state <= S_SIZE_LF && ++c->line_bytes > CHUNK_LINE_MAX)
            FAIL(CG_ELIMIT, "chunk size line too long");
        if (c->state >= S_TR_START && c->state <= S_TR_END_LF && ++c->trailer_bytes > max_trailer)
            FAIL(CG_ELIMIT, "trailer section too large");
        switch (c->state) {
        case S_SIZE_START:
        case S_SIZE: {
            int v = hexval(ch);
            if (v >= 0) {
                /* line_bytes counts the digits so far: the size is the first thing on the line */
                if (c->line_bytes > CHUNK_HEX_MAX) FAIL(CG_EPROTO, "a chunk size that overflows 64 bits");
                c->remaining = (c->remaining << 4) | (uint64_t)v;
                c->state = S_SIZE;
                break;
            }
            if (c->state == S_SIZE_START) FAIL(CG_EPROTO, "a chunk size that is not hex");
            if (ch == ';') c->state = S_EXT;
            else if (ch == ' ' || ch == '\t') c->state = S_SIZE_WS;
            else if (ch == '\r') c->state = S_SIZE_LF;
            else if (ch == '\n') FAIL(CG_EPROTO, "a bare LF ending a chunk size line (CRLF is required)");
            else FAIL(CG_EPROTO, "a chunk size that is not hex");
            break;
        }
        case S_SIZE_WS:
            if (ch == ';') c->state = S_EXT;
            else if (ch != ' ' && ch != '\t') FAIL(CG_EPROTO, "whitespace after a chunk size");
            break;
        case S_EXT:
            if (ch == '\r') c->state = S_SIZE_LF;
            else if (ch == '\n') FAIL(CG_EPROTO, "a bare LF ending a chunk size line (CRLF is required)");
            else if (!cg_http_is_value(ch)) FAIL(CG_EPROTO, "a control character in a chunk extension");
            break;
        case S_SIZE_LF:
            if (ch != '\n') FAIL(CG_EPROTO, "a CR not followed by LF in a chunk size line");
            c->line_bytes = 0;
            if (c->remaining) {
                c->state = S_DATA;
            } else { /* last-chunk: the trailer section follows */
                c->state = S_TR_START;
                c->trailer_bytes = 0;
            }
            break;
        case S_DATA: {
            size_t avail = (size_t)(end - p);
            size_t take = c->remaining < avail ? (size_t)c->remaining : avail;
            if (decode) {
                int arc = cg_buf_append(decode, p, take);
                if (arc < 0) FAIL(arc, "the decoded body is too large");
            }
            p += take;
            c->remaining -= take;
            if (c->remaining == 0) c->state = S_DATA_CR;
            continue; /* p already advanced */
        }
        case S_DATA_CR:
            if (ch != '\r') FAIL(CG_EPROTO, "a chunk not ended by CRLF");
            c->state = S_DATA_LF;
            break;
        case S_DATA_LF:
            if (ch != '\n') FAIL(CG_EPROTO, "a chunk not ended by CRLF");
            c->state = S_SIZE_START;
            break;
        /* trailer-section = *( field-line CRLF ), as in a head (RFC 9112 7.1.2, 5) */
        case S_TR_START:
            if (ch == '\r') c->state = S_TR_END_LF;
            else if (ch == '\n') FAIL(CG_EPROTO, "a bare LF in the trailer section (CRLF is required)");
            else if (ch == ' ' || ch == '\t') FAIL(CG_EPROTO, "obsolete line folding in the trailer section");
            else if (cg_http_is_tchar(ch)) c->state = S_TR_NAME;
            else FAIL(CG_EPROTO, "a bad character in a trailer field name");
            break;
        case S_TR_NAME:
            if (ch == ':') c->state = S_TR_VALUE;
            else if (ch == ' ' || ch == '\t') FAIL(CG_EPROTO, "whitespace between a field name and its colon");
            else if (!cg_http_is_tchar(ch)) FAIL(CG_EPROTO, "a bad character in a trailer field name");
            break;
        case S_TR_VALUE:
            if (ch == '\r') c->state = S_TR_LF;
            else if (ch == '\n') FAIL(CG_EPROTO, "a bare LF in the trailer section (CRLF is required)");
            else if (!cg_http_is_value(ch)) FAIL(CG_EPROTO, "a control character in a trailer field value");
            break;
        case S_TR_LF:
            if (ch != '\n') FAIL(CG_EPROTO, "a CR not followed by LF in the trailer section");
            c->state = S_TR_START;
            break;
        case S_TR_END_LF:
            if (ch != '\n') FAIL(CG_EPROTO, "a CR not followed by LF in the trailer section");
            c->state = S_DONE;
            break;
        default:
            FAIL(CG_EINTERNAL, "chunked scanner in a bad state");
        }
        p++;
    }
    *done = c->state == S_DONE;
out:
#undef FAIL
    *consumed = (size_t)(p - buf);
    return rc;
}
