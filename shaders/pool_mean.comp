// Global average pooling.  Forward (work group = channel x image):
// y[img][ch] (+)= alpha * sum_hw x[img][ch].  PF_BWD (x over pixels, y over
// channels, z over images): dx[img][ch][i] += alpha * dy[img][ch].
// x_* describe the n x c x hw tensor, o_* the n x c one.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/chan_push.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const int WG = 128;
layout(std430, binding = 0) buffer S { float src[]; };
layout(std430, binding = 1) buffer D { float dst[]; };

#include "common/tree.glsl"

void main()
{
	const uint lane = gl_LocalInvocationID.x;
	if ((p.flags & PF_BWD) != 0) {
		const uint ch = gl_WorkGroupID.y, img = gl_WorkGroupID.z;
		const float g = p.alpha * src[p.o_off + img * p.o_ns + ch];
		const uint b = p.x_off + img * p.x_ns + ch * p.hw;
		for (uint i = gl_GlobalInvocationID.x; i < p.hw; i += gl_NumWorkGroups.x * uint(WG))
			dst[b + i] += g;
		return;
	}
	const uint ch = gl_WorkGroupID.x, img = gl_WorkGroupID.y;
	const uint b = p.x_off + img * p.x_ns + ch * p.hw;
	float s = 0.0;
	for (uint i = lane; i < p.hw; i += uint(WG))
		s += src[b + i];
	s = tree_sum(s) * p.alpha;
	if (lane == 0u) {
		const uint o = p.o_off + img * p.o_ns + ch;
		if ((p.flags & PF_ACC) != 0)
			s += dst[o];
		dst[o] = s;
	}
}
