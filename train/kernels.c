/*
 * The embedded SPIR-V of every kernel (compiled from shaders/ by glslc at
 * build time) and the one table train/vk.c creates pipelines from.  Spec
 * constant 0 is always the work-group size (x); the other ids are listed in
 * each shader.  The CPU profile is what measured fastest on lavapipe
 * (register blocking, no shared memory); the GPU profile uses shared-memory
 * tiles and wider work groups.
 */
#include "train/kernels.h"

#include "train/push.h"

static const uint32_t gemm_spv[] =
#include "gemm.comp.spv.inc"
;

static const uint32_t conv_fwd_spv[] =
#include "conv_fwd.comp.spv.inc"
;

static const uint32_t conv_bwd_data_spv[] =
#include "conv_bwd_data.comp.spv.inc"
;

static const uint32_t conv_bwd_weight_spv[] =
#include "conv_bwd_weight.comp.spv.inc"
;

static const uint32_t conv_bwd_weight_row_spv[] =
#include "conv_bwd_weight_row.comp.spv.inc"
;

static const uint32_t sum_slices_spv[] =
#include "sum_slices.comp.spv.inc"
;

static const uint32_t chan_sum_spv[] =
#include "chan_sum.comp.spv.inc"
;

static const uint32_t bn_stats_spv[] =
#include "bn_stats.comp.spv.inc"
;

static const uint32_t bn_final_spv[] =
#include "bn_final.comp.spv.inc"
;

static const uint32_t bn_apply_spv[] =
#include "bn_apply.comp.spv.inc"
;

static const uint32_t bn_bwd_reduce_spv[] =
#include "bn_bwd_reduce.comp.spv.inc"
;

static const uint32_t bn_bwd_apply_spv[] =
#include "bn_bwd_apply.comp.spv.inc"
;

static const uint32_t silu_spv[] =
#include "silu.comp.spv.inc"
;

static const uint32_t silu_bwd_spv[] =
#include "silu_bwd.comp.spv.inc"
;

static const uint32_t add_spv[] =
#include "add.comp.spv.inc"
;

static const uint32_t copy_spv[] =
#include "copy.comp.spv.inc"
;

static const uint32_t maxpool_spv[] =
#include "maxpool.comp.spv.inc"
;

static const uint32_t maxpool_bwd_spv[] =
#include "maxpool_bwd.comp.spv.inc"
;

static const uint32_t upsample_spv[] =
#include "upsample.comp.spv.inc"
;

static const uint32_t reduce_sum_spv[] =
#include "reduce_sum.comp.spv.inc"
;

static const uint32_t pool_mean_spv[] =
#include "pool_mean.comp.spv.inc"
;

static const uint32_t sgd_spv[] =
#include "sgd.comp.spv.inc"
;

static const uint32_t adamw_spv[] =
#include "adamw.comp.spv.inc"
;

static const uint32_t mse_spv[] =
#include "mse.comp.spv.inc"
;

static const uint32_t to_cl_spv[] =
#include "to_cl.comp.spv.inc"
;

static const uint32_t conv_fwd_cl_spv[] =
#include "conv_fwd_cl.comp.spv.inc"
;

static const uint32_t conv_bwd_data_cl_spv[] =
#include "conv_bwd_data_cl.comp.spv.inc"
;

static const uint32_t conv_bwd_weight_cl_spv[] =
#include "conv_bwd_weight_cl.comp.spv.inc"
;

static const uint32_t conv1x1_spv[] =
#include "conv1x1.comp.spv.inc"
;

static const uint32_t conv1x1_bwd_weight_spv[] =
#include "conv1x1_bwd_weight.comp.spv.inc"
;

/* Spec constants: gemm {WGX, WGY, RM, RN, SHMEM, BK}; conv_fwd/bwd_data
 * {WG, TM, TN, SHMEM, CK}; conv_bwd_weight {WG, TM, TN}; conv_fwd_cl {WG, TM4, TN}
 * (used instead of conv_fwd when conv_fwd's SHMEM is 0), conv_bwd_data_cl likewise;
 * conv_bwd_weight_cl {WG, TM4, TN4} (likewise); conv1x1 {WGX, WGY, RM, RN} and
 * conv1x1_bwd_weight {WG, TM, TN} (1x1 stride-1 pad-0 convolutions on CPU
 * devices); others {WG}. */
