import Atomics
import CJack
import Engine
import MIDI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The JACK client that plays an `Engine`: stereo output ports, a MIDI input port, and the
/// process callback (JackProcessState.swift).
///
/// Everything here runs on the control side (one control thread), except `enqueue(_:)`, which a
/// single MIDI input thread (the ALSA sequencer's) may call. Lifecycle: `open()` (client, ports,
/// callbacks — nothing runs yet), `install(_:)` an engine prepared for the reported rate and
/// size, `activate()` (starts the process callback, then connects ports), and `close()` —
/// also after the server went away (`serverHasGone`), before opening again.
public final class JackBackend: @unchecked Sendable {
    /// How the client presents itself.
    public struct Configuration: Sendable, Equatable {
        /// Client name (JACK may append a suffix when it is taken).
        public var clientName = "timbred"
        /// Server to join ("" = $JACK_DEFAULT_SERVER or "default").
        public var serverName = ""
        /// Connect the outputs to the first two physical playback ports.
        public var autoconnectAudio = true
        /// Connect every physical JACK MIDI source (except loop-backs, `isMIDIThroughPort`) to the MIDI input.
        public var autoconnectMIDI = false

        public init() {}
    }

    /// What `open()` found.
    public struct Connection: Sendable, Equatable {
        /// The client's name as the server registered it.
        public var clientName: String
        public var sampleRate: Int
        public var bufferFrames: Int
    }

    public let configuration: Configuration
    let state = JackProcessState()
    /// Strong references to every engine installed or in flight, until it is retired.
    private var engines: [Engine] = []
    /// The engine most recently installed (the one the control side sends commands to).
    public private(set) var currentEngine: Engine?
    public private(set) var isOpen = false
    public private(set) var isActive = false
    /// Guards the client pointer for `enqueue(_:)`'s clock reading against `close()`.
    private let clientForClock = Mutex<UInt>(0)

    public init(configuration: Configuration) {
        self.configuration = configuration
        // libjack prints every failed connection attempt; the control side reports in one line
        jack_set_error_function(jackLibraryMessage)
        jack_set_info_function(jackLibraryMessage)
    }

    /// Let libjack's own messages through to stderr (off by default: retries would print
    /// several lines a second while no server runs).
    public static var showsLibraryMessages: Bool {
        get { jackLibraryMessagesShown.load(ordering: .relaxed) }
        set { jackLibraryMessagesShown.store(newValue, ordering: .relaxed) }
    }

    deinit { close() }

