/* The bootstrap file (bootstrap.h). Parsed with libyaml's event API: the events carry the line
 * of every key and value, aliases and anchors are seen (and refused) before anything is built,
 * and nothing deeper than the schema (mapping -> mapping -> list of scalars) is ever descended:
 * the first event of a wrong shape ends the parse, so hostile nesting costs nothing.
 *
 * Error codes: CG_ELIMIT for the size cap, CG_EPROTO for what is not YAML we accept (syntax,
 * anchors, aliases, tags, several documents), CG_EINVAL for YAML that breaks the schema
 * (unknown or duplicate keys, wrong types, bad values). Every message starts "<file>:<line>: ". */
#include "config/bootstrap.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <yaml.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/mem.h"
#include "core/str.h"

#define MAX_WORKERS 1024
#define SHOW_MAX 64 /* bytes of a user-supplied key or value quoted in a message */

void cg_config_init(struct cg_config *c)
{
    memset(c, 0, sizeof(*c));
    cg_strlist_init(&c->listen_egress);
    cg_strlist_init(&c->listen_ingress);
    cg_strlist_init(&c->listen_admin);
    c->workers = 0;
    c->log_level = CG_LOG_INFO;
    c->log_access = NULL;
    c->log_format = CG_LOG_FORMAT_TEXT;
    c->timeout_handshake_ms = 10000;
    c->timeout_head_ms = 30000;
    c->timeout_idle_ms = 60000;
    c->timeout_connect_ms = 5000;
    c->timeout_response_ms = 60000;
    c->timeout_drain_ms = 30000;
    c->limit_head_bytes = 65536;
    c->limit_headers = 100;
    c->limit_connections = 10000;
    c->reload_ms = 250;
    c->admin_max_upload_bytes = 1024 * 1024;
}

void cg_config_cleanup(struct cg_config *c)
{
    if (!c) return;
    cg_free(c->egress_default_upstream);
    c->egress_default_upstream = NULL;
    cg_free(c->admin_tls);
    cg_free(c->admin_client_ca);
    cg_free(c->environment);
    cg_free(c->store_url);
    cg_free(c->master_key);
    cg_strlist_cleanup(&c->listen_egress);
    cg_strlist_cleanup(&c->listen_ingress);
    cg_strlist_cleanup(&c->listen_admin);
    cg_free(c->log_access);
    cg_config_init(c);
}

/* ---- listen addresses ------------------------------------------------------------------- */

static bool port_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5) return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

/* A host name (dot-separated labels of letters, digits and '-', RFC 1123 section 2.1, at most
 * 253 bytes) or a dotted-quad IPv4 address. */
static bool host_valid(const char *s, size_t n)
{
    if (n == 0 || n > 253) return false;
    if (strspn(s, "0123456789.") >= n) { /* all digits and dots: must be an IPv4 address */
        char tmp[INET_ADDRSTRLEN];
        if (n >= sizeof(tmp)) return false;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        struct in_addr a;
        return inet_pton(AF_INET, tmp, &a) == 1;
    }
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.') {
            if (label == 0 || s[i - 1] == '-') return false;
            label = 0;
            continue;
        }
        if (!isalnum(ch) && ch != '-') return false;
        if (ch == '-' && label == 0) return false;
        if (++label > 63) return false;
    }
    return label > 0 && s[n - 1] != '-';
}

/* "[v6]" contents: an IPv6 address, optionally with a %zone of [A-Za-z0-9_.-]. */
static bool v6_valid(const char *s, size_t n)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    const char *pct = memchr(s, '%', n);
    size_t alen = pct ? (size_t)(pct - s) : n;
    if (alen == 0 || alen >= sizeof(tmp)) return false;
    if (pct) {
        size_t zlen = n - alen - 1;
        if (zlen == 0 || zlen > 64) return false;
        for (size_t i = 0; i < zlen; i++) {
            unsigned char ch = (unsigned char)pct[1 + i];
            if (!isalnum(ch) && ch != '_' && ch != '.' && ch != '-') return false;
        }
    }
    memcpy(tmp, s, alen);
    tmp[alen] = '\0';
    struct in6_addr a;
    return inet_pton(AF_INET6, tmp, &a) == 1;
}

