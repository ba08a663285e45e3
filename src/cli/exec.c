/* Running one command, the same way for the command line and the admin API: a command that
 * changes the store runs in one transaction together with its audit record (who, what, the
 * object before and after), so that a change is never saved without its record or the other way
 * round. The "before" and "after" are what the object's own `show --json` prints: secrets never
 * appear there, so they never reach the audit trail. A change of configuration also stores
 * certgate's own event config.changed in that transaction, for the webhooks that subscribe to it.
 * Also the roles of the admin API, which follow from the kind of object a command changes. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/time.h"

static const char *const role_names[] = {"viewer", "operator", "admin", "events"};

const char *cg_cli_role_name(enum cg_cli_role r)
{
    return (unsigned)r < CG_ARRAY_LEN(role_names) ? role_names[r] : "unknown";
}

int cg_cli_role_parse(const char *s, enum cg_cli_role *out)
{
    for (size_t i = 0; s && i < CG_ARRAY_LEN(role_names); i++)
        if (!strcasecmp(s, role_names[i])) {
            *out = (enum cg_cli_role)i;
            return 0;
        }
    return CG_EUSAGE;
}

/* Commands whose role does not follow from the kind of object they change: they change traffic
 * (events, deliveries), not configuration, so they are not audited but are not reads either. */
static const struct {
    const char *group, *name;
    enum cg_cli_role role;
} role_overrides[] = {
    {"event", "send", CG_ROLE_EVENTS},
    {"webhook", "replay", CG_ROLE_OPERATOR},
};

enum cg_cli_role cg_cli_cmd_role(const struct cg_cli_cmd *c)
{
    for (size_t i = 0; i < CG_ARRAY_LEN(role_overrides); i++)
        if (c->group && !strcmp(c->group, role_overrides[i].group) && !strcmp(c->name, role_overrides[i].name))
            return role_overrides[i].role;
    if (!c->object) return CG_ROLE_VIEWER;
    static const char *const admin_kinds[] = {"cert", "ca", "token", "import"};
    for (size_t i = 0; i < CG_ARRAY_LEN(admin_kinds); i++)
        if (!strcmp(c->object, admin_kinds[i])) return CG_ROLE_ADMIN;
    return CG_ROLE_OPERATOR;
}

bool cg_cli_role_allows(enum cg_cli_role have, const struct cg_cli_cmd *c)
{
    enum cg_cli_role need = cg_cli_cmd_role(c);
    if (need == CG_ROLE_EVENTS) return have == CG_ROLE_EVENTS || have == CG_ROLE_OPERATOR || have == CG_ROLE_ADMIN;
    if (have == CG_ROLE_EVENTS) return false;
    return have >= need;
}

/* The JSON of the object kind/name as its `show --json` prints it, or null when it does not
 * exist (or the kind has no show command: import). */
static int object_view(struct cg_cli *cli, const char *kind, const char *name, json_t **out, struct cg_err *err)
{
    *out = NULL;
    const struct cg_cli_cmd *show = cg_cli_find(kind, "show");
    if (!show || !name || !*name) return (*out = json_null()) ? 0 : CG_ENOMEM;
    struct cg_cli_args a;
    memset(&a, 0, sizeof(a));
    a.pos[a.n_pos++] = name;
    bool json = cli->json, capture = cli->capture;
    json_t *kept = cli->out;
    cli->json = cli->capture = true;
    cli->out = NULL;
    int rc = show->run(cli, &a, err);
    json_t *v = cli->out;
    cli->out = kept;
    cli->json = json;
    cli->capture = capture;
    /* not there, or not of this kind (ca show of a client certificate): the command decides */
    if (rc == CG_ENOTFOUND || rc == CG_EUSAGE || rc == CG_EINVAL) {
        json_decref(v);
        cg_err_clear(err);
        return (*out = json_null()) ? 0 : CG_ENOMEM;
    }
    if (rc < 0) {
        json_decref(v);
        return cg_err_prefix(err, "cannot read %s '%s' for the audit trail", kind, name);
    }
    *out = v ? v : json_null();
    return 0;
}

static char *dump(json_t *v) { return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY); }

/* What a change is called in its audit record and its config.changed event: the action "site set"
 * and the object "site/web". */
