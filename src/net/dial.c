#include "net/dial.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/mem.h"
#include "core/str.h"
#include "core/time.h"

/* ---------------------------------------------------------------------------------------- */
/* pool                                                                                     */

#define POOL_BUCKETS 256

struct cg_pool_entry {
    char *key;
    struct cg_pool_entry *next_bucket;
    struct cg_pool *pool;
    struct cg_upconn *idle; /* most recently used first */
    size_t n_idle;
    SSL_SESSION *session;
};

struct cg_pool {
    uv_loop_t *loop;
    struct cg_pool_limits lim;
    struct cg_pool_entry *buckets[POOL_BUCKETS];
    uv_timer_t sweep;
    size_t open;      /* connections not yet freed */
    size_t n_idle;
    cg_counter *idle_gauge; /* the owner's metric of n_idle, or NULL */
    bool freeing;
    bool sweep_closed;
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static void pool_maybe_free(struct cg_pool *p)
{
    if (!p->freeing || p->open || !p->sweep_closed) return;
    for (size_t i = 0; i < POOL_BUCKETS; i++)
        for (struct cg_pool_entry *e = p->buckets[i], *n; e; e = n) {
            n = e->next_bucket;
            SSL_SESSION_free(e->session);
            cg_free(e->key);
            cg_free(e);
        }
    cg_free(p);
}

static void idle_unlink(struct cg_upconn *up)
{
    struct cg_pool_entry *e = up->entry;
    if (!up->prev && e->idle != up) return; /* not idle */
    if (up->prev) up->prev->next = up->next;
    else e->idle = up->next;
    if (up->next) up->next->prev = up->prev;
    up->next = up->prev = NULL;
    e->n_idle--;
    e->pool->n_idle--;
    if (e->pool->idle_gauge) cg_counter_set(e->pool->idle_gauge, e->pool->n_idle);
}

static void upconn_freed(struct cg_conn *c)
{
    struct cg_upconn *up = (struct cg_upconn *)c;
    struct cg_pool *p = up->entry->pool;
    p->open--;
    cg_free(up);
    pool_maybe_free(p);
}

void cg_upconn_close(struct cg_upconn *up)
{
    if (up->conn.closing) return;
    idle_unlink(up);
    cg_conn_close(&up->conn);
}

static void sweep_cb(uv_timer_t *t)
{
    struct cg_pool *p = t->data;
    uint64_t now = cg_time_mono_ms();
    for (size_t i = 0; i < POOL_BUCKETS; i++)
        for (struct cg_pool_entry *e = p->buckets[i]; e; e = e->next_bucket)
            for (struct cg_upconn *up = e->idle, *n; up; up = n) {
                n = up->next;
                if (now - up->idle_since_ms >= p->lim.idle_timeout_ms) cg_upconn_close(up);
            }
}

struct cg_pool *cg_pool_new(uv_loop_t *loop, const struct cg_pool_limits *lim)
{
    struct cg_pool *p = cg_calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->loop = loop;
    p->lim.idle_timeout_ms = lim && lim->idle_timeout_ms ? lim->idle_timeout_ms : 60000;
    p->lim.max_idle_per_key = lim && lim->max_idle_per_key ? lim->max_idle_per_key : 64;
    uv_timer_init(loop, &p->sweep);
    p->sweep.data = p;
    uv_timer_start(&p->sweep, sweep_cb, 1000, 1000);
    uv_unref((uv_handle_t *)&p->sweep);
    return p;
}

static void sweep_closed_cb(uv_handle_t *h)
{
    struct cg_pool *p = h->data;
    p->sweep_closed = true;
    pool_maybe_free(p);
}

void cg_pool_free(struct cg_pool *p)
{
    if (!p) return;
    p->freeing = true;
    for (size_t i = 0; i < POOL_BUCKETS; i++)
        for (struct cg_pool_entry *e = p->buckets[i]; e; e = e->next_bucket)
            while (e->idle) cg_upconn_close(e->idle);
    uv_close((uv_handle_t *)&p->sweep, sweep_closed_cb);
}

struct cg_pool_entry *cg_pool_entry_get(struct cg_pool *p, const char *key)
{
    size_t b = fnv(key) % POOL_BUCKETS;
    for (struct cg_pool_entry *e = p->buckets[b]; e; e = e->next_bucket)
        if (strcmp(e->key, key) == 0) return e;
    struct cg_pool_entry *e = cg_calloc(1, sizeof(*e));
    if (!e || !(e->key = cg_strdup(key))) {
        cg_free(e);
        return NULL;
    }
    e->pool = p;
    e->next_bucket = p->buckets[b];
    p->buckets[b] = e;
    return e;
}

static void idle_event(struct cg_conn *c, int events)
{
    CG_UNUSED(events);
    /* an idle connection became readable: the server closed it or sent something unasked */
    cg_upconn_close((struct cg_upconn *)c);
}

struct cg_upconn *cg_pool_take(struct cg_pool_entry *e)
{
    uint64_t now = cg_time_mono_ms();
    while (e->idle) {
        struct cg_upconn *up = e->idle;
        idle_unlink(up);
        /* A close by the server while idle wakes the poll and drops the connection (idle_event);
         * a check costs a syscall, so it is only made when the connection idled long enough for
         * that wake-up to be pending still unnoticed. */
        if (now - up->idle_since_ms >= 1000 && cg_conn_peer_gone(&up->conn)) {
            cg_conn_close(&up->conn);
            continue;
        }
        return up;
    }
    return NULL;
}

void cg_pool_put(struct cg_upconn *up)
{
    struct cg_pool_entry *e = up->entry;
    struct cg_pool *p = e->pool;
    if (p->freeing || e->n_idle >= p->lim.max_idle_per_key || up->conn.closing) {
        cg_upconn_close(up);
        return;
    }
    up->idle_since_ms = cg_time_mono_ms();
    up->prev = NULL;
    up->next = e->idle;
    if (e->idle) e->idle->prev = up;
    e->idle = up;
    e->n_idle++;
    p->n_idle++;
    if (p->idle_gauge) cg_counter_set(p->idle_gauge, p->n_idle);
    up->conn.on_event = idle_event;
    up->conn.owner = NULL;
    up->conn.blocked_read_on_write = up->conn.blocked_write_on_read = false;
    cg_conn_watch(&up->conn, true, false);
}

void cg_pool_flush_except(struct cg_pool *p, const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < POOL_BUCKETS; i++)
        for (struct cg_pool_entry *e = p->buckets[i]; e; e = e->next_bucket)
            if (strncmp(e->key, prefix, n) != 0)
                while (e->idle) cg_upconn_close(e->idle);
}

