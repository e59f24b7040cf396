import Foundation
import Inference
import Model
import TestSupport
import XCTest

/// The decoder and the control scaling against the PyTorch reference, frame by frame.
final class DecoderReferenceTests: XCTestCase {
    static let layerNames = ["decoder.f0_mlp", "decoder.ld_mlp", "decoder.z_mlp", "decoder.note_mlp", "decoder.gru",
                             "decoder.out_mlp", "decoder.raw", "note"]
    static let controlNames = ["controls.amplitude", "controls.distribution", "controls.harmonics", "controls.noise"]

    /// Worst errors per tensor over a run: scaled (|a-b| / max(1,|b|)) and relative (|a-b| / (|b| + 1e-6)).
    struct Errors {
        var scaled: [String: Double] = [:]
        var relative: [String: Double] = [:]

        mutating func add(_ name: String, _ mine: [Float], _ reference: [Float]) {
            scaled[name] = max(scaled[name] ?? 0, maxScaledError(mine, reference))
            relative[name] = max(relative[name] ?? 0, maxRelativeError(mine, reference))
        }

        func report(_ title: String) {
            print(title)
            for name in scaled.keys.sorted() {
                print("  \(name): scaled \(scaled[name]!), relative \(relative[name]!)")
            }
        }
    }

    /// Streams the reference inputs through `batch` voices, voice `target` carrying the reference
    /// z and the others `otherZ`, and compares voice `target` with every reference stage.
    func runAgainstReference(model: TimbreModel, reference: Reference, batch: Int, target: Int,
                             otherZ: (Int) -> [Float]) throws -> Errors {
        let decoder = model.makeDecoder(maxBatch: max(batch, 4))
        let scaler = model.controlScaler
        let f0 = try reference.values("f0_hz")
        let loudness = try reference.values("loudness_db")
        let zRef = try reference.values("z")
        let velocity = try reference.values("note.velocity")[0]
        let releaseFrame = Int(try reference.values("note.release_frame")[0])
        let frameRate = Float(model.config.frameRate)
        let frames = f0.count
        let k = model.config.harmonicCount, bands = model.config.noiseBandCount
        var z = [Float]()
        for v in 0..<batch { z += v == target ? zRef : otherZ(v) }
        var state = [Float](repeating: 0, count: batch * decoder.stateCount)
        var raw = [Float](repeating: 0, count: batch * decoder.rawCount)
        var harmonics = [Float](repeating: 0, count: k), noise = [Float](repeating: 0, count: bands)
        var distribution = [Float](repeating: 0, count: k)
        var errors = Errors()
        for n in 0..<frames {
            // the note input as the engine gives it: velocity, seconds since note-on, since note-off
            let sinceOff = n >= releaseFrame ? Float(n - releaseFrame) / frameRate : -1
            let note = Array([[velocity, Float(n) / frameRate, sinceOff]].joined())
            decoder.step(batch: batch, f0Hz: [Float](repeating: f0[n], count: batch),
                         loudnessDB: [Float](repeating: loudness[n], count: batch),
                         note: Array(repeatElement(note, count: batch).joined()), z: z, state: &state, raw: &raw)
            let layers = decoder.layerOutputs(voice: target)
            let myRaw = Array(raw[target * decoder.rawCount ..< (target + 1) * decoder.rawCount])
            errors.add("decoder.f0_mlp", layers.f0MLP, try reference.row("decoder.f0_mlp", n))
            errors.add("decoder.ld_mlp", layers.loudnessMLP, try reference.row("decoder.ld_mlp", n))
            errors.add("decoder.z_mlp", layers.zMLP, try reference.row("decoder.z_mlp", n))
            errors.add("decoder.note_mlp", layers.noteMLP, try reference.row("decoder.note_mlp", n))
            errors.add("note", layers.noteInput, try reference.row("note", n))
            errors.add("decoder.gru", layers.gru, try reference.row("decoder.gru", n))
            errors.add("decoder.out_mlp", layers.outMLP, try reference.row("decoder.out_mlp", n))
            errors.add("decoder.raw", myRaw, try reference.row("decoder.raw", n))
            XCTAssertEqual(Array(state[target * decoder.stateCount ..< (target + 1) * decoder.stateCount]), layers.gru)

            let amplitude = myRaw.withUnsafeBufferPointer { r in
                harmonics.withUnsafeMutableBufferPointer { h in
                    noise.withUnsafeMutableBufferPointer { nb in
                        distribution.withUnsafeMutableBufferPointer { d in
                            scaler.scale(raw: r.baseAddress!, f0Hz: f0[n], limitHz: scaler.bandLimitHz,
                                         harmonics: h.baseAddress!, noise: nb.baseAddress!, distribution: d.baseAddress!)
                        }
                    }
                }
            }
            errors.add("controls.amplitude", [amplitude], try reference.row("controls.amplitude", n))
            errors.add("controls.distribution", distribution, try reference.row("controls.distribution", n))
            errors.add("controls.harmonics", harmonics, try reference.row("controls.harmonics", n))
            errors.add("controls.noise", noise, try reference.row("controls.noise", n))
        }
        return errors
    }

