/* The bootstrap file (YAML) given with -c FILE / CERTGATE_CONFIG: the few settings that must be
 * known before the store can be read. Everything else lives in the store (SPEC.md section 4).
 *
 *   environment: production            # default "production"
 *   store: sqlite:/var/lib/certgate/certgate.db
 *   master_key: /var/lib/certgate/master.key
 *   listen:                            # each an address or a list of addresses
 *     egress: 127.0.0.1:8080
 *     ingress: [0.0.0.0:443, "[::]:443"]
 *     admin: 127.0.0.1:9443
 *   workers: 2                         # default: number of cores (0 = that)
 *   log:
 *     level: info                      # debug | info | warn | error
 *     access: stderr                   # a path, or stderr
 *     format: text                     # text | json
 *   egress:
 *     allow_connect: false             # CONNECT tunnels (never to a host that gets a certificate)
 *     default_upstream: partner-api    # origin-form requests whose Host names no upstream
 *   timeouts:                          # milliseconds
 *     handshake_ms: 10000              # ingress: the TLS handshake
 *     head_ms: 30000
 *     idle_ms: 60000
 *     connect_ms: 5000
 *     response_ms: 60000
 *     drain_ms: 30000
 *   limits:
 *     max_head_bytes: 65536
 *     max_headers: 100
 *     max_body_bytes: 0                # request bodies; larger ones get 413 (0: no limit)
 *     max_connections: 10000           # per worker; more are closed at once
 *   reload_ms: 250
 *   admin:
 *     tls: admin-cert                  # a server certificate of the store: HTTPS (default: plain HTTP)
 *     client_ca: ops-ca                # ask for client certificates from this CA bundle; one that
 *                                      # verifies signs in as admin (actor "cert:<subject CN>")
 *     max_upload_bytes: 1048576        # bodies of API requests; larger ones get 413
 *   webhooks:                          # the dispatcher (docs/webhooks.md)
 *     poll_ms: 250                     # how often the store is asked for due deliveries
 *     retry_base_ms: 5000              # the delay before the first retry (then doubling, jittered)
 *     retry_max_ms: 3600000            # no delay is longer (Retry-After included)
 *     max_attempts: 12                 # then the delivery is failed (it can be replayed)
 *     timeout_ms: 10000                # connect + TLS + response head of one attempt
 *     concurrency: 64                  # deliveries in flight in all
 *     per_webhook: 4                   # deliveries in flight to one webhook
 *
 * Unknown keys, wrong types and bad values are refused with a message naming the file, the line
 * and the key: "certgate.yaml:7: unknown key 'lisen' in 'listen'..." (hint lists the known keys). */
#ifndef CG_CONFIG_BOOTSTRAP_H
#define CG_CONFIG_BOOTSTRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/log.h"
#include "core/slice.h"
#include "core/strlist.h"

#define CG_CONFIG_MAX_BYTES (256 * 1024)

enum cg_log_format { CG_LOG_FORMAT_TEXT, CG_LOG_FORMAT_JSON };

struct cg_config {
    char *environment;        /* NULL when not given */
    char *store_url;          /* NULL when not given */
    char *master_key;         /* NULL when not given */
    struct cg_strlist listen_egress;  /* "host:port" or "[v6]:port", validated */
    struct cg_strlist listen_ingress;
    struct cg_strlist listen_admin;
    unsigned workers;         /* 0 = number of cores */
    enum cg_log_level log_level;        /* default info */
    char *log_access;         /* NULL = stderr */
    enum cg_log_format log_format;      /* default text */
    /* the daemon (docs/configuration.md has the defaults) */
    bool egress_allow_connect;          /* egress.allow_connect, default false */
    char *egress_default_upstream;      /* egress.default_upstream, NULL = none */
    uint32_t timeout_handshake_ms;      /* timeouts.handshake_ms: ingress TLS handshakes (10000) */
    uint32_t timeout_head_ms;           /* timeouts.head_ms: a request head must arrive within (30000) */
    uint32_t timeout_idle_ms;           /* timeouts.idle_ms: keep-alive between requests (60000) */
    uint32_t timeout_connect_ms;        /* timeouts.connect_ms: DNS + connect + handshake (5000) */
    uint32_t timeout_response_ms;       /* timeouts.response_ms: upstream silence (60000) */
    uint32_t timeout_drain_ms;          /* timeouts.drain_ms: SIGTERM waits this long (30000) */
    uint32_t limit_head_bytes;          /* limits.max_head_bytes (65536) */
    uint32_t limit_headers;             /* limits.max_headers (100) */
    uint32_t limit_body_bytes;          /* limits.max_body_bytes: 0 = no limit (0) */
    uint32_t limit_connections;         /* limits.max_connections: per worker (10000) */
    uint32_t reload_ms;                 /* reload_ms: how often the store's revision is polled (250) */
    char *admin_tls;                    /* admin.tls: a server certificate: the admin listener is HTTPS */
    char *admin_client_ca;              /* admin.client_ca: a CA bundle: HTTPS asks for client certificates,
                                         * and a verified one signs in as admin */
    uint32_t admin_max_upload_bytes;    /* admin.max_upload_bytes: request bodies (1 MiB) */
    /* webhooks.*: 0 when not given, which leaves the dispatcher's default (webhook/webhook.h) */
    uint32_t webhook_poll_ms;           /* webhooks.poll_ms (250) */
    uint32_t webhook_retry_base_ms;     /* webhooks.retry_base_ms (5000) */
    uint32_t webhook_retry_max_ms;      /* webhooks.retry_max_ms (3600000) */
    uint32_t webhook_max_attempts;      /* webhooks.max_attempts (12) */
    uint32_t webhook_timeout_ms;        /* webhooks.timeout_ms (10000) */
    uint32_t webhook_concurrency;       /* webhooks.concurrency (64) */
    uint32_t webhook_per_webhook;       /* webhooks.per_webhook (4) */
};

void cg_config_init(struct cg_config *c);
void cg_config_cleanup(struct cg_config *c);

/* Parses YAML text; `name` is the file name for messages. On error *c is left as after init. */
CG_RESULT cg_config_parse(const char *name, struct cg_slice yaml, struct cg_config *c,
                          struct cg_err *err);
/* Reads path (capped at CG_CONFIG_MAX_BYTES) and parses it. */
CG_RESULT cg_config_load(const char *path, struct cg_config *c, struct cg_err *err);

/* Validates "host:port", "[v6]:port" or ":port" (port 1..65535); true when valid. */
bool cg_config_listen_addr_valid(const char *s);

#endif
