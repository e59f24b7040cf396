// Standard MIDI File (SMF) reader: bytes in, one time-ordered list of events in seconds out.

/// A Standard MIDI File (format 0 or 1), parsed and flattened into one list of events timed in seconds.
///
/// The caller reads the file; `init(bytes:)` parses the header (`MThd`) and track (`MTrk`) chunks,
/// skips unknown chunks, and refuses malformed input with a `MIDIFileError` naming the byte offset.
/// Every read is bounds-checked: no input traps.
///
/// - Tracks: variable-length quantities (at most 4 bytes), running status (kept across meta and SysEx
///   events, which tolerates files that rely on it), meta events (set tempo 0x51 and end of track 0x2F
///   are used, the others skipped), SysEx events (`F0` and `F7` continuation packets reassembled; an
///   `F7` escape packet outside a SysEx is decoded as raw MIDI bytes). Events after end of track are
///   ignored.
/// - Time: with a ticks-per-quarter division, tempo changes from *any* track form one tempo map
///   (500 000 µs per quarter until the first); with an SMPTE division (negative high byte), a tick lasts
///   1 / (frames per second × ticks per frame) seconds and tempo changes do not affect time.
/// - Order: events are sorted by tick; equal ticks keep track order, then file order within a track.
///
/// Not real-time: parsing allocates. The engine receives `events` through its command ring.
public struct StandardMIDIFile: Sendable {
    /// The file's format (format 2 is refused).
    public enum Format: Int, Sendable, Hashable {
        /// Format 0: one track holding every channel.
        case singleTrack = 0
        /// Format 1: simultaneous tracks, tempo map usually in the first.
        case multipleTracks = 1
    }

    /// The header's time division.
    public enum Division: Sendable, Hashable {
        /// Metrical time: ticks per quarter note (1...32767); seconds follow the tempo map.
        case ticksPerQuarter(Int)
        /// Timecode: frames per second as coded (24, 25, 29 meaning 29.97 drop-frame, or 30) and ticks
        /// per frame.
        case smpte(framesPerSecond: Int, ticksPerFrame: Int)

        /// For SMPTE divisions, ticks per second (29 counts as 30000/1001 frames per second); `nil` for
        /// metrical divisions.
        public var ticksPerSecond: Double? {
            guard case let .smpte(framesPerSecond, ticksPerFrame) = self else { return nil }
            let rate = framesPerSecond == 29 ? 30000.0 / 1001.0 : Double(framesPerSecond)
            return rate * Double(ticksPerFrame)
        }
    }

    /// One event of the merged, time-ordered list.
    public struct TimedEvent: Sendable, Hashable {
        /// Time from the start of the file, in seconds.
        public var timeSeconds: Double
        /// Time from the start of the file, in ticks.
        public var tick: Int
        /// Index of the track it came from, counting `MTrk` chunks from 0.
        public var trackIndex: Int
        /// The event. A `.systemExclusive` span refers to `StandardMIDIFile.sysExBytes`.
        public var event: MIDIEvent

        /// Creates a timed event.
        public init(timeSeconds: Double, tick: Int, trackIndex: Int, event: MIDIEvent) {
            self.timeSeconds = timeSeconds
            self.tick = tick
            self.trackIndex = trackIndex
            self.event = event
        }
    }

    /// One entry of the tempo map (a set-tempo meta event).
    public struct TempoChange: Sendable, Hashable {
        /// Where the tempo takes effect, in ticks.
        public var tick: Int
        /// Where the tempo takes effect, in seconds.
        public var timeSeconds: Double
        /// The new tempo, in microseconds per quarter note.
        public var tempoMicrosecondsPerQuarter: Int

        /// Creates a tempo map entry.
        public init(tick: Int, timeSeconds: Double, tempoMicrosecondsPerQuarter: Int) {
            self.tick = tick
            self.timeSeconds = timeSeconds
            self.tempoMicrosecondsPerQuarter = tempoMicrosecondsPerQuarter
        }
    }

    /// Tempo in effect before the first set-tempo event: 120 quarter notes per minute.
    public static let defaultTempoMicrosecondsPerQuarter = 500_000

