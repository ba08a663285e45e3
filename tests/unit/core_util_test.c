/* core: buffers, string lists, numbers, errors, paths, time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/mem.h"
#include "core/slice.h"
#include "core/str.h"
#include "core/strlist.h"
#include "core/time.h"

static void test_buf(void **state)
{
    (void)state;
    struct cg_buf b;
    cg_buf_init(&b, 10);
    assert_int_equal(cg_buf_append_str(&b, "hello"), 0);
    assert_int_equal(cg_buf_printf(&b, "%d", 1234), 0);
    assert_string_equal(cg_buf_str(&b), "hello1234");
    assert_int_equal(cg_buf_append_str(&b, "xy"), CG_ELIMIT); /* 11 > 10 */
    assert_string_equal(cg_buf_str(&b), "hello1234");           /* unchanged */
    assert_int_equal(cg_buf_append_str(&b, "x"), 0);
    size_t n;
    uint8_t *p = cg_buf_steal(&b, &n);
    assert_int_equal(n, 10);
    assert_string_equal((char *)p, "hello1234x");
    free(p);
    assert_null(b.ptr);
    cg_buf_init_secret(&b, 0);
    for (int i = 0; i < 1000; i++) assert_int_equal(cg_buf_append(&b, "secret", 6), 0);
    assert_int_equal(b.len, 6000);
    cg_buf_cleanup(&b);
    cg_buf_cleanup(&b); /* twice is fine */
}

static void test_array_reserve(void **state)
{
    (void)state;
    int *a = NULL;
    size_t cap = 0;
    assert_int_equal(cg_array_reserve(&a, &cap, 1, sizeof(*a)), 0);
    assert_int_equal(cap, 8);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(cg_array_reserve(&a, &cap, (size_t)i + 1, sizeof(*a)), 0);
        a[i] = i;
    }
    assert_int_equal(cap, 1024);
    assert_int_equal(a[999], 999);
    /* overflow is refused and leaves the array as it was */
    assert_int_equal(cg_array_reserve(&a, &cap, SIZE_MAX / 2 + 2, sizeof(*a)), CG_ENOMEM);
    assert_int_equal(cap, 1024);
    assert_int_equal(a[500], 500);
    free(a);
}

static void test_strlist(void **state)
{
    (void)state;
    struct cg_strlist l;
    cg_strlist_init(&l);
    assert_int_equal(cg_strlist_split(&l, " a.pfx , b.pfx,,c ", ',', false), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[0], "a.pfx");
    assert_string_equal(l.items[2], "c");
    assert_true(cg_strlist_contains(&l, "b.pfx"));
    cg_strlist_cleanup(&l);
    assert_int_equal(cg_strlist_split(&l, "pw1,,pw3", ',', true), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[1], "");
    assert_int_equal(cg_strlist_addf(&l, "n=%d", 5), 0);
    assert_string_equal(l.items[3], "n=5");
    cg_strlist_cleanup(&l);
}

static void test_numbers(void **state)
{
    (void)state;
    uint64_t u;
    int64_t i;
    assert_int_equal(cg_str_to_u64("30", &u), 0);
    assert_int_equal(u, 30);
    assert_int_equal(cg_str_to_u64("18446744073709551615", &u), 0);
    assert_int_equal(cg_str_to_u64("18446744073709551616", &u), CG_EINVAL);
    assert_int_equal(cg_str_to_u64("-1", &u), CG_EINVAL);
    assert_int_equal(cg_str_to_u64("3x", &u), CG_EINVAL);
    assert_int_equal(cg_str_to_u64("", &u), CG_EINVAL);
    assert_int_equal(cg_str_to_u64(" 3", &u), CG_EINVAL);
    assert_int_equal(cg_str_to_i64("-42", &i), 0);
    assert_int_equal(i, -42);
    assert_int_equal(cg_str_to_i64("-", &i), CG_EINVAL);
    char small[4];
    assert_int_equal(cg_strlcpy(small, "abcdef", sizeof(small)), 6);
    assert_string_equal(small, "abc");
    char hex[7];
    cg_hex_encode((const uint8_t *)"\x00\xab\xff", 3, hex);
    assert_string_equal(hex, "00abff");
}

