/* The proxy engine (proxy.h): the session state machine shared by the egress and the ingress. */
#include "proxy/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "core/mem.h"
#include "core/str.h"
#include "proxy/park.h"
#include "proxy/slab.h"

#define BODY_CHUNK (16 * 1024)

void cg_proxy_config_defaults(struct cg_proxy_config *c)
{
    memset(c, 0, sizeof(*c));
    c->handshake_timeout_ms = 10000;
    c->head_timeout_ms = 30000;
    c->idle_timeout_ms = 60000;
    c->connect_timeout_ms = 5000;
    c->response_timeout_ms = 60000;
    cg_http_limits_default(&c->limits);
}

static void progress(struct cg_proxy *p);

uint64_t cg_proxy_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void cg_proxy_copy(char *dst, size_t n, struct cg_slice s)
{
    size_t k = s.len < n - 1 ? s.len : n - 1;
    memcpy(dst, s.ptr, k);
    dst[k] = '\0';
}

/* ---- timers ---- */

static void timeout_cb(uv_timer_t *t);

static void arm(struct cg_proxy *p, uint32_t ms)
{
    p->park_rest_ms = 0;
    uv_timer_start(&p->timer, timeout_cb, ms, 0);
}

/* The connection waits for a request head, ms at most: with parking, the timer first runs to the
 * park time. */
static void arm_idle(struct cg_proxy *p, uint32_t ms)
{
    uint32_t park = p->ops->park ? p->cfg->park_after_ms : 0;
    arm(p, park && ms > park ? park : ms);
    if (park && ms > park) p->park_rest_ms = ms - park;
}

static uint32_t response_timeout(const struct cg_proxy *p)
{
    return p->response_timeout_ms ? p->response_timeout_ms : p->cfg->response_timeout_ms;
}

/* The request record, made when a request begins (NULL only when out of memory). */
static struct cg_proxy_req *rq_get(struct cg_proxy *p)
{
    if (!p->rq) p->rq = cg_calloc(1, sizeof(*p->rq));
    return p->rq;
}

/* ---- access log ---- */

static void log_request(struct cg_proxy *p)
{
    if (p->rq && p->rq->method[0]) cg_metrics_request(&p->w->metrics, p->ops->kind, p->status);
    if (!p->cfg->log || !p->rq || !p->rq->method[0]) return;
    struct cg_access_entry e = {
        .listener = p->ops->listener,
        .client = p->client_addr,
        .method = p->rq->method,
        .target = p->rq->target,
        .status = p->status,
        .bytes_in = p->bytes_in,
        .bytes_out = p->bytes_out,
        .duration_us = cg_proxy_now_us() - p->start_us,
        .upstream = p->rq->dest,
        .resumed = -1,
        .reused = p->up ? (int)p->up_reused : -1,
        .error = p->error,
    };
    if (p->ops->log_fill) p->ops->log_fill(p, &e);
    cg_access_log_write(p->cfg->log, &e);
}

/* ---- error answers ---- */

void cg_proxy_fail(struct cg_proxy *p, int status, const char *code, const char *hint, const char *fmt, ...)
{
    if (!rq_get(p)) {
        cg_proxy_close(p);
        return;
    }
    char message[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(code));
    json_object_set_new(o, "message", json_string(message));
    if (p->ops->error_fields) p->ops->error_fields(p, o);
    if (hint) json_object_set_new(o, "hint", json_string(hint));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    size_t blen = body ? strlen(body) : 0;
    cg_buf_reset(&p->to_client);
    p->to_client_off = 0;
    char len[24];
    snprintf(len, sizeof(len), "%zu", blen + 1);
    int rc = cg_http_write_status_line(&p->to_client, status, cg_slice_make(NULL, 0));
    if (!rc) rc = cg_http_write_header(&p->to_client, cg_slice_str("Content-Type"), cg_slice_str("application/json"));
    if (!rc) rc = cg_http_write_header(&p->to_client, cg_slice_str("Content-Length"), cg_slice_str(len));
    if (!rc) rc = cg_http_write_header(&p->to_client, cg_slice_str("Connection"), cg_slice_str("close"));
    if (!rc) rc = cg_http_write_header(&p->to_client, cg_slice_str("Certgate-Error"), cg_slice_str(code));
    if (!rc) rc = cg_buf_append(&p->to_client, "\r\n", 2);
    if (!rc && body) rc = cg_buf_append(&p->to_client, body, blen);
    if (!rc) rc = cg_buf_append(&p->to_client, "\n", 1);
    free(body);
    p->status = status;
    p->error = code;
    log_request(p);
    p->rq->method[0] = '\0'; /* logged */
    if (p->dial) {
        cg_dial_cancel(p->dial);
        p->dial = NULL;
    }
    if (p->up) {
        cg_upconn_close(p->up);
        p->up = NULL;
    }
    p->state = rc == 0 ? CG_PX_ERROR : CG_PX_CLOSED;
    if (rc != 0) cg_proxy_close(p);
}

void cg_proxy_abandon(struct cg_proxy *p, const char *code)
{
    p->error = code;
    log_request(p);
    if (p->rq) p->rq->method[0] = '\0';
    cg_proxy_close(p);
}

/* ---- buffers ---- */

/* Reads from c into b (whose max caps it); CG_IO_* or an error. */
static int fill(struct cg_conn *c, struct cg_buf *b, size_t *off)
{
    if (*off == b->len) { /* everything consumed: start over at the front */
        b->len = 0;
        *off = 0;
    } else if (*off > 0 && b->len == b->max) {
        memmove(b->ptr, b->ptr + *off, b->len - *off);
        b->len -= *off;
        *off = 0;
    }
    size_t room = b->max - b->len;
    if (room == 0) return CG_ELIMIT;
    size_t want = room < BODY_CHUNK ? room : BODY_CHUNK;
    if (cg_buf_reserve(b, want) < 0) return CG_ENOMEM;
    size_t n;
    int rc = cg_conn_read(c, b->ptr + b->len, want, &n);
    if (rc == CG_IO_OK) b->len += n;
    return rc;
}

