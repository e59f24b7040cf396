import Engine
import Foundation
import Inference
import MIDI
import Model

/// What the musician asked the synth to sound like, and what a preset, a bank select + program
/// change, the controller map, the morph and pad corners, MIDI learn and a model reload do to it.
///
/// One type for the live daemon and for `timbred render`: both own one and give it a sink for the
/// `EngineCommand`s it emits (the daemon's pushes them into the playing engine's command ring,
/// render's applies them to its offline engine at the sample of the event that caused them), and
/// both feed it the events the real-time side forwards (program changes, bank selects and, while
/// MIDI learn is armed, controllers and pressure). Controllers themselves are played by the
/// engine's own `ControllerMap` on the audio thread; this type only configures that map.
///
/// Not thread-safe: the daemon's control thread (or render's loop) is its only user.
public final class SoundController {
    /// The settings it reads (a subset of `DaemonSettings`, which `init(_:)` takes them from).
    public struct Settings: Sendable, Equatable {
        /// Sound used when a preset does not set its own; the defaults are the `Setting` table's
        /// (dry: the tone balance, the onset course and the transients are measured on the dry
        /// instrument, and the model's learned room, a 50 ms colouring, put 16 of 54 attacks
        /// outside issue 14's bound, the vibraphone's 0 ms at 45 ms).
        public var reverbMix: Float = 0
        public var gainDB: Float = -6
        public var attackScale: Float = 1
        public var releaseScale: Float = 1
        public var pitchBendRange: Float = 2
        /// Presets at morph positions 0 and 1, and at the pad corners (bottom-left, bottom-right,
        /// top-left, top-right, comma-separated); empty: the first presets of the library.
        public var morphA = ""
        public var morphB = ""
        public var pad = ""
        /// The config file's `[cc]` table (source → target text), over `ControllerMapSpec.defaults`.
        public var controllerMap: [String: String] = [:]
        /// Program changes are ignored on every channel: the preset chosen stays (`timbred
        /// render --keep-preset`).
        public var keepPreset = false
        /// Channels (0…15) whose program changes are ignored (the `keep_preset` setting).
        public var keepPresetChannels: Set<Int> = []
        /// Drums: the drum channel (the `drum_channel` setting; GM channel 10 by default) and drum
        /// or effect banks, whose program changes pick no preset (their notes are not played:
        /// the inputs apply the same filter).
        public var drums = MIDIDrumFilter()
        /// Where MIDI learn saves a mapping (the config file's `[cc]` table); nil: not saved.
        public var configPath: String?
        /// The `tuning` setting (a Scala .scl, optionally ", FILE.kbm"; empty: equal temperament).
        public var tuning = ""
        /// The `mpe` setting: MPE zones from the start ("lower", "upper 7", "lower 7, upper 7"; empty: none).
        public var mpe = ""
        /// The `mpe_slide` setting: "morph" or "latent N [MIN MAX]".
        public var mpeSlide = "morph"
        /// The config file's `[mpe_map]` table: `pressure` ("loudness", "morph" or "latent N
        /// [MIN MAX]") and `release_velocity` ("none" or "release MIN MAX").
        public var mpeMap: [String: String] = [:]

        public init() {}

        /// The sound settings of the daemon's settings (defaults ← config file ← flags).
        public init(_ s: DaemonSettings) {
            reverbMix = Float(s.number(.reverb))
            gainDB = Float(s.number(.gainDB))
            attackScale = Float(s.number(.attackScale))
            releaseScale = Float(s.number(.releaseScale))
            pitchBendRange = Float(s.number(.pitchBendRange))
            morphA = s.string(.morphA)
            morphB = s.string(.morphB)
            pad = s.string(.pad)
            controllerMap = s.controllerMap
            configPath = s.configPath
            keepPresetChannels = s.keepPresetChannels
            drums = s.drumFilter
            tuning = s.string(.tuning)
            mpe = s.string(.mpe)
            mpeSlide = s.string(.mpeSlide)
            mpeMap = s.mpeMap
        }
    }

    /// Receives every command, in the order emitted.
    public typealias Sink = (EngineCommand) -> Void