    /// The file's format.
    public let format: Format
    /// The header's time division.
    public let division: Division
    /// Number of tracks read.
    public let trackCount: Int
    /// Every channel, SysEx and system event of every track, in time order.
    public let events: [TimedEvent]
    /// The tempo map, in time order (empty when the file sets no tempo).
    public let tempoChanges: [TempoChange]
    /// Length of the file in seconds: the latest end of track (or last event) over all tracks.
    public let durationSeconds: Double
    /// Payloads of every SysEx event (without 0xF0/0xF7), addressed by `MIDISysExSpan`s in `events`.
    public let sysExBytes: [UInt8]
    /// What was repaired to play the file, one sentence each, in file order (empty for a clean
    /// file): a status byte that has no place in a file skipped with its data bytes, a track
    /// chunk cut short by the end of the file read up to its last complete event.
    public let repairs: [String]

    /// Parses a Standard MIDI File from its bytes.
    ///
    /// - Parameter bytes: the whole file.
    /// - Throws: `MIDIFileError` describing the first problem found and where.
    public init(bytes: [UInt8]) throws(MIDIFileError) {
        var parser = Parser(bytes: bytes)
        let header = try parser.readHeader()
        var tracks: [Parser.Track] = []
        try parser.readTracks(declaredCount: header.trackCount, into: &tracks)
        guard !tracks.isEmpty else { throw .noTracks }
        if tracks.count < header.trackCount {
            throw .missingTracks(declaredCount: header.trackCount, foundCount: tracks.count)
        }

        format = header.format
        division = header.division
        trackCount = tracks.count
        sysExBytes = parser.sysExPool
        repairs = parser.repairs

        // Tempo map: every track's tempo events by tick, then track, then file order.
        var tempoEvents: [(tick: Int, track: Int, order: Int, tempo: Int)] = []
        for (trackIndex, track) in tracks.enumerated() {
            for (order, tempo) in track.tempoEvents.enumerated() {
                tempoEvents.append((tempo.tick, trackIndex, order, tempo.tempoMicrosecondsPerQuarter))
            }
        }
        tempoEvents.sort { ($0.tick, $0.track, $0.order) < ($1.tick, $1.track, $1.order) }
        let clock = TickClock(division: header.division, tempoEvents: tempoEvents.map { ($0.tick, $0.tempo) })
        tempoChanges = zip(tempoEvents, clock.segmentStartSeconds).map { entry, seconds in
            TempoChange(tick: entry.tick, timeSeconds: seconds, tempoMicrosecondsPerQuarter: entry.tempo)
        }

        // Merge: (tick, track, file order) is unique, so the order is fully determined.
        var keyed: [(tick: Int, track: Int, order: Int, event: MIDIEvent)] = []
        keyed.reserveCapacity(tracks.reduce(0) { $0 + $1.events.count })
        for (trackIndex, track) in tracks.enumerated() {
            for (order, entry) in track.events.enumerated() {
                keyed.append((entry.tick, trackIndex, order, entry.event))
            }
        }
        keyed.sort { ($0.tick, $0.track, $0.order) < ($1.tick, $1.track, $1.order) }
        events = keyed.map { entry in
            TimedEvent(timeSeconds: clock.seconds(atTick: entry.tick), tick: entry.tick,
                       trackIndex: entry.track, event: entry.event)
        }
        let endTick = tracks.reduce(0) { max($0, $1.endTick) }
        durationSeconds = clock.seconds(atTick: endTick)
        self.clock = clock
    }

    private let clock: TickClock

    /// Seconds from the start of the file at `tick`, following the tempo map (or the SMPTE rate).
    public func timeSeconds(atTick tick: Int) -> Double { clock.seconds(atTick: tick) }

    /// The payload bytes of a SysEx span from `events`, or `nil` if the span lies outside `sysExBytes`.
    public func sysExPayload(_ span: MIDISysExSpan) -> ArraySlice<UInt8>? {
        let range = span.range
        guard range.upperBound <= sysExBytes.count else { return nil }
        return sysExBytes[range]
    }
}

// MARK: - Tick to seconds

/// Converts ticks to seconds with a tempo map (metrical division) or a fixed rate (SMPTE division).
private struct TickClock: Sendable {
    /// For metrical time: seconds per tick at each tempo, and where each tempo starts.
    private var segmentTicks: [Int] = []
    private var segmentSecondsPerTick: [Double] = []
    /// Seconds at the start of each tempo segment (one per tempo event, in map order).
    private(set) var segmentStartSeconds: [Double] = []
    private var initialSecondsPerTick: Double
    /// For SMPTE time: ticks per second; tempo does not matter.
    private var smpteTicksPerSecond: Double?