/* Writes the unsent part of a head buffer. */
static int flush(struct cg_conn *c, struct cg_buf *b, size_t *off, bool *moved)
{
    while (*off < b->len) {
        size_t n;
        int rc = cg_conn_write(c, b->ptr + *off, b->len - *off, &n);
        if (rc != CG_IO_OK) return rc;
        *off += n;
        *moved = true;
    }
    return CG_IO_OK;
}

/* Decides how many of the available bytes belong to the body; CG_EPROTO on bad chunking. */
static int frame(struct cg_proxy_body *b, const uint8_t *ptr, size_t avail, bool eof, const char **why)
{
    if (b->pending || b->last || b->done) return 0;
    switch (b->framing) {
    case CG_HTTP_BODY_LENGTH: {
        uint64_t take = b->left < avail ? b->left : avail;
        b->pending = (size_t)take;
        b->left -= take;
        b->last = b->left == 0;
        return 0;
    }
    case CG_HTTP_BODY_CHUNKED: {
        size_t used;
        bool done = false;
        CG_GUARD(cg_http_chunked_scan(&b->ch, ptr, avail, &used, &done, NULL, why));
        b->pending = used;
        b->last = done;
        return 0;
    }
    case CG_HTTP_BODY_CLOSE:
    case CG_HTTP_BODY_TUNNEL:
        b->pending = avail;
        b->last = eof;
        return 0;
    default:
        b->last = true;
        return 0;
    }
}

/* Writes pending body bytes from in[*off] to dst. */
static int pump(struct cg_proxy_body *b, struct cg_conn *dst, struct cg_buf *in, size_t *off, uint64_t *counter,
                bool *moved)
{
    while (b->pending) {
        size_t n;
        int rc = cg_conn_write(dst, in->ptr + *off, b->pending, &n);
        if (rc != CG_IO_OK) return rc;
        *off += n;
        b->pending -= n;
        if (counter) *counter += n;
        *moved = true;
    }
    if (b->last) b->done = true;
    return CG_IO_OK;
}

static void body_init(struct cg_proxy_body *b, enum cg_http_framing f, uint64_t length)
{
    memset(b, 0, sizeof(*b));
    b->framing = f;
    b->left = length;
    cg_http_chunked_init(&b->ch);
    if (f == CG_HTTP_BODY_NONE || (f == CG_HTTP_BODY_LENGTH && length == 0)) b->last = b->done = true;
}

/* ---- heads ---- */

int cg_proxy_head_begin(struct cg_proxy *p, const struct cg_http_request *req, struct cg_slice path,
                        const char *host_value, bool (*skip)(struct cg_slice name))
{
    struct cg_buf *b = &p->to_up;
    cg_buf_reset(b);
    p->to_up_off = 0;
    CG_GUARD(cg_http_write_request_line(b, req->method, path));
    if (host_value) CG_GUARD(cg_http_write_header(b, cg_slice_str("Host"), cg_slice_str(host_value)));
    /* the fields a Connection field names are hop-by-hop too: only look when there is one */
    size_t conn_n = cg_http_header_find(req->headers, req->n_headers, "Connection") ? req->n_headers : 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct cg_http_header *h = &req->headers[i];
        if (host_value && cg_slice_case_eq(h->name, cg_slice_str("Host"))) continue;
        if (skip && skip(h->name)) continue;
        if (cg_http_is_hop_by_hop(h->name, req->headers, conn_n)) continue;
        CG_GUARD(cg_http_write_header(b, h->name, h->value));
    }
    if (req->framing == CG_HTTP_BODY_CHUNKED)
        CG_GUARD(cg_http_write_header(b, cg_slice_str("Transfer-Encoding"), cg_slice_str("chunked")));
    if (p->upgrade) {
        const struct cg_http_header *u = cg_http_header_find(req->headers, req->n_headers, "Upgrade");
        CG_GUARD(cg_http_write_header(b, cg_slice_str("Connection"), cg_slice_str("upgrade")));
        if (u) CG_GUARD(cg_http_write_header(b, cg_slice_str("Upgrade"), u->value));
    }
    return 0;
}

int cg_proxy_head_end(struct cg_proxy *p)
{
    return cg_buf_append(&p->to_up, "\r\n", 2);
}

static int write_response_head(struct cg_proxy *p, const struct cg_http_response *r)
{
    struct cg_buf *b = &p->to_client;
    CG_GUARD(cg_http_write_status_line(b, r->status, r->reason));
    size_t conn_n = cg_http_header_find(r->headers, r->n_headers, "Connection") ? r->n_headers : 0;
    for (size_t i = 0; i < r->n_headers; i++) {
        const struct cg_http_header *h = &r->headers[i];
        if (cg_http_is_hop_by_hop(h->name, r->headers, conn_n)) continue;
        CG_GUARD(cg_http_write_header(b, h->name, h->value));
    }
    if (r->status == 101) {
        const struct cg_http_header *u = cg_http_header_find(r->headers, r->n_headers, "Upgrade");
        CG_GUARD(cg_http_write_header(b, cg_slice_str("Connection"), cg_slice_str("upgrade")));
        if (u) CG_GUARD(cg_http_write_header(b, cg_slice_str("Upgrade"), u->value));
    } else if (r->status >= 200) {
        /* an HTTP/1.0 client cannot read chunked coding: it gets the body de-chunked and
         * delimited by the close (RFC 9112 7.1, 6.3) */
        p->dechunk = r->framing == CG_HTTP_BODY_CHUNKED && p->client_http10;
        if (p->dechunk) p->client_keep_alive = false;
        else if (r->framing == CG_HTTP_BODY_CHUNKED)
            CG_GUARD(cg_http_write_header(b, cg_slice_str("Transfer-Encoding"), cg_slice_str("chunked")));
        if (!p->client_keep_alive || r->framing == CG_HTTP_BODY_CLOSE || p->draining)
            CG_GUARD(cg_http_write_header(b, cg_slice_str("Connection"), cg_slice_str("close")));
    }
    return cg_buf_append(b, "\r\n", 2);
}

