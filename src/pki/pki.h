/* PKI: reading certificates and keys in every shape users bring them, the facts shown about
 * them, the checks that produce warnings, and the sealing of private keys at rest.
 * No socket I/O here. OpenSSL 3 only.
 *
 * Inputs are bytes plus a display name (the file path, "CLIENT_CERTIFICATES[2].pfx", ...):
 * every message names the input. Errors are set in struct cg_err with a message of the form
 * "<name>: <cause>" and a hint that says what to do. Nothing in this module logs, prints or
 * stores; passwords and key bytes are wiped after use. */
#ifndef CG_PKI_PKI_H
#define CG_PKI_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/slice.h"
#include "core/strlist.h"

/* Hard caps on untrusted input (STYLE.md: every size a peer controls is capped). */
#define CG_PKI_MAX_INPUT (1024 * 1024) /* bytes of one file or blob */
#define CG_PKI_MAX_CERTS 64            /* certificates in one container or bundle */

struct cg_pki_input {
    const char *name;     /* for messages: a path or a label */
    struct cg_slice data; /* the bytes, any format */
};

/* ---- format detection (detect.c) ---------------------------------------------------------- */

enum cg_pki_format {
    CG_PKI_FMT_EMPTY,
    CG_PKI_FMT_PKCS12,       /* DER PFX (RFC 7292) */
    CG_PKI_FMT_PEM,          /* text with one or more -----BEGIN blocks */
    CG_PKI_FMT_DER_CERT,     /* one DER X.509 certificate */
    CG_PKI_FMT_DER_KEY,      /* a DER private key (PKCS#8, PKCS#1, SEC1) */
    CG_PKI_FMT_BASE64,       /* base64 text of one of the above (decoded format in `inner`) */
    CG_PKI_FMT_UNKNOWN,
};

struct cg_pki_detected {
    enum cg_pki_format format;
    enum cg_pki_format inner; /* for CG_PKI_FMT_BASE64: what the decoded bytes are */
    /* PEM only: counts of blocks by type */
    size_t pem_certs, pem_keys, pem_encrypted_keys, pem_other;
};

/* Looks at the bytes, not the name. Never fails; UNKNOWN for anything else. */
void cg_pki_detect(struct cg_slice data, struct cg_pki_detected *out);
/* A phrase for messages, e.g. "a PKCS#12 container", "a PEM file with 2 certificates and no
 * private key", "a DER certificate", "a PEM private key", "an empty file", "a ZIP archive",
 * "a Java keystore (JKS)", "text that is not PEM or base64", "binary data of unknown format".
 * Writes into buf (NUL-terminated) and returns buf. */
const char *cg_pki_describe(struct cg_slice data, char *buf, size_t n);

/* ---- identities: certificate + key + chain (identity.c) -------------------------------------- */

struct cg_pki_identity {
    X509 *leaf;
    EVP_PKEY *key;
    STACK_OF(X509) *chain; /* intermediates and roots, leaf-to-root order, never NULL once loaded */
};

void cg_pki_identity_init(struct cg_pki_identity *id);
void cg_pki_identity_cleanup(struct cg_pki_identity *id); /* frees and wipes; accepts zeroed */

/* Loads an identity (client or server certificate with its private key) from:
 *   - main: PKCS#12 (any encryption real files use: PBES2/AES-256-CBC+PBKDF2, 3DES, legacy
 *     RC2-40 via the legacy provider in its own library context, with or without MAC, with or
 *     without a password), or PEM holding a certificate (and maybe key and chain), or a DER
 *     certificate; base64 text of PKCS#12 is accepted too;
 *   - key (optional): PEM or DER private key: PKCS#1, PKCS#8, SEC1, encrypted PKCS#8;
 *   - chain (optional): PEM or DER certificates.
 * password (may be NULL = none given) unlocks a PKCS#12 or an encrypted key; when NULL, an
 * empty password and no password are both tried.
 *
 * The leaf is the one certificate whose public key matches the private key; every other
 * certificate goes to the chain, ordered leaf-to-root by issuer links (duplicates dropped,
 * any certificate that links nowhere kept at the end).
 *
 * Refusals, each CG_E* code with its own message that names the input (tests match the quoted
 * words, so keep them in the message):
 *   CG_EPASSWORD     "wrong password" (or "needs a password" when none was given)
 *   CG_ECERT         "no private key" (hint: give --key, or export the PKCS#12 with its key)
 *   CG_ECERT         "no certificate"
 *   CG_EKEYMISMATCH  "does not match" (the key matches none of the certificates)
 *   CG_ECERT         "several end-entity certificates" (more than one certificate matches
 *                    the key, or more than one non-CA certificate and nothing tells which)
 *   CG_EFORMAT       "is <description>, not <expected>" using cg_pki_describe, e.g.
 *                    "'x.pem' is a PEM file with 1 certificate and no private key, not a
 *                    PKCS#12 container" -- whenever the bytes are not a usable identity
 *   CG_EPROTO        "truncated or corrupt" (parsing started and failed: bad DER, bad base64,
 *                    PEM block without END, ...)
 *   CG_ELIMIT        input larger than CG_PKI_MAX_INPUT or more than CG_PKI_MAX_CERTS certs
 * On failure *out is left empty. */
