/* ddplm's loops that run on several threads (`ComputeThreads`), as C functions over ddplm_parallel
   (thread_pool.c). A Swift closure handed to another thread needs an escaping context, which costs a heap
   allocation per call (DispatchQueue.concurrentPerform's box, or withoutActuallyEscaping's thunk): these
   allocate nothing. Each splits its work into `parts` fixed pieces, so the result does not depend on
   which thread runs which piece. */
#include "ddplm_kernels.h"

/* --- the packed per-step products: each part whole panels of columns ------------------------------- */

struct packed_job {
    long parts, panels, m, n, k, lda, ldb, ldc;
    int trans;
    const float *a, *b, *packed;
    float *out, *c;
    float beta;
};

static void packed_columns(const struct packed_job *j, long part, long *lo, long *hi) {
    *lo = j->panels * part / j->parts * DDPLM_PACK_NR;
    long h = j->panels * (part + 1) / j->parts * DDPLM_PACK_NR;
    *hi = h < j->n ? h : j->n;
}

static void gemm_part(void *ctx, long part) {
    const struct packed_job *j = ctx;
    long lo, hi;
    packed_columns(j, part, &lo, &hi);
    if (lo < hi) ddplm_gemm_packed(j->m, hi - lo, j->k, j->a, j->lda, j->packed + lo * j->k, j->beta, j->c + lo, j->ldc);
}

static void pack_part(void *ctx, long part) {
    const struct packed_job *j = ctx;
    long lo, hi;
    packed_columns(j, part, &lo, &hi);
    if (lo < hi) ddplm_pack_b(j->trans, j->k, hi - lo, j->b + lo * (j->trans ? j->ldb : 1), j->ldb, j->out + lo * j->k);
}

static long packed_parts(long threads, long n) {
    long panels = (n + DDPLM_PACK_NR - 1) / DDPLM_PACK_NR;
    return threads < panels ? threads : panels;
}

void ddplm_gemm_packed_parts(long threads, long m, long n, long k, const float *a, long lda, const float *packed,
                             float beta, float *c, long ldc) {
    long parts = packed_parts(threads, n);
    if (parts <= 1) { ddplm_gemm_packed(m, n, k, a, lda, packed, beta, c, ldc); return; }
    struct packed_job j = {.parts = parts, .panels = (n + DDPLM_PACK_NR - 1) / DDPLM_PACK_NR, .m = m, .n = n, .k = k,
                           .lda = lda, .ldc = ldc, .a = a, .packed = packed, .c = c, .beta = beta};
    ddplm_parallel(parts, gemm_part, &j);
}

void ddplm_pack_b_parts(long threads, int trans, long k, long n, const float *b, long ldb, float *packed) {
    long parts = packed_parts(threads, n);
    if (parts <= 1) { ddplm_pack_b(trans, k, n, b, ldb, packed); return; }
    struct packed_job j = {.parts = parts, .panels = (n + DDPLM_PACK_NR - 1) / DDPLM_PACK_NR, .n = n, .k = k,
                           .ldb = ldb, .trans = trans, .b = b, .out = packed};
    ddplm_parallel(parts, pack_part, &j);
}

/* --- Adam: contiguous 16-aligned slices ------------------------------------------------------------- */

struct adam_job {
    long parts, n;
    float *p, *m, *v, *g;
    float gscale, omb1, b2, omb2, step, bc2, eps;
    int zero;
};

/* Part k of `parts` over n elements: [*a, *b), starting on a multiple of 16, the last part to n. */
static void slice16(long n, long parts, long k, long *a, long *b) {
    *a = n * k / parts & ~15L;
    *b = k == parts - 1 ? n : n * (k + 1) / parts & ~15L;
}

static void adam_part(void *ctx, long k) {
    const struct adam_job *j = ctx;
    long a, b;
    slice16(j->n, j->parts, k, &a, &b);
    ddplm_adam(j->p + a, j->g + a, j->m + a, j->v + a, b - a, j->gscale, j->omb1, j->b2, j->omb2, j->step, j->bc2, j->eps, j->zero);
}

void ddplm_adam_parts(long parts, float *p, float *grad, float *m, float *v, long n, float gscale,
                      float one_minus_b1, float b2, float one_minus_b2, float step_size, float bc2_sqrt, float eps,
                      int zero_grad) {
    struct adam_job j = {parts, n, p, m, v, grad, gscale, one_minus_b1, b2, one_minus_b2, step_size, bc2_sqrt, eps, zero_grad};
    ddplm_parallel(parts, adam_part, &j);
}

/* --- ordered sums over ranks, with the result's sum of squares: whole blocks of DDPLM_SUMSQ_BLOCK ------ */

