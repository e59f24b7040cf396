// The morph knob's warp: how far along the line A → B each knob position goes, so that the
// decoded timbre moves evenly (docs/architecture.md, "The morph knob").
import Engine
import Foundation
import Inference
import Model

/// What the decoder makes of the straight line between two timbre points, and the warp that
/// makes the morph knob move along it evenly.
///
/// Computed on the control side whenever the morph corners change (`SoundController`): one
/// reference note (A4, velocity 100, held, the learned envelope at each point) is decoded at
/// `points` evenly spaced points of the line at once (one batched decoder step per frame),
/// `startSeconds` into the note from the state a moving voice's decoder state is drawn towards
/// (the point's instruments' `SettledState`s, blended as the engine blends them), and its brightness (the magnitude centroid of the decoded harmonics and noise
/// bands with the model's tone balance, as a short-time spectrum reads it, averaged over the last 20 of 40 frames) is taken at each. The knob then moves the path
/// parameter so that the brightness changes at an even rate (each stretch's change, up or down), with a fifth of the knob's travel spread evenly over the line so that no stretch of
/// the line is skipped.
public enum MorphProfile {
    /// Reference note.
    public static let pitch: Double = 69
    public static let velocity: Double = 100
    /// Path points decoded (s = i / (points − 1)).
    public static let points = 17
    /// Frames decoded per point; the brightness is averaged over the frames from `averageFrom`.
    public static let frames = 40
    public static let averageFrom = 20
    /// Time after note-on of the first frame decoded (from the settled states).
    public static let startSeconds = 3.0
    /// Bin width of the short-time spectrum whose magnitude centroid stands for brightness (4096
    /// points at 48 kHz, as `timbred-train playing` reads a morph).
    public static let binHz = 48000.0 / 4096
    /// Share of the knob's travel spread evenly along the line, whatever the brightness does.
    public static let evenShare = 0.2

