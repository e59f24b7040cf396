import Control
import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

/// A command as text, so that sequences of them compare (EngineCommand is not Equatable).
func describe(_ c: EngineCommand) -> String {
    func point(_ p: LatentPoint) -> String { p.array.map { String(format: "%.4f", $0) }.joined(separator: ",") }
    switch c {
    case .midi(let e): return "midi \(e)"
    case .setTimbre(let p): return "timbre \(point(p))"
    case let .setLatentDimension(i, v): return "latent \(i) \(v)"
    case .setReverbMix(let m): return "reverb \(m)"
    case .setGainDB(let g): return "gain \(g)"
    case let .setEnvelopeScale(a, r): return "envelope \(a) \(r)"
    case .setPitchBendRange(let s): return "bend range \(s)"
    case .panic: return "panic"
    case .setAttackScale(let s): return "attack \(s)"
    case .setReleaseScale(let s): return "release \(s)"
    case let .mapController(source, m): return "map \(ControllerMapSpec.key(source)) \(m.target) \(m.minimum) \(m.maximum)"
    case let .setMorphPoint(corner, p): return "corner \(corner) \(point(p))"
    case .setMorphWarp(let w): return "morph warp \((0..<MorphWarp.count).map { String(format: "%.3f", w.positions[$0]) }.joined(separator: ","))"
    case .setMorph(let m): return "morph \(m)"
    case let .setPad(x, y): return "pad \(x) \(y)"
    case .setProgramTable(let t): return "program table \(t.takeUnretainedValue().soundCount) sounds"
    case .setMPESlide(let d): return "mpe slide \(d.map(point) ?? "morph")"
    case let .setKeyPitches(first, p): return "key pitches \(first) \((0..<8).map { String(format: "%.4f", p[$0]) }.joined(separator: ","))"
    case .resetChannelTimbres: return "channels to shared timbre"
    case .setMPEPressure(let d): return "mpe pressure \(d.map(point) ?? "loudness")"
    case .setReleaseVelocity(let m): return "release velocity \(m.target) \(m.minimum) \(m.maximum)"
    case let .setChannelTimbre(channel, p): return "channel \(channel) timbre \(point(p))"
    case .setMPESlideLoudness(let on): return "mpe slide loudness \(on)"
    case .carryOverLiveState(let timbres): return "carry over\(timbres ? "" : " without channel timbres")"
    }
}

/// Collects what a SoundController emits.
final class Recorder {
    var commands: [EngineCommand] = []
    var texts: [String] { commands.map(describe) }
    func take() -> [String] {
        defer { commands.removeAll() }
        return texts
    }
}

class SoundControllerTestCase: XCTestCase {
    var folder = ""
    var model: TimbreModel!
    let recorder = Recorder()

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "sound-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        model = try TimbreModel(contentsOf: Fixtures.smallModel)
        XCTAssertEqual(model.config.zDim, 4)
        try write("a.toml", "name = \"A\"\ninstrument = \"a\"\nprogram = 0\n")
        try write("b.toml", "name = \"B\"\ninstrument = \"b\"\nprogram = 1\nreverb = 0.25\nattack_scale = 2.0\n")
        try write("c.toml", "name = \"C\"\ninstrument = \"c\"\nprogram = 3\nbank = 1\ngain_db = -12.0\n[cc]\n74 = \"latent 1\"\n")
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
    }

    /// A controller with presets A, B (bank 0, programs 0 and 1) and C (bank 1, program 3),
    /// loaded and playing `preset`; the recorder is emptied.
    func controller(_ settings: SoundController.Settings = .init(), preset: String = "A") -> SoundController {
        let recorder = self.recorder
        let sound = SoundController(model: model, presetFolders: [folder], settings: settings) { recorder.commands.append($0) }
        sound.loadPresets()
        sound.start(preset: preset)
        XCTAssertEqual(sound.currentPreset?.name, preset)
        recorder.commands.removeAll()
        return sound
    }

    func point(_ name: String, _ sound: SoundController) -> [Float] { sound.library.find(name)!.point }

    func text(_ p: [Float]) -> String { p.map { String(format: "%.4f", $0) }.joined(separator: ",") }
}

