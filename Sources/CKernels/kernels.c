#include <math.h>
#include <string.h>
#include "ddplm_kernels.h"

typedef float v16f __attribute__((vector_size(64)));
typedef int v16i __attribute__((vector_size(64)));

/* The clones: AVX-512 (with FMA); x86-64-v3 (AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE: the AVX2 CPUs as
   they ship); AVX2 alone, for a CPU or VM that hides one of v3's other features; the baseline. A plain
   "avx2" clone has no FMA: its polynomials take a multiply and an add per term. */
#define DISPATCH __attribute__((target_clones("avx512f", "arch=x86-64-v3", "avx2", "default")))
#define SPLAT(s) ((v16f){0} + (float)(s))

/* Helpers are macros, not functions: a v16f parameter would change the ABI in the non-AVX-512 clones. */
#define LOAD16(p) ({ v16f _v; memcpy(&_v, (p), 64); _v; })
#define STORE16(p, v) do { v16f _s = (v); memcpy((p), &_s, 64); } while (0)

/* exp(x) to ~2 ulp on [-87, 88] (Cephes expf polynomial); 2^n via the exponent bits. */
#define EXP16(xin) ({                                                             \
    v16f _x = __builtin_elementwise_min(__builtin_elementwise_max((xin), SPLAT(-87.0f)), SPLAT(88.0f)); \
    v16f _t = _x * 1.44269504f + 12582912.0f; /* 1.5*2^23: rounds x/ln2 to an integer */ \
    v16f _n = _t - 12582912.0f;                                                   \
    v16f _r = _x - _n * 0.693359375f;                                             \
    _r = _r - _n * -2.12194440e-4f;                                               \
    v16f _p = SPLAT(1.9875691500e-4f);                                            \
    _p = _p * _r + 1.3981999507e-3f;                                              \
    _p = _p * _r + 8.3334519073e-3f;                                              \
    _p = _p * _r + 4.1665795894e-2f;                                              \
    _p = _p * _r + 1.6666665459e-1f;                                              \
    _p = _p * _r + 5.0000001201e-1f;                                              \
    _p = _p * _r * _r + _r + 1.0f;                                                \
    v16i _bits = ((v16i)_t - 0x4B400000 + 127) << 23;                             \
    _p * (v16f)_bits; })

#define SIGMOID16(x) (1.0f / (1.0f + EXP16(-(x))))
#define TANH16(x) ({ v16f _y = (x); 1.0f - 2.0f / (EXP16(_y + _y) + 1.0f); })

#define HMAX16(v) ({ v16f _h = (v); float _m = _h[0]; for (int _i = 1; _i < 16; _i++) _m = _h[_i] > _m ? _h[_i] : _m; _m; })
#define HSUM16(v) ({ v16f _h = (v); double _s = 0; for (int _i = 0; _i < 16; _i++) _s += _h[_i]; _s; })

/* row += bias in place; returns the row's maximum. */
#define ADD_BIAS_MAX(row, bias, v, vec) ({                                         \
    v16f _mx = SPLAT(-INFINITY);                                                  \
    long _i = 0;                                                                  \
    for (; _i < (vec); _i += 16) {                                                \
        v16f _x = LOAD16((row) + _i) + LOAD16((bias) + _i);                       \
        STORE16((row) + _i, _x);                                                  \
        _mx = __builtin_elementwise_max(_mx, _x);                                 \
    }                                                                             \
    float _m = HMAX16(_mx);                                                       \
    for (; _i < (v); _i++) { (row)[_i] += (bias)[_i]; if ((row)[_i] > _m) _m = (row)[_i]; } \
    _m; })

/* y[0..n) = F(x[0..n) - shift) for a tail of n < 16 elements, through the same vector code. */
#define TAIL_MAP(x, y, n, F, shift) do {                                           \
    v16f _v = SPLAT(0);                                                           \
    for (long _i = 0; _i < (n); _i++) _v[_i] = (x)[_i] - (shift);                 \
    _v = F(_v);                                                                   \
    for (long _i = 0; _i < (n); _i++) (y)[_i] = _v[_i];                           \
} while (0)

