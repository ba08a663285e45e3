/* Session slabs (src/proxy/slab.h): zeroed, aligned, separate objects; freed slots reused; the
 * memory of emptied slabs given back to the system; other sizes from the heap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proxy/slab.h"

static bool zeroed(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

/* Resident bytes of this process. */
static size_t rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    unsigned long size = 0, resident = 0;
    assert_int_equal(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

static void test_objects_are_zeroed_aligned_and_separate(void **state)
{
    (void)state;
    enum { N = 200, SIZE = 1500 };
    unsigned char *o[N];
    for (int i = 0; i < N; i++) {
        o[i] = cg_proxy_slab_calloc(SIZE);
        assert_non_null(o[i]);
        assert_int_equal((uintptr_t)o[i] % 16, 0);
        assert_true(zeroed(o[i], SIZE));
        memset(o[i], i + 1, SIZE);
    }
    for (int i = 0; i < N; i++)
        for (int k = 0; k < SIZE; k++) assert_int_equal(o[i][k], (unsigned char)(i + 1));
    /* a freed slot comes back, zeroed */
    for (int i = 0; i < N; i += 2) cg_proxy_slab_free(o[i]);
    for (int i = 0; i < N; i += 2) {
        o[i] = cg_proxy_slab_calloc(SIZE);
        assert_non_null(o[i]);
        assert_true(zeroed(o[i], SIZE));
    }
    for (int i = 1; i < N; i += 2) assert_int_equal(o[i][SIZE - 1], (unsigned char)(i + 1));
    unsigned char *last = o[N - 1];
    cg_proxy_slab_free(last);
    assert_ptr_equal(cg_proxy_slab_calloc(SIZE), last);
    for (int i = 0; i < N; i++) cg_proxy_slab_free(o[i]);
}

static void test_emptied_slabs_are_given_back(void **state)
{
    (void)state;
    enum { N = 3000, SIZE = 2048 }; /* 6 MiB */
    static void *o[N];
    size_t before = rss();
    for (int i = 0; i < N; i++) assert_non_null(o[i] = cg_proxy_slab_calloc(SIZE));
    size_t full = rss();
    assert_true(full > before + 5 * 1024 * 1024);
    /* in an order that empties slabs only at the end */
    for (int i = 0; i < N; i += 2) cg_proxy_slab_free(o[i]);
    for (int i = 1; i < N; i += 2) cg_proxy_slab_free(o[i]);
    size_t after = rss();
    assert_true(after + 5 * 1024 * 1024 < full);
}

static void test_other_sizes(void **state)
{
    (void)state;
    /* more sizes than the slab classes, and one larger than a slab takes: all usable */
    size_t sizes[] = {16, 100, 1000, 3000, 5000, 7000, 40000};
    void *o[sizeof(sizes) / sizeof(sizes[0])];
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        o[i] = cg_proxy_slab_calloc(sizes[i]);
        assert_non_null(o[i]);
        assert_int_equal((uintptr_t)o[i] % 16, 0);
        assert_true(zeroed(o[i], sizes[i]));
        memset(o[i], 0xab, sizes[i]);
    }
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) cg_proxy_slab_free(o[i]);
    cg_proxy_slab_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_objects_are_zeroed_aligned_and_separate),
        cmocka_unit_test(test_emptied_slabs_are_given_back),
        cmocka_unit_test(test_other_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
