/* certgate cert add|list|show|rm|set and ca add|list|show|rm (a CA bundle with its CRLs). */
#include <stdio.h>
#include <string.h>

#include "cli/certops.h"
#include "cli/output.h"
#include "core/mem.h"
#include "core/time.h"

static const struct cg_cli_opt add_opts[] = {
    {"key", true, false},          {"chain", true, false},        {"kind", true, false},
    {"default", false, false},     {"replace", false, false},     {"password-env", true, false},
    {"password-file", true, false}, {NULL, false, false},
};

/* A server certificate replaced in place keeps being presented on the domains that name it: the
 * new one must cover them too (site add/set checked the old one). */
static int hosts_kept_check(struct cg_cli *cli, const char *name, X509 *leaf, struct cg_err *err)
{
    struct cg_pki_facts f;
    CG_GUARD(cg_pki_facts_get(leaf, &f));
    struct cg_store_site_list sites = {0};
    int rc = cg_store_site_list(cli->store, cli->env, &sites, err);
    for (size_t i = 0; rc == 0 && i < sites.n; i++) {
        const struct cg_store_site *s = &sites.items[i];
        for (size_t j = 0; rc == 0 && j <= s->n_domains; j++) {
            const struct cg_store_site_domain *d = j < s->n_domains ? &s->domains[j] : &s->mtls_domain;
            if (!d->host || !d->cert_name || strcmp(d->cert_name, name) != 0 || cg_cli_sans_cover(&f, d->host))
                continue;
            cg_err_set(err, CG_EINVAL, "cannot replace server certificate '%s': site '%s' presents it on %s, which the "
                                       "new certificate does not cover",
                       name, s->name, d->host);
            rc = cg_err_hint(err, "give a certificate whose SANs name %s, or change the site first (certgate site set %s "
                                  "--domain ...)",
                             d->host, s->name);
        }
    }
    cg_store_site_list_cleanup(&sites);
    cg_pki_facts_cleanup(&f);
    return rc;
}

static int run_add(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    const char *name = a->pos[0], *file = a->pos[1];
    CG_GUARD(cg_cli_name_check("certificate", name, err));
    enum cg_cert_kind kind = CG_CERT_CLIENT;
    const char *k = cg_cli_opt(a, "kind");
    if (k && (cg_cert_kind_parse(k, &kind) < 0 || kind == CG_CERT_CA)) {
        cg_err_set(err, CG_EUSAGE, "--kind must be client or server, not '%s'", k);
        return cg_err_hint(err, "CA certificates are added with: certgate ca add NAME FILE");
    }
    bool make_default = cg_cli_flag(a, "default");
    if (make_default && kind != CG_CERT_CLIENT)
        return cg_err_set(err, CG_EUSAGE, "--default applies to client certificates only");
    /* open the store and the key before reading secrets, so that set-up errors come first */
    CG_GUARD(cg_cli_store(cli, false, err));
    CG_GUARD(cg_cli_master(cli, err));
    char *password = NULL;
    CG_GUARD(cg_cli_password(a, &password, err));
    struct cg_pki_identity id;
    cg_pki_identity_init(&id);
    int rc = cg_cli_identity_load(cli, a, file, cg_cli_opt(a, "key"), cg_cli_opt(a, "chain"), password, true, &id, err);
    cg_free_secret_str(password);
    if (rc < 0) return rc;
    struct cg_strlist warnings;
    cg_strlist_init(&warnings);
    bool replace = cg_cli_flag(a, "replace");
    rc = cg_store_begin(cli->store, err);
    if (rc == 0) {
        if (replace && kind == CG_CERT_SERVER) rc = hosts_kept_check(cli, name, id.leaf, err);
        if (rc == 0) rc = cg_cli_cert_save(cli, name, kind, &id, NULL, NULL, replace, make_default, &warnings, err);
        if (rc == 0) rc = cg_store_commit(cli->store, err);
        else cg_store_rollback(cli->store);
    }
    if (rc == 0) cg_cli_print_saved(cli, replace ? "stored" : "added", name, kind, id.leaf, 1, &warnings);
    cg_strlist_cleanup(&warnings);
    cg_pki_identity_cleanup(&id);
    return rc;
}

static const struct cg_cli_opt ca_add_opts[] = {{"replace", false, false}, {"crl", true, true}, {NULL, false, false}};

