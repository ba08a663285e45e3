/* CRLs (src/pki/crl.c): loading PEM, DER and base64, the refusals of what is not a CRL or is
 * corrupt, the check against a CA bundle (issuer, cRLSign, signature, stale), the store's PEM
 * round trip and the facts `ca show` prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/mem.h"
#include "pki/pki.h"
#include "testpki.h"
#include "testutil.h"

#define DAY 86400L

/* A CRL of issuer signed with key: lastUpdate and nextUpdate relative to now (next 0: none),
 * the serials revoked. v1: no version field (RFC 5280 section 5.1.2.1). */
static X509_CRL *crl_make(X509 *issuer, EVP_PKEY *key, long last, long next, const long *serials, size_t n, bool v1)
{
    X509_CRL *crl = X509_CRL_new();
    assert_non_null(crl);
    if (!v1) assert_int_equal(X509_CRL_set_version(crl, X509_CRL_VERSION_2), 1);
    assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)), 1);
    ASN1_TIME *t = X509_gmtime_adj(NULL, last);
    assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
    ASN1_TIME_free(t);
    if (next) {
        t = X509_gmtime_adj(NULL, next);
        assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
        ASN1_TIME_free(t);
    }
    for (size_t i = 0; i < n; i++) {
        X509_REVOKED *r = X509_REVOKED_new();
        ASN1_INTEGER *sn = ASN1_INTEGER_new();
        ASN1_TIME *when = X509_gmtime_adj(NULL, -DAY);
        assert_int_equal(ASN1_INTEGER_set(sn, serials[i]), 1);
        assert_int_equal(X509_REVOKED_set_serialNumber(r, sn), 1);
        assert_int_equal(X509_REVOKED_set_revocationDate(r, when), 1);
        assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
        ASN1_INTEGER_free(sn);
        ASN1_TIME_free(when);
    }
    assert_int_equal(X509_CRL_sort(crl), 1);
    assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    return crl;
}

static void pem_crl(struct cg_buf *b, X509_CRL *crl)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509_CRL(bio, crl), 1);
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);
    tp_append(b, p, (size_t)n);
    BIO_free(bio);
}

static void der_crl(struct cg_buf *b, X509_CRL *crl)
{
    unsigned char *der = NULL;
    int n = i2d_X509_CRL(crl, &der);
    assert_true(n > 0);
    tp_append(b, der, (size_t)n);
    OPENSSL_free(der);
}

/* The same DER encoding (X509_CRL_match compares a hash that only decoding computes). */
static bool same_crl(X509_CRL *a, X509_CRL *b)
{
    unsigned char *da = NULL, *db = NULL;
    int na = i2d_X509_CRL(a, &da), nb = i2d_X509_CRL(b, &db);
    bool same = na > 0 && na == nb && memcmp(da, db, (size_t)na) == 0;
    OPENSSL_free(da);
    OPENSSL_free(db);
    return same;
}

static int load(const struct cg_buf *b, STACK_OF(X509_CRL) **out, struct cg_err *err)
{
    struct cg_pki_input in = {"revoked.crl", cg_buf_slice(b)};
    return cg_pki_crls_load(&in, out, err);
}

static STACK_OF(X509) *bundle(const struct tp_pki *p)
{
    STACK_OF(X509) *cas = sk_X509_new_null();
    assert_non_null(cas);
    X509_up_ref(p->root);
    X509_up_ref(p->intm);
    sk_X509_push(cas, p->root);
    sk_X509_push(cas, p->intm);
    return cas;
}

static void crls_free(STACK_OF(X509_CRL) *c) { sk_X509_CRL_pop_free(c, X509_CRL_free); }

/* ---- loading ------------------------------------------------------------------------------- */

