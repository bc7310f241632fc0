// AdamW in one pass: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr (m/bc1 / (sqrt(v/bc2) + eps) + wd p), wd on the first n_decay only.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/opt_push.glsl"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) buffer P { float prm[]; };
layout(std430, binding = 1) buffer G { float grd[]; };
layout(std430, binding = 2) buffer M { float m1[]; };
layout(std430, binding = 3) buffer V { float m2[]; };
layout(std430, binding = 4) readonly buffer H { float hyp[]; };

void main()
{
	const float lr = hyp[p.h_off + 0u], wd = hyp[p.h_off + 2u];
	const float b1 = hyp[p.h_off + 4u], b2 = hyp[p.h_off + 5u], eps = hyp[p.h_off + 6u];
	const float bc1 = hyp[p.h_off + 7u], bc2 = hyp[p.h_off + 8u];
	const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint i = gl_GlobalInvocationID.x; i < p.len; i += stride) {
		float g = grd[p.g_off + i];
		float m = mix(g, m1[p.m_off + i], b1);
		float v = mix(g * g, m2[p.v_off + i], b2);
		m1[p.m_off + i] = m;
		m2[p.v_off + i] = v;
		float w = prm[p.p_off + i];
		float d = (m / bc1) / (sqrt(v / bc2) + eps);
		if (i < p.n_decay)
			d = fma(wd, w, d);
		prm[p.p_off + i] = w - lr * d;
		if ((p.flags & PF_ZERO_GRAD) != 0)
			grd[p.g_off + i] = 0.0;
	}
}
