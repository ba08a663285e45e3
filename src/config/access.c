/* The matching half of config/site.h: the path a rule is matched against, and the access
 * decision of SPEC.md section 1 (longest rule prefix; a profile passes an address that is not
 * denied and is either in an allowed range or holds a certificate from a selected signer). Both
 * run per request: no allocation, no I/O, nothing but the snapshot read. The validation half is
 * in site.c. */
#include <string.h>

#include "config/site.h"
#include "config/snapshot.h"
#include "core/str.h"

/* ---- path normalisation ---- */

static int refuse(const char **why, const char *msg, int code)
{
    *why = msg;
    return code;
}

/* Pass 1: every %XX decoded (RFC 3986 section 2.1), so that /%61dmin and /admin are one path
 * to the rules, whatever the backend later makes of them. */
static int percent_decode(struct cg_slice in, char *out, size_t cap, size_t *len, const char **why)
{
    int rc = cg_pct_decode(in, false, out, cap, len);
    if (rc == CG_EPROTO)
        return refuse(why, "bad percent-encoding in the path ('%' must be followed by two hex digits)", CG_EINVAL);
    if (rc == CG_EINVAL) return refuse(why, "the path holds a NUL byte", CG_EINVAL);
    if (rc == CG_ELIMIT) return refuse(why, "the path is too long", CG_ELIMIT);
    return rc;
}

/* A segment's name without its ";parameters": "..;x" is ".." to Tomcat and Spring, and
 * "/admin;x/" is "/admin/" (the "..;/" rule bypass); rules never see the parameters. */
static size_t segment_name_len(const char *seg, size_t n)
{
    const char *semi = memchr(seg, ';', n);
    return semi ? (size_t)(semi - seg) : n;
}

/* Pass 2, in place (the write index never passes the read index): empty segments merged,
 * parameters dropped, "." and ".." resolved as RFC 3986 section 5.2.4 does, a final "/" (or a
 * final dot segment) leaving a trailing "/". */
static int resolve_segments(char *p, size_t len, size_t *out_len, const char **why)
{
    size_t w = 0, r = 0;
    bool trail = false;
    while (r < len) {
        r++; /* the '/' that starts the segment */
        size_t end = r;
        while (end < len && p[end] != '/') end++;
        size_t n = segment_name_len(p + r, end - r);
        trail = true;
        if (n == 2 && p[r] == '.' && p[r + 1] == '.') {
            if (w == 0) return refuse(why, "the path climbs above the root with '..'", CG_EINVAL);
            while (p[--w] != '/') {}
        } else if (n > 0 && !(n == 1 && p[r] == '.')) {
            p[w++] = '/';
            memmove(p + w, p + r, n);
            w += n;
            trail = false;
        }
        r = end;
    }
    if (w == 0 || trail) p[w++] = '/';
    *out_len = w;
    return 0;
}

int cg_site_path_normalize(struct cg_slice path, char *out, size_t cap, size_t *out_len, const char **why)
{
    const char *ignored;
    if (!why) why = &ignored;
    *out_len = 0;
    if (cap == 0) return refuse(why, "the path is too long", CG_ELIMIT);
    if (path.len == 0 || path.ptr[0] != '/') {
        out[0] = '\0';
        return refuse(why, "the path does not start with '/'", CG_EINVAL);
    }
    size_t len;
    int rc = percent_decode(path, out, cap, &len, why);
    /* a decoded "%2F" is a separator like any other: the first byte is '/' here */
    if (rc == 0) rc = resolve_segments(out, len, &len, why);
    out[rc == 0 ? len : 0] = '\0';
    if (rc == 0) *out_len = len;
    return rc;
}

/* ---- the decision ---- */

bool cg_chain_contains_any(STACK_OF(X509) *chain, X509 *const *certs, size_t n)
{
    int depth = chain ? sk_X509_num(chain) : 0;
    for (int i = 0; i < depth; i++) {
        X509 *x = sk_X509_value(chain, i);
        for (size_t j = 0; j < n; j++)
            if (X509_cmp(x, certs[j]) == 0) return true;
    }
    return false;
}

static bool address_in(const struct cg_cidr *ranges, size_t n, const struct sockaddr *sa)
{
    if (!sa) return false;
    for (size_t i = 0; i < n; i++)
        if (cg_cidr_match(&ranges[i], sa)) return true;
    return false;
}

/* Rules are ordered longest path first, so the first prefix found is the longest. */
static const struct cg_snapshot_rule *rule_find(const struct cg_snapshot_site *site, const char *path, size_t len)
{
    for (size_t i = 0; i < site->n_rules; i++) {
        const struct cg_snapshot_rule *rule = &site->rules[i];
        if (rule->path_len <= len && memcmp(rule->path, path, rule->path_len) == 0) return rule;
    }
    return NULL;
}

static void verdict(struct cg_access_verdict *v, bool allowed, const char *reason)
{
    v->allowed = allowed;
    v->reason = reason;
}

/* Denied ranges first: a denied address is refused whatever else it brings. */
static void profile_check(const struct cg_snapshot_profile *p, const struct cg_access_request *r,
                          struct cg_access_verdict *v)
{
    if (address_in(p->deny, p->n_deny, r->addr))
        verdict(v, false, "ip_denied");
    else if (address_in(p->allow, p->n_allow, r->addr))
        verdict(v, true, "ip_allowed");
    else if (!r->chain)
        verdict(v, false, "no_certificate");
    else if (cg_chain_contains_any(r->chain, p->signers, p->n_signers))
        verdict(v, true, "certificate");
    else
        verdict(v, false, "certificate_not_accepted");
}

void cg_access_check(const struct cg_snapshot *snap, const struct cg_access_request *r, struct cg_access_verdict *v)
{
    *v = (struct cg_access_verdict){0};
    if (r->site < 0 || (size_t)r->site >= snap->n_sites) { /* a caller's bug: refuse */
        verdict(v, false, "deny_all");
        return;
    }
    const struct cg_snapshot_rule *rule = rule_find(&snap->sites[r->site], r->path, r->path_len);
    if (!rule) { /* no rule covers the path, or the site has none: SPEC.md, "no rules allows all" */
        verdict(v, true, "no_rules");
        return;
    }
    v->rule = rule->path;
    if (rule->profile == CG_PROFILE_ALLOW_ALL) {
        v->profile = CG_STORE_PROFILE_ALLOW_ALL;
        verdict(v, true, "allow_all");
    } else if (rule->profile == CG_PROFILE_DENY_ALL || rule->profile < 0 ||
               (size_t)rule->profile >= snap->n_profiles) {
        v->profile = CG_STORE_PROFILE_DENY_ALL;
        verdict(v, false, "deny_all");
    } else {
        v->profile = snap->profiles[rule->profile].name;
        profile_check(&snap->profiles[rule->profile], r, v);
    }
}
