/* The sqlite backend: one database file per store, "sqlite:PATH" (SPEC.md section 4).
 *
 * Every statement is prepared with bound parameters. Every mutating operation runs in its own
 * transaction (BEGIN IMMEDIATE ... COMMIT) when the caller has none open, or in a SAVEPOINT
 * inside the caller's transaction: either way a failing operation leaves nothing behind and
 * does not end the caller's transaction. IMMEDIATE takes the write lock up front, so that two
 * processes never deadlock upgrading a read lock; busy_timeout makes the second one wait.
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
    bool in_tx; /* between begin and commit/rollback */
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

/* ---- transactions -------------------------------------------------------------------------- */

/* The frame of one mutating operation: its own transaction, or a savepoint in the caller's. */
struct op {
    bool own;
};

static int op_begin(struct cg_store_sqlite *s, struct op *op, struct cg_err *err)
{
    if (s->in_tx) {
        /* Some failures (disk full, I/O errors) make SQLite roll the whole transaction back.
         * Going on would commit the rest of the caller's changes one by one: refuse instead. */
        if (sqlite3_get_autocommit(s->db)) {
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

static int sqlite_begin(struct cg_store *st, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    if (s->in_tx || !sqlite3_get_autocommit(s->db)) {
        cg_err_set(err, CG_EUSAGE, "store '%s': a transaction is already open", s->url);
        return cg_err_hint_code(err, CG_EUSAGE, "commit or roll back the open transaction before beginning another");
    }
    CG_GUARD(ctx(exec(s, "BEGIN IMMEDIATE", err), err, "cannot begin a transaction"));
    s->in_tx = true;
    return 0;
}

static int sqlite_commit(struct cg_store *st, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    if (!s->in_tx) {
        cg_err_set(err, CG_EUSAGE, "store '%s': no transaction is open to commit", s->url);
        return cg_err_hint_code(err, CG_EUSAGE, "begin a transaction first");
    }
    s->in_tx = false;
    if (sqlite3_get_autocommit(s->db)) {
        cg_err_set(err, CG_ESTORE, "store '%s': the transaction was rolled back after an earlier error; nothing was saved",
                   s->url);
        return cg_err_hint_code(err, CG_ESTORE, "start again");
    }
    int rc = exec(s, "COMMIT", err);
    if (rc < 0) {
        if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return ctx(rc, err, "cannot commit the transaction; nothing was saved");
    }
    return 0;
}

static void sqlite_rollback(struct cg_store *st)
{
    struct cg_store_sqlite *s = sq(st);
    if (!s->in_tx) return;
    s->in_tx = false;
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
    sqlite_rollback(st);
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

#define CG_CERT_COLUMNS "id, name, kind, is_default, cert_pem, key_blob, warnings, created_at, updated_at"

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

/* What may hold a certificate: pins name client certificates, upstreams trust ca bundles. */
enum { CG_REF_PINS = 1, CG_REF_UPSTREAMS = 2 };

/* CG_EINUSE, naming up to CG_INUSE_LIST_MAX pin targets and upstreams, when the objects of env
 * selected by refs hold certificate name; 0 when none do. what: the refused operation, the
 * start of the message. */
static int in_use_refuse(struct cg_store_sqlite *s, const char *env, const char *name, int refs, const char *what,
                         struct cg_err *err)
{
    struct cg_buf pins, ups;
    cg_buf_init(&pins, CG_ERR_MSG_MAX);
    cg_buf_init(&ups, CG_ERR_MSG_MAX);
    size_t n_pins = 0, n_ups = 0;
    int rc = 0;
    if (refs & CG_REF_PINS) {
        CG_STMT q = NULL;
        rc = query(s, &q, err, "SELECT target FROM pins WHERE env = ? AND cert_name = ? ORDER BY target", "tt", env,
                   name);
        if (rc == 0) rc = names_collect(s, q, &pins, &n_pins, err);
    }
    if (rc == 0 && (refs & CG_REF_UPSTREAMS)) {
        CG_STMT q = NULL;
        rc = query(s, &q, err,
                   "SELECT DISTINCT upstream FROM upstream_cas WHERE env = ? AND ca_name = ? ORDER BY upstream", "tt",
                   env, name);
        if (rc == 0) rc = names_collect(s, q, &ups, &n_ups, err);
    }
    if (rc == 0 && (n_pins || n_ups)) {
        char pins_part[CG_ERR_MSG_MAX / 2] = "", ups_part[CG_ERR_MSG_MAX / 2] = "";
        if (n_pins)
            snprintf(pins_part, sizeof(pins_part), "it is pinned by %zu target%s: %s", n_pins, n_pins == 1 ? "" : "s",
                     cg_buf_str(&pins));
        if (n_ups)
            snprintf(ups_part, sizeof(ups_part), "it is trusted by %zu upstream%s: %s", n_ups, n_ups == 1 ? "" : "s",
                     cg_buf_str(&ups));
        cg_err_set(err, CG_EINUSE, "%s: %s%s%s", what, pins_part, n_pins && n_ups ? "; " : "", ups_part);
        if (n_pins && !n_ups)
            rc = cg_err_hint_code(err, CG_EINUSE, "remove or repin them first: certgate pin rm TARGET");
        else if (!n_pins)
            rc = cg_err_hint_code(err, CG_EINUSE,
                                  "change their trust first (certgate upstream set UPSTREAM --ca OTHER_CA, or "
                                  "--no-ca for the environment's trust), or remove them: certgate upstream rm UPSTREAM");
        else
            rc = cg_err_hint_code(err, CG_EINUSE,
                                  "remove or repin the pins (certgate pin rm TARGET) and change the upstreams' trust "
                                  "(certgate upstream set UPSTREAM --no-ca) first");
    }
    cg_buf_cleanup(&pins);
    cg_buf_cleanup(&ups);
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
        CG_GUARD(in_use_refuse(s, env, c->name, CG_REF_PINS, what, err));
    }
    if (found && kind == CG_STORE_CA && c->kind != CG_STORE_CA) {
        char what[CG_ERR_MSG_MAX / 2];
        snprintf(what, sizeof(what), "cannot replace CA bundle '%s' of environment '%s' with a %s certificate",
                 c->name, env, kind_name(c->kind));
        CG_GUARD(in_use_refuse(s, env, c->name, CG_REF_UPSTREAMS, what, err));
    }
    /* Clear the other default first: the schema allows one per environment at any moment. */
    if (c->is_default)
        CG_GUARD(run(s, err,
                     "UPDATE certs SET is_default = 0, updated_at = ? WHERE env = ? AND is_default = 1 AND name <> ?",
                     "itt", now, env, c->name));
    const char *warnings = c->warnings_json ? c->warnings_json : "[]";
    if (found)
        /* UPDATE in place, not DELETE + INSERT: (env, name) stays, so the pins naming it stay
         * valid (the foreign key is RESTRICT); created_at is kept. */
        CG_GUARD(run(s, err,
                     "UPDATE certs SET id = ?, kind = ?, is_default = ?, cert_pem = ?, key_blob = ?, "
                     "warnings = ?, updated_at = ? WHERE env = ? AND name = ?",
                     "tiitbtitt", c->id, (int64_t)c->kind, (int64_t)c->is_default, c->cert_pem, c->key_blob,
                     c->key_blob_len, warnings, now, env, c->name));
    else
        CG_GUARD(run(s, err,
                     "INSERT INTO certs (id, env, name, kind, is_default, cert_pem, key_blob, warnings, "
                     "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     "tttiitbtii", c->id, env, c->name, (int64_t)c->kind, (int64_t)c->is_default, c->cert_pem,
                     c->key_blob, c->key_blob_len, warnings, now, now));
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
    CG_GUARD(in_use_refuse(s, env, name, CG_REF_PINS | CG_REF_UPSTREAMS, what, err));
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
    if (u->n_cas && !u->cas) return cg_err_set(err, CG_EINVAL, "upstream '%s': CA count given without CAs", u->name);
    for (size_t i = 0; i < u->n_cas; i++) {
        if (!u->cas[i] || !*u->cas[i]) return cg_err_set(err, CG_EINVAL, "upstream '%s' names an empty CA", u->name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(u->cas[i], u->cas[j])) {
                cg_err_set(err, CG_EINVAL, "upstream '%s' names CA '%s' twice", u->name, u->cas[i]);
                return cg_err_hint_code(err, CG_EINVAL, "give each CA once");
            }
    }
    return 0;
}

/* Every CA u trusts must be a `ca` certificate of env. */
static int upstream_cas_check(struct cg_store_sqlite *s, const char *env, const struct cg_store_upstream *u,
                              struct cg_err *err)
{
    for (size_t i = 0; i < u->n_cas; i++) {
        int kind = -1;
        int found = cert_kind_get(s, env, u->cas[i], &kind, err);
        CG_GUARD(found);
        if (!found) {
            cg_err_set(err, CG_ENOTFOUND, "upstream '%s' trusts CA '%s', but there is no CA bundle of that name in "
                                          "environment '%s'",
                       u->name, u->cas[i], env);
            return cg_err_hint_code(err, CG_ENOTFOUND, "add it first with: certgate ca add %s FILE --env %s (certgate "
                                                       "ca list shows the CA bundles)",
                                    u->cas[i], env);
        }
        if (kind != CG_STORE_CA) {
            cg_err_set(err, CG_EINVAL,
                       "upstream '%s' cannot trust '%s': it is a %s certificate, not a CA bundle, and an upstream "
                       "trusts CA bundles only",
                       u->name, u->cas[i], kind_name(kind));
            return cg_err_hint_code(err, CG_EINVAL, "name a CA bundle (certgate ca list shows them), or add the CA "
                                                    "with: certgate ca add NAME FILE");
        }
    }
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
static int upstream_row_read(struct cg_store_sqlite *s, const char *env, sqlite3_stmt *q,
                             struct cg_store_upstream *u, struct cg_err *err)
{
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
    size_t cap = 0;
    int rc;
    while ((rc = step(s, c, err)) == 1) {
        if (cg_array_reserve(&u->cas, &cap, u->n_cas + 1, sizeof(*u->cas)) < 0) return CG_ENOMEM;
        char *name = NULL;
        CG_GUARD(col_text(c, 0, &name));
        if (!name && !(name = cg_strdup(""))) return CG_ENOMEM;
        u->cas[u->n_cas++] = name;
    }
    return rc;
}

static int upstream_row_cb(struct cg_store_sqlite *s, const char *env, sqlite3_stmt *q, void *item,
                           struct cg_err *err)
{
    return upstream_row_read(s, env, q, item, err);
}

static int sqlite_upstream_get(struct cg_store *st, const char *env, const char *name, struct cg_store_upstream *out,
                               struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    memset(out, 0, sizeof(*out));
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(arg_check("upstream name", name, err));
    CG_STMT q = NULL;
    int rc = query(s, &q, err, "SELECT " CG_UPSTREAM_COLUMNS " FROM upstreams WHERE env = ? AND name = ?", "tt", env,
                   name);
    if (rc == 0) rc = step(s, q, err);
    if (rc == 0) return upstream_not_found(env, name, err);
    if (rc == 1) {
        rc = upstream_row_read(s, env, q, out, err);
        if (rc == CG_ENOMEM) rc = oom(err, "reading an upstream");
    }
    if (rc < 0) cg_store_upstream_cleanup(out);
    return ctx(rc, err, "cannot read upstream '%s' of environment '%s'", name, env);
}

static int sqlite_upstream_list(struct cg_store *st, const char *env, struct cg_store_upstream_list *out,
                                struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    out->items = NULL;
    out->n = 0;
    CG_GUARD(arg_check("environment", env, err));
    CG_STMT q = NULL;
    int rc = query(s, &q, err, "SELECT " CG_UPSTREAM_COLUMNS " FROM upstreams WHERE env = ? ORDER BY name", "t", env);
    rc = rows_collect(s, env, q, rc, &out->items, &out->n, sizeof(*out->items), upstream_row_cb, "listing upstreams",
                      err);
    if (rc < 0) {
        cg_store_upstream_list_cleanup(out);
        return ctx(rc, err, "cannot list the upstreams of environment '%s'", env);
    }
    return 0;
}

static int upstream_delete_tx(struct cg_store_sqlite *s, const char *env, const char *name, struct cg_err *err)
{
    /* upstream_cas rows go with it (ON DELETE CASCADE) */
    CG_GUARD(run(s, err, "DELETE FROM upstreams WHERE env = ? AND name = ?", "tt", env, name));
    if (sqlite3_changes(s->db) == 0) return upstream_not_found(env, name, err);
    return revision_bump(s, env, err);
}

static int sqlite_upstream_delete(struct cg_store *st, const char *env, const char *name, struct cg_err *err)
{
    struct cg_store_sqlite *s = sq(st);
    CG_GUARD(arg_check("environment", env, err));
    CG_GUARD(arg_check("upstream name", name, err));
    struct op op;
    CG_GUARD(ctx(op_begin(s, &op, err), err, "cannot delete upstream '%s' of environment '%s'", name, env));
    int rc = op_end(s, &op, upstream_delete_tx(s, env, name, err), err);
    return ctx(rc, err, "cannot delete upstream '%s' of environment '%s'", name, env);
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
};
