/* certgate serve: the daemon (SPEC.md section 4). One process: worker threads with their own
 * loops and listeners serve the traffic; this (main) thread owns the store, polls its revision,
 * builds each new configuration completely (snapshot, keys, trust stores) and only then publishes
 * it, so that a failed reload keeps the old one (STYLE.md, the hot-reload rule). Signals: SIGHUP
 * reloads now, SIGTERM/SIGINT drain (stop accepting, finish what is in flight, exit 0). */
#include "app/serve.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "admin/api.h"
#include "admin/metrics.h"
#include "admin/tls.h"
#include "config/snapshot.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "core/time.h"
#include "egress/egress.h"
#include "ingress/ingress.h"
#include "net/tickets.h"
#include "net/tls.h"
#include "net/worker.h"
#include "webhook/webhook.h"

struct daemon {
    struct cg_cli *cli;
    struct cg_shared shared;
    uint64_t revision;
    uint64_t loaded_ms, started_ms;   /* monotonic: the current configuration's load, the start */
    uint64_t reload_failures;
    struct cg_strlist *egress, *ingress, *admin_addrs;
    unsigned workers;
    struct cg_admin_server **admins;  /* one per admin address */
    SSL_CTX *admin_tls;               /* the current one (admin.tls), or NULL */
    struct cg_admin_api api;
    struct cg_worker *ws;             /* the workers, for /metrics */
    struct cg_webhook_dispatcher *webhooks; /* NULL before the start and from the drain on */
    uv_timer_t reload;
    uv_signal_t sighup, sigterm, sigint;
    bool stopping;
};

/* Builds and publishes the configuration at the store's current revision. */
static int reload(struct daemon *d, bool initial, struct cg_err *err)
{
    uint64_t t0 = cg_time_mono_ms();
    struct cg_snapshot *snap = NULL;
    CG_GUARD(cg_snapshot_load(d->cli->store, d->cli->env, d->cli->master, &snap, err));
    struct cg_runtime *rt = NULL;
    int rc = cg_runtime_new(snap, getenv("CERTGATE_SYSTEM_CA_FILE"), &rt, err);
    SSL_CTX *admin_tls = NULL;
    const struct cg_config *cfg = d->cli->config;
    if (rc == 0 && cfg->admin_tls && d->admin_addrs->n)
        rc = cg_admin_tls_ctx(snap, cfg->admin_tls, cfg->admin_client_ca, &admin_tls, err);
    uint64_t rev = snap->revision;
    size_t n_certs = snap->n_certs, n_up = snap->n_upstreams, n_sites = snap->n_sites;
    cg_snapshot_unref(snap);
    if (rc < 0) {
        if (rt) cg_runtime_unref(rt);
        return rc;
    }
    cg_shared_publish(&d->shared, rt);
    if (admin_tls) {
        for (size_t i = 0; d->admins && i < d->admin_addrs->n; i++)
            if (d->admins[i]) cg_admin_server_set_tls(d->admins[i], admin_tls);
        SSL_CTX_free(d->admin_tls);
        d->admin_tls = admin_tls;
    }
    d->revision = rev;
    d->loaded_ms = cg_time_mono_ms();
    CG_LOG_I("%s environment '%s' at revision %llu (%zu certificates, %zu upstreams, %zu sites) in %llu ms",
             initial ? "loaded" : "reloaded", d->cli->env, (unsigned long long)rev, n_certs, n_up, n_sites,
             (unsigned long long)(cg_time_mono_ms() - t0));
    return 0;
}

static void check_revision(struct daemon *d, bool force)
{
    struct cg_err err;
    cg_err_clear(&err);
    uint64_t rev;
    if (cg_store_revision(d->cli->store, d->cli->env, &rev, &err) < 0) {
        CG_LOG_W("cannot read the store's revision (keeping revision %llu): %s", (unsigned long long)d->revision,
                 err.msg);
        return;
    }
    if (rev == d->revision && !force) return;
    if (reload(d, false, &err) < 0 && ++d->reload_failures)
        CG_LOG_E("reload failed; still serving revision %llu: %s%s%s%s", (unsigned long long)d->revision, err.msg,
                 err.hint[0] ? " (hint: " : "", err.hint, err.hint[0] ? ")" : "");
}

