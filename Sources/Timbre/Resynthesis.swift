// Analysis by synthesis for `timbred encode`: resynthesise recorded notes at a latent point with
// the model's decoder and synthesizers, compare spectra, and search the latent space for the
// point that sounds most like the recordings. Offline code: allocates; never on the audio thread.
import DSP
import Foundation
import Inference
import Model

/// Plays recorded notes' own f0 and loudness through the model at a chosen timbre, at the
/// model's sample rate and without reverb (the engine's decoder, harmonic bank and noise).
public final class Resynthesizer {
    let model: TimbreModel
    let decoder: Decoder
    let scaler: ControlScaler
    let limitHz: Float
    let hop: Int
    let noiseSynth: NoiseSynth

    public init(model: TimbreModel) {
        self.model = model
        decoder = model.makeDecoder(maxBatch: 1)
        scaler = model.controlScaler
        limitHz = scaler.limitHz(outputSampleRateHz: Float(model.config.sampleRate))
        hop = model.config.hopSamples
        noiseSynth = NoiseSynth(sampleRate: Double(model.config.sampleRate), hop: hop,
                                bandCount: model.config.noiseBandCount, bandLimitHz: model.config.bandLimitHz)
    }

    /// The note `frames` frames long (f0 and loudness per frame) at latent point `z`, struck at
    /// frame 0 with `velocity` and released at `releaseFrame` (nil: held throughout).
    public func render(f0Hz: [Float], loudnessDB: [Float], z: [Float], velocity: Float = 100, releaseFrame: Int? = nil,
                       seed: UInt64 = 1) -> [Float] {
        let frames = min(f0Hz.count, loudnessDB.count)
        let k = model.config.harmonicCount, b = model.config.noiseBandCount
        let bank = HarmonicOscillatorBank(sampleRate: Double(model.config.sampleRate), hop: hop, maxHarmonics: k)
        let noise = NoiseVoice(synth: noiseSynth, seed: seed)
        var state = [Float](repeating: 0, count: model.config.gruUnits)
        var raw = [Float](repeating: 0, count: scaler.rawCount)
        var harmonics = [[Float]](repeating: [Float](repeating: 0, count: k), count: frames)
        var bands = [[Float]](repeating: [Float](repeating: 0, count: b), count: frames)
        for n in 0..<frames {
            let t = Float(n) / Float(model.config.frameRate)
            let sinceOff = releaseFrame.map { n >= $0 ? Float(n - $0) / Float(model.config.frameRate) : -1 } ?? -1
            decoder.step(batch: 1, f0Hz: [f0Hz[n]], loudnessDB: [loudnessDB[n]], note: [velocity, t, sinceOff], z: z,
                         state: &state, raw: &raw)
            raw.withUnsafeBufferPointer { r in
                harmonics[n].withUnsafeMutableBufferPointer { h in
                    bands[n].withUnsafeMutableBufferPointer { nb in
                        _ = scaler.scale(raw: r.baseAddress!, f0Hz: f0Hz[n], limitHz: limitHz,
                                         harmonics: h.baseAddress!, noise: nb.baseAddress!)
                    }
                }
            }
        }
        var out = [Float](repeating: 0, count: frames * hop)
        out.withUnsafeMutableBufferPointer { o in
            for n in 0..<frames {
                let next = min(n + 1, frames - 1)
                harmonics[n].withUnsafeBufferPointer { a0 in
                    harmonics[next].withUnsafeBufferPointer { a1 in
                        bank.render(f0Hz: Double(f0Hz[n]), nextF0Hz: Double(f0Hz[next]), amplitudes: a0, nextAmplitudes: a1,
                                    samples: 0..<hop, addingInto: o.baseAddress! + n * hop)
                    }
                }
                bands[n].withUnsafeBufferPointer { noise.beginFrame(bandMagnitudes: $0) }
                noise.render(addingInto: o.baseAddress! + n * hop, count: hop)
            }
        }
        return out
    }
}

/// A sound's long-term spectral envelope: power averaged over the first `seconds` (2048-point
/// Hann STFT, 512 hop) in 64 mel bands, normalised to unit total power, in dB, floored 60 dB
/// under the loudest band. Independent of level and of phase; what "sounds like the same
/// instrument" compares. The same measure as the trainer's `encode_check.mean_log_mel`, by which
/// the encode check judges encoded presets.
public struct MelProfile: Sendable {
    public let bandsDB: [Double]

