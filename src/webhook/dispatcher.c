/* The webhook dispatcher (webhook.h): a thread with its own loop and store connection that
 * claims due deliveries, sends each (exchange.c) and records what came of it.
 *
 * At-least-once: a delivery is claimed under a lease before anything is sent and finished only
 * after the answer, so a daemon killed at any moment leaves it pending in the store (release_all
 * at the next start makes it due at once). Claims respect per_webhook in the store, counting the
 * leases held, so a slow endpoint holds at most that many slots and the others keep flowing.
 *
 * A claim waits (up to CONFIG_WAIT_MS) while the store's revision is ahead of the runtime's: a
 * webhook added a moment before its first event would otherwise be unknown to this snapshot. */
#include "webhook/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/time.h"
#include "net/worker.h"

#define CONFIG_WAIT_MS 5000     /* how long claims wait for the daemon to load a newer revision */
#define EXPIRY_FIRST_MS 1000    /* certgate's own expiry events: soon after the start ... */
#define EXPIRY_EVERY_MS 60000   /* ... then every minute */
#define STORE_LOG_EVERY_MS 60000
#define PROBLEMS_MAX 4096       /* webhooks whose problem state is remembered */

struct job {
    struct job *next, *prev;
    struct cg_webhook_dispatcher *d;
    int64_t id;
    char event_id[40];
    char *webhook;
    int attempt;          /* this one, counted from 1 */
    int64_t at_ms;        /* when it started (wall clock) */
    struct wh_exchange *x;
};

/* What this process knows of a webhook's problem flag, so that a success clears it once. */
struct problem_state {
    char *name;
    bool flagged;
};

