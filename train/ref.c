/*
 * CPU reference ops (see ref.h): straightforward loops in double precision,
 * the definition the GPU kernels are tested against.
 */
#include "train/ref.h"

#include <math.h>
#include <string.h>

static void conv_dims(const struct ref_conv *c, int *oh, int *ow)
{
	*oh = ref_out(c->h, c->kh, c->stride, c->pad);
	*ow = ref_out(c->w, c->kw, c->stride, c->pad);
}

#define XI(nn, ch, y, x_) ((((int64_t)(nn) * c->ci + (ch)) * c->h + (y)) * c->w + (x_))
#define YI(nn, ch, y, x_) ((((int64_t)(nn) * c->co + (ch)) * oh + (y)) * ow + (x_))
#define WI(o, i, y, x_) ((((int64_t)(o) * c->ci + (i)) * c->kh + (y)) * c->kw + (x_))

void ref_conv_fwd(double *y, const double *x, const double *w, const double *bias,
		  const struct ref_conv *c)
{
	int oh, ow;

	conv_dims(c, &oh, &ow);
	for (int n = 0; n < c->n; n++)
		for (int o = 0; o < c->co; o++)
			for (int oy = 0; oy < oh; oy++)
				for (int ox = 0; ox < ow; ox++) {
					double s = bias ? bias[o] : 0.0;

					for (int i = 0; i < c->ci; i++)
						for (int ky = 0; ky < c->kh; ky++) {
							int iy = oy * c->stride - c->pad + ky;

							if (iy < 0 || iy >= c->h)
								continue;
							for (int kx = 0; kx < c->kw; kx++) {
								int ix = ox * c->stride - c->pad + kx;

								if (ix < 0 || ix >= c->w)
									continue;
								s += w[WI(o, i, ky, kx)] * x[XI(n, i, iy, ix)];
							}
						}
					y[YI(n, o, oy, ox)] = s;
				}
}

void ref_conv_bwd_data(double *dx, const double *dy, const double *w, const struct ref_conv *c)
{
	int oh, ow;

	conv_dims(c, &oh, &ow);
	for (int n = 0; n < c->n; n++)
		for (int o = 0; o < c->co; o++)
			for (int oy = 0; oy < oh; oy++)
				for (int ox = 0; ox < ow; ox++) {
					double g = dy[YI(n, o, oy, ox)];

					for (int i = 0; i < c->ci; i++)
						for (int ky = 0; ky < c->kh; ky++) {
							int iy = oy * c->stride - c->pad + ky;

							if (iy < 0 || iy >= c->h)
								continue;
							for (int kx = 0; kx < c->kw; kx++) {
								int ix = ox * c->stride - c->pad + kx;

								if (ix >= 0 && ix < c->w)
									dx[XI(n, i, iy, ix)] += g * w[WI(o, i, ky, kx)];
							}
						}
				}
}

void ref_conv_bwd_weight(double *dw, const double *dy, const double *x, const struct ref_conv *c)
{
	int oh, ow;

	conv_dims(c, &oh, &ow);
	for (int n = 0; n < c->n; n++)
		for (int o = 0; o < c->co; o++)
			for (int oy = 0; oy < oh; oy++)
				for (int ox = 0; ox < ow; ox++) {
					double g = dy[YI(n, o, oy, ox)];

					for (int i = 0; i < c->ci; i++)
						for (int ky = 0; ky < c->kh; ky++) {
							int iy = oy * c->stride - c->pad + ky;

							if (iy < 0 || iy >= c->h)
								continue;
							for (int kx = 0; kx < c->kw; kx++) {
								int ix = ox * c->stride - c->pad + kx;

								if (ix >= 0 && ix < c->w)
									dw[WI(o, i, ky, kx)] += g * x[XI(n, i, iy, ix)];
							}
						}
				}
}

void ref_chan_sum(double *out, const double *x, int n, int c, int hw)
{
	for (int i = 0; i < n; i++)
		for (int ch = 0; ch < c; ch++)
			for (int p = 0; p < hw; p++)
				out[ch] += x[((int64_t)i * c + ch) * hw + p];
}

static double sigm(double z)
{
	return 1.0 / (1.0 + exp(-z));
}