CG_RESULT cg_pki_identity_load(const struct cg_pki_input *main, const struct cg_pki_input *key,
                               const struct cg_pki_input *chain, const char *password,
                               struct cg_pki_identity *out, struct cg_err *err);

/* ---- CA bundles (ca.c) ----------------------------------------------------------------------- */

/* Loads CA certificates from PEM (one or many), DER, or base64 of either. Refuses, with
 * CG_ECERT and "is not a CA certificate" naming its subject, any certificate without
 * basicConstraints CA:TRUE (self-signed v1 roots are accepted as CAs); a private key in the
 * input is refused with "holds a private key" (a CA bundle is public). Other refusals as for
 * identities (CG_EFORMAT with the description, CG_EPROTO, CG_ELIMIT). *out is a new stack in
 * input order. */
CG_RESULT cg_pki_ca_load(const struct cg_pki_input *in, STACK_OF(X509) **out, struct cg_err *err);

/* ---- facts (facts.c) --------------------------------------------------------------------------- */

struct cg_pki_facts {
    char subject[512];        /* RFC 2253 one-line form, e.g. "CN=client,O=Example" */
    char issuer[512];
    char serial[128];         /* lowercase hex, no separators */
    char fingerprint[65];     /* SHA-256 of the DER, lowercase hex */
    char spki_sha256[45];     /* base64 SHA-256 of SubjectPublicKeyInfo (for SPKI pins) */
    time_t not_before, not_after;
    char key_type[16];        /* "RSA", "EC", "Ed25519", "Ed448" */
    int key_bits;             /* 2048, 256 ... */
    char key_curve[32];       /* "prime256v1" for EC, "" otherwise */
    bool is_ca;
    bool self_signed;
    struct cg_strlist sans;   /* "DNS:x", "IP:1.2.3.4", "URI:spiffe://...", "email:a@b" */
    struct cg_strlist eku;    /* "serverAuth", "clientAuth", other short names or OIDs; empty when absent */
};

/* Fills facts; call cg_pki_facts_cleanup afterwards. */
CG_RESULT cg_pki_facts_get(X509 *cert, struct cg_pki_facts *out);
void cg_pki_facts_cleanup(struct cg_pki_facts *f);
/* Whether SANs (as cg_pki_facts lists them: "DNS:name", "IP:addr") cover host: a DNS name
 * exactly or with a wildcard standing for the whole first label (RFC 6125 6.4.3; "f*.example.com"
 * is not honoured, as browsers do), or an IP address literal equal to an IP SAN. */
bool cg_pki_sans_cover(const struct cg_strlist *sans, const char *host);
/* RFC 2253 subject of cert into buf (truncated to n - 1 bytes); for messages and logs. */
void cg_pki_subject_get(X509 *cert, char *buf, size_t n);

/* ---- checks that produce warnings (check.c) -------------------------------------------------- */

enum cg_cert_kind { CG_CERT_CLIENT, CG_CERT_SERVER, CG_CERT_CA };
const char *cg_cert_kind_name(enum cg_cert_kind k); /* "client", "server", "ca" */
CG_RESULT cg_cert_kind_parse(const char *s, enum cg_cert_kind *out);

#define CG_PKI_EXPIRY_WARN_DAYS 30

/* Appends human warnings (stored with the certificate and shown) for: expired ("expired on
 * <date>"), not yet valid ("not valid before <date>"), expiring within 30 days ("expires in N
 * days"), a client certificate whose EKU does not allow clientAuth ("extended key usage does not
 * allow clientAuth"), a server certificate whose EKU does not allow serverAuth, a chain that does
 * not lead to its issuer ("chain does not lead to the issuer of ..."). Only a non-empty chain is
 * checked for linkage. */
CG_RESULT cg_pki_identity_check(const struct cg_pki_identity *id, enum cg_cert_kind kind, time_t now,
                                struct cg_strlist *warnings);
/* Same for a CA bundle: expired / not yet valid / expiring per certificate, naming its subject. */
CG_RESULT cg_pki_ca_check(STACK_OF(X509) *cas, time_t now, struct cg_strlist *warnings);

/* ---- chain order (chain.c) ------------------------------------------------------------------- */

/* Reorders *chain in place into leaf-to-root order starting from the leaf's issuer, drops
 * duplicates and the leaf itself if present. True when the chain, if non-empty, links without a
 * gap from the leaf (X509_check_issued). */
bool cg_pki_chain_order(X509 *leaf, STACK_OF(X509) *chain);

/* ---- PEM out/in for the store (pem.c) ------------------------------------------------------- */