bool cg_config_listen_addr_valid(const char *s)
{
    if (!s || !s[0]) return false;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') return false;
        return v6_valid(s + 1, (size_t)(close - s - 1)) && port_valid(close + 2);
    }
    const char *colon = strrchr(s, ':');
    if (!colon) return false;
    size_t hlen = (size_t)(colon - s);
    if (memchr(s, ':', hlen)) return false; /* an IPv6 address without brackets */
    if (hlen > 0 && !host_valid(s, hlen)) return false;
    return port_valid(colon + 1);
}

/* ---- the parser ------------------------------------------------------------------------- */

struct parser {
    yaml_parser_t yaml;
    const char *name;
    struct cg_err *err;
    struct cg_config *cfg;
    struct cg_slice text;
};

/* A user-supplied string made safe to quote in a message: at most SHOW_MAX bytes, control
 * characters and non-ASCII bytes shown as '?', so that a message can never carry terminal
 * escapes or break a log line. */
static const char *show(const void *p, size_t n, char out[SHOW_MAX + 4])
{
    const unsigned char *s = p;
    size_t i = 0;
    for (; i < n && i < SHOW_MAX; i++) out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
    if (n > SHOW_MAX) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

static unsigned line_of(const yaml_event_t *ev) { return (unsigned)ev->start_mark.line + 1; }

static const char *event_kind(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SEQUENCE_START_EVENT: return "a list";
    case YAML_MAPPING_START_EVENT: return "a mapping";
    case YAML_SCALAR_EVENT: return "a single value";
    default: return "nothing";
    }
}

/* Sets err to "<file>:<line>: <message>" and returns code. */
CG_PRINTF(4, 5)
static int fail(struct parser *p, int code, unsigned line, const char *fmt, ...)
{
    char msg[CG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cg_err_set(p->err, code, "%s:%u: %s", p->name, line, msg);
}

CG_PRINTF(2, 3)
static void hint(struct parser *p, const char *fmt, ...)
{
    if (!p->err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->hint, sizeof(p->err->hint), fmt, ap);
    va_end(ap);
}

/* The next event, with everything this format refuses on every node refused here: syntax
 * errors, aliases, anchors, tags, and scalars that hold a NUL byte. The caller deletes ev. */
static int next(struct parser *p, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&p->yaml, ev)) {
        unsigned line = (unsigned)p->yaml.problem_mark.line + 1;
        const char *problem = p->yaml.problem ? p->yaml.problem : "malformed YAML";
        if (p->yaml.error == YAML_MEMORY_ERROR)
            return cg_err_set(p->err, CG_ENOMEM, "%s: out of memory while parsing", p->name);
        if (p->yaml.error == YAML_READER_ERROR) {
            /* bad bytes or encoding: libyaml knows the offset, not the line */
            size_t off = p->yaml.problem_offset;
            line = 1;
            for (size_t i = 0; i < off && i < p->text.len; i++) line += p->text.ptr[i] == '\n';
            if (p->yaml.problem_value >= 0)
                fail(p, CG_EPROTO, line, "YAML syntax error: %s (byte 0x%02x)", problem,
                     (unsigned)p->yaml.problem_value & 0xffu);
            else
                fail(p, CG_EPROTO, line, "YAML syntax error: %s", problem);
            hint(p, "the file must be UTF-8 text without control characters");
            return CG_EPROTO;
        }
        if (p->yaml.context)
            fail(p, CG_EPROTO, line, "YAML syntax error: %s %s that starts on line %u", problem,
                 p->yaml.context, (unsigned)p->yaml.context_mark.line + 1);
        else
            fail(p, CG_EPROTO, line, "YAML syntax error: %s", problem);
        hint(p, "check the indentation and quoting near this line; values holding ':', '[', "
                "'{' or '#' need quotes");
        return CG_EPROTO;
    }
    const yaml_char_t *anchor = NULL, *tag = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        fail(p, CG_EPROTO, line_of(ev), "YAML aliases ('*%s') are not allowed",
             (const char *)ev->data.alias.anchor);
        hint(p, "write the value out in full; anchors and aliases are refused so that a small "
                "file cannot expand into a huge one");
        yaml_event_delete(ev);
        return CG_EPROTO;
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        break;
    default: break;
    }
    if (anchor) {
        char s[SHOW_MAX + 4];
        fail(p, CG_EPROTO, line_of(ev), "YAML anchors ('&%s') are not allowed",
             show(anchor, strlen((const char *)anchor), s));
        hint(p, "remove the anchor and write each value out in full");
        yaml_event_delete(ev);
        return CG_EPROTO;
    }
    if (tag) {
        char s[SHOW_MAX + 4];
        fail(p, CG_EPROTO, line_of(ev), "YAML tags ('%s') are not allowed",
             show(tag, strlen((const char *)tag), s));
        hint(p, "remove the tag; quote a value to make it a string");
        yaml_event_delete(ev);
        return CG_EPROTO;
    }
    if (ev->type == YAML_SCALAR_EVENT &&
        memchr(ev->data.scalar.value, '\0', ev->data.scalar.length)) {
        fail(p, CG_EPROTO, line_of(ev), "a value contains a NUL byte");
        hint(p, "remove the \\0 escape");
        yaml_event_delete(ev);
        return CG_EPROTO;
    }
    return 0;
}