static void bn_stats(const double *x, int n, int c, int hw, int ch, double *mean, double *var)
{
	double s = 0, s2 = 0, m;
	int64_t cnt = (int64_t)n * hw;

	for (int i = 0; i < n; i++)
		for (int p = 0; p < hw; p++)
			s += x[((int64_t)i * c + ch) * hw + p];
	m = s / cnt;
	for (int i = 0; i < n; i++)
		for (int p = 0; p < hw; p++) {
			double d = x[((int64_t)i * c + ch) * hw + p] - m;

			s2 += d * d;
		}
	*mean = m;
	*var = s2 / cnt;
}

void ref_bn_fwd(double *y, double *mean, double *invstd, const double *x, const double *gamma,
		const double *beta, const double *rmean, const double *rvar, int n, int c, int hw,
		double eps, int silu)
{
	for (int ch = 0; ch < c; ch++) {
		double m, v, inv;

		if (rmean) {
			m = rmean[ch];
			v = rvar[ch];
		} else {
			bn_stats(x, n, c, hw, ch, &m, &v);
		}
		inv = 1.0 / sqrt(v + eps);
		if (mean)
			mean[ch] = m;
		if (invstd)
			invstd[ch] = inv;
		for (int i = 0; i < n; i++)
			for (int p = 0; p < hw; p++) {
				int64_t k = ((int64_t)i * c + ch) * hw + p;
				double z = gamma[ch] * (x[k] - m) * inv + beta[ch];

				y[k] = silu ? z * sigm(z) : z;
			}
	}
}

void ref_bn_bwd(double *dx, double *dgamma, double *dbeta, const double *x, const double *dy,
		const double *gamma, const double *beta, const double *rmean, const double *rvar,
		int n, int c, int hw, double eps, int silu)
{
	const int64_t cnt = (int64_t)n * hw;

	for (int ch = 0; ch < c; ch++) {
		double m, v, inv, sg = 0, sgx = 0;

		if (rmean) {
			m = rmean[ch];
			v = rvar[ch];
		} else {
			bn_stats(x, n, c, hw, ch, &m, &v);
		}
		inv = 1.0 / sqrt(v + eps);
		for (int pass = 0; pass < 2; pass++)
			for (int i = 0; i < n; i++)
				for (int p = 0; p < hw; p++) {
					int64_t k = ((int64_t)i * c + ch) * hw + p;
					double xh = (x[k] - m) * inv, g = dy[k];

					if (silu) {
						double z = gamma[ch] * xh + beta[ch], s = sigm(z);

						g *= s * (1 + z * (1 - s));
					}
					if (pass == 0) {
						sg += g;
						sgx += g * xh;
					} else if (rmean) {
						dx[k] += g * gamma[ch] * inv;
					} else {
						dx[k] += gamma[ch] * inv * (g - sg / cnt - xh * sgx / cnt);
					}
				}
		if (dgamma)
			dgamma[ch] += sgx;
		if (dbeta)
			dbeta[ch] += sg;
	}
}

void ref_bn_running(double *rmean, double *rvar, const double *x, int n, int c, int hw,
		    double momentum)
{
	const int64_t cnt = (int64_t)n * hw;

	for (int ch = 0; ch < c; ch++) {
		double m, v;

		bn_stats(x, n, c, hw, ch, &m, &v);
		rmean[ch] = (1 - momentum) * rmean[ch] + momentum * m;
		rvar[ch] = (1 - momentum) * rvar[ch] + momentum * (cnt > 1 ? v * cnt / (cnt - 1) : v);
	}
}

void ref_silu(double *y, const double *x, int64_t len)
{
	for (int64_t i = 0; i < len; i++)
		y[i] = x[i] * sigm(x[i]);
}

void ref_silu_bwd(double *dx, const double *x, const double *dy, int64_t len)
{
	for (int64_t i = 0; i < len; i++) {
		double s = sigm(x[i]);

		dx[i] += dy[i] * s * (1 + x[i] * (1 - s));
	}
}

void ref_maxpool(double *y, int *idx, const double *x, int n, int c, int h, int w, int k,
		 int stride, int pad)
{
	int oh = ref_out(h, k, stride, pad), ow = ref_out(w, k, stride, pad);

	for (int64_t pl = 0; pl < (int64_t)n * c; pl++)
		for (int oy = 0; oy < oh; oy++)
			for (int ox = 0; ox < ow; ox++) {
				double best = 0;
				int bi = -1;

				for (int ky = 0; ky < k; ky++)
					for (int kx = 0; kx < k; kx++) {
						int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;

						if (iy < 0 || iy >= h || ix < 0 || ix >= w)
							continue;
						double v = x[pl * h * w + iy * w + ix];

						if (bi < 0 || v > best) {
							best = v;
							bi = iy * w + ix;
						}
					}
				y[pl * oh * ow + oy * ow + ox] = best;
				if (idx)
					idx[pl * oh * ow + oy * ow + ox] = bi;
			}
}

