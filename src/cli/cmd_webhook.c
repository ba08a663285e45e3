/* certgate webhook add|set|list|show|rm|deliveries|delivery|replay: the endpoints certgate posts
 * events to over mTLS, and what became of each delivery (SPEC.md sections 1 and 4, "Webhooks";
 * issue 6). The dispatcher that sends them is src/webhook/.
 *
 * Every value is checked here before the store is touched; the URL by the rules of an upstream's
 * URL (config/upstream.h: https://host[:port][/path]), which the snapshot applies again when the
 * daemon loads the webhook. The store checks what only it can know (the client certificate and
 * the CA exist and are of the right kind). The signing secret comes like a password (an
 * environment variable, a file, or the API request's `secret`), is sealed with the master key
 * (the webhook's record id as associated data) and is never printed: show and list say whether
 * deliveries are signed, and `show --json` -- what the audit trail records -- holds no secret. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/certops.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "config/upstream.h"
#include "core/mem.h"
#include "core/str.h"
#include "core/time.h"

#define TRUST_SYSTEM_CA "system+ca"
#define TRUST_CA_ONLY "ca-only"
#define EVENTS_MAX 64            /* event types one webhook subscribes to */
#define SECRET_MAX 1024          /* bytes of a signing secret */
#define SECRET_ADVISED 16        /* shorter ones are accepted with a warning */
#define DELIVERIES_DEFAULT_LIMIT 50
#define URL_FORM "https://host[:port][/path], e.g. https://hooks.partner.example/certgate"

static int oom(struct cg_err *err) { return cg_err_set(err, CG_ENOMEM, "out of memory"); }

static int str_set(char **field, const char *v, struct cg_err *err)
{
    char *copy = NULL;
    if (v && !(copy = cg_strdup(v))) return oom(err);
    cg_free(*field);
    *field = copy;
    return 0;
}

/* ---- checking and applying the options of add and set -------------------------------------- */

static int url_refuse(const char *name, const char *url, const char *why, struct cg_err *err)
{
    cg_err_set(err, CG_EINVAL, "webhook '%s': URL '%s' %s", name, url, why);
    return cg_err_hint_code(err, CG_EINVAL, "write it as " URL_FORM);
}

/* The webhook's URL taken apart by the URL rules upstreams follow too (one parser, naming the
 * webhook). What the parser explains in an upstream's terms (the scheme, user information, a
 * query) is checked first, in a webhook's. */
static int url_parse(const char *name, const char *url, struct cg_upstream_url *out, struct cg_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!url || !*url) return url_refuse(name, "", "is empty", err);
    if (strncasecmp(url, "https://", 8) != 0)
        return url_refuse(name, url, "is not an https:// URL: certgate delivers webhooks over TLS only, presenting "
                                     "the webhook's client certificate", err);
    const char *auth = url + 8;
    size_t auth_len = strcspn(auth, "/?#");
    if (memchr(auth, '@', auth_len))
        return url_refuse(name, url, "holds user information ('user@'): certgate authenticates with the webhook's "
                                     "client certificate, and signs with its secret", err);
    if (strchr(url, '?'))
        return url_refuse(name, url, "has a query ('?...'); a webhook URL is https://host[:port][/path]", err);
    if (strchr(url, '#'))
        return url_refuse(name, url, "has a fragment ('#...'), which is never sent to a server", err);
    return cg_config_webhook_url_parse(name, url, out, err);
}

/* One event type of --events into types: valid, given once, at most EVENTS_MAX of them. */
static int event_type_add(const char *name, const char *t, struct cg_strlist *types, struct cg_err *err)
{
    if (!cg_store_event_type_valid(t)) {
        cg_err_set(err, CG_EUSAGE, "webhook '%s': --events '%.*s' is not an event type", name,
                   CG_STORE_EVENT_TYPE_MAX, t);
        return cg_err_hint(err, "give event types of 1 to %d letters, digits, '.', '_' and '-', separated by "
                                "commas: --events invoice.paid,invoice.failed",
                           CG_STORE_EVENT_TYPE_MAX);
    }
    if (cg_strlist_contains(types, t)) {
        cg_err_set(err, CG_EUSAGE, "webhook '%s': --events names '%s' twice", name, t);
        return cg_err_hint(err, "give each event type once");
    }
    if (types->n == EVENTS_MAX) {
        cg_err_set(err, CG_EUSAGE, "webhook '%s': --events names more than %d event types", name, EVENTS_MAX);
        return cg_err_hint(err, "subscribe it to every type (--all-events), or split it into several webhooks");
    }
    return cg_strlist_add(types, t) < 0 ? oom(err) : 0;
}

