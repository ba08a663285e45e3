#include "cli/cli.h"

#include <jansson.h>
#include <malloc.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"

#ifndef CG_VERSION
#define CG_VERSION "0.1.0"
#endif

static const struct cg_cli_cmd *groups[] = {
    cg_cli_init_cmds, cg_cli_cert_cmds, cg_cli_pin_cmds, cg_cli_upstream_cmds, cg_cli_site_cmds,
    cg_cli_profile_cmds, cg_cli_import_cmds, cg_cli_check_cmds, cg_cli_token_cmds, cg_cli_audit_cmds,
    cg_cli_webhook_cmds, cg_cli_event_cmds,
    NULL, /* the app's extra commands (serve) */
};

static const char *group_summary(const char *group)
{
    if (!strcmp(group, "cert")) return "client and server certificates (with private keys)";
    if (!strcmp(group, "ca")) return "certificate authorities (CA bundles)";
    if (!strcmp(group, "pin")) return "which client certificate is presented to which service or host";
    if (!strcmp(group, "upstream")) return "named egress destinations: URL, trust, server name, SPKI pin, timeouts";
    if (!strcmp(group, "site")) return "ingress applications: backend, domains and their server certificates, mTLS "
                                      "mode, client CAs, path rules";
    if (!strcmp(group, "profile")) return "access profiles for path rules: allowed and denied IP ranges, client CAs and "
                                         "their selected signers";
    if (!strcmp(group, "import")) return "import settings from the platforms users migrate from";
    if (!strcmp(group, "token")) return "bearer tokens of the admin API, each with a role: viewer, operator, admin, or "
                                       "events (posts events only)";
    if (!strcmp(group, "webhook")) return "endpoints certgate POSTs events to over mTLS, signed and retried; their "
                                         "deliveries and attempts";
    if (!strcmp(group, "event")) return "hand an event to certgate for delivery to the webhooks subscribed to it";
    return "";
}

static void print_cmd(FILE *f, const struct cg_cli_cmd *c)
{
    char head[128];
    snprintf(head, sizeof(head), "%s%s%s", c->group ? c->group : "", c->group ? " " : "", c->name);
    fprintf(f, "  certgate %s %s\n      %s\n", head, c->usage, c->summary);
}

static void usage(FILE *f, const char *only_group)
{
    if (!only_group) {
        fprintf(f, "certgate %s: a mutual-TLS gateway and certificate store\n\n"
                   "usage: certgate [global options] COMMAND [arguments]\n\n"
                   "global options (also read from the environment and the config file):\n"
                   "  --env NAME          environment (CERTGATE_ENV; default: production)\n"
                   "  --store URL         store, sqlite:PATH (CERTGATE_STORE;\n"
                   "                      default: sqlite:/var/lib/certgate/certgate.db)\n"
                   "  --master-key FILE   master key (CERTGATE_MASTER_KEY; default: master.key\n"
                   "                      beside the SQLite file)\n"
                   "  -c, --config FILE   bootstrap YAML file (CERTGATE_CONFIG)\n"
                   "  --json              machine-readable output for listings and answers\n"
                   "  -h, --help          this help; `certgate GROUP --help` for one group\n"
                   "  --version           print the version\n\n"
                   "commands:\n",
                CG_VERSION);
    }
    if (only_group) fprintf(f, "certgate %s: %s\n\n", only_group, group_summary(only_group));
    for (size_t g = 0; g < CG_ARRAY_LEN(groups) && groups[g]; g++)
        for (const struct cg_cli_cmd *c = groups[g]; c->name; c++) {
            if (only_group && (!c->group || strcmp(c->group, only_group))) continue;
            print_cmd(f, c);
        }
    if (!only_group)
        fprintf(f, "\nPasswords come from --password-file FILE, --password-env VAR or a prompt on a\n"
                   "terminal, never from a plain argument (except in `import mendix`).\n"
                   "Exit status: 0 success, 1 the operation failed, 2 the command was misused.\n"
                   "Documentation: docs/cli.md, docs/security.md, docs/architecture.md.\n");
}

static const struct cg_cli_cmd *find_cmd(const char *group, const char *name)
{
    for (size_t g = 0; g < CG_ARRAY_LEN(groups) && groups[g]; g++)
        for (const struct cg_cli_cmd *c = groups[g]; c->name; c++) {
            if (group && c->group && !strcmp(c->group, group) && name && !strcmp(c->name, name)) return c;
            if (!group && !c->group && name && !strcmp(c->name, name)) return c;
        }
    return NULL;
}

const struct cg_cli_cmd *cg_cli_find(const char *group, const char *name) { return find_cmd(group, name); }

static bool is_group(const char *s)
{
    for (size_t g = 0; g < CG_ARRAY_LEN(groups) && groups[g]; g++)
        for (const struct cg_cli_cmd *c = groups[g]; c->name; c++)
            if (c->group && !strcmp(c->group, s)) return true;
    return false;
}

