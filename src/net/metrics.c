/* The fixed label sets of the traffic counters (metrics.h). */
#include "net/metrics.h"

#include <string.h>

#include "net/dial.h"

const char *const cg_metrics_hs_reason_names[CG_METRICS_HS_REASONS] = {
    "no_sni", "unknown_sni", "no_server_certificate", "certificate_required", "certificate_invalid", "protocol",
};

const char *const cg_metrics_verify_names[CG_VERIFY_RESULTS] = {
    "success", "none", "expired", "not_yet_valid", "unknown_ca", "revoked", "wrong_usage", "bad_signature", "other",
};

const uint64_t cg_metrics_latency_bounds_us[CG_METRICS_LATENCY_BUCKETS] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
};

const char *const cg_metrics_dial_reason_names[CG_METRICS_DIAL_REASONS] = {
    "dns", "refused", "connect", "timeout", "tls_verify_failed", "tls_certificate_required", "tls_certificate_rejected",
    "tls_protocol", "spki_mismatch", "internal",
};

int cg_metrics_dial_reason(int dial, int tls)
{
    switch (dial) {
    case CG_DIAL_DNS: return 0;
    case CG_DIAL_REFUSED: return 1;
    case CG_DIAL_CONNECT: return 2;
    case CG_DIAL_TIMEOUT: return 3;
    case CG_DIAL_TLS:
        switch (tls) {
        case CG_TLS_VERIFY_FAILED: return 4;
        case CG_TLS_CERT_REQUIRED: return 5;
        case CG_TLS_CERT_REJECTED: return 6;
        default: return 7;
        }
    case CG_DIAL_SPKI: return 8;
    default: return 9;
    }
}

enum cg_metrics_verify cg_metrics_verify_of(const char *reason)
{
    for (int i = CG_VERIFY_EXPIRED; reason && i < CG_VERIFY_OTHER; i++)
        if (!strcmp(reason, cg_metrics_verify_names[i])) return (enum cg_metrics_verify)i;
    return CG_VERIFY_OTHER;
}

void cg_metrics_latency(struct cg_metrics *m, enum cg_listener_kind k, uint64_t us)
{
    if (!m) return;
    int b = 0;
    while (b < CG_METRICS_LATENCY_BUCKETS && us > cg_metrics_latency_bounds_us[b]) b++;
    cg_counter_add(&m->latency[k][b], 1);
    cg_counter_add(&m->latency_sum_us[k], us);
}
