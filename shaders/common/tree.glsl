// Work-group tree sum of one value per lane (WG a power of two), in a fixed
// order so results are reproducible.  Needs `const int WG` and is called in
// uniform control flow.  Returns the total in every lane.
shared float tree_buf[WG];

float tree_sum(float v)
{
	const uint lane = gl_LocalInvocationID.x;
	barrier();
	tree_buf[lane] = v;
	barrier();
	for (uint st = uint(WG) / 2u; st > 0u; st >>= 1u) {
		if (lane < st)
			tree_buf[lane] += tree_buf[lane + st];
		barrier();
	}
	return tree_buf[0];
}