    public private(set) var settings: Settings
    public private(set) var model: TimbreModel
    public private(set) var library: PresetLibrary
    /// The preset chosen last, on the control side or by a program change on any channel (nil
    /// before the first is chosen).
    public private(set) var currentPreset: LoadedPreset?
    /// The preset chosen on the control side (`preset` request, OSC, the `preset` setting,
    /// `render --preset`): every channel without a program change of its own plays it.
    public private(set) var sharedPreset: LoadedPreset?
    /// Per channel (0…15): the preset its last program change chose, nil while it plays the
    /// shared sound. A preset chosen on the control side clears them all.
    public private(set) var channelPresets = [LoadedPreset?](repeating: nil, count: 16)
    /// The channels playing a preset of their own, for a status line: " (channel 2 Violin,
    /// channel 3 Flute)", or "" when every channel plays the shared preset.
    public var channelPresetSummary: String {
        let own = channelPresets.enumerated().compactMap { c, p in p.map { "channel \(c + 1) \($0.name)" } }
        return own.isEmpty ? "" : " (\(own.joined(separator: ", ")))"
    }
    /// The shared timbre target: the shared preset's point, moved by requests and (as the engine
    /// reports) knobs on channels without a preset of their own.
    public private(set) var timbre: [Float]
    public private(set) var reverbMix: Float
    public private(set) var gainDB: Float
    public private(set) var attackScale: Float
    public private(set) var releaseScale: Float
    /// The map sent to the engine (unmapped sources left out), and the targets it came from.
    public private(set) var mappings: [ControllerSource: ControllerMapping] = [:]
    public private(set) var targets: [ControllerSource: TargetSpec] = [:]
    /// Morph ends and pad corners sent to the engine.
    public private(set) var corners: [MorphCorner: [Float]] = [:]
    /// The morph knob's warp along A → B (`MorphProfile`), sent after the corners.
    public private(set) var morphWarp = MorphWarp.identity
    /// Milliseconds the last corner change spent computing `morphWarp`.
    public private(set) var morphWarpMilliseconds = 0.0
    /// The line `morphWarp` was computed for (A, B): a reload that leaves both ends where they
    /// were keeps the warp.
    private var morphWarpLine: (a: [Float], b: [Float])?
    /// The decoder `MorphProfile` runs on, built once per model: building one packs the weights
    /// again, and the heap keeps megabytes of what a daemon that rebuilt it on every preset
    /// reload freed (the soak's RSS grew 5.8 MB over five reloads).
    private var profileDecoder: Decoder?
    /// The model's settled decoder states (`SettledState`), decoded once per model on
    /// `profileDecoder` for every warp `MorphProfile` computes.
    private var profileSettled: [Float]?
    /// Defaults, then the config file's `[cc]` table, then what MIDI learn added.
    public private(set) var configMap: [String: String]
    /// The target MIDI learn maps the next controller moved to (nil: not armed).
    public private(set) var learnTarget: TargetSpec?
    /// Bank select per channel: CC 0 (MSB) and CC 32 (LSB).
    public private(set) var bankMSB = [Int](repeating: 0, count: 16)
    public private(set) var bankLSB = [Int](repeating: 0, count: 16)
    /// Which channels play drums now (follows the bank selects and program changes forwarded).
    public private(set) var drums: MIDIDrumFilter
    /// What program changes chose, already logged (one line per channel, bank and program).
    private var announced: Set<String> = []
    /// What bank select + program change play, for the engine (rebuilt when the presets, the
    /// model or the map change) and for this controller's own record of the preset playing.
    public private(set) var programTable: ProgramTable
    /// Tables sent that an engine may still read (the engine holds them unretained); freed once
    /// the engine reports it plays a newer one.
    private var tablesInUse: [ProgramTable] = []

    /// Called when MIDI learn is armed or disarmed (the daemon then has its process thread
    /// forward controllers, or stop doing so).
    public var learnArmedChanged: ((Bool) -> Void)?

    private let sink: Sink

    /// A controller for `model` with the presets of `folders` (not loaded yet: `loadPresets`).
    public init(model: TimbreModel, presetFolders: [String], settings: Settings, sink: @escaping Sink) {
        self.settings = settings
        self.model = model
        self.sink = sink
        library = PresetLibrary(folders: presetFolders, model: model)
        timbre = model.latentMeans.first ?? []
        reverbMix = settings.reverbMix
        gainDB = settings.gainDB
        attackScale = settings.attackScale
        releaseScale = settings.releaseScale
        configMap = ControllerMapSpec.defaults.merging(settings.controllerMap) { _, file in file }
        drums = settings.drums
        programTable = ProgramTable(generation: 0, sounds: [], generalMIDI: [], banks: [:], keepAll: true, keepChannels: [],
                                    drumChannel: -1)
    }

    // MARK: - starting

    /// Loads the preset folders (one warning per preset skipped), sets up the morph and pad
    /// corners and the controller map (logged once).
    public func loadPresets() {
        for problem in library.reload() { Log.warning(problem) }
        Log.info("\(library.presets.count) presets: \(library.presets.map(\.name).joined(separator: ", "))")
        setUpCorners()
        resolveMap(for: nil, announce: true)
        sendProgramTable()
    }

