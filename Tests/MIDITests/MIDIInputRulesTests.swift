// The rules every MIDI input applies (JACK MIDI, the ALSA sequencer, a file played offline).
import MIDI
import XCTest

final class MIDIInputRulesTests: XCTestCase {
    func testChannelFilter() {
        let on5 = MIDIEvent.noteOn(channel: 5, note: 60, velocity: 1)
        XCTAssertTrue(MIDIChannelFilter.omni.accepts(on5))
        XCTAssertTrue(MIDIChannelFilter(channel: 5).accepts(on5))
        XCTAssertFalse(MIDIChannelFilter(channel: 4).accepts(on5))
        XCTAssertFalse(MIDIChannelFilter.omni.accepts(.timingClock), "system messages carry no channel")
        XCTAssertEqual(MIDIChannelFilter(channel: nil), .omni)
        XCTAssertEqual(MIDIChannelFilter(channel: 99).channel, 15)
        XCTAssertEqual(MIDIChannelFilter(rawValue: MIDIChannelFilter(channel: 3).rawValue).channel, 3)
        XCTAssertEqual(MIDIChannelFilter(rawValue: 16), .omni)
    }

    func testForwardedToControl() {
        XCTAssertTrue(MIDIEvent.programChange(channel: 0, program: 1).isForwardedToControl(learning: false))
        XCTAssertTrue(MIDIEvent.controlChange(channel: 0, controller: 0, value: 1).isForwardedToControl(learning: false))
        XCTAssertTrue(MIDIEvent.controlChange(channel: 0, controller: 32, value: 1).isForwardedToControl(learning: false))
        XCTAssertFalse(MIDIEvent.controlChange(channel: 0, controller: 74, value: 1).isForwardedToControl(learning: false))
        XCTAssertTrue(MIDIEvent.controlChange(channel: 0, controller: 74, value: 1).isForwardedToControl(learning: true))
        XCTAssertTrue(MIDIEvent.channelPressure(channel: 0, pressure: 1).isForwardedToControl(learning: true))
        XCTAssertFalse(MIDIEvent.noteOn(channel: 0, note: 1, velocity: 1).isForwardedToControl(learning: true))
    }

    func testSystemResetSysEx() {
        XCTAssertTrue(MIDIEvent.isSystemReset(sysExPayload: [0x7E, 0x7F, 0x09, 0x01]))
        XCTAssertTrue(MIDIEvent.isSystemReset(sysExPayload: [0x7E, 0x00, 0x09, 0x03]))
        XCTAssertTrue(MIDIEvent.isSystemReset(sysExPayload: [0x41, 0x10, 0x42, 0x12, 0x40, 0x00, 0x7F, 0x00, 0x41]))
        XCTAssertTrue(MIDIEvent.isSystemReset(sysExPayload: [0x43, 0x10, 0x4C, 0x00, 0x00, 0x7E, 0x00]))
        XCTAssertFalse(MIDIEvent.isSystemReset(sysExPayload: [0x7E, 0x7F, 0x09, 0x02]), "GM System Off")
        XCTAssertFalse(MIDIEvent.isSystemReset(sysExPayload: [0x41, 0x10, 0x42, 0x12, 0x40, 0x00, 0x7F, 0x01, 0x40]))
        XCTAssertFalse(MIDIEvent.isSystemReset(sysExPayload: []))
        XCTAssertEqual((0..<MIDIEvent.channelResetCount).map(MIDIEvent.channelReset), MIDIEvent.resetEveryChannel)
        XCTAssertEqual(MIDIEvent.resetEveryChannel.last, .controlChange(channel: 15, controller: 121, value: 0))
        XCTAssertEqual(MIDIEvent.releaseEveryChannel.count, 48)
    }

    /// One rule for loop-back ports, as strict for the ALSA sequencer as for JACK MIDI.
    func testMIDIThroughPorts() {
        for name in ["Midi Through", "Midi Through Port-0", "system:midi_capture_1 (Midi-Through)", "a2j:Midi Through [14] (capture): Midi Through Port-0",
                     "Midi-Through:capture_1", "midi_through"] {
            XCTAssertTrue(isMIDIThroughPort(name), name)
        }
        for name in ["USB MIDI Keyboard", "system:midi_capture_1", "Through the Night Synth"] {
            XCTAssertFalse(isMIDIThroughPort(name), name)
        }
    }

    /// Drums: channel 10 by default, and any channel whose program came from a drum or effect
    /// bank, play no note-ons; note-offs and everything else pass.
    func testDrumFilter() {
        var f = MIDIDrumFilter()
        XCTAssertEqual(f.drumChannel, 9)
        XCTAssertFalse(f.accepts(.noteOn(channel: 9, note: 36, velocity: 100)))
        XCTAssertTrue(f.accepts(.noteOn(channel: 9, note: 36, velocity: 0)), "velocity 0 is a note-off")
        XCTAssertTrue(f.accepts(.noteOff(channel: 9, note: 36, velocity: 0)))
        XCTAssertTrue(f.accepts(.programChange(channel: 9, program: 0)))
        XCTAssertTrue(f.accepts(.noteOn(channel: 0, note: 60, velocity: 100)))
        // XG drum kit bank on channel 3: drums from its program change on
        XCTAssertTrue(f.accepts(.controlChange(channel: 2, controller: 0, value: 127)))
        XCTAssertTrue(f.accepts(.noteOn(channel: 2, note: 60, velocity: 100)), "a bank select alone changes nothing")
        XCTAssertTrue(f.accepts(.programChange(channel: 2, program: 0)))
        XCTAssertFalse(f.accepts(.noteOn(channel: 2, note: 60, velocity: 100)))
        XCTAssertEqual(f.bank(channel: 2), 127 * 128)
        // back to a melodic bank
        XCTAssertTrue(f.accepts(.controlChange(channel: 2, controller: 0, value: 0)))
        XCTAssertTrue(f.accepts(.programChange(channel: 2, program: 0)))
        XCTAssertTrue(f.accepts(.noteOn(channel: 2, note: 60, velocity: 100)))
        for (msb, lsb, drums) in [(120, 0, true), (126, 0, true), (64, 0, true), (1, 0, true), (1, 1, false),
                                  (0, 0, false), (8, 0, false), (121, 1, false)] {
            XCTAssertEqual(GeneralMIDI.isDrumOrEffectBank(msb: UInt8(msb), lsb: UInt8(lsb)), drums, "\(msb)/\(lsb)")
        }
        // no drum channel
        var none = MIDIDrumFilter(drumChannelSetting: 0)
        XCTAssertTrue(none.accepts(.noteOn(channel: 9, note: 36, velocity: 100)))
        XCTAssertEqual(MIDIDrumFilter(drumChannelSetting: 16).drumChannel, 15)
        XCTAssertEqual(GeneralMIDI.programNames.count, 128)
        XCTAssertEqual(GeneralMIDI.name(of: 73), "Flute")
        XCTAssertEqual(GeneralMIDI.name(of: 16), "Drawbar Organ")
        XCTAssertEqual(GeneralMIDI.familyNames[GeneralMIDI.family(of: 19)], "Organ")
    }
}
