#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Attack transients (docs/model-format.md, "Transients"): what the first 100 ms of a real note
/// hold beyond harmonics and smooth noise (a mallet's click, a hammer, a pluck, a chiff), as the
/// RMS amplitudes of band noise every 2 ms, per instrument, pitch anchor and velocity anchor
/// (the envelopes' anchors), blended over instruments by the model's blend rule.
///
/// Immutable; ``amplitudes(z:pitch:velocity:scratch:into:)`` is real-time safe.
public struct TransientTable: Sendable, Equatable {
    /// Envelope frames per second (2 ms frames).
    public static let frameRateHz = 500.0
    /// T, envelope frames (100 ms).
    public static let frameCount = 50
    /// Band edges in Hz: 0, then 1/3-octave edges `1000 · 2^((n - 0.5) / 3)`, n = -13...14
    /// (44 Hz ... 22.6 kHz); B = 28 bands.
    public static let bandEdgesHz: [Double] = [0] + (-13...14).map { 1000 * pow(2, (Double($0) - 0.5) / 3) }
    /// B, bands.
    public static var bandCount: Int { bandEdgesHz.count - 1 }
    /// Values of one note's envelope: T × B.
    public static var envelopeCount: Int { frameCount * bandCount }

    /// I, instruments.
    public let instrumentCount: Int
    /// Z, latent dimensions.
    public let zDim: Int
    /// P pitch anchors (MIDI), increasing.
    public let pitchAnchors: [Double]
    /// V velocity anchors, increasing.
    public let velocityAnchors: [Double]
    /// `transient.amplitude` [I, P, V, T, B]: RMS amplitude of band b's noise at frame t.
    public let amplitude: [Float]
    /// `latent.means` [I, Z], row-major.
    public let latentMeans: [Float]
    /// s of the blend (the envelopes' `envelope_blend_scale`).
    public let blendScale: Double
    /// The blend rule (metadata `envelope_blend`).
    public let blendRule: LatentBlendRule

    /// Wraps validated values (the loader checks shapes and finiteness).
    public init(instrumentCount: Int, zDim: Int, pitchAnchors: [Double], velocityAnchors: [Double], amplitude: [Float],
                latentMeans: [Float], blendScale: Double, blendRule: LatentBlendRule) {
        precondition(pitchAnchors.count >= 2 && velocityAnchors.count >= 2)
        precondition(amplitude.count == instrumentCount * pitchAnchors.count * velocityAnchors.count * Self.envelopeCount)
        precondition(latentMeans.count == instrumentCount * zDim)
        self.instrumentCount = instrumentCount
        self.zDim = zDim
        self.pitchAnchors = pitchAnchors
        self.velocityAnchors = velocityAnchors
        self.amplitude = amplitude
        self.latentMeans = latentMeans
        self.blendScale = blendScale
        self.blendRule = blendRule
    }

    /// The T × B amplitudes of a note at latent point `z`, MIDI `pitch` and `velocity` (each
    /// linear between anchors, clamped to them), scaled by `gain`, written to `out`. Real-time
    /// safe: `scratch` holds at least I doubles.
    public func amplitudes(z: UnsafePointer<Float>, pitch: Double, velocity: Double, gain: Float = 1, line: MorphLine = .none,
                           scratch weights: UnsafeMutablePointer<Double>, into out: UnsafeMutablePointer<Float>) {
        latentMeans.withUnsafeBufferPointer { means in
            blendRule.weights(z: z, means: means, instrumentCount: instrumentCount, zDim: zDim, scale: blendScale,
                              line: line, into: weights)
        }
        let corners = AnchorCorners(pitchAnchors: pitchAnchors, velocityAnchors: velocityAnchors, pitch: pitch,
                                    velocity: velocity)
        let e = Self.envelopeCount
        out.update(repeating: 0, count: e)
        amplitude.withUnsafeBufferPointer { table in
            let base = table.baseAddress!
            for i in 0..<instrumentCount {
                let w = weights[i]
                guard w.isFinite, w != 0 else { continue }
                let (c00, c01, c10, c11) = corners.cells(instrument: i)
                let (w00, w01, w10, w11) = corners.weights(w)
                let a00 = base + c00 * e, a01 = base + c01 * e, a10 = base + c10 * e, a11 = base + c11 * e
                for x in 0..<e { out[x] += w00 * a00[x] + w10 * a10[x] + w01 * a01[x] + w11 * a11[x] }
            }
        }
        if gain != 1 { for x in 0..<e { out[x] *= gain } }
    }

    /// Array form of ``amplitudes(z:pitch:velocity:gain:scratch:into:)`` (allocates; not real-time).
    public func amplitudes(z: [Float], pitch: Double, velocity: Double) -> [Float] {
        precondition(z.count >= zDim)
        var scratch = [Double](repeating: 0, count: max(1, instrumentCount))
        var out = [Float](repeating: 0, count: Self.envelopeCount)
        z.withUnsafeBufferPointer { zb in
            scratch.withUnsafeMutableBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    amplitudes(z: zb.baseAddress!, pitch: pitch, velocity: velocity, scratch: s.baseAddress!,
                               into: o.baseAddress!)
                }
            }
        }
        return out
    }
}
