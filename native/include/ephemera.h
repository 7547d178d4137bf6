/*
 * ephemera.h — the flat C ABI of Ephemera's native core.
 *
 * What it does: opens a video source (file, rtsp://, http(s)://) with FFmpeg, decodes it into
 * pixel memory that this library owns (a bounded pool of fixed-size blocks), hands frames out
 * without copying, and zeroes every block the moment its last reference is released. A global
 * ledger counts every pixel block from allocation to wipe.
 *
 * Threading contract:
 *   - One eph_source is used by one thread at a time (open/read/close are not re-entrant per source).
 *     Different sources may be used from different threads concurrently.
 *   - eph_frame_addref / eph_frame_release / eph_frame_release_leaked may be called from any thread.
 *   - eph_pixbuf_*, eph_ledger_*, eph_pool_scan may be called from any thread.
 *   - eph_last_error() is thread-local: it describes the last failure on the calling thread.
 *
 * Ownership in plain words:
 *   - eph_source_open gives you a source; you must eph_source_close it exactly once.
 *   - eph_source_read gives you a frame holding ONE reference; every reference (the first one and
 *     each eph_frame_addref) must be given back with eph_frame_release exactly once. Frames stay
 *     valid after their source is closed: the pool lives until its last block comes home.
 *   - Plane pointers in eph_frame_info are valid while you hold a reference to that frame, and not
 *     one instant longer: the last release wipes the memory.
 */
#ifndef EPHEMERA_H
#define EPHEMERA_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  define EPH_API __declspec(dllexport)
#else
#  define EPH_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Status codes. Non-negative values are outcomes, negative values are failures.               */
/* ------------------------------------------------------------------------------------------ */
typedef enum eph_status {
    EPH_OK             = 0,  /* a frame was delivered / the call succeeded                          */
    EPH_EOF            = 1,  /* end of a non-looping file, or of an http(s) file of known duration;
                                not an error. RTSP and endless HTTP streams never end: a drop there is
                                EPH_RECONNECTING                                                     */
    EPH_AGAIN          = 2,  /* the input had nothing ready; call again, not an error               */
    EPH_RECONNECTING   = 3,  /* network source dropped; the engine is reconnecting (a gap, not an error) */
    EPH_POOL_EXHAUSTED = 4,  /* the pixel pool was at its cap: one frame was dropped and counted     */
    EPH_SKIPPED        = 5,  /* eph_source_read_wanted: one frame nobody wants was never decoded (its
                                packet was wiped unread); one result per source frame, like EPH_OK     */
    EPH_ERR_INVALID_ARG = -1, /* a NULL or out-of-range argument                                    */
    EPH_ERR_OPEN       = -2, /* the source could not be opened / has no decodable video stream       */
    EPH_ERR_DECODE     = -3, /* the stream could not be decoded (corrupt data)                       */
    EPH_ERR_NOMEM      = -4, /* the system (not the pool) ran out of memory                          */
    EPH_ERR_GAVE_UP    = -5, /* a network source exceeded reconnect_max_attempts                     */
    EPH_ERR_TOO_SMALL  = -6, /* an output buffer was too small; the size needed is reported          */
} eph_status;

/* Pixel layouts handed out. Same numbering as Ephemera.Core.PixelFormat. */
typedef enum eph_pixel_format {
    EPH_PIX_UNKNOWN = 0,
    EPH_PIX_YUV420P = 1, /* 8-bit planar Y, U, V; chroma half width, half height */
    EPH_PIX_NV12    = 2, /* 8-bit Y plane, interleaved UV plane at half height    */
    EPH_PIX_BGR24   = 3, /* 8-bit packed B, G, R                                  */
    EPH_PIX_GRAY8   = 4, /* 8-bit single plane                                    */
} eph_pixel_format;

typedef enum eph_hw_decode {
    EPH_HW_AUTO  = 0, /* try CUDA then VA-API; fall back to software with one log line */
    EPH_HW_NONE  = 1, /* software decode only                                          */
    EPH_HW_CUDA  = 2, /* CUDA (NVDEC) or software when no device (one log line)        */
    EPH_HW_VAAPI = 3, /* VA-API or software when no device (one log line)              */
} eph_hw_decode;

typedef enum eph_rtsp_transport {
    EPH_RTSP_TCP = 0, /* interleaved over the RTSP TCP connection (default; survives NAT, no loss) */
    EPH_RTSP_UDP = 1, /* RTP over UDP                                                            */
} eph_rtsp_transport;

