#ifndef CG_CORE_TIME_H
#define CG_CORE_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* "2026-11-22T14:30:00Z" (RFC 3339, UTC). buf must hold 21 bytes; returns buf. */
char *cg_time_rfc3339(time_t t, char *buf, size_t n);
/* Whole days from now until t, rounded down; negative when t is in the past. */
long cg_time_days_until(time_t t, time_t now);
/* The current time; CERTGATE_NOW (unix seconds) overrides it for tests of expiry logic. */
time_t cg_time_now(void);
uint64_t cg_time_mono_ms(void);

#endif
