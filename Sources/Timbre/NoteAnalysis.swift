// The trainer's per-note analysis, in Swift: onset, pitch, f0 track, A-weighted loudness and the
// timbre encoder's input features. Mirrors training/timbred_train/{dataset,features,dsp}.py
// function by function (checked against the trainer's fixtures in Tests/TimbreTests). Offline
// code: allocates freely; never call it on the audio thread.
import DSP
import Foundation
import Model

/// One note analysed the way the trainer analyses its training notes.
public struct AnalysedNote: Sendable {
    /// The note's audio at the model's sample rate, starting 5 ms before its onset.
    public var samples: [Float]
    /// Sample rate of `samples` (the model's) in Hz.
    public var sampleRate: Double
    /// Seconds from the start of the file to the onset.
    public var onsetSeconds: Double
    /// MIDI pitch the tracker searched around (from the file name or the wide-range tracker).
    public var nominalPitch: Double
    /// f0 per model frame in Hz (YIN within ±1.5 semitones of the nominal pitch).
    public var f0Hz: [Float]
    /// A-weighted loudness per model frame in dB (0 dB = full-scale 1 kHz sine).
    public var loudnessDB: [Float]
    /// The timbre encoder's input (docs/model-format.md, "Encoder").
    public var features: [Float]

    /// Median f0 of the frames within 20 dB of the loudest, as a MIDI pitch.
    public var medianPitch: Double {
        let top = loudnessDB.max() ?? 0
        let voiced = zip(f0Hz, loudnessDB).filter { $0.1 > top - 20 }.map { Double($0.0) }
        return hzToMidi(median(voiced.isEmpty ? f0Hz.map(Double.init) : voiced))
    }
}

/// The analysis steps, as free functions of a note's samples; `analyse` chains them.
public enum NoteAnalysis {
    /// Frames with less RMS than this are unvoiced (the trainer's threshold).
    static let silentRMS = 1e-4
    /// Seconds of the note kept after the onset (the trainer's notes are 3 s; the encoder looks
    /// at the first 2 s).
    public static let maxNoteSeconds = 3.0

    /// Analyses one recording: checks it (silent, clipped, non-finite), finds the onset, takes the
    /// pitch from `pitch` or tracks it, tracks f0 around it and computes loudness and features.
    /// - Parameters:
    ///   - audio: the recording at any rate.
    ///   - config: the model's configuration (sample rate, frame rate, feature layout).
    ///   - pitch: the nominal MIDI pitch when known (e.g. from the file name).
    ///   - path: names the file in errors.
    /// - Throws: `AnalysisError` when the recording has no usable note.
    public static func analyse(_ audio: MonoAudio, config: ModelConfig, pitch: Double? = nil,
                               path: String) throws(AnalysisError) -> AnalysedNote {
        let x = audio.samples
        guard x.allSatisfy(\.isFinite) else { throw AnalysisError(path: path, message: "contains NaN or infinite samples") }
        let peak = x.reduce(Float(0)) { max($0, abs($1)) }
        guard peak >= 1e-3 else {
            throw AnalysisError(path: path, message: String(format: "silence (peak %.1f dBFS; a note needs at least -60 dBFS)",
                                                            amplitudeToDB(Double(peak))))
        }
        guard peak < 0.999 else {
            throw AnalysisError(path: path, message: "clipped (samples reach full scale): record it a little quieter")
        }
        // Onset at the source rate, then a generous crop, then the model's rate, then the exact
        // onset again at the model's rate (as the trainer does on the whole file).
        let sourceOnset = onsetIndex(x, sampleRate: audio.sampleRate)
        let cropStart = max(0, sourceOnset - Int(0.05 * audio.sampleRate))
        let cropEnd = min(x.count, sourceOnset + Int((maxNoteSeconds + 0.1) * audio.sampleRate))
        let cropped = MonoAudio(samples: Array(x[cropStart..<cropEnd]), sampleRate: audio.sampleRate)
        let rate = Double(config.sampleRate)
        let atRate = cropped.resampled(to: rate).samples
        let onset = onsetIndex(atRate, sampleRate: rate)
        let start = max(0, onset - Int(0.005 * rate))
        var note = Array(atRate[start...])
        if note.count > Int(maxNoteSeconds * rate) { note.removeLast(note.count - Int(maxNoteSeconds * rate)) }
        let firstPart = note.prefix(Int(0.2 * rate)).reduce(Float(0)) { max($0, abs($1)) }
        let notePeak = note.reduce(Float(0)) { max($0, abs($1)) }
        guard firstPart >= 0.1 * notePeak else {
            throw AnalysisError(path: path, message: "no note onset found (the sound swells in slowly)")
        }
        let hop = config.hopSamples
        let frames = max(1, (note.count + hop - 1) / hop)
        let nominal: Double
        if let pitch {
            nominal = pitch
        } else {
            let (f0, confidence) = trackF0(note, sampleRate: config.sampleRate, frameRate: config.frameRate,
                                           nominalHz: 261.6, frames: frames, searchSemitones: 36)
            let good = zip(f0, confidence).filter { $0.1 > 0.5 }.map { Double($0.0) }
            guard good.count >= 3 else {
                throw AnalysisError(path: path, message: "no pitched note found (the pitch tracker found no stable pitch)")
            }
            nominal = (hzToMidi(median(good))).rounded()
        }
        guard (12...120).contains(nominal) else {
            throw AnalysisError(path: path, message: String(format: "pitch %.0f is outside MIDI 12...120", nominal))
        }
        let (f0, _) = trackF0(note, sampleRate: config.sampleRate, frameRate: config.frameRate,
                              nominalHz: midiToHz(nominal), frames: frames, searchSemitones: 1.5)
        let loudness = loudnessDB(note, sampleRate: config.sampleRate, frameRate: config.frameRate, frames: frames)
        let features = encoderFeatures(note, config: config, f0Hz: f0, loudnessDB: loudness)
        return AnalysedNote(samples: note, sampleRate: rate,
                            onsetSeconds: Double(cropStart) / audio.sampleRate + Double(onset) / rate,
                            nominalPitch: nominal, f0Hz: f0, loudnessDB: loudness, features: features)
    }

