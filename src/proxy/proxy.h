/* The HTTP/1.1 proxy engine shared by the egress and the ingress: one accepted connection (plain,
 * or TLS that the engine handshakes), its requests in order, and the upstream connection of the
 * request in flight.
 *
 * A listener's code supplies a table of hooks (struct cg_proxy_ops) and a session type that
 * embeds struct cg_proxy first. The engine reads request heads with the strict parser, hands
 * each to ops->request, which routes it (or refuses it with cg_proxy_fail), writes the upstream
 * head with cg_proxy_head_begin/_end, and calls cg_proxy_connect; the engine then streams the
 * request and the response, handles keep-alive, pooling, the one safe retry, Upgrade and CONNECT
 * tunnels, timeouts, drain, and the access log.
 *
 * Everything is driven by one function, progress(), which runs every step that can move (read
 * the client, write the upstream, read the upstream, write the client) until none can, then sets
 * each socket's poll interest from what is still pending. Bodies stream through the input
 * buffers: bytes are written on from where they were read, the framing (Content-Length or
 * chunked, RFC 9112 6) decides where a message ends, and a full buffer stops reading on that side
 * (back-pressure), so memory per session is bounded whatever the body size.
 *
 * A connection idle for longer than cfg->park_after_ms is parked (proxy/park.h): its session is
 * freed, and the socket, its TLS state and the listener's per-connection state wait in a record of
 * about a hundred bytes, watched by the worker's park rather than a poll handle and a timer of
 * their own, until bytes arrive (a new session takes the connection up again) or the idle time
 * runs out (it is closed). A keep-alive client that comes back within that time pays nothing. */
#ifndef CG_PROXY_PROXY_H
#define CG_PROXY_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>
#include <uv.h>

#include "core/buf.h"
#include "core/log.h"
#include "http/http.h"
#include "net/conn.h"
#include "net/dial.h"
#include "net/worker.h"

struct cg_proxy_config {
    uint32_t handshake_timeout_ms;  /* TLS listeners: the handshake must complete within this */
    uint32_t head_timeout_ms;       /* a request head must arrive within this (default 30 s) */
    uint32_t idle_timeout_ms;       /* keep-alive between requests (default 60 s) */
    uint32_t connect_timeout_ms;    /* DNS + connect (+ TLS handshake) upstream (default 5 s) */
    uint32_t response_timeout_ms;   /* upstream silence while a response is due (default 60 s) */
    uint64_t max_body_bytes;        /* request bodies larger than this: 413; 0 = no limit */
    bool release_idle_buffers;      /* free the buffers between requests (many idle clients: the
                                     * ingress) rather than keep them for the next (the egress) */
    uint32_t park_after_ms;         /* park a connection idle this long (needs ops->park); 0: never */
    struct cg_http_limits limits;
    const struct cg_access_log *log;
};

void cg_proxy_config_defaults(struct cg_proxy_config *c);

enum cg_proxy_state {
    CG_PX_HANDSHAKE,  /* TLS with the client in progress */
    CG_PX_HEAD,       /* waiting for (the rest of) a request head */
    CG_PX_CONNECTING, /* dialing the upstream */
    CG_PX_EXCHANGE,   /* request and response streaming */
    CG_PX_TUNNEL,     /* CONNECT or Upgrade: raw bytes both ways */
    CG_PX_ERROR,      /* writing an error answer, then closing */
    CG_PX_CLOSED,
};

/* One direction's framing. */
struct cg_proxy_body {
    enum cg_http_framing framing;
    uint64_t left;              /* LENGTH: bytes still due */
    struct cg_http_chunked ch;  /* CHUNKED */
    size_t pending;             /* bytes at the input's read offset that belong to the body */
    bool last;                  /* the end of the body is within `pending` */
    bool done;                  /* all of it has been written on */
};

struct cg_proxy;

/* The request in flight: its strings, for the access log and error answers (a KiB that an idle
 * connection need not keep). */
struct cg_proxy_req {
    char method[24];       /* "" once the request is logged */
    char target[512];
    char dest[320];        /* host:port of the upstream */
    char host[256];        /* the upstream's host */
};

struct cg_proxy_ops {
    const char *listener;   /* "egress", "ingress": for the access log */
    enum cg_listener_kind kind; /* the same, for the metrics */
    size_t size;            /* of the session type, which embeds struct cg_proxy first */
    /* TLS listeners: the handshake completed; false refuses the connection (the hook closed it
     * with cg_proxy_close). */
    bool (*handshake_done)(struct cg_proxy *p);
    /* TLS listeners: the handshake failed (log it); the engine closes the connection. */
    void (*handshake_failed)(struct cg_proxy *p);
    /* A request head was parsed and consumed (p->method, target, keep-alive facts are set, and
     * p->req frames its body): route it. Either cg_proxy_fail, or write the upstream head and
     * cg_proxy_connect. */
    void (*request)(struct cg_proxy *p, const struct cg_http_request *req);
    /* Dialing failed: answer with cg_proxy_fail. */
    void (*dial_failed)(struct cg_proxy *p, const struct cg_dial_error *err);
    /* The upstream connection broke before any answer and no retry is possible: answer with
     * cg_proxy_fail. */
    void (*upstream_failed)(struct cg_proxy *p, const char *when);
    /* Adds the listener's facts (certificate, TLS) to an access-log entry. May be NULL. */
    void (*log_fill)(struct cg_proxy *p, struct cg_access_entry *e);
    /* Adds the listener's fields to an error body. May be NULL. */
    void (*error_fields)(struct cg_proxy *p, json_t *o);
    /* Releases the session's own resources before it is freed. May be NULL. */
    void (*cleanup)(struct cg_proxy *p);
    /* Parking (cfg->park_after_ms; all three, or NULL): park moves the listener's per-connection
     * state out of the idle session, which is then freed, into *state (one pointer; NULL when
     * there is none), or answers false to keep the session as it is; unpark hands it to the
     * connection's next session, before its first request; park_free frees it when the parked
     * connection closes (idle timeout, drain). */
    bool (*park)(struct cg_proxy *p, void **state);
    void (*unpark)(struct cg_proxy *p, void *state);
    void (*park_free)(void *state);
    const char *timeout_hint; /* for the 504 when the upstream does not answer */
};

