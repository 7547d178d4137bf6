/* Internal declarations shared by the native sources; not part of the ABI. */
#ifndef EPHEMERA_INTERNAL_H
#define EPHEMERA_INTERNAL_H

#include "ephemera.h"

#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>

struct AVBufferRef;

/* Monotonic clock in nanoseconds (same clock as .NET's Stopwatch on Linux). */
int64_t eph_now_ns(void);

/* Sets the calling thread's eph_last_error() text. */
void eph_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ledger bookkeeping (all thread-safe). */
void eph_ledger_on_allocated(void);
void eph_ledger_on_wiped(int64_t lifetime_ns);
/* A pool block was wiped: records its lifetime and its decoder-held time, lifetime_ns - engine_ns
 * clamped at 0 (engine_ns: the engine-held time attributed to it by eph_pool_add_engine_ns). */
void eph_ledger_on_block_wiped(int64_t lifetime_ns, int64_t engine_ns);
/* The engine's last reference to a delivered frame went, held_ns after its delivery. */
void eph_ledger_on_engine_released(int64_t held_ns);
void eph_ledger_on_wiped_untimed(void); /* counted as wiped, no lifetime sample (reused scratch) */
void eph_ledger_on_dropped_for_pool(void);
void eph_ledger_on_leaked(void);
void eph_ledger_on_reserved(int64_t delta_bytes);

/* Zeroes memory in a way the compiler may not elide. */
void eph_wipe(void *data, size_t size);

/* Scans the live pixbufs for `pattern` (called by eph_pool_scan). */
int64_t eph_pixbuf_scan(const uint8_t *pattern, size_t len);
int64_t eph_count_pattern(const uint8_t *data, size_t size, const uint8_t *pattern, size_t len);

/* A bounded pool of fixed-size pixel blocks, one per source. Reference-counted: the source holds
 * one reference and every block out on loan holds one, so frames outlive their source. */
typedef struct eph_pool eph_pool;

eph_pool *eph_pool_create(int cap_blocks);
/* Drops the source's reference; the pool is freed once every loaned block came back. */
void eph_pool_close(eph_pool *pool);
/* Loans a block of exactly `size` bytes wrapped in an AVBufferRef whose free callback wipes the
 * block and returns it. NULL when the pool is at its cap (the caller drops the frame) or on ENOMEM. */
struct AVBufferRef *eph_pool_get(eph_pool *pool, size_t size);
/* Adds `engine_ns` of engine-held time to the block `opaque` names (av_buffer_get_opaque of a
 * frame's buffer), for its decoder-held time when it is wiped. `opaque` is only compared against
 * the blocks of every live pool, never dereferenced: a foreign allocator's or a hardware frame's
 * opaque is ignored. Returns 1 when it was one of ours, else 0. Thread-safe. */
int eph_pool_add_engine_ns(const void *opaque, int64_t engine_ns);

#endif
