/* The store interface against its sqlite backend: src/store/store.c, src/store/sqlite/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/file.h"
#include "core/mem.h"
#include "store/sqlite/sqlite_internal.h"
#include "store/store.h"

struct fx {
    char dir[PATH_MAX];
    char path[PATH_MAX];
    char url[PATH_MAX + 16];
    struct cg_store *s;
    struct cg_err err;
};

static const char PEM[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
static const uint8_t BLOB[] = {0x01, 0x00, 0xff, 0x00, 0x7f, 0x80};

/* ---- fixtures ------------------------------------------------------------------------------ */

static int fx_make(void **state, bool open_it)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    const char *base = getenv("CG_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    struct cg_err err;
    assert_int_equal(cg_dir_ensure(base, 0700, &err), 0);
    snprintf(f->dir, sizeof(f->dir), "%s/store-XXXXXX", base);
    assert_non_null(mkdtemp(f->dir));
    /* One level that does not exist yet: open(create) must make it. */
    snprintf(f->path, sizeof(f->path), "%s/data/certgate.db", f->dir);
    snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
    if (open_it) {
        int rc = cg_store_open(f->url, true, &f->s, &f->err);
        if (rc != 0) fprintf(stderr, "open: %s\n", f->err.msg);
        assert_int_equal(rc, 0);
    }
    *state = f;
    return 0;
}
static int setup(void **state) { return fx_make(state, true); }
static int setup_empty(void **state) { return fx_make(state, false); }

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    cg_store_close(f->s);
    nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------- */

static struct cg_store_cert cert_make(const char *name, int kind)
{
    struct cg_store_cert c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(cg_store_new_id(c.id), 0);
    c.name = (char *)name;
    c.kind = kind;
    c.cert_pem = (char *)PEM;
    if (kind != CG_STORE_CA) {
        c.key_blob = (uint8_t *)BLOB;
        c.key_blob_len = sizeof(BLOB);
    }
    c.warnings_json = (char *)"[\"expires in 10 days\"]";
    return c;
}

static void put(struct fx *f, const char *env, const char *name, int kind)
{
    struct cg_store_cert c = cert_make(name, kind);
    int rc = cg_store_cert_put(f->s, env, &c, false, &f->err);
    if (rc != 0) fprintf(stderr, "put %s: %s\n", name, f->err.msg);
    assert_int_equal(rc, 0);
}

static void pin(struct fx *f, const char *env, const char *target, const char *cert)
{
    int rc = cg_store_pin_put(f->s, env, target, cert, &f->err);
    if (rc != 0) fprintf(stderr, "pin %s: %s\n", target, f->err.msg);
    assert_int_equal(rc, 0);
}

static uint64_t rev(struct fx *f, const char *env)
{
    uint64_t r = 99;
    assert_int_equal(cg_store_revision(f->s, env, &r, &f->err), 0);
    return r;
}

static bool exists(struct fx *f, const char *env, const char *name)
{
    struct cg_store_cert c;
    int rc = cg_store_cert_get(f->s, env, name, &c, &f->err);
    cg_store_cert_cleanup(&c);
    if (rc != 0) assert_int_equal(rc, CG_ENOTFOUND);
    return rc == 0;
}

static size_t pin_count(struct fx *f, const char *env)
{
    struct cg_store_pin_list l;
    assert_int_equal(cg_store_pin_list(f->s, env, &l, &f->err), 0);
    size_t n = l.n;
    cg_store_pin_list_cleanup(&l);
    return n;
}

/* Runs one SQL statement on the database file behind the store's back. */
static void raw_exec(struct fx *f, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) fprintf(stderr, "raw: %s\n", msg);
    sqlite3_free(msg);
    sqlite3_close(db);
    assert_int_equal(rc, SQLITE_OK);
}

static int64_t raw_int(struct fx *f, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* ---- open, create, schema ------------------------------------------------------------------ */

static void test_open_missing(void **state)
{
    struct fx *f = *state;
    struct cg_store *s = (struct cg_store *)0x1;
    assert_int_equal(cg_store_open(f->url, false, &s, &f->err), CG_ENOSTORE);
    assert_null(s);
    assert_non_null(strstr(f->err.msg, "does not exist"));
    assert_non_null(strstr(f->err.msg, f->url));
    assert_non_null(strstr(f->err.hint, "certgate init"));
    assert_false(cg_file_exists(f->path)); /* and nothing was created */
}

static void test_unknown_scheme(void **state)
{
    struct fx *f = *state;
    struct cg_store *s = NULL;
    const char *bad[] = {"mysql://db/x", "postgresx:foo", "/var/lib/certgate/certgate.db", ""};
    for (size_t i = 0; i < CG_ARRAY_LEN(bad); i++) {
        cg_err_clear(&f->err);
        assert_int_equal(cg_store_open(bad[i], true, &s, &f->err), CG_EUSAGE);
        assert_null(s);
        assert_non_null(strstr(f->err.msg[0] ? f->err.msg : "x", bad[i][0] ? bad[i] : "store"));
        if (bad[i][0]) assert_non_null(strstr(f->err.msg, "sqlite:")); /* lists the known schemes */
        assert_true(f->err.hint[0] != '\0');
    }
    /* sqlite:// must be followed by an absolute path */
    assert_int_equal(cg_store_open("sqlite://relative.db", true, &s, &f->err), CG_EUSAGE);
    assert_int_equal(cg_store_open("sqlite:", true, &s, &f->err), CG_EUSAGE);
    char key[64];
    assert_int_equal(cg_store_default_master_key("nope:x", key, sizeof(key), &f->err), CG_EUSAGE);
}

static void test_create_reopen(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "a", CG_STORE_CLIENT);
    cg_store_close(f->s);
    f->s = NULL;
    assert_int_equal(cg_store_open(f->url, false, &f->s, &f->err), 0);
    assert_true(exists(f, "prod", "a"));
    cg_store_close(f->s);
    f->s = NULL;
    /* the same file as sqlite:///ABS, and create on an existing store keeps its data */
    char url2[PATH_MAX + 16];
    snprintf(url2, sizeof(url2), "sqlite://%s", f->path);
    assert_int_equal(cg_store_open(url2, true, &f->s, &f->err), 0);
    assert_true(exists(f, "prod", "a"));
    assert_int_equal(rev(f, "prod"), 1);
}

static void test_file_mode(void **state)
{
    struct fx *f = *state;
    mode_t old = umask(0); /* the most permissive umask: the store must still be private */
    int rc = cg_store_open(f->url, true, &f->s, &f->err);
    umask(old);
    assert_int_equal(rc, 0);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char dir[PATH_MAX];
    cg_path_dirname(f->path, dir, sizeof(dir));
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    /* WAL side files take the database's mode */
    put(f, "prod", "a", CG_STORE_CLIENT);
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    if (stat(wal, &sb) == 0) assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_migrations_idempotent(void **state)
{
    struct fx *f = *state;
    int latest = cg_store_sqlite_schema_latest();
    assert_true(latest >= 1);
    for (int i = 0; i < 3; i++) {
        cg_store_close(f->s);
        f->s = NULL;
        assert_int_equal(cg_store_open(f->url, i % 2 == 0, &f->s, &f->err), 0);
    }
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM schema_version"), latest);
    assert_int_equal(raw_int(f, "SELECT MAX(version) FROM schema_version"), latest);
    assert_int_equal(raw_int(f, "SELECT COUNT(DISTINCT version) FROM schema_version"), latest);
    assert_true(raw_int(f, "SELECT MIN(applied_at) FROM schema_version") > 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('environments','certs','pins')"),
                     3);
    char mode[16] = "";
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_string_equal(mode, "wal");
}

static void test_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "a", CG_STORE_CLIENT);
    cg_store_close(f->s);
    f->s = NULL;
    raw_exec(f, "INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'from the future', 1)");
    for (int create = 0; create <= 1; create++) {
        cg_err_clear(&f->err);
        assert_int_equal(cg_store_open(f->url, create, &f->s, &f->err), CG_ESTORE);
        assert_null(f->s);
        assert_non_null(strstr(f->err.msg, "999"));
        assert_non_null(strstr(f->err.msg, "newer"));
        assert_non_null(strstr(f->err.hint, "upgrade"));
    }
    /* refused, not damaged: the data is still there */
    assert_true(cg_file_exists(f->path));
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM certs"), 1);
}

static void test_foreign_database(void **state)
{
    struct fx *f = *state;
    struct cg_err err;
    assert_int_equal(cg_dir_ensure(f->dir, 0700, &err), 0);
    char dir[PATH_MAX];
    cg_path_dirname(f->path, dir, sizeof(dir));
    assert_int_equal(cg_dir_ensure(dir, 0700, &err), 0);
    /* an empty file is not a store unless we are told to create one */
    assert_int_equal(cg_file_create(f->path, "", 0, 0600, &err), 0);
    assert_int_equal(cg_store_open(f->url, false, &f->s, &f->err), CG_ENOSTORE);
    assert_non_null(strstr(f->err.hint, "certgate init"));
    unlink(f->path);
    /* another program's database is never written to */
    raw_exec(f, "CREATE TABLE other (x INTEGER)");
    assert_int_equal(cg_store_open(f->url, true, &f->s, &f->err), CG_ESTORE);
    assert_non_null(strstr(f->err.msg, "another program"));
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM sqlite_master"), 1);
    unlink(f->path);
    /* a file that is not a database at all */
    assert_int_equal(cg_file_create(f->path, "hello, world, this is not sqlite, at all......", 47, 0600, &err), 0);
    assert_int_equal(cg_store_open(f->url, false, &f->s, &f->err), CG_ESTORE);
    assert_true(cg_file_exists(f->path)); /* not ours to delete */
}

static void test_new_id_and_master_key(void **state)
{
    struct fx *f = *state;
    char a[33], b[33];
    assert_int_equal(cg_store_new_id(a), 0);
    assert_int_equal(cg_store_new_id(b), 0);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_string_not_equal(a, b);

    char key[PATH_MAX];
    assert_int_equal(cg_store_default_master_key("sqlite:/var/lib/certgate/certgate.db", key, sizeof(key), &f->err), 0);
    assert_string_equal(key, "/var/lib/certgate/master.key");
    assert_int_equal(cg_store_default_master_key("sqlite:///srv/c.db", key, sizeof(key), &f->err), 0);
    assert_string_equal(key, "/srv/master.key");
    assert_int_equal(cg_store_default_master_key("sqlite:///c.db", key, sizeof(key), &f->err), 0);
    assert_string_equal(key, "/master.key");
    assert_int_equal(cg_store_default_master_key("sqlite:c.db", key, sizeof(key), &f->err), 0);
    assert_string_equal(key, "./master.key");
    char tiny[8];
    assert_int_equal(cg_store_default_master_key("sqlite:/var/c.db", tiny, sizeof(tiny), &f->err), CG_EINVAL);
}

/* ---- certificates -------------------------------------------------------------------------- */

static void test_cert_put_get_list_delete(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "zeta", CG_STORE_CLIENT);
    put(f, "prod", "alpha", CG_STORE_SERVER);
    put(f, "prod", "mid", CG_STORE_CA);

    struct cg_store_cert_list l;
    assert_int_equal(cg_store_cert_list(f->s, "prod", &l, &f->err), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[0].name, "alpha");
    assert_string_equal(l.items[1].name, "mid");
    assert_string_equal(l.items[2].name, "zeta");
    assert_int_equal(l.items[0].kind, CG_STORE_SERVER);
    assert_null(l.items[1].key_blob); /* ca */
    assert_int_equal(l.items[1].key_blob_len, 0);
    cg_store_cert_list_cleanup(&l);
    assert_null(l.items);
    assert_int_equal(l.n, 0);

    struct cg_store_cert in = cert_make("withnull", CG_STORE_CLIENT);
    in.warnings_json = NULL; /* stored as [] */
    assert_int_equal(cg_store_cert_put(f->s, "prod", &in, false, &f->err), 0);
    struct cg_store_cert c;
    assert_int_equal(cg_store_cert_get(f->s, "prod", "withnull", &c, &f->err), 0);
    assert_string_equal(c.id, in.id);
    assert_string_equal(c.name, "withnull");
    assert_int_equal(c.kind, CG_STORE_CLIENT);
    assert_false(c.is_default);
    assert_string_equal(c.cert_pem, PEM);
    assert_string_equal(c.warnings_json, "[]");
    assert_true(c.created_at > 0);
    assert_int_equal(c.created_at, c.updated_at);
    cg_store_cert_cleanup(&c);
    assert_null(c.name);
    cg_store_cert_cleanup(&c); /* twice is harmless */

    assert_int_equal(cg_store_cert_get(f->s, "prod", "zeta", &c, &f->err), 0);
    assert_string_equal(c.warnings_json, "[\"expires in 10 days\"]");
    cg_store_cert_cleanup(&c);

    assert_int_equal(cg_store_cert_delete(f->s, "prod", "zeta", &f->err), 0);
    assert_int_equal(cg_store_cert_get(f->s, "prod", "zeta", &c, &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "'zeta'"));
    assert_non_null(strstr(f->err.msg, "'prod'"));
    assert_non_null(strstr(f->err.hint, "cert list"));
    cg_store_cert_cleanup(&c);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "zeta", &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "'zeta'"));

    assert_int_equal(cg_store_cert_list(f->s, "empty-env", &l, &f->err), 0);
    assert_int_equal(l.n, 0);
    cg_store_cert_list_cleanup(&l);
}

static void test_cert_invalid(void **state)
{
    struct fx *f = *state;
    struct cg_store_cert c = cert_make("x", CG_STORE_CLIENT);
    c.id[0] = '\0';
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), CG_EINVAL);
    c = cert_make("x", CG_STORE_CLIENT);
    c.id[3] = 'G';
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), CG_EINVAL);
    c = cert_make("x", CG_STORE_CLIENT);
    c.key_blob = NULL;
    c.key_blob_len = 0;
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "no private key"));
    c = cert_make("x", CG_STORE_CA);
    c.key_blob = (uint8_t *)BLOB;
    c.key_blob_len = sizeof(BLOB);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), CG_EINVAL);
    c = cert_make("x", 7);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), CG_EINVAL);
    c = cert_make("", CG_STORE_CLIENT);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), CG_EINVAL);
    c = cert_make("x", CG_STORE_CLIENT);
    assert_int_equal(cg_store_cert_put(f->s, "", &c, false, &f->err), CG_EINVAL);
    assert_int_equal(rev(f, "prod"), 0);
}

static void test_cert_duplicate(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "a", CG_STORE_CLIENT);
    struct cg_store_cert c = cert_make("a", CG_STORE_CLIENT);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), CG_EEXISTS);
    assert_string_equal(f->err.msg, "a certificate named 'a' already exists in environment 'prod'");
    assert_string_equal(f->err.hint, "choose another name, or replace it with --replace");
    assert_int_equal(rev(f, "prod"), 1);
}

static void test_replace_keeps_pins(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "a", CG_STORE_CLIENT);
    pin(f, "prod", "Billing.Pay", "a");
    pin(f, "prod", "api.partner.example", "a");
    raw_exec(f, "UPDATE certs SET created_at = 1000 WHERE name = 'a'");

    struct cg_store_cert c = cert_make("a", CG_STORE_CLIENT);
    static const char PEM2[] = "-----BEGIN CERTIFICATE-----\nNEW\n-----END CERTIFICATE-----\n";
    static const uint8_t BLOB2[] = {9, 8, 7};
    c.cert_pem = (char *)PEM2;
    c.key_blob = (uint8_t *)BLOB2;
    c.key_blob_len = sizeof(BLOB2);
    c.is_default = true;
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, true, &f->err), 0);

    struct cg_store_cert got;
    assert_int_equal(cg_store_cert_get(f->s, "prod", "a", &got, &f->err), 0);
    assert_string_equal(got.id, c.id);
    assert_string_equal(got.cert_pem, PEM2);
    assert_int_equal(got.key_blob_len, sizeof(BLOB2));
    assert_memory_equal(got.key_blob, BLOB2, sizeof(BLOB2));
    assert_true(got.is_default);
    assert_int_equal(got.created_at, 1000);
    assert_true(got.updated_at > 1000);
    cg_store_cert_cleanup(&got);

    struct cg_store_pin_list l;
    assert_int_equal(cg_store_pin_list(f->s, "prod", &l, &f->err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].cert_name, "a");
    assert_string_equal(l.items[1].cert_name, "a");
    cg_store_pin_list_cleanup(&l);

    /* replace=true with a name that does not exist simply inserts */
    struct cg_store_cert n = cert_make("b", CG_STORE_CLIENT);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &n, true, &f->err), 0);
    assert_true(exists(f, "prod", "b"));

    /* a pinned client certificate cannot become a ca (a pin names a client certificate) */
    struct cg_store_cert ca = cert_make("a", CG_STORE_CA);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &ca, true, &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "Billing.Pay"));
    assert_int_equal(cg_store_cert_get(f->s, "prod", "a", &got, &f->err), 0);
    assert_int_equal(got.kind, CG_STORE_CLIENT);
    cg_store_cert_cleanup(&got);
}

