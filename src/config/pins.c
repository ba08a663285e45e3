#include "config/pins.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "core/str.h"

struct pin {
    char *target;   /* as given */
    char *host_key; /* lowercase: "host", "host:port", "[v6]:port" or "*.suffix" */
    enum cg_pin_target_kind kind;
    int cert;
};

struct index {
    uint32_t *slots; /* pin index + 1; 0 = empty */
    size_t mask;
};

struct cg_pin_table {
    struct pin *pins;
    size_t n, cap;
    int default_cert;
    bool built;
    struct index by_service; /* exact target, CG_PIN_TARGET_NAME only */
    struct index by_host;    /* host_key, every pin */
};

const char *cg_pin_rule_name(enum cg_pin_rule r)
{
    static const char *names[] = {"service", "host:port", "host", "wildcard", "default", "none"};
    return (size_t)r < CG_ARRAY_LEN(names) ? names[r] : "none";
}

static bool name_char(char c) { return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_'; }

static bool valid_port(const char *s, size_t n)
{
    if (n == 0 || n > 5) return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v >= 1 && v <= 65535 && s[0] != '0';
}

/* A name: labels of name characters separated by single dots, no empty label. */
static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        if (!name_char(s[i])) return false;
        if (s[i] == '.' && i + 1 < n && s[i + 1] == '.') return false;
    }
    return true;
}

static bool valid_v6(const char *s, size_t n)
{
    if (n < 2 || n > 45) return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.') return false;
    return memchr(s, ':', n) != NULL;
}

int cg_pin_target_parse(const char *target, enum cg_pin_target_kind *kind, struct cg_err *err)
{
    size_t n = strlen(target);
    const char *what = "a pin target is a service name (Module.Service), a host (api.example.com), "
                       "host:port (api.example.com:8443) or a one-label wildcard (*.example.com)";
    if (n == 0 || n >= CG_PIN_TARGET_MAX)
        return cg_err_set(err, CG_EINVAL, "pin target '%s': %s", target,
                          n == 0 ? "is empty" : "is too long"),
               cg_err_hint(err, "%s", what);
    const char *host = target;
    size_t host_len = n;
    bool has_port = false;
    if (target[0] == '[') {
        const char *close = strchr(target, ']');
        if (!close || !valid_v6(target + 1, (size_t)(close - target - 1))) goto bad;
        if (close[1] == ':') {
            if (!valid_port(close + 2, strlen(close + 2))) goto bad_port;
            has_port = true;
        } else if (close[1] != '\0') {
            goto bad;
        }
        *kind = has_port ? CG_PIN_TARGET_HOST_PORT : CG_PIN_TARGET_NAME;
        return 0;
    }
    const char *colon = strchr(target, ':');
    if (colon) {
        if (strchr(colon + 1, ':')) goto bad; /* a bare IPv6 address: needs brackets */
        if (!valid_port(colon + 1, strlen(colon + 1))) goto bad_port;
        host_len = (size_t)(colon - target);
        has_port = true;
    }
    if (host_len >= 2 && host[0] == '*' && host[1] == '.') {
        if (has_port) goto bad;
        /* one wildcard label, then at least two labels (*.example.com, not *.com) */
        const char *rest = host + 2;
        size_t rest_len = host_len - 2;
        if (!valid_name(rest, rest_len) || !memchr(rest, '.', rest_len)) goto bad;
        *kind = CG_PIN_TARGET_WILDCARD;
        return 0;
    }
    if (!valid_name(host, host_len)) goto bad;
    *kind = has_port ? CG_PIN_TARGET_HOST_PORT : CG_PIN_TARGET_NAME;
    return 0;
bad:
    cg_err_set(err, CG_EINVAL, "pin target '%s' is not valid", target);
    return cg_err_hint(err, "%s", what);
bad_port:
    cg_err_set(err, CG_EINVAL, "pin target '%s': the port must be a number from 1 to 65535", target);
    return cg_err_hint(err, "%s", what);
}

struct cg_pin_table *cg_pin_table_new(void)
{
    struct cg_pin_table *t = cg_calloc(1, sizeof(*t));
    if (t) t->default_cert = CG_PIN_NONE;
    return t;
}

void cg_pin_table_free(struct cg_pin_table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        cg_free(t->pins[i].target);
        cg_free(t->pins[i].host_key);
    }
    cg_free(t->pins);
    cg_free(t->by_service.slots);
    cg_free(t->by_host.slots);
    cg_free(t);
}

static uint64_t hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

int cg_pin_table_add(struct cg_pin_table *t, const char *target, int cert, struct cg_err *err)
{
    CG_ENSURE(!t->built, CG_EINTERNAL);
    enum cg_pin_target_kind kind;
    CG_GUARD(cg_pin_target_parse(target, &kind, err));
    char *key = cg_str_lower_dup(target);
    CG_ENSURE(key, CG_ENOMEM);
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->pins[i].host_key, key) == 0) {
            int rc = cg_err_set(err, CG_EEXISTS, "pin target '%s' is given twice%s%s%s", target,
                                strcmp(t->pins[i].target, target) ? " (as '" : "",
                                strcmp(t->pins[i].target, target) ? t->pins[i].target : "",
                                strcmp(t->pins[i].target, target) ? "': host names ignore case)" : "");
            cg_free(key);
            return rc;
        }
    }
    if (cg_array_reserve(&t->pins, &t->cap, t->n + 1, sizeof(*t->pins)) < 0) {
        cg_free(key);
        return CG_ENOMEM;
    }
    char *copy = cg_strdup(target);
    if (!copy) {
        cg_free(key);
        return CG_ENOMEM;
    }
    t->pins[t->n++] = (struct pin){.target = copy, .host_key = key, .kind = kind, .cert = cert};
    return 0;
}

