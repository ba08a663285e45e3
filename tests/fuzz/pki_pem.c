/* Fuzz target: identities and CA bundles from untrusted PEM, DER or base64 text (files and
 * environment variables that users paste). Everything that loads is then described, checked
 * and written back as PEM, so that the facts, checks and PEM round trip see hostile
 * certificates too. The password "fuzz" opens the encrypted keys of the seed corpus. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "pki/pki.h"

static void exercise_cert(X509 *x)
{
    struct cg_pki_facts f;
    if (cg_pki_facts_get(x, &f) == 0) cg_pki_facts_cleanup(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cg_slice s = cg_slice_make(data, size);
    struct cg_pki_detected d;
    cg_pki_detect(s, &d);
    char desc[256];
    cg_pki_describe(s, desc, sizeof(desc));

    struct cg_pki_input in = {"fuzz.pem", s};
    struct cg_err err;
    struct cg_pki_identity id;
    if (cg_pki_identity_load(&in, NULL, NULL, "fuzz", &id, &err) == 0) {
        exercise_cert(id.leaf);
        struct cg_strlist w;
        cg_strlist_init(&w);
        if (cg_pki_identity_check(&id, CG_CERT_CLIENT, 1700000000, &w) < 0) abort();
        cg_strlist_cleanup(&w);
        struct cg_buf pem;
        cg_buf_init(&pem, 0);
        if (cg_pki_certs_to_pem(id.leaf, id.chain, &pem) == 0) {
            STACK_OF(X509) *back = NULL;
            if (cg_pki_certs_from_pem(cg_buf_slice(&pem), &back, &err) != 0 || !back ||
                sk_X509_num(back) != 1 + sk_X509_num(id.chain))
                abort(); /* what we write we must read back */
            sk_X509_pop_free(back, X509_free);
        }
        cg_buf_cleanup(&pem);
        cg_pki_identity_cleanup(&id);
    }
    /* the same bytes as a separate key and chain for a certificate-only main input */
    struct cg_pki_input key = {"fuzz.key", s};
    if (cg_pki_identity_load(&in, &key, &in, NULL, &id, &err) == 0) cg_pki_identity_cleanup(&id);

    STACK_OF(X509) *cas = NULL;
    if (cg_pki_ca_load(&in, &cas, &err) == 0) {
        for (int i = 0; i < sk_X509_num(cas); i++) exercise_cert(sk_X509_value(cas, i));
        struct cg_strlist w;
        cg_strlist_init(&w);
        if (cg_pki_ca_check(cas, 1700000000, &w) < 0) abort();
        cg_strlist_cleanup(&w);
        sk_X509_pop_free(cas, X509_free);
    }
    if (ERR_peek_error() != 0) abort(); /* every path drains the queue */
    return 0;
}
