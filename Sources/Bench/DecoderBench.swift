import CKernels
import Foundation
import Inference
import Model

/// `timbred bench --decoder`: the decoder alone (input MLPs, GRU, output MLP and output layer),
/// one frame per voice for a batch of voices, timed beside the machine's FMA peak measured in the
/// same run. `training/timbred_train/bench_decoder.py` runs it beside PyTorch and ONNX Runtime on
/// the same weights (docs/performance.md).
public struct DecoderBench {
    public let model: TimbreModel
    /// Batch sizes (voices, one frame each) to time.
    public let batches: [Int]
    /// Seconds of decoder steps per batch size, split into `repetitions` timed runs.
    public let seconds: Double
    public let repetitions: Int

    public init(model: TimbreModel, batches: [Int], seconds: Double, repetitions: Int) {
        self.model = model
        self.batches = batches
        self.seconds = seconds
        self.repetitions = max(1, repetitions)
    }

    /// Multiply-adds of one decoder frame of one voice, from the layer sizes (matrix products
    /// only: biases, layer norms and activations are not counted).
    public static func multiplyAdds(_ w: DecoderWeights) -> Int {
        func dense(_ d: DenseWeights) -> Int { d.inputCount * d.outputCount }
        func mlp(_ m: MLPWeights) -> Int { m.layers.reduce(0) { $0 + dense($1.dense) } }
        return mlp(w.f0MLP) + mlp(w.loudnessMLP) + mlp(w.zMLP) + mlp(w.noteMLP)
            + dense(w.gru.inputToHidden) + dense(w.gru.hiddenToHidden) + mlp(w.outMLP) + dense(w.out)
    }

    /// One batch size's timing: the median and the fastest of the repetitions, µs per step.
    public struct Timing: Sendable {
        public var batch: Int
        public var medianMicroseconds: Double
        public var minMicroseconds: Double
        public var steps: Int
    }

    /// The inputs of one decoder step for `batch` voices: reproducible values spread over the
    /// instruments, pitches and note times, and a GRU state that is not zero.
    struct Inputs {
        var f0: [Float], loudness: [Float], note: [Float], z: [Float], state: [Float]

        init(model: TimbreModel, batch: Int) {
            let w = model.decoderWeights
            f0 = (0..<batch).map { b in 440 * Float(pow(2.0, (Double((b * 7) % 48) - 24) / 12)) }
            loudness = (0..<batch).map { b in -20 - Float(b % 5) * 6 }
            note = []
            for b in 0..<batch {
                let velocity = Float(40 + (b * 13) % 87), sinceOn: Float = 0.01 * Float(b % 30)
                let sinceOff: Float = b % 3 == 0 ? 0.05 : -1
                note += [velocity, sinceOn, sinceOff]
            }
            let means = model.latentMeans
            z = (0..<batch).flatMap { b in means[b % means.count] }
            state = (0..<batch * w.gruUnits).map { i in 0.5 * Float(sin(Double(i) * 0.37)) }
        }
    }

    /// Times `step` at each batch size. Real work: `repetitions` runs of as many steps as fill
    /// `seconds / repetitions`, after a warm-up.
    public func measure() -> [Timing] {
        let maxBatch = batches.max() ?? 1
        // TIMBRED_DECODER_PROFILE=1: each stage's time first (docs/performance.md)
        if ProcessInfo.processInfo.environment["TIMBRED_DECODER_PROFILE"] != nil { print(profileStages()) }
        let decoder = model.makeDecoder(maxBatch: maxBatch)
        var result: [Timing] = []
        for batch in batches {
            var inp = Inputs(model: model, batch: batch)
            var raw = [Float](repeating: 0, count: batch * decoder.rawCount)
            func run(_ n: Int) -> Double {
                let start = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<n {
                    decoder.step(batch: batch, f0Hz: inp.f0, loudnessDB: inp.loudness, note: inp.note, z: inp.z,
                                 state: &inp.state, raw: &raw)
                }
                return Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
            }
            // warm up and size the runs
            var n = 1, spent = run(1)
            while spent < 20_000 { n *= 2; spent = run(n) }
            let perStep = spent / Double(n)
            let stepsPerRep = max(1, Int(seconds / Double(repetitions) * 1e6 / perStep))
            var reps: [Double] = []
            for _ in 0..<repetitions { reps.append(run(stepsPerRep) / Double(stepsPerRep)) }
            reps.sort()
            result.append(Timing(batch: batch, medianMicroseconds: reps[reps.count / 2], minMicroseconds: reps[0],
                                 steps: stepsPerRep * repetitions))
        }
        return result
    }

