// Tunings offline (issue 16): Scala .scl/.kbm files (parsed, refused with one line, played by
// `timbred render`'s renderer) and MIDI files carrying MIDI Tuning Standard and master tuning
// SysEx, measured in cents on the rendered audio of the shipped flute.
import Control
import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

final class TuningFileTests: XCTestCase {
    let rate = 48000.0
    var folder = ""
    var presets: String { Fixtures.repository.appendingPathComponent("presets").path }

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "timbred-tuning-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = folder + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// 5-limit just intonation, 12 notes, as Scala writes it.
    static let just = """
    ! just.scl
    !
    12-tone 5-limit just intonation
     12
    !
     16/15
     9/8
     6/5
     5/4
     4/3
     45/32
     3/2
     8/5
     5/3
     9/5
     15/8
     2/1
    """
    static let justCents: [Double] = [0, 111.731, 203.910, 315.641, 386.314, 498.045, 590.224, 701.955, 813.686, 884.359, 1017.596, 1088.269]

    static let edo19: String = "19 equal divisions of the octave\n19\n" + (1...19).map { String(format: "%.5f", Double($0) * 1200 / 19) }.joined(separator: "\n")

    // MARK: - parsing

    func testJustIntonationSclRetunesFromMiddleC() throws {
        let t = try ScalaTuning(sclPath: try write("just.scl", Self.just))
        XCTAssertEqual(t.description, "12-tone 5-limit just intonation")
        XCTAssertEqual(t.cents.count, 12)
        for key in 36..<96 {
            let expected = Double((key - 60 + 120) / 12 - 10) * 12 + 60 + Self.justCents[(key - 60 + 120) % 12] / 100
            XCTAssertEqual(t.keyPitches[key], expected, accuracy: 1e-5, "key \(key)")
        }
        XCTAssertEqual(t.keyPitches[60], 60, accuracy: 1e-12)
    }

    func testEDO19WithAKeyboardMappingReferencedToA440() throws {
        let scl = try write("19edo.scl", Self.edo19)
        let kbm = try write("a440.kbm", "! linear, degree 0 on 69 = 440 Hz\n0\n0\n127\n69\n69\n440.0\n0\n")
        let t = try ScalaTuning(sclPath: scl, kbmPath: kbm)
        for key in 0..<128 { XCTAssertEqual(t.keyPitches[key], 69 + Double(key - 69) * 12 / 19, accuracy: 1e-5, "key \(key)") }
        // the setting form, relative to the config file's folder
        let viaSetting = try ScalaTuning.load(setting: "19edo.scl, a440.kbm", relativeTo: folder)
        XCTAssertEqual(viaSetting, t)
        XCTAssertNil(try ScalaTuning.load(setting: "  "))
    }

    /// A 7-key map (white keys only) with an unmapped key and a range: unmapped keys and keys
    /// outside first...last keep their equal-tempered pitch.
    func testKeyboardMappingWithUnmappedKeysAndARange() throws {
        let scl = try write("just.scl", Self.just)
        // map size 12, keys 48...84, middle 60, reference 60 at 261.6256 Hz, octave = degree 12
        let kbm = try write("map.kbm", "12\n48\n84\n60\n60\n261.6255653\n12\n0\nx\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n")
        let t = try ScalaTuning(sclPath: scl, kbmPath: kbm)
        XCTAssertEqual(t.keyPitches[61], 61, "unmapped: equal-tempered")
        XCTAssertEqual(t.keyPitches[64], 60 + Self.justCents[4] / 100, accuracy: 1e-5)
        XCTAssertEqual(t.keyPitches[76], 72 + Self.justCents[4] / 100, accuracy: 1e-5)
        XCTAssertEqual(t.keyPitches[52], 48 + Self.justCents[4] / 100, accuracy: 1e-5)
        XCTAssertEqual(t.keyPitches[90], 90, "outside first...last")
    }

