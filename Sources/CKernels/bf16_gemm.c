/* bf16 GEMM on AVX512-BF16 registers or Intel AMX tiles (see ddplm_bf16_gemm.h).

   Layout. Both operands are rounded to bf16 and packed into 1 KB tiles of 16 rows × 64 bytes:
   - A (M×K): tile (rt, kb) holds rows rt·16 ..< +16, columns kb·32 ..< +32, row after row;
   - B (K×N): tile (ct, kb) holds columns ct·16 ..< +16 for k = kb·32 ..< +32 in pair ("VNNI") order:
     row kk has, for each column j, B[2kk][j] then B[2kk+1][j]. The tiles of one column tile follow each
     other, so its pair rows run contiguously down K: pair row r (k = 2r, 2r + 1) of column tile ct is the
     64 bytes at ct·kbs·512 + r·32 elements.
   M and N are padded with zeros to multiples of 32 and K to a multiple of 32, so every tile is whole.
   Both kernels sum, per element of C, the products of K's pairs in order from k = 0 (a float sum; the
   instructions treat denormal inputs as zero and flush denormal results, as they always do), then
   write C with alpha and beta; parts split the 32-column blocks, and each block is computed the same way
   whatever the part count.
   - AMX keeps a 32×32 block of C in four float tiles and runs K through it in one pass (TDPBF16PS).
     512 columns of packed B stay in L2 while each pair of A's row tiles (in L1) runs along them.
   - AVX512-BF16 keeps a block of up to 12×32 of C in 24 registers: per pair row, two 16-column vectors
     of B and, per row, A's pair broadcast, into VDPBF16PS. M is split into equal blocks of at most 12
     rows, so a recurrent step's product at a batch of 10 or 12 reads B once, not twice. The same L2
     blocking of B.
   Tests/bf16 compiles this file on any x86-64 CPU with the intrinsics emulated in C (DDPLM_BF16_EMULATE)
   and checks both kernels against a naive twin. */
#include "ddplm_bf16_gemm.h"
#include "ddplm_kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(DDPLM_BF16_EMULATE)
/* Tests/bf16/emulated.h defined the intrinsics and types */
#define PACK
#define AMX
#elif defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define PACK __attribute__((target("avx512f,avx512bw,avx512bf16")))
#define AMX __attribute__((target("avx512f,avx512bw,avx512bf16,amx-tile,amx-bf16")))
#endif

#if defined(__x86_64__) || defined(DDPLM_BF16_EMULATE)

#define TILE 512       /* bf16 elements per tile */
#define COLUMN_BLOCK 32 /* column tiles (512 columns of B, ~670 KB at K = 650) kept in L2 while A's rows pass */
static _Atomic int features_state = -1;
static _Atomic int selected = 0;

#if !defined(DDPLM_BF16_EMULATE)
__attribute__((target("xsave"))) int ddplm_bf16_features(void) {
    int s = atomic_load(&features_state);
    if (s >= 0) return s;
    unsigned a, b, c, d, a1 = 0, b1, c1, d1;
    int found = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) {
        int amx_bf16 = (d >> 22) & 1, amx_tile = (d >> 24) & 1, avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1;
        int avx512bf16 = (a1 >> 5) & 1, osxsave = 0;
        unsigned ea, eb, ec, ed;
        if (__get_cpuid(1, &ea, &eb, &ec, &ed)) osxsave = (ec >> 27) & 1;
        /* the OS saves the AVX-512 state (XCR0 bits 1, 2, 5, 6, 7) */
        int os_avx512 = osxsave && ((_xgetbv(0) & 0xE6) == 0xE6);
        const char *hide = getenv("DDPLM_AVX512BF16");  /* DDPLM_AVX512BF16=0: behave as on a CPU without it */
        if (avx512f && avx512bw && avx512bf16 && os_avx512 && !(hide && strcmp(hide, "0") == 0)) {
            found = DDPLM_BF16_AVX512;
            const char *env = getenv("DDPLM_AMX");  /* DDPLM_AMX=0: behave as on a CPU without AMX */
            /* ARCH_REQ_XCOMP_PERM (0x1023) for XFEATURE_XTILEDATA (18): fails on kernels without AMX support */
            if (amx_bf16 && amx_tile && !(env && strcmp(env, "0") == 0) && syscall(SYS_arch_prctl, 0x1023, 18) == 0)
                found |= DDPLM_BF16_AMX;
        }
    }
    atomic_store(&features_state, found);
    return found;
}
#endif

