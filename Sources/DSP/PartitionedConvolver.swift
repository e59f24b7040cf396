// Zero-latency FFT convolution for the reverb: a direct-form head plus a non-uniformly
// partitioned overlap-save tail (small partitions first, growing ones later), the large
// partitions' work spread evenly over the callbacks their latency allows.

/// One frequency-domain segment of a ``PartitionedConvolver``: `partitionCount` partitions of
/// `partitionSamples` taps each, starting at tap `offsetSamples` of the impulse response.
public struct ConvolutionSegment: Sendable, Equatable {
    /// Taps per partition, B (the FFT size is 2B).
    public let partitionSamples: Int
    /// First tap of the impulse response this segment applies: B for the first segment, 2B for
    /// the others (one block to collect the input, one to compute the result in).
    public let offsetSamples: Int
    /// Number of B-tap partitions (the frequency-domain delay line's length).
    public let partitionCount: Int

    /// A segment of `partitionCount` partitions of `partitionSamples` taps from tap `offsetSamples`.
    public init(partitionSamples: Int, offsetSamples: Int, partitionCount: Int) {
        self.partitionSamples = partitionSamples
        self.offsetSamples = offsetSamples
        self.partitionCount = partitionCount
    }
}

/// Linear convolution of a stream with a fixed impulse response, with no added latency, for any
/// block size.
///
/// The IR is split into a head and frequency-domain segments (Gardner 1995, Garcia 2002; Wefers
/// 2015, "non-uniformly partitioned convolution"):
///
/// - the **head**, taps `0..<P` (P = `partitionSize`), is applied directly in the time domain
///   (P multiply-adds per sample, vectorised);
/// - the **first segment**, B = P, taps `P..<8P`, is uniformly partitioned overlap-save with a
///   frequency-domain delay line: each completed P-sample input partition is transformed (FFT of
///   2P), multiplied with the IR partitions' spectra and transformed back at once; the result is
///   needed one partition later, which hides the partition latency exactly (as before issue 17,
///   when this one segment covered the whole tail);
/// - **later segments** have B = 4P, 16P… (up to `maximumPartitionSamples`), taps `2B..<8B` (the
///   last one: to the end of the IR). A B-sample input block is complete at a B boundary, and its
///   contribution is needed only B samples later (the segment starts at tap 2B), so its work is
///   **time-distributed** over the B / P partition ticks of that block: at the boundary the
///   previous block's summed spectrum is transformed back (it becomes the next B output samples);
///   the new block is transformed k ticks later (k = 1 for the 4P segment, 2 for the 16P one…, so
///   no two large FFTs share a tick), and the complex multiply-adds of the delay line are split
///   evenly over the ticks from there to the block's end. No tick ever does a segment's whole
///   work, and no result is ever late: the schedule is fixed by the sample count, not by a clock.
///
/// So `output[t] = Σ_τ ir[τ] · input[t - τ]` from the first sample, whatever the `count` of each
/// call, and the work per P samples is nearly constant. With P = 64 and a 48 000-tap IR the
/// segments hold 7 × 64, 6 × 256 and 45 × 1024 taps: about 3 700 complex multiply-adds per 64
/// samples instead of 750 × 65 = 48 750 with uniform 64-tap partitions, the largest FFTs 2048
/// points. `maximumPartitionSamples = P` gives the uniform algorithm (one segment).
///
/// Build it off the audio thread (it allocates and plans FFTs); ``process(_:output:count:)``,
/// ``process(_:addingTo:count:gain:)`` and ``reset()`` are real-time safe (no allocation, lock or
/// system call).
public final class PartitionedConvolver {
    /// Partition size P in samples: the head's length and the smallest FFT partition (a power of
    /// two, at least 8). Work is done every P samples.
    public let partitionSize: Int
    /// Largest partition in samples (P · 4^k; P gives uniform partitioning).
    public let maximumPartitionSamples: Int
    /// Length of the impulse response in samples.
    public let impulseResponseLength: Int
    /// Added latency in samples: always 0.
    public let latency = 0
    /// The frequency-domain segments, smallest partitions first (empty when the IR fits the head).
    public let segments: [ConvolutionSegment]
    /// Number of partitions convolved in the frequency domain, all segments together.
    public var tailPartitionCount: Int { segments.reduce(0) { $0 + $1.partitionCount } }

