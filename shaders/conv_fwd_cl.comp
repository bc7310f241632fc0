// Convolution forward for CPU devices (lavapipe): an implicit GEMM over
// channels-last copies of the input (xc[img][iy][ix][ci4]) and the weights
// (wc[ci][tap][co4]), both made by to_cl.comp, so every operand load is a
// vec4: 4 input channels of one pixel, or 4 output channels of one weight.
//
// Why: lavapipe turns every storage-buffer load into a loop over the SIMD
// lanes with a branch per component, whatever the address, so the cost of
// the kernel is the number of load instructions, not the FMAs.  With TN
// pixels x 4*TM4 output channels per invocation, one step of 4 input
// channels issues TN + 4*TM4 vec4 loads for 16*TN*TM4 vector FMAs (the
// ratio of the fastest SGEMM tiling).  Pixels of an invocation are WG
// apart, so lanes of a work group load adjacent pixels.  Per tap, the address and padding mask of each
// pixel are computed once.  Epilogue as in conv_fwd.comp.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/conv_push.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int TM4 = 2;
layout(constant_id = 2) const int TN = 8;

layout(std430, binding = 0) readonly buffer X { vec4 x4[]; };
layout(std430, binding = 1) readonly buffer W { vec4 w4[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
layout(std430, binding = 3) readonly buffer A { float aux[]; };

void main()
{
	const int WG = int(gl_WorkGroupSize.x);
	const int lane = int(gl_LocalInvocationID.x);
	const int ohw = p.oh * p.ow, kk = p.kh * p.kw;
	const int nc4 = (p.ci + 3) / 4, nco4 = (p.co + 3) / 4;
	const int npix = p.n * ohw;
	// Work group x = pixel block * channel blocks + channel block: the
	// channel blocks of one pixel block run back to back (on a CPU device,
	// in one thread), so its input pixels are read from memory once and
	// then hit the caches, not once per channel block.
	const int ncb = (nco4 + TM4 - 1) / TM4;
	const int gid = int(gl_WorkGroupID.x);
	const int cb0 = (gid % ncb) * TM4; // first vec4 block of output channels
	const int q0 = (gid / ncb) * WG * TN + lane;
	const int xo = int(p.x_off) / 4, wo = int(p.w_off) / 4;

	int xb[TN], yb[TN], iy0[TN], ix0[TN];
	bool qok[TN];
	for (int j = 0; j < TN; j++) {
		int q = q0 + j * WG;
		qok[j] = q < npix;
		int qq = qok[j] ? q : 0;
		int nn = qq / ohw, r = qq - nn * ohw;
		int oy = r / p.ow, ox = r - oy * p.ow;
		xb[j] = xo + nn * p.h * p.w * nc4;
		yb[j] = int(p.y_off) + nn * int(p.y_ns) + r;
		iy0[j] = oy * p.stride - p.pad;
		ix0[j] = ox * p.stride - p.pad;
	}
	int wb[TM4];
	for (int i = 0; i < TM4; i++)
		wb[i] = wo + min(cb0 + i, nco4 - 1);

	vec4 acc[TN * TM4];
	for (int e = 0; e < TN * TM4; e++)
		acc[e] = vec4(0.0);

	for (int ky = 0; ky < p.kh; ky++) {
		for (int kx = 0; kx < p.kw; kx++) {
			int a[TN];
			float m[TN];
			for (int j = 0; j < TN; j++) {
				int iy = iy0[j] + ky, ix = ix0[j] + kx;
				bool ok = qok[j] && iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
				a[j] = ok ? xb[j] + (iy * p.w + ix) * nc4 : xo;
				m[j] = ok ? 1.0 : 0.0;
			}
			const int tap = ky * p.kw + kx;
			for (int c4 = 0; c4 < nc4; c4++) {
				vec4 xv[TN];
				for (int j = 0; j < TN; j++)
					xv[j] = x4[a[j] + c4] * m[j];
				// rows c = 4*c4 + cc of wc, each nco4 vec4s long
				const int wr = ((4 * c4) * kk + tap) * nco4;
				for (int cc = 0; cc < 4; cc++) {
					vec4 wv[TM4];
					for (int i = 0; i < TM4; i++)
						wv[i] = w4[wb[i] + wr + cc * kk * nco4];
					for (int j = 0; j < TN; j++)
						for (int i = 0; i < TM4; i++)
							acc[j * TM4 + i] = fma(vec4(xv[j][cc]), wv[i], acc[j * TM4 + i]);
				}
			}
		}
	}

	// No early exits, and the epilogue in two loop nests (scale/shift/SiLU
	// in place, then the stores): one nest with everything was too large
	// for the compiler to unroll at TN = 6, and then acc[] is indexed
	// dynamically and lives in memory (3-4x slower on lavapipe).
	if ((p.flags & (PF_BIAS | PF_AFFINE | PF_SILU)) != 0) {
		for (int i = 0; i < TM4; i++) {
			vec4 sc = vec4(1.0), sh = vec4(0.0);
			const int c0 = min((cb0 + i) * 4, (nco4 - 1) * 4);
			for (int cc = 0; cc < 4; cc++) {
				const int co = min(c0 + cc, p.co - 1);
				if ((p.flags & PF_BIAS) != 0)
					sh[cc] = aux[p.b_off + co];
				if ((p.flags & PF_AFFINE) != 0) {
					sc[cc] = aux[p.b_off + co];
					sh[cc] = aux[p.b_off + p.co + co];
				}
			}
			for (int j = 0; j < TN; j++) {
				vec4 v = fma(acc[j * TM4 + i], sc, sh);
				if ((p.flags & PF_SILU) != 0)
					v = v / (1.0 + exp(-v));
				acc[j * TM4 + i] = v;
			}
		}
	}
	for (int i = 0; i < TM4; i++)
		for (int cc = 0; cc < 4; cc++) {
			const int co = (cb0 + i) * 4 + cc;
			for (int j = 0; j < TN; j++) {
				if (qok[j] && co < p.co) {
					const int o = yb[j] + co * ohw;
					float v = acc[j * TM4 + i][cc];
					if ((p.flags & PF_ACC) != 0)
						v += y[o];
					y[o] = v;
				}
			}
		}
}
