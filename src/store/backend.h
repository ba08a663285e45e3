/* The backends the store knows, one const ops table each. Only store.c (the dispatcher) and
 * the backend that defines a table include this; adding a backend is one line here and one in
 * store.c's table. */
#ifndef CG_STORE_BACKEND_H
#define CG_STORE_BACKEND_H

#include <stdarg.h>
#include <stdio.h>

#include "core/error.h"
#include "store/store.h"

extern const struct cg_store_ops cg_store_sqlite_ops; /* sqlite/sqlite.c */

#endif
