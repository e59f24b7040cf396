// Scalar activations shared by the decoder, the GRU and the control scaling.
//
// The C math library (libm) supplies exp, log and tanh; it is a system library, not Foundation.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Scalar activation functions used by the timbred network (docs/model-format.md, "Building blocks").
///
/// Every function is real-time safe: pure arithmetic, no allocation.
public enum Activation {
    /// ln(10): the exponent of `exp_sigmoid`.
    public static let ln10: Float = 2.302585092994046

    /// `e^x`. Real-time safe.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        expf(x)
    }

    /// Logistic sigmoid `1 / (1 + e^-x)`. Real-time safe.
    @inlinable @inline(__always)
    public static func sigmoid(_ x: Float) -> Float {
        1 / (1 + expf(-x))
    }

    /// Hyperbolic tangent. Real-time safe.
    @inlinable @inline(__always)
    public static func tanh(_ x: Float) -> Float {
        tanhf(x)
    }

    /// Leaky ReLU: `x` for `x ≥ 0`, `slope · x` otherwise. Real-time safe.
    @inlinable @inline(__always)
    public static func leakyReLU(_ x: Float, slope: Float) -> Float {
        x >= 0 ? x : slope * x
    }

    /// DDSP's scale function `exp_sigmoid(x) = 2 · sigmoid(x)^ln(10) + 1e-7`. Real-time safe.
    ///
    /// Computed as `2 · exp(ln(10) · ln(sigmoid(x)))`, which is what `pow` does, without its special
    /// cases; for very negative `x` the power underflows to 0 and the result is the 1e-7 floor.
    @inlinable @inline(__always)
    public static func expSigmoid(_ x: Float) -> Float {
        let s = sigmoid(x)
        return 2 * powf(s, ln10) + 1e-7
    }

    /// MIDI note number of a frequency, `69 + 12 log2(max(f0, 1e-3) / 440)`. Real-time safe.
    @inlinable @inline(__always)
    public static func midiNote(hz: Float) -> Float {
        69 + 12 * log2f(max(hz, 1e-3) / 440)
    }
}
