/* cg_pki_chain_order: leaf-to-root order from any order, duplicates and the leaf dropped,
 * unlinked certificates kept at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pki/pki.h"
#include "testpki.h"
#include "testutil.h"

static STACK_OF(X509) *stack(X509 *a, X509 *b, X509 *c, X509 *d)
{
    STACK_OF(X509) *s = sk_X509_new_null();
    X509 *all[] = {a, b, c, d};
    for (int i = 0; i < 4; i++)
        if (all[i]) {
            X509_up_ref(all[i]);
            sk_X509_push(s, all[i]);
        }
    return s;
}

static void test_order(void **s)
{
    (void)s;
    const struct tp_pki *p = tp_pki_get();
    STACK_OF(X509) *c = stack(p->root, p->leaf, p->intm, p->root);
    assert_true(cg_pki_chain_order(p->leaf, c));
    assert_int_equal(sk_X509_num(c), 2);
    assert_int_equal(X509_cmp(sk_X509_value(c, 0), p->intm), 0);
    assert_int_equal(X509_cmp(sk_X509_value(c, 1), p->root), 0);
    sk_X509_pop_free(c, X509_free);

    c = stack(p->v1root, p->root, NULL, NULL); /* intermediate missing */
    assert_false(cg_pki_chain_order(p->leaf, c));
    assert_int_equal(sk_X509_num(c), 2);
    assert_int_equal(X509_cmp(sk_X509_value(c, 0), p->v1root), 0); /* kept, original order */
    sk_X509_pop_free(c, X509_free);

    c = stack(p->intm, p->v1root, NULL, NULL); /* links to intm, then an unrelated root */
    assert_false(cg_pki_chain_order(p->leaf, c));
    assert_int_equal(X509_cmp(sk_X509_value(c, 0), p->intm), 0);
    sk_X509_pop_free(c, X509_free);

    c = sk_X509_new_null();
    assert_true(cg_pki_chain_order(p->leaf, c)); /* empty */
    sk_X509_free(c);
    assert_true(cg_pki_chain_order(p->leaf, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_order)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
