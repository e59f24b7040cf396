// Load-time sample-rate conversion (Kaiser-windowed sinc). Allocates; never call on the audio thread.
import Glibc

/// Band-limited resampling of a finite signal from `sourceRate` to `targetRate` (Hz).
///
/// Each output sample at time `t = n / targetRate` is `Σ_m x[m] · c · sinc(c (t·fs - m)) · w`,
/// a sinc low-pass at `cutoff · min(fs, ft) / 2` windowed by a Kaiser window spanning
/// `zeroCrossings` zero crossings of the sinc on each side. The output has
/// `⌈count · targetRate / sourceRate⌉` samples; values of the signal are preserved (a sine keeps
/// its amplitude). Not real-time: allocates and costs O(count · zeroCrossings).
/// - Parameters:
///   - signal: samples at `sourceRate`.
///   - sourceRate: rate of `signal` in Hz.
///   - targetRate: rate of the result in Hz.
///   - cutoff: pass band edge as a fraction of the lower Nyquist frequency (default 0.97).
///   - zeroCrossings: half-length of the kernel in sinc zero crossings (default 32).
///   - kaiserBeta: Kaiser window shape (default 10, about -100 dB side lobes).
public func resample(signal: [Float], from sourceRate: Double, to targetRate: Double,
                     cutoff: Double = 0.97, zeroCrossings: Int = 32, kaiserBeta: Double = 10) -> [Float] {
    precondition(sourceRate > 0 && targetRate > 0 && zeroCrossings > 0)
    if sourceRate == targetRate || signal.isEmpty { return signal }
    let ratio = targetRate / sourceRate
    let outputCount = Int((Double(signal.count) * ratio).rounded(.up))
    // Cutoff relative to the source Nyquist frequency.
    let c = cutoff * min(1, ratio)
    let halfWidth = Double(zeroCrossings) / c  // in source samples
    // the Kaiser window sampled finely once, read with linear interpolation (error < 1e-8)
    let windowNorm = besselI0(kaiserBeta)
    let tableSize = 16384
    let table = (0...tableSize).map { i -> Double in
        let r = Double(i) / Double(tableSize)
        return besselI0(kaiserBeta * (max(0, 1 - r * r)).squareRoot()) / windowNorm
    }
    var output = [Float](repeating: 0, count: outputCount)
    for n in 0..<outputCount {
        let t = Double(n) / ratio  // position in source samples
        let first = max(0, Int((t - halfWidth).rounded(.up)))
        let last = min(signal.count - 1, Int((t + halfWidth).rounded(.down)))
        guard first <= last else { continue }
        var sum = 0.0
        for m in first...last {
            let x = t - Double(m)
            let position = min(abs(x / halfWidth), 1) * Double(tableSize)
            let k = min(Int(position), tableSize - 1)
            let window = table[k] + (table[k + 1] - table[k]) * (position - Double(k))
            let arg = Double.pi * c * x
            let sinc = abs(arg) < 1e-12 ? 1 : sin(arg) / arg
            sum += Double(signal[m]) * c * sinc * window
        }
        output[n] = Float(sum)
    }
    return output
}

/// Resamples an impulse response for use at `targetRate`: the waveform is resampled with
/// ``resample(signal:from:to:cutoff:zeroCrossings:kaiserBeta:)`` and scaled by
/// `sourceRate / targetRate`, so that convolving with it at `targetRate` has the same frequency
/// response (the same gain) as the original at `sourceRate`. Not real-time.
public func resample(ir: [Float], from sourceRate: Double, to targetRate: Double) -> [Float] {
    if sourceRate == targetRate { return ir }
    let scale = Float(sourceRate / targetRate)
    return resample(signal: ir, from: sourceRate, to: targetRate).map { $0 * scale }
}

/// Modified Bessel function of the first kind, order 0 (power series).
func besselI0(_ x: Double) -> Double {
    var sum = 1.0, term = 1.0
    let quarterSquare = x * x / 4
    var k = 1.0
    while term > 1e-17 * sum {
        term *= quarterSquare / (k * k)
        sum += term
        k += 1
    }
    return sum
}
