// Push block of sgd / adamw; twin of struct push_opt.  Hyper-parameters
// (struct opt_hyper) are read from binding `hyp` at h_off.
layout(push_constant) uniform Push {
	uint len, n_decay;
	uint p_off, g_off, m_off, v_off, h_off;
	uint flags;
} p;
