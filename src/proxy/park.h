/* Parked connections (proxy.h, cfg->park_after_ms), inside the proxy module: an idle client
 * connection without a session. What it keeps is its socket, its TLS state and the listener's
 * per-connection state, in a record of about a hundred bytes, where a session costs over a KiB
 * (its poll handle and timer alone are 300 bytes).
 *
 * One park per worker thread, made when its first connection parks and freed when its last one
 * leaves (so a drained worker's loop ends with nothing of it left open): an epoll set of the
 * parked sockets, watched by one poll handle on the worker's loop, and one timer for their idle
 * deadlines, which are kept in order (a new one is almost always the latest: the same timeout). A
 * parked connection stays a worker session: limits.max_connections counts it, a drain closes it. */
#ifndef CG_PROXY_PARK_H
#define CG_PROXY_PARK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "net/worker.h"

struct cg_proxy_ops;
struct cg_proxy_config;

/* The client's address, as compact as IPv6 allows (a sockaddr_storage is 128 bytes). */
union cg_park_addr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
};

/* What a parked connection is. */
struct cg_parked_conn {
    int fd;
    SSL *ssl;                           /* NULL: plain */
    union cg_park_addr peer;
    const struct cg_proxy_ops *ops;
    const struct cg_proxy_config *cfg;
    void *state;                        /* the listener's (ops->park) */
    uint64_t deadline_ms;               /* uv_now() scale: closed then */
};

/* Parks c on w's thread: the park owns it from then on (true), or nothing changed hands (false:
 * out of memory or descriptors, or this thread's park serves another loop). */
bool cg_park_put(struct cg_worker *w, const struct cg_parked_conn *c);

/* proxy.c: a parked connection has bytes, or its peer closed: a new session takes it up, with
 * rest_ms of its idle time left. It owns c's contents from then on. */
void cg_proxy_unpark(struct cg_worker *w, const struct cg_parked_conn *c, uint32_t rest_ms);

#endif
