#ifndef DDPLM_PACKED_GEMM_H
#define DDPLM_PACKED_GEMM_H
/* GEMM with a pre-packed right-hand side, for the recurrent layers' per-time-step products
   C[M×N] = A[M×K]·B[K×N] (+ beta·C) with a small M (the batch) and a B that stays the same for a whole
   window (W_hhᵀ forward, W_hh backward). A BLAS packs B again on every call, reading and writing the
   whole weight (6.8 MB at H = 650) for a product that reads it once; here B is packed once per window
   into panels of DDPLM_PACK_NR columns (K rows each, zero-padded on the right), and each call streams
   it once. Row-major, like ddplm_sgemm. Kernels: AVX-512 (up to 8 rows × 32 columns per register tile),
   AVX2+FMA (6 × 16), and a plain C loop; chosen at run time. */

#define DDPLM_PACK_NR 32

/* Floats a packed K×N matrix takes: ceil(N / NR) · NR · K. */
long ddplm_packed_size(long k, long n);

/* Packs B (K×N; element (p, j) is b[p·ldb + j], or b[j·ldb + p] when trans) into `packed`. */
void ddplm_pack_b(int trans, long k, long n, const float *b, long ldb, float *packed);
/* The same with a given packing (tests): 0 plain C, 1 AVX2 (a transposed B's whole panels in 8×8 register
   blocks; untransposed, a panel row is one memcpy either way).
   Returns 0 (and does nothing) when this CPU lacks it, else 1. Both write the same bytes. */
int ddplm_pack_b_isa(int isa, int trans, long k, long n, const float *b, long ldb, float *packed);

/* C = A·B + beta·C, B packed by ddplm_pack_b (beta 0: C is only written). */
void ddplm_gemm_packed(long m, long n, long k, const float *a, long lda, const float *packed, float beta,
                       float *c, long ldc);

/* The same with a given kernel (tests): 0 plain C, 1 AVX2+FMA, 2 AVX-512. Returns 0 (and does nothing)
   when this CPU lacks it, else 1. ddplm_gemm_packed_kernel: the kernel ddplm_gemm_packed uses. */
int ddplm_gemm_packed_isa(int isa, long m, long n, long k, const float *a, long lda, const float *packed,
                          float beta, float *c, long ldc);
int ddplm_gemm_packed_kernel(void);
#endif
