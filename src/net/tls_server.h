/* TLS for the ingress (SPEC.md section 4): certgate as the server. Built once per runtime (per
 * configuration snapshot), never per connection:
 * - one SSL_CTX per domain, presenting that domain's server certificate with its chain, with the
 *   site's client-CA list (the CertificateRequest names them), its verification store (the site's
 *   client CAs with their CRLs) and a session id context derived from the site and its policy
 *   (verify mode, CAs, CRLs), so that a session never resumes into another site or across a
 *   policy change (an unrelated change, such as a pin or another site, keeps sessions);
 * - a listener SSL_CTX whose ClientHello callback picks the domain by SNI and switches the SSL to
 *   the domain's SSL_CTX, setting the verify mode from the site's mTLS mode (the mTLS domain is
 *   always `required`; a `required` site's other domains ask for no certificate when it has an
 *   mTLS domain, since the ingress answers them 403). No SNI, or a name that no site has, is
 *   refused at the handshake (unrecognized_name): a client never reaches a site it did not name.
 * TLS 1.2 and 1.3 only, modern AEAD ciphers, ECDHE; session tickets with keys from the process'
 * ticket keyring (net/tickets.h), one ticket per handshake. */
#ifndef CG_NET_TLS_SERVER_H
#define CG_NET_TLS_SERVER_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "core/error.h"

struct cg_runtime;

/* Why a handshake was refused, or how the client certificate fared. */
enum cg_tls_accept_failure {
    CG_TLS_ACCEPT_OK,
    CG_TLS_ACCEPT_NO_SNI,          /* the ClientHello named no server */
    CG_TLS_ACCEPT_UNKNOWN_SNI,     /* it named a host no site has */
    CG_TLS_ACCEPT_NO_SERVER_CERT,  /* the domain has no server certificate that fits */
    CG_TLS_ACCEPT_CERT_REQUIRED,   /* required mode (or the mTLS domain) and no certificate */
    CG_TLS_ACCEPT_CERT_INVALID,    /* a certificate that failed verification (any mode) */
    CG_TLS_ACCEPT_PROTOCOL,        /* anything else: versions, ciphers, garbage, closed early */
};

/* Filled during a handshake; owned by the ingress session (attached to the SSL, whose info
 * callback fills it: do not replace that callback). failure reads CG_TLS_ACCEPT_PROTOCOL until
 * the handshake completes or a more precise cause is known, so that a handshake that fails for
 * any other reason (a version, a cipher, garbage, a close) is PROTOCOL without more work. */
struct cg_tls_accept {
    enum cg_tls_accept_failure failure;
    int domain;                    /* index into the runtime's snap->domains; -1 until known */
    int site;                      /* index into snap->sites; -1 until known */
    char server_name[256];         /* SNI as sent (lowercased), "" when none */
    bool presented;                /* the client sent a certificate */
    long verify_result;            /* X509_V_* of the client certificate (X509_V_OK when fine) */
    /* the rejection reason for the log: "expired", "not_yet_valid", "unknown_ca", "revoked",
     * "wrong_usage", "bad_signature", "no_certificate", "other"; "" when none */
    const char *reason;
    char detail[256];              /* OpenSSL's words, for the log */
};

/* Builds the ingress contexts of rt (called by cg_runtime_new when the snapshot has sites; a
 * failure fails the reload, with a message naming the site or domain). */
CG_RESULT cg_tls_server_build(struct cg_runtime *rt, struct cg_err *err);
/* Frees them (called by the runtime's last unref). */
void cg_tls_server_free(struct cg_runtime *rt);

/* A server SSL for an accepted connection (accept state), reporting into acc; NULL when rt has no
 * sites or out of memory. */
SSL *cg_tls_server_ssl_new(struct cg_runtime *rt, struct cg_tls_accept *acc);

/* After a successful handshake: the client's verified chain (leaf first), or NULL when the client
 * sent no certificate. After a full handshake it is the SSL's own (SSL_get0_verified_chain: valid
 * as long as ssl, *owned false). For a resumed session it is the chain verified in the full
 * handshake, carried in the ticket (whose session id context binds it to the site's CAs, CRLs and
 * mode, so that only time can have changed), checked again for validity now: a new stack the
 * caller frees with sk_X509_pop_free (*owned true), whose certificates are rt's own parsed ones
 * wherever the site's bundles hold them (references, not copies). A failure returns NULL and sets
 * acc->reason (and acc->failure to CG_TLS_ACCEPT_CERT_INVALID). */
STACK_OF(X509) *cg_tls_server_client_chain(SSL *ssl, struct cg_runtime *rt, struct cg_tls_accept *acc, bool *owned);

/* After the handshake, and after cg_tls_server_client_chain: detaches the accept record from ssl
 * (it may then be freed; what OpenSSL calls back later finds none) and drops what only the
 * handshake needed from the session (the issuers a ticket carries: half a KiB per connection). */
void cg_tls_server_detach(SSL *ssl);

/* The log word for an X509_V_* result (see struct cg_tls_accept.reason). */
const char *cg_tls_verify_reason(long verify_result);

#endif
