/* Video sources: demux with libavformat, decode with libavcodec into pool memory (get_buffer2),
 * convert exotic formats with libswscale into pool memory, reconnect dropped network streams. */
#include "internal.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PLANE_ALIGN 64            /* row and plane alignment of pool frames (AVX-512 safe) */
#define MAX_CONSECUTIVE_ERRORS 64 /* corrupt packets in a row before a source is declared undecodable */
#define REORDER_WINDOW 32         /* packets remembered for numbering frames in presentation order: more
                                     than any H.264/HEVC reorder depth (at most 16 frames) */

typedef enum { STATE_STREAMING, STATE_RECONNECTING, STATE_DRAINING, STATE_DONE } source_state;
enum { NAL_NONE, NAL_H264, NAL_HEVC };

struct eph_source {
    char *uri;
    char name[256];              /* uri without credentials, for messages */
    eph_source_params params;
    int is_network;
    int is_rtsp;
    int has_end;                 /* a file (local, or http(s) of known length): its end is EOF, not a drop */
    int lost_pending;            /* the network read failed: drain the decoder, then reconnect */
    char lost_reason[256];

    AVFormatContext *fmt;
    AVCodecContext *dec;
    int stream_index;
    AVRational time_base;
    AVFrame *frame;              /* decoder output, allocated once */
    AVPacket *pkt;               /* demuxer output, allocated once */
    struct SwsContext *sws;
    eph_pool *pool;
    atomic_int pool_starved;     /* set by get_buffer2 (any decoder thread) when the pool said no */

    int direct_to_pool;          /* the codec decodes through get_buffer2 (AV_CODEC_CAP_DR1) */
    enum AVPixelFormat hw_pix_fmt; /* AV_PIX_FMT_NONE when decoding in software */
    int hw_active;

    source_state state;
    int64_t deadline_ns;         /* blocking I/O past this is interrupted (0 = no deadline) */
    int reconnect_attempts;
    int reconnect_backoff_ms;

    double frame_rate;
    int64_t frames_expected;
    int64_t loops;               /* rewinds of a looping file so far */
    int64_t short_pass_frames;   /* frames of the first pass that ended short of frames_expected (0 = none) */
    int width, height;
    char codec_name[32];
    int64_t delivered;
    int64_t dropped_for_pool;
    int consecutive_errors;
    int64_t pace_start_ns;       /* wall clock of the first paced frame */

    /* Frame numbering that survives skipped packets (see packet_index, frame_index). A pass is one
     * run of the demuxer from its start: a loop rewind or a reconnect begins a new one, and the
     * timestamps restart with it. */
    int nal_codec;               /* NAL_H264, NAL_HEVC, or NAL_NONE: skipping needs the bitstream parsed */
    int nal_length;              /* length-prefix size (1..4) of MP4/MKV packets; 0 = Annex B start codes */
    int hevc_max_tid;            /* HEVC: highest TemporalId (sps_max_sub_layers_minus1); -1 = unknown */
    int64_t skipped;             /* frames never decoded (EPH_SKIPPED), all passes */
    int64_t pass_base;           /* index of this pass's first frame */
    int64_t pass_packets;        /* video packets read this pass */
    int64_t pass_delivered;      /* frames delivered this pass */
    int64_t pass_skipped;        /* packets skipped this pass */
    int64_t pass_skipped_before; /* skipped packets that come before the last delivered frame in presentation order */
    int pass_pts_reordered;      /* a packet's pts was below an earlier one's: the pts are presentation times */
    int pass_pts_unusable;       /* a packet without pts, or with an earlier one's (field pairs): packets
                                    cannot be numbered as pictures, so nothing more is skipped this pass */
    int64_t recent_pts[REORDER_WINDOW];       /* pts of the last packets read (ring indexed by pass_packets) */
    int64_t pending_skip_pts[REORDER_WINDOW]; /* skipped packets no delivered frame has passed yet */
    int pending_skips;
    int pass_base_from_pts;      /* after a seek: this pass's first packet numbers the pass from its pts */
};

struct eph_frame {
    atomic_int refs;
    AVFrame *av;
    int64_t decoded_ns; /* delivery time (eph_frame_info.decoded_ns): the engine-held interval starts here */
};

/* ---------------------------------------------------------------------------------------- */

EPH_API eph_source_params eph_source_default_params(void)
{
    eph_source_params p;
    memset(&p, 0, sizeof p);
    p.hw_decode = EPH_HW_AUTO;
    p.rtsp_transport = EPH_RTSP_TCP;
    p.pool_buffers = 32;
    p.decoder_threads = 0;
    p.reconnect_initial_ms = 500;
    p.reconnect_max_ms = 10000;
    p.reconnect_max_attempts = -1;
    p.read_timeout_ms = 5000;
    p.loop = 0;
    p.paced = 0;
    p.log_callback = NULL;
    p.log_user_data = NULL;
    p.loop_filter = EPH_LOOP_FILTER_FULL;
    p.fast_decode = 0;
    p.thread_type = 0;
    return p;
}

static void source_log(eph_source *s, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void source_log(eph_source *s, int level, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s && s->params.log_callback) s->params.log_callback(level, msg, s->params.log_user_data);
    else fprintf(stderr, "ephemera: %s\n", msg);
}

static const char *av_err(int err, char *buf, size_t n)
{
    av_strerror(err, buf, n);
    return buf;
}

/* "rtsp://user:secret@host/x" → "rtsp://host/x": credentials never reach a log or an exception. */
static void redact_uri(const char *uri, char *out, size_t n)
{
    const char *scheme = strstr(uri, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    if (scheme && at && (!slash || at < slash))
        snprintf(out, n, "%.*s://%s", (int)(scheme - uri), uri, at + 1);
    else
        snprintf(out, n, "%s", uri);
}

static int interrupt_cb(void *opaque)
{
    eph_source *s = opaque;
    return s->deadline_ns != 0 && eph_now_ns() > s->deadline_ns;
}

static void arm_deadline(eph_source *s)
{
    s->deadline_ns = s->params.read_timeout_ms > 0 ? eph_now_ns() + (int64_t)s->params.read_timeout_ms * 1000000LL : 0;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0) return;
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) { }
}

/* ---- pool-backed frames ---------------------------------------------------------------- */

/* Lays out `format` at w×h (already padded by the caller if needed) in one pool block: rows and
 * planes 64-byte aligned. Returns 0, AVERROR(EAGAIN) when the pool is at its cap, or an error. */
