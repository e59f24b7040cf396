// REAL-TIME CODE. Everything the JACK process thread touches lives in `JackProcessState`, so
// each reference to shared state stands out (jalv's pattern). Nothing here may allocate, lock,
// log or block once the client is active: rings, atomics and preallocated buffers only.
import Atomics
import CJack
import CRealtime
import Engine
import MIDI

/// A MIDI event stamped with JACK's frame clock on arrival (by a non-JACK MIDI source such as
/// the ALSA sequencer); the process callback plays it one period later, at a constant delay.
public struct StampedMIDIEvent: Sendable, BitwiseCopyable {
    /// `jack_frame_time` when the event arrived.
    public var frameTime: UInt32
    public var event: MIDIEvent

    public init(frameTime: UInt32, event: MIDIEvent) {
        self.frameTime = frameTime
        self.event = event
    }
}

/// State shared between the control side and the JACK threads. The process callback owns
/// `engine` and the event buffer while the client is active; the control side only touches the
/// rings and atomics then.
final class JackProcessState: @unchecked Sendable {
    // ports: written before activation, read by the process thread
    var client: OpaquePointer?
    var outLeft: OpaquePointer?
    var outRight: OpaquePointer?
    var midiIn: OpaquePointer?

    /// The engine being played (process thread only while active). Unretained: the control side
    /// keeps a strong reference until the engine comes back through `retiredEngines`.
    var engine: Unmanaged<Engine>?
    /// Control → process thread: the next engine to play.
    let engineInbox = SPSCRing<Unmanaged<Engine>?>(capacity: 8, placeholder: nil)
    /// Process thread → control: engines replaced, to be freed off the real-time thread.
    let retiredEngines = SPSCRing<Unmanaged<Engine>?>(capacity: 8, placeholder: nil)

    /// Events of the current cycle, sorted by offset (preallocated).
    let events: UnsafeMutablePointer<TimedMIDIEvent>
    let eventCapacity = 2048
    /// A non-JACK MIDI source (its own thread, the only producer) → process thread.
    let external = SPSCRing<StampedMIDIEvent>(capacity: 4096,
                                              placeholder: StampedMIDIEvent(frameTime: 0, event: .timingClock))
    /// The SysEx payloads of `external`'s `.systemExclusive` events, in the same order (each
    /// event's span counts its bytes; the offset is ignored).
    let externalSysEx = SPSCRing<UInt8>(capacity: 16384, placeholder: 0)
    /// Process thread → control: program changes, bank selects, and every CC while MIDI learn is armed.
    let toControl = SPSCRing<MIDIEvent>(capacity: 1024, placeholder: .timingClock)
    /// Set by the control side while a MIDI-learn target waits for a controller.
    let learnArmed = ManagedAtomic<Bool>(false)
    /// Channel filter (`MIDIChannelFilter.rawValue`: 0…15, or -1 for every channel). Events of
    /// other channels are neither played nor forwarded.
    let channelFilter = ManagedAtomic<Int>(MIDIChannelFilter.omni.rawValue)
    /// The drum channel (0…15, or -1 for none), set by the control side.
    let drumChannel = ManagedAtomic<Int>(Int(GeneralMIDI.drumChannel))
    /// Note-ons of drum channels are not played (process thread only; follows bank selects and
    /// program changes as they pass).
    var drums = MIDIDrumFilter()
    /// JACK MIDI bytes → events (process thread only; its SysEx buffer allocated here).
    var jackMIDI = JackMIDIDecoder()

