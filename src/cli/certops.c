#include "cli/certops.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/file.h"
#include "core/mem.h"
#include "core/str.h"
#include "core/time.h"

int cg_cli_name_check(const char *what, const char *name, struct cg_err *err)
{
    size_t n = strlen(name);
    bool ok = n > 0 && n <= CG_CLI_NAME_MAX_LEN;
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             (i > 0 && (c == '-' || c == '_' || c == '.'));
    }
    if (ok && strcmp(name, "none") == 0) ok = false;
    if (ok) return 0;
    cg_err_set(err, CG_EUSAGE, "%s name '%s' is not valid", what, name);
    return cg_err_hint(err, "use 1 to %d letters, digits, '-', '_' and '.', starting with a letter or digit "
                            "('none' is reserved for pins)",
                       CG_CLI_NAME_MAX_LEN);
}

/* The idx-th inline input of a named arg, or NULL. */
static const struct cg_cli_input *inline_input(const struct cg_cli_args *a, const char *arg, int idx)
{
    for (int i = 0; a && i < a->n_inputs; i++)
        if (!strcmp(a->inputs[i].arg, arg) && idx-- == 0) return &a->inputs[i];
    return NULL;
}

int cg_cli_read_input(const struct cg_cli *cli, const struct cg_cli_args *a, const char *arg, int idx,
                      const char *path, struct cg_buf *out, struct cg_err *err)
{
    const struct cg_cli_input *in = inline_input(a, arg, idx);
    if (in) {
        if (in->len > out->max) {
            cg_err_set(err, CG_ELIMIT, "%s: %zu bytes is over the limit of %zu", path, in->len, out->max);
            return cg_err_hint(err, "certificates, keys and bundles are at most %d bytes; check that this is the "
                                    "right file", CG_PKI_MAX_INPUT);
        }
        return cg_buf_append(out, in->data, in->len);
    }
    if (cli->api) { /* the API never reads the daemon's own files */
        cg_err_set(err, CG_EUSAGE, "%s: no content was uploaded for '%s'", path, arg);
        return cg_err_hint(err, "send the file's content in the request (a multipart file field, or base64 in JSON)");
    }
    int rc = cg_file_read(path, out, err);
    if (rc == CG_ELIMIT)
        cg_err_hint(err, "certificates, keys and bundles are at most %d bytes; check that this is the right file",
                    CG_PKI_MAX_INPUT);
    return rc;
}

int cg_cli_identity_load(const struct cg_cli *cli, const struct cg_cli_args *a, const char *file, const char *key_file,
                         const char *chain_file, const char *password, bool may_prompt, struct cg_pki_identity *out,
                         struct cg_err *err)
{
    may_prompt = may_prompt && !cli->api;
    struct cg_buf main_buf, key_buf, chain_buf;
    cg_buf_init_secret(&main_buf, CG_PKI_MAX_INPUT);
    cg_buf_init_secret(&key_buf, CG_PKI_MAX_INPUT);
    cg_buf_init(&chain_buf, CG_PKI_MAX_INPUT);
    char *asked = NULL;
    int rc;
    if ((rc = cg_cli_read_input(cli, a, "file", 0, file, &main_buf, err)) < 0) goto out;
    if (key_file && (rc = cg_cli_read_input(cli, a, "key", 0, key_file, &key_buf, err)) < 0) goto out;
    if (chain_file && (rc = cg_cli_read_input(cli, a, "chain", 0, chain_file, &chain_buf, err)) < 0) goto out;
    struct cg_pki_input in_main = {file, cg_buf_slice(&main_buf)};
    struct cg_pki_input in_key = {key_file, cg_buf_slice(&key_buf)};
    struct cg_pki_input in_chain = {chain_file, cg_buf_slice(&chain_buf)};
    rc = cg_pki_identity_load(&in_main, key_file ? &in_key : NULL, chain_file ? &in_chain : NULL, password, out,
                              err);
    if (rc == CG_EPASSWORD && !password && may_prompt && cg_cli_interactive()) {
        char prompt[512];
        snprintf(prompt, sizeof(prompt), "password for %s: ", key_file && !strstr(err->msg, file) ? key_file : file);
        if ((rc = cg_cli_prompt_password(prompt, &asked, err)) < 0) goto out;
        rc = cg_pki_identity_load(&in_main, key_file ? &in_key : NULL, chain_file ? &in_chain : NULL, asked, out,
                                  err);
    } else if (rc == CG_EPASSWORD && !password && may_prompt) {
        cg_err_hint(err, "give the password with --password-file FILE or --password-env VAR (there is no terminal "
                         "to ask on)");
    }
out:
    cg_free_secret_str(asked);
    cg_buf_cleanup(&main_buf);
    cg_buf_cleanup(&key_buf);
    cg_buf_cleanup(&chain_buf);
    return rc;
}

