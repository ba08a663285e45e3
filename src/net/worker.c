#include "net/worker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/time.h"

void cg_shared_init(struct cg_shared *s)
{
    pthread_mutex_init(&s->lock, NULL);
    s->rt = NULL;
    atomic_init(&s->generation, 0);
}

void cg_shared_cleanup(struct cg_shared *s)
{
    cg_runtime_unref(s->rt);
    s->rt = NULL;
    pthread_mutex_destroy(&s->lock);
}

void cg_shared_publish(struct cg_shared *s, struct cg_runtime *rt)
{
    pthread_mutex_lock(&s->lock);
    struct cg_runtime *old = s->rt;
    s->rt = rt;
    atomic_fetch_add_explicit(&s->generation, 1, memory_order_release);
    pthread_mutex_unlock(&s->lock);
    cg_runtime_unref(old);
}

struct cg_runtime *cg_shared_get(struct cg_shared *s)
{
    pthread_mutex_lock(&s->lock);
    struct cg_runtime *rt = cg_runtime_ref(s->rt);
    pthread_mutex_unlock(&s->lock);
    return rt;
}

struct cg_runtime *cg_worker_runtime(struct cg_worker *w)
{
    uint64_t gen = atomic_load_explicit(&w->shared->generation, memory_order_acquire);
    if (gen != w->gen || !w->rt) {
        struct cg_runtime *rt = cg_shared_get(w->shared);
        cg_runtime_unref(w->rt);
        w->rt = rt;
        w->gen = gen;
        snprintf(w->pool_prefix, sizeof(w->pool_prefix), "g%llu|", (unsigned long long)gen);
        /* connections made under the old configuration may present an old certificate */
        if (w->pool) cg_pool_flush_except(w->pool, w->pool_prefix);
    }
    return w->rt;
}

void cg_worker_session_add(struct cg_worker *w, struct cg_worker_session *ws)
{
    ws->prev = &w->sessions;
    ws->next = w->sessions.next;
    w->sessions.next->prev = ws;
    w->sessions.next = ws;
    w->active++;
}

static void maybe_stop(struct cg_worker *w);

void cg_worker_session_remove(struct cg_worker *w, struct cg_worker_session *ws)
{
    ws->prev->next = ws->next;
    ws->next->prev = ws->prev;
    ws->next = ws->prev = ws;
    w->active--;
    maybe_stop(w);
}

