/* certgate site add|set|list|show|rm and site rule: ingress applications (SPEC.md section 1,
 * "Site" and "Path rule").
 *
 * Every value is checked and normalised here with the functions the snapshot applies when the
 * daemon loads the site (config/site.h). What needs the store -- a domain's server certificate
 * covers the host, or some server certificate does when none is named -- is checked in the
 * transaction that stores the site; the store then checks the rest (the certificates exist and
 * are of the right kind, a host belongs to one site). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/certops.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "config/site.h"
#include "core/mem.h"
#include "core/str.h"

static const char *const mtls_names[] = {"off", "optional", "required"};

static int oom(struct cg_err *err) { return cg_err_set(err, CG_ENOMEM, "out of memory"); }

static const char *mtls_name(int m) { return m >= 0 && m <= CG_STORE_MTLS_REQUIRED ? mtls_names[m] : "unknown"; }

/* ---- values ------------------------------------------------------------------------------- */

static void domain_clear(struct cg_store_site_domain *d)
{
    cg_free(d->host);
    cg_free(d->cert_name);
    d->host = d->cert_name = NULL;
}

static void domains_clear(struct cg_store_site *s)
{
    for (size_t i = 0; i < s->n_domains; i++) domain_clear(&s->domains[i]);
    cg_free(s->domains);
    s->domains = NULL;
    s->n_domains = 0;
}

/* "HOST" or "HOST=CERT" into d: the host normalised, CERT a certificate name. */
static int domain_parse(const char *site, const char *opt, const char *value, struct cg_store_site_domain *d,
                        struct cg_err *err)
{
    const char *eq = strchr(value, '=');
    char *host = eq ? cg_strndup(value, (size_t)(eq - value)) : cg_strdup(value);
    if (!host) return oom(err);
    int rc = cg_site_host_normalize(host, &d->host, err);
    cg_free(host);
    if (rc < 0) return cg_err_prefix(err, "site '%s': --%s", site, opt);
    if (!eq) return 0;
    if (!eq[1]) {
        cg_err_set(err, CG_EUSAGE, "site '%s': --%s %s names no certificate after '='", site, opt, value);
        return cg_err_hint(err, "write HOST=SERVER_CERT, or HOST alone to choose the certificate by its SANs");
    }
    if (cg_cli_name_check("certificate", eq + 1, err) < 0) return cg_err_prefix(err, "site '%s': --%s", site, opt);
    return (d->cert_name = cg_strdup(eq + 1)) ? 0 : oom(err);
}

static int domains_apply(const struct cg_cli_args *a, struct cg_store_site *s, struct cg_err *err)
{
    const char *v[CG_CLI_MAX_OPTS];
    int n = cg_cli_opt_all(a, "domain", v, CG_CLI_MAX_OPTS);
    domains_clear(s);
    if (!(s->domains = cg_calloc((size_t)n, sizeof(*s->domains)))) return oom(err);
    for (int i = 0; i < n; i++) {
        struct cg_store_site_domain *d = &s->domains[s->n_domains++];
        CG_GUARD(domain_parse(s->name, "domain", v[i], d, err));
        for (size_t j = 0; j + 1 < s->n_domains; j++)
            if (!strcmp(s->domains[j].host, d->host)) {
                cg_err_set(err, CG_EUSAGE, "site '%s': --domain %s is given twice", s->name, d->host);
                return cg_err_hint(err, "give each host once");
            }
    }
    return 0;
}