/* ---- upstream connection ---- */

static void up_event(struct cg_conn *c, int events)
{
    struct cg_proxy *p = c->owner;
    if (events & UV_READABLE) p->up_await_readable = false;
    progress(p);
}

static void attach(struct cg_proxy *p, struct cg_upconn *up, bool reused)
{
    p->up = up;
    p->up_reused = reused;
    p->up_start_us = cg_proxy_now_us();
    up->conn.owner = p;
    up->conn.on_event = up_event;
    cg_buf_reset(&p->uin);
    p->uin_off = 0;
    p->uin_eof = false;
    p->up_await_readable = false;
    p->resp_head_done = false;
    p->state = p->tunnel_after_connect ? CG_PX_TUNNEL : CG_PX_EXCHANGE;
    if (p->tunnel_after_connect) {
        /* CONNECT established: tell the client, then relay raw bytes */
        cg_buf_reset(&p->to_client);
        p->to_client_off = 0;
        if (cg_buf_append_str(&p->to_client, "HTTP/1.1 200 Connection established\r\n\r\n") < 0) {
            cg_proxy_close(p);
            return;
        }
        p->status = 200;
        log_request(p);
        p->rq->method[0] = '\0';
        body_init(&p->req, CG_HTTP_BODY_TUNNEL, 0);
        body_init(&p->resp, CG_HTTP_BODY_TUNNEL, 0);
        uv_timer_stop(&p->timer);
    } else {
        arm(p, response_timeout(p));
    }
}

static void dial_cb(void *arg, struct cg_upconn *up, const struct cg_dial_error *err)
{
    struct cg_proxy *p = arg;
    p->dial = NULL;
    if (!up) {
        cg_counter_add(&p->w->metrics.dial_failures[p->ops->kind][cg_metrics_dial_reason(err->kind, err->tls.kind)], 1);
        p->ops->dial_failed(p, err);
    } else {
        attach(p, up, false);
    }
    progress(p);
}

static void dial(struct cg_proxy *p)
{
    p->state = CG_PX_CONNECTING;
    uv_timer_stop(&p->timer);
    p->dial = cg_dial_start(&p->w->loop, &p->dial_params, dial_cb, p);
    if (!p->dial) cg_proxy_fail(p, 502, "connect_failed", NULL, "out of memory dialing %s", p->rq->dest);
}

void cg_proxy_connect(struct cg_proxy *p, const struct cg_dial_params *params)
{
    p->dial_params = *params;
    struct cg_upconn *pooled = params->entry && !p->tunnel_after_connect ? cg_pool_take(params->entry) : NULL;
    if (pooled) attach(p, pooled, true);
    else dial(p);
}

/* ---- steps ---- */

/* Whether the part of a chunked request body that came with the head is already malformed: such a
 * request is refused before anything is sent on, so that a smuggling attempt in one write reaches
 * no upstream at all (a bad chunk arriving later can only cut the request short there). */
static bool chunked_start_bad(const struct cg_proxy *p, const char **why)
{
    if (p->req.framing != CG_HTTP_BODY_CHUNKED) return false;
    struct cg_http_chunked ch = p->req.ch; /* a copy: the body is scanned again as it streams */
    size_t used;
    bool done;
    return cg_http_chunked_scan(&ch, p->cin.ptr + p->cin_off, p->cin.len - p->cin_off, &used, &done, NULL, why) < 0;
}

static void start_request(struct cg_proxy *p, const struct cg_http_request *req, size_t head_len)
{
    if (!rq_get(p)) {
        cg_proxy_close(p);
        return;
    }
    p->requests++;
    p->start_us = cg_proxy_now_us();
    p->bytes_in = head_len;
    p->bytes_out = 0;
    p->status = 0;
    p->error = NULL;
    p->rq->dest[0] = '\0';
    p->retried = false;
    p->tunnel_after_connect = false;
    p->continue_sent = false;
    p->response_timeout_ms = 0;
    /* nothing of the previous exchange on this connection carries over */
    memset(&p->resp, 0, sizeof(p->resp));
    p->resp_head_done = false;
    p->up_keep_alive = false;
    cg_proxy_copy(p->rq->method, sizeof(p->rq->method), req->method);
    cg_proxy_copy(p->rq->target, sizeof(p->rq->target), req->target);
    p->client_keep_alive = req->keep_alive && !p->draining;
    p->client_http10 = req->minor_version == 0;
    p->dechunk = false;
    p->upgrade = req->upgrade;
    p->cin_off += head_len;
    body_init(&p->req, req->framing, req->content_length);
    cg_runtime_unref(p->rt);
    p->rt = cg_runtime_ref(cg_worker_runtime(p->w));
    if (!p->rt) {
        cg_proxy_fail(p, 503, "not_configured", NULL, "certgate has no configuration loaded");
        return;
    }
    const char *why = NULL;
    if (chunked_start_bad(p, &why)) {
        cg_proxy_fail(p, 400, "bad_request", NULL, "the request body is not valid: %s", why);
        return;
    }
    if (p->cfg->max_body_bytes && req->framing == CG_HTTP_BODY_LENGTH && req->content_length > p->cfg->max_body_bytes) {
        cg_proxy_fail(p, 413, "request_body_too_large", NULL,
                      "the request body (%llu bytes) is larger than the limit of %llu bytes",
                      (unsigned long long)req->content_length, (unsigned long long)p->cfg->max_body_bytes);
        return;
    }
    p->ops->request(p, req);
}

