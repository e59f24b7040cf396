import Inference
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The tone balance (docs/model-format.md, "Tone balance"): per instrument, pitch anchor and
/// velocity anchor, how many dB the model played from MIDI must be raised or lowered in each
/// 1/3-octave band (the transients' 28 bands) to sound at the real instrument's level while a
/// note sounds, how those gains change over a held note (the band course: the gains at a few
/// times after note-on, added to them), and over the note's first 600 ms (the onset course, 10 ms
/// frames, on pitch anchors of its own: every key), blended over instruments by the model's blend
/// rule.
///
/// Immutable; ``gains(z:pitch:velocity:secondsSinceNoteOn:scratch:into:)`` is real-time safe.
public struct ToneTable: Sendable, Equatable {
    /// B, bands (the transients' bands; band b ≥ 1 is centred at `1000 · 2^((b - 14) / 3)` Hz).
    public static var bandCount: Int { TransientTable.bandCount }
    /// The largest gain a file may hold, either way (the trainer clamps to -30 … +18 dB).
    public static let largestGainDB: Float = 40
    /// Values ``gains(z:pitch:velocity:secondsSinceNoteOn:scratch:into:)`` writes: the B band
    /// gains, then the onset gain, the strike's share, the strike's noise gain and the strike's top.
    public static var rowCount: Int { bandCount + 4 }
    /// T of `tone.onset_db` in a file without `tone.onset_pitches`: 40 frames (400 ms at 100
    /// frames/s).
    public static let onsetFrameCountInFiles = 40
    /// The most onset frames a file may hold (`tone.onset_db` with `tone.onset_pitches`).
    public static let largestOnsetFrameCount = 200
    /// The most band-course times a file may hold (`tone.course_seconds`).
    public static let largestCourseCount = 32

    /// I, instruments.
    public let instrumentCount: Int
    /// Z, latent dimensions.
    public let zDim: Int
    /// P pitch anchors (MIDI), increasing.
    public let pitchAnchors: [Double]
    /// V velocity anchors, increasing (the onset and band courses').
    public let velocityAnchors: [Double]
    /// The band gains' velocity anchors, increasing: `tone.gain_velocities`, else `velocityAnchors`.
    public let gainVelocityAnchors: [Double]
    /// The band gains' pitch anchors (MIDI), increasing: `tone.gain_pitches` (every key: each
    /// key's own balance), else `pitchAnchors`.
    public let gainPitchAnchors: [Double]
    /// `tone.gain_db` [I, P_gain, V_gain, B]: band b's gain in dB.
    public let gainDB: [Float]
    /// The onset course's pitch anchors (MIDI), increasing: `tone.onset_pitches`, else
    /// `pitchAnchors`.
    public let onsetPitchAnchors: [Double]
    /// `tone.onset_db` [I, P_onset, V_onset, T] (empty: none): the gain in dB of everything at frame t
    /// after note-on.
    public let onsetDB: [Float]
    /// The onset course's velocity anchors, increasing: `velocityAnchors` (files before session 34)
    /// or the band gains' own (`gainVelocityAnchors`: a course set at the velocity layers too, where
    /// a SoundFont switches samples between the envelopes' anchors).
    public let onsetVelocityAnchors: [Double]
    /// T, onset frames (0: none).
    public let onsetFrameCount: Int
    /// Onset frames per second (the decoder's frame rate).
    public let onsetFrameRateHz: Double
    /// `tone.course_seconds` [S] (empty: no band course): the times after note-on, increasing, at
    /// which `courseDB` holds the band course.
    public let courseSeconds: [Double]
    /// `tone.course_db` [I, P, V_course, S, B] (on `pitchAnchors` and `courseVelocityAnchors`): added to
    /// band b's gain, linear in time between the course's times, the first one's before them, the
    /// last one's after.
    public let courseDB: [Float]
    /// The band course's velocity anchors, increasing: `velocityAnchors` (files before session 22)
    /// or the band gains' own (`gainVelocityAnchors`: a course measured at the velocity layers too).
    public let courseVelocityAnchors: [Double]
    /// `tone.strike_fraction` [I] (empty: none): the share of the band gains (course included) at
    /// the note-on, rising linearly to all of them at ``strikeRampSeconds``.
    public let strikeFraction: [Float]
    /// `tone.strike_noise_db` [I] (empty: none): the noise's gain in dB at the note-on, linear to
    /// 0 dB at ``strikeRampSeconds`` (the noise alone moves: `ToneBalance.apply`).
    public let strikeNoiseDB: [Float]
    /// `tone.strike_top_db` [I, P_onset, V_gain] (on `onsetPitchAnchors` and `gainVelocityAnchors`;
    /// empty: none): the gain in dB of everything from 6.3 kHz up at the note-on (linear in
    /// amplitude to 0 dB at the 5 kHz band), linear to 0 dB at ``strikeRampSeconds``: each key's
    /// strike as bright as the real one's (`ToneBalance.apply`).
    public let strikeTopDB: [Float]
    /// The largest strike noise or top gain a file may hold, either way (dB).
    public static let strikeGainLimitDB: Float = 40
    /// The strike's ramp: from the note-on to the whole band balance, seconds.
    public static let strikeRampSeconds = 0.12
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

