#include <string.h>
#include <immintrin.h>
#include "ddplm_packed_gemm.h"

#define NR DDPLM_PACK_NR
/* Rows of K per pass: a panel's KC·NR floats (16 KB) stay in L1 while every row block uses them. */
#define KC 128
/* Panel rows the tiles prefetch ahead: the weight streams from L3 or memory on the first row block of
   each KC pass. The AVX-512 tiles prefetch 16 rows (2 KB) ahead. The AVX2 tiles prefetch a whole KC pass
   (16 KB) ahead: on AVX2 cores, whose FMAs take longer per panel row, 2 KB ahead is too late for memory,
   above all at a few rows per product and with another rank streaming its own panels (docs/benchmarks.md
   has the measurement). A prefetch past the end of the panels is harmless (it never faults). */
#define PREFETCH_AVX512 16
#define PREFETCH_AVX2 KC

long ddplm_packed_size(long k, long n) { return (n + NR - 1) / NR * NR * k; }

/* The plain packing: every case, element by element (the twin the vector packing is tested against). */
static void pack_plain(int trans, long k, long n, const float *b, long ldb, float *packed) {
    for (long j0 = 0; j0 < n; j0 += NR) {
        float *dst = packed + j0 * k;   /* panel j0/NR starts at (j0/NR)·NR·k */
        long w = n - j0 < NR ? n - j0 : NR;
        if (!trans) {
            for (long p = 0; p < k; p++) {
                memcpy(dst + p * NR, b + p * ldb + j0, (size_t)w * sizeof(float));
                memset(dst + p * NR + w, 0, (size_t)(NR - w) * sizeof(float));
            }
        } else {
            /* column j of B is row j of b: in blocks of 16 rows of K, so that the block's 16 panel rows
               (2 KB) stay in L1 while the NR source rows are read 64 bytes at a time */
            for (long p0 = 0; p0 < k; p0 += 16) {
                long p1 = k - p0 < 16 ? k : p0 + 16;
                for (long j = 0; j < NR; j++) {
                    const float *src = b + (j0 + j) * ldb;
                    if (j < w) for (long p = p0; p < p1; p++) dst[p * NR + j] = src[p];
                    else for (long p = p0; p < p1; p++) dst[p * NR + j] = 0;
                }
            }
        }
    }
}

/* The transposed packing of whole panels with AVX: 8×8 blocks (8 source rows, 8 floats of each) turned in
   registers and stored as 8 panel rows; K's last k mod 8 rows and a narrower last panel go the plain way. */
__attribute__((target("avx2"))) static void pack_trans_avx2(long k, long n, const float *b, long ldb, float *packed) {
    long full = n / NR * NR, k8 = k / 8 * 8;
    for (long j0 = 0; j0 < full; j0 += NR) {
        float *dst = packed + j0 * k;
        for (long p0 = 0; p0 < k8; p0 += 8) {
            for (long jj = 0; jj < NR; jj += 8) {
                const float *src = b + (j0 + jj) * ldb + p0;
                __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ldb), r2 = _mm256_loadu_ps(src + 2 * ldb),
                       r3 = _mm256_loadu_ps(src + 3 * ldb), r4 = _mm256_loadu_ps(src + 4 * ldb),
                       r5 = _mm256_loadu_ps(src + 5 * ldb), r6 = _mm256_loadu_ps(src + 6 * ldb),
                       r7 = _mm256_loadu_ps(src + 7 * ldb);
                __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
                       t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                       t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
                __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                       u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                       u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                       u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
                float *d = dst + p0 * NR + jj;
                _mm256_storeu_ps(d + 0 * NR, _mm256_permute2f128_ps(u0, u4, 0x20));
                _mm256_storeu_ps(d + 1 * NR, _mm256_permute2f128_ps(u1, u5, 0x20));
                _mm256_storeu_ps(d + 2 * NR, _mm256_permute2f128_ps(u2, u6, 0x20));
                _mm256_storeu_ps(d + 3 * NR, _mm256_permute2f128_ps(u3, u7, 0x20));
                _mm256_storeu_ps(d + 4 * NR, _mm256_permute2f128_ps(u0, u4, 0x31));
                _mm256_storeu_ps(d + 5 * NR, _mm256_permute2f128_ps(u1, u5, 0x31));
                _mm256_storeu_ps(d + 6 * NR, _mm256_permute2f128_ps(u2, u6, 0x31));
                _mm256_storeu_ps(d + 7 * NR, _mm256_permute2f128_ps(u3, u7, 0x31));
            }
        }
        for (long p = k8; p < k; p++)
            for (long j = 0; j < NR; j++) dst[p * NR + j] = b[(j0 + j) * ldb + p];
    }
    if (full < n) pack_plain(1, k, n - full, b + full * ldb, ldb, packed + full * k);
}

