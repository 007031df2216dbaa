#ifndef DDPLM_KERNELS_H
#define DDPLM_KERNELS_H
/* The elementwise hot spots of a training step, in C with clang vector extensions and run-time dispatch
   (target_clones: AVX-512, AVX2 with FMA, AVX2, baseline). Swift's generic SIMD types lower poorly on
   x86 (lane loops, SSE only); these run the 80M exps per step at full vector width. Each has a plain
   Swift twin in the tests. */

/* Fused softmax-cross-entropy for one row of logits (without bias):
   on return row = scale * (softmax(row + bias) - onehot(target)); dbias (if non-NULL) += that row.
   Returns -log softmax(row + bias)[target]. */
double ddplm_softmax_xent_row(float *row, long v, const float *bias, long target, float scale, float *dbias);

/* Loss only: returns logsumexp(row + bias) - (row + bias)[target]; row becomes row + bias. */
double ddplm_xent_row(float *row, long v, const float *bias, long target);

/* The vocab-parallel decoder's two halves of the row above, for a rank's slice of the vocabulary:
   row += bias, *max = its maximum, returns sum(exp(row - *max)); then, once the whole row's lse is known,
   row = scale * exp(row - lse) and dbias (if non-NULL) += row. */
double ddplm_bias_max_sumexp_row(float *row, long v, const float *bias, float *max);
void ddplm_softmax_grad_row(float *row, long v, float lse, float scale, float *dbias);

/* The exp approximation the softmax and the gates use, as a loop of its own so that the tests can
   check it against libm (KernelTests). */
void ddplm_vexp(const float *x, float *y, long n);

/* bfloat16, the gradients' optional wire format: the top 16 bits of an IEEE float (8 exponent bits, 7
   stored mantissa bits). To bf16 rounds to nearest, ties to even (finite values past the largest bf16
   become ±Inf; NaN stays NaN); back to float is exact. ddplm_add_bf16: y[i] += float(x[i]). */
void ddplm_f32_to_bf16(const float *x, unsigned short *y, long n);
void ddplm_bf16_to_f32(const unsigned short *x, float *y, long n);
void ddplm_add_bf16(float *y, const unsigned short *x, long n);
void ddplm_vsigmoid(const float *x, float *y, long n);
void ddplm_vtanh(const float *x, float *y, long n);
/* Cores this process may run on (its affinity mask; a launcher that binds ranks narrows it), and the
   host's online cores. (Not kernels, but C: glibc's CPU_COUNT is a macro Swift cannot import.) */
int ddplm_affinity_cores(void);
int ddplm_online_cores(void);
/* Columns of the terminal on fd (0 when fd is not a terminal). ioctl is variadic: Swift cannot call it. */
int ddplm_terminal_columns(int fd);
/* Flush denormal floats to zero in this thread (and threads it creates later): MXCSR FTZ|DAZ. */
void ddplm_flush_denormals(void);

/* Runs fn(ctx, 0 ..< parts), part 0 on the caller and the others on the pool's threads, and returns when
   all are done (thread_pool.c). A second caller while a job runs gets its parts run inline. */
typedef void (*ddplm_part_fn)(void *ctx, long part);
void ddplm_parallel(long parts, ddplm_part_fn fn, void *ctx);

/* The multi-threaded loops (parallel_loops.c), each split into fixed parts:
   - the packed products and packing on up to `threads` parts of whole panels;
   - Adam on `parts` contiguous 16-aligned slices;
   - rows of logits: part w takes rows·w/parts ..< rows·(w+1)/parts, with its own bias-gradient row
     partial[w·v ..] (the caller zeroes them and adds them in order). ddplm_softmax_xent_rows is the
     decoder's (partial NULL: loss only); the vocab-parallel decoder's two halves take float targets
     (the all-gathered ones) and its vocabulary offset v0, and write per-row (max, Σexp, target logit). */
void ddplm_gemm_packed_parts(long threads, long m, long n, long k, const float *a, long lda, const float *packed,
                             float beta, float *c, long ldc);
void ddplm_pack_b_parts(long threads, int trans, long k, long n, const float *b, long ldb, float *packed);
void ddplm_adam_parts(long parts, float *p, float *grad, float *m, float *v, long n, float gscale,
                      float one_minus_b1, float b2, float one_minus_b2, float step_size, float bc2_sqrt, float eps,
                      int zero_grad);
/* ddplm_sum_ordered in parts of whole blocks of DDPLM_SUMSQ_BLOCK; returns ddplm_sumsq(dst, count), the
   same bits, from `squares` ((count + DDPLM_SUMSQ_BLOCK - 1) / DDPLM_SUMSQ_BLOCK doubles of scratch). */
double ddplm_sum_ordered_parts(long parts, float *dst, const float *const *src, int n, long count, double *squares);
void ddplm_softmax_xent_rows(long parts, long rows, float *logits, long v, const float *bias, const int *targets,
                             float scale, float *partial, double *losses);
void ddplm_vocab_stats_rows(long parts, long rows, float *logits, long v, const float *bias, const float *targets,
                            long v0, float *stats);
void ddplm_vocab_grad_rows(long parts, long rows, float *logits, long v, const float *lse, const float *targets,
                           long v0, float scale, float *partial);
#endif

#ifndef DDPLM_KERNELS_OPT_H
#define DDPLM_KERNELS_OPT_H
/* dst[i] = ((src[0][i] + src[1][i]) + ...) + src[n-1][i], in that order, for i < count; dst may be
   src[n-1] (node-shared gradients: a rank sums its block over the ranks in the ring's order). */
void ddplm_sum_ordered(float *dst, const float *const *src, int n, long count);
/* Sum of squares of n floats: each block of DDPLM_SUMSQ_BLOCK in float lanes, the blocks added in double
   in order. */
#define DDPLM_SUMSQ_BLOCK 4096
double ddplm_sumsq(const float *x, long n);
/* ddplm_sum_ordered, and the sum of squares of each block of DDPLM_SUMSQ_BLOCK floats of the result (from
   dst) into squares[b]: ddplm_sumsq's blocks, summed while each is in cache. */
void ddplm_sum_ordered_squares(float *dst, const float *const *src, int n, long count, double *squares);

/* torch.optim.Adam on n parameters, with the gradient scaled by gscale first (the clip coefficient):
     g = gscale*grad; m += (1-b1)(g - m); v = b2 v + (1-b2) g^2; p -= step_size * m / (sqrt(v)/bc2_sqrt + eps)
   zero_grad: also sets grad to 0 once read (the next step's zeroing, in the pass that reads it anyway). */
void ddplm_adam(float *p, float *grad, float *m, float *v, long n, float gscale, float one_minus_b1,
                float b2, float one_minus_b2, float step_size, float bc2_sqrt, float eps, int zero_grad);
#endif

#include "ddplm_packed_gemm.h"
#include "ddplm_bf16_gemm.h"
