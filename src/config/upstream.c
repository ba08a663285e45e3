/* The rules of an upstream's settings: one implementation for the CLI (before storing) and the
 * snapshot (when loading), see upstream.h. */
#include "config/upstream.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/str.h"
#include "http/http.h"

#define URL_FORM "https://host[:port][/base], e.g. https://api.partner.example/v1"

static const char *who(const char *name) { return name && *name ? name : "?"; }

void cg_config_upstream_url_cleanup(struct cg_upstream_url *u)
{
    if (!u) return;
    cg_free(u->host);
    cg_free(u->base_path);
    memset(u, 0, sizeof(*u));
}

/* The URI parser speaks of request targets; here the same rule is about a URL. */
static void why_for_url(const char *why, char *out, size_t n)
{
    struct cg_buf b;
    cg_buf_init(&b, n > 0 ? n - 1 : 1);
    for (const char *p = why ? why : "not a URL"; *p;) {
        const char *t = strstr(p, "target");
        size_t take = t ? (size_t)(t - p) : strlen(p);
        if (cg_buf_append(&b, p, take) < 0) break;
        if (!t) break;
        if (cg_buf_append_str(&b, "URL") < 0) break;
        p = t + 6;
    }
    cg_strlcpy(out, cg_buf_str(&b), n);
    cg_buf_cleanup(&b);
}

/* RFC 3986 section 3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@" (and '/'
 * between segments). */
static bool path_char_ok(const char *p, size_t left)
{
    unsigned char c = (unsigned char)*p;
    if (isalnum(c) || strchr("-._~!$&'()*+,;=:@/", c)) return c != '\0';
    if (c == '%') return left >= 3 && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]);
    return false;
}

static int refuse(const char *what, const char *name, const char *url, struct cg_err *err, const char *why, const char *hint)
{
    cg_err_set(err, CG_EINVAL, "%s '%s': URL '%s' %s", what, who(name), url, why);
    return cg_err_hint_code(err, CG_EINVAL, "%s", hint);
}

static int path_check(const char *what, const char *name, const char *url, struct cg_slice path, struct cg_err *err)
{
    const char *p = (const char *)path.ptr;
    for (size_t i = 0; i < path.len; i++)
        if (!path_char_ok(p + i, path.len - i)) {
            char why[160];
            unsigned char c = (unsigned char)p[i];
            if (c == ' ')
                snprintf(why, sizeof(why), "has a space in its path, which a URL may not hold");
            else if (c > 0x20 && c < 0x7f)
                snprintf(why, sizeof(why), "has the character '%c' in its path, which a URL may not hold", c);
            else
                snprintf(why, sizeof(why), "has the byte 0x%02x in its path, which a URL may not hold", c);
            return refuse(what, name, url, err, why, "percent-encode it (a space is %20) or remove it");
        }
    /* dot segments would be resolved away by the server (RFC 3986 section 5.2.4): a base path
     * must say where it leads */
    for (size_t i = 0; i < path.len;) {
        size_t j = i + 1;
        while (j < path.len && p[j] != '/') j++;
        size_t seg = j - i - 1;
        if ((seg == 1 && p[i + 1] == '.') || (seg == 2 && p[i + 1] == '.' && p[i + 2] == '.'))
            return refuse(what, name, url, err, "has a '.' or '..' segment in its path",
                          "write the base path as the server should receive it, without '.' and '..'");
        i = j;
    }
    return 0;
}