void ddplm_bf16_select(int kernel) {
    if (kernel != DDPLM_BF16_AVX512 && kernel != DDPLM_BF16_AMX) abort();
    atomic_store(&selected, kernel);
}

static long round32(long x) { return (x + 31) / 32 * 32; }

long ddplm_bf16_packed_size(long k, long n) { return round32(n) * round32(k); }

static __mmask16 first_n(long count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? 0 : (__mmask16)((1u << count) - 1);
}

/* --- packing ------------------------------------------------------------------------------------- */

/* Interleaves [row p: 16 columns | row p+1: 16 columns] (bf16) into (p, p+1) pairs per column. */
PACK static __m512i pair_order(void) {
    static const uint16_t order[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                       8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    return _mm512_loadu_si512(order);
}

/* Transposes 16 rows of 16 32-bit elements (bf16 pairs) in registers: unpacks, then 128-bit lane moves. */
PACK static void transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_i32x4(r[8 * i + j], r[8 * i + j + 4], 0x88);
            t[8 * i + j + 4] = _mm512_shuffle_i32x4(r[8 * i + j], r[8 * i + j + 4], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0xdd);
    }
}

/* The two shapes a tile's 32 k arrive in, each as 16 vectors of 16 bf16 pairs:
   - runs: run q (q < runs) is `len` contiguous floats at src + q·ld, k along the run; vector q holds its
     32 k (rows of an A tile; the columns of a transposed B's);
   - pairs of rows: row p (p < len) has `width` contiguous floats at src + p·ld, k down the rows; vector
     kk interleaves rows 2kk and 2kk+1 lane by lane (rows of a B tile; the columns of a transposed A's).
   Past runs, len or width: zeros. */
PACK static void runs_to_bf16(const float *src, long ld, long runs, long len, __m512i v[16]) {
    for (long q = 0; q < 16; q++) {
        __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
        if (q < runs) {
            lo = _mm512_maskz_loadu_ps(first_n(len), src + q * ld);
            hi = _mm512_maskz_loadu_ps(first_n(len - 16), src + q * ld + 16);
        }
        v[q] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
    }
}

PACK static void rows_to_pairs(const float *src, long ld, long len, long width, __m512i v[16]) {
    __mmask16 lanes = first_n(width);
    for (long kk = 0; kk < 16; kk++) {
        long p = 2 * kk;
        __m512 r0 = p < len ? _mm512_maskz_loadu_ps(lanes, src + p * ld) : _mm512_setzero_ps();
        __m512 r1 = p + 1 < len ? _mm512_maskz_loadu_ps(lanes, src + (p + 1) * ld) : _mm512_setzero_ps();
        v[kk] = _mm512_permutexvar_epi16(pair_order(), (__m512i)_mm512_cvtne2ps_pbh(r1, r0));
    }
}

/* Writes the 16 vectors as the tile's rows, or (transposed) lane q of every vector as row q. */
PACK static void store_tile(uint16_t *tile, __m512i v[16], int transposed) {
    if (transposed) transpose16(v);
    for (long q = 0; q < 16; q++) _mm512_storeu_si512(tile + q * 32, v[q]);
}

/* One tile of 16 lines (rows of A, columns of B) × 32 k from src, `lines` and `depth` (k) of them left in
   the source: read as runs (k along the source's rows) or as pairs of rows (k down them), stored
   transposed or not. */
PACK static void pack_tile(int as_runs, const float *src, long ld, long lines, long depth, uint16_t *tile, int transposed) {
    __m512i v[16];
    if (as_runs) runs_to_bf16(src, ld, lines, depth, v);
    else rows_to_pairs(src, ld, depth, lines, v);
    store_tile(tile, v, transposed);
}

/* Tile (rt, kb) of A (element (i, p) = a[i·lda + p], or a[p·lda + i] when trans). */
PACK static void pack_a_tile(int trans, long m, long k, const float *a, long lda, uint16_t *tile, long rt, long kb) {
    long i0 = rt * 16, p0 = kb * 32;
    pack_tile(!trans, trans ? a + p0 * lda + i0 : a + i0 * lda + p0, lda, m - i0, k - p0, tile, trans);
}