struct cg_webhook_dispatcher {
    struct cg_webhook_config cfg;
    char *store_url, *env;
    struct cg_shared *shared;
    struct cg_store *store;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t poll, kick, expiry;
    pthread_t thread;
    _Atomic bool stop_asked;
    bool stopping, closed;
    struct cg_runtime *rt;
    uint64_t gen;
    char pool_prefix[32];
    struct cg_pool *pool;
    struct job jobs;      /* list head */
    size_t in_flight;
    bool busy;            /* the last claim found work: look again as soon as a slot frees */
    uint64_t ahead_since_ms;
    uint64_t current_at_ms; /* when the runtime was last found to hold the store's revision */
    uint64_t rng;
    struct problem_state *problems;
    size_t n_problems, cap_problems;
    uint64_t store_logged_ms;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: the jitter needs spread, not secrecy */
static double rnd01(struct cg_webhook_dispatcher *d)
{
    d->rng ^= d->rng >> 12;
    d->rng ^= d->rng << 25;
    d->rng ^= d->rng >> 27;
    return (double)((d->rng * 2685821657736338717ull) >> 11) / 9007199254740992.0; /* [0, 1) */
}

/* The store may be briefly unavailable (locked, restarting): say so, but not on every poll. */
static void store_trouble(struct cg_webhook_dispatcher *d, const char *what, const struct cg_err *err)
{
    uint64_t now = cg_time_mono_ms();
    if (d->store_logged_ms && now - d->store_logged_ms < STORE_LOG_EVERY_MS) return;
    d->store_logged_ms = now;
    CG_LOG_W("webhooks: %s failed (trying again; deliveries stay pending in the store): %s", what, err->msg);
}

/* ---- the webhook's problem flag ---- */

static struct problem_state *problem_of(struct cg_webhook_dispatcher *d, const char *name)
{
    for (size_t i = 0; i < d->n_problems; i++)
        if (strcmp(d->problems[i].name, name) == 0) return &d->problems[i];
    if (d->n_problems >= PROBLEMS_MAX ||
        cg_array_reserve(&d->problems, &d->cap_problems, d->n_problems + 1, sizeof(*d->problems)) < 0)
        return NULL;
    struct problem_state *p = &d->problems[d->n_problems];
    if (!(p->name = cg_strdup(name))) return NULL;
    p->flagged = true; /* unknown: the first success clears whatever the store holds */
    d->n_problems++;
    return p;
}

static void problem_record(struct cg_webhook_dispatcher *d, const char *name, const char *problem)
{
    struct problem_state *p = problem_of(d, name);
    if (p && !p->flagged && !problem) return; /* nothing to clear */
    struct cg_err err;
    cg_err_clear(&err);
    if (cg_store_webhook_problem_set(d->store, d->env, name, problem, (int64_t)time(NULL), &err) < 0) {
        if (err.code != CG_ENOTFOUND) store_trouble(d, "recording a webhook's problem", &err);
        return;
    }
    if (p) p->flagged = problem != NULL;
}

/* ---- the end of a delivery attempt ---- */

static void kick_soon(struct cg_webhook_dispatcher *d);
static void maybe_close(struct cg_webhook_dispatcher *d);

static void job_free(struct job *j)
{
    struct cg_webhook_dispatcher *d = j->d;
    j->prev->next = j->next;
    j->next->prev = j->prev;
    d->in_flight--;
    cg_free(j->webhook);
    cg_free(j);
    if (d->busy) kick_soon(d);
    maybe_close(d);
}

static void log_outcome(const struct job *j, const struct wh_outcome *o, int status, uint64_t delay_ms)
{
    if (o->verdict == WH_DELIVERED)
        CG_LOG_D("webhook '%s': delivery %lld (%s) delivered, %d in %llu ms", j->webhook, (long long)j->id,
                 j->event_id, o->status_code, (unsigned long long)o->latency_ms);
    else if (o->verdict == WH_PERMANENT)
        CG_LOG_E("webhook '%s': delivery %lld (%s) failed and will not be retried: %s", j->webhook, (long long)j->id,
                 j->event_id, o->problem[0] ? o->problem : o->error);
    else if (status == CG_DELIVERY_FAILED)
        CG_LOG_W("webhook '%s': delivery %lld (%s) failed after %d attempts, the last: %s; replay it with: certgate "
                 "webhook replay %lld",
                 j->webhook, (long long)j->id, j->event_id, j->attempt, o->error, (long long)j->id);
    else
        CG_LOG_I("webhook '%s': delivery %lld (%s) attempt %d failed: %s; next in %llu ms", j->webhook,
                 (long long)j->id, j->event_id, j->attempt, o->error, (unsigned long long)delay_ms);
}

/* Records the attempt and the delivery's new state; frees the job. */
static void job_done(struct job *j, const struct wh_outcome *o)
{
    struct cg_webhook_dispatcher *d = j->d;
    const struct cg_webhook_config *c = &d->cfg;
    int status = CG_DELIVERY_SUCCEEDED;
    uint64_t delay = 0;
    if (o->verdict == WH_PERMANENT || (o->verdict == WH_RETRY && (uint32_t)j->attempt >= c->max_attempts)) {
        status = CG_DELIVERY_FAILED;
    } else if (o->verdict == WH_RETRY) {
        status = CG_DELIVERY_PENDING;
        delay = o->retry_after_ms >= 0 ? (uint64_t)o->retry_after_ms
                                       : cg_webhook_backoff_ms((unsigned)j->attempt, c->retry_base_ms, c->retry_max_ms,
                                                               rnd01(d));
        if (delay > c->retry_max_ms) delay = c->retry_max_ms;
    }
    struct cg_store_attempt a = {
        .at_ms = j->at_ms,
        .status_code = o->status_code,
        .error = o->verdict == WH_DELIVERED ? NULL : (char *)o->error,
        .latency_ms = (int64_t)o->latency_ms,
    };
    struct cg_err err;
    cg_err_clear(&err);
    int64_t next = status == CG_DELIVERY_PENDING ? wall_ms() + (int64_t)delay : 0;
    int rc = cg_store_delivery_finish(d->store, d->env, j->id, status, next, &a, &err);
    if (rc < 0 && rc != CG_ENOTFOUND) /* not found: its webhook was removed meanwhile */
        store_trouble(d, "recording a delivery attempt", &err);
    log_outcome(j, o, status, delay);
    if (o->verdict == WH_PERMANENT && o->problem[0]) problem_record(d, j->webhook, o->problem);
    else if (o->verdict == WH_DELIVERED) problem_record(d, j->webhook, NULL);
    job_free(j);
}

static void job_not_sent(struct job *j, enum wh_verdict v, const char *fmt, ...) CG_PRINTF(3, 4);
static void job_not_sent(struct job *j, enum wh_verdict v, const char *fmt, ...)
{
    struct wh_outcome o;
    memset(&o, 0, sizeof(o));
    o.verdict = v;
    o.retry_after_ms = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o.error, sizeof(o.error), fmt, ap);
    va_end(ap);
    job_done(j, &o);
}