    /// The trainer's onset: the first sample whose magnitude exceeds 5 % of the peak.
    public static func onsetIndex(_ x: [Float], sampleRate: Double) -> Int {
        let peak = x.reduce(Float(0)) { max($0, abs($1)) }
        return x.firstIndex { abs($0) > 0.05 * peak } ?? 0
    }

    /// MIDI pitch from a file name: "C4", "f#3", "Bb2" (C4 = 60) or a bare 2-3 digit number 0...127
    /// ("violin_60_loud.wav"); nil when the name carries none.
    public static func pitchFromName(_ name: String) -> Int? {
        let chars = Array(name)
        let base: [Character: Int] = ["c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11]
        for i in chars.indices {
            guard let b = base[Character(chars[i].lowercased())] else { continue }
            if i > 0, chars[i - 1].isLetter { continue }
            var j = i + 1, accidental = 0
            if j < chars.count, chars[j] == "#" { accidental = 1; j += 1 } else if j < chars.count, chars[j] == "b" { accidental = -1; j += 1 }
            var negative = false
            if j < chars.count, chars[j] == "-" { negative = true; j += 1 }
            guard j < chars.count, let d = chars[j].wholeNumberValue, chars[j].isASCII else { continue }
            if j + 1 < chars.count, chars[j + 1].isNumber { continue }
            let octave = negative ? -d : d
            let pitch = 12 * (octave + 1) + b + accidental
            if (0...127).contains(pitch) { return pitch }
        }
        var i = 0
        while i < chars.count {
            guard chars[i].isASCII, chars[i].isNumber else { i += 1; continue }
            var j = i
            while j < chars.count, chars[j].isASCII, chars[j].isNumber { j += 1 }
            if (2...3).contains(j - i), let v = Int(String(chars[i..<j])), (0...127).contains(v) { return v }
            i = j
        }
        return nil
    }

    /// A-weighted loudness per frame in dB, DDSP-style (the trainer's `dsp.loudness_db`): frame n
    /// is centred at sample n·hop of the zero-padded signal; the power spectrum of a 64 ms
    /// periodic Hann window is A-weighted and averaged over bins; a full-scale 1 kHz sine reads
    /// 0 dB; floored at -120 dB.
    public static func loudnessDB(_ x: [Float], sampleRate: Int, frameRate: Int, frames: Int) -> [Float] {
        let hop = sampleRate / frameRate
        var n = Int((0.064 * Double(sampleRate)).rounded())
        n += n % 2
        let window = periodicHann(n)
        let fft = RealFFT(size: n)
        let bins = n / 2 + 1
        let weights = (0..<bins).map { pow(10, aWeightingDB(Double($0) * Double(sampleRate) / Double(n)) / 10) }
        let reference = window.reduce(0) { $0 + Double($1) * Double($1) } * 0.5 * Double(n / 2) / Double(bins)
        let available = 1 + x.count / hop
        var out = [Float](repeating: -120, count: frames)
        for f in 0..<min(frames, available) {
            frame(x, centre: f * hop, window: window, into: fft)
            fft.forward()
            var sum = 0.0
            for k in 0..<bins {
                let re = Double(fft.spectrum[2 * k]), im = Double(fft.spectrum[2 * k + 1])
                sum += (re * re + im * im) * weights[k]
            }
            let db = 10 * log10(sum / Double(bins) / reference + 1e-12)
            out[f] = Float(max(db, -120))
        }
        return out
    }

    /// IEC 61672 A-weighting in dB (0 dB at 1 kHz), the trainer's `a_weighting_db`.
    public static func aWeightingDB(_ frequencyHz: Double) -> Double {
        let f2 = max(frequencyHz, 1e-6) * max(frequencyHz, 1e-6)
        let ra = (12194.0 * 12194.0 * f2 * f2)
            / ((f2 + 20.6 * 20.6) * ((f2 + 107.7 * 107.7) * (f2 + 737.9 * 737.9)).squareRoot() * (f2 + 12194.0 * 12194.0))
        return 20 * log10(max(ra, 1e-20)) + 2.0
    }

    /// f0 per frame within ±`searchSemitones` of `nominalHz` (the trainer's `track_f0`): the YIN
    /// difference function over the lags of that range, its cumulative-mean normalisation for a
    /// confidence, parabolic interpolation of the minimum. Frame n is centred at sample n·hop.
    /// Unvoiced or silent frames take the median of the confident ones.
    /// - Returns: f0 in Hz and confidence in 0...1 per frame.
    public static func trackF0(_ x: [Float], sampleRate: Int, frameRate: Int, nominalHz: Double, frames: Int,
                               searchSemitones: Double) -> (f0Hz: [Float], confidence: [Float]) {
        let sr = Double(sampleRate)
        let hop = sampleRate / frameRate
        let lagMin = max(Int((sr / (nominalHz * pow(2, searchSemitones / 12))).rounded(.down)) - 1, 2)
        let lagMax = Int((sr / (nominalHz * pow(2, -searchSemitones / 12))).rounded(.up)) + 1
        let win = max(Int(2.5 * Double(lagMax)), Int(0.025 * sr))
        let span = win + lagMax + 1
        var nFFT = 1
        while nFFT <= span + win { nFFT <<= 1 }
        let segFFT = RealFFT(size: nFFT), headFFT = RealFFT(size: nFFT)
        let lagCount = lagMax + 1  // lags 1...lagMax+1
        var f0 = [Double](repeating: 0, count: frames), conf = [Double](repeating: 0, count: frames)
        var rms = [Double](repeating: 0, count: frames)
        var seg = [Double](repeating: 0, count: span)
        var cumulativeSquares = [Double](repeating: 0, count: span + 1)
        var d = [Double](repeating: 0, count: lagCount), cmnd = [Double](repeating: 0, count: lagCount)
        for n in 0..<frames {
            let start = n * hop - win / 2
            for i in 0..<span {
                let k = start + i
                seg[i] = k >= 0 && k < x.count ? Double(x[k]) : 0
            }
            // r(lag) = Σ_{j<win} seg[j]·seg[j+lag], by FFT cross-correlation
            for i in 0..<nFFT {
                segFFT.samples[i] = i < span ? Float(seg[i]) : 0
                headFFT.samples[i] = i < win ? Float(seg[i]) : 0
            }
            segFFT.forward()
            headFFT.forward()
            for k in 0..<segFFT.binCount {
                let ar = segFFT.spectrum[2 * k], ai = segFFT.spectrum[2 * k + 1]
                let br = headFFT.spectrum[2 * k], bi = -headFFT.spectrum[2 * k + 1]
                segFFT.spectrum[2 * k] = ar * br - ai * bi
                segFFT.spectrum[2 * k + 1] = ar * bi + ai * br
            }
            segFFT.inverse()
            let norm = 1 / Double(nFFT)
            cumulativeSquares[0] = 0
            for i in 0..<span { cumulativeSquares[i + 1] = cumulativeSquares[i] + seg[i] * seg[i] }
            let energy0 = cumulativeSquares[win]
            var running = 0.0
            for i in 0..<lagCount {
                let lag = i + 1
                let r = Double(segFFT.samples[lag]) * norm
                let eLag = cumulativeSquares[lag + win] - cumulativeSquares[lag]
                d[i] = max(energy0 + eLag - 2 * r, 0)
                running += d[i]
                cmnd[i] = d[i] / max(running / Double(i + 1), 1e-12)
            }
            var j = lagMin - 1
            for i in (lagMin - 1)...(lagMax - 1) where cmnd[i] < cmnd[j] { j = i }
            j = min(max(j, 1), lagCount - 2)
            let a = d[j - 1], b = d[j], c = d[j + 1]
            let denom = a - 2 * b + c
            let shift = abs(denom) > 1e-12 ? min(max(0.5 * (a - c) / denom, -1), 1) : 0
            f0[n] = sr / (Double(j + 1) + shift)
            conf[n] = 1 - min(max(cmnd[j], 0), 1)
            rms[n] = (energy0 / Double(win)).squareRoot()
        }
        let voiced = (0..<frames).filter { conf[$0] > 0.5 && rms[$0] > silentRMS }
        let fill = voiced.isEmpty ? nominalHz : median(voiced.map { f0[$0] })
        var f0Out = [Float](repeating: 0, count: frames), confOut = [Float](repeating: 0, count: frames)
        for n in 0..<frames {
            let isVoiced = conf[n] > 0.5 && rms[n] > silentRMS
            f0Out[n] = Float(isVoiced ? f0[n] : fill)
            confOut[n] = Float(rms[n] > silentRMS ? conf[n] : 0)
        }
        return (f0Out, confOut)
    }

    /// The timbre encoder's input (the trainer's `encoder_features`): a pitch-relative
    /// log-frequency spectrum averaged over time segments after the onset, plus each segment's
    /// loudness relative to the note's peak. See docs/model-format.md, "Encoder".
    public static func encoderFeatures(_ x: [Float], config: ModelConfig, f0Hz: [Float], loudnessDB: [Float]) -> [Float] {
        let frames = f0Hz.count
        let n = config.encFFTSize, hop = config.hopSamples
        let window = periodicHann(n)
        let fft = RealFFT(size: n)
        let bins = n / 2 + 1
        let floorValue = log(1e-5)
        let available = 1 + x.count / hop
        let encBins = config.encBins
        let binHz = Double(config.sampleRate) / Double(n)
        var values = [Double](repeating: 0, count: frames * encBins)
        var logSpectrum = [Double](repeating: 0, count: bins)
        for f in 0..<frames {
            if f < available {
                frame(x, centre: f * hop, window: window, into: fft)
                fft.forward()
                for k in 0..<bins {
                    let re = fft.spectrum[2 * k], im = fft.spectrum[2 * k + 1]
                    logSpectrum[k] = log(Double((re * re + im * im).squareRoot()) + 1e-5)
                }
            } else {
                for k in 0..<bins { logSpectrum[k] = floorValue }
            }
            for j in 0..<encBins {
                let relative = pow(2, Double(j) / Double(config.encBinsPerOctave) - Double(config.encOctavesBelow))
                let fq = Double(f0Hz[f]) * relative
                var v = floorValue
                if fq < config.bandLimitHz {
                    let pos = fq / binHz
                    let i0 = min(max(Int(pos.rounded(.down)), 0), bins - 2)
                    let fr = min(max(pos - Double(i0), 0), 1)
                    v = logSpectrum[i0] * (1 - fr) + logSpectrum[i0 + 1] * fr
                }
                values[f * encBins + j] = v
            }
        }
        let top = values.max() ?? 0
        for i in values.indices { values[i] -= top }
        let loudMax = Double(loudnessDB.max() ?? 0)
        var features: [Float] = []
        var segmentLoudness: [Float] = []
        let edges = config.encSegmentsSeconds
        for s in 0..<(edges.count - 1) {
            let a = Int((edges[s] * Double(config.frameRate)).rounded(.toNearestOrEven))
            let b = min(Int((edges[s + 1] * Double(config.frameRate)).rounded(.toNearestOrEven)), frames)
            if a < b {
                for j in 0..<encBins {
                    var sum = 0.0
                    for f in a..<b { sum += values[f * encBins + j] }
                    features.append(Float(sum / Double(b - a)))
                }
                let meanLoudness = loudnessDB[a..<b].reduce(0.0) { $0 + Double($1) } / Double(b - a)
                segmentLoudness.append(Float((meanLoudness - loudMax) / 20))
            } else {
                features.append(contentsOf: repeatElement(Float(floorValue), count: encBins))
                segmentLoudness.append(-6)
            }
        }
        return features + segmentLoudness
    }

    /// A periodic Hann window of n points (torch.hann_window's default).
    static func periodicHann(_ n: Int) -> [Float] {
        (0..<n).map { Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(n))) }
    }

    /// Fills `fft.samples` with the windowed frame centred at `centre` (zeros outside the signal).
    static func frame(_ x: [Float], centre: Int, window: [Float], into fft: RealFFT) {
        let n = window.count, start = centre - n / 2
        for i in 0..<n {
            let k = start + i
            fft.samples[i] = k >= 0 && k < x.count ? x[k] * window[i] : 0
        }
    }
}

/// numpy's median: the middle value, or the mean of the two middle values.
func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
}