int ddplm_pack_b_isa(int isa, int trans, long k, long n, const float *b, long ldb, float *packed) {
    if (isa == 0) { pack_plain(trans, k, n, b, ldb, packed); return 1; }
    if (isa != 1 || !(__builtin_cpu_supports("avx2"))) return 0;
    if (trans) pack_trans_avx2(k, n, b, ldb, packed);
    else pack_plain(trans, k, n, b, ldb, packed);
    return 1;
}

void ddplm_pack_b(int trans, long k, long n, const float *b, long ldb, float *packed) {
    static int isa = -1;
    if (isa < 0) isa = __builtin_cpu_supports("avx2") ? 1 : 0;
    ddplm_pack_b_isa(isa, trans, k, n, b, ldb, packed);
}

/* One register tile: rows [0, MR) of C's panel (w ≤ NR valid columns) += A[MR×kc]·Bpanel[kc×NR].
   `first`: the first pass over K, where C's old value is scaled by beta (not read at all when beta is 0). */
#define TILE_ARGS long kc, const float *a, long lda, const float *bp, float *c, long ldc, int w, int first, float beta

/* A tile row's w sums t into C's row ci, by the rule above (the vector tiles apply it in registers). */
static inline void finish_row(float *ci, const float *t, int w, int first, float beta) {
    if (first && beta == 0) { memcpy(ci, t, (size_t)w * sizeof(float)); return; }
    float keep = first ? beta : 1.0f;
    for (int j = 0; j < w; j++) ci[j] = t[j] + keep * ci[j];
}

#define DEF512(MR)                                                                                        \
__attribute__((target("avx512f"))) static void tile512_##MR(TILE_ARGS) {                                 \
    __m512 c0[MR], c1[MR];                                                                                \
    for (int i = 0; i < MR; i++) { c0[i] = _mm512_setzero_ps(); c1[i] = _mm512_setzero_ps(); }           \
    for (long p = 0; p < kc; p++) {                                                                       \
        _mm_prefetch((const char *)(bp + (p + PREFETCH_AVX512) * NR), _MM_HINT_T0);                       \
        _mm_prefetch((const char *)(bp + (p + PREFETCH_AVX512) * NR + 16), _MM_HINT_T0);                  \
        __m512 b0 = _mm512_loadu_ps(bp + p * NR), b1 = _mm512_loadu_ps(bp + p * NR + 16);                 \
        for (int i = 0; i < MR; i++) {                                                                    \
            __m512 av = _mm512_set1_ps(a[i * lda + p]);                                                   \
            c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);                                                       \
            c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);                                                       \
        }                                                                                                 \
    }                                                                                                     \
    __mmask16 m0 = w >= 16 ? 0xFFFF : (__mmask16)((1u << w) - 1);                                         \
    __mmask16 m1 = w >= 32 ? 0xFFFF : w <= 16 ? 0 : (__mmask16)((1u << (w - 16)) - 1);                   \
    __m512 bv = _mm512_set1_ps(first ? beta : 1.0f);                                                      \
    for (int i = 0; i < MR; i++) {                                                                        \
        float *ci = c + i * ldc;                                                                          \
        if (!first || beta != 0) {                                                                        \
            c0[i] = _mm512_fmadd_ps(bv, _mm512_maskz_loadu_ps(m0, ci), c0[i]);                            \
            c1[i] = _mm512_fmadd_ps(bv, _mm512_maskz_loadu_ps(m1, ci + 16), c1[i]);                       \
        }                                                                                                 \
        _mm512_mask_storeu_ps(ci, m0, c0[i]);                                                             \
        _mm512_mask_storeu_ps(ci + 16, m1, c1[i]);                                                        \
    }                                                                                                     \
}
DEF512(1) DEF512(2) DEF512(3) DEF512(4) DEF512(5) DEF512(6) DEF512(7) DEF512(8)

/* AVX2 has 16 registers: a tile is MR ≤ 6 rows × half a panel (16 columns, bp and c already offset to
   the half; w ≤ 16 valid): 12 accumulators, 2 loads, 1 broadcast. */
