#if canImport(CAllocCounter)
import CAllocCounter
import Inference
import Model
import TestSupport
import XCTest

/// The real-time entry points of Inference and Model allocate nothing once built: the decoder
/// step at every batch size, the control scaling, the envelope blend and lookup.
/// (Active when the test target depends on CAllocCounter.)
final class RealtimeAllocationTests: XCTestCase {
    func testRealtimePathsDoNotAllocate() throws {
        let model = try TimbreModel(contentsOf: Fixtures.smallModel)
        let maxBatch = 9
        let decoder = model.makeDecoder(maxBatch: maxBatch)
        let scaler = model.controlScaler
        let envelopes = model.envelopes
        let zDim = decoder.zDim
        var f0 = (0..<maxBatch).map { 100 * Float($0 + 1) }
        var loudness = [Float](repeating: -30, count: maxBatch)
        var z = [Float](repeating: 0.3, count: maxBatch * zDim)
        var note = [Float](repeating: 0.25, count: maxBatch * Decoder.noteStride)
        var state = [Float](repeating: 0, count: maxBatch * decoder.stateCount)
        var raw = [Float](repeating: 0, count: maxBatch * decoder.rawCount)
        var harmonics = [Float](repeating: 0, count: scaler.harmonicCount)
        var noise = [Float](repeating: 0, count: scaler.noiseBandCount)
        var weights = [Float](repeating: 0, count: envelopes.instrumentCount)
        var sink: Double = 0
        f0.withUnsafeMutableBufferPointer { f0 in
        loudness.withUnsafeMutableBufferPointer { loudness in
        z.withUnsafeMutableBufferPointer { z in
        note.withUnsafeMutableBufferPointer { note in
        state.withUnsafeMutableBufferPointer { state in
        raw.withUnsafeMutableBufferPointer { raw in
        harmonics.withUnsafeMutableBufferPointer { harmonics in
        noise.withUnsafeMutableBufferPointer { noise in
        weights.withUnsafeMutableBufferPointer { weights in
            func run() {
                for batch in 0...maxBatch {
                    decoder.step(batch: batch, f0Hz: f0.baseAddress!, loudnessDB: loudness.baseAddress!,
                                 note: note.baseAddress!, z: z.baseAddress!, state: state.baseAddress!, raw: raw.baseAddress!)
                    for v in 0..<batch {
                        sink += Double(scaler.scale(raw: raw.baseAddress! + v * decoder.rawCount, f0Hz: f0[v],
                                                    limitHz: 16000, harmonics: harmonics.baseAddress!,
                                                    noise: noise.baseAddress!))
                    }
                    envelopes.blendWeights(z: z.baseAddress!, into: weights.baseAddress!)
                    sink += envelopes.loudnessDB(pitch: 61.5, velocity: 90, secondsSinceNoteOn: Double(batch) * 0.1,
                                                 noteOffAtSeconds: batch % 2 == 0 ? nil : 0.35, weights: weights.baseAddress!)
                }
            }
            run()  // warm up (first use of generic metadata may allocate)
            let before = timbred_alloc_count_thread()
            for _ in 0..<200 { run() }
            let after = timbred_alloc_count_thread()
            XCTAssertEqual(after - before, 0, "allocations in the real-time paths")
        }}}}}}}}}
        XCTAssertTrue(sink.isFinite)
    }

    func testArrayFormsDoNotAllocate() throws {
        let model = try TimbreModel(contentsOf: Fixtures.smallModel)
        let decoder = model.makeDecoder(maxBatch: 3)
        let envelopes = model.envelopes
        let f0: [Float] = [100, 200, 300], loudness: [Float] = [-20, -30, -40]
        let note: [Float] = [100, 0.1, -1, 64, 0.5, 0.2, 1, 0, -1]
        let z = [Float](repeating: 0.1, count: 3 * decoder.zDim)
        var state = [Float](repeating: 0, count: 3 * decoder.stateCount)
        var raw = [Float](repeating: 0, count: 3 * decoder.rawCount)
        var weights = [Float](repeating: 0, count: envelopes.instrumentCount)
        var sink: Double = 0
        func run() {
            decoder.step(batch: 3, f0Hz: f0, loudnessDB: loudness, note: note, z: z, state: &state, raw: &raw)
            envelopes.blendWeights(z: z, into: &weights)
            sink += envelopes.loudnessDB(pitch: 50, velocity: 100, secondsSinceNoteOn: 0.2, noteOffAtSeconds: nil,
                                         weights: weights)
        }
        run()
        let before = timbred_alloc_count_thread()
        for _ in 0..<100 { run() }
        XCTAssertEqual(timbred_alloc_count_thread() - before, 0, "allocations in the array forms")
        XCTAssertTrue(sink.isFinite)
    }
}
#endif
