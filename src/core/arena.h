/*
 * arena.h - region allocator: one per request, freed at once.
 *
 * Like PostgreSQL's memory contexts or nginx's request pools, everything a
 * request handler allocates comes from the request's arena and dies with it.
 * An arena has a byte limit (0 = unlimited); allocations beyond it fail, so
 * that no single request can make the process allocate without bound.
 *
 * Cleanups registered with arena_defer() run in reverse order when the arena
 * is freed or reset; they hand foreign objects (jansson values, statements)
 * to the arena as their owner.
 *
 * An arena is not thread-safe: one thread uses it at a time.
 */
#ifndef KR_CORE_ARENA_H
#define KR_CORE_ARENA_H

#include <stddef.h>

#include "core/error.h"

struct arena;

/* Create an arena that refuses to hold more than limit bytes (0 = no
 * limit).  Returns NULL on OOM.  The caller owns it; free with arena_free. */
struct arena *arena_new(size_t limit);

/* Run the cleanups and free all memory, including the arena.  NULL is ok. */
void arena_free(struct arena *a);

/* Run the cleanups and drop all allocations but keep the first block, for
 * reuse by the next request. */
void arena_reset(struct arena *a);

/* Allocate size bytes aligned for any type.  Returns NULL on OOM or when the
 * limit would be exceeded.  size 0 returns a unique non-NULL pointer. */
void *arena_alloc(struct arena *a, size_t size);

/* arena_alloc, then zero the memory. */
void *arena_zalloc(struct arena *a, size_t size);

/* Allocate n elements of size bytes, with overflow check; zeroed. */
void *arena_calloc(struct arena *a, size_t n, size_t size);

/* Copy s (NUL-terminated) / the first n bytes of s into the arena, adding a
 * NUL.  NULL on OOM; arena_strdup(a, NULL) returns NULL. */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);

/* printf into the arena.  NULL on OOM or format error. */
char *arena_printf(struct arena *a, const char *fmt, ...) KR_PRINTF(2, 3);

/* Register fn(ptr) to run when the arena is freed or reset (LIFO).
 * Returns KR_OK or KR_ERR_NOMEM; on failure fn(ptr) is run immediately so
 * that the object is never leaked. */
int arena_defer(struct arena *a, void (*fn)(void *), void *ptr);

/* Bytes handed out so far (for metrics and tests). */
size_t arena_used(const struct arena *a);

#endif