/* Row tiles rt0 ..< rt1 of A, walking along the source's rows (a transposed A's run along M): each
   source page is read while it is in the TLB, not once per tile row. */
PACK static void pack_a(int trans, long m, long k, const float *a, long lda, uint16_t *ap, long rt0, long rt1) {
    long kbs = round32(k) / 32;
    if (!trans) {
        for (long rt = rt0; rt < rt1; rt++)
            for (long kb = 0; kb < kbs; kb++) pack_a_tile(0, m, k, a, lda, ap + (rt * kbs + kb) * TILE, rt, kb);
    } else {
        for (long kb = 0; kb < kbs; kb++)
            for (long rt = rt0; rt < rt1; rt++) pack_a_tile(1, m, k, a, lda, ap + (rt * kbs + kb) * TILE, rt, kb);
    }
}

/* Tile (ct, kb) of B (element (p, j) = b[p·ldb + j], or b[j·ldb + p] when trans). */
PACK static void pack_b_tile(int trans, long k, long n, const float *b, long ldb, uint16_t *tile, long ct, long kb) {
    long j0 = ct * 16, p0 = kb * 32;
    pack_tile(trans, trans ? b + j0 * ldb + p0 : b + p0 * ldb + j0, ldb, n - j0, k - p0, tile, trans);
}

/* Column tiles ct0 ..< ct1 of B, walking along the source's rows (B's run along N, a transposed B's
   along K). */
PACK static void pack_b(int trans, long k, long n, const float *b, long ldb, uint16_t *bp, long ct0, long ct1) {
    long kbs = round32(k) / 32;
    if (!trans) {
        for (long kb = 0; kb < kbs; kb++)
            for (long ct = ct0; ct < ct1; ct++) pack_b_tile(0, k, n, b, ldb, bp + (ct * kbs + kb) * TILE, ct, kb);
    } else {
        for (long ct = ct0; ct < ct1; ct++)
            for (long kb = 0; kb < kbs; kb++) pack_b_tile(1, k, n, b, ldb, bp + (ct * kbs + kb) * TILE, ct, kb);
    }
}

/* --- the AMX tile kernel ----------------------------------------------------------------------------- */

struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

/* Writes a 16×16 float tile (t, row stride 16) to C rows i0.., columns j0.. with alpha and beta. */
PACK static void write_back(const float *t, long i0, long j0, long m, long n, float alpha, float beta, float *c,
                            long ldc) {
    __mmask16 cols = first_n(n - j0);
    long rows = m - i0 < 16 ? m - i0 : 16;
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (long r = 0; r < rows; r++) {
        float *dst = c + (i0 + r) * ldc + j0;
        __m512 x = _mm512_mul_ps(va, _mm512_loadu_ps(t + r * 16));
        if (beta != 0) x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(cols, dst), x);
        _mm512_mask_storeu_ps(dst, cols, x);
    }
}

/* C blocks for column tiles ct0 ..< ct1 (even bounds), all rows. */
AMX static void compute_amx(const uint16_t *ap, const uint16_t *bp, long m, long n, long k, long ct0, long ct1, float alpha,
                        float beta, float *c, long ldc) {
    struct tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) { cfg.rows[t] = 16; cfg.colsb[t] = 64; }
    _tile_loadconfig(&cfg);
    long kbs = round32(k) / 32, rts = round32(m) / 16;
    float out[4][256] __attribute__((aligned(64)));
    for (long cb = ct0; cb < ct1; cb += COLUMN_BLOCK) {
        long cb_end = cb + COLUMN_BLOCK < ct1 ? cb + COLUMN_BLOCK : ct1;
        for (long rt = 0; rt < rts; rt += 2) {
            const uint16_t *a0 = ap + rt * kbs * TILE, *a1 = a0 + kbs * TILE;
            for (long ct = cb; ct < cb_end; ct += 2) {
                const uint16_t *b0 = bp + ct * kbs * TILE, *b1 = b0 + kbs * TILE;
                _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
                for (long kb = 0; kb < kbs; kb++) {
                    _tile_loadd(4, a0 + kb * TILE, 64);
                    _tile_loadd(5, a1 + kb * TILE, 64);
                    _tile_loadd(6, b0 + kb * TILE, 64);
                    _tile_loadd(7, b1 + kb * TILE, 64);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
                long i0 = rt * 16, j0 = ct * 16;
                if (alpha == 1 && beta == 0 && i0 + 32 <= m && j0 + 32 <= n) {
                    float *dst = c + i0 * ldc + j0;
                    _tile_stored(0, dst, ldc * 4);
                    _tile_stored(1, dst + 16, ldc * 4);
                    _tile_stored(2, dst + 16 * ldc, ldc * 4);
                    _tile_stored(3, dst + 16 * ldc + 16, ldc * 4);
                    continue;
                }
                _tile_stored(0, out[0], 64); _tile_stored(1, out[1], 64); _tile_stored(2, out[2], 64); _tile_stored(3, out[3], 64);
                for (int q = 0; q < 4; q++) {
                    long i = i0 + (q >> 1) * 16, j = j0 + (q & 1) * 16;
                    if (i < m && j < n) write_back(out[q], i, j, m, n, alpha, beta, c, ldc);
                }
            }
        }
    }
    _tile_release();
}

