/* The sqlite backend: one database file per store, "sqlite:PATH" (SPEC.md section 4).
 *
 * Every statement is prepared with bound parameters. Every mutating operation runs in its own
 * transaction (BEGIN IMMEDIATE ... COMMIT) when the caller has none open, or in a SAVEPOINT
 * inside the caller's transaction: either way a failing operation leaves nothing behind and
 * does not end the caller's transaction. The caller's transactions nest by counting levels (one
 * SQL transaction underneath); a rollback at any level dooms the whole. IMMEDIATE takes the
 * write lock up front, so that two processes never deadlock upgrading a read lock;
 * busy_timeout makes the second one wait.
 *
 * Nothing here logs, and no message ever contains key bytes. */
#include "store/sqlite/sqlite_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/mem.h"
#include "core/str.h"

#define CG_BUSY_TIMEOUT_MS 5000
#define CG_INUSE_LIST_MAX 5 /* pin targets (and upstreams) named in a CG_EINUSE message */

struct cg_store_sqlite {
    struct cg_store base; /* first: a struct cg_store * points at it */
    sqlite3 *db;
    char *url;
    int depth;   /* open transaction levels: 0 none, 1 the SQL transaction, more nested in it */
    bool doomed; /* an inner level was rolled back: the outermost commit must save nothing */
};

static struct cg_store_sqlite *sq(struct cg_store *s) { return (struct cg_store_sqlite *)s; }

/* ---- errors -------------------------------------------------------------------------------- */

int cg_store_sqlite_fail(sqlite3 *db, const char *url, struct cg_err *err)
{
    int code = db ? sqlite3_extended_errcode(db) : SQLITE_NOMEM;
    cg_err_set(err, CG_ESTORE, "store '%s': %s", url, db ? sqlite3_errmsg(db) : "out of memory");
    switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        cg_err_hint(err, "another process kept the store locked for more than %d seconds; try again",
                    CG_BUSY_TIMEOUT_MS / 1000);
        break;
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        cg_err_hint(err, "check that this user may read and write the database file and its directory");
        break;
    case SQLITE_FULL:
        cg_err_hint(err, "free some disk space, then try again");
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        cg_err_hint(err, "the file is not a certgate store or it is damaged: check --store, or restore a backup");
        break;
    case SQLITE_IOERR:
        cg_err_hint(err, "check the disk and the file system that hold the store");
        break;
    default:
        break;
    }
    return CG_ESTORE;
}

static int fail(struct cg_store_sqlite *s, struct cg_err *err) { return cg_store_sqlite_fail(s->db, s->url, err); }

/* Names the operation in a backend failure ("cannot delete certificate 'x' ...: store ...:
 * database is locked"); the store's own refusals already name their object. */
CG_PRINTF(3, 4) static int ctx(int rc, struct cg_err *err, const char *fmt, ...)
{
    if (rc != CG_ESTORE || !err) return rc;
    char what[CG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    cg_err_prefix(err, "%s", what);
    return rc;
}

static int arg_check(const char *what, const char *v, struct cg_err *err)
{
    if (v && *v) return 0;
    return cg_err_set(err, CG_EINVAL, "no %s given", what);
}

static int oom(struct cg_err *err, const char *what)
{
    return cg_err_set(err, CG_ENOMEM, "out of memory while %s", what);
}

static const char *kind_name(int kind)
{
    switch (kind) {
    case CG_STORE_CLIENT: return "client";
    case CG_STORE_SERVER: return "server";
    case CG_STORE_CA: return "ca";
    default: return "unknown";
    }
}

/* ---- statements ---------------------------------------------------------------------------- */

/* Prepares sql into *st and binds its parameters in order, one letter of types each:
 * 't' const char * (NULL binds NULL), 'i' int64_t, 'b' const uint8_t * then size_t (NULL binds
 * NULL). Bound values are not copied: they must outlive the statement's steps. */
static int vquery(struct cg_store_sqlite *s, sqlite3_stmt **st, struct cg_err *err, const char *sql,
                  const char *types, va_list ap)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) return fail(s, err);
    int rc = SQLITE_OK;
    for (int i = 0; types[i] && rc == SQLITE_OK; i++) {
        switch (types[i]) {
        case 't': {
            const char *v = va_arg(ap, const char *);
            rc = v ? sqlite3_bind_text(*st, i + 1, v, -1, SQLITE_STATIC) : sqlite3_bind_null(*st, i + 1);
            break;
        }
        case 'i':
            rc = sqlite3_bind_int64(*st, i + 1, (sqlite3_int64)va_arg(ap, int64_t));
            break;
        case 'b': {
            const uint8_t *p = va_arg(ap, const uint8_t *);
            size_t n = va_arg(ap, size_t);
            rc = p ? sqlite3_bind_blob64(*st, i + 1, p, (sqlite3_uint64)n, SQLITE_STATIC)
                   : sqlite3_bind_null(*st, i + 1);
            break;
        }
        default:
            return cg_err_set(err, CG_EINTERNAL, "store: bad parameter type '%c'", types[i]);
        }
    }
    if (rc != SQLITE_OK) return fail(s, err);
    return 0;
}

static int query(struct cg_store_sqlite *s, sqlite3_stmt **st, struct cg_err *err, const char *sql,
                 const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = vquery(s, st, err, sql, types, ap);
    va_end(ap);
    return rc;
}

/* 1 for a row, 0 when done, CG_ESTORE on failure. */
static int step(struct cg_store_sqlite *s, sqlite3_stmt *st, struct cg_err *err)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    return fail(s, err);
}

/* Runs a statement that returns no rows. */
static int run(struct cg_store_sqlite *s, struct cg_err *err, const char *sql, const char *types, ...)
{
    CG_STMT st = NULL;
    va_list ap;
    va_start(ap, types);
    int rc = vquery(s, &st, err, sql, types, ap);
    va_end(ap);
    CG_GUARD(rc);
    rc = step(s, st, err);
    return rc > 0 ? 0 : rc;
}

static int exec(struct cg_store_sqlite *s, const char *sql, struct cg_err *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) return fail(s, err);
    return 0;
}

/* A copy of a text column; NULL for SQL NULL. */
static int col_text(sqlite3_stmt *st, int i, char **out)
{
    *out = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return 0;
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) return CG_ENOMEM;
    *out = cg_strndup((const char *)t, (size_t)sqlite3_column_bytes(st, i));
    return *out ? 0 : CG_ENOMEM;
}

/* Appends the text column 0 of every row of q to the array (*items, *n), in row order (SQL NULL
 * reads as ""). CG_ENOMEM or CG_ESTORE; what was read stays in the array for the caller to free. */
static int texts_read(struct cg_store_sqlite *s, sqlite3_stmt *q, char ***items, size_t *n, struct cg_err *err)
{
    size_t cap = *n;
    int rc;
    while ((rc = step(s, q, err)) == 1) {
        if (cg_array_reserve(items, &cap, *n + 1, sizeof(**items)) < 0) return CG_ENOMEM;
        char *v = NULL;
        CG_GUARD(col_text(q, 0, &v));
        if (!v && !(v = cg_strdup(""))) return CG_ENOMEM;
        (*items)[(*n)++] = v;
    }
    return rc;
}

/* ---- transactions -------------------------------------------------------------------------- */

/* The frame of one mutating operation: its own transaction, or a savepoint in the caller's. */
struct op {
    bool own;
};

static int op_begin(struct cg_store_sqlite *s, struct op *op, struct cg_err *err)
{
    if (s->depth > 0) {
        /* A nested rollback ended the SQL transaction; so do some failures (disk full, I/O
         * errors). Going on would commit the rest of the caller's changes one by one: refuse. */
        if (s->doomed || sqlite3_get_autocommit(s->db)) {
            cg_err_set(err, CG_ESTORE, "store '%s': the open transaction was rolled back after an earlier error",
                       s->url);
            return cg_err_hint_code(err, CG_ESTORE, "roll the transaction back and start again");
        }
        op->own = false;
        return exec(s, "SAVEPOINT cg_op", err);
    }
    op->own = true;
    return exec(s, "BEGIN IMMEDIATE", err);
}

/* Ends the frame: keeps the operation's changes when rc is 0, undoes them otherwise. The first
 * error's message is kept. */
static int op_end(struct cg_store_sqlite *s, const struct op *op, int rc, struct cg_err *err)
{
    if (rc == 0) {
        rc = exec(s, op->own ? "COMMIT" : "RELEASE cg_op", err);
        if (rc == 0) return 0;
    }
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, op->own ? "ROLLBACK" : "ROLLBACK TO cg_op; RELEASE cg_op", NULL, NULL, NULL);
    return rc;
}

static int revision_bump(struct cg_store_sqlite *s, const char *env, struct cg_err *err)
{
    return run(s, err,
               "INSERT INTO environments (name, revision) VALUES (?, 1) "
               "ON CONFLICT (name) DO UPDATE SET revision = revision + 1",
               "t", env);
}

/* Ends the SQL transaction, if one is open, keeping nothing; every level is closed. */
static void tx_abort(struct cg_store_sqlite *s)
{
    s->depth = 0;
    s->doomed = false;
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int sqlite_begin(struct cg_store *st, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    if (s->depth > 0) {
        if (s->depth == INT_MAX)
            return cg_err_set(err, CG_EINTERNAL, "store '%s': transactions nested too deep", s->url);
        s->depth++; /* a level of the open transaction: its commit only uncounts it */
        return 0;
    }
    if (!sqlite3_get_autocommit(s->db)) {
        cg_err_set(err, CG_EUSAGE, "store '%s': a transaction is already open outside the store's bookkeeping",
                   s->url);
        return cg_err_hint_code(err, CG_EUSAGE, "end that transaction before beginning one through the store");
    }
    CG_GUARD(ctx(exec(s, "BEGIN IMMEDIATE", err), err, "cannot begin a transaction"));
    s->depth = 1;
    s->doomed = false;
    return 0;
}

/* The outermost commit: saves everything, or nothing when a level was rolled back or SQLite
 * ended the transaction after an error. */
static int commit_outer(struct cg_store_sqlite *s, struct cg_err *err)
{
    bool doomed = s->doomed;
    bool ended = sqlite3_get_autocommit(s->db) != 0;
    if (doomed || ended) {
        tx_abort(s);
        cg_err_set(err, CG_ESTORE, "store '%s': %s; nothing was saved", s->url,
                   doomed ? "a step of the transaction failed and was rolled back"
                          : "the transaction was rolled back after an earlier error");
        return cg_err_hint_code(err, CG_ESTORE, "fix the error reported before this one, then start again");
    }
    s->depth = 0;
    int rc = exec(s, "COMMIT", err);
    if (rc < 0) {
        tx_abort(s);
        return ctx(rc, err, "cannot commit the transaction; nothing was saved");
    }
    return 0;
}

static int sqlite_commit(struct cg_store *st, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    if (s->depth == 0) {
        cg_err_set(err, CG_EUSAGE, "store '%s': no transaction is open to commit", s->url);
        return cg_err_hint_code(err, CG_EUSAGE, "begin a transaction first");
    }
    if (s->depth > 1) {
        s->depth--;
        return 0;
    }
    return commit_outer(s, err);
}

/* The outermost rollback undoes everything at once. An inner one does too, right away (the
 * whole is doomed: nothing written after it could be kept), and leaves its outer levels open
 * but refusing writes until the outermost ends them. */
static void sqlite_rollback(struct cg_store *st)
{
    struct cg_store_sqlite *s = sq(st);
    if (s->depth == 0) return;
    if (s->depth == 1) {
        tx_abort(s);
        return;
    }
    s->depth--;
    s->doomed = true;
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- open and close ------------------------------------------------------------------------ */

/* The file path of a sqlite URL: "sqlite:PATH" (relative or absolute) or "sqlite:///ABS". */
static int url_path(const char *url, char *out, size_t n, struct cg_err *err)
{
    static const char prefix[] = "sqlite:";
    if (!url || strncasecmp(url, prefix, sizeof(prefix) - 1) != 0)
        return cg_err_set(err, CG_EUSAGE, "'%s' is not a sqlite store URL", url ? url : "");
    const char *p = url + sizeof(prefix) - 1;
    if (strncmp(p, "//", 2) == 0) {
        p += 2;
        if (*p != '/') {
            cg_err_set(err, CG_EUSAGE, "store URL '%s': 'sqlite://' must be followed by an absolute path", url);
            return cg_err_hint_code(err, CG_EUSAGE, "write sqlite:///var/lib/certgate/certgate.db, or sqlite:PATH for a path "
                                    "relative to the working directory");
        }
    }
    if (!*p) {
        cg_err_set(err, CG_EUSAGE, "store URL '%s' names no database file", url);
        return cg_err_hint_code(err, CG_EUSAGE, "write sqlite:PATH, e.g. sqlite:/var/lib/certgate/certgate.db");
    }
    if (cg_strlcpy(out, p, n) >= n) return cg_err_set(err, CG_EUSAGE, "store URL '%s': the path is too long", url);
    return 0;
}

/* Creates the database file (and its directory) with owner-only permissions: it holds the
 * sealed keys. *created tells whether this call made it (another process may have won). */
static int file_create(const char *url, const char *path, bool *created, struct cg_err *err)
{
    *created = false;
    char dir[PATH_MAX];
    cg_path_dirname(path, dir, sizeof(dir));
    if (!cg_file_exists(dir)) {
        int rc = cg_dir_ensure(dir, 0700, err);
        if (rc < 0) {
            cg_err_prefix(err, "cannot create store '%s'", url);
            return cg_err_hint_code(err, rc, "check the path given with --store, and that this user may create '%s'",
                                 dir);
        }
    }
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return 0;
        cg_err_set(err, CG_EIO, "cannot create store '%s': %s", url, strerror(errno));
        return cg_err_hint_code(err, CG_EIO, "check that this user may write the directory '%s'", dir);
    }
    /* The umask may only have narrowed 0600; fchmod makes it exactly 0600 whatever it was. */
    if (fchmod(fd, 0600) < 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return cg_err_set(err, CG_EIO, "cannot create store '%s': %s", url, strerror(e));
    }
    close(fd);
    *created = true;
    return 0;
}

/* Removes a database file this process created and then failed to set up, so that the next
 * attempt starts clean and a plain open reports CG_ENOSTORE. */
static void file_remove(const char *path)
{
    char side[PATH_MAX + 8];
    unlink(path);
    snprintf(side, sizeof(side), "%s-journal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
}

static int db_setup(sqlite3 *db, const char *url, bool create, struct cg_err *err)
{
    sqlite3_extended_result_codes(db, 1);
    if (sqlite3_busy_timeout(db, CG_BUSY_TIMEOUT_MS) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK)
        return cg_store_sqlite_fail(db, url, err);
    /* Migrations first: they refuse a database of another program before anything is written
     * to it, and WAL mode is a persistent change to the file. */
    CG_GUARD(cg_store_sqlite_migrate(db, url, create, err));
    /* WAL: readers (the daemon polling revisions) never block the writer (the CLI). */
    if (sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK)
        return cg_store_sqlite_fail(db, url, err);
    return 0;
}

static int sqlite_open(const char *url, bool create, struct cg_store **out, struct cg_err *err)
{
    *out = NULL;
    char path[PATH_MAX];
    CG_GUARD(url_path(url, path, sizeof(path), err));

    bool created = false;
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode)) {
            cg_err_set(err, CG_ESTORE, "store '%s': '%s' is not a regular file", url, path);
            return cg_err_hint_code(err, CG_ESTORE, "point --store at the database file (sqlite:PATH)");
        }
    } else if (errno != ENOENT) {
        cg_err_set(err, CG_ESTORE, "cannot open store '%s': %s", url, strerror(errno));
        return cg_err_hint_code(err, CG_ESTORE, "check --store and the permissions of the directories on the path");
    } else if (!create) {
        cg_err_set(err, CG_ENOSTORE, "store '%s' does not exist", url);
        return cg_err_hint_code(err, CG_ENOSTORE, "run 'certgate init' first (or check --store / CERTGATE_STORE)");
    } else {
        CG_GUARD(file_create(url, path, &created, err));
    }

    sqlite3 *db = NULL;
    struct cg_store_sqlite *s = NULL;
    /* No SQLITE_OPEN_CREATE: the file exists by now, made above with the right mode.
     * FULLMUTEX keeps SQLite's own state safe, but a transaction belongs to the handle: a
     * thread that writes opens its own handle. */
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        if (db) {
            rc = cg_store_sqlite_fail(db, url, err);
            cg_err_prefix(err, "cannot open the database");
        } else {
            rc = cg_err_set(err, CG_ESTORE, "cannot open store '%s': %s", url, sqlite3_errstr(rc));
        }
        goto out;
    }
    rc = db_setup(db, url, create, err);
    if (rc < 0) goto out;

    s = cg_calloc(1, sizeof(*s));
    if (s) s->url = cg_strdup(url);
    if (!s || !s->url) {
        rc = oom(err, "opening the store");
        goto out;
    }
    s->base.ops = &cg_store_sqlite_ops;
    s->db = db;
    *out = &s->base;
    return 0;

out:
    if (s) cg_free(s->url);
    cg_free(s);
    sqlite3_close_v2(db);
    if (created) file_remove(path);
    return rc;
}

static void sqlite_close(struct cg_store *st)
{
    if (!st) return;
    struct cg_store_sqlite *s = sq(st);
    tx_abort(s); /* an open transaction is rolled back, whatever its depth */
    sqlite3_close_v2(s->db);
    cg_free(s->url);
    cg_free(s);
}

