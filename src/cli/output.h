/* Output: aligned tables for people, JSON (stable, documented in docs/cli.md) for programs. */
#ifndef CG_CLI_OUTPUT_H
#define CG_CLI_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define CG_TABLE_MAX_COLS 8

struct cg_table {
    size_t cols;
    const char *head[CG_TABLE_MAX_COLS];
    char **cells; /* rows * cols owned strings */
    size_t rows, cap; /* cap counts cells */
};

void cg_table_init(struct cg_table *t, size_t cols, const char *const *head);
/* Adds a row of cols printf'd cells; pass the cells as strings. */
CG_RESULT cg_table_row(struct cg_table *t, const char *const *cells);
void cg_table_print(const struct cg_table *t); /* to stdout, columns padded, last not */
void cg_table_cleanup(struct cg_table *t);

struct cg_cli;
/* Prints a listing: the JSON array with --json (taking it: *arr becomes NULL; through
 * cg_cli_json_out, so the admin API gets it), else the table, or the line `empty` when there are
 * no rows. */
CG_RESULT cg_list_print(struct cg_cli *cli, json_t **arr, const struct cg_table *t, const char *empty);
/* json_string that tolerates NULL (-> null). */
json_t *cg_json_str_or_null(const char *s);

#endif
