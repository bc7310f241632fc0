// out[ch] (+)= alpha * sum over images and pixels of x[img][ch] (bias
// gradients); one work group per channel, tree-summed.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/chan_push.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const int WG = 128;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) buffer O { float o[]; };

#include "common/tree.glsl"

void main()
{
	const uint ch = gl_WorkGroupID.x, lane = gl_LocalInvocationID.x;
	float s = 0.0;
	for (uint img = 0; img < p.n; img++) {
		const uint b = p.x_off + img * p.x_ns + ch * p.hw;
		for (uint i = lane; i < p.hw; i += uint(WG))
			s += x[b + i];
	}
	s = tree_sum(s) * p.alpha;
	if (lane == 0u) {
		if ((p.flags & PF_ACC) != 0)
			s += o[p.o_off + ch];
		o[p.o_off + ch] = s;
	}
}
