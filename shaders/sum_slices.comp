// dst[i] (+)= sum over s of src[s * len + i], summed in slice order (the
// reduction step of split-K; deterministic).  Twin: struct push_slices.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"

layout(local_size_x_id = 0) in;
layout(push_constant) uniform Push {
	uint len, n_slices, src_off, dst_off, flags;
} p;
layout(std430, binding = 0) readonly buffer S { float src[]; };
layout(std430, binding = 1) buffer D { float dst[]; };

void main()
{
	const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint i = gl_GlobalInvocationID.x; i < p.len; i += stride) {
		float v = 0.0;
		for (uint s = 0; s < p.n_slices; s++)
			v += src[p.src_off + s * p.len + i];
		if ((p.flags & PF_ACC) != 0)
			v += dst[p.dst_off + i];
		dst[p.dst_off + i] = v;
	}
}
