/* One delivery attempt on the wire (internal.h): a connection to the webhook's host from the
 * dispatcher's pool or a new mTLS dial (the egress' dialer: the webhook's client certificate, its
 * trust), the request written, the response head read and the body drained so that the connection
 * can serve the next delivery; then the verdict, with the cause named as an operator needs it:
 * the server rejected our certificate, its certificate failed our checks, it did not answer. */
#include "webhook/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "core/mem.h"
#include "core/time.h"
#include "http/http.h"

enum phase { X_START, X_DIAL, X_WRITE, X_HEAD, X_BODY, X_DONE };

struct wh_exchange {
    uv_loop_t *loop;
    struct cg_runtime *rt;       /* reference */
    const struct cg_snapshot_webhook *wh;
    const char *cert;            /* the client certificate's name */
    SSL_CTX *ctx;                /* borrowed from rt */
    struct cg_pool_entry *entry;
    struct cg_dial *dial;
    struct cg_upconn *up;
    bool reused;                 /* up came from the pool */
    bool redialed;               /* a stale pooled connection was replaced once */
    enum phase phase;
    uint32_t timeout_ms;
    uint64_t t0;
    uv_timer_t timer;
    struct cg_buf req;
    size_t written;
    uint8_t head[WH_HEAD_MAX];
    size_t head_len, scan;
    /* the body, read to its end and dropped */
    enum cg_http_framing framing;
    uint64_t body_left;
    struct cg_http_chunked chunked;
    size_t body_seen;
    bool keep_alive;
    char peek[WH_PEEK_MAX];
    size_t peek_len;
    char dest[300];              /* host:port, for messages */
    struct wh_outcome out;
    wh_exchange_cb *cb;
    void *arg;
};

/* ---- verdicts ---- */

void wh_tls_outcome(const struct cg_tls_error *t, const char *dest, const char *cert, const char *name,
                    struct wh_outcome *o)
{
    const char *alert = cg_tls_alert_name(t->alert);
    switch (t->kind) {
    case CG_TLS_VERIFY_FAILED: {
        long v = t->verify_result;
        const char *why = X509_verify_cert_error_string(v);
        char fix[256];
        if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
            snprintf(fix, sizeof(fix), "Check the host in the webhook's URL: certgate webhook set %s --url URL", name);
        else if (v == X509_V_ERR_CERT_HAS_EXPIRED || v == X509_V_ERR_CERT_NOT_YET_VALID)
            snprintf(fix, sizeof(fix), "It is outside its validity period: tell the receiver's operator");
        else
            snprintf(fix, sizeof(fix), "If it comes from a private CA, give webhook '%s' that CA: certgate ca add CA "
                                       "ca.pem; certgate webhook set %s --ca CA", name, name);
        o->verdict = WH_PERMANENT;
        snprintf(o->error, sizeof(o->error), "tls: the certificate of %s failed verification: %s", dest, why);
        snprintf(o->problem, sizeof(o->problem), "%s's certificate failed verification: %s. %s", dest, why, fix);
        break;
    }
    case CG_TLS_CERT_REJECTED:
    case CG_TLS_CERT_REQUIRED:
        o->verdict = WH_PERMANENT;
        snprintf(o->error, sizeof(o->error), "tls: %s rejected the client certificate '%s' (alert %s)", dest, cert,
                 alert);
        snprintf(o->problem, sizeof(o->problem),
                 "your client certificate '%s' was rejected by %s (alert %s). Check that %s trusts its issuer and that "
                 "it is still valid, or give webhook '%s' another one: certgate webhook set %s --client-cert CERT",
                 cert, dest, alert, dest, name, name);
        break;
    default:
        o->verdict = WH_RETRY;
        snprintf(o->error, sizeof(o->error), "tls: TLS with %s failed: %s%s%s", dest,
                 t->detail[0] ? t->detail : "the connection closed", t->alert >= 0 ? "; alert " : "",
                 t->alert >= 0 ? alert : "");
        break;
    }
}

