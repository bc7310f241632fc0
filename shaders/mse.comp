// Mean squared error.  Forward (one work group): out[o_off] = sum (p-t)^2 / len.
// PF_BWD: out[o_off + i] += alpha * 2 (p_i - t_i) / len.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const int WG = 128;
layout(push_constant) uniform Push {
	uint len, p_off, t_off, o_off;
	float alpha;
	uint flags;
} p;
layout(std430, binding = 0) readonly buffer PR { float pred[]; };
layout(std430, binding = 1) readonly buffer T { float tgt[]; };
layout(std430, binding = 2) buffer O { float o[]; };

#include "common/tree.glsl"

void main()
{
	const uint stride = gl_NumWorkGroups.x * uint(WG);
	const float inv = 1.0 / float(p.len);
	if ((p.flags & PF_BWD) != 0) {
		for (uint i = gl_GlobalInvocationID.x; i < p.len; i += stride)
			o[p.o_off + i] += p.alpha * 2.0 * (pred[p.p_off + i] - tgt[p.t_off + i]) * inv;
		return;
	}
	float s = 0.0;
	for (uint i = gl_LocalInvocationID.x; i < p.len; i += uint(WG)) {
		float d = pred[p.p_off + i] - tgt[p.t_off + i];
		s = fma(d, d, s);
	}
	s = tree_sum(s);
	if (gl_LocalInvocationID.x == 0u)
		o[p.o_off] = s * inv;
}
