// The harmonic oscillator bank of docs/model-format.md ("Harmonic oscillators").
import Glibc

/// Turns the decoder's harmonic outputs into per-harmonic amplitudes (docs/model-format.md,
/// "Controls"). Pure functions over caller-owned buffers; real-time safe.
public enum HarmonicControls {
    /// The harmonic limit at output rate R: `min(R / 2, bandLimitHz)` (docs: `limit_hz`).
    public static func limitHz(sampleRate: Double, bandLimitHz: Double) -> Double {
        min(sampleRate / 2, bandLimitHz)
    }

    /// Writes `A_k = amplitude · dist_k · mask_k / (Σ_j dist_j · mask_j + 1e-7)` with
    /// `mask_k = 1` when `k · f0Hz < limitHz` (k = 1...K), else 0.
    ///
    /// Real-time safe.
    /// - Parameters:
    ///   - amplitude: overall amplitude (`exp_sigmoid(raw[0])`).
    ///   - distribution: K positive harmonic weights.
    ///   - f0Hz: fundamental of this frame in Hz.
    ///   - limitHz: `min(outputRate / 2, band_limit_hz)`.
    ///   - amplitudes: receives the K amplitudes (may alias `distribution`).
    /// - Returns: the number of harmonics below the limit (all later ones are 0).
    @discardableResult
    public static func mask(amplitude: Float, distribution: UnsafeBufferPointer<Float>, f0Hz: Float,
                            limitHz: Float, into amplitudes: UnsafeMutableBufferPointer<Float>) -> Int {
        let count = min(distribution.count, amplitudes.count)
        var active = 0
        var sum: Float = 0
        for k in 0..<count {
            if Float(k + 1) * f0Hz < limitHz {
                active = k + 1
                sum += distribution[k]
            }
        }
        let denominator = sum + 1e-7
        for k in 0..<count {
            amplitudes[k] = k < active ? amplitude * (distribution[k] / denominator) : 0
        }
        return active
    }
}

/// One voice's bank of harmonic sine oscillators: `Σ_k A_k(i) sin(k φ(i))`.
///
/// `f0(i)` and every `A_k(i)` are interpolated linearly between decoder frames,
/// `v(m) = v_n + (m / H)(v_{n+1} - v_n)` for sample `m` of frame `n` (hop H), and the phase
/// `φ(i) = 2π Σ_{j<i} f0(j) / R` accumulates in double precision from 0 at note-on.
///
/// The base phasor `e^{iφ}` is computed per sample in double precision; harmonics are complex
/// rotations in single precision over 8 samples at a time, re-seeded from double precision every
/// 16 harmonics, so the error stays near 1e-6 of the amplitude for 100 harmonics. A sample's value
/// depends only on its own position, so rendering a frame in one call or in many gives bit-identical
/// output.
public final class HarmonicOscillatorBank {
    /// Output rate R in Hz.
    public let sampleRate: Double
    /// Samples per decoder frame, H = R / frame_rate.
    public let hop: Int
    /// Largest harmonic count K accepted by ``render(f0Hz:nextF0Hz:amplitudes:nextAmplitudes:samples:addingInto:)``.
    public let maxHarmonics: Int
    /// Phase of the next sample to render, in cycles, in [0, 1).
    public private(set) var phaseCycles: Double = 0

    /// Harmonics per single-precision rotation chain before re-seeding from double precision.
    static let chainLength = 16
    private let maxGroups: Int
    /// Per group g: the phasor of harmonic 16g + 1 for 8 samples, real part at 2g, imaginary at 2g+1.
    private let seeds: UnsafeMutablePointer<SIMD8<Float>>

    /// Creates a voice's oscillator bank (allocates; not real-time).
    /// - Parameters:
    ///   - sampleRate: output rate R in Hz.
    ///   - hop: samples per decoder frame at R.
    ///   - maxHarmonics: the model's K.
    public init(sampleRate: Double, hop: Int, maxHarmonics: Int) {
        precondition(sampleRate > 0 && hop > 0 && maxHarmonics >= 0)
        self.sampleRate = sampleRate
        self.hop = hop
        self.maxHarmonics = maxHarmonics
        maxGroups = max(1, (maxHarmonics + Self.chainLength - 1) / Self.chainLength)
        seeds = .allocate(capacity: 2 * maxGroups)
        seeds.initialize(repeating: SIMD8(), count: 2 * maxGroups)
    }

    deinit {
        seeds.deallocate()
    }

    /// Sets the phase back to 0 for a new note. Real-time safe.
    public func reset() {
        phaseCycles = 0
    }

