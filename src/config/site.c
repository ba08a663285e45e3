/* The validation half of config/site.h: what a site's backend and domains, a profile's IP ranges
 * and a rule's path may hold. The CLI and the admin API refuse bad values with these, and the
 * snapshot parses stored values with the same functions, so that what was accepted is what the
 * ingress acts on. (The matching half, path normalisation and the access decision, is in
 * access.c.) */
#include "config/site.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/str.h"
#include "http/http.h"

#define CIDR_TEXT_MAX 64       /* "ffff:...:ffff/128" is 43 bytes; anything longer is not a range */
#define HOST_MAX 253           /* RFC 1035 section 2.3.4, without the trailing dot */
#define LABEL_MAX 63
#define PATH_MAX_LEN 1024
#define BACKEND_MAX 512
#define BACKEND_FORM "http://host:port, e.g. http://127.0.0.1:8080"

/* ---- IP ranges --------------------------------------------------------------------------- */

static size_t addr_len(uint8_t family) { return family == 4 ? 4 : 16; }

/* Zeroes every bit of addr after the first bits. */
static void mask_bits(uint8_t *addr, size_t len, unsigned bits)
{
    for (size_t i = 0; i < len; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
        addr[i] &= (uint8_t)(keep ? 0xff << (8 - keep) : 0);
    }
}

static bool v4_mapped(const uint8_t a[16])
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, sizeof(prefix)) == 0;
}

/* "/N": 1 to 3 digits, no sign, no leading zero (so that "/08" is not read as something else). */
static int prefix_parse(const char *s, unsigned *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 3 || (n > 1 && s[0] == '0')) return CG_EINVAL;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return CG_EINVAL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int cg_cidr_parse(const char *text, struct cg_cidr *out, struct cg_err *err)
{
    memset(out, 0, sizeof(*out));
    static const char form[] = "write an address or a range, e.g. 10.0.0.0/8, 192.0.2.7, 2001:db8::/32";
    if (!text || !*text) {
        cg_err_set(err, CG_EINVAL, "an empty IP range was given");
        return cg_err_hint_code(err, CG_EINVAL, "%s", form);
    }
    size_t len = strlen(text);
    if (len >= CIDR_TEXT_MAX) {
        cg_err_set(err, CG_EINVAL, "'%.40s...' is not an IP range: it is %zu bytes long", text, len);
        return cg_err_hint_code(err, CG_EINVAL, "%s", form);
    }
    char addr[CIDR_TEXT_MAX];
    cg_strlcpy(addr, text, sizeof(addr));
    char *slash = strchr(addr, '/');
    if (slash) *slash = '\0';
    if (inet_pton(AF_INET, addr, out->addr) == 1) {
        out->family = 4;
    } else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
        out->family = 6;
    } else {
        cg_err_set(err, CG_EINVAL, "'%s' is not an IP address or range: '%s' is neither IPv4 nor IPv6", text, addr);
        return cg_err_hint_code(err, CG_EINVAL, "%s (host names are not allowed: a range is matched against the "
                                "client's address)", form);
    }
    unsigned max = out->family == 4 ? 32 : 128, bits = max;
    if (slash && prefix_parse(slash + 1, &bits) < 0) {
        cg_err_set(err, CG_EINVAL, "'%s' is not an IP range: the prefix length '/%s' is not a number", text, slash + 1);
        return cg_err_hint_code(err, CG_EINVAL, "write the prefix length as a number of bits, 0 to %u", max);
    }
    if (bits > max) {
        cg_err_set(err, CG_EINVAL, "'%s' is not an IP range: the prefix length /%u is out of range for IPv%u (0 to %u)",
                   text, bits, out->family, max);
        return cg_err_hint_code(err, CG_EINVAL, "write a prefix length of at most /%u", max);
    }
    out->bits = (uint8_t)bits;
    if (out->family == 6 && v4_mapped(out->addr) && bits >= 96) {
        struct cg_cidr v4 = {.family = 4, .bits = (uint8_t)(bits - 96)};
        memcpy(v4.addr, out->addr + 12, 4);
        char want[64];
        mask_bits(v4.addr, 4, v4.bits);
        cg_cidr_format(&v4, want, sizeof(want));
        cg_err_set(err, CG_EINVAL, "'%s' is an IPv4-mapped IPv6 range; IPv4 clients are matched as IPv4", text);
        return cg_err_hint_code(err, CG_EINVAL, "write the IPv4 range: %s", want);
    }
    uint8_t net[16];
    memcpy(net, out->addr, sizeof(net));
    mask_bits(net, addr_len(out->family), bits);
    if (memcmp(net, out->addr, addr_len(out->family)) != 0) {
        memcpy(out->addr, net, sizeof(net));
        char want[64];
        cg_cidr_format(out, want, sizeof(want));
        memset(out, 0, sizeof(*out));
        cg_err_set(err, CG_EINVAL, "'%s' is not a valid range: the address has bits set after the first %u (host bits)",
                   text, bits);
        return cg_err_hint_code(err, CG_EINVAL, "write the network address: %s (or the address alone for one host)",
                                want);
    }
    return 0;
}

