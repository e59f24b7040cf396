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
        while active < count && Float(active + 1) * f0Hz < limitHz { active += 1 }
        return normalise(amplitude: amplitude, distribution: distribution, active: active, into: amplitudes)
    }

    /// Writes `A_k = amplitude · dist_k / (Σ_{j<active} dist_j + 1e-7)` for the first `active`
    /// partials and 0 for the rest; returns `active`. The part both masks share. Real-time safe.
    @inline(__always)
    private static func normalise(amplitude: Float, distribution: UnsafeBufferPointer<Float>, active: Int,
                                  into amplitudes: UnsafeMutableBufferPointer<Float>) -> Int {
        let count = min(distribution.count, amplitudes.count)
        var sum: Float = 0
        for k in 0..<active { sum += distribution[k] }
        let denominator = sum + 1e-7
        for k in 0..<count {
            amplitudes[k] = k < active ? amplitude * (distribution[k] / denominator) : 0
        }
        return active
    }

    /// Partial k's frequency over f0 for a stiff string's inharmonicity coefficient B:
    /// `r_k = k · sqrt(1 + B k²)` (docs/model-format.md, "Inharmonicity"); k for B = 0.
    @inline(__always)
    public static func stretchRatio(partial k: Int, inharmonicity b: Double) -> Double {
        let kd = Double(k)
        return b == 0 ? kd : kd * (1 + b * kd * kd).squareRoot()
    }

    /// ``mask(amplitude:distribution:f0Hz:limitHz:into:)`` for stretched partials: partial k sits at
    /// `r_k · f0Hz` (``stretchRatio(partial:inharmonicity:)``, compared in double precision) and is
    /// muted at or above `limitHz`; B = 0 is the harmonic mask exactly. Real-time safe.
    @discardableResult
    public static func mask(amplitude: Float, distribution: UnsafeBufferPointer<Float>, f0Hz: Float, limitHz: Float,
                            inharmonicity: Double, into amplitudes: UnsafeMutableBufferPointer<Float>) -> Int {
        guard inharmonicity != 0 else {
            return mask(amplitude: amplitude, distribution: distribution, f0Hz: f0Hz, limitHz: limitHz, into: amplitudes)
        }
        let count = min(distribution.count, amplitudes.count)
        var active = 0
        while active < count
                && Double(f0Hz) * stretchRatio(partial: active + 1, inharmonicity: inharmonicity) < Double(limitHz) {
            active += 1
        }
        return normalise(amplitude: amplitude, distribution: distribution, active: active, into: amplitudes)
    }
}

/// One voice's bank of harmonic sine oscillators: `Σ_k A_k(i) sin(k φ(i))`.
///
/// `f0(i)` and every `A_k(i)` are interpolated linearly between decoder frames,
/// `v(m) = v_n + (m / H)(v_{n+1} - v_n)` for sample `m` of frame `n` (hop H), and the phase
/// `φ(i) = 2π Σ_{j<i} f0(j) / R` accumulates in double precision from 0 at note-on. Within a frame
/// the sum has a closed form, taken from the phase at the frame start:
/// `Σ_{j<m} f0(j) / R = m (f0_n + (m - 1)(f0_{n+1} - f0_n) / (2H)) / R`.
///
/// Eight samples are computed at a time, one per SIMD lane. The base phasor `z = e^{iφ}` is kept in
/// double precision, by a recurrence from 8 samples earlier that is re-synchronised every 64
/// samples (see `render`), and so are the few powers of it that the single-precision part starts
/// from. The harmonics are taken five at a time around centres `c = 5e + 3` (e = 0, 1, …): with
/// `z^c` known, `A_{c±j} sin((c±j)φ)` for j = 1, 2 sum to
/// `cos(jφ) Im z^c (A_{c+j} + A_{c-j}) + sin(jφ) Re z^c (A_{c+j} - A_{c-j})`, so the terms with the
/// same `cos jφ` or `sin jφ` are summed over the centres first and multiplied once per sample. The
/// centres advance by single-precision complex rotations by `z^5`, in chains of at most
/// ``maxChainSteps`` rotations each seeded from double precision, so the error stays below about
/// 1e-6 of the amplitude for 100 harmonics. A sample's value depends only on its position in the
/// frame and the phase at the frame start, so rendering a frame in one call or in many gives
/// bit-identical output.
public final class HarmonicOscillatorBank {
    /// Output rate R in Hz.
    public let sampleRate: Double
    /// Samples per decoder frame, H = R / frame_rate.
    public let hop: Int
    /// Largest harmonic count K accepted by ``render(f0Hz:nextF0Hz:amplitudes:nextAmplitudes:samples:addingInto:)``.
    public let maxHarmonics: Int
    /// Phase of the next sample to render, in cycles, in [0, 1).
    public private(set) var phaseCycles: Double = 0
    /// Phase of sample 0 of the current frame, in cycles, in [0, 1).
    private var frameStartPhase: Double = 0

