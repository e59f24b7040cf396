// What a MIDI input does with what arrives, decided once for every input (JACK MIDI, the ALSA
// sequencer, a MIDI file played offline): which channel plays, what resets every channel, and
// which ports are loop-backs never worth connecting.

/// The channel a player listens to: one (0…15) or every channel (omni). Channel voice messages
/// of other channels are dropped, and so are system messages (they carry no channel; a reset
/// becomes `MIDIEvent.channelReset` events first).
///
/// Plain value with an integer form (`rawValue`, -1 for omni) that fits in an atomic, so the
/// control side can change the filter while the JACK process thread reads it.
public struct MIDIChannelFilter: Sendable, Hashable {
    /// 0…15, or -1 for every channel.
    public let rawValue: Int

    /// Every channel.
    public static let omni = MIDIChannelFilter(rawValue: -1)

    /// One channel (0…15; clamped) or, with nil, every channel.
    public init(channel: Int?) {
        rawValue = channel.map { Swift.min(Swift.max($0, 0), 15) } ?? -1
    }

    /// From the integer form (`rawValue`); anything outside 0…15 is omni. Real-time safe.
    @inlinable
    public init(rawValue: Int) {
        self.rawValue = (0...15).contains(rawValue) ? rawValue : -1
    }

    /// The channel listened to (0…15), or nil for every channel.
    public var channel: UInt8? { rawValue >= 0 ? UInt8(rawValue) : nil }

    /// True for a channel voice message on the channel listened to, and for System Exclusive
    /// (tuning and reset messages address the whole instrument, or channels by their own mask).
    /// Other system messages carry no channel and are not played. Real-time safe.
    @inlinable
    public func accepts(_ event: MIDIEvent) -> Bool {
        guard let channel = event.channel else {
            if case .systemExclusive = event { return true }
            return false
        }
        return rawValue < 0 || Int(channel) == rawValue
    }
}

extension MIDIEvent {
    /// True for the events a player's real-time side also hands to its control side, which
    /// decides what they select: program changes, bank selects (CC 0 and CC 32), and, while MIDI
    /// learn waits for a knob, every controller and pressure event. The JACK process thread
    /// forwards these live; `OfflineRenderer` hands them to its `SoundController` offline.
    /// Real-time safe.
    @inlinable
    public func isForwardedToControl(learning: Bool) -> Bool {
        switch self {
        case .programChange: return true
        case let .controlChange(_, controller, _): return controller == 0 || controller == 32 || learning
        case .channelPressure, .polyPressure: return learning
        default: return false
        }
    }

    /// Events that reset every channel as a System Reset (0xFF) or a GM / GS / XG reset SysEx
    /// asks: all sound off (CC 120) and reset all controllers (CC 121) on channels 0…15, in
    /// that order (`channelReset(i)` for i in 0..<32, allocation-free).
    public static let channelResetCount = 32

    /// The `index`-th event of the channel reset (CC 120 then CC 121 on channel index / 2).
    /// Real-time safe.
    @inlinable
    public static func channelReset(_ index: Int) -> MIDIEvent {
        .controlChange(channel: UInt8(truncatingIfNeeded: index / 2 & 0x0F), controller: index % 2 == 0 ? 120 : 121, value: 0)
    }

    /// The whole channel reset as an array (off the real-time thread).
    public static var resetEveryChannel: [MIDIEvent] { (0..<channelResetCount).map(channelReset) }

    /// The messages that release every note and pedal on every channel (for a source that went
    /// away): sustain and sostenuto up, then all notes off, so releases ring out naturally.
    public static var releaseEveryChannel: [MIDIEvent] {
        (0..<16).flatMap { c -> [MIDIEvent] in
            let ch = UInt8(c)
            return [.controlChange(channel: ch, controller: 64, value: 0),
                    .controlChange(channel: ch, controller: 66, value: 0),
                    .controlChange(channel: ch, controller: 123, value: 0)]
        }
    }

    /// True for the SysEx payloads (the bytes between F0 and F7) that reset a whole instrument:
    /// General MIDI System On / GM2 System On (`7E dd 09 01|03`), Roland GS reset
    /// (`41 dd 42 12 40 00 7F 00 41`) and Yamaha XG System On (`43 1n 4C 00 00 7E 00`).
    /// Real-time safe.
    public static func isSystemReset(sysExPayload p: UnsafeBufferPointer<UInt8>) -> Bool {
        if p.count == 4, p[0] == 0x7E, p[2] == 0x09, p[3] == 0x01 || p[3] == 0x03 { return true }
        if p.count == 9, p[0] == 0x41, p[2] == 0x42, p[3] == 0x12, p[4] == 0x40, p[5] == 0x00, p[6] == 0x7F, p[7] == 0x00 {
            return true
        }
        if p.count == 7, p[0] == 0x43, p[2] == 0x4C, p[3] == 0x00, p[4] == 0x00, p[5] == 0x7E, p[6] == 0x00 { return true }
        return false
    }

    /// `isSystemReset(sysExPayload:)` for an array.
    public static func isSystemReset(sysExPayload payload: [UInt8]) -> Bool {
        payload.withUnsafeBufferPointer { isSystemReset(sysExPayload: $0) }
    }
}

/// Loop-back MIDI ports: ALSA's "Midi Through" client and its PipeWire/JACK aliases
/// ("Midi-Through", "midi_through"). They echo whatever is sent to them, so connecting one to
/// the synth only doubles notes or closes a loop; every autoconnect (ALSA sequencer, JACK MIDI)
/// skips a port whose client or port name this matches.
public func isMIDIThroughPort(_ name: String) -> Bool {
    let lower = name.lowercased()
    return lower.contains("midi through") || lower.contains("midi-through") || lower.contains("midi_through")
}
