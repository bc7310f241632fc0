// c (+)= alpha * a + beta * b (residual connections).
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
	const uint ab = p.a_off + img * p.a_ns, bb = p.b_off + img * p.b_ns;
	const uint cb = p.c_off + img * p.c_ns;
	for (uint i = gl_GlobalInvocationID.x; i < p.len; i += stride) {
		float v = p.alpha * a[ab + i] + p.beta * b[bb + i];
		if ((p.flags & PF_ACC) != 0)
			v += c[cb + i];
		c[cb + i] = v;
	}
}