static bool scalar_is_null(const yaml_event_t *ev)
{
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    const char *v = (const char *)ev->data.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* One level of the schema: the keys a mapping may hold. */
struct key {
    const char *name;
    int (*parse)(struct parser *p, const char *path, yaml_event_t *value);
};

static int parse_mapping(struct parser *p, const char *where, const struct key *keys, size_t n);

/* The value of a key that takes one string; wrong shapes and empty values are refused. */
static int want_string(struct parser *p, const char *path, const yaml_event_t *v)
{
    if (v->type != YAML_SCALAR_EVENT) {
        fail(p, CG_EINVAL, line_of(v), "'%s' must be a single value, not %s", path, event_kind(v));
        hint(p, "write it as '%s: VALUE'", path);
        return CG_EINVAL;
    }
    if (scalar_is_null(v) || v->data.scalar.length == 0) {
        fail(p, CG_EINVAL, line_of(v), "'%s' has no value", path);
        hint(p, "give a value, or remove the key to use the default");
        return CG_EINVAL;
    }
    return 0;
}

static int set_string(struct parser *p, const char *path, const yaml_event_t *v, char **dst)
{
    CG_GUARD(want_string(p, path, v));
    char *s = cg_strdup((const char *)v->data.scalar.value);
    if (!s) return cg_err_set(p->err, CG_ENOMEM, "%s: out of memory", p->name);
    cg_free(*dst);
    *dst = s;
    return 0;
}

static bool environment_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  (i > 0 && (ch == '_' || ch == '-'));
        if (!ok) return false;
    }
    return true;
}

static int key_environment(struct parser *p, const char *path, yaml_event_t *v)
{
    CG_GUARD(want_string(p, path, v));
    const char *s = (const char *)v->data.scalar.value;
    if (!environment_valid(s)) {
        char b[SHOW_MAX + 4];
        fail(p, CG_EINVAL, line_of(v), "'%s' is '%s', which is not a valid environment name", path,
             show(s, v->data.scalar.length, b));
        hint(p, "use 1 to 63 lowercase letters, digits, '_' or '-', starting with a letter or "
                "digit (for example 'production' or 'acc-2')");
        return CG_EINVAL;
    }
    return set_string(p, path, v, &p->cfg->environment);
}

static int key_store(struct parser *p, const char *path, yaml_event_t *v)
{
    return set_string(p, path, v, &p->cfg->store_url);
}

static int key_master_key(struct parser *p, const char *path, yaml_event_t *v)
{
    return set_string(p, path, v, &p->cfg->master_key);
}

