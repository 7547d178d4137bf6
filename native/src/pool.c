/* Bounded pools of fixed-size pixel blocks. Every block is zeroed when its last reference goes,
 * before it is reused or freed; a pool at its cap answers "no block" instead of growing. */
#include "internal.h"

#include <libavutil/buffer.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct eph_block {
    struct eph_block *next_free;  /* free list link (NULL while loaned) */
    struct eph_block *next_all;   /* every block the pool owns          */
    eph_pool *pool;
    uint8_t *data;
    size_t size;
    int64_t loaned_ns;            /* when the block was handed to a producer, for the lifetime histogram */
    int64_t engine_ns;            /* engine-held time of the frames it carried this loan (pool->mu) */
} eph_block;

struct eph_pool {
    pthread_mutex_t mu;
    int cap;            /* most blocks the pool may own */
    int owned;          /* blocks allocated from the system */
    int refs;           /* 1 for the source while open + 1 per loaned block */
    int closed;         /* the source let go: free blocks go back to the system at once */
    eph_block *free_list;
    eph_block *all;
    eph_pool *prev_pool, *next_pool; /* global list, for eph_pool_scan */
};

static pthread_mutex_t s_pools_mu = PTHREAD_MUTEX_INITIALIZER;
static eph_pool *s_pools;

static void block_free_to_system(eph_block *b)
{
    eph_wipe(b->data, b->size); /* already zero; a second pass costs little and guards every path */
    eph_ledger_on_reserved(-(int64_t)b->size);
    free(b->data);
    free(b);
}

eph_pool *eph_pool_create(int cap_blocks)
{
    eph_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    p->cap = cap_blocks;
    p->refs = 1;
    pthread_mutex_lock(&s_pools_mu);
    p->next_pool = s_pools;
    if (s_pools) s_pools->prev_pool = p;
    s_pools = p;
    pthread_mutex_unlock(&s_pools_mu);
    return p;
}

/* Called with p->mu NOT held, once refs reached 0. */
static void pool_destroy(eph_pool *p)
{
    pthread_mutex_lock(&s_pools_mu);
    if (p->prev_pool) p->prev_pool->next_pool = p->next_pool; else s_pools = p->next_pool;
    if (p->next_pool) p->next_pool->prev_pool = p->prev_pool;
    pthread_mutex_unlock(&s_pools_mu);
    eph_block *b = p->all;
    while (b) { eph_block *n = b->next_all; block_free_to_system(b); b = n; }
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Removes `victim` from p->all (p->mu held). */
static void unlink_all(eph_pool *p, eph_block *victim)
{
    for (eph_block **link = &p->all; *link; link = &(*link)->next_all)
        if (*link == victim) { *link = victim->next_all; return; }
}

void eph_pool_close(eph_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->closed = 1;
    /* Free blocks are not needed any more: give them back now rather than when the last frame goes. */
    eph_block *b = p->free_list;
    p->free_list = NULL;
    while (b) {
        eph_block *n = b->next_free;
        unlink_all(p, b);
        p->owned--;
        block_free_to_system(b);
        b = n;
    }
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    if (last) pool_destroy(p);
}

/* AVBuffer free callback: the last reference to a loaned block just went. Wipe, then return. */
static void block_release(void *opaque, uint8_t *data)
{
    eph_block *b = opaque;
    eph_pool *p = b->pool;
    eph_wipe(b->data, b->size);
    pthread_mutex_lock(&p->mu);
    int64_t engine_ns = b->engine_ns;
    b->engine_ns = 0;
    pthread_mutex_unlock(&p->mu);
    eph_ledger_on_block_wiped(eph_now_ns() - b->loaned_ns, engine_ns);
    pthread_mutex_lock(&p->mu);
    if (p->closed) {
        unlink_all(p, b);
        p->owned--;
        block_free_to_system(b);
    } else {
        b->next_free = p->free_list;
        p->free_list = b;
    }
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    if (last) pool_destroy(p);
}

AVBufferRef *eph_pool_get(eph_pool *p, size_t size)
{
    eph_block *b = NULL;
    pthread_mutex_lock(&p->mu);
    /* 1. a free block of exactly this size */
    for (eph_block **link = &p->free_list; *link; link = &(*link)->next_free) {
        if ((*link)->size == size) { b = *link; *link = b->next_free; break; }
    }
    if (!b) {
        /* 2. at the cap, a free block of another size (the stream changed resolution) makes room */
        if (p->owned >= p->cap && p->free_list) {
            eph_block *stale = p->free_list;
            p->free_list = stale->next_free;
            unlink_all(p, stale);
            p->owned--;
            block_free_to_system(stale);
        }
        /* 3. a new block, below the cap only */
        if (p->owned < p->cap) {
            b = calloc(1, sizeof *b);
            uint8_t *data = b ? aligned_alloc(64, (size + 63) & ~(size_t)63) : NULL;
            if (!data) { free(b); b = NULL; }
            else {
                memset(data, 0, size);
                b->data = data; b->size = size; b->pool = p;
                b->next_all = p->all; p->all = b;
                p->owned++;
                eph_ledger_on_reserved((int64_t)size);
            }
        }
    }
    if (b) { b->next_free = NULL; p->refs++; }
    pthread_mutex_unlock(&p->mu);
    if (!b) return NULL; /* at the cap: the caller drops the frame and counts it */

    b->loaned_ns = eph_now_ns();
    AVBufferRef *ref = av_buffer_create(b->data, (size_t)size, block_release, b, 0);
    if (!ref) { /* put it back untouched (it is still zero) */
        pthread_mutex_lock(&p->mu);
        b->next_free = p->free_list; p->free_list = b; p->refs--;
        pthread_mutex_unlock(&p->mu);
        return NULL;
    }
    eph_ledger_on_allocated();
    return ref;
}

int eph_pool_add_engine_ns(const void *opaque, int64_t engine_ns)
{
    if (!opaque) return 0;
    int found = 0;
    pthread_mutex_lock(&s_pools_mu);
    for (eph_pool *p = s_pools; p && !found; p = p->next_pool) {
        pthread_mutex_lock(&p->mu);
        for (eph_block *b = p->all; b; b = b->next_all) {
            if ((const void *)b == opaque) { b->engine_ns += engine_ns; found = 1; break; }
        }
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&s_pools_mu);
    return found;
}

EPH_API int64_t eph_pool_scan(const uint8_t *pattern, size_t len)
{
    if (!pattern || len == 0) { eph_set_error("eph_pool_scan: empty pattern"); return EPH_ERR_INVALID_ARG; }
    int64_t hits = 0;
    pthread_mutex_lock(&s_pools_mu);
    for (eph_pool *p = s_pools; p; p = p->next_pool) {
        pthread_mutex_lock(&p->mu);
        for (eph_block *b = p->all; b; b = b->next_all) hits += eph_count_pattern(b->data, b->size, pattern, len);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&s_pools_mu);
    return hits + eph_pixbuf_scan(pattern, len);
}
