/*
 * Every op against the CPU reference (forward: error <= 1e-4 by
 * tb_relerr) and every backward against central finite differences of the
 * double-precision reference (<= 1e-3 per tensor, tb_normerr).  The suite
 * runs three times: with the device's own tile profile forced to the CPU
 * (register-blocked) kernels, with the GPU (shared-memory) kernels, and with
 * maxStorageBufferRange capped at 64 KiB so that every op has to split its
 * tensors into batch chunks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/unit/train/tvk.h"
#include "train/ref.h"

#define FWD_TOL 1e-4
#define GRAD_TOL 1e-3

static struct tb *T(void **state)
{
	struct tb *tb = *state;

	vk_pool_reset(tb->pool);
	return tb;
}

static void check(double err, double tol, const char *what)
{
	if (!(err <= tol))
		fail_msg("%s: error %.3g > %.1g", what, err, tol);
}

/* ---------------------------------------------------------------- gemm */

static void test_gemm(void **state)
{
	struct tb *tb = T(state);
	const int m = 20, n = 12, k = 37;
	uint64_t s = 1;
	double *a = tb_rand(k * m, &s, 1), *b = tb_rand(k * n, &s, 1), *c0 = tb_rand(m * n, &s, 1);
	struct tensor ta = tb_tensor(tb, 1, k * m, 1, 1, a), tbb = tb_tensor(tb, 1, k * n, 1, 1, b);
	struct tensor tc = tb_tensor(tb, 1, m * n, 1, 1, c0);
	double *want = tb_zeros(m * n), *got;

	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			want[i * n + j] = c0[i * n + j];
			for (int q = 0; q < k; q++)
				want[i * n + j] += a[q * m + i] * b[q * n + j];
		}
	assert_int_equal(op_gemm(&tb->o, &tc, &ta, &tbb, m, n, k, PF_ACC), 0);
	assert_int_equal(tb_run(tb), 0);
	got = tb_get(tb, &tc);
	tb_round(want, m * n);
	check(tb_relerr(got, want, m * n), FWD_TOL, "gemm");
	assert_int_equal(op_gemm(&tb->o, &tc, &ta, &tbb, 6, n, k, 0), -EINVAL);
	free(a), free(b), free(c0), free(want), free(got);
}

/* ---------------------------------------------------------------- conv */

static const struct ref_conv conv_cases[] = {
	/* n ci h w co kh kw s p */
	{ 2, 3, 7, 9, 5, 3, 3, 1, 1 },
	{ 2, 6, 8, 8, 4, 3, 3, 2, 1 },
	{ 1, 5, 9, 7, 7, 1, 1, 1, 0 },
	{ 3, 4, 6, 5, 6, 1, 1, 2, 0 },
	{ 2, 7, 11, 10, 9, 3, 3, 2, 0 },
	{ 2, 9, 5, 5, 3, 3, 3, 1, 0 },
	{ 1, 16, 10, 10, 12, 3, 3, 1, 1 },
	{ 4, 33, 12, 13, 20, 3, 3, 2, 1 },
	{ 2, 8, 4, 4, 70, 1, 1, 1, 0 },
	{ 2, 3, 40, 40, 8, 3, 3, 1, 1 },
	{ 3, 19, 15, 17, 11, 3, 3, 2, 1 },
	/* 1x1 stride 1 with hw a multiple of 4: the NCHW GEMM path on CPU devices
	 * (ci, co not multiples of 4: padded weight copies) */
	{ 3, 6, 4, 6, 5, 1, 1, 1, 0 },
	{ 2, 13, 8, 8, 9, 1, 1, 1, 0 },
	{ 3, 5, 4, 5, 6, 1, 1, 1, 0 }, /* 5 pixel vec4s: a lane's columns straddle two images */
	/* stride 2/3 backward-data: the parity classes are interleaved with the
	 * pixel blocks in work group x; odd/even sizes give classes of different
	 * pixel counts, and 9 images x 21x19 give several blocks per class */
	{ 9, 6, 21, 19, 10, 3, 3, 2, 1 },
	{ 5, 10, 9, 12, 7, 3, 3, 2, 0 },
	{ 3, 5, 13, 11, 6, 3, 3, 3, 1 },
	{ 4, 7, 10, 9, 5, 1, 1, 2, 0 },
	/* kernel rows of 3 taps (conv_bwd_weight_row.comp on CPU devices) with
	 * other kernel heights; 1x3 and 5x3 */
	{ 2, 5, 8, 10, 6, 1, 3, 1, 1 },
	{ 2, 4, 9, 11, 7, 5, 3, 2, 2 },
};
#define N_FD_CASES 6 /* finite differences only on the small ones */

struct conv_fd {
	const struct ref_conv *c;
	double *x, *w, *b, *r, *y;
	int64_t ny;
};

static double conv_loss(void *p)
{
	struct conv_fd *f = p;

	ref_conv_fwd(f->y, f->x, f->w, f->b, f->c);
	return tb_dot(f->y, f->r, f->ny);
}

