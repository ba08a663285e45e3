/* PEM (RFC 7468): scanning blocks of any type, and writing/reading the certificate PEM kept in
 * the store. Parsing is done per block so that one bad block is reported as such, a BEGIN
 * without END is "truncated", and no OpenSSL routine ever prompts on a terminal. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/str.h"
#include "pki/internal.h"
#include "pki/pki.h"

#define LABEL_MAX 64

static long find_from(struct cg_slice text, size_t from, const char *needle)
{
    if (from > text.len) return -1;
    long off = cg_slice_find(cg_slice_make(text.ptr + from, text.len - from), needle);
    return off < 0 ? -1 : off + (long)from;
}

static bool label_is(struct cg_slice label, const char *s) { return cg_slice_eq_str(label, s); }

static bool label_ends_with(struct cg_slice label, const char *suffix)
{
    size_t n = strlen(suffix);
    return label.len >= n && memcmp(label.ptr + label.len - n, suffix, n) == 0;
}

bool cg_pki_pem_next(struct cg_slice text, size_t *pos, struct cg_pki_pem_block *out)
{
    static const char begin[] = "-----BEGIN ";
    long b = find_from(text, *pos, begin);
    if (b < 0) {
        *pos = text.len;
        return false;
    }
    memset(out, 0, sizeof(*out));
    out->kind = CG_PKI_PEM_OTHER;
    size_t lstart = (size_t)b + sizeof(begin) - 1;
    size_t lend = lstart;
    while (lend < text.len && text.ptr[lend] != '-' && text.ptr[lend] != '\n') lend++;
    out->label = cg_slice_make(text.ptr + lstart, lend - lstart);
    out->whole = cg_slice_make(text.ptr + b, text.len - (size_t)b);
    *pos = text.len; /* an incomplete block ends the iteration */

    struct cg_slice l = out->label;
    if (label_is(l, "CERTIFICATE") || label_is(l, "X509 CERTIFICATE") || label_is(l, "TRUSTED CERTIFICATE"))
        out->kind = CG_PKI_PEM_CERT;
    else if (label_is(l, "ENCRYPTED PRIVATE KEY"))
        out->kind = CG_PKI_PEM_ENCRYPTED_KEY;
    else if (label_ends_with(l, "PRIVATE KEY"))
        out->kind = CG_PKI_PEM_KEY;

    if (l.len == 0 || l.len > LABEL_MAX || lend + 5 > text.len || memcmp(text.ptr + lend, "-----", 5) != 0)
        return true;
    char end[LABEL_MAX + 16];
    snprintf(end, sizeof(end), "-----END %.*s-----", (int)l.len, (const char *)l.ptr);
    long e = find_from(text, lend + 5, end);
    long next = find_from(text, lend + 5, begin);
    if (e < 0 || (next >= 0 && next < e)) return true;

    size_t stop = (size_t)e + strlen(end);
    out->whole = cg_slice_make(text.ptr + b, stop - (size_t)b);
    out->complete = true;
    *pos = stop;
    if (out->kind == CG_PKI_PEM_KEY && cg_slice_find(out->whole, "Proc-Type: 4,ENCRYPTED") >= 0)
        out->kind = CG_PKI_PEM_ENCRYPTED_KEY;
    return true;
}

int cg_pki_certs_to_pem(X509 *leaf, STACK_OF(X509) *chain, struct cg_buf *out)
{
    CG_AUTO_BIO BIO *bio = BIO_new(BIO_s_mem());
    if (!bio) {
        cg_pki_drain_errors(NULL, 0);
        return CG_ENOMEM;
    }
    int n = chain ? sk_X509_num(chain) : 0;
    if ((leaf && !PEM_write_bio_X509(bio, leaf))) goto fail;
    for (int i = 0; i < n; i++)
        if (!PEM_write_bio_X509(bio, sk_X509_value(chain, i))) goto fail;
    char *p = NULL;
    long len = BIO_get_mem_data(bio, &p);
    if (len > 0) CG_GUARD(cg_buf_append(out, p, (size_t)len));
    return 0;
fail:
    cg_pki_drain_errors(NULL, 0);
    return CG_EINTERNAL;
}

int cg_pki_certs_from_pem(struct cg_slice pem, STACK_OF(X509) **out, struct cg_err *err)
{
    *out = NULL;
    if (pem.len > CG_PKI_MAX_INPUT)
        return cg_err_set(err, CG_ELIMIT, "stored certificate PEM is larger than %d bytes", CG_PKI_MAX_INPUT);
    CG_AUTO_CERTS STACK_OF(X509) *certs = sk_X509_new_null();
    if (!certs) return cg_err_set(err, CG_ENOMEM, "out of memory");
    size_t pos = 0;
    struct cg_pki_pem_block b;
    while (cg_pki_pem_next(pem, &pos, &b)) {
        if (b.kind != CG_PKI_PEM_CERT)
            return cg_err_set(err, CG_EFORMAT, "stored certificate PEM holds a '%.*s' block, not a certificate",
                              (int)(b.label.len > LABEL_MAX ? LABEL_MAX : b.label.len), (const char *)b.label.ptr);
        if (!b.complete)
            return cg_err_set(err, CG_EPROTO, "stored certificate PEM is truncated or corrupt: a block has no END line");
        if (sk_X509_num(certs) >= CG_PKI_MAX_CERTS)
            return cg_err_set(err, CG_ELIMIT, "stored certificate PEM holds more than %d certificates",
                              CG_PKI_MAX_CERTS);
        CG_AUTO_BIO BIO *bio = BIO_new_mem_buf(b.whole.ptr, (int)b.whole.len);
        X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, (void *)"") : NULL;
        if (!x) {
            char detail[256];
            cg_pki_drain_errors(detail, sizeof(detail));
            return cg_err_set(err, CG_EPROTO, "stored certificate PEM is truncated or corrupt (%s)", detail);
        }
        if (!sk_X509_push(certs, x)) {
            X509_free(x);
            cg_pki_drain_errors(NULL, 0);
            return cg_err_set(err, CG_ENOMEM, "out of memory");
        }
    }
    *out = certs;
    certs = NULL;
    return 0;
}
