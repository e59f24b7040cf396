// Streaming MIDI 1.0 byte parser: raw bytes (rawmidi, serial, JACK MIDI buffers) in, `MIDIEvent`s out.

/// A streaming parser of MIDI 1.0 byte streams.
///
/// Feed bytes one at a time (`feed(_:)`) or in chunks (`feed(_:_:)`); a complete message comes out as
/// soon as its last byte arrives. It handles:
/// - running status for channel voice messages (cancelled by SysEx and System Common messages);
/// - System Real-Time bytes (0xF8...0xFF) anywhere, including inside SysEx or between data bytes, without
///   disturbing the message in progress (0xF9 and 0xFD, undefined, are ignored);
/// - SysEx (0xF0 ... 0xF7) reassembled across any number of chunks into a buffer allocated once in
///   `init`; a message longer than `maximumSysExByteCount` is dropped whole and counted;
/// - data bytes with no status to apply to (ignored and counted);
/// - a status byte that interrupts a partial message or a SysEx (the partial message is dropped and
///   counted, the new status takes effect);
/// - undefined System Common statuses 0xF4 and 0xF5 and a stray 0xF7 (ignored, cancel running status).
///
/// No input traps, and feeding bytes never allocates, as long as no copy of the decoder (or of
/// `sysExPayload`) is alive while it is fed: the SysEx buffer would then be copied on write, once.
/// Counters wrap instead of overflowing. `AllocationTests` (with CAllocCounter) checks the real-time path.
public struct MIDIByteDecoder: Sendable {
    /// The longest SysEx payload (bytes between 0xF0 and 0xF7) that is delivered; longer ones are dropped.
    public let maximumSysExByteCount: Int

    /// Number of SysEx messages dropped for exceeding `maximumSysExByteCount`.
    public private(set) var droppedSysExCount: Int = 0
    /// Number of partial messages (channel, System Common or SysEx) cut short by a new status byte.
    public private(set) var abortedMessageCount: Int = 0
    /// Number of bytes ignored: data bytes with no status, 0xF4, 0xF5, 0xF9, 0xFD and a stray 0xF7.
    public private(set) var ignoredByteCount: Int = 0

    /// Reassembly buffer, `maximumSysExByteCount` bytes long from `init` on.
    private var sysExBuffer: [UInt8]
    private var sysExByteCount: Int = 0
    private var sysExState: SysExState = .idle

    /// Status of the message being assembled (0: none). For channel voice messages it also serves as the
    /// running status and stays set after the message completes.
    private var status: UInt8 = 0
    /// Data bytes the current status takes (0...2).
    private var expectedDataByteCount: Int = 0
    /// Data bytes received so far for the current message.
    private var receivedDataByteCount: Int = 0
    private var firstDataByte: UInt8 = 0
    /// True from an explicit status byte (or the first data byte under running status) until the
    /// message completes: a status byte arriving while this is set aborts a partial message.
    private var messageInProgress: Bool = false

    private enum SysExState: Sendable {
        case idle
        case receiving
        /// Past `maximumSysExByteCount`: bytes are discarded until the message ends.
        case overflowing
    }

    /// Creates a decoder whose SysEx buffer holds `maximumSysExByteCount` payload bytes (allocated here,
    /// once). A negative count is treated as 0 (every SysEx is then dropped unless empty).
    public init(maximumSysExByteCount: Int = 4096) {
        let capacity = max(0, maximumSysExByteCount)
        self.maximumSysExByteCount = capacity
        self.sysExBuffer = [UInt8](repeating: 0, count: capacity)
    }

    /// The payload of the last SysEx delivered (bytes between 0xF0 and 0xF7). Valid until the next 0xF0
    /// is fed; a `.systemExclusive` span from this decoder always starts at offset 0 of this slice.
    public var sysExPayload: ArraySlice<UInt8> { sysExBuffer[0..<sysExByteCount] }