static void test_envs_isolated(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "same", CG_STORE_CLIENT);
    put(f, "stage", "same", CG_STORE_CA);
    pin(f, "prod", "t", "same");
    struct cg_store_cert c;
    assert_int_equal(cg_store_cert_get(f->s, "stage", "same", &c, &f->err), 0);
    assert_int_equal(c.kind, CG_STORE_CA);
    cg_store_cert_cleanup(&c);
    /* a pin in stage cannot see prod's client certificate of that name */
    assert_int_equal(cg_store_pin_put(f->s, "stage", "t", "same", &f->err), CG_EINVAL);
    assert_int_equal(pin_count(f, "stage"), 0);
    assert_int_equal(pin_count(f, "prod"), 1);
    assert_int_equal(cg_store_cert_delete(f->s, "stage", "same", &f->err), 0);
    assert_true(exists(f, "prod", "same"));
    assert_false(exists(f, "stage", "same"));
    assert_int_equal(cg_store_cert_set_default(f->s, "stage", "same", &f->err), CG_ENOTFOUND);
    assert_int_equal(rev(f, "prod"), 2);
    assert_int_equal(rev(f, "stage"), 2);
}

static void test_key_blob_round_trip(void **state)
{
    struct fx *f = *state;
    uint8_t blob[4099];
    for (size_t i = 0; i < sizeof(blob); i++) blob[i] = (uint8_t)(i * 7 % 256);
    blob[0] = 0;
    blob[sizeof(blob) - 1] = 0;
    struct cg_store_cert c = cert_make("k", CG_STORE_CLIENT);
    c.key_blob = blob;
    c.key_blob_len = sizeof(blob);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), 0);
    struct cg_store_cert got;
    assert_int_equal(cg_store_cert_get(f->s, "prod", "k", &got, &f->err), 0);
    assert_int_equal(got.key_blob_len, sizeof(blob));
    assert_memory_equal(got.key_blob, blob, sizeof(blob));
    cg_store_cert_cleanup(&got);
    assert_null(got.key_blob);
    assert_int_equal(got.key_blob_len, 0);

    struct cg_store_cert_list l;
    assert_int_equal(cg_store_cert_list(f->s, "prod", &l, &f->err), 0);
    assert_int_equal(l.n, 1);
    assert_memory_equal(l.items[0].key_blob, blob, sizeof(blob));
    cg_store_cert_list_cleanup(&l);
}

static void test_set_default(void **state)
{
    struct fx *f = *state;
    struct cg_store_cert a = cert_make("a", CG_STORE_CLIENT);
    a.is_default = true;
    assert_int_equal(cg_store_cert_put(f->s, "prod", &a, false, &f->err), 0);
    put(f, "prod", "b", CG_STORE_CLIENT);
    put(f, "prod", "srv", CG_STORE_SERVER);
    put(f, "prod", "root", CG_STORE_CA);
    put(f, "stage", "a", CG_STORE_CLIENT);
    assert_int_equal(cg_store_cert_set_default(f->s, "stage", "a", &f->err), 0);

    assert_int_equal(cg_store_cert_set_default(f->s, "prod", "b", &f->err), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM certs WHERE env = 'prod' AND is_default = 1"), 1);
    assert_int_equal(raw_int(f, "SELECT is_default FROM certs WHERE env = 'prod' AND name = 'b'"), 1);
    /* another environment's default is untouched */
    assert_int_equal(raw_int(f, "SELECT is_default FROM certs WHERE env = 'stage' AND name = 'a'"), 1);

    uint64_t r = rev(f, "prod");
    assert_int_equal(cg_store_cert_set_default(f->s, "prod", "root", &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "ca certificate"));
    assert_int_equal(cg_store_cert_set_default(f->s, "prod", "srv", &f->err), CG_EINVAL);
    assert_int_equal(cg_store_cert_set_default(f->s, "prod", "nope", &f->err), CG_ENOTFOUND);
    assert_int_equal(rev(f, "prod"), r);
    assert_int_equal(raw_int(f, "SELECT is_default FROM certs WHERE env = 'prod' AND name = 'b'"), 1);

    /* putting a new default takes the mark from b */
    struct cg_store_cert c = cert_make("c", CG_STORE_CLIENT);
    c.is_default = true;
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM certs WHERE env = 'prod' AND is_default = 1"), 1);
    assert_int_equal(raw_int(f, "SELECT is_default FROM certs WHERE env = 'prod' AND name = 'c'"), 1);
    /* only client certificates can be put as default */
    struct cg_store_cert ca = cert_make("root2", CG_STORE_CA);
    ca.is_default = true;
    assert_int_equal(cg_store_cert_put(f->s, "prod", &ca, false, &f->err), CG_EINVAL);
}

/* ---- pins ---------------------------------------------------------------------------------- */

static void test_pins(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "a", CG_STORE_CLIENT);
    put(f, "prod", "b", CG_STORE_CLIENT);
    put(f, "prod", "root", CG_STORE_CA);
    put(f, "prod", "srv", CG_STORE_SERVER);
    pin(f, "prod", "z.example", "a");
    pin(f, "prod", "Billing.Pay", NULL); /* none */
    pin(f, "prod", "*.partner.example", "a");
    pin(f, "prod", "z.example", "b"); /* upsert */

    struct cg_store_pin_list l;
    assert_int_equal(cg_store_pin_list(f->s, "prod", &l, &f->err), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[0].target, "*.partner.example");
    assert_string_equal(l.items[0].cert_name, "a");
    assert_string_equal(l.items[1].target, "Billing.Pay");
    assert_null(l.items[1].cert_name);
    assert_string_equal(l.items[2].target, "z.example");
    assert_string_equal(l.items[2].cert_name, "b");
    cg_store_pin_list_cleanup(&l);
    assert_null(l.items);

    uint64_t r = rev(f, "prod");
    assert_int_equal(cg_store_pin_put(f->s, "prod", "x", "missing", &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "'missing'"));
    assert_non_null(strstr(f->err.hint, "certgate cert list"));
    assert_int_equal(cg_store_pin_put(f->s, "prod", "x", "root", &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "ca certificate"));
    assert_non_null(strstr(f->err.msg, "client certificate"));
    assert_int_equal(cg_store_pin_put(f->s, "prod", "x", "srv", &f->err), CG_EINVAL);
    assert_int_equal(cg_store_pin_put(f->s, "prod", "", "a", &f->err), CG_EINVAL);
    assert_int_equal(cg_store_pin_delete(f->s, "prod", "nothing-here", &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "'nothing-here'"));
    assert_int_equal(rev(f, "prod"), r);
    assert_int_equal(pin_count(f, "prod"), 3);

    assert_int_equal(cg_store_pin_delete(f->s, "prod", "Billing.Pay", &f->err), 0);
    assert_int_equal(pin_count(f, "prod"), 2);
    assert_int_equal(rev(f, "prod"), r + 1);
    assert_int_equal(pin_count(f, "unknown-env"), 0);
}

static void test_delete_pinned(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "a", CG_STORE_CLIENT);
    const char *targets[] = {"t1", "t2", "t3", "t4", "t5", "t6", "t7"};
    for (size_t i = 0; i < CG_ARRAY_LEN(targets); i++) pin(f, "prod", targets[i], "a");
    uint64_t r = rev(f, "prod");
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "a", &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "'a'"));
    assert_non_null(strstr(f->err.msg, "7 targets"));
    assert_non_null(strstr(f->err.msg, "'t1', 't2', 't3', 't4', 't5' and 2 more"));
    assert_null(strstr(f->err.msg, "'t6'"));
    assert_string_equal(f->err.hint, "remove or repin them first: certgate pin rm TARGET");
    assert_true(exists(f, "prod", "a"));
    assert_int_equal(rev(f, "prod"), r);

    for (size_t i = 0; i < CG_ARRAY_LEN(targets) - 1; i++)
        assert_int_equal(cg_store_pin_delete(f->s, "prod", targets[i], &f->err), 0);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "a", &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "1 target: 't7'"));
    pin(f, "prod", "t7", NULL); /* repinned to none: no longer holds the certificate */
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "a", &f->err), 0);
    assert_false(exists(f, "prod", "a"));
}

/* ---- revisions and transactions ------------------------------------------------------------ */

static void test_revision(void **state)
{
    struct fx *f = *state;
    assert_int_equal(rev(f, "never-seen"), 0);
    uint64_t r = 0;
    put(f, "prod", "a", CG_STORE_CLIENT);
    assert_int_equal(rev(f, "prod"), ++r);
    struct cg_store_cert c = cert_make("a", CG_STORE_CLIENT);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, true, &f->err), 0);
    assert_int_equal(rev(f, "prod"), ++r);
    put(f, "prod", "b", CG_STORE_CLIENT);
    assert_int_equal(rev(f, "prod"), ++r);
    assert_int_equal(cg_store_cert_set_default(f->s, "prod", "b", &f->err), 0);
    assert_int_equal(rev(f, "prod"), ++r);
    pin(f, "prod", "t", "a");
    assert_int_equal(rev(f, "prod"), ++r);
    assert_int_equal(cg_store_pin_delete(f->s, "prod", "t", &f->err), 0);
    assert_int_equal(rev(f, "prod"), ++r);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "b", &f->err), 0);
    assert_int_equal(rev(f, "prod"), ++r);

    /* reads do not count */
    struct cg_store_cert got;
    assert_int_equal(cg_store_cert_get(f->s, "prod", "a", &got, &f->err), 0);
    cg_store_cert_cleanup(&got);
    struct cg_store_cert_list l;
    assert_int_equal(cg_store_cert_list(f->s, "prod", &l, &f->err), 0);
    cg_store_cert_list_cleanup(&l);
    assert_int_equal(pin_count(f, "prod"), 0);
    assert_int_equal(rev(f, "prod"), r);
    /* failures do not count */
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "b", &f->err), CG_ENOTFOUND);
    assert_int_equal(rev(f, "prod"), r);
    /* nor do changes in another environment */
    put(f, "stage", "a", CG_STORE_CLIENT);
    assert_int_equal(rev(f, "prod"), r);
    assert_int_equal(rev(f, "stage"), 1);
    /* and a failed op in a new environment does not create it */
    assert_int_equal(cg_store_cert_delete(f->s, "dev", "x", &f->err), CG_ENOTFOUND);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM environments WHERE name = 'dev'"), 0);
}

static void test_tx_rollback(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "base", CG_STORE_CLIENT);
    uint64_t r = rev(f, "prod");
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    put(f, "prod", "a", CG_STORE_CLIENT);
    pin(f, "prod", "t", "a");
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "base", &f->err), 0);
    put(f, "newenv", "x", CG_STORE_CA);
    assert_true(exists(f, "prod", "a")); /* visible inside the transaction */
    cg_store_rollback(f->s);
    assert_false(exists(f, "prod", "a"));
    assert_true(exists(f, "prod", "base"));
    assert_int_equal(pin_count(f, "prod"), 0);
    assert_int_equal(rev(f, "prod"), r);
    assert_int_equal(rev(f, "newenv"), 0);
    cg_store_rollback(f->s); /* no transaction: nothing happens */
    assert_int_equal(cg_store_commit(f->s, &f->err), CG_EUSAGE);

    /* commit makes it all visible, and another connection sees it */
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    put(f, "prod", "a", CG_STORE_CLIENT);
    pin(f, "prod", "t", "a");
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    assert_int_equal(rev(f, "prod"), r + 2);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM pins"), 1);

    /* closing with a transaction open rolls it back */
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    put(f, "prod", "lost", CG_STORE_CLIENT);
    cg_store_close(f->s);
    f->s = NULL;
    assert_int_equal(cg_store_open(f->url, false, &f->s, &f->err), 0);
    assert_false(exists(f, "prod", "lost"));
    assert_int_equal(rev(f, "prod"), r + 2);
}

static void test_tx_failing_op_does_not_poison(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "root", CG_STORE_CA);
    uint64_t r = rev(f, "prod");
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    put(f, "prod", "a", CG_STORE_CLIENT);
    struct cg_store_cert dup = cert_make("a", CG_STORE_CLIENT);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &dup, false, &f->err), CG_EEXISTS);
    assert_int_equal(cg_store_pin_put(f->s, "prod", "t", "missing", &f->err), CG_ENOTFOUND);
    assert_int_equal(cg_store_pin_put(f->s, "prod", "t", "root", &f->err), CG_EINVAL);
    pin(f, "prod", "u", "a");
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "a", &f->err), CG_EINUSE);
    assert_int_equal(cg_store_pin_delete(f->s, "prod", "t", &f->err), CG_ENOTFOUND);
    put(f, "prod", "b", CG_STORE_CLIENT);
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);

    assert_true(exists(f, "prod", "a"));
    assert_true(exists(f, "prod", "b"));
    assert_int_equal(pin_count(f, "prod"), 1);
    struct cg_store_cert got;
    assert_int_equal(cg_store_cert_get(f->s, "prod", "a", &got, &f->err), 0);
    assert_string_not_equal(got.id, dup.id); /* the refused put changed nothing */
    cg_store_cert_cleanup(&got);
    assert_int_equal(rev(f, "prod"), r + 3); /* a, pin u, b */
}

/* An operation that fails after it has written (the default was cleared, then the insert hit
 * the unique id) leaves nothing behind, on its own and inside a transaction. */
static void test_failure_after_write_is_undone(void **state)
{
    struct fx *f = *state;
    struct cg_store_cert a = cert_make("a", CG_STORE_CLIENT);
    a.is_default = true;
    assert_int_equal(cg_store_cert_put(f->s, "prod", &a, false, &f->err), 0);
    uint64_t r = rev(f, "prod");

    struct cg_store_cert c = cert_make("c", CG_STORE_CLIENT);
    memcpy(c.id, a.id, sizeof(c.id)); /* collides with a's id */
    c.is_default = true;
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), CG_ESTORE);
    assert_non_null(strstr(f->err.msg, "cannot store certificate 'c' in environment 'prod'"));
    assert_non_null(strstr(f->err.msg, f->url));
    assert_int_equal(raw_int(f, "SELECT is_default FROM certs WHERE name = 'a'"), 1);
    assert_int_equal(rev(f, "prod"), r);

    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    put(f, "prod", "b", CG_STORE_CLIENT);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), CG_ESTORE);
    put(f, "prod", "d", CG_STORE_CLIENT);
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    assert_int_equal(raw_int(f, "SELECT is_default FROM certs WHERE name = 'a'"), 1);
    assert_false(exists(f, "prod", "c"));
    assert_true(exists(f, "prod", "b"));
    assert_true(exists(f, "prod", "d"));
    assert_int_equal(rev(f, "prod"), r + 2);
}

/* Two handles on one file, as the CLI and the daemon have: a reader sees committed data only
 * and is not blocked by an open write transaction (WAL). */
static void test_two_handles(void **state)
{
    struct fx *f = *state;
    struct cg_store *b = NULL;
    assert_int_equal(cg_store_open(f->url, false, &b, &f->err), 0);
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    put(f, "prod", "a", CG_STORE_CLIENT);
    uint64_t r = 99;
    assert_int_equal(cg_store_revision(b, "prod", &r, &f->err), 0);
    assert_int_equal(r, 0);
    struct cg_store_cert c;
    assert_int_equal(cg_store_cert_get(b, "prod", "a", &c, &f->err), CG_ENOTFOUND);
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    assert_int_equal(cg_store_revision(b, "prod", &r, &f->err), 0);
    assert_int_equal(r, 1);
    assert_int_equal(cg_store_cert_get(b, "prod", "a", &c, &f->err), 0);
    cg_store_cert_cleanup(&c);
    /* and b writes after a committed */
    assert_int_equal(cg_store_pin_put(b, "prod", "t", "a", &f->err), 0);
    assert_int_equal(rev(f, "prod"), 2);
    cg_store_close(b);
}

/* ---- upstreams ----------------------------------------------------------------------------- */

static const char SPKI[] = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

static struct cg_store_upstream up_make(const char *name, const char *url, char **cas, size_t n_cas)
{
    struct cg_store_upstream u;
    memset(&u, 0, sizeof(u));
    u.name = (char *)name;
    u.url = (char *)url;
    u.cas = cas;
    u.n_cas = n_cas;
    return u;
}

static void up_put(struct fx *f, const char *env, const struct cg_store_upstream *u, bool replace)
{
    int rc = cg_store_upstream_put(f->s, env, u, replace, &f->err);
    if (rc != 0) fprintf(stderr, "upstream put %s: %s\n", u->name, f->err.msg);
    assert_int_equal(rc, 0);
}

static size_t up_count(struct fx *f, const char *env)
{
    struct cg_store_upstream_list l;
    assert_int_equal(cg_store_upstream_list(f->s, env, &l, &f->err), 0);
    size_t n = l.n;
    cg_store_upstream_list_cleanup(&l);
    return n;
}

