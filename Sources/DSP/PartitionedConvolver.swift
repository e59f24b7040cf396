// Zero-latency FFT convolution for the reverb: a direct-form head plus a uniformly partitioned
// overlap-save tail with a frequency-domain delay line.

/// Linear convolution of a stream with a fixed impulse response, with no added latency, for any
/// block size.
///
/// The IR is split in two. The first `partitionSize` (P) taps are applied directly in the time
/// domain (P multiply-adds per sample, vectorised). The rest is applied by uniformly partitioned
/// overlap-save convolution: each completed P-sample input partition is transformed (FFT of 2P)
/// into a frequency-domain delay line, multiplied with the spectra of the IR's P-tap partitions
/// and transformed back; that result is needed only one partition later, which hides the
/// partition latency exactly. So `output[t] = Σ_τ ir[τ] · input[t - τ]` from the first sample,
/// whatever the `count` of each call.
///
/// Cost per sample: about P/8 vector multiply-adds for the head, plus per partition two FFTs of
/// 2P and `M · (P + 1)` complex multiply-adds (M = ⌈(L - P) / P⌉). P = 128 or 256 suits IRs of a
/// second or two. Build it off the audio thread (it allocates and plans FFTs); ``process(_:output:count:)``
/// and ``reset()`` are real-time safe.
public final class PartitionedConvolver {
    /// Partition size P (a power of two, at least 8).
    public let partitionSize: Int
    /// Length of the impulse response in samples.
    public let impulseResponseLength: Int
    /// Added latency in samples: always 0.
    public let latency = 0
    /// Number of P-sample partitions convolved in the frequency domain.
    public let tailPartitionCount: Int

    /// Complex values per partition spectrum, P + 1 rounded up to a multiple of 8.
    private let binStride: Int
    private let fft: RealFFT
    /// First P taps, reversed: `headTaps[u] = ir[P - 1 - u]`.
    private let headTaps: UnsafeMutablePointer<Float>
    /// Overlap-save input: the previous partition, then the current one being filled, then 8
    /// floats of padding for the head's vector reads.
    private let inputFrame: UnsafeMutablePointer<Float>
    /// Tail contribution for the current partition's output samples.
    private let tailOutput: UnsafeMutablePointer<Float>
    /// IR partition spectra (scaled by 1 / 2P) and the delay line of input spectra, split into
    /// real and imaginary planes, `tailPartitionCount · binStride / 8` vectors each.
    private let irReal: UnsafeMutablePointer<SIMD8<Float>>
    private let irImag: UnsafeMutablePointer<SIMD8<Float>>
    private let lineReal: UnsafeMutablePointer<SIMD8<Float>>
    private let lineImag: UnsafeMutablePointer<SIMD8<Float>>
    private let sumReal: UnsafeMutablePointer<SIMD8<Float>>
    private let sumImag: UnsafeMutablePointer<SIMD8<Float>>
    /// Delay-line slot holding the newest input spectrum.
    private var newestSlot = 0
    /// Samples of the current partition received so far, 0..<P.
    private var position = 0

    /// Prepares the convolver (allocates and plans; not real-time).
    /// - Parameters:
    ///   - impulseResponse: the IR at the processing rate (any length; empty means silence).
    ///   - partitionSize: P, a power of two ≥ 8.
    public init(impulseResponse: [Float], partitionSize: Int) {
        precondition(partitionSize >= 8 && partitionSize & (partitionSize - 1) == 0,
                     "partition size must be a power of two of at least 8")
        let p = partitionSize
        self.partitionSize = p
        impulseResponseLength = impulseResponse.count
        let tailLength = max(0, impulseResponse.count - p)
        tailPartitionCount = (tailLength + p - 1) / p
        binStride = (p + 1 + 7) / 8 * 8
        fft = RealFFT(size: 2 * p)

        headTaps = allocateAlignedFloats(p)
        for u in 0..<p where p - 1 - u < impulseResponse.count {
            headTaps[u] = impulseResponse[p - 1 - u]
        }
        inputFrame = allocateAlignedFloats(2 * p + 8)
        tailOutput = allocateAlignedFloats(p)

        let vectors = max(1, tailPartitionCount * binStride / 8)
        let strideVectors = binStride / 8
        func planes(_ count: Int) -> UnsafeMutablePointer<SIMD8<Float>> {
            let pointer = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: count)
            pointer.initialize(repeating: SIMD8(), count: count)
            return pointer
        }
        irReal = planes(vectors)
        irImag = planes(vectors)
        lineReal = planes(vectors)
        lineImag = planes(vectors)
        sumReal = planes(strideVectors)
        sumImag = planes(strideVectors)