static void crls_free(STACK_OF(X509_CRL) *c) { sk_X509_CRL_pop_free(c, X509_CRL_free); }

/* Reads the CRLs of one input, checks them against the bundle (so that a refusal names the file)
 * and moves them to *all, skipping any already there. in_bundle: the CA bundle file itself, where
 * CRLs are optional. */
static int crls_gather(const struct cg_pki_input *in, bool in_bundle, STACK_OF(X509) *cas, STACK_OF(X509_CRL) *all,
                       struct cg_err *err)
{
    STACK_OF(X509_CRL) *got = NULL;
    int rc = cg_pki_crls_load(in, &got, err);
    if (rc == CG_EFORMAT && in_bundle) {
        cg_err_clear(err);
        return 0;
    }
    if (rc < 0) return rc;
    struct cg_strlist scratch; /* the warnings are collected when the bundle is stored */
    cg_strlist_init(&scratch);
    rc = cg_pki_crls_check(got, cas, cg_time_now(), &scratch, err);
    cg_strlist_cleanup(&scratch);
    if (rc < 0) cg_err_prefix(err, "'%s'", in->name);
    while (rc == 0 && sk_X509_CRL_num(got) > 0) {
        X509_CRL *crl = sk_X509_CRL_shift(got);
        bool dup = false;
        for (int i = 0; i < sk_X509_CRL_num(all) && !dup; i++) dup = X509_CRL_match(sk_X509_CRL_value(all, i), crl) == 0;
        if (!dup && sk_X509_CRL_num(all) >= CG_PKI_MAX_CERTS)
            rc = cg_err_set(err, CG_ELIMIT, "more than %d CRLs were given for one CA bundle", CG_PKI_MAX_CERTS);
        else if (!dup && !sk_X509_CRL_push(all, crl))
            rc = cg_err_set(err, CG_ENOMEM, "out of memory");
        else if (!dup)
            crl = NULL;
        X509_CRL_free(crl);
    }
    crls_free(got);
    return rc;
}

/* The CA bundle of file and every CRL: inside it, and in each --crl file. */
static int ca_inputs_load(const struct cg_cli *cli, const char *file, const struct cg_cli_args *a, STACK_OF(X509) **cas,
                          STACK_OF(X509_CRL) **crls, struct cg_err *err)
{
    *cas = NULL;
    *crls = sk_X509_CRL_new_null();
    if (!*crls) return cg_err_set(err, CG_ENOMEM, "out of memory");
    struct cg_buf buf;
    cg_buf_init(&buf, CG_PKI_MAX_INPUT);
    int rc = cg_cli_read_input(cli, a, "file", 0, file, &buf, err);
    struct cg_pki_input in = {file, cg_buf_slice(&buf)};
    if (rc == 0) rc = cg_pki_ca_load(&in, cas, err);
    if (rc == 0) rc = crls_gather(&in, true, *cas, *crls, err);
    const char *files[CG_CLI_MAX_OPTS];
    int n = cg_cli_opt_all(a, "crl", files, CG_CLI_MAX_OPTS);
    for (int i = 0; rc == 0 && i < n; i++) {
        cg_buf_reset(&buf);
        rc = cg_cli_read_input(cli, a, "crl", i, files[i], &buf, err);
        struct cg_pki_input crl_in = {files[i], cg_buf_slice(&buf)};
        if (rc == 0) rc = crls_gather(&crl_in, false, *cas, *crls, err);
    }
    cg_buf_cleanup(&buf);
    return rc;
}

/* The certificates a profile selects from a bundle as signers must stay in it when the bundle is
 * replaced: otherwise the profile would silently select nothing. */
