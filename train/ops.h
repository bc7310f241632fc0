/*
 * Ops: record one operation (forward or backward) on GPU tensors into a
 * command buffer.  Each op checks shapes, cuts its tensors into batch chunks
 * whose bindings fit maxStorageBufferRange, fills the push block and
 * dispatches the kernel(s).  Nothing runs until the command buffer is
 * submitted, so an op call is cheap and a whole training step can be
 * recorded once.
 *
 * Tensors are NCHW fp32.  A tensor is a view: it names its allocation, the
 * element offset of its first element and its batch stride, so a channel
 * range of a larger tensor (concat, split) is a tensor too
 * (tensor_channels()).  Inside one image a tensor is always contiguous.
 * Vectors (bias, gamma, statistics) are tensors of shape 1 x len x 1 x 1.
 *
 * Gradients accumulate: every backward op adds into its outputs (PF_ACC
 * semantics), so a tensor used twice simply receives both contributions.
 * Reductions are done in a fixed order (no float atomics), so a recorded
 * step gives the same bits on every run on the same device.
 *
 * Errors: -EINVAL (shapes; message names the op), -E2BIG (one image larger
 * than a binding may be), -ENOMEM, -EIO (Vulkan).
 */
#ifndef DSFS_TRAIN_OPS_H
#define DSFS_TRAIN_OPS_H

#include <stdint.h>

#include "train/push.h"
#include "train/vk.h"

struct tensor {
	struct vk_mem mem;  /* the allocation this tensor (or view) lives in */
	uint64_t off;       /* element offset of element (0,0,0,0) inside mem */
	int n, c, h, w;
	uint64_t ns;        /* elements from one image to the next (>= c*h*w) */
};

/* Where ops record: the device, the command buffer, and an arena for
 * temporaries (split-K partials, statistics) that must live until the
 * command buffer is re-recorded. */
struct op_ctx {
	struct vk *vk;
	struct vk_cmd *cmd;
	struct vk_pool *scratch;
	/* Per kernel: spec constants to use instead of the device profile's (NULL: profile).
	 * Tests use it to run both tile profiles; the benchmark to compare tilings. */
	const int32_t *spec[KERN_COUNT];
};

struct conv_desc {
	int kh, kw, stride, pad;
};

static inline uint64_t tensor_img(const struct tensor *t)
{
	return (uint64_t)t->c * (uint64_t)t->h * (uint64_t)t->w;
}

static inline uint64_t tensor_numel(const struct tensor *t)
{
	return (uint64_t)t->n * tensor_img(t);
}

/* A new contiguous n x c x h x w tensor from `pool`. */
int tensor_alloc(struct tensor *out, struct vk_pool *pool, int n, int c, int h, int w);
/* Channels [c0, c0 + c) of `t` as a view (same memory). */
struct tensor tensor_channels(const struct tensor *t, int c0, int c);
/* Elements [off, off + len) of a contiguous tensor as a 1 x len x 1 x 1 vector. */
struct tensor tensor_vec(const struct tensor *t, uint64_t off, uint64_t len);
/* Synchronous copies of all tensor_numel() values (NCHW order), views included. */
int tensor_upload(struct vk *vk, const struct tensor *t, const float *src);
int tensor_download(struct vk *vk, float *dst, const struct tensor *t);
/* Output size of a convolution along one axis. */
static inline int conv_out(int in, int k, int stride, int pad)
{
	return (in + 2 * pad - k) / stride + 1;
}

/* Record a fill of `t` (views too) with `value`. */
int op_fill(struct op_ctx *o, const struct tensor *t, float value);

/*
 * y (+)= act(conv(x, w) * scale + shift).  w: co x ci x kh x kw (a tensor
 * of that shape).  aux: with PF_BIAS a co-vector of biases, with PF_AFFINE
 * a 2co-vector (scale, shift), else NULL.  flags: PF_BIAS | PF_AFFINE |
 * PF_SILU | PF_ACC.
 */
int op_conv_fwd(struct op_ctx *o, const struct tensor *y, const struct tensor *x,
		const struct tensor *w, const struct tensor *aux, const struct conv_desc *cd,
		unsigned flags);
/* dx += conv_transpose(dy, w) (PF_ACC) or = (0). */
int op_conv_bwd_data(struct op_ctx *o, const struct tensor *dx, const struct tensor *dy,
		     const struct tensor *w, const struct conv_desc *cd, unsigned flags);
/* dw (+)= sum over the batch of dy (x) x; split-K when the output is small. */
int op_conv_bwd_weight(struct op_ctx *o, const struct tensor *dw, const struct tensor *dy,
		       const struct tensor *x, const struct conv_desc *cd, unsigned flags);
/* out[ch] (+)= alpha * sum of channel ch of x over images and pixels (bias gradient). */
int op_chan_sum(struct op_ctx *o, const struct tensor *out, const struct tensor *x, float alpha,
		unsigned flags);

/*
 * Batch norm, training: batch statistics of x into save (2c: mean, 1/std)
 * and running (2c: mean, var) updated with `momentum` (0: not updated).
 */