/* Which decoded pictures skip the in-loop deblocking filter (H.264/HEVC; other codecs ignore it).
 * Deblocking smooths block edges; skipping it saves ~15% of H.264 decode CPU at 1080p (~10% on B-pictures only). Skipped on
 * reference pictures the difference carries into the pictures predicted from them until the next
 * keyframe, so only a measured parity (detection recall and precision) justifies it. */
typedef enum eph_loop_filter {
    EPH_LOOP_FILTER_FULL      = 0, /* deblock every picture (FFmpeg's default)                       */
    EPH_LOOP_FILTER_SKIP_NONREF = 1, /* skip it on pictures no other picture references            */
    EPH_LOOP_FILTER_SKIP_ALL  = 2, /* skip it everywhere (AVDISCARD_ALL)                             */
    EPH_LOOP_FILTER_SKIP_BIDIR = 3, /* skip it on B-pictures (AVDISCARD_BIDIR); I and P keep it      */
} eph_loop_filter;

typedef enum eph_log_level { EPH_LOG_INFO = 0, EPH_LOG_WARN = 1, EPH_LOG_ERROR = 2 } eph_log_level;

/* Log sink. Called on the thread that uses the source; `message` is valid only during the call. */
typedef void (*eph_log_callback)(int level, const char *message, void *user_data);

/* Opaque objects. */
typedef struct eph_source eph_source; /* one opened video source with its decoder and pixel pool */
typedef struct eph_frame  eph_frame;  /* one reference-counted decoded picture in pool memory    */
typedef struct eph_pixbuf eph_pixbuf; /* one generic 64-byte-aligned pixel buffer (crops, tensors) */

/* Source parameters. Start from eph_source_default_params() and change what you need. */
typedef struct eph_source_params {
    int hw_decode;              /* eph_hw_decode. Default EPH_HW_AUTO.                                  */
    int rtsp_transport;         /* eph_rtsp_transport. Default EPH_RTSP_TCP.                            */
    int pool_buffers;           /* cap on pixel blocks this source may hold (decoder references and
                                   frames you hold, together). At the cap a frame is dropped and
                                   EPH_POOL_EXHAUSTED returned; the pool never grows. Default 32.
                                   Must be >= 4.                                                       */
    int decoder_threads;        /* FFmpeg decoder threads; 0 = one per core, at most 8 (each frame thread
                                   holds a pool block: raise pool_buffers with the thread count). Default 0. */
    int reconnect_initial_ms;   /* first back-off after a network source drops, ms. Default 500.        */
    int reconnect_max_ms;       /* back-off doubles up to this cap, ms. Default 10000.                  */
    int reconnect_max_attempts; /* failed reconnects before EPH_ERR_GAVE_UP; -1 = forever. Default -1.   */
    int read_timeout_ms;        /* a blocking network read/open is interrupted after this, ms. Default 5000. */
    int loop;                   /* files (local, or http(s) with a known duration): 1 = restart at the end
                                   (index keeps counting). Default 0.                                  */
    int paced;                  /* 1 = deliver at the stream's native frame rate (stand-in for a live
                                   camera); 0 = as fast as decode allows. Default 0.                  */
    eph_log_callback log_callback; /* state changes (fallback to software, connection lost, reconnected).
                                      NULL = write them to stderr. Default NULL.                        */
    void *log_user_data;        /* passed back to log_callback untouched. Default NULL.                 */
    int loop_filter;            /* eph_loop_filter. Default EPH_LOOP_FILTER_FULL.                       */
    int fast_decode;            /* 1 = AV_CODEC_FLAG2_FAST (speed-ups that are not bit-exact). Default 0. */
    int thread_type;            /* 0 = frame and slice threads (FFmpeg picks), 1 = frame only, 2 = slice only. Default 0. */
} eph_source_params;

/* Everything a consumer needs about one delivered frame. Filled by eph_source_read. */
typedef struct eph_frame_info {
    const uint8_t *data[3];   /* plane pointers (unused planes NULL); valid while the frame is held   */
    int32_t linesize[3];      /* bytes per row of each plane                                          */
    int64_t plane_bytes[3];   /* linesize * rows of each plane (chroma rows = (height+1)/2)           */
    int32_t width;            /* pixels                                                               */
    int32_t height;           /* pixels                                                               */
    int32_t format;           /* eph_pixel_format                                                     */
    int32_t full_range;       /* 1 = full-range (JPEG, yuvj*) samples, 0 = limited (16..235)          */
    int64_t pts;              /* presentation timestamp in stream time-base units (AV_NOPTS_VALUE if unknown) */
    double  time_s;           /* pts in seconds from stream start (frame index / fps when pts unknown) */
    int64_t index;            /* frame number in presentation order (from 0; keeps counting across loops
                                 and reconnects): frames delivered or skipped before this one, so a
                                 picture has the same index whether or not others were skipped.
                                 For EPH_SKIPPED: the skipped frame's number (no planes).              */
    int64_t decoded_ns;       /* CLOCK_MONOTONIC nanoseconds when decoding of this frame completed    */
} eph_frame_info;