static void reload_cb(uv_timer_t *t)
{
    cg_tickets_tick();
    check_revision(t->data, false);
}

static void signal_cb(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;
    if (signum == SIGHUP) {
        CG_LOG_I("SIGHUP: reloading");
        check_revision(d, true);
        return;
    }
    if (d->stopping) return;
    d->stopping = true;
    CG_LOG_I("%s: draining", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    uv_stop(h->loop);
}

/* ---- the admin listener's view of the daemon ---- */

static void api_changed(void *arg) { check_revision(arg, false); }

/* ---- the webhook dispatcher (webhook/webhook.h) ---- */

static void api_events_posted(void *arg) { cg_webhook_wake(((struct daemon *)arg)->webhooks); }

static int webhooks_start(struct daemon *d, struct cg_err *err)
{
    struct cg_webhook_config wc;
    cg_webhook_config_defaults(&wc);
    cg_webhook_config_apply(&wc, d->cli->config);
    wc.store_url = d->cli->store_url;
    wc.env = d->cli->env;
    return cg_webhook_start(&d->shared, &wc, &d->webhooks, err);
}

/* Stops claiming and lets the attempts in flight end; what is unfinished stays in the store. */
static void webhooks_stop(struct daemon *d)
{
    struct cg_webhook_dispatcher *w = d->webhooks;
    d->webhooks = NULL; /* no wake-up reaches it from here on */
    cg_webhook_stop(w);
}

static json_t *addrs_json(const struct cg_strlist *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++) json_array_append_new(a, json_string(l->items[i]));
    return a;
}

static json_t *api_status(void *arg)
{
    struct daemon *d = arg;
    uint64_t now = cg_time_mono_ms();
    json_t *o = json_object();
    json_object_set_new(o, "environment", json_string(d->cli->env));
    json_object_set_new(o, "revision", json_integer((json_int_t)d->revision));
    json_object_set_new(o, "snapshot_age_ms", json_integer((json_int_t)(now - d->loaded_ms)));
    json_object_set_new(o, "reload_failures", json_integer((json_int_t)d->reload_failures));
    json_object_set_new(o, "uptime_s", json_integer((json_int_t)((now - d->started_ms) / 1000)));
    json_object_set_new(o, "workers", json_integer(d->workers));
    json_t *l = json_object();
    json_object_set_new(l, "egress", addrs_json(d->egress));
    json_object_set_new(l, "ingress", addrs_json(d->ingress));
    json_object_set_new(l, "admin", addrs_json(d->admin_addrs));
    json_object_set_new(o, "listeners", l);
    json_object_set_new(o, "admin_tls", json_boolean(d->admin_tls != NULL));
    return o;
}

static int api_metrics(void *arg, struct cg_buf *out)
{
    struct daemon *d = arg;
    const struct cg_metrics *ms[1024];
    struct cg_admin_metrics_view v = {.workers = ms, .reload_failures = d->reload_failures};
    for (unsigned i = 0; d->ws && i < d->workers && i < CG_ARRAY_LEN(ms); i++) ms[v.n_workers++] = &d->ws[i].metrics;
    for (size_t i = 0; d->admins && i < d->admin_addrs->n; i++) {
        uint64_t acc = 0, open = 0;
        if (d->admins[i]) cg_admin_server_counts(d->admins[i], &acc, &open);
        v.admin_accepted += acc;
        v.admin_open += open;
    }
    uint64_t pending = 0;
    struct cg_err err;
    cg_err_clear(&err);
    v.webhook_pending = cg_store_delivery_pending_count(d->cli->store, d->cli->env, &pending, &err) == 0
                            ? (int64_t)pending : -1;
    struct cg_runtime *rt = cg_shared_get(&d->shared);
    v.snap = rt ? rt->snap : NULL;
    int rc = cg_admin_metrics_render(&v, out);
    if (rt) cg_runtime_unref(rt);
    return rc;
}

