/* The egress session: one accepted application connection, its requests in order, and the
 * upstream connection of the request in flight.
 *
 * Everything is driven by one function, progress(), which runs every step that can move
 * (read the client, write the upstream, read the upstream, write the client) until none can,
 * then sets each socket's poll interest from what is still pending. Bodies stream through the
 * input buffers: bytes are written on from where they were read, the framing (Content-Length or
 * chunked, RFC 9112 6) decides where a message ends, and a full buffer stops reading on that side
 * (back-pressure), so memory per session is bounded whatever the body size. */
#include "egress/egress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config/pins.h"
#include "core/mem.h"
#include "core/str.h"
#include "core/time.h"
#include "net/conn.h"
#include "net/dial.h"

#define BODY_CHUNK (16 * 1024)

void cg_egress_config_defaults(struct cg_egress_config *c)
{
    memset(c, 0, sizeof(*c));
    c->head_timeout_ms = 30000;
    c->idle_timeout_ms = 60000;
    c->connect_timeout_ms = 5000;
    c->response_timeout_ms = 60000;
    cg_http_limits_default(&c->limits);
}

enum state {
    S_HEAD,       /* waiting for (the rest of) a request head */
    S_CONNECTING, /* dialing the upstream */
    S_EXCHANGE,   /* request and response streaming */
    S_TUNNEL,     /* CONNECT or Upgrade: raw bytes both ways */
    S_ERROR,      /* writing an error answer, then closing */
    S_CLOSED,
};

/* One direction's framing. */
struct body {
    enum cg_http_framing framing;
    uint64_t left;              /* LENGTH: bytes still due */
    struct cg_http_chunked ch;  /* CHUNKED */
    size_t pending;             /* bytes at the input's read offset that belong to the body */
    bool last;                  /* the end of the body is within `pending` */
    bool done;                  /* all of it has been written on */
};

struct session {
    struct cg_conn client; /* first: the conn's callbacks find the session */
    struct cg_worker_session ws;
    struct cg_worker *w;
    const struct cg_egress_config *cfg;
    struct cg_runtime *rt; /* the configuration this request runs on */
    enum state state;
    uv_timer_t timer;
    int handles; /* client poll + timer: freed when both are closed */
    bool draining;

    struct cg_buf cin; /* from the application */
    size_t cin_off;
    bool cin_eof;
    struct cg_buf uin; /* from the upstream */
    size_t uin_off;
    bool uin_eof;
    struct cg_buf to_up; /* the rewritten request head */
    size_t to_up_off;
    struct cg_buf to_client; /* the rewritten response head, or an error answer */
    size_t to_client_off;

    struct cg_upconn *up;
    struct cg_dial *dial;
    bool up_reused;
    bool retried;
    struct body req, resp;
    bool resp_head_done;
    bool client_keep_alive;
    bool up_keep_alive;
    bool head_request;
    bool upgrade;
    bool tunnel_after_connect;
    bool await_readable; /* between requests: read only when the poll says there is something */
    bool client_http10;  /* the application speaks HTTP/1.0: no chunked coding towards it */
    bool dechunk;        /* the response is chunked and the application cannot take that */

    /* what the last request's destination resolved to: consecutive requests of a connection
     * mostly go to the same place, and this spares the formatting and the pool lookup */
    struct {
        uint64_t gen;
        int upstream, cert;
        size_t trust;
        uint16_t port;
        char host[256];
        char host_value[300];  /* the Host field sent upstream */
        char dest[320];        /* host:port for logs and errors */
        struct cg_pool_entry *entry;
    } dest_cache;

    /* facts of the request in flight, for the access log and error answers */
    char client_addr[64];
    char method[24];
    char target[512];
    char dest[320];       /* host:port */
    char host[256];
    uint16_t port;
    const char *server_name;
    int cert;             /* index into the runtime's certificates, or CG_PIN_NONE */
    int upstream;         /* index, or -1 */
    int status;
    const char *error;
    uint64_t start_us;
    uint64_t bytes_in, bytes_out;
};

static void progress(struct session *s);
static void session_close(struct session *s);

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void copy_slice(char *dst, size_t n, struct cg_slice s)
{
    size_t k = s.len < n - 1 ? s.len : n - 1;
    memcpy(dst, s.ptr, k);
    dst[k] = '\0';
}

/* ---- timers ---- */

static void timeout_cb(uv_timer_t *t);

static void arm(struct session *s, uint32_t ms)
{
    uv_timer_start(&s->timer, timeout_cb, ms, 0);
}

/* How long the upstream may stay silent while a response is due: its own setting, or the default. */
static uint32_t response_timeout(const struct session *s)
{
    const struct cg_snapshot_upstream *up = s->upstream >= 0 ? &s->rt->snap->upstreams[s->upstream] : NULL;
    return up && up->timeout_ms ? up->timeout_ms : s->cfg->response_timeout_ms;
}

/* ---- access log ---- */

static void log_request(struct session *s)
{
    if (!s->cfg->log || !s->method[0]) return;
    const struct cg_snapshot_cert *c = s->rt && s->cert >= 0 ? &s->rt->snap->certs[s->cert] : NULL;
    const char *tls = s->up && s->up->conn.ssl ? SSL_get_version(s->up->conn.ssl) : NULL;
    struct cg_access_entry e = {
        .listener = "egress",
        .client = s->client_addr,
        .method = s->method,
        .target = s->target,
        .status = s->status,
        .bytes_in = s->bytes_in,
        .bytes_out = s->bytes_out,
        .duration_us = now_us() - s->start_us,
        .upstream = s->dest,
        .cert = c ? c->name : NULL,
        .fingerprint = c ? c->fingerprint : NULL,
        .tls_version = tls,
        .resumed = s->up && s->up->conn.ssl ? (int)s->up->resumed : -1,
        .reused = s->up ? (int)s->up_reused : -1,
        .error = s->error,
    };
    cg_access_log_write(s->cfg->log, &e);
}

