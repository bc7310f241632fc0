// Batch-norm finish: partial sums -> save = (mean, 1/sqrt(var + eps)) with
// the biased variance, and running = (1-m) running + m (mean, unbiased var),
// as PyTorch does.  PF_FOLD instead folds the running statistics and
// gamma/beta into a conv epilogue's (scale, shift).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"

layout(local_size_x_id = 0) in;
layout(push_constant) uniform Push {
	uint c;
	float count, eps, momentum;
	uint p_off, s_off, r_off, g_off, b_off;
	uint flags;
} p;
layout(std430, binding = 0) readonly buffer PART { float part[]; };
layout(std430, binding = 1) buffer SAVE { float save[]; };
layout(std430, binding = 2) buffer RUN { float run[]; };
layout(std430, binding = 3) readonly buffer G { float gamma[]; };
layout(std430, binding = 4) readonly buffer B { float beta[]; };

void main()
{
	for (uint ch = gl_GlobalInvocationID.x; ch < p.c; ch += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
		if ((p.flags & PF_FOLD) != 0) {
			float inv = inversesqrt(run[p.r_off + p.c + ch] + p.eps);
			float sc = gamma[p.g_off + ch] * inv;
			save[p.s_off + ch] = sc;
			save[p.s_off + p.c + ch] = beta[p.b_off + ch] - run[p.r_off + ch] * sc;
			continue;
		}
		float md = part[p.p_off + ch] / p.count;
		float var = max(part[p.p_off + p.c + ch] / p.count - md * md, 0.0);
		float mean = part[p.p_off + 2u * p.c + ch] + md;
		save[p.s_off + ch] = mean;
		save[p.s_off + p.c + ch] = inversesqrt(var + p.eps);
		if (p.momentum > 0.0) {
			float unb = p.count > 1.0 ? var * p.count / (p.count - 1.0) : var;
			run[p.r_off + ch] = mix(run[p.r_off + ch], mean, p.momentum);
			run[p.r_off + p.c + ch] = mix(run[p.r_off + p.c + ch], unb, p.momentum);
		}
	}
}
