// The filtered noise of docs/model-format.md ("Filtered noise"): per-frame linear-phase FIRs from
// band magnitudes, applied to white noise by FFT convolution and overlap-add.
import Glibc

/// Uniform white noise in [-1, 1) from a PCG32 generator (O'Neill, "PCG: A Family of Simple Fast
/// Space-Efficient Statistically Good Algorithms for Random Number Generation", 2014; the
/// XSH-RR output function over a 64-bit LCG). Each value is `k / 2^23 - 1` for a uniform 24-bit
/// integer k. A value type with no heap state: real-time safe.
public struct WhiteNoise {
    @usableFromInline var state: UInt64
    @usableFromInline let increment: UInt64

    /// Seeds the generator; different `stream` values give independent sequences.
    public init(seed: UInt64, stream: UInt64 = 0) {
        increment = (stream << 1) | 1
        state = 0
        _ = nextUInt32()
        state &+= seed
        _ = nextUInt32()
    }

    /// Next 32 uniformly distributed bits. Real-time safe.
    @inlinable
    public mutating func nextUInt32() -> UInt32 {
        let old = state
        state = old &* 6_364_136_223_846_793_005 &+ increment
        let xorShifted = UInt32(truncatingIfNeeded: ((old >> 18) ^ old) >> 27)
        let rotation = UInt32(truncatingIfNeeded: old >> 59)
        return (xorShifted >> rotation) | (xorShifted << ((0 &- rotation) & 31))
    }

    /// Next sample, uniform in [-1, 1). Real-time safe.
    @inlinable
    public mutating func next() -> Float {
        Float(nextUInt32() >> 8) * 0x1p-23 - 1
    }

    /// Writes `count` samples to `output`. Real-time safe.
    @inlinable
    public mutating func fill(_ output: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { output[i] = next() }
    }
}

/// Configuration and scratch shared by every noise voice of one engine at one output rate.
///
/// Holds the FFTs and work buffers used by ``NoiseVoice/beginFrame(bandMagnitudes:white:)``, so
/// all voices using one `NoiseSynth` must run on one thread (the audio thread).
public final class NoiseSynth {
    /// Output rate R in Hz.
    public let sampleRate: Double
    /// Samples per decoder frame, H.
    public let hop: Int
    /// Number of noise bands B.
    public let bandCount: Int
    /// Band limit F of the model (its sample_rate / 2); band b sits at `b · F / (B - 1)` Hz.
    public let bandLimitHz: Double
    /// FIR length N_d at this rate.
    public let firLength: Int
    /// Samples one frame contributes to: `hop + firLength - 1`.
    public let frameSpan: Int
    /// FFT length used for the per-frame convolution (power of two ≥ ``frameSpan``).
    public let convolutionSize: Int

    /// `N_d = 2 · round((B - 1) · R / (2 F))`, with Python's round-half-to-even.
    public static func firLength(bandCount: Int, bandLimitHz: Double, sampleRate: Double) -> Int {
        2 * Int((Double(bandCount - 1) * sampleRate / (2 * bandLimitHz)).rounded(.toNearestOrEven))
    }

    let firFFT: RealFFT
    let convolutionFFT: RealFFT
    /// Periodic Hann window of length N_d, pre-divided by N_d · convolutionSize (both inverse
    /// FFT normalisations folded in).
    let scaledWindow: UnsafeMutablePointer<Float>
    /// Per rfft bin j of the FIR grid: lower band index, fraction towards the next band, and
    /// whether the bin lies at or below the band limit.
    let bandIndex: UnsafeMutablePointer<Int>
    let bandFraction: UnsafeMutablePointer<Float>
    let binInside: UnsafeMutablePointer<Float>
    /// The current frame's FIR spectrum on the convolution grid (interleaved complex).
    let firSpectrum: UnsafeMutablePointer<Float>
    /// White noise of the current frame when the voice generates its own.
    let whiteScratch: UnsafeMutablePointer<Float>

