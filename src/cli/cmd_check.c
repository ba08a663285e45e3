/* certgate check: for cron and monitoring. Exit 1 when any certificate is invalid, expired, not
 * yet valid or expires within --days (default 30); 0 otherwise. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "cli/certops.h"
#include "cli/output.h"
#include "config/snapshot.h"
#include "core/str.h"
#include "core/time.h"

struct finding {
    const char *status; /* "ok", "expiring", "expired", "not yet valid", "invalid" */
    struct cg_strlist problems;
};

static int severity(const char *s)
{
    static const char *order[] = {"ok", "expiring", "not yet valid", "expired", "invalid"};
    for (size_t i = 0; i < CG_ARRAY_LEN(order); i++)
        if (!strcmp(order[i], s)) return (int)i;
    return 0;
}

static void worse(struct finding *f, const char *status)
{
    if (severity(status) > severity(f->status)) f->status = status;
}

static int check_one(struct cg_cli *cli, const struct cg_store_cert *row, time_t now, long days, struct finding *f,
                     struct cg_cert_view *v)
{
    struct cg_err err;
    cg_err_clear(&err);
    f->status = "ok";
    if (cg_cert_view_load(row, v, &err) < 0) {
        worse(f, "invalid");
        return cg_strlist_addf(&f->problems, "cannot be read: %s", err.msg);
    }
    for (size_t i = 0; i < v->n; i++) {
        const struct cg_pki_facts *x = &v->facts[i];
        char when[32];
        const char *who = row->kind == CG_STORE_CA || i > 0 ? x->subject : "certificate";
        long left = cg_time_days_until(x->not_after, now);
        if (x->not_after < now) {
            worse(f, "expired");
            CG_GUARD(cg_strlist_addf(&f->problems, "%s expired on %s", who, cg_time_rfc3339(x->not_after, when, sizeof(when))));
        } else if (x->not_before > now) {
            worse(f, "not yet valid");
            CG_GUARD(cg_strlist_addf(&f->problems, "%s is not valid before %s", who,
                                     cg_time_rfc3339(x->not_before, when, sizeof(when))));
        } else if (left < days) {
            worse(f, "expiring");
            CG_GUARD(cg_strlist_addf(&f->problems, "%s expires in %ld day%s (%s)", who, left, left == 1 ? "" : "s",
                                     cg_time_rfc3339(x->not_after, when, sizeof(when))));
        }
    }
    if (row->kind != CG_STORE_CA && cli->have_master) {
        EVP_PKEY *key = NULL;
        if (!row->key_blob ||
            cg_pki_key_unseal(cli->master, cg_slice_str(row->id), cg_slice_make(row->key_blob, row->key_blob_len), &key,
                              &err) < 0) {
            worse(f, "invalid");
            CG_GUARD(cg_strlist_addf(&f->problems, "private key: %s", row->key_blob ? err.msg : "missing"));
        } else if (v->n && X509_check_private_key(sk_X509_value(v->certs, 0), key) != 1) {
            worse(f, "invalid");
            CG_GUARD(cg_strlist_add(&f->problems, "private key does not match the certificate"));
        }
        EVP_PKEY_free(key);
        ERR_clear_error();
    }
    return 0;
}

/* What the daemon would warn about when it loads the sites: a domain that no server certificate
 * covers (its handshakes are refused), or a stored configuration it cannot load at all. */
static int site_problems(struct cg_cli *cli, struct cg_strlist *out)
{
    struct cg_snapshot *snap = NULL;
    struct cg_err e;
    cg_err_clear(&e);
    int rc = cg_cli_snapshot(cli, &snap, &e);
    if (rc < 0) return cg_strlist_addf(out, "the configuration cannot be loaded: %s", e.msg);
    for (size_t i = 0; rc == 0 && i < snap->n_domains; i++) {
        const struct cg_snapshot_domain *d = &snap->domains[i];
        if (d->cert >= 0) continue;
        rc = cg_strlist_addf(out,
                             "site '%s': no server certificate covers '%s', so its handshakes are refused (add one "
                             "with: certgate cert add NAME FILE --kind server)",
                             snap->sites[d->site].name, d->host);
    }
    cg_snapshot_unref(snap);
    return rc;
}

static const struct cg_cli_opt check_opts[] = {{"days", true, false}, {NULL, false, false}};

