/* Errors: negative codes with a category, and a message built where the cause is known.
 *
 * Fallible functions return 0 or a negative CG_E* code (CG_RESULT). The category of a code
 * maps, through one table, to a CLI exit status, an HTTP status and a log reason
 * (s2n-tls error/s2n_errno.h). The human message lives in struct cg_err: "<what failed>: <why>"
 * plus an optional hint that says what to do. */
#ifndef CG_CORE_ERROR_H
#define CG_CORE_ERROR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/poison.h"

#define CG_RESULT __attribute__((warn_unused_result)) int
#define CG_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum cg_category {
    CG_CAT_OK = 0,
    CG_CAT_IO,       /* files, sockets, the system */
    CG_CAT_PROTO,    /* malformed input from a peer or a file */
    CG_CAT_CERT,     /* certificates, keys, passwords, trust */
    CG_CAT_STORE,    /* the store: missing, conflicting, unavailable */
    CG_CAT_USAGE,    /* the caller used the command or API wrongly */
    CG_CAT_INTERNAL, /* a bug or resource exhaustion */
};

#define CG_E_MAKE(cat, n) (-(((int)(cat) << 8) | (n)))

enum {
    CG_OK = 0,
    CG_EIO = CG_E_MAKE(CG_CAT_IO, 1),
    CG_ENOENT = CG_E_MAKE(CG_CAT_IO, 2),     /* a file does not exist */
    CG_EPERM = CG_E_MAKE(CG_CAT_IO, 3),      /* permissions */
    CG_EPROTO = CG_E_MAKE(CG_CAT_PROTO, 1),  /* malformed input */
    CG_ELIMIT = CG_E_MAKE(CG_CAT_PROTO, 2),  /* input exceeds a hard cap */
    CG_EFORMAT = CG_E_MAKE(CG_CAT_PROTO, 3), /* input is of another kind than expected */
    CG_ECERT = CG_E_MAKE(CG_CAT_CERT, 1),    /* a certificate or key is refused */
    CG_EPASSWORD = CG_E_MAKE(CG_CAT_CERT, 2),/* wrong or missing password */
    CG_EKEYMISMATCH = CG_E_MAKE(CG_CAT_CERT, 3),
    CG_EEXPIRED = CG_E_MAKE(CG_CAT_CERT, 4),
    CG_ESTORE = CG_E_MAKE(CG_CAT_STORE, 1),   /* the store failed */
    CG_ENOTFOUND = CG_E_MAKE(CG_CAT_STORE, 2),/* no such object */
    CG_EEXISTS = CG_E_MAKE(CG_CAT_STORE, 3),  /* an object of that name exists */
    CG_EINUSE = CG_E_MAKE(CG_CAT_STORE, 4),   /* referenced by another object */
    CG_ENOSTORE = CG_E_MAKE(CG_CAT_STORE, 5), /* the store was never initialised */
    CG_EUSAGE = CG_E_MAKE(CG_CAT_USAGE, 1),
    CG_EINVAL = CG_E_MAKE(CG_CAT_USAGE, 2),   /* a bad value */
    CG_ENOMEM = CG_E_MAKE(CG_CAT_INTERNAL, 1),
    CG_EINTERNAL = CG_E_MAKE(CG_CAT_INTERNAL, 2),
};

enum cg_category cg_err_category(int code);
/* CLI exit status: 0 success, 2 misuse, 1 every other failure (SPEC.md section 3). */
int cg_err_exit_status(int code);
/* HTTP status for an API answer: 400, 404, 409, 422, 500, 503 ... */
int cg_err_http_status(int code);
/* A short stable token for logs and JSON: "io", "cert.password", "store.not_found" ... */
const char *cg_err_reason(int code);

#define CG_ERR_MSG_MAX 1024
#define CG_ERR_HINT_MAX 512

struct cg_err {
    int code;
    char msg[CG_ERR_MSG_MAX];   /* "<what failed>: <why>" */
    char hint[CG_ERR_HINT_MAX]; /* what to do about it; "" when there is nothing to say */
};

void cg_err_clear(struct cg_err *e);
/* Sets code and message (replacing any earlier one) and returns code, so that
 * `return cg_err_set(err, CG_ECERT, "...")` reads naturally. err may be NULL. */
int cg_err_set(struct cg_err *e, int code, const char *fmt, ...) CG_PRINTF(3, 4);
int cg_err_vset(struct cg_err *e, int code, const char *fmt, va_list ap) CG_PRINTF(3, 0);
/* Sets the hint; returns e->code. */
int cg_err_hint(struct cg_err *e, const char *fmt, ...) CG_PRINTF(2, 3);
/* Sets the hint and returns code: the same as cg_err_hint, but the right code comes back even
 * when e is NULL (callers that only want the code pass NULL). */
int cg_err_hint_code(struct cg_err *e, int code, const char *fmt, ...) CG_PRINTF(3, 4);
/* Prepends context: "cert 'x'" + ": " + old message. Returns e->code. */
int cg_err_prefix(struct cg_err *e, const char *fmt, ...) CG_PRINTF(2, 3);

/* Guard macros keep the happy path straight (s2n-tls utils/s2n_safety_macros.h). */
#define CG_GUARD(x)                                                                             \
    do {                                                                                        \
        int cg_guard_rc_ = (x);                                                                 \
        if (cg_guard_rc_ < 0) return cg_guard_rc_;                                              \
    } while (0)
#define CG_ENSURE(cond, code)                                                                   \
    do {                                                                                        \
        if (!(cond)) return (code);                                                             \
    } while (0)
#define CG_ENSURE_REF(p) CG_ENSURE((p) != NULL, CG_EINTERNAL)

#define CG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CG_UNUSED(x) ((void)(x))

#endif
