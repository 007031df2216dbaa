#ifndef DDPLM_BF16_GEMM_H
#define DDPLM_BF16_GEMM_H
/* GEMM with bfloat16 inputs and float accumulation (bf16_gemm.c): what PyTorch's
   torch.set_float32_matmul_precision("medium") lets a float32 matmul do. Row-major like ddplm_sgemm:
   C[M×N] = alpha · op(A)·op(B) + beta · C. A and B are rounded to bf16 (nearest, ties to even) while
   they are packed; each product is accumulated in float over K in the same order whatever the thread
   count; C stays float. Two kernels run on the same packed operands:
   - DDPLM_BF16_AVX512: AVX512-BF16's VDPBF16PS in registers (AMD Zen 4 and newer, Intel Cooper Lake,
     Sapphire Rapids and newer);
   - DDPLM_BF16_AMX: Intel AMX tiles (TDPBF16PS; Sapphire Rapids and newer).
   ddplm_bf16_features: the kernels this machine can run, as bits: DDPLM_BF16_AVX512 when the CPU has
   AVX512-BF16 and the OS saves the AVX-512 state, DDPLM_BF16_AMX when it also has AMX-BF16 and the kernel
   granted this process the tile state (arch_prctl ARCH_REQ_XCOMP_PERM; the first call asks).
   In the environment, DDPLM_AMX=0 hides AMX (to run the AVX512-BF16 kernel on an AMX CPU), and
   DDPLM_AVX512BF16=0 hides both (to see what a CPU without bf16 products does).
   ddplm_bf16_select: the kernel the products below run, one that ddplm_bf16_features reported (the
   choice is MatmulPrecision's). Nothing below may run before it. */

#define DDPLM_BF16_AVX512 1
#define DDPLM_BF16_AMX 2

int ddplm_bf16_features(void);
void ddplm_bf16_select(int kernel);

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
/* Packs B's 32-column blocks block0 ..< block1 only (of round32(n)/32), into the same places
   ddplm_bf16_pack_b_parts puts them: ranks that share the packed matrix each pack their blocks. */
void ddplm_bf16_pack_b_blocks(long threads, int trans, long k, long n, const float *b, long ldb,
                              unsigned short *packed, long block0, long block1);
void ddplm_gemm_bf16_packed_parts(long threads, long m, long n, long k, const float *a, long lda,
                                  const unsigned short *packed, float beta, float *c, long ldc);
#endif
