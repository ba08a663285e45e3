/* Certificate revocation lists (RFC 5280 section 5) for the client CAs of the ingress: read from
 * `ca add --crl FILE` or found as "X509 CRL" blocks inside a CA bundle, checked against the
 * bundle (issued and signed by one of its certificates), kept in the store as PEM and read back
 * by the snapshot. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/str.h"
#include "core/time.h"
#include "pki/internal.h"
#include "pki/pki.h"

/* A bundle has at most CG_PKI_MAX_CERTS issuers, and each needs one CRL. */
#define MAX_CRLS CG_PKI_MAX_CERTS
#define CRL_LABEL "X509 CRL"
#define EXPECT_CRL "a CRL (PEM \"" CRL_LABEL "\" blocks or DER)"

static void crls_free_p(STACK_OF(X509_CRL) **p) { sk_X509_CRL_pop_free(*p, X509_CRL_free); }
#define CG_AUTO_CRLS __attribute__((cleanup(crls_free_p)))

/* ---- DER sniffing -------------------------------------------------------------------------- */

/* Reads a tag and a definite length; *len is the content length. */
static bool der_tl(struct cg_cursor *c, uint8_t *tag, size_t *len)
{
    uint8_t l;
    if (cg_cursor_u8(c, tag) < 0 || cg_cursor_u8(c, &l) < 0) return false;
    if (l < 0x80) {
        *len = l;
        return true;
    }
    size_t nbytes = l & 0x7f;
    if (nbytes == 0 || nbytes > 4) return false;
    size_t v = 0;
    for (size_t i = 0; i < nbytes; i++) {
        uint8_t b;
        if (cg_cursor_u8(c, &b) < 0) return false;
        v = (v << 8) | b;
    }
    *len = v;
    return true;
}

static bool der_skip(struct cg_cursor *c, uint8_t want)
{
    uint8_t tag;
    size_t len;
    return der_tl(c, &tag, &len) && tag == want && cg_cursor_skip(c, len) == 0;
}

/* CertificateList ::= SEQUENCE { TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL, signature
 * AlgorithmIdentifier, issuer Name, thisUpdate Time, ... } ... }: the Time after the issuer tells
 * a CRL from a certificate, whose issuer is followed by a Validity SEQUENCE. Only the opening is
 * read, so that a CRL cut short is still recognised (and then reported as corrupt). */
static bool looks_like_crl(struct cg_slice d)
{
    struct cg_cursor c;
    cg_cursor_init(&c, d);
    uint8_t tag;
    size_t len;
    if (!der_tl(&c, &tag, &len) || tag != 0x30 || !der_tl(&c, &tag, &len) || tag != 0x30) return false;
    if (cg_cursor_left(&c) > 0 && c.ptr[c.pos] == 0x02 && !der_skip(&c, 0x02)) return false;
    if (!der_skip(&c, 0x30) || !der_skip(&c, 0x30)) return false;
    return cg_cursor_left(&c) > 0 && (c.ptr[c.pos] == 0x17 || c.ptr[c.pos] == 0x18);
}

/* ---- loading ------------------------------------------------------------------------------- */

static int crl_push(STACK_OF(X509_CRL) *crls, X509_CRL *crl, const char *name, struct cg_err *err)
{
    if (sk_X509_CRL_num(crls) >= MAX_CRLS) {
        X509_CRL_free(crl);
        return cg_err_set(err, CG_ELIMIT, "'%s' holds more than %d CRLs", name, MAX_CRLS);
    }
    if (!sk_X509_CRL_push(crls, crl)) {
        X509_CRL_free(crl);
        cg_pki_drain_errors(NULL, 0);
        return cg_err_set(err, CG_ENOMEM, "out of memory");
    }
    return 0;
}

/* The "X509 CRL" blocks of PEM text; other blocks are skipped when others_ok, refused otherwise. */
static int pem_crls(STACK_OF(X509_CRL) *crls, const char *name, struct cg_slice text, bool others_ok,
                    struct cg_err *err)
{
    size_t pos = 0;
    struct cg_pki_pem_block b;
    while (cg_pki_pem_next(text, &pos, &b)) {
        if (!cg_slice_eq_str(b.label, CRL_LABEL)) {
            if (others_ok) continue;
            return cg_err_set(err, CG_EFORMAT, "%s holds a '%.*s' block, not a CRL", name,
                              (int)(b.label.len > 64 ? 64 : b.label.len), (const char *)b.label.ptr);
        }
        if (!b.complete) return cg_pki_err_corrupt(err, name, "a CRL block has no END line");
        CG_AUTO_BIO BIO *bio = BIO_new_mem_buf(b.whole.ptr, (int)b.whole.len);
        X509_CRL *crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, (void *)"") : NULL;
        if (!crl) return cg_pki_err_corrupt(err, name, "a CRL block cannot be read");
        CG_GUARD(crl_push(crls, crl, name, err));
    }
    return 0;
}

