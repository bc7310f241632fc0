// Push block of maxpool / maxpool_bwd / upsample; twin of struct push_pool.
layout(push_constant) uniform Push {
	uint n, c, h, w, oh, ow;
	int k, stride, pad;
	uint x_off, x_ns, y_off, y_ns, i_off, i_ns;
	uint flags;
} p;
