/*
 * Op recording (see ops.h).  The pattern of every op: check shapes, find
 * how many images one dispatch may cover so that no binding exceeds
 * maxStorageBufferRange (chunk_images), then per chunk bind each tensor's
 * images, fill the push block and dispatch.  Ops that reduce over the batch
 * (statistics, weight and bias gradients) add later chunks to the first
 * chunk's result, so chunking never changes what is computed, only (in the
 * last bits) the order of a sum.
 */
#include "train/ops.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

#define EW_MAX_GROUPS 512u   /* element-wise kernels loop grid-stride beyond this */
#define EW_PER_LANE 16u      /* at least this many elements per lane: CPU devices pay per work group */

static uint32_t cdiv(uint64_t a, uint64_t b)
{
	return (uint32_t)((a + b - 1) / b);
}

static uint32_t min_u32(uint64_t a, uint64_t b)
{
	return (uint32_t)(a < b ? a : b);
}

static const int32_t *spec_of(const struct op_ctx *o, enum kern k)
{
	return o->spec[k] ? o->spec[k] : vk_spec(o->vk, k);
}

static int dispatch(struct op_ctx *o, enum kern k, const struct vk_bind *b, const void *push,
		    uint32_t push_size, uint32_t gx, uint32_t gy, uint32_t gz, const char *label,
		    double flops, double bytes)
{
	struct vk_dispatch d = {
		.kern = k,
		.spec = o->spec[k],
		.binds = b,
		.push = push,
		.push_size = push_size,
		.groups = { gx, gy, gz },
		.label = label,
		.flops = flops,
		.bytes = bytes,
	};
	return vk_cmd_dispatch(o->cmd, &d);
}

/* Bind images [n0, n0 + cnt) of `t`; *off (OUT) is the element offset of image n0. */
static int bind_imgs(struct op_ctx *o, struct vk_bind *b, uint32_t *off, const struct tensor *t,
		     int n0, int cnt)
{
	uint64_t first = t->off + (uint64_t)n0 * t->ns;
	uint64_t count = (uint64_t)(cnt - 1) * t->ns + tensor_img(t);

	return vk_bind_elems(b, off, o->vk, t->mem.blk, t->mem.off + first * 4, count);
}

static int bind_all(struct op_ctx *o, struct vk_bind *b, uint32_t *off, const struct tensor *t)
{
	return bind_imgs(o, b, off, t, 0, t->n);
}

/*
 * The most images one dispatch may cover: every tensor in `ts` (NULLs
 * skipped) must bind within maxStorageBufferRange, and the image count must
 * fit a work-group dimension.  -E2BIG when a single image is too large.
 */
static int chunk_images(struct op_ctx *o, int *out, const struct tensor *const *ts, int nt,
			const char *op)
{
	const struct vk_info *in = vk_info(o->vk);
	uint64_t lim = (in->max_range - in->offset_align) / 4;
	uint64_t nb = in->max_groups[2] < in->max_groups[1] ? in->max_groups[2] : in->max_groups[1];

	for (int i = 0; i < nt; i++) {
		const struct tensor *t = ts[i];
		uint64_t img, k;

		if (!t)
			continue;
		img = tensor_img(t);
		if (img > lim)
			return err_set(-E2BIG, "%s: one image (%" PRIu64 " floats) exceeds the %" PRIu64
				       "-byte storage binding limit", op, img, in->max_range);
		k = 1 + (lim - img) / (t->ns ? t->ns : 1);
		if (k < nb)
			nb = k;
	}
	*out = (int)nb;
	return 0;
}

/* `nb` images of `per_image` units each, cut to as many as fit in `limit` units. */
static int fit_images(int nb, uint64_t per_image, uint64_t limit)
{
	return (uint64_t)nb * per_image > limit ? (int)(limit / per_image) : nb;
}

/* ---------------------------------------------------------------- tensors */

int tensor_alloc(struct tensor *out, struct vk_pool *pool, int n, int c, int h, int w)
{
	uint64_t numel = (uint64_t)n * c * h * w;
	int error;

	memset(out, 0, sizeof(*out));
	if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
		return err_set(-EINVAL, "tensor_alloc: bad shape %dx%dx%dx%d", n, c, h, w);
	if ((error = vk_alloc(&out->mem, pool, numel * 4)) < 0)
		return error;
	out->n = n;
	out->c = c;
	out->h = h;
	out->w = w;
	out->ns = (uint64_t)c * h * w;
	return 0;
}

struct tensor tensor_channels(const struct tensor *t, int c0, int c)
{
	struct tensor v = *t;

	v.off += (uint64_t)c0 * t->h * t->w;
	v.c = c;
	return v;
}

struct tensor tensor_vec(const struct tensor *t, uint64_t off, uint64_t len)
{
	struct tensor v = *t;

	v.off += off;
	v.n = 1;
	v.c = (int)len;
	v.h = v.w = 1;
	v.ns = len;
	return v;
}

int tensor_upload(struct vk *vk, const struct tensor *t, const float *src)
{
	uint64_t img = tensor_img(t);
	int error = 0;

	if (t->ns == img || t->n == 1)
		return vk_upload(vk, t->mem, t->off * 4, src, tensor_numel(t) * 4);
	for (int i = 0; i < t->n && !error; i++)
		error = vk_upload(vk, t->mem, (t->off + i * t->ns) * 4, src + i * img, img * 4);
	return error;
}

int tensor_download(struct vk *vk, float *dst, const struct tensor *t)
{
	uint64_t img = tensor_img(t);
	int error = 0;

	if (t->ns == img || t->n == 1)
		return vk_download(vk, dst, t->mem, t->off * 4, tensor_numel(t) * 4);
	for (int i = 0; i < t->n && !error; i++)
		error = vk_download(vk, dst + i * img, t->mem, (t->off + i * t->ns) * 4, img * 4);
	return error;
}

int op_fill(struct op_ctx *o, const struct tensor *t, float value)
{
	uint64_t img = tensor_img(t);
	uint32_t bits;
	int error = 0;

	memcpy(&bits, &value, 4);
	if (t->ns == img || t->n == 1)
		return vk_cmd_fill(o->cmd, t->mem, t->off * 4, tensor_numel(t) * 4, bits);
	for (int i = 0; i < t->n && !error; i++)
		error = vk_cmd_fill(o->cmd, t->mem, (t->off + i * t->ns) * 4, img * 4, bits);
	return error;
}

/* ---------------------------------------------------------------- convolution */

static int conv_check(const char *op, const struct tensor *x, const struct tensor *w,
		      const struct tensor *y, const struct conv_desc *cd)
{
	if (cd->kh <= 0 || cd->kw <= 0 || cd->stride <= 0 || cd->pad < 0)
		return err_set(-EINVAL, "%s: bad kernel %dx%d stride %d pad %d", op, cd->kh, cd->kw,
			       cd->stride, cd->pad);
	if (w->n <= 0 || w->c != x->c || w->h != cd->kh || w->w != cd->kw || y->n != x->n ||
	    y->c != w->n || y->h != conv_out(x->h, cd->kh, cd->stride, cd->pad) ||
	    y->w != conv_out(x->w, cd->kw, cd->stride, cd->pad) || y->h <= 0 || y->w <= 0)
		return err_set(-EINVAL, "%s: shapes x %dx%dx%dx%d w %dx%dx%dx%d y %dx%dx%dx%d "
			       "do not match k%dx%d s%d p%d", op, x->n, x->c, x->h, x->w, w->n,
			       w->c, w->h, w->w, y->n, y->c, y->h, y->w, cd->kh, cd->kw,
			       cd->stride, cd->pad);
	return 0;
}

static void conv_push(struct push_conv *pc, int cnt, const struct tensor *x,
		      const struct tensor *y, const struct conv_desc *cd)
{
	memset(pc, 0, sizeof(*pc));
	pc->n = cnt;
	pc->ci = x->c;
	pc->h = x->h;
	pc->w = x->w;
	pc->co = y->c;
	pc->oh = y->h;
	pc->ow = y->w;
	pc->kh = cd->kh;
	pc->kw = cd->kw;
	pc->stride = cd->stride;
	pc->pad = cd->pad;
	pc->x_ns = (uint32_t)x->ns;
	pc->y_ns = (uint32_t)y->ns;
}

static void conv_label(char *buf, size_t sz, const char *op, const struct tensor *x,
		       const struct tensor *y, const struct conv_desc *cd)
{
	snprintf(buf, sz, "%s %dx%d s%d %d->%d %dx%d", op, cd->kh, cd->kw, cd->stride, x->c, y->c,
		 x->h, x->w);
}

/* Record to_cl.comp: images [0, n) of src (c x hw each, batch stride src_ns)
 * to channels-last dst (hw x c4 each, batch stride hw * c4). */
static int to_cl(struct op_ctx *o, struct vk_bind *src, uint32_t src_off, uint32_t src_ns,
		 const struct tensor *dst, int n, uint32_t c, uint32_t hw, uint32_t c4)
{
	const int32_t *sp = spec_of(o, KERN_TO_CL);
	struct push_cl pc = { c, hw, c4, src_off, src_ns, 0, hw * c4 };
	struct vk_bind b[2] = { *src };
	int error;

	if ((error = bind_all(o, &b[1], &pc.dst_off, dst)) < 0)
		return error;
	if (pc.dst_off % 4)
		return err_set(-EINVAL, "to_cl: destination not 16-byte aligned");
	return dispatch(o, KERN_TO_CL, b, &pc, sizeof(pc),
			min_u32(cdiv((uint64_t)hw * c4 / 4, sp[0]), EW_MAX_GROUPS), (uint32_t)n, 1,
			"to_cl", 0, 8.0 * n * hw * c4);
}