static void test_conv(void **state)
{
	for (size_t ci = 0; ci < sizeof(conv_cases) / sizeof(conv_cases[0]); ci++) {
		struct tb *tb = T(state);
		const struct ref_conv *c = &conv_cases[ci];
		const struct conv_desc cd = { c->kh, c->kw, c->stride, c->pad };
		int oh = ref_out(c->h, c->kh, c->stride, c->pad), ow = ref_out(c->w, c->kw, c->stride, c->pad);
		int64_t nx = (int64_t)c->n * c->ci * c->h * c->w, ny = (int64_t)c->n * c->co * oh * ow;
		int64_t nw = (int64_t)c->co * c->ci * c->kh * c->kw;
		uint64_t s = 100 + ci;
		double *x = tb_rand(nx, &s, 1), *w = tb_rand(nw, &s, 1), *b = tb_rand(c->co, &s, 1);
		double *r = tb_rand(ny, &s, 1), *dx0 = tb_rand(nx, &s, 1);
		double *y = tb_zeros(ny), *ys = tb_zeros(ny), *dx = tb_zeros(nx), *dw = tb_zeros(nw);
		double *db = tb_zeros(c->co), *got;
		char what[96];

		tb_round(x, nx), tb_round(w, nw), tb_round(b, c->co), tb_round(r, ny), tb_round(dx0, nx);
		struct tensor tx = tb_tensor(tb, c->n, c->ci, c->h, c->w, x);
		struct tensor tw = tb_tensor(tb, c->co, c->ci, c->kh, c->kw, w);
		struct tensor tbias = tb_tensor(tb, 1, c->co, 1, 1, b);
		struct tensor ty = tb_tensor(tb, c->n, c->co, oh, ow, NULL);
		struct tensor tys = tb_tensor(tb, c->n, c->co, oh, ow, NULL);
		struct tensor tr = tb_tensor(tb, c->n, c->co, oh, ow, r);
		struct tensor tdx = tb_tensor(tb, c->n, c->ci, c->h, c->w, dx0);
		struct tensor tdw = tb_tensor(tb, c->co, c->ci, c->kh, c->kw, NULL);
		struct tensor tdb = tb_tensor(tb, 1, c->co, 1, 1, NULL);

		assert_int_equal(op_conv_fwd(&tb->o, &ty, &tx, &tw, &tbias, &cd, PF_BIAS), 0);
		assert_int_equal(op_conv_fwd(&tb->o, &tys, &tx, &tw, &tbias, &cd, PF_BIAS | PF_SILU), 0);
		assert_int_equal(op_conv_bwd_data(&tb->o, &tdx, &tr, &tw, &cd, PF_ACC), 0);
		assert_int_equal(op_conv_bwd_weight(&tb->o, &tdw, &tr, &tx, &cd, PF_ACC), 0);
		assert_int_equal(op_chan_sum(&tb->o, &tdb, &tr, 1.0f, PF_ACC), 0);
		assert_int_equal(tb_run(tb), 0);

		ref_conv_fwd(y, x, w, b, c);
		ref_silu(ys, y, ny);
		snprintf(what, sizeof(what), "conv case %zu fwd", ci);
		got = tb_get(tb, &ty);
		check(tb_relerr(got, y, ny), FWD_TOL, what);
		free(got);
		snprintf(what, sizeof(what), "conv case %zu fwd+silu", ci);
		got = tb_get(tb, &tys);
		check(tb_relerr(got, ys, ny), FWD_TOL, what);
		free(got);

		/* backward against the reference backward (which is linear, hence exact) */
		memcpy(dx, dx0, nx * sizeof(double));
		ref_conv_bwd_data(dx, r, w, c);
		ref_conv_bwd_weight(dw, r, x, c);
		ref_chan_sum(db, r, c->n, c->co, oh * ow);
		snprintf(what, sizeof(what), "conv case %zu bwd_data", ci);
		got = tb_get(tb, &tdx);
		check(tb_relerr(got, dx, nx), FWD_TOL, what);
		if (ci < N_FD_CASES) {
			struct conv_fd f = { c, x, w, b, r, y, ny };
			double *fd = tb_zeros(nx);

			tb_fd(fd, x, nx, conv_loss, &f, 1e-3);
			for (int64_t i = 0; i < nx; i++)
				got[i] -= dx0[i];
			check(tb_normerr(got, fd, nx), GRAD_TOL, what);
			free(fd);
		}
		free(got);
		snprintf(what, sizeof(what), "conv case %zu bwd_weight", ci);
		got = tb_get(tb, &tdw);
		check(tb_relerr(got, dw, nw), FWD_TOL, what);
		if (ci < N_FD_CASES) {
			struct conv_fd f = { c, x, w, b, r, y, ny };
			double *fd = tb_zeros(nw);

			tb_fd(fd, w, nw, conv_loss, &f, 1e-3);
			check(tb_normerr(got, fd, nw), GRAD_TOL, what);
			free(got);
			got = tb_get(tb, &tdb);
			fd = realloc(fd, c->co * sizeof(double));
			tb_fd(fd, b, c->co, conv_loss, &f, 1e-3);
			check(tb_normerr(got, fd, c->co), GRAD_TOL, "conv bias grad (fd)");
			free(fd);
		}
		free(got);
		got = tb_get(tb, &tdb);
		check(tb_relerr(got, db, c->co), FWD_TOL, "conv bias grad");
		free(got);
		free(x), free(w), free(b), free(r), free(dx0), free(y), free(ys), free(dx), free(dw), free(db);
	}
}

