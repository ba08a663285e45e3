/* Sites, access profiles and path rules (SPEC.md section 1): what their fields may hold -- the
 * CLI and the admin API validate with these, so that both refuse the same input with the same
 * message -- and the ingress' access decision, a pure function over a snapshot. */
#ifndef CG_CONFIG_SITE_H
#define CG_CONFIG_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>
#include <sys/socket.h>

#include "core/error.h"
#include "core/slice.h"

/* ---- validation ---- */

/* An IPv4 or IPv6 range. */
struct cg_cidr {
    uint8_t family;   /* 4 or 6 */
    uint8_t bits;     /* prefix length */
    uint8_t addr[16]; /* network address (4 bytes used for IPv4), host bits zero */
};

/* "10.0.0.0/8", "2001:db8::/32", or a bare address (/32, /128). Refused with CG_EINVAL: not an
 * address, a prefix out of range, host bits set (the hint names the network meant). */
CG_RESULT cg_cidr_parse(const char *text, struct cg_cidr *out, struct cg_err *err);
/* The canonical text ("10.0.0.0/8"); n >= 64 always fits. */
void cg_cidr_format(const struct cg_cidr *c, char *out, size_t n);
/* Whether the address (AF_INET or AF_INET6; IPv4-mapped IPv6 addresses match IPv4 ranges) is in c. */
bool cg_cidr_match(const struct cg_cidr *c, const struct sockaddr *sa);

/* A site backend: http://host:port (port required; host a name, IPv4 or [IPv6]; no path, no
 * https). host is allocated (lowercase, brackets removed). */
CG_RESULT cg_site_backend_parse(const char *url, char **host, uint16_t *port, struct cg_err *err);
/* A domain: a DNS name (letters, digits, '-', dots; labels 1..63; total <= 253) or "*.rest" with
 * one wildcard label; refused with CG_EINVAL otherwise. *out is allocated, lowercase. */
CG_RESULT cg_site_host_normalize(const char *host, char **out, struct cg_err *err);
/* A rule's path prefix: starts with '/', at most 1024 bytes, no '?', '#', spaces or control
 * characters, no dot segments, and none of what normalisation removes from a request's path
 * ('%' escapes, "//"), so that every accepted rule can match; refused with CG_EINVAL. */
CG_RESULT cg_site_path_check(const char *path, struct cg_err *err);

/* ---- matching ---- */

/* The path a rule is matched against, from a request target's path (origin form, query
 * removed): percent-decoded, "//" merged, "." and ".." segments resolved, so that /a/../admin,
 * /%61dmin and //admin all meet the rule for /admin. CG_EINVAL (why set) for a bad
 * percent-encoding, a decoded NUL, or ".." above the root: the ingress answers 400. out gets at
 * most cap - 1 bytes and a NUL; CG_ELIMIT when it does not fit. */
CG_RESULT cg_site_path_normalize(struct cg_slice path, char *out, size_t cap, size_t *out_len, const char **why);

struct cg_snapshot;

/* What the ingress knows of a request. */
struct cg_access_request {
    int site;                      /* index into snap->sites */
    const char *path;              /* normalised (cg_site_path_normalize) */
    size_t path_len;
    const struct sockaddr *addr;   /* the client's address */
    STACK_OF(X509) *chain;         /* the client's verified chain, leaf first; NULL: none presented or
                                    * not valid */
};

struct cg_access_verdict {
    bool allowed;
    const char *rule;              /* the path of the rule that decided, NULL: the site has no rules */
    const char *profile;           /* the profile's name, "allow-all", "deny-all", or NULL */
    /* why (for the access log and the 403 body): "no_rules", "allow_all", "deny_all", "ip_denied",
     * "ip_allowed", "certificate", "no_certificate" (the rule wants a certificate or an allowed IP,
     * and there is neither), "certificate_not_accepted" (a valid certificate, but not from one of
     * the profile's selected CAs) */
    const char *reason;
};

/* Decides a request (SPEC.md section 1): the longest rule prefix of path wins; a site without
 * rules allows all; a profile passes when the address is not denied and (it is in an allowed
 * range, or the chain contains one of the profile's signers). Pure: no allocation, no I/O. */
void cg_access_check(const struct cg_snapshot *snap, const struct cg_access_request *r, struct cg_access_verdict *v);

/* Whether chain (leaf first) contains one of the n certificates (X509_cmp). */
bool cg_chain_contains_any(STACK_OF(X509) *chain, X509 *const *certs, size_t n);

#endif
