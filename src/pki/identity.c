/* Identities: a certificate, its private key and its chain, from PKCS#12 (RFC 7292), PEM
 * (RFC 7468) or DER, in every shape users bring them (SPEC.md section 2).
 *
 * Everything found in the inputs goes into one bag (distinct certificates, distinct keys); the
 * leaf is then the certificate whose public key matches the private key, and the rest is the
 * chain. Passwords are never copied: OpenSSL reads them where the caller keeps them. Every
 * failure drains the OpenSSL error queue, so that nothing leaks into the next operation. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include "core/mem.h"
#include "core/str.h"
#include "pki/internal.h"
#include "pki/pki.h"

#define EXPECT_MAIN "a PKCS#12 container or a PEM or DER certificate"
#define EXPECT_KEY "a private key (PEM or DER)"
#define EXPECT_CHAIN "PEM or DER certificates"
#define P12_MAX_NESTING 3

/* ---- errors ---- */

int cg_pki_err_corrupt(struct cg_err *err, const char *name, const char *what)
{
    char detail[256];
    cg_pki_drain_errors(detail, sizeof(detail));
    cg_err_set(err, CG_EPROTO, "'%s' is truncated or corrupt: %s%s%s%s", name, what, detail[0] ? " (" : "",
               detail, detail[0] ? ")" : "");
    return cg_err_hint(err, "copy or export the file again; a file cut short or edited by hand cannot be read");
}

int cg_pki_err_format(struct cg_err *err, const char *name, struct cg_slice data, const char *expected)
{
    char desc[256];
    cg_pki_drain_errors(NULL, 0);
    cg_pki_describe(data, desc, sizeof(desc));
    return cg_err_set(err, CG_EFORMAT, "'%s' is %s, not %s", name, desc, expected);
}

static int wrong_password(struct cg_err *err, const char *name, bool given, bool has_mac)
{
    cg_pki_drain_errors(NULL, 0);
    if (!given) {
        cg_err_set(err, CG_EPASSWORD, "'%s' needs a password: it is encrypted and an empty password does not open it",
                   name);
        return cg_err_hint(err, "give the password the file was exported with");
    }
    if (has_mac) {
        cg_err_set(err, CG_EPASSWORD, "'%s': wrong password", name);
    } else {
        cg_err_set(err, CG_EPASSWORD,
                   "'%s': wrong password (the file has no integrity MAC, so a corrupt file looks the same)", name);
    }
    return cg_err_hint(err, "check the password the file was exported with");
}

static int no_memory(struct cg_err *err)
{
    cg_pki_drain_errors(NULL, 0);
    return cg_err_set(err, CG_ENOMEM, "out of memory");
}

/* ---- the bag ---- */

int cg_pki_bag_init(struct cg_pki_bag *b)
{
    memset(b, 0, sizeof(*b));
    b->certs = sk_X509_new_null();
    return b->certs ? 0 : CG_ENOMEM;
}

void cg_pki_bag_cleanup(struct cg_pki_bag *b)
{
    if (!b) return;
    sk_X509_pop_free(b->certs, X509_free);
    for (size_t i = 0; i < b->nkeys; i++) EVP_PKEY_free(b->keys[i]);
    memset(b, 0, sizeof(*b));
}

/* Takes ownership of x. */
static int bag_add_cert(struct cg_pki_bag *b, X509 *x, const char *name, struct cg_err *err)
{
    if (++b->input_certs > CG_PKI_MAX_CERTS) {
        X509_free(x);
        cg_pki_drain_errors(NULL, 0);
        cg_err_set(err, CG_ELIMIT, "'%s' holds more than %d certificates, the limit for one file", name,
                   CG_PKI_MAX_CERTS);
        return cg_err_hint(err, "keep only the certificate and its chain in the file");
    }
    for (int i = 0; i < sk_X509_num(b->certs); i++) {
        if (X509_cmp(sk_X509_value(b->certs, i), x) == 0) {
            X509_free(x);
            return 0;
        }
    }
    if (!sk_X509_push(b->certs, x)) {
        X509_free(x);
        return no_memory(err);
    }
    return 0;
}

/* Takes ownership of k; a key decoded in another library context is re-created in the default
 * one (cg_pki_key_to_default_ctx). */
