import Engine
import MIDI
import Model

/// Commands a `SoundController` emitted and nobody has applied yet (render's sink).
public final class CommandQueue {
    public private(set) var commands: [EngineCommand] = []
    public init() {}
    public func append(_ command: EngineCommand) { commands.append(command) }
    /// The commands queued, oldest first; the queue is empty afterwards.
    public func take() -> [EngineCommand] {
        defer { commands.removeAll(keepingCapacity: true) }
        return commands
    }
}

/// A preset asked for by name that the library does not hold. Prints as one line.
public struct PresetNotFound: Error, Equatable, CustomStringConvertible {
    public let name: String
    public let available: [String]
    public var description: String { "no preset named \(name) (have: \(available.joined(separator: ", ")))" }
}

extension EngineSettings {
    /// The engine the daemon prepares for JACK's rate and period, and render for its rate and
    /// block: polyphony and timbre glide from the settings; all-sound-off and stolen voices fade
    /// within one block (3 ms at most).
    public init(_ s: DaemonSettings, sampleRate: Int, blockFrames: Int) {
        self.init()
        self.sampleRate = Double(sampleRate)
        maxBlockFrames = blockFrames
        polyphony = s.integer(.polyphony)
        reverbPartition = 128
        timbreSmoothingSeconds = s.number(.timbreGlideMs) / 1000
        fadeSeconds = min(0.003, 0.9 * Double(blockFrames) / Double(sampleRate))
        decoderThread = s.bool(.decoderThread)
    }
}

/// Plays timed MIDI through an engine in a plain loop (`timbred render`), the way the daemon
/// plays it live: every event goes to the engine at its sample (so the engine's own controller
/// map plays the knobs and its program table the program changes), in blocks of the engine's
/// size on a fixed grid from sample 0, as JACK's periods are (never split at an event: the
/// engine places events inside a block itself); the events the daemon's process thread forwards
/// to its control thread (program changes, bank selects) also go to the same `SoundController`,
/// which logs what they chose and keeps its record of the sound.
public final class OfflineRenderer {
    public let engine: Engine
    public let sound: SoundController
    private let queue: CommandQueue
    /// Only the events it accepts play and are forwarded (the daemon's `channel` setting, as
    /// the JACK process thread filters live).
    public var channelFilter: MIDIChannelFilter
    /// Note-ons on drum channels do not play (the `drum_channel` setting, drum and effect
    /// banks), as the JACK process thread filters live.
    public var drumFilter: MIDIDrumFilter

    /// An engine built for `sound`'s current sound (`Engine(timbre: sound.timbre, gainDB:
    /// sound.gainDB)`); `queue` is `sound`'s sink. What the queue holds now is superseded by the
    /// whole state, which the engine gets before its first block.
    public init(engine: Engine, sound: SoundController, queue: CommandQueue, channelFilter: MIDIChannelFilter = .omni,
                drumFilter: MIDIDrumFilter = MIDIDrumFilter()) {
        self.engine = engine
        self.sound = sound
        self.queue = queue
        self.channelFilter = channelFilter
        self.drumFilter = drumFilter
        _ = queue.take()
        for command in sound.stateCommands() { queue.append(command) }
    }