/* Split-K and chunked sums are fixed-order: two runs give the same bits. */
static void test_conv_deterministic(void **state)
{
	struct tb *tb = T(state);
	const struct ref_conv c = { 4, 3, 24, 24, 4, 3, 3, 1, 1 };
	const struct conv_desc cd = { 3, 3, 1, 1 };
	int64_t nx = 4 * 3 * 24 * 24, nw = 4 * 3 * 9;
	uint64_t s = 7;
	double *x = tb_rand(nx, &s, 1), *r = tb_rand(4 * 4 * 24 * 24, &s, 1), *a, *b;
	struct tensor tx = tb_tensor(tb, c.n, c.ci, c.h, c.w, x);
	struct tensor tr = tb_tensor(tb, c.n, c.co, 24, 24, r);
	struct tensor d1 = tb_tensor(tb, c.co, c.ci, 3, 3, NULL), d2 = tb_tensor(tb, c.co, c.ci, 3, 3, NULL);

	assert_int_equal(op_conv_bwd_weight(&tb->o, &d1, &tr, &tx, &cd, 0), 0);
	assert_int_equal(tb_run(tb), 0);
	assert_int_equal(op_conv_bwd_weight(&tb->o, &d2, &tr, &tx, &cd, 0), 0);
	assert_int_equal(tb_run(tb), 0);
	a = tb_get(tb, &d1);
	b = tb_get(tb, &d2);
	assert_memory_equal(a, b, nw * sizeof(double));
	free(x), free(r), free(a), free(b);
}

static void test_conv_bad_shapes(void **state)
{
	struct tb *tb = T(state);
	const struct conv_desc cd = { 3, 3, 1, 1 };
	struct tensor x = tb_tensor(tb, 1, 3, 8, 8, NULL), w = tb_tensor(tb, 4, 2, 3, 3, NULL);
	struct tensor y = tb_tensor(tb, 1, 4, 8, 8, NULL);

	assert_int_equal(op_conv_fwd(&tb->o, &y, &x, &w, NULL, &cd, 0), -EINVAL);
	assert_non_null(strstr(err_last(), "conv_fwd"));
}

/* ---------------------------------------------------------------- batch norm */

struct bn_fd {
	double *x, *g, *b, *rm, *rv, *r, *y;
	int n, c, hw, silu;
};

static double bn_loss(void *p)
{
	struct bn_fd *f = p;

	ref_bn_fwd(f->y, NULL, NULL, f->x, f->g, f->b, f->rm, f->rv, f->n, f->c, f->hw, 1e-5, f->silu);
	return tb_dot(f->y, f->r, (int64_t)f->n * f->c * f->hw);
}