    init(division: StandardMIDIFile.Division, tempoEvents: [(tick: Int, tempo: Int)]) {
        switch division {
        case let .ticksPerQuarter(ticksPerQuarter):
            let quarter = Double(ticksPerQuarter) * 1_000_000
            initialSecondsPerTick = Double(StandardMIDIFile.defaultTempoMicrosecondsPerQuarter) / quarter
            var startSeconds = 0.0
            var previousTick = 0
            var secondsPerTick = initialSecondsPerTick
            for entry in tempoEvents {
                startSeconds += Double(entry.tick - previousTick) * secondsPerTick
                previousTick = entry.tick
                secondsPerTick = Double(entry.tempo) / quarter
                segmentTicks.append(entry.tick)
                segmentSecondsPerTick.append(secondsPerTick)
                segmentStartSeconds.append(startSeconds)
            }
        case .smpte:
            let ticksPerSecond = division.ticksPerSecond ?? 1
            smpteTicksPerSecond = ticksPerSecond
            initialSecondsPerTick = 1 / ticksPerSecond
            segmentStartSeconds = tempoEvents.map { Double($0.tick) / ticksPerSecond }
        }
    }

    func seconds(atTick tick: Int) -> Double {
        if let smpteTicksPerSecond { return Double(tick) / smpteTicksPerSecond }
        // Last segment starting at or before `tick` (the last of equal-tick entries wins).
        var low = 0
        var high = segmentTicks.count
        while low < high {
            let middle = (low + high) / 2
            if segmentTicks[middle] <= tick { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return Double(tick) * initialSecondsPerTick }
        let segment = low - 1
        return segmentStartSeconds[segment] + Double(tick - segmentTicks[segment]) * segmentSecondsPerTick[segment]
    }
}

// MARK: - Parsing

private struct Parser {
    struct Header {
        var format: StandardMIDIFile.Format
        var trackCount: Int
        var division: StandardMIDIFile.Division
    }

    struct Track {
        var events: [(tick: Int, event: MIDIEvent)] = []
        var tempoEvents: [(tick: Int, tempoMicrosecondsPerQuarter: Int)] = []
        var endTick: Int = 0
    }

    let bytes: [UInt8]
    /// Offset of the first byte not yet consumed at chunk level.
    var offset = 0
    var sysExPool: [UInt8] = []
    /// Repairs made while reading (see `StandardMIDIFile.repairs`).
    var repairs: [String] = []

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private func uint32(at position: Int) -> Int {
        Int(bytes[position]) << 24 | Int(bytes[position + 1]) << 16 | Int(bytes[position + 2]) << 8
            | Int(bytes[position + 3])
    }

    private func uint16(at position: Int) -> Int {
        Int(bytes[position]) << 8 | Int(bytes[position + 1])
    }

    private func chunkType(at position: Int, is name: StaticString) -> Bool {
        name.withUTF8Buffer { expected in
            expected.count == 4 && (0..<4).allSatisfy { bytes[position + $0] == expected[$0] }
        }
    }

    mutating func readHeader() throws(MIDIFileError) -> Header {
        guard bytes.count >= 8, chunkType(at: 0, is: "MThd") else { throw .notAMIDIFile }
        let length = uint32(at: 4)
        guard length >= 6 else { throw .badHeaderLength(byteCount: length) }
        guard length <= bytes.count - 8 else {
            throw .truncatedChunk(byteOffset: 0, neededByteCount: 8 + length, availableByteCount: bytes.count)
        }
        let formatNumber = uint16(at: 8)
        let trackCount = uint16(at: 10)
        let divisionField = UInt16(uint16(at: 12))
        offset = 8 + length

        let format: StandardMIDIFile.Format
        switch formatNumber {
        case 0: format = .singleTrack
        case 1: format = .multipleTracks
        case 2: throw .format2Unsupported
        default: throw .unsupportedFormat(formatNumber)
        }
        guard trackCount > 0 else { throw .noTracks }

        let division: StandardMIDIFile.Division
        if divisionField & 0x8000 == 0 {
            guard divisionField > 0 else { throw .invalidDivision(divisionField) }
            division = .ticksPerQuarter(Int(divisionField))
        } else {
            let framesPerSecond = -Int(Int8(bitPattern: UInt8(divisionField >> 8)))
            let ticksPerFrame = Int(divisionField & 0xFF)
            guard [24, 25, 29, 30].contains(framesPerSecond), ticksPerFrame > 0 else {
                throw .invalidDivision(divisionField)
            }
            division = .smpte(framesPerSecond: framesPerSecond, ticksPerFrame: ticksPerFrame)
        }
        return Header(format: format, trackCount: trackCount, division: division)
    }

