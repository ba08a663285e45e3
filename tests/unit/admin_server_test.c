/* The admin listener's HTTP server (admin/server.c), for real: a libuv loop on a thread runs the
 * server, the test talks to it over loopback with plain sockets and with an OpenSSL client.
 * Covered: every answer the server gives by itself (400, 431, 413 by Content-Length and by the
 * chunked size, 408, 501), 100-continue, the handler's status, headers and body, de-chunked bodies,
 * keep-alive, HTTP/1.0, pipelining answered in order and one at a time (a client that does not
 * read its answers is not read from), HEAD, timeouts, the connection cap, HTTPS with a verified,
 * an unverified and no client certificate, the TLS context swap, address errors, and the
 * handler helpers (cg_admin_error, cg_admin_pct_decode, cg_admin_query_get). Each server is
 * stopped with connections still open, and the loop must then close cleanly (no handle left). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "admin/server.h"
#include "core/mem.h"
#include "testpki.h"

/* ---- what the handler saw (it runs on the loop thread) ---- */

static struct {
    pthread_mutex_t lock;
    int count;
    char method[16], path[256], query[256], peer[64], cert_cn[128];
    struct cg_buf body;
    bool tls;
    const char *expect_header; /* when set: the value of this request field goes to header_value */
    char header_value[128];
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void copy_slice(char *out, size_t n, struct cg_slice s)
{
    size_t len = s.len < n - 1 ? s.len : n - 1;
    if (len) memcpy(out, s.ptr, len);
    out[len] = '\0';
}

static void record(const struct cg_admin_request *rq)
{
    pthread_mutex_lock(&seen.lock);
    seen.count++;
    copy_slice(seen.method, sizeof(seen.method), rq->method);
    copy_slice(seen.path, sizeof(seen.path), rq->path);
    copy_slice(seen.query, sizeof(seen.query), rq->query);
    snprintf(seen.peer, sizeof(seen.peer), "%s", rq->peer);
    cg_buf_reset(&seen.body);
    if (rq->body_len && cg_buf_append(&seen.body, rq->body, rq->body_len) < 0) abort();
    seen.tls = rq->tls;
    seen.cert_cn[0] = '\0';
    if (rq->client_cert)
        X509_NAME_get_text_by_NID(X509_get_subject_name(rq->client_cert), NID_commonName, seen.cert_cn,
                                  sizeof(seen.cert_cn));
    seen.header_value[0] = '\0';
    if (seen.expect_header) {
        const struct cg_http_header *h = cg_http_header_find(rq->headers, rq->n_headers, seen.expect_header);
        if (h) copy_slice(seen.header_value, sizeof(seen.header_value), h->value);
    }
    pthread_mutex_unlock(&seen.lock);
}

static int seen_count(void)
{
    pthread_mutex_lock(&seen.lock);
    int n = seen.count;
    pthread_mutex_unlock(&seen.lock);
    return n;
}

static size_t big_len = 16u * 1024 * 1024;

static void handler(void *arg, const struct cg_admin_request *rq, struct cg_admin_response *rs)
{
    (void)arg;
    record(rq);
    if (cg_slice_eq_str(rq->path, "/created")) {
        rs->status = 201;
        rs->content_type = "text/plain; charset=utf-8";
        snprintf(rs->extra_headers, sizeof(rs->extra_headers), "Location: /items/1\r\nX-Extra: yes\r\n");
        if (cg_buf_append_str(&rs->body, "made") < 0) abort();
    } else if (cg_slice_eq_str(rq->path, "/nocontent")) {
        rs->status = 204;
    } else if (cg_slice_eq_str(rq->path, "/bad-header")) {
        snprintf(rs->extra_headers, sizeof(rs->extra_headers), "X-Split: a\r\nInjected: b\nc\r\n");
    } else if (cg_slice_eq_str(rq->path, "/bad-status")) {
        rs->status = 42;
    } else if (cg_slice_eq_str(rq->path, "/missing")) {
        cg_admin_error(rs, 404, "store.not_found", "no certificate 'x': see `certgate cert list`");
    } else if (cg_slice_eq_str(rq->path, "/big")) {
        rs->content_type = "application/octet-stream";
        if (cg_buf_reserve(&rs->body, big_len) < 0) abort();
        memset(rs->body.ptr, 'B', big_len);
        rs->body.len = big_len;
    } else { /* echo */
        rs->content_type = "text/plain";
        if (cg_buf_printf(&rs->body, "%.*s %.*s ?%.*s body=%.*s", (int)rq->method.len, (const char *)rq->method.ptr,
                          (int)rq->path.len, (const char *)rq->path.ptr, (int)rq->query.len,
                          (const char *)rq->query.ptr, (int)rq->body_len, rq->body ? (const char *)rq->body : "") < 0)
            abort();
    }
}

/* ---- a server on a loop thread ---- */

struct fx {
    uv_loop_t loop;
    uv_async_t stop;
    uv_async_t call; /* runs call_fn on the loop thread (the server is not thread-safe) */
    void (*call_fn)(struct fx *f);
    sem_t called;
    pthread_t thread;
    struct cg_admin_server *srv;
    int port;
    char addr[64];
};

static void stop_cb(uv_async_t *a)
{
    struct fx *f = a->data;
    cg_admin_server_stop(f->srv);
    uv_close((uv_handle_t *)a, NULL);
    uv_close((uv_handle_t *)&f->call, NULL);
}

static void call_cb(uv_async_t *a)
{
    struct fx *f = a->data;
    f->call_fn(f);
    sem_post(&f->called);
}

static void fx_call(struct fx *f, void (*fn)(struct fx *f))
{
    f->call_fn = fn;
    uv_async_send(&f->call);
    while (sem_wait(&f->called) != 0) {}
}

static void *loop_main(void *arg)
{
    struct fx *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return NULL;
}

static int free_port(int family)
{
    int fd = socket(family, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    int port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    close(fd);
    return port;
}

static struct cg_admin_server_config base_cfg(void)
{
    struct cg_admin_server_config c = {
        .max_body_bytes = 1024,
        .head_timeout_ms = 2000,
        .idle_timeout_ms = 5000,
        .handler = handler,
    };
    return c;
}

static void fx_start(struct fx *f, struct cg_admin_server_config cfg, bool v6)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->port = free_port(v6 ? AF_INET6 : AF_INET);
    snprintf(f->addr, sizeof(f->addr), v6 ? "[::1]:%d" : "127.0.0.1:%d", f->port);
    cfg.addr = f->addr;
    struct cg_err err;
    cg_err_clear(&err);
    int rc = cg_admin_server_start(&f->loop, &cfg, &f->srv, &err);
    if (rc != 0) fail_msg("start: %s (%s)", err.msg, err.hint);
    assert_int_equal(uv_async_init(&f->loop, &f->stop, stop_cb), 0);
    f->stop.data = f;
    assert_int_equal(uv_async_init(&f->loop, &f->call, call_cb), 0);
    f->call.data = f;
    sem_init(&f->called, 0, 0);
    assert_int_equal(pthread_create(&f->thread, NULL, loop_main, f), 0);
}

static void fx_stop(struct fx *f)
{
    uv_async_send(&f->stop);
    pthread_join(f->thread, NULL);
    /* every handle closed and the server freed once the loop ran dry (ASan checks the memory) */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    sem_destroy(&f->called);
}

/* ---- a client ---- */

struct client {
    int fd;
    SSL *ssl;
    struct cg_buf in; /* bytes read and not yet taken */
};

static SSL_CTX *client_ctx;

static void cl_connect(struct client *c, int port, bool v6)
{
    memset(c, 0, sizeof(*c));
    cg_buf_init(&c->in, 0);
    c->fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc;
    if (v6) {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_loopback};
        rc = connect(c->fd, (struct sockaddr *)&a, sizeof(a));
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect(c->fd, (struct sockaddr *)&a, sizeof(a));
    }
    assert_int_equal(rc, 0);
}