static int key_workers(struct parser *p, const char *path, yaml_event_t *v)
{
    CG_GUARD(want_string(p, path, v));
    const char *s = (const char *)v->data.scalar.value;
    uint64_t n;
    char b[SHOW_MAX + 4];
    if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || cg_str_to_u64(s, &n) < 0 ||
        n > MAX_WORKERS) {
        fail(p, CG_EINVAL, line_of(v), "'%s' is %s%s%s, not a whole number from 0 to %d", path,
             v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? "'" : "the quoted string '",
             show(s, v->data.scalar.length, b), "'", MAX_WORKERS);
        hint(p, "write a plain number without quotes, such as 'workers: 4'; 0 means one worker "
                "per core");
        return CG_EINVAL;
    }
    p->cfg->workers = (unsigned)n;
    return 0;
}

static int key_log_level(struct parser *p, const char *path, yaml_event_t *v)
{
    CG_GUARD(want_string(p, path, v));
    const char *s = (const char *)v->data.scalar.value;
    if (cg_log_level_parse(s, &p->cfg->log_level) < 0) {
        char b[SHOW_MAX + 4];
        fail(p, CG_EINVAL, line_of(v), "'%s' is '%s', not a log level", path,
             show(s, v->data.scalar.length, b));
        hint(p, "use one of: debug, info, warn, error");
        return CG_EINVAL;
    }
    return 0;
}

static int key_log_access(struct parser *p, const char *path, yaml_event_t *v)
{
    CG_GUARD(want_string(p, path, v));
    if (strcmp((const char *)v->data.scalar.value, "stderr") == 0) {
        cg_free(p->cfg->log_access);
        p->cfg->log_access = NULL;
        return 0;
    }
    return set_string(p, path, v, &p->cfg->log_access);
}

static int key_log_format(struct parser *p, const char *path, yaml_event_t *v)
{
    CG_GUARD(want_string(p, path, v));
    const char *s = (const char *)v->data.scalar.value;
    if (strcmp(s, "text") == 0) {
        p->cfg->log_format = CG_LOG_FORMAT_TEXT;
    } else if (strcmp(s, "json") == 0) {
        p->cfg->log_format = CG_LOG_FORMAT_JSON;
    } else {
        char b[SHOW_MAX + 4];
        fail(p, CG_EINVAL, line_of(v), "'%s' is '%s', not a log format", path,
             show(s, v->data.scalar.length, b));
        hint(p, "use one of: text, json");
        return CG_EINVAL;
    }
    return 0;
}

/* A plain whole number within [min, max]. */
static int set_uint(struct parser *p, const char *path, const yaml_event_t *v, uint64_t min, uint64_t max,
                    uint32_t *dst)
{
    CG_GUARD(want_string(p, path, v));
    const char *s = (const char *)v->data.scalar.value;
    uint64_t n;
    if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || cg_str_to_u64(s, &n) < 0 || n < min || n > max) {
        char b[SHOW_MAX + 4];
        fail(p, CG_EINVAL, line_of(v), "'%s' is '%s', not a whole number from %llu to %llu", path,
             show(s, v->data.scalar.length, b), (unsigned long long)min, (unsigned long long)max);
        hint(p, "write a plain number without quotes, such as '%s: %llu'", path, (unsigned long long)min);
        return CG_EINVAL;
    }
    *dst = (uint32_t)n;
    return 0;
}

static int set_bool(struct parser *p, const char *path, const yaml_event_t *v, bool *dst)
{
    CG_GUARD(want_string(p, path, v));
    const char *s = (const char *)v->data.scalar.value;
    if (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strcmp(s, "true") == 0) {
        *dst = true;
        return 0;
    }
    if (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strcmp(s, "false") == 0) {
        *dst = false;
        return 0;
    }
    char b[SHOW_MAX + 4];
    fail(p, CG_EINVAL, line_of(v), "'%s' is '%s', not true or false", path, show(s, v->data.scalar.length, b));
    hint(p, "write '%s: true' or '%s: false'", path, path);
    return CG_EINVAL;
}