static int pool_frame_layout(eph_pool *pool, AVFrame *f, enum AVPixelFormat format, int w, int h)
{
    int linesize[4];
    int ret;
    /* Widen until every plane's row is a multiple of PLANE_ALIGN (the way FFmpeg's default
     * allocator does it), so SIMD code may read whole rows. */
    for (;;) {
        if ((ret = av_image_fill_linesizes(linesize, format, w)) < 0) return ret;
        int unaligned = 0;
        for (int i = 0; i < 4; i++) unaligned |= linesize[i] % PLANE_ALIGN;
        if (!unaligned) break;
        w += w & ~(w - 1);
    }
    ptrdiff_t ls[4] = { linesize[0], linesize[1], linesize[2], linesize[3] };
    size_t sizes[4] = { 0 };
    if ((ret = av_image_fill_plane_sizes(sizes, format, h, ls)) < 0) return ret;
    size_t offsets[4] = { 0 }, total = 0;
    for (int i = 0; i < 4 && sizes[i]; i++) {
        offsets[i] = total;
        /* 16 + PLANE_ALIGN - 1 extra bytes per plane: decoders may over-read/write past the last row. */
        total += (sizes[i] + 16 + PLANE_ALIGN - 1 + PLANE_ALIGN - 1) & ~(size_t)(PLANE_ALIGN - 1);
    }
    AVBufferRef *buf = eph_pool_get(pool, total);
    if (!buf) return AVERROR(EAGAIN);
    f->buf[0] = buf;
    for (int i = 0; i < 4; i++) {
        f->data[i] = sizes[i] ? buf->data + offsets[i] : NULL;
        f->linesize[i] = sizes[i] ? linesize[i] : 0;
    }
    f->extended_data = f->data;
    return 0;
}

static int get_buffer2(AVCodecContext *ctx, AVFrame *f, int flags)
{
    eph_source *s = ctx->opaque;
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(f->format);
    /* Hardware surfaces live in device memory; palette formats need FFmpeg's own layout. */
    if (!desc || (desc->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_PAL)))
        return avcodec_default_get_buffer2(ctx, f, flags);
    int w = f->width, h = f->height;
    int align[AV_NUM_DATA_POINTERS];
    avcodec_align_dimensions2(ctx, &w, &h, align);
    int ret = pool_frame_layout(s->pool, f, f->format, w, h);
    if (ret == AVERROR(EAGAIN)) {
        atomic_store(&s->pool_starved, 1);
        return AVERROR(ENOMEM);
    }
    return ret;
}

/* ---- hardware decode ------------------------------------------------------------------- */

/* Probed once per process and device type, so "no device" is logged once, not per camera. */
static pthread_mutex_t s_hw_mu = PTHREAD_MUTEX_INITIALIZER;
static int s_hw_probed[2];   /* 0 = CUDA, 1 = VA-API */
static int s_hw_present[2];

static enum AVPixelFormat get_hw_format(AVCodecContext *ctx, const enum AVPixelFormat *fmts)
{
    eph_source *s = ctx->opaque;
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == s->hw_pix_fmt) return *p;
    /* The hardware cannot take this stream: first software format. */
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++) {
        const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(*p);
        if (d && !(d->flags & AV_PIX_FMT_FLAG_HWACCEL)) return *p;
    }
    return fmts[0];
}

static void setup_hw(eph_source *s, const AVCodec *codec)
{
    s->hw_pix_fmt = AV_PIX_FMT_NONE;
    if (s->params.hw_decode == EPH_HW_NONE) return;
    enum AVHWDeviceType wanted[2];
    int n = 0;
    if (s->params.hw_decode == EPH_HW_AUTO || s->params.hw_decode == EPH_HW_CUDA) wanted[n++] = AV_HWDEVICE_TYPE_CUDA;
    if (s->params.hw_decode == EPH_HW_AUTO || s->params.hw_decode == EPH_HW_VAAPI) wanted[n++] = AV_HWDEVICE_TYPE_VAAPI;
    for (int i = 0; i < n; i++) {
        int slot = wanted[i] == AV_HWDEVICE_TYPE_CUDA ? 0 : 1;
        enum AVPixelFormat pix = AV_PIX_FMT_NONE;
        for (int k = 0;; k++) {
            const AVCodecHWConfig *cfg = avcodec_get_hw_config(codec, k);
            if (!cfg) break;
            if ((cfg->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) && cfg->device_type == wanted[i]) { pix = cfg->pix_fmt; break; }
        }
        if (pix == AV_PIX_FMT_NONE) continue;
        pthread_mutex_lock(&s_hw_mu);
        int probed = s_hw_probed[slot], present = s_hw_present[slot];
        pthread_mutex_unlock(&s_hw_mu);
        if (probed && !present) continue;
        AVBufferRef *dev = NULL;
        int ok = av_hwdevice_ctx_create(&dev, wanted[i], NULL, NULL, 0) == 0;
        pthread_mutex_lock(&s_hw_mu);
        s_hw_probed[slot] = 1; s_hw_present[slot] = ok;
        pthread_mutex_unlock(&s_hw_mu);
        if (!ok) continue;
        s->dec->hw_device_ctx = dev; /* the codec context owns this reference now */
        s->dec->get_format = get_hw_format;
        s->hw_pix_fmt = pix;
        s->hw_active = 1;
        return;
    }
    /* One line per process: every later source finds the probe result cached. */
    static atomic_int s_fallback_logged;
    if (!atomic_exchange(&s_fallback_logged, 1))
        source_log(s, EPH_LOG_WARN, "%s: hardware decode unavailable (no %s device, or no support for %s); using software decode", s->name,
                   s->params.hw_decode == EPH_HW_CUDA ? "cuda" : s->params.hw_decode == EPH_HW_VAAPI ? "vaapi" : "cuda, vaapi",
                   codec->name);
}

/* ---- frame numbering and disposable packets ---------------------------------------------- */

/* A new run of the demuxer (open, loop rewind, reconnect): its frames number on from the last pass,
 * skipped ones included, exactly as a full decode's count would. */
static void begin_pass(eph_source *s)
{
    s->pass_base += s->pass_delivered + s->pass_skipped;
    s->pass_packets = s->pass_delivered = s->pass_skipped = s->pass_skipped_before = 0;
    s->pending_skips = 0;
    s->pass_pts_reordered = 0;
    s->pass_pts_unusable = 0;
}

/* Number of the picture in a packet about to be decoded (or skipped), in presentation order: the
 * packets read before it, less those among them shown after it (B-frame reordering reads a later
 * reference first). Packets arrive in decode order, so no later packet is shown before a
 * non-reference one; a window of REORDER_WINDOW packets covers any reorder depth. */