/* --- the AVX512-BF16 register kernel ------------------------------------------------------------- */

#define ROWS_MAX 12 /* 24 accumulators, B's two vectors and a broadcast: 27 of the 32 registers */

/* C rows i0 ..< i0 + R (R ≤ ROWS_MAX, all < m) × the 32 columns of column tiles (b0, b1) from column j0:
   R × 2 float accumulators; per pair row r, A's pair (row i, k = 2r, 2r + 1) broadcast against B's two
   vectors of 16 column pairs. R is a constant at each call (`rows_block`), so the loops unroll into
   registers. */
PACK static inline __attribute__((always_inline)) void vnni_block(const int R, const uint16_t *ap, long kbs, long i0,
                                                                  const uint16_t *b0, const uint16_t *b1, long n, long j0,
                                                                  float alpha, float beta, float *c, long ldc) {
    __m512 acc[ROWS_MAX][2];
    const uint16_t *row[ROWS_MAX];
    for (int r = 0; r < R; r++) {
        long i = i0 + r;
        row[r] = ap + (i / 16) * kbs * TILE + (i % 16) * 32;
        acc[r][0] = _mm512_setzero_ps();
        acc[r][1] = _mm512_setzero_ps();
    }
    for (long kb = 0; kb < kbs; kb++) {
        const uint16_t *x0 = b0 + kb * TILE, *x1 = b1 + kb * TILE;
        for (int kk = 0; kk < 16; kk++) {
            __m512bh v0 = (__m512bh)_mm512_loadu_si512(x0 + kk * 32), v1 = (__m512bh)_mm512_loadu_si512(x1 + kk * 32);
            for (int r = 0; r < R; r++) {
                int32_t pair;
                memcpy(&pair, row[r] + kb * TILE + kk * 2, 4);
                __m512bh a = (__m512bh)_mm512_set1_epi32(pair);
                /* one broadcast of A's pair per row, for both products (the operands' order does not
                   matter: each lane's two products are symmetric) */
                acc[r][0] = _mm512_dpbf16_ps(acc[r][0], v0, a);
                acc[r][1] = _mm512_dpbf16_ps(acc[r][1], v1, a);
            }
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int r = 0; r < R; r++)
        for (int h = 0; h < 2; h++) {
            long j = j0 + h * 16;
            if (j >= n) continue;
            __mmask16 cols = first_n(n - j);
            float *dst = c + (i0 + r) * ldc + j;
            __m512 x = _mm512_mul_ps(va, acc[r][h]);  /* as write_back */
            if (beta != 0) x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(cols, dst), x);
            _mm512_mask_storeu_ps(dst, cols, x);
        }
}

PACK static void rows_block(long rows, const uint16_t *ap, long kbs, long i0, const uint16_t *b0, const uint16_t *b1,
                            long n, long j0, float alpha, float beta, float *c, long ldc) {
    switch (rows) {
#define ROWS(R) case R: vnni_block(R, ap, kbs, i0, b0, b1, n, j0, alpha, beta, c, ldc); break;
    ROWS(1) ROWS(2) ROWS(3) ROWS(4) ROWS(5) ROWS(6) ROWS(7) ROWS(8) ROWS(9) ROWS(10) ROWS(11) ROWS(12)
#undef ROWS
    }
}