    // counters and notifications (written by JACK threads, read by the control side)
    let cycles = ManagedAtomic<Int>(0)
    let xruns = ManagedAtomic<Int>(0)
    let droppedEvents = ManagedAtomic<Int>(0)
    let silentCycles = ManagedAtomic<Int>(0)
    let sampleRateHz = ManagedAtomic<Int>(0)
    let bufferFrames = ManagedAtomic<Int>(0)
    let isFreewheeling = ManagedAtomic<Bool>(false)
    let serverGone = ManagedAtomic<Bool>(false)
    let threadInits = ManagedAtomic<Int>(0)
    /// Time the process callback took (CLOCK_MONOTONIC): the sum over every cycle, the longest
    /// cycle since the control side last cleared it, and the cycles that took longer than their
    /// period (the callback alone overran its budget: an xrun of timbred's own making).
    let busyNanoseconds = ManagedAtomic<Int>(0)
    let peakNanoseconds = ManagedAtomic<Int>(0)
    let lateCycles = ManagedAtomic<Int>(0)
    /// The same in the thread's CPU time (CLOCK_THREAD_CPUTIME_ID): the callback's own work,
    /// without the time it was preempted or the machine stalled it. A cycle whose CPU time
    /// exceeds the period overran by its own work (`overrunCycles`).
    let cpuNanoseconds = ManagedAtomic<Int>(0)
    let peakCPUNanoseconds = ManagedAtomic<Int>(0)
    let overrunCycles = ManagedAtomic<Int>(0)
    /// The reason the server gave when it shut the client down (written once, before `serverGone`).
    let shutdownReason: UnsafeMutablePointer<CChar>
    let shutdownReasonCapacity = 256

    /// Test hook: a C function returning the calling thread's allocation count, called at the top
    /// and the bottom of each cycle; the difference accumulates in `callbackAllocations`.
    var allocationProbe: (@convention(c) () -> Int64)?
    let callbackAllocations = ManagedAtomic<Int>(0)

    init() {
        events = .allocate(capacity: eventCapacity)
        events.initialize(repeating: TimedMIDIEvent(offset: 0, event: .timingClock), count: eventCapacity)
        shutdownReason = .allocate(capacity: shutdownReasonCapacity)
        shutdownReason.initialize(repeating: 0, count: shutdownReasonCapacity)
        // first use of each ring's generic code here, not on the process thread
        _ = engineInbox.push(nil); _ = engineInbox.pop()
        _ = retiredEngines.push(nil); _ = retiredEngines.pop()
        _ = external.push(StampedMIDIEvent(frameTime: 0, event: .timingClock)); _ = external.peek(); _ = external.pop()
        _ = toControl.push(.timingClock); _ = toControl.pop()
        _ = externalSysEx.push(0); _ = externalSysEx.pop()
        jackMIDI.warmUp()
    }

    deinit {
        jackMIDI.deallocate()
        events.deallocate()
        shutdownReason.deallocate()
    }

    // MARK: - the process cycle (real-time)

    /// One JACK cycle: adopts a new engine if one waits, gathers the cycle's MIDI (JACK MIDI at
    /// its exact offsets, stamped external events one period later), renders, and counts.
    /// Real-time safe: no allocation, lock, log or system call beyond JACK's own RT-safe calls.
    @inline(__always)
    func process(frameCount: UInt32) -> Int32 {
        let probeStart = allocationProbe?() ?? 0
        let started = timbred_rt_clock_ns()
        let startedCPU = timbred_rt_thread_cpu_ns()
        timbred_rt_enter()
        let n = Int(frameCount)
        while let incoming = engineInbox.pop() { swap(to: incoming) }
        guard let leftRaw = jack_port_get_buffer(outLeft, frameCount),
              let rightRaw = jack_port_get_buffer(outRight, frameCount) else {
            timbred_rt_exit()
            return 0
        }
        let left = leftRaw.assumingMemoryBound(to: Float.self)
        let right = rightRaw.assumingMemoryBound(to: Float.self)
        let count = gatherEvents(frameCount: frameCount)
        if let engine, engineMatchesServer(engine) {
            engine._withUnsafeGuaranteedRef { e in
                e.render(frameCount: n, events: UnsafeBufferPointer(start: events, count: count), sysEx: jackMIDI.sysExBytes,
                         left: left, right: right)
            }
        } else {
            left.update(repeating: 0, count: n)
            right.update(repeating: 0, count: n)
            silentCycles.wrappingIncrement(ordering: .relaxed)
        }
        cycles.wrappingIncrement(ordering: .relaxed)
        recordTiming(frames: n, nanoseconds: Int(timbred_rt_clock_ns() - started),
                     cpuNanoseconds: Int(timbred_rt_thread_cpu_ns() - startedCPU))
        timbred_rt_exit()
        if let probe = allocationProbe {
            let grown = probe() - probeStart
            if grown > 0 { callbackAllocations.wrappingIncrement(by: Int(grown), ordering: .relaxed) }
        }
        return 0
    }