static void test_upstream_put_get_list_delete(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "root", CG_STORE_CA);
    put(f, "prod", "inter", CG_STORE_CA);
    char *cas[] = {"root", "inter"}; /* the order given is kept, not sorted */
    struct cg_store_upstream u = up_make("partner", "https://api.partner.example:8443/v1", cas, 2);
    u.server_name = "verify.partner.example";
    u.spki_sha256 = (char *)SPKI;
    u.connect_timeout_ms = 1500;
    u.timeout_ms = 600000;
    up_put(f, "prod", &u, false);
    struct cg_store_upstream plain = up_make("billing", "https://billing.example", NULL, 0);
    up_put(f, "prod", &plain, false);

    struct cg_store_upstream got;
    assert_int_equal(cg_store_upstream_get(f->s, "prod", "partner", &got, &f->err), 0);
    assert_string_equal(got.name, "partner");
    assert_string_equal(got.url, "https://api.partner.example:8443/v1");
    assert_string_equal(got.server_name, "verify.partner.example");
    assert_string_equal(got.spki_sha256, SPKI);
    assert_int_equal(got.n_cas, 2);
    assert_string_equal(got.cas[0], "root");
    assert_string_equal(got.cas[1], "inter");
    assert_int_equal(got.connect_timeout_ms, 1500);
    assert_int_equal(got.timeout_ms, 600000);
    cg_store_upstream_cleanup(&got);
    cg_store_upstream_cleanup(NULL);

    assert_int_equal(cg_store_upstream_get(f->s, "prod", "billing", &got, &f->err), 0);
    assert_null(got.server_name);
    assert_null(got.spki_sha256);
    assert_int_equal(got.n_cas, 0);
    assert_null(got.cas);
    assert_int_equal(got.connect_timeout_ms, 0);
    assert_int_equal(got.timeout_ms, 0);
    cg_store_upstream_cleanup(&got);

    struct cg_store_upstream_list l;
    assert_int_equal(cg_store_upstream_list(f->s, "prod", &l, &f->err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].name, "billing"); /* ordered by name */
    assert_string_equal(l.items[1].name, "partner");
    assert_int_equal(l.items[1].n_cas, 2);
    assert_string_equal(l.items[1].cas[1], "inter");
    cg_store_upstream_list_cleanup(&l);
    cg_store_upstream_list_cleanup(NULL);

    assert_int_equal(cg_store_upstream_delete(f->s, "prod", "partner", &f->err), 0);
    assert_int_equal(up_count(f, "prod"), 1);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM upstream_cas"), 0); /* the list went with it */
    cg_err_clear(&f->err);
    assert_int_equal(cg_store_upstream_delete(f->s, "prod", "partner", &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "no upstream named 'partner' in environment 'prod'"));
    assert_non_null(strstr(f->err.hint, "certgate upstream list"));
    assert_int_equal(cg_store_upstream_get(f->s, "prod", "partner", &got, &f->err), CG_ENOTFOUND);
    assert_null(got.name);
    /* the CAs it trusted can go now */
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "inter", &f->err), 0);
}

static void test_upstream_ca_checks(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "root", CG_STORE_CA);
    put(f, "prod", "client", CG_STORE_CLIENT);
    put(f, "prod", "server", CG_STORE_SERVER);
    uint64_t r = rev(f, "prod");

    char *missing[] = {"root", "nope"};
    struct cg_store_upstream u = up_make("api", "https://api.example", missing, 2);
    cg_err_clear(&f->err);
    assert_int_equal(cg_store_upstream_put(f->s, "prod", &u, false, &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "upstream 'api'"));
    assert_non_null(strstr(f->err.msg, "'nope'"));
    assert_non_null(strstr(f->err.hint, "certgate ca add nope"));

    const char *wrong[] = {"client", "server"};
    for (size_t i = 0; i < CG_ARRAY_LEN(wrong); i++) {
        char *one[] = {(char *)wrong[i]};
        u = up_make("api", "https://api.example", one, 1);
        cg_err_clear(&f->err);
        assert_int_equal(cg_store_upstream_put(f->s, "prod", &u, false, &f->err), CG_EINVAL);
        assert_non_null(strstr(f->err.msg, wrong[i]));
        assert_non_null(strstr(f->err.msg, "not a CA bundle"));
        assert_true(f->err.hint[0] != '\0');
    }
    char *twice[] = {"root", "root"};
    u = up_make("api", "https://api.example", twice, 2);
    assert_int_equal(cg_store_upstream_put(f->s, "prod", &u, false, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "twice"));
    /* bad arguments */
    u = up_make("", "https://api.example", NULL, 0);
    assert_int_equal(cg_store_upstream_put(f->s, "prod", &u, false, &f->err), CG_EINVAL);
    u = up_make("api", "", NULL, 0);
    assert_int_equal(cg_store_upstream_put(f->s, "prod", &u, false, &f->err), CG_EINVAL);
    u = up_make("api", "https://api.example", NULL, 0);
    u.server_name = "";
    assert_int_equal(cg_store_upstream_put(f->s, "prod", &u, false, &f->err), CG_EINVAL);
    assert_int_equal(cg_store_upstream_put(f->s, "prod", NULL, false, &f->err), CG_EINVAL);
    assert_int_equal(cg_store_upstream_put(f->s, "", &u, false, &f->err), CG_EINVAL);
    /* nothing was stored and nothing counted */
    assert_int_equal(up_count(f, "prod"), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM upstream_cas"), 0);
    assert_int_equal(rev(f, "prod"), r);
}

static void test_upstream_ca_in_use(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "root", CG_STORE_CA);
    put(f, "prod", "other", CG_STORE_CA);
    char *cas[] = {"root"};
    struct cg_store_upstream a = up_make("alpha", "https://a.example", cas, 1);
    struct cg_store_upstream b = up_make("beta", "https://b.example", cas, 1);
    up_put(f, "prod", &a, false);
    up_put(f, "prod", &b, false);
    uint64_t r = rev(f, "prod");

    cg_err_clear(&f->err);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "root", &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "cannot delete certificate 'root'"));
    assert_non_null(strstr(f->err.msg, "trusted by 2 upstreams: 'alpha', 'beta'"));
    assert_null(strstr(f->err.msg, "pinned"));
    assert_non_null(strstr(f->err.hint, "certgate upstream set"));
    assert_true(exists(f, "prod", "root"));
    assert_int_equal(rev(f, "prod"), r);

    /* replacing the bundle with another bundle is fine (rotation); with a client certificate not */
    struct cg_store_cert c = cert_make("root", CG_STORE_CA);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, true, &f->err), 0);
    c = cert_make("root", CG_STORE_CLIENT);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, true, &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "trusted by 2 upstreams"));

    /* one upstream moves to another CA, the other to the environment's trust: then it can go */
    char *other[] = {"other"};
    a = up_make("alpha", "https://a.example", other, 1);
    up_put(f, "prod", &a, true);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "root", &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "trusted by 1 upstream: 'beta'"));
    b = up_make("beta", "https://b.example", NULL, 0);
    up_put(f, "prod", &b, true);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "root", &f->err), 0);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "other", &f->err), CG_EINUSE);

    /* a CA bundle cannot be pinned, so pins and upstreams never hold the same certificate; the
     * message still names both kinds when the database holds both (a store edited by hand) */
    raw_exec(f, "PRAGMA foreign_keys = OFF; INSERT INTO pins (env, target, cert_name) VALUES ('prod', 'x.example', "
                "'other')");
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "other", &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "pinned by 1 target: 'x.example'; it is trusted by 1 upstream: 'alpha'"));
}

static void test_upstream_replace(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "root", CG_STORE_CA);
    put(f, "prod", "other", CG_STORE_CA);
    char *cas[] = {"root", "other"};
    struct cg_store_upstream u = up_make("api", "https://api.example", cas, 2);
    u.spki_sha256 = (char *)SPKI;
    up_put(f, "prod", &u, false);
    raw_exec(f, "UPDATE upstreams SET created_at = 1000, updated_at = 1000");

    cg_err_clear(&f->err);
    struct cg_store_upstream again = up_make("api", "https://elsewhere.example", NULL, 0);
    assert_int_equal(cg_store_upstream_put(f->s, "prod", &again, false, &f->err), CG_EEXISTS);
    assert_non_null(strstr(f->err.msg, "'api' already exists"));
    assert_non_null(strstr(f->err.hint, "--replace"));

    char *one[] = {"other"};
    struct cg_store_upstream repl = up_make("api", "https://api.example/v2", one, 1);
    repl.timeout_ms = 30000;
    up_put(f, "prod", &repl, true);
    struct cg_store_upstream got;
    assert_int_equal(cg_store_upstream_get(f->s, "prod", "api", &got, &f->err), 0);
    assert_string_equal(got.url, "https://api.example/v2");
    assert_null(got.spki_sha256); /* replace is whole: what is not given is gone */
    assert_int_equal(got.n_cas, 1);
    assert_string_equal(got.cas[0], "other");
    assert_int_equal(got.timeout_ms, 30000);
    cg_store_upstream_cleanup(&got);
    assert_int_equal(raw_int(f, "SELECT created_at FROM upstreams WHERE name = 'api'"), 1000);
    assert_true(raw_int(f, "SELECT updated_at FROM upstreams WHERE name = 'api'") > 1000);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM upstream_cas"), 1);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "root", &f->err), 0); /* no longer trusted */

    /* names that differ only in case are one name to a Host field */
    struct cg_store_upstream upper = up_make("API", "https://api.example", NULL, 0);
    assert_int_equal(cg_store_upstream_put(f->s, "prod", &upper, true, &f->err), CG_EEXISTS);
    assert_non_null(strstr(f->err.msg, "'api' already exists"));
    assert_non_null(strstr(f->err.msg, "ignore case"));
    assert_int_equal(cg_store_upstream_put(f->s, "stage", &upper, false, &f->err), 0); /* another environment */
    /* replace of a new name adds it */
    struct cg_store_upstream fresh = up_make("new", "https://new.example", NULL, 0);
    up_put(f, "prod", &fresh, true);
    assert_int_equal(up_count(f, "prod"), 2);
    /* a failed replace leaves the old one whole */
    char *gone[] = {"gone"};
    struct cg_store_upstream bad = up_make("api", "https://changed.example", gone, 1);
    assert_int_equal(cg_store_upstream_put(f->s, "prod", &bad, true, &f->err), CG_ENOTFOUND);
    assert_int_equal(cg_store_upstream_get(f->s, "prod", "api", &got, &f->err), 0);
    assert_string_equal(got.url, "https://api.example/v2");
    assert_int_equal(got.n_cas, 1);
    cg_store_upstream_cleanup(&got);
}

static void test_upstream_revision(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "root", CG_STORE_CA);
    uint64_t r = rev(f, "prod");
    char *cas[] = {"root"};
    struct cg_store_upstream u = up_make("api", "https://api.example", cas, 1);
    up_put(f, "prod", &u, false);
    assert_int_equal(rev(f, "prod"), ++r);
    up_put(f, "prod", &u, true);
    assert_int_equal(rev(f, "prod"), ++r);
    /* reads and failures do not count */
    assert_int_equal(up_count(f, "prod"), 1);
    assert_int_equal(cg_store_upstream_put(f->s, "prod", &u, false, &f->err), CG_EEXISTS);
    assert_int_equal(cg_store_upstream_delete(f->s, "prod", "nope", &f->err), CG_ENOTFOUND);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "root", &f->err), CG_EINUSE);
    assert_int_equal(rev(f, "prod"), r);
    assert_int_equal(cg_store_upstream_delete(f->s, "prod", "api", &f->err), 0);
    assert_int_equal(rev(f, "prod"), ++r);

    /* inside the caller's transaction: a failing put leaves the transaction usable, and a
     * rollback undoes a good one */
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    up_put(f, "prod", &u, false);
    char *nope[] = {"nope"};
    struct cg_store_upstream bad = up_make("bad", "https://bad.example", nope, 1);
    assert_int_equal(cg_store_upstream_put(f->s, "prod", &bad, false, &f->err), CG_ENOTFOUND);
    assert_int_equal(up_count(f, "prod"), 1);
    cg_store_rollback(f->s);
    assert_int_equal(up_count(f, "prod"), 0);
    assert_int_equal(rev(f, "prod"), r);
}

static void test_upstream_envs_isolated(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "root", CG_STORE_CA);
    put(f, "stage", "root", CG_STORE_CA);
    put(f, "prod", "prod-only", CG_STORE_CA);
    char *cas[] = {"root"};
    struct cg_store_upstream u = up_make("api", "https://api.example", cas, 1);
    up_put(f, "prod", &u, false);
    struct cg_store_upstream s = up_make("api", "https://api.stage.example", NULL, 0);
    up_put(f, "stage", &s, false); /* the same name in another environment */
    assert_int_equal(up_count(f, "prod"), 1);
    assert_int_equal(up_count(f, "stage"), 1);
    assert_int_equal(up_count(f, "dev"), 0);
    struct cg_store_upstream got;
    assert_int_equal(cg_store_upstream_get(f->s, "stage", "api", &got, &f->err), 0);
    assert_string_equal(got.url, "https://api.stage.example");
    assert_int_equal(got.n_cas, 0);
    cg_store_upstream_cleanup(&got);
    /* a CA of another environment is not there */
    char *other[] = {"prod-only"};
    struct cg_store_upstream x = up_make("x", "https://x.example", other, 1);
    assert_int_equal(cg_store_upstream_put(f->s, "stage", &x, false, &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "environment 'stage'"));
    /* stage's root is not held by prod's upstream */
    assert_int_equal(cg_store_cert_delete(f->s, "stage", "root", &f->err), 0);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "root", &f->err), CG_EINUSE);
    assert_int_equal(cg_store_upstream_delete(f->s, "stage", "api", &f->err), 0);
    assert_int_equal(up_count(f, "prod"), 1);
}

/* The schema exactly as step 1 shipped it: a store written by the first release. */
static const char SCHEMA_V1[] =
    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);"
    "CREATE TABLE environments (name TEXT PRIMARY KEY, revision INTEGER NOT NULL);"
    "CREATE TABLE certs (id TEXT PRIMARY KEY, env TEXT NOT NULL, name TEXT NOT NULL,"
    "  kind INTEGER NOT NULL CHECK (kind IN (0, 1, 2)),"
    "  is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),"
    "  cert_pem TEXT NOT NULL, key_blob BLOB, warnings TEXT NOT NULL DEFAULT '[]',"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE (env, name));"
    "CREATE UNIQUE INDEX certs_one_default ON certs (env) WHERE is_default = 1;"
    "CREATE TABLE pins (env TEXT NOT NULL, target TEXT NOT NULL, cert_name TEXT, PRIMARY KEY (env, target),"
    "  FOREIGN KEY (env, cert_name) REFERENCES certs (env, name) ON DELETE RESTRICT);"
    "CREATE INDEX pins_by_cert ON pins (env, cert_name);"
    "INSERT INTO schema_version VALUES (1, 'environments, certificates and pins', 1700000000);"
    "INSERT INTO environments VALUES ('prod', 7);"
    "INSERT INTO certs VALUES ('0123456789abcdef0123456789abcdef', 'prod', 'client', 0, 1, 'PEM', x'0102', '[]',"
    "  1700000000, 1700000000);"
    "INSERT INTO certs VALUES ('fedcba9876543210fedcba9876543210', 'prod', 'root', 2, 0, 'PEM', NULL, '[]',"
    "  1700000000, 1700000000);"
    "INSERT INTO pins VALUES ('prod', 'api.partner.example', 'client');";

static void test_upstream_migration_from_v1(void **state)
{
    struct fx *f = *state;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/data", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    raw_exec(f, SCHEMA_V1);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'upstreams'"), 0);

    /* a plain open (not init) upgrades it */
    int rc = cg_store_open(f->url, false, &f->s, &f->err);
    if (rc != 0) fprintf(stderr, "open: %s\n", f->err.msg);
    assert_int_equal(rc, 0);
    assert_true(cg_store_sqlite_schema_latest() >= 2);
    assert_int_equal(raw_int(f, "SELECT MAX(version) FROM schema_version"), cg_store_sqlite_schema_latest());
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM schema_version WHERE version = 2 AND name = 'upstreams'"), 1);
    assert_int_equal(raw_int(f, "SELECT applied_at FROM schema_version WHERE version = 1"), 1700000000);

    /* the data of version 1 is all there */
    assert_int_equal(rev(f, "prod"), 7);
    struct cg_store_cert c;
    assert_int_equal(cg_store_cert_get(f->s, "prod", "client", &c, &f->err), 0);
    assert_true(c.is_default);
    assert_int_equal(c.key_blob_len, 2);
    assert_int_equal(c.created_at, 1700000000);
    cg_store_cert_cleanup(&c);
    struct cg_store_pin_list pins;
    assert_int_equal(cg_store_pin_list(f->s, "prod", &pins, &f->err), 0);
    assert_int_equal(pins.n, 1);
    assert_string_equal(pins.items[0].cert_name, "client");
    cg_store_pin_list_cleanup(&pins);

    /* and the new objects work on it, with the foreign keys of the new step */
    char *cas[] = {"root"};
    struct cg_store_upstream u = up_make("api", "https://api.example", cas, 1);
    up_put(f, "prod", &u, false);
    assert_int_equal(rev(f, "prod"), 8);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "root", &f->err), CG_EINUSE);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "client", &f->err), CG_EINUSE);

    /* reopening applies nothing twice */
    cg_store_close(f->s);
    f->s = NULL;
    assert_int_equal(cg_store_open(f->url, false, &f->s, &f->err), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM schema_version"), cg_store_sqlite_schema_latest());
    assert_int_equal(up_count(f, "prod"), 1);
}

/* ---- sites, profiles, rules, CRLs (schema step 3) ------------------------------------------ */