static bool cl_tls(struct client *c, X509 *cert, EVP_PKEY *key)
{
    c->ssl = SSL_new(client_ctx);
    assert_non_null(c->ssl);
    if (cert) {
        assert_int_equal(SSL_use_certificate(c->ssl, cert), 1);
        assert_int_equal(SSL_use_PrivateKey(c->ssl, key), 1);
    }
    SSL_set_fd(c->ssl, c->fd);
    bool ok = SSL_connect(c->ssl) == 1;
    ERR_clear_error();
    return ok;
}

static void cl_close(struct client *c)
{
    if (c->ssl) {
        SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(c->ssl);
    }
    if (c->fd >= 0) close(c->fd);
    cg_buf_cleanup(&c->in);
    c->fd = -1;
    c->ssl = NULL;
}

static void cl_send_n(struct client *c, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = c->ssl ? SSL_write(c->ssl, s, (int)n) : send(c->fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) fail_msg("send failed: %s", strerror(errno));
        s += w;
        n -= (size_t)w;
    }
}

static void cl_send(struct client *c, const char *s) { cl_send_n(c, s, strlen(s)); }

/* Reads more into c->in: the count, 0 at EOF, -1 on an error or the 5 s timeout. */
static ssize_t cl_fill(struct client *c)
{
    uint8_t b[65536];
    ssize_t r = c->ssl ? SSL_read(c->ssl, b, sizeof(b)) : recv(c->fd, b, sizeof(b), 0);
    if (r > 0) {
        if (cg_buf_append(&c->in, b, (size_t)r) < 0) abort();
        return r;
    }
    if (c->ssl) {
        int e = SSL_get_error(c->ssl, (int)r);
        ERR_clear_error();
        return e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0) ? 0 : -1;
    }
    return r < 0 && errno == ECONNRESET ? 0 : r;
}

struct resp {
    int status;
    char head[4096];
    struct cg_buf body;
    bool keep_alive;
};

/* One response (for a request with method). A 1xx is returned as it is, without a body. */
static void cl_response(struct client *c, const char *method, struct resp *r)
{
    memset(r, 0, sizeof(*r));
    cg_buf_init(&r->body, 0);
    struct cg_http_response h;
    const char *why;
    int n;
    while ((n = cg_http_response_parse(c->in.ptr, c->in.len, cg_slice_str(method), NULL, &h, &why)) == 0)
        if (cl_fill(c) <= 0) fail_msg("no (complete) response: have %zu bytes", c->in.len);
    if (n < 0) fail_msg("a malformed response: %s", why);
    r->status = h.status;
    r->keep_alive = h.keep_alive;
    copy_slice(r->head, sizeof(r->head), cg_slice_make(c->in.ptr, (size_t)n));
    size_t want = h.framing == CG_HTTP_BODY_LENGTH ? (size_t)h.content_length : 0;
    if (h.framing == CG_HTTP_BODY_CHUNKED || h.framing == CG_HTTP_BODY_CLOSE) fail_msg("unexpected framing");
    while (c->in.len < (size_t)n + want)
        if (cl_fill(c) <= 0) fail_msg("a short body");
    if (cg_buf_append(&r->body, c->in.ptr + n, want) < 0) abort();
    size_t used = (size_t)n + want;
    memmove(c->in.ptr, c->in.ptr + used, c->in.len - used);
    c->in.len -= used;
}

