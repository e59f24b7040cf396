import TestSupport
import XCTest
import MIDI

/// Byte-level builders for hand-made Standard MIDI Files.
enum SMFBytes {
    static func header(format: UInt16, trackCount: UInt16, division: UInt16) -> [UInt8] {
        Array("MThd".utf8) + [0, 0, 0, 6] + be16(format) + be16(trackCount) + be16(division)
    }

    static func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        Array(type.utf8) + be32(UInt32(body.count)) + body
    }

    static func track(_ body: [UInt8]) -> [UInt8] { chunk("MTrk", body) }

    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }

    static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    /// A single-track file with 96 ticks per quarter around `body`.
    static func formatZero(_ body: [UInt8]) -> [UInt8] {
        header(format: 0, trackCount: 1, division: 96) + track(body)
    }
}

final class StandardMIDIFileTests: XCTestCase {
    // Format 0, 96 ticks per quarter, tempo 600 000 µs per quarter: one tick is 0.00625 s.
    static let formatZeroTrack: [UInt8] = [
        0x00, 0xFF, 0x51, 0x03, 0x09, 0x27, 0xC0,  // tick 0: tempo 600 000
        0x00, 0x90, 0x3C, 0x64,  // tick 0: note-on 60
        0x60, 0x3C, 0x00,  // tick 96: running status, note-on 60 velocity 0
        0x81, 0x40, 0x90, 0x3E, 0x50,  // tick 288: note-on 62
        0x00, 0xB0, 0x07, 0x64,  // tick 288: CC 7 = 100
        0x00, 0x0A, 0x40,  // tick 288: running status, CC 10 = 64
        0x83, 0x60, 0xE0, 0x00, 0x40,  // tick 768: pitch bend centre
        0x60, 0xFF, 0x2F, 0x00,  // tick 864: end of track
    ]
    static let formatZeroFile = SMFBytes.formatZero(formatZeroTrack)

    func testFormatZeroEventsAndTimes() throws {
        let file = try StandardMIDIFile(bytes: Self.formatZeroFile)
        XCTAssertEqual(file.format, .singleTrack)
        XCTAssertEqual(file.division, .ticksPerQuarter(96))
        XCTAssertEqual(file.trackCount, 1)
        XCTAssertEqual(file.events.map(\.event), [
            .noteOn(channel: 0, note: 60, velocity: 100),
            .noteOn(channel: 0, note: 60, velocity: 0),
            .noteOn(channel: 0, note: 62, velocity: 80),
            .controlChange(channel: 0, controller: 7, value: 100),
            .controlChange(channel: 0, controller: 10, value: 64),
            .pitchBend(channel: 0, value: 8192),
        ])
        XCTAssertEqual(file.events.map(\.tick), [0, 96, 288, 288, 288, 768])
        let expectedSeconds = [0.0, 0.6, 1.8, 1.8, 1.8, 4.8]
        for (event, expected) in zip(file.events, expectedSeconds) {
            XCTAssertEqual(event.timeSeconds, expected, accuracy: 1e-9)
        }
        XCTAssertEqual(file.durationSeconds, 5.4, accuracy: 1e-9)
        XCTAssertEqual(file.tempoChanges, [.init(tick: 0, timeSeconds: 0, tempoMicrosecondsPerQuarter: 600_000)])
        XCTAssertEqual(file.timeSeconds(atTick: 160), 1.0, accuracy: 1e-9)
    }

