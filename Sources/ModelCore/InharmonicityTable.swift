#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Stretched partials (docs/model-format.md, "Inharmonicity"): the inharmonicity coefficient B of
/// a stiff string, whose partial k sits at `k · f0 · sqrt(1 + B k²)`, per instrument and MIDI pitch,
/// blended over instruments by a latent point's distances to the instruments' prior means.
///
/// `y = Σ_i w_i(z) · B_i(pitch)`, with the weights `w_i` of the model's blend rule
/// (`LatentBlendRule`; the gaussian rule with the table's own scale s); `B_i` is linear between integer pitches, the pitch clamped to [0, 127];
/// `B = 0` where `y < minimum`, else `min(y, maximum)`. A model without the tensors has no table
/// and plays every partial harmonic (B = 0).
///
/// With `inharmonicity.tuning_cents` the table also holds each instrument's stretch tuning: cents
/// per MIDI key added to the key's pitch (a piano tuned so that its octaves match its stretched
/// partials sits sharp in the treble and flat in the bass), blended with the same weights.
public struct InharmonicityTable: Sendable, Equatable {
    /// Pitches of the table: MIDI 0...127.
    public static let pitchCount = 128
    /// Below this B a note plays harmonic (partial 15 would be off by less than 0.2 cent).
    public static let minimum = 1e-6
    /// The largest B played.
    public static let maximum = 1e-2

    /// I, instruments (rows of the table).
    public let instrumentCount: Int
    /// Z, latent dimensions.
    public let zDim: Int
    /// `inharmonicity.b` [I, 128], row-major.
    public let values: [Float]
    /// `latent.means` [I, Z], row-major.
    public let latentMeans: [Float]
    /// s, `inharmonicity.blend_scale`.
    public let blendScale: Double
    /// The blend rule, the envelopes' (metadata `envelope_blend`; gaussian when absent).
    public let blendRule: LatentBlendRule
    /// The table's blend (rule, scale, means), to share blend weights with tables of the same one.
    public var blend: LatentBlend {
        LatentBlend(rule: blendRule, scale: blendScale, means: latentMeans, instrumentCount: instrumentCount, zDim: zDim)
    }
    /// `inharmonicity.tuning_cents` [I, 128], row-major: the stretch tuning in cents per key; nil
    /// (no tensor): every key at equal temperament.
    public let tuningCents: [Float]?
    /// The largest |cents| a file may hold.
    public static let largestTuningCents: Float = 100

    /// Wraps validated values (the loader checks shapes and finiteness).
    public init(instrumentCount: Int, zDim: Int, values: [Float], latentMeans: [Float], blendScale: Double,
                blendRule: LatentBlendRule = .gaussian, tuningCents: [Float]? = nil) {
        precondition(values.count == instrumentCount * Self.pitchCount && latentMeans.count == instrumentCount * zDim)
        precondition(tuningCents.map { $0.count == instrumentCount * Self.pitchCount } ?? true)
        self.instrumentCount = instrumentCount
        self.zDim = zDim
        self.values = values
        self.latentMeans = latentMeans
        self.blendScale = blendScale
        self.blendRule = blendRule
        self.tuningCents = tuningCents
    }

    /// Whether any instrument is stretched at any pitch (a table of zeros plays harmonic everywhere).
    public var isStretched: Bool { values.contains { $0 > 0 } }

    /// Whether any instrument's key is tuned away from equal temperament.
    public var isTuned: Bool { tuningCents?.contains { $0 != 0 } ?? false }

    /// The stretch tuning at latent point `z` (Z floats) and MIDI `key` (fractional keys linear
    /// between integer ones, clamped to [0, 127]), in semitones: `Σ_i w_i · cents_i(key) / 100`;
    /// 0 without a tuning table. Real-time safe: no allocation; `scratch` holds at least I doubles
    /// and is overwritten.
    public func tuningSemitones(z: UnsafePointer<Float>, key: Double, line: MorphLine = .none,
                                scratch weights: UnsafeMutablePointer<Double>) -> Double {
        guard let tuningCents else { return 0 }
        return blended(tuningCents, z: z, pitch: key, line: line, weights: weights) / 100
    }