final class SoundControllerTests: SoundControllerTestCase {
    func testProgramChangeSelectsThePresetOfTheBankChosenByBankSelect() {
        let sound = controller()
        // program 40 in bank 0 (GM Violin): no preset of the strings family (A and B, whose
        // instruments are no GM instruments, stand for their own programs 0 and 1)
        sound.handleForwarded(.programChange(channel: 0, program: 40))
        XCTAssertEqual(sound.currentPreset?.name, "A")
        XCTAssertEqual(recorder.take(), [], "a program change with no preset must not change the sound")
        // bank select on another channel does not count for channel 0: program 3 is GM there,
        // the piano family's nearest (B), not C of bank 1
        sound.handleForwarded(.controlChange(channel: 1, controller: 32, value: 1))
        sound.handleForwarded(.programChange(channel: 0, program: 3))
        XCTAssertEqual(sound.currentPreset?.name, "B")
        _ = recorder.take()
        // bank 1 (CC 0 = 0, CC 32 = 1) then program 3: C
        sound.handleForwarded(.controlChange(channel: 0, controller: 0, value: 0))
        sound.handleForwarded(.controlChange(channel: 0, controller: 32, value: 1))
        XCTAssertEqual(recorder.take(), [], "bank select alone changes nothing")
        sound.handleForwarded(.programChange(channel: 0, program: 3))
        XCTAssertEqual(sound.currentPreset?.name, "C")
        XCTAssertEqual(sound.channelPresets[0]?.name, "C", "channel 1 plays C")
        XCTAssertEqual(sound.channelPresetSummary, " (channel 1 C)")
        XCTAssertEqual(sound.sharedPreset?.name, "A", "the other channels still play the preset chosen on the control side")
        XCTAssertEqual(sound.timbre, point("A", sound), "the shared timbre stays")
        XCTAssertEqual(recorder.take(), [], "the engine plays program changes from its program table")
        // bank 1 holds only C: program 0 is its 0th preset
        sound.handleForwarded(.programChange(channel: 0, program: 1))
        XCTAssertEqual(sound.currentPreset?.name, "C", "bank 1 has no second preset")
        sound.handleForwarded(.controlChange(channel: 0, controller: 32, value: 0))
        sound.handleForwarded(.programChange(channel: 0, program: 1))
        XCTAssertEqual(sound.currentPreset?.name, "B")
        // MSB counts 128 banks: CC 0 = 1, CC 32 = 1 is bank 129, which holds no preset: GM
        // there (a variation bank), so program 0 is A
        sound.handleForwarded(.controlChange(channel: 0, controller: 0, value: 1))
        sound.handleForwarded(.controlChange(channel: 0, controller: 32, value: 1))
        sound.handleForwarded(.programChange(channel: 0, program: 0))
        XCTAssertEqual(sound.currentPreset?.name, "A")
        // bank 128 (CC 0 = 1, CC 32 = 0) is FluidSynth's drum bank: no preset
        sound.handleForwarded(.controlChange(channel: 0, controller: 32, value: 0))
        sound.handleForwarded(.programChange(channel: 0, program: 1))
        XCTAssertEqual(sound.currentPreset?.name, "A")
        // a preset chosen on the control side: every channel plays it again
        _ = recorder.take()
        XCTAssertEqual(sound.perform(.preset("B")), .ok("preset B"))
        XCTAssertEqual(sound.channelPresetSummary, "")
        XCTAssertEqual(sound.sharedPreset?.name, "B")
        XCTAssertEqual(Array(recorder.take().prefix(2)), ["timbre \(text(point("B", sound)))", "channels to shared timbre"])
    }

    /// The sound's defaults written in `SoundController.Settings` are the `Setting` table's (the
    /// daemon and render read that one): the reverb mix 0 (dry), gain -6 dB, scales 1, bend 2.
    func testItsSoundDefaultsAreTheSettingTables() {
        let table = SoundController.Settings(DaemonSettings(configPath: "/nonexistent/timbred.toml"))
        let written = SoundController.Settings()
        XCTAssertEqual(written.reverbMix, 0)
        XCTAssertEqual(written.reverbMix, table.reverbMix)
        XCTAssertEqual(written.gainDB, table.gainDB)
        XCTAssertEqual(written.attackScale, table.attackScale)
        XCTAssertEqual(written.releaseScale, table.releaseScale)
        XCTAssertEqual(written.pitchBendRange, table.pitchBendRange)
    }

