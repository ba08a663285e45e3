/* When to try a delivery again (webhook.h): exponential backoff with jitter, and the receiver's
 * own word on it, Retry-After (RFC 9110 section 10.2.3), in both of its forms. Pure functions:
 * no clock is read here, the caller passes the time and the random draw. */
#include "webhook/webhook.h"

#include <string.h>
#include <time.h>

uint64_t cg_webhook_backoff_ms(unsigned failed, uint32_t base_ms, uint32_t cap_ms, double rnd)
{
    if (failed < 1) failed = 1;
    if (!(rnd >= 0 && rnd < 1)) rnd = 0.5; /* out of contract (NaN too): the middle */
    uint64_t d = base_ms;
    for (unsigned i = 1; i < failed && d < cap_ms; i++) d *= 2; /* stops doubling at the cap: no overflow */
    if (d > cap_ms) d = cap_ms;
    uint64_t j = d / 2 + (uint64_t)(rnd * (double)d); /* uniform in [d/2, 3d/2) */
    return j > cap_ms ? cap_ms : j;
}

/* ---- Retry-After ---- */

#define DELTA_MAX_S 2147483647LL /* larger delta-seconds are taken as this (RFC 9110 10.2.3 allows any) */

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* n digits at p as a number; false when any is not a digit. */
static bool digits(const uint8_t *p, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i])) return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

static int month_of(const uint8_t *p)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int m = 0; m < 12; m++)
        if (memcmp(p, months + 3 * m, 3) == 0) return m;
    return -1;
}

static bool day_name(const uint8_t *p, size_t n)
{
    static const char *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
                                       "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
    for (size_t i = 0; i < CG_ARRAY_LEN(days); i++)
        if (strlen(days[i]) == n && memcmp(p, days[i], n) == 0) return true;
    return false;
}

/* "HH:MM:SS" at p (8 bytes). */
static bool clock_of(const uint8_t *p, struct tm *tm)
{
    return p[2] == ':' && p[5] == ':' && digits(p, 2, &tm->tm_hour) && digits(p + 3, 2, &tm->tm_min) &&
           digits(p + 6, 2, &tm->tm_sec) && tm->tm_hour < 24 && tm->tm_min < 60 && tm->tm_sec <= 60;
}

/* The three HTTP-date forms (RFC 9110 section 5.6.7), all GMT:
 *   IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
 *   rfc850-date  "Sunday, 06-Nov-94 08:49:37 GMT"
 *   asctime      "Sun Nov  6 08:49:37 1994" */
static bool http_date(const uint8_t *p, size_t n, struct tm *tm)
{
    memset(tm, 0, sizeof(*tm));
    const uint8_t *comma = memchr(p, ',', n);
    if (!comma) { /* asctime: 24 bytes */
        if (n != 24 || !day_name(p, 3) || p[3] != ' ' || p[7] != ' ' || p[10] != ' ' || p[19] != ' ') return false;
        if ((tm->tm_mon = month_of(p + 4)) < 0) return false;
        uint8_t d[2] = {p[8] == ' ' ? '0' : p[8], p[9]};
        return digits(d, 2, &tm->tm_mday) && clock_of(p + 11, tm) && digits(p + 20, 4, &tm->tm_year) &&
               (tm->tm_year -= 1900, true);
    }
    size_t dn = (size_t)(comma - p);
    if (!day_name(p, dn)) return false;
    const uint8_t *q = comma + 1;
    size_t left = n - dn - 1;
    if (dn == 3) { /* IMF-fixdate: " 06 Nov 1994 08:49:37 GMT" */
        if (left != 25 || q[0] != ' ' || q[3] != ' ' || q[7] != ' ' || q[12] != ' ' || memcmp(q + 21, " GMT", 4) != 0)
            return false;
        if ((tm->tm_mon = month_of(q + 4)) < 0) return false;
        return digits(q + 1, 2, &tm->tm_mday) && digits(q + 8, 4, &tm->tm_year) && clock_of(q + 13, tm) &&
               (tm->tm_year -= 1900, true);
    }
    /* rfc850: " 06-Nov-94 08:49:37 GMT"; a two-digit year is the nearest century's (RFC 9110 5.6.7:
     * more than 50 years ahead means the past century) */
    if (left != 23 || q[0] != ' ' || q[3] != '-' || q[7] != '-' || q[10] != ' ' || memcmp(q + 19, " GMT", 4) != 0)
        return false;
    if ((tm->tm_mon = month_of(q + 4)) < 0) return false;
    int yy;
    if (!digits(q + 1, 2, &tm->tm_mday) || !digits(q + 8, 2, &yy) || !clock_of(q + 11, tm)) return false;
    tm->tm_year = yy < 70 ? yy + 100 : yy;
    return true;
}

int64_t cg_webhook_retry_after_ms(struct cg_slice value, int64_t now_s)
{
    struct cg_slice v = cg_slice_trim(value);
    if (v.len == 0 || v.len > 64) return -1;
    if (is_digit(v.ptr[0])) { /* delta-seconds = 1*DIGIT */
        int64_t s = 0;
        for (size_t i = 0; i < v.len; i++) {
            if (!is_digit(v.ptr[i])) return -1;
            if (s < DELTA_MAX_S) s = s * 10 + (v.ptr[i] - '0');
        }
        return (s > DELTA_MAX_S ? DELTA_MAX_S : s) * 1000;
    }
    struct tm tm;
    if (!http_date(v.ptr, v.len, &tm) || tm.tm_mday < 1 || tm.tm_mday > 31) return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return -1;
    int64_t d = (int64_t)t - now_s;
    if (d <= 0) return 0;
    return (d > DELTA_MAX_S ? DELTA_MAX_S : d) * 1000;
}
