#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "core/str.h"

static void poll_cb(uv_poll_t *h, int status, int events)
{
    struct cg_conn *c = h->data;
    if (c->closing) return;
    /* an error on the socket: let the owner's next operation find it */
    if (status < 0) events = UV_READABLE | UV_WRITABLE;
    c->on_event(c, events);
}

int cg_conn_init(uv_loop_t *loop, struct cg_conn *c, int fd, void *owner, cg_conn_event_cb *on_event)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->owner = owner;
    c->on_event = on_event;
    if (uv_poll_init_socket(loop, &c->poll, fd) != 0) return CG_EIO;
    c->poll.data = c;
    return 0;
}

void cg_conn_watch(struct cg_conn *c, bool readable, bool writable)
{
    if (c->closing) return;
    if (c->ssl) {
        if (c->blocked_read_on_write) writable = true;
        if (c->blocked_write_on_read) readable = true;
    }
    int ev = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
    if (ev == c->events) return;
    c->events = ev;
    if (ev)
        uv_poll_start(&c->poll, ev, poll_cb);
    else
        uv_poll_stop(&c->poll);
}

int cg_conn_read(struct cg_conn *c, uint8_t *buf, size_t cap, size_t *n)
{
    *n = 0;
    if (!c->ssl) {
        for (;;) {
            ssize_t r = recv(c->fd, buf, cap, 0);
            if (r > 0) {
                *n = (size_t)r;
                return CG_IO_OK;
            }
            if (r == 0) return CG_IO_EOF;
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return CG_IO_AGAIN;
            c->sys_errno = errno;
            return CG_EIO;
        }
    }
    c->blocked_read_on_write = false;
    int r = SSL_read(c->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (r > 0) {
        *n = (size_t)r;
        return CG_IO_OK;
    }
    int e = SSL_get_error(c->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ: return CG_IO_AGAIN;
    case SSL_ERROR_WANT_WRITE: c->blocked_read_on_write = true; return CG_IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN: return CG_IO_EOF;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && (errno == 0 || errno == ECONNRESET)) {
            /* the peer closed without close_notify: treat as EOF, the framing decides if it hurt */
            c->sys_errno = errno;
            return errno == 0 ? CG_IO_EOF : CG_EIO;
        }
        /* fall through */
    default:
        c->ssl_error = e;
        c->sys_errno = errno;
        return CG_EIO;
    }
}

int cg_conn_write(struct cg_conn *c, const uint8_t *buf, size_t len, size_t *n)
{
    *n = 0;
    if (len == 0) return CG_IO_OK;
    if (!c->ssl) {
        for (;;) {
            ssize_t r = send(c->fd, buf, len, MSG_NOSIGNAL);
            if (r >= 0) {
                *n = (size_t)r;
                return r ? CG_IO_OK : CG_IO_AGAIN;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return CG_IO_AGAIN;
            c->sys_errno = errno;
            return CG_EIO;
        }
    }
    c->blocked_write_on_read = false;
    int r = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (r > 0) {
        *n = (size_t)r;
        return CG_IO_OK;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_WRITE) return CG_IO_AGAIN;
    if (e == SSL_ERROR_WANT_READ) {
        c->blocked_write_on_read = true;
        return CG_IO_AGAIN;
    }
    c->ssl_error = e;
    c->sys_errno = errno;
    return CG_EIO;
}

int cg_conn_handshake(struct cg_conn *c, bool *want_write)
{
    *want_write = false;
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) return CG_IO_OK;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) return CG_IO_AGAIN;
    if (e == SSL_ERROR_WANT_WRITE) {
        *want_write = true;
        return CG_IO_AGAIN;
    }
    c->ssl_error = e;
    c->sys_errno = errno;
    return CG_EIO;
}

static void closed_cb(uv_handle_t *h)
{
    struct cg_conn *c = h->data;
    if (c->on_close) c->on_close(c);
}

/* An orderly close: one non-blocking close_notify, and the shutdown flags set. Without them
 * SSL_free takes the connection for a failed one and marks its session not resumable
 * (ssl_clear_bad_session), and the next connection would pay a full handshake. A connection that
 * failed (ssl_error) had its session removed by OpenSSL already. */