/* Every value of the repeatable --events, each a comma-separated list, into w->events; an empty
 * list (--events '') is every type, as --all-events says. */
static int events_apply(const struct cg_cli_args *a, struct cg_store_webhook *w, struct cg_err *err)
{
    const char *vals[CG_CLI_MAX_OPTS];
    int n = cg_cli_opt_all(a, "events", vals, CG_CLI_MAX_OPTS);
    if (n == 0 && !cg_cli_flag(a, "all-events")) return 0;
    if (n > 0 && cg_cli_flag(a, "all-events")) {
        cg_err_set(err, CG_EUSAGE, "--events and --all-events contradict each other");
        return cg_err_hint(err, "give one of them");
    }
    struct cg_strlist given, types;
    cg_strlist_init(&given);
    cg_strlist_init(&types);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        if (cg_strlist_split(&given, vals[i], ',', false) < 0) rc = oom(err);
    for (size_t i = 0; i < given.n && rc == 0; i++) rc = event_type_add(w->name, given.items[i], &types, err);
    if (rc == 0) {
        for (size_t i = 0; i < w->n_events; i++) cg_free(w->events[i]);
        cg_free(w->events);
        w->events = types.items; /* the strings and their array are taken over */
        w->n_events = types.n;
        cg_strlist_init(&types);
    }
    cg_strlist_cleanup(&given);
    cg_strlist_cleanup(&types);
    return rc;
}

static int trust_apply(const char *v, struct cg_store_webhook *w, struct cg_err *err)
{
    if (!strcasecmp(v, TRUST_SYSTEM_CA)) w->trust = CG_WEBHOOK_TRUST_SYSTEM_CA;
    else if (!strcasecmp(v, TRUST_CA_ONLY)) w->trust = CG_WEBHOOK_TRUST_CA_ONLY;
    else {
        cg_err_set(err, CG_EUSAGE, "webhook '%s': --trust '%s' is not a trust", w->name, v);
        return cg_err_hint(err, "give --trust " TRUST_SYSTEM_CA " (the system roots and the --ca bundle) or "
                                "--trust " TRUST_CA_ONLY " (the --ca bundle alone)");
    }
    return 0;
}

/* A new signing secret (from --secret-env, --secret-file or the request), sealed under w->id;
 * --no-secret removes it. */
static int secret_apply(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_store_webhook *w,
                        struct cg_err *err)
{
    CG_GUARD(cg_cli_opts_exclusive(a, "secret-env", "secret-file", err));
    CG_GUARD(cg_cli_opts_exclusive(a, "secret-env", "no-secret", err));
    CG_GUARD(cg_cli_opts_exclusive(a, "secret-file", "no-secret", err));
    if (cg_cli_flag(a, "no-secret") && a->secret) {
        cg_err_set(err, CG_EUSAGE, "webhook '%s': a secret and --no-secret contradict each other", w->name);
        return cg_err_hint(err, "give one of them");
    }
    bool drop = cg_cli_flag(a, "no-secret");
    char *secret = NULL;
    if (!drop) CG_GUARD(cg_cli_secret(a, &secret, err));
    if (!drop && !secret) return 0; /* not given: kept */
    size_t len = secret ? strlen(secret) : 0;
    int rc = 0;
    struct cg_buf blob;
    cg_buf_init(&blob, 0);
    if (secret && (len == 0 || len > SECRET_MAX)) {
        cg_err_set(err, CG_EUSAGE, "webhook '%s': the secret is %s", w->name, len ? "longer than 1024 bytes" : "empty");
        rc = cg_err_hint(err, "give 16 to %d bytes, e.g. from: openssl rand -hex 32", SECRET_MAX);
    }
    if (rc == 0 && secret) rc = cg_cli_master(cli, err);
    if (rc == 0 && secret)
        rc = cg_pki_secret_seal(cli->master, cg_slice_str(w->id), cg_slice_make(secret, len), &blob, err);
    if (rc == 0) {
        if (w->secret_blob) cg_wipe(w->secret_blob, w->secret_blob_len);
        cg_free(w->secret_blob);
        w->secret_blob = secret ? cg_buf_steal(&blob, &w->secret_blob_len) : NULL;
        if (!secret) w->secret_blob_len = 0;
        if (secret && len < SECRET_ADVISED)
            cg_cli_warn(cli, "webhook '%s': the secret is only %zu bytes long; a receiver's signature check is only "
                             "as strong as the secret (openssl rand -hex 32 makes a good one)\n",
                        w->name, len);
    }
    cg_buf_cleanup(&blob);
    cg_free_secret_str(secret);
    return rc;
}

