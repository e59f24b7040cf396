import Foundation
import Inference
import Model
import TestSupport
import XCTest

/// Kernels against naive loops, and the encoder against the reference.
final class KernelTests: XCTestCase {
    /// A deterministic pseudo-random generator (xorshift), values in [-1, 1).
    struct Noise {
        var state: UInt64
        mutating func next() -> Float {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Float(state >> 40) / Float(1 << 23) - 1
        }
        mutating func array(_ n: Int) -> [Float] { (0..<n).map { _ in next() } }
    }

    func testDenseMatchesNaiveForEveryShapeAndBatch() {
        var noise = Noise(state: 0x9E37_79B9_7F4A_7C15)
        for inputs in [1, 3, 4, 7, 16, 33] {
            for outputs in [1, 5, 16, 17, 42, 64] {
                let w = DenseWeights(inputCount: inputs, outputCount: outputs,
                                     weight: noise.array(inputs * outputs), bias: noise.array(outputs))
                let layer = DenseLayer(w)
                for batch in 0...9 {
                    let inStride = inputs + 3, outStride = outputs + 2
                    let x = noise.array(max(1, batch * inStride))
                    var y = [Float](repeating: .nan, count: max(1, batch * outStride))
                    x.withUnsafeBufferPointer { xb in
                        y.withUnsafeMutableBufferPointer { yb in
                            layer.forward(batch: batch, input: xb.baseAddress!, inputStride: inStride,
                                          output: yb.baseAddress!, outputStride: outStride)
                        }
                    }
                    for b in 0..<batch {
                        for o in 0..<outputs {
                            var expected = Double(w.bias[o])
                            for i in 0..<inputs { expected += Double(w.weight[o * inputs + i]) * Double(x[b * inStride + i]) }
                            XCTAssertEqual(Double(y[b * outStride + o]), expected, accuracy: 1e-5,
                                           "in \(inputs) out \(outputs) batch \(batch) row \(b) output \(o)")
                        }
                        // Padding between rows is untouched.
                        for o in outputs..<outStride where b * outStride + o < y.count {
                            XCTAssertTrue(y[b * outStride + o].isNaN)
                        }
                    }
                }
            }
        }
    }

    /// Wide layers (inputs past one chunk of the kernel, every tile width): each row of a batch
    /// equals the row run alone, bit for bit, and the naive sum within rounding.
    func testDenseRowsAreBitIdenticalAtAnyBatch() {
        var noise = Noise(state: 0x2545_F491_4F6C_DD1D)
        for (inputs, outputs) in [(300, 42), (257, 200), (130, 8), (512, 24)] {
            let w = DenseWeights(inputCount: inputs, outputCount: outputs,
                                 weight: noise.array(inputs * outputs), bias: noise.array(outputs))
            let layer = DenseLayer(w)
            let maxBatch = 11
            let x = noise.array(maxBatch * inputs)
            func run(_ rows: [Int]) -> [[Float]] {
                let xs = rows.flatMap { x[$0 * inputs ..< ($0 + 1) * inputs] }
                var y = [Float](repeating: .nan, count: rows.count * outputs)
                xs.withUnsafeBufferPointer { xb in
                    y.withUnsafeMutableBufferPointer { yb in
                        layer.forward(batch: rows.count, input: xb.baseAddress!, inputStride: inputs,
                                      output: yb.baseAddress!, outputStride: outputs)
                    }
                }
                return (0..<rows.count).map { Array(y[$0 * outputs ..< ($0 + 1) * outputs]) }
            }
            let alone = (0..<maxBatch).map { run([$0])[0] }
            for b in 0..<maxBatch {
                for o in 0..<outputs {
                    var expected = Double(w.bias[o])
                    for i in 0..<inputs { expected += Double(w.weight[o * inputs + i]) * Double(x[b * inputs + i]) }
                    XCTAssertEqual(Double(alone[b][o]), expected, accuracy: 1e-4 * max(1, abs(expected)))
                }
            }
            for batch in [2, 3, 4, 5, 7, 8, 9, 11] {
                let rows = (0..<batch).map { ($0 * 5 + batch) % maxBatch }
                let y = run(rows)
                for (k, r) in rows.enumerated() {
                    XCTAssertEqual(y[k].map(\.bitPattern), alone[r].map(\.bitPattern),
                                   "in \(inputs) out \(outputs) batch \(batch) position \(k)")
                }
            }
        }
    }

