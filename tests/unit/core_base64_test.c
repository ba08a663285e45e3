#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/base64.h"

static void roundtrip(const char *plain, const char *encoded)
{
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_base64_encode(cg_slice_str(plain), &b), 0);
    assert_string_equal(cg_buf_str(&b), encoded);
    cg_buf_reset(&b);
    assert_int_equal(cg_base64_decode(cg_slice_str(encoded), &b), 0);
    assert_int_equal(b.len, strlen(plain));
    assert_memory_equal(b.ptr ? (const char *)b.ptr : "", plain, b.len);
    cg_buf_cleanup(&b);
}

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    roundtrip("", "");
    roundtrip("f", "Zg==");
    roundtrip("fo", "Zm8=");
    roundtrip("foo", "Zm9v");
    roundtrip("foob", "Zm9vYg==");
    roundtrip("fooba", "Zm9vYmE=");
    roundtrip("foobar", "Zm9vYmFy");
}

static void test_whitespace_and_binary(void **state)
{
    (void)state;
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_base64_decode(cg_slice_str(" Zm9v\r\nYmFy\n"), &b), 0);
    assert_string_equal(cg_buf_str(&b), "foobar");
    cg_buf_reset(&b);
    assert_int_equal(cg_base64_decode(cg_slice_str("AP8A"), &b), 0); /* 00 ff 00 */
    assert_int_equal(b.len, 3);
    assert_int_equal(b.ptr[0], 0);
    assert_int_equal(b.ptr[1], 0xff);
    cg_buf_cleanup(&b);
}

static void test_refusals(void **state)
{
    (void)state;
    static const char *bad[] = {"Zm9", "Zm9v!", "Zg=", "Zg==Zg==", "Z===", "Zh==", "Zm9=", "====", "-_8A"};
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_buf_append_str(&b, "keep"), 0);
    for (size_t i = 0; i < CG_ARRAY_LEN(bad); i++) {
        if (cg_base64_decode(cg_slice_str(bad[i]), &b) != CG_EPROTO) fail_msg("'%s' accepted", bad[i]);
        assert_string_equal(cg_buf_str(&b), "keep"); /* left as it was */
    }
    cg_buf_cleanup(&b);
    assert_true(cg_base64_looks_like(cg_slice_str("Zm9v\nYg==")));
    assert_false(cg_base64_looks_like(cg_slice_str("-----BEGIN")));
    assert_false(cg_base64_looks_like(cg_slice_str("  \n")));
}

static void test_cap(void **state)
{
    (void)state;
    struct cg_buf b;
    cg_buf_init(&b, 4);
    assert_int_equal(cg_base64_decode(cg_slice_str("Zm9vYmFy"), &b), CG_ELIMIT);
    cg_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_whitespace_and_binary),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
