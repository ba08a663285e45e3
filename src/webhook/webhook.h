/* Webhooks over mTLS (SPEC.md section 4, "Webhooks"; issue 6): the dispatcher that delivers
 * stored events to their endpoints, and the pure pieces it is made of.
 *
 * The dispatcher is one thread with a libuv loop and a store connection of its own. It claims
 * due deliveries from the store (a lease, so that a daemon killed at any moment leaves them due
 * again: at-least-once), POSTs each over TLS presenting the webhook's client certificate and
 * trusting what the webhook says (the runtime's client contexts; a connection pool of its own, so
 * connections and TLS sessions are reused as in the egress), and records every attempt. A 2xx
 * ends a delivery; other statuses, timeouts and connection errors are retried with exponential
 * backoff and jitter (Retry-After honoured) up to the attempt limit, then the delivery is failed
 * (it can be replayed). A TLS failure no retry can fix (the server rejected our certificate; its
 * certificate failed verification) fails the delivery at once and is flagged on the webhook with
 * its precise reason. Deliveries to one webhook are bounded in number in flight, so one slow
 * endpoint never holds up the others. */
#ifndef CG_WEBHOOK_WEBHOOK_H
#define CG_WEBHOOK_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include <time.h>

#include "config/bootstrap.h"
#include "config/snapshot.h"
#include "core/error.h"
#include "core/slice.h"
#include "store/store.h"

struct cg_shared;

struct cg_webhook_config {
    const char *store_url;     /* the dispatcher opens its own connection */
    const char *env;
    uint32_t poll_ms;          /* how often the store is asked for due deliveries (250) */
    uint32_t retry_base_ms;    /* the delay before the first retry (5000) */
    uint32_t retry_max_ms;     /* no delay is longer (3600000) */
    uint32_t max_attempts;     /* then the delivery is failed (12) */
    uint32_t timeout_ms;       /* connect + TLS + response head of one attempt (10000) */
    uint32_t concurrency;      /* deliveries in flight in all (64) */
    uint32_t per_webhook;      /* deliveries in flight to one webhook (4) */
    uint32_t lease_ms;         /* a claim's lease: longer than any attempt (60000) */
};
void cg_webhook_config_defaults(struct cg_webhook_config *c);
/* Overlays the bootstrap file's webhooks.* keys that were given (bootstrap.h); the lease follows
 * the timeout (three of them: dial, request and head, body). */
void cg_webhook_config_apply(struct cg_webhook_config *c, const struct cg_config *file);

struct cg_webhook_dispatcher;

/* Releases the environment's leases (what a previous process held is due again), then starts
 * the thread. Configuration (webhooks, certificates, trust) comes from the runtime shared with
 * the workers, so a change applies to the next attempt. */
CG_RESULT cg_webhook_start(struct cg_shared *shared, const struct cg_webhook_config *cfg,
                           struct cg_webhook_dispatcher **out, struct cg_err *err);
/* A settings error for cg_webhook_start (a delay above its cap, more per webhook than in all):
 * CG_EINVAL naming the keys. */
CG_RESULT cg_webhook_config_check(const struct cg_webhook_config *c, struct cg_err *err);
/* An event was stored: look for due deliveries now rather than at the next poll. Any thread. */
void cg_webhook_wake(struct cg_webhook_dispatcher *d);
/* Stops claiming, lets the attempts in flight finish (at most timeout_ms), joins the thread and
 * frees everything. What was not finished stays pending in the store. */
void cg_webhook_stop(struct cg_webhook_dispatcher *d);

/* ---- the pure pieces (unit-tested) ---- */

/* The delay after `failed` failed attempts (failed >= 1): d = min(cap, base * 2^(failed-1)), then
 * jitter: uniform in [d/2, 3d/2) from rnd in [0, 1), never above cap. */
uint64_t cg_webhook_backoff_ms(unsigned failed, uint32_t base_ms, uint32_t cap_ms, double rnd);

/* A Retry-After value (RFC 9110 10.2.3): delta-seconds, or an HTTP-date relative to now_s, as
 * milliseconds from now (0 for a date in the past); -1 when it is neither. */
int64_t cg_webhook_retry_after_ms(struct cg_slice value, int64_t now_s);

/* The Certgate-Signature value: "t=<t>,v1=<lowercase hex HMAC-SHA256(secret, "<t>.<body>")>". out
 * needs at least CG_WEBHOOK_SIGNATURE_MAX bytes. */
#define CG_WEBHOOK_SIGNATURE_MAX 96
CG_RESULT cg_webhook_signature(const uint8_t *secret, size_t secret_len, int64_t t, struct cg_slice body, char *out,
                               size_t n);

/* ---- certgate's own events ---- */

#define CG_WEBHOOK_EVENT_ID_LEN 36 /* "evt_" + 32 hex */

/* The id of the event of `type` about `subject` at `threshold`, the same every time, so that
 * storing it again is CG_EEXISTS and it goes out once across restarts and daemons: "evt_" and the
 * first 32 hex digits of SHA-256(env "|" type "|" subject "|" threshold). out: 37 bytes or more. */
void cg_webhook_event_id_derive(const char *env, const char *type, const char *subject, const char *threshold,
                                char *out);

/* certificate.expiring (when 30, 7 or 1 days or fewer are left: the smallest of them crossed) and
 * certificate.expired, for every certificate of snap (each one of a CA bundle), each stored once
 * (derived ids), and only while an enabled webhook takes the type: an event nobody receives is
 * not stored, so that a webhook added later still hears about it. *queued: the deliveries made. */
CG_RESULT cg_webhook_expiry_events(struct cg_store *s, const char *env, const struct cg_snapshot *snap, time_t now,
                                   size_t *queued, struct cg_err *err);

#endif