static char *warnings_json(const struct cg_strlist *w)
{
    json_t *a = json_array();
    if (!a) return NULL;
    for (size_t i = 0; i < w->n; i++) json_array_append_new(a, json_string(w->items[i]));
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

int cg_cli_cert_save(struct cg_cli *cli, const char *name, enum cg_cert_kind kind, const struct cg_pki_identity *id,
                     STACK_OF(X509) *cas, STACK_OF(X509_CRL) *crls, bool replace, bool make_default,
                     struct cg_strlist *warnings, struct cg_err *err)
{
    struct cg_strlist w;
    cg_strlist_init(&w);
    struct cg_buf pem, blob, crl_pem;
    cg_buf_init(&pem, 0);
    cg_buf_init(&blob, 0);
    cg_buf_init(&crl_pem, 0);
    struct cg_store_cert rec = {0};
    struct cg_store_cert old = {0};
    char *wj = NULL;
    int rc;
    time_t now = cg_time_now();

    if (replace) {
        rc = cg_store_cert_get(cli->store, cli->env, name, &old, err);
        if (rc == 0 && old.kind != (int)kind) {
            rc = cg_err_set(err, CG_EINVAL, "certificate '%s' is a %s certificate; it cannot be replaced by a %s", name,
                            cg_cert_kind_name((enum cg_cert_kind)old.kind), cg_cert_kind_name(kind));
            cg_err_hint(err, "remove it first (certgate cert rm %s) or choose another name", name);
            goto out;
        }
        if (rc == CG_ENOTFOUND) replace = false; /* --replace of a new name simply adds it */
        else if (rc < 0) goto out;
        cg_err_clear(err);
    }
    rc = kind == CG_CERT_CA ? cg_pki_ca_check(cas, now, &w) : cg_pki_identity_check(id, kind, now, &w);
    if (rc < 0) goto out;
    if (kind == CG_CERT_CA && crls && sk_X509_CRL_num(crls) > 0) {
        if ((rc = cg_pki_crls_check(crls, cas, now, &w, err)) < 0) goto out;
        if ((rc = cg_pki_crls_to_pem(crls, &crl_pem)) < 0) goto out;
        rec.crl_pem = (char *)cg_buf_str(&crl_pem);
    }
    rc = CG_ENOMEM;
    if (!(wj = warnings_json(&w))) goto out;
    if ((rc = kind == CG_CERT_CA ? cg_pki_certs_to_pem(NULL, cas, &pem) : cg_pki_certs_to_pem(id->leaf, id->chain, &pem)) < 0)
        goto out;
    if ((rc = cg_store_new_id(rec.id)) < 0) goto out;
    if (kind != CG_CERT_CA) {
        if ((rc = cg_cli_master(cli, err)) < 0) goto out;
        if ((rc = cg_pki_key_seal(cli->master, cg_slice_str(rec.id), id->key, &blob, err)) < 0) goto out;
        rec.key_blob = blob.ptr;
        rec.key_blob_len = blob.len;
    }
    rec.name = (char *)name;
    rec.kind = (int)kind;
    rec.is_default = (replace && old.is_default) || (make_default && kind == CG_CERT_CLIENT);
    rec.cert_pem = (char *)cg_buf_str(&pem);
    rec.warnings_json = wj;
    if ((rc = cg_store_cert_put(cli->store, cli->env, &rec, replace, err)) < 0) goto out;
    if (make_default && (rc = cg_store_cert_set_default(cli->store, cli->env, name, err)) < 0) goto out;
    for (size_t i = 0; warnings && i < w.n; i++)
        if ((rc = cg_strlist_add(warnings, w.items[i])) < 0) goto out;
    rc = 0;
out:
    cg_store_cert_cleanup(&old);
    free(wj);
    cg_buf_cleanup(&pem);
    cg_buf_cleanup(&crl_pem);
    cg_wipe(blob.ptr, blob.cap);
    cg_buf_cleanup(&blob);
    cg_strlist_cleanup(&w);
    return rc;
}

bool cg_cli_sans_cover(const struct cg_pki_facts *f, const char *host)
{
    return cg_pki_sans_cover(&f->sans, host);
}

int cg_cli_bundle_find(STACK_OF(X509) *cas, const char *fp)
{
    for (int i = 0; i < sk_X509_num(cas); i++) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        char hex[2 * EVP_MAX_MD_SIZE + 1];
        if (!X509_digest(sk_X509_value(cas, i), EVP_sha256(), md, &n)) continue;
        cg_hex_encode(md, n, hex);
        if (!strcmp(hex, fp)) return i;
    }
    return -1;
}