struct cg_proxy {
    struct cg_conn client; /* first: the conn's callbacks find the session */
    struct cg_worker_session ws;
    struct cg_worker *w;
    const struct cg_proxy_config *cfg;
    const struct cg_proxy_ops *ops;
    struct cg_runtime *rt; /* the configuration the request in flight runs on */
    enum cg_proxy_state state;
    uv_timer_t timer;
    int handles;           /* client poll + timer: freed when both are closed */
    bool draining;
    uint32_t park_rest_ms; /* the timer runs to the park time: the idle time left after it */

    struct cg_buf cin;     /* from the client */
    size_t cin_off;
    bool cin_eof;
    struct cg_buf uin;     /* from the upstream */
    size_t uin_off;
    bool uin_eof;
    struct cg_buf to_up;   /* the rewritten request head */
    size_t to_up_off;
    struct cg_buf to_client; /* the rewritten response head, or an error answer */
    size_t to_client_off;

    struct cg_upconn *up;
    struct cg_dial *dial;
    struct cg_dial_params dial_params; /* of the last dial, for the retry */
    bool up_reused;
    bool retried;
    struct cg_proxy_body req, resp;
    bool resp_head_done;
    bool client_keep_alive;
    bool up_keep_alive;
    bool upgrade;
    bool tunnel_after_connect; /* CONNECT: relay raw bytes once dialed */
    bool await_readable;   /* between requests: read only when the poll says there is something */
    bool up_await_readable;/* the request just went upstream: its answer cannot be there yet */
    bool client_http10;    /* the client speaks HTTP/1.0: no chunked coding towards it */
    bool dechunk;          /* the response is chunked and the client cannot take that */
    bool hs_want_write;    /* the TLS handshake waits for the socket to be writable */
    bool continue_sent;    /* a 100 Continue has been relayed for this request */

    /* facts of the request in flight, for the access log and error answers */
    struct sockaddr_storage peer;
    char client_addr[64];
    struct cg_proxy_req *rq; /* never NULL while a request is in flight; a listener that releases its
                              * buffers between requests releases this too */
    uint16_t port;
    uint32_t response_timeout_ms; /* set by ops->request; 0 = the config's */
    int status;
    const char *error;
    uint64_t start_us;
    uint64_t up_start_us;   /* the request went to the upstream: for the latency metric */
    uint64_t bytes_in, bytes_out;
    uint64_t requests;     /* request heads begun on this connection, refused ones included: a
                            * listener's per-request state is current when it was set at this count */
};

/* The listener callback shape: creates a session for fd (of ops->size bytes, zeroed, struct
 * cg_proxy set up). The caller may attach an SSL to p->client.ssl (accept state), then calls
 * cg_proxy_start. NULL (fd closed) when out of resources. */
struct cg_proxy *cg_proxy_new(struct cg_worker *w, int fd, const struct cg_proxy_ops *ops,
                              const struct cg_proxy_config *cfg);
void cg_proxy_start(struct cg_proxy *p);

/* Answers the client with status and a JSON body {"error": code, "message", ...the listener's
 * fields..., "hint"}, logs the request, then closes (the connection's state is unknown after a
 * failure). */
void cg_proxy_fail(struct cg_proxy *p, int status, const char *code, const char *hint, const char *fmt, ...)
    CG_PRINTF(5, 6);
/* Gives up on the request in flight after part of an answer went out: logs it with code and
 * closes the connection. */
void cg_proxy_abandon(struct cg_proxy *p, const char *code);
void cg_proxy_close(struct cg_proxy *p);

/* The upstream head: the request line with path, Host (when host_value is not NULL), every field
 * but Host, hop-by-hop ones (RFC 9110 7.6.1) and those skip() names, then the framing and
 * Upgrade fields. The hook may append fields (cg_http_write_header on &p->to_up), then must call
 * cg_proxy_head_end. */
CG_RESULT cg_proxy_head_begin(struct cg_proxy *p, const struct cg_http_request *req, struct cg_slice path,
                              const char *host_value, bool (*skip)(struct cg_slice name));
CG_RESULT cg_proxy_head_end(struct cg_proxy *p);

/* Sends the request over an idle connection of the pool entry, or dials params (copied; the
 * strings must live as long as the session's request: the session's own fields). */
void cg_proxy_connect(struct cg_proxy *p, const struct cg_dial_params *params);

/* The client's address without the port, into ip (INET6_ADDRSTRLEN bytes suffice; "?" when
 * unknown); returns the port. */
uint16_t cg_proxy_client_ip(const struct cg_proxy *p, char *ip, size_t n);
/* The CLOCK_MONOTONIC microseconds the access log's durations use. */
uint64_t cg_proxy_now_us(void);
/* Copies a slice into a fixed buffer, truncating. */
void cg_proxy_copy(char *dst, size_t n, struct cg_slice s);

#endif
