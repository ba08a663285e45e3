/* The command-line interface: a table of commands, one file per command group. The CLI never
 * starts an event loop (STYLE.md). Exit status: 0 success, 1 the operation failed, 2 misuse.
 * Errors print as "certgate: <what failed>: <why>" then "hint: <what to do>" on stderr. */
#ifndef CG_CLI_CLI_H
#define CG_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config/bootstrap.h"
#include "core/buf.h"
#include "core/strlist.h"
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

#define CG_CLI_MAX_INPUTS 8

/* The content of a file argument that arrived with the request (the admin API's uploads) rather
 * than as a path to read. */
struct cg_cli_input {
    const char *arg;   /* the option ("key", "chain", "crl") or "file" for the FILE positional */
    const uint8_t *data;
    size_t len;
};

/* Parsed arguments of one command: what the command line gives, or what the admin API builds
 * from a request (the same commands run both: one implementation of every operation). */
struct cg_cli_args {
    const char *pos[CG_CLI_MAX_ARGS];
    int n_pos;
    const char *opt_name[CG_CLI_MAX_OPTS];
    const char *opt_val[CG_CLI_MAX_OPTS]; /* NULL for flags */
    int n_opts;
    /* admin API only: file contents given inline (a file option's value is then a label such as
     * the uploaded file's name, used in messages), and the password of the request */
    struct cg_cli_input inputs[CG_CLI_MAX_INPUTS];
    int n_inputs;
    const char *password;
    const char *secret; /* a webhook's signing secret (like the password: never option text) */
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
    /* Who runs the commands, for the audit trail: "cli:<unix user>" on the command line, the
     * token's name in the admin API. */
    const char *actor;
    /* Set by the admin API: nothing is printed and nothing is asked on a terminal; the JSON a
     * command would print with --json is kept in `out` instead (json is set too). */
    bool api;
    json_t *out;
    struct cg_strlist *warnings; /* api: what cg_cli_warn would print is added here (may be NULL) */
    bool capture; /* cg_cli_exec: keep the JSON in `out` for a moment (the CLI prints it after) */
    struct cg_buf *said; /* cg_cli_exec: what cg_cli_say says, printed after the commit */
};

struct cg_cli_cmd {
    const char *group;  /* "cert", or NULL for top-level commands */
    const char *name;   /* "add" */
    const char *usage;  /* "NAME FILE [--key FILE] ..." */
    const char *summary;
    int min_pos, max_pos;
    const struct cg_cli_opt *opts; /* terminated by {NULL} */
    int (*run)(struct cg_cli *cli, const struct cg_cli_args *args, struct cg_err *err);
    /* Commands that change the store name the kind of object they change ("site", "cert",
     * "pin", "token" ...): cg_cli_exec then runs them in one transaction with their audit record
     * (the object's `show --json` before and after), and the admin API requires the role that
     * kind needs (cg_cli_cmd_role). NULL for commands that only read. */
    const char *object;
    /* The name of the object changed; NULL = pos[0]. */
    const char *(*object_name)(const struct cg_cli_args *args);
};

/* Roles of admin API tokens: viewer < operator < admin, weakest first; and events, outside that
 * order, which may only post events (an application's token). */
enum cg_cli_role { CG_ROLE_VIEWER = 0, CG_ROLE_OPERATOR = 1, CG_ROLE_ADMIN = 2, CG_ROLE_EVENTS = 3 };
const char *cg_cli_role_name(enum cg_cli_role r);
CG_RESULT cg_cli_role_parse(const char *s, enum cg_cli_role *out); /* CG_EUSAGE naming the roles */
/* The least role that may run c through the admin API: viewer for commands that only read,
 * admin for those that change certificates, CA bundles or tokens (or import), events for
 * `event send`, operator for the rest (webhook replay too, which changes traffic, not
 * configuration). */
enum cg_cli_role cg_cli_cmd_role(const struct cg_cli_cmd *c);
/* Whether a token of role have may run c: events runs `event send` only, which operator and
 * admin may run too; otherwise the order viewer < operator < admin. */
bool cg_cli_role_allows(enum cg_cli_role have, const struct cg_cli_cmd *c);

/* Runs one command: a command that changes the store runs in one transaction with its audit
 * record (actor, action "group name", object "kind/name", before and after), so that either
 * both are saved or neither is. */
