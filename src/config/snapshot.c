/* Loading a configuration snapshot: one read transaction, every stored row parsed by the same
 * rules the CLI applied before storing it (a row that breaks them fails the load, naming it), and
 * the lookups the hot path makes (certificates, upstreams, the domain of a server name, sites,
 * webhooks). The ingress part turns names into indexes once here, so that the per-request access
 * decision (access.c) and the per-handshake domain lookup follow no names and allocate nothing;
 * webhooks get theirs too, and their secrets unsealed, once per load rather than per delivery. */
#include "config/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/upstream.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"

static void cert_cleanup(struct cg_snapshot_cert *c)
{
    cg_free(c->name);
    X509_free(c->leaf);
    sk_X509_pop_free(c->certs, X509_free);
    EVP_PKEY_free(c->key);
    sk_X509_CRL_pop_free(c->crls, X509_CRL_free);
}

static void upstream_cleanup(struct cg_snapshot_upstream *u)
{
    cg_free(u->name);
    cg_free(u->host);
    cg_free(u->base_path);
    cg_free(u->server_name);
    cg_free(u->cas);
}

static void profile_cleanup(struct cg_snapshot_profile *p)
{
    cg_free(p->name);
    cg_free(p->allow);
    cg_free(p->deny);
    cg_free(p->cas);
    for (size_t i = 0; i < p->n_signers; i++) X509_free(p->signers[i]);
    cg_free(p->signers);
}

static void site_cleanup(struct cg_snapshot_site *site)
{
    cg_free(site->name);
    cg_free(site->backend_host);
    cg_free(site->mtls_domain);
    for (size_t i = 0; i < site->n_rules; i++) cg_free(site->rules[i].path);
    cg_free(site->rules);
    cg_free(site->client_cas);
}

static void webhook_cleanup(struct cg_snapshot_webhook *w)
{
    cg_free(w->name);
    cg_free(w->url);
    cg_free(w->host);
    cg_free(w->path);
    if (w->secret) cg_wipe(w->secret, w->secret_len);
    cg_free(w->secret);
    for (size_t i = 0; i < w->n_events; i++) cg_free(w->events[i]);
    cg_free(w->events);
}

struct cg_snapshot *cg_snapshot_ref(struct cg_snapshot *s)
{
    if (s) atomic_fetch_add(&s->refs, 1);
    return s;
}

void cg_snapshot_unref(struct cg_snapshot *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
    for (size_t i = 0; i < s->n_certs; i++) cert_cleanup(&s->certs[i]);
    cg_free(s->certs);
    for (size_t i = 0; i < s->n_upstreams; i++) upstream_cleanup(&s->upstreams[i]);
    cg_free(s->upstreams);
    for (size_t i = 0; i < s->n_profiles; i++) profile_cleanup(&s->profiles[i]);
    cg_free(s->profiles);
    for (size_t i = 0; i < s->n_sites; i++) site_cleanup(&s->sites[i]);
    cg_free(s->sites);
    for (size_t i = 0; i < s->n_domains; i++) cg_free(s->domains[i].host);
    cg_free(s->domains);
    for (size_t i = 0; i < s->n_webhooks; i++) webhook_cleanup(&s->webhooks[i]);
    cg_free(s->webhooks);
    cg_pin_table_free(s->pins);
    cg_free(s->env);
    cg_free(s);
}

int cg_snapshot_cert_find(const struct cg_snapshot *s, const char *name)
{
    for (size_t i = 0; i < s->n_certs; i++)
        if (strcmp(s->certs[i].name, name) == 0) return (int)i;
    return -1;
}

int cg_snapshot_upstream_find(const struct cg_snapshot *s, struct cg_slice name)
{
    for (size_t i = 0; i < s->n_upstreams; i++) {
        const char *n = s->upstreams[i].name;
        if (strlen(n) == name.len && strncasecmp(n, (const char *)name.ptr, name.len) == 0) return (int)i;
    }
    return -1;
}

/* ---- lookups ---- */

#define HOST_MAX 253 /* RFC 1035 section 2.3.4, without the trailing dot */

static int host_cmp(const char *key, size_t n, const char *host)
{
    size_t m = strlen(host);
    int c = memcmp(key, host, n < m ? n : m);
    return c ? c : (n > m) - (n < m);
}