    /// Wraps validated values (the loader checks shapes and finiteness).
    public init(instrumentCount: Int, zDim: Int, pitchAnchors: [Double], velocityAnchors: [Double], gainDB: [Float],
                onsetDB: [Float] = [], onsetPitchAnchors: [Double]? = nil, onsetFrameRateHz: Double = 100,
                courseSeconds: [Double] = [], courseDB: [Float] = [], gainVelocityAnchors: [Double]? = nil,
                gainPitchAnchors: [Double]? = nil, courseOnGainVelocities: Bool = false,
                onsetOnGainVelocities: Bool = false, strikeFraction: [Float] = [], strikeNoiseDB: [Float] = [], strikeTopDB: [Float] = [],
                latentMeans: [Float], blendScale: Double, blendRule: LatentBlendRule) {
        precondition(strikeFraction.isEmpty || strikeFraction.count == instrumentCount)
        self.strikeFraction = strikeFraction
        precondition(strikeNoiseDB.isEmpty || strikeNoiseDB.count == instrumentCount)
        self.strikeNoiseDB = strikeNoiseDB
        precondition(pitchAnchors.count >= 2 && velocityAnchors.count >= 2)
        precondition(strikeTopDB.isEmpty || strikeTopDB.count
                     == instrumentCount * (onsetPitchAnchors ?? pitchAnchors).count
                     * (gainVelocityAnchors ?? velocityAnchors).count)
        self.strikeTopDB = strikeTopDB
        let gainVelocities = gainVelocityAnchors ?? velocityAnchors
        precondition(gainVelocities.count >= 2)
        let gainPitches = gainPitchAnchors ?? pitchAnchors
        precondition(gainPitches.count >= 2)
        precondition(gainDB.count == instrumentCount * gainPitches.count * gainVelocities.count * Self.bandCount)
        self.gainVelocityAnchors = gainVelocities
        self.gainPitchAnchors = gainPitches
        let onsetPitches = onsetPitchAnchors ?? pitchAnchors
        precondition(onsetPitches.count >= 2)
        let onsetVelocities = onsetOnGainVelocities ? gainVelocities : velocityAnchors
        self.onsetVelocityAnchors = onsetVelocities
        let onsetCells = instrumentCount * onsetPitches.count * onsetVelocities.count
        precondition(onsetDB.count % max(1, onsetCells) == 0)
        self.onsetPitchAnchors = onsetPitches
        self.onsetDB = onsetDB
        onsetFrameCount = onsetDB.count / max(1, onsetCells)
        self.onsetFrameRateHz = onsetFrameRateHz
        let courseVelocities = courseOnGainVelocities ? gainVelocities : velocityAnchors
        self.courseVelocityAnchors = courseVelocities
        precondition(courseDB.count
                     == instrumentCount * pitchAnchors.count * courseVelocities.count * courseSeconds.count * Self.bandCount)
        self.courseSeconds = courseSeconds
        self.courseDB = courseDB
        precondition(latentMeans.count == instrumentCount * zDim)
        self.instrumentCount = instrumentCount
        self.zDim = zDim
        self.pitchAnchors = pitchAnchors
        self.velocityAnchors = velocityAnchors
        self.gainDB = gainDB
        self.latentMeans = latentMeans
        self.blendScale = blendScale
        self.blendRule = blendRule
    }

