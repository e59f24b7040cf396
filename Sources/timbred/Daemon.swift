import ALSASequencer
import Control
import Engine
import Foundation
import JackBackend
import MIDI
import Model
#if canImport(Glibc)
import Glibc
#endif

/// The live daemon's control thread: the one thread that talks to the engine (the single
/// producer of its command ring), keeps JACK connected, turns OSC requests, program changes,
/// MIDI learn, preset files and signals into engine commands, and turns the real-time side's
/// counters into log lines and systemd status.
///
/// Threads: this one (the process's main thread), JACK's (process callback and notifications),
/// and the ALSA sequencer's poll thread (which only stamps and queues events for JACK).
final class Daemon {
    let settings: DaemonSettings
    /// The model file (reloaded on request: `/timbred/model/reload`).
    let modelPath: String
    private(set) var model: TimbreModel
    private(set) var library: PresetLibrary
    let backend: JackBackend
    private var sequencer: ALSASequencerInput?
    private var osc: OSCServer?

    // the sound the control side asked for (re-sent to every new engine)
    private var currentPreset: LoadedPreset?
    private var timbre: [Float]
    private var reverbMix: Float
    private var gainDB: Float
    private var attackScale: Float
    private var releaseScale: Float
    private var configMap: [String: String]
    private var mappings: [ControllerSource: ControllerMapping] = [:]
    private var targets: [ControllerSource: TargetSpec] = [:]
    private var corners: [MorphCorner: [Float]] = [:]
    private var bankMSB = [Int](repeating: 0, count: 16)
    private var bankLSB = [Int](repeating: 0, count: 16)
    private var learnTarget: TargetSpec?

    // what the real-time side reported
    private var voices = 0
    private var peak: Float = 0
    private var reportedXruns = 0
    private var reportedDrops = 0
    private var reportedLate = 0
    private var lastLateReport = Date.distantPast
    private var freewheeling = false
    private var lastXrunReport = Date.distantPast
    private var lastStatus = ""
    private var lastStatusTime = Date.distantPast

    // JACK connection
    private var nextRetry = Date.distantPast
    private var warnedNoServer = false
    private var notifiedReady = false
    private var lastPresetCheck = Date()
    private var stopRequested = false
    private var unsupportedRateReported = 0
    /// The callback's timing at the start of the DSP-load window (`/timbred/load reset`).
    private var loadWindow = JackBackend.CallbackTiming()

    init(settings: DaemonSettings, model: TimbreModel, modelPath: String, presetFolders: [String]) {
        self.settings = settings
        self.modelPath = modelPath
        self.model = model
        library = PresetLibrary(folders: presetFolders, model: model)
        var jack = JackBackend.Configuration()
        jack.clientName = settings.string(.clientName)
        jack.serverName = settings.string(.server)
        jack.autoconnectAudio = settings.bool(.autoconnect)
        jack.autoconnectMIDI = settings.bool(.jackMIDIAutoconnect)
        backend = JackBackend(configuration: jack)
        let channel = settings.integer(.channel)
        backend.setChannelFilter(channel == 0 ? nil : channel - 1)
        timbre = model.latentMeans.first ?? []
        reverbMix = Float(settings.number(.reverb))
        gainDB = Float(settings.number(.gainDB))
        attackScale = Float(settings.number(.attackScale))
        releaseScale = Float(settings.number(.releaseScale))
        configMap = ControllerMapSpec.defaults.merging(settings.controllerMap) { _, file in file }
    }

    // MARK: - run