#define UINT_KEY(fn, field, min, max)                                                                  \
    static int fn(struct parser *p, const char *path, yaml_event_t *v)                                 \
    {                                                                                                  \
        return set_uint(p, path, v, min, max, &p->cfg->field);                                         \
    }
UINT_KEY(key_timeout_handshake, timeout_handshake_ms, 100, 600000)
UINT_KEY(key_timeout_head, timeout_head_ms, 100, 3600000)
UINT_KEY(key_timeout_idle, timeout_idle_ms, 100, 3600000)
UINT_KEY(key_timeout_connect, timeout_connect_ms, 100, 600000)
UINT_KEY(key_timeout_response, timeout_response_ms, 100, 3600000)
UINT_KEY(key_timeout_drain, timeout_drain_ms, 0, 3600000)
UINT_KEY(key_limit_head, limit_head_bytes, 1024, 1048576)
UINT_KEY(key_limit_headers, limit_headers, 8, 128)
UINT_KEY(key_limit_body, limit_body_bytes, 0, 4294967295u)
UINT_KEY(key_limit_connections, limit_connections, 1, 1000000)
UINT_KEY(key_reload, reload_ms, 50, 60000)
UINT_KEY(key_admin_upload, admin_max_upload_bytes, 1024, 64u * 1024 * 1024)
UINT_KEY(key_webhook_poll, webhook_poll_ms, 10, 60000)
UINT_KEY(key_webhook_retry_base, webhook_retry_base_ms, 10, 86400000)
UINT_KEY(key_webhook_retry_max, webhook_retry_max_ms, 10, 604800000)
UINT_KEY(key_webhook_attempts, webhook_max_attempts, 1, 1000)
UINT_KEY(key_webhook_timeout, webhook_timeout_ms, 100, 600000)
UINT_KEY(key_webhook_concurrency, webhook_concurrency, 1, 10000)
UINT_KEY(key_webhook_per_webhook, webhook_per_webhook, 1, 10000)

static int key_egress_connect(struct parser *p, const char *path, yaml_event_t *v)
{
    return set_bool(p, path, v, &p->cfg->egress_allow_connect);
}

static int key_egress_default(struct parser *p, const char *path, yaml_event_t *v)
{
    return set_string(p, path, v, &p->cfg->egress_default_upstream);
}

static int key_admin_tls(struct parser *p, const char *path, yaml_event_t *v)
{
    return set_string(p, path, v, &p->cfg->admin_tls);
}

static int key_admin_client_ca(struct parser *p, const char *path, yaml_event_t *v)
{
    return set_string(p, path, v, &p->cfg->admin_client_ca);
}

/* Which listen list already holds addr, or NULL. */
static const char *listen_owner(const struct cg_config *c, const char *addr)
{
    if (cg_strlist_contains(&c->listen_egress, addr)) return "listen.egress";
    if (cg_strlist_contains(&c->listen_ingress, addr)) return "listen.ingress";
    if (cg_strlist_contains(&c->listen_admin, addr)) return "listen.admin";
    return NULL;
}

static int listen_add(struct parser *p, const char *path, const yaml_event_t *v,
                      struct cg_strlist *dst)
{
    char b[SHOW_MAX + 4];
    if (v->type != YAML_SCALAR_EVENT) {
        fail(p, CG_EINVAL, line_of(v), "'%s': each address must be a single value, not %s", path,
             event_kind(v));
        hint(p, "write '%s: HOST:PORT' or '%s: [HOST:PORT, ...]'", path, path);
        return CG_EINVAL;
    }
    const char *s = (const char *)v->data.scalar.value;
    if (scalar_is_null(v) || !cg_config_listen_addr_valid(s)) {
        fail(p, CG_EINVAL, line_of(v), "'%s': '%s' is not a listen address", path,
             show(s, v->data.scalar.length, b));
        hint(p, "use HOST:PORT, [IPV6]:PORT (quoted, as \"[::]:443\") or :PORT for all "
                "interfaces, with a port from 1 to 65535");
        return CG_EINVAL;
    }
    const char *owner = listen_owner(p->cfg, s);
    if (owner) {
        fail(p, CG_EINVAL, line_of(v), "'%s': address '%s' is already given in '%s'", path,
             show(s, v->data.scalar.length, b), owner);
        hint(p, "each address can be listened on once; remove one of them");
        return CG_EINVAL;
    }
    if (cg_strlist_add(dst, s) < 0) return cg_err_set(p->err, CG_ENOMEM, "%s: out of memory", p->name);
    return 0;
}