static int domain_search(const struct cg_snapshot *s, const char *key, size_t n)
{
    size_t lo = 0, hi = s->n_domains;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = host_cmp(key, n, s->domains[mid].host);
        if (c == 0) return (int)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

int cg_snapshot_domain_find(const struct cg_snapshot *s, struct cg_slice host)
{
    size_t n = host.len;
    if (n == 0 || host.ptr[0] == '[') return -1; /* an IPv6 literal is no domain */
    const uint8_t *colon = memchr(host.ptr, ':', n);
    if (colon) n = (size_t)(colon - host.ptr);
    if (n > 0 && host.ptr[n - 1] == '.') n--;
    if (n == 0 || n > HOST_MAX) return -1;
    char key[HOST_MAX];
    for (size_t i = 0; i < n; i++) {
        uint8_t c = host.ptr[i];
        key[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    int d = domain_search(s, key, n);
    if (d >= 0) return d;
    /* "*.rest": the wildcard replaces exactly the first label (RFC 6125 section 6.4.3) */
    const char *dot = memchr(key, '.', n);
    if (!dot || dot == key) return -1;
    size_t first = (size_t)(dot - key); /* the first label's length */
    key[first - 1] = '*';
    return domain_search(s, key + first - 1, n - first + 1);
}

/* Sites and profiles are ordered by strcmp of their name, their first member. */
static int name_search(const void *items, size_t n, size_t size, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, *(char *const *)((const char *)items + mid * size));
        if (c == 0) return (int)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

int cg_snapshot_site_find(const struct cg_snapshot *s, const char *name)
{
    return name_search(s->sites, s->n_sites, sizeof(*s->sites), name);
}

int cg_snapshot_webhook_find(const struct cg_snapshot *s, const char *name)
{
    return name_search(s->webhooks, s->n_webhooks, sizeof(*s->webhooks), name);
}

static int profile_find(const struct cg_snapshot *s, const char *name)
{
    return name_search(s->profiles, s->n_profiles, sizeof(*s->profiles), name);
}

/* ---- loading: certificates and upstreams ---- */

/* A stored row that the rules refuse now was checked before it was stored: the store was
 * changed behind certgate's back (by hand, or by another tool). The message says so, the hint
 * says how to fix it, and the code becomes CG_ESTORE; out of memory stays what it is. */
static int stored_row_refused(struct cg_err *err, int rc, const char *what, const char *hint_fmt, ...)
    CG_PRINTF(4, 5);
static int stored_row_refused(struct cg_err *err, int rc, const char *what, const char *hint_fmt, ...)
{
    if (rc == CG_ENOMEM || rc == CG_ESTORE || !err) return rc == CG_ENOMEM ? rc : CG_ESTORE;
    char hint[CG_ERR_HINT_MAX];
    va_list ap;
    va_start(ap, hint_fmt);
    vsnprintf(hint, sizeof(hint), hint_fmt, ap);
    va_end(ap);
    cg_err_prefix(err, "the store holds %s that certgate cannot use", what);
    cg_err_hint(err, "%s", hint);
    err->code = CG_ESTORE;
    return CG_ESTORE;
}

/* The same for a named object that its own command group changes (upstream, profile, site). */
static int named_row_refused(struct cg_err *err, int rc, const char *what, const char *command, const char *name,
                             const char *env)
{
    return stored_row_refused(err, rc, what,
                              "fix it with: certgate %s set %s --env %s ..., or remove it: certgate %s rm %s --env %s",
                              command, name, env, command, name, env);
}

/* The store's row made ready for the egress, by the same rules the CLI applied before storing
 * it (config/upstream.h). */
static int load_upstream(const struct cg_snapshot *s, const struct cg_store_upstream *row,
                         struct cg_snapshot_upstream *u, struct cg_err *err)
{
    CG_ENSURE(u->name = cg_strdup(row->name), CG_ENOMEM);
    struct cg_upstream_url url;
    CG_GUARD(cg_config_upstream_url_parse(row->name, row->url, &url, err));
    u->host = url.host;
    u->base_path = url.base_path;
    u->port = url.port;
    if (row->server_name) CG_GUARD(cg_config_upstream_server_name_check(row->name, row->server_name, err));
    CG_ENSURE(u->server_name = cg_strdup(row->server_name ? row->server_name : u->host), CG_ENOMEM);
    if (row->spki_sha256) {
        CG_GUARD(cg_config_upstream_spki_parse(row->name, row->spki_sha256, u->spki_sha256, err));
        u->has_spki = true;
    }
    if (row->n_cas) {
        CG_ENSURE(u->cas = cg_calloc(row->n_cas, sizeof(*u->cas)), CG_ENOMEM);
        for (size_t i = 0; i < row->n_cas; i++) {
            int c = cg_snapshot_cert_find(s, row->cas[i]);
            if (c < 0 || s->certs[c].kind != CG_CERT_CA)
                return cg_err_set(err, CG_ESTORE, "upstream '%s' trusts '%s', which is not a CA bundle in the store",
                                  row->name, row->cas[i]);
            u->cas[u->n_cas++] = c;
        }
    }
    u->connect_timeout_ms = row->connect_timeout_ms;
    u->timeout_ms = row->timeout_ms;
    return 0;
}

static int load_upstreams(struct cg_snapshot *s, const struct cg_store_upstream_list *rows, const char *env,
                          struct cg_err *err)
{
    if (rows->n == 0) return 0;
    CG_ENSURE(s->upstreams = cg_calloc(rows->n, sizeof(*s->upstreams)), CG_ENOMEM);
    for (size_t i = 0; i < rows->n; i++) {
        const char *name = rows->items[i].name;
        s->n_upstreams++;
        int rc = load_upstream(s, &rows->items[i], &s->upstreams[i], err);
        if (rc < 0)
            return named_row_refused(err, rc, "an upstream", "upstream", name, env);
    }
    return 0;
}

static int load_cert(const struct cg_store_cert *row, const uint8_t *master, struct cg_snapshot_cert *c,
                     struct cg_err *err)
{
    c->name = cg_strdup(row->name);
    CG_ENSURE(c->name, CG_ENOMEM);
    c->kind = (enum cg_cert_kind)row->kind;
    c->is_default = row->is_default;
    STACK_OF(X509) *all = NULL;
    CG_GUARD(cg_pki_certs_from_pem(cg_slice_str(row->cert_pem), &all, err));
    if (sk_X509_num(all) == 0) {
        sk_X509_free(all);
        return cg_err_set(err, CG_ESTORE, "certificate '%s' has no certificate data in the store", row->name);
    }
    struct cg_pki_facts f;
    if (cg_pki_facts_get(sk_X509_value(all, 0), &f) == 0) {
        memcpy(c->fingerprint, f.fingerprint, sizeof(c->fingerprint));
        cg_pki_facts_cleanup(&f);
    }
    if (c->kind != CG_CERT_CA) c->leaf = sk_X509_shift(all);
    c->certs = all;
    if (c->kind == CG_CERT_CA && row->crl_pem) {
        if (cg_pki_crls_from_pem(cg_slice_str(row->crl_pem), &c->crls, err) < 0)
            return cg_err_prefix(err, "the CRLs stored with ca '%s'", row->name);
        if (sk_X509_CRL_num(c->crls) <= 0) { /* "NULL when none" (snapshot.h) */
            sk_X509_CRL_free(c->crls);
            c->crls = NULL;
        }
    }
    if (master && c->kind != CG_CERT_CA) {
        CG_ENSURE(row->key_blob, cg_err_set(err, CG_ESTORE, "certificate '%s' has no private key in the store",
                                            row->name));
        int rc = cg_pki_key_unseal(master, cg_slice_str(row->id), cg_slice_make(row->key_blob, row->key_blob_len),
                                   &c->key, err);
        if (rc < 0) return cg_err_prefix(err, "certificate '%s'", row->name);
    }
    return 0;
}

static int load_certs(struct cg_snapshot *s, const struct cg_store_cert_list *rows, const uint8_t *master,
                      struct cg_err *err)
{
    if (rows->n == 0) return 0;
    CG_ENSURE(s->certs = cg_calloc(rows->n, sizeof(*s->certs)), CG_ENOMEM);
    for (size_t i = 0; i < rows->n; i++) {
        s->n_certs++;
        CG_GUARD(load_cert(&rows->items[i], master, &s->certs[i], err));
        if (s->certs[i].is_default && s->certs[i].kind == CG_CERT_CLIENT) cg_pin_table_set_default(s->pins, (int)i);
    }
    return 0;
}

static int load_pins(struct cg_snapshot *s, const struct cg_store_pin_list *rows, struct cg_err *err)
{
    for (size_t i = 0; i < rows->n; i++) {
        const struct cg_store_pin *pin = &rows->items[i];
        int cert = CG_PIN_NONE;
        if (pin->cert_name && (cert = cg_snapshot_cert_find(s, pin->cert_name)) < 0)
            return cg_err_set(err, CG_ESTORE, "pin '%s' names certificate '%s', which is not in the store",
                              pin->target, pin->cert_name);
        CG_GUARD(cg_pin_table_add(s->pins, pin->target, cert, err));
    }
    return cg_pin_table_build(s->pins);
}

/* ---- loading: access profiles ---- */

/* The index of a client CA that owner (a profile or a site) names; it must be a ca bundle. */
static int client_ca_index(const struct cg_snapshot *s, const char *owner, const char *ca, int *out,
                           struct cg_err *err)
{
    int c = cg_snapshot_cert_find(s, ca);
    if (c < 0 || s->certs[c].kind != CG_CERT_CA)
        return cg_err_set(err, CG_ESTORE, "%s names client CA '%s', which is not a CA bundle in the store", owner, ca);
    *out = c;
    return 0;
}

static int load_ranges(char *const *texts, size_t n, struct cg_cidr **out, size_t *n_out, struct cg_err *err)
{
    if (n == 0) return 0;
    CG_ENSURE(*out = cg_calloc(n, sizeof(**out)), CG_ENOMEM);
    for (; *n_out < n; (*n_out)++) CG_GUARD(cg_cidr_parse(texts[*n_out], &(*out)[*n_out], err));
    return 0;
}

static bool fingerprint_in(char *const *fps, size_t n, const char *fp)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(fps[i], fp) == 0) return true;
    return false;
}

/* A selection that names a certificate the bundle no longer holds (the bundle was replaced)
 * accepts nothing through it -- never "everything", which an empty selection means. */
static void warn_stale_selection(const char *profile, const struct cg_store_profile_ca *pc, char *const *have,
                                 size_t n_have)
{
    for (size_t i = 0; i < pc->n_fingerprints; i++)
        if (!fingerprint_in(have, n_have, pc->fingerprints[i]))
            CG_LOG_W("profile '%s': client CA '%s' holds no certificate with SHA-256 fingerprint %s (was the bundle "
                     "replaced?); no client certificate passes through that selection. Select a certificate of "
                     "the bundle: certgate profile set %s --client-ca %s@FINGERPRINT",
                     profile, pc->ca, pc->fingerprints[i], profile, pc->ca);
}

/* Appends to p->signers the selected certificates of one bundle (all of them when none is
 * selected), each with a reference of its own. p->signers has room for the whole bundle. */
static int add_signers(struct cg_snapshot_profile *p, STACK_OF(X509) *bundle, const struct cg_store_profile_ca *pc)
{
    int n = sk_X509_num(bundle);
    CG_AUTOFREE char **fps = cg_calloc((size_t)n + 1, sizeof(*fps));
    CG_AUTOFREE char *fp_text = cg_calloc((size_t)n + 1, 65);
    CG_ENSURE(fps && fp_text, CG_ENOMEM);
    for (int i = 0; i < n; i++) {
        X509 *x = sk_X509_value(bundle, i);
        struct cg_pki_facts f;
        CG_GUARD(cg_pki_facts_get(x, &f));
        fps[i] = fp_text + (size_t)i * 65;
        memcpy(fps[i], f.fingerprint, 65);
        cg_pki_facts_cleanup(&f);
        if (pc->n_fingerprints && !fingerprint_in(pc->fingerprints, pc->n_fingerprints, fps[i])) continue;
        CG_ENSURE(X509_up_ref(x) == 1, CG_ENOMEM);
        p->signers[p->n_signers++] = x;
    }
    warn_stale_selection(p->name, pc, fps, (size_t)n);
    return 0;
}

static int load_profile_cas(const struct cg_snapshot *s, const struct cg_store_profile *row,
                            struct cg_snapshot_profile *p, struct cg_err *err)
{
    if (row->n_cas == 0) return 0;
    CG_ENSURE(p->cas = cg_calloc(row->n_cas, sizeof(*p->cas)), CG_ENOMEM);
    char owner[300];
    snprintf(owner, sizeof(owner), "profile '%s'", row->name);
    size_t room = 0;
    for (size_t i = 0; i < row->n_cas; i++) {
        CG_GUARD(client_ca_index(s, owner, row->cas[i].ca, &p->cas[i], err));
        p->n_cas++;
        room += (size_t)sk_X509_num(s->certs[p->cas[i]].certs);
    }
    if (room == 0) return 0;
    CG_ENSURE(p->signers = cg_calloc(room, sizeof(*p->signers)), CG_ENOMEM);
    for (size_t i = 0; i < row->n_cas; i++) CG_GUARD(add_signers(p, s->certs[p->cas[i]].certs, &row->cas[i]));
    return 0;
}

static int load_profile(const struct cg_snapshot *s, const struct cg_store_profile *row, struct cg_snapshot_profile *p,
                        struct cg_err *err)
{
    CG_ENSURE(p->name = cg_strdup(row->name), CG_ENOMEM);
    int rc = load_ranges(row->allow_ips, row->n_allow_ips, &p->allow, &p->n_allow, err);
    if (rc == 0) rc = load_ranges(row->deny_ips, row->n_deny_ips, &p->deny, &p->n_deny, err);
    if (rc < 0 && rc != CG_ENOMEM) cg_err_prefix(err, "profile '%s'", row->name);
    if (rc == 0) rc = load_profile_cas(s, row, p, err);
    return rc;
}

/* For store rows whose first member is the name (profiles, sites). */
static int row_name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int load_profiles(struct cg_snapshot *s, struct cg_store_profile_list *rows, const char *env,
                         struct cg_err *err)
{
    if (rows->n == 0) return 0;
    /* ordered by strcmp whatever the backend's collation: profile_find searches by halves */
    qsort(rows->items, rows->n, sizeof(*rows->items), row_name_cmp);
    CG_ENSURE(s->profiles = cg_calloc(rows->n, sizeof(*s->profiles)), CG_ENOMEM);
    for (size_t i = 0; i < rows->n; i++) {
        const char *name = rows->items[i].name;
        s->n_profiles++;
        int rc = load_profile(s, &rows->items[i], &s->profiles[i], err);
        if (rc < 0)
            return named_row_refused(err, rc, "an access profile", "profile", name, env);
    }
    return 0;
}

/* ---- loading: sites and their rules ---- */

static int load_site(const struct cg_store_site *row, struct cg_snapshot_site *site, struct cg_err *err)
{
    CG_ENSURE(site->name = cg_strdup(row->name), CG_ENOMEM);
    int rc = cg_site_backend_parse(row->backend, &site->backend_host, &site->backend_port, err);
    if (rc < 0) return rc == CG_ENOMEM ? rc : cg_err_prefix(err, "site '%s'", row->name);
    if (row->mtls < CG_STORE_MTLS_OFF || row->mtls > CG_STORE_MTLS_REQUIRED)
        return cg_err_set(err, CG_EINVAL,
                          "site '%s' has mTLS mode %d, which is not off (0), optional (1) or required (2)", row->name,
                          row->mtls);
    site->mtls = (enum cg_mtls_mode)row->mtls;
    if (row->mtls_domain.host) CG_ENSURE(site->mtls_domain = cg_str_lower_dup(row->mtls_domain.host), CG_ENOMEM);
    return 0;
}

/* The rule target: a preset, or a profile of the snapshot. */
static int rule_target(const struct cg_snapshot *s, const struct cg_store_rule *row, int *out, struct cg_err *err)
{
    if (strcmp(row->profile, CG_STORE_PROFILE_ALLOW_ALL) == 0)
        *out = CG_PROFILE_ALLOW_ALL;
    else if (strcmp(row->profile, CG_STORE_PROFILE_DENY_ALL) == 0)
        *out = CG_PROFILE_DENY_ALL;
    else if ((*out = profile_find(s, row->profile)) < 0)
        return cg_err_set(err, CG_ESTORE, "site '%s': the rule for '%s' names profile '%s', which is not in the store",
                          row->site, row->path, row->profile);
    return 0;
}

/* A rule path is matched in its normalised form, the form request paths take (access.c), so
 * that a stored "/a//b" or "/%61pi" meets the requests meant. */
static int load_rule(const struct cg_snapshot *s, const struct cg_store_rule *row, struct cg_snapshot_rule *rule,
                     struct cg_err *err)
{
    size_t cap = strlen(row->path) + 2;
    CG_ENSURE(rule->path = cg_malloc(cap), CG_ENOMEM);
    const char *why = NULL;
    if (cg_site_path_normalize(cg_slice_str(row->path), rule->path, cap, &rule->path_len, &why) < 0)
        return cg_err_set(err, CG_EINVAL, "site '%s': the rule path '%s' is not usable: %s", row->site, row->path,
                          why);
    if (strcmp(rule->path, row->path) != 0)
        CG_LOG_W("site '%s': the rule path '%s' is matched as '%s', the form request paths take before matching "
                 "(decoded, '//' merged, ';parameters' dropped). Set the rule with that path: certgate site rule %s "
                 "'%s' %s",
                 row->site, row->path, rule->path, row->site, rule->path, row->profile);
    return rule_target(s, row, &rule->profile, err);
}

/* Longest path first, so that the first prefix found is the longest; equal paths (two stored
 * spellings of one path) by target, deny-all first. */
static int rule_cmp(const void *a, const void *b)
{
    const struct cg_snapshot_rule *x = a, *y = b;
    if (x->path_len != y->path_len) return x->path_len > y->path_len ? -1 : 1;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->profile > y->profile) - (x->profile < y->profile);
}

