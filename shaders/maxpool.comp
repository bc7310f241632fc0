// Max pooling (k x k, stride, pad; padding never wins).  Also stores the
// position iy*w+ix of the first maximum in scan order, which the backward
// pass uses, so ties go to one input, deterministically.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/pool_push.glsl"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) buffer Y { float y[]; };
layout(std430, binding = 2) buffer I { int idx[]; };

void main()
{
	const uint ch = gl_WorkGroupID.y, img = gl_WorkGroupID.z;
	const uint xb = p.x_off + img * p.x_ns + ch * p.h * p.w;
	const uint yb = p.y_off + img * p.y_ns + ch * p.oh * p.ow;
	const uint ib = p.i_off + img * p.i_ns + ch * p.oh * p.ow;
	for (uint q = gl_GlobalInvocationID.x; q < p.oh * p.ow; q += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
		const int oy = int(q / p.ow), ox = int(q % p.ow);
		float best = -3.402823466e38;
		int bi = -1;
		for (int ky = 0; ky < p.k; ky++) {
			const int iy = oy * p.stride - p.pad + ky;
			if (iy < 0 || iy >= int(p.h))
				continue;
			for (int kx = 0; kx < p.k; kx++) {
				const int ix = ox * p.stride - p.pad + kx;
				if (ix < 0 || ix >= int(p.w))
					continue;
				float v = x[xb + uint(iy) * p.w + uint(ix)];
				if (bi < 0 || v > best) {
					best = v;
					bi = iy * int(p.w) + ix;
				}
			}
		}
		y[yb + q] = best;
		idx[ib + q] = bi;
	}
}
