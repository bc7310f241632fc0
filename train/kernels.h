/*
 * The table of compute kernels: one entry per shaders/<name>.comp, with its
 * embedded SPIR-V, its binding count, the size of its push-constant block
 * (the C twin lives in train/push.h) and its specialization constants with
 * the values each device profile uses.  train/vk.c creates every pipeline
 * from this one table, lazily, the first time a (kernel, spec values) pair
 * is dispatched.
 */
#ifndef DSFS_TRAIN_KERNELS_H
#define DSFS_TRAIN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

enum kern {
	KERN_GEMM,
	KERN_CONV_FWD,
	KERN_CONV_BWD_DATA,
	KERN_CONV_BWD_WEIGHT,
	KERN_SUM_SLICES,
	KERN_CHAN_SUM,
	KERN_BN_STATS,
	KERN_BN_FINAL,
	KERN_BN_APPLY,
	KERN_BN_BWD_REDUCE,
	KERN_BN_BWD_APPLY,
	KERN_SILU,
	KERN_SILU_BWD,
	KERN_ADD,
	KERN_COPY,
	KERN_MAXPOOL,
	KERN_MAXPOOL_BWD,
	KERN_UPSAMPLE,
	KERN_UPSAMPLE_BWD,
	KERN_REDUCE_SUM,
	KERN_POOL_MEAN,
	KERN_SGD,
	KERN_ADAMW,
	KERN_MSE,
	KERN_TO_CL,
	KERN_CONV_FWD_CL,
	KERN_CONV_BWD_WEIGHT_CL,
	KERN_CONV_BWD_DATA_CL,
	KERN_CONV1X1,
	KERN_CONV1X1_BWD_WEIGHT,
	KERN_CONV_BWD_WEIGHT_ROW,
	KERN_COUNT
};

#define KERN_MAX_SPEC 8
#define KERN_MAX_BINDINGS 8

struct kern_info {
	const char *name;
	const uint32_t *spv;
	size_t spv_size;            /* bytes */
	unsigned n_bindings;        /* storage buffers, bindings 0..n-1 of set 0 */
	unsigned push_size;         /* sizeof the push block's C twin */
	unsigned n_spec;            /* constant_id 0..n_spec-1; id 0 is always local_size_x */
	int32_t spec_cpu[KERN_MAX_SPEC]; /* lavapipe / CPU devices: register blocking */
	int32_t spec_gpu[KERN_MAX_SPEC]; /* GPUs: shared-memory tiles */
};

extern const struct kern_info kernels[KERN_COUNT];

#endif
