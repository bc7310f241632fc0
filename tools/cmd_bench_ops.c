/*
 * dsfs bench-ops: throughput of the Vulkan training engine on this device.
 * Prints the engine's best SGEMM (the device ceiling, over a few register
 * tilings), GFLOP/s of convolution forward, backward-data and
 * backward-weight for YOLOv8n-typical shapes at batch 16 (and the share of
 * the ceiling), GB/s of the fused BN+SiLU epilogue, and the time of one
 * recorded training step of the small test net against the sum of its ops.
 *
 * Op times come from GPU timestamps (best of --reps runs, after a warm-up
 * run that also compiles the pipelines); step times are wall-clock times of
 * submit + fence.  --sweep also tries other tile shapes for the conv kernels
 * (the numbers the defaults in train/kernels.c were chosen from).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/cli.h"
#include "train/kernels.h"
#include "train/nn.h"
#include "train/ops.h"
#include "train/vk.h"
#include "util/err.h"

struct bench {
	struct vk *vk;
	struct vk_cmd *cmd;
	struct vk_pool *pool;
	struct op_ctx o;
	int reps;
	int verbose;  /* -v: per-op profile of the training step */
	int only_pass; /* --pass: one conv pass only (-1: all) */
	int cputime;   /* --cputime: process CPU time instead of timestamps */
	double busy_cpu, busy_gpu; /* sums over run_cmd(): process CPU time, GPU time */
	double busy_pair[2];       /* last time_pair(): busy threads of the op, the SGEMM */
	/* The best SGEMM, recorded once (gcmd, operands in gpool): each conv
	 * measurement alternates with it, so the share of the ceiling compares
	 * runs made under the same machine load. */
	struct vk_cmd *gcmd;
	struct vk_pool *gpool;
	double gflop;
};