    func testFormatOneTempoChangeInTrackZeroAppliesToEveryTrack() throws {
        let conductor: [UInt8] = [
            0x00, 0xFF, 0x03, 0x05] + Array("Tempo".utf8) + [
            0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,  // tick 0: 500 000 µs (120 bpm)
            0x87, 0x40, 0xFF, 0x51, 0x03, 0x03, 0xD0, 0x90,  // tick 960: 250 000 µs (240 bpm)
            0x00, 0xB0, 0x01, 0x40,  // tick 960: CC 1 in track 0
            0x87, 0x40, 0xFF, 0x2F, 0x00,  // tick 1920: end
        ]
        let notes: [UInt8] = [
            0x00, 0x90, 0x3C, 0x64,  // tick 0
            0x83, 0x60, 0x80, 0x3C, 0x40,  // tick 480
            0x00, 0x90, 0x3E, 0x64,  // tick 480
            0x83, 0x60, 0x80, 0x3E, 0x40,  // tick 960: note-off first in file order
            0x00, 0x90, 0x40, 0x64,  // tick 960
            0x83, 0x60, 0x40, 0x00,  // tick 1440: running status note-on velocity 0
            0x83, 0x60, 0xFF, 0x2F, 0x00,  // tick 1920: end
        ]
        let bytes = SMFBytes.header(format: 1, trackCount: 2, division: 480)
            + SMFBytes.track(conductor) + SMFBytes.track(notes)
        let file = try StandardMIDIFile(bytes: bytes)
        XCTAssertEqual(file.format, .multipleTracks)
        XCTAssertEqual(file.trackCount, 2)
        XCTAssertEqual(file.events.map(\.event), [
            .noteOn(channel: 0, note: 60, velocity: 100),
            .noteOff(channel: 0, note: 60, velocity: 64),
            .noteOn(channel: 0, note: 62, velocity: 100),
            .controlChange(channel: 0, controller: 1, value: 64),  // equal tick: track 0 before track 1
            .noteOff(channel: 0, note: 62, velocity: 64),  // then file order within track 1
            .noteOn(channel: 0, note: 64, velocity: 100),
            .noteOn(channel: 0, note: 64, velocity: 0),
        ])
        XCTAssertEqual(file.events.map(\.trackIndex), [1, 1, 1, 0, 1, 1, 1])
        // 0.5 s per quarter up to tick 960 (1.0 s), then 0.25 s per quarter.
        let expectedSeconds = [0.0, 0.5, 0.5, 1.0, 1.0, 1.0, 1.25]
        for (event, expected) in zip(file.events, expectedSeconds) {
            XCTAssertEqual(event.timeSeconds, expected, accuracy: 1e-9)
        }
        XCTAssertEqual(file.durationSeconds, 1.5, accuracy: 1e-9)
        XCTAssertEqual(file.tempoChanges.map(\.tempoMicrosecondsPerQuarter), [500_000, 250_000])
        XCTAssertEqual(file.tempoChanges.map(\.timeSeconds), [0, 1.0])
    }

    func testTempoChangeInALaterTrackAppliesToo() throws {
        typealias E = StandardMIDIFileWriter.TickedEvent
        let writer = StandardMIDIFileWriter(ticksPerQuarter: 480)
        let bytes = writer.formatOne(tracks: [
            [E(tick: 0, .trackName("conductor"))],
            [.midi(480, .noteOn(channel: 0, note: 60, velocity: 1)), .midi(960, .noteOn(channel: 0, note: 61, velocity: 1))],
            [E(tick: 480, .tempo(microsecondsPerQuarter: 1_000_000))],
        ])
        let file = try StandardMIDIFile(bytes: bytes)
        XCTAssertEqual(file.events.count, 2)
        XCTAssertEqual(file.events[0].timeSeconds, 0.5, accuracy: 1e-9)
        XCTAssertEqual(file.events[1].timeSeconds, 1.5, accuracy: 1e-9)
    }

    func testRunningStatusInsideATrackIsKeptAcrossMetaEvents() throws {
        let file = try StandardMIDIFile(bytes: SMFBytes.formatZero([
            0x00, 0x93, 0x3C, 0x64,
            0x00, 0x3D, 0x65,  // running status
            0x00, 0xFF, 0x01, 0x01, 0x78,  // text meta event
            0x00, 0x3E, 0x66,  // running status survives the meta event
            0x00, 0xC3, 0x05, 0x00, 0x06,  // one-data-byte running status
        ]))
        XCTAssertEqual(file.events.map(\.event), [
            .noteOn(channel: 3, note: 60, velocity: 100), .noteOn(channel: 3, note: 61, velocity: 101),
            .noteOn(channel: 3, note: 62, velocity: 102), .programChange(channel: 3, program: 5),
            .programChange(channel: 3, program: 6),
        ])
    }