static int needs_client_cert(const struct cg_store_webhook *w, struct cg_err *err)
{
    if (w->client_cert && *w->client_cert) return 0;
    cg_err_set(err, CG_EUSAGE, "webhook '%s' needs a client certificate: --client-cert is missing", w->name);
    return cg_err_hint(err, "a webhook always presents a client certificate: give --client-cert NAME (certgate cert "
                            "list shows the client certificates)");
}

static int ca_only_check(const struct cg_store_webhook *w, struct cg_err *err)
{
    if (w->trust != CG_WEBHOOK_TRUST_CA_ONLY || w->ca) return 0;
    cg_err_set(err, CG_EUSAGE, "webhook '%s': --trust " TRUST_CA_ONLY " needs a CA bundle to trust, and it has none",
               w->name);
    return cg_err_hint(err, "give --ca CA (certgate ca list shows the CA bundles), or --trust " TRUST_SYSTEM_CA);
}

/* Applies the options of add/set to w (whose name and id are set), checking each value. */
static int apply_opts(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_store_webhook *w,
                      struct cg_err *err)
{
    CG_GUARD(cg_cli_opts_exclusive(a, "ca", "no-ca", err));
    CG_GUARD(cg_cli_opts_exclusive(a, "disabled", "enabled", err));
    const char *v;
    if ((v = cg_cli_opt(a, "url"))) CG_GUARD(str_set(&w->url, v, err));
    if ((v = cg_cli_opt(a, "client-cert"))) {
        if (!*v) return needs_client_cert(w, err);
        CG_GUARD(str_set(&w->client_cert, v, err));
    }
    if ((v = cg_cli_opt(a, "ca"))) {
        if (!*v) {
            cg_err_set(err, CG_EUSAGE, "webhook '%s': --ca needs the name of a CA bundle", w->name);
            return cg_err_hint(err, "see the CA bundles with: certgate ca list (--no-ca trusts the system roots only)");
        }
        CG_GUARD(str_set(&w->ca, v, err));
    }
    if (cg_cli_flag(a, "no-ca")) CG_GUARD(str_set(&w->ca, NULL, err));
    if ((v = cg_cli_opt(a, "trust"))) CG_GUARD(trust_apply(v, w, err));
    CG_GUARD(events_apply(a, w, err));
    if (cg_cli_flag(a, "disabled")) w->disabled = true;
    if (cg_cli_flag(a, "enabled")) w->disabled = false;
    CG_GUARD(needs_client_cert(w, err));
    CG_GUARD(ca_only_check(w, err));
    /* the URL last: for set it may be the stored one, checked again by today's rules */
    struct cg_upstream_url url;
    CG_GUARD(url_parse(w->name, w->url, &url, err));
    cg_config_upstream_url_cleanup(&url);
    return secret_apply(cli, a, w, err);
}

static void saved_line(const struct cg_cli *cli, const char *verb, const struct cg_store_webhook *w)
{
    cg_cli_say(cli, "%s webhook '%s' -> %s (client certificate '%s', trust %s%s%s, %s, %s%s)\n", verb, w->name, w->url,
               w->client_cert, w->trust == CG_WEBHOOK_TRUST_CA_ONLY ? TRUST_CA_ONLY : TRUST_SYSTEM_CA,
               w->ca ? " with CA " : "", w->ca ? w->ca : "", w->secret_blob ? "signed" : "unsigned",
               w->n_events ? "some event types" : "every event type", w->disabled ? ", disabled" : "");
}

