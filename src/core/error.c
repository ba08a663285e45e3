#include "core/error.h"

#include <stdio.h>
#include <string.h>

enum cg_category cg_err_category(int code)
{
    if (code >= 0) return CG_CAT_OK;
    int cat = (-code) >> 8;
    if (cat < CG_CAT_IO || cat > CG_CAT_INTERNAL) return CG_CAT_INTERNAL;
    return (enum cg_category)cat;
}

int cg_err_exit_status(int code)
{
    switch (cg_err_category(code)) {
    case CG_CAT_OK: return 0;
    case CG_CAT_USAGE: return 2;
    default: return 1;
    }
}

int cg_err_http_status(int code)
{
    switch (code) {
    case CG_OK: return 200;
    case CG_ENOTFOUND: return 404;
    case CG_EEXISTS:
    case CG_EINUSE: return 409;
    case CG_ELIMIT: return 413;
    case CG_ENOSTORE:
    case CG_ESTORE: return 503;
    default: break;
    }
    switch (cg_err_category(code)) {
    case CG_CAT_USAGE: return 400;
    case CG_CAT_PROTO:
    case CG_CAT_CERT: return 422;
    default: return 500;
    }
}

const char *cg_err_reason(int code)
{
    switch (code) {
    case CG_OK: return "ok";
    case CG_EIO: return "io";
    case CG_ENOENT: return "io.not_found";
    case CG_EPERM: return "io.permission";
    case CG_EPROTO: return "input.malformed";
    case CG_ELIMIT: return "input.too_large";
    case CG_EFORMAT: return "input.wrong_format";
    case CG_ECERT: return "cert.refused";
    case CG_EPASSWORD: return "cert.password";
    case CG_EKEYMISMATCH: return "cert.key_mismatch";
    case CG_EEXPIRED: return "cert.expired";
    case CG_ESTORE: return "store.failed";
    case CG_ENOTFOUND: return "store.not_found";
    case CG_EEXISTS: return "store.exists";
    case CG_EINUSE: return "store.in_use";
    case CG_ENOSTORE: return "store.not_initialised";
    case CG_EUSAGE: return "usage";
    case CG_EINVAL: return "usage.invalid_value";
    case CG_ENOMEM: return "internal.no_memory";
    default: return "internal";
    }
}

void cg_err_clear(struct cg_err *e)
{
    if (!e) return;
    e->code = 0;
    e->msg[0] = '\0';
    e->hint[0] = '\0';
}

int cg_err_vset(struct cg_err *e, int code, const char *fmt, va_list ap)
{
    if (!e) return code;
    e->code = code;
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    e->hint[0] = '\0';
    return code;
}

int cg_err_set(struct cg_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cg_err_vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

int cg_err_hint(struct cg_err *e, const char *fmt, ...)
{
    if (!e) return CG_EINTERNAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->hint, sizeof(e->hint), fmt, ap);
    va_end(ap);
    return e->code;
}

int cg_err_hint_code(struct cg_err *e, int code, const char *fmt, ...)
{
    if (!e) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->hint, sizeof(e->hint), fmt, ap);
    va_end(ap);
    return code;
}

int cg_err_prefix(struct cg_err *e, const char *fmt, ...)
{
    if (!e) return CG_EINTERNAL;
    char pre[CG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof(pre), fmt, ap);
    va_end(ap);
    char old[CG_ERR_MSG_MAX];
    memcpy(old, e->msg, sizeof(old));
    if (old[0])
        snprintf(e->msg, sizeof(e->msg), "%s: %s", pre, old);
    else
        snprintf(e->msg, sizeof(e->msg), "%s", pre);
    return e->code;
}