    func testSysExEventsContinuationPacketsAndEscapes() throws {
        let file = try StandardMIDIFile(bytes: SMFBytes.formatZero([
            0x00, 0xF0, 0x05, 0x7E, 0x7F, 0x09, 0x01, 0xF7,  // complete SysEx
            0x00, 0xF0, 0x03, 0x43, 0x12, 0x00,  // first packet, no F7
            0x10, 0xF7, 0x03, 0x43, 0x12, 0xF7,  // tick 16: last packet
            0x00, 0xF7, 0x02, 0xF3, 0x01,  // escape: raw song select
            0x00, 0xF7, 0x04, 0xF0, 0x01, 0x02, 0xF7,  // escape holding a whole SysEx
        ]))
        let payloads = file.events.compactMap { timed -> [UInt8]? in
            guard case let .systemExclusive(span) = timed.event else { return nil }
            return file.sysExPayload(span).map(Array.init)
        }
        XCTAssertEqual(payloads, [[0x7E, 0x7F, 0x09, 0x01], [0x43, 0x12, 0x00, 0x43, 0x12], [0x01, 0x02]])
        XCTAssertEqual(file.events.map(\.tick), [0, 16, 16, 16])
        XCTAssertEqual(file.events[2].event, .songSelect(1))
    }

    func testSMPTEDivisionIgnoresTempo() throws {
        // -25 frames per second, 40 ticks per frame: 1000 ticks per second.
        let bytes = SMFBytes.header(format: 0, trackCount: 1, division: 0xE728) + SMFBytes.track([
            0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40,  // tempo 1 000 000, irrelevant in SMPTE time
            0x83, 0x74, 0x90, 0x3C, 0x64,  // tick 500
        ])
        let file = try StandardMIDIFile(bytes: bytes)
        XCTAssertEqual(file.division, .smpte(framesPerSecond: 25, ticksPerFrame: 40))
        XCTAssertEqual(file.events[0].timeSeconds, 0.5, accuracy: 1e-9)
        XCTAssertEqual(file.durationSeconds, 0.5, accuracy: 1e-9)
        // 29 means 29.97 drop-frame.
        XCTAssertEqual(StandardMIDIFile.Division.smpte(framesPerSecond: 29, ticksPerFrame: 100).ticksPerSecond!,
                       2997.002997002997, accuracy: 1e-9)
    }

    func testUnknownChunksAreSkippedAndEventsAfterEndOfTrackIgnored() throws {
        let bytes = SMFBytes.header(format: 1, trackCount: 2, division: 96)
            + SMFBytes.chunk("XFIH", [1, 2, 3, 4])
            + SMFBytes.track([0x00, 0x90, 0x3C, 0x64, 0x00, 0xFF, 0x2F, 0x00, 0x00, 0x90, 0x3D, 0x64])
            + SMFBytes.chunk("XFKM", [])
            + SMFBytes.track([0x60, 0x91, 0x3C, 0x64])  // no end-of-track: ends at its last event
        let file = try StandardMIDIFile(bytes: bytes)
        XCTAssertEqual(file.events.map(\.event), [
            .noteOn(channel: 0, note: 60, velocity: 100), .noteOn(channel: 1, note: 60, velocity: 100),
        ])
        XCTAssertEqual(file.durationSeconds, 0.5, accuracy: 1e-9)
    }

    // MARK: - Errors