static void help(void)
{
	printf("usage: dsfs bench-ops [--reps N] [--sweep] [--quick] [--pass P] [--cputime T]\n"
	       "\n"
	       "Measure the Vulkan compute engine: SGEMM ceiling, convolution passes\n"
	       "(YOLOv8n shapes, batch 16), the fused BN+SiLU epilogue and a recorded\n"
	       "training step.  DSFS_VK_DEVICE picks the device.\n"
	       "\n"
	       "  --reps N   timed runs per measurement, best reported (default 3)\n"
	       "  --sweep    also try other conv tile shapes\n"
	       "  --quick    batch 2 instead of 16 (a smoke test)\n"
	       "  --pass P   only conv pass P (fwd, bwd_data, bwd_weight); no epilogue/step\n"
	       "  --cputime T  time by process CPU time / T (T: lavapipe's thread count,\n"
	       "             LP_NUM_THREADS); less disturbed by other jobs on a CPU device\n");
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

typedef int (*rec_fn)(struct op_ctx *o, void *arg);

/* Submit `cmd` and wait; *ns: its GPU time, or with --cputime the CPU time
 * the whole process (lavapipe's threads included) spent on it, which other
 * jobs on a shared CPU inflate much less than wall or timestamp times.
 * Divided by the threads that ran it, it is comparable to a wall time. */
static int run_cmd(struct bench *b, struct vk_cmd *cmd, double *ns)
{
	struct timespec t0, t1;
	int error;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	if ((error = vk_cmd_submit(cmd)) < 0)
		return error;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	b->busy_cpu += (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	b->busy_gpu += vk_cmd_last_ns(cmd);
	if (b->cputime)
		*ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / b->cputime;
	else
		*ns = vk_cmd_last_ns(cmd);
	return 0;
}

/* Record `fn` once, run it 1 + reps times; best GPU time of the timed runs. */
static int time_rec(struct bench *b, rec_fn fn, void *arg, double *ns_out)
{
	double best = INFINITY;
	int error;

	if ((error = vk_cmd_begin(b->cmd)) < 0 || (error = fn(&b->o, arg)) < 0 ||
	    (error = vk_cmd_end(b->cmd)) < 0)
		return error;
	for (int r = 0; r <= b->reps; r++) {
		double ns;

		if ((error = run_cmd(b, b->cmd, &ns)) < 0)
			return error;
		if (r > 0 && ns < best)
			best = ns;
	}
	*ns_out = best;
	return 0;
}

/* Like time_rec(), alternating each run with the recorded SGEMM: best times
 * of both (the SGEMM's as GFLOP/s in *gemm_out). */
static int time_pair(struct bench *b, rec_fn fn, void *arg, double *ns_out, double *gemm_out)
{
	double best = INFINITY, gbest = INFINITY;
	int error;

	double busy[2][2] = { { 0 } }; /* [conv, sgemm][cpu, gpu] */

	if ((error = vk_cmd_begin(b->cmd)) < 0 || (error = fn(&b->o, arg)) < 0 ||
	    (error = vk_cmd_end(b->cmd)) < 0)
		return error;
	for (int r = 0; r <= b->reps; r++) {
		double ns, gns;

		b->busy_cpu = b->busy_gpu = 0;
		if ((error = run_cmd(b, b->cmd, &ns)) < 0)
			return error;
		busy[0][0] += b->busy_cpu, busy[0][1] += b->busy_gpu;
		if (r > 0 && ns < best)
			best = ns;
		b->busy_cpu = b->busy_gpu = 0;
		if ((error = run_cmd(b, b->gcmd, &gns)) < 0)
			return error;
		busy[1][0] += b->busy_cpu, busy[1][1] += b->busy_gpu;
		if (gns < gbest)
			gbest = gns;
	}
	/* CPU time over device time: on a CPU device, how many of its threads
	 * were busy on average (an imbalance between them shows here). */
	b->busy_pair[0] = busy[0][0] / busy[0][1];
	b->busy_pair[1] = busy[1][0] / busy[1][1];
	*ns_out = best;
	*gemm_out = b->gflop / gbest;
	return 0;
}

static int rand_tensor(struct bench *b, struct tensor *t, int n, int c, int h, int w,
		       struct vk_pool *pool)
{
	uint64_t numel = (uint64_t)n * c * h * w, s = 0x9e3779b97f4a7c15ull ^ numel;
	float *v = malloc(numel * 4);
	int error;

	if (!v)
		return err_set(-ENOMEM, "out of memory");
	for (uint64_t i = 0; i < numel; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		v[i] = (float)((double)(s >> 11) / (double)(1ull << 53)) - 0.5f;
	}
	if ((error = tensor_alloc(t, pool, n, c, h, w)) == 0)
		error = tensor_upload(b->vk, t, v);
	free(v);
	return error;
}

/* ---------------------------------------------------------------- gemm */

struct gemm_arg {
	struct tensor a, b, c;
	int m, n, k;
};

static int rec_gemm(struct op_ctx *o, void *p)
{
	struct gemm_arg *g = p;

	return op_gemm(o, &g->c, &g->a, &g->b, g->m, g->n, g->k, 0);
}

static int bench_gemm(struct bench *b, int quick, double *ceiling)
{
	static const int32_t variants[][6] = {
		{ 16, 4, 1, 1, 0, 16 }, { 8, 8, 1, 1, 0, 16 }, { 64, 1, 1, 1, 0, 16 },
		{ 16, 4, 2, 1, 0, 16 }, { 16, 4, 1, 2, 0, 16 }, { 8, 8, 2, 2, 0, 16 },
		{ 16, 16, 1, 1, 1, 16 },
	};
	struct gemm_arg g = { .m = quick ? 256 : 512, .n = quick ? 256 : 512, .k = quick ? 256 : 512 };
	double flops = 2.0 * g.m * g.n * g.k, ns;
	int error;

	size_t best = 0;

	if ((error = rand_tensor(b, &g.a, 1, g.k * g.m, 1, 1, b->gpool)) < 0 ||
	    (error = rand_tensor(b, &g.b, 1, g.k * g.n, 1, 1, b->gpool)) < 0 ||
	    (error = tensor_alloc(&g.c, b->gpool, 1, g.m * g.n, 1, 1)) < 0)
		return error;
	printf("SGEMM %dx%dx%d (tiles: WGX WGY RM RN SHMEM):\n", g.m, g.n, g.k);
	*ceiling = 0;
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		b->o.spec[KERN_GEMM] = variants[i];
		if ((error = time_rec(b, rec_gemm, &g, &ns)) < 0)
			return error;
		printf("  %3d %3d %2d %2d %d  %7.2f GFLOP/s\n", variants[i][0], variants[i][1],
		       variants[i][2], variants[i][3], variants[i][4], flops / ns);
		if (flops / ns > *ceiling) {
			*ceiling = flops / ns;
			best = i;
		}
	}
	/* record the best tiling once more into gcmd, for time_pair() */
	struct op_ctx go = b->o;

	go.cmd = b->gcmd;
	go.spec[KERN_GEMM] = variants[best];
	b->gflop = flops;
	if ((error = vk_cmd_begin(b->gcmd)) < 0 || (error = rec_gemm(&go, &g)) < 0 ||
	    (error = vk_cmd_end(b->gcmd)) < 0)
		return error;
	b->o.spec[KERN_GEMM] = NULL;
	printf("SGEMM ceiling: %.2f GFLOP/s (tiles %d %d %d %d %d)\n\n", *ceiling,
	       variants[best][0], variants[best][1], variants[best][2], variants[best][3],
	       variants[best][4]);
	return 0;
}

/* ---------------------------------------------------------------- conv */

struct conv_arg {
	struct tensor x, y, w, dx, dy, dw;
	struct conv_desc cd;
	int pass; /* 0 fwd, 1 bwd_data, 2 bwd_weight */
};

static int rec_conv(struct op_ctx *o, void *p)
{
	struct conv_arg *a = p;

	switch (a->pass) {
	case 0:
		return op_conv_fwd(o, &a->y, &a->x, &a->w, NULL, &a->cd, 0);
	case 1:
		return op_conv_bwd_data(o, &a->dx, &a->dy, &a->w, &a->cd, 0);
	default:
		return op_conv_bwd_weight(o, &a->dw, &a->dy, &a->x, &a->cd, 0);
	}
}

struct conv_shape {
	int ci, co, hw, k, s;
};

static const char *const pass_name[3] = { "fwd", "bwd_data", "bwd_weight" };

static int bench_conv(struct bench *b, int batch, int sweep, double ceiling, double *worst_share)
{
	static const struct conv_shape shapes[] = {
		{ 32, 32, 80, 3, 1 }, { 64, 64, 40, 3, 1 }, { 64, 64, 40, 3, 2 }, { 128, 64, 20, 1, 1 },
	};
	static const int32_t fwd_variants[][5] = {
		{ 64, 8, 4, 0, 16 }, { 64, 4, 4, 0, 16 }, { 64, 8, 2, 0, 16 }, { 64, 16, 2, 0, 16 },
		{ 64, 4, 8, 0, 16 }, { 32, 8, 4, 0, 16 }, { 128, 8, 4, 0, 16 }, { 64, 16, 4, 0, 16 },
	};
	static const int32_t cl_variants[][3] = {
		{ 64, 2, 4 }, { 32, 2, 4 }, { 32, 2, 6 }, { 64, 2, 6 }, { 32, 3, 4 }, { 16, 2, 4 },
		{ 32, 1, 8 }, { 32, 1, 4 }, { 32, 2, 8 },
	};
	static const int32_t wrow_variants[][3] = { { 16, 3, 1 }, { 32, 3, 1 }, { 64, 3, 1 }, { 128, 3, 1 } };
	static const int32_t wcl_variants[][3] = {
		{ 256, 1, 2 }, { 256, 2, 1 }, { 128, 2, 1 }, { 128, 1, 2 }, { 64, 2, 1 }, { 128, 1, 1 },
		{ 128, 2, 2 }, { 64, 2, 2 }, { 64, 1, 3 }, { 64, 3, 1 },
	};
	/* 1x1 stride 1 on CPU devices: conv1x1 {WGX, WGY, RM, RN}, conv1x1_bwd_weight {WG, TM, TN} */
	static const int32_t g1_variants[][4] = {
		{ 8, 8, 2, 2 }, { 8, 8, 1, 2 }, { 8, 8, 2, 1 }, { 16, 4, 1, 2 }, { 8, 16, 1, 2 },
		{ 8, 8, 1, 4 }, { 8, 8, 1, 3 }, { 8, 4, 1, 2 }, { 16, 8, 1, 2 }, { 8, 8, 1, 1 },
		{ 4, 8, 2, 2 }, { 8, 4, 2, 2 }, { 4, 16, 2, 2 },
	};
	static const int32_t w1_variants[][3] = {
		{ 64, 8, 8 }, { 32, 8, 8 }, { 16, 8, 8 }, { 64, 4, 8 }, { 64, 8, 4 }, { 64, 4, 4 },
	};
	static const int32_t wgt_variants[][3] = {
		{ 64, 4, 4 }, { 64, 8, 4 }, { 64, 4, 8 }, { 64, 8, 8 }, { 32, 4, 4 }, { 128, 4, 4 },
		{ 64, 2, 4 },
	};
	int error;

	*worst_share = INFINITY;
	printf("convolution, batch %d (GFLOP/s; the best SGEMM timed alternately with it;\n"
	       "share of that SGEMM):\n", batch);
	(void)ceiling;
	for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
		const struct conv_shape *sh = &shapes[si];
		struct conv_arg a = { .cd = { sh->k, sh->k, sh->s, sh->k / 2 } };
		int oh = conv_out(sh->hw, sh->k, sh->s, sh->k / 2);
		double flops = 2.0 * batch * oh * oh * sh->co * sh->ci * sh->k * sh->k;

		vk_pool_reset(b->pool);
		if ((error = rand_tensor(b, &a.x, batch, sh->ci, sh->hw, sh->hw, b->pool)) < 0 ||
		    (error = rand_tensor(b, &a.w, sh->co, sh->ci, sh->k, sh->k, b->pool)) < 0 ||
		    (error = rand_tensor(b, &a.dy, batch, sh->co, oh, oh, b->pool)) < 0 ||
		    (error = tensor_alloc(&a.y, b->pool, batch, sh->co, oh, oh)) < 0 ||
		    (error = tensor_alloc(&a.dx, b->pool, batch, sh->ci, sh->hw, sh->hw)) < 0 ||
		    (error = tensor_alloc(&a.dw, b->pool, sh->co, sh->ci, sh->k, sh->k)) < 0)
			return error;
		for (a.pass = 0; a.pass < 3; a.pass++) {
			enum kern k = a.pass == 0 ? KERN_CONV_FWD : a.pass == 1 ? KERN_CONV_BWD_DATA
									      : KERN_CONV_BWD_WEIGHT;
			const int cl = !vk_info(b->vk)->gpu_tiles;
			size_t nv = a.pass == 2 ? (cl ? sizeof(wcl_variants) / sizeof(wcl_variants[0])
						      : sizeof(wgt_variants) / sizeof(wgt_variants[0]))
				    : cl ? sizeof(cl_variants) / sizeof(cl_variants[0])
					 : sizeof(fwd_variants) / sizeof(fwd_variants[0]);
			double ns, g;

			if (b->only_pass >= 0 && a.pass != b->only_pass)
				continue;
			b->o.spec[k] = NULL;
			double local;

			vk_prof_reset(b->vk);
			if ((error = time_pair(b, rec_conv, &a, &ns, &local)) < 0)
				return error;
			g = flops / ns;
			printf("  %dx%d %3d->%-3d %3dx%-3d s%d %-10s %7.2f GFLOP/s  SGEMM %6.2f  %5.1f%%\n",
			       sh->k, sh->k, sh->ci, sh->co, sh->hw, sh->hw, sh->s, pass_name[a.pass], g,
			       local, 100 * g / local);
			if (g / local < *worst_share)
				*worst_share = g / local;
			/* CPU time over device time: on a CPU device, how many of its
			 * threads were busy on average (an imbalance shows here); and
			 * where the pass's time goes (copies vs kernel) */
			if (b->verbose) {
				printf("    threads busy (CPU time / device time): %.2f, SGEMM %.2f\n",
				       b->busy_pair[0], b->busy_pair[1]);
				vk_prof_print(b->vk, stdout);
			}
			/* CPU time over device time: on a CPU device, how many of its
			 * threads were busy on average (an imbalance shows here); and
			 * where the pass's time goes (copies vs kernel) */
			if (b->verbose) {
				printf("    threads busy (CPU time / device time): %.2f, SGEMM %.2f\n",
				       b->busy_pair[0], b->busy_pair[1]);
				vk_prof_print(b->vk, stdout);
			}
			const int g1 = cl && sh->k == 1 && sh->s == 1;

			if (cl)
				k = a.pass == 0 ? KERN_CONV_FWD_CL : a.pass == 1 ? KERN_CONV_BWD_DATA_CL
									   : KERN_CONV_BWD_WEIGHT_CL;
			/* 3x3 backward-weight on CPU devices: the row kernel, whose
			 * only tile parameter is the work-group size */
			const int wrow = cl && a.pass == 2 && sh->k == 3;

			if (wrow) {
				k = KERN_CONV_BWD_WEIGHT_ROW;
				nv = sizeof(wrow_variants) / sizeof(wrow_variants[0]);
			}
			if (g1) {
				k = a.pass == 2 ? KERN_CONV1X1_BWD_WEIGHT : KERN_CONV1X1;
				nv = a.pass == 2 ? sizeof(w1_variants) / sizeof(w1_variants[0])
						 : sizeof(g1_variants) / sizeof(g1_variants[0]);
			}
			for (size_t v = 0; sweep && v < nv; v++) {
				const int32_t *sp = a.pass == 2 ? (cl ? wcl_variants[v] : wgt_variants[v])
						    : cl ? cl_variants[v] : fwd_variants[v];

				if (g1)
					sp = a.pass == 2 ? w1_variants[v] : g1_variants[v];
				if (wrow)
					sp = wrow_variants[v];
				b->o.spec[k] = sp;
				if ((error = time_rec(b, rec_conv, &a, &ns)) < 0)
					return error;
				if (wrow)
					printf("      tiles WG %3d: %7.2f GFLOP/s\n", sp[0], flops / ns);
				else if (g1 && a.pass < 2)
					printf("      tiles WGX %2d WGY %2d RM %d RN %d: %7.2f GFLOP/s\n", sp[0],
					       sp[1], sp[2], sp[3], flops / ns);
				else
					printf("      tiles WG %3d TM %2d TN %2d: %7.2f GFLOP/s\n", sp[0], sp[1],
					       sp[2], flops / ns);
			}
			b->o.spec[k] = NULL;
		}
	}
	printf("slowest conv pass: %.0f%% of the SGEMM timed with it\n\n", 100 * *worst_share);
	return 0;
}

