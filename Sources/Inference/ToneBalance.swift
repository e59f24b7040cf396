#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Applies a note's tone balance (docs/model-format.md, "Tone balance") to one frame of scaled
/// controls: harmonic k (where the oscillator bank plays it, `r_k · f0` with the frame's stretch,
/// ``HarmonicControls/stretchRatio(partial:inharmonicity:)``) and noise band b (at
/// `b · F / (B_noise - 1)`) are multiplied by the gain at their frequency, linear in amplitude
/// between the centres of the 1/3-octave bands (band b ≥ 1 centred at `1000 · 2^((b - 14) / 3)` Hz),
/// constant beyond bands 1 and B - 1.
///
/// Holds only precomputed band positions; ``apply(gainsDB:f0Hz:inharmonicity:harmonics:noise:)`` is
/// real-time safe.
public struct ToneBalance: Sendable, Equatable {
    /// Bands of a gain curve (the transients' 28).
    public static let bandCount = 28
    /// Values of a frame's gains: the band gains, then the gain of everything (the onset's), then
    /// the strike's share of the band gains' shape (1: all of it), then the strike's gain of the
    /// noise in dB (0: none), then the strike's top: the gain in dB of everything from
    /// ``strikeTopBand`` up (0: none).
    public static let rowCount = bandCount + 4
    /// The lowest band the strike's top lifts whole (6.3 kHz); the gain falls linearly in amplitude
    /// to 0 dB at the band below (5 kHz).
    public static let strikeTopBand = 22
    /// K, harmonics.
    public let harmonicCount: Int
    /// Noise bands of the model.
    public let noiseBandCount: Int
    /// `3 log2(k)`, k = 1 … K: harmonic k's band position above the fundamental's.
    private let harmonicPositionOffsets: [Float]
    /// Each noise band's lower gain band and the weight of the next one.
    private let noiseBandIndex: [Int]
    private let noiseBandFraction: [Float]

    /// A balance for K harmonics and B noise bands spread over 0 … `bandLimitHz` (allocates).
    public init(harmonicCount: Int, noiseBandCount: Int, bandLimitHz: Double) {
        self.harmonicCount = harmonicCount
        self.noiseBandCount = noiseBandCount
        harmonicPositionOffsets = (1...max(1, harmonicCount)).map { Float(3 * log2(Double($0))) }
        var index: [Int] = [], fraction: [Float] = []
        for b in 0..<noiseBandCount {
            let hz = Double(b) * bandLimitHz / Double(max(1, noiseBandCount - 1))
            let (j, f) = Self.position(Self.bandPosition(hz: hz))
            index.append(j)
            fraction.append(f)
        }
        noiseBandIndex = index
        noiseBandFraction = fraction
    }

    /// The band position of a frequency: `3 log2(f / 1 kHz) + 14` (f below 1 Hz counts as 1 Hz).
    @inline(__always)
    public static func bandPosition(hz: Double) -> Double { 3 * log2(max(hz, 1) / 1000) + 14 }

    /// Adds a tilt to a frame's band gains (`rowCount` values): `levelDB` to every band and
    /// `dBPerOctave` per octave above the band of `f0Hz` (the morph line's brightness tilt,
    /// `MorphWarp`). Real-time safe.
    @inline(__always)
    public static func addTilt(dBPerOctave: Float, levelDB: Float, f0Hz: Float, to gainsDB: UnsafeMutablePointer<Float>) {
        let base = Float(bandPosition(hz: Double(f0Hz)))
        for j in 1..<bandCount { gainsDB[j] += levelDB + dBPerOctave * max(0, Float(j) - base) / 3 }
    }

    /// Lower band index and fraction of a band position, clamped to bands 1 … B - 1.
    @inline(__always)
    static func position(_ p: Double) -> (Int, Float) {
        let q = min(max(p.isFinite ? p : 1, 1), Double(bandCount - 1))
        let j = min(Int(q), bandCount - 2)
        return (j, Float(q - Double(j)))
    }

