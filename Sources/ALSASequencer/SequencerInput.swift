import CALSA
import MIDI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Why the sequencer could not be opened. Prints as one line.
public struct SequencerError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// An ALSA sequencer client with one subscribable MIDI input port (type MIDI_GENERIC |
/// SYNTHESIZER | APPLICATION), read on its own poll thread.
///
/// Each event is converted (`SequencerEventConverter`) and handed to `sink` on that thread, in
/// arrival order, as soon as it is read: the sink stamps it with JACK's frame clock (the
/// JackBackend queue), so arrival time, not processing time, decides when it plays. With
/// `autoconnect`, the port subscribes to every hardware MIDI source present and to every one
/// announced later (System:Announce), skipping loop-backs (`isMIDIThroughPort`). When a subscribed source goes
/// away, every note and pedal is released through the sink.
public final class ALSASequencerInput: @unchecked Sendable {
    /// Called on the poll thread with each MIDI message, in order.
    public typealias Sink = @Sendable (MIDIEvent) -> Void
    /// Called on the poll thread with a line worth logging (connections, disconnections).
    public typealias Reporter = @Sendable (String) -> Void

    private let sequencer: OpaquePointer
    private let port: Int32
    private let announcePort: Int32
    public let clientID: Int
    private let sink: Sink
    /// Receives tuning and GM / GS / XG reset SysEx payloads (bytes between F0 and F7), after
    /// a reset's channel events went to `sink`; nil: SysEx other than resets is dropped.
    private let sysExSink: (@Sendable ([UInt8]) -> Void)?
    private let report: Reporter
    private let autoconnect: Bool
    private var converter = SequencerEventConverter()
    private var thread: pthread_t?
    private let running = Atomic<Bool>(true)
    private var subscribed = Set<Int>()  // client << 8 | port

    /// Opens the sequencer, creates the ports and, with `autoconnect`, subscribes to hardware
    /// sources. Does not start reading: call `start()`.
    /// - Throws: `SequencerError` (no /dev/snd/seq, no permission…): a warning for the caller.
    public init(clientName: String, autoconnect: Bool, sink: @escaping Sink,
                sysExSink: (@Sendable ([UInt8]) -> Void)? = nil, report: @escaping Reporter) throws(SequencerError) {
        timbred_alsa_quiet_errors()
        var handle: OpaquePointer?
        let r = snd_seq_open(&handle, "default", SND_SEQ_OPEN_DUPLEX, SND_SEQ_NONBLOCK)
        guard r >= 0, let handle else {
            throw SequencerError("cannot open the ALSA sequencer (\(String(cString: snd_strerror(r)))); MIDI from ALSA devices is off, JACK MIDI still works")
        }
        sequencer = handle
        snd_seq_set_client_name(handle, clientName)
        let caps = UInt32(SND_SEQ_PORT_CAP_WRITE | SND_SEQ_PORT_CAP_SUBS_WRITE)
        let type = UInt32(SND_SEQ_PORT_TYPE_MIDI_GENERIC | SND_SEQ_PORT_TYPE_SYNTHESIZER | SND_SEQ_PORT_TYPE_APPLICATION)
        port = snd_seq_create_simple_port(handle, "midi_in", caps, type)
        announcePort = snd_seq_create_simple_port(handle, "announce", UInt32(SND_SEQ_PORT_CAP_WRITE | SND_SEQ_PORT_CAP_NO_EXPORT),
                                                  UInt32(SND_SEQ_PORT_TYPE_APPLICATION))
        guard port >= 0, announcePort >= 0 else {
            snd_seq_close(handle)
            throw SequencerError("cannot create the ALSA sequencer port (\(String(cString: snd_strerror(min(port, announcePort)))))")
        }
        clientID = Int(snd_seq_client_id(handle))
        converter.ownClient = clientID
        converter.ownPort = Int(port)
        self.sink = sink
        self.sysExSink = sysExSink
        self.report = report
        self.autoconnect = autoconnect
        // announcements: ports appearing (autoconnect), subscriptions, exits
        _ = snd_seq_connect_from(handle, announcePort, Int32(SND_SEQ_CLIENT_SYSTEM), Int32(SND_SEQ_PORT_SYSTEM_ANNOUNCE))
        if autoconnect {
            for (client, p, name) in hardwareSources() { connect(client: client, port: p, name: name) }
        }
    }

    deinit {
        stop()
        snd_seq_close(sequencer)
    }

    /// The port's address, "client:port".
    public var address: String { "\(clientID):\(port)" }

    /// Starts the poll thread.
    public func start() {
        let box = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let r = pthread_create(&tid, nil, { context in
            let input = Unmanaged<ALSASequencerInput>.fromOpaque(context!).takeRetainedValue()
            input.pollLoop()
            return nil
        }, box)
        if r == 0 { thread = tid } else { Unmanaged<ALSASequencerInput>.fromOpaque(box).release() }
    }

    /// Stops the poll thread (within 200 ms) and waits for it.
    public func stop() {
        guard let t = thread else { return }
        running.store(false, ordering: .releasing)
        pthread_join(t, nil)
        thread = nil
    }

    // MARK: - the poll thread

