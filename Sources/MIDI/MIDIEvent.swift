// MIDI 1.0 messages as small, trivially copyable values.

/// Where the payload of a System Exclusive message lies in the byte store of whatever produced it.
///
/// `MIDIEvent` stays trivially copyable (no reference, no heap) by not carrying SysEx bytes itself:
/// the producer keeps them. For a `MIDIByteDecoder` the store is its reassembly buffer
/// (`MIDIByteDecoder.sysExPayload`, valid until the next 0xF0 arrives); for a `StandardMIDIFile` it is
/// `StandardMIDIFile.sysExBytes` (see `StandardMIDIFile.sysExPayload(_:)`).
///
/// The payload is the bytes strictly between 0xF0 and 0xF7: manufacturer ID first, no framing bytes.
public struct MIDISysExSpan: Sendable, Hashable, BitwiseCopyable, CustomStringConvertible {
    /// Index of the first payload byte in the producer's store.
    public var byteOffset: UInt32
    /// Number of payload bytes.
    public var byteCount: UInt32

    /// Creates a span of `byteCount` bytes starting at `byteOffset` in a producer's store.
    @inlinable
    public init(byteOffset: UInt32, byteCount: UInt32) {
        self.byteOffset = byteOffset
        self.byteCount = byteCount
    }

    /// The span as a half-open range of `Int` indices into the producer's store.
    @inlinable
    public var range: Range<Int> { Int(byteOffset)..<(Int(byteOffset) + Int(byteCount)) }

    public var description: String { "SysEx(\(byteCount) bytes at \(byteOffset))" }
}

/// One MIDI 1.0 message: a channel voice message, System Exclusive, System Common or System Real-Time.
///
/// Values follow the wire format: `channel` is 0...15 (wire channel, "MIDI channel 1" is 0), note,
/// velocity, controller, value, program and pressure are 7-bit (0...127) and `pitchBend` is the 14-bit
/// value 0...16383 with 8192 (`MIDIEvent.pitchBendCentre`) meaning no bend. Decoders only produce values
/// in range; encoders (`encoded()`, `StandardMIDIFileWriter`) mask out-of-range fields to their bit width.
///
/// A note-on with velocity 0 is kept as `.noteOn(velocity: 0)` (it is what was sent); use `isNoteOff`
/// to treat it as a note-off, as MIDI requires.
///
/// The type is trivially copyable (`BitwiseCopyable`, 12 bytes stride): creating, copying or passing it
/// through a ring never allocates or retains, so the real-time thread can receive channel events freely.
public enum MIDIEvent: Sendable, Hashable, BitwiseCopyable {
    // Channel voice messages (status 0x80...0xEF).
    /// Note-off (0x8n).
    case noteOff(channel: UInt8, note: UInt8, velocity: UInt8)
    /// Note-on (0x9n). Velocity 0 means note-off (see `isNoteOff`).
    case noteOn(channel: UInt8, note: UInt8, velocity: UInt8)
    /// Polyphonic key pressure, per-note aftertouch (0xAn).
    case polyPressure(channel: UInt8, note: UInt8, pressure: UInt8)
    /// Control change (0xBn), including channel mode messages (controllers 120...127).
    case controlChange(channel: UInt8, controller: UInt8, value: UInt8)
    /// Program change (0xCn).
    case programChange(channel: UInt8, program: UInt8)
    /// Channel pressure, channel aftertouch (0xDn).
    case channelPressure(channel: UInt8, pressure: UInt8)
    /// Pitch bend (0xEn): 14-bit value, LSB first on the wire; 8192 is the centre.
    case pitchBend(channel: UInt8, value: UInt16)

    // System exclusive.
    /// A complete System Exclusive message; the payload lives in the producer's store (see `MIDISysExSpan`).
    case systemExclusive(MIDISysExSpan)

    // System common messages.
    /// MIDI Time Code quarter frame (0xF1) with its data byte (message type and value nibbles).
    case timeCodeQuarterFrame(UInt8)
    /// Song position pointer (0xF2): position in MIDI beats (sixteenth notes), 14-bit.
    case songPosition(beats: UInt16)
    /// Song select (0xF3).
    case songSelect(UInt8)
    /// Tune request (0xF6).
    case tuneRequest

