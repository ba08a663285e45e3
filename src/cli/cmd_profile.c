/* certgate profile add|set|list|show|rm: access profiles (SPEC.md section 1), the rule sets that
 * a site's path rules name: allowed and denied IP ranges, and client CAs with the certificates of
 * each bundle that are accepted as signers.
 *
 * Every value is checked and normalised here with the functions the snapshot applies when the
 * daemon loads the profile (config/site.h); the selected signers are checked against the bundle
 * in the same transaction that stores the profile; the store then checks what only it can know
 * (the CAs exist and are CA bundles). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cli/certops.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "config/site.h"
#include "core/mem.h"
#include "core/str.h"
#include "core/strlist.h"

static int oom(struct cg_err *err) { return cg_err_set(err, CG_ENOMEM, "out of memory"); }

static int profile_name_check(const char *name, struct cg_err *err)
{
    CG_GUARD(cg_cli_name_check("profile", name, err));
    if (strcmp(name, CG_STORE_PROFILE_ALLOW_ALL) && strcmp(name, CG_STORE_PROFILE_DENY_ALL)) return 0;
    cg_err_set(err, CG_EUSAGE, "profile name '%s' is reserved: it is a preset that rules name directly", name);
    return cg_err_hint(err, "choose another name; a rule takes the preset as it is: certgate site rule SITE PATH %s",
                       name);
}

/* ---- values ------------------------------------------------------------------------------- */

static void names_clear(char ***names, size_t *n)
{
    for (size_t i = 0; i < *n; i++) cg_free((*names)[i]);
    cg_free(*names);
    *names = NULL;
    *n = 0;
}

static void cas_clear(struct cg_store_profile *p)
{
    for (size_t i = 0; i < p->n_cas; i++) {
        cg_free(p->cas[i].ca);
        names_clear(&p->cas[i].fingerprints, &p->cas[i].n_fingerprints);
    }
    cg_free(p->cas);
    p->cas = NULL;
    p->n_cas = 0;
}

/* The values of --allow-ip or --deny-ip, normalised ("10.0.0.0/8"), replacing *list. */
static int ranges_apply(const struct cg_cli_args *a, const char *opt, const char *profile, char ***list, size_t *n,
                        struct cg_err *err)
{
    const char *v[CG_CLI_MAX_OPTS];
    int count = cg_cli_opt_all(a, opt, v, CG_CLI_MAX_OPTS);
    names_clear(list, n);
    if (count == 0) return 0;
    if (!(*list = cg_calloc((size_t)count, sizeof(**list)))) return oom(err);
    for (int i = 0; i < count; i++) {
        struct cg_cidr c;
        if (cg_cidr_parse(v[i], &c, err) < 0) return cg_err_prefix(err, "profile '%s': --%s", profile, opt);
        char text[64];
        cg_cidr_format(&c, text, sizeof(text));
        for (size_t j = 0; j < *n; j++)
            if (!strcmp((*list)[j], text)) {
                cg_err_set(err, CG_EINVAL, "profile '%s': --%s %s is given twice (as '%s')", profile, opt, text, v[i]);
                return cg_err_hint(err, "give each range once");
            }
        if (!((*list)[(*n)++] = cg_strdup(text))) return oom(err);
    }
    return 0;
}

/* A SHA-256 fingerprint as people copy it ("AB:CD:...", "abcd...", any case) into 64 lowercase hex. */
static int fingerprint_normalize(const char *profile, const char *ca, const char *in, char out[65],
                                 struct cg_err *err)
{
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p == ':') continue;
        if (!isxdigit((unsigned char)*p) || n == 64) {
            n = 65;
            break;
        }
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n < 65 ? n : 64] = '\0';
    if (n == 64) return 0;
    cg_err_set(err, CG_EINVAL, "profile '%s': '%s' (after '%s@') is not a SHA-256 fingerprint", profile, in, ca);
    return cg_err_hint(err, "give the SHA-256 of a certificate of the bundle: 64 hex digits, colons allowed (certgate "
                            "ca show %s lists them)",
                       ca);
}