    /// Everything `timbred render` plays through, built as the daemon builds it from the same
    /// settings: a `SoundController` (presets loaded, `preset` or else the settings' preset
    /// playing, program changes ignored with `keepPreset`), `prepare` run on it (it may move the
    /// timbre or refuse), then an engine at its sound.
    /// - Throws: `PresetNotFound` when `preset` names none; `TuningFileError` when the `tuning`
    /// setting's Scala file cannot be read or parsed; `SettingError` for an `mpe` or `mpe_slide`
    /// setting it cannot read; what `prepare` throws.
    public convenience init(model: TimbreModel, presetFolders: [String], settings: DaemonSettings, preset: String?,
                            keepPreset: Bool, sampleRate: Int, blockFrames: Int = 256,
                            prepare: (SoundController) throws -> Void = { _ in }) throws {
        var sound = SoundController.Settings(settings)
        sound.keepPreset = keepPreset
        sound.configPath = nil  // nothing is learned offline
        let queue = CommandQueue()
        let controller = SoundController(model: model, presetFolders: presetFolders, settings: sound, sink: queue.append)
        controller.loadPresets()
        if let preset, controller.library.find(preset) == nil {
            throw PresetNotFound(name: preset, available: controller.library.presets.map(\.name))
        }
        controller.start(preset: preset ?? settings.string(.preset))
        if let problem = controller.loadTuning(logFailure: false) { throw problem }
        if let problem = controller.mpeSettingProblem { throw SettingError(source: "settings", message: problem) }
        try prepare(controller)
        let engine = Engine(model: model, settings: EngineSettings(settings, sampleRate: sampleRate, blockFrames: blockFrames),
                            timbre: controller.timbre, gainDB: controller.gainDB)
        self.init(engine: engine, sound: controller, queue: queue, channelFilter: settings.channelFilter,
                  drumFilter: settings.drumFilter)
    }

    /// Renders `frameCount` frames of `events` (sorted by time) and returns them interleaved
    /// (left, right). `everyBlock(frame)` runs before each block (and may move the sound).
    /// `sysExBytes` is the store the events' SysEx spans point into (`StandardMIDIFile.sysExBytes`):
    /// tuning SysEx (MIDI Tuning Standard, master tuning) plays at its sample, and a GM / GS / XG
    /// reset also becomes all-sound-off and reset-all-controllers on every channel, as live.
    public func render(_ events: [StandardMIDIFile.TimedEvent], sysExBytes: [UInt8] = [], frameCount: Int,
                       everyBlock: ((Int) -> Void)? = nil) -> [Float] {
        let rate = engine.settings.sampleRate
        let block = engine.settings.maxBlockFrames
        var out = [Float](repeating: 0, count: 2 * frameCount)
        var left = [Float](repeating: 0, count: block), right = [Float](repeating: 0, count: block)
        var list: [TimedMIDIEvent] = []
        list.reserveCapacity(1024)
        var next = 0
        var frame = 0
        while frame < frameCount {
            let end = min(frame + block, frameCount)
            list.removeAll(keepingCapacity: true)
            while next < events.count {
                let at = max(frame, Int((events[next].timeSeconds * rate).rounded()))
                if at >= end { break }
                let event = events[next].event
                guard channelFilter.accepts(event), drumFilter.accepts(event) else {
                    next += 1
                    continue
                }
                if SoundController.isForwarded(event, learning: sound.learnTarget != nil) { sound.handleForwarded(event) }
                list.append(TimedMIDIEvent(offset: at - frame, event: event))
                if case let .systemExclusive(span) = event, span.range.upperBound <= sysExBytes.count,
                   MIDIEvent.isSystemReset(sysExPayload: Array(sysExBytes[span.range])) {
                    for reset in MIDIEvent.resetEveryChannel { list.append(TimedMIDIEvent(offset: at - frame, event: reset)) }
                }
                next += 1
            }
            everyBlock?(frame)
            for command in queue.take() where !engine.commands.push(command) {
                Log.warning("engine command ring full: a command was dropped")
            }
            let n = end - frame
            left.withUnsafeMutableBufferPointer { l in
                right.withUnsafeMutableBufferPointer { r in
                    list.withUnsafeBufferPointer { ev in
                        sysExBytes.withUnsafeBufferPointer { bytes in
                            engine.render(frameCount: n, events: ev, sysEx: bytes, left: l.baseAddress!, right: r.baseAddress!)
                        }
                    }
                }
            }
            for i in 0..<n {
                out[2 * (frame + i)] = left[i]
                out[2 * (frame + i) + 1] = right[i]
            }
            while let status = engine.status.pop() {
                switch status {
                case .timbre(let point): sound.engineReportedTimbre(point.array)
                case .programTable(let generation): sound.engineAdoptedProgramTable(generation: generation)
                default: break
                }
            }
            frame = end
        }
        return out
    }
}