/*
 * 1x1 stride-1 pad-0 convolutions on CPU devices run as GEMMs on the NCHW
 * tensors (conv1x1.comp, conv1x1_bwd_weight.comp) instead of over
 * channels-last copies: with k = ci or co of only 64-128 the copies of x and
 * dy cost about as much as the GEMM itself.  The kernels load vec4s along
 * the pixels, so hw, the batch strides and the first element of every
 * operand must be multiples of 4 (16 bytes, and bindings must start on 16
 * bytes); other shapes and views take the channels-last path.
 */
static int vec4_ok(const struct op_ctx *o, const struct tensor *t)
{
	return vk_info(o->vk)->offset_align % 16 == 0 && (t->mem.off + t->off * 4) % 16 == 0 &&
	       (t->n == 1 || t->ns % 4 == 0);
}

static int conv1x1_ok(const struct op_ctx *o, const struct tensor *x, const struct tensor *y,
		      const struct conv_desc *cd)
{
	return cd->kh == 1 && cd->kw == 1 && cd->stride == 1 && cd->pad == 0 &&
	       (x->h * x->w) % 4 == 0 && vec4_ok(o, x) && vec4_ok(o, y);
}

/* Record conv1x1.comp over images [0, n) of b (k x hw) and c (m x hw), in
 * chunks of nb; a is k x m4*4 floats, k-major. */
static int conv1x1_gemm(struct op_ctx *o, const struct tensor *c, const struct tensor *a,
			const struct tensor *b, const struct tensor *aux, int m, int k,
			unsigned flags, int nb, const char *label)
{
	const int32_t *sp = spec_of(o, KERN_CONV1X1);
	const int hw = b->h * b->w;
	struct vk_bind bd[4];
	struct push_gemm_b pg;
	int error;

	for (int n0 = 0; n0 < b->n; n0 += nb) {
		int cnt = b->n - n0 < nb ? b->n - n0 : nb;

		memset(&pg, 0, sizeof(pg));
		pg.m = m;
		pg.n = hw;
		pg.k = k;
		pg.b_ns = (uint32_t)b->ns;
		pg.c_ns = (uint32_t)c->ns;
		pg.flags = flags;
		if ((error = bind_all(o, &bd[0], &pg.a_off, a)) < 0 ||
		    (error = bind_imgs(o, &bd[1], &pg.b_off, b, n0, cnt)) < 0 ||
		    (error = bind_imgs(o, &bd[2], &pg.c_off, c, n0, cnt)) < 0 ||
		    (error = bind_all(o, &bd[3], &pg.x_off, aux ? aux : a)) < 0)
			return error;
		if (pg.a_off % 4 || pg.b_off % 4)
			return err_set(-EINVAL, "%s: operand not 16-byte aligned", label);
		if ((error = dispatch(o, KERN_CONV1X1, bd, &pg, sizeof(pg),
				      cdiv(hw / 4, (uint64_t)sp[0] * sp[3]),
				      cdiv((m + 3) / 4, (uint64_t)sp[1] * sp[2]), (uint32_t)cnt, label,
				      2.0 * cnt * hw * m * k, 0)) < 0)
			return error;
	}
	return 0;
}

/* Forward: y[n] = w (co x ci) . x[n]; a = w^T (ci x co4), a to_cl copy. */
static int conv1x1_fwd(struct op_ctx *o, const struct tensor *y, const struct tensor *x,
		       const struct tensor *w, const struct tensor *aux, const struct conv_desc *cd,
		       unsigned flags, int nb)
{
	const uint32_t co4 = ((uint32_t)y->c + 3) & ~3u;
	struct tensor wt;
	struct vk_bind b;
	uint32_t w_off;
	char label[96];
	int error;

	if ((error = tensor_alloc(&wt, o->scratch, 1, (int)(x->c * co4), 1, 1)) < 0 ||
	    (error = bind_all(o, &b, &w_off, w)) < 0 ||
	    (error = to_cl(o, &b, w_off, 0, &wt, 1, (uint32_t)y->c, (uint32_t)x->c, co4)) < 0)
		return error;
	conv_label(label, sizeof(label), "conv_fwd", x, y, cd);
	return conv1x1_gemm(o, y, &wt, x, aux, y->c, x->c, flags, nb, label);
}

/* Backward-data: dx[n] (+)= w^T (ci x co) . dy[n]; a = w (co x ci), used in
 * place when ci is a multiple of 4, else padded to ci4 columns by
 * transposing twice with to_cl (w is small). */
static int conv1x1_bwd_data(struct op_ctx *o, const struct tensor *dx, const struct tensor *dy,
			    const struct tensor *w, const struct conv_desc *cd, unsigned flags,
			    int nb)
{
	const uint32_t co4 = ((uint32_t)dy->c + 3) & ~3u, c4 = ((uint32_t)dx->c + 3) & ~3u;
	struct tensor wt, wp;
	const struct tensor *a = w;
	struct vk_bind b;
	uint32_t off;
	char label[96];
	int error;

	if (c4 != (uint32_t)dx->c || !vec4_ok(o, w)) {
		if ((error = tensor_alloc(&wt, o->scratch, 1, (int)(dx->c * co4), 1, 1)) < 0 ||
		    (error = tensor_alloc(&wp, o->scratch, 1, (int)(co4 * c4), 1, 1)) < 0 ||
		    (error = bind_all(o, &b, &off, w)) < 0 ||
		    (error = to_cl(o, &b, off, 0, &wt, 1, (uint32_t)dy->c, (uint32_t)dx->c, co4)) < 0 ||
		    (error = bind_all(o, &b, &off, &wt)) < 0 ||
		    (error = to_cl(o, &b, off, 0, &wp, 1, (uint32_t)dx->c, co4, c4)) < 0)
			return error;
		a = &wp;
	}
	conv_label(label, sizeof(label), "conv_bwd_data", dx, dy, cd);
	return conv1x1_gemm(o, dx, a, dy, NULL, dx->c, dy->c, flags & PF_ACC, nb, label);
}

/*
 * Run a weight-gradient dispatch `d` whose output is binding `out` at
 * *o_off: straight into dw, or, with splits > 1, into that many partial
 * slices of wlen floats (scratch) that sum_slices.comp then adds into dw
 * (accumulating when `fl` has PF_ACC).
 */
static int dispatch_split_sum(struct op_ctx *o, const struct vk_dispatch *d, struct vk_bind *out,
			      uint32_t *o_off, const struct tensor *dw, uint64_t wlen,
			      uint64_t splits, unsigned fl)
{
	const int32_t *ssp = spec_of(o, KERN_SUM_SLICES);
	struct vk_bind sb[2];
	struct tensor part;
	int error;

	if (splits <= 1)
		return (error = bind_all(o, out, o_off, dw)) < 0 ? error : vk_cmd_dispatch(o->cmd, d);
	if ((error = tensor_alloc(&part, o->scratch, 1, (int)(splits * wlen), 1, 1)) < 0 ||
	    (error = bind_all(o, out, o_off, &part)) < 0 ||
	    (error = vk_cmd_dispatch(o->cmd, d)) < 0)
		return error;
	struct push_slices ps = { (uint32_t)wlen, (uint32_t)splits, 0, 0, fl };

	if ((error = bind_all(o, &sb[0], &ps.src_off, &part)) < 0 ||
	    (error = bind_all(o, &sb[1], &ps.dst_off, dw)) < 0)
		return error;
	return dispatch(o, KERN_SUM_SLICES, sb, &ps, sizeof(ps),
			min_u32(cdiv(wlen, ssp[0]), EW_MAX_GROUPS), 1, 1, "conv_bwd_weight sum", 0,
			4.0 * (splits + 1) * wlen);
}

/* Backward-weight: dw (+)= sum_n dy[n] . x[n]^T, split over pixels into
 * partial slices (summed by sum_slices.comp) until there are enough work
 * groups for every core. */
