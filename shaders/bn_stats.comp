// Batch-norm statistics, one work group per channel: sum and sum of squares
// of (x - shift), where shift is the channel's first value, so the variance
// does not cancel catastrophically when |mean| >> std.  With PF_ACC a later
// batch chunk adds to the partial sums (same shift); bn_final.comp turns
// them into mean and 1/std.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/chan_push.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const int WG = 128;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) buffer PART { float part[]; };

#include "common/tree.glsl"

void main()
{
	const uint ch = gl_WorkGroupID.x, lane = gl_LocalInvocationID.x;
	const bool acc = (p.flags & PF_ACC) != 0;
	const float shift = acc ? part[p.o_off + 2u * p.c + ch] : x[p.x_off + ch * p.hw];
	float s1 = 0.0, s2 = 0.0;
	for (uint img = 0; img < p.n; img++) {
		const uint b = p.x_off + img * p.x_ns + ch * p.hw;
		for (uint i = lane; i < p.hw; i += uint(WG)) {
			float d = x[b + i] - shift;
			s1 += d;
			s2 = fma(d, d, s2);
		}
	}
	s1 = tree_sum(s1);
	s2 = tree_sum(s2);
	if (lane == 0u) {
		if (acc) {
			part[p.o_off + ch] += s1;
			part[p.o_off + p.c + ch] += s2;
		} else {
			part[p.o_off + ch] = s1;
			part[p.o_off + p.c + ch] = s2;
			part[p.o_off + 2u * p.c + ch] = shift;
		}
	}
}
