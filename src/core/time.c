#include "core/time.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/str.h"

char *cg_time_rfc3339(time_t t, char *buf, size_t n)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        if (n) buf[0] = '\0';
    }
    return buf;
}

long cg_time_days_until(time_t t, time_t now)
{
    double d = difftime(t, now) / 86400.0;
    long days = (long)d;
    if (d < 0 && (double)days != d) days -= 1; /* floor */
    return days;
}

time_t cg_time_now(void)
{
    const char *s = getenv("CERTGATE_NOW");
    int64_t v;
    if (s && cg_str_to_i64(s, &v) == 0) return (time_t)v;
    return time(NULL);
}

uint64_t cg_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