/* A head that is refused before it parses (400, 408, 431): logged as a request of its own, with
 * nothing of the previous exchange on this connection. */
static void head_refused(struct cg_proxy *p)
{
    if (!rq_get(p)) return; /* cg_proxy_fail closes */
    p->requests++;
    p->start_us = cg_proxy_now_us();
    p->bytes_in = p->cin.len - p->cin_off;
    p->bytes_out = 0;
    p->cin_off = p->cin.len;
    p->rq->dest[0] = '\0';
    cg_proxy_copy(p->rq->method, sizeof(p->rq->method), cg_slice_str("-"));
    cg_proxy_copy(p->rq->target, sizeof(p->rq->target), cg_slice_str("-"));
}

static bool step_handshake(struct cg_proxy *p)
{
    int rc = cg_conn_handshake(&p->client, &p->hs_want_write);
    if (rc == CG_IO_AGAIN) return false;
    if (rc < 0) {
        if (p->ops->handshake_failed) p->ops->handshake_failed(p);
        cg_proxy_close(p);
        return false;
    }
    if (p->ops->handshake_done && !p->ops->handshake_done(p)) return false;
    if (p->state == CG_PX_CLOSED) return false;
    p->state = CG_PX_HEAD;
    arm_idle(p, p->cfg->head_timeout_ms);
    return true;
}

static bool step_head(struct cg_proxy *p)
{
    struct cg_http_request req;
    const char *why = NULL;
    size_t avail = p->cin.len - p->cin_off;
    int rc = avail ? cg_http_request_parse(p->cin.ptr + p->cin_off, avail, &p->cfg->limits, &req, &why) : 0;
    if (rc > 0) {
        start_request(p, &req, (size_t)rc);
        return true;
    }
    if (rc < 0) {
        head_refused(p);
        if (rc == CG_ELIMIT)
            cg_proxy_fail(p, 431, "request_too_large", NULL, "the request head is too large: %s", why);
        else
            cg_proxy_fail(p, 400, "bad_request", NULL, "the request is not valid HTTP/1.1: %s", why);
        return true;
    }
    if (p->draining && avail == 0) {
        cg_proxy_close(p);
        return false;
    }
    if (p->await_readable && !cg_conn_has_pending(&p->client)) return false;
    rc = fill(&p->client, &p->cin, &p->cin_off);
    if (rc == CG_IO_OK) return true;
    if (rc == CG_IO_AGAIN) return false;
    if (rc == CG_ELIMIT) { /* cannot happen: the parser caps the head below the buffer */
        cg_proxy_fail(p, 431, "request_too_large", NULL, "the request head is too large");
        return true;
    }
    cg_proxy_close(p); /* EOF or error between requests: the client is done */
    return false;
}

/* The pooled connection died before the response began: retry once on a new connection when the
 * request can be sent again (idempotent, without a body, nothing received yet). */
static bool can_retry(struct cg_proxy *p)
{
    if (!p->up_reused || p->retried || p->uin.len > 0 || p->req.framing != CG_HTTP_BODY_NONE) return false;
    return !strcmp(p->rq->method, "GET") || !strcmp(p->rq->method, "HEAD") || !strcmp(p->rq->method, "OPTIONS") ||
           !strcmp(p->rq->method, "PUT") || !strcmp(p->rq->method, "DELETE");
}

/* The upstream connection failed before any answer: retry when that is safe (not after a TLS
 * error: the server would say the same again), else let the listener explain. */
static void upstream_broke(struct cg_proxy *p, const char *when)
{
    if (can_retry(p) && p->up->conn.ssl_error != SSL_ERROR_SSL) {
        cg_upconn_close(p->up);
        p->up = NULL;
        p->retried = true;
        p->to_up_off = 0;
        body_init(&p->req, CG_HTTP_BODY_NONE, 0);
        dial(p);
        return;
    }
    p->ops->upstream_failed(p, when);
}

/* Gives the buffers' memory back while the connection waits for its next request: an idle
 * connection then costs its TLS state and the session, not the 64 KiB its buffers grew to. */
static void buf_release(struct cg_buf *b, size_t *off)
{
    if (*off != b->len) return; /* a pipelined request is waiting in it */
    size_t max = b->max;
    cg_buf_cleanup(b);
    cg_buf_init(b, max);
    *off = 0;
}

static void release_buffers(struct cg_proxy *p)
{
    if (!p->cfg->release_idle_buffers) return;
    buf_release(&p->cin, &p->cin_off);
    buf_release(&p->uin, &p->uin_off);
    buf_release(&p->to_up, &p->to_up_off);
    buf_release(&p->to_client, &p->to_client_off);
    cg_free(p->rq);
    p->rq = NULL;
}

static void finish_request(struct cg_proxy *p)
{
    log_request(p);
    p->rq->method[0] = '\0';
    bool reusable = p->up_keep_alive && p->resp.framing != CG_HTTP_BODY_CLOSE && p->req.done && !p->draining;
    if (reusable) {
        p->up->requests++;
        cg_pool_put(p->up);
    } else {
        cg_upconn_close(p->up);
    }
    p->up = NULL;
    cg_runtime_unref(p->rt);
    p->rt = NULL;
    if (!p->client_keep_alive || p->resp.framing == CG_HTTP_BODY_CLOSE || p->draining ||
        (p->cin_eof && p->cin_off == p->cin.len)) {
        cg_proxy_close(p);
        return;
    }
    p->state = CG_PX_HEAD;
    cg_buf_reset(&p->to_client);
    p->to_client_off = 0;
    release_buffers(p);
    /* the next request is rarely there yet: wait for the poll rather than pay a read(2) that
     * answers EAGAIN (a pipelined request already buffered is parsed at once) */
    p->await_readable = true;
    arm_idle(p, p->cfg->idle_timeout_ms);
}

