/*
 * Layers, tape and optimizer (see nn.h).
 *
 * A graph has three pools: activations (and op temporaries), activation
 * gradients, and host-visible staging (inputs, hyper-parameters).  All
 * activation gradients come from their own pool so nn_backward() can zero
 * them with one fill per block before the reverse walk; every backward op
 * then accumulates, which handles tensors used by several layers (residual
 * adds, split views) without bookkeeping.
 *
 * Each tape node carries a vtable with its backward (node_ops), its input
 * and output tensors, its layer and what the forward saved (batch
 * statistics, max-pool positions).
 */
#include "train/nn.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

#define BN_EPS 1e-3f
#define BN_MOMENTUM 0.03f

struct param {
	struct nn_param_info info;
	int decay;           /* weight decay applies */
	float init_bound;    /* uniform(-b, b); 0: constant init_val */
	float init_val;
	uint64_t off;        /* element offset in the flat vector (trainable or buffers) */
};

struct nn_conv {
	int ci, co, k, stride, pad, bias;
	size_t w, b;         /* parameter indices */
};

struct nn_bn {
	int c;
	float eps, momentum;
	size_t g, b, rm, rv; /* rm and rv are consecutive buffers */
};

struct nn {
	struct vk *vk;
	uint64_t seed;
	struct param *params;
	size_t n_params, cap_params;
	void **layers;       /* owned layer objects */
	size_t n_layers;
	int finalized;
	struct vk_pool *pool;
	struct tensor P, G, M, V, B; /* flat: values, grads, moments, buffers */
	uint64_t n_train, n_decay, n_buf;
	unsigned t;          /* optimizer steps taken */
};

struct nn_t {
	struct tensor v, g;
	int has_grad;
	struct vk_mem stage; /* inputs: host-visible copy source */
};

struct node;
struct node_ops {
	const char *name;
	int (*backward)(struct nn_graph *g, const struct node *nd);
};

struct node {
	const struct node_ops *ops;
	struct nn_t *in[8];
	int n_in;
	struct nn_t *out;
	const void *layer;
	struct tensor save;  /* bn: batch statistics; maxpool: positions */
	int k;
	unsigned flags;
};

struct nn_graph {
	struct nn *nn;
	enum nn_mode mode;
	struct vk_cmd *cmd;
	struct vk_pool *acts, *grads, *stage;
	struct op_ctx o;
	struct nn_t **ts;
	size_t n_ts, cap_ts;
	struct node *nodes;
	size_t n_nodes, cap_nodes;
	int error;
	int recorded;
	int has_opt;
	struct nn_opt opt;
	struct tensor hyper;
};

/* ---------------------------------------------------------------- model */

int nn_new(struct nn **out, struct vk *vk, uint64_t seed)
{
	struct nn *nn = calloc(1, sizeof(*nn));
	int error;

	*out = NULL;
	if (!nn)
		return err_set(-ENOMEM, "out of memory");
	nn->vk = vk;
	nn->seed = seed;
	if ((error = vk_pool_new(&nn->pool, vk, VK_POOL_PERSISTENT, "parameters")) < 0) {
		free(nn);
		return error;
	}
	*out = nn;
	return 0;
}

void nn_free(struct nn *nn)
{
	if (!nn)
		return;
	for (size_t i = 0; i < nn->n_params; i++)
		free((char *)nn->params[i].info.name);
	free(nn->params);
	for (size_t i = 0; i < nn->n_layers; i++)
		free(nn->layers[i]);
	free(nn->layers);
	vk_pool_free(nn->pool);
	free(nn);
}

static int keep_layer(struct nn *nn, void *l)
{
	void **a = realloc(nn->layers, (nn->n_layers + 1) * sizeof(*a));

	if (!a) {
		free(l);
		return err_set(-ENOMEM, "out of memory");
	}
	nn->layers = a;
	nn->layers[nn->n_layers++] = l;
	return 0;
}

static int add_param(size_t *idx, struct nn *nn, const char *prefix, const char *suffix,
		     const int *shape, int ndim, int decay, int buffer, float bound, float val)
{
	struct param *p;
	char name[160];

	if (nn->finalized)
		return err_set(-EINVAL, "nn: layers must be created before nn_finalize()");
	if (nn->n_params == nn->cap_params) {
		size_t cap = nn->cap_params ? 2 * nn->cap_params : 32;
		struct param *a = realloc(nn->params, cap * sizeof(*a));

		if (!a)
			return err_set(-ENOMEM, "out of memory");
		nn->params = a;
		nn->cap_params = cap;
	}
	p = &nn->params[nn->n_params];
	memset(p, 0, sizeof(*p));
	snprintf(name, sizeof(name), "%s.%s", prefix, suffix);
	for (size_t i = 0; i < nn->n_params; i++)
		if (!strcmp(nn->params[i].info.name, name))
			return err_set(-EEXIST, "nn: parameter %s defined twice", name);
	if (!(p->info.name = strdup(name)))
		return err_set(-ENOMEM, "out of memory");
	p->info.ndim = ndim;
	p->info.numel = 1;
	for (int i = 0; i < 4; i++) {
		p->info.shape[i] = i < ndim ? shape[i] : 1;
		p->info.numel *= (uint64_t)p->info.shape[i];
	}
	p->info.buffer = buffer;
	p->decay = decay;
	p->init_bound = bound;
	p->init_val = val;
	*idx = nn->n_params++;
	return 0;
}

