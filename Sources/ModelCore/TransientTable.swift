#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Attack transients (docs/model-format.md, "Transients"): what the first 100 ms of a real note
/// hold beyond harmonics and smooth noise (a mallet's click, a hammer, a pluck, a chiff), as K
/// basis envelopes of band noise and, per instrument, MIDI pitch and velocity anchor, the K
/// coefficients of a note's transient, blended over instruments by the model's blend rule.
///
/// Immutable; ``coefficients(z:pitch:velocity:scratch:into:)`` is real-time safe.
public struct TransientTable: Sendable, Equatable {
    /// Envelope frames per second (2 ms frames).
    public static let frameRateHz = 500.0
    /// T, envelope frames (100 ms).
    public static let frameCount = 50
    /// Pitches of the coefficient table: MIDI 0...127.
    public static let pitchCount = 128
    /// Band edges in Hz: 0, then 1/3-octave edges `1000 · 2^((n - 0.5) / 3)`, n = -13...14
    /// (44 Hz ... 22.6 kHz); B = 28 bands.
    public static let bandEdgesHz: [Double] = [0] + (-13...14).map { 1000 * pow(2, (Double($0) - 0.5) / 3) }
    /// B, bands.
    public static var bandCount: Int { bandEdgesHz.count - 1 }

    /// K, basis envelopes.
    public let basisCount: Int
    /// I, instruments.
    public let instrumentCount: Int
    /// Z, latent dimensions.
    public let zDim: Int
    /// `transient.basis` [K, T, B]: RMS amplitude of band b's noise at frame t, per basis envelope.
    public let basis: [Float]
    /// `transient.coefficients` [I, 128, V, K].
    public let coefficients: [Float]
    /// `transient.velocity_anchors` [V], increasing.
    public let velocityAnchors: [Double]
    /// `latent.means` [I, Z], row-major.
    public let latentMeans: [Float]
    /// s of the blend (the envelopes' `envelope_blend_scale`).
    public let blendScale: Double
    /// The blend rule (metadata `envelope_blend`).
    public let blendRule: LatentBlendRule

    /// Wraps validated values (the loader checks shapes and finiteness).
    public init(basisCount: Int, instrumentCount: Int, zDim: Int, basis: [Float], coefficients: [Float],
                velocityAnchors: [Double], latentMeans: [Float], blendScale: Double, blendRule: LatentBlendRule) {
        precondition(basisCount >= 1 && velocityAnchors.count >= 2)
        precondition(basis.count == basisCount * Self.frameCount * Self.bandCount)
        precondition(coefficients.count == instrumentCount * Self.pitchCount * velocityAnchors.count * basisCount)
        precondition(latentMeans.count == instrumentCount * zDim)
        self.basisCount = basisCount
        self.instrumentCount = instrumentCount
        self.zDim = zDim
        self.basis = basis
        self.coefficients = coefficients
        self.velocityAnchors = velocityAnchors
        self.latentMeans = latentMeans
        self.blendScale = blendScale
        self.blendRule = blendRule
    }

    /// The K coefficients of a note at latent point `z`, MIDI `pitch` (linear between integers,
    /// clamped to [0, 127]) and `velocity` (linear between anchors, clamped to them), written to
    /// `out`. Real-time safe: `scratch` holds at least I doubles.
    public func coefficients(z: UnsafePointer<Float>, pitch: Double, velocity: Double,
                             scratch weights: UnsafeMutablePointer<Double>, into out: UnsafeMutablePointer<Float>) {
        latentMeans.withUnsafeBufferPointer { means in
            blendRule.weights(z: z, means: means, instrumentCount: instrumentCount, zDim: zDim, scale: blendScale,
                              into: weights)
        }
        let p = min(max(pitch.isFinite ? pitch : 0, 0), Double(Self.pitchCount - 1))
        let j = min(Int(p.rounded(.down)), Self.pitchCount - 2)
        let fp = p - Double(j)
        let anchors = velocityAnchors
        let v = min(max(velocity.isFinite ? velocity : anchors[0], anchors[0]), anchors[anchors.count - 1])
        var m = 0
        while m < anchors.count - 2 && v >= anchors[m + 1] { m += 1 }
        let fv = (v - anchors[m]) / (anchors[m + 1] - anchors[m])
        let k = basisCount, vc = anchors.count
        coefficients.withUnsafeBufferPointer { table in
            for c in 0..<k {
                var y: Double = 0
                for i in 0..<instrumentCount {
                    let w = weights[i]
                    guard w != 0 else { continue }
                    func at(_ pitch: Int, _ vel: Int) -> Double {
                        Double(table[((i * Self.pitchCount + pitch) * vc + vel) * k + c])
                    }
                    let lo = (1 - fp) * at(j, m) + fp * at(j + 1, m)
                    let hi = (1 - fp) * at(j, m + 1) + fp * at(j + 1, m + 1)
                    y += w * ((1 - fv) * lo + fv * hi)
                }
                out[c] = y.isFinite ? Float(y) : 0
            }
        }
    }

    /// Array form of ``coefficients(z:pitch:velocity:scratch:into:)`` (allocates; not real-time).
    public func coefficients(z: [Float], pitch: Double, velocity: Double) -> [Float] {
        precondition(z.count >= zDim)
        var scratch = [Double](repeating: 0, count: max(1, instrumentCount))
        var out = [Float](repeating: 0, count: basisCount)
        z.withUnsafeBufferPointer { zb in
            scratch.withUnsafeMutableBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    coefficients(z: zb.baseAddress!, pitch: pitch, velocity: velocity, scratch: s.baseAddress!,
                                 into: o.baseAddress!)
                }
            }
        }
        return out
    }
}