    func testProgramChangesAreIgnoredWithKeepPreset() {
        var settings = SoundController.Settings()
        settings.keepPreset = true
        let kept = controller(settings, preset: "B")
        for e: MIDIEvent in [.controlChange(channel: 0, controller: 32, value: 1), .programChange(channel: 0, program: 3),
                             .controlChange(channel: 0, controller: 32, value: 0), .programChange(channel: 0, program: 0)] {
            kept.handleForwarded(e)
        }
        XCTAssertEqual(kept.currentPreset?.name, "B")
        XCTAssertEqual(kept.timbre, point("B", kept))
        XCTAssertEqual(recorder.take(), [])
        // the same events without it change presets
        let live = controller(preset: "B")
        live.handleForwarded(.programChange(channel: 0, program: 0))
        XCTAssertEqual(live.currentPreset?.name, "A")
    }

    func testSelectingAPresetEmitsItsSoundThenTheMapChangesInOrder() {
        var settings = SoundController.Settings()
        settings.reverbMix = 0.5
        settings.gainDB = -3
        let sound = controller(settings)
        XCTAssertEqual(sound.perform(.preset("B")), .ok("preset B"))
        let b = point("B", sound)
        // B's own reverb and attack scale; the configured gain and release
        XCTAssertEqual(recorder.take(), ["timbre \(text(b))", "channels to shared timbre", "reverb 0.25", "gain -3.0", "envelope 2.0 1.0"])
        _ = sound.perform(.preset("C"))
        // C maps CC 74 (the defaults' latent 4 does not exist in a 4-dimensional model)
        let (lo, hi) = TargetSpec.latentRange(model.latentMeans, dimension: 1)
        XCTAssertEqual(recorder.take(), ["timbre \(text(point("C", sound)))", "channels to shared timbre", "reverb 0.5", "gain -12.0", "envelope 1.0 1.0",
                                         "map 74 latent(dimension: 1) \(lo) \(hi)"])
        // back to A: CC 74 is unmapped again
        _ = sound.perform(.preset("A"))
        XCTAssertEqual(recorder.texts.last, "map 74 none 0.0 1.0")
        XCTAssertEqual(recorder.texts.count, 6)
    }

    /// A program change emits nothing: the engine switches at the event's sample from the
    /// program table, which holds, per preset, what selecting it sends (its sound, and every
    /// mapped source set to the preset's map), and picks by the same rule the controller logs.
    func testTheProgramTableHoldsWhatAProgramChangePlays() {
        var settings = SoundController.Settings()
        settings.keepPresetChannels = [2]
        let sound = controller(settings)
        let table = sound.programTable
        XCTAssertEqual(table.soundCount, 3)
        XCTAssertEqual(table.choose(channel: 0, bank: 0, program: 1, isDrum: false), .generalMIDI(sound: 1, exact: true))
        XCTAssertEqual(table.choose(channel: 0, bank: 0, program: 40, isDrum: false), .noGeneralMIDIPreset)
        XCTAssertEqual(table.choose(channel: 0, bank: 1, program: 3, isDrum: false), .bankPreset(sound: 2))
        XCTAssertEqual(table.choose(channel: 0, bank: 1, program: 1, isDrum: false), .bankEmpty)
        XCTAssertEqual(table.choose(channel: 0, bank: 129, program: 0, isDrum: false), .generalMIDI(sound: 0, exact: true))
        XCTAssertEqual(table.choose(channel: 2, bank: 0, program: 1, isDrum: false), .kept)
        XCTAssertEqual(table.choose(channel: 0, bank: 0, program: 1, isDrum: true), .drums)
        XCTAssertEqual(table.timbre(ofSound: 2), point("C", sound))
        // an engine given the table switches to C's sound at the program change's sample, as
        // the commands of selecting C would
        let state = sound.stateCommands()
        XCTAssertEqual(state.map(describe).last, "program table 3 sounds")
        sound.handleForwarded(.programChange(channel: 0, program: 1))
        XCTAssertEqual(recorder.take(), [])
        XCTAssertEqual(sound.currentPreset?.name, "B")
        XCTAssertEqual(sound.reverbMix, 0.25)
        // a reload sends a new table (the engine reports it plays it; older ones are freed)
        sound.reloadPresets()
        XCTAssertEqual(recorder.texts.last, "program table 3 sounds")
        XCTAssertGreaterThan(sound.programTable.generation, table.generation)
        sound.engineAdoptedProgramTable(generation: sound.programTable.generation)
    }