static void test_load_shapes(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    long serials[] = {13, 0x0abcdef};
    X509_CRL *by_int = crl_make(p->intm, p->int_key, -DAY, 7 * DAY, serials, 2, false);
    X509_CRL *by_root = crl_make(p->root, p->root_key, -DAY, 30 * DAY, NULL, 0, false);
    X509_CRL *v1 = crl_make(p->intm, p->int_key, -DAY, 0, NULL, 0, true);
    struct cg_buf b, b64;
    cg_buf_init(&b, 0);
    cg_buf_init(&b64, 0);
    STACK_OF(X509_CRL) *crls = NULL;
    struct cg_err err;

    /* PEM: every CRL block, in order; certificates in the same file are ignored */
    tp_pem_cert(&b, p->root);
    pem_crl(&b, by_int);
    tp_pem_cert(&b, p->intm);
    pem_crl(&b, by_root);
    assert_ok(load(&b, &crls, &err), err);
    assert_int_equal(sk_X509_CRL_num(crls), 2);
    assert_true(same_crl(sk_X509_CRL_value(crls, 0), by_int));
    assert_true(same_crl(sk_X509_CRL_value(crls, 1), by_root));
    crls_free(crls);

    /* DER, v2 (which format detection takes for a certificate at first sight) and v1 */
    cg_buf_reset(&b);
    der_crl(&b, by_int);
    assert_ok(load(&b, &crls, &err), err);
    assert_int_equal(sk_X509_CRL_num(crls), 1);
    assert_true(same_crl(sk_X509_CRL_value(crls, 0), by_int));
    crls_free(crls);
    cg_buf_reset(&b);
    der_crl(&b, v1);
    assert_ok(load(&b, &crls, &err), err);
    assert_int_equal(sk_X509_CRL_num(crls), 1);
    crls_free(crls);

    /* base64 of DER */
    cg_buf_reset(&b);
    der_crl(&b, by_int);
    tp_base64(&b64, &b);
    assert_ok(load(&b64, &crls, &err), err);
    assert_int_equal(sk_X509_CRL_num(crls), 1);
    crls_free(crls);

    cg_buf_cleanup(&b);
    cg_buf_cleanup(&b64);
    X509_CRL_free(by_int);
    X509_CRL_free(by_root);
    X509_CRL_free(v1);
}

static void test_load_refused(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    X509_CRL *crl = crl_make(p->intm, p->int_key, -DAY, 7 * DAY, NULL, 0, false);
    struct cg_buf b;
    cg_buf_init(&b, 0);
    STACK_OF(X509_CRL) *crls = NULL;
    struct cg_err err;

    assert_refused(load(&b, &crls, &err), CG_EFORMAT, err, "'revoked.crl' is an empty file, not a CRL");
    assert_true(err.hint[0] != '\0');
    tp_pem_cert(&b, p->root);
    assert_refused(load(&b, &crls, &err), CG_EFORMAT, err, "is a PEM file with 1 certificate and no private key, not a CRL");
    cg_buf_reset(&b);
    tp_der_cert(&b, p->root);
    assert_refused(load(&b, &crls, &err), CG_EFORMAT, err, "is a DER certificate, not a CRL");
    cg_buf_reset(&b);
    tp_append_str(&b, "these are not the revocations you are looking for\n");
    assert_refused(load(&b, &crls, &err), CG_EFORMAT, err, "not a CRL");

    /* cut short, in either encoding */
    cg_buf_reset(&b);
    der_crl(&b, crl);
    b.len /= 2;
    assert_refused(load(&b, &crls, &err), CG_EPROTO, err, "truncated or corrupt");
    cg_buf_reset(&b);
    der_crl(&b, crl);
    tp_append_str(&b, "junk");
    assert_refused(load(&b, &crls, &err), CG_EPROTO, err, "bytes follow the DER CRL");
    cg_buf_reset(&b);
    pem_crl(&b, crl);
    b.len -= 30;
    b.ptr[b.len] = '\0';
    assert_refused(load(&b, &crls, &err), CG_EPROTO, err, "a CRL block has no END line");
    cg_buf_reset(&b);
    tp_append_str(&b, "-----BEGIN X509 CRL-----\nMIIBbm90IGEgQ1JM\n-----END X509 CRL-----\n");
    assert_refused(load(&b, &crls, &err), CG_EPROTO, err, "a CRL block cannot be read");

    /* caps: bytes and CRLs */
    cg_buf_reset(&b);
    for (int i = 0; i <= 64; i++) pem_crl(&b, crl);
    assert_refused(load(&b, &crls, &err), CG_ELIMIT, err, "more than 64 CRLs");
    cg_buf_reset(&b);
    tp_reserve(&b, CG_PKI_MAX_INPUT + 1);
    memset(b.ptr, 'A', CG_PKI_MAX_INPUT + 1);
    b.len = CG_PKI_MAX_INPUT + 1;
    assert_refused(load(&b, &crls, &err), CG_ELIMIT, err, "larger than");
    assert_null(crls);
    assert_int_equal(cg_pki_crls_load(NULL, &crls, &err), CG_EINVAL);

    cg_buf_cleanup(&b);
    X509_CRL_free(crl);
}

