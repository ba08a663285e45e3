#include "testpki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "core/base64.h"
#include "core/file.h"
#include "pki/pki.h"

#define CHECK(x)                                                                                \
    do {                                                                                        \
        if (!(x)) {                                                                             \
            fprintf(stderr, "testpki: %s failed at %s:%d\n", #x, __FILE__, __LINE__);           \
            ERR_print_errors_fp(stderr);                                                        \
            abort();                                                                            \
        }                                                                                       \
    } while (0)

EVP_PKEY *tp_key_rsa(int bits)
{
    EVP_PKEY *k = EVP_RSA_gen((unsigned)bits);
    CHECK(k);
    return k;
}

EVP_PKEY *tp_key_ec(void)
{
    EVP_PKEY *k = EVP_EC_gen("prime256v1");
    CHECK(k);
    return k;
}

EVP_PKEY *tp_key_ed25519(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    CHECK(k);
    return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    CHECK(e);
    CHECK(X509_add_ext(x, e, -1));
    X509_EXTENSION_free(e);
}

X509 *tp_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, const struct tp_opts *o)
{
    static const struct tp_opts none;
    if (!o) o = &none;
    X509 *x = X509_new();
    CHECK(x);
    CHECK(X509_set_version(x, o->v1 ? X509_VERSION_1 : X509_VERSION_3));
    CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x), o->serial ? o->serial : 0x1234));
    CHECK(X509_gmtime_adj(X509_getm_notBefore(x), o->not_before ? o->not_before : -3600));
    CHECK(X509_gmtime_adj(X509_getm_notAfter(x), o->not_after ? o->not_after : 365L * 86400));
    X509_NAME *name = X509_get_subject_name(x);
    CHECK(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Certgate Test", -1, -1, 0));
    CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
    CHECK(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name));
    CHECK(X509_set_pubkey(x, key));
    X509 *iss = issuer ? issuer : x;
    if (!o->v1) {
        add_ext(x, iss, NID_subject_key_identifier, "hash");
        add_ext(x, iss, NID_authority_key_identifier, "keyid:always");
        if (o->ca) {
            add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE");
            add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
        } else {
            add_ext(x, iss, NID_basic_constraints, "CA:FALSE");
            add_ext(x, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment");
        }
        if (o->eku) add_ext(x, iss, NID_ext_key_usage, o->eku);
        if (o->san) add_ext(x, iss, NID_subject_alt_name, o->san);
    }
    EVP_PKEY *signer = issuer ? issuer_key : key;
    bool pure = EVP_PKEY_is_a(signer, "ED25519");
    CHECK(X509_sign(x, signer, pure ? NULL : EVP_sha256()) > 0);
    return x;
}

static struct tp_pki pki;
static bool pki_made;

static void pki_free(void)
{
    X509 *certs[] = {pki.root, pki.intm, pki.leaf, pki.leaf_ec, pki.server, pki.expired, pki.future, pki.soon,
                     pki.other, pki.v1root};
    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) X509_free(certs[i]);
    EVP_PKEY *keys[] = {pki.root_key, pki.int_key, pki.leaf_key, pki.ec_key, pki.other_key};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) EVP_PKEY_free(keys[i]);
}

const struct tp_pki *tp_pki_get(void)
{
    if (pki_made) return &pki;
    pki.root_key = tp_key_rsa(2048);
    pki.int_key = tp_key_ec();
    pki.leaf_key = tp_key_rsa(2048);
    pki.ec_key = tp_key_ec();
    pki.other_key = tp_key_ec();
    struct tp_opts ca = {.ca = true, .not_after = 3650L * 86400, .serial = 1};
    pki.root = tp_cert("Test Root CA", pki.root_key, NULL, NULL, &ca);
    ca.serial = 2;
    pki.intm = tp_cert("Test Intermediate CA", pki.int_key, pki.root, pki.root_key, &ca);
    struct tp_opts leaf = {.eku = "clientAuth", .san = "DNS:client.example,IP:10.0.0.1,URI:spiffe://example/client,"
                                                       "email:ops@example.com,IP:::1",
                           .serial = 0x0abcdef};
    pki.leaf = tp_cert("client.example", pki.leaf_key, pki.intm, pki.int_key, &leaf);
    struct tp_opts ec = {.eku = "clientAuth,serverAuth", .serial = 11};
    pki.leaf_ec = tp_cert("ec.example", pki.ec_key, pki.intm, pki.int_key, &ec);
    struct tp_opts srv = {.eku = "serverAuth", .san = "DNS:server.example", .serial = 12};
    pki.server = tp_cert("server.example", pki.leaf_key, pki.intm, pki.int_key, &srv);
    struct tp_opts exp = {.eku = "clientAuth", .not_before = -40L * 86400, .not_after = -10L * 86400, .serial = 13};
    pki.expired = tp_cert("expired.example", pki.leaf_key, pki.intm, pki.int_key, &exp);
    struct tp_opts fut = {.eku = "clientAuth", .not_before = 10L * 86400, .not_after = 400L * 86400, .serial = 14};
    pki.future = tp_cert("future.example", pki.leaf_key, pki.intm, pki.int_key, &fut);
    struct tp_opts soon = {.eku = "clientAuth", .not_after = 5L * 86400 + 3600, .serial = 15};
    pki.soon = tp_cert("soon.example", pki.leaf_key, pki.intm, pki.int_key, &soon);
    struct tp_opts oth = {.eku = "clientAuth", .serial = 16};
    pki.other = tp_cert("other.example", pki.other_key, pki.intm, pki.int_key, &oth);
    struct tp_opts v1 = {.v1 = true, .not_after = 3650L * 86400, .serial = 17};
    pki.v1root = tp_cert("V1 Root", pki.other_key, NULL, NULL, &v1);
    pki_made = true;
    atexit(pki_free);
    return &pki;
}