/* C blocks for column tiles ct0 ..< ct1 (even bounds), all rows: up to ~768 KB of B's column tiles
   (COLUMN_BLOCK at K = 650, fewer for a longer K) stay in L2 while A's rows (equal blocks of at most
   ROWS_MAX, in L1) pass along them. */
PACK static void compute_avx512(const uint16_t *ap, const uint16_t *bp, long m, long n, long k, long ct0, long ct1,
                                float alpha, float beta, float *c, long ldc) {
    long kbs = round32(k) / 32;
    long block = 768 / kbs & ~1L;  /* column tiles of kbs KB each */
    block = block < 2 ? 2 : block > COLUMN_BLOCK ? COLUMN_BLOCK : block;
    long blocks = (m + ROWS_MAX - 1) / ROWS_MAX;
    for (long cb = ct0; cb < ct1; cb += block) {
        long cb_end = cb + block < ct1 ? cb + block : ct1;
        for (long r = 0; r < blocks; r++) {
            long i0 = m * r / blocks, rows = m * (r + 1) / blocks - i0;
            for (long ct = cb; ct < cb_end; ct += 2) {
                const uint16_t *b0 = bp + ct * kbs * TILE;
                rows_block(rows, ap, kbs, i0, b0, b0 + kbs * TILE, n, ct * 16, alpha, beta, c, ldc);
            }
        }
    }
}

/* --- workspace and parts ------------------------------------------------------------------------- */

/* Per calling thread, grown to the largest call and kept (a step allocates nothing once warm); freed when
   the thread ends (the tests' in-process ranks are threads). */
struct workspace { uint16_t *a, *b; long a_cap, b_cap; };
static __thread struct workspace ws;
static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;

static void ws_free(void *p) {
    struct workspace *w = p;
    free(w->a);
    free(w->b);
    w->a = w->b = NULL;
    w->a_cap = w->b_cap = 0;
}

static void ws_key_create(void) { pthread_key_create(&ws_key, ws_free); }

static uint16_t *workspace(uint16_t **p, long *cap, long elements) {
    if (elements > *cap) {
        pthread_once(&ws_once, ws_key_create);
        pthread_setspecific(ws_key, &ws);  /* the destructor runs at this thread's exit */
        free(*p);
        long bytes = (elements * 2 + 63) / 64 * 64;
        *p = aligned_alloc(64, bytes);
        if (!*p) abort();
        *cap = elements;
    }
    return *p;
}

struct bf16_job {
    long parts, m, n, k, lda, ldb, ldc;
    long block0, blocks;  /* B's 32-column blocks the packing covers: block0 ..< block0 + blocks */
    int transA, transB;
    const float *a, *b;
    uint16_t *ap, *bp;
    const uint16_t *packed;
    float alpha, beta;
    float *c;
};

/* Part w's share of `units` (column or row pairs): [lo, hi) in tiles. */
static void share(long units, long parts, long w, long *lo, long *hi) {
    *lo = units * w / parts * 2;
    *hi = units * (w + 1) / parts * 2;
}

static void pack_part(void *ctx, long w) {
    const struct bf16_job *j = ctx;
    long lo, hi;
    if (j->a) {
        share(round32(j->m) / 32, j->parts, w, &lo, &hi);
        pack_a(j->transA, j->m, j->k, j->a, j->lda, j->ap, lo, hi);
    }
    if (j->b) {
        share(j->blocks, j->parts, w, &lo, &hi);
        pack_b(j->transB, j->k, j->n, j->b, j->ldb, j->bp, lo + 2 * j->block0, hi + 2 * j->block0);
    }
}

static void compute_part(void *ctx, long w) {
    const struct bf16_job *j = ctx;
    long lo, hi;
    share(round32(j->n) / 32, j->parts, w, &lo, &hi);
    if (lo >= hi) return;
    if (atomic_load(&selected) == DDPLM_BF16_AMX) compute_amx(j->ap, j->packed, j->m, j->n, j->k, lo, hi, j->alpha, j->beta, j->c, j->ldc);
    else compute_avx512(j->ap, j->packed, j->m, j->n, j->k, lo, hi, j->alpha, j->beta, j->c, j->ldc);
}

