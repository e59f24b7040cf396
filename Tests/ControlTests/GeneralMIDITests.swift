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
            "channel 1: program 100 (GM 101 FX 5 (brightness)): no preset in the Synth Effects family; Flute keeps playing",
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

    // MARK: - parts at once: a preset per channel

    /// The parts of the multi-part file: channel, GM program, the preset it should play, key.
    /// Keys whose first six harmonics keep clear of each other's (D3, C#4, G5).
    let parts: [(channel: UInt8, program: UInt8, preset: String, key: UInt8)] = [
        (0, 0, "piano", 50), (1, 40, "violin", 61), (2, 73, "flute", 79),
    ]

    /// Renders `tracks` (ticks at 960 per second) dry and 18 dB quieter than the default gain,
    /// from `preset`, 1.5 s.
    func renderDry(_ tracks: [[StandardMIDIFileWriter.TickedEvent]], preset: String, keepPreset: Bool = false,
                   seconds: Double = 1.5) throws -> [Float] {
        var settings = DaemonSettings(configPath: "/nonexistent/timbred.toml")
        settings[.polyphony] = .integer(8)
        settings[.reverb] = .number(0)
        settings[.gainDB] = .number(-24)  // three notes at once stay well below the output's soft limit
        let renderer = try OfflineRenderer(model: model, presetFolders: [presets], settings: settings, preset: preset,
                                           keepPreset: keepPreset, sampleRate: Int(rate))
        let bytes = StandardMIDIFileWriter().formatOne(tracks: [[.init(tick: 0, .tempo(microsecondsPerQuarter: 500_000))]] + tracks)
        let file = try StandardMIDIFile(bytes: bytes)
        return renderer.render(file.events, sysExBytes: file.sysExBytes, frameCount: Int(seconds * rate))
    }

    /// A part's track: its program change at 0 (optional) and its key held from `at` + 0.01 s
    /// to `at` + 1.4 s.
    func track(_ part: (channel: UInt8, program: UInt8, preset: String, key: UInt8), program: Bool = true, at: Double = 0,
               extra: [StandardMIDIFileWriter.TickedEvent] = []) -> [StandardMIDIFileWriter.TickedEvent] {
        let start = Int(at * 960)
        return (program ? [.midi(0, .programChange(channel: part.channel, program: part.program))] : [])
            + [.midi(start + 10, .noteOn(channel: part.channel, note: part.key, velocity: 100)),
               .midi(start + 1344, .noteOff(channel: part.channel, note: part.key, velocity: 64))] + extra
    }

    /// Levels (dB) of harmonics 2…`harmonics` of `key` over 0.6 s from `at` + 0.7 s, relative to
    /// the fundamental.
    func profile(_ x: [Float], key: UInt8, at: Double = 0, harmonics: Int = 6, bandCents: Double = 0) -> [Double] {
        Array(HarmonicProfile.levelsDB(x, sampleRate: rate, f0Hz: 440 * pow(2, (Double(key) - 69) / 12),
                                       startSeconds: at + 0.7, seconds: 0.6, harmonics: harmonics,
                                       bandCents: bandCents).dropFirst())
    }

    /// Largest difference (dB) between two harmonic profiles.
    func profileDifferenceDB(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map { abs($0 - $1) }.max()! }

    /// Piano (program 0), violin (40) and flute (73) on channels 1-3 at once, with drums on
    /// channel 10: each part's note has the harmonic profile (harmonics 2-4 against the
    /// fundamental) of the same note played alone with its preset, within 5 dB and within half its
    /// distance to the profile of the note played with either other preset, which is more than 3 dB
    /// (8 dB or more here). What the other parts' partials and noise add at those frequencies
    /// moves the profile: the piano's 2nd and 4th harmonics (294 and 587 Hz, -17 and -18 dB at 0.7
    /// s) lie 17 and 33 Hz from the violin's 1st and 2nd, whose partial motion spreads them over
    /// tens of Hz (1.9 and 4.1 dB there); the piano's 5th, 734 Hz, lies 50 Hz below the flute's
    /// fundamental, whose breath noise adds 1.7 dB to it. The drums add nothing pitched; each
    /// choice is logged once.
    func testPartsOnThreeChannelsPlayTheirOwnPresetsAtOnce() throws {
        let drums: [StandardMIDIFileWriter.TickedEvent] = [.midi(0, .programChange(channel: 9, program: 0))]
            + stride(from: 0, to: 1300, by: 240).flatMap { t -> [StandardMIDIFileWriter.TickedEvent] in
                [.midi(t, .noteOn(channel: 9, note: 38, velocity: 110)), .midi(t + 100, .noteOff(channel: 9, note: 38, velocity: 0))]
            }
        let gm = try renderDry(parts.map { track($0) } + [drums], preset: "harpsichord")
        XCTAssertEqual(logged.filter { $0.hasPrefix("channel") }.sorted(), [
            "channel 10 plays the drum channel (drum_channel): its notes are not played",
            "channel 1: program 0 (GM 1 Acoustic Grand Piano): Piano",
            "channel 2: program 40 (GM 41 Violin): Violin",
            "channel 3: program 73 (GM 74 Flute): Flute",
        ])
        var lines: [String] = []
        for part in parts {
            let inMix = profile(gm, key: part.key, harmonics: 4)
            var alone: [String: [Double]] = [:]
            for other in parts {
                let x = try renderDry([track((part.channel, 0, other.preset, part.key), program: false)], preset: other.preset,
                                      keepPreset: true)
                alone[other.preset] = profile(x, key: part.key, harmonics: 4)
            }
            let own = profileDifferenceDB(inMix, alone[part.preset]!)
            let others = parts.filter { $0.preset != part.preset }.map { profileDifferenceDB(inMix, alone[$0.preset]!) }
            lines.append(String(format: "%@ part (channel %d): %.2f dB from %@ alone; %@ dB from the others", part.preset,
                                part.channel + 1, own, part.preset, others.map { String(format: "%.1f", $0) }.joined(separator: ", ")))
            XCTAssertLessThan(own, 5, "\(part.preset) part does not sound as its preset: \(inMix) vs \(alone[part.preset]!)")
            XCTAssertLessThan(own, others.min()! / 2, "\(part.preset) part is not nearer its own preset than the others")
            for o in others { XCTAssertGreaterThan(o, 3, "\(part.preset) part sounds like another preset") }
        }
        print(String(format: "GM parts at once (peak %.3f): ", gm.map(abs).max()!) + lines.joined(separator: "; "))
    }

    /// The three programs at the file's start, the parts' notes one after another (1.6 s apart):
    /// each note sounds as played alone with its part's preset (harmonics 2-6 within 0.3 dB: the
    /// later notes play in other voice slots, whose noise generators have other seeds, and the
    /// flute's upper harmonics lie near its noise; each harmonic's power within ±30 cents, so that
    /// the violin's and flute's vibrato sidebands count as theirs), not as the preset of the last
    /// program change (flute) for all.
    func testPartsOneAfterAnotherKeepTheirOwnPresets() throws {
        let at = [0.0, 1.6, 3.2]
        let gm = try renderDry(parts.enumerated().map { track($0.element, at: at[$0.offset]) }, preset: "harpsichord", seconds: 4.8)
        var lines: [String] = []
        for (i, part) in parts.enumerated() {
            let inFile = profile(gm, key: part.key, at: at[i], bandCents: 30)
            var alone: [String: [Double]] = [:]
            for other in parts {
                let x = try renderDry([track((part.channel, 0, other.preset, part.key), program: false, at: at[i])],
                                      preset: other.preset, keepPreset: true, seconds: 4.8)
                alone[other.preset] = profile(x, key: part.key, at: at[i], bandCents: 30)
            }
            let own = profileDifferenceDB(inFile, alone[part.preset]!)
            let others = parts.filter { $0.preset != part.preset }.map { profileDifferenceDB(inFile, alone[$0.preset]!) }
            lines.append(String(format: "%@ %.3f dB (others %@ dB)", part.preset, own,
                                others.map { String(format: "%.1f", $0) }.joined(separator: ", ")))
            XCTAssertLessThan(own, 0.3, "\(part.preset) part does not sound as its preset")
            for o in others { XCTAssertGreaterThan(o, 3, "\(part.preset) part sounds like another preset") }
        }
        print("GM parts one after another, difference from the preset alone: " + lines.joined(separator: "; "))
    }

    /// A program change on channel 2 while channel 1's note is held leaves that note as it was
    /// (its harmonic profile within 0.3 dB: the flute that channel 2 turns into moves its partials,
    /// and their spread reaches the violin's harmonics; each violin harmonic's power within ±30
    /// cents, so that its vibrato's sidebands count as its own and the other note's noise in one
    /// DFT bin does not decide) and moves channel 2's held note to the new preset.
    func testAProgramChangeOnOneChannelLeavesTheOthersNotesAlone() throws {
        let violin = (channel: UInt8(0), program: UInt8(40), preset: "violin", key: UInt8(61))
        let piano = (channel: UInt8(1), program: UInt8(0), preset: "piano", key: UInt8(50))
        let before = try renderDry([track(violin), track(piano)], preset: "harpsichord")
        let after = try renderDry([track(violin), track(piano, extra: [.midi(300, .programChange(channel: 1, program: 73))])],
                                  preset: "harpsichord")
        let violinMoved = profileDifferenceDB(profile(before, key: violin.key, bandCents: 30),
                                              profile(after, key: violin.key, bandCents: 30))
        let pianoMoved = profileDifferenceDB(profile(before, key: piano.key), profile(after, key: piano.key))
        print(String(format: "program change on channel 2: channel 1's note moved %.3f dB, channel 2's %.1f dB", violinMoved, pianoMoved))
        XCTAssertLessThan(violinMoved, 0.3)
        XCTAssertGreaterThan(pianoMoved, 3)
    }

    /// A knob (CC 70, latent dimension 0 by default) on channel 2 moves channel 2's note only
    /// (channel 1's violin profile within 0.1 dB, its harmonics measured within ±30 cents as above),
    /// once the channels have presets of their own; without program changes it moves the shared
    /// sound, so every channel's notes (as before per-channel timbres).
    func testAKnobMovesOnlyItsChannelsNotes() throws {
        let violin = (channel: UInt8(0), program: UInt8(40), preset: "violin", key: UInt8(61))
        let piano = (channel: UInt8(1), program: UInt8(0), preset: "piano", key: UInt8(50))
        let knob: [StandardMIDIFileWriter.TickedEvent] = [.midi(300, .controlChange(channel: 1, controller: 70, value: 127))]
        func moved(programs: Bool) throws -> (Double, Double) {
            let still = try renderDry([track(violin, program: programs), track(piano, program: programs)], preset: "piano")
            let turned = try renderDry([track(violin, program: programs), track(piano, program: programs, extra: knob)], preset: "piano")
            return (profileDifferenceDB(profile(still, key: violin.key, bandCents: 30),
                                        profile(turned, key: violin.key, bandCents: 30)),
                    profileDifferenceDB(profile(still, key: piano.key), profile(turned, key: piano.key)))
        }
        let own = try moved(programs: true), shared = try moved(programs: false)
        print(String(format: "CC 70 on channel 2: channel 1's note moved %.3f dB, channel 2's %.1f dB; without program changes %.1f and %.1f dB",
                     own.0, own.1, shared.0, shared.1))
        XCTAssertLessThan(own.0, 0.1)
        XCTAssertGreaterThan(own.1, 1)
        XCTAssertGreaterThan(shared.0, 1, "without program changes a knob moves the shared sound")
    }
}
