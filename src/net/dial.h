/* Dialing an upstream: resolve (libuv's thread pool; IP literals skip it), connect each address
 * in turn (non-blocking), then the TLS handshake with the client certificate the pins chose,
 * verifying the server's chain, name (or IP) and SPKI pin. One deadline covers all of it. The
 * result is a pooled connection or a cause the egress can name (SPEC.md section 4). */
#ifndef CG_NET_DIAL_H
#define CG_NET_DIAL_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "net/conn.h"
#include "net/metrics.h"
#include "net/tls.h"

enum cg_dial_failure {
    CG_DIAL_OK,
    CG_DIAL_DNS,            /* the name does not resolve */
    CG_DIAL_REFUSED,        /* connection refused */
    CG_DIAL_CONNECT,        /* another connect error (unreachable, reset ...) */
    CG_DIAL_TIMEOUT,        /* the deadline passed (DNS, connect or handshake) */
    CG_DIAL_TLS,            /* see tls.kind */
    CG_DIAL_SPKI,           /* the server's key does not match the upstream's SPKI pin */
    CG_DIAL_INTERNAL,
};

struct cg_dial_error {
    enum cg_dial_failure kind;
    struct cg_tls_error tls;
    char message[384];
};

struct cg_pool;
struct cg_pool_entry;

/* An upstream connection; lives in a pool entry's idle list when not in use. */
struct cg_upconn {
    struct cg_conn conn;
    struct cg_pool_entry *entry; /* the destination it belongs to */
    struct cg_upconn *next, *prev;
    uint64_t idle_since_ms;
    uint64_t requests;     /* served on this connection */
    bool resumed;          /* the TLS session was resumed */
    bool presented;        /* a client certificate was presented */
    struct cg_tls_error tls; /* alerts land here (attached to the SSL) */
};

/* What to dial. Strings are borrowed for the duration of the call only. */
struct cg_dial_params {
    struct cg_pool_entry *entry; /* the destination's pool entry (its TLS session is resumed) */
    const char *host;       /* name or IP literal (no brackets) */
    uint16_t port;
    const char *server_name;/* SNI and the name verified; NULL = host */
    SSL_CTX *ctx;           /* from cg_runtime_client_ctx; NULL: plain TCP (tunnels) */
    bool presenting;        /* ctx presents a client certificate */
    const uint8_t *spki;    /* 32 bytes, or NULL */
    uint32_t timeout_ms;
};

typedef void cg_dial_cb(void *arg, struct cg_upconn *up, const struct cg_dial_error *err);

/* Starts dialing; cb runs exactly once, later, from the loop (never from inside this call).
 * Returns a handle that cg_dial_cancel accepts until cb has run. */
struct cg_dial;
struct cg_dial *cg_dial_start(uv_loop_t *loop, const struct cg_dial_params *p, cg_dial_cb *cb, void *arg);
/* The caller lost interest: cb will not run; a connection that completes goes to the pool. */
void cg_dial_cancel(struct cg_dial *d);

/* OpenSSL's new-session callback for client contexts: keeps the newest session of each
 * destination in its pool entry, for resumption by the next connection. */
int cg_dial_new_session_cb(SSL *ssl, SSL_SESSION *sess);

/* ---- the pool (one per worker: no locks) ---- */

struct cg_pool_limits {
    uint32_t idle_timeout_ms; /* default 60 s */
    uint32_t max_idle_per_key;/* default 64 */
};

struct cg_pool *cg_pool_new(uv_loop_t *loop, const struct cg_pool_limits *lim);
/* Closes every idle connection; the pool frees itself once they are closed. */
void cg_pool_free(struct cg_pool *p);
/* The entry for a destination key (created on first use). The key must identify everything
 * that makes two connections interchangeable: host, port, server name, certificate, trust and
 * SPKI pin (and the runtime generation, so that a reload never reuses a connection made with
 * an old certificate). */
struct cg_pool_entry *cg_pool_entry_get(struct cg_pool *p, const char *key);
/* An idle connection for the entry, checked alive, or NULL. */
struct cg_upconn *cg_pool_take(struct cg_pool_entry *e);
/* Returns a connection after a complete exchange; it is kept (watched for the peer closing) or
 * closed when over the caps. */
void cg_pool_put(struct cg_upconn *up);
/* Closes a connection that cannot be reused. */
void cg_upconn_close(struct cg_upconn *up);
/* Drops idle connections of entries whose key does not start with prefix (after a reload). */
void cg_pool_flush_except(struct cg_pool *p, const char *prefix);
size_t cg_pool_idle_count(const struct cg_pool *p);
/* Keeps *gauge equal to the pool's idle connections (the owner's /metrics), from now on. */
void cg_pool_set_idle_gauge(struct cg_pool *p, cg_counter *gauge);

#endif