static const struct cg_cli_opt add_opts[] = {
    {"client-cert", true, false}, {"ca", true, false},     {"trust", true, false},
    {"secret-env", true, false},  {"secret-file", true, false}, {"events", true, true},
    {"disabled", false, false},   {NULL, false, false},
};

static int run_add(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    const char *name = a->pos[0];
    CG_GUARD(cg_cli_name_check("webhook", name, err));
    struct cg_store_webhook w = {0};
    int rc = cg_store_new_id(w.id) < 0 ? cg_err_set(err, CG_EIO, "cannot make a record id: no randomness") : 0;
    if (rc == 0 && (!(w.name = cg_strdup(name)) || !(w.url = cg_strdup(a->pos[1])))) rc = oom(err);
    if (rc == 0) rc = apply_opts(cli, a, &w, err);
    if (rc == 0) rc = cg_cli_store(cli, false, err);
    if (rc == 0) rc = cg_store_webhook_put(cli->store, cli->env, &w, false, err);
    if (rc == 0) saved_line(cli, "added", &w);
    cg_store_webhook_cleanup(&w);
    return rc;
}

static const struct cg_cli_opt set_opts[] = {
    {"url", true, false},         {"client-cert", true, false}, {"ca", true, false},
    {"no-ca", false, false},      {"trust", true, false},       {"secret-env", true, false},
    {"secret-file", true, false}, {"no-secret", false, false},  {"events", true, true},
    {"all-events", false, false}, {"disabled", false, false},   {"enabled", false, false},
    {NULL, false, false},
};

static int run_set(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    const char *name = a->pos[0];
    if (a->n_opts == 0 && !a->secret) {
        cg_err_set(err, CG_EUSAGE, "webhook '%s': nothing to set", name);
        return cg_err_hint(err, "give at least one of --url, --client-cert, --ca, --no-ca, --trust, --secret-env, "
                                "--secret-file, --no-secret, --events, --all-events, --disabled, --enabled");
    }
    CG_GUARD(cg_cli_store(cli, false, err));
    /* read, change and write in one transaction: a concurrent change is not lost */
    CG_GUARD(cg_store_begin(cli->store, err));
    struct cg_store_webhook w = {0};
    int rc = cg_store_webhook_get(cli->store, cli->env, name, &w, err);
    if (rc == 0) rc = apply_opts(cli, a, &w, err);
    if (rc == 0) rc = cg_store_webhook_put(cli->store, cli->env, &w, true, err);
    if (rc == 0) rc = cg_store_commit(cli->store, err);
    else cg_store_rollback(cli->store);
    if (rc == 0) saved_line(cli, "changed", &w);
    cg_store_webhook_cleanup(&w);
    return rc;
}

static int run_rm(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_webhook w = {0};
    CG_GUARD(cg_store_webhook_get(cli->store, cli->env, a->pos[0], &w, err));
    uint64_t dropped = w.n_pending;
    cg_store_webhook_cleanup(&w);
    CG_GUARD(cg_store_webhook_delete(cli->store, cli->env, a->pos[0], err));
    cg_cli_say(cli, "removed webhook '%s'", a->pos[0]);
    if (dropped)
        cg_cli_say(cli, " and its %llu pending deliver%s", (unsigned long long)dropped, dropped == 1 ? "y" : "ies");
    cg_cli_say(cli, "\n");
    return 0;
}

/* ---- the view of a webhook ------------------------------------------------------------------ */

static json_t *time_json(int64_t t)
{
    char buf[32];
    return t ? json_string(cg_time_rfc3339((time_t)t, buf, sizeof(buf))) : json_null();
}

static const char *trust_name(const struct cg_store_webhook *w)
{
    return w->trust == CG_WEBHOOK_TRUST_CA_ONLY ? TRUST_CA_ONLY : TRUST_SYSTEM_CA;
}

