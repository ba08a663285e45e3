/* cg_pki_detect / cg_pki_describe: detection by content, and the phrases used in messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pkcs12.h>

#include "pki/pki.h"
#include "testpki.h"
#include "testutil.h"

static void expect(struct cg_buf *b, enum cg_pki_format fmt, const char *phrase)
{
    struct cg_pki_detected d;
    cg_pki_detect(cg_buf_slice(b), &d);
    char desc[256];
    cg_pki_describe(cg_buf_slice(b), desc, sizeof(desc));
    if ((int)d.format != (int)fmt) fail_msg("format %d, expected %d (%s)", d.format, fmt, desc);
    if (strcmp(desc, phrase) != 0) fail_msg("described as \"%s\", expected \"%s\"", desc, phrase);
    cg_buf_reset(b);
}

static void test_unknown_and_empty(void **s)
{
    (void)s;
    struct cg_buf b;
    cg_buf_init(&b, 0);
    expect(&b, CG_PKI_FMT_EMPTY, "an empty file");
    tp_append_str(&b, " \n\t\r\n");
    expect(&b, CG_PKI_FMT_EMPTY, "an empty file");
    tp_append(&b, "PK\x03\x04\x0a\x00", 6);
    expect(&b, CG_PKI_FMT_UNKNOWN, "a ZIP archive");
    tp_append(&b, "\xfe\xed\xfe\xed\x00\x00\x00\x02", 8);
    expect(&b, CG_PKI_FMT_UNKNOWN, "a Java keystore (JKS)");
    tp_append_str(&b, "hello, these are my certificates\n");
    expect(&b, CG_PKI_FMT_UNKNOWN, "text that is not PEM or base64");
    tp_append_str(&b, "password");
    expect(&b, CG_PKI_FMT_UNKNOWN, "text that is not PEM or base64");
    tp_append(&b, "\x00\x01\x02\xff\xfe", 5);
    expect(&b, CG_PKI_FMT_UNKNOWN, "binary data of unknown format");
    tp_append(&b, "\x30\x03\x01\x01\xff", 5);
    expect(&b, CG_PKI_FMT_UNKNOWN, "DER data that is not a certificate, key or PKCS#12 container");
    tp_append_str(&b, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY\nQUJD");
    expect(&b, CG_PKI_FMT_BASE64, "base64 text of unknown content");
    tp_append_str(&b, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYQ"); /* not a multiple of 4 */
    expect(&b, CG_PKI_FMT_BASE64, "malformed base64 text");
    cg_buf_cleanup(&b);
    char small[8];
    assert_string_equal(cg_pki_describe(cg_slice_make("", 0), small, sizeof(small)), "an empt");
}

