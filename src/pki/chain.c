/* Chain order: PKCS#12 files and PEM bundles carry their chain in any order (Windows exports
 * root first, some CAs ship leaf-last bundles). TLS wants leaf-to-root (RFC 8446 section
 * 4.4.2), so the chain is rebuilt by following issuer links (RFC 5280 section 6.1: name and key
 * identifier match, checked by X509_check_issued; signatures are checked by the verifier). */
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/mem.h"
#include "pki/internal.h"
#include "pki/pki.h"

static bool issued_by(X509 *subject, X509 *issuer)
{
    return X509_check_issued(issuer, subject) == X509_V_OK;
}

bool cg_pki_chain_order(X509 *leaf, STACK_OF(X509) *chain)
{
    if (!chain) return true;
    int n = sk_X509_num(chain);
    if (n <= 0) return true;

    /* Take every certificate out; drop the leaf and duplicates. */
    X509 **pool = cg_calloc((size_t)n, sizeof(*pool));
    if (!pool) return false; /* the chain is left as it was */
    int m = 0;
    while (sk_X509_num(chain) > 0) {
        X509 *x = sk_X509_shift(chain);
        bool dup = leaf && X509_cmp(x, leaf) == 0;
        for (int i = 0; i < m && !dup; i++) dup = X509_cmp(x, pool[i]) == 0;
        if (dup)
            X509_free(x);
        else
            pool[m++] = x;
    }

    /* Follow the issuer links from the leaf; stop at a self-issued certificate (a root). */
    X509 *cur = leaf;
    bool linked = true;
    while (cur) {
        if (cur != leaf && issued_by(cur, cur)) break;
        int found = -1;
        for (int i = 0; i < m && found < 0; i++)
            if (pool[i] && pool[i] != cur && issued_by(cur, pool[i])) found = i;
        if (found < 0) break;
        cur = pool[found];
        pool[found] = NULL;
        if (!sk_X509_push(chain, cur)) {
            X509_free(cur);
            linked = false;
        }
    }
    /* Whatever links nowhere is kept at the end, in its original order. */
    for (int i = 0; i < m; i++) {
        if (!pool[i]) continue;
        linked = false;
        if (!sk_X509_push(chain, pool[i])) X509_free(pool[i]);
    }
    cg_free(pool);
    ERR_clear_error();
    return linked;
}
