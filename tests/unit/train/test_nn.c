/*
 * The layer API end to end: a small conv net (5 conv+BN+SiLU blocks, a
 * global mean and a 1x1 head) learns to count the objects of each class in
 * synthetic-shapes images, with the whole training step recorded once and
 * re-submitted; two runs with the same seed give the same bits; and the
 * tape's gradients through split/concat/add/max-pool/upsample agree with
 * finite differences of the recorded forward pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/shapes.h"
#include "tests/unit/train/tvk.h"
#include "train/nn.h"

#define IMG 32
#define BATCH 16
#define N_IMAGES 32

struct data {
	float *x;   /* N_IMAGES x 3 x IMG x IMG */
	float *y;   /* N_IMAGES x 3 counts */
};

static void make_data(struct data *d)
{
	d->x = malloc(sizeof(float) * N_IMAGES * 3 * IMG * IMG);
	d->y = calloc(N_IMAGES * 3, sizeof(float));
	for (int i = 0; i < N_IMAGES; i++) {
		struct shapes_image im;

		assert_int_equal(shapes_render(&im, IMG, IMG, 1000 + i), 0);
		for (int c = 0; c < 3; c++)
			for (int p = 0; p < IMG * IMG; p++)
				d->x[((size_t)i * 3 + c) * IMG * IMG + p] = im.rgb[p * 3 + c] / 255.0f;
		for (int b = 0; b < im.n_boxes; b++)
			d->y[i * 3 + im.boxes[b].cls] += 1.0f;
		shapes_image_release(&im);
	}
}

struct counter {
	struct nn *nn;
	struct nn_conv *c[5], *head;
	struct nn_bn *b[5];
};

static void counter_new(struct counter *m, struct vk *vk, uint64_t seed)
{
	static const int ch[6] = { 3, 8, 16, 16, 32, 32 }, stride[5] = { 2, 2, 1, 2, 1 };
	char name[32];

	assert_int_equal(nn_new(&m->nn, vk, seed), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "model.%d.conv", i);
		assert_int_equal(nn_conv_new(&m->c[i], m->nn, name, ch[i], ch[i + 1], 3, stride[i], 0), 0);
		snprintf(name, sizeof(name), "model.%d.bn", i);
		assert_int_equal(nn_bn_new(&m->b[i], m->nn, name, ch[i + 1]), 0);
	}
	assert_int_equal(nn_conv_new(&m->head, m->nn, "model.5", 32, 3, 1, 1, 1), 0);
	assert_int_equal(nn_finalize(m->nn), 0);
}

/* Record one training step; returns the loss tensor. */
static struct nn_t *counter_step(struct nn_graph *g, struct counter *m, struct nn_t **x,
				 struct nn_t **t)
{
	const struct nn_opt opt = { .kind = NN_SGD, .lr = 0.05f, .momentum = 0.9f, .nesterov = 1,
				    .weight_decay = 5e-4f };
	struct nn_t *h, *loss;

	assert_int_equal(nn_graph_begin(g), 0);
	*x = nn_input(g, BATCH, 3, IMG, IMG);
	*t = nn_input(g, BATCH, 3, 1, 1);
	h = *x;
	for (int i = 0; i < 5; i++)
		h = nn_conv_bn_silu(g, m->c[i], m->b[i], h, NULL);
	h = nn_conv(g, m->head, nn_mean_hw(g, h));
	loss = nn_mse(g, h, *t);
	assert_int_equal(nn_backward(g, loss), 0);
	assert_int_equal(nn_optimize(g, &opt), 0);
	assert_int_equal(nn_graph_end(g), 0);
	return loss;
}

/* Train `steps` steps; fills losses[] (may be NULL) and returns the final parameters. */
static float *train(struct vk *vk, const struct data *d, int steps, float *losses, uint64_t seed,
		    unsigned *dispatches)
{
	struct counter m;
	struct nn_graph *g;
	struct nn_t *x, *t, *loss;
	float *params;
	uint64_t off = 0;

	counter_new(&m, vk, seed);
	assert_int_equal(nn_graph_new(&g, m.nn, NN_TRAIN), 0);
	loss = counter_step(g, &m, &x, &t);
	*dispatches = vk_cmd_n_dispatches(nn_graph_cmd(g));
	for (int s = 0; s < steps; s++) {
		int b0 = (s % (N_IMAGES / BATCH)) * BATCH;

		assert_int_equal(nn_input_set(g, x, d->x + (size_t)b0 * 3 * IMG * IMG), 0);
		assert_int_equal(nn_input_set(g, t, d->y + (size_t)b0 * 3), 0);
		assert_int_equal(nn_graph_run(g), 0);
		if (losses)
			assert_int_equal(nn_read(g, loss, &losses[s]), 0);
	}
	/* the recording was not redone */
	assert_int_equal(vk_cmd_n_dispatches(nn_graph_cmd(g)), *dispatches);
	params = malloc(nn_n_trainable(m.nn) * sizeof(float) + 4);
	for (size_t i = 0; i < nn_param_count(m.nn); i++) {
		const struct nn_param_info *pi = nn_param(m.nn, i);

		if (pi->buffer)
			continue;
		assert_int_equal(nn_param_read(m.nn, i, params + off), 0);
		off += pi->numel;
	}
	nn_graph_free(g);
	nn_free(m.nn);
	return params;
}

