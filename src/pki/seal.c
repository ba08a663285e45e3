/* Sealing private keys (and other secrets: a webhook's HMAC secret) at rest (SPEC.md section 5):
 * AES-256-GCM (NIST SP 800-38D) with a fresh random 96-bit nonce per call and the record id as
 * associated data, so that a sealed key copied onto another record, or altered in any byte, does
 * not decrypt.
 * Blob: "CGK1" | nonce(12) | ciphertext | tag(16). */
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "core/mem.h"
#include "pki/internal.h"
#include "pki/pki.h"

#define MAGIC "CGK1"
#define MAGIC_LEN 4
#define NONCE_LEN 12
#define TAG_LEN 16

static void wipe_der(uint8_t **p, int *len)
{
    if (*p) OPENSSL_clear_free(*p, (size_t)*len);
    *p = NULL;
    *len = 0;
}

/* Appends the sealed form of plain to out; what names the secret in messages ("the private
 * key"). */
static int seal_bytes(const uint8_t master[CG_MASTER_KEY_LEN], struct cg_slice aad, struct cg_slice plain,
                      const char *what, struct cg_buf *out, struct cg_err *err)
{
    CG_ENSURE(master && out && (plain.ptr || !plain.len), CG_EINVAL);
    CG_ENSURE(aad.len <= INT_MAX && plain.len <= INT_MAX, CG_EINVAL);
    uint8_t nonce[NONCE_LEN];
    uint8_t tag[TAG_LEN];
    CG_AUTO_CIPHER_CTX EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    size_t start = out->len;
    int len = 0;
    int rc = CG_EINTERNAL;
    if (RAND_bytes(nonce, sizeof(nonce)) != 1 || !ctx ||
        !EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) ||
        !EVP_EncryptInit_ex(ctx, NULL, NULL, master, nonce) ||
        (aad.len && !EVP_EncryptUpdate(ctx, NULL, &len, aad.ptr, (int)aad.len)))
        goto out;
    rc = cg_buf_reserve(out, MAGIC_LEN + NONCE_LEN + plain.len + TAG_LEN);
    if (rc < 0) goto out;
    rc = CG_EINTERNAL;
    memcpy(out->ptr + out->len, MAGIC, MAGIC_LEN);
    memcpy(out->ptr + out->len + MAGIC_LEN, nonce, NONCE_LEN);
    uint8_t *ct = out->ptr + out->len + MAGIC_LEN + NONCE_LEN;
    int ct_len = 0;
    if (plain.len && !EVP_EncryptUpdate(ctx, ct, &len, plain.ptr, (int)plain.len)) goto out;
    ct_len = plain.len ? len : 0;
    if (!EVP_EncryptFinal_ex(ctx, ct + ct_len, &len)) goto out;
    ct_len += len;
    if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag)) goto out;
    memcpy(ct + ct_len, tag, TAG_LEN);
    out->len += MAGIC_LEN + NONCE_LEN + (size_t)ct_len + TAG_LEN;
    out->ptr[out->len] = 0;
    rc = 0;
out:
    if (rc < 0) {
        out->len = start;
        if (out->ptr) out->ptr[start] = 0;
        cg_pki_drain_errors(NULL, 0);
        return cg_err_set(err, rc, "cannot seal %s: %s", what, rc == CG_ELIMIT ? "too large" : "encryption failed");
    }
    return 0;
}

int cg_pki_key_seal(const uint8_t master[CG_MASTER_KEY_LEN], struct cg_slice aad, EVP_PKEY *key,
                    struct cg_buf *out, struct cg_err *err)
{
    CG_ENSURE(master && key && out, CG_EINVAL);
    CG_AUTO_P8 PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
    uint8_t *der = NULL;
    int der_len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
    if (der_len <= 0) {
        cg_pki_drain_errors(NULL, 0);
        return cg_err_set(err, CG_EINTERNAL, "cannot encode the private key for sealing");
    }
    int rc = seal_bytes(master, aad, cg_slice_make(der, (size_t)der_len), "the private key", out, err);
    wipe_der(&der, &der_len);
    return rc;
}