static int conv1x1_bwd_weight(struct op_ctx *o, const struct tensor *dw, const struct tensor *dy,
			      const struct tensor *x, const struct conv_desc *cd, unsigned flags,
			      int nb)
{
	const int32_t *sp = spec_of(o, KERN_CONV1X1_BWD_WEIGHT);
	const uint64_t wlen = (uint64_t)dy->c * x->c;
	const uint64_t nblocks = (uint64_t)cdiv(dy->c, sp[1]) * cdiv(x->c, sp[2]);
	const struct vk_info *in = vk_info(o->vk);
	const uint64_t lim = (in->max_range - in->offset_align) / 4;
	const int hw = x->h * x->w;
	struct vk_bind b[3];
	struct push_w1x1 pw;
	int32_t spec[3];
	char label[96];
	int error;

	spec[0] = 8;
	while ((uint64_t)spec[0] < nblocks && spec[0] < sp[0])
		spec[0] *= 2;
	spec[1] = sp[1];
	spec[2] = sp[2];
	const uint32_t gx = cdiv(nblocks, spec[0]);

	conv_label(label, sizeof(label), "conv_bwd_weight", x, dy, cd);
	for (int n0 = 0; n0 < x->n; n0 += nb) {
		int cnt = x->n - n0 < nb ? x->n - n0 : nb;
		unsigned fl = (flags & PF_ACC) || n0 > 0 ? PF_ACC : 0;
		/* 16 work groups keep a CPU device's threads busy; at most 1024
		 * quads (4096 pixels) per slice keep the float sums accurate. */
		const uint64_t quads = (uint64_t)cnt * (hw / 4);
		uint64_t splits = gx >= 16 ? 1 : (16 + gx - 1) / gx;

		if (splits < quads / 1024)
			splits = quads / 1024;
		if (splits > quads)
			splits = quads;
		if (splits > in->max_groups[2])
			splits = in->max_groups[2];
		if (splits * wlen > lim)
			splits = lim / wlen;
		if (splits < 1)
			splits = 1;
		uint32_t kq = cdiv(quads, splits);

		splits = cdiv(quads, kq);
		memset(&pw, 0, sizeof(pw));
		pw.co = dy->c;
		pw.ci = x->c;
		pw.hw4 = hw / 4;
		pw.cnt = cnt;
		pw.kq = (int32_t)kq;
		pw.y_ns = (uint32_t)dy->ns;
		pw.x_ns = (uint32_t)x->ns;
		pw.flags = splits > 1 ? 0 : fl;
		if ((error = bind_imgs(o, &b[0], &pw.y_off, dy, n0, cnt)) < 0 ||
		    (error = bind_imgs(o, &b[1], &pw.x_off, x, n0, cnt)) < 0)
			return error;
		if (pw.y_off % 4 || pw.x_off % 4)
			return err_set(-EINVAL, "conv_bwd_weight: operand not 16-byte aligned");
		struct vk_dispatch d = { .kern = KERN_CONV1X1_BWD_WEIGHT, .spec = spec, .binds = b,
					 .push = &pw, .push_size = sizeof(pw),
					 .groups = { gx, 1, (uint32_t)splits }, .label = label,
					 .flops = 2.0 * cnt * hw * wlen };
		if ((error = dispatch_split_sum(o, &d, &b[2], &pw.o_off, dw, wlen, splits, fl)) < 0)
			return error;
	}
	return 0;
}

/*
 * conv_fwd on CPU devices: channels-last copies of the weights and of each
 * chunk of input images go to the scratch arena (one buffer reused by every
 * chunk: the barrier after each dispatch orders the reuse), then
 * conv_fwd_cl.comp loads only vec4s.  The copies cost a few percent of the
 * convolution; see conv_fwd_cl.comp for why they pay off.
 */
static int conv_fwd_cl(struct op_ctx *o, const struct tensor *y, const struct tensor *x,
		       const struct tensor *w, const struct tensor *aux, const struct conv_desc *cd,
		       unsigned flags, int nb, const char *op)
{
	const int32_t *sp = spec_of(o, KERN_CONV_FWD_CL);
	const uint32_t c4 = ((uint32_t)x->c + 3) & ~3u, co4 = ((uint32_t)y->c + 3) & ~3u;
	const uint32_t kk = (uint32_t)(cd->kh * cd->kw), hw = (uint32_t)(x->h * x->w);
	const uint64_t ohw = (uint64_t)y->h * y->w, ximg = (uint64_t)hw * c4;
	const struct vk_info *in = vk_info(o->vk);
	const uint64_t lim = (in->max_range - in->offset_align) / 4;
	const uint64_t per_x = (uint64_t)sp[0] * sp[2];
	struct tensor wc, xc, pad; /* pad: the zero rows of wc past the real input channels */
	struct vk_bind b[4];
	struct push_conv pc;
	char label[96];
	int error;

	if (ximg > lim)
		return err_set(-E2BIG, "conv_fwd: one channels-last image exceeds a binding");
	nb = fit_images(nb, ximg, lim);
	/* work groups x: pixel blocks times channel blocks (see conv_fwd_cl.comp) */
	const uint64_t ncb = cdiv(co4 / 4, sp[1]);

	nb = fit_images(nb, ohw, in->max_groups[0] / ncb * per_x);
	if (nb < 1)
		return err_set(-E2BIG, "conv_fwd: image too large for one dispatch");
	if (nb > x->n)
		nb = x->n;
	/* wc has c4 (not ci) rows of taps: the kernel walks the zero-padded
	 * input channels of xc, so the padding rows must be zeros too. */
	if ((error = tensor_alloc(&wc, o->scratch, 1, (int)(c4 * kk * co4), 1, 1)) < 0 ||
	    (error = tensor_alloc(&xc, o->scratch, 1, (int)(nb * ximg), 1, 1)) < 0)
		return error;
	pad = tensor_channels(&wc, (int)(x->c * kk * co4), (int)((c4 - x->c) * kk * co4));
	if ((c4 != (uint32_t)x->c && (error = op_fill(o, &pad, 0.0f)) < 0) ||
	    (error = bind_all(o, &b[0], &pc.w_off, w)) < 0 ||
	    (error = to_cl(o, &b[0], pc.w_off, 0, &wc, 1, (uint32_t)y->c, (uint32_t)x->c * kk, co4)) < 0)
		return error;
	conv_label(label, sizeof(label), op, x, y, cd);
	for (int n0 = 0; n0 < x->n; n0 += nb) {
		int cnt = x->n - n0 < nb ? x->n - n0 : nb;
		uint32_t x_off;

		if ((error = bind_imgs(o, &b[0], &x_off, x, n0, cnt)) < 0 ||
		    (error = to_cl(o, &b[0], x_off, (uint32_t)x->ns, &xc, cnt, (uint32_t)x->c, hw, c4)) < 0)
			return error;
		conv_push(&pc, cnt, x, y, cd);
		pc.flags = flags;
		if ((error = bind_all(o, &b[0], &pc.x_off, &xc)) < 0 ||
		    (error = bind_all(o, &b[1], &pc.w_off, &wc)) < 0 ||
		    (error = bind_imgs(o, &b[2], &pc.y_off, y, n0, cnt)) < 0 ||
		    (error = aux ? bind_all(o, &b[3], &pc.b_off, aux) : bind_all(o, &b[3], &pc.b_off, w)) < 0)
			return error;
		if (pc.x_off % 4 || pc.w_off % 4)
			return err_set(-EINVAL, "conv_fwd: scratch not 16-byte aligned");
		double flops = 2.0 * cnt * ohw * y->c * x->c * kk;

		if ((error = dispatch(o, KERN_CONV_FWD_CL, b, &pc, sizeof(pc),
				      cdiv(cnt * ohw, per_x) * (uint32_t)ncb, 1, 1, label, flops, 0)) < 0)
			return error;
	}
	return 0;
}

int op_conv_fwd(struct op_ctx *o, const struct tensor *y, const struct tensor *x,
		const struct tensor *w, const struct tensor *aux, const struct conv_desc *cd,
		unsigned flags)
{
	const int32_t *sp = spec_of(o, KERN_CONV_FWD);
	const struct tensor *ts[] = { x, y };
	const uint64_t ohw = (uint64_t)y->h * y->w;
	struct vk_bind b[4];
	struct push_conv pc;
	char label[96];
	int nb, error;

	if ((error = conv_check("conv_fwd", x, w, y, cd)) < 0)
		return error;
	if ((flags & (PF_BIAS | PF_AFFINE)) &&
	    (!aux || tensor_numel(aux) < (uint64_t)y->c * ((flags & PF_AFFINE) ? 2 : 1)))
		return err_set(-EINVAL, "conv_fwd: bias/affine vector missing or short");
	if ((error = chunk_images(o, &nb, ts, 2, "conv_fwd")) < 0)
		return error;
	if (sp[3] == 0 && conv1x1_ok(o, x, y, cd))
		return conv1x1_fwd(o, y, x, w, aux, cd, flags, nb);
	if (sp[3] == 0) /* register-blocked profile */
		return conv_fwd_cl(o, y, x, w, aux, cd, flags, nb, "conv_fwd");
	/* Keep the pixel work groups within the dimension limit. */
	uint64_t per_x = (uint64_t)sp[0] * sp[2];
	uint64_t gmax = vk_info(o->vk)->max_groups[0];

	nb = fit_images(nb, ohw, gmax * per_x);
	if (nb < 1)
		return err_set(-E2BIG, "conv_fwd: image too large for one dispatch");
	conv_label(label, sizeof(label), "conv_fwd", x, y, cd);
	if ((error = bind_all(o, &b[1], &pc.w_off, w)) < 0)
		return error;
	for (int n0 = 0; n0 < x->n; n0 += nb) {
		int cnt = x->n - n0 < nb ? x->n - n0 : nb;
		uint32_t w_off = pc.w_off;

		conv_push(&pc, cnt, x, y, cd);
		pc.w_off = w_off;
		pc.flags = flags;
		if ((error = bind_imgs(o, &b[0], &pc.x_off, x, n0, cnt)) < 0 ||
		    (error = bind_imgs(o, &b[2], &pc.y_off, y, n0, cnt)) < 0 ||
		    (error = aux ? bind_all(o, &b[3], &pc.b_off, aux) : bind_all(o, &b[3], &pc.b_off, w)) < 0)
			return error;
		double flops = 2.0 * cnt * ohw * y->c * x->c * cd->kh * cd->kw;

		if ((error = dispatch(o, KERN_CONV_FWD, b, &pc, sizeof(pc),
				      cdiv(cnt * ohw, per_x), cdiv(y->c, sp[1]), 1, label, flops, 0)) < 0)
			return error;
	}
	return 0;
}

