/* bf16_gemm.c's two kernels (AVX512-BF16 registers and AMX tiles), compiled on any CPU with the
   intrinsics emulated (emulated.h), against a naive twin: the Double triple loop on bf16-rounded inputs.
   - every transpose pair, alpha and beta, and shapes around the edges of the 12-row blocks (one, two
     and three blocks, equal and not), the 16-row and 16-column tiles and the 32-k tiles, with columns
     past N left alone;
   - 1, 2 and 3 parts, and the packed right-hand side, give the same bits;
   - the inputs really are rounded (the float32 product is far away);
   - the two kernels agree to float rounding (they add each pair's products in the opposite order).
   Prints one line per failure and a summary; exits non-zero on any failure. */
#include "emulated.h"
#include "../../Sources/CKernels/bf16_gemm.c"

#include <math.h>
#include <stdio.h>

int ddplm_bf16_features(void) { return DDPLM_BF16_AVX512 | DDPLM_BF16_AMX; }

/* The parts in reverse order on this thread: a part must not depend on another having run. */
void ddplm_parallel(long parts, ddplm_part_fn fn, void *ctx) {
    for (long w = parts - 1; w >= 0; w--) fn(ctx, w);
}

static int failures, checks;
static void fail(const char *what) {
    if (failures++ < 20) printf("FAIL %s\n", what);
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float uniform(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f;
}
static float *random_buffer(long n) {
    float *x = malloc(n * sizeof *x);
    for (long i = 0; i < n; i++) x[i] = uniform();
    return x;
}
static float rounded(float x) { return bf16_value(bf16_round(x)); }

static void naive(int ta, int tb, long m, long n, long k, float alpha, const float *a, long lda, const float *b,
                  long ldb, float beta, float *c, long ldc, int round) {
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            double s = 0;
            for (long p = 0; p < k; p++) {
                float x = ta ? a[p * lda + i] : a[i * lda + p], y = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += round ? (double)rounded(x) * rounded(y) : (double)x * y;
            }
            c[i * ldc + j] = (float)(alpha * s + (beta == 0 ? 0 : beta * (double)c[i * ldc + j]));
        }
}

static const char *kernel_name(int kernel) { return kernel == DDPLM_BF16_AMX ? "amx" : "avx512"; }

static void check_against_naive(int kernel) {
    ddplm_bf16_select(kernel);
    long shapes[][3] = {{1, 1, 1}, {5, 3, 2}, {8, 32, 32}, {9, 33, 31}, {16, 32, 32}, {17, 33, 33}, {20, 70, 650},
                        {10, 161, 97}, {12, 33, 65}, {13, 40, 33}, {14, 40, 33}, {15, 64, 64}, {24, 35, 40},
                        {25, 64, 31}, {37, 129, 71}, {64, 31, 100}, {3, 2600, 65}, {6, 600, 2600}};
    float coeffs[][2] = {{1, 0}, {1, 1}, {0.5f, 0.3f}};
    char what[200];
    for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            for (int q = 0; q < 3; q++) {
                long m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                int ta = t & 1, tb = t >> 1;
                float alpha = coeffs[q][0], beta = coeffs[q][1];
                long lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 1;
                float *a = random_buffer((ta ? k : m) * lda), *b = random_buffer((tb ? n : k) * ldb);
                float *want = malloc(m * ldc * sizeof(float)), *got = malloc(m * ldc * sizeof(float));
                for (long i = 0; i < m * ldc; i++) { want[i] = (float)(i % 7) - 3; got[i] = beta == 0 ? NAN : want[i]; }
                for (long r = 0; r < m; r++) got[r * ldc + n] = want[r * ldc + n] = 42;
                ddplm_gemm_bf16(1 + (long)(s % 3), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc);
                naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc, 1);
                float tol = 2e-5f * sqrtf((float)k);
                for (long i = 0; i < m * ldc; i++) {
                    checks++;
                    if (!(fabsf(got[i] - want[i]) <= tol)) {
                        snprintf(what, sizeof what, "%s m=%ld n=%ld k=%ld ta=%d tb=%d alpha=%g beta=%g at %ld: %g, naive %g",
                                 kernel_name(kernel), m, n, k, ta, tb, alpha, beta, i, got[i], want[i]);
                        fail(what);
                        break;
                    }
                }
                free(a); free(b); free(want); free(got);
            }
}

