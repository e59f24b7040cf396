// The basis waveforms of attack transients (docs/model-format.md, "Transients"): band noises
// shaped by the basis envelopes, built once at load; a note's transient is their weighted sum.

/// K waveforms of L samples at one output rate: `w_k(i) = Σ_b U_k(i, b) n_b(i)`, where `n_b` is
/// white noise kept only on band b's FFT bins and scaled to unit RMS, and `U_k(i, b)` is basis
/// envelope k, linear between its frames (frame t at `t / frameRateHz` s; zero after the last).
///
/// Built at load (allocates, plans an FFT); ``add(coefficients:from:count:into:)`` is real-time safe.
public final class TransientWaveforms {
    /// K.
    public let basisCount: Int
    /// L, samples of a transient at ``sampleRate``.
    public let length: Int
    /// Output rate in Hz.
    public let sampleRate: Double
    /// [K, L] row-major.
    public let waveforms: UnsafeMutableBufferPointer<Float>

    /// L for `frameCount` frames at `frameRateHz`, played at `sampleRate`.
    public static func length(frameCount: Int, frameRateHz: Double, sampleRate: Double) -> Int {
        Int((Double(frameCount) * sampleRate / frameRateHz).rounded(.up))
    }

    /// Builds the waveforms from `basis` [K, T, B] (row-major), the B bands' `edgesHz` (B + 1
    /// values) and white noise `white(b, i)` for band b, sample i (0..<L).
    public init(basis: [Float], basisCount k: Int, frameCount t: Int, bandEdgesHz: [Double], frameRateHz: Double,
                sampleRate: Double, white: (_ band: Int, _ sample: Int) -> Float) {
        let b = bandEdgesHz.count - 1
        precondition(k >= 1 && t >= 2 && b >= 1 && basis.count == k * t * b)
        basisCount = k
        self.sampleRate = sampleRate
        let n = Self.length(frameCount: t, frameRateHz: frameRateHz, sampleRate: sampleRate)
        length = n
        waveforms = .allocate(capacity: k * n)
        waveforms.initialize(repeating: 0)
        // unit-RMS band noises [B, L], in double
        let fft = RealFFT(size: n)
        var noises = [Double](repeating: 0, count: b * n)
        for band in 0..<b {
            for i in 0..<n { fft.samples[i] = white(band, i) }
            fft.forward()
            for j in 0..<fft.binCount {
                let f = Double(j) * sampleRate / Double(n)
                if f < bandEdgesHz[band] || f >= bandEdgesHz[band + 1] {
                    fft.spectrum[2 * j] = 0
                    fft.spectrum[2 * j + 1] = 0
                }
            }
            fft.inverse()
            var power = 0.0
            for i in 0..<n {
                let x = Double(fft.samples[i]) / Double(n)
                noises[band * n + i] = x
                power += x * x
            }
            let rms = (power / Double(n)).squareRoot()
            if rms > 0 { for i in 0..<n { noises[band * n + i] /= rms } }
            else { for i in 0..<n { noises[band * n + i] = 0 } }
        }
        // w_k(i) = Σ_b U_k(i, b) n_b(i)
        for i in 0..<n {
            let p = Double(i) * frameRateHz / sampleRate
            let j = min(Int(p.rounded(.down)), t - 1)
            let f = p - Double(j)
            let hasNext = j + 1 < t
            for c in 0..<k {
                var y = 0.0
                let row = c * t * b
                for band in 0..<b {
                    let u0 = Double(basis[row + j * b + band])
                    let u1 = hasNext ? Double(basis[row + (j + 1) * b + band]) : 0
                    y += ((1 - f) * u0 + f * u1) * noises[band * n + i]
                }
                waveforms[c * n + i] = Float(y)
            }
        }
    }

    /// Builds the waveforms with the engine's own noise: PCG32 seeded `seed`, stream b for band b.
    public convenience init(basis: [Float], basisCount k: Int, frameCount t: Int, bandEdgesHz: [Double],
                            frameRateHz: Double, sampleRate: Double, seed: UInt64 = 0x7EA5) {
        let n = Self.length(frameCount: t, frameRateHz: frameRateHz, sampleRate: sampleRate)
        var white = [Float](repeating: 0, count: (bandEdgesHz.count - 1) * n)
        for band in 0..<(bandEdgesHz.count - 1) {
            var g = WhiteNoise(seed: seed, stream: UInt64(band))
            for i in 0..<n { white[band * n + i] = g.next() }
        }
        self.init(basis: basis, basisCount: k, frameCount: t, bandEdgesHz: bandEdgesHz, frameRateHz: frameRateHz,
                  sampleRate: sampleRate, white: { white[$0 * n + $1] })
    }

    deinit { waveforms.deallocate() }

    /// Adds `Σ_k c_k w_k(i)` for samples i = `start ..< start + count` (clipped to L) into `out[0...]`.
    /// Real-time safe.
    @inline(__always)
    public func add(coefficients c: UnsafePointer<Float>, from start: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        let end = min(start + count, length)
        guard start < end else { return }
        let base = waveforms.baseAddress!
        for k in 0..<basisCount {
            let ck = c[k]
            if ck == 0 { continue }
            let row = base + k * length
            for i in start..<end { out[i - start] += ck * row[i] }
        }
    }
}
