/* Session-ticket keys (RFC 5077 / RFC 8446 4.6.1), kept in one place for the whole process so
 * that a resumption works on any worker and across configuration reloads, and so that a fleet
 * can later share them. Keys rotate: a new key encrypts every `rotate_s` seconds; the previous
 * ones still decrypt (a ticket encrypted with one of them is renewed) until they age out. Key
 * material never leaves memory and is wiped when dropped. */
#ifndef CG_NET_TICKETS_H
#define CG_NET_TICKETS_H

#include <stdint.h>

#include <openssl/ssl.h>

#include "core/error.h"

/* Starts the keyring (one key, fresh from RAND_priv_bytes). rotate_s 0: 12 hours. */
CG_RESULT cg_tickets_init(uint32_t rotate_s, struct cg_err *err);
/* Rotates when due (the daemon's control thread calls it once a second). */
void cg_tickets_tick(void);
/* Rotates now, whether due or not (tests; an operator's forced rotation). */
void cg_tickets_rotate(void);
/* Installs the ticket callback on a server SSL_CTX. */
void cg_tickets_attach(SSL_CTX *ctx);
void cg_tickets_cleanup(void);

#endif