static int64_t packet_index(eph_source *s, int64_t pts)
{
    int64_t shown_later = 0;
    int n = s->pass_packets < REORDER_WINDOW ? (int)s->pass_packets : REORDER_WINDOW;
    if (s->pass_base_from_pts && s->pass_packets == 0) {
        /* The first packet after a seek is the keyframe the demuxer landed on: its number in a full
         * decode is its presentation time × the frame rate (constant-rate files). */
        s->pass_base_from_pts = 0;
        int64_t start = s->fmt->streams[s->stream_index]->start_time != AV_NOPTS_VALUE ? s->fmt->streams[s->stream_index]->start_time : 0;
        /* AVI packets carry no pts: a keyframe's dts is its presentation time there. */
        int64_t t = pts != AV_NOPTS_VALUE ? pts : s->pkt->dts;
        if (t != AV_NOPTS_VALUE && s->frame_rate > 0)
            s->pass_base = llround((double)(t - start) * av_q2d(s->time_base) * s->frame_rate);
    }
    if (pts == AV_NOPTS_VALUE) s->pass_pts_unusable = 1;
    else
        for (int i = 0; i < n; i++) {
            if (s->recent_pts[i] == pts) s->pass_pts_unusable = 1;
            if (s->recent_pts[i] != AV_NOPTS_VALUE && s->recent_pts[i] > pts) shown_later++;
        }
    s->recent_pts[s->pass_packets % REORDER_WINDOW] = pts;
    if (shown_later) s->pass_pts_reordered = 1;
    return s->pass_base + s->pass_packets++ - shown_later;
}

/* Number of a delivered picture: frames delivered before it plus the skipped ones shown before it. */
static int64_t frame_index(eph_source *s, int64_t pts)
{
    if (pts != AV_NOPTS_VALUE)
        for (int i = 0; i < s->pending_skips;) {
            if (s->pending_skip_pts[i] < pts) {
                s->pending_skip_pts[i] = s->pending_skip_pts[--s->pending_skips];
                s->pass_skipped_before++;
            } else {
                i++;
            }
        }
    return s->pass_base + s->pass_delivered + s->pass_skipped_before;
}

/* The packets' pts number pictures in presentation order: one distinct pts per packet this pass, and
 * they visibly reorder or the stream has no reordering. (A container that stamps decode order on a
 * stream with B-frames, or one packet per field, would misnumber them.) */
static int pts_trustworthy(const eph_source *s)
{
    if (s->pass_pts_unusable) return 0;
    return s->pass_pts_reordered ||
           (s->fmt->streams[s->stream_index]->codecpar->video_delay == 0 && s->dec->has_b_frames == 0);
}

/* want_every <= 1: every frame from want_from on; else want_from + k * want_every. */
static int index_wanted(int64_t index, int64_t want_from, int64_t want_every)
{
    if (index < want_from) return 0;
    return want_every <= 1 || ((uint64_t)index - (uint64_t)want_from) % (uint64_t)want_every == 0;
}

/* Steps to the next NAL unit in *p..end: length-prefixed (nal_length 1..4, as in MP4/MKV) or after
 * a 00 00 01 start code (nal_length 0, Annex B as in TS/RTSP). Returns its first byte and sets
 * *size (for Annex B: up to the end, enough for a header), or NULL when there is none / it is cut. */
static const uint8_t *next_nal(const uint8_t **p, const uint8_t *end, int nal_length, size_t *size)
{
    const uint8_t *q = *p;
    if (nal_length > 0) {
        if (end - q < nal_length) return NULL;
        uint32_t len = 0;
        for (int i = 0; i < nal_length; i++) len = len << 8 | q[i];
        q += nal_length;
        if (len == 0 || len > (size_t)(end - q)) return NULL;
        *p = q + len;
        *size = len;
        return q;
    }
    while (end - q >= 3 && !(q[0] == 0 && q[1] == 0 && q[2] == 1)) q++;
    if (end - q <= 3) return NULL;
    q += 3;
    *p = q + 1; /* the next start code is searched from here */
    *size = (size_t)(end - q);
    return q;
}

/* 1 when the access unit in p[0..size) is a picture nothing is predicted from, judged by its first
 * slice NAL. H.264: a non-IDR slice (type 1) with nal_ref_idc == 0. HEVC: a sub-layer non-reference
 * slice (even types 0..14: TRAIL_N, TSA_N, STSA_N, RADL_N, RASL_N, RSV_VCL_N*) in the highest
 * temporal sub-layer (a lower one may be referenced by higher ones). Anything else, or anything
 * unparsable, counts as a reference and is never skipped. */
static int picture_disposable(const eph_source *s, const uint8_t *p, int size)
{
    const uint8_t *end = p + size;
    size_t n;
    for (const uint8_t *nal; (nal = next_nal(&p, end, s->nal_length, &n));) {
        if (nal[0] & 0x80) return 0; /* forbidden_zero_bit: corrupt, leave it to the decoder */
        if (s->nal_codec == NAL_H264) {
            int type = nal[0] & 0x1f, ref_idc = (nal[0] >> 5) & 3;
            if (type == 1) return ref_idc == 0;
            if (type >= 2 && type <= 5) return 0; /* data partitions, IDR */
        } else {
            if (n < 2) return 0;
            int type = (nal[0] >> 1) & 0x3f, tid = (nal[1] & 7) - 1;
            if (type <= 31) return type <= 14 && type % 2 == 0 && s->hevc_max_tid >= 0 && tid == s->hevc_max_tid;
        }
    }
    return 0;
}

/* Nothing will be predicted from this packet's picture: it may go undecoded. */
static int packet_disposable(const eph_source *s, const AVPacket *pkt)
{
    if (pkt->flags & AV_PKT_FLAG_KEY) return 0;
    if (pkt->flags & AV_PKT_FLAG_DISPOSABLE) return 1;
    return s->nal_codec != NAL_NONE && pkt->data && picture_disposable(s, pkt->data, pkt->size);
}

