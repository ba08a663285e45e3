/* Fuzz target: PKCS#12 containers (RFC 7292) as users upload them, including legacy RC2-40 and
 * 3DES encryption through the import library context, with and without MAC. The fixed
 * password "fuzz" opens the seed corpus; the empty/no password path is tried as well. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "pki/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cg_pki_input in = {"fuzz.p12", cg_slice_make(data, size)};
    struct cg_err err;
    struct cg_pki_identity id;
    const char *passwords[] = {"fuzz", NULL};
    for (size_t i = 0; i < 2; i++) {
        int rc = cg_pki_identity_load(&in, NULL, NULL, passwords[i], &id, &err);
        if (ERR_peek_error() != 0) abort(); /* every path drains the queue */
        if (rc == 0) {
            if (!id.leaf || !id.key || !id.chain || X509_check_private_key(id.leaf, id.key) != 1) abort();
            struct cg_pki_facts f;
            if (cg_pki_facts_get(id.leaf, &f) == 0) cg_pki_facts_cleanup(&f);
            cg_pki_identity_cleanup(&id);
        } else if (id.leaf || id.key || id.chain || err.msg[0] == '\0') {
            abort(); /* a refusal leaves the identity empty and says why */
        }
        ERR_clear_error();
    }
    return 0;
}
