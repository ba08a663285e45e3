#include "core/str.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

size_t cg_strlcpy(char *dst, const char *src, size_t n)
{
    size_t len = strlen(src);
    if (n) {
        size_t c = len < n - 1 ? len : n - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return len;
}

int cg_str_to_u64(const char *s, uint64_t *out)
{
    CG_ENSURE(s && isdigit((unsigned char)s[0]), CG_EINVAL);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    CG_ENSURE(errno == 0 && *end == '\0', CG_EINVAL);
    *out = v;
    return 0;
}

int cg_str_to_i64(const char *s, int64_t *out)
{
    CG_ENSURE(s && (isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))),
              CG_EINVAL);
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    CG_ENSURE(errno == 0 && *end == '\0', CG_EINVAL);
    *out = v;
    return 0;
}

void cg_hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

char *cg_str_lower_dup(const char *s)
{
    char *d = cg_strdup(s);
    if (!d) return NULL;
    for (char *p = d; *p; p++) *p = (char)tolower((unsigned char)*p);
    return d;
}

bool cg_str_ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

static int hex_digit(uint8_t c)
{
    if ((uint8_t)(c - '0') < 10u) return c - '0';
    c |= 0x20;
    if ((uint8_t)(c - 'a') < 6u) return c - 'a' + 10;
    return -1;
}

int cg_pct_decode(struct cg_slice in, bool form, char *out, size_t cap, size_t *len)
{
    size_t w = 0;
    if (len) *len = 0;
    CG_ENSURE(cap > 0, CG_ELIMIT);
    out[0] = '\0';
    for (size_t i = 0; i < in.len; i++) {
        uint8_t c = in.ptr[i];
        if (c == '%') {
            int hi = i + 2 < in.len ? hex_digit(in.ptr[i + 1]) : -1;
            int lo = hi >= 0 ? hex_digit(in.ptr[i + 2]) : -1;
            CG_ENSURE(lo >= 0, CG_EPROTO);
            c = (uint8_t)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && form) {
            c = ' ';
        }
        CG_ENSURE(c != '\0', CG_EINVAL);
        if (w + 1 >= cap) {
            out[0] = '\0';
            return CG_ELIMIT;
        }
        out[w++] = (char)c;
    }
    out[w] = '\0';
    if (len) *len = w;
    return 0;
}