static int sqlite_default_master_key(const char *url, char *out, size_t n, struct cg_err *err)
{
    char path[PATH_MAX];
    CG_GUARD(url_path(url, path, sizeof(path), err));
    char dir[PATH_MAX];
    cg_path_dirname(path, dir, sizeof(dir));
    int len = snprintf(out, n, "%s%smaster.key", dir, strcmp(dir, "/") == 0 ? "" : "/");
    if (len < 0 || (size_t)len >= n)
        return cg_err_set(err, CG_EINVAL, "store '%s': the master key path is too long", url);
    return 0;
}

/* ---- reads --------------------------------------------------------------------------------- */

static int sqlite_revision(struct cg_store *st, const char *env, uint64_t *out, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    *out = 0;
    CG_GUARD(arg_check("environment", env, err));
    CG_STMT q = NULL;
    int rc = query(s, &q, err, "SELECT revision FROM environments WHERE name = ?", "t", env);
    if (rc == 0) rc = step(s, q, err);
    if (rc == 1) {
        sqlite3_int64 v = sqlite3_column_int64(q, 0);
        *out = v > 0 ? (uint64_t)v : 0;
        rc = 0;
    }
    return ctx(rc, err, "cannot read the revision of environment '%s'", env);
}

#define CG_CERT_COLUMNS "id, name, kind, is_default, cert_pem, key_blob, warnings, created_at, updated_at, crl_pem"

/* Fills c from a row of CG_CERT_COLUMNS; on failure c holds what was read (cleanup frees it). */
static int cert_row_read(sqlite3_stmt *q, struct cg_store_cert *c)
{
    const unsigned char *id = sqlite3_column_text(q, 0);
    cg_strlcpy(c->id, id ? (const char *)id : "", sizeof(c->id));
    CG_GUARD(col_text(q, 1, &c->name));
    c->kind = sqlite3_column_int(q, 2);
    c->is_default = sqlite3_column_int(q, 3) != 0;
    CG_GUARD(col_text(q, 4, &c->cert_pem));
    if (sqlite3_column_type(q, 5) != SQLITE_NULL) {
        int n = sqlite3_column_bytes(q, 5);
        const void *p = sqlite3_column_blob(q, 5);
        if (n > 0) {
            if (!p) return CG_ENOMEM;
            c->key_blob = cg_malloc((size_t)n);
            if (!c->key_blob) return CG_ENOMEM;
            memcpy(c->key_blob, p, (size_t)n);
            c->key_blob_len = (size_t)n;
        }
    }
    CG_GUARD(col_text(q, 6, &c->warnings_json));
    c->created_at = sqlite3_column_int64(q, 7);
    c->updated_at = sqlite3_column_int64(q, 8);
    CG_GUARD(col_text(q, 9, &c->crl_pem));
    /* NOT NULL columns; kept non-NULL for the caller even if the file was edited by hand. */
    if (!c->name) c->name = cg_strdup("");
    if (!c->cert_pem) c->cert_pem = cg_strdup("");
    if (!c->warnings_json) c->warnings_json = cg_strdup("[]");
    if (!c->name || !c->cert_pem || !c->warnings_json) return CG_ENOMEM;
    return 0;
}

static int cert_not_found(const char *env, const char *name, struct cg_err *err)
{
    cg_err_set(err, CG_ENOTFOUND, "no certificate named '%s' in environment '%s'", name, env);
    return cg_err_hint_code(err, CG_ENOTFOUND, "see the certificates with: certgate cert list --env %s", env);
}

/* Collects a list query's rows into a growable array (*items, *n): each row gets a zeroed element
 * of elem_size that read fills. rc is the query's result, so that callers chain it. Out of memory
 * is reported as `what` failing; the caller frees the list when this fails. */
typedef int row_read_fn(struct cg_store_sqlite *s, const char *env, sqlite3_stmt *q, void *item,
                        struct cg_err *err);

static int rows_collect(struct cg_store_sqlite *s, const char *env, sqlite3_stmt *q, int rc, void *items,
                        size_t *n, size_t elem_size, row_read_fn *read, const char *what, struct cg_err *err)
{
    size_t cap = 0;
    while (rc == 0 && (rc = step(s, q, err)) == 1) {
        if (cg_array_reserve(items, &cap, *n + 1, elem_size) < 0) return oom(err, what);
        void *item = *(char **)items + *n * elem_size;
        memset(item, 0, elem_size);
        (*n)++;
        rc = read(s, env, q, item, err);
        if (rc == CG_ENOMEM) rc = oom(err, what);
    }
    return rc;
}

/* ---- named objects: what reading, listing and deleting an upstream, a site or a profile have in
 * common (their own code says what a row holds and what a put checks) ---- */

struct named_kind {
    const char *what;     /* "upstream": for messages */
    const char *plural;   /* "upstreams" */
    const char *table;    /* its rows' table: deleting a row deletes what hangs on it (CASCADE) */
    const char *get_sql;  /* SELECT <columns> ... WHERE env = ? AND name = ? */
    const char *list_sql; /* SELECT <columns> ... WHERE env = ? ORDER BY name */
    size_t size;          /* of one record */
    row_read_fn *read;    /* fills a zeroed record from a row */
    void (*cleanup)(void *item);
    int (*not_found)(const char *env, const char *name, struct cg_err *err);
};

static int named_get(struct cg_store_sqlite *s, const struct named_kind *k, const char *env, const char *name,
                     void *out, struct cg_err *err)
{
    memset(out, 0, k->size);
    char arg[64];
    snprintf(arg, sizeof(arg), "%s name", k->what);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(arg_check(arg, name, err));
    CG_STMT q = NULL;
    int rc = query(s, &q, err, k->get_sql, "tt", env, name);
    if (rc == 0) rc = step(s, q, err);
    if (rc == 0) return k->not_found(env, name, err);
    if (rc == 1) {
        rc = k->read(s, env, q, out, err);
        if (rc == CG_ENOMEM) rc = oom(err, "reading a record");
    }
    if (rc < 0) k->cleanup(out);
    return ctx(rc, err, "cannot read %s '%s' of environment '%s'", k->what, name, env);
}

/* *items is the list's array (T **), *n its length; on failure the list is freed and empty. */
static int named_list(struct cg_store_sqlite *s, const struct named_kind *k, const char *env, void *items, size_t *n,
                      struct cg_err *err)
{
    *(void **)items = NULL;
    *n = 0;
    CG_GUARD(arg_check("environment", env, err));
    CG_STMT q = NULL;
    int rc = query(s, &q, err, k->list_sql, "t", env);
    rc = rows_collect(s, env, q, rc, items, n, k->size, k->read, k->plural, err);
    if (rc < 0) {
        char *arr = *(char **)items;
        for (size_t i = 0; i < *n; i++) k->cleanup(arr + i * k->size);
        cg_free(arr);
        *(void **)items = NULL;
        *n = 0;
        return ctx(rc, err, "cannot list the %s of environment '%s'", k->plural, env);
    }
    return 0;
}

/* Deletes the row; the rows that hang on it go with it (ON DELETE CASCADE). */
static int plain_delete_tx(struct cg_store_sqlite *s, const struct named_kind *k, const char *env, const char *name,
                           struct cg_err *err)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE env = ? AND name = ?", k->table);
    CG_GUARD(run(s, err, sql, "tt", env, name));
    if (sqlite3_changes(s->db) == 0) return k->not_found(env, name, err);
    return revision_bump(s, env, err);
}

/* A delete with checks of its own (NULL: plain_delete_tx). */
typedef int named_tx_fn(struct cg_store_sqlite *s, const char *env, const char *name, struct cg_err *err);

static int named_delete(struct cg_store_sqlite *s, const struct named_kind *k, const char *env, const char *name,
                        named_tx_fn *tx, struct cg_err *err)
{
    char arg[64];
    snprintf(arg, sizeof(arg), "%s name", k->what);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(arg_check(arg, name, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot delete %s '%s' of environment '%s'", k->what, name, env));
    int rc = op_end(s, &op, tx ? tx(s, env, name, err) : plain_delete_tx(s, k, env, name, err), err);
    return ctx(rc, err, "cannot delete %s '%s' of environment '%s'", k->what, name, env);
}

static int cert_row_cb(struct cg_store_sqlite *s, const char *env, sqlite3_stmt *q, void *item, struct cg_err *err)
{
    CG_UNUSED(s);
    CG_UNUSED(env);
    CG_UNUSED(err);
    return cert_row_read(q, item);
}

static int pin_row_cb(struct cg_store_sqlite *s, const char *env, sqlite3_stmt *q, void *item, struct cg_err *err)
{
    CG_UNUSED(s);
    CG_UNUSED(env);
    CG_UNUSED(err);
    struct cg_store_pin *p = item;
    int rc = col_text(q, 0, &p->target);
    if (rc == 0) rc = col_text(q, 1, &p->cert_name);
    if (rc == 0 && !p->target) rc = (p->target = cg_strdup("")) ? 0 : CG_ENOMEM;
    return rc;
}

static int sqlite_cert_get(struct cg_store *st, const char *env, const char *name, struct cg_store_cert *out,
                           struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    memset(out, 0, sizeof(*out));
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(arg_check("certificate name", name, err));
    CG_STMT q = NULL;
    int rc = query(s, &q, err, "SELECT " CG_CERT_COLUMNS " FROM certs WHERE env = ? AND name = ?", "tt", env, name);
    if (rc == 0) rc = step(s, q, err);
    if (rc == 0) return cert_not_found(env, name, err);
    if (rc == 1) {
        rc = cert_row_read(q, out);
        if (rc == CG_ENOMEM) rc = oom(err, "reading a certificate");
    }
    if (rc < 0) cg_store_cert_cleanup(out);
    return ctx(rc, err, "cannot read certificate '%s' of environment '%s'", name, env);
}

static int sqlite_cert_list(struct cg_store *st, const char *env, struct cg_store_cert_list *out,
                            struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    out->items = NULL;
    out->n = 0;
    CG_GUARD(arg_check("environment", env, err));
    CG_STMT q = NULL;
    int rc = query(s, &q, err, "SELECT " CG_CERT_COLUMNS " FROM certs WHERE env = ? ORDER BY name", "t", env);
    rc = rows_collect(s, env, q, rc, &out->items, &out->n, sizeof(*out->items), cert_row_cb, "listing certificates",
                      err);
    if (rc < 0) {
        cg_store_cert_list_cleanup(out);
        return ctx(rc, err, "cannot list the certificates of environment '%s'", env);
    }
    return 0;
}

static int sqlite_pin_list(struct cg_store *st, const char *env, struct cg_store_pin_list *out,
                           struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    out->items = NULL;
    out->n = 0;
    CG_GUARD(arg_check("environment", env, err));
    CG_STMT q = NULL;
    int rc = query(s, &q, err, "SELECT target, cert_name FROM pins WHERE env = ? ORDER BY target", "t", env);
    rc = rows_collect(s, env, q, rc, &out->items, &out->n, sizeof(*out->items), pin_row_cb, "listing pins", err);
    if (rc < 0) {
        cg_store_pin_list_cleanup(out);
        return ctx(rc, err, "cannot list the pins of environment '%s'", env);
    }
    return 0;
}

/* ---- certificates -------------------------------------------------------------------------- */

/* The kind of certificate name of env: 1 with *kind set when it exists, 0 when not. */
static int cert_kind_get(struct cg_store_sqlite *s, const char *env, const char *name, int *kind,
                         struct cg_err *err)
{
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err, "SELECT kind FROM certs WHERE env = ? AND name = ?", "tt", env, name));
    int rc = step(s, q, err);
    if (rc == 1) *kind = sqlite3_column_int(q, 0);
    return rc;
}

/* Steps q (one text column) and appends up to CG_INUSE_LIST_MAX of its values, quoted, to list;
 * *n counts every row. */
static int names_collect(struct cg_store_sqlite *s, sqlite3_stmt *q, struct cg_buf *list, size_t *n,
                         struct cg_err *err)
{
    int rc;
    *n = 0;
    while ((rc = step(s, q, err)) == 1) {
        const unsigned char *t = sqlite3_column_text(q, 0);
        if (*n < CG_INUSE_LIST_MAX &&
            cg_buf_printf(list, "%s'%s'", *n ? ", " : "", t ? (const char *)t : "?") < 0) {
            /* out of memory: the list is only cut short, the refusal stands */
        }
        (*n)++;
    }
    if (rc == 0 && *n > CG_INUSE_LIST_MAX && cg_buf_printf(list, " and %zu more", *n - CG_INUSE_LIST_MAX) < 0) {
        /* cut short, as above */
    }
    return rc;
}

/* What may hold a certificate: pins name client certificates, upstreams and profiles trust ca
 * bundles, sites present server certificates and verify clients with ca bundles, webhooks
 * present client certificates and trust ca bundles. */
enum {
    CG_REF_PINS = 1,
    CG_REF_UPSTREAMS = 2,
    CG_REF_SITES = 4,
    CG_REF_PROFILES = 8,
    CG_REF_WEBHOOK_CLIENTS = 16,
    CG_REF_WEBHOOK_CAS = 32,
};
#define CG_REF_ALL 63

struct ref_kind {
    int bit;
    const char *sql;        /* the names that hold certificate ?2 of environment ?1, one text column */
    const char *verb;       /* "it is pinned by 2 targets" */
    const char *one, *many;
    const char *hint;       /* when only this kind holds it */
    const char *short_hint; /* joined with the others' when several kinds do */
};

static const struct ref_kind ref_kinds[] = {
    {CG_REF_PINS, "SELECT target FROM pins WHERE env = ?1 AND cert_name = ?2 ORDER BY target", "pinned by", "target",
     "targets", "remove or repin them first: certgate pin rm TARGET",
     "remove or repin the pins (certgate pin rm TARGET)"},
    {CG_REF_UPSTREAMS,
     "SELECT DISTINCT upstream FROM upstream_cas WHERE env = ?1 AND ca_name = ?2 ORDER BY upstream", "trusted by",
     "upstream", "upstreams",
     "change their trust first (certgate upstream set UPSTREAM --ca OTHER_CA, or --no-ca for the environment's "
     "trust), or remove them: certgate upstream rm UPSTREAM",
     "change the upstreams' trust (certgate upstream set UPSTREAM --no-ca)"},
    {CG_REF_SITES,
     "SELECT site FROM site_domains WHERE env = ?1 AND cert_name = ?2 UNION "
     "SELECT site FROM site_cas WHERE env = ?1 AND ca_name = ?2 ORDER BY 1",
     "used by", "site", "sites",
     "change those sites first (certgate site set SITE --domain HOST=OTHER_CERT, or --client-ca OTHER_CA), or "
     "remove them: certgate site rm SITE",
     "change the sites (certgate site set SITE ...)"},
    {CG_REF_PROFILES,
     "SELECT DISTINCT profile FROM profile_cas WHERE env = ?1 AND ca_name = ?2 ORDER BY profile", "trusted by",
     "profile", "profiles",
     "change those profiles first (certgate profile set PROFILE --client-ca OTHER_CA), or remove them: certgate "
     "profile rm PROFILE",
     "change the profiles (certgate profile set PROFILE --client-ca OTHER_CA)"},
    {CG_REF_WEBHOOK_CLIENTS, "SELECT name FROM webhooks WHERE env = ?1 AND client_cert = ?2 ORDER BY name",
     "presented by", "webhook", "webhooks",
     "give those webhooks another client certificate first (certgate webhook set WEBHOOK --client-cert OTHER), or "
     "remove them: certgate webhook rm WEBHOOK",
     "give the webhooks another client certificate (certgate webhook set WEBHOOK --client-cert OTHER)"},
    {CG_REF_WEBHOOK_CAS, "SELECT name FROM webhooks WHERE env = ?1 AND ca = ?2 ORDER BY name", "trusted by", "webhook",
     "webhooks",
     "change their trust first (certgate webhook set WEBHOOK --ca OTHER_CA, or --no-ca for the system roots), or "
     "remove them: certgate webhook rm WEBHOOK",
     "change the webhooks' trust (certgate webhook set WEBHOOK --no-ca)"},
};

/* CG_EINUSE, naming up to CG_INUSE_LIST_MAX holders of each kind, when the objects of env
 * selected by refs hold certificate name; 0 when none do. what: the refused operation, the
 * start of the message. */
static int in_use_refuse(struct cg_store_sqlite *s, const char *env, const char *name, int refs, const char *what,
                         struct cg_err *err)
{
    struct cg_buf msg, hint;
    cg_buf_init(&msg, CG_ERR_MSG_MAX);
    cg_buf_init(&hint, CG_ERR_HINT_MAX);
    int rc = 0, kinds = 0;
    const struct ref_kind *only = NULL;
    for (size_t k = 0; k < CG_ARRAY_LEN(ref_kinds) && rc == 0; k++) {
        const struct ref_kind *r = &ref_kinds[k];
        if (!(refs & r->bit)) continue;
        struct cg_buf names;
        cg_buf_init(&names, CG_ERR_MSG_MAX);
        size_t n = 0;
        CG_STMT q = NULL;
        rc = query(s, &q, err, r->sql, "tt", env, name);
        if (rc == 0) rc = names_collect(s, q, &names, &n, err);
        if (rc == 0 && n > 0) {
            if (cg_buf_printf(&msg, "%sit is %s %zu %s: %s", kinds ? "; " : "", r->verb, n,
                              n == 1 ? r->one : r->many, cg_buf_str(&names)) < 0 ||
                cg_buf_printf(&hint, "%s%s", kinds ? ", and " : "", r->short_hint) < 0) {
                /* out of memory: the message is only cut short, the refusal stands */
            }
            kinds++;
            only = r;
        }
        cg_buf_cleanup(&names);
    }
    if (rc == 0 && kinds) {
        cg_err_set(err, CG_EINUSE, "%s: %s", what, cg_buf_str(&msg));
        if (kinds == 1)
            rc = cg_err_hint_code(err, CG_EINUSE, "%s", only->hint);
        else
            rc = cg_err_hint_code(err, CG_EINUSE, "%s first", cg_buf_str(&hint));
    }
    cg_buf_cleanup(&msg);
    cg_buf_cleanup(&hint);
    return rc;
}