/* The JSON object documented in docs/cli.md: never the secret, only whether there is one. */
static json_t *view_json(const struct cg_store_webhook *w, const struct cg_upstream_url *url)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(w->name));
    json_object_set_new(o, "url", json_string(w->url));
    json_object_set_new(o, "host", json_string(url->host));
    json_object_set_new(o, "port", json_integer(url->port));
    json_object_set_new(o, "path", json_string(url->base_path[0] ? url->base_path : "/"));
    json_object_set_new(o, "client_cert", json_string(w->client_cert));
    json_object_set_new(o, "ca", cg_json_str_or_null(w->ca));
    json_object_set_new(o, "trust", json_string(trust_name(w)));
    json_object_set_new(o, "signed", json_boolean(w->secret_blob != NULL));
    json_t *events = json_array();
    for (size_t i = 0; i < w->n_events; i++) json_array_append_new(events, json_string(w->events[i]));
    json_object_set_new(o, "events", events);
    json_object_set_new(o, "disabled", json_boolean(w->disabled));
    json_object_set_new(o, "problem", cg_json_str_or_null(w->problem));
    json_object_set_new(o, "problem_at", w->problem ? time_json(w->problem_at) : json_null());
    json_object_set_new(o, "pending", json_integer((json_int_t)w->n_pending));
    json_object_set_new(o, "failed", json_integer((json_int_t)w->n_failed));
    return o;
}

/* The stored webhook's URL taken apart (by the rules it was stored under). */
static int view_load(const struct cg_store_webhook *w, struct cg_upstream_url *url, struct cg_err *err)
{
    int rc = url_parse(w->name, w->url, url, err);
    if (rc < 0) cg_err_prefix(err, "the store holds a webhook that certgate cannot use");
    return rc;
}

static void events_text(const struct cg_store_webhook *w, char *out, size_t n)
{
    struct cg_buf b;
    cg_buf_init(&b, n > 0 ? n - 1 : 1);
    for (size_t i = 0; i < w->n_events; i++)
        if (cg_buf_printf(&b, "%s%s", i ? "," : "", w->events[i]) < 0) break;
    cg_strlcpy(out, w->n_events ? cg_buf_str(&b) : "all", n);
    cg_buf_cleanup(&b);
}

static const char *state_text(const struct cg_store_webhook *w)
{
    if (w->disabled) return "disabled";
    return w->problem ? "problem" : "enabled";
}

static int list_row(const struct cg_cli *cli, const struct cg_store_webhook *w, struct cg_table *t)
{
    char trust[300], events[512], queue[64];
    snprintf(trust, sizeof(trust), "%s%s%s", trust_name(w), w->ca ? ": " : "", w->ca ? w->ca : "");
    events_text(w, events, sizeof(events));
    snprintf(queue, sizeof(queue), "%llu pending, %llu failed", (unsigned long long)w->n_pending,
             (unsigned long long)w->n_failed);
    const char *cells[] = {w->name, w->url, w->client_cert, trust, events, w->secret_blob ? "yes" : "no",
                           state_text(w), queue};
    CG_GUARD(cg_table_row(t, cells));
    if (w->problem) cg_cli_warn(cli, "webhook '%s': %s\n", w->name, w->problem);
    return 0;
}

static int run_list(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_UNUSED(a);
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_webhook_list l = {0};
    CG_GUARD(cg_store_webhook_list(cli->store, cli->env, &l, err));
    json_t *arr = json_array();
    static const char *head[] = {"NAME", "URL", "CLIENT CERT", "TRUST", "EVENTS", "SIGNED", "STATE", "DELIVERIES"};
    struct cg_table t;
    cg_table_init(&t, CG_ARRAY_LEN(head), head);
    int rc = 0;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        struct cg_upstream_url url;
        if ((rc = view_load(&l.items[i], &url, err)) < 0) break;
        if (cli->json) json_array_append_new(arr, view_json(&l.items[i], &url));
        else if (list_row(cli, &l.items[i], &t) < 0) rc = oom(err);
        cg_config_upstream_url_cleanup(&url);
    }
    if (rc == 0) {
        char empty[200];
        snprintf(empty, sizeof(empty),
                 "no webhooks in environment '%s' (add one with: certgate webhook add NAME https://HOST/PATH "
                 "--client-cert CERT)",
                 cli->env);
        rc = cg_list_print(cli, &arr, &t, empty);
    }
    json_decref(arr);
    cg_table_cleanup(&t);
    cg_store_webhook_list_cleanup(&l);
    return rc;
}

