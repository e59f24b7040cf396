// Standard MIDI File writer (format 0 and 1), for tests and for tools that create MIDI files.

/// Writes Standard MIDI Files (format 0 or 1) from events placed at ticks.
///
/// Events in a track are written in tick order (stable: equal ticks keep the given order), with running
/// status when `usesRunningStatus` is set, and each track ends with an end-of-track meta event at its
/// last event (or at an explicit `.endOfTrack` tick). Channel voice messages are written from
/// `.midi(_:)`; System Common and Real-Time messages and `.systemExclusive` spans (which carry no bytes)
/// are skipped; SysEx is written from `.systemExclusive(_:)` payloads.
///
/// Not real-time: builds arrays.
public struct StandardMIDIFileWriter: Sendable {
    /// Something a track can hold.
    public enum TrackEvent: Sendable, Hashable {
        /// A channel voice message (other kinds are skipped).
        case midi(MIDIEvent)
        /// A SysEx message; `payload` excludes 0xF0 and 0xF7 (written as an `F0` event ending in 0xF7) and
        /// its bytes are masked to 7 bits.
        case systemExclusive(payload: [UInt8])
        /// A set-tempo meta event (0x51), microseconds per quarter note (clamped to 1...16 777 215).
        case tempo(microsecondsPerQuarter: Int)
        /// A track name meta event (0x03), UTF-8.
        case trackName(String)
        /// The end of the track, here rather than at the last event; later events are dropped.
        case endOfTrack
    }

    /// A `TrackEvent` at a tick.
    public struct TickedEvent: Sendable, Hashable {
        /// Position in ticks from the start (negative counts as 0).
        public var tick: Int
        /// What happens there.
        public var event: TrackEvent

        /// Creates an event at `tick`.
        public init(tick: Int, _ event: TrackEvent) {
            self.tick = tick
            self.event = event
        }

        /// A channel voice message at `tick`.
        public static func midi(_ tick: Int, _ event: MIDIEvent) -> TickedEvent {
            TickedEvent(tick: tick, .midi(event))
        }
    }

    /// Ticks per quarter note written in the header (clamped to 1...32767).
    public var ticksPerQuarter: Int
    /// Whether channel messages that repeat the previous status omit it.
    public var usesRunningStatus: Bool

    /// Creates a writer.
    public init(ticksPerQuarter: Int = 480, usesRunningStatus: Bool = true) {
        self.ticksPerQuarter = ticksPerQuarter
        self.usesRunningStatus = usesRunningStatus
    }

    /// A format 0 file: one track holding `events`, preceded at tick 0 by a set-tempo event when
    /// `tempoMicrosecondsPerQuarter` is given.
    public func formatZero(events: [TickedEvent], tempoMicrosecondsPerQuarter: Int? = 500_000) -> [UInt8] {
        var track: [TickedEvent] = []
        if let tempoMicrosecondsPerQuarter {
            track.append(TickedEvent(tick: 0, .tempo(microsecondsPerQuarter: tempoMicrosecondsPerQuarter)))
        }
        track.append(contentsOf: events)
        return file(format: 0, tracks: [track])
    }

    /// A format 1 file with these tracks; by convention the first holds the tempo map (`.tempo` events).
    public func formatOne(tracks: [[TickedEvent]]) -> [UInt8] {
        file(format: 1, tracks: tracks)
    }

    private func file(format: Int, tracks: [[TickedEvent]]) -> [UInt8] {
        var bytes: [UInt8] = Array("MThd".utf8)
        Self.appendUInt32(6, to: &bytes)
        Self.appendUInt16(format, to: &bytes)
        Self.appendUInt16(min(tracks.count, 0xFFFF), to: &bytes)
        Self.appendUInt16(min(max(ticksPerQuarter, 1), 0x7FFF), to: &bytes)
        for track in tracks.prefix(0xFFFF) {
            bytes.append(contentsOf: trackChunk(events: track))
        }
        return bytes
    }

    /// One `MTrk` chunk (header included) holding `events`.
    public func trackChunk(events: [TickedEvent]) -> [UInt8] {
        let ordered = events.enumerated()
            .sorted { (max($0.element.tick, 0), $0.offset) < (max($1.element.tick, 0), $1.offset) }
            .map(\.element)
        var body: [UInt8] = []
        var previousTick = 0
        var runningStatus: UInt8 = 0
        var ended = false

        func appendDelta(to tick: Int) {
            let tick = max(tick, 0)
            body.append(contentsOf: Self.variableLengthQuantity(tick - previousTick))
            previousTick = tick
        }

        for entry in ordered {
            switch entry.event {
            case let .midi(event):
                guard event.isChannelVoice else { continue }
                let message = event.encoded()
                appendDelta(to: entry.tick)
                if usesRunningStatus && message[0] == runningStatus {
                    body.append(contentsOf: message.dropFirst())
                } else {
                    body.append(contentsOf: message)
                }
                runningStatus = message[0]
            case let .systemExclusive(payload):
                appendDelta(to: entry.tick)
                body.append(0xF0)
                body.append(contentsOf: Self.variableLengthQuantity(payload.count + 1))
                body.append(contentsOf: payload.map { $0 & 0x7F })
                body.append(0xF7)
                runningStatus = 0
            case let .tempo(microsecondsPerQuarter):
                let tempo = min(max(microsecondsPerQuarter, 1), 0xFF_FFFF)
                appendDelta(to: entry.tick)
                body.append(contentsOf: [0xFF, 0x51, 0x03, UInt8(tempo >> 16), UInt8((tempo >> 8) & 0xFF),
                                         UInt8(tempo & 0xFF)])
                runningStatus = 0
            case let .trackName(name):
                let text = Array(name.utf8)
                appendDelta(to: entry.tick)
                body.append(contentsOf: [0xFF, 0x03])
                body.append(contentsOf: Self.variableLengthQuantity(text.count))
                body.append(contentsOf: text)
                runningStatus = 0
            case .endOfTrack:
                appendDelta(to: entry.tick)
                ended = true
            }
            if ended { break }
        }
        if !ended { appendDelta(to: previousTick) }
        body.append(contentsOf: [0xFF, 0x2F, 0x00])

        var chunk: [UInt8] = Array("MTrk".utf8)
        Self.appendUInt32(body.count, to: &chunk)
        chunk.append(contentsOf: body)
        return chunk
    }

    /// The variable-length quantity encoding of `value` (clamped to 0...0x0FFFFFFF): 7 bits per byte,
    /// most significant first, the top bit set on every byte but the last.
    public static func variableLengthQuantity(_ value: Int) -> [UInt8] {
        var remaining = min(max(value, 0), 0x0FFF_FFFF)
        var bytes: [UInt8] = [UInt8(remaining & 0x7F)]
        remaining >>= 7
        while remaining > 0 {
            bytes.insert(UInt8(remaining & 0x7F) | 0x80, at: 0)
            remaining >>= 7
        }
        return bytes
    }

    private static func appendUInt32(_ value: Int, to bytes: inout [UInt8]) {
        let value = UInt32(clamping: value)
        bytes.append(contentsOf: [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF),
                                  UInt8(value & 0xFF)])
    }

    private static func appendUInt16(_ value: Int, to bytes: inout [UInt8]) {
        let value = UInt16(clamping: value)
        bytes.append(contentsOf: [UInt8(value >> 8), UInt8(value & 0xFF)])
    }
}