static const char FP_A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char FP_B[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static struct cg_store_site_domain dom(const char *host, const char *cert)
{
    struct cg_store_site_domain d = {(char *)host, (char *)cert};
    return d;
}

static void site_put(struct fx *f, const char *env, const struct cg_store_site *site, bool replace)
{
    int rc = cg_store_site_put(f->s, env, site, replace, &f->err);
    if (rc != 0) fprintf(stderr, "site put %s: %s\n", site->name, f->err.msg);
    assert_int_equal(rc, 0);
}

static void rule_put(struct fx *f, const char *env, const char *site, const char *path, const char *profile)
{
    struct cg_store_rule r = {(char *)site, (char *)path, (char *)profile};
    int rc = cg_store_rule_put(f->s, env, &r, &f->err);
    if (rc != 0) fprintf(stderr, "rule put %s %s: %s\n", site, path, f->err.msg);
    assert_int_equal(rc, 0);
}

static size_t rule_count(struct fx *f, const char *env, const char *site)
{
    struct cg_store_rule_list l;
    assert_int_equal(cg_store_rule_list(f->s, env, site, &l, &f->err), 0);
    size_t n = l.n;
    cg_store_rule_list_cleanup(&l);
    return n;
}

/* "web": two domains (one named certificate, one automatic), an mTLS domain, two client CAs. */
static void web_make(struct fx *f, struct cg_store_site_domain doms[2], char *cas[2], struct cg_store_site *site)
{
    put(f, "prod", "web-cert", CG_STORE_SERVER);
    put(f, "prod", "clients", CG_STORE_CA);
    put(f, "prod", "partners", CG_STORE_CA);
    doms[0] = dom("www.example.com", "web-cert");
    doms[1] = dom("app.example.com", NULL);
    cas[0] = "partners"; /* the order given is kept */
    cas[1] = "clients";
    memset(site, 0, sizeof(*site));
    site->name = "web";
    site->backend = "http://127.0.0.1:8080";
    site->mtls = CG_STORE_MTLS_OPTIONAL;
    site->domains = doms;
    site->n_domains = 2;
    site->mtls_domain = dom("mtls.example.com", "web-cert");
    site->client_cas = cas;
    site->n_client_cas = 2;
}

static void test_site_put_get_list_delete(void **state)
{
    struct fx *f = *state;
    struct cg_store_site_domain doms[2];
    char *cas[2];
    struct cg_store_site web;
    web_make(f, doms, cas, &web);
    uint64_t r = rev(f, "prod");
    site_put(f, "prod", &web, false);
    assert_int_equal(rev(f, "prod"), ++r);
    struct cg_store_site_domain api_doms[] = {dom("api.example.com", NULL)};
    struct cg_store_site api = {.name = "api", .backend = "http://[::1]:9000", .domains = api_doms, .n_domains = 1};
    site_put(f, "prod", &api, false);

    struct cg_store_site got;
    assert_int_equal(cg_store_site_get(f->s, "prod", "web", &got, &f->err), 0);
    assert_string_equal(got.name, "web");
    assert_string_equal(got.backend, "http://127.0.0.1:8080");
    assert_int_equal(got.mtls, CG_STORE_MTLS_OPTIONAL);
    assert_int_equal(got.n_domains, 2);
    assert_string_equal(got.domains[0].host, "app.example.com"); /* ordered by host */
    assert_null(got.domains[0].cert_name);
    assert_string_equal(got.domains[1].host, "www.example.com");
    assert_string_equal(got.domains[1].cert_name, "web-cert");
    assert_string_equal(got.mtls_domain.host, "mtls.example.com");
    assert_string_equal(got.mtls_domain.cert_name, "web-cert");
    assert_int_equal(got.n_client_cas, 2);
    assert_string_equal(got.client_cas[0], "partners");
    assert_string_equal(got.client_cas[1], "clients");
    cg_store_site_cleanup(&got);
    cg_store_site_cleanup(NULL);

    assert_int_equal(cg_store_site_get(f->s, "prod", "api", &got, &f->err), 0);
    assert_int_equal(got.mtls, CG_STORE_MTLS_OFF);
    assert_null(got.mtls_domain.host);
    assert_null(got.mtls_domain.cert_name);
    assert_int_equal(got.n_client_cas, 0);
    assert_null(got.client_cas);
    cg_store_site_cleanup(&got);

    struct cg_store_site_list l;
    assert_int_equal(cg_store_site_list(f->s, "prod", &l, &f->err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].name, "api"); /* ordered by name */
    assert_string_equal(l.items[1].name, "web");
    assert_int_equal(l.items[1].n_domains, 2);
    assert_string_equal(l.items[1].mtls_domain.host, "mtls.example.com");
    cg_store_site_list_cleanup(&l);
    cg_store_site_list_cleanup(NULL);
    assert_int_equal(cg_store_site_list(f->s, "stage", &l, &f->err), 0);
    assert_int_equal(l.n, 0);

    rule_put(f, "prod", "web", "/", "allow-all");
    r = rev(f, "prod");
    assert_int_equal(cg_store_site_delete(f->s, "prod", "web", &f->err), 0);
    assert_int_equal(rev(f, "prod"), ++r);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM site_domains WHERE site = 'web'"), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM site_cas"), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM rules"), 0); /* its rules went with it */
    cg_err_clear(&f->err);
    assert_int_equal(cg_store_site_delete(f->s, "prod", "web", &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "no site named 'web' in environment 'prod'"));
    assert_non_null(strstr(f->err.hint, "certgate site list"));
    assert_int_equal(cg_store_site_get(f->s, "prod", "web", &got, &f->err), CG_ENOTFOUND);
    assert_null(got.name);
    assert_int_equal(rev(f, "prod"), r);
    /* the certificates it named can go now */
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "web-cert", &f->err), 0);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "partners", &f->err), 0);
}

static void site_refused(struct fx *f, const struct cg_store_site *site, bool replace, int code, const char *p1,
                         const char *p2)
{
    cg_err_clear(&f->err);
    int rc = cg_store_site_put(f->s, "prod", site, replace, &f->err);
    if (rc != code) fail_msg("rc %d, expected %d: %s", rc, code, f->err.msg);
    if (p1 && !strstr(f->err.msg, p1)) fail_msg("message \"%s\" lacks \"%s\"", f->err.msg, p1);
    if (p2 && !strstr(f->err.msg, p2)) fail_msg("message \"%s\" lacks \"%s\"", f->err.msg, p2);
}

static void test_site_refusals(void **state)
{
    struct fx *f = *state;
    struct cg_store_site_domain doms[2];
    char *cas[2];
    struct cg_store_site web;
    web_make(f, doms, cas, &web);
    put(f, "prod", "client", CG_STORE_CLIENT);
    uint64_t r = rev(f, "prod");

    doms[0] = dom("www.example.com", "nope");
    site_refused(f, &web, false, CG_ENOTFOUND, "domain 'www.example.com' presents certificate 'nope'", "environment 'prod'");
    assert_non_null(strstr(f->err.hint, "certgate cert add nope FILE --kind server"));
    doms[0] = dom("www.example.com", "client");
    site_refused(f, &web, false, CG_EINVAL, "it is a client certificate", "server certificate");
    doms[0] = dom("www.example.com", "clients");
    site_refused(f, &web, false, CG_EINVAL, "it is a ca certificate", NULL);
    doms[0] = dom("www.example.com", "web-cert");
    cas[1] = "missing";
    site_refused(f, &web, false, CG_ENOTFOUND, "site 'web' verifies clients with CA 'missing'", "no CA bundle");
    assert_non_null(strstr(f->err.hint, "certgate ca add missing"));
    cas[1] = "web-cert";
    site_refused(f, &web, false, CG_EINVAL, "it is a server certificate, not a CA bundle", NULL);
    cas[1] = "partners";
    site_refused(f, &web, false, CG_EINVAL, "names client CA 'partners' twice", NULL);
    cas[1] = "clients";
    doms[1] = dom("www.example.com", NULL);
    site_refused(f, &web, false, CG_EINVAL, "names host 'www.example.com' twice", NULL);
    doms[1] = dom("mtls.example.com", NULL);
    site_refused(f, &web, false, CG_EINVAL, "names host 'mtls.example.com' twice", "mTLS domain");
    doms[1] = dom("app.example.com", "");
    site_refused(f, &web, false, CG_EINVAL, "empty certificate", NULL);
    doms[1] = dom("app.example.com", NULL);
    web.mtls = 3;
    site_refused(f, &web, false, CG_EINVAL, "unknown mTLS mode", NULL);
    web.mtls = CG_STORE_MTLS_REQUIRED;
    web.backend = "";
    site_refused(f, &web, false, CG_EINVAL, "no backend", NULL);
    web.backend = "http://127.0.0.1:8080";
    assert_int_equal(cg_store_site_put(f->s, "prod", NULL, false, &f->err), CG_EINVAL);
    assert_int_equal(cg_store_site_put(f->s, "", &web, false, &f->err), CG_EINVAL);
    /* nothing was stored and nothing counted */
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM sites"), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM site_domains"), 0);
    assert_int_equal(rev(f, "prod"), r);

    /* a host belongs to one site of the environment */
    site_put(f, "prod", &web, false);
    site_refused(f, &web, false, CG_EEXISTS, "a site named 'web' already exists", NULL);
    assert_non_null(strstr(f->err.hint, "certgate site set web"));
    struct cg_store_site_domain other_doms[] = {dom("new.example.com", NULL), dom("app.example.com", NULL)};
    struct cg_store_site other = {.name = "other", .backend = "http://127.0.0.1:1", .domains = other_doms,
                                  .n_domains = 2};
    site_refused(f, &other, false, CG_EEXISTS, "host 'app.example.com' already belongs to site 'web'", NULL);
    assert_non_null(strstr(f->err.hint, "certgate site set web"));
    other_doms[1] = dom("new2.example.com", NULL);
    other.mtls_domain = dom("mtls.example.com", NULL);
    site_refused(f, &other, false, CG_EEXISTS, "host 'mtls.example.com' already belongs to site 'web'", NULL);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM sites WHERE name = 'other'"), 0);
    /* the same host in another environment is another host */
    put(f, "stage", "web-cert", CG_STORE_SERVER);
    other.mtls_domain = dom("mtls.example.com", "web-cert");
    assert_int_equal(cg_store_site_put(f->s, "stage", &other, false, &f->err), 0);
}

static void test_site_replace_keeps_rules(void **state)
{
    struct fx *f = *state;
    struct cg_store_site_domain doms[2];
    char *cas[2];
    struct cg_store_site web;
    web_make(f, doms, cas, &web);
    site_put(f, "prod", &web, false);
    rule_put(f, "prod", "web", "/admin/", "deny-all");
    raw_exec(f, "UPDATE sites SET created_at = 1000, updated_at = 1000");

    struct cg_store_site_domain one[] = {dom("app.example.com", "web-cert")};
    struct cg_store_site repl = {.name = "web", .backend = "http://127.0.0.1:9090", .mtls = CG_STORE_MTLS_REQUIRED,
                                 .domains = one, .n_domains = 1};
    site_put(f, "prod", &repl, true);
    struct cg_store_site got;
    assert_int_equal(cg_store_site_get(f->s, "prod", "web", &got, &f->err), 0);
    assert_string_equal(got.backend, "http://127.0.0.1:9090");
    assert_int_equal(got.mtls, CG_STORE_MTLS_REQUIRED);
    assert_int_equal(got.n_domains, 1);
    assert_string_equal(got.domains[0].cert_name, "web-cert");
    assert_null(got.mtls_domain.host); /* replace is whole */
    assert_int_equal(got.n_client_cas, 0);
    cg_store_site_cleanup(&got);
    assert_int_equal(rule_count(f, "prod", "web"), 1);
    assert_int_equal(raw_int(f, "SELECT created_at FROM sites"), 1000);
    assert_true(raw_int(f, "SELECT updated_at FROM sites") > 1000);
    /* the hosts it gave up are free for another site */
    struct cg_store_site_domain www[] = {dom("www.example.com", NULL)};
    struct cg_store_site other = {.name = "other", .backend = "http://127.0.0.1:1", .domains = www, .n_domains = 1};
    site_put(f, "prod", &other, false);
    /* a failed replace leaves the old one whole */
    struct cg_store_site_domain bad[] = {dom("app.example.com", "gone")};
    repl.domains = bad;
    assert_int_equal(cg_store_site_put(f->s, "prod", &repl, true, &f->err), CG_ENOTFOUND);
    assert_int_equal(cg_store_site_get(f->s, "prod", "web", &got, &f->err), 0);
    assert_string_equal(got.domains[0].cert_name, "web-cert");
    cg_store_site_cleanup(&got);
}

static void test_site_certs_in_use(void **state)
{
    struct fx *f = *state;
    struct cg_store_site_domain doms[2];
    char *cas[2];
    struct cg_store_site web;
    web_make(f, doms, cas, &web);
    site_put(f, "prod", &web, false);
    struct cg_store_profile_ca pcas[] = {{"clients", NULL, 0}};
    struct cg_store_profile p = {.name = "staff", .cas = pcas, .n_cas = 1};
    assert_int_equal(cg_store_profile_put(f->s, "prod", &p, false, &f->err), 0);
    uint64_t r = rev(f, "prod");

    cg_err_clear(&f->err);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "web-cert", &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "cannot delete certificate 'web-cert'"));
    assert_non_null(strstr(f->err.msg, "used by 1 site: 'web'"));
    assert_non_null(strstr(f->err.hint, "certgate site set"));
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "clients", &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "used by 1 site: 'web'; it is trusted by 1 profile: 'staff'"));
    assert_non_null(strstr(f->err.hint, "site set"));
    assert_non_null(strstr(f->err.hint, "profile set"));
    assert_int_equal(rev(f, "prod"), r);

    /* rotation (same kind) is fine; another kind is refused */
    struct cg_store_cert c = cert_make("web-cert", CG_STORE_SERVER);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, true, &f->err), 0);
    c = cert_make("web-cert", CG_STORE_CLIENT);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, true, &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "cannot replace server certificate 'web-cert'"));
    c = cert_make("clients", CG_STORE_SERVER);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, true, &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "trusted by 1 profile: 'staff'"));

    /* an automatic domain holds no certificate */
    put(f, "prod", "spare", CG_STORE_SERVER);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "spare", &f->err), 0);
    assert_int_equal(cg_store_site_delete(f->s, "prod", "web", &f->err), 0);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "web-cert", &f->err), 0);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "clients", &f->err), CG_EINUSE);
    assert_int_equal(cg_store_profile_delete(f->s, "prod", "staff", &f->err), 0);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "clients", &f->err), 0);
}

static void test_profile_put_get_list_delete(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "clients", CG_STORE_CA);
    put(f, "prod", "partners", CG_STORE_CA);
    char *allow[] = {"10.0.0.0/8", "2001:db8::/32"};
    char *deny[] = {"10.6.6.0/24"};
    char *fps[] = {(char *)FP_B, (char *)FP_A};
    struct cg_store_profile_ca pcas[] = {{"partners", fps, 2}, {"clients", NULL, 0}};
    struct cg_store_profile p = {.name = "staff", .allow_ips = allow, .n_allow_ips = 2, .deny_ips = deny,
                                 .n_deny_ips = 1, .cas = pcas, .n_cas = 2};
    uint64_t r = rev(f, "prod");
    assert_int_equal(cg_store_profile_put(f->s, "prod", &p, false, &f->err), 0);
    assert_int_equal(rev(f, "prod"), ++r);
    struct cg_store_profile open = {.name = "open"};
    assert_int_equal(cg_store_profile_put(f->s, "prod", &open, false, &f->err), 0);

    struct cg_store_profile got;
    assert_int_equal(cg_store_profile_get(f->s, "prod", "staff", &got, &f->err), 0);
    assert_string_equal(got.name, "staff");
    assert_int_equal(got.n_allow_ips, 2);
    assert_string_equal(got.allow_ips[0], "10.0.0.0/8");
    assert_string_equal(got.allow_ips[1], "2001:db8::/32");
    assert_int_equal(got.n_deny_ips, 1);
    assert_string_equal(got.deny_ips[0], "10.6.6.0/24");
    assert_int_equal(got.n_cas, 2);
    assert_string_equal(got.cas[0].ca, "partners"); /* in the order given */
    assert_int_equal(got.cas[0].n_fingerprints, 2);
    assert_string_equal(got.cas[0].fingerprints[0], FP_B);
    assert_string_equal(got.cas[0].fingerprints[1], FP_A);
    assert_string_equal(got.cas[1].ca, "clients");
    assert_int_equal(got.cas[1].n_fingerprints, 0);
    assert_null(got.cas[1].fingerprints);
    cg_store_profile_cleanup(&got);
    cg_store_profile_cleanup(NULL);

    struct cg_store_profile_list l;
    assert_int_equal(cg_store_profile_list(f->s, "prod", &l, &f->err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].name, "open");
    assert_int_equal(l.items[0].n_allow_ips + l.items[0].n_deny_ips + l.items[0].n_cas, 0);
    assert_string_equal(l.items[1].name, "staff");
    assert_int_equal(l.items[1].cas[0].n_fingerprints, 2);
    cg_store_profile_list_cleanup(&l);
    cg_store_profile_list_cleanup(NULL);

    /* replace is whole, and the signer lists go with their CAs */
    struct cg_store_profile_ca one[] = {{"clients", fps + 1, 1}};
    struct cg_store_profile repl = {.name = "staff", .cas = one, .n_cas = 1};
    assert_int_equal(cg_store_profile_put(f->s, "prod", &repl, false, &f->err), CG_EEXISTS);
    assert_non_null(strstr(f->err.hint, "certgate profile set staff"));
    assert_int_equal(cg_store_profile_put(f->s, "prod", &repl, true, &f->err), 0);
    assert_int_equal(cg_store_profile_get(f->s, "prod", "staff", &got, &f->err), 0);
    assert_int_equal(got.n_allow_ips + got.n_deny_ips, 0);
    assert_int_equal(got.n_cas, 1);
    assert_string_equal(got.cas[0].fingerprints[0], FP_A);
    cg_store_profile_cleanup(&got);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM profile_ca_signers"), 1);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "partners", &f->err), 0); /* no longer trusted */

    r = rev(f, "prod");
    assert_int_equal(cg_store_profile_delete(f->s, "prod", "staff", &f->err), 0);
    assert_int_equal(rev(f, "prod"), ++r);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM profile_cas"), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM profile_ca_signers"), 0);
    cg_err_clear(&f->err);
    assert_int_equal(cg_store_profile_delete(f->s, "prod", "staff", &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "no profile named 'staff' in environment 'prod'"));
    assert_int_equal(cg_store_profile_get(f->s, "prod", "staff", &got, &f->err), CG_ENOTFOUND);
    assert_int_equal(rev(f, "prod"), r);
}