static int signers_kept_check(struct cg_cli *cli, const char *name, STACK_OF(X509) *cas, struct cg_err *err)
{
    struct cg_store_profile_list ps = {0};
    CG_GUARD(cg_store_profile_list(cli->store, cli->env, &ps, err));
    int rc = 0;
    for (size_t i = 0; i < ps.n && rc == 0; i++)
        for (size_t j = 0; j < ps.items[i].n_cas && rc == 0; j++) {
            const struct cg_store_profile_ca *pc = &ps.items[i].cas[j];
            if (strcmp(pc->ca, name) != 0) continue;
            for (size_t k = 0; k < pc->n_fingerprints && rc == 0; k++) {
                if (cg_cli_bundle_find(cas, pc->fingerprints[k]) >= 0) continue;
                cg_err_set(err, CG_EINUSE, "cannot replace ca '%s': profile '%s' selects its certificate with SHA-256 "
                                           "%s as a signer, and the new bundle does not hold it",
                           name, ps.items[i].name, pc->fingerprints[k]);
                rc = cg_err_hint_code(err, CG_EINUSE, "change the profile first (certgate profile set %s --client-ca "
                                                      "%s@FINGERPRINT, or --client-ca %s for every certificate of the "
                                                      "bundle)",
                                      ps.items[i].name, name, name);
            }
        }
    cg_store_profile_list_cleanup(&ps);
    return rc;
}

static int run_ca_add(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    const char *name = a->pos[0], *file = a->pos[1];
    bool replace = cg_cli_flag(a, "replace");
    CG_GUARD(cg_cli_name_check("certificate", name, err));
    CG_GUARD(cg_cli_store(cli, false, err));
    STACK_OF(X509) *cas = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    struct cg_strlist warnings;
    cg_strlist_init(&warnings);
    int rc = ca_inputs_load(cli, file, a, &cas, &crls, err);
    if (rc == 0) rc = cg_store_begin(cli->store, err);
    if (rc == 0) {
        if (replace) rc = signers_kept_check(cli, name, cas, err);
        if (rc == 0) rc = cg_cli_cert_save(cli, name, CG_CERT_CA, NULL, cas, crls, replace, false, &warnings, err);
        if (rc == 0) rc = cg_store_commit(cli->store, err);
        else cg_store_rollback(cli->store);
    }
    if (rc == 0) {
        cg_cli_print_saved(cli, replace ? "stored" : "added", name, CG_CERT_CA, sk_X509_value(cas, 0),
                           (size_t)sk_X509_num(cas), &warnings);
        int n = sk_X509_CRL_num(crls);
        if (n > 0) cg_cli_say(cli, "with %d CRL%s\n", n, n == 1 ? "" : "s");
    }
    cg_strlist_cleanup(&warnings);
    sk_X509_pop_free(cas, X509_free);
    crls_free(crls);
    return rc;
}

/* Pins naming each certificate, for list/show. */
static int pins_by_cert(struct cg_cli *cli, const char *name, struct cg_strlist *out, struct cg_err *err)
{
    struct cg_store_pin_list pins = {0};
    CG_GUARD(cg_store_pin_list(cli->store, cli->env, &pins, err));
    int rc = 0;
    for (size_t i = 0; i < pins.n && rc == 0; i++)
        if (pins.items[i].cert_name && !strcmp(pins.items[i].cert_name, name))
            rc = cg_strlist_add(out, pins.items[i].target);
    cg_store_pin_list_cleanup(&pins);
    return rc;
}

/* only_kind < 0: every certificate */
static int list_certs(struct cg_cli *cli, int only_kind, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_cert_list certs = {0};
    CG_GUARD(cg_store_cert_list(cli->store, cli->env, &certs, err));
    time_t now = cg_time_now();
    json_t *arr = json_array();
    /* ca list adds the number of CRLs */
    static const char *head[] = {"NAME", "KIND", "DEFAULT", "SUBJECT", "NOT AFTER", "DAYS LEFT", "WARNINGS", "CRLS"};
    struct cg_table t;
    cg_table_init(&t, only_kind == CG_STORE_CA ? 8 : 7, head);
    int rc = 0;
    for (size_t i = 0; i < certs.n && rc == 0; i++) {
        if (only_kind >= 0 && certs.items[i].kind != only_kind) continue;
        struct cg_cert_view v;
        if ((rc = cg_cert_view_load(&certs.items[i], &v, err)) < 0) {
            cg_err_prefix(err, "certificate '%s' in the store", certs.items[i].name);
            cg_cert_view_cleanup(&v);
            break;
        }
        if (cli->json) {
            json_array_append_new(arr, cg_cert_view_json(&v, now, NULL));
        } else {
            char na[32], days[24], subj[600], nwarn[16], ncrls[16];
            snprintf(days, sizeof(days), "%ld", cg_time_days_until(v.not_after, now));
            snprintf(subj, sizeof(subj), "%s%s", v.facts[0].subject,
                     v.row->kind == CG_STORE_CA && v.n > 1 ? " (+more)" : "");
            snprintf(nwarn, sizeof(nwarn), "%zu", v.warnings.n);
            snprintf(ncrls, sizeof(ncrls), "%d", v.crls ? sk_X509_CRL_num(v.crls) : 0);
            const char *cells[] = {v.row->name, cg_cert_kind_name((enum cg_cert_kind)v.row->kind),
                                   v.row->is_default ? "yes" : "", subj,
                                   cg_time_rfc3339(v.not_after, na, sizeof(na)), days, v.warnings.n ? nwarn : "",
                                   ncrls};
            rc = cg_table_row(&t, cells);
        }
        cg_cert_view_cleanup(&v);
    }
    if (rc == 0) {
        char empty[200];
        snprintf(empty, sizeof(empty), "no %s in environment '%s' (add one with: certgate %s add NAME FILE)",
                 only_kind == CG_STORE_CA ? "CA bundles" : "certificates", cli->env,
                 only_kind == CG_STORE_CA ? "ca" : "cert");
        rc = cg_list_print(cli, &arr, &t, empty);
    }
    json_decref(arr);
    cg_table_cleanup(&t);
    cg_store_cert_list_cleanup(&certs);
    return rc;
}

