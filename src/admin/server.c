/* The admin listener's HTTP/1.1 server (server.h says what it answers). One connection is a small
 * state machine over net/conn.h (a non-blocking socket, OpenSSL on the fd for HTTPS, watched by a
 * libuv poll handle: the same I/O the proxies use):
 *
 *   HANDSHAKE -> HEAD -> [BODY] -> handler -> WRITE -> HEAD (keep-alive) ...
 *                                                  \-> LINGER -> closed
 *
 * One request at a time: while a response is written the connection does not read, so a client
 * that pipelines without reading its answers fills its own socket buffers, never ours. The input
 * buffer holds the current request from its first byte (and whatever the client pipelined after
 * it), capped at head + body + one read; a chunked body is decoded into a buffer of its own as it
 * arrives and its wire bytes are dropped, so that framing overhead cannot grow memory either.
 *
 * Timers (one per connection): a request's head and body must arrive within head_timeout_ms of its
 * first byte (408 otherwise; no 408 for a connection that sent nothing); an idle keep-alive
 * connection is closed after idle_timeout_ms (head_timeout_ms before the first request, which
 * also bounds the TLS handshake); a response must make progress every idle_timeout_ms. When the
 * server closes after an answer it shuts down its sending side and reads (and drops) what the
 * client still sends for a moment ("lingering close", RFC 9112 9.6): closing with unread bytes
 * would reset the connection and could destroy the answer before the client reads it.
 *
 * The listening socket is bound here (SO_REUSEADDR, never SO_REUSEPORT: a second daemon on the
 * same port must fail, not share it) and accepted from with a poll handle as net/worker.c does:
 * an accepted socket goes to a cg_conn, which must own its fd, and a bind error is then known
 * before any handle exists. */
#include "admin/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "net/conn.h"

#define READ_CHUNK (16 * 1024)
#define MAX_BODY_CEILING (1024u * 1024 * 1024) /* keeps the size sums below from overflowing */
#define RESPONSE_MAX (64u * 1024 * 1024) /* what a handler may answer */
#define LINGER_MS 2000
#define LINGER_MAX_BYTES (256 * 1024)
#define BACKLOG 64
/* Request bodies held at once, over all connections, in multiples of max_body_bytes: enough for a
 * few uploads in parallel, and a bound on memory whatever max_connections is. */
#define UPLOAD_BUDGET_BODIES 4
#define ADDR_MAX 128

enum state { ST_HANDSHAKE, ST_HEAD, ST_BODY, ST_WRITE, ST_LINGER };
enum after { AFTER_NEXT, AFTER_BODY, AFTER_CLOSE }; /* what follows a write */

struct conn {
    struct cg_conn io; /* first: the poll's close callback finds the connection */
    uv_timer_t timer;
    struct cg_admin_server *srv;
    struct conn *prev, *next;
    enum state state;
    enum after after;
    int handles_open;        /* the poll and the timer: freed when both have closed */
    bool tls;
    bool idle;               /* no byte of the next request yet */
    bool first;              /* before the first request */
    uint64_t deadline;       /* loop time by which the current request must be complete */
    struct cg_buf in;        /* the current request from its first byte, and what follows it */
    size_t scan_from;        /* cg_http_head_end's progress */
    bool probed;             /* the incomplete head was parsed once, for an early 400 */
    size_t reserved;         /* this request's share of the server's upload budget */
    size_t head_len;         /* 0 until the head is parsed */
    struct cg_http_request req;
    struct cg_http_chunked chunked;
    struct cg_buf body;      /* a chunked body, decoded */
    struct cg_buf out;
    size_t out_off;
    size_t lingered;
    char peer[INET6_ADDRSTRLEN + 8];
};

struct cg_admin_server {
    uv_loop_t *loop;
    int fd;
    uv_poll_t listen_poll;
    bool listen_open;        /* the poll handle exists (not yet closed) */
    SSL_CTX *tls;
    struct cg_admin_server_config cfg; /* defaults filled in; addr points at addr[] */
    char addr[ADDR_MAX];
    struct conn conns;       /* list head */
    size_t n_conns;          /* connection objects alive (closing ones included) */
    uint64_t accepted;       /* connections accepted since the start (for /metrics) */
    uint64_t open;           /* connections open now (not closing) */
    uint64_t refused;        /* connections over the cap, for the log */
    size_t reserved;         /* body bytes promised to requests in progress (see UPLOAD_BUDGET_BODIES) */
    bool stopping;
};

static void drive(struct conn *c);
static void conn_close(struct conn *c);

/* ---- helpers for handlers ---- */

void cg_admin_error(struct cg_admin_response *rs, int status, const char *code, const char *message)
{
    cg_admin_error_full(rs, status, code, message, NULL, NULL);
}