static void test_pem_counts(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct cg_buf b;
    cg_buf_init(&b, 0);
    tp_pem_cert(&b, p->leaf);
    expect(&b, CG_PKI_FMT_PEM, "a PEM file with 1 certificate and no private key");
    tp_pem_cert(&b, p->leaf);
    tp_pem_cert(&b, p->intm);
    expect(&b, CG_PKI_FMT_PEM, "a PEM file with 2 certificates and no private key");
    tp_pem_cert(&b, p->leaf);
    tp_pem_key(&b, p->leaf_key, TP_KEY_TRAD, NULL);
    expect(&b, CG_PKI_FMT_PEM, "a PEM file with 1 certificate and a private key");
    tp_pem_cert(&b, p->leaf);
    tp_pem_key(&b, p->leaf_key, TP_KEY_PKCS8_ENC, "x");
    expect(&b, CG_PKI_FMT_PEM, "a PEM file with 1 certificate and an encrypted private key");
    tp_pem_key(&b, p->leaf_key, TP_KEY_PKCS8, NULL);
    expect(&b, CG_PKI_FMT_PEM, "a PEM private key");
    tp_pem_key(&b, p->leaf_key, TP_KEY_TRAD_ENC, "x"); /* Proc-Type: 4,ENCRYPTED */
    expect(&b, CG_PKI_FMT_PEM, "an encrypted PEM private key");
    tp_pem_key(&b, p->leaf_key, TP_KEY_PKCS8, NULL);
    tp_pem_key(&b, p->ec_key, TP_KEY_TRAD, NULL);
    expect(&b, CG_PKI_FMT_PEM, "a PEM file with 2 private keys and no certificate");
    tp_append_str(&b, "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
    expect(&b, CG_PKI_FMT_PEM, "a PEM file with no certificate or private key");

    struct cg_pki_detected d;
    tp_pem_cert(&b, p->leaf);
    tp_pem_cert(&b, p->intm);
    tp_pem_key(&b, p->leaf_key, TP_KEY_PKCS8, NULL);
    tp_append_str(&b, "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n");
    cg_pki_detect(cg_buf_slice(&b), &d);
    assert_int_equal(d.pem_certs, 2);
    assert_int_equal(d.pem_keys, 1);
    assert_int_equal(d.pem_encrypted_keys, 0);
    assert_int_equal(d.pem_other, 1);
    cg_buf_cleanup(&b);
}

static void test_der_and_p12(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    struct cg_buf b, der;
    cg_buf_init(&b, 0);
    cg_buf_init(&der, 0);
    tp_der_cert(&b, p->leaf);
    expect(&b, CG_PKI_FMT_DER_CERT, "a DER certificate");
    tp_der_cert(&b, p->v1root); /* v1: no [0] version, starts with the serial */
    expect(&b, CG_PKI_FMT_DER_CERT, "a DER certificate");
    enum tp_key_form forms[] = {TP_KEY_PKCS8, TP_KEY_TRAD, TP_KEY_PKCS8_ENC};
    for (size_t i = 0; i < 3; i++) {
        tp_der_key(&b, p->leaf_key, forms[i], "x");
        expect(&b, CG_PKI_FMT_DER_KEY, "a DER private key");
        tp_der_key(&b, p->ec_key, forms[i], "x"); /* SEC1 for TRAD */
        expect(&b, CG_PKI_FMT_DER_KEY, "a DER private key");
    }
    tp_p12(&der, "pw", p->leaf_key, p->leaf, NULL, 0, 0, true);
    tp_append(&b, der.ptr, der.len);
    expect(&b, CG_PKI_FMT_PKCS12, "a PKCS#12 container");
    tp_append(&b, der.ptr, 40); /* truncated: still recognised, so the loader says "truncated" */
    expect(&b, CG_PKI_FMT_PKCS12, "a PKCS#12 container");
    tp_base64(&b, &der);
    struct cg_pki_detected d;
    cg_pki_detect(cg_buf_slice(&b), &d);
    assert_int_equal(d.inner, CG_PKI_FMT_PKCS12);
    expect(&b, CG_PKI_FMT_BASE64, "base64 text of a PKCS#12 container");
    cg_buf_reset(&der);
    tp_pem_cert(&der, p->leaf);
    tp_base64(&b, &der);
    cg_pki_detect(cg_buf_slice(&b), &d);
    assert_int_equal(d.inner, CG_PKI_FMT_PEM);
    assert_int_equal(d.pem_certs, 1);
    expect(&b, CG_PKI_FMT_BASE64, "base64 text of a PEM file with 1 certificate and no private key");
    cg_buf_cleanup(&der);
    cg_buf_cleanup(&b);
}

static void test_name_is_ignored(void **s)
{
    (void)s;
    /* detection never sees a name: the same bytes are the same format whatever the file is
     * called, which the API makes structural (cg_pki_detect takes only bytes). This checks
     * that leading junk before a PEM block (openssl pkcs12 -nodes "Bag Attributes") is fine. */
    const struct tp_pki *p = tp_pki_get();
    struct cg_buf b;
    cg_buf_init(&b, 0);
    tp_append_str(&b, "\xef\xbb\xbf" "Bag Attributes\n    localKeyID: 01\n");
    tp_pem_cert(&b, p->leaf);
    expect(&b, CG_PKI_FMT_PEM, "a PEM file with 1 certificate and no private key");
    cg_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_and_empty),
        cmocka_unit_test(test_pem_counts),
        cmocka_unit_test(test_der_and_p12),
        cmocka_unit_test(test_name_is_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
