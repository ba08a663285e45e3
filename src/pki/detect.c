/* Format detection by content: users name files .pfx, .p12, .crt, .cer, .pem, .key or nothing
 * at all, and the name is often wrong, so only the bytes count.
 *
 * DER inputs are told apart by the first few tags of their outer structure, not by a full
 * parse, so that a truncated PKCS#12 is still recognised as one and its loader can say
 * "truncated or corrupt" instead of "unknown format". */
#include <stdio.h>
#include <string.h>

#include "core/base64.h"
#include "core/str.h"
#include "pki/internal.h"
#include "pki/pki.h"

/* Reads one DER tag and length header; the content itself is not skipped (we descend). */
static bool der_header(struct cg_cursor *c, uint8_t tag)
{
    uint8_t t, l;
    if (cg_cursor_u8(c, &t) < 0 || t != tag) return false;
    if (cg_cursor_u8(c, &l) < 0) return false;
    if (l < 0x80 || l == 0x80) return true; /* short form, or BER indefinite length */
    size_t nbytes = l & 0x7f;
    if (nbytes > 4) return false;
    return cg_cursor_skip(c, nbytes) == 0;
}

/* Expects tag, then a content of exactly the bytes in `value` (short, e.g. INTEGER 3). */
static bool der_small(struct cg_cursor *c, uint8_t tag, const uint8_t *value, size_t n)
{
    uint8_t t, l;
    struct cg_slice v;
    if (cg_cursor_u8(c, &t) < 0 || t != tag) return false;
    if (cg_cursor_u8(c, &l) < 0 || l != n) return false;
    if (cg_cursor_take(c, n, &v) < 0) return false;
    return memcmp(v.ptr, value, n) == 0;
}

static bool peek_tag(const struct cg_cursor *c, uint8_t tag)
{
    return cg_cursor_left(c) > 0 && c->ptr[c->pos] == tag;
}

static enum cg_pki_format sniff_der(struct cg_slice d)
{
    static const uint8_t v0[] = {0}, v1[] = {1}, v3[] = {3};
    struct cg_cursor c;

    /* PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, macData OPTIONAL } */
    cg_cursor_init(&c, d);
    if (der_header(&c, 0x30) && der_small(&c, 0x02, v3, 1) && peek_tag(&c, 0x30))
        return CG_PKI_FMT_PKCS12;

    /* Certificate ::= SEQUENCE { tbs SEQUENCE { [0] version | serial INTEGER ... } ... } */
    cg_cursor_init(&c, d);
    if (der_header(&c, 0x30) && der_header(&c, 0x30) && (peek_tag(&c, 0xa0) || peek_tag(&c, 0x02)))
        return CG_PKI_FMT_DER_CERT;

    /* EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier SEQUENCE { OID ... }, OCTET } */
    cg_cursor_init(&c, d);
    if (der_header(&c, 0x30) && der_header(&c, 0x30) && peek_tag(&c, 0x06))
        return CG_PKI_FMT_DER_KEY;

    /* PrivateKeyInfo: SEQUENCE { INTEGER 0|1, SEQUENCE ... }; RSAPrivateKey and DSA:
     * SEQUENCE { INTEGER 0, INTEGER ... }; ECPrivateKey (SEC1): SEQUENCE { INTEGER 1, OCTET } */
    cg_cursor_init(&c, d);
    if (der_header(&c, 0x30) && der_small(&c, 0x02, v0, 1) && (peek_tag(&c, 0x30) || peek_tag(&c, 0x02)))
        return CG_PKI_FMT_DER_KEY;
    cg_cursor_init(&c, d);
    if (der_header(&c, 0x30) && der_small(&c, 0x02, v1, 1) && (peek_tag(&c, 0x30) || peek_tag(&c, 0x04)))
        return CG_PKI_FMT_DER_KEY;
    return CG_PKI_FMT_UNKNOWN;
}

