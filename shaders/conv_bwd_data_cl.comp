// Convolution backward-data for CPU devices (lavapipe): conv_bwd_data.comp's
// parity classes over channels-last copies of dy (dyc[img][oy][ox][co4],
// to_cl.comp) and of the weights (wc[co][tap][ci4], to_cl.comp per output
// channel), so every operand load is a vec4 (see conv_fwd_cl.comp).
//
// Each work group serves one parity class (py, px) of the dx pixels: they
// receive exactly the taps ky = (py + pad) % s + s*t, from dy row qy + (py +
// pad - ky) / s.  Each invocation owns TN dx pixels (WG apart) x 4*TM4 input
// channels.  The channel blocks of a pixel block are consecutive work
// groups, so they find its dy in the caches (see conv_fwd_cl.comp).
//
// The class is work group x modulo s*s, not a dispatch dimension of its own:
// lavapipe hands each of its threads one contiguous range of the work
// groups (in x, y, z order), and the classes differ in cost (at stride 2,
// pad 1: 1, 2, 2 and 4 taps), so classes in z left one thread with twice
// the work of the other (1.5 of 2 cores busy, measured).  Interleaved, every
// range gets the same mix.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/conv_push.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int TM4 = 2;
layout(constant_id = 2) const int TN = 4;

layout(std430, binding = 0) readonly buffer DY { vec4 dy4[]; };
layout(std430, binding = 1) readonly buffer W { vec4 w4[]; };
layout(std430, binding = 2) buffer DX { float dx[]; };

void main()
{
	const int WG = int(gl_WorkGroupSize.x);
	const int lane = int(gl_LocalInvocationID.x);
	const int s = p.stride;
	// work group x = (pixel block * channel blocks + channel block) * s*s + class
	const int ncb = ((p.ci + 3) / 4 + TM4 - 1) / TM4;
	const int cls = int(gl_WorkGroupID.x) % (s * s);
	const int gq = int(gl_WorkGroupID.x) / (s * s);
	const int blk = gq / ncb; // block of the class's pixels
	const int py = cls / s, px = cls - (cls / s) * s;
	const int hc = (p.h - py + s - 1) / s, wc = (p.w - px + s - 1) / s;
	const int hw = p.h * p.w, kk = p.kh * p.kw;
	const int nco4 = (p.co + 3) / 4, nci4 = (p.ci + 3) / 4;
	const int nq = p.n * hc * wc;
	const int cb0 = (gq - blk * ncb) * TM4;
	const int q0 = blk * WG * TN + lane;
	const int yo = int(p.y_off) / 4, wo = int(p.w_off) / 4;

	if (hc <= 0 || wc <= 0 || blk * WG * TN >= nq)
		return; // uniform per work group
	int db[TN], ob[TN], qy[TN], qx[TN];
	bool qok[TN];
	for (int j = 0; j < TN; j++) {
		int q = q0 + j * WG;
		qok[j] = q < nq;
		int qq = qok[j] ? q : 0;
		int nn = qq / (hc * wc), r = qq - nn * (hc * wc);
		qy[j] = r / wc;
		qx[j] = r - qy[j] * wc;
		db[j] = yo + nn * p.oh * p.ow * nco4;
		ob[j] = int(p.x_off) + nn * int(p.x_ns) + (qy[j] * s + py) * p.w + qx[j] * s + px;
	}
	int wb[TM4];
	for (int i = 0; i < TM4; i++)
		wb[i] = wo + min(cb0 + i, nci4 - 1);

	vec4 acc[TN * TM4];
	for (int e = 0; e < TN * TM4; e++)
		acc[e] = vec4(0.0);

	for (int ky = (py + p.pad) % s; ky < p.kh; ky += s) {
		const int dyo = (py + p.pad - ky) / s;
		for (int kx = (px + p.pad) % s; kx < p.kw; kx += s) {
			const int dxo = (px + p.pad - kx) / s;
			int a[TN];
			float m[TN];
			for (int j = 0; j < TN; j++) {
				int oy = qy[j] + dyo, ox = qx[j] + dxo;
				bool ok = qok[j] && oy >= 0 && oy < p.oh && ox >= 0 && ox < p.ow;
				a[j] = ok ? db[j] + (oy * p.ow + ox) * nco4 : yo;
				m[j] = ok ? 1.0 : 0.0;
			}
			const int tap = ky * p.kw + kx;
			for (int c4 = 0; c4 < nco4; c4++) {
				vec4 gv[TN];
				for (int j = 0; j < TN; j++)
					gv[j] = dy4[a[j] + c4] * m[j];
				// rows co = 4*c4 + cc of wc, each nci4 vec4s long
				const int wr = ((4 * c4) * kk + tap) * nci4;
				for (int cc = 0; cc < 4; cc++) {
					vec4 wv[TM4];
					for (int i = 0; i < TM4; i++)
						wv[i] = w4[wb[i] + wr + cc * kk * nci4];
					for (int j = 0; j < TN; j++)
						for (int i = 0; i < TM4; i++)
							acc[j * TM4 + i] = fma(vec4(gv[j][cc]), wv[i], acc[j * TM4 + i]);
				}
			}
		}
	}

	for (int i = 0; i < TM4; i++)
		for (int cc = 0; cc < 4; cc++) {
			const int ci = (cb0 + i) * 4 + cc;
			if (ci >= p.ci)
				break;
			for (int j = 0; j < TN; j++) {
				if (!qok[j])
					continue;
				int o = ob[j] + ci * hw;
				float v = acc[j * TM4 + i][cc];
				if ((p.flags & PF_ACC) != 0)
					v += dx[o];
				dx[o] = v;
			}
		}
}
