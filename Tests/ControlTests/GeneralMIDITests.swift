// General MIDI program changes with the shipped model and presets: each program picks the preset
// of its GM instrument or the nearest of its GM family, drums do not play as pitched notes, and
// each choice is logged once.
import Control
import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

final class GeneralMIDITests: XCTestCase {
    let rate = 32000.0
    var model: TimbreModel!
    var presets: String { Fixtures.repository.appendingPathComponent("presets").path }
    /// Log lines at notice or more important, while a test runs.
    var logged: [String] = []
    var savedLevel = Log.maximumLevel

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else {
            throw XCTSkip("models/default.safetensors is absent")
        }
        model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        savedLevel = Log.maximumLevel
        Log.maximumLevel = .notice
        Log.observer = { [unowned self] level, text in
            if level.rawValue <= Log.Level.notice.rawValue { self.logged.append(text) }
        }
    }

    override func tearDown() {
        Log.observer = nil
        Log.maximumLevel = savedLevel
    }

    func library() -> PresetLibrary {
        let library = PresetLibrary(folders: [presets], model: model)
        XCTAssertEqual(library.reload(), [])
        return library
    }

    /// The shipped presets stand for the GM programs their instruments were rendered from.
    func testEachShippedPresetKnowsItsGeneralMIDIProgram() {
        let library = library()
        XCTAssertEqual(library.presets.count, 18)
        for p in library.presets {
            XCTAssertNotNil(p.preset.generalMIDIProgram, "\(p.name) stands for no GM program")
        }
        func pick(_ program: Int) -> String? {
            library.generalMIDIPreset(program: program).map { "\($0.preset.name)\($0.exact ? "" : " (nearest)")" }
        }
        XCTAssertEqual(pick(73), "Flute")
        XCTAssertEqual(pick(19), "Church Organ")
        XCTAssertEqual(pick(0), "Piano")
        XCTAssertEqual(pick(71), "Clarinet")
        XCTAssertEqual(pick(16), "Church Organ (nearest)", "Drawbar Organ: the organ family's only preset")
        XCTAssertEqual(pick(74), "Flute (nearest)", "Recorder: the pipe family")
        XCTAssertEqual(pick(41), "Violin (nearest)", "Viola: between violin (40) and cello (42), the lower")
        XCTAssertEqual(pick(5), "Electric Piano (nearest)")
        XCTAssertEqual(pick(3), "Electric Piano (nearest)", "Honky-tonk: electric piano (4) is 1 away, piano (0) 3")
        XCTAssertNil(pick(96), "no synth-effects preset")
        XCTAssertNil(pick(120), "no sound-effects preset")
    }

    func controller(_ settings: SoundController.Settings = .init()) -> SoundController {
        let sound = SoundController(model: model, presetFolders: [presets], settings: settings) { _ in }
        sound.loadPresets()
        sound.start(preset: "piano")
        logged.removeAll()
        return sound
    }

    func testProgramChangesPickGMPresetsAndDrumsPickNone() {
        let sound = controller()
        sound.handleForwarded(.programChange(channel: 0, program: 73))
        XCTAssertEqual(sound.currentPreset?.name, "Flute")
        // channel 10: a drum kit, not a preset
        sound.handleForwarded(.programChange(channel: 9, program: 0))
        XCTAssertEqual(sound.currentPreset?.name, "Flute")
        // an XG drum bank (MSB 127) on channel 4 makes it a drum channel until a pitched bank
        sound.handleForwarded(.controlChange(channel: 3, controller: 0, value: 127))
        sound.handleForwarded(.programChange(channel: 3, program: 19))
        XCTAssertEqual(sound.currentPreset?.name, "Flute")
        XCTAssertTrue(sound.drums.isDrum(channel: 3))
        sound.handleForwarded(.controlChange(channel: 3, controller: 0, value: 0))
        sound.handleForwarded(.programChange(channel: 3, program: 19))
        XCTAssertEqual(sound.currentPreset?.name, "Church Organ")
        XCTAssertFalse(sound.drums.isDrum(channel: 3))
        // bank 128 (FluidSynth's drum bank)
        sound.handleForwarded(.controlChange(channel: 5, controller: 0, value: 1))
        sound.handleForwarded(.programChange(channel: 5, program: 0))
        XCTAssertEqual(sound.currentPreset?.name, "Church Organ")
        // a GS variation bank (MSB 8) nobody's presets use: still the GM instrument
        sound.handleForwarded(.controlChange(channel: 6, controller: 0, value: 8))
        sound.handleForwarded(.programChange(channel: 6, program: 4))
        XCTAssertEqual(sound.currentPreset?.name, "Electric Piano")
        // no preset in the family: the sound stays
        sound.handleForwarded(.programChange(channel: 0, program: 100))
        XCTAssertEqual(sound.currentPreset?.name, "Electric Piano")
        // again: the same choices, not logged again
        let lines = logged
        sound.handleForwarded(.programChange(channel: 0, program: 73))
        sound.handleForwarded(.programChange(channel: 9, program: 0))
        XCTAssertEqual(sound.currentPreset?.name, "Flute")
        XCTAssertEqual(logged, lines)
        XCTAssertEqual(lines, [
            "channel 1: program 73 (GM 74 Flute): Flute",
            "channel 10 plays the drum channel (drum_channel): its notes are not played",
            "channel 4 plays drums or effects (bank 16256): its notes are not played",
            "channel 4: program 19 (GM 20 Church Organ): Church Organ",
            "channel 6 plays drums or effects (bank 128): its notes are not played",
            "channel 7: program 4 (GM 5 Electric Piano 1, bank 1024): Electric Piano",
            "channel 1: program 100 (GM 101 FX 5 (brightness)): no preset in the Synth Effects family; Electric Piano keeps playing",
        ])
    }

    func testKeepPresetIgnoresTheChannelsItNames() {
        var settings = SoundController.Settings()
        settings.keepPresetChannels = [1]
        settings.drums = MIDIDrumFilter(drumChannelSetting: 0)
        let sound = controller(settings)
        sound.handleForwarded(.programChange(channel: 1, program: 73))
        sound.handleForwarded(.programChange(channel: 1, program: 40))
        XCTAssertEqual(sound.currentPreset?.name, "Piano")
        sound.handleForwarded(.programChange(channel: 2, program: 73))
        XCTAssertEqual(sound.currentPreset?.name, "Flute")
        // drum_channel = 0: channel 10 is a pitched channel like the others
        sound.handleForwarded(.programChange(channel: 9, program: 19))
        XCTAssertEqual(sound.currentPreset?.name, "Church Organ")
        XCTAssertEqual(logged, [
            "channel 2: program 73 ignored: program changes keep the preset (keep_preset); further ones are not logged",
            "channel 3: program 73 (GM 74 Flute): Flute",
            "channel 10: program 19 (GM 20 Church Organ): Church Organ",
        ])
    }

    func testKeepPresetAndDrumChannelSettings() throws {
        var s = DaemonSettings(configPath: "x.toml")
        XCTAssertEqual(s.integer(.drumChannel), 10)
        XCTAssertEqual(s.drumFilter.drumChannel, 9)
        XCTAssertEqual(s.keepPresetChannels, [])
        try s.merge(configText: "keep_preset = \"1, 3-4\"\ndrum_channel = 0\n", path: "x.toml")
        XCTAssertEqual(s.keepPresetChannels, [0, 2, 3])
        XCTAssertEqual(s.drumFilter.drumChannel, -1)
        XCTAssertEqual(SoundController.Settings(s).keepPresetChannels, [0, 2, 3])
        try s.merge(configText: "keep_preset = true\n", path: "x.toml")
        XCTAssertEqual(s.keepPresetChannels, Set(0..<16))
        XCTAssertEqual(try Setting.keepPreset.value(fromText: "all"), .string("all"))
        for bad in ["17", "0", "1,", "x", "4-2"] {
            XCTAssertThrowsError(try Setting.keepPreset.value(fromText: bad), bad) { error in
                XCTAssertTrue("\(error)".contains("keep_preset"), "\(error)")
            }
        }
        XCTAssertThrowsError(try s.merge(configText: "drum_channel = 17\n", path: "x.toml"))
    }

    // MARK: - a General MIDI file, rendered

    let secondPart = 1.6
    let length = 2.6

    /// A GM file: flute (program 73) on channel 1 from 0 to 0.4 s, its program repeated at 1 s;
    /// Drawbar Organ (program 16) on channel 2 from 1.6 to 2.0 s; drums on channel 10 throughout.
    func file(drums: Bool = true, melody: Bool = true, programs: Bool = true) throws -> [StandardMIDIFile.TimedEvent] {
        let tick = { (s: Double) in Int((s * 960).rounded()) }  // 480 per quarter at 120 bpm
        var one: [StandardMIDIFileWriter.TickedEvent] = [], two = one, ten = one
        if programs {
            one += [.midi(0, .programChange(channel: 0, program: 73)), .midi(tick(1), .programChange(channel: 0, program: 73))]
            two += [.midi(tick(secondPart), .programChange(channel: 1, program: 16))]
            ten += [.midi(0, .programChange(channel: 9, program: 0))]
        }
        if melody {
            one += [.midi(0, .noteOn(channel: 0, note: 72, velocity: 100)), .midi(tick(0.4), .noteOff(channel: 0, note: 72, velocity: 64))]
            two += [.midi(tick(secondPart), .noteOn(channel: 1, note: 60, velocity: 100)),
                    .midi(tick(secondPart + 0.4), .noteOff(channel: 1, note: 60, velocity: 64))]
        }
        if drums {
            for (i, t) in stride(from: 0.0, to: 2.4, by: 0.25).enumerated() {
                let key: UInt8 = [36, 42, 38, 42][i % 4]
                ten += [.midi(tick(t), .noteOn(channel: 9, note: key, velocity: 110)),
                        .midi(tick(t + 0.1), .noteOff(channel: 9, note: key, velocity: 0))]
            }
        }
        let bytes = StandardMIDIFileWriter().formatOne(tracks: [[.init(tick: 0, .tempo(microsecondsPerQuarter: 500_000))], one, two, ten])
        return try StandardMIDIFile(bytes: bytes).events
    }

    func render(_ events: [StandardMIDIFile.TimedEvent], preset: String = "piano", keepPreset: Bool = false,
                drumChannel: Int = 10, everyBlock: ((SoundController, Int) -> Void)? = nil) throws -> [Float] {
        var settings = DaemonSettings(configPath: "/nonexistent/timbred.toml")
        settings[.polyphony] = .integer(8)
        settings[.drumChannel] = .integer(drumChannel)
        let renderer = try OfflineRenderer(model: model, presetFolders: [presets], settings: settings, preset: preset,
                                           keepPreset: keepPreset, sampleRate: Int(rate))
        return renderer.render(events, frameCount: Int(length * rate)) { frame in everyBlock?(renderer.sound, frame) }
    }

    func left(_ x: [Float], _ from: Double, _ to: Double) -> [Float] {
        stride(from: 2 * Int(from * rate), to: 2 * Int(to * rate), by: 2).map { x[$0] }
    }

    func rms(_ x: [Float]) -> Double { (x.reduce(0) { $0 + Double($1) * Double($1) } / Double(max(x.count, 1))).squareRoot() }

    func difference(_ a: [Float], _ b: [Float]) -> Double { rms(zip(a, b).map { $0 - $1 }) }

    /// Channel 1 plays as the flute preset, channel 2 as the church organ (the organ family's
    /// nearest to Drawbar Organ), channel 10 not at all; each choice is logged once.
    func testAGeneralMIDIFilePlaysEachPartWithItsPreset() throws {
        let gm = try render(try file())
        // the reference: no program changes and no drums; the flute preset, then the church
        // organ chosen by name from the second part's first sample
        let organFrame = Int(secondPart * rate)
        XCTAssertEqual(organFrame % 256, 0, "the second part must start on a block")
        let reference = try render(try file(drums: false, programs: false), preset: "flute", keepPreset: true) { sound, frame in
            if frame == organFrame { _ = sound.perform(.preset("church_organ")) }
        }
        let fluteOnly = try render(try file(drums: false, programs: false), preset: "flute", keepPreset: true)
        let first = (0.0, 1.0), second = (secondPart, length)
        let level = rms(left(reference, first.0, first.1)), level2 = rms(left(reference, second.0, second.1))
        let organVsFlute = difference(left(reference, second.0, second.1), left(fluteOnly, second.0, second.1))
        print(String(format: "flute part: level %.4f, GM vs reference %.2g; organ part: level %.4f, GM vs reference %.2g, organ vs flute %.4f",
                     level, difference(left(gm, first.0, first.1), left(reference, first.0, first.1)),
                     level2, difference(left(gm, second.0, second.1), left(reference, second.0, second.1)), organVsFlute))
        XCTAssertGreaterThan(level, 1e-3)
        XCTAssertGreaterThan(level2, 1e-3)
        XCTAssertGreaterThan(organVsFlute, 0.3 * level2, "organ and flute must differ, or the test proves nothing")
        XCTAssertLessThan(difference(left(gm, first.0, first.1), left(reference, first.0, first.1)), 1e-3 * level,
                          "channel 1 should sound as the flute preset, with no drums")
        XCTAssertLessThan(difference(left(gm, second.0, second.1), left(reference, second.0, second.1)), 1e-3 * level2,
                          "channel 2 should sound as the church organ, with no drums")
        XCTAssertEqual(logged.filter { $0.hasPrefix("channel") }, [
            "channel 1: program 73 (GM 74 Flute): Flute",
            "channel 10 plays the drum channel (drum_channel): its notes are not played",
            "channel 2: program 16 (GM 17 Drawbar Organ): Church Organ, the nearest of the Organ family",
        ])
    }

    /// Drum notes alone are silence; with drum_channel = 0 they play (pitched).
    func testDrumChannelIsSilentUnlessTurnedOff() throws {
        let drums = try file(melody: false)
        XCTAssertEqual(rms(try render(drums)), 0, "channel 10 must not play pitched notes")
        XCTAssertGreaterThan(rms(try render(drums, drumChannel: 0)), 1e-3, "drum_channel = 0 plays channel 10")
    }
}