static int bag_add_key(struct cg_pki_bag *b, EVP_PKEY *k, bool other_ctx, const char *name, struct cg_err *err)
{
    if (other_ctx) {
        EVP_PKEY *copy = cg_pki_key_to_default_ctx(k);
        EVP_PKEY_free(k);
        if (!copy) return cg_pki_err_corrupt(err, name, "the private key cannot be read");
        k = copy;
    }
    for (size_t i = 0; i < b->nkeys; i++) {
        if (EVP_PKEY_eq(b->keys[i], k) == 1) {
            EVP_PKEY_free(k);
            ERR_clear_error();
            return 0;
        }
    }
    ERR_clear_error();
    if (b->nkeys == CG_PKI_MAX_KEYS) {
        EVP_PKEY_free(k);
        return cg_err_set(err, CG_ELIMIT, "'%s' holds more than %d private keys", name, CG_PKI_MAX_KEYS);
    }
    b->keys[b->nkeys++] = k;
    return 0;
}

/* ---- inputs ---- */

int cg_pki_input_open(const struct cg_pki_input *in, struct cg_buf *dec, struct cg_slice *data,
                      struct cg_pki_detected *d, struct cg_err *err)
{
    cg_buf_init_secret(dec, CG_PKI_MAX_INPUT);
    *data = in->data;
    if (in->data.len > CG_PKI_MAX_INPUT) {
        cg_err_set(err, CG_ELIMIT, "'%s' is larger than %d bytes, the limit for certificate and key files", in->name,
                   CG_PKI_MAX_INPUT);
        return cg_err_hint(err, "this is not a certificate file, or it holds far more than one identity");
    }
    cg_pki_detect(in->data, d);
    if (d->format != CG_PKI_FMT_BASE64) return 0;
    if (cg_pki_base64_decode(in->data, dec) < 0) return cg_pki_err_corrupt(err, in->name, "bad base64");
    *data = cg_buf_slice(dec);
    cg_pki_detect(*data, d);
    if (d->format == CG_PKI_FMT_BASE64) d->format = CG_PKI_FMT_UNKNOWN; /* base64 of base64: no */
    return 0;
}

/* ---- PEM ---- */

struct pw_ctx {
    const char *pw;
    bool asked;
};

/* Never prompts: answers with the given password, or fails when there is none. */
static int pem_pw_cb(char *buf, int size, int rwflag, void *u)
{
    CG_UNUSED(rwflag);
    struct pw_ctx *p = u;
    p->asked = true;
    if (!p->pw) return -1;
    size_t len = strlen(p->pw);
    if (len > (size_t)size) return -1;
    memcpy(buf, p->pw, len);
    return (int)len;
}

static int no_prompt_cb(char *buf, int size, int rwflag, void *u)
{
    CG_UNUSED(buf);
    CG_UNUSED(size);
    CG_UNUSED(rwflag);
    CG_UNUSED(u);
    return -1;
}

static int pem_add_key(struct cg_pki_bag *b, const char *name, const struct cg_pki_pem_block *blk,
                       const char *password, struct cg_err *err)
{
    OSSL_LIB_CTX *libctx = cg_pki_import_libctx();
    struct pw_ctx pw = {password ? password : "", false};
    CG_AUTO_BIO BIO *bio = BIO_new_mem_buf(blk->whole.ptr, (int)blk->whole.len);
    if (!bio) return no_memory(err);
    EVP_PKEY *k = PEM_read_bio_PrivateKey_ex(bio, NULL, pem_pw_cb, &pw, libctx, NULL);
    if (!k) {
        if (pw.asked || blk->kind == CG_PKI_PEM_ENCRYPTED_KEY) {
            char detail[256];
            if (cg_pki_drain_errors_unsupported(detail, sizeof(detail)) && password) {
                cg_err_set(err, CG_ECERT, "'%s': the private key is encrypted with an algorithm that is not supported (%s)",
                           name, detail);
                return cg_err_hint(err, "convert the key: openssl pkcs8 -topk8 -v2 aes-256-cbc");
            }
            return wrong_password(err, name, password != NULL, true);
        }
        return cg_pki_err_corrupt(err, name, "a PEM private key cannot be read");
    }
    return bag_add_key(b, k, libctx != NULL, name, err);
}

