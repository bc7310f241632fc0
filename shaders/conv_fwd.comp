// Convolution forward as an implicit GEMM: M = output channels, N = output
// pixels (all images), K = ci * kh * kw, never materialised (no im2col).
//
// Each invocation owns TM output channels x TN pixels (pixels WG apart, so a
// work group's loads of one tap are contiguous).  The channel block is the
// same for the whole work group, so weight loads are uniform.  Per tap the
// input address and the padding mask of each pixel are computed once; the
// inner loop over input channels is then one add per operand.
//
// SHMEM = 0 (lavapipe, CPUs): weights are read straight from the buffer.
// SHMEM = 1 (GPUs): each tap stages a TM x CK weight tile in shared memory.
// Epilogue: + bias or * scale + shift (folded batch norm), SiLU, accumulate.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/conv_push.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int TM = 8;
layout(constant_id = 2) const int TN = 4;
layout(constant_id = 3) const int SHMEM = 0;
layout(constant_id = 4) const int CK = 16;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float wt[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
layout(std430, binding = 3) readonly buffer A { float aux[]; };

shared float wsh[TM * CK];

void main()
{
	const int WG = int(gl_WorkGroupSize.x);
	const int lane = int(gl_LocalInvocationID.x);
	const int ohw = p.oh * p.ow, hw = p.h * p.w, kk = p.kh * p.kw;
	const int npix = p.n * ohw;
	const int co0 = int(gl_WorkGroupID.y) * TM;
	const int q0 = int(gl_WorkGroupID.x) * WG * TN + lane;

	int xb[TN], yb[TN], iy0[TN], ix0[TN];
	bool qok[TN];
	for (int j = 0; j < TN; j++) {
		int q = q0 + j * WG;
		qok[j] = q < npix;
		int qq = qok[j] ? q : 0;
		int nn = qq / ohw, r = qq - nn * ohw;
		int oy = r / p.ow, ox = r - oy * p.ow;
		xb[j] = int(p.x_off) + nn * int(p.x_ns);
		yb[j] = int(p.y_off) + nn * int(p.y_ns) + r;
		iy0[j] = oy * p.stride - p.pad;
		ix0[j] = ox * p.stride - p.pad;
	}
	int wrow[TM];
	for (int i = 0; i < TM; i++)
		wrow[i] = int(p.w_off) + min(co0 + i, p.co - 1) * p.ci * kk;

	float acc[TM * TN];
	for (int i = 0; i < TM * TN; i++)
		acc[i] = 0.0;

	for (int ky = 0; ky < p.kh; ky++) {
		for (int kx = 0; kx < p.kw; kx++) {
			int a[TN];
			float m[TN];
			for (int j = 0; j < TN; j++) {
				int iy = iy0[j] + ky, ix = ix0[j] + kx;
				bool ok = qok[j] && iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
				a[j] = ok ? xb[j] + iy * p.w + ix : int(p.x_off);
				m[j] = ok ? 1.0 : 0.0;
			}
			const int tap = ky * p.kw + kx;
			if (SHMEM == 0) {
				for (int c = 0; c < p.ci; c++) {
					float xv[TN], wv[TM];
					for (int j = 0; j < TN; j++)
						xv[j] = x[a[j] + c * hw] * m[j];
					for (int i = 0; i < TM; i++)
						wv[i] = wt[wrow[i] + c * kk + tap];
					for (int i = 0; i < TM; i++)
						for (int j = 0; j < TN; j++)
							acc[i * TN + j] = fma(wv[i], xv[j], acc[i * TN + j]);
				}
			} else {
				for (int c0 = 0; c0 < p.ci; c0 += CK) {
					barrier();
					for (int e = lane; e < TM * CK; e += WG) {
						int i = e / CK, c = c0 + e - i * CK;
						wsh[e] = c < p.ci ? wt[wrow[i] + c * kk + tap] : 0.0;
					}
					barrier();
					const int cn = min(CK, p.ci - c0);
					for (int c = 0; c < cn; c++) {
						float xv[TN];
						for (int j = 0; j < TN; j++)
							xv[j] = x[a[j] + (c0 + c) * hw] * m[j];
						for (int i = 0; i < TM; i++) {
							float wv = wsh[i * CK + c];
							for (int j = 0; j < TN; j++)
								acc[i * TN + j] = fma(wv, xv[j], acc[i * TN + j]);
						}
					}
				}
			}
		}
	}

	for (int i = 0; i < TM; i++) {
		const int co = co0 + i;
		if (co >= p.co)
			break;
		float sc = 1.0, sh = 0.0;
		if ((p.flags & PF_BIAS) != 0)
			sh = aux[p.b_off + co];
		if ((p.flags & PF_AFFINE) != 0) {
			sc = aux[p.b_off + co];
			sh = aux[p.b_off + p.co + co];
		}
		for (int j = 0; j < TN; j++) {
			if (!qok[j])
				continue;
			float v = fma(acc[i * TN + j], sc, sh);
			if ((p.flags & PF_SILU) != 0)
				v = silu(v);
			int o = yb[j] + co * ohw;
			if ((p.flags & PF_ACC) != 0)
				v += y[o];
			y[o] = v;
		}
	}
}