    /// Every stage within `|a-b| ≤ 1e-4·max(1,|b|)`; the controls, which are small numbers
    /// (harmonic amplitudes ~1e-3), also within 1e-3 of their own size (`|a-b| ≤ 1e-3·(|b|+1e-6)`).
    /// Hidden activations near 0 (after layer norm and leaky ReLU) are held to the first bound only.
    func check(_ errors: Errors, scaledTolerance: Double = 1e-4, controlRelativeTolerance: Double = 1e-3,
               file: StaticString = #filePath, line: UInt = #line) {
        for name in Self.layerNames + Self.controlNames {
            guard let scaled = errors.scaled[name], let relative = errors.relative[name] else {
                XCTFail("\(name) not compared", file: file, line: line)
                continue
            }
            XCTAssertLessThanOrEqual(scaled, scaledTolerance, "\(name): max |a-b|/max(1,|b|)", file: file, line: line)
            if Self.controlNames.contains(name) {
                XCTAssertLessThanOrEqual(relative, controlRelativeTolerance, "\(name): max |a-b|/(|b|+1e-6)",
                                         file: file, line: line)
            }
        }
    }

    func testSmallModelStreamedOneVoice() throws {
        let model = try TimbreModel(contentsOf: Fixtures.smallModel)
        let reference = try Reference(Fixtures.smallReference)
        XCTAssertEqual(reference.shape("decoder.raw"), [50, 42])
        let errors = try runAgainstReference(model: model, reference: reference, batch: 1, target: 0) { _ in [] }
        errors.report("small model, 50 frames streamed, batch 1:")
        check(errors)
    }

    func testSmallModelStreamedInBatches() throws {
        let model = try TimbreModel(contentsOf: Fixtures.smallModel)
        let reference = try Reference(Fixtures.smallReference)
        let means = model.latentMeans
        // Every kernel path: blocks of 4, then 3, 2 or 1 rows; the reference voice first, inside, last.
        for batch in [2, 3, 4, 5, 6, 7, 9] {
            for target in Set([0, batch / 2, batch - 1]) {
                let errors = try runAgainstReference(model: model, reference: reference, batch: batch, target: target) { v in
                    means[v % means.count].map { $0 * Float(1 + v) * 0.5 }
                }
                if batch == 3 && target == 1 { errors.report("small model, 50 frames streamed, batch 3, voice 1:") }
                check(errors)
            }
        }
    }

    /// Voices in a batch do not interact: each voice equals the same voice run alone, bit for bit.
    func testBatchedVoicesAreIndependent() throws {
        let model = try TimbreModel(contentsOf: Fixtures.smallModel)
        let batch = 5
        let decoder = model.makeDecoder(maxBatch: batch)
        let single = model.makeDecoder(maxBatch: 1)
        let zDim = decoder.zDim, g = decoder.stateCount, r = decoder.rawCount
        var z = [Float](), f0 = [Float](), loudness = [Float](), note = [Float]()
        for v in 0..<batch {
            z += (0..<zDim).map { Float(v - 2) * 0.7 + Float($0) * 0.1 }
            f0.append(110 * Float(v + 1))
            loudness.append(-50 + 8 * Float(v))
            note += [20 + 25 * Float(v), 0.05 * Float(v), v % 2 == 0 ? -1 : 0.02 * Float(v)]
        }
        var state = [Float](repeating: 0, count: batch * g), raw = [Float](repeating: 0, count: batch * r)
        var states = [[Float]](repeating: [Float](repeating: 0, count: g), count: batch)
        var raws = [[Float]](repeating: [Float](repeating: 0, count: r), count: batch)
        for frame in 0..<20 {
            let wobble = Float(frame) * 0.01
            decoder.step(batch: batch, f0Hz: f0.map { $0 * (1 + wobble) }, loudnessDB: loudness, note: note, z: z,
                         state: &state, raw: &raw)
            for v in 0..<batch {
                single.step(batch: 1, f0Hz: [f0[v] * (1 + wobble)], loudnessDB: [loudness[v]],
                            note: Array(note[v * 3 ..< (v + 1) * 3]),
                            z: Array(z[v * zDim ..< (v + 1) * zDim]), state: &states[v], raw: &raws[v])
                XCTAssertEqual(Array(raw[v * r ..< (v + 1) * r]).map(\.bitPattern), raws[v].map(\.bitPattern))
                XCTAssertEqual(Array(state[v * g ..< (v + 1) * g]).map(\.bitPattern), states[v].map(\.bitPattern))
            }
        }
    }

