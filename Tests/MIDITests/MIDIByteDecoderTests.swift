import TestSupport
import XCTest
import MIDI

final class MIDIByteDecoderTests: XCTestCase {
    /// Feeds `bytes` one at a time and collects what comes out.
    private func decode(_ bytes: [UInt8], with decoder: inout MIDIByteDecoder) -> [MIDIEvent] {
        bytes.compactMap { decoder.feed($0) }
    }

    private func decode(_ bytes: [UInt8]) -> [MIDIEvent] {
        var decoder = MIDIByteDecoder()
        return decode(bytes, with: &decoder)
    }

    func testRunningStatusRepeatsTheLastChannelStatus() {
        let events = decode([0x90, 60, 100, 62, 101, 64, 0, 0xB1, 7, 100, 10, 64])
        XCTAssertEqual(events, [
            .noteOn(channel: 0, note: 60, velocity: 100),
            .noteOn(channel: 0, note: 62, velocity: 101),
            .noteOn(channel: 0, note: 64, velocity: 0),
            .controlChange(channel: 1, controller: 7, value: 100),
            .controlChange(channel: 1, controller: 10, value: 64),
        ])
        XCTAssertTrue(events[2].isNoteOff, "velocity-0 note-on is kept raw but reads as a note-off")
    }

    func testRunningStatusWithOneDataByteMessages() {
        XCTAssertEqual(decode([0xC2, 5, 6, 0xD3, 40, 41]), [
            .programChange(channel: 2, program: 5), .programChange(channel: 2, program: 6),
            .channelPressure(channel: 3, pressure: 40), .channelPressure(channel: 3, pressure: 41),
        ])
    }

    func testRealTimeBytesInterleavedAnywhereDoNotDisturbTheMessage() {
        // Between status and data, between data bytes, and between running-status messages.
        let events = decode([0x90, 0xF8, 60, 0xFE, 100, 0xFA, 61, 0xFB, 0xFC, 90, 0xFF])
        XCTAssertEqual(events, [
            .timingClock, .activeSensing, .noteOn(channel: 0, note: 60, velocity: 100),
            .start, .continue, .stop, .noteOn(channel: 0, note: 61, velocity: 90), .systemReset,
        ])
    }

    func testUndefinedRealTimeBytesAreIgnored() {
        var decoder = MIDIByteDecoder()
        XCTAssertEqual(decode([0x80, 0xF9, 60, 0xFD, 0], with: &decoder), [.noteOff(channel: 0, note: 60, velocity: 0)])
        XCTAssertEqual(decoder.ignoredByteCount, 2)
    }

    func testSysExSplitAcrossThreeChunksIsReassembled() {
        var decoder = MIDIByteDecoder(maximumSysExByteCount: 64)
        var events: [MIDIEvent] = []
        var payloads: [[UInt8]] = []
        let chunks: [[UInt8]] = [[0xF0, 0x7E, 0x7F], [0x09, 0xF8, 0x01], [0x02, 0x03, 0xF7, 0x91, 0x3C, 0x40]]
        for chunk in chunks {
            decoder.feed(chunk) { event, payload in
                events.append(event)
                payloads.append(Array(payload))
            }
        }
        XCTAssertEqual(events, [
            .timingClock,
            .systemExclusive(MIDISysExSpan(byteOffset: 0, byteCount: 6)),
            .noteOn(channel: 1, note: 0x3C, velocity: 0x40),
        ])
        XCTAssertEqual(payloads, [[], [0x7E, 0x7F, 0x09, 0x01, 0x02, 0x03], []])
        XCTAssertEqual(Array(decoder.sysExPayload), [0x7E, 0x7F, 0x09, 0x01, 0x02, 0x03])
        XCTAssertEqual(decoder.withSysExPayload { $0.count }, 6)
    }

