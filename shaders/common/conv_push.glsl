// Push block of the three convolution kernels; twin of struct push_conv.
layout(push_constant) uniform Push {
	int n, ci, h, w;
	int co, oh, ow;
	int kh, kw, stride, pad;
	uint x_off, x_ns;
	uint y_off, y_ns;
	uint w_off, b_off;
	uint flags;
	int k_split, n_split;
	uint o_off;
} p;
