/* A connection: a non-blocking socket, optionally with TLS on it, watched by a libuv poll handle.
 * OpenSSL reads and writes the socket itself (no memory BIOs, no copies: STYLE.md, the hot
 * path). Operations never block; they answer CG_IO_AGAIN and record what the socket must become
 * (readable or writable) for the operation to progress, and the owner re-arms the poll. A
 * connection is freed only in its close callback (STYLE.md, memory lifetimes). */
#ifndef CG_NET_CONN_H
#define CG_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "core/error.h"

enum { CG_IO_OK = 0, CG_IO_AGAIN = 1, CG_IO_EOF = 2 };

struct cg_conn;
typedef void cg_conn_event_cb(struct cg_conn *c, int uv_events);

struct cg_conn {
    uv_poll_t poll;     /* first: the handle's data points back at the connection */
    int fd;
    SSL *ssl;           /* NULL: plain */
    bool blocked_read_on_write; /* SSL wants the socket writable to read */
    bool blocked_write_on_read; /* SSL wants the socket readable to write */
    int events;         /* the poll's current interest */
    bool closing;
    int ssl_error;      /* SSL_get_error of the last failure */
    int sys_errno;      /* errno of the last socket failure */
    void *owner;
    cg_conn_event_cb *on_event;
    void (*on_close)(struct cg_conn *c); /* after the handle is closed: free the object here */
};

/* Starts watching fd (non-blocking already). */
CG_RESULT cg_conn_init(uv_loop_t *loop, struct cg_conn *c, int fd, void *owner, cg_conn_event_cb *on_event);
/* Sets the poll interest (UV_READABLE | UV_WRITABLE); folds in what SSL is blocked on. */
void cg_conn_watch(struct cg_conn *c, bool readable, bool writable);
/* Reads up to cap bytes: CG_IO_OK with *n > 0, CG_IO_AGAIN, CG_IO_EOF (orderly close), or a
 * negative error (CG_EIO; for TLS, c->ssl_error says more). */
int cg_conn_read(struct cg_conn *c, uint8_t *buf, size_t cap, size_t *n);
/* Writes up to len bytes: CG_IO_OK with *n > 0, CG_IO_AGAIN, or a negative error. */
int cg_conn_write(struct cg_conn *c, const uint8_t *buf, size_t len, size_t *n);
/* Advances the TLS handshake (either side; the SSL's state says which): CG_IO_OK when done,
 * CG_IO_AGAIN with *want_write set when it waits for the socket to become writable (else
 * readable), or CG_EIO (c->ssl_error, and the error queue, say more). */
int cg_conn_handshake(struct cg_conn *c, bool *want_write);
/* Closes the socket and the handle (SSL is shut down quietly and freed); on_close runs later
 * from the loop. Idempotent. */
void cg_conn_close(struct cg_conn *c);
/* Closes the handle as cg_conn_close does, but leaves the socket and its SSL open: the caller,
 * who took c->fd and c->ssl before, keeps them and closes them with cg_conn_close_detached (an
 * idle connection keeps its TLS state without the handle: proxy.h, parking). */
void cg_conn_detach(struct cg_conn *c);
/* Closes a socket and its SSL (NULL: plain) that cg_conn_detach left open, as cg_conn_close would
 * have: a completed handshake gets one non-blocking close_notify. */
void cg_conn_close_detached(int fd, SSL *ssl);
/* True when TLS holds bytes already read from the socket (read-ahead): the poll will not say
 * readable for them, so a reader that waits for the poll must look here first. */
static inline bool cg_conn_has_pending(const struct cg_conn *c) { return c->ssl && SSL_has_pending(c->ssl); }
/* True when the peer closed or sent unexpected bytes: used on pooled idle connections. */
bool cg_conn_peer_gone(struct cg_conn *c);

/* Checks that addr is free: binds it once without SO_REUSEPORT and lets it go. CG_EIO with
 * "already in use" (and a hint) when anything listens there, certgate or not. */
CG_RESULT cg_net_listen_probe(const char *addr, struct cg_err *err);

/* A non-blocking TCP socket with TCP_NODELAY, CLOEXEC. */
int cg_net_socket(int family);
/* Binds and listens on "host:port" / "[v6]:port" / ":port" with SO_REUSEPORT, non-blocking.
 * Returns the fd or a negative code with a message. */
int cg_net_listen(const char *addr, int backlog, struct cg_err *err);

#endif