void ref_maxpool_bwd(double *dx, const double *dy, const double *x, int n, int c, int h, int w,
		     int k, int stride, int pad)
{
	int oh = ref_out(h, k, stride, pad), ow = ref_out(w, k, stride, pad);

	for (int64_t pl = 0; pl < (int64_t)n * c; pl++)
		for (int oy = 0; oy < oh; oy++)
			for (int ox = 0; ox < ow; ox++) {
				double best = 0;
				int bi = -1;

				for (int ky = 0; ky < k; ky++)
					for (int kx = 0; kx < k; kx++) {
						int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;

						if (iy < 0 || iy >= h || ix < 0 || ix >= w)
							continue;
						double v = x[pl * h * w + iy * w + ix];

						if (bi < 0 || v > best) {
							best = v;
							bi = iy * w + ix;
						}
					}
				dx[pl * h * w + bi] += dy[pl * oh * ow + oy * ow + ox];
			}
}

void ref_upsample(double *y, const double *x, int n, int c, int h, int w, int f)
{
	for (int64_t pl = 0; pl < (int64_t)n * c; pl++)
		for (int oy = 0; oy < h * f; oy++)
			for (int ox = 0; ox < w * f; ox++)
				y[pl * h * w * f * f + (int64_t)oy * w * f + ox] =
					x[pl * h * w + (oy / f) * w + ox / f];
}

void ref_upsample_bwd(double *dx, const double *dy, int n, int c, int h, int w, int f)
{
	for (int64_t pl = 0; pl < (int64_t)n * c; pl++)
		for (int oy = 0; oy < h * f; oy++)
			for (int ox = 0; ox < w * f; ox++)
				dx[pl * h * w + (oy / f) * w + ox / f] +=
					dy[pl * h * w * f * f + (int64_t)oy * w * f + ox];
}

void ref_pool_mean(double *y, const double *x, int n, int c, int hw)
{
	for (int64_t pl = 0; pl < (int64_t)n * c; pl++) {
		double s = 0;

		for (int p = 0; p < hw; p++)
			s += x[pl * hw + p];
		y[pl] = s / hw;
	}
}

void ref_pool_mean_bwd(double *dx, const double *dy, int n, int c, int hw)
{
	for (int64_t pl = 0; pl < (int64_t)n * c; pl++)
		for (int p = 0; p < hw; p++)
			dx[pl * hw + p] += dy[pl] / hw;
}

double ref_sum(const double *x, int64_t len)
{
	double s = 0;

	for (int64_t i = 0; i < len; i++)
		s += x[i];
	return s;
}

double ref_mse(const double *pred, const double *target, int64_t len)
{
	double s = 0;

	for (int64_t i = 0; i < len; i++)
		s += (pred[i] - target[i]) * (pred[i] - target[i]);
	return s / len;
}

void ref_mse_bwd(double *dpred, const double *pred, const double *target, int64_t len, double alpha)
{
	for (int64_t i = 0; i < len; i++)
		dpred[i] += alpha * 2 * (pred[i] - target[i]) / len;
}

void ref_sgd(float *p, const float *g, float *m, int64_t len, int64_t n_decay, float lr,
	     float momentum, float wd, int nesterov)
{
	for (int64_t i = 0; i < len; i++) {
		float mm = momentum * m[i] + g[i];
		float d = nesterov ? g[i] + momentum * mm : mm;

		m[i] = mm;
		if (i < n_decay)
			d += wd * p[i];
		p[i] -= lr * d;
	}
}

void ref_adamw(float *p, const float *g, float *m, float *v, int64_t len, int64_t n_decay,
	       float lr, float beta1, float beta2, float eps, float wd, int t)
{
	float bc1 = 1 - powf(beta1, (float)t), bc2 = 1 - powf(beta2, (float)t);

	for (int64_t i = 0; i < len; i++) {
		m[i] = beta1 * m[i] + (1 - beta1) * g[i];
		v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
		float d = (m[i] / bc1) / (sqrtf(v[i] / bc2) + eps);

		if (i < n_decay)
			d += wd * p[i];
		p[i] -= lr * d;
	}
}
