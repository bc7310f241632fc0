// Shared by every kernel: flag bits (twins of enum push_flags in
// train/push.h) and small math helpers.
#ifndef COMMON_GLSL
#define COMMON_GLSL

#define PF_ACC 1u
#define PF_BIAS 2u
#define PF_AFFINE 4u
#define PF_SILU 8u
#define PF_EVAL 16u
#define PF_BCAST 32u
#define PF_BWD 64u
#define PF_FOLD 128u
#define PF_ZERO_GRAD 256u

float sigmoid(float z)
{
	return 1.0 / (1.0 + exp(-z));
}

float silu(float z)
{
	return z * sigmoid(z);
}

// d silu(z) / dz
float silu_grad(float z)
{
	float s = sigmoid(z);
	return s * (1.0 + z * (1.0 - s));
}

#endif