static long part_count(long threads, long n) {
    long blocks = round32(n) / 32;
    return threads < 1 ? 1 : threads < blocks ? threads : blocks;
}

static void run(long parts, ddplm_part_fn fn, struct bf16_job *j) {
    if (parts <= 1) fn(j, 0);
    else ddplm_parallel(parts, fn, j);
}

/* K = 0: C = beta·C. */
static void scale_only(long m, long n, float beta, float *c, long ldc) {
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
}

void ddplm_gemm_bf16(long threads, int transA, int transB, long m, long n, long k, float alpha, const float *a,
                     long lda, const float *b, long ldb, float beta, float *c, long ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { scale_only(m, n, beta, c, ldc); return; }
    struct bf16_job j = {.parts = part_count(threads, n), .m = m, .n = n, .k = k, .lda = lda, .ldb = ldb,
                         .ldc = ldc, .transA = transA, .transB = transB, .a = a, .b = b, .alpha = alpha,
                         .beta = beta, .c = c, .blocks = round32(n) / 32};
    j.ap = workspace(&ws.a, &ws.a_cap, round32(m) * round32(k));
    j.bp = workspace(&ws.b, &ws.b_cap, ddplm_bf16_packed_size(k, n));
    j.packed = j.bp;
    run(j.parts, pack_part, &j);
    run(j.parts, compute_part, &j);
}

void ddplm_bf16_pack_b_parts(long threads, int trans, long k, long n, const float *b, long ldb,
                             unsigned short *packed) {
    if (n <= 0 || k <= 0) return;
    struct bf16_job j = {.parts = part_count(threads, n), .n = n, .k = k, .ldb = ldb, .transB = trans, .b = b,
                         .bp = packed, .blocks = round32(n) / 32};
    run(j.parts, pack_part, &j);
}

void ddplm_bf16_pack_b_blocks(long threads, int trans, long k, long n, const float *b, long ldb,
                              unsigned short *packed, long block0, long block1) {
    long blocks = round32(n) / 32;
    if (block1 > blocks) block1 = blocks;
    if (n <= 0 || k <= 0 || block0 >= block1) return;
    struct bf16_job j = {.parts = threads < 1 ? 1 : threads < block1 - block0 ? threads : block1 - block0, .n = n, .k = k,
                         .ldb = ldb, .transB = trans, .b = b, .bp = packed, .block0 = block0, .blocks = block1 - block0};
    run(j.parts, pack_part, &j);
}

void ddplm_gemm_bf16_packed_parts(long threads, long m, long n, long k, const float *a, long lda,
                                  const unsigned short *packed, float beta, float *c, long ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { scale_only(m, n, beta, c, ldc); return; }
    struct bf16_job j = {.parts = part_count(threads, n), .m = m, .n = n, .k = k, .lda = lda, .ldc = ldc,
                         .a = a, .packed = packed, .alpha = 1, .beta = beta, .c = c};
    j.ap = workspace(&ws.a, &ws.a_cap, round32(m) * round32(k));
    pack_a(0, m, k, a, lda, j.ap, 0, round32(m) / 16);
    run(j.parts, compute_part, &j);
}

#else /* not x86-64: no bf16 kernel */
int ddplm_bf16_features(void) { return 0; }
void ddplm_bf16_select(int kernel) { abort(); }
long ddplm_bf16_packed_size(long k, long n) { return ((n + 31) / 32 * 32) * ((k + 31) / 32 * 32); }
void ddplm_gemm_bf16(long threads, int transA, int transB, long m, long n, long k, float alpha, const float *a,
                     long lda, const float *b, long ldb, float beta, float *c, long ldc) { abort(); }
void ddplm_bf16_pack_b_parts(long threads, int trans, long k, long n, const float *b, long ldb,
                             unsigned short *packed) { abort(); }
void ddplm_gemm_bf16_packed_parts(long threads, long m, long n, long k, const float *a, long lda,
                                  const unsigned short *packed, float beta, float *c, long ldc) { abort(); }
void ddplm_bf16_pack_b_blocks(long threads, int trans, long k, long n, const float *b, long ldb,
                              unsigned short *packed, long block0, long block1) { abort(); }
#endif
