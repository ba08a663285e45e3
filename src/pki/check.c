/* Checks that produce warnings, not refusals (SPEC.md section 2): the certificate is stored
 * and the warning shown, because an operator may import before a renewal is active or keep an
 * expired certificate pinned while a replacement is on its way. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/str.h"
#include "core/time.h"
#include "pki/internal.h"
#include "pki/pki.h"

const char *cg_cert_kind_name(enum cg_cert_kind k)
{
    switch (k) {
    case CG_CERT_CLIENT: return "client";
    case CG_CERT_SERVER: return "server";
    case CG_CERT_CA: return "ca";
    }
    return "unknown";
}

int cg_cert_kind_parse(const char *s, enum cg_cert_kind *out)
{
    static const enum cg_cert_kind kinds[] = {CG_CERT_CLIENT, CG_CERT_SERVER, CG_CERT_CA};
    for (size_t i = 0; s && i < CG_ARRAY_LEN(kinds); i++) {
        if (strcmp(s, cg_cert_kind_name(kinds[i])) == 0) {
            *out = kinds[i];
            return 0;
        }
    }
    return CG_EINVAL;
}

/* Validity warnings for one certificate; `who` is "" for the certificate itself or
 * "CA 'CN=...': " / "chain certificate '...': " for others. */
static int validity_check(X509 *cert, const char *who, time_t now, struct cg_strlist *w)
{
    char date[32];
    time_t nb = 0, na = 0;
    bool have_nb = cg_pki_asn1_time_get(X509_get0_notBefore(cert), &nb);
    bool have_na = cg_pki_asn1_time_get(X509_get0_notAfter(cert), &na);
    if (!have_nb || !have_na) return cg_strlist_addf(w, "%svalidity dates cannot be read", who);
    if (na < now) return cg_strlist_addf(w, "%sexpired on %s", who, cg_time_rfc3339(na, date, sizeof(date)));
    if (nb > now)
        CG_GUARD(cg_strlist_addf(w, "%snot valid before %s", who, cg_time_rfc3339(nb, date, sizeof(date))));
    long days = cg_time_days_until(na, now);
    if (days < CG_PKI_EXPIRY_WARN_DAYS)
        CG_GUARD(cg_strlist_addf(w, "%sexpires in %ld days (on %s)", who, days,
                                 cg_time_rfc3339(na, date, sizeof(date))));
    return 0;
}

static int eku_check(X509 *leaf, enum cg_cert_kind kind, struct cg_strlist *w)
{
    if (kind == CG_CERT_CA) return 0;
    uint32_t flags = X509_get_extension_flags(leaf); /* also caches the extensions */
    ERR_clear_error();
    if (!(flags & EXFLAG_XKUSAGE)) return 0;         /* no EKU: any usage */
    uint32_t xku = X509_get_extended_key_usage(leaf);
    if (xku & XKU_ANYEKU) return 0;
    if (kind == CG_CERT_CLIENT && !(xku & XKU_SSL_CLIENT))
        return cg_strlist_add(w, "extended key usage does not allow clientAuth");
    if (kind == CG_CERT_SERVER && !(xku & XKU_SSL_SERVER))
        return cg_strlist_add(w, "extended key usage does not allow serverAuth");
    return 0;
}

int cg_pki_identity_check(const struct cg_pki_identity *id, enum cg_cert_kind kind, time_t now,
                          struct cg_strlist *warnings)
{
    CG_ENSURE(id && id->leaf, CG_EINVAL);
    CG_GUARD(validity_check(id->leaf, "", now, warnings));
    CG_GUARD(eku_check(id->leaf, kind, warnings));

    int n = id->chain ? sk_X509_num(id->chain) : 0;
    X509 *prev = id->leaf;
    bool linked = true;
    for (int i = 0; i < n; i++) {
        X509 *x = sk_X509_value(id->chain, i);
        char subject[512], who[600];
        cg_pki_subject_get(x, subject, sizeof(subject));
        snprintf(who, sizeof(who), "chain certificate '%s': ", subject);
        CG_GUARD(validity_check(x, who, now, warnings));
        if (linked && X509_check_issued(x, prev) != X509_V_OK) linked = false;
        prev = x;
    }
    ERR_clear_error();
    if (!linked) {
        char subject[512];
        /* name the certificate whose issuer is missing: the last one that links */
        X509 *last = id->leaf;
        for (int i = 0; i < n; i++) {
            X509 *x = sk_X509_value(id->chain, i);
            if (X509_check_issued(x, last) != X509_V_OK) break;
            last = x;
        }
        ERR_clear_error();
        cg_pki_subject_get(last, subject, sizeof(subject));
        CG_GUARD(cg_strlist_addf(warnings, "chain does not lead to the issuer of '%s'", subject));
    }
    return 0;
}

int cg_pki_ca_check(STACK_OF(X509) *cas, time_t now, struct cg_strlist *warnings)
{
    int n = cas ? sk_X509_num(cas) : 0;
    for (int i = 0; i < n; i++) {
        X509 *x = sk_X509_value(cas, i);
        char subject[512], who[600];
        cg_pki_subject_get(x, subject, sizeof(subject));
        snprintf(who, sizeof(who), "CA '%s': ", subject);
        CG_GUARD(validity_check(x, who, now, warnings));
    }
    return 0;
}
