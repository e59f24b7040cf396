// AVX-512 kernel of DenseLayer (issue 17, item 2), chosen at run time where the CPU has it.
#include "CKernels.h"
#include <stdlib.h>

long timbred_avx512_min_batch(long fallback) {
    const char *text = getenv("TIMBRED_AVX512_MIN_BATCH");
    if (!text || !*text) return fallback;
    const long value = strtol(text, NULL, 10);
    return value <= 0 ? -1 : value;
}

#if defined(__x86_64__)
#include <immintrin.h>

int timbred_avx512_available(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return known;
}

#define AVX512 __attribute__((target("avx512f")))

/// Voices per register block: 8 voices x 2 zmm (32 outputs) = 16 accumulators.
enum { BLOCK_VOICES = 8, TILE = 32, INPUT_CHUNK = 128 };

/// One register block: `nv` rows x one tile (2 zmm when `wide`, else 1), over inputs k0..<k1.
/// Each accumulator starts at the bias (k0 == 0) or at the sum stored so far, then one FMA per
/// input in order. `nv` and `wide` are constants at every call (always inlined), so the arrays
/// live in registers.
static inline __attribute__((always_inline, target("avx512f")))
void block(int nv, int wide, const float *w, const float *bias, long n, const float *x, long xs,
           float *y, long ys, __mmask16 m0, __mmask16 m1, long k0, long k1) {
    __m512 a0[BLOCK_VOICES], a1[BLOCK_VOICES];
#pragma clang loop unroll(full)
    for (int v = 0; v < BLOCK_VOICES; v++) {
        if (v < nv) {
            if (k0 == 0) {
                a0[v] = _mm512_loadu_ps(bias);
                a1[v] = wide ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
            } else {
                a0[v] = _mm512_maskz_loadu_ps(m0, y + v * ys);
                a1[v] = wide ? _mm512_maskz_loadu_ps(m1, y + v * ys + 16) : _mm512_setzero_ps();
            }
        }
    }
    for (long i = k0; i < k1; i++) {
        const __m512 w0 = _mm512_load_ps(w + i * TILE);
        const __m512 w1 = wide ? _mm512_load_ps(w + i * TILE + 16) : _mm512_setzero_ps();
#pragma clang loop unroll(full)
        for (int v = 0; v < BLOCK_VOICES; v++) {
            if (v < nv) {
                const __m512 s = _mm512_set1_ps(x[v * xs + i]);
                a0[v] = _mm512_fmadd_ps(s, w0, a0[v]);
                if (wide) a1[v] = _mm512_fmadd_ps(s, w1, a1[v]);
            }
        }
    }
#pragma clang loop unroll(full)
    for (int v = 0; v < BLOCK_VOICES; v++) {
        if (v < nv) {
            _mm512_mask_storeu_ps(y + v * ys, m0, a0[v]);
            if (wide) _mm512_mask_storeu_ps(y + v * ys + 16, m1, a1[v]);
        }
    }
    (void)n;
}

#define BLOCK_CASE(NV) \
    case NV: if (wide) block(NV, 1, w, b, n, x, xs, y, ys, m0, m1, k0, k1); \
             else block(NV, 0, w, b, n, x, xs, y, ys, m0, m1, k0, k1); break;

static AVX512 __attribute__((noinline))
void run_block(int nv, int wide, const float *w, const float *b, long n, const float *x, long xs, float *y, long ys,
               __mmask16 m0, __mmask16 m1, long k0, long k1) {
    switch (nv) {
        BLOCK_CASE(1) BLOCK_CASE(2) BLOCK_CASE(3) BLOCK_CASE(4)
        BLOCK_CASE(5) BLOCK_CASE(6) BLOCK_CASE(7) BLOCK_CASE(8)
        default: break;
    }
}

AVX512
void timbred_dense_avx512(const float *packed, const float *bias, long n, long m, long batch,
                          const float *input, long xs, float *output, long ys) {
    const long tiles = (m + TILE - 1) / TILE;
    for (long t = 0; t < tiles; t++) {
        const long width = (m - t * TILE) < TILE ? (m - t * TILE) : TILE;
        const int wide = width > 16;
        const __mmask16 m0 = width >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << width) - 1);
        const __mmask16 m1 = width >= 32 ? (__mmask16)0xFFFF : (width > 16 ? (__mmask16)((1u << (width - 16)) - 1) : 0);
        const float *w = packed + t * TILE * n, *b = bias + t * TILE;
        float *y = output + t * TILE;
        const long chunk = batch > BLOCK_VOICES ? INPUT_CHUNK : n;
        for (long k0 = 0; k0 < n; k0 += chunk) {
            const long k1 = k0 + chunk < n ? k0 + chunk : n;
            // the batch in blocks of at most BLOCK_VOICES, as even as they come
            const long blocks = (batch + BLOCK_VOICES - 1) / BLOCK_VOICES;
            long row = 0;
            for (long k = 0; k < blocks; k++) {
                const long left = batch - row, voices = (left + (blocks - k) - 1) / (blocks - k);
                run_block((int)voices, wide, w, b, n, input + row * xs, xs, y + row * ys, ys, m0, m1, k0, k1);
                row += voices;
            }
        }
    }
}

/// 12 independent zmm accumulators, `iterations` turns of 12 FMAs (the AVX-512 counterpart of
/// the bench's SIMD8 FMA loop). Returns a value derived from the sums (keeps them alive).
AVX512
long timbred_fma_loop_avx512(long iterations) {
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    __m512 a[12];
    for (int k = 0; k < 12; k++) a[k] = _mm512_set1_ps(0.1f + 0.01f * (float)k);
    for (long i = 0; i < iterations; i++) {
#pragma clang loop unroll(full)
        for (int k = 0; k < 12; k++) a[k] = _mm512_fmadd_ps(a[k], m, c);
    }
    __m512 s = a[0];
    for (int k = 1; k < 12; k++) s = _mm512_add_ps(s, a[k]);
    return (long)(_mm512_reduce_add_ps(s) * 1000);
}

#else

int timbred_avx512_available(void) { return 0; }

long timbred_fma_loop_avx512(long iterations) { (void)iterations; return 0; }

void timbred_dense_avx512(const float *packed, const float *bias, long n, long m, long batch,
                          const float *input, long xs, float *output, long ys) {
    (void)packed; (void)bias; (void)n; (void)m; (void)batch; (void)input; (void)xs; (void)output; (void)ys;
}

#endif
