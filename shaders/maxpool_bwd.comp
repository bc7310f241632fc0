// Max pooling backward as a gather: each input pixel sums dy of the windows
// whose recorded maximum it is (no atomics, fixed order).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/pool_push.glsl"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, binding = 1) readonly buffer I { int idx[]; };
layout(std430, binding = 2) buffer DX { float dx[]; };

void main()
{
	const uint ch = gl_WorkGroupID.y, img = gl_WorkGroupID.z;
	const uint xb = p.x_off + img * p.x_ns + ch * p.h * p.w;
	const uint yb = p.y_off + img * p.y_ns + ch * p.oh * p.ow;
	const uint ib = p.i_off + img * p.i_ns + ch * p.oh * p.ow;
	const int s = p.stride;
	for (uint q = gl_GlobalInvocationID.x; q < p.h * p.w; q += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
		const int iy = int(q / p.w), ix = int(q % p.w);
		const int me = int(q);
		const int ly = iy + p.pad - p.k + 1, lx = ix + p.pad - p.k + 1;
		const int oy0 = ly <= 0 ? 0 : (ly + s - 1) / s, ox0 = lx <= 0 ? 0 : (lx + s - 1) / s;
		const int oy1 = min(int(p.oh) - 1, (iy + p.pad) / s), ox1 = min(int(p.ow) - 1, (ix + p.pad) / s);
		float g = 0.0;
		for (int oy = oy0; oy <= oy1; oy++)
			for (int ox = ox0; ox <= ox1; ox++) {
				const uint o = uint(oy) * p.ow + uint(ox);
				if (idx[ib + o] == me)
					g += dy[yb + o];
			}
		if ((p.flags & PF_ACC) != 0)
			g += dx[xb + q];
		dx[xb + q] = g;
	}
}