void cg_admin_error_full(struct cg_admin_response *rs, int status, const char *code, const char *message,
                         const char *hint, const char *field)
{
    rs->status = status;
    rs->content_type = NULL;
    cg_buf_reset(&rs->body);
    if (!message || !*message) message = cg_http_reason(status);
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "error", json_string(code ? code : "error"));
        json_object_set_new(o, "message", json_string(message));
        if (hint && *hint) json_object_set_new(o, "hint", json_string(hint));
        if (field) json_object_set_new(o, "field", json_string(field));
    }
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    /* a JSON text is never empty: an empty body says that memory ran out */
    if (text && cg_buf_append_str(&rs->body, text) == 0 && cg_buf_append(&rs->body, "\n", 1) < 0)
        cg_buf_reset(&rs->body);
    free(text);
}

int cg_admin_pct_decode(struct cg_slice s, bool form, char *out, size_t n)
{
    int rc = cg_pct_decode(s, form, out, n, NULL);
    return rc == CG_EINVAL ? CG_EPROTO : rc; /* a decoded NUL is malformed input here */
}

int cg_admin_query_get(struct cg_slice query, const char *name, char *out, size_t n)
{
    size_t want = strlen(name);
    const uint8_t *p = query.ptr, *end = query.ptr + query.len;
    while (p < end) {
        const uint8_t *amp = memchr(p, '&', (size_t)(end - p));
        const uint8_t *pair_end = amp ? amp : end;
        const uint8_t *eq = memchr(p, '=', (size_t)(pair_end - p));
        const uint8_t *key_end = eq ? eq : pair_end;
        char key[256];
        /* a key that does not decode, or is longer than any we know, is not the one asked for */
        if (cg_admin_pct_decode(cg_slice_make(p, (size_t)(key_end - p)), true, key, sizeof(key)) == 0 &&
            strlen(key) == want && memcmp(key, name, want) == 0) {
            const uint8_t *v = eq ? eq + 1 : pair_end;
            return cg_admin_pct_decode(cg_slice_make(v, (size_t)(pair_end - v)), true, out, n);
        }
        p = amp ? amp + 1 : end;
    }
    if (n) out[0] = '\0';
    return CG_ENOTFOUND;
}

/* ---- the connection list and its lifetime ---- */

static void conn_freed(struct conn *c)
{
    struct cg_admin_server *s = c->srv;
    cg_buf_cleanup(&c->in);
    cg_buf_cleanup(&c->body);
    cg_buf_cleanup(&c->out);
    cg_free(c);
    s->n_conns--;
    if (s->stopping && s->n_conns == 0 && !s->listen_open) {
        SSL_CTX_free(s->tls);
        cg_free(s);
    }
}

static void handle_closed(struct conn *c)
{
    if (--c->handles_open == 0) conn_freed(c);
}

static void poll_closed_cb(struct cg_conn *io) { handle_closed((struct conn *)io); }
static void timer_closed_cb(uv_handle_t *h) { handle_closed(h->data); }

static void release_body(struct conn *c)
{
    c->srv->reserved -= c->reserved;
    c->reserved = 0;
}

static void conn_close(struct conn *c)
{
    if (c->io.closing) return;
    release_body(c);
    c->srv->open--;
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->next = c->prev = c;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, timer_closed_cb);
    cg_conn_close(&c->io); /* ends TLS quietly, closes the fd; poll_closed_cb later */
}

/* ---- timers ---- */

static void timer_cb(uv_timer_t *t);

static void arm(struct conn *c, uint64_t ms)
{
    uv_timer_start(&c->timer, timer_cb, ms ? ms : 1, 0);
}

/* The first byte of a request: its head and body must now arrive in head_timeout_ms. */
static void request_started(struct conn *c)
{
    c->idle = false;
    c->deadline = uv_now(c->srv->loop) + c->srv->cfg.head_timeout_ms;
    arm(c, c->srv->cfg.head_timeout_ms);
}

static void arm_deadline(struct conn *c)
{
    uint64_t now = uv_now(c->srv->loop);
    arm(c, c->deadline > now ? c->deadline - now : 1);
}

static void wait_idle(struct conn *c)
{
    c->idle = true;
    arm(c, c->first ? c->srv->cfg.head_timeout_ms : c->srv->cfg.idle_timeout_ms);
}

/* ---- answers ---- */

static void response_init(struct cg_admin_response *rs)
{
    memset(rs, 0, sizeof(*rs));
    rs->status = 200;
    cg_buf_init_secret(&rs->body, RESPONSE_MAX);
}

/* The handler's extra header lines must be well formed "Name: value\r\n" lines: a stray CR or LF
 * would let a value taken from a request split the response. */
static bool extra_headers_valid(const char *h)
{
    static const char *const ours[] = {"Content-Length", "Transfer-Encoding", "Connection", "Content-Type", "Date",
                                       "Cache-Control", "X-Content-Type-Options"};
    while (*h) {
        const char *colon = strchr(h, ':');
        const char *crlf = strstr(h, "\r\n");
        if (!colon || !crlf || colon > crlf || colon == h) return false;
        struct cg_slice name = cg_slice_make(h, (size_t)(colon - h));
        for (size_t i = 0; i < CG_ARRAY_LEN(ours); i++) /* the server writes these */
            if (cg_slice_case_eq(name, cg_slice_str(ours[i]))) return false;
        struct cg_buf probe;
        cg_buf_init(&probe, 0);
        struct cg_slice value = cg_slice_trim(cg_slice_make(colon + 1, (size_t)(crlf - colon - 1)));
        int rc = cg_http_write_header(&probe, name, value);
        cg_buf_cleanup(&probe);
        if (rc < 0) return false;
        h = crlf + 2;
    }
    return true;
}