/* How packets of this stream are framed, and (HEVC) its highest temporal sub-layer, from extradata. */
static void probe_nal_layout(eph_source *s, const AVCodecParameters *par)
{
    const uint8_t *x = par->extradata;
    int n = x ? par->extradata_size : 0;
    s->nal_codec = par->codec_id == AV_CODEC_ID_H264 ? NAL_H264 : par->codec_id == AV_CODEC_ID_HEVC ? NAL_HEVC : NAL_NONE;
    s->nal_length = 0;
    s->hevc_max_tid = -1;
    if (s->nal_codec == NAL_H264) {
        /* avcC (MP4, MKV) starts with version 1 and states the length size; Annex B starts with a start code. */
        if (n >= 7 && x[0] == 1) s->nal_length = (x[4] & 3) + 1;
    } else if (s->nal_codec == NAL_HEVC) {
        if (n >= 23 && x[0] == 1) {
            /* hvcC: byte 21 = constantFrameRate(2) numTemporalLayers(3) temporalIdNested(1) lengthSizeMinusOne(2). */
            s->nal_length = (x[21] & 3) + 1;
            int layers = (x[21] >> 3) & 7;
            if (layers > 0) s->hevc_max_tid = layers - 1;
        } else {
            /* Annex B parameter sets: the SPS (type 33) says sps_max_sub_layers_minus1 right after its header. */
            const uint8_t *p = x, *end = x + n;
            size_t len;
            for (const uint8_t *nal; p && (nal = next_nal(&p, end, 0, &len));)
                if (len >= 3 && ((nal[0] >> 1) & 0x3f) == 33) { s->hevc_max_tid = (nal[2] >> 1) & 7; break; }
        }
    }
}

/* ---- open / close of the demuxer + decoder ----------------------------------------------- */

static void close_input(eph_source *s)
{
    avcodec_free_context(&s->dec);      /* releases reference frames → their blocks are wiped */
    avformat_close_input(&s->fmt);
    av_packet_unref(s->pkt);
    av_frame_unref(s->frame);
}

/* Opens demuxer and decoder. On failure sets eph_last_error and returns EPH_ERR_*. */
static int open_input(eph_source *s)
{
    char eb[256];
    AVDictionary *opts = NULL;
    if (s->is_rtsp) av_dict_set(&opts, "rtsp_transport", s->params.rtsp_transport == EPH_RTSP_UDP ? "udp" : "tcp", 0);
    s->fmt = avformat_alloc_context();
    if (!s->fmt) { eph_set_error("%s: out of memory", s->name); return EPH_ERR_NOMEM; }
    s->fmt->interrupt_callback.callback = interrupt_cb;
    s->fmt->interrupt_callback.opaque = s;
    arm_deadline(s);
    int ret = avformat_open_input(&s->fmt, s->uri, NULL, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        if (ret == AVERROR_EXIT || (s->deadline_ns && eph_now_ns() > s->deadline_ns))
            eph_set_error("%s: timed out opening the source (no answer within %d ms)", s->name, s->params.read_timeout_ms);
        else
            eph_set_error("%s: %s", s->name, av_err(ret, eb, sizeof eb));
        s->deadline_ns = 0;
        return EPH_ERR_OPEN;
    }
    arm_deadline(s);
    if ((ret = avformat_find_stream_info(s->fmt, NULL)) < 0) {
        eph_set_error("%s: cannot read stream info: %s", s->name, av_err(ret, eb, sizeof eb));
        goto fail;
    }
    const AVCodec *codec = NULL;
    ret = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (ret < 0 || !codec) {
        eph_set_error("%s: %s", s->name, ret == AVERROR_DECODER_NOT_FOUND ? "no decoder for its video stream" : "no video stream");
        goto fail;
    }
    s->stream_index = ret;
    AVStream *st = s->fmt->streams[ret];
    s->time_base = st->time_base;
    AVRational fr = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    s->frame_rate = fr.num && fr.den ? av_q2d(fr) : 0.0;
    /* What the container promises, so a file that ends early can be told from one that is complete. */
    if (st->nb_frames > 0) s->frames_expected = st->nb_frames;
    else if (st->duration != AV_NOPTS_VALUE && st->duration > 0 && s->frame_rate > 0)
        s->frames_expected = (int64_t)(st->duration * av_q2d(st->time_base) * s->frame_rate + 0.5);
    else if (s->fmt->duration != AV_NOPTS_VALUE && s->fmt->duration > 0 && s->frame_rate > 0)
        s->frames_expected = (int64_t)((double)s->fmt->duration / AV_TIME_BASE * s->frame_rate + 0.5);

    s->dec = avcodec_alloc_context3(codec);
    if (!s->dec) { eph_set_error("%s: out of memory", s->name); goto fail; }
    if ((ret = avcodec_parameters_to_context(s->dec, st->codecpar)) < 0) {
        eph_set_error("%s: bad codec parameters: %s", s->name, av_err(ret, eb, sizeof eb));
        goto fail;
    }
    s->dec->opaque = s;
    probe_nal_layout(s, st->codecpar);
    s->direct_to_pool = (codec->capabilities & AV_CODEC_CAP_DR1) != 0;
    if (!s->direct_to_pool)
        source_log(s, EPH_LOG_WARN, "%s: the %s decoder allocates its own pictures; frames are copied into pool memory and its buffers wiped when writable",
                   s->name, codec->name);
    s->dec->get_buffer2 = get_buffer2;   /* every decoded picture lives in the engine's pool */
    /* Auto: one thread per core but at most 8. Every frame thread holds a picture, so more threads
     * need more pool blocks (32 by default cover 8 threads + 16 references + frames being consumed),
     * and with many cameras per machine, streams share the cores anyway. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->dec->thread_count = s->params.decoder_threads > 0 ? s->params.decoder_threads : (int)(cores < 1 ? 1 : cores > 8 ? 8 : cores);
    s->dec->thread_type = s->params.thread_type == 1 ? FF_THREAD_FRAME : s->params.thread_type == 2 ? FF_THREAD_SLICE : FF_THREAD_FRAME | FF_THREAD_SLICE;
    s->dec->skip_loop_filter = s->params.loop_filter == EPH_LOOP_FILTER_SKIP_ALL ? AVDISCARD_ALL
                             : s->params.loop_filter == EPH_LOOP_FILTER_SKIP_BIDIR ? AVDISCARD_BIDIR
                             : s->params.loop_filter == EPH_LOOP_FILTER_SKIP_NONREF ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
    if (s->params.fast_decode) s->dec->flags2 |= AV_CODEC_FLAG2_FAST;
    s->dec->pkt_timebase = st->time_base;
    setup_hw(s, codec);
    if ((ret = avcodec_open2(s->dec, codec, NULL)) < 0) {
        eph_set_error("%s: cannot open %s decoder: %s", s->name, codec->name, av_err(ret, eb, sizeof eb));
        goto fail;
    }
    s->width = s->dec->width;
    s->height = s->dec->height;
    /* An http(s) resource with a length (Content-Length) or a duration is a file that ends; RTSP and
     * endless HTTP streams (MJPEG cameras) do not, so their end is a drop to reconnect from. */
    s->has_end = !s->is_network ||
                 (!s->is_rtsp && ((s->fmt->pb && avio_size(s->fmt->pb) > 0) ||
                                  (s->fmt->duration != AV_NOPTS_VALUE && s->fmt->duration > 0)));
    snprintf(s->codec_name, sizeof s->codec_name, "%s", codec->name);
    s->deadline_ns = 0;
    begin_pass(s);
    return EPH_OK;
fail:
    s->deadline_ns = 0;
    close_input(s);
    return EPH_ERR_OPEN;
}

