/* Between the files of the webhook module: the exchange (exchange.c: one POST over mTLS and what
 * came of it) and the event bodies and requests (event.c), which the dispatcher (dispatcher.c)
 * puts together. Nothing here is used outside src/webhook. */
#ifndef CG_WEBHOOK_INTERNAL_H
#define CG_WEBHOOK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "core/buf.h"
#include "net/dial.h"
#include "net/tls.h"
#include "store/store.h"
#include "webhook/webhook.h"

#define WH_HEAD_MAX (16 * 1024)  /* a response head larger than this is refused */
#define WH_BODY_MAX (64 * 1024)  /* response bodies are read (and dropped) up to this, then cut */
#define WH_PEEK_MAX 512          /* the start of a response body, kept for the error text */
#define WH_REQUEST_MAX (300 * 1024) /* head + body: events are capped at 256 KiB by their writer */

/* ---- one exchange ---- */

enum wh_verdict {
    WH_DELIVERED,   /* 2xx */
    WH_RETRY,       /* another status, a timeout, a connection error: try again later */
    WH_PERMANENT,   /* a TLS failure no retry can fix: fail now and flag the webhook */
};

struct wh_outcome {
    enum wh_verdict verdict;
    int status_code;         /* the HTTP status, or 0 when none came */
    int64_t retry_after_ms;  /* the response's Retry-After, or -1 */
    uint64_t latency_ms;     /* from the start to the response head (or the failure) */
    char error[512];         /* what the attempt record says; "" when delivered */
    char problem[640];       /* WH_PERMANENT: the webhook's problem, with what to do about it */
};

struct wh_exchange_params {
    uv_loop_t *loop;
    struct cg_pool *pool;
    const char *pool_prefix;   /* "g<generation>|": entries of other runtimes are not reused */
    struct cg_runtime *rt;     /* a reference is taken */
    int webhook;               /* index into rt->snap->webhooks */
    uint32_t timeout_ms;       /* dial + request + response head */
};

struct wh_exchange;
typedef void wh_exchange_cb(void *arg, const struct wh_outcome *o);

/* Sends request (its bytes are taken: the buffer is left empty) to the webhook, on a pooled
 * connection when one is idle (a stale one is redialed once), and reads the response: the head,
 * then the body to its end (up to WH_BODY_MAX, else the connection is closed rather than
 * reused). cb runs once, later, from the loop. CG_ENOMEM, or CG_EINTERNAL with a message when no
 * TLS context can be built; cb does not run then. */
CG_RESULT wh_exchange_start(const struct wh_exchange_params *p, struct cg_buf *request, wh_exchange_cb *cb, void *arg,
                            struct wh_exchange **out, struct cg_err *err);
/* Stopping: an exchange whose response head came is finished now (its connection closed, cb
 * runs with what it got); one still waiting for it runs to its own deadline. */
void wh_exchange_hurry(struct wh_exchange *x);

/* The verdict on a TLS failure with host:port (dest) presenting `cert` for webhook `name`. */
void wh_tls_outcome(const struct cg_tls_error *t, const char *dest, const char *cert, const char *name,
                    struct wh_outcome *o);
/* The verdict on a response: 2xx delivered; a 400 that says, as nginx words it, that the client
 * certificate was refused is permanent; anything else is retried. peek: the body's start. */
void wh_status_outcome(int status, struct cg_slice peek, const char *dest, const char *cert, const char *name,
                       struct wh_outcome *o);

/* ---- events and requests ---- */

/* The body: {"id", "type", "created_at" (RFC 3339), "data"}, compact JSON. CG_EPROTO when the
 * stored data is not a JSON object. */
CG_RESULT wh_event_body(const struct cg_store_event *e, struct cg_buf *out, struct cg_err *err);

struct wh_request_info {
    const char *host;        /* no brackets */
    uint16_t port;
    const char *path;
    const char *event_id, *event_type;
    int64_t delivery_id;
    int attempt;             /* 1 for the first */
    const uint8_t *secret;   /* NULL: not signed */
    size_t secret_len;
    int64_t now_s;           /* the signature's t */
};

/* The POST request, head and body, into out. CG_EINVAL when the event's id or type could not be
 * sent in a header (the store's writer refuses such; a store edited by hand might hold one). */
CG_RESULT wh_request_build(const struct wh_request_info *r, struct cg_slice body, struct cg_buf *out,
                           struct cg_err *err);

#endif
