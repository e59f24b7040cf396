// The morph knob's line: the brightness tilt of each of its points and the warp of the knob along
// it, so that the decoded timbre's brightness moves evenly from A's to B's (docs/architecture.md,
// "The morph knob").
import Engine
import Foundation
import Inference
import Model

/// What the decoder makes of the straight line between two timbre points as the morph knob
/// turns along it, and the tilt and warp that make the brightness move evenly.
///
/// Computed on the control side whenever the morph corners change (`SoundController`). At each
/// of `MorphWarp.tiltPitches` one reference note (velocity 100) is decoded as `timbred-train
/// playing` turns a morph: held at A, turned evenly to B, held at B, the decoder state forgotten
/// as the engine forgets it (`spectra`). Its harmonics and noise bands, averaged over the frames
/// at each of `points` path points, with the model's tone balance, are the point's spectrum; its
/// brightness is the magnitude centroid a short-time spectrum reads of it.
///
/// The decoder's brightness along a line need not move evenly, nor even one way: at A4 piano →
/// violin falls behind the straight line, overshoots the violin near s = 0.75 and comes back;
/// flute → trumpet brightens in one step near s = 0.66. So each point gets the spectral tilt (dB per octave above the fundamental,
/// at the level that keeps its power) that brings its brightness onto the straight line from A's
/// to B's (`MorphTilt`; 0 at the ends, so A and B sound as themselves). What the tilt cannot reach
/// (beyond `MorphTilt.maximumDBPerOctave`) the knob's warp evens out: it moves the path parameter
/// so that the tilted brightness at A4 changes at an even rate (each stretch's change, up or
/// down), with a fifth of the knob's travel spread evenly over the line so that no stretch of the
/// line is skipped.
public enum MorphProfile {
    /// Reference velocity.
    public static let velocity: Double = 100
    /// Path points decoded (s = i / (points − 1)): one per value of a tilt table.
    public static let points = MorphTilt.count
    /// The reference turn: the note held at A, turned to B, held at B (as `timbred-train
    /// playing` turns a morph).
    public static let holdSeconds = 1.0
    public static let turnSeconds = 4.0
    /// Bin width of the short-time spectrum whose magnitude centroid stands for brightness (4096
    /// points at 48 kHz, as `timbred-train playing` reads a morph).
    public static let binHz = 48000.0 / 4096
    /// Share of the knob's travel spread evenly along the line, whatever the brightness does.
    public static let evenShare = 0.2

    /// One path point's held reference note: its scaled harmonic amplitudes and noise band
    /// magnitudes (before the tone balance), averaged over frames, and its tone balance gains.
    public struct Spectrum: Sendable {
        public var harmonics: [Float]
        public var noise: [Float]
        /// `ToneBalance.rowCount` values; empty when the model has no tone balance.
        public var gainsDB: [Float]
    }

