#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "config/bootstrap.h"
#include "config/snapshot.h"
#include "core/log.h"
#include "core/mem.h"

#define DEFAULT_ENV "production"
#define DEFAULT_STORE "sqlite:/var/lib/certgate/certgate.db"

/* The first setting given: flag, then environment variable, then config file. A setting given
 * but empty is an error, not "use the default": `--env "$ENV"` with ENV unset must not act on
 * production. */
static int first(const char *what, const char *flag, const char *var, const char *file, const char **out,
                 struct cg_err *err)
{
    *out = NULL;
    if (flag) {
        if (!*flag) return cg_err_set(err, CG_EUSAGE, "--%s is empty", what), cg_err_hint(err, "give a value or leave the option out");
        *out = flag;
    } else if (var && getenv(var)) {
        if (!*getenv(var))
            return cg_err_set(err, CG_EUSAGE, "the environment variable %s is set but empty", var),
                   cg_err_hint(err, "give it a value, or unset it");
        *out = getenv(var);
    } else if (file && *file) {
        *out = file;
    }
    return 0;
}

static bool env_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '-' || c == '_'));
        if (!ok) return false;
    }
    return true;
}

int cg_cli_resolve(struct cg_cli *cli, struct cg_err *err)
{
    cli->config = cg_calloc(1, sizeof(*cli->config));
    CG_ENSURE(cli->config, CG_ENOMEM);
    struct cg_config cfg;
    cg_config_init(&cfg);
    const char *config_path;
    CG_GUARD(first("config", cli->config_flag, "CERTGATE_CONFIG", NULL, &config_path, err));
    if (config_path) {
        int lrc = cg_config_load(config_path, &cfg, err);
        if (lrc < 0) {
            cg_config_cleanup(&cfg);
            return lrc;
        }
    }
    const char *env, *store, *key;
    int rc = first("env", cli->env_flag, "CERTGATE_ENV", cfg.environment, &env, err);
    if (rc == 0) rc = first("store", cli->store_flag, "CERTGATE_STORE", cfg.store_url, &store, err);
    if (rc == 0) rc = first("master-key", cli->key_flag, "CERTGATE_MASTER_KEY", cfg.master_key, &key, err);
    if (rc < 0) {
        cg_config_cleanup(&cfg);
        return rc;
    }
    cli->env = cg_strdup(env ? env : DEFAULT_ENV);
    cli->store_url = cg_strdup(store ? store : DEFAULT_STORE);
    cli->master_key_path = key ? cg_strdup(key) : NULL;
    *cli->config = cfg; /* kept for the commands that need more than these three (serve) */
    CG_ENSURE(cli->env && cli->store_url && (!key || cli->master_key_path), CG_ENOMEM);
    if (!env_name_valid(cli->env)) {
        cg_err_set(err, CG_EUSAGE, "environment name '%s' is not valid", cli->env);
        return cg_err_hint(err, "use lowercase letters, digits, '-' and '_' (e.g. production, preprod, stage)");
    }
    if (!cli->master_key_path) {
        char path[4096];
        rc = cg_store_default_master_key(cli->store_url, path, sizeof(path), err);
        if (rc < 0) return rc;
        cli->master_key_path = cg_strdup(path);
        CG_ENSURE(cli->master_key_path, CG_ENOMEM);
    }
    return 0;
}

int cg_cli_store(struct cg_cli *cli, bool create, struct cg_err *err)
{
    if (cli->store) return 0;
    return cg_store_open(cli->store_url, create, &cli->store, err);
}

int cg_cli_master(struct cg_cli *cli, struct cg_err *err)
{
    if (cli->have_master) return 0;
    int rc = cg_pki_master_key_load(cli->master_key_path, cli->master, err);
    if (rc < 0) return rc;
    cli->have_master = true;
    return 0;
}

void cg_cli_cleanup(struct cg_cli *cli)
{
    cg_store_close(cli->store);
    cli->store = NULL;
    cg_free(cli->env);
    cg_free(cli->store_url);
    cg_free(cli->master_key_path);
    cli->env = cli->store_url = cli->master_key_path = NULL;
    cg_wipe(cli->master, sizeof(cli->master));
    json_decref(cli->out);
    cli->out = NULL;
    if (cli->config) cg_config_cleanup(cli->config);
    cg_free(cli->config);
    cli->config = NULL;
    cli->have_master = false;
}

int cg_cli_snapshot(struct cg_cli *cli, struct cg_snapshot **out, struct cg_err *err)
{
    *out = NULL;
    CG_GUARD(cg_cli_store(cli, false, err));
    /* the CLI's level is lowered for the load; the daemon's (admin API) is left alone: its workers
     * log too, and the load's warnings are the ones its reloads log anyway */
    enum cg_log_level level = cg_log_get_level();
    if (!cli->api) cg_log_set_level(CG_LOG_ERROR);
    int rc = cg_snapshot_load(cli->store, cli->env, NULL, out, err);
    if (!cli->api) cg_log_set_level(level);
    return rc;
}
