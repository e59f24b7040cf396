// The noise's high-pass below the fundamental (docs/model-format.md, "Noise below the fundamental").
import Glibc

/// A second-order Butterworth high-pass (Q = 1/√2, the bilinear transform with a pre-warped
/// cutoff) in transposed direct form II, the structure `scipy.signal.lfilter` uses, so the
/// trainer's twin keeps the same state across a cutoff change. A value type with no heap state:
/// real-time safe. A cutoff of 0 passes the signal unchanged.
public struct HighPassBiquad {
    private var b0: Float = 1, b1: Float = 0, b2: Float = 0, a1: Float = 0, a2: Float = 0
    private var s1: Float = 0, s2: Float = 0
    /// Whether a cutoff is set (false: ``process(_:)`` returns its input).
    public private(set) var isOn = false

    /// A filter that passes everything.
    public init() {}

    /// The coefficients (b0, b1, b2, a1, a2), normalised by a0, for `cutoffHz` at `sampleRate`.
    /// The cutoff is held below 0.45 of the rate. Real-time safe.
    public static func coefficients(cutoffHz: Double, sampleRate: Double) -> (Double, Double, Double, Double, Double) {
        let w0 = 2 * Double.pi * min(cutoffHz, 0.45 * sampleRate) / sampleRate
        let cosW = cos(w0), alpha = sin(w0) / (2 * 0.5.squareRoot())
        let a0 = 1 + alpha
        let b0 = (1 + cosW) / 2 / a0
        return (b0, -2 * b0, b0, -2 * cosW / a0, (1 - alpha) / a0)
    }

    /// Sets the cutoff (≤ 0: off); the state carries on. Real-time safe.
    public mutating func set(cutoffHz: Double, sampleRate: Double) {
        guard cutoffHz > 0 else {
            isOn = false
            return
        }
        let c = Self.coefficients(cutoffHz: cutoffHz, sampleRate: sampleRate)
        b0 = Float(c.0); b1 = Float(c.1); b2 = Float(c.2); a1 = Float(c.3); a2 = Float(c.4)
        isOn = true
    }

    /// Clears the state (a new note). Real-time safe.
    public mutating func clear() {
        s1 = 0
        s2 = 0
    }

    /// Filters one sample. Real-time safe.
    @inline(__always)
    public mutating func process(_ x: Float) -> Float {
        guard isOn else { return x }
        let y = b0 * x + s1
        s1 = b1 * x - a1 * y + s2
        s2 = b2 * x - a2 * y
        return y
    }
}