    public init(_ x: [Float], sampleRate: Double, seconds: Double = 2.0) {
        let n = 2048, hop = 512, melCount = 64
        let fft = RealFFT(size: n)
        let window = NoteAnalysis.periodicHann(n)
        let filters = MelProfile.filters(sampleRate: sampleRate, fftSize: n, count: melCount)
        var power = [Double](repeating: 0, count: n / 2 + 1)
        var clip = Array(x[0..<min(x.count, Int(seconds * sampleRate))])
        if clip.count < n { clip += [Float](repeating: 0, count: n - clip.count) }
        var start = 0, frames = 0
        while start + n <= clip.count {
            NoteAnalysis.frame(clip, centre: start + n / 2, window: window, into: fft)
            fft.forward()
            for k in 0..<power.count {
                let re = Double(fft.spectrum[2 * k]), im = Double(fft.spectrum[2 * k + 1])
                power[k] += re * re + im * im
            }
            frames += 1
            start += hop
        }
        var bands = filters.map { f in f.reduce(0.0) { $0 + $1.weight * power[$1.bin] } / Double(frames) }
        let total = max(bands.reduce(0, +), 1e-30)
        bands = bands.map { 10 * log10($0 / total + 1e-30) }
        let top = bands.max() ?? 0
        bandsDB = bands.map { max($0, top - 60) }
    }

    /// RMS difference in dB between two profiles.
    public func distanceDB(to other: MelProfile) -> Double {
        (zip(bandsDB, other.bandsDB).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(bandsDB.count)).squareRoot()
    }

    /// Triangular mel filters (Slaney-style mel scale) from 30 Hz to the Nyquist frequency.
    static func filters(sampleRate: Double, fftSize: Int, count: Int) -> [[(bin: Int, weight: Double)]] {
        func mel(_ f: Double) -> Double { 2595 * log10(1 + f / 700) }
        func hz(_ m: Double) -> Double { 700 * (pow(10, m / 2595) - 1) }
        let lo = mel(30), hi = mel(sampleRate / 2)
        let edges = (0...(count + 1)).map { hz(lo + (hi - lo) * Double($0) / Double(count + 1)) }
        let binHz = sampleRate / Double(fftSize)
        return (0..<count).map { m in
            var taps: [(bin: Int, weight: Double)] = []
            for k in 0...(fftSize / 2) {
                let f = Double(k) * binHz
                let w = f < edges[m + 1] ? (f - edges[m]) / (edges[m + 1] - edges[m]) : (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1])
                if w > 0 { taps.append((k, w)) }
            }
            return taps
        }
    }
}

extension TimbreEncoder {
    /// What the search found.
    public struct Refinement: Sendable {
        /// The refined latent point.
        public let latent: [Float]
        /// Mean mel-profile distance (dB) of the notes resynthesised at the encoder's point.
        public let encoderDistanceDB: Double
        /// The same at the refined point.
        public let refinedDistanceDB: Double
        /// The same at the nearest instrument's own point (what its shipped preset plays).
        public let nearestInstrumentDistanceDB: Double
        /// Points tried.
        public let evaluations: Int
    }

