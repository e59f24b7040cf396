// The ALSA sequencer input's pure part: event conversion. No sequencer is opened (this machine,
// like CI, may have no /dev/snd); events are built in memory.
import ALSASequencer
import Foundation
import CALSA
import MIDI
import XCTest

final class SequencerEventConverterTests: XCTestCase {
    func event(_ type: snd_seq_event_type) -> snd_seq_event_t {
        var e = snd_seq_event_t()
        e.type = snd_seq_event_type_t(type.rawValue)
        return e
    }

    func testChannelMessages() {
        var c = SequencerEventConverter()
        var on = event(SND_SEQ_EVENT_NOTEON)
        on.data.note.channel = 3; on.data.note.note = 60; on.data.note.velocity = 0
        XCTAssertEqual(c.convert(on), .midi([.noteOn(channel: 3, note: 60, velocity: 0)]))
        var bend = event(SND_SEQ_EVENT_PITCHBEND)
        bend.data.control.value = -8192
        XCTAssertEqual(c.convert(bend), .midi([.pitchBend(channel: 0, value: 0)]))
        bend.data.control.value = 8191
        XCTAssertEqual(c.convert(bend), .midi([.pitchBend(channel: 0, value: 16383)]))
        var cc = event(SND_SEQ_EVENT_CONTROLLER)
        cc.data.control.channel = 1; cc.data.control.param = 74; cc.data.control.value = 99
        XCTAssertEqual(c.convert(cc), .midi([.controlChange(channel: 1, controller: 74, value: 99)]))
        var program = event(SND_SEQ_EVENT_PGMCHANGE)
        program.data.control.value = 5
        XCTAssertEqual(c.convert(program), .midi([.programChange(channel: 0, program: 5)]))
        var pressure = event(SND_SEQ_EVENT_KEYPRESS)
        pressure.data.note.note = 61; pressure.data.note.velocity = 70
        XCTAssertEqual(c.convert(pressure), .midi([.polyPressure(channel: 0, note: 61, pressure: 70)]))
    }

    func testFourteenBitControllersAndParametersBecomeCCPairs() {
        var c = SequencerEventConverter()
        var cc14 = event(SND_SEQ_EVENT_CONTROL14)
        cc14.data.control.param = 1; cc14.data.control.value = 0x1234
        XCTAssertEqual(c.convert(cc14), .midi([.controlChange(channel: 0, controller: 1, value: 0x24),
                                              .controlChange(channel: 0, controller: 33, value: 0x34)]))
        var rpn = event(SND_SEQ_EVENT_REGPARAM)
        rpn.data.control.param = 0; rpn.data.control.value = 12 << 7
        XCTAssertEqual(c.convert(rpn), .midi([.controlChange(channel: 0, controller: 101, value: 0),
                                             .controlChange(channel: 0, controller: 100, value: 0),
                                             .controlChange(channel: 0, controller: 6, value: 12),
                                             .controlChange(channel: 0, controller: 38, value: 0)]))
    }

    func testSysExIsReassembledFromChunks() {
        var c = SequencerEventConverter()
        var first: [UInt8] = [0xF0, 0x7E, 0x7F]
        var second: [UInt8] = [0x09, 0x01, 0xF7]
        var e = event(SND_SEQ_EVENT_SYSEX)
        let a = first.withUnsafeMutableBytes { raw -> SequencerInput? in
            timbred_seq_set_ext(&e, UInt32(raw.count), raw.baseAddress)
            return c.convert(e)
        }
        XCTAssertNil(a, "half a SysEx is not a message yet")
        let b = second.withUnsafeMutableBytes { raw -> SequencerInput? in
            timbred_seq_set_ext(&e, UInt32(raw.count), raw.baseAddress)
            return c.convert(e)
        }
        XCTAssertEqual(b, .sysEx([0x7E, 0x7F, 0x09, 0x01]))
        XCTAssertTrue(MIDIEvent.isSystemReset(sysExPayload: [0x7E, 0x7F, 0x09, 0x01]))
        XCTAssertFalse(MIDIEvent.isSystemReset(sysExPayload: [0x7E, 0x7F, 0x06, 0x01]))
    }

    func testSubscriptionNoticesForOurPortOnly() {
        var c = SequencerEventConverter()
        c.ownClient = 128; c.ownPort = 0
        var e = event(SND_SEQ_EVENT_PORT_UNSUBSCRIBED)
        e.data.connect.sender.client = 24; e.data.connect.sender.port = 0
        e.data.connect.dest.client = 128; e.data.connect.dest.port = 0
        XCTAssertEqual(c.convert(e), .unsubscribed(client: 24, port: 0))
        e.data.connect.dest.client = 130
        XCTAssertNil(c.convert(e))
        var exit = event(SND_SEQ_EVENT_CLIENT_EXIT)
        exit.data.addr.client = 24
        XCTAssertEqual(c.convert(exit), .clientExited(client: 24))
    }

    func testReleaseEverythingLiftsPedalsThenReleasesOnEveryChannel() {
        let r = MIDIEvent.releaseEveryChannel
        XCTAssertEqual(r.count, 48)
        XCTAssertEqual(Array(r.prefix(3)), [.controlChange(channel: 0, controller: 64, value: 0),
                                            .controlChange(channel: 0, controller: 66, value: 0),
                                            .controlChange(channel: 0, controller: 123, value: 0)])
        XCTAssertTrue(isMIDIThroughPort("Midi Through Port-0"))
    }

    /// Without a sequencer device (this VM, most CI machines) opening fails with one line, not a crash.
    func testOpeningWithoutASequencerIsAOneLineError() throws {
        try XCTSkipIf(FileManager.default.fileExists(atPath: "/dev/snd/seq"), "this machine has an ALSA sequencer")
        XCTAssertThrowsError(try ALSASequencerInput(clientName: "test", autoconnect: true, sink: { _ in }, report: { _ in })) { e in
            let line = "\(e)"
            XCTAssertFalse(line.contains("\n"))
            XCTAssertTrue(line.contains("cannot open the ALSA sequencer"), line)
        }
    }
}