static const char *target_name(const struct cg_snapshot *s, int profile)
{
    if (profile == CG_PROFILE_ALLOW_ALL) return CG_STORE_PROFILE_ALLOW_ALL;
    if (profile == CG_PROFILE_DENY_ALL) return CG_STORE_PROFILE_DENY_ALL;
    return s->profiles[profile].name;
}

static void sort_rules(const struct cg_snapshot *s, struct cg_snapshot_site *site)
{
    if (site->n_rules == 0) return;
    qsort(site->rules, site->n_rules, sizeof(*site->rules), rule_cmp);
    for (size_t i = 1; i < site->n_rules; i++)
        if (strcmp(site->rules[i - 1].path, site->rules[i].path) == 0)
            CG_LOG_W("site '%s': two rules are the path '%s' once normalised; '%s' applies, '%s' never does. Remove "
                     "one: certgate site rule rm %s PATH",
                     site->name, site->rules[i].path, target_name(s, site->rules[i - 1].profile),
                     target_name(s, site->rules[i].profile), site->name);
}

/* Each site gets its rules (the store lists them by site and path, the sites are ordered by
 * strcmp here: a search per rule keeps this independent of the backend's collation). */
static int load_rules(struct cg_snapshot *s, const struct cg_store_rule_list *rows, const char *env,
                      struct cg_err *err)
{
    int *site_of = rows->n ? cg_calloc(rows->n, sizeof(*site_of)) : NULL;
    CG_ENSURE(site_of || rows->n == 0, CG_ENOMEM);
    size_t *room = cg_calloc(s->n_sites + 1, sizeof(*room));
    int rc = room ? 0 : CG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < rows->n; i++) {
        if ((site_of[i] = cg_snapshot_site_find(s, rows->items[i].site)) < 0)
            rc = cg_err_set(err, CG_ESTORE, "the rule for '%s' belongs to site '%s', which is not in the store",
                            rows->items[i].path, rows->items[i].site);
        else
            room[site_of[i]]++;
    }
    for (size_t i = 0; rc == 0 && i < s->n_sites; i++)
        if (room[i] && !(s->sites[i].rules = cg_calloc(room[i], sizeof(*s->sites[i].rules)))) rc = CG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < rows->n; i++) {
        struct cg_snapshot_site *site = &s->sites[site_of[i]];
        struct cg_snapshot_rule *rule = &site->rules[site->n_rules++];
        rc = load_rule(s, &rows->items[i], rule, err);
        if (rc < 0)
            rc = stored_row_refused(err, rc, "a path rule",
                                    "set it again: certgate site rule %s PATH PROFILE --env %s, or remove it: "
                                    "certgate site rule rm %s '%s' --env %s",
                                    site->name, env, site->name, rows->items[i].path, env);
    }
    for (size_t i = 0; rc == 0 && i < s->n_sites; i++) sort_rules(s, &s->sites[i]);
    cg_free(site_of);
    cg_free(room);
    return rc;
}