static void show_text(const struct cg_cli *cli, const struct cg_store_webhook *w)
{
    char events[512], when[32];
    events_text(w, events, sizeof(events));
    cg_cli_say(cli, "name:         %s\n", w->name);
    cg_cli_say(cli, "url:          %s\n", w->url);
    cg_cli_say(cli, "client cert:  %s\n", w->client_cert);
    if (!w->ca) cg_cli_say(cli, "trust:        " TRUST_SYSTEM_CA " (the system roots; no CA bundle)\n");
    else if (w->trust == CG_WEBHOOK_TRUST_CA_ONLY)
        cg_cli_say(cli, "trust:        " TRUST_CA_ONLY " (CA bundle '%s' alone)\n", w->ca);
    else cg_cli_say(cli, "trust:        " TRUST_SYSTEM_CA " (the system roots and CA bundle '%s')\n", w->ca);
    cg_cli_say(cli, "signed:       %s\n", w->secret_blob ? "yes (Certgate-Signature, HMAC-SHA256 with its secret)"
                                                         : "no (no secret: deliveries are not signed)");
    cg_cli_say(cli, "events:       %s\n", events);
    cg_cli_say(cli, "state:        %s\n", w->disabled ? "disabled (no deliveries are queued for it)" : "enabled");
    if (w->problem)
        cg_cli_say(cli, "problem:      %s (since %s)\n", w->problem,
                   cg_time_rfc3339((time_t)w->problem_at, when, sizeof(when)));
    else cg_cli_say(cli, "problem:      none\n");
    cg_cli_say(cli, "deliveries:   %llu pending, %llu failed (certgate webhook deliveries %s)\n",
               (unsigned long long)w->n_pending, (unsigned long long)w->n_failed, w->name);
}

static int run_show(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_webhook w = {0};
    CG_GUARD(cg_store_webhook_get(cli->store, cli->env, a->pos[0], &w, err));
    struct cg_upstream_url url;
    int rc = view_load(&w, &url, err);
    if (rc == 0 && cli->json) rc = cg_cli_json_out(cli, view_json(&w, &url));
    else if (rc == 0) show_text(cli, &w);
    if (rc == 0) cg_config_upstream_url_cleanup(&url);
    cg_store_webhook_cleanup(&w);
    return rc;
}

/* ---- deliveries ----------------------------------------------------------------------------- */

static const char *const status_names[] = {"pending", "succeeded", "failed"};

static const char *status_name(int s) { return s >= 0 && s <= CG_DELIVERY_FAILED ? status_names[s] : "unknown"; }

/* "2026-11-22T14:30:00.123Z" */
static const char *ms_text(int64_t ms, char *out, size_t n)
{
    char s[32];
    cg_time_rfc3339((time_t)(ms / 1000), s, sizeof(s));
    size_t len = strlen(s);
    if (len && s[len - 1] == 'Z') s[len - 1] = '\0';
    snprintf(out, n, "%s.%03dZ", s, (int)(ms % 1000));
    return out;
}

static json_t *ms_json(int64_t ms)
{
    char buf[40];
    return ms > 0 ? json_string(ms_text(ms, buf, sizeof(buf))) : json_null();
}

static int64_t now_ms(void) { return (int64_t)cg_time_now() * 1000; }

static json_t *attempt_json(const struct cg_store_attempt *at)
{
    json_t *o = json_object();
    json_object_set_new(o, "at", ms_json(at->at_ms));
    json_object_set_new(o, "status_code", at->status_code ? json_integer(at->status_code) : json_null());
    json_object_set_new(o, "error", cg_json_str_or_null(at->error));
    json_object_set_new(o, "latency_ms", json_integer(at->latency_ms));
    return o;
}

/* The JSON object documented in docs/cli.md. */
static json_t *delivery_json(const struct cg_store_delivery *d)
{
    bool pending = d->status == CG_DELIVERY_PENDING;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(d->id));
    json_object_set_new(o, "webhook", json_string(d->webhook));
    json_object_set_new(o, "event_id", json_string(d->event_id));
    json_object_set_new(o, "event_type", json_string(d->event_type));
    json_object_set_new(o, "status", json_string(status_name(d->status)));
    json_object_set_new(o, "attempts", json_integer(d->attempts));
    json_object_set_new(o, "next_attempt_at", pending ? ms_json(d->next_at_ms) : json_null());
    json_object_set_new(o, "in_flight", json_boolean(pending && d->lease_until_ms > now_ms()));
    json_object_set_new(o, "created_at", ms_json(d->created_at_ms));
    json_object_set_new(o, "updated_at", ms_json(d->updated_at_ms));
    json_t *h = json_array();
    for (size_t i = 0; i < d->n_history; i++) json_array_append_new(h, attempt_json(&d->history[i]));
    json_object_set_new(o, "history", h);
    return o;
}

