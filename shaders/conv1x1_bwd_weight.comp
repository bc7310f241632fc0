// 1x1 stride-1 unpadded convolution, backward-weight, on the NCHW tensors:
//   dw[co][ci] (+)= sum_z sum_q dy[z][co][q] * x[z][ci][q]
// Both operands are read along q (the pixels, hw a multiple of 4, offsets
// too: the caller checks), so every load is a vec4 and no channels-last
// copy is made.  Each invocation owns TM output channels x TN input
// channels: TM + TN vec4 loads per 4 pixels for TM * TN dot products (the
// load-to-FMA ratio of the best gemm.comp tiling at TM = TN = 8).
// Work group z takes the pixel quads [z * kq, z * kq + kq) of the chunk's
// images taken in order (cnt * hw4 quads) and writes its own partial sum
// slice at o_off + z * co * ci (summed by sum_slices.comp), or dw itself
// when there is one slice.  The caller keeps kq small enough (a few
// thousand pixels) that the sequential float sums stay accurate.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int TM = 8;
layout(constant_id = 2) const int TN = 8;

layout(push_constant) uniform Push {
	int co, ci, hw4, cnt, kq;
	uint y_off, y_ns, x_off, x_ns, o_off;
	uint flags;
} p;
layout(std430, binding = 0) readonly buffer DY { vec4 dy4[]; };
layout(std430, binding = 1) readonly buffer X { vec4 x4[]; };
layout(std430, binding = 2) buffer DW { float dw[]; };

void main()
{
	const int nbc = (p.ci + TN - 1) / TN, nbr = (p.co + TM - 1) / TM;
	const int blk = int(gl_GlobalInvocationID.x);
	if (blk >= nbc * nbr)
		return;
	const int r0 = (blk / nbc) * TM, c0 = (blk - (blk / nbc) * nbc) * TN;
	const int z = int(gl_WorkGroupID.z);
	const int g0 = z * p.kq, g1 = min(g0 + p.kq, p.cnt * p.hw4);

	float acc[TM * TN];
	for (int e = 0; e < TM * TN; e++)
		acc[e] = 0.0;

	for (int nn = g0 / p.hw4; nn * p.hw4 < g1; nn++) {
		const int qa = max(g0 - nn * p.hw4, 0), qb = min(g1 - nn * p.hw4, p.hw4);
		int ya[TM], xa[TN];
		for (int i = 0; i < TM; i++)
			ya[i] = int(p.y_off + uint(nn) * p.y_ns) / 4 + min(r0 + i, p.co - 1) * p.hw4;
		for (int j = 0; j < TN; j++)
			xa[j] = int(p.x_off + uint(nn) * p.x_ns) / 4 + min(c0 + j, p.ci - 1) * p.hw4;
		for (int q = qa; q < qb; q++) {
			vec4 yv[TM], xv[TN];
			for (int i = 0; i < TM; i++)
				yv[i] = dy4[ya[i] + q];
			for (int j = 0; j < TN; j++)
				xv[j] = x4[xa[j] + q];
			for (int i = 0; i < TM; i++)
				for (int j = 0; j < TN; j++)
					acc[i * TN + j] += dot(yv[i], xv[j]);
		}
	}

	const uint base = p.o_off + uint(z * p.co * p.ci);
	for (int i = 0; i < TM; i++) {
		if (r0 + i >= p.co)
			break;
		for (int j = 0; j < TN; j++) {
			if (c0 + j >= p.ci)
				break;
			const uint o = base + uint((r0 + i) * p.ci + c0 + j);
			float v = acc[i * TN + j];
			if ((p.flags & PF_ACC) != 0)
				v += dw[o];
			dw[o] = v;
		}
	}
}