    /// The spectra of the reference note at each of `pitches` (MIDI; one batch row each) at the
    /// `points` path points from `a` to `b` as the knob turns them: the note is played at `a` (from
    /// note-on, zero decoder state) for `holdSeconds`, then its timbre point is turned evenly to `b`
    /// over `turnSeconds` and held there for `holdSeconds / 2`, the decoder's state forgotten
    /// towards the settled states as the engine forgets it (`EngineSettings.timbreForgetPerUnit`,
    /// the glide of `glideSeconds`). Each decoded frame from `holdSeconds / 2` on counts for the
    /// path point nearest its own point's place on the line; a point's tone balance gains are its
    /// own at the mean time of its frames. Allocates; not real-time (about 70 ms for three pitches
    /// in a release build on the 2-core VM). `decoder` (`maxBatch` ≥ the pitches) is reused when
    /// given; `settled` (`SettledState.states` of `model`), when given, is not decoded again.
    public static func spectra(model: TimbreModel, decoder reused: Decoder? = nil, settled given: [Float]? = nil,
                               from a: [Float], to b: [Float], pitches: [Double], points: Int = points,
                               holdSeconds: Double = holdSeconds, turnSeconds: Double = turnSeconds,
                               glideSeconds: Double = EngineSettings().timbreSmoothingSeconds,
                               forgetPerUnit: Double = EngineSettings().timbreForgetPerUnit) -> [[Spectrum]] {
        let n = points, rows = pitches.count, zDim = model.config.zDim, g = model.config.gruUnits
        precondition(a.count == zDim && b.count == zDim && n >= 2, "MorphProfile: points of the wrong dimension")
        guard rows > 0 else { return [] }
        let decoder = reused.flatMap { $0.maxBatch >= rows ? $0 : nil } ?? Decoder(weights: model.decoderWeights, maxBatch: rows)
        let settled = given ?? SettledState.states(model: model, decoder: reused)
        let scaler = model.controlScaler, env = model.envelopes
        let frameRate = Double(model.config.frameRate)
        let f0s = pitches.map { Float(440 * pow(2, ($0 - 69) / 12)) }
        let limit = scaler.limitHz(outputSampleRateHz: Float(model.config.sampleRate))
        let line = env.morphLine(from: a, to: b)
        var length2: Float = 0
        for d in 0..<zDim { length2 += (b[d] - a[d]) * (b[d] - a[d]) }
        let alpha = Float(1 - exp(-1 / (max(glideSeconds, 1e-4) * frameRate)))
        var z = a, zRows = [Float](repeating: 0, count: rows * zDim)
        var toward = [Float](repeating: 0, count: g)
        var state = [Float](repeating: 0, count: rows * g), raw = [Float](repeating: 0, count: rows * scaler.rawCount)
        var harmonics = [Float](repeating: 0, count: scaler.harmonicCount)
        var noise = [Float](repeating: 0, count: scaler.noiseBandCount)
        var note = [Float](repeating: 0, count: rows * Decoder.noteStride), loudness = [Float](repeating: 0, count: rows)
        let empty = Spectrum(harmonics: [Float](repeating: 0, count: scaler.harmonicCount),
                             noise: [Float](repeating: 0, count: scaler.noiseBandCount), gainsDB: [])
        var sums = [[Spectrum]](repeating: [Spectrum](repeating: empty, count: n), count: rows)
        var counts = [Int](repeating: 0, count: n), seconds = [Double](repeating: 0, count: n)
        let total = Int(((1.5 * holdSeconds + turnSeconds) * frameRate).rounded())
        for frame in 0..<total {
            let t = Double(frame) / frameRate
            let u = Float(min(max((t - holdSeconds) / max(turnSeconds, 1e-9), 0), 1))
            var moved: Double = 0
            for d in 0..<zDim {
                let step = alpha * (a[d] + (b[d] - a[d]) * u - z[d])
                z[d] += step
                if d < 16 { moved += Double(step) * Double(step) }
            }
            let weights = env.blendWeights(z: z, line: line)
            let keep = Float(exp(-max(forgetPerUnit, 0) * moved.squareRoot()))
            if keep < 1 {
                // the point's settled state (the same for every row), then each row drawn towards it
                for i in 0..<g { toward[i] = 0 }
                for k in 0..<weights.count where weights[k] > 1e-4 {
                    for i in 0..<g { toward[i] += weights[k] * settled[k * g + i] }
                }
                for r in 0..<rows {
                    for i in 0..<g { state[r * g + i] = keep * state[r * g + i] + (1 - keep) * toward[i] }
                }
            }
            for r in 0..<rows {
                for d in 0..<zDim { zRows[r * zDim + d] = z[d] }
                note[r * Decoder.noteStride] = Float(velocity)
                note[r * Decoder.noteStride + 1] = Float(t)
                note[r * Decoder.noteStride + 2] = -1
                loudness[r] = Float(env.loudnessDB(pitch: pitches[r], velocity: velocity, secondsSinceNoteOn: t,
                                                   noteOffAtSeconds: nil, weights: weights))
            }
            decoder.step(batch: rows, f0Hz: f0s, loudnessDB: loudness, note: note, z: zRows, state: &state, raw: &raw)
            guard t >= holdSeconds / 2 else { continue }
            var along: Float = 0
            for d in 0..<zDim { along += (z[d] - a[d]) * (b[d] - a[d]) }
            let place = length2 > 0 ? min(max(along / length2, 0), 1) : 0
            let i = min(max(Int((place * Float(n - 1)).rounded()), 0), n - 1)
            for r in 0..<rows {
                raw.withUnsafeBufferPointer { p in
                    _ = scaler.scale(raw: p.baseAddress! + r * scaler.rawCount, f0Hz: f0s[r], limitHz: limit,
                                     harmonics: &harmonics, noise: &noise)
                }
                for k in 0..<harmonics.count { sums[r][i].harmonics[k] += abs(harmonics[k]) }
                for j in 0..<noise.count { sums[r][i].noise[j] += abs(noise[j]) }
            }
            counts[i] += 1
            seconds[i] += t
        }
        for i in 0..<n where counts[i] > 0 {
            let w = 1 / Float(counts[i])
            for r in 0..<rows {
                for k in 0..<sums[r][i].harmonics.count { sums[r][i].harmonics[k] *= w }
                for k in 0..<sums[r][i].noise.count { sums[r][i].noise[k] *= w }
            }
            seconds[i] /= Double(counts[i])
        }
        // a point the turn stepped over (a turn shorter than the glide) takes its nearest
        // neighbour's spectrum
        let counted = sums, countedSeconds = seconds
        for i in 0..<n where counts[i] == 0 {
            guard let j = (0..<n).filter({ counts[$0] > 0 }).min(by: { abs($0 - i) < abs($1 - i) }) else { break }
            for r in 0..<rows { sums[r][i] = counted[r][j] }
            seconds[i] = countedSeconds[j]
        }
        for i in 0..<n {
            let s = Float(i) / Float(n - 1)
            let point = (0..<zDim).map { a[$0] + (b[$0] - a[$0]) * s }
            for r in 0..<rows {
                sums[r][i].gainsDB = model.tone?.gains(z: point, pitch: pitches[r], velocity: velocity,
                                                       secondsSinceNoteOn: seconds[i], line: line) ?? []
            }
        }
        return sums
    }

