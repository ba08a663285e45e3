/* cg_pki_identity_load: every accepted shape (PKCS#12 in each encryption, PEM, DER, base64,
 * separate key and chain) and every refusal listed in pki.h, with its code and quoted phrase. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>

#include "core/file.h"
#include "pki/pki.h"
#include "testpki.h"
#include "testutil.h"

struct files {
    struct cg_buf main, key, chain;
};

static void files_init(struct files *f)
{
    cg_buf_init(&f->main, 0);
    cg_buf_init(&f->key, 0);
    cg_buf_init(&f->chain, 0);
}

static void files_cleanup(struct files *f)
{
    cg_buf_cleanup(&f->main);
    cg_buf_cleanup(&f->key);
    cg_buf_cleanup(&f->chain);
}

/* Loads; key/chain only when their buffer is non-empty (use_empty forces them). */
static int load(struct files *f, const char *password, bool with_key, bool with_chain, struct cg_pki_identity *id,
                struct cg_err *err)
{
    struct cg_pki_input m = {"main.bin", cg_buf_slice(&f->main)};
    struct cg_pki_input k = {"key.bin", cg_buf_slice(&f->key)};
    struct cg_pki_input c = {"chain.bin", cg_buf_slice(&f->chain)};
    return cg_pki_identity_load(&m, with_key ? &k : NULL, with_chain ? &c : NULL, password, id, err);
}

static void assert_empty(const struct cg_pki_identity *id)
{
    assert_null(id->leaf);
    assert_null(id->key);
    assert_null(id->chain);
}

/* The leaf is `leaf`, the key matches it, and the chain is intermediate then root. */
static void assert_identity(const struct cg_pki_identity *id, X509 *leaf, int chain_len)
{
    const struct tp_pki *p = tp_pki_get();
    assert_non_null(id->leaf);
    assert_non_null(id->key);
    assert_non_null(id->chain);
    assert_int_equal(X509_cmp(id->leaf, leaf), 0);
    assert_int_equal(X509_check_private_key(id->leaf, id->key), 1);
    assert_int_equal(sk_X509_num(id->chain), chain_len);
    if (chain_len >= 1) assert_int_equal(X509_cmp(sk_X509_value(id->chain, 0), p->intm), 0);
    if (chain_len >= 2) assert_int_equal(X509_cmp(sk_X509_value(id->chain, 1), p->root), 0);
    assert_int_equal(ERR_peek_error(), 0);
}

/* root first: the loader must reorder */
static STACK_OF(X509) *chain_root_first(void)
{
    const struct tp_pki *p = tp_pki_get();
    STACK_OF(X509) *ca = sk_X509_new_null();
    sk_X509_push(ca, p->root);
    sk_X509_push(ca, p->intm);
    return ca;
}

static void p12_case(int nid_key, int nid_cert, bool mac, const char *create_pw, const char *load_pw)
{
    const struct tp_pki *p = tp_pki_get();
    struct files f;
    files_init(&f);
    STACK_OF(X509) *ca = chain_root_first();
    tp_p12(&f.main, create_pw, p->leaf_key, p->leaf, ca, nid_key, nid_cert, mac);
    sk_X509_free(ca);
    struct cg_pki_identity id;
    struct cg_err err;
    assert_ok(load(&f, load_pw, false, false, &id, &err), err);
    assert_identity(&id, p->leaf, 2);
    cg_pki_identity_cleanup(&id);
    assert_empty(&id);
    files_cleanup(&f);
}

/* ---- PKCS#12: every encryption ---- */

