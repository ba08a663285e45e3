/* The park of parked connections (proxy/park.h). */
#include "proxy/park.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/conn.h"
#include "proxy/proxy.h"

#define WAKE_BATCH 64 /* parked connections taken up per poll callback; the rest on the next */

struct parked {
    struct cg_worker_session ws; /* first: the drain finds the record */
    struct parked *prev, *next;  /* the park's list, in deadline order */
    struct cg_parked_conn c;
};

struct park {
    uv_poll_t poll;     /* the epoll set of the parked sockets, readable when one of them is */
    uv_timer_t timer;   /* the first deadline */
    struct cg_worker *w;
    int epfd;
    struct parked list; /* sentinel of the deadline-ordered list */
    size_t n;
    int handles;        /* poll + timer: freed when both are closed */
};

/* A worker is one thread with one loop (net/worker.h): its park is the thread's. */
static _Thread_local struct park *tl_park;

static void park_poll_cb(uv_poll_t *h, int status, int events);
static void park_timer_cb(uv_timer_t *t);

static void handle_closed(uv_handle_t *h)
{
    struct park *k = h->data;
    if (--k->handles == 0) cg_free(k);
}

static struct park *park_new(struct cg_worker *w)
{
    struct park *k = cg_calloc(1, sizeof(*k));
    if (!k) return NULL;
    k->epfd = epoll_create1(EPOLL_CLOEXEC);
    const char *why = k->epfd < 0 ? strerror(errno) : NULL;
    int rc = why ? 0 : uv_poll_init(&w->loop, &k->poll, k->epfd);
    if (why || rc != 0) {
        static _Thread_local bool told; /* once per worker: this repeats at every idle connection */
        if (!told) CG_LOG_W("worker %d: idle connections stay unparked: %s", w->id, why ? why : uv_strerror(rc));
        told = true;
        if (k->epfd >= 0) close(k->epfd);
        cg_free(k);
        return NULL;
    }
    k->w = w;
    k->list.next = k->list.prev = &k->list;
    k->poll.data = k;
    uv_timer_init(&w->loop, &k->timer);
    k->timer.data = k;
    k->handles = 2;
    uv_poll_start(&k->poll, UV_READABLE, park_poll_cb);
    return k;
}

/* The park is empty: close it (made again by the next connection that parks). */
static void park_close(struct park *k)
{
    if (tl_park == k) tl_park = NULL;
    uv_timer_stop(&k->timer);
    uv_close((uv_handle_t *)&k->timer, handle_closed);
    uv_close((uv_handle_t *)&k->poll, handle_closed); /* stops watching at once */
    close(k->epfd);
}

static void timer_rearm(struct park *k)
{
    if (k->list.next == &k->list) return;
    uint64_t now = uv_now(&k->w->loop), due = k->list.next->c.deadline_ms;
    uv_timer_start(&k->timer, park_timer_cb, due > now ? due - now : 0, 0);
}

/* Takes r out of the park and frees the record (its contents are the caller's); false when that
 * emptied the park, which is then closed. */
static bool take_out(struct park *k, struct parked *r)
{
    epoll_ctl(k->epfd, EPOLL_CTL_DEL, r->c.fd, NULL);
    bool first = k->list.next == r;
    r->prev->next = r->next;
    r->next->prev = r->prev;
    k->n--;
    cg_worker_session_remove(k->w, &r->ws);
    cg_free(r);
    if (k->n == 0) {
        park_close(k);
        return false;
    }
    if (first) timer_rearm(k);
    return true;
}

/* Closes a parked connection (its idle time ran out, a drain): nothing was in flight, so nothing
 * is logged, as for a session closed idle. */
static bool close_parked(struct park *k, struct parked *r)
{
    struct cg_parked_conn c = r->c;
    cg_counter_add(&k->w->metrics.closed[c.ops->kind], 1);
    bool left = take_out(k, r);
    cg_conn_close_detached(c.fd, c.ssl);
    c.ops->park_free(c.state);
    return left;
}

static void parked_drain(struct cg_worker_session *ws)
{
    if (tl_park) close_parked(tl_park, (struct parked *)ws);
}

static void park_timer_cb(uv_timer_t *t)
{
    struct park *k = t->data;
    uint64_t now = uv_now(&k->w->loop);
    while (k->list.next != &k->list && k->list.next->c.deadline_ms <= now)
        if (!close_parked(k, k->list.next)) return;
}

static void park_poll_cb(uv_poll_t *h, int status, int events)
{
    CG_UNUSED(status);
    CG_UNUSED(events);
    struct park *k = h->data;
    struct cg_worker *w = k->w;
    struct epoll_event ev[WAKE_BATCH];
    int n = epoll_wait(k->epfd, ev, WAKE_BATCH, 0);
    for (int i = 0; i < n; i++) {
        struct parked *r = ev[i].data.ptr;
        struct cg_parked_conn c = r->c;
        uint64_t now = uv_now(&w->loop);
        uint32_t rest = c.deadline_ms > now ? (uint32_t)(c.deadline_ms - now) : 1;
        bool left = take_out(k, r);
        cg_proxy_unpark(w, &c, rest);
        if (!left) return; /* that was the last one: the park is closing */
    }
}

bool cg_park_put(struct cg_worker *w, const struct cg_parked_conn *c)
{
    if (tl_park && tl_park->w != w) return false;
    struct park *k = tl_park ? tl_park : park_new(w);
    struct parked *r = k ? cg_calloc(1, sizeof(*r)) : NULL;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = r};
    if (!r || epoll_ctl(k->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        cg_free(r);
        if (k && k->n == 0) park_close(k);
        return false;
    }
    tl_park = k;
    r->c = *c;
    r->ws.drain = parked_drain;
    struct parked *after = k->list.prev;
    while (after != &k->list && after->c.deadline_ms > c->deadline_ms) after = after->prev;
    r->prev = after;
    r->next = after->next;
    after->next->prev = r;
    after->next = r;
    k->n++;
    cg_worker_session_add(w, &r->ws);
    if (k->list.next == r) timer_rearm(k);
    return true;
}
