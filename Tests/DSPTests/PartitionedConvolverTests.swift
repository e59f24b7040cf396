import DSP
import Foundation
import XCTest

final class PartitionedConvolverTests: XCTestCase {
    /// Runs `input` through `convolver` in blocks whose sizes cycle through `blockSizes`.
    private func run(_ convolver: PartitionedConvolver, _ input: [Float], blockSizes: [Int]) -> [Float] {
        var output = [Float](repeating: .nan, count: input.count)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                var done = 0, b = 0
                while done < input.count {
                    let count = min(blockSizes[b % blockSizes.count], input.count - done)
                    convolver.process(x.baseAddress! + done, output: y.baseAddress! + done, count: count)
                    done += count
                    b += 1
                }
            }
        }
        return output
    }

    private func decayingIR(_ length: Int, seed: UInt64) -> [Float] {
        var noise = WhiteNoise(seed: seed)
        return (0..<length).map { noise.next() * Float(exp(-3 * Double($0) / Double(max(length, 1)))) }
    }

    func testUnitImpulseGivesTheImpulseResponse() {
        let blockPatterns = [[37, 1, 200, 64, 5, 129], [100], [64], [128, 128, 3]]
        var worst = 0.0
        for partition in [64, 128] {
            for length in [1, 2, 63, 64, 65, 127, 128, 129, 1_000, 4_801] {
                let ir = decayingIR(length, seed: UInt64(length))
                for pattern in blockPatterns {
                    let convolver = PartitionedConvolver(impulseResponse: ir, partitionSize: partition)
                    var impulse = [Float](repeating: 0, count: length + 3 * partition + 11)
                    impulse[0] = 1
                    let y = run(convolver, impulse, blockSizes: pattern)
                    let expected = ir + [Float](repeating: 0, count: impulse.count - length)
                    let peak = ir.map { abs(Double($0)) }.max()!
                    let error = maxAbsDifference(y, expected) / peak
                    worst = max(worst, error)
                    XCTAssertLessThan(error, 1e-6, "P \(partition) L \(length) blocks \(pattern)")
                }
            }
        }
        print("convolver impulse -> IR: worst relative error \(worst)")
    }

    func testImpulseLaterInTheStreamAndReset() {
        let ir = decayingIR(700, seed: 3)
        let convolver = PartitionedConvolver(impulseResponse: ir, partitionSize: 64)
        var input = [Float](repeating: 0, count: 2_000)
        input[333] = 0.5
        let y = run(convolver, input, blockSizes: [17, 90])
        for t in 0..<2_000 {
            let expected: Float = (t >= 333 && t - 333 < 700) ? 0.5 * ir[t - 333] : 0
            XCTAssertEqual(y[t], expected, accuracy: 1e-6)
        }
        convolver.reset()
        var impulse = [Float](repeating: 0, count: 800)
        impulse[0] = 1
        let again = run(convolver, impulse, blockSizes: [64])
        XCTAssertLessThan(maxAbsDifference(Array(again[0..<700]), ir), 1e-6)
    }

    func testRandomSignalMatchesDirectConvolution() {
        let ir = decayingIR(3_000, seed: 11)
        var noise = WhiteNoise(seed: 5)
        let x = (0..<6_000).map { _ in noise.next() }
        let convolver = PartitionedConvolver(impulseResponse: ir, partitionSize: 64)
        let y = run(convolver, x, blockSizes: [61, 3, 256])
        var worst = 0.0, scale = 0.0
        for t in stride(from: 0, to: x.count, by: 7) {
            var sum = 0.0
            for tau in 0...min(t, ir.count - 1) { sum += Double(ir[tau]) * Double(x[t - tau]) }
            worst = max(worst, abs(sum - Double(y[t])))
            scale = max(scale, abs(sum))
        }
        print("convolver vs direct (L 3000, P 64): max error \(worst), relative \(worst / scale)")
        XCTAssertLessThan(worst / scale, 1e-5)
    }

    /// `ir ∗ x` at every `step`-th sample, in Double, straight from the definition.
    private func directConvolution(_ ir: [Float], _ x: [Float], step: Int) -> [(Int, Double)] {
        ir.withUnsafeBufferPointer { h in
            x.withUnsafeBufferPointer { s in
                stride(from: 0, to: s.count, by: step).map { t in
                    var sum = 0.0
                    for tau in 0...min(t, h.count - 1) { sum += Double(h[tau]) * Double(s[t - tau]) }
                    return (t, sum)
                }
            }
        }
    }

    /// Worst error at the checked samples over the largest expected magnitude.
    private func relativeError(_ y: [Float], _ expected: [(Int, Double)]) -> Double {
        var worst = 0.0, scale = 0.0
        for (t, e) in expected {
            worst = max(worst, abs(e - Double(y[t])))
            scale = max(scale, abs(e))
        }
        return worst / scale
    }

    func testNonUniformSegmentsLayout() {
        // P = 64, largest 1024, a one-second IR at 48 kHz: 64 taps direct, then 7 × 64 from tap 64,
        // 6 × 256 from tap 512, 45 × 1024 from tap 2048.
        let convolver = PartitionedConvolver(impulseResponse: [Float](repeating: 0.001, count: 48_000), partitionSize: 64)
        XCTAssertEqual(convolver.maximumPartitionSamples, 1_024)
        XCTAssertEqual(convolver.segments, [
            ConvolutionSegment(partitionSamples: 64, offsetSamples: 64, partitionCount: 7),
            ConvolutionSegment(partitionSamples: 256, offsetSamples: 512, partitionCount: 6),
            ConvolutionSegment(partitionSamples: 1_024, offsetSamples: 2_048, partitionCount: 45),
        ])
        // uniform when the largest partition is P; short IRs use only the segments they reach
        let uniform = PartitionedConvolver(impulseResponse: [Float](repeating: 0.001, count: 48_000), partitionSize: 64,
                                           maximumPartitionSamples: 64)
        XCTAssertEqual(uniform.segments, [ConvolutionSegment(partitionSamples: 64, offsetSamples: 64, partitionCount: 749)])
        let short = PartitionedConvolver(impulseResponse: [Float](repeating: 0.001, count: 600), partitionSize: 64)
        XCTAssertEqual(short.segments, [
            ConvolutionSegment(partitionSamples: 64, offsetSamples: 64, partitionCount: 7),
            ConvolutionSegment(partitionSamples: 256, offsetSamples: 512, partitionCount: 1),
        ])
        XCTAssertEqual(PartitionedConvolver(impulseResponse: [1, 2, 3], partitionSize: 64).segments, [])
        // a requested largest partition between the sizes rounds down to P · 4^k
        XCTAssertEqual(PartitionedConvolver(impulseResponse: [0.5], partitionSize: 64, maximumPartitionSamples: 1_000)
            .maximumPartitionSamples, 256)
    }

    /// Non-uniform partitions (every segment size used, the large ones' work spread over ticks)
    /// give the direct convolution to -100 dB at block sizes 1, 64, 333, 1024 and odd mixes.
    func testNonUniformMatchesDirectConvolutionAtEveryBlockSize() {
        var noise = WhiteNoise(seed: 21)
        let cases: [(partition: Int, largest: Int, length: Int, inputLength: Int)] = [
            (8, 512, 5_000, 9_000),        // segments 8, 32, 128, 512
            (64, 1_024, 9_000, 16_000),    // the engine's default: 64, 256, 1024
        ]
        var worst = 0.0
        for c in cases {
            let ir = decayingIR(c.length, seed: UInt64(c.length))
            let x = (0..<c.inputLength).map { _ in noise.next() }
            let expected = directConvolution(ir, x, step: c.partition == 8 ? 5 : 13)
            for pattern in [[1], [64], [333], [1_024], [37, 1, 200, 64, 5, 129], [7, 1_031, 3]] {
                let convolver = PartitionedConvolver(impulseResponse: ir, partitionSize: c.partition,
                                                     maximumPartitionSamples: c.largest)
                XCTAssertEqual(convolver.segments.last?.partitionSamples, c.largest)
                let y = run(convolver, x, blockSizes: pattern)
                let error = relativeError(y, expected)
                worst = max(worst, error)
                XCTAssertLessThan(error, 1e-5, "P \(c.partition) largest \(c.largest) L \(c.length) blocks \(pattern)")
            }
        }
        print("non-uniform convolver vs direct: worst relative error \(worst) (\(20 * log10(worst)) dB)")
    }

    /// The non-uniform and the uniform algorithm give the same output (to float rounding), also
    /// after a reset in the middle of a large block.
    func testNonUniformEqualsUniformAndResets() {
        let ir = decayingIR(20_000, seed: 4)
        var noise = WhiteNoise(seed: 8)
        let x = (0..<30_000).map { _ in noise.next() }
        let uniform = PartitionedConvolver(impulseResponse: ir, partitionSize: 64, maximumPartitionSamples: 64)
        let nonUniform = PartitionedConvolver(impulseResponse: ir, partitionSize: 64)
        XCTAssertEqual(nonUniform.segments.count, 3)
        // stops one tick after a 1024 block boundary: that block waits for its forward FFT
        _ = run(nonUniform, Array(x[0..<2_112]), blockSizes: [100])
        nonUniform.reset()
        let a = run(uniform, x, blockSizes: [64])
        let b = run(nonUniform, x, blockSizes: [64])
        let peak = a.map { abs(Double($0)) }.max()!
        XCTAssertGreaterThan(peak, 0.1)
        XCTAssertLessThan(maxAbsDifference(a, b) / peak, 1e-5)
    }

    func testAddingInPlaceWithGain() {
        let ir: [Float] = [0, 0.5, 0.25, 0, 0, 0, 0, 0, 0, 0, 0.125] + [Float](repeating: 0, count: 100) + [0.1]
        let convolver = PartitionedConvolver(impulseResponse: ir, partitionSize: 8)
        var signal = [Float](repeating: 0, count: 200)
        signal[0] = 1
        signal.withUnsafeMutableBufferPointer { s in
            var done = 0
            for count in [3, 50, 147] {
                convolver.process(s.baseAddress! + done, addingTo: s.baseAddress! + done, count: count, gain: 2)
                done += count
            }
        }
        // dry + 2·(ir ∗ dry) with dry = unit impulse.
        var expected = ir.map { 2 * $0 } + [Float](repeating: 0, count: 200 - ir.count)
        expected[0] += 1
        XCTAssertLessThan(maxAbsDifference(signal, expected), 1e-6)
    }

    func testMatchesTorchReverb() throws {
        // audio.audio.R = dry + ir ∗ dry, with the 32 kHz IR used sample by sample at every rate.
        let fixture = try SafeTensors.fixture("small-reference.safetensors")
        let ir = fixture["reverb.ir"]
        for rate in [32_000, 44_100, 48_000, 96_000] {
            var signal = fixture["audio.dry.\(rate)"]
            let expected = fixture["audio.audio.\(rate)"]
            let convolver = PartitionedConvolver(impulseResponse: ir, partitionSize: 128)
            signal.withUnsafeMutableBufferPointer { s in
                var done = 0
                while done < s.count {
                    let count = min(200, s.count - done)
                    convolver.process(s.baseAddress! + done, addingTo: s.baseAddress! + done, count: count, gain: 1)
                    done += count
                }
            }
            let error = maxAbsDifference(signal, expected)
            let scale = expected.map { abs(Double($0)) }.max()!
            print("reverb vs torch @\(rate): max error \(error), relative \(error / scale)")
            XCTAssertLessThan(error / scale, 1e-5)
        }
    }

    func testResampledSineKeepsFrequencyAndAmplitude() {
        let source = (0..<3_200).map { Float(0.8 * sin(2 * Double.pi * 1_000 * Double($0) / 32_000)) }
        for target in [44_100.0, 48_000, 96_000, 22_050] {
            let y = resample(signal: source, from: 32_000, to: target)
            XCTAssertEqual(y.count, Int((3_200 * target / 32_000).rounded(.up)))
            var worst = 0.0
            // Away from the edges, where the kernel runs off the signal.
            let margin = Int(target / 32_000 * 80) + 10
            for n in margin..<(y.count - margin) {
                worst = max(worst, abs(Double(y[n]) - 0.8 * sin(2 * Double.pi * 1_000 * Double(n) / target)))
            }
            print("resample 32 kHz -> \(Int(target)): max error \(worst)")
            XCTAssertLessThan(worst, 1e-3)
        }
    }

    func testResampledImpulseResponseKeepsItsGain() {
        // A smooth IR starting at 0 (as the model's does), with energy at 1 and 5 kHz: its
        // response there and its DC gain Σ h survive resampling. (A step at ir[0] would lose the
        // band-limited pre-ringing that falls before t = 0.)
        let ir: [Float] = (0..<1_600).map { (n: Int) -> Float in
            let t = Double(n) / 32_000
            let window = 0.5 - 0.5 * cos(2 * Double.pi * Double(n) / 1_600)
            return Float(window * (0.01 + 0.02 * sin(2 * Double.pi * 1_000 * t) + 0.01 * sin(2 * Double.pi * 5_000 * t)))
        }
        func gain(_ h: [Float], rate: Double, hz: Double) -> Double {
            var re = 0.0, im = 0.0
            for (i, v) in h.enumerated() {
                re += Double(v) * cos(2 * Double.pi * hz * Double(i) / rate)
                im -= Double(v) * sin(2 * Double.pi * hz * Double(i) / rate)
            }
            return (re * re + im * im).squareRoot()
        }
        for target in [48_000.0, 96_000, 16_000] {
            let h = resample(ir: ir, from: 32_000, to: target)
            for hz in [0.0, 1_000, 5_000] {
                let before = gain(ir, rate: 32_000, hz: hz), after = gain(h, rate: target, hz: hz)
                let changeDB: Double = amplitudeToDB(after / before)
                print("IR resample 32 kHz -> \(Int(target)): gain change at \(hz) Hz \(changeDB) dB")
                XCTAssertEqual(changeDB, 0, accuracy: 0.001, "\(target) Hz at \(hz) Hz")
            }
        }
    }
}
