/* The AVX-512, AVX512-BF16 and AMX intrinsics bf16_gemm.c uses, emulated in plain C on 64-byte clang
   vectors, as the Intel SDM's pseudocode defines them (a lane at a time), so that the kernels' packing,
   blocking, tails and write-back can be checked on any CPU (check.c). The arithmetic follows the
   manuals: VCVTNE2PS2BF16 rounds to nearest even; VDPBF16PS adds the odd pair's product, then the even
   one's, each rounded to float; TDPBF16PS the even one's, then the odd one's. Denormals are not
   flushed (the checks use no denormal inputs). */
#ifndef DDPLM_BF16_EMULATED_H
#define DDPLM_BF16_EMULATED_H
#define DDPLM_BF16_EMULATE 1

#include <stdint.h>
#include <string.h>

typedef float __m512 __attribute__((vector_size(64)));
typedef long long __m512i __attribute__((vector_size(64)));
typedef uint16_t __m512bh __attribute__((vector_size(64)));
typedef uint16_t __mmask16;

typedef union { __m512 f; __m512i i; __m512bh h; float f32[16]; uint32_t u32[16]; uint64_t u64[8]; uint16_t u16[32]; } v512;

static inline v512 as_f(__m512 x) { v512 v; v.f = x; return v; }
static inline v512 as_i(__m512i x) { v512 v; v.i = x; return v; }
static inline v512 as_h(__m512bh x) { v512 v; v.h = x; return v; }

static inline float bf16_value(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }
static inline uint16_t bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  /* NaN: quiet */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

static inline __m512 _mm512_setzero_ps(void) { v512 v; memset(&v, 0, 64); return v.f; }
static inline __m512 _mm512_set1_ps(float x) { v512 v; for (int i = 0; i < 16; i++) v.f32[i] = x; return v.f; }
static inline __m512i _mm512_set1_epi32(int32_t x) { v512 v; for (int i = 0; i < 16; i++) v.u32[i] = (uint32_t)x; return v.i; }
static inline __m512 _mm512_loadu_ps(const void *p) { v512 v; memcpy(&v, p, 64); return v.f; }
static inline __m512i _mm512_loadu_si512(const void *p) { v512 v; memcpy(&v, p, 64); return v.i; }
static inline void _mm512_storeu_si512(void *p, __m512i x) { memcpy(p, &x, 64); }
static inline __m512 _mm512_maskz_loadu_ps(__mmask16 m, const float *p) {
    v512 v;
    for (int i = 0; i < 16; i++) v.f32[i] = (m >> i) & 1 ? p[i] : 0.0f;
    return v.f;
}
static inline void _mm512_mask_storeu_ps(float *p, __mmask16 m, __m512 x) {
    v512 v = as_f(x);
    for (int i = 0; i < 16; i++) if ((m >> i) & 1) p[i] = v.f32[i];
}
static inline __m512 _mm512_mul_ps(__m512 a, __m512 b) {
    v512 x = as_f(a), y = as_f(b);
    for (int i = 0; i < 16; i++) x.f32[i] = x.f32[i] * y.f32[i];
    return x.f;
}
static inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c) {
    v512 x = as_f(a), y = as_f(b), z = as_f(c);
    for (int i = 0; i < 16; i++) x.f32[i] = __builtin_fmaf(x.f32[i], y.f32[i], z.f32[i]);
    return x.f;
}
/* dst words 0..15 from b, 16..31 from a */
static inline __m512bh _mm512_cvtne2ps_pbh(__m512 a, __m512 b) {
    v512 x = as_f(a), y = as_f(b), d;
    for (int i = 0; i < 16; i++) { d.u16[i] = bf16_round(y.f32[i]); d.u16[16 + i] = bf16_round(x.f32[i]); }
    return d.h;
}
static inline __m512i _mm512_permutexvar_epi16(__m512i idx, __m512i a) {
    v512 x = as_i(idx), y = as_i(a), d;
    for (int i = 0; i < 32; i++) d.u16[i] = y.u16[x.u16[i] & 31];
    return d.i;
}
/* per 128-bit lane */
static inline __m512i _mm512_unpacklo_epi32(__m512i a, __m512i b) {
    v512 x = as_i(a), y = as_i(b), d;
    for (int l = 0; l < 4; l++) {
        d.u32[4 * l] = x.u32[4 * l]; d.u32[4 * l + 1] = y.u32[4 * l];
        d.u32[4 * l + 2] = x.u32[4 * l + 1]; d.u32[4 * l + 3] = y.u32[4 * l + 1];
    }
    return d.i;
}
static inline __m512i _mm512_unpackhi_epi32(__m512i a, __m512i b) {
    v512 x = as_i(a), y = as_i(b), d;
    for (int l = 0; l < 4; l++) {
        d.u32[4 * l] = x.u32[4 * l + 2]; d.u32[4 * l + 1] = y.u32[4 * l + 2];
        d.u32[4 * l + 2] = x.u32[4 * l + 3]; d.u32[4 * l + 3] = y.u32[4 * l + 3];
    }
    return d.i;
}
static inline __m512i _mm512_unpacklo_epi64(__m512i a, __m512i b) {
    v512 x = as_i(a), y = as_i(b), d;
    for (int l = 0; l < 4; l++) { d.u64[2 * l] = x.u64[2 * l]; d.u64[2 * l + 1] = y.u64[2 * l]; }
    return d.i;
}
static inline __m512i _mm512_unpackhi_epi64(__m512i a, __m512i b) {
    v512 x = as_i(a), y = as_i(b), d;
    for (int l = 0; l < 4; l++) { d.u64[2 * l] = x.u64[2 * l + 1]; d.u64[2 * l + 1] = y.u64[2 * l + 1]; }
    return d.i;
}
/* 128-bit lanes: dst 0, 1 from a (imm bits 1:0, 3:2), 2, 3 from b (5:4, 7:6) */
static inline __m512i _mm512_shuffle_i32x4(__m512i a, __m512i b, int imm) {
    v512 x = as_i(a), y = as_i(b), d;
    for (int l = 0; l < 4; l++) {
        const v512 *src = l < 2 ? &x : &y;
        int s = (imm >> (2 * l)) & 3;
        memcpy(&d.u32[4 * l], &src->u32[4 * s], 16);
    }
    return d.i;
}
/* VDPBF16PS: dst[i] = (src[i] + a.odd·b.odd) + a.even·b.even, each sum rounded to float */
static inline __m512 _mm512_dpbf16_ps(__m512 src, __m512bh a, __m512bh b) {
    v512 s = as_f(src), x = as_h(a), y = as_h(b);
    for (int i = 0; i < 16; i++) {
        float t = s.f32[i];
        t = t + bf16_value(x.u16[2 * i + 1]) * bf16_value(y.u16[2 * i + 1]);
        t = t + bf16_value(x.u16[2 * i]) * bf16_value(y.u16[2 * i]);
        s.f32[i] = t;
    }
    return s.f;
}

