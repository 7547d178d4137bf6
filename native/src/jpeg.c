/* jpeg.c — JPEG encoding of one YUV420P picture with FFmpeg's mjpeg encoder, straight from the
 * caller's pixel memory (a pool block or an eph_pixbuf): the planes are wrapped, never copied by us. */
#include "internal.h"

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>

#include <string.h>

/* The planes belong to the caller (wiped by its owner): the wrapping buffer must not free them. */
static void eph_no_free(void *opaque, uint8_t *data) { (void)opaque; (void)data; }

int eph_jpeg_encode(const uint8_t *y, int32_t stride_y, const uint8_t *u, const uint8_t *v, int32_t stride_c,
                    int32_t width, int32_t height, int32_t full_range, int32_t qscale,
                    uint8_t *out, size_t out_capacity, size_t *out_size)
{
    if (out_size) *out_size = 0;
    if (!y || !u || !v || !out_size || width <= 0 || height <= 0 || (width & 1) || (height & 1) ||
        stride_y < width || stride_c < width / 2 || qscale < 2 || qscale > 31 || (!out && out_capacity > 0)) {
        eph_set_error("eph_jpeg_encode: invalid argument (%dx%d, strides %d/%d, qscale %d)", width, height, stride_y, stride_c, qscale);
        return EPH_ERR_INVALID_ARG;
    }
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    if (!codec) { eph_set_error("eph_jpeg_encode: this FFmpeg has no mjpeg encoder"); return EPH_ERR_OPEN; }

    int rc = EPH_ERR_NOMEM;
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    AVFrame *frame = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    if (!ctx || !frame || !pkt) { eph_set_error("eph_jpeg_encode: out of memory"); goto done; }

    ctx->width = width;
    ctx->height = height;
    ctx->time_base = (AVRational){1, 25};
    /* Full range is the JPEG norm (yuvj420p); limited-range input is written as-is and tagged so. */
    ctx->pix_fmt = full_range ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P;
    ctx->color_range = full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    if (!full_range) ctx->strict_std_compliance = FF_COMPLIANCE_UNOFFICIAL;
    ctx->flags |= AV_CODEC_FLAG_QSCALE;
    ctx->global_quality = FF_QP2LAMBDA * qscale;
    ctx->qmin = ctx->qmax = qscale;
    ctx->thread_count = 1;
    int err = avcodec_open2(ctx, codec, NULL);
    if (err < 0) {
        char msg[128]; av_strerror(err, msg, sizeof msg);
        eph_set_error("eph_jpeg_encode: cannot open the mjpeg encoder: %s", msg);
        rc = EPH_ERR_OPEN; goto done;
    }

    frame->width = width;
    frame->height = height;
    frame->format = ctx->pix_fmt;
    frame->color_range = ctx->color_range;
    frame->quality = ctx->global_quality;
    frame->pts = 0;
    frame->data[0] = (uint8_t *)y; frame->linesize[0] = stride_y;
    frame->data[1] = (uint8_t *)u; frame->linesize[1] = stride_c;
    frame->data[2] = (uint8_t *)v; frame->linesize[2] = stride_c;
    /* Refcounted wrappers over the caller's planes, so av_frame_ref inside the encoder takes a
     * reference instead of copying the pixels into memory nobody wipes. */
    size_t ybytes = (size_t)stride_y * (size_t)height, cbytes = (size_t)stride_c * (size_t)(height / 2);
    frame->buf[0] = av_buffer_create((uint8_t *)y, ybytes, eph_no_free, NULL, AV_BUFFER_FLAG_READONLY);
    frame->buf[1] = av_buffer_create((uint8_t *)u, cbytes, eph_no_free, NULL, AV_BUFFER_FLAG_READONLY);
    frame->buf[2] = av_buffer_create((uint8_t *)v, cbytes, eph_no_free, NULL, AV_BUFFER_FLAG_READONLY);
    if (!frame->buf[0] || !frame->buf[1] || !frame->buf[2]) { eph_set_error("eph_jpeg_encode: out of memory"); goto done; }

    err = avcodec_send_frame(ctx, frame);
    if (err >= 0) err = avcodec_send_frame(ctx, NULL);
    if (err >= 0) err = avcodec_receive_packet(ctx, pkt);
    if (err < 0) {
        char msg[128]; av_strerror(err, msg, sizeof msg);
        eph_set_error("eph_jpeg_encode: encoding failed: %s", msg);
        rc = EPH_ERR_DECODE; goto done;
    }
    *out_size = (size_t)pkt->size;
    if ((size_t)pkt->size > out_capacity) {
        eph_set_error("eph_jpeg_encode: the JPEG needs %d bytes, the buffer holds %zu", pkt->size, out_capacity);
        rc = EPH_ERR_TOO_SMALL; goto done;
    }
    memcpy(out, pkt->data, (size_t)pkt->size);
    rc = EPH_OK;

done:
    /* The encoder's own scratch holds only the masked picture it was given; it is wiped anyway
     * where we can reach it (the packet), and freed with the context. */
    if (pkt && pkt->data) eph_wipe(pkt->data, (size_t)pkt->size);
    av_packet_free(&pkt);
    av_frame_free(&frame); /* drops our wrappers; the planes stay with their owner */
    avcodec_free_context(&ctx);
    return rc;
}