/* One --client-ca value, "CA" or "CA@FP,FP,...", into c. */
static int client_ca_parse(const char *profile, const char *value, struct cg_store_profile_ca *c, struct cg_err *err)
{
    const char *at = strchr(value, '@');
    char *ca = at ? cg_strndup(value, (size_t)(at - value)) : cg_strdup(value);
    if (!ca) return oom(err);
    c->ca = ca;
    if (cg_cli_name_check("CA bundle", ca, err) < 0) return cg_err_prefix(err, "profile '%s': --client-ca", profile);
    if (!at) return 0;
    struct cg_strlist fps;
    cg_strlist_init(&fps);
    int rc = cg_strlist_split(&fps, at + 1, ',', false);
    if (rc == 0 && fps.n == 0) {
        cg_err_set(err, CG_EINVAL, "profile '%s': --client-ca %s names no fingerprint after '@'", profile, value);
        rc = cg_err_hint(err, "write CA@FINGERPRINT[,FINGERPRINT...], or CA alone for every certificate of the bundle");
    }
    if (rc == 0 && !(c->fingerprints = cg_calloc(fps.n, sizeof(*c->fingerprints)))) rc = oom(err);
    for (size_t i = 0; rc == 0 && i < fps.n; i++) {
        char fp[65];
        rc = fingerprint_normalize(profile, ca, fps.items[i], fp, err);
        for (size_t j = 0; rc == 0 && j < c->n_fingerprints; j++)
            if (!strcmp(c->fingerprints[j], fp)) {
                cg_err_set(err, CG_EINVAL, "profile '%s': --client-ca %s selects %s twice", profile, ca, fp);
                rc = cg_err_hint(err, "give each fingerprint once");
            }
        if (rc == 0 && !(c->fingerprints[c->n_fingerprints++] = cg_strdup(fp))) rc = oom(err);
    }
    if (rc == CG_ENOMEM) rc = oom(err);
    cg_strlist_cleanup(&fps);
    return rc;
}

static int client_cas_apply(const struct cg_cli_args *a, struct cg_store_profile *p, struct cg_err *err)
{
    const char *v[CG_CLI_MAX_OPTS];
    int count = cg_cli_opt_all(a, "client-ca", v, CG_CLI_MAX_OPTS);
    cas_clear(p);
    if (count == 0) return 0;
    if (!(p->cas = cg_calloc((size_t)count, sizeof(*p->cas)))) return oom(err);
    for (int i = 0; i < count; i++) {
        struct cg_store_profile_ca *c = &p->cas[p->n_cas++];
        CG_GUARD(client_ca_parse(p->name, v[i], c, err));
        for (int j = 0; j < i; j++)
            if (!strcmp(p->cas[j].ca, c->ca)) {
                cg_err_set(err, CG_EUSAGE, "profile '%s': --client-ca %s is given twice", p->name, c->ca);
                return cg_err_hint(err, "give each CA once, with every selected certificate: --client-ca %s@FP1,FP2",
                                   c->ca);
            }
    }
    return 0;
}

/* Applies the options of add/set to p (whose name is set): lists given replace the stored ones,
 * --no-* empties them. */
static int apply_opts(const struct cg_cli_args *a, struct cg_store_profile *p, struct cg_err *err)
{
    CG_GUARD(cg_cli_opts_exclusive(a, "allow-ip", "no-allow-ip", err));
    CG_GUARD(cg_cli_opts_exclusive(a, "deny-ip", "no-deny-ip", err));
    CG_GUARD(cg_cli_opts_exclusive(a, "client-ca", "no-client-ca", err));
    if (cg_cli_flag(a, "allow-ip") || cg_cli_flag(a, "no-allow-ip"))
        CG_GUARD(ranges_apply(a, "allow-ip", p->name, &p->allow_ips, &p->n_allow_ips, err));
    if (cg_cli_flag(a, "deny-ip") || cg_cli_flag(a, "no-deny-ip"))
        CG_GUARD(ranges_apply(a, "deny-ip", p->name, &p->deny_ips, &p->n_deny_ips, err));
    if (cg_cli_flag(a, "client-ca") || cg_cli_flag(a, "no-client-ca")) CG_GUARD(client_cas_apply(a, p, err));
    return 0;
}

/* "'CN=Root' (sha256 ab12...), ...": the certificates of a bundle, for a refusal. */
static void bundle_list(STACK_OF(X509) *cas, char *out, size_t n)
{
    struct cg_buf b;
    cg_buf_init(&b, n > 0 ? n - 1 : 1);
    for (int i = 0; i < sk_X509_num(cas); i++) {
        struct cg_pki_facts f;
        if (cg_pki_facts_get(sk_X509_value(cas, i), &f) < 0) continue;
        int rc = cg_buf_printf(&b, "%s'%s' (sha256 %s)", i ? ", " : "", f.subject, f.fingerprint);
        cg_pki_facts_cleanup(&f);
        if (rc < 0) break;
    }
    cg_strlcpy(out, cg_buf_str(&b), n);
    cg_buf_cleanup(&b);
}