static bool is_text(struct cg_slice d)
{
    for (size_t i = 0; i < d.len; i++) {
        uint8_t ch = d.ptr[i];
        if (ch == '\n' || ch == '\r' || ch == '\t') continue;
        if (ch < 0x20 || ch == 0x7f) return false;
    }
    return true;
}

/* Base64 as tools write it: the alphabet, line breaks, padding at the end. Spaces or tabs
 * inside a line mean prose, not base64. */
static bool looks_base64(struct cg_slice d)
{
    struct cg_slice t = cg_slice_trim(d);
    if (t.len < 16 || !cg_base64_looks_like(t)) return false;
    for (size_t i = 0; i < t.len; i++)
        if (t.ptr[i] == ' ' || t.ptr[i] == '\t') return false;
    return true;
}

int cg_pki_base64_decode(struct cg_slice text, struct cg_buf *out)
{
    cg_buf_init_secret(out, CG_PKI_MAX_INPUT);
    int rc = cg_base64_decode(text, out);
    if (rc < 0) {
        cg_buf_cleanup(out);
        return rc == CG_ELIMIT ? CG_ELIMIT : CG_EPROTO;
    }
    return 0;
}

static void detect_plain(struct cg_slice data, struct cg_pki_detected *out)
{
    if (cg_slice_trim(data).len == 0) {
        out->format = CG_PKI_FMT_EMPTY;
        return;
    }
    if (cg_slice_find(data, "-----BEGIN ") >= 0) {
        out->format = CG_PKI_FMT_PEM;
        size_t pos = 0;
        struct cg_pki_pem_block b;
        while (cg_pki_pem_next(data, &pos, &b)) {
            switch (b.kind) {
            case CG_PKI_PEM_CERT: out->pem_certs++; break;
            case CG_PKI_PEM_KEY: out->pem_keys++; break;
            case CG_PKI_PEM_ENCRYPTED_KEY: out->pem_encrypted_keys++; break;
            case CG_PKI_PEM_OTHER: out->pem_other++; break;
            }
        }
        return;
    }
    if (data.len >= 2 && data.ptr[0] == 0x30) {
        out->format = sniff_der(data);
        return;
    }
    out->format = CG_PKI_FMT_UNKNOWN;
}

void cg_pki_detect(struct cg_slice data, struct cg_pki_detected *out)
{
    memset(out, 0, sizeof(*out));
    out->format = CG_PKI_FMT_UNKNOWN;
    out->inner = CG_PKI_FMT_UNKNOWN;
    if (!data.ptr || data.len == 0) {
        out->format = CG_PKI_FMT_EMPTY;
        return;
    }
    detect_plain(data, out);
    if (out->format != CG_PKI_FMT_UNKNOWN || !is_text(data) || !looks_base64(data)) return;

    out->format = CG_PKI_FMT_BASE64;
    struct cg_buf dec;
    if (data.len > CG_PKI_MAX_INPUT || cg_pki_base64_decode(data, &dec) < 0) return; /* malformed */
    struct cg_pki_detected inner;
    memset(&inner, 0, sizeof(inner));
    detect_plain(cg_buf_slice(&dec), &inner);
    cg_buf_cleanup(&dec);
    out->inner = inner.format == CG_PKI_FMT_EMPTY ? CG_PKI_FMT_UNKNOWN : inner.format;
    out->pem_certs = inner.pem_certs;
    out->pem_keys = inner.pem_keys;
    out->pem_encrypted_keys = inner.pem_encrypted_keys;
    out->pem_other = inner.pem_other;
}

static const char *plural(size_t n) { return n == 1 ? "" : "s"; }