const struct kern_info kernels[KERN_COUNT] = {
	[KERN_GEMM] = { "gemm", gemm_spv, sizeof(gemm_spv), 3, sizeof(struct push_gemm), 6,
		{8, 8, 2, 2, 0, 16}, {16, 16, 1, 1, 1, 16} },
	[KERN_CONV_FWD] = { "conv_fwd", conv_fwd_spv, sizeof(conv_fwd_spv), 4, sizeof(struct push_conv), 5,
		{64, 8, 4, 0, 16}, {64, 8, 4, 1, 32} },
	[KERN_CONV_BWD_DATA] = { "conv_bwd_data", conv_bwd_data_spv, sizeof(conv_bwd_data_spv), 3, sizeof(struct push_conv), 5,
		{64, 8, 4, 0, 16}, {64, 8, 4, 1, 32} },
	[KERN_CONV_BWD_WEIGHT] = { "conv_bwd_weight", conv_bwd_weight_spv, sizeof(conv_bwd_weight_spv), 3, sizeof(struct push_conv), 3,
		{64, 4, 4}, {64, 4, 4} },
	[KERN_SUM_SLICES] = { "sum_slices", sum_slices_spv, sizeof(sum_slices_spv), 2, sizeof(struct push_slices), 1,
		{64}, {256} },
	[KERN_CHAN_SUM] = { "chan_sum", chan_sum_spv, sizeof(chan_sum_spv), 2, sizeof(struct push_chan), 1,
		{128}, {128} },
	[KERN_BN_STATS] = { "bn_stats", bn_stats_spv, sizeof(bn_stats_spv), 2, sizeof(struct push_chan), 1,
		{128}, {128} },
	[KERN_BN_FINAL] = { "bn_final", bn_final_spv, sizeof(bn_final_spv), 5, sizeof(struct push_bn_final), 1,
		{64}, {64} },
	[KERN_BN_APPLY] = { "bn_apply", bn_apply_spv, sizeof(bn_apply_spv), 5, sizeof(struct push_bn), 1,
		{64}, {256} },
	[KERN_BN_BWD_REDUCE] = { "bn_bwd_reduce", bn_bwd_reduce_spv, sizeof(bn_bwd_reduce_spv), 6, sizeof(struct push_bn), 1,
		{128}, {128} },
	[KERN_BN_BWD_APPLY] = { "bn_bwd_apply", bn_bwd_apply_spv, sizeof(bn_bwd_apply_spv), 7, sizeof(struct push_bn), 1,
		{64}, {256} },
	[KERN_SILU] = { "silu", silu_spv, sizeof(silu_spv), 3, sizeof(struct push_ew), 1,
		{64}, {256} },
	[KERN_SILU_BWD] = { "silu_bwd", silu_bwd_spv, sizeof(silu_bwd_spv), 3, sizeof(struct push_ew), 1,
		{64}, {256} },
	[KERN_ADD] = { "add", add_spv, sizeof(add_spv), 3, sizeof(struct push_ew), 1,
		{64}, {256} },
	[KERN_COPY] = { "copy", copy_spv, sizeof(copy_spv), 3, sizeof(struct push_ew), 1,
		{64}, {256} },
	[KERN_MAXPOOL] = { "maxpool", maxpool_spv, sizeof(maxpool_spv), 3, sizeof(struct push_pool), 1,
		{64}, {256} },
	[KERN_MAXPOOL_BWD] = { "maxpool_bwd", maxpool_bwd_spv, sizeof(maxpool_bwd_spv), 3, sizeof(struct push_pool), 1,
		{64}, {256} },
	[KERN_UPSAMPLE] = { "upsample", upsample_spv, sizeof(upsample_spv), 2, sizeof(struct push_pool), 1,
		{64}, {256} },
	[KERN_REDUCE_SUM] = { "reduce_sum", reduce_sum_spv, sizeof(reduce_sum_spv), 2, sizeof(struct push_reduce), 1,
		{128}, {256} },
	[KERN_POOL_MEAN] = { "pool_mean", pool_mean_spv, sizeof(pool_mean_spv), 2, sizeof(struct push_chan), 1,
		{128}, {128} },
	[KERN_SGD] = { "sgd", sgd_spv, sizeof(sgd_spv), 4, sizeof(struct push_opt), 1,
		{64}, {256} },
	[KERN_ADAMW] = { "adamw", adamw_spv, sizeof(adamw_spv), 5, sizeof(struct push_opt), 1,
		{64}, {256} },
	[KERN_MSE] = { "mse", mse_spv, sizeof(mse_spv), 3, sizeof(struct push_mse), 1,
		{128}, {128} },
	[KERN_TO_CL] = { "to_cl", to_cl_spv, sizeof(to_cl_spv), 2, sizeof(struct push_cl), 1,
		{64}, {256} },
	[KERN_CONV_FWD_CL] = { "conv_fwd_cl", conv_fwd_cl_spv, sizeof(conv_fwd_cl_spv), 4, sizeof(struct push_conv), 3,
		{32, 2, 6}, {64, 2, 4} },
	[KERN_CONV_BWD_WEIGHT_CL] = { "conv_bwd_weight_cl", conv_bwd_weight_cl_spv, sizeof(conv_bwd_weight_cl_spv), 3, sizeof(struct push_conv), 3,
		{256, 1, 2}, {256, 1, 2} },
	[KERN_CONV_BWD_DATA_CL] = { "conv_bwd_data_cl", conv_bwd_data_cl_spv, sizeof(conv_bwd_data_cl_spv), 3, sizeof(struct push_conv), 3,
		{32, 2, 6}, {32, 2, 6} },
	[KERN_CONV1X1] = { "conv1x1", conv1x1_spv, sizeof(conv1x1_spv), 4, sizeof(struct push_gemm_b), 4,
		{8, 8, 2, 2}, {8, 8, 1, 2} },
	[KERN_CONV1X1_BWD_WEIGHT] = { "conv1x1_bwd_weight", conv1x1_bwd_weight_spv, sizeof(conv1x1_bwd_weight_spv), 3, sizeof(struct push_w1x1), 3,
		{64, 8, 8}, {64, 8, 8} },
	/* spec 1, 2 (KW, S) are set per dispatch from the convolution */
	[KERN_CONV_BWD_WEIGHT_ROW] = { "conv_bwd_weight_row", conv_bwd_weight_row_spv, sizeof(conv_bwd_weight_row_spv), 3, sizeof(struct push_conv), 3,
		{64, 3, 1}, {64, 3, 1} },
};