/* Appends the PEM of leaf (if not NULL) and then of each certificate of chain. */
CG_RESULT cg_pki_certs_to_pem(X509 *leaf, STACK_OF(X509) *chain, struct cg_buf *out);
/* CRLs (SPEC.md: `ca add --crl FILE`, or X509 CRL blocks inside a CA bundle): PEM with one or
 * more "X509 CRL" blocks (other blocks ignored), or one DER CRL. A file with no CRL is CG_EFORMAT
 * naming what it is (cg_pki_describe); *out is NULL-free on success (at least one CRL). */
CG_RESULT cg_pki_crls_load(const struct cg_pki_input *in, STACK_OF(X509_CRL) **out, struct cg_err *err);
/* Checks each CRL against the bundle: its issuer must be a certificate of cas and its signature
 * must verify (CG_ECERT naming the CRL's issuer otherwise); a CRL past its nextUpdate is a
 * warning, not a refusal. */
CG_RESULT cg_pki_crls_check(STACK_OF(X509_CRL) *crls, STACK_OF(X509) *cas, time_t now, struct cg_strlist *warnings,
                            struct cg_err *err);
/* PEM text of the CRLs (for the store's crl_pem), and back (text without any block gives an
 * empty stack; a block of another type is CG_EFORMAT). */
CG_RESULT cg_pki_crls_to_pem(STACK_OF(X509_CRL) *crls, struct cg_buf *out);
CG_RESULT cg_pki_crls_from_pem(struct cg_slice pem, STACK_OF(X509_CRL) **out, struct cg_err *err);
/* What `ca show` says about a CRL. */
struct cg_pki_crl_facts {
    char issuer[512];         /* RFC 2253 */
    time_t last_update;
    time_t next_update;       /* 0: the CRL has none */
    size_t revoked;           /* entries */
};
void cg_pki_crl_facts_get(X509_CRL *crl, struct cg_pki_crl_facts *out);
/* Parses PEM certificates written by cg_pki_certs_to_pem into a new stack (input order). */
CG_RESULT cg_pki_certs_from_pem(struct cg_slice pem, STACK_OF(X509) **out, struct cg_err *err);

/* ---- sealing private keys at rest (seal.c, SPEC.md section 5) -------------------------------- */

#define CG_MASTER_KEY_LEN 32

/* AES-256-GCM over the key's unencrypted PKCS#8 DER, a fresh random 96-bit nonce per call, aad
 * (the record id) as associated data. Blob layout: "CGK1" | nonce(12) | ciphertext | tag(16).
 * The plaintext DER is wiped. */
CG_RESULT cg_pki_key_seal(const uint8_t master[CG_MASTER_KEY_LEN], struct cg_slice aad, EVP_PKEY *key,
                          struct cg_buf *out, struct cg_err *err);
/* Reverses cg_pki_key_seal; a wrong master key, a different aad or any altered byte gives
 * CG_ECERT "cannot decrypt" (hint: the master key does not belong to this store). */
CG_RESULT cg_pki_key_unseal(const uint8_t master[CG_MASTER_KEY_LEN], struct cg_slice aad,
                            struct cg_slice blob, EVP_PKEY **out, struct cg_err *err);
/* The same format over raw bytes (a webhook's HMAC secret, non-empty): seal appends the blob to
 * out; unseal appends the plaintext to out (initialise it with cg_buf_init_secret) and fails as
 * cg_pki_key_unseal does. */
CG_RESULT cg_pki_secret_seal(const uint8_t master[CG_MASTER_KEY_LEN], struct cg_slice aad, struct cg_slice secret,
                             struct cg_buf *out, struct cg_err *err);
CG_RESULT cg_pki_secret_unseal(const uint8_t master[CG_MASTER_KEY_LEN], struct cg_slice aad, struct cg_slice blob,
                               struct cg_buf *out, struct cg_err *err);

/* ---- the master key file (masterkey.c) ------------------------------------------------------- */

/* Creates path with 32 random bytes (RAND_priv_bytes), mode 0600; CG_EEXISTS when the file
 * exists (never overwrites). The file holds the key hex-encoded plus a newline. */
CG_RESULT cg_pki_master_key_create(const char *path, struct cg_err *err);
/* Loads the key; refuses a file readable by group or others (CG_EPERM, hint: chmod 600), a file
 * of the wrong length or content (CG_EPROTO), a missing file (CG_ENOENT, hint: certgate init). */
CG_RESULT cg_pki_master_key_load(const char *path, uint8_t out[CG_MASTER_KEY_LEN], struct cg_err *err);

/* ---- library contexts (libctx.c) ------------------------------------------------------------- */

/* The library context used for import only: default + legacy providers, created once
 * (thread-safe), so that legacy PKCS#12 (RC2-40, 3DES) decrypts without enabling legacy
 * algorithms anywhere else. NULL if the legacy provider cannot be loaded (then only modern files
 * import, and the error for a legacy file says so). */
OSSL_LIB_CTX *cg_pki_import_libctx(void);

/* Drains OpenSSL's error queue into buf as "; "-separated reasons (for detail), then clears it. */
void cg_pki_drain_errors(char *buf, size_t n);

#endif
