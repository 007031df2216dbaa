#ifndef DDPLM_BLAS_H
#define DDPLM_BLAS_H
/* The few OpenBLAS entry points ddplm uses, declared here so the build does not depend on where the
   distribution put cblas.h. Signatures are OpenBLAS's (blasint = int for the LP64 build Debian ships). */

enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };

void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE transA, enum CBLAS_TRANSPOSE transB,
                 int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc);

void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
char *openblas_get_config(void);

/* Convenience wrappers with plain int arguments (row-major, transposes as 0/1). */
static inline void ddplm_sgemm(int transA, int transB, int M, int N, int K, float alpha,
                               const float *A, int lda, const float *B, int ldb, float beta,
                               float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
#endif