    /// The AVX-512 kernel and the AVX2 kernel on the same layer give the same bits for every row,
    /// at batches 1-64, for narrow and wide tiles and inputs past one chunk; rows' padding is
    /// untouched. Skipped on a CPU without AVX-512F.
    func testAVX512KernelIsBitIdenticalToAVX2() throws {
        var noise = Noise(state: 0x5851_F42D_4C95_7F2D)
        let probe = DenseLayer(DenseWeights(inputCount: 1, outputCount: 1, weight: [1], bias: [0]))
        try XCTSkipUnless(probe.hasAVX512, "this CPU has no AVX-512F")
        for (inputs, outputs) in [(37, 53), (300, 42), (257, 200), (192, 576), (5, 16), (129, 33)] {
            let w = DenseWeights(inputCount: inputs, outputCount: outputs,
                                 weight: noise.array(inputs * outputs), bias: noise.array(outputs))
            let layer = DenseLayer(w)
            let maxBatch = 64, inStride = inputs + 1, outStride = outputs + 3
            let x = noise.array(maxBatch * inStride)
            func run(_ batch: Int, _ kernel: DenseLayer.Kernel) -> [Float] {
                var y = [Float](repeating: .nan, count: batch * outStride)
                x.withUnsafeBufferPointer { xb in
                    y.withUnsafeMutableBufferPointer { yb in
                        layer.forward(batch: batch, input: xb.baseAddress!, inputStride: inStride,
                                      output: yb.baseAddress!, outputStride: outStride, kernel: kernel)
                    }
                }
                return y
            }
            for batch in [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 32, 33, 48, 63, 64] {
                let a = run(batch, .avx2), b = run(batch, .avx512)
                XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "in \(inputs) out \(outputs) batch \(batch)")
                for r in 0..<batch {
                    for o in outputs..<outStride { XCTAssertTrue(b[r * outStride + o].isNaN, "padding written") }
                    var expected = Double(w.bias[0])
                    for i in 0..<inputs { expected += Double(w.weight[i]) * Double(x[r * inStride + i]) }
                    XCTAssertEqual(Double(b[r * outStride]), expected, accuracy: 1e-4 * max(1, abs(expected)))
                }
            }
        }
    }

    func testLayerNormLeakyReLU() {
        var x: [Float] = [1, 2, 3, 4, 10, 10, 10, 10]
        let gamma: [Float] = [1, 2, 1, 1], beta: [Float] = [0, 0, 0.5, 0]
        x.withUnsafeMutableBufferPointer { xb in
            Kernels.layerNormLeakyReLU(batch: 2, rows: xb.baseAddress!, stride: 4, count: 4, gamma: gamma, beta: beta,
                                       epsilon: 1e-5, slope: 0.2)
        }
        // Row 0: mean 2.5, var 1.25.
        let s = 1 / (1.25 + 1e-5).squareRoot()
        let expected: [Double] = [-1.5 * s * 0.2, -0.5 * s * 2 * 0.2, 0.5 * s + 0.5, 1.5 * s, 0, 0, 0.5, 0]
        for (a, b) in zip(x, expected) { XCTAssertEqual(Double(a), b, accuracy: 1e-5) }
    }

    func testActivations() {
        XCTAssertEqual(Activation.sigmoid(0), 0.5)
        XCTAssertEqual(Double(Activation.expSigmoid(0)), 2 * pow(0.5, log(10.0)) + 1e-7, accuracy: 1e-7)
        XCTAssertEqual(Double(Activation.expSigmoid(30)), 2, accuracy: 1e-6)
        XCTAssertEqual(Activation.expSigmoid(-200), 1e-7)
        XCTAssertEqual(Activation.leakyReLU(-2, slope: 0.2), -0.4)
        XCTAssertEqual(Activation.leakyReLU(3, slope: 0.2), 3)
        XCTAssertEqual(Activation.midiNote(hz: 440), 69)
        XCTAssertEqual(Activation.midiNote(hz: 0), Activation.midiNote(hz: 1e-3))
    }

    func testControlMaskAtTheLimit() {
        let scaler = ControlScaler(harmonicCount: 4, noiseBandCount: 2, noiseBias: -5, bandLimitHz: 16000)
        XCTAssertEqual(scaler.limitHz(outputSampleRateHz: 22050), 11025)
        XCTAssertEqual(scaler.limitHz(outputSampleRateHz: 96000), 16000)
        let raw: [Float] = [10, 0, 0, 0, 0, 1, 2]
        var h = [Float](repeating: -1, count: 4), n = [Float](repeating: -1, count: 2)
        // f0 4000: harmonic 4 sits at 16000 = limit and is muted; the others share the amplitude.
        let amplitude = scaler.scale(raw: raw, f0Hz: 4000, limitHz: 16000, harmonics: &h, noise: &n)
        XCTAssertEqual(h[3], 0)
        XCTAssertEqual(Double(h[0] + h[1] + h[2]), Double(amplitude), accuracy: 1e-5)
        XCTAssertEqual(h[0], h[1])
        XCTAssertEqual(n[0], Activation.expSigmoid(1 - 5), accuracy: 1e-6 * Activation.expSigmoid(1 - 5))  // branch-free exp_sigmoid
        // Above the limit entirely: silence, no division by zero.
        scaler.scale(raw: raw, f0Hz: 20000, limitHz: 16000, harmonics: &h, noise: &n)
        XCTAssertEqual(h, [0, 0, 0, 0])
    }

    func testSmallEncoderMatchesReference() throws {
        let model = try TimbreModel(contentsOf: Fixtures.smallModel)
        let reference = try Reference(Fixtures.smallReference)
        let encoder = model.makeEncoder()
        XCTAssertEqual(encoder.featureCount, 580)
        let (mu, logvar) = encoder.encode(features: try reference.values("encoder.input"))
        let muError = maxScaledError(mu, try reference.values("encoder.mu"))
        let logvarError = maxScaledError(logvar, try reference.values("encoder.logvar"))
        print("small model encoder (2 notes): mu \(muError), logvar \(logvarError)")
        XCTAssertLessThanOrEqual(muError, 1e-4)
        XCTAssertLessThanOrEqual(logvarError, 1e-4)
    }
}
