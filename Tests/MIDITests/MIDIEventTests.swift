import XCTest
import MIDI

private func requireBitwiseCopyable<T: BitwiseCopyable>(_: T.Type) {}

final class MIDIEventTests: XCTestCase {
    func testEventIsSmallAndTriviallyCopyable() {
        requireBitwiseCopyable(MIDIEvent.self)  // compile-time: no references, so no heap and no retains
        XCTAssertTrue(_isPOD(MIDIEvent.self))
        XCTAssertLessThanOrEqual(MemoryLayout<MIDIEvent>.size, 12)
    }

    func testVelocityZeroNoteOnIsKeptButCountsAsNoteOff() {
        let event = MIDIEvent.noteOn(channel: 2, note: 60, velocity: 0)
        XCTAssertTrue(event.isNoteOff)
        XCTAssertFalse(event.isNoteOn)
        XCTAssertTrue(MIDIEvent.noteOff(channel: 2, note: 60, velocity: 64).isNoteOff)
        XCTAssertTrue(MIDIEvent.noteOn(channel: 2, note: 60, velocity: 1).isNoteOn)
        XCTAssertFalse(MIDIEvent.noteOn(channel: 2, note: 60, velocity: 1).isNoteOff)
        XCTAssertFalse(MIDIEvent.controlChange(channel: 0, controller: 64, value: 0).isNoteOff)
    }

    func testChannelAndClassification() {
        XCTAssertEqual(MIDIEvent.pitchBend(channel: 15, value: 0).channel, 15)
        XCTAssertNil(MIDIEvent.timingClock.channel)
        XCTAssertTrue(MIDIEvent.activeSensing.isSystemRealTime)
        XCTAssertFalse(MIDIEvent.tuneRequest.isSystemRealTime)
        XCTAssertTrue(MIDIEvent.programChange(channel: 0, program: 1).isChannelVoice)
    }

    func testEncodingMasksFieldsAndSplitsFourteenBitValues() {
        XCTAssertEqual(MIDIEvent.noteOn(channel: 3, note: 60, velocity: 100).encoded(), [0x93, 60, 100])
        XCTAssertEqual(MIDIEvent.pitchBend(channel: 1, value: 8192).encoded(), [0xE1, 0x00, 0x40])
        XCTAssertEqual(MIDIEvent.pitchBend(channel: 1, value: 16383).encoded(), [0xE1, 0x7F, 0x7F])
        XCTAssertEqual(MIDIEvent.songPosition(beats: 300).encoded(), [0xF2, 0x2C, 0x02])
        XCTAssertEqual(MIDIEvent.controlChange(channel: 17, controller: 200, value: 255).encoded(),
                       [0xB1, 0x48, 0x7F])
        XCTAssertEqual(MIDIEvent.systemExclusive(MIDISysExSpan(byteOffset: 0, byteCount: 3)).encoded(), [])
    }

    func testStatusInitializerBuildsEveryKindAndRefusesNonMessages() {
        XCTAssertEqual(MIDIEvent(statusByte: 0xE5, firstDataByte: 0x01, secondDataByte: 0x02),
                       .pitchBend(channel: 5, value: 0x01 | 0x02 << 7))
        XCTAssertEqual(MIDIEvent(statusByte: 0xC9, firstDataByte: 10), .programChange(channel: 9, program: 10))
        XCTAssertEqual(MIDIEvent(statusByte: 0xF8), .timingClock)
        for status: UInt8 in [0x00, 0x7F, 0xF0, 0xF4, 0xF5, 0xF7, 0xF9, 0xFD] {
            XCTAssertNil(MIDIEvent(statusByte: status), "status \(status)")
        }
    }
}
