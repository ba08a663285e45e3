/* Workers: one thread and one libuv loop each, with listening sockets of their own
 * (SO_REUSEPORT: the kernel spreads connections), sharing nothing mutable on the hot path. The
 * configuration reaches them as an immutable runtime published by the control thread: a worker
 * notices a new generation number (one atomic load per request) and takes a reference then. */
#ifndef CG_NET_WORKER_H
#define CG_NET_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "net/dial.h"
#include "net/metrics.h"
#include "net/tls.h"

/* What every worker reads: the current runtime. */
struct cg_shared {
    pthread_mutex_t lock;
    struct cg_runtime *rt;        /* guarded by lock */
    _Atomic uint64_t generation;  /* bumped after each publish */
};

void cg_shared_init(struct cg_shared *s);
void cg_shared_cleanup(struct cg_shared *s);
/* Publishes rt (takes the caller's reference); the old runtime is released once no worker and
 * no request holds it. */
void cg_shared_publish(struct cg_shared *s, struct cg_runtime *rt);
/* A new reference to the current runtime. */
struct cg_runtime *cg_shared_get(struct cg_shared *s);

struct cg_worker;

/* A live session (an accepted connection) that must hear about a drain. */
struct cg_worker_session {
    struct cg_worker_session *next, *prev;
    void (*drain)(struct cg_worker_session *ws); /* finish what is in flight, take no more */
};

struct cg_listener_spec {
    const char *addr;
    enum cg_listener_kind kind; /* for the metrics */
    void (*on_accept)(struct cg_worker *w, int fd, void *arg);
    void *arg;
};

struct cg_worker {
    int id;
    uv_loop_t loop;
    pthread_t thread;
    struct cg_shared *shared;
    struct cg_runtime *rt;  /* this worker's reference to the current runtime */
    uint64_t gen;
    char pool_prefix[32];   /* "g<generation>|": pool keys of this runtime */
    struct cg_pool *pool;
    const struct cg_listener_spec *specs;
    size_t n_listeners;
    int *listen_fds;
    uv_poll_t *listen_polls;
    uv_async_t wake;
    _Atomic int command;    /* 0 none, 1 drain, 2 stop */
    bool draining;
    struct cg_worker_session sessions; /* list head */
    size_t active;
    size_t max_sessions;    /* accepted connections beyond this are closed at once */
    uint64_t refused;       /* connections closed for that, for the log */
    struct cg_metrics metrics; /* this worker's traffic counters (written by its thread only) */
    uint64_t refused_logged_ms;
};

/* The worker's current runtime (borrowed; valid until the worker's next call here). Cheap: one
 * atomic load unless the configuration changed. */
struct cg_runtime *cg_worker_runtime(struct cg_worker *w);
void cg_worker_session_add(struct cg_worker *w, struct cg_worker_session *ws);
void cg_worker_session_remove(struct cg_worker *w, struct cg_worker_session *ws);

/* Creates n workers, opens every listener in each (errors name the address), starts the
 * threads. */
CG_RESULT cg_workers_start(struct cg_shared *shared, const struct cg_listener_spec *specs, size_t n_specs,
                           unsigned n, size_t max_sessions, const struct cg_pool_limits *pool,
                           struct cg_worker **out, struct cg_err *err);
/* Asks every worker to drain: close the listeners, finish in-flight requests, then stop. */
void cg_workers_drain(struct cg_worker *w, unsigned n);
/* Waits up to deadline_ms for the workers to stop; true when all did. */
bool cg_workers_join(struct cg_worker *w, unsigned n, uint32_t deadline_ms);
void cg_workers_free(struct cg_worker *w, unsigned n); /* after a successful join */

#endif