/* Request bytes beyond the configured body limit (chunked bodies, whose size is not announced). */
static bool body_over_limit(struct cg_proxy *p)
{
    return p->cfg->max_body_bytes && p->req.framing == CG_HTTP_BODY_CHUNKED && p->bytes_in > p->cfg->max_body_bytes;
}

static bool step_exchange(struct cg_proxy *p)
{
    bool moved = false;
    const char *why = NULL;
    int rc;
    struct cg_conn *uc = &p->up->conn;

    /* request: the head, then the body from the client */
    rc = flush(uc, &p->to_up, &p->to_up_off, &moved);
    if (rc < 0) goto up_broken;
    if (rc == CG_IO_OK && p->to_up_off == p->to_up.len && !p->req.done) {
        size_t avail = p->cin.len - p->cin_off;
        if (frame(&p->req, p->cin.ptr + p->cin_off, avail, p->cin_eof, &why) < 0) {
            if (p->resp_head_done) cg_proxy_abandon(p, "bad_request_body");
            else cg_proxy_fail(p, 400, "bad_request", NULL, "the request body is not valid: %s", why);
            return !p->resp_head_done;
        }
        rc = pump(&p->req, uc, &p->cin, &p->cin_off, &p->bytes_in, &moved);
        if (rc < 0) goto up_broken;
        if (body_over_limit(p)) {
            if (p->resp_head_done) cg_proxy_abandon(p, "request_body_too_large");
            else
                cg_proxy_fail(p, 413, "request_body_too_large", NULL,
                              "the request body is larger than the limit of %llu bytes",
                              (unsigned long long)p->cfg->max_body_bytes);
            return !p->resp_head_done;
        }
        if (!p->req.done && !p->req.pending && p->cin_off == p->cin.len && !p->cin_eof) {
            rc = fill(&p->client, &p->cin, &p->cin_off);
            if (rc == CG_IO_OK) moved = true;
            else if (rc == CG_IO_EOF || rc < 0) {
                /* the client went away in the middle of its request */
                cg_proxy_close(p);
                return false;
            }
        }
    }

    /* response: read, parse the head, forward the head and the body */
    if (moved && p->to_up_off == p->to_up.len && p->uin.len == 0 && !p->resp_head_done)
        p->up_await_readable = true; /* a read now would only answer EAGAIN: wait for the poll */
    if (p->up_await_readable && cg_conn_has_pending(uc)) p->up_await_readable = false;
    if (!p->up_await_readable && !p->resp.done &&
        (!p->resp_head_done || (!p->resp.pending && p->uin_off == p->uin.len))) {
        rc = fill(uc, &p->uin, &p->uin_off);
        if (rc == CG_IO_OK) {
            moved = true;
            arm(p, response_timeout(p));
        } else if (rc == CG_IO_EOF) {
            p->uin_eof = true;
            if (!p->resp_head_done) {
                upstream_broke(p, "before answering");
                return true;
            }
            if (p->resp.framing != CG_HTTP_BODY_CLOSE && !p->resp.last) {
                /* a truncated response: the client must not take it as complete */
                cg_proxy_abandon(p, "upstream_truncated");
                return false;
            }
            moved = true;
        } else if (rc < 0 && rc != CG_ELIMIT) {
            if (!p->resp_head_done && p->bytes_out == 0) {
                upstream_broke(p, "before answering");
                return true;
            }
            cg_proxy_abandon(p, "upstream_error");
            return false;
        }
    }
    while (!p->resp_head_done && p->uin_off < p->uin.len) {
        struct cg_http_response resp;
        rc = cg_http_response_parse(p->uin.ptr + p->uin_off, p->uin.len - p->uin_off, cg_slice_str(p->rq->method),
                                    &p->cfg->limits, &resp, &why);
        if (rc == 0) {
            if (p->uin.len == p->uin.max) {
                cg_proxy_fail(p, 502, "bad_response", NULL, "the response head of %s is too large", p->rq->dest);
                return true;
            }
            break;
        }
        if (rc < 0) {
            cg_proxy_fail(p, 502, "bad_response", NULL, "%s sent a response that is not valid HTTP/1.1: %s", p->rq->dest,
                          why);
            return true;
        }
        if (p->to_client_off == p->to_client.len) {
            cg_buf_reset(&p->to_client);
            p->to_client_off = 0;
        }
        p->uin_off += (size_t)rc;
        moved = true;
        if (resp.status >= 100 && resp.status < 200 && resp.status != 101) {
            /* 100 Continue and other interim answers: an HTTP/1.0 client gets none (RFC 9110 15.2) */
            if (!p->client_http10 && write_response_head(p, &resp) < 0) {
                cg_proxy_fail(p, 502, "internal", NULL, "cannot build the response");
                return true;
            }
            if (resp.status == 100) p->continue_sent = true;
            continue;
        }
        if (write_response_head(p, &resp) < 0) {
            cg_proxy_fail(p, 502, "internal", NULL, "cannot build the response");
            return true;
        }
        p->resp_head_done = true;
        p->status = resp.status;
        cg_metrics_latency(&p->w->metrics, p->ops->kind, cg_proxy_now_us() - p->up_start_us);
        p->up_keep_alive = resp.keep_alive;
        body_init(&p->resp, resp.framing, resp.content_length);
        /* a small body that arrived with the head leaves in the same write */
        if (resp.status != 101 && !p->resp.done && !p->dechunk &&
            frame(&p->resp, p->uin.ptr + p->uin_off, p->uin.len - p->uin_off, p->uin_eof, &why) == 0 &&
            p->resp.pending && p->resp.pending <= BODY_CHUNK &&
            cg_buf_append(&p->to_client, p->uin.ptr + p->uin_off, p->resp.pending) == 0) {
            p->uin_off += p->resp.pending;
            p->bytes_out += p->resp.pending;
            p->resp.pending = 0;
            if (p->resp.last) p->resp.done = true;
        }
        if (resp.status == 101) {
            p->state = CG_PX_TUNNEL;
            body_init(&p->req, CG_HTTP_BODY_TUNNEL, 0);
            body_init(&p->resp, CG_HTTP_BODY_TUNNEL, 0);
            log_request(p);
            p->rq->method[0] = '\0';
            uv_timer_stop(&p->timer);
        }
    }
    rc = flush(&p->client, &p->to_client, &p->to_client_off, &moved);
    if (rc < 0) {
        cg_proxy_close(p);
        return false;
    }
    if (p->state == CG_PX_TUNNEL) return true;
    if (p->resp_head_done && rc == CG_IO_OK && !p->resp.done && p->dechunk) {
        /* decode the chunks into the (flushed) output buffer, then send the payload */
        cg_buf_reset(&p->to_client);
        p->to_client_off = 0;
        size_t used = 0;
        bool done = false;
        if (cg_http_chunked_scan(&p->resp.ch, p->uin.ptr + p->uin_off, p->uin.len - p->uin_off, &used, &done,
                                 &p->to_client, &why) < 0) {
            cg_proxy_abandon(p, "bad_response_body");
            return false;
        }
        p->uin_off += used;
        p->bytes_out += p->to_client.len;
        if (used) moved = true;
        rc = flush(&p->client, &p->to_client, &p->to_client_off, &moved);
        if (rc < 0) {
            cg_proxy_close(p);
            return false;
        }
        if (done) p->resp.last = true;
        if (p->resp.last && p->to_client_off == p->to_client.len) p->resp.done = true;
    } else if (p->resp_head_done && rc == CG_IO_OK && !p->resp.done) {
        if (frame(&p->resp, p->uin.ptr + p->uin_off, p->uin.len - p->uin_off, p->uin_eof, &why) < 0) {
            cg_proxy_abandon(p, "bad_response_body");
            return false;
        }
        rc = pump(&p->resp, &p->client, &p->uin, &p->uin_off, &p->bytes_out, &moved);
        if (rc < 0) {
            cg_proxy_close(p);
            return false;
        }
    }
    if (p->resp.done && p->req.done && p->to_client_off == p->to_client.len) {
        finish_request(p);
        return p->state == CG_PX_HEAD;
    }
    if (p->resp.done && !p->req.done) {
        /* the server answered before reading the whole request: this connection is done */
        p->up_keep_alive = false;
        p->client_keep_alive = false;
        p->req.done = true;
        finish_request(p);
        return false;
    }
    return moved;

up_broken:
    if (!p->resp_head_done && p->bytes_out == 0) {
        upstream_broke(p, "while the request was being sent");
        return true;
    }
    cg_proxy_close(p);
    return false;
}