static bool id_valid(const char *id)
{
    size_t i = 0;
    for (; i < 32; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return false;
    return id[i] == '\0';
}

static int cert_check(const struct cg_store_cert *c, struct cg_err *err)
{
    if (!c) return cg_err_set(err, CG_EINVAL, "no certificate given");
    CG_GUARD(arg_check("certificate name", c->name, err));
    if (!id_valid(c->id)) {
        cg_err_set(err, CG_EINVAL, "certificate '%s' has no valid record id (32 lowercase hex characters)",
                   c->name);
        return cg_err_hint_code(err, CG_EINVAL, "make one with cg_store_new_id before storing the certificate");
    }
    if (c->kind != CG_STORE_CLIENT && c->kind != CG_STORE_SERVER && c->kind != CG_STORE_CA)
        return cg_err_set(err, CG_EINVAL, "certificate '%s' has an unknown kind (%d)", c->name, c->kind);
    if (!c->cert_pem || !*c->cert_pem)
        return cg_err_set(err, CG_EINVAL, "certificate '%s' has no certificate data", c->name);
    if (c->key_blob_len && !c->key_blob)
        return cg_err_set(err, CG_EINVAL, "certificate '%s': key length given without a key", c->name);
    if (c->kind == CG_STORE_CA && c->key_blob) {
        cg_err_set(err, CG_EINVAL, "ca certificate '%s' comes with a private key; a ca entry holds certificates only",
                   c->name);
        return cg_err_hint_code(err, CG_EINVAL, "import it as a client or server certificate if its key is needed");
    }
    if (c->kind != CG_STORE_CA && !c->key_blob_len) {
        cg_err_set(err, CG_EINVAL, "%s certificate '%s' has no private key", kind_name(c->kind), c->name);
        return cg_err_hint_code(err, CG_EINVAL, "give its key (--key), or import a PKCS#12 file that contains it");
    }
    if (c->is_default && c->kind != CG_STORE_CLIENT) {
        cg_err_set(err, CG_EINVAL,
                   "%s certificate '%s' cannot be the default: the default is the client certificate "
                   "presented when no pin matches",
                   kind_name(c->kind), c->name);
        return cg_err_hint_code(err, CG_EINVAL, "mark a client certificate as the default");
    }
    if (c->crl_pem && (c->kind != CG_STORE_CA || !*c->crl_pem)) {
        cg_err_set(err, CG_EINVAL, "%s certificate '%s' comes with %s", kind_name(c->kind), c->name,
                   c->kind == CG_STORE_CA ? "empty CRL data (NULL means none)" : "CRLs; only a CA bundle has CRLs");
        return cg_err_hint_code(err, CG_EINVAL, "give CRLs with the CA bundle of their issuer: certgate ca add NAME "
                                                "FILE --crl CRL");
    }
    return 0;
}

static int cert_put_tx(struct cg_store_sqlite *s, const char *env, const struct cg_store_cert *c, bool replace,
                       struct cg_err *err)
{
    int64_t now = (int64_t)time(NULL);
    int kind = -1;
    int found = cert_kind_get(s, env, c->name, &kind, err);
    CG_GUARD(found);
    if (found && !replace) {
        cg_err_set(err, CG_EEXISTS, "a certificate named '%s' already exists in environment '%s'", c->name, env);
        return cg_err_hint_code(err, CG_EEXISTS, "choose another name, or replace it with --replace");
    }
    if (found && c->kind != CG_STORE_CLIENT) {
        char what[CG_ERR_MSG_MAX / 2];
        snprintf(what, sizeof(what), "cannot replace certificate '%s' of environment '%s' with a %s certificate",
                 c->name, env, kind_name(c->kind));
        CG_GUARD(in_use_refuse(s, env, c->name, CG_REF_PINS | CG_REF_WEBHOOK_CLIENTS, what, err));
    }
    if (found && kind == CG_STORE_CA && c->kind != CG_STORE_CA) {
        char what[CG_ERR_MSG_MAX / 2];
        snprintf(what, sizeof(what), "cannot replace CA bundle '%s' of environment '%s' with a %s certificate",
                 c->name, env, kind_name(c->kind));
        CG_GUARD(in_use_refuse(s, env, c->name, CG_REF_UPSTREAMS | CG_REF_SITES | CG_REF_PROFILES | CG_REF_WEBHOOK_CAS,
                               what, err));
    }
    if (found && kind == CG_STORE_SERVER && c->kind != CG_STORE_SERVER) {
        char what[CG_ERR_MSG_MAX / 2];
        snprintf(what, sizeof(what), "cannot replace server certificate '%s' of environment '%s' with a %s certificate",
                 c->name, env, kind_name(c->kind));
        CG_GUARD(in_use_refuse(s, env, c->name, CG_REF_SITES, what, err));
    }
    /* Clear the other default first: the schema allows one per environment at any moment. */
    if (c->is_default)
        CG_GUARD(run(s, err,
                     "UPDATE certs SET is_default = 0, updated_at = ? WHERE env = ? AND is_default = 1 AND name <> ?",
                     "itt", now, env, c->name));
    const char *warnings = c->warnings_json ? c->warnings_json : "[]";
    if (found)
        /* UPDATE in place, not DELETE + INSERT: (env, name) stays, so the pins, sites, profiles
         * and upstreams naming it stay valid (the foreign keys are RESTRICT); created_at is kept,
         * everything else (the CRLs too) is the new certificate's. */
        CG_GUARD(run(s, err,
                     "UPDATE certs SET id = ?, kind = ?, is_default = ?, cert_pem = ?, key_blob = ?, "
                     "warnings = ?, crl_pem = ?, updated_at = ? WHERE env = ? AND name = ?",
                     "tiitbttitt", c->id, (int64_t)c->kind, (int64_t)c->is_default, c->cert_pem, c->key_blob,
                     c->key_blob_len, warnings, c->crl_pem, now, env, c->name));
    else
        CG_GUARD(run(s, err,
                     "INSERT INTO certs (id, env, name, kind, is_default, cert_pem, key_blob, warnings, crl_pem, "
                     "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     "tttiitbttii", c->id, env, c->name, (int64_t)c->kind, (int64_t)c->is_default, c->cert_pem,
                     c->key_blob, c->key_blob_len, warnings, c->crl_pem, now, now));
    return revision_bump(s, env, err);
}

static int sqlite_cert_put(struct cg_store *st, const char *env, const struct cg_store_cert *c, bool replace,
                           struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(cert_check(c, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot store certificate '%s' in environment '%s'", c->name, env));
    int rc = op_end(s, &op, cert_put_tx(s, env, c, replace, err), err);
    return ctx(rc, err, "cannot store certificate '%s' in environment '%s'", c->name, env);
}

static int cert_delete_tx(struct cg_store_sqlite *s, const char *env, const char *name, struct cg_err *err)
{
    int kind = -1;
    int found = cert_kind_get(s, env, name, &kind, err);
    CG_GUARD(found);
    if (!found) return cert_not_found(env, name, err);
    char what[CG_ERR_MSG_MAX / 2];
    snprintf(what, sizeof(what), "cannot delete certificate '%s' of environment '%s'", name, env);
    CG_GUARD(in_use_refuse(s, env, name, CG_REF_ALL, what, err));
    CG_GUARD(run(s, err, "DELETE FROM certs WHERE env = ? AND name = ?", "tt", env, name));
    return revision_bump(s, env, err);
}

static int sqlite_cert_delete(struct cg_store *st, const char *env, const char *name, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(arg_check("certificate name", name, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot delete certificate '%s' of environment '%s'", name, env));
    int rc = op_end(s, &op, cert_delete_tx(s, env, name, err), err);
    return ctx(rc, err, "cannot delete certificate '%s' of environment '%s'", name, env);
}

static int cert_set_default_tx(struct cg_store_sqlite *s, const char *env, const char *name, struct cg_err *err)
{
    int kind = -1;
    int found = cert_kind_get(s, env, name, &kind, err);
    CG_GUARD(found);
    if (!found) return cert_not_found(env, name, err);
    if (kind != CG_STORE_CLIENT) {
        cg_err_set(err, CG_EINVAL,
                   "certificate '%s' of environment '%s' is a %s certificate and cannot be the default: the "
                   "default is the client certificate presented to servers when no pin matches",
                   name, env, kind_name(kind));
        return cg_err_hint_code(err, CG_EINVAL, "choose a client certificate (certgate cert list shows the kinds)");
    }
    int64_t now = (int64_t)time(NULL);
    CG_GUARD(run(s, err,
                 "UPDATE certs SET is_default = 0, updated_at = ? WHERE env = ? AND is_default = 1 AND name <> ?",
                 "itt", now, env, name));
    CG_GUARD(run(s, err, "UPDATE certs SET is_default = 1, updated_at = ? WHERE env = ? AND name = ? AND is_default = 0",
                 "itt", now, env, name));
    return revision_bump(s, env, err);
}

static int sqlite_cert_set_default(struct cg_store *st, const char *env, const char *name, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(arg_check("certificate name", name, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot make certificate '%s' the default of environment '%s'", name,
                 env));
    int rc = op_end(s, &op, cert_set_default_tx(s, env, name, err), err);
    return ctx(rc, err, "cannot make certificate '%s' the default of environment '%s'", name, env);
}

/* ---- pins ---------------------------------------------------------------------------------- */

static int pin_put_tx(struct cg_store_sqlite *s, const char *env, const char *target, const char *cert_name,
                      struct cg_err *err)
{
    if (cert_name) {
        int kind = -1;
        int found = cert_kind_get(s, env, cert_name, &kind, err);
        CG_GUARD(found);
        if (!found) {
            cg_err_set(err, CG_ENOTFOUND, "cannot pin '%s': no certificate named '%s' in environment '%s'", target,
                       cert_name, env);
            return cg_err_hint_code(err, CG_ENOTFOUND, "see the certificates with: certgate cert list --env %s", env);
        }
        if (kind != CG_STORE_CLIENT) {
            cg_err_set(err, CG_EINVAL,
                       "cannot pin '%s' to '%s': it is a %s certificate, and a pin names the client "
                       "certificate to present",
                       target, cert_name, kind_name(kind));
            return cg_err_hint_code(err, CG_EINVAL, "pin a client certificate (certgate cert list shows the kinds), or 'none'");
        }
    }
    CG_GUARD(run(s, err,
                 "INSERT INTO pins (env, target, cert_name) VALUES (?, ?, ?) "
                 "ON CONFLICT (env, target) DO UPDATE SET cert_name = excluded.cert_name",
                 "ttt", env, target, cert_name));
    return revision_bump(s, env, err);
}

static int sqlite_pin_put(struct cg_store *st, const char *env, const char *target, const char *cert_name,
                          struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(arg_check("pin target", target, err));
    if (cert_name && !*cert_name) return cg_err_set(err, CG_EINVAL, "cannot pin '%s': empty certificate name", target);
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot pin '%s' in environment '%s'", target, env));
    int rc = op_end(s, &op, pin_put_tx(s, env, target, cert_name, err), err);
    return ctx(rc, err, "cannot pin '%s' in environment '%s'", target, env);
}

static int pin_delete_tx(struct cg_store_sqlite *s, const char *env, const char *target, struct cg_err *err)
{
    CG_GUARD(run(s, err, "DELETE FROM pins WHERE env = ? AND target = ?", "tt", env, target));
    if (sqlite3_changes(s->db) == 0) {
        cg_err_set(err, CG_ENOTFOUND, "no pin for target '%s' in environment '%s'", target, env);
        return cg_err_hint_code(err, CG_ENOTFOUND, "see the pins with: certgate pin list --env %s", env);
    }
    return revision_bump(s, env, err);
}

static int sqlite_pin_delete(struct cg_store *st, const char *env, const char *target, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(arg_check("pin target", target, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot remove the pin of '%s' in environment '%s'", target, env));
    int rc = op_end(s, &op, pin_delete_tx(s, env, target, err), err);
    return ctx(rc, err, "cannot remove the pin of '%s' in environment '%s'", target, env);
}

/* ---- upstreams ----------------------------------------------------------------------------- */

static int upstream_not_found(const char *env, const char *name, struct cg_err *err)
{
    cg_err_set(err, CG_ENOTFOUND, "no upstream named '%s' in environment '%s'", name, env);
    return cg_err_hint_code(err, CG_ENOTFOUND, "see the upstreams with: certgate upstream list --env %s", env);
}

/* names[0..n) are non-empty and distinct; the messages name the owner ("site 'web'") and what the
 * names are. */
static int names_unique_check(const char *owner_kind, const char *owner, const char *what, char **names, size_t n,
                              struct cg_err *err)
{
    if (n && !names) return cg_err_set(err, CG_EINVAL, "%s '%s': %s count given without names", owner_kind, owner, what);
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || !*names[i]) return cg_err_set(err, CG_EINVAL, "%s '%s' names an empty %s", owner_kind, owner, what);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(names[i], names[j])) {
                cg_err_set(err, CG_EINVAL, "%s '%s' names %s '%s' twice", owner_kind, owner, what, names[i]);
                return cg_err_hint_code(err, CG_EINVAL, "give each %s once", what);
            }
    }
    return 0;
}

static int upstream_check(const struct cg_store_upstream *u, struct cg_err *err)
{
    if (!u) return cg_err_set(err, CG_EINVAL, "no upstream given");
    CG_GUARD(arg_check("upstream name", u->name, err));
    if (!u->url || !*u->url) return cg_err_set(err, CG_EINVAL, "upstream '%s' has no URL", u->name);
    if (u->server_name && !*u->server_name)
        return cg_err_set(err, CG_EINVAL, "upstream '%s' has an empty server name (NULL means the URL's host)",
                          u->name);
    if (u->spki_sha256 && !*u->spki_sha256)
        return cg_err_set(err, CG_EINVAL, "upstream '%s' has an empty SPKI pin (NULL means no pin)", u->name);
    return names_unique_check("upstream", u->name, "CA", u->cas, u->n_cas, err);
}

/* ca must be a `ca` certificate of env: what an upstream trusts, and what sites and profiles
 * verify clients with. The message names the owner ("upstream 'api'") and what it does with the
 * CA (third person "trusts", infinitive "trust"). */
static int ca_ref_check(struct cg_store_sqlite *s, const char *env, const char *owner_kind, const char *owner,
                        const char *does, const char *to_do, const char *ca, struct cg_err *err)
{
    int kind = -1;
    int found = cert_kind_get(s, env, ca, &kind, err);
    CG_GUARD(found);
    if (!found) {
        cg_err_set(err, CG_ENOTFOUND, "%s '%s' %s CA '%s', but there is no CA bundle of that name in environment '%s'",
                   owner_kind, owner, does, ca, env);
        return cg_err_hint_code(err, CG_ENOTFOUND, "add it first with: certgate ca add %s FILE --env %s (certgate "
                                                   "ca list shows the CA bundles)",
                                ca, env);
    }
    if (kind != CG_STORE_CA) {
        cg_err_set(err, CG_EINVAL, "%s '%s' cannot %s '%s': it is a %s certificate, not a CA bundle, and a%s %s %s CA "
                                   "bundles only",
                   owner_kind, owner, to_do, ca, kind_name(kind), owner_kind[0] == 'u' ? "n" : "", owner_kind, does);
        return cg_err_hint_code(err, CG_EINVAL, "name a CA bundle (certgate ca list shows them), or add the CA "
                                                "with: certgate ca add NAME FILE");
    }
    return 0;
}

/* Every CA u trusts must be a `ca` certificate of env. */
static int upstream_cas_check(struct cg_store_sqlite *s, const char *env, const struct cg_store_upstream *u,
                              struct cg_err *err)
{
    for (size_t i = 0; i < u->n_cas; i++)
        CG_GUARD(ca_ref_check(s, env, "upstream", u->name, "trusts", "trust", u->cas[i], err));
    return 0;
}

/* 1 when env has an upstream called name, 0 when not. */
static int upstream_exists(struct cg_store_sqlite *s, const char *env, const char *name, struct cg_err *err)
{
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err, "SELECT 1 FROM upstreams WHERE env = ? AND name = ?", "tt", env, name));
    return step(s, q, err);
}

static int upstream_put_tx(struct cg_store_sqlite *s, const char *env, const struct cg_store_upstream *u,
                           bool replace, struct cg_err *err)
{
    int64_t now = (int64_t)time(NULL);
    int found = upstream_exists(s, env, u->name, err);
    CG_GUARD(found);
    if (found && !replace) {
        cg_err_set(err, CG_EEXISTS, "an upstream named '%s' already exists in environment '%s'", u->name, env);
        return cg_err_hint_code(err, CG_EEXISTS, "choose another name, replace it with --replace, or change it with: "
                                                 "certgate upstream set %s ...",
                                u->name);
    }
    /* Applications name an upstream in a Host field, which ignores case (RFC 9110 section 4.2.3):
     * two names that differ only in case would be one upstream to them. */
    {
        CG_STMT q = NULL;
        CG_GUARD(query(s, &q, err, "SELECT name FROM upstreams WHERE env = ? AND name = ? COLLATE NOCASE AND name <> ?",
                       "ttt", env, u->name, u->name));
        int rc = step(s, q, err);
        CG_GUARD(rc);
        if (rc == 1) {
            const unsigned char *other = sqlite3_column_text(q, 0);
            cg_err_set(err, CG_EEXISTS,
                       "an upstream named '%s' already exists in environment '%s', and upstream names ignore case "
                       "(applications name them in the Host field)",
                       other ? (const char *)other : "?", env);
            return cg_err_hint_code(err, CG_EEXISTS, "choose another name, or change that one with: certgate "
                                                     "upstream set %s ...",
                                    other ? (const char *)other : "NAME");
        }
    }
    CG_GUARD(upstream_cas_check(s, env, u, err));
    if (found) {
        /* UPDATE in place: created_at is kept; the CA list is written anew below. */
        CG_GUARD(run(s, err,
                     "UPDATE upstreams SET url = ?, server_name = ?, spki_sha256 = ?, connect_timeout_ms = ?, "
                     "timeout_ms = ?, updated_at = ? WHERE env = ? AND name = ?",
                     "tttiiitt", u->url, u->server_name, u->spki_sha256, (int64_t)u->connect_timeout_ms,
                     (int64_t)u->timeout_ms, now, env, u->name));
        CG_GUARD(run(s, err, "DELETE FROM upstream_cas WHERE env = ? AND upstream = ?", "tt", env, u->name));
    } else {
        CG_GUARD(run(s, err,
                     "INSERT INTO upstreams (env, name, url, server_name, spki_sha256, connect_timeout_ms, "
                     "timeout_ms, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     "tttttiiii", env, u->name, u->url, u->server_name, u->spki_sha256,
                     (int64_t)u->connect_timeout_ms, (int64_t)u->timeout_ms, now, now));
    }
    for (size_t i = 0; i < u->n_cas; i++)
        CG_GUARD(run(s, err, "INSERT INTO upstream_cas (env, upstream, ca_name, position) VALUES (?, ?, ?, ?)",
                     "ttti", env, u->name, u->cas[i], (int64_t)i));
    return revision_bump(s, env, err);
}

static int sqlite_upstream_put(struct cg_store *st, const char *env, const struct cg_store_upstream *u,
                               bool replace, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(upstream_check(u, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot store upstream '%s' in environment '%s'", u->name, env));
    int rc = op_end(s, &op, upstream_put_tx(s, env, u, replace, err), err);
    return ctx(rc, err, "cannot store upstream '%s' in environment '%s'", u->name, env);
}

#define CG_UPSTREAM_COLUMNS "name, url, server_name, spki_sha256, connect_timeout_ms, timeout_ms"

static uint32_t col_u32(sqlite3_stmt *q, int i)
{
    sqlite3_int64 v = sqlite3_column_int64(q, i);
    return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* Fills u from a row of CG_UPSTREAM_COLUMNS, then reads its CA list; on failure u holds what was
 * read (cleanup frees it). CG_ENOMEM or CG_ESTORE. */
static int upstream_row_read(struct cg_store_sqlite *s, const char *env, sqlite3_stmt *q, void *item,
                             struct cg_err *err)
{
    struct cg_store_upstream *u = item;
    CG_GUARD(col_text(q, 0, &u->name));
    CG_GUARD(col_text(q, 1, &u->url));
    CG_GUARD(col_text(q, 2, &u->server_name));
    CG_GUARD(col_text(q, 3, &u->spki_sha256));
    u->connect_timeout_ms = col_u32(q, 4);
    u->timeout_ms = col_u32(q, 5);
    /* NOT NULL columns; kept non-NULL for the caller even if the file was edited by hand. */
    if (!u->name) u->name = cg_strdup("");
    if (!u->url) u->url = cg_strdup("");
    if (!u->name || !u->url) return CG_ENOMEM;
    CG_STMT c = NULL;
    CG_GUARD(query(s, &c, err, "SELECT ca_name FROM upstream_cas WHERE env = ? AND upstream = ? ORDER BY position",
                   "tt", env, u->name));
    return texts_read(s, c, &u->cas, &u->n_cas, err);
}

static void upstream_item_cleanup(void *item) { cg_store_upstream_cleanup(item); }

static const struct named_kind upstream_kind = {
    .what = "upstream",
    .plural = "upstreams",
    .get_sql = "SELECT " CG_UPSTREAM_COLUMNS " FROM upstreams WHERE env = ? AND name = ?",
    .list_sql = "SELECT " CG_UPSTREAM_COLUMNS " FROM upstreams WHERE env = ? ORDER BY name",
    .size = sizeof(struct cg_store_upstream),
    .read = upstream_row_read,
    .table = "upstreams",
    .cleanup = upstream_item_cleanup,
    .not_found = upstream_not_found,
};

static int sqlite_upstream_get(struct cg_store *st, const char *env, const char *name, struct cg_store_upstream *out,
                               struct cg_err *err)
{
    return named_get(sq(st), &upstream_kind, env, name, out, err);
}

static int sqlite_upstream_list(struct cg_store *st, const char *env, struct cg_store_upstream_list *out,
                                struct cg_err *err)
{
    return named_list(sq(st), &upstream_kind, env, &out->items, &out->n, err);
}

static int sqlite_upstream_delete(struct cg_store *st, const char *env, const char *name, struct cg_err *err)
{
    return named_delete(sq(st), &upstream_kind, env, name, NULL, err);
}

/* ---- sites --------------------------------------------------------------------------------- */

static int site_not_found(const char *env, const char *name, struct cg_err *err)
{
    cg_err_set(err, CG_ENOTFOUND, "no site named '%s' in environment '%s'", name, env);
    return cg_err_hint_code(err, CG_ENOTFOUND, "see the sites with: certgate site list --env %s", env);
}

/* Every host of site once: its domains and its mTLS domain. */
static int site_hosts_check(const struct cg_store_site *site, struct cg_err *err)
{
    size_t n = site->n_domains + (site->mtls_domain.host ? 1 : 0);
    for (size_t i = 0; i < n; i++) {
        const struct cg_store_site_domain *d = i < site->n_domains ? &site->domains[i] : &site->mtls_domain;
        if (!d->host || !*d->host) return cg_err_set(err, CG_EINVAL, "site '%s' has an empty domain", site->name);
        if (d->cert_name && !*d->cert_name)
            return cg_err_set(err, CG_EINVAL, "site '%s': domain '%s' names an empty certificate (NULL means "
                                              "automatic)",
                              site->name, d->host);
        for (size_t j = 0; j < i; j++) {
            const struct cg_store_site_domain *o = j < site->n_domains ? &site->domains[j] : &site->mtls_domain;
            if (strcmp(o->host, d->host) != 0) continue;
            cg_err_set(err, CG_EINVAL, "site '%s' names host '%s' twice%s", site->name, d->host,
                       i >= site->n_domains ? " (as a domain and as its mTLS domain)" : "");
            return cg_err_hint_code(err, CG_EINVAL, "give each host once; the mTLS domain is a host of its own");
        }
    }
    return 0;
}

static int site_check(const struct cg_store_site *site, struct cg_err *err)
{
    if (!site) return cg_err_set(err, CG_EINVAL, "no site given");
    CG_GUARD(arg_check("site name", site->name, err));
    if (!site->backend || !*site->backend) return cg_err_set(err, CG_EINVAL, "site '%s' has no backend", site->name);
    if (site->mtls < CG_STORE_MTLS_OFF || site->mtls > CG_STORE_MTLS_REQUIRED)
        return cg_err_set(err, CG_EINVAL, "site '%s' has an unknown mTLS mode (%d)", site->name, site->mtls);
    if (site->n_domains && !site->domains)
        return cg_err_set(err, CG_EINVAL, "site '%s': domain count given without domains", site->name);
    if (!site->mtls_domain.host && site->mtls_domain.cert_name)
        return cg_err_set(err, CG_EINVAL, "site '%s' names a certificate for an mTLS domain it does not have",
                          site->name);
    CG_GUARD(site_hosts_check(site, err));
    return names_unique_check("site", site->name, "client CA", site->client_cas, site->n_client_cas, err);
}

/* The certificate a domain presents must be a server certificate of env. */
static int server_ref_check(struct cg_store_sqlite *s, const char *env, const char *site, const char *host,
                            const char *cert, struct cg_err *err)
{
    int kind = -1;
    int found = cert_kind_get(s, env, cert, &kind, err);
    CG_GUARD(found);
    if (!found) {
        cg_err_set(err, CG_ENOTFOUND, "site '%s': domain '%s' presents certificate '%s', but there is no certificate of "
                                      "that name in environment '%s'",
                   site, host, cert, env);
        return cg_err_hint_code(err, CG_ENOTFOUND, "add it first with: certgate cert add %s FILE --kind server --env %s",
                                cert, env);
    }
    if (kind != CG_STORE_SERVER) {
        cg_err_set(err, CG_EINVAL, "site '%s': domain '%s' cannot present '%s': it is a %s certificate, and a domain "
                                   "presents a server certificate",
                   site, host, cert, kind_name(kind));
        return cg_err_hint_code(err, CG_EINVAL, "import the certificate with --kind server (certgate cert add NAME FILE "
                                                "--kind server), or name a server certificate");
    }
    return 0;
}

/* A host belongs to one site of the environment: 0 when host is free or site's own. */
static int host_free_check(struct cg_store_sqlite *s, const char *env, const char *site, const char *host,
                           struct cg_err *err)
{
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err, "SELECT site FROM site_domains WHERE env = ? AND host = ? AND site <> ?", "ttt", env,
                   host, site));
    int rc = step(s, q, err);
    if (rc <= 0) return rc;
    const unsigned char *other = sqlite3_column_text(q, 0);
    cg_err_set(err, CG_EEXISTS, "host '%s' already belongs to site '%s' in environment '%s'; a host belongs to one site",
               host, other ? (const char *)other : "?", env);
    return cg_err_hint_code(err, CG_EEXISTS, "remove it from site '%s' first (certgate site set %s --domain ...), or "
                                             "choose another host",
                            other ? (const char *)other : "?", other ? (const char *)other : "SITE");
}

static int site_refs_check(struct cg_store_sqlite *s, const char *env, const struct cg_store_site *site,
                           struct cg_err *err)
{
    size_t n = site->n_domains + (site->mtls_domain.host ? 1 : 0);
    for (size_t i = 0; i < n; i++) {
        const struct cg_store_site_domain *d = i < site->n_domains ? &site->domains[i] : &site->mtls_domain;
        if (d->cert_name) CG_GUARD(server_ref_check(s, env, site->name, d->host, d->cert_name, err));
        CG_GUARD(host_free_check(s, env, site->name, d->host, err));
    }
    for (size_t i = 0; i < site->n_client_cas; i++)
        CG_GUARD(ca_ref_check(s, env, "site", site->name, "verifies clients with", "verify clients with",
                              site->client_cas[i], err));
    return 0;
}

/* 1 when env has a row called name in table (a constant), 0 when not. */
static int named_exists(struct cg_store_sqlite *s, const char *table, const char *env, const char *name,
                        struct cg_err *err)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE env = ? AND name = ?", table);
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err, sql, "tt", env, name));
    return step(s, q, err);
}