/* ---------------------------------------------------------------- epilogue */

struct epi_arg {
	struct tensor x, y, stats, g, b;
};

static int rec_epi(struct op_ctx *o, void *p)
{
	struct epi_arg *a = p;

	return op_bn_apply(o, &a->y, &a->x, &a->stats, &a->g, &a->b, 1e-3f, PF_SILU);
}

static int bench_epilogue(struct bench *b, int batch)
{
	struct epi_arg a;
	double ns;
	int error;

	vk_pool_reset(b->pool);
	if ((error = rand_tensor(b, &a.x, batch, 32, 80, 80, b->pool)) < 0 ||
	    (error = tensor_alloc(&a.y, b->pool, batch, 32, 80, 80)) < 0 ||
	    (error = rand_tensor(b, &a.stats, 1, 64, 1, 1, b->pool)) < 0 ||
	    (error = rand_tensor(b, &a.g, 1, 32, 1, 1, b->pool)) < 0 ||
	    (error = rand_tensor(b, &a.b, 1, 32, 1, 1, b->pool)) < 0 ||
	    (error = time_rec(b, rec_epi, &a, &ns)) < 0)
		return error;
	printf("fused BN+SiLU epilogue, %dx32x80x80: %.2f GB/s (read + write)\n\n", batch,
	       8.0 * tensor_numel(&a.x) / ns);
	return 0;
}