    /// The B band gains in dB of a note at latent point `z`, MIDI `pitch` and `velocity` (each
    /// linear between anchors, clamped to them) with the band course at `secondsSinceNoteOn`
    /// added, then its onset gain in dB at that time (linear between frames; the last frame's
    /// after it), then the strike's share of the band gains' shape at that time (1 without
    /// `tone.strike_fraction` and from ``strikeRampSeconds`` on), then the strike's noise gain in dB
    /// (0 without `tone.strike_noise_db` and from ``strikeRampSeconds`` on), then the strike's top
    /// in dB (0 without `tone.strike_top_db` and from ``strikeRampSeconds`` on), written to `out`
    /// (``rowCount`` values). Real-time safe: `scratch` holds at least
    /// I doubles.
    public func gains(z: UnsafePointer<Float>, pitch: Double, velocity: Double, secondsSinceNoteOn: Double, line: MorphLine = .none,
                      scratch weights: UnsafeMutablePointer<Double>, into out: UnsafeMutablePointer<Float>) {
        latentMeans.withUnsafeBufferPointer { means in
            blendRule.weights(z: z, means: means, instrumentCount: instrumentCount, zDim: zDim, scale: blendScale,
                              line: line, into: weights)
        }
        gains(weights: weights, pitch: pitch, velocity: velocity, secondsSinceNoteOn: secondsSinceNoteOn, into: out)
    }