    /// One decoder step at `batch` voices from the inputs in a JSON file (keys batch, f0_hz,
    /// loudness_db, note [batch × 3], z [batch × Z], state [batch × G]); writes raw and the new
    /// state to `output` as JSON. For checking the decoder against another runtime.
    public func check(input: String, output: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: input))
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let batch = obj["batch"] as? Int else {
            throw DecoderBenchError.badInput("\(input): expected a JSON object with batch")
        }
        func floats(_ key: String, _ count: Int) throws -> [Float] {
            guard let a = obj[key] as? [Double], a.count == count else {
                throw DecoderBenchError.badInput("\(input): \(key) must hold \(count) numbers")
            }
            return a.map { Float($0) }
        }
        let w = model.decoderWeights
        let decoder = model.makeDecoder(maxBatch: max(batch, 1))
        var state = try floats("state", batch * w.gruUnits)
        var raw = [Float](repeating: 0, count: batch * w.rawCount)
        decoder.step(batch: batch, f0Hz: try floats("f0_hz", batch), loudnessDB: try floats("loudness_db", batch),
                     note: try floats("note", batch * Decoder.noteStride), z: try floats("z", batch * w.zDim),
                     state: &state, raw: &raw)
        let out: [String: Any] = ["raw": raw.map { Double($0) }, "state": state.map { Double($0) }]
        try JSONSerialization.data(withJSONObject: out).write(to: URL(fileURLWithPath: output))
    }
}

public enum DecoderBenchError: Error, CustomStringConvertible {
    case badInput(String)
    public var description: String {
        switch self { case .badInput(let s): return s }
    }
}

/// The machine's single-core FMA peak: a tight loop of independent 8-lane fused multiply-adds
/// (AVX2 + FMA on x86-64 with the release build's `-target-cpu haswell`), twelve accumulators so
/// that the FMA units never wait on a result. Returns GFLOP/s (2 FLOPs per lane per FMA): the
/// median of `repetitions` runs of about `seconds / repetitions` each.
public func measureFMAPeak(seconds: Double = 0.3, repetitions: Int = 5) -> Double {
    measurePeak(seconds: seconds, repetitions: repetitions, flopsPerIteration: 12 * 8 * 2) { fmaLoop(iterations: $0) }
}

/// The same measurement with 16-lane FMAs on zmm registers (`timbred_fma_loop_avx512`, C): the
/// peak the AVX-512 kernel of `DenseLayer` is bound by. 0 on a CPU without AVX-512F.
public func measureFMAPeakAVX512(seconds: Double = 0.3, repetitions: Int = 5) -> Double {
    guard timbred_avx512_available() != 0 else { return 0 }
    return measurePeak(seconds: seconds, repetitions: repetitions, flopsPerIteration: 12 * 16 * 2) {
        timbred_fma_loop_avx512($0)
    }
}

/// GFLOP/s of `loop` (the median of `repetitions` runs sized to `seconds` in all).
private func measurePeak(seconds: Double, repetitions: Int, flopsPerIteration: Int, _ loop: (Int) -> Int) -> Double {
    var n = 1 << 10, spent = 0.0
    while true {
        let start = DispatchTime.now().uptimeNanoseconds
        fmaLoopSink &+= loop(n)
        spent = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if spent > 0.01 { break }
        n *= 2
    }
    let iterations = max(1, Int(Double(n) * seconds / Double(max(1, repetitions)) / spent))
    var rates: [Double] = []
    for _ in 0..<max(1, repetitions) {
        let start = DispatchTime.now().uptimeNanoseconds
        fmaLoopSink &+= loop(iterations)
        let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        rates.append(Double(iterations * flopsPerIteration) / s / 1e9)
    }
    rates.sort()
    return rates[rates.count / 2]
}

