/* Process-wide pixel ledger, generic pixel buffers, error text and small utilities. */
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t eph_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void eph_wipe(void *data, size_t size)
{
    if (data && size) explicit_bzero(data, size); /* unlike memset, never optimised away */
}

/* ---- last error (thread-local) ---- */

static _Thread_local char t_last_error[1024];

void eph_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_last_error, sizeof t_last_error, fmt, ap);
    va_end(ap);
}

EPH_API const char *eph_last_error(void) { return t_last_error; }

EPH_API const char *eph_version(void) { return "0.1.0"; }

/* Kept out of line and distinct (the empty asm) so a profiler always sees the call. */
EPH_API __attribute__((noinline)) void eph_profile_mark(const char *phase) { __asm__ volatile("" ::"r"(phase) : "memory"); }

/* ---- ledger ---- */

/* One mutex: updates are a handful per frame, and a snapshot must be consistent (allocated,
 * wiped and in_use read together). */
static pthread_mutex_t s_ledger_mu = PTHREAD_MUTEX_INITIALIZER;
static eph_ledger s_ledger;

/* Bucket i holds lifetimes in [2^(i/4), 2^((i+1)/4)) µs; below 1 µs goes to bucket 0. */
static int lifetime_bucket(int64_t lifetime_us)
{
    if (lifetime_us < 1) return 0;
    int b = (int)(4.0 * log2((double)lifetime_us));
    if (b < 0) b = 0;
    if (b >= EPH_LIFETIME_BUCKETS) b = EPH_LIFETIME_BUCKETS - 1;
    return b;
}

void eph_ledger_on_allocated(void)
{
    pthread_mutex_lock(&s_ledger_mu);
    s_ledger.allocated++;
    s_ledger.in_use++;
    if (s_ledger.in_use > s_ledger.peak) s_ledger.peak = s_ledger.in_use;
    pthread_mutex_unlock(&s_ledger_mu);
}

/* Adds one interval to a histogram and its maximum and count (s_ledger_mu held). */
static void record_interval(int64_t *hist, int64_t *max_us, int64_t *count, int64_t us)
{
    hist[lifetime_bucket(us)]++;
    (*count)++;
    if (us > *max_us) *max_us = us;
}

void eph_ledger_on_wiped(int64_t lifetime_ns)
{
    int64_t us = lifetime_ns / 1000;
    pthread_mutex_lock(&s_ledger_mu);
    s_ledger.wiped++;
    s_ledger.in_use--;
    record_interval(s_ledger.lifetime_hist, &s_ledger.lifetime_max_us, &s_ledger.lifetime_count, us);
    pthread_mutex_unlock(&s_ledger_mu);
}

void eph_ledger_on_block_wiped(int64_t lifetime_ns, int64_t engine_ns)
{
    int64_t us = lifetime_ns / 1000;
    int64_t decoder_ns = lifetime_ns - engine_ns;
    if (decoder_ns < 0) decoder_ns = 0; /* two frames sharing one block, or clock granularity */
    pthread_mutex_lock(&s_ledger_mu);
    s_ledger.wiped++;
    s_ledger.in_use--;
    record_interval(s_ledger.lifetime_hist, &s_ledger.lifetime_max_us, &s_ledger.lifetime_count, us);
    record_interval(s_ledger.decoder_held_hist, &s_ledger.decoder_held_max_us, &s_ledger.decoder_held_count,
                    decoder_ns / 1000);
    pthread_mutex_unlock(&s_ledger_mu);
}

void eph_ledger_on_engine_released(int64_t held_ns)
{
    if (held_ns < 0) held_ns = 0;
    pthread_mutex_lock(&s_ledger_mu);
    record_interval(s_ledger.engine_held_hist, &s_ledger.engine_held_max_us, &s_ledger.engine_held_count,
                    held_ns / 1000);
    pthread_mutex_unlock(&s_ledger_mu);
}

void eph_ledger_on_wiped_untimed(void)
{
    pthread_mutex_lock(&s_ledger_mu);
    s_ledger.wiped++;
    s_ledger.in_use--;
    pthread_mutex_unlock(&s_ledger_mu);
}

EPH_API void eph_ledger_count_external_allocated(void) { eph_ledger_on_allocated(); }

EPH_API void eph_ledger_count_external_wiped(int64_t lifetime_ns) { eph_ledger_on_wiped(lifetime_ns < 0 ? 0 : lifetime_ns); }

void eph_ledger_on_dropped_for_pool(void)
{
    pthread_mutex_lock(&s_ledger_mu);
    s_ledger.dropped_for_pool++;
    pthread_mutex_unlock(&s_ledger_mu);
}

void eph_ledger_on_leaked(void)
{
    pthread_mutex_lock(&s_ledger_mu);
    s_ledger.leaked++;
    pthread_mutex_unlock(&s_ledger_mu);
}

void eph_ledger_on_reserved(int64_t delta_bytes)
{
    pthread_mutex_lock(&s_ledger_mu);
    s_ledger.bytes_reserved += delta_bytes;
    pthread_mutex_unlock(&s_ledger_mu);
}