/* IMF-fixdate (RFC 9110 5.6.7), in English whatever the locale. */
static void http_date(char *out, size_t n)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm)) memset(&tm, 0, sizeof(tm));
    snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int write_field(struct cg_buf *out, const char *name, const char *value)
{
    return cg_http_write_header(out, cg_slice_str(name), cg_slice_str(value));
}

/* Status line, fields and (unless head_only) body into out. */
static int serialize(struct cg_buf *out, const struct cg_admin_response *rs, bool head_only, bool close,
                     bool http10_keep_alive)
{
    /* RFC 9110 6.4.1, 8.6: 204 and 304 have no content, and 204 no Content-Length */
    bool no_content = rs->status == 204 || rs->status == 304;
    char date[40], length[24];
    http_date(date, sizeof(date));
    snprintf(length, sizeof(length), "%zu", rs->body.len);
    CG_GUARD(cg_http_write_status_line(out, rs->status, cg_slice_make(NULL, 0)));
    CG_GUARD(write_field(out, "Date", date));
    if (!no_content) {
        CG_GUARD(write_field(out, "Content-Type", rs->content_type ? rs->content_type : "application/json"));
        CG_GUARD(write_field(out, "Content-Length", length));
    }
    CG_GUARD(write_field(out, "Cache-Control", "no-store"));
    CG_GUARD(write_field(out, "X-Content-Type-Options", "nosniff"));
    CG_GUARD(cg_buf_append_str(out, rs->extra_headers));
    if (close) CG_GUARD(write_field(out, "Connection", "close"));
    else if (http10_keep_alive) CG_GUARD(write_field(out, "Connection", "keep-alive"));
    CG_GUARD(cg_buf_append(out, "\r\n", 2));
    if (!head_only && !no_content) CG_GUARD(cg_buf_append(out, rs->body.ptr, rs->body.len));
    return 0;
}

/* Queues an answer and switches to writing it; then what `after` says. */
static void respond(struct conn *c, struct cg_admin_response *rs, bool head_only, enum after after,
                    bool http10_keep_alive)
{
    cg_buf_cleanup(&c->out);
    cg_buf_init_secret(&c->out, 0);
    c->out_off = 0;
    rs->extra_headers[sizeof(rs->extra_headers) - 1] = '\0';
    bool status_ok = rs->status >= 200 && rs->status <= 599;
    if (!status_ok || !extra_headers_valid(rs->extra_headers)) {
        if (status_ok)
            CG_LOG_E("admin: %s: the handler's extra header lines are malformed or set a field the server "
                     "writes; sent 500 instead (a bug)", c->peer);
        else
            CG_LOG_E("admin: %s: the handler answered status %d; sent 500 instead (a bug)", c->peer, rs->status);
        cg_admin_error(rs, 500, "internal", "the server produced an invalid answer (a bug: see the log)");
        rs->extra_headers[0] = '\0';
        after = AFTER_CLOSE;
    }
    if (serialize(&c->out, rs, head_only, after == AFTER_CLOSE, http10_keep_alive) < 0) {
        /* out of memory, or a Content-Type with a control character: a bare 500 then */
        cg_buf_reset(&c->out);
        static const char bare[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                                   "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                                   "Connection: close\r\n\r\n";
        if (cg_buf_append(&c->out, bare, sizeof(bare) - 1) < 0) {
            conn_close(c);
            return;
        }
        after = AFTER_CLOSE;
    }
    c->state = ST_WRITE;
    c->after = after;
    arm(c, c->srv->cfg.idle_timeout_ms);
}

/* An answer of the server's own: JSON error, and the connection closes after it. */
static void answer_error(struct conn *c, int status, const char *code, const char *extra, const char *fmt, ...)
    CG_PRINTF(5, 6);
static void answer_error(struct conn *c, int status, const char *code, const char *extra, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    CG_LOG_D("admin: %s: %d %s", c->peer, status, message);
    struct cg_admin_response rs;
    response_init(&rs);
    cg_admin_error(&rs, status, code, message);
    if (extra) cg_strlcpy(rs.extra_headers, extra, sizeof(rs.extra_headers));
    bool head_only = c->head_len && cg_slice_eq_str(c->req.method, "HEAD");
    respond(c, &rs, head_only, AFTER_CLOSE, false);
    cg_buf_cleanup(&rs.body);
}

static void send_continue(struct conn *c)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n"; /* RFC 9110 10.1.1 */
    cg_buf_cleanup(&c->out);
    cg_buf_init_secret(&c->out, 0);
    c->out_off = 0;
    if (cg_buf_append(&c->out, line, sizeof(line) - 1) < 0) {
        conn_close(c);
        return;
    }
    c->state = ST_WRITE;
    c->after = AFTER_BODY;
}

