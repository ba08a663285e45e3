/* The import library context and the OpenSSL error queue.
 *
 * Legacy PKCS#12 files (RC2-40 certificate bags, 3DES) need algorithms that OpenSSL 3 keeps in
 * its "legacy" provider. Loading that provider into the default context would make weak
 * algorithms available to TLS and everything else, so it goes into a context of its own that
 * only the importers use (OpenSSL 3 migration guide, "Legacy Algorithms"). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include "core/str.h"
#include "pki/internal.h"
#include "pki/pki.h"

static pthread_once_t import_once = PTHREAD_ONCE_INIT;
static OSSL_LIB_CTX *import_ctx; /* lives until exit; NULL when the legacy provider is missing */

static void import_ctx_init(void)
{
    OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
    if (!ctx) {
        ERR_clear_error();
        return;
    }
    OSSL_PROVIDER *legacy = OSSL_PROVIDER_load(ctx, "legacy");
    OSSL_PROVIDER *deflt = OSSL_PROVIDER_load(ctx, "default");
    if (!legacy || !deflt) {
        if (legacy) OSSL_PROVIDER_unload(legacy);
        if (deflt) OSSL_PROVIDER_unload(deflt);
        OSSL_LIB_CTX_free(ctx);
        ERR_clear_error();
        return;
    }
    /* The providers stay loaded for the life of the process, with the context. */
    import_ctx = ctx;
}

OSSL_LIB_CTX *cg_pki_import_libctx(void)
{
    pthread_once(&import_once, import_ctx_init);
    return import_ctx;
}

static bool is_unsupported(unsigned long e)
{
    int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);
    /* The decoder says "unsupported" when no decoder accepts the bytes, which is also what a
     * wrong password yields whenever the garbage it decrypts to happens to pass the CBC padding
     * check (1 time in 256): that is not an unknown algorithm (tests/data/README.md). */
    if (lib == ERR_LIB_OSSL_DECODER) return false;
    if (reason == ERR_R_UNSUPPORTED || reason == ERR_R_FETCH_FAILED) return true;
    if (lib == ERR_LIB_EVP)
        return reason == EVP_R_UNKNOWN_CIPHER || reason == EVP_R_UNSUPPORTED_CIPHER ||
               reason == EVP_R_UNKNOWN_DIGEST || reason == EVP_R_UNSUPPORTED_ALGORITHM ||
               reason == EVP_R_UNKNOWN_PBE_ALGORITHM || reason == EVP_R_UNSUPPORTED_PRF ||
               reason == EVP_R_UNSUPPORTED_KEY_DERIVATION_FUNCTION ||
               reason == EVP_R_UNSUPPORTED_KEYLENGTH;
    if (lib == ERR_LIB_PKCS12) return reason == PKCS12_R_UNKNOWN_DIGEST_ALGORITHM;
    return false;
}

static bool drain(char *buf, size_t n)
{
    bool unsupported = false;
    size_t len = 0;
    if (buf && n) buf[0] = '\0';
    const char *data = NULL;
    int flags = 0;
    unsigned long e;
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        unsupported |= is_unsupported(e);
        if (!buf || n == 0 || len + 1 >= n) continue;
        const char *reason = ERR_reason_error_string(e);
        char code[32];
        if (!reason) {
            snprintf(code, sizeof(code), "error %lx", e);
            reason = code;
        }
        bool with_data = (flags & ERR_TXT_STRING) && data && data[0];
        int w = snprintf(buf + len, n - len, "%s%s%s%s%s", len ? "; " : "", reason,
                         with_data ? " (" : "", with_data ? data : "", with_data ? ")" : "");
        if (w > 0) len += (size_t)w < n - len ? (size_t)w : n - len - 1;
    }
    ERR_clear_error();
    return unsupported;
}

void cg_pki_drain_errors(char *buf, size_t n) { (void)drain(buf, n); }

bool cg_pki_drain_errors_unsupported(char *buf, size_t n) { return drain(buf, n); }