static void describe_pem(const struct cg_pki_detected *d, char *buf, size_t n)
{
    size_t keys = d->pem_keys + d->pem_encrypted_keys;
    if (d->pem_certs > 0) {
        char kp[64];
        if (keys == 0)
            cg_strlcpy(kp, "no private key", sizeof(kp));
        else if (keys == 1)
            cg_strlcpy(kp, d->pem_encrypted_keys ? "an encrypted private key" : "a private key", sizeof(kp));
        else
            snprintf(kp, sizeof(kp), "%zu private keys", keys);
        snprintf(buf, n, "a PEM file with %zu certificate%s and %s", d->pem_certs, plural(d->pem_certs), kp);
    } else if (keys == 1) {
        cg_strlcpy(buf, d->pem_encrypted_keys ? "an encrypted PEM private key" : "a PEM private key", n);
    } else if (keys > 1) {
        snprintf(buf, n, "a PEM file with %zu private keys and no certificate", keys);
    } else {
        cg_strlcpy(buf, "a PEM file with no certificate or private key", n);
    }
}

static const char *describe_unknown(struct cg_slice d)
{
    static const uint8_t pk7_signed[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
    if (d.len >= 4 && memcmp(d.ptr, "PK\x03\x04", 4) == 0) return "a ZIP archive";
    if (d.len >= 4 && memcmp(d.ptr, "\xfe\xed\xfe\xed", 4) == 0) return "a Java keystore (JKS)";
    if (d.len >= 4 && memcmp(d.ptr, "\xce\xce\xce\xce", 4) == 0) return "a Java keystore (JCEKS)";
    if (d.len >= 2 && d.ptr[0] == 0x1f && d.ptr[1] == 0x8b) return "a gzip file";
    if (d.len >= 2 && d.ptr[0] == 0x30) {
        struct cg_cursor c;
        cg_cursor_init(&c, d);
        if (der_header(&c, 0x30) && cg_cursor_left(&c) >= sizeof(pk7_signed) &&
            memcmp(c.ptr + c.pos, pk7_signed, sizeof(pk7_signed)) == 0)
            return "a PKCS#7 certificate bundle (.p7b)";
        return "DER data that is not a certificate, key or PKCS#12 container";
    }
    if (is_text(d)) return "text that is not PEM or base64";
    return "binary data of unknown format";
}

static void describe_format(enum cg_pki_format f, const struct cg_pki_detected *d, struct cg_slice data,
                            char *buf, size_t n)
{
    switch (f) {
    case CG_PKI_FMT_EMPTY: cg_strlcpy(buf, "an empty file", n); return;
    case CG_PKI_FMT_PKCS12: cg_strlcpy(buf, "a PKCS#12 container", n); return;
    case CG_PKI_FMT_PEM: describe_pem(d, buf, n); return;
    case CG_PKI_FMT_DER_CERT: cg_strlcpy(buf, "a DER certificate", n); return;
    case CG_PKI_FMT_DER_KEY: cg_strlcpy(buf, "a DER private key", n); return;
    case CG_PKI_FMT_BASE64: /* not reached: handled by the caller */
    case CG_PKI_FMT_UNKNOWN: cg_strlcpy(buf, describe_unknown(data), n); return;
    }
    cg_strlcpy(buf, "data of unknown format", n);
}

const char *cg_pki_describe(struct cg_slice data, char *buf, size_t n)
{
    if (!buf || n == 0) return buf;
    struct cg_pki_detected d;
    cg_pki_detect(data, &d);
    if (d.format != CG_PKI_FMT_BASE64) {
        describe_format(d.format, &d, data, buf, n);
        return buf;
    }
    char inner[256];
    if (d.inner == CG_PKI_FMT_UNKNOWN) {
        struct cg_buf dec;
        if (data.len > CG_PKI_MAX_INPUT || cg_pki_base64_decode(data, &dec) < 0) {
            cg_strlcpy(buf, "malformed base64 text", n);
            return buf;
        }
        cg_buf_cleanup(&dec);
        cg_strlcpy(inner, "unknown content", sizeof(inner));
    } else {
        describe_format(d.inner, &d, data, inner, sizeof(inner));
    }
    snprintf(buf, n, "base64 text of %s", inner);
    return buf;
}
