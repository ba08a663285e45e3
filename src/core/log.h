/* Logging to stderr (the daemon adds structured access logs later). Never log key material or
 * passwords: callers pass names and fingerprints, not secrets. */
#ifndef CG_CORE_LOG_H
#define CG_CORE_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

enum cg_log_level { CG_LOG_DEBUG, CG_LOG_INFO, CG_LOG_WARN, CG_LOG_ERROR };

void cg_log_set_level(enum cg_log_level level);
enum cg_log_level cg_log_get_level(void);
/* Parses "debug", "info", "warn", "error". */
CG_RESULT cg_log_level_parse(const char *s, enum cg_log_level *out);
void cg_log(enum cg_log_level level, const char *fmt, ...) CG_PRINTF(2, 3);

#define CG_LOG_D(...) cg_log(CG_LOG_DEBUG, __VA_ARGS__)
#define CG_LOG_I(...) cg_log(CG_LOG_INFO, __VA_ARGS__)
#define CG_LOG_W(...) cg_log(CG_LOG_WARN, __VA_ARGS__)
#define CG_LOG_E(...) cg_log(CG_LOG_ERROR, __VA_ARGS__)


/* ---- access log: one line per request, written with one write(2) so that lines from several
 * workers never interleave ---- */

struct cg_access_log {
    int fd;        /* 2 for stderr */
    bool json;
    bool owned;
};

struct cg_access_entry {
    const char *listener;     /* "egress" */
    const char *client;       /* "127.0.0.1:51234" */
    const char *method, *target;
    int status;
    uint64_t bytes_in, bytes_out;
    uint64_t duration_us;
    const char *upstream;     /* "api.partner.example:443" or "" */
    const char *cert;         /* certificate presented (egress: the name; ingress: the client's subject), or NULL */
    const char *fingerprint;  /* its SHA-256, or NULL */
    const char *tls_version;  /* "TLSv1.3" or NULL */
    int resumed;              /* -1 unknown, 0, 1 */
    int reused;               /* upstream connection from the pool: -1, 0, 1 */
    const char *error;        /* error code, or NULL */
    /* ingress only (written when site is set): the site, and the access decision */
    const char *site;
    const char *rule;         /* the path rule that decided, or NULL */
    const char *profile;      /* its profile (or preset), or NULL */
    const char *reason;       /* why (cg_access_check's words, or the TLS rejection), or NULL */
};

/* path NULL or "stderr": standard error; "off": no access log. */
CG_RESULT cg_access_log_open(struct cg_access_log *l, const char *path, bool json, struct cg_err *err);
void cg_access_log_close(struct cg_access_log *l);
void cg_access_log_write(const struct cg_access_log *l, const struct cg_access_entry *e);

#endif
