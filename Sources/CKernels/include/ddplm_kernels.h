#ifndef DDPLM_KERNELS_H
#define DDPLM_KERNELS_H
/* The elementwise hot spots of a training step, in C with clang vector extensions and run-time dispatch
   (target_clones: AVX-512, AVX2, baseline). Swift's generic SIMD types lower poorly on x86 (lane loops,
   SSE only); these run the 80M exps per step at full vector width. Each has a plain Swift twin in the
   tests. */

/* Fused softmax-cross-entropy for one row of logits (without bias):
   on return row = scale * (softmax(row + bias) - onehot(target)); dbias (if non-NULL) += that row.
   Returns -log softmax(row + bias)[target]. */
double ddplm_softmax_xent_row(float *row, long v, const float *bias, long target, float scale, float *dbias);

/* Loss only: returns logsumexp(row + bias) - (row + bias)[target]; row becomes row + bias. */
double ddplm_xent_row(float *row, long v, const float *bias, long target);

void ddplm_vexp(const float *x, float *y, long n);
void ddplm_vsigmoid(const float *x, float *y, long n);
void ddplm_vtanh(const float *x, float *y, long n);
#endif