static void bn_case(void **state, int n, int c, int h, int w, int silu, int eval)
{
	struct tb *tb = T(state);
	const int hw = h * w;
	const int64_t nx = (int64_t)n * c * hw;
	const float eps = 1e-5f, mom = 0.1f;
	uint64_t s = 31 + n * 7 + c + silu * 3 + eval;
	double *x = tb_rand(nx, &s, 2), *g = tb_rand(c, &s, 1), *b = tb_rand(c, &s, 1);
	double *r = tb_rand(nx, &s, 1), *rm = tb_rand(c, &s, 0.5), *rv = tb_rand(c, &s, 0.5);
	double *y = tb_zeros(nx), *mean = tb_zeros(c), *inv = tb_zeros(c), *got;
	double *dx = tb_zeros(nx), *dg = tb_zeros(c), *db = tb_zeros(c), *run = tb_zeros(2 * c);
	char what[96];

	for (int i = 0; i < nx; i++)
		x[i] += 3.0; /* a mean far from 0 tests the shifted variance */
	for (int i = 0; i < c; i++)
		rv[i] += 1.0;
	tb_round(x, nx), tb_round(g, c), tb_round(b, c), tb_round(r, nx), tb_round(rm, c), tb_round(rv, c);
	memcpy(run, rm, c * sizeof(double));
	memcpy(run + c, rv, c * sizeof(double));
	struct tensor tx = tb_tensor(tb, n, c, h, w, x), tg = tb_tensor(tb, 1, c, 1, 1, g);
	struct tensor tbe = tb_tensor(tb, 1, c, 1, 1, b), tr = tb_tensor(tb, n, c, h, w, r);
	struct tensor ty = tb_tensor(tb, n, c, h, w, NULL), tdx = tb_tensor(tb, n, c, h, w, NULL);
	struct tensor tsave = tb_tensor(tb, 1, 2 * c, 1, 1, NULL), trun = tb_tensor(tb, 1, 2 * c, 1, 1, run);
	struct tensor tdg = tb_tensor(tb, 1, c, 1, 1, NULL), tdb = tb_tensor(tb, 1, c, 1, 1, NULL);
	unsigned fl = (silu ? PF_SILU : 0) | (eval ? PF_EVAL : 0);
	const struct tensor *stats = eval ? &trun : &tsave;

	if (!eval)
		assert_int_equal(op_bn_stats(&tb->o, &tsave, &trun, &tx, eps, mom), 0);
	assert_int_equal(op_bn_apply(&tb->o, &ty, &tx, stats, &tg, &tbe, eps, fl), 0);
	assert_int_equal(op_bn_bwd(&tb->o, &tdx, &tdg, &tdb, &tx, &tr, stats, &tg, &tbe, eps, fl), 0);
	assert_int_equal(tb_run(tb), 0);

	ref_bn_fwd(y, mean, inv, x, g, b, eval ? rm : NULL, eval ? rv : NULL, n, c, hw, eps, silu);
	snprintf(what, sizeof(what), "bn %dx%dx%dx%d silu=%d eval=%d fwd", n, c, h, w, silu, eval);
	got = tb_get(tb, &ty);
	check(tb_relerr(got, y, nx), FWD_TOL, what);
	free(got);
	if (!eval) {
		double *sv = tb_get(tb, &tsave), *rr = tb_get(tb, &trun);

		check(tb_relerr(sv, mean, c), FWD_TOL, "bn saved mean");
		check(tb_relerr(sv + c, inv, c), FWD_TOL, "bn saved invstd");
		ref_bn_running(rm, rv, x, n, c, hw, mom);
		check(tb_relerr(rr, rm, c), FWD_TOL, "bn running mean");
		check(tb_relerr(rr + c, rv, c), FWD_TOL, "bn running var");
		free(sv), free(rr);
		/* the FD below needs the pre-update running stats only in eval mode */
	}
	struct bn_fd f = { x, g, b, eval ? rm : NULL, eval ? rv : NULL, r, y, n, c, hw, silu };

	tb_fd(dx, x, nx, bn_loss, &f, 1e-4);
	tb_fd(dg, g, c, bn_loss, &f, 1e-4);
	tb_fd(db, b, c, bn_loss, &f, 1e-4);
	snprintf(what, sizeof(what), "bn %dx%dx%dx%d silu=%d eval=%d dx", n, c, h, w, silu, eval);
	got = tb_get(tb, &tdx);
	check(tb_normerr(got, dx, nx), GRAD_TOL, what);
	free(got);
	got = tb_get(tb, &tdg);
	check(tb_normerr(got, dg, c), GRAD_TOL, "bn dgamma");
	free(got);
	got = tb_get(tb, &tdb);
	check(tb_normerr(got, db, c), GRAD_TOL, "bn dbeta");
	free(got);
	/* and the reference backward agrees with the same differences */
	memset(got = tb_zeros(nx), 0, nx * sizeof(double));
	ref_bn_bwd(got, NULL, NULL, x, r, g, b, eval ? rm : NULL, eval ? rv : NULL, n, c, hw, eps, silu);
	check(tb_normerr(got, dx, nx), GRAD_TOL, "ref bn dx");
	free(got);
	free(x), free(g), free(b), free(r), free(rm), free(rv), free(y), free(mean), free(inv);
	free(dx), free(dg), free(db), free(run);
}

static void test_bn(void **state)
{
	bn_case(state, 3, 5, 4, 3, 0, 0);
	bn_case(state, 2, 4, 7, 7, 1, 0);
	bn_case(state, 4, 3, 5, 6, 1, 1);
	bn_case(state, 2, 6, 3, 3, 0, 1);
	bn_case(state, 5, 2, 9, 11, 1, 0);
}

/* conv with a folded eval-mode batch norm + SiLU in its epilogue (co = 6
 * channels, y accumulated onto when acc): 3x3, and 1x1 with hw a multiple of
 * 4 (conv1x1.comp's GEMM epilogue on CPU devices). */