static void test_p12_modern_default(void **s)
{
    (void)s;
    p12_case(0, 0, true, "s3cret", "s3cret");
}
static void test_p12_aes256_explicit(void **s)
{
    (void)s;
    p12_case(NID_aes_256_cbc, NID_aes_256_cbc, true, "s3cret", "s3cret");
}
static void test_p12_legacy_rc2_3des(void **s)
{
    (void)s;
    p12_case(NID_pbe_WithSHA1And3_Key_TripleDES_CBC, NID_pbe_WithSHA1And40BitRC2_CBC, true, "s3cret", "s3cret");
}
static void test_p12_3des_only(void **s)
{
    (void)s;
    p12_case(NID_pbe_WithSHA1And3_Key_TripleDES_CBC, NID_pbe_WithSHA1And3_Key_TripleDES_CBC, true, "s3cret",
             "s3cret");
}
static void test_p12_nomac_modern(void **s)
{
    (void)s;
    p12_case(0, 0, false, "s3cret", "s3cret");
}
static void test_p12_nomac_legacy(void **s)
{
    (void)s;
    p12_case(NID_pbe_WithSHA1And3_Key_TripleDES_CBC, NID_pbe_WithSHA1And40BitRC2_CBC, false, "s3cret", "s3cret");
}
static void test_p12_unencrypted_certs(void **s)
{
    (void)s;
    p12_case(NID_aes_256_cbc, -1, true, "s3cret", "s3cret");
}
static void test_p12_empty_password(void **s)
{
    (void)s;
    p12_case(0, 0, true, "", NULL);                                  /* "" tried when none given */
    p12_case(NID_pbe_WithSHA1And3_Key_TripleDES_CBC, NID_pbe_WithSHA1And40BitRC2_CBC, true, "", NULL);
    p12_case(0, 0, false, "", NULL);
    p12_case(0, 0, true, "", "");                                    /* "" given explicitly */
}
static void test_p12_no_password(void **s)
{
    (void)s;
    p12_case(0, 0, true, NULL, NULL); /* created with a NULL password: tried second */
    p12_case(NID_pbe_WithSHA1And3_Key_TripleDES_CBC, NID_pbe_WithSHA1And40BitRC2_CBC, true, NULL, NULL);
    p12_case(NID_pbe_WithSHA1And3_Key_TripleDES_CBC, NID_pbe_WithSHA1And40BitRC2_CBC, false, NULL, NULL);
}
static void test_p12_utf8_password(void **s)
{
    (void)s;
    p12_case(0, 0, true, "p\xc3\xa4ssw\xc3\xb6rd", "p\xc3\xa4ssw\xc3\xb6rd");
}

static void test_p12_chain_any_order(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    X509 *orders[][2] = {{p->root, p->intm}, {p->intm, p->root}};
    for (int i = 0; i < 2; i++) {
        struct files f;
        files_init(&f);
        STACK_OF(X509) *ca = sk_X509_new_null();
        sk_X509_push(ca, orders[i][0]);
        sk_X509_push(ca, orders[i][1]);
        tp_p12(&f.main, "pw", p->leaf_key, p->leaf, ca, 0, 0, true);
        sk_X509_free(ca);
        struct cg_pki_identity id;
        struct cg_err err;
        assert_ok(load(&f, "pw", false, false, &id, &err), err);
        assert_identity(&id, p->leaf, 2);
        cg_pki_identity_cleanup(&id);
        files_cleanup(&f);
    }
}

static void test_p12_base64(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct files f;
    files_init(&f);
    struct cg_buf der;
    cg_buf_init(&der, 0);
    STACK_OF(X509) *ca = chain_root_first();
    tp_p12(&der, "pw", p->leaf_key, p->leaf, ca, NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
           NID_pbe_WithSHA1And40BitRC2_CBC, true);
    sk_X509_free(ca);
    tp_base64(&f.main, &der);
    cg_buf_cleanup(&der);
    struct cg_pki_identity id;
    struct cg_err err;
    assert_ok(load(&f, "pw", false, false, &id, &err), err);
    assert_identity(&id, p->leaf, 2);
    cg_pki_identity_cleanup(&id);
    files_cleanup(&f);
}