DISPATCH double ddplm_softmax_xent_row(float *row, long v, const float *bias, long target, float scale, float *dbias) {
    long vec = v & ~15L, i;
    float m = ADD_BIAS_MAX(row, bias, v, vec);
    float logit_t = row[target];
    v16f acc = SPLAT(0);
    for (i = 0; i < vec; i += 16) {
        v16f e = EXP16(LOAD16(row + i) - m);
        STORE16(row + i, e);
        acc += e;
    }
    double sum = HSUM16(acc);
    if (i < v) {
        TAIL_MAP(row + i, row + i, v - i, EXP16, m);
        for (; i < v; i++) sum += row[i];
    }
    double loss = ((double)m - (double)logit_t) + log(sum);
    float k = (float)((double)scale / sum);
    if (dbias) {
        for (i = 0; i < vec; i += 16) {
            v16f d = LOAD16(row + i) * k;
            STORE16(row + i, d);
            STORE16(dbias + i, LOAD16(dbias + i) + d);
        }
        for (; i < v; i++) { row[i] *= k; dbias[i] += row[i]; }
        row[target] -= scale;
        dbias[target] -= scale;
    } else {
        for (i = 0; i < vec; i += 16) STORE16(row + i, LOAD16(row + i) * k);
        for (; i < v; i++) row[i] *= k;
        row[target] -= scale;
    }
    return loss;
}

/* One rank's part of a row's log-sum-exp (the vocab-parallel decoder; and the whole row's, below): row +=
   bias in place; *max = the row's maximum; returns the sum of exp(row - *max). */
DISPATCH double ddplm_bias_max_sumexp_row(float *row, long v, const float *bias, float *max) {
    long vec = v & ~15L, i;
    float m = ADD_BIAS_MAX(row, bias, v, vec);
    v16f acc = SPLAT(0);
    for (i = 0; i < vec; i += 16) acc += EXP16(LOAD16(row + i) - m);
    double sum = HSUM16(acc);
    if (i < v) {
        float tmp[16];
        TAIL_MAP(row + i, tmp, v - i, EXP16, m);
        for (long j = 0; j < v - i; j++) sum += tmp[j];
    }
    *max = m;
    return sum;
}

DISPATCH double ddplm_xent_row(float *row, long v, const float *bias, long target) {
    float m;
    double sum = ddplm_bias_max_sumexp_row(row, v, bias, &m);
    return ((double)m - (double)row[target]) + log(sum);
}

/* The softmax's part of the gradient, given the whole row's log-sum-exp: row = scale * exp(row - lse);
   dbias (if non-NULL) += row. The target's -scale is the caller's (it may live on another rank). */
DISPATCH void ddplm_softmax_grad_row(float *row, long v, float lse, float scale, float *dbias) {
    long vec = v & ~15L, i;
    for (i = 0; i < vec; i += 16) {
        v16f d = EXP16(LOAD16(row + i) - lse) * scale;
        STORE16(row + i, d);
        if (dbias) STORE16(dbias + i, LOAD16(dbias + i) + d);
    }
    if (i < v) {
        TAIL_MAP(row + i, row + i, v - i, EXP16, lse);
        for (; i < v; i++) { row[i] *= scale; if (dbias) dbias[i] += row[i]; }
    }
}

#define MAP_KERNEL(name, f)                                              \
    DISPATCH void name(const float *x, float *y, long n) {               \
        long i = 0;                                                      \
        for (; i + 16 <= n; i += 16) STORE16(y + i, f(LOAD16(x + i)));   \
        if (i < n) TAIL_MAP(x + i, y + i, n - i, f, 0.0f);               \
    }

MAP_KERNEL(ddplm_vexp, EXP16)
MAP_KERNEL(ddplm_vsigmoid, SIGMOID16)
MAP_KERNEL(ddplm_vtanh, TANH16)

DISPATCH void ddplm_f32_to_bf16(const float *restrict x, unsigned short *restrict y, long n) {
    for (long i = 0; i < n; i++) {
        unsigned u;
        memcpy(&u, x + i, 4);
        unsigned rounded = u + 0x7fffu + ((u >> 16) & 1u);          /* to nearest, ties to even */
        unsigned nan = (u & 0x7fffffffu) > 0x7f800000u;             /* keep NaN a (quiet) NaN */
        y[i] = (unsigned short)((nan ? (u | 0x00400000u) : rounded) >> 16);
    }
}