static void add_unique(int *items, size_t *n, int v)
{
    for (size_t i = 0; i < *n; i++)
        if (items[i] == v) return;
    items[(*n)++] = v;
}

/* What the handshake verifies client certificates against: the site's own client CAs and the
 * CAs of every profile its rules name, each once. */
static int site_client_cas(const struct cg_snapshot *s, const struct cg_store_site *row,
                           struct cg_snapshot_site *site, struct cg_err *err)
{
    size_t room = row->n_client_cas;
    for (size_t i = 0; i < site->n_rules; i++)
        if (site->rules[i].profile >= 0) room += s->profiles[site->rules[i].profile].n_cas;
    if (room == 0) return 0;
    CG_ENSURE(site->client_cas = cg_calloc(room, sizeof(*site->client_cas)), CG_ENOMEM);
    char owner[300];
    snprintf(owner, sizeof(owner), "site '%s'", row->name);
    for (size_t i = 0; i < row->n_client_cas; i++) {
        int c = -1;
        CG_GUARD(client_ca_index(s, owner, row->client_cas[i], &c, err));
        add_unique(site->client_cas, &site->n_client_cas, c);
    }
    for (size_t i = 0; i < site->n_rules; i++) {
        if (site->rules[i].profile < 0) continue;
        const struct cg_snapshot_profile *p = &s->profiles[site->rules[i].profile];
        for (size_t j = 0; j < p->n_cas; j++) add_unique(site->client_cas, &site->n_client_cas, p->cas[j]);
    }
    return 0;
}