/* ---- checking against the bundle ----------------------------------------------------------- */

static STACK_OF(X509_CRL) *one(X509_CRL *crl)
{
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    assert_non_null(crls);
    sk_X509_CRL_push(crls, crl);
    return crls;
}

static void test_check(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    STACK_OF(X509) *cas = bundle(p);
    time_t now = time(NULL);
    struct cg_strlist w;
    cg_strlist_init(&w);
    struct cg_err err;

    /* fresh CRLs of both issuers of the bundle: accepted, no warning */
    STACK_OF(X509_CRL) *crls = one(crl_make(p->intm, p->int_key, -DAY, 7 * DAY, NULL, 0, false));
    sk_X509_CRL_push(crls, crl_make(p->root, p->root_key, -DAY, 0, NULL, 0, false));
    assert_ok(cg_pki_crls_check(crls, cas, now, &w, &err), err);
    assert_int_equal(w.n, 0);
    crls_free(crls);

    /* stale, or from the future: stored with a warning */
    crls = one(crl_make(p->intm, p->int_key, -30 * DAY, -2 * DAY, NULL, 0, false));
    sk_X509_CRL_push(crls, crl_make(p->root, p->root_key, 2 * DAY, 9 * DAY, NULL, 0, false));
    assert_ok(cg_pki_crls_check(crls, cas, now, &w, &err), err);
    assert_int_equal(w.n, 2);
    assert_non_null(strstr(w.items[0], "the CRL of 'CN=Test Intermediate CA,O=Certgate Test' is stale"));
    assert_non_null(strstr(w.items[0], "--crl"));
    assert_non_null(strstr(w.items[1], "is not valid yet"));
    crls_free(crls);

    /* another issuer: refused, naming it and what the bundle holds */
    EVP_PKEY *stranger_key = tp_key_ec();
    struct tp_opts ca = {.ca = true};
    X509 *stranger = tp_cert("Stranger CA", stranger_key, NULL, NULL, &ca);
    crls = one(crl_make(stranger, stranger_key, -DAY, DAY, NULL, 0, false));
    assert_refused(cg_pki_crls_check(crls, cas, now, &w, &err), CG_ECERT, err,
                   "the CRL issued by 'CN=Stranger CA,O=Certgate Test' does not belong to this CA bundle");
    assert_non_null(strstr(err.hint, "CN=Test Root CA"));
    assert_non_null(strstr(err.hint, "CN=Test Intermediate CA"));
    crls_free(crls);

    /* the right name, the wrong key: a forgery, or another CA of the same name */
    crls = one(crl_make(p->intm, stranger_key, -DAY, DAY, NULL, 0, false));
    assert_refused(cg_pki_crls_check(crls, cas, now, &w, &err), CG_ECERT, err, "has a signature that");
    crls_free(crls);

    /* an issuer whose key usage does not allow signing CRLs */
    STACK_OF(X509) *leafs = sk_X509_new_null();
    X509_up_ref(p->other);
    sk_X509_push(leafs, p->other);
    crls = one(crl_make(p->other, p->other_key, -DAY, DAY, NULL, 0, false));
    assert_refused(cg_pki_crls_check(crls, leafs, now, &w, &err), CG_ECERT, err, "cRLSign");
    crls_free(crls);
    sk_X509_pop_free(leafs, X509_free);
    assert_int_equal(w.n, 2); /* refusals add no warning */

    X509_free(stranger);
    EVP_PKEY_free(stranger_key);
    cg_strlist_cleanup(&w);
    sk_X509_pop_free(cas, X509_free);
}