    /// Plans the FFTs and precomputes the band interpolation (allocates; not real-time).
    /// - Parameters:
    ///   - sampleRate: output rate R in Hz.
    ///   - hop: samples per decoder frame at R.
    ///   - bandCount: the model's B (at least 2).
    ///   - bandLimitHz: the model's band limit F (its sample_rate / 2).
    public init(sampleRate: Double, hop: Int, bandCount: Int, bandLimitHz: Double) {
        precondition(bandCount >= 2 && hop > 0 && sampleRate > 0 && bandLimitHz > 0)
        self.sampleRate = sampleRate
        self.hop = hop
        self.bandCount = bandCount
        self.bandLimitHz = bandLimitHz
        let nd = Self.firLength(bandCount: bandCount, bandLimitHz: bandLimitHz, sampleRate: sampleRate)
        precondition(nd >= 2, "noise FIR would be empty")
        firLength = nd
        frameSpan = hop + nd - 1
        var size = 1
        while size < frameSpan { size *= 2 }
        convolutionSize = size
        firFFT = RealFFT(size: nd)
        convolutionFFT = RealFFT(size: size)

        scaledWindow = allocateAlignedFloats(nd)
        for i in 0..<nd {
            let hann = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(nd))
            scaledWindow[i] = Float(Float(hann) / (Float(nd) * Float(size)))
        }
        let bins = nd / 2 + 1
        bandIndex = .allocate(capacity: bins)
        bandFraction = allocateAlignedFloats(bins)
        binInside = allocateAlignedFloats(bins)
        let binHz = sampleRate / Double(nd)
        for j in 0..<bins {
            let hz = Double(j) * binHz
            let position = hz / bandLimitHz * Double(bandCount - 1)
            let index = min(Int(position.rounded(.down)), bandCount - 2)
            bandIndex[j] = index
            bandFraction[j] = min(max(Float(position - Double(index)), 0), 1)
            binInside[j] = hz <= bandLimitHz + 1e-9 ? 1 : 0
        }
        firSpectrum = allocateAlignedFloats(2 * convolutionFFT.binCount)
        whiteScratch = allocateAlignedFloats(hop)
    }

    deinit {
        freeAlignedFloats(scaledWindow)
        bandIndex.deallocate()
        freeAlignedFloats(bandFraction)
        freeAlignedFloats(binInside)
        freeAlignedFloats(firSpectrum)
        freeAlignedFloats(whiteScratch)
    }

    /// Writes the frame's FIR (N_d taps, unscaled: exactly the doc's h) to `taps`. For tests and
    /// inspection; real-time safe but not needed by the voices.
    public func fir(bandMagnitudes: UnsafeBufferPointer<Float>, into taps: UnsafeMutableBufferPointer<Float>) {
        precondition(taps.count >= firLength && bandMagnitudes.count >= bandCount)
        designFIR(bandMagnitudes)
        let scale = Float(convolutionSize)
        let firTaps = firFFT.samples.baseAddress!
        for i in 0..<firLength { taps[i] = firTaps[i] * scale }
    }

    /// Leaves the windowed, rotated FIR (scaled by 1 / (N_d · convolutionSize)) in
    /// `firFFT.samples`. Real-time safe.
    func designFIR(_ bandMagnitudes: UnsafeBufferPointer<Float>) {
        let bands = bandMagnitudes.baseAddress!
        let spectrum = firFFT.spectrum.baseAddress!
        for j in 0..<firFFT.binCount {
            let index = bandIndex[j]
            let low = bands[index], high = bands[index + 1]
            spectrum[2 * j] = (low + bandFraction[j] * (high - low)) * binInside[j]
            spectrum[2 * j + 1] = 0
        }
        firFFT.inverse()
        // Rotate right by N_d/2 (swap halves, N_d even) and window.
        let taps = firFFT.samples.baseAddress!
        let half = firLength / 2
        for i in 0..<half {
            let first = taps[i]
            taps[i] = taps[i + half] * scaledWindow[i]
            taps[i + half] = first * scaledWindow[i + half]
        }
    }

    /// Convolves `white` (hop samples) with the current FIR and adds the `frameSpan` results to
    /// `accumulator`. Real-time safe.
    func convolve(white: UnsafePointer<Float>, addingInto accumulator: UnsafeMutablePointer<Float>) {
        let time = convolutionFFT.samples.baseAddress!
        let spectrum = convolutionFFT.spectrum.baseAddress!
        let spectrumFloats = 2 * convolutionFFT.binCount
        // FIR spectrum on the convolution grid.
        time.update(from: firFFT.samples.baseAddress!, count: firLength)
        (time + firLength).update(repeating: 0, count: convolutionSize - firLength)
        convolutionFFT.forward()
        firSpectrum.update(from: spectrum, count: spectrumFloats)
        // Noise spectrum, product, back to time.
        time.update(from: white, count: hop)
        (time + hop).update(repeating: 0, count: convolutionSize - hop)
        convolutionFFT.forward()
        for j in 0..<convolutionFFT.binCount {
            let xr = spectrum[2 * j], xi = spectrum[2 * j + 1]
            let hr = firSpectrum[2 * j], hi = firSpectrum[2 * j + 1]
            spectrum[2 * j] = xr * hr - xi * hi
            spectrum[2 * j + 1] = xr * hi + xi * hr
        }
        convolutionFFT.inverse()
        for i in 0..<frameSpan { accumulator[i] += time[i] }
    }
}