int nn_conv_new(struct nn_conv **out, struct nn *nn, const char *name, int ci, int co, int k,
		int stride, int bias)
{
	struct nn_conv *l;
	int shape[4] = { co, ci, k, k };
	float bound = (float)(1.0 / sqrt((double)ci * k * k)); /* PyTorch's default conv init */
	int error;

	*out = NULL;
	if (ci <= 0 || co <= 0 || k <= 0 || stride <= 0)
		return err_set(-EINVAL, "nn_conv_new %s: bad shape", name);
	if (!(l = calloc(1, sizeof(*l))))
		return err_set(-ENOMEM, "out of memory");
	*l = (struct nn_conv){ ci, co, k, stride, k / 2, bias, 0, 0 };
	if ((error = keep_layer(nn, l)) < 0 ||
	    (error = add_param(&l->w, nn, name, "weight", shape, 4, 1, 0, bound, 0)) < 0 ||
	    (bias && (error = add_param(&l->b, nn, name, "bias", &co, 1, 0, 0, bound, 0)) < 0))
		return error;
	*out = l;
	return 0;
}

int nn_bn_new(struct nn_bn **out, struct nn *nn, const char *name, int c)
{
	struct nn_bn *l;
	int error;

	*out = NULL;
	if (c <= 0)
		return err_set(-EINVAL, "nn_bn_new %s: bad channel count", name);
	if (!(l = calloc(1, sizeof(*l))))
		return err_set(-ENOMEM, "out of memory");
	l->c = c;
	l->eps = BN_EPS;
	l->momentum = BN_MOMENTUM;
	if ((error = keep_layer(nn, l)) < 0 ||
	    (error = add_param(&l->g, nn, name, "weight", &c, 1, 0, 0, 0, 1.0f)) < 0 ||
	    (error = add_param(&l->b, nn, name, "bias", &c, 1, 0, 0, 0, 0.0f)) < 0 ||
	    (error = add_param(&l->rm, nn, name, "running_mean", &c, 1, 0, 1, 0, 0.0f)) < 0 ||
	    (error = add_param(&l->rv, nn, name, "running_var", &c, 1, 0, 1, 0, 1.0f)) < 0)
		return error;
	*out = l;
	return 0;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int flat(struct tensor *t, struct vk_pool *pool, uint64_t n)
{
	return tensor_alloc(t, pool, 1, (int)(n ? n : 1), 1, 1);
}

int nn_finalize(struct nn *nn)
{
	float *host = NULL, *buf = NULL, *zero = NULL;
	uint64_t off = 0, boff = 0;
	int error;

	if (nn->finalized)
		return err_set(-EINVAL, "nn_finalize called twice");
	/* Layout: decayed parameters, then the others; buffers apart. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < nn->n_params; i++) {
			struct param *p = &nn->params[i];

			if (p->info.buffer || p->decay != (pass == 0))
				continue;
			p->off = off;
			off += p->info.numel;
			if (pass == 0)
				nn->n_decay = off;
		}
	nn->n_train = off;
	for (size_t i = 0; i < nn->n_params; i++)
		if (nn->params[i].info.buffer) {
			nn->params[i].off = boff;
			boff += nn->params[i].info.numel;
		}
	nn->n_buf = boff;
	host = calloc(off ? off : 1, sizeof(float));
	buf = calloc(boff ? boff : 1, sizeof(float));
	zero = calloc(off ? off : 1, sizeof(float));
	if (!host || !buf || !zero) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < nn->n_params; i++) {
		struct param *p = &nn->params[i];
		float *dst = (p->info.buffer ? buf : host) + p->off;
		uint64_t s = nn->seed * 0x100000001b3ull + i;

		for (uint64_t k = 0; k < p->info.numel; k++)
			dst[k] = p->init_bound > 0
				? p->init_bound * (float)((double)(splitmix(&s) >> 11) / (double)(1ull << 52) - 1.0)
				: p->init_val;
	}
	if ((error = flat(&nn->P, nn->pool, off)) < 0 || (error = flat(&nn->G, nn->pool, off)) < 0 ||
	    (error = flat(&nn->M, nn->pool, off)) < 0 || (error = flat(&nn->V, nn->pool, off)) < 0 ||
	    (error = flat(&nn->B, nn->pool, boff)) < 0)
		goto done;
	if (off && ((error = tensor_upload(nn->vk, &nn->P, host)) < 0 ||
		    (error = tensor_upload(nn->vk, &nn->G, zero)) < 0 ||
		    (error = tensor_upload(nn->vk, &nn->M, zero)) < 0 ||
		    (error = tensor_upload(nn->vk, &nn->V, zero)) < 0))
		goto done;
	if (boff && (error = tensor_upload(nn->vk, &nn->B, buf)) < 0)
		goto done;
	nn->finalized = 1;
	LOG_I("nn: %zu tensors, %llu trainable parameters (%llu with decay), %llu buffer values",
	      nn->n_params, (unsigned long long)off, (unsigned long long)nn->n_decay,
	      (unsigned long long)boff);
done:
	free(host);
	free(buf);
	free(zero);
	return error;
}

size_t nn_param_count(const struct nn *nn)
{
	return nn->n_params;
}

const struct nn_param_info *nn_param(const struct nn *nn, size_t i)
{
	return i < nn->n_params ? &nn->params[i].info : NULL;
}

uint64_t nn_n_trainable(const struct nn *nn)
{
	return nn->n_train;
}

/* View of parameter i in flat vector `f` (P, G, M, V or B), shaped like the parameter. */
static struct tensor pview(const struct nn *nn, size_t i, const struct tensor *f)
{
	const struct param *p = &nn->params[i];
	struct tensor t = tensor_vec(f, p->off, p->info.numel);

	if (p->info.ndim == 4) {
		t.n = p->info.shape[0];
		t.c = p->info.shape[1];
		t.h = p->info.shape[2];
		t.w = p->info.shape[3];
		t.ns = p->info.numel / t.n;
	}
	return t;
}

int nn_param_read(struct nn *nn, size_t i, float *out)
{
	struct tensor t;

	if (!nn->finalized || i >= nn->n_params)
		return err_set(-EINVAL, "nn_param_read: no parameter %zu", i);
	t = pview(nn, i, nn->params[i].info.buffer ? &nn->B : &nn->P);
	return tensor_download(nn->vk, out, &t);
}

int nn_param_grad_read(struct nn *nn, size_t i, float *out)
{
	struct tensor t;

	if (!nn->finalized || i >= nn->n_params || nn->params[i].info.buffer)
		return err_set(-EINVAL, "nn_param_grad_read: no trainable parameter %zu", i);
	t = pview(nn, i, &nn->G);
	return tensor_download(nn->vk, out, &t);
}

int nn_param_write(struct nn *nn, size_t i, const float *in)
{
	struct tensor t;

	if (!nn->finalized || i >= nn->n_params)
		return err_set(-EINVAL, "nn_param_write: no parameter %zu", i);
	t = pview(nn, i, nn->params[i].info.buffer ? &nn->B : &nn->P);
	return tensor_upload(nn->vk, &t, in);
}

/* ---------------------------------------------------------------- graph */

int nn_graph_new(struct nn_graph **out, struct nn *nn, enum nn_mode mode)
{
	struct nn_graph *g = calloc(1, sizeof(*g));
	int error;

	*out = NULL;
	if (!g)
		return err_set(-ENOMEM, "out of memory");
	g->nn = nn;
	g->mode = mode;
	if ((error = vk_cmd_new(&g->cmd, nn->vk)) < 0 ||
	    (error = vk_pool_new(&g->acts, nn->vk, VK_POOL_ARENA, "activations")) < 0 ||
	    (error = vk_pool_new(&g->grads, nn->vk, VK_POOL_ARENA, "gradients")) < 0 ||
	    (error = vk_pool_new(&g->stage, nn->vk, VK_POOL_STAGING, "inputs")) < 0) {
		nn_graph_free(g);
		return error;
	}
	g->o.vk = nn->vk;
	g->o.cmd = g->cmd;
	g->o.scratch = g->acts;
	*out = g;
	return 0;
}

static void drop_tensors(struct nn_graph *g)
{
	for (size_t i = 0; i < g->n_ts; i++)
		free(g->ts[i]);
	g->n_ts = 0;
	g->n_nodes = 0;
}

void nn_graph_free(struct nn_graph *g)
{
	if (!g)
		return;
	drop_tensors(g);
	free(g->ts);
	free(g->nodes);
	vk_cmd_free(g->cmd);
	vk_pool_free(g->acts);
	vk_pool_free(g->grads);
	vk_pool_free(g->stage);
	free(g);
}

struct vk_cmd *nn_graph_cmd(struct nn_graph *g)
{
	return g->cmd;
}

int nn_graph_begin(struct nn_graph *g)
{
	if (!g->nn->finalized)
		return err_set(-EINVAL, "nn_graph_begin before nn_finalize");
	drop_tensors(g);
	vk_pool_reset(g->acts);
	vk_pool_reset(g->grads);
	vk_pool_reset(g->stage);
	g->error = 0;
	g->recorded = 0;
	g->has_opt = 0;
	return vk_cmd_begin(g->cmd);
}

int nn_graph_end(struct nn_graph *g)
{
	int error;

	if (g->error < 0)
		return g->error;
	if ((error = vk_cmd_end(g->cmd)) < 0)
		return error;
	g->recorded = 1;
	return 0;
}

void nn_graph_set_lr(struct nn_graph *g, float lr)
{
	g->opt.lr = lr;
}

static void write_hyper(struct nn_graph *g, unsigned t)
{
	struct opt_hyper h = {
		.lr = g->opt.lr,
		.momentum = g->opt.momentum,
		.weight_decay = g->opt.weight_decay,
		.nesterov = g->opt.nesterov ? 1.0f : 0.0f,
		.beta1 = g->opt.beta1,
		.beta2 = g->opt.beta2,
		.eps = g->opt.eps,
		.bc1 = 1.0f - powf(g->opt.beta1, (float)t),
		.bc2 = 1.0f - powf(g->opt.beta2, (float)t),
	};

	memcpy(vk_mem_map(g->hyper.mem), &h, sizeof(h));
}

int nn_graph_run(struct nn_graph *g)
{
	int error;

	if (!g->recorded)
		return err_set(-EINVAL, "nn_graph_run: nothing recorded");
	if (g->has_opt)
		write_hyper(g, g->nn->t + 1);
	if ((error = vk_cmd_submit(g->cmd)) < 0)
		return error;
	if (g->has_opt)
		g->nn->t++;
	return 0;
}

/* Remember the first error; returns NULL for the caller to return. */
static struct nn_t *fail(struct nn_graph *g, int error)
{
	if (g->error == 0)
		g->error = error < 0 ? error : -EINVAL;
	return NULL;
}

static struct nn_t *keep_t(struct nn_graph *g, struct nn_t *t)
{
	if (!t)
		return fail(g, err_set(-ENOMEM, "out of memory"));
	if (g->n_ts == g->cap_ts) {
		size_t cap = g->cap_ts ? 2 * g->cap_ts : 64;
		struct nn_t **a = realloc(g->ts, cap * sizeof(*a));

		if (!a) {
			free(t);
			return fail(g, err_set(-ENOMEM, "out of memory"));
		}
		g->ts = a;
		g->cap_ts = cap;
	}
	g->ts[g->n_ts++] = t;
	return t;
}

/* A new graph tensor; with a gradient in training mode when `grad`. */
static struct nn_t *new_t(struct nn_graph *g, int n, int c, int h, int w, int grad)
{
	struct nn_t *t = keep_t(g, calloc(1, sizeof(struct nn_t)));
	int error;

	if (!t)
		return NULL;
	if ((error = tensor_alloc(&t->v, g->acts, n, c, h, w)) < 0)
		return fail(g, error);
	if (grad && g->mode == NN_TRAIN) {
		if ((error = tensor_alloc(&t->g, g->grads, n, c, h, w)) < 0)
			return fail(g, error);
		t->has_grad = 1;
	}
	return t;
}

static int push_node(struct nn_graph *g, const struct node_ops *ops, struct nn_t *const *in,
		     int n_in, struct nn_t *out, const void *layer, const struct tensor *save,
		     int k, unsigned flags)
{
	struct node *nd;

	if (g->mode != NN_TRAIN)
		return 0; /* nothing to differentiate */
	if (n_in > 8)
		return err_set(-EINVAL, "nn: node with %d inputs", n_in);
	if (g->n_nodes == g->cap_nodes) {
		size_t cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
		struct node *a = realloc(g->nodes, cap * sizeof(*a));

		if (!a)
			return err_set(-ENOMEM, "out of memory");
		g->nodes = a;
		g->cap_nodes = cap;
	}
	nd = &g->nodes[g->n_nodes++];
	memset(nd, 0, sizeof(*nd));
	nd->ops = ops;
	for (int i = 0; i < n_in; i++)
		nd->in[i] = in[i];
	nd->n_in = n_in;
	nd->out = out;
	nd->layer = layer;
	if (save)
		nd->save = *save;
	nd->k = k;
	nd->flags = flags;
	return 0;
}

const struct tensor *nn_value(const struct nn_t *t)
{
	return &t->v;
}

const struct tensor *nn_grad(const struct nn_t *t)
{
	return t->has_grad ? &t->g : NULL;
}

struct nn_t *nn_input(struct nn_graph *g, int n, int c, int h, int w)
{
	struct nn_t *t = new_t(g, n, c, h, w, 0);
	int error;

	if (!t)
		return NULL;
	if ((error = vk_alloc(&t->stage, g->stage, tensor_numel(&t->v) * 4)) < 0 ||
	    (error = vk_cmd_copy(g->cmd, t->v.mem, 0, t->stage, 0, tensor_numel(&t->v) * 4)) < 0)
		return fail(g, error);
	return t;
}

int nn_input_set(struct nn_graph *g, struct nn_t *t, const float *data)
{
	(void)g;
	if (!t->stage.blk)
		return err_set(-EINVAL, "nn_input_set: not an input tensor");
	memcpy(vk_mem_map(t->stage), data, tensor_numel(&t->v) * 4);
	return 0;
}

int nn_read(struct nn_graph *g, const struct nn_t *t, float *out)
{
	return tensor_download(g->nn->vk, out, &t->v);
}

struct nn_t *nn_alloc(struct nn_graph *g, int n, int c, int h, int w)
{
	return new_t(g, n, c, h, w, 1);
}

/* ---------------------------------------------------------------- layers */

static int conv_backward(struct nn_graph *g, const struct node *nd)
{
	const struct nn_conv *l = nd->layer;
	const struct nn *nn = g->nn;
	const struct conv_desc cd = { l->k, l->k, l->stride, l->pad };
	struct nn_t *x = nd->in[0], *y = nd->out;
	struct tensor w = pview(nn, l->w, &nn->P), dw = pview(nn, l->w, &nn->G);
	int error;

	if (x->has_grad && (error = op_conv_bwd_data(&g->o, &x->g, &y->g, &w, &cd, PF_ACC)) < 0)
		return error;
	if ((error = op_conv_bwd_weight(&g->o, &dw, &y->g, &x->v, &cd, PF_ACC)) < 0)
		return error;
	if (l->bias) {
		struct tensor db = pview(nn, l->b, &nn->G);

		return op_chan_sum(&g->o, &db, &y->g, 1.0f, PF_ACC);
	}
	return 0;
}

static const struct node_ops conv_ops = { "conv", conv_backward };

struct nn_t *nn_conv(struct nn_graph *g, const struct nn_conv *l, struct nn_t *x)
{
	const struct nn *nn = g->nn;
	const struct conv_desc cd = { l->k, l->k, l->stride, l->pad };
	struct tensor w, b;
	struct nn_t *y;
	int error;

	if (!x)
		return NULL;
	if (x->v.c != l->ci)
		return fail(g, err_set(-EINVAL, "nn_conv: input has %d channels, layer wants %d",
				       x->v.c, l->ci));
	y = new_t(g, x->v.n, l->co, conv_out(x->v.h, l->k, l->stride, l->pad),
		  conv_out(x->v.w, l->k, l->stride, l->pad), 1);
	if (!y)
		return NULL;
	w = pview(nn, l->w, &nn->P);
	if (l->bias)
		b = pview(nn, l->b, &nn->P);
	if ((error = op_conv_fwd(&g->o, &y->v, &x->v, &w, l->bias ? &b : NULL, &cd,
				 l->bias ? PF_BIAS : 0)) < 0 ||
	    (error = push_node(g, &conv_ops, &x, 1, y, l, NULL, 0, 0)) < 0)
		return fail(g, error);
	return y;
}

static int bn_backward(struct nn_graph *g, const struct node *nd)
{
	const struct nn_bn *l = nd->layer;
	const struct nn *nn = g->nn;
	struct nn_t *x = nd->in[0], *y = nd->out;
	struct tensor ga = pview(nn, l->g, &nn->P), be = pview(nn, l->b, &nn->P);
	struct tensor dga = pview(nn, l->g, &nn->G), dbe = pview(nn, l->b, &nn->G);
	struct tensor dx = x->g;
	int error;

	if (!x->has_grad && (error = tensor_alloc(&dx, g->acts, x->v.n, x->v.c, x->v.h, x->v.w)) < 0)
		return error;
	return op_bn_bwd(&g->o, &dx, &dga, &dbe, &x->v, &y->g, &nd->save, &ga, &be, l->eps,
			 nd->flags);
}

static const struct node_ops bn_ops = { "bn", bn_backward };

/* BN (+ SiLU) of x into y (allocated by the caller). */
static struct nn_t *bn_into(struct nn_graph *g, const struct nn_bn *l, struct nn_t *x,
			    struct nn_t *y, int silu)
{
	const struct nn *nn = g->nn;
	struct tensor ga = pview(nn, l->g, &nn->P), be = pview(nn, l->b, &nn->P);
	struct tensor run = tensor_vec(&nn->B, nn->params[l->rm].off, 2 * (uint64_t)l->c);
	struct tensor save;
	unsigned fl = silu ? PF_SILU : 0;
	int error;

	if (x->v.c != l->c)
		return fail(g, err_set(-EINVAL, "nn_bn: input has %d channels, layer wants %d",
				       x->v.c, l->c));
	if (g->mode == NN_EVAL) {
		if ((error = op_bn_apply(&g->o, &y->v, &x->v, &run, &ga, &be, l->eps, fl | PF_EVAL)) < 0)
			return fail(g, error);
		return y;
	}
	if ((error = tensor_alloc(&save, g->acts, 1, 2 * l->c, 1, 1)) < 0 ||
	    (error = op_bn_stats(&g->o, &save, &run, &x->v, l->eps, l->momentum)) < 0 ||
	    (error = op_bn_apply(&g->o, &y->v, &x->v, &save, &ga, &be, l->eps, fl)) < 0 ||
	    (error = push_node(g, &bn_ops, &x, 1, y, l, &save, 0, fl)) < 0)
		return fail(g, error);
	return y;
}

struct nn_t *nn_bn(struct nn_graph *g, const struct nn_bn *l, struct nn_t *x, int silu)
{
	struct nn_t *y;

	if (!x || !(y = new_t(g, x->v.n, x->v.c, x->v.h, x->v.w, 1)))
		return NULL;
	return bn_into(g, l, x, y, silu);
}

struct nn_t *nn_conv_bn_silu(struct nn_graph *g, const struct nn_conv *c, const struct nn_bn *b,
			     struct nn_t *x, struct nn_t *into)
{
	const struct nn *nn = g->nn;
	int oh, ow;

	if (!x)
		return NULL;
	oh = conv_out(x->v.h, c->k, c->stride, c->pad);
	ow = conv_out(x->v.w, c->k, c->stride, c->pad);
	if (into && (into->v.n != x->v.n || into->v.c != c->co || into->v.h != oh || into->v.w != ow))
		return fail(g, err_set(-EINVAL, "nn_conv_bn_silu: `into` has the wrong shape"));
	if (g->mode == NN_EVAL) {
		/* BN folded into the conv epilogue: one dispatch. */
		const struct conv_desc cd = { c->k, c->k, c->stride, c->pad };
		struct tensor w = pview(nn, c->w, &nn->P), ss;
		struct tensor ga = pview(nn, b->g, &nn->P), be = pview(nn, b->b, &nn->P);
		struct tensor run = tensor_vec(&nn->B, nn->params[b->rm].off, 2 * (uint64_t)b->c);
		struct nn_t *y = into ? into : new_t(g, x->v.n, c->co, oh, ow, 0);
		int error;

		if (!y)
			return NULL;
		if (c->bias)
			return fail(g, err_set(-EINVAL, "nn_conv_bn_silu: conv before BN has no bias"));
		if (x->v.c != c->ci)
			return fail(g, err_set(-EINVAL, "nn_conv_bn_silu: input has %d channels, "
					       "layer wants %d", x->v.c, c->ci));
		if ((error = tensor_alloc(&ss, g->acts, 1, 2 * b->c, 1, 1)) < 0 ||
		    (error = op_bn_fold(&g->o, &ss, &run, &ga, &be, b->eps)) < 0 ||
		    (error = op_conv_fwd(&g->o, &y->v, &x->v, &w, &ss, &cd, PF_AFFINE | PF_SILU)) < 0)
			return fail(g, error);
		return y;
	}
	struct nn_t *z = nn_conv(g, c, x);

	if (!z)
		return NULL;
	if (into)
		return bn_into(g, b, z, into, 1);
	return nn_bn(g, b, z, 1);
}

static int silu_backward(struct nn_graph *g, const struct node *nd)
{
	if (!nd->in[0]->has_grad)
		return 0;
	return op_silu_bwd(&g->o, &nd->in[0]->g, &nd->in[0]->v, &nd->out->g);
}

static const struct node_ops silu_ops = { "silu", silu_backward };

struct nn_t *nn_silu(struct nn_graph *g, struct nn_t *x)
{
	struct nn_t *y;
	int error;

	if (!x || !(y = new_t(g, x->v.n, x->v.c, x->v.h, x->v.w, 1)))
		return NULL;
	if ((error = op_silu(&g->o, &y->v, &x->v, 0)) < 0 ||
	    (error = push_node(g, &silu_ops, &x, 1, y, NULL, NULL, 0, 0)) < 0)
		return fail(g, error);
	return y;
}

/* add and concat: each input's gradient += its part of the output gradient */
static int pass_back(struct nn_graph *g, const struct node *nd)
{
	int c0 = 0, error;

	for (int i = 0; i < nd->n_in; i++) {
		struct nn_t *x = nd->in[i];
		struct tensor dy = nd->k ? tensor_channels(&nd->out->g, c0, x->v.c) : nd->out->g;

		c0 += x->v.c;
		if (x->has_grad && (error = op_copy(&g->o, &x->g, &dy, 1.0f, PF_ACC)) < 0)
			return error;
	}
	return 0;
}

static const struct node_ops add_ops = { "add", pass_back };
static const struct node_ops concat_ops = { "concat", pass_back };

struct nn_t *nn_add(struct nn_graph *g, struct nn_t *a, struct nn_t *b)
{
	struct nn_t *in[2] = { a, b }, *y;
	int error;

	if (!a || !b)
		return NULL;
	if (a->v.n != b->v.n || a->v.c != b->v.c || a->v.h != b->v.h || a->v.w != b->v.w)
		return fail(g, err_set(-EINVAL, "nn_add: shapes differ"));
	if (!(y = new_t(g, a->v.n, a->v.c, a->v.h, a->v.w, 1)))
		return NULL;
	if ((error = op_add(&g->o, &y->v, &a->v, &b->v, 1.0f, 1.0f, 0)) < 0 ||
	    (error = push_node(g, &add_ops, in, 2, y, NULL, NULL, 0, 0)) < 0)
		return fail(g, error);
	return y;
}

struct nn_t *nn_concat(struct nn_graph *g, struct nn_t *const *xs, int n)
{
	struct nn_t *y;
	int c = 0, error;

	if (n <= 0 || n > 8)
		return fail(g, err_set(-EINVAL, "nn_concat: %d inputs (1..8)", n));
	for (int i = 0; i < n; i++) {
		if (!xs[i])
			return NULL;
		if (xs[i]->v.n != xs[0]->v.n || xs[i]->v.h != xs[0]->v.h || xs[i]->v.w != xs[0]->v.w)
			return fail(g, err_set(-EINVAL, "nn_concat: input %d differs in n, h or w", i));
		c += xs[i]->v.c;
	}
	if (!(y = new_t(g, xs[0]->v.n, c, xs[0]->v.h, xs[0]->v.w, 1)))
		return NULL;
	c = 0;
	for (int i = 0; i < n; i++) {
		struct tensor v = tensor_channels(&y->v, c, xs[i]->v.c);

		c += xs[i]->v.c;
		if ((error = op_copy(&g->o, &v, &xs[i]->v, 1.0f, 0)) < 0)
			return fail(g, error);
	}
	if ((error = push_node(g, &concat_ops, xs, n, y, NULL, NULL, 1, 0)) < 0)
		return fail(g, error);
	return y;
}

struct nn_t *nn_split(struct nn_graph *g, struct nn_t *x, int c0, int c)
{
	struct nn_t *v;

	if (!x)
		return NULL;
	if (c0 < 0 || c <= 0 || c0 + c > x->v.c)
		return fail(g, err_set(-EINVAL, "nn_split: channels %d..%d of %d", c0, c0 + c, x->v.c));
	if (!(v = keep_t(g, calloc(1, sizeof(struct nn_t)))))
		return NULL;
	v->v = tensor_channels(&x->v, c0, c);
	if (x->has_grad) {
		v->g = tensor_channels(&x->g, c0, c);
		v->has_grad = 1;
	}
	return v;
}

static int maxpool_backward(struct nn_graph *g, const struct node *nd)
{
	if (!nd->in[0]->has_grad)
		return 0;
	return op_maxpool_bwd(&g->o, &nd->in[0]->g, &nd->out->g, &nd->save, nd->k, 1, nd->k / 2,
			      PF_ACC);
}

static const struct node_ops maxpool_ops = { "maxpool", maxpool_backward };

struct nn_t *nn_maxpool(struct nn_graph *g, struct nn_t *x, int k)
{
	struct nn_t *y;
	struct tensor idx;
	int error;

	if (!x || !(y = new_t(g, x->v.n, x->v.c, x->v.h, x->v.w, 1)))
		return NULL;
	if ((error = tensor_alloc(&idx, g->acts, x->v.n, x->v.c, x->v.h, x->v.w)) < 0 ||
	    (error = op_maxpool(&g->o, &y->v, &idx, &x->v, k, 1, k / 2)) < 0 ||
	    (error = push_node(g, &maxpool_ops, &x, 1, y, NULL, &idx, k, 0)) < 0)
		return fail(g, error);
	return y;
}

static int upsample_backward(struct nn_graph *g, const struct node *nd)
{
	if (!nd->in[0]->has_grad)
		return 0;
	return op_upsample_bwd(&g->o, &nd->in[0]->g, &nd->out->g, nd->k, PF_ACC);
}

static const struct node_ops upsample_ops = { "upsample", upsample_backward };

struct nn_t *nn_upsample(struct nn_graph *g, struct nn_t *x, int f)
{
	struct nn_t *y;
	int error;

	if (!x || !(y = new_t(g, x->v.n, x->v.c, x->v.h * f, x->v.w * f, 1)))
		return NULL;
	if ((error = op_upsample(&g->o, &y->v, &x->v, f, 0)) < 0 ||
	    (error = push_node(g, &upsample_ops, &x, 1, y, NULL, NULL, f, 0)) < 0)
		return fail(g, error);
	return y;
}

static int mean_backward(struct nn_graph *g, const struct node *nd)
{
	if (!nd->in[0]->has_grad)
		return 0;
	return op_pool_mean_bwd(&g->o, &nd->in[0]->g, &nd->out->g);
}

static const struct node_ops mean_ops = { "mean_hw", mean_backward };

struct nn_t *nn_mean_hw(struct nn_graph *g, struct nn_t *x)
{
	struct nn_t *y;
	int error;

	if (!x || !(y = new_t(g, x->v.n, x->v.c, 1, 1, 1)))
		return NULL;
	if ((error = op_pool_mean(&g->o, &y->v, &x->v, 0)) < 0 ||
	    (error = push_node(g, &mean_ops, &x, 1, y, NULL, NULL, 0, 0)) < 0)
		return fail(g, error);
	return y;
}

static int mse_backward(struct nn_graph *g, const struct node *nd)
{
	if (!nd->in[0]->has_grad)
		return 0;
	return op_mse_bwd(&g->o, &nd->in[0]->g, &nd->in[0]->v, &nd->in[1]->v, 1.0f);
}

static const struct node_ops mse_ops = { "mse", mse_backward };

struct nn_t *nn_mse(struct nn_graph *g, struct nn_t *pred, struct nn_t *target)
{
	struct nn_t *in[2] = { pred, target }, *y;
	int error;

	if (!pred || !target || !(y = new_t(g, 1, 1, 1, 1, 0)))
		return NULL;
	if ((error = op_mse(&g->o, &y->v, &pred->v, &target->v)) < 0 ||
	    (error = push_node(g, &mse_ops, in, 2, y, NULL, NULL, 0, 0)) < 0)
		return fail(g, error);
	return y;
}

/* ---------------------------------------------------------------- backward, optimizer */

int nn_backward(struct nn_graph *g, struct nn_t *loss)
{
	size_t root = g->n_nodes;
	int error;

	if (g->error < 0)
		return g->error;
	if (g->mode != NN_TRAIN)
		return g->error = err_set(-EINVAL, "nn_backward on an eval graph");
	while (root > 0 && g->nodes[root - 1].out != loss)
		root--;
	if (!loss || root == 0 || g->nodes[root - 1].ops != &mse_ops)
		return g->error = err_set(-EINVAL, "nn_backward: the root must be a loss layer");
	if ((error = vk_cmd_fill_pool(g->cmd, g->grads, 0)) < 0)
		return g->error = error;
	for (size_t i = root; i-- > 0;) {
		const struct node *nd = &g->nodes[i];

		if ((error = nd->ops->backward(g, nd)) < 0) {
			err_set(error, "backward of %s: %s", nd->ops->name, err_last());
			return g->error = error;
		}
	}
	return 0;
}

int nn_optimize(struct nn_graph *g, const struct nn_opt *opt)
{
	struct nn *nn = g->nn;
	int error;

	if (g->error < 0)
		return g->error;
	if (g->mode != NN_TRAIN || nn->n_train == 0)
		return g->error = err_set(-EINVAL, "nn_optimize: nothing to train");
	g->opt = *opt;
	if ((error = tensor_alloc(&g->hyper, g->stage, 1, 16, 1, 1)) < 0)
		return g->error = error;
	if (opt->kind == NN_SGD)
		error = op_sgd(&g->o, &nn->P, &nn->G, &nn->M, &g->hyper, nn->n_decay, PF_ZERO_GRAD);
	else
		error = op_adamw(&g->o, &nn->P, &nn->G, &nn->M, &nn->V, &g->hyper, nn->n_decay,
				 PF_ZERO_GRAD);
	if (error < 0)
		return g->error = error;
	g->has_opt = 1;
	return 0;
}
