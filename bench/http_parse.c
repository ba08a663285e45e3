/* Request-head parsing cost: the ingress and egress parse every request head, so this must stay
 * well under a microsecond. Parses a realistic ~400-byte browser-style head (12 fields) in a
 * loop and reports ns per parse (median of 7 runs), plus the cost of the incremental
 * end-of-head search over the same head.
 * Usage: bench_http_parse [iterations]   (default 2000000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "core/str.h"
#include "http/http.h"

static const char head[] = "GET /api/v1/orders/12345?expand=items&currency=EUR HTTP/1.1\r\n"
                           "Host: api.partner.example\r\n"
                           "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n"
                           "Accept: application/json, text/plain, */*\r\n"
                           "Accept-Language: en-US,en;q=0.5\r\n"
                           "Accept-Encoding: gzip, deflate, br\r\n"
                           "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.sig\r\n"
                           "Certgate-Service: Orders.Service\r\n"
                           "X-Request-Id: 7f3c2a9e-4b1d-4c8e-9a2f-1e5d6c7b8a90\r\n"
                           "Content-Length: 0\r\n"
                           "Connection: keep-alive\r\n"
                           "Cookie: session=abc123; theme=dark\r\n"
                           "\r\n";

int main(int argc, char **argv)
{
    uint64_t iters = 2000000;
    if (argc > 1 && (cg_str_to_u64(argv[1], &iters) < 0 || iters == 0)) {
        fprintf(stderr, "usage: %s [iterations]\n", argv[0]);
        return 2;
    }
    const uint8_t *buf = (const uint8_t *)head;
    size_t len = sizeof(head) - 1;
    static struct cg_http_request r;
    const char *why = NULL;
    if (cg_http_request_parse(buf, len, NULL, &r, &why) != (int)len) {
        fprintf(stderr, "the benchmark head does not parse: %s\n", why ? why : "incomplete");
        return 1;
    }
    double runs[7], runs_end[7];
    long sink = 0;
    for (int k = 0; k < 7; k++) {
        double t0 = bench_now_ns();
        for (uint64_t i = 0; i < iters; i++) {
            sink += cg_http_request_parse(buf, len, NULL, &r, &why);
            sink += (long)r.n_headers;
        }
        runs[k] = (bench_now_ns() - t0) / (double)iters;
        t0 = bench_now_ns();
        for (uint64_t i = 0; i < iters; i++) {
            size_t from = 0;
            sink += (long)cg_http_head_end(buf, len, &from);
        }
        runs_end[k] = (bench_now_ns() - t0) / (double)iters;
    }
    bench_sort(runs, 7);
    bench_sort(runs_end, 7);
    printf("head=%zu bytes, %zu fields, %llu parses x 7 runs: median %.1f ns, min %.1f ns, max %.1f ns per parse "
           "(%.2f ns/byte); end-of-head search median %.1f ns (sink %ld)\n",
           len, r.n_headers, (unsigned long long)iters, runs[3], runs[0], runs[6], runs[3] / (double)len, runs_end[3],
           sink);
    return 0;
}
