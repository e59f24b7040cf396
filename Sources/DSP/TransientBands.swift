// The band noises of attack transients (docs/model-format.md, "Transients"), built once at load;
// a note's transient is their sum under its amplitude envelope.

/// B unit-RMS band noises of L samples at one output rate: white noise kept only on band b's FFT
/// bins (f in [lo, hi)) and scaled to unit RMS. A note's transient is `Σ_b A(i, b) n_b(i)`, its
/// amplitudes A linear between their frames (frame t at `t / frameRateHz` s; zero after the last).
///
/// Built at load (allocates, plans an FFT); ``add(amplitudes:from:count:into:)`` is real-time safe.
public final class TransientBands {
    /// B.
    public let bandCount: Int
    /// T, amplitude frames.
    public let frameCount: Int
    /// L, samples of a transient at ``sampleRate``.
    public let length: Int
    /// Output rate in Hz.
    public let sampleRate: Double
    /// Amplitude frames per second.
    public let frameRateHz: Double
    /// [B, L] row-major.
    public let noises: UnsafeMutableBufferPointer<Float>

    /// L for `frameCount` frames at `frameRateHz`, played at `sampleRate`.
    public static func length(frameCount: Int, frameRateHz: Double, sampleRate: Double) -> Int {
        Int((Double(frameCount) * sampleRate / frameRateHz).rounded(.up))
    }

    /// Builds the band noises for bands `bandEdgesHz` (B + 1 values) from white noise
    /// `white(b, i)` for band b, sample i (0..<L).
    public init(frameCount t: Int, bandEdgesHz: [Double], frameRateHz: Double, sampleRate: Double,
                white: (_ band: Int, _ sample: Int) -> Float) {
        let b = bandEdgesHz.count - 1
        precondition(t >= 2 && b >= 1)
        bandCount = b
        frameCount = t
        self.sampleRate = sampleRate
        self.frameRateHz = frameRateHz
        let n = Self.length(frameCount: t, frameRateHz: frameRateHz, sampleRate: sampleRate)
        length = n
        noises = .allocate(capacity: b * n)
        noises.initialize(repeating: 0)
        let fft = RealFFT(size: n)
        var x = [Double](repeating: 0, count: n)
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
                x[i] = Double(fft.samples[i]) / Double(n)
                power += x[i] * x[i]
            }
            let rms = (power / Double(n)).squareRoot()
            guard rms > 0 else { continue }
            for i in 0..<n { noises[band * n + i] = Float(x[i] / rms) }
        }
    }

    /// Builds the band noises from the engine's own white noise: PCG32 seeded `seed`, stream b for band b.
    public convenience init(frameCount t: Int, bandEdgesHz: [Double], frameRateHz: Double, sampleRate: Double,
                            seed: UInt64 = 0x7EA5) {
        let n = Self.length(frameCount: t, frameRateHz: frameRateHz, sampleRate: sampleRate)
        let b = bandEdgesHz.count - 1
        var white = [Float](repeating: 0, count: b * n)
        for band in 0..<b {
            var g = WhiteNoise(seed: seed, stream: UInt64(band))
            for i in 0..<n { white[band * n + i] = g.next() }
        }
        self.init(frameCount: t, bandEdgesHz: bandEdgesHz, frameRateHz: frameRateHz, sampleRate: sampleRate,
                  white: { white[$0 * n + $1] })
    }

    deinit { noises.deallocate() }

    /// Adds the transient of amplitudes `a` ([T, B] row-major) for its samples
    /// `start ..< start + count` (clipped to L) into `out[0...]`. Real-time safe.
    public func add(amplitudes a: UnsafePointer<Float>, from start: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        let end = min(start + count, length)
        guard start < end else { return }
        let base = noises.baseAddress!
        let b = bandCount, t = frameCount
        let step = frameRateHz / sampleRate
        for i in start..<end {
            let p = Double(i) * step
            let j = min(Int(p), t - 1)
            let f = Float(p - Double(j))
            let row0 = a + j * b
            var y: Float = 0
            if j + 1 < t {
                let row1 = row0 + b
                for band in 0..<b { y += ((1 - f) * row0[band] + f * row1[band]) * base[band * length + i] }
            } else {
                for band in 0..<b { y += (1 - f) * row0[band] * base[band * length + i] }
            }
            out[i - start] += y
        }
    }
}