    /// Plays the preset named `name` (by name, file stem, instrument or index), else (with a
    /// warning when a name was given) the first preset.
    public func start(preset name: String) {
        if !name.isEmpty, let p = library.find(name) {
            select(p)
        } else {
            if !name.isEmpty { Log.warning("no preset named \(name); starting with \(library.presets.first?.name ?? "the first instrument")") }
            if let p = library.presets.first { select(p) }
        }
    }

    /// The keyboard's tuning (128 key pitches in semitones) from the `tuning` setting; nil:
    /// equal temperament.
    public private(set) var keyPitches: [Double]?

    /// Loads the Scala tuning `setting` names (the settings' `tuning` when nil) and sends it to
    /// the engine. A file that cannot be read or parsed is refused with one line naming it and
    /// the problem (unless `logFailure` is false), and the tuning playing stays. Returns the
    /// error, nil on success.
    @discardableResult
    public func loadTuning(_ setting: String? = nil, logFailure: Bool = true) -> TuningFileError? {
        let text = setting ?? settings.tuning
        let base = settings.configPath.map { ($0 as NSString).deletingLastPathComponent }
        do {
            let tuning = try ScalaTuning.load(setting: text, relativeTo: base)
            settings.tuning = text
            keyPitches = tuning?.keyPitches
            for command in Self.keyPitchCommands(keyPitches) { sink(command) }
            if let tuning {
                Log.info("tuning: \(text) (\(tuning.cents.count) notes per period\(tuning.description.isEmpty ? "" : ": " + tuning.description))")
            } else if setting != nil {
                Log.info("tuning: 12-tone equal temperament")
            }
            return nil
        } catch {
            if logFailure { Log.warning("\(error) (the tuning playing is kept)") }
            return error
        }
    }

    /// The MPE Configuration Messages (RPN 0,6, then the null RPN) the `mpe` setting asks for;
    /// none when it is empty or cannot be read (the daemon warns and render refuses at the start).
    public var mpeCommands: [EngineCommand] {
        guard let zones = try? MPEZoneSetting(settings.mpe) else { return [] }
        var out: [EngineCommand] = []
        for (manager, members) in [(UInt8(0), zones.lower), (UInt8(15), zones.upper)] where members > 0 {
            for (cc, value) in [(UInt8(101), UInt8(0)), (100, 6), (6, UInt8(members)), (101, 127), (100, 127)] {
                out.append(.midi(.controlChange(channel: manager, controller: cc, value: value)))
            }
        }
        return out
    }

    /// Where an MPE note's slide moves its timbre (the `mpe_slide` setting): nil direction for
    /// the morph axis, else half the range of the latent dimension named (its default range,
    /// the instruments' spread on it, or the one given).
    public var mpeSlideCommand: EngineCommand {
        let text = settings.mpeSlide.trimmingCharacters(in: .whitespaces)
        if text.isEmpty || text == "morph" { return .setMPESlide(nil) }
        let resolved = ControllerMapSpec.resolve(["74": text], latentMeans: model.latentMeans)
        guard resolved.errors.isEmpty, let mapping = resolved.mappings[.controller(74)],
              case let .latent(d) = mapping.target, d < model.config.zDim else {
            return .setMPESlide(nil)
        }
        var direction = [Float](repeating: 0, count: model.config.zDim)
        direction[d] = (mapping.maximum - mapping.minimum) / 2
        return .setMPESlide(LatentPoint(direction))
    }

