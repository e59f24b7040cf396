import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

/// The control smoothing (`controls.smooth_from_frame`, docs/model-format.md, "Control
/// smoothing"): from that frame on each voice plays the mean of each decoded frame and the one
/// before; before it, as decoded. The samples stay the same at every block size and with the
/// decode worker, and nothing is allocated.
final class ControlSmoothingEngineTests: XCTestCase {
    func makeEngine(_ model: TimbreModel, block: Int = 64, worker: Bool = false) -> Engine {
        var s = EngineSettings()
        s.sampleRate = 48000
        s.maxBlockFrames = block
        s.polyphony = 6
        s.decoderThread = worker
        return Engine(model: model, settings: s, timbre: model.latentMeans[0], gainDB: -20, reverbIR: [0, 0])
    }

    func smoothed(from frame: Int) throws -> TimbreModel {
        try TimbreModel(contentsOf: Fixtures.smallModel).with(controlSmoothingFromFrame: frame)
    }

    /// A held A4 plays as decoded until frame 9 starts (frame 9 ramps towards frame 10's
    /// smoothed controls), then differs; the smoothed note keeps the plain one's level within a
    /// dB over 0.2-1 s (a mean of neighbouring frames, not a gain).
    func testTheFramesBeforeTheFirstSmoothedOnePlayAsDecoded() throws {
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        let hop = Int((48000 / Double(plain.config.frameRate)).rounded())
        let note: [(Int, MIDIEvent)] = [(0, .noteOn(channel: 0, note: 69, velocity: 100))]
        let a = renderMono(makeEngine(plain), frames: 48_000, block: 64, events: note)
        let b = renderMono(makeEngine(try smoothed(from: 10)), frames: 48_000, block: 64, events: note)
        XCTAssertEqual(Array(a[0..<(9 * hop)]), Array(b[0..<(9 * hop)]), "the attack's frames play as decoded")
        XCTAssertGreaterThan(zip(a[(9 * hop)...], b[(9 * hop)...]).map { abs($0 - $1) }.max()!, 1e-6,
                             "the smoothing changes nothing after its first frame")
        func levelDB(_ x: [Float]) -> Double { 10 * log10(x[9600..<48_000].map { Double($0 * $0) }.reduce(0, +) + 1e-30) }
        XCTAssertEqual(levelDB(b), levelDB(a), accuracy: 1.0)
    }

    func testTheBlockSizeAndTheWorkerDoNotChangeTheSamples() throws {
        let model = try smoothed(from: 10)
        var events: [(Int, MIDIEvent)] = []
        for i in 0..<6 {
            events.append((300 + i * 5100, .noteOn(channel: 0, note: UInt8(50 + 5 * i), velocity: UInt8(60 + 10 * i))))
            events.append((12_000 + i * 5100, .noteOff(channel: 0, note: UInt8(50 + 5 * i), velocity: 0)))
        }
        events.sort { $0.0 < $1.0 }
        let reference = renderMono(makeEngine(model, block: 512), frames: 48_000, block: 512, events: events)
        let peak = reference.map { abs($0) }.max()!
        XCTAssertGreaterThan(peak, 0.01)
        for block in [64, 333, 1024] {
            let x = renderMono(makeEngine(model, block: block), frames: 48_000, block: block, events: events)
            XCTAssertLessThan(zip(x, reference).map { abs($0 - $1) }.max()!, 1e-5 * peak, "\(block)-frame blocks")
        }
        XCTAssertEqual(renderMono(makeEngine(model, worker: true), frames: 48_000, block: 64, events: events),
                       renderMono(makeEngine(model), frames: 48_000, block: 64, events: events))
    }

    /// 10 000 blocks of notes with the smoothing allocate nothing.
    func testTheSmoothingDoesNotAllocate() throws {
        XCTAssertEqual(allocationsWhileExercising(makeEngine(try smoothed(from: 3))), 0,
                       "heap allocations while rendering 10 000 blocks with the control smoothing")
    }
}
