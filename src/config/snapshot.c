#include "config/snapshot.h"

#include <string.h>
#include <strings.h>

#include "config/upstream.h"
#include "core/mem.h"

static void cert_cleanup(struct cg_snapshot_cert *c)
{
    cg_free(c->name);
    X509_free(c->leaf);
    sk_X509_pop_free(c->certs, X509_free);
    EVP_PKEY_free(c->key);
}

static void upstream_cleanup(struct cg_snapshot_upstream *u)
{
    cg_free(u->name);
    cg_free(u->host);
    cg_free(u->base_path);
    cg_free(u->server_name);
    cg_free(u->cas);
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

/* The store's row made ready for the egress, by the same rules the CLI applied before storing
 * it (config/upstream.h); a row that breaks them (a store edited by hand, or written by another
 * tool) fails the load, naming the upstream. */
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
    if (master && c->kind != CG_CERT_CA) {
        CG_ENSURE(row->key_blob, cg_err_set(err, CG_ESTORE, "certificate '%s' has no private key in the store",
                                            row->name));
        int rc = cg_pki_key_unseal(master, cg_slice_str(row->id), cg_slice_make(row->key_blob, row->key_blob_len),
                                   &c->key, err);
        if (rc < 0) return cg_err_prefix(err, "certificate '%s'", row->name);
    }
    return 0;
}

int cg_snapshot_load(struct cg_store *store, const char *env, const uint8_t *master,
                     struct cg_snapshot **out, struct cg_err *err)
{
    struct cg_snapshot *s = cg_calloc(1, sizeof(*s));
    CG_ENSURE(s, CG_ENOMEM);
    atomic_init(&s->refs, 1);
    struct cg_store_cert_list certs = {0};
    struct cg_store_pin_list pins = {0};
    struct cg_store_upstream_list ups = {0};
    int rc;
    bool in_tx = false;
    if (!(s->env = cg_strdup(env)) || !(s->pins = cg_pin_table_new())) {
        rc = CG_ENOMEM;
        goto out;
    }
    /* one read transaction: the revision matches the objects read */
    if ((rc = cg_store_begin(store, err)) < 0) goto out;
    in_tx = true;
    if ((rc = cg_store_revision(store, env, &s->revision, err)) < 0 ||
        (rc = cg_store_cert_list(store, env, &certs, err)) < 0 ||
        (rc = cg_store_pin_list(store, env, &pins, err)) < 0 ||
        (rc = cg_store_upstream_list(store, env, &ups, err)) < 0)
        goto out;
    s->certs = cg_calloc(certs.n, sizeof(*s->certs));
    if (!s->certs) {
        rc = CG_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < certs.n; i++) {
        s->n_certs++;
        if ((rc = load_cert(&certs.items[i], master, &s->certs[i], err)) < 0) goto out;
        if (s->certs[i].is_default && s->certs[i].kind == CG_CERT_CLIENT) cg_pin_table_set_default(s->pins, (int)i);
    }
    for (size_t i = 0; i < pins.n; i++) {
        int cert = CG_PIN_NONE;
        if (pins.items[i].cert_name && (cert = cg_snapshot_cert_find(s, pins.items[i].cert_name)) < 0) {
            rc = cg_err_set(err, CG_ESTORE, "pin '%s' names certificate '%s', which is not in the store",
                            pins.items[i].target, pins.items[i].cert_name);
            goto out;
        }
        if ((rc = cg_pin_table_add(s->pins, pins.items[i].target, cert, err)) < 0) goto out;
    }
    if ((rc = cg_pin_table_build(s->pins)) < 0) goto out;
    if (ups.n && !(s->upstreams = cg_calloc(ups.n, sizeof(*s->upstreams)))) {
        rc = CG_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < ups.n; i++) {
        s->n_upstreams++;
        if ((rc = load_upstream(s, &ups.items[i], &s->upstreams[i], err)) < 0) {
            /* the row was checked before it was stored: a refusal now means the store was
             * changed behind certgate's back */
            if (rc != CG_ENOMEM && rc != CG_ESTORE) {
                cg_err_prefix(err, "the store holds an upstream that certgate cannot use");
                cg_err_hint(err, "fix it with: certgate upstream set %s --env %s ..., or remove it: certgate upstream "
                                 "rm %s --env %s",
                            ups.items[i].name, env, ups.items[i].name, env);
                if (err) err->code = CG_ESTORE;
                rc = CG_ESTORE;
            }
            goto out;
        }
    }
out:
    if (in_tx) cg_store_rollback(store); /* read only: nothing to commit */
    cg_store_cert_list_cleanup(&certs);
    cg_store_pin_list_cleanup(&pins);
    cg_store_upstream_list_cleanup(&ups);
    if (rc < 0) {
        cg_snapshot_unref(s);
        return rc;
    }
    *out = s;
    return 0;
}
