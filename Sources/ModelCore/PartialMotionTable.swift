/// Partial motion (docs/model-format.md, "Partial motion"): how much each partial's level moves
/// around its course, against the note's level, while a real note is held (vibrato walking the
/// partials over the formants, bowing, breath), per instrument: the standard deviation in dB for
/// each group of partials and the correlation from one control frame to the next; and, when the
/// file has it, the held note's vibrato (its pitch's sine depth in cents and rate in Hz, per
/// instrument or per instrument and pitch anchor). Blended over instruments by the model's blend
/// rule, like the other tables.
///
/// Immutable; ``parameters(z:scratch:depthDB:)`` and ``vibrato(z:pitch:scratch:)`` are real-time
/// safe.
public struct PartialMotionTable: Sendable, Equatable {
    /// Largest depth a file may hold, in dB.
    public static let maxDepthDB: Float = 20
    /// Largest vibrato depth a file may hold, cents (a semitone).
    public static let maxVibratoCents: Float = 100
    /// Largest vibrato rate a file may hold, Hz (under half the control rate's 100 frames/s).
    public static let maxVibratoHz: Float = 20
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
    /// `motion.smoothing` [I] (empty: none, as 0): the coefficient β (0 ≤ β < 1) of a one-pole
    /// smoother after the frame-to-frame process, so that the motion's spectrum falls twice as
    /// fast above its corner: real notes move slowly, and a first-order process at 100 frames/s
    /// spreads every partial into a skirt 20-50 Hz wide.
    public let smoothing: [Float]
    /// `motion.drift_cut_hz` [I] (empty: none, as 0): the cutoff of a first-order high-pass on the
    /// walk, Hz (0: none), so that it moves a partial as fast as before without wandering slowly:
    /// the depth is measured around each note's course over 0.51 s, and a first-order walk puts a
    /// third or more of its swing below that, a timbre that drifts for seconds.
    public let driftCutHz: [Float]
    /// `motion.vibrato_lock` [I, G] (empty: none, as 0): the share of each group's motion variance
    /// that follows the vibrato (a real partial's level rises and falls as the vibrato sweeps it
    /// over the body's resonances), the rest a random walk.
    public let vibratoLock: [Float]
    /// `motion.vibrato_tilt` [I, G] (empty: none, as 0; only beside the lock): how alike a group's
    /// partials follow the vibrato, the mean of their coefficients (−1…1: +1, all rise together as
    /// the pitch rises, a breath's brightness vibrato; 0, each its own way, a violin body's
    /// resonances).
    public let vibratoTilt: [Float]
    /// `motion.vibrato_cents` [I] or [I, P] (empty: no vibrato): the held note's vibrato depth,
    /// the sine's amplitude in cents, per instrument or per instrument and pitch anchor.
    public let vibratoCents: [Float]
    /// `motion.vibrato_hz` (the shape of `vibratoCents`; empty with it): the vibrato's rate.
    public let vibratoHz: [Float]
    /// The P pitch anchors (MIDI, increasing: the envelopes') of a vibrato per pitch; empty: one
    /// vibrato per instrument, the same at every key.
    public let vibratoPitchAnchors: [Double]
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

    /// G, groups of partials.
    public var groupCount: Int { harmonicEdges.count - 1 }

