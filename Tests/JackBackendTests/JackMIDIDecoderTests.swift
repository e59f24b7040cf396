// The JACK process thread's MIDI decoding, without a JACK server: JACK MIDI event bytes in,
// the events the engine plays out (the process callback itself is exercised against a real
// jackd in DaemonTests.BackendAllocationTests).
import CAllocCounter
@testable import JackBackend
import MIDI
import TestSupport
import XCTest

final class JackMIDIDecoderTests: XCTestCase {
    /// Decodes JACK MIDI events (one byte array each) and returns what would play.
    func decode(_ events: [[UInt8]], with decoder: inout JackMIDIDecoder) -> [MIDIEvent] {
        var out: [MIDIEvent] = []
        for bytes in events {
            bytes.withUnsafeBufferPointer { decoder.decode($0) { out.append($0) } }
        }
        return out
    }

    func decode(_ events: [[UInt8]]) -> [MIDIEvent] {
        var decoder = JackMIDIDecoder()
        return decode(events, with: &decoder)
    }

    func testChannelMessagesDecodeAsBefore() {
        XCTAssertEqual(decode([[0x90, 60, 100], [0x81, 60, 0], [0xB2, 74, 99], [0xE0, 0, 0x40], [0xC3, 5], [0xD0, 80]]),
                       [.noteOn(channel: 0, note: 60, velocity: 100), .noteOff(channel: 1, note: 60, velocity: 0),
                        .controlChange(channel: 2, controller: 74, value: 99), .pitchBend(channel: 0, value: 8192),
                        .programChange(channel: 3, program: 5), .channelPressure(channel: 0, pressure: 80)])
    }

    /// A GM, GM2, GS or XG reset from a DAW over JACK MIDI resets every channel, as from the ALSA
    /// sequencer (it used to be dropped with every other SysEx), and then reaches the engine
    /// itself (it clears master and scale tuning) as a span into the cycle's SysEx store.
    func testResetSysExResetsEveryChannel() {
        let resets: [[UInt8]] = [
            [0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7],                                      // GM System On
            [0xF0, 0x7E, 0x10, 0x09, 0x03, 0xF7],                                      // GM2 System On
            [0xF0, 0x41, 0x10, 0x42, 0x12, 0x40, 0x00, 0x7F, 0x00, 0x41, 0xF7],        // GS reset
            [0xF0, 0x43, 0x10, 0x4C, 0x00, 0x00, 0x7E, 0x00, 0xF7],                    // XG System On
            [0xFF],                                                                    // System Reset
        ]
        for reset in resets {
            var decoder = JackMIDIDecoder()
            defer { decoder.deallocate() }
            let span = MIDISysExSpan(byteOffset: 0, byteCount: UInt32(max(reset.count - 2, 0)))
            XCTAssertEqual(decode([reset], with: &decoder),
                           MIDIEvent.resetEveryChannel + (reset.count > 1 ? [.systemExclusive(span)] : []), "\(reset)")
            if reset.count > 1 { XCTAssertEqual(Array(decoder.sysExBytes), Array(reset.dropFirst().dropLast())) }
        }
        XCTAssertEqual(MIDIEvent.resetEveryChannel.count, 32)
        XCTAssertEqual(Array(MIDIEvent.resetEveryChannel.prefix(2)), [.controlChange(channel: 0, controller: 120, value: 0),
                                                                        .controlChange(channel: 0, controller: 121, value: 0)])
        // any other SysEx plays nothing and leaves the decoder ready
        XCTAssertEqual(decode([[0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7], [0x90, 61, 1]]), [.noteOn(channel: 0, note: 61, velocity: 1)])
    }

    /// A SysEx split over several JACK events (as some bridges deliver long ones) is reassembled.
    func testSysExSplitOverEventsIsReassembled() {
        var decoder = JackMIDIDecoder()
        XCTAssertEqual(decode([[0xF0, 0x7E, 0x7F]], with: &decoder), [])
        XCTAssertEqual(decode([[0x09, 0x01, 0xF7]], with: &decoder),
                       MIDIEvent.resetEveryChannel + [.systemExclusive(MIDISysExSpan(byteOffset: 0, byteCount: 4))])
        decoder.deallocate()
    }

    /// Tuning SysEx (MIDI Tuning Standard, master tuning) is kept in the cycle's store and played
    /// as a span into it; the store empties at each cycle; other SysEx plays nothing.
    func testTuningSysExIsKeptForTheEngine() {
        var decoder = JackMIDIDecoder()
        defer { decoder.deallocate() }
        let single = MIDITuningMessage.singleNote(program: 0, changes: [(69, 69.5)])
        let master = MIDITuningMessage.masterFine(cents: 20)
        XCTAssertEqual(decode([[0xF0] + single + [0xF7], [0xF0] + master + [0xF7], [0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7]], with: &decoder),
                       [.systemExclusive(MIDISysExSpan(byteOffset: 0, byteCount: UInt32(single.count))),
                        .systemExclusive(MIDISysExSpan(byteOffset: UInt32(single.count), byteCount: UInt32(master.count)))])
        XCTAssertEqual(Array(decoder.sysExBytes), single + master)
        decoder.beginCycle()
        XCTAssertEqual(decoder.sysExBytes.count, 0)
    }

    /// A real-time byte inside a message plays at once and leaves the message whole; a status
    /// byte cuts a partial message short (200 = 0xC8, a program change); what follows decodes.
    func testHostileBytes() {
        XCTAssertEqual(decode([[0x90, 60, 0xF8, 100], [0x90], [0x80, 200, 1], [0x91, 62, 70]]),
                       [.timingClock, .noteOn(channel: 0, note: 60, velocity: 100), .programChange(channel: 8, program: 1),
                        .noteOn(channel: 1, note: 62, velocity: 70)])
        var generator = SeededGenerator(seed: 0x1ACC)
        var decoder = JackMIDIDecoder()
        for _ in 0..<2000 {
            let event = (0..<Int.random(in: 1...12, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = decode([event], with: &decoder)
        }
        XCTAssertEqual(decode([[0x92, 64, 9]], with: &decoder), [.noteOn(channel: 2, note: 64, velocity: 9)])
    }

    /// The process thread's path: decoding JACK MIDI, SysEx and resets included, never allocates.
    func testDecodingDoesNotAllocate() {
        let state = JackProcessState()  // warms its decoder up, as before activation
        var generator = SeededGenerator(seed: 7)
        var bytes = (0..<20_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes += [0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7, 0x90, 60, 100, 0xFF, 0xF0, 0x41, 0x10, 0x42, 0x12, 0x40, 0x00, 0x7F, 0x00, 0x41, 0xF7]
        var played = 0
        bytes.withUnsafeBufferPointer { buffer in
            let before = timbred_alloc_count_thread()
            var start = 0
            while start < buffer.count {
                let n = min(7, buffer.count - start)
                state.jackMIDI.decode(UnsafeBufferPointer(rebasing: buffer[start..<(start + n)])) { event in
                    if MIDIChannelFilter.omni.accepts(event) { played += 1 }
                }
                start += n
            }
            XCTAssertEqual(timbred_alloc_count_thread() - before, 0, "allocations while decoding JACK MIDI")
        }
        XCTAssertGreaterThan(played, 1000)
    }
}
