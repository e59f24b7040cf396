// libFuzzer harness: MIDIByteDecoder on arbitrary byte streams.
//
// Input: byte 0 picks the SysEx limit and the chunk size, the rest is the stream. Checks that no input
// traps, that every event is in range and re-encodes to itself, that SysEx payloads fit their span,
// and that feeding byte by byte and feeding in chunks give the same events, payloads and counters.
import FuzzerDriver
import Glibc
import MIDI

@main
enum Main {
    static func main() { exit(fuzzer_run(CommandLine.argc, CommandLine.unsafeArgv, fuzzMIDIBytes)) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMIDIBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let control = data[0]
    let stream = UnsafeBufferPointer(start: data + 1, count: size - 1)
    // -8...116: small limits reach the overflow path, negative ones are clamped to 0
    let limit = Int(control & 0x1F) * 4 - 8
    let chunk = 1 + Int(control >> 5) * 5

    var single = MIDIByteDecoder(maximumSysExByteCount: limit)
    var singleEvents: [MIDIEvent] = []
    var singlePayloads: [[UInt8]] = []
    for byte in stream {
        guard let event = single.feed(byte) else { continue }
        checkEvent(event)
        if case let .systemExclusive(span) = event {
            let payload = Array(single.sysExPayload)
            precondition(span.byteOffset == 0 && Int(span.byteCount) == payload.count, "span \(span) vs \(payload.count)")
            precondition(payload.count <= single.maximumSysExByteCount && payload.allSatisfy { $0 < 0x80 })
            singlePayloads.append(payload)
        }
        singleEvents.append(event)
    }

    var chunked = MIDIByteDecoder(maximumSysExByteCount: limit)
    var chunkedEvents: [MIDIEvent] = []
    var chunkedPayloads: [[UInt8]] = []
    var start = 0
    while start < stream.count {
        let end = min(stream.count, start + chunk)
        chunked.feed(UnsafeBufferPointer(rebasing: stream[start..<end])) { event, payload in
            if case .systemExclusive = event { chunkedPayloads.append(Array(payload)) }
            chunkedEvents.append(event)
        }
        start = end
    }
    precondition(singleEvents == chunkedEvents, "chunked feeding changed the events")
    precondition(singlePayloads == chunkedPayloads, "chunked feeding changed the SysEx payloads")
    precondition(single.droppedSysExCount == chunked.droppedSysExCount
                 && single.abortedMessageCount == chunked.abortedMessageCount
                 && single.ignoredByteCount == chunked.ignoredByteCount, "counters differ")
    return 0
}

/// Fields in range, and `encoded()` decodes back to the same event.
private func checkEvent(_ event: MIDIEvent) {
    switch event {
    case let .noteOff(c, a, b), let .noteOn(c, a, b), let .polyPressure(c, a, b), let .controlChange(c, a, b):
        precondition(c < 16 && a < 128 && b < 128, "\(event) out of range")
    case let .programChange(c, a), let .channelPressure(c, a):
        precondition(c < 16 && a < 128, "\(event) out of range")
    case let .pitchBend(c, v):
        precondition(c < 16 && v <= MIDIEvent.maximum14BitValue, "\(event) out of range")
    case let .songPosition(v):
        precondition(v <= MIDIEvent.maximum14BitValue, "\(event) out of range")
    case let .timeCodeQuarterFrame(a), let .songSelect(a):
        precondition(a < 128, "\(event) out of range")
    case .systemExclusive:
        return
    case .tuneRequest, .timingClock, .start, .continue, .stop, .activeSensing, .systemReset:
        break
    }
    let wire = event.encoded()
    var decoder = MIDIByteDecoder(maximumSysExByteCount: 0)
    var again: MIDIEvent?
    for byte in wire { again = decoder.feed(byte) }
    precondition(again == event, "\(event) re-encodes as \(wire), which decodes as \(String(describing: again))")
}