static void test_errors(void **state)
{
    (void)state;
    struct cg_err e;
    cg_err_clear(&e);
    assert_int_equal(cg_err_set(&e, CG_EPASSWORD, "wrong password for '%s'", "a.p12"), CG_EPASSWORD);
    assert_int_equal(cg_err_prefix(&e, "ClientCertificates entry %d", 2), CG_EPASSWORD);
    assert_string_equal(e.msg, "ClientCertificates entry 2: wrong password for 'a.p12'");
    assert_int_equal(cg_err_exit_status(CG_EPASSWORD), 1);
    assert_int_equal(cg_err_exit_status(CG_EUSAGE), 2);
    assert_int_equal(cg_err_exit_status(CG_EINVAL), 2);
    assert_int_equal(cg_err_exit_status(0), 0);
    assert_int_equal(cg_err_http_status(CG_ENOTFOUND), 404);
    assert_int_equal(cg_err_http_status(CG_EEXISTS), 409);
    assert_int_equal(cg_err_http_status(CG_ECERT), 422);
    assert_int_equal(cg_err_http_status(CG_EUSAGE), 400);
    assert_string_equal(cg_err_reason(CG_EKEYMISMATCH), "cert.key_mismatch");
    assert_int_equal(cg_err_category(CG_ESTORE), CG_CAT_STORE);
    assert_int_equal(cg_err_set(NULL, CG_EIO, "x"), CG_EIO); /* NULL err is allowed */
}

static void test_paths_and_slices(void **state)
{
    (void)state;
    char out[64];
    cg_path_stem("D:\\App\\Mx1.pfx", out, sizeof(out));
    assert_string_equal(out, "Mx1");
    cg_path_stem("/a/b/client.cert.p12", out, sizeof(out));
    assert_string_equal(out, "client.cert");
    cg_path_stem(".hidden", out, sizeof(out));
    assert_string_equal(out, ".hidden");
    cg_path_dirname("/var/lib/certgate/x.db", out, sizeof(out));
    assert_string_equal(out, "/var/lib/certgate");
    cg_path_dirname("x.db", out, sizeof(out));
    assert_string_equal(out, ".");
    cg_path_dirname("/x.db", out, sizeof(out));
    assert_string_equal(out, "/");
    assert_true(cg_slice_case_eq(cg_slice_str("Host"), cg_slice_str("hOST")));
    assert_int_equal(cg_slice_find(cg_slice_str("abc-----BEGIN"), "-----BEGIN"), 3);
    assert_int_equal(cg_slice_find(cg_slice_str("abc"), "abcd"), -1);
    struct cg_slice t = cg_slice_trim(cg_slice_str("  x y \n"));
    assert_true(cg_slice_eq_str(t, "x y"));
}

static void test_cursor(void **state)
{
    (void)state;
    static const uint8_t data[] = {1, 0, 2, 0, 0, 0, 3, 9};
    struct cg_cursor c;
    cg_cursor_init(&c, cg_slice_make(data, sizeof(data)));
    uint8_t a;
    uint16_t b;
    uint32_t d;
    assert_int_equal(cg_cursor_u8(&c, &a), 0);
    assert_int_equal(cg_cursor_u16be(&c, &b), 0);
    assert_int_equal(b, 2);
    assert_int_equal(cg_cursor_u32be(&c, &d), 0);
    assert_int_equal(d, 3);
    assert_int_equal(cg_cursor_u16be(&c, &b), CG_EPROTO); /* one byte left */
    assert_int_equal(cg_cursor_left(&c), 1);
    struct cg_slice s;
    assert_int_equal(cg_cursor_take(&c, 2, &s), CG_EPROTO);
    assert_int_equal(cg_cursor_take(&c, 1, &s), 0);
    assert_int_equal(s.ptr[0], 9);
}

static void test_time(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(cg_time_rfc3339(0, buf, sizeof(buf)), "1970-01-01T00:00:00Z");
    assert_int_equal(cg_time_days_until(86400 * 3 + 5, 0), 3);
    assert_int_equal(cg_time_days_until(0, 10), -1);
    assert_int_equal(cg_time_days_until(0, 86400 * 2), -2);
    setenv("CERTGATE_NOW", "1000", 1);
    assert_int_equal(cg_time_now(), 1000);
    unsetenv("CERTGATE_NOW");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf),    cmocka_unit_test(test_array_reserve),    cmocka_unit_test(test_strlist),          cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_errors), cmocka_unit_test(test_paths_and_slices), cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
