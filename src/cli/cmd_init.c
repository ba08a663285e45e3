/* certgate init: create the store and the master key; idempotent. */
#include <stdio.h>

#include "cli/cli.h"
#include "core/file.h"

static int run_init(struct cg_cli *cli, const struct cg_cli_args *args, struct cg_err *err)
{
    CG_UNUSED(args);
    bool existed = cg_cli_store(cli, false, err) == 0;
    if (!existed) {
        cg_err_clear(err);
        CG_GUARD(cg_cli_store(cli, true, err));
    }
    bool key_existed = cg_file_exists(cli->master_key_path);
    if (key_existed) {
        /* never overwrite: a new key would orphan every sealed private key */
        CG_GUARD(cg_cli_master(cli, err));
    } else {
        if (existed) {
            struct cg_store_cert_list certs = {0};
            CG_GUARD(cg_store_cert_list(cli->store, cli->env, &certs, err));
            size_t sealed = 0;
            for (size_t i = 0; i < certs.n; i++) sealed += certs.items[i].key_blob != NULL;
            cg_store_cert_list_cleanup(&certs);
            if (sealed) {
                cg_err_set(err, CG_ENOENT,
                           "master key '%s' is missing but the store holds %zu sealed private key%s in "
                           "environment '%s'",
                           cli->master_key_path, sealed, sealed == 1 ? "" : "s", cli->env);
                return cg_err_hint(err, "restore the master key from your backup (or point --master-key at it); "
                                        "a new key could not decrypt them");
            }
        }
        char dir[4096];
        cg_path_dirname(cli->master_key_path, dir, sizeof(dir));
        CG_GUARD(cg_dir_ensure(dir, 0700, err));
        CG_GUARD(cg_pki_master_key_create(cli->master_key_path, err));
    }
    printf("store %s: %s\n", cli->store_url, existed ? "exists, schema up to date" : "created");
    printf("master key %s: %s\n", cli->master_key_path, key_existed ? "exists, kept" : "created (mode 0600)");
    printf("environment: %s\n", cli->env);
    if (!key_existed) printf("Back up the master key: without it the stored private keys cannot be read.\n");
    return 0;
}

const struct cg_cli_cmd cg_cli_init_cmds[] = {
    {NULL, "init", "", "create the store and the master key (idempotent: existing ones are kept)", 0, 0, NULL,
     run_init, NULL, NULL},
    {0},
};