    /// Plays `incoming` from now on: it first copies what the performance set live on the engine
    /// it replaces (`Engine.captureLiveState`, between that engine's last block and its own
    /// first), then the old one goes back to the control side to be freed. Called by the process
    /// thread, or by the control thread while no callback runs. Real-time safe.
    @inline(__always)
    func swap(to incoming: Unmanaged<Engine>?) {
        if let old = engine {
            if let incoming, incoming.toOpaque() != old.toOpaque() {
                incoming._withUnsafeGuaranteedRef { new in old._withUnsafeGuaranteedRef { new.captureLiveState(of: $0) } }
            }
            _ = retiredEngines.push(old)
        }
        engine = incoming
    }

    /// Adds one cycle's duration to the load counters (single writer: this thread; the control
    /// side only reads them and clears the peak). Real-time safe: atomics only.
    @inline(__always)
    private func recordTiming(frames: Int, nanoseconds: Int, cpuNanoseconds cpu: Int) {
        busyNanoseconds.wrappingIncrement(by: nanoseconds, ordering: .relaxed)
        if nanoseconds > peakNanoseconds.load(ordering: .relaxed) {
            peakNanoseconds.store(nanoseconds, ordering: .relaxed)
        }
        cpuNanoseconds.wrappingIncrement(by: cpu, ordering: .relaxed)
        if cpu > peakCPUNanoseconds.load(ordering: .relaxed) {
            peakCPUNanoseconds.store(cpu, ordering: .relaxed)
        }
        let rate = sampleRateHz.load(ordering: .relaxed)
        guard rate > 0 else { return }
        let period = frames * 1_000_000_000 / rate
        if nanoseconds > period { lateCycles.wrappingIncrement(ordering: .relaxed) }
        if cpu > period { overrunCycles.wrappingIncrement(ordering: .relaxed) }
    }

    /// True when the engine was prepared for the server's current rate. Real-time safe.
    @inline(__always)
    private func engineMatchesServer(_ engine: Unmanaged<Engine>) -> Bool {
        let rate = sampleRateHz.load(ordering: .relaxed)
        return engine._withUnsafeGuaranteedRef { Int($0.settings.sampleRate) == rate }
    }

    /// Fills `events` with this cycle's MIDI, sorted by offset, and returns how many. Real-time safe.
    @inline(__always)
    private func gatherEvents(frameCount: UInt32) -> Int {
        var count = 0
        let filter = MIDIChannelFilter(rawValue: channelFilter.load(ordering: .relaxed))
        let learning = learnArmed.load(ordering: .relaxed)
        drums.drumChannel = drumChannel.load(ordering: .relaxed)
        jackMIDI.beginCycle()
        // JACK MIDI: complete messages, already in time order
        if let port = midiIn, let buffer = jack_port_get_buffer(port, frameCount) {
            let total = jack_midi_get_event_count(buffer)
            var raw = jack_midi_event_t()
            var i: UInt32 = 0
            while i < total {
                if jack_midi_event_get(&raw, buffer, i) == 0, raw.size > 0, let bytes = raw.buffer {
                    let offset = Int(min(raw.time, frameCount - 1))
                    jackMIDI.decode(UnsafeBufferPointer(start: bytes, count: raw.size)) { event in
                        guard accept(event, filter: filter, learning: learning) else { return }
                        if count < eventCapacity {
                            events[count] = TimedMIDIEvent(offset: offset, event: event)
                            count += 1
                        } else {
                            droppedEvents.wrappingIncrement(ordering: .relaxed)
                        }
                    }
                }
                i += 1
            }
        }
        // external (stamped) events: at their arrival time one period later
        if let client, external.peek() != nil {
            let cycleStart = jack_last_frame_time(client)
            while let stamped = external.peek() {
                let offset = Int(Int32(bitPattern: stamped.frameTime &+ frameCount &- cycleStart))
                if offset >= Int(frameCount) { break }  // for a later cycle
                _ = external.pop()
                var event = stamped.event
                if case let .systemExclusive(span) = event {
                    // its payload waits in externalSysEx: into this cycle's store
                    guard let stored = jackMIDI.store(from: externalSysEx, count: Int(span.byteCount)) else {
                        droppedEvents.wrappingIncrement(ordering: .relaxed)
                        continue
                    }
                    event = .systemExclusive(stored)
                }
                guard accept(event, filter: filter, learning: learning) else { continue }
                guard count < eventCapacity else {
                    droppedEvents.wrappingIncrement(ordering: .relaxed)
                    continue
                }
                insertSorted(TimedMIDIEvent(offset: max(offset, 0), event: event), count: &count)
            }
        }
        return count
    }