static int load_sites(struct cg_snapshot *s, struct cg_store_site_list *rows, const struct cg_store_rule_list *rules,
                      const char *env, struct cg_err *err)
{
    if (rows->n == 0 && rules->n == 0) return 0;
    qsort(rows->items, rows->n, sizeof(*rows->items), row_name_cmp); /* cg_snapshot_site_find searches by halves */
    if (rows->n) CG_ENSURE(s->sites = cg_calloc(rows->n, sizeof(*s->sites)), CG_ENOMEM);
    for (size_t i = 0; i < rows->n; i++) {
        const char *name = rows->items[i].name;
        s->n_sites++;
        int rc = load_site(&rows->items[i], &s->sites[i], err);
        if (rc < 0)
            return named_row_refused(err, rc, "a site", "site", name, env);
    }
    CG_GUARD(load_rules(s, rules, env, err));
    for (size_t i = 0; i < rows->n; i++) CG_GUARD(site_client_cas(s, &rows->items[i], &s->sites[i], err));
    return 0;
}

/* ---- loading: domains and their server certificates ---- */

/* The SANs and expiry of every server certificate, read once per load for the domains that
 * choose their certificate automatically. */
struct server_facts {
    int cert;
    struct cg_pki_facts f;
};

struct domain_ctx {
    struct server_facts *servers;
    size_t n_servers;
    bool read;
};

