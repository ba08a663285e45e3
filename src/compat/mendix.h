/* The settings formats of the platform users migrate from (SPEC.md section 2,
 * ../shared/seeds/003_6588f587e569be3b.txt). Pure parsing: no files are opened and no
 * certificates parsed here; the CLI turns the result into one store transaction.
 *
 * Local settings:
 *   ClientCertificates          "a.pfx, b.pfx"            comma-separated paths (backslashes single)
 *   ClientCertificatePasswords  "pw1,pw2"                 comma-separated, same order
 *   ClientCertificateUsages     {"Module.WS1": "D:\\App\\a.pfx", "host.example": "", ...}
 *                               JSON object; "" pins "no certificate"; backslashes doubled as
 *                               JSON requires (so they decode to single ones)
 * Environment:
 *   CLIENT_CERTIFICATES     [{"pfx": "<base64 PKCS#12>", "password": "...", "pin_to": ["M.WS1", "host"]}]
 *   CERTIFICATE_AUTHORITIES PEM text, or base64 of PEM text
 *
 * Errors name the setting and the entry: "ClientCertificateUsages: entry 'Module.WS1': path
 * 'x.pfx' is not one of ClientCertificates" with a hint. */
#ifndef CG_COMPAT_MENDIX_H
#define CG_COMPAT_MENDIX_H

#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/slice.h"
#include "core/strlist.h"

#define CG_MENDIX_MAX_JSON (8 * 1024 * 1024) /* CLIENT_CERTIFICATES carries base64 PKCS#12s */
#define CG_MENDIX_MAX_ENTRIES 256

/* One usage: target -> index into the ClientCertificates list, or -1 for "no certificate". */
struct cg_mendix_usage {
    char *target;
    int cert;
};

struct cg_mendix_local {
    struct cg_strlist paths;      /* ClientCertificates, trimmed */
    struct cg_strlist passwords;  /* ClientCertificatePasswords, same length as paths */
    struct cg_mendix_usage *usages;
    size_t n_usages;
};

/* passwords may be NULL (all files unprotected) and usages_json NULL (none given). A password
 * list must have exactly as many entries as paths (a single empty string for one file counts).
 * Each usage path must equal one of the ClientCertificates entries (after JSON decoding); a
 * target given twice is refused; targets must be non-empty. Passwords are wiped on cleanup. */
CG_RESULT cg_mendix_local_parse(const char *certificates, const char *passwords,
                                const char *usages_json, struct cg_mendix_local *out,
                                struct cg_err *err);
void cg_mendix_local_cleanup(struct cg_mendix_local *m);

struct cg_mendix_env_cert {
    struct cg_buf pfx;          /* decoded PKCS#12 bytes */
    char *password;             /* "" when absent */
    struct cg_strlist pin_to;
};

struct cg_mendix_env {
    struct cg_mendix_env_cert *certs;
    size_t n_certs;
};

/* Parses CLIENT_CERTIFICATES (JSON list). Refuses: not a list, an entry that is not an object,
 * a missing or non-base64 "pfx", a non-string password, a pin_to that is not a list of
 * non-empty strings, unknown keys (named), more than CG_MENDIX_MAX_ENTRIES entries. Messages say
 * "CLIENT_CERTIFICATES[2]: ...". */
CG_RESULT cg_mendix_env_parse(struct cg_slice client_certificates, struct cg_mendix_env *out,
                              struct cg_err *err);
void cg_mendix_env_cleanup(struct cg_mendix_env *m);

/* CERTIFICATE_AUTHORITIES: if the text contains "-----BEGIN", it is PEM and copied as is;
 * otherwise it is base64 (whitespace allowed) that must decode to PEM. Result in out. */
CG_RESULT cg_mendix_authorities_decode(struct cg_slice text, struct cg_buf *out, struct cg_err *err);

#endif