static int run_list(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_UNUSED(a);
    return list_certs(cli, -1, err);
}

static int run_ca_list(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_UNUSED(a);
    return list_certs(cli, CG_STORE_CA, err);
}

static void print_facts(const char *indent, const struct cg_pki_facts *f, time_t now)
{
    char nb[32], na[32];
    printf("%ssubject:      %s\n", indent, f->subject);
    printf("%sissuer:       %s\n", indent, f->issuer);
    printf("%sserial:       %s\n", indent, f->serial);
    printf("%svalid:        %s .. %s (%ld days left)\n", indent, cg_time_rfc3339(f->not_before, nb, sizeof(nb)),
           cg_time_rfc3339(f->not_after, na, sizeof(na)), cg_time_days_until(f->not_after, now));
    printf("%ssha256:       %s\n", indent, f->fingerprint);
    printf("%skey:          %s %d%s%s\n", indent, f->key_type, f->key_bits, f->key_curve[0] ? " " : "", f->key_curve);
    for (size_t i = 0; i < f->sans.n; i++) printf("%s%s%s\n", indent, i ? "              " : "sans:         ", f->sans.items[i]);
    for (size_t i = 0; i < f->eku.n; i++) printf("%s%s%s\n", indent, i ? "              " : "ext key use:  ", f->eku.items[i]);
}

static void print_crls(STACK_OF(X509_CRL) *crls, time_t now)
{
    for (int i = 0; crls && i < sk_X509_CRL_num(crls); i++) {
        struct cg_pki_crl_facts f;
        cg_pki_crl_facts_get(sk_X509_CRL_value(crls, i), &f);
        char lu[32], nu[32] = "none";
        if (f.next_update) cg_time_rfc3339(f.next_update, nu, sizeof(nu));
        printf("%s%s\n", i ? "              " : "crls:         ", f.issuer);
        printf("                %zu revoked, updated %s, next update %s%s\n", f.revoked,
               cg_time_rfc3339(f.last_update, lu, sizeof(lu)), nu,
               f.next_update && f.next_update < now ? " (stale)" : "");
    }
}

static int run_show(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_cert row = {0};
    CG_GUARD(cg_store_cert_get(cli->store, cli->env, a->pos[0], &row, err));
    struct cg_cert_view v;
    struct cg_strlist pinned;
    cg_strlist_init(&pinned);
    int rc = cg_cert_view_load(&row, &v, err);
    if (rc == 0) rc = pins_by_cert(cli, row.name, &pinned, err);
    time_t now = cg_time_now();
    if (rc == 0 && cli->json) {
        rc = cg_cli_json_out(cli, cg_cert_view_json(&v, now, &pinned));
    } else if (rc == 0) {
        printf("name:         %s\n", row.name);
        printf("kind:         %s%s\n", cg_cert_kind_name((enum cg_cert_kind)row.kind), row.is_default ? " (default)" : "");
        for (size_t i = 0; i < v.n; i++) {
            if (i > 0 || row.kind == CG_STORE_CA)
                printf("%s %zu:\n", row.kind == CG_STORE_CA ? "certificate" : "chain", row.kind == CG_STORE_CA ? i + 1 : i);
            print_facts(i > 0 || row.kind == CG_STORE_CA ? "  " : "", &v.facts[i], now);
        }
        print_crls(v.crls, now);
        for (size_t i = 0; i < pinned.n; i++) printf("%s%s\n", i ? "              " : "pinned by:    ", pinned.items[i]);
        for (size_t i = 0; i < v.warnings.n; i++) printf("warning:      %s\n", v.warnings.items[i]);
    }
    cg_strlist_cleanup(&pinned);
    cg_cert_view_cleanup(&v);
    cg_store_cert_cleanup(&row);
    return rc;
}