static int der_crl(STACK_OF(X509_CRL) *crls, const char *name, struct cg_slice data, struct cg_err *err)
{
    const unsigned char *p = data.ptr;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)data.len);
    if (!crl) return cg_pki_err_corrupt(err, name, "the DER CRL cannot be read");
    if (p != data.ptr + data.len) {
        X509_CRL_free(crl);
        return cg_pki_err_corrupt(err, name, "bytes follow the DER CRL");
    }
    return crl_push(crls, crl, name, err);
}

int cg_pki_crls_load(const struct cg_pki_input *in, STACK_OF(X509_CRL) **out, struct cg_err *err)
{
    cg_err_clear(err);
    CG_ENSURE(out, CG_EINVAL);
    *out = NULL;
    if (!in || !in->name) return cg_err_set(err, CG_EINVAL, "CRL import: no input given");
    CG_AUTO_BUF struct cg_buf dec;
    struct cg_slice data;
    struct cg_pki_detected d;
    CG_GUARD(cg_pki_input_open(in, &dec, &data, &d, err));
    CG_AUTO_CRLS STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    if (!crls) return cg_err_set(err, CG_ENOMEM, "out of memory");
    if (d.format == CG_PKI_FMT_PEM)
        CG_GUARD(pem_crls(crls, in->name, data, true, err));
    else if (looks_like_crl(data))
        CG_GUARD(der_crl(crls, in->name, data, err));
    if (sk_X509_CRL_num(crls) == 0) {
        cg_pki_err_format(err, in->name, in->data, EXPECT_CRL);
        return cg_err_hint(err, "give the CRL the CA publishes (its CRL distribution point), e.g. made with: openssl "
                                "ca -gencrl");
    }
    *out = crls;
    crls = NULL;
    return 0;
}

/* ---- checking against the bundle ----------------------------------------------------------- */

void cg_pki_crl_facts_get(X509_CRL *crl, struct cg_pki_crl_facts *out)
{
    memset(out, 0, sizeof(*out));
    cg_pki_name_get(X509_CRL_get_issuer(crl), out->issuer, sizeof(out->issuer));
    (void)cg_pki_asn1_time_get(X509_CRL_get0_lastUpdate(crl), &out->last_update);
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
    if (next) (void)cg_pki_asn1_time_get(next, &out->next_update);
    STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
    out->revoked = rev ? (size_t)sk_X509_REVOKED_num(rev) : 0;
    ERR_clear_error();
}

/* "'CN=a', 'CN=b' and 2 more": the subjects of the bundle, for the hint. */
static void subjects_list(STACK_OF(X509) *cas, char *out, size_t n)
{
    struct cg_buf b;
    cg_buf_init(&b, n > 0 ? n - 1 : 1);
    int total = sk_X509_num(cas), shown = total > 3 ? 3 : total;
    for (int i = 0; i < shown; i++) {
        char s[512];
        cg_pki_subject_get(sk_X509_value(cas, i), s, sizeof(s));
        if (cg_buf_printf(&b, "%s'%s'", i ? ", " : "", s) < 0) break;
    }
    if (total > shown && cg_buf_printf(&b, " and %d more", total - shown) < 0) {
        /* cut short: only the hint is shorter */
    }
    cg_strlcpy(out, cg_buf_str(&b), n);
    cg_buf_cleanup(&b);
}

/* The certificate of cas that issued crl: same subject as the CRL's issuer, a key usage that
 * allows cRLSign (when it has one), and the key that verifies the CRL's signature. */
