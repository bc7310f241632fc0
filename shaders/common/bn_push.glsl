// Push block of bn_apply / bn_bwd_reduce / bn_bwd_apply; twin of struct push_bn.
layout(push_constant) uniform Push {
	uint n, c, hw;
	uint x_off, x_ns;
	uint y_off, y_ns;
	uint d_off, d_ns;
	uint s_off, g_off, b_off, r_off;
	float eps, count;
	uint flags;
} p;