/* ---- error answers ---- */

/* Answers the application with status and a JSON body {"error", "message", "destination",
 * "certificate", "hint"}, then closes (the connection's state is unknown after a failure). */
static void fail(struct session *s, int status, const char *code, const char *hint, const char *fmt, ...)
    CG_PRINTF(5, 6);
static void fail(struct session *s, int status, const char *code, const char *hint, const char *fmt, ...)
{
    char message[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    const struct cg_snapshot_cert *c = s->rt && s->cert >= 0 ? &s->rt->snap->certs[s->cert] : NULL;
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(code));
    json_object_set_new(o, "message", json_string(message));
    json_object_set_new(o, "destination", s->dest[0] ? json_string(s->dest) : json_null());
    json_object_set_new(o, "certificate", c ? json_string(c->name) : json_null());
    if (hint) json_object_set_new(o, "hint", json_string(hint));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    size_t blen = body ? strlen(body) : 0;
    cg_buf_reset(&s->to_client);
    s->to_client_off = 0;
    char len[24];
    snprintf(len, sizeof(len), "%zu", blen + 1);
    int rc = cg_http_write_status_line(&s->to_client, status, cg_slice_make(NULL, 0));
    if (!rc) rc = cg_http_write_header(&s->to_client, cg_slice_str("Content-Type"), cg_slice_str("application/json"));
    if (!rc) rc = cg_http_write_header(&s->to_client, cg_slice_str("Content-Length"), cg_slice_str(len));
    if (!rc) rc = cg_http_write_header(&s->to_client, cg_slice_str("Connection"), cg_slice_str("close"));
    if (!rc) rc = cg_http_write_header(&s->to_client, cg_slice_str("Certgate-Error"), cg_slice_str(code));
    if (!rc) rc = cg_buf_append(&s->to_client, "\r\n", 2);
    if (!rc && body) rc = cg_buf_append(&s->to_client, body, blen);
    if (!rc) rc = cg_buf_append(&s->to_client, "\n", 1);
    free(body);
    s->status = status;
    s->error = code;
    log_request(s);
    s->method[0] = '\0'; /* logged */
    if (s->dial) {
        cg_dial_cancel(s->dial);
        s->dial = NULL;
    }
    if (s->up) {
        cg_upconn_close(s->up);
        s->up = NULL;
    }
    s->state = rc == 0 ? S_ERROR : S_CLOSED;
    if (rc != 0) session_close(s);
}

/* TLS alert names (RFC 8446 6.2); OpenSSL 3.0 does not know the TLS 1.3 ones. */
/* Gives up on the request in flight after part of an answer went out (nothing can be said to the
 * application any more): logs it with code and closes the connection. */
static void abandon(struct session *s, const char *code)
{
    s->error = code;
    log_request(s);
    s->method[0] = '\0';
    session_close(s);
}

static const char *alert_name(int alert)
{
    switch (alert) {
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 80: return "internal_error";
    case 112: return "unrecognized_name";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    case -1: return "none";
    default: return "other";
    }
}

/* The TLS failure of a dial, or of the first read after a TLS 1.3 handshake (where the server's
 * verdict on our certificate arrives), as an answer that names the cause and the fix. */
static void fail_tls(struct session *s, const struct cg_tls_error *t)
{
    const struct cg_snapshot_cert *c = s->cert >= 0 ? &s->rt->snap->certs[s->cert] : NULL;
    char hint[512];
    switch (t->kind) {
    case CG_TLS_VERIFY_FAILED: {
        long v = t->verify_result;
        const char *why = X509_verify_cert_error_string(v);
        if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
            snprintf(hint, sizeof(hint),
                     "the certificate is not for '%s': check the host, or set the name to verify with "
                     "certgate upstream set NAME --server-name NAME",
                     s->server_name);
        else if (v == X509_V_ERR_CERT_HAS_EXPIRED || v == X509_V_ERR_CERT_NOT_YET_VALID)
            snprintf(hint, sizeof(hint), "the server's certificate is outside its validity period: tell its operator");
        else
            snprintf(hint, sizeof(hint),
                     "if this server's certificate comes from a private CA, add that CA: certgate ca add NAME ca.pem");
        fail(s, 502, "upstream_certificate_invalid", hint, "the certificate of %s failed verification: %s", s->dest,
             why);
        return;
    }
    case CG_TLS_CERT_REQUIRED:
        snprintf(hint, sizeof(hint), "pin a client certificate for it: certgate pin set %s CERT", s->host);
        fail(s, 502, "client_certificate_required", hint,
             "%s requires a client certificate and none is pinned for this destination (alert: %s)", s->dest,
             alert_name(t->alert));
        return;
    case CG_TLS_CERT_REJECTED:
        snprintf(hint, sizeof(hint),
                 "check that %s trusts the issuer of '%s' and that it is still valid, or pin another certificate: "
                 "certgate pin set %s CERT",
                 s->host, c ? c->name : "?", s->host);
        fail(s, 502, "client_certificate_rejected", hint, "%s rejected the client certificate '%s' (alert: %s)",
             s->dest, c ? c->name : "?", alert_name(t->alert));
        return;
    default:
        fail(s, 502, "tls_handshake_failed", NULL, "TLS with %s failed: %s%s%s", s->dest,
             t->detail[0] ? t->detail : "the connection closed", t->alert >= 0 ? "; alert: " : "",
             t->alert >= 0 ? alert_name(t->alert) : "");
        return;
    }
}

/* ---- buffers ---- */

/* Reads from c into b (whose max caps it); CG_IO_* or an error. */
static int fill(struct cg_conn *c, struct cg_buf *b, size_t *off, uint64_t *counter)
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
    if (rc == CG_IO_OK) {
        b->len += n;
        if (counter) *counter += n;
    }
    return rc;
}