static int client_cas_apply(const struct cg_cli_args *a, struct cg_store_site *s, struct cg_err *err)
{
    const char *v[CG_CLI_MAX_OPTS];
    int n = cg_cli_opt_all(a, "client-ca", v, CG_CLI_MAX_OPTS);
    for (size_t i = 0; i < s->n_client_cas; i++) cg_free(s->client_cas[i]);
    cg_free(s->client_cas);
    s->client_cas = NULL;
    s->n_client_cas = 0;
    if (n == 0) return 0;
    if (!(s->client_cas = cg_calloc((size_t)n, sizeof(*s->client_cas)))) return oom(err);
    for (int i = 0; i < n; i++) {
        if (cg_cli_name_check("CA bundle", v[i], err) < 0) return cg_err_prefix(err, "site '%s': --client-ca", s->name);
        for (int j = 0; j < i; j++)
            if (!strcmp(v[i], v[j])) {
                cg_err_set(err, CG_EUSAGE, "site '%s': --client-ca %s is given twice", s->name, v[i]);
                return cg_err_hint(err, "give each CA bundle once");
            }
        if (!(s->client_cas[s->n_client_cas++] = cg_strdup(v[i]))) return oom(err);
    }
    return 0;
}

/* The backend in canonical form: http://host:port, IPv6 in brackets, host lowercase. */
static int backend_apply(const char *site, const char *url, char **out, struct cg_err *err)
{
    char *host = NULL;
    uint16_t port = 0;
    if (cg_site_backend_parse(url, &host, &port, err) < 0) return cg_err_prefix(err, "site '%s'", site);
    char canon[600];
    snprintf(canon, sizeof(canon), strchr(host, ':') ? "http://[%s]:%u" : "http://%s:%u", host, port);
    cg_free(host);
    char *copy = cg_strdup(canon);
    if (!copy) return oom(err);
    cg_free(*out);
    *out = copy;
    return 0;
}

static int mtls_parse(const char *site, const char *v, int *out, struct cg_err *err)
{
    for (int i = 0; i <= CG_STORE_MTLS_REQUIRED; i++)
        if (!strcasecmp(v, mtls_names[i])) {
            *out = i;
            return 0;
        }
    cg_err_set(err, CG_EUSAGE, "site '%s': --mtls must be off, optional or required, not '%s'", site, v);
    return cg_err_hint(err, "off: no client certificate asked; optional: asked, and a given one must be valid; "
                            "required: no valid certificate, no connection");
}

/* Applies the options of add/set to s (whose name is set): lists given replace the stored ones. */
static int apply_opts(const struct cg_cli_args *a, struct cg_store_site *s, struct cg_err *err)
{
    CG_GUARD(cg_cli_opts_exclusive(a, "mtls-domain", "no-mtls-domain", err));
    CG_GUARD(cg_cli_opts_exclusive(a, "client-ca", "no-client-ca", err));
    const char *v;
    if ((v = cg_cli_opt(a, "backend"))) CG_GUARD(backend_apply(s->name, v, &s->backend, err));
    if ((v = cg_cli_opt(a, "mtls"))) CG_GUARD(mtls_parse(s->name, v, &s->mtls, err));
    if (cg_cli_flag(a, "domain")) CG_GUARD(domains_apply(a, s, err));
    if ((v = cg_cli_opt(a, "mtls-domain"))) {
        domain_clear(&s->mtls_domain);
        CG_GUARD(domain_parse(s->name, "mtls-domain", v, &s->mtls_domain, err));
    }
    if (cg_cli_flag(a, "no-mtls-domain")) domain_clear(&s->mtls_domain);
    if (cg_cli_flag(a, "client-ca") || cg_cli_flag(a, "no-client-ca")) CG_GUARD(client_cas_apply(a, s, err));
    for (size_t i = 0; i < s->n_domains; i++)
        if (s->mtls_domain.host && !strcmp(s->domains[i].host, s->mtls_domain.host)) {
            cg_err_set(err, CG_EUSAGE, "site '%s': %s is both a domain and the mTLS domain", s->name,
                       s->mtls_domain.host);
            return cg_err_hint(err, "the mTLS domain is a host of its own (always mTLS required): give another "
                                    "host to --mtls-domain");
        }
    if (!s->n_domains) {
        cg_err_set(err, CG_EUSAGE, "site '%s' has no domain", s->name);
        return cg_err_hint(err, "give at least one --domain HOST[=SERVER_CERT]: the host names clients reach it on");
    }
    return 0;
}

/* ---- server certificates ------------------------------------------------------------------ */

/* The DNS names of the leaf of each server certificate of the environment. */
struct server_cert {
    const char *name;
    struct cg_pki_facts facts;
};

