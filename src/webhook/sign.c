/* The Certgate-Signature header (webhook.h; docs/webhooks.md shows a receiver checking it):
 * HMAC-SHA256 (RFC 2104) keyed with the webhook's secret over "<t>.<body>", so that a receiver
 * can tell the body came from certgate and, with t, refuse a replayed one. */
#include "webhook/webhook.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "core/str.h"
#include "pki/pki.h"

static EVP_MAC *hmac;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void) { hmac = EVP_MAC_fetch(NULL, "HMAC", NULL); } /* once: fetching is costly */

int cg_webhook_signature(const uint8_t *secret, size_t secret_len, int64_t t, struct cg_slice body, char *out,
                         size_t n)
{
    CG_ENSURE(secret && secret_len > 0 && out && n >= CG_WEBHOOK_SIGNATURE_MAX, CG_EINVAL);
    out[0] = '\0';
    pthread_once(&hmac_once, hmac_fetch);
    char ts[24];
    int tl = snprintf(ts, sizeof(ts), "%" PRId64 ".", t);
    EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    uint8_t mac[32];
    size_t mac_len = 0;
    int ok = ctx && EVP_MAC_init(ctx, secret, secret_len, params) == 1 &&
             EVP_MAC_update(ctx, (const uint8_t *)ts, (size_t)tl) == 1 &&
             (body.len == 0 || EVP_MAC_update(ctx, body.ptr, body.len) == 1) &&
             EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac)) == 1 && mac_len == sizeof(mac);
    EVP_MAC_CTX_free(ctx); /* frees the keyed state with it */
    if (!ok) {
        cg_pki_drain_errors(NULL, 0);
        return CG_EINTERNAL;
    }
    char hex[2 * sizeof(mac) + 1];
    cg_hex_encode(mac, sizeof(mac), hex);
    snprintf(out, n, "t=%" PRId64 ",v1=%s", t, hex);
    return 0;
}