static void accept_cb(uv_poll_t *h, int status, int events)
{
    CG_UNUSED(events);
    struct cg_worker *w = h->loop->data;
    size_t i = (size_t)(h - w->listen_polls);
    if (status < 0 || w->draining) return;
    for (int k = 0; k < 64; k++) {
        int fd = accept4(w->listen_fds[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            if (errno == EMFILE || errno == ENFILE) CG_LOG_W("accept on %s: %s", w->specs[i].addr, strerror(errno));
            return;
        }
        enum cg_listener_kind kind = w->specs[i].kind;
        cg_counter_add(&w->metrics.accepted[kind], 1);
        if (w->active >= w->max_sessions) {
            /* a peer cannot make us hold more connections than the limit: close at once */
            close(fd);
            cg_counter_add(&w->metrics.closed[kind], 1);
            w->refused++;
            uint64_t now = cg_time_mono_ms();
            if (now - w->refused_logged_ms >= 10000) {
                CG_LOG_W("worker %d: %llu connection%s closed at limits.max_connections (%zu)", w->id,
                         (unsigned long long)w->refused, w->refused == 1 ? "" : "s", w->max_sessions);
                w->refused_logged_ms = now;
                w->refused = 0;
            }
            continue;
        }
        w->specs[i].on_accept(w, fd, w->specs[i].arg);
    }
}

static void handle_closed_noop(uv_handle_t *h) { CG_UNUSED(h); }

static void close_listeners(struct cg_worker *w)
{
    for (size_t i = 0; i < w->n_listeners; i++) {
        if (w->listen_fds[i] < 0) continue;
        uv_poll_stop(&w->listen_polls[i]);
        uv_close((uv_handle_t *)&w->listen_polls[i], handle_closed_noop);
        close(w->listen_fds[i]);
        w->listen_fds[i] = -1;
    }
}

static void maybe_stop(struct cg_worker *w)
{
    if (!w->draining || w->active) return;
    if (w->pool) {
        cg_pool_free(w->pool);
        w->pool = NULL;
    }
    if (!uv_is_closing((uv_handle_t *)&w->wake)) uv_close((uv_handle_t *)&w->wake, handle_closed_noop);
}

static void wake_cb(uv_async_t *a)
{
    struct cg_worker *w = a->data;
    int cmd = atomic_load(&w->command);
    if (cmd >= 1 && !w->draining) {
        w->draining = true;
        close_listeners(w);
        for (struct cg_worker_session *s = w->sessions.next, *n; s != &w->sessions; s = n) {
            n = s->next;
            s->drain(s);
        }
        maybe_stop(w);
    }
}

static void *worker_main(void *arg)
{
    struct cg_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

int cg_workers_start(struct cg_shared *shared, const struct cg_listener_spec *specs, size_t n_specs, unsigned n,
                     size_t max_sessions, const struct cg_pool_limits *pool, struct cg_worker **out,
                     struct cg_err *err)
{
    struct cg_worker *ws = cg_calloc(n, sizeof(*ws));
    CG_ENSURE(ws, CG_ENOMEM);
    /* SO_REUSEPORT lets another process of the same user share a port silently: make sure
     * nobody listens there yet with a probe bind that does not share. */
    for (size_t i = 0; i < n_specs; i++) {
        int probe = cg_net_listen_probe(specs[i].addr, err);
        if (probe < 0) {
            cg_free(ws);
            return probe;
        }
    }
    int rc = 0;
    unsigned made = 0;
    for (; made < n && rc == 0; made++) {
        struct cg_worker *w = &ws[made];
        w->id = (int)made;
        w->shared = shared;
        w->max_sessions = max_sessions ? max_sessions : 10000;
        w->specs = specs;
        w->n_listeners = n_specs;
        w->sessions.next = w->sessions.prev = &w->sessions;
        uv_loop_init(&w->loop);
        w->loop.data = w;
        uv_async_init(&w->loop, &w->wake, wake_cb);
        w->wake.data = w;
        w->pool = cg_pool_new(&w->loop, pool);
        if (w->pool) cg_pool_set_idle_gauge(w->pool, &w->metrics.pool_idle);
        w->listen_fds = cg_calloc(n_specs ? n_specs : 1, sizeof(int));
        w->listen_polls = cg_calloc(n_specs ? n_specs : 1, sizeof(uv_poll_t));
        if (!w->pool || !w->listen_fds || !w->listen_polls) {
            rc = CG_ENOMEM;
            break;
        }
        for (size_t i = 0; i < n_specs; i++) w->listen_fds[i] = -1;
        for (size_t i = 0; i < n_specs && rc == 0; i++) {
            int fd = cg_net_listen(specs[i].addr, 1024, err);
            if (fd < 0) {
                rc = fd;
                break;
            }
            w->listen_fds[i] = fd;
            uv_poll_init_socket(&w->loop, &w->listen_polls[i], fd);
            uv_poll_start(&w->listen_polls[i], UV_READABLE, accept_cb);
        }
    }
    if (rc < 0) {
        /* nothing started yet: undo everything (the caller reports the error and exits) */
        for (unsigned k = 0; k < made; k++) {
            struct cg_worker *w = &ws[k];
            for (size_t i = 0; w->listen_fds && i < n_specs; i++)
                if (w->listen_fds[i] >= 0) {
                    uv_close((uv_handle_t *)&w->listen_polls[i], handle_closed_noop);
                    close(w->listen_fds[i]);
                }
            if (w->pool) cg_pool_free(w->pool);
            uv_close((uv_handle_t *)&w->wake, handle_closed_noop);
            uv_run(&w->loop, UV_RUN_DEFAULT); /* runs the close callbacks */
            uv_loop_close(&w->loop);
            cg_free(w->listen_fds);
            cg_free(w->listen_polls);
        }
        cg_free(ws);
        return rc;
    }
    for (unsigned k = 0; k < n; k++) {
        if (pthread_create(&ws[k].thread, NULL, worker_main, &ws[k]) != 0)
            return cg_err_set(err, CG_EINTERNAL, "cannot start worker thread %u", k);
    }
    *out = ws;
    return 0;
}

void cg_workers_drain(struct cg_worker *w, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        atomic_store(&w[i].command, 1);
        uv_async_send(&w[i].wake);
    }
}

bool cg_workers_join(struct cg_worker *w, unsigned n, uint32_t deadline_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += deadline_ms / 1000;
    until.tv_nsec += (long)(deadline_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    bool all = true;
    for (unsigned i = 0; i < n; i++)
        if (pthread_timedjoin_np(w[i].thread, NULL, &until) != 0) all = false;
    return all;
}

void cg_workers_free(struct cg_worker *w, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uv_run(&w[i].loop, UV_RUN_NOWAIT); /* let close callbacks finish */
        uv_loop_close(&w[i].loop);
        cg_runtime_unref(w[i].rt);
        cg_free(w[i].listen_fds);
        cg_free(w[i].listen_polls);
    }
    cg_free(w);
}