    func testStateCommandsCarryTheWholeSoundForAFreshEngine() {
        var settings = SoundController.Settings()
        settings.pitchBendRange = 12
        let sound = controller(settings, preset: "C")
        let state = sound.stateCommands().map(describe)
        XCTAssertEqual(Array(state.prefix(5)), ["timbre \(text(point("C", sound)))", "reverb 0.0", "gain -12.0", "envelope 1.0 1.0",
                                                "bend range 12.0"])
        let maps = state.filter { $0.hasPrefix("map ") }
        // defaults that fit the model (CC 1, 7, 11, 70-73, 91, pressure) and C's CC 74
        XCTAssertEqual(maps.map { $0.split(separator: " ")[1] }, ["1", "7", "11", "70", "71", "72", "73", "74", "91", "pressure"])
        XCTAssertTrue(maps.contains { $0.hasPrefix("map 1 morph") })
        XCTAssertTrue(maps.contains { $0.hasPrefix("map 91 reverbMix 0.0 2.0") })
        XCTAssertEqual(state.filter { $0.hasPrefix("corner ") }.count, 6)
    }

    func testConfiguredMapOverridesTheDefaults() {
        var settings = SoundController.Settings()
        settings.controllerMap = ["1": "pad_x", "91": "none", "20": "gain -20 0"]
        // the controller must outlive `describe`: its program table is sent unretained
        let sound = controller(settings)
        let state = withExtendedLifetime(sound) { sound.stateCommands().map(describe) }
        XCTAssertTrue(state.contains("map 1 padX 0.0 1.0"), "\(state)")
        XCTAssertTrue(state.contains("map 20 gainDB -20.0 0.0"), "\(state)")
        XCTAssertFalse(state.contains { $0.hasPrefix("map 91") }, "\(state)")
    }

    func testCornersComeFromMorphAAndMorphBAndThePadSetting() {
        var settings = SoundController.Settings()
        settings.morphA = "C"
        settings.morphB = "a"  // by instrument
        settings.pad = "B, C, nowhere"
        let recorder = self.recorder
        let sound = SoundController(model: model, presetFolders: [folder], settings: settings) { recorder.commands.append($0) }
        sound.loadPresets()
        let (a, b, c) = (point("A", sound), point("B", sound), point("C", sound))
        XCTAssertEqual(sound.corners[.a], c)
        XCTAssertEqual(sound.corners[.b], a)
        XCTAssertEqual(sound.corners[.padBottomLeft], b)
        XCTAssertEqual(sound.corners[.padBottomRight], c)
        XCTAssertEqual(sound.corners[.padTopLeft], c, "a missing name falls back to the library's third preset (C)")
        XCTAssertEqual(sound.corners[.padTopRight], a, "the fourth preset wraps around to the first")
        XCTAssertEqual(Array(recorder.texts.prefix(6)), [
            "corner a \(text(c))", "corner b \(text(a))", "corner padBottomLeft \(text(b))", "corner padBottomRight \(text(c))",
            "corner padTopLeft \(text(c))", "corner padTopRight \(text(a))",
        ])
        // unset: the first presets in library order
        let plain = controller()
        XCTAssertEqual(plain.corners[.a], a)
        XCTAssertEqual(plain.corners[.b], b)
    }