static void conv_bn_fold_case(void **state, int k, int pad, int acc)
{
	struct tb *tb = T(state);
	const struct ref_conv c = { 2, 5, 9, 8, 6, k, k, 1, pad };
	const struct conv_desc cd = { k, k, 1, pad };
	const int oh = ref_out(9, k, 1, pad), ow = ref_out(8, k, 1, pad);
	const int64_t nx = 2 * 5 * 72, ny = 2 * 6 * oh * ow, nw = 6 * 5 * k * k;
	uint64_t s = 77 + k + acc;
	double *x = tb_rand(nx, &s, 1), *w = tb_rand(nw, &s, 1), *g = tb_rand(6, &s, 1);
	double *b = tb_rand(6, &s, 1), *run = tb_rand(12, &s, 0.5), *y = tb_zeros(ny), *z = tb_zeros(ny), *got;
	double *y0 = tb_rand(ny, &s, 1);

	for (int i = 6; i < 12; i++)
		run[i] += 1.0;
	tb_round(x, nx), tb_round(w, nw), tb_round(g, 6), tb_round(b, 6), tb_round(run, 12);
	tb_round(y0, ny);
	struct tensor tx = tb_tensor(tb, 2, 5, 9, 8, x), tw = tb_tensor(tb, 6, 5, k, k, w);
	struct tensor tg = tb_tensor(tb, 1, 6, 1, 1, g), tbe = tb_tensor(tb, 1, 6, 1, 1, b);
	struct tensor trun = tb_tensor(tb, 1, 12, 1, 1, run), tss = tb_tensor(tb, 1, 12, 1, 1, NULL);
	struct tensor ty = tb_tensor(tb, 2, 6, oh, ow, acc ? y0 : NULL);

	assert_int_equal(op_bn_fold(&tb->o, &tss, &trun, &tg, &tbe, 1e-5f), 0);
	assert_int_equal(op_conv_fwd(&tb->o, &ty, &tx, &tw, &tss, &cd,
				     PF_AFFINE | PF_SILU | (acc ? PF_ACC : 0)), 0);
	assert_int_equal(tb_run(tb), 0);
	ref_conv_fwd(y, x, w, NULL, &c);
	ref_bn_fwd(z, NULL, NULL, y, g, b, run, run + 6, 2, 6, oh * ow, 1e-5, 1);
	if (acc)
		for (int64_t i = 0; i < ny; i++)
			z[i] += y0[i];
	got = tb_get(tb, &ty);
	check(tb_relerr(got, z, ny), FWD_TOL, "conv + folded bn + silu");
	free(x), free(w), free(g), free(b), free(run), free(y), free(z), free(got), free(y0);
}

static void test_conv_bn_fold(void **state)
{
	conv_bn_fold_case(state, 3, 1, 0);
	conv_bn_fold_case(state, 1, 0, 0);
	conv_bn_fold_case(state, 1, 0, 1);
	conv_bn_fold_case(state, 3, 1, 1);
}

/* ---------------------------------------------------------------- element-wise */

struct ew_fd {
	double *x, *r, *y;
	int64_t n;
	int kind; /* 0 silu */
};

static double silu_loss(void *p)
{
	struct ew_fd *f = p;

	ref_silu(f->y, f->x, f->n);
	return tb_dot(f->y, f->r, f->n);
}

static void test_silu(void **state)
{
	struct tb *tb = T(state);
	const int64_t n = 3 * 5 * 7 * 9;
	uint64_t s = 5;
	double *x = tb_rand(n, &s, 4), *r = tb_rand(n, &s, 1), *y = tb_zeros(n), *fd = tb_zeros(n), *got;

	tb_round(x, n), tb_round(r, n);
	struct tensor tx = tb_tensor(tb, 3, 5, 7, 9, x), tr = tb_tensor(tb, 3, 5, 7, 9, r);
	struct tensor ty = tb_tensor(tb, 3, 5, 7, 9, NULL), tdx = tb_tensor(tb, 3, 5, 7, 9, NULL);

	assert_int_equal(op_silu(&tb->o, &ty, &tx, 0), 0);
	assert_int_equal(op_silu_bwd(&tb->o, &tdx, &tx, &tr), 0);
	assert_int_equal(tb_run(tb), 0);
	ref_silu(y, x, n);
	got = tb_get(tb, &ty);
	check(tb_relerr(got, y, n), FWD_TOL, "silu");
	free(got);
	struct ew_fd f = { x, r, y, n, 0 };

	tb_fd(fd, x, n, silu_loss, &f, 1e-5);
	got = tb_get(tb, &tdx);
	check(tb_normerr(got, fd, n), GRAD_TOL, "silu bwd");
	free(got);
	free(x), free(r), free(y), free(fd);
}