/* A listen entry: one address, or a list of addresses (an empty list, or no value, is none). */
static int listen_entry(struct parser *p, const char *path, yaml_event_t *v, struct cg_strlist *dst)
{
    if (v->type == YAML_SCALAR_EVENT) {
        if (scalar_is_null(v)) return 0;
        return listen_add(p, path, v, dst);
    }
    if (v->type != YAML_SEQUENCE_START_EVENT) return listen_add(p, path, v, dst); /* refused */
    for (;;) {
        yaml_event_t ev;
        CG_GUARD(next(p, &ev));
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        int rc = listen_add(p, path, &ev, dst); /* an empty item is refused there */
        yaml_event_delete(&ev);
        CG_GUARD(rc);
    }
}

static int key_listen_egress(struct parser *p, const char *path, yaml_event_t *v)
{
    return listen_entry(p, path, v, &p->cfg->listen_egress);
}
static int key_listen_ingress(struct parser *p, const char *path, yaml_event_t *v)
{
    return listen_entry(p, path, v, &p->cfg->listen_ingress);
}
static int key_listen_admin(struct parser *p, const char *path, yaml_event_t *v)
{
    return listen_entry(p, path, v, &p->cfg->listen_admin);
}

static const struct key listen_keys[] = {
    {"egress", key_listen_egress},
    {"ingress", key_listen_ingress},
    {"admin", key_listen_admin},
};
static const struct key log_keys[] = {
    {"level", key_log_level},
    {"access", key_log_access},
    {"format", key_log_format},
};

/* A key whose value is a mapping; no value at all ("log:" with its lines commented out) is an
 * empty one. */
static int want_mapping(struct parser *p, const char *path, yaml_event_t *v, const struct key *keys,
                        size_t n)
{
    if (v->type == YAML_SCALAR_EVENT && scalar_is_null(v)) return 0;
    if (v->type != YAML_MAPPING_START_EVENT) {
        fail(p, CG_EINVAL, line_of(v), "'%s' must be a mapping of keys, not %s", path,
             event_kind(v));
        char known[256] = "";
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(known);
            snprintf(known + len, sizeof(known) - len, "%s%s", i ? ", " : "", keys[i].name);
        }
        hint(p, "indent its keys (%s) on the lines below '%s:'", known, path);
        return CG_EINVAL;
    }
    return parse_mapping(p, path, keys, n);
}

static const struct key egress_keys[] = {
    {"allow_connect", key_egress_connect},
    {"default_upstream", key_egress_default},
};
static const struct key timeout_keys[] = {
    {"handshake_ms", key_timeout_handshake}, {"head_ms", key_timeout_head}, {"idle_ms", key_timeout_idle},   {"connect_ms", key_timeout_connect},
    {"response_ms", key_timeout_response}, {"drain_ms", key_timeout_drain},
};
static const struct key limit_keys[] = {
    {"max_head_bytes", key_limit_head},
    {"max_headers", key_limit_headers},
    {"max_body_bytes", key_limit_body},
    {"max_connections", key_limit_connections},
};
static const struct key admin_keys[] = {
    {"tls", key_admin_tls},
    {"client_ca", key_admin_client_ca},
    {"max_upload_bytes", key_admin_upload},
};
static int key_admin(struct parser *p, const char *path, yaml_event_t *v)
{
    return want_mapping(p, path, v, admin_keys, CG_ARRAY_LEN(admin_keys));
}
static const struct key webhook_keys[] = {
    {"poll_ms", key_webhook_poll},
    {"retry_base_ms", key_webhook_retry_base},
    {"retry_max_ms", key_webhook_retry_max},
    {"max_attempts", key_webhook_attempts},
    {"timeout_ms", key_webhook_timeout},
    {"concurrency", key_webhook_concurrency},
    {"per_webhook", key_webhook_per_webhook},
};
static int key_webhooks(struct parser *p, const char *path, yaml_event_t *v)
{
    return want_mapping(p, path, v, webhook_keys, CG_ARRAY_LEN(webhook_keys));
}
static int key_egress(struct parser *p, const char *path, yaml_event_t *v)
{
    return want_mapping(p, path, v, egress_keys, CG_ARRAY_LEN(egress_keys));
}
static int key_timeouts(struct parser *p, const char *path, yaml_event_t *v)
{
    return want_mapping(p, path, v, timeout_keys, CG_ARRAY_LEN(timeout_keys));
}
static int key_limits(struct parser *p, const char *path, yaml_event_t *v)
{
    return want_mapping(p, path, v, limit_keys, CG_ARRAY_LEN(limit_keys));
}