    /// ``gains(z:pitch:velocity:secondsSinceNoteOn:line:scratch:into:)`` from the point's blend
    /// `weights` already computed (I doubles, by this table's rule, scale and means:
    /// ``blend``). Real-time safe.
    public func gains(weights: UnsafePointer<Double>, pitch: Double, velocity: Double, secondsSinceNoteOn: Double,
                      into out: UnsafeMutablePointer<Float>) {
        let corners = AnchorCorners(pitchAnchors: gainPitchAnchors, velocityAnchors: gainVelocityAnchors, pitch: pitch,
                                    velocity: velocity)
        let courseCorners = AnchorCorners(pitchAnchors: pitchAnchors, velocityAnchors: courseVelocityAnchors,
                                          pitch: pitch, velocity: velocity)
        let b = Self.bandCount
        out.update(repeating: 0, count: Self.rowCount)
        // the onset frame: linear between frames, the last frame's value from then on, none
        // before note-on (or without a course)
        let position = secondsSinceNoteOn.isFinite ? secondsSinceNoteOn * onsetFrameRateHz : -1
        let last = onsetFrameCount - 1
        let frame = position < 0 || last < 0 ? -1 : (position >= Double(last) ? last : Int(position))
        let frameFraction = Float(frame >= 0 && frame < last ? position - Double(frame) : 0)
        let onsetCorners = frame < 0 ? corners : AnchorCorners(pitchAnchors: onsetPitchAnchors,
                                                               velocityAnchors: onsetVelocityAnchors, pitch: pitch,
                                                               velocity: velocity)
        let (courseIndex, courseFraction) = coursePosition(secondsSinceNoteOn)
        let s = courseSeconds.count, next = min(courseIndex + 1, s - 1)
        gainDB.withUnsafeBufferPointer { table in
            onsetDB.withUnsafeBufferPointer { onset in
              courseDB.withUnsafeBufferPointer { course in
                for i in 0..<instrumentCount {
                    let w = weights[i]
                    // an instrument this far away adds under 4e-6 dB: skipped (at a preset on an
                    // instrument's mean, all the others are)
                    guard w.isFinite, w > 1e-7 else { continue }
                    let (c00, c01, c10, c11) = corners.cells(instrument: i)
                    let (w00, w01, w10, w11) = corners.weights(w)
                    let a00 = table.baseAddress! + c00 * b, a01 = table.baseAddress! + c01 * b
                    let a10 = table.baseAddress! + c10 * b, a11 = table.baseAddress! + c11 * b
                    for x in 0..<b { out[x] += w00 * a00[x] + w10 * a10[x] + w01 * a01[x] + w11 * a11[x] }
                    if s > 0 {
                        // the band course of the four corners at its times j and j + 1
                        let at = (course, s, courseIndex, next, courseFraction)
                        let (e00, e01, e10, e11) = courseCorners.cells(instrument: i)
                        let (u00, u01, u10, u11) = courseCorners.weights(w)
                        Self.addCourse(at, cell: e00, weight: u00, into: out)
                        Self.addCourse(at, cell: e10, weight: u10, into: out)
                        Self.addCourse(at, cell: e01, weight: u01, into: out)
                        Self.addCourse(at, cell: e11, weight: u11, into: out)
                    }
                    guard frame >= 0 else { continue }
                    let o = (onset, onsetFrameCount, frame, frameFraction)
                    let (d00, d01, d10, d11) = onsetCorners.cells(instrument: i)
                    let (v00, v01, v10, v11) = onsetCorners.weights(w)
                    out[b] += v00 * Self.onset(o, d00) + v10 * Self.onset(o, d10) + v01 * Self.onset(o, d01)
                        + v11 * Self.onset(o, d11)
                }
              }
            }
        }
        // the strike: the band gains' share of the spectrum's shape at the note-on, linear to all
        // of it at the ramp's end (ToneBalance keeps the frame's power)
        out[b + 1] = 1
        out[b + 2] = 0
        out[b + 3] = 0
        if !strikeFraction.isEmpty || !strikeNoiseDB.isEmpty || !strikeTopDB.isEmpty, secondsSinceNoteOn.isFinite,
           secondsSinceNoteOn < Self.strikeRampSeconds {
            var fraction: Double = 0, noiseDB: Double = 0, topDB: Double = 0, total: Double = 0
            for i in 0..<instrumentCount where weights[i].isFinite && weights[i] > 1e-7 {
                fraction += weights[i] * Double(strikeFraction.isEmpty ? 1 : strikeFraction[i])
                noiseDB += weights[i] * Double(strikeNoiseDB.isEmpty ? 0 : strikeNoiseDB[i])
                total += weights[i]
            }
            topDB = blendedStrikeTop(weights: weights, pitch: pitch, velocity: velocity)
            if total > 0 {  // (a timbre point of NaN has no balance to share)
                let ramp = max(secondsSinceNoteOn, 0) / Self.strikeRampSeconds
                out[b + 1] = Float(fraction + (1 - fraction) * ramp)
                out[b + 2] = Float(noiseDB * (1 - ramp))
                out[b + 3] = Float(topDB * (1 - ramp))
            }
        }
    }

    /// The strike's top in dB at the note-on of a note at latent point `z`, MIDI `pitch` and
    /// `velocity` (0 without `tone.strike_top_db`). Real-time safe: `scratch` holds at least I doubles.
    public func strikeTopDB(z: UnsafePointer<Float>, pitch: Double, velocity: Double, line: MorphLine = .none,
                            scratch weights: UnsafeMutablePointer<Double>) -> Double {
        guard !strikeTopDB.isEmpty else { return 0 }
        latentMeans.withUnsafeBufferPointer { means in
            blendRule.weights(z: z, means: means, instrumentCount: instrumentCount, zDim: zDim, scale: blendScale,
                              line: line, into: weights)
        }
        return blendedStrikeTop(weights: weights, pitch: pitch, velocity: velocity)
    }

    /// `tone.strike_top_db` blended by the instruments' `weights`, bilinear on the onset course's
    /// keys and the band gains' velocities (0 without the tensor). Real-time safe.
    @inline(__always)
    private func blendedStrikeTop(weights: UnsafePointer<Double>, pitch: Double, velocity: Double) -> Double {
        guard !strikeTopDB.isEmpty else { return 0 }
        let corners = AnchorCorners(pitchAnchors: onsetPitchAnchors, velocityAnchors: gainVelocityAnchors,
                                    pitch: pitch, velocity: velocity)
        var top: Double = 0
        for i in 0..<instrumentCount where weights[i].isFinite && weights[i] > 1e-7 {
            let (c00, c01, c10, c11) = corners.cells(instrument: i)
            let (u00, u01, u10, u11) = corners.weights(weights[i])
            top += Double(u00 * strikeTopDB[c00] + u01 * strikeTopDB[c01] + u10 * strikeTopDB[c10] + u11 * strikeTopDB[c11])
        }
        return top
    }