static int site_children_write(struct cg_store_sqlite *s, const char *env, const struct cg_store_site *site,
                               struct cg_err *err)
{
    for (size_t i = 0; i < site->n_domains; i++)
        CG_GUARD(run(s, err, "INSERT INTO site_domains (env, host, site, cert_name, is_mtls) VALUES (?, ?, ?, ?, 0)",
                     "tttt", env, site->domains[i].host, site->name, site->domains[i].cert_name));
    if (site->mtls_domain.host)
        CG_GUARD(run(s, err, "INSERT INTO site_domains (env, host, site, cert_name, is_mtls) VALUES (?, ?, ?, ?, 1)",
                     "tttt", env, site->mtls_domain.host, site->name, site->mtls_domain.cert_name));
    for (size_t i = 0; i < site->n_client_cas; i++)
        CG_GUARD(run(s, err, "INSERT INTO site_cas (env, site, ca_name, position) VALUES (?, ?, ?, ?)", "ttti", env,
                     site->name, site->client_cas[i], (int64_t)i));
    return 0;
}

static int site_put_tx(struct cg_store_sqlite *s, const char *env, const struct cg_store_site *site, bool replace,
                       struct cg_err *err)
{
    int64_t now = (int64_t)time(NULL);
    int found = named_exists(s, "sites", env, site->name, err);
    CG_GUARD(found);
    if (found && !replace) {
        cg_err_set(err, CG_EEXISTS, "a site named '%s' already exists in environment '%s'", site->name, env);
        return cg_err_hint_code(err, CG_EEXISTS, "choose another name, or change it with: certgate site set %s ...",
                                site->name);
    }
    CG_GUARD(site_refs_check(s, env, site, err));
    if (found) {
        /* UPDATE in place: created_at and the site's rules (which name the row) are kept; the
         * domains and client CAs are written anew below. */
        CG_GUARD(run(s, err, "UPDATE sites SET backend = ?, mtls = ?, updated_at = ? WHERE env = ? AND name = ?",
                     "tiitt", site->backend, (int64_t)site->mtls, now, env, site->name));
        CG_GUARD(run(s, err, "DELETE FROM site_domains WHERE env = ? AND site = ?", "tt", env, site->name));
        CG_GUARD(run(s, err, "DELETE FROM site_cas WHERE env = ? AND site = ?", "tt", env, site->name));
    } else {
        CG_GUARD(run(s, err,
                     "INSERT INTO sites (env, name, backend, mtls, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                     "tttiii", env, site->name, site->backend, (int64_t)site->mtls, now, now));
    }
    CG_GUARD(site_children_write(s, env, site, err));
    return revision_bump(s, env, err);
}

static int sqlite_site_put(struct cg_store *st, const char *env, const struct cg_store_site *site, bool replace,
                           struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(site_check(site, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot store site '%s' in environment '%s'", site->name, env));
    int rc = op_end(s, &op, site_put_tx(s, env, site, replace, err), err);
    return ctx(rc, err, "cannot store site '%s' in environment '%s'", site->name, env);
}

#define CG_SITE_COLUMNS "name, backend, mtls"

/* Fills site from a row of CG_SITE_COLUMNS, then reads its domains and client CAs; on failure
 * site holds what was read (cleanup frees it). CG_ENOMEM or CG_ESTORE. */
static int site_row_read(struct cg_store_sqlite *s, const char *env, sqlite3_stmt *q, void *item,
                         struct cg_err *err)
{
    struct cg_store_site *site = item;
    CG_GUARD(col_text(q, 0, &site->name));
    CG_GUARD(col_text(q, 1, &site->backend));
    site->mtls = sqlite3_column_int(q, 2);
    if (!site->name) site->name = cg_strdup("");
    if (!site->backend) site->backend = cg_strdup("");
    if (!site->name || !site->backend) return CG_ENOMEM;
    CG_STMT d = NULL;
    CG_GUARD(query(s, &d, err,
                   "SELECT host, cert_name, is_mtls FROM site_domains WHERE env = ? AND site = ? ORDER BY host", "tt",
                   env, site->name));
    size_t cap = 0;
    int rc;
    while ((rc = step(s, d, err)) == 1) {
        struct cg_store_site_domain *dom = &site->mtls_domain;
        if (!sqlite3_column_int(d, 2)) {
            if (cg_array_reserve(&site->domains, &cap, site->n_domains + 1, sizeof(*site->domains)) < 0)
                return CG_ENOMEM;
            dom = &site->domains[site->n_domains++];
            memset(dom, 0, sizeof(*dom));
        }
        CG_GUARD(col_text(d, 0, &dom->host));
        CG_GUARD(col_text(d, 1, &dom->cert_name));
        if (!dom->host && !(dom->host = cg_strdup(""))) return CG_ENOMEM;
    }
    CG_GUARD(rc);
    CG_STMT c = NULL;
    CG_GUARD(query(s, &c, err, "SELECT ca_name FROM site_cas WHERE env = ? AND site = ? ORDER BY position", "tt", env,
                   site->name));
    return texts_read(s, c, &site->client_cas, &site->n_client_cas, err);
}

static void site_item_cleanup(void *item) { cg_store_site_cleanup(item); }

static const struct named_kind site_kind = {
    .what = "site",
    .plural = "sites",
    .get_sql = "SELECT " CG_SITE_COLUMNS " FROM sites WHERE env = ? AND name = ?",
    .list_sql = "SELECT " CG_SITE_COLUMNS " FROM sites WHERE env = ? ORDER BY name",
    .size = sizeof(struct cg_store_site),
    .read = site_row_read,
    .table = "sites",
    .cleanup = site_item_cleanup,
    .not_found = site_not_found,
};

static int sqlite_site_get(struct cg_store *st, const char *env, const char *name, struct cg_store_site *out,
                           struct cg_err *err)
{
    return named_get(sq(st), &site_kind, env, name, out, err);
}

static int sqlite_site_list(struct cg_store *st, const char *env, struct cg_store_site_list *out,
                            struct cg_err *err)
{
    return named_list(sq(st), &site_kind, env, &out->items, &out->n, err);
}


static int sqlite_site_delete(struct cg_store *st, const char *env, const char *name, struct cg_err *err)
{
    return named_delete(sq(st), &site_kind, env, name, NULL, err);
}

/* ---- access profiles ----------------------------------------------------------------------- */

static bool is_preset(const char *name)
{
    return !strcmp(name, CG_STORE_PROFILE_ALLOW_ALL) || !strcmp(name, CG_STORE_PROFILE_DENY_ALL);
}

static int profile_not_found(const char *env, const char *name, struct cg_err *err)
{
    cg_err_set(err, CG_ENOTFOUND, "no profile named '%s' in environment '%s'", name, env);
    return cg_err_hint_code(err, CG_ENOTFOUND, "see the profiles with: certgate profile list --env %s (or use a preset: "
                                               "allow-all, deny-all)",
                            env);
}

static bool fingerprint_valid(const char *fp)
{
    size_t i = 0;
    for (; fp[i]; i++)
        if (!((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f'))) return false;
    return i == 64;
}

static int profile_check(const struct cg_store_profile *p, struct cg_err *err)
{
    if (!p) return cg_err_set(err, CG_EINVAL, "no profile given");
    CG_GUARD(arg_check("profile name", p->name, err));
    if (is_preset(p->name)) {
        cg_err_set(err, CG_EINVAL, "'%s' is a preset, not a name a profile can take", p->name);
        return cg_err_hint_code(err, CG_EINVAL, "name rules '%s' directly (certgate site rule SITE PATH %s), or choose "
                                                "another profile name",
                                p->name, p->name);
    }
    CG_GUARD(names_unique_check("profile", p->name, "allowed range", p->allow_ips, p->n_allow_ips, err));
    CG_GUARD(names_unique_check("profile", p->name, "denied range", p->deny_ips, p->n_deny_ips, err));
    if (p->n_cas && !p->cas) return cg_err_set(err, CG_EINVAL, "profile '%s': CA count given without CAs", p->name);
    for (size_t i = 0; i < p->n_cas; i++) {
        const struct cg_store_profile_ca *c = &p->cas[i];
        if (!c->ca || !*c->ca) return cg_err_set(err, CG_EINVAL, "profile '%s' names an empty CA", p->name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->ca, p->cas[j].ca)) {
                cg_err_set(err, CG_EINVAL, "profile '%s' names client CA '%s' twice", p->name, c->ca);
                return cg_err_hint_code(err, CG_EINVAL, "give each CA once, with all its selected certificates: "
                                                        "CA@FP1,FP2");
            }
        CG_GUARD(names_unique_check("profile", p->name, "signer fingerprint", c->fingerprints, c->n_fingerprints, err));
        for (size_t j = 0; j < c->n_fingerprints; j++)
            if (!fingerprint_valid(c->fingerprints[j]))
                return cg_err_set(err, CG_EINVAL, "profile '%s': '%s' is not a SHA-256 fingerprint (64 lowercase hex "
                                                  "characters)",
                                  p->name, c->fingerprints[j]);
    }
    return 0;
}

static int profile_children_write(struct cg_store_sqlite *s, const char *env, const struct cg_store_profile *p,
                                  struct cg_err *err)
{
    static const char ip_sql[] = "INSERT INTO profile_ips (env, profile, deny, cidr, position) VALUES (?, ?, ?, ?, ?)";
    for (size_t i = 0; i < p->n_allow_ips; i++)
        CG_GUARD(run(s, err, ip_sql, "ttiti", env, p->name, (int64_t)0, p->allow_ips[i], (int64_t)i));
    for (size_t i = 0; i < p->n_deny_ips; i++)
        CG_GUARD(run(s, err, ip_sql, "ttiti", env, p->name, (int64_t)1, p->deny_ips[i], (int64_t)i));
    for (size_t i = 0; i < p->n_cas; i++) {
        const struct cg_store_profile_ca *c = &p->cas[i];
        CG_GUARD(run(s, err, "INSERT INTO profile_cas (env, profile, ca_name, position) VALUES (?, ?, ?, ?)", "ttti",
                     env, p->name, c->ca, (int64_t)i));
        for (size_t j = 0; j < c->n_fingerprints; j++)
            CG_GUARD(run(s, err,
                         "INSERT INTO profile_ca_signers (env, profile, ca_name, fingerprint, position) "
                         "VALUES (?, ?, ?, ?, ?)",
                         "tttti", env, p->name, c->ca, c->fingerprints[j], (int64_t)j));
    }
    return 0;
}

static int profile_put_tx(struct cg_store_sqlite *s, const char *env, const struct cg_store_profile *p, bool replace,
                          struct cg_err *err)
{
    int64_t now = (int64_t)time(NULL);
    int found = named_exists(s, "profiles", env, p->name, err);
    CG_GUARD(found);
    if (found && !replace) {
        cg_err_set(err, CG_EEXISTS, "a profile named '%s' already exists in environment '%s'", p->name, env);
        return cg_err_hint_code(err, CG_EEXISTS, "choose another name, or change it with: certgate profile set %s ...",
                                p->name);
    }
    for (size_t i = 0; i < p->n_cas; i++)
        CG_GUARD(ca_ref_check(s, env, "profile", p->name, "trusts", "trust", p->cas[i].ca, err));
    if (found) {
        /* UPDATE in place: the rules that name it stay valid; its lists are written anew */
        CG_GUARD(run(s, err, "UPDATE profiles SET updated_at = ? WHERE env = ? AND name = ?", "itt", now, env, p->name));
        CG_GUARD(run(s, err, "DELETE FROM profile_ips WHERE env = ? AND profile = ?", "tt", env, p->name));
        CG_GUARD(run(s, err, "DELETE FROM profile_cas WHERE env = ? AND profile = ?", "tt", env, p->name));
    } else {
        CG_GUARD(run(s, err, "INSERT INTO profiles (env, name, created_at, updated_at) VALUES (?, ?, ?, ?)", "ttii", env,
                     p->name, now, now));
    }
    CG_GUARD(profile_children_write(s, env, p, err));
    return revision_bump(s, env, err);
}

static int sqlite_profile_put(struct cg_store *st, const char *env, const struct cg_store_profile *p, bool replace,
                              struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(profile_check(p, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot store profile '%s' in environment '%s'", p->name, env));
    int rc = op_end(s, &op, profile_put_tx(s, env, p, replace, err), err);
    return ctx(rc, err, "cannot store profile '%s' in environment '%s'", p->name, env);
}

/* The ranges of p (deny 0: allowed, 1: denied), in the order given. */
static int profile_ips_read(struct cg_store_sqlite *s, const char *env, struct cg_store_profile *p, int deny,
                            struct cg_err *err)
{
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err,
                   "SELECT cidr FROM profile_ips WHERE env = ? AND profile = ? AND deny = ? ORDER BY position", "tti",
                   env, p->name, (int64_t)deny));
    return deny ? texts_read(s, q, &p->deny_ips, &p->n_deny_ips, err)
                : texts_read(s, q, &p->allow_ips, &p->n_allow_ips, err);
}

static int profile_cas_read(struct cg_store_sqlite *s, const char *env, struct cg_store_profile *p, struct cg_err *err)
{
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err, "SELECT ca_name FROM profile_cas WHERE env = ? AND profile = ? ORDER BY position", "tt",
                   env, p->name));
    size_t cap = 0;
    int rc;
    while ((rc = step(s, q, err)) == 1) {
        if (cg_array_reserve(&p->cas, &cap, p->n_cas + 1, sizeof(*p->cas)) < 0) return CG_ENOMEM;
        struct cg_store_profile_ca *c = &p->cas[p->n_cas++];
        memset(c, 0, sizeof(*c));
        CG_GUARD(col_text(q, 0, &c->ca));
        if (!c->ca && !(c->ca = cg_strdup(""))) return CG_ENOMEM;
        CG_STMT f = NULL;
        CG_GUARD(query(s, &f, err,
                       "SELECT fingerprint FROM profile_ca_signers WHERE env = ? AND profile = ? AND ca_name = ? "
                       "ORDER BY position",
                       "ttt", env, p->name, c->ca));
        CG_GUARD(texts_read(s, f, &c->fingerprints, &c->n_fingerprints, err));
    }
    return rc;
}

static int profile_row_read(struct cg_store_sqlite *s, const char *env, sqlite3_stmt *q, void *item,
                            struct cg_err *err)
{
    struct cg_store_profile *p = item;
    CG_GUARD(col_text(q, 0, &p->name));
    if (!p->name && !(p->name = cg_strdup(""))) return CG_ENOMEM;
    CG_GUARD(profile_ips_read(s, env, p, 0, err));
    CG_GUARD(profile_ips_read(s, env, p, 1, err));
    return profile_cas_read(s, env, p, err);
}

static void profile_item_cleanup(void *item) { cg_store_profile_cleanup(item); }

static const struct named_kind profile_kind = {
    .what = "profile",
    .plural = "profiles",
    .get_sql = "SELECT name FROM profiles WHERE env = ? AND name = ?",
    .list_sql = "SELECT name FROM profiles WHERE env = ? ORDER BY name",
    .size = sizeof(struct cg_store_profile),
    .read = profile_row_read,
    .table = "profiles",
    .cleanup = profile_item_cleanup,
    .not_found = profile_not_found,
};

static int sqlite_profile_get(struct cg_store *st, const char *env, const char *name, struct cg_store_profile *out,
                              struct cg_err *err)
{
    return named_get(sq(st), &profile_kind, env, name, out, err);
}

static int sqlite_profile_list(struct cg_store *st, const char *env, struct cg_store_profile_list *out,
                               struct cg_err *err)
{
    return named_list(sq(st), &profile_kind, env, &out->items, &out->n, err);
}

/* CG_EINUSE naming up to CG_INUSE_LIST_MAX rules (site and path) that name profile. */
static int profile_in_use_refuse(struct cg_store_sqlite *s, const char *env, const char *name, struct cg_err *err)
{
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err,
                   "SELECT 'site ''' || site || ''' path ''' || path || '''' FROM rules WHERE env = ? AND profile = ? "
                   "ORDER BY site, path",
                   "tt", env, name));
    struct cg_buf list;
    cg_buf_init(&list, CG_ERR_MSG_MAX);
    size_t n = 0;
    int rc;
    while ((rc = step(s, q, err)) == 1) {
        const unsigned char *t = sqlite3_column_text(q, 0);
        if (n < CG_INUSE_LIST_MAX && cg_buf_printf(&list, "%s%s", n ? ", " : "", t ? (const char *)t : "?") < 0) {
            /* out of memory: the list is only cut short, the refusal stands */
        }
        n++;
    }
    if (rc == 0 && n > CG_INUSE_LIST_MAX && cg_buf_printf(&list, " and %zu more", n - CG_INUSE_LIST_MAX) < 0) {
        /* cut short, as above */
    }
    if (rc == 0 && n > 0) {
        cg_err_set(err, CG_EINUSE, "cannot delete profile '%s' of environment '%s': %zu rule%s use%s it: %s", name, env,
                   n, n == 1 ? "" : "s", n == 1 ? "s" : "", cg_buf_str(&list));
        rc = cg_err_hint_code(err, CG_EINUSE, "point those rules at another profile (certgate site rule SITE PATH "
                                              "OTHER) or remove them (certgate site rule rm SITE PATH) first");
    }
    cg_buf_cleanup(&list);
    return rc;
}

static int profile_delete_tx(struct cg_store_sqlite *s, const char *env, const char *name, struct cg_err *err)
{
    int found = named_exists(s, "profiles", env, name, err);
    CG_GUARD(found);
    if (!found) return profile_not_found(env, name, err);
    CG_GUARD(profile_in_use_refuse(s, env, name, err));
    /* its ranges, CAs and signers go with it (ON DELETE CASCADE) */
    CG_GUARD(run(s, err, "DELETE FROM profiles WHERE env = ? AND name = ?", "tt", env, name));
    return revision_bump(s, env, err);
}

static int sqlite_profile_delete(struct cg_store *st, const char *env, const char *name, struct cg_err *err)
{
    return named_delete(sq(st), &profile_kind, env, name, profile_delete_tx, err);
}

/* ---- path rules ---------------------------------------------------------------------------- */

static int rule_check(const struct cg_store_rule *r, struct cg_err *err)
{
    if (!r) return cg_err_set(err, CG_EINVAL, "no rule given");
    CG_GUARD(arg_check("site name", r->site, err));
    CG_GUARD(arg_check("rule path", r->path, err));
    CG_GUARD(arg_check("profile name", r->profile, err));
    if (r->path[0] != '/') {
        cg_err_set(err, CG_EINVAL, "rule path '%s' of site '%s' does not start with '/'", r->path, r->site);
        return cg_err_hint_code(err, CG_EINVAL, "write the path prefix as requests carry it: / covers the whole site");
    }
    return 0;
}

static int rule_put_tx(struct cg_store_sqlite *s, const char *env, const struct cg_store_rule *r, struct cg_err *err)
{
    int found = named_exists(s, "sites", env, r->site, err);
    CG_GUARD(found);
    if (!found) return site_not_found(env, r->site, err);
    bool preset = is_preset(r->profile);
    if (!preset) {
        found = named_exists(s, "profiles", env, r->profile, err);
        CG_GUARD(found);
        if (!found) {
            cg_err_set(err, CG_ENOTFOUND, "rule '%s' of site '%s' names profile '%s', but there is no profile of that "
                                          "name in environment '%s'",
                       r->path, r->site, r->profile, env);
            return cg_err_hint_code(err, CG_ENOTFOUND, "add it first (certgate profile add %s ...), or name a preset: "
                                                       "allow-all, deny-all",
                                    r->profile);
        }
    }
    CG_GUARD(run(s, err,
                 "INSERT INTO rules (env, site, path, profile, preset) VALUES (?, ?, ?, ?, ?) "
                 "ON CONFLICT (env, site, path) DO UPDATE SET profile = excluded.profile, preset = excluded.preset",
                 "ttttt", env, r->site, r->path, preset ? NULL : r->profile, preset ? r->profile : NULL));
    return revision_bump(s, env, err);
}

static int sqlite_rule_put(struct cg_store *st, const char *env, const struct cg_store_rule *r, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(rule_check(r, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot store rule '%s' of site '%s' in environment '%s'", r->path,
                 r->site, env));
    int rc = op_end(s, &op, rule_put_tx(s, env, r, err), err);
    return ctx(rc, err, "cannot store rule '%s' of site '%s' in environment '%s'", r->path, r->site, env);
}

static int rule_delete_tx(struct cg_store_sqlite *s, const char *env, const char *site, const char *path,
                          struct cg_err *err)
{
    CG_GUARD(run(s, err, "DELETE FROM rules WHERE env = ? AND site = ? AND path = ?", "ttt", env, site, path));
    if (sqlite3_changes(s->db) > 0) return revision_bump(s, env, err);
    int found = named_exists(s, "sites", env, site, err);
    CG_GUARD(found);
    if (!found) return site_not_found(env, site, err);
    cg_err_set(err, CG_ENOTFOUND, "site '%s' has no rule for path '%s' in environment '%s'", site, path, env);
    return cg_err_hint_code(err, CG_ENOTFOUND, "see its rules with: certgate site show %s --env %s", site, env);
}

static int sqlite_rule_delete(struct cg_store *st, const char *env, const char *site, const char *path,
                              struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(arg_check("site name", site, err));
    CG_GUARD(arg_check("rule path", path, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot remove rule '%s' of site '%s' in environment '%s'", path, site,
                 env));
    int rc = op_end(s, &op, rule_delete_tx(s, env, site, path, err), err);
    return ctx(rc, err, "cannot remove rule '%s' of site '%s' in environment '%s'", path, site, env);
}

static int rule_row_cb(struct cg_store_sqlite *s, const char *env, sqlite3_stmt *q, void *item, struct cg_err *err)
{
    CG_UNUSED(s);
    CG_UNUSED(env);
    CG_UNUSED(err);
    struct cg_store_rule *r = item;
    CG_GUARD(col_text(q, 0, &r->site));
    CG_GUARD(col_text(q, 1, &r->path));
    CG_GUARD(col_text(q, 2, &r->profile));
    if (!r->site && !(r->site = cg_strdup(""))) return CG_ENOMEM;
    if (!r->path && !(r->path = cg_strdup(""))) return CG_ENOMEM;
    if (!r->profile && !(r->profile = cg_strdup(CG_STORE_PROFILE_DENY_ALL))) return CG_ENOMEM; /* fail closed */
    return 0;
}

static int sqlite_rule_list(struct cg_store *st, const char *env, const char *site, struct cg_store_rule_list *out,
                            struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    out->items = NULL;
    out->n = 0;
    CG_GUARD(arg_check("environment", env, err));
    CG_STMT q = NULL;
    int rc = site ? query(s, &q, err,
                          "SELECT site, path, COALESCE(profile, preset) FROM rules WHERE env = ? AND site = ? "
                          "ORDER BY site, path",
                          "tt", env, site)
                  : query(s, &q, err,
                          "SELECT site, path, COALESCE(profile, preset) FROM rules WHERE env = ? ORDER BY site, path",
                          "t", env);
    rc = rows_collect(s, env, q, rc, &out->items, &out->n, sizeof(*out->items), rule_row_cb, "listing rules", err);
    if (rc < 0) {
        cg_store_rule_list_cleanup(out);
        return ctx(rc, err, "cannot list the rules of environment '%s'", env);
    }
    return 0;
}

/* ---- admin API tokens ---------------------------------------------------------------------- */

/* Tokens are not configuration a daemon loads: nothing here bumps the revision. */

static int token_not_found(const char *env, const char *name, struct cg_err *err)
{
    cg_err_set(err, CG_ENOTFOUND, "no token named '%s' in environment '%s'", name, env);
    return cg_err_hint_code(err, CG_ENOTFOUND, "see the tokens with: certgate token list --env %s", env);
}

static int token_check(const struct cg_store_token *t, struct cg_err *err)
{
    if (!t) return cg_err_set(err, CG_EINVAL, "no token given");
    CG_GUARD(arg_check("token name", t->name, err));
    if (!t->role || !*t->role) return cg_err_set(err, CG_EINVAL, "token '%s' has no role", t->name);
    if (!fingerprint_valid(t->hash)) /* the same shape: 64 lowercase hex */
        return cg_err_set(err, CG_EINVAL, "token '%s': its hash is not a SHA-256 in lowercase hex", t->name);
    if (t->expires_at < 0)
        return cg_err_set(err, CG_EINVAL, "token '%s' has a negative expiry time", t->name);
    return 0;
}

static int token_put_tx(struct cg_store_sqlite *s, const char *env, const struct cg_store_token *t,
                        struct cg_err *err)
{
    int found = named_exists(s, "tokens", env, t->name, err);
    CG_GUARD(found);
    if (found) {
        cg_err_set(err, CG_EEXISTS, "a token named '%s' already exists in environment '%s'", t->name, env);
        return cg_err_hint_code(err, CG_EEXISTS, "choose another name, or remove that one first with: certgate "
                                                 "token rm %s --env %s",
                                t->name, env);
    }
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err, "SELECT 1 FROM tokens WHERE hash = ?", "t", t->hash));
    found = step(s, q, err);
    CG_GUARD(found);
    if (found) {
        /* Only a reused secret gets here (32 random bytes do not collide): never store two. */
        cg_err_set(err, CG_EEXISTS, "token '%s': another token already has this secret", t->name);
        return cg_err_hint_code(err, CG_EEXISTS, "make a new secret for it (certgate token add makes one)");
    }
    return run(s, err,
               "INSERT INTO tokens (env, name, role, hash, created_at, expires_at, last_used_at) "
               "VALUES (?, ?, ?, ?, ?, ?, 0)",
               "ttttii", env, t->name, t->role, t->hash, (int64_t)time(NULL), t->expires_at);
}