EPH_API int eph_source_open(const char *uri, const eph_source_params *params, eph_source **out_source)
{
    if (out_source) *out_source = NULL;
    if (!uri || !*uri || !out_source) { eph_set_error("eph_source_open: empty uri or NULL out_source"); return EPH_ERR_INVALID_ARG; }
    eph_source_params p = params ? *params : eph_source_default_params();
    if (p.pool_buffers < 4) { eph_set_error("%s: pool_buffers must be >= 4 (got %d)", uri, p.pool_buffers); return EPH_ERR_INVALID_ARG; }
    if (p.reconnect_initial_ms < 1 || p.reconnect_max_ms < p.reconnect_initial_ms) {
        eph_set_error("%s: reconnect back-off must satisfy 1 <= initial (%d) <= max (%d) ms", uri, p.reconnect_initial_ms, p.reconnect_max_ms);
        return EPH_ERR_INVALID_ARG;
    }
    if (p.loop_filter < EPH_LOOP_FILTER_FULL || p.loop_filter > EPH_LOOP_FILTER_SKIP_BIDIR || p.thread_type < 0 || p.thread_type > 2) {
        eph_set_error("%s: loop_filter must be 0..3 (full, skip_nonref, skip_all, skip_bidir) and thread_type 0..2 (auto, frame, slice)", uri);
        return EPH_ERR_INVALID_ARG;
    }
    if (p.decoder_threads < 0 || p.hw_decode < EPH_HW_AUTO || p.hw_decode > EPH_HW_VAAPI) {
        eph_set_error("%s: decoder_threads must be >= 0 and hw_decode one of auto/none/cuda/vaapi", uri);
        return EPH_ERR_INVALID_ARG;
    }
    static atomic_int s_log_level_set;
    if (!atomic_exchange(&s_log_level_set, 1))
        av_log_set_level(getenv("EPHEMERA_FFMPEG_LOG") ? AV_LOG_INFO : AV_LOG_QUIET); /* errors reach callers via eph_last_error */

    eph_source *s = calloc(1, sizeof *s);
    if (!s) { eph_set_error("%s: out of memory", uri); return EPH_ERR_NOMEM; }
    s->params = p;
    s->uri = strdup(uri);
    redact_uri(uri, s->name, sizeof s->name);
    s->is_network = strstr(uri, "://") != NULL && strncmp(uri, "file:", 5) != 0;
    s->is_rtsp = strncmp(uri, "rtsp://", 7) == 0 || strncmp(uri, "rtsps://", 8) == 0;
    s->frame = av_frame_alloc();
    s->pkt = av_packet_alloc();
    s->pool = eph_pool_create(p.pool_buffers);
    s->reconnect_backoff_ms = p.reconnect_initial_ms;
    if (!s->uri || !s->frame || !s->pkt || !s->pool) {
        eph_source_close(s);
        eph_set_error("%s: out of memory", uri);
        return EPH_ERR_NOMEM;
    }
    int ret = open_input(s);
    if (ret != EPH_OK) {
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", eph_last_error());
        eph_source_close(s);
        eph_set_error("%s", saved);
        return ret;
    }
    *out_source = s;
    return EPH_OK;
}

EPH_API void eph_source_close(eph_source *s)
{
    if (!s) return;
    if (s->dec || s->fmt) close_input(s);
    av_frame_free(&s->frame);
    av_packet_free(&s->pkt);
    sws_freeContext(s->sws);
    eph_pool_close(s->pool);   /* frames still held keep the pool alive until released */
    free(s->uri);
    free(s);
}

EPH_API int eph_source_get_info(const eph_source *s, eph_source_info *out)
{
    if (!s || !out) { eph_set_error("eph_source_get_info: NULL argument"); return EPH_ERR_INVALID_ARG; }
    memset(out, 0, sizeof *out);
    out->width = s->width;
    out->height = s->height;
    out->frame_rate = s->frame_rate;
    snprintf(out->codec_name, sizeof out->codec_name, "%s", s->codec_name);
    out->hw_active = s->hw_active;
    out->frames_delivered = s->delivered;
    out->frames_dropped_for_pool = s->dropped_for_pool;
    out->frames_skipped = s->skipped;
    out->frames_expected = s->frames_expected;
    out->loops = s->loops;
    out->short_pass_frames = s->short_pass_frames;
    return EPH_OK;
}

/* ---- frames -------------------------------------------------------------------------------- */

EPH_API eph_frame *eph_frame_addref(eph_frame *f)
{
    if (f) atomic_fetch_add(&f->refs, 1);
    return f;
}

EPH_API void eph_frame_release(eph_frame *f)
{
    if (!f) return;
    if (atomic_fetch_sub(&f->refs, 1) == 1) {
        /* The engine is done with the picture: record how long it held it, and charge that time to
         * each pool block under it so block_release can tell the decoder's share (reference frames)
         * from the engine's. Distinct blocks only; buffers not from our pools are skipped. */
        int64_t held_ns = eph_now_ns() - f->decoded_ns;
        eph_ledger_on_engine_released(held_ns);
        const void *seen[AV_NUM_DATA_POINTERS];
        int n_seen = 0;
        for (int i = 0; i < AV_NUM_DATA_POINTERS && f->av && f->av->buf[i]; i++) {
            const void *opaque = av_buffer_get_opaque(f->av->buf[i]);
            int dup = 0;
            for (int j = 0; j < n_seen; j++) if (seen[j] == opaque) { dup = 1; break; }
            if (dup) continue;
            seen[n_seen++] = opaque;
            eph_pool_add_engine_ns(opaque, held_ns);
        }
        av_frame_free(&f->av); /* last buffer reference → block_release wipes and returns the block */
        free(f);
    }
}

EPH_API void eph_frame_release_leaked(eph_frame *f)
{
    if (!f) return;
    eph_ledger_on_leaked();
    eph_frame_release(f);
}

/* ---- reading ------------------------------------------------------------------------------- */