    private func pollLoop() {
        let count = Int(snd_seq_poll_descriptors_count(sequencer, Int16(POLLIN)))
        var fds = [pollfd](repeating: pollfd(), count: max(count, 1))
        _ = snd_seq_poll_descriptors(sequencer, &fds, UInt32(count), Int16(POLLIN))
        while running.load(ordering: .acquiring) {
            let ready = poll(&fds, nfds_t(count), 200)
            if ready <= 0 { continue }
            while true {
                var event: UnsafeMutablePointer<snd_seq_event_t>?
                let r = snd_seq_event_input(sequencer, &event)
                if r == -EAGAIN || r == -EWOULDBLOCK { break }
                if r == -ENOSPC {
                    report("ALSA sequencer input overran; some events were lost")
                    continue
                }
                guard r >= 0, let event else { break }
                handle(event.pointee)
            }
        }
    }

    private func handle(_ event: snd_seq_event_t) {
        guard let input = converter.convert(event) else { return }
        switch input {
        case .midi(let messages):
            for m in messages { sink(m) }
        case .sysEx(let payload):
            if MIDIEvent.isSystemReset(sysExPayload: payload) {
                for m in MIDIEvent.resetEveryChannel { sink(m) }
                sysExSink?(payload)
            } else if payload.withUnsafeBufferPointer({ TuningTables.isTuningMessage($0) }) {
                sysExSink?(payload)
            }
        case .reset:
            for m in MIDIEvent.resetEveryChannel { sink(m) }
        case let .subscribed(client, p):
            subscribed.insert(client << 8 | p)
        case let .unsubscribed(client, p):
            if subscribed.remove(client << 8 | p) != nil {
                report("MIDI source \(client):\(p) disconnected; releasing every note")
                for m in MIDIEvent.releaseEveryChannel { sink(m) }
            }
        case let .portExited(client, p):
            if subscribed.remove(client << 8 | p) != nil {
                report("MIDI source \(client):\(p) went away; releasing every note")
                for m in MIDIEvent.releaseEveryChannel { sink(m) }
            }
        case .clientExited(let client):
            let gone = subscribed.filter { $0 >> 8 == client }
            if !gone.isEmpty {
                subscribed.subtract(gone)
                report("MIDI client \(client) went away; releasing every note")
                for m in MIDIEvent.releaseEveryChannel { sink(m) }
            }
        case let .portStarted(client, p):
            guard autoconnect, let source = hardwareSource(client: Int32(client), port: Int32(p)) else { return }
            connect(client: client, port: p, name: source)
        }
    }

    // MARK: - sources

    private func connect(client: Int, port p: Int, name: String) {
        if snd_seq_connect_from(sequencer, port, Int32(client), Int32(p)) >= 0 {
            subscribed.insert(client << 8 | p)
            report("ALSA MIDI: connected \(name) (\(client):\(p))")
        }
    }

    /// Every readable hardware port (client, port, "client: port" name), except Midi Through,
    /// the system client and ourselves.
    private func hardwareSources() -> [(Int, Int, String)] {
        var out: [(Int, Int, String)] = []
        var clientInfo: OpaquePointer?
        var portInfo: OpaquePointer?
        snd_seq_client_info_malloc(&clientInfo)
        snd_seq_port_info_malloc(&portInfo)
        defer { snd_seq_client_info_free(clientInfo); snd_seq_port_info_free(portInfo) }
        snd_seq_client_info_set_client(clientInfo, -1)
        while snd_seq_query_next_client(sequencer, clientInfo) >= 0 {
            let client = snd_seq_client_info_get_client(clientInfo)
            snd_seq_port_info_set_client(portInfo, client)
            snd_seq_port_info_set_port(portInfo, -1)
            while snd_seq_query_next_port(sequencer, portInfo) >= 0 {
                let p = snd_seq_port_info_get_port(portInfo)
                if let name = hardwareSource(client: client, port: p) { out.append((Int(client), Int(p), name)) }
            }
        }
        return out
    }

    /// The port's name when it is a hardware MIDI source worth subscribing to, else nil.
    private func hardwareSource(client: Int32, port p: Int32) -> String? {
        guard client != Int32(SND_SEQ_CLIENT_SYSTEM), Int(client) != clientID else { return nil }
        var clientInfo: OpaquePointer?
        var portInfo: OpaquePointer?
        snd_seq_client_info_malloc(&clientInfo)
        snd_seq_port_info_malloc(&portInfo)
        defer { snd_seq_client_info_free(clientInfo); snd_seq_port_info_free(portInfo) }
        guard snd_seq_get_any_client_info(sequencer, client, clientInfo) >= 0,
              snd_seq_get_any_port_info(sequencer, client, p, portInfo) >= 0 else { return nil }
        let clientName = String(cString: snd_seq_client_info_get_name(clientInfo))
        let portName = String(cString: snd_seq_port_info_get_name(portInfo))
        let caps = snd_seq_port_info_get_capability(portInfo)
        let type = snd_seq_port_info_get_type(portInfo)
        let readable = UInt32(SND_SEQ_PORT_CAP_READ | SND_SEQ_PORT_CAP_SUBS_READ)
        let hardware = UInt32(SND_SEQ_PORT_TYPE_HARDWARE | SND_SEQ_PORT_TYPE_PORT)
        let isKernel = snd_seq_client_info_get_type(clientInfo) == SND_SEQ_KERNEL_CLIENT
        guard caps & readable == readable, type & hardware != 0 || isKernel,
              caps & UInt32(SND_SEQ_PORT_CAP_NO_EXPORT) == 0,
              !isMIDIThroughPort(clientName), !isMIDIThroughPort(portName) else { return nil }
        return "\(clientName): \(portName)"
    }
}
