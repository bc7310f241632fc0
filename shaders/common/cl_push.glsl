// Push block of to_cl.comp; twin of struct push_cl.
layout(push_constant) uniform Push {
	uint c, hw, c4;
	uint src_off, src_ns;
	uint dst_off, dst_ns;
} p;