static int key_listen(struct parser *p, const char *path, yaml_event_t *v)
{
    return want_mapping(p, path, v, listen_keys, CG_ARRAY_LEN(listen_keys));
}
static int key_log(struct parser *p, const char *path, yaml_event_t *v)
{
    return want_mapping(p, path, v, log_keys, CG_ARRAY_LEN(log_keys));
}

static const struct key top_keys[] = {
    {"environment", key_environment},
    {"store", key_store},
    {"master_key", key_master_key},
    {"listen", key_listen},
    {"workers", key_workers},
    {"log", key_log},
    {"egress", key_egress},
    {"admin", key_admin},
    {"webhooks", key_webhooks},
    {"timeouts", key_timeouts},
    {"limits", key_limits},
    {"reload_ms", key_reload},
};

/* Edit distance, capped: enough to suggest 'listen' for 'lisen'. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32) return 99;
    size_t row[33];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static void unknown_key_hint(struct parser *p, const char *key, const struct key *keys, size_t n)
{
    char known[256] = "";
    const char *near = NULL;
    size_t best = 3;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(known);
        snprintf(known + len, sizeof(known) - len, "%s%s", i ? ", " : "", keys[i].name);
        size_t d = distance(key, keys[i].name);
        if (d < best) {
            best = d;
            near = keys[i].name;
        }
    }
    if (near)
        hint(p, "did you mean '%s'? The known keys here are: %s", near, known);
    else
        hint(p, "the known keys here are: %s", known);
}

/* Called after MAPPING_START: reads key/value pairs up to MAPPING_END. where is "" at the top
 * level, else the dotted path of the mapping. */
#define MAX_MAPPING_KEYS 32

static int parse_mapping(struct parser *p, const char *where, const struct key *keys, size_t n)
{
    unsigned seen_line[MAX_MAPPING_KEYS] = {0};
    if (n > MAX_MAPPING_KEYS) /* a table grew past the array: a bug, never a peer's doing */
        return cg_err_set(p->err, CG_EINTERNAL, "%s: internal error: too many keys in '%s'", p->name, where);
    for (;;) {
        yaml_event_t k;
        CG_GUARD(next(p, &k));
        if (k.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&k);
            return 0;
        }
        char b[SHOW_MAX + 4];
        if (k.type != YAML_SCALAR_EVENT) {
            fail(p, CG_EINVAL, line_of(&k), "a key%s%s%s must be a name, not %s",
                 where[0] ? " in '" : "", where, where[0] ? "'" : "", event_kind(&k));
            hint(p, "write 'name: value'");
            yaml_event_delete(&k);
            return CG_EINVAL;
        }
        const char *name = (const char *)k.data.scalar.value;
        size_t i = 0;
        while (i < n && strcmp(keys[i].name, name) != 0) i++;
        if (i == n) {
            fail(p, CG_EINVAL, line_of(&k), "unknown key '%s'%s%s%s", show(name, k.data.scalar.length, b),
                 where[0] ? " in '" : "", where, where[0] ? "'" : "");
            unknown_key_hint(p, name, keys, n);
            yaml_event_delete(&k);
            return CG_EINVAL;
        }
        char path[64];
        snprintf(path, sizeof(path), "%s%s%s", where, where[0] ? "." : "", keys[i].name);
        if (seen_line[i]) {
            fail(p, CG_EINVAL, line_of(&k), "duplicate key '%s' (first given on line %u)", path,
                 seen_line[i]);
            hint(p, "give each key once; remove one of them");
            yaml_event_delete(&k);
            return CG_EINVAL;
        }
        seen_line[i] = line_of(&k);
        yaml_event_delete(&k);

        yaml_event_t v;
        CG_GUARD(next(p, &v));
        int rc = keys[i].parse(p, path, &v);
        yaml_event_delete(&v);
        CG_GUARD(rc);
    }
}

