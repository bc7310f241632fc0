// Convolution backward-weight as an implicit GEMM: M = co, N = ci (one tap
// per work group), K = output pixels of all images, which is long; so the
// lanes of a work group split K among themselves (lane l takes pixels
// k0 + l, k0 + l + WG, ...) and the work group then sums its lanes in a
// fixed tree order.  When there are few (co, ci, tap) blocks, work group z
// also splits K (split-K): split s writes partial sums to its own slice and
// sum_slices.comp adds the slices.  No float atomics: the result is the same
// bit for bit on every run.
//
// A lane walks its pixels as (n, oy, ox) counters advanced by WG with
// carries, because per-pixel integer division is slow on CPU devices.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/conv_push.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const int WG = 64; // power of two
layout(constant_id = 1) const int TM = 4;
layout(constant_id = 2) const int TN = 4;

layout(std430, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) buffer DW { float dw[]; };

shared float red[TM * TN * WG];

void main()
{
	const int lane = int(gl_LocalInvocationID.x);
	const int ohw = p.oh * p.ow, hw = p.h * p.w, kk = p.kh * p.kw;
	const int npix = p.n * ohw;
	const int ci0 = int(gl_WorkGroupID.x) * TN;
	const int co0 = int(gl_WorkGroupID.y) * TM;
	const int tap = int(gl_WorkGroupID.z) % kk;
	const int split = int(gl_WorkGroupID.z) / kk;
	const int ky = tap / p.kw, kx = tap - (tap / p.kw) * p.kw;
	const int k0 = split * p.k_split;
	const int k1 = min(k0 + p.k_split, npix);

	// Decompose the step WG and the lane's first pixel once.
	const int sn = WG / ohw, sr = WG - (WG / ohw) * ohw;
	const int soy = sr / p.ow, sox = sr - (sr / p.ow) * p.ow;
	int k = k0 + lane;
	int n = k / ohw, r = k - (k / ohw) * ohw;
	int oy = r / p.ow, ox = r - (r / p.ow) * p.ow;

	int xc[TN], gc[TM];
	for (int j = 0; j < TN; j++)
		xc[j] = min(ci0 + j, p.ci - 1) * hw;
	for (int i = 0; i < TM; i++)
		gc[i] = min(co0 + i, p.co - 1) * ohw;

	float acc[TM * TN];
	for (int e = 0; e < TM * TN; e++)
		acc[e] = 0.0;

	for (; k < k1; k += WG) {
		int iy = oy * p.stride + ky - p.pad, ix = ox * p.stride + kx - p.pad;
		bool ok = iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
		int xa = ok ? int(p.x_off) + n * int(p.x_ns) + iy * p.w + ix : int(p.x_off);
		float m = ok ? 1.0 : 0.0;
		int ga = int(p.y_off) + n * int(p.y_ns) + oy * p.ow + ox;
		float xv[TN], gv[TM];
		for (int j = 0; j < TN; j++)
			xv[j] = x[xa + xc[j]] * m;
		for (int i = 0; i < TM; i++)
			gv[i] = dy[ga + gc[i]];
		for (int i = 0; i < TM; i++)
			for (int j = 0; j < TN; j++)
				acc[i * TN + j] = fma(gv[i], xv[j], acc[i * TN + j]);
		// (n, oy, ox) += WG
		ox += sox;
		if (ox >= p.ow) {
			ox -= p.ow;
			oy++;
		}
		oy += soy;
		if (oy >= p.oh) {
			oy -= p.oh;
			n++;
		}
		n += sn;
	}

	for (int e = 0; e < TM * TN; e++)
		red[e * WG + lane] = acc[e];
	barrier();
	for (int st = WG / 2; st > 0; st >>= 1) {
		if (lane < st)
			for (int e = 0; e < TM * TN; e++)
				red[e * WG + lane] += red[e * WG + lane + st];
		barrier();
	}
	if (lane < TM * TN) {
		const int i = lane / TN, j = lane - (lane / TN) * TN;
		const int co = co0 + i, ci = ci0 + j;
		if (co < p.co && ci < p.ci) {
			const int idx = (co * p.ci + ci) * kk + tap;
			float v = red[lane * WG];
			if (p.n_split > 1) {
				dw[p.o_off + split * p.co * p.ci * kk + idx] = v;
			} else {
				int o = int(p.o_off) + idx;
				if ((p.flags & PF_ACC) != 0)
					v += dw[o];
				dw[o] = v;
			}
		}
	}
}