    /// Calls `body` with the payload of the last SysEx delivered, without copying or retaining.
    /// Real-time safe.
    public func withSysExPayload<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try withUnsafeSysExBuffer(body)
    }

    private func withUnsafeSysExBuffer<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        let count = sysExByteCount
        return try sysExBuffer.withUnsafeBufferPointer { buffer in
            try body(UnsafeBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    /// Forgets any partial message and the running status (counters are kept). Real-time safe.
    public mutating func reset() {
        status = 0
        expectedDataByteCount = 0
        receivedDataByteCount = 0
        messageInProgress = false
        sysExState = .idle
        sysExByteCount = 0
    }

    /// Feeds one byte; returns the message it completes, if any. Real-time safe: no allocation, no lock.
    ///
    /// A returned `.systemExclusive(span)` refers to `sysExPayload` / `withSysExPayload(_:)`.
    public mutating func feed(_ byte: UInt8) -> MIDIEvent? {
        if byte >= 0xF8 {
            return realTimeEvent(byte)
        }
        if byte >= 0x80 {
            return statusByte(byte)
        }
        return dataByte(byte)
    }

    /// Feeds a chunk of bytes, calling `handler` with each message completed, in order, together with
    /// the SysEx payload for `.systemExclusive` events (an empty buffer for every other event; valid only
    /// during the call). Real-time safe: no allocation, no lock, no generic dispatch.
    public mutating func feed(
        _ bytes: UnsafeBufferPointer<UInt8>,
        _ handler: (_ event: MIDIEvent, _ sysExPayload: UnsafeBufferPointer<UInt8>) throws -> Void
    ) rethrows {
        for byte in bytes {
            // Two statements: `deliver(feed(byte), ...)` would copy `self` for `deliver` before `feed`
            // mutates it, and the SysEx buffer, then shared, would be copied on write.
            let event = feed(byte)
            try deliver(event, handler)
        }
    }

    /// Feeds any sequence of bytes (an array, a slice...); see `feed(_:_:)` for `UnsafeBufferPointer`,
    /// the overload meant for the real-time thread (this one is generic, so its first call with a new
    /// sequence type may instantiate metadata).
    public mutating func feed<Bytes: Sequence>(
        _ bytes: Bytes,
        _ handler: (_ event: MIDIEvent, _ sysExPayload: UnsafeBufferPointer<UInt8>) throws -> Void
    ) rethrows where Bytes.Element == UInt8 {
        for byte in bytes {
            // Two statements: `deliver(feed(byte), ...)` would copy `self` for `deliver` before `feed`
            // mutates it, and the SysEx buffer, then shared, would be copied on write.
            let event = feed(byte)
            try deliver(event, handler)
        }
    }

    private func deliver(
        _ event: MIDIEvent?,
        _ handler: (_ event: MIDIEvent, _ sysExPayload: UnsafeBufferPointer<UInt8>) throws -> Void
    ) rethrows {
        guard let event else { return }
        if case .systemExclusive = event {
            try withUnsafeSysExBuffer { payload in try handler(event, payload) }
        } else {
            try handler(event, UnsafeBufferPointer(start: nil, count: 0))
        }
    }

    // MARK: - Byte classes

    private mutating func realTimeEvent(_ byte: UInt8) -> MIDIEvent? {
        switch byte {
        case 0xF8: return .timingClock
        case 0xFA: return .start
        case 0xFB: return .continue
        case 0xFC: return .stop
        case 0xFE: return .activeSensing
        case 0xFF: return .systemReset
        default:  // 0xF9, 0xFD: undefined
            ignoredByteCount &+= 1
            return nil
        }
    }

    private mutating func statusByte(_ byte: UInt8) -> MIDIEvent? {
        // Inside a SysEx, 0xF7 completes it; any other (non-real-time) status aborts it.
        if sysExState != .idle {
            let state = sysExState
            sysExState = .idle
            if byte == 0xF7 {
                if state == .overflowing {
                    droppedSysExCount &+= 1
                    sysExByteCount = 0
                    return nil
                }
                return .systemExclusive(MIDISysExSpan(byteOffset: 0, byteCount: UInt32(sysExByteCount)))
            }
            abortedMessageCount &+= 1
            sysExByteCount = 0
        } else if messageInProgress {
            abortedMessageCount &+= 1
        }

        messageInProgress = false
        receivedDataByteCount = 0

        switch byte {
        case 0xF0:
            status = 0
            expectedDataByteCount = 0
            sysExState = .receiving
            sysExByteCount = 0
            return nil
        case 0xF6:
            status = 0
            expectedDataByteCount = 0
            return .tuneRequest
        case 0xF4, 0xF5, 0xF7:
            // Undefined System Common, or an end-of-exclusive outside any SysEx.
            status = 0
            expectedDataByteCount = 0
            ignoredByteCount &+= 1
            return nil
        default:
            // Channel voice (0x80...0xEF) or System Common with data (0xF1, 0xF2, 0xF3).
            status = byte
            expectedDataByteCount = MIDIEvent.dataByteCount(forStatus: byte)
            messageInProgress = true
            return nil
        }
    }

    private mutating func dataByte(_ byte: UInt8) -> MIDIEvent? {
        switch sysExState {
        case .receiving:
            if sysExByteCount < maximumSysExByteCount {
                sysExBuffer[sysExByteCount] = byte
                sysExByteCount += 1
            } else {
                sysExState = .overflowing
            }
            return nil
        case .overflowing:
            return nil
        case .idle:
            break
        }

        guard status != 0 else {
            ignoredByteCount &+= 1
            return nil
        }
        if receivedDataByteCount == 0 {
            messageInProgress = true  // under running status the first data byte starts a message
            firstDataByte = byte
            receivedDataByteCount = 1
            if expectedDataByteCount > 1 { return nil }
            return complete(firstDataByte: byte, secondDataByte: 0)
        }
        return complete(firstDataByte: firstDataByte, secondDataByte: byte)
    }

    /// Builds the finished message; channel voice statuses stay as running status, System Common ones
    /// do not.
    private mutating func complete(firstDataByte first: UInt8, secondDataByte second: UInt8) -> MIDIEvent? {
        let current = status
        receivedDataByteCount = 0
        messageInProgress = false
        if current >= 0xF0 {
            status = 0
            expectedDataByteCount = 0
        }
        return MIDIEvent(statusByte: current, firstDataByte: first, secondDataByte: second)
    }
}
