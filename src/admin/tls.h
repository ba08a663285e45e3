/* The admin listener's TLS context (admin.tls, admin.client_ca in the bootstrap file). */
#ifndef CG_ADMIN_TLS_H
#define CG_ADMIN_TLS_H

#include <openssl/ssl.h>

#include "config/snapshot.h"
#include "core/error.h"

/* A server context presenting the server certificate `cert` of snap (with its chain; TLS 1.2 and
 * 1.3, AEAD ciphers), asking for client certificates from the CA bundle client_ca when not NULL.
 * Errors name the setting and the certificate. */
CG_RESULT cg_admin_tls_ctx(const struct cg_snapshot *snap, const char *cert, const char *client_ca, SSL_CTX **out,
                           struct cg_err *err);

#endif
