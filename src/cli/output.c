#include "cli/output.h"

#include <stdio.h>
#include <string.h>

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

int cg_json_print(json_t *v)
{
    CG_ENSURE(v, CG_ENOMEM);
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(v);
    CG_ENSURE(s, CG_ENOMEM);
    printf("%s\n", s);
    free(s);
    return 0;
}

int cg_list_print(bool json, json_t **arr, const struct cg_table *t, const char *empty)
{
    if (json) {
        json_t *a = *arr;
        *arr = NULL;
        return cg_json_print(a);
    }
    if (t->rows == 0) printf("%s\n", empty);
    else cg_table_print(t);
    return 0;
}

json_t *cg_json_str_or_null(const char *s) { return s ? json_string(s) : json_null(); }