static void profile_refused(struct fx *f, const struct cg_store_profile *p, int code, const char *phrase)
{
    cg_err_clear(&f->err);
    int rc = cg_store_profile_put(f->s, "prod", p, false, &f->err);
    if (rc != code) fail_msg("rc %d, expected %d: %s", rc, code, f->err.msg);
    if (!strstr(f->err.msg, phrase)) fail_msg("message \"%s\" lacks \"%s\"", f->err.msg, phrase);
}

static void test_profile_refusals(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "clients", CG_STORE_CA);
    put(f, "prod", "client", CG_STORE_CLIENT);
    uint64_t r = rev(f, "prod");
    struct cg_store_profile p = {.name = "allow-all"};
    profile_refused(f, &p, CG_EINVAL, "'allow-all' is a preset");
    assert_non_null(strstr(f->err.hint, "certgate site rule SITE PATH allow-all"));
    p.name = "deny-all";
    profile_refused(f, &p, CG_EINVAL, "'deny-all' is a preset");
    p.name = "p";
    struct cg_store_profile_ca missing[] = {{"nope", NULL, 0}};
    p.cas = missing;
    p.n_cas = 1;
    profile_refused(f, &p, CG_ENOTFOUND, "profile 'p' trusts CA 'nope', but there is no CA bundle");
    struct cg_store_profile_ca wrong[] = {{"client", NULL, 0}};
    p.cas = wrong;
    profile_refused(f, &p, CG_EINVAL, "it is a client certificate, not a CA bundle");
    struct cg_store_profile_ca twice[] = {{"clients", NULL, 0}, {"clients", NULL, 0}};
    p.cas = twice;
    p.n_cas = 2;
    profile_refused(f, &p, CG_EINVAL, "names client CA 'clients' twice");
    char *bad_fp[] = {"ABCDEF"};
    struct cg_store_profile_ca badfp[] = {{"clients", bad_fp, 1}};
    p.cas = badfp;
    p.n_cas = 1;
    profile_refused(f, &p, CG_EINVAL, "'ABCDEF' is not a SHA-256 fingerprint");
    char *dup_fp[] = {(char *)FP_A, (char *)FP_A};
    struct cg_store_profile_ca dupfp[] = {{"clients", dup_fp, 2}};
    p.cas = dupfp;
    profile_refused(f, &p, CG_EINVAL, "twice");
    p.cas = NULL;
    p.n_cas = 0;
    char *dup_ip[] = {"10.0.0.0/8", "10.0.0.0/8"};
    p.allow_ips = dup_ip;
    p.n_allow_ips = 2;
    profile_refused(f, &p, CG_EINVAL, "names allowed range '10.0.0.0/8' twice");
    assert_int_equal(cg_store_profile_put(f->s, "prod", NULL, false, &f->err), CG_EINVAL);
    /* nothing was stored and nothing counted; the schema refuses the presets too */
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM profiles"), 0);
    assert_int_equal(rev(f, "prod"), r);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "INSERT INTO profiles VALUES ('prod', 'allow-all', 1, 1)", NULL, NULL, NULL),
                         SQLITE_OK);
    sqlite3_close(db);
}

static void test_rules(void **state)
{
    struct fx *f = *state;
    struct cg_store_site_domain doms[2];
    char *cas[2];
    struct cg_store_site web;
    web_make(f, doms, cas, &web);
    site_put(f, "prod", &web, false);
    struct cg_store_site_domain api_doms[] = {dom("api.example.com", NULL)};
    struct cg_store_site api = {.name = "api", .backend = "http://127.0.0.1:1", .domains = api_doms, .n_domains = 1};
    site_put(f, "prod", &api, false);
    struct cg_store_profile staff = {.name = "staff"};
    assert_int_equal(cg_store_profile_put(f->s, "prod", &staff, false, &f->err), 0);

    uint64_t r = rev(f, "prod");
    rule_put(f, "prod", "web", "/", "allow-all");
    rule_put(f, "prod", "web", "/admin/", "staff");
    rule_put(f, "prod", "api", "/", "deny-all");
    assert_int_equal(rev(f, "prod"), r + 3);
    rule_put(f, "prod", "web", "/admin/", "deny-all"); /* upsert: a preset instead of the profile */
    rule_put(f, "prod", "web", "/admin/", "staff");
    assert_int_equal(rev(f, "prod"), r + 5);

    struct cg_store_rule_list l;
    assert_int_equal(cg_store_rule_list(f->s, "prod", NULL, &l, &f->err), 0);
    assert_int_equal(l.n, 3); /* ordered by site, then path */
    assert_string_equal(l.items[0].site, "api");
    assert_string_equal(l.items[0].profile, "deny-all");
    assert_string_equal(l.items[1].site, "web");
    assert_string_equal(l.items[1].path, "/");
    assert_string_equal(l.items[1].profile, "allow-all");
    assert_string_equal(l.items[2].path, "/admin/");
    assert_string_equal(l.items[2].profile, "staff");
    cg_store_rule_list_cleanup(&l);
    cg_store_rule_list_cleanup(NULL);
    assert_int_equal(rule_count(f, "prod", "web"), 2);
    assert_int_equal(rule_count(f, "prod", "nope"), 0);
    assert_int_equal(rule_count(f, "stage", NULL), 0);

    /* refusals */
    r = rev(f, "prod");
    struct cg_store_rule bad = {"web", "/x", "nope"};
    cg_err_clear(&f->err);
    assert_int_equal(cg_store_rule_put(f->s, "prod", &bad, &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "rule '/x' of site 'web' names profile 'nope'"));
    assert_non_null(strstr(f->err.hint, "certgate profile add nope"));
    bad = (struct cg_store_rule){"gone", "/x", "staff"};
    assert_int_equal(cg_store_rule_put(f->s, "prod", &bad, &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "no site named 'gone'"));
    bad = (struct cg_store_rule){"web", "x", "staff"};
    assert_int_equal(cg_store_rule_put(f->s, "prod", &bad, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "does not start with '/'"));
    bad = (struct cg_store_rule){"web", "/x", ""};
    assert_int_equal(cg_store_rule_put(f->s, "prod", &bad, &f->err), CG_EINVAL);
    assert_int_equal(cg_store_rule_put(f->s, "prod", NULL, &f->err), CG_EINVAL);
    assert_int_equal(cg_store_rule_delete(f->s, "prod", "web", "/nope", &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "site 'web' has no rule for path '/nope'"));
    assert_int_equal(cg_store_rule_delete(f->s, "prod", "gone", "/", &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "no site named 'gone'"));
    assert_int_equal(rev(f, "prod"), r);

    /* a profile a rule names cannot go */
    assert_int_equal(cg_store_profile_delete(f->s, "prod", "staff", &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "cannot delete profile 'staff'"));
    assert_non_null(strstr(f->err.msg, "1 rule uses it: site 'web' path '/admin/'"));
    assert_non_null(strstr(f->err.hint, "certgate site rule rm SITE PATH"));
    rule_put(f, "prod", "api", "/internal/", "staff");
    assert_int_equal(cg_store_profile_delete(f->s, "prod", "staff", &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "2 rules use it: site 'api' path '/internal/', site 'web' path '/admin/'"));
    r = rev(f, "prod");
    assert_int_equal(cg_store_rule_delete(f->s, "prod", "web", "/admin/", &f->err), 0);
    assert_int_equal(rev(f, "prod"), ++r);
    assert_int_equal(cg_store_site_delete(f->s, "prod", "api", &f->err), 0); /* takes its rules */
    assert_int_equal(cg_store_profile_delete(f->s, "prod", "staff", &f->err), 0);
    assert_int_equal(rule_count(f, "prod", NULL), 1);
}

static void test_ca_crls(void **state)
{
    struct fx *f = *state;
    static const char CRL[] = "-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n";
    struct cg_store_cert c = cert_make("root", CG_STORE_CA);
    c.crl_pem = (char *)CRL;
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), 0);
    struct cg_store_cert got;
    assert_int_equal(cg_store_cert_get(f->s, "prod", "root", &got, &f->err), 0);
    assert_string_equal(got.crl_pem, CRL);
    cg_store_cert_cleanup(&got);
    /* a replaced bundle keeps nothing of the old one: no CRL given, none kept */
    c = cert_make("root", CG_STORE_CA);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, true, &f->err), 0);
    assert_int_equal(cg_store_cert_get(f->s, "prod", "root", &got, &f->err), 0);
    assert_null(got.crl_pem);
    cg_store_cert_cleanup(&got);
    /* only a CA bundle has CRLs */
    c = cert_make("client", CG_STORE_CLIENT);
    c.crl_pem = (char *)CRL;
    cg_err_clear(&f->err);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "only a CA bundle has CRLs"));
    c = cert_make("empty", CG_STORE_CA);
    c.crl_pem = "";
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), CG_EINVAL);
    assert_false(exists(f, "prod", "client"));
    assert_false(exists(f, "prod", "empty"));
    struct cg_store_cert_list l;
    assert_int_equal(cg_store_cert_list(f->s, "prod", &l, &f->err), 0);
    assert_int_equal(l.n, 1);
    assert_null(l.items[0].crl_pem);
    cg_store_cert_list_cleanup(&l);
}

static void test_ingress_migration_from_v1(void **state)
{
    struct fx *f = *state;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/data", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    raw_exec(f, SCHEMA_V1);
    int rc = cg_store_open(f->url, false, &f->s, &f->err);
    if (rc != 0) fprintf(stderr, "open: %s\n", f->err.msg);
    assert_int_equal(rc, 0);
    assert_true(cg_store_sqlite_schema_latest() >= 3);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM schema_version WHERE version = 3 AND name = 'sites, access "
                                "profiles, path rules and CRLs'"),
                     1);
    /* the rows of version 1 have no CRLs, and the new objects work with them */
    struct cg_store_cert c;
    assert_int_equal(cg_store_cert_get(f->s, "prod", "root", &c, &f->err), 0);
    assert_null(c.crl_pem);
    cg_store_cert_cleanup(&c);
    char *cas[] = {"root"};
    struct cg_store_site_domain doms[] = {dom("www.example.com", NULL)};
    struct cg_store_site site = {.name = "web", .backend = "http://127.0.0.1:1", .domains = doms, .n_domains = 1,
                                 .client_cas = cas, .n_client_cas = 1};
    site_put(f, "prod", &site, false);
    assert_int_equal(rev(f, "prod"), 8);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "root", &f->err), CG_EINUSE);
}

/* ---- nested transactions ------------------------------------------------------------------- */

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HASH_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static void test_tx_nested_commit(void **state)
{
    struct fx *f = *state;
    uint64_t r = rev(f, "prod");
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    put(f, "prod", "a", CG_STORE_CLIENT);
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    put(f, "prod", "b", CG_STORE_CLIENT);
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    pin(f, "prod", "t", "b");
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    /* the inner commits only uncounted their levels: another connection sees nothing yet */
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM certs"), 0);
    assert_true(exists(f, "prod", "b")); /* this one does */
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM certs"), 2);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM pins"), 1);
    assert_int_equal(rev(f, "prod"), r + 3);
    /* every level is closed: one more commit is a misuse */
    assert_int_equal(cg_store_commit(f->s, &f->err), CG_EUSAGE);
    assert_non_null(strstr(f->err.msg, "no transaction is open"));
}

/* A rollback inside dooms the whole: later writes are refused, and the outermost commit saves
 * nothing and says so. */
static void test_tx_nested_rollback_dooms(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "base", CG_STORE_CLIENT);
    uint64_t r = rev(f, "prod");
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    put(f, "prod", "a", CG_STORE_CLIENT);
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    put(f, "prod", "b", CG_STORE_CLIENT);
    cg_store_rollback(f->s);
    /* the outer level is still open, but nothing more can be written in it */
    struct cg_store_cert c = cert_make("c", CG_STORE_CLIENT);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, false, &f->err), CG_ESTORE);
    assert_non_null(strstr(f->err.msg, "rolled back"));
    assert_int_equal(cg_store_pin_put(f->s, "prod", "t", "base", &f->err), CG_ESTORE);
    struct cg_store_token t = {.name = "ci", .role = "admin", .hash = HASH_A};
    assert_int_equal(cg_store_token_put(f->s, "prod", &t, &f->err), CG_ESTORE);
    /* levels still count */
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    cg_err_clear(&f->err);
    assert_int_equal(cg_store_commit(f->s, &f->err), CG_ESTORE);
    assert_non_null(strstr(f->err.msg, "nothing was saved"));
    assert_true(f->err.hint[0] != '\0');
    assert_false(exists(f, "prod", "a"));
    assert_false(exists(f, "prod", "b"));
    assert_true(exists(f, "prod", "base"));
    assert_int_equal(rev(f, "prod"), r);
    assert_int_equal(cg_store_commit(f->s, &f->err), CG_EUSAGE); /* all closed */

    /* the store works again: on its own and in a new transaction */
    put(f, "prod", "after", CG_STORE_CLIENT);
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    put(f, "prod", "again", CG_STORE_CLIENT);
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM certs WHERE name IN ('after', 'again')"), 2);
}

/* The outermost rollback ends every level; so does closing the store. */
static void test_tx_nested_outer_rollback(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    put(f, "prod", "a", CG_STORE_CLIENT);
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    cg_store_rollback(f->s);
    assert_false(exists(f, "prod", "a"));
    assert_int_equal(cg_store_commit(f->s, &f->err), CG_EUSAGE);
    /* a failed operation inside a nested level does not doom anything */
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    put(f, "prod", "a", CG_STORE_CLIENT);
    assert_int_equal(cg_store_pin_put(f->s, "prod", "t", "missing", &f->err), CG_ENOTFOUND);
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    assert_true(exists(f, "prod", "a"));
    /* closing with three levels open keeps nothing of them */
    for (int i = 0; i < 3; i++) assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    put(f, "prod", "lost", CG_STORE_CLIENT);
    cg_store_close(f->s);
    f->s = NULL;
    assert_int_equal(cg_store_open(f->url, false, &f->s, &f->err), 0);
    assert_false(exists(f, "prod", "lost"));
    assert_true(exists(f, "prod", "a"));
}

/* ---- tokens -------------------------------------------------------------------------------- */


static void token_put(struct fx *f, const char *env, const char *name, const char *role, const char *hash,
                      int64_t expires_at)
{
    struct cg_store_token t = {.name = (char *)name, .role = (char *)role, .expires_at = expires_at};
    snprintf(t.hash, sizeof(t.hash), "%s", hash);
    int rc = cg_store_token_put(f->s, env, &t, &f->err);
    if (rc != 0) fprintf(stderr, "token %s: %s\n", name, f->err.msg);
    assert_int_equal(rc, 0);
}