/*
 * conv_bwd_data on CPU devices: channels-last copies of the weights
 * (w[co][ci][tap] -> wc[co4][tap][ci4], padding rows zero) and of each chunk
 * of dy, then conv_bwd_data_cl.comp (parity classes, vec4 loads only).
 */
static int conv_bwd_data_cl(struct op_ctx *o, const struct tensor *dx, const struct tensor *dy,
			    const struct tensor *w, const struct conv_desc *cd, unsigned flags,
			    int nb)
{
	const int32_t *sp = spec_of(o, KERN_CONV_BWD_DATA_CL);
	const int s = cd->stride;
	const uint32_t c4 = ((uint32_t)dx->c + 3) & ~3u, co4 = ((uint32_t)dy->c + 3) & ~3u;
	const uint32_t kk = (uint32_t)(cd->kh * cd->kw), ohw = (uint32_t)(dy->h * dy->w);
	const uint64_t cls = (uint64_t)((dx->h + s - 1) / s) * ((dx->w + s - 1) / s);
	const uint64_t yimg = (uint64_t)ohw * co4;
	const struct vk_info *in = vk_info(o->vk);
	const uint64_t lim = (in->max_range - in->offset_align) / 4;
	const uint64_t per_x = (uint64_t)sp[0] * sp[2];
	struct tensor wc, yc, pad; /* pad: the zero rows of wc past the real output channels */
	struct vk_bind b[3];
	struct push_conv pc;
	uint32_t w_off;
	char label[96];
	int error;

	if (yimg > lim)
		return err_set(-E2BIG, "conv_bwd_data: one channels-last image exceeds a binding");
	nb = fit_images(nb, yimg, lim);
	/* work groups x: cdiv(nb * cls, per_x) pixel blocks times channel blocks
	 * times s * s classes (see conv_bwd_data_cl.comp) */
	const uint64_t ncb = cdiv(c4 / 4, sp[1]), xper = (uint64_t)s * s * ncb;

	if (xper > in->max_groups[0])
		return err_set(-EINVAL, "conv_bwd_data: stride %d too large", s);
	nb = fit_images(nb, cls, in->max_groups[0] / xper * per_x);
	if (nb < 1)
		return err_set(-E2BIG, "conv_bwd_data: image too large for one dispatch");
	if (nb > dx->n)
		nb = dx->n;
	if ((error = tensor_alloc(&wc, o->scratch, 1, (int)(co4 * kk * c4), 1, 1)) < 0 ||
	    (error = tensor_alloc(&yc, o->scratch, 1, (int)(nb * yimg), 1, 1)) < 0)
		return error;
	pad = tensor_channels(&wc, (int)(dy->c * kk * c4), (int)((co4 - dy->c) * kk * c4));
	if ((co4 != (uint32_t)dy->c && (error = op_fill(o, &pad, 0.0f)) < 0) ||
	    (error = bind_all(o, &b[0], &w_off, w)) < 0 ||
	    (error = to_cl(o, &b[0], w_off, (uint32_t)dx->c * kk, &wc, dy->c, (uint32_t)dx->c, kk, c4)) < 0)
		return error;
	conv_label(label, sizeof(label), "conv_bwd_data", dx, dy, cd);
	for (int n0 = 0; n0 < dx->n; n0 += nb) {
		int cnt = dx->n - n0 < nb ? dx->n - n0 : nb;
		uint32_t y_off;

		if ((error = bind_imgs(o, &b[0], &y_off, dy, n0, cnt)) < 0 ||
		    (error = to_cl(o, &b[0], y_off, (uint32_t)dy->ns, &yc, cnt, (uint32_t)dy->c, ohw, co4)) < 0)
			return error;
		conv_push(&pc, cnt, dx, dy, cd);
		pc.flags = flags;
		if ((error = bind_all(o, &b[0], &pc.y_off, &yc)) < 0 ||
		    (error = bind_all(o, &b[1], &pc.w_off, &wc)) < 0 ||
		    (error = bind_imgs(o, &b[2], &pc.x_off, dx, n0, cnt)) < 0)
			return error;
		if (pc.y_off % 4 || pc.w_off % 4)
			return err_set(-EINVAL, "conv_bwd_data: scratch not 16-byte aligned");
		double flops = 2.0 * cnt * ohw * dy->c * dx->c * kk;

		if ((error = dispatch(o, KERN_CONV_BWD_DATA_CL, b, &pc, sizeof(pc),
				      cdiv(cnt * cls, per_x) * (uint32_t)xper, 1, 1,
				      label, flops, 0)) < 0)
			return error;
	}
	return 0;
}

int op_conv_bwd_data(struct op_ctx *o, const struct tensor *dx, const struct tensor *dy,
		     const struct tensor *w, const struct conv_desc *cd, unsigned flags)
{
	const int32_t *sp = spec_of(o, KERN_CONV_BWD_DATA);
	const struct tensor *ts[] = { dx, dy };
	const int s = cd->stride;
	const uint64_t cls = (uint64_t)((dx->h + s - 1) / s) * ((dx->w + s - 1) / s);
	const uint64_t per_x = (uint64_t)sp[0] * sp[2];
	const uint64_t gmax = vk_info(o->vk)->max_groups[0];
	struct vk_bind b[3];
	struct push_conv pc;
	uint32_t w_off;
	char label[96];
	int nb, error;

	if ((error = conv_check("conv_bwd_data", dx, w, dy, cd)) < 0 ||
	    (error = chunk_images(o, &nb, ts, 2, "conv_bwd_data")) < 0)
		return error;
	if (sp[3] == 0 && conv1x1_ok(o, dx, dy, cd))
		return conv1x1_bwd_data(o, dx, dy, w, cd, flags, nb);
	if (sp[3] == 0) /* register-blocked profile */
		return conv_bwd_data_cl(o, dx, dy, w, cd, flags & PF_ACC, nb);
	nb = fit_images(nb, cls, gmax * per_x);
	if (nb < 1)
		return err_set(-E2BIG, "conv_bwd_data: image too large for one dispatch");
	if ((uint64_t)s * s > vk_info(o->vk)->max_groups[2])
		return err_set(-EINVAL, "conv_bwd_data: stride %d too large", s);
	conv_label(label, sizeof(label), "conv_bwd_data", dx, dy, cd);
	if ((error = bind_all(o, &b[1], &w_off, w)) < 0)
		return error;
	for (int n0 = 0; n0 < dx->n; n0 += nb) {
		int cnt = dx->n - n0 < nb ? dx->n - n0 : nb;

		conv_push(&pc, cnt, dx, dy, cd);
		pc.w_off = w_off;
		pc.flags = flags & PF_ACC;
		if ((error = bind_imgs(o, &b[0], &pc.y_off, dy, n0, cnt)) < 0 ||
		    (error = bind_imgs(o, &b[2], &pc.x_off, dx, n0, cnt)) < 0)
			return error;
		double flops = 2.0 * cnt * dy->h * dy->w * dy->c * dx->c * cd->kh * cd->kw;

		if ((error = dispatch(o, KERN_CONV_BWD_DATA, b, &pc, sizeof(pc),
				      cdiv(cnt * cls, per_x), cdiv(dx->c, sp[1]), (uint32_t)(s * s),
				      label, flops, 0)) < 0)
			return error;
	}
	return 0;
}

