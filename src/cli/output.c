#include "cli/output.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/mem.h"

void cg_table_init(struct cg_table *t, size_t cols, const char *const *head)
{
    memset(t, 0, sizeof(*t));
    t->cols = cols < CG_TABLE_MAX_COLS ? cols : CG_TABLE_MAX_COLS;
    for (size_t i = 0; i < t->cols; i++) t->head[i] = head[i];
}

int cg_table_row(struct cg_table *t, const char *const *cells)
{
    CG_GUARD(cg_array_reserve(&t->cells, &t->cap, (t->rows + 1) * t->cols, sizeof(*t->cells)));
    for (size_t i = 0; i < t->cols; i++) {
        char *s = cg_strdup(cells[i] ? cells[i] : "");
        if (!s) {
            for (size_t j = 0; j < i; j++) cg_free(t->cells[t->rows * t->cols + j]);
            return CG_ENOMEM;
        }
        t->cells[t->rows * t->cols + i] = s;
    }
    t->rows++;
    return 0;
}

void cg_table_print(const struct cg_table *t)
{
    size_t width[CG_TABLE_MAX_COLS];
    for (size_t c = 0; c < t->cols; c++) {
        width[c] = strlen(t->head[c]);
        for (size_t r = 0; r < t->rows; r++) {
            size_t n = strlen(t->cells[r * t->cols + c]);
            if (n > width[c]) width[c] = n;
        }
    }
    for (size_t r = 0; r <= t->rows; r++) {
        for (size_t c = 0; c < t->cols; c++) {
            const char *s = r == 0 ? t->head[c] : t->cells[(r - 1) * t->cols + c];
            if (c + 1 == t->cols)
                printf("%s\n", s);
            else
                printf("%-*s  ", (int)width[c], s);
        }
    }
}

void cg_table_cleanup(struct cg_table *t)
{
    for (size_t i = 0; i < t->rows * t->cols; i++) cg_free(t->cells[i]);
    cg_free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* Prints v indented, keys in insertion order, and decrefs it. */
static int json_print(json_t *v)
{
    CG_ENSURE(v, CG_ENOMEM);
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(v);
    CG_ENSURE(s, CG_ENOMEM);
    printf("%s\n", s);
    free(s);
    return 0;
}

int cg_cli_json_out(struct cg_cli *cli, json_t *v)
{
    CG_ENSURE(v, CG_ENOMEM);
    if (!cli->api && !cli->capture) return json_print(v);
    json_decref(cli->out);
    cli->out = v;
    return 0;
}

int cg_list_print(struct cg_cli *cli, json_t **arr, const struct cg_table *t, const char *empty)
{
    if (cli->json) {
        json_t *a = *arr;
        *arr = NULL;
        return cg_cli_json_out(cli, a);
    }
    if (t->rows == 0) printf("%s\n", empty);
    else cg_table_print(t);
    return 0;
}

void cg_cli_say(const struct cg_cli *cli, const char *fmt, ...)
{
    if (cli->api || cli->json) return;
    va_list ap;
    va_start(ap, fmt);
    if (cli->said) { /* cg_cli_exec prints it once the change is committed */
        char line[2048];
        int n = vsnprintf(line, sizeof(line), fmt, ap);
        if (n > 0 && cg_buf_append(cli->said, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
            CG_LOG_W("output lost (out of memory)");
    } else {
        vprintf(fmt, ap);
    }
    va_end(ap);
}

void cg_cli_warn(const struct cg_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (cli->api) {
        char line[1024];
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n') line[n - 1] = '\0';
        if (cli->warnings && cg_strlist_add(cli->warnings, line) < 0) CG_LOG_W("warning lost (out of memory): %s", line);
        return;
    }
    fputs("warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

json_t *cg_json_str_or_null(const char *s) { return s ? json_string(s) : json_null(); }
