#version 450
// Detector preprocess: one YUV420P or NV12 picture -> one letterboxed, normalised NCHW float tensor.
// Mirrors Ephemera.Inference.Preprocess.FramePreprocessor operation for operation (same taps, same
// order of blends, same BT.601 matrix and range), so the two agree to float rounding:
//   bilinear, OpenCV INTER_LINEAR centres: src = (dst + 0.5) * scale - 0.5, clamped, two taps;
//   vertical blend of the two rows first, then horizontal; chroma resampled on its own grid;
//   YUV -> B, G, R, clamp to 0..255, channel order, (x - mean) / std; pad value outside the content.
#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int8 : require

layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, set = 0, binding = 0) readonly buffer Src { uint8_t src[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Dst { float dst[]; };
layout(std430, set = 0, binding = 2) readonly buffer Params {
    int srcW, srcH, nw, nh;          // source size, content size inside the tensor
    int tw, th, nv12, rgb;           // tensor size; 1 = NV12 (else YUV420P); 1 = RGB model order
    int stride0, stride1, stride2, pad1;
    float scaleX, scaleY, pad2, pad3; // source pixels per content pixel (w / nw, h / nh)
    vec4 ycoef;                      // YScale, YOffset, 0, 0
    vec4 ccoef;                      // BU, GU, GV, RV
    vec4 mean;                       // per tensor channel
    vec4 invStd;
    vec4 padNorm;
};

// Plane byte offsets inside Src: they change with every frame imported in place (zero copy).
layout(push_constant) uniform Planes { uint off0, off1, off2; };

float px(uint o) { return float(uint(src[o])); }

// One axis tap pair exactly as FramePreprocessor.Axis.Build.
void axis(int d, float scale, int len, out int i0, out int i1, out float w) {
    float f = (float(d) + 0.5) * scale - 0.5;
    int s = int(floor(f));
    float t = f - float(s);
    if (s < 0) { s = 0; t = 0.0; }
    if (s >= len - 1) { s = len - 1; t = 0.0; }
    i0 = s; i1 = min(s + 1, len - 1); w = t;
}

// Vertical blend of rows y0/y1 at column element e, then the two horizontal taps blended.
float sample2(uint off, int stride, int step, int comp, int x0, int x1, float wx, int y0, int y1, float wy) {
    uint r0 = off + uint(y0 * stride), r1 = off + uint(y1 * stride);
    uint e0 = uint(x0 * step + comp), e1 = uint(x1 * step + comp);
    float a0 = px(r0 + e0), a1 = px(r0 + e1);
    float v0 = a0 + (px(r1 + e0) - a0) * wy;
    float v1 = a1 + (px(r1 + e1) - a1) * wy;
    return v0 + (v1 - v0) * wx;
}

void main() {
    int ox = int(gl_GlobalInvocationID.x), oy = int(gl_GlobalInvocationID.y);
    if (ox >= tw || oy >= th) return;
    int plane = tw * th, o = oy * tw + ox;
    if (ox >= nw || oy >= nh) {
        dst[o] = padNorm.x; dst[plane + o] = padNorm.y; dst[2 * plane + o] = padNorm.z;
        return;
    }
    int cw = (srcW + 1) / 2, ch = (srcH + 1) / 2;
    int lx0, lx1, ly0, ly1, cx0, cx1, cy0, cy1; float lwx, lwy, cwx, cwy;
    axis(ox, scaleX, srcW, lx0, lx1, lwx);
    axis(oy, scaleY, srcH, ly0, ly1, lwy);
    axis(ox, scaleX * 0.5, cw, cx0, cx1, cwx);
    axis(oy, scaleY * 0.5, ch, cy0, cy1, cwy);
    float Y = sample2(off0, stride0, 1, 0, lx0, lx1, lwx, ly0, ly1, lwy);
    float U, V;
    if (nv12 != 0) {
        U = sample2(off1, stride1, 2, 0, cx0, cx1, cwx, cy0, cy1, cwy);
        V = sample2(off1, stride1, 2, 1, cx0, cx1, cwx, cy0, cy1, cwy);
    } else {
        U = sample2(off1, stride1, 1, 0, cx0, cx1, cwx, cy0, cy1, cwy);
        V = sample2(off2, stride2, 1, 0, cx0, cx1, cwx, cy0, cy1, cwy);
    }
    float yy = Y * ycoef.x + ycoef.y, u = U - 128.0, v = V - 128.0;
    float B = clamp(yy + u * ccoef.x, 0.0, 255.0);
    float G = clamp(yy + u * ccoef.y + v * ccoef.z, 0.0, 255.0);
    float R = clamp(yy + v * ccoef.w, 0.0, 255.0);
    vec3 c = rgb != 0 ? vec3(R, G, B) : vec3(B, G, R);
    dst[o] = (c.x - mean.x) * invStd.x;
    dst[plane + o] = (c.y - mean.y) * invStd.y;
    dst[2 * plane + o] = (c.z - mean.z) * invStd.z;
}