/* 1, 2 and 3 parts and the packed right-hand side, packed whole or as 1–3 ranks' shares of its column
   blocks (ddplm_bf16_pack_b_blocks, each with 1–2 threads): the same bits as one part's ddplm_gemm_bf16. */
static void check_parts_and_packed(int kernel) {
    ddplm_bf16_select(kernel);
    long m = 21, n = 161, k = 97;
    float *a = random_buffer(m * k), *b = random_buffer(n * k);
    float *first = malloc(m * n * sizeof(float)), *c = malloc(m * n * sizeof(float));
    uint16_t *packed = malloc(ddplm_bf16_packed_size(k, n) * sizeof(uint16_t));
    char what[200];
    ddplm_gemm_bf16(1, 0, 1, m, n, k, 1, a, k, b, k, 0, first, n);
    for (long parts = 1; parts <= 3; parts++)
        for (int packed_path = 0; packed_path < 3; packed_path++) {
            if (packed_path == 1) {
                ddplm_bf16_pack_b_parts(parts, 1, k, n, b, k, packed);
                ddplm_gemm_bf16_packed_parts(parts, m, n, k, a, k, packed, 0, c, n);
            } else if (packed_path == 2) {
                /* `parts` ranks, each its share of the blocks; poisoned first so a block nobody packs shows */
                memset(packed, 0xff, ddplm_bf16_packed_size(k, n) * sizeof(uint16_t));
                long blocks = (n + 31) / 32;
                for (long r = 0; r < parts; r++)
                    ddplm_bf16_pack_b_blocks(1 + r % 2, 1, k, n, b, k, packed, blocks * r / parts, blocks * (r + 1) / parts);
                ddplm_gemm_bf16_packed_parts(parts, m, n, k, a, k, packed, 0, c, n);
            } else {
                ddplm_gemm_bf16(parts, 0, 1, m, n, k, 1, a, k, b, k, 0, c, n);
            }
            checks++;
            if (memcmp(first, c, m * n * sizeof(float)) != 0) {
                snprintf(what, sizeof what, "%s: %ld parts%s differ from one part's bits", kernel_name(kernel), parts,
                         packed_path == 1 ? " (packed)" : packed_path == 2 ? " (packed in ranks' blocks)" : "");
                fail(what);
            }
        }
    /* the inputs were rounded: float32's product is far from it */
    naive(0, 1, m, n, k, 1, a, k, b, k, 0, c, n, 0);
    float worst = 0;
    for (long i = 0; i < m * n; i++) worst = fmaxf(worst, fabsf(c[i] - first[i]));
    checks++;
    if (!(worst > 1e-3f)) fail("the product equals float32's: the inputs were not rounded to bf16");
    free(a); free(b); free(first); free(c); free(packed);
}

/* The two kernels: the same rounded products, added in another order within each pair. */
static void check_kernels_agree(void) {
    long m = 20, n = 2600, k = 650;
    float *a = random_buffer(m * k), *b = random_buffer(k * n);
    float *x = malloc(m * n * sizeof(float)), *y = malloc(m * n * sizeof(float));
    ddplm_bf16_select(DDPLM_BF16_AVX512);
    ddplm_gemm_bf16(2, 0, 0, m, n, k, 1, a, k, b, n, 0, x, n);
    ddplm_bf16_select(DDPLM_BF16_AMX);
    ddplm_gemm_bf16(2, 0, 0, m, n, k, 1, a, k, b, n, 0, y, n);
    float worst = 0;
    for (long i = 0; i < m * n; i++) worst = fmaxf(worst, fabsf(x[i] - y[i]));
    checks++;
    if (!(worst < 1e-4f)) fail("the AVX512-BF16 and AMX kernels disagree beyond float rounding");
    free(a); free(b); free(x); free(y);
}

int main(void) {
    int kernels[] = {DDPLM_BF16_AVX512, DDPLM_BF16_AMX};
    for (int i = 0; i < 2; i++) {
        check_against_naive(kernels[i]);
        check_parts_and_packed(kernels[i]);
    }
    check_kernels_agree();
    printf("bf16 kernels (emulated intrinsics): %d checks, %d failed\n", checks, failures);
    return failures != 0;
}