    /// First P taps, reversed: `headTaps[u] = ir[P - 1 - u]`.
    private let headTaps: UnsafeMutablePointer<Float>
    /// The previous partition, then the current one being filled, then 8 floats of padding for
    /// the head's vector reads.
    private let inputFrame: UnsafeMutablePointer<Float>
    /// The segments' contribution for the current partition's output samples.
    private let tailOutput: UnsafeMutablePointer<Float>
    /// The segments' convolvers, smallest partitions first (a plain buffer: iterating a Swift
    /// collection is generic code that may allocate in unoptimised builds).
    private let stages: UnsafeMutablePointer<SegmentConvolver>
    private let stageCount: Int
    /// Samples of the current partition received so far, 0..<P.
    private var position = 0

    /// Prepares the convolver (allocates and plans; not real-time).
    /// - Parameters:
    ///   - impulseResponse: the IR at the processing rate (any length; empty means silence).
    ///   - partitionSize: P, a power of two ≥ 8.
    ///   - maximumPartitionSamples: the largest partition, P · 4^k (default 16 P, rounded down to
    ///     such a size); P gives uniform partitioning. Larger partitions cut the multiply-adds of a
    ///     long tail but put larger FFTs (2 · size points) into the ticks at their block boundaries.
    public init(impulseResponse: [Float], partitionSize: Int, maximumPartitionSamples: Int? = nil) {
        precondition(partitionSize >= 8 && partitionSize & (partitionSize - 1) == 0,
                     "partition size must be a power of two of at least 8")
        let p = partitionSize
        self.partitionSize = p
        let requestedMax = max(p, maximumPartitionSamples ?? 16 * p)
        var largest = p
        while largest * 4 <= requestedMax { largest *= 4 }
        self.maximumPartitionSamples = largest
        impulseResponseLength = impulseResponse.count

        // Segments: B = P at tap P, then B = 4P, 16P… at tap 2B; each ends where the next starts
        // (8B: 2 · 4B), the last at the end of the IR.
        var layout: [ConvolutionSegment] = []
        var b = p, offset = p
        let length = impulseResponse.count
        while offset < length {
            let isLast = b == largest || 8 * b >= length
            let end = isLast ? length : 8 * b
            layout.append(ConvolutionSegment(partitionSamples: b, offsetSamples: offset,
                                             partitionCount: (end - offset + b - 1) / b))
            offset = end
            b *= 4
        }
        segments = layout

        headTaps = allocateAlignedFloats(p)
        for u in 0..<p where p - 1 - u < impulseResponse.count {
            headTaps[u] = impulseResponse[p - 1 - u]
        }
        inputFrame = allocateAlignedFloats(2 * p + 8)
        tailOutput = allocateAlignedFloats(p)
        stageCount = layout.count
        stages = .allocate(capacity: max(1, layout.count))
        for (k, segment) in layout.enumerated() {
            (stages + k).initialize(to: SegmentConvolver(segment: segment, index: k, tickSamples: p,
                                                         impulseResponse: impulseResponse))
        }
    }

    /// Convenience initializer from a buffer (copies it; not real-time).
    public convenience init(impulseResponse: UnsafeBufferPointer<Float>, partitionSize: Int, maximumPartitionSamples: Int? = nil) {
        self.init(impulseResponse: Array(impulseResponse), partitionSize: partitionSize,
                  maximumPartitionSamples: maximumPartitionSamples)
    }

    deinit {
        freeAlignedFloats(headTaps)
        freeAlignedFloats(inputFrame)
        freeAlignedFloats(tailOutput)
        stages.deinitialize(count: stageCount)
        stages.deallocate()
    }

