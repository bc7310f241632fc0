// Batch-norm backward, pass 2: dx += gamma * invstd * (g - mean(g) -
// xhat * mean(g * xhat)) in training mode, dx += g * gamma * invstd in eval
// mode; g recomputed as in bn_bwd_reduce.comp (cheaper than storing it).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/bn_push.glsl"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer DY { float dy[]; };
layout(std430, binding = 2) readonly buffer S { float st[]; };
layout(std430, binding = 3) readonly buffer G { float gamma[]; };
layout(std430, binding = 4) readonly buffer B { float beta[]; };
layout(std430, binding = 5) readonly buffer R { float red[]; };
layout(std430, binding = 6) buffer DX { float dx[]; };

void main()
{
	const uint ch = gl_WorkGroupID.y, img = gl_WorkGroupID.z;
	const bool eval = (p.flags & PF_EVAL) != 0;
	const float mean = st[p.s_off + ch];
	const float inv = eval ? inversesqrt(st[p.s_off + p.c + ch] + p.eps) : st[p.s_off + p.c + ch];
	const float ga = gamma[p.g_off + ch], be = beta[p.b_off + ch];
	const float mg = eval ? 0.0 : red[p.r_off + ch] / p.count;
	const float mgx = eval ? 0.0 : red[p.r_off + p.c + ch] / p.count;
	const float k = ga * inv;
	const bool act = (p.flags & PF_SILU) != 0;
	const uint xb = p.x_off + img * p.x_ns + ch * p.hw;
	const uint gb = p.y_off + img * p.y_ns + ch * p.hw;
	const uint db = p.d_off + img * p.d_ns + ch * p.hw;
	const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint i = gl_GlobalInvocationID.x; i < p.hw; i += stride) {
		float xh = (x[xb + i] - mean) * inv;
		float g = dy[gb + i];
		if (act)
			g *= silu_grad(fma(ga, xh, be));
		dx[db + i] += k * (g - mg - xh * mgx);
	}
}
