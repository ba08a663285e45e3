/* How a failed client handshake is named (net/tls.c, cg_tls_classify): a handshake_failure alert
 * after the server's certificate came is a refusal of ours when we presented one (what TLS 1.2
 * servers send when a verify callback refuses the client); before it (no shared cipher) it is a
 * protocol failure. Real handshakes through memory BIOs (support/tlspair.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "net/tls.h"
#include "testpki.h"
#include "tlspair.h"

static int refuse_cb(int ok, X509_STORE_CTX *ctx)
{
    (void)ok;
    X509_STORE_CTX_set_error(ctx, X509_V_ERR_APPLICATION_VERIFICATION); /* answered with handshake_failure */
    return 0;
}

static SSL *server_ssl(const char *ciphers)
{
    const struct tp_pki *p = tp_pki_get();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_use_certificate(ctx, p->server);
    SSL_CTX_use_PrivateKey(ctx, p->leaf_key);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, refuse_cb);
    if (ciphers) SSL_CTX_set_cipher_list(ctx, ciphers);
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    return ssl;
}

static SSL *client_ssl(bool present, const char *ciphers)
{
    const struct tp_pki *p = tp_pki_get();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL); /* the server's certificate passes */
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    X509_STORE_add_cert(st, p->root);
    X509_STORE_add_cert(st, p->intm);
    if (present) {
        SSL_CTX_use_certificate(ctx, p->leaf);
        SSL_CTX_use_PrivateKey(ctx, p->leaf_key);
    }
    if (ciphers) SSL_CTX_set_cipher_list(ctx, ciphers);
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    return ssl;
}

/* Runs the handshake, which must fail, and classifies the client's side. */
static struct cg_tls_error run(bool present, const char *client_ciphers, const char *server_ciphers)
{
    struct tp_tls_pair p;
    tp_tls_pair_init(&p, client_ssl(present, client_ciphers), server_ssl(server_ciphers));
    struct cg_tls_error e;
    cg_tls_error_attach(p.client, &e);
    assert_false(tp_tls_handshake(&p));
    cg_tls_classify(p.client, SSL_ERROR_SSL, present, &e);
    tp_tls_pair_free(&p);
    return e;
}

static void test_handshake_failure_after_our_certificate_is_a_rejection(void **state)
{
    (void)state;
    struct cg_tls_error e = run(true, NULL, NULL);
    assert_int_equal(e.alert, SSL_AD_HANDSHAKE_FAILURE);
    assert_int_equal(e.kind, CG_TLS_CERT_REJECTED);
    assert_string_equal(cg_tls_alert_name(e.alert), "handshake_failure");
}

static void test_handshake_failure_without_a_certificate_sent(void **state)
{
    (void)state;
    struct cg_tls_error e = run(false, NULL, NULL); /* nothing presented: not "rejected" */
    assert_int_not_equal(e.kind, CG_TLS_CERT_REJECTED);
}

static void test_no_shared_cipher_is_a_protocol_failure(void **state)
{
    (void)state;
    /* the server's key is RSA; a client offering ECDSA suites only shares none with it */
    struct cg_tls_error e = run(true, "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256");
    assert_int_equal(e.alert, SSL_AD_HANDSHAKE_FAILURE);
    assert_int_equal(e.kind, CG_TLS_PROTOCOL); /* before the server's certificate: not about ours */
}

static void test_alert_names(void **state)
{
    (void)state;
    assert_string_equal(cg_tls_alert_name(SSL_AD_UNKNOWN_CA), "unknown_ca");
    assert_string_equal(cg_tls_alert_name(SSL_AD_BAD_CERTIFICATE), "bad_certificate");
    assert_string_equal(cg_tls_alert_name(SSL_AD_CERTIFICATE_REQUIRED), "certificate_required");
    assert_string_equal(cg_tls_alert_name(-1), "none");
    assert_string_equal(cg_tls_alert_name(255), "other");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_failure_after_our_certificate_is_a_rejection),
        cmocka_unit_test(test_handshake_failure_without_a_certificate_sent),
        cmocka_unit_test(test_no_shared_cipher_is_a_protocol_failure),
        cmocka_unit_test(test_alert_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