static void test_token_put_get_find_list_delete(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "a", CG_STORE_CLIENT);
    uint64_t r = rev(f, "prod");
    int64_t before = (int64_t)time(NULL);
    token_put(f, "prod", "ci", "operator", HASH_B, 1900000000);
    token_put(f, "prod", "alice", "admin", HASH_A, 0);

    struct cg_store_token t;
    assert_int_equal(cg_store_token_get(f->s, "prod", "ci", &t, &f->err), 0);
    assert_string_equal(t.name, "ci");
    assert_string_equal(t.role, "operator");
    assert_string_equal(t.hash, HASH_B);
    assert_true(t.created_at >= before && t.created_at <= (int64_t)time(NULL));
    assert_int_equal(t.expires_at, 1900000000);
    assert_int_equal(t.last_used_at, 0);
    cg_store_token_cleanup(&t);
    assert_null(t.name);

    /* find: by the hash of the secret, in its environment only */
    assert_int_equal(cg_store_token_find(f->s, "prod", HASH_A, &t, &f->err), 0);
    assert_string_equal(t.name, "alice");
    assert_string_equal(t.role, "admin");
    assert_int_equal(t.expires_at, 0);
    cg_store_token_cleanup(&t);
    assert_int_equal(cg_store_token_find(f->s, "staging", HASH_A, &t, &f->err), CG_ENOTFOUND);
    assert_int_equal(cg_store_token_find(f->s, "prod", HASH_C, &t, &f->err), CG_ENOTFOUND);
    assert_null(strstr(f->err.msg, HASH_C)); /* never echoes what was sent */
    assert_non_null(strstr(f->err.msg, "prod"));
    assert_non_null(strstr(f->err.hint, "token add"));
    assert_null(t.name);

    /* touch records a use */
    assert_int_equal(cg_store_token_touch(f->s, "prod", "ci", 1800000123, &f->err), 0);
    assert_int_equal(cg_store_token_get(f->s, "prod", "ci", &t, &f->err), 0);
    assert_int_equal(t.last_used_at, 1800000123);
    cg_store_token_cleanup(&t);

    /* list: by name */
    struct cg_store_token_list l;
    assert_int_equal(cg_store_token_list(f->s, "prod", &l, &f->err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].name, "alice");
    assert_string_equal(l.items[1].name, "ci");
    assert_string_equal(l.items[1].hash, HASH_B);
    assert_int_equal(l.items[1].last_used_at, 1800000123);
    cg_store_token_list_cleanup(&l);
    assert_int_equal(l.n, 0);
    assert_int_equal(cg_store_token_list(f->s, "staging", &l, &f->err), 0);
    assert_int_equal(l.n, 0);
    cg_store_token_list_cleanup(&l);

    /* delete */
    assert_int_equal(cg_store_token_delete(f->s, "prod", "ci", &f->err), 0);
    assert_int_equal(cg_store_token_get(f->s, "prod", "ci", &t, &f->err), CG_ENOTFOUND);
    assert_int_equal(cg_store_token_find(f->s, "prod", HASH_B, &t, &f->err), CG_ENOTFOUND);
    /* tokens are not configuration: the revision never moved */
    assert_int_equal(rev(f, "prod"), r);
    assert_int_equal(rev(f, "staging"), 0);
}

static void test_token_refusals(void **state)
{
    struct fx *f = *state;
    token_put(f, "prod", "ci", "viewer", HASH_A, 0);
    struct cg_store_token t = {.name = "ci", .role = "admin"};
    snprintf(t.hash, sizeof(t.hash), "%s", HASH_B);
    assert_int_equal(cg_store_token_put(f->s, "prod", &t, &f->err), CG_EEXISTS);
    assert_non_null(strstr(f->err.msg, "token named 'ci' already exists"));
    assert_non_null(strstr(f->err.hint, "certgate token rm ci"));
    /* the refused put changed nothing */
    struct cg_store_token got;
    assert_int_equal(cg_store_token_get(f->s, "prod", "ci", &got, &f->err), 0);
    assert_string_equal(got.role, "viewer");
    assert_string_equal(got.hash, HASH_A);
    cg_store_token_cleanup(&got);
    /* the same name in another environment is another token; the same secret never is */
    token_put(f, "staging", "ci", "admin", HASH_B, 0);
    t.name = "other";
    snprintf(t.hash, sizeof(t.hash), "%s", HASH_A);
    assert_int_equal(cg_store_token_put(f->s, "staging", &t, &f->err), CG_EEXISTS);
    assert_non_null(strstr(f->err.msg, "already has this secret"));
    assert_null(strstr(f->err.msg, HASH_A));

    /* shapes */
    snprintf(t.hash, sizeof(t.hash), "%s", HASH_C);
    t.role = "";
    assert_int_equal(cg_store_token_put(f->s, "prod", &t, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "token 'other' has no role"));
    t.role = "admin";
    t.hash[10] = 'G';
    assert_int_equal(cg_store_token_put(f->s, "prod", &t, &f->err), CG_EINVAL);
    t.hash[10] = 'c';
    t.hash[63] = '\0';
    assert_int_equal(cg_store_token_put(f->s, "prod", &t, &f->err), CG_EINVAL);
    snprintf(t.hash, sizeof(t.hash), "%s", HASH_C);
    t.expires_at = -1;
    assert_int_equal(cg_store_token_put(f->s, "prod", &t, &f->err), CG_EINVAL);
    t.expires_at = 0;
    t.name = "";
    assert_int_equal(cg_store_token_put(f->s, "prod", &t, &f->err), CG_EINVAL);
    assert_int_equal(cg_store_token_put(f->s, "prod", NULL, &f->err), CG_EINVAL);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM tokens"), 2);

    /* unknown names, each naming the token and where to look */
    assert_int_equal(cg_store_token_get(f->s, "prod", "nope", &got, &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "no token named 'nope' in environment 'prod'"));
    assert_non_null(strstr(f->err.hint, "certgate token list --env prod"));
    assert_int_equal(cg_store_token_delete(f->s, "prod", "nope", &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "no token named 'nope'"));
    assert_int_equal(cg_store_token_touch(f->s, "prod", "nope", 5, &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "no token named 'nope'"));
    assert_int_equal(cg_store_token_touch(f->s, "prod", "ci", -5, &f->err), CG_EINVAL);
    assert_int_equal(cg_store_token_find(f->s, "prod", "", &got, &f->err), CG_EINVAL);
}

/* A token made in a transaction that is rolled back is gone; one made in a nested level that
 * commits is kept with the rest. */
static void test_token_in_transaction(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    token_put(f, "prod", "ci", "admin", HASH_A, 0);
    cg_store_rollback(f->s);
    struct cg_store_token got;
    assert_int_equal(cg_store_token_find(f->s, "prod", HASH_A, &got, &f->err), CG_ENOTFOUND);
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    token_put(f, "prod", "ci", "admin", HASH_A, 0);
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    struct cg_store_audit a = {.at_ms = 1, .actor = "cli:test", .action = "token add", .object = "token/ci",
                               .after_json = "{\"name\":\"ci\"}"};
    assert_int_equal(cg_store_audit_put(f->s, "prod", &a, &f->err), 0);
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM tokens"), 1);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM audit"), 1);
}

/* ---- the audit trail ----------------------------------------------------------------------- */

static void audit_put(struct fx *f, const char *env, int64_t at_ms, const char *object, const char *before,
                      const char *after)
{
    struct cg_store_audit a = {.id = 999999, .at_ms = at_ms, .actor = "cli:tester", .action = "site set",
                               .object = (char *)object, .before_json = (char *)before, .after_json = (char *)after};
    int rc = cg_store_audit_put(f->s, env, &a, &f->err);
    if (rc != 0) fprintf(stderr, "audit %s: %s\n", object, f->err.msg);
    assert_int_equal(rc, 0);
}

static void test_audit_order_and_paging(void **state)
{
    struct fx *f = *state;
    uint64_t r = rev(f, "prod");
    char obj[32];
    for (int i = 1; i <= 7; i++) {
        snprintf(obj, sizeof(obj), "site/s%d", i);
        audit_put(f, i == 4 ? "staging" : "prod", 1700000000000 + i, obj, i == 1 ? NULL : "{\"mode\":\"off\"}",
                  i == 7 ? "null" : "{\"mode\":\"required\"}");
    }
    assert_int_equal(rev(f, "prod"), r); /* the audit trail is not configuration */

    struct cg_store_audit_list l;
    assert_int_equal(cg_store_audit_list(f->s, "prod", 0, 50, &l, &f->err), 0);
    assert_int_equal(l.n, 6); /* staging's record is not prod's */
    for (size_t i = 1; i < l.n; i++) assert_true(l.items[i - 1].id > l.items[i].id); /* newest first */
    assert_string_equal(l.items[0].object, "site/s7");
    assert_string_equal(l.items[0].after_json, "null");
    assert_string_equal(l.items[0].actor, "cli:tester");
    assert_string_equal(l.items[0].action, "site set");
    assert_int_equal(l.items[0].at_ms, 1700000000007);
    assert_string_equal(l.items[5].object, "site/s1");
    assert_string_equal(l.items[5].before_json, "null"); /* NULL was stored as JSON null */
    assert_string_equal(l.items[5].after_json, "{\"mode\":\"required\"}");
    assert_true(l.items[0].id != 999999); /* the store assigns ids */
    int64_t third = l.items[2].id;
    cg_store_audit_list_cleanup(&l);
    assert_int_equal(l.n, 0);

    /* pages: limit, then before the last id seen */
    assert_int_equal(cg_store_audit_list(f->s, "prod", 0, 3, &l, &f->err), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.items[2].id, third);
    cg_store_audit_list_cleanup(&l);
    assert_int_equal(cg_store_audit_list(f->s, "prod", third, 3, &l, &f->err), 0);
    assert_int_equal(l.n, 3);
    assert_true(l.items[0].id < third);
    assert_string_equal(l.items[0].object, "site/s3");
    assert_string_equal(l.items[2].object, "site/s1");
    int64_t last = l.items[2].id;
    cg_store_audit_list_cleanup(&l);
    assert_int_equal(cg_store_audit_list(f->s, "prod", last, 3, &l, &f->err), 0);
    assert_int_equal(l.n, 0);
    cg_store_audit_list_cleanup(&l);
    assert_int_equal(cg_store_audit_list(f->s, "prod", 0, 0, &l, &f->err), 0);
    assert_int_equal(l.n, 0);
    cg_store_audit_list_cleanup(&l);
    assert_int_equal(cg_store_audit_list(f->s, "staging", 0, 10, &l, &f->err), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].object, "site/s4");
    cg_store_audit_list_cleanup(&l);
    assert_int_equal(cg_store_audit_list(f->s, "prod", -1, 10, &l, &f->err), CG_EINVAL);
    assert_int_equal(l.n, 0);
}

static void test_audit_list_capped(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    for (int i = 0; i < CG_STORE_AUDIT_LIST_MAX + 5; i++) audit_put(f, "prod", i, "pin/x", NULL, "{}");
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    struct cg_store_audit_list l;
    assert_int_equal(cg_store_audit_list(f->s, "prod", 0, (size_t)-1, &l, &f->err), 0);
    assert_int_equal(l.n, CG_STORE_AUDIT_LIST_MAX);
    assert_int_equal(l.items[0].at_ms, CG_STORE_AUDIT_LIST_MAX + 4);
    cg_store_audit_list_cleanup(&l);
}

static void test_audit_refusals(void **state)
{
    struct fx *f = *state;
    struct cg_store_audit a = {.at_ms = 1, .actor = "cli:tester", .action = "pin set", .object = "pin/api",
                               .before_json = "null", .after_json = "{\"cert\": "};
    assert_int_equal(cg_store_audit_put(f->s, "prod", &a, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "'pin/api'"));
    assert_non_null(strstr(f->err.msg, "after the change is not valid JSON"));
    a.after_json = NULL;
    a.before_json = "nope";
    assert_int_equal(cg_store_audit_put(f->s, "prod", &a, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "before the change"));
    a.before_json = NULL;

    /* caps */
    size_t big = CG_STORE_AUDIT_JSON_MAX + 3;
    char *json = malloc(big + 1);
    assert_non_null(json);
    memset(json, ' ', big);
    json[0] = '"';
    json[big - 1] = '"';
    json[big] = '\0';
    a.after_json = json;
    assert_int_equal(cg_store_audit_put(f->s, "prod", &a, &f->err), CG_ELIMIT);
    assert_non_null(strstr(f->err.msg, "larger than"));
    a.after_json = NULL;
    json[CG_STORE_AUDIT_TEXT_MAX + 1] = '\0';
    a.object = json;
    assert_int_equal(cg_store_audit_put(f->s, "prod", &a, &f->err), CG_ELIMIT);
    assert_non_null(strstr(f->err.msg, "object is longer"));
    free(json);
    a.object = "pin/api";
    a.actor = "";
    assert_int_equal(cg_store_audit_put(f->s, "prod", &a, &f->err), CG_EINVAL);
    a.actor = "cli:tester";
    a.at_ms = -1;
    assert_int_equal(cg_store_audit_put(f->s, "prod", &a, &f->err), CG_EINVAL);
    assert_int_equal(cg_store_audit_put(f->s, "", &a, &f->err), CG_EINVAL);
    assert_int_equal(cg_store_audit_put(f->s, "prod", NULL, &f->err), CG_EINVAL);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM audit"), 0);
    /* and what passes is kept */
    a.at_ms = 2;
    assert_int_equal(cg_store_audit_put(f->s, "prod", &a, &f->err), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM audit WHERE before_json = 'null' AND after_json = 'null'"), 1);
}

/* A store of version 3 gains the tables of version 4 on a plain open and keeps its data. */
static void test_admin_migration_from_v3(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "a", CG_STORE_CLIENT);
    cg_store_close(f->s);
    f->s = NULL;
    raw_exec(f, "DROP TABLE attempts; DROP TABLE deliveries; DROP TABLE events; DROP TABLE webhook_events; "
                "DROP TABLE webhooks; DROP TABLE tokens; DROP TABLE audit; DELETE FROM schema_version WHERE version >= 4;");
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('tokens', 'audit')"), 0);
    int rc = cg_store_open(f->url, false, &f->s, &f->err);
    if (rc != 0) fprintf(stderr, "open: %s\n", f->err.msg);
    assert_int_equal(rc, 0);
    assert_true(cg_store_sqlite_schema_latest() >= 4);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM schema_version WHERE version = 4 AND name = 'admin API "
                                "tokens and the audit trail'"),
                     1);
    assert_true(exists(f, "prod", "a"));
    token_put(f, "prod", "ci", "admin", HASH_A, 0);
    audit_put(f, "prod", 1, "token/ci", NULL, "{}");
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM audit"), 1);
}

/* ---- webhooks, events, deliveries ---------------------------------------------------------- */

static const uint8_t SECRET_BLOB[] = {'C', 'G', 'K', '1', 0x00, 0x01, 0xfe};

static struct cg_store_webhook wh_make(const char *name, const char *client, const char *ca, char **events,
                                       size_t n_events)
{
    struct cg_store_webhook w;
    memset(&w, 0, sizeof(w));
    assert_int_equal(cg_store_new_id(w.id), 0);
    w.name = (char *)name;
    w.url = (char *)"https://hooks.example/in";
    w.client_cert = (char *)client;
    w.ca = (char *)ca;
    w.events = events;
    w.n_events = n_events;
    return w;
}

static void wh_put(struct fx *f, const char *env, const struct cg_store_webhook *w, bool replace)
{
    int rc = cg_store_webhook_put(f->s, env, w, replace, &f->err);
    if (rc != 0) fprintf(stderr, "webhook put %s: %s\n", w->name, f->err.msg);
    assert_int_equal(rc, 0);
}

/* A webhook "name" presenting client certificate "c" (made when missing). */
static void wh_simple(struct fx *f, const char *name, char **events, size_t n_events, bool disabled)
{
    if (!exists(f, "prod", "c")) put(f, "prod", "c", CG_STORE_CLIENT);
    struct cg_store_webhook w = wh_make(name, "c", NULL, events, n_events);
    w.disabled = disabled;
    wh_put(f, "prod", &w, false);
}

static size_t wh_count(struct fx *f, const char *env)
{
    struct cg_store_webhook_list l;
    assert_int_equal(cg_store_webhook_list(f->s, env, &l, &f->err), 0);
    size_t n = l.n;
    cg_store_webhook_list_cleanup(&l);
    return n;
}

/* "evt_" and 32 hex made from i. */
static void event_id(unsigned i, char out[40]) { snprintf(out, 40, "evt_%032x", i); }

static size_t ev_put(struct fx *f, unsigned i, const char *type)
{
    struct cg_store_event e = {.type = (char *)type, .data_json = (char *)"{\"n\": 1}"};
    event_id(i, e.id);
    size_t n = 99;
    int rc = cg_store_event_put(f->s, "prod", &e, &n, &f->err);
    if (rc != 0) fprintf(stderr, "event put %u: %s\n", i, f->err.msg);
    assert_int_equal(rc, 0);
    return n;
}

static void claim(struct fx *f, struct cg_store *s, int64_t now, size_t max, size_t per_webhook,
                  struct cg_store_delivery_list *out)
{
    int rc = cg_store_delivery_claim(s, "prod", now, 60000, max, per_webhook, out, &f->err);
    if (rc != 0) fprintf(stderr, "claim: %s\n", f->err.msg);
    assert_int_equal(rc, 0);
}

static void finish(struct fx *f, int64_t id, int status, int64_t next_at, int code, const char *error)
{
    struct cg_store_attempt a = {.at_ms = 1000, .status_code = code, .error = (char *)error, .latency_ms = 12};
    int rc = cg_store_delivery_finish(f->s, "prod", id, status, next_at, &a, &f->err);
    if (rc != 0) fprintf(stderr, "finish %lld: %s\n", (long long)id, f->err.msg);
    assert_int_equal(rc, 0);
}

static size_t count_of(struct fx *f, const char *webhook, int status)
{
    struct cg_store_delivery_list l;
    assert_int_equal(cg_store_delivery_list(f->s, "prod", webhook, status, 1000, &l, &f->err), 0);
    size_t n = l.n;
    cg_store_delivery_list_cleanup(&l);
    return n;
}