    /// Forgets all past input (silence from now on). Real-time safe.
    public func reset() {
        inputFrame.update(repeating: 0, count: 2 * partitionSize + 8)
        tailOutput.update(repeating: 0, count: partitionSize)
        for k in 0..<stageCount { stages[k].reset() }
        position = 0
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

    /// The head for each chunk up to a partition boundary, then the tick at each boundary.
    /// Real-time safe.
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

    /// The current partition is complete: every segment takes it (and does its share of work),
    /// their contributions for the next partition are summed, and the input frame slides.
    /// Real-time safe.
    private func finishPartition() {
        let p = partitionSize
        if stageCount > 0 {
            tailOutput.update(repeating: 0, count: p)
            for k in 0..<stageCount { stages[k].tick(inputFrame + p, addingTo: tailOutput) }
        }
        inputFrame.update(from: inputFrame + p, count: p)
    }
}

/// One segment's uniformly partitioned overlap-save convolution, driven one P-sample tick at a
/// time by ``PartitionedConvolver``. With B = P its whole work runs in the tick that completes a
/// partition (result due at the next sample); with B > P (offset 2B) the boundary tick does the
/// inverse FFT of the last block's sum, tick `forwardTick` the forward FFT of the new block, and
/// the ticks from `forwardTick` to the block's end each an equal share of the complex
/// multiply-adds.
final class SegmentConvolver {
    /// Taps per partition, B.
    let blockSamples: Int
    /// P, the samples per tick.
    let tickSamples: Int
    /// B / P.
    let ticksPerBlock: Int
    /// K, partitions in the delay line.
    let partitionCount: Int
    /// SIMD8 vectors per partition spectrum ((B + 1) bins rounded up to a multiple of 8).
    let binVectors: Int
    /// Complex bins, B + 1.
    let binCount: Int
    private let fft: RealFFT
    /// Overlap-save input: the previous block, then the current one being filled (2B floats).
    private let frame: UnsafeMutablePointer<Float>
    /// This segment's output for the current block (B floats).
    private let output: UnsafeMutablePointer<Float>
    /// IR partition spectra (scaled by 1 / 2B) and the delay line of input spectra, split into
    /// real and imaginary planes, K · binVectors vectors each.
    private let irReal: UnsafeMutablePointer<SIMD8<Float>>
    private let irImag: UnsafeMutablePointer<SIMD8<Float>>
    private let lineReal: UnsafeMutablePointer<SIMD8<Float>>
    private let lineImag: UnsafeMutablePointer<SIMD8<Float>>
    private let sumReal: UnsafeMutablePointer<SIMD8<Float>>
    private let sumImag: UnsafeMutablePointer<SIMD8<Float>>
    /// The tick of a block (1..<ticksPerBlock) that transforms the block completed at its start
    /// (copied into the FFT's buffer at the boundary): 1 for the first time-distributed segment,
    /// 2 for the next…, so that segments' forward FFTs fall into different ticks, and neither
    /// into the boundary tick that does the inverse FFTs.
    let forwardTick: Int
    /// Tick t (forwardTick..<ticksPerBlock) of a block does the flattened (partition, vector)
    /// range `chunkStart[t - forwardTick]..<chunkStart[t - forwardTick + 1]`.
    private let chunkStart: UnsafeMutablePointer<Int>
    /// Delay-line slot holding the newest input spectrum.
    private var newestSlot = 0
    /// Ticks of the current block received so far, 0..<ticksPerBlock.
    private var filledTicks = 0

    /// - Parameters:
    ///   - segment: the partitions this convolver applies.
    ///   - index: the segment's place (0: the B = P segment), which sets its forward FFT's tick.
    ///   - p: samples per tick.
    ///   - impulseResponse: the whole IR.
    init(segment: ConvolutionSegment, index: Int, tickSamples p: Int, impulseResponse: [Float]) {
        let b = segment.partitionSamples
        blockSamples = b
        tickSamples = p
        ticksPerBlock = b / p
        partitionCount = segment.partitionCount
        binCount = b + 1
        binVectors = (b + 1 + 7) / 8
        fft = RealFFT(size: 2 * b)
        frame = allocateAlignedFloats(2 * b)
        output = allocateAlignedFloats(b)
        let vectors = partitionCount * binVectors
        func planes(_ count: Int) -> UnsafeMutablePointer<SIMD8<Float>> {
            let pointer = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: count)
            pointer.initialize(repeating: SIMD8(), count: count)
            return pointer
        }
        irReal = planes(vectors)
        irImag = planes(vectors)
        lineReal = planes(vectors)
        lineImag = planes(vectors)
        sumReal = planes(binVectors)
        sumImag = planes(binVectors)
        forwardTick = ticksPerBlock == 1 ? 0 : min(ticksPerBlock - 1, max(1, index))
        let spreadTicks = max(1, ticksPerBlock - forwardTick)
        chunkStart = .allocate(capacity: spreadTicks + 1)
        for t in 0...spreadTicks { chunkStart[t] = vectors * t / spreadTicks }

        // Spectra of the partitions, normalisation of the inverse FFT folded in.
        let scale = 1 / Float(2 * b)
        let time = fft.samples.baseAddress!
        let spectrum = fft.spectrum.baseAddress!
        for j in 0..<partitionCount {
            time.update(repeating: 0, count: 2 * b)
            let start = segment.offsetSamples + j * b
            let end = min(start + b, impulseResponse.count)
            for i in start..<end { time[i - start] = impulseResponse[i] * scale }
            fft.forward()
            let re = UnsafeMutableRawPointer(irReal + j * binVectors).assumingMemoryBound(to: Float.self)
            let im = UnsafeMutableRawPointer(irImag + j * binVectors).assumingMemoryBound(to: Float.self)
            for k in 0..<(b + 1) {
                re[k] = spectrum[2 * k]
                im[k] = spectrum[2 * k + 1]
            }
        }
        fft.samples.update(repeating: 0)
    }

    deinit {
        freeAlignedFloats(frame)
        freeAlignedFloats(output)
        for planes in [irReal, irImag, lineReal, lineImag, sumReal, sumImag] { planes.deallocate() }
        chunkStart.deallocate()
    }

