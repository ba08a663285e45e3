/* Logging to stderr (the daemon adds structured access logs later). Never log key material or
 * passwords: callers pass names and fingerprints, not secrets. */
#ifndef CG_CORE_LOG_H
#define CG_CORE_LOG_H

#include "core/error.h"

enum cg_log_level { CG_LOG_DEBUG, CG_LOG_INFO, CG_LOG_WARN, CG_LOG_ERROR };

void cg_log_set_level(enum cg_log_level level);
/* Parses "debug", "info", "warn", "error". */
CG_RESULT cg_log_level_parse(const char *s, enum cg_log_level *out);
void cg_log(enum cg_log_level level, const char *fmt, ...) CG_PRINTF(2, 3);

#define CG_LOG_D(...) cg_log(CG_LOG_DEBUG, __VA_ARGS__)
#define CG_LOG_I(...) cg_log(CG_LOG_INFO, __VA_ARGS__)
#define CG_LOG_W(...) cg_log(CG_LOG_WARN, __VA_ARGS__)
#define CG_LOG_E(...) cg_log(CG_LOG_ERROR, __VA_ARGS__)

#endif