int op_conv_bwd_weight(struct op_ctx *o, const struct tensor *dw, const struct tensor *dy,
		       const struct tensor *x, const struct conv_desc *cd, unsigned flags)
{
	/* CPU devices (conv_fwd's profile without shared memory): the
	 * channels-last kernel over to_cl copies of x and dy. */
	const int cl = spec_of(o, KERN_CONV_FWD)[3] == 0;
	/* 3-wide kernels at stride 1 or 2: one lane owns a kernel row's taps
	 * and slides along the pixels (conv_bwd_weight_row.comp). */
	const int row = cl && cd->kw == 3 && (cd->stride == 1 || cd->stride == 2);
	const enum kern kb = row ? KERN_CONV_BWD_WEIGHT_ROW
			     : cl ? KERN_CONV_BWD_WEIGHT_CL : KERN_CONV_BWD_WEIGHT;
	const int32_t *sp = spec_of(o, kb);
	/* taps per work-group z index: a row kernel covers a whole kernel row */
	const int zt = row ? cd->kh : cd->kh * cd->kw;
	const struct tensor *ts[] = { x, dy };
	const int kk = cd->kh * cd->kw;
	const uint64_t wlen = (uint64_t)dy->c * x->c * kk;
	const uint32_t c4 = ((uint32_t)x->c + 3) & ~3u, co4 = ((uint32_t)dy->c + 3) & ~3u;
	const uint64_t ximg = (uint64_t)x->h * x->w * c4, yimg = (uint64_t)dy->h * dy->w * co4;
	const uint64_t nblocks = row ? (uint64_t)(co4 / 4) * (c4 / 4)
				 : cl ? (uint64_t)cdiv(co4 / 4, sp[1]) * cdiv(c4 / 4, sp[2])
				      : (uint64_t)cdiv(dy->c, sp[1]) * cdiv(x->c, sp[2]);
	struct tensor xc, yc;
	const uint64_t gzmax = vk_info(o->vk)->max_groups[2];
	struct vk_bind b[3];
	struct push_conv pc;
	int32_t spec[3];
	char label[96];
	int nb, error;

	if ((error = conv_check("conv_bwd_weight", x, dw, dy, cd)) < 0 ||
	    (error = chunk_images(o, &nb, ts, 2, "conv_bwd_weight")) < 0)
		return error;
	if (cl && conv1x1_ok(o, x, dy, cd))
		return conv1x1_bwd_weight(o, dw, dy, x, cd, flags, nb);
	/* One lane per (co, ci) block: shrink the work group to the block count
	 * (down to 8 lanes) so small layers do not run mostly idle lanes. */
	spec[0] = 8;
	while ((uint64_t)spec[0] < nblocks && spec[0] < sp[0])
		spec[0] *= 2;
	spec[1] = row ? cd->kw : sp[1];
	spec[2] = row ? cd->stride : sp[2];
	const uint32_t gx = cdiv(nblocks, spec[0]);

	if (cl) {
		uint64_t lim = (vk_info(o->vk)->max_range - vk_info(o->vk)->offset_align) / 4;

		if (ximg > lim || yimg > lim)
			return err_set(-E2BIG, "conv_bwd_weight: one channels-last image exceeds a binding");
		nb = fit_images(nb, ximg, lim);
		nb = fit_images(nb, yimg, lim);
		if (nb > x->n)
			nb = x->n;
		if ((error = tensor_alloc(&xc, o->scratch, 1, (int)(nb * ximg), 1, 1)) < 0 ||
		    (error = tensor_alloc(&yc, o->scratch, 1, (int)(nb * yimg), 1, 1)) < 0)
			return error;
	}

	conv_label(label, sizeof(label), "conv_bwd_weight", x, dy, cd);
	for (int n0 = 0; n0 < x->n; n0 += nb) {
		int cnt = x->n - n0 < nb ? x->n - n0 : nb;
		uint64_t rows = (uint64_t)cnt * dy->h;
		/* Split K (rows of output pixels) until there are enough work
		 * groups to keep the device busy; 64 covers CPU devices. */
		uint64_t groups = (uint64_t)gx * zt, splits = groups >= 64 ? 1 : (64 + groups - 1) / groups;
		unsigned fl = (flags & PF_ACC) || n0 > 0 ? PF_ACC : 0;
		double flops = 2.0 * cnt * dy->h * dy->w * dy->c * x->c * kk;

		if (splits > rows)
			splits = rows;
		if (splits * zt > gzmax)
			splits = gzmax / zt;
		/* the partial sums must fit one binding */
		uint64_t lim = (vk_info(o->vk)->max_range - vk_info(o->vk)->offset_align) / 4;
		if (splits * wlen > lim)
			splits = lim / wlen;
		if (splits < 1)
			splits = 1;
		uint32_t ksplit = cdiv(rows, splits);

		splits = cdiv(rows, ksplit);
		conv_push(&pc, cnt, x, dy, cd);
		pc.k_split = (int32_t)ksplit;
		pc.n_split = (int32_t)splits;
		pc.flags = fl;
		if ((error = bind_imgs(o, &b[0], &pc.y_off, dy, n0, cnt)) < 0 ||
		    (error = bind_imgs(o, &b[1], &pc.x_off, x, n0, cnt)) < 0)
			return error;
		if (cl) {
			if ((error = to_cl(o, &b[0], pc.y_off, (uint32_t)dy->ns, &yc, cnt, (uint32_t)dy->c,
					   (uint32_t)(dy->h * dy->w), co4)) < 0 ||
			    (error = to_cl(o, &b[1], pc.x_off, (uint32_t)x->ns, &xc, cnt, (uint32_t)x->c,
					   (uint32_t)(x->h * x->w), c4)) < 0 ||
			    (error = bind_all(o, &b[0], &pc.y_off, &yc)) < 0 ||
			    (error = bind_all(o, &b[1], &pc.x_off, &xc)) < 0)
				return error;
			if (pc.x_off % 4 || pc.y_off % 4)
				return err_set(-EINVAL, "conv_bwd_weight: scratch not 16-byte aligned");
		}
		struct vk_dispatch d = { .kern = kb, .spec = spec, .binds = b,
					 .push = &pc, .push_size = sizeof(pc),
					 .groups = { gx, 1, (uint32_t)(zt * splits) },
					 .label = label, .flops = flops };
		if ((error = dispatch_split_sum(o, &d, &b[2], &pc.o_off, dw, wlen, splits, fl)) < 0)
			return error;
	}
	return 0;
}

/* ---------------------------------------------------------------- per channel */

static int chan_reduce(struct op_ctx *o, enum kern k, const char *name, const struct tensor *out,
		       const struct tensor *x, float alpha, unsigned flags)
{
	const struct tensor *ts[] = { x };
	struct vk_bind b[2];
	struct push_chan pc;
	int nb, error;

	if ((error = chunk_images(o, &nb, ts, 1, name)) < 0)
		return error;
	for (int n0 = 0; n0 < x->n; n0 += nb) {
		int cnt = x->n - n0 < nb ? x->n - n0 : nb;

		memset(&pc, 0, sizeof(pc));
		pc.n = (uint32_t)cnt;
		pc.c = (uint32_t)x->c;
		pc.hw = (uint32_t)(x->h * x->w);
		pc.x_ns = (uint32_t)x->ns;
		pc.alpha = alpha;
		pc.flags = n0 > 0 ? (flags | PF_ACC) : flags;
		if ((error = bind_imgs(o, &b[0], &pc.x_off, x, n0, cnt)) < 0 ||
		    (error = bind_all(o, &b[1], &pc.o_off, out)) < 0 ||
		    (error = dispatch(o, k, b, &pc, sizeof(pc), (uint32_t)x->c, 1, 1, name, 0,
				      4.0 * cnt * tensor_img(x))) < 0)
			return error;
	}
	return 0;
}

int op_chan_sum(struct op_ctx *o, const struct tensor *out, const struct tensor *x, float alpha,
		unsigned flags)
{
	if (tensor_numel(out) != (uint64_t)x->c)
		return err_set(-EINVAL, "chan_sum: output has %" PRIu64 " elements for %d channels",
			       tensor_numel(out), x->c);
	return chan_reduce(o, KERN_CHAN_SUM, "chan_sum", out, x, alpha, flags & PF_ACC);
}

static int bn_final(struct op_ctx *o, const struct tensor *part, const struct tensor *save,
		    const struct tensor *running, const struct tensor *gamma,
		    const struct tensor *beta, int c, float count, float eps, float momentum,
		    unsigned flags)
{
	const int32_t *sp = spec_of(o, KERN_BN_FINAL);
	struct vk_bind b[5];
	struct push_bn_final pf = { (uint32_t)c, count, eps, momentum, 0, 0, 0, 0, 0, flags };
	int error;

	if ((error = bind_all(o, &b[0], &pf.p_off, part)) < 0 ||
	    (error = bind_all(o, &b[1], &pf.s_off, save)) < 0 ||
	    (error = bind_all(o, &b[2], &pf.r_off, running)) < 0 ||
	    (error = bind_all(o, &b[3], &pf.g_off, gamma)) < 0 ||
	    (error = bind_all(o, &b[4], &pf.b_off, beta)) < 0)
		return error;
	return dispatch(o, KERN_BN_FINAL, b, &pf, sizeof(pf), cdiv(c, sp[0]), 1, 1, "bn_final", 0, 0);
}

int op_bn_stats(struct op_ctx *o, const struct tensor *save, const struct tensor *running,
		const struct tensor *x, float eps, float momentum)
{
	struct tensor part;
	int error;

	if (tensor_numel(save) < 2ull * x->c || tensor_numel(running) < 2ull * x->c)
		return err_set(-EINVAL, "bn_stats: statistics vectors need 2 x %d elements", x->c);
	if ((error = tensor_alloc(&part, o->scratch, 1, 3 * x->c, 1, 1)) < 0 ||
	    (error = chan_reduce(o, KERN_BN_STATS, "bn_stats", &part, x, 1.0f, 0)) < 0)
		return error;
	return bn_final(o, &part, save, running, &part, &part, x->c,
			(float)((double)x->n * x->h * x->w), eps, momentum, 0);
}

int op_bn_fold(struct op_ctx *o, const struct tensor *scale_shift, const struct tensor *running,
	       const struct tensor *gamma, const struct tensor *beta, float eps)
{
	int c = gamma->c * gamma->n;

	if (tensor_numel(scale_shift) < 2ull * c || tensor_numel(running) < 2ull * c ||
	    tensor_numel(beta) < (uint64_t)c)
		return err_set(-EINVAL, "bn_fold: vectors too short for %d channels", c);
	return bn_final(o, running, scale_shift, running, gamma, beta, c, 1.0f, eps, 0, PF_FOLD);
}

static int same_shape(const struct tensor *a, const struct tensor *b)
{
	return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w;
}

static int bn_vec_check(const char *op, const struct tensor *x, const struct tensor *stats,
			const struct tensor *gamma, const struct tensor *beta)
{
	if (tensor_numel(stats) < 2ull * x->c || tensor_numel(gamma) < (uint64_t)x->c ||
	    tensor_numel(beta) < (uint64_t)x->c)
		return err_set(-EINVAL, "%s: statistics/gamma/beta too short for %d channels", op, x->c);
	return 0;
}

