// The output safety stage: NaN guard, DC blocker and soft limiter, in place on a block.
import Glibc

/// Per-channel output safety stage, applied in place to each block just before the ports.
///
/// For every sample, in order:
/// 1. NaN/±Inf → 0, and the DC blocker's state is cleared so one bad sample cannot ring on.
/// 2. DC blocker: one-pole/one-zero high-pass `y[n] = x[n] - x[n-1] + a·y[n-1]`,
///    `a = e^{-2π·dcCutoffHz/R}` (-3 dB near `dcCutoffHz`).
/// 3. Soft limiter: unity below `thresholdDB`; above it `T + (1 - T)·tanh((|y| - T) / (1 - T))`
///    (T = the threshold as an amplitude), continuous in value and slope, tending to full scale;
///    the result is bounded by the largest float below 1, so it never reaches 0 dBFS.
///
/// A value type with only scalars: copying it copies the filter state. Real-time safe.
public struct OutputStage {
    /// Output rate in Hz.
    public let sampleRate: Double
    /// Corner of the DC blocker in Hz.
    public let dcCutoffHz: Double
    /// Level above which the limiter bends, in dBFS.
    public let thresholdDB: Double

    private let pole: Float
    private let threshold: Float
    private let kneeRange: Float
    private let ceiling: Float = Float(1).nextDown
    private var previousInput: Float = 0
    private var previousOutput: Float = 0

    /// Creates the stage (no allocation).
    /// - Parameters:
    ///   - sampleRate: output rate R in Hz.
    ///   - dcCutoffHz: DC blocker corner (default 5 Hz).
    ///   - thresholdDB: limiter knee in dBFS, below 0 (default -3 dB).
    public init(sampleRate: Double, dcCutoffHz: Double = 5, thresholdDB: Double = -3) {
        precondition(sampleRate > 0 && dcCutoffHz > 0 && thresholdDB < 0)
        self.sampleRate = sampleRate
        self.dcCutoffHz = dcCutoffHz
        self.thresholdDB = thresholdDB
        pole = Float(exp(-2 * Double.pi * dcCutoffHz / sampleRate))
        threshold = Float(dbToAmplitude(thresholdDB))
        kneeRange = 1 - threshold
    }

    /// Clears the DC blocker's state. Real-time safe.
    public mutating func reset() {
        previousInput = 0
        previousOutput = 0
    }

    /// Processes `count` samples in place. Real-time safe.
    /// - Returns: how many non-finite samples were replaced by 0 (for the status ring).
    @discardableResult
    public mutating func process(_ samples: UnsafeMutablePointer<Float>, count: Int) -> Int {
        var replaced = 0
        var x1 = previousInput, y1 = previousOutput
        let a = pole, t = threshold, range = kneeRange, limit = ceiling
        for i in 0..<count {
            var x = samples[i]
            if !x.isFinite {
                x = 0
                x1 = 0
                y1 = 0
                replaced += 1
            }
            let y = x - x1 + a * y1
            x1 = x
            y1 = y
            let magnitude = abs(y)
            if magnitude > t {
                let bent = min(t + range * tanhf((magnitude - t) / range), limit)
                samples[i] = y < 0 ? -bent : bent
            } else {
                samples[i] = y
            }
        }
        // Keep denormals out of the state during silence, with or without FTZ.
        if abs(y1) < 1e-30 { y1 = 0 }
        if abs(x1) < 1e-30 { x1 = 0 }
        previousInput = x1
        previousOutput = y1
        return replaced
    }

    /// Processes a buffer in place. Real-time safe.
    @discardableResult
    public mutating func process(_ samples: UnsafeMutableBufferPointer<Float>) -> Int {
        guard let base = samples.baseAddress else { return 0 }
        return process(base, count: samples.count)
    }
}
