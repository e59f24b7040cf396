// MPE offline (issue 16): the `mpe` setting, and an MPE performance written with the project's
// SMF writer (zone by RPN 6, per-note slide, pressure and bend) rendered as `timbred render`
// renders it: each note's bend moves only its own pitch, and two held notes with different CC 74
// sound different spectra.
import Control
import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

final class MPEFileTests: XCTestCase {
    let rate = 48000.0
    var presets: String { Fixtures.repository.appendingPathComponent("presets").path }

    func testMPESettingReadsZones() throws {
        XCTAssertEqual(try MPEZoneSetting(""), MPEZoneSetting())
        XCTAssertEqual(try MPEZoneSetting("lower"), MPEZoneSetting(lower: 15))
        XCTAssertEqual(try MPEZoneSetting("Upper 5"), MPEZoneSetting(upper: 5))
        XCTAssertEqual(try MPEZoneSetting("lower 7, upper 7"), MPEZoneSetting(lower: 7, upper: 7))
        for bad in ["sideways", "lower 0", "lower 16", "lower 8, upper 7", "lower, lower", "lower 3 4"] {
            XCTAssertThrowsError(try MPEZoneSetting(bad)) { error in
                XCTAssertFalse("\(error)".contains("\n"))
                XCTAssertTrue("\(error)".hasPrefix("settings: mpe"), "\(error)")
            }
        }
    }

    func renderer(mpe: String = "") throws -> OfflineRenderer {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("models/default.safetensors is absent") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        var settings = DaemonSettings(configPath: "/nonexistent/timbred.toml")
        settings[.polyphony] = .integer(8)
        settings[.reverb] = .number(0)
        settings[.morphA] = .string("flute")
        settings[.morphB] = .string("trumpet")
        settings[.mpe] = .string(mpe)
        return try OfflineRenderer(model: model, presetFolders: [presets], settings: settings, preset: "flute",
                                   keepPreset: true, sampleRate: Int(rate), blockFrames: 64)
    }

    func pitch(_ x: [Float], _ expected: Double) -> Double {
        let mono = stride(from: 0, to: x.count, by: 2).map { x[$0] }
        return (PitchMeasure.pitch(mono, sampleRate: rate, guess: expected, fromSeconds: 0.7, seconds: 0.6) - expected) * 100
    }

    /// Levels (dB) of harmonics 1…6 of `f0` over 0.7…1.3 s, relative to the fundamental.
    func profile(_ x: [Float], _ pitch: Double) -> [Double] {
        HarmonicProfile.levelsDB(x, sampleRate: rate, f0Hz: 440 * pow(2, (pitch - 69) / 12), startSeconds: 0.7,
                                 seconds: 0.6, harmonics: 6)
    }

    /// An MPE file: RPN 6 makes channels 2-16 members; C4 on channel 2 with slide 0, F#4 on
    /// channel 3 with slide 127 and a +2-semitone bend of its own (range 48).
    func testMPEFileFromTheSMFWriterPlaysPerNotePitchAndTimbre() throws {
        func t(_ s: Double) -> Int { Int(s * 960) }
        let events: [StandardMIDIFileWriter.TickedEvent] = [
            .midi(0, .controlChange(channel: 0, controller: 101, value: 0)), .midi(0, .controlChange(channel: 0, controller: 100, value: 6)),
            .midi(0, .controlChange(channel: 0, controller: 6, value: 15)),
            .midi(t(0.005), .controlChange(channel: 1, controller: 74, value: 0)), .midi(t(0.005), .controlChange(channel: 2, controller: 74, value: 127)),
            .midi(t(0.01), .noteOn(channel: 1, note: 60, velocity: 100)), .midi(t(0.01), .noteOn(channel: 2, note: 66, velocity: 100)),
            .midi(t(0.3), .pitchBend(channel: 2, value: 8192 + 341)),
            .midi(t(1.4), .noteOff(channel: 1, note: 60, velocity: 0)), .midi(t(1.4), .noteOff(channel: 2, note: 66, velocity: 0)),
        ]
        let file = try StandardMIDIFile(bytes: StandardMIDIFileWriter().formatZero(events: events))
        let x = try renderer().render(file.events, sysExBytes: file.sysExBytes, frameCount: Int(1.45 * rate))
        let bent = 66 + 341.0 / 8192 * 48
        let errors = [pitch(x, 60), pitch(x, bent)]
        print("MPE file (offline) pitch errors (cents): \(errors.map { String(format: "%+.3f", $0) })")
        for e in errors { XCTAssertLessThan(abs(e), 1, "\(errors)") }
        // the same notes without MPE (no zone: CC 74 is a knob of the whole sound, bend per channel)
        let plain = try StandardMIDIFile(bytes: StandardMIDIFileWriter().formatZero(events: Array(events.dropFirst(3))))
        let y = try renderer().render(plain.events, frameCount: Int(1.45 * rate))
        // without a zone both notes take the last CC 74 (127); with it the C4 keeps its own slide (0).
        // A key's partial motion is seeded by the key and velocity alone, so the C4 moves the same
        // way in both renders and its profile differs only by the timbre its slide gives it
        // (comparing the two notes with each other put their pitches' and their motion's
        // differences in too: 15.6 dB apart without a zone with session 36's model, 23.5 with 37's).
        // Slide 0 against 127 moves it by 2.8 dB (session 36's model) and 4.3 (37's); without
        // per-note timbre the two renders' C4s are the same samples
        let low = profile(x, 60), lowPlain = profile(y, 60)
        let lowMoved = zip(low, lowPlain).map { abs($0 - $1) }.max()!
        print(String(format: "MPE file: the C4's harmonic profile at slide 0 differs from the one at 127 by %.2f dB", lowMoved))
        XCTAssertGreaterThan(lowMoved, 1.5, "the C4's own CC 74 did not give it a timbre of its own")
    }