    /// Harmonics per element: a centre and two neighbours on each side.
    static let elementWidth = 5
    /// Most elements (single-precision rotations) in one chain before re-seeding from double
    /// precision.
    static let maxChainSteps = 20
    /// Floats of per-element coefficients: 5 at the frame start, then 5 slopes (see `render`).
    private static let coefficientStride = 10
    /// 8-sample blocks whose per-sample values are computed ahead of their harmonic sums.
    private static let blocksPerChunk = 8
    /// Vectors of per-block values before the chain seeds (Re, Im each): interpolation fraction,
    /// cos φ, sin φ, cos 2φ, sin 2φ, and the rotation Re, Im z^{5S} (S chains).
    private static let blockHeader = 7
    /// Samples between re-synchronisations of the base phasor recurrence (see `render`); a
    /// multiple of 8.
    private static let resyncInterval = 64
    private let maxChains: Int
    private let coefficients: UnsafeMutablePointer<Float>
    /// The amplitudes `coefficients` were computed from: `coefficientCount` of the frame start,
    /// then as many of the next frame (-1: none yet).
    private let coefficientSource: UnsafeMutablePointer<Float>
    private var coefficientCount = -1
    private let blockValues: UnsafeMutablePointer<SIMD8<Float>>

    /// The base phasor recurrence where the last call left it: `z` at positions
    /// `statePosition + lane` of the frame, `w` their steps to 8 samples later, `d` the step of `w`.
    /// Valid for a call continuing the frame at `statePosition` with the same `α`, `β`.
    private var stateZ = Complex8(SIMD8(), SIMD8())
    private var stateW = Complex8(SIMD8(), SIMD8())
    private var stateD = Complex8(SIMD8(), SIMD8())
    private var statePosition = -1
    private var stateAlpha = 0.0, stateBeta = 0.0