int op_bn_apply(struct op_ctx *o, const struct tensor *y, const struct tensor *x,
		const struct tensor *stats, const struct tensor *gamma, const struct tensor *beta,
		float eps, unsigned flags)
{
	const int32_t *sp = spec_of(o, KERN_BN_APPLY);
	const struct tensor *ts[] = { x, y };
	const uint64_t hw = (uint64_t)x->h * x->w;
	struct vk_bind b[5];
	struct push_bn pb;
	int nb, error;

	if (!same_shape(x, y))
		return err_set(-EINVAL, "bn_apply: x and y differ in shape");
	if ((error = bn_vec_check("bn_apply", x, stats, gamma, beta)) < 0 ||
	    (error = chunk_images(o, &nb, ts, 2, "bn_apply")) < 0)
		return error;
	for (int n0 = 0; n0 < x->n; n0 += nb) {
		int cnt = x->n - n0 < nb ? x->n - n0 : nb;

		memset(&pb, 0, sizeof(pb));
		pb.n = (uint32_t)cnt;
		pb.c = (uint32_t)x->c;
		pb.hw = (uint32_t)hw;
		pb.x_ns = (uint32_t)x->ns;
		pb.y_ns = (uint32_t)y->ns;
		pb.eps = eps;
		pb.flags = flags & (PF_EVAL | PF_SILU | PF_ACC);
		if ((error = bind_imgs(o, &b[0], &pb.x_off, x, n0, cnt)) < 0 ||
		    (error = bind_imgs(o, &b[1], &pb.y_off, y, n0, cnt)) < 0 ||
		    (error = bind_all(o, &b[2], &pb.s_off, stats)) < 0 ||
		    (error = bind_all(o, &b[3], &pb.g_off, gamma)) < 0 ||
		    (error = bind_all(o, &b[4], &pb.b_off, beta)) < 0 ||
		    (error = dispatch(o, KERN_BN_APPLY, b, &pb, sizeof(pb),
				      min_u32(cdiv(hw, sp[0] * EW_PER_LANE), 64), (uint32_t)x->c, (uint32_t)cnt,
				      "bn_apply", 0, 8.0 * cnt * tensor_img(x))) < 0)
			return error;
	}
	return 0;
}

int op_bn_bwd(struct op_ctx *o, const struct tensor *dx, const struct tensor *dgamma,
	      const struct tensor *dbeta, const struct tensor *x, const struct tensor *dy,
	      const struct tensor *stats, const struct tensor *gamma, const struct tensor *beta,
	      float eps, unsigned flags)
{
	const int32_t *sp = spec_of(o, KERN_BN_BWD_APPLY);
	const struct tensor *ts[] = { x, dy, dx };
	const uint64_t hw = (uint64_t)x->h * x->w;
	struct vk_bind b[7];
	struct push_bn pb;
	struct tensor red, v;
	int nb, error;

	if (!same_shape(x, dy) || !same_shape(x, dx))
		return err_set(-EINVAL, "bn_bwd: x, dy and dx differ in shape");
	if ((error = bn_vec_check("bn_bwd", x, stats, gamma, beta)) < 0 ||
	    (error = chunk_images(o, &nb, ts, 3, "bn_bwd")) < 0 ||
	    (error = tensor_alloc(&red, o->scratch, 1, 2 * x->c, 1, 1)) < 0)
		return error;
	for (int pass = 0; pass < 2; pass++) {
		for (int n0 = 0; n0 < x->n; n0 += nb) {
			int cnt = x->n - n0 < nb ? x->n - n0 : nb;

			memset(&pb, 0, sizeof(pb));
			pb.n = (uint32_t)cnt;
			pb.c = (uint32_t)x->c;
			pb.hw = (uint32_t)hw;
			pb.x_ns = (uint32_t)x->ns;
			pb.y_ns = (uint32_t)dy->ns;
			pb.d_ns = (uint32_t)dx->ns;
			pb.eps = eps;
			pb.count = (float)((double)x->n * hw);
			pb.flags = (flags & (PF_EVAL | PF_SILU)) | (pass == 0 && n0 > 0 ? PF_ACC : 0);
			if ((error = bind_imgs(o, &b[0], &pb.x_off, x, n0, cnt)) < 0 ||
			    (error = bind_imgs(o, &b[1], &pb.y_off, dy, n0, cnt)) < 0 ||
			    (error = bind_all(o, &b[2], &pb.s_off, stats)) < 0 ||
			    (error = bind_all(o, &b[3], &pb.g_off, gamma)) < 0 ||
			    (error = bind_all(o, &b[4], &pb.b_off, beta)) < 0 ||
			    (error = bind_all(o, &b[5], &pb.r_off, &red)) < 0)
				return error;
			if (pass == 0) {
				error = dispatch(o, KERN_BN_BWD_REDUCE, b, &pb, sizeof(pb), (uint32_t)x->c,
						 1, 1, "bn_bwd_reduce", 0, 8.0 * cnt * tensor_img(x));
			} else {
				if ((error = bind_imgs(o, &b[6], &pb.d_off, dx, n0, cnt)) < 0)
					return error;
				error = dispatch(o, KERN_BN_BWD_APPLY, b, &pb, sizeof(pb),
						 min_u32(cdiv(hw, sp[0] * EW_PER_LANE), 64), (uint32_t)x->c,
						 (uint32_t)cnt, "bn_bwd_apply", 0,
						 16.0 * cnt * tensor_img(x));
			}
			if (error < 0)
				return error;
		}
	}
	if (dbeta) {
		v = tensor_vec(&red, 0, x->c);
		if ((error = op_copy(o, dbeta, &v, 1.0f, PF_ACC)) < 0)
			return error;
	}
	if (dgamma) {
		v = tensor_vec(&red, x->c, x->c);
		if ((error = op_copy(o, dgamma, &v, 1.0f, PF_ACC)) < 0)
			return error;
	}
	return 0;
}

/* ---------------------------------------------------------------- element-wise */

/*
 * c (op)= f(a, b) over images; a/b may be NULL (c is bound in their place).
 * With PF_BCAST, a is one element and is bound whole.
 */
static int ew(struct op_ctx *o, enum kern k, const char *name, const struct tensor *c,
	      const struct tensor *a, const struct tensor *b, float alpha, float beta,
	      unsigned flags)
{
	const int32_t *sp = spec_of(o, k);
	const int bc = (flags & PF_BCAST) != 0;
	const struct tensor *ts[] = { bc ? NULL : a, b, c };
	const uint64_t len = tensor_img(c);
	struct vk_bind bd[3];
	struct push_ew pe;
	int nb, error;

	if ((a && !bc && (a->n != c->n || tensor_img(a) != len)) ||
	    (b && (b->n != c->n || tensor_img(b) != len)))
		return err_set(-EINVAL, "%s: operands differ in shape", name);
	if ((error = chunk_images(o, &nb, ts, 3, name)) < 0)
		return error;
	for (int n0 = 0; n0 < c->n; n0 += nb) {
		int cnt = c->n - n0 < nb ? c->n - n0 : nb;

		memset(&pe, 0, sizeof(pe));
		pe.n = (uint32_t)cnt;
		pe.len = (uint32_t)len;
		pe.a_ns = a ? (uint32_t)a->ns : 0;
		pe.b_ns = b ? (uint32_t)b->ns : 0;
		pe.c_ns = (uint32_t)c->ns;
		pe.alpha = alpha;
		pe.beta = beta;
		pe.flags = flags;
		if ((error = bind_imgs(o, &bd[2], &pe.c_off, c, n0, cnt)) < 0)
			return error;
		if (!a)
			error = bind_imgs(o, &bd[0], &pe.a_off, c, n0, cnt);
		else if (bc)
			error = vk_bind_elems(&bd[0], &pe.a_off, o->vk, a->mem.blk,
					      a->mem.off + a->off * 4, 1);
		else
			error = bind_imgs(o, &bd[0], &pe.a_off, a, n0, cnt);
		if (error < 0)
			return error;
		if ((error = bind_imgs(o, &bd[1], &pe.b_off, b ? b : c, n0, cnt)) < 0)
			return error;
		if ((error = dispatch(o, k, bd, &pe, sizeof(pe), min_u32(cdiv(len, sp[0] * EW_PER_LANE), EW_MAX_GROUPS),
				      (uint32_t)cnt, 1, name, 0,
				      4.0 * cnt * len * (1 + (a && !bc) + (b != NULL) +
							 ((flags & PF_ACC) != 0)))) < 0)
			return error;
	}
	return 0;
}

int op_silu(struct op_ctx *o, const struct tensor *y, const struct tensor *x, unsigned flags)
{
	return ew(o, KERN_SILU, "silu", y, x, NULL, 1, 0, flags & PF_ACC);
}

int op_silu_bwd(struct op_ctx *o, const struct tensor *dx, const struct tensor *x,
		const struct tensor *dy)
{
	return ew(o, KERN_SILU_BWD, "silu_bwd", dx, x, dy, 1, 0, PF_ACC);
}

int op_add(struct op_ctx *o, const struct tensor *z, const struct tensor *a,
	   const struct tensor *b, float alpha, float beta, unsigned flags)
{
	return ew(o, KERN_ADD, "add", z, a, b, alpha, beta, flags & PF_ACC);
}

int op_copy(struct op_ctx *o, const struct tensor *dst, const struct tensor *src, float alpha,
	    unsigned flags)
{
	return ew(o, KERN_COPY, "copy", dst, src, NULL, alpha, 0, flags & (PF_ACC | PF_BCAST));
}