DISPATCH void ddplm_bf16_to_f32(const unsigned short *restrict x, float *restrict y, long n) {
    for (long i = 0; i < n; i++) {
        unsigned u = (unsigned)x[i] << 16;
        memcpy(y + i, &u, 4);
    }
}

DISPATCH void ddplm_add_bf16(float *restrict y, const unsigned short *restrict x, long n) {
    for (long i = 0; i < n; i++) {
        unsigned u = (unsigned)x[i] << 16;
        float f;
        memcpy(&f, &u, 4);
        y[i] += f;
    }
}

DISPATCH void ddplm_sum_ordered(float *dst, const float *const *src, int n, long count) {
    /* a tile at a time, summed in cache: dst may be src[n-1] (each element is read before it is written) */
    float acc[1024];
    for (long lo = 0; lo < count; lo += 1024) {
        long m = count - lo < 1024 ? count - lo : 1024;
        const float *s0 = src[0] + lo;
        for (long i = 0; i < m; i++) acc[i] = s0[i];
        for (int j = 1; j < n; j++) {
            const float *s = src[j] + lo;
            for (long i = 0; i < m; i++) acc[i] += s[i];
        }
        for (long i = 0; i < m; i++) dst[lo + i] = acc[i];
    }
}

/* One block's sum of squares: float partial sums over DDPLM_SUMSQ_BLOCK floats, then into double (fast
   and accurate enough for a norm). */
#define SUMSQ_BLOCK(xin, nin) ({                                                  \
    const float *_x = (xin);                                                      \
    long _n = (nin), _i = 0;                                                      \
    v16f _acc = SPLAT(0);                                                         \
    for (; _i + 16 <= _n; _i += 16) { v16f _v = LOAD16(_x + _i); _acc += _v * _v; } \
    double _s = HSUM16(_acc);                                                     \
    for (; _i < _n; _i++) _s += (double)_x[_i] * _x[_i];                          \
    _s; })

DISPATCH double ddplm_sumsq(const float *x, long n) {
    double total = 0;
    for (long i = 0; i < n; i += DDPLM_SUMSQ_BLOCK) total += SUMSQ_BLOCK(x + i, n - i < DDPLM_SUMSQ_BLOCK ? n - i : DDPLM_SUMSQ_BLOCK);
    return total;
}

DISPATCH void ddplm_sum_ordered_squares(float *dst, const float *const *src, int n, long count, double *squares) {
    const float *s[64]; /* NodeSharedWeights.maxSummedRanks */
    for (long lo = 0, b = 0; lo < count; lo += DDPLM_SUMSQ_BLOCK, b++) {
        long m = count - lo < DDPLM_SUMSQ_BLOCK ? count - lo : DDPLM_SUMSQ_BLOCK;
        for (int r = 0; r < n; r++) s[r] = src[r] + lo;
        ddplm_sum_ordered(dst + lo, s, n, m);
        squares[b] = SUMSQ_BLOCK(dst + lo, m);  /* the block just written, still in cache */
    }
}

/* The loop, once reading the gradient and once also zeroing it (`zero` is a constant in each call, so
   each copy is a plain vectorised loop). */
static inline __attribute__((always_inline)) void adam_loop(float *restrict p, float *restrict grad, float *restrict m,
        float *restrict v, long n, float gscale, float one_minus_b1, float b2, float one_minus_b2, float step_size,
        float bc2_sqrt, float eps, const int zero) {
    for (long i = 0; i < n; i++) {
        float g = grad[i] * gscale;
        if (zero) grad[i] = 0;
        float mi = m[i] + one_minus_b1 * (g - m[i]);
        float vi = b2 * v[i] + one_minus_b2 * g * g;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
}

DISPATCH void ddplm_adam(float *restrict p, float *restrict grad, float *restrict m, float *restrict v, long n,
                         float gscale, float one_minus_b1, float b2, float one_minus_b2, float step_size,
                         float bc2_sqrt, float eps, int zero_grad) {
    if (zero_grad) adam_loop(p, grad, m, v, n, gscale, one_minus_b1, b2, one_minus_b2, step_size, bc2_sqrt, eps, 1);
    else adam_loop(p, grad, m, v, n, gscale, one_minus_b1, b2, one_minus_b2, step_size, bc2_sqrt, eps, 0);
}
