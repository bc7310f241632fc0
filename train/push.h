/*
 * C twins of the shaders' push-constant blocks.  Every field is 4 bytes, in
 * the order the GLSL block declares it (std430 push-constant layout has no
 * padding between 4-byte scalars), and every block fits the 128 bytes all
 * Vulkan devices guarantee.  "off" fields are element offsets inside the
 * binding (see vk_bind_elems()); "ns" fields are batch strides in elements,
 * which lets a tensor be a channel view of a larger one (concat/split).
 */
#ifndef DSFS_TRAIN_PUSH_H
#define DSFS_TRAIN_PUSH_H

#include <stdint.h>

/* Flag bits shared by several kernels. */
enum push_flags {
	PF_ACC = 1 << 0,    /* add to the destination instead of overwriting it */
	PF_BIAS = 1 << 1,   /* conv_fwd: + aux[b_off + co] */
	PF_AFFINE = 1 << 2, /* conv_fwd: * aux[b_off + co] + aux[b_off + co_total + co] */
	PF_SILU = 1 << 3,   /* apply SiLU after the affine part / differentiate through it */
	PF_EVAL = 1 << 4,   /* batch norm: running statistics instead of batch statistics */
	PF_BCAST = 1 << 5,  /* copy: source is a single element */
	PF_BWD = 1 << 6,    /* pool_mean, upsample, mse: the backward direction */
	PF_FOLD = 1 << 7,   /* bn_final: write conv-epilogue scale/shift from running stats */
	PF_ZERO_GRAD = 1 << 8, /* sgd/adamw: zero the gradient after using it */
};

/*
 * conv_fwd.comp, conv_bwd_data.comp, conv_bwd_weight.comp.  Shapes are those
 * of the forward convolution: input n x ci x h x w, weights co x ci x kh x kw,
 * output n x co x oh x ow.  Bindings:
 *   fwd:         0 x, 1 w, 2 y, 3 aux (bias or scale/shift)
 *   bwd_data:    0 dy, 1 w, 2 dx
 *   bwd_weight:  0 dy, 1 x, 2 dw (or split-K partials, split s at y_off + s*co*ci*kh*kw)
 * x_* describe the forward input (dx for bwd_data), y_* the forward output
 * (dy for bwd_*).  k_split: output pixels per split (bwd_weight).
 */
struct push_conv {
	int32_t n, ci, h, w;
	int32_t co, oh, ow;
	int32_t kh, kw, stride, pad;
	uint32_t x_off, x_ns;
	uint32_t y_off, y_ns;
	uint32_t w_off, b_off;
	uint32_t flags;
	int32_t k_split, n_split;
	uint32_t o_off;        /* bwd_weight: output offset */
};
_Static_assert(sizeof(struct push_conv) <= 128, "push_conv exceeds 128 bytes");

/* to_cl.comp: dst[img][q][c4] = src[img][c][q], zero-padded to c4 (a multiple of
 * 4) channels; bindings 0 src, 1 dst.  dst_off, dst_ns multiples of 4. */
struct push_cl {
	uint32_t c, hw, c4;
	uint32_t src_off, src_ns;
	uint32_t dst_off, dst_ns;
};
_Static_assert(sizeof(struct push_cl) <= 128, "push_cl exceeds 128 bytes");

/* gemm.comp: c[m][n] (+)= sum_k a[k][m] * b[k][n]; bindings 0 a, 1 b, 2 c.  m, n multiples of 4. */
struct push_gemm {
	int32_t m, n, k;
	uint32_t a_off, b_off, c_off; /* multiples of 4 */
	uint32_t flags;
};
_Static_assert(sizeof(struct push_gemm) <= 128, "push_gemm exceeds 128 bytes");

