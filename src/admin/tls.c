/* The admin listener's TLS context, built from the configuration like everything the daemon
 * serves: admin.tls names a server certificate of the store, admin.client_ca a CA bundle whose
 * certificates may sign in (SSL_VERIFY_PEER without FAIL_IF_NO_PEER_CERT: a token still works
 * without one, an invalid one fails the handshake). */
#include "admin/tls.h"

#include <string.h>

#include <openssl/x509_vfy.h>

static const struct cg_snapshot_cert *find(const struct cg_snapshot *snap, const char *name)
{
    for (size_t i = 0; i < snap->n_certs; i++)
        if (!strcmp(snap->certs[i].name, name)) return &snap->certs[i];
    return NULL;
}

static int ca_store(SSL_CTX *ctx, const struct cg_snapshot_cert *ca)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    if (!names) return CG_ENOMEM;
    for (int i = 0; i < sk_X509_num(ca->certs); i++) {
        X509 *x = sk_X509_value(ca->certs, i);
        X509_NAME *n = X509_NAME_dup(X509_get_subject_name(x));
        if (!X509_STORE_add_cert(store, x) || !n || !sk_X509_NAME_push(names, n)) {
            X509_NAME_free(n);
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            return CG_ENOMEM;
        }
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return 0;
}

int cg_admin_tls_ctx(const struct cg_snapshot *snap, const char *cert, const char *client_ca, SSL_CTX **out,
                     struct cg_err *err)
{
    *out = NULL;
    const struct cg_snapshot_cert *c = find(snap, cert);
    if (!c || c->kind != CG_CERT_SERVER || !c->key) {
        cg_err_set(err, CG_EINVAL, "admin.tls: '%s' is %s", cert,
                   !c ? "not a certificate of the environment" : "not a server certificate with its key");
        return cg_err_hint(err, "add one with: certgate cert add %s FILE --kind server (or fix admin.tls)", cert);
    }
    const struct cg_snapshot_cert *ca = client_ca ? find(snap, client_ca) : NULL;
    if (client_ca && (!ca || ca->kind != CG_CERT_CA)) {
        cg_err_set(err, CG_EINVAL, "admin.client_ca: '%s' is not a CA bundle of the environment", client_ca);
        return cg_err_hint(err, "add it with: certgate ca add %s FILE (or fix admin.client_ca)", client_ca);
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int rc = ctx ? 0 : CG_ENOMEM;
    if (rc == 0 && (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
                    !SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") ||
                    !SSL_CTX_use_certificate(ctx, c->leaf) || !SSL_CTX_use_PrivateKey(ctx, c->key)))
        rc = CG_ECERT;
    for (int i = 0; rc == 0 && i < sk_X509_num(c->certs); i++) {
        X509 *x = sk_X509_value(c->certs, i);
        if (x != c->leaf && !SSL_CTX_add1_chain_cert(ctx, x)) rc = CG_ECERT;
    }
    if (rc == 0 && ca) rc = ca_store(ctx, ca);
    if (rc == 0) SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (rc < 0) {
        SSL_CTX_free(ctx);
        cg_err_set(err, rc, "admin.tls: cannot make a TLS context with certificate '%s'", cert);
        return cg_err_hint(err, "check the certificate with: certgate cert show %s", cert);
    }
    *out = ctx;
    return 0;
}