static void bio_to_buf(BIO *bio, struct cg_buf *out)
{
    char *p = NULL;
    long len = BIO_get_mem_data(bio, &p);
    CHECK(len >= 0);
    CHECK(cg_buf_append(out, p, (size_t)len) == 0);
    BIO_free(bio);
}

void tp_pem_cert(struct cg_buf *out, X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    CHECK(bio && PEM_write_bio_X509(bio, x));
    bio_to_buf(bio, out);
}

void tp_pem_key(struct cg_buf *out, EVP_PKEY *k, enum tp_key_form form, const char *pass)
{
    BIO *bio = BIO_new(BIO_s_mem());
    CHECK(bio);
    const EVP_CIPHER *aes = EVP_aes_256_cbc();
    int plen = pass ? (int)strlen(pass) : 0;
    switch (form) {
    case TP_KEY_PKCS8: CHECK(PEM_write_bio_PKCS8PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)); break;
    case TP_KEY_PKCS8_ENC:
        CHECK(PEM_write_bio_PKCS8PrivateKey(bio, k, aes, (char *)pass, plen, NULL, NULL));
        break;
    case TP_KEY_TRAD: CHECK(PEM_write_bio_PrivateKey_traditional(bio, k, NULL, NULL, 0, NULL, NULL)); break;
    case TP_KEY_TRAD_ENC:
        CHECK(PEM_write_bio_PrivateKey_traditional(bio, k, aes, (unsigned char *)pass, plen, NULL, NULL));
        break;
    }
    bio_to_buf(bio, out);
}

void tp_der_cert(struct cg_buf *out, X509 *x)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    CHECK(len > 0);
    CHECK(cg_buf_append(out, der, (size_t)len) == 0);
    OPENSSL_free(der);
}

void tp_der_key(struct cg_buf *out, EVP_PKEY *k, enum tp_key_form form, const char *pass)
{
    BIO *bio = BIO_new(BIO_s_mem());
    CHECK(bio);
    switch (form) {
    case TP_KEY_PKCS8: CHECK(i2d_PKCS8PrivateKey_bio(bio, k, NULL, NULL, 0, NULL, NULL)); break;
    case TP_KEY_PKCS8_ENC:
        CHECK(i2d_PKCS8PrivateKey_bio(bio, k, EVP_aes_256_cbc(), (char *)pass, (int)strlen(pass), NULL, NULL));
        break;
    case TP_KEY_TRAD:
    case TP_KEY_TRAD_ENC: {
        unsigned char *der = NULL;
        int len = i2d_PrivateKey(k, &der); /* PKCS#1 for RSA, SEC1 for EC */
        CHECK(len > 0);
        CHECK(BIO_write(bio, der, len) == len);
        OPENSSL_free(der);
        break;
    }
    }
    bio_to_buf(bio, out);
}

void tp_p12(struct cg_buf *out, const char *pass, EVP_PKEY *key, X509 *cert, STACK_OF(X509) *ca, int nid_key,
            int nid_cert, bool mac)
{
    OSSL_LIB_CTX *ctx = cg_pki_import_libctx();
    CHECK(ctx);
    PKCS12 *p12 = PKCS12_create_ex((char *)pass, "test", key, cert, ca, nid_key, nid_cert, 0, mac ? 0 : -1, 0,
                                   ctx, NULL);
    CHECK(p12);
    unsigned char *der = NULL;
    int len = i2d_PKCS12(p12, &der);
    CHECK(len > 0);
    CHECK(cg_buf_append(out, der, (size_t)len) == 0);
    OPENSSL_free(der);
    PKCS12_free(p12);
}

void tp_base64(struct cg_buf *out, const struct cg_buf *in)
{
    CHECK(cg_base64_encode(cg_buf_slice(in), out) == 0);
}

const char *tp_tmpdir(void)
{
    static char dir[1024];
    if (dir[0]) return dir;
    const char *base = getenv("CG_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    snprintf(dir, sizeof(dir), "%s/pki-%ld", base, (long)getpid());
    struct cg_err err;
    CHECK(cg_dir_ensure(dir, 0700, &err) == 0);
    return dir;
}

void tp_append(struct cg_buf *b, const void *p, size_t n) { CHECK(cg_buf_append(b, p, n) == 0); }
void tp_append_str(struct cg_buf *b, const char *s) { CHECK(cg_buf_append_str(b, s) == 0); }
void tp_reserve(struct cg_buf *b, size_t n) { CHECK(cg_buf_reserve(b, n) == 0); }