/*
 * conv1x1.comp (1x1 stride-1 pad-0 conv forward / backward-data as a batched
 * GEMM): c[z][row][col] = epilogue(sum_k a[k][row] * b[z][k][col]) for rows
 * < m, cols < n; a rows padded to a multiple of 4.  Bindings 0 a, 1 b, 2 c,
 * 3 aux (bias or scale/shift at x_off).  n, a_off, b_off, b_ns multiples of 4.
 */
struct push_gemm_b {
	int32_t m, n, k;
	uint32_t a_off, b_off, b_ns, c_off, c_ns, x_off;
	uint32_t flags;
};
_Static_assert(sizeof(struct push_gemm_b) <= 128, "push_gemm_b exceeds 128 bytes");

/*
 * conv1x1_bwd_weight.comp: dw[co][ci] (+)= sum over the pixel quads [z*kq, z*kq+kq)
 * of the cnt images (hw4 quads each, in order) of dy . x^T; slice z at o_off + z*co*ci.
 * Bindings 0 dy, 1 x, 2 dw (or partials).  Offsets and strides multiples of 4.
 */
struct push_w1x1 {
	int32_t co, ci, hw4, cnt, kq;
	uint32_t y_off, y_ns, x_off, x_ns, o_off;
	uint32_t flags;
};
_Static_assert(sizeof(struct push_w1x1) <= 128, "push_w1x1 exceeds 128 bytes");

/*
 * Element-wise kernels over n images of len elements (silu.comp,
 * silu_bwd.comp, add.comp, copy.comp).  Bindings 0 a, 1 b, 2 c:
 *   silu:     c (+)= silu(a)                         (b unused)
 *   silu_bwd: c += b * silu'(a)                      (a = x, b = dy, c = dx)
 *   add:      c (+)= alpha * a + beta * b
 *   copy:     c (+)= alpha * a[i] (a[a_off] with PF_BCAST)  (b unused)
 */
struct push_ew {
	uint32_t n, len;
	uint32_t a_off, a_ns, b_off, b_ns, c_off, c_ns;
	float alpha, beta;
	uint32_t flags;
};
_Static_assert(sizeof(struct push_ew) <= 128, "push_ew exceeds 128 bytes");

/* sum_slices.comp: dst[i] (+)= sum_s src[s * len + i]; bindings 0 src, 1 dst. */
struct push_slices {
	uint32_t len, n_slices, src_off, dst_off, flags;
};
_Static_assert(sizeof(struct push_slices) <= 128, "push_slices exceeds 128 bytes");

/*
 * Per-channel kernels over x: n x c x hw (batch stride x_ns).
 *   chan_sum.comp:      0 x, 1 out:  out[o_off + ch] (+)= alpha * sum
 *   bn_stats.comp:      0 x, 1 part: part[o_off + {0,c,2c} + ch] = sum, sum sq, shift
 *                       (PF_ACC: add this batch chunk, reusing the stored shift)
 *   pool_mean.comp:     0 src, 1 dst: fwd y[n][ch] (+)= alpha * sum_hw x;
 *                       PF_BWD: dx[n][ch][hw] += alpha * dy[n][ch]  (y_* describe the n x c tensor)
 */
struct push_chan {
	uint32_t n, c, hw;
	uint32_t x_off, x_ns;
	uint32_t o_off, o_ns;
	float alpha;
	uint32_t flags;
};
_Static_assert(sizeof(struct push_chan) <= 128, "push_chan exceeds 128 bytes");

/*
 * bn_final.comp: bindings 0 part, 1 save, 2 running, 3 gamma, 4 beta.
 *   part: sum, sum sq, shift (3c); save: mean, invstd (2c); running: mean, var (2c).
 *   PF_FOLD: instead write save = {gamma*invstd_run, beta - mean_run*gamma*invstd_run}.
 */
struct push_bn_final {
	uint32_t c;
	float count, eps, momentum;
	uint32_t p_off, s_off, r_off, g_off, b_off;
	uint32_t flags;
};
_Static_assert(sizeof(struct push_bn_final) <= 128, "push_bn_final exceeds 128 bytes");

