// The levels of a note's harmonics, for tests that tell two timbres apart.
import Foundation

/// Harmonic levels measured by a Hann-windowed DFT at each harmonic's exact frequency, or summed over
/// the bins of a band around it.
public enum HarmonicProfile {
    /// Levels (dB) of harmonics 1…`harmonics` of `f0Hz` in the left channel of `interleaved`
    /// stereo audio at `sampleRate`, over `seconds` from `startSeconds`, each relative to the
    /// fundamental (so the first is 0). `bandCents` 0: each harmonic's level at exactly k · f0 (one
    /// Hann-windowed DFT bin); above 0: its power summed over bins 1 / `seconds` apart within
    /// ±`bandCents` of k · f0, so a vibrato's sidebands count as the harmonic's.
    public static func levelsDB(_ interleaved: [Float], sampleRate: Double, f0Hz: Double, startSeconds: Double,
                                seconds: Double, harmonics: Int, bandCents: Double = 0) -> [Double] {
        let start = Int(startSeconds * sampleRate), n = Int(seconds * sampleRate)
        func power(_ hz: Double) -> Double {
            var re = 0.0, im = 0.0
            for i in 0..<n {
                let w = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))
                let ph = 2 * Double.pi * hz * Double(start + i) / sampleRate
                re += w * Double(interleaved[2 * (start + i)]) * cos(ph)
                im -= w * Double(interleaved[2 * (start + i)]) * sin(ph)
            }
            return re * re + im * im
        }
        let levels = (1...harmonics).map { k -> Double in
            let centre = Double(k) * f0Hz
            var total = power(centre)
            if bandCents > 0 {
                let reach = centre * (pow(2, bandCents / 1200) - 1), step = 1 / seconds
                var offset = step
                while offset <= reach {
                    total += power(centre + offset) + power(centre - offset)
                    offset += step
                }
            }
            return 10 * log10(max(total, 1e-30))
        }
        return levels.map { $0 - levels[0] }
    }
}