static void test_p12_ec_key(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct files f;
    files_init(&f);
    tp_p12(&f.main, "pw", p->ec_key, p->leaf_ec, NULL, 0, 0, true);
    struct cg_pki_identity id;
    struct cg_err err;
    assert_ok(load(&f, "pw", false, false, &id, &err), err);
    assert_identity(&id, p->leaf_ec, 0);
    cg_pki_identity_cleanup(&id);
    /* and the separate chain file completes it */
    tp_pem_cert(&f.chain, p->root);
    tp_pem_cert(&f.chain, p->intm);
    assert_ok(load(&f, "pw", false, true, &id, &err), err);
    assert_identity(&id, p->leaf_ec, 2);
    cg_pki_identity_cleanup(&id);
    files_cleanup(&f);
}

/* ---- PEM and DER ---- */

static void test_pem_combined_any_order(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct files f;
    files_init(&f);
    tp_append_str(&f.main, "Bag Attributes\n    friendlyName: test\n");
    tp_pem_cert(&f.main, p->root);
    tp_pem_key(&f.main, p->leaf_key, TP_KEY_PKCS8, NULL);
    tp_pem_cert(&f.main, p->leaf);
    tp_pem_cert(&f.main, p->intm);
    tp_pem_cert(&f.main, p->intm); /* duplicates are dropped */
    struct cg_pki_identity id;
    struct cg_err err;
    assert_ok(load(&f, NULL, false, false, &id, &err), err);
    assert_identity(&id, p->leaf, 2);
    cg_pki_identity_cleanup(&id);
    files_cleanup(&f);
}

static void key_case(EVP_PKEY *key, X509 *leaf, bool der, enum tp_key_form form, const char *pass)
{
    const struct tp_pki *p = tp_pki_get();
    struct files f;
    files_init(&f);
    if (der) {
        tp_der_cert(&f.main, leaf);
        tp_der_key(&f.key, key, form, pass);
        tp_der_cert(&f.chain, p->intm);
    } else {
        tp_pem_cert(&f.main, leaf);
        tp_pem_key(&f.key, key, form, pass);
        tp_pem_cert(&f.chain, p->intm);
        tp_pem_cert(&f.chain, p->root);
    }
    struct cg_pki_identity id;
    struct cg_err err;
    assert_ok(load(&f, pass, true, true, &id, &err), err);
    assert_identity(&id, leaf, der ? 1 : 2);
    cg_pki_identity_cleanup(&id);
    files_cleanup(&f);
}

static void test_pem_key_forms(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    key_case(p->leaf_key, p->leaf, false, TP_KEY_PKCS8, NULL);         /* BEGIN PRIVATE KEY */
    key_case(p->leaf_key, p->leaf, false, TP_KEY_TRAD, NULL);          /* BEGIN RSA PRIVATE KEY */
    key_case(p->ec_key, p->leaf_ec, false, TP_KEY_TRAD, NULL);         /* BEGIN EC PRIVATE KEY */
    key_case(p->ec_key, p->leaf_ec, false, TP_KEY_PKCS8, NULL);
    key_case(p->leaf_key, p->leaf, false, TP_KEY_PKCS8_ENC, "kpass");  /* ENCRYPTED PRIVATE KEY */
    key_case(p->ec_key, p->leaf_ec, false, TP_KEY_PKCS8_ENC, "kpass");
    key_case(p->leaf_key, p->leaf, false, TP_KEY_TRAD_ENC, "kpass");   /* Proc-Type: 4,ENCRYPTED */
}

static void test_der_key_forms(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    key_case(p->leaf_key, p->leaf, true, TP_KEY_PKCS8, NULL);
    key_case(p->leaf_key, p->leaf, true, TP_KEY_TRAD, NULL); /* PKCS#1 */
    key_case(p->ec_key, p->leaf_ec, true, TP_KEY_TRAD, NULL); /* SEC1 */
    key_case(p->ec_key, p->leaf_ec, true, TP_KEY_PKCS8, NULL);
    key_case(p->leaf_key, p->leaf, true, TP_KEY_PKCS8_ENC, "kpass");
}