    /// The brightness (the magnitude centroid a short-time spectrum of `binHz` bins reads, Hz)
    /// and power (Σ amplitude²) of `spectrum` (of a note at MIDI `pitch`) with its tone balance,
    /// tilted by `tiltDBPerOctave` at `levelDB` as the engine tilts a frame (`ToneBalance.addTilt`).
    public static func brightness(of spectrum: Spectrum, pitch: Double, model: TimbreModel, tiltDBPerOctave: Float = 0,
                                  levelDB: Float = 0) -> (hz: Double, power: Double) {
        let scaler = model.controlScaler
        let f0 = Float(440 * pow(2, (pitch - 69) / 12))
        var harmonics = spectrum.harmonics, noise = spectrum.noise
        if !spectrum.gainsDB.isEmpty {
            var gains = spectrum.gainsDB
            gains.withUnsafeMutableBufferPointer { g in
                ToneBalance.addTilt(dBPerOctave: tiltDBPerOctave, levelDB: levelDB, f0Hz: f0, to: g.baseAddress!)
            }
            let balance = ToneBalance(harmonicCount: scaler.harmonicCount, noiseBandCount: scaler.noiseBandCount,
                                      bandLimitHz: Double(scaler.bandLimitHz))
            gains.withUnsafeBufferPointer { g in
                balance.apply(gainsDB: g.baseAddress!, f0Hz: f0, harmonics: &harmonics, noise: &noise)
            }
        }
        // the magnitude centroid a short-time spectrum reads (Hann window, `binHz` bins): a
        // harmonic of amplitude A sums to A/2 over its bins; a noise band of power P (white noise
        // of variance 1/3 through the band's magnitude, over the band's share of the spectrum)
        // over m bins to about 0.384·√(P·m) (Rayleigh-distributed bins)
        var magnitude = 0.0, weighted = 0.0, power = 0.0
        for k in 0..<harmonics.count {
            let p = Double(abs(harmonics[k])) / 2
            magnitude += p
            weighted += p * Double(k + 1) * Double(f0)
            power += Double(harmonics[k]) * Double(harmonics[k])
        }
        let bands = noise.count, bandHz = scaler.bandLimitHz / Float(max(bands - 1, 1))
        let bins = Double(bandHz) / binHz
        for j in 0..<bands {
            power += Double(noise[j]) * Double(noise[j])
            let variance = Double(noise[j]) * Double(noise[j]) / 3 * Double(bandHz) / Double(scaler.bandLimitHz)
            let p = 0.384 * (variance * bins).squareRoot()
            magnitude += p
            weighted += p * Double(j) * Double(bandHz)
        }
        return (magnitude > 0 ? weighted / magnitude : 0, power)
    }

