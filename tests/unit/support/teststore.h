/* A real sqlite store for the unit tests that read one back (snapshots): a fresh file per tag,
 * and identities stored the way the CLI stores them. Header-only: include it in one test file. */
#ifndef CG_TEST_TESTSTORE_H
#define CG_TEST_TESTSTORE_H

#include <stdio.h>
#include <unistd.h>

#include "core/buf.h"
#include "pki/pki.h"
#include "store/store.h"
#include "testpki.h"

/* A new, empty store in the test directory, named after tag. */
static struct cg_store *ts_store_open(const char *tag)
{
    char url[512];
    snprintf(url, sizeof(url), "sqlite:%s/store-%s-%d.db", tp_tmpdir(), tag, (int)getpid());
    unlink(url + 7);
    struct cg_store *s;
    struct cg_err err;
    if (cg_store_open(url, true, &s, &err)) fail_msg("%s", err.msg);
    return s;
}

/* Stores leaf with the test intermediate as its chain and key sealed under master, as kind
 * (CG_STORE_CLIENT or CG_STORE_SERVER). */
static void ts_store_identity(struct cg_store *s, const char *env, const char *name, int kind, X509 *leaf,
                              EVP_PKEY *key, bool is_default, const uint8_t master[CG_MASTER_KEY_LEN])
{
    struct cg_buf pem, blob;
    cg_buf_init(&pem, 0);
    cg_buf_init(&blob, 0);
    struct cg_err err;
    struct cg_store_cert rec = {0};
    assert_int_equal(cg_store_new_id(rec.id), 0);
    STACK_OF(X509) *chain = sk_X509_new_null();
    sk_X509_push(chain, tp_pki_get()->intm);
    assert_int_equal(cg_pki_certs_to_pem(leaf, chain, &pem), 0);
    sk_X509_free(chain);
    assert_int_equal(cg_pki_key_seal(master, cg_slice_str(rec.id), key, &blob, &err), 0);
    rec.name = (char *)name;
    rec.kind = kind;
    rec.is_default = is_default;
    rec.cert_pem = (char *)cg_buf_str(&pem);
    rec.key_blob = blob.ptr;
    rec.key_blob_len = blob.len;
    rec.warnings_json = "[]";
    if (cg_store_cert_put(s, env, &rec, false, &err)) fail_msg("%s", err.msg);
    cg_buf_cleanup(&pem);
    cg_buf_cleanup(&blob);
}

#endif