/* Writes the unsent part of a head buffer; true when something moved. */
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
static int frame(struct body *b, const uint8_t *p, size_t avail, bool eof, const char **why)
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
        CG_GUARD(cg_http_chunked_scan(&b->ch, p, avail, &used, &done, NULL, why));
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
static int pump(struct body *b, struct cg_conn *dst, struct cg_buf *in, size_t *off, uint64_t *counter, bool *moved)
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

static void body_init(struct body *b, enum cg_http_framing f, uint64_t length)
{
    memset(b, 0, sizeof(*b));
    b->framing = f;
    b->left = length;
    cg_http_chunked_init(&b->ch);
    if (f == CG_HTTP_BODY_NONE || (f == CG_HTTP_BODY_LENGTH && length == 0)) b->last = b->done = true;
}

/* ---- building the upstream request ---- */

static bool is_service_header(struct cg_slice name)
{
    return cg_slice_case_eq(name, cg_slice_str(CG_EGRESS_SERVICE_HEADER));
}

static int write_request_head(struct session *s, const struct cg_http_request *req, struct cg_slice path)
{
    struct cg_buf *b = &s->to_up;
    cg_buf_reset(b);
    s->to_up_off = 0;
    CG_GUARD(cg_http_write_request_line(b, req->method, path));
    CG_GUARD(cg_http_write_header(b, cg_slice_str("Host"), cg_slice_str(s->dest_cache.host_value)));
    /* the fields a Connection field names are hop-by-hop too: only look when there is one */
    size_t conn_n = cg_http_header_find(req->headers, req->n_headers, "Connection") ? req->n_headers : 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct cg_http_header *h = &req->headers[i];
        if (cg_slice_case_eq(h->name, cg_slice_str("Host")) || is_service_header(h->name)) continue;
        if (cg_http_is_hop_by_hop(h->name, req->headers, conn_n)) continue;
        CG_GUARD(cg_http_write_header(b, h->name, h->value));
    }
    if (req->framing == CG_HTTP_BODY_CHUNKED)
        CG_GUARD(cg_http_write_header(b, cg_slice_str("Transfer-Encoding"), cg_slice_str("chunked")));
    if (s->upgrade) {
        const struct cg_http_header *u = cg_http_header_find(req->headers, req->n_headers, "Upgrade");
        CG_GUARD(cg_http_write_header(b, cg_slice_str("Connection"), cg_slice_str("upgrade")));
        if (u) CG_GUARD(cg_http_write_header(b, cg_slice_str("Upgrade"), u->value));
    }
    return cg_buf_append(b, "\r\n", 2);
}

static int write_response_head(struct session *s, const struct cg_http_response *r)
{
    struct cg_buf *b = &s->to_client;
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
        /* an HTTP/1.0 application cannot read chunked coding: it gets the body de-chunked and
         * delimited by the close (RFC 9112 7.1, 6.3) */
        s->dechunk = r->framing == CG_HTTP_BODY_CHUNKED && s->client_http10;
        if (s->dechunk) s->client_keep_alive = false;
        else if (r->framing == CG_HTTP_BODY_CHUNKED)
            CG_GUARD(cg_http_write_header(b, cg_slice_str("Transfer-Encoding"), cg_slice_str("chunked")));
        if (!s->client_keep_alive || r->framing == CG_HTTP_BODY_CLOSE || s->draining)
            CG_GUARD(cg_http_write_header(b, cg_slice_str("Connection"), cg_slice_str("close")));
    }
    return cg_buf_append(b, "\r\n", 2);
}

/* ---- upstream connection ---- */

static void up_event(struct cg_conn *c, int events)
{
    CG_UNUSED(events);
    progress(c->owner);
}

static void attach(struct session *s, struct cg_upconn *up, bool reused)
{
    s->up = up;
    s->up_reused = reused;
    up->conn.owner = s;
    up->conn.on_event = up_event;
    cg_buf_reset(&s->uin);
    s->uin_off = 0;
    s->uin_eof = false;
    s->resp_head_done = false;
    s->state = s->tunnel_after_connect ? S_TUNNEL : S_EXCHANGE;
    if (s->tunnel_after_connect) {
        /* CONNECT established: tell the application, then relay raw bytes */
        cg_buf_reset(&s->to_client);
        s->to_client_off = 0;
        if (cg_buf_append_str(&s->to_client, "HTTP/1.1 200 Connection established\r\n\r\n") < 0) {
            session_close(s);
            return;
        }
        s->status = 200;
        log_request(s);
        s->method[0] = '\0';
        body_init(&s->req, CG_HTTP_BODY_TUNNEL, 0);
        body_init(&s->resp, CG_HTTP_BODY_TUNNEL, 0);
        uv_timer_stop(&s->timer);
    } else {
        arm(s, response_timeout(s));
    }
}

static void dial_cb(void *arg, struct cg_upconn *up, const struct cg_dial_error *err)
{
    struct session *s = arg;
    s->dial = NULL;
    if (!up) {
        switch (err->kind) {
        case CG_DIAL_DNS:
            fail(s, 502, "dns_failure", "check the host name, and that this machine's resolver knows it", "%s",
                 err->message);
            break;
        case CG_DIAL_REFUSED:
            fail(s, 502, "connect_refused", "check the port, and that the server is running", "%s", err->message);
            break;
        case CG_DIAL_TIMEOUT:
            fail(s, 504, "connect_timeout", "check that the server is reachable from this machine (firewall, route)",
                 "%s", err->message);
            break;
        case CG_DIAL_TLS: fail_tls(s, &err->tls); break;
        case CG_DIAL_SPKI:
            fail(s, 502, "upstream_key_mismatch",
                 "if the server's key changed on purpose, update the pin: certgate upstream set NAME --spki-sha256 B64",
                 "%s", err->message);
            break;
        default: fail(s, 502, "connect_failed", NULL, "%s", err->message); break;
        }
        progress(s);
        return;
    }
    attach(s, up, false);
    progress(s);
}