    private func assertThrows(_ bytes: [UInt8], _ expected: MIDIFileError, mentioning text: String,
                              file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try StandardMIDIFile(bytes: bytes)
            XCTFail("expected \(expected)", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, file: file, line: line)
            XCTAssertTrue(error.description.contains(text), "\"\(error)\" lacks \"\(text)\"", file: file, line: line)
        }
    }

    /// A file cut short inside its track chunk plays its complete events and says what it repaired.
    func testFileCutShortInsideATrackPlaysItsCompleteEvents() throws {
        // the last End-of-Track byte lost (the chunk length still counts it)
        let lostByte = try StandardMIDIFile(bytes: Array(Self.formatZeroFile.dropLast(1)))
        XCTAssertEqual(lostByte.events.count, 6)
        XCTAssertEqual(lostByte.repairs, ["the track chunk at byte 14 ends 1 bytes early (the file is cut short): its complete events play"])
        // cut inside the pitch bend: the five events before it play, the track ends at the last whole one
        let cut = try StandardMIDIFile(bytes: Array(Self.formatZeroFile.dropLast(6)))
        XCTAssertEqual(cut.events.map(\.event).last, .controlChange(channel: 0, controller: 10, value: 64))
        XCTAssertEqual(cut.events.count, 5)
        XCTAssertEqual(cut.repairs.count, 1)
        XCTAssertTrue(cut.repairs[0].contains("byte 14") && cut.repairs[0].contains("6 bytes early"), cut.repairs[0])
        XCTAssertEqual(try StandardMIDIFile(bytes: Self.formatZeroFile).repairs, [])
    }

    /// System Common and Real-Time status bytes inside a track are skipped with their data bytes.
    func testStrayStatusBytesAreSkippedWithTheirData() throws {
        let file = try StandardMIDIFile(bytes: SMFBytes.formatZero([
            0x00, 0x90, 0x3C, 0x64,  // note-on
            0x00, 0xF1, 0x23,  // MTC quarter frame: status + 1 data byte
            0x00, 0xF8,  // timing clock (real-time, no data)
            0x00, 0xF2, 0x01, 0x02,  // song position: 2 data bytes
            0x10, 0x80, 0x3C, 0x00,  // note-off
            0x00, 0xFF, 0x2F, 0x00,
        ]))
        XCTAssertEqual(file.events.map(\.event), [.noteOn(channel: 0, note: 60, velocity: 100),
                                                  .noteOff(channel: 0, note: 60, velocity: 0)])
        XCTAssertEqual(file.repairs, ["skipped status byte 0xF1 at byte 27 and its 1 data byte",
                                      "skipped status byte 0xF8 at byte 30",
                                      "skipped status byte 0xF2 at byte 32 and its 2 data bytes"])
    }

    func testTruncatedFileNamesTheByteOffset() {
        // Cut inside the header chunk, and inside a chunk header.
        assertThrows(Array(Self.formatZeroFile.prefix(12)),
                     .truncatedChunk(byteOffset: 0, neededByteCount: 14, availableByteCount: 12), mentioning: "byte 0")
        let twoTracks = SMFBytes.header(format: 1, trackCount: 2, division: 96) + SMFBytes.track([]) + Array("MTr".utf8)
        assertThrows(twoTracks, .truncatedChunk(byteOffset: 22, neededByteCount: 8, availableByteCount: 3),
                     mentioning: "byte 22")
    }

    func testFormatTwoIsRefused() {
        let bytes = SMFBytes.header(format: 2, trackCount: 1, division: 96) + SMFBytes.track([])
        assertThrows(bytes, .format2Unsupported, mentioning: "format 2")
        assertThrows(SMFBytes.header(format: 3, trackCount: 1, division: 96), .unsupportedFormat(3), mentioning: "format 3")
    }

    func testHeaderErrors() {
        assertThrows([], .notAMIDIFile, mentioning: "not a Standard MIDI File")
        assertThrows(Array("RIFF\0\0\0\u{4}RMID".utf8), .notAMIDIFile, mentioning: "MThd")
        assertThrows(SMFBytes.header(format: 0, trackCount: 0, division: 96), .noTracks, mentioning: "no tracks")
        assertThrows(SMFBytes.header(format: 1, trackCount: 2, division: 96), .noTracks, mentioning: "no tracks")
        assertThrows(SMFBytes.header(format: 1, trackCount: 2, division: 96) + SMFBytes.track([]),
                     .missingTracks(declaredCount: 2, foundCount: 1), mentioning: "declares 2")
        assertThrows(SMFBytes.header(format: 0, trackCount: 1, division: 0) + SMFBytes.track([]),
                     .invalidDivision(0), mentioning: "division")
        assertThrows(SMFBytes.header(format: 0, trackCount: 1, division: 0xE600) + SMFBytes.track([]),
                     .invalidDivision(0xE600), mentioning: "division")
        assertThrows(Array("MThd".utf8) + [0, 0, 0, 5, 0, 0, 0, 1, 0], .badHeaderLength(byteCount: 5), mentioning: "MThd")
    }

    func testTrackErrorsNameTheByteOffset() {
        // The track body starts at byte 22 (14-byte header chunk + 8-byte track chunk header).
        assertThrows(SMFBytes.formatZero([0x81, 0x81, 0x81, 0x81, 0x00, 0x90, 60, 100]),
                     .badVariableLengthQuantity(byteOffset: 22), mentioning: "variable-length quantity at byte 22")
        assertThrows(SMFBytes.formatZero([0x00, 0x3C, 0x64]), .missingRunningStatus(byteOffset: 23), mentioning: "byte 23")
        assertThrows(SMFBytes.formatZero([0x00, 0x90, 0x3C, 0x90]), .unexpectedStatusByte(0x90, byteOffset: 25),
                     mentioning: "byte 25")
        assertThrows(SMFBytes.formatZero([0x00, 0x90, 0x3C]), .truncatedEvent(byteOffset: 23), mentioning: "byte 23")
        assertThrows(SMFBytes.formatZero([0x00, 0xFF, 0x01, 0x10, 0x61]), .truncatedEvent(byteOffset: 23),
                     mentioning: "byte 23")
        assertThrows(SMFBytes.formatZero([0x00, 0x90, 0x3C, 0x64, 0x83]), .truncatedEvent(byteOffset: 26),
                     mentioning: "byte 26")
    }

    // MARK: - Hostile input

    func testRandomMutationsOfAValidFileNeverTrap() {
        typealias E = StandardMIDIFileWriter.TickedEvent
        var tracks: [[E]] = [[
            E(tick: 0, .trackName("tempo")), E(tick: 0, .tempo(microsecondsPerQuarter: 500_000)),
            E(tick: 960, .tempo(microsecondsPerQuarter: 300_000)),
        ]]
        for channel: UInt8 in 0..<3 {
            var track: [E] = [E(tick: 0, .systemExclusive(payload: [0x7E, 0x7F, 0x09, 0x01]))]
            for step in 0..<24 {
                let note = UInt8(48 + step + Int(channel))
                track.append(.midi(step * 120, .noteOn(channel: channel, note: note, velocity: 90)))
                track.append(.midi(step * 120 + 100, .noteOff(channel: channel, note: note, velocity: 0)))
                track.append(.midi(step * 120 + 10, .pitchBend(channel: channel, value: UInt16(step * 600))))
                track.append(.midi(step * 120 + 20, .controlChange(channel: channel, controller: 1, value: UInt8(step))))
            }
            tracks.append(track)
        }
        let valid = StandardMIDIFileWriter(ticksPerQuarter: 480).formatOne(tracks: tracks)
        XCTAssertNoThrow(try StandardMIDIFile(bytes: valid))

        var generator = SeededGenerator(seed: 2024)
        var parsedCount = 0
        var refusedCount = 0
        for _ in 0..<2000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                switch Int.random(in: 0..<8, using: &generator) {
                case 0...3:  // overwrite bytes
                    for _ in 0..<Int.random(in: 1...8, using: &generator) where !bytes.isEmpty {
                        bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                    }
                case 4:  // truncate
                    bytes.removeLast(Int.random(in: 0...bytes.count, using: &generator))
                case 5:  // insert random bytes
                    let position = Int.random(in: 0...bytes.count, using: &generator)
                    let inserted = (0..<Int.random(in: 1...16, using: &generator)).map { _ in
                        UInt8.random(in: 0...255, using: &generator)
                    }
                    bytes.insert(contentsOf: inserted, at: position)
                default:  // set a byte to a boundary value
                    if !bytes.isEmpty {
                        bytes[Int.random(in: 0..<bytes.count, using: &generator)] = [0x00, 0x7F, 0x80, 0xF7, 0xFF].randomElement(using: &generator)!
                    }
                }
            }
            do {
                let file = try StandardMIDIFile(bytes: bytes)
                parsedCount += 1
                var previousSeconds = 0.0
                for timed in file.events {
                    XCTAssertTrue(timed.timeSeconds.isFinite)
                    XCTAssertGreaterThanOrEqual(timed.timeSeconds, previousSeconds)
                    XCTAssertLessThanOrEqual(timed.timeSeconds, file.durationSeconds + 1e-9)
                    previousSeconds = timed.timeSeconds
                    if case let .systemExclusive(span) = timed.event {
                        XCTAssertNotNil(file.sysExPayload(span))
                    }
                }
            } catch {
                refusedCount += 1
                XCTAssertFalse(error.description.isEmpty)
            }
        }
        XCTAssertGreaterThan(parsedCount, 50, "mutations should often leave a readable file")
        XCTAssertGreaterThan(refusedCount, 0)
    }
}