static void delivery_text(const struct cg_cli *cli, const struct cg_store_delivery *d)
{
    char when[40], next[80] = "";
    bool sending = d->lease_until_ms > now_ms();
    if (d->status == CG_DELIVERY_PENDING)
        snprintf(next, sizeof(next), ", %s %s", sending ? "being sent, claimed at" : "next attempt",
                 ms_text(sending ? d->updated_at_ms : d->next_at_ms, when, sizeof(when)));
    cg_cli_say(cli, "delivery %lld  %s  %s  to '%s': %s, %d attempt%s%s\n", (long long)d->id, d->event_id,
               d->event_type, d->webhook, status_name(d->status), d->attempts, d->attempts == 1 ? "" : "s", next);
    for (size_t i = 0; i < d->n_history; i++) {
        const struct cg_store_attempt *at = &d->history[i];
        char code[16] = "";
        if (at->status_code) snprintf(code, sizeof(code), "HTTP %d", at->status_code);
        cg_cli_say(cli, "    %s  %s%s%s  %lld ms\n", ms_text(at->at_ms, when, sizeof(when)), code,
                   at->status_code && at->error ? ": " : "", at->error ? at->error : "", (long long)at->latency_ms);
    }
}

/* A positive whole number up to max, or CG_EUSAGE naming the option. */
static int number_arg(const char *what, const char *v, uint64_t max, uint64_t *out, const char *hint,
                      struct cg_err *err)
{
    if (v && cg_str_to_u64(v, out) == 0 && *out >= 1 && *out <= max) return 0;
    cg_err_set(err, CG_EUSAGE, "%s '%s' is not a number from 1 to %llu", what, v ? v : "", (unsigned long long)max);
    return cg_err_hint(err, "%s", hint);
}

static int status_parse(const char *v, int *out, struct cg_err *err)
{
    *out = -1;
    if (!v) return 0;
    for (int i = 0; i <= CG_DELIVERY_FAILED; i++)
        if (!strcasecmp(v, status_names[i])) {
            *out = i;
            return 0;
        }
    cg_err_set(err, CG_EUSAGE, "--status '%s' is not a delivery status", v);
    return cg_err_hint(err, "give --status pending, succeeded or failed");
}

/* The webhook's deliveries; a webhook that was removed still lists the ones that were finished. */
static int deliveries_load(struct cg_cli *cli, const char *name, int status, size_t limit,
                           struct cg_store_delivery_list *l, struct cg_err *err)
{
    struct cg_store_webhook w = {0};
    int found = cg_store_webhook_get(cli->store, cli->env, name, &w, err);
    cg_store_webhook_cleanup(&w);
    if (found < 0 && found != CG_ENOTFOUND) return found;
    struct cg_err ignored;
    CG_GUARD(cg_store_delivery_list(cli->store, cli->env, name, status, limit, l, found == 0 ? err : &ignored));
    if (found == CG_ENOTFOUND && l->n == 0) return found; /* the webhook's own message */
    if (found == 0) return 0;
    cg_err_clear(err);
    cg_cli_warn(cli, "webhook '%s' was removed; these are the deliveries it had finished\n", name);
    return 0;
}

static const struct cg_cli_opt deliveries_opts[] = {{"status", true, false}, {"limit", true, false},
                                                    {NULL, false, false}};

static int run_deliveries(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    const char *name = a->pos[0];
    int status;
    uint64_t limit = DELIVERIES_DEFAULT_LIMIT;
    CG_GUARD(status_parse(cg_cli_opt(a, "status"), &status, err));
    const char *v = cg_cli_opt(a, "limit");
    if (v) CG_GUARD(number_arg("--limit", v, CG_STORE_DELIVERY_LIST_MAX, &limit,
                               "give how many deliveries to show, newest first, e.g. --limit 100", err));
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_delivery_list l = {0};
    CG_GUARD(deliveries_load(cli, name, status, (size_t)limit, &l, err));
    int rc = 0;
    if (cli->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < l.n; i++) json_array_append_new(arr, delivery_json(&l.items[i]));
        rc = cg_cli_json_out(cli, arr);
    } else if (l.n == 0) {
        cg_cli_say(cli, "no %s%sdeliveries to webhook '%s'\n", status >= 0 ? status_name(status) : "",
                   status >= 0 ? " " : "", name);
    } else {
        for (size_t i = 0; i < l.n; i++) delivery_text(cli, &l.items[i]);
        if (l.n == limit) cg_cli_say(cli, "(the newest %zu; --limit shows more)\n", l.n);
    }
    cg_store_delivery_list_cleanup(&l);
    return rc;
}