/*
 * bn_apply.comp:      0 x, 1 y, 2 stats, 3 gamma, 4 beta
 *                     y = act(gamma * (x - mean) * invstd + beta)
 * bn_bwd_reduce.comp: 0 x, 1 dy, 2 stats, 3 gamma, 4 beta, 5 red
 *                     red[r_off + {0,c} + ch] (+)= sum g, sum g*xhat  (g = dy * act')
 * bn_bwd_apply.comp:  0 x, 1 dy, 2 stats, 3 gamma, 4 beta, 5 red, 6 dx
 *                     dx += gamma*invstd*(g - sum g/count - xhat * sum g xhat/count)
 * stats: mean at s_off + ch, invstd (or running var with PF_EVAL) at s_off + c + ch.
 */
struct push_bn {
	uint32_t n, c, hw;
	uint32_t x_off, x_ns;
	uint32_t y_off, y_ns;   /* y (apply) or dy (bwd) */
	uint32_t d_off, d_ns;   /* dx (bwd_apply) */
	uint32_t s_off, g_off, b_off, r_off;
	float eps, count;
	uint32_t flags;
};
_Static_assert(sizeof(struct push_bn) <= 128, "push_bn exceeds 128 bytes");

/*
 * maxpool.comp (0 x, 1 y, 2 idx) and maxpool_bwd.comp (0 dy, 1 idx, 2 dx):
 * k x k window, stride, pad (padding never wins).  idx holds iy*w+ix of the
 * first maximum in scan order, as float bits.
 * upsample.comp (0 src, 1 dst): nearest, integer factor; PF_BWD sums back.
 */
struct push_pool {
	uint32_t n, c, h, w, oh, ow;
	int32_t k, stride, pad;
	uint32_t x_off, x_ns, y_off, y_ns, i_off, i_ns;
	uint32_t flags;
};
_Static_assert(sizeof(struct push_pool) <= 128, "push_pool exceeds 128 bytes");

/* reduce_sum.comp: 0 x, 1 y.  Work group (gx, gy) writes y[y_off + gy*groups_x + gx] = alpha * its sum. */
struct push_reduce {
	uint32_t n, len, x_off, x_ns, y_off;
	float alpha;
	uint32_t flags;
};
_Static_assert(sizeof(struct push_reduce) <= 128, "push_reduce exceeds 128 bytes");

/*
 * sgd.comp (0 p, 1 g, 2 m, 3 hyper) and adamw.comp (0 p, 1 g, 2 m, 3 v, 4 hyper):
 * one pass over `len` parameters; the first `n_decay` get weight decay.
 * Hyper-parameters are read from a small host-written buffer (struct
 * opt_hyper) so a recorded step can change the learning rate between submits.
 */
struct push_opt {
	uint32_t len, n_decay;
	uint32_t p_off, g_off, m_off, v_off, h_off;
	uint32_t flags;
};
_Static_assert(sizeof(struct push_opt) <= 128, "push_opt exceeds 128 bytes");

/* Layout of the hyper-parameter buffer read by sgd.comp / adamw.comp (floats). */
struct opt_hyper {
	float lr, momentum, weight_decay, nesterov; /* sgd */
	float beta1, beta2, eps;                    /* adamw */
	float bc1, bc2;                             /* 1 - beta^t, host-computed */
	float pad[7];
};
_Static_assert(sizeof(struct opt_hyper) == 64, "opt_hyper must stay 16 floats");

/*
 * mse.comp: 0 pred, 1 target, 2 out.  Forward: out[o_off] = sum (p-t)^2 / len.
 * PF_BWD: out[o_off + i] += 2 (p_i - t_i) / len * alpha (alpha = dL/dloss).
 */
struct push_mse {
	uint32_t len, p_off, t_off, o_off;
	float alpha;
	uint32_t flags;
};
_Static_assert(sizeof(struct push_mse) <= 128, "push_mse exceeds 128 bytes");

#endif
