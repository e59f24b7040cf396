import Foundation

/// Sub-cent pitch of a held note: the fundamental's phase, followed frame by frame near a guess.
public enum PitchMeasure {
    /// The fundamental's frequency in `x[start ..< start + length]`, within a few hundredths of a
    /// cent for a steady synthesized tone: a Hann-windowed DFT at `guessHz` every `hop` samples,
    /// the phase advance between frames (its deviation from the guess' advance, wrapped to ±π:
    /// the guess must lie within sampleRate / (2 · hop) of the truth, ±94 Hz at 48 kHz) averaged
    /// over the segment.
    public static func fundamentalHz(_ x: [Float], sampleRate: Double, guessHz: Double, start: Int, length: Int,
                                     window: Int = 2048, hop: Int = 256) -> Double {
        var phases: [Double] = []
        var t = start
        while t + window <= min(x.count, start + length) {
            var re = 0.0, im = 0.0
            for i in 0..<window {
                let w = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(window))
                let ph = 2 * Double.pi * guessHz * Double(t + i) / sampleRate
                re += w * Double(x[t + i]) * cos(ph)
                im -= w * Double(x[t + i]) * sin(ph)
            }
            phases.append(atan2(im, re))
            t += hop
        }
        guard phases.count > 1 else { return .nan }
        // the phase is measured against the guess' own phase at each frame: what remains turns
        // at (f - guess) · 2π per second
        var total = 0.0
        for (a, b) in zip(phases, phases.dropFirst()) {
            var d = b - a
            while d > Double.pi { d -= 2 * Double.pi }
            while d < -Double.pi { d += 2 * Double.pi }
            total += d
        }
        let perSample = total / Double(phases.count - 1) / Double(hop)
        return guessHz + perSample * sampleRate / (2 * Double.pi)
    }

    /// `fundamentalHz` as a MIDI pitch (semitones, 69 = 440 Hz), guessing from a MIDI pitch.
    public static func pitch(_ x: [Float], sampleRate: Double, guess: Double, fromSeconds: Double, seconds: Double) -> Double {
        let hz = fundamentalHz(x, sampleRate: sampleRate, guessHz: 440 * pow(2, (guess - 69) / 12),
                               start: Int(fromSeconds * sampleRate), length: Int(seconds * sampleRate))
        return 69 + 12 * log2(hz / 440)
    }
}