void cg_pin_table_set_default(struct cg_pin_table *t, int cert) { t->default_cert = cert; }

static int index_build(struct index *ix, size_t n)
{
    size_t size = 8;
    while (size < n * 2) size *= 2;
    ix->slots = cg_calloc(size, sizeof(*ix->slots));
    CG_ENSURE(ix->slots, CG_ENOMEM);
    ix->mask = size - 1;
    return 0;
}

static void index_put(struct index *ix, const char *key, uint32_t value)
{
    size_t i = hash(key, strlen(key)) & ix->mask;
    while (ix->slots[i]) i = (i + 1) & ix->mask;
    ix->slots[i] = value;
}

int cg_pin_table_build(struct cg_pin_table *t)
{
    CG_ENSURE(!t->built, CG_EINTERNAL);
    CG_GUARD(index_build(&t->by_service, t->n));
    CG_GUARD(index_build(&t->by_host, t->n));
    for (size_t i = 0; i < t->n; i++) {
        if (t->pins[i].kind == CG_PIN_TARGET_NAME) index_put(&t->by_service, t->pins[i].target, (uint32_t)i + 1);
        index_put(&t->by_host, t->pins[i].host_key, (uint32_t)i + 1);
    }
    t->built = true;
    return 0;
}

static const struct pin *lookup_service(const struct cg_pin_table *t, const char *key, size_t n)
{
    const struct index *ix = &t->by_service;
    for (size_t i = hash(key, n) & ix->mask; ix->slots[i]; i = (i + 1) & ix->mask) {
        const struct pin *p = &t->pins[ix->slots[i] - 1];
        if (strncmp(p->target, key, n) == 0 && p->target[n] == '\0') return p;
    }
    return NULL;
}

static const struct pin *lookup_host(const struct cg_pin_table *t, const char *key, size_t n)
{
    const struct index *ix = &t->by_host;
    for (size_t i = hash(key, n) & ix->mask; ix->slots[i]; i = (i + 1) & ix->mask) {
        const struct pin *p = &t->pins[ix->slots[i] - 1];
        if (strncmp(p->host_key, key, n) == 0 && p->host_key[n] == '\0') return p;
    }
    return NULL;
}

static void matched(struct cg_pin_match *out, const struct pin *p, enum cg_pin_rule rule)
{
    out->cert = p->cert;
    out->rule = rule;
    out->target = p->target;
}

static bool is_ip_literal(const char *h, size_t n)
{
    if (n && h[0] == '[') return true;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)h[i]) && h[i] != '.') return false;
    return true;
}

/* ":443" into out (at most 6 bytes); returns its length. No snprintf on the per-request path. */
static size_t port_suffix(char *out, unsigned port)
{
    char digits[5];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + port % 10);
        port /= 10;
    } while (port && n < sizeof(digits));
    out[0] = ':';
    for (size_t i = 0; i < n; i++) out[1 + i] = digits[n - 1 - i];
    return n + 1;
}

void cg_pin_resolve(const struct cg_pin_table *t, struct cg_slice host, uint16_t port,
                    struct cg_slice service, struct cg_pin_match *out)
{
    const struct pin *p;
    if (t->built && t->n) {
        if (service.len && service.len < CG_PIN_TARGET_MAX &&
            (p = lookup_service(t, (const char *)service.ptr, service.len))) {
            matched(out, p, CG_PIN_RULE_SERVICE);
            return;
        }
        /* key = lowercase host (bracketed when IPv6), then ":port" after it */
        char key[CG_PIN_TARGET_MAX + 8];
        size_t n = 0;
        if (host.len && host.ptr[host.len - 1] == '.') host.len--;
        bool v6 = host.len && host.ptr[0] != '[' && memchr(host.ptr, ':', host.len);
        if (host.len && host.len + 2 < CG_PIN_TARGET_MAX) {
            if (v6) key[n++] = '[';
            for (size_t i = 0; i < host.len; i++) key[n++] = (char)tolower(host.ptr[i]);
            if (v6) key[n++] = ']';
            size_t host_n = n;
            n += port_suffix(key + n, port ? port : CG_PIN_DEFAULT_PORT);
            if ((p = lookup_host(t, key, n))) {
                matched(out, p, CG_PIN_RULE_HOST_PORT);
                return;
            }
            if ((p = lookup_host(t, key, host_n))) {
                matched(out, p, CG_PIN_RULE_HOST);
                return;
            }
            const char *dot = memchr(key, '.', host_n);
            if (dot && !is_ip_literal(key, host_n)) {
                /* one-label wildcard: "a.b.example" -> "*.b.example" */
                size_t off = (size_t)(dot - key);
                char wild[CG_PIN_TARGET_MAX + 8];
                wild[0] = '*';
                memcpy(wild + 1, key + off, host_n - off);
                if ((p = lookup_host(t, wild, host_n - off + 1)) && p->kind == CG_PIN_TARGET_WILDCARD) {
                    matched(out, p, CG_PIN_RULE_WILDCARD);
                    return;
                }
            }
        }
    }
    out->cert = t->default_cert;
    out->rule = t->default_cert == CG_PIN_NONE ? CG_PIN_RULE_NONE : CG_PIN_RULE_DEFAULT;
    out->target = NULL;
}
