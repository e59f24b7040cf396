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

    /// The small model whose instrument 0 is tuned `cents(key)` (instrument 1 and 2 equal), with
    /// no stretch (B = 0 everywhere), so the fundamental is the tuned key's.
    func tunedModel(_ cents: (Int) -> Float) throws -> TimbreModel {
        let m = try TimbreModel(contentsOf: Fixtures.smallModel)
        let tuning = (0..<(3 * 128)).map { i -> Float in i < 128 ? cents(i) : 0 }
        let table = InharmonicityTable(instrumentCount: 3, zDim: m.config.zDim, values: [Float](repeating: 0, count: 3 * 128),
                                       latentMeans: m.latentMeans.flatMap { $0 }, blendScale: 0.5, tuningCents: tuning)
        return m.with(inharmonicity: table)
    }

    /// A stretch tuning moves each key's pitch by its cents at the tuned instrument's point and
    /// not at an equal-tempered one's; the decoder, the oscillators and the pitch measure agree.
    func testAStretchTuningMovesEachKeyByItsCents() throws {
        let model = try tunedModel { key in Float(key - 60) }  // 1 cent per key above middle C
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        for (key, cents) in [(45, -15.0), (81, 21.0)] {
            let note: [(Int, MIDIEvent)] = [(0, .noteOn(channel: 0, note: UInt8(key), velocity: 100))]
            let tuned = renderMono(makeEngine(model), frames: 48_000, block: 64, events: note)
            let equal = renderMono(makeEngine(plain), frames: 48_000, block: 64, events: note)
            let got = PitchMeasure.pitch(tuned, sampleRate: 48000, guess: Double(key), fromSeconds: 0.3, seconds: 0.6)
            let reference = PitchMeasure.pitch(equal, sampleRate: 48000, guess: Double(key), fromSeconds: 0.3, seconds: 0.6)
            // the table's own answer at the preset (its neighbours' weights there are not quite 0)
            let expected = try XCTUnwrap(model.inharmonicity).tuningSemitones(z: model.latentMeans[0], key: Double(key)) * 100
            print("key \(key): tuned \(got), equal \(reference), the table at the preset \(expected) cents")
            XCTAssertEqual(expected, cents, accuracy: 0.5)
            XCTAssertEqual((got - Double(key)) * 100, expected, accuracy: 0.1, "key \(key)")
            XCTAssertEqual((reference - Double(key)) * 100, 0, accuracy: 0.5, "key \(key) at equal temperament")
            let other = renderMono(makeEngine(model, instrument: 1), frames: 48_000, block: 64, events: note)
            XCTAssertEqual(other, renderMono(makeEngine(plain, instrument: 1), frames: 48_000, block: 64, events: note),
                           "an instrument without its own tuning plays equal temperament")
        }
        // a table of zeros plays exactly as none
        let zero = renderMono(makeEngine(try tunedModel { _ in 0 }), frames: 30_000, block: 64, events: events)
        XCTAssertEqual(zero, renderMono(makeEngine(plain), frames: 30_000, block: 64, events: events))
    }

    func testATunedRenderDoesNotAllocate() throws {
        let model = try tunedModel { key in Float(key - 60) / 2 }
        let engine = makeEngine(model)
        let tunedPoint = LatentPoint(model.latentMeans[0]), plainPoint = LatentPoint(model.latentMeans[1])
        let allocations = allocationsWhileExercising(engine) { b in
            b % 1000 == 300 ? .setTimbre(b % 2000 == 300 ? plainPoint : tunedPoint) : nil
        }
        XCTAssertEqual(allocations, 0, "heap allocations while rendering 10 000 blocks of tuned voices")
    }

    private func maxAbs(_ x: [Float]) -> Float { x.reduce(0) { max($0, abs($1)) } }
}