/* ---- the request ---- */

/* Every coding in every Transfer-Encoding field is "chunked" (the only one the server decodes). */
static bool only_chunked(const struct cg_http_request *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        if (!cg_slice_case_eq(r->headers[i].name, cg_slice_str("Transfer-Encoding"))) continue;
        struct cg_slice v = r->headers[i].value;
        size_t at = 0;
        while (at <= v.len) {
            const uint8_t *comma = memchr(v.ptr + at, ',', v.len - at);
            size_t end = comma ? (size_t)(comma - v.ptr) : v.len;
            struct cg_slice coding = cg_slice_trim(cg_slice_make(v.ptr + at, end - at));
            if (coding.len && !cg_slice_case_eq(coding, cg_slice_str("chunked"))) return false;
            at = end + 1;
        }
    }
    return true;
}

/* path and query of the target: origin-form, or the path of an absolute-form one (RFC 9112 3.2.2:
 * a server accepts it). */
static void split_target(const struct cg_http_request *r, struct cg_slice *path, struct cg_slice *query)
{
    struct cg_slice t = r->target;
    if (r->target_form == CG_HTTP_TARGET_ABSOLUTE) {
        struct cg_http_uri uri;
        const char *why;
        t = cg_http_uri_parse(t, false, &uri, &why) == 0 ? uri.path : cg_slice_str("/");
    }
    const uint8_t *q = memchr(t.ptr, '?', t.len);
    *path = cg_slice_make(t.ptr, q ? (size_t)(q - t.ptr) : t.len);
    *query = q ? cg_slice_make(q + 1, t.len - (size_t)(q - t.ptr) - 1) : cg_slice_make(NULL, 0);
    if (path->len == 0) *path = cg_slice_str("/"); /* "http://h?q" has the path "/" */
}

/* After a large upload, moves the rest of the input (from `from`) to a small buffer, giving the
 * memory back. false when it could not (the caller then moves the bytes in place). */
static bool shrink_input(struct conn *c, size_t from)
{
    size_t rest = c->in.len - from;
    if (c->in.cap <= 4 * READ_CHUNK || rest > READ_CHUNK) return false;
    struct cg_buf small;
    cg_buf_init_secret(&small, c->in.max);
    if (cg_buf_append(&small, c->in.ptr + from, rest) < 0) {
        cg_buf_cleanup(&small);
        return false;
    }
    cg_buf_cleanup(&c->in);
    c->in = small;
    return true;
}

/* Drops the first n bytes of the input (a finished request); the rest is the next one's. */
static void consume_input(struct conn *c, size_t n)
{
    if (!shrink_input(c, n)) {
        size_t rest = c->in.len - n;
        memmove(c->in.ptr, c->in.ptr + n, rest);
        cg_wipe(c->in.ptr + rest, n);
        c->in.len = rest;
    }
    c->head_len = 0;
    c->scan_from = 0;
    c->probed = false;
    release_body(c);
    cg_buf_cleanup(&c->body);
    cg_buf_init_secret(&c->body, 0);
}

/* The whole request is here: hand it to the handler and queue the answer. */
static void dispatch(struct conn *c)
{
    struct cg_admin_server *s = c->srv;
    const char *why;
    /* The buffer may have moved since the head was parsed (it grew with the body): parse the
     * unchanged head bytes again for slices into where they are now. */
    if (cg_http_request_parse(c->in.ptr, c->head_len, &s->cfg.limits, &c->req, &why) != (int)c->head_len) {
        CG_LOG_E("admin: %s: a head that parsed once did not parse again (a bug)", c->peer);
        conn_close(c);
        return;
    }
    const struct cg_http_request *r = &c->req;
    struct cg_admin_request rq = {
        .method = r->method,
        .headers = r->headers,
        .n_headers = r->n_headers,
        .peer = c->peer,
        .tls = c->tls,
    };
    split_target(r, &rq.path, &rq.query);
    size_t consumed = c->head_len;
    if (r->framing == CG_HTTP_BODY_LENGTH) {
        rq.body = c->in.ptr + c->head_len;
        rq.body_len = (size_t)r->content_length;
        consumed += rq.body_len;
    } else if (r->framing == CG_HTTP_BODY_CHUNKED) {
        rq.body = c->body.ptr;
        rq.body_len = c->body.len;
    }
    if (c->tls && c->io.ssl && SSL_get_verify_result(c->io.ssl) == X509_V_OK)
        rq.client_cert = SSL_get0_peer_certificate(c->io.ssl);
    struct cg_admin_response rs;
    response_init(&rs);
    s->cfg.handler(s->cfg.arg, &rq, &rs);
    if (c->io.closing) { /* the handler stopped the server */
        cg_buf_cleanup(&rs.body);
        return;
    }
    bool keep = r->keep_alive && !s->stopping;
    bool head_only = cg_slice_eq_str(r->method, "HEAD");
    bool http10_keep_alive = keep && r->minor_version == 0;
    respond(c, &rs, head_only, keep ? AFTER_NEXT : AFTER_CLOSE, http10_keep_alive);
    cg_buf_cleanup(&rs.body);
    if (!c->io.closing) consume_input(c, consumed);
}