int op_bn_stats(struct op_ctx *o, const struct tensor *save, const struct tensor *running,
		const struct tensor *x, float eps, float momentum);
/* Eval: conv-epilogue (scale, shift) (2c) from running stats and gamma/beta. */
int op_bn_fold(struct op_ctx *o, const struct tensor *scale_shift, const struct tensor *running,
	       const struct tensor *gamma, const struct tensor *beta, float eps);
/*
 * y (+)= act(gamma * (x - mean) / std + beta).  stats: save (mean, 1/std) or,
 * with PF_EVAL, running (mean, var).  flags: PF_EVAL | PF_SILU | PF_ACC.
 */
int op_bn_apply(struct op_ctx *o, const struct tensor *y, const struct tensor *x,
		const struct tensor *stats, const struct tensor *gamma, const struct tensor *beta,
		float eps, unsigned flags);
/* Backward of op_bn_apply (+ the batch statistics unless PF_EVAL): dx +=, dgamma +=, dbeta +=
 * (dgamma/dbeta may be NULL).  flags: PF_EVAL | PF_SILU. */
int op_bn_bwd(struct op_ctx *o, const struct tensor *dx, const struct tensor *dgamma,
	      const struct tensor *dbeta, const struct tensor *x, const struct tensor *dy,
	      const struct tensor *stats, const struct tensor *gamma, const struct tensor *beta,
	      float eps, unsigned flags);

/* y (+)= silu(x);  dx += dy * silu'(x). */
int op_silu(struct op_ctx *o, const struct tensor *y, const struct tensor *x, unsigned flags);
int op_silu_bwd(struct op_ctx *o, const struct tensor *dx, const struct tensor *x,
		const struct tensor *dy);
/* z (+)= alpha a + beta b. */
int op_add(struct op_ctx *o, const struct tensor *z, const struct tensor *a,
	   const struct tensor *b, float alpha, float beta, unsigned flags);
/* dst (+)= alpha * src (same shape), or with PF_BCAST alpha * src[0] (src: any tensor). */
int op_copy(struct op_ctx *o, const struct tensor *dst, const struct tensor *src, float alpha,
	    unsigned flags);

/* Max pool k x k; idx: an int tensor shaped like y (positions of the maxima). */
int op_maxpool(struct op_ctx *o, const struct tensor *y, const struct tensor *idx,
	       const struct tensor *x, int k, int stride, int pad);
int op_maxpool_bwd(struct op_ctx *o, const struct tensor *dx, const struct tensor *dy,
		   const struct tensor *idx, int k, int stride, int pad, unsigned flags);
/* Nearest upsampling by `f`; backward sums each f x f block. */
int op_upsample(struct op_ctx *o, const struct tensor *y, const struct tensor *x, int f,
		unsigned flags);
int op_upsample_bwd(struct op_ctx *o, const struct tensor *dx, const struct tensor *dy, int f,
		    unsigned flags);
/* Global average pool: y (n x c x 1 x 1) (+)= mean over pixels; backward dx += dy / hw. */
int op_pool_mean(struct op_ctx *o, const struct tensor *y, const struct tensor *x, unsigned flags);
int op_pool_mean_bwd(struct op_ctx *o, const struct tensor *dx, const struct tensor *dy);
/* y[0] (+)= alpha * sum of all elements of x (y: any tensor; its first element).
 * Backward of a sum/mean is op_copy(dx, dy, alpha, PF_ACC | PF_BCAST). */
int op_sum(struct op_ctx *o, const struct tensor *y, const struct tensor *x, float alpha,
	   unsigned flags);
/* loss[0] = mean (pred - target)^2;  dpred += alpha * 2 (pred - target) / numel. */
int op_mse(struct op_ctx *o, const struct tensor *loss, const struct tensor *pred,
	   const struct tensor *target);
int op_mse_bwd(struct op_ctx *o, const struct tensor *dpred, const struct tensor *pred,
	       const struct tensor *target, float alpha);

/*
 * Optimizer steps over flat vectors (1 x len x 1 x 1 views; the first
 * n_decay elements get weight decay).  hyper: a tensor holding struct
 * opt_hyper (host-written between submits).  flags: PF_ZERO_GRAD.
 */
int op_sgd(struct op_ctx *o, const struct tensor *p, const struct tensor *g,
	   const struct tensor *m, const struct tensor *hyper, uint64_t n_decay, unsigned flags);
int op_adamw(struct op_ctx *o, const struct tensor *p, const struct tensor *g,
	     const struct tensor *m, const struct tensor *v, const struct tensor *hyper,
	     uint64_t n_decay, unsigned flags);

/*
 * c (+)= a^T b for a: k x m (k-major), b: k x n, c: m x n, all contiguous
 * tensors holding at least that many elements; m, n multiples of 4 and
 * offsets multiples of 4 elements.
 */
int op_gemm(struct op_ctx *o, const struct tensor *c, const struct tensor *a,
	    const struct tensor *b, int m, int n, int k, unsigned flags);

#endif