/* add, and concat/split through channel views: y[:, 0:3] = a, y[:, 3:7] = b. */
static void test_add_concat_split(void **state)
{
	struct tb *tb = T(state);
	const int n = 3, h = 5, w = 6;
	uint64_t s = 9;
	double *a = tb_rand(n * 3 * h * w, &s, 1), *b = tb_rand(n * 4 * h * w, &s, 1), *got;
	double *want = tb_zeros(n * 7 * h * w);

	tb_round(a, n * 3 * h * w), tb_round(b, n * 4 * h * w);
	struct tensor ta = tb_tensor(tb, n, 3, h, w, a), tbb = tb_tensor(tb, n, 4, h, w, b);
	struct tensor ty = tb_tensor(tb, n, 7, h, w, NULL), tz = tb_tensor(tb, n, 3, h, w, NULL);
	struct tensor v0 = tensor_channels(&ty, 0, 3), v1 = tensor_channels(&ty, 3, 4);
	struct tensor g = tb_tensor(tb, n, 3, h, w, NULL);

	assert_int_equal(op_copy(&tb->o, &v0, &ta, 1, 0), 0);
	assert_int_equal(op_copy(&tb->o, &v1, &tbb, 1, 0), 0);
	/* split: channels 4..7 of y (a view) plus a, into z */
	struct tensor sp = tensor_channels(&ty, 4, 3);

	assert_int_equal(op_add(&tb->o, &tz, &sp, &ta, 2.0f, -0.5f, 0), 0);
	/* gradient of a split view accumulates into the parent's slot */
	assert_int_equal(op_copy(&tb->o, &g, &sp, 1, 0), 0);
	assert_int_equal(op_copy(&tb->o, &g, &v0, 1, PF_ACC), 0);
	assert_int_equal(tb_run(tb), 0);
	for (int i = 0; i < n; i++) {
		memcpy(want + (i * 7) * h * w, a + i * 3 * h * w, 3 * h * w * sizeof(double));
		memcpy(want + (i * 7 + 3) * h * w, b + i * 4 * h * w, 4 * h * w * sizeof(double));
	}
	got = tb_get(tb, &ty);
	check(tb_relerr(got, want, n * 7 * h * w), 0, "concat views");
	free(got);
	got = tb_get(tb, &tz);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 3 * h * w; k++)
			want[i * 3 * h * w + k] = 2.0 * b[(i * 4 + 1) * h * w + k] - 0.5 * a[i * 3 * h * w + k];
	check(tb_relerr(got, want, n * 3 * h * w), FWD_TOL, "add of a split view");
	free(got);
	got = tb_get(tb, &g);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 3 * h * w; k++)
			want[i * 3 * h * w + k] = b[(i * 4 + 1) * h * w + k] + a[i * 3 * h * w + k];
	check(tb_relerr(got, want, n * 3 * h * w), FWD_TOL, "accumulate views");
	free(got);
	free(a), free(b), free(want);
}

/* ---------------------------------------------------------------- pooling */

struct pool_fd {
	double *x, *r, *y;
	int n, c, h, w, k, s, p, kind; /* 0 maxpool, 1 upsample, 2 mean */
};

static double pool_loss(void *pp)
{
	struct pool_fd *f = pp;
	int64_t ny;

	if (f->kind == 0) {
		ref_maxpool(f->y, NULL, f->x, f->n, f->c, f->h, f->w, f->k, f->s, f->p);
		ny = (int64_t)f->n * f->c * ref_out(f->h, f->k, f->s, f->p) * ref_out(f->w, f->k, f->s, f->p);
	} else if (f->kind == 1) {
		ref_upsample(f->y, f->x, f->n, f->c, f->h, f->w, f->k);
		ny = (int64_t)f->n * f->c * f->h * f->w * f->k * f->k;
	} else {
		ref_pool_mean(f->y, f->x, f->n, f->c, f->h * f->w);
		ny = (int64_t)f->n * f->c;
	}
	return tb_dot(f->y, f->r, ny);
}

static void pool_case(void **state, int kind, int n, int c, int h, int w, int k, int st, int pad)
{
	struct tb *tb = T(state);
	int oh = kind == 0 ? ref_out(h, k, st, pad) : kind == 1 ? h * k : 1;
	int ow = kind == 0 ? ref_out(w, k, st, pad) : kind == 1 ? w * k : 1;
	int64_t nx = (int64_t)n * c * h * w, ny = (int64_t)n * c * oh * ow;
	uint64_t s = 300 + kind * 10 + k;
	double *x = tb_rand(nx, &s, 1), *r = tb_rand(ny, &s, 1), *y = tb_zeros(ny), *fd = tb_zeros(nx), *got;
	const char *name = kind == 0 ? "maxpool" : kind == 1 ? "upsample" : "pool_mean";
	char what[64];

	tb_round(x, nx), tb_round(r, ny);
	struct tensor tx = tb_tensor(tb, n, c, h, w, x), tr = tb_tensor(tb, n, c, oh, ow, r);
	struct tensor ty = tb_tensor(tb, n, c, oh, ow, NULL), tdx = tb_tensor(tb, n, c, h, w, NULL);
	struct tensor ti = tb_tensor(tb, n, c, oh, ow, NULL);

	if (kind == 0) {
		assert_int_equal(op_maxpool(&tb->o, &ty, &ti, &tx, k, st, pad), 0);
		assert_int_equal(op_maxpool_bwd(&tb->o, &tdx, &tr, &ti, k, st, pad, 0), 0);
	} else if (kind == 1) {
		assert_int_equal(op_upsample(&tb->o, &ty, &tx, k, 0), 0);
		assert_int_equal(op_upsample_bwd(&tb->o, &tdx, &tr, k, 0), 0);
	} else {
		assert_int_equal(op_pool_mean(&tb->o, &ty, &tx, 0), 0);
		assert_int_equal(op_pool_mean_bwd(&tb->o, &tdx, &tr), 0);
	}
	assert_int_equal(tb_run(tb), 0);
	struct pool_fd f = { x, r, y, n, c, h, w, k, st, pad, kind };

	pool_loss(&f);
	snprintf(what, sizeof(what), "%s fwd k%d s%d", name, k, st);
	got = tb_get(tb, &ty);
	check(tb_relerr(got, y, ny), FWD_TOL, what);
	free(got);
	tb_fd(fd, x, nx, pool_loss, &f, 1e-7);
	snprintf(what, sizeof(what), "%s bwd k%d s%d", name, k, st);
	got = tb_get(tb, &tdx);
	check(tb_normerr(got, fd, nx), GRAD_TOL, what);
	free(got);
	/* the reference backward too */
	got = tb_zeros(nx);
	if (kind == 0)
		ref_maxpool_bwd(got, r, x, n, c, h, w, k, st, pad);
	else if (kind == 1)
		ref_upsample_bwd(got, r, n, c, h, w, k);
	else
		ref_pool_mean_bwd(got, r, n, c, h * w);
	check(tb_normerr(got, fd, nx), GRAD_TOL, "reference backward");
	free(got);
	free(x), free(r), free(y), free(fd);
}

