/* Helpers shared by the files of the PKI module only (not part of its interface). */
#ifndef CG_PKI_INTERNAL_H
#define CG_PKI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "core/slice.h"
#include "pki/pki.h"

/* Scope cleanups for OpenSSL objects (STYLE.md: resource-owning locals are freed by a scope
 * cleanup). Each accepts a NULL object. */
static inline void cg_pki_x509_free_p(X509 **p) { X509_free(*p); }
static inline void cg_pki_pkey_free_p(EVP_PKEY **p) { EVP_PKEY_free(*p); }
static inline void cg_pki_bio_free_p(BIO **p) { BIO_free(*p); }
static inline void cg_pki_certs_free_p(STACK_OF(X509) **p) { sk_X509_pop_free(*p, X509_free); }
static inline void cg_pki_p12_free_p(PKCS12 **p) { PKCS12_free(*p); }
static inline void cg_pki_cipher_ctx_free_p(EVP_CIPHER_CTX **p) { EVP_CIPHER_CTX_free(*p); }
static inline void cg_pki_p8_free_p(PKCS8_PRIV_KEY_INFO **p) { PKCS8_PRIV_KEY_INFO_free(*p); }
#define CG_AUTO_X509 __attribute__((cleanup(cg_pki_x509_free_p)))
#define CG_AUTO_PKEY __attribute__((cleanup(cg_pki_pkey_free_p)))
#define CG_AUTO_BIO __attribute__((cleanup(cg_pki_bio_free_p)))
#define CG_AUTO_CERTS __attribute__((cleanup(cg_pki_certs_free_p)))
#define CG_AUTO_P12 __attribute__((cleanup(cg_pki_p12_free_p)))
#define CG_AUTO_CIPHER_CTX __attribute__((cleanup(cg_pki_cipher_ctx_free_p)))
#define CG_AUTO_P8 __attribute__((cleanup(cg_pki_p8_free_p)))
#define CG_AUTO_BUF __attribute__((cleanup(cg_buf_cleanup)))

/* ---- PEM blocks (pem.c) ---- */

enum cg_pki_pem_kind {
    CG_PKI_PEM_CERT,          /* CERTIFICATE, X509 CERTIFICATE, TRUSTED CERTIFICATE */
    CG_PKI_PEM_KEY,           /* PRIVATE KEY, RSA/EC/DSA PRIVATE KEY */
    CG_PKI_PEM_ENCRYPTED_KEY, /* ENCRYPTED PRIVATE KEY, or a traditional key with Proc-Type */
    CG_PKI_PEM_OTHER,         /* anything else: CSR, CRL, PUBLIC KEY, EC PARAMETERS ... */
};

struct cg_pki_pem_block {
    enum cg_pki_pem_kind kind;
    struct cg_slice label;  /* "CERTIFICATE" */
    struct cg_slice whole;  /* from "-----BEGIN" to the end of the END line */
    bool complete;          /* an END line with the same label was found */
};

/* Iterates over the PEM blocks of text. *pos starts at 0. Returns false when no further
 * "-----BEGIN " line exists. An incomplete block (no matching END) is returned once with
 * complete == false and ends the iteration. */
bool cg_pki_pem_next(struct cg_slice text, size_t *pos, struct cg_pki_pem_block *out);

/* ---- DER sniffing and base64 (detect.c) ---- */

/* Decodes base64 text into out (cap CG_PKI_MAX_INPUT). CG_EPROTO on bad base64. */
CG_RESULT cg_pki_base64_decode(struct cg_slice text, struct cg_buf *out);

/* ---- collecting certificates and keys from inputs (identity.c) ---- */

#define CG_PKI_MAX_KEYS 8

struct cg_pki_bag {
    STACK_OF(X509) *certs;               /* distinct certificates, in input order */
    EVP_PKEY *keys[CG_PKI_MAX_KEYS];     /* distinct private keys, in the default context */
    size_t nkeys;
    size_t input_certs;                  /* certificates seen in the current input (cap) */
};

CG_RESULT cg_pki_bag_init(struct cg_pki_bag *b);
void cg_pki_bag_cleanup(struct cg_pki_bag *b);
/* Opens an input: enforces CG_PKI_MAX_INPUT, detects the format and unwraps base64 (into dec,
 * which the caller cleans up). *data is what to parse, *d its detection. */
CG_RESULT cg_pki_input_open(const struct cg_pki_input *in, struct cg_buf *dec, struct cg_slice *data,
                            struct cg_pki_detected *d, struct cg_err *err);
/* Adds the certificates and (with keys_ok) private keys of PEM text. */
CG_RESULT cg_pki_bag_add_pem(struct cg_pki_bag *b, const char *name, struct cg_slice text,
                             const char *password, bool keys_ok, struct cg_err *err);
CG_RESULT cg_pki_bag_add_der_cert(struct cg_pki_bag *b, const char *name, struct cg_slice der,
                                  struct cg_err *err);
/* "'name' is truncated or corrupt: what (openssl detail)": CG_EPROTO, drains the queue. */
int cg_pki_err_corrupt(struct cg_err *err, const char *name, const char *what);
/* "'name' is <description of data>, not <expected>": CG_EFORMAT. */
int cg_pki_err_format(struct cg_err *err, const char *name, struct cg_slice data, const char *expected);

/* ---- error queue (libctx.c) ---- */

/* Drains the queue like cg_pki_drain_errors and returns true when one of the errors says an
 * algorithm is unsupported or could not be fetched (a legacy cipher without the legacy
 * provider, an unknown PBE or MAC algorithm). */
bool cg_pki_drain_errors_unsupported(char *buf, size_t n);

/* ---- keys and times (facts.c) ---- */

/* Re-creates key in the default library context (through its PKCS#8 form), so that keys
 * decoded in the import context never tie other modules to it. Returns a new key or NULL. */
EVP_PKEY *cg_pki_key_to_default_ctx(EVP_PKEY *key);
/* ASN1_TIME to time_t (UTC); false when the time cannot be read. */
bool cg_pki_asn1_time_get(const ASN1_TIME *t, time_t *out);
/* RFC 2253 subject of cert into buf. */
void cg_pki_subject_get(X509 *cert, char *buf, size_t n);
/* RFC 2253 form of any name (a CRL's issuer) into buf. */
void cg_pki_name_get(const X509_NAME *name, char *buf, size_t n);

#endif
