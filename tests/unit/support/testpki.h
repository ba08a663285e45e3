/* Test PKI made in-process with OpenSSL: a root CA, an intermediate, leaves of every kind the
 * importers must accept or warn about, and encoders for every file shape (PEM, DER, PKCS#12 in
 * each encryption). Aborts on any OpenSSL failure: a broken generator is not a test result. */
#ifndef CG_TESTPKI_H
#define CG_TESTPKI_H

#include <stdbool.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/buf.h"

struct tp_opts {
    bool ca;                /* basicConstraints CA:TRUE + keyCertSign */
    bool v1;                /* X.509 v1, no extensions */
    const char *eku;        /* "clientAuth", "serverAuth", "clientAuth,serverAuth" or NULL */
    const char *san;        /* "DNS:a.example,IP:10.0.0.1,..." or NULL */
    long not_before;        /* seconds from now (negative: in the past) */
    long not_after;         /* seconds from now; 0 means +365 days */
    long serial;            /* 0: a fixed default */
};

EVP_PKEY *tp_key_rsa(int bits);
EVP_PKEY *tp_key_ec(void);       /* prime256v1 */
EVP_PKEY *tp_key_ed25519(void);
/* issuer NULL: self-signed with key. */
X509 *tp_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, const struct tp_opts *o);

struct tp_pki {
    EVP_PKEY *root_key, *int_key, *leaf_key, *ec_key, *other_key;
    X509 *root;      /* CN=Test Root CA, self-signed, CA:TRUE */
    X509 *intm;      /* CN=Test Intermediate CA, issued by root */
    X509 *leaf;      /* CN=client.example, clientAuth, RSA leaf_key, issued by intm */
    X509 *leaf_ec;   /* CN=ec.example, clientAuth, EC ec_key, issued by intm */
    X509 *server;    /* CN=server.example, serverAuth only, leaf_key (same key as leaf!) */
    X509 *expired;   /* CN=expired.example, leaf_key, expired 10 days ago */
    X509 *future;    /* CN=future.example, leaf_key, valid from 10 days on */
    X509 *soon;      /* CN=soon.example, leaf_key, expires in 5 days */
    X509 *other;     /* CN=other.example, other_key, issued by intm */
    X509 *v1root;    /* CN=V1 Root, X.509 v1 self-signed */
};

/* Built once per process (RSA generation is slow under ASan) and freed at exit. */
const struct tp_pki *tp_pki_get(void);

/* Encoders: append to out (a plain cg_buf). */
void tp_pem_cert(struct cg_buf *out, X509 *x);
enum tp_key_form { TP_KEY_PKCS8, TP_KEY_TRAD /* PKCS#1 or SEC1 */, TP_KEY_PKCS8_ENC /* AES-256 */,
                   TP_KEY_TRAD_ENC /* Proc-Type */ };
void tp_pem_key(struct cg_buf *out, EVP_PKEY *k, enum tp_key_form form, const char *pass);
void tp_der_cert(struct cg_buf *out, X509 *x);
void tp_der_key(struct cg_buf *out, EVP_PKEY *k, enum tp_key_form form, const char *pass);
/* PKCS#12 via PKCS12_create_ex in a context with the legacy provider. nid_key/nid_cert as for
 * PKCS12_create (0 = default AES-256-CBC, -1 = none); mac false = no MAC (-nomac); pass may be
 * NULL. ca may be NULL. */
void tp_p12(struct cg_buf *out, const char *pass, EVP_PKEY *key, X509 *cert, STACK_OF(X509) *ca, int nid_key,
            int nid_cert, bool mac);
void tp_base64(struct cg_buf *out, const struct cg_buf *in);

/* Appends that abort on failure (the test buffers have no cap). */
void tp_append(struct cg_buf *b, const void *p, size_t n);
void tp_append_str(struct cg_buf *b, const char *s);
void tp_reserve(struct cg_buf *b, size_t n);

/* A scratch directory under CG_TEST_TMP (or /tmp), created on first use. */
const char *tp_tmpdir(void);

#endif
