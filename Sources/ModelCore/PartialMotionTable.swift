/// Partial motion (docs/model-format.md, "Partial motion"): how much each partial's level moves
/// around its course, against the note's level, while a real note is held (vibrato walking the
/// partials over the formants, bowing, breath), per instrument: the standard deviation in dB for
/// each group of partials and the correlation from one control frame to the next. Blended over instruments by the model's
/// blend rule, like the other tables.
///
/// Immutable; ``parameters(z:scratch:depthDB:)`` is real-time safe.
public struct PartialMotionTable: Sendable, Equatable {
    /// Largest depth a file may hold, in dB.
    public static let maxDepthDB: Float = 20
    /// I, instruments.
    public let instrumentCount: Int
    /// Z, latent dimensions.
    public let zDim: Int
    /// `motion.harmonic_edges` [G + 1]: group g holds partials `edges[g] ..< edges[g + 1]` (1-based).
    public let harmonicEdges: [Int]
    /// `motion.depth_db` [I, G]: standard deviation of a partial's level around its course, against
    /// the note's level, dB.
    public let depthDB: [Float]
    /// `motion.correlation` [I]: correlation of that motion from one frame to the next, in [0, 1).
    public let correlation: [Float]
    /// `latent.means` [I, Z], row-major.
    public let latentMeans: [Float]
    /// s of the blend (the envelopes' `envelope_blend_scale`).
    public let blendScale: Double
    /// The blend rule (metadata `envelope_blend`).
    public let blendRule: LatentBlendRule

    /// G, groups of partials.
    public var groupCount: Int { harmonicEdges.count - 1 }

    /// Wraps validated values (the loader checks shapes and ranges).
    public init(instrumentCount: Int, zDim: Int, harmonicEdges: [Int], depthDB: [Float], correlation: [Float],
                latentMeans: [Float], blendScale: Double, blendRule: LatentBlendRule) {
        precondition(harmonicEdges.count >= 2 && harmonicEdges.first == 1)
        precondition(depthDB.count == instrumentCount * (harmonicEdges.count - 1))
        precondition(correlation.count == instrumentCount && latentMeans.count == instrumentCount * zDim)
        self.instrumentCount = instrumentCount
        self.zDim = zDim
        self.harmonicEdges = harmonicEdges
        self.depthDB = depthDB
        self.correlation = correlation
        self.latentMeans = latentMeans
        self.blendScale = blendScale
        self.blendRule = blendRule
    }

    /// The depth per group (G values into `depthDB`) and the frame-to-frame correlation (returned)
    /// at latent point `z`. Real-time safe: `scratch` holds at least I doubles.
    public func parameters(z: UnsafePointer<Float>, scratch weights: UnsafeMutablePointer<Double>,
                           depthDB out: UnsafeMutablePointer<Float>) -> Float {
        latentMeans.withUnsafeBufferPointer { means in
            blendRule.weights(z: z, means: means, instrumentCount: instrumentCount, zDim: zDim, scale: blendScale,
                              into: weights)
        }
        let g = groupCount
        out.update(repeating: 0, count: g)
        // (no local captured and changed by a closure: a debug build boxes one on the heap)
        depthDB.withUnsafeBufferPointer { table in
            for i in 0..<instrumentCount {
                let w = weights[i]
                guard w.isFinite, w > 1e-7 else { continue }
                let row = table.baseAddress! + i * g
                for x in 0..<g { out[x] += Float(w) * row[x] }
            }
        }
        var rho: Double = 0
        for i in 0..<instrumentCount where weights[i].isFinite && weights[i] > 1e-7 {
            rho += weights[i] * Double(correlation[i])
        }
        return Float(min(max(rho, 0), 0.999))
    }

    /// Array form of ``parameters(z:scratch:depthDB:)`` (allocates; not real-time).
    public func parameters(z: [Float]) -> (depthDB: [Float], correlation: Float) {
        precondition(z.count >= zDim)
        var scratch = [Double](repeating: 0, count: max(1, instrumentCount))
        var out = [Float](repeating: 0, count: groupCount)
        let rho = z.withUnsafeBufferPointer { zb in
            scratch.withUnsafeMutableBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    parameters(z: zb.baseAddress!, scratch: s.baseAddress!, depthDB: o.baseAddress!)
                }
            }
        }
        return (out, rho)
    }
}