static int sqlite_token_put(struct cg_store *st, const char *env, const struct cg_store_token *t,
                            struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(token_check(t, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot store token '%s' in environment '%s'", t->name, env));
    int rc = op_end(s, &op, token_put_tx(s, env, t, err), err);
    return ctx(rc, err, "cannot store token '%s' in environment '%s'", t->name, env);
}

#define CG_TOKEN_COLUMNS "name, role, hash, created_at, expires_at, last_used_at"

static int token_row_read(struct cg_store_sqlite *s, const char *env, sqlite3_stmt *q, void *item,
                          struct cg_err *err)
{
    CG_UNUSED(s);
    CG_UNUSED(env);
    CG_UNUSED(err);
    struct cg_store_token *t = item;
    CG_GUARD(col_text(q, 0, &t->name));
    CG_GUARD(col_text(q, 1, &t->role));
    const unsigned char *hash = sqlite3_column_text(q, 2);
    cg_strlcpy(t->hash, hash ? (const char *)hash : "", sizeof(t->hash));
    t->created_at = sqlite3_column_int64(q, 3);
    t->expires_at = sqlite3_column_int64(q, 4);
    t->last_used_at = sqlite3_column_int64(q, 5);
    /* NOT NULL columns; kept non-NULL for the caller even if the file was edited by hand. */
    if (!t->name && !(t->name = cg_strdup(""))) return CG_ENOMEM;
    if (!t->role && !(t->role = cg_strdup(""))) return CG_ENOMEM;
    return 0;
}

static void token_item_cleanup(void *item) { cg_store_token_cleanup(item); }

static const struct named_kind token_kind = {
    .what = "token",
    .plural = "tokens",
    .table = "tokens",
    .get_sql = "SELECT " CG_TOKEN_COLUMNS " FROM tokens WHERE env = ? AND name = ?",
    .list_sql = "SELECT " CG_TOKEN_COLUMNS " FROM tokens WHERE env = ? ORDER BY name",
    .size = sizeof(struct cg_store_token),
    .read = token_row_read,
    .cleanup = token_item_cleanup,
    .not_found = token_not_found,
};

static int sqlite_token_find(struct cg_store *st, const char *env, const char *hash, struct cg_store_token *out,
                             struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    memset(out, 0, sizeof(*out));
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(arg_check("token hash", hash, err));
    CG_STMT q = NULL;
    int rc = query(s, &q, err, "SELECT " CG_TOKEN_COLUMNS " FROM tokens WHERE env = ? AND hash = ?", "tt", env, hash);
    if (rc == 0) rc = step(s, q, err);
    if (rc == 0) {
        /* The message names neither the secret nor its hash: they are what the caller sent. */
        cg_err_set(err, CG_ENOTFOUND, "no token of environment '%s' has this secret", env);
        return cg_err_hint_code(err, CG_ENOTFOUND, "check the token (it may have been removed); an admin makes "
                                                   "one with: certgate token add NAME --role ROLE --env %s",
                                env);
    }
    if (rc == 1) {
        rc = token_row_read(s, env, q, out, err);
        if (rc == CG_ENOMEM) rc = oom(err, "reading a token");
    }
    if (rc < 0) cg_store_token_cleanup(out);
    return ctx(rc, err, "cannot look up a token of environment '%s'", env);
}

static int sqlite_token_get(struct cg_store *st, const char *env, const char *name, struct cg_store_token *out,
                            struct cg_err *err)
{
    return named_get(sq(st), &token_kind, env, name, out, err);
}

static int sqlite_token_list(struct cg_store *st, const char *env, struct cg_store_token_list *out,
                             struct cg_err *err)
{
    return named_list(sq(st), &token_kind, env, &out->items, &out->n, err);
}

static int token_delete_tx(struct cg_store_sqlite *s, const char *env, const char *name, struct cg_err *err)
{
    CG_GUARD(run(s, err, "DELETE FROM tokens WHERE env = ? AND name = ?", "tt", env, name));
    return sqlite3_changes(s->db) > 0 ? 0 : token_not_found(env, name, err);
}

static int sqlite_token_delete(struct cg_store *st, const char *env, const char *name, struct cg_err *err)
{
    return named_delete(sq(st), &token_kind, env, name, token_delete_tx, err);
}

static int sqlite_token_touch(struct cg_store *st, const char *env, const char *name, int64_t at, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(arg_check("token name", name, err));
    if (at < 0) return cg_err_set(err, CG_EINVAL, "token '%s': a use at a negative time", name);
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot record a use of token '%s' of environment '%s'", name, env));
    int rc = run(s, err, "UPDATE tokens SET last_used_at = ? WHERE env = ? AND name = ?", "itt", at, env, name);
    if (rc == 0 && sqlite3_changes(s->db) == 0) rc = token_not_found(env, name, err);
    rc = op_end(s, &op, rc, err);
    return ctx(rc, err, "cannot record a use of token '%s' of environment '%s'", name, env);
}

/* ---- the audit trail ----------------------------------------------------------------------- */

static int audit_text_check(const char *what, const char *v, size_t max, struct cg_err *err)
{
    CG_GUARD(arg_check(what, v, err));
    if (strlen(v) <= max) return 0;
    cg_err_set(err, CG_ELIMIT, "the audit record's %s is longer than %zu bytes", what, max);
    return cg_err_hint_code(err, CG_ELIMIT, "this is a bug of the caller: audit records name objects, they do not "
                                            "hold them");
}

static int audit_json_check(const char *what, const char *v, const char *object, struct cg_err *err)
{
    if (!v) return 0; /* NULL is stored as "null" */
    if (strlen(v) <= CG_STORE_AUDIT_JSON_MAX) return 0;
    cg_err_set(err, CG_ELIMIT, "the audit record of '%s': the object %s the change is larger than %d bytes", object,
               what, CG_STORE_AUDIT_JSON_MAX);
    return cg_err_hint_code(err, CG_ELIMIT, "make the object smaller; the change was not made");
}

static int audit_check(const struct cg_store_audit *a, struct cg_err *err)
{
    if (!a) return cg_err_set(err, CG_EINVAL, "no audit record given");
    CG_GUARD(audit_text_check("actor", a->actor, CG_STORE_AUDIT_TEXT_MAX, err));
    CG_GUARD(audit_text_check("action", a->action, CG_STORE_AUDIT_TEXT_MAX, err));
    CG_GUARD(audit_text_check("object", a->object, CG_STORE_AUDIT_TEXT_MAX, err));
    if (a->at_ms < 0) return cg_err_set(err, CG_EINVAL, "the audit record of '%s' has a negative time", a->object);
    CG_GUARD(audit_json_check("before", a->before_json, a->object, err));
    return audit_json_check("after", a->after_json, a->object, err);
}

/* before and after must be JSON: readers parse them back (certgate audit --json). */
static int audit_json_valid(struct cg_store_sqlite *s, const struct cg_store_audit *a, struct cg_err *err)
{
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err, "SELECT json_valid(?), json_valid(?)", "tt", a->before_json ? a->before_json : "null",
                   a->after_json ? a->after_json : "null"));
    int rc = step(s, q, err);
    CG_GUARD(rc);
    for (int i = 0; i < 2; i++) {
        if (rc == 1 && sqlite3_column_int(q, i) == 1) continue;
        return cg_err_set(err, CG_EINVAL, "the audit record of '%s': the object %s the change is not valid JSON",
                          a->object, i == 0 ? "before" : "after");
    }
    return 0;
}

