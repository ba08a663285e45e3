/* The admin listener's HTTP/1.1 server (SPEC.md section 4, "Admin API and web UI"): plain HTTP on
 * loopback by default, HTTPS (optionally asking for a client certificate) when given an SSL_CTX.
 * It runs on the control thread's libuv loop, reads whole requests (head and body, both capped),
 * hands each one to a synchronous handler and writes its answer; the handler never sees a
 * malformed request. Requests are small and rare: clarity and strict limits over speed.
 *
 * What the server answers by itself (JSON bodies {"error": CODE, "message": TEXT} like the API):
 * 400 for a malformed head (the http parser's reason) and then closes; 431 for a head over the
 * limit; 413 when Content-Length (or the chunked body as it arrives) exceeds max_body_bytes --
 * before reading the body, and before sending "100 Continue" when the client expects one; 408
 * when a head or body does not arrive in time; 501 for Transfer-Encoding other than chunked;
 * 503 with `Retry-After: 1` when more request bodies are in flight, over all connections, than
 * 4 x max_body_bytes. Their codes, in order: bad_request, header_too_large, too_large, timeout,
 * not_implemented, busy (and internal for a 500). Every answer carries Content-Length (but 204),
 * Date, `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`; `Connection: close`
 * when the server closes after it. */
#ifndef CG_ADMIN_SERVER_H
#define CG_ADMIN_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/slice.h"
#include "http/http.h"

/* One complete request. Every slice points into the server's buffers and is valid during the
 * handler call only. */
struct cg_admin_request {
    struct cg_slice method;
    struct cg_slice path;   /* the target up to '?', still percent-encoded */
    struct cg_slice query;  /* after '?', without it; empty when none */
    const struct cg_http_header *headers;
    size_t n_headers;
    const uint8_t *body;    /* de-chunked when it came chunked */
    size_t body_len;
    const char *peer;       /* "ip:port" of the client */
    bool tls;               /* came over HTTPS */
    X509 *client_cert;      /* HTTPS: the client's certificate when it sent one and it verified;
                             * NULL otherwise (borrowed) */
};

/* The handler's answer. body is initialised empty by the server; content_type NULL means
 * "application/json". */
struct cg_admin_response {
    int status;
    const char *content_type;
    struct cg_buf body;
    char extra_headers[512]; /* more "Name: value\r\n" lines (WWW-Authenticate, Location, ...);
                              * not the fields the server writes itself (a malformed line, or one
                              * of those, is a bug: the client gets 500) */
};

typedef void (*cg_admin_handler_fn)(void *arg, const struct cg_admin_request *rq, struct cg_admin_response *rs);

struct cg_admin_server_config {
    const char *addr;         /* "127.0.0.1:9090", "[::1]:9090" */
    SSL_CTX *tls;             /* NULL: plain HTTP; else HTTPS with this context (the server takes
                               * a reference) */
    size_t max_body_bytes;    /* 413 above; 0 = 8 MiB */
    struct cg_http_limits limits;
    uint32_t head_timeout_ms; /* head and body must arrive in this time; 0 = 10 s */
    uint32_t idle_timeout_ms; /* a keep-alive connection waits this long for the next request; 0 = 30 s */
    size_t max_connections;   /* accepted beyond this are closed at once; 0 = 64 */
    cg_admin_handler_fn handler;
    void *arg;
};

struct cg_admin_server;

/* Listens on cfg->addr (errors name the address: in use, not an address ...). */
CG_RESULT cg_admin_server_start(uv_loop_t *loop, const struct cg_admin_server_config *cfg,
                                struct cg_admin_server **out, struct cg_err *err);
/* Replaces the TLS context for new connections (a reload changed the admin certificate); NULL
 * keeps plain HTTP plain and is ignored by an HTTPS server (it never falls back to plain HTTP).
 * Takes a reference. Call it on the loop's thread. */
void cg_admin_server_set_tls(struct cg_admin_server *s, SSL_CTX *tls);
/* Connections accepted since the start, and open now (for /metrics). */
void cg_admin_server_counts(const struct cg_admin_server *s, uint64_t *accepted, uint64_t *open);
/* Stops listening and closes every connection; the server is freed once the loop has closed its
 * handles (run the loop once more). */
void cg_admin_server_stop(struct cg_admin_server *s);

/* ---- helpers for handlers ---- */

/* Sets status and a JSON body {"error": code, "message": message} (message may be NULL: the
 * status' reason phrase then), content_type NULL (JSON). */
void cg_admin_error(struct cg_admin_response *rs, int status, const char *code, const char *message);
/* The same with the API's optional members: "hint" (what to do; omitted when NULL or empty) and
 * "field" (the request member the error concerns; omitted when NULL). */
void cg_admin_error_full(struct cg_admin_response *rs, int status, const char *code, const char *message,
                         const char *hint, const char *field);

/* Percent-decodes s into out (NUL-terminated; '+' is a space only when form is set). CG_EPROTO
 * for a bad escape or a decoded NUL; CG_ELIMIT when it does not fit. */
CG_RESULT cg_admin_pct_decode(struct cg_slice s, bool form, char *out, size_t n);
/* The value of name in an application/x-www-form-urlencoded query (decoded into out); 0 found,
 * CG_ENOTFOUND, or the decode errors. */
CG_RESULT cg_admin_query_get(struct cg_slice query, const char *name, char *out, size_t n);

#endif
