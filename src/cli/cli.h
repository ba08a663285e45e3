/* The command-line interface: a table of commands, one file per command group. The CLI never
 * starts an event loop (STYLE.md). Exit status: 0 success, 1 the operation failed, 2 misuse.
 * Errors print as "certgate: <what failed>: <why>" then "hint: <what to do>" on stderr. */
#ifndef CG_CLI_CLI_H
#define CG_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "config/bootstrap.h"
#include "core/error.h"
#include "pki/pki.h"
#include "store/store.h"

#define CG_CLI_MAX_ARGS 16
#define CG_CLI_MAX_OPTS 64 /* a site may have many --domain options */

/* An option a command accepts: "--key FILE" has_arg, "--default" not. */
struct cg_cli_opt {
    const char *name;  /* without the dashes */
    bool has_arg;
    bool repeat;       /* may be given several times (values joined with '\n' in order) */
};

/* Parsed arguments of one command. */
struct cg_cli_args {
    const char *pos[CG_CLI_MAX_ARGS];
    int n_pos;
    const char *opt_name[CG_CLI_MAX_OPTS];
    const char *opt_val[CG_CLI_MAX_OPTS]; /* NULL for flags */
    int n_opts;
};

/* Global settings and the lazily opened store. */
struct cg_cli {
    const char *env_flag, *store_flag, *key_flag, *config_flag; /* from the command line */
    bool json;
    /* resolved by cg_cli_resolve (flags > CERTGATE_* environment > config file > defaults) */
    char *env;
    char *store_url;
    char *master_key_path;
    struct cg_store *store;
    struct cg_config *config;     /* the bootstrap file's settings (defaults when there is none) */
    uint8_t master[CG_MASTER_KEY_LEN];
    bool have_master;
};

struct cg_cli_cmd {
    const char *group;  /* "cert", or NULL for top-level commands */
    const char *name;   /* "add" */
    const char *usage;  /* "NAME FILE [--key FILE] ..." */
    const char *summary;
    int min_pos, max_pos;
    const struct cg_cli_opt *opts; /* terminated by {NULL} */
    int (*run)(struct cg_cli *cli, const struct cg_cli_args *args, struct cg_err *err);
};

/* The command tables of each group (cmd_*.c). */
extern const struct cg_cli_cmd cg_cli_init_cmds[];
extern const struct cg_cli_cmd cg_cli_cert_cmds[];
extern const struct cg_cli_cmd cg_cli_pin_cmds[];
extern const struct cg_cli_cmd cg_cli_import_cmds[];
extern const struct cg_cli_cmd cg_cli_check_cmds[];
extern const struct cg_cli_cmd cg_cli_upstream_cmds[];
extern const struct cg_cli_cmd cg_cli_site_cmds[];
extern const struct cg_cli_cmd cg_cli_profile_cmds[];

/* Entry point: runs argv and returns the exit status. extra: more commands (the app's `serve`,
 * which the CLI library may not link itself: it starts event loops), terminated by {0}; may be
 * NULL. */
int cg_cli_main(int argc, char **argv, const struct cg_cli_cmd *extra);

/* ---- arguments (cli.c) ---- */
const char *cg_cli_opt(const struct cg_cli_args *a, const char *name); /* last value, or NULL */
bool cg_cli_flag(const struct cg_cli_args *a, const char *name);
/* Every value of a repeatable option, in order. */
int cg_cli_opt_all(const struct cg_cli_args *a, const char *name, const char **out, int max);
/* CG_EUSAGE ("--x and --y contradict each other") when both options were given; 0 otherwise. */
CG_RESULT cg_cli_opts_exclusive(const struct cg_cli_args *a, const char *x, const char *y, struct cg_err *err);

/* ---- context (context.c) ---- */
/* Resolves env, store URL and master key path. */
CG_RESULT cg_cli_resolve(struct cg_cli *cli, struct cg_err *err);
/* Opens the store (create only for init). */
CG_RESULT cg_cli_store(struct cg_cli *cli, bool create, struct cg_err *err);
/* Loads the master key into cli->master. */
CG_RESULT cg_cli_master(struct cg_cli *cli, struct cg_err *err);
/* The environment's configuration as the daemon would load it (no private keys). Its load-time
 * warnings (a domain without a server certificate ...) are not logged: commands report what they
 * need themselves. */
struct cg_snapshot;
CG_RESULT cg_cli_snapshot(struct cg_cli *cli, struct cg_snapshot **out, struct cg_err *err);
void cg_cli_cleanup(struct cg_cli *cli);

/* ---- secrets (secret.c) ---- */
/* A password from --password-env VAR or --password-file F. *out is NULL when neither was
 * given. Free with cg_free_secret_str. */
CG_RESULT cg_cli_password(const struct cg_cli_args *a, char **out, struct cg_err *err);
/* Prompts on the terminal without echo; CG_EUSAGE when stdin is not a terminal. */
CG_RESULT cg_cli_prompt_password(const char *prompt, char **out, struct cg_err *err);
bool cg_cli_interactive(void);

#endif