static int admin_start(struct daemon *d, uv_loop_t *loop, struct cg_err *err)
{
    if (!d->admin_addrs->n) return 0;
    const struct cg_config *cfg = d->cli->config;
    d->api = (struct cg_admin_api){.cli = d->cli, .changed = api_changed, .events_posted = api_events_posted,
                                   .status = api_status, .metrics = api_metrics, .arg = d,
                                   .cert_admins = cfg->admin_client_ca != NULL};
    d->admins = cg_calloc(d->admin_addrs->n, sizeof(*d->admins));
    if (!d->admins) return cg_err_set(err, CG_ENOMEM, "out of memory");
    for (size_t i = 0; i < d->admin_addrs->n; i++) {
        struct cg_admin_server_config sc = {
            .addr = d->admin_addrs->items[i],
            .tls = d->admin_tls,
            .max_body_bytes = cfg->admin_max_upload_bytes,
            .handler = cg_admin_api_handle,
            .arg = &d->api,
        };
        cg_http_limits_default(&sc.limits);
        CG_GUARD(cg_admin_server_start(loop, &sc, &d->admins[i], err));
    }
    return 0;
}

static void admin_stop(struct daemon *d)
{
    for (size_t i = 0; d->admins && i < d->admin_addrs->n; i++)
        if (d->admins[i]) cg_admin_server_stop(d->admins[i]);
}

static const struct cg_cli_opt serve_opts[] = {
    {"egress", true, true},
    {"ingress", true, true},
    {"admin", true, true},
    {"workers", true, false},
    {"access-log", true, false},
    {NULL, false, false},
};

/* The addresses of one kind of listener: the command line's (--egress/--ingress) replace the
 * file's. */
static int listen_addrs(const struct cg_cli_args *a, const char *flag, const struct cg_strlist *file,
                        struct cg_strlist *out, struct cg_err *err)
{
    const char *flags[16];
    int n = cg_cli_opt_all(a, flag, flags, 16);
    for (int i = 0; i < n; i++) {
        if (!cg_config_listen_addr_valid(flags[i])) {
            cg_err_set(err, CG_EUSAGE, "--%s '%s' is not a listen address", flag, flags[i]);
            return cg_err_hint(err, "give HOST:PORT, e.g. 127.0.0.1:8080");
        }
        CG_GUARD(cg_strlist_add(out, flags[i]));
    }
    for (size_t i = 0; n == 0 && i < file->n; i++) CG_GUARD(cg_strlist_add(out, file->items[i]));
    return 0;
}

static void proxy_config(const struct cg_config *cfg, const struct cg_access_log *log, struct cg_proxy_config *pc)
{
    pc->handshake_timeout_ms = cfg->timeout_handshake_ms;
    pc->head_timeout_ms = cfg->timeout_head_ms;
    pc->idle_timeout_ms = cfg->timeout_idle_ms;
    pc->connect_timeout_ms = cfg->timeout_connect_ms;
    pc->response_timeout_ms = cfg->timeout_response_ms;
    pc->max_body_bytes = cfg->limit_body_bytes;
    /* release_idle_buffers stays as the listener's defaults set it */
    pc->limits.max_head_bytes = cfg->limit_head_bytes;
    pc->limits.max_headers = cfg->limit_headers;
    pc->log = log;
}

static void list_text(const char *kind, const struct cg_strlist *l, char *out, size_t n)
{
    if (!l->n) return;
    size_t k = strlen(out);
    snprintf(out + k, n - k, "%s%s on ", k ? "; " : "", kind);
    for (size_t i = 0; i < l->n; i++) {
        k = strlen(out);
        snprintf(out + k, n - k, "%s%s", i ? ", " : "", l->items[i]);
    }
}