/* Every selected fingerprint must be a certificate of its bundle. A CA that is missing or not a
 * bundle is left to the store, which refuses it with its own message. */
static int signers_check(struct cg_cli *cli, const struct cg_store_profile *p, struct cg_err *err)
{
    for (size_t i = 0; i < p->n_cas; i++) {
        const struct cg_store_profile_ca *c = &p->cas[i];
        if (!c->n_fingerprints) continue;
        struct cg_store_cert row = {0};
        int rc = cg_store_cert_get(cli->store, cli->env, c->ca, &row, err);
        if (rc == CG_ENOTFOUND || (rc == 0 && row.kind != CG_STORE_CA)) {
            cg_store_cert_cleanup(&row);
            cg_err_clear(err);
            continue;
        }
        STACK_OF(X509) *cas = NULL;
        if (rc == 0) rc = cg_pki_certs_from_pem(cg_slice_str(row.cert_pem), &cas, err);
        for (size_t j = 0; rc == 0 && j < c->n_fingerprints; j++) {
            if (cg_cli_bundle_find(cas, c->fingerprints[j]) >= 0) continue;
            char held[CG_ERR_MSG_MAX / 2];
            bundle_list(cas, held, sizeof(held));
            cg_err_set(err, CG_EINVAL, "profile '%s': CA bundle '%s' holds no certificate with SHA-256 %s; it holds %s",
                       p->name, c->ca, c->fingerprints[j], held);
            rc = cg_err_hint(err, "select certificates of the bundle by their fingerprints (certgate ca show %s), or "
                                  "give --client-ca %s alone to accept every certificate of it",
                             c->ca, c->ca);
        }
        sk_X509_pop_free(cas, X509_free);
        cg_store_cert_cleanup(&row);
        CG_GUARD(rc);
    }
    return 0;
}

static void saved_line(const struct cg_cli *cli, const char *verb, const struct cg_store_profile *p)
{
    cg_cli_say(cli, "%s profile '%s': %zu allowed range%s, %zu denied, %zu client CA%s\n", verb, p->name, p->n_allow_ips,
           p->n_allow_ips == 1 ? "" : "s", p->n_deny_ips, p->n_cas, p->n_cas == 1 ? "" : "s");
}

/* Checks and stores p in one transaction. */
static int profile_store(struct cg_cli *cli, const struct cg_store_profile *p, bool replace, bool in_tx,
                         struct cg_err *err)
{
    if (!in_tx) CG_GUARD(cg_store_begin(cli->store, err));
    int rc = signers_check(cli, p, err);
    if (rc == 0) rc = cg_store_profile_put(cli->store, cli->env, p, replace, err);
    if (rc == 0) rc = cg_store_commit(cli->store, err);
    else cg_store_rollback(cli->store);
    return rc;
}

/* ---- commands ----------------------------------------------------------------------------- */

static const struct cg_cli_opt add_opts[] = {
    {"allow-ip", true, true}, {"deny-ip", true, true}, {"client-ca", true, true}, {"replace", false, false},
    {NULL, false, false},
};

static int run_add(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(profile_name_check(a->pos[0], err));
    struct cg_store_profile p = {0};
    int rc = (p.name = cg_strdup(a->pos[0])) ? 0 : oom(err);
    if (rc == 0) rc = apply_opts(a, &p, err);
    if (rc == 0) rc = cg_cli_store(cli, false, err);
    bool replace = cg_cli_flag(a, "replace");
    if (rc == 0) rc = profile_store(cli, &p, replace, false, err);
    if (rc == 0) saved_line(cli, replace ? "stored" : "added", &p);
    cg_store_profile_cleanup(&p);
    return rc;
}

static const struct cg_cli_opt set_opts[] = {
    {"allow-ip", true, true},      {"no-allow-ip", false, false}, {"deny-ip", true, true},
    {"no-deny-ip", false, false},  {"client-ca", true, true},     {"no-client-ca", false, false},
    {NULL, false, false},
};

static int run_set(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    const char *name = a->pos[0];
    if (a->n_opts == 0) {
        cg_err_set(err, CG_EUSAGE, "profile '%s': nothing to set", name);
        return cg_err_hint(err, "give at least one of --allow-ip, --no-allow-ip, --deny-ip, --no-deny-ip, "
                                "--client-ca, --no-client-ca");
    }
    CG_GUARD(cg_cli_store(cli, false, err));
    /* read, change and write in one transaction: a concurrent change is not lost */
    CG_GUARD(cg_store_begin(cli->store, err));
    struct cg_store_profile p = {0};
    int rc = cg_store_profile_get(cli->store, cli->env, name, &p, err);
    if (rc == 0) rc = apply_opts(a, &p, err);
    if (rc == 0) {
        rc = profile_store(cli, &p, true, true, err);
    } else {
        cg_store_rollback(cli->store);
    }
    if (rc == 0) saved_line(cli, "changed", &p);
    cg_store_profile_cleanup(&p);
    return rc;
}

