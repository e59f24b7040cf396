/// The timbre encoder (docs/model-format.md, "Encoder"): note features → posterior mean and
/// log-variance of z. Used offline (`timbred encode`); allocates per call.
public final class Encoder: @unchecked Sendable {
    /// Features per note.
    public let featureCount: Int
    /// Latent size Z.
    public let zDim: Int
    /// Log-variance clamp range.
    public static let logvarRange: ClosedRange<Float> = -12...4
    let mlp: MLP
    let out: DenseLayer

    /// Builds the encoder (allocates).
    public init(weights: EncoderWeights) {
        featureCount = weights.featureCount
        zDim = weights.zDim
        mlp = MLP(weights.mlp)
        out = DenseLayer(weights.out)
    }

    /// Encodes `features.count / featureCount` notes (row-major `[n, featureCount]`).
    ///
    /// - Returns: `mu` and `logvar`, each `[n, zDim]` row-major; `logvar` clamped to [-12, 4].
    public func encode(features: [Float]) -> (mu: [Float], logvar: [Float]) {
        precondition(features.count % featureCount == 0, "Encoder.encode: features are not whole rows")
        let n = features.count / featureCount
        let hiddenWidth = mlp.outputCount
        var hidden = [Float](repeating: 0, count: n * hiddenWidth)
        var scratch = [Float](repeating: 0, count: max(1, mlp.scratchCount(batch: n)))
        var both = [Float](repeating: 0, count: n * 2 * zDim)
        features.withUnsafeBufferPointer { x in
            hidden.withUnsafeMutableBufferPointer { h in
                scratch.withUnsafeMutableBufferPointer { s in
                    both.withUnsafeMutableBufferPointer { o in
                        guard n > 0 else { return }
                        mlp.forward(batch: n, input: x.baseAddress!, inputStride: featureCount,
                                    output: h.baseAddress!, outputStride: hiddenWidth, scratch: s.baseAddress!)
                        out.forward(batch: n, input: h.baseAddress!, inputStride: hiddenWidth,
                                    output: o.baseAddress!, outputStride: 2 * zDim)
                    }
                }
            }
        }
        var mu = [Float](), logvar = [Float]()
        mu.reserveCapacity(n * zDim)
        logvar.reserveCapacity(n * zDim)
        for row in 0..<n {
            let base = row * 2 * zDim
            for j in 0..<zDim {
                mu.append(both[base + j])
                logvar.append(min(max(both[base + zDim + j], Self.logvarRange.lowerBound), Self.logvarRange.upperBound))
            }
        }
        return (mu, logvar)
    }
}
