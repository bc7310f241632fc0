// Single-precision GEMM, c[m][n] (+)= sum_k a[k][m] * b[k][n], with a stored
// k-major so both operands load as vec4 along m and n.  m and n are
// multiples of 4, offsets multiples of 4.
//
// Each invocation owns a (4 RM) x (4 RN) block of c.  SHMEM = 0 (lavapipe,
// CPUs: register blocking is what runs fastest there) loads straight from
// the buffers; SHMEM = 1 (GPUs) stages BK-deep tiles of a and b in shared
// memory, loaded cooperatively by the work group.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const int WGX = 16;
layout(constant_id = 1) const int WGY = 4;
layout(constant_id = 2) const int RM = 1;
layout(constant_id = 3) const int RN = 1;
layout(constant_id = 4) const int SHMEM = 0;
layout(constant_id = 5) const int BK = 16;

layout(push_constant) uniform Push {
	int m, n, k;
	uint a_off, b_off, c_off;
	uint flags;
} p;
layout(std430, binding = 0) readonly buffer A { vec4 a4[]; };
layout(std430, binding = 1) readonly buffer B { vec4 b4[]; };
layout(std430, binding = 2) buffer C { float c[]; };

const int BM4 = WGY * RM; // tile height in vec4s (SHMEM)
const int BN4 = WGX * RN;
shared vec4 as4[BK * BM4];
shared vec4 bs4[BK * BN4];

void main()
{
	const int m4 = p.m / 4, n4 = p.n / 4;
	const int lx = int(gl_LocalInvocationID.x), ly = int(gl_LocalInvocationID.y);
	const int rm0 = (int(gl_WorkGroupID.y) * WGY + ly) * RM; // first vec4 row block
	const int cn0 = (int(gl_WorkGroupID.x) * WGX + lx) * RN; // first vec4 column block
	const int ao = int(p.a_off) / 4, bo = int(p.b_off) / 4;

	vec4 acc[4 * RM * RN];
	for (int i = 0; i < 4 * RM * RN; i++)
		acc[i] = vec4(0.0);

	if (SHMEM == 0) {
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
	} else {
		const int tid = ly * WGX + lx, nt = WGX * WGY;
		const int tm0 = int(gl_WorkGroupID.y) * BM4, tn0 = int(gl_WorkGroupID.x) * BN4;
		for (int k0 = 0; k0 < p.k; k0 += BK) {
			barrier();
			for (int e = tid; e < BK * BM4; e += nt) {
				int kk = e / BM4, mm = e - kk * BM4;
				bool ok = k0 + kk < p.k && tm0 + mm < m4;
				as4[e] = ok ? a4[ao + (k0 + kk) * m4 + tm0 + mm] : vec4(0.0);
			}
			for (int e = tid; e < BK * BN4; e += nt) {
				int kk = e / BN4, nn = e - kk * BN4;
				bool ok = k0 + kk < p.k && tn0 + nn < n4;
				bs4[e] = ok ? b4[bo + (k0 + kk) * n4 + tn0 + nn] : vec4(0.0);
			}
			barrier();
			for (int kk = 0; kk < BK; kk++) {
				vec4 av[RM], bv[RN];
				for (int r = 0; r < RM; r++)
					av[r] = as4[kk * BM4 + ly * RM + r];
				for (int q = 0; q < RN; q++)
					bv[q] = bs4[kk * BN4 + lx * RN + q];
				for (int r = 0; r < RM; r++)
					for (int q = 0; q < RN; q++) {
						acc[(r * 4 + 0) * RN + q] = fma(vec4(av[r].x), bv[q], acc[(r * 4 + 0) * RN + q]);
						acc[(r * 4 + 1) * RN + q] = fma(vec4(av[r].y), bv[q], acc[(r * 4 + 1) * RN + q]);
						acc[(r * 4 + 2) * RN + q] = fma(vec4(av[r].z), bv[q], acc[(r * 4 + 2) * RN + q]);
						acc[(r * 4 + 3) * RN + q] = fma(vec4(av[r].w), bv[q], acc[(r * 4 + 3) * RN + q]);
					}
			}
		}
	}

	for (int r = 0; r < RM; r++) {
		if (rm0 + r >= m4)
			break;
		for (int q = 0; q < RN; q++) {
			if (cn0 + q >= n4)
				break;
			for (int i = 0; i < 4; i++) {
				const int row = (rm0 + r) * 4 + i;
				const uint o = p.c_off + uint(row * p.n + (cn0 + q) * 4);
				vec4 v = acc[(r * 4 + i) * RN + q];
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
