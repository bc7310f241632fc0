// c (+)= alpha * a: copies between views (concat), gradient accumulation
// (backward of add, concat, split) and, with PF_BCAST, a broadcast of one
// element (backward of a sum).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/ew_push.glsl"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) buffer C { float c[]; };

void main()
{
	const uint img = gl_WorkGroupID.y;
	const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	const bool bc = (p.flags & PF_BCAST) != 0;
	const uint ab = p.a_off + (bc ? 0u : img * p.a_ns);
	const uint cb = p.c_off + img * p.c_ns;
	for (uint i = gl_GlobalInvocationID.x; i < p.len; i += stride) {
		float v = p.alpha * a[bc ? ab : ab + i];
		if ((p.flags & PF_ACC) != 0)
			v += c[cb + i];
		c[cb + i] = v;
	}
}
