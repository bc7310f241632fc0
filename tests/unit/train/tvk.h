/*
 * Shared harness of the Vulkan unit tests: open the device (or exit 77 =
 * SKIP when there is none), a command buffer and an arena, random tensors,
 * transfers to and from double arrays, the error measure and central finite
 * differences.  Header-only: each test executable includes it once.
 */
#ifndef DSFS_TESTS_TVK_H
#define DSFS_TESTS_TVK_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/ops.h"
#include "train/vk.h"
#include "util/err.h"

struct tb {
	struct vk *vk;
	struct vk_cmd *cmd;
	struct vk_pool *pool;
	struct op_ctx o;
};

/* Open a harness; exits 77 (meson SKIP) without a Vulkan device. */
static inline void tb_open(struct tb *tb, const struct vk_opts *opts)
{
	int error;

	memset(tb, 0, sizeof(*tb));
	error = vk_open(&tb->vk, opts);
	if (error == -ENODEV) {
		fprintf(stderr, "no Vulkan device: %s\n", err_last());
		exit(77);
	}
	if (error < 0 || vk_cmd_new(&tb->cmd, tb->vk) < 0 ||
	    vk_pool_new(&tb->pool, tb->vk, VK_POOL_ARENA, "test") < 0 ||
	    vk_cmd_begin(tb->cmd) < 0) {
		fprintf(stderr, "vulkan set-up failed: %s\n", err_last());
		exit(1);
	}
	tb->o.vk = tb->vk;
	tb->o.cmd = tb->cmd;
	tb->o.scratch = tb->pool;
}

static inline void tb_close(struct tb *tb)
{
	vk_cmd_free(tb->cmd);
	vk_pool_free(tb->pool);
	vk_free(tb->vk);
}

/* Submit what was recorded, wait, and start recording again. */
static inline int tb_run(struct tb *tb)
{
	int error;

	if ((error = vk_cmd_end(tb->cmd)) < 0 || (error = vk_cmd_submit(tb->cmd)) < 0 ||
	    (error = vk_cmd_begin(tb->cmd)) < 0)
		fprintf(stderr, "run: %s\n", err_last());
	return error;
}

static inline uint64_t tb_rng(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* Uniform in [-1, 1). */
static inline double tb_uniform(uint64_t *s)
{
	return (double)(tb_rng(s) >> 11) / (double)(1ull << 52) - 1.0;
}

static inline double *tb_rand(int64_t n, uint64_t *s, double scale)
{
	double *a = malloc((size_t)(n ? n : 1) * sizeof(double));

	for (int64_t i = 0; i < n; i++)
		a[i] = scale * tb_uniform(s);
	return a;
}

static inline double *tb_zeros(int64_t n)
{
	return calloc((size_t)(n ? n : 1), sizeof(double));
}

/* Upload doubles (rounded to float) into a tensor. */
static inline int tb_put(struct tb *tb, const struct tensor *t, const double *v)
{
	int64_t n = (int64_t)tensor_numel(t);
	float *f = malloc((size_t)n * sizeof(float));
	int error;

	for (int64_t i = 0; i < n; i++)
		f[i] = (float)v[i];
	error = tensor_upload(tb->vk, t, f);
	free(f);
	return error;
}

/* A new tensor from the arena, filled from `v` (NULL: zeros). */
static inline struct tensor tb_tensor(struct tb *tb, int n, int c, int h, int w, const double *v)
{
	struct tensor t;

	if (tensor_alloc(&t, tb->pool, n, c, h, w) < 0) {
		fprintf(stderr, "alloc: %s\n", err_last());
		exit(1);
	}
	if (v) {
		tb_put(tb, &t, v);
	} else {
		double *z = tb_zeros((int64_t)tensor_numel(&t));

		tb_put(tb, &t, z);
		free(z);
	}
	return t;
}

/* Round-trip doubles through float, so the reference sees what the GPU sees. */
static inline void tb_round(double *v, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		v[i] = (double)(float)v[i];
}

static inline double *tb_get(struct tb *tb, const struct tensor *t)
{
	int64_t n = (int64_t)tensor_numel(t);
	float *f = malloc((size_t)n * sizeof(float));
	double *d = malloc((size_t)n * sizeof(double));

	if (tensor_download(tb->vk, f, t) < 0)
		fprintf(stderr, "download: %s\n", err_last());
	for (int64_t i = 0; i < n; i++)
		d[i] = f[i];
	free(f);
	return d;
}

/*
 * The error measure of the tests: max_i |got_i - want_i| / (|want_i| + rms(want)).
 * Relative per element, with the tensor's rms as the floor, so elements that
 * cancel to ~0 are judged against the scale of the tensor, not against 0.
 */
static inline double tb_relerr(const double *got, const double *want, int64_t n)
{
	double rms = 0, worst = 0;

	for (int64_t i = 0; i < n; i++)
		rms += want[i] * want[i];
	rms = sqrt(rms / (n ? n : 1)) + 1e-30;
	for (int64_t i = 0; i < n; i++) {
		double e = fabs(got[i] - want[i]) / (fabs(want[i]) + rms);

		if (!(e <= worst))
			worst = isnan(e) ? INFINITY : e;
	}
	return worst;
}

/* Max-norm relative error of a whole tensor: max|got - want| / max|want|. */
static inline double tb_normerr(const double *got, const double *want, int64_t n)
{
	double num = 0, den = 1e-30;

	for (int64_t i = 0; i < n; i++) {
		double e = fabs(got[i] - want[i]);

		if (!(e <= num))
			num = isnan(e) ? INFINITY : e;
		if (fabs(want[i]) > den)
			den = fabs(want[i]);
	}
	return num / den;
}

/*
 * Central finite differences of the scalar loss(ctx) with respect to each
 * element of x[0..n): grad[i] = (L(x + h e_i) - L(x - h e_i)) / 2h.
 */
static inline void tb_fd(double *grad, double *x, int64_t n, double (*loss)(void *), void *ctx,
			 double h)
{
	for (int64_t i = 0; i < n; i++) {
		double keep = x[i], lp, lm;

		x[i] = keep + h;
		lp = loss(ctx);
		x[i] = keep - h;
		lm = loss(ctx);
		x[i] = keep;
		grad[i] = (lp - lm) / (2 * h);
	}
}

static inline double tb_dot(const double *a, const double *b, int64_t n)
{
	double s = 0;

	for (int64_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

#endif
