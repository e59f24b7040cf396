import DSP
import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

/// The engine with the noise's high-pass below the fundamental (`highpass.ratio`,
/// docs/model-format.md, "Noise below the fundamental"): a voice's noise loses what lies under
/// ratio × f0 and nothing above, the harmonics are untouched, and the samples stay the same at
/// every block size and with the decode worker, without allocating.
final class NoiseHighPassEngineTests: XCTestCase {
    /// The small model with instrument 0's noise high-passed at `ratio` × f0, the others not.
    func smallModel(ratio: Float = 1) throws -> TimbreModel {
        let m = try TimbreModel(contentsOf: Fixtures.smallModel)
        let n = m.config.instrumentCount
        var ratios = [Float](repeating: 0, count: n)
        ratios[0] = ratio
        let table = NoiseHighPassTable(instrumentCount: n, zDim: m.config.zDim, ratios: ratios,
                                       latentMeans: m.latentMeans.flatMap { $0 }, blendScale: 0.5,
                                       blendRule: .inverseDistance)
        return m.with(noiseHighPass: table)
    }

    func makeEngine(_ model: TimbreModel, instrument: Int = 0, block: Int = 64, worker: Bool = false) -> Engine {
        var s = EngineSettings()
        s.sampleRate = 48000
        s.maxBlockFrames = block
        s.polyphony = 6
        s.decoderThread = worker
        return Engine(model: model, settings: s, timbre: model.latentMeans[instrument], gainDB: -20, reverbIR: [0, 0])
    }

    /// Notes of several pitches, overlapping, some released.
    var events: [(Int, MIDIEvent)] {
        var ev: [(Int, MIDIEvent)] = []
        for i in 0..<8 {
            ev.append((300 + i * 4100, .noteOn(channel: 0, note: UInt8(45 + 5 * i), velocity: UInt8(60 + 8 * i))))
            ev.append((9000 + i * 4100, .noteOff(channel: 0, note: UInt8(45 + 5 * i), velocity: 0)))
        }
        return ev.sorted { $0.0 < $1.0 }
    }