    /// Runs until SIGTERM or SIGINT. Signals are blocked in every thread and taken here
    /// synchronously (sigtimedwait), so no handler runs on any other thread.
    func run() throws {
        var signals = sigset_t()
        sigemptyset(&signals)
        for s in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, s) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)  // before any thread starts: they inherit it

        for problem in library.reload() { Log.warning(problem) }
        Log.info("\(library.presets.count) presets: \(library.presets.map(\.name).joined(separator: ", "))")
        setUpCorners()
        resolveMap(for: nil, announce: true)
        let initial = settings.string(.preset)
        if !initial.isEmpty, let p = library.find(initial) {
            select(p)
        } else {
            if !initial.isEmpty { Log.warning("no preset named \(initial); starting with \(library.presets.first?.name ?? "the first instrument")") }
            if let p = library.presets.first { select(p) }
        }

        if settings.bool(.osc) {
            do {
                osc = try OSCServer(port: settings.integer(.oscPort))
                Log.info("OSC control on 127.0.0.1:\(osc!.port) (try `timbred ctl status`)")
            } catch {
                Log.warning("\(error); the OSC control API is off")
            }
        }
        if settings.bool(.alsaMIDI) {
            let backend = self.backend
            do {
                let input = try ALSASequencerInput(clientName: settings.string(.clientName),
                                                   autoconnect: settings.bool(.alsaAutoconnect),
                                                   sink: { backend.enqueue($0) },
                                                   report: { Log.info($0) })
                input.start()
                sequencer = input
                Log.info("ALSA sequencer port \(input.address) (\(settings.string(.clientName)):midi_in)")
            } catch {
                Log.warning("\(error)")
            }
        }

        while !stopRequested {
            waitForInput(milliseconds: 20)
            takeSignals(signals)
            if stopRequested { break }
            handleOSC()
            maintainJack()
            drainRealtimeSide()
            reloadPresetsIfChanged()
            reportStatus()
        }
        shutDown()
    }

    private func shutDown() {
        ServiceNotifier.stopping()
        Log.info("stopping")
        sequencer?.stop()
        sequencer = nil
        backend.close()
        osc = nil
    }

    private func waitForInput(milliseconds: Int32) {
        guard let osc else {
            usleep(UInt32(milliseconds) * 1000)
            return
        }
        var p = pollfd(fd: osc.fileDescriptor, events: Int16(POLLIN), revents: 0)
        _ = poll(&p, 1, milliseconds)
    }

    private func takeSignals(_ set: sigset_t) {
        var signals = set
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        while true {
            let s = sigtimedwait(&signals, nil, &zero)
            if s <= 0 { return }
            switch s {
            case SIGTERM, SIGINT:
                Log.info("signal \(s == SIGTERM ? "SIGTERM" : "SIGINT"): stopping")
                stopRequested = true
            case SIGHUP:
                Log.info("SIGHUP: reloading presets and the controller map")
                reloadPresets(rereadConfig: true)
            default:
                break
            }
        }
    }

    // MARK: - JACK

    private func maintainJack() {
        let now = Date()
        if backend.isOpen && backend.serverHasGone {
            let reason = backend.shutdownReason
            Log.warning("the JACK server went away\(reason.isEmpty ? "" : " (\(reason))"); retrying every second")
            backend.close()
            nextRetry = now.addingTimeInterval(1)
            ServiceNotifier.status("waiting for a JACK server")
        }
        if !backend.isOpen {
            if now >= nextRetry {
                connect()
                nextRetry = Date().addingTimeInterval(1)
            }
            return
        }
        // buffer size or sample rate changed: prepare a new engine here, swap it in
        if let engine = backend.currentEngine {
            let rate = backend.sampleRate, frames = backend.bufferFrames
            if Int(engine.settings.sampleRate) != rate || engine.settings.maxBlockFrames != frames {
                Log.info("JACK now runs at \(rate) Hz, \(frames) frames: preparing the engine again")
                prepareEngine(rate: rate, frames: frames)
            }
        } else {
            prepareEngine(rate: backend.sampleRate, frames: backend.bufferFrames)
        }
        backend.reclaimRetiredEngines()
    }

    private func connect() {
        do {
            let connection = try backend.open()
            if let engine = backend.currentEngine, Int(engine.settings.sampleRate) == connection.sampleRate,
               engine.settings.maxBlockFrames == connection.bufferFrames {
                _ = engine.commands.push(.panic)  // the same engine again: forget notes held when the server left
            } else {
                prepareEngine(rate: connection.sampleRate, frames: connection.bufferFrames)
            }
            let connections = try backend.activate()
            warnedNoServer = false
            Log.info("JACK: client \(connection.clientName) active at \(connection.sampleRate) Hz, \(connection.bufferFrames) frames"
                     + (connections.isEmpty ? "; outputs not connected" : "; connected " + connections.joined(separator: ", ")))
            let status = statusLine()
            if !notifiedReady {
                ServiceNotifier.ready(status: status)
                notifiedReady = true
            } else {
                ServiceNotifier.status(status)
            }
        } catch {
            backend.close()
            if case .serverNotRunning = error {
                if !warnedNoServer { Log.warning(error.description) }
                warnedNoServer = true
            } else {
                Log.error(error.description)
            }
        }
    }

    /// Builds an engine for the server's rate and period (off the real-time thread), sends it the
    /// current sound, and installs it (swapped in at the next cycle when the client is active).
    private func prepareEngine(rate: Int, frames: Int) {
        let frameRate = model.config.frameRate
        guard rate > 0, frames > 0 else { return }
        guard rate % frameRate == 0 else {
            if unsupportedRateReported != rate {
                Log.error("JACK runs at \(rate) Hz, which is not a multiple of the model's \(frameRate) frames/s; playing silence (use 44100, 48000, 88200 or 96000 Hz)")
                unsupportedRateReported = rate
            }
            return
        }
        var s = EngineSettings()
        s.sampleRate = Double(rate)
        s.maxBlockFrames = frames
        s.polyphony = settings.integer(.polyphony)
        s.reverbPartition = 128
        s.timbreSmoothingSeconds = settings.number(.timbreGlideMs) / 1000
        // all-sound-off and stolen voices fade within one period (3 ms at most)
        s.fadeSeconds = min(0.003, 0.9 * Double(frames) / Double(rate))
        let started = Date()
        let engine = Engine(model: model, settings: s, timbre: timbre, gainDB: gainDB)
        configure(engine)
        backend.install(engine)
        Log.info(String(format: "engine prepared for %d Hz, %d frames in %.0f ms", rate, frames, Date().timeIntervalSince(started) * 1000))
    }

    /// Sends a fresh engine the whole current sound (before it plays: it drains its ring first).
    private func configure(_ engine: Engine) {
        var commands: [EngineCommand] = [
            .setTimbre(LatentPoint(timbre)), .setReverbMix(reverbMix), .setGainDB(gainDB),
            .setEnvelopeScale(attack: attackScale, release: releaseScale),
            .setPitchBendRange(semitones: Float(settings.number(.pitchBendRange))),
        ]
        for (source, mapping) in mappings { commands.append(.mapController(source: source, mapping: mapping)) }
        for (corner, point) in corners { commands.append(.setMorphPoint(corner: corner, point: LatentPoint(point))) }
        for c in commands where !engine.commands.push(c) { Log.warning("engine command ring full while preparing") }
    }

    /// Sends a command to the engine playing now (this thread is the ring's only producer).
    private func push(_ command: EngineCommand) {
        guard let engine = backend.currentEngine else { return }
        if !engine.commands.push(command) { Log.warning("engine command ring full: a command was dropped") }
    }

    // MARK: - what the real-time side reported

    private func drainRealtimeSide() {
        while let event = backend.nextForwardedEvent() { handleForwarded(event) }
        if let engine = backend.currentEngine {
            while let status = engine.status.pop() {
                switch status {
                case let .block(v, p):
                    voices = v
                    peak = p
                case .timbre(let point):
                    timbre = point.array
                case .voiceStolen, .commandRejected:
                    break
                }
            }
        }
        let xruns = backend.xrunCount
        if xruns > reportedXruns && Date().timeIntervalSince(lastXrunReport) >= 5 {
            Log.warning("xruns: \(xruns) in all (+\(xruns - reportedXruns))")
            reportedXruns = xruns
            lastXrunReport = Date()
        }
        let timing = backend.callbackTiming
        let late = timing.lateCycles
        if late > reportedLate && Date().timeIntervalSince(lastLateReport) >= 5 {
            Log.warning("the process callback took longer than the period in \(late) cycles in all (+\(late - reportedLate)); "
                        + "\(timing.overrunCycles) of them ran longer than the period in CPU time, the others were preempted or stalled")
            reportedLate = late
            lastLateReport = Date()
        }
        if backend.isFreewheeling != freewheeling {
            freewheeling = backend.isFreewheeling
            Log.info(freewheeling ? "JACK freewheel on: rendering as fast as the graph allows" : "JACK freewheel off")
        }
        let dropped = backend.droppedEventCount
        if dropped > reportedDrops && Date().timeIntervalSince(lastXrunReport) >= 5 {
            Log.warning("MIDI events dropped (more than one cycle holds): \(dropped) in all")
            reportedDrops = dropped
            lastXrunReport = Date()
        }
    }

    private func handleForwarded(_ event: MIDIEvent) {
        switch event {
        case let .controlChange(channel, controller, value) where controller == 0 || controller == 32:
            if controller == 0 { bankMSB[Int(channel)] = Int(value) } else { bankLSB[Int(channel)] = Int(value) }
            if learnTarget != nil { return }
        case let .programChange(channel, program):
            let bank = bankMSB[Int(channel)] * 128 + bankLSB[Int(channel)]
            if let p = library.preset(bank: bank, program: Int(program)) {
                select(p)
            } else {
                Log.info("program change \(program) (bank \(bank)): no preset there")
            }
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

    // MARK: - presets and the controller map

    /// Plays a preset: its timbre point, its sound settings (or the configured ones), its map.
    private func select(_ preset: LoadedPreset) {
        currentPreset = preset
        timbre = preset.point
        reverbMix = preset.preset.reverbMix ?? Float(settings.number(.reverb))
        gainDB = preset.preset.gainDB ?? Float(settings.number(.gainDB))
        attackScale = preset.preset.attackScale ?? Float(settings.number(.attackScale))
        releaseScale = preset.preset.releaseScale ?? Float(settings.number(.releaseScale))
        push(.setTimbre(LatentPoint(timbre)))
        push(.setReverbMix(reverbMix))
        push(.setGainDB(gainDB))
        push(.setEnvelopeScale(attack: attackScale, release: releaseScale))
        resolveMap(for: preset, announce: false)
        Log.info("preset: \(preset.name)")
    }

    /// The map now in force: defaults, the config file's [cc], the preset's [cc]; sends the
    /// entries that changed.
    private func resolveMap(for preset: LoadedPreset?, announce: Bool) {
        let entries = configMap.merging(preset?.controllerMap ?? [:]) { _, p in p }
        let resolved = ControllerMapSpec.resolve(entries, latentMeans: model.latentMeans, skipMissingDimensions: true)
        for e in resolved.errors { Log.warning(e) }
        for source in Set(mappings.keys).union(resolved.mappings.keys) {
            let new = resolved.mappings[source] ?? .unmapped
            if mappings[source] != new { push(.mapController(source: source, mapping: new)) }
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
        var chosen: [MorphCorner: LoadedPreset] = [.a: pick(settings.string(.morphA), 0), .b: pick(settings.string(.morphB), 1)]
        let pad = settings.string(.pad).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let padCorners: [MorphCorner] = [.padBottomLeft, .padBottomRight, .padTopLeft, .padTopRight]
        for (i, corner) in padCorners.enumerated() { chosen[corner] = pick(i < pad.count ? pad[i] : "", i) }
        for (corner, p) in chosen {
            corners[corner] = p.point
            push(.setMorphPoint(corner: corner, point: LatentPoint(p.point)))
        }
        Log.info("morph: \(chosen[.a]!.name) ↔ \(chosen[.b]!.name); pad: "
                 + padCorners.map { chosen[$0]!.name }.joined(separator: ", "))
    }

    private func reloadPresetsIfChanged() {
        guard Date().timeIntervalSince(lastPresetCheck) >= 1 else { return }
        lastPresetCheck = Date()
        if library.hasChanged() {
            Log.info("preset files changed: reloading")
            reloadPresets(rereadConfig: false)
        }
    }

    /// Reloads the preset folders (and, on SIGHUP, the config file's [cc] table). Invalid files
    /// are skipped with one line each; the sound playing keeps playing.
    private func reloadPresets(rereadConfig: Bool) {
        if rereadConfig {
            var fresh = DaemonSettings(configPath: settings.configPath)
            do {
                try fresh.mergeConfigFile()
                configMap = ControllerMapSpec.defaults.merging(fresh.controllerMap) { _, file in file }
            } catch {
                Log.warning("\(error) (keeping the previous controller map)")
            }
        }
        for problem in library.reload() { Log.warning(problem) }
        Log.info("presets reloaded: \(library.presets.count) (\(library.presets.map(\.name).joined(separator: ", ")))")
        setUpCorners()
        if let current = currentPreset, let again = library.find(current.name) {
            if again != current { select(again) } else { resolveMap(for: again, announce: false) }
        } else {
            resolveMap(for: currentPreset, announce: false)
        }
    }

    // MARK: - the model

    /// Reloads the model file on the control thread (never the real-time one): loads and
    /// validates it, resolves the presets against it, and swaps in an engine prepared for it
    /// (through the process thread's inbox, as for a new period size). A file that does not load
    /// is refused with one line naming it and the problem, and the engine playing is untouched.
    private func reloadModel() -> Result<String, CLIError> {
        let fresh: TimbreModel
        do {
            fresh = try TimbreModel(contentsOf: modelPath)
        } catch {
            return refuseModel("\(error)")
        }
        let rate = backend.sampleRate
        if rate > 0 && rate % fresh.config.frameRate != 0 {
            return refuseModel("\(modelPath): \(fresh.config.frameRate) frames/s does not divide JACK's \(rate) Hz")
        }
        model = fresh
        library = PresetLibrary(folders: library.folders, model: fresh)
        for problem in library.reload() { Log.warning(problem) }
        setUpCorners()
        if let current = currentPreset, let again = library.find(current.name) {
            select(again)
        } else if let first = library.presets.first {
            select(first)
        }
        if backend.currentEngine != nil { prepareEngine(rate: backend.sampleRate, frames: backend.bufferFrames) }
        let text = "model reloaded: \(modelPath) (\(fresh.config.zDim)-dimensional timbre space, \(library.presets.count) presets)"
        Log.info(text)
        return .success(text)
    }

    private func refuseModel(_ problem: String) -> Result<String, CLIError> {
        let text = "model reload refused: \(problem); the model playing is kept"
        Log.warning(text)
        return .failure(CLIError(text))
    }

    // MARK: - MIDI learn

    private func learn(_ source: ControllerSource, _ target: TargetSpec) {
        learnTarget = nil
        backend.setLearnArmed(false)
        let key = ControllerMapSpec.key(source)
        configMap[key] = target.description
        resolveMap(for: currentPreset, announce: false)
        do {
            try ConfigFileEditor.saveControllerMapping(key: key, target: target.description, path: settings.configPath)
            Log.info("MIDI learn: \(key == "pressure" || key == "poly_pressure" ? key : "CC \(key)") → \(target) (saved to \(settings.configPath))")
        } catch {
            Log.warning("MIDI learn: \(key) → \(target), but the config file \(settings.configPath) could not be written: \(error)")
        }
    }

    // MARK: - OSC

    private func handleOSC() {
        guard let osc else { return }
        for request in osc.receiveAll() {
            let reply = handle(request.message)
            osc.send(reply, to: request.sender)
        }
    }

    /// Applies one control request; returns the reply (status, ok or error).
    private func handle(_ message: OSCMessage) -> OSCMessage {
        let args = message.arguments
        func number(_ i: Int) -> Float? { i < args.count ? args[i].number.map(Float.init) : nil }
        func ok(_ text: String) -> OSCMessage { OSCMessage("/timbred/ok", [.string(text)]) }
        func fail(_ text: String) -> OSCMessage { OSCMessage("/timbred/error", [.string(text)]) }
        switch message.path {
        case "/timbred/status":
            return statusMessage()
        case "/timbred/preset":
            guard let first = args.first else { return fail("/timbred/preset needs a name or a number") }
            let key: String
            if case .string(let s) = first { key = s } else { key = String(Int(first.number ?? -1)) }
            guard let p = library.find(key) else {
                return fail("no preset \(key) (have: \(library.presets.map(\.name).joined(separator: ", ")))")
            }
            select(p)
            return ok("preset \(p.name)")
        case "/timbred/latent":
            guard let d = number(0).map(Int.init), let v = number(1), v.isFinite else { return fail("/timbred/latent needs a dimension and a value") }
            guard d >= 0, d < model.config.zDim else { return fail("latent dimension \(d) is outside 0...\(model.config.zDim - 1)") }
            push(.setLatentDimension(index: d, value: v))
            if d < timbre.count { timbre[d] = v }
            return ok("latent \(d) = \(v)")
        case "/timbred/morph":
            guard let m = number(0), m.isFinite else { return fail("/timbred/morph needs a position 0...1") }
            push(.setMorph(m))
            return ok("morph \(min(max(m, 0), 1))")
        case "/timbred/pad":
            guard let x = number(0), let y = number(1), x.isFinite, y.isFinite else { return fail("/timbred/pad needs x and y in 0...1") }
            push(.setPad(x: x, y: y))
            return ok("pad \(min(max(x, 0), 1)) \(min(max(y, 0), 1))")
        case "/timbred/reverb":
            guard let m = number(0), (0...4).contains(m) else { return fail("/timbred/reverb needs a mix 0...4") }
            reverbMix = m
            push(.setReverbMix(m))
            return ok("reverb \(m)")
        case "/timbred/gain":
            guard let g = number(0), (-60...12).contains(g) else { return fail("/timbred/gain needs dB in -60...12") }
            gainDB = g
            push(.setGainDB(g))
            return ok("gain \(g) dB")
        case "/timbred/attack", "/timbred/release":
            guard let s = number(0), (0.1...10).contains(s) else { return fail("\(message.path) needs a scale 0.1...10") }
            if message.path.hasSuffix("attack") { attackScale = s; push(.setAttackScale(s)) } else { releaseScale = s; push(.setReleaseScale(s)) }
            return ok("\(message.path.dropFirst(9)) \(s)")
        case "/timbred/panic":
            push(.panic)
            return ok("panic")
        case "/timbred/note":
            guard let n = number(0).map(Int.init), (0...127).contains(n) else { return fail("/timbred/note needs a note 0...127 and a velocity") }
            let velocity = UInt8(max(0, min(127, Int(number(1) ?? 100))))
            let channel = UInt8(max(0, min(15, Int(number(2) ?? 0))))
            push(.midi(.noteOn(channel: channel, note: UInt8(n), velocity: velocity)))
            return ok(velocity == 0 ? "note \(n) off" : "note \(n) on")
        case "/timbred/learn":
            let text = args.map(\.description).joined(separator: " ").trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text == "cancel" || text == "none" {
                learnTarget = nil
                backend.setLearnArmed(false)
                return ok("learn cancelled")
            }
            do {
                let spec = try TargetSpec(parsing: text)
                _ = try spec.mapping(latentMeans: model.latentMeans)
                learnTarget = spec
                backend.setLearnArmed(true)
                Log.info("MIDI learn armed for \(spec): move a knob")
                return ok("learn \(spec): move a knob")
            } catch {
                return fail("\(error)")
            }
        case "/timbred/reload":
            reloadPresets(rereadConfig: true)
            return ok("reloaded \(library.presets.count) presets")
        case "/timbred/model/reload":
            switch reloadModel() {
            case .success(let text): return ok(text)
            case .failure(let problem): return fail(problem.description)
            }
        case "/timbred/load":
            let reply = loadMessage()
            if case .string("reset")? = args.first { resetLoadWindow() }
            return reply
        default:
            return fail("unknown request \(message.path) (see `timbred ctl --help`)")
        }
    }

    /// /timbred/status reply: voices, xruns, DSP load % (JACK's, of the whole graph), preset,
    /// JACK state, rate, period, sounding peak, then timbred's own callback load (mean % and
    /// peak % of the period since the load window began, late cycles in it), then the latent
    /// point (one float per dimension).
    private func statusMessage() -> OSCMessage {
        let load = callbackLoad()
        var args: [OSCArgument] = [
            .int(Int32(voices)), .int(Int32(backend.xrunCount)), .float(backend.cpuLoadPercent),
            .string(currentPreset?.name ?? ""), .string(backend.isActive ? "active" : "waiting for a JACK server"),
            .int(Int32(backend.sampleRate)), .int(Int32(backend.bufferFrames)), .float(peak),
            .float(load.mean), .float(load.peak), .int(Int32(clamping: load.late)),
        ]
        args += timbre.map { .float($0) }
        return OSCMessage("/timbred/status", args)
    }

    /// /timbred/load reply: the callback's mean and peak load in % of the period, late cycles
    /// and cycles in the window, and xruns since the start.
    private func loadMessage() -> OSCMessage {
        let load = callbackLoad()
        return OSCMessage("/timbred/load", [.float(load.mean), .float(load.peak), .int(Int32(clamping: load.late)),
                                            .int(Int32(clamping: load.cycles)), .int(Int32(clamping: backend.xrunCount)),
                                            .float(load.cpuMean), .float(load.cpuPeak), .int(Int32(clamping: load.overruns))])
    }

    /// The process callback's own load since the window began, in % of the period: the mean
    /// over every cycle, the longest cycle, and the cycles that took longer than their period;
    /// then the same in the thread's CPU time (its own work, without preemption and machine
    /// stalls): mean, largest, and cycles whose CPU time alone exceeded the period.
    private func callbackLoad() -> (mean: Float, peak: Float, late: Int, cycles: Int, cpuMean: Float, cpuPeak: Float,
                                    overruns: Int) {
        let now = backend.callbackTiming
        let period = Double(backend.periodNanoseconds)
        let cycles = now.cycles &- loadWindow.cycles
        let late = now.lateCycles &- loadWindow.lateCycles, overruns = now.overrunCycles &- loadWindow.overrunCycles
        guard period > 0, cycles > 0 else { return (0, 0, late, max(cycles, 0), 0, 0, overruns) }
        let busy = Double(now.busyNanoseconds &- loadWindow.busyNanoseconds)
        let cpu = Double(now.cpuNanoseconds &- loadWindow.cpuNanoseconds)
        return (Float(100 * busy / (Double(cycles) * period)), Float(100 * Double(now.peakNanoseconds) / period), late, cycles,
                Float(100 * cpu / (Double(cycles) * period)), Float(100 * Double(now.peakCPUNanoseconds) / period), overruns)
    }

    private func resetLoadWindow() {
        backend.clearCallbackPeak()
        loadWindow = backend.callbackTiming
        Log.info("DSP load window reset")
    }

    private func statusLine() -> String {
        guard backend.isActive else { return "waiting for a JACK server" }
        return "playing \(currentPreset?.name ?? "-") at \(backend.sampleRate) Hz/\(backend.bufferFrames); voices \(voices), xruns \(backend.xrunCount)"
    }

    private func reportStatus() {
        guard Date().timeIntervalSince(lastStatusTime) >= 2 else { return }
        lastStatusTime = Date()
        let line = statusLine()
        if line != lastStatus {
            ServiceNotifier.status(line)
            lastStatus = line
        }
    }
}
