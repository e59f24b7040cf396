import DSP
import Foundation
import Model
import TestSupport
import Timbre
import XCTest

/// The Swift analysis against the trainer's, step by step, on three held-out notes (flute, piano,
/// low acoustic bass) of the fixture.
final class NoteAnalysisTests: XCTestCase {
    var model: TimbreModel!

    override func setUpWithError() throws {
        model = try TimbreModel(contentsOf: Fixtures.defaultModel)
    }

    func testEveryStepMatchesTheTrainer() throws {
        let config = model.config
        let rate = Double(config.sampleRate)
        for slot in 0..<3 {
            let ref = try ReferenceNote.load(slot)
            // onset trim: the same sample
            let onset = NoteAnalysis.onsetIndex(ref.audio, sampleRate: rate)
            XCTAssertEqual(max(0, onset - Int(0.005 * rate)), ref.trimStart, "note \(slot): onset")
            let trimmed = Array(ref.audio[ref.trimStart...])
            let frames = ref.f0Hz.count
            XCTAssertEqual(frames, (trimmed.count + config.hopSamples - 1) / config.hopSamples)
            // f0 at the nominal pitch: every frame within 0.5 cent
            let (f0, _) = NoteAnalysis.trackF0(trimmed, sampleRate: config.sampleRate, frameRate: config.frameRate,
                                               nominalHz: midiToHz(ref.pitch), frames: frames, searchSemitones: 1.5)
            let worstCents = zip(f0, ref.f0Hz).map { abs(cents(Double($0), Double($1))) }.max()!
            XCTAssertLessThan(worstCents, 0.5, "note \(slot): f0 track")
            // the wide-range tracker that finds the pitch of unnamed files
            let (wide, confidence) = NoteAnalysis.trackF0(trimmed, sampleRate: config.sampleRate, frameRate: config.frameRate,
                                                          nominalHz: 261.6, frames: frames, searchSemitones: 36)
            let agree = zip(wide, ref.wideF0Hz).filter { abs(cents(Double($0), Double($1))) < 1 }.count
            XCTAssertGreaterThan(Double(agree) / Double(frames), 0.97, "note \(slot): wide track")
            XCTAssertLessThan(zip(confidence, ref.wideConfidence).map { abs($0 - $1) }.max()!, 0.02)
            // loudness: within 0.02 dB wherever the note sounds
            let loudness = NoteAnalysis.loudnessDB(trimmed, sampleRate: config.sampleRate, frameRate: config.frameRate, frames: frames)
            let worstDB = zip(loudness, ref.loudnessDB).filter { $0.1 > -90 }.map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worstDB, 0.02, "note \(slot): loudness")
            // encoder features and the posterior
            let features = NoteAnalysis.encoderFeatures(trimmed, config: config, f0Hz: ref.f0Hz, loudnessDB: ref.loudnessDB)
            XCTAssertEqual(features.count, ref.features.count)
            let worstFeature = zip(features, ref.features).map { abs($0 - $1) }.max()!
            // (0.021 at 48 kHz: a near-empty bin's log; the posterior below agrees within 1e-3)
            XCTAssertLessThan(worstFeature, 0.03, "note \(slot): encoder features (log magnitude; float FFTs on both sides)")
            let (mu, logvar) = model.makeEncoder().encode(features: features)
            XCTAssertLessThan(zip(mu, ref.mu).map { abs($0 - $1) }.max()!, 1e-3, "note \(slot): mu")
            XCTAssertLessThan(zip(logvar, ref.logvar).map { abs($0 - $1) }.max()!, 1e-3, "note \(slot): logvar")
        }
    }

    func testWholeAnalysisOfAFileLandsNearItsInstrument() throws {
        let encoder = TimbreEncoder(model: model)
        let folder = Fixtures.temporaryFolder()
        for slot in 0..<3 {
            let ref = try ReferenceNote.load(slot)
            let path = folder + "/note\(slot).wav"
            try MonoAudio(samples: ref.audio, sampleRate: Double(model.config.sampleRate)).writeWAV(path: path)
            let encoded = try encoder.encode(path: path)  // pitch tracked: no pitch in the name
            XCTAssertEqual(encoded.note.nominalPitch, ref.pitch, "note \(slot): tracked pitch")
            XCTAssertLessThan(latentDistance(encoded.mu, ref.mu), 0.01, "note \(slot): same point as the trainer")
            let nearest = encoder.space.neighbours(of: encoded.mu)[0].instrument
            XCTAssertEqual(nearest, model.instrumentNames[ref.instrument], "note \(slot)")
        }
    }

    func testTheSameNoteAtOtherSampleRatesLandsAtTheSamePoint() throws {
        let encoder = TimbreEncoder(model: model)
        let spacing = encoder.space.typicalSpacing
        for slot in 0..<3 {
            let ref = try ReferenceNote.load(slot)
            let native = MonoAudio(samples: ref.audio, sampleRate: Double(model.config.sampleRate))
            let base = encoder.encode(note: try NoteAnalysis.analyse(native, config: model.config, path: "native"), path: "native")
            for rate in [44100.0, 48000.0] {
                let other = native.resampled(to: rate)
                let note = try NoteAnalysis.analyse(other, config: model.config, path: "\(rate)")
                let encoded = encoder.encode(note: note, path: "\(rate)")
                let d = latentDistance(encoded.mu, base.mu)
                XCTAssertLessThan(d, 0.05 * spacing, "note \(slot) at \(rate) Hz moved \(d) (spacing \(spacing))")
            }
        }
    }

    func testBadRecordingsGetOneClearError() throws {
        let folder = Fixtures.temporaryFolder()
        let rate = 44100.0
        func message(_ samples: [Float], _ name: String) throws -> String {
            let path = folder + "/" + name
            try MonoAudio(samples: samples, sampleRate: rate).writeWAV(path: path)
            do {
                _ = try TimbreEncoder(model: model).encode(path: path)
                return "accepted"
            } catch {
                return error.description
            }
        }
        let n = Int(2 * rate)
        XCTAssertTrue(try message([Float](repeating: 0, count: n), "silence.wav").contains("silence"))
        let loudSine = (0..<n).map { Float(1.3 * sin(2 * Double.pi * 440 * Double($0) / rate)) }
        XCTAssertTrue(try message(loudSine.map { min(max($0, -1), 1) }, "clipped.wav").contains("clipped"))
        var rng = SystemRandomNumberGenerator()
        let noise = (0..<n).map { _ in Float.random(in: -0.3...0.3, using: &rng) }
        let noiseMessage = try message(noise, "noise.wav")
        XCTAssertTrue(noiseMessage.contains("no pitched note"), noiseMessage)
        // a 4 s swell from -66 dBFS to -6 dBFS: nothing a player would call an onset
        let swell = (0..<(2 * n)).map { i -> Float in
            let t = Double(i) / Double(2 * n)
            return Float(0.5 * pow(10, -3 * (1 - t)) * sin(2 * Double.pi * 220 * Double(i) / rate))
        }
        XCTAssertTrue(try message(swell, "swell.wav").contains("no note onset"))
        let garbage = folder + "/garbage.wav"
        try Data("RIFF this is not audio".utf8).write(to: URL(fileURLWithPath: garbage))
        XCTAssertThrowsError(try MonoAudio.read(path: garbage)) { e in
            XCTAssertTrue("\(e)".hasPrefix(garbage + ": unreadable audio"), "\(e)")
        }
        XCTAssertThrowsError(try MonoAudio.read(path: folder + "/missing.flac"))
    }

    func testRefinementMatchesTheRecordingBetterThanWhereItStarted() throws {
        let encoder = TimbreEncoder(model: model)
        let ref = try ReferenceNote.load(1)  // piano
        let native = MonoAudio(samples: ref.audio, sampleRate: Double(model.config.sampleRate))
        let note = encoder.encode(note: try NoteAnalysis.analyse(native, config: model.config, path: "piano"), path: "piano")
        let sound = encoder.combine([note])
        let r = encoder.refine(sound, maxEvaluations: 16)
        XCTAssertLessThanOrEqual(r.evaluations, 16)
        XCTAssertLessThanOrEqual(r.refinedDistanceDB, min(r.encoderDistanceDB, r.nearestInstrumentDistanceDB) + 1e-9)
        // the measure tells instruments apart: the same note replayed at the flute's point is far worse
        let frames = min(note.note.f0Hz.count, 150)
        let flute = model.latentMeans[model.instrumentIndex(named: "flute")!]
        let y = Resynthesizer(model: model).render(f0Hz: Array(note.note.f0Hz.prefix(frames)),
                                                    loudnessDB: Array(note.note.loudnessDB.prefix(frames)), z: flute)
        let rate = Double(model.config.sampleRate)
        let fluteDB = MelProfile(y, sampleRate: rate, seconds: 1.5).distanceDB(to: MelProfile(note.note.samples, sampleRate: rate, seconds: 1.5))
        XCTAssertGreaterThan(fluteDB, r.refinedDistanceDB + 2, "\(r)")
        // the search stays in the known region: within 3/4 of the instrument spacing (plus what the
        // soft penalty lets through)
        XCTAssertLessThan(encoder.space.neighbours(of: r.latent)[0].distance, 1.0 * encoder.space.typicalSpacing)
    }

    func testMelProfileDistance() {
        let rate = 32000.0
        let t = (0..<64000).map { Double($0) / rate }
        let a = t.map { Float(0.3 * sin(2 * Double.pi * 440 * $0) + 0.1 * sin(2 * Double.pi * 1320 * $0)) }
        let quieter = a.map { $0 * 0.25 }
        let other = t.map { Float(0.3 * sin(2 * Double.pi * 880 * $0) + 0.1 * sin(2 * Double.pi * 3520 * $0)) }
        let pa = MelProfile(a, sampleRate: rate)
        XCTAssertEqual(pa.distanceDB(to: MelProfile(quieter, sampleRate: rate)), 0, accuracy: 1e-6, "level does not count")
        // the trainer's encode_check.log_mel_distance gives 20.185 dB for these two tones (float32)
        XCTAssertEqual(pa.distanceDB(to: MelProfile(other, sampleRate: rate)), 20.185, accuracy: 0.01)
        XCTAssertEqual(pa.bandsDB[0], -61.805, accuracy: 0.01, "the floor: 60 dB under the loudest band")
    }

    func testPitchFromFileNames() {
        XCTAssertEqual(NoteAnalysis.pitchFromName("C4"), 60)
        XCTAssertEqual(NoteAnalysis.pitchFromName("my-cello_f#3_loud"), 54)
        XCTAssertEqual(NoteAnalysis.pitchFromName("Bb2"), 46)
        XCTAssertEqual(NoteAnalysis.pitchFromName("violin_067_100"), 67)
        XCTAssertNil(NoteAnalysis.pitchFromName("recording"))
        XCTAssertNil(NoteAnalysis.pitchFromName("take2024"))
    }
}
