/* What cert add, ca add and import share: reading inputs, storing a certificate with its
 * sealed key and warnings, and the view of a stored certificate that list/show/check print. */
#ifndef CG_CLI_CERTOPS_H
#define CG_CLI_CERTOPS_H

#include <jansson.h>
#include <time.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/strlist.h"
#include "pki/pki.h"
#include "store/store.h"

#define CG_CLI_NAME_MAX_LEN 128

/* The rule for the names of stored objects (certificates, CA bundles, upstreams): what pins and
 * configuration refer to, so shell- and URL-friendly: 1 to CG_CLI_NAME_MAX_LEN letters, digits,
 * '-', '_' and '.', starting with a letter or digit; "none" is reserved (pins). CG_EUSAGE with a
 * message naming what ("certificate", "upstream") otherwise. */
CG_RESULT cg_cli_name_check(const char *what, const char *name, struct cg_err *err);

/* Reads the input of a file argument into out (an initialised buffer, capped at
 * CG_PKI_MAX_INPUT): the idx-th inline input of arg ("file", "key", "chain", "crl") when the
 * request carried its content (the admin API), else the file at path -- never a file in API
 * mode. path names the input in messages either way. */
CG_RESULT cg_cli_read_input(const struct cg_cli *cli, const struct cg_cli_args *a, const char *arg, int idx,
                            const char *path, struct cg_buf *out, struct cg_err *err);

/* Loads an identity from files. When the input needs a password, none was given and may_prompt
 * is set and there is a terminal, asks for it. */
CG_RESULT cg_cli_identity_load(const struct cg_cli *cli, const struct cg_cli_args *a, const char *file,
                               const char *key_file, const char *chain_file, const char *password, bool may_prompt,
                               struct cg_pki_identity *out, struct cg_err *err);

/* Stores one certificate: an identity (client/server) or a CA bundle (cas, with the CRLs of its
 * issuers: crls may be NULL or empty; each is checked with cg_pki_crls_check). Computes and stores
 * its warnings (also appended to *warnings), seals the key with the master key (cli must have
 * the store open and the master key loaded). replace: an existing certificate of that name (of
 * the same kind) is replaced -- nothing of the old one is kept (CRLs included) but its default
 * mark, unless make_default. Runs inside the caller's transaction when there is one. */
CG_RESULT cg_cli_cert_save(struct cg_cli *cli, const char *name, enum cg_cert_kind kind,
                           const struct cg_pki_identity *id, STACK_OF(X509) *cas, STACK_OF(X509_CRL) *crls,
                           bool replace, bool make_default, struct cg_strlist *warnings, struct cg_err *err);

/* Whether the DNS SANs of a server certificate cover host (RFC 6125 section 6.4: exact, ignoring
 * case, or a "*." SAN standing for exactly one whole label; a wildcard host is covered by the
 * same wildcard only). */
bool cg_cli_sans_cover(const struct cg_pki_facts *f, const char *host);

/* The index of the certificate of cas whose SHA-256 fingerprint (64 lowercase hex) is fp, or -1. */
int cg_cli_bundle_find(STACK_OF(X509) *cas, const char *fp);

/* A stored certificate, parsed for display. */
struct cg_cert_view {
    const struct cg_store_cert *row;
    STACK_OF(X509) *certs;      /* leaf then chain, or the bundle */
    struct cg_pki_facts *facts; /* one per certificate */
    size_t n;
    time_t not_before, not_after; /* the leaf's; for a CA bundle the latest start and earliest end */
    struct cg_strlist warnings;   /* stored at import */
    STACK_OF(X509_CRL) *crls;     /* ca: the stored CRLs; NULL when none */
};

CG_RESULT cg_cert_view_load(const struct cg_store_cert *row, struct cg_cert_view *v, struct cg_err *err);
void cg_cert_view_cleanup(struct cg_cert_view *v);
/* The JSON object documented in docs/cli.md. pinned_by may be NULL. */
json_t *cg_cert_view_json(const struct cg_cert_view *v, time_t now, const struct cg_strlist *pinned_by);
/* Prints the import result line(s) for people: "added client certificate 'x' (CN=..., expires
 * ..., N days left)" and "warning: ..." lines on stderr. */
void cg_cli_print_saved(const struct cg_cli *cli, const char *verb, const char *name, enum cg_cert_kind kind, X509 *first,
                        size_t n_certs, const struct cg_strlist *warnings);

#endif