static void test_learns_to_count(void **state)
{
	struct tb *tb = *state;
	struct data d;
	const int steps = 120;
	float losses[120], *p;
	double first, last;
	unsigned nd;

	make_data(&d);
	p = train(tb->vk, &d, steps, losses, 42, &nd);
	first = (losses[0] + losses[1]) / 2;
	last = (losses[steps - 1] + losses[steps - 2] + losses[steps - 3] + losses[steps - 4]) / 4;
	for (int s = 0; s < steps; s += 10)
		printf("step %d loss %.5f\n", s, losses[s]);
	printf("training loss: first %.4f, last %.4f (%.1fx lower), %u dispatches per step\n",
	       first, last, first / last, nd);
	assert_true(first / last >= 5.0);
	free(p);
	free(d.x);
	free(d.y);
}

static void test_deterministic(void **state)
{
	struct tb *tb = *state;
	struct data d;
	float *a, *b;
	unsigned nd;
	struct counter m;

	make_data(&d);
	a = train(tb->vk, &d, 6, NULL, 7, &nd);
	b = train(tb->vk, &d, 6, NULL, 7, &nd);
	counter_new(&m, tb->vk, 7);
	assert_memory_equal(a, b, nn_n_trainable(m.nn) * sizeof(float));
	nn_free(m.nn);
	free(a), free(b), free(d.x), free(d.y);
}

/* ---------------------------------------------------------------- gradient check */

struct gnet {
	struct nn *nn;
	struct nn_conv *c0, *c1, *c2, *c3, *head;
	struct nn_bn *b0, *b1, *b2, *b3;
};

/*
 * x -> c0 (8ch) -> split 3 | 5 -> c1(first 3) into a concat buffer view,
 * second part kept -> add/maxpool/upsample paths -> concat -> mean -> head.
 */
static struct nn_t *gnet_forward(struct nn_graph *g, struct gnet *m, struct nn_t *x,
				 struct nn_t *t)
{
	struct nn_t *h = nn_conv_bn_silu(g, m->c0, m->b0, x, NULL);   /* 8 x 8 x 8 */
	struct nn_t *a = nn_split(g, h, 0, 3), *b = nn_split(g, h, 3, 5);
	struct nn_t *cat = nn_alloc(g, 2, 10, 8, 8);
	struct nn_t *v0 = nn_split(g, cat, 0, 5), *v1 = nn_split(g, cat, 5, 5);

	nn_conv_bn_silu(g, m->c1, m->b1, a, v0);                        /* 3 -> 5 into cat[0:5] */
	struct nn_t *p = nn_maxpool(g, b, 5);
	struct nn_t *s = nn_add(g, p, b);
	struct nn_t *dn = nn_conv_bn_silu(g, m->c2, m->b2, s, NULL);    /* 5 -> 5, stride 2: 4x4 */
	struct nn_t *up = nn_upsample(g, dn, 2);
	nn_conv_bn_silu(g, m->c3, m->b3, nn_silu(g, up), v1);           /* into cat[5:10] */
	struct nn_t *xs[2] = { cat, h };
	struct nn_t *all = nn_concat(g, xs, 2);                         /* 18 channels */
	struct nn_t *o = nn_conv(g, m->head, nn_mean_hw(g, all));
	return nn_mse(g, o, t);
}