int cg_pki_bag_add_pem(struct cg_pki_bag *b, const char *name, struct cg_slice text, const char *password,
                       bool keys_ok, struct cg_err *err)
{
    size_t pos = 0;
    struct cg_pki_pem_block blk;
    while (cg_pki_pem_next(text, &pos, &blk)) {
        if (!blk.complete) {
            char what[128];
            snprintf(what, sizeof(what), "the PEM block '%.*s' has no END line",
                     (int)(blk.label.len > 64 ? 64 : blk.label.len), (const char *)blk.label.ptr);
            return cg_pki_err_corrupt(err, name, what);
        }
        switch (blk.kind) {
        case CG_PKI_PEM_CERT: {
            CG_AUTO_BIO BIO *bio = BIO_new_mem_buf(blk.whole.ptr, (int)blk.whole.len);
            if (!bio) return no_memory(err);
            X509 *x = PEM_read_bio_X509_AUX(bio, NULL, no_prompt_cb, NULL);
            if (!x) return cg_pki_err_corrupt(err, name, "a PEM certificate cannot be read");
            CG_GUARD(bag_add_cert(b, x, name, err));
            break;
        }
        case CG_PKI_PEM_KEY:
        case CG_PKI_PEM_ENCRYPTED_KEY:
            if (!keys_ok) {
                cg_err_set(err, CG_ECERT, "'%s' holds a private key", name);
                return cg_err_hint(err, "this input takes certificates only; give the private key separately");
            }
            CG_GUARD(pem_add_key(b, name, &blk, password, err));
            break;
        case CG_PKI_PEM_OTHER: break; /* EC PARAMETERS, CSR, CRL ...: not ours to judge */
        }
    }
    return 0;
}

/* ---- DER ---- */

int cg_pki_bag_add_der_cert(struct cg_pki_bag *b, const char *name, struct cg_slice der, struct cg_err *err)
{
    const unsigned char *p = der.ptr;
    X509 *x = d2i_X509(NULL, &p, (long)der.len);
    if (!x) return cg_pki_err_corrupt(err, name, "not a valid DER certificate");
    return bag_add_cert(b, x, name, err);
}

static int add_der_key(struct cg_pki_bag *b, const char *name, struct cg_slice der, const char *password,
                       struct cg_err *err)
{
    OSSL_LIB_CTX *libctx = cg_pki_import_libctx();
    const unsigned char *p = der.ptr;
    /* EncryptedPrivateKeyInfo first: SEQUENCE { SEQUENCE { OID ... } ... } */
    if (der.len > 4 && der.ptr[0] == 0x30) {
        X509_SIG *sig = d2i_X509_SIG(NULL, &p, (long)der.len);
        if (sig) {
            const char *pw = password ? password : "";
            PKCS8_PRIV_KEY_INFO *p8 = PKCS8_decrypt_ex(sig, pw, (int)strlen(pw), libctx, NULL);
            X509_SIG_free(sig);
            if (!p8) {
                char detail[256];
                if (cg_pki_drain_errors_unsupported(detail, sizeof(detail)) && password) {
                    cg_err_set(err, CG_ECERT,
                               "'%s': the private key is encrypted with an algorithm that is not supported (%s)",
                               name, detail);
                    return cg_err_hint(err, "convert the key: openssl pkcs8 -topk8 -v2 aes-256-cbc");
                }
                return wrong_password(err, name, password != NULL, true);
            }
            EVP_PKEY *k = EVP_PKCS82PKEY_ex(p8, libctx, NULL);
            PKCS8_PRIV_KEY_INFO_free(p8);
            if (!k) return cg_pki_err_corrupt(err, name, "the decrypted private key cannot be read");
            return bag_add_key(b, k, libctx != NULL, name, err);
        }
        ERR_clear_error();
    }
    p = der.ptr;
    EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, (long)der.len);
    if (!k) return cg_pki_err_corrupt(err, name, "not a valid DER private key");
    return bag_add_key(b, k, false, name, err);
}

/* ---- PKCS#12 ---- */

