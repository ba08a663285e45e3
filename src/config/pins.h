/* Pin resolution: which client certificate to present to a destination (SPEC.md section 1).
 *
 * A pin target is a service name (Billing.PaymentService), a host (api.partner.example), a
 * host with a port (api.partner.example:8443, [2001:db8::1]:8443) or a one-label wildcard
 * (*.partner.example). The most specific wins: service, then host:port, then host, then
 * wildcard; then the default certificate; else none. A pin may say "none": present nothing.
 *
 * The table is built once per configuration snapshot and is immutable afterwards, so that the
 * egress can resolve on every request without locks or store round trips: resolution is at
 * most four hash lookups and allocates nothing. Hosts compare case-insensitively; service names
 * compare exactly. */
#ifndef CG_CONFIG_PINS_H
#define CG_CONFIG_PINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"

#define CG_PIN_NONE (-1)       /* a pin to "no certificate", or no certificate at all */
#define CG_PIN_TARGET_MAX 260  /* a 253-byte host, ':', a 5-digit port */
#define CG_PIN_DEFAULT_PORT 443

enum cg_pin_rule {
    CG_PIN_RULE_SERVICE,
    CG_PIN_RULE_HOST_PORT,
    CG_PIN_RULE_HOST,
    CG_PIN_RULE_WILDCARD,
    CG_PIN_RULE_DEFAULT,
    CG_PIN_RULE_NONE, /* nothing matched and there is no default */
};
const char *cg_pin_rule_name(enum cg_pin_rule r); /* "service", "host:port", "host", "wildcard", "default", "none" */

enum cg_pin_target_kind {
    CG_PIN_TARGET_NAME,      /* a service name or a host: matches both ways */
    CG_PIN_TARGET_HOST_PORT,
    CG_PIN_TARGET_WILDCARD,
};

/* Validates a target and classifies it; on error the message says why and what a target looks
 * like. Accepts: letters, digits, '.', '-', '_' in names; "*." prefix for a wildcard (one label,
 * then at least two labels); ":port" 1..65535; "[v6]" or "[v6]:port". */
CG_RESULT cg_pin_target_parse(const char *target, enum cg_pin_target_kind *kind, struct cg_err *err);

struct cg_pin_table;

struct cg_pin_table *cg_pin_table_new(void);
void cg_pin_table_free(struct cg_pin_table *t); /* accepts NULL */
/* Adds a pin: cert is the caller's certificate index (>= 0) or CG_PIN_NONE. The target string
 * is copied. A target added twice: CG_EEXISTS. */
CG_RESULT cg_pin_table_add(struct cg_pin_table *t, const char *target, int cert, struct cg_err *err);
/* The default certificate index, or CG_PIN_NONE (the initial value). */
void cg_pin_table_set_default(struct cg_pin_table *t, int cert);
/* Freezes the table (builds the hash indexes). No add after this. */
CG_RESULT cg_pin_table_build(struct cg_pin_table *t);

struct cg_pin_match {
    int cert;               /* index or CG_PIN_NONE */
    enum cg_pin_rule rule;
    const char *target;     /* the pin that matched (borrowed from the table); NULL for default/none */
};

/* Resolves for a request to host:port (port 0 = 443) made by service (len 0 = no service).
 * host may carry a trailing dot; it is ignored. Never fails. */
void cg_pin_resolve(const struct cg_pin_table *t, struct cg_slice host, uint16_t port,
                    struct cg_slice service, struct cg_pin_match *out);

#endif