static void test_pem_ec_parameters_block_ignored(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct files f;
    files_init(&f);
    tp_pem_cert(&f.main, p->leaf_ec);
    tp_append_str(&f.key, "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n");
    tp_pem_key(&f.key, p->ec_key, TP_KEY_TRAD, NULL);
    struct cg_pki_identity id;
    struct cg_err err;
    assert_ok(load(&f, NULL, true, false, &id, &err), err);
    assert_identity(&id, p->leaf_ec, 0);
    cg_pki_identity_cleanup(&id);
    files_cleanup(&f);
}

static void test_pem_crlf_and_base64_of_pem(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct cg_buf pem;
    cg_buf_init(&pem, 0);
    tp_pem_cert(&pem, p->leaf);
    tp_pem_key(&pem, p->leaf_key, TP_KEY_PKCS8, NULL);
    struct files f;
    files_init(&f);
    for (size_t i = 0; i < pem.len; i++) { /* CRLF line ends, as Windows editors save */
        if (pem.ptr[i] == '\n') tp_append(&f.main, "\r", 1);
        tp_append(&f.main, pem.ptr + i, 1);
    }
    struct cg_pki_identity id;
    struct cg_err err;
    assert_ok(load(&f, NULL, false, false, &id, &err), err);
    assert_identity(&id, p->leaf, 0);
    cg_pki_identity_cleanup(&id);
    cg_buf_reset(&f.main);
    tp_base64(&f.main, &pem);
    assert_ok(load(&f, NULL, false, false, &id, &err), err);
    assert_identity(&id, p->leaf, 0);
    cg_pki_identity_cleanup(&id);
    cg_buf_cleanup(&pem);
    files_cleanup(&f);
}

/* ---- refusals ---- */

static void test_refuse_wrong_password(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    int nids[][2] = {{0, 0}, {NID_pbe_WithSHA1And3_Key_TripleDES_CBC, NID_pbe_WithSHA1And40BitRC2_CBC}};
    for (int mac = 1; mac >= 0; mac--) {
        for (int i = 0; i < 2; i++) {
            struct files f;
            files_init(&f);
            tp_p12(&f.main, "right", p->leaf_key, p->leaf, NULL, nids[i][0], nids[i][1], mac);
            struct cg_pki_identity id;
            struct cg_err err;
            assert_refused(load(&f, "wrong", false, false, &id, &err), CG_EPASSWORD, err, "wrong password");
            assert_non_null(strstr(err.msg, "main.bin"));
            assert_empty(&id);
            assert_refused(load(&f, NULL, false, false, &id, &err), CG_EPASSWORD, err, "needs a password");
            assert_empty(&id);
            files_cleanup(&f);
        }
    }
}

static void test_refuse_key_password(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    enum tp_key_form forms[] = {TP_KEY_PKCS8_ENC, TP_KEY_TRAD_ENC};
    for (int i = 0; i < 2; i++) {
        struct files f;
        files_init(&f);
        tp_pem_cert(&f.main, p->leaf);
        tp_pem_key(&f.key, p->leaf_key, forms[i], "right");
        struct cg_pki_identity id;
        struct cg_err err;
        assert_refused(load(&f, "wrong", true, false, &id, &err), CG_EPASSWORD, err, "wrong password");
        assert_refused(load(&f, NULL, true, false, &id, &err), CG_EPASSWORD, err, "needs a password");
        assert_empty(&id);
        files_cleanup(&f);
    }
    struct files f;
    files_init(&f);
    tp_der_cert(&f.main, p->leaf);
    tp_der_key(&f.key, p->leaf_key, TP_KEY_PKCS8_ENC, "right");
    struct cg_pki_identity id;
    struct cg_err err;
    assert_refused(load(&f, "wrong", true, false, &id, &err), CG_EPASSWORD, err, "wrong password");
    assert_refused(load(&f, NULL, true, false, &id, &err), CG_EPASSWORD, err, "needs a password");
    files_cleanup(&f);
}

