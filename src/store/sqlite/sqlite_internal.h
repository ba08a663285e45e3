/* Shared between the sqlite backend's files (and its unit test); not part of the store API. */
#ifndef CG_STORE_SQLITE_INTERNAL_H
#define CG_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>

#include "core/error.h"
#include "store/backend.h"

/* The newest schema version this binary knows: the number of migration steps. */
int cg_store_sqlite_schema_latest(void);

/* Brings the schema of db up to cg_store_sqlite_schema_latest(): each pending step runs in its
 * own IMMEDIATE transaction and is recorded in schema_version, so a crash leaves the store at
 * the last whole step and two processes migrating at once apply each step once. A store whose
 * schema is newer than this binary knows is refused with CG_ESTORE and left untouched.
 * A database without a schema_version table is new: with create it gets the whole schema,
 * without it is CG_ENOSTORE; one that has tables of its own (another program's database) is
 * refused either way, so that certgate never writes into it. url names the store in messages. */
CG_RESULT cg_store_sqlite_migrate(sqlite3 *db, const char *url, bool create, struct cg_err *err);

/* A prepared statement finalized when its scope ends: `CG_STMT st = NULL;`. */
static inline void cg_store_sqlite_stmt_free(sqlite3_stmt **p)
{
    sqlite3_finalize(*p);
    *p = NULL;
}
#define CG_STMT __attribute__((cleanup(cg_store_sqlite_stmt_free))) sqlite3_stmt *

/* Sets err to CG_ESTORE "store 'URL': <sqlite message>" with a hint chosen by the sqlite error
 * code (busy, read-only, full, not a database). Call it right after the failing call, before
 * any other call on db replaces the message. Returns CG_ESTORE. */
int cg_store_sqlite_fail(sqlite3 *db, const char *url, struct cg_err *err);

#endif
