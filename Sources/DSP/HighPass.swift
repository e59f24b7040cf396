// The noise's high-pass below the fundamental (docs/model-format.md, "Noise below the fundamental").
import Glibc

/// A second-order Butterworth high-pass (Q = 1/√2, the bilinear transform with a pre-warped
/// cutoff) in transposed direct form II, the structure `scipy.signal.lfilter` uses, so the
/// trainer's twin keeps the same state across a cutoff change. A value type with no heap state:
/// real-time safe. A cutoff below ``minimumCutoffHz`` passes the signal unchanged.
///
/// Coefficients and state are doubles: near 0 Hz both poles sit next to z = 1, closer to it than
/// a float's rounding of `a1` (a 1 Hz cutoff at 48 kHz puts them 9e-5 from the unit circle, and
/// float rounding moved one outside it), so in single precision a blend that gave a cutoff of a
/// few mHz grew the noise into full-scale DC.
public struct HighPassBiquad {
    /// Cutoffs below this pass the signal unchanged: a 5 Hz high-pass takes 0.02 dB at 20 Hz, and
    /// the filter's poles stay far from the unit circle above it at any rate up to 192 kHz.
    public static let minimumCutoffHz: Double = 5
    private var b0: Double = 1, b1: Double = 0, b2: Double = 0, a1: Double = 0, a2: Double = 0
    private var s1: Double = 0, s2: Double = 0
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

    /// Sets the cutoff (below ``minimumCutoffHz``, NaN included: off); the state carries on.
    /// Real-time safe.
    public mutating func set(cutoffHz: Double, sampleRate: Double) {
        guard cutoffHz >= Self.minimumCutoffHz else {
            isOn = false
            return
        }
        (b0, b1, b2, a1, a2) = Self.coefficients(cutoffHz: cutoffHz, sampleRate: sampleRate)
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
        let xd = Double(x)
        let y = b0 * xd + s1
        s1 = b1 * xd - a1 * y + s2
        s2 = b2 * xd - a2 * y
        return Float(y)
    }
}
