// Convolution backward-data as an implicit GEMM: M = input channels, N =
// input pixels, K = co x (taps that reach the pixel).
//
// A strided convolution is split into stride^2 parity classes (work group
// z): pixels with iy % s == py, ix % s == px receive exactly the taps
// ky = (py + pad) % s + s*t, so no multiply is wasted on taps that skip a
// pixel, and oy = qy + (py + pad - ky) / s is a per-tap constant offset.
// Layout of work and SHMEM as in conv_fwd.comp, with dy in place of x and
// the weights read transposed (w[co][ci0 + i][tap]).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/conv_push.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int TM = 8;
layout(constant_id = 2) const int TN = 4;
layout(constant_id = 3) const int SHMEM = 0;
layout(constant_id = 4) const int CK = 16;

layout(std430, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, binding = 1) readonly buffer W { float wt[]; };
layout(std430, binding = 2) buffer DX { float dx[]; };

shared float wsh[TM * CK];

void main()
{
	const int WG = int(gl_WorkGroupSize.x);
	const int lane = int(gl_LocalInvocationID.x);
	const int s = p.stride;
	const int cls = int(gl_WorkGroupID.z);
	const int py = cls / s, px = cls - (cls / s) * s;
	const int hc = (p.h - py + s - 1) / s, wc = (p.w - px + s - 1) / s;
	const int ohw = p.oh * p.ow, hw = p.h * p.w, kk = p.kh * p.kw;
	const int nq = p.n * hc * wc;
	const int ci0 = int(gl_WorkGroupID.y) * TM;
	const int q0 = int(gl_WorkGroupID.x) * WG * TN + lane;

	if (hc <= 0 || wc <= 0 || int(gl_WorkGroupID.x) * WG * TN >= nq)
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
		db[j] = int(p.y_off) + nn * int(p.y_ns);
		ob[j] = int(p.x_off) + nn * int(p.x_ns) + (qy[j] * s + py) * p.w + qx[j] * s + px;
	}
	int wcol[TM];
	for (int i = 0; i < TM; i++)
		wcol[i] = int(p.w_off) + min(ci0 + i, p.ci - 1) * kk;
	const int wco = p.ci * kk; // weight stride of one output channel

	float acc[TM * TN];
	for (int i = 0; i < TM * TN; i++)
		acc[i] = 0.0;

	for (int ky = (py + p.pad) % s; ky < p.kh; ky += s) {
		const int dyo = (py + p.pad - ky) / s;
		for (int kx = (px + p.pad) % s; kx < p.kw; kx += s) {
			const int dxo = (px + p.pad - kx) / s;
			int a[TN];
			float m[TN];
			for (int j = 0; j < TN; j++) {
				int oy = qy[j] + dyo, ox = qx[j] + dxo;
				bool ok = qok[j] && oy >= 0 && oy < p.oh && ox >= 0 && ox < p.ow;
				a[j] = ok ? db[j] + oy * p.ow + ox : int(p.y_off);
				m[j] = ok ? 1.0 : 0.0;
			}
			const int tap = ky * p.kw + kx;
			if (SHMEM == 0) {
				for (int c = 0; c < p.co; c++) {
					float gv[TN], wv[TM];
					for (int j = 0; j < TN; j++)
						gv[j] = dy[a[j] + c * ohw] * m[j];
					for (int i = 0; i < TM; i++)
						wv[i] = wt[wcol[i] + c * wco + tap];
					for (int i = 0; i < TM; i++)
						for (int j = 0; j < TN; j++)
							acc[i * TN + j] = fma(wv[i], gv[j], acc[i * TN + j]);
				}
			} else {
				for (int c0 = 0; c0 < p.co; c0 += CK) {
					barrier();
					for (int e = lane; e < TM * CK; e += WG) {
						int i = e / CK, c = c0 + e - i * CK;
						wsh[e] = c < p.co ? wt[wcol[i] + c * wco + tap] : 0.0;
					}
					barrier();
					const int cn = min(CK, p.co - c0);
					for (int c = 0; c < cn; c++) {
						float gv[TN];
						for (int j = 0; j < TN; j++)
							gv[j] = dy[a[j] + (c0 + c) * ohw] * m[j];
						for (int i = 0; i < TM; i++) {
							float wv = wsh[i * CK + c];
							for (int j = 0; j < TN; j++)
								acc[i * TN + j] = fma(wv, gv[j], acc[i * TN + j]);
						}
					}
				}
			}
		}
	}

	for (int i = 0; i < TM; i++) {
		const int ci = ci0 + i;
		if (ci >= p.ci)
			break;
		for (int j = 0; j < TN; j++) {
			if (!qok[j])
				continue;
			int o = ob[j] + ci * hw;
			float v = acc[i * TN + j];
			if ((p.flags & PF_ACC) != 0)
				v += dx[o];
			dx[o] = v;
		}
	}
}