enum { P12_DECRYPT_FAILED = 1 }; /* positive: the caller decides (next password, wrong password) */

struct p12_walk {
    struct cg_pki_bag *bag;
    const char *name;
    OSSL_LIB_CTX *libctx;
    const char *pass;
    int passlen;
    bool unsupported;
    char detail[256];
    struct cg_err *err;
};

static int decrypt_failed(struct p12_walk *w)
{
    w->unsupported = cg_pki_drain_errors_unsupported(w->detail, sizeof(w->detail));
    return P12_DECRYPT_FAILED;
}

static int walk_bags(struct p12_walk *w, const STACK_OF(PKCS12_SAFEBAG) *bags, int depth)
{
    for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
        const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
        switch (PKCS12_SAFEBAG_get_nid(bag)) {
        case NID_keyBag: {
            const PKCS8_PRIV_KEY_INFO *p8 = PKCS12_SAFEBAG_get0_p8inf(bag);
            EVP_PKEY *k = p8 ? EVP_PKCS82PKEY_ex(p8, w->libctx, NULL) : NULL;
            if (!k) return cg_pki_err_corrupt(w->err, w->name, "a private key bag cannot be read");
            CG_GUARD(bag_add_key(w->bag, k, w->libctx != NULL, w->name, w->err));
            break;
        }
        case NID_pkcs8ShroudedKeyBag: {
            PKCS8_PRIV_KEY_INFO *p8 = PKCS12_decrypt_skey_ex(bag, w->pass, w->passlen, w->libctx, NULL);
            if (!p8) return decrypt_failed(w);
            EVP_PKEY *k = EVP_PKCS82PKEY_ex(p8, w->libctx, NULL);
            PKCS8_PRIV_KEY_INFO_free(p8); /* clears the key bytes */
            if (!k) return cg_pki_err_corrupt(w->err, w->name, "the decrypted private key cannot be read");
            CG_GUARD(bag_add_key(w->bag, k, w->libctx != NULL, w->name, w->err));
            break;
        }
        case NID_certBag: {
            if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate) break; /* SDSI: not used */
            X509 *x = PKCS12_SAFEBAG_get1_cert(bag);
            if (!x) return cg_pki_err_corrupt(w->err, w->name, "a certificate bag cannot be read");
            CG_GUARD(bag_add_cert(w->bag, x, w->name, w->err));
            break;
        }
        case NID_safeContentsBag:
            if (depth >= P12_MAX_NESTING)
                return cg_pki_err_corrupt(w->err, w->name, "safe contents nested too deeply");
            CG_GUARD(walk_bags(w, PKCS12_SAFEBAG_get0_safes(bag), depth + 1));
            break;
        default: break; /* CRL and secret bags carry nothing we import */
        }
    }
    return 0;
}

