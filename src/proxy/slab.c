/* Session slabs (proxy/slab.h). */
#include "proxy/slab.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "core/mem.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define SLAB_BYTES (64 * 1024)
#define CLASSES 4 /* object sizes per thread; a fifth size comes from the heap */

struct slab;

/* Before each object: its slab (NULL: the object came from the heap) and, while free, the next
 * free slot. 16 bytes, so that objects stay 16-byte aligned. */
struct slot {
    struct slab *slab;
    struct slot *next_free;
};

struct slab_class {
    size_t size;          /* of a slot, header included; 0: unused */
    struct slab *partial; /* slabs with a free slot */
    struct slab *spare;   /* an empty slab kept for the next sessions */
};

struct slab {
    struct slab *prev, *next; /* the class's partial list */
    struct slab_class *cls;
    struct slot *free;
    size_t used;              /* objects handed out */
    size_t bump;              /* offset of the first slot never handed out */
    bool listed;
};

#define SLAB_HEAD ((sizeof(struct slab) + 15) & ~(size_t)15)

static _Thread_local struct slab_class classes[CLASSES];

static void unlist(struct slab *s)
{
    if (!s->listed) return;
    if (s->prev) s->prev->next = s->next;
    else s->cls->partial = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->listed = false;
}

static void list(struct slab *s)
{
    if (s->listed) return;
    s->prev = NULL;
    s->next = s->cls->partial;
    if (s->next) s->next->prev = s;
    s->cls->partial = s;
    s->listed = true;
}

static struct slab *slab_new(struct slab_class *c)
{
    void *m = mmap(NULL, SLAB_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    struct slab *s = m;
    s->cls = c;
    s->bump = SLAB_HEAD;
    POISON((char *)m + SLAB_HEAD, SLAB_BYTES - SLAB_HEAD);
    return s;
}

static void slab_unmap(struct slab *s)
{
    UNPOISON(s, SLAB_BYTES); /* the shadow must not outlive the mapping */
    munmap(s, SLAB_BYTES);
}

static struct slab_class *class_of(size_t slot_size)
{
    for (size_t i = 0; i < CLASSES; i++)
        if (classes[i].size == slot_size) return &classes[i];
    for (size_t i = 0; i < CLASSES; i++)
        if (classes[i].size == 0) {
            classes[i].size = slot_size;
            return &classes[i];
        }
    return NULL;
}

/* A slab of c with a free slot. */
static struct slab *slab_with_room(struct slab_class *c)
{
    if (c->partial) return c->partial;
    struct slab *s = c->spare ? c->spare : slab_new(c);
    c->spare = NULL;
    if (s) list(s);
    return s;
}

static struct slot *slot_take(struct slab *s)
{
    struct slot *t = s->free;
    if (t) {
        s->free = t->next_free;
    } else {
        t = (struct slot *)((char *)s + s->bump);
        s->bump += s->cls->size;
        UNPOISON(t, sizeof(*t));
    }
    s->used++;
    if (!s->free && s->bump + s->cls->size > SLAB_BYTES) unlist(s); /* full */
    return t;
}

void *cg_proxy_slab_calloc(size_t size)
{
    size_t slot_size = (sizeof(struct slot) + size + 15) & ~(size_t)15;
    struct slab_class *c = slot_size <= (SLAB_BYTES - SLAB_HEAD) / 4 ? class_of(slot_size) : NULL;
    struct slab *s = c ? slab_with_room(c) : NULL;
    struct slot *t;
    if (s) {
        t = slot_take(s);
        t->slab = s;
        t->next_free = NULL;
        UNPOISON(t + 1, size);
        memset(t + 1, 0, size);
    } else {
        t = cg_calloc(1, sizeof(*t) + size); /* another size, or no mapping to be had */
        if (!t) return NULL;
    }
    return t + 1;
}

void cg_proxy_slab_free(void *p)
{
    if (!p) return;
    struct slot *t = (struct slot *)p - 1;
    struct slab *s = t->slab;
    if (!s) {
        cg_free(t);
        return;
    }
    POISON(p, s->cls->size - sizeof(*t));
    t->next_free = s->free;
    s->free = t;
    if (--s->used > 0) {
        list(s);
        return;
    }
    /* empty: give it back, or keep it as the class's spare */
    struct slab_class *c = s->cls;
    unlist(s);
    if (c->spare) {
        slab_unmap(s);
        return;
    }
    s->free = NULL;
    s->bump = SLAB_HEAD;
    POISON((char *)s + SLAB_HEAD, SLAB_BYTES - SLAB_HEAD);
    c->spare = s;
}