static void resp_free(struct resp *r) { cg_buf_cleanup(&r->body); }

/* The peer closed: EOF with nothing more to read. */
static void cl_assert_closed(struct client *c)
{
    ssize_t r;
    while ((r = cl_fill(c)) > 0) {}
    if (r < 0) fail_msg("the server did not close the connection");
    assert_int_equal(c->in.len, 0);
}

static void assert_has(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) fail_msg("\"%s\" lacks \"%s\"", hay, needle);
}

static void assert_lacks(const char *hay, const char *needle)
{
    if (strstr(hay, needle)) fail_msg("\"%s\" has \"%s\"", hay, needle);
}

static void assert_body(const struct resp *r, const char *want)
{
    if (!cg_slice_eq_str(cg_buf_slice(&r->body), want))
        fail_msg("body \"%s\", want \"%s\"", cg_buf_str(&r->body), want);
}

/* A request, its answer, and the answer's checks that every response shares. */
static void roundtrip(struct client *c, const char *req, const char *method, struct resp *r)
{
    cl_send(c, req);
    cl_response(c, method, r);
    if (r->status >= 200) {
        assert_has(r->head, "\r\nCache-Control: no-store\r\n");
        assert_has(r->head, "\r\nX-Content-Type-Options: nosniff\r\n");
        assert_has(r->head, "\r\nDate: ");
    }
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- plain HTTP ---- */

static void test_handler_answers(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, base_cfg(), false);
    struct client c;
    cl_connect(&c, f.port, false);
    struct resp r;
    roundtrip(&c, "GET /echo/a%20b?x=1&y=%2F HTTP/1.1\r\nHost: admin\r\n\r\n", "GET", &r);
    assert_int_equal(r.status, 200);
    assert_has(r.head, "\r\nContent-Type: text/plain\r\n");
    assert_body(&r, "GET /echo/a%20b ?x=1&y=%2F body=");
    assert_has(r.head, "\r\nContent-Length: 32\r\n");
    assert_true(r.keep_alive);
    assert_lacks(r.head, "Connection:");
    resp_free(&r);
    assert_has(seen.peer, "127.0.0.1:");
    assert_false(seen.tls);

    roundtrip(&c, "POST /created HTTP/1.1\r\nHost: admin\r\nContent-Length: 3\r\n\r\nabc", "POST", &r);
    assert_int_equal(r.status, 201);
    assert_has(r.head, "\r\nContent-Type: text/plain; charset=utf-8\r\n");
    assert_has(r.head, "\r\nLocation: /items/1\r\nX-Extra: yes\r\n");
    assert_body(&r, "made");
    assert_string_equal(seen.body.ptr, "abc");
    resp_free(&r);

    roundtrip(&c, "DELETE /nocontent HTTP/1.1\r\nHost: admin\r\n\r\n", "DELETE", &r);
    assert_int_equal(r.status, 204);
    assert_lacks(r.head, "Content-Length");
    assert_lacks(r.head, "\r\nContent-Type");
    resp_free(&r);

    roundtrip(&c, "GET /missing HTTP/1.1\r\nHost: admin\r\n\r\n", "GET", &r);
    assert_int_equal(r.status, 404);
    assert_has(r.head, "\r\nContent-Type: application/json\r\n");
    assert_body(&r, "{\"error\":\"store.not_found\",\"message\":\"no certificate 'x': see `certgate cert list`\"}\n");
    resp_free(&r);

    /* absolute-form targets are accepted (RFC 9112 3.2.2); the handler sees the path */
    roundtrip(&c, "GET http://admin/abs?q=1 HTTP/1.1\r\nHost: admin\r\n\r\n", "GET", &r);
    assert_body(&r, "GET /abs ?q=1 body=");
    resp_free(&r);
    roundtrip(&c, "GET http://admin?q=2 HTTP/1.1\r\nHost: admin\r\n\r\n", "GET", &r);
    assert_body(&r, "GET / ?q=2 body=");
    resp_free(&r);

    /* a handler answer with a line break in a header, or a status out of range: 500 and close */
    roundtrip(&c, "GET /bad-header HTTP/1.1\r\nHost: admin\r\n\r\n", "GET", &r);
    assert_int_equal(r.status, 500);
    assert_lacks(r.head, "Injected");
    assert_has(r.head, "\r\nConnection: close\r\n");
    resp_free(&r);
    cl_assert_closed(&c);
    cl_close(&c);
    cl_connect(&c, f.port, false);
    roundtrip(&c, "GET /bad-status HTTP/1.1\r\nHost: admin\r\n\r\n", "GET", &r);
    assert_int_equal(r.status, 500);
    resp_free(&r);
    cl_close(&c);
    fx_stop(&f);
}