/* nginx with ssl_verify_client completes the handshake and answers 400 with these words when it
 * refuses the certificate: the same cause as a TLS alert, said in HTTP */
static bool says_cert_refused(struct cg_slice peek)
{
    return cg_slice_find(peek, "The SSL certificate error") >= 0 ||
           cg_slice_find(peek, "No required SSL certificate was sent") >= 0;
}

void wh_status_outcome(int status, struct cg_slice peek, const char *dest, const char *cert, const char *name,
                       struct wh_outcome *o)
{
    o->status_code = status;
    if (status >= 200 && status <= 299) {
        o->verdict = WH_DELIVERED;
        o->error[0] = '\0';
        return;
    }
    if (status == 400 && says_cert_refused(peek)) {
        o->verdict = WH_PERMANENT;
        snprintf(o->error, sizeof(o->error), "http: %s refused the client certificate '%s' (400: %s)", dest, cert,
                 cg_slice_find(peek, "No required") >= 0 ? "no required SSL certificate was sent"
                                                         : "the SSL certificate error");
        snprintf(o->problem, sizeof(o->problem),
                 "your client certificate '%s' was rejected by %s (it answered 400). Check that %s trusts its "
                 "issuer and that it is still valid, or give webhook '%s' another one: certgate webhook set %s "
                 "--client-cert CERT",
                 cert, dest, dest, name, name);
        return;
    }
    o->verdict = WH_RETRY;
    const char *reason = cg_http_reason(status);
    snprintf(o->error, sizeof(o->error), "http: %s answered %d%s%s", dest, status, reason[0] ? " " : "", reason);
}

/* ---- the end of an exchange ---- */

static void timer_closed_cb(uv_handle_t *h)
{
    struct wh_exchange *x = h->data;
    cg_runtime_unref(x->rt);
    cg_buf_cleanup(&x->req);
    cg_free(x);
}

static void finish(struct wh_exchange *x, bool reusable)
{
    if (x->phase == X_DONE) return;
    x->phase = X_DONE;
    if (x->up) {
        if (reusable) cg_pool_put(x->up);
        else cg_upconn_close(x->up);
        x->up = NULL;
    }
    if (!x->out.latency_ms) x->out.latency_ms = cg_time_mono_ms() - x->t0;
    x->cb(x->arg, &x->out);
    uv_close((uv_handle_t *)&x->timer, timer_closed_cb);
}

static void fail(struct wh_exchange *x, enum wh_verdict v, const char *fmt, ...) CG_PRINTF(3, 4);
static void fail(struct wh_exchange *x, enum wh_verdict v, const char *fmt, ...)
{
    x->out.verdict = v;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->out.error, sizeof(x->out.error), fmt, ap);
    va_end(ap);
    finish(x, false);
}

/* A write failed (the peer reset the connection): what it sent before, a TLS alert above all, may
 * still wait in the socket. With TLS 1.3 a server judges our certificate after our handshake is
 * done, so its alert and its reset can meet our request on the way; reading once more lets the
 * alert, not the reset, name the cause. */
static void read_what_is_left(struct wh_exchange *x)
{
    uint8_t scratch[4096];
    for (int i = 0; i < 8; i++) {
        size_t n = 0;
        errno = 0;
        if (cg_conn_read(&x->up->conn, scratch, sizeof(scratch), &n) != CG_IO_OK) return;
    }
}

/* The connection failed before a response head came: the server's TLS verdict when it sent one
 * (with TLS 1.3 its view of our certificate arrives only now), or that it closed. */
