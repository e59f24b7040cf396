import CALSA
import MIDI

/// What one ALSA sequencer event means to the synthesizer.
public enum SequencerInput: Sendable, Equatable {
    /// MIDI messages to play (an event such as a 14-bit controller or an RPN becomes several).
    case midi([MIDIEvent])
    /// A complete System Exclusive message (payload between 0xF0 and 0xF7), reassembled.
    case sysEx([UInt8])
    /// A port was subscribed to ours (sender).
    case subscribed(client: Int, port: Int)
    /// A subscription to ours ended (sender): release every note.
    case unsubscribed(client: Int, port: Int)
    /// A port appeared somewhere (for autoconnect).
    case portStarted(client: Int, port: Int)
    /// A port went away.
    case portExited(client: Int, port: Int)
    /// A client went away.
    case clientExited(client: Int)
    /// System reset (0xFF): silence and reset every channel.
    case reset
}

/// Turns ALSA sequencer events into `MIDIEvent`s: the pure part of the sequencer input, testable
/// without a sound card. SysEx arrives in chunks (one event per chunk, as a rawmidi port reads
/// them): the chunks go through a `MIDIByteDecoder`, which reassembles the message.
public struct SequencerEventConverter: Sendable {
    private var sysExDecoder = MIDIByteDecoder(maximumSysExByteCount: 65536)
    /// Our own port's address, so subscription notices about other ports are ignored.
    public var ownClient: Int = -1
    public var ownPort: Int = -1

    public init() {}

    /// Converts one event; nil for events that mean nothing here (clock, queue control…).
    public mutating func convert(_ event: snd_seq_event_t) -> SequencerInput? {
        var ev = event
        let type = UInt32(ev.type)
        func channel(_ c: UInt8) -> UInt8 { c & 0x0F }
        func b7(_ v: Int32) -> UInt8 { UInt8(clamping: max(0, min(127, v))) }
        switch type {
        case SND_SEQ_EVENT_NOTEON.rawValue:
            let n = ev.data.note
            return .midi([.noteOn(channel: channel(n.channel), note: n.note & 0x7F, velocity: n.velocity & 0x7F)])
        case SND_SEQ_EVENT_NOTEOFF.rawValue:
            let n = ev.data.note
            return .midi([.noteOff(channel: channel(n.channel), note: n.note & 0x7F, velocity: n.velocity & 0x7F)])
        case SND_SEQ_EVENT_KEYPRESS.rawValue:
            let n = ev.data.note
            return .midi([.polyPressure(channel: channel(n.channel), note: n.note & 0x7F, pressure: n.velocity & 0x7F)])
        case SND_SEQ_EVENT_CONTROLLER.rawValue:
            let c = ev.data.control
            return .midi([.controlChange(channel: channel(c.channel), controller: UInt8(truncatingIfNeeded: c.param) & 0x7F, value: b7(c.value))])
        case SND_SEQ_EVENT_PGMCHANGE.rawValue:
            let c = ev.data.control
            return .midi([.programChange(channel: channel(c.channel), program: b7(c.value))])
        case SND_SEQ_EVENT_CHANPRESS.rawValue:
            let c = ev.data.control
            return .midi([.channelPressure(channel: channel(c.channel), pressure: b7(c.value))])
        case SND_SEQ_EVENT_PITCHBEND.rawValue:
            let c = ev.data.control
            let value = UInt16(clamping: max(0, min(16383, Int(c.value) + 8192)))
            return .midi([.pitchBend(channel: channel(c.channel), value: value)])
        case SND_SEQ_EVENT_CONTROL14.rawValue:
            let c = ev.data.control
            let ch = channel(c.channel)
            let param = UInt8(truncatingIfNeeded: c.param) & 0x7F
            let v = max(0, min(16383, Int(c.value)))
            if param < 32 {
                return .midi([.controlChange(channel: ch, controller: param, value: UInt8(v >> 7)),
                              .controlChange(channel: ch, controller: param + 32, value: UInt8(v & 0x7F))])
            }
            return .midi([.controlChange(channel: ch, controller: param, value: UInt8(v & 0x7F))])
        case SND_SEQ_EVENT_NONREGPARAM.rawValue, SND_SEQ_EVENT_REGPARAM.rawValue:
            let c = ev.data.control
            let ch = channel(c.channel)
            let registered = type == SND_SEQ_EVENT_REGPARAM.rawValue
            let p = max(0, min(16383, Int(c.param))), v = max(0, min(16383, Int(c.value)))
            return .midi([.controlChange(channel: ch, controller: registered ? 101 : 99, value: UInt8(p >> 7)),
                          .controlChange(channel: ch, controller: registered ? 100 : 98, value: UInt8(p & 0x7F)),
                          .controlChange(channel: ch, controller: 6, value: UInt8(v >> 7)),
                          .controlChange(channel: ch, controller: 38, value: UInt8(v & 0x7F))])
        case SND_SEQ_EVENT_SYSEX.rawValue:
            let length = Int(timbred_seq_ext_length(&ev))
            guard length > 0, let bytes = timbred_seq_ext_bytes(&ev) else { return nil }
            var complete: [UInt8]? = nil
            sysExDecoder.feed(UnsafeBufferPointer(start: bytes, count: length)) { event, payload in
                if case .systemExclusive = event { complete = Array(payload) }
            }
            return complete.map { .sysEx($0) }
        case SND_SEQ_EVENT_RESET.rawValue:
            return .reset
        case SND_SEQ_EVENT_PORT_SUBSCRIBED.rawValue, SND_SEQ_EVENT_PORT_UNSUBSCRIBED.rawValue:
            let connect = ev.data.connect
            guard Int(connect.dest.client) == ownClient, Int(connect.dest.port) == ownPort || ownPort < 0 else { return nil }
            let client = Int(connect.sender.client), port = Int(connect.sender.port)
            return type == SND_SEQ_EVENT_PORT_SUBSCRIBED.rawValue ? .subscribed(client: client, port: port)
                : .unsubscribed(client: client, port: port)
        case SND_SEQ_EVENT_PORT_START.rawValue:
            return .portStarted(client: Int(ev.data.addr.client), port: Int(ev.data.addr.port))
        case SND_SEQ_EVENT_PORT_EXIT.rawValue:
            return .portExited(client: Int(ev.data.addr.client), port: Int(ev.data.addr.port))
        case SND_SEQ_EVENT_CLIENT_EXIT.rawValue:
            return .clientExited(client: Int(ev.data.addr.client))
        default:
            return nil
        }
    }
}
