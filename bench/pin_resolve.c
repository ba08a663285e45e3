/* Pin resolution cost: the egress resolves once per request, so this must stay in the tens of
 * nanoseconds. Builds a table of N pins (services, hosts, host:port, wildcards) and resolves a
 * mix of destinations that hit every rule, reporting ns per resolution (median of 7 runs).
 * Usage: bench_pin_resolve [N]   (default 10000) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "config/pins.h"
#include "bench.h"
#include "core/str.h"

int main(int argc, char **argv)
{
    uint64_t n = 10000;
    if (argc > 1 && cg_str_to_u64(argv[1], &n) < 0) {
        fprintf(stderr, "usage: %s [pins]\n", argv[0]);
        return 2;
    }
    struct cg_pin_table *t = cg_pin_table_new();
    struct cg_err err;
    char name[128];
    for (uint64_t i = 0; i < n; i++) {
        switch (i % 4) {
        case 0: snprintf(name, sizeof(name), "Module%llu.Service", (unsigned long long)i); break;
        case 1: snprintf(name, sizeof(name), "api%llu.partner.example", (unsigned long long)i); break;
        case 2: snprintf(name, sizeof(name), "api%llu.partner.example:8443", (unsigned long long)i); break;
        default: snprintf(name, sizeof(name), "*.zone%llu.example", (unsigned long long)i); break;
        }
        if (cg_pin_table_add(t, name, (int)i, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    }
    cg_pin_table_set_default(t, 0);
    if (cg_pin_table_build(t) < 0) return 1;

    /* destinations: service hit, host:port hit, host hit, wildcard hit, default (miss) */
    struct {
        const char *host, *service;
        uint16_t port;
    } q[] = {
        {"x.example", "Module4.Service", 443}, {"api6.partner.example", NULL, 8443},
        {"API5.Partner.Example", NULL, 443},   {"host.zone7.example", NULL, 443},
        {"nowhere.example", NULL, 443},
    };
    struct cg_slice hosts[5], svcs[5];
    for (int i = 0; i < 5; i++) {
        hosts[i] = cg_slice_str(q[i].host);
        svcs[i] = cg_slice_str(q[i].service);
    }
    const int iters = 2000000;
    double runs[7];
    long sink = 0;
    for (int r = 0; r < 7; r++) {
        double t0 = bench_now_ns();
        for (int i = 0; i < iters; i++) {
            struct cg_pin_match m;
            int k = i % 5;
            cg_pin_resolve(t, hosts[k], q[k].port, svcs[k], &m);
            sink += m.cert;
        }
        runs[r] = (bench_now_ns() - t0) / iters;
    }
    bench_sort(runs, 7);
    printf("pins=%llu resolutions=%d x 7 runs: median %.1f ns, min %.1f ns, max %.1f ns per resolution (sink %ld)\n",
           (unsigned long long)n, iters, runs[3], runs[0], runs[6], sink);
    cg_pin_table_free(t);
    return 0;
}
