import CAllocCounter
import CRealtime
import Engine
import MIDI
import Model
import TestSupport
import XCTest

/// The engine with stretched partials (a model with `inharmonicity.*` tensors).
final class InharmonicEngineTests: XCTestCase {
    /// The small model with a table: instrument 0 stretched (B rising with pitch), 1 and 2 harmonic.
    func smallModel(stretched: Bool = true) throws -> TimbreModel {
        let m = try TimbreModel(contentsOf: Fixtures.smallModel)
        let values = (0..<(3 * 128)).map { i -> Float in
            guard stretched && i < 128 else { return 0 }
            return Float(3e-4 * pow(2, Double(i - 60) / 12))
        }
        let table = InharmonicityTable(instrumentCount: 3, zDim: m.config.zDim, values: values,
                                       latentMeans: m.latentMeans.flatMap { $0 }, blendScale: 0.5)
        return m.with(inharmonicity: table)
    }

    func makeEngine(_ model: TimbreModel, block: Int = 64, instrument: Int = 0) -> Engine {
        makeTableTestEngine(model, block: block, instrument: instrument, linear: false)
    }

    let events: [(Int, MIDIEvent)] = [(700, .noteOn(channel: 0, note: 57, velocity: 100)),
                                      (9_001, .noteOn(channel: 0, note: 64, velocity: 70)),
                                      (9_001, .noteOn(channel: 0, note: 67, velocity: 70)),
                                      (20_000, .noteOff(channel: 0, note: 57, velocity: 0)),
                                      (23_333, .noteOn(channel: 0, note: 72, velocity: 110))]

    func testStretchedPartialsChangeTheSoundAndAZeroTableDoesNot() throws {
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        let harmonic = renderMono(makeEngine(plain), frames: 30_000, block: 64, events: events)
        let zeroTable = renderMono(makeEngine(try smallModel(stretched: false)), frames: 30_000, block: 64, events: events)
        XCTAssertEqual(harmonic, zeroTable, "a table of zeros plays exactly as a model without one")
        let atHarmonicInstrument = renderMono(makeEngine(try smallModel(), instrument: 1), frames: 30_000, block: 64,
                                              events: events)
        let plainAt1 = renderMono(makeEngine(plain, instrument: 1), frames: 30_000, block: 64, events: events)
        XCTAssertEqual(atHarmonicInstrument, plainAt1, "the harmonic instrument's preset plays harmonic")
        let stretched = renderMono(makeEngine(try smallModel()), frames: 30_000, block: 64, events: events)
        let difference = maxAbs(zip(stretched, harmonic).map { $0 - $1 })
        print("stretched against harmonic: max difference \(difference) (peak \(maxAbs(harmonic)))")
        XCTAssertGreaterThan(difference, 1e-3 * maxAbs(harmonic))
    }

    func testTheBlockSizeDoesNotChangeTheStretchedSound() throws {
        let model = try smallModel()
        let frames = 36_000
        let reference = renderMono(makeEngine(model, block: 512), frames: frames, block: 512, events: events)
        let peak = maxAbs(reference)
        XCTAssertGreaterThan(peak, 0.05)
        for block in [64, 333, 480, 1024] {
            let x = renderMono(makeEngine(model, block: block), frames: frames, block: block, events: events)
            let worst = maxAbs(zip(x, reference).map { $0 - $1 })
            XCTAssertLessThan(worst, 1e-5 * peak, "\(block)-frame blocks differ from 512-frame blocks by \(worst)")
        }
    }

    /// 10 000 blocks of stretched voices (the timbre moving between a stretched and a harmonic
    /// instrument, so B changes and notes enter the stretched path) allocate nothing.
    func testStretchedRenderDoesNotAllocate() throws {
        let model = try smallModel()
        let engine = makeEngine(model)
        let stretchedPoint = LatentPoint(model.latentMeans[0]), harmonicPoint = LatentPoint(model.latentMeans[1])
        let allocations = allocationsWhileExercising(engine) { b in
            b % 1000 == 300 ? .setTimbre(b % 2000 == 300 ? harmonicPoint : stretchedPoint) : nil
        }
        XCTAssertEqual(allocations, 0, "heap allocations while rendering 10 000 blocks of stretched voices")
    }

    private func maxAbs(_ x: [Float]) -> Float { x.reduce(0) { max($0, abs($1)) } }
}