/* Fills s->dest (for logs and errors), the Host value and the pool entry of the destination just
 * routed, from the session's cache when it is the same as the last one. False when out of memory. */
static bool destination(struct session *s, size_t trust)
{
    bool v6 = strchr(s->host, ':') != NULL;
    if (s->dest_cache.entry && s->dest_cache.gen == s->w->gen && s->dest_cache.upstream == s->upstream &&
        s->dest_cache.cert == s->cert && s->dest_cache.trust == trust && s->dest_cache.port == s->port &&
        strcmp(s->dest_cache.host, s->host) == 0) {
        cg_strlcpy(s->dest, s->dest_cache.dest, sizeof(s->dest)); /* same place as last time */
        return true;
    }
    snprintf(s->dest, sizeof(s->dest), v6 ? "[%s]:%u" : "%s:%u", s->host, s->port);
    if (s->port == 443)
        snprintf(s->dest_cache.host_value, sizeof(s->dest_cache.host_value), v6 ? "[%s]" : "%s", s->host);
    else
        snprintf(s->dest_cache.host_value, sizeof(s->dest_cache.host_value), "%s", s->dest);
    const struct cg_snapshot_upstream *up = s->upstream >= 0 ? &s->rt->snap->upstreams[s->upstream] : NULL;
    char key[700];
    snprintf(key, sizeof(key), "%s%s|%u|%s|%d|%zu|%d", s->w->pool_prefix, s->host, s->port, s->server_name, s->cert,
             trust, up && up->has_spki ? s->upstream : -1);
    s->dest_cache.entry = cg_pool_entry_get(s->w->pool, key);
    s->dest_cache.gen = s->w->gen;
    s->dest_cache.upstream = s->upstream;
    s->dest_cache.cert = s->cert;
    s->dest_cache.trust = trust;
    s->dest_cache.port = s->port;
    cg_strlcpy(s->dest_cache.host, s->host, sizeof(s->dest_cache.host));
    cg_strlcpy(s->dest_cache.dest, s->dest, sizeof(s->dest_cache.dest));
    return s->dest_cache.entry != NULL;
}

/* Dials the request's destination with its certificate context, the upstream's SPKI pin and
 * connect timeout; the session waits in S_CONNECTING for dial_cb. */
static void dial_upstream(struct session *s, struct cg_pool_entry *e, SSL_CTX *ctx)
{
    const struct cg_snapshot_upstream *up = s->upstream >= 0 ? &s->rt->snap->upstreams[s->upstream] : NULL;
    struct cg_dial_params p = {
        .entry = e,
        .host = s->host,
        .port = s->port,
        .server_name = s->server_name,
        .ctx = ctx,
        .presenting = s->cert >= 0,
        .spki = up && up->has_spki ? up->spki_sha256 : NULL,
        .timeout_ms = up && up->connect_timeout_ms ? up->connect_timeout_ms : s->cfg->connect_timeout_ms,
    };
    s->state = S_CONNECTING;
    uv_timer_stop(&s->timer);
    s->dial = cg_dial_start(&s->w->loop, &p, dial_cb, s);
    if (!s->dial) fail(s, 502, "connect_failed", NULL, "out of memory dialing %s", s->dest);
}

/* ---- routing a request ---- */

static bool host_names_upstream(struct session *s, struct cg_slice host, int *idx)
{
    /* Host may carry a port: "partner-api:80" still names "partner-api" */
    const uint8_t *colon = host.len && host.ptr[0] != '[' ? memchr(host.ptr, ':', host.len) : NULL;
    if (colon) host.len = (size_t)(colon - host.ptr);
    *idx = cg_snapshot_upstream_find(s->rt->snap, host);
    return *idx >= 0;
}

