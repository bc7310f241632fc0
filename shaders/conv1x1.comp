// 1x1 stride-1 unpadded convolution, forward or backward-data, as a batched
// GEMM on the NCHW tensors: for image z = gl_WorkGroupID.z,
//   c[z][row][col] = epilogue(sum_k a[k][row] * b[z][k][col])
// forward:       a = w^T (ci x co4, a to_cl copy), b = x[z] (ci x hw), c = y[z]
// backward-data: a = w   (co x ci4, padded copy),  b = dy[z] (co x hw), c = dx[z]
// a is k-major with rows padded to a multiple of 4, so it loads as vec4s;
// b rows are hw long (a multiple of 4, offsets too: the caller checks), so
// the channels-last copies of x / dy that conv_fwd_cl.comp needs are not
// made (they cost as much as the GEMM when k is only 64-128).
//
// The inner loop is gemm.comp's register-blocked one (SHMEM = 0): each
// invocation owns (4 RM) x (4 RN) outputs, RM + RN vec4 loads per k.
// Epilogue as in conv_fwd.comp: bias or scale/shift, SiLU, accumulate.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const int WGX = 8;
layout(constant_id = 1) const int WGY = 8;
layout(constant_id = 2) const int RM = 1;
layout(constant_id = 3) const int RN = 2;

layout(push_constant) uniform Push {
	int m, n, k;
	uint a_off, b_off, b_ns, c_off, c_ns, x_off;
	uint flags;
} p;
layout(std430, binding = 0) readonly buffer A { vec4 a4[]; };
layout(std430, binding = 1) readonly buffer B { vec4 b4[]; };
layout(std430, binding = 2) buffer C { float c[]; };
layout(std430, binding = 3) readonly buffer X { float aux[]; };

void main()
{
	const int m4 = (p.m + 3) / 4, n4 = p.n / 4;
	const int lx = int(gl_LocalInvocationID.x), ly = int(gl_LocalInvocationID.y);
	const int z = int(gl_WorkGroupID.z);
	const int rm0 = (int(gl_WorkGroupID.y) * WGY + ly) * RM; // first vec4 row block
	const int cn0 = (int(gl_WorkGroupID.x) * WGX + lx) * RN; // first vec4 column block
	const int ao = int(p.a_off) / 4, bo = int(p.b_off + uint(z) * p.b_ns) / 4;

	vec4 acc[4 * RM * RN];
	for (int i = 0; i < 4 * RM * RN; i++)
		acc[i] = vec4(0.0);

	int ar[RM], bc[RN];
	for (int r = 0; r < RM; r++)
		ar[r] = ao + min(rm0 + r, m4 - 1);
	for (int q = 0; q < RN; q++)
		bc[q] = bo + min(cn0 + q, n4 - 1);
	for (int k = 0; k < p.k; k++) {
		vec4 av[RM], bv[RN];
		for (int r = 0; r < RM; r++)
			av[r] = a4[ar[r] + k * m4];
		for (int q = 0; q < RN; q++)
			bv[q] = b4[bc[q] + k * n4];
		for (int r = 0; r < RM; r++)
			for (int q = 0; q < RN; q++) {
				acc[(r * 4 + 0) * RN + q] = fma(vec4(av[r].x), bv[q], acc[(r * 4 + 0) * RN + q]);
				acc[(r * 4 + 1) * RN + q] = fma(vec4(av[r].y), bv[q], acc[(r * 4 + 1) * RN + q]);
				acc[(r * 4 + 2) * RN + q] = fma(vec4(av[r].z), bv[q], acc[(r * 4 + 2) * RN + q]);
				acc[(r * 4 + 3) * RN + q] = fma(vec4(av[r].w), bv[q], acc[(r * 4 + 3) * RN + q]);
			}
	}

	// No early exits, and the epilogue in two small loop nests (transform
	// in place, then store): the loops must stay small enough for the
	// compiler to unroll them, or acc[] is indexed dynamically and lives in
	// memory (a 2x slowdown on lavapipe).  As one nest it was too large to
	// unroll at RM = RN = 2, the best gemm.comp tiling.
	if ((p.flags & (PF_BIAS | PF_AFFINE | PF_SILU)) != 0) {
		for (int r = 0; r < RM; r++) {
			for (int i = 0; i < 4; i++) {
				const int rc = min((rm0 + r) * 4 + i, p.m - 1);
				float sc = 1.0, sh = 0.0;
				if ((p.flags & PF_BIAS) != 0)
					sh = aux[p.x_off + rc];
				if ((p.flags & PF_AFFINE) != 0) {
					sc = aux[p.x_off + rc];
					sh = aux[p.x_off + p.m + rc];
				}
				for (int q = 0; q < RN; q++) {
					vec4 v = fma(acc[(r * 4 + i) * RN + q], vec4(sc), vec4(sh));
					if ((p.flags & PF_SILU) != 0)
						v = v / (1.0 + exp(-v));
					acc[(r * 4 + i) * RN + q] = v;
				}
			}
		}
	}
	const uint co = p.c_off + uint(z) * p.c_ns;
	for (int r = 0; r < RM; r++) {
		for (int i = 0; i < 4; i++) {
			const int row = (rm0 + r) * 4 + i;
			for (int q = 0; q < RN; q++) {
				vec4 v = acc[(r * 4 + i) * RN + q];
				if (row < p.m && cn0 + q < n4) {
					const uint o = co + uint(row * p.n + (cn0 + q) * 4);
					if ((p.flags & PF_ACC) != 0)
						v += vec4(c[o], c[o + 1u], c[o + 2u], c[o + 3u]);
					c[o] = v.x;
					c[o + 1u] = v.y;
					c[o + 2u] = v.z;
					c[o + 3u] = v.w;
				}
			}
		}
	}
}