/* Takes n bytes of the upload budget for this request's body, or answers 503. */
static bool reserve_body(struct conn *c, size_t n)
{
    struct cg_admin_server *s = c->srv;
    size_t budget = UPLOAD_BUDGET_BODIES * s->cfg.max_body_bytes;
    if (n > budget - s->reserved) {
        answer_error(c, 503, "busy", "Retry-After: 1\r\n",
                     "the admin listener is receiving too many request bodies at once (%zu bytes): retry in a "
                     "moment",
                     s->reserved);
        return false;
    }
    s->reserved += n;
    c->reserved = n;
    return true;
}

/* A complete head is in the buffer: check it and decide how the body comes. */
static void head_parsed(struct conn *c)
{
    struct cg_admin_server *s = c->srv;
    const struct cg_http_request *r = &c->req;
    if (r->target_form != CG_HTTP_TARGET_ORIGIN && r->target_form != CG_HTTP_TARGET_ABSOLUTE) {
        answer_error(c, 400, "bad_request", NULL,
                     "the admin listener serves paths such as /api/v1/...: CONNECT and '*' targets are refused");
        return;
    }
    if (r->framing == CG_HTTP_BODY_NONE) {
        dispatch(c);
        return;
    }
    size_t have = c->in.len - c->head_len;
    if (r->framing == CG_HTTP_BODY_LENGTH) {
        if (r->content_length > s->cfg.max_body_bytes) {
            answer_error(c, 413, "too_large", NULL,
                         "the request body of %llu bytes is over the admin listener's limit of %zu bytes: send "
                         "a smaller file",
                         (unsigned long long)r->content_length, s->cfg.max_body_bytes);
            return;
        }
        if (!reserve_body(c, (size_t)r->content_length)) return;
        c->state = ST_BODY;
        if (r->expect_continue && have < r->content_length) send_continue(c);
        return;
    }
    if (!only_chunked(r)) {
        answer_error(c, 501, "not_implemented", NULL,
                     "a Transfer-Encoding other than chunked is not supported: send the body as it is, with "
                     "Content-Length or chunked");
        return;
    }
    if (!reserve_body(c, s->cfg.max_body_bytes)) return; /* a chunked body may grow to the limit */
    cg_http_chunked_init(&c->chunked);
    c->state = ST_BODY;
    if (r->expect_continue && have == 0) send_continue(c);
}

/* The head in the buffer, as far as it came. false when more bytes are needed. */
static bool step_head(struct conn *c)
{
    struct cg_admin_server *s = c->srv;
    if (c->in.len == 0) return false;
    if (c->idle) request_started(c);
    size_t end = cg_http_head_end(c->in.ptr, c->in.len, &c->scan_from);
    /* An incomplete head is parsed once (not on every read: a head sent byte by byte would cost
     * quadratic time), so that what is not HTTP at all -- a TLS ClientHello to a plain listener --
     * is refused at once rather than after the head timeout. */
    bool probe = end == 0 && !c->probed;
    c->probed = true;
    if (end == 0 && c->in.len < s->cfg.limits.max_head_bytes && !probe) return false;
    const char *why = "a malformed head";
    int rc = cg_http_request_parse(c->in.ptr, c->in.len, &s->cfg.limits, &c->req, &why);
    if (rc == 0) return false;
    if (rc == CG_ELIMIT) {
        answer_error(c, 431, "header_too_large", NULL,
                     "the request head is too large: %s (the limits are %zu bytes, %zu fields, a target of %zu "
                     "bytes)",
                     why, s->cfg.limits.max_head_bytes, s->cfg.limits.max_headers, s->cfg.limits.max_target_bytes);
        return true;
    }
    if (rc < 0) {
        answer_error(c, 400, "bad_request", NULL, "malformed request: %s", why);
        return true;
    }
    c->head_len = (size_t)rc;
    head_parsed(c);
    return true;
}

/* The body as far as it came. false when more bytes are needed. */
static bool step_body(struct conn *c)
{
    struct cg_admin_server *s = c->srv;
    size_t have = c->in.len - c->head_len;
    if (c->req.framing == CG_HTTP_BODY_LENGTH) {
        if (have < c->req.content_length) return false;
        dispatch(c);
        return true;
    }
    if (have == 0) return false;
    size_t used = 0;
    bool done = false;
    const char *why = "a malformed chunked body";
    int rc = cg_http_chunked_scan(&c->chunked, c->in.ptr + c->head_len, have, &used, &done, &c->body, &why);
    /* the wire bytes are no longer needed: only the decoded body is kept */
    memmove(c->in.ptr + c->head_len, c->in.ptr + c->head_len + used, have - used);
    c->in.len -= used;
    cg_wipe(c->in.ptr + c->in.len, used + 1);
    if (rc == 0 && c->body.len > s->cfg.max_body_bytes) {
        answer_error(c, 413, "too_large", NULL,
                     "the chunked request body is over the admin listener's limit of %zu bytes: send a smaller "
                     "file",
                     s->cfg.max_body_bytes);
        return true;
    }
    if (rc < 0) {
        answer_error(c, 400, "bad_request", NULL, "malformed chunked body: %s", why);
        return true;
    }
    if (!done) return false;
    dispatch(c);
    return true;
}

