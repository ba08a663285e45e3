/* Fuzz target: the Mendix settings. The input is used three ways: as ClientCertificateUsages
 * JSON (against fixed ClientCertificates and passwords), as CLIENT_CERTIFICATES, and as
 * CERTIFICATE_AUTHORITIES. Each must give 0 or a clean refusal with a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat/mendix.h"
#include "core/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(int rc, const struct cg_err *err)
{
    if (rc < 0 && (err->code != rc || err->msg[0] == '\0')) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cg_err err;

    /* usages JSON is a C string: stop at the first NUL */
    char *text = cg_strndup((const char *)data, size);
    if (!text) return 0;
    struct cg_mendix_local local;
    cg_err_clear(&err);
    int rc = cg_mendix_local_parse("D:\\App\\Mx1.pfx, D:\\App\\Mx2.pfx,/etc/a.p12", "pw1,,pw3", text,
                                   &local, &err);
    check_err(rc, &err);
    if (rc == 0) {
        if (local.paths.n != 3 || local.passwords.n != 3) abort();
        for (size_t i = 0; i < local.n_usages; i++)
            if (local.usages[i].cert < -1 || local.usages[i].cert >= 3 || !local.usages[i].target[0])
                abort();
    } else if (local.paths.n || local.passwords.n || local.n_usages) {
        abort();
    }
    cg_mendix_local_cleanup(&local);

    /* the input as the ClientCertificates / ClientCertificatePasswords values too */
    cg_err_clear(&err);
    rc = cg_mendix_local_parse(text, text, NULL, &local, &err);
    check_err(rc, &err);
    cg_mendix_local_cleanup(&local);
    cg_free(text);

    struct cg_mendix_env env;
    cg_err_clear(&err);
    rc = cg_mendix_env_parse(cg_slice_make(data, size), &env, &err);
    check_err(rc, &err);
    if (rc < 0 && (env.certs || env.n_certs)) abort();
    for (size_t i = 0; i < env.n_certs; i++)
        if (env.certs[i].pfx.len == 0 || !env.certs[i].password) abort();
    cg_mendix_env_cleanup(&env);

    struct cg_buf out;
    cg_buf_init(&out, 0);
    cg_err_clear(&err);
    rc = cg_mendix_authorities_decode(cg_slice_make(data, size), &out, &err);
    check_err(rc, &err);
    if (rc == 0 && cg_slice_find(cg_buf_slice(&out), "-----BEGIN") < 0) abort();
    if (rc < 0 && out.len) abort();
    cg_buf_cleanup(&out);
    return 0;
}
