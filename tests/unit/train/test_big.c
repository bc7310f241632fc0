/*
 * A 200 MiB activation, larger than lavapipe's 128 MiB
 * maxStorageBufferRange: batch statistics, a 1x1 convolution forward and
 * its weight gradient over it must split the batch into bindings that fit
 * and still give the whole-batch results.  Checked against double-precision
 * sums computed here (the full tensor in double would take 400 MiB more).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/unit/train/tvk.h"

#define N 4
#define C 50
#define H 512
#define W 512
#define CO 4
#define HW ((size_t)H * W)

static void test_big_activation(void **state)
{
	struct tb *tb = *state;
	const size_t nx = (size_t)N * C * HW, ny = (size_t)N * CO * HW;
	float *x = malloc(nx * 4), *y = malloc(ny * 4), w[CO * C], dw[CO * C], stats[2 * C];
	struct tensor tx, ty, tw, tdw, tsave, trun;
	const struct conv_desc cd = { 1, 1, 1, 0 };
	uint64_t s = 5;
	float run[2 * C];

	assert_non_null(x);
	assert_non_null(y);
	for (size_t i = 0; i < nx; i++)
		x[i] = (float)tb_uniform(&s) + 0.01f * (float)((i / HW) % C);
	for (int i = 0; i < CO * C; i++)
		w[i] = (float)tb_uniform(&s);
	for (int i = 0; i < C; i++) {
		run[i] = 0;
		run[C + i] = 1;
	}
	assert_int_equal(tensor_alloc(&tx, tb->pool, N, C, H, W), 0);
	assert_true(tensor_numel(&tx) * 4 > vk_info(tb->vk)->max_range || vk_info(tb->vk)->max_range > (1ull << 30));
	assert_int_equal(tensor_alloc(&ty, tb->pool, N, CO, H, W), 0);
	assert_int_equal(tensor_alloc(&tw, tb->pool, CO, C, 1, 1), 0);
	assert_int_equal(tensor_alloc(&tdw, tb->pool, CO, C, 1, 1), 0);
	assert_int_equal(tensor_alloc(&tsave, tb->pool, 1, 2 * C, 1, 1), 0);
	assert_int_equal(tensor_alloc(&trun, tb->pool, 1, 2 * C, 1, 1), 0);
	assert_int_equal(tensor_upload(tb->vk, &tx, x), 0);
	assert_int_equal(tensor_upload(tb->vk, &tw, w), 0);
	assert_int_equal(tensor_upload(tb->vk, &trun, run), 0);
	assert_int_equal(op_fill(&tb->o, &tdw, 0.0f), 0);
	assert_int_equal(op_bn_stats(&tb->o, &tsave, &trun, &tx, 1e-5f, 0.1f), 0);
	assert_int_equal(op_conv_fwd(&tb->o, &ty, &tx, &tw, NULL, &cd, 0), 0);
	/* weight gradient with dy = y */
	assert_int_equal(op_conv_bwd_weight(&tb->o, &tdw, &ty, &tx, &cd, PF_ACC), 0);
	assert_int_equal(tb_run(tb), 0);
	assert_int_equal(tensor_download(tb->vk, y, &ty), 0);
	assert_int_equal(tensor_download(tb->vk, dw, &tdw), 0);
	assert_int_equal(tensor_download(tb->vk, stats, &tsave), 0);

	/* forward: every output element */
	double worst = 0, scale = 0;
	for (int n = 0; n < N; n++)
		for (int o = 0; o < CO; o++)
			for (size_t p = 0; p < HW; p += 1) {
				double r = 0;

				for (int c = 0; c < C; c++)
					r += (double)w[o * C + c] * x[((size_t)n * C + c) * HW + p];
				double e = fabs(y[((size_t)n * CO + o) * HW + p] - r) / (fabs(r) + 1.0);

				if (e > worst)
					worst = e;
			}
	printf("1x1 conv over a %zu MiB tensor: max error %.2g\n", nx * 4 >> 20, worst);
	assert_true(worst <= 1e-4);
	/* batch statistics of every channel, over all four images */
	for (int c = 0; c < C; c++) {
		double sum = 0, sq = 0, mean, var;

		for (int n = 0; n < N; n++)
			for (size_t p = 0; p < HW; p++)
				sum += x[((size_t)n * C + c) * HW + p];
		mean = sum / (N * HW);
		for (int n = 0; n < N; n++)
			for (size_t p = 0; p < HW; p++) {
				double d = x[((size_t)n * C + c) * HW + p] - mean;

				sq += d * d;
			}
		var = sq / (N * HW);
		assert_true(fabs(stats[c] - mean) <= 1e-4 * (fabs(mean) + sqrt(var)));
		assert_true(fabs(stats[C + c] - 1 / sqrt(var + 1e-5)) <= 1e-4 / sqrt(var));
	}
	/* weight gradient: sum over all images and pixels of y[o] * x[c] */
	for (int o = 0; o < CO; o++)
		for (int c = 0; c < C; c++) {
			double r = 0, mag = 0;

			for (int n = 0; n < N; n++)
				for (size_t p = 0; p < HW; p++) {
					double t = (double)y[((size_t)n * CO + o) * HW + p] *
						   x[((size_t)n * C + c) * HW + p];
					r += t;
					mag += fabs(t);
				}
			scale = fabs(dw[o * C + c] - r) / mag;
			assert_true(scale <= 1e-5);
		}
	free(x);
	free(y);
}

static int setup(void **state)
{
	struct tb *tb = calloc(1, sizeof(*tb));
	struct vk_opts opts = VK_OPTS_INIT;

	tb_open(tb, &opts);
	*state = tb;
	return 0;
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
		cmocka_unit_test(test_big_activation),
	};

	return cmocka_run_group_tests_name("big tensors", tests, setup, teardown);
}