/* ---- the store's PEM, and facts ------------------------------------------------------------ */

static void test_pem_round_trip_and_facts(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    long serials[] = {13, 14, 15};
    STACK_OF(X509_CRL) *crls = one(crl_make(p->intm, p->int_key, -DAY, 7 * DAY, serials, 3, false));
    sk_X509_CRL_push(crls, crl_make(p->root, p->root_key, -DAY, 0, NULL, 0, true));
    struct cg_buf pem;
    cg_buf_init(&pem, 0);
    assert_int_equal(cg_pki_crls_to_pem(crls, &pem), 0);
    assert_non_null(strstr(cg_buf_str(&pem), "-----BEGIN X509 CRL-----"));
    STACK_OF(X509_CRL) *back = NULL;
    struct cg_err err;
    assert_ok(cg_pki_crls_from_pem(cg_buf_slice(&pem), &back, &err), err);
    assert_int_equal(sk_X509_CRL_num(back), 2);
    for (int i = 0; i < 2; i++) assert_true(same_crl(sk_X509_CRL_value(back, i), sk_X509_CRL_value(crls, i)));

    struct cg_pki_crl_facts f;
    cg_pki_crl_facts_get(sk_X509_CRL_value(back, 0), &f);
    assert_string_equal(f.issuer, "CN=Test Intermediate CA,O=Certgate Test");
    assert_int_equal(f.revoked, 3);
    time_t now = time(NULL);
    assert_true(f.last_update <= now - DAY + 60 && f.last_update >= now - DAY - 60);
    assert_true(f.next_update >= now + 7 * DAY - 60 && f.next_update <= now + 7 * DAY + 60);
    cg_pki_crl_facts_get(sk_X509_CRL_value(back, 1), &f);
    assert_string_equal(f.issuer, "CN=Test Root CA,O=Certgate Test");
    assert_int_equal(f.next_update, 0);
    assert_int_equal(f.revoked, 0);
    crls_free(back);

    /* nothing in, nothing out; anything but CRLs is not what the store wrote */
    assert_ok(cg_pki_crls_from_pem(cg_slice_str(""), &back, &err), err);
    assert_non_null(back);
    assert_int_equal(sk_X509_CRL_num(back), 0);
    crls_free(back);
    struct cg_buf other;
    cg_buf_init(&other, 0);
    tp_pem_cert(&other, p->root);
    assert_refused(cg_pki_crls_from_pem(cg_buf_slice(&other), &back, &err), CG_EFORMAT, err,
                   "holds a 'CERTIFICATE' block, not a CRL");
    assert_null(back);
    pem.len -= 40;
    assert_refused(cg_pki_crls_from_pem(cg_buf_slice(&pem), &back, &err), CG_EPROTO, err, "truncated or corrupt");
    assert_null(back);
    cg_buf_cleanup(&other);

    struct cg_buf empty;
    cg_buf_init(&empty, 0);
    assert_int_equal(cg_pki_crls_to_pem(NULL, &empty), 0);
    assert_int_equal(empty.len, 0);
    cg_buf_cleanup(&empty);
    cg_buf_cleanup(&pem);
    crls_free(crls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_shapes),
        cmocka_unit_test(test_load_refused),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_pem_round_trip_and_facts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