void cg_cidr_format(const struct cg_cidr *c, char *out, size_t n)
{
    if (!n) return;
    char addr[INET6_ADDRSTRLEN];
    if (!inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, addr, sizeof(addr))) cg_strlcpy(addr, "?", sizeof(addr));
    snprintf(out, n, "%s/%u", addr, c->bits);
}

/* The bits to compare for a client address: IPv4 clients on a dual-stack socket arrive as
 * IPv4-mapped IPv6 addresses (RFC 4291 section 2.5.5.2) and are IPv4 clients for matching. */
static bool sockaddr_get(const struct sockaddr *sa, uint8_t *family, const uint8_t **addr)
{
    if (!sa) return false;
    if (sa->sa_family == AF_INET) {
        *family = 4;
        *addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        *family = v4_mapped(a) ? 4 : 6;
        *addr = *family == 4 ? a + 12 : a;
        return true;
    }
    return false;
}

bool cg_cidr_match(const struct cg_cidr *c, const struct sockaddr *sa)
{
    uint8_t family;
    const uint8_t *a;
    if (!c || !sockaddr_get(sa, &family, &a) || family != c->family) return false;
    size_t whole = c->bits / 8;
    unsigned rest = c->bits % 8;
    if (memcmp(a, c->addr, whole) != 0) return false;
    if (!rest) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == c->addr[whole];
}

/* ---- backends ---------------------------------------------------------------------------- */

static int backend_refuse(const char *url, const char *why, const char *hint, struct cg_err *err)
{
    cg_err_set(err, CG_EINVAL, "backend '%s' %s", url, why);
    return cg_err_hint_code(err, CG_EINVAL, "%s", hint);
}

/* A backend host: a name of letters, digits, '-', '_' and non-empty labels, an IPv4 address, or
 * an IPv6 address (bracketed in the URL). */
static int backend_host_check(const char *url, const struct cg_http_uri *u, struct cg_err *err)
{
    char h[HOST_MAX + 2];
    if (u->host.len > HOST_MAX) return backend_refuse(url, "has a host name longer than 253 bytes", BACKEND_FORM, err);
    memcpy(h, u->host.ptr, u->host.len);
    h[u->host.len] = '\0';
    uint8_t tmp[16];
    if (u->ipv6) {
        if (inet_pton(AF_INET6, h, tmp) == 1) return 0;
        return backend_refuse(url, "has a bad IPv6 address", "write an IPv6 backend in brackets, e.g. http://[::1]:8080",
                              err);
    }
    bool empty = h[0] == '.' || h[u->host.len - 1] == '.' || strstr(h, "..");
    if (empty)
        return backend_refuse(url, "has an empty label in its host name",
                              "write the host without leading, trailing or doubled dots", err);
    return 0;
}