        // Spectra of the tail partitions, normalisation of the inverse FFT folded in.
        let scale = 1 / Float(2 * p)
        let time = fft.samples.baseAddress!
        let spectrum = fft.spectrum.baseAddress!
        for j in 0..<tailPartitionCount {
            time.update(repeating: 0, count: 2 * p)
            let start = p + j * p
            let end = min(start + p, impulseResponse.count)
            for i in start..<end { time[i - start] = impulseResponse[i] * scale }
            fft.forward()
            let re = UnsafeMutableRawPointer(irReal + j * strideVectors).assumingMemoryBound(to: Float.self)
            let im = UnsafeMutableRawPointer(irImag + j * strideVectors).assumingMemoryBound(to: Float.self)
            for k in 0..<(p + 1) {
                re[k] = spectrum[2 * k]
                im[k] = spectrum[2 * k + 1]
            }
        }
        fft.samples.update(repeating: 0)
    }

    /// Convenience initializer from a buffer (copies it; not real-time).
    public convenience init(impulseResponse: UnsafeBufferPointer<Float>, partitionSize: Int) {
        self.init(impulseResponse: Array(impulseResponse), partitionSize: partitionSize)
    }

    deinit {
        freeAlignedFloats(headTaps)
        freeAlignedFloats(inputFrame)
        freeAlignedFloats(tailOutput)
        for planes in [irReal, irImag, lineReal, lineImag, sumReal, sumImag] { planes.deallocate() }
    }

    /// Forgets all past input (silence from now on). Real-time safe.
    public func reset() {
        let vectors = max(1, tailPartitionCount * binStride / 8)
        lineReal.update(repeating: SIMD8(), count: vectors)
        lineImag.update(repeating: SIMD8(), count: vectors)
        inputFrame.update(repeating: 0, count: 2 * partitionSize + 8)
        tailOutput.update(repeating: 0, count: partitionSize)
        position = 0
        newestSlot = 0
    }

    /// Writes `ir ∗ input` for the next `count` samples to `output`. `output` may equal `input`.
    /// Real-time safe.
    public func process(_ input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int) {
        run(input, output, count, gain: 1, accumulate: false)
    }

    /// Adds `gain · (ir ∗ input)` for the next `count` samples to `output` (e.g. a wet signal
    /// onto the dry one in place: `input == output` is allowed). Real-time safe.
    public func process(_ input: UnsafePointer<Float>, addingTo output: UnsafeMutablePointer<Float>, count: Int, gain: Float) {
        run(input, output, count, gain: gain, accumulate: true)
    }

    private func run(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, _ count: Int,
                     gain: Float, accumulate: Bool) {
        let p = partitionSize
        var done = 0
        while done < count {
            let n = min(count - done, p - position)
            let chunkIn = input + done
            let chunkOut = output + done
            let frameStart = p + position
            (inputFrame + frameStart).update(from: chunkIn, count: n)

            // Head: y[i] = Σ_u headTaps[u] · inputFrame[position + i + 1 + u], 8 outputs at a time.
            let raw = UnsafeRawPointer(inputFrame)
            var i = 0
            while i < n {
                var sum = SIMD8<Float>()
                let base = raw + (position + i + 1) * MemoryLayout<Float>.stride
                for u in 0..<p {
                    sum += headTaps[u] * base.loadUnaligned(fromByteOffset: u * MemoryLayout<Float>.stride, as: SIMD8<Float>.self)
                }
                let lanes = min(8, n - i)
                let tail = tailOutput + position + i
                if accumulate {
                    for lane in 0..<lanes { chunkOut[i + lane] += gain * (sum[lane] + tail[lane]) }
                } else {
                    for lane in 0..<lanes { chunkOut[i + lane] = sum[lane] + tail[lane] }
                }
                i += 8
            }

            position += n
            done += n
            if position == p {
                finishPartition()
                position = 0
            }
        }
    }

    /// The current partition is complete: push its spectrum into the delay line, compute the
    /// tail contribution for the next partition, and slide the input frame. Real-time safe.
    private func finishPartition() {
        let p = partitionSize
        if tailPartitionCount > 0 {
            let strideVectors = binStride / 8
            let time = fft.samples.baseAddress!
            let spectrum = fft.spectrum.baseAddress!
            time.update(from: inputFrame, count: 2 * p)
            fft.forward()
            newestSlot = (newestSlot + 1) % tailPartitionCount
            let re = UnsafeMutableRawPointer(lineReal + newestSlot * strideVectors).assumingMemoryBound(to: Float.self)
            let im = UnsafeMutableRawPointer(lineImag + newestSlot * strideVectors).assumingMemoryBound(to: Float.self)
            for k in 0..<(p + 1) {
                re[k] = spectrum[2 * k]
                im[k] = spectrum[2 * k + 1]
            }

            sumReal.update(repeating: SIMD8(), count: strideVectors)
            sumImag.update(repeating: SIMD8(), count: strideVectors)
            for j in 0..<tailPartitionCount {
                var slot = newestSlot - j
                if slot < 0 { slot += tailPartitionCount }
                let xr = lineReal + slot * strideVectors, xi = lineImag + slot * strideVectors
                let hr = irReal + j * strideVectors, hi = irImag + j * strideVectors
                for v in 0..<strideVectors {
                    let a = xr[v], b = xi[v], c = hr[v], d = hi[v]
                    sumReal[v] += a * c - b * d
                    sumImag[v] += a * d + b * c
                }
            }
            let sr = UnsafeMutableRawPointer(sumReal).assumingMemoryBound(to: Float.self)
            let si = UnsafeMutableRawPointer(sumImag).assumingMemoryBound(to: Float.self)
            for k in 0..<(p + 1) {
                spectrum[2 * k] = sr[k]
                spectrum[2 * k + 1] = si[k]
            }
            fft.inverse()
            // Overlap-save: the second half is the valid linear convolution.
            tailOutput.update(from: time + p, count: p)
        }
        inputFrame.update(from: inputFrame + p, count: p)
    }
}