    // System real-time messages (single bytes, may appear anywhere in the stream).
    /// Timing clock (0xF8), 24 per quarter note.
    case timingClock
    /// Start (0xFA).
    case start
    /// Continue (0xFB).
    case `continue`
    /// Stop (0xFC).
    case stop
    /// Active sensing (0xFE).
    case activeSensing
    /// System reset (0xFF).
    case systemReset
}

extension MIDIEvent {
    /// The pitch-bend value meaning "no bend" (0x2000).
    public static let pitchBendCentre: UInt16 = 8192
    /// The largest 14-bit value (pitch bend, song position, 14-bit controller pairs).
    public static let maximum14BitValue: UInt16 = 16383

    /// The channel (0...15) of a channel voice message; `nil` for system messages.
    @inlinable
    public var channel: UInt8? {
        switch self {
        case let .noteOff(channel, _, _), let .noteOn(channel, _, _), let .polyPressure(channel, _, _),
             let .controlChange(channel, _, _), let .programChange(channel, _), let .channelPressure(channel, _),
             let .pitchBend(channel, _):
            return channel
        default:
            return nil
        }
    }

    /// True for a note-off, and for a note-on with velocity 0 (which MIDI defines as a note-off).
    @inlinable
    public var isNoteOff: Bool {
        switch self {
        case .noteOff: return true
        case let .noteOn(_, _, velocity): return velocity == 0
        default: return false
        }
    }

    /// True for a note-on with a velocity above 0 (one that starts a note).
    @inlinable
    public var isNoteOn: Bool {
        if case let .noteOn(_, _, velocity) = self { return velocity > 0 }
        return false
    }

    /// True for the seven channel voice messages (status 0x80...0xEF).
    @inlinable
    public var isChannelVoice: Bool { channel != nil }

    /// True for System Real-Time messages (0xF8...0xFF).
    @inlinable
    public var isSystemRealTime: Bool {
        switch self {
        case .timingClock, .start, .continue, .stop, .activeSensing, .systemReset: return true
        default: return false
        }
    }

    /// The status byte of this message as sent on the wire (without running status); 0xF0 for SysEx.
    @inlinable
    public var statusByte: UInt8 {
        switch self {
        case let .noteOff(channel, _, _): return 0x80 | (channel & 0x0F)
        case let .noteOn(channel, _, _): return 0x90 | (channel & 0x0F)
        case let .polyPressure(channel, _, _): return 0xA0 | (channel & 0x0F)
        case let .controlChange(channel, _, _): return 0xB0 | (channel & 0x0F)
        case let .programChange(channel, _): return 0xC0 | (channel & 0x0F)
        case let .channelPressure(channel, _): return 0xD0 | (channel & 0x0F)
        case let .pitchBend(channel, _): return 0xE0 | (channel & 0x0F)
        case .systemExclusive: return 0xF0
        case .timeCodeQuarterFrame: return 0xF1
        case .songPosition: return 0xF2
        case .songSelect: return 0xF3
        case .tuneRequest: return 0xF6
        case .timingClock: return 0xF8
        case .start: return 0xFA
        case .continue: return 0xFB
        case .stop: return 0xFC
        case .activeSensing: return 0xFE
        case .systemReset: return 0xFF
        }
    }

    /// Number of data bytes that follow a status byte (0...2), for every status except 0xF0 (SysEx,
    /// variable), 0xF4/0xF5/0xF9/0xFD (undefined, 0) and 0xF7.
    @inlinable
    public static func dataByteCount(forStatus status: UInt8) -> Int {
        switch status & 0xF0 {
        case 0xC0, 0xD0: return 1
        case 0x80, 0x90, 0xA0, 0xB0, 0xE0: return 2
        default:
            switch status {
            case 0xF1, 0xF3: return 1
            case 0xF2: return 2
            default: return 0
            }
        }
    }