    /// What the `[mpe_map]` table asks for: the engine commands (none for the defaults, pressure
    /// on loudness, slide as the `mpe_slide` setting says, release velocity unused) and one line
    /// per entry it cannot read.
    public var mpeMapCommands: (commands: [EngineCommand], problems: [String]) {
        var commands: [EngineCommand] = [], problems: [String] = []
        for (key, raw) in settings.mpeMap.sorted(by: { $0.key < $1.key }) {
            let text = raw.trimmingCharacters(in: .whitespaces)
            switch key {
            case "slide":
                // CC 74 on a member channel: the note's loudness, or a direction of its own timbre
                if text == "loudness" { commands.append(.setMPESlideLoudness(true)); continue }
                if text == "none" { commands += [.setMPESlideLoudness(false), .setMPESlide(LatentPoint([Float](repeating: 0, count: model.config.zDim)))]; continue }
                if text.isEmpty || text == "morph" { commands += [.setMPESlideLoudness(false), .setMPESlide(nil)]; continue }
                let resolved = ControllerMapSpec.resolve(["74": text], latentMeans: model.latentMeans)
                guard resolved.errors.isEmpty, let mapping = resolved.mappings[.controller(74)], case let .latent(d) = mapping.target,
                      d < model.config.zDim else {
                    problems.append("mpe_map: slide must be \"morph\", \"latent N [MIN MAX]\" with a dimension of the model, \"loudness\" or \"none\", not \"\(raw)\"")
                    continue
                }
                var direction = [Float](repeating: 0, count: model.config.zDim)
                direction[d] = (mapping.maximum - mapping.minimum) / 2
                commands += [.setMPESlideLoudness(false), .setMPESlide(LatentPoint(direction))]
            case "pressure":
                if text.isEmpty || text == "loudness" { continue }
                if text == "morph" {
                    guard let a = corners[.a], let b = corners[.b] else { problems.append("mpe_map: pressure = \"morph\" needs presets"); continue }
                    commands.append(.setMPEPressure(LatentPoint(zip(a, b).map { $1 - $0 })))
                    continue
                }
                let resolved = ControllerMapSpec.resolve(["74": text], latentMeans: model.latentMeans)
                guard resolved.errors.isEmpty, let mapping = resolved.mappings[.controller(74)], case let .latent(d) = mapping.target,
                      d < model.config.zDim else {
                    problems.append("mpe_map: pressure must be \"loudness\", \"morph\" or \"latent N [MIN MAX]\" with a dimension of the model, not \"\(raw)\"")
                    continue
                }
                var direction = [Float](repeating: 0, count: model.config.zDim)
                direction[d] = (mapping.maximum - mapping.minimum) / 2
                commands.append(.setMPEPressure(LatentPoint(direction)))
            case "release_velocity":
                if text.isEmpty || text == "none" { continue }
                let resolved = ControllerMapSpec.resolve(["1": text], latentMeans: model.latentMeans)
                guard resolved.errors.isEmpty, let mapping = resolved.mappings[.controller(1)], mapping.target == .releaseScale else {
                    problems.append("mpe_map: release_velocity must be \"none\" or \"release MIN MAX\", not \"\(raw)\"")
                    continue
                }
                commands.append(.setReleaseVelocity(mapping))
            default:
                problems.append("mpe_map: no per-note expression \(key) (have: pressure, slide, release_velocity)")
            }
        }
        return (commands, problems)
    }

    /// Replaces the `[mpe_map]` table (SIGHUP: the config file read again): every per-note route
    /// goes back to its default (pressure on loudness, slide as the `mpe_slide` setting says,
    /// release velocity unused), then the table's entries apply; each entry it cannot read is
    /// one warning, and that entry is ignored.
    public func replaceMPEMap(_ map: [String: String]) {
        settings.mpeMap = map
        let (commands, problems) = mpeMapCommands
        for problem in problems { Log.warning("\(problem); that entry is ignored") }
        for c in [.setMPEPressure(nil), .setReleaseVelocity(.unmapped), .setMPESlideLoudness(false), mpeSlideCommand] + commands { sink(c) }
    }

    /// The problem with the `mpe` or `mpe_slide` setting or the `[mpe_map]` table, as one line;
    /// nil when all are fine.
    public var mpeSettingProblem: String? {
        do {
            _ = try MPEZoneSetting(settings.mpe)
        } catch {
            return error.message
        }
        if let problem = mpeMapCommands.problems.first { return problem }
        let text = settings.mpeSlide.trimmingCharacters(in: .whitespaces)
        if text.isEmpty || text == "morph" { return nil }
        let resolved = ControllerMapSpec.resolve(["74": text], latentMeans: model.latentMeans)
        if let mapping = resolved.mappings[.controller(74)], resolved.errors.isEmpty, case .latent = mapping.target { return nil }
        return "mpe_slide must be \"morph\" or \"latent N [MIN MAX]\" with a dimension of the model, not \"\(text)\""
            + (resolved.errors.first.map { " (\($0))" } ?? "")
    }

    /// The 16 commands that set the engine's key table (nil: equal temperament).
    public static func keyPitchCommands(_ pitches: [Double]?) -> [EngineCommand] {
        stride(from: 0, to: 128, by: 8).map { first in
            var v = SIMD8<Double>()
            for i in 0..<8 { v[i] = pitches?[first + i] ?? Double(first + i) }
            return .setKeyPitches(first: UInt8(first), pitches: v)
        }
    }

