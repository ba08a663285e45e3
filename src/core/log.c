#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/time.h"

static enum cg_log_level g_level = CG_LOG_INFO;

void cg_log_set_level(enum cg_log_level level) { g_level = level; }

int cg_log_level_parse(const char *s, enum cg_log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < CG_ARRAY_LEN(names); i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum cg_log_level)i;
            return 0;
        }
    return CG_EINVAL;
}

void cg_log(enum cg_log_level level, const char *fmt, ...)
{
    static const char *tags[] = {"debug", "info", "warn", "error"};
    if (level < g_level) return;
    char ts[40];
    cg_time_rfc3339(time(NULL), ts, sizeof(ts));
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %s %s\n", ts, tags[level], line);
}