    /// ``tuningSemitones(z:key:line:scratch:)`` from the point's blend `weights` already computed
    /// (I doubles, by this table's rule, scale and means: ``blend``). Real-time safe.
    public func tuningSemitones(key: Double, weights: UnsafePointer<Double>) -> Double {
        guard let tuningCents else { return 0 }
        return blended(tuningCents, pitch: key, weights: weights) / 100
    }

    /// Array form of ``tuningSemitones(z:key:scratch:)`` (allocates; not real-time).
    public func tuningSemitones(z: [Float], key: Double) -> Double {
        precondition(z.count >= zDim)
        var scratch = [Double](repeating: 0, count: max(1, instrumentCount))
        return z.withUnsafeBufferPointer { zb in
            scratch.withUnsafeMutableBufferPointer { tuningSemitones(z: zb.baseAddress!, key: key, scratch: $0.baseAddress!) }
        }
    }

    /// B at latent point `z` (Z floats) and MIDI `pitch`. Real-time safe: no allocation;
    /// `scratch` holds at least I doubles and is overwritten.
    public func coefficient(z: UnsafePointer<Float>, pitch: Double, line: MorphLine = .none,
                            scratch weights: UnsafeMutablePointer<Double>) -> Double {
        let y = blended(values, z: z, pitch: pitch, line: line, weights: weights)
        return y < Self.minimum ? 0 : min(y, Self.maximum)
    }

    /// ``coefficient(z:pitch:line:scratch:)`` from the point's blend `weights` already computed (I
    /// doubles, by this table's rule, scale and means: ``blend``). Real-time safe.
    public func coefficient(pitch: Double, weights: UnsafePointer<Double>) -> Double {
        let y = blended(values, pitch: pitch, weights: weights)
        return y < Self.minimum ? 0 : min(y, Self.maximum)
    }

    /// `Σ_i w_i(z) · table_i(pitch)` for a table [I, 128]: the pitch linear between integer
    /// pitches, clamped to [0, 127]; a weight that is not finite counts as 0. Real-time safe.
    @inline(__always)
    private func blended(_ table: [Float], z: UnsafePointer<Float>, pitch: Double, line: MorphLine,
                         weights: UnsafeMutablePointer<Double>) -> Double {
        latentMeans.withUnsafeBufferPointer { means in
            blendRule.weights(z: z, means: means, instrumentCount: instrumentCount, zDim: zDim, scale: blendScale,
                              line: line, into: weights)
        }
        return blended(table, pitch: pitch, weights: weights)
    }

    /// `Σ_i w_i · table_i(pitch)` from blend weights already computed. Real-time safe.
    @inline(__always)
    private func blended(_ table: [Float], pitch: Double, weights: UnsafePointer<Double>) -> Double {
        let p = min(max(pitch.isFinite ? pitch : 0, 0), Double(Self.pitchCount - 1))
        let j = min(Int(p.rounded(.down)), Self.pitchCount - 2)
        let f = p - Double(j)
        var y: Double = 0
        table.withUnsafeBufferPointer { t in
            for i in 0..<instrumentCount where weights[i].isFinite {
                let row = i * Self.pitchCount + j
                y += weights[i] * ((1 - f) * Double(t[row]) + f * Double(t[row + 1]))
            }
        }
        return y
    }

    /// Array form of ``coefficient(z:pitch:scratch:)`` (allocates; not real-time).
    public func coefficient(z: [Float], pitch: Double) -> Double {
        precondition(z.count >= zDim)
        var scratch = [Double](repeating: 0, count: max(1, instrumentCount))
        return z.withUnsafeBufferPointer { zb in
            scratch.withUnsafeMutableBufferPointer { coefficient(z: zb.baseAddress!, pitch: pitch, scratch: $0.baseAddress!) }
        }
    }
}