static int walk_p12(struct p12_walk *w, PKCS12 *p12)
{
    STACK_OF(PKCS7) *asafes = PKCS12_unpack_authsafes(p12);
    if (!asafes) return cg_pki_err_corrupt(w->err, w->name, "the PKCS#12 contents cannot be read");
    int rc = 0;
    for (int i = 0; i < sk_PKCS7_num(asafes) && rc == 0; i++) {
        PKCS7 *p7 = sk_PKCS7_value(asafes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
        switch (OBJ_obj2nid(p7->type)) {
        case NID_pkcs7_data:
            bags = PKCS12_unpack_p7data(p7);
            if (!bags) rc = cg_pki_err_corrupt(w->err, w->name, "a PKCS#12 safe cannot be read");
            break;
        case NID_pkcs7_encrypted:
            if (!p7->d.encrypted || !p7->d.encrypted->enc_data || !p7->d.encrypted->enc_data->algorithm) {
                rc = cg_pki_err_corrupt(w->err, w->name, "an encrypted PKCS#12 safe is malformed");
                break;
            }
            if (!p7->d.encrypted->enc_data->enc_data) break; /* empty */
            /* The _ex call decrypts in the import context: legacy RC2-40 and 3DES live there. */
            bags = PKCS12_item_decrypt_d2i_ex(p7->d.encrypted->enc_data->algorithm, ASN1_ITEM_rptr(PKCS12_SAFEBAGS),
                                              w->pass, w->passlen, p7->d.encrypted->enc_data->enc_data, 1,
                                              w->libctx, NULL);
            if (!bags) rc = decrypt_failed(w);
            break;
        default:
            cg_pki_drain_errors(NULL, 0);
            cg_err_set(w->err, CG_ECERT,
                       "'%s' uses public-key encryption for its contents, which is not supported", w->name);
            rc = cg_err_hint(w->err, "export the file again with password-based encryption");
            break;
        }
        if (bags) rc = walk_bags(w, bags, 0);
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    sk_PKCS7_pop_free(asafes, PKCS7_free);
    return rc;
}

static int unsupported_p12(struct cg_err *err, const char *name, const char *detail, bool have_legacy)
{
    if (!have_legacy) {
        cg_err_set(err, CG_ECERT,
                   "'%s' uses legacy encryption (such as RC2-40 or 3DES) and the OpenSSL legacy provider could not "
                   "be loaded (%s)", name, detail);
        return cg_err_hint(err, "install the OpenSSL legacy provider (ossl-modules/legacy.so), or export the file "
                                "again with modern encryption (openssl pkcs12 -export without -legacy)");
    }
    cg_err_set(err, CG_ECERT, "'%s' uses an encryption or integrity algorithm that is not supported (%s)", name,
               detail);
    return cg_err_hint(err, "export the file again with AES-256-CBC and PBKDF2 (the OpenSSL 3 default)");
}

static int bag_merge(struct cg_pki_bag *into, struct cg_pki_bag *from, const char *name, struct cg_err *err)
{
    while (sk_X509_num(from->certs) > 0) CG_GUARD(bag_add_cert(into, sk_X509_shift(from->certs), name, err));
    while (from->nkeys > 0) {
        EVP_PKEY *k = from->keys[--from->nkeys];
        CG_GUARD(bag_add_key(into, k, false, name, err));
    }
    return 0;
}

static int add_p12(struct cg_pki_bag *b, const char *name, struct cg_slice der, const char *password,
                   struct cg_err *err)
{
    const unsigned char *p = der.ptr;
    CG_AUTO_P12 PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)der.len);
    if (!p12) return cg_pki_err_corrupt(err, name, "not a valid PKCS#12 structure");

    /* With no password given, try the empty password and no password: RFC 7292 tools encode
     * "" as a lone BMP NUL and "none" as nothing, and files of both kinds exist. */
    const char *cands[2] = {password, NULL};
    int ncand = 1;
    if (!password) {
        cands[0] = "";
        ncand = 2;
    }
    bool has_mac = PKCS12_mac_present(p12);
    if (has_mac) {
        int found = -1;
        for (int i = 0; i < ncand && found < 0; i++) {
            ERR_clear_error();
            if (PKCS12_verify_mac(p12, cands[i], cands[i] ? (int)strlen(cands[i]) : 0)) {
                found = i;
            } else if (ERR_peek_error() != 0) {
                /* a mismatch raises nothing; an error means the MAC cannot be computed */
                char detail[256];
                if (cg_pki_drain_errors_unsupported(detail, sizeof(detail)))
                    return unsupported_p12(err, name, detail, true);
                return cg_pki_err_corrupt(err, name, "its integrity check (MAC) cannot be computed");
            }
        }
        if (found < 0) return wrong_password(err, name, password != NULL, true);
        cands[0] = cands[found];
        ncand = 1;
    }

    OSSL_LIB_CTX *libctx = cg_pki_import_libctx();
    for (int i = 0; i < ncand; i++) {
        __attribute__((cleanup(cg_pki_bag_cleanup))) struct cg_pki_bag tmp;
        if (cg_pki_bag_init(&tmp) < 0) return no_memory(err);
        struct p12_walk w = {.bag = &tmp, .name = name, .libctx = libctx, .pass = cands[i],
                             .passlen = cands[i] ? (int)strlen(cands[i]) : 0, .err = err};
        int rc = walk_p12(&w, p12);
        if (rc < 0) return rc;
        if (rc == 0) return bag_merge(b, &tmp, name, err);
        if (w.unsupported) return unsupported_p12(err, name, w.detail, libctx != NULL);
    }
    if (has_mac) return cg_pki_err_corrupt(err, name, "the password opens its MAC but not its contents");
    return wrong_password(err, name, password != NULL, false);
}