struct server_certs {
    struct cg_store_cert_list rows;
    struct server_cert *items;
    size_t n;
};

static void server_certs_cleanup(struct server_certs *sc)
{
    for (size_t i = 0; i < sc->n; i++) cg_pki_facts_cleanup(&sc->items[i].facts);
    cg_free(sc->items);
    cg_store_cert_list_cleanup(&sc->rows);
    memset(sc, 0, sizeof(*sc));
}

static int server_certs_load(struct cg_cli *cli, struct server_certs *sc, struct cg_err *err)
{
    memset(sc, 0, sizeof(*sc));
    CG_GUARD(cg_store_cert_list(cli->store, cli->env, &sc->rows, err));
    if (!sc->rows.n) return 0;
    if (!(sc->items = cg_calloc(sc->rows.n, sizeof(*sc->items)))) return oom(err);
    for (size_t i = 0; i < sc->rows.n; i++) {
        const struct cg_store_cert *row = &sc->rows.items[i];
        if (row->kind != CG_STORE_SERVER) continue;
        STACK_OF(X509) *certs = NULL;
        int rc = cg_pki_certs_from_pem(cg_slice_str(row->cert_pem), &certs, err);
        if (rc == 0 && sk_X509_num(certs) == 0) rc = cg_err_set(err, CG_EFORMAT, "it holds no certificate");
        if (rc == 0) rc = cg_pki_facts_get(sk_X509_value(certs, 0), &sc->items[sc->n].facts);
        sk_X509_pop_free(certs, X509_free);
        if (rc < 0) return cg_err_prefix(err, "server certificate '%s' in the store", row->name);
        sc->items[sc->n++].name = row->name;
    }
    return 0;
}

static bool cert_covers(const struct server_cert *c, const char *host) { return cg_cli_sans_cover(&c->facts, host); }

static const struct server_cert *server_cert_find(const struct server_certs *sc, const char *name)
{
    for (size_t i = 0; i < sc->n; i++)
        if (!strcmp(sc->items[i].name, name)) return &sc->items[i];
    return NULL;
}

/* The domain's certificate covers its host; with none named, some server certificate does. A
 * named certificate that is missing or of another kind is left to the store's refusal. */
static int domain_cert_check(const char *env, const char *site, const struct cg_store_site_domain *d,
                             const struct server_certs *sc, struct cg_err *err)
{
    if (d->cert_name) {
        const struct server_cert *c = server_cert_find(sc, d->cert_name);
        if (!c || cert_covers(c, d->host)) return 0;
        char names[CG_ERR_MSG_MAX / 2] = "";
        for (size_t i = 0, used = 0; i < c->facts.sans.n && used < sizeof(names); i++) {
            int w = snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "", c->facts.sans.items[i]);
            if (w < 0) break;
            used += (size_t)w;
        }
        cg_err_set(err, CG_EINVAL, "site '%s': server certificate '%s' does not cover domain '%s': its names are %s",
                   site, d->cert_name, d->host, names[0] ? names : "none (it has no subjectAltName)");
        return cg_err_hint(err, "name a server certificate whose SANs hold %s, or write --domain %s alone to choose "
                                "one by its SANs",
                           d->host, d->host);
    }
    for (size_t i = 0; i < sc->n; i++)
        if (cert_covers(&sc->items[i], d->host)) return 0;
    cg_err_set(err, CG_ENOTFOUND, "site '%s': no server certificate of environment '%s' covers domain '%s' (%zu "
                                  "server certificate%s, none with that name in its SANs)",
               site, env, d->host, sc->n, sc->n == 1 ? "" : "s");
    return cg_err_hint(err, "add one first: certgate cert add NAME FILE --kind server (its SANs must name %s)", d->host);
}