static int issuer_find(X509_CRL *crl, STACK_OF(X509) *cas, const char *issuer, struct cg_err *err)
{
    bool named = false, usage = false;
    for (int i = 0; i < sk_X509_num(cas); i++) {
        X509 *ca = sk_X509_value(cas, i);
        if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) != 0) continue;
        named = true;
        if ((X509_get_extension_flags(ca) & EXFLAG_KUSAGE) && !(X509_get_key_usage(ca) & KU_CRL_SIGN)) continue;
        usage = true;
        EVP_PKEY *key = X509_get0_pubkey(ca);
        if (key && X509_CRL_verify(crl, key) == 1) {
            ERR_clear_error();
            return 0;
        }
    }
    cg_pki_drain_errors(NULL, 0);
    if (!named) {
        char subjects[CG_ERR_HINT_MAX / 2];
        subjects_list(cas, subjects, sizeof(subjects));
        cg_err_set(err, CG_ECERT, "the CRL issued by '%s' does not belong to this CA bundle: no certificate of the "
                                  "bundle has that subject",
                   issuer);
        return cg_err_hint(err, "give the CRL of a CA in the bundle (it holds %s), or add the CA that issued the CRL "
                                "to the bundle",
                           subjects);
    }
    if (!usage) {
        cg_err_set(err, CG_ECERT, "the CRL issued by '%s' cannot be used: the key usage of that CA does not allow "
                                  "signing CRLs (cRLSign)",
                   issuer);
        return cg_err_hint(err, "the CA publishes its revocations elsewhere; give the CRL signed by the key that is "
                                "allowed to");
    }
    cg_err_set(err, CG_ECERT, "the CRL issued by '%s' has a signature that the bundle's certificate of that name does "
                              "not verify (the CRL was altered, or comes from another CA of the same name)",
               issuer);
    return cg_err_hint(err, "download the CRL again from the CA that issued the bundle's certificate");
}

int cg_pki_crls_check(STACK_OF(X509_CRL) *crls, STACK_OF(X509) *cas, time_t now, struct cg_strlist *warnings,
                      struct cg_err *err)
{
    cg_err_clear(err);
    CG_ENSURE(crls && cas, CG_EINVAL);
    for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
        X509_CRL *crl = sk_X509_CRL_value(crls, i);
        struct cg_pki_crl_facts f;
        cg_pki_crl_facts_get(crl, &f);
        CG_GUARD(issuer_find(crl, cas, f.issuer, err));
        char when[32];
        if (f.next_update && f.next_update < now)
            CG_GUARD(cg_strlist_addf(warnings, "the CRL of '%s' is stale: its nextUpdate (%s) has passed; give a "
                                               "fresh one with: certgate ca add NAME FILE --crl NEW.crl --replace",
                                     f.issuer, cg_time_rfc3339(f.next_update, when, sizeof(when))));
        if (f.last_update > now)
            CG_GUARD(cg_strlist_addf(warnings, "the CRL of '%s' is not valid yet: its lastUpdate is %s", f.issuer,
                                     cg_time_rfc3339(f.last_update, when, sizeof(when))));
    }
    return 0;
}

/* ---- PEM for the store --------------------------------------------------------------------- */

int cg_pki_crls_to_pem(STACK_OF(X509_CRL) *crls, struct cg_buf *out)
{
    CG_AUTO_BIO BIO *bio = BIO_new(BIO_s_mem());
    if (!bio) {
        cg_pki_drain_errors(NULL, 0);
        return CG_ENOMEM;
    }
    for (int i = 0; crls && i < sk_X509_CRL_num(crls); i++)
        if (!PEM_write_bio_X509_CRL(bio, sk_X509_CRL_value(crls, i))) {
            cg_pki_drain_errors(NULL, 0);
            return CG_EINTERNAL;
        }
    char *p = NULL;
    long len = BIO_get_mem_data(bio, &p);
    if (len > 0) CG_GUARD(cg_buf_append(out, p, (size_t)len));
    return 0;
}

int cg_pki_crls_from_pem(struct cg_slice pem, STACK_OF(X509_CRL) **out, struct cg_err *err)
{
    *out = NULL;
    if (pem.len > CG_PKI_MAX_INPUT)
        return cg_err_set(err, CG_ELIMIT, "stored CRL PEM is larger than %d bytes", CG_PKI_MAX_INPUT);
    CG_AUTO_CRLS STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    if (!crls) return cg_err_set(err, CG_ENOMEM, "out of memory");
    CG_GUARD(pem_crls(crls, "stored CRL PEM", pem, false, err));
    *out = crls;
    crls = NULL;
    return 0;
}