    /// Wraps validated values (the loader checks shapes and ranges).
    public init(instrumentCount: Int, zDim: Int, harmonicEdges: [Int], depthDB: [Float], correlation: [Float],
                vibratoCents: [Float] = [], vibratoHz: [Float] = [], vibratoPitchAnchors: [Double] = [],
                smoothing: [Float] = [], vibratoLock: [Float] = [], vibratoTilt: [Float] = [], driftCutHz: [Float] = [],
                latentMeans: [Float], blendScale: Double, blendRule: LatentBlendRule) {
        precondition(smoothing.isEmpty || smoothing.count == instrumentCount)
        precondition(driftCutHz.isEmpty || driftCutHz.count == instrumentCount)
        self.driftCutHz = driftCutHz
        precondition(vibratoLock.isEmpty || (vibratoLock.count == depthDB.count && !vibratoCents.isEmpty))
        precondition(vibratoTilt.isEmpty || (vibratoTilt.count == depthDB.count && !vibratoLock.isEmpty))
        self.vibratoLock = vibratoLock
        self.vibratoTilt = vibratoTilt
        self.smoothing = smoothing
        precondition(harmonicEdges.count >= 2 && harmonicEdges.first == 1)
        precondition(depthDB.count == instrumentCount * (harmonicEdges.count - 1))
        precondition(correlation.count == instrumentCount && latentMeans.count == instrumentCount * zDim)
        precondition(vibratoPitchAnchors.isEmpty || vibratoPitchAnchors.count >= 2)
        precondition(vibratoCents.count == vibratoHz.count
                     && (vibratoCents.isEmpty || vibratoCents.count == instrumentCount * max(1, vibratoPitchAnchors.count)))
        self.vibratoPitchAnchors = vibratoPitchAnchors
        self.vibratoCents = vibratoCents
        self.vibratoHz = vibratoHz
        self.instrumentCount = instrumentCount
        self.zDim = zDim
        self.harmonicEdges = harmonicEdges
        self.depthDB = depthDB
        self.correlation = correlation
        self.latentMeans = latentMeans
        self.blendScale = blendScale
        self.blendRule = blendRule
    }

    /// The depth per group (G values into `depthDB`), the vibrato lock and its tilt per group (G
    /// values each into `vibratoLock` and `vibratoTilt` when given: 0 without the tensors), and the
    /// frame-to-frame correlation ρ and the smoother's β (returned) at latent point `z`. Real-time
    /// safe: `scratch` holds at least I doubles.
    public func parameters(z: UnsafePointer<Float>, line: MorphLine = .none, scratch weights: UnsafeMutablePointer<Double>,
                           depthDB out: UnsafeMutablePointer<Float>, vibratoLock lockOut: UnsafeMutablePointer<Float>? = nil,
                           vibratoTilt tiltOut: UnsafeMutablePointer<Float>? = nil) -> (correlation: Float, smoothing: Float) {
        latentMeans.withUnsafeBufferPointer { means in
            blendRule.weights(z: z, means: means, instrumentCount: instrumentCount, zDim: zDim, scale: blendScale,
                              line: line, into: weights)
        }
        blend(depthDB, weights: weights, into: out, lowest: -.infinity, highest: .infinity)
        if let lockOut { blend(vibratoLock, weights: weights, into: lockOut, lowest: 0, highest: 1) }
        if let tiltOut { blend(vibratoTilt, weights: weights, into: tiltOut, lowest: -1, highest: 1) }
        var rho: Double = 0, beta: Double = 0
        for i in 0..<instrumentCount where weights[i].isFinite && weights[i] > 1e-7 {
            rho += weights[i] * Double(correlation[i])
            if !smoothing.isEmpty { beta += weights[i] * Double(smoothing[i]) }
        }
        return (Float(min(max(rho, 0), 0.999)), Float(min(max(beta, 0), Double(Self.maxSmoothing))))
    }

    /// G values of a [I, G] `table` blended by `weights` into `out`, held to `lowest`…`highest` (0
    /// for an empty table). Real-time safe.
    @inline(__always)
    private func blend(_ table: [Float], weights: UnsafeMutablePointer<Double>, into out: UnsafeMutablePointer<Float>,
                       lowest: Float, highest: Float) {
        let g = groupCount
        out.update(repeating: 0, count: g)
        guard !table.isEmpty else { return }
        // (no local captured and changed by a closure: a debug build boxes one on the heap)
        table.withUnsafeBufferPointer { rows in
            for i in 0..<instrumentCount {
                let w = weights[i]
                guard w.isFinite, w > 1e-7 else { continue }
                let row = rows.baseAddress! + i * g
                for x in 0..<g { out[x] += Float(w) * row[x] }
            }
        }
        guard lowest > -.infinity || highest < .infinity else { return }
        for x in 0..<g { out[x] = min(max(out[x], lowest), highest) }
    }