    // The stretched path (see the type's comment).
    /// Whether the note renders stretched partials (from its first frame with B > 0 until `reset`).
    public private(set) var isStretched = false
    /// θ_k in cycles, [0, 1), at the start of the current frame (k = 1...maxHarmonics).
    private let partialPhases: UnsafeMutablePointer<Double>
    /// r_k for `ratiosFor`.
    private let ratios: UnsafeMutablePointer<Double>
    private var ratiosFor = -1.0
    /// Per group of 8 partials: Re p, Im p, Re w, Im w, Re d, Im d.
    private let stretchedState: UnsafeMutablePointer<SIMD8<Double>>
    /// Per-sample sums of the lanes of each group, before the lanes are added.
    private let laneSums: UnsafeMutablePointer<SIMD8<Float>>
    /// The position `stretchedState` is at within the frame (-1: seed at the next call), and what for.
    private var stretchedPosition = -1
    private var stretchedAlpha = 0.0, stretchedBeta = 0.0, stretchedB = 0.0
    private var stretchedGroups = 0
    private static let stretchedStride = 6

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
        let maxElements = max(1, (maxHarmonics + Self.elementWidth - 1) / Self.elementWidth)
        maxChains = Self.chainCount(elements: maxElements)
        coefficients = .allocate(capacity: Self.coefficientStride * maxElements)
        coefficients.initialize(repeating: 0, count: Self.coefficientStride * maxElements)
        coefficientSource = .allocate(capacity: 2 * maxHarmonics)
        coefficientSource.initialize(repeating: 0, count: 2 * maxHarmonics)
        let values = Self.blocksPerChunk * (Self.blockHeader + 2 * maxChains)
        blockValues = .allocate(capacity: values)
        blockValues.initialize(repeating: SIMD8(), count: values)
        partialPhases = .allocate(capacity: max(1, maxHarmonics))
        partialPhases.initialize(repeating: 0, count: max(1, maxHarmonics))
        ratios = .allocate(capacity: max(1, maxHarmonics))
        ratios.initialize(repeating: 0, count: max(1, maxHarmonics))
        let groups = max(1, (maxHarmonics + 7) / 8)
        stretchedState = .allocate(capacity: Self.stretchedStride * groups)
        stretchedState.initialize(repeating: SIMD8(), count: Self.stretchedStride * groups)
        laneSums = .allocate(capacity: hop)
        laneSums.initialize(repeating: SIMD8(), count: hop)
    }

    deinit {
        coefficients.deallocate()
        coefficientSource.deallocate()
        blockValues.deallocate()
        partialPhases.deallocate()
        ratios.deallocate()
        stretchedState.deallocate()
        laneSums.deallocate()
    }

    /// Rotation chains for `elements` elements, at most ``maxChainSteps`` elements each: one, or an
    /// even number (they run in interleaved pairs).
    static func chainCount(elements: Int) -> Int {
        elements <= maxChainSteps ? 1 : 2 * ((elements + 2 * maxChainSteps - 1) / (2 * maxChainSteps))
    }

    /// Sets the phase back to 0 for a new note. Real-time safe.
    public func reset() {
        phaseCycles = 0
        frameStartPhase = 0
        statePosition = -1
        isStretched = false
        stretchedPosition = -1
    }

    /// Adds samples `samples` of the current frame into `output` and advances the phase.
    ///
    /// Calls for one note must cover consecutive ranges: `0..<a`, `a..<b`, …, `..<hop` for each
    /// frame in turn (the first call after ``reset()`` starts a frame). Real-time safe: no
    /// allocation, no locks.
    /// - Parameters:
    ///   - f0Hz: fundamental of the current frame n.
    ///   - nextF0Hz: fundamental of frame n+1 (the current one again after the last frame).
    ///   - amplitudes: the K masked amplitudes `A_k` of frame n.
    ///   - nextAmplitudes: those of frame n+1; same count, at most ``maxHarmonics``.
    ///   - inharmonicity: the frame's B (≥ 0, the same for every call of a frame): partial k at
    ///     `k sqrt(1 + B k²) f0`; 0 renders exact harmonics (the amplitudes must have been masked
    ///     for the same B: ``HarmonicControls/mask(amplitude:distribution:f0Hz:limitHz:inharmonicity:into:)``).
    ///   - samples: positions within the frame, `0 <= lowerBound`, `upperBound <= hop`.
    ///   - output: receives `samples.count` samples, added to what is there.
    public func render(f0Hz: Double, nextF0Hz: Double,
                       amplitudes: UnsafeBufferPointer<Float>, nextAmplitudes: UnsafeBufferPointer<Float>,
                       inharmonicity: Double = 0,
                       samples: Range<Int>, addingInto output: UnsafeMutablePointer<Float>) {
        let harmonicCount = min(amplitudes.count, nextAmplitudes.count, maxHarmonics)
        assert(amplitudes.count == nextAmplitudes.count && amplitudes.count <= maxHarmonics)
        assert(samples.lowerBound >= 0 && samples.upperBound <= hop)
        guard !samples.isEmpty else { return }

        // Phase of sample m: frameStart + m (α + (m - 1) β) cycles.
        if samples.lowerBound == 0 { frameStartPhase = phaseCycles }
        if !isStretched && inharmonicity > 0 {
            // enter the stretched path: every partial's phase where the harmonic one is, θ_k = k φ
            isStretched = true
            stretchedPosition = -1
            for k in 0..<maxHarmonics {
                let cycles = Double(k + 1) * frameStartPhase
                partialPhases[k] = cycles - cycles.rounded(.down)
            }
        }
        if isStretched {
            renderStretched(f0Hz: f0Hz, nextF0Hz: nextF0Hz, amplitudes: amplitudes, nextAmplitudes: nextAmplitudes,
                            harmonicCount: harmonicCount, inharmonicity: max(0, inharmonicity), samples: samples,
                            addingInto: output)
            return
        }
        let frameStart = frameStartPhase
        let hopD = Double(hop)
        let alpha = f0Hz / sampleRate
        let beta = (nextF0Hz - f0Hz) / (2 * hopD * sampleRate)
        let endM = Double(samples.upperBound)
        let endPhase = frameStart + endM * (alpha + (endM - 1) * beta)
        defer { phaseCycles = endPhase - endPhase.rounded(.down) }

        // Harmonics above the last one with a nonzero amplitude at either end contribute nothing.
        var activeCount = harmonicCount
        while activeCount > 0 && amplitudes[activeCount - 1] == 0 && nextAmplitudes[activeCount - 1] == 0 {
            activeCount -= 1
        }
        guard activeCount > 0 else {
            statePosition = -1
            return
        }

        let width = Self.elementWidth, stride = Self.coefficientStride
        let elements = (activeCount + width - 1) / width
        // The coefficients depend only on the amplitudes: the calls of a frame share them.
        let a0 = amplitudes.baseAddress!, a1 = nextAmplitudes.baseAddress!
        let bytes = MemoryLayout<Float>.stride * activeCount
        if activeCount != coefficientCount || memcmp(a0, coefficientSource, bytes) != 0
            || memcmp(a1, coefficientSource + activeCount, bytes) != 0 {
            Self.setCoefficients(coefficients, start: a0, end: a1, count: activeCount)
            coefficientSource.update(from: a0, count: activeCount)
            (coefficientSource + activeCount).update(from: a1, count: activeCount)
            coefficientCount = activeCount
        }
        let chains = Self.chainCount(elements: elements)
        let perBlock = Self.blockHeader + 2 * chains

        // The base phasor z(m) = e^{2πi φ(m)} at lane position m follows a recurrence 8 samples apart:
        // φ(m + 8) - φ(m) = Δ(m) = 8α + (16m + 56)β, so z(m + 8) = z(m) w(m) with w(m) = e^{2πi Δ(m)},
        // and w(m + 8) = w(m) d with d = e^{2πi 128β}. Where m mod 64 < 8, z(m) and w(m) are instead
        // evaluated directly. So z(m) depends only on m whatever the lane (rendering a frame in one
        // call or in many gives the same bits), and the recurrence runs at most 7 steps. The state is
        // kept for a call that continues where this one stops.
        let laneOffsets = SIMD8<Double>(0, 1, 2, 3, 4, 5, 6, 7)
        let alpha8 = SIMD8<Double>(repeating: alpha), beta8 = SIMD8<Double>(repeating: beta)
        let start8 = SIMD8<Double>(repeating: frameStart), perHop8 = SIMD8<Double>(repeating: 1 / hopD)
        let stepCycles = SIMD8<Double>(repeating: 8 * alpha + 56 * beta), stepSlope = SIMD8<Double>(repeating: 16 * beta)
        let interval = Self.resyncInterval
        @inline(__always)
        func direct(_ position: SIMD8<Double>) -> (z: Complex8, w: Complex8) {
            let cycles = start8.addingProduct(position, alpha8.addingProduct(position - 1, beta8))
            return (Self.phasor(cycles), Self.phasor(stepCycles.addingProduct(position, stepSlope)))
        }
        var z: Complex8, w: Complex8, d: Complex8
        if samples.lowerBound == statePosition && alpha == stateAlpha && beta == stateBeta {
            (z, w, d) = (stateZ, stateW, stateD)
        } else {
            // Each lane from its last direct evaluation, k(m) = (m mod 64) / 8 steps back.
            let position = SIMD8<Double>(repeating: Double(samples.lowerBound)) + laneOffsets
            let intervalD = Double(interval)
            let steps = ((position - intervalD * (position * (1 / intervalD)).rounded(.down)) * 0.125).rounded(.down)
            (z, w) = direct(position - 8 * steps)
            d = Self.phasor(SIMD8(repeating: 128 * beta))
            for k in 0..<Int(steps.max()) {
                let mask = steps .> Double(k)
                let (nextZ, nextW) = (Self.multiply(z, w), Self.multiply(w, d))
                z = (z.re.replacing(with: nextZ.re, where: mask), z.im.replacing(with: nextZ.im, where: mask))
                w = (w.re.replacing(with: nextW.re, where: mask), w.im.replacing(with: nextW.im, where: mask))
            }
        }

        var chunkStart = samples.lowerBound
        var out = output
        while chunkStart < samples.upperBound {
            let chunkEnd = min(samples.upperBound, chunkStart + 8 * Self.blocksPerChunk)

            // Per-sample values of each block, double precision down to the single-precision seeds,
            // ahead of the sums so that this work overlaps the previous block's.
            var values = blockValues
            var m = chunkStart
            while m < chunkEnd {
                let position = SIMD8<Double>(repeating: Double(m)) + laneOffsets
                let z1 = z
                let z2 = Self.square(z1)
                let z3 = Self.multiply(z2, z1)
                let z5 = Self.multiply(z3, z2)
                values[0] = SIMD8<Float>(position * perHop8)
                values[1] = SIMD8<Float>(z1.re)
                values[2] = SIMD8<Float>(z1.im)
                values[3] = SIMD8<Float>(z2.re)
                values[4] = SIMD8<Float>(z2.im)
                // Chain c takes elements c, c + S, c + 2S, …: seed z^{5c+3}, step z^{5S}.
                let step = chains == 1 ? z5 : (chains == 2 ? Self.square(z5) : Self.power(z5, chains))
                values[5] = SIMD8<Float>(step.re)
                values[6] = SIMD8<Float>(step.im)
                values[7] = SIMD8<Float>(z3.re)
                values[8] = SIMD8<Float>(z3.im)
                var seed = z3
                for c in 1..<chains {
                    seed = Self.multiply(seed, z5)
                    values[7 + 2 * c] = SIMD8<Float>(seed.re)
                    values[8 + 2 * c] = SIMD8<Float>(seed.im)
                }
                values += perBlock

                // Advance the recurrence to positions m + 8.
                z = Self.multiply(z, w)
                w = Self.multiply(w, d)
                m += 8
                let firstLane = m % interval
                if firstLane < 8 || firstLane > interval - 8 {
                    let next = position + 8
                    let mask = next - Double(interval) * (next * (1 / Double(interval))).rounded(.down) .< 8
                    let (directZ, directW) = direct(next)
                    z = (z.re.replacing(with: directZ.re, where: mask), z.im.replacing(with: directZ.im, where: mask))
                    w = (w.re.replacing(with: directW.re, where: mask), w.im.replacing(with: directW.im, where: mask))
                }
            }
            (stateZ, stateW, stateD) = (z, w, d)
            statePosition = m
            (stateAlpha, stateBeta) = (alpha, beta)

            // The harmonic sums.
            values = blockValues
            m = chunkStart
            while m < chunkEnd {
                let lanes = min(8, chunkEnd - m)
                let fraction = values[0]
                let stepRe = values[5], stepIm = values[6]
                var sum0 = SIMD8<Float>(), sum1 = SIMD8<Float>(), sum2 = SIMD8<Float>()
                var sum3 = SIMD8<Float>(), sum4 = SIMD8<Float>()
                // Chains in interleaved pairs (A, B), so that two rotations are in flight.
                let chainStride = stride * chains
                var chain = 0
                while chain < elements && chain < chains {
                    var aRe = values[7 + 2 * chain], aIm = values[8 + 2 * chain]
                    var ca = UnsafePointer(coefficients + stride * chain)
                    let stepsA = chains == 1 ? elements : (elements - chain + chains - 1) / chains
                    var stepsB = 0
                    if chain + 1 < chains && chain + 1 < elements {
                        var bRe = values[9 + 2 * chain], bIm = values[10 + 2 * chain]
                        var cb = UnsafePointer(coefficients + stride * (chain + 1))
                        stepsB = (elements - chain - 1 + chains - 1) / chains
                        for _ in 0..<stepsB {
                            Self.accumulate(ca, fraction, aRe, aIm, &sum0, &sum1, &sum2, &sum3, &sum4)
                            Self.accumulate(cb, fraction, bRe, bIm, &sum0, &sum1, &sum2, &sum3, &sum4)
                            Self.rotate(&aRe, &aIm, stepRe, stepIm)
                            Self.rotate(&bRe, &bIm, stepRe, stepIm)
                            ca += chainStride
                            cb += chainStride
                        }
                    }
                    // The rest of A (all of it when it runs alone, else one element at most).
                    if stepsA > stepsB {
                        for _ in stepsB..<(stepsA - 1) {
                            Self.accumulate(ca, fraction, aRe, aIm, &sum0, &sum1, &sum2, &sum3, &sum4)
                            Self.rotate(&aRe, &aIm, stepRe, stepIm)
                            ca += chainStride
                        }
                        Self.accumulate(ca, fraction, aRe, aIm, &sum0, &sum1, &sum2, &sum3, &sum4)
                    }
                    chain += 2
                }
                let sum = sum0.addingProduct(values[1], sum1).addingProduct(values[2], sum2)
                    .addingProduct(values[3], sum3).addingProduct(values[4], sum4)

                if lanes == 8 {
                    let raw = UnsafeMutableRawPointer(out)
                    raw.storeBytes(of: raw.loadUnaligned(as: SIMD8<Float>.self) + sum, as: SIMD8<Float>.self)
                } else {
                    for lane in 0..<lanes { out[lane] += sum[lane] }
                }
                values += perBlock
                m += lanes
                out += lanes
            }
            chunkStart = chunkEnd
        }
    }

    /// The stretched path (see the type's comment). Real-time safe.
    private func renderStretched(f0Hz: Double, nextF0Hz: Double, amplitudes: UnsafeBufferPointer<Float>,
                                 nextAmplitudes: UnsafeBufferPointer<Float>, harmonicCount: Int, inharmonicity b: Double,
                                 samples: Range<Int>, addingInto output: UnsafeMutablePointer<Float>) {
        let frameStart = frameStartPhase
        let hopD = Double(hop)
        let alpha = f0Hz / sampleRate
        let beta = (nextF0Hz - f0Hz) / (2 * hopD * sampleRate)
        let endM = Double(samples.upperBound)
        let endPhase = frameStart + endM * (alpha + (endM - 1) * beta)
        phaseCycles = endPhase - endPhase.rounded(.down)
        if b != ratiosFor {
            for k in 0..<maxHarmonics { ratios[k] = HarmonicControls.stretchRatio(partial: k + 1, inharmonicity: b) }
            ratiosFor = b
        }
        defer {
            if samples.upperBound == hop {
                // the frame ends: every partial's phase moves on by r_k times the frame's base phase advance
                let advance = hopD * (alpha + (hopD - 1) * beta)
                for k in 0..<maxHarmonics {
                    let cycles = partialPhases[k] + ratios[k] * advance
                    partialPhases[k] = cycles - cycles.rounded(.down)
                }
                stretchedPosition = -1
            }
        }

        var activeCount = harmonicCount
        while activeCount > 0 && amplitudes[activeCount - 1] == 0 && nextAmplitudes[activeCount - 1] == 0 {
            activeCount -= 1
        }
        guard activeCount > 0 else {
            stretchedPosition = -1
            return
        }
        let groups = (activeCount + 7) / 8
        let stride = Self.stretchedStride
        let lower = samples.lowerBound, count = samples.count
        if lower != stretchedPosition || alpha != stretchedAlpha || beta != stretchedBeta || b != stretchedB
            || groups != stretchedGroups {
            // seed every group's phasors directly at position `lower`
            let m = Double(lower)
            let baseAdvance = m * (alpha + (m - 1) * beta), step = alpha + 2 * m * beta
            for g in 0..<groups {
                var cp = SIMD8<Double>(), cw = SIMD8<Double>(), cd = SIMD8<Double>()
                for lane in 0..<8 {
                    let k = 8 * g + lane
                    guard k < maxHarmonics else { break }
                    let r = ratios[k]
                    cp[lane] = partialPhases[k] + r * baseAdvance
                    cw[lane] = r * step
                    cd[lane] = r * 2 * beta
                }
                let p = Self.phasor(cp), w = Self.phasor(cw), d = Self.phasor(cd)
                let s = stretchedState + stride * g
                s[0] = p.re
                s[1] = p.im
                s[2] = w.re
                s[3] = w.im
                s[4] = d.re
                s[5] = d.im
            }
        }
        laneSums.update(repeating: SIMD8(), count: count)
        let invHop = 1 / hopD
        for g in 0..<groups {
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
            for lane in 0..<min(8, activeCount - 8 * g) {
                a0[lane] = amplitudes[8 * g + lane]
                a1[lane] = nextAmplitudes[8 * g + lane]
            }
            let slope = a1 - a0
            let s = stretchedState + stride * g
            var p = (re: s[0], im: s[1]), w = (re: s[2], im: s[3])
            let d = (re: s[4], im: s[5])
            var sums = laneSums
            if beta == 0 {
                // w stays constant (d = 1 exactly): the same bits without the multiplication
                for m in lower..<(lower + count) {
                    let fraction = SIMD8<Float>(repeating: Float(Double(m) * invHop))
                    sums.pointee = sums.pointee.addingProduct(a0.addingProduct(fraction, slope), SIMD8<Float>(p.im))
                    p = Self.multiply(p, w)
                    sums += 1
                }
            } else {
                for m in lower..<(lower + count) {
                    let fraction = SIMD8<Float>(repeating: Float(Double(m) * invHop))
                    sums.pointee = sums.pointee.addingProduct(a0.addingProduct(fraction, slope), SIMD8<Float>(p.im))
                    p = Self.multiply(p, w)
                    w = Self.multiply(w, d)
                    sums += 1
                }
            }
            s[0] = p.re
            s[1] = p.im
            s[2] = w.re
            s[3] = w.im
        }
        for i in 0..<count {
            // the lanes summed by hand in the order of (low + high halves) twice: `lowHalf` is a
            // SIMD4<Float>, whose type a debug build instantiates on first use (an allocation)
            let v = laneSums[i]
            output[i] += ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
        }
        stretchedPosition = lower + count
        (stretchedAlpha, stretchedBeta, stretchedB, stretchedGroups) = (alpha, beta, b, groups)
    }

    /// Writes per element e (harmonics 5e+1 ... 5e+5 around the centre c = 5e+3):
    /// `A_c, A_{c+1} + A_{c-1}, A_{c+1} - A_{c-1}, A_{c+2} + A_{c-2}, A_{c+2} - A_{c-2}` of the frame
    /// start, then the same of the slopes `a_{n+1} - a_n`; amplitudes from `count` on are 0.
    @inline(__always)
    private static func setCoefficients(_ coefficients: UnsafeMutablePointer<Float>, start a0: UnsafePointer<Float>,
                                        end a1: UnsafePointer<Float>, count: Int) {
        @inline(__always)
        func write(_ c: UnsafeMutablePointer<Float>, _ x0: Float, _ x1: Float, _ x2: Float, _ x3: Float, _ x4: Float) {
            c[0] = x2
            c[1] = x3 + x1
            c[2] = x3 - x1
            c[3] = x4 + x0
            c[4] = x4 - x0
        }
        let full = count / elementWidth
        var c = coefficients
        var a = a0, b = a1
        for _ in 0..<full {
            write(c, a[0], a[1], a[2], a[3], a[4])
            write(c + 5, b[0] - a[0], b[1] - a[1], b[2] - a[2], b[3] - a[3], b[4] - a[4])
            c += coefficientStride
            a += elementWidth
            b += elementWidth
        }
        let rest = count - full * elementWidth
        if rest > 0 {
            // the last, partial element: missing harmonics count as silent (no closures here:
            // captured locals would be boxed on the heap in debug builds)
            var x = SIMD8<Float>(), y = SIMD8<Float>()
            for j in 0..<rest {
                x[j] = a[j]
                y[j] = b[j] - a[j]
            }
            write(c, x[0], x[1], x[2], x[3], x[4])
            write(c + 5, y[0], y[1], y[2], y[3], y[4])
        }
    }

    /// Adds one element's five harmonics (centre phasor `re + i im`) into the five sums.
    @inline(__always)
    private static func accumulate(_ c: UnsafePointer<Float>, _ fraction: SIMD8<Float>,
                                   _ re: SIMD8<Float>, _ im: SIMD8<Float>,
                                   _ sum0: inout SIMD8<Float>, _ sum1: inout SIMD8<Float>, _ sum2: inout SIMD8<Float>,
                                   _ sum3: inout SIMD8<Float>, _ sum4: inout SIMD8<Float>) {
        sum0 = sum0.addingProduct(SIMD8(repeating: c[0]).addingProduct(fraction, SIMD8(repeating: c[5])), im)
        sum1 = sum1.addingProduct(SIMD8(repeating: c[1]).addingProduct(fraction, SIMD8(repeating: c[6])), im)
        sum2 = sum2.addingProduct(SIMD8(repeating: c[2]).addingProduct(fraction, SIMD8(repeating: c[7])), re)
        sum3 = sum3.addingProduct(SIMD8(repeating: c[3]).addingProduct(fraction, SIMD8(repeating: c[8])), im)
        sum4 = sum4.addingProduct(SIMD8(repeating: c[4]).addingProduct(fraction, SIMD8(repeating: c[9])), re)
    }

    /// `(re + i im) *= (stepRe + i stepIm)`, single precision.
    @inline(__always)
    private static func rotate(_ re: inout SIMD8<Float>, _ im: inout SIMD8<Float>,
                               _ stepRe: SIMD8<Float>, _ stepIm: SIMD8<Float>) {
        let nextRe = (im * -stepIm).addingProduct(re, stepRe)
        let nextIm = (im * stepRe).addingProduct(re, stepIm)
        re = nextRe
        im = nextIm
    }

    typealias Complex8 = (re: SIMD8<Double>, im: SIMD8<Double>)

    /// `-x` as a plain sign flip (`0 - x` is not one, so it would not fold into an FMA).
    @inline(__always)
    static func negated(_ x: SIMD8<Double>) -> SIMD8<Double> {
        SIMD8(repeating: -0.0) - x
    }

    @inline(__always)
    static func square(_ z: Complex8) -> Complex8 {
        ((z.re * z.re).addingProduct(negated(z.im), z.im), (z.re + z.re) * z.im)
    }

    @inline(__always)
    static func multiply(_ a: Complex8, _ b: Complex8) -> Complex8 {
        ((a.re * b.re).addingProduct(negated(a.im), b.im), (a.re * b.im).addingProduct(a.im, b.re))
    }

    /// `z^n` for n >= 1 by binary powering.
    @inline(__always)
    static func power(_ z: Complex8, _ n: Int) -> Complex8 {
        var result = z
        var bit = (Int.bitWidth - 1 - n.leadingZeroBitCount) - 1
        while bit >= 0 {
            result = square(result)
            if n & (1 << bit) != 0 { result = multiply(result, z) }
            bit -= 1
        }
        return result
    }

    /// `e^{2πi x}` in double precision (error about 1e-15): Taylor series of sine and cosine at
    /// `2π x / 8` after reducing x to [-1/2, 1/2], then three squarings.
    @inline(__always)
    static func phasor(_ cycles: SIMD8<Double>) -> Complex8 {
        let x = (cycles - cycles.rounded(.toNearestOrEven)) * (Double.pi / 4)
        let x2 = x * x
        // sin x = x (1 - x²/3! + x⁴/5! - ...), |x| <= π/8: the first omitted term is below 1e-18.
        var s = SIMD8<Double>(repeating: -1.0 / 39_916_800)
        s = SIMD8(repeating: 1.0 / 362_880).addingProduct(s, x2)
        s = SIMD8(repeating: -1.0 / 5_040).addingProduct(s, x2)
        s = SIMD8(repeating: 1.0 / 120).addingProduct(s, x2)
        s = SIMD8(repeating: -1.0 / 6).addingProduct(s, x2)
        s = x.addingProduct(s * x2, x)
        // cos x = 1 - x²/2! + x⁴/4! - ..., to x¹²: the first omitted term is below 1e-16.
        var c = SIMD8<Double>(repeating: 1.0 / 479_001_600)
        c = SIMD8(repeating: -1.0 / 3_628_800).addingProduct(c, x2)
        c = SIMD8(repeating: 1.0 / 40_320).addingProduct(c, x2)
        c = SIMD8(repeating: -1.0 / 720).addingProduct(c, x2)
        c = SIMD8(repeating: 1.0 / 24).addingProduct(c, x2)
        c = SIMD8(repeating: -0.5).addingProduct(c, x2)
        c = SIMD8(repeating: 1).addingProduct(c, x2)
        var z = (re: c, im: s)
        z = square(z)
        z = square(z)
        return square(z)
    }
}