static void exchanged_cb(void *arg, const struct wh_outcome *o)
{
    struct job *j = arg;
    j->x = NULL;
    job_done(j, o);
}

/* ---- starting a delivery attempt ---- */

/* The webhook is not in this runtime: removed (the delivery goes), or the daemon has not loaded
 * it (a reload failing for longer than claims wait): try again later. */
static void not_configured(struct job *j)
{
    struct cg_store_webhook w;
    memset(&w, 0, sizeof(w));
    struct cg_err err;
    cg_err_clear(&err);
    int rc = cg_store_webhook_get(j->d->store, j->d->env, j->webhook, &w, &err);
    cg_store_webhook_cleanup(&w);
    if (rc == CG_ENOTFOUND)
        job_not_sent(j, WH_PERMANENT, "not sent: webhook '%s' was removed", j->webhook);
    else
        job_not_sent(j, WH_RETRY, "not sent: the daemon's configuration does not have webhook '%s' yet (its reload "
                                  "is failing: see the daemon's log)",
                     j->webhook);
}

/* The request for the delivery: the stored event, signed when the webhook has a secret. */
static int request_for(struct job *j, const struct cg_snapshot_webhook *w, struct cg_buf *req, struct cg_err *err)
{
    struct cg_store_event e;
    memset(&e, 0, sizeof(e));
    int rc = cg_store_event_get(j->d->store, j->d->env, j->event_id, &e, err);
    struct cg_buf body;
    cg_buf_init(&body, WH_REQUEST_MAX);
    if (rc == 0) rc = wh_event_body(&e, &body, err);
    struct wh_request_info ri = {
        .host = w->host, .port = w->port, .path = w->path, .event_id = e.id, .event_type = e.type ? e.type : "",
        .delivery_id = j->id, .attempt = j->attempt, .secret = w->secret, .secret_len = w->secret_len,
        .now_s = (int64_t)time(NULL),
    };
    if (rc == 0) rc = wh_request_build(&ri, cg_buf_slice(&body), req, err);
    cg_buf_cleanup(&body);
    cg_store_event_cleanup(&e);
    return rc;
}

static void job_start(struct cg_webhook_dispatcher *d, const struct cg_store_delivery *del)
{
    struct job *j = cg_calloc(1, sizeof(*j));
    if (!j || !(j->webhook = cg_strdup(del->webhook))) {
        cg_free(j); /* the lease runs out and the delivery is claimed again */
        return;
    }
    j->d = d;
    j->id = del->id;
    memcpy(j->event_id, del->event_id, sizeof(j->event_id));
    j->attempt = del->attempts;
    j->at_ms = wall_ms();
    j->next = d->jobs.next;
    j->prev = &d->jobs;
    d->jobs.next->prev = j;
    d->jobs.next = j;
    d->in_flight++;

    int wi = cg_snapshot_webhook_find(d->rt->snap, j->webhook);
    if (wi < 0) {
        not_configured(j);
        return;
    }
    const struct cg_snapshot_webhook *w = &d->rt->snap->webhooks[wi];
    if (w->disabled) {
        job_not_sent(j, WH_PERMANENT, "not sent: webhook '%s' is disabled; after enabling it, replay the delivery: "
                                      "certgate webhook replay %lld",
                     j->webhook, (long long)j->id);
        return;
    }
    struct cg_err err;
    cg_err_clear(&err);
    struct cg_buf req;
    cg_buf_init(&req, WH_REQUEST_MAX);
    int rc = request_for(j, w, &req, &err);
    if (rc < 0) {
        cg_buf_cleanup(&req);
        /* a stored event that cannot be sent never will be; the store being away is another matter */
        job_not_sent(j, cg_err_category(rc) == CG_CAT_STORE && rc != CG_ENOTFOUND ? WH_RETRY : WH_PERMANENT,
                     "not sent: %s", err.msg);
        return;
    }
    struct wh_exchange_params p = {.loop = &d->loop, .pool = d->pool, .pool_prefix = d->pool_prefix, .rt = d->rt,
                                   .webhook = wi, .timeout_ms = d->cfg.timeout_ms};
    rc = wh_exchange_start(&p, &req, exchanged_cb, j, &j->x, &err);
    cg_buf_cleanup(&req);
    if (rc < 0) job_not_sent(j, WH_RETRY, "not sent: %s", err.msg);
}

/* ---- claiming ---- */