struct sum_job {
    long parts, count;
    float *dst;
    const float *const *src;
    int n;
    double *squares;
};

static void sum_part(void *ctx, long k) {
    const struct sum_job *j = ctx;
    long blocks = (j->count + DDPLM_SUMSQ_BLOCK - 1) / DDPLM_SUMSQ_BLOCK;
    long b0 = blocks * k / j->parts, b1 = blocks * (k + 1) / j->parts;
    long a = b0 * DDPLM_SUMSQ_BLOCK, b = b1 * DDPLM_SUMSQ_BLOCK < j->count ? b1 * DDPLM_SUMSQ_BLOCK : j->count;
    const float *src[64];  /* NodeSharedWeights.maxSummedRanks */
    for (int r = 0; r < j->n; r++) src[r] = j->src[r] + a;
    if (b > a) ddplm_sum_ordered_squares(j->dst + a, src, j->n, b - a, j->squares + b0);
}

double ddplm_sum_ordered_parts(long parts, float *dst, const float *const *src, int n, long count, double *squares) {
    struct sum_job j = {parts, count, dst, src, n, squares};
    ddplm_parallel(parts, sum_part, &j);
    double total = 0;  /* ddplm_sumsq's order: block by block */
    for (long b = 0; b < (count + DDPLM_SUMSQ_BLOCK - 1) / DDPLM_SUMSQ_BLOCK; b++) total += squares[b];
    return total;
}

/* --- softmax rows: rows·w/parts ..< rows·(w+1)/parts, each part its own bias-gradient row ------------- */

struct rows_job {
    long parts, rows, v, v0;
    float *logits, *partial, *stats;
    const float *bias, *lse, *ftargets;
    const int *targets;
    float scale;
    double *losses;
};

static void xent_part(void *ctx, long w) {
    const struct rows_job *j = ctx;
    float *pdb = j->partial ? j->partial + w * j->v : 0;
    for (long i = j->rows * w / j->parts; i < j->rows * (w + 1) / j->parts; i++) {
        float *row = j->logits + i * j->v;
        j->losses[i] = pdb ? ddplm_softmax_xent_row(row, j->v, j->bias, j->targets[i], j->scale, pdb)
                           : ddplm_xent_row(row, j->v, j->bias, j->targets[i]);
    }
}

void ddplm_softmax_xent_rows(long parts, long rows, float *logits, long v, const float *bias, const int *targets,
                             float scale, float *partial, double *losses) {
    struct rows_job j = {.parts = parts, .rows = rows, .v = v, .logits = logits, .partial = partial, .bias = bias,
                         .targets = targets, .scale = scale, .losses = losses};
    ddplm_parallel(parts, xent_part, &j);
}

static void vp_stats_part(void *ctx, long w) {
    const struct rows_job *j = ctx;
    for (long i = j->rows * w / j->parts; i < j->rows * (w + 1) / j->parts; i++) {
        float *row = j->logits + i * j->v, m;
        double s = ddplm_bias_max_sumexp_row(row, j->v, j->bias, &m);
        long target = (long)j->ftargets[i] - j->v0;
        j->stats[3 * i] = m;
        j->stats[3 * i + 1] = (float)s;
        j->stats[3 * i + 2] = target >= 0 && target < j->v ? row[target] : 0;
    }
}

void ddplm_vocab_stats_rows(long parts, long rows, float *logits, long v, const float *bias, const float *targets,
                            long v0, float *stats) {
    struct rows_job j = {.parts = parts, .rows = rows, .v = v, .v0 = v0, .logits = logits, .stats = stats, .bias = bias,
                         .ftargets = targets};
    ddplm_parallel(parts, vp_stats_part, &j);
}

static void vp_grad_part(void *ctx, long w) {
    const struct rows_job *j = ctx;
    float *pdb = j->partial + w * j->v;
    for (long i = j->rows * w / j->parts; i < j->rows * (w + 1) / j->parts; i++) {
        float *row = j->logits + i * j->v;
        ddplm_softmax_grad_row(row, j->v, j->lse[i], j->scale, pdb);
        long target = (long)j->ftargets[i] - j->v0;
        if (target >= 0 && target < j->v) { row[target] -= j->scale; pdb[target] -= j->scale; }
    }
}

void ddplm_vocab_grad_rows(long parts, long rows, float *logits, long v, const float *lse, const float *targets,
                           long v0, float scale, float *partial) {
    struct rows_job j = {.parts = parts, .rows = rows, .v = v, .v0 = v0, .logits = logits, .partial = partial, .lse = lse,
                         .ftargets = targets, .scale = scale};
    ddplm_parallel(parts, vp_grad_part, &j);
}
