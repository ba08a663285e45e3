/* CA bundles: the certificates that client certificates (ingress) or origins (egress) must
 * chain to. A bundle is public and holds CA certificates only (RFC 5280 section 4.2.1.9:
 * basicConstraints cA TRUE; self-signed v1 roots predate extensions and are accepted). */
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "pki/internal.h"
#include "pki/pki.h"

#define EXPECT_CA "a CA certificate bundle (PEM or DER certificates)"

int cg_pki_ca_load(const struct cg_pki_input *in, STACK_OF(X509) **out, struct cg_err *err)
{
    cg_err_clear(err);
    CG_ENSURE(out, CG_EINVAL);
    *out = NULL;
    if (!in || !in->name) return cg_err_set(err, CG_EINVAL, "CA import: no input given");

    CG_AUTO_BUF struct cg_buf dec;
    struct cg_slice data;
    struct cg_pki_detected d;
    CG_GUARD(cg_pki_input_open(in, &dec, &data, &d, err));

    if ((d.format == CG_PKI_FMT_PEM && d.pem_keys + d.pem_encrypted_keys > 0) || d.format == CG_PKI_FMT_DER_KEY ||
        d.format == CG_PKI_FMT_PKCS12) {
        cg_err_set(err, CG_ECERT, "'%s' holds a private key%s; a CA bundle is public", in->name,
                   d.format == CG_PKI_FMT_PKCS12 ? " (it is a PKCS#12 container)" : "");
        return cg_err_hint(err, "give the CA certificates only, never a private key");
    }

    __attribute__((cleanup(cg_pki_bag_cleanup))) struct cg_pki_bag bag;
    if (cg_pki_bag_init(&bag) < 0) return cg_err_set(err, CG_ENOMEM, "out of memory");
    int rc;
    if (d.format == CG_PKI_FMT_PEM && d.pem_certs > 0)
        rc = cg_pki_bag_add_pem(&bag, in->name, data, NULL, false, err);
    else if (d.format == CG_PKI_FMT_DER_CERT)
        rc = cg_pki_bag_add_der_cert(&bag, in->name, data, err);
    else
        rc = cg_pki_err_format(err, in->name, in->data, EXPECT_CA);
    if (rc < 0) return rc;

    for (int i = 0; i < sk_X509_num(bag.certs); i++) {
        X509 *x = sk_X509_value(bag.certs, i);
        int ca = X509_check_ca(x);
        ERR_clear_error();
        if (ca == 1 || ca == 3) continue;
        char subject[512];
        cg_pki_subject_get(x, subject, sizeof(subject));
        cg_err_set(err, CG_ECERT, "'%s': '%s' is not a CA certificate (no basicConstraints CA:TRUE)", in->name,
                   subject);
        return cg_err_hint(err, "a CA bundle holds issuing certificates only; import end-entity certificates "
                                "as client or server certificates");
    }
    *out = bag.certs;
    bag.certs = NULL;
    return 0;
}