static int audit_put_tx(struct cg_store_sqlite *s, const char *env, const struct cg_store_audit *a,
                        struct cg_err *err)
{
    CG_GUARD(audit_json_valid(s, a, err));
    return run(s, err,
               "INSERT INTO audit (env, at_ms, actor, action, object, before_json, after_json) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)",
               "tittttt", env, a->at_ms, a->actor, a->action, a->object,
               a->before_json ? a->before_json : "null", a->after_json ? a->after_json : "null");
}

static int sqlite_audit_put(struct cg_store *st, const char *env, const struct cg_store_audit *a, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(audit_check(a, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot write the audit record of '%s' in environment '%s'", a->object,
                 env));
    int rc = op_end(s, &op, audit_put_tx(s, env, a, err), err);
    return ctx(rc, err, "cannot write the audit record of '%s' in environment '%s'", a->object, env);
}

static int audit_row_cb(struct cg_store_sqlite *s, const char *env, sqlite3_stmt *q, void *item, struct cg_err *err)
{
    CG_UNUSED(s);
    CG_UNUSED(env);
    CG_UNUSED(err);
    struct cg_store_audit *a = item;
    a->id = sqlite3_column_int64(q, 0);
    a->at_ms = sqlite3_column_int64(q, 1);
    char **texts[] = {&a->actor, &a->action, &a->object, &a->before_json, &a->after_json};
    for (size_t i = 0; i < CG_ARRAY_LEN(texts); i++) {
        CG_GUARD(col_text(q, 2 + (int)i, texts[i]));
        /* NOT NULL columns; kept non-NULL (and JSON) even if the file was edited by hand. */
        if (!*texts[i] && !(*texts[i] = cg_strdup(i >= 3 ? "null" : ""))) return CG_ENOMEM;
    }
    return 0;
}

static int sqlite_audit_list(struct cg_store *st, const char *env, int64_t before_id, size_t limit,
                             struct cg_store_audit_list *out, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    out->items = NULL;
    out->n = 0;
    CG_GUARD(arg_check("environment", env, err));
    if (before_id < 0) return cg_err_set(err, CG_EINVAL, "audit records before id %lld: ids are positive",
                                         (long long)before_id);
    if (limit > CG_STORE_AUDIT_LIST_MAX) limit = CG_STORE_AUDIT_LIST_MAX;
    CG_STMT q = NULL;
    int rc = query(s, &q, err,
                   "SELECT id, at_ms, actor, action, object, before_json, after_json FROM audit "
                   "WHERE env = ? AND (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?",
                   "tiii", env, before_id, before_id, (int64_t)limit);
    rc = rows_collect(s, env, q, rc, &out->items, &out->n, sizeof(*out->items), audit_row_cb, "reading the audit trail",
                      err);
    if (rc < 0) {
        cg_store_audit_list_cleanup(out);
        return ctx(rc, err, "cannot read the audit trail of environment '%s'", env);
    }
    return 0;
}

/* ---- webhooks ------------------------------------------------------------------------------ */

/* A webhook is configuration: its changes bump the revision (the daemon reloads it); its
 * problem is the dispatcher's note and does not. */

static int webhook_not_found(const char *env, const char *name, struct cg_err *err)
{
    cg_err_set(err, CG_ENOTFOUND, "no webhook named '%s' in environment '%s'", name, env);
    return cg_err_hint_code(err, CG_ENOTFOUND, "see the webhooks with: certgate webhook list --env %s", env);
}

static int webhook_check(const struct cg_store_webhook *w, struct cg_err *err)
{
    if (!w) return cg_err_set(err, CG_EINVAL, "no webhook given");
    CG_GUARD(arg_check("webhook name", w->name, err));
    if (!id_valid(w->id)) {
        cg_err_set(err, CG_EINVAL, "webhook '%s' has no valid record id (32 lowercase hex characters)", w->name);
        return cg_err_hint_code(err, CG_EINVAL, "make one with cg_store_new_id before storing the webhook");
    }
    if (!w->url || !*w->url) return cg_err_set(err, CG_EINVAL, "webhook '%s' has no URL", w->name);
    if (!w->client_cert || !*w->client_cert) {
        cg_err_set(err, CG_EINVAL, "webhook '%s' has no client certificate", w->name);
        return cg_err_hint_code(err, CG_EINVAL, "a webhook always presents a client certificate: name one of kind "
                                                "client (--client-cert NAME)");
    }
    if (w->ca && !*w->ca) return cg_err_set(err, CG_EINVAL, "webhook '%s' names an empty CA (NULL means none)", w->name);
    if (w->trust != CG_WEBHOOK_TRUST_SYSTEM_CA && w->trust != CG_WEBHOOK_TRUST_CA_ONLY)
        return cg_err_set(err, CG_EINVAL, "webhook '%s' has an unknown trust (%d)", w->name, w->trust);
    if (w->trust == CG_WEBHOOK_TRUST_CA_ONLY && !w->ca) {
        cg_err_set(err, CG_EINVAL, "webhook '%s' would trust its CA alone (ca-only), but it names no CA", w->name);
        return cg_err_hint_code(err, CG_EINVAL, "name the CA bundle to trust (--ca CA), or trust the system roots "
                                                "(--trust system+ca)");
    }
    if ((w->secret_blob == NULL) != (w->secret_blob_len == 0))
        return cg_err_set(err, CG_EINVAL, "webhook '%s': a sealed secret and its length must come together", w->name);
    CG_GUARD(names_unique_check("webhook", w->name, "event type", w->events, w->n_events, err));
    for (size_t i = 0; i < w->n_events; i++)
        if (!cg_store_event_type_valid(w->events[i])) {
            cg_err_set(err, CG_EINVAL, "webhook '%s': '%.*s' is not an event type", w->name, CG_STORE_EVENT_TYPE_MAX,
                       w->events[i]);
            return cg_err_hint_code(err, CG_EINVAL, "an event type is 1 to %d letters, digits, '.', '_' and '-', "
                                                    "e.g. invoice.paid",
                                    CG_STORE_EVENT_TYPE_MAX);
        }
    return 0;
}

/* The certificate a webhook presents must be a client certificate of env. */
static int client_ref_check(struct cg_store_sqlite *s, const char *env, const char *webhook, const char *cert,
                            struct cg_err *err)
{
    int kind = -1;
    int found = cert_kind_get(s, env, cert, &kind, err);
    CG_GUARD(found);
    if (!found) {
        cg_err_set(err, CG_ENOTFOUND, "webhook '%s' presents certificate '%s', but there is no certificate of that name "
                                      "in environment '%s'",
                   webhook, cert, env);
        return cg_err_hint_code(err, CG_ENOTFOUND, "add it first with: certgate cert add %s FILE --env %s (certgate "
                                                   "cert list shows the certificates)",
                                cert, env);
    }
    if (kind != CG_STORE_CLIENT) {
        cg_err_set(err, CG_EINVAL, "webhook '%s' cannot present '%s': it is a %s certificate, and a webhook presents a "
                                   "client certificate",
                   webhook, cert, kind_name(kind));
        return cg_err_hint_code(err, CG_EINVAL, "name a client certificate (certgate cert list shows the kinds), or "
                                                "import one with: certgate cert add NAME FILE");
    }
    return 0;
}

static int webhook_events_write(struct cg_store_sqlite *s, const char *env, const struct cg_store_webhook *w,
                                struct cg_err *err)
{
    CG_GUARD(run(s, err, "DELETE FROM webhook_events WHERE env = ? AND webhook = ?", "tt", env, w->name));
    for (size_t i = 0; i < w->n_events; i++)
        CG_GUARD(run(s, err, "INSERT INTO webhook_events (env, webhook, type, position) VALUES (?, ?, ?, ?)", "ttti",
                     env, w->name, w->events[i], (int64_t)i));
    return 0;
}