    /// Reads chunks until `declaredCount` track chunks are read or the file ends; skips unknown chunks.
    mutating func readTracks(declaredCount: Int, into tracks: inout [Track]) throws(MIDIFileError) {
        while tracks.count < declaredCount && offset < bytes.count {
            let chunkStart = offset
            let remaining = bytes.count - chunkStart
            guard remaining >= 8 else {
                throw .truncatedChunk(byteOffset: chunkStart, neededByteCount: 8, availableByteCount: remaining)
            }
            let length = uint32(at: chunkStart + 4)
            let isTrack = chunkType(at: chunkStart, is: "MTrk")
            guard length <= remaining - 8 else {
                // the file ends inside a track chunk (a lost End-of-Track, a cut download): play
                // its complete events and say so
                guard isTrack else {
                    throw .truncatedChunk(byteOffset: chunkStart, neededByteCount: 8 + length,
                                          availableByteCount: remaining)
                }
                repairs.append("the track chunk at byte \(chunkStart) ends \(8 + length - remaining) bytes early "
                               + "(the file is cut short): its complete events play")
                offset = bytes.count
                tracks.append(try readTrack(from: chunkStart + 8, to: bytes.count, cutShort: true))
                continue
            }
            let bodyStart = chunkStart + 8
            offset = bodyStart + length
            if isTrack {
                tracks.append(try readTrack(from: bodyStart, to: bodyStart + length))
            }
        }
    }

    private func readVariableLengthQuantity(_ position: inout Int, end: Int) throws(MIDIFileError) -> Int {
        let start = position
        var value = 0
        for _ in 0..<4 {
            guard position < end else { throw .truncatedEvent(byteOffset: start) }
            let byte = bytes[position]
            position += 1
            value = value << 7 | Int(byte & 0x7F)
            if byte < 0x80 { return value }
        }
        throw .badVariableLengthQuantity(byteOffset: start)
    }

    /// Reads a length-prefixed body (SysEx or meta data) and returns its range.
    private func readLengthPrefixedBody(_ position: inout Int, end: Int, eventStart: Int) throws(MIDIFileError) -> Range<Int> {
        let length = try readVariableLengthQuantity(&position, end: end)
        guard length <= end - position else { throw .truncatedEvent(byteOffset: eventStart) }
        let body = position..<(position + length)
        position += length
        return body
    }

    /// Reads one track's events. In a chunk `cutShort` by the end of the file, an event cut off
    /// by the end ends the track instead of failing it.
    private mutating func readTrack(from start: Int, to end: Int, cutShort: Bool = false) throws(MIDIFileError) -> Track {
        var track = Track()
        var tick = 0
        do {
            return try readEvents(from: start, to: end, into: &track, tick: &tick)
        } catch .truncatedEvent where cutShort {
            track.endTick = tick
            return track
        } catch .badVariableLengthQuantity where cutShort {
            track.endTick = tick
            return track
        }
    }