size_t cg_pool_idle_count(const struct cg_pool *p) { return p->n_idle; }

void cg_pool_set_idle_gauge(struct cg_pool *p, cg_counter *gauge) { p->idle_gauge = gauge; }

/* ---------------------------------------------------------------------------------------- */
/* dialing                                                                                  */

enum { D_RESOLVING, D_CONNECTING, D_HANDSHAKE, D_DONE };

struct cg_dial {
    uv_loop_t *loop;
    struct cg_pool_entry *entry;
    char host[256];
    char server_name[256];
    char port_str[8];
    uint16_t port;
    SSL_CTX *ctx;
    bool presenting;
    bool has_spki;
    uint8_t spki[32];
    uint32_t timeout_ms;
    int state;
    bool cancelled;
    bool gai_pending;
    int handles_open; /* timer and kick */
    uv_getaddrinfo_t gai;
    struct addrinfo *addrs, *cur;
    struct addrinfo literal; /* for IP literals: no resolver */
    struct sockaddr_storage literal_addr;
    uv_timer_t timer;
    uv_timer_t kick; /* starts the work from the loop, so cb never runs inside cg_dial_start */
    struct cg_upconn *up;
    int last_errno;
    cg_dial_cb *cb;
    void *arg;
};

static void dial_maybe_free(struct cg_dial *d)
{
    if (d->state != D_DONE || d->gai_pending || d->handles_open) return;
    if (d->addrs && d->addrs != &d->literal) uv_freeaddrinfo(d->addrs);
    SSL_CTX_free(d->ctx);
    cg_free(d);
}

static void handle_closed_cb(uv_handle_t *h)
{
    struct cg_dial *d = h->data;
    d->handles_open--;
    dial_maybe_free(d);
}

static void finish(struct cg_dial *d, struct cg_upconn *up, struct cg_dial_error *err)
{
    d->state = D_DONE;
    uv_close((uv_handle_t *)&d->timer, handle_closed_cb);
    uv_close((uv_handle_t *)&d->kick, handle_closed_cb);
    if (d->gai_pending) uv_cancel((uv_req_t *)&d->gai);
    d->up = NULL;
    if (d->cancelled) {
        if (up) cg_pool_put(up); /* nobody waits for it: it may serve the next request */
    } else {
        d->cb(d->arg, up, err);
    }
    dial_maybe_free(d);
}

