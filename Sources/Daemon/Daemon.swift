import ALSASequencer
import Control
import Engine
import Foundation
import JackBackend
import Model
#if canImport(Glibc)
import Glibc
#endif

/// The live daemon's control thread: the one thread that talks to the engine (the single
/// producer of its command ring), keeps JACK connected, and wires OSC requests, forwarded
/// program changes, bank selects and learn controllers, preset files and signals to its
/// `SoundController` (Control), which turns them into engine commands; it turns the real-time
/// side's counters into log lines and systemd status.
///
/// Threads: this one (the process's main thread), JACK's (process callback and notifications),
/// and the ALSA sequencer's poll thread (which only stamps and queues events for JACK).
public final class Daemon {
    public let settings: DaemonSettings
    /// The model file (reloaded on request: `/timbred/model/reload`).
    public let modelPath: String
    public let backend: JackBackend
    /// The sound asked for (presets, controller map, learn), re-sent to every new engine.
    public let sound: SoundController
    private var sequencer: ALSASequencerInput?
    private var osc: OSCServer?

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
    /// The decode worker's counters when the load window began, and the engine they were read
    /// from (a new engine's counters start at 0: then the window's worker time is the new
    /// engine's since it was installed).
    private var workerWindow: (engine: ObjectIdentifier?, counters: DecodeWorkerCounters) = (nil, DecodeWorkerCounters())

    public init(settings: DaemonSettings, model: TimbreModel, modelPath: String, presetFolders: [String]) {
        self.settings = settings
        self.modelPath = modelPath
        var jack = JackBackend.Configuration()
        jack.clientName = settings.string(.clientName)
        jack.serverName = settings.string(.server)
        jack.autoconnectAudio = settings.bool(.autoconnect)
        jack.autoconnectMIDI = settings.bool(.jackMIDIAutoconnect)
        let backend = JackBackend(configuration: jack)
        self.backend = backend
        backend.setChannelFilter(settings.channelFilter)
        backend.setDrumFilter(settings.drumFilter)
        // this thread is the command ring's only producer: commands go to the engine playing now
        sound = SoundController(model: model, presetFolders: presetFolders, settings: SoundController.Settings(settings)) { command in
            guard let engine = backend.currentEngine else { return }
            if !engine.commands.push(command) { Log.warning("engine command ring full: a command was dropped") }
        }
        sound.learnArmedChanged = { backend.setLearnArmed($0) }
    }

    // MARK: - run