int cg_pki_secret_seal(const uint8_t master[CG_MASTER_KEY_LEN], struct cg_slice aad, struct cg_slice secret,
                       struct cg_buf *out, struct cg_err *err)
{
    return seal_bytes(master, aad, secret, "the secret", out, err);
}

static int cannot_decrypt(struct cg_err *err, const char *what, const char *why)
{
    cg_pki_drain_errors(NULL, 0);
    cg_err_set(err, CG_ECERT, "%s: cannot decrypt (%s)", what, why);
    return cg_err_hint(err, "the master key does not belong to this store, or the record was altered");
}

/* Appends the plaintext of blob to plain (a secret buffer); what names the blob in messages
 * ("sealed private key"). */
static int unseal_bytes(const uint8_t master[CG_MASTER_KEY_LEN], struct cg_slice aad, struct cg_slice blob,
                        const char *what, struct cg_buf *plain, struct cg_err *err)
{
    CG_ENSURE(master && plain, CG_EINVAL);
    CG_ENSURE(aad.len <= INT_MAX, CG_EINVAL);
    if (!blob.ptr || blob.len < MAGIC_LEN + NONCE_LEN + TAG_LEN + 1 || blob.len > CG_PKI_MAX_INPUT)
        return cannot_decrypt(err, what, "it has a wrong length");
    if (memcmp(blob.ptr, MAGIC, MAGIC_LEN) != 0) return cannot_decrypt(err, what, "unknown sealed format");

    const uint8_t *nonce = blob.ptr + MAGIC_LEN;
    const uint8_t *ct = nonce + NONCE_LEN;
    size_t ct_len = blob.len - MAGIC_LEN - NONCE_LEN - TAG_LEN;
    uint8_t tag[TAG_LEN];
    memcpy(tag, ct + ct_len, TAG_LEN);

    size_t start = plain->len;
    CG_GUARD(cg_buf_reserve(plain, ct_len + 16));
    CG_AUTO_CIPHER_CTX EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0;
    if (!ctx || !EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) ||
        !EVP_DecryptInit_ex(ctx, NULL, NULL, master, nonce) ||
        (aad.len && !EVP_DecryptUpdate(ctx, NULL, &len, aad.ptr, (int)aad.len)) ||
        !EVP_DecryptUpdate(ctx, plain->ptr + start, &len, ct, (int)ct_len))
        return cannot_decrypt(err, what, "decryption failed");
    plain->len = start + (size_t)len;
    if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) ||
        EVP_DecryptFinal_ex(ctx, plain->ptr + plain->len, &len) <= 0) {
        cg_wipe(plain->ptr + start, plain->len - start);
        plain->len = start;
        plain->ptr[start] = 0;
        return cannot_decrypt(err, what, "authentication failed");
    }
    plain->len += (size_t)len;
    plain->ptr[plain->len] = 0;
    return 0;
}

int cg_pki_key_unseal(const uint8_t master[CG_MASTER_KEY_LEN], struct cg_slice aad, struct cg_slice blob,
                      EVP_PKEY **out, struct cg_err *err)
{
    CG_ENSURE(master && out, CG_EINVAL);
    *out = NULL;
    CG_AUTO_BUF struct cg_buf plain;
    cg_buf_init_secret(&plain, CG_PKI_MAX_INPUT);
    CG_GUARD(unseal_bytes(master, aad, blob, "sealed private key", &plain, err));
    const unsigned char *p = plain.ptr;
    CG_AUTO_P8 PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)plain.len);
    EVP_PKEY *key = p8 ? EVP_PKCS82PKEY(p8) : NULL;
    if (!key) {
        cg_pki_drain_errors(NULL, 0);
        return cg_err_set(err, CG_EPROTO, "sealed private key: decrypted, but not a valid PKCS#8 key");
    }
    *out = key;
    return 0;
}

int cg_pki_secret_unseal(const uint8_t master[CG_MASTER_KEY_LEN], struct cg_slice aad, struct cg_slice blob,
                         struct cg_buf *out, struct cg_err *err)
{
    return unseal_bytes(master, aad, blob, "sealed secret", out, err);
}