static void fail(struct cg_dial *d, enum cg_dial_failure kind, const char *fmt, ...) CG_PRINTF(3, 4);
static void fail(struct cg_dial *d, enum cg_dial_failure kind, const char *fmt, ...)
{
    struct cg_dial_error err;
    memset(&err, 0, sizeof(err));
    err.kind = kind;
    err.tls.alert = -1;
    if (d->up) err.tls = d->up->tls;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err.message, sizeof(err.message), fmt, ap);
    va_end(ap);
    if (d->up) {
        cg_upconn_close(d->up);
        d->up = NULL;
    }
    finish(d, NULL, &err);
}

static void try_next_address(struct cg_dial *d);

static void handshake_step(struct cg_dial *d)
{
    struct cg_upconn *up = d->up;
    ERR_clear_error();
    int r = SSL_connect(up->conn.ssl);
    if (r == 1) {
        if (d->has_spki) {
            uint8_t got[32];
            if (cg_tls_peer_spki_sha256(up->conn.ssl, got) < 0 || memcmp(got, d->spki, 32) != 0) {
                fail(d, CG_DIAL_SPKI, "the public key of %s:%u does not match the upstream's SPKI pin", d->host,
                     d->port);
                return;
            }
        }
        up->resumed = SSL_session_reused(up->conn.ssl);
        cg_conn_watch(&up->conn, false, false);
        finish(d, up, NULL);
        return;
    }
    int e = SSL_get_error(up->conn.ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        cg_conn_watch(&up->conn, e == SSL_ERROR_WANT_READ, e == SSL_ERROR_WANT_WRITE);
        return;
    }
    cg_tls_classify(up->conn.ssl, e, d->presenting, &up->tls);
    if (up->tls.kind == CG_TLS_OK) up->tls.kind = CG_TLS_PROTOCOL;
    if (e == SSL_ERROR_SYSCALL && !up->tls.detail[0])
        snprintf(up->tls.detail, sizeof(up->tls.detail), "the connection closed during the handshake");
    fail(d, CG_DIAL_TLS, "TLS handshake with %s:%u failed: %s", d->host, d->port, up->tls.detail);
}

static void start_tls(struct cg_dial *d)
{
    struct cg_upconn *up = d->up;
    SSL *ssl = SSL_new(d->ctx);
    if (!ssl || SSL_set_fd(ssl, up->conn.fd) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        fail(d, CG_DIAL_INTERNAL, "cannot start TLS");
        return;
    }
    up->conn.ssl = ssl;
    SSL_set_app_data(ssl, up);
    cg_tls_error_attach(ssl, &up->tls);
    const char *name = d->server_name;
    unsigned char ipbuf[16];
    bool is_ip = inet_pton(AF_INET, name, ipbuf) == 1 || inet_pton(AF_INET6, name, ipbuf) == 1;
    if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
    } else {
        SSL_set_tlsext_host_name(ssl, name);
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        SSL_set1_host(ssl, name);
    }
    if (d->entry->session) SSL_set_session(ssl, d->entry->session);
    d->state = D_HANDSHAKE;
    handshake_step(d);
}

static void dial_conn_event(struct cg_conn *c, int events)
{
    CG_UNUSED(events);
    struct cg_dial *d = c->owner;
    if (d->state == D_CONNECTING) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr) {
            d->last_errno = soerr;
            cg_upconn_close(d->up);
            d->up = NULL;
            d->cur = d->cur->ai_next;
            try_next_address(d);
            return;
        }
        if (!d->ctx) { /* a plain connection (CONNECT tunnels) */
            cg_conn_watch(c, false, false);
            finish(d, d->up, NULL);
            return;
        }
        start_tls(d);
    } else if (d->state == D_HANDSHAKE) {
        handshake_step(d);
    }
}

static void try_next_address(struct cg_dial *d)
{
    for (; d->cur; d->cur = d->cur->ai_next) {
        int fd = cg_net_socket(d->cur->ai_family);
        if (fd < 0) {
            d->last_errno = errno;
            continue;
        }
        int r = connect(fd, d->cur->ai_addr, d->cur->ai_addrlen);
        if (r < 0 && errno != EINPROGRESS) {
            d->last_errno = errno;
            close(fd);
            continue;
        }
        struct cg_upconn *up = cg_calloc(1, sizeof(*up));
        if (!up || cg_conn_init(d->loop, &up->conn, fd, d, dial_conn_event) < 0) {
            cg_free(up);
            close(fd);
            fail(d, CG_DIAL_INTERNAL, "out of memory");
            return;
        }
        up->entry = d->entry;
        up->presented = d->presenting;
        up->conn.on_close = upconn_freed;
        up->tls.alert = -1;
        d->entry->pool->open++;
        d->up = up;
        d->state = D_CONNECTING;
        cg_conn_watch(&up->conn, false, true);
        return;
    }
    if (d->last_errno == ECONNREFUSED)
        fail(d, CG_DIAL_REFUSED, "connection to %s:%u refused", d->host, d->port);
    else
        fail(d, CG_DIAL_CONNECT, "cannot connect to %s:%u: %s", d->host, d->port,
             strerror(d->last_errno ? d->last_errno : EHOSTUNREACH));
}

