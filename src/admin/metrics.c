/* The Prometheus text exposition (metrics.h): the workers' counters summed, the configuration's
 * revision, and each certificate's expiry. Only label values certgate itself chose appear (the
 * listener, a status, a reason from a fixed list, a certificate's name and kind). */
#include "admin/metrics.h"

#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <string.h>
#include <time.h>

static const char *const listener_names[CG_LISTENER_KINDS] = {"egress", "ingress"};

static uint64_t sum(const struct cg_admin_metrics_view *v, size_t offset)
{
    uint64_t n = 0;
    for (size_t i = 0; i < v->n_workers; i++)
        n += cg_counter_get((const cg_counter *)((const char *)v->workers[i] + offset));
    return n;
}

#define SUM(field) sum(v, offsetof(struct cg_metrics, field))

static int head(struct cg_buf *out, const char *name, const char *type, const char *help)
{
    return cg_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and line feed escaped. */
static int label(struct cg_buf *out, const char *s)
{
    for (; *s; s++) {
        int rc = *s == '\\' ? cg_buf_append_str(out, "\\\\")
                 : *s == '"' ? cg_buf_append_str(out, "\\\"")
                 : *s == '\n' ? cg_buf_append_str(out, "\\n")
                              : cg_buf_append(out, s, 1);
        CG_GUARD(rc);
    }
    return 0;
}

static int connections(const struct cg_admin_metrics_view *v, struct cg_buf *out)
{
    CG_GUARD(head(out, "certgate_connections_accepted_total", "counter", "Connections accepted, by listener."));
    for (int k = 0; k < CG_LISTENER_KINDS; k++)
        CG_GUARD(cg_buf_printf(out, "certgate_connections_accepted_total{listener=\"%s\"} %llu\n", listener_names[k],
                               (unsigned long long)SUM(accepted[k])));
    CG_GUARD(cg_buf_printf(out, "certgate_connections_accepted_total{listener=\"admin\"} %llu\n",
                           (unsigned long long)v->admin_accepted));
    CG_GUARD(head(out, "certgate_connections_open", "gauge", "Connections open now, by listener."));
    for (int k = 0; k < CG_LISTENER_KINDS; k++) {
        uint64_t acc = SUM(accepted[k]), closed = SUM(closed[k]);
        CG_GUARD(cg_buf_printf(out, "certgate_connections_open{listener=\"%s\"} %llu\n", listener_names[k],
                               (unsigned long long)(acc > closed ? acc - closed : 0)));
    }
    return cg_buf_printf(out, "certgate_connections_open{listener=\"admin\"} %llu\n",
                         (unsigned long long)v->admin_open);
}

static int handshakes(const struct cg_admin_metrics_view *v, struct cg_buf *out)
{
    CG_GUARD(head(out, "certgate_tls_handshakes_total", "counter", "Ingress TLS handshakes completed."));
    CG_GUARD(cg_buf_printf(out, "certgate_tls_handshakes_total{listener=\"ingress\"} %llu\n",
                           (unsigned long long)SUM(handshakes)));
    CG_GUARD(head(out, "certgate_tls_handshake_failures_total", "counter",
                  "Ingress TLS handshakes refused or failed, by reason."));
    for (int r = 0; r < CG_METRICS_HS_REASONS; r++)
        CG_GUARD(cg_buf_printf(out, "certgate_tls_handshake_failures_total{listener=\"ingress\",reason=\"%s\"} %llu\n",
                               cg_metrics_hs_reason_names[r], (unsigned long long)SUM(handshake_failures[r])));
    CG_GUARD(head(out, "certgate_client_certificate_verifications_total", "counter",
                  "Client certificates verified by the ingress, by result (none: no certificate)."));
    for (int r = 0; r < CG_VERIFY_RESULTS; r++)
        CG_GUARD(cg_buf_printf(out, "certgate_client_certificate_verifications_total{result=\"%s\"} %llu\n",
                               cg_metrics_verify_names[r], (unsigned long long)SUM(verifications[r])));
    return 0;
}

static int requests(const struct cg_admin_metrics_view *v, struct cg_buf *out)
{
    CG_GUARD(head(out, "certgate_requests_total", "counter", "Requests answered, by listener and status."));
    for (int k = 0; k < CG_LISTENER_KINDS; k++)
        for (int s = 100; s < CG_METRICS_STATUS_MAX; s++) {
            uint64_t n = SUM(requests[k][s]);
            if (n)
                CG_GUARD(cg_buf_printf(out, "certgate_requests_total{listener=\"%s\",status=\"%d\"} %llu\n",
                                       listener_names[k], s, (unsigned long long)n));
        }
    return 0;
}

static int latency(const struct cg_admin_metrics_view *v, struct cg_buf *out)
{
    CG_GUARD(head(out, "certgate_upstream_latency_seconds", "histogram",
                  "Time from a request sent upstream to its response head, by listener."));
    for (int k = 0; k < CG_LISTENER_KINDS; k++) {
        uint64_t cum = 0;
        for (int b = 0; b <= CG_METRICS_LATENCY_BUCKETS; b++) {
            cum += SUM(latency[k][b]);
            if (b < CG_METRICS_LATENCY_BUCKETS)
                CG_GUARD(cg_buf_printf(out, "certgate_upstream_latency_seconds_bucket{listener=\"%s\",le=\"%g\"} %llu\n",
                                       listener_names[k], (double)cg_metrics_latency_bounds_us[b] / 1e6,
                                       (unsigned long long)cum));
            else
                CG_GUARD(cg_buf_printf(out, "certgate_upstream_latency_seconds_bucket{listener=\"%s\",le=\"+Inf\"} %llu\n",
                                       listener_names[k], (unsigned long long)cum));
        }
        CG_GUARD(cg_buf_printf(out, "certgate_upstream_latency_seconds_sum{listener=\"%s\"} %.6f\n", listener_names[k],
                               (double)SUM(latency_sum_us[k]) / 1e6));
        CG_GUARD(cg_buf_printf(out, "certgate_upstream_latency_seconds_count{listener=\"%s\"} %llu\n",
                               listener_names[k], (unsigned long long)cum));
    }
    CG_GUARD(head(out, "certgate_upstream_connect_failures_total", "counter",
                  "Connections to upstreams and backends that failed (DNS, connect, TLS, SPKI pin), by reason."));
    for (int k = 0; k < CG_LISTENER_KINDS; k++)
        for (int r = 0; r < CG_METRICS_DIAL_REASONS; r++) {
            uint64_t n = SUM(dial_failures[k][r]);
            if (n)
                CG_GUARD(cg_buf_printf(out, "certgate_upstream_connect_failures_total{listener=\"%s\",reason=\"%s\"} %llu\n",
                                       listener_names[k], cg_metrics_dial_reason_names[r], (unsigned long long)n));
        }
    CG_GUARD(head(out, "certgate_upstream_pool_idle_connections", "gauge",
                  "Idle keep-alive upstream connections kept for reuse (all workers)."));
    return cg_buf_printf(out, "certgate_upstream_pool_idle_connections %llu\n", (unsigned long long)SUM(pool_idle));
}

static int certificates(const struct cg_snapshot *snap, struct cg_buf *out)
{
    CG_GUARD(head(out, "certgate_certificate_not_after_seconds", "gauge",
                  "When each certificate expires (unix seconds; a CA bundle: its first to expire)."));
    for (size_t i = 0; snap && i < snap->n_certs; i++) {
        const struct cg_snapshot_cert *c = &snap->certs[i];
        time_t earliest = 0;
        int n = c->leaf ? 1 : sk_X509_num(c->certs); /* client/server: the leaf's; ca: every one */
        for (int j = 0; j < n; j++) {
            X509 *x = c->leaf ? c->leaf : sk_X509_value(c->certs, j);
            struct tm tm;
            if (!ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm)) continue;
            time_t t = timegm(&tm);
            if (!earliest || t < earliest) earliest = t;
        }
        CG_GUARD(cg_buf_append_str(out, "certgate_certificate_not_after_seconds{name=\""));
        CG_GUARD(label(out, c->name));
        CG_GUARD(cg_buf_printf(out, "\",kind=\"%s\"} %lld\n", cg_cert_kind_name(c->kind), (long long)earliest));
    }
    return 0;
}

int cg_admin_metrics_render(const struct cg_admin_metrics_view *v, struct cg_buf *out)
{
    CG_GUARD(connections(v, out));
    CG_GUARD(handshakes(v, out));
    CG_GUARD(requests(v, out));
    CG_GUARD(latency(v, out));
    CG_GUARD(head(out, "certgate_config_revision", "gauge", "The store revision of the configuration served."));
    CG_GUARD(cg_buf_printf(out, "certgate_config_revision %llu\n",
                           (unsigned long long)(v->snap ? v->snap->revision : 0)));
    CG_GUARD(head(out, "certgate_config_reload_failures_total", "counter",
                  "Reloads that failed (the previous configuration was kept)."));
    CG_GUARD(cg_buf_printf(out, "certgate_config_reload_failures_total %llu\n", (unsigned long long)v->reload_failures));
    if (v->webhook_pending >= 0) {
        CG_GUARD(head(out, "certgate_webhook_deliveries_pending", "gauge",
                      "Webhook deliveries waiting to be sent or retried (the queue depth)."));
        CG_GUARD(cg_buf_printf(out, "certgate_webhook_deliveries_pending %lld\n", (long long)v->webhook_pending));
    }
    return certificates(v->snap, out);
}