static int webhook_put_tx(struct cg_store_sqlite *s, const char *env, const struct cg_store_webhook *w, bool replace,
                          struct cg_err *err)
{
    int64_t now = (int64_t)time(NULL);
    int found = named_exists(s, "webhooks", env, w->name, err);
    CG_GUARD(found);
    if (found && !replace) {
        cg_err_set(err, CG_EEXISTS, "a webhook named '%s' already exists in environment '%s'", w->name, env);
        return cg_err_hint_code(err, CG_EEXISTS, "choose another name, or change it with: certgate webhook set %s ...",
                                w->name);
    }
    CG_GUARD(client_ref_check(s, env, w->name, w->client_cert, err));
    if (w->ca) CG_GUARD(ca_ref_check(s, env, "webhook", w->name, "trusts", "trust", w->ca, err));
    if (found)
        /* UPDATE in place: created_at is kept, and the problem too unless where and how the
         * webhook connects changed (the old problem may not hold any more; the dispatcher flags
         * it again if it does). SET expressions all read the row as it was. */
        CG_GUARD(run(s, err,
                     "UPDATE webhooks SET "
                     "problem = CASE WHEN url = ?3 AND client_cert = ?4 AND ca IS ?5 AND trust = ?6 THEN problem END, "
                     "problem_at = CASE WHEN url = ?3 AND client_cert = ?4 AND ca IS ?5 AND trust = ?6 "
                     "THEN problem_at ELSE 0 END, "
                     "url = ?3, client_cert = ?4, ca = ?5, trust = ?6, id = ?7, secret_blob = ?8, disabled = ?9, "
                     "updated_at = ?10 WHERE env = ?1 AND name = ?2",
                     "tttttitbii", env, w->name, w->url, w->client_cert, w->ca, (int64_t)w->trust, w->id,
                     w->secret_blob, w->secret_blob_len, (int64_t)w->disabled, now));
    else
        CG_GUARD(run(s, err,
                     "INSERT INTO webhooks (env, name, id, url, client_cert, ca, trust, secret_blob, disabled, "
                     "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     "tttttt" "ibiii", env, w->name, w->id, w->url, w->client_cert, w->ca, (int64_t)w->trust,
                     w->secret_blob, w->secret_blob_len, (int64_t)w->disabled, now, now));
    CG_GUARD(webhook_events_write(s, env, w, err));
    return revision_bump(s, env, err);
}

static int sqlite_webhook_put(struct cg_store *st, const char *env, const struct cg_store_webhook *w, bool replace,
                              struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(webhook_check(w, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot store webhook '%s' in environment '%s'", w->name, env));
    int rc = op_end(s, &op, webhook_put_tx(s, env, w, replace, err), err);
    return ctx(rc, err, "cannot store webhook '%s' in environment '%s'", w->name, env);
}

#define CG_WEBHOOK_COLUMNS                                                                                          \
    "w.name, w.id, w.url, w.client_cert, w.ca, w.trust, w.secret_blob, w.disabled, w.problem, w.problem_at, "       \
    "w.created_at, w.updated_at, "                                                                                  \
    "(SELECT COUNT(*) FROM deliveries d WHERE d.env = w.env AND d.webhook = w.name AND d.status = 0), "             \
    "(SELECT COUNT(*) FROM deliveries d WHERE d.env = w.env AND d.webhook = w.name AND d.status = 2)"

/* A copy of a blob column into (*p, *n); NULL for SQL NULL or an empty blob. */
static int col_blob(sqlite3_stmt *q, int i, uint8_t **p, size_t *n)
{
    *p = NULL;
    *n = 0;
    if (sqlite3_column_type(q, i) == SQLITE_NULL) return 0;
    int len = sqlite3_column_bytes(q, i);
    const void *v = sqlite3_column_blob(q, i);
    if (len <= 0) return 0;
    if (!v || !(*p = cg_malloc((size_t)len))) return CG_ENOMEM;
    memcpy(*p, v, (size_t)len);
    *n = (size_t)len;
    return 0;
}

static uint64_t col_count(sqlite3_stmt *q, int i)
{
    sqlite3_int64 v = sqlite3_column_int64(q, i);
    return v > 0 ? (uint64_t)v : 0;
}

/* Fills w from a row of CG_WEBHOOK_COLUMNS, then reads its event types; on failure w holds what
 * was read (cleanup frees it). CG_ENOMEM or CG_ESTORE. */
static int webhook_row_read(struct cg_store_sqlite *s, const char *env, sqlite3_stmt *q, void *item,
                            struct cg_err *err)
{
    struct cg_store_webhook *w = item;
    CG_GUARD(col_text(q, 0, &w->name));
    const unsigned char *id = sqlite3_column_text(q, 1);
    cg_strlcpy(w->id, id ? (const char *)id : "", sizeof(w->id));
    CG_GUARD(col_text(q, 2, &w->url));
    CG_GUARD(col_text(q, 3, &w->client_cert));
    CG_GUARD(col_text(q, 4, &w->ca));
    w->trust = sqlite3_column_int(q, 5);
    CG_GUARD(col_blob(q, 6, &w->secret_blob, &w->secret_blob_len));
    w->disabled = sqlite3_column_int(q, 7) != 0;
    CG_GUARD(col_text(q, 8, &w->problem));
    w->problem_at = sqlite3_column_int64(q, 9);
    w->created_at = sqlite3_column_int64(q, 10);
    w->updated_at = sqlite3_column_int64(q, 11);
    w->n_pending = col_count(q, 12);
    w->n_failed = col_count(q, 13);
    /* NOT NULL columns; kept non-NULL for the caller even if the file was edited by hand. */
    char **texts[] = {&w->name, &w->url, &w->client_cert};
    for (size_t i = 0; i < CG_ARRAY_LEN(texts); i++)
        if (!*texts[i] && !(*texts[i] = cg_strdup(""))) return CG_ENOMEM;
    CG_STMT t = NULL;
    CG_GUARD(query(s, &t, err, "SELECT type FROM webhook_events WHERE env = ? AND webhook = ? ORDER BY position", "tt",
                   env, w->name));
    return texts_read(s, t, &w->events, &w->n_events, err);
}

static void webhook_item_cleanup(void *item) { cg_store_webhook_cleanup(item); }

static const struct named_kind webhook_kind = {
    .what = "webhook",
    .plural = "webhooks",
    .table = "webhooks",
    .get_sql = "SELECT " CG_WEBHOOK_COLUMNS " FROM webhooks w WHERE w.env = ? AND w.name = ?",
    .list_sql = "SELECT " CG_WEBHOOK_COLUMNS " FROM webhooks w WHERE w.env = ? ORDER BY w.name",
    .size = sizeof(struct cg_store_webhook),
    .read = webhook_row_read,
    .cleanup = webhook_item_cleanup,
    .not_found = webhook_not_found,
};

static int sqlite_webhook_get(struct cg_store *st, const char *env, const char *name, struct cg_store_webhook *out,
                              struct cg_err *err)
{
    return named_get(sq(st), &webhook_kind, env, name, out, err);
}

static int sqlite_webhook_list(struct cg_store *st, const char *env, struct cg_store_webhook_list *out,
                               struct cg_err *err)
{
    return named_list(sq(st), &webhook_kind, env, &out->items, &out->n, err);
}

/* Its event types go with it (CASCADE), and so do its pending deliveries: nothing would send
 * them. Finished ones stay, for the record. */
static int webhook_delete_tx(struct cg_store_sqlite *s, const char *env, const char *name, struct cg_err *err)
{
    CG_GUARD(run(s, err, "DELETE FROM webhooks WHERE env = ? AND name = ?", "tt", env, name));
    if (sqlite3_changes(s->db) == 0) return webhook_not_found(env, name, err);
    CG_GUARD(run(s, err, "DELETE FROM deliveries WHERE env = ? AND webhook = ? AND status = 0", "tt", env, name));
    return revision_bump(s, env, err);
}

static int sqlite_webhook_delete(struct cg_store *st, const char *env, const char *name, struct cg_err *err)
{
    return named_delete(sq(st), &webhook_kind, env, name, webhook_delete_tx, err);
}

static int sqlite_webhook_problem_set(struct cg_store *st, const char *env, const char *name, const char *problem,
                                      int64_t at, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(arg_check("webhook name", name, err));
    if (problem && !*problem) problem = NULL;
    if (at < 0) return cg_err_set(err, CG_EINVAL, "webhook '%s': a problem at a negative time", name);
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot record the problem of webhook '%s' of environment '%s'", name,
                 env));
    int rc = run(s, err, "UPDATE webhooks SET problem = substr(?, 1, ?), problem_at = ? WHERE env = ? AND name = ?",
                 "tiitt", problem, (int64_t)CG_STORE_PROBLEM_MAX, problem ? at : (int64_t)0, env, name);
    if (rc == 0 && sqlite3_changes(s->db) == 0) rc = webhook_not_found(env, name, err);
    rc = op_end(s, &op, rc, err);
    return ctx(rc, err, "cannot record the problem of webhook '%s' of environment '%s'", name, env);
}

/* ---- events -------------------------------------------------------------------------------- */

/* Events, deliveries and attempts are traffic: nothing here bumps the revision. */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "evt_" and 32 lowercase hex. */
static bool event_id_valid(const char *id) { return !strncmp(id, "evt_", 4) && id_valid(id + 4); }

static int event_check(const struct cg_store_event *e, struct cg_err *err)
{
    if (!e) return cg_err_set(err, CG_EINVAL, "no event given");
    if (!event_id_valid(e->id)) {
        cg_err_set(err, CG_EINVAL, "event id '%.40s' is not \"evt_\" and 32 lowercase hex characters", e->id);
        return cg_err_hint_code(err, CG_EINVAL, "make the id from 16 random bytes (certgate event send does)");
    }
    if (!cg_store_event_type_valid(e->type)) {
        cg_err_set(err, CG_EINVAL, "event '%s': '%.*s' is not an event type", e->id, CG_STORE_EVENT_TYPE_MAX,
                   e->type ? e->type : "");
        return cg_err_hint_code(err, CG_EINVAL, "an event type is 1 to %d letters, digits, '.', '_' and '-', e.g. "
                                                "invoice.paid",
                                CG_STORE_EVENT_TYPE_MAX);
    }
    if (!e->data_json) return cg_err_set(err, CG_EINVAL, "event '%s' has no data", e->id);
    if (strlen(e->data_json) > CG_STORE_EVENT_DATA_MAX) {
        cg_err_set(err, CG_ELIMIT, "the data of event '%s' is larger than %d bytes", e->id, CG_STORE_EVENT_DATA_MAX);
        return cg_err_hint_code(err, CG_ELIMIT, "send less: an event says what happened (ids, a status), and the "
                                                "receiver fetches the details");
    }
    if (e->created_at_ms < 0) return cg_err_set(err, CG_EINVAL, "event '%s' has a negative time", e->id);
    return 0;
}

/* The data must be a JSON object: receivers read members of it. */
static int event_data_check(struct cg_store_sqlite *s, const struct cg_store_event *e, struct cg_err *err)
{
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err, "SELECT CASE WHEN json_valid(?1) THEN json_type(?1) END", "t", e->data_json));
    int rc = step(s, q, err);
    CG_GUARD(rc);
    const unsigned char *type = rc == 1 ? sqlite3_column_text(q, 0) : NULL;
    if (type && !strcmp((const char *)type, "object")) return 0;
    cg_err_set(err, CG_EINVAL, "the data of event '%s' is %s, not a JSON object", e->id,
               type ? (const char *)type : "not valid JSON");
    return cg_err_hint_code(err, CG_EINVAL, "give an object, e.g. {\"invoice\": \"inv_1\"}");
}

static int event_put_tx(struct cg_store_sqlite *s, const char *env, const struct cg_store_event *e, size_t *n,
                        struct cg_err *err)
{
    CG_GUARD(event_data_check(s, e, err));
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err, "SELECT 1 FROM events WHERE env = ? AND id = ?", "tt", env, e->id));
    int found = step(s, q, err);
    CG_GUARD(found);
    if (found) {
        cg_err_set(err, CG_EEXISTS, "event '%s' was already stored in environment '%s'", e->id, env);
        return cg_err_hint_code(err, CG_EEXISTS, "an event is stored once; a new event needs a new id (certgate event "
                                                 "send makes one)");
    }
    int64_t at = e->created_at_ms ? e->created_at_ms : now_ms();
    CG_GUARD(run(s, err, "INSERT INTO events (env, id, type, data_json, created_at_ms) VALUES (?, ?, ?, ?, ?)", "tttti",
                 env, e->id, e->type, e->data_json, at));
    /* one delivery per enabled webhook that takes every type (no rows of its own) or this one */
    CG_GUARD(run(s, err,
                 "INSERT INTO deliveries (env, event_id, webhook, status, attempts, next_at_ms, lease_until_ms, "
                 "created_at_ms, updated_at_ms) "
                 "SELECT ?1, ?2, w.name, 0, 0, ?3, 0, ?3, ?3 FROM webhooks w WHERE w.env = ?1 AND w.disabled = 0 AND "
                 "(NOT EXISTS (SELECT 1 FROM webhook_events t WHERE t.env = w.env AND t.webhook = w.name) OR "
                 "EXISTS (SELECT 1 FROM webhook_events t WHERE t.env = w.env AND t.webhook = w.name AND t.type = ?4)) "
                 "ORDER BY w.name",
                 "ttit", env, e->id, at, e->type));
    if (n) *n = (size_t)sqlite3_changes(s->db);
    return 0;
}

static int sqlite_event_put(struct cg_store *st, const char *env, const struct cg_store_event *e, size_t *n_deliveries,
                            struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    if (n_deliveries) *n_deliveries = 0;
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(event_check(e, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot store event '%s' in environment '%s'", e->id, env));
    int rc = op_end(s, &op, event_put_tx(s, env, e, n_deliveries, err), err);
    if (rc < 0 && n_deliveries) *n_deliveries = 0;
    return ctx(rc, err, "cannot store event '%s' in environment '%s'", e->id, env);
}

static int sqlite_event_get(struct cg_store *st, const char *env, const char *id, struct cg_store_event *out,
                            struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    memset(out, 0, sizeof(*out));
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(arg_check("event id", id, err));
    CG_STMT q = NULL;
    int rc = query(s, &q, err, "SELECT id, type, data_json, created_at_ms FROM events WHERE env = ? AND id = ?", "tt",
                   env, id);
    if (rc == 0) rc = step(s, q, err);
    if (rc == 0) {
        cg_err_set(err, CG_ENOTFOUND, "no event '%s' in environment '%s'", id, env);
        return cg_err_hint_code(err, CG_ENOTFOUND, "check the id (certgate webhook deliveries WEBHOOK lists the events "
                                                   "sent)");
    }
    if (rc == 1) {
        const unsigned char *v = sqlite3_column_text(q, 0);
        cg_strlcpy(out->id, v ? (const char *)v : "", sizeof(out->id));
        rc = col_text(q, 1, &out->type);
        if (rc == 0) rc = col_text(q, 2, &out->data_json);
        out->created_at_ms = sqlite3_column_int64(q, 3);
        if (rc == 0 && !out->type) rc = (out->type = cg_strdup("")) ? 0 : CG_ENOMEM;
        if (rc == 0 && !out->data_json) rc = (out->data_json = cg_strdup("{}")) ? 0 : CG_ENOMEM;
        if (rc == CG_ENOMEM) rc = oom(err, "reading an event");
    }
    if (rc < 0) cg_store_event_cleanup(out);
    return ctx(rc, err, "cannot read event '%s' of environment '%s'", id, env);
}

/* ---- deliveries and their attempts --------------------------------------------------------- */

static int delivery_not_found(const char *env, int64_t id, struct cg_err *err)
{
    cg_err_set(err, CG_ENOTFOUND, "no delivery %lld in environment '%s'", (long long)id, env);
    return cg_err_hint_code(err, CG_ENOTFOUND, "see the deliveries with: certgate webhook deliveries WEBHOOK --env %s",
                            env);
}

#define CG_DELIVERY_COLUMNS                                                                                         \
    "d.id, d.event_id, e.type, d.webhook, d.status, d.attempts, d.next_at_ms, d.lease_until_ms, d.created_at_ms, "  \
    "d.updated_at_ms FROM deliveries d JOIN events e ON e.env = d.env AND e.id = d.event_id"

static int attempts_read(struct cg_store_sqlite *s, struct cg_store_delivery *d, struct cg_err *err)
{
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err, "SELECT at_ms, status_code, error, latency_ms FROM attempts WHERE delivery_id = ? "
                               "ORDER BY n",
                   "i", d->id));
    size_t cap = 0;
    int rc;
    while ((rc = step(s, q, err)) == 1) {
        if (cg_array_reserve(&d->history, &cap, d->n_history + 1, sizeof(*d->history)) < 0) return CG_ENOMEM;
        struct cg_store_attempt *a = &d->history[d->n_history++];
        memset(a, 0, sizeof(*a));
        a->at_ms = sqlite3_column_int64(q, 0);
        a->status_code = sqlite3_column_int(q, 1);
        CG_GUARD(col_text(q, 2, &a->error));
        a->latency_ms = sqlite3_column_int64(q, 3);
    }
    return rc;
}

/* Fills d from a row of CG_DELIVERY_COLUMNS (without its attempts). */
static int delivery_row_read(sqlite3_stmt *q, struct cg_store_delivery *d)
{
    d->id = sqlite3_column_int64(q, 0);
    const unsigned char *ev = sqlite3_column_text(q, 1);
    cg_strlcpy(d->event_id, ev ? (const char *)ev : "", sizeof(d->event_id));
    CG_GUARD(col_text(q, 2, &d->event_type));
    CG_GUARD(col_text(q, 3, &d->webhook));
    d->status = sqlite3_column_int(q, 4);
    d->attempts = sqlite3_column_int(q, 5);
    d->next_at_ms = sqlite3_column_int64(q, 6);
    d->lease_until_ms = sqlite3_column_int64(q, 7);
    d->created_at_ms = sqlite3_column_int64(q, 8);
    d->updated_at_ms = sqlite3_column_int64(q, 9);
    if (!d->event_type && !(d->event_type = cg_strdup(""))) return CG_ENOMEM;
    if (!d->webhook && !(d->webhook = cg_strdup(""))) return CG_ENOMEM;
    return 0;
}