    /// Runs until SIGTERM or SIGINT. Signals are blocked in every thread and taken here
    /// synchronously (sigtimedwait), so no handler runs on any other thread.
    public func run() throws {
        var signals = sigset_t()
        sigemptyset(&signals)
        for s in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, s) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)  // before any thread starts: they inherit it

        sound.loadPresets()
        sound.start(preset: settings.string(.preset))
        sound.loadTuning()
        let mpeMapProblems = sound.mpeMapCommands.problems
        for problem in mpeMapProblems { Log.warning("\(problem); that entry is ignored") }
        if let problem = sound.mpeSettingProblem, !mpeMapProblems.contains(problem) {
            Log.warning("\(problem); playing without it (MPE zones come from an MPE Configuration Message, RPN 6; slides move along the morph axis)")
        }
        var configFile = DaemonSettings(configPath: settings.configPath)
        try? configFile.mergeConfigFile()
        configFileTuning = configFile.string(.tuning)

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
                                                   sysExSink: { backend.enqueueSysEx($0) },
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
                Log.info("SIGHUP: reloading presets, the controller map and the MPE map")
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
    /// It carries on from the engine it replaces (tunings, channel controllers, MPE zones, and,
    /// unless `newModel`, each channel's own timbre; with a new model the channels' presets come
    /// from `stateCommands`, resolved in its timbre space).
    private func prepareEngine(rate: Int, frames: Int, newModel: Bool = false) {
        let model = sound.model
        let frameRate = model.config.frameRate
        guard rate > 0, frames > 0 else { return }
        guard rate % frameRate == 0 else {
            if unsupportedRateReported != rate {
                Log.error("JACK runs at \(rate) Hz, which is not a multiple of the model's \(frameRate) frames/s; playing silence (use 44100, 48000, 88200 or 96000 Hz)")
                unsupportedRateReported = rate
            }
            return
        }
        let started = Date()
        var engineSettings = EngineSettings(settings, sampleRate: rate, blockFrames: frames)
        // the decode worker runs just below JACK's process thread (normal scheduling when JACK's isn't real-time)
        engineSettings.decoderThreadPriority = backend.processThreadPriority.map { max(1, $0 - 1) } ?? 0
        let engine = Engine(model: model, settings: engineSettings, timbre: sound.timbre, gainDB: sound.gainDB)
        // the whole current sound, before it plays (it drains its ring first)
        for c in sound.stateCommands() + [.carryOverLiveState(channelTimbres: !newModel)] where !engine.commands.push(c) {
            Log.warning("engine command ring full while preparing")
        }
        backend.install(engine)
        Log.info(String(format: "engine prepared for %d Hz, %d frames in %.0f ms", rate, frames, Date().timeIntervalSince(started) * 1000)
                 + decodeWorkerDescription(engine.decodeWorkerStats, asked: engineSettings))
    }

    // MARK: - what the real-time side reported

    private func drainRealtimeSide() {
        while let event = backend.nextForwardedEvent() { sound.handleForwarded(event) }
        if let engine = backend.currentEngine {
            while let status = engine.status.pop() {
                switch status {
                case let .block(v, p):
                    voices = v
                    peak = p
                case .timbre(let point):
                    sound.engineReportedTimbre(point.array)
                case .programTable(let generation):
                    sound.engineAdoptedProgramTable(generation: generation)
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

    // MARK: - presets

    private func reloadPresetsIfChanged() {
        guard Date().timeIntervalSince(lastPresetCheck) >= 1 else { return }
        lastPresetCheck = Date()
        if sound.library.hasChanged() {
            Log.info("preset files changed: reloading")
            reloadPresets(rereadConfig: false)
        }
    }

    /// The config file's `tuning` when last read (at the start, then at each SIGHUP).
    private var configFileTuning: String?

    /// On SIGHUP: when the config file names another tuning than when last read, that one
    /// plays; else the tuning playing (from the file or `--tuning`) is read again, so edits to
    /// its .scl/.kbm files take effect. A file that does not parse is refused with one line and
    /// the tuning playing stays.
    private func reloadTuning(configFileSays text: String) {
        let target = text != configFileTuning ? text : sound.settings.tuning
        configFileTuning = text
        if !target.isEmpty || target != sound.settings.tuning { sound.loadTuning(target) }
    }

    /// Reloads the preset folders (and, on SIGHUP, the config file's [cc] and [mpe_map] tables
    /// and its tuning). Invalid files are skipped with one line each, and each [mpe_map] entry
    /// that cannot be read is one warning; the sound playing keeps playing.
    private func reloadPresets(rereadConfig: Bool) {
        var fileMap: [String: String]? = nil
        var mpeMap: [String: String]? = nil
        if rereadConfig {
            var fresh = DaemonSettings(configPath: settings.configPath)
            do {
                try fresh.mergeConfigFile()
                fileMap = fresh.controllerMap
                mpeMap = fresh.mpeMap
                reloadTuning(configFileSays: fresh.string(.tuning))
            } catch {
                Log.warning("\(error) (keeping the previous controller map and MPE map)")
            }
        }
        sound.reloadPresets(configMap: fileMap)
        // after the presets: "morph" routes follow the morph ends they may have moved
        if let mpeMap { sound.replaceMPEMap(mpeMap) }
    }

    // MARK: - the model

    /// Reloads the model file on the control thread (never the real-time one): loads and
    /// validates it, resolves the presets against it, and swaps in an engine prepared for it
    /// (through the process thread's inbox, as for a new period size). A file that does not load
    /// is refused with one line naming it and the problem, and the engine playing is untouched.
    private func reloadModel() -> Result<String, ModelReloadRefused> {
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
        sound.replaceModel(fresh)
        if backend.currentEngine != nil { prepareEngine(rate: backend.sampleRate, frames: backend.bufferFrames, newModel: true) }
        let text = "model reloaded: \(modelPath) (\(fresh.config.zDim)-dimensional timbre space, \(sound.library.presets.count) presets)"
        Log.info(text)
        return .success(text)
    }

    private func refuseModel(_ problem: String) -> Result<String, ModelReloadRefused> {
        let text = "model reload refused: \(problem); the model playing is kept"
        Log.warning(text)
        return .failure(ModelReloadRefused(description: text))
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
        let request: ControlRequest
        do {
            request = try ControlRequest(message: message)
        } catch {
            return ControlReply.error(error.description).message
        }
        let reply: ControlReply
        switch request {
        case .status: reply = .status(statusReport())
        case .load(let reset):
            reply = .load(loadReport())
            if reset { resetLoadWindow() }
        case .reload:
            reloadPresets(rereadConfig: true)
            reply = .ok("reloaded \(sound.library.presets.count) presets")
        case .reloadModel:
            switch reloadModel() {
            case .success(let text): reply = .ok(text)
            case .failure(let problem): reply = .error(problem.description)
            }
        default:
            reply = sound.perform(request)
        }
        return reply.message
    }

    private func statusReport() -> StatusReport {
        let load = loadReport()
        return StatusReport(voices: voices, xruns: backend.xrunCount, dspLoadPercent: backend.cpuLoadPercent,
                            preset: (sound.sharedPreset ?? sound.currentPreset)?.name ?? "",
                            jackState: backend.isActive ? "active" : "waiting for a JACK server", sampleRate: backend.sampleRate,
                            bufferFrames: backend.bufferFrames, peak: peak, callbackMeanPercent: load.meanPercent,
                            callbackPeakPercent: load.peakPercent, lateCycles: load.lateCycles, latent: sound.timbre,
                            channelPresets: Dictionary(uniqueKeysWithValues: sound.channelPresets.enumerated().compactMap { c, p in p.map { (c + 1, $0.name) } }))
    }

    /// The process callback's own load since the window began, in % of the period: the mean
    /// over every cycle, the longest cycle, and the cycles that took longer than their period;
    /// then the same in the thread's CPU time (its own work, without preemption and machine
    /// stalls): mean, largest, and cycles whose CPU time alone exceeded the period.
    private func loadReport() -> LoadReport {
        let now = backend.callbackTiming
        let period = Double(backend.periodNanoseconds)
        let cycles = now.cycles &- loadWindow.cycles
        let late = now.lateCycles &- loadWindow.lateCycles, overruns = now.overrunCycles &- loadWindow.overrunCycles
        let engine = backend.currentEngine
        let worker = engine?.decodeWorkerCounters ?? DecodeWorkerCounters()
        let workerBase = engine.map(ObjectIdentifier.init) == workerWindow.engine ? workerWindow.counters : DecodeWorkerCounters()
        let workerJobs = worker.jobsComputed &- workerBase.jobsComputed
        guard period > 0, cycles > 0 else {
            return LoadReport(meanPercent: 0, peakPercent: 0, lateCycles: late, cycles: max(cycles, 0), xruns: backend.xrunCount,
                              cpuMeanPercent: 0, cpuPeakPercent: 0, overrunCycles: overruns,
                              workerRunning: worker.isRunning, workerJobs: workerJobs)
        }
        let busy = Double(now.busyNanoseconds &- loadWindow.busyNanoseconds)
        let cpu = Double(now.cpuNanoseconds &- loadWindow.cpuNanoseconds)
        let window = Double(cycles) * period
        return LoadReport(meanPercent: Float(100 * busy / window), peakPercent: Float(100 * Double(now.peakNanoseconds) / period),
                          lateCycles: late, cycles: cycles, xruns: backend.xrunCount,
                          cpuMeanPercent: Float(100 * cpu / window),
                          cpuPeakPercent: Float(100 * Double(now.peakCPUNanoseconds) / period), overrunCycles: overruns,
                          workerRunning: worker.isRunning,
                          workerMeanPercent: Float(100 * Double(worker.busyNanoseconds &- workerBase.busyNanoseconds) / window),
                          workerCPUMeanPercent: Float(100 * Double(worker.cpuNanoseconds &- workerBase.cpuNanoseconds) / window),
                          workerJobs: workerJobs)
    }

    private func resetLoadWindow() {
        backend.clearCallbackPeak()
        loadWindow = backend.callbackTiming
        let engine = backend.currentEngine
        workerWindow = (engine.map(ObjectIdentifier.init), engine?.decodeWorkerCounters ?? DecodeWorkerCounters())
        Log.info("DSP load window reset")
    }

    private func statusLine() -> String {
        guard backend.isActive else { return "waiting for a JACK server" }
        return "playing \((sound.sharedPreset ?? sound.currentPreset)?.name ?? "-")\(sound.channelPresetSummary) at \(backend.sampleRate) Hz/\(backend.bufferFrames); voices \(voices), xruns \(backend.xrunCount)"
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

/// A model reload the daemon refused (the file did not load or does not fit JACK's rate), as
/// one line; the model playing is kept.
struct ModelReloadRefused: Error, CustomStringConvertible {
    let description: String
}

/// How the engine's decode worker runs, for the log line of a prepared engine.
func decodeWorkerDescription(_ stats: DecodeWorkerStats, asked: EngineSettings) -> String {
    guard asked.decoderThread else { return "; decoder in the process callback (decoder_thread = false)" }
    guard stats.isRunning else { return "; no decode worker thread could be created: decoding in the process callback" }
    let scheduling = stats.isRealtime ? "SCHED_FIFO \(stats.priority)"
        : (asked.decoderThreadPriority > 0 ? "normal scheduling (SCHED_FIFO \(asked.decoderThreadPriority) not permitted)"
                                           : "normal scheduling (JACK is not real-time)")
    return "; decode worker thread: \(scheduling)" + (stats.cpu >= 0 ? ", CPU \(stats.cpu)" : "")
}