    /// Channel filter, drum filter and forwarding to the control side (program change, bank
    /// select, learn). Real-time safe.
    @inline(__always)
    private func accept(_ event: MIDIEvent, filter: MIDIChannelFilter, learning: Bool) -> Bool {
        guard filter.accepts(event), drums.accepts(event) else { return false }
        if event.isForwardedToControl(learning: learning) { _ = toControl.push(event) }
        return true
    }

    /// Inserts after every event with an offset not greater (stable). Real-time safe.
    @inline(__always)
    private func insertSorted(_ event: TimedMIDIEvent, count: inout Int) {
        var i = count
        while i > 0 && events[i - 1].offset > event.offset {
            events[i] = events[i - 1]
            i -= 1
        }
        events[i] = event
        count += 1
    }
}

/// JACK MIDI bytes → the events to play, through the one MIDI byte decoder (`MIDIByteDecoder`,
/// as the ALSA sequencer's SysEx): a SysEx arrives whole (even split over several JACK events),
/// and a System Reset (0xFF) or a GM / GS / XG reset SysEx becomes `MIDIEvent.channelReset`
/// (all sound off and reset all controllers on every channel), as from the ALSA sequencer.
/// Tuning SysEx (MIDI Tuning Standard, master tuning) and the GM / GS / XG reset itself (which
/// clears scale and master tuning) are copied into the cycle's SysEx store (`sysExBytes`, 16 KiB,
/// emptied by `beginCycle`) and emitted as `.systemExclusive` spans into it, for the engine to
/// play at their offsets; other SysEx is dropped.
/// Running status carries over between events, as on a MIDI cable. Real-time safe: the
/// decoder's SysEx buffer and the store are allocated in `init`, and nothing holds a copy of them.
struct JackMIDIDecoder {
    private var decoder = MIDIByteDecoder(maximumSysExByteCount: 4096)
    private let store: UnsafeMutablePointer<UInt8>
    static let storeCapacity = 16384
    private var stored = 0

    init() {
        store = .allocate(capacity: Self.storeCapacity)
        store.initialize(repeating: 0, count: Self.storeCapacity)
    }

    /// Frees the store (the owner's deinit).
    func deallocate() { store.deallocate() }

    /// The SysEx payloads of the cycle's events. Real-time safe.
    var sysExBytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: store, count: stored) }

    /// Empties the store (at the start of each cycle). Real-time safe.
    mutating func beginCycle() { stored = 0 }

    /// Copies the decoder's current SysEx payload into the store; nil when it does not fit.
    /// Real-time safe.
    @inline(__always)
    private mutating func keepPayload() -> MIDISysExSpan? {
        let store = self.store, start = stored
        let count = decoder.withSysExPayload { payload -> Int in
            guard payload.count > 0, start + payload.count <= Self.storeCapacity, let base = payload.baseAddress else { return 0 }
            (store + start).update(from: base, count: payload.count)
            return payload.count
        }
        guard count > 0 else { return nil }
        stored += count
        return MIDISysExSpan(byteOffset: UInt32(start), byteCount: UInt32(count))
    }

    /// Moves `count` bytes from `ring` into the store (an external SysEx); nil when they do not
    /// fit (they are dropped from the ring all the same). Real-time safe.
    mutating func store(from ring: SPSCRing<UInt8>, count: Int) -> MIDISysExSpan? {
        let fits = count > 0 && stored + count <= Self.storeCapacity
        let start = stored
        for i in 0..<count {
            guard let byte = ring.pop() else { return nil }
            if fits { store[start + i] = byte }
        }
        guard fits else { return nil }
        stored += count
        return MIDISysExSpan(byteOffset: UInt32(start), byteCount: UInt32(count))
    }

    /// Decodes the bytes of one JACK MIDI event, calling `emit` with each event to play, in
    /// order. Real-time safe.
    @inline(__always)
    mutating func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ emit: (MIDIEvent) -> Void) {
        for byte in bytes {
            guard let event = decoder.feed(byte) else { continue }
            switch event {
            case .systemExclusive:
                let (reset, tuning) = decoder.withSysExPayload { p in
                    (MIDIEvent.isSystemReset(sysExPayload: p), TuningTables.isTuningMessage(p))
                }
                if reset { emitChannelReset(emit) }
                if reset || tuning, let span = keepPayload() { emit(.systemExclusive(span)) }
            case .systemReset:
                emitChannelReset(emit)
            default:
                emit(event)
            }
        }
    }

    @inline(__always)
    private func emitChannelReset(_ emit: (MIDIEvent) -> Void) {
        for i in 0..<MIDIEvent.channelResetCount { emit(MIDIEvent.channelReset(i)) }
    }

    /// Runs every path once (first-use costs off the real-time thread), then forgets the state.
    mutating func warmUp() {
        let bytes: [UInt8] = [0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7, 0x90, 60, 100, 0xFF,
                              0xF0, 0x7F, 0x7F, 0x04, 0x03, 0x00, 0x40, 0xF7]
        bytes.withUnsafeBufferPointer { decode($0) { _ in } }
        decoder.reset()
        stored = 0
    }
}