static void test_pool(void **state)
{
	pool_case(state, 0, 2, 3, 9, 7, 5, 1, 2);  /* SPPF's max pool */
	pool_case(state, 0, 1, 2, 6, 6, 3, 2, 1);
	pool_case(state, 1, 2, 3, 5, 4, 2, 0, 0);  /* upsample x2 */
	pool_case(state, 2, 3, 5, 4, 7, 0, 0, 0);  /* global mean */
}

/* ---------------------------------------------------------------- sum, mse */

static double sum_loss(void *p)
{
	struct ew_fd *f = p;

	return 0.25 * ref_sum(f->x, f->n);
}

static double mse_loss(void *p)
{
	struct ew_fd *f = p;

	return ref_mse(f->x, f->r, f->n);
}

static void test_sum_mse(void **state)
{
	struct tb *tb = T(state);
	const int64_t n = 3 * 5 * 17 * 13;
	uint64_t s = 11;
	double *x = tb_rand(n, &s, 1), *t = tb_rand(n, &s, 1), *fd = tb_zeros(n), *got, want;

	tb_round(x, n), tb_round(t, n);
	struct tensor tx = tb_tensor(tb, 3, 5, 17, 13, x), tt = tb_tensor(tb, 3, 5, 17, 13, t);
	struct tensor out = tb_tensor(tb, 1, 4, 1, 1, NULL), one = tb_tensor(tb, 1, 1, 1, 1, NULL);
	struct tensor dx = tb_tensor(tb, 3, 5, 17, 13, NULL), dm = tb_tensor(tb, 3, 5, 17, 13, NULL);
	struct tensor o0 = tensor_vec(&out, 0, 1), o1 = tensor_vec(&out, 1, 1);

	assert_int_equal(op_fill(&tb->o, &one, 1.0f), 0);
	assert_int_equal(op_sum(&tb->o, &o0, &tx, 0.25f, 0), 0);
	assert_int_equal(op_copy(&tb->o, &dx, &one, 0.25f, PF_BCAST | PF_ACC), 0);
	assert_int_equal(op_mse(&tb->o, &o1, &tx, &tt), 0);
	assert_int_equal(op_mse_bwd(&tb->o, &dm, &tx, &tt, 1.0f), 0);
	assert_int_equal(tb_run(tb), 0);
	got = tb_get(tb, &out);
	want = 0.25 * ref_sum(x, n);
	check(tb_relerr(got, &want, 1), FWD_TOL, "sum");
	want = ref_mse(x, t, n);
	check(tb_relerr(got + 1, &want, 1), FWD_TOL, "mse");
	free(got);
	struct ew_fd f = { x, t, NULL, n, 0 };

	tb_fd(fd, x, n, sum_loss, &f, 1e-3);
	got = tb_get(tb, &dx);
	check(tb_normerr(got, fd, n), GRAD_TOL, "sum bwd");
	free(got);
	tb_fd(fd, x, n, mse_loss, &f, 1e-4);
	got = tb_get(tb, &dm);
	check(tb_normerr(got, fd, n), GRAD_TOL, "mse bwd");
	free(got);
	free(x), free(t), free(fd);
}

/* ---------------------------------------------------------------- optimizer */