    /// Analysis by synthesis: starting from the best of the encoder's point and the nearest
    /// instruments' points, a Nelder-Mead search moves the latent point to where the notes, as
    /// the engine plays them from MIDI (equal-tempered pitch, the learned envelope at that point,
    /// at the velocity whose early peak matches the recording's), match the recordings'
    /// long-term mel spectra best: what the musician will hear from the preset. A penalty keeps
    /// it within the region the model knows (no farther from an instrument than 3/4 of the
    /// typical spacing between instruments). The first 2 s of each note (attack and sustain) is
    /// compared. The result is never worse, by this measure, than the nearest instrument's preset.
    public func refine(_ sound: EncodedSound, maxEvaluations: Int = 120) -> Refinement {
        let synth = Resynthesizer(model: model)
        let rate = Double(model.config.sampleRate)
        let seconds = 2.0
        let targets = sound.notes.map { MelProfile($0.note.samples, sampleRate: rate, seconds: seconds) }
        let spacing = space.typicalSpacing
        let frameRate = Double(model.config.frameRate)
        let envelopes = model.envelopes
        /// The loudness the engine gives this note at point z when played from MIDI: the learned
        /// envelope (blended by z), at the velocity whose early peak matches the recording's.
        func playedLoudness(_ note: AnalysedNote, z: [Float], frames: Int) -> [Float] {
            let weights = envelopes.blendWeights(z: z)
            let target = Double(note.loudnessDB.prefix(frames).max() ?? -60)
            func envelope(_ velocity: Double, _ frame: Int) -> Double {
                envelopes.loudnessDB(pitch: note.nominalPitch, velocity: velocity, secondsSinceNoteOn: Double(frame) / frameRate,
                                     noteOffAtSeconds: nil, weights: weights)
            }
            var best = (velocity: 100.0, error: Double.infinity)
            for velocity in stride(from: 10.0, through: 127.0, by: 9.0) {
                var peak = -Double.infinity
                for f in 0..<min(frames, 50) { peak = max(peak, envelope(velocity, f)) }
                if abs(peak - target) < best.error { best = (velocity, abs(peak - target)) }
            }
            return (0..<frames).map { Float(envelope(best.velocity, $0)) }
        }
        var evaluations = 0
        /// Mean mel-profile distance of the notes played from MIDI at point z to the recordings.
        func mismatch(_ z: [Float]) -> Double {
            evaluations += 1
            var total = 0.0
            for (i, n) in sound.notes.enumerated() {
                let frames = min(n.note.f0Hz.count, Int(seconds * frameRate))
                let played = synth.render(f0Hz: [Float](repeating: Float(midiToHz(n.note.nominalPitch)), count: frames),
                                          loudnessDB: playedLoudness(n.note, z: z, frames: frames), z: z)
                total += MelProfile(played, sampleRate: rate, seconds: seconds).distanceDB(to: targets[i])
            }
            return total / Double(sound.notes.count)
        }
        func objective(_ z: [Float]) -> Double {
            let excess = max(0, space.neighbours(of: z)[0].distance / spacing - 0.75)
            return mismatch(z) + 10 * excess * excess
        }
        let encoderScore = objective(sound.latent)
        let nearestName = sound.neighbours[0].instrument
        let nearestIndex = space.instruments.firstIndex(of: nearestName)!
        let nearestPoint = space.means[nearestIndex].map(Float.init)
        let nearestScore = objective(nearestPoint)
        var start = (sound.latent, encoderScore)
        if nearestScore < start.1 { start = (nearestPoint, nearestScore) }
        for other in sound.neighbours.dropFirst().prefix(2) {
            let p = space.means[space.instruments.firstIndex(of: other.instrument)!].map(Float.init)
            let s = objective(p)
            if s < start.1 { start = (p, s) }
        }
        let best = nelderMead(start: start.0, startValue: start.1, step: Float(0.25 * spacing),
                              maxEvaluations: max(0, maxEvaluations - evaluations), f: objective)
        return Refinement(latent: best.0, encoderDistanceDB: encoderScore, refinedDistanceDB: best.1,
                          nearestInstrumentDistanceDB: nearestScore, evaluations: evaluations)
    }
}

/// Nelder-Mead simplex minimisation (standard coefficients: reflection 1, expansion 2,
/// contraction 1/2, shrink 1/2) from `start` with an axis-aligned initial simplex of `step`.
func nelderMead(start: [Float], startValue: Double, step: Float, maxEvaluations: Int,
                f: ([Float]) -> Double) -> ([Float], Double) {
    let d = start.count
    guard maxEvaluations > d + 1 else { return (start, startValue) }
    var simplex: [([Float], Double)] = [(start, startValue)]
    var used = 0
    for j in 0..<d {
        var p = start
        p[j] += step
        simplex.append((p, f(p)))
        used += 1
    }
    func combine(_ a: [Float], _ b: [Float], _ t: Float) -> [Float] { zip(a, b).map { $0 + t * ($1 - $0) } }
    while used + 2 <= maxEvaluations {
        simplex.sort { $0.1 < $1.1 }
        let centroid = (0..<d).map { j in simplex.dropLast().reduce(Float(0)) { $0 + $1.0[j] } / Float(d) }
        let worst = simplex[d]
        let reflected = combine(centroid, worst.0, -1)
        let fr = f(reflected); used += 1
        if fr < simplex[0].1 {
            let expanded = combine(centroid, worst.0, -2)
            let fe = f(expanded); used += 1
            simplex[d] = fe < fr ? (expanded, fe) : (reflected, fr)
        } else if fr < simplex[d - 1].1 {
            simplex[d] = (reflected, fr)
        } else {
            let contracted = combine(centroid, worst.0, 0.5)
            let fc = f(contracted); used += 1
            if fc < worst.1 {
                simplex[d] = (contracted, fc)
            } else {
                for i in 1...d {
                    let p = combine(simplex[0].0, simplex[i].0, 0.5)
                    simplex[i] = (p, f(p)); used += 1
                }
            }
        }
    }
    simplex.sort { $0.1 < $1.1 }
    return simplex[0]
}