static int delivery_id(const char *v, int64_t *id, struct cg_err *err)
{
    uint64_t n = 0;
    CG_GUARD(number_arg("delivery ID", v, INT64_MAX, &n,
                        "give the number of a delivery (certgate webhook deliveries WEBHOOK lists them)", err));
    *id = (int64_t)n;
    return 0;
}

/* Prints (or answers) one delivery as it is now. */
static int delivery_out(struct cg_cli *cli, int64_t id, struct cg_err *err)
{
    struct cg_store_delivery d = {0};
    CG_GUARD(cg_store_delivery_get(cli->store, cli->env, id, &d, err));
    int rc = 0;
    if (cli->json) rc = cg_cli_json_out(cli, delivery_json(&d));
    else delivery_text(cli, &d);
    cg_store_delivery_cleanup(&d);
    return rc;
}

static int run_delivery(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    int64_t id;
    CG_GUARD(delivery_id(a->pos[0], &id, err));
    CG_GUARD(cg_cli_store(cli, false, err));
    return delivery_out(cli, id, err);
}

static int run_replay(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    int64_t id;
    CG_GUARD(delivery_id(a->pos[0], &id, err));
    CG_GUARD(cg_cli_store(cli, false, err));
    CG_GUARD(cg_store_delivery_replay(cli->store, cli->env, id, now_ms(), err));
    cg_cli_say(cli, "delivery %lld is pending again: the daemon sends it now\n", (long long)id);
    return cli->json ? delivery_out(cli, id, err) : 0;
}

const struct cg_cli_cmd cg_cli_webhook_cmds[] = {
    {"webhook", "add",
     "NAME URL --client-cert CERT [--ca CA] [--trust system+ca|ca-only] [--secret-env VAR | --secret-file FILE] "
     "[--events TYPE,...] [--disabled]",
     "add an endpoint that events are POSTed to over mTLS, presenting CERT; --ca trusts a CA bundle besides the "
     "system roots (or alone: --trust ca-only); a secret signs every delivery (Certgate-Signature); --events "
     "subscribes to those types only",
     2, 2, add_opts, run_add, "webhook", NULL},
    {"webhook", "set",
     "NAME [--url URL] [--client-cert CERT] [--ca CA | --no-ca] [--trust system+ca|ca-only] [--secret-env VAR | "
     "--secret-file FILE | --no-secret] [--events TYPE,... | --all-events] [--disabled | --enabled]",
     "change a webhook; what is not given is kept", 1, 1, set_opts, run_set, "webhook", NULL},
    {"webhook", "list", "[--json]", "list webhooks: URL, client certificate, trust, events, signed, state, deliveries",
     0, 0, NULL, run_list, NULL, NULL},
    {"webhook", "show", "NAME [--json]", "every setting of one webhook, its problem if any, its queue", 1, 1, NULL,
     run_show, NULL, NULL},
    {"webhook", "rm", "NAME", "remove a webhook and its pending deliveries (finished ones stay listed)", 1, 1, NULL,
     run_rm, "webhook", NULL},
    {"webhook", "deliveries", "NAME [--status pending|succeeded|failed] [--limit N] [--json]",
     "a webhook's deliveries, newest first, each with every attempt (time, status code or error, latency)", 1, 1,
     deliveries_opts, run_deliveries, NULL, NULL},
    {"webhook", "delivery", "ID [--json]", "one delivery and its attempts", 1, 1, NULL, run_delivery, NULL, NULL},
    {"webhook", "replay", "ID [--json]",
     "send a failed (or succeeded) delivery again: it is pending, due now, its attempts counted from 0", 1, 1, NULL,
     run_replay, NULL, NULL},
    {0},
};