static void start_request(struct session *s, const struct cg_http_request *req, size_t head_len)
{
    s->start_us = now_us();
    s->bytes_in = head_len;
    s->bytes_out = 0;
    s->status = 0;
    s->error = NULL;
    s->dest[0] = '\0';
    s->cert = CG_PIN_NONE;
    s->upstream = -1;
    s->retried = false;
    s->tunnel_after_connect = false;
    /* nothing of the previous exchange on this connection carries over */
    memset(&s->resp, 0, sizeof(s->resp));
    s->resp_head_done = false;
    s->up_keep_alive = false;
    copy_slice(s->method, sizeof(s->method), req->method);
    copy_slice(s->target, sizeof(s->target), req->target);
    s->client_keep_alive = req->keep_alive && !s->draining;
    s->client_http10 = req->minor_version == 0;
    s->dechunk = false;
    s->head_request = cg_slice_eq_str(req->method, "HEAD");
    s->upgrade = req->upgrade;
    cg_runtime_unref(s->rt);
    s->rt = cg_runtime_ref(cg_worker_runtime(s->w));
    if (!s->rt) {
        s->cin_off += head_len;
        fail(s, 503, "not_configured", NULL, "certgate has no configuration loaded");
        return;
    }
    const struct cg_snapshot *snap = s->rt->snap;
    const char *why = NULL;
    struct cg_http_uri uri;
    char path_buf[8192 + 512];
    struct cg_slice path = req->target;
    bool is_connect = req->target_form == CG_HTTP_TARGET_AUTHORITY;

    if (req->target_form == CG_HTTP_TARGET_ABSOLUTE || is_connect) {
        if (cg_http_uri_parse(req->target, is_connect, &uri, &why) < 0) {
            s->cin_off += head_len;
            fail(s, 400, "bad_target", NULL, "the request target '%s' is not valid: %s", s->target, why);
            return;
        }
        copy_slice(s->host, sizeof(s->host), uri.host);
        s->port = uri.port ? uri.port : 443;
        path = uri.path;
        int idx;
        if (!is_connect && !uri.ipv6 && host_names_upstream(s, uri.host, &idx)) s->upstream = idx;
    } else if (req->target_form == CG_HTTP_TARGET_ORIGIN) {
        int idx = -1;
        if (req->host.len && host_names_upstream(s, req->host, &idx)) {
            s->upstream = idx;
        } else if (s->cfg->default_upstream &&
                   (idx = cg_snapshot_upstream_find(snap, cg_slice_str(s->cfg->default_upstream))) >= 0) {
            s->upstream = idx;
        } else {
            s->cin_off += head_len;
            fail(s, 400, "unknown_destination",
                 "send absolute-form requests (set http_proxy=http://THIS-LISTENER and use http:// URLs), or name an "
                 "upstream in Host: certgate upstream add NAME https://host",
                 "Host '%.*s' names no upstream, and the request is not in absolute form (http://host/path)",
                 (int)(req->host.len > 200 ? 200 : req->host.len), (const char *)req->host.ptr);
            return;
        }
    } else {
        s->cin_off += head_len;
        fail(s, 400, "bad_target", NULL, "the request target '%s' cannot be proxied", s->target);
        return;
    }
    const struct cg_snapshot_upstream *up = s->upstream >= 0 ? &snap->upstreams[s->upstream] : NULL;
    if (up) {
        cg_strlcpy(s->host, up->host, sizeof(s->host));
        s->port = up->port;
        if (up->base_path[0]) {
            snprintf(path_buf, sizeof(path_buf), "%s%.*s", up->base_path, (int)path.len, (const char *)path.ptr);
            path = cg_slice_str(path_buf);
        }
    }
    s->server_name = up ? up->server_name : s->host;

    /* the certificate: pins by service, host:port, host, wildcard; else the default */
    const struct cg_http_header *svc = cg_http_header_find(req->headers, req->n_headers, CG_EGRESS_SERVICE_HEADER);
    struct cg_pin_match m;
    cg_pin_resolve(snap->pins, cg_slice_str(s->host), s->port, svc ? svc->value : cg_slice_make(NULL, 0), &m);
    s->cert = m.cert;
    size_t trust = cg_runtime_trust_id(s->rt, s->upstream);
    if (!destination(s, trust)) {
        s->cin_off += head_len;
        fail(s, 502, "internal", NULL, "out of memory");
        return;
    }

    if (is_connect) {
        s->cin_off += head_len;
        if (!s->cfg->allow_connect) {
            fail(s, 403, "connect_disabled", "send absolute-form requests (http://host/path) and let certgate do the TLS; "
                                             "or enable tunnels with egress.allow_connect: true",
                 "CONNECT tunnels are disabled on this listener");
            return;
        }
        if (m.cert >= 0) {
            char hint[256];
            snprintf(hint, sizeof(hint), "send http://%s/... through certgate instead of https://, so that it can "
                                         "present the certificate", s->dest);
            fail(s, 403, "connect_would_skip_certificate", hint,
                 "%s gets the client certificate '%s' (%s), which a blind tunnel cannot present", s->dest,
                 snap->certs[m.cert].name, cg_pin_rule_name(m.rule));
            return;
        }
        s->tunnel_after_connect = true;
        s->state = S_CONNECTING;
        struct cg_pool_entry *e = cg_pool_entry_get(s->w->pool, "tunnel");
        struct cg_dial_params p = {.entry = e, .host = s->host, .port = s->port,
                                   .timeout_ms = s->cfg->connect_timeout_ms};
        uv_timer_stop(&s->timer);
        s->dial = cg_dial_start(&s->w->loop, &p, dial_cb, s);
        if (!s->dial) fail(s, 502, "connect_failed", NULL, "out of memory");
        return;
    }

    struct cg_err err;
    cg_err_clear(&err);
    SSL_CTX *ctx = cg_runtime_client_ctx(s->rt, s->cert, trust, &err);
    if (!ctx) {
        s->cin_off += head_len;
        fail(s, 502, "internal", NULL, "%s", err.msg);
        return;
    }
    if (write_request_head(s, req, path) < 0) {
        s->cin_off += head_len;
        fail(s, 502, "internal", NULL, "cannot build the upstream request");
        return;
    }
    body_init(&s->req, req->framing, req->content_length);
    s->cin_off += head_len;

    /* a pooled connection, or a new one */
    struct cg_pool_entry *e = s->dest_cache.entry;
    struct cg_upconn *pooled = e ? cg_pool_take(e) : NULL;
    if (pooled) {
        attach(s, pooled, true);
        return;
    }
    if (!e) {
        fail(s, 502, "internal", NULL, "out of memory");
        return;
    }
    dial_upstream(s, e, ctx);
}

/* ---- steps ---- */

static bool step_head(struct session *s)
{
    struct cg_http_request req;
    const char *why = NULL;
    size_t avail = s->cin.len - s->cin_off;
    int rc = avail ? cg_http_request_parse(s->cin.ptr + s->cin_off, avail, &s->cfg->limits, &req, &why) : 0;
    if (rc > 0) {
        start_request(s, &req, (size_t)rc);
        return true;
    }
    if (rc < 0) {
        s->cin_off = s->cin.len;
        s->method[0] = '\0';
        if (rc == CG_ELIMIT)
            fail(s, 431, "request_too_large", NULL, "the request head is too large: %s", why);
        else
            fail(s, 400, "bad_request", NULL, "the request is not valid HTTP/1.1: %s", why);
        return true;
    }
    if (s->draining && avail == 0) {
        session_close(s);
        return false;
    }
    if (s->await_readable) return false;
    rc = fill(&s->client, &s->cin, &s->cin_off, NULL);
    if (rc == CG_IO_OK) return true;
    if (rc == CG_IO_AGAIN) return false;
    session_close(s); /* EOF or error between requests: the application is done */
    return false;
}

/* The pooled connection died before the response began: retry once on a new connection when the
 * request can be sent again (idempotent, without a body, nothing received yet). */
