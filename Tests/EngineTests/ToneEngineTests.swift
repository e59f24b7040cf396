import DSP
import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

/// The engine with a tone balance (a model with `tone.*` tensors): each band moves by the table's
/// gain, the onset course shapes the first 400 ms, and nothing allocates.
final class ToneEngineTests: XCTestCase {
    /// Band 20 (4 kHz) of the table and its two neighbours, raised for instrument 0 (so the gain
    /// is flat across band 20).
    let raisedBand = 20
    let raisedDB: Float = 12
    /// The onset course of instrument 0: `onsetDB` over its first 10 frames (100 ms), then 0.
    let onsetDB: Float = -20

    /// The small model with a tone table: instrument 0 raised around 4 kHz and held down over its
    /// first 100 ms; the others flat. `zeros`: a table of zeros. `strike`: every instrument strikes
    /// with half the balance and its noise 6 dB down. `topDB`: every key's strike top.
    func smallModel(zeros: Bool = false, strike: Bool = false, topDB: Float = 0) throws -> TimbreModel {
        let m = try TimbreModel(contentsOf: Fixtures.smallModel)
        let b = ToneTable.bandCount, t = ToneTable.onsetFrameCountInFiles
        let cells = m.config.instrumentCount * m.config.envPitches.count * m.config.envVelocities.count
        var gain = [Float](repeating: 0, count: cells * b), onset = [Float](repeating: 0, count: cells * t)
        let perInstrument = cells / m.config.instrumentCount
        if !zeros {
            for c in 0..<perInstrument {  // instrument 0's cells come first
                for band in raisedBand - 1 ... raisedBand + 1 { gain[c * b + band] = raisedDB }
                for f in 0..<10 { onset[c * t + f] = onsetDB }
            }
        }
        let table = ToneTable(instrumentCount: m.config.instrumentCount, zDim: m.config.zDim,
                              pitchAnchors: m.config.envPitches, velocityAnchors: m.config.envVelocities,
                              gainDB: gain, onsetDB: onset, onsetFrameRateHz: Double(m.config.frameRate),
                              strikeFraction: strike ? Array(repeating: 0.5, count: m.config.instrumentCount) : [],
                              strikeNoiseDB: strike ? Array(repeating: -6, count: m.config.instrumentCount) : [],
                              strikeTopDB: topDB == 0 ? [] : Array(repeating: topDB, count: cells),
                              latentMeans: m.latentMeans.flatMap { $0 }, blendScale: 0.5, blendRule: .inverseDistance)
        return m.with(tone: table)
    }

    func makeEngine(_ model: TimbreModel, block: Int = 64, instrument: Int = 0) -> Engine {
        makeTableTestEngine(model, block: block, instrument: instrument, polyphony: 4)
    }

    /// One note, A4 at velocity 100, from sample 480.
    let events: [(Int, MIDIEvent)] = [(480, .noteOn(channel: 0, note: 69, velocity: 100))]