CG_RESULT cg_cli_exec(struct cg_cli *cli, const struct cg_cli_cmd *c, const struct cg_cli_args *args,
                      struct cg_err *err);
/* The command "group name" (group NULL for top-level), or NULL. */
const struct cg_cli_cmd *cg_cli_find(const char *group, const char *name);

/* The command tables of each group (cmd_*.c). */
extern const struct cg_cli_cmd cg_cli_init_cmds[];
extern const struct cg_cli_cmd cg_cli_cert_cmds[];
extern const struct cg_cli_cmd cg_cli_pin_cmds[];
extern const struct cg_cli_cmd cg_cli_import_cmds[];
extern const struct cg_cli_cmd cg_cli_check_cmds[];
extern const struct cg_cli_cmd cg_cli_upstream_cmds[];
extern const struct cg_cli_cmd cg_cli_site_cmds[];
extern const struct cg_cli_cmd cg_cli_profile_cmds[];
extern const struct cg_cli_cmd cg_cli_token_cmds[];
extern const struct cg_cli_cmd cg_cli_audit_cmds[];
extern const struct cg_cli_cmd cg_cli_webhook_cmds[];
extern const struct cg_cli_cmd cg_cli_event_cmds[];

/* The hash under which an admin API token is stored (cmd_token.c): the lowercase hex SHA-256 of
 * the whole token as `token add` printed it ("cg_" and 64 hex); the API hashes a request's bearer
 * token with it to look the token up (cg_store_token_find). */
CG_RESULT cg_cli_token_hash(const char *token, size_t len, char out[65]);

/* Stores an event of type (an event type: cg_store_event_type_valid) with data_json (the text of
 * a JSON object) under a new id ("evt_" and 32 random hex, written to id) together with its
 * deliveries, one per subscribed webhook (*n_deliveries; may be NULL) (cmd_event.c). Inside the
 * caller's transaction when one is open. */
CG_RESULT cg_cli_event_store(struct cg_cli *cli, const char *type, const char *data_json, char id[40],
                             size_t *n_deliveries, struct cg_err *err);

/* Entry point: runs argv and returns the exit status. extra: more commands (the app's `serve`,
 * which the CLI library may not link itself: it starts event loops), terminated by {0}; may be
 * NULL. */
int cg_cli_main(int argc, char **argv, const struct cg_cli_cmd *extra);

/* ---- arguments (cli.c) ---- */
const char *cg_cli_opt(const struct cg_cli_args *a, const char *name); /* last value, or NULL */
bool cg_cli_flag(const struct cg_cli_args *a, const char *name);
/* The option of c named name (without the dashes), or NULL. */
const struct cg_cli_opt *cg_cli_find_opt(const struct cg_cli_cmd *c, const char *name);
/* Adds the option name (with val; NULL for a flag) to a as the command line would: CG_EUSAGE
 * when c has no such option, it needs a value or takes none, or it was already given and may
 * not repeat. */
CG_RESULT cg_cli_args_add(const struct cg_cli_cmd *c, struct cg_cli_args *a, const char *name, const char *val,
                          struct cg_err *err);
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

/* ---- output (output.c) ---- */
/* What commands print for people: stdout, unless cli->api. */
void cg_cli_say(const struct cg_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Warnings for people: "warning: ..." on stderr, unless cli->api (warnings that matter are part of
 * the objects' JSON). */
void cg_cli_warn(const struct cg_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The JSON answer of a command (takes v): printed (indented, keys in insertion order), or kept
 * in cli->out with cli->api. */
CG_RESULT cg_cli_json_out(struct cg_cli *cli, json_t *v);

/* ---- secrets (secret.c) ---- */
/* A password from --password-env VAR or --password-file F. *out is NULL when neither was
 * given. Free with cg_free_secret_str. */
CG_RESULT cg_cli_password(const struct cg_cli_args *a, char **out, struct cg_err *err);
/* A webhook's signing secret, the same way from --secret-env VAR or --secret-file F (or the
 * request's, a->secret). */
CG_RESULT cg_cli_secret(const struct cg_cli_args *a, char **out, struct cg_err *err);
/* Prompts on the terminal without echo; CG_EUSAGE when stdin is not a terminal. */
CG_RESULT cg_cli_prompt_password(const char *prompt, char **out, struct cg_err *err);
bool cg_cli_interactive(void);

#endif