static bool can_retry(struct session *s)
{
    if (!s->up_reused || s->retried || s->uin.len > 0 || s->req.framing != CG_HTTP_BODY_NONE) return false;
    return !strcmp(s->method, "GET") || !strcmp(s->method, "HEAD") || !strcmp(s->method, "OPTIONS") ||
           !strcmp(s->method, "PUT") || !strcmp(s->method, "DELETE");
}

static void retry(struct session *s)
{
    struct cg_pool_entry *e = s->up->entry;
    cg_upconn_close(s->up);
    s->up = NULL;
    s->retried = true;
    s->to_up_off = 0;
    body_init(&s->req, CG_HTTP_BODY_NONE, 0);
    struct cg_err err;
    SSL_CTX *ctx = cg_runtime_client_ctx(s->rt, s->cert, cg_runtime_trust_id(s->rt, s->upstream), &err);
    if (!ctx) {
        fail(s, 502, "internal", NULL, "%s", err.msg);
        return;
    }
    dial_upstream(s, e, ctx);
}

/* The upstream connection failed before any answer: retry when that is safe (not after a TLS
 * error: the server would say the same again), else tell the application why -- the server's
 * TLS verdict when it sent one (in TLS 1.3 its view of our certificate arrives only now), or
 * that it closed. */
static void upstream_broke(struct session *s, const char *when)
{
    struct cg_conn *c = &s->up->conn;
    if (can_retry(s) && c->ssl_error != SSL_ERROR_SSL) {
        retry(s);
        return;
    }
    struct cg_tls_error t = s->up->tls;
    if (c->ssl) {
        cg_tls_classify(c->ssl, c->ssl_error, s->cert >= 0, &t);
        if (t.alert >= 0 || t.kind != CG_TLS_PROTOCOL) {
            fail_tls(s, &t);
            return;
        }
    }
    if (c->sys_errno)
        fail(s, 502, "upstream_closed", NULL, "%s closed the connection %s (%s)", s->dest, when, strerror(c->sys_errno));
    else
        fail(s, 502, "upstream_closed", NULL, "%s closed the connection %s", s->dest, when);
}

static void finish_request(struct session *s)
{
    log_request(s);
    s->method[0] = '\0';
    bool reusable = s->up_keep_alive && s->resp.framing != CG_HTTP_BODY_CLOSE && s->req.done && !s->draining;
    if (reusable) {
        s->up->requests++;
        cg_pool_put(s->up);
    } else {
        cg_upconn_close(s->up);
    }
    s->up = NULL;
    cg_runtime_unref(s->rt);
    s->rt = NULL;
    if (!s->client_keep_alive || s->resp.framing == CG_HTTP_BODY_CLOSE || s->draining) {
        session_close(s);
        return;
    }
    s->state = S_HEAD;
    cg_buf_reset(&s->to_client);
    s->to_client_off = 0;
    /* the next request is rarely there yet: wait for the poll rather than pay a read(2) that
     * answers EAGAIN (a pipelined request already buffered is parsed at once) */
    s->await_readable = true;
    arm(s, s->cfg->idle_timeout_ms);
}

