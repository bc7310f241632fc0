// Push block of the element-wise kernels; twin of struct push_ew.
// Dispatch: x covers `len` (grid-stride), y covers the images.
layout(push_constant) uniform Push {
	uint n, len;
	uint a_off, a_ns, b_off, b_ns, c_off, c_ns;
	float alpha, beta;
	uint flags;
} p;
