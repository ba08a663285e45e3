/* Snapshots: one consistent read of an environment, pins resolved against its certificates,
 * private keys unsealed only when a master key is given, and refusal of an inconsistent store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <unistd.h>

#include "config/snapshot.h"
#include "testpki.h"

static const uint8_t master[CG_MASTER_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static struct cg_store *open_store(const char *tag)
{
    char url[512];
    snprintf(url, sizeof(url), "sqlite:%s/snap-%s-%d.db", tp_tmpdir(), tag, (int)getpid());
    unlink(url + 7);
    struct cg_store *s;
    struct cg_err err;
    if (cg_store_open(url, true, &s, &err)) fail_msg("%s", err.msg);
    return s;
}

/* Stores an identity the way the CLI does: PEM of leaf + chain, the key sealed under its id. */
static void put_identity(struct cg_store *s, const char *env, const char *name, X509 *leaf, EVP_PKEY *key,
                         bool is_default)
{
    struct cg_buf pem, blob;
    cg_buf_init(&pem, 0);
    cg_buf_init(&blob, 0);
    struct cg_err err;
    struct cg_store_cert rec = {0};
    assert_int_equal(cg_store_new_id(rec.id), 0);
    STACK_OF(X509) *chain = sk_X509_new_null();
    sk_X509_push(chain, tp_pki_get()->intm);
    assert_int_equal(cg_pki_certs_to_pem(leaf, chain, &pem), 0);
    sk_X509_free(chain);
    assert_int_equal(cg_pki_key_seal(master, cg_slice_str(rec.id), key, &blob, &err), 0);
    rec.name = (char *)name;
    rec.kind = CG_STORE_CLIENT;
    rec.is_default = is_default;
    rec.cert_pem = (char *)cg_buf_str(&pem);
    rec.key_blob = blob.ptr;
    rec.key_blob_len = blob.len;
    rec.warnings_json = "[]";
    if (cg_store_cert_put(s, env, &rec, false, &err)) fail_msg("%s", err.msg);
    cg_buf_cleanup(&pem);
    cg_buf_cleanup(&blob);
}

static void test_load_and_resolve(void **state)
{
    (void)state;
    const struct tp_pki *p = tp_pki_get();
    struct cg_store *s = open_store("resolve");
    struct cg_err err;
    put_identity(s, "production", "alpha", p->leaf, p->leaf_key, true);
    put_identity(s, "production", "beta", p->leaf_ec, p->ec_key, false);
    put_identity(s, "stage", "alpha", p->other, p->other_key, false);
    assert_int_equal(cg_store_pin_put(s, "production", "Billing.Pay", "beta", &err), 0);
    assert_int_equal(cg_store_pin_put(s, "production", "*.partner.example", NULL, &err), 0);

    struct cg_snapshot *snap;
    assert_int_equal(cg_snapshot_load(s, "production", NULL, &snap, &err), 0);
    uint64_t rev;
    assert_int_equal(cg_store_revision(s, "production", &rev, &err), 0);
    assert_int_equal(snap->revision, rev);
    assert_int_equal(snap->n_certs, 2); /* stage's certificate is not here */
    int beta = cg_snapshot_cert_find(snap, "beta");
    assert_true(beta >= 0);
    assert_null(snap->certs[beta].key); /* no master key given: nothing unsealed */
    assert_non_null(snap->certs[beta].leaf);
    assert_int_equal(sk_X509_num(snap->certs[beta].certs), 1); /* the chain */
    assert_int_equal(strlen(snap->certs[beta].fingerprint), 64);

    struct cg_pin_match m;
    cg_pin_resolve(snap->pins, cg_slice_str("x.example"), 443, cg_slice_str("Billing.Pay"), &m);
    assert_int_equal(m.cert, beta);
    cg_pin_resolve(snap->pins, cg_slice_str("api.partner.example"), 443, cg_slice_str(NULL), &m);
    assert_int_equal(m.cert, CG_PIN_NONE);
    assert_int_equal(m.rule, CG_PIN_RULE_WILDCARD);
    cg_pin_resolve(snap->pins, cg_slice_str("elsewhere.example"), 443, cg_slice_str(NULL), &m);
    assert_int_equal(m.rule, CG_PIN_RULE_DEFAULT);
    assert_string_equal(snap->certs[m.cert].name, "alpha");

    /* a reference keeps the snapshot alive after the loader lets go */
    struct cg_snapshot *held = cg_snapshot_ref(snap);
    cg_snapshot_unref(snap);
    assert_string_equal(held->env, "production");
    cg_snapshot_unref(held);
    cg_store_close(s);
}

static void test_unseal_with_master(void **state)
{
    (void)state;
    const struct tp_pki *p = tp_pki_get();
    struct cg_store *s = open_store("unseal");
    put_identity(s, "production", "alpha", p->leaf, p->leaf_key, false);
    struct cg_snapshot *snap;
    struct cg_err err;
    assert_int_equal(cg_snapshot_load(s, "production", master, &snap, &err), 0);
    assert_non_null(snap->certs[0].key);
    assert_int_equal(X509_check_private_key(snap->certs[0].leaf, snap->certs[0].key), 1);
    cg_snapshot_unref(snap);

    /* another master key: the load fails and names the certificate */
    uint8_t wrong[CG_MASTER_KEY_LEN];
    memcpy(wrong, master, sizeof(wrong));
    wrong[0] ^= 1;
    cg_err_clear(&err);
    snap = NULL;
    assert_int_equal(cg_snapshot_load(s, "production", wrong, &snap, &err), CG_ECERT);
    assert_null(snap);
    assert_non_null(strstr(err.msg, "certificate 'alpha'"));
    assert_non_null(strstr(err.msg, "cannot decrypt"));
    cg_store_close(s);
}

static void test_empty_environment(void **state)
{
    (void)state;
    struct cg_store *s = open_store("empty");
    struct cg_snapshot *snap;
    struct cg_err err;
    assert_int_equal(cg_snapshot_load(s, "nowhere", master, &snap, &err), 0);
    assert_int_equal(snap->n_certs, 0);
    assert_int_equal(snap->revision, 0);
    struct cg_pin_match m;
    cg_pin_resolve(snap->pins, cg_slice_str("a.example"), 0, cg_slice_str(NULL), &m);
    assert_int_equal(m.rule, CG_PIN_RULE_NONE);
    cg_snapshot_unref(snap);
    cg_snapshot_unref(NULL);
    cg_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_resolve),
        cmocka_unit_test(test_unseal_with_master),
        cmocka_unit_test(test_empty_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
