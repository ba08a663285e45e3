/* The ingress (SPEC.md section 4): certgate terminates TLS for incoming clients, picks the site
 * by SNI (net/tls_server.h), verifies client certificates as the site's mTLS mode says, decides
 * each request with the site's path rules and access profiles (config/site.h), and proxies
 * HTTP/1.1 to the site's plain backend with the identity headers the backend trusts. Client-sent
 * copies of those headers never reach the backend. */
#ifndef CG_INGRESS_INGRESS_H
#define CG_INGRESS_INGRESS_H

#include "net/worker.h"
#include "proxy/proxy.h"

struct cg_ingress_config {
    struct cg_proxy_config proxy;   /* timeouts, limits, access log */
};

void cg_ingress_config_defaults(struct cg_ingress_config *c);

/* The listener callback: takes ownership of the accepted socket. arg is the config. */
void cg_ingress_accept(struct cg_worker *w, int fd, void *arg);

#endif
