import CAllocCounter
import CRealtime
import DSP
import Engine
import MIDI
import Model
import TestSupport
import XCTest

/// The engine with attack transients (a model with `transient.*` tensors).
final class TransientEngineTests: XCTestCase {
    /// The small model with a transient table (bands from 177 Hz up, so the output stage's DC
    /// blocker leaves them be): instrument 0 strikes, louder with velocity; 1 and 2 have none.
    func smallModel(striking: Bool = true) throws -> TimbreModel {
        let m = try TimbreModel(contentsOf: Fixtures.smallModel)
        let t = TransientTable.frameCount, b = TransientTable.bandCount
        let p = m.config.envPitches.count, v = m.config.envVelocities.count
        var amplitude = [Float](repeating: 0, count: 3 * p * v * t * b)
        if striking {
            for pa in 0..<p {
                for va in 0..<v {
                    for f in 0..<t {
                        for band in 5..<b {
                            amplitude[(((0 * p + pa) * v + va) * t + f) * b + band] =
                                Float(0.02 * Double(va + 1) * exp(-Double(f) / 5) * (1 + 0.1 * Double(pa)))
                        }
                    }
                }
            }
        }
        let table = TransientTable(instrumentCount: 3, zDim: m.config.zDim, pitchAnchors: m.config.envPitches,
                                   velocityAnchors: m.config.envVelocities, amplitude: amplitude,
                                   latentMeans: m.latentMeans.flatMap { $0 }, blendScale: 0.5, blendRule: .inverseDistance)
        return m.with(transients: table)
    }

    func makeEngine(_ model: TimbreModel, block: Int = 64, instrument: Int = 0) -> Engine {
        makeTableTestEngine(model, block: block, instrument: instrument)
    }

    let events: [(Int, MIDIEvent)] = [(700, .noteOn(channel: 0, note: 57, velocity: 100)),
                                      (9_001, .noteOn(channel: 0, note: 64, velocity: 30)),
                                      (20_000, .noteOff(channel: 0, note: 57, velocity: 0)),
                                      (23_333, .noteOn(channel: 0, note: 72, velocity: 127))]

    func testEachNoteStartsWithItsTransientAndNothingElseChanges() throws {
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        let frames = 36_000
        let without = renderMono(makeEngine(plain), frames: frames, block: 64, events: events)
        let silentTable = renderMono(makeEngine(try smallModel(striking: false)), frames: frames, block: 64, events: events)
        XCTAssertEqual(without, silentTable, "a table of zeros plays exactly as a model without one")
        let otherInstrument = renderMono(makeEngine(try smallModel(), instrument: 1), frames: frames, block: 64, events: events)
        XCTAssertEqual(otherInstrument, renderMono(makeEngine(plain, instrument: 1), frames: frames, block: 64, events: events),
                       "a preset whose instrument has no transient plays none")

        let model = try smallModel()
        let with = renderMono(makeEngine(model), frames: frames, block: 64, events: events)
        let diff = zip(with, without).map { $0 - $1 }
        let table = try XCTUnwrap(model.transients)
        let bands = TransientBands(frameCount: TransientTable.frameCount, bandEdgesHz: TransientTable.bandEdgesHz,
                                   frameRateHz: TransientTable.frameRateHz, sampleRate: 48000)
        XCTAssertEqual(diff[..<700].map(abs).max(), 0, "nothing before the first note-on")
        var rms: [Double] = []
        for (start, note, velocity) in [(700, 57.0, 100.0), (9_001, 64, 30), (23_333, 72, 127)] {
            // the expected transient of this note, at the engine's gain
            let a = table.amplitudes(z: model.latentMeans[0], pitch: note, velocity: velocity)
            var expected = [Float](repeating: 0, count: bands.length)
            a.withUnsafeBufferPointer { ab in expected.withUnsafeMutableBufferPointer {
                bands.add(amplitudes: ab.baseAddress!, from: 0, count: bands.length, into: $0.baseAddress!) } }
            let gain = Float(dbToAmplitude(-20.0))
            let got = Array(diff[start ..< start + bands.length])
            let e = expected.map { $0 * gain }
            let energy = e.reduce(0.0) { $0 + Double($1 * $1) }
            let error = zip(got, e).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
            print("note \(note) velocity \(velocity): transient RMS \((energy / Double(e.count)).squareRoot()), "
                  + "residual against the expected \(10 * log10(error / energy)) dB")
            XCTAssertLessThan(error, 0.01 * energy, "note \(note): the transient is the table's (within -20 dB)")
            rms.append((energy / Double(e.count)).squareRoot())
        }
        XCTAssertGreaterThan(rms[2], rms[1] * 2, "velocity 127 strikes harder than velocity 30")
        // after the last transient only the DC blocker's tail of it is left
        let tail = diff[(23_333 + bands.length + 4_800)...].map(abs).max() ?? 0
        XCTAssertLessThan(tail, 1e-3 * (diff.map(abs).max() ?? 0))
    }

    func testTheBlockSizeDoesNotChangeTheTransients() throws {
        let model = try smallModel()
        let frames = 30_000
        let reference = renderMono(makeEngine(model, block: 512), frames: frames, block: 512, events: events)
        let peak = reference.map(abs).max() ?? 0
        XCTAssertGreaterThan(peak, 0.001)
        for block in [64, 333, 1024] {
            let x = renderMono(makeEngine(model, block: block), frames: frames, block: block, events: events)
            let worst = zip(x, reference).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-5 * peak, "\(block)-frame blocks differ from 512-frame blocks by \(worst)")
        }
    }

    /// 10 000 blocks of notes starting with transients, the timbre moving, allocate nothing.
    func testTransientsDoNotAllocate() throws {
        let model = try smallModel()
        let engine = makeEngine(model)
        let a = LatentPoint(model.latentMeans[0]), b1 = LatentPoint(model.latentMeans[1])
        // a note event every 5 blocks: many note starts, each blending its transient
        let allocations = allocationsWhileExercising(engine, eventEvery: 5) { b in
            b % 1000 == 300 ? .setTimbre(b % 2000 == 300 ? b1 : a) : nil
        }
        XCTAssertEqual(allocations, 0, "heap allocations while rendering 10 000 blocks with transients")
    }
}
