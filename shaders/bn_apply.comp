// y (+)= act(gamma * (x - mean) * invstd + beta), the fused element-wise
// epilogue of conv + batch norm (+ SiLU).  x: y over channels, z over
// images, x grid-stride over pixels, so the channel's scale and shift are
// work-group uniform.  PF_EVAL: stats hold running (mean, var).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/bn_push.glsl"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) buffer Y { float y[]; };
layout(std430, binding = 2) readonly buffer S { float st[]; };
layout(std430, binding = 3) readonly buffer G { float gamma[]; };
layout(std430, binding = 4) readonly buffer B { float beta[]; };

void main()
{
	const uint ch = gl_WorkGroupID.y, img = gl_WorkGroupID.z;
	const float mean = st[p.s_off + ch];
	const float inv = (p.flags & PF_EVAL) != 0 ? inversesqrt(st[p.s_off + p.c + ch] + p.eps)
						   : st[p.s_off + p.c + ch];
	const float sc = gamma[p.g_off + ch] * inv, sh = beta[p.b_off + ch] - mean * sc;
	const uint xb = p.x_off + img * p.x_ns + ch * p.hw, yb = p.y_off + img * p.y_ns + ch * p.hw;
	const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint i = gl_GlobalInvocationID.x; i < p.hw; i += stride) {
		float v = fma(x[xb + i], sc, sh);
		if ((p.flags & PF_SILU) != 0)
			v = silu(v);
		if ((p.flags & PF_ACC) != 0)
			v += y[yb + i];
		y[yb + i] = v;
	}
}
