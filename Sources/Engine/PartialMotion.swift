#if canImport(Glibc)
import Glibc
#endif
import Inference
import ModelCore

/// One voice's partial motion (docs/model-format.md, "Partial motion"): gains that move each
/// partial's level around the decoder's course while the note is held, as a real held note's
/// partials move. Per partial a first-order autoregressive process of unit variance (correlation
/// ρ from one control frame to the next), optionally smoothed by a one-pole filter (β) and
/// brought back to unit variance, scaled to the depth of its group in dB and faded in
/// between 100 and 300 ms after the note-on (the strike stays the decoder's). Where the table
/// holds a vibrato lock λ for a group, that share of its variance follows the vibrato instead: each
/// partial's level swings with the vibrato's sine by a coefficient drawn at the note-on (its sign
/// and size: where the partial sits on the body's response), as a real bowed, blown or sung note's
/// partials rise and fall as the vibrato sweeps them over the resonances (with the table's tilt μ
/// the group's partials share a coefficient μ and keep √(1 − μ²) of their own: a flute's upper
/// partials rise together as its pitch does). A frame's gains are
/// scaled so that its harmonic power stays as decoded: the spectrum's shape moves, the note's
/// level course (attack, decay, velocity) stays the decoder's and the envelopes'. With a drift
/// cut the walk passes a first-order high-pass first (and is brought back to unit variance), so
/// it moves the partials as fast as before without wandering slowly.
///
/// The gains depend only on the note's seed, its frame count, the timbre and the decoded
/// amplitudes they multiply, never on which thread decoded them. Allocated once; every method
/// after `init` is real-time safe. The NumPy twin is `training/timbred_train/motion.py`.
final class PartialMotion {
    /// The fade-in span after the note-on, seconds.
    static let fadeInSeconds: (start: Double, end: Double) = (0.1, 0.3)
    let harmonicCount: Int
    /// The process per partial (unit variance).
    private let process: UnsafeMutablePointer<Float>
    /// The process smoothed by the one-pole filter (variance `smoothedVariance(rho:beta:)`).
    private let smoothed: UnsafeMutablePointer<Float>
    /// The walk (smoothed or not, before its scaling) of the frame before, the drift cut's input.
    private let previousWalk: UnsafeMutablePointer<Float>
    /// The walk through the drift cut's high-pass (from 0 at the note-on).
    private let cutWalk: UnsafeMutablePointer<Float>
    /// Per partial, how far and which way its level follows the vibrato (unit variance over
    /// partials), drawn at the note-on from a generator of its own, so that the random walk's
    /// draws are the same with and without a lock.
    private let lockCoefficient: UnsafeMutablePointer<Float>
    /// Gains of the frame playing now and of the next frame.
    private(set) var gains: (current: UnsafeMutablePointer<Float>, next: UnsafeMutablePointer<Float>)
    /// The harmonic amplitudes times the gains, for the oscillator bank.
    let movedCurrent: UnsafeMutablePointer<Float>
    let movedNext: UnsafeMutablePointer<Float>
    private var random: UInt32 = 1
    /// False until the fade-in starts: the gains are all 1 and the amplitudes play as decoded.
    private(set) var isMoving = false

