/* Facts shown about a certificate: names (RFC 2253), serial, fingerprints, key, validity,
 * subject alternative names (RFC 5280 section 4.2.1.6) and extended key usage (4.2.1.12). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/base64.h"
#include "core/mem.h"
#include "core/str.h"
#include "pki/internal.h"
#include "pki/pki.h"

bool cg_pki_asn1_time_get(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm)) {
        ERR_clear_error();
        return false;
    }
    *out = timegm(&tm);
    return true;
}

static void name_get(const X509_NAME *name, char *buf, size_t n)
{
    buf[0] = '\0';
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio) {
        ERR_clear_error();
        return;
    }
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        char *p = NULL;
        long len = BIO_get_mem_data(bio, &p);
        if (len > 0) {
            size_t l = (size_t)len < n - 1 ? (size_t)len : n - 1;
            memcpy(buf, p, l);
            buf[l] = '\0';
        }
    }
    BIO_free(bio);
    ERR_clear_error();
}

void cg_pki_subject_get(X509 *cert, char *buf, size_t n) { name_get(X509_get_subject_name(cert), buf, n); }
void cg_pki_name_get(const X509_NAME *name, char *buf, size_t n) { name_get(name, buf, n); }

EVP_PKEY *cg_pki_key_to_default_ctx(EVP_PKEY *key)
{
    CG_AUTO_P8 PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
    EVP_PKEY *copy = p8 ? EVP_PKCS82PKEY(p8) : NULL;
    if (!copy) ERR_clear_error();
    return copy;
}

/* Copies a string that came from a certificate, escaping control bytes so that a hostile
 * certificate cannot inject line breaks or terminal sequences into what is shown or logged. */
static void safe_copy(char *dst, size_t n, const unsigned char *src, int len)
{
    size_t o = 0;
    for (int i = 0; i < len && o + 5 < n; i++) {
        unsigned char c = src[i];
        if (c < 0x20 || c == 0x7f || c == '\\') {
            o += (size_t)snprintf(dst + o, n - o, "\\x%02x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
}

static int sans_get(X509 *cert, struct cg_strlist *sans)
{
    int crit = 0;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    if (!names) {
        ERR_clear_error();
        return 0;
    }
    int rc = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && rc == 0; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        char v[512];
        const ASN1_STRING *s = NULL;
        const char *prefix = NULL;
        switch (gn->type) {
        case GEN_DNS: prefix = "DNS"; s = gn->d.dNSName; break;
        case GEN_URI: prefix = "URI"; s = gn->d.uniformResourceIdentifier; break;
        case GEN_EMAIL: prefix = "email"; s = gn->d.rfc822Name; break;
        case GEN_IPADD: {
            const ASN1_OCTET_STRING *ip = gn->d.iPAddress;
            char addr[INET6_ADDRSTRLEN] = "";
            if (ip->length == 4)
                inet_ntop(AF_INET, ip->data, addr, sizeof(addr));
            else if (ip->length == 16)
                inet_ntop(AF_INET6, ip->data, addr, sizeof(addr));
            else
                cg_strlcpy(addr, "invalid", sizeof(addr));
            rc = cg_strlist_addf(sans, "IP:%s", addr);
            continue;
        }
        case GEN_DIRNAME:
            name_get(gn->d.directoryName, v, sizeof(v));
            rc = cg_strlist_addf(sans, "DirName:%s", v);
            continue;
        default: continue; /* otherName, x400, EDI, RID: not shown */
        }
        safe_copy(v, sizeof(v), ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
        rc = cg_strlist_addf(sans, "%s:%s", prefix, v);
    }
    GENERAL_NAMES_free(names);
    return rc;
}

static int eku_get(X509 *cert, struct cg_strlist *eku)
{
    int crit = 0;
    EXTENDED_KEY_USAGE *usages = X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, NULL);
    if (!usages) {
        ERR_clear_error();
        return 0;
    }
    int rc = 0;
    for (int i = 0; i < sk_ASN1_OBJECT_num(usages) && rc == 0; i++) {
        const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(usages, i);
        int nid = OBJ_obj2nid(o);
        char txt[128];
        if (nid != NID_undef && OBJ_nid2sn(nid)) {
            cg_strlcpy(txt, OBJ_nid2sn(nid), sizeof(txt));
        } else if (OBJ_obj2txt(txt, sizeof(txt), o, 1) <= 0) {
            cg_strlcpy(txt, "unknown", sizeof(txt));
        }
        rc = cg_strlist_add(eku, txt);
    }
    sk_ASN1_OBJECT_pop_free(usages, ASN1_OBJECT_free);
    return rc;
}

static void key_get(X509 *cert, struct cg_pki_facts *f)
{
    EVP_PKEY *pk = X509_get0_pubkey(cert);
    if (!pk) {
        cg_strlcpy(f->key_type, "unknown", sizeof(f->key_type));
        return;
    }
    f->key_bits = EVP_PKEY_get_bits(pk);
    switch (EVP_PKEY_get_base_id(pk)) {
    case EVP_PKEY_RSA: cg_strlcpy(f->key_type, "RSA", sizeof(f->key_type)); break;
    case EVP_PKEY_RSA_PSS: cg_strlcpy(f->key_type, "RSA-PSS", sizeof(f->key_type)); break;
    case EVP_PKEY_EC: cg_strlcpy(f->key_type, "EC", sizeof(f->key_type)); break;
    case EVP_PKEY_ED25519: cg_strlcpy(f->key_type, "Ed25519", sizeof(f->key_type)); break;
    case EVP_PKEY_ED448: cg_strlcpy(f->key_type, "Ed448", sizeof(f->key_type)); break;
    case EVP_PKEY_DSA: cg_strlcpy(f->key_type, "DSA", sizeof(f->key_type)); break;
    default: {
        const char *t = EVP_PKEY_get0_type_name(pk);
        cg_strlcpy(f->key_type, t ? t : "unknown", sizeof(f->key_type));
    }
    }
    if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
        size_t len = 0;
        if (!EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, f->key_curve,
                                            sizeof(f->key_curve), &len))
            f->key_curve[0] = '\0';
    }
}