    /// Power in dB of `x` (a Hann-windowed 16384-sample frame from `start`) between `lo` and `hi` Hz.
    func bandPowerDB(_ x: [Float], start: Int, lo: Double, hi: Double) -> Double {
        let n = 16384, fft = RealFFT(size: n)
        for i in 0..<n { fft.samples[i] = Float(0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))) * x[start + i] }
        fft.forward()
        var p = 0.0
        for b in Int(lo * Double(n) / 48000)...Int(hi * Double(n) / 48000) {
            p += Double(fft.spectrum[2 * b] * fft.spectrum[2 * b] + fft.spectrum[2 * b + 1] * fft.spectrum[2 * b + 1])
        }
        return 10 * log10(p + 1e-30)
    }

    /// An A4 held: the filtered model's noise under 0.5 f0 lies far below the unfiltered one's,
    /// and from twice f0 up the two agree within a fraction of a dB.
    func testTheNoiseUnderTheFundamentalIsCutAndTheRestKept() throws {
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        let note: [(Int, MIDIEvent)] = [(0, .noteOn(channel: 0, note: 69, velocity: 100))]
        let without = renderMono(makeEngine(plain), frames: 48_000, block: 64, events: note)
        let with = renderMono(makeEngine(try smallModel(ratio: 1)), frames: 48_000, block: 64, events: note)
        let low = (bandPowerDB(without, start: 24_000, lo: 40, hi: 180), bandPowerDB(with, start: 24_000, lo: 40, hi: 180))
        let high = (bandPowerDB(without, start: 24_000, lo: 900, hi: 8000), bandPowerDB(with, start: 24_000, lo: 900, hi: 8000))
        print("A4, 40-180 Hz: \(low.0) -> \(low.1) dB; 0.9-8 kHz: \(high.0) -> \(high.1) dB")
        XCTAssertLessThan(low.1, low.0 - 12, "the noise under the fundamental is not cut")
        XCTAssertEqual(high.1, high.0, accuracy: 0.3)
        // an instrument whose ratio is 0 plays exactly as without the table
        let plainAt1 = renderMono(makeEngine(plain, instrument: 1), frames: 20_000, block: 64, events: note)
        XCTAssertEqual(renderMono(makeEngine(try smallModel(), instrument: 1), frames: 20_000, block: 64, events: note),
                       plainAt1)
    }

    func testTheBlockSizeAndTheWorkerDoNotChangeTheSamples() throws {
        try checkBlocks(try smallModel(ratio: 0))
        try checkBlocks(try smallModel(ratio: 0.7))
    }

    func checkBlocks(_ model: TimbreModel) throws {
        let frames = 48_000
        let reference = renderMono(makeEngine(model, block: 512), frames: frames, block: 512, events: events)
        let peak = reference.map { abs($0) }.max()!
        XCTAssertGreaterThan(peak, 0.01)
        for block in [64, 333, 480, 1024] {
            let x = renderMono(makeEngine(model, block: block), frames: frames, block: block, events: events)
            let worst = zip(x, reference).map { abs($0 - $1) }.max()!
            if let first = x.indices.first(where: { abs(x[$0] - reference[$0]) > 1e-6 }) { print("block \(block): first difference at sample \(first)") }
            XCTAssertLessThan(worst, 1e-5 * peak, "\(block)-frame blocks differ from 512-frame blocks by \(worst)")
        }
        let off = renderMono(makeEngine(model), frames: frames, block: 64, events: events)
        XCTAssertEqual(renderMono(makeEngine(model, worker: true), frames: frames, block: 64, events: events), off)
    }

    /// 10 000 blocks with the high-pass, the timbre moving between a filtered and an unfiltered
    /// instrument, allocate nothing.
    func testTheHighPassDoesNotAllocate() throws {
        let model = try smallModel()
        let a = LatentPoint(model.latentMeans[0]), b = LatentPoint(model.latentMeans[1])
        let allocations = allocationsWhileExercising(makeEngine(model)) { i in
            i % 1000 == 300 ? .setTimbre(i % 2000 == 300 ? b : a) : nil
        }
        XCTAssertEqual(allocations, 0, "heap allocations while rendering 10 000 blocks with the noise's high-pass")
    }

    /// The shipped model high-passes the flute's and the oboe's breath under their fundamentals
    /// and leaves the piano's and the violin's low noise (the hammer's thump, the bow) alone, as
    /// `timbred-train highpass` measured on the training notes (TRAINING.md, session 20).
    func testTheShippedModelCutsTheWindsNoiseNotThePianos() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let table = try XCTUnwrap(model.noiseHighPass, "the shipped model has no noise high-pass (timbred-train highpass)")
        func ratio(_ name: String) throws -> Double {
            table.ratio(z: model.latentMeans[try XCTUnwrap(model.instrumentIndex(named: name))])
        }
        print("shipped noise high-pass: flute \(try ratio("flute")), oboe \(try ratio("oboe")), piano \(try ratio("piano")), violin \(try ratio("violin"))")
        XCTAssertGreaterThanOrEqual(try ratio("flute"), 0.3)
        XCTAssertGreaterThanOrEqual(try ratio("oboe"), 0.3)
        XCTAssertLessThan(try ratio("piano"), 0.1)
        XCTAssertLessThan(try ratio("violin"), 0.1)
    }

    /// A timbre just off the piano toward the violin (the first tenth of a morph's turn) gives
    /// the flute, oboe and brass a blend weight of about 1e-5, so a cutoff of a few mHz: the held
    /// A4 decays as the piano's does. In single precision that filter grew the noise into
    /// full-scale DC within a second (session 24, found by turning the morph knob).
    func testATimbreNextToAnUnfilteredInstrumentStaysQuiet() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        guard let piano = model.instrumentIndex(named: "piano"), let violin = model.instrumentIndex(named: "violin") else {
            throw XCTSkip("the model has no piano or violin")
        }
        let a = model.latentMeans[piano], b = model.latentMeans[violin]
        for g: Float in [0.025, 0.075] {
            var s = EngineSettings()
            s.sampleRate = 48000
            s.maxBlockFrames = 512
            s.polyphony = 2
            let e = Engine(model: model, settings: s, timbre: zip(a, b).map { $0 + g * ($1 - $0) }, gainDB: 0)
            _ = e.commands.push(.setReverbMix(0))
            let x = renderMono(e, frames: 2 * 48000, block: 512, events: [(0, .noteOn(channel: 0, note: 69, velocity: 100))])
            func peak(_ r: Range<Int>) -> Float { x[r].map { abs($0) }.max()! }
            let start = peak(0..<24000), end = peak(72000..<96000)
            XCTAssertLessThan(end, start * 0.5, "g \(g): the held A4 grows (peak \(start) over the first 0.5 s, \(end) over the last)")
            let mean = x[72000..<96000].reduce(0, +) / 24000
            XCTAssertLessThan(abs(mean), 0.01, "g \(g): DC \(mean) over the last 0.5 s")
        }
    }
}