static void ssl_close(SSL *ssl, int ssl_error)
{
    if (!ssl) return;
    if (SSL_is_init_finished(ssl) && ssl_error != SSL_ERROR_SSL && ssl_error != SSL_ERROR_SYSCALL) SSL_shutdown(ssl);
    SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(ssl);
    ERR_clear_error();
}

void cg_conn_close(struct cg_conn *c)
{
    if (c->closing) return;
    c->closing = true;
    ssl_close(c->ssl, c->ssl_error);
    c->ssl = NULL;
    uv_poll_stop(&c->poll);
    close(c->fd);
    c->fd = -1;
    uv_close((uv_handle_t *)&c->poll, closed_cb);
}

void cg_conn_detach(struct cg_conn *c)
{
    if (c->closing) return;
    c->closing = true;
    c->ssl = NULL;
    c->fd = -1;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, closed_cb);
}

void cg_conn_close_detached(int fd, SSL *ssl)
{
    ssl_close(ssl, 0);
    if (fd >= 0) close(fd);
}

bool cg_conn_peer_gone(struct cg_conn *c)
{
    uint8_t b;
    ssize_t r = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    return true; /* EOF, an error, or bytes nobody asked for (a TLS alert, a stray response) */
}

int cg_net_socket(int family)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* "host:port", "[v6]:port", ":port" or "localhost:port" into a socket address. */
static int parse_listen_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len, int *family,
                             struct cg_err *err)
{
    char host[256];
    const char *port;
    if (addr[0] == '[') {
        const char *close_b = strchr(addr, ']');
        if (!close_b || close_b[1] != ':') return cg_err_set(err, CG_EINVAL, "listen address '%s' is not valid", addr);
        size_t n = (size_t)(close_b - addr - 1);
        if (n >= sizeof(host)) return cg_err_set(err, CG_EINVAL, "listen address '%s' is too long", addr);
        memcpy(host, addr + 1, n);
        host[n] = 0;
        port = close_b + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (!colon) return cg_err_set(err, CG_EINVAL, "listen address '%s' has no port", addr);
        size_t n = (size_t)(colon - addr);
        if (n >= sizeof(host)) return cg_err_set(err, CG_EINVAL, "listen address '%s' is too long", addr);
        memcpy(host, addr, n);
        host[n] = 0;
        port = colon + 1;
    }
    uint64_t p;
    if (cg_str_to_u64(port, &p) < 0 || p == 0 || p > 65535)
        return cg_err_set(err, CG_EINVAL, "listen address '%s': bad port", addr);
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (host[0] == '\0' || strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        *family = AF_INET;
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)p);
        if (host[0] == '\0') in4->sin_addr.s_addr = htonl(INADDR_ANY);
        if (strcmp(host, "localhost") == 0) in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof(*in4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        *family = AF_INET6;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)p);
        *len = sizeof(*in6);
        return 0;
    }
    return cg_err_set(err, CG_EINVAL, "listen address '%s': give an IP address, not a name", addr);
}

static int in_use(const char *addr, int e, struct cg_err *err)
{
    cg_err_set(err, CG_EIO, "cannot listen on %s: %s", addr, strerror(e));
    return cg_err_hint(err, e == EADDRINUSE ? "another process (perhaps another certgate) listens there; stop it or "
                                              "choose another port"
                                            : "check the address in listen:");
}

int cg_net_listen_probe(const char *addr, struct cg_err *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int family;
    CG_GUARD(parse_listen_addr(addr, &ss, &len, &family, err));
    int fd = cg_net_socket(family);
    if (fd < 0) return cg_err_set(err, CG_EIO, "cannot create a socket for %s: %s", addr, strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* TIME_WAIT is not "in use" */
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    int rc = bind(fd, (struct sockaddr *)&ss, len) < 0 ? in_use(addr, errno, err) : 0;
    close(fd);
    return rc;
}

int cg_net_listen(const char *addr, int backlog, struct cg_err *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int family;
    CG_GUARD(parse_listen_addr(addr, &ss, &len, &family, err));
    int fd = cg_net_socket(family);
    if (fd < 0) return cg_err_set(err, CG_EIO, "cannot create a socket for %s: %s", addr, strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
        int e = errno;
        close(fd);
        return in_use(addr, e, err);
    }
    return fd;
}