    init(harmonicCount: Int) {
        self.harmonicCount = harmonicCount
        func buffer(_ value: Float) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, harmonicCount))
            p.initialize(repeating: value, count: max(1, harmonicCount))
            return p
        }
        process = buffer(0)
        smoothed = buffer(0)
        previousWalk = buffer(0)
        cutWalk = buffer(0)
        lockCoefficient = buffer(0)
        gains = (buffer(1), buffer(1))
        movedCurrent = buffer(0)
        movedNext = buffer(0)
    }

    deinit {
        process.deallocate()
        smoothed.deallocate()
        previousWalk.deallocate()
        cutWalk.deallocate()
        lockCoefficient.deallocate()
        gains.current.deallocate()
        gains.next.deallocate()
        movedCurrent.deallocate()
        movedNext.deallocate()
    }

    /// Starts a note: a new seed (never 0), every partial's process drawn from its stationary
    /// distribution and its vibrato coefficient from the seed's second generator, gains 1.
    /// Real-time safe.
    func start(seed: UInt32) {
        random = seed == 0 ? 0x9E37_79B9 : seed
        for k in 0..<harmonicCount {
            process[k] = unitNormal()
            smoothed[k] = process[k]
            previousWalk[k] = process[k]
            cutWalk[k] = 0
        }
        let walk = random
        random = Self.lockSeed(seed)
        for k in 0..<harmonicCount { lockCoefficient[k] = unitNormal() }
        random = walk
        gains.current.update(repeating: 1, count: harmonicCount)
        gains.next.update(repeating: 1, count: harmonicCount)
        isMoving = false
    }

    /// The seed of the vibrato coefficients' generator (never 0): the note's seed mixed, so that
    /// they are not the random walk's first draws.
    @inline(__always)
    static func lockSeed(_ seed: UInt32) -> UInt32 {
        let mixed = (seed ^ 0xA5A5_5A5A) &* 0x2C1B_3C6D
        return mixed == 0 ? 0x9E37_79B9 : mixed
    }

    /// Moves on one frame: the next frame's gains become the current ones and the gains of frame
    /// `nextFrame` (frames since the note-on) are computed from the group depths `depthDB` (G
    /// values over `edges`), the frame-to-frame correlation `rho`, the smoother's `beta` (0:
    /// none) and, with `vibratoLock` (G shares) and `vibratoTilt` (G values −1…1: a partial's
    /// coefficient is μ + √(1 − μ²)·its draw), the vibrato's sine `swing` at that frame (−1…1; 0
    /// without a vibrato); with `driftCutHz` > 0 the walk through the drift cut's high-pass at that
    /// frequency. Real-time safe.
    func advance(nextFrame: Int, frameRate: Double, edges: UnsafeBufferPointer<Int>, depthDB: UnsafePointer<Float>,
                 rho: Float, beta: Float, vibratoLock: UnsafePointer<Float>? = nil, vibratoTilt: UnsafePointer<Float>? = nil,
                 swing: Float = 0, driftCutHz: Float = 0) {
        let oldCurrent = gains.current
        gains.current = gains.next
        gains.next = oldCurrent
        let seconds = Double(nextFrame) / frameRate
        let fade = Float(min(max((seconds - Self.fadeInSeconds.start)
                                 / (Self.fadeInSeconds.end - Self.fadeInSeconds.start), 0), 1))
        let drive = (max(0, 1 - rho * rho)).squareRoot()
        let nepersPerDB: Float = 0.115_129_25  // ln(10) / 20
        let next = gains.next
        for k in 0..<harmonicCount { process[k] = rho * process[k] + drive * unitNormal() }
        // the smoothed process, brought back to unit variance (the process itself when beta is 0)
        if beta > 0 {
            for k in 0..<harmonicCount { smoothed[k] = beta * smoothed[k] + (1 - beta) * process[k] }
        }
        let walk = beta > 0 ? smoothed : process
        // the drift cut p (1 − z⁻¹) / (1 − p z⁻¹) runs on the walk before its scaling, always (its
        // state follows the walk when the cut is 0, so a timbre that gains one starts it settled)
        // a cut under `minDriftCutHz` (a blend's far instruments give a few µHz) is none: its pole
        // lies within a float's rounding of 1, where the variance's last entry divides by 0
        let cutting = driftCutHz >= Self.minDriftCutHz
        let pole = Float(Self.driftPole(cutHz: cutting ? Double(driftCutHz) : 0, frameRate: frameRate))
        for k in 0..<harmonicCount {
            cutWalk[k] = pole * (cutWalk[k] + walk[k] - previousWalk[k])
            previousWalk[k] = walk[k]
        }
        var unit: Float = beta > 0 ? 1 / Self.smoothedVariance(rho: rho, beta: beta).squareRoot() : 1
        var x = walk
        if cutting {
            let variance = Self.driftCutVariance(rho: Double(rho), beta: Double(beta), pole: Double(pole))
            if variance.isFinite && variance > 1e-6 {
                unit /= Float(variance.squareRoot())
                x = cutWalk
            }
        }
        for g in 0..<(edges.count - 1) {
            let lo = min(edges[g] - 1, harmonicCount), hi = min(edges[g + 1] - 1, harmonicCount)
            let s = depthDB[g] * nepersPerDB * fade
            var lock: Float = 0
            if let vibratoLock { lock = min(max(vibratoLock[g], 0), 1) }
            if lock > 0 {
                // √(1 − λ) of the walk and √λ of the vibrato's sine (√2: a sine's variance is ½),
                // unit variance over time and partials together. A partial keeps its coefficient
                // for the whole note, so each is brought back to its decoded power over a vibrato
                // cycle on its own: exp(a·sin) averages I₀(2a) in power
                var mu: Float = 0
                if let vibratoTilt { mu = min(max(vibratoTilt[g], -1), 1) }
                let walk = s * unit * (1 - lock).squareRoot(), walkPower = s * s * (1 - lock)
                let amplitude = s * (2 * lock).squareRoot(), own = (1 - mu * mu).squareRoot()
                for k in lo..<hi {
                    let a = amplitude * (mu + own * lockCoefficient[k])
                    next[k] = VectorActivation.exp(walk * x[k] - walkPower + a * swing - 0.5 * Self.logBesselI0(2 * a))
                }
            } else {
                // exp(s·x) / sqrt(E[exp(2 s·x)]) = exp(s·x − s²) for x of unit variance
                for k in lo..<hi { next[k] = VectorActivation.exp(s * unit * x[k] - s * s) }
            }
        }
        // partials past the last group stay still (`edges.last` allocates in a debug build)
        let last = edges[edges.count - 1] - 1
        if last < harmonicCount {
            for k in last..<harmonicCount { next[k] = 1 }
        }
        if fade > 0 { isMoving = true }
    }

    /// ln I₀(x), the modified Bessel function of the first kind and order 0 (the mean of
    /// exp(x·sin θ) over θ), by the polynomial approximations of Abramowitz and Stegun 9.8.1 (|x| ≤
    /// 3.75, error under 2·10⁻⁷ of I₀) and 9.8.2 (beyond, under 2·10⁻⁷ of e^x/√x). Real-time safe.
    @inline(__always)
    static func logBesselI0(_ value: Float) -> Float {
        let x = abs(value)
        if x <= 3.75 {
            let t = (x / 3.75) * (x / 3.75)
            let i0 = 1 + t * (3.515_622_9 + t * (3.089_942_4 + t * (1.206_749_2 + t * (0.265_973_2
                + t * (0.036_076_8 + t * 0.004_581_3)))))
            return log(i0)
        }
        let t = 3.75 / x
        let p = 0.398_942_28 + t * (0.013_285_92 + t * (0.002_253_19 + t * (-0.001_575_65 + t * (0.009_162_81
            + t * (-0.020_577_06 + t * (0.026_355_37 + t * (-0.016_476_33 + t * 0.003_923_77)))))))
        return x - 0.5 * log(x) + log(p)
    }

    /// The stationary variance of y ← β y + (1 − β) u for u a first-order process of unit
    /// variance and correlation ρ: (1 − β)(1 + βρ) / ((1 + β)(1 − βρ)). Real-time safe.
    @inline(__always)
    static func smoothedVariance(rho: Float, beta: Float) -> Float {
        (1 - beta) * (1 + beta * rho) / ((1 + beta) * (1 - beta * rho))
    }

    /// The smallest drift cut that cuts, Hz (its pole 0.99937 at 100 frames/s); below it the walk
    /// plays uncut.
    static let minDriftCutHz: Float = 0.01

    /// The pole p of the drift cut's high-pass p (1 − z⁻¹) / (1 − p z⁻¹) at `cutHz` on a process at
    /// `frameRate` frames/s: exp(−2π · cut / rate). Real-time safe.
    @inline(__always)
    static func driftPole(cutHz: Double, frameRate: Double) -> Double {
        exp(-2 * Double.pi * max(0, cutHz) / frameRate)
    }

    /// The stationary variance of the walk of unit variance (correlation ρ, through the smoother β
    /// and back to unit variance; β = 0: none) through the drift cut's high-pass with pole `pole`.
    /// The chain is a linear system driven by one unit draw per frame, state (x, y, h): x' = ρ x +
    /// σ e, y' = β y + (1 − β) x', h' = p h + p u (y' − y), σ = √(1 − ρ²), u = 1 / √(the smoothed
    /// variance). Its matrix A is lower triangular, so the stationary covariance P = A P Aᵀ + b bᵀ
    /// is solved entry by entry, each over 1 − A_ii A_jj (every pole lies below 1): exact where
    /// poles coincide. Returns P[h, h]. Real-time safe (no allocation: tuples).
    @inline(__always)
    static func driftCutVariance(rho: Double, beta: Double, pole p: Double) -> Double {
        let sigma = max(0, 1 - rho * rho).squareRoot()
        let u = ((1 + beta) * (1 - beta * rho) / ((1 - beta) * (1 + beta * rho))).squareRoot()  // 1 / √(smoothed variance)
        // A (rows) and b
        let a0 = (rho, 0.0, 0.0)
        let a1 = ((1 - beta) * rho, beta, 0.0)
        let a2 = (p * u * (1 - beta) * rho, p * u * (beta - 1), p)
        let b = (sigma, (1 - beta) * sigma, p * u * (1 - beta) * sigma)
        // P00 = ρ² P00 + σ²
        let p00 = b.0 * b.0 / (1 - a0.0 * a0.0)
        // P10 = A10 A00 P00 + A11 A00 P10 + b1 b0
        let p10 = (a1.0 * a0.0 * p00 + b.1 * b.0) / (1 - a1.1 * a0.0)
        // P11 = A10² P00 + 2 A10 A11 P10 + A11² P11 + b1²
        let p11 = (a1.0 * a1.0 * p00 + 2 * a1.0 * a1.1 * p10 + b.1 * b.1) / (1 - a1.1 * a1.1)
        // P20 = (A20 P00 + A21 P10) A00 + A22 A00 P20 + b2 b0
        let p20 = ((a2.0 * p00 + a2.1 * p10) * a0.0 + b.2 * b.0) / (1 - a2.2 * a0.0)
        // P21 = Σ_{k≤2, l≤1} A2k A1l Pkl + b2 b1, less the A22 A11 P21 term
        let p21 = (a2.0 * (a1.0 * p00 + a1.1 * p10) + a2.1 * (a1.0 * p10 + a1.1 * p11)
                   + a2.2 * a1.0 * p20 + b.2 * b.1) / (1 - a2.2 * a1.1)
        // P22 = Σ_{k,l≤2} A2k A2l Pkl + b2², less the A22² P22 term
        let p22 = (a2.0 * a2.0 * p00 + a2.1 * a2.1 * p11 + 2 * a2.0 * a2.1 * p10
                   + 2 * a2.2 * (a2.0 * p20 + a2.1 * p21) + b.2 * b.2) / (1 - a2.2 * a2.2)
        return p22
    }

    /// `current` and `next` amplitudes times their frame's gains, in ``movedCurrent`` and
    /// ``movedNext``, each frame's scaled to keep its harmonic power. Real-time safe.
    @inline(__always)
    func move(current: UnsafePointer<Float>, next: UnsafePointer<Float>) {
        Self.move(current, gains.current, into: movedCurrent, count: harmonicCount)
        Self.move(next, gains.next, into: movedNext, count: harmonicCount)
    }

    /// out = a · g, then scaled to a's power; four partials at a time in four independent sums (a
    /// fixed order of additions: the same sums on every call; plain floats, so a debug build looks
    /// up no SIMD witness table on the audio thread). Real-time safe.
    @inline(__always)
    private static func move(_ a: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                             into out: UnsafeMutablePointer<Float>, count: Int) {
        var b0: Float = 0, b1: Float = 0, b2: Float = 0, b3: Float = 0
        var m0: Float = 0, m1: Float = 0, m2: Float = 0, m3: Float = 0
        let whole = count & ~3
        var k = 0
        while k < whole {
            let x0 = a[k], x1 = a[k + 1], x2 = a[k + 2], x3 = a[k + 3]
            let y0 = x0 * g[k], y1 = x1 * g[k + 1], y2 = x2 * g[k + 2], y3 = x3 * g[k + 3]
            out[k] = y0
            out[k + 1] = y1
            out[k + 2] = y2
            out[k + 3] = y3
            b0 += x0 * x0; b1 += x1 * x1; b2 += x2 * x2; b3 += x3 * x3
            m0 += y0 * y0; m1 += y1 * y1; m2 += y2 * y2; m3 += y3 * y3
            k += 4
        }
        while k < count {
            let y = a[k] * g[k]
            out[k] = y
            b0 += a[k] * a[k]
            m0 += y * y
            k += 1
        }
        let p0 = (b0 + b1) + (b2 + b3), p1 = (m0 + m1) + (m2 + m3)
        let scale = p1 > 0 ? (p0 / p1).squareRoot() : 1
        for j in 0..<count { out[j] *= scale }
    }

    /// The sum of four uniform draws of a 32-bit xorshift generator, scaled to unit variance
    /// (bounded by ±2√3). Real-time safe.
    @inline(__always)
    private func unitNormal() -> Float {
        var total: Float = 0
        for _ in 0..<4 {
            random ^= random << 13
            random ^= random >> 17
            random ^= random << 5
            total += Float(random) * (1 / 4_294_967_296)
        }
        return (total - 2) * 1.732_050_8
    }
}