static int site_certs_check(struct cg_cli *cli, const struct cg_store_site *s, struct cg_err *err)
{
    struct server_certs sc;
    int rc = server_certs_load(cli, &sc, err);
    for (size_t i = 0; rc == 0 && i < s->n_domains; i++) rc = domain_cert_check(cli->env, s->name, &s->domains[i], &sc, err);
    if (rc == 0 && s->mtls_domain.host) rc = domain_cert_check(cli->env, s->name, &s->mtls_domain, &sc, err);
    server_certs_cleanup(&sc);
    return rc;
}

/* Whether s asks for client certificates but can verify none (no CA of its own, none in the
 * profiles its rules name): it is stored, with a warning. */
static int no_ca_check(struct cg_cli *cli, const struct cg_store_site *s, bool *out, struct cg_err *err)
{
    *out = false;
    if ((s->mtls == CG_STORE_MTLS_OFF && !s->mtls_domain.host) || s->n_client_cas) return 0;
    struct cg_store_rule_list rules = {0};
    CG_GUARD(cg_store_rule_list(cli->store, cli->env, s->name, &rules, err));
    bool any = false;
    int rc = 0;
    for (size_t i = 0; rc == 0 && !any && i < rules.n; i++) {
        const char *prof = rules.items[i].profile;
        if (!strcmp(prof, CG_STORE_PROFILE_ALLOW_ALL) || !strcmp(prof, CG_STORE_PROFILE_DENY_ALL)) continue;
        struct cg_store_profile p = {0};
        rc = cg_store_profile_get(cli->store, cli->env, prof, &p, err);
        any = rc == 0 && p.n_cas > 0;
        cg_store_profile_cleanup(&p);
    }
    cg_store_rule_list_cleanup(&rules);
    *out = rc == 0 && !any;
    return rc;
}

static void no_ca_warn(const struct cg_cli *cli, const struct cg_store_site *s)
{
    cg_cli_warn(cli,
            "site '%s' %s, but no client CA is given (the site's --client-ca, or the --client-ca of a "
            "profile its rules name): no client certificate can pass until one is\n",
            s->name, s->mtls_domain.host && s->mtls == CG_STORE_MTLS_OFF ? "has an mTLS domain"
                     : s->mtls == CG_STORE_MTLS_REQUIRED                 ? "requires client certificates"
                                                                          : "asks for client certificates");
}

static void saved_line(const struct cg_cli *cli, const char *verb, const struct cg_store_site *s)
{
    cg_cli_say(cli, "%s site '%s' -> %s (mtls %s, %zu domain%s%s%s)\n", verb, s->name, s->backend, mtls_name(s->mtls),
           s->n_domains, s->n_domains == 1 ? "" : "s", s->mtls_domain.host ? ", mTLS domain " : "",
           s->mtls_domain.host ? s->mtls_domain.host : "");
}

/* Checks and stores s inside the open transaction, then commits (or rolls back). */
static int site_store(struct cg_cli *cli, const struct cg_store_site *s, bool replace, struct cg_err *err)
{
    bool warn = false;
    int rc = site_certs_check(cli, s, err);
    if (rc == 0) rc = cg_store_site_put(cli->store, cli->env, s, replace, err);
    if (rc == 0) rc = no_ca_check(cli, s, &warn, err);
    if (rc == 0) rc = cg_store_commit(cli->store, err);
    else cg_store_rollback(cli->store);
    if (rc == 0 && warn) no_ca_warn(cli, s);
    return rc;
}

/* ---- add, set, rm ------------------------------------------------------------------------- */

static const struct cg_cli_opt add_opts[] = {
    {"backend", true, false},     {"domain", true, true}, {"mtls-domain", true, false}, {"mtls", true, false},
    {"client-ca", true, true},    {"replace", false, false}, {NULL, false, false},
};

static int run_add(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    const char *name = a->pos[0];
    CG_GUARD(cg_cli_name_check("site", name, err));
    if (!cg_cli_flag(a, "backend")) {
        cg_err_set(err, CG_EUSAGE, "site '%s' needs a backend", name);
        return cg_err_hint(err, "give the application's address: --backend http://127.0.0.1:8080");
    }
    struct cg_store_site s = {0};
    int rc = (s.name = cg_strdup(name)) ? 0 : oom(err);
    if (rc == 0) rc = apply_opts(a, &s, err);
    if (rc == 0) rc = cg_cli_store(cli, false, err);
    if (rc == 0) rc = cg_store_begin(cli->store, err);
    bool replace = cg_cli_flag(a, "replace");
    if (rc == 0) rc = site_store(cli, &s, replace, err);
    if (rc == 0) saved_line(cli, replace ? "stored" : "added", &s);
    cg_store_site_cleanup(&s);
    return rc;
}