static bool step_tunnel(struct cg_proxy *p)
{
    bool moved = false;
    struct cg_conn *uc = &p->up->conn;
    int rc = flush(&p->client, &p->to_client, &p->to_client_off, &moved);
    if (rc < 0) goto done;
    if (rc != CG_IO_OK) return moved;
    /* client -> upstream */
    if (frame(&p->req, p->cin.ptr + p->cin_off, p->cin.len - p->cin_off, p->cin_eof, NULL) == 0) {
        rc = pump(&p->req, uc, &p->cin, &p->cin_off, &p->bytes_in, &moved);
        if (rc < 0) goto done;
        p->req.last = false;
        p->req.done = false;
    }
    if (p->cin_off == p->cin.len && !p->cin_eof) {
        rc = fill(&p->client, &p->cin, &p->cin_off);
        if (rc == CG_IO_OK) moved = true;
        else if (rc == CG_IO_EOF) {
            p->cin_eof = true;
            shutdown(uc->fd, SHUT_WR);
            moved = true;
        } else if (rc < 0) goto done;
    }
    /* upstream -> client */
    if (frame(&p->resp, p->uin.ptr + p->uin_off, p->uin.len - p->uin_off, p->uin_eof, NULL) == 0) {
        rc = pump(&p->resp, &p->client, &p->uin, &p->uin_off, &p->bytes_out, &moved);
        if (rc < 0) goto done;
        p->resp.last = false;
        p->resp.done = false;
    }
    if (p->uin_off == p->uin.len && !p->uin_eof) {
        rc = fill(uc, &p->uin, &p->uin_off);
        if (rc == CG_IO_OK) moved = true;
        else if (rc == CG_IO_EOF) {
            p->uin_eof = true;
            /* a TLS client is told with close_notify when the connection closes; a plain one
             * gets the half-close */
            if (!p->client.ssl) shutdown(p->client.fd, SHUT_WR);
            moved = true;
        } else if (rc < 0) goto done;
    }
    if (p->cin_eof && p->uin_eof && p->cin_off == p->cin.len && p->uin_off == p->uin.len) goto done;
    if (p->uin_eof && p->uin_off == p->uin.len && p->client.ssl) goto done;
    return moved;
done:
    cg_proxy_close(p);
    return false;
}

static bool step_error(struct cg_proxy *p)
{
    bool moved = false;
    int rc = flush(&p->client, &p->to_client, &p->to_client_off, &moved);
    if (rc < 0 || p->to_client_off == p->to_client.len) {
        cg_proxy_close(p);
        return false;
    }
    return moved;
}