/// One voice's filtered noise: the overlap-add accumulator and the white-noise generator.
///
/// Per decoder frame call ``beginFrame(bandMagnitudes:white:)`` once, then
/// ``render(addingInto:count:)`` until the frame's `hop` samples have been handed out (in any
/// number of pieces). The noise lags the frame grid by N_d / 2 samples, as in training.
public final class NoiseVoice {
    /// The shared configuration and scratch.
    public let synth: NoiseSynth
    /// The voice's white-noise generator, used when a frame is given no noise of its own.
    public var noise: WhiteNoise
    /// Overlap-add buffer: samples from the read position on, `frameSpan` long.
    private let accumulator: UnsafeMutablePointer<Float>
    private var readIndex: Int
    /// The high-pass below the fundamental, applied as the samples are handed out.
    private var highPass = HighPassBiquad()
    /// The generator's seed, kept so ``restart()`` can return to it.
    public let seed: UInt64

    /// Creates a voice (allocates; not real-time).
    public init(synth: NoiseSynth, seed: UInt64) {
        self.synth = synth
        self.seed = seed
        noise = WhiteNoise(seed: seed)
        accumulator = allocateAlignedFloats(synth.frameSpan)
        readIndex = synth.hop
    }

    deinit {
        freeAlignedFloats(accumulator)
    }

    /// Samples of the current frame not yet handed out by ``render(addingInto:count:)``.
    public var remainingInFrame: Int { max(0, synth.hop - readIndex) }

    /// Clears the overlap tail and the high-pass's state for a new note (the generator continues:
    /// the engine reseeds ``noise`` per note). Real-time safe.
    public func reset() {
        accumulator.update(repeating: 0, count: synth.frameSpan)
        readIndex = synth.hop
        highPass.clear()
    }

    /// Sets the high-pass below the fundamental for the samples handed out from now on
    /// (`cutoffHz` ≤ 0: none). Real-time safe.
    public func setHighPass(cutoffHz: Double) {
        highPass.set(cutoffHz: cutoffHz, sampleRate: synth.sampleRate)
    }

    /// Returns to the state of a new voice: generator re-seeded, no tail. Real-time safe.
    public func restart() {
        noise = WhiteNoise(seed: seed)
        reset()
    }

    /// Starts a frame: designs its FIR from `bandMagnitudes` (B values), filters `hop` samples of
    /// white noise and overlap-adds the `hop + N_d - 1` results after the previous frame's tail.
    /// A frame given fewer than B magnitudes adds no new noise (the tail still plays out).
    /// Real-time safe.
    /// - Parameters:
    ///   - bandMagnitudes: the frame's B noise magnitudes.
    ///   - white: `hop` samples of noise to filter, or nil to draw them from ``noise``.
    public func beginFrame(bandMagnitudes: UnsafeBufferPointer<Float>, white: UnsafePointer<Float>? = nil) {
        let span = synth.frameSpan
        let kept = span - readIndex
        if readIndex > 0 {
            if kept > 0 {
                UnsafeMutableRawPointer(accumulator).copyMemory(from: accumulator + readIndex,
                                                                byteCount: kept * MemoryLayout<Float>.stride)
            }
            (accumulator + kept).update(repeating: 0, count: span - kept)
        }
        readIndex = 0
        assert(bandMagnitudes.count == synth.bandCount, "expected \(synth.bandCount) noise bands")
        guard bandMagnitudes.count >= synth.bandCount else { return }
        synth.designFIR(bandMagnitudes)
        let source: UnsafePointer<Float>
        if let white {
            source = white
        } else {
            noise.fill(synth.whiteScratch, count: synth.hop)
            source = UnsafePointer(synth.whiteScratch)
        }
        synth.convolve(white: source, addingInto: accumulator)
    }

    /// Adds the next `count` samples of the current frame into `output` (`count` must not exceed
    /// ``remainingInFrame``). Real-time safe.
    public func render(addingInto output: UnsafeMutablePointer<Float>, count: Int) {
        assert(count <= remainingInFrame, "rendered past the end of the noise frame")
        let n = min(count, synth.frameSpan - readIndex)
        let source = accumulator + readIndex
        if highPass.isOn {
            for i in 0..<n { output[i] += highPass.process(source[i]) }
        } else {
            for i in 0..<n { output[i] += source[i] }
        }
        readIndex += n
    }
}
