// Convolution backward-weight for CPU devices (lavapipe), kernels of width
// KW <= 3 and stride S in {1, 2}: over the same channels-last copies as
// conv_bwd_weight_cl.comp (dyc[img][oy][ox][co4], xc[img][iy][ix][ci4]),
// but a lane owns one block of 4 output x 4 input channels and ALL KW taps
// of one kernel row ky (work group z = ky + kh * split), so it walks the
// output pixels of its rows with a sliding window of KW input pixels.
//
// Why: lavapipe pays per load instruction, not per FMA (see
// conv_fwd_cl.comp).  conv_bwd_weight_cl.comp issues 3 vec4 loads per pixel
// for 8 vec4 FMAs; here consecutive output pixels share KW - S of their
// input pixels, so a step loads 1 vec4 of dy and S vec4s of x for 4 * KW
// vec4 FMAs (12 FMAs for 2 loads at stride 1, for 3 at stride 2), with 12
// accumulators, under the register cliff (16 run 3-5x slower).
//
// Every lane of a work group reads the same pixels (other channels), so
// the padding tests are uniform.  Split-K over rows of output pixels and
// the output (partial slices or PF_ACC) as in conv_bwd_weight_cl.comp.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/conv_push.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int KW = 3; // == p.kw
layout(constant_id = 2) const int S = 1;  // == p.stride

layout(std430, binding = 0) readonly buffer DY { vec4 dy4[]; };
layout(std430, binding = 1) readonly buffer X { vec4 x4[]; };
layout(std430, binding = 2) buffer DW { float dw[]; };

// Input pixel ix of the row starting at xrow (channel block xc), 0 in the padding.
vec4 xpix(int xrow, int ix, int nc4, int xc)
{
	vec4 v = vec4(0.0);
	if (ix >= 0 && ix < p.w)
		v = x4[xrow + ix * nc4 + xc];
	return v;
}

void main()
{
	const int kk = p.kh * p.kw;
	const int nc4 = (p.ci + 3) / 4, nco4 = (p.co + 3) / 4;
	const int nblocks = nco4 * nc4;
	const int id = int(gl_GlobalInvocationID.x);
	const bool live = id < nblocks;
	const int bid = live ? id : 0;
	// consecutive lanes: consecutive input-channel blocks of one pixel
	const int cb = bid / nc4, xc = bid - (bid / nc4) * nc4;
	const int ky = int(gl_WorkGroupID.z) % p.kh;
	const int split = int(gl_WorkGroupID.z) / p.kh;
	const int rows = p.n * p.oh;
	const int r0 = split * p.k_split, r1 = min(r0 + p.k_split, rows);
	const int xo = int(p.x_off) / 4, yo = int(p.y_off) / 4;

	vec4 acc[4 * KW];
	for (int e = 0; e < 4 * KW; e++)
		acc[e] = vec4(0.0);

	int n = r0 / p.oh, oy = r0 - (r0 / p.oh) * p.oh;
	for (int r = r0; r < r1; r++) {
		const int iy = oy * S + ky - p.pad;
		if (iy >= 0 && iy < p.h) {
			const int xrow = xo + (n * p.h + iy) * p.w * nc4;
			const int grow = yo + (n * p.oh + oy) * p.ow * nco4 + cb;
			vec4 win[KW]; // x at ix = ox * S - pad + k
			for (int k = 0; k < KW - S; k++) // as left by an ox = -1 step
				win[k + S] = xpix(xrow, k - p.pad, nc4, xc);
			for (int ox = 0; ox < p.ow; ox++) {
				for (int k = 0; k < KW - S; k++)
					win[k] = win[k + S];
				for (int k = max(KW - S, 0); k < KW; k++)
					win[k] = xpix(xrow, ox * S - p.pad + k, nc4, xc);
				const vec4 g = dy4[grow + ox * nco4];
				for (int q = 0; q < 4; q++)
					for (int k = 0; k < KW; k++)
						acc[q * KW + k] = fma(vec4(g[q]), win[k], acc[q * KW + k]);
			}
		}
		if (++oy == p.oh) {
			oy = 0;
			n++;
		}
	}

	// No early exits (guards instead): the loops must stay simple enough for
	// the compiler to unroll them, or acc[] is indexed dynamically and lives
	// in memory (see conv1x1.comp).
	const uint sbase = p.n_split > 1 ? p.o_off + uint(split * p.co * p.ci * kk) : p.o_off;
	const bool add = p.n_split <= 1 && (p.flags & PF_ACC) != 0;
	for (int q = 0; q < 4; q++) {
		const int co = cb * 4 + q;
		for (int k = 0; k < KW; k++)
			for (int c = 0; c < 4; c++) {
				const int ci = xc * 4 + c;
				if (live && co < p.co && ci < p.ci) {
					const uint o = sbase + uint((co * p.ci + ci) * kk + ky * p.kw + k);
					float v = acc[q * KW + k][c];
					if (add)
						v += dw[o];
					dw[o] = v;
				}
			}
	}
}