    /// A voice's outputs are bit-identical whatever the batch size and its position in the batch
    /// (every output is the same sum in the same order: DenseLayer's notes), for every register
    /// block the kernels choose (1-4 voices, the two-tile block of a single voice, the narrow
    /// last tiles), so a decoder worker may batch voices however it likes.
    func testVoiceIsBitIdenticalAtAnyBatchSizeAndPosition() throws {
        var models = [try TimbreModel(contentsOf: Fixtures.smallModel)]
        if FileManager.default.fileExists(atPath: Fixtures.defaultModel) {
            models.append(try TimbreModel(contentsOf: Fixtures.defaultModel))
        }
        for (index, model) in models.enumerated() {
            let batches = index == 0 ? Array(1...13) + [17, 33] : [1, 2, 5, 8]
            let maxBatch = batches.max()!
            let decoder = model.makeDecoder(maxBatch: maxBatch)
            let zDim = decoder.zDim, g = decoder.stateCount, r = decoder.rawCount
            let means = model.latentMeans
            // voice v's inputs, the same wherever it sits
            func inputs(_ v: Int) -> (f0: Float, loudness: Float, note: [Float], z: [Float], state: [Float]) {
                (f0: 60 * Float(v % 11 + 1), loudness: -60 + 4 * Float(v % 13),
                 note: [Float(10 + (v * 17) % 117), 0.03 * Float(v % 7), v % 3 == 0 ? 0.04 : -1],
                 z: means[v % means.count].map { $0 * (1 + 0.1 * Float(v % 5)) },
                 state: (0..<g).map { 0.6 * Float(sin(Double($0 * (v + 3)) * 0.37)) })
            }
            func run(_ voices: [Int]) -> (raw: [[Float]], state: [[Float]]) {
                let b = voices.count
                var f0 = [Float](), loudness = [Float](), note = [Float](), z = [Float](), state = [Float]()
                for v in voices {
                    let i = inputs(v)
                    f0.append(i.f0); loudness.append(i.loudness); note += i.note; z += i.z; state += i.state
                }
                var raw = [Float](repeating: .nan, count: b * r)
                decoder.step(batch: b, f0Hz: f0, loudnessDB: loudness, note: note, z: z, state: &state, raw: &raw)
                return ((0..<b).map { Array(raw[$0 * r ..< ($0 + 1) * r]) },
                        (0..<b).map { Array(state[$0 * g ..< ($0 + 1) * g]) })
            }
            let target = 7
            let alone = run([target])
            for batch in batches {
                for position in Set([0, batch / 2, batch - 1]) {
                    var voices = (0..<batch).map { 100 + $0 }
                    voices[position] = target
                    let out = run(voices)
                    XCTAssertEqual(out.raw[position].map(\.bitPattern), alone.raw[0].map(\.bitPattern),
                                   "raw outputs, batch \(batch), position \(position)")
                    XCTAssertEqual(out.state[position].map(\.bitPattern), alone.state[0].map(\.bitPattern),
                                   "GRU state, batch \(batch), position \(position)")
                }
            }
        }
    }

    func testDefaultModelAgainstItsReference() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else {
            throw XCTSkip("models/default.safetensors is absent (the shipped model is exported later): skipped")
        }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let reference = try Reference(Fixtures.defaultReference)
        XCTAssertEqual(reference.shape("decoder.raw"), [reference.shape("f0_hz")[0], model.config.rawCount])
        let one = try runAgainstReference(model: model, reference: reference, batch: 1, target: 0) { _ in [] }
        one.report("default model, streamed, batch 1:")
        check(one)
        let means = model.latentMeans
        let three = try runAgainstReference(model: model, reference: reference, batch: 3, target: 1) { v in
            means[(v + 1) % means.count]
        }
        three.report("default model, streamed, batch 3, voice 1:")
        check(three)

        let encoder = model.makeEncoder()
        let (mu, logvar) = encoder.encode(features: try reference.values("encoder.input"))
        let muError = maxScaledError(mu, try reference.values("encoder.mu"))
        let logvarError = maxScaledError(logvar, try reference.values("encoder.logvar"))
        print("default model encoder: mu \(muError), logvar \(logvarError)")
        XCTAssertLessThanOrEqual(muError, 1e-4)
        XCTAssertLessThanOrEqual(logvarError, 1e-4)
    }
}