/* ---------------------------------------------------------------- step */

static int bench_step(struct bench *b, int batch, int img)
{
	static const int ch[6] = { 3, 16, 32, 32, 64, 64 }, stride[5] = { 2, 2, 1, 2, 1 };
	const struct nn_opt opt = { .kind = NN_SGD, .lr = 0.01f, .momentum = 0.9f, .nesterov = 1,
				    .weight_decay = 5e-4f };
	struct nn *nn = NULL;
	struct nn_graph *g = NULL;
	struct nn_conv *c[5], *head;
	struct nn_bn *bn[5];
	struct nn_t *x, *t, *h;
	float *xs = NULL, ts[64 * 3] = { 0 };
	double wall = INFINITY, ops = 0, t0;
	char name[32];
	int error;

	if ((error = nn_new(&nn, b->vk, 1)) < 0)
		goto done;
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "model.%d.conv", i);
		if ((error = nn_conv_new(&c[i], nn, name, ch[i], ch[i + 1], 3, stride[i], 0)) < 0)
			goto done;
		snprintf(name, sizeof(name), "model.%d.bn", i);
		if ((error = nn_bn_new(&bn[i], nn, name, ch[i + 1])) < 0)
			goto done;
	}
	if ((error = nn_conv_new(&head, nn, "model.5", 64, 3, 1, 1, 1)) < 0 ||
	    (error = nn_finalize(nn)) < 0 || (error = nn_graph_new(&g, nn, NN_TRAIN)) < 0 ||
	    (error = nn_graph_begin(g)) < 0)
		goto done;
	x = nn_input(g, batch, 3, img, img);
	t = nn_input(g, batch, 3, 1, 1);
	h = x;
	for (int i = 0; i < 5; i++)
		h = nn_conv_bn_silu(g, c[i], bn[i], h, NULL);
	h = nn_mse(g, nn_conv(g, head, nn_mean_hw(g, h)), t);
	if ((error = nn_backward(g, h)) < 0 || (error = nn_optimize(g, &opt)) < 0 ||
	    (error = nn_graph_end(g)) < 0)
		goto done;
	if (!(xs = calloc((size_t)batch * 3 * img * img, sizeof(float)))) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < (size_t)batch * 3 * img * img; i++)
		xs[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
	vk_prof_reset(b->vk);
	for (int r = 0; r <= b->reps; r++) {
		if ((error = nn_input_set(g, x, xs)) < 0 || (error = nn_input_set(g, t, ts)) < 0)
			goto done;
		t0 = now_ns();
		if ((error = nn_graph_run(g)) < 0)
			goto done;
		if (r > 0 && now_ns() - t0 < wall) {
			wall = now_ns() - t0;
			ops = vk_cmd_last_ns(nn_graph_cmd(g));
		}
	}
	printf("training step, %d conv+BN+SiLU blocks + head, batch %d, %dx%d input:\n"
	       "  %u dispatches, one submit; step %.2f ms, sum of ops %.2f ms, overhead %.1f%%\n",
	       5, batch, img, img, vk_cmd_n_dispatches(nn_graph_cmd(g)), wall / 1e6, ops / 1e6,
	       100 * (wall - ops) / wall);
	if (b->verbose)
		vk_prof_print(b->vk, stdout);
done:
	free(xs);
	nn_graph_free(g);
	nn_free(nn);
	return error;
}