int cg_site_backend_parse(const char *url, char **host, uint16_t *port, struct cg_err *err)
{
    *host = NULL;
    *port = 0;
    if (!url || !*url) {
        cg_err_set(err, CG_EINVAL, "no backend given");
        return cg_err_hint_code(err, CG_EINVAL, "give the application's address as " BACKEND_FORM);
    }
    size_t len = strlen(url);
    if (len > BACKEND_MAX) {
        cg_err_set(err, CG_EINVAL, "backend '%.60s...' is %zu bytes long, more than the %d allowed", url, len,
                   BACKEND_MAX);
        return cg_err_hint_code(err, CG_EINVAL, "a backend is only " BACKEND_FORM);
    }
    if (!strncasecmp(url, "https://", 8))
        return backend_refuse(url,
                              "uses https://, but certgate speaks plain HTTP to a site's backend (TLS ends at "
                              "certgate, on the machine or network the backend trusts)",
                              "write http://host:port; for a TLS origin, use an upstream (certgate upstream add)", err);
    if (strncasecmp(url, "http://", 7) != 0)
        return backend_refuse(url, "is not an http:// URL", "write it as " BACKEND_FORM, err);
    struct cg_http_uri u;
    const char *why = NULL;
    if (cg_http_uri_parse(cg_slice_make(url, len), false, &u, &why) < 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "is not a valid URL (%s)", why ? why : "unreadable");
        return backend_refuse(url, msg, "write it as " BACKEND_FORM " (a port is 1 to 65535)", err);
    }
    /* the parser reports "/" for no path at all */
    if (u.path.len > 1 || (u.path.len == 1 && u.path.ptr[0] != '/'))
        return backend_refuse(url, "has a path, query or fragment; a backend is a host and a port",
                              "write only " BACKEND_FORM " (requests keep their own paths)", err);
    if (!u.port)
        return backend_refuse(url, "has no port", "write the port the application listens on, e.g. http://127.0.0.1:8080",
                              err);
    CG_GUARD(backend_host_check(url, &u, err));
    char *h = cg_strndup((const char *)u.host.ptr, u.host.len);
    if (!h) return cg_err_set(err, CG_ENOMEM, "out of memory while reading backend '%s'", url);
    for (char *p = h; *p; p++) *p = (char)tolower((unsigned char)*p);
    *host = h;
    *port = u.port;
    return 0;
}

/* ---- domains ----------------------------------------------------------------------------- */

static int host_refuse(const char *host, const char *why, const char *hint, struct cg_err *err)
{
    cg_err_set(err, CG_EINVAL, "domain '%s' %s", host, why);
    return cg_err_hint_code(err, CG_EINVAL, "%s", hint);
}

static bool label_char(unsigned char c) { return isalnum(c) || c == '-'; }

/* Checks the labels of h (RFC 1123 section 2.1: letters, digits and '-', not at either end).
 * A top-level label of digits only makes the name an IP address (RFC 3696 section 2). */
static int labels_check(const char *orig, const char *h, size_t n, struct cg_err *err)
{
    size_t start = 0;
    bool all_digits = false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && h[i] != '.') {
            if (!label_char((unsigned char)h[i])) {
                char why[96];
                if (h[i] == ' ')
                    snprintf(why, sizeof(why), "has a space, which a host name may not hold");
                else if ((unsigned char)h[i] > 0x20 && (unsigned char)h[i] < 0x7f)
                    snprintf(why, sizeof(why), "has the character '%c', which a host name may not hold", h[i]);
                else
                    snprintf(why, sizeof(why), "has the byte 0x%02x, which a host name may not hold", (unsigned char)h[i]);
                return host_refuse(orig, why,
                                   "a host name holds letters, digits, '-' and dots (internationalised names in "
                                   "their xn-- form); a wildcard is one leading '*.' label",
                                   err);
            }
            continue;
        }
        size_t l = i - start;
        if (l == 0)
            return host_refuse(orig, "has an empty label", "write the name without leading, trailing or doubled dots",
                               err);
        if (l > LABEL_MAX)
            return host_refuse(orig, "has a label longer than 63 characters", "check the name (RFC 1035 section 2.3.4)",
                               err);
        if (h[start] == '-' || h[i - 1] == '-')
            return host_refuse(orig, "has a label that starts or ends with '-'", "check the name (RFC 1123 section 2.1)",
                               err);
        all_digits = true;
        for (size_t j = start; j < i; j++) all_digits = all_digits && isdigit((unsigned char)h[j]);
        start = i + 1;
    }
    if (all_digits)
        return host_refuse(orig, "ends in a numeric label but is not an IP address",
                           "give the DNS name the clients use (or a valid IPv4 address, for clients that send "
                           "the address as the server name)",
                           err);
    return 0;
}

