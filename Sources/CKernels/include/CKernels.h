#ifndef TIMBRED_CKERNELS_H
#define TIMBRED_CKERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Nonzero when this CPU runs AVX-512F (checked once with __builtin_cpu_supports; 0 on other
/// architectures). Real-time safe after the first call (the first may initialise cpu features).
int timbred_avx512_available(void);

/// Dense layer on AVX-512: y[b][o] = bias[o] then one fused multiply-add per input in input
/// order (the same sum as DenseLayer's AVX2 kernel, so bit-identical), for `batch` rows.
///
/// `packed` holds tiles of 32 outputs: tile t (outputs 32t..32t+31) starts at float
/// 32 * t * inputCount and holds, for each input i in order, its 32 weights W[32t + l][i]
/// (zero past outputCount), 64-byte aligned. `bias` holds ceil(outputCount / 32) * 32 floats
/// (zero-padded). Row b reads input + b * inputStride (inputCount floats) and writes
/// outputCount floats to output + b * outputStride. Only on a CPU where
/// timbred_avx512_available() is nonzero. No allocation, no system call: real-time safe.
void timbred_dense_avx512(const float *packed, const float *bias, long inputCount, long outputCount, long batch,
                          const float *input, long inputStride, float *output, long outputStride);

/// The bench's AVX-512 FMA-peak loop: `iterations` turns of 12 independent 16-lane FMAs
/// (384 FLOPs a turn). Only where timbred_avx512_available() is nonzero (elsewhere returns 0).
long timbred_fma_loop_avx512(long iterations);

/// Overrides the smallest batch DenseLayer gives to the AVX-512 kernel (for measurements): the
/// value of TIMBRED_AVX512_MIN_BATCH when set (0 disables the kernel), else `fallback`. Read once.
long timbred_avx512_min_batch(long fallback);

#ifdef __cplusplus
}
#endif

#endif