int cg_pki_facts_get(X509 *cert, struct cg_pki_facts *out)
{
    memset(out, 0, sizeof(*out));
    cg_strlist_init(&out->sans);
    cg_strlist_init(&out->eku);
    CG_ENSURE_REF(cert);

    name_get(X509_get_subject_name(cert), out->subject, sizeof(out->subject));
    name_get(X509_get_issuer_name(cert), out->issuer, sizeof(out->issuer));

    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex) {
        char *lower = cg_str_lower_dup(hex);
        cg_strlcpy(out->serial, lower ? lower : hex, sizeof(out->serial));
        cg_free(lower);
    }
    OPENSSL_free(hex);
    BN_free(bn);

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (X509_digest(cert, EVP_sha256(), md, &mdlen) && mdlen == 32) cg_hex_encode(md, mdlen, out->fingerprint);

    unsigned char *spki = NULL;
    int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
    if (spki_len > 0 && EVP_Digest(spki, (size_t)spki_len, md, &mdlen, EVP_sha256(), NULL) && mdlen == 32) {
        struct cg_buf b;
        cg_buf_init(&b, 64);
        if (cg_base64_encode(cg_slice_make(md, mdlen), &b) == 0)
            cg_strlcpy(out->spki_sha256, cg_buf_str(&b), sizeof(out->spki_sha256));
        cg_buf_cleanup(&b);
    }
    OPENSSL_free(spki);

    (void)cg_pki_asn1_time_get(X509_get0_notBefore(cert), &out->not_before);
    (void)cg_pki_asn1_time_get(X509_get0_notAfter(cert), &out->not_after);
    key_get(cert, out);

    int ca = X509_check_ca(cert);
    out->is_ca = ca == 1 || ca == 3; /* CA:TRUE, or a self-signed v1 root */
    out->self_signed = X509_self_signed(cert, 1) == 1;

    int rc = sans_get(cert, &out->sans);
    if (rc == 0) rc = eku_get(cert, &out->eku);
    ERR_clear_error();
    if (rc < 0) cg_pki_facts_cleanup(out);
    return rc;
}

void cg_pki_facts_cleanup(struct cg_pki_facts *f)
{
    if (!f) return;
    cg_strlist_cleanup(&f->sans);
    cg_strlist_cleanup(&f->eku);
}

bool cg_pki_sans_cover(const struct cg_strlist *sans, const char *host)
{
    uint8_t ip[16], san_ip[16];
    int family = inet_pton(AF_INET, host, ip) == 1 ? AF_INET : inet_pton(AF_INET6, host, ip) == 1 ? AF_INET6 : 0;
    const char *rest = strchr(host, '.');
    for (size_t i = 0; i < sans->n; i++) {
        const char *san = sans->items[i];
        if (family) {
            if (!strncmp(san, "IP:", 3) && inet_pton(family, san + 3, san_ip) == 1 &&
                !memcmp(ip, san_ip, family == AF_INET ? 4 : 16))
                return true;
            continue;
        }
        if (strncmp(san, "DNS:", 4) != 0) continue;
        san += 4;
        if (strcasecmp(san, host) == 0) return true;
        if (san[0] == '*' && san[1] == '.' && host[0] != '*' && rest && rest != host && strcasecmp(san + 1, rest) == 0)
            return true;
    }
    return false;
}
