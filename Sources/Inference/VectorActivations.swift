// Branch-free versions of the activations the decoder evaluates per voice-frame (the GRU's gates
// and the control scaling's exp_sigmoid). They make no library calls, so a plain loop over them
// is vectorised by the compiler (AVX2 on x86-64 with -target-cpu haswell, NEON on arm64) where
// a loop of libm calls runs one value at a time.
//
// exp and log follow the classic Cephes single-precision scheme (range reduction to a small
// interval, a minimax polynomial, the exponent put back by bit manipulation): the polynomials are
// the published Cephes coefficients; rounding to an integer uses the 1.5·2^23 trick instead of a
// conversion. Accuracy against libm: Tests/InferenceTests/VectorActivationTests (a few ulp).

/// Branch-free activations for vectorised loops. Every function is real-time safe: arithmetic
/// on one value, no allocation, no call.
public enum VectorActivation {
    /// 1.5 · 2^23: adding it rounds a float of magnitude < 2^22 to an integer, held in the low
    /// mantissa bits.
    @usableFromInline static let roundingMagic: Float = 12_582_912

    /// `e^x` (inputs clamped to [-87.3, 88], where single precision neither overflows nor goes
    /// subnormal). Real-time safe.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let x = min(max(x, -87.3), 88)
        let t = x * 1.44269504088896341 + roundingMagic
        let n = t - roundingMagic  // round(x / ln 2)
        // r = x - n ln 2, in two parts for precision
        let r = (x - n * 0.693359375) + n * 2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let y = p * (r * r) + r + 1
        // 2^n: n sits in t's low mantissa bits; move it (+ bias 127) into the exponent field
        let scale = Float(bitPattern: (t.bitPattern &- roundingMagic.bitPattern &+ 127) &<< 23)
        return y * scale
    }

    /// Natural logarithm, for positive finite inputs (the decoder's are sigmoids in (0, 1]; smaller
    /// than the least normal float reads as it). Real-time safe.
    @inlinable @inline(__always)
    public static func log(_ x: Float) -> Float {
        let bits = max(x, Float.leastNormalMagnitude).bitPattern
        var e = Float(Int32(bitPattern: (bits &>> 23) & 0xFF) &- 126)
        var m = Float(bitPattern: (bits & 0x007F_FFFF) | 0x3F00_0000)  // mantissa in [0.5, 1)
        let small = m < 0.707106781186547524
        e = small ? e - 1 : e
        m = small ? m + m - 1 : m - 1
        let z = m * m
        var y: Float = 7.0376836292e-2
        y = y * m - 1.1514610310e-1
        y = y * m + 1.1676998740e-1
        y = y * m - 1.2420140846e-1
        y = y * m + 1.4249322787e-1
        y = y * m - 1.6668057665e-1
        y = y * m + 2.0000714765e-1
        y = y * m - 2.4999993993e-1
        y = y * m + 3.3333331174e-1
        y = y * m * z
        y = y + e * -2.12194440e-4
        y = y - 0.5 * z
        return m + y + e * 0.693359375
    }

    /// Logistic sigmoid `1 / (1 + e^-x)`. Real-time safe.
    @inlinable @inline(__always)
    public static func sigmoid(_ x: Float) -> Float {
        1 / (1 + exp(-x))
    }

    /// tanh, as `1 - 2 / (e^{2x} + 1)` (exact at ±large x; absolute error ~1e-7 near 0).
    /// Real-time safe.
    @inlinable @inline(__always)
    public static func tanh(_ x: Float) -> Float {
        1 - 2 / (exp(x + x) + 1)
    }

    /// DDSP's `exp_sigmoid(x) = 2 · sigmoid(x)^ln(10) + 1e-7`, as
    /// `2 · exp(ln(10) · log(sigmoid(x))) + 1e-7`. Real-time safe.
    @inlinable @inline(__always)
    public static func expSigmoid(_ x: Float) -> Float {
        2 * exp(Activation.ln10 * log(sigmoid(x))) + 1e-7
    }
}

/// Eight lanes at a time: the same operations as the scalar functions of `VectorActivation`, in
/// the same order, so each lane is bit-identical to the scalar result (Tests/InferenceTests,
/// VectorActivationTests). Real-time safe, except that a debug build instantiates the SIMD8
/// integer types' metadata on first use (it allocates): call `warmUp()` once off the real-time
/// thread (the layers that use these do it at init).
public enum VectorActivation8 {
    /// Evaluates each function once, so that a debug build's generic metadata exists before the
    /// real-time thread needs it (allocates there; not real-time).
    public static func warmUp() {
        let x = SIMD8<Float>(repeating: 0.5)
        _ = sigmoid(x) + tanh(x) + exp(x)
    }

    /// `e^x` per lane, as `VectorActivation.exp`. Real-time safe.
    @inlinable @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let magic = VectorActivation.roundingMagic
        let x = x.replacing(with: -87.3, where: x .< -87.3).replacing(with: 88, where: x .> 88)
        let t = x * 1.44269504088896341 + magic
        let n = t - magic  // round(x / ln 2)
        let r = (x - n * 0.693359375) + n * 2.12194440e-4
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let y = p * (r * r) + r + 1
        let bits = (unsafeBitCast(t, to: SIMD8<UInt32>.self) &- magic.bitPattern &+ 127) &<< 23
        return y * unsafeBitCast(bits, to: SIMD8<Float>.self)
    }

    /// Logistic sigmoid per lane, as `VectorActivation.sigmoid`. Real-time safe.
    @inlinable @inline(__always)
    public static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
        1 / (1 + exp(-x))
    }

    /// tanh per lane, as `VectorActivation.tanh`. Real-time safe.
    @inlinable @inline(__always)
    public static func tanh(_ x: SIMD8<Float>) -> SIMD8<Float> {
        1 - 2 / (exp(x + x) + 1)
    }
}
