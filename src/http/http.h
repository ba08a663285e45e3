/* HTTP/1.1 message syntax (RFC 9112) and the semantics a proxy needs (RFC 9110): pure functions
 * over buffers, no I/O, no allocation (picohttpparser style). Heads are parsed in one call when
 * complete; bodies are framed by small streaming state machines, so bodies of any size pass
 * through without being buffered.
 *
 * Strict by design (a proxy that guesses enables request smuggling): each of these is an error,
 * not a guess -- Content-Length together with Transfer-Encoding in a request, several
 * Content-Length values that differ (identical repeats are merged, RFC 9110 8.6), a
 * Content-Length that is not a plain decimal, Transfer-Encoding whose final coding is not
 * chunked in a request, obsolete line folding (RFC 9112 5.2), whitespace between a field name and
 * its colon (5.1), a field name with a non-token character, a CR not followed by LF, a NUL or
 * other control character in a field value (except HTAB), an HTTP version other than 1.0/1.1, a
 * request line with extra spaces, a chunk size that is not hex or overflows 64 bits, a chunk not
 * ended by CRLF, a bare LF in a chunk size or trailer line (chunked bodies are forwarded as
 * they came, so only CRLF is safe there). In heads a bare LF is accepted as a line ending (RFC 9112
 * 2.2) because heads are always
 * re-serialized with CRLF before they are forwarded. */
#ifndef CG_HTTP_HTTP_H
#define CG_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/slice.h"

#define CG_HTTP_MAX_HEADERS 128

/* Limits a peer must stay within; exceeding one is CG_ELIMIT with a reason. */
struct cg_http_limits {
    size_t max_head_bytes;    /* request/status line + fields + final CRLF; default 64 KiB */
    size_t max_headers;       /* <= CG_HTTP_MAX_HEADERS; default 100 */
    size_t max_target_bytes;  /* request target; default 8 KiB */
};
void cg_http_limits_default(struct cg_http_limits *l);

struct cg_http_header {
    struct cg_slice name;  /* as received (compare case-insensitively) */
    struct cg_slice value; /* leading and trailing whitespace removed */
};

enum cg_http_framing {
    CG_HTTP_BODY_NONE,    /* no body (GET without framing headers, 204, 304, HEAD response ...) */
    CG_HTTP_BODY_LENGTH,  /* exactly content_length bytes */
    CG_HTTP_BODY_CHUNKED, /* chunked transfer coding: use struct cg_http_chunked */
    CG_HTTP_BODY_CLOSE,   /* response only: until the connection closes */
    CG_HTTP_BODY_TUNNEL,  /* after a 2xx to CONNECT or a 101: raw bytes both ways */
};

enum cg_http_target_form {
    CG_HTTP_TARGET_ORIGIN,    /* /path?query */
    CG_HTTP_TARGET_ABSOLUTE,  /* http://host[:port]/path (proxy requests) */
    CG_HTTP_TARGET_AUTHORITY, /* host:port (CONNECT only) */
    CG_HTTP_TARGET_ASTERISK,  /* * (OPTIONS only) */
};

struct cg_http_request {
    struct cg_slice method;
    struct cg_slice target;
    enum cg_http_target_form target_form;
    int minor_version; /* 0 or 1 */
    struct cg_http_header headers[CG_HTTP_MAX_HEADERS];
    size_t n_headers;
    /* derived from the fields (RFC 9112 6, RFC 9110 7.6.1, 10.1.1) */
    enum cg_http_framing framing; /* NONE, LENGTH or CHUNKED for requests */
    uint64_t content_length;
    struct cg_slice host;   /* the Host field value; a request without exactly one Host in 1.1 is an error */
    bool keep_alive;        /* 1.1 without "Connection: close", or 1.0 with "Connection: keep-alive" */
    bool expect_continue;   /* Expect: 100-continue */
    bool upgrade;           /* Connection: upgrade and an Upgrade field */
};

/* Returns the length of the head (> 0) when buf holds a complete, valid request head; 0 when
 * more bytes are needed (and the limits are not yet exceeded); or a negative CG_EPROTO /
 * CG_ELIMIT with *why set to a short static reason ("obsolete line folding", "Content-Length
 * with Transfer-Encoding", "header section too large" ...). The slices in out point into buf. */
int cg_http_request_parse(const uint8_t *buf, size_t len, const struct cg_http_limits *lim,
                          struct cg_http_request *out, const char **why);