static void test_webhook_put_get_list_delete(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "client", CG_STORE_CLIENT);
    put(f, "prod", "private-ca", CG_STORE_CA);
    uint64_t r = rev(f, "prod");
    char *types[] = {"invoice.paid", "certificate.expiring"};
    struct cg_store_webhook w = wh_make("billing", "client", "private-ca", types, 2);
    w.trust = CG_WEBHOOK_TRUST_CA_ONLY;
    w.secret_blob = (uint8_t *)SECRET_BLOB;
    w.secret_blob_len = sizeof(SECRET_BLOB);
    wh_put(f, "prod", &w, false);
    assert_int_equal(rev(f, "prod"), r + 1);
    struct cg_store_webhook plain = wh_make("alerts", "client", NULL, NULL, 0);
    plain.disabled = true;
    wh_put(f, "prod", &plain, false);

    struct cg_store_webhook got;
    assert_int_equal(cg_store_webhook_get(f->s, "prod", "billing", &got, &f->err), 0);
    assert_string_equal(got.id, w.id);
    assert_string_equal(got.url, "https://hooks.example/in");
    assert_string_equal(got.client_cert, "client");
    assert_string_equal(got.ca, "private-ca");
    assert_int_equal(got.trust, CG_WEBHOOK_TRUST_CA_ONLY);
    assert_int_equal(got.secret_blob_len, sizeof(SECRET_BLOB));
    assert_memory_equal(got.secret_blob, SECRET_BLOB, sizeof(SECRET_BLOB));
    assert_int_equal(got.n_events, 2);
    assert_string_equal(got.events[0], "invoice.paid"); /* in the order given */
    assert_string_equal(got.events[1], "certificate.expiring");
    assert_false(got.disabled);
    assert_null(got.problem);
    assert_true(got.created_at > 0 && got.updated_at >= got.created_at);
    assert_int_equal(got.n_pending, 0);
    cg_store_webhook_cleanup(&got);

    struct cg_store_webhook_list l;
    assert_int_equal(cg_store_webhook_list(f->s, "prod", &l, &f->err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].name, "alerts"); /* by name */
    assert_true(l.items[0].disabled);
    assert_null(l.items[0].ca);
    assert_null(l.items[0].secret_blob);
    assert_int_equal(l.items[0].n_events, 0);
    assert_string_equal(l.items[1].name, "billing");
    cg_store_webhook_list_cleanup(&l);
    assert_int_equal(wh_count(f, "stage"), 0);

    /* add again: refused; replace: changed in place */
    assert_int_equal(cg_store_webhook_put(f->s, "prod", &w, false, &f->err), CG_EEXISTS);
    assert_non_null(strstr(f->err.msg, "'billing' already exists"));
    assert_non_null(strstr(f->err.hint, "certgate webhook set billing"));
    w.ca = NULL;
    w.trust = CG_WEBHOOK_TRUST_SYSTEM_CA;
    w.secret_blob = NULL;
    w.secret_blob_len = 0;
    w.n_events = 0;
    r = rev(f, "prod");
    wh_put(f, "prod", &w, true);
    assert_int_equal(rev(f, "prod"), r + 1);
    assert_int_equal(cg_store_webhook_get(f->s, "prod", "billing", &got, &f->err), 0);
    assert_null(got.ca);
    assert_null(got.secret_blob);
    assert_int_equal(got.n_events, 0);
    cg_store_webhook_cleanup(&got);

    assert_int_equal(cg_store_webhook_delete(f->s, "prod", "billing", &f->err), 0);
    assert_int_equal(rev(f, "prod"), r + 2);
    assert_int_equal(cg_store_webhook_get(f->s, "prod", "billing", &got, &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "no webhook named 'billing'"));
    assert_non_null(strstr(f->err.hint, "certgate webhook list"));
    assert_int_equal(cg_store_webhook_delete(f->s, "prod", "billing", &f->err), CG_ENOTFOUND);
    assert_int_equal(rev(f, "prod"), r + 2);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM webhook_events"), 0); /* its types went with it */
}

static void test_webhook_refusals(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "client", CG_STORE_CLIENT);
    put(f, "prod", "server", CG_STORE_SERVER);
    put(f, "prod", "ca", CG_STORE_CA);
    uint64_t r = rev(f, "prod");
    struct cg_store_webhook w = wh_make("hook", "missing", NULL, NULL, 0);
    assert_int_equal(cg_store_webhook_put(f->s, "prod", &w, false, &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "webhook 'hook' presents certificate 'missing'"));
    assert_non_null(strstr(f->err.hint, "certgate cert add missing"));
    w.client_cert = "server";
    assert_int_equal(cg_store_webhook_put(f->s, "prod", &w, false, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "it is a server certificate"));
    w.client_cert = "ca";
    assert_int_equal(cg_store_webhook_put(f->s, "prod", &w, false, &f->err), CG_EINVAL);
    w.client_cert = "client";
    w.ca = "nope";
    assert_int_equal(cg_store_webhook_put(f->s, "prod", &w, false, &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "webhook 'hook' trusts CA 'nope'"));
    w.ca = "client";
    assert_int_equal(cg_store_webhook_put(f->s, "prod", &w, false, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "not a CA bundle"));
    w.ca = NULL;
    w.trust = CG_WEBHOOK_TRUST_CA_ONLY;
    assert_int_equal(cg_store_webhook_put(f->s, "prod", &w, false, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "ca-only"));
    assert_non_null(strstr(f->err.hint, "--ca CA"));
    w.trust = 7;
    assert_int_equal(cg_store_webhook_put(f->s, "prod", &w, false, &f->err), CG_EINVAL);
    w.trust = 0;
    char *dup[] = {"a.b", "a.b"};
    w.events = dup;
    w.n_events = 2;
    assert_int_equal(cg_store_webhook_put(f->s, "prod", &w, false, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "twice"));
    char *bad[] = {"a b"};
    w.events = bad;
    w.n_events = 1;
    assert_int_equal(cg_store_webhook_put(f->s, "prod", &w, false, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "'a b' is not an event type"));
    w.n_events = 0;
    w.client_cert = NULL;
    assert_int_equal(cg_store_webhook_put(f->s, "prod", &w, false, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "no client certificate"));
    w.client_cert = "client";
    w.url = "";
    assert_int_equal(cg_store_webhook_put(f->s, "prod", &w, false, &f->err), CG_EINVAL);
    w.url = "https://x";
    w.secret_blob_len = 3;
    assert_int_equal(cg_store_webhook_put(f->s, "prod", &w, false, &f->err), CG_EINVAL);
    w.secret_blob_len = 0;
    w.id[0] = 'X';
    assert_int_equal(cg_store_webhook_put(f->s, "prod", &w, false, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "record id"));
    assert_int_equal(cg_store_webhook_put(f->s, "prod", NULL, false, &f->err), CG_EINVAL);
    /* nothing was stored, nothing changed */
    assert_int_equal(wh_count(f, "prod"), 0);
    assert_int_equal(rev(f, "prod"), r);
    assert_int_equal(cg_store_webhook_problem_set(f->s, "prod", "ghost", "x", 1, &f->err), CG_ENOTFOUND);
}

static void test_webhook_certs_in_use(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "client", CG_STORE_CLIENT);
    put(f, "prod", "ca", CG_STORE_CA);
    struct cg_store_webhook w = wh_make("hook", "client", "ca", NULL, 0);
    wh_put(f, "prod", &w, false);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "client", &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "presented by 1 webhook: 'hook'"));
    assert_non_null(strstr(f->err.hint, "certgate webhook set WEBHOOK --client-cert"));
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "ca", &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "trusted by 1 webhook: 'hook'"));
    /* a replacement of another kind would leave the webhook naming the wrong kind */
    struct cg_store_cert c = cert_make("client", CG_STORE_SERVER);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, true, &f->err), CG_EINUSE);
    assert_non_null(strstr(f->err.msg, "webhook"));
    c = cert_make("ca", CG_STORE_CLIENT);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, true, &f->err), CG_EINUSE);
    /* the same kind is fine */
    c = cert_make("ca", CG_STORE_CA);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, true, &f->err), 0);
    c = cert_make("client", CG_STORE_CLIENT);
    assert_int_equal(cg_store_cert_put(f->s, "prod", &c, true, &f->err), 0);
    assert_int_equal(cg_store_webhook_delete(f->s, "prod", "hook", &f->err), 0);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "client", &f->err), 0);
    assert_int_equal(cg_store_cert_delete(f->s, "prod", "ca", &f->err), 0);
}

static void test_webhook_problem(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "client", CG_STORE_CLIENT);
    put(f, "prod", "other", CG_STORE_CLIENT);
    struct cg_store_webhook w = wh_make("hook", "client", NULL, NULL, 0);
    wh_put(f, "prod", &w, false);
    uint64_t r = rev(f, "prod");
    assert_int_equal(cg_store_webhook_problem_set(f->s, "prod", "hook", "the server rejected our client certificate",
                                                  1700000000, &f->err),
                     0);
    assert_int_equal(rev(f, "prod"), r); /* not configuration */
    struct cg_store_webhook got;
    assert_int_equal(cg_store_webhook_get(f->s, "prod", "hook", &got, &f->err), 0);
    assert_string_equal(got.problem, "the server rejected our client certificate");
    assert_int_equal(got.problem_at, 1700000000);
    cg_store_webhook_cleanup(&got);
    /* a change that does not touch where and how it connects keeps the problem */
    w.disabled = true;
    wh_put(f, "prod", &w, true);
    assert_int_equal(cg_store_webhook_get(f->s, "prod", "hook", &got, &f->err), 0);
    assert_non_null(got.problem);
    cg_store_webhook_cleanup(&got);
    /* another client certificate may be the fix: the flag is cleared */
    w.client_cert = "other";
    wh_put(f, "prod", &w, true);
    assert_int_equal(cg_store_webhook_get(f->s, "prod", "hook", &got, &f->err), 0);
    assert_null(got.problem);
    assert_int_equal(got.problem_at, 0);
    cg_store_webhook_cleanup(&got);
    /* long problems are cut; NULL clears */
    char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(cg_store_webhook_problem_set(f->s, "prod", "hook", big, 5, &f->err), 0);
    assert_int_equal(raw_int(f, "SELECT length(problem) FROM webhooks"), CG_STORE_PROBLEM_MAX);
    assert_int_equal(cg_store_webhook_problem_set(f->s, "prod", "hook", NULL, 6, &f->err), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM webhooks WHERE problem IS NULL AND problem_at = 0"), 1);
    assert_int_equal(cg_store_webhook_problem_set(f->s, "prod", "hook", "x", -1, &f->err), CG_EINVAL);
}

static void test_event_put_makes_deliveries(void **state)
{
    struct fx *f = *state;
    char *paid[] = {"invoice.paid"};
    char *other[] = {"user.created", "user.deleted"};
    wh_simple(f, "all", NULL, 0, false);
    wh_simple(f, "billing", paid, 1, false);
    wh_simple(f, "off", NULL, 0, true);
    wh_simple(f, "users", other, 2, false);
    uint64_t r = rev(f, "prod");
    assert_int_equal(ev_put(f, 1, "invoice.paid"), 2); /* all, billing */
    assert_int_equal(ev_put(f, 2, "user.deleted"), 2); /* all, users */
    assert_int_equal(ev_put(f, 3, "nobody.cares"), 1); /* all */
    assert_int_equal(rev(f, "prod"), r);               /* traffic, not configuration */
    assert_int_equal(count_of(f, "billing", CG_DELIVERY_PENDING), 1);
    assert_int_equal(count_of(f, "off", -1), 0);
    assert_int_equal(count_of(f, "all", -1), 3);
    uint64_t pending = 0;
    assert_int_equal(cg_store_delivery_pending_count(f->s, "prod", &pending, &f->err), 0);
    assert_int_equal(pending, 5);
    struct cg_store_webhook got;
    assert_int_equal(cg_store_webhook_get(f->s, "prod", "all", &got, &f->err), 0);
    assert_int_equal(got.n_pending, 3);
    assert_int_equal(got.n_failed, 0);
    cg_store_webhook_cleanup(&got);

    struct cg_store_event e;
    char id[40];
    event_id(1, id);
    assert_int_equal(cg_store_event_get(f->s, "prod", id, &e, &f->err), 0);
    assert_string_equal(e.id, id);
    assert_string_equal(e.type, "invoice.paid");
    assert_string_equal(e.data_json, "{\"n\": 1}");
    assert_true(e.created_at_ms > 1600000000000LL);
    cg_store_event_cleanup(&e);
    assert_int_equal(cg_store_event_get(f->s, "stage", id, &e, &f->err), CG_ENOTFOUND);

    /* the same id again: refused, and nothing more stored */
    struct cg_store_event dup = {.type = "invoice.paid", .data_json = "{}"};
    event_id(1, dup.id);
    size_t n = 99;
    assert_int_equal(cg_store_event_put(f->s, "prod", &dup, &n, &f->err), CG_EEXISTS);
    assert_non_null(strstr(f->err.msg, "already stored"));
    assert_int_equal(n, 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM deliveries"), 5);
    /* ... but it is another event in another environment */
    assert_int_equal(cg_store_event_put(f->s, "stage", &dup, &n, &f->err), 0);
    assert_int_equal(n, 0); /* no webhooks there */
}

static void test_event_refusals(void **state)
{
    struct fx *f = *state;
    wh_simple(f, "all", NULL, 0, false);
    struct cg_store_event e = {.type = "a.b", .data_json = "[1, 2]"};
    event_id(9, e.id);
    size_t n = 0;
    assert_int_equal(cg_store_event_put(f->s, "prod", &e, &n, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "is array, not a JSON object"));
    e.data_json = "{\"a\": ";
    assert_int_equal(cg_store_event_put(f->s, "prod", &e, &n, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "not valid JSON"));
    e.data_json = NULL;
    assert_int_equal(cg_store_event_put(f->s, "prod", &e, &n, &f->err), CG_EINVAL);
    size_t big = CG_STORE_EVENT_DATA_MAX + 10;
    char *json = malloc(big + 1);
    assert_non_null(json);
    memset(json, ' ', big);
    json[0] = '{';
    json[big - 1] = '}';
    json[big] = '\0';
    e.data_json = json;
    assert_int_equal(cg_store_event_put(f->s, "prod", &e, &n, &f->err), CG_ELIMIT);
    assert_non_null(strstr(f->err.msg, "larger than"));
    free(json);
    e.data_json = "{}";
    const char *types[] = {"", "a b", "ä", "x/y"};
    for (size_t i = 0; i < CG_ARRAY_LEN(types); i++) {
        e.type = (char *)types[i];
        assert_int_equal(cg_store_event_put(f->s, "prod", &e, &n, &f->err), CG_EINVAL);
        assert_non_null(strstr(f->err.msg, "is not an event type"));
    }
    char longtype[CG_STORE_EVENT_TYPE_MAX + 2];
    memset(longtype, 'a', sizeof(longtype) - 1);
    longtype[sizeof(longtype) - 1] = '\0';
    e.type = longtype;
    assert_int_equal(cg_store_event_put(f->s, "prod", &e, &n, &f->err), CG_EINVAL);
    longtype[CG_STORE_EVENT_TYPE_MAX] = '\0'; /* exactly the cap: fine */
    assert_int_equal(cg_store_event_put(f->s, "prod", &e, &n, &f->err), 0);
    e.type = "a.b";
    const char *ids[] = {"evt_123", "evt_0000000000000000000000000000000G", "xyz_00000000000000000000000000000000", ""};
    for (size_t i = 0; i < CG_ARRAY_LEN(ids); i++) {
        snprintf(e.id, sizeof(e.id), "%s", ids[i]);
        assert_int_equal(cg_store_event_put(f->s, "prod", &e, &n, &f->err), CG_EINVAL);
        assert_non_null(strstr(f->err.msg, "is not \"evt_\""));
    }
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM events"), 1);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM deliveries"), 1);
}

/* An event and its deliveries belong to the caller's transaction (the CLI's audited change and its
 * config.changed event are saved together or not at all). */
static void test_event_in_transaction(void **state)
{
    struct fx *f = *state;
    wh_simple(f, "all", NULL, 0, false);
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    assert_int_equal(ev_put(f, 1, "config.changed"), 1);
    cg_store_rollback(f->s);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM events"), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM deliveries"), 0);
    assert_int_equal(cg_store_begin(f->s, &f->err), 0);
    assert_int_equal(ev_put(f, 1, "config.changed"), 1);
    assert_int_equal(cg_store_commit(f->s, &f->err), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM deliveries"), 1);
}