    /// Each broken file is refused with one line naming the file (and line) and the problem.
    func testMalformedFilesGiveOneLine() throws {
        let cases: [(String, String, String)] = [
            ("count.scl", "desc\nseven\n100.0\n", "line 2: the note count must be a whole number, not \"seven\""),
            ("short.scl", "desc\n3\n100.0\n200.0\n", "the scale announces 3 notes but has 2"),
            ("pitch.scl", "desc\n2\n100.0\nabc\n", "line 4: not a pitch in cents (701.955) or a positive ratio (3/2): \"abc\""),
            ("ratio.scl", "desc\n1\n-3/2\n", "line 3: not a pitch in cents"),
            ("empty.scl", "! only comments\n", "no note count after the description"),
            ("zero.scl", "desc\n0\n", "line 2: the note count must be 1...1024, not 0"),
            ("period.scl", "desc\n1\n-100.0\n", "line 3: the period (last pitch) must be above 1/1"),
        ]
        for (name, text, problem) in cases {
            let path = try write(name, text)
            XCTAssertThrowsError(try ScalaTuning(sclPath: path)) { error in
                let line = "\(error)"
                XCTAssertTrue(line.hasPrefix("tuning: \(path): "), line)
                XCTAssertTrue(line.contains(problem), "\(line) lacks \(problem)")
                XCTAssertFalse(line.contains("\n"), line)
            }
        }
        let scl = try write("ok.scl", Self.just)
        let kbms: [(String, String, String)] = [
            ("header.kbm", "0\n0\n127\n60\n", "needs 7 header lines"),
            ("hz.kbm", "0\n0\n127\n60\n69\nfast\n12\n", "line 6: reference frequency must be a positive number of Hz"),
            ("key.kbm", "0\n0\n130\n60\n69\n440\n12\n", "line 3: last key must be a MIDI key 0...127, not 130"),
            ("entry.kbm", "2\n0\n127\n60\n60\n261.6\n12\n0\nq\n", "line 9: a mapping entry must be a scale degree or x"),
            ("ref.kbm", "2\n0\n127\n60\n61\n440\n12\n0\nx\n", "the reference key 61 is unmapped"),
        ]
        for (name, text, problem) in kbms {
            let path = try write(name, text)
            XCTAssertThrowsError(try ScalaTuning(sclPath: scl, kbmPath: path)) { error in
                let line = "\(error)"
                XCTAssertTrue(line.hasPrefix("tuning: \(path)"), line)
                XCTAssertTrue(line.contains(problem), "\(line) lacks \(problem)")
            }
        }
        XCTAssertThrowsError(try ScalaTuning(sclPath: folder + "/missing.scl")) { error in
            XCTAssertEqual("\(error)", "tuning: \(folder)/missing.scl: cannot read the file")
        }
    }

    // MARK: - rendering

    func flutePresetRenderer(settings extra: [Setting: SettingValue] = [:]) throws -> OfflineRenderer {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("models/default.safetensors is absent") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        var settings = DaemonSettings(configPath: "/nonexistent/timbred.toml")
        settings[.polyphony] = .integer(8)
        settings[.reverb] = .number(0)
        for (k, v) in extra { settings[k] = v }
        return try OfflineRenderer(model: model, presetFolders: [presets], settings: settings, preset: "flute",
                                   keepPreset: true, sampleRate: Int(rate), blockFrames: 64)
    }

    func cents(_ x: [Float], from: Double, expected: Double) -> Double {
        let mono = stride(from: 0, to: x.count, by: 2).map { x[$0] }
        return (PitchMeasure.pitch(mono, sampleRate: rate, guess: expected, fromSeconds: from, seconds: 0.3) - expected) * 100
    }

    /// The `tuning` setting retunes the keyboard offline: a just major third and fifth above
    /// middle C, and 19-EDO keys, within 1 cent of the file's pitches.
    func testScalaTuningSettingRetunesRenderedNotes() throws {
        try write("just.scl", Self.just)
        let renderer = try flutePresetRenderer(settings: [.tuning: .string(folder + "/just.scl")])
        let notes: [UInt8] = [64, 67, 70]
        var events: [StandardMIDIFile.TimedEvent] = []
        for (i, n) in notes.enumerated() {
            events += [.init(timeSeconds: 0.6 * Double(i), tick: 0, trackIndex: 0, event: .noteOn(channel: 0, note: n, velocity: 100)),
                       .init(timeSeconds: 0.6 * Double(i) + 0.55, tick: 0, trackIndex: 0, event: .noteOff(channel: 0, note: n, velocity: 0))]
        }
        let x = renderer.render(events, frameCount: Int(1.9 * rate))
        let errors = notes.enumerated().map { i, n in
            cents(x, from: 0.6 * Double(i) + 0.21, expected: 60 + Self.justCents[Int(n) - 60] / 100)
        }
        print("tuning scala just (offline): cents errors \(errors.map { String(format: "%+.3f", $0) })")
        for e in errors { XCTAssertLessThan(abs(e), 1, "\(errors)") }
        // equal temperament would be 13.7, 2.0 and 17.6 cents away
        XCTAssertEqual(renderer.sound.keyPitches?[64] ?? 0, 63.8631, accuracy: 1e-4)

        // a broken file on reload: one line, and the just tuning stays (no command sent)
        let broken = try write("broken.scl", "desc\n2\n100.0\n")
        XCTAssertNotNil(renderer.sound.loadTuning(broken, logFailure: false))
        XCTAssertEqual(renderer.sound.keyPitches?[64] ?? 0, 63.8631, accuracy: 1e-4)
        XCTAssertEqual(renderer.sound.settings.tuning, folder + "/just.scl")
    }

