/* certgate audit: the audit trail, newest first (SPEC.md section 4). cg_cli_exec writes a record
 * for every change made through the CLI or the admin API; this reads them back, a page at a time
 * (--limit, then --before the last id seen). */
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "core/str.h"
#include "core/time.h"

#define AUDIT_DEFAULT_LIMIT 50

/* A positive whole number up to max, or CG_EUSAGE naming the option. */
static int number_opt(const char *opt, const char *v, uint64_t max, uint64_t *out, struct cg_err *err)
{
    if (cg_str_to_u64(v, out) == 0 && *out >= 1 && *out <= max) return 0;
    cg_err_set(err, CG_EUSAGE, "--%s '%s' is not a number from 1 to %llu", opt, v, (unsigned long long)max);
    if (!strcmp(opt, "limit"))
        return cg_err_hint(err, "give how many records to show, e.g. --limit 100 (page on with --before ID)");
    return cg_err_hint(err, "give the ID of a record (the first column of certgate audit): the records before it "
                            "are shown");
}

/* A stored before/after as JSON: it was checked when written; a hand-edited row reads as null. */
static json_t *state_json(const char *text)
{
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    return v ? v : json_null();
}

static json_t *record_json(const struct cg_store_audit *r)
{
    char when[32];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "time", json_string(cg_time_rfc3339((time_t)(r->at_ms / 1000), when, sizeof(when))));
    json_object_set_new(o, "actor", json_string(r->actor));
    json_object_set_new(o, "action", json_string(r->action));
    json_object_set_new(o, "object", json_string(r->object));
    json_object_set_new(o, "before", state_json(r->before_json));
    json_object_set_new(o, "after", state_json(r->after_json));
    return o;
}

static int audit_table(const struct cg_store_audit_list *l, struct cg_table *t)
{
    static const char *head[] = {"ID", "TIME", "ACTOR", "ACTION", "OBJECT"};
    cg_table_init(t, CG_ARRAY_LEN(head), head);
    for (size_t i = 0; i < l->n; i++) {
        const struct cg_store_audit *r = &l->items[i];
        char id[24], when[32];
        snprintf(id, sizeof(id), "%lld", (long long)r->id);
        const char *cells[] = {id, cg_time_rfc3339((time_t)(r->at_ms / 1000), when, sizeof(when)), r->actor,
                               r->action, r->object};
        CG_GUARD(cg_table_row(t, cells));
    }
    return 0;
}

static const struct cg_cli_opt audit_opts[] = {{"limit", true, false}, {"before", true, false}, {NULL, false, false}};

static int run_audit(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    uint64_t limit = AUDIT_DEFAULT_LIMIT, before = 0;
    const char *v;
    if ((v = cg_cli_opt(a, "limit"))) CG_GUARD(number_opt("limit", v, CG_STORE_AUDIT_LIST_MAX, &limit, err));
    if ((v = cg_cli_opt(a, "before"))) CG_GUARD(number_opt("before", v, INT64_MAX, &before, err));
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_audit_list l = {0};
    CG_GUARD(cg_store_audit_list(cli->store, cli->env, (int64_t)before, (size_t)limit, &l, err));
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < l.n; i++) json_array_append_new(arr, record_json(&l.items[i]));
    struct cg_table t;
    int rc = audit_table(&l, &t);
    char empty[128];
    snprintf(empty, sizeof(empty), "no changes recorded in environment '%s'%s", cli->env,
             before ? " before that record" : " yet");
    if (rc == 0) rc = cg_list_print(cli, &arr, &t, empty);
    /* A full page may not be the last: say how to see the next one. */
    if (rc == 0 && l.n == limit)
        cg_cli_say(cli, "(older records: certgate audit --before %lld --limit %llu)\n",
                   (long long)l.items[l.n - 1].id, (unsigned long long)limit);
    cg_table_cleanup(&t);
    json_decref(arr);
    cg_store_audit_list_cleanup(&l);
    return rc;
}

const struct cg_cli_cmd cg_cli_audit_cmds[] = {
    {NULL, "audit", "[--limit N] [--before ID] [--json]",
     "the changes made through the CLI and the admin API, newest first: who, when, what, the object before and "
     "after (--limit 1 to 1000, default 50)",
     0, 0, audit_opts, run_audit, NULL, NULL},
    {0},
};