static const struct cg_cli_opt set_opts[] = {
    {"backend", true, false},   {"domain", true, true},       {"mtls-domain", true, false},
    {"no-mtls-domain", false, false}, {"mtls", true, false},  {"client-ca", true, true},
    {"no-client-ca", false, false}, {NULL, false, false},
};

static int run_set(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    const char *name = a->pos[0];
    if (a->n_opts == 0) {
        cg_err_set(err, CG_EUSAGE, "site '%s': nothing to set", name);
        return cg_err_hint(err, "give at least one of --backend, --domain, --mtls-domain, --no-mtls-domain, --mtls, "
                                "--client-ca, --no-client-ca");
    }
    CG_GUARD(cg_cli_store(cli, false, err));
    /* read, change and write in one transaction: a concurrent change is not lost */
    CG_GUARD(cg_store_begin(cli->store, err));
    struct cg_store_site s = {0};
    int rc = cg_store_site_get(cli->store, cli->env, name, &s, err);
    if (rc == 0) rc = apply_opts(a, &s, err);
    if (rc == 0) rc = site_store(cli, &s, true, err);
    else cg_store_rollback(cli->store);
    if (rc == 0) saved_line(cli, "changed", &s);
    cg_store_site_cleanup(&s);
    return rc;
}

static int run_rm(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    CG_GUARD(cg_store_site_delete(cli->store, cli->env, a->pos[0], err));
    cg_cli_say(cli, "removed site '%s' (and its rules)\n", a->pos[0]);
    return 0;
}

/* ---- rules -------------------------------------------------------------------------------- */

/* site rule SITE PATH PROFILE, or site rule rm SITE PATH: a site name never starts with '/', so
 * "rm" followed by something that is not a path is the removal. */
static int run_rule(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    bool rm = !strcmp(a->pos[0], "rm") && a->pos[1][0] != '/';
    const char *site = rm ? a->pos[1] : a->pos[0], *path = rm ? a->pos[2] : a->pos[1];
    if (cg_site_path_check(path, err) < 0) return cg_err_prefix(err, "site '%s'", site);
    CG_GUARD(cg_cli_store(cli, false, err));
    if (rm) {
        CG_GUARD(cg_store_rule_delete(cli->store, cli->env, site, path, err));
        cg_cli_say(cli, "removed rule %s of site '%s'\n", path, site);
        return 0;
    }
    struct cg_store_rule r = {(char *)site, (char *)path, (char *)a->pos[2]};
    CG_GUARD(cg_store_begin(cli->store, err));
    struct cg_store_site s = {0};
    bool warn = false;
    int rc = cg_store_rule_put(cli->store, cli->env, &r, err);
    if (rc == 0) rc = cg_store_site_get(cli->store, cli->env, site, &s, err);
    if (rc == 0) rc = no_ca_check(cli, &s, &warn, err);
    if (rc == 0) rc = cg_store_commit(cli->store, err);
    else cg_store_rollback(cli->store);
    if (rc == 0) cg_cli_say(cli, "site '%s': %s -> %s\n", site, path, r.profile);
    if (rc == 0 && warn) no_ca_warn(cli, &s);
    cg_store_site_cleanup(&s);
    return rc;
}

/* The site a `site rule` command changes (the audit trail records the whole site). */
static const char *rule_site(const struct cg_cli_args *a)
{
    return !strcmp(a->pos[0], "rm") && a->pos[1][0] != '/' ? a->pos[1] : a->pos[0];
}

/* ---- list and show ------------------------------------------------------------------------ */