static void failed_before_answer(struct wh_exchange *x, const char *when)
{
    struct cg_conn *c = &x->up->conn;
    if (c->ssl && x->phase == X_WRITE) read_what_is_left(x);
    struct cg_tls_error t = x->up->tls;
    if (c->ssl) {
        cg_tls_classify(c->ssl, c->ssl_error, true, &t);
        if (t.alert >= 0 || t.kind != CG_TLS_PROTOCOL) {
            wh_tls_outcome(&t, x->dest, x->cert, x->wh->name, &x->out);
            finish(x, false);
            return;
        }
    }
    if (c->sys_errno)
        fail(x, WH_RETRY, "connect: %s closed the connection %s (%s)", x->dest, when, strerror(c->sys_errno));
    else
        fail(x, WH_RETRY, "connect: %s closed the connection %s", x->dest, when);
}

/* ---- the body ---- */

static void peek_keep(struct wh_exchange *x, const uint8_t *p, size_t n)
{
    size_t room = sizeof(x->peek) - x->peek_len;
    if (n > room) n = room;
    memcpy(x->peek + x->peek_len, p, n);
    x->peek_len += n;
}

static void body_done(struct wh_exchange *x, bool complete)
{
    wh_status_outcome(x->out.status_code, cg_slice_make(x->peek, x->peek_len), x->dest, x->cert, x->wh->name, &x->out);
    finish(x, complete && x->keep_alive);
}

/* Takes n body bytes; true when the body ended (or it must be cut) and the exchange finished. */
static bool body_feed(struct wh_exchange *x, const uint8_t *p, size_t n)
{
    peek_keep(x, p, n);
    x->body_seen += n;
    switch (x->framing) {
    case CG_HTTP_BODY_NONE: body_done(x, n == 0); return true;
    case CG_HTTP_BODY_LENGTH:
        if (n > x->body_left) { /* more than announced: the connection's framing is lost */
            body_done(x, false);
            return true;
        }
        x->body_left -= n;
        if (x->body_left == 0) {
            body_done(x, true);
            return true;
        }
        break;
    case CG_HTTP_BODY_CHUNKED: {
        size_t used = 0;
        bool done = false;
        const char *why = NULL;
        if (cg_http_chunked_scan(&x->chunked, p, n, &used, &done, NULL, &why) < 0 || (done && used != n)) {
            body_done(x, false);
            return true;
        }
        if (done) {
            body_done(x, true);
            return true;
        }
        break;
    }
    default: break; /* until the connection closes */
    }
    if (x->body_seen > WH_BODY_MAX) { /* the status is known: the rest is not worth reading */
        body_done(x, false);
        return true;
    }
    return false;
}

/* ---- the head ---- */

static void timer_cb(uv_timer_t *t);

static void head_parsed(struct wh_exchange *x, const struct cg_http_response *r)
{
    x->out.status_code = r->status;
    x->out.latency_ms = cg_time_mono_ms() - x->t0;
    const struct cg_http_header *ra = cg_http_header_find(r->headers, r->n_headers, "Retry-After");
    x->out.retry_after_ms = ra ? cg_webhook_retry_after_ms(ra->value, (int64_t)time(NULL)) : -1;
    x->framing = r->framing;
    x->body_left = r->content_length;
    x->keep_alive = r->keep_alive;
    cg_http_chunked_init(&x->chunked);
    x->phase = X_BODY;
    uv_timer_start(&x->timer, timer_cb, x->timeout_ms, 0); /* the body's own deadline */
}

/* Parses what came of the head; false when the exchange finished. */
static bool head_take(struct wh_exchange *x)
{
    struct cg_http_limits lim;
    cg_http_limits_default(&lim);
    lim.max_head_bytes = WH_HEAD_MAX;
    for (;;) {
        size_t end = cg_http_head_end(x->head, x->head_len, &x->scan);
        if (end == 0 && x->head_len < sizeof(x->head)) return true; /* more to come */
        struct cg_http_response r;
        const char *why = NULL;
        int n = cg_http_response_parse(x->head, x->head_len, cg_slice_str("POST"), &lim, &r, &why);
        if (n <= 0) {
            fail(x, WH_RETRY, "http: the response of %s is not valid HTTP: %s", x->dest,
                 n == 0 ? "its head is larger than 16 KiB" : why);
            return false;
        }
        size_t rest = x->head_len - (size_t)n;
        if (r.status >= 100 && r.status <= 199) { /* interim (103 Early Hints): the real one follows */
            memmove(x->head, x->head + n, rest);
            x->head_len = rest;
            x->scan = 0;
            continue;
        }
        head_parsed(x, &r);
        return !body_feed(x, x->head + n, rest);
    }
}

