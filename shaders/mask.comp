#version 450
// Case-4 mask on one plane of a YUV420P picture, in place. One dispatch per box and plane, in the
// CPU Masker's order (later boxes see earlier masks). The geometry (expanded, clipped, even-snapped
// rectangle and the mosaic cell) comes from Ephemera.Anonymisation.Masker on the host, so only the
// pixel work is here:
//   mode 0, solid fill: every pixel of the rectangle = value;
//   mode 1, mosaic: one workgroup per cell sums it, then sets it to its rounded mean.
#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int8 : require

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) buffer Img { uint8_t img[]; };

layout(push_constant) uniform Box {
    uint off;      // plane byte offset inside Img
    int stride;
    int x0, y0;    // rectangle in this plane's pixels
    int w, h;
    int cell;      // mosaic cell side in this plane's pixels (mode 1)
    int mode;      // 0 solid, 1 mosaic
    uint value;    // fill value (mode 0)
};

shared uint partial[64];

void main() {
    uint lid = gl_LocalInvocationID.x;
    if (mode == 0) {
        // Workgroups stride over the rectangle's rows; threads over its columns.
        for (int r = int(gl_WorkGroupID.x); r < h; r += int(gl_NumWorkGroups.x)) {
            uint row = off + uint((y0 + r) * stride + x0);
            for (int c = int(lid); c < w; c += 64) img[row + uint(c)] = uint8_t(value);
        }
        return;
    }
    int cellsX = (w + cell - 1) / cell;
    int ci = int(gl_WorkGroupID.x);
    int cx = x0 + (ci % cellsX) * cell, cy = y0 + (ci / cellsX) * cell;
    int cw = min(cell, x0 + w - cx), ch = min(cell, y0 + h - cy);
    if (cw <= 0 || ch <= 0) return; // uniform across the workgroup
    uint n = uint(cw * ch), sum = 0u;
    for (uint i = lid; i < n; i += 64u) {
        int r = int(i) / cw, c = int(i) % cw;
        sum += uint(img[off + uint((cy + r) * stride + cx + c)]);
    }
    partial[lid] = sum;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (lid < s) partial[lid] += partial[lid + s];
        barrier();
    }
    uint mean = (partial[0] + n / 2u) / n;
    for (uint i = lid; i < n; i += 64u) {
        int r = int(i) / cw, c = int(i) % cw;
        img[off + uint((cy + r) * stride + cx + c)] = uint8_t(mean);
    }
}