/* Static facts about an opened source. */
typedef struct eph_source_info {
    int32_t width;
    int32_t height;
    double  frame_rate;       /* frames per second as the container states it (0 if unknown)          */
    char    codec_name[32];   /* FFmpeg decoder name, e.g. "h264"                                     */
    int32_t hw_active;        /* 1 when a hardware device is decoding                                 */
    int64_t frames_delivered; /* frames returned with EPH_OK so far                                   */
    int64_t frames_dropped_for_pool; /* frames dropped because this source's pool was at its cap       */
    int64_t frames_skipped;   /* frames never decoded because the caller did not want them (EPH_SKIPPED);
                                 they never held pixels, so the ledger does not count them             */
    int64_t frames_expected;  /* frames the container announces (stream frame count, else duration × rate);
                                 0 when unknown (live streams); a file that ends well short is truncated */
    int64_t loops;            /* times a looping file was rewound                                     */
    int64_t short_pass_frames;/* with loop = 1: frames of the first pass that ended well short of
                                 frames_expected (a truncated file repeating its fragment); 0 = none   */
} eph_source_info;

/* Process-wide pixel ledger. Counts both pool blocks (decoded pictures) and eph_pixbuf buffers. */
#define EPH_LIFETIME_BUCKETS 96 /* 4 per octave from 1 µs: bucket i holds lifetimes < 2^((i+1)/4) µs; the last one is open-ended */
typedef struct eph_ledger {
    int64_t allocated;        /* blocks handed to a producer (decoder, converter, eph_pixbuf_alloc)  */
    int64_t wiped;            /* blocks zeroed after their last release                               */
    int64_t in_use;           /* allocated - wiped: blocks currently holding pixels                   */
    int64_t peak;             /* highest in_use seen                                                  */
    int64_t leaked;           /* frames released by a finalizer instead of their owner (still wiped)  */
    int64_t dropped_for_pool; /* frames dropped because a pool was at its cap (all sources)           */
    int64_t bytes_reserved;   /* bytes of native memory currently reserved by pools and pixbufs       */
    int64_t lifetime_max_us;  /* longest allocation → wipe interval, µs                               */
    int64_t lifetime_count;   /* number of lifetimes recorded in the histogram                       */
    int64_t lifetime_hist[EPH_LIFETIME_BUCKETS];
    /* The pool blocks' lifetimes split in two (eph_pixbuf lifetimes are in neither histogram):      */
    int64_t engine_held_max_us;  /* longest delivery (decoded_ns) → engine's last eph_frame_release, µs */
    int64_t engine_held_count;   /* number of engine-held intervals recorded (one per delivered frame) */
    int64_t engine_held_hist[EPH_LIFETIME_BUCKETS];
    int64_t decoder_held_max_us; /* longest block lifetime minus its engine-held time (>= 0), µs       */
    int64_t decoder_held_count;  /* number of decoder-held intervals recorded (one per wiped pool block) */
    int64_t decoder_held_hist[EPH_LIFETIME_BUCKETS];
} eph_ledger;

/* ------------------------------------------------------------------------------------------ */
/* Sources                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Defaults as documented on each field. Never fails. */
EPH_API eph_source_params eph_source_default_params(void);

/* Opens `uri` (a file path, rtsp://, http://, https://) and its decoder.
 * Returns EPH_OK and sets *out_source, or EPH_ERR_INVALID_ARG / EPH_ERR_OPEN / EPH_ERR_NOMEM with
 * *out_source = NULL and eph_last_error() naming the source and the cause. `params` may be NULL
 * (defaults). The caller owns the source and must eph_source_close it. */
EPH_API int eph_source_open(const char *uri, const eph_source_params *params, eph_source **out_source);

/* Fills *out_info. Returns EPH_OK or EPH_ERR_INVALID_ARG. */
EPH_API int eph_source_get_info(const eph_source *source, eph_source_info *out_info);