struct change {
    char action[64];
    char object[512];
};

static void change_name(const struct cg_cli_cmd *c, const char *name, struct change *ch)
{
    snprintf(ch->action, sizeof(ch->action), "%s%s%s", c->group ? c->group : "", c->group ? " " : "", c->name);
    snprintf(ch->object, sizeof(ch->object), "%s/%s", c->object, name && *name ? name : c->name);
}

static int audit_write(struct cg_cli *cli, const struct change *ch, json_t *before, json_t *after, struct cg_err *err)
{
    struct cg_store_audit rec = {
        .at_ms = (int64_t)cg_time_now() * 1000,
        .actor = (char *)(cli->actor ? cli->actor : "unknown"),
        .action = (char *)ch->action,
        .object = (char *)ch->object,
        .before_json = dump(before),
        .after_json = dump(after),
    };
    int rc = rec.before_json && rec.after_json ? cg_store_audit_put(cli->store, cli->env, &rec, err)
                                               : cg_err_set(err, CG_ENOMEM, "out of memory");
    free(rec.before_json);
    free(rec.after_json);
    return rc;
}

/* certgate's own event for a change of configuration, for the webhooks that subscribe to it
 * (issue 6): stored in the change's transaction, so that it exists exactly when the change does.
 * Tokens are not configuration (and their changes are nobody else's business). */
static int changed_event(struct cg_cli *cli, const struct cg_cli_cmd *c, const struct change *ch, struct cg_err *err)
{
    if (!strcmp(c->object, "token")) return 0;
    uint64_t revision = 0;
    CG_GUARD(cg_store_revision(cli->store, cli->env, &revision, err));
    json_t *data = json_object();
    json_object_set_new(data, "actor", json_string(cli->actor ? cli->actor : "unknown"));
    json_object_set_new(data, "action", json_string(ch->action));
    json_object_set_new(data, "object", json_string(ch->object));
    json_object_set_new(data, "revision", json_integer((json_int_t)revision));
    char *text = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(data);
    if (!text) return cg_err_set(err, CG_ENOMEM, "out of memory");
    char id[40];
    int rc = cg_cli_event_store(cli, "config.changed", text, id, NULL, err);
    free(text);
    if (rc < 0) cg_err_prefix(err, "cannot queue the config.changed event of %s", ch->object);
    return rc;
}

int cg_cli_exec(struct cg_cli *cli, const struct cg_cli_cmd *c, const struct cg_cli_args *args, struct cg_err *err)
{
    if (!c->object) return c->run(cli, args, err);
    const char *name = c->object_name ? c->object_name(args) : args->n_pos ? args->pos[0] : NULL;
    CG_GUARD(cg_cli_store(cli, false, err));
    CG_GUARD(cg_store_begin(cli->store, err));
    json_t *before = NULL, *after = NULL;
    bool capture = cli->capture;
    cli->capture = cli->json; /* an answer of the command's own (token add) is printed after commit */
    struct cg_buf said;
    cg_buf_init_secret(&said, 1024 * 1024); /* token add says its secret */
    struct cg_buf *said_before = cli->said;
    cli->said = &said;
    int rc = object_view(cli, c->object, name, &before, err);
    if (rc == 0) rc = c->run(cli, args, err);
    if (rc == 0) rc = object_view(cli, c->object, name, &after, err);
    struct change ch;
    change_name(c, name, &ch);
    if (rc == 0) rc = audit_write(cli, &ch, before, after, err);
    if (rc == 0) rc = changed_event(cli, c, &ch, err);
    if (rc == 0) rc = cg_store_commit(cli->store, err);
    else cg_store_rollback(cli->store);
    cli->capture = capture;
    cli->said = said_before;
    if (rc == 0 && said.len) fwrite(said.ptr, 1, said.len, stdout);
    cg_buf_cleanup(&said);
    json_t *answer = cli->out ? cli->out : after;
    cli->out = NULL;
    if (rc == 0 && answer && !json_is_null(answer)) {
        json_incref(answer);
        if (cli->json) rc = cg_cli_json_out(cli, answer); /* kept (API) or printed (--json) */
        else json_decref(answer);
    }
    if (answer != after) json_decref(answer);
    json_decref(before);
    json_decref(after);
    return rc;
}