int cg_cert_view_load(const struct cg_store_cert *row, struct cg_cert_view *v, struct cg_err *err)
{
    memset(v, 0, sizeof(*v));
    v->row = row;
    cg_strlist_init(&v->warnings);
    CG_GUARD(cg_pki_certs_from_pem(cg_slice_str(row->cert_pem), &v->certs, err));
    v->n = (size_t)sk_X509_num(v->certs);
    v->facts = cg_calloc(v->n, sizeof(*v->facts));
    CG_ENSURE(v->facts, CG_ENOMEM);
    for (size_t i = 0; i < v->n; i++) {
        CG_GUARD(cg_pki_facts_get(sk_X509_value(v->certs, (int)i), &v->facts[i]));
        bool bundle_wide = row->kind == CG_STORE_CA;
        if (i == 0 || (bundle_wide && v->facts[i].not_after < v->not_after)) v->not_after = v->facts[i].not_after;
        if (i == 0 || (bundle_wide && v->facts[i].not_before > v->not_before)) v->not_before = v->facts[i].not_before;
    }
    json_error_t je;
    json_t *w = json_loads(row->warnings_json ? row->warnings_json : "[]", 0, &je);
    size_t i;
    json_t *item;
    json_array_foreach(w, i, item)
    {
        if (json_is_string(item)) CG_GUARD(cg_strlist_add(&v->warnings, json_string_value(item)));
    }
    json_decref(w);
    if (row->crl_pem) return cg_pki_crls_from_pem(cg_slice_str(row->crl_pem), &v->crls, err);
    return 0;
}

void cg_cert_view_cleanup(struct cg_cert_view *v)
{
    sk_X509_CRL_pop_free(v->crls, X509_CRL_free);
    for (size_t i = 0; v->facts && i < v->n; i++) cg_pki_facts_cleanup(&v->facts[i]);
    cg_free(v->facts);
    sk_X509_pop_free(v->certs, X509_free);
    cg_strlist_cleanup(&v->warnings);
    memset(v, 0, sizeof(*v));
}

static json_t *strlist_json(const struct cg_strlist *l)
{
    json_t *a = json_array();
    for (size_t i = 0; a && l && i < l->n; i++) json_array_append_new(a, json_string(l->items[i]));
    return a;
}

/* The facts of one certificate into o; validity given separately because a bundle reports its
 * tightest window at the top level. */
static void facts_fill(json_t *o, const struct cg_pki_facts *f, time_t not_before, time_t not_after, time_t now)
{
    char nb[32], na[32];
    json_object_set_new(o, "subject", json_string(f->subject));
    json_object_set_new(o, "issuer", json_string(f->issuer));
    json_object_set_new(o, "serial", json_string(f->serial));
    json_object_set_new(o, "not_before", json_string(cg_time_rfc3339(not_before, nb, sizeof(nb))));
    json_object_set_new(o, "not_after", json_string(cg_time_rfc3339(not_after, na, sizeof(na))));
    json_object_set_new(o, "days_left", json_integer(cg_time_days_until(not_after, now)));
    json_object_set_new(o, "fingerprint_sha256", json_string(f->fingerprint));
    json_object_set_new(o, "spki_sha256", json_string(f->spki_sha256));
    json_object_set_new(o, "key_type", json_string(f->key_type));
    json_object_set_new(o, "key_bits", json_integer(f->key_bits));
    if (f->key_curve[0]) json_object_set_new(o, "key_curve", json_string(f->key_curve));
    json_object_set_new(o, "is_ca", json_boolean(f->is_ca));
    json_object_set_new(o, "sans", strlist_json(&f->sans));
    json_object_set_new(o, "extended_key_usage", strlist_json(&f->eku));
}