/* ---------------------------------------------------------------- pooling, upsampling */

static void pool_push(struct push_pool *pp, int cnt, const struct tensor *x,
		      const struct tensor *y, int k, int stride, int pad)
{
	memset(pp, 0, sizeof(*pp));
	pp->n = (uint32_t)cnt;
	pp->c = (uint32_t)x->c;
	pp->h = (uint32_t)x->h;
	pp->w = (uint32_t)x->w;
	pp->oh = (uint32_t)y->h;
	pp->ow = (uint32_t)y->w;
	pp->k = k;
	pp->stride = stride;
	pp->pad = pad;
	pp->x_ns = (uint32_t)x->ns;
	pp->y_ns = (uint32_t)y->ns;
}

static int pool_check(const char *op, const struct tensor *x, const struct tensor *y,
		      const struct tensor *idx, int k, int stride, int pad)
{
	if (k <= 0 || stride <= 0 || pad < 0 || pad >= k || y->n != x->n || y->c != x->c ||
	    y->h != conv_out(x->h, k, stride, pad) || y->w != conv_out(x->w, k, stride, pad) ||
	    (idx && !same_shape(idx, y)))
		return err_set(-EINVAL, "%s: shapes do not match k%d s%d p%d", op, k, stride, pad);
	return 0;
}

int op_maxpool(struct op_ctx *o, const struct tensor *y, const struct tensor *idx,
	       const struct tensor *x, int k, int stride, int pad)
{
	const int32_t *sp = spec_of(o, KERN_MAXPOOL);
	const struct tensor *ts[] = { x, y, idx };
	struct vk_bind b[3];
	struct push_pool pp;
	int nb, error;

	if ((error = pool_check("maxpool", x, y, idx, k, stride, pad)) < 0 ||
	    (error = chunk_images(o, &nb, ts, 3, "maxpool")) < 0)
		return error;
	for (int n0 = 0; n0 < x->n; n0 += nb) {
		int cnt = x->n - n0 < nb ? x->n - n0 : nb;

		pool_push(&pp, cnt, x, y, k, stride, pad);
		pp.i_ns = (uint32_t)idx->ns;
		if ((error = bind_imgs(o, &b[0], &pp.x_off, x, n0, cnt)) < 0 ||
		    (error = bind_imgs(o, &b[1], &pp.y_off, y, n0, cnt)) < 0 ||
		    (error = bind_imgs(o, &b[2], &pp.i_off, idx, n0, cnt)) < 0 ||
		    (error = dispatch(o, KERN_MAXPOOL, b, &pp, sizeof(pp),
				      min_u32(cdiv((uint64_t)y->h * y->w, sp[0] * EW_PER_LANE), 64), (uint32_t)x->c,
				      (uint32_t)cnt, "maxpool", 0,
				      4.0 * cnt * (tensor_img(x) + 2 * tensor_img(y)))) < 0)
			return error;
	}
	return 0;
}

int op_maxpool_bwd(struct op_ctx *o, const struct tensor *dx, const struct tensor *dy,
		   const struct tensor *idx, int k, int stride, int pad, unsigned flags)
{
	const int32_t *sp = spec_of(o, KERN_MAXPOOL_BWD);
	const struct tensor *ts[] = { dx, dy, idx };
	struct vk_bind b[3];
	struct push_pool pp;
	int nb, error;

	if ((error = pool_check("maxpool_bwd", dx, dy, idx, k, stride, pad)) < 0 ||
	    (error = chunk_images(o, &nb, ts, 3, "maxpool_bwd")) < 0)
		return error;
	for (int n0 = 0; n0 < dx->n; n0 += nb) {
		int cnt = dx->n - n0 < nb ? dx->n - n0 : nb;

		pool_push(&pp, cnt, dx, dy, k, stride, pad);
		pp.i_ns = (uint32_t)idx->ns;
		pp.flags = flags & PF_ACC;
		if ((error = bind_imgs(o, &b[0], &pp.y_off, dy, n0, cnt)) < 0 ||
		    (error = bind_imgs(o, &b[1], &pp.i_off, idx, n0, cnt)) < 0 ||
		    (error = bind_imgs(o, &b[2], &pp.x_off, dx, n0, cnt)) < 0 ||
		    (error = dispatch(o, KERN_MAXPOOL_BWD, b, &pp, sizeof(pp),
				      min_u32(cdiv((uint64_t)dx->h * dx->w, sp[0] * EW_PER_LANE), 64),
				      (uint32_t)dx->c, (uint32_t)cnt, "maxpool_bwd", 0,
				      4.0 * cnt * (2 * tensor_img(dx) + 2 * tensor_img(dy)))) < 0)
			return error;
	}
	return 0;
}

static int upsample_rec(struct op_ctx *o, const struct tensor *x, const struct tensor *y, int f,
			unsigned flags, int bwd)
{
	const int32_t *sp = spec_of(o, KERN_UPSAMPLE);
	const struct tensor *ts[] = { x, y };
	const char *name = bwd ? "upsample_bwd" : "upsample";
	struct vk_bind b[2];
	struct push_pool pp;
	int nb, error;

	if (f <= 0 || x->n != y->n || x->c != y->c || y->h != x->h * f || y->w != x->w * f)
		return err_set(-EINVAL, "%s: shapes do not match factor %d", name, f);
	if ((error = chunk_images(o, &nb, ts, 2, name)) < 0)
		return error;
	for (int n0 = 0; n0 < x->n; n0 += nb) {
		int cnt = x->n - n0 < nb ? x->n - n0 : nb;
		uint64_t pix = bwd ? (uint64_t)x->h * x->w : (uint64_t)y->h * y->w;

		pool_push(&pp, cnt, x, y, f, f, 0);
		pp.flags = (flags & PF_ACC) | (bwd ? PF_BWD : 0);
		if ((error = bind_imgs(o, &b[bwd ? 1 : 0], &pp.x_off, x, n0, cnt)) < 0 ||
		    (error = bind_imgs(o, &b[bwd ? 0 : 1], &pp.y_off, y, n0, cnt)) < 0 ||
		    (error = dispatch(o, KERN_UPSAMPLE, b, &pp, sizeof(pp),
				      min_u32(cdiv(pix, sp[0] * EW_PER_LANE), 64), (uint32_t)x->c, (uint32_t)cnt,
				      name, 0, 4.0 * cnt * (tensor_img(x) + tensor_img(y)))) < 0)
			return error;
	}
	return 0;
}

int op_upsample(struct op_ctx *o, const struct tensor *y, const struct tensor *x, int f,
		unsigned flags)
{
	return upsample_rec(o, x, y, f, flags, 0);
}

int op_upsample_bwd(struct op_ctx *o, const struct tensor *dx, const struct tensor *dy, int f,
		    unsigned flags)
{
	return upsample_rec(o, dx, dy, f, flags, 1);
}

static int pool_mean_rec(struct op_ctx *o, const struct tensor *x, const struct tensor *y,
			 unsigned flags, int bwd)
{
	const int32_t *sp = spec_of(o, KERN_POOL_MEAN);
	const struct tensor *ts[] = { x, y };
	const char *name = bwd ? "pool_mean_bwd" : "pool_mean";
	const uint64_t hw = (uint64_t)x->h * x->w;
	struct vk_bind b[2];
	struct push_chan pc;
	int nb, error;

	if (y->n != x->n || tensor_img(y) != (uint64_t)x->c)
		return err_set(-EINVAL, "%s: output must be %d x %d", name, x->n, x->c);
	if ((error = chunk_images(o, &nb, ts, 2, name)) < 0)
		return error;
	for (int n0 = 0; n0 < x->n; n0 += nb) {
		int cnt = x->n - n0 < nb ? x->n - n0 : nb;

		memset(&pc, 0, sizeof(pc));
		pc.n = (uint32_t)cnt;
		pc.c = (uint32_t)x->c;
		pc.hw = (uint32_t)hw;
		pc.x_ns = (uint32_t)x->ns;
		pc.o_ns = (uint32_t)y->ns;
		pc.alpha = (float)(1.0 / (double)hw);
		pc.flags = (flags & PF_ACC) | (bwd ? PF_BWD : 0);
		if ((error = bind_imgs(o, &b[bwd ? 1 : 0], &pc.x_off, x, n0, cnt)) < 0 ||
		    (error = bind_imgs(o, &b[bwd ? 0 : 1], &pc.o_off, y, n0, cnt)) < 0)
			return error;
		if (bwd)
			error = dispatch(o, KERN_POOL_MEAN, b, &pc, sizeof(pc),
					 min_u32(cdiv(hw, sp[0] * EW_PER_LANE), 64), (uint32_t)x->c, (uint32_t)cnt,
					 name, 0, 8.0 * cnt * tensor_img(x));
		else
			error = dispatch(o, KERN_POOL_MEAN, b, &pc, sizeof(pc), (uint32_t)x->c,
					 (uint32_t)cnt, 1, name, 0, 4.0 * cnt * tensor_img(x));
		if (error < 0)
			return error;
	}
	return 0;
}

int op_pool_mean(struct op_ctx *o, const struct tensor *y, const struct tensor *x, unsigned flags)
{
	return pool_mean_rec(o, x, y, flags, 0);
}