static void test_keepalive_pipelining_head(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, base_cfg(), false);
    struct client c;
    cl_connect(&c, f.port, false);
    int before = seen_count();
    /* three requests in one write, answered in order; the last asks to close */
    cl_send(&c, "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
                "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                "HEAD /three HTTP/1.1\r\nHost: a\r\n\r\n"
                "POST /four HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                "GET /five HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    struct resp r;
    cl_response(&c, "GET", &r);
    assert_body(&r, "GET /one ? body=");
    resp_free(&r);
    cl_response(&c, "POST", &r);
    assert_body(&r, "POST /two ? body=hello");
    resp_free(&r);
    /* HEAD: the length of what GET would send, and no body (the next answer parses right after) */
    cl_response(&c, "HEAD", &r);
    assert_int_equal(r.status, 200);
    assert_has(r.head, "\r\nContent-Length: 19\r\n");
    assert_int_equal(r.body.len, 0);
    resp_free(&r);
    cl_response(&c, "POST", &r);
    assert_body(&r, "POST /four ? body=abc");
    resp_free(&r);
    cl_response(&c, "GET", &r);
    assert_body(&r, "GET /five ? body=");
    assert_has(r.head, "\r\nConnection: close\r\n");
    resp_free(&r);
    cl_assert_closed(&c);
    cl_close(&c);
    assert_int_equal(seen_count() - before, 5);

    /* HTTP/1.0: closes unless asked to keep alive, and then says so */
    cl_connect(&c, f.port, false);
    roundtrip(&c, "GET /old HTTP/1.0\r\n\r\n", "GET", &r);
    assert_int_equal(r.status, 200);
    assert_has(r.head, "\r\nConnection: close\r\n");
    resp_free(&r);
    cl_assert_closed(&c);
    cl_close(&c);
    cl_connect(&c, f.port, false);
    roundtrip(&c, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET", &r);
    assert_has(r.head, "\r\nConnection: keep-alive\r\n");
    resp_free(&r);
    roundtrip(&c, "GET /again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET", &r);
    assert_body(&r, "GET /again ? body=");
    resp_free(&r);
    cl_close(&c);
    fx_stop(&f);
}

static void test_bodies(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, base_cfg(), false);
    struct client c;
    cl_connect(&c, f.port, false);
    struct resp r;
    /* a chunked body in pieces, with an extension and a trailer, is handed over de-chunked */
    cl_send(&c, "PUT /ch HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhel");
    sleep_ms(50);
    cl_send(&c, "lo\r\n6\r\n world\r\n");
    sleep_ms(50);
    cl_send(&c, "0\r\nX-Trailer: t\r\n\r\n");
    cl_response(&c, "PUT", &r);
    assert_body(&r, "PUT /ch ? body=hello world");
    resp_free(&r);
    /* a Content-Length body in pieces */
    cl_send(&c, "PUT /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123");
    sleep_ms(50);
    cl_send(&c, "456789");
    cl_response(&c, "PUT", &r);
    assert_body(&r, "PUT /cl ? body=0123456789");
    resp_free(&r);
    /* exactly the limit passes (1024 bytes) */
    char body[1025];
    memset(body, 'x', 1024);
    body[1024] = '\0';
    char req[1200];
    snprintf(req, sizeof(req), "POST /max HTTP/1.1\r\nHost: a\r\nContent-Length: 1024\r\n\r\n%s", body);
    roundtrip(&c, req, "POST", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(seen.body.len, 1024);
    resp_free(&r);
    /* 100-continue: the interim answer first, then the body */
    cl_send(&c, "POST /cont HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    cl_response(&c, "POST", &r);
    assert_int_equal(r.status, 100);
    resp_free(&r);
    cl_send(&c, "data");
    cl_response(&c, "POST", &r);
    assert_body(&r, "POST /cont ? body=data");
    resp_free(&r);
    /* ... also for a chunked body */
    cl_send(&c, "POST /cont2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
    cl_response(&c, "POST", &r);
    assert_int_equal(r.status, 100);
    resp_free(&r);
    cl_send(&c, "2\r\nok\r\n0\r\n\r\n");
    cl_response(&c, "POST", &r);
    assert_body(&r, "POST /cont2 ? body=ok");
    resp_free(&r);
    /* ... and none when the body came along already */
    roundtrip(&c, "POST /cont3 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi", "POST", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    cl_close(&c);
    fx_stop(&f);
}

/* Sends req on a new connection; the answer must be status with code in the JSON, then a close. */
static void refused(struct fx *f, const char *req, int status, const char *code, const char *phrase)
{
    struct client c;
    cl_connect(&c, f->port, false);
    int before = seen_count();
    struct resp r;
    roundtrip(&c, req, "GET", &r);
    if (r.status != status) fail_msg("status %d, want %d: %s", r.status, status, cg_buf_str(&r.body));
    assert_has(r.head, "\r\nConnection: close\r\n");
    assert_has(r.head, "\r\nContent-Type: application/json\r\n");
    char want[64];
    snprintf(want, sizeof(want), "{\"error\":\"%s\",\"message\":\"", code);
    assert_has(cg_buf_str(&r.body), want);
    assert_has(cg_buf_str(&r.body), phrase);
    resp_free(&r);
    cl_assert_closed(&c);
    cl_close(&c);
    assert_int_equal(seen_count(), before); /* the handler never saw it */
}

static void test_own_answers(void **state)
{
    (void)state;
    struct cg_admin_server_config cfg = base_cfg();
    cfg.limits.max_head_bytes = 2048;
    cfg.limits.max_headers = 10;
    struct fx f;
    fx_start(&f, cfg, false);
    refused(&f, "GET /x HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", 400, "bad_request", "malformed request: ");
    refused(&f, "GET /x HTTP/1.1\r\n\r\n", 400, "bad_request", "without Host");
    refused(&f, "GET /x HTTP/2.0\r\nHost: a\r\n\r\n", 400, "bad_request", "HTTP version");
    refused(&f, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
            "bad_request", "Content-Length with Transfer-Encoding");
    refused(&f, "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 400, "bad_request", "CONNECT");
    refused(&f, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad_request",
            "malformed chunked body");
    refused(&f, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
            "not_implemented", "other than chunked");

    /* 431: a head over 2048 bytes, or more than 10 fields */
    char big[4096];
    int n = snprintf(big, sizeof(big), "GET /x HTTP/1.1\r\nHost: a\r\nX-Pad: ");
    memset(big + n, 'p', 2100);
    memcpy(big + n + 2100, "\r\n\r\n", 5);
    refused(&f, big, 431, "header_too_large", "header section too large");
    char many[1024] = "GET /x HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 11; i++) snprintf(many + strlen(many), sizeof(many) - strlen(many), "X-%d: v\r\n", i);
    snprintf(many + strlen(many), sizeof(many) - strlen(many), "\r\n");
    refused(&f, many, 431, "header_too_large", "limits are 2048 bytes, 10 fields");
    /* ... also when the head never ends (no empty line) */
    memset(big + n, 'p', 2100);
    big[n + 2100] = '\0';
    refused(&f, big, 431, "header_too_large", "too large");

    /* 413 by Content-Length: answered at once, before the body is sent ... */
    refused(&f, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1025\r\n\r\n", 413, "too_large",
            "1025 bytes is over the admin listener's limit of 1024 bytes");
    /* ... and before (instead of) 100 Continue */
    refused(&f, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\nExpect: 100-continue\r\n\r\n", 413,
            "too_large", "99999999 bytes");
    /* 413 for a chunked body as it grows past the limit */
    struct client c;
    cl_connect(&c, f.port, false);
    cl_send(&c, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[600];
    memset(chunk, 'c', sizeof(chunk));
    memcpy(chunk, "200\r\n", 5); /* 512-byte chunks */
    memcpy(chunk + 5 + 512, "\r\n", 2);
    struct resp r;
    cl_send_n(&c, chunk, 5 + 512 + 2);
    cl_send_n(&c, chunk, 5 + 512 + 2);
    cl_send_n(&c, chunk, 5 + 512 + 2);
    cl_response(&c, "POST", &r);
    assert_int_equal(r.status, 413);
    assert_has(cg_buf_str(&r.body), "chunked request body is over the admin listener's limit of 1024 bytes");
    resp_free(&r);
    cl_close(&c);

    /* what is not HTTP at all (a TLS ClientHello to the plain listener) is refused at once */
    cl_connect(&c, f.port, false);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cl_send_n(&c, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
    cl_response(&c, "GET", &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(r.status, 400);
    assert_has(cg_buf_str(&r.body), "does not start with a method");
    assert_true(t1.tv_sec - t0.tv_sec < 2); /* not after the head timeout */
    resp_free(&r);
    cl_close(&c);

    /* a HEAD request refused gets the error's head without its body */
    cl_connect(&c, f.port, false);
    cl_send(&c, "HEAD /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
    cl_response(&c, "HEAD", &r);
    assert_int_equal(r.status, 501);
    assert_int_equal(r.body.len, 0);
    resp_free(&r);
    cl_assert_closed(&c);
    cl_close(&c);
    fx_stop(&f);
}

/* Bodies held at once are capped over all connections (4 x max_body_bytes): the fifth upload in
 * flight gets 503 with Retry-After, and room comes back as uploads finish. */
static void test_upload_budget(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, base_cfg(), false);
    struct client c[5];
    struct resp r;
    const char *head = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1024\r\nExpect: 100-continue\r\n\r\n";
    for (int i = 0; i < 4; i++) {
        cl_connect(&c[i], f.port, false);
        cl_send(&c[i], i == 3 ? "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                                "Expect: 100-continue\r\n\r\n"
                              : head);
        cl_response(&c[i], "POST", &r); /* the 100 says the body's room is taken */
        assert_int_equal(r.status, 100);
        resp_free(&r);
    }
    cl_connect(&c[4], f.port, false);
    roundtrip(&c[4], head, "POST", &r);
    assert_int_equal(r.status, 503);
    assert_has(r.head, "\r\nRetry-After: 1\r\n");
    assert_has(cg_buf_str(&r.body), "\"error\":\"busy\"");
    resp_free(&r);
    cl_close(&c[4]);
    /* one upload finishes: its room is free again */
    char body[1024];
    memset(body, 'u', sizeof(body));
    cl_send_n(&c[0], body, sizeof(body));
    cl_response(&c[0], "POST", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    cl_connect(&c[4], f.port, false);
    cl_send(&c[4], head);
    cl_response(&c[4], "POST", &r);
    assert_int_equal(r.status, 100);
    resp_free(&r);
    /* a client that goes away mid-body gives its room back too */
    cl_close(&c[1]);
    sleep_ms(100);
    cl_connect(&c[1], f.port, false);
    cl_send(&c[1], head);
    cl_response(&c[1], "POST", &r);
    assert_int_equal(r.status, 100);
    resp_free(&r);
    for (int i = 0; i < 5; i++) cl_close(&c[i]);
    fx_stop(&f);
}

static void test_timeouts(void **state)
{
    (void)state;
    struct cg_admin_server_config cfg = base_cfg();
    cfg.head_timeout_ms = 300;
    cfg.idle_timeout_ms = 900;
    struct fx f;
    fx_start(&f, cfg, false);
    struct client c;
    struct resp r;
    /* a head that stops half-way: 408 */
    cl_connect(&c, f.port, false);
    cl_send(&c, "GET /slow HTTP/1.1\r\nHost:");
    cl_response(&c, "GET", &r);
    assert_int_equal(r.status, 408);
    assert_has(cg_buf_str(&r.body), "\"error\":\"timeout\"");
    assert_has(cg_buf_str(&r.body), "within 300 ms");
    resp_free(&r);
    cl_assert_closed(&c);
    cl_close(&c);
    /* a body that stops half-way: 408 (the deadline runs from the request's first byte) */
    cl_connect(&c, f.port, false);
    cl_send(&c, "POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12");
    sleep_ms(150);
    cl_send(&c, "34");
    cl_response(&c, "POST", &r);
    assert_int_equal(r.status, 408);
    resp_free(&r);
    cl_close(&c);
    /* a connection that sends nothing is closed without an answer */
    cl_connect(&c, f.port, false);
    cl_assert_closed(&c);
    cl_close(&c);
    /* an idle keep-alive connection is closed after the idle timeout, not the head timeout */
    cl_connect(&c, f.port, false);
    roundtrip(&c, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n", "GET", &r);
    resp_free(&r);
    sleep_ms(450);
    roundtrip(&c, "GET /b HTTP/1.1\r\nHost: a\r\n\r\n", "GET", &r); /* open after 450 ms > the head timeout */
    assert_body(&r, "GET /b ? body=");
    resp_free(&r);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cl_assert_closed(&c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    if (ms < 750 || ms > 4000) fail_msg("closed after %ld ms, want about 900", ms);
    cl_close(&c);
    fx_stop(&f);
}

/* A client that pipelines and does not read: the server writes one answer and reads nothing
 * more until it is out; an answer the client never reads is dropped after the idle timeout. */
static void test_backpressure(void **state)
{
    (void)state;
    struct cg_admin_server_config cfg = base_cfg();
    cfg.idle_timeout_ms = 700;
    struct fx f;
    fx_start(&f, cfg, false);
    struct client c;
    cl_connect(&c, f.port, false);
    int before = seen_count();
    cl_send(&c, "GET /big HTTP/1.1\r\nHost: a\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n");
    sleep_ms(300);
    assert_int_equal(seen_count() - before, 1); /* the second request waits for the first answer */
    struct resp r;
    cl_response(&c, "GET", &r);
    assert_int_equal(r.body.len, big_len);
    resp_free(&r);
    cl_response(&c, "GET", &r);
    assert_body(&r, "GET /after ? body=");
    resp_free(&r);
    assert_int_equal(seen_count() - before, 2);
    /* never read: after the idle timeout without progress the server gives up */
    cl_send(&c, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
    sleep_ms(1500);
    size_t total = 0;
    ssize_t got;
    while ((got = cl_fill(&c)) > 0) {
        total += (size_t)got;
        c.in.len = 0;
    }
    assert_true(got == 0 || got == -1);
    if (total >= big_len) fail_msg("the whole answer (%zu bytes) arrived; it should have been dropped", total);
    cl_close(&c);
    fx_stop(&f);
}

static uint64_t counted_accepted, counted_open;

static void count(struct fx *f)
{
    cg_admin_server_counts(f->srv, &counted_accepted, &counted_open);
}

static void test_connection_cap(void **state)
{
    (void)state;
    struct cg_admin_server_config cfg = base_cfg();
    cfg.max_connections = 2;
    struct fx f;
    fx_start(&f, cfg, false);
    struct client a, b, c;
    struct resp r;
    cl_connect(&a, f.port, false);
    roundtrip(&a, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n", "GET", &r);
    resp_free(&r);
    cl_connect(&b, f.port, false);
    roundtrip(&b, "GET /b HTTP/1.1\r\nHost: a\r\n\r\n", "GET", &r);
    resp_free(&r);
    cl_connect(&c, f.port, false);
    cl_assert_closed(&c); /* over the cap: closed at once */
    cl_close(&c);
    fx_call(&f, count);
    assert_int_equal(counted_accepted, 3); /* the refused one was accepted too */
    assert_int_equal(counted_open, 2);
    cl_close(&a);
    /* once a connection is gone there is room again */
    bool served = false;
    for (int i = 0; i < 50 && !served; i++) {
        sleep_ms(20);
        cl_connect(&c, f.port, false);
        cl_send(&c, "GET /c HTTP/1.1\r\nHost: a\r\n\r\n");
        served = cl_fill(&c) > 0;
        cl_close(&c);
    }
    assert_true(served);
    cl_close(&b);
    fx_stop(&f);
}

static void test_ipv6(void **state)
{
    (void)state;
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
    bool have_v6 = probe >= 0 && bind(probe, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (probe >= 0) close(probe);
    if (!have_v6) skip();
    struct fx f;
    fx_start(&f, base_cfg(), true);
    struct client c;
    cl_connect(&c, f.port, true);
    struct resp r;
    roundtrip(&c, "GET /v6 HTTP/1.1\r\nHost: [::1]\r\n\r\n", "GET", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_has(seen.peer, "[::1]:");
    cl_close(&c);
    fx_stop(&f);
}

static void test_address_errors(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, base_cfg(), false);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct cg_admin_server_config cfg = base_cfg();
    cfg.addr = f.addr;
    struct cg_admin_server *s = (struct cg_admin_server *)1;
    struct cg_err err;
    cg_err_clear(&err);
    assert_int_equal(cg_admin_server_start(&loop, &cfg, &s, &err), CG_EIO);
    assert_null(s);
    assert_has(err.msg, f.addr);
    assert_has(err.msg, "in use");
    assert_has(err.hint, "another process");
    const char *bad[] = {"nonsense", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x", "admin.example:9090",
                         "[::1]", "[::1]9090", "::1:9090", "[127.0.0.1]:9090", "300.1.1.1:80", ":9090"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg.addr = bad[i];
        cg_err_clear(&err);
        int rc = cg_admin_server_start(&loop, &cfg, &s, &err);
        if (rc != CG_EINVAL) fail_msg("'%s': rc %d (%s)", bad[i], rc, err.msg);
        assert_has(err.msg, bad[i]);
        assert_has(err.hint, "127.0.0.1:9090");
    }
    /* nothing was left on the loop by the failures */
    assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    fx_stop(&f);
}

/* ---- HTTPS ---- */

static int accept_any_cb(int ok, X509_STORE_CTX *ctx)
{
    (void)ok;
    (void)ctx;
    return 1; /* let the handshake finish whatever the chain: the server must look at the result */
}

static SSL_CTX *server_ctx(X509 *cert, EVP_PKEY *key)
{
    const struct tp_pki *pki = tp_pki_get();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_use_certificate(ctx, cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    assert_int_equal(X509_STORE_add_cert(st, pki->root), 1);
    assert_int_equal(X509_STORE_add_cert(st, pki->intm), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_cb);
    return ctx;
}

static void peer_cn(struct client *c, char *out, size_t n)
{
    X509 *x = SSL_get0_peer_certificate(c->ssl);
    assert_non_null(x);
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)n);
}

static SSL_CTX *swap_to;

static void swap_tls(struct fx *f)
{
    cg_admin_server_set_tls(f->srv, swap_to);
    cg_admin_server_set_tls(f->srv, NULL);
}

static void test_https(void **state)
{
    (void)state;
    const struct tp_pki *pki = tp_pki_get();
    SSL_CTX *first = server_ctx(pki->server, pki->leaf_key);
    struct cg_admin_server_config cfg = base_cfg();
    cfg.tls = first;
    cfg.head_timeout_ms = 500;
    struct fx f;
    fx_start(&f, cfg, false);
    SSL_CTX_free(first); /* the server holds its own reference */
    client_ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(client_ctx);
    struct client c;
    struct resp r;
    char cn[128];

    /* no client certificate */
    cl_connect(&c, f.port, false);
    assert_true(cl_tls(&c, NULL, NULL));
    peer_cn(&c, cn, sizeof(cn));
    assert_string_equal(cn, "server.example");
    roundtrip(&c, "GET /tls HTTP/1.1\r\nHost: a\r\n\r\n", "GET", &r);
    assert_body(&r, "GET /tls ? body=");
    resp_free(&r);
    assert_true(seen.tls);
    assert_string_equal(seen.cert_cn, "");
    /* keep-alive and pipelining over TLS too */
    cl_send(&c, "GET /p1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /p2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok");
    cl_response(&c, "GET", &r);
    assert_body(&r, "GET /p1 ? body=");
    resp_free(&r);
    cl_response(&c, "POST", &r);
    assert_body(&r, "POST /p2 ? body=ok");
    resp_free(&r);
    cl_close(&c);

    /* a client certificate that verifies reaches the handler */
    cl_connect(&c, f.port, false);
    assert_true(cl_tls(&c, pki->leaf, pki->leaf_key));
    roundtrip(&c, "GET /cert HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "GET", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_string_equal(seen.cert_cn, "client.example");
    cl_assert_closed(&c);
    cl_close(&c);

    /* one that does not verify (expired) does not */
    cl_connect(&c, f.port, false);
    assert_true(cl_tls(&c, pki->expired, pki->leaf_key));
    roundtrip(&c, "GET /expired HTTP/1.1\r\nHost: a\r\n\r\n", "GET", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_true(seen.tls);
    assert_string_equal(seen.cert_cn, "");
    cl_close(&c);

    /* the server's own answers over TLS */
    cl_connect(&c, f.port, false);
    assert_true(cl_tls(&c, NULL, NULL));
    roundtrip(&c, "GET /x HTTP/1.1\r\n\r\n", "GET", &r);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    cl_assert_closed(&c);
    cl_close(&c);

    /* plain HTTP to the HTTPS listener: no answer, closed */
    int before = seen_count();
    cl_connect(&c, f.port, false);
    cl_send(&c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    ssize_t got;
    while ((got = cl_fill(&c)) > 0) {}
    assert_int_equal(got, 0);
    assert_int_equal(seen_count(), before);
    cl_close(&c);
    /* a handshake that never starts is closed after the head timeout */
    cl_connect(&c, f.port, false);
    cl_assert_closed(&c);
    cl_close(&c);

    /* a new context serves new connections; a NULL one never turns HTTPS into plain HTTP */
    SSL_CTX *second = server_ctx(pki->leaf_ec, pki->ec_key);
    struct client old;
    cl_connect(&old, f.port, false);
    assert_true(cl_tls(&old, NULL, NULL));
    swap_to = second;
    fx_call(&f, swap_tls);
    SSL_CTX_free(second);
    cl_connect(&c, f.port, false);
    assert_true(cl_tls(&c, NULL, NULL));
    peer_cn(&c, cn, sizeof(cn));
    assert_string_equal(cn, "ec.example");
    roundtrip(&c, "GET /new HTTP/1.1\r\nHost: a\r\n\r\n", "GET", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    roundtrip(&old, "GET /old HTTP/1.1\r\nHost: a\r\n\r\n", "GET", &r); /* the old connection goes on */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    peer_cn(&old, cn, sizeof(cn));
    assert_string_equal(cn, "server.example");
    cl_close(&c);
    fx_stop(&f); /* with `old` still open */
    cl_close(&old);
    SSL_CTX_free(client_ctx);
    client_ctx = NULL;
}

/* ---- helpers for handlers ---- */

static void test_error_helper(void **state)
{
    (void)state;
    struct cg_admin_response rs;
    memset(&rs, 0, sizeof(rs));
    cg_buf_init(&rs.body, 0);
    assert_int_equal(cg_buf_append_str(&rs.body, "old"), 0);
    rs.content_type = "text/html";
    cg_admin_error(&rs, 409, "store.exists", "certificate 'a' exists: \"quote\"\n");
    assert_int_equal(rs.status, 409);
    assert_null(rs.content_type);
    assert_string_equal(cg_buf_str(&rs.body),
                        "{\"error\":\"store.exists\",\"message\":\"certificate 'a' exists: \\\"quote\\\"\\n\"}\n");
    cg_admin_error(&rs, 401, "auth.missing", NULL);
    assert_string_equal(cg_buf_str(&rs.body), "{\"error\":\"auth.missing\",\"message\":\"Unauthorized\"}\n");
    cg_buf_cleanup(&rs.body);
}

static void test_pct_decode(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(cg_admin_pct_decode(cg_slice_str("a%20b%2Fc+d"), false, out, sizeof(out)), 0);
    assert_string_equal(out, "a b/c+d");
    assert_int_equal(cg_admin_pct_decode(cg_slice_str("a%20b+c%2b"), true, out, sizeof(out)), 0);
    assert_string_equal(out, "a b c+");
    assert_int_equal(cg_admin_pct_decode(cg_slice_str("%c3%A9"), false, out, sizeof(out)), 0);
    assert_string_equal(out, "\xc3\xa9");
    assert_int_equal(cg_admin_pct_decode(cg_slice_str(""), false, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(cg_admin_pct_decode(cg_slice_str("a%2"), false, out, sizeof(out)), CG_EPROTO);
    assert_int_equal(cg_admin_pct_decode(cg_slice_str("a%"), false, out, sizeof(out)), CG_EPROTO);
    assert_int_equal(cg_admin_pct_decode(cg_slice_str("%zz"), false, out, sizeof(out)), CG_EPROTO);
    assert_int_equal(cg_admin_pct_decode(cg_slice_str("a%00b"), false, out, sizeof(out)), CG_EPROTO);
    assert_int_equal(cg_admin_pct_decode(cg_slice_make("a\0b", 3), false, out, sizeof(out)), CG_EPROTO);
    /* 15 characters fit in 16 bytes, 16 do not */
    assert_int_equal(cg_admin_pct_decode(cg_slice_str("abcdefghijklmno"), false, out, sizeof(out)), 0);
    assert_int_equal(cg_admin_pct_decode(cg_slice_str("abcdefghijklmnop"), false, out, sizeof(out)), CG_ELIMIT);
    assert_string_equal(out, "");
    assert_int_equal(cg_admin_pct_decode(cg_slice_str("%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41"), false, out,
                                         sizeof(out)),
                     0);
    assert_int_equal(cg_admin_pct_decode(cg_slice_str("x"), false, out, 0), CG_ELIMIT);
    assert_int_equal(cg_admin_pct_decode(cg_slice_str("x"), false, out, 1), CG_ELIMIT);
}

static void test_query_get(void **state)
{
    (void)state;
    char out[32];
    struct cg_slice q = cg_slice_str("target=https%3A%2F%2Fapi.example%2Fx&flag&empty=&a+b=c+d&dup=1&dup=2&bad=%zz");
    assert_int_equal(cg_admin_query_get(q, "target", out, sizeof(out)), 0);
    assert_string_equal(out, "https://api.example/x");
    assert_int_equal(cg_admin_query_get(q, "flag", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(cg_admin_query_get(q, "empty", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(cg_admin_query_get(q, "a b", out, sizeof(out)), 0);
    assert_string_equal(out, "c d");
    assert_int_equal(cg_admin_query_get(q, "dup", out, sizeof(out)), 0);
    assert_string_equal(out, "1");
    assert_int_equal(cg_admin_query_get(q, "bad", out, sizeof(out)), CG_EPROTO);
    assert_int_equal(cg_admin_query_get(q, "targe", out, sizeof(out)), CG_ENOTFOUND);
    assert_int_equal(cg_admin_query_get(q, "missing", out, sizeof(out)), CG_ENOTFOUND);
    assert_int_equal(cg_admin_query_get(cg_slice_make(NULL, 0), "x", out, sizeof(out)), CG_ENOTFOUND);
    assert_int_equal(cg_admin_query_get(q, "target", out, 8), CG_ELIMIT);
    /* an encoded key matches its decoded name; a key with a bad escape matches nothing */
    assert_int_equal(cg_admin_query_get(cg_slice_str("%zz=1&n%61me=v"), "name", out, sizeof(out)), 0);
    assert_string_equal(out, "v");
}

static int group_setup(void **state)
{
    (void)state;
    cg_buf_init(&seen.body, 0);
    (void)tp_pki_get(); /* RSA keys are slow under ASan: once, before any timing */
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cg_buf_cleanup(&seen.body);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handler_answers),
        cmocka_unit_test(test_keepalive_pipelining_head),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_own_answers),
        cmocka_unit_test(test_upload_budget),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_connection_cap),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_address_errors),
        cmocka_unit_test(test_https),
        cmocka_unit_test(test_error_helper),
        cmocka_unit_test(test_pct_decode),
        cmocka_unit_test(test_query_get),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