#define DEF256(MR)                                                                                        \
__attribute__((target("avx2,fma"))) static void tile256_##MR(TILE_ARGS) {                                \
    __m256 c0[MR], c1[MR];                                                                                \
    for (int i = 0; i < MR; i++) { c0[i] = _mm256_setzero_ps(); c1[i] = _mm256_setzero_ps(); }           \
    for (long p = 0; p < kc; p++) {                                                                       \
        _mm_prefetch((const char *)(bp + (p + PREFETCH_AVX2) * NR), _MM_HINT_T0);                         \
        __m256 b0 = _mm256_loadu_ps(bp + p * NR), b1 = _mm256_loadu_ps(bp + p * NR + 8);                  \
        for (int i = 0; i < MR; i++) {                                                                    \
            __m256 av = _mm256_broadcast_ss(a + i * lda + p);                                             \
            c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);                                                       \
            c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);                                                       \
        }                                                                                                 \
    }                                                                                                     \
    __m256 keep = _mm256_set1_ps(first ? beta : 1.0f);                                                    \
    for (int i = 0; i < MR; i++) {                                                                        \
        float *ci = c + i * ldc;                                                                          \
        if (w == 16) {                                                                                    \
            if (!first || beta != 0) {                                                                    \
                c0[i] = _mm256_fmadd_ps(keep, _mm256_loadu_ps(ci), c0[i]);                                \
                c1[i] = _mm256_fmadd_ps(keep, _mm256_loadu_ps(ci + 8), c1[i]);                            \
            }                                                                                             \
            _mm256_storeu_ps(ci, c0[i]);                                                                  \
            _mm256_storeu_ps(ci + 8, c1[i]);                                                              \
        } else {                                                                                          \
            float t[16];                                                                                  \
            _mm256_storeu_ps(t, c0[i]);                                                                   \
            _mm256_storeu_ps(t + 8, c1[i]);                                                               \
            finish_row(ci, t, w, first, beta);                                                            \
        }                                                                                                 \
    }                                                                                                     \
}
DEF256(1) DEF256(2) DEF256(3) DEF256(4) DEF256(5) DEF256(6)

static void tile_plain(int mr, TILE_ARGS) {
    for (int i = 0; i < mr; i++) {
        float t[NR] = {0};
        for (long p = 0; p < kc; p++) {
            float av = a[i * lda + p];
            for (int j = 0; j < NR; j++) t[j] += av * bp[p * NR + j];
        }
        finish_row(c + i * ldc, t, w, first, beta);
    }
}

typedef void (*tile_fn)(TILE_ARGS);
static const tile_fn tiles512[9] = {0, tile512_1, tile512_2, tile512_3, tile512_4, tile512_5, tile512_6, tile512_7, tile512_8};
static const tile_fn tiles256[7] = {0, tile256_1, tile256_2, tile256_3, tile256_4, tile256_5, tile256_6};

static int supported(int isa) {
    switch (isa) {
    case 0: return 1;
    case 1: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case 2: return __builtin_cpu_supports("avx512f");
    default: return 0;
    }
}

int ddplm_gemm_packed_kernel(void) { return supported(2) ? 2 : supported(1) ? 1 : 0; }

/* Panels outer (each streamed from memory once), K in KC passes (the panel's slice stays in L1), row
   blocks inner: M split into equal blocks of at most the kernel's tile height. */
int ddplm_gemm_packed_isa(int isa, long m, long n, long k, const float *a, long lda, const float *packed,
                          float beta, float *c, long ldc) {
    if (!supported(isa)) return 0;
    if (m <= 0 || n <= 0) return 1;
    if (k <= 0) {
        for (long i = 0; i < m; i++) for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return 1;
    }
    long height = isa == 2 ? 8 : isa == 1 ? 6 : 4;
    long blocks = (m + height - 1) / height;
    for (long j0 = 0; j0 < n; j0 += NR) {
        int w = (int)(n - j0 < NR ? n - j0 : NR);
        const float *panel = packed + j0 * k;
        for (long p0 = 0; p0 < k; p0 += KC) {
            long kc = k - p0 < KC ? k - p0 : KC;
            for (long r = 0; r < blocks; r++) {
                long i0 = m * r / blocks, mr = m * (r + 1) / blocks - i0;
                const float *ap = a + i0 * lda + p0;
                const float *bp = panel + p0 * NR;
                float *cp = c + i0 * ldc + j0;
                if (isa == 2) tiles512[mr](kc, ap, lda, bp, cp, ldc, w, p0 == 0, beta);
                else if (isa == 1) {
                    tiles256[mr](kc, ap, lda, bp, cp, ldc, w < 16 ? w : 16, p0 == 0, beta);
                    if (w > 16) tiles256[mr](kc, ap, lda, bp + 16, cp + 16, ldc, w - 16, p0 == 0, beta);
                }
                else tile_plain((int)mr, kc, ap, lda, bp, cp, ldc, w, p0 == 0, beta);
            }
        }
    }
    return 1;
}

void ddplm_gemm_packed(long m, long n, long k, const float *a, long lda, const float *packed, float beta,
                       float *c, long ldc) {
    static int kernel = -1;
    if (kernel < 0) kernel = ddplm_gemm_packed_kernel();
    ddplm_gemm_packed_isa(kernel, m, n, k, a, lda, packed, beta, c, ldc);
}