    func testOversizedSysExIsDroppedAndCounted() {
        var decoder = MIDIByteDecoder(maximumSysExByteCount: 4)
        XCTAssertEqual(decode([0xF0, 1, 2, 3, 4, 5, 6, 0xF7], with: &decoder), [])
        XCTAssertEqual(decoder.droppedSysExCount, 1)
        // Exactly the maximum still fits, and the decoder is usable afterwards.
        XCTAssertEqual(decode([0xF0, 1, 2, 3, 4, 0xF7], with: &decoder),
                       [.systemExclusive(MIDISysExSpan(byteOffset: 0, byteCount: 4))])
        XCTAssertEqual(Array(decoder.sysExPayload), [1, 2, 3, 4])
        XCTAssertEqual(decoder.droppedSysExCount, 1)
    }

    func testEmptySysExIsDelivered() {
        XCTAssertEqual(decode([0xF0, 0xF7]), [.systemExclusive(MIDISysExSpan(byteOffset: 0, byteCount: 0))])
    }

    func testStrayDataBytesWithoutStatusAreIgnored() {
        var decoder = MIDIByteDecoder()
        XCTAssertEqual(decode([0x3C, 0x40, 0x00], with: &decoder), [])
        XCTAssertEqual(decoder.ignoredByteCount, 3)
        // System Common cancels running status: the data bytes after a song select are strays too.
        XCTAssertEqual(decode([0x90, 60, 1, 0xF3, 5, 61, 2], with: &decoder),
                       [.noteOn(channel: 0, note: 60, velocity: 1), .songSelect(5)])
        XCTAssertEqual(decoder.ignoredByteCount, 5)
    }

    func testNewStatusMidMessageAbortsThePartialMessage() {
        var decoder = MIDIByteDecoder()
        XCTAssertEqual(decode([0x90, 60, 0xB0, 7, 100], with: &decoder),
                       [.controlChange(channel: 0, controller: 7, value: 100)])
        XCTAssertEqual(decoder.abortedMessageCount, 1)
        // A status byte inside a SysEx aborts it too.
        XCTAssertEqual(decode([0xF0, 0x43, 0x10, 0x92, 64, 1], with: &decoder),
                       [.noteOn(channel: 2, note: 64, velocity: 1)])
        XCTAssertEqual(decoder.abortedMessageCount, 2)
        XCTAssertEqual(decoder.droppedSysExCount, 0)
    }

    func testUndefinedSystemCommonAndStrayEndOfExclusiveAreIgnored() {
        var decoder = MIDIByteDecoder()
        XCTAssertEqual(decode([0x90, 60, 100, 0xF4, 61, 100, 0xF5, 0xF7, 0x90, 62, 100], with: &decoder),
                       [.noteOn(channel: 0, note: 60, velocity: 100), .noteOn(channel: 0, note: 62, velocity: 100)])
        XCTAssertEqual(decoder.ignoredByteCount, 5)  // F4, 61, 100 (no running status), F5, F7
    }

    func testPitchBendIsFourteenBitLSBFirst() {
        XCTAssertEqual(decode([0xE3, 0x00, 0x40]), [.pitchBend(channel: 3, value: 8192)])
        XCTAssertEqual(decode([0xE0, 0x7F, 0x7F]), [.pitchBend(channel: 0, value: 16383)])
        XCTAssertEqual(decode([0xE0, 0x00, 0x00]), [.pitchBend(channel: 0, value: 0)])
        XCTAssertEqual(decode([0xE0, 0x01, 0x00, 0x00, 0x01]),
                       [.pitchBend(channel: 0, value: 1), .pitchBend(channel: 0, value: 128)])
    }

    func testSystemCommonMessages() {
        XCTAssertEqual(decode([0xF1, 0x35, 0xF2, 0x10, 0x02, 0xF3, 0x07, 0xF6]), [
            .timeCodeQuarterFrame(0x35), .songPosition(beats: 0x10 | 0x02 << 7), .songSelect(7), .tuneRequest,
        ])
    }