/* [{issuer, last_update, next_update, stale, revoked}] */
static json_t *crls_json(STACK_OF(X509_CRL) *crls, time_t now)
{
    json_t *a = json_array();
    for (int i = 0; a && crls && i < sk_X509_CRL_num(crls); i++) {
        struct cg_pki_crl_facts f;
        cg_pki_crl_facts_get(sk_X509_CRL_value(crls, i), &f);
        char lu[32], nu[32];
        json_t *c = json_object();
        json_object_set_new(c, "issuer", json_string(f.issuer));
        json_object_set_new(c, "last_update", json_string(cg_time_rfc3339(f.last_update, lu, sizeof(lu))));
        json_object_set_new(c, "next_update",
                            f.next_update ? json_string(cg_time_rfc3339(f.next_update, nu, sizeof(nu))) : json_null());
        json_object_set_new(c, "stale", json_boolean(f.next_update && f.next_update < now));
        json_object_set_new(c, "revoked", json_integer((json_int_t)f.revoked));
        json_array_append_new(a, c);
    }
    return a;
}

json_t *cg_cert_view_json(const struct cg_cert_view *v, time_t now, const struct cg_strlist *pinned_by)
{
    char ts[32];
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(v->row->name));
    json_object_set_new(o, "kind", json_string(cg_cert_kind_name((enum cg_cert_kind)v->row->kind)));
    json_object_set_new(o, "default", json_boolean(v->row->is_default));
    facts_fill(o, &v->facts[0], v->not_before, v->not_after, now);
    json_object_set_new(o, "warnings", strlist_json(&v->warnings));
    json_t *list = json_array();
    for (size_t i = v->row->kind == CG_STORE_CA ? 0 : 1; i < v->n; i++) {
        json_t *c = json_object();
        facts_fill(c, &v->facts[i], v->facts[i].not_before, v->facts[i].not_after, now);
        json_array_append_new(list, c);
    }
    json_object_set_new(o, v->row->kind == CG_STORE_CA ? "certificates" : "chain", list);
    if (v->row->kind == CG_STORE_CA) json_object_set_new(o, "crls", crls_json(v->crls, now));
    if (pinned_by) json_object_set_new(o, "pinned_by", strlist_json(pinned_by));
    json_object_set_new(o, "created_at", json_string(cg_time_rfc3339((time_t)v->row->created_at, ts, sizeof(ts))));
    json_object_set_new(o, "updated_at", json_string(cg_time_rfc3339((time_t)v->row->updated_at, ts, sizeof(ts))));
    return o;
}

void cg_cli_print_saved(const struct cg_cli *cli, const char *verb, const char *name, enum cg_cert_kind kind, X509 *first, size_t n_certs,
                        const struct cg_strlist *warnings)
{
    struct cg_pki_facts f;
    if (first && cg_pki_facts_get(first, &f) == 0) {
        char na[32];
        long days = cg_time_days_until(f.not_after, cg_time_now());
        if (kind == CG_CERT_CA)
            cg_cli_say(cli, "%s ca '%s': %zu certificate%s, first %s, expires %s (%ld days)\n", verb, name, n_certs,
                   n_certs == 1 ? "" : "s", f.subject, cg_time_rfc3339(f.not_after, na, sizeof(na)), days);
        else
            cg_cli_say(cli, "%s %s certificate '%s': %s, expires %s (%ld days), sha256 %s\n", verb, cg_cert_kind_name(kind),
                   name, f.subject, cg_time_rfc3339(f.not_after, na, sizeof(na)), days, f.fingerprint);
        cg_pki_facts_cleanup(&f);
    }
    for (size_t i = 0; warnings && i < warnings->n; i++)
        cg_cli_warn(cli, "%s '%s': %s\n", kind == CG_CERT_CA ? "ca" : "certificate", name, warnings->items[i]);
}