int op_pool_mean_bwd(struct op_ctx *o, const struct tensor *dx, const struct tensor *dy)
{
	return pool_mean_rec(o, dx, dy, PF_ACC, 1);
}

/* ---------------------------------------------------------------- reductions, loss */

int op_sum(struct op_ctx *o, const struct tensor *y, const struct tensor *x, float alpha,
	   unsigned flags)
{
	const int32_t *sp = spec_of(o, KERN_REDUCE_SUM);
	const struct tensor *ts[] = { x };
	const uint64_t len = tensor_img(x);
	const uint32_t gx = min_u32(cdiv(len, sp[0]), 16);
	struct vk_bind b[2];
	struct push_reduce pr;
	struct tensor part;
	int nb, error;

	if ((error = chunk_images(o, &nb, ts, 1, "sum")) < 0 ||
	    (error = tensor_alloc(&part, o->scratch, 1, (int)(gx * x->n), 1, 1)) < 0)
		return error;
	for (int n0 = 0; n0 < x->n; n0 += nb) {
		int cnt = x->n - n0 < nb ? x->n - n0 : nb;

		pr = (struct push_reduce){ (uint32_t)cnt, (uint32_t)len, 0, (uint32_t)x->ns, 0, 1.0f, 0 };
		if ((error = bind_imgs(o, &b[0], &pr.x_off, x, n0, cnt)) < 0 ||
		    (error = bind_all(o, &b[1], &pr.y_off, &part)) < 0)
			return error;
		pr.y_off += (uint32_t)(gx * n0);
		if ((error = dispatch(o, KERN_REDUCE_SUM, b, &pr, sizeof(pr), gx, (uint32_t)cnt, 1,
				      "sum", 0, 4.0 * cnt * len)) < 0)
			return error;
	}
	pr = (struct push_reduce){ 1, gx * (uint32_t)x->n, 0, 0, 0, alpha, flags & PF_ACC };
	if ((error = bind_all(o, &b[0], &pr.x_off, &part)) < 0 ||
	    (error = vk_bind_elems(&b[1], &pr.y_off, o->vk, y->mem.blk, y->mem.off + y->off * 4, 1)) < 0)
		return error;
	return dispatch(o, KERN_REDUCE_SUM, b, &pr, sizeof(pr), 1, 1, 1, "sum", 0, 0);
}

static int contiguous(const struct tensor *t)
{
	return t->n == 1 || t->ns == tensor_img(t);
}

int op_mse(struct op_ctx *o, const struct tensor *loss, const struct tensor *pred,
	   const struct tensor *target)
{
	struct vk_bind b[3];
	struct push_mse pm = { (uint32_t)tensor_numel(pred), 0, 0, 0, 1.0f, 0 };
	int error;

	if (!same_shape(pred, target) || !contiguous(pred) || !contiguous(target))
		return err_set(-EINVAL, "mse: pred and target must be contiguous and alike");
	if ((error = bind_all(o, &b[0], &pm.p_off, pred)) < 0 ||
	    (error = bind_all(o, &b[1], &pm.t_off, target)) < 0 ||
	    (error = vk_bind_elems(&b[2], &pm.o_off, o->vk, loss->mem.blk,
				   loss->mem.off + loss->off * 4, 1)) < 0)
		return error;
	return dispatch(o, KERN_MSE, b, &pm, sizeof(pm), 1, 1, 1, "mse", 0, 0);
}

int op_mse_bwd(struct op_ctx *o, const struct tensor *dpred, const struct tensor *pred,
	       const struct tensor *target, float alpha)
{
	const int32_t *sp = spec_of(o, KERN_MSE);
	struct vk_bind b[3];
	struct push_mse pm = { (uint32_t)tensor_numel(pred), 0, 0, 0, alpha, PF_BWD };
	int error;

	if (!same_shape(pred, target) || !same_shape(pred, dpred) || !contiguous(pred) ||
	    !contiguous(target) || !contiguous(dpred))
		return err_set(-EINVAL, "mse_bwd: pred, target, dpred must be contiguous and alike");
	if ((error = bind_all(o, &b[0], &pm.p_off, pred)) < 0 ||
	    (error = bind_all(o, &b[1], &pm.t_off, target)) < 0 ||
	    (error = bind_all(o, &b[2], &pm.o_off, dpred)) < 0)
		return error;
	return dispatch(o, KERN_MSE, b, &pm, sizeof(pm), min_u32(cdiv(pm.len, sp[0]), 64), 1, 1,
			"mse_bwd", 0, 0);
}

/* ---------------------------------------------------------------- optimizer */

static int opt_rec(struct op_ctx *o, enum kern k, const char *name, const struct tensor *p,
		   const struct tensor *g, const struct tensor *m, const struct tensor *v,
		   const struct tensor *hyper, uint64_t n_decay, unsigned flags)
{
	const struct vk_info *in = vk_info(o->vk);
	const int32_t *sp = spec_of(o, k);
	const uint64_t len = tensor_numel(p);
	const uint64_t step = ((in->max_range - in->offset_align) / 4) & ~63ull;
	struct vk_bind b[5];
	struct push_opt po;
	int error;

	if (tensor_numel(g) != len || tensor_numel(m) != len || (v && tensor_numel(v) != len) ||
	    !contiguous(p) || !contiguous(g) || !contiguous(m) || tensor_numel(hyper) < 16)
		return err_set(-EINVAL, "%s: parameter, gradient and state vectors differ", name);
	for (uint64_t s = 0; s < len; s += step) {
		uint64_t cnt = len - s < step ? len - s : step;
		unsigned nbind = 0;

		memset(&po, 0, sizeof(po));
		po.len = (uint32_t)cnt;
		po.n_decay = n_decay <= s ? 0 : (uint32_t)(n_decay - s < cnt ? n_decay - s : cnt);
		po.flags = flags & PF_ZERO_GRAD;
		if ((error = vk_bind_elems(&b[nbind++], &po.p_off, o->vk, p->mem.blk,
					   p->mem.off + (p->off + s) * 4, cnt)) < 0 ||
		    (error = vk_bind_elems(&b[nbind++], &po.g_off, o->vk, g->mem.blk,
					   g->mem.off + (g->off + s) * 4, cnt)) < 0 ||
		    (error = vk_bind_elems(&b[nbind++], &po.m_off, o->vk, m->mem.blk,
					   m->mem.off + (m->off + s) * 4, cnt)) < 0)
			return error;
		if (v && (error = vk_bind_elems(&b[nbind++], &po.v_off, o->vk, v->mem.blk,
						v->mem.off + (v->off + s) * 4, cnt)) < 0)
			return error;
		if ((error = bind_all(o, &b[nbind++], &po.h_off, hyper)) < 0 ||
		    (error = dispatch(o, k, b, &po, sizeof(po), min_u32(cdiv(cnt, sp[0] * EW_PER_LANE), EW_MAX_GROUPS),
				      1, 1, name, 0, 4.0 * cnt * (v ? 7 : 5))) < 0)
			return error;
	}
	return 0;
}

int op_sgd(struct op_ctx *o, const struct tensor *p, const struct tensor *g,
	   const struct tensor *m, const struct tensor *hyper, uint64_t n_decay, unsigned flags)
{
	return opt_rec(o, KERN_SGD, "sgd", p, g, m, NULL, hyper, n_decay, flags);
}

int op_adamw(struct op_ctx *o, const struct tensor *p, const struct tensor *g,
	     const struct tensor *m, const struct tensor *v, const struct tensor *hyper,
	     uint64_t n_decay, unsigned flags)
{
	return opt_rec(o, KERN_ADAMW, "adamw", p, g, m, v, hyper, n_decay, flags);
}

/* ---------------------------------------------------------------- gemm */

int op_gemm(struct op_ctx *o, const struct tensor *c, const struct tensor *a,
	    const struct tensor *b, int m, int n, int k, unsigned flags)
{
	const int32_t *sp = spec_of(o, KERN_GEMM);
	struct vk_bind bd[3];
	struct push_gemm pg = { m, n, k, 0, 0, 0, flags & PF_ACC };
	int error;

	if (m <= 0 || n <= 0 || k <= 0 || m % 4 || n % 4 || a->off % 4 || b->off % 4 ||
	    c->off % 4 || tensor_numel(a) < (uint64_t)k * m || tensor_numel(b) < (uint64_t)k * n ||
	    tensor_numel(c) < (uint64_t)m * n)
		return err_set(-EINVAL, "gemm: bad shape %dx%dx%d or operand", m, n, k);
	if ((error = vk_bind_elems(&bd[0], &pg.a_off, o->vk, a->mem.blk, a->mem.off + a->off * 4,
				   (uint64_t)k * m)) < 0 ||
	    (error = vk_bind_elems(&bd[1], &pg.b_off, o->vk, b->mem.blk, b->mem.off + b->off * 4,
				   (uint64_t)k * n)) < 0 ||
	    (error = vk_bind_elems(&bd[2], &pg.c_off, o->vk, c->mem.blk, c->mem.off + c->off * 4,
				   (uint64_t)m * n)) < 0)
		return error;
	if (pg.a_off % 4 || pg.b_off % 4)
		return err_set(-EINVAL, "gemm: operands not 16-byte aligned");
	return dispatch(o, KERN_GEMM, bd, &pg, sizeof(pg), cdiv(n / 4, sp[0] * sp[3]),
			cdiv(m / 4, sp[1] * sp[2]), 1, "gemm", 2.0 * m * n * k, 0);
}