    func testEncodedEventsDecodeToThemselves() {
        let events: [MIDIEvent] = [
            .noteOff(channel: 4, note: 1, velocity: 2), .noteOn(channel: 15, note: 127, velocity: 127),
            .polyPressure(channel: 0, note: 60, pressure: 33), .controlChange(channel: 9, controller: 121, value: 0),
            .programChange(channel: 1, program: 99), .channelPressure(channel: 2, pressure: 77),
            .pitchBend(channel: 6, value: 12345), .timeCodeQuarterFrame(0x71), .songPosition(beats: 16000),
            .songSelect(3), .tuneRequest, .timingClock, .start, .continue, .stop, .activeSensing, .systemReset,
        ]
        XCTAssertEqual(decode(events.flatMap { $0.encoded() }), events)
    }

    func testRandomGarbageNeverTrapsAndTheDecoderRecovers() {
        var generator = SeededGenerator(seed: 0x7133_BEEF)
        var decoder = MIDIByteDecoder(maximumSysExByteCount: 256)
        let bufferBefore = decoder.withSysExPayload { $0.baseAddress }
        var decodedCount = 0
        for _ in 0..<100_000 {
            guard let event = decoder.feed(UInt8.random(in: 0...255, using: &generator)) else { continue }
            decodedCount += 1
            switch event {
            case let .noteOn(channel, note, velocity), let .noteOff(channel, note, velocity):
                XCTAssert(channel < 16 && note < 128 && velocity < 128)
            case let .controlChange(channel, controller, value):
                XCTAssert(channel < 16 && controller < 128 && value < 128)
            case let .pitchBend(channel, value):
                XCTAssert(channel < 16 && value <= 16383)
            case let .systemExclusive(span):
                XCTAssertEqual(span.byteOffset, 0)
                XCTAssertLessThanOrEqual(Int(span.byteCount), 256)
            default:
                break
            }
        }
        XCTAssertGreaterThan(decodedCount, 1000)
        XCTAssertGreaterThan(decoder.ignoredByteCount, 0)
        XCTAssertGreaterThan(decoder.abortedMessageCount, 0)
        // Whatever state the garbage left, a complete message with its status decodes.
        XCTAssertEqual(decode([0x90, 0x3C, 0x64], with: &decoder), [.noteOn(channel: 0, note: 0x3C, velocity: 0x64)])
        XCTAssertEqual(decode([0xF0, 1, 2, 0xF7], with: &decoder), [.systemExclusive(MIDISysExSpan(byteOffset: 0, byteCount: 2))])
        // The SysEx buffer allocated in init is the one still in use: no reallocation while feeding.
        let bufferAfter = decoder.withSysExPayload { $0.baseAddress }
        XCTAssertEqual(bufferBefore, bufferAfter)
    }

    func testResetForgetsPartialMessageAndRunningStatus() {
        var decoder = MIDIByteDecoder()
        XCTAssertEqual(decode([0x90, 60], with: &decoder), [])
        decoder.reset()
        XCTAssertEqual(decode([100, 61, 100], with: &decoder), [])
        XCTAssertEqual(decoder.ignoredByteCount, 3)
    }
}

extension MIDIByteDecoderTests {
    func testUnsafeBufferOverloadDeliversTheSameEvents() {
        let bytes: [UInt8] = [0xF0, 0x01, 0xF8, 0x02, 0xF7, 0xB0, 64, 127, 64, 0]
        var decoder = MIDIByteDecoder(maximumSysExByteCount: 8)
        var events: [MIDIEvent] = []
        var payloadByteCount = 0
        bytes.withUnsafeBufferPointer { buffer in
            decoder.feed(buffer) { event, payload in
                events.append(event)
                payloadByteCount += payload.count
            }
        }
        XCTAssertEqual(events, [
            .timingClock, .systemExclusive(MIDISysExSpan(byteOffset: 0, byteCount: 2)),
            .controlChange(channel: 0, controller: 64, value: 127), .controlChange(channel: 0, controller: 64, value: 0),
        ])
        XCTAssertEqual(payloadByteCount, 2)
    }
}