    func testLearnMapsTheNextControllerAndSavesIt() throws {
        let config = folder + "/timbred.toml"
        try "polyphony = 8\n".write(toFile: config, atomically: true, encoding: .utf8)
        var settings = SoundController.Settings()
        settings.configPath = config
        let sound = controller(settings)
        var armed: [Bool] = []
        sound.learnArmedChanged = { armed.append($0) }
        XCTAssertThrowsError(try sound.armLearn(TargetSpec(parsing: "latent 6")), "the model has 4 dimensions")
        XCTAssertNil(sound.learnTarget)
        try sound.armLearn(TargetSpec(parsing: "latent 2"))
        XCTAssertEqual(armed, [true])
        // bank select and reserved controllers are not learned
        sound.handleForwarded(.controlChange(channel: 0, controller: 0, value: 5))
        sound.handleForwarded(.controlChange(channel: 0, controller: 64, value: 127))
        sound.handleForwarded(.noteOn(channel: 0, note: 60, velocity: 100))
        XCTAssertNotNil(sound.learnTarget)
        XCTAssertEqual(recorder.take(), [])
        sound.handleForwarded(.controlChange(channel: 3, controller: 21, value: 64))
        XCTAssertNil(sound.learnTarget)
        XCTAssertEqual(armed, [true, false])
        let (lo, hi) = TargetSpec.latentRange(model.latentMeans, dimension: 2)
        XCTAssertEqual(recorder.take(), ["map 21 latent(dimension: 2) \(lo) \(hi)", "program table 3 sounds"])
        XCTAssertEqual(sound.configMap["21"], "latent 2")
        let saved = try String(contentsOfFile: config, encoding: .utf8)
        XCTAssertTrue(saved.contains("polyphony = 8") && saved.contains("[cc]") && saved.contains("21 = \"latent 2\""), saved)
        // the learned mapping survives a preset change (it is in the map under every preset)
        sound.handleForwarded(.programChange(channel: 0, program: 1))
        XCTAssertTrue(sound.stateCommands().map(describe).contains("map 21 latent(dimension: 2) \(lo) \(hi)"))
        // pressure can be learned too
        try sound.armLearn(TargetSpec(parsing: "reverb"))
        sound.handleForwarded(.channelPressure(channel: 0, pressure: 10))
        XCTAssertEqual(sound.configMap["pressure"], "reverb")
        XCTAssertTrue(try String(contentsOfFile: config, encoding: .utf8).contains("pressure = \"reverb\""))
        // cancelled: the next knob is not learned
        try sound.armLearn(TargetSpec(parsing: "morph"))
        XCTAssertEqual(sound.perform(.cancelLearn), .ok("learn cancelled"))
        sound.handleForwarded(.controlChange(channel: 0, controller: 22, value: 1))
        XCTAssertNil(sound.configMap["22"])
    }

    func testRequestsChangeTheSoundAndAnswer() {
        let sound = controller()
        XCTAssertEqual(sound.perform(.preset("c")), .ok("preset C"), "names are case-insensitive")
        XCTAssertEqual(sound.perform(.preset("nothing")), .error("no preset nothing (have: A, B, C)"))
        XCTAssertEqual(sound.perform(.latent(dimension: 4, value: 1)), .error("latent dimension 4 is outside 0...3"))
        recorder.commands.removeAll()
        XCTAssertEqual(sound.perform(.latent(dimension: 1, value: 0.5)), .ok("latent 1 = 0.5"))
        XCTAssertEqual(sound.timbre[1], 0.5)
        XCTAssertEqual(sound.perform(.morph(2)), .ok("morph 1.0"))
        XCTAssertEqual(sound.perform(.reverb(0.3)), .ok("reverb 0.3"))
        XCTAssertEqual(sound.reverbMix, 0.3)
        XCTAssertEqual(sound.perform(.release(2)), .ok("release 2.0"))
        XCTAssertEqual(sound.perform(.note(60, velocity: 0, channel: 20)), .ok("note 60 off"))
        XCTAssertEqual(recorder.take(), ["latent 1 0.5", "morph 2.0", "reverb 0.3", "release 2.0",
                                         "midi \(MIDIEvent.noteOn(channel: 15, note: 60, velocity: 0))"])
        if case .error = sound.perform(.status) {} else { XCTFail("status is the daemon's") }
    }

    func testReloadKeepsThePresetPlayingAndTakesANewConfigMap() throws {
        let sound = controller(preset: "B")
        try write("b.toml", "name = \"B\"\ninstrument = \"b\"\nprogram = 1\nreverb = 0.75\n")
        sound.reloadPresets(configMap: ["30": "morph"])
        XCTAssertEqual(sound.currentPreset?.name, "B")
        XCTAssertEqual(sound.reverbMix, 0.75, "the preset playing changed on disk: its new version plays")
        XCTAssertTrue(recorder.texts.contains("map 30 morph 0.0 1.0"), "\(recorder.texts)")
        XCTAssertEqual(sound.configMap["1"], "morph", "the defaults stay under the new table")
    }
}