/* ---- reading and writing ---- */

static void redial(struct wh_exchange *x);

/* EOF or an error while waiting for the head. A pooled connection the server closed while it
 * idled is no answer at all: one new connection is made (a request it never read is sent again:
 * at-least-once, and the receiver de-duplicates by event id). */
static void head_lost(struct wh_exchange *x, bool eof)
{
    if (x->reused && !x->redialed && x->head_len == 0) {
        redial(x);
        return;
    }
    if (x->head_len) {
        fail(x, WH_RETRY, "http: %s closed the connection in the middle of the response head", x->dest);
        return;
    }
    failed_before_answer(x, eof ? "without answering" : "while the request was sent");
}

static void on_read(struct wh_exchange *x)
{
    uint8_t drain[16 * 1024];
    for (;;) {
        bool head = x->phase == X_HEAD;
        uint8_t *buf = head ? x->head + x->head_len : drain;
        size_t cap = head ? sizeof(x->head) - x->head_len : sizeof(drain), n = 0;
        ERR_clear_error();
        errno = 0;
        int r = cg_conn_read(&x->up->conn, buf, cap, &n);
        if (r == CG_IO_AGAIN) {
            cg_conn_watch(&x->up->conn, true, false);
            return;
        }
        if (r != CG_IO_OK) { /* EOF or an error */
            if (head) head_lost(x, r == CG_IO_EOF);
            else body_done(x, false);
            return;
        }
        if (head) {
            x->head_len += n;
            if (!head_take(x)) return;
        } else if (body_feed(x, buf, n)) {
            return;
        }
        if (x->phase == X_DONE) return;
    }
}

static void on_write(struct wh_exchange *x)
{
    while (x->written < x->req.len) {
        size_t n = 0;
        ERR_clear_error();
        errno = 0;
        int r = cg_conn_write(&x->up->conn, x->req.ptr + x->written, x->req.len - x->written, &n);
        if (r == CG_IO_AGAIN) {
            cg_conn_watch(&x->up->conn, false, true);
            return;
        }
        if (r < 0) {
            head_lost(x, false);
            return;
        }
        x->written += n;
    }
    x->phase = X_HEAD;
    on_read(x); /* read-ahead may hold the answer already; else this waits for it */
}

static void conn_event(struct cg_conn *c, int events)
{
    CG_UNUSED(events);
    struct wh_exchange *x = c->owner;
    if (x->phase == X_WRITE) on_write(x);
    else if (x->phase == X_HEAD || x->phase == X_BODY) on_read(x);
}

static void begin(struct wh_exchange *x);

static void timer_cb(uv_timer_t *t)
{
    struct wh_exchange *x = t->data;
    if (x->phase == X_START) {
        begin(x);
        return;
    }
    if (x->phase == X_BODY) {
        body_done(x, false); /* the status came: a slow body only costs the connection */
        return;
    }
    fail(x, WH_RETRY, "timeout: %s did not answer within %u ms", x->dest, x->timeout_ms);
}

/* A connection is ready: the request goes out, with what is left of the deadline. */
static void send_on(struct wh_exchange *x, struct cg_upconn *up)
{
    x->up = up;
    up->conn.owner = x;
    up->conn.on_event = conn_event;
    x->phase = X_WRITE;
    x->written = 0;
    uint64_t spent = cg_time_mono_ms() - x->t0;
    uv_timer_start(&x->timer, timer_cb, spent < x->timeout_ms ? x->timeout_ms - spent : 1, 0);
    on_write(x);
}