static void resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct cg_dial *d = req->data;
    d->gai_pending = false;
    if (d->state == D_DONE) { /* timed out or cancelled meanwhile */
        if (res) uv_freeaddrinfo(res);
        dial_maybe_free(d);
        return;
    }
    if (status < 0 || !res) {
        if (res) uv_freeaddrinfo(res);
        fail(d, CG_DIAL_DNS, "cannot resolve '%s': %s", d->host, uv_strerror(status));
        return;
    }
    d->addrs = d->cur = res;
    try_next_address(d);
}

static void timeout_cb(uv_timer_t *t)
{
    struct cg_dial *d = t->data;
    const char *phase = d->state == D_RESOLVING ? "resolving" : d->state == D_CONNECTING ? "connecting to" : "the TLS handshake with";
    fail(d, CG_DIAL_TIMEOUT, "timed out %s %s:%u", phase, d->host, d->port);
}

static void kick_cb(uv_timer_t *t)
{
    struct cg_dial *d = t->data;
    if (d->cancelled) {
        finish(d, NULL, NULL);
        return;
    }
    uv_timer_start(&d->timer, timeout_cb, d->timeout_ms, 0);
    /* an IP literal needs no resolver */
    memset(&d->literal, 0, sizeof(d->literal));
    struct sockaddr_in *in4 = (struct sockaddr_in *)&d->literal_addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&d->literal_addr;
    if (inet_pton(AF_INET, d->host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(d->port);
        d->literal.ai_family = AF_INET;
        d->literal.ai_addrlen = sizeof(*in4);
    } else if (inet_pton(AF_INET6, d->host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(d->port);
        d->literal.ai_family = AF_INET6;
        d->literal.ai_addrlen = sizeof(*in6);
    }
    if (d->literal.ai_family) {
        d->literal.ai_socktype = SOCK_STREAM;
        d->literal.ai_addr = (struct sockaddr *)&d->literal_addr;
        d->addrs = d->cur = &d->literal;
        try_next_address(d);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    d->gai.data = d;
    if (uv_getaddrinfo(d->loop, &d->gai, resolved_cb, d->host, d->port_str, &hints) != 0) {
        fail(d, CG_DIAL_DNS, "cannot resolve '%s'", d->host);
        return;
    }
    d->gai_pending = true;
}

int cg_dial_new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct cg_upconn *up = SSL_get_app_data(ssl);
    if (!up || !up->entry) return 0;
    SSL_SESSION_free(up->entry->session);
    up->entry->session = sess;
    return 1; /* we keep the reference */
}

struct cg_dial *cg_dial_start(uv_loop_t *loop, const struct cg_dial_params *p, cg_dial_cb *cb, void *arg)
{
    struct cg_dial *d = cg_calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->loop = loop;
    d->entry = p->entry;
    cg_strlcpy(d->host, p->host, sizeof(d->host));
    cg_strlcpy(d->server_name, p->server_name ? p->server_name : p->host, sizeof(d->server_name));
    d->port = p->port;
    snprintf(d->port_str, sizeof(d->port_str), "%u", p->port);
    d->ctx = p->ctx;
    if (d->ctx) SSL_CTX_up_ref(d->ctx); /* a cancelled dial may outlive the runtime that made it */
    d->presenting = p->presenting;
    if (p->spki) {
        d->has_spki = true;
        memcpy(d->spki, p->spki, 32);
    }
    d->cb = cb;
    d->arg = arg;
    uv_timer_init(loop, &d->timer);
    uv_timer_init(loop, &d->kick);
    d->timer.data = d->kick.data = d;
    d->handles_open = 2;
    d->timeout_ms = p->timeout_ms ? p->timeout_ms : 5000;
    d->state = D_RESOLVING;
    uv_timer_start(&d->kick, kick_cb, 0, 0);
    return d;
}

void cg_dial_cancel(struct cg_dial *d)
{
    if (d) d->cancelled = true;
}