    /// The `mpe` setting configures the zone before the file plays: the same file without RPN 6
    /// plays per-note bend.
    func testMPESettingConfiguresTheZoneFromTheStart() throws {
        let events: [StandardMIDIFile.TimedEvent] = [
            .init(timeSeconds: 0.01, tick: 0, trackIndex: 0, event: .noteOn(channel: 1, note: 60, velocity: 100)),
            .init(timeSeconds: 0.01, tick: 0, trackIndex: 0, event: .noteOn(channel: 2, note: 66, velocity: 100)),
            .init(timeSeconds: 0.3, tick: 0, trackIndex: 0, event: .pitchBend(channel: 2, value: 8192 + 341)),
        ]
        let r = try renderer(mpe: "lower")
        XCTAssertEqual(r.sound.mpeCommands.count, 5)
        let x = r.render(events, frameCount: Int(1.4 * rate))
        let errors = [pitch(x, 60), pitch(x, 66 + 341.0 / 8192 * 48)]
        print("MPE setting pitch errors (cents): \(errors.map { String(format: "%+.3f", $0) })")
        for e in errors { XCTAssertLessThan(abs(e), 1, "\(errors)") }
        XCTAssertThrowsError(try renderer(mpe: "diagonal"))
    }

    /// `mpe_slide`: the morph axis by default, or half a latent dimension's range; a setting it
    /// cannot read is one line (render refuses it).
    func testMPESlideSettingPicksTheDirection() throws {
        let r = try renderer()
        guard case .setMPESlide(nil) = r.sound.mpeSlideCommand else { return XCTFail("default is not the morph axis") }
        var settings = r.sound.settings
        settings.mpeSlide = "latent 1 -2 2"
        let sound = SoundController(model: r.sound.model, presetFolders: [presets], settings: settings) { _ in }
        guard case let .setMPESlide(direction?) = sound.mpeSlideCommand else { return XCTFail("no direction") }
        XCTAssertEqual(direction.array, [0, 2] + [Float](repeating: 0, count: r.sound.model.config.zDim - 2))
        XCTAssertNil(sound.mpeSettingProblem)
        settings.mpeSlide = "sideways 3"
        let bad = SoundController(model: r.sound.model, presetFolders: [presets], settings: settings) { _ in }
        XCTAssertTrue(bad.mpeSettingProblem?.hasPrefix("mpe_slide must be") ?? false, bad.mpeSettingProblem ?? "nil")
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { return }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        var daemon = DaemonSettings(configPath: "/nonexistent/timbred.toml")
        daemon[.mpeSlide] = .string("latent 99")
        XCTAssertThrowsError(try OfflineRenderer(model: model, presetFolders: [presets], settings: daemon, preset: "flute",
                                                 keepPreset: true, sampleRate: 48000)) { error in
            XCTAssertTrue("\(error)".hasPrefix("settings: mpe_slide must be"), "\(error)")
        }
    }