    private var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(state).toOpaque() }

    // MARK: - lifecycle

    /// Opens the client (never starting a server), registers the ports and every callback.
    /// - Throws: `JackError.serverNotRunning` when no server runs, or another `JackError`.
    public func open() throws(JackError) -> Connection {
        if isOpen { close() }
        var status = jack_status_t(rawValue: 0)
        let options = jack_options_t(rawValue: JackNoStartServer.rawValue)
        guard let client = timbred_jack_client_open(configuration.clientName, options, &status, configuration.serverName) else {
            if status.rawValue & JackServerFailed.rawValue != 0 || status.rawValue & JackServerError.rawValue != 0 {
                throw .serverNotRunning(server: configuration.serverName)
            }
            throw .openFailed(status: status.rawValue)
        }
        state.client = client
        state.serverGone.store(false, ordering: .releasing)
        do {
            state.outLeft = try register(client, "out_left", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput)
            state.outRight = try register(client, "out_right", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput)
            state.midiIn = try register(client, "midi_in", JACK_DEFAULT_MIDI_TYPE, JackPortIsInput)
            try check(jack_set_process_callback(client, jackProcessCallback, context), "process")
            try check(jack_set_buffer_size_callback(client, jackBufferSizeCallback, context), "buffer-size")
            try check(jack_set_sample_rate_callback(client, jackSampleRateCallback, context), "sample-rate")
            try check(jack_set_xrun_callback(client, jackXRunCallback, context), "xrun")
            try check(jack_set_freewheel_callback(client, jackFreewheelCallback, context), "freewheel")
            try check(jack_set_thread_init_callback(client, jackThreadInitCallback, context), "thread-init")
            jack_on_info_shutdown(client, jackInfoShutdownCallback, context)
        } catch {
            jack_client_close(client)
            state.client = nil
            throw error
        }
        state.sampleRateHz.store(Int(jack_get_sample_rate(client)), ordering: .releasing)
        state.bufferFrames.store(Int(jack_get_buffer_size(client)), ordering: .releasing)
        isOpen = true
        let name = jack_get_client_name(client).map { String(cString: $0) } ?? configuration.clientName
        return Connection(clientName: name, sampleRate: sampleRate, bufferFrames: bufferFrames)
    }

    /// The SCHED_FIFO priority of JACK's process thread for this client (nil: not open or not
    /// real-time), for the engine's decode worker, which runs just below it.
    public var processThreadPriority: Int32? {
        guard isOpen, let client = state.client, jack_is_realtime(client) != 0 else { return nil }
        let priority = jack_client_real_time_priority(client)
        return priority > 0 ? priority : nil
    }

    /// Starts the process callback, then connects the ports (when configured).
    /// - Returns: the connections made, as "ours -> theirs" lines.
    public func activate() throws(JackError) -> [String] {
        guard isOpen, let client = state.client else { throw .activationFailed }
        guard jack_activate(client) == 0 else { throw .activationFailed }
        isActive = true
        clientForClock.withLock { $0 = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(client))) }
        var made: [String] = []
        if configuration.autoconnectAudio {
            let playback = ports(client, type: JACK_DEFAULT_AUDIO_TYPE, flags: JackPortIsPhysical.rawValue | JackPortIsInput.rawValue)
            if !playback.isEmpty {
                for (i, port) in [state.outLeft, state.outRight].enumerated() {
                    guard let port, let ours = jack_port_name(port) else { continue }
                    let theirs = playback[min(i, playback.count - 1)]
                    let r = jack_connect(client, ours, theirs)
                    if r == 0 || r == EEXIST { made.append("\(String(cString: ours)) -> \(theirs)") }
                }
            }
        }
        if configuration.autoconnectMIDI, let midiIn = state.midiIn, let ours = jack_port_name(midiIn) {
            let sources = ports(client, type: JACK_DEFAULT_MIDI_TYPE, flags: JackPortIsPhysical.rawValue | JackPortIsOutput.rawValue)
            for source in sources where !isMIDIThroughPort(source) {
                let r = jack_connect(client, source, ours)
                if r == 0 || r == EEXIST { made.append("\(source) -> \(String(cString: ours))") }
            }
        }
        return made
    }

    /// Deactivates and closes the client (also after the server went away); the engine stays
    /// installed for the next `open()`.
    public func close() {
        guard isOpen, let client = state.client else { return }
        clientForClock.withLock { $0 = 0 }
        if isActive && !serverHasGone { jack_deactivate(client) }
        jack_client_close(client)
        state.client = nil
        state.outLeft = nil
        state.outRight = nil
        state.midiIn = nil
        isOpen = false
        isActive = false
        // the process thread has stopped: adopt waiting engines here
        while let incoming = state.engineInbox.pop() { state.swap(to: incoming) }
        reclaimRetiredEngines()
    }

    // MARK: - engines

    /// Makes `engine` the one played: directly when the client is not active, otherwise through
    /// the process thread's inbox (the old engine comes back through the retired ring and is
    /// freed by `reclaimRetiredEngines()`, never on the real-time thread).
    public func install(_ engine: Engine) {
        engines.append(engine)
        currentEngine = engine
        let handle = Unmanaged.passUnretained(engine)
        if isActive {
            if !state.engineInbox.push(handle) {
                // cannot happen with one swap per prepare; keep the reference so nothing dangles
                return
            }
        } else {
            state.swap(to: handle)  // no callback runs: the new engine copies the old one's live state here
            reclaimRetiredEngines()
        }
    }

    /// Frees the engines the process thread has let go of. Control side.
    public func reclaimRetiredEngines() {
        while let retired = state.retiredEngines.pop() {
            guard let retired else { continue }
            let object = retired.takeUnretainedValue()
            engines.removeAll { $0 === object }
        }
    }

    // MARK: - MIDI from other sources

    /// Stamps `event` with JACK's frame clock and queues it for the process callback, which plays
    /// it one period after its arrival (a constant delay, no jitter). Call from one thread only
    /// (the single producer); never from the process thread. Returns false when no client is
    /// active or the queue is full (the event is dropped).
    @discardableResult
    public func enqueue(_ event: MIDIEvent) -> Bool {
        clientForClock.withLock { bits in
            guard bits != 0, let client = OpaquePointer(bitPattern: bits) else { return false }
            let now = jack_frame_time(client)
            return state.external.push(StampedMIDIEvent(frameTime: now, event: event))
        }
    }

    /// Stamps a SysEx payload (the bytes between F0 and F7) as `enqueue(_:)` stamps an event; the
    /// process thread plays it at the same one-period delay (tuning and reset SysEx act, others
    /// are ignored by the engine). Same thread rule as `enqueue`. Returns false when no client is
    /// active or the queues lack room (the message is dropped whole).
    @discardableResult
    public func enqueueSysEx(_ payload: [UInt8]) -> Bool {
        guard !payload.isEmpty, payload.count <= JackMIDIDecoder.storeCapacity else { return false }
        return clientForClock.withLock { bits in
            guard bits != 0, let client = OpaquePointer(bitPattern: bits) else { return false }
            guard state.externalSysEx.freeSlots >= payload.count, state.external.freeSlots >= 1 else { return false }
            for byte in payload { _ = state.externalSysEx.push(byte) }
            let now = jack_frame_time(client)
            let span = MIDISysExSpan(byteOffset: 0, byteCount: UInt32(payload.count))
            return state.external.push(StampedMIDIEvent(frameTime: now, event: .systemExclusive(span)))
        }
    }

    /// The next event the process thread forwarded (program change, bank select, learn). Control side.
    public func nextForwardedEvent() -> MIDIEvent? { state.toControl.pop() }

    /// While armed, the process thread forwards every controller and pressure event for MIDI learn.
    public func setLearnArmed(_ armed: Bool) { state.learnArmed.store(armed, ordering: .releasing) }

    /// Plays and forwards only the events the filter accepts (one channel, or every channel).
    public func setChannelFilter(_ filter: MIDIChannelFilter) {
        state.channelFilter.store(filter.rawValue, ordering: .releasing)
    }

    /// Note-ons on the filter's drum channel (and on channels set to drum or effect banks) are
    /// not played.
    public func setDrumFilter(_ filter: MIDIDrumFilter) {
        state.drumChannel.store(filter.drumChannel, ordering: .releasing)
    }

    // MARK: - state for the control side

    /// The server's sample rate (updated by the sample-rate callback).
    public var sampleRate: Int { state.sampleRateHz.load(ordering: .acquiring) }
    /// The server's period (updated by the buffer-size callback).
    public var bufferFrames: Int { state.bufferFrames.load(ordering: .acquiring) }
    /// Xruns reported by the server since the process started.
    public var xrunCount: Int { state.xruns.load(ordering: .relaxed) }
    /// Process cycles run since the process started.
    public var cycleCount: Int { state.cycles.load(ordering: .relaxed) }
    /// Cycles output as silence (no engine for the server's rate yet).
    public var silentCycleCount: Int { state.silentCycles.load(ordering: .relaxed) }
    /// Events dropped because a cycle had more than the buffer holds.
    public var droppedEventCount: Int { state.droppedEvents.load(ordering: .relaxed) }
    /// True while the server runs the graph in freewheel mode.
    public var isFreewheeling: Bool { state.isFreewheeling.load(ordering: .relaxed) }
    /// Threads of this client that ran the thread-init callback (denormals flushed).
    public var initializedThreadCount: Int { state.threadInits.load(ordering: .relaxed) }
    /// True once the server shut the client down (info-shutdown); `close()` and reopen.
    public var serverHasGone: Bool { state.serverGone.load(ordering: .acquiring) }
    /// The reason the server gave for shutting down.
    public var shutdownReason: String {
        guard serverHasGone else { return "" }
        return String(cString: state.shutdownReason)
    }
    /// DSP load of the whole JACK graph in percent, as the server measures it.
    public var cpuLoadPercent: Float {
        guard isActive, !serverHasGone, let client = state.client else { return 0 }
        return jack_cpu_load(client)
    }

    /// How long the process callback takes, measured by the callback itself (CLOCK_MONOTONIC at
    /// its start and end; the callback only adds to atomics).
    public struct CallbackTiming: Sendable, Equatable {
        /// Cycles run since the process started.
        public var cycles = 0
        /// Nanoseconds spent in the callback over those cycles.
        public var busyNanoseconds = 0
        /// The longest cycle since `clearCallbackPeak()` (or the start), in nanoseconds.
        public var peakNanoseconds = 0
        /// Cycles whose callback took longer than the period.
        public var lateCycles = 0
        /// CPU time the callback's thread ran over those cycles (its own work, without the time
        /// it was preempted or the machine stalled it), in nanoseconds.
        public var cpuNanoseconds = 0
        /// The largest CPU time of one cycle since `clearCallbackPeak()`, in nanoseconds.
        public var peakCPUNanoseconds = 0
        /// Cycles whose callback's CPU time alone exceeded the period: overruns of timbred's own
        /// making (a late cycle with less CPU time was stalled by the machine).
        public var overrunCycles = 0

        public init() {}
    }

    /// The callback's timing counters now. Load in percent of the period over a window is
    /// `(b.busy - a.busy) / ((b.cycles - a.cycles) · period)` between two readings a and b.
    public var callbackTiming: CallbackTiming {
        var t = CallbackTiming()
        t.cycles = state.cycles.load(ordering: .relaxed)
        t.busyNanoseconds = state.busyNanoseconds.load(ordering: .relaxed)
        t.peakNanoseconds = state.peakNanoseconds.load(ordering: .relaxed)
        t.lateCycles = state.lateCycles.load(ordering: .relaxed)
        t.cpuNanoseconds = state.cpuNanoseconds.load(ordering: .relaxed)
        t.peakCPUNanoseconds = state.peakCPUNanoseconds.load(ordering: .relaxed)
        t.overrunCycles = state.overrunCycles.load(ordering: .relaxed)
        return t
    }

    /// Starts a new window for `callbackTiming.peakNanoseconds`.
    public func clearCallbackPeak() {
        state.peakNanoseconds.store(0, ordering: .relaxed)
        state.peakCPUNanoseconds.store(0, ordering: .relaxed)
    }

    /// The period in nanoseconds at the server's current rate and size (0 when unknown).
    public var periodNanoseconds: Int {
        let rate = sampleRate
        return rate > 0 ? bufferFrames * 1_000_000_000 / rate : 0
    }

    /// Test hook: a C function returning the calling thread's heap-allocation count (CAllocCounter's
    /// `timbred_alloc_count_thread`); set before `activate()`. The process callback then counts its
    /// own allocations into `callbackAllocationCount`.
    public var allocationProbe: (@convention(c) () -> Int64)? {
        get { state.allocationProbe }
        set { state.allocationProbe = newValue }
    }
    /// Heap allocations made inside the process callback (only counted with `allocationProbe`).
    public var callbackAllocationCount: Int { state.callbackAllocations.load(ordering: .relaxed) }

    // MARK: - helpers

    private func register(_ client: OpaquePointer, _ name: String, _ type: String, _ flags: JackPortFlags) throws(JackError) -> OpaquePointer {
        guard let port = jack_port_register(client, name, type, UInt(flags.rawValue), 0) else {
            throw .portRegistrationFailed(name: name)
        }
        return port
    }

    private func check(_ result: Int32, _ name: String) throws(JackError) {
        guard result == 0 else { throw .callbackRegistrationFailed(name: name) }
    }

    /// Port names matching a type and flags (jack_get_ports), in the server's order.
    private func ports(_ client: OpaquePointer, type: String, flags: UInt32) -> [String] {
        guard let list = jack_get_ports(client, nil, type, UInt(flags)) else { return [] }
        defer { jack_free(list) }
        var names: [String] = []
        var i = 0
        while let name = list[i] {
            names.append(String(cString: name))
            i += 1
        }
        return names
    }
}

private let jackLibraryMessagesShown = ManagedAtomic<Bool>(false)

/// libjack's error and info callback: silent unless `JackBackend.showsLibraryMessages`.
private func jackLibraryMessage(_ message: UnsafePointer<CChar>?) {
    guard jackLibraryMessagesShown.load(ordering: .relaxed), let message else { return }
    fputs("libjack: ", stderr)
    fputs(message, stderr)
    fputs("\n", stderr)
}