    /// The renderer refuses a broken tuning setting with the file's one line.
    func testRenderRefusesABrokenTuningFile() throws {
        let path = try write("bad.scl", "desc\nx\n")
        XCTAssertThrowsError(try flutePresetRenderer(settings: [.tuning: .string(path)])) { error in
            XCTAssertEqual("\(error)", "tuning: \(path): line 2: the note count must be a whole number, not \"x\"")
        }
    }

    /// A MIDI file (written with the project's SMF writer) with every MTS form and master tuning
    /// as SysEx events, read back and rendered: each note within 1 cent of what it asks.
    func testMIDIFileTuningSysExPlaysOffline() throws {
        let renderer = try flutePresetRenderer()
        let tpq = 480  // 120 bpm: 960 ticks a second
        func t(_ s: Double) -> Int { Int(s * 960) }
        var cents1 = [Int](repeating: 0, count: 12); cents1[9] = 21  // A +21 (1-byte)
        var cents2 = [Double](repeating: 0, count: 12); cents2[2] = -41.06  // D −41.06 (2-byte)
        let plan: [(payload: [UInt8], key: UInt8, expected: Double)] = [
            (MIDITuningMessage.singleNote(program: 0, changes: [(62, 62.3125)]), 62, 62.3125),
            (MIDITuningMessage.singleNote(program: 0, changes: [(64, 63.75)], bank: 0, realTime: false), 64, 63.75),  // bank form, bank 0
            (MIDITuningMessage.bulkDump(program: 0, pitches: (0..<128).map { 60 + Double($0 - 60) * 12 / 19 }), 65, 60 + 5 * 12 / 19.0),
            (MIDITuningMessage.bulkDump(program: 0, pitches: (0..<128).map { Double($0) }, bank: 0), 60, 60),
            (MIDITuningMessage.scaleOctave1Byte(channels: [0], cents: cents1), 69, 69.21),
            (MIDITuningMessage.scaleOctave2Byte(channels: [0], cents: cents2, realTime: false), 62, 62 - 0.4106),  // the dump above reset key 62
            (MIDITuningMessage.masterFine(cents: -27.5), 67, 67 - 0.275),
            (MIDITuningMessage.masterCoarse(semitones: 2), 67, 69 - 0.275),
        ]
        var track: [StandardMIDIFileWriter.TickedEvent] = []
        for (i, step) in plan.enumerated() {
            let at = 0.6 * Double(i)
            track += [.init(tick: t(at), .systemExclusive(payload: step.payload)),
                      .init(tick: t(at + 0.01), .midi(.noteOn(channel: 0, note: step.key, velocity: 100))),
                      .init(tick: t(at + 0.56), .midi(.noteOff(channel: 0, note: step.key, velocity: 0)))]
        }
        let file = try StandardMIDIFile(bytes: StandardMIDIFileWriter(ticksPerQuarter: tpq).formatZero(events: track))
        XCTAssertEqual(file.events.filter { if case .systemExclusive = $0.event { return true } else { return false } }.count, plan.count)
        let x = renderer.render(file.events, sysExBytes: file.sysExBytes, frameCount: Int((0.6 * Double(plan.count) + 0.1) * rate))
        let errors = plan.enumerated().map { i, step in cents(x, from: 0.6 * Double(i) + 0.22, expected: step.expected) }
        print("tuning MIDI file SysEx (offline): cents errors \(errors.map { String(format: "%+.3f", $0) })")
        for e in errors { XCTAssertLessThan(abs(e), 1, "\(errors)") }
    }
}
