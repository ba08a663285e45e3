/* Small helpers for the pki_* cmocka tests. Include after <cmocka.h>. */
#ifndef CG_TESTUTIL_H
#define CG_TESTUTIL_H

#include <string.h>

#include <openssl/err.h>

/* rc must be code, the message must contain phrase, and the OpenSSL error queue must be empty
 * (every failure path drains it). */
#define assert_refused(rc, code, err, phrase)                                                     \
    do {                                                                                          \
        int rc_ = (rc);                                                                           \
        if (rc_ != (code))                                                                        \
            fail_msg("rc %d, expected %d (%s); message: %s", rc_, (code), #code, (err).msg);      \
        if (!strstr((err).msg, (phrase)))                                                         \
            fail_msg("message \"%s\" lacks \"%s\"", (err).msg, (phrase));                         \
        if (ERR_peek_error() != 0) fail_msg("OpenSSL error queue not drained");                   \
    } while (0)

#define assert_ok(rc, err)                                                                        \
    do {                                                                                          \
        int rc_ = (rc);                                                                           \
        if (rc_ != 0) fail_msg("rc %d: %s (hint: %s)", rc_, (err).msg, (err).hint);                \
        if (ERR_peek_error() != 0) fail_msg("OpenSSL error queue not empty after success");       \
    } while (0)

#endif