    /// Every command a fresh engine needs to sound as asked (sent before it plays).
    public func stateCommands() -> [EngineCommand] {
        var commands: [EngineCommand] = [
            .setTimbre(LatentPoint(timbre)), .setReverbMix(reverbMix), .setGainDB(gainDB),
            .setEnvelopeScale(attack: attackScale, release: releaseScale),
            .setPitchBendRange(semitones: settings.pitchBendRange),
        ]
        for (source, mapping) in mappings.sorted(by: { $0.key.slot < $1.key.slot }) {
            commands.append(.mapController(source: source, mapping: mapping))
        }
        for (corner, point) in corners.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            commands.append(.setMorphPoint(corner: corner, point: LatentPoint(point)))
        }
        commands.append(.setMorphWarp(morphWarp))
        commands.append(.setProgramTable(Unmanaged.passUnretained(programTable)))
        if keyPitches != nil { commands += Self.keyPitchCommands(keyPitches) }
        commands += mpeCommands
        if case .setMPESlide(.some) = mpeSlideCommand { commands.append(mpeSlideCommand) }  // a fresh engine slides along the morph axis
        commands += mpeMapCommands.commands  // a fresh engine plays pressure as loudness and ignores release velocity
        // the presets program changes gave channels (a new engine for a new model: their points in its space)
        for (c, preset) in channelPresets.enumerated() {
            if let preset, preset.point.count == model.config.zDim {
                commands.append(.setChannelTimbre(channel: UInt8(c), LatentPoint(preset.point)))
            }
        }
        return commands
    }

    // MARK: - the program table

    /// Builds the program table for the presets, model and map now in force and sends it.
    private func sendProgramTable() {
        let presets = library.presets
        let resolve = { (preset: LoadedPreset?) in
            ControllerMapSpec.resolve(self.configMap.merging(preset?.controllerMap ?? [:]) { _, p in p },
                                      latentMeans: self.model.latentMeans, skipMissingDimensions: true).mappings
        }
        let maps = presets.map { resolve($0) }
        // every source mapped by the configured map or by any preset: each sound sets them all
        var used = Set(resolve(nil).filter { $0.value.target != .none }.keys)
        for m in maps { used.formUnion(m.filter { $0.value.target != .none }.keys) }
        let sources = used.sorted { $0.slot < $1.slot }
        let sounds = zip(presets, maps).map { p, map in
            ProgramTable.Sound(timbre: p.point, reverbMix: p.preset.reverbMix ?? settings.reverbMix,
                               gainDB: p.preset.gainDB ?? settings.gainDB, attackScale: p.preset.attackScale ?? settings.attackScale,
                               releaseScale: p.preset.releaseScale ?? settings.releaseScale,
                               mappings: sources.map { ($0, map[$0] ?? .unmapped) })
        }
        let generalMIDI: [(sound: Int, exact: Bool)?] = (0..<128).map { program in
            guard let (p, exact) = library.generalMIDIPreset(program: program), let i = presets.firstIndex(of: p) else { return nil }
            return (i, exact)
        }
        var banks: [Int: [Int?]] = [:]
        for bank in Set(presets.map(\.bank)) where bank != 0 {
            banks[bank] = (0..<128).map { program in library.preset(bank: bank, program: program).flatMap { presets.firstIndex(of: $0) } }
        }
        let table = ProgramTable(generation: programTable.generation + 1, sounds: sounds, generalMIDI: generalMIDI, banks: banks,
                                 keepAll: settings.keepPreset, keepChannels: settings.keepPresetChannels,
                                 drumChannel: settings.drums.drumChannel)
        programTable = table
        tablesInUse.append(table)
        sink(.setProgramTable(Unmanaged.passUnretained(table)))
    }

    /// The engine reported that it plays program changes from the table of `generation`: older
    /// tables are freed.
    public func engineAdoptedProgramTable(generation: Int) {
        tablesInUse.removeAll { $0.generation < generation && $0 !== programTable }
    }

    // MARK: - presets

    /// Plays a preset: its timbre point, its sound settings (or the configured ones), its map.
    public func select(_ preset: LoadedPreset) { select(preset, announce: true) }

    /// `announce`: log "preset: NAME" (a program change logs it only when the preset changes).
    /// `send`: emit the commands (a program change does not: the engine has applied it at its
    /// sample from the program table, the same sound these commands would carry).
    private func select(_ preset: LoadedPreset, announce: Bool, send: Bool = true) {
        currentPreset = preset
        if send {
            // chosen on the control side: the shared sound, which every channel plays again
            sharedPreset = preset
            timbre = preset.point
            channelPresets = .init(repeating: nil, count: 16)
        }
        reverbMix = preset.preset.reverbMix ?? settings.reverbMix
        gainDB = preset.preset.gainDB ?? settings.gainDB
        attackScale = preset.preset.attackScale ?? settings.attackScale
        releaseScale = preset.preset.releaseScale ?? settings.releaseScale
        if send {
            sink(.setTimbre(LatentPoint(timbre)))
            sink(.resetChannelTimbres)
            sink(.setReverbMix(reverbMix))
            sink(.setGainDB(gainDB))
            sink(.setEnvelopeScale(attack: attackScale, release: releaseScale))
        }
        resolveMap(for: preset, announce: false, send: send)
        if announce { Log.info("preset: \(preset.name)") }
    }

    /// Moves the whole timbre target to `point` (the model's dimension), keeping the preset's
    /// other settings (`timbred render --latent` and `--morph`).
    public func moveTimbre(to point: [Float]) {
        timbre = point
        sink(.setTimbre(LatentPoint(point)))
    }

    /// The engine reported where the timbre target is now (knobs move it on the audio thread).
    public func engineReportedTimbre(_ point: [Float]) { timbre = point }

    /// Reloads the preset folders (and replaces the config file's `[cc]` table when `configMap`
    /// is given: SIGHUP). Invalid files are skipped with one line each; the sound playing keeps
    /// playing, or plays its preset's new version.
    public func reloadPresets(configMap fileMap: [String: String]? = nil) {
        if let fileMap { configMap = ControllerMapSpec.defaults.merging(fileMap) { _, file in file } }
        for problem in library.reload() { Log.warning(problem) }
        Log.info("presets reloaded: \(library.presets.count) (\(library.presets.map(\.name).joined(separator: ", ")))")
        setUpCorners()
        if let current = sharedPreset ?? currentPreset, let again = library.find(current.name) {
            if again != current { select(again) } else { resolveMap(for: again, announce: false) }
        } else {
            resolveMap(for: currentPreset, announce: false)
        }
        sendProgramTable()
    }

    /// A new model (already loaded and checked): the presets resolved against it, the corners
    /// and the map again, the shared preset (by name) or the first selected, and each channel's
    /// own preset found again by name (a channel whose preset the new model lacks plays the
    /// shared one). The owner builds an engine for the model and sends it `stateCommands()`.
    public func replaceModel(_ fresh: TimbreModel) {
        model = fresh
        profileDecoder = nil
        profileSettled = nil
        morphWarpLine = nil
        library = PresetLibrary(folders: library.folders, model: fresh)
        for problem in library.reload() { Log.warning(problem) }
        setUpCorners()
        let own = channelPresets
        if let current = sharedPreset ?? currentPreset, let again = library.find(current.name) {
            select(again)
        } else if let first = library.presets.first {
            select(first)
        }
        channelPresets = own.map { $0.flatMap { library.find($0.name) } }
        sendProgramTable()
    }

    // MARK: - events forwarded by the real-time side

    /// A program change, bank select (CC 0 / 32), or (while MIDI learn is armed) a controller
    /// or pressure event, in the order they were played. Other events are ignored.
    public func handleForwarded(_ event: MIDIEvent) {
        switch event {
        case let .controlChange(channel, controller, value) where controller == 0 || controller == 32:
            if controller == 0 { bankMSB[Int(channel & 0x0F)] = Int(value) } else { bankLSB[Int(channel & 0x0F)] = Int(value) }
            _ = drums.accepts(event)
            if learnTarget != nil { return }
        case let .programChange(channel, program):
            _ = drums.accepts(event)
            programChange(channel: Int(channel & 0x0F), program: Int(program))
            return
        default:
            break
        }
        guard let target = learnTarget else { return }
        let source: ControllerSource
        switch event {
        case let .controlChange(_, controller, _): source = .controller(controller)
        case .channelPressure: source = .channelPressure
        case .polyPressure: source = .polyPressure
        default: return
        }
        guard !source.isReserved else { return }
        learn(source, target)
    }

    /// What a program change on `channel` (0…15) picks, by the program table's rule
    /// (`ProgramTable.choose`, which the engine applies at the event's sample): nothing on a
    /// channel whose preset is kept (`keep_preset`, `--keep-preset`) or that plays drums (the drum
    /// channel, or a drum or effect bank selected); in a bank that holds presets of the user's own
    /// (bank ≥ 1), the one with that program number, else the bank's program-th; otherwise (bank
    /// 0, or a GS/XG/GM2 variation bank nobody's presets use) the preset standing for that General
    /// MIDI program, else the nearest of its GM family (`PresetLibrary.generalMIDIPreset`), else
    /// nothing. The preset plays on that channel only (the engine gives the channel its own
    /// timbre target; reverb, gain, envelope scales and map stay engine-wide, from the latest
    /// choice). What it chose is logged once per channel, bank and program (notice); this
    /// controller's record of the sound follows (no commands: the engine has switched already).
    private func programChange(channel c: Int, program: Int) {
        let bank = bankMSB[c] * 128 + bankLSB[c]
        let part = "channel \(c + 1): program \(program)"
        func once(_ key: String, _ line: @autoclosure () -> String) {
            if announced.insert("\(c) \(key)").inserted { Log.notice(line()) }
        }
        let presets = library.presets
        let gm = "\(part) (GM \(program + 1) \(GeneralMIDI.name(of: program))\(bank != 0 ? ", bank \(bank)" : ""))"
        let family = GeneralMIDI.familyNames[GeneralMIDI.family(of: program)]
        let choice = programTable.choose(channel: UInt8(c), bank: bank, program: UInt8(program), isDrum: drums.isDrum(channel: UInt8(c)))
        let playing = (channelPresets[c] ?? sharedPreset)?.name ?? "the sound"
        switch choice {
        case .kept:
            once("kept", "\(part) ignored: program changes keep the preset (keep_preset); further ones are not logged")
        case .drums:
            let why = c == drums.drumChannel ? "the drum channel (drum_channel)" : "drums or effects (bank \(bank))"
            once("drums \(bank)", "channel \(c + 1) plays \(why): its notes are not played")
        case .bankPreset(let i) where i < presets.count:
            once("\(bank) \(program)", "\(part) of bank \(bank): \(presets[i].name)")
            channelPresets[c] = presets[i]
            select(presets[i], announce: presets[i].name != currentPreset?.name, send: false)
        case .bankEmpty:
            once("\(bank) \(program)", "\(part) of bank \(bank): no preset there; \(playing) keeps playing")
        case let .generalMIDI(i, exact) where i < presets.count:
            once("\(bank) \(program)", exact ? "\(gm): \(presets[i].name)" : "\(gm): \(presets[i].name), the nearest of the \(family) family")
            channelPresets[c] = presets[i]
            select(presets[i], announce: presets[i].name != currentPreset?.name, send: false)
        case .noGeneralMIDIPreset, .bankPreset, .generalMIDI:
            once("\(bank) \(program)", "\(gm): no preset in the \(family) family; \(playing) keeps playing")
        }
    }

    /// True for the events the real-time side forwards to the control side: program changes,
    /// bank selects, and (while learn is armed) controllers and pressure.
    /// (`MIDIEvent.isForwardedToControl`, the rule the JACK process thread applies.)
    public static func isForwarded(_ event: MIDIEvent, learning: Bool) -> Bool {
        event.isForwardedToControl(learning: learning)
    }

    // MARK: - the controller map

    /// The map now in force: defaults, the config file's [cc], the preset's [cc]; sends the
    /// entries that changed.
    private func resolveMap(for preset: LoadedPreset?, announce: Bool, send: Bool = true) {
        let entries = configMap.merging(preset?.controllerMap ?? [:]) { _, p in p }
        let resolved = ControllerMapSpec.resolve(entries, latentMeans: model.latentMeans, skipMissingDimensions: true)
        for e in resolved.errors { Log.warning(e) }
        for source in Set(mappings.keys).union(resolved.mappings.keys).sorted(by: { $0.slot < $1.slot }) {
            let new = resolved.mappings[source] ?? .unmapped
            if send && mappings[source] != new { sink(.mapController(source: source, mapping: new)) }
        }
        mappings = resolved.mappings.filter { $0.value.target != .none }
        targets = resolved.targets
        if announce {
            let text = targets.sorted { $0.key.slot < $1.key.slot }
                .map { "\(ControllerMapSpec.key($0.key))→\($0.value)" }.joined(separator: ", ")
            Log.info("controller map: \(text)")
        }
    }

    /// Morph ends and pad corners: the configured presets, else the first ones in the library.
    private func setUpCorners() {
        let presets = library.presets
        guard !presets.isEmpty else { return }
        func pick(_ name: String, _ fallback: Int) -> LoadedPreset {
            if !name.isEmpty {
                if let p = library.find(name) { return p }
                Log.warning("morph/pad preset \(name) not found; using \(presets[fallback % presets.count].name)")
            }
            return presets[fallback % presets.count]
        }
        var chosen: [MorphCorner: LoadedPreset] = [.a: pick(settings.morphA, 0), .b: pick(settings.morphB, 1)]
        let pad = settings.pad.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let padCorners: [MorphCorner] = [.padBottomLeft, .padBottomRight, .padTopLeft, .padTopRight]
        for (i, corner) in padCorners.enumerated() { chosen[corner] = pick(i < pad.count ? pad[i] : "", i) }
        for (corner, p) in chosen.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            corners[corner] = p.point
            sink(.setMorphPoint(corner: corner, point: LatentPoint(p.point)))
        }
        let a = chosen[.a]!.point, b = chosen[.b]!.point
        if morphWarpLine?.a != a || morphWarpLine?.b != b {
            let start = DispatchTime.now().uptimeNanoseconds
            if profileDecoder == nil {
                // batches of the profile's points and of the instruments' settled states
                profileDecoder = Decoder(weights: model.decoderWeights,
                                         maxBatch: max(MorphProfile.points, model.config.instrumentCount))
            }
            if profileSettled == nil { profileSettled = SettledState.states(model: model, decoder: profileDecoder) }
            morphWarp = MorphProfile.warp(model: model, decoder: profileDecoder, settled: profileSettled, from: a, to: b)
            morphWarpMilliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            morphWarpLine = (a, b)
        }
        sink(.setMorphWarp(morphWarp))
        let tilts = [morphWarp.tilts.low, morphWarp.tilts.middle, morphWarp.tilts.high].map { t in
            let v = (0..<MorphTilt.count).map { t.dBPerOctave[$0] }
            return String(format: "%+.1f…%+.1f", v.min() ?? 0, v.max() ?? 0)
        }
        Log.info("morph: \(chosen[.a]!.name) ↔ \(chosen[.b]!.name) (path warp \(String(format: "%.0f", morphWarpMilliseconds)) ms; "
                 + "brightness tilt at A3, A4, A5 \(tilts.joined(separator: ", ")) dB/octave); pad: "
                 + padCorners.map { chosen[$0]!.name }.joined(separator: ", "))
    }

    // MARK: - control requests

    /// Applies a request that changes the sound (preset, latent, morph, pad, reverb, gain,
    /// attack, release, panic, note, learn) and returns the reply. The daemon's own requests
    /// (status, load, reload, model reload) are answered with an error here.
    public func perform(_ request: ControlRequest) -> ControlReply {
        switch request {
        case .preset(let key):
            guard let p = library.find(key) else {
                return .error("no preset \(key) (have: \(library.presets.map(\.name).joined(separator: ", ")))")
            }
            select(p)
            return .ok("preset \(p.name)")
        case let .latent(d, v):
            guard d >= 0, d < model.config.zDim else { return .error("latent dimension \(d) is outside 0...\(model.config.zDim - 1)") }
            sink(.setLatentDimension(index: d, value: v))
            if d < timbre.count { timbre[d] = v }
            return .ok("latent \(d) = \(v)")
        case .morph(let m):
            sink(.setMorph(m))
            return .ok("morph \(min(max(m, 0), 1))")
        case let .pad(x, y):
            sink(.setPad(x: x, y: y))
            return .ok("pad \(min(max(x, 0), 1)) \(min(max(y, 0), 1))")
        case .reverb(let m):
            reverbMix = m
            sink(.setReverbMix(m))
            return .ok("reverb \(m)")
        case .gain(let g):
            gainDB = g
            sink(.setGainDB(g))
            return .ok("gain \(g) dB")
        case .attack(let s):
            attackScale = s
            sink(.setAttackScale(s))
            return .ok("attack \(s)")
        case .release(let s):
            releaseScale = s
            sink(.setReleaseScale(s))
            return .ok("release \(s)")
        case .panic:
            sink(.panic)
            return .ok("panic")
        case let .note(n, velocity, channel):
            let v = UInt8(max(0, min(127, velocity ?? 100))), c = UInt8(max(0, min(15, channel ?? 0)))
            sink(.midi(.noteOn(channel: c, note: UInt8(max(0, min(127, n))), velocity: v)))
            return .ok(v == 0 ? "note \(n) off" : "note \(n) on")
        case .learn(let target):
            do {
                try armLearn(target)
                return .ok("learn \(target): move a knob")
            } catch {
                return .error("\(error)")
            }
        case .cancelLearn:
            cancelLearn()
            return .ok("learn cancelled")
        case .status, .load, .reload, .reloadModel:
            return .error("\(request.path) is answered by the daemon, not the sound")
        }
    }

    // MARK: - MIDI learn

    /// Arms MIDI learn: the next controller or pressure moved is mapped to `target`.
    /// - Throws: `ControllerMapError` when the target does not fit the model.
    public func armLearn(_ target: TargetSpec) throws(ControllerMapError) {
        _ = try target.mapping(latentMeans: model.latentMeans)
        learnTarget = target
        learnArmedChanged?(true)
        Log.info("MIDI learn armed for \(target): move a knob")
    }

    /// Disarms MIDI learn.
    public func cancelLearn() {
        learnTarget = nil
        learnArmedChanged?(false)
    }

    private func learn(_ source: ControllerSource, _ target: TargetSpec) {
        learnTarget = nil
        learnArmedChanged?(false)
        let key = ControllerMapSpec.key(source)
        configMap[key] = target.description
        resolveMap(for: currentPreset, announce: false)
        sendProgramTable()
        let name = key == "pressure" || key == "poly_pressure" ? key : "CC \(key)"
        guard let path = settings.configPath else {
            Log.info("MIDI learn: \(name) → \(target)")
            return
        }
        do {
            try ConfigFileEditor.saveControllerMapping(key: key, target: target.description, path: path)
            Log.info("MIDI learn: \(name) → \(target) (saved to \(path))")
        } catch {
            Log.warning("MIDI learn: \(key) → \(target), but the config file \(path) could not be written: \(error)")
        }
    }
}
