/* Fuzz target: request paths from untrusted clients, as the ingress normalises them before the
 * access rules see them (cg_site_path_normalize). Any input gives a normalised path or a clean
 * refusal with a reason; a normalised path starts with '/', holds no NUL, no empty, "." or ".."
 * segment and no ";parameters", is no longer than the input, and normalises to itself (when it
 * holds no '%', which would be decoded again); a smaller output buffer gives CG_ELIMIT or the
 * same answer, never a different path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/site.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                \
    do {                                                                                        \
        if (!(c)) abort();                                                                      \
    } while (0)

static void check_shape(const char *out, size_t len, size_t in_len)
{
    CHECK(len >= 1 && len <= in_len && out[0] == '/' && strlen(out) == len);
    CHECK(!memchr(out, ';', len));
    for (size_t i = 0; i < len; i++) {
        if (out[i] != '/') continue;
        size_t j = i + 1;
        while (j < len && out[j] != '/') j++;
        size_t seg = j - i - 1;
        if (j < len) CHECK(seg > 0); /* no "//" (a final '/' is the trailing slash) */
        CHECK(!(seg == 1 && out[i + 1] == '.'));
        CHECK(!(seg == 2 && out[i + 1] == '.' && out[i + 2] == '.'));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    /* exact-size copies: reading past the input or writing past the cap is an ASan report */
    uint8_t *in = malloc(size ? size : 1);
    char *out = malloc(size + 1);
    CHECK(in && out);
    memcpy(in, data, size);
    size_t len = 12345;
    const char *why = NULL;
    int rc = cg_site_path_normalize(cg_slice_make(in, size), out, size + 1, &len, &why);
    if (rc != 0) {
        CHECK(rc == CG_EINVAL && why && *why && len == 0 && out[0] == '\0'); /* size + 1 always fits */
    } else {
        check_shape(out, len, size);
        if (!memchr(out, '%', len)) {
            char *again = malloc(len + 1);
            size_t len2 = 0;
            CHECK(again && cg_site_path_normalize(cg_slice_make(out, len), again, len + 1, &len2, &why) == 0);
            CHECK(len2 == len && memcmp(again, out, len) == 0);
            free(again);
        }
    }
    /* a smaller buffer: the same path or CG_ELIMIT */
    size_t cap = size ? data[0] % (size + 1) : 0;
    char *small = malloc(cap ? cap : 1);
    CHECK(small);
    size_t len3 = 0;
    int rc3 = cg_site_path_normalize(cg_slice_make(in, size), small, cap, &len3, &why);
    if (rc3 == 0) CHECK(rc == 0 && len3 == len && memcmp(small, out, len + 1) == 0);
    else CHECK(rc3 == CG_ELIMIT || rc3 == rc);
    free(small);
    free(out);
    free(in);
    return 0;
}
