/* Fuzz target: Retry-After values from untrusted webhook receivers (cg_webhook_retry_after_ms).
 * Whatever the bytes, the answer is -1 or a delay from 0 to the cap, the same for the same input,
 * and a delay given in seconds does not depend on the clock. */
#include <stdint.h>
#include <stdlib.h>

#include "webhook/webhook.h"

#define CHECK(c)                                                                                \
    do {                                                                                        \
        if (!(c)) abort();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cg_slice v = cg_slice_make(data, size);
    int64_t a = cg_webhook_retry_after_ms(v, 0), b = cg_webhook_retry_after_ms(v, 1700000000);
    CHECK(a == -1 || (a >= 0 && a <= 2147483647LL * 1000));
    CHECK(b == -1 || (b >= 0 && b <= 2147483647LL * 1000));
    CHECK((a == -1) == (b == -1));
    CHECK(a == cg_webhook_retry_after_ms(v, 0));
    struct cg_slice t = cg_slice_trim(v);
    if (t.len && t.ptr[0] >= '0' && t.ptr[0] <= '9') CHECK(a == b);
    return 0;
}