static int host_check(const char *what, const char *name, const char *url, const struct cg_http_uri *u, struct cg_err *err)
{
    if (u->ipv6) {
        char tmp[64];
        struct in6_addr a;
        if (u->host.len >= sizeof(tmp)) goto bad_v6;
        memcpy(tmp, u->host.ptr, u->host.len);
        tmp[u->host.len] = '\0';
        if (inet_pton(AF_INET6, tmp, &a) != 1) goto bad_v6;
        return 0;
    bad_v6:
        return refuse(what, name, url, err, "has a bad IPv6 address", "write an IPv6 address in brackets, e.g. "
                                                                 "https://[2001:db8::1]:8443/");
    }
    const char *h = (const char *)u->host.ptr;
    bool empty_label = h[0] == '.' || h[u->host.len - 1] == '.';
    for (size_t i = 1; i < u->host.len && !empty_label; i++) empty_label = h[i] == '.' && h[i - 1] == '.';
    if (empty_label)
        return refuse(what, name, url, err, "has an empty label in its host name",
                      "write the host name without leading, trailing or doubled dots");
    return 0;
}

/* The URL of an upstream or a webhook (what names the kind in the messages). */
static int url_parse(const char *what, const char *name, const char *url, struct cg_upstream_url *out,
                     struct cg_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!url || !*url) {
        cg_err_set(err, CG_EINVAL, "%s '%s' has no URL", what, who(name));
        return cg_err_hint_code(err, CG_EINVAL, "give it as " URL_FORM);
    }
    size_t len = strlen(url);
    if (len > CG_UPSTREAM_URL_MAX) {
        cg_err_set(err, CG_EINVAL, "%s '%s': the URL is %zu bytes long, more than the %d allowed", what, who(name),
                   len, CG_UPSTREAM_URL_MAX);
        return cg_err_hint_code(err, CG_EINVAL, "an upstream URL is a base: " URL_FORM);
    }
    const char *sep = strstr(url, "://");
    const char *colon = strchr(url, ':');
    if (!sep || colon != sep || sep == url)
        return refuse(what, name, url, err, "is not an absolute URL (it has no scheme://)", "write it as " URL_FORM);
    size_t scheme_len = (size_t)(sep - url);
    if (scheme_len == 4 && strncasecmp(url, "http", 4) == 0)
        return refuse(what, name, url, err,
                      "uses http://, but certgate always originates TLS to an upstream (there is no plain-text "
                      "upstream)",
                      "write https:// (the port stays as given: http://host:8080/ becomes https://host:8080/)");
    if (scheme_len != 5 || strncasecmp(url, "https", 5) != 0) {
        char why[128];
        int shown = (int)(scheme_len > 32 ? 32 : scheme_len);
        snprintf(why, sizeof(why), "has the scheme '%.*s'; an upstream URL is https://", shown, url);
        return refuse(what, name, url, err, why, "write it as " URL_FORM);
    }
    const char *auth = sep + 3, *auth_end = auth;
    while (*auth_end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#') auth_end++;
    if (memchr(auth, '@', (size_t)(auth_end - auth)))
        return refuse(what, name, url, err,
                      "holds user information ('user@'): credentials do not belong in an upstream URL",
                      "remove the part up to '@': certgate authenticates to upstreams with the client certificate "
                      "that the pins select");
    if (strchr(url, '?'))
        return refuse(what, name, url, err,
                      "has a query ('?...'): an upstream URL is a base that request paths are appended to, and each "
                      "request brings its own query",
                      "remove '?' and what follows from the URL");
    if (strchr(url, '#'))
        return refuse(what, name, url, err, "has a fragment ('#...'), which is never sent to a server",
                      "remove '#' and what follows from the URL");
    struct cg_http_uri u;
    const char *why = NULL;
    if (cg_http_uri_parse(cg_slice_make(url, len), false, &u, &why) < 0) {
        char w[200], msg[240];
        why_for_url(why, w, sizeof(w));
        snprintf(msg, sizeof(msg), "is not valid: %s", w);
        return refuse(what, name, url, err, msg, "write it as " URL_FORM " (a port is 1 to 65535)");
    }
    CG_GUARD(host_check(what, name, url, &u, err));
    CG_GUARD(path_check(what, name, url, u.path, err));
    size_t plen = u.path.len;
    while (plen > 0 && u.path.ptr[plen - 1] == '/') plen--;
    char *host = cg_strndup((const char *)u.host.ptr, u.host.len);
    char *base = cg_strndup((const char *)u.path.ptr, plen);
    if (!host || !base) {
        cg_free(host);
        cg_free(base);
        return cg_err_set(err, CG_ENOMEM, "out of memory while reading the URL of %s '%s'", what, who(name));
    }
    for (char *p = host; *p; p++) *p = (char)tolower((unsigned char)*p);
    out->host = host;
    out->base_path = base;
    out->port = u.port ? u.port : 443;
    out->ipv6 = u.ipv6;
    return 0;
}