static void domain_ctx_cleanup(struct domain_ctx *d)
{
    for (size_t i = 0; i < d->n_servers; i++) cg_pki_facts_cleanup(&d->servers[i].f);
    cg_free(d->servers);
}

static int servers_read(const struct cg_snapshot *s, struct domain_ctx *d)
{
    if (d->read) return 0;
    d->read = true;
    if (s->n_certs == 0) return 0;
    CG_ENSURE(d->servers = cg_calloc(s->n_certs, sizeof(*d->servers)), CG_ENOMEM);
    for (size_t i = 0; i < s->n_certs; i++) {
        if (s->certs[i].kind != CG_CERT_SERVER || !s->certs[i].leaf) continue;
        struct server_facts *sf = &d->servers[d->n_servers];
        CG_GUARD(cg_pki_facts_get(s->certs[i].leaf, &sf->f));
        sf->cert = (int)i;
        d->n_servers++;
    }
    return 0;
}

static const struct server_facts *server_named(const struct domain_ctx *d, int cert)
{
    for (size_t i = 0; i < d->n_servers; i++)
        if (d->servers[i].cert == cert) return &d->servers[i];
    return NULL;
}

/* The server certificate that covers host and is valid longest; -1 when none does. */
static int server_for(const struct domain_ctx *d, const char *host)
{
    const struct server_facts *best = NULL;
    for (size_t i = 0; i < d->n_servers; i++)
        if (cg_pki_sans_cover(&d->servers[i].f.sans, host) && (!best || d->servers[i].f.not_after > best->f.not_after))
            best = &d->servers[i];
    return best ? best->cert : -1;
}

static int domain_cert(const struct cg_snapshot *s, struct domain_ctx *d, const char *site, const char *host,
                       const char *cert_name, int *out, struct cg_err *err)
{
    CG_GUARD(servers_read(s, d));
    if (!cert_name) {
        if ((*out = server_for(d, host)) < 0)
            CG_LOG_W("site '%s': no server certificate covers '%s', so TLS handshakes for it are refused. Add one "
                     "whose SANs name it: certgate cert add NAME FILE --kind server",
                     site, host);
        return 0;
    }
    int c = cg_snapshot_cert_find(s, cert_name);
    if (c < 0 || s->certs[c].kind != CG_CERT_SERVER)
        return cg_err_set(err, CG_ESTORE, "site '%s' presents '%s' for '%s', which is not a server certificate in the "
                                          "store",
                          site, cert_name, host);
    const struct server_facts *sf = server_named(d, c);
    if (sf && !cg_pki_sans_cover(&sf->f.sans, host))
        CG_LOG_W("site '%s': server certificate '%s' does not name '%s' among its SANs, so clients will refuse it. "
                 "Replace it with one that does: certgate cert add %s FILE --kind server --replace",
                 site, cert_name, host, cert_name);
    *out = c;
    return 0;
}

static int add_domain(struct cg_snapshot *s, struct domain_ctx *d, int site, const struct cg_store_site_domain *row,
                      bool mtls_domain, struct cg_err *err)
{
    struct cg_snapshot_domain *dom = &s->domains[s->n_domains];
    CG_ENSURE(dom->host = cg_str_lower_dup(row->host), CG_ENOMEM);
    s->n_domains++;
    dom->site = site;
    dom->mtls_domain = mtls_domain;
    return domain_cert(s, d, s->sites[site].name, dom->host, row->cert_name, &dom->cert, err);
}

