/* /metrics: the Prometheus text exposition (format 0.0.4) of the daemon's counters, its
 * configuration and its certificates (docs/operations.md lists every metric). */
#ifndef CG_ADMIN_METRICS_H
#define CG_ADMIN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "config/snapshot.h"
#include "core/buf.h"
#include "core/error.h"
#include "net/metrics.h"

struct cg_admin_metrics_view {
    const struct cg_metrics *const *workers; /* every worker's counters */
    size_t n_workers;
    const struct cg_snapshot *snap;          /* the configuration served now (certificates) */
    uint64_t reload_failures;
    uint64_t admin_accepted, admin_open;     /* the admin listener's own connections */
    int64_t webhook_pending;                 /* deliveries waiting in the store; -1: unknown */
};

CG_RESULT cg_admin_metrics_render(const struct cg_admin_metrics_view *v, struct cg_buf *out);

#endif
