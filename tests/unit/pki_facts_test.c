/* cg_pki_facts_get: names, serial, fingerprints, key, SANs and EKU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/base64.h"
#include "core/str.h"
#include "pki/pki.h"
#include "testpki.h"
#include "testutil.h"

static void test_rsa_leaf(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct cg_pki_facts f;
    assert_int_equal(cg_pki_facts_get(p->leaf, &f), 0);
    assert_string_equal(f.subject, "CN=client.example,O=Certgate Test");
    assert_string_equal(f.issuer, "CN=Test Intermediate CA,O=Certgate Test");
    assert_string_equal(f.serial, "abcdef");
    assert_string_equal(f.key_type, "RSA");
    assert_int_equal(f.key_bits, 2048);
    assert_string_equal(f.key_curve, "");
    assert_false(f.is_ca);
    assert_false(f.self_signed);
    assert_int_equal(f.sans.n, 5);
    assert_string_equal(f.sans.items[0], "DNS:client.example");
    assert_string_equal(f.sans.items[1], "IP:10.0.0.1");
    assert_string_equal(f.sans.items[2], "URI:spiffe://example/client");
    assert_string_equal(f.sans.items[3], "email:ops@example.com");
    assert_string_equal(f.sans.items[4], "IP:::1");
    assert_int_equal(f.eku.n, 1);
    assert_string_equal(f.eku.items[0], "clientAuth");
    assert_true(f.not_after > f.not_before);
    assert_true(f.not_after > time(NULL));

    /* fingerprint: SHA-256 of the DER, lowercase hex */
    unsigned char md[32];
    unsigned int n = 0;
    X509_digest(p->leaf, EVP_sha256(), md, &n);
    char hex[65];
    cg_hex_encode(md, 32, hex);
    assert_string_equal(f.fingerprint, hex);
    assert_int_equal(strlen(f.fingerprint), 64);
    /* SPKI pin: base64 SHA-256 of the DER SubjectPublicKeyInfo (RFC 7469 pin form) */
    unsigned char *spki = NULL;
    int len = i2d_PUBKEY(X509_get0_pubkey(p->leaf), &spki);
    EVP_Digest(spki, (size_t)len, md, &n, EVP_sha256(), NULL);
    OPENSSL_free(spki);
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_base64_encode(cg_slice_make(md, 32), &b), 0);
    assert_string_equal(f.spki_sha256, cg_buf_str(&b));
    assert_int_equal(strlen(f.spki_sha256), 44);
    cg_buf_cleanup(&b);
    cg_pki_facts_cleanup(&f);
}

static void test_ec_and_ca(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct cg_pki_facts f;
    assert_int_equal(cg_pki_facts_get(p->leaf_ec, &f), 0);
    assert_string_equal(f.key_type, "EC");
    assert_int_equal(f.key_bits, 256);
    assert_string_equal(f.key_curve, "prime256v1");
    assert_int_equal(f.eku.n, 2);
    assert_string_equal(f.eku.items[0], "clientAuth");
    assert_string_equal(f.eku.items[1], "serverAuth");
    assert_int_equal(f.sans.n, 0);
    cg_pki_facts_cleanup(&f);

    assert_int_equal(cg_pki_facts_get(p->root, &f), 0);
    assert_true(f.is_ca);
    assert_true(f.self_signed);
    assert_string_equal(f.subject, f.issuer);
    assert_string_equal(f.serial, "01");
    assert_int_equal(f.eku.n, 0); /* absent: empty */
    cg_pki_facts_cleanup(&f);

    assert_int_equal(cg_pki_facts_get(p->intm, &f), 0);
    assert_true(f.is_ca);
    assert_false(f.self_signed);
    cg_pki_facts_cleanup(&f);

    assert_int_equal(cg_pki_facts_get(p->v1root, &f), 0);
    assert_true(f.is_ca); /* self-signed v1 */
    assert_true(f.self_signed);
    cg_pki_facts_cleanup(&f);
}

static void test_ed25519_and_hostile_names(void **s)
{
    (void)s;
    EVP_PKEY *k = tp_key_ed25519();
    struct tp_opts o = {.san = "DNS:a.example,URI:https://x.example/\x01", .eku = "codeSigning,1.2.3.4.5"};
    X509 *x = tp_cert("ed, \"quoted\"+plus", k, NULL, NULL, &o);
    struct cg_pki_facts f;
    assert_int_equal(cg_pki_facts_get(x, &f), 0);
    assert_string_equal(f.key_type, "Ed25519");
    assert_string_equal(f.subject, "CN=ed\\, \\\"quoted\\\"\\+plus,O=Certgate Test"); /* RFC 2253 escaping */
    assert_int_equal(f.sans.n, 2);
    assert_string_equal(f.sans.items[1], "URI:https://x.example/\\x01"); /* control bytes escaped */
    assert_int_equal(f.eku.n, 2);
    assert_string_equal(f.eku.items[0], "codeSigning");
    assert_string_equal(f.eku.items[1], "1.2.3.4.5");
    cg_pki_facts_cleanup(&f);
    cg_pki_facts_cleanup(&f); /* idempotent */
    X509_free(x);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa_leaf),
        cmocka_unit_test(test_ec_and_ca),
        cmocka_unit_test(test_ed25519_and_hostile_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