EPH_API int eph_ledger_snapshot(eph_ledger *out_ledger)
{
    if (!out_ledger) { eph_set_error("eph_ledger_snapshot: out_ledger is NULL"); return EPH_ERR_INVALID_ARG; }
    pthread_mutex_lock(&s_ledger_mu);
    *out_ledger = s_ledger;
    pthread_mutex_unlock(&s_ledger_mu);
    return EPH_OK;
}

EPH_API void eph_ledger_reset_lifetimes(void)
{
    pthread_mutex_lock(&s_ledger_mu);
    memset(s_ledger.lifetime_hist, 0, sizeof s_ledger.lifetime_hist);
    s_ledger.lifetime_count = 0;
    s_ledger.lifetime_max_us = 0;
    memset(s_ledger.engine_held_hist, 0, sizeof s_ledger.engine_held_hist);
    s_ledger.engine_held_count = 0;
    s_ledger.engine_held_max_us = 0;
    memset(s_ledger.decoder_held_hist, 0, sizeof s_ledger.decoder_held_hist);
    s_ledger.decoder_held_count = 0;
    s_ledger.decoder_held_max_us = 0;
    pthread_mutex_unlock(&s_ledger_mu);
}

int64_t eph_count_pattern(const uint8_t *data, size_t size, const uint8_t *pattern, size_t len)
{
    int64_t hits = 0;
    if (size < len) return 0;
    const uint8_t *end = data + size - len + 1;
    const uint8_t *p = data;
    while (p < end) {
        p = memchr(p, pattern[0], (size_t)(end - p));
        if (!p) break;
        if (memcmp(p, pattern, len) == 0) hits++;
        p++;
    }
    return hits;
}

/* ---- generic pixel buffers ---- */

struct eph_pixbuf {
    uint8_t *data;
    size_t size;        /* bytes the caller asked for */
    size_t reserved;    /* bytes actually allocated (rounded up to 64) */
    int64_t allocated_ns;
    int reused;         /* scratch wiped after every use: its allocation lifetime is not a pixel lifetime */
    struct eph_pixbuf *prev, *next; /* live list, for eph_pool_scan */
};

static pthread_mutex_t s_pixbuf_mu = PTHREAD_MUTEX_INITIALIZER;
static eph_pixbuf *s_pixbuf_live;

EPH_API eph_pixbuf *eph_pixbuf_alloc(size_t bytes)
{
    if (bytes == 0) { eph_set_error("eph_pixbuf_alloc: size 0"); return NULL; }
    eph_pixbuf *b = calloc(1, sizeof *b);
    size_t reserved = (bytes + 63) & ~(size_t)63;
    uint8_t *data = b ? aligned_alloc(64, reserved) : NULL;
    if (!data) {
        free(b);
        eph_set_error("eph_pixbuf_alloc: out of memory for %zu bytes", bytes);
        return NULL;
    }
    memset(data, 0, reserved);
    b->data = data; b->size = bytes; b->reserved = reserved;
    b->allocated_ns = eph_now_ns();
    pthread_mutex_lock(&s_pixbuf_mu);
    b->next = s_pixbuf_live;
    if (s_pixbuf_live) s_pixbuf_live->prev = b;
    s_pixbuf_live = b;
    pthread_mutex_unlock(&s_pixbuf_mu);
    eph_ledger_on_reserved((int64_t)reserved);
    eph_ledger_on_allocated();
    return b;
}

EPH_API uint8_t *eph_pixbuf_data(eph_pixbuf *buffer) { return buffer ? buffer->data : NULL; }
EPH_API size_t eph_pixbuf_size(const eph_pixbuf *buffer) { return buffer ? buffer->size : 0; }

EPH_API void eph_pixbuf_set_reused(eph_pixbuf *buffer)
{
    if (buffer) buffer->reused = 1;
}

EPH_API void eph_pixbuf_free(eph_pixbuf *buffer)
{
    if (!buffer) return;
    pthread_mutex_lock(&s_pixbuf_mu);
    if (buffer->prev) buffer->prev->next = buffer->next; else s_pixbuf_live = buffer->next;
    if (buffer->next) buffer->next->prev = buffer->prev;
    pthread_mutex_unlock(&s_pixbuf_mu);
    eph_wipe(buffer->data, buffer->reserved);
    /* Lifetime histogram only: pixbufs never pass through a decoder, and they are kept out of the
     * engine-held / decoder-held split, which describes pool blocks (decoded pictures) alone. */
    if (buffer->reused) eph_ledger_on_wiped_untimed();
    else eph_ledger_on_wiped(eph_now_ns() - buffer->allocated_ns);
    eph_ledger_on_reserved(-(int64_t)buffer->reserved);
    free(buffer->data);
    free(buffer);
}

int64_t eph_pixbuf_scan(const uint8_t *pattern, size_t len)
{
    int64_t hits = 0;
    pthread_mutex_lock(&s_pixbuf_mu);
    for (eph_pixbuf *b = s_pixbuf_live; b; b = b->next) hits += eph_count_pattern(b->data, b->reserved, pattern, len);
    pthread_mutex_unlock(&s_pixbuf_mu);
    return hits;
}