static int domain_cmp(const void *a, const void *b)
{
    return strcmp(((const struct cg_snapshot_domain *)a)->host, ((const struct cg_snapshot_domain *)b)->host);
}

/* Sorted by host for cg_snapshot_domain_find; a host twice would make the answer depend on the
 * sort, so it fails the load (the store lets a host belong to one site only). */
static int sort_domains(struct cg_snapshot *s, const char *env, struct cg_err *err)
{
    qsort(s->domains, s->n_domains, sizeof(*s->domains), domain_cmp);
    for (size_t i = 1; i < s->n_domains; i++) {
        const struct cg_snapshot_domain *a = &s->domains[i - 1], *b = &s->domains[i];
        if (strcmp(a->host, b->host) != 0) continue;
        cg_err_set(err, CG_ESTORE, "the store gives host '%s' to %s '%s' and '%s'", a->host,
                   a->site == b->site ? "site" : "sites", s->sites[a->site].name, s->sites[b->site].name);
        return cg_err_hint_code(err, CG_ESTORE, "a host belongs to one site: change one of them with certgate site "
                                                "set SITE --domain HOST... --env %s",
                                env);
    }
    return 0;
}

static int load_domains(struct cg_snapshot *s, const struct cg_store_site_list *rows, const char *env,
                        struct cg_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < rows->n; i++) total += rows->items[i].n_domains + (rows->items[i].mtls_domain.host != NULL);
    if (total == 0) return 0;
    CG_ENSURE(s->domains = cg_calloc(total, sizeof(*s->domains)), CG_ENOMEM);
    struct domain_ctx d = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < rows->n; i++) {
        const struct cg_store_site *row = &rows->items[i];
        for (size_t j = 0; rc == 0 && j < row->n_domains; j++)
            rc = add_domain(s, &d, (int)i, &row->domains[j], false, err);
        if (rc == 0 && row->mtls_domain.host) rc = add_domain(s, &d, (int)i, &row->mtls_domain, true, err);
    }
    domain_ctx_cleanup(&d);
    return rc < 0 ? rc : sort_domains(s, env, err);
}

/* ---- loading: webhooks ---- */

/* The URL by the rules its writer applied (https, host, port, path: config/upstream.h), and the
 * path the POST goes to as the URL writes it (a trailing '/' is the receiver's business). */
static int webhook_url(const struct cg_store_webhook *row, struct cg_snapshot_webhook *w, struct cg_err *err)
{
    CG_ENSURE(w->url = cg_strdup(row->url), CG_ENOMEM);
    struct cg_upstream_url url;
    CG_GUARD(cg_config_webhook_url_parse(row->name, row->url, &url, err));
    w->host = url.host;
    w->port = url.port;
    url.host = NULL;
    cg_config_upstream_url_cleanup(&url);
    const char *p = strstr(row->url, "://") + 3; /* the parser found it */
    p += strcspn(p, "/");
    CG_ENSURE(w->path = cg_strdup(*p ? p : "/"), CG_ENOMEM);
    return 0;
}

static int webhook_cert(const struct cg_snapshot *s, const char *webhook, const char *name, enum cg_cert_kind kind,
                        int *out, struct cg_err *err)
{
    int c = cg_snapshot_cert_find(s, name);
    if (c < 0 || s->certs[c].kind != kind)
        return cg_err_set(err, CG_ESTORE, "webhook '%s' names '%s', which is not a %s in the store", webhook, name,
                          kind == CG_CERT_CA ? "CA bundle" : "client certificate");
    *out = c;
    return 0;
}

/* The HMAC secret, unsealed with the master key (its AAD is the webhook's id); without a master
 * key (the CLI's checks) it stays sealed and the webhook looks unsigned. */
static int webhook_secret(const struct cg_store_webhook *row, const uint8_t *master, struct cg_snapshot_webhook *w,
                          struct cg_err *err)
{
    if (!row->secret_blob || !master) return 0;
    struct cg_buf plain;
    cg_buf_init_secret(&plain, 4096);
    int rc = cg_pki_secret_unseal(master, cg_slice_str(row->id), cg_slice_make(row->secret_blob, row->secret_blob_len),
                                  &plain, err);
    if (rc == 0 && plain.len == 0) rc = cg_err_set(err, CG_ESTORE, "the secret is empty");
    if (rc < 0) {
        cg_buf_cleanup(&plain);
        return rc == CG_ENOMEM ? rc : cg_err_prefix(err, "webhook '%s': its secret", row->name);
    }
    w->secret = cg_buf_steal(&plain, &w->secret_len);
    return 0;
}

