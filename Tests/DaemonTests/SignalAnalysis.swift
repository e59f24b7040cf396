// Measurements on recorded audio: pitch (autocorrelation, then the phase advance of the strongest
// harmonic), onsets, levels, and band spectra.
import Foundation

enum SignalAnalysis {
    /// In-place radix-2 complex FFT (n a power of two).
    static func fft(_ re: inout [Double], _ im: inout [Double]) {
        let n = re.count
        var j = 0
        for i in 1..<n {
            var bit = n >> 1
            while j & bit != 0 { j ^= bit; bit >>= 1 }
            j |= bit
            if i < j { re.swapAt(i, j); im.swapAt(i, j) }
        }
        var length = 2
        while length <= n {
            let angle = -2 * Double.pi / Double(length)
            let wr = cos(angle), wi = sin(angle)
            var start = 0
            while start < n {
                var cr = 1.0, ci = 0.0
                for k in 0..<(length / 2) {
                    let a = start + k, b = a + length / 2
                    let tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr
                    re[b] = re[a] - tr; im[b] = im[a] - ti
                    re[a] += tr; im[a] += ti
                    let ncr = cr * wr - ci * wi
                    ci = cr * wi + ci * wr
                    cr = ncr
                }
                start += length
            }
            length <<= 1
        }
    }

    static func hann(_ n: Int) -> [Double] { (0..<n).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(n)) } }

    /// Magnitude spectrum of a Hann-windowed segment zero-padded to `size`.
    static func magnitudes(_ x: [Float], size: Int) -> [Double] {
        let w = hann(x.count)
        var re = [Double](repeating: 0, count: size), im = [Double](repeating: 0, count: size)
        for i in 0..<min(x.count, size) { re[i] = Double(x[i]) * w[i] }
        fft(&re, &im)
        return (0...(size / 2)).map { (re[$0] * re[$0] + im[$0] * im[$0]).squareRoot() }
    }

    /// Complex DFT of a Hann-windowed frame at one frequency: its phase.
    static func phase(_ x: ArraySlice<Float>, frequency: Double, sampleRate: Double) -> Double {
        let n = x.count
        var re = 0.0, im = 0.0
        let w = 2 * Double.pi * frequency / sampleRate
        for (k, v) in x.enumerated() {
            let win = 0.5 - 0.5 * cos(2 * Double.pi * Double(k) / Double(n))
            re += Double(v) * win * cos(w * Double(k))
            im -= Double(v) * win * sin(w * Double(k))
        }
        return atan2(im, re)
    }

    /// Fundamental frequency of a harmonic signal: autocorrelation gives the period roughly
    /// (the first lag within 10 % of the best), the strongest harmonic's phase advance between
    /// two frames gives its frequency to a fraction of a cent, and f0 = that / its number.
    static func pitchHz(_ x: [Float], sampleRate: Double, minHz: Double = 50, maxHz: Double = 2000) -> Double {
        let n = x.count
        var size = 1
        while size < 2 * n { size <<= 1 }
        var re = [Double](repeating: 0, count: size), im = [Double](repeating: 0, count: size)
        let mean = x.reduce(0, +) / Float(n)
        for i in 0..<n { re[i] = Double(x[i] - mean) }
        fft(&re, &im)
        for i in 0..<size { re[i] = re[i] * re[i] + im[i] * im[i]; im[i] = 0 }
        fft(&re, &im)  // real, symmetric: the forward transform gives the autocorrelation (×size)
        let acf = re
        let minLag = Int(sampleRate / maxHz), maxLag = min(Int(sampleRate / minHz), n / 2)
        var best = -Double.infinity
        for lag in minLag...maxLag { best = max(best, acf[lag] / Double(n - lag)) }
        var lag = minLag
        for l in (minLag + 1)..<maxLag {
            let v = acf[l] / Double(n - l)
            if v >= 0.9 * best && v >= acf[l - 1] / Double(n - l + 1) && v >= acf[l + 1] / Double(n - l - 1) { lag = l; break }
        }
        // parabolic interpolation of the lag
        let a = acf[lag - 1], b = acf[lag], c = acf[lag + 1]
        let delta = (a - c) / (2 * (a - 2 * b + c))
        let coarse = sampleRate / (Double(lag) + (delta.isFinite ? delta : 0))
        // strongest harmonic
        let spectrumSize = 65536
        let m = magnitudes(Array(x.prefix(spectrumSize)), size: spectrumSize)
        let binHz = sampleRate / Double(spectrumSize)
        var peakBin = 1
        for i in Int(coarse * 0.5 / binHz)..<min(m.count - 1, Int(8000 / binHz)) where m[i] > m[peakBin] { peakBin = i }
        // phase advance over `hop` samples refines it
        let frame = 8192, hop = 256
        var f = Double(peakBin) * binHz
        for _ in 0..<3 {
            let p0 = phase(x[0..<frame], frequency: f, sampleRate: sampleRate)
            let p1 = phase(x[hop..<(hop + frame)], frequency: f, sampleRate: sampleRate)
            var d = p1 - p0 - 2 * Double.pi * f * Double(hop) / sampleRate
            d -= 2 * Double.pi * (d / (2 * Double.pi)).rounded()
            f += d * sampleRate / (2 * Double.pi * Double(hop))
        }
        // the largest f0 that explains every strong spectral peak as a harmonic (the
        // autocorrelation alone can settle on a subharmonic when the fundamental is weak)
        let strongest = m[peakBin]
        var peaks: [Double] = []
        for i in Int(minHz / binHz)..<min(m.count - 1, Int(8000 / binHz))
        where m[i] > 0.1 * strongest && m[i] >= m[i - 1] && m[i] > m[i + 1] {
            peaks.append(Double(i) * binHz)
        }
        for k in 1...16 {
            let f0 = f / Double(k)
            if f0 < minHz { break }
            let explained = peaks.allSatisfy { p in
                let h = p / f0
                return h.rounded() >= 1 && abs(h - h.rounded()) < 0.03
            }
            if explained { return f0 }
        }
        return f / max(1, (f / coarse).rounded())
    }

    static func cents(_ f: Double, _ reference: Double) -> Double { 1200 * log2(f / reference) }

    /// Root mean square.
    static func rms(_ x: [Float]) -> Double {
        (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(x.count, 1))).squareRoot()
    }

    static func peak(_ x: [Float]) -> Float { x.reduce(0) { max($0, abs($1)) } }

    /// Index of the first sample whose magnitude exceeds `threshold`, or nil.
    static func onset(_ x: [Float], threshold: Float = 1e-6) -> Int? { x.firstIndex { abs($0) > threshold } }

    /// Log energies in `bands` bands evenly spaced on a log-frequency axis from 100 Hz to 12 kHz,
    /// normalised to unit total energy (so only the spectrum's shape counts).
    static func bandShape(_ x: [Float], sampleRate: Double, bands: Int = 24) -> [Double] {
        let size = 4096
        let m = magnitudes(x, size: size)
        let binHz = sampleRate / Double(size)
        var e = [Double](repeating: 1e-12, count: bands)
        for (i, v) in m.enumerated() {
            let f = Double(i) * binHz
            guard f >= 100, f < 12000 else { continue }
            let b = Int(Double(bands) * log(f / 100) / log(120))
            e[min(b, bands - 1)] += v * v
        }
        let total = e.reduce(0, +)
        return e.map { $0 / total }
    }

    /// Euclidean distance between two band shapes.
    static func distance(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    }
}