/* Decodes until the next frame.
 * EPH_OK: *out_frame holds one reference (release it) and *out_info describes it.
 * EPH_EOF: the file ended (never with loop = 1, never for RTSP or HTTP streams without a duration).
 * EPH_AGAIN: the demuxer had nothing ready (non-blocking inputs); call again. A network read that
 *   stalls past read_timeout_ms is treated as a drop (EPH_RECONNECTING), not as EPH_AGAIN.
 * EPH_RECONNECTING: a network source dropped (reported once, after the frames decoded before the
 *   drop were delivered) or a reconnect attempt failed (the call slept for the current back-off
 *   first). Call again; frames resume after a successful reconnect, with the index counting on.
 * EPH_POOL_EXHAUSTED: the pool was at its cap; one frame was dropped and counted. Release frames
 *   you hold and call again.
 * Negative: a failure; eph_last_error() names the source and the cause. The source stays valid
 *   for eph_source_close only.
 * *out_frame is NULL for every status but EPH_OK. */
EPH_API int eph_source_read(eph_source *source, eph_frame **out_frame, eph_frame_info *out_info);

/* Like eph_source_read, and lets frames nobody wants go undecoded.
 * The caller wants the frames with index want_from, want_from + want_every, want_from + 2*want_every, …
 * (want_every <= 1: every frame from want_from on) and none before want_from. When the next packet is a
 * disposable picture (nothing else is predicted from it: H.264 nal_ref_idc == 0, or a demuxer's
 * AV_PKT_FLAG_DISPOSABLE) whose index is not wanted, it never reaches the decoder: it is wiped and
 * released, counted in frames_skipped, and the call returns EPH_SKIPPED with *out_frame NULL and
 * out_info->index naming the skipped frame. Reference pictures are always decoded, so every frame
 * delivered is bit-exact with a full decode, and a wanted frame is never skipped. Frames decoded
 * anyway (references) are delivered with EPH_OK as usual; release the ones you do not need.
 * Why a schedule and not a "next frame unwanted" flag: the decoder reads ahead (B-frame reordering,
 * frame threads), so the packet fed now is usually a few frames ahead of the one delivered now; only
 * a rule about upcoming indexes lets it decide. Pass the rule you will keep to: a frame below
 * want_from, or off the stride, may already be gone when you change your mind.
 * Skipping needs each packet to carry its own presentation timestamp (to number the picture before
 * decoding it: MP4, MKV, TS, RTSP do; raw .h264 and AVI with B-frames do not) and a codec whose
 * bitstream says what is disposable (H.264; HEVC sub-layer non-reference pictures in the highest
 * temporal sub-layer); otherwise nothing is skipped. want_from = INT64_MIN behaves exactly as
 * eph_source_read. Paced sources pace EPH_SKIPPED like frames (one result per frame interval). */
EPH_API int eph_source_read_wanted(eph_source *source, eph_frame **out_frame, eph_frame_info *out_info,
                                   int64_t want_from, int64_t want_every);

/* Seeks a file source to the keyframe at or before `time_s` seconds from the stream's start (clamped
 * to 0), so no frame is decoded to get there; for a bench camera that should not play the clip in
 * lockstep with the others. The decoder is flushed; frames then number as in a full decode (the
 * first one's index is its pts × frame rate), so want_from/want_every and skipping work as before,
 * and a looping file numbers on from the clip's end. Call it before reading, or between reads
 * (frames you hold stay valid). Returns EPH_OK; EPH_ERR_INVALID_ARG for a NULL source, a network
 * source or a non-finite time; EPH_ERR_DECODE when the container cannot seek (eph_last_error()
 * names the source). */
EPH_API int eph_source_seek(eph_source *source, double time_s);

/* Closes the source: stops the decoder and releases its blocks (each is wiped). Frames you still
 * hold remain valid until released. NULL is ignored. */
EPH_API void eph_source_close(eph_source *source);

/* ------------------------------------------------------------------------------------------ */
/* Frames                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* Adds one reference. Returns `frame` (for chaining) or NULL when frame is NULL. Any thread. */
EPH_API eph_frame *eph_frame_addref(eph_frame *frame);

/* Gives back one reference. The last one returns the pixel blocks to their pool, which zeroes
 * them first. NULL is ignored. Any thread. */
EPH_API void eph_frame_release(eph_frame *frame);

/* Same as eph_frame_release, and counts one leak in the ledger: for a finalizer that found a frame
 * its owner forgot to release. */
EPH_API void eph_frame_release_leaked(eph_frame *frame);

/* ------------------------------------------------------------------------------------------ */
/* Generic pixel buffers (detector input tensors, crops)                                        */
/* ------------------------------------------------------------------------------------------ */

/* Allocates `bytes` (> 0) of 64-byte-aligned native memory, zero-filled, counted in the ledger.
 * Returns NULL (and sets eph_last_error) when bytes == 0 or memory is short. Free with eph_pixbuf_free. */
EPH_API eph_pixbuf *eph_pixbuf_alloc(size_t bytes);

