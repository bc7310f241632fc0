/*
 * The layer API: a model (struct nn) owns named parameters and layer
 * objects; a graph (struct nn_graph) records one step of it into one
 * command buffer.  Building a network is calling layer functions on graph
 * tensors; each records its forward dispatches and appends a node to the
 * graph's tape.  nn_backward() walks the tape in reverse and records each
 * node's backward, so no model ever writes a backward pass by hand.
 * nn_optimize() records the optimizer over all parameters at once.
 *
 * A recorded step is submitted again and again with nn_graph_run() (one
 * submit, one fence) while the shapes stay the same: new inputs are written
 * with nn_input_set() into host-visible staging that the step copies from,
 * and the learning rate is read by the optimizer kernel from a small
 * host-written buffer, so neither needs re-recording.
 *
 * Parameters live in four flat vectors (values, gradients, two optimizer
 * moments), parameters with weight decay first, so the optimizer is one
 * dispatch and gradient zeroing is free (the optimizer does it).  Names
 * follow PyTorch state dicts ("model.0.conv.weight", "model.0.bn.running_var")
 * so weights can be written as safetensors and loaded elsewhere.
 *
 * Graph tensors are owned by the graph and valid until the next
 * nn_graph_begin() or nn_graph_free().  Layer functions return NULL on
 * error, and the graph keeps the first error: nn_backward(), nn_optimize(),
 * nn_graph_end() return it, so model code can chain layers without checks.
 */
#ifndef DSFS_TRAIN_NN_H
#define DSFS_TRAIN_NN_H

#include <stddef.h>
#include <stdint.h>

#include "train/ops.h"
#include "train/vk.h"

struct nn;
struct nn_graph;
struct nn_t;
struct nn_conv;
struct nn_bn;

enum nn_mode { NN_TRAIN, NN_EVAL };

/* A new empty model on `vk` (borrowed; must outlive the model). */
int nn_new(struct nn **out, struct vk *vk, uint64_t seed);
void nn_free(struct nn *nn);

/*
 * Layers (before nn_finalize()).  Conv: k x k, stride, padding k/2 (as
 * Ultralytics' autopad), weights "<name>.weight" (Kaiming-uniform), optional
 * "<name>.bias".  BN: "<name>.weight" (1), "<name>.bias" (0), buffers
 * "<name>.running_mean" (0), "<name>.running_var" (1); eps 1e-3, momentum
 * 0.03 (Ultralytics' values).  Layer objects are owned by the model.
 */
int nn_conv_new(struct nn_conv **out, struct nn *nn, const char *name, int ci, int co, int k,
		int stride, int bias);
int nn_bn_new(struct nn_bn **out, struct nn *nn, const char *name, int c);
/* Allocate and initialise all parameters (deterministic for the seed). */
int nn_finalize(struct nn *nn);

struct nn_param_info {
	const char *name;
	int shape[4];        /* unused trailing dims are 1 */
	int ndim;
	uint64_t numel;
	int buffer;          /* 1: not trained (running statistics) */
};
size_t nn_param_count(const struct nn *nn);
const struct nn_param_info *nn_param(const struct nn *nn, size_t i);
/* Synchronous copies of parameter i (numel floats). */
int nn_param_read(struct nn *nn, size_t i, float *out);
int nn_param_write(struct nn *nn, size_t i, const float *in);
/* The accumulated gradient of trainable parameter i (zeroed by each optimizer step). */
int nn_param_grad_read(struct nn *nn, size_t i, float *out);
/* Number of trainable scalars. */
uint64_t nn_n_trainable(const struct nn *nn);

struct nn_opt {
	enum { NN_SGD, NN_ADAMW } kind;
	float lr;
	float momentum;      /* SGD */
	int nesterov;        /* SGD */
	float weight_decay;  /* decoupled; not applied to biases and BN */
	float beta1, beta2, eps; /* AdamW */
};

int nn_graph_new(struct nn_graph **out, struct nn *nn, enum nn_mode mode);
void nn_graph_free(struct nn_graph *g);
/* Start (re)recording: drops the previous tensors and tape. */
int nn_graph_begin(struct nn_graph *g);
/* Finish recording; returns the first error of the recording. */
int nn_graph_end(struct nn_graph *g);
/* Submit the recorded step and wait (advances the optimizer step count). */
int nn_graph_run(struct nn_graph *g);
/* Change the learning rate for the next runs (no re-recording). */
void nn_graph_set_lr(struct nn_graph *g, float lr);
/* The command buffer (for profiling counts). */
struct vk_cmd *nn_graph_cmd(struct nn_graph *g);

/* A tensor filled from the host before every run (nn_input_set); no gradient. */
struct nn_t *nn_input(struct nn_graph *g, int n, int c, int h, int w);
int nn_input_set(struct nn_graph *g, struct nn_t *t, const float *data);
/* Copy a tensor's current value (after a run) to the host. */
int nn_read(struct nn_graph *g, const struct nn_t *t, float *out);
const struct tensor *nn_value(const struct nn_t *t);
const struct tensor *nn_grad(const struct nn_t *t); /* NULL if it has none */

struct nn_t *nn_conv(struct nn_graph *g, const struct nn_conv *l, struct nn_t *x);
struct nn_t *nn_bn(struct nn_graph *g, const struct nn_bn *l, struct nn_t *x, int silu);
/*
 * conv -> BN -> SiLU, the YOLO "Conv" block.  Training: conv, then one
 * statistics pass and one fused BN+SiLU pass.  Eval: BN folded into the
 * conv epilogue (one dispatch).  `into`: NULL, or a tensor (typically an
 * nn_split() view of an nn_alloc() tensor) the result is written into, so a
 * later concat costs nothing.
 */
struct nn_t *nn_conv_bn_silu(struct nn_graph *g, const struct nn_conv *c, const struct nn_bn *b,
			     struct nn_t *x, struct nn_t *into);
/* An uninitialised tensor (with gradient) to write into through views. */
struct nn_t *nn_alloc(struct nn_graph *g, int n, int c, int h, int w);
struct nn_t *nn_silu(struct nn_graph *g, struct nn_t *x);
struct nn_t *nn_add(struct nn_graph *g, struct nn_t *a, struct nn_t *b);
/* Channel concat (copies; see nn_conv_bn_silu's `into` for the free kind). */
struct nn_t *nn_concat(struct nn_graph *g, struct nn_t *const *xs, int n);
/* Channels [c0, c0 + c) of x: a view, no copy; its gradient is a view too. */
struct nn_t *nn_split(struct nn_graph *g, struct nn_t *x, int c0, int c);
/* k x k max pool, stride 1, padding k/2 (SPPF). */
struct nn_t *nn_maxpool(struct nn_graph *g, struct nn_t *x, int k);
struct nn_t *nn_upsample(struct nn_graph *g, struct nn_t *x, int f);
/* Global average pool: n x c x 1 x 1. */
struct nn_t *nn_mean_hw(struct nn_graph *g, struct nn_t *x);
/* Mean squared error (a 1-element loss; must be the root of nn_backward()). */
struct nn_t *nn_mse(struct nn_graph *g, struct nn_t *pred, struct nn_t *target);

/* Record the backward pass from `loss` (gradients of activations zeroed first). */
int nn_backward(struct nn_graph *g, struct nn_t *loss);
/* Record one optimizer step over every parameter (and zero their gradients). */
int nn_optimize(struct nn_graph *g, const struct nn_opt *opt);

#endif