int cg_site_host_normalize(const char *host, char **out, struct cg_err *err)
{
    *out = NULL;
    if (!host || !*host) {
        cg_err_set(err, CG_EINVAL, "an empty domain was given");
        return cg_err_hint_code(err, CG_EINVAL, "give a host name such as app.example.com or *.example.com");
    }
    size_t n = strlen(host);
    if (n > 0 && host[n - 1] == '.') n--; /* "example.com." is the same name */
    if (n > HOST_MAX) {
        cg_err_set(err, CG_EINVAL, "domain '%.60s...' is %zu bytes long, more than the 253 a host name may have", host, n);
        return cg_err_hint_code(err, CG_EINVAL, "check the name (RFC 1035 section 2.3.4)");
    }
    /* An address literal: RFC 6066 keeps addresses out of SNI and most clients send none for an
     * https://ADDRESS/ URL (and so reach no site), but some (wrk, a few libraries) send the
     * address as the name. Allowed, matched literally, covered by an IP SAN. */
    char lit[INET6_ADDRSTRLEN + 1];
    uint8_t bin[16];
    if (n < sizeof(lit)) {
        memcpy(lit, host, n);
        lit[n] = '\0';
        int fam = inet_pton(AF_INET, lit, bin) == 1 ? AF_INET : inet_pton(AF_INET6, lit, bin) == 1 ? AF_INET6 : 0;
        if (fam) {
            char canon[INET6_ADDRSTRLEN];
            inet_ntop(fam, bin, canon, sizeof(canon));
            *out = cg_strdup(canon);
            if (!*out) return cg_err_set(err, CG_ENOMEM, "out of memory while reading domain '%s'", host);
            return 0;
        }
    }
    const char *h = host;
    size_t rest = n;
    if (n >= 1 && h[0] == '*') {
        if (n < 2 || h[1] != '.')
            return host_refuse(host, "has a partial wildcard label",
                               "a wildcard is a whole leading label: *.example.com (RFC 6125 section 6.4.3)", err);
        h += 2;
        rest -= 2;
        if (!memchr(h, '.', rest))
            return host_refuse(host, "is a wildcard over a top-level domain",
                               "a wildcard covers one label under a registered name: *.example.com", err);
    }
    if (memchr(h, '*', rest))
        return host_refuse(host, "has a '*' that is not the whole leading label",
                           "a wildcard is one leading label: *.example.com covers a.example.com, not "
                           "a.b.example.com nor example.com",
                           err);
    CG_GUARD(labels_check(host, h, rest, err));
    char *copy = cg_strndup(host, n);
    if (!copy) return cg_err_set(err, CG_ENOMEM, "out of memory while reading domain '%s'", host);
    for (char *p = copy; *p; p++) *p = (char)tolower((unsigned char)*p);
    *out = copy;
    return 0;
}

/* ---- rule paths -------------------------------------------------------------------------- */

static int path_refuse(const char *path, const char *why, const char *hint, struct cg_err *err)
{
    cg_err_set(err, CG_EINVAL, "rule path '%s' %s", path, why);
    return cg_err_hint_code(err, CG_EINVAL, "%s", hint);
}

int cg_site_path_check(const char *path, struct cg_err *err)
{
    if (!path || !*path) {
        cg_err_set(err, CG_EINVAL, "an empty rule path was given");
        return cg_err_hint_code(err, CG_EINVAL, "a rule path is a prefix starting with '/': / covers the whole site");
    }
    size_t n = strlen(path);
    if (n > PATH_MAX_LEN) {
        cg_err_set(err, CG_EINVAL, "rule path '%.40s...' is %zu bytes long, more than the %d allowed", path, n,
                   PATH_MAX_LEN);
        return cg_err_hint_code(err, CG_EINVAL, "use a shorter prefix: a rule covers every path that starts with it");
    }
    if (path[0] != '/')
        return path_refuse(path, "does not start with '/'", "write the path as requests carry it, e.g. /api/ or /", err);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c < 0x20 || c == 0x7f || c == ' ')
            return path_refuse(path, "holds a space or a control character",
                               "write the path without spaces or control characters", err);
        if (c == '?' || c == '#')
            return path_refuse(path, "holds a query or a fragment ('?' or '#')",
                               "a rule matches the path only: remove '?' or '#' and what follows", err);
        if (c == '%')
            return path_refuse(path, "holds a '%' escape",
                               "write the path decoded: rules are matched against the decoded path (/%61dmin is "
                               "/admin)",
                               err);
        if (c == '/' && i + 1 < n && path[i + 1] == '/')
            return path_refuse(path, "holds '//'", "write a single '/': requests are matched with '//' merged", err);
    }
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && path[j] != '/') j++;
        size_t seg = j - i - 1;
        if ((seg == 1 && path[i + 1] == '.') || (seg == 2 && path[i + 1] == '.' && path[i + 2] == '.'))
            return path_refuse(path, "has a '.' or '..' segment",
                               "write the path as it is after resolving '.' and '..': requests are matched that way",
                               err);
        i = j;
    }
    return 0;
}