    /// Builds the message that `statusByte` and its data bytes spell on the wire, or `nil` for a status
    /// that does not stand alone (0xF0 SysEx, 0xF7, undefined 0xF4/0xF5/0xF9/0xFD) or for a data byte
    /// (below 0x80) given as status. Data bytes are masked to 7 bits; unused ones are ignored.
    /// Real-time safe.
    @inlinable
    public init?(statusByte: UInt8, firstDataByte: UInt8 = 0, secondDataByte: UInt8 = 0) {
        let channel = statusByte & 0x0F
        let first = firstDataByte & 0x7F
        let second = secondDataByte & 0x7F
        let value14Bit = UInt16(first) | (UInt16(second) << 7)
        switch statusByte & 0xF0 {
        case 0x80: self = .noteOff(channel: channel, note: first, velocity: second)
        case 0x90: self = .noteOn(channel: channel, note: first, velocity: second)
        case 0xA0: self = .polyPressure(channel: channel, note: first, pressure: second)
        case 0xB0: self = .controlChange(channel: channel, controller: first, value: second)
        case 0xC0: self = .programChange(channel: channel, program: first)
        case 0xD0: self = .channelPressure(channel: channel, pressure: first)
        case 0xE0: self = .pitchBend(channel: channel, value: value14Bit)
        case 0xF0:
            switch statusByte {
            case 0xF1: self = .timeCodeQuarterFrame(first)
            case 0xF2: self = .songPosition(beats: value14Bit)
            case 0xF3: self = .songSelect(first)
            case 0xF6: self = .tuneRequest
            case 0xF8: self = .timingClock
            case 0xFA: self = .start
            case 0xFB: self = .continue
            case 0xFC: self = .stop
            case 0xFE: self = .activeSensing
            case 0xFF: self = .systemReset
            default: return nil
            }
        default:
            return nil
        }
    }

    /// The wire bytes of this message (status first, no running status). Fields are masked to their bit
    /// width. A `.systemExclusive` span has no bytes of its own and encodes to `[]`.
    ///
    /// Allocates the returned array: not for the real-time thread.
    public func encoded() -> [UInt8] {
        switch self {
        case let .noteOff(_, note, velocity), let .noteOn(_, note, velocity):
            return [statusByte, note & 0x7F, velocity & 0x7F]
        case let .polyPressure(_, note, pressure):
            return [statusByte, note & 0x7F, pressure & 0x7F]
        case let .controlChange(_, controller, value):
            return [statusByte, controller & 0x7F, value & 0x7F]
        case let .programChange(_, program):
            return [statusByte, program & 0x7F]
        case let .channelPressure(_, pressure):
            return [statusByte, pressure & 0x7F]
        case let .pitchBend(_, value):
            return [statusByte, UInt8(value & 0x7F), UInt8((value >> 7) & 0x7F)]
        case .systemExclusive:
            return []
        case let .timeCodeQuarterFrame(data), let .songSelect(data):
            return [statusByte, data & 0x7F]
        case let .songPosition(beats):
            return [statusByte, UInt8(beats & 0x7F), UInt8((beats >> 7) & 0x7F)]
        case .tuneRequest, .timingClock, .start, .continue, .stop, .activeSensing, .systemReset:
            return [statusByte]
        }
    }
}

extension MIDIEvent: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .noteOff(c, n, v): return "noteOff(ch \(c), note \(n), vel \(v))"
        case let .noteOn(c, n, v): return "noteOn(ch \(c), note \(n), vel \(v))"
        case let .polyPressure(c, n, p): return "polyPressure(ch \(c), note \(n), \(p))"
        case let .controlChange(c, n, v): return "controlChange(ch \(c), cc \(n), \(v))"
        case let .programChange(c, p): return "programChange(ch \(c), \(p))"
        case let .channelPressure(c, p): return "channelPressure(ch \(c), \(p))"
        case let .pitchBend(c, v): return "pitchBend(ch \(c), \(v))"
        case let .systemExclusive(span): return span.description
        case let .timeCodeQuarterFrame(d): return "timeCodeQuarterFrame(\(d))"
        case let .songPosition(b): return "songPosition(\(b) beats)"
        case let .songSelect(s): return "songSelect(\(s))"
        case .tuneRequest: return "tuneRequest"
        case .timingClock: return "timingClock"
        case .start: return "start"
        case .continue: return "continue"
        case .stop: return "stop"
        case .activeSensing: return "activeSensing"
        case .systemReset: return "systemReset"
        }
    }
}
