#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a latent point weighs the instruments of a model: the one rule behind every
/// per-instrument table the engine blends (the loudness envelopes, the inharmonicity), named by
/// the model file's metadata `envelope_blend` (docs/model-format.md, "Blend weights").
public enum LatentBlendRule: String, Sendable, Equatable {
    /// `w_i = softmax_i(-0.5 · |z - mean_i|² / s²)` (files without `envelope_blend`). A preset at
    /// an instrument's mean gets only 50-85 % of that instrument; the rest comes from its
    /// neighbours.
    case gaussian
    /// `w_i ∝ (|z - mean_i|² / s² + 1e-6)^-2`: exactly the instrument at its mean (what the
    /// decoder was trained with), a smooth mixture between means, and the nearest means dominate
    /// far from all of them.
    case inverseDistance = "inverse_distance"

    /// Writes the normalised weights of latent point `z` (Z floats) over the I instruments whose
    /// means are `means` ([I, Z] row-major) into `weights` (I doubles). Real-time safe: no
    /// allocation (and no generics, whose first use may allocate their metadata).
    public func weights(z: UnsafePointer<Float>, means: UnsafeBufferPointer<Float>, instrumentCount: Int, zDim: Int,
                        scale: Double, into weights: UnsafeMutablePointer<Double>) {
        let inverseScale2 = 1 / (scale * scale)
        var best = -Double.infinity
        for i in 0..<instrumentCount {
            weights[i] = score(squaredDistance(z, means, i, zDim), inverseScale2)
            best = max(best, weights[i])
        }
        var sum: Double = 0
        for i in 0..<instrumentCount {
            if self == .gaussian { weights[i] = exp(weights[i] - best) }
            sum += weights[i]
        }
        // NaN in z gives NaN weights; the tables' lookups map NaN to their floor
        let inverse = 1 / sum
        for i in 0..<instrumentCount { weights[i] *= inverse }
    }

    /// The same weights into I floats (each computed in double precision). Real-time safe.
    public func weights(z: UnsafePointer<Float>, means: UnsafeBufferPointer<Float>, instrumentCount: Int, zDim: Int,
                        scale: Double, into weights: UnsafeMutablePointer<Float>) {
        let inverseScale2 = 1 / (scale * scale)
        var best = -Double.infinity
        for i in 0..<instrumentCount {
            let s = score(squaredDistance(z, means, i, zDim), inverseScale2)
            weights[i] = Float(s)
            best = max(best, s)
        }
        var sum: Double = 0
        for i in 0..<instrumentCount {
            if self == .gaussian { weights[i] = Float(exp(Double(weights[i]) - best)) }
            sum += Double(weights[i])
        }
        let inverse = 1 / sum
        for i in 0..<instrumentCount { weights[i] = Float(Double(weights[i]) * inverse) }
    }

    /// `|z - mean_i|²` in double precision.
    @inline(__always)
    private func squaredDistance(_ z: UnsafePointer<Float>, _ means: UnsafeBufferPointer<Float>, _ i: Int,
                                 _ zDim: Int) -> Double {
        var d2: Double = 0
        for j in 0..<zDim {
            let d = Double(z[j]) - Double(means[i * zDim + j])
            d2 += d * d
        }
        return d2
    }

    /// The rule's unnormalised weight: the gaussian's logit, or `(d²/s² + 1e-6)^-2`.
    @inline(__always)
    private func score(_ d2: Double, _ inverseScale2: Double) -> Double {
        switch self {
        case .gaussian:
            return -0.5 * d2 * inverseScale2
        case .inverseDistance:
            let a = d2 * inverseScale2 + 1e-6
            return 1 / (a * a)
        }
    }
}