int cmd_bench_ops(struct cli *cli, int argc, char **argv)
{
	struct vk_opts opts = VK_OPTS_INIT;
	struct bench b = { .reps = 3, .only_pass = -1 };
	int sweep = 0, quick = 0, error, batch;
	double ceiling, share;

	b.verbose = cli->verbose;
	if (cli_wants_help(argc, argv)) {
		help();
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		const char *why = NULL;

		if (!strcmp(argv[i], "--sweep")) {
			sweep = 1;
		} else if (!strcmp(argv[i], "--quick")) {
			quick = 1;
		} else if (!strcmp(argv[i], "--pass") && i + 1 < argc) {
			i++;
			for (int p = 0; p < 3; p++)
				if (!strcmp(argv[i], pass_name[p]))
					b.only_pass = p;
			if (b.only_pass < 0)
				why = "--pass: expected fwd, bwd_data or bwd_weight";
		} else if (!strcmp(argv[i], "--cputime") && i + 1 < argc) {
			b.cputime = atoi(argv[++i]);
			if (b.cputime < 1 || b.cputime > 1024)
				why = "--cputime: expected a number of threads from 1 to 1024";
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			b.reps = atoi(argv[++i]);
			if (b.reps < 1 || b.reps > 1000)
				why = "--reps: expected a number from 1 to 1000";
		} else {
			why = argv[i][0] == '-' && strcmp(argv[i], "--pass") && strcmp(argv[i], "--cputime") &&
			      strcmp(argv[i], "--reps") ? "unknown option" : "a value is missing";
			cli_error("bench-ops: %s: %s", argv[i], why);
			return cli_usage("bench-ops");
		}
		if (why) {
			cli_error("bench-ops: %s (got '%s')", why, argv[i]);
			return cli_usage("bench-ops");
		}
	}
	batch = quick ? 2 : 16;
	opts.profile = 1;
	if ((error = vk_open(&b.vk, &opts)) < 0) {
		cli_error("bench-ops: %s", err_last());
		return 1;
	}
	if (!vk_info(b.vk)->profiling) {
		cli_error("bench-ops: %s has no compute timestamps", vk_info(b.vk)->name);
		vk_free(b.vk);
		return 1;
	}
	printf("device: %s (%s tiles)\n\n", vk_info(b.vk)->name,
	       vk_info(b.vk)->gpu_tiles ? "shared-memory" : "register-blocked");
	if ((error = vk_cmd_new(&b.cmd, b.vk)) < 0 || (error = vk_cmd_new(&b.gcmd, b.vk)) < 0 ||
	    (error = vk_pool_new(&b.gpool, b.vk, VK_POOL_ARENA, "bench gemm")) < 0 ||
	    (error = vk_pool_new(&b.pool, b.vk, VK_POOL_ARENA, "bench")) < 0)
		goto done;
	b.o = (struct op_ctx){ .vk = b.vk, .cmd = b.cmd, .scratch = b.pool };
	if ((error = bench_gemm(&b, quick, &ceiling)) < 0 ||
	    (error = bench_conv(&b, batch, sweep, ceiling, &share)) < 0 ||
	    (b.only_pass < 0 && (error = bench_epilogue(&b, batch)) < 0) ||
	    (b.only_pass < 0 && (error = bench_step(&b, batch, quick ? 32 : 64)) < 0))
		goto done;
done:
	if (error < 0)
		cli_error("bench-ops: %s", err_last());
	vk_cmd_free(b.cmd);
	vk_cmd_free(b.gcmd);
	vk_pool_free(b.pool);
	vk_pool_free(b.gpool);
	vk_free(b.vk);
	return error < 0 ? 1 : 0;
}