/* ---- I/O ---- */

/* Reads what the socket has into the input buffer. true when bytes came; false when the poll
 * must wait (it is armed) or the connection was closed. */
static bool fill(struct conn *c)
{
    size_t room = c->in.max - c->in.len;
    if (room > READ_CHUNK) room = READ_CHUNK;
    if (room == 0 || cg_buf_reserve(&c->in, room) < 0) {
        CG_LOG_E("admin: %s: no room for input (a bug or out of memory); closing", c->peer);
        conn_close(c);
        return false;
    }
    size_t n;
    int rc = cg_conn_read(&c->io, c->in.ptr + c->in.len, room, &n);
    if (rc == CG_IO_OK) {
        c->in.len += n;
        c->in.ptr[c->in.len] = '\0';
        return true;
    }
    if (rc == CG_IO_AGAIN) {
        cg_conn_watch(&c->io, true, false);
        return false;
    }
    /* the client went away: nothing to answer (a half-sent request is abandoned) */
    if (rc < 0) CG_LOG_D("admin: %s: read failed (%s)", c->peer, strerror(c->io.sys_errno));
    ERR_clear_error();
    conn_close(c);
    return false;
}

static bool step_handshake(struct conn *c)
{
    bool want_write;
    int rc = cg_conn_handshake(&c->io, &want_write);
    if (rc == CG_IO_AGAIN) {
        cg_conn_watch(&c->io, !want_write, want_write);
        return false;
    }
    if (rc < 0) {
        unsigned long e = ERR_peek_error();
        char detail[256] = "the client closed the connection";
        if (e) ERR_error_string_n(e, detail, sizeof(detail));
        CG_LOG_D("admin: TLS handshake with %s failed: %s", c->peer, detail);
        ERR_clear_error();
        conn_close(c);
        return false;
    }
    c->state = ST_HEAD;
    wait_idle(c);
    return true;
}

/* Ends TLS and the sending side, then reads until the client closes (see the file comment). */
static void start_linger(struct conn *c)
{
    if (c->io.ssl) {
        SSL_shutdown(c->io.ssl); /* one close_notify; the answer is already out */
        SSL_set_shutdown(c->io.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(c->io.ssl);
        c->io.ssl = NULL;
        ERR_clear_error();
    }
    shutdown(c->io.fd, SHUT_WR);
    c->state = ST_LINGER;
    c->lingered = 0;
    arm(c, LINGER_MS);
}

static bool step_write(struct conn *c)
{
    while (c->out_off < c->out.len) {
        size_t n;
        int rc = cg_conn_write(&c->io, c->out.ptr + c->out_off, c->out.len - c->out_off, &n);
        if (rc == CG_IO_AGAIN) {
            cg_conn_watch(&c->io, false, true);
            return false;
        }
        if (rc < 0) {
            CG_LOG_D("admin: %s: write failed (%s)", c->peer, strerror(c->io.sys_errno));
            ERR_clear_error();
            conn_close(c);
            return false;
        }
        c->out_off += n;
        arm(c, c->srv->cfg.idle_timeout_ms); /* progress: the client reads */
    }
    cg_buf_cleanup(&c->out);
    cg_buf_init_secret(&c->out, 0);
    c->out_off = 0;
    switch (c->after) {
    case AFTER_BODY:
        c->state = ST_BODY;
        arm_deadline(c);
        break;
    case AFTER_NEXT:
        c->state = ST_HEAD;
        c->first = false;
        if (c->in.len) request_started(c);
        else wait_idle(c);
        break;
    case AFTER_CLOSE:
        start_linger(c);
        break;
    }
    return true;
}

static bool step_linger(struct conn *c)
{
    uint8_t drop[4096];
    for (;;) {
        size_t n;
        int rc = cg_conn_read(&c->io, drop, sizeof(drop), &n);
        if (rc == CG_IO_AGAIN) {
            cg_conn_watch(&c->io, true, false);
            return false;
        }
        if (rc != CG_IO_OK || (c->lingered += n) > LINGER_MAX_BYTES) {
            conn_close(c);
            return false;
        }
    }
}

/* Advances the connection as far as it can go without waiting. */
static void drive(struct conn *c)
{
    bool moved = true;
    while (moved && !c->io.closing) {
        switch (c->state) {
        case ST_HANDSHAKE: moved = step_handshake(c); break;
        case ST_HEAD: moved = step_head(c) || fill(c); break;
        case ST_BODY: moved = step_body(c) || fill(c); break;
        case ST_WRITE: moved = step_write(c); break;
        case ST_LINGER: moved = step_linger(c); break;
        }
    }
}

static void event_cb(struct cg_conn *io, int events)
{
    CG_UNUSED(events);
    drive((struct conn *)io);
}

static void timer_cb(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->io.closing) return;
    if ((c->state == ST_HEAD && !c->idle) || c->state == ST_BODY) {
        answer_error(c, 408, "timeout", NULL,
                     "the request did not arrive within %u ms: send the head and body without pausing",
                     (unsigned)c->srv->cfg.head_timeout_ms);
        drive(c);
        return;
    }
    /* an idle connection, a handshake, a client that does not read its answer, a linger: close */
    CG_LOG_D("admin: %s: %s; closing", c->peer,
             c->state == ST_HANDSHAKE ? "TLS handshake timed out"
             : c->state == ST_WRITE   ? "the client stopped reading"
                                      : "idle");
    conn_close(c);
}

