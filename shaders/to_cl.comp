// Channels-last copy: dst[img][q][c4] = src[img][c][q] (zero for c >= C),
// C4 = C rounded up to 4, so one vec4 load fetches 4 channels of a pixel.
// Used by conv_fwd_cl.comp for the input (per image) and for the weights
// (w[co][ci*kk] -> w[ci*kk][co4], one "image").  Lanes walk adjacent pixels
// so the reads of one channel are contiguous.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/cl_push.glsl"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer S { float src[]; };
layout(std430, binding = 1) writeonly buffer D { vec4 dst4[]; };

void main()
{
	const uint img = gl_WorkGroupID.y;
	const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	const uint nb = p.c4 / 4u, len = p.hw * nb;
	const uint sb = p.src_off + img * p.src_ns, db = (p.dst_off + img * p.dst_ns) / 4u;
	for (uint e = gl_GlobalInvocationID.x; e < len; e += stride) {
		const uint cb = e / p.hw, q = e - cb * p.hw, c0 = cb * 4u;
		vec4 v = vec4(0.0);
		if (c0 < p.c)
			v.x = src[sb + c0 * p.hw + q];
		if (c0 + 1u < p.c)
			v.y = src[sb + (c0 + 1u) * p.hw + q];
		if (c0 + 2u < p.c)
			v.z = src[sb + (c0 + 2u) * p.hw + q];
		if (c0 + 3u < p.c)
			v.w = src[sb + (c0 + 3u) * p.hw + q];
		dst4[db + q * nb + cb] = v;
	}
}
