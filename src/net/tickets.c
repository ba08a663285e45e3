/* Session-ticket keys: one ring for the whole process (RFC 5077 section 4 layout, as OpenSSL
 * writes it: a 16-byte key name, an IV, AES-256-CBC ciphertext, HMAC-SHA256). The ring holds the
 * current key, which encrypts, and the two before it, which still decrypt; a ticket opened with an
 * old key is renewed (the callback answers 2), so a returning client moves to the current key.
 * Every SSL_CTX of every runtime installs the same callback, so a ticket survives a reload and
 * works on any worker. The lock is taken once per ticket operation and is uncontended in
 * practice (the control thread rotates once per rotate_s). */
#include "net/tickets.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/log.h"
#include "core/time.h"
#include "pki/pki.h"

#define KEY_NAME_LEN 16
#define AES_KEY_LEN 32
#define HMAC_KEY_LEN 32
#define IV_LEN 16                /* AES block size */
#define RING_KEYS 3              /* the current key and two older ones */
#define DEFAULT_ROTATE_S (12u * 3600u)

struct ticket_key {
    unsigned char name[KEY_NAME_LEN];
    unsigned char aes[AES_KEY_LEN];
    unsigned char hmac[HMAC_KEY_LEN];
};

static struct {
    pthread_mutex_t lock;
    bool ready;
    struct ticket_key keys[RING_KEYS]; /* [0] encrypts; all decrypt */
    size_t n;
    uint32_t rotate_s;
    uint64_t rotated_ms;               /* monotonic time of the last rotation */
    EVP_CIPHER *aes;                   /* fetched once: an implicit fetch per ticket costs a lock */
} ring = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void key_wipe(struct ticket_key *k) { OPENSSL_cleanse(k, sizeof(*k)); }

static bool key_make(struct ticket_key *k)
{
    /* the name is public (it travels in every ticket); the keys come from the private DRBG */
    if (RAND_bytes(k->name, sizeof(k->name)) == 1 && RAND_priv_bytes(k->aes, sizeof(k->aes)) == 1 &&
        RAND_priv_bytes(k->hmac, sizeof(k->hmac)) == 1)
        return true;
    key_wipe(k);
    return false;
}

/* Under the lock: a new current key; the oldest is wiped when the ring is full. */
static bool rotate_locked(void)
{
    struct ticket_key fresh;
    if (!key_make(&fresh)) return false;
    if (ring.n == RING_KEYS) key_wipe(&ring.keys[RING_KEYS - 1]);
    memmove(&ring.keys[1], &ring.keys[0], (RING_KEYS - 1) * sizeof(ring.keys[0]));
    ring.keys[0] = fresh;
    key_wipe(&fresh);
    if (ring.n < RING_KEYS) ring.n++;
    ring.rotated_ms = cg_time_mono_ms();
    return true;
}

int cg_tickets_init(uint32_t rotate_s, struct cg_err *err)
{
    pthread_mutex_lock(&ring.lock);
    ring.rotate_s = rotate_s ? rotate_s : DEFAULT_ROTATE_S;
    if (ring.ready) { /* a second start keeps the keys: tickets stay valid */
        pthread_mutex_unlock(&ring.lock);
        return 0;
    }
    if (!ring.aes) ring.aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    bool ok = ring.aes && rotate_locked();
    ring.ready = ok;
    pthread_mutex_unlock(&ring.lock);
    if (ok) return 0;
    char detail[256];
    cg_pki_drain_errors(detail, sizeof(detail));
    return cg_err_set(err, CG_EINTERNAL, "cannot create a session-ticket key: %s", detail);
}

static void rotate_now(void)
{
    if (rotate_locked()) return;
    char detail[256];
    cg_pki_drain_errors(detail, sizeof(detail));
    CG_LOG_W("session-ticket key rotation failed (the current key stays in use): %s", detail);
}

void cg_tickets_tick(void)
{
    pthread_mutex_lock(&ring.lock);
    if (ring.ready && cg_time_mono_ms() - ring.rotated_ms >= (uint64_t)ring.rotate_s * 1000u) rotate_now();
    pthread_mutex_unlock(&ring.lock);
}

void cg_tickets_rotate(void)
{
    pthread_mutex_lock(&ring.lock);
    if (ring.ready) rotate_now();
    pthread_mutex_unlock(&ring.lock);
}

void cg_tickets_cleanup(void)
{
    pthread_mutex_lock(&ring.lock);
    for (size_t i = 0; i < RING_KEYS; i++) key_wipe(&ring.keys[i]);
    ring.n = 0;
    ring.ready = false;
    EVP_CIPHER_free(ring.aes);
    ring.aes = NULL;
    pthread_mutex_unlock(&ring.lock);
}

static bool mac_key_set(EVP_MAC_CTX *hctx, struct ticket_key *k)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k->hmac, sizeof(k->hmac)),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

/* Under the lock. 1: encrypting with the current key; -1: failure. */
static int ticket_encrypt(unsigned char name[KEY_NAME_LEN], unsigned char *iv, EVP_CIPHER_CTX *cctx,
                          EVP_MAC_CTX *hctx)
{
    struct ticket_key *k = &ring.keys[0];
    if (RAND_bytes(iv, IV_LEN) != 1 || EVP_EncryptInit_ex(cctx, ring.aes, NULL, k->aes, iv) != 1 ||
        !mac_key_set(hctx, k))
        return -1;
    memcpy(name, k->name, KEY_NAME_LEN);
    return 1;
}

/* Under the lock. 0: no such key (a full handshake follows); 1: the current key; 2: an older key,
 * so that OpenSSL issues a new ticket; -1: failure. */
static int ticket_decrypt(const unsigned char name[KEY_NAME_LEN], const unsigned char *iv, EVP_CIPHER_CTX *cctx,
                          EVP_MAC_CTX *hctx)
{
    for (size_t i = 0; i < ring.n; i++) {
        struct ticket_key *k = &ring.keys[i];
        if (CRYPTO_memcmp(name, k->name, KEY_NAME_LEN) != 0) continue;
        if (!mac_key_set(hctx, k) || EVP_DecryptInit_ex(cctx, ring.aes, NULL, k->aes, iv) != 1) return -1;
        return i == 0 ? 1 : 2;
    }
    return 0;
}

static int ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
                     EVP_MAC_CTX *hctx, int enc)
{
    CG_UNUSED(ssl);
    pthread_mutex_lock(&ring.lock);
    int rc;
    if (!ring.ready) rc = 0; /* no keyring: no ticket is issued, none is accepted */
    else if (enc) rc = ticket_encrypt(key_name, iv, cctx, hctx);
    else rc = ticket_decrypt(key_name, iv, cctx, hctx);
    pthread_mutex_unlock(&ring.lock);
    if (rc < 0) {
        /* a ticket is an optimisation: failing to make or open one costs a full handshake on this
         * connection or the next, never the connection itself */
        cg_pki_drain_errors(NULL, 0);
        rc = 0;
    }
    return rc;
}

void cg_tickets_attach(SSL_CTX *ctx) { SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb); }