/* Poll interest from what each side still has to do. */
static void rearm(struct cg_proxy *p)
{
    if (p->state == CG_PX_CLOSED) return;
    bool c_read = false, c_write = false, u_read = false, u_write = false;
    /* bytes waiting to go out include input not yet framed: the fairness guard in progress() may
     * have stopped before framing them, and they must still wake the session */
    bool client_out = p->to_client_off < p->to_client.len || p->resp.pending ||
                      (p->resp_head_done && !p->resp.done && p->uin_off < p->uin.len);
    bool up_out = p->to_up_off < p->to_up.len || p->req.pending || (!p->req.done && p->cin_off < p->cin.len);
    switch (p->state) {
    case CG_PX_HANDSHAKE:
        c_read = !p->hs_want_write;
        c_write = p->hs_want_write;
        break;
    case CG_PX_HEAD: c_read = p->cin.len < p->cin.max || p->cin_off > 0; break;
    case CG_PX_EXCHANGE:
        u_write = up_out;
        /* with the request sent, the client stays watched: its next request (pipelined) or its
         * close is read ahead, and the interest does not flip on every request */
        c_read = (!p->req.done && !up_out) || (p->req.done && !p->cin_eof && p->cin.len < p->cin.max);
        c_write = client_out;
        u_read = !p->resp.done && !client_out && p->uin_off == p->uin.len;
        if (!p->resp_head_done) u_read = true;
        break;
    case CG_PX_TUNNEL:
        c_write = client_out || p->uin_off < p->uin.len;
        u_write = up_out;
        c_read = !p->cin_eof && p->cin_off == p->cin.len;
        u_read = !p->uin_eof && p->uin_off == p->uin.len;
        break;
    case CG_PX_ERROR: c_write = true; break;
    default: break;
    }
    cg_conn_watch(&p->client, c_read, c_write);
    if (p->up && !p->up->conn.closing) cg_conn_watch(&p->up->conn, u_read, u_write);
}

static void progress(struct cg_proxy *p)
{
    for (int guard = 0; guard < 256 && p->state != CG_PX_CLOSED; guard++) {
        bool moved;
        switch (p->state) {
        case CG_PX_HANDSHAKE: moved = step_handshake(p); break;
        case CG_PX_HEAD: moved = step_head(p); break;
        case CG_PX_EXCHANGE: moved = step_exchange(p); break;
        case CG_PX_TUNNEL: moved = step_tunnel(p); break;
        case CG_PX_ERROR: moved = step_error(p); break;
        default: moved = false; break;
        }
        if (!moved) break;
    }
    rearm(p);
}

/* The client is readable while its request is already sent: keep what it sends for later (a
 * pipelined request) and note its close; the response in flight still goes out. */
static void read_ahead(struct cg_proxy *p)
{
    if (p->cin_eof || p->cin.len == p->cin.max) return;
    int rc = fill(&p->client, &p->cin, &p->cin_off);
    if (rc == CG_IO_EOF || (rc < 0 && rc != CG_ELIMIT)) p->cin_eof = true;
}

static void client_event(struct cg_conn *c, int events)
{
    struct cg_proxy *p = c->owner;
    if (events & UV_READABLE) {
        p->await_readable = false;
        if (p->state == CG_PX_EXCHANGE && p->req.done) read_ahead(p);
    }
    progress(p);
}

static bool park(struct cg_proxy *p, uint32_t rest_ms);

static void timeout_cb(uv_timer_t *t)
{
    struct cg_proxy *p = t->data;
    if (p->park_rest_ms) {
        /* the park time: an idle connection is parked; one with something in flight or part of a
         * head keeps the rest of its time */
        uint32_t rest = p->park_rest_ms;
        if (!park(p, rest)) arm(p, rest);
        return;
    }
    switch (p->state) {
    case CG_PX_HANDSHAKE:
        if (p->ops->handshake_failed) p->ops->handshake_failed(p);
        cg_proxy_close(p);
        break;
    case CG_PX_HEAD:
        if (p->cin_off < p->cin.len) {
            /* part of a head arrived, and not the rest in time */
            head_refused(p);
            cg_proxy_fail(p, 408, "request_timeout", NULL, "the request head did not arrive in time");
            progress(p);
        } else {
            cg_proxy_close(p); /* idle keep-alive, or a head that never began */
        }
        break;
    case CG_PX_EXCHANGE:
        if (!p->resp_head_done) {
            cg_proxy_fail(p, 504, "upstream_timeout", p->ops->timeout_hint, "%s did not answer in time", p->rq->dest);
            progress(p);
        } else {
            cg_proxy_abandon(p, "upstream_timeout");
        }
        break;
    default: cg_proxy_close(p); break;
    }
}

/* ---- lifecycle ---- */

static void free_maybe(struct cg_proxy *p)
{
    if (--p->handles > 0) return;
    if (p->ops->cleanup) p->ops->cleanup(p);
    cg_runtime_unref(p->rt);
    cg_free(p->rq);
    cg_buf_cleanup(&p->cin);
    cg_buf_cleanup(&p->uin);
    cg_buf_cleanup(&p->to_up);
    cg_buf_cleanup(&p->to_client);
    cg_proxy_slab_free(p);
}

static void client_closed(struct cg_conn *c) { free_maybe(c->owner); }

static void timer_closed(uv_handle_t *h) { free_maybe(h->data); }

void cg_proxy_close(struct cg_proxy *p)
{
    if (p->state == CG_PX_CLOSED && p->client.closing) return;
    if (p->rq && p->rq->method[0] && p->status == 0) {
        /* the client left before an answer: log what happened */
        p->error = p->error ? p->error : "client_closed";
        log_request(p);
        p->rq->method[0] = '\0';
    }
    p->state = CG_PX_CLOSED;
    cg_counter_add(&p->w->metrics.closed[p->ops->kind], 1);
    if (p->dial) {
        cg_dial_cancel(p->dial);
        p->dial = NULL;
    }
    if (p->up) {
        cg_upconn_close(p->up);
        p->up = NULL;
    }
    cg_worker_session_remove(p->w, &p->ws);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, timer_closed);
    cg_conn_close(&p->client);
}