    /// Adds samples `samples` of the current frame into `output` and advances the phase.
    ///
    /// Calls for one note must cover consecutive ranges: `0..<a`, `a..<b`, …, `..<hop` for each
    /// frame in turn. Real-time safe: no allocation, no locks.
    /// - Parameters:
    ///   - f0Hz: fundamental of the current frame n.
    ///   - nextF0Hz: fundamental of frame n+1 (the current one again after the last frame).
    ///   - amplitudes: the K masked amplitudes `A_k` of frame n.
    ///   - nextAmplitudes: those of frame n+1; same count, at most ``maxHarmonics``.
    ///   - samples: positions within the frame, `0 <= lowerBound`, `upperBound <= hop`.
    ///   - output: receives `samples.count` samples, added to what is there.
    public func render(f0Hz: Double, nextF0Hz: Double,
                       amplitudes: UnsafeBufferPointer<Float>, nextAmplitudes: UnsafeBufferPointer<Float>,
                       samples: Range<Int>, addingInto output: UnsafeMutablePointer<Float>) {
        let harmonicCount = min(amplitudes.count, nextAmplitudes.count, maxHarmonics)
        assert(amplitudes.count == nextAmplitudes.count && amplitudes.count <= maxHarmonics)
        assert(samples.lowerBound >= 0 && samples.upperBound <= hop)
        guard !samples.isEmpty else { return }

        // Harmonics above the last one with a nonzero amplitude at either end contribute nothing.
        var activeCount = harmonicCount
        while activeCount > 0 && amplitudes[activeCount - 1] == 0 && nextAmplitudes[activeCount - 1] == 0 {
            activeCount -= 1
        }

        let hopD = Double(hop)
        let f0Slope = nextF0Hz - f0Hz
        let cyclesPerHz = 1 / sampleRate
        var phase = phaseCycles

        guard activeCount > 0 else {
            for m in samples {
                phase = Self.advance(phase, byCycles: (f0Hz + (Double(m) / hopD) * f0Slope) * cyclesPerHz)
            }
            phaseCycles = phase
            return
        }

        let a0 = amplitudes.baseAddress!
        let a1 = nextAmplitudes.baseAddress!
        let groups = (activeCount + Self.chainLength - 1) / Self.chainLength
        let seedFloats = UnsafeMutableRawPointer(seeds).assumingMemoryBound(to: Float.self)
        var m = samples.lowerBound
        var out = output
        while m < samples.upperBound {
            let lanes = min(8, samples.upperBound - m)
            var fraction = SIMD8<Float>()
            var committedPhase = phase
            // Per sample: interpolation fraction, double-precision phasor and its seeds.
            for lane in 0..<8 {
                let fractionD = Double(m + lane) / hopD
                fraction[lane] = Float(fractionD)
                let angle = 2 * Double.pi * phase
                let c1 = cos(angle), s1 = sin(angle)
                // z16 = z1^16 by four squarings.
                var c16 = c1, s16 = s1
                for _ in 0..<4 {
                    (c16, s16) = (c16 * c16 - s16 * s16, 2 * c16 * s16)
                }
                var cg = c1, sg = s1
                for g in 0..<groups {
                    seedFloats[16 * g + lane] = Float(cg)
                    seedFloats[16 * g + 8 + lane] = Float(sg)
                    (cg, sg) = (cg * c16 - sg * s16, cg * s16 + sg * c16)
                }
                phase = Self.advance(phase, byCycles: (f0Hz + fractionD * f0Slope) * cyclesPerHz)
                if lane == lanes - 1 { committedPhase = phase }
            }
            phase = committedPhase

            let z1Re = seeds[0], z1Im = seeds[1]
            var sum = SIMD8<Float>()
            for g in 0..<groups {
                var zRe = seeds[2 * g], zIm = seeds[2 * g + 1]
                let end = min(activeCount, (g + 1) * Self.chainLength)
                for k in (g * Self.chainLength)..<end {
                    let start = a0[k]
                    let amplitude = start + fraction * (a1[k] - start)
                    sum += amplitude * zIm
                    (zRe, zIm) = (zRe * z1Re - zIm * z1Im, zRe * z1Im + zIm * z1Re)
                }
            }

            if lanes == 8 {
                let raw = UnsafeMutableRawPointer(out)
                raw.storeBytes(of: raw.loadUnaligned(as: SIMD8<Float>.self) + sum, as: SIMD8<Float>.self)
            } else {
                for lane in 0..<lanes { out[lane] += sum[lane] }
            }
            m += lanes
            out += lanes
        }
        phaseCycles = phase
    }

    /// Advances a phase in cycles, wrapped to [0, 1).
    @inline(__always)
    static func advance(_ phase: Double, byCycles increment: Double) -> Double {
        let next = phase + increment
        return next - next.rounded(.down)
    }
}
