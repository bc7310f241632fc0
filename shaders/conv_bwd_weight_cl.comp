// Convolution backward-weight for CPU devices (lavapipe): conv_bwd_weight.comp
// over channels-last copies of dy (dyc[img][oy][ox][co4]) and x
// (xc[img][iy][ix][ci4]) made by to_cl.comp, so each pixel step loads TM4
// vec4s of dy and TN4 vec4s of x (4 channels each) for 16 * TM4 * TN4
// FMAs: lavapipe pays per load instruction, not per FMA (see
// conv_fwd_cl.comp).  Work layout, uniform pixel walk, split-K and output as
// in conv_bwd_weight.comp; a lane owns 4*TM4 output x 4*TN4 input channels.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/conv_push.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int TM4 = 2;
layout(constant_id = 2) const int TN4 = 1;

layout(std430, binding = 0) readonly buffer DY { vec4 dy4[]; };
layout(std430, binding = 1) readonly buffer X { vec4 x4[]; };
layout(std430, binding = 2) buffer DW { float dw[]; };

void main()
{
	const int kk = p.kh * p.kw;
	const int nc4 = (p.ci + 3) / 4, nco4 = (p.co + 3) / 4;
	const int nci = (nc4 + TN4 - 1) / TN4;
	const int nblocks = ((nco4 + TM4 - 1) / TM4) * nci;
	const int id = int(gl_GlobalInvocationID.x);
	const bool live = id < nblocks;
	const int bid = live ? id : 0;
	const int cb0 = (bid / nci) * TM4, xb0 = (bid - (bid / nci) * nci) * TN4;
	const int tap = int(gl_WorkGroupID.z) % kk;
	const int split = int(gl_WorkGroupID.z) / kk;
	const int ky = tap / p.kw, kx = tap - (tap / p.kw) * p.kw;
	const int rows = p.n * p.oh;
	const int r0 = split * p.k_split, r1 = min(r0 + p.k_split, rows);
	const int ox0 = max(0, (p.pad - kx + p.stride - 1) / p.stride);
	const int ox1 = min(p.ow, (p.w - 1 + p.pad - kx) / p.stride + 1);
	const int xo = int(p.x_off) / 4, yo = int(p.y_off) / 4;

	int xc[TN4], gc[TM4];
	for (int j = 0; j < TN4; j++)
		xc[j] = min(xb0 + j, nc4 - 1);
	for (int i = 0; i < TM4; i++)
		gc[i] = min(cb0 + i, nco4 - 1);

	vec4 acc[4 * TM4 * TN4];
	for (int e = 0; e < 4 * TM4 * TN4; e++)
		acc[e] = vec4(0.0);

	int n = r0 / p.oh, oy = r0 - (r0 / p.oh) * p.oh;
	for (int r = r0; r < r1; r++) {
		const int iy = oy * p.stride + ky - p.pad;
		if (iy >= 0 && iy < p.h) {
			const int xrow = xo + ((n * p.h + iy) * p.w + kx - p.pad) * nc4;
			const int grow = yo + (n * p.oh + oy) * p.ow * nco4;
			for (int ox = ox0; ox < ox1; ox++) {
				const int xa = xrow + ox * p.stride * nc4, ga = grow + ox * nco4;
				vec4 xv[TN4], gv[TM4];
				for (int j = 0; j < TN4; j++)
					xv[j] = x4[xa + xc[j]];
				for (int i = 0; i < TM4; i++)
					gv[i] = dy4[ga + gc[i]];
				for (int i = 0; i < TM4; i++)
					for (int q = 0; q < 4; q++)
						for (int j = 0; j < TN4; j++)
							acc[(i * 4 + q) * TN4 + j] =
								fma(vec4(gv[i][q]), xv[j], acc[(i * 4 + q) * TN4 + j]);
			}
		}
		if (++oy == p.oh) {
			oy = 0;
			n++;
		}
	}

	if (!live)
		return;
	for (int i = 0; i < TM4; i++)
		for (int q = 0; q < 4; q++) {
			const int co = (cb0 + i) * 4 + q;
			if (co >= p.co)
				break;
			for (int j = 0; j < TN4; j++)
				for (int c = 0; c < 4; c++) {
					const int ci = (xb0 + j) * 4 + c;
					if (ci >= p.ci)
						break;
					const int idx = (co * p.ci + ci) * kk + tap;
					float v = acc[(i * 4 + q) * TN4 + j][c];
					if (p.n_split > 1) {
						dw[p.o_off + split * p.co * p.ci * kk + idx] = v;
					} else {
						const int o = int(p.o_off) + idx;
						if ((p.flags & PF_ACC) != 0)
							v += dw[o];
						dw[o] = v;
					}
				}
		}
}