static json_t *domain_json(const struct cg_store_site_domain *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "host", json_string(d->host));
    json_object_set_new(o, "cert", cg_json_str_or_null(d->cert_name));
    return o;
}

/* The JSON object documented in docs/cli.md; rules: the environment's (those of s are listed). */
static json_t *view_json(const struct cg_store_site *s, const struct cg_store_rule_list *rules)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(s->name));
    json_object_set_new(o, "backend", json_string(s->backend));
    json_object_set_new(o, "mtls", json_string(mtls_name(s->mtls)));
    json_t *doms = json_array();
    for (size_t i = 0; i < s->n_domains; i++) json_array_append_new(doms, domain_json(&s->domains[i]));
    json_object_set_new(o, "domains", doms);
    json_object_set_new(o, "mtls_domain", s->mtls_domain.host ? domain_json(&s->mtls_domain) : json_null());
    json_t *cas = json_array();
    for (size_t i = 0; i < s->n_client_cas; i++) json_array_append_new(cas, json_string(s->client_cas[i]));
    json_object_set_new(o, "client_cas", cas);
    json_t *rs = json_array();
    for (size_t i = 0; i < rules->n; i++) {
        if (strcmp(rules->items[i].site, s->name) != 0) continue;
        json_t *r = json_object();
        json_object_set_new(r, "path", json_string(rules->items[i].path));
        json_object_set_new(r, "profile", json_string(rules->items[i].profile));
        json_array_append_new(rs, r);
    }
    json_object_set_new(o, "rules", rs);
    return o;
}

static void domain_text(const struct cg_store_site_domain *d, char *out, size_t n)
{
    if (d->cert_name) snprintf(out, n, "%s=%s", d->host, d->cert_name);
    else snprintf(out, n, "%s", d->host);
}

static int run_list(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_UNUSED(a);
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_site_list sites = {0};
    struct cg_store_rule_list rules = {0};
    int rc = cg_store_site_list(cli->store, cli->env, &sites, err);
    if (rc == 0) rc = cg_store_rule_list(cli->store, cli->env, NULL, &rules, err);
    json_t *arr = json_array();
    static const char *head[] = {"NAME", "BACKEND", "MTLS", "DOMAINS", "MTLS DOMAIN", "CLIENT CAS", "RULES"};
    struct cg_table t;
    cg_table_init(&t, 7, head);
    for (size_t i = 0; rc == 0 && i < sites.n; i++) {
        const struct cg_store_site *s = &sites.items[i];
        if (cli->json) {
            json_array_append_new(arr, view_json(s, &rules));
            continue;
        }
        char doms[1024] = "", mdom[300] = "", cas[512] = "", nrules[24];
        size_t used = 0, nr = 0;
        for (size_t j = 0; j < s->n_domains && used < sizeof(doms); j++) {
            char one[300];
            domain_text(&s->domains[j], one, sizeof(one));
            int w = snprintf(doms + used, sizeof(doms) - used, "%s%s", j ? ", " : "", one);
            if (w < 0) break;
            used += (size_t)w;
        }
        if (s->mtls_domain.host) domain_text(&s->mtls_domain, mdom, sizeof(mdom));
        used = 0;
        for (size_t j = 0; j < s->n_client_cas && used < sizeof(cas); j++) {
            int w = snprintf(cas + used, sizeof(cas) - used, "%s%s", j ? ", " : "", s->client_cas[j]);
            if (w < 0) break;
            used += (size_t)w;
        }
        for (size_t j = 0; j < rules.n; j++) nr += strcmp(rules.items[j].site, s->name) == 0;
        snprintf(nrules, sizeof(nrules), "%zu", nr);
        const char *cells[] = {s->name, s->backend, mtls_name(s->mtls), doms, mdom, cas, nrules};
        rc = cg_table_row(&t, cells);
    }
    if (rc == 0) {
        char empty[200];
        snprintf(empty, sizeof(empty),
                 "no sites in environment '%s' (add one with: certgate site add NAME --backend http://HOST:PORT "
                 "--domain HOST)",
                 cli->env);
        rc = cg_list_print(cli, &arr, &t, empty);
    }
    json_decref(arr);
    cg_table_cleanup(&t);
    cg_store_rule_list_cleanup(&rules);
    cg_store_site_list_cleanup(&sites);
    return rc;
}