static int run_serve(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    struct cg_config *cfg = cli->config;
    cg_log_set_level(cfg->log_level);
    /* OpenSSL writes sockets with write(2): a peer that closed must be an EPIPE, not a signal
     * that kills the daemon */
    signal(SIGPIPE, SIG_IGN);
    /* Connection buffers (32-80 KiB) come and go with requests: keep them on the heap rather
     * than in mmap'd blocks, and keep freed memory for the next ones rather than trimming it
     * back to the kernel each time (every re-use would page-fault it in again) */
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
    struct cg_strlist egress, ingress, admin;
    cg_strlist_init(&egress);
    cg_strlist_init(&ingress);
    cg_strlist_init(&admin);
    int rc = listen_addrs(a, "egress", &cfg->listen_egress, &egress, err);
    if (rc == 0) rc = listen_addrs(a, "ingress", &cfg->listen_ingress, &ingress, err);
    if (rc == 0) rc = listen_addrs(a, "admin", &cfg->listen_admin, &admin, err);
    unsigned workers = cfg->workers;
    const char *wflag = cg_cli_opt(a, "workers");
    if (rc == 0 && wflag) {
        uint64_t n;
        if (cg_str_to_u64(wflag, &n) < 0 || n > 1024)
            rc = cg_err_set(err, CG_EUSAGE, "--workers must be a number from 0 to 1024, not '%s'", wflag);
        workers = (unsigned)n;
    }
    if (workers == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        workers = cores > 0 ? (unsigned)cores : 1;
    }
    if (rc == 0 && egress.n + ingress.n + admin.n == 0) {
        cg_err_set(err, CG_EUSAGE, "nothing to serve: no listen address is configured");
        rc = cg_err_hint(err, "set listen.egress, listen.ingress or listen.admin in the config file (-c "
                              "certgate.yaml), or give --egress 127.0.0.1:8080 / --ingress 0.0.0.0:8443 / --admin "
                              "127.0.0.1:9090");
    }
    if (rc < 0) {
        cg_strlist_cleanup(&egress);
        cg_strlist_cleanup(&ingress);
        cg_strlist_cleanup(&admin);
        return rc;
    }

    rc = cg_cli_store(cli, false, err);
    if (rc == 0) rc = cg_cli_master(cli, err);
    if (rc == 0) rc = cg_tickets_init(0, err);
    struct daemon d;
    memset(&d, 0, sizeof(d));
    d.cli = cli;
    d.egress = &egress;
    d.ingress = &ingress;
    d.admin_addrs = &admin;
    d.workers = workers;
    d.started_ms = cg_time_mono_ms();
    cg_shared_init(&d.shared);
    if (rc == 0) rc = reload(&d, true, err);

    struct cg_access_log log = {.fd = -1};
    const char *access = cg_cli_opt(a, "access-log");
    if (rc == 0) rc = cg_access_log_open(&log, access ? access : cfg->log_access, cfg->log_format == CG_LOG_FORMAT_JSON, err);

    struct cg_egress_config ecfg;
    cg_egress_config_defaults(&ecfg);
    ecfg.allow_connect = cfg->egress_allow_connect;
    ecfg.default_upstream = cfg->egress_default_upstream;
    proxy_config(cfg, &log, &ecfg.proxy);
    struct cg_ingress_config icfg;
    cg_ingress_config_defaults(&icfg);
    proxy_config(cfg, &log, &icfg.proxy);

    size_t n_specs = egress.n + ingress.n;
    struct cg_listener_spec *specs = cg_calloc(n_specs, sizeof(*specs));
    if (rc == 0 && n_specs && !specs) rc = CG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < egress.n; i++)
        specs[i] = (struct cg_listener_spec){
            .addr = egress.items[i], .kind = CG_LISTENER_EGRESS, .on_accept = cg_egress_accept, .arg = &ecfg};
    for (size_t i = 0; rc == 0 && i < ingress.n; i++)
        specs[egress.n + i] =
            (struct cg_listener_spec){
            .addr = ingress.items[i], .kind = CG_LISTENER_INGRESS, .on_accept = cg_ingress_accept, .arg = &icfg};
    /* the signals first: a SIGTERM that comes while the listeners open is a drain, not a kill */
    uv_loop_t *loop = uv_default_loop();
    uv_signal_t *sigs[] = {&d.sighup, &d.sigterm, &d.sigint};
    int nums[] = {SIGHUP, SIGTERM, SIGINT};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(loop, sigs[i]);
        sigs[i]->data = &d;
        uv_signal_start(sigs[i], signal_cb, nums[i]);
    }
    struct cg_pool_limits pool = {.idle_timeout_ms = cfg->timeout_idle_ms};
    struct cg_worker *ws = NULL;
    if (rc == 0) rc = cg_workers_start(&d.shared, specs, n_specs, workers, cfg->limit_connections, &pool, &ws, err);
    d.ws = ws;
    if (rc == 0) rc = webhooks_start(&d, err);
    if (rc == 0) rc = admin_start(&d, loop, err);
    if (rc < 0) {
        webhooks_stop(&d);
        if (ws) {
            cg_workers_drain(ws, workers);
            if (cg_workers_join(ws, workers, cfg->timeout_drain_ms)) cg_workers_free(ws, workers);
        }
        admin_stop(&d);
        for (int i = 0; i < 3; i++) uv_close((uv_handle_t *)sigs[i], NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        cg_free(d.admins);
        SSL_CTX_free(d.admin_tls);
        cg_free(specs);
        cg_access_log_close(&log);
        cg_shared_cleanup(&d.shared);
        cg_strlist_cleanup(&egress);
        cg_strlist_cleanup(&ingress);
        cg_strlist_cleanup(&admin);
        cg_tickets_cleanup();
        return rc;
    }

    uv_timer_init(loop, &d.reload);
    d.reload.data = &d;
    uv_timer_start(&d.reload, reload_cb, cfg->reload_ms, cfg->reload_ms);
    char where[1024] = "";
    list_text("egress", &egress, where, sizeof(where));
    list_text("ingress", &ingress, where, sizeof(where));
    list_text(d.admin_tls ? "admin (https)" : "admin (http)", &admin, where, sizeof(where));
    CG_LOG_I("serving environment '%s': %s; %u worker%s", cli->env, where, workers, workers == 1 ? "" : "s");

    uv_run(loop, UV_RUN_DEFAULT);

    /* drain: the workers stop accepting and finish what is in flight, the webhook attempts too */
    cg_workers_drain(ws, workers);
    webhooks_stop(&d);
    bool clean = cg_workers_join(ws, workers, cfg->timeout_drain_ms);
    if (!clean) {
        CG_LOG_W("drain deadline of %u ms passed with requests still in flight; exiting", cfg->timeout_drain_ms);
        cg_access_log_close(&log);
        _exit(0); /* the threads still hold their connections: the kernel closes them */
    }
    cg_workers_free(ws, workers);
    admin_stop(&d);
    for (int i = 0; i < 3; i++) uv_close((uv_handle_t *)sigs[i], NULL);
    uv_close((uv_handle_t *)&d.reload, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    cg_free(d.admins);
    SSL_CTX_free(d.admin_tls);
    cg_shared_cleanup(&d.shared);
    cg_access_log_close(&log);
    cg_free(specs);
    cg_strlist_cleanup(&egress);
    cg_strlist_cleanup(&ingress);
    cg_strlist_cleanup(&admin);
    cg_tickets_cleanup();
    CG_LOG_I("stopped");
    return 0;
}

const struct cg_cli_cmd cg_app_serve_cmds[] = {
    {NULL, "serve",
     "[-c certgate.yaml] [--egress ADDR]... [--ingress ADDR]... [--admin ADDR]... [--workers N] "
     "[--access-log PATH|stderr|off]",
     "run the gateway: the egress listeners (plain HTTP in, mTLS out) and the ingress listeners (TLS in, by "
     "site); reloads within a second of any change in the store",
     0, 0, serve_opts, run_serve, NULL, NULL},
    {0},
};