static void test_refuse_no_private_key(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct files f;
    files_init(&f);
    STACK_OF(X509) *ca = chain_root_first();
    tp_p12(&f.main, "pw", NULL, p->leaf, ca, 0, 0, true); /* openssl pkcs12 -export -nokeys */
    sk_X509_free(ca);
    struct cg_pki_identity id;
    struct cg_err err;
    assert_refused(load(&f, "pw", false, false, &id, &err), CG_ECERT, err, "no private key");
    assert_true(strlen(err.hint) > 0);
    assert_empty(&id);

    cg_buf_reset(&f.main);
    tp_pem_cert(&f.main, p->leaf);
    assert_refused(load(&f, NULL, false, false, &id, &err), CG_ECERT, err, "no private key");
    assert_non_null(strstr(err.msg, "'main.bin' is a PEM file with 1 certificate and no private key, not a PKCS#12 "
                                    "container"));
    assert_empty(&id);
    files_cleanup(&f);
}

static void test_refuse_no_certificate(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct files f;
    files_init(&f);
    tp_pem_key(&f.main, p->leaf_key, TP_KEY_PKCS8, NULL);
    struct cg_pki_identity id;
    struct cg_err err;
    assert_refused(load(&f, NULL, false, false, &id, &err), CG_ECERT, err, "no certificate");
    assert_empty(&id);
    cg_buf_reset(&f.main);
    tp_der_key(&f.main, p->leaf_key, TP_KEY_PKCS8, NULL);
    assert_refused(load(&f, NULL, false, false, &id, &err), CG_ECERT, err, "no certificate");
    cg_buf_reset(&f.main);
    tp_p12(&f.main, "pw", p->leaf_key, NULL, NULL, 0, 0, true); /* -nocerts */
    assert_refused(load(&f, "pw", false, false, &id, &err), CG_ECERT, err, "no certificate");
    files_cleanup(&f);
}

static void test_refuse_key_mismatch(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct files f;
    files_init(&f);
    tp_pem_cert(&f.main, p->leaf);
    tp_pem_key(&f.key, p->other_key, TP_KEY_PKCS8, NULL);
    struct cg_pki_identity id;
    struct cg_err err;
    assert_refused(load(&f, NULL, true, false, &id, &err), CG_EKEYMISMATCH, err, "does not match");
    assert_non_null(strstr(err.msg, "key.bin"));
    assert_empty(&id);
    /* a key that matches none of several certificates (leaf + chain file) */
    tp_pem_cert(&f.chain, p->intm);
    tp_pem_cert(&f.chain, p->root);
    assert_refused(load(&f, NULL, true, true, &id, &err), CG_EKEYMISMATCH, err, "does not match");
    files_cleanup(&f);
}

static void test_refuse_several_end_entities(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct files f;
    files_init(&f);
    tp_pem_cert(&f.main, p->leaf);
    tp_pem_cert(&f.main, p->server); /* same key as leaf */
    tp_pem_cert(&f.main, p->intm);
    tp_pem_key(&f.main, p->leaf_key, TP_KEY_PKCS8, NULL);
    struct cg_pki_identity id;
    struct cg_err err;
    assert_refused(load(&f, NULL, false, false, &id, &err), CG_ECERT, err, "several end-entity certificates");
    assert_empty(&id);
    files_cleanup(&f);
}