struct cg_http_response {
    int minor_version;
    int status;          /* 100..999 */
    struct cg_slice reason;
    struct cg_http_header headers[CG_HTTP_MAX_HEADERS];
    size_t n_headers;
    enum cg_http_framing framing;
    uint64_t content_length;
    bool keep_alive;
};

/* As cg_http_request_parse, for a response to a request with `method` (HEAD and CONNECT change
 * the framing, RFC 9112 6.3). 1xx responses parse as complete heads with framing NONE: the
 * caller forwards them and parses again. */
int cg_http_response_parse(const uint8_t *buf, size_t len, struct cg_slice method,
                           const struct cg_http_limits *lim, struct cg_http_response *out, const char **why);

/* Where a head ends, for callers that receive it in pieces: the head's length (through the empty
 * line) when buf holds a complete one, else 0. *scan_from carries the progress between calls on
 * the same growing buffer (0 for a new head), so a head that arrives byte by byte costs linear
 * time, not quadratic (empty lines before a request line are skipped again on each call, which
 * the head cap bounds). Checks nothing but the line endings: call cg_http_request_parse or
 * cg_http_response_parse when it returns > 0, or once len reaches max_head_bytes (to get the
 * CG_ELIMIT); for a valid head it returns the same length as the parsers. */
size_t cg_http_head_end(const uint8_t *buf, size_t len, size_t *scan_from);

/* Chunked transfer coding (RFC 9112 7.1), streamed: feed any bytes, learn how many belong to the
 * body, and when it ended (after the last chunk, the trailer section and its final CRLF).
 * Extensions are skipped; trailer fields are passed through but capped (max_trailer_bytes). */
struct cg_http_chunked {
    int state;
    uint64_t remaining; /* bytes of chunk data left in the current chunk */
    size_t line_bytes;  /* bytes of the current size/trailer line, for the cap */
    size_t trailer_bytes;
    size_t max_trailer_bytes; /* default 16 KiB if 0 */
};
void cg_http_chunked_init(struct cg_http_chunked *c);
/* Scans len bytes: *consumed is how many of them belong to the chunked body (all of them unless
 * the body ended inside buf); *done is set when the body is complete. Returns 0, or CG_EPROTO /
 * CG_ELIMIT with *why. When decode is not NULL, the chunk data (without framing) is appended to
 * it, for callers that need the payload rather than the wire bytes. */
int cg_http_chunked_scan(struct cg_http_chunked *c, const uint8_t *buf, size_t len, size_t *consumed,
                         bool *done, struct cg_buf *decode, const char **why);

/* ---- fields ---- */

/* The first field named name (case-insensitive), or NULL. */
const struct cg_http_header *cg_http_header_find(const struct cg_http_header *h, size_t n, const char *name);
/* True when the comma-separated field value list contains token (case-insensitive). */
bool cg_http_list_has(struct cg_slice value, const char *token);
/* True for a field a proxy must not forward (RFC 9110 7.6.1): Connection, Keep-Alive,
 * Proxy-Connection, TE, Transfer-Encoding, Upgrade, Proxy-Authorization, Proxy-Authenticate,
 * Trailer, and every field named by a Connection field of this message (connection_values are
 * the values of the message's Connection fields). */
bool cg_http_is_hop_by_hop(struct cg_slice name, const struct cg_http_header *h, size_t n);

/* ---- targets ---- */

struct cg_http_uri {
    struct cg_slice scheme;   /* "http" or "https", lowercase compare */
    struct cg_slice host;     /* without brackets for IPv6 */
    uint16_t port;            /* 0 when absent */
    struct cg_slice path;     /* from the first '/' (or '?') on; "/" when empty */
    bool ipv6;
};
/* Parses an absolute-form target "http://host[:port][/path][?query]" (no userinfo: refused), or
 * an authority "host:port" when authority_only. CG_EPROTO with *why otherwise. */
int cg_http_uri_parse(struct cg_slice target, bool authority_only, struct cg_http_uri *out, const char **why);

/* ---- serializing ---- */

/* Appends "METHOD TARGET HTTP/1.1\r\n". */
CG_RESULT cg_http_write_request_line(struct cg_buf *out, struct cg_slice method, struct cg_slice target);
/* Appends "HTTP/1.1 STATUS REASON\r\n" (the standard reason phrase when reason is empty). */
CG_RESULT cg_http_write_status_line(struct cg_buf *out, int status, struct cg_slice reason);
/* Appends "Name: value\r\n". */
CG_RESULT cg_http_write_header(struct cg_buf *out, struct cg_slice name, struct cg_slice value);
/* The standard reason phrase of a status ("Bad Gateway"), "" for unknown ones. */
const char *cg_http_reason(int status);

#endif
