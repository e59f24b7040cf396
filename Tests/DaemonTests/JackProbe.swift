// Test-side JACK clients: one sends MIDI at chosen frames, one records audio with the frame time
// of every sample. Two clients, so the graph runs sender → timbred → recorder in one cycle.
import Atomics
import CJack
import Foundation
import JackBackend

/// A MIDI message to write at an absolute JACK frame.
struct ScheduledMIDI {
    var frame: UInt32
    var bytes: [UInt8]
}

/// State of the probe's two process callbacks (test code: a try-lock guards the schedule).
final class JackProbeState: @unchecked Sendable {
    var midiOut: OpaquePointer?
    var inLeft: OpaquePointer?
    var inRight: OpaquePointer?
    var senderClient: OpaquePointer?
    var receiverClient: OpaquePointer?

    var scheduleLock = pthread_mutex_t()
    var schedule: [ScheduledMIDI] = []
    let lateEvents = ManagedAtomic<Int>(0)
    /// Sent events: the frame each was written at.
    var sentFrames: [UInt32] = []

    let capacity: Int
    let left: UnsafeMutablePointer<Float>
    let right: UnsafeMutablePointer<Float>
    /// Frame of recorded sample 0 (set by the first cycle).
    let firstFrame = ManagedAtomic<UInt32>(0)
    let started = ManagedAtomic<Bool>(false)
    /// Samples recorded (relative to firstFrame).
    let recordedCount = ManagedAtomic<Int>(0)
    let gaps = ManagedAtomic<Int>(0)

    init(seconds: Double, sampleRate: Int) {
        capacity = Int(seconds * Double(sampleRate))
        left = .allocate(capacity: capacity)
        right = .allocate(capacity: capacity)
        left.initialize(repeating: 0, count: capacity)
        right.initialize(repeating: 0, count: capacity)
        pthread_mutex_init(&scheduleLock, nil)
        schedule.reserveCapacity(4096)
        sentFrames.reserveCapacity(4096)
    }

    deinit {
        left.deallocate()
        right.deallocate()
    }

    func sendCycle(_ frames: UInt32) -> Int32 {
        guard let port = midiOut, let client = senderClient, let buffer = jack_port_get_buffer(port, frames) else { return 0 }
        jack_midi_clear_buffer(buffer)
        let cycleStart = jack_last_frame_time(client)
        guard pthread_mutex_trylock(&scheduleLock) == 0 else { return 0 }
        defer { pthread_mutex_unlock(&scheduleLock) }
        var taken = 0
        for event in schedule {
            let offset = Int32(bitPattern: event.frame &- cycleStart)
            if offset >= Int32(frames) { break }
            var at = UInt32(max(offset, 0))
            if offset < 0 { lateEvents.wrappingIncrement(ordering: .relaxed) }
            at = min(at, frames - 1)
            event.bytes.withUnsafeBufferPointer { b in _ = jack_midi_event_write(buffer, at, b.baseAddress, b.count) }
            sentFrames.append(cycleStart &+ at)
            taken += 1
        }
        if taken > 0 { schedule.removeFirst(taken) }
        return 0
    }

    func receiveCycle(_ frames: UInt32) -> Int32 {
        guard let client = receiverClient, let l = jack_port_get_buffer(inLeft, frames),
              let r = jack_port_get_buffer(inRight, frames) else { return 0 }
        let cycleStart = jack_last_frame_time(client)
        if !started.load(ordering: .relaxed) {
            firstFrame.store(cycleStart, ordering: .relaxed)
            started.store(true, ordering: .releasing)
        }
        let index = Int(Int32(bitPattern: cycleStart &- firstFrame.load(ordering: .relaxed)))
        let recorded = recordedCount.load(ordering: .relaxed)
        if index != recorded { gaps.wrappingIncrement(ordering: .relaxed) }
        guard index >= 0, index + Int(frames) <= capacity else { return 0 }
        (left + index).update(from: l.assumingMemoryBound(to: Float.self), count: Int(frames))
        (right + index).update(from: r.assumingMemoryBound(to: Float.self), count: Int(frames))
        recordedCount.store(index + Int(frames), ordering: .releasing)
        return 0
    }
}

private func probeSendCallback(_ frames: jack_nframes_t, _ context: UnsafeMutableRawPointer?) -> Int32 {
    Unmanaged<JackProbeState>.fromOpaque(context!).takeUnretainedValue().sendCycle(frames)
}

private func probeReceiveCallback(_ frames: jack_nframes_t, _ context: UnsafeMutableRawPointer?) -> Int32 {
    Unmanaged<JackProbeState>.fromOpaque(context!).takeUnretainedValue().receiveCycle(frames)
}

/// The test's JACK clients: `probe_midi` (MIDI out) and `probe_rec` (two audio inputs).
final class JackProbe {
    let state: JackProbeState
    let sampleRate: Int
    let period: Int
    private var closed = false