static int load_webhook(const struct cg_snapshot *s, const struct cg_store_webhook *row, const uint8_t *master,
                        struct cg_snapshot_webhook *w, struct cg_err *err)
{
    CG_ENSURE(w->name = cg_strdup(row->name), CG_ENOMEM);
    CG_GUARD(webhook_url(row, w, err));
    CG_GUARD(webhook_cert(s, row->name, row->client_cert ? row->client_cert : "", CG_CERT_CLIENT, &w->cert, err));
    w->ca = -1;
    if (row->ca) CG_GUARD(webhook_cert(s, row->name, row->ca, CG_CERT_CA, &w->ca, err));
    w->ca_only = row->trust == CG_WEBHOOK_TRUST_CA_ONLY;
    if (w->ca_only && w->ca < 0)
        return cg_err_set(err, CG_ESTORE, "webhook '%s' trusts its ca only, but names no ca", row->name);
    if (row->n_events) CG_ENSURE(w->events = cg_calloc(row->n_events, sizeof(*w->events)), CG_ENOMEM);
    for (; w->n_events < row->n_events; w->n_events++)
        CG_ENSURE(w->events[w->n_events] = cg_strdup(row->events[w->n_events]), CG_ENOMEM);
    w->disabled = row->disabled;
    return webhook_secret(row, master, w, err);
}

static int webhook_cmp(const void *a, const void *b)
{
    return strcmp(((const struct cg_snapshot_webhook *)a)->name, ((const struct cg_snapshot_webhook *)b)->name);
}

static int load_webhooks(struct cg_snapshot *s, const struct cg_store_webhook_list *rows, const uint8_t *master,
                         const char *env, struct cg_err *err)
{
    if (rows->n == 0) return 0;
    CG_ENSURE(s->webhooks = cg_calloc(rows->n, sizeof(*s->webhooks)), CG_ENOMEM);
    for (size_t i = 0; i < rows->n; i++) {
        s->n_webhooks++;
        int rc = load_webhook(s, &rows->items[i], master, &s->webhooks[i], err);
        if (rc < 0) return named_row_refused(err, rc, "a webhook", "webhook", rows->items[i].name, env);
    }
    /* ordered by strcmp whatever the backend's collation: cg_snapshot_webhook_find searches by halves */
    qsort(s->webhooks, s->n_webhooks, sizeof(*s->webhooks), webhook_cmp);
    return 0;
}

/* ---- the load ---- */

struct rows {
    struct cg_store_cert_list certs;
    struct cg_store_pin_list pins;
    struct cg_store_upstream_list ups;
    struct cg_store_profile_list profiles;
    struct cg_store_site_list sites;
    struct cg_store_rule_list rules;
    struct cg_store_webhook_list webhooks;
};

static void rows_cleanup(struct rows *r)
{
    cg_store_cert_list_cleanup(&r->certs);
    cg_store_pin_list_cleanup(&r->pins);
    cg_store_upstream_list_cleanup(&r->ups);
    cg_store_profile_list_cleanup(&r->profiles);
    cg_store_site_list_cleanup(&r->sites);
    cg_store_rule_list_cleanup(&r->rules);
    cg_store_webhook_list_cleanup(&r->webhooks);
}

/* One read transaction: the revision matches the objects read. */
static int rows_read(struct cg_store *store, const char *env, uint64_t *revision, struct rows *r, struct cg_err *err)
{
    CG_GUARD(cg_store_begin(store, err));
    int rc = cg_store_revision(store, env, revision, err);
    if (rc == 0) rc = cg_store_cert_list(store, env, &r->certs, err);
    if (rc == 0) rc = cg_store_pin_list(store, env, &r->pins, err);
    if (rc == 0) rc = cg_store_upstream_list(store, env, &r->ups, err);
    if (rc == 0) rc = cg_store_profile_list(store, env, &r->profiles, err);
    if (rc == 0) rc = cg_store_site_list(store, env, &r->sites, err);
    if (rc == 0) rc = cg_store_rule_list(store, env, NULL, &r->rules, err);
    if (rc == 0) rc = cg_store_webhook_list(store, env, &r->webhooks, err);
    /* Read only, yet a commit when it worked: inside a caller's transaction a rollback would
     * doom the caller's changes (store.h: transactions nest). */
    if (rc == 0) rc = cg_store_commit(store, err);
    else cg_store_rollback(store);
    return rc;
}

static int build(struct cg_snapshot *s, struct rows *r, const char *env, const uint8_t *master, struct cg_err *err)
{
    CG_GUARD(load_certs(s, &r->certs, master, err));
    CG_GUARD(load_pins(s, &r->pins, err));
    CG_GUARD(load_upstreams(s, &r->ups, env, err));
    CG_GUARD(load_profiles(s, &r->profiles, env, err));
    CG_GUARD(load_sites(s, &r->sites, &r->rules, env, err));
    CG_GUARD(load_domains(s, &r->sites, env, err));
    return load_webhooks(s, &r->webhooks, master, env, err);
}

int cg_snapshot_load(struct cg_store *store, const char *env, const uint8_t *master,
                     struct cg_snapshot **out, struct cg_err *err)
{
    struct cg_snapshot *s = cg_calloc(1, sizeof(*s));
    CG_ENSURE(s, CG_ENOMEM);
    atomic_init(&s->refs, 1);
    struct rows r = {0};
    int rc = CG_ENOMEM;
    if ((s->env = cg_strdup(env)) && (s->pins = cg_pin_table_new()) &&
        (rc = rows_read(store, env, &s->revision, &r, err)) == 0)
        rc = build(s, &r, env, master, err);
    rows_cleanup(&r);
    if (rc < 0) {
        cg_snapshot_unref(s);
        return rc;
    }
    *out = s;
    return 0;
}