    private mutating func readEvents(from start: Int, to end: Int, into track: inout Track,
                                     tick: inout Int) throws(MIDIFileError) -> Track {
        var position = start
        var runningStatus: UInt8 = 0
        /// Pool offset of a SysEx begun by an F0 event without a closing F7, awaiting F7 packets.
        var openSysExStart: Int?
        /// Decodes F7 escape packets (raw MIDI bytes); made on first use.
        var escapeDecoder: MIDIByteDecoder?

        while position < end {
            tick &+= try readVariableLengthQuantity(&position, end: end)
            let eventStart = position
            guard position < end else { throw .truncatedEvent(byteOffset: eventStart) }
            var status = bytes[position]
            if status < 0x80 {
                guard runningStatus != 0 else { throw .missingRunningStatus(byteOffset: eventStart) }
                status = runningStatus
            } else {
                position += 1
            }

            switch status {
            case 0x80...0xEF:
                runningStatus = status
                let dataCount = MIDIEvent.dataByteCount(forStatus: status)
                guard dataCount <= end - position else { throw .truncatedEvent(byteOffset: eventStart) }
                for index in position..<(position + dataCount) where bytes[index] >= 0x80 {
                    throw .unexpectedStatusByte(bytes[index], byteOffset: index)
                }
                let first = bytes[position]
                let second = dataCount > 1 ? bytes[position + 1] : 0
                position += dataCount
                if let event = MIDIEvent(statusByte: status, firstDataByte: first, secondDataByte: second) {
                    track.events.append((tick, event))
                }

            case 0xFF:
                guard position < end else { throw .truncatedEvent(byteOffset: eventStart) }
                let type = bytes[position]
                position += 1
                let body = try readLengthPrefixedBody(&position, end: end, eventStart: eventStart)
                if type == 0x2F {
                    track.endTick = tick
                    return track
                }
                if type == 0x51 && body.count >= 3 {
                    let tempo = Int(bytes[body.lowerBound]) << 16 | Int(bytes[body.lowerBound + 1]) << 8
                        | Int(bytes[body.lowerBound + 2])
                    if tempo > 0 { track.tempoEvents.append((tick, tempo)) }
                }

            case 0xF0:
                let body = try readLengthPrefixedBody(&position, end: end, eventStart: eventStart)
                let start = sysExPool.count
                openSysExStart = start
                appendSysExPacket(body, openedAt: &openSysExStart, tick: tick, into: &track)

            case 0xF7:
                let body = try readLengthPrefixedBody(&position, end: end, eventStart: eventStart)
                if openSysExStart != nil {
                    appendSysExPacket(body, openedAt: &openSysExStart, tick: tick, into: &track)
                } else {
                    if escapeDecoder == nil { escapeDecoder = MIDIByteDecoder(maximumSysExByteCount: 65536) }
                    decodeEscapePacket(body, decoder: &escapeDecoder!, tick: tick, into: &track)
                }

            default:
                // System Common / Real-Time status bytes are not events in a Standard MIDI File:
                // skip the message (its status byte and the data bytes its status has)
                var skipped = 0
                while skipped < MIDIEvent.dataByteCount(forStatus: status) && position < end && bytes[position] < 0x80 {
                    position += 1
                    skipped += 1
                }
                repairs.append("skipped status byte 0x\(String(status, radix: 16, uppercase: true)) at byte \(eventStart)"
                               + (skipped > 0 ? " and its \(skipped) data byte\(skipped == 1 ? "" : "s")" : ""))
            }
        }
        // No end-of-track event: the track ends at its last event.
        track.endTick = tick
        return track
    }

    /// Appends a SysEx packet to the open SysEx; when it ends with 0xF7 the message is complete and
    /// becomes an event at `tick`.
    private mutating func appendSysExPacket(_ body: Range<Int>, openedAt open: inout Int?, tick: Int,
                                            into track: inout Track) {
        guard let start = open else { return }
        let closes = !body.isEmpty && bytes[body.upperBound - 1] == 0xF7
        let payload = closes ? body.lowerBound..<(body.upperBound - 1) : body
        sysExPool.append(contentsOf: bytes[payload])
        guard closes else { return }
        open = nil
        if let span = Self.span(start: start, end: sysExPool.count) {
            track.events.append((tick, .systemExclusive(span)))
        }
    }

    /// Decodes an F7 escape packet as raw MIDI bytes; SysEx found there is copied into the pool.
    private mutating func decodeEscapePacket(_ body: Range<Int>, decoder: inout MIDIByteDecoder, tick: Int,
                                             into track: inout Track) {
        for index in body {
            guard let event = decoder.feed(bytes[index]) else { continue }
            if case .systemExclusive = event {
                let start = sysExPool.count
                sysExPool.append(contentsOf: decoder.sysExPayload)
                if let span = Self.span(start: start, end: sysExPool.count) {
                    track.events.append((tick, .systemExclusive(span)))
                }
            } else {
                track.events.append((tick, event))
            }
        }
    }

    private static func span(start: Int, end: Int) -> MIDISysExSpan? {
        guard let offset = UInt32(exactly: start), let count = UInt32(exactly: end - start) else { return nil }
        return MIDISysExSpan(byteOffset: offset, byteCount: count)
    }
}