/// Keeps the FMA loop's result alive.
nonisolated(unsafe) var fmaLoopSink: Int = 0

@inline(never)
func fmaLoop(iterations: Int) -> Int {
    let m = SIMD8<Float>(repeating: 0.999_999), c = SIMD8<Float>(repeating: 1e-6)
    var a0 = SIMD8<Float>(repeating: 0.1), a1 = a0 + 0.01, a2 = a0 + 0.02, a3 = a0 + 0.03
    var a4 = a0 + 0.04, a5 = a0 + 0.05, a6 = a0 + 0.06, a7 = a0 + 0.07
    var a8 = a0 + 0.08, a9 = a0 + 0.09, a10 = a0 + 0.10, a11 = a0 + 0.11
    for _ in 0..<iterations {
        a0 = c.addingProduct(a0, m); a1 = c.addingProduct(a1, m); a2 = c.addingProduct(a2, m)
        a3 = c.addingProduct(a3, m); a4 = c.addingProduct(a4, m); a5 = c.addingProduct(a5, m)
        a6 = c.addingProduct(a6, m); a7 = c.addingProduct(a7, m); a8 = c.addingProduct(a8, m)
        a9 = c.addingProduct(a9, m); a10 = c.addingProduct(a10, m); a11 = c.addingProduct(a11, m)
    }
    let s = (a0 + a1 + a2 + a3) + (a4 + a5 + a6 + a7) + (a8 + a9 + a10 + a11)
    return Int(s.sum() * 1000)
}