static void dialed_cb(void *arg, struct cg_upconn *up, const struct cg_dial_error *err)
{
    struct wh_exchange *x = arg;
    x->dial = NULL;
    if (up) {
        send_on(x, up);
        return;
    }
    switch (err->kind) {
    case CG_DIAL_TLS:
        wh_tls_outcome(&err->tls, x->dest, x->cert, x->wh->name, &x->out);
        finish(x, false);
        return;
    case CG_DIAL_DNS: fail(x, WH_RETRY, "dns: %s", err->message); return;
    case CG_DIAL_TIMEOUT: fail(x, WH_RETRY, "timeout: %s", err->message); return;
    default: fail(x, WH_RETRY, "connect: %s", err->message); return;
    }
}

static void dial(struct wh_exchange *x)
{
    x->phase = X_DIAL;
    struct cg_dial_params dp = {
        .entry = x->entry,
        .host = x->wh->host,
        .port = x->wh->port,
        .ctx = x->ctx,
        .presenting = true,
        .timeout_ms = x->timeout_ms,
    };
    x->dial = cg_dial_start(x->loop, &dp, dialed_cb, x);
    if (!x->dial) fail(x, WH_RETRY, "internal: out of memory dialing %s", x->dest);
}

static void redial(struct wh_exchange *x)
{
    cg_upconn_close(x->up);
    x->up = NULL;
    x->redialed = true;
    x->reused = false;
    uv_timer_stop(&x->timer);
    dial(x);
}

/* ---- starting ---- */

int wh_exchange_start(const struct wh_exchange_params *p, struct cg_buf *request, wh_exchange_cb *cb, void *arg,
                      struct wh_exchange **out, struct cg_err *err)
{
    const struct cg_snapshot_webhook *wh = &p->rt->snap->webhooks[p->webhook];
    size_t trust = cg_runtime_webhook_trust_id(p->rt, p->webhook);
    SSL_CTX *ctx = cg_runtime_client_ctx(p->rt, wh->cert, trust, err);
    CG_ENSURE(ctx, CG_EINTERNAL);
    char key[400];
    snprintf(key, sizeof(key), "%s%s|%u|%d|%zu", p->pool_prefix, wh->host, wh->port, wh->cert, trust);
    struct cg_pool_entry *entry = cg_pool_entry_get(p->pool, key);
    struct wh_exchange *x = entry ? cg_calloc(1, sizeof(*x)) : NULL;
    if (!x) return cg_err_set(err, CG_ENOMEM, "out of memory");
    x->loop = p->loop;
    x->rt = cg_runtime_ref(p->rt);
    x->wh = wh;
    x->cert = p->rt->snap->certs[wh->cert].name;
    x->ctx = ctx;
    x->entry = entry;
    x->timeout_ms = p->timeout_ms;
    x->t0 = cg_time_mono_ms();
    x->out.retry_after_ms = -1;
    x->req = *request;
    cg_buf_init(request, request->max);
    snprintf(x->dest, sizeof(x->dest), strchr(wh->host, ':') ? "[%s]:%u" : "%s:%u", wh->host, wh->port);
    x->cb = cb;
    x->arg = arg;
    uv_timer_init(p->loop, &x->timer);
    x->timer.data = x;
    x->phase = X_START;
    uv_timer_start(&x->timer, timer_cb, 0, 0); /* from the loop: cb never runs inside this call */
    *out = x;
    return 0;
}

static void begin(struct wh_exchange *x)
{
    struct cg_upconn *up = cg_pool_take(x->entry);
    if (up) {
        x->reused = true;
        send_on(x, up);
    } else {
        dial(x);
    }
}

void wh_exchange_hurry(struct wh_exchange *x)
{
    if (x->phase == X_BODY) body_done(x, false);
}