/* ---- accepting ---- */

static void peer_name(int fd, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
            port = ntohs(a->sin6_port);
            snprintf(out, n, "[%s]:%u", ip, port);
            return;
        }
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
    }
    snprintf(out, n, "%s:%u", ip, port);
}

static void conn_start(struct cg_admin_server *s, int fd)
{
    struct conn *c = cg_calloc(1, sizeof(*c));
    if (!c || cg_conn_init(s->loop, &c->io, fd, c, event_cb) != 0) {
        cg_free(c);
        close(fd);
        return;
    }
    c->io.on_close = poll_closed_cb;
    c->srv = s;
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->handles_open = 2;
    c->next = s->conns.next;
    c->prev = &s->conns;
    s->conns.next->prev = c;
    s->conns.next = c;
    s->n_conns++;
    s->open++;
    /* requests carry tokens and passwords, answers a new token once: all are wiped when freed */
    cg_buf_init_secret(&c->in, s->cfg.limits.max_head_bytes + s->cfg.max_body_bytes + READ_CHUNK);
    cg_buf_init_secret(&c->body, 0);
    cg_buf_init_secret(&c->out, 0);
    peer_name(fd, c->peer, sizeof(c->peer));
    c->first = true;
    c->state = ST_HEAD;
    if (s->tls) {
        SSL *ssl = SSL_new(s->tls);
        if (!ssl || !SSL_set_fd(ssl, fd)) {
            CG_LOG_E("admin: cannot start TLS for %s (out of memory?)", c->peer);
            SSL_free(ssl);
            ERR_clear_error();
            conn_close(c);
            return;
        }
        SSL_set_accept_state(ssl);
        c->io.ssl = ssl;
        c->tls = true;
        c->state = ST_HANDSHAKE;
    }
    wait_idle(c); /* bounds the handshake too */
    drive(c);
}

static void accept_cb(uv_poll_t *h, int status, int events)
{
    struct cg_admin_server *s = h->data;
    CG_UNUSED(events);
    if (status < 0 || s->stopping) return;
    for (int i = 0; i < 64; i++) { /* a bounded batch: the loop has other work */
        int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                CG_LOG_W("admin: accept on %s failed: %s", s->addr, strerror(errno));
            return;
        }
        s->accepted++;
        if (s->n_conns >= s->cfg.max_connections) {
            if (s->refused++ % 100 == 0)
                CG_LOG_W("admin: %s has %zu connections open, its limit: refusing more (%llu so far)", s->addr,
                         s->n_conns, (unsigned long long)s->refused);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_start(s, fd);
    }
}

/* ---- listening ---- */

static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len, struct cg_err *err)
{
    const char *given = addr;
    char host[64];
    const char *port;
    size_t n;
    bool v6 = addr[0] == '[';
    if (v6) {
        const char *close_b = strchr(addr, ']');
        if (!close_b || close_b[1] != ':') goto bad;
        n = (size_t)(close_b - addr - 1);
        port = close_b + 2;
        addr++;
    } else {
        const char *colon = strrchr(addr, ':');
        if (!colon) goto bad;
        n = (size_t)(colon - addr);
        port = colon + 1;
    }
    if (n >= sizeof(host)) goto bad;
    memcpy(host, addr, n);
    host[n] = '\0';
    uint64_t p;
    if (cg_str_to_u64(port, &p) < 0 || p == 0 || p > 65535) goto bad;
    if (!v6 && strcmp(host, "localhost") == 0) cg_strlcpy(host, "127.0.0.1", sizeof(host));
    memset(ss, 0, sizeof(*ss));
    if (v6 ? uv_ip6_addr(host, (int)p, (struct sockaddr_in6 *)ss) == 0
           : uv_ip4_addr(host, (int)p, (struct sockaddr_in *)ss) == 0 && strchr(host, '.')) {
        *len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        return 0;
    }
bad:
    cg_err_set(err, CG_EINVAL, "admin listen address '%s' is not an IP address and port", given);
    return cg_err_hint(err, "write IP:PORT, such as 127.0.0.1:9090 or [::1]:9090");
}