// MARK: - C callbacks (trampolines). Top-level functions passed as C function pointers, not
// closures: JACK calls them on its own threads; they reach the state through the context pointer.

/// Process callback. Real-time.
func jackProcessCallback(_ frames: jack_nframes_t, _ context: UnsafeMutableRawPointer?) -> Int32 {
    guard let context else { return 0 }
    return Unmanaged<JackProcessState>.fromOpaque(context)._withUnsafeGuaranteedRef { $0.process(frameCount: frames) }
}

/// Buffer-size callback: records the new size; the control side prepares a new engine.
func jackBufferSizeCallback(_ frames: jack_nframes_t, _ context: UnsafeMutableRawPointer?) -> Int32 {
    guard let context else { return 0 }
    Unmanaged<JackProcessState>.fromOpaque(context)._withUnsafeGuaranteedRef {
        $0.bufferFrames.store(Int(frames), ordering: .releasing)
    }
    return 0
}

/// Sample-rate callback: records the new rate; the process thread plays silence until an engine
/// prepared for it arrives.
func jackSampleRateCallback(_ rate: jack_nframes_t, _ context: UnsafeMutableRawPointer?) -> Int32 {
    guard let context else { return 0 }
    Unmanaged<JackProcessState>.fromOpaque(context)._withUnsafeGuaranteedRef {
        $0.sampleRateHz.store(Int(rate), ordering: .releasing)
    }
    return 0
}

/// Xrun callback: counts; the control side reports.
func jackXRunCallback(_ context: UnsafeMutableRawPointer?) -> Int32 {
    guard let context else { return 0 }
    Unmanaged<JackProcessState>.fromOpaque(context)._withUnsafeGuaranteedRef {
        $0.xruns.wrappingIncrement(ordering: .relaxed)
    }
    return 0
}

/// Freewheel callback: records the mode.
func jackFreewheelCallback(_ starting: Int32, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    Unmanaged<JackProcessState>.fromOpaque(context)._withUnsafeGuaranteedRef {
        $0.isFreewheeling.store(starting != 0, ordering: .relaxed)
    }
}

/// Thread-init callback: every thread JACK creates for the client flushes denormals to zero.
func jackThreadInitCallback(_ context: UnsafeMutableRawPointer?) {
    timbred_flush_denormals()
    guard let context else { return }
    Unmanaged<JackProcessState>.fromOpaque(context)._withUnsafeGuaranteedRef {
        $0.threadInits.wrappingIncrement(ordering: .relaxed)
    }
}

/// Info-shutdown callback: the server went away. Copies the reason into a preallocated buffer
/// and raises `serverGone`; the control side closes the client and reconnects.
func jackInfoShutdownCallback(_ code: jack_status_t, _ reason: UnsafePointer<CChar>?,
                              _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    Unmanaged<JackProcessState>.fromOpaque(context)._withUnsafeGuaranteedRef { state in
        var i = 0
        if let reason {
            while i < state.shutdownReasonCapacity - 1 && reason[i] != 0 {
                state.shutdownReason[i] = reason[i]
                i += 1
            }
        }
        state.shutdownReason[i] = 0
        state.serverGone.store(true, ordering: .releasing)
    }
}
