import XCTest
import MIDI

final class StandardMIDIFileWriterTests: XCTestCase {
    typealias E = StandardMIDIFileWriter.TickedEvent

    func testVariableLengthQuantitiesMatchTheSMFSpecificationTable() {
        let table: [(Int, [UInt8])] = [
            (0x00, [0x00]), (0x40, [0x40]), (0x7F, [0x7F]), (0x80, [0x81, 0x00]), (0x2000, [0xC0, 0x00]),
            (0x3FFF, [0xFF, 0x7F]), (0x4000, [0x81, 0x80, 0x00]), (0x10_0000, [0xC0, 0x80, 0x00]),
            (0x1F_FFFF, [0xFF, 0xFF, 0x7F]), (0x20_0000, [0x81, 0x80, 0x80, 0x00]),
            (0x800_0000, [0xC0, 0x80, 0x80, 0x00]), (0xFFF_FFFF, [0xFF, 0xFF, 0xFF, 0x7F]),
        ]
        for (value, bytes) in table {
            XCTAssertEqual(StandardMIDIFileWriter.variableLengthQuantity(value), bytes, "\(value)")
        }
        XCTAssertEqual(StandardMIDIFileWriter.variableLengthQuantity(-5), [0x00])
        XCTAssertEqual(StandardMIDIFileWriter.variableLengthQuantity(Int.max), [0xFF, 0xFF, 0xFF, 0x7F])
    }

    func testFormatZeroRoundTripsThroughTheReader() throws {
        let events: [E] = [
            .midi(0, .programChange(channel: 2, program: 40)),
            .midi(0, .noteOn(channel: 2, note: 60, velocity: 100)),
            .midi(240, .pitchBend(channel: 2, value: 12000)),
            .midi(480, .noteOn(channel: 2, note: 60, velocity: 0)),
            .midi(480, .noteOn(channel: 2, note: 64, velocity: 90)),
            .midi(960, .noteOff(channel: 2, note: 64, velocity: 10)),
        ]
        for usesRunningStatus in [true, false] {
            let writer = StandardMIDIFileWriter(ticksPerQuarter: 480, usesRunningStatus: usesRunningStatus)
            let file = try StandardMIDIFile(bytes: writer.formatZero(events: events, tempoMicrosecondsPerQuarter: 400_000))
            XCTAssertEqual(file.format, .singleTrack)
            XCTAssertEqual(file.division, .ticksPerQuarter(480))
            XCTAssertEqual(file.events.map(\.event), events.map {
                guard case let .midi(event) = $0.event else { fatalError() }
                return event
            })
            XCTAssertEqual(file.events.map(\.tick), [0, 0, 240, 480, 480, 960])
            for timed in file.events {
                XCTAssertEqual(timed.timeSeconds, Double(timed.tick) * 400_000 / 480e6, accuracy: 1e-9)
            }
            XCTAssertEqual(file.durationSeconds, 0.8, accuracy: 1e-9)
        }
        let compact = StandardMIDIFileWriter(usesRunningStatus: true).formatZero(events: events)
        let plain = StandardMIDIFileWriter(usesRunningStatus: false).formatZero(events: events)
        XCTAssertEqual(plain.count - compact.count, 1, "one message (the note-on at 480) repeats the previous status")
    }

    func testEventsAreSortedStablyAndEndOfTrackEndsTheTrack() throws {
        let writer = StandardMIDIFileWriter(ticksPerQuarter: 100)
        let bytes = writer.formatZero(events: [
            .midi(10, .controlChange(channel: 0, controller: 1, value: 1)),
            .midi(0, .controlChange(channel: 0, controller: 1, value: 2)),
            .midi(10, .controlChange(channel: 0, controller: 1, value: 3)),
            E(tick: 400, .endOfTrack),
            .midi(500, .controlChange(channel: 0, controller: 1, value: 4)),
            .midi(20, .timingClock),  // not a track event: skipped
        ], tempoMicrosecondsPerQuarter: 1_000_000)
        let file = try StandardMIDIFile(bytes: bytes)
        XCTAssertEqual(file.events.map(\.event), [2, 1, 3].map { .controlChange(channel: 0, controller: 1, value: $0) })
        XCTAssertEqual(file.durationSeconds, 4, accuracy: 1e-9)
    }

    func testSysExAndFormatOneTracks() throws {
        let writer = StandardMIDIFileWriter(ticksPerQuarter: 96)
        let bytes = writer.formatOne(tracks: [
            [E(tick: 0, .tempo(microsecondsPerQuarter: 480_000))],
            [E(tick: 96, .systemExclusive(payload: [0x41, 0x10, 0x42]))],
            [.midi(48, .noteOn(channel: 9, note: 36, velocity: 127))],
        ])
        let file = try StandardMIDIFile(bytes: bytes)
        XCTAssertEqual(file.format, .multipleTracks)
        XCTAssertEqual(file.trackCount, 3)
        XCTAssertEqual(file.events.map(\.trackIndex), [2, 1])
        XCTAssertEqual(file.events[0].timeSeconds, 0.24, accuracy: 1e-9)
        XCTAssertEqual(file.events[1].timeSeconds, 0.48, accuracy: 1e-9)
        guard case let .systemExclusive(span) = file.events[1].event else { return XCTFail("expected SysEx") }
        XCTAssertEqual(file.sysExPayload(span).map(Array.init), [0x41, 0x10, 0x42])
    }
}