    /// Brightness (power centroid, Hz) of the reference note at the `points` path points from
    /// `a` to `b`. Allocates; not real-time (12-28 ms in a release build on the 2-core VM under load).
    /// `decoder` (built for `model` with `maxBatch ≥ points`) is reused when given: building one
    /// packs the model's weights again (several MB the heap may keep after they are freed);
    /// `settled` (`SettledState.states` of `model`), when given, is not decoded again.
    public static func brightness(model: TimbreModel, decoder reused: Decoder? = nil, settled given: [Float]? = nil,
                                  from a: [Float], to b: [Float], points: Int = points,
                                  frames: Int = frames, averageFrom: Int = averageFrom, noise withNoise: Bool = true,
                                  startSeconds: Double = startSeconds) -> [Double] {
        let n = points, zDim = model.config.zDim, g = model.config.gruUnits
        precondition(a.count == zDim && b.count == zDim, "MorphProfile: points of the wrong dimension")
        let decoder = reused.flatMap { $0.maxBatch >= n ? $0 : nil } ?? Decoder(weights: model.decoderWeights, maxBatch: n)
        let scaler = model.controlScaler
        let f0 = Float(440 * pow(2, (pitch - 69) / 12))
        var z = [Float](repeating: 0, count: n * zDim)
        var weights = [[Float]](repeating: [], count: n)
        // every table blends A's and B's instruments along the line, as the engine's do
        let line = model.envelopes.morphLine(from: a, to: b)
        for i in 0..<n {
            let s = Float(i) / Float(n - 1)
            for d in 0..<zDim { z[i * zDim + d] = a[d] + (b[d] - a[d]) * s }
            weights[i] = model.envelopes.blendWeights(z: Array(z[i * zDim ..< (i + 1) * zDim]), line: line)
        }
        var state = [Float](repeating: 0, count: n * g)
        // from the state a moving voice is drawn towards (the engine's forgetting)
        let settled = given ?? SettledState.states(model: model, decoder: decoder)
        for i in 0..<n {
            for k in 0..<weights[i].count where weights[i][k] > 1e-4 {
                for u in 0..<g { state[i * g + u] += weights[i][k] * settled[k * g + u] }
            }
        }
        var raw = [Float](repeating: 0, count: n * scaler.rawCount)
        var harmonics = [Float](repeating: 0, count: scaler.harmonicCount)
        var noise = [Float](repeating: 0, count: scaler.noiseBandCount)
        let f0s = [Float](repeating: f0, count: n)
        var loudness = [Float](repeating: 0, count: n)
        var note = [Float](repeating: 0, count: n * Decoder.noteStride)
        var sums = [Double](repeating: 0, count: n)
        let limit = scaler.limitHz(outputSampleRateHz: Float(model.config.sampleRate))
        // the model's tone balance, as the engine applies it (the onset course is over by then)
        let balance = model.tone.map { _ in
            ToneBalance(harmonicCount: scaler.harmonicCount, noiseBandCount: scaler.noiseBandCount,
                        bandLimitHz: Double(scaler.bandLimitHz))
        }
        let toneGains: [[Float]] = (0..<n).map { i in
            model.tone?.gains(z: Array(z[i * zDim ..< (i + 1) * zDim]), pitch: pitch, velocity: velocity, line: line) ?? []
        }
        for frame in 0..<frames {
            let t = startSeconds + Double(frame) / Double(model.config.frameRate)
            for i in 0..<n {
                loudness[i] = Float(model.envelopes.loudnessDB(pitch: pitch, velocity: velocity, secondsSinceNoteOn: t,
                                                               noteOffAtSeconds: nil, weights: weights[i]))
                note[i * Decoder.noteStride] = Float(velocity)
                note[i * Decoder.noteStride + 1] = Float(t)
                note[i * Decoder.noteStride + 2] = -1
            }
            decoder.step(batch: n, f0Hz: f0s, loudnessDB: loudness, note: note, z: z, state: &state, raw: &raw)
            guard frame >= averageFrom else { continue }
            for i in 0..<n {
                raw.withUnsafeBufferPointer { r in
                    _ = scaler.scale(raw: r.baseAddress! + i * scaler.rawCount, f0Hz: f0, limitHz: limit,
                                     harmonics: &harmonics, noise: &noise)
                }
                if let balance {
                    toneGains[i].withUnsafeBufferPointer { g in
                        balance.apply(gainsDB: g.baseAddress!, f0Hz: f0, harmonics: &harmonics, noise: &noise)
                    }
                }
                // the magnitude centroid a short-time spectrum reads (Hann window, `binHz` bins):
                // a harmonic of amplitude A sums to A/2 over its bins; a noise band of power P (white
                // noise of variance 1/3 through the band's magnitude, over the band's share of the
                // spectrum) over m bins to about 0.384·√(P·m) (Rayleigh-distributed bins)
                var power = 0.0, weighted = 0.0
                for k in 0..<harmonics.count {
                    let p = Double(abs(harmonics[k])) / 2
                    power += p
                    weighted += p * Double(k + 1) * Double(f0)
                }
                if withNoise {
                    let bands = noise.count, bandHz = scaler.bandLimitHz / Float(max(bands - 1, 1))
                    let bins = Double(bandHz) / binHz
                    for j in 0..<bands {
                        let variance = Double(noise[j]) * Double(noise[j]) / 3 * Double(bandHz) / Double(scaler.bandLimitHz)
                        let p = 0.384 * (variance * bins).squareRoot()
                        power += p
                        weighted += p * Double(j) * Double(bandHz)
                    }
                }
                sums[i] += power > 0 ? weighted / power : 0
            }
        }
        return sums.map { $0 / Double(frames - averageFrom) }
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

    /// The warp for the line from `a` to `b` on `model` (`decoder`, `settled`: as in `brightness`).
    public static func warp(model: TimbreModel, decoder: Decoder? = nil, settled: [Float]? = nil, from a: [Float],
                            to b: [Float]) -> MorphWarp {
        guard a.count == model.config.zDim, b.count == model.config.zDim, a != b else { return .identity }
        return warp(brightness: brightness(model: model, decoder: decoder, settled: settled, from: a, to: b))
    }
}