static void runtime_refresh(struct cg_webhook_dispatcher *d)
{
    uint64_t gen = atomic_load_explicit(&d->shared->generation, memory_order_acquire);
    if (d->rt && gen == d->gen) return;
    struct cg_runtime *rt = cg_shared_get(d->shared);
    if (!rt) return;
    cg_runtime_unref(d->rt);
    d->rt = rt;
    d->gen = gen;
    snprintf(d->pool_prefix, sizeof(d->pool_prefix), "g%llu|", (unsigned long long)gen);
    /* connections made under the old configuration may present an old certificate */
    cg_pool_flush_except(d->pool, d->pool_prefix);
}

/* Whether the runtime holds the store's configuration, or claims waited long enough for it.
 * fresh: ask the store (a poll, or a wake-up for new events, which may come right after a change);
 * else an answer younger than poll_ms does (claims that follow finished deliveries). */
static bool config_current(struct cg_webhook_dispatcher *d, bool fresh)
{
    uint64_t now = cg_time_mono_ms(), rev = 0;
    if (!fresh && d->current_at_ms && now - d->current_at_ms < d->cfg.poll_ms) return true;
    struct cg_err err;
    cg_err_clear(&err);
    if (cg_store_revision(d->store, d->env, &rev, &err) < 0 || rev <= d->rt->snap->revision) {
        d->ahead_since_ms = 0;
        d->current_at_ms = now;
        return true;
    }
    d->current_at_ms = 0;
    if (!d->ahead_since_ms) d->ahead_since_ms = now;
    return now - d->ahead_since_ms >= CONFIG_WAIT_MS;
}

static void claim(struct cg_webhook_dispatcher *d, bool fresh)
{
    if (d->stopping) return;
    runtime_refresh(d);
    size_t room = d->cfg.concurrency > d->in_flight ? d->cfg.concurrency - d->in_flight : 0;
    if (!d->rt || room == 0 || !config_current(d, fresh)) return;
    struct cg_store_delivery_list l = {0};
    struct cg_err err;
    cg_err_clear(&err);
    if (cg_store_delivery_claim(d->store, d->env, wall_ms(), d->cfg.lease_ms, room, d->cfg.per_webhook, &l, &err) <
        0) {
        store_trouble(d, "claiming due deliveries", &err);
        return;
    }
    d->busy = l.n > 0;
    for (size_t i = 0; i < l.n; i++) job_start(d, &l.items[i]);
    cg_store_delivery_list_cleanup(&l);
}

static void poll_cb(uv_timer_t *t) { claim(t->data, true); }
static void kick_cb(uv_timer_t *t) { claim(t->data, false); }

static void kick_soon(struct cg_webhook_dispatcher *d)
{
    if (!d->stopping && !uv_is_active((uv_handle_t *)&d->kick)) uv_timer_start(&d->kick, kick_cb, 0, 0);
}

static void expiry_cb(uv_timer_t *t)
{
    struct cg_webhook_dispatcher *d = t->data;
    runtime_refresh(d);
    if (!d->rt) return;
    size_t queued = 0;
    struct cg_err err;
    cg_err_clear(&err);
    if (cg_webhook_expiry_events(d->store, d->env, d->rt->snap, cg_time_now(), &queued, &err) < 0)
        store_trouble(d, "storing certificate expiry events", &err);
    if (queued) {
        CG_LOG_I("webhooks: %zu deliver%s of certificate expiry events queued", queued, queued == 1 ? "y" : "ies");
        kick_soon(d);
    }
}

/* ---- the thread ---- */

static void handle_closed_cb(uv_handle_t *h) { CG_UNUSED(h); }

static void maybe_close(struct cg_webhook_dispatcher *d)
{
    if (!d->stopping || d->in_flight || d->closed) return;
    d->closed = true;
    cg_pool_free(d->pool); /* frees itself once its connections are closed */
    d->pool = NULL;
    uv_close((uv_handle_t *)&d->wake, handle_closed_cb);
    uv_close((uv_handle_t *)&d->poll, handle_closed_cb);
    uv_close((uv_handle_t *)&d->kick, handle_closed_cb);
    uv_close((uv_handle_t *)&d->expiry, handle_closed_cb);
}