/* The buffer's memory and size. NULL / 0 for NULL. */
EPH_API uint8_t *eph_pixbuf_data(eph_pixbuf *buffer);
EPH_API size_t eph_pixbuf_size(const eph_pixbuf *buffer);

/* Marks a buffer as scratch that its owner wipes after every use (a detector's input tensors):
 * its final free is counted as a wipe but adds no lifetime sample, since the buffer's age is not
 * how long it held pixels. Not thread-safe against a concurrent free of the same buffer. */
EPH_API void eph_pixbuf_set_reused(eph_pixbuf *buffer);

/* Zeroes the memory, frees it and records its lifetime (none for a reused buffer). NULL is ignored. */
EPH_API void eph_pixbuf_free(eph_pixbuf *buffer);

/* ------------------------------------------------------------------------------------------ */
/* Image encoding (anonymised images)                                                           */
/* ------------------------------------------------------------------------------------------ */

/* Encodes one 8-bit YUV420P picture as a baseline JPEG with FFmpeg's mjpeg encoder.
 * Input: planes y (stride_y bytes per row, `height` rows), u and v (stride_c, height/2 rows) of a
 *   width x height picture (both even), read in place: pass a pool block or eph_pixbuf memory, it is
 *   wrapped without a copy and never freed or written. full_range: 1 = JPEG range (yuvj420p),
 *   0 = limited range (written as yuv420p, tagged limited). qscale: 2 (best) .. 31 (smallest).
 * Output: the JPEG bytes into out[0 .. out_capacity); *out_size = its length.
 * Returns EPH_OK; EPH_ERR_TOO_SMALL with *out_size = the bytes needed (call again with a bigger
 *   buffer; out may be NULL when out_capacity is 0); EPH_ERR_INVALID_ARG (NULL plane, odd or
 *   non-positive size, stride too small, qscale out of range); EPH_ERR_OPEN (no mjpeg encoder);
 *   EPH_ERR_DECODE (the encoder failed); EPH_ERR_NOMEM. Failures set eph_last_error().
 * Ownership: the caller keeps the planes and `out`; nothing is retained after the call. The encoder's
 *   internal packet is wiped before it is freed.
 * Threading: any thread; calls are independent (one encoder context per call). */
EPH_API int eph_jpeg_encode(const uint8_t *y, int32_t stride_y, const uint8_t *u, const uint8_t *v, int32_t stride_c,
                            int32_t width, int32_t height, int32_t full_range, int32_t qscale,
                            uint8_t *out, size_t out_capacity, size_t *out_size);

/* ------------------------------------------------------------------------------------------ */
/* Ledger and audit                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* Copies a consistent snapshot of the process-wide ledger. Returns EPH_OK or EPH_ERR_INVALID_ARG. */
EPH_API int eph_ledger_snapshot(eph_ledger *out_ledger);

/* Pixel memory this library does not own: the GPU buffers of the Vulkan compute path (src/Ephemera.Vulkan)
 * that hold pixels. Their owner zeroes them (vkCmdFillBuffer) after each use and reports here, so the
 * ledger counts them like pool blocks: one allocated per loan, one wiped (with its lifetime) per wipe.
 * Not counted in bytes_reserved (device memory). Any thread. */
EPH_API void eph_ledger_count_external_allocated(void);
EPH_API void eph_ledger_count_external_wiped(int64_t lifetime_ns);

/* Clears the lifetime, engine-held and decoder-held histograms, maxima and their counts (the other
 * counters are kept). */
EPH_API void eph_ledger_reset_lifetimes(void);

/* Audit: counts occurrences of `pattern` (len >= 1) in every block that any pool of any open source
 * still holds, free or in use, plus every live eph_pixbuf. A pattern found while no frame is held
 * means a pixel survived its release. Returns the number of hits (>= 0) or EPH_ERR_INVALID_ARG. */
EPH_API int64_t eph_pool_scan(const uint8_t *pattern, size_t len);

/* Text of the last failure on the calling thread ("" when none). Valid until the next call into
 * this library on the same thread. */
EPH_API const char *eph_last_error(void);

/* Library version, e.g. "0.1.0". */
EPH_API const char *eph_version(void);

/* Does nothing, on purpose: a named point between the phases of a profiling run, so that
 * `valgrind --tool=callgrind --dump-before=eph_profile_mark` writes one profile per phase
 * (bench/callgrind). `phase` is a label for the reader of the harness; it is not used. */
EPH_API void eph_profile_mark(const char *phase);

#ifdef __cplusplus
}
#endif
#endif /* EPHEMERA_H */