static bool step_exchange(struct session *s)
{
    bool moved = false;
    const char *why = NULL;
    int rc;
    struct cg_conn *uc = &s->up->conn;

    /* request: the head, then the body from the application */
    rc = flush(uc, &s->to_up, &s->to_up_off, &moved);
    if (rc < 0) goto up_broken;
    if (rc == CG_IO_OK && s->to_up_off == s->to_up.len && !s->req.done) {
        size_t avail = s->cin.len - s->cin_off;
        if (frame(&s->req, s->cin.ptr + s->cin_off, avail, s->cin_eof, &why) < 0) {
            fail(s, 400, "bad_request", NULL, "the request body is not valid: %s", why);
            return true;
        }
        rc = pump(&s->req, uc, &s->cin, &s->cin_off, &s->bytes_in, &moved);
        if (rc < 0) goto up_broken;
        if (!s->req.done && !s->req.pending && s->cin_off == s->cin.len && !s->cin_eof) {
            rc = fill(&s->client, &s->cin, &s->cin_off, NULL);
            if (rc == CG_IO_OK) moved = true;
            else if (rc == CG_IO_EOF || rc < 0) {
                /* the application went away in the middle of its request */
                session_close(s);
                return false;
            }
        }
    }

    /* response: read, parse the head, forward the head and the body */
    if (!s->resp.done && (!s->resp_head_done || (!s->resp.pending && s->uin_off == s->uin.len))) {
        rc = fill(uc, &s->uin, &s->uin_off, NULL);
        if (rc == CG_IO_OK) {
            moved = true;
            arm(s, response_timeout(s));
        } else if (rc == CG_IO_EOF) {
            s->uin_eof = true;
            if (!s->resp_head_done) {
                upstream_broke(s, "before answering");
                return true;
            }
            if (s->resp.framing != CG_HTTP_BODY_CLOSE && !s->resp.last) {
                /* a truncated response: the application must not take it as complete */
                abandon(s, "upstream_truncated");
                return false;
            }
            moved = true;
        } else if (rc < 0 && rc != CG_ELIMIT) {
            if (!s->resp_head_done && s->bytes_out == 0) {
                upstream_broke(s, "before answering");
                return true;
            }
            abandon(s, "upstream_error");
            return false;
        }
    }
    while (!s->resp_head_done && s->uin_off < s->uin.len) {
        struct cg_http_response resp;
        rc = cg_http_response_parse(s->uin.ptr + s->uin_off, s->uin.len - s->uin_off, cg_slice_str(s->method),
                                    &s->cfg->limits, &resp, &why);
        if (rc == 0) {
            if (s->uin.len == s->uin.max) {
                fail(s, 502, "bad_response", NULL, "the response head of %s is too large", s->dest);
                return true;
            }
            break;
        }
        if (rc < 0) {
            fail(s, 502, "bad_response", NULL, "%s sent a response that is not valid HTTP/1.1: %s", s->dest, why);
            return true;
        }
        if (s->to_client_off == s->to_client.len) {
            cg_buf_reset(&s->to_client);
            s->to_client_off = 0;
        }
        if (write_response_head(s, &resp) < 0) {
            fail(s, 502, "internal", NULL, "cannot build the response");
            return true;
        }
        s->uin_off += (size_t)rc;
        moved = true;
        if (resp.status >= 100 && resp.status < 200 && resp.status != 101) continue; /* 100 Continue etc. */
        s->resp_head_done = true;
        s->status = resp.status;
        s->up_keep_alive = resp.keep_alive;
        body_init(&s->resp, resp.framing, resp.content_length);
        /* a small body that arrived with the head leaves in the same write */
        if (resp.status != 101 && !s->resp.done && !s->dechunk &&
            frame(&s->resp, s->uin.ptr + s->uin_off, s->uin.len - s->uin_off, s->uin_eof, &why) == 0 &&
            s->resp.pending && s->resp.pending <= BODY_CHUNK &&
            cg_buf_append(&s->to_client, s->uin.ptr + s->uin_off, s->resp.pending) == 0) {
            s->uin_off += s->resp.pending;
            s->bytes_out += s->resp.pending;
            s->resp.pending = 0;
            if (s->resp.last) s->resp.done = true;
        }
        if (resp.status == 101) {
            s->state = S_TUNNEL;
            body_init(&s->req, CG_HTTP_BODY_TUNNEL, 0);
            body_init(&s->resp, CG_HTTP_BODY_TUNNEL, 0);
            log_request(s);
            s->method[0] = '\0';
            uv_timer_stop(&s->timer);
        }
    }
    rc = flush(&s->client, &s->to_client, &s->to_client_off, &moved);
    if (rc < 0) {
        session_close(s);
        return false;
    }
    if (s->state == S_TUNNEL) return true;
    if (s->resp_head_done && rc == CG_IO_OK && !s->resp.done && s->dechunk) {
        /* decode the chunks into the (flushed) output buffer, then send the payload */
        cg_buf_reset(&s->to_client);
        s->to_client_off = 0;
        size_t used = 0;
        bool done = false;
        if (cg_http_chunked_scan(&s->resp.ch, s->uin.ptr + s->uin_off, s->uin.len - s->uin_off, &used, &done,
                                 &s->to_client, &why) < 0) {
            abandon(s, "bad_response_body");
            return false;
        }
        s->uin_off += used;
        s->bytes_out += s->to_client.len;
        if (used) moved = true;
        rc = flush(&s->client, &s->to_client, &s->to_client_off, &moved);
        if (rc < 0) {
            session_close(s);
            return false;
        }
        if (done) s->resp.last = true;
        if (s->resp.last && s->to_client_off == s->to_client.len) s->resp.done = true;
    } else if (s->resp_head_done && rc == CG_IO_OK && !s->resp.done) {
        if (frame(&s->resp, s->uin.ptr + s->uin_off, s->uin.len - s->uin_off, s->uin_eof, &why) < 0) {
            abandon(s, "bad_response_body");
            return false;
        }
        rc = pump(&s->resp, &s->client, &s->uin, &s->uin_off, &s->bytes_out, &moved);
        if (rc < 0) {
            session_close(s);
            return false;
        }
    }
    if (s->resp.done && s->req.done && s->to_client_off == s->to_client.len) {
        finish_request(s);
        return s->state == S_HEAD;
    }
    if (s->resp.done && !s->req.done) {
        /* the server answered before reading the whole request: this connection is done */
        s->up_keep_alive = false;
        s->client_keep_alive = false;
        s->req.done = true;
        finish_request(s);
        return false;
    }
    return moved;

up_broken:
    if (!s->resp_head_done && s->bytes_out == 0) {
        upstream_broke(s, "while the request was being sent");
        return true;
    }
    session_close(s);
    return false;
}

static bool step_tunnel(struct session *s)
{
    bool moved = false;
    struct cg_conn *uc = &s->up->conn;
    int rc = flush(&s->client, &s->to_client, &s->to_client_off, &moved);
    if (rc < 0) goto done;
    if (rc != CG_IO_OK) return moved;
    /* application -> upstream */
    if (frame(&s->req, s->cin.ptr + s->cin_off, s->cin.len - s->cin_off, s->cin_eof, NULL) == 0) {
        rc = pump(&s->req, uc, &s->cin, &s->cin_off, &s->bytes_in, &moved);
        if (rc < 0) goto done;
        s->req.last = false;
        s->req.done = false;
    }
    if (s->cin_off == s->cin.len && !s->cin_eof) {
        rc = fill(&s->client, &s->cin, &s->cin_off, NULL);
        if (rc == CG_IO_OK) moved = true;
        else if (rc == CG_IO_EOF) {
            s->cin_eof = true;
            shutdown(uc->fd, SHUT_WR);
            moved = true;
        } else if (rc < 0) goto done;
    }
    /* upstream -> application */
    if (frame(&s->resp, s->uin.ptr + s->uin_off, s->uin.len - s->uin_off, s->uin_eof, NULL) == 0) {
        rc = pump(&s->resp, &s->client, &s->uin, &s->uin_off, &s->bytes_out, &moved);
        if (rc < 0) goto done;
        s->resp.last = false;
        s->resp.done = false;
    }
    if (s->uin_off == s->uin.len && !s->uin_eof) {
        rc = fill(uc, &s->uin, &s->uin_off, NULL);
        if (rc == CG_IO_OK) moved = true;
        else if (rc == CG_IO_EOF) {
            s->uin_eof = true;
            shutdown(s->client.fd, SHUT_WR);
            moved = true;
        } else if (rc < 0) goto done;
    }
    if (s->cin_eof && s->uin_eof && s->cin_off == s->cin.len && s->uin_off == s->uin.len) goto done;
    return moved;
done:
    session_close(s);
    return false;
}