static int drop_for_pool(eph_source *s)
{
    s->dropped_for_pool++;
    eph_ledger_on_dropped_for_pool();
    return EPH_POOL_EXHAUSTED;
}

/* The picture in s->frame is in a format consumers know, or is converted into a pool frame.
 * On EPH_OK, *out holds the delivered AVFrame (moved out of s->frame). */
static int to_consumer_format(eph_source *s, AVFrame **out, int *format, int *full_range)
{
    char eb[256];
    AVFrame *src = s->frame;
    int ret;
    *full_range = src->color_range == AVCOL_RANGE_JPEG;
    if (s->hw_active && src->format == s->hw_pix_fmt) {
        /* Download the device surface into pool memory (NV12 on CUDA and VA-API). */
        AVFrame *sw = av_frame_alloc();
        if (!sw) return EPH_ERR_NOMEM;
        sw->format = AV_PIX_FMT_NV12; sw->width = src->width; sw->height = src->height;
        if ((ret = pool_frame_layout(s->pool, sw, AV_PIX_FMT_NV12, src->width, src->height)) < 0) {
            av_frame_free(&sw); av_frame_unref(src);
            return ret == AVERROR(EAGAIN) ? drop_for_pool(s) : EPH_ERR_NOMEM;
        }
        if ((ret = av_hwframe_transfer_data(sw, src, 0)) < 0 || (ret = av_frame_copy_props(sw, src)) < 0) {
            av_frame_free(&sw); av_frame_unref(src);
            eph_set_error("%s: cannot download hardware frame: %s", s->name, av_err(ret, eb, sizeof eb));
            return EPH_ERR_DECODE;
        }
        av_frame_unref(src);
        *out = sw; *format = EPH_PIX_NV12;
        return EPH_OK;
    }
    switch (src->format) {
    case AV_PIX_FMT_YUVJ420P: *full_range = 1; /* fall through */
    case AV_PIX_FMT_YUV420P: *format = EPH_PIX_YUV420P; break;
    case AV_PIX_FMT_NV12:    *format = EPH_PIX_NV12; break;
    case AV_PIX_FMT_BGR24:   *format = EPH_PIX_BGR24; break;
    case AV_PIX_FMT_GRAY8:   *format = EPH_PIX_GRAY8; break;
    default: *format = EPH_PIX_UNKNOWN; break;
    }
    if (*format != EPH_PIX_UNKNOWN && !s->direct_to_pool) {
        /* Rare: a decoder without DR1 kept the picture in its own memory. Copy it into the pool,
         * then zero the decoder's copy when we may write to it. */
        AVFrame *copy = av_frame_alloc();
        if (!copy) { av_frame_unref(src); return EPH_ERR_NOMEM; }
        copy->format = src->format; copy->width = src->width; copy->height = src->height;
        if ((ret = pool_frame_layout(s->pool, copy, src->format, src->width, src->height)) < 0) {
            av_frame_free(&copy); av_frame_unref(src);
            return ret == AVERROR(EAGAIN) ? drop_for_pool(s) : EPH_ERR_NOMEM;
        }
        av_frame_copy(copy, src);
        av_frame_copy_props(copy, src);
        if (av_frame_is_writable(src))
            for (int i = 0; i < AV_NUM_DATA_POINTERS && src->buf[i]; i++) eph_wipe(src->buf[i]->data, src->buf[i]->size);
        av_frame_unref(src);
        *out = copy;
        return EPH_OK;
    }
    if (*format != EPH_PIX_UNKNOWN) {
        AVFrame *moved = av_frame_alloc();
        if (!moved) { av_frame_unref(src); return EPH_ERR_NOMEM; }
        av_frame_move_ref(moved, src); /* no copy: the consumer gets the decoder's pool block */
        *out = moved;
        return EPH_OK;
    }
    /* Anything else (4:2:2, 4:4:4, 10-bit, ...) → 8-bit YUV420P in a pool block, keeping the range. */
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(src->format);
    if (d && strncmp(d->name, "yuvj", 4) == 0) *full_range = 1;
    AVFrame *dst = av_frame_alloc();
    if (!dst) { av_frame_unref(src); return EPH_ERR_NOMEM; }
    dst->format = AV_PIX_FMT_YUV420P; dst->width = src->width; dst->height = src->height;
    if ((ret = pool_frame_layout(s->pool, dst, AV_PIX_FMT_YUV420P, src->width, src->height)) < 0) {
        av_frame_free(&dst); av_frame_unref(src);
        return ret == AVERROR(EAGAIN) ? drop_for_pool(s) : EPH_ERR_NOMEM;
    }
    s->sws = sws_getCachedContext(s->sws, src->width, src->height, src->format, dst->width, dst->height,
                                  AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
    if (!s->sws) {
        av_frame_free(&dst); av_frame_unref(src);
        eph_set_error("%s: cannot convert %s to yuv420p", s->name, d ? d->name : "?");
        return EPH_ERR_DECODE;
    }
    const int *coefs = sws_getCoefficients(SWS_CS_DEFAULT);
    sws_setColorspaceDetails(s->sws, coefs, *full_range, coefs, *full_range, 0, 1 << 16, 1 << 16);
    sws_scale(s->sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dst->data, dst->linesize);
    av_frame_copy_props(dst, src);
    av_frame_unref(src); /* the decoded 4:2:2/10-bit picture's block is wiped here */
    *out = dst; *format = EPH_PIX_YUV420P;
    return EPH_OK;
}

/* Paced sources: result n (a frame or a skip) is due n / fps after the first, a stand-in for a live camera. */
static void pace(eph_source *s)
{
    if (!s->params.paced || s->frame_rate <= 0) return;
    if (s->pace_start_ns == 0) s->pace_start_ns = eph_now_ns();
    int64_t due = s->pace_start_ns + (int64_t)((double)(s->delivered + s->skipped) * 1e9 / s->frame_rate);
    int64_t wait = due - eph_now_ns();
    if (wait > 0) sleep_ms(wait / 1000000);
}

static int deliver(eph_source *s, eph_frame **out_frame, eph_frame_info *info)
{
    int64_t decoded_ns = eph_now_ns();
    AVFrame *av = NULL;
    int format = 0, full_range = 0;
    int ret = to_consumer_format(s, &av, &format, &full_range);
    if (ret != EPH_OK) return ret;
    eph_frame *f = malloc(sizeof *f);
    if (!f) { av_frame_free(&av); return EPH_ERR_NOMEM; }
    atomic_init(&f->refs, 1);
    f->av = av;
    f->decoded_ns = decoded_ns;

    memset(info, 0, sizeof *info);
    int chroma_rows = (av->height + 1) / 2;
    for (int i = 0; i < 3; i++) {
        info->data[i] = av->data[i];
        info->linesize[i] = av->linesize[i];
    }
    info->plane_bytes[0] = (int64_t)av->linesize[0] * av->height;
    if (format == EPH_PIX_YUV420P) {
        info->plane_bytes[1] = (int64_t)av->linesize[1] * chroma_rows;
        info->plane_bytes[2] = (int64_t)av->linesize[2] * chroma_rows;
    } else if (format == EPH_PIX_NV12) {
        info->plane_bytes[1] = (int64_t)av->linesize[1] * chroma_rows;
        info->data[2] = NULL; info->linesize[2] = 0;
    } else {
        info->data[1] = info->data[2] = NULL; info->linesize[1] = info->linesize[2] = 0;
    }
    info->width = av->width;
    info->height = av->height;
    info->format = format;
    info->full_range = full_range;
    info->pts = av->best_effort_timestamp;
    int64_t start = s->fmt && s->fmt->streams[s->stream_index]->start_time != AV_NOPTS_VALUE ? s->fmt->streams[s->stream_index]->start_time : 0;
    info->index = frame_index(s, av->pts != AV_NOPTS_VALUE ? av->pts : av->best_effort_timestamp);
    info->time_s = info->pts != AV_NOPTS_VALUE ? (double)(info->pts - start) * av_q2d(s->time_base)
                 : s->frame_rate > 0 ? (double)info->index / s->frame_rate : 0.0;
    info->decoded_ns = decoded_ns;
    s->width = av->width;
    s->height = av->height;

    pace(s);
    s->delivered++;
    s->pass_delivered++;
    s->consecutive_errors = 0;
    *out_frame = f;
    return EPH_OK;
}

static void zeroing_free(void *opaque, uint8_t *data)
{
    eph_wipe(data, (size_t)(uintptr_t)opaque);
    av_free(data);
}

/* Moves the compressed payload into a buffer that is zeroed when the decoder lets go of it (the
 * decoder may keep a reference after send_packet returns, e.g. with frame threads), then zeroes
 * the demuxer's copy. */
static int send_wiped_packet(eph_source *s, AVPacket *pkt)
{
    size_t n = (size_t)pkt->size + AV_INPUT_BUFFER_PADDING_SIZE;
    uint8_t *copy = av_malloc(n);
    if (!copy) return AVERROR(ENOMEM);
    memcpy(copy, pkt->data, (size_t)pkt->size);
    memset(copy + pkt->size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    AVBufferRef *buf = av_buffer_create(copy, n, zeroing_free, (void *)(uintptr_t)n, 0);
    if (!buf) { av_free(copy); return AVERROR(ENOMEM); }
    if (pkt->buf && av_buffer_is_writable(pkt->buf)) eph_wipe(pkt->data, (size_t)pkt->size);
    av_buffer_unref(&pkt->buf);
    pkt->buf = buf;
    pkt->data = copy;
    int ret = avcodec_send_packet(s->dec, pkt);
    av_packet_unref(pkt);
    return ret;
}

/* Network source lost: log once, drop the demuxer/decoder (their blocks are wiped), back off. */
static void connection_lost(eph_source *s, const char *why)
{
    source_log(s, EPH_LOG_WARN, "%s: connection lost (%s); reconnecting", s->name, why);
    close_input(s);
    s->state = STATE_RECONNECTING;
    s->reconnect_attempts = 0;
    s->reconnect_backoff_ms = s->params.reconnect_initial_ms;
}

static int try_reconnect(eph_source *s)
{
    sleep_ms(s->reconnect_backoff_ms);
    if (open_input(s) == EPH_OK) {
        source_log(s, EPH_LOG_INFO, "%s: reconnected after %d failed attempt(s)", s->name, s->reconnect_attempts);
        s->state = STATE_STREAMING;
        s->reconnect_backoff_ms = s->params.reconnect_initial_ms;
        s->reconnect_attempts = 0;
        return EPH_OK;
    }
    s->reconnect_attempts++;
    if (s->params.reconnect_max_attempts >= 0 && s->reconnect_attempts >= s->params.reconnect_max_attempts) {
        char cause[768];
        snprintf(cause, sizeof cause, "%s", eph_last_error());
        eph_set_error("%s: gave up after %d reconnect attempts; last error: %s", s->name, s->reconnect_attempts, cause);
        source_log(s, EPH_LOG_ERROR, "%s", eph_last_error());
        s->state = STATE_DONE;
        return EPH_ERR_GAVE_UP;
    }
    s->reconnect_backoff_ms = s->reconnect_backoff_ms * 2 > s->params.reconnect_max_ms ? s->params.reconnect_max_ms : s->reconnect_backoff_ms * 2;
    return EPH_RECONNECTING;
}

/* File source hit the end with loop = 1: rewind (or reopen when the container cannot seek). */
static int rewind_file(eph_source *s)
{
    /* To the stream's start, not INT64_MIN: MP4's demuxer took INT64_MIN to its last keyframe, so a
     * looping MP4 replayed its last GOP as the "next pass" (SeekTests). */
    AVStream *st = s->fmt->streams[s->stream_index];
    int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    if (av_seek_frame(s->fmt, s->stream_index, start, AVSEEK_FLAG_BACKWARD) >= 0 ||
        avformat_seek_file(s->fmt, -1, INT64_MIN, 0, 0, 0) >= 0) {
        avcodec_flush_buffers(s->dec);
        s->state = STATE_STREAMING;
        begin_pass(s);
        return EPH_OK;
    }
    close_input(s);
    int ret = open_input(s);
    if (ret == EPH_OK) s->state = STATE_STREAMING;
    return ret;
}

EPH_API int eph_source_seek(eph_source *s, double time_s)
{
    if (!s || !isfinite(time_s)) { eph_set_error("eph_source_seek: NULL source or non-finite time"); return EPH_ERR_INVALID_ARG; }
    if (s->is_network || !s->fmt) { eph_set_error("%s: only an open file source can seek", s->name); return EPH_ERR_INVALID_ARG; }
    AVStream *st = s->fmt->streams[s->stream_index];
    int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    int64_t ts = start + av_rescale_q((int64_t)llround((time_s > 0 ? time_s : 0) * 1e6), AV_TIME_BASE_Q, st->time_base);
    if (av_seek_frame(s->fmt, s->stream_index, ts, AVSEEK_FLAG_BACKWARD) < 0 &&
        avformat_seek_file(s->fmt, s->stream_index, INT64_MIN, ts, ts, 0) < 0) {
        eph_set_error("%s: the container cannot seek to %.3f s", s->name, time_s);
        return EPH_ERR_DECODE;
    }
    avcodec_flush_buffers(s->dec);
    if (s->state == STATE_DRAINING || s->state == STATE_DONE) s->state = STATE_STREAMING;
    begin_pass(s);
    s->pass_base_from_pts = 1;
    return EPH_OK;
}

/* The packet in s->pkt is not wanted and never reaches the decoder: wiped like every other packet. */
static int skip_packet(eph_source *s, int64_t index, eph_frame_info *info)
{
    int64_t pts = s->pkt->pts;
    if (s->pkt->buf && av_buffer_is_writable(s->pkt->buf)) eph_wipe(s->pkt->data, (size_t)s->pkt->size);
    av_packet_unref(s->pkt);
    s->pending_skip_pts[s->pending_skips++] = pts;
    memset(info, 0, sizeof *info);
    info->pts = pts;
    int64_t start = s->fmt->streams[s->stream_index]->start_time != AV_NOPTS_VALUE ? s->fmt->streams[s->stream_index]->start_time : 0;
    info->time_s = (double)(pts - start) * av_q2d(s->time_base);
    info->index = index;
    info->decoded_ns = eph_now_ns();
    pace(s);
    s->skipped++;
    s->pass_skipped++;
    return EPH_SKIPPED;
}

EPH_API int eph_source_read(eph_source *s, eph_frame **out_frame, eph_frame_info *out_info)
{
    if (!s || !out_frame || !out_info) {
        if (out_frame) *out_frame = NULL;
        eph_set_error("eph_source_read: NULL argument");
        return EPH_ERR_INVALID_ARG;
    }
    return eph_source_read_wanted(s, out_frame, out_info, INT64_MIN, 1);
}

EPH_API int eph_source_read_wanted(eph_source *s, eph_frame **out_frame, eph_frame_info *out_info, int64_t want_from, int64_t want_every)
{
    if (out_frame) *out_frame = NULL;
    if (!s || !out_frame || !out_info) { eph_set_error("eph_source_read_wanted: NULL argument"); return EPH_ERR_INVALID_ARG; }
    char eb[256];
    for (;;) {
        if (s->state == STATE_DONE) return EPH_EOF;
        if (s->state == STATE_RECONNECTING) {
            int r = try_reconnect(s);
            if (r != EPH_OK) return r;
        }

        /* 1. drain what the decoder has */
        int ret = avcodec_receive_frame(s->dec, s->frame);
        if (ret == 0) return deliver(s, out_frame, out_info);
        if (atomic_exchange(&s->pool_starved, 0)) return drop_for_pool(s);
        if (ret == AVERROR_EOF && s->lost_pending) {
            /* Every frame that arrived before the drop was delivered: now the gap. */
            s->lost_pending = 0;
            connection_lost(s, s->lost_reason);
            return EPH_RECONNECTING;
        }
        if (ret == AVERROR_EOF) {
            if (s->params.loop && s->has_end) {
                /* A pass that ends well short of what the container announces is a truncated file
                 * repeating its fragment: recorded once, so the caller can warn once. */
                int64_t pass = s->pass_delivered + s->pass_skipped;
                if (!s->short_pass_frames && s->frames_expected > 0 && pass < s->frames_expected - (s->frames_expected / 50 > 3 ? s->frames_expected / 50 : 3))
                    s->short_pass_frames = pass > 0 ? pass : 1;
                s->loops++;
                if ((ret = rewind_file(s)) != EPH_OK) return ret;
                continue;
            }
            /* Done: let the decoder go now, so its reference pictures are wiped at end of stream
             * rather than when the caller gets round to closing the source. */
            close_input(s);
            s->state = STATE_DONE;
            return EPH_EOF;
        }
        if (ret != AVERROR(EAGAIN)) {
            if (++s->consecutive_errors > MAX_CONSECUTIVE_ERRORS) {
                eph_set_error("%s: %s", s->name, av_err(ret, eb, sizeof eb));
                return EPH_ERR_DECODE;
            }
            continue;
        }
        if (s->state == STATE_DRAINING) {
            if (s->lost_pending) { s->lost_pending = 0; connection_lost(s, s->lost_reason); return EPH_RECONNECTING; }
            close_input(s); s->state = STATE_DONE; return EPH_EOF;
        }

        /* 2. feed it one packet */
        arm_deadline(s);
        ret = av_read_frame(s->fmt, s->pkt);
        int timed_out = s->deadline_ns && eph_now_ns() > s->deadline_ns;
        s->deadline_ns = 0;
        if (ret == AVERROR(EAGAIN)) return EPH_AGAIN; /* a demuxer with nothing ready yet */
        if (ret < 0) {
            /* A network read that errs or stalls past read_timeout_ms is a drop. */
            if (s->is_network && !(ret == AVERROR_EOF && s->has_end)) {
                snprintf(s->lost_reason, sizeof s->lost_reason, "%s", ret == AVERROR_EXIT || timed_out ? "read timed out" : av_err(ret, eb, sizeof eb));
                s->lost_pending = 1;
                avcodec_send_packet(s->dec, NULL);   /* deliver what was decoded before the drop */
                s->state = STATE_DRAINING;
                continue;
            }
            /* End of file (a read error on a local file ends it too, as with the ffmpeg CLI): flush. */
            avcodec_send_packet(s->dec, NULL);
            s->state = STATE_DRAINING;
            continue;
        }
        if (s->pkt->stream_index != s->stream_index) {
            if (s->pkt->buf && av_buffer_is_writable(s->pkt->buf)) eph_wipe(s->pkt->data, (size_t)s->pkt->size);
            av_packet_unref(s->pkt);
            continue;
        }
        int64_t index = packet_index(s, s->pkt->pts);
        if (!index_wanted(index, want_from, want_every) && s->pending_skips < REORDER_WINDOW &&
            pts_trustworthy(s) && packet_disposable(s, s->pkt))
            return skip_packet(s, index, out_info);
        ret = send_wiped_packet(s, s->pkt);
        if (atomic_exchange(&s->pool_starved, 0)) return drop_for_pool(s);
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            if (++s->consecutive_errors > MAX_CONSECUTIVE_ERRORS) {
                eph_set_error("%s: %s", s->name, av_err(ret, eb, sizeof eb));
                return EPH_ERR_DECODE;
            }
        }
    }
}
