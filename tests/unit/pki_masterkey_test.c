/* cg_pki_master_key_create / _load: mode 0600, never overwritten, refusals for permissions,
 * content and missing files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"
#include "pki/pki.h"
#include "testpki.h"
#include "testutil.h"

static void path_of(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tp_tmpdir(), name);
    unlink(buf);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    struct cg_err err;
    unlink(path);
    assert_ok(cg_file_create(path, text, strlen(text), mode, &err), err);
}

static void test_create_and_load(void **s)
{
    (void)s;
    char path[1100];
    path_of(path, sizeof(path), "master.key");
    struct cg_err err;
    assert_ok(cg_pki_master_key_create(path, &err), err);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 65); /* 64 hex digits and a newline */
    uint8_t k1[CG_MASTER_KEY_LEN], zero[CG_MASTER_KEY_LEN] = {0};
    assert_ok(cg_pki_master_key_load(path, k1, &err), err);
    assert_memory_not_equal(k1, zero, sizeof(k1));

    /* never overwritten */
    assert_refused(cg_pki_master_key_create(path, &err), CG_EEXISTS, err, "already exists");
    uint8_t k2[CG_MASTER_KEY_LEN];
    assert_ok(cg_pki_master_key_load(path, k2, &err), err);
    assert_memory_equal(k1, k2, sizeof(k1));

    char path2[1100];
    path_of(path2, sizeof(path2), "master2.key");
    assert_ok(cg_pki_master_key_create(path2, &err), err);
    assert_ok(cg_pki_master_key_load(path2, k2, &err), err);
    assert_memory_not_equal(k1, k2, sizeof(k1)); /* random */
    unlink(path);
    unlink(path2);
}

static void test_refusals(void **s)
{
    (void)s;
    char path[1100];
    path_of(path, sizeof(path), "bad.key");
    struct cg_err err;
    uint8_t k[CG_MASTER_KEY_LEN];
    const char *good = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

    assert_refused(cg_pki_master_key_load(path, k, &err), CG_ENOENT, err, "does not exist");
    assert_non_null(strstr(err.hint, "certgate init"));

    write_file(path, good, 0644);
    assert_refused(cg_pki_master_key_load(path, k, &err), CG_EPERM, err, "group or others");
    assert_non_null(strstr(err.hint, "chmod 600"));
    write_file(path, good, 0640);
    assert_refused(cg_pki_master_key_load(path, k, &err), CG_EPERM, err, "group or others");
    write_file(path, good, 0604);
    assert_refused(cg_pki_master_key_load(path, k, &err), CG_EPERM, err, "group or others");

    write_file(path, "0001020304\n", 0600);
    assert_refused(cg_pki_master_key_load(path, k, &err), CG_EPROTO, err, "64 hex digits");
    write_file(path, "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600);
    assert_refused(cg_pki_master_key_load(path, k, &err), CG_EPROTO, err, "64 hex digits");
    write_file(path, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00\n", 0600);
    assert_refused(cg_pki_master_key_load(path, k, &err), CG_EPROTO, err, "64 hex digits");
    write_file(path, "", 0600);
    assert_refused(cg_pki_master_key_load(path, k, &err), CG_EPROTO, err, "64 hex digits");
    char big[600];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    write_file(path, big, 0600);
    assert_refused(cg_pki_master_key_load(path, k, &err), CG_EPROTO, err, "64 hex digits");

    write_file(path, good, 0600); /* and the good one, without a trailing newline too */
    assert_ok(cg_pki_master_key_load(path, k, &err), err);
    assert_int_equal(k[0], 0);
    assert_int_equal(k[31], 0x1f);
    write_file(path, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", 0400);
    assert_ok(cg_pki_master_key_load(path, k, &err), err);
    assert_int_equal(k[10], 0x0a);
    unlink(path);

    char dir[1100];
    snprintf(dir, sizeof(dir), "%s", tp_tmpdir());
    assert_refused(cg_pki_master_key_load(dir, k, &err), CG_EIO, err, "not a regular file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_create_and_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