/* ---- loading ---- */

enum role { ROLE_MAIN, ROLE_KEY, ROLE_CHAIN };

static int add_input(struct cg_pki_bag *b, const struct cg_pki_input *in, enum role role, const char *password,
                     struct cg_err *err)
{
    CG_AUTO_BUF struct cg_buf dec;
    struct cg_slice data;
    struct cg_pki_detected d;
    CG_GUARD(cg_pki_input_open(in, &dec, &data, &d, err));
    b->input_certs = 0;
    size_t keys = d.pem_keys + d.pem_encrypted_keys;

    switch (role) {
    case ROLE_MAIN:
        switch (d.format) {
        case CG_PKI_FMT_PKCS12: return add_p12(b, in->name, data, password, err);
        case CG_PKI_FMT_PEM:
            if (d.pem_certs + keys == 0) break;
            return cg_pki_bag_add_pem(b, in->name, data, password, true, err);
        case CG_PKI_FMT_DER_CERT: return cg_pki_bag_add_der_cert(b, in->name, data, err);
        case CG_PKI_FMT_DER_KEY: return add_der_key(b, in->name, data, password, err);
        default: break;
        }
        return cg_pki_err_format(err, in->name, in->data, EXPECT_MAIN);
    case ROLE_KEY:
        if (d.format == CG_PKI_FMT_PEM && keys > 0) return cg_pki_bag_add_pem(b, in->name, data, password, true, err);
        if (d.format == CG_PKI_FMT_DER_KEY) return add_der_key(b, in->name, data, password, err);
        return cg_pki_err_format(err, in->name, in->data, EXPECT_KEY);
    case ROLE_CHAIN:
        if (d.format == CG_PKI_FMT_EMPTY) return 0; /* an empty chain file: no chain */
        if (d.format == CG_PKI_FMT_PEM && d.pem_certs > 0)
            return cg_pki_bag_add_pem(b, in->name, data, NULL, false, err);
        if (d.format == CG_PKI_FMT_DER_CERT) return cg_pki_bag_add_der_cert(b, in->name, data, err);
        return cg_pki_err_format(err, in->name, in->data, EXPECT_CHAIN);
    }
    return CG_EINTERNAL;
}

void cg_pki_identity_init(struct cg_pki_identity *id)
{
    id->leaf = NULL;
    id->key = NULL;
    id->chain = NULL;
}

void cg_pki_identity_cleanup(struct cg_pki_identity *id)
{
    if (!id) return;
    X509_free(id->leaf);
    EVP_PKEY_free(id->key); /* the providers clear key material on free */
    sk_X509_pop_free(id->chain, X509_free);
    cg_pki_identity_init(id);
}

static void subjects_list(STACK_OF(X509) *certs, const int *idx, int n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len + 1 < size; i++) {
        char s[256];
        cg_pki_subject_get(sk_X509_value(certs, idx[i]), s, sizeof(s));
        int w = snprintf(buf + len, size - len, "%s'%s'", i ? ", " : "", s);
        if (w < 0) break;
        len += (size_t)w < size - len ? (size_t)w : size - len - 1;
    }
}

static int pick_leaf(struct cg_pki_bag *b, const struct cg_pki_input *main, const struct cg_pki_input *key,
                     struct cg_pki_identity *out, struct cg_err *err)
{
    int ncerts = sk_X509_num(b->certs);
    const char *keyname = key ? key->name : main->name;
    if (ncerts == 0) {
        char desc[256];
        cg_pki_describe(main->data, desc, sizeof(desc));
        cg_err_set(err, CG_ECERT, "'%s' holds no certificate: it is %s", main->name, desc);
        return cg_err_hint(err, "give the certificate file, or a PKCS#12 container that holds the certificate");
    }
    if (b->nkeys == 0) {
        char desc[256];
        cg_pki_describe(main->data, desc, sizeof(desc));
        struct cg_pki_detected d;
        cg_pki_detect(main->data, &d);
        if (d.format == CG_PKI_FMT_PKCS12 || (d.format == CG_PKI_FMT_BASE64 && d.inner == CG_PKI_FMT_PKCS12))
            cg_err_set(err, CG_ECERT, "'%s' holds no private key: it is %s with certificates only", main->name,
                       desc);
        else
            cg_err_set(err, CG_ECERT, "'%s' is %s, not a PKCS#12 container or a certificate with its key: no "
                       "private key was given", main->name, desc);
        return cg_err_hint(err, "give the private key with --key, or export the PKCS#12 with its private key");
    }
    if (b->nkeys > 1) {
        cg_err_set(err, CG_ECERT, "'%s' holds %zu different private keys; an identity has one", keyname, b->nkeys);
        return cg_err_hint(err, "keep only the private key that belongs to the certificate");
    }

