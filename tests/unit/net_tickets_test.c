/* The session-ticket keyring (net/tickets.c) in real handshakes over memory BIOs: tickets resume
 * in TLS 1.2 and 1.3; a ticket sealed with the current key is not renewed, one sealed with an
 * older key is; two older keys still open tickets, a third rotation drops the oldest; the tick
 * rotates only when due; a second start keeps the keys; a restart (cleanup + init) and a ticket
 * from someone else's keys mean a full handshake; without a keyring no ticket is issued. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "net/tickets.h"
#include "testpki.h"
#include "testutil.h"
#include "tlspair.h"

static EVP_PKEY *key;
static X509 *cert;
static SSL_CTX *server_ctx; /* with the keyring's callback */
static SSL_CTX *other_ctx;  /* OpenSSL's own ticket keys */

static SSL_CTX *server_new(bool ours)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    assert_non_null(c);
    assert_int_equal(SSL_CTX_use_certificate(c, cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(c, key), 1);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(c, 1);
    if (ours) cg_tickets_attach(c);
    return c;
}

static int setup(void **state)
{
    (void)state;
    key = tp_key_ec();
    struct tp_opts o = {.eku = "serverAuth", .san = "DNS:t.example"};
    cert = tp_cert("t.example", key, NULL, NULL, &o);
    server_ctx = server_new(true);
    other_ctx = server_new(false);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    SSL_CTX_free(server_ctx);
    SSL_CTX_free(other_ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
    cg_tickets_cleanup();
    return 0;
}

struct result {
    bool ok, reused;
    SSL_SESSION *session; /* the client's session afterwards (new reference) */
};

static struct result connect_to(SSL_CTX *sctx, SSL_SESSION *sess, int version)
{
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(cctx);
    SSL_CTX_set_max_proto_version(cctx, version);
    SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_OFF); /* a session may be offered twice */
    SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
    assert_non_null(c);
    assert_non_null(s);
    SSL_set_tlsext_host_name(c, "t.example");
    if (sess) assert_int_equal(SSL_set_session(c, sess), 1);
    struct tp_tls_pair p;
    tp_tls_pair_init(&p, c, s);
    struct result r = {0};
    r.ok = tp_tls_handshake(&p);
    if (r.ok) {
        r.reused = SSL_session_reused(s);
        r.session = tp_tls_client_session(&p);
    }
    tp_tls_pair_free(&p);
    SSL_CTX_free(cctx);
    assert_int_equal(ERR_peek_error(), 0);
    return r;
}

/* A full handshake's session, with a ticket. */
static SSL_SESSION *fresh(int version)
{
    struct result r = connect_to(server_ctx, NULL, version);
    assert_true(r.ok);
    assert_false(r.reused);
    assert_non_null(r.session);
    assert_true(SSL_SESSION_has_ticket(r.session));
    return r.session;
}

static bool same_ticket(SSL_SESSION *a, SSL_SESSION *b)
{
    const unsigned char *ta, *tb;
    size_t la, lb;
    SSL_SESSION_get0_ticket(a, &ta, &la);
    SSL_SESSION_get0_ticket(b, &tb, &lb);
    return la == lb && memcmp(ta, tb, la) == 0;
}

/* Resumes with sess: whether it was resumed, and whether the ticket was renewed (TLS 1.2, where
 * the server sends a NewSessionTicket only to renew). */
static bool resume(SSL_SESSION *sess, int version, bool *renewed)
{
    struct result r = connect_to(server_ctx, sess, version);
    assert_true(r.ok);
    if (renewed) *renewed = r.session && !same_ticket(r.session, sess);
    SSL_SESSION_free(r.session);
    return r.reused;
}

static void test_no_keyring_no_ticket(void **state)
{
    (void)state;
    int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
    for (size_t i = 0; i < 2; i++) {
        struct result r = connect_to(server_ctx, NULL, versions[i]);
        assert_true(r.ok); /* the handshake does not suffer */
        assert_false(r.session && SSL_SESSION_has_ticket(r.session) && SSL_SESSION_is_resumable(r.session));
        SSL_SESSION_free(r.session);
    }
}

static void test_init(void **state)
{
    (void)state;
    struct cg_err err;
    assert_ok(cg_tickets_init(0, &err), err);
}

static void test_resume(void **state)
{
    (void)state;
    int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
    for (size_t i = 0; i < 2; i++) {
        SSL_SESSION *s = fresh(versions[i]);
        bool renewed = true;
        assert_true(resume(s, versions[i], &renewed));
        if (versions[i] == TLS1_2_VERSION) assert_false(renewed); /* the current key: kept */
        SSL_SESSION_free(s);
    }
}

static void test_rotation(void **state)
{
    (void)state;
    SSL_SESSION *s1 = fresh(TLS1_2_VERSION), *s2 = fresh(TLS1_2_VERSION), *s3 = fresh(TLS1_3_VERSION);
    bool renewed = false;
    cg_tickets_rotate();
    assert_true(resume(s1, TLS1_2_VERSION, &renewed));
    assert_true(renewed); /* opened with an older key: a new ticket */
    cg_tickets_rotate();
    assert_true(resume(s2, TLS1_2_VERSION, &renewed));
    assert_true(renewed);
    cg_tickets_rotate();
    assert_false(resume(s3, TLS1_3_VERSION, NULL)); /* its key is gone */
    assert_false(resume(s1, TLS1_2_VERSION, NULL));
    SSL_SESSION_free(s1);
    SSL_SESSION_free(s2);
    SSL_SESSION_free(s3);
}

static void test_tick_rotates_when_due(void **state)
{
    (void)state;
    struct cg_err err;
    SSL_SESSION *s = fresh(TLS1_2_VERSION);
    assert_ok(cg_tickets_init(3600, &err), err); /* a second start: keys kept, period changed */
    bool renewed = true;
    cg_tickets_tick();
    assert_true(resume(s, TLS1_2_VERSION, &renewed));
    assert_false(renewed); /* not due: the same key */

    assert_ok(cg_tickets_init(1, &err), err);
    usleep(1100 * 1000);
    cg_tickets_tick();
    assert_true(resume(s, TLS1_2_VERSION, &renewed));
    assert_true(renewed); /* rotated */
    SSL_SESSION_free(s);
    assert_ok(cg_tickets_init(3600, &err), err);
}

static void test_restart_forgets(void **state)
{
    (void)state;
    SSL_SESSION *s = fresh(TLS1_3_VERSION);
    cg_tickets_cleanup();
    struct cg_err err;
    assert_ok(cg_tickets_init(0, &err), err);
    assert_false(resume(s, TLS1_3_VERSION, NULL));
    SSL_SESSION_free(s);
}

static void test_foreign_ticket(void **state)
{
    (void)state;
    int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
    for (size_t i = 0; i < 2; i++) {
        struct result r = connect_to(other_ctx, NULL, versions[i]);
        assert_true(r.ok);
        assert_true(SSL_SESSION_has_ticket(r.session));
        assert_false(resume(r.session, versions[i], NULL)); /* unknown key name: a full handshake */
        SSL_SESSION_free(r.session);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_keyring_no_ticket), /* first: before the keyring starts */
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_tick_rotates_when_due),
        cmocka_unit_test(test_restart_forgets),
        cmocka_unit_test(test_foreign_ticket),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
