// Batch-norm backward, pass 1 (one work group per channel): with
// g = dy * act'(gamma * xhat + beta), red (+)= (sum g, sum g * xhat).  These
// are also d beta and d gamma.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/bn_push.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const int WG = 128;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer DY { float dy[]; };
layout(std430, binding = 2) readonly buffer S { float st[]; };
layout(std430, binding = 3) readonly buffer G { float gamma[]; };
layout(std430, binding = 4) readonly buffer B { float beta[]; };
layout(std430, binding = 5) buffer R { float red[]; };

#include "common/tree.glsl"

void main()
{
	const uint ch = gl_WorkGroupID.x, lane = gl_LocalInvocationID.x;
	const float mean = st[p.s_off + ch];
	const float inv = (p.flags & PF_EVAL) != 0 ? inversesqrt(st[p.s_off + p.c + ch] + p.eps)
						   : st[p.s_off + p.c + ch];
	const float ga = gamma[p.g_off + ch], be = beta[p.b_off + ch];
	const bool act = (p.flags & PF_SILU) != 0;
	float s1 = 0.0, s2 = 0.0;
	for (uint img = 0; img < p.n; img++) {
		const uint xb = p.x_off + img * p.x_ns + ch * p.hw;
		const uint gb = p.y_off + img * p.y_ns + ch * p.hw;
		for (uint i = lane; i < p.hw; i += uint(WG)) {
			float xh = (x[xb + i] - mean) * inv;
			float g = dy[gb + i];
			if (act)
				g *= silu_grad(fma(ga, xh, be));
			s1 += g;
			s2 = fma(g, xh, s2);
		}
	}
	s1 = tree_sum(s1);
	s2 = tree_sum(s2);
	if (lane == 0u) {
		if ((p.flags & PF_ACC) != 0) {
			red[p.r_off + ch] += s1;
			red[p.r_off + p.c + ch] += s2;
		} else {
			red[p.r_off + ch] = s1;
			red[p.r_off + p.c + ch] = s2;
		}
	}
}
