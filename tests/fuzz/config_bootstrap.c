/* Fuzz target: the bootstrap YAML file (cg_config_parse). Any input must give 0 or a clean
 * refusal with a message, never a crash, leak or sanitizer report; a success must hold only
 * validated values. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config/bootstrap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_list(const struct cg_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (!cg_config_listen_addr_valid(l->items[i])) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cg_config c;
    struct cg_err err;
    cg_err_clear(&err);
    int rc = cg_config_parse("fuzz.yaml", cg_slice_make(data, size), &c, &err);
    if (rc < 0) {
        if (err.code != rc || err.msg[0] == '\0') abort();
        if (c.environment || c.store_url || c.master_key || c.log_access || c.listen_egress.n ||
            c.listen_ingress.n || c.listen_admin.n)
            abort(); /* on error, c is as after init */
    } else {
        check_list(&c.listen_egress);
        check_list(&c.listen_ingress);
        check_list(&c.listen_admin);
        if (c.workers > 1024) abort();
    }
    cg_config_cleanup(&c);
    return 0;
}
