/* The egress (SPEC.md section 4): applications send plain HTTP/1.1 to a loopback listener;
 * certgate originates TLS to the destination, presents the client certificate the pins select,
 * verifies the server, and streams the request and the response.
 *
 * Destinations: an absolute-form target (http://host[:port]/path, as a proxy receives it: TLS to
 * host:port, 443 by default; a host that names an upstream goes to that upstream); an origin-form
 * request whose Host names an upstream; otherwise the configured default upstream. CONNECT is a
 * blind tunnel when allowed, refused for a destination that would get a client certificate. */
#ifndef CG_EGRESS_EGRESS_H
#define CG_EGRESS_EGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/log.h"
#include "http/http.h"
#include "net/worker.h"
#include "proxy/proxy.h"

struct cg_egress_config {
    struct cg_proxy_config proxy;   /* timeouts, limits, access log */
    bool allow_connect;
    const char *default_upstream;   /* NULL: origin-form requests must name an upstream in Host */
};

void cg_egress_config_defaults(struct cg_egress_config *c);

/* The listener callback: takes ownership of the accepted socket. arg is the config. */
void cg_egress_accept(struct cg_worker *w, int fd, void *arg);

/* The header that selects the pin by service name; never forwarded. */
#define CG_EGRESS_SERVICE_HEADER "Certgate-Service"

#endif