    /// Forgets all past input. Real-time safe.
    func reset() {
        let vectors = partitionCount * binVectors
        lineReal.update(repeating: SIMD8(), count: vectors)
        lineImag.update(repeating: SIMD8(), count: vectors)
        sumReal.update(repeating: SIMD8(), count: binVectors)
        sumImag.update(repeating: SIMD8(), count: binVectors)
        frame.update(repeating: 0, count: 2 * blockSamples)
        output.update(repeating: 0, count: blockSamples)
        fft.samples.update(repeating: 0)   // a completed frame may be waiting for its forward FFT
        newestSlot = 0
        filledTicks = 0
    }

    /// Takes the P samples of a completed partition, does this tick's share of the work, and adds
    /// this segment's output for the next P samples to `tail`. Real-time safe.
    func tick(_ samples: UnsafePointer<Float>, addingTo tail: UnsafeMutablePointer<Float>) {
        let p = tickSamples, b = blockSamples
        (frame + b + filledTicks * p).update(from: samples, count: p)
        filledTicks += 1
        if filledTicks == ticksPerBlock {
            if ticksPerBlock == 1 {
                // B = P: the result is due at the next sample, so all of it now.
                fft.samples.baseAddress!.update(from: frame, count: 2 * b)
                forwardIntoDelayLine()
                clearSum()
                multiplyAdd(0, partitionCount * binVectors)
                inverseIntoOutput()
            } else {
                // The sum finished over the last block's ticks is the next B output samples; the
                // completed frame waits in the FFT's buffer for tick `forwardTick`.
                inverseIntoOutput()
                fft.samples.baseAddress!.update(from: frame, count: 2 * b)
                clearSum()
            }
            frame.update(from: frame + b, count: b)
            filledTicks = 0
        } else if filledTicks >= forwardTick {
            if filledTicks == forwardTick { forwardIntoDelayLine() }
            multiplyAdd(chunkStart[filledTicks - forwardTick], chunkStart[filledTicks - forwardTick + 1])
        }
        let slice = output + filledTicks * p
        for i in 0..<p { tail[i] += slice[i] }
    }

    /// FFT of the 2B-sample frame already in the FFT's buffer into the next delay-line slot.
    /// Real-time safe.
    private func forwardIntoDelayLine() {
        let spectrum = fft.spectrum.baseAddress!
        fft.forward()
        newestSlot = newestSlot + 1 == partitionCount ? 0 : newestSlot + 1
        let re = UnsafeMutableRawPointer(lineReal + newestSlot * binVectors).assumingMemoryBound(to: Float.self)
        let im = UnsafeMutableRawPointer(lineImag + newestSlot * binVectors).assumingMemoryBound(to: Float.self)
        for k in 0..<binCount {
            re[k] = spectrum[2 * k]
            im[k] = spectrum[2 * k + 1]
        }
    }

    private func clearSum() {
        sumReal.update(repeating: SIMD8(), count: binVectors)
        sumImag.update(repeating: SIMD8(), count: binVectors)
    }

    /// Adds delay-line slot (newest - j) × IR partition j to the sum, for the flattened
    /// (partition j, vector v) indices `start..<end`. Real-time safe.
    private func multiplyAdd(_ start: Int, _ end: Int) {
        var f = start
        while f < end {
            let j = f / binVectors
            let v0 = f - j * binVectors
            let v1 = min(binVectors, v0 + (end - f))
            var slot = newestSlot - j
            if slot < 0 { slot += partitionCount }
            let xr = lineReal + slot * binVectors, xi = lineImag + slot * binVectors
            let hr = irReal + j * binVectors, hi = irImag + j * binVectors
            for v in v0..<v1 {
                let a = xr[v], bb = xi[v], c = hr[v], d = hi[v]
                sumReal[v] += a * c - bb * d
                sumImag[v] += a * d + bb * c
            }
            f += v1 - v0
        }
    }

    /// Inverse FFT of the sum; its second half (overlap-save) becomes the output block.
    /// Real-time safe.
    private func inverseIntoOutput() {
        let time = fft.samples.baseAddress!
        let spectrum = fft.spectrum.baseAddress!
        let sr = UnsafeMutableRawPointer(sumReal).assumingMemoryBound(to: Float.self)
        let si = UnsafeMutableRawPointer(sumImag).assumingMemoryBound(to: Float.self)
        for k in 0..<binCount {
            spectrum[2 * k] = sr[k]
            spectrum[2 * k + 1] = si[k]
        }
        fft.inverse()
        output.update(from: time + blockSamples, count: blockSamples)
    }
}