static void test_refuse_wrong_format(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct files f;
    files_init(&f);
    struct cg_pki_identity id;
    struct cg_err err;

    tp_append(&f.main, "PK\x03\x04\x14\x00\x00\x00\x08\x00", 10);
    assert_refused(load(&f, NULL, false, false, &id, &err), CG_EFORMAT, err, "'main.bin' is a ZIP archive, not ");
    assert_empty(&id);
    cg_buf_reset(&f.main);
    tp_append_str(&f.main, "this is just a note about certificates\n");
    assert_refused(load(&f, NULL, false, false, &id, &err), CG_EFORMAT, err, "is text that is not PEM or base64");
    cg_buf_reset(&f.main);
    assert_refused(load(&f, NULL, false, false, &id, &err), CG_EFORMAT, err, "is an empty file, not ");
    tp_append(&f.main, "\xfe\xed\xfe\xed\x00\x00\x00\x02", 8);
    assert_refused(load(&f, NULL, false, false, &id, &err), CG_EFORMAT, err, "Java keystore");
    cg_buf_reset(&f.main);
    tp_append_str(&f.main, "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n");
    assert_refused(load(&f, NULL, false, false, &id, &err), CG_EFORMAT, err,
                   "is a PEM file with no certificate or private key, not ");

    /* a certificate where the key should be */
    cg_buf_reset(&f.main);
    tp_pem_cert(&f.main, p->leaf);
    tp_pem_cert(&f.key, p->leaf);
    assert_refused(load(&f, NULL, true, false, &id, &err), CG_EFORMAT, err,
                   "'key.bin' is a PEM file with 1 certificate and no private key, not a private key");
    /* a key where the chain should be */
    cg_buf_reset(&f.key);
    tp_pem_key(&f.key, p->leaf_key, TP_KEY_PKCS8, NULL);
    tp_pem_key(&f.chain, p->leaf_key, TP_KEY_PKCS8, NULL);
    assert_refused(load(&f, NULL, true, true, &id, &err), CG_EFORMAT, err, "'chain.bin' is a PEM private key, not");
    /* a chain file with certificates and a key */
    cg_buf_reset(&f.chain);
    tp_pem_cert(&f.chain, p->intm);
    tp_pem_key(&f.chain, p->leaf_key, TP_KEY_PKCS8, NULL);
    assert_refused(load(&f, NULL, true, true, &id, &err), CG_ECERT, err, "holds a private key");
    assert_empty(&id);
    files_cleanup(&f);
}

static void test_refuse_corrupt(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct files f;
    files_init(&f);
    struct cg_pki_identity id;
    struct cg_err err;

    /* truncated PKCS#12 */
    struct cg_buf der;
    cg_buf_init(&der, 0);
    tp_p12(&der, "pw", p->leaf_key, p->leaf, NULL, 0, 0, true);
    tp_append(&f.main, der.ptr, der.len / 2);
    assert_refused(load(&f, "pw", false, false, &id, &err), CG_EPROTO, err, "truncated or corrupt");
    assert_empty(&id);
    /* base64 of a PKCS#12, cut short (not a multiple of 4) */
    cg_buf_reset(&f.main);
    struct cg_buf b64;
    cg_buf_init(&b64, 0);
    tp_base64(&b64, &der);
    tp_append(&f.main, b64.ptr, b64.len - 3);
    assert_refused(load(&f, "pw", false, false, &id, &err), CG_EPROTO, err, "truncated or corrupt");
    assert_non_null(strstr(err.msg, "base64"));
    /* PEM block without END */
    cg_buf_reset(&f.main);
    tp_pem_cert(&f.main, p->leaf);
    f.main.len -= 30;
    assert_refused(load(&f, NULL, false, false, &id, &err), CG_EPROTO, err, "truncated or corrupt");
    /* PEM block with a damaged body */
    cg_buf_reset(&f.main);
    tp_pem_cert(&f.main, p->leaf);
    f.main.ptr[100] = '!';
    assert_refused(load(&f, NULL, false, false, &id, &err), CG_EPROTO, err, "truncated or corrupt");
    /* truncated DER certificate */
    cg_buf_reset(&f.main);
    tp_der_cert(&f.main, p->leaf);
    f.main.len -= 40;
    assert_refused(load(&f, NULL, false, false, &id, &err), CG_EPROTO, err, "truncated or corrupt");
    /* PKCS#12 whose outer structure is intact but whose content type is damaged:
     * 30 82 LL LL | 02 01 03 | 30 82 LL LL | 06 09 <pkcs7-data> */
    cg_buf_reset(&f.main);
    tp_append(&f.main, der.ptr, der.len);
    assert_int_equal(f.main.ptr[11], 0x06);
    f.main.ptr[11] = 0x04;
    assert_refused(load(&f, "pw", false, false, &id, &err), CG_EPROTO, err, "truncated or corrupt");
    cg_buf_cleanup(&b64);
    cg_buf_cleanup(&der);
    files_cleanup(&f);
}