static int run_rm(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    CG_GUARD(cg_store_profile_delete(cli->store, cli->env, a->pos[0], err));
    cg_cli_say(cli, "removed profile '%s'\n", a->pos[0]);
    return 0;
}

static json_t *names_json(char **names, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, json_string(names[i]));
    return arr;
}

/* The JSON object documented in docs/cli.md; rules: every rule of the environment (those naming
 * p are listed). */
static json_t *view_json(const struct cg_store_profile *p, const struct cg_store_rule_list *rules)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(p->name));
    json_object_set_new(o, "allow_ips", names_json(p->allow_ips, p->n_allow_ips));
    json_object_set_new(o, "deny_ips", names_json(p->deny_ips, p->n_deny_ips));
    json_t *cas = json_array();
    for (size_t i = 0; i < p->n_cas; i++) {
        json_t *c = json_object();
        json_object_set_new(c, "ca", json_string(p->cas[i].ca));
        json_object_set_new(c, "signers", names_json(p->cas[i].fingerprints, p->cas[i].n_fingerprints));
        json_array_append_new(cas, c);
    }
    json_object_set_new(o, "client_cas", cas);
    json_t *used = json_array();
    for (size_t i = 0; i < rules->n; i++) {
        if (strcmp(rules->items[i].profile, p->name) != 0) continue;
        json_t *r = json_object();
        json_object_set_new(r, "site", json_string(rules->items[i].site));
        json_object_set_new(r, "path", json_string(rules->items[i].path));
        json_array_append_new(used, r);
    }
    json_object_set_new(o, "rules", used);
    return o;
}

static size_t rules_naming(const struct cg_store_rule_list *rules, const char *profile)
{
    size_t n = 0;
    for (size_t i = 0; i < rules->n; i++) n += strcmp(rules->items[i].profile, profile) == 0;
    return n;
}

