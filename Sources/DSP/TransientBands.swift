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
    /// Scratch of `add`: a run's sums and interpolation fractions (L each).
    private let sum: UnsafeMutableBufferPointer<Float>
    private let fractions: UnsafeMutableBufferPointer<Float>

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
        sum = .allocate(capacity: n)
        sum.initialize(repeating: 0)
        fractions = .allocate(capacity: n)
        fractions.initialize(repeating: 0)
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

    deinit {
        noises.deallocate()
        sum.deallocate()
        fractions.deallocate()
    }

    /// Adds the transient of amplitudes `a` ([T, B] row-major) for its samples
    /// `start ..< start + count` (clipped to L) into `out[0...]`. Band by band over runs of
    /// samples between the same two frames (each sample's sum over the bands in band order, as
    /// one sample at a time would make it). Real-time safe; not reentrant (one scratch).
    public func add(amplitudes a: UnsafePointer<Float>, from start: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        let end = min(start + count, length)
        guard start < end else { return }
        let base = noises.baseAddress!
        let b = bandCount, t = frameCount
        let step = frameRateHz / sampleRate
        let y = sum.baseAddress!, fraction = fractions.baseAddress!
        var i = start
        while i < end {
            // the run of samples between frames j and j + 1
            let j = min(Int(Double(i) * step), t - 1)
            var runEnd = i
            while runEnd < end {
                let p = Double(runEnd) * step
                guard min(Int(p), t - 1) == j else { break }
                fraction[runEnd - i] = Float(p - Double(j))
                y[runEnd - i] = 0
                runEnd += 1
            }
            let n = runEnd - i
            let row0 = a + j * b
            if j + 1 < t {
                let row1 = row0 + b
                for band in 0..<b {
                    let w0 = row0[band], w1 = row1[band], noise = base + band * length + i
                    for k in 0..<n { y[k] += ((1 - fraction[k]) * w0 + fraction[k] * w1) * noise[k] }
                }
            } else {
                for band in 0..<b {
                    let w0 = row0[band], noise = base + band * length + i
                    for k in 0..<n { y[k] += (1 - fraction[k]) * w0 * noise[k] }
                }
            }
            for k in 0..<n { out[i - start + k] += y[k] }
            i = runEnd
        }
    }
}