    EVP_PKEY *k = b->keys[0];
    int matches[CG_PKI_MAX_CERTS * 3];
    int nmatch = 0;
    for (int i = 0; i < ncerts && nmatch < (int)CG_ARRAY_LEN(matches); i++) {
        EVP_PKEY *pub = X509_get0_pubkey(sk_X509_value(b->certs, i));
        if (pub && EVP_PKEY_eq(pub, k) == 1) matches[nmatch++] = i;
    }
    ERR_clear_error();
    if (nmatch == 0) {
        char subj[512];
        if (ncerts == 1) {
            char s[256];
            cg_pki_subject_get(sk_X509_value(b->certs, 0), s, sizeof(s));
            snprintf(subj, sizeof(subj), "the certificate '%s'", s);
        } else {
            snprintf(subj, sizeof(subj), "any of the %d certificates", ncerts);
        }
        cg_err_set(err, CG_EKEYMISMATCH, "'%s': the private key does not match %s", keyname, subj);
        return cg_err_hint(err, "give the private key that was issued with this certificate");
    }
    if (nmatch > 1) {
        char list[600];
        subjects_list(b->certs, matches, nmatch, list, sizeof(list));
        cg_err_set(err, CG_ECERT, "'%s' holds several end-entity certificates for one private key (%s)", main->name,
                   list);
        return cg_err_hint(err, "keep only the certificate to use, with its chain");
    }

    STACK_OF(X509) *chain = sk_X509_new_null();
    if (!chain) return no_memory(err);
    X509 *leaf = sk_X509_value(b->certs, matches[0]);
    for (int i = 0; i < ncerts; i++) {
        if (i == matches[0]) continue;
        X509 *x = sk_X509_value(b->certs, i);
        if (!X509_up_ref(x) || !sk_X509_push(chain, x)) {
            X509_free(x);
            sk_X509_pop_free(chain, X509_free);
            return no_memory(err);
        }
    }
    (void)cg_pki_chain_order(leaf, chain); /* a gap is a warning (cg_pki_identity_check) */
    if (!X509_up_ref(leaf)) {
        sk_X509_pop_free(chain, X509_free);
        return no_memory(err);
    }
    out->leaf = leaf;
    out->key = k;
    b->keys[0] = NULL;
    b->nkeys = 0;
    out->chain = chain;
    return 0;
}

int cg_pki_identity_load(const struct cg_pki_input *main, const struct cg_pki_input *key,
                         const struct cg_pki_input *chain, const char *password, struct cg_pki_identity *out,
                         struct cg_err *err)
{
    cg_err_clear(err);
    CG_ENSURE(out, CG_EINVAL);
    cg_pki_identity_init(out);
    if (!main || !main->name || (key && !key->name) || (chain && !chain->name))
        return cg_err_set(err, CG_EINVAL, "identity import: no input given");

    __attribute__((cleanup(cg_pki_bag_cleanup))) struct cg_pki_bag bag;
    if (cg_pki_bag_init(&bag) < 0) return no_memory(err);
    int rc = add_input(&bag, main, ROLE_MAIN, password, err);
    if (rc == 0 && key) rc = add_input(&bag, key, ROLE_KEY, password, err);
    if (rc == 0 && chain) rc = add_input(&bag, chain, ROLE_CHAIN, NULL, err);
    if (rc == 0) rc = pick_leaf(&bag, main, key, out, err);
    cg_pki_drain_errors(NULL, 0);
    if (rc < 0) cg_pki_identity_cleanup(out);
    return rc;
}