static int run_rm(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    CG_GUARD(cg_store_cert_delete(cli->store, cli->env, a->pos[0], err));
    cg_cli_say(cli, "removed '%s'\n", a->pos[0]);
    return 0;
}

/* ca rm / ca show act on CA bundles only. */
static int ca_only(struct cg_cli *cli, const char *name, const char *verb, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_cert row = {0};
    CG_GUARD(cg_store_cert_get(cli->store, cli->env, name, &row, err));
    int kind = row.kind;
    cg_store_cert_cleanup(&row);
    if (kind == CG_STORE_CA) return 0;
    cg_err_set(err, CG_EUSAGE, "'%s' is a %s certificate, not a CA bundle", name,
               cg_cert_kind_name((enum cg_cert_kind)kind));
    return cg_err_hint(err, "%s it with: certgate cert %s %s", verb, !strcmp(verb, "remove") ? "rm" : "show", name);
}

static int run_ca_rm(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(ca_only(cli, a->pos[0], "remove", err));
    return run_rm(cli, a, err);
}

static int run_ca_show(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(ca_only(cli, a->pos[0], "show", err));
    return run_show(cli, a, err);
}

static const struct cg_cli_opt set_opts[] = {{"default", false, false}, {NULL, false, false}};

static int run_set(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    if (!cg_cli_flag(a, "default")) {
        cg_err_set(err, CG_EUSAGE, "nothing to set");
        return cg_err_hint(err, "usage: certgate cert set NAME --default");
    }
    CG_GUARD(cg_cli_store(cli, false, err));
    CG_GUARD(cg_store_cert_set_default(cli->store, cli->env, a->pos[0], err));
    cg_cli_say(cli, "'%s' is now the default client certificate of environment '%s'\n", a->pos[0], cli->env);
    return 0;
}

const struct cg_cli_cmd cg_cli_cert_cmds[] = {
    {"cert", "add", "NAME FILE [--key FILE] [--chain FILE] [--kind client|server] [--default] [--replace] "
                    "[--password-file FILE | --password-env VAR]",
     "import a certificate with its private key (PKCS#12, PEM, DER; the format is read from the content)", 2, 2,
     add_opts, run_add, "cert", NULL},
    {"cert", "list", "[--json]", "list certificates: kind, subject, expiry, days left", 0, 0, NULL, run_list, NULL, NULL},
    {"cert", "show", "NAME [--json]", "every fact of one certificate, its chain and the pins that name it", 1, 1, NULL,
     run_show, NULL, NULL},
    {"cert", "rm", "NAME", "remove a certificate (refused while pins name it)", 1, 1, NULL, run_rm, "cert", NULL},
    {"cert", "set", "NAME --default", "make a client certificate the default (used when no pin matches)", 1, 1,
     set_opts, run_set, "cert", NULL},
    {"ca", "add", "NAME FILE [--crl FILE]... [--replace]",
     "import a CA bundle (PEM with one or many certificates, DER, base64) with the CRLs of its issuers (--crl, "
     "PEM or DER, and any X509 CRL blocks of the bundle file)",
     2, 2, ca_add_opts, run_ca_add, "ca", NULL},
    {"ca", "list", "[--json]", "list CA bundles only, with their CRLs", 0, 0, NULL, run_ca_list, NULL, NULL},
    {"ca", "show", "NAME [--json]", "every certificate of one CA bundle, and its CRLs", 1, 1, NULL,
     run_ca_show, NULL, NULL},
    {"ca", "rm", "NAME", "remove a CA bundle", 1, 1, NULL, run_ca_rm, "ca", NULL},
    {0},
};