/* "a, b" into out. */
static void join(char **names, size_t n, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++) {
        int w = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

static int run_list(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_UNUSED(a);
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_profile_list ps = {0};
    struct cg_store_rule_list rules = {0};
    int rc = cg_store_profile_list(cli->store, cli->env, &ps, err);
    if (rc == 0) rc = cg_store_rule_list(cli->store, cli->env, NULL, &rules, err);
    json_t *arr = json_array();
    static const char *head[] = {"NAME", "ALLOW", "DENY", "CLIENT CAS", "RULES"};
    struct cg_table t;
    cg_table_init(&t, 5, head);
    for (size_t i = 0; rc == 0 && i < ps.n; i++) {
        const struct cg_store_profile *p = &ps.items[i];
        if (cli->json) {
            json_array_append_new(arr, view_json(p, &rules));
            continue;
        }
        char allow[512], deny[512], cas[512] = "", nrules[24];
        join(p->allow_ips, p->n_allow_ips, allow, sizeof(allow));
        join(p->deny_ips, p->n_deny_ips, deny, sizeof(deny));
        for (size_t j = 0, used = 0; j < p->n_cas && used < sizeof(cas); j++) {
            int w = snprintf(cas + used, sizeof(cas) - used, "%s%s%s", j ? ", " : "", p->cas[j].ca,
                             p->cas[j].n_fingerprints ? " (selected)" : "");
            if (w < 0) break;
            used += (size_t)w;
        }
        snprintf(nrules, sizeof(nrules), "%zu", rules_naming(&rules, p->name));
        const char *cells[] = {p->name, allow, deny, cas, nrules};
        rc = cg_table_row(&t, cells);
    }
    if (rc == 0) {
        char empty[200];
        snprintf(empty, sizeof(empty),
                 "no profiles in environment '%s' (add one with: certgate profile add NAME --allow-ip CIDR "
                 "--client-ca CA)",
                 cli->env);
        rc = cg_list_print(cli, &arr, &t, empty);
    }
    json_decref(arr);
    cg_table_cleanup(&t);
    cg_store_rule_list_cleanup(&rules);
    cg_store_profile_list_cleanup(&ps);
    return rc;
}

/* The subject of the bundle certificate with fingerprint fp, for show. */
static void signer_subject(struct cg_cli *cli, const char *ca, const char *fp, char *out, size_t n)
{
    cg_strlcpy(out, "not in the bundle", n);
    struct cg_store_cert row = {0};
    struct cg_err ignored;
    STACK_OF(X509) *cas = NULL;
    if (cg_store_cert_get(cli->store, cli->env, ca, &row, &ignored) == 0 &&
        cg_pki_certs_from_pem(cg_slice_str(row.cert_pem), &cas, &ignored) == 0) {
        int i = cg_cli_bundle_find(cas, fp);
        struct cg_pki_facts f;
        if (i >= 0 && cg_pki_facts_get(sk_X509_value(cas, i), &f) == 0) {
            cg_strlcpy(out, f.subject, n);
            cg_pki_facts_cleanup(&f);
        }
    }
    sk_X509_pop_free(cas, X509_free);
    cg_store_cert_cleanup(&row);
}

static void print_profile(struct cg_cli *cli, const struct cg_store_profile *p, const struct cg_store_rule_list *rules)
{
    printf("name:         %s\n", p->name);
    if (!p->n_allow_ips) printf("allow ips:    (none: a client passes with a certificate only)\n");
    for (size_t i = 0; i < p->n_allow_ips; i++) printf("%s%s\n", i ? "              " : "allow ips:    ", p->allow_ips[i]);
    if (!p->n_deny_ips) printf("deny ips:     (none)\n");
    for (size_t i = 0; i < p->n_deny_ips; i++) printf("%s%s\n", i ? "              " : "deny ips:     ", p->deny_ips[i]);
    if (!p->n_cas) printf("client cas:   (none: a client passes by its address only)\n");
    for (size_t i = 0; i < p->n_cas; i++) {
        const struct cg_store_profile_ca *c = &p->cas[i];
        printf("%s%s%s\n", i ? "              " : "client cas:   ", c->ca,
               c->n_fingerprints ? "" : " (every certificate of the bundle)");
        for (size_t j = 0; j < c->n_fingerprints; j++) {
            char subject[512];
            signer_subject(cli, c->ca, c->fingerprints[j], subject, sizeof(subject));
            printf("                signer %s (%s)\n", c->fingerprints[j], subject);
        }
    }
    size_t shown = 0;
    for (size_t i = 0; i < rules->n; i++) {
        if (strcmp(rules->items[i].profile, p->name) != 0) continue;
        printf("%ssite %s, path %s\n", shown++ ? "              " : "used by:      ", rules->items[i].site,
               rules->items[i].path);
    }
    if (!shown) printf("used by:      (no rule)\n");
}

static int run_show(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_profile p = {0};
    struct cg_store_rule_list rules = {0};
    CG_GUARD(cg_store_profile_get(cli->store, cli->env, a->pos[0], &p, err));
    int rc = cg_store_rule_list(cli->store, cli->env, NULL, &rules, err);
    if (rc == 0 && cli->json) rc = cg_cli_json_out(cli, view_json(&p, &rules));
    else if (rc == 0) print_profile(cli, &p, &rules);
    cg_store_rule_list_cleanup(&rules);
    cg_store_profile_cleanup(&p);
    return rc;
}

const struct cg_cli_cmd cg_cli_profile_cmds[] = {
    {"profile", "add", "NAME [--allow-ip CIDR]... [--deny-ip CIDR]... [--client-ca CA[@FINGERPRINT,...]]... [--replace]",
     "add an access profile: a request passes when its address is not denied and it comes from an allowed range or "
     "presents a certificate from one of the client CAs (@: only those certificates of the bundle as signers)",
     1, 1, add_opts, run_add, "profile", NULL},
    {"profile", "set",
     "NAME [--allow-ip CIDR]... [--no-allow-ip] [--deny-ip CIDR]... [--no-deny-ip] [--client-ca CA[@FP,...]]... "
     "[--no-client-ca]",
     "change a profile; a list given replaces the stored one, --no-* empties it", 1, 1, set_opts, run_set, "profile", NULL},
    {"profile", "list", "[--json]", "list profiles: ranges, client CAs, the number of rules that name each", 0, 0, NULL,
     run_list, NULL, NULL},
    {"profile", "show", "NAME [--json]", "one profile with its selected signers and the rules that name it", 1, 1, NULL,
     run_show, NULL, NULL},
    {"profile", "rm", "NAME", "remove a profile (refused while rules name it)", 1, 1, NULL, run_rm, "profile", NULL},
    {0},
};
