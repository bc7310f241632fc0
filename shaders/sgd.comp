// SGD with momentum, optional Nesterov and decoupled weight decay, in one
// pass (and the gradient zeroed behind it with PF_ZERO_GRAD):
//   m = mu m + g;  d = nesterov ? g + mu m : m;  p -= lr (d + wd p)
// where wd applies to the first n_decay parameters only (not BN, not biases).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/opt_push.glsl"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) buffer P { float prm[]; };
layout(std430, binding = 1) buffer G { float grd[]; };
layout(std430, binding = 2) buffer M { float mom[]; };
layout(std430, binding = 3) readonly buffer H { float hyp[]; };

void main()
{
	const float lr = hyp[p.h_off + 0u], mu = hyp[p.h_off + 1u], wd = hyp[p.h_off + 2u];
	const bool nesterov = hyp[p.h_off + 3u] > 0.5;
	const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint i = gl_GlobalInvocationID.x; i < p.len; i += stride) {
		float g = grd[p.g_off + i];
		float m = fma(mu, mom[p.m_off + i], g);
		mom[p.m_off + i] = m;
		float d = nesterov ? fma(mu, m, g) : m;
		float w = prm[p.p_off + i];
		if (i < p.n_decay)
			d = fma(wd, w, d);
		prm[p.p_off + i] = w - lr * d;
		if ((p.flags & PF_ZERO_GRAD) != 0)
			grd[p.g_off + i] = 0.0;
	}
}