static void test_delivery_claim_finish(void **state)
{
    struct fx *f = *state;
    wh_simple(f, "hook", NULL, 0, false);
    ev_put(f, 1, "a");
    ev_put(f, 2, "a");
    raw_exec(f, "UPDATE deliveries SET next_at_ms = 1000 WHERE event_id = 'evt_00000000000000000000000000000001';"
                "UPDATE deliveries SET next_at_ms = 5000 WHERE event_id = 'evt_00000000000000000000000000000002'");
    struct cg_store_delivery_list l;
    claim(f, f->s, 999, 10, 0, &l); /* nothing due yet */
    assert_int_equal(l.n, 0);
    claim(f, f->s, 1000, 10, 0, &l);
    assert_int_equal(l.n, 1);
    struct cg_store_delivery d = l.items[0];
    assert_string_equal(d.event_id, "evt_00000000000000000000000000000001");
    assert_string_equal(d.event_type, "a");
    assert_string_equal(d.webhook, "hook");
    assert_int_equal(d.status, CG_DELIVERY_PENDING);
    assert_int_equal(d.attempts, 1);
    assert_int_equal(d.lease_until_ms, 1000 + 60000);
    int64_t id = d.id;
    cg_store_delivery_list_cleanup(&l);
    claim(f, f->s, 2000, 10, 0, &l); /* leased: not again */
    assert_int_equal(l.n, 0);

    /* a failed attempt: rescheduled, lease released */
    finish(f, id, CG_DELIVERY_PENDING, 3000, 503, "HTTP 503");
    claim(f, f->s, 2999, 10, 0, &l);
    assert_int_equal(l.n, 0);
    claim(f, f->s, 3000, 10, 0, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].id, id);
    assert_int_equal(l.items[0].attempts, 2);
    cg_store_delivery_list_cleanup(&l);
    finish(f, id, CG_DELIVERY_SUCCEEDED, 0, 200, NULL);

    struct cg_store_delivery got;
    assert_int_equal(cg_store_delivery_get(f->s, "prod", id, &got, &f->err), 0);
    assert_int_equal(got.status, CG_DELIVERY_SUCCEEDED);
    assert_int_equal(got.lease_until_ms, 0);
    assert_int_equal(got.attempts, 2);
    assert_int_equal(got.n_history, 2);
    assert_int_equal(got.history[0].status_code, 503);
    assert_string_equal(got.history[0].error, "HTTP 503");
    assert_int_equal(got.history[0].latency_ms, 12);
    assert_int_equal(got.history[1].status_code, 200);
    assert_null(got.history[1].error);
    cg_store_delivery_cleanup(&got);

    /* a late finish of an ended delivery (its lease had expired) records the attempt only */
    finish(f, id, CG_DELIVERY_FAILED, 0, 0, "timeout");
    assert_int_equal(cg_store_delivery_get(f->s, "prod", id, &got, &f->err), 0);
    assert_int_equal(got.status, CG_DELIVERY_SUCCEEDED);
    assert_int_equal(got.n_history, 3);
    cg_store_delivery_cleanup(&got);

    /* a lease that expired makes the delivery due again (a dispatcher died holding it) */
    claim(f, f->s, 5000, 10, 0, &l);
    assert_int_equal(l.n, 1);
    int64_t second = l.items[0].id;
    cg_store_delivery_list_cleanup(&l);
    claim(f, f->s, 5000 + 59999, 10, 0, &l);
    assert_int_equal(l.n, 0);
    claim(f, f->s, 5000 + 60000, 10, 0, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].id, second);
    assert_int_equal(l.items[0].attempts, 2);
    cg_store_delivery_list_cleanup(&l);

    /* refusals */
    struct cg_store_attempt a = {.at_ms = 1, .status_code = 1000};
    assert_int_equal(cg_store_delivery_finish(f->s, "prod", second, CG_DELIVERY_FAILED, 0, &a, &f->err), CG_EINVAL);
    assert_int_equal(cg_store_delivery_finish(f->s, "prod", second, 7, 0, NULL, &f->err), CG_EINVAL);
    assert_int_equal(cg_store_delivery_finish(f->s, "prod", 999, CG_DELIVERY_FAILED, 0, NULL, &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "no delivery 999"));
    assert_int_equal(cg_store_delivery_finish(f->s, "stage", second, CG_DELIVERY_FAILED, 0, NULL, &f->err),
                     CG_ENOTFOUND);
    assert_int_equal(cg_store_delivery_claim(f->s, "prod", 1, 0, 10, 0, &l, &f->err), CG_EINVAL);
    assert_int_equal(cg_store_delivery_get(f->s, "prod", 999, &got, &f->err), CG_ENOTFOUND);
    /* finishing without an attempt (nothing was sent) */
    assert_int_equal(cg_store_delivery_finish(f->s, "prod", second, CG_DELIVERY_FAILED, 0, NULL, &f->err), 0);
    assert_int_equal(count_of(f, "hook", CG_DELIVERY_FAILED), 1);
    /* long errors are cut */
    char big[2000];
    memset(big, 'e', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    finish(f, second, CG_DELIVERY_FAILED, 0, 0, big);
    assert_int_equal(raw_int(f, "SELECT MAX(length(error)) FROM attempts"), CG_STORE_PROBLEM_MAX);
}

/* At most per_webhook of one webhook in flight, counting the leases it already holds; the other
 * webhooks are not held up by it; oldest due first. */
static void test_delivery_claim_per_webhook(void **state)
{
    struct fx *f = *state;
    char *a_types[] = {"a"};
    char *b_types[] = {"b"};
    wh_simple(f, "slow", a_types, 1, false);
    wh_simple(f, "fast", b_types, 1, false);
    for (unsigned i = 1; i <= 5; i++) ev_put(f, i, "a");
    for (unsigned i = 6; i <= 7; i++) ev_put(f, i, "b");
    /* due times: the slow webhook's first, in reverse order of insertion */
    raw_exec(f, "UPDATE deliveries SET next_at_ms = 100 - id");
    struct cg_store_delivery_list l;
    int64_t now = 1000;
    claim(f, f->s, now, 10, 2, &l);
    assert_int_equal(l.n, 4);
    size_t slow = 0, fast = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (i > 0) assert_true(l.items[i - 1].next_at_ms <= l.items[i].next_at_ms); /* oldest due first */
        if (!strcmp(l.items[i].webhook, "slow")) slow++;
        else fast++;
    }
    assert_int_equal(slow, 2);
    assert_int_equal(fast, 2);
    /* slow's two oldest due: events 5 and 4 */
    int64_t held = -1;
    for (size_t i = 0; i < l.n; i++)
        if (!strcmp(l.items[i].webhook, "slow")) {
            assert_true(!strcmp(l.items[i].event_id, "evt_00000000000000000000000000000005") ||
                        !strcmp(l.items[i].event_id, "evt_00000000000000000000000000000004"));
            held = l.items[i].id;
        }
    cg_store_delivery_list_cleanup(&l);
    /* slow holds 2 leases: nothing more of it */
    claim(f, f->s, now, 10, 2, &l);
    assert_int_equal(l.n, 0);
    /* one finished: one more */
    finish(f, held, CG_DELIVERY_SUCCEEDED, 0, 200, NULL);
    claim(f, f->s, now, 10, 2, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].webhook, "slow");
    cg_store_delivery_list_cleanup(&l);
    /* max caps the whole */
    assert_int_equal(cg_store_delivery_release_all(f->s, "prod", &f->err), 0);
    claim(f, f->s, now, 3, 0, &l);
    assert_int_equal(l.n, 3);
    cg_store_delivery_list_cleanup(&l);
    claim(f, f->s, now, 0, 0, &l);
    assert_int_equal(l.n, 0);
}

struct claimer {
    const char *url;
    int64_t ids[64];
    size_t n;
    int rc;
};

static void *claimer_run(void *arg)
{
    struct claimer *c = arg;
    struct cg_err err;
    struct cg_store *s = NULL;
    c->rc = cg_store_open(c->url, false, &s, &err);
    for (int round = 0; c->rc == 0; round++) {
        struct cg_store_delivery_list l;
        c->rc = cg_store_delivery_claim(s, "prod", 1LL << 50, 60000, 3, 0, &l, &err);
        if (c->rc != 0 || l.n == 0) {
            cg_store_delivery_list_cleanup(&l);
            break;
        }
        for (size_t i = 0; i < l.n && c->n < CG_ARRAY_LEN(c->ids); i++) c->ids[c->n++] = l.items[i].id;
        cg_store_delivery_list_cleanup(&l);
    }
    if (c->rc != 0) fprintf(stderr, "claimer: %s\n", err.msg);
    cg_store_close(s);
    return NULL;
}

/* Two store handles on one file claiming at once never get the same delivery, and between them
 * get every one. */
static void test_delivery_claim_concurrent(void **state)
{
    struct fx *f = *state;
    wh_simple(f, "h1", NULL, 0, false);
    wh_simple(f, "h2", NULL, 0, false);
    for (unsigned i = 1; i <= 30; i++) ev_put(f, i, "x"); /* 60 deliveries */
    struct claimer c[2] = {{.url = f->url}, {.url = f->url}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, claimer_run, &c[i]), 0);
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(c[0].rc, 0);
    assert_int_equal(c[1].rc, 0);
    assert_int_equal(c[0].n + c[1].n, 60);
    for (size_t i = 0; i < c[0].n; i++)
        for (size_t j = 0; j < c[1].n; j++) assert_true(c[0].ids[i] != c[1].ids[j]);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM deliveries WHERE attempts = 1 AND lease_until_ms > 0"), 60);
}

static void test_delivery_release_all(void **state)
{
    struct fx *f = *state;
    wh_simple(f, "hook", NULL, 0, false);
    ev_put(f, 1, "a");
    ev_put(f, 2, "a");
    struct cg_store_delivery_list l;
    claim(f, f->s, 1LL << 50, 10, 0, &l);
    assert_int_equal(l.n, 2);
    finish(f, l.items[0].id, CG_DELIVERY_SUCCEEDED, 0, 200, NULL);
    cg_store_delivery_list_cleanup(&l);
    assert_int_equal(cg_store_delivery_release_all(f->s, "stage", &f->err), 0); /* another environment's: none */
    claim(f, f->s, 1LL << 50, 10, 0, &l);
    assert_int_equal(l.n, 0);
    assert_int_equal(cg_store_delivery_release_all(f->s, "prod", &f->err), 0);
    claim(f, f->s, 1LL << 50, 10, 0, &l);
    assert_int_equal(l.n, 1); /* the unfinished one, due again */
    assert_int_equal(l.items[0].attempts, 2);
    cg_store_delivery_list_cleanup(&l);
}

static void test_delivery_replay(void **state)
{
    struct fx *f = *state;
    wh_simple(f, "hook", NULL, 0, false);
    ev_put(f, 1, "a");
    struct cg_store_delivery_list l;
    claim(f, f->s, 1LL << 50, 10, 0, &l);
    int64_t id = l.items[0].id;
    cg_store_delivery_list_cleanup(&l);
    assert_int_equal(cg_store_delivery_replay(f->s, "prod", id, 5000, &f->err), CG_EINVAL);
    assert_non_null(strstr(f->err.msg, "still pending"));
    finish(f, id, CG_DELIVERY_FAILED, 0, 500, "HTTP 500");
    uint64_t r = rev(f, "prod");
    assert_int_equal(cg_store_delivery_replay(f->s, "prod", id, 5000, &f->err), 0);
    assert_int_equal(rev(f, "prod"), r);
    struct cg_store_delivery d;
    assert_int_equal(cg_store_delivery_get(f->s, "prod", id, &d, &f->err), 0);
    assert_int_equal(d.status, CG_DELIVERY_PENDING);
    assert_int_equal(d.attempts, 0);
    assert_int_equal(d.next_at_ms, 5000);
    assert_int_equal(d.n_history, 1); /* the record stays */
    cg_store_delivery_cleanup(&d);
    claim(f, f->s, 5000, 10, 0, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].attempts, 1);
    cg_store_delivery_list_cleanup(&l);
    finish(f, id, CG_DELIVERY_SUCCEEDED, 0, 200, NULL);
    assert_int_equal(raw_int(f, "SELECT MAX(n) FROM attempts"), 2); /* numbering goes on */
    assert_int_equal(cg_store_delivery_replay(f->s, "prod", 12345, 1, &f->err), CG_ENOTFOUND);
    assert_int_equal(cg_store_delivery_replay(f->s, "stage", id, 1, &f->err), CG_ENOTFOUND);
    /* a succeeded one too; not once its webhook is gone */
    assert_int_equal(cg_store_webhook_delete(f->s, "prod", "hook", &f->err), 0);
    assert_int_equal(cg_store_delivery_replay(f->s, "prod", id, 6000, &f->err), CG_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "its webhook 'hook' was removed"));
    assert_non_null(strstr(f->err.hint, "certgate webhook add hook"));
}

static void test_delivery_list_filters(void **state)
{
    struct fx *f = *state;
    wh_simple(f, "h1", NULL, 0, false);
    wh_simple(f, "h2", NULL, 0, false);
    for (unsigned i = 1; i <= 3; i++) ev_put(f, i, "t"); /* 6 deliveries, ids 1..6 */
    finish(f, 1, CG_DELIVERY_SUCCEEDED, 0, 204, NULL);
    finish(f, 3, CG_DELIVERY_FAILED, 0, 0, "connect refused");
    struct cg_store_delivery_list l;
    assert_int_equal(cg_store_delivery_list(f->s, "prod", NULL, -1, 100, &l, &f->err), 0);
    assert_int_equal(l.n, 6);
    for (size_t i = 1; i < l.n; i++) assert_true(l.items[i - 1].id > l.items[i].id); /* newest first */
    cg_store_delivery_list_cleanup(&l);
    assert_int_equal(cg_store_delivery_list(f->s, "prod", "h1", -1, 100, &l, &f->err), 0);
    assert_int_equal(l.n, 3);
    for (size_t i = 0; i < l.n; i++) assert_string_equal(l.items[i].webhook, "h1");
    assert_int_equal(l.items[2].n_history, 1); /* with their attempts */
    assert_int_equal(l.items[2].history[0].status_code, 204);
    cg_store_delivery_list_cleanup(&l);
    assert_int_equal(count_of(f, "h1", CG_DELIVERY_FAILED), 1);
    assert_int_equal(count_of(f, "h1", CG_DELIVERY_SUCCEEDED), 1);
    assert_int_equal(count_of(f, NULL, CG_DELIVERY_PENDING), 4);
    assert_int_equal(count_of(f, "nope", -1), 0);
    assert_int_equal(cg_store_delivery_list(f->s, "prod", NULL, -1, 2, &l, &f->err), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.items[0].id, 6);
    cg_store_delivery_list_cleanup(&l);
    assert_int_equal(cg_store_delivery_list(f->s, "prod", NULL, 3, 2, &l, &f->err), CG_EINVAL);
    assert_int_equal(cg_store_delivery_list(f->s, "prod", "", -1, 2, &l, &f->err), CG_EINVAL);
    struct cg_store_webhook w;
    assert_int_equal(cg_store_webhook_get(f->s, "prod", "h1", &w, &f->err), 0);
    assert_int_equal(w.n_pending, 1);
    assert_int_equal(w.n_failed, 1);
    cg_store_webhook_cleanup(&w);
}

/* Removing a webhook removes its pending deliveries (nothing would send them); finished ones stay. */
static void test_webhook_delete_keeps_finished(void **state)
{
    struct fx *f = *state;
    wh_simple(f, "hook", NULL, 0, false);
    for (unsigned i = 1; i <= 3; i++) ev_put(f, i, "t");
    finish(f, 1, CG_DELIVERY_SUCCEEDED, 0, 200, NULL);
    finish(f, 2, CG_DELIVERY_FAILED, 0, 500, NULL);
    assert_int_equal(cg_store_webhook_delete(f->s, "prod", "hook", &f->err), 0);
    assert_int_equal(count_of(f, "hook", -1), 2);
    assert_int_equal(count_of(f, "hook", CG_DELIVERY_PENDING), 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM attempts"), 2);
}

/* A store of version 4 gains the tables of version 5 on a plain open and keeps its data. */
static void test_webhook_migration_from_v4(void **state)
{
    struct fx *f = *state;
    put(f, "prod", "c", CG_STORE_CLIENT);
    cg_store_close(f->s);
    f->s = NULL;
    raw_exec(f, "DROP TABLE attempts; DROP TABLE deliveries; DROP TABLE events; DROP TABLE webhook_events; "
                "DROP TABLE webhooks; DELETE FROM schema_version WHERE version >= 5;");
    int rc = cg_store_open(f->url, false, &f->s, &f->err);
    if (rc != 0) fprintf(stderr, "open: %s\n", f->err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM schema_version WHERE version = 5 AND name = 'webhooks, events, "
                                "deliveries and their attempts'"),
                     1);
    assert_true(exists(f, "prod", "c"));
    wh_simple(f, "hook", NULL, 0, false);
    assert_int_equal(ev_put(f, 1, "t"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_missing, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_scheme, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_create_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_mode, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_migrations_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_database, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_new_id_and_master_key, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_cert_put_get_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cert_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cert_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_keeps_pins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envs_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_blob_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_pinned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_failing_op_does_not_poison, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_after_write_is_undone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_put_get_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_ca_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_ca_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_revision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_envs_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_migration_from_v1, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_site_put_get_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_site_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_site_replace_keeps_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_site_certs_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_put_get_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ca_crls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingress_migration_from_v1, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_tx_nested_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_nested_rollback_dooms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_nested_outer_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_put_get_find_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_in_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_order_and_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_list_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_migration_from_v3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_put_get_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_certs_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_problem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_put_makes_deliveries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_in_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_claim_finish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_claim_per_webhook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_claim_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_release_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_list_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_delete_keeps_finished, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_migration_from_v4, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