static void test_graph_gradients(void **state)
{
	struct tb *tb = *state;
	struct gnet m;
	struct nn_graph *g;
	struct nn_t *x, *t, *loss;
	uint64_t s = 99;
	float xs[2 * 3 * 16 * 16], ts[2 * 4];
	size_t n = 0, checked = 0;

	assert_int_equal(nn_new(&m.nn, tb->vk, 3), 0);
	assert_int_equal(nn_conv_new(&m.c0, m.nn, "c0", 3, 8, 3, 2, 0), 0);
	assert_int_equal(nn_bn_new(&m.b0, m.nn, "b0", 8), 0);
	assert_int_equal(nn_conv_new(&m.c1, m.nn, "c1", 3, 5, 3, 1, 0), 0);
	assert_int_equal(nn_bn_new(&m.b1, m.nn, "b1", 5), 0);
	assert_int_equal(nn_conv_new(&m.c2, m.nn, "c2", 5, 5, 3, 2, 0), 0);
	assert_int_equal(nn_bn_new(&m.b2, m.nn, "b2", 5), 0);
	assert_int_equal(nn_conv_new(&m.c3, m.nn, "c3", 5, 5, 1, 1, 0), 0);
	assert_int_equal(nn_bn_new(&m.b3, m.nn, "b3", 5), 0);
	assert_int_equal(nn_conv_new(&m.head, m.nn, "head", 18, 4, 1, 1, 1), 0);
	assert_int_equal(nn_finalize(m.nn), 0);
	for (size_t i = 0; i < sizeof(xs) / 4; i++)
		xs[i] = (float)tb_uniform(&s);
	for (size_t i = 0; i < sizeof(ts) / 4; i++)
		ts[i] = (float)tb_uniform(&s);

	/* analytic: a backward-only graph (no optimizer), gradients read from the flat vector */
	assert_int_equal(nn_graph_new(&g, m.nn, NN_TRAIN), 0);
	assert_int_equal(nn_graph_begin(g), 0);
	x = nn_input(g, 2, 3, 16, 16);
	t = nn_input(g, 2, 4, 1, 1);
	loss = gnet_forward(g, &m, x, t);
	assert_int_equal(nn_backward(g, loss), 0);
	assert_int_equal(nn_graph_end(g), 0);
	nn_input_set(g, x, xs);
	nn_input_set(g, t, ts);
	assert_int_equal(nn_graph_run(g), 0);

	/*
	 * numeric: central differences of the loss of the same recorded graph
	 * (fp32, so h is large and the tolerance loose: a wrong wiring of the
	 * tape gives errors of order 1, rounding of order 1e-3), on a few
	 * elements of every trainable tensor.
	 */
	/* every run adds to the gradients: take them all before the first re-run */
	float *grads[32] = { 0 };

	assert_true(nn_param_count(m.nn) <= 32);
	for (size_t i = 0; i < nn_param_count(m.nn); i++)
		if (!nn_param(m.nn, i)->buffer) {
			grads[i] = malloc(nn_param(m.nn, i)->numel * 4);
			assert_int_equal(nn_param_grad_read(m.nn, i, grads[i]), 0);
		}
	for (size_t i = 0; i < nn_param_count(m.nn); i++) {
		const struct nn_param_info *pi = nn_param(m.nn, i);
		float *w, *gr = grads[i], lp, lm;
		double gmax = 0;

		if (pi->buffer)
			continue;
		n = pi->numel;
		w = malloc(n * 4);
		assert_int_equal(nn_param_read(m.nn, i, w), 0);
		for (size_t k = 0; k < n; k++)
			gmax = fmax(gmax, fabs(gr[k]));
		for (size_t k = 0; k < n; k += n / 3 + 1) {
			const float h = 1e-2f, keep = w[k];

			w[k] = keep + h;
			assert_int_equal(nn_param_write(m.nn, i, w), 0);
			assert_int_equal(nn_graph_run(g), 0);
			assert_int_equal(nn_read(g, loss, &lp), 0);
			w[k] = keep - h;
			assert_int_equal(nn_param_write(m.nn, i, w), 0);
			assert_int_equal(nn_graph_run(g), 0);
			assert_int_equal(nn_read(g, loss, &lm), 0);
			w[k] = keep;
			assert_int_equal(nn_param_write(m.nn, i, w), 0);
			double fd = ((double)lp - lm) / (2.0 * h);
			if (!(fabs(fd - gr[k]) <= 2e-2 * gmax + 1e-4))
				fail_msg("%s[%zu]: tape gradient %.6g, finite difference %.6g", pi->name,
					 k, gr[k], fd);
			checked++;
		}
		free(w), free(gr);
	}
	assert_true(checked >= 20);
	nn_graph_free(g);
	nn_free(m.nn);
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
		cmocka_unit_test(test_graph_gradients),
		cmocka_unit_test(test_learns_to_count),
		cmocka_unit_test(test_deterministic),
	};

	return cmocka_run_group_tests_name("nn", tests, setup, teardown);
}