    /// Lifts a note's transient (`TransientTable`'s T × B amplitudes, frame t at t / 500 s) by its
    /// strike's top: bands from ``ToneBalance/strikeTopBand`` up by `topDB`, linear in dB to 0 at
    /// ``strikeRampSeconds`` as the balance's. Real-time safe.
    public static func liftTransient(_ amplitudes: UnsafeMutablePointer<Float>, topDB: Double) {
        guard topDB != 0, topDB.isFinite else { return }
        let b = TransientTable.bandCount
        for t in 0..<TransientTable.frameCount {
            let ramp = min(Double(t) / TransientTable.frameRateHz / strikeRampSeconds, 1)
            let g = Float(exp(topDB * (1 - ramp) * (log(10.0) / 20)))
            for x in ToneBalance.strikeTopBand..<b { amplitudes[t * b + x] *= g }
        }
    }

    /// Adds `weight` times cell `cell`'s band course, linear between its times j and `next`, to
    /// the B values at `out`. Real-time safe.
    @inline(__always)
    private static func addCourse(_ at: (table: UnsafeBufferPointer<Float>, times: Int, j: Int, next: Int,
                                         fraction: Float),
                                  cell: Int, weight: Float, into out: UnsafeMutablePointer<Float>) {
        guard weight != 0 else { return }
        let b = bandCount
        let here = at.table.baseAddress! + (cell * at.times + at.j) * b
        let there = at.table.baseAddress! + (cell * at.times + at.next) * b
        for x in 0..<b { out[x] += weight * (here[x] + at.fraction * (there[x] - here[x])) }
    }

    /// Where `seconds` after note-on falls in the band course: time index j and the fraction
    /// towards j + 1 (j = 0, fraction 0 before the first time, non-finite included; the last
    /// index, fraction 0, from the last time on). Real-time safe.
    @inline(__always)
    private func coursePosition(_ seconds: Double) -> (Int, Float) {
        let s = courseSeconds.count
        guard s > 1, seconds.isFinite, seconds > courseSeconds[0] else { return (0, 0) }
        guard seconds < courseSeconds[s - 1] else { return (s - 1, 0) }
        var j = 0
        while j + 2 < s && courseSeconds[j + 1] <= seconds { j += 1 }
        return (j, Float((seconds - courseSeconds[j]) / (courseSeconds[j + 1] - courseSeconds[j])))
    }

    /// Cell c's onset gain at a frame and fraction (the last frame holds).
    @inline(__always)
    private static func onset(_ o: (table: UnsafeBufferPointer<Float>, frames: Int, frame: Int, fraction: Float),
                              _ c: Int) -> Float {
        let here = o.table[c * o.frames + o.frame]
        let next = o.frame + 1 < o.frames ? o.table[c * o.frames + o.frame + 1] : here
        return here + o.fraction * (next - here)
    }

    /// Array form of ``gains(z:pitch:velocity:secondsSinceNoteOn:scratch:into:)`` (allocates;
    /// not real-time): the B band gains, then the onset gain, then the strike's share, noise gain and top.
    public func gains(z: [Float], pitch: Double, velocity: Double, secondsSinceNoteOn: Double = 10,
                      line: MorphLine = .none) -> [Float] {
        precondition(z.count >= zDim)
        var scratch = [Double](repeating: 0, count: max(1, instrumentCount))
        var out = [Float](repeating: 0, count: Self.rowCount)
        z.withUnsafeBufferPointer { zb in
            scratch.withUnsafeMutableBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    gains(z: zb.baseAddress!, pitch: pitch, velocity: velocity, secondsSinceNoteOn: secondsSinceNoteOn,
                          line: line, scratch: s.baseAddress!, into: o.baseAddress!)
                }
            }
        }
        return out
    }
}