int cg_config_upstream_url_parse(const char *name, const char *url, struct cg_upstream_url *out, struct cg_err *err)
{
    return url_parse("upstream", name, url, out, err);
}

int cg_config_webhook_url_parse(const char *name, const char *url, struct cg_upstream_url *out, struct cg_err *err)
{
    return url_parse("webhook", name, url, out, err);
}

int cg_config_upstream_spki_parse(const char *name, const char *b64, uint8_t out[CG_UPSTREAM_SPKI_LEN],
                                  struct cg_err *err)
{
    static const char how[] = "give base64 of the SHA-256 of the server's public key (44 characters ending in '='), "
                              "e.g. from: openssl s_client -connect HOST:443 </dev/null 2>/dev/null | openssl x509 "
                              "-pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | "
                              "base64";
    struct cg_buf raw;
    cg_buf_init(&raw, 64);
    int rc = b64 && *b64 ? cg_base64_decode(cg_slice_str(b64), &raw) : CG_EPROTO;
    if (rc < 0 || raw.len != CG_UPSTREAM_SPKI_LEN) {
        if (rc == 0)
            cg_err_set(err, CG_EINVAL, "upstream '%s': the SPKI pin '%s' decodes to %zu bytes, not the %d of a "
                                       "SHA-256",
                       who(name), b64, raw.len, CG_UPSTREAM_SPKI_LEN);
        else
            cg_err_set(err, CG_EINVAL, "upstream '%s': the SPKI pin '%s' is not base64", who(name), b64 ? b64 : "");
        cg_buf_cleanup(&raw);
        return cg_err_hint_code(err, CG_EINVAL, "%s", how);
    }
    memcpy(out, raw.ptr, CG_UPSTREAM_SPKI_LEN);
    cg_buf_cleanup(&raw);
    return 0;
}

int cg_config_upstream_server_name_check(const char *name, const char *server_name, struct cg_err *err)
{
    const char *s = server_name ? server_name : "";
    size_t n = strlen(s);
    bool ok = n > 0 && n <= 253;
    if (ok && strchr(s, ':')) {
        struct in6_addr a;
        ok = inet_pton(AF_INET6, s, &a) == 1;
    } else {
        for (size_t i = 0; ok && i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '.') ok = i > 0 && i + 1 < n && s[i - 1] != '.';
            else ok = isalnum(c) || c == '-' || c == '_';
        }
    }
    if (ok) return 0;
    cg_err_set(err, CG_EINVAL, "upstream '%s': '%s' is not a server name", who(name), s);
    return cg_err_hint_code(err, CG_EINVAL, "give the DNS name (or IP address, without brackets) that the "
                                            "server's certificate holds, e.g. api.partner.example");
}

int cg_config_upstream_timeout_parse(const char *name, const char *what, const char *text, uint32_t *out,
                                     struct cg_err *err)
{
    uint64_t v = 0;
    if (text && cg_str_to_u64(text, &v) == 0 && v >= 1 && v <= CG_UPSTREAM_TIMEOUT_MAX_MS) {
        *out = (uint32_t)v;
        return 0;
    }
    cg_err_set(err, CG_EINVAL, "upstream '%s': %s '%s' is not a timeout in milliseconds from 1 to %u", who(name),
               what, text ? text : "", CG_UPSTREAM_TIMEOUT_MAX_MS);
    return cg_err_hint_code(err, CG_EINVAL, "give whole milliseconds, e.g. %s 5000 for five seconds", what);
}