    /// Opens both clients on `server` and activates them.
    init(server: String, seconds: Double = 20) throws {
        var status = jack_status_t(rawValue: 0)
        let options = jack_options_t(rawValue: JackNoStartServer.rawValue)
        guard let sender = timbred_jack_client_open("probe_midi", options, &status, server),
              let receiver = timbred_jack_client_open("probe_rec", options, &status, server) else {
            throw ProbeError("cannot open probe clients on \(server) (status \(status.rawValue))")
        }
        sampleRate = Int(jack_get_sample_rate(sender))
        period = Int(jack_get_buffer_size(sender))
        state = JackProbeState(seconds: seconds, sampleRate: sampleRate)
        state.senderClient = sender
        state.receiverClient = receiver
        state.midiOut = jack_port_register(sender, "midi_out", JACK_DEFAULT_MIDI_TYPE, UInt(JackPortIsOutput.rawValue), 0)
        state.inLeft = jack_port_register(receiver, "in_left", JACK_DEFAULT_AUDIO_TYPE, UInt(JackPortIsInput.rawValue), 0)
        state.inRight = jack_port_register(receiver, "in_right", JACK_DEFAULT_AUDIO_TYPE, UInt(JackPortIsInput.rawValue), 0)
        let context = Unmanaged.passUnretained(state).toOpaque()
        jack_set_process_callback(sender, probeSendCallback, context)
        jack_set_process_callback(receiver, probeReceiveCallback, context)
        guard jack_activate(sender) == 0, jack_activate(receiver) == 0 else { throw ProbeError("cannot activate probe clients") }
    }

    deinit { close() }

    func close() {
        guard !closed else { return }
        closed = true
        if let c = state.senderClient { jack_client_close(c) }
        if let c = state.receiverClient { jack_client_close(c) }
    }

    /// Connects the probe to a synth client's ports (its midi_in, out_left, out_right).
    func connect(to client: String) throws {
        guard let sender = state.senderClient, let receiver = state.receiverClient else { return }
        let pairs = [("probe_midi:midi_out", "\(client):midi_in"), ("\(client):out_left", "probe_rec:in_left"),
                     ("\(client):out_right", "probe_rec:in_right")]
        for (a, b) in pairs {
            let r = jack_connect(a.hasPrefix("probe_midi") ? sender : receiver, a, b)
            if r != 0 && r != EEXIST { throw ProbeError("cannot connect \(a) -> \(b) (\(r))") }
        }
    }

    /// JACK's current frame time.
    var now: UInt32 { jack_frame_time(state.senderClient) }

    /// Frame of recorded sample 0 (waits for the first cycle).
    var firstFrame: UInt32 {
        while !state.started.load(ordering: .acquiring) { usleep(1000) }
        return state.firstFrame.load(ordering: .relaxed)
    }

    /// Queues a MIDI message for an absolute frame (late ones go out at offset 0 of the next cycle).
    func send(_ bytes: [UInt8], at frame: UInt32) {
        pthread_mutex_lock(&state.scheduleLock)
        let i = state.schedule.firstIndex { Int32(bitPattern: $0.frame &- frame) > 0 } ?? state.schedule.count
        state.schedule.insert(ScheduledMIDI(frame: frame, bytes: bytes), at: i)
        pthread_mutex_unlock(&state.scheduleLock)
    }

    /// Waits until the recording reaches `frame` (absolute). - Returns: false on timeout.
    @discardableResult
    func waitUntilRecorded(_ frame: UInt32, timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        let first = firstFrame
        while Date() < deadline {
            let reached = Int(state.recordedCount.load(ordering: .acquiring))
            if Int(Int32(bitPattern: frame &- first)) <= reached { return true }
            usleep(5000)
        }
        return false
    }

    /// Left-channel samples from an absolute frame (must be recorded already).
    func samples(from frame: UInt32, count: Int, right: Bool = false) -> [Float] {
        let start = Int(Int32(bitPattern: frame &- firstFrame))
        let available = state.recordedCount.load(ordering: .acquiring)
        precondition(start >= 0 && start + count <= available, "samples \(start)..<\(start + count) not recorded (have \(available))")
        let base = right ? state.right : state.left
        return Array(UnsafeBufferPointer(start: base + start, count: count))
    }

    /// Frames, in the seconds given, from now plus a margin of a few periods (so the event is
    /// never late), with an extra offset inside the period.
    func frame(afterSeconds seconds: Double, offset: Int = 0) -> UInt32 {
        now &+ UInt32(seconds * Double(sampleRate)) &+ UInt32(offset)
    }

    /// Frames at which the sender wrote its messages so far.
    var sentFrames: [UInt32] {
        pthread_mutex_lock(&state.scheduleLock)
        defer { pthread_mutex_unlock(&state.scheduleLock) }
        return state.sentFrames
    }
}

struct ProbeError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