    /// The gain between bands j and j + 1 at `fraction` of the 28 in `low` (0-15) and `high`.
    @inline(__always)
    private static func interpolate(_ low: SIMD16<Float>, _ high: SIMD16<Float>, _ j: Int, _ fraction: Float) -> Float {
        let a = j < 16 ? low[j] : high[j - 16], b = j + 1 < 16 ? low[j + 1] : high[j - 15]
        return a + fraction * (b - a)
    }

    /// Multiplies the K harmonic amplitudes and B noise magnitudes of a frame whose fundamental
    /// is `f0Hz` and whose partials are stretched by `inharmonicity` (B; 0: harmonic) by the gains
    /// of `gainsDB` (``rowCount`` values: 28 bands in dB, then one for all in dB, then the strike's
    /// share σ, then the strike's noise gain N in dB, then the strike's top T in dB). With σ < 1 the bands
    /// get σ of their gains (in dB) and the frame is scaled to the power (Σ harmonics² + Σ noise²)
    /// the whole gains give: the strike takes part of the balance's shape and all of its level.
    /// Then the noise is multiplied by N dB (the noise's magnitudes over-count its share of the
    /// frame's power, so it is not made up for). Then everything from ``strikeTopBand`` up is
    /// multiplied by T dB (linear in amplitude to 0 dB at the band below). Real-time safe.
    public func apply(gainsDB: UnsafePointer<Float>, f0Hz: Float, inharmonicity: Double = 0,
                      harmonics: UnsafeMutablePointer<Float>, noise: UnsafeMutablePointer<Float>) {
        let share = gainsDB[Self.bandCount + 1], noiseDB = gainsDB[Self.bandCount + 2]
        let at = Partials(f0Hz: f0Hz, stretch: inharmonicity)
        if share < 1 {
            applyShared(gainsDB: gainsDB, share: share, at: at, harmonics: harmonics, noise: noise)
        } else {
            scale(gainsDB: gainsDB, share: 1, at: at, harmonics: harmonics, noise: noise)
        }
        if noiseDB != 0 {
            let g = Float(exp(Double(noiseDB) * (log(10.0) / 20)))
            for b in 0..<noiseBandCount { noise[b] *= g }
        }
        let topDB = gainsDB[Self.bandCount + 3]
        if topDB != 0 { scaleTop(topDB: topDB, at: at, harmonics: harmonics, noise: noise) }
    }

    /// A frame's fundamental on the band axis and its partials' stretch.
    private struct Partials {
        /// The fundamental's band position.
        let base: Float
        /// The stretch B (0: harmonic, no logarithm per partial).
        let stretch: Float

        init(f0Hz: Float, stretch: Double) {
            base = Float(ToneBalance.bandPosition(hz: Double(f0Hz)))
            self.stretch = stretch > 0 && stretch.isFinite ? Float(stretch) : 0
        }
    }

    /// Harmonic index `k`'s (partial k + 1's) band, at `base + 3 log2(r_k)` clamped to the bands'
    /// span, and the weight of the band above. `3 log2(r_k)` with the oscillator bank's r_k
    /// (``HarmonicControls/stretchRatio(partial:inharmonicity:)``) is `3 log2(k + 1) + 1.5 log2(1 +
    /// B (k + 1)²)`: the precomputed first term and one single-precision logarithm. (The
    /// stretched reading costs the decode stage 5.5 % at 64 piano voices, `timbred bench`; through
    /// the ratio's double square root and logarithm it cost 7 %.) Real-time safe.
    @inline(__always)
    private func band(_ k: Int, _ at: Partials) -> (Int, Float) {
        var q = at.base + harmonicPositionOffsets[k]
        if at.stretch > 0 {
            let n = Float(k + 1)
            q += 1.5 * log2f(1 + at.stretch * n * n)
        }
        q = min(max(q, 1), Float(Self.bandCount - 1))
        let j = min(Int(q), Self.bandCount - 2)
        return (j, q - Float(j))
    }