static int listen_fail(const char *addr, int e, struct cg_err *err)
{
    cg_err_set(err, CG_EIO, "cannot listen on %s (the admin listener): %s", addr, strerror(e));
    if (e == EADDRINUSE)
        return cg_err_hint(err, "another process (perhaps another certgate) listens there: stop it, or set "
                                "listen.admin to another port");
    if (e == EADDRNOTAVAIL) return cg_err_hint(err, "the address is not one of this host's: check listen.admin");
    if (e == EACCES) return cg_err_hint(err, "ports below 1024 need privileges: choose a port above 1024");
    return cg_err_hint(err, "check listen.admin");
}

static int open_listener(const char *addr, struct cg_err *err)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    CG_GUARD(parse_addr(addr, &ss, &len, err));
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return listen_fail(addr, errno, err);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* TIME_WAIT is not "in use" */
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, BACKLOG) < 0) {
        int e = errno;
        close(fd);
        return listen_fail(addr, e, err);
    }
    return fd;
}

static void config_resolve(struct cg_admin_server *s, const struct cg_admin_server_config *cfg)
{
    struct cg_http_limits def;
    cg_http_limits_default(&def);
    s->cfg = *cfg;
    s->cfg.addr = s->addr;
    s->cfg.tls = NULL;
    if (!s->cfg.max_body_bytes) s->cfg.max_body_bytes = 8u * 1024 * 1024;
    if (s->cfg.max_body_bytes > MAX_BODY_CEILING) s->cfg.max_body_bytes = MAX_BODY_CEILING;
    if (!s->cfg.limits.max_head_bytes) s->cfg.limits.max_head_bytes = def.max_head_bytes;
    if (!s->cfg.limits.max_headers) s->cfg.limits.max_headers = def.max_headers;
    if (!s->cfg.limits.max_target_bytes) s->cfg.limits.max_target_bytes = def.max_target_bytes;
    if (!s->cfg.head_timeout_ms) s->cfg.head_timeout_ms = 10000;
    if (!s->cfg.idle_timeout_ms) s->cfg.idle_timeout_ms = 30000;
    if (!s->cfg.max_connections) s->cfg.max_connections = 64;
}

int cg_admin_server_start(uv_loop_t *loop, const struct cg_admin_server_config *cfg, struct cg_admin_server **out,
                          struct cg_err *err)
{
    *out = NULL;
    if (!cfg->handler || !cfg->addr) return cg_err_set(err, CG_EINVAL, "admin server: no address or handler (a bug)");
    if (strlen(cfg->addr) >= ADDR_MAX)
        return cg_err_set(err, CG_EINVAL, "admin listen address '%.40s...' is too long", cfg->addr);
    int fd = open_listener(cfg->addr, err);
    if (fd < 0) return fd;
    struct cg_admin_server *s = cg_calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        return cg_err_set(err, CG_ENOMEM, "admin server: out of memory");
    }
    cg_strlcpy(s->addr, cfg->addr, sizeof(s->addr));
    config_resolve(s, cfg);
    s->loop = loop;
    s->fd = fd;
    s->conns.next = s->conns.prev = &s->conns;
    if (uv_poll_init_socket(loop, &s->listen_poll, fd) != 0) {
        close(fd);
        cg_free(s);
        return cg_err_set(err, CG_EIO, "cannot watch the admin listener on %s", cfg->addr);
    }
    s->listen_poll.data = s;
    s->listen_open = true;
    uv_poll_start(&s->listen_poll, UV_READABLE, accept_cb);
    if (cfg->tls) {
        SSL_CTX_up_ref(cfg->tls);
        s->tls = cfg->tls;
    }
    *out = s;
    return 0;
}

/* A NULL context never turns HTTPS into plain HTTP: it is ignored. */
void cg_admin_server_set_tls(struct cg_admin_server *s, SSL_CTX *tls)
{
    if (!tls) return;
    SSL_CTX_up_ref(tls);
    SSL_CTX *old = s->tls;
    s->tls = tls;
    SSL_CTX_free(old);
}

void cg_admin_server_counts(const struct cg_admin_server *s, uint64_t *accepted, uint64_t *open)
{
    *accepted = s->accepted;
    *open = s->open;
}

static void listener_closed_cb(uv_handle_t *h)
{
    struct cg_admin_server *s = h->data;
    close(s->fd);
    s->fd = -1;
    s->listen_open = false;
    if (s->n_conns == 0) {
        SSL_CTX_free(s->tls);
        cg_free(s);
    }
}

void cg_admin_server_stop(struct cg_admin_server *s)
{
    if (!s || s->stopping) return;
    s->stopping = true;
    uv_poll_stop(&s->listen_poll);
    uv_close((uv_handle_t *)&s->listen_poll, listener_closed_cb);
    while (s->conns.next != &s->conns) conn_close(s->conns.next);
}
