/* The rules of an upstream's settings (SPEC.md section 1, "Upstream"), in one place: the CLI
 * checks them before storing, and the snapshot applies them again when it loads what the store
 * holds, so that what was accepted is exactly what the egress acts on. */
#ifndef CG_CONFIG_UPSTREAM_H
#define CG_CONFIG_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

#define CG_UPSTREAM_URL_MAX 2048
#define CG_UPSTREAM_TIMEOUT_MAX_MS 600000u /* ten minutes */
#define CG_UPSTREAM_SPKI_LEN 32            /* SHA-256 */

/* An upstream URL taken apart. Strings are owned (cg_config_upstream_url_cleanup). */
struct cg_upstream_url {
    char *host;      /* lowercase, without IPv6 brackets */
    uint16_t port;   /* 443 when the URL has none */
    char *base_path; /* "" or "/base" without a trailing '/' */
    bool ipv6;
};

/* Parses "https://host[:port][/base]" (RFC 3986 section 3; the authority as the egress parses
 * request targets, cg_http_uri_parse). Refused, with CG_EINVAL and a message naming the upstream
 * `name`, the URL and the fix: any scheme but https (http:// too: certgate always originates
 * TLS to an upstream), user information, a query or fragment, a bad or out-of-range port, a bad
 * host, characters that RFC 3986 does not allow in a path, "." and ".." segments, more than
 * CG_UPSTREAM_URL_MAX bytes. out is left zeroed on failure. */
CG_RESULT cg_config_upstream_url_parse(const char *name, const char *url, struct cg_upstream_url *out,
                                       struct cg_err *err);
/* The same rules for a webhook's URL (https://host[:port][/path]), the messages naming the webhook. */
CG_RESULT cg_config_webhook_url_parse(const char *name, const char *url, struct cg_upstream_url *out,
                                      struct cg_err *err);
void cg_config_upstream_url_cleanup(struct cg_upstream_url *u);

/* Decodes an SPKI pin: base64 (RFC 4648 section 4, padded) of the 32-byte SHA-256 of the
 * server's DER SubjectPublicKeyInfo. CG_EINVAL naming the upstream otherwise. */
CG_RESULT cg_config_upstream_spki_parse(const char *name, const char *b64, uint8_t out[CG_UPSTREAM_SPKI_LEN],
                                        struct cg_err *err);

/* A server name override (SNI and the name verified): a DNS name (letters, digits, '-', '_',
 * dots between non-empty labels, at most 253 bytes) or an IP literal without brackets. */
CG_RESULT cg_config_upstream_server_name_check(const char *name, const char *server_name, struct cg_err *err);

/* A timeout in milliseconds as text: 1..CG_UPSTREAM_TIMEOUT_MAX_MS. what names the setting in
 * the message ("--connect-timeout"). */
CG_RESULT cg_config_upstream_timeout_parse(const char *name, const char *what, const char *text, uint32_t *out,
                                           struct cg_err *err);

#endif