    /// Multiplies everything from ``strikeTopBand`` up by `topDB` (linear in amplitude to 1 at the
    /// band below, 1 under it). Real-time safe.
    private func scaleTop(topDB: Float, at: Partials, harmonics: UnsafeMutablePointer<Float>,
                          noise: UnsafeMutablePointer<Float>) {
        let g = Float(exp(Double(topDB) * (log(10.0) / 20)))
        var high = SIMD16<Float>(repeating: 1)
        for b in Self.strikeTopBand..<Self.bandCount { high[b - 16] = g }
        multiply(low: SIMD16<Float>(repeating: 1), high: high, at: at, harmonics: harmonics, noise: noise)
    }

    /// The frame with `share` of the band gains, scaled to the power the whole gains give.
    /// Real-time safe.
    private func applyShared(gainsDB: UnsafePointer<Float>, share: Float, at: Partials,
                             harmonics: UnsafeMutablePointer<Float>, noise: UnsafeMutablePointer<Float>) {
        // the power the whole gains would give, then the shared gains, scaled to it
        var whole: Float = 0, shared: Float = 0
        let (lowWhole, highWhole) = Self.linearGains(gainsDB, share: 1)
        for k in 0..<harmonicCount {
            let (j, f) = band(k, at)
            let a = harmonics[k] * Self.interpolate(lowWhole, highWhole, j, f)
            whole += a * a
        }
        for b in 0..<noiseBandCount {
            let a = noise[b] * Self.interpolate(lowWhole, highWhole, noiseBandIndex[b], noiseBandFraction[b])
            whole += a * a
        }
        scale(gainsDB: gainsDB, share: share, at: at, harmonics: harmonics, noise: noise)
        for k in 0..<harmonicCount { shared += harmonics[k] * harmonics[k] }
        for b in 0..<noiseBandCount { shared += noise[b] * noise[b] }
        guard shared > 0, whole.isFinite else { return }
        let level = (whole / shared).squareRoot()
        for k in 0..<harmonicCount { harmonics[k] *= level }
        for b in 0..<noiseBandCount { noise[b] *= level }
    }

    /// The 28 linear gains `10^((share · G[b] + O) / 20)`, on the stack. Real-time safe.
    @inline(__always)
    private static func linearGains(_ gainsDB: UnsafePointer<Float>, share: Float) -> (SIMD16<Float>, SIMD16<Float>) {
        var low = SIMD16<Float>(), high = SIMD16<Float>()
        let all = Double(gainsDB[bandCount])
        for b in 0..<bandCount {
            let g = Float(exp((Double(share) * Double(gainsDB[b]) + all) * (log(10.0) / 20)))
            if b < 16 { low[b] = g } else { high[b - 16] = g }
        }
        return (low, high)
    }

    /// Multiplies the frame by the gains with `share` of the band gains. Real-time safe.
    @inline(__always)
    private func scale(gainsDB: UnsafePointer<Float>, share: Float, at: Partials, harmonics: UnsafeMutablePointer<Float>,
                       noise: UnsafeMutablePointer<Float>) {
        let (low, high) = Self.linearGains(gainsDB, share: share)
        multiply(low: low, high: high, at: at, harmonics: harmonics, noise: noise)
    }

    /// Multiplies each harmonic and noise band by the 28 linear band gains in `low` (0-15) and
    /// `high` (16-27) at its frequency. Real-time safe.
    @inline(__always)
    private func multiply(low: SIMD16<Float>, high: SIMD16<Float>, at: Partials, harmonics: UnsafeMutablePointer<Float>,
                          noise: UnsafeMutablePointer<Float>) {
        for k in 0..<harmonicCount {
            let (j, f) = band(k, at)
            harmonics[k] *= Self.interpolate(low, high, j, f)
        }
        for b in 0..<noiseBandCount {
            noise[b] *= Self.interpolate(low, high, noiseBandIndex[b], noiseBandFraction[b])
        }
    }
}