static void session_drain(struct cg_worker_session *ws)
{
    struct cg_proxy *p = (struct cg_proxy *)((char *)ws - offsetof(struct cg_proxy, ws));
    p->draining = true;
    p->client_keep_alive = false;
    if ((p->state == CG_PX_HEAD && p->cin_off == p->cin.len) || p->state == CG_PX_HANDSHAKE)
        cg_proxy_close(p); /* idle: nothing in flight */
}

uint16_t cg_proxy_client_ip(const struct cg_proxy *p, char *ip, size_t n)
{
    cg_strlcpy(ip, "?", n);
    if (p->peer.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&p->peer;
        inet_ntop(AF_INET, &a->sin_addr, ip, (socklen_t)n);
        return ntohs(a->sin_port);
    }
    if (p->peer.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&p->peer;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, (socklen_t)n);
        return ntohs(a->sin6_port);
    }
    return 0;
}

/* client_addr, for the log, from peer. */
static void peer_format(struct cg_proxy *p)
{
    char ip[INET6_ADDRSTRLEN];
    uint16_t port = cg_proxy_client_ip(p, ip, sizeof(ip));
    if (p->peer.ss_family == AF_INET || p->peer.ss_family == AF_INET6)
        snprintf(p->client_addr, sizeof(p->client_addr), p->peer.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
                 port);
}

/* A session for fd, in the HEAD state, its timer not started; NULL (fd left open) when out of
 * resources. */
static struct cg_proxy *session_new(struct cg_worker *w, int fd, const struct cg_proxy_ops *ops,
                                    const struct cg_proxy_config *cfg)
{
    struct cg_proxy *p = cg_proxy_slab_calloc(ops->size);
    if (!p) return NULL;
    if (cg_conn_init(&w->loop, &p->client, fd, p, client_event) < 0) {
        cg_proxy_slab_free(p);
        return NULL;
    }
    p->client.on_close = client_closed;
    p->w = w;
    p->cfg = cfg;
    p->ops = ops;
    p->handles = 2;
    p->ws.drain = session_drain;
    size_t head_max = cfg->limits.max_head_bytes ? cfg->limits.max_head_bytes : 65536;
    cg_buf_init(&p->cin, head_max + BODY_CHUNK);
    cg_buf_init(&p->uin, head_max + BODY_CHUNK);
    cg_buf_init(&p->to_up, 0);
    cg_buf_init(&p->to_client, 0);
    p->state = CG_PX_HEAD;
    uv_timer_init(&w->loop, &p->timer);
    p->timer.data = p;
    cg_worker_session_add(w, &p->ws);
    return p;
}

struct cg_proxy *cg_proxy_new(struct cg_worker *w, int fd, const struct cg_proxy_ops *ops,
                              const struct cg_proxy_config *cfg)
{
    struct cg_proxy *p = session_new(w, fd, ops, cfg);
    if (!p) {
        close(fd);
        return NULL;
    }
    socklen_t len = sizeof(p->peer);
    if (getpeername(fd, (struct sockaddr *)&p->peer, &len) != 0) memset(&p->peer, 0, sizeof(p->peer));
    peer_format(p);
    return p;
}

/* ---- parking (proxy/park.h) ---- */

/* Whether nothing is in flight or buffered: the session holds only the connection. */
static bool idle(const struct cg_proxy *p)
{
    return p->state == CG_PX_HEAD && p->cin_off == p->cin.len && !p->cin_eof && !cg_conn_has_pending(&p->client) &&
           !p->up && !p->dial && p->to_client_off == p->to_client.len && (!p->rq || !p->rq->method[0]);
}

/* Hands the idle connection to the worker's park, with rest_ms of its idle time left, and frees
 * the session; false (nothing changed) when it cannot. */
static bool park(struct cg_proxy *p, uint32_t rest_ms)
{
    if (!idle(p) || p->draining || p->w->draining || !p->ops->park) return false;
    struct cg_parked_conn c = {.fd = p->client.fd, .ssl = p->client.ssl, .ops = p->ops, .cfg = p->cfg};
    memcpy(&c.peer, &p->peer, sizeof(c.peer));
    c.deadline_ms = uv_now(&p->w->loop) + rest_ms;
    if (!p->ops->park(p, &c.state)) return false;
    if (!cg_park_put(p->w, &c)) {
        p->ops->unpark(p, c.state);
        return false;
    }
    /* the park has the socket and its TLS state: close the rest, as cg_proxy_close would */
    p->state = CG_PX_CLOSED;
    cg_worker_session_remove(p->w, &p->ws);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, timer_closed);
    cg_conn_detach(&p->client);
    return true;
}

void cg_proxy_unpark(struct cg_worker *w, const struct cg_parked_conn *c, uint32_t rest_ms)
{
    struct cg_proxy *p = session_new(w, c->fd, c->ops, c->cfg);
    if (!p) {
        cg_counter_add(&w->metrics.closed[c->ops->kind], 1);
        cg_conn_close_detached(c->fd, c->ssl);
        c->ops->park_free(c->state);
        return;
    }
    p->client.ssl = c->ssl;
    memcpy(&p->peer, &c->peer, sizeof(c->peer));
    peer_format(p);
    c->ops->unpark(p, c->state);
    arm_idle(p, rest_ms);
    progress(p);
}

void cg_proxy_start(struct cg_proxy *p)
{
    if (p->w->draining) {
        cg_proxy_close(p);
        return;
    }
    if (p->client.ssl) {
        p->state = CG_PX_HANDSHAKE;
        arm(p, p->cfg->handshake_timeout_ms);
    } else {
        arm_idle(p, p->cfg->head_timeout_ms);
    }
    progress(p);
}