    /// The config file's `[mpe_map]` table: pressure on a latent dimension or the morph axis,
    /// release velocity on the release time; what it cannot read is one line each, and render
    /// refuses it.
    func testMPEMapTableReadsPressureAndReleaseVelocity() throws {
        var daemon = DaemonSettings(configPath: "x.toml")
        try daemon.merge(configText: "[mpe_map]\npressure = \"latent 1 -2 2\"\nrelease_velocity = \"release 4 0.25\"\n", path: "x.toml")
        XCTAssertEqual(daemon.mpeMap, ["pressure": "latent 1 -2 2", "release_velocity": "release 4 0.25"])
        let r = try renderer()
        var settings = r.sound.settings
        settings.mpeMap = daemon.mpeMap
        let sound = SoundController(model: r.sound.model, presetFolders: [presets], settings: settings) { _ in }
        let resolved = sound.mpeMapCommands
        XCTAssertEqual(resolved.problems, [])
        XCTAssertEqual(resolved.commands.count, 2)
        guard case let .setMPEPressure(direction?) = resolved.commands[0] else { return XCTFail("no pressure direction") }
        XCTAssertEqual(direction.array, [0, 2] + [Float](repeating: 0, count: r.sound.model.config.zDim - 2))
        guard case let .setReleaseVelocity(mapping) = resolved.commands[1] else { return XCTFail("no release velocity") }
        XCTAssertEqual(mapping.target, .releaseScale)
        XCTAssertEqual(mapping.value(at: 0), 4, accuracy: 1e-5)
        XCTAssertEqual(mapping.value(at: 1), 0.25, accuracy: 1e-5)
        XCTAssertTrue(sound.stateCommands().map(describe).contains("release velocity releaseScale 4.0 0.25"))
        // the defaults send nothing
        XCTAssertEqual(r.sound.mpeMapCommands.commands.count, 0)
        settings.mpeMap = ["pressure": "loudness", "release_velocity": "none"]
        XCTAssertEqual(SoundController(model: r.sound.model, presetFolders: [presets], settings: settings) { _ in }.mpeMapCommands.commands.count, 0)
        // what it cannot read
        settings.mpeMap = ["pressure": "gain", "release_velocity": "latent 2", "tilt": "latent 1"]
        let bad = SoundController(model: r.sound.model, presetFolders: [presets], settings: settings) { _ in }
        XCTAssertEqual(bad.mpeMapCommands.problems.count, 3)
        XCTAssertTrue(bad.mpeSettingProblem?.hasPrefix("mpe_map: ") ?? false, bad.mpeSettingProblem ?? "nil")
        XCTAssertThrowsError(try daemon.merge(configText: "[mpe_map]\npressure = 3\n", path: "x.toml"))
    }

    /// `[mpe_map] slide`: CC 74 on a member channel to a latent dimension, the morph axis, the
    /// note's loudness, or nowhere; it overrides the `mpe_slide` setting, and what it cannot read
    /// is one line. `replaceMPEMap` (SIGHUP) first puts every route back to its default.
    func testMPEMapSlideRoutesCC74() throws {
        let r = try renderer()
        let zDim = r.sound.model.config.zDim
        func commands(_ slide: String) -> ([String], [String]) {
            var settings = r.sound.settings
            settings.mpeMap = ["slide": slide]
            settings.mpeSlide = "latent 0"
            let (c, p) = SoundController(model: r.sound.model, presetFolders: [presets], settings: settings) { _ in }.mpeMapCommands
            return (c.map(describe), p)
        }
        let zero = [String](repeating: "0.0000", count: zDim)
        var dim1 = zero; dim1[1] = "2.0000"
        XCTAssertEqual(commands("latent 1 -2 2").0, ["mpe slide loudness false", "mpe slide " + dim1.joined(separator: ",")])
        XCTAssertEqual(commands("loudness").0, ["mpe slide loudness true"])
        XCTAssertEqual(commands("morph").0, ["mpe slide loudness false", "mpe slide morph"])
        XCTAssertEqual(commands("none").0, ["mpe slide loudness false", "mpe slide " + zero.joined(separator: ",")])
        let (none, problems) = commands("gain")
        XCTAssertEqual(none, [])
        XCTAssertEqual(problems.count, 1)
        XCTAssertTrue(problems[0].hasPrefix("mpe_map: slide must be"), problems[0])

        // SIGHUP: back to the defaults, then the new table
        let recorder = Recorder()
        var settings = r.sound.settings
        settings.mpeMap = ["pressure": "latent 1 -2 2"]
        let sound = SoundController(model: r.sound.model, presetFolders: [presets], settings: settings) { recorder.commands.append($0) }
        _ = recorder.take()
        sound.replaceMPEMap(["slide": "loudness", "tilt": "x"])
        XCTAssertEqual(recorder.take(), ["mpe pressure loudness", "release velocity none 0.0 1.0", "mpe slide loudness false",
                                         "mpe slide morph", "mpe slide loudness true"])
        XCTAssertEqual(sound.settings.mpeMap, ["slide": "loudness", "tilt": "x"])
    }
}