static void wake_cb(uv_async_t *a)
{
    struct cg_webhook_dispatcher *d = a->data;
    if (!atomic_load(&d->stop_asked)) {
        claim(d, true);
        return;
    }
    if (d->stopping) return;
    d->stopping = true;
    uv_timer_stop(&d->poll);
    uv_timer_stop(&d->kick);
    uv_timer_stop(&d->expiry);
    for (struct job *j = d->jobs.next, *n; j != &d->jobs; j = n) {
        n = j->next;
        if (j->x) wh_exchange_hurry(j->x); /* may finish j (and only j): its callback frees it */
    }
    maybe_close(d);
}

static void *dispatcher_main(void *arg)
{
    struct cg_webhook_dispatcher *d = arg;
    uv_run(&d->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void dispatcher_free(struct cg_webhook_dispatcher *d)
{
    if (!d) return;
    cg_store_close(d->store);
    cg_runtime_unref(d->rt);
    for (size_t i = 0; i < d->n_problems; i++) cg_free(d->problems[i].name);
    cg_free(d->problems);
    cg_free(d->store_url);
    cg_free(d->env);
    cg_free(d);
}

/* The loop and its handles; nothing runs until the thread starts. */
static int loop_init(struct cg_webhook_dispatcher *d)
{
    CG_ENSURE(uv_loop_init(&d->loop) == 0, CG_EINTERNAL);
    d->pool = cg_pool_new(&d->loop, NULL);
    if (!d->pool) {
        uv_loop_close(&d->loop);
        return CG_ENOMEM;
    }
    uv_async_init(&d->loop, &d->wake, wake_cb);
    uv_timer_init(&d->loop, &d->poll);
    uv_timer_init(&d->loop, &d->kick);
    uv_timer_init(&d->loop, &d->expiry);
    d->wake.data = d->poll.data = d->kick.data = d->expiry.data = d;
    uv_timer_start(&d->poll, poll_cb, 0, d->cfg.poll_ms);
    uv_timer_start(&d->expiry, expiry_cb, EXPIRY_FIRST_MS, EXPIRY_EVERY_MS);
    return 0;
}

int cg_webhook_start(struct cg_shared *shared, const struct cg_webhook_config *cfg, struct cg_webhook_dispatcher **out,
                     struct cg_err *err)
{
    CG_GUARD(cg_webhook_config_check(cfg, err));
    struct cg_webhook_dispatcher *d = cg_calloc(1, sizeof(*d));
    CG_ENSURE(d, CG_ENOMEM);
    d->cfg = *cfg;
    d->shared = shared;
    d->jobs.next = d->jobs.prev = &d->jobs;
    atomic_init(&d->stop_asked, false);
    if (RAND_bytes((uint8_t *)&d->rng, sizeof(d->rng)) != 1 || !d->rng) d->rng = cg_time_mono_ms() | 1;
    if (!(d->store_url = cg_strdup(cfg->store_url)) || !(d->env = cg_strdup(cfg->env))) {
        dispatcher_free(d);
        return cg_err_set(err, CG_ENOMEM, "out of memory");
    }
    d->cfg.store_url = d->store_url;
    d->cfg.env = d->env;
    int rc = cg_store_open(d->store_url, false, &d->store, err);
    /* what a previous process held when it stopped (or was killed) is due again now */
    if (rc == 0) rc = cg_store_delivery_release_all(d->store, d->env, err);
    if (rc < 0) {
        dispatcher_free(d);
        return cg_err_prefix(err, "the webhook dispatcher");
    }
    if ((rc = loop_init(d)) < 0) {
        dispatcher_free(d);
        return cg_err_set(err, rc, "the webhook dispatcher: cannot start its event loop");
    }
    if (pthread_create(&d->thread, NULL, dispatcher_main, d) != 0) {
        atomic_store(&d->stop_asked, true);
        wake_cb(&d->wake); /* closes everything; the loop then runs to its end here */
        uv_run(&d->loop, UV_RUN_DEFAULT);
        uv_loop_close(&d->loop);
        dispatcher_free(d);
        return cg_err_set(err, CG_EINTERNAL, "cannot start the webhook dispatcher's thread");
    }
    *out = d;
    return 0;
}

void cg_webhook_wake(struct cg_webhook_dispatcher *d)
{
    if (d) uv_async_send(&d->wake);
}

void cg_webhook_stop(struct cg_webhook_dispatcher *d)
{
    if (!d) return;
    atomic_store(&d->stop_asked, true);
    uv_async_send(&d->wake);
    pthread_join(d->thread, NULL);
    uv_loop_close(&d->loop);
    dispatcher_free(d);
}