    /// Power in the 1/3-octave band centred on `centreHz` of `x[range]` (Hann window).
    func bandPower(_ x: [Float], _ range: Range<Int>, centreHz: Double) -> Double {
        let n = 1 << Int(log2(Double(range.count)))
        let fft = RealFFT(size: n)
        for i in 0..<n {
            fft.samples[i] = Float(0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))) * x[range.lowerBound + i]
        }
        fft.forward()
        var sum = 0.0
        for k in 0..<fft.binCount {
            let hz = Double(k) * 48000 / Double(n)
            guard hz >= centreHz * pow(2, -1.0 / 6), hz < centreHz * pow(2, 1.0 / 6) else { continue }
            sum += Double(fft.spectrum[2 * k] * fft.spectrum[2 * k] + fft.spectrum[2 * k + 1] * fft.spectrum[2 * k + 1])
        }
        return sum
    }

    func rmsDB(_ x: [Float], _ range: Range<Int>) -> Double {
        10 * log10(x[range].reduce(0.0) { $0 + Double($1 * $1) } / Double(range.count) + 1e-30)
    }

    func testEachBandMovesByTheTablesGainAndTheOnsetShapesTheStart() throws {
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        let frames = 48_000
        let without = renderMono(makeEngine(plain), frames: frames, block: 64, events: events)
        XCTAssertEqual(renderMono(makeEngine(try smallModel(zeros: true)), frames: frames, block: 64, events: events),
                       without, "a table of zeros plays exactly as a model without one")
        XCTAssertEqual(renderMono(makeEngine(try smallModel(), instrument: 1), frames: frames, block: 64, events: events),
                       renderMono(makeEngine(plain, instrument: 1), frames: frames, block: 64, events: events),
                       "a preset whose instrument's balance is flat plays as without one")
        let with = renderMono(makeEngine(try smallModel()), frames: frames, block: 64, events: events)
        let held = 24_000 ..< 48_000
        let centre = 1000 * pow(2, Double(raisedBand - 14) / 3)
        let raised = 10 * log10(bandPower(with, held, centreHz: centre) / bandPower(without, held, centreHz: centre))
        let untouched = 10 * log10(bandPower(with, held, centreHz: 500) / bandPower(without, held, centreHz: 500))
        let start = 480 + 960 ..< 480 + 3360  // 20-70 ms after note-on
        // the onset course against the balance the note settles to (the raised band adds to its level)
        let later = 480 + 7200 ..< 480 + 12_000  // 150-250 ms
        let onset = (rmsDB(with, start) - rmsDB(without, start)) - (rmsDB(with, later) - rmsDB(without, later))
        print("tone balance through the engine: 4 kHz band \(raised) dB (table \(raisedDB)), 500 Hz \(untouched) dB, "
              + "20-70 ms \(onset) dB (table \(onsetDB))")
        XCTAssertEqual(raised, Double(raisedDB), accuracy: 1.0)
        XCTAssertEqual(untouched, 0, accuracy: 0.5)
        XCTAssertEqual(onset, Double(onsetDB), accuracy: 0.5)
    }

    /// The shipped model's electric piano at C#2 (key 37, 69.3 Hz), held 3 s: nothing between its
    /// first two partials (89-112 Hz; FluidR3's lies 91 dB under the note there). Its onset course
    /// was measured over 10 ms frames, 0.69 of the note's period, so each frame's level rippled with
    /// where the frame fell in the period; the course, recording over model, swung by several dB from
    /// frame to frame, a 25-50 Hz buzz over the first 600 ms that put that band 44.7 dB under the note.
    /// Measured over whole periods (`tone.onset_window`), the course is smooth there.
    func testTheShippedLowElectricPianoHasNoBuzzBetweenItsPartials() throws {
        let db = try shippedHeldBandShareDB("electric_piano", note: 37, fromHz: 89, toHz: 112)
        print(String(format: "shipped electric piano C#2: 89-112 Hz at %.1f dB of the note", db))
        XCTAssertLessThan(db, -60)
    }

    /// The shipped model's electric piano strikes with its noise 3 dB down at the note-on
    /// (`tone.strike_noise_db`, back to the decoder's own at 120 ms): its first 20 ms came out 7 dB
    /// brighter above 6 kHz than FluidR3's, the noise's doing. Against the same model without the
    /// tensor, the C4's first 20 ms are darker above 6 kHz by over 1 dB and as loud. (Until session
    /// 26 the vibraphone's was −3 dB too; measured again on session 26's balance, 0 dB lies within
    /// 0.3 dB of the least error, 5.8 against 5.5, and the rule takes the gain nearest 0.)
    func testTheShippedElectricPianoStrikesWithLessNoise() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let shipped = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let t = try XCTUnwrap(shipped.tone)
        let i = try XCTUnwrap(shipped.instrumentIndex(named: "electric_piano"))
        guard t.strikeNoiseDB.count == shipped.config.instrumentCount else {
            return XCTFail("the shipped model has no tone.strike_noise_db (timbred-train tone --strike)")
        }
        XCTAssertLessThan(t.strikeNoiseDB[i], 0)
        let without = ToneTable(instrumentCount: t.instrumentCount, zDim: t.zDim, pitchAnchors: t.pitchAnchors,
                                velocityAnchors: t.velocityAnchors, gainDB: t.gainDB, onsetDB: t.onsetDB,
                                onsetPitchAnchors: t.onsetPitchAnchors, onsetFrameRateHz: t.onsetFrameRateHz,
                                courseSeconds: t.courseSeconds, courseDB: t.courseDB,
                                gainVelocityAnchors: t.gainVelocityAnchors, gainPitchAnchors: t.gainPitchAnchors,
                                courseOnGainVelocities: t.courseVelocityAnchors == t.gainVelocityAnchors
                                    && t.gainVelocityAnchors != t.velocityAnchors,
                                strikeFraction: t.strikeFraction, latentMeans: t.latentMeans,
                                blendScale: t.blendScale, blendRule: t.blendRule)
        /// (power above 6 kHz over all, dB; level dB) of the C4's first 20 ms, and its first 100 ms' level
        func strike(_ model: TimbreModel) -> (Double, Double) {
            let e = makeTableTestEngine(model, block: 64, instrument: i, polyphony: 2)
            let x = renderMono(e, frames: 9600, block: 64, events: [(0, .noteOn(channel: 0, note: 60, velocity: 100))])
            let peak = x.map { abs($0) }.max() ?? 0
            let onset = x.firstIndex { abs($0) > 0.01 * peak } ?? 0
            // as `playing.strike_db`: one Hann window over the 20 ms, zero-padded to 4096
            let high = bandShareDB(x, fromHz: 6000, toHz: 24001, start: onset, n: 960, fftSize: 4096)
            return (high, rmsDB(x, onset ..< onset + 4800))
        }
        let (struck, level) = strike(shipped), (plain, plainLevel) = strike(shipped.with(tone: without))
        print(String(format: "shipped electric piano C4, first 20 ms above 6 kHz: %.1f dB (without the noise gain %.1f); first 100 ms %+.2f dB",
                     struck, plain, level - plainLevel))
        XCTAssertLessThan(struck, plain - 1)
        XCTAssertEqual(level, plainLevel, accuracy: 0.5)
    }

    /// A strike top of −12 dB on every key (`tone.strike_top_db`) takes about that much (−12 dB at
    /// the note-on, −10 dB at 20 ms) off the note's first 20 ms above 6.3 kHz, leaves them as they
    /// were under 5 kHz, and the note from 120 ms on as it was.
    func testTheStrikeTopDarkensTheFirst20MillisecondsAboveSixKilohertz() throws {
        let note: [(Int, MIDIEvent)] = [(0, .noteOn(channel: 0, note: 81, velocity: 100))]
        let plain = renderMono(makeEngine(try smallModel(zeros: true)), frames: 19_200, block: 64, events: note)
        let topped = renderMono(makeEngine(try smallModel(zeros: true, topDB: -12)), frames: 19_200, block: 64, events: note)
        let peak = plain.map { abs($0) }.max() ?? 0
        let onset = plain.firstIndex { abs($0) > 0.01 * peak } ?? 0
        /// Power of the first 20 ms between two frequencies, dB (their share plus their level).
        func power(_ x: [Float], _ lo: Double, _ hi: Double) -> Double {
            bandShareDB(x, fromHz: lo, toHz: hi, start: onset, n: 960, fftSize: 4096) + rmsDB(x, onset ..< onset + 960)
        }
        let high = power(topped, 6300, 24001) - power(plain, 6300, 24001)
        let low = power(topped, 0, 5000) - power(plain, 0, 5000)
        print(String(format: "first 20 ms with a -12 dB strike top: above 6.3 kHz %+.1f dB, under 5 kHz %+.2f dB", high, low))
        XCTAssertEqual(high, -11, accuracy: 1.5)
        XCTAssertEqual(low, 0, accuracy: 0.5)
        XCTAssertEqual(rmsDB(topped, 7200 ..< 19_200), rmsDB(plain, 7200 ..< 19_200), accuracy: 0.05)
    }

    /// 10 000 blocks of notes with a tone balance (a strike's share, noise gain and top included),
    /// the timbre moving, allocate nothing.
    func testToneBalanceDoesNotAllocate() throws {
        let model = try smallModel(strike: true, topDB: -9)
        let engine = makeEngine(model)
        let a = LatentPoint(model.latentMeans[0]), b1 = LatentPoint(model.latentMeans[1])
        let allocations = allocationsWhileExercising(engine, eventEvery: 5) { b in
            b % 1000 == 300 ? .setTimbre(b % 2000 == 300 ? b1 : a) : nil
        }
        XCTAssertEqual(allocations, 0, "heap allocations while rendering 10 000 blocks with a tone balance")
    }
}
