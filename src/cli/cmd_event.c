/* certgate event send: hands an event to certgate, which delivers it to every webhook subscribed
 * to its type (SPEC.md section 4, "Webhooks"; issue 6). The same command answers
 * POST /api/v1/events.
 *
 * The event is stored together with its deliveries, in one transaction, before this answers: an
 * event acknowledged with its id is an event that will be delivered (at least once), whatever
 * happens to the daemon afterwards. The id is made here ("evt_" and 32 random hex): receivers
 * de-duplicate with it. */
#include <openssl/rand.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/mem.h"
#include "core/str.h"

#define EVENT_ID_BYTES 16

/* The types certgate emits itself: a token that may post events must not forge them. */
static const char *const own_types[] = {"config.changed", "certificate.expiring", "certificate.expired"};

int cg_cli_event_store(struct cg_cli *cli, const char *type, const char *data_json, char id[40],
                       size_t *n_deliveries, struct cg_err *err)
{
    uint8_t raw[EVENT_ID_BYTES];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return cg_err_set(err, CG_EINTERNAL, "cannot make an event id: the random generator failed");
    memcpy(id, "evt_", 4);
    cg_hex_encode(raw, sizeof(raw), id + 4);
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_event e = {.type = (char *)type, .data_json = (char *)data_json};
    cg_strlcpy(e.id, id, sizeof(e.id));
    return cg_store_event_put(cli->store, cli->env, &e, n_deliveries, err);
}

static int type_check(const char *type, struct cg_err *err)
{
    if (!cg_store_event_type_valid(type)) {
        cg_err_set(err, CG_EUSAGE, "'%.*s' is not an event type", CG_STORE_EVENT_TYPE_MAX, type);
        return cg_err_hint(err, "an event type is 1 to %d letters, digits, '.', '_' and '-', e.g. invoice.paid",
                           CG_STORE_EVENT_TYPE_MAX);
    }
    for (size_t i = 0; i < CG_ARRAY_LEN(own_types); i++)
        if (!strcmp(type, own_types[i])) {
            cg_err_set(err, CG_EUSAGE, "event type '%s' is certgate's own: certgate sends it itself", type);
            return cg_err_hint(err, "give your events types of your own, e.g. invoice.paid");
        }
    return 0;
}

/* The request's inline data (admin API), --data, or --data-file; "{}" when none is given. */
static int data_read(const struct cg_cli *cli, const struct cg_cli_args *a, struct cg_buf *out, struct cg_err *err)
{
    CG_GUARD(cg_cli_opts_exclusive(a, "data", "data-file", err));
    for (int i = 0; i < a->n_inputs; i++)
        if (!strcmp(a->inputs[i].arg, "data")) return cg_buf_append(out, a->inputs[i].data, a->inputs[i].len);
    const char *v = cg_cli_opt(a, "data");
    const char *file = cg_cli_opt(a, "data-file");
    if (file && !cli->api) {
        int rc = cg_file_read(file, out, err);
        if (rc < 0) cg_err_prefix(err, "--data-file");
        return rc;
    }
    return cg_buf_append_str(out, v ? v : "{}");
}

/* The data must be a JSON object of at most CG_STORE_EVENT_DATA_MAX bytes. It is stored as given
 * (receivers get the application's own text), once it parsed. */
static int data_check(const struct cg_buf *data, struct cg_err *err)
{
    json_error_t je;
    json_t *v = json_loadb((const char *)data->ptr, data->len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!v) {
        cg_err_set(err, CG_EUSAGE, "--data is not valid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        return cg_err_hint(err, "give a JSON object, e.g. --data '{\"invoice\": \"inv_1\"}'");
    }
    bool object = json_is_object(v);
    json_decref(v);
    if (object && memchr(data->ptr, '\0', data->len) == NULL) return 0;
    cg_err_set(err, CG_EUSAGE, "--data must be a JSON object ({...})");
    return cg_err_hint(err, "wrap the value in an object, e.g. --data '{\"invoice\": \"inv_1\"}'");
}

static int sent_out(struct cg_cli *cli, const char *id, const char *type, size_t n)
{
    if (cli->json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(id));
        json_object_set_new(o, "type", json_string(type));
        json_object_set_new(o, "deliveries", json_integer((json_int_t)n));
        return cg_cli_json_out(cli, o);
    }
    cg_cli_say(cli, "stored event %s (%s): %zu deliver%s queued\n", id, type, n, n == 1 ? "y" : "ies");
    if (n == 0)
        cg_cli_warn(cli, "no enabled webhook of environment '%s' subscribes to '%s': the event is kept, but sent "
                         "nowhere (certgate webhook list shows the subscriptions)\n",
                    cli->env, type);
    return 0;
}

static int run_send(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    const char *type = a->pos[0];
    CG_GUARD(type_check(type, err));
    struct cg_buf data;
    cg_buf_init(&data, CG_STORE_EVENT_DATA_MAX);
    int rc = data_read(cli, a, &data, err);
    if (rc == CG_ENOMEM) cg_err_set(err, CG_ENOMEM, "out of memory while reading the event's data");
    if (rc == CG_ELIMIT) {
        cg_err_set(err, CG_ELIMIT, "the data of the event is larger than %d bytes", CG_STORE_EVENT_DATA_MAX);
        cg_err_hint(err, "send less: an event says what happened (ids, a status), and the receiver fetches the "
                         "details");
    }
    if (rc == 0) rc = data_check(&data, err);
    char id[40];
    size_t n = 0;
    if (rc == 0) rc = cg_cli_event_store(cli, type, cg_buf_str(&data), id, &n, err);
    if (rc == 0) rc = sent_out(cli, id, type, n);
    cg_buf_cleanup(&data);
    return rc;
}

static const struct cg_cli_opt send_opts[] = {{"data", true, false}, {"data-file", true, false}, {NULL, false, false}};

const struct cg_cli_cmd cg_cli_event_cmds[] = {
    {"event", "send", "TYPE [--data JSON | --data-file FILE] [--json]",
     "hand an event to certgate: it is stored with one delivery per enabled webhook subscribed to TYPE, then "
     "delivered over mTLS, signed and retried (at least once); --data is a JSON object ({} when not given)",
     1, 1, send_opts, run_send, NULL, NULL},
    {0},
};