    /// Largest smoothing coefficient a file may hold.
    public static let maxSmoothing: Float = 0.99

    /// Largest drift cut a file may hold, Hz (a tenth of the control rate's 100 frames/s).
    public static let maxDriftCutHz: Float = 10

    /// The drift cut (Hz, 0: none) from blend weights already computed for the point (as
    /// ``parameters(z:line:scratch:depthDB:vibratoLock:vibratoTilt:)`` leaves them in its
    /// scratch). Real-time safe.
    public func driftCutHz(weights: UnsafePointer<Double>) -> Float {
        guard !driftCutHz.isEmpty else { return 0 }
        var cut: Double = 0
        for i in 0..<instrumentCount where weights[i].isFinite && weights[i] > 1e-7 {
            cut += weights[i] * Double(driftCutHz[i])
        }
        return Float(min(max(cut, 0), Double(Self.maxDriftCutHz)))
    }

    /// Whether the table holds a vibrato.
    public var hasVibrato: Bool { !vibratoCents.isEmpty }

    /// The vibrato at latent point `z` and MIDI key `pitch`: depth (the sine's amplitude, cents)
    /// and rate (Hz), linear between the pitch anchors and clamped to the first and last (a
    /// vibrato per instrument is the same at every key); (0, 0) without one. Real-time safe:
    /// `scratch` holds at least I doubles.
    public func vibrato(z: UnsafePointer<Float>, pitch: Double, line: MorphLine = .none,
                        scratch weights: UnsafeMutablePointer<Double>) -> (cents: Double, hz: Double) {
        guard hasVibrato else { return (0, 0) }
        latentMeans.withUnsafeBufferPointer { means in
            blendRule.weights(z: z, means: means, instrumentCount: instrumentCount, zDim: zDim, scale: blendScale,
                              line: line, into: weights)
        }
        return vibrato(pitch: pitch, weights: weights)
    }

    /// ``vibrato(z:pitch:line:scratch:)`` from blend weights already computed for the point (as
    /// ``parameters(z:line:scratch:depthDB:vibratoLock:vibratoTilt:)`` leaves them in its
    /// scratch). Real-time safe.
    public func vibrato(pitch: Double, weights: UnsafePointer<Double>) -> (cents: Double, hz: Double) {
        guard hasVibrato else { return (0, 0) }
        // the anchor j below the key and the fraction toward j + 1 (one column without anchors)
        let p = vibratoPitchAnchors.count
        var j = 0, fraction: Double = 0
        if p >= 2 {
            let (below, f) = anchorAxis(vibratoPitchAnchors, pitch.isFinite ? pitch : vibratoPitchAnchors[0])
            j = below
            fraction = min(max(f, 0), 1)
        }
        let columns = max(1, p), next = min(j + 1, columns - 1)
        var cents: Double = 0, hz: Double = 0
        for i in 0..<instrumentCount where weights[i].isFinite && weights[i] > 1e-7 {
            let row = i * columns
            let c = Double(vibratoCents[row + j]), h = Double(vibratoHz[row + j])
            cents += weights[i] * (c + fraction * (Double(vibratoCents[row + next]) - c))
            hz += weights[i] * (h + fraction * (Double(vibratoHz[row + next]) - h))
        }
        return (cents, hz)
    }

    /// Array form of ``parameters(z:scratch:depthDB:)`` (allocates; not real-time).
    public func parameters(z: [Float]) -> (depthDB: [Float], correlation: Float, smoothing: Float) {
        precondition(z.count >= zDim)
        var scratch = [Double](repeating: 0, count: max(1, instrumentCount))
        var out = [Float](repeating: 0, count: groupCount)
        let (rho, beta) = z.withUnsafeBufferPointer { zb in
            scratch.withUnsafeMutableBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    parameters(z: zb.baseAddress!, scratch: s.baseAddress!, depthDB: o.baseAddress!)
                }
            }
        }
        return (out, rho, beta)
    }
}