static int run_check(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    long days = 30;
    const char *d = cg_cli_opt(a, "days");
    if (d) {
        uint64_t v;
        if (cg_str_to_u64(d, &v) < 0 || v > 36500) {
            cg_err_set(err, CG_EUSAGE, "--days must be a whole number of days from 0 to 36500, not '%s'", d);
            return CG_EUSAGE;
        }
        days = (long)v;
    }
    CG_GUARD(cg_cli_store(cli, false, err));
    /* keys are checked when the master key is readable; monitoring without it still checks dates */
    struct cg_err kerr;
    cg_err_clear(&kerr);
    bool keys = cg_cli_master(cli, &kerr) == 0;
    struct cg_store_cert_list certs = {0};
    CG_GUARD(cg_store_cert_list(cli->store, cli->env, &certs, err));
    time_t now = cg_time_now();
    size_t bad = 0;
    json_t *arr = json_array();
    static const char *head[] = {"NAME", "KIND", "NOT AFTER", "DAYS LEFT", "STATUS", "PROBLEMS"};
    struct cg_table t;
    cg_table_init(&t, 6, head);
    int rc = 0;
    for (size_t i = 0; i < certs.n && rc == 0; i++) {
        struct finding f;
        cg_strlist_init(&f.problems);
        struct cg_cert_view v;
        rc = check_one(cli, &certs.items[i], now, days, &f, &v);
        bad += strcmp(f.status, "ok") != 0;
        char na[32] = "", left[24] = "";
        if (v.n) {
            cg_time_rfc3339(v.not_after, na, sizeof(na));
            snprintf(left, sizeof(left), "%ld", cg_time_days_until(v.not_after, now));
        }
        if (cli->json) {
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(certs.items[i].name));
            json_object_set_new(o, "kind", json_string(cg_cert_kind_name((enum cg_cert_kind)certs.items[i].kind)));
            json_object_set_new(o, "not_after", v.n ? json_string(na) : json_null());
            json_object_set_new(o, "days_left", v.n ? json_integer(cg_time_days_until(v.not_after, now)) : json_null());
            json_object_set_new(o, "status", json_string(f.status));
            json_t *p = json_array();
            for (size_t k = 0; k < f.problems.n; k++) json_array_append_new(p, json_string(f.problems.items[k]));
            json_object_set_new(o, "problems", p);
            json_array_append_new(arr, o);
        } else if (rc == 0) {
            char problems[2048] = "";
            size_t off = 0;
            for (size_t k = 0; k < f.problems.n && off < sizeof(problems); k++)
                off += (size_t)snprintf(problems + off, sizeof(problems) - off, "%s%s", k ? "; " : "", f.problems.items[k]);
            const char *cells[] = {certs.items[i].name, cg_cert_kind_name((enum cg_cert_kind)certs.items[i].kind), na,
                                   left, f.status, problems};
            rc = cg_table_row(&t, cells);
        }
        cg_cert_view_cleanup(&v);
        cg_strlist_cleanup(&f.problems);
    }
    struct cg_strlist sites;
    cg_strlist_init(&sites);
    if (rc == 0) rc = site_problems(cli, &sites);
    if (rc == 0 && cli->json) {
        json_t *o = json_object();
        json_t *sp = json_array();
        for (size_t k = 0; k < sites.n; k++) json_array_append_new(sp, json_string(sites.items[k]));
        json_object_set_new(o, "ok", json_boolean(bad == 0 && sites.n == 0));
        json_object_set_new(o, "days", json_integer(days));
        json_object_set_new(o, "environment", json_string(cli->env));
        json_object_set_new(o, "keys_checked", json_boolean(keys));
        json_object_set_new(o, "certificates", arr);
        json_object_set_new(o, "site_problems", sp);
        arr = NULL;
        rc = cg_cli_json_out(cli, o);
    } else if (rc == 0) {
        if (certs.n) cg_table_print(&t);
        printf("%zu certificate%s in '%s', %zu with problems (threshold %ld days)%s\n", certs.n,
               certs.n == 1 ? "" : "s", cli->env, bad, days, keys ? "" : "; private keys not checked");
        if (!keys) fprintf(stderr, "note: private keys not checked: %s\n", kerr.msg);
        for (size_t k = 0; k < sites.n; k++) printf("problem: %s\n", sites.items[k]);
    }
    size_t site_bad = sites.n;
    cg_strlist_cleanup(&sites);
    json_decref(arr);
    cg_table_cleanup(&t);
    cg_store_cert_list_cleanup(&certs);
    if (rc < 0) return rc;
    return bad || site_bad ? 1 : 0;
}

const struct cg_cli_cmd cg_cli_check_cmds[] = {
    {NULL, "check", "[--days N] [--json]",
     "exit 1 when any certificate is invalid, expired, not yet valid or expires within N days (default 30)", 0, 0,
     check_opts, run_check, NULL, NULL},
    {0},
};