const char *cg_cli_opt(const struct cg_cli_args *a, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i < a->n_opts; i++)
        if (!strcmp(a->opt_name[i], name)) v = a->opt_val[i] ? a->opt_val[i] : "";
    return v;
}

bool cg_cli_flag(const struct cg_cli_args *a, const char *name) { return cg_cli_opt(a, name) != NULL; }

int cg_cli_opt_all(const struct cg_cli_args *a, const char *name, const char **out, int max)
{
    int n = 0;
    for (int i = 0; i < a->n_opts && n < max; i++)
        if (!strcmp(a->opt_name[i], name)) out[n++] = a->opt_val[i];
    return n;
}

int cg_cli_opts_exclusive(const struct cg_cli_args *a, const char *x, const char *y, struct cg_err *err)
{
    if (!cg_cli_flag(a, x) || !cg_cli_flag(a, y)) return 0;
    cg_err_set(err, CG_EUSAGE, "--%s and --%s contradict each other", x, y);
    return cg_err_hint(err, "give one of them");
}

static int usage_error(struct cg_err *err, const struct cg_cli_cmd *c, const char *what, const char *arg)
{
    cg_err_set(err, CG_EUSAGE, "%s%s%s%s", what, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
    if (c)
        cg_err_hint(err, "usage: certgate %s%s%s %s", c->group ? c->group : "", c->group ? " " : "", c->name,
                    c->usage);
    else
        cg_err_hint(err, "see 'certgate --help'");
    return CG_EUSAGE;
}

/* Global options may stand anywhere on the line. Returns 1 when argv[*i] was one. */
static int take_global(struct cg_cli *cli, int argc, char **argv, int *i, struct cg_err *err)
{
    static const struct {
        const char *name;
        size_t field;
    } globals[] = {
        {"env", offsetof(struct cg_cli, env_flag)},
        {"store", offsetof(struct cg_cli, store_flag)},
        {"master-key", offsetof(struct cg_cli, key_flag)},
        {"config", offsetof(struct cg_cli, config_flag)},
    };
    const char *a = argv[*i];
    if (!strcmp(a, "--json")) {
        cli->json = true;
        return 1;
    }
    const char *name = NULL;
    if (!strcmp(a, "-c")) name = "config";
    else if (!strncmp(a, "--", 2)) name = a + 2;
    if (!name) return 0;
    for (size_t g = 0; g < CG_ARRAY_LEN(globals); g++) {
        size_t n = strlen(globals[g].name);
        if (strncmp(name, globals[g].name, n) || (name[n] != '\0' && name[n] != '=')) continue;
        const char *val;
        if (name[n] == '=') {
            val = name + n + 1;
        } else {
            if (*i + 1 >= argc) return usage_error(err, NULL, "a value is needed after option", argv[*i]);
            val = argv[++*i];
        }
        *(const char **)((char *)cli + globals[g].field) = val;
        return 1;
    }
    return 0;
}

static const struct cg_cli_opt *find_opt(const struct cg_cli_cmd *c, const char *name, size_t n)
{
    for (const struct cg_cli_opt *p = c->opts; p && p->name; p++)
        if (strlen(p->name) == n && !strncmp(p->name, name, n)) return p;
    return NULL;
}

/* Adds option o; shown is how the caller names it in messages ("--key", or "--key=x"). */
static int add_opt(const struct cg_cli_cmd *c, struct cg_cli_args *out, const struct cg_cli_opt *o, const char *val,
                   const char *shown, struct cg_err *err)
{
    if (!o->repeat && cg_cli_opt(out, o->name)) return usage_error(err, c, "this option is given twice:", shown);
    if (out->n_opts == CG_CLI_MAX_OPTS) return usage_error(err, c, "too many options", NULL);
    out->opt_name[out->n_opts] = o->name;
    out->opt_val[out->n_opts++] = val;
    return 0;
}

const struct cg_cli_opt *cg_cli_find_opt(const struct cg_cli_cmd *c, const char *name)
{
    return find_opt(c, name, strlen(name));
}

int cg_cli_args_add(const struct cg_cli_cmd *c, struct cg_cli_args *a, const char *name, const char *val,
                    struct cg_err *err)
{
    const struct cg_cli_opt *o = find_opt(c, name, strlen(name));
    if (!o) return usage_error(err, c, "unknown option", name);
    if (o->has_arg != (val != NULL))
        return usage_error(err, c, o->has_arg ? "a value is needed for option" : "this option takes no value:", name);
    return add_opt(c, a, o, val, name, err);
}

static int parse_args(struct cg_cli *cli, const struct cg_cli_cmd *c, int argc, char **argv, int start,
                      struct cg_cli_args *out, struct cg_err *err)
{
    memset(out, 0, sizeof(*out));
    bool only_pos = false;
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && !strcmp(a, "--")) {
            only_pos = true;
            continue;
        }
        if (!only_pos) {
            int g = take_global(cli, argc, argv, &i, err);
            if (g < 0) return g;
            if (g) continue;
        }
        if (!only_pos && a[0] == '-' && a[1] != '\0') {
            const char *name = a[0] == '-' && a[1] == '-' ? a + 2 : a + 1;
            const char *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            const struct cg_cli_opt *o = find_opt(c, name, n);
            if (!o) return usage_error(err, c, "unknown option", a);
            const char *val = NULL;
            if (o->has_arg) {
                if (eq) val = eq + 1;
                else if (i + 1 < argc) val = argv[++i];
                else return usage_error(err, c, "a value is needed after option", a);
            } else if (eq) {
                return usage_error(err, c, "this option takes no value:", a);
            }
            CG_GUARD(add_opt(c, out, o, val, a, err));
            continue;
        }
        if (out->n_pos == CG_CLI_MAX_ARGS || out->n_pos >= c->max_pos)
            return usage_error(err, c, "unexpected argument", a);
        out->pos[out->n_pos++] = a;
    }
    if (out->n_pos < c->min_pos) return usage_error(err, c, "missing arguments", NULL);
    return 0;
}