extension DecoderBench {
    /// The decoder's stages timed one by one at each batch size (the same public kernels the
    /// step runs, on the model's weights): µs per voice-frame and GFLOP/s of each, the median of
    /// 7 runs of 20 calls. Diagnostic for tuning the kernels (`TIMBRED_DECODER_PROFILE=1 timbred
    /// bench --decoder`); the stages overlap (the GRU step includes its two dense layers, the out
    /// MLP its first layer), and their sum is close to, not equal to, one whole step. The two
    /// "in L1" lines run layers small enough to stay in the L1 cache: the kernel's own speed.
    public func profileStages() -> String {
        let w = model.decoderWeights
        let maxBatch = batches.max() ?? 1
        let u = w.units, g = w.gruUnits
        let width = g + 4 * u
        var x = (0..<maxBatch * width).map { i in Float(sin(Double(i) * 0.731)) }
        var y = [Float](repeating: 0, count: maxBatch * 3 * g)
        var state = (0..<maxBatch * g).map { i in 0.5 * Float(sin(Double(i) * 0.37)) }
        var scratch = [Float](repeating: 0, count: maxBatch * 6 * g + maxBatch * 2 * width)
        let f0 = MLP(w.f0MLP), ld = MLP(w.loudnessMLP), zm = MLP(w.zMLP), nm = MLP(w.noteMLP)
        let gru = GRULayer(w.gru), outMLP = MLP(w.outMLP), out = DenseLayer(w.out)
        let ih = DenseLayer(w.gru.inputToHidden), hh = DenseLayer(w.gru.hiddenToHidden)
        let outMLP0 = DenseLayer(w.outMLP.layers[0].dense)
        let gamma = w.outMLP.layers[0].norm.gamma, beta = w.outMLP.layers[0].norm.beta
        // in-cache shapes: the kernel's own speed, weights and inputs in L1
        let l1 = DenseLayer(DenseWeights(inputCount: 128, outputCount: 16, weight: Array(w.gru.inputToHidden.weight[0..<2048]),
                                         bias: Array(w.gru.inputToHidden.bias[0..<16])))
        let l2 = DenseLayer(DenseWeights(inputCount: 128, outputCount: 96, weight: Array(w.gru.inputToHidden.weight[0..<12288]),
                                         bias: Array(w.gru.inputToHidden.bias[0..<96])))
        func time(_ body: () -> Void) -> Double {
            body()
            var reps: [Double] = []
            for _ in 0..<7 {
                let n = 20
                let start = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<n { body() }
                reps.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1000 / Double(n))
            }
            return reps.sorted()[reps.count / 2]
        }
        var lines = ["stage profile: us per voice-frame (GFLOP/s) at batch " + batches.map(String.init).joined(separator: "/")]
        func dense(_ d: DenseWeights) -> Int { d.inputCount * d.outputCount }
        func mlp(_ m: MLPWeights) -> Int { m.layers.reduce(0) { $0 + dense($1.dense) } }
        x.withUnsafeMutableBufferPointer { xb in
        y.withUnsafeMutableBufferPointer { yb in
        state.withUnsafeMutableBufferPointer { sb in
        scratch.withUnsafeMutableBufferPointer { wb in
            let xp = xb.baseAddress!, yp = yb.baseAddress!, sp = sb.baseAddress!, wp = wb.baseAddress!
            let stages: [(String, Int, (Int) -> Void)] = [
                ("input MLPs x4", mlp(w.f0MLP) + mlp(w.loudnessMLP) + mlp(w.zMLP) + mlp(w.noteMLP), { b in
                    f0.forward(batch: b, input: xp, inputStride: width, output: yp, outputStride: u, scratch: wp)
                    ld.forward(batch: b, input: xp, inputStride: width, output: yp, outputStride: u, scratch: wp)
                    zm.forward(batch: b, input: xp, inputStride: width, output: yp, outputStride: u, scratch: wp)
                    nm.forward(batch: b, input: xp, inputStride: width, output: yp, outputStride: u, scratch: wp)
                }),
                ("GRU dense ih", dense(w.gru.inputToHidden), { b in
                    ih.forward(batch: b, input: xp + g, inputStride: width, output: yp, outputStride: 3 * g)
                }),
                ("GRU dense hh", dense(w.gru.hiddenToHidden), { b in
                    hh.forward(batch: b, input: sp, inputStride: g, output: yp, outputStride: 3 * g)
                }),
                ("GRU step (all)", dense(w.gru.inputToHidden) + dense(w.gru.hiddenToHidden), { b in
                    gru.step(batch: b, input: xp + g, inputStride: width, state: sp, stateStride: g,
                             copy: nil, copyStride: 0, scratch: wp)
                }),
                ("out MLP", mlp(w.outMLP), { b in
                    outMLP.forward(batch: b, input: xp, inputStride: width, output: yp, outputStride: u, scratch: wp)
                }),
                ("out MLP dense 0", dense(w.outMLP.layers[0].dense), { b in
                    outMLP0.forward(batch: b, input: xp, inputStride: width, output: yp, outputStride: u)
                }),
                ("in L1: 128x16 x10", 10 * 128 * 16, { b in
                    for _ in 0..<10 { l1.forward(batch: b, input: xp, inputStride: width, output: yp, outputStride: 3 * g) }
                }),
                ("in L1: 128x96", 128 * 96, { b in
                    l2.forward(batch: b, input: xp, inputStride: width, output: yp, outputStride: 3 * g)
                }),
                ("layer norm x1", 0, { b in
                    Kernels.layerNormLeakyReLU(batch: b, rows: yp, stride: u, count: u, gamma: gamma, beta: beta,
                                               epsilon: 1e-5, slope: 0.2)
                }),
                ("out dense", dense(w.out), { b in
                    out.forward(batch: b, input: xp, inputStride: width, output: yp, outputStride: w.rawCount)
                }),
                ("control scaler", 0, { b in
                    let scaler = model.controlScaler, k = scaler.harmonicCount
                    for v in 0..<b {
                        scaler.scale(raw: xp + v * w.rawCount, f0Hz: 110 + 20 * Float(v), limitHz: 16000,
                                     harmonics: yp, noise: yp + k)
                    }
                }),
            ]
            for (name, macs, body) in stages {
                var line = name.padding(toLength: 19, withPad: " ", startingAt: 0)
                for b in batches {
                    let us = time { body(b) } / Double(b)
                    line += String(format: "  %7.2f", us)
                    if macs > 0 { line += String(format: " (%5.1f)", Double(2 * macs) / (us * 1e3)) } else { line += "        " }
                }
                lines.append(line)
            }
        }}}}
        return lines.joined(separator: "\n")
    }
}
