/* A client and a server SSL driven against each other in one thread, through memory BIOs (no
 * sockets, no threads): real handshakes for the net_ unit tests. The bytes of each flight pass
 * through tp_tls_pair.mutate (when set) on their way from the client to the server, so that a test
 * can corrupt a ClientHello. Header-only: the tests that use it link libssl already. */
#ifndef CG_TLSPAIR_H
#define CG_TLSPAIR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum { TP_RUNNING = 0, TP_DONE = 1, TP_FAILED = -1 };

struct tp_tls_pair {
    SSL *client, *server;             /* owned: freed by tp_tls_pair_free */
    BIO *c_in, *c_out, *s_in, *s_out; /* owned by the SSLs */
    int client_state, server_state;
    int client_alert;                 /* the last fatal alert the client received, or -1 */
    /* called on every client-to-server chunk before the server sees it */
    void (*mutate)(uint8_t *p, size_t n, void *arg);
    void *mutate_arg;
};

static inline void tp_tls_alert_cb(const SSL *ssl, int where, int ret)
{
    if ((where & SSL_CB_READ_ALERT) && (ret >> 8) == SSL3_AL_FATAL) {
        struct tp_tls_pair *p = SSL_get_app_data(ssl);
        if (p) p->client_alert = ret & 0xff;
    }
}

static inline BIO *tp_tls_mem_bio(void)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b) abort();
    BIO_set_mem_eof_return(b, -1); /* empty: "try again", not EOF */
    return b;
}

/* Takes both SSLs (the server already in accept state, or it is set here). */
static inline void tp_tls_pair_init(struct tp_tls_pair *p, SSL *client, SSL *server)
{
    memset(p, 0, sizeof(*p));
    p->client = client;
    p->server = server;
    p->client_alert = -1;
    p->c_in = tp_tls_mem_bio();
    p->c_out = tp_tls_mem_bio();
    p->s_in = tp_tls_mem_bio();
    p->s_out = tp_tls_mem_bio();
    SSL_set_bio(client, p->c_in, p->c_out);
    SSL_set_bio(server, p->s_in, p->s_out);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    SSL_set_app_data(client, p);
    SSL_set_info_callback(client, tp_tls_alert_cb);
}

static inline void tp_tls_move(BIO *from, BIO *to, struct tp_tls_pair *p, bool mutate)
{
    uint8_t buf[16384];
    int n;
    while ((n = BIO_read(from, buf, sizeof(buf))) > 0) {
        if (mutate && p->mutate) p->mutate(buf, (size_t)n, p->mutate_arg);
        if (BIO_write(to, buf, n) != n) abort();
    }
}

static inline void tp_tls_pump(struct tp_tls_pair *p)
{
    tp_tls_move(p->c_out, p->s_in, p, true);
    tp_tls_move(p->s_out, p->c_in, p, false);
}

static inline void tp_tls_step(SSL *ssl, int *state)
{
    if (*state != TP_RUNNING) return;
    int r = SSL_do_handshake(ssl);
    if (r == 1) {
        *state = TP_DONE;
        return;
    }
    int e = SSL_get_error(ssl, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) *state = TP_FAILED;
}

/* Runs the handshake to its end on both sides. True when both completed. A client that finished
 * while the server refused (TLS 1.3: the server judges the client's certificate after the client
 * is done) reads once more, so that it sees the alert. The error queue is cleared. */
static inline bool tp_tls_handshake(struct tp_tls_pair *p)
{
    for (int i = 0; i < 32 && (p->client_state == TP_RUNNING || p->server_state == TP_RUNNING); i++) {
        tp_tls_step(p->client, &p->client_state);
        tp_tls_pump(p);
        tp_tls_step(p->server, &p->server_state);
        tp_tls_pump(p);
        if (p->server_state == TP_FAILED && p->client_state == TP_DONE) break;
    }
    if (p->client_state == TP_DONE) {
        char b;
        tp_tls_pump(p);
        if (SSL_read(p->client, &b, 1) <= 0 && p->server_state == TP_FAILED) p->client_state = TP_FAILED;
    }
    ERR_clear_error();
    return p->client_state == TP_DONE && p->server_state == TP_DONE;
}

/* After a completed handshake: lets the client read what the server sent last (TLS 1.3 session
 * tickets) and returns its session (a new reference), or NULL. */
static inline SSL_SESSION *tp_tls_client_session(struct tp_tls_pair *p)
{
    char b;
    tp_tls_pump(p);
    (void)SSL_read(p->client, &b, 1);
    ERR_clear_error();
    return SSL_get1_session(p->client);
}

/* A completed connection is closed as if by close_notify both ways: an SSL freed otherwise marks
 * its session not resumable. */
static inline void tp_tls_pair_free(struct tp_tls_pair *p)
{
    if (p->client_state == TP_DONE) SSL_set_shutdown(p->client, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    if (p->server_state == TP_DONE) SSL_set_shutdown(p->server, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(p->client);
    SSL_free(p->server);
    p->client = p->server = NULL;
}

#endif