static void test_refuse_limits(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct files f;
    files_init(&f);
    struct cg_pki_identity id;
    struct cg_err err;
    tp_reserve(&f.main, CG_PKI_MAX_INPUT + 1);
    memset(f.main.ptr, 'A', CG_PKI_MAX_INPUT + 1);
    f.main.len = CG_PKI_MAX_INPUT + 1;
    assert_refused(load(&f, NULL, false, false, &id, &err), CG_ELIMIT, err, "larger than");
    assert_empty(&id);

    cg_buf_reset(&f.main);
    tp_pem_key(&f.main, p->leaf_key, TP_KEY_PKCS8, NULL);
    tp_pem_cert(&f.main, p->leaf);
    for (long i = 0; i < CG_PKI_MAX_CERTS; i++) { /* distinct certificates: dups would be dropped */
        struct tp_opts o = {.ca = true, .serial = 1000 + i};
        X509 *x = tp_cert("filler", p->other_key, NULL, NULL, &o);
        tp_pem_cert(&f.main, x);
        X509_free(x);
    }
    assert_refused(load(&f, NULL, false, false, &id, &err), CG_ELIMIT, err, "more than 64 certificates");
    assert_empty(&id);
    files_cleanup(&f);
}

static void test_cleanup_accepts_zeroed(void **s)
{
    (void)s;
    struct cg_pki_identity id;
    cg_pki_identity_init(&id);
    cg_pki_identity_cleanup(&id);
    cg_pki_identity_cleanup(NULL);
    assert_empty(&id);
}

/* ---- real files made by the openssl command (the fuzz seed corpus) ---- */

static void read_corpus(const char *rel, struct cg_buf *out)
{
    char unit[1024], tests[1024], path[2048];
    cg_path_dirname(__FILE__, unit, sizeof(unit));
    cg_path_dirname(unit, tests, sizeof(tests));
    snprintf(path, sizeof(path), "%s/fuzz/corpus/%s", tests, rel);
    struct cg_err err;
    assert_ok(cg_file_read(path, out, &err), err);
}

static int load_files(const char *main, const char *key, const char *pw, struct cg_pki_identity *id,
                      struct cg_err *err)
{
    struct cg_buf m, k;
    cg_buf_init(&m, 0);
    cg_buf_init(&k, 0);
    read_corpus(main, &m);
    if (key) read_corpus(key, &k);
    struct cg_pki_input mi = {main, cg_buf_slice(&m)}, ki = {key, cg_buf_slice(&k)};
    int rc = cg_pki_identity_load(&mi, key ? &ki : NULL, NULL, pw, id, err);
    cg_buf_cleanup(&m);
    cg_buf_cleanup(&k);
    return rc;
}