static void test_optim(void **state)
{
	struct tb *tb = T(state);
	const int n = 1001, ndecay = 600;
	uint64_t s = 13;
	float *p = malloc(n * 4), *g = malloc(n * 4), *m = calloc(n, 4), *v = calloc(n, 4);
	float *p2 = malloc(n * 4), *got = malloc(n * 4);
	struct opt_hyper hy = { .lr = 0.05f, .momentum = 0.9f, .weight_decay = 0.01f, .nesterov = 1,
				.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f };
	struct tensor tp, tg, tm, tv, th, tp2, tm2;

	for (int i = 0; i < n; i++) {
		p[i] = (float)tb_uniform(&s);
		g[i] = (float)tb_uniform(&s);
	}
	memcpy(p2, p, n * 4);
	assert_int_equal(tensor_alloc(&tp, tb->pool, 1, n, 1, 1), 0);
	assert_int_equal(tensor_alloc(&tp2, tb->pool, 1, n, 1, 1), 0);
	assert_int_equal(tensor_alloc(&tg, tb->pool, 1, n, 1, 1), 0);
	assert_int_equal(tensor_alloc(&tm, tb->pool, 1, n, 1, 1), 0);
	assert_int_equal(tensor_alloc(&tm2, tb->pool, 1, n, 1, 1), 0);
	assert_int_equal(tensor_alloc(&tv, tb->pool, 1, n, 1, 1), 0);
	assert_int_equal(tensor_alloc(&th, tb->pool, 1, 16, 1, 1), 0);
	tensor_upload(tb->vk, &tp, p);
	tensor_upload(tb->vk, &tp2, p);
	tensor_upload(tb->vk, &tm, m);
	tensor_upload(tb->vk, &tm2, m);
	tensor_upload(tb->vk, &tv, v);
	for (int t = 1; t <= 3; t++) {
		hy.bc1 = 1 - powf(hy.beta1, (float)t);
		hy.bc2 = 1 - powf(hy.beta2, (float)t);
		tensor_upload(tb->vk, &th, (const float *)&hy);
		tensor_upload(tb->vk, &tg, g);
		assert_int_equal(op_sgd(&tb->o, &tp, &tg, &tm, &th, ndecay, 0), 0);
		assert_int_equal(op_adamw(&tb->o, &tp2, &tg, &tm2, &tv, &th, ndecay, PF_ZERO_GRAD), 0);
		assert_int_equal(tb_run(tb), 0);
	}
	float *m2 = calloc(n, 4);

	for (int t = 1; t <= 3; t++) {
		ref_sgd(p, g, m, n, ndecay, hy.lr, hy.momentum, hy.weight_decay, 1);
		ref_adamw(p2, g, m2, v, n, ndecay, hy.lr, hy.beta1, hy.beta2, hy.eps, hy.weight_decay, t);
	}
	tensor_download(tb->vk, got, &tp);
	for (int i = 0; i < n; i++)
		assert_true(fabsf(got[i] - p[i]) <= 1e-5f * (1 + fabsf(p[i])));
	tensor_download(tb->vk, got, &tp2);
	for (int i = 0; i < n; i++)
		assert_true(fabsf(got[i] - p2[i]) <= 1e-5f * (1 + fabsf(p2[i])));
	tensor_download(tb->vk, got, &tg); /* PF_ZERO_GRAD */
	for (int i = 0; i < n; i++)
		assert_true(got[i] == 0.0f);
	free(p), free(g), free(m), free(v), free(p2), free(got), free(m2);
}

/* ---------------------------------------------------------------- groups */

static int open_with(void **state, enum vk_tiles tiles, uint64_t max_range)
{
	struct tb *tb = calloc(1, sizeof(*tb));
	struct vk_opts opts = VK_OPTS_INIT;

	opts.tiles = tiles;
	opts.max_range = max_range;
	opts.profile = 0;
	tb_open(tb, &opts);
	*state = tb;
	return 0;
}

static int setup_cpu(void **state)
{
	return open_with(state, VK_TILES_CPU, 0);
}

static int setup_gpu(void **state)
{
	return open_with(state, VK_TILES_GPU, 0);
}

static int setup_chunked(void **state)
{
	return open_with(state, VK_TILES_AUTO, 64 << 10);
}

static int teardown(void **state)
{
	tb_close(*state);
	free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gemm),
		cmocka_unit_test(test_conv),
		cmocka_unit_test(test_conv_deterministic),
		cmocka_unit_test(test_conv_bad_shapes),
		cmocka_unit_test(test_bn),
		cmocka_unit_test(test_conv_bn_fold),
		cmocka_unit_test(test_silu),
		cmocka_unit_test(test_add_concat_split),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_sum_mse),
		cmocka_unit_test(test_optim),
	};
	int fails = 0;

	fails += cmocka_run_group_tests_name("ops (register-blocked tiles)", tests, setup_cpu, teardown);
	fails += cmocka_run_group_tests_name("ops (shared-memory tiles)", tests, setup_gpu, teardown);
	fails += cmocka_run_group_tests_name("ops (64 KiB bindings: chunked)", tests, setup_chunked, teardown);
	return fails ? 1 : 0;
}
