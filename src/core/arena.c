#include "core/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"

#define ARENA_ALIGN 16
#define ARENA_BLOCK_MIN 8192

struct arena_block {
    struct arena_block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena_cleanup {
    struct arena_cleanup *next;
    void (*fn)(void *);
    void *ptr;
};

struct arena {
    struct arena_block *head; /* current block; older blocks follow */
    struct arena_cleanup *cleanups;
    size_t limit;
    size_t used;
};

static struct arena_block *block_new(size_t size)
{
    struct arena_block *b = malloc(sizeof(*b) + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

struct arena *arena_new(size_t limit)
{
    struct arena *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->limit = limit;
    a->head = block_new(ARENA_BLOCK_MIN);
    if (!a->head) {
        free(a);
        return NULL;
    }
    return a;
}

static void run_cleanups(struct arena *a)
{
    /* A cleanup could allocate from the arena; take the list first. */
    while (a->cleanups) {
        struct arena_cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->ptr);
    }
}

void arena_reset(struct arena *a)
{
    if (!a)
        return;
    run_cleanups(a);
    /* Keep the oldest block (the first one allocated, at the list's end). */
    struct arena_block *b = a->head;
    while (b->next) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    b->used = 0;
    a->head = b;
    a->used = 0;
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    run_cleanups(a);
    struct arena_block *b = a->head;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void *arena_alloc(struct arena *a, size_t size)
{
    if (kr_fault_hit(KR_FAULT_ALLOC))
        return NULL;
    if (size > SIZE_MAX / 2)
        return NULL;
    size_t need = (size + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0)
        need = ARENA_ALIGN;
    if (a->limit && (need > a->limit || a->used > a->limit - need))
        return NULL;

    struct arena_block *b = a->head;
    if (b->size - b->used < need) {
        size_t bsize = b->size * 2;
        if (bsize < need)
            bsize = need;
        if (bsize > 4u * 1024 * 1024 && need < bsize)
            bsize = need > ARENA_BLOCK_MIN ? need : ARENA_BLOCK_MIN;
        struct arena_block *nb = block_new(bsize);
        if (!nb)
            return NULL;
        nb->next = b;
        a->head = nb;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->used += need;
    return p;
}

void *arena_zalloc(struct arena *a, size_t size)
{
    void *p = arena_alloc(a, size);
    if (p)
        memset(p, 0, size);
    return p;
}

void *arena_calloc(struct arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return arena_zalloc(a, n * size);
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *p = arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    int m = vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return m == n ? p : NULL;
}

int arena_defer(struct arena *a, void (*fn)(void *), void *ptr)
{
    struct arena_cleanup *c = arena_alloc(a, sizeof(*c));
    if (!c) {
        fn(ptr);
        return KR_ERR_NOMEM;
    }
    c->fn = fn;
    c->ptr = ptr;
    c->next = a->cleanups;
    a->cleanups = c;
    return KR_OK;
}

size_t arena_used(const struct arena *a)
{
    return a->used;
}
