/*
 * CPU reference of every op, forward and backward, in plain C and double
 * precision, for the tests: GPU results are compared with these, and the
 * backward references (and GPU backward passes) with central finite
 * differences of the forward references.  Written for clarity, not speed.
 *
 * Tensors are NCHW arrays.  Backward functions ADD into their outputs, as
 * the GPU ops do.
 */
#ifndef DSFS_TRAIN_REF_H
#define DSFS_TRAIN_REF_H

#include <stdint.h>

struct ref_conv {
	int n, ci, h, w, co, kh, kw, stride, pad;
};

static inline int ref_out(int in, int k, int stride, int pad)
{
	return (in + 2 * pad - k) / stride + 1;
}

/* y = conv(x, w) + bias (bias may be NULL). */
void ref_conv_fwd(double *y, const double *x, const double *w, const double *bias,
		  const struct ref_conv *c);
void ref_conv_bwd_data(double *dx, const double *dy, const double *w, const struct ref_conv *c);
void ref_conv_bwd_weight(double *dw, const double *dy, const double *x, const struct ref_conv *c);
/* out[ch] += sum over n, pixels of x (bias gradient). */
void ref_chan_sum(double *out, const double *x, int n, int c, int hw);

/*
 * Batch norm + optional SiLU.  Training (rmean == NULL): batch statistics,
 * biased variance; mean/invstd written if non-NULL.  Eval: rmean/rvar.
 */
void ref_bn_fwd(double *y, double *mean, double *invstd, const double *x, const double *gamma,
		const double *beta, const double *rmean, const double *rvar, int n, int c, int hw,
		double eps, int silu);
void ref_bn_bwd(double *dx, double *dgamma, double *dbeta, const double *x, const double *dy,
		const double *gamma, const double *beta, const double *rmean, const double *rvar,
		int n, int c, int hw, double eps, int silu);
/* running = (1-m) running + m (batch mean, unbiased batch var). */
void ref_bn_running(double *rmean, double *rvar, const double *x, int n, int c, int hw,
		    double momentum);

void ref_silu(double *y, const double *x, int64_t len);
void ref_silu_bwd(double *dx, const double *x, const double *dy, int64_t len);

/* idx: position iy*w+ix of the first maximum (may be NULL). */
void ref_maxpool(double *y, int *idx, const double *x, int n, int c, int h, int w, int k,
		 int stride, int pad);
void ref_maxpool_bwd(double *dx, const double *dy, const double *x, int n, int c, int h, int w,
		     int k, int stride, int pad);
void ref_upsample(double *y, const double *x, int n, int c, int h, int w, int f);
void ref_upsample_bwd(double *dx, const double *dy, int n, int c, int h, int w, int f);
void ref_pool_mean(double *y, const double *x, int n, int c, int hw);
void ref_pool_mean_bwd(double *dx, const double *dy, int n, int c, int hw);
double ref_sum(const double *x, int64_t len);
double ref_mse(const double *pred, const double *target, int64_t len);
void ref_mse_bwd(double *dpred, const double *pred, const double *target, int64_t len, double alpha);

/* Optimizer steps (float, as stored on the GPU); hyper as in struct opt_hyper. */
void ref_sgd(float *p, const float *g, float *m, int64_t len, int64_t n_decay, float lr,
	     float momentum, float wd, int nesterov);
void ref_adamw(float *p, const float *g, float *m, float *v, int64_t len, int64_t n_decay,
	       float lr, float beta1, float beta2, float eps, float wd, int t);

#endif
