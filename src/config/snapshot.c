#include "config/snapshot.h"

#include <string.h>

#include "core/mem.h"

static void cert_cleanup(struct cg_snapshot_cert *c)
{
    cg_free(c->name);
    X509_free(c->leaf);
    sk_X509_pop_free(c->certs, X509_free);
    EVP_PKEY_free(c->key);
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
        (rc = cg_store_pin_list(store, env, &pins, err)) < 0)
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
    rc = cg_pin_table_build(s->pins);
out:
    if (in_tx) cg_store_rollback(store); /* read only: nothing to commit */
    cg_store_cert_list_cleanup(&certs);
    cg_store_pin_list_cleanup(&pins);
    if (rc < 0) {
        cg_snapshot_unref(s);
        return rc;
    }
    *out = s;
    return 0;
}
