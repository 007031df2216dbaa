#ifndef DDPLM_AMX_GEMM_H
#define DDPLM_AMX_GEMM_H
/* GEMM with bfloat16 inputs and float accumulation on Intel AMX (amx_gemm.c): what PyTorch's
   torch.set_float32_matmul_precision("medium") lets a float32 matmul do. Row-major like ddplm_sgemm:
   C[M×N] = alpha · op(A)·op(B) + beta · C. A and B are rounded to bf16 (nearest, ties to even) while
   they are packed into tiles; each product is accumulated in float by the tile unit (TDPBF16PS), over
   K in the same order whatever the thread count; C stays float.
   ddplm_amx_available: 1 when this CPU has AMX-BF16 and AVX512-BF16 and the kernel granted this process
   the tile state (arch_prctl ARCH_REQ_XCOMP_PERM), else 0; the first call asks. DDPLM_AMX=0 in the
   environment makes it 0 (to see what a CPU without AMX does). Nothing below may run before it returned 1. */

int ddplm_amx_available(void);

/* C = alpha·op(A)·op(B) + beta·C (beta 0: C is only written), on up to `threads` parts of whole
   32-column blocks (ddplm_parallel). Packs into a per-calling-thread workspace that grows to the largest
   call and is kept. */
void ddplm_gemm_bf16(long threads, int transA, int transB, long m, long n, long k, float alpha, const float *a,
                     long lda, const float *b, long ldb, float beta, float *c, long ldc);

/* A right-hand side packed once for many products (the recurrent weight of a window), as PackedMatrix
   does for float: bf16 elements a packed K×N matrix takes, packing (element (p, j) is b[p·ldb + j], or
   b[j·ldb + p] when trans), and C[m×N] = A·B + beta·C with it. Same arithmetic as ddplm_gemm_bf16. */
long ddplm_bf16_packed_size(long k, long n);
void ddplm_bf16_pack_b_parts(long threads, int trans, long k, long n, const float *b, long ldb,
                             unsigned short *packed);
void ddplm_gemm_bf16_packed_parts(long threads, long m, long n, long k, const float *a, long lda,
                                  const unsigned short *packed, float beta, float *c, long ldc);
#endif