static void print_error(const struct cg_err *err, int rc)
{
    if (err->msg[0])
        fprintf(stderr, "certgate: %s\n", err->msg);
    else
        fprintf(stderr, "certgate: failed: %s\n", cg_err_reason(rc));
    if (err->hint[0]) fprintf(stderr, "hint: %s\n", err->hint);
}

static bool wants_help(int argc, char **argv, int from)
{
    for (int i = from; i < argc; i++) {
        if (!strcmp(argv[i], "--")) return false;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return true;
    }
    return false;
}

/* JSON input can carry secrets (CLIENT_CERTIFICATES holds passwords and PKCS#12 files), and
 * jansson's lexer copies them into buffers of its own: wipe every block jansson frees. */
static void json_wiping_free(void *p)
{
    if (!p) return;
    cg_wipe(p, malloc_usable_size(p));
    free(p);
}

/* "cli:<unix user>" for the audit trail. */
static const char *cli_actor(char *buf, size_t n)
{
    struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name) snprintf(buf, n, "cli:%s", pw->pw_name);
    else snprintf(buf, n, "cli:uid %u", (unsigned)geteuid());
    return buf;
}

int cg_cli_main(int argc, char **argv, const struct cg_cli_cmd *extra)
{
    groups[CG_ARRAY_LEN(groups) - 1] = extra;
    json_set_alloc_funcs(malloc, json_wiping_free);
    struct cg_cli cli = {0};
    struct cg_err err;
    cg_err_clear(&err);
    cg_log_set_level(CG_LOG_WARN);

    /* global options before the command */
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "help")) {
            usage(stdout, NULL);
            return 0;
        }
        if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "version")) {
            printf("certgate %s\n", CG_VERSION);
            return 0;
        }
        int g = take_global(&cli, argc, argv, &i, &err);
        if (g < 0) goto fail;
        if (!g) break;
    }
    if (i >= argc) {
        usage(stderr, NULL);
        return 2;
    }
    const struct cg_cli_cmd *c;
    const char *word = argv[i];
    /* "ca add" is "cert add --kind ca" under its own name; groups are looked up first */
    if (is_group(word)) {
        if (i + 1 >= argc || argv[i + 1][0] == '-') {
            if (wants_help(argc, argv, i + 1)) {
                usage(stdout, word);
                return 0;
            }
            fprintf(stderr, "certgate: '%s' needs a subcommand\n", word);
            usage(stderr, word);
            return 2;
        }
        c = find_cmd(word, argv[i + 1]);
        if (!c) {
            fprintf(stderr, "certgate: unknown command '%s %s'\n", word, argv[i + 1]);
            usage(stderr, word);
            return 2;
        }
        i += 2;
    } else {
        c = find_cmd(NULL, word);
        if (!c) {
            fprintf(stderr, "certgate: unknown command '%s'\nhint: see 'certgate --help'\n", word);
            return 2;
        }
        i += 1;
    }
    if (wants_help(argc, argv, i)) {
        print_cmd(stdout, c);
        return 0;
    }
    struct cg_cli_args args;
    int rc = parse_args(&cli, c, argc, argv, i, &args, &err);
    if (rc == 0) rc = cg_cli_resolve(&cli, &err);
    char actor[96];
    cli.actor = cli_actor(actor, sizeof(actor));
    if (rc == 0) rc = cg_cli_exec(&cli, c, &args, &err);
    cg_cli_cleanup(&cli);
    if (rc >= 0) return rc; /* a command may return 1 itself (check: findings) */
    print_error(&err, rc);
    return cg_err_exit_status(rc);
fail:
    print_error(&err, err.code);
    cg_cli_cleanup(&cli);
    return cg_err_exit_status(err.code);
}
