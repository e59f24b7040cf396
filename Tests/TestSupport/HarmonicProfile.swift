// The levels of a note's harmonics, for tests that tell two timbres apart.
import Foundation

/// Harmonic levels measured by a Hann-windowed DFT at each harmonic's exact frequency.
public enum HarmonicProfile {
    /// Levels (dB) of harmonics 1…`harmonics` of `f0Hz` in the left channel of `interleaved`
    /// stereo audio at `sampleRate`, over `seconds` from `startSeconds`, each relative to the
    /// fundamental (so the first is 0).
    public static func levelsDB(_ interleaved: [Float], sampleRate: Double, f0Hz: Double, startSeconds: Double,
                                seconds: Double, harmonics: Int) -> [Double] {
        let start = Int(startSeconds * sampleRate), n = Int(seconds * sampleRate)
        let levels = (1...harmonics).map { k -> Double in
            var re = 0.0, im = 0.0
            for i in 0..<n {
                let w = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))
                let ph = 2 * Double.pi * Double(k) * f0Hz * Double(start + i) / sampleRate
                re += w * Double(interleaved[2 * (start + i)]) * cos(ph)
                im -= w * Double(interleaved[2 * (start + i)]) * sin(ph)
            }
            return 10 * log10(max(re * re + im * im, 1e-30))
        }
        return levels.map { $0 - levels[0] }
    }
}
