/// The noise's high-pass below the fundamental (docs/model-format.md, "Noise below the
/// fundamental"): per instrument, the cutoff of a second-order Butterworth high-pass on each
/// voice's filtered noise as a ratio of the voice's f0 (0: none). The noise bands are 375 Hz
/// apart, so without it a note's noise reaches 0 Hz whatever its pitch. Blended over instruments
/// by the model's blend rule, like the other tables.
///
/// Immutable; ``ratio(z:scratch:)`` is real-time safe.
public struct NoiseHighPassTable: Sendable, Equatable {
    /// Largest ratio a file may hold (twice the fundamental).
    public static let maxRatio: Float = 2
    /// I, instruments.
    public let instrumentCount: Int
    /// Z, latent dimensions.
    public let zDim: Int
    /// `highpass.ratio` [I]: the cutoff over f0.
    public let ratios: [Float]
    /// `latent.means` [I, Z], row-major.
    public let latentMeans: [Float]
    /// s of the blend (the envelopes' `envelope_blend_scale`).
    public let blendScale: Double
    /// The blend rule (metadata `envelope_blend`).
    public let blendRule: LatentBlendRule
    /// The table's blend (rule, scale, means), to share blend weights with tables of the same one.
    public var blend: LatentBlend {
        LatentBlend(rule: blendRule, scale: blendScale, means: latentMeans, instrumentCount: instrumentCount, zDim: zDim)
    }

    /// Wraps validated values (the loader checks shape and range).
    public init(instrumentCount: Int, zDim: Int, ratios: [Float], latentMeans: [Float], blendScale: Double,
                blendRule: LatentBlendRule) {
        precondition(ratios.count == instrumentCount && latentMeans.count == instrumentCount * zDim)
        self.instrumentCount = instrumentCount
        self.zDim = zDim
        self.ratios = ratios
        self.latentMeans = latentMeans
        self.blendScale = blendScale
        self.blendRule = blendRule
    }

    /// The cutoff over f0 at latent point `z`. Real-time safe: `scratch` holds at least I doubles.
    public func ratio(z: UnsafePointer<Float>, line: MorphLine = .none, scratch weights: UnsafeMutablePointer<Double>) -> Double {
        latentMeans.withUnsafeBufferPointer { means in
            blendRule.weights(z: z, means: means, instrumentCount: instrumentCount, zDim: zDim, scale: blendScale,
                              line: line, into: weights)
        }
        return ratio(weights: weights)
    }

    /// ``ratio(z:line:scratch:)`` from the point's blend `weights` already computed (I doubles, by
    /// this table's rule, scale and means: ``blend``). Real-time safe.
    public func ratio(weights: UnsafePointer<Double>) -> Double {
        var r: Double = 0
        for i in 0..<instrumentCount where weights[i].isFinite && weights[i] > 1e-7 {
            r += weights[i] * Double(ratios[i])
        }
        return r
    }

    /// Array form of ``ratio(z:scratch:)`` (allocates; not real-time).
    public func ratio(z: [Float]) -> Double {
        precondition(z.count >= zDim)
        var scratch = [Double](repeating: 0, count: max(1, instrumentCount))
        return z.withUnsafeBufferPointer { zb in
            scratch.withUnsafeMutableBufferPointer { ratio(z: zb.baseAddress!, scratch: $0.baseAddress!) }
        }
    }
}
