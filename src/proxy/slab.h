/* Session memory for the proxy engine (proxy.h), inside the proxy module. Sessions live in slabs
 * of their own (64 KiB, mapped), not in the heap: the sessions freed when their connections park
 * would otherwise leave holes of a KiB or two between the long-lived TLS state of other
 * connections, which malloc can neither reuse (until new connections come) nor give back, and
 * which stay in the process' memory. A slab whose sessions are all gone is unmapped (one empty
 * slab stays for the next sessions).
 *
 * Per thread (a worker is one thread: a session is freed where it was made), for a few object
 * sizes (one per listener kind). Under AddressSanitizer, free slots are poisoned. */
#ifndef CG_PROXY_SLAB_H
#define CG_PROXY_SLAB_H

#include <stddef.h>

/* size zeroed bytes (at most about 16 KiB), 16-byte aligned; NULL when out of memory. */
void *cg_proxy_slab_calloc(size_t size);
/* Gives back what cg_proxy_slab_calloc returned on this thread; NULL is ignored. */
void cg_proxy_slab_free(void *p);

#endif