static void test_openssl_cli_files(void **s)
{
    (void)s;
    /* openssl pkcs12 -export [-legacy | -nomac | -keypbe/-certpbe DES-EDE3-CBC] -passout pass:fuzz */
    const char *p12s[] = {"pki_pkcs12/modern.p12", "pki_pkcs12/legacy.p12", "pki_pkcs12/nomac.p12",
                          "pki_pkcs12/3des.p12", "pki_pem/modern.p12.b64"};
    struct cg_pki_identity id;
    struct cg_err err;
    for (size_t i = 0; i < sizeof(p12s) / sizeof(p12s[0]); i++) {
        assert_ok(load_files(p12s[i], NULL, "fuzz", &id, &err), err);
        assert_int_equal(X509_check_private_key(id.leaf, id.key), 1);
        int n = sk_X509_num(id.chain);
        assert_int_equal(n, strstr(p12s[i], "3des") ? 0 : 1);
        cg_pki_identity_cleanup(&id);
        assert_refused(load_files(p12s[i], NULL, "nope", &id, &err), CG_EPASSWORD, err, "wrong password");
    }
    assert_ok(load_files("pki_pkcs12/emptypw.p12", NULL, NULL, &id, &err), err); /* -passout pass: */
    cg_pki_identity_cleanup(&id);
    assert_refused(load_files("pki_pkcs12/nokeys.p12", NULL, "fuzz", &id, &err), CG_ECERT, err, "no private key");
    assert_refused(load_files("pki_pkcs12/truncated.p12", NULL, "fuzz", &id, &err), CG_EPROTO, err,
                   "truncated or corrupt");
    assert_ok(load_files("pki_pem/combined.pem", NULL, NULL, &id, &err), err);
    assert_int_equal(sk_X509_num(id.chain), 1);
    cg_pki_identity_cleanup(&id);
    assert_ok(load_files("pki_pem/leaf.pem", "pki_pem/leaf-enc.key", "fuzz", &id, &err), err);
    cg_pki_identity_cleanup(&id);
    assert_ok(load_files("pki_pem/leaf.pem", "pki_pem/leaf-sec1.key", NULL, &id, &err), err);
    cg_pki_identity_cleanup(&id);
    assert_ok(load_files("pki_pem/leaf.der", "pki_pem/leaf-key.der", NULL, &id, &err), err);
    cg_pki_identity_cleanup(&id);
    assert_refused(load_files("pki_pem/leaf.pem", "pki_pem/leaf-enc.key", NULL, &id, &err), CG_EPASSWORD, err,
                   "needs a password");
    assert_refused(load_files("pki_pem/leaf.pem", NULL, NULL, &id, &err), CG_ECERT, err,
                   "is a PEM file with 1 certificate and no private key, not a PKCS#12 container");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuse_wrong_password),
        cmocka_unit_test(test_refuse_key_password),
        cmocka_unit_test(test_refuse_no_private_key),
        cmocka_unit_test(test_refuse_no_certificate),
        cmocka_unit_test(test_refuse_key_mismatch),
        cmocka_unit_test(test_refuse_several_end_entities),
        cmocka_unit_test(test_refuse_wrong_format),
        cmocka_unit_test(test_refuse_corrupt),
        cmocka_unit_test(test_refuse_limits),
        cmocka_unit_test(test_p12_modern_default),
        cmocka_unit_test(test_p12_aes256_explicit),
        cmocka_unit_test(test_p12_legacy_rc2_3des),
        cmocka_unit_test(test_p12_3des_only),
        cmocka_unit_test(test_p12_nomac_modern),
        cmocka_unit_test(test_p12_nomac_legacy),
        cmocka_unit_test(test_p12_unencrypted_certs),
        cmocka_unit_test(test_p12_empty_password),
        cmocka_unit_test(test_p12_no_password),
        cmocka_unit_test(test_p12_utf8_password),
        cmocka_unit_test(test_p12_chain_any_order),
        cmocka_unit_test(test_p12_base64),
        cmocka_unit_test(test_p12_ec_key),
        cmocka_unit_test(test_pem_combined_any_order),
        cmocka_unit_test(test_pem_key_forms),
        cmocka_unit_test(test_der_key_forms),
        cmocka_unit_test(test_pem_ec_parameters_block_ignored),
        cmocka_unit_test(test_pem_crlf_and_base64_of_pem),
        cmocka_unit_test(test_cleanup_accepts_zeroed),
        cmocka_unit_test(test_openssl_cli_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
