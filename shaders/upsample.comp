// Nearest upsampling by the integer factor k: y[oy][ox] = x[oy/k][ox/k].
// PF_BWD: dx[iy][ix] (+)= sum of its k x k block of dy; then binding 0 is dy
// (y_* describe it) and binding 1 is dx (x_*).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/pool_push.glsl"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer S { float src[]; };
layout(std430, binding = 1) buffer D { float dst[]; };

void main()
{
	const uint ch = gl_WorkGroupID.y, img = gl_WorkGroupID.z;
	const uint xb = p.x_off + img * p.x_ns + ch * p.h * p.w;
	const uint yb = p.y_off + img * p.y_ns + ch * p.oh * p.ow;
	const uint f = uint(p.k);
	const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	if ((p.flags & PF_BWD) != 0) {
		for (uint q = gl_GlobalInvocationID.x; q < p.h * p.w; q += stride) {
			const uint iy = q / p.w, ix = q % p.w;
			float g = 0.0;
			for (uint a = 0; a < f; a++)
				for (uint b = 0; b < f; b++)
					g += src[yb + (iy * f + a) * p.ow + ix * f + b];
			if ((p.flags & PF_ACC) != 0)
				g += dst[xb + q];
			dst[xb + q] = g;
		}
		return;
	}
	for (uint q = gl_GlobalInvocationID.x; q < p.oh * p.ow; q += stride) {
		const uint oy = q / p.ow, ox = q % p.ow;
		float v = src[xb + (oy / f) * p.w + ox / f];
		if ((p.flags & PF_ACC) != 0)
			v += dst[yb + q];
		dst[yb + q] = v;
	}
}
