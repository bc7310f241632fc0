// Sum of a tensor, in two rounds: work group (gx, gy) sums its grid-stride
// share of image gy and writes y[y_off + gy * groups_x + gx] = alpha * sum
// (PF_ACC: adds); a second dispatch over those partials gives the total.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const int WG = 128;
layout(push_constant) uniform Push {
	uint n, len, x_off, x_ns, y_off;
	float alpha;
	uint flags;
} p;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) buffer Y { float y[]; };

#include "common/tree.glsl"

void main()
{
	const uint img = gl_WorkGroupID.y;
	const uint b = p.x_off + img * p.x_ns;
	float s = 0.0;
	for (uint i = gl_GlobalInvocationID.x; i < p.len; i += gl_NumWorkGroups.x * uint(WG))
		s += x[b + i];
	s = tree_sum(s) * p.alpha;
	if (gl_LocalInvocationID.x == 0u) {
		const uint o = p.y_off + img * gl_NumWorkGroups.x + gl_WorkGroupID.x;
		if ((p.flags & PF_ACC) != 0)
			s += y[o];
		y[o] = s;
	}
}
