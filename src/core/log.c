#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/time.h"

static _Atomic int g_level = CG_LOG_INFO; /* read by every thread */

void cg_log_set_level(enum cg_log_level level) { atomic_store_explicit(&g_level, (int)level, memory_order_relaxed); }
enum cg_log_level cg_log_get_level(void)
{
    return (enum cg_log_level)atomic_load_explicit(&g_level, memory_order_relaxed);
}

int cg_log_level_parse(const char *s, enum cg_log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < CG_ARRAY_LEN(names); i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum cg_log_level)i;
            return 0;
        }
    return CG_EINVAL;
}

void cg_log(enum cg_log_level level, const char *fmt, ...)
{
    static const char *tags[] = {"debug", "info", "warn", "error"};
    if ((int)level < atomic_load_explicit(&g_level, memory_order_relaxed)) return;
    char ts[40];
    cg_time_rfc3339(time(NULL), ts, sizeof(ts));
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %s %s\n", ts, tags[level], line);
}

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/buf.h"

int cg_access_log_open(struct cg_access_log *l, const char *path, bool json, struct cg_err *err)
{
    l->json = json;
    l->owned = false;
    l->fd = 2;
    if (!path || strcmp(path, "stderr") == 0) return 0;
    if (strcmp(path, "off") == 0) {
        l->fd = -1; /* no access log (benchmarks) */
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return cg_err_set(err, CG_EIO, "cannot open the access log '%s': %s", path, strerror(errno));
    l->fd = fd;
    l->owned = true;
    return 0;
}

void cg_access_log_close(struct cg_access_log *l)
{
    if (l->owned && l->fd >= 0) close(l->fd);
    l->fd = -1;
}

/* JSON string contents: quotes, backslashes and control bytes escaped. */
static int json_str(struct cg_buf *b, const char *s)
{
    CG_GUARD(cg_buf_append(b, "\"", 1));
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            CG_GUARD(cg_buf_append(b, e, 2));
        } else if (*p < 0x20 || *p == 0x7f) {
            CG_GUARD(cg_buf_printf(b, "\\u%04x", *p));
        } else {
            CG_GUARD(cg_buf_append(b, p, 1));
        }
    }
    return cg_buf_append(b, "\"", 1);
}

/* Text fields: no spaces or controls inside a field (peer-controlled values cannot forge a line). */
static int text_field(struct cg_buf *b, const char *s)
{
    if (!s || !*s) return cg_buf_append(b, "-", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char c = (*p <= 0x20 || *p >= 0x7f) ? '_' : (char)*p;
        CG_GUARD(cg_buf_append(b, &c, 1));
    }
    return 0;
}

void cg_access_log_write(const struct cg_access_log *l, const struct cg_access_entry *e)
{
    if (!l || l->fd < 0) return;
    char ts[40];
    cg_time_rfc3339(time(NULL), ts, sizeof(ts));
    struct cg_buf b;
    cg_buf_init(&b, 8192);
    int rc;
    if (l->json) {
        rc = cg_buf_printf(&b, "{\"time\":\"%s\",\"listener\":", ts);
        if (!rc) rc = json_str(&b, e->listener ? e->listener : "");
        if (!rc) rc = cg_buf_append_str(&b, ",\"client\":");
        if (!rc) rc = json_str(&b, e->client ? e->client : "");
        if (!rc) rc = cg_buf_append_str(&b, ",\"method\":");
        if (!rc) rc = json_str(&b, e->method ? e->method : "");
        if (!rc) rc = cg_buf_append_str(&b, ",\"target\":");
        if (!rc) rc = json_str(&b, e->target ? e->target : "");
        if (!rc)
            rc = cg_buf_printf(&b, ",\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_ms\":%.3f,\"upstream\":",
                               e->status, (unsigned long long)e->bytes_in, (unsigned long long)e->bytes_out,
                               (double)e->duration_us / 1000.0);
        if (!rc) rc = json_str(&b, e->upstream ? e->upstream : "");
        if (!rc) rc = cg_buf_append_str(&b, ",\"cert\":");
        if (!rc) rc = e->cert ? json_str(&b, e->cert) : cg_buf_append_str(&b, "null");
        if (!rc) rc = cg_buf_append_str(&b, ",\"cert_sha256\":");
        if (!rc) rc = e->fingerprint ? json_str(&b, e->fingerprint) : cg_buf_append_str(&b, "null");
        if (!rc) rc = cg_buf_append_str(&b, ",\"tls\":");
        if (!rc) rc = e->tls_version ? json_str(&b, e->tls_version) : cg_buf_append_str(&b, "null");
        if (!rc)
            rc = cg_buf_printf(&b, ",\"resumed\":%s,\"reused\":%s,\"error\":",
                               e->resumed < 0 ? "null" : e->resumed ? "true" : "false",
                               e->reused < 0 ? "null" : e->reused ? "true" : "false");
        if (!rc) rc = e->error ? json_str(&b, e->error) : cg_buf_append_str(&b, "null");
        if (!rc && e->site) {
            const char *names[] = {"site", "rule", "profile", "reason"};
            const char *vals[] = {e->site, e->rule, e->profile, e->reason};
            for (size_t i = 0; i < 4 && !rc; i++) {
                rc = cg_buf_printf(&b, ",\"%s\":", names[i]);
                if (!rc) rc = vals[i] ? json_str(&b, vals[i]) : cg_buf_append_str(&b, "null");
            }
        }
        if (!rc) rc = cg_buf_append_str(&b, "}\n");
    } else {
        rc = cg_buf_printf(&b, "%s %s ", ts, e->listener ? e->listener : "-");
        if (!rc) rc = text_field(&b, e->client);
        if (!rc) rc = cg_buf_append(&b, " ", 1);
        if (!rc) rc = text_field(&b, e->method);
        if (!rc) rc = cg_buf_append(&b, " ", 1);
        if (!rc) rc = text_field(&b, e->target);
        if (!rc)
            rc = cg_buf_printf(&b, " %d %llu %llu %.3fms upstream=", e->status, (unsigned long long)e->bytes_in,
                               (unsigned long long)e->bytes_out, (double)e->duration_us / 1000.0);
        if (!rc) rc = text_field(&b, e->upstream);
        if (!rc) rc = cg_buf_append_str(&b, " cert=");
        if (!rc) rc = text_field(&b, e->cert);
        if (!rc) rc = cg_buf_append_str(&b, " sha256=");
        if (!rc) rc = text_field(&b, e->fingerprint);
        if (!rc) rc = cg_buf_append_str(&b, " tls=");
        if (!rc) rc = text_field(&b, e->tls_version);
        if (!rc)
            rc = cg_buf_printf(&b, " resumed=%s reused=%s error=", e->resumed < 0 ? "-" : e->resumed ? "yes" : "no",
                               e->reused < 0 ? "-" : e->reused ? "yes" : "no");
        if (!rc) rc = text_field(&b, e->error);
        if (!rc && e->site) {
            const char *names[] = {"site", "rule", "profile", "reason"};
            const char *vals[] = {e->site, e->rule, e->profile, e->reason};
            for (size_t i = 0; i < 4 && !rc; i++) {
                rc = cg_buf_printf(&b, " %s=", names[i]);
                if (!rc) rc = text_field(&b, vals[i]);
            }
        }
        if (!rc) rc = cg_buf_append(&b, "\n", 1);
    }
    if (rc == 0) {
        ssize_t w = write(l->fd, b.ptr, b.len);
        CG_UNUSED(w);
    }
    cg_buf_cleanup(&b);
}
