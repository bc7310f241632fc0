// Convolution backward-weight as an implicit GEMM: M = co, N = ci (one tap
// per work group), K = output pixels of all images.
//
// Each lane owns a TM x TN block of (co, ci) for the work group's tap and
// walks all its K pixels itself, so there is no cross-lane reduction and
// no barrier (barriers are expensive on CPU devices).  The pixel walk is
// the same for every lane (row by row, with the valid column range of the
// tap computed once per row), so its index arithmetic is uniform.  Work
// group z also splits K into row ranges (split-K): split s writes partial
// sums to its own slice and sum_slices.comp adds the slices in order.  No
// float atomics: the result is the same bit for bit on every run.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/conv_push.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int TM = 4;
layout(constant_id = 2) const int TN = 4;

layout(std430, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) buffer DW { float dw[]; };

void main()
{
	const int ohw = p.oh * p.ow, hw = p.h * p.w, kk = p.kh * p.kw;
	const int nci = (p.ci + TN - 1) / TN;
	const int nblocks = ((p.co + TM - 1) / TM) * nci;
	const int id = int(gl_GlobalInvocationID.x);
	const bool live = id < nblocks;
	const int bid = live ? id : 0;
	const int co0 = (bid / nci) * TM, ci0 = (bid - (bid / nci) * nci) * TN;
	const int tap = int(gl_WorkGroupID.z) % kk;
	const int split = int(gl_WorkGroupID.z) / kk;
	const int ky = tap / p.kw, kx = tap - (tap / p.kw) * p.kw;
	const int rows = p.n * p.oh;
	const int r0 = split * p.k_split, r1 = min(r0 + p.k_split, rows);
	// columns ox whose input column ix = ox * s + kx - pad is inside [0, w)
	const int ox0 = max(0, (p.pad - kx + p.stride - 1) / p.stride);
	const int ox1 = min(p.ow, (p.w - 1 + p.pad - kx) / p.stride + 1);

	int xc[TN], gc[TM];
	for (int j = 0; j < TN; j++)
		xc[j] = min(ci0 + j, p.ci - 1) * hw;
	for (int i = 0; i < TM; i++)
		gc[i] = min(co0 + i, p.co - 1) * ohw;

	float acc[TM * TN];
	for (int e = 0; e < TM * TN; e++)
		acc[e] = 0.0;

	int n = r0 / p.oh, oy = r0 - (r0 / p.oh) * p.oh;
	for (int r = r0; r < r1; r++) {
		const int iy = oy * p.stride + ky - p.pad;
		if (iy >= 0 && iy < p.h) {
			const int xrow = int(p.x_off) + n * int(p.x_ns) + iy * p.w + kx - p.pad;
			const int grow = int(p.y_off) + n * int(p.y_ns) + oy * p.ow;
			for (int ox = ox0; ox < ox1; ox++) {
				const int xa = xrow + ox * p.stride, ga = grow + ox;
				float xv[TN], gv[TM];
				for (int j = 0; j < TN; j++)
					xv[j] = x[xa + xc[j]];
				for (int i = 0; i < TM; i++)
					gv[i] = dy[ga + gc[i]];
				for (int i = 0; i < TM; i++)
					for (int j = 0; j < TN; j++)
						acc[i * TN + j] = fma(gv[i], xv[j], acc[i * TN + j]);
			}
		}
		if (++oy == p.oh) {
			oy = 0;
			n++;
		}
	}

	if (!live)
		return;
	for (int i = 0; i < TM; i++) {
		const int co = co0 + i;
		if (co >= p.co)
			break;
		for (int j = 0; j < TN; j++) {
			const int ci = ci0 + j;
			if (ci >= p.ci)
				break;
			const int idx = (co * p.ci + ci) * kk + tap;
			float v = acc[i * TN + j];
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