static bool step_error(struct session *s)
{
    bool moved = false;
    int rc = flush(&s->client, &s->to_client, &s->to_client_off, &moved);
    if (rc < 0 || s->to_client_off == s->to_client.len) {
        session_close(s);
        return false;
    }
    return moved;
}

/* Poll interest from what each side still has to do. */
static void rearm(struct session *s)
{
    if (s->state == S_CLOSED) return;
    bool c_read = false, c_write = false, u_read = false, u_write = false;
    /* bytes waiting to go out include input not yet framed: the fairness guard in progress() may
     * have stopped before framing them, and they must still wake the session */
    bool client_out = s->to_client_off < s->to_client.len || s->resp.pending ||
                      (s->resp_head_done && !s->resp.done && s->uin_off < s->uin.len);
    bool up_out = s->to_up_off < s->to_up.len || s->req.pending || (!s->req.done && s->cin_off < s->cin.len);
    switch (s->state) {
    case S_HEAD: c_read = s->cin.len < s->cin.max || s->cin_off > 0; break;
    case S_EXCHANGE:
        u_write = up_out;
        c_read = !s->req.done && !up_out;
        c_write = client_out;
        u_read = !s->resp.done && !client_out && s->uin_off == s->uin.len;
        if (!s->resp_head_done) u_read = true;
        break;
    case S_TUNNEL:
        c_write = client_out || s->uin_off < s->uin.len;
        u_write = up_out;
        c_read = !s->cin_eof && s->cin_off == s->cin.len;
        u_read = !s->uin_eof && s->uin_off == s->uin.len;
        break;
    case S_ERROR: c_write = true; break;
    default: break;
    }
    cg_conn_watch(&s->client, c_read, c_write);
    if (s->up && !s->up->conn.closing) cg_conn_watch(&s->up->conn, u_read, u_write);
}

static void progress(struct session *s)
{
    for (int guard = 0; guard < 256 && s->state != S_CLOSED; guard++) {
        bool moved;
        switch (s->state) {
        case S_HEAD: moved = step_head(s); break;
        case S_EXCHANGE: moved = step_exchange(s); break;
        case S_TUNNEL: moved = step_tunnel(s); break;
        case S_ERROR: moved = step_error(s); break;
        default: moved = false; break;
        }
        if (!moved) break;
    }
    rearm(s);
}

static void client_event(struct cg_conn *c, int events)
{
    struct session *s = c->owner;
    if (events & UV_READABLE) s->await_readable = false;
    progress(s);
}

static void timeout_cb(uv_timer_t *t)
{
    struct session *s = t->data;
    switch (s->state) {
    case S_HEAD: session_close(s); break; /* idle keep-alive, or a head that never came */
    case S_EXCHANGE:
        if (!s->resp_head_done) {
            fail(s, 504, "upstream_timeout", "raise the upstream's --timeout if the server is slow by design",
                 "%s did not answer in time", s->dest);
            progress(s);
        } else {
            abandon(s, "upstream_timeout");
        }
        break;
    default: session_close(s); break;
    }
}

/* ---- lifecycle ---- */

static void session_free_maybe(struct session *s)
{
    if (--s->handles > 0) return;
    cg_runtime_unref(s->rt);
    cg_buf_cleanup(&s->cin);
    cg_buf_cleanup(&s->uin);
    cg_buf_cleanup(&s->to_up);
    cg_buf_cleanup(&s->to_client);
    cg_free(s);
}

static void client_closed(struct cg_conn *c) { session_free_maybe(c->owner); }

static void timer_closed(uv_handle_t *h) { session_free_maybe(h->data); }

static void session_close(struct session *s)
{
    if (s->state == S_CLOSED && s->client.closing) return;
    if (s->method[0] && s->status == 0) {
        /* the application left before an answer: log what happened */
        s->error = s->error ? s->error : "client_closed";
        log_request(s);
        s->method[0] = '\0';
    }
    s->state = S_CLOSED;
    if (s->dial) {
        cg_dial_cancel(s->dial);
        s->dial = NULL;
    }
    if (s->up) {
        cg_upconn_close(s->up);
        s->up = NULL;
    }
    cg_worker_session_remove(s->w, &s->ws);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, timer_closed);
    cg_conn_close(&s->client);
}

static void session_drain(struct cg_worker_session *ws)
{
    struct session *s = (struct session *)((char *)ws - offsetof(struct session, ws));
    s->draining = true;
    s->client_keep_alive = false;
    if (s->state == S_HEAD && s->cin_off == s->cin.len) session_close(s); /* idle: nothing in flight */
}

void cg_egress_accept(struct cg_worker *w, int fd, void *arg)
{
    const struct cg_egress_config *cfg = arg;
    struct session *s = cg_calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        return;
    }
    if (cg_conn_init(&w->loop, &s->client, fd, s, client_event) < 0) {
        close(fd);
        cg_free(s);
        return;
    }
    s->client.on_close = client_closed;
    s->w = w;
    s->cfg = cfg;
    s->handles = 2;
    s->ws.drain = session_drain;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        char ip[INET6_ADDRSTRLEN] = "?";
        uint16_t port = 0;
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        snprintf(s->client_addr, sizeof(s->client_addr), "%s:%u", ip, port);
    }
    size_t head_max = cfg->limits.max_head_bytes ? cfg->limits.max_head_bytes : 65536;
    cg_buf_init(&s->cin, head_max + BODY_CHUNK);
    cg_buf_init(&s->uin, head_max + BODY_CHUNK);
    cg_buf_init(&s->to_up, 0);
    cg_buf_init(&s->to_client, 0);
    s->cert = CG_PIN_NONE;
    s->upstream = -1;
    s->state = S_HEAD;
    uv_timer_init(&w->loop, &s->timer);
    s->timer.data = s;
    cg_worker_session_add(w, &s->ws);
    if (w->draining) {
        session_close(s);
        return;
    }
    arm(s, cfg->head_timeout_ms);
    progress(s);
}