static int parse_document(struct parser *p)
{
    yaml_event_t ev;
    CG_GUARD(next(p, &ev)); /* STREAM_START */
    yaml_event_delete(&ev);
    CG_GUARD(next(p, &ev));
    if (ev.type == YAML_STREAM_END_EVENT) { /* no document: comments only, or nothing */
        yaml_event_delete(&ev);
        return 0;
    }
    yaml_event_delete(&ev); /* DOCUMENT_START */

    CG_GUARD(next(p, &ev));
    int rc = 0;
    if (ev.type == YAML_MAPPING_START_EVENT) {
        rc = parse_mapping(p, "", top_keys, CG_ARRAY_LEN(top_keys));
    } else if (!(ev.type == YAML_SCALAR_EVENT && scalar_is_null(&ev))) {
        rc = fail(p, CG_EINVAL, line_of(&ev), "the file must be a mapping of keys, not %s",
                  event_kind(&ev));
        hint(p, "start with 'environment: NAME' or 'listen:'; see the configuration reference");
    }
    yaml_event_delete(&ev);
    CG_GUARD(rc);

    CG_GUARD(next(p, &ev)); /* DOCUMENT_END */
    yaml_event_delete(&ev);
    CG_GUARD(next(p, &ev));
    if (ev.type != YAML_STREAM_END_EVENT) {
        rc = fail(p, CG_EPROTO, line_of(&ev), "more than one YAML document");
        hint(p, "remove the second '---' and everything after it, or merge the documents");
    }
    yaml_event_delete(&ev);
    return rc;
}

int cg_config_parse(const char *name, struct cg_slice yaml, struct cg_config *c, struct cg_err *err)
{
    cg_config_init(c);
    if (!name) name = "<config>";
    if (yaml.len > CG_CONFIG_MAX_BYTES) {
        cg_err_set(err, CG_ELIMIT, "%s: %zu bytes is more than the %d-byte limit for a bootstrap "
                                   "file", name, yaml.len, CG_CONFIG_MAX_BYTES);
        cg_err_hint(err, "the bootstrap file holds only a few settings; everything else lives in "
                         "the store");
        return CG_ELIMIT;
    }
    struct cg_config tmp;
    cg_config_init(&tmp);
    struct parser p = {.name = name, .err = err, .cfg = &tmp, .text = yaml};
    if (!yaml_parser_initialize(&p.yaml))
        return cg_err_set(err, CG_ENOMEM, "%s: out of memory", name);
    static const unsigned char empty[1] = {0};
    yaml_parser_set_input_string(&p.yaml, yaml.len ? yaml.ptr : empty, yaml.len);
    int rc = parse_document(&p);
    yaml_parser_delete(&p.yaml);
    if (rc < 0) {
        cg_config_cleanup(&tmp);
        return rc;
    }
    *c = tmp;
    return 0;
}

int cg_config_load(const char *path, struct cg_config *c, struct cg_err *err)
{
    cg_config_init(c);
    struct cg_buf b;
    cg_buf_init(&b, CG_CONFIG_MAX_BYTES);
    int rc = cg_file_read(path, &b, err);
    if (rc == CG_ELIMIT)
        cg_err_hint(err, "the bootstrap file holds only a few settings; everything else lives in "
                         "the store");
    if (rc == 0) rc = cg_config_parse(path, cg_buf_slice(&b), c, err);
    cg_buf_cleanup(&b);
    return rc;
}