    /// The tilt of each of `spectra` (evenly spaced path points of a note at MIDI `pitch`) that
    /// brings its brightness onto the straight line from the first's to the last's at the untilted
    /// power (the nearest within `MorphTilt.maximumDBPerOctave` where the line is out of reach), and
    /// the brightness with and without it.
    public static func tilt(spectra: [Spectrum], pitch: Double, model: TimbreModel)
        -> (tilt: MorphTilt, brightness: [Double], untilted: [Double]) {
        let n = spectra.count
        let plain = spectra.map { brightness(of: $0, pitch: pitch, model: model) }
        guard n == MorphTilt.count, model.tone != nil, plain.allSatisfy({ $0.hz.isFinite && $0.power > 0 }) else {
            return (MorphTilt(), plain.map(\.hz), plain.map(\.hz))
        }
        var slopes = SIMD32<Float>(), levels = SIMD32<Float>()
        var reached = plain.map(\.hz)
        let limit = MorphTilt.maximumDBPerOctave
        for i in 1..<(n - 1) {
            let target = plain[0].hz + (plain[n - 1].hz - plain[0].hz) * Double(i) / Double(n - 1)
            func hz(_ slope: Float) -> Double { brightness(of: spectra[i], pitch: pitch, model: model, tiltDBPerOctave: slope).hz }
            // the centroid rises with the tilt: bisect
            var low = -limit, high = limit
            if hz(low) >= target {
                high = low
            } else if hz(high) <= target {
                low = high
            } else {
                for _ in 0..<24 {
                    let mid = (low + high) / 2
                    if hz(mid) < target { low = mid } else { high = mid }
                }
            }
            let slope = (low + high) / 2
            let tilted = brightness(of: spectra[i], pitch: pitch, model: model, tiltDBPerOctave: slope)
            slopes[i] = slope
            levels[i] = Float(min(max(-10 * log10(tilted.power / plain[i].power), -24), 24))
            reached[i] = tilted.hz
        }
        return (MorphTilt(dBPerOctave: slopes, levelDB: levels) ?? MorphTilt(), reached, plain.map(\.hz))
    }

    /// The warp that moves `brightness` (at evenly spaced path points from A to B) at an even
    /// rate: each stretch's brightness change, up or down, shared out over `1 − evenShare` of the
    /// knob's travel in proportion (so a bump brighter than both ends is crossed as slowly as the
    /// rest, not jumped), `evenShare` spread evenly. The identity when the brightness does not
    /// change or a value is not finite.
    public static func warp(brightness: [Double]) -> MorphWarp {
        let n = brightness.count
        guard n >= 2, brightness.allSatisfy(\.isFinite) else { return .identity }
        var change = [Double](repeating: 0, count: n)
        for i in 1..<n { change[i] = abs(brightness[i] - brightness[i - 1]) }
        let total = change.reduce(0, +)
        guard total > 1e-9 * max(1, abs(brightness[0])) else { return .identity }
        // knob position at each path point: cumulative share of the travel
        var knob = [Double](repeating: 0, count: n)
        for i in 1..<n {
            knob[i] = knob[i - 1] + (1 - evenShare) * change[i] / total + evenShare / Double(n - 1)
        }
        knob[n - 1] = 1
        // invert: path parameter at each of the warp's knob positions
        var positions = SIMD16<Float>()
        var i = 0
        for j in 0..<MorphWarp.count {
            let u = Double(j) / Double(MorphWarp.count - 1)
            while i < n - 2 && knob[i + 1] < u { i += 1 }
            let span = knob[i + 1] - knob[i]
            let f = span > 0 ? min(max((u - knob[i]) / span, 0), 1) : 0
            positions[j] = Float((Double(i) + f) / Double(n - 1))
        }
        positions[0] = 0
        positions[MorphWarp.count - 1] = 1
        for j in 1..<MorphWarp.count { positions[j] = max(positions[j], positions[j - 1]) }
        return MorphWarp(positions: positions) ?? .identity
    }

    /// The warp and tilts for the line from `a` to `b` on `model` (`decoder`, `settled`: as in
    /// `spectra`): at each of `MorphWarp.tiltPitches` the turn's points tilted onto the straight
    /// brightness line (`tilt`), the knob warped to what the tilt leaves uneven at A4.
    public static func warp(model: TimbreModel, decoder: Decoder? = nil, settled: [Float]? = nil, from a: [Float],
                            to b: [Float]) -> MorphWarp {
        guard a.count == model.config.zDim, b.count == model.config.zDim, a != b else { return .identity }
        let (p0, p1, p2) = MorphWarp.tiltPitches
        let turns = spectra(model: model, decoder: decoder, settled: settled, from: a, to: b, pitches: [p0, p1, p2])
        let low = tilt(spectra: turns[0], pitch: p0, model: model)
        let middle = tilt(spectra: turns[1], pitch: p1, model: model)
        let high = tilt(spectra: turns[2], pitch: p2, model: model)
        let even = warp(brightness: middle.brightness)
        return MorphWarp(positions: even.positions, tilts: (low.tilt, middle.tilt, high.tilt)) ?? even
    }
}
