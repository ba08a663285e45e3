/* Shared by the micro-benchmarks: a monotonic clock and the median of repeated runs. */
#ifndef CG_BENCH_BENCH_H
#define CG_BENCH_BENCH_H

#include <stdlib.h>
#include <time.h>

static inline double bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts runs[0..n) in place; runs[n / 2] is then the median, runs[0] the min, runs[n-1] the max. */
static inline void bench_sort(double *runs, size_t n) { qsort(runs, n, sizeof(*runs), bench_cmp); }

#endif
