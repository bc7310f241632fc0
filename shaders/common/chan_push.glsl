// Push block of the per-channel kernels; twin of struct push_chan.
layout(push_constant) uniform Push {
	uint n, c, hw;
	uint x_off, x_ns;
	uint o_off, o_ns;
	float alpha;
	uint flags;
} p;
