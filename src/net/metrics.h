/* Counters of the traffic for /metrics (SPEC.md section 4). One set per worker, written only by
 * its own thread: an increment is a relaxed load and store of the worker's own cache lines, no
 * locked instruction on the hot path. The admin listener sums the workers' sets when /metrics is
 * read (a relaxed load of each counter: a scrape may miss the increments of that instant, never
 * tears one). Every dimension is a fixed, small set: no label comes from a peer. */
#ifndef CG_NET_METRICS_H
#define CG_NET_METRICS_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

enum cg_listener_kind { CG_LISTENER_EGRESS = 0, CG_LISTENER_INGRESS = 1, CG_LISTENER_KINDS };

/* Why an ingress handshake failed (enum cg_tls_accept_failure without OK), by index. */
#define CG_METRICS_HS_REASONS 6
extern const char *const cg_metrics_hs_reason_names[CG_METRICS_HS_REASONS];

/* The result of verifying a client certificate: "success", "none" (no certificate), or the
 * reason it was refused (cg_tls_verify_reason's words). */
enum cg_metrics_verify {
    CG_VERIFY_SUCCESS, CG_VERIFY_NONE, CG_VERIFY_EXPIRED, CG_VERIFY_NOT_YET_VALID, CG_VERIFY_UNKNOWN_CA,
    CG_VERIFY_REVOKED, CG_VERIFY_WRONG_USAGE, CG_VERIFY_BAD_SIGNATURE, CG_VERIFY_OTHER, CG_VERIFY_RESULTS
};
extern const char *const cg_metrics_verify_names[CG_VERIFY_RESULTS];
/* The result for a refusal reason ("expired" ...); CG_VERIFY_OTHER for anything unknown. */
enum cg_metrics_verify cg_metrics_verify_of(const char *reason);

/* Why a connection to an upstream (or backend) failed: the dial failure, TLS ones by kind. */
#define CG_METRICS_DIAL_REASONS 10
extern const char *const cg_metrics_dial_reason_names[CG_METRICS_DIAL_REASONS];
/* The index for enum cg_dial_failure `dial` (and enum cg_tls_failure `tls` when it is TLS). */
int cg_metrics_dial_reason(int dial, int tls);

#define CG_METRICS_STATUS_MAX 600 /* statuses 100..599 */
/* Upstream latency (request sent to response head received), upper bounds in microseconds. */
#define CG_METRICS_LATENCY_BUCKETS 12
extern const uint64_t cg_metrics_latency_bounds_us[CG_METRICS_LATENCY_BUCKETS];

typedef _Atomic uint64_t cg_counter;

struct cg_metrics {
    alignas(64) cg_counter accepted[CG_LISTENER_KINDS];
    cg_counter closed[CG_LISTENER_KINDS];          /* open = accepted - closed */
    cg_counter handshakes;                         /* ingress handshakes completed */
    cg_counter handshake_failures[CG_METRICS_HS_REASONS];
    cg_counter verifications[CG_VERIFY_RESULTS];   /* per ingress connection that completed or failed on its certificate */
    cg_counter requests[CG_LISTENER_KINDS][CG_METRICS_STATUS_MAX];
    cg_counter latency[CG_LISTENER_KINDS][CG_METRICS_LATENCY_BUCKETS + 1]; /* the last: +Inf */
    cg_counter latency_sum_us[CG_LISTENER_KINDS];
    cg_counter pool_idle;                          /* gauge: idle pooled upstream connections */
    cg_counter dial_failures[CG_LISTENER_KINDS][CG_METRICS_DIAL_REASONS];
};

/* The owning thread's increment (and gauge set). */
static inline void cg_counter_add(cg_counter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}
static inline void cg_counter_set(cg_counter *c, uint64_t v) { atomic_store_explicit(c, v, memory_order_relaxed); }
static inline uint64_t cg_counter_get(const cg_counter *c)
{
    return atomic_load_explicit((cg_counter *)c, memory_order_relaxed);
}

static inline void cg_metrics_request(struct cg_metrics *m, enum cg_listener_kind k, int status)
{
    if (m && status >= 100 && status < CG_METRICS_STATUS_MAX) cg_counter_add(&m->requests[k][status], 1);
}
/* One upstream exchange that took us microseconds to its response head. */
void cg_metrics_latency(struct cg_metrics *m, enum cg_listener_kind k, uint64_t us);

#endif