static void print_site(const struct cg_store_site *s, const struct cg_store_rule_list *rules)
{
    printf("name:         %s\n", s->name);
    printf("backend:      %s\n", s->backend);
    printf("mtls:         %s\n", mtls_name(s->mtls));
    for (size_t i = 0; i < s->n_domains; i++)
        printf("%s%s (%s%s)\n", i ? "              " : "domains:      ", s->domains[i].host,
               s->domains[i].cert_name ? "certificate " : "certificate chosen by its SANs",
               s->domains[i].cert_name ? s->domains[i].cert_name : "");
    if (s->mtls_domain.host)
        printf("mtls domain:  %s (always mTLS required; %s%s)\n", s->mtls_domain.host,
               s->mtls_domain.cert_name ? "certificate " : "certificate chosen by its SANs",
               s->mtls_domain.cert_name ? s->mtls_domain.cert_name : "");
    else
        printf("mtls domain:  (none)\n");
    if (!s->n_client_cas) printf("client cas:   (none of its own)\n");
    for (size_t i = 0; i < s->n_client_cas; i++)
        printf("%s%s\n", i ? "              " : "client cas:   ", s->client_cas[i]);
    size_t width = 0, shown = 0;
    for (size_t i = 0; i < rules->n; i++)
        if (strlen(rules->items[i].path) > width) width = strlen(rules->items[i].path);
    for (size_t i = 0; i < rules->n; i++)
        printf("%s%-*s  %s\n", shown++ ? "              " : "rules:        ", (int)width, rules->items[i].path,
               rules->items[i].profile);
    if (!shown) printf("rules:        (none: every request is allowed)\n");
}

static int run_show(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_site s = {0};
    struct cg_store_rule_list rules = {0};
    CG_GUARD(cg_store_site_get(cli->store, cli->env, a->pos[0], &s, err));
    int rc = cg_store_rule_list(cli->store, cli->env, s.name, &rules, err);
    if (rc == 0 && cli->json) rc = cg_cli_json_out(cli, view_json(&s, &rules));
    else if (rc == 0) print_site(&s, &rules);
    cg_store_rule_list_cleanup(&rules);
    cg_store_site_cleanup(&s);
    return rc;
}

const struct cg_cli_cmd cg_cli_site_cmds[] = {
    {"site", "add",
     "NAME --backend http://HOST:PORT --domain HOST[=SERVER_CERT]... [--mtls-domain HOST[=SERVER_CERT]] "
     "[--mtls off|optional|required] [--client-ca CA]... [--replace]",
     "add an ingress site: the domains it answers on (each with its server certificate, or the one whose SANs cover "
     "the host), its mTLS mode (default off) and the CA bundles client certificates must chain to",
     1, 1, add_opts, run_add, "site", NULL},
    {"site", "set",
     "NAME [--backend URL] [--domain HOST[=CERT]]... [--mtls-domain HOST[=CERT] | --no-mtls-domain] "
     "[--mtls MODE] [--client-ca CA]... [--no-client-ca]",
     "change a site; what is not given is kept (--domain and --client-ca replace the whole list)", 1, 1, set_opts,
     run_set, "site", NULL},
    {"site", "list", "[--json]", "list sites: backend, mTLS mode, domains, client CAs, number of rules", 0, 0, NULL,
     run_list, NULL, NULL},
    {"site", "show", "NAME [--json]", "every setting of one site and its path rules", 1, 1, NULL, run_show, NULL, NULL},
    {"site", "rm", "NAME", "remove a site and its rules", 1, 1, NULL, run_rm, "site", NULL},
    {"site", "rule", "SITE PATH PROFILE|allow-all|deny-all  |  rm SITE PATH",
     "set the profile of a path prefix (the longest matching prefix wins; / covers the whole site), or remove it", 3,
     3, NULL, run_rule, "site", rule_site},
    {0},
};