/* AMX with the palette-1 configuration bf16_gemm.c loads: 8 tiles of 16 rows × 64 bytes. */
static _Thread_local union { float f[16][16]; uint16_t h[16][32]; uint8_t b[16][64]; } emulated_tiles[8];
static inline void _tile_loadconfig(const void *cfg) { (void)cfg; }
static inline void _tile_release(void) {}
static inline void _tile_zero(int t) { memset(&emulated_tiles[t], 0, sizeof emulated_tiles[t]); }
static inline void _tile_loadd(int t, const void *base, long stride) {
    for (int r = 0; r < 16; r++) memcpy(emulated_tiles[t].b[r], (const char *)base + r * stride, 64);
}
static inline void _tile_stored(int t, void *base, long stride) {
    for (int r = 0; r < 16; r++) memcpy((char *)base + r * stride, emulated_tiles[t].b[r], 64);
}
/* TDPBF16PS: dst[m][n] += a[m].even·b[k].even, then += a[m].odd·b[k].odd, for each pair k in order */
static inline void _tile_dpbf16ps(int dst, int a, int b) {
    for (int m = 0; m < 16; m++)
        for (int k = 0; k < 16; k++)
            for (int n = 0; n < 16; n++) {
                float t = emulated_tiles[dst].f[m][n];
                t = t + bf16_value(emulated_tiles[a].h[m][2 * k]) * bf16_value(emulated_tiles[b].h[k][2 * n]);
                t = t + bf16_value(emulated_tiles[a].h[m][2 * k + 1]) * bf16_value(emulated_tiles[b].h[k][2 * n + 1]);
                emulated_tiles[dst].f[m][n] = t;
            }
}
#endif