static int delivery_row_cb(struct cg_store_sqlite *s, const char *env, sqlite3_stmt *q, void *item,
                           struct cg_err *err)
{
    CG_UNUSED(env);
    CG_GUARD(delivery_row_read(q, item));
    return attempts_read(s, item, err);
}

/* The pending deliveries claim takes, in the order it takes them: due, not leased, oldest due
 * first, and of each webhook at most per_webhook minus the leases it already holds (0: no
 * limit). */
struct claim_candidate {
    int64_t id, next_at_ms;
};

static int candidate_cmp(const void *x, const void *y)
{
    const struct claim_candidate *a = x, *b = y;
    if (a->next_at_ms != b->next_at_ms) return a->next_at_ms < b->next_at_ms ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* The due deliveries of one webhook that it may still take (per_webhook minus the leases it
 * holds), oldest first: two index lookups, whatever the length of the queue. */
static int claim_candidates(struct cg_store_sqlite *s, const char *env, const char *webhook, int64_t now, size_t max,
                            size_t per_webhook, struct claim_candidate **c, size_t *n, size_t *cap,
                            struct cg_err *err)
{
    int64_t take = (int64_t)max;
    if (per_webhook) {
        CG_STMT h = NULL;
        CG_GUARD(query(s, &h, err,
                       "SELECT COUNT(*) FROM deliveries WHERE env = ? AND webhook = ? AND status = 0 AND "
                       "lease_until_ms > 0 AND lease_until_ms > ?",
                       "tti", env, webhook, now));
        int rc = step(s, h, err);
        if (rc < 0) return rc;
        int64_t held = rc == 1 ? sqlite3_column_int64(h, 0) : 0;
        take = (int64_t)per_webhook - held;
        if (take > (int64_t)max) take = (int64_t)max;
    }
    if (take <= 0) return 0;
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err,
                   "SELECT id, next_at_ms FROM deliveries WHERE env = ? AND webhook = ? AND status = 0 AND "
                   "next_at_ms <= ? AND lease_until_ms <= ? ORDER BY next_at_ms, id LIMIT ?",
                   "ttiii", env, webhook, now, now, take));
    int rc;
    while ((rc = step(s, q, err)) == 1) {
        if (cg_array_reserve(c, cap, *n + 1, sizeof(**c)) < 0) return oom(err, "claiming deliveries");
        (*c)[(*n)++] = (struct claim_candidate){sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1)};
    }
    return rc;
}

/* Up to max due deliveries, oldest first, none beyond per_webhook in flight for one webhook. */
static int claim_ids(struct cg_store_sqlite *s, const char *env, int64_t now, size_t max, size_t per_webhook,
                     int64_t **ids, size_t *n, struct cg_err *err)
{
    CG_STMT w = NULL;
    /* webhooks are few; a removed one takes its pending deliveries with it */
    CG_GUARD(query(s, &w, err, "SELECT name FROM webhooks WHERE env = ?", "t", env));
    struct claim_candidate *c = NULL;
    size_t nc = 0, cap = 0;
    int rc;
    while ((rc = step(s, w, err)) == 1) {
        rc = claim_candidates(s, env, (const char *)sqlite3_column_text(w, 0), now, max, per_webhook, &c, &nc, &cap,
                              err);
        if (rc < 0) break;
    }
    if (rc == 0 && nc) {
        qsort(c, nc, sizeof(*c), candidate_cmp);
        size_t k = nc < max ? nc : max;
        size_t icap = 0;
        if (cg_array_reserve(ids, &icap, k, sizeof(**ids)) < 0) rc = oom(err, "claiming deliveries");
        for (size_t i = 0; rc == 0 && i < k; i++) (*ids)[(*n)++] = c[i].id;
    }
    cg_free(c);
    return rc;
}

static int delivery_claim_tx(struct cg_store_sqlite *s, const char *env, int64_t now, int64_t lease_ms, size_t max,
                             size_t per_webhook, struct cg_store_delivery_list *out, struct cg_err *err)
{
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = claim_ids(s, env, now, max, per_webhook, &ids, &n, err);
    if (rc == 0 && n && !(out->items = cg_calloc(n, sizeof(*out->items)))) rc = oom(err, "claiming deliveries");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = run(s, err, "UPDATE deliveries SET lease_until_ms = ?, attempts = attempts + 1, updated_at_ms = ? "
                         "WHERE id = ?",
                 "iii", now + lease_ms, now, ids[i]);
        CG_STMT q = NULL;
        if (rc == 0) rc = query(s, &q, err, "SELECT " CG_DELIVERY_COLUMNS " WHERE d.id = ?", "i", ids[i]);
        if (rc == 0) rc = step(s, q, err);
        if (rc == 0) rc = cg_err_set(err, CG_ESTORE, "store '%s': delivery %lld vanished while it was claimed",
                                     s->url, (long long)ids[i]);
        if (rc == 1) {
            out->n++;
            rc = delivery_row_read(q, &out->items[i]);
            if (rc == CG_ENOMEM) rc = oom(err, "claiming deliveries");
        }
    }
    cg_free(ids);
    return rc;
}

static int sqlite_delivery_claim(struct cg_store *st, const char *env, int64_t now_at, int64_t lease_ms, size_t max,
                                 size_t per_webhook, struct cg_store_delivery_list *out, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    out->items = NULL;
    out->n = 0;
    CG_GUARD(arg_check("environment", env, err));
    if (now_at < 0 || lease_ms <= 0)
        return cg_err_set(err, CG_EINVAL, "claiming deliveries needs a time and a lease of at least 1 ms");
    if (max == 0) return 0;
    if (max > CG_STORE_DELIVERY_LIST_MAX) max = CG_STORE_DELIVERY_LIST_MAX;
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot claim deliveries of environment '%s'", env));
    int rc = op_end(s, &op, delivery_claim_tx(s, env, now_at, lease_ms, max, per_webhook, out, err), err);
    if (rc < 0) cg_store_delivery_list_cleanup(out);
    return ctx(rc, err, "cannot claim deliveries of environment '%s'", env);
}

static int attempt_check(int64_t id, const struct cg_store_attempt *a, struct cg_err *err)
{
    if (!a) return 0;
    if (a->at_ms < 0 || a->latency_ms < 0)
        return cg_err_set(err, CG_EINVAL, "delivery %lld: an attempt at a negative time or with a negative latency",
                          (long long)id);
    if (a->status_code < 0 || a->status_code > 999)
        return cg_err_set(err, CG_EINVAL, "delivery %lld: %d is not an HTTP status", (long long)id, a->status_code);
    return 0;
}

static int delivery_finish_tx(struct cg_store_sqlite *s, const char *env, int64_t id, int status, int64_t next_at,
                              const struct cg_store_attempt *a, struct cg_err *err)
{
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err, "SELECT status FROM deliveries WHERE env = ? AND id = ?", "ti", env, id));
    int found = step(s, q, err);
    CG_GUARD(found);
    if (!found) return delivery_not_found(env, id, err);
    int was = sqlite3_column_int(q, 0);
    if (a)
        CG_GUARD(run(s, err,
                     "INSERT INTO attempts (delivery_id, n, at_ms, status_code, error, latency_ms) VALUES (?1, "
                     "(SELECT COALESCE(MAX(n), 0) + 1 FROM attempts WHERE delivery_id = ?1), ?2, ?3, substr(?4, 1, ?5), "
                     "?6)",
                     "iiitii", id, a->at_ms, (int64_t)a->status_code, a->error && *a->error ? a->error : NULL,
                     (int64_t)CG_STORE_PROBLEM_MAX, a->latency_ms));
    /* A delivery that ended meanwhile (its lease expired and another dispatcher finished it)
     * keeps its outcome: this attempt is only recorded. */
    if (was != CG_DELIVERY_PENDING) return 0;
    return run(s, err,
               "UPDATE deliveries SET status = ?1, next_at_ms = CASE WHEN ?1 = 0 THEN ?2 ELSE next_at_ms END, "
               "lease_until_ms = 0, updated_at_ms = ?3 WHERE id = ?4",
               "iiii", (int64_t)status, next_at, now_ms(), id);
}

static int sqlite_delivery_finish(struct cg_store *st, const char *env, int64_t id, int status, int64_t next_at_ms,
                                  const struct cg_store_attempt *attempt, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    if (status != CG_DELIVERY_PENDING && status != CG_DELIVERY_SUCCEEDED && status != CG_DELIVERY_FAILED)
        return cg_err_set(err, CG_EINVAL, "delivery %lld: unknown status %d", (long long)id, status);
    if (status == CG_DELIVERY_PENDING && next_at_ms < 0)
        return cg_err_set(err, CG_EINVAL, "delivery %lld: rescheduled at a negative time", (long long)id);
    CG_GUARD(attempt_check(id, attempt, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot record delivery %lld of environment '%s'", (long long)id, env));
    int rc = op_end(s, &op, delivery_finish_tx(s, env, id, status, next_at_ms, attempt, err), err);
    return ctx(rc, err, "cannot record delivery %lld of environment '%s'", (long long)id, env);
}

static int sqlite_delivery_release_all(struct cg_store *st, const char *env, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot release the deliveries of environment '%s'", env));
    int rc = run(s, err, "UPDATE deliveries SET lease_until_ms = 0 WHERE env = ? AND status = 0 AND lease_until_ms > 0",
                 "t", env);
    rc = op_end(s, &op, rc, err);
    return ctx(rc, err, "cannot release the deliveries of environment '%s'", env);
}

static int sqlite_delivery_get(struct cg_store *st, const char *env, int64_t id, struct cg_store_delivery *out,
                               struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    memset(out, 0, sizeof(*out));
    CG_GUARD(arg_check("environment", env, err));
    CG_STMT q = NULL;
    int rc = query(s, &q, err, "SELECT " CG_DELIVERY_COLUMNS " WHERE d.env = ? AND d.id = ?", "ti", env, id);
    if (rc == 0) rc = step(s, q, err);
    if (rc == 0) return delivery_not_found(env, id, err);
    if (rc == 1) {
        rc = delivery_row_cb(s, env, q, out, err);
        if (rc == CG_ENOMEM) rc = oom(err, "reading a delivery");
    }
    if (rc < 0) cg_store_delivery_cleanup(out);
    return ctx(rc, err, "cannot read delivery %lld of environment '%s'", (long long)id, env);
}

static int sqlite_delivery_list(struct cg_store *st, const char *env, const char *webhook, int status, size_t limit,
                                struct cg_store_delivery_list *out, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    out->items = NULL;
    out->n = 0;
    CG_GUARD(arg_check("environment", env, err));
    if (webhook && !*webhook) return cg_err_set(err, CG_EINVAL, "no webhook name given (NULL lists every webhook's)");
    if (status < -1 || status > CG_DELIVERY_FAILED)
        return cg_err_set(err, CG_EINVAL, "deliveries of unknown status %d", status);
    if (limit > CG_STORE_DELIVERY_LIST_MAX) limit = CG_STORE_DELIVERY_LIST_MAX;
    CG_STMT q = NULL;
    /* two statements, so that each can use its index (by webhook, or by environment) */
    int rc = webhook ? query(s, &q, err,
                             "SELECT " CG_DELIVERY_COLUMNS " WHERE d.env = ?1 AND d.webhook = ?2 AND "
                             "(?3 < 0 OR d.status = ?3) ORDER BY d.id DESC LIMIT ?4",
                             "ttii", env, webhook, (int64_t)status, (int64_t)limit)
                     : query(s, &q, err,
                             "SELECT " CG_DELIVERY_COLUMNS " WHERE d.env = ?1 AND (?2 < 0 OR d.status = ?2) "
                             "ORDER BY d.id DESC LIMIT ?3",
                             "tii", env, (int64_t)status, (int64_t)limit);
    rc = rows_collect(s, env, q, rc, &out->items, &out->n, sizeof(*out->items), delivery_row_cb, "listing deliveries",
                      err);
    if (rc < 0) {
        cg_store_delivery_list_cleanup(out);
        return ctx(rc, err, "cannot list the deliveries of environment '%s'", env);
    }
    return 0;
}

static int delivery_replay_tx(struct cg_store_sqlite *s, const char *env, int64_t id, int64_t now,
                              struct cg_err *err)
{
    CG_STMT q = NULL;
    CG_GUARD(query(s, &q, err, "SELECT status, webhook FROM deliveries WHERE env = ? AND id = ?", "ti", env, id));
    int found = step(s, q, err);
    CG_GUARD(found);
    if (!found) return delivery_not_found(env, id, err);
    const unsigned char *t = sqlite3_column_text(q, 1);
    const char *webhook = t ? (const char *)t : "";
    if (sqlite3_column_int(q, 0) == CG_DELIVERY_PENDING) {
        cg_err_set(err, CG_EINVAL, "delivery %lld to webhook '%s' is still pending: it is sent when it is due",
                   (long long)id, webhook);
        return cg_err_hint_code(err, CG_EINVAL, "replay a delivery once it has succeeded or failed (certgate webhook "
                                                "delivery %lld shows its state)",
                                (long long)id);
    }
    found = named_exists(s, "webhooks", env, webhook, err);
    CG_GUARD(found);
    if (!found) {
        cg_err_set(err, CG_ENOTFOUND, "delivery %lld cannot be replayed: its webhook '%s' was removed from environment "
                                      "'%s'",
                   (long long)id, webhook, env);
        return cg_err_hint_code(err, CG_ENOTFOUND, "add the webhook again (certgate webhook add %s ...), then replay",
                                webhook);
    }
    return run(s, err,
               "UPDATE deliveries SET status = 0, attempts = 0, next_at_ms = ?1, lease_until_ms = 0, "
               "updated_at_ms = ?1 WHERE id = ?2",
               "ii", now, id);
}

static int sqlite_delivery_replay(struct cg_store *st, const char *env, int64_t id, int64_t now_at,
                                  struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    if (now_at < 0) return cg_err_set(err, CG_EINVAL, "delivery %lld: replayed at a negative time", (long long)id);
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot replay delivery %lld of environment '%s'", (long long)id, env));
    int rc = op_end(s, &op, delivery_replay_tx(s, env, id, now_at, err), err);
    return ctx(rc, err, "cannot replay delivery %lld of environment '%s'", (long long)id, env);
}

static int sqlite_delivery_pending_count(struct cg_store *st, const char *env, uint64_t *out, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    *out = 0;
    CG_GUARD(arg_check("environment", env, err));
    CG_STMT q = NULL;
    int rc = query(s, &q, err, "SELECT COUNT(*) FROM deliveries WHERE env = ? AND status = 0", "t", env);
    if (rc == 0) rc = step(s, q, err);
    if (rc == 1) {
        *out = col_count(q, 0);
        rc = 0;
    }
    return ctx(rc, err, "cannot count the pending deliveries of environment '%s'", env);
}

const struct cg_store_ops cg_store_sqlite_ops = {
    .scheme = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .default_master_key = sqlite_default_master_key,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .revision = sqlite_revision,
    .cert_put = sqlite_cert_put,
    .cert_get = sqlite_cert_get,
    .cert_list = sqlite_cert_list,
    .cert_delete = sqlite_cert_delete,
    .cert_set_default = sqlite_cert_set_default,
    .pin_put = sqlite_pin_put,
    .pin_delete = sqlite_pin_delete,
    .pin_list = sqlite_pin_list,
    .upstream_put = sqlite_upstream_put,
    .upstream_get = sqlite_upstream_get,
    .upstream_list = sqlite_upstream_list,
    .upstream_delete = sqlite_upstream_delete,
    .site_put = sqlite_site_put,
    .site_get = sqlite_site_get,
    .site_list = sqlite_site_list,
    .site_delete = sqlite_site_delete,
    .profile_put = sqlite_profile_put,
    .profile_get = sqlite_profile_get,
    .profile_list = sqlite_profile_list,
    .profile_delete = sqlite_profile_delete,
    .rule_put = sqlite_rule_put,
    .rule_delete = sqlite_rule_delete,
    .rule_list = sqlite_rule_list,
    .token_put = sqlite_token_put,
    .token_find = sqlite_token_find,
    .token_get = sqlite_token_get,
    .token_list = sqlite_token_list,
    .token_delete = sqlite_token_delete,
    .token_touch = sqlite_token_touch,
    .audit_put = sqlite_audit_put,
    .audit_list = sqlite_audit_list,
    .webhook_put = sqlite_webhook_put,
    .webhook_get = sqlite_webhook_get,
    .webhook_list = sqlite_webhook_list,
    .webhook_delete = sqlite_webhook_delete,
    .webhook_problem_set = sqlite_webhook_problem_set,
    .event_put = sqlite_event_put,
    .event_get = sqlite_event_get,
    .delivery_claim = sqlite_delivery_claim,
    .delivery_finish = sqlite_delivery_finish,
    .delivery_release_all = sqlite_delivery_release_all,
    .delivery_get = sqlite_delivery_get,
    .delivery_list = sqlite_delivery_list,
    .delivery_replay = sqlite_delivery_replay,
    .delivery_pending_count = sqlite_delivery_pending_count,
};
