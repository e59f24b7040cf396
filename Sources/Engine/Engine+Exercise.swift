import MIDI

extension Engine {
    /// One event of every kind the engine reacts to (notes, velocity-0 note-on, pedals, bend, both
    /// pressures, program changes (a channel's own timbre, and knobs moving it), RPN data entry, the controllers the default controller map
    /// uses, channel-mode messages, an MPE zone with a note's own slide, pressure and bend). `warmUp` renders them before the audio thread starts, and the
    /// real-time checks (allocation test, `timbred check-realtime`) replay them, so all three
    /// cover the same paths.
    public static let exerciseEvents: [MIDIEvent] = {
        var events: [MIDIEvent] = [
            .noteOn(channel: 0, note: 60, velocity: 100), .noteOn(channel: 1, note: 64, velocity: 80),
            .controlChange(channel: 0, controller: 64, value: 127), .pitchBend(channel: 0, value: 12000),
            .noteOff(channel: 0, note: 60, velocity: 0), .controlChange(channel: 0, controller: 66, value: 127),
            .noteOn(channel: 2, note: 72, velocity: 127), .channelPressure(channel: 2, pressure: 40),
            .polyPressure(channel: 2, note: 72, pressure: 40), .controlChange(channel: 0, controller: 64, value: 0),
            .noteOn(channel: 0, note: 64, velocity: 0), .programChange(channel: 0, program: 3),
            .controlChange(channel: 0, controller: 101, value: 0), .controlChange(channel: 0, controller: 100, value: 0),
            .controlChange(channel: 0, controller: 6, value: 12), .controlChange(channel: 0, controller: 38, value: 0),
            .controlChange(channel: 0, controller: 96, value: 0), .controlChange(channel: 0, controller: 97, value: 0),
            .controlChange(channel: 0, controller: 99, value: 1), .controlChange(channel: 0, controller: 98, value: 2),
            .noteOn(channel: 3, note: 30, velocity: 90),
        ]
        // channel 2 gets a preset of its own, so its knobs move its own timbre
        events.append(.programChange(channel: 1, program: 40))
        for cc: UInt8 in [0, 32, 1, 7, 11, 70, 74, 91] {
            events.append(.controlChange(channel: 1, controller: cc, value: 64))
        }
        events += [.controlChange(channel: 1, controller: 123, value: 0), .controlChange(channel: 2, controller: 120, value: 0),
                   .controlChange(channel: 0, controller: 121, value: 0), .controlChange(channel: 0, controller: 66, value: 0)]
        // MPE: a lower zone of 3 member channels (RPN 0,6 on channel 1), a note on member channel 2
        // with its own slide, pressure and bend, the manager's bend, then the zone off again
        events += [.controlChange(channel: 0, controller: 101, value: 0), .controlChange(channel: 0, controller: 100, value: 6),
                   .controlChange(channel: 0, controller: 6, value: 3), .controlChange(channel: 1, controller: 74, value: 100),
                   .channelPressure(channel: 1, pressure: 90), .pitchBend(channel: 1, value: 9000),
                   .noteOn(channel: 1, note: 67, velocity: 90), .pitchBend(channel: 0, value: 8000),
                   .controlChange(channel: 1, controller: 74, value: 20), .noteOff(channel: 1, note: 67, velocity: 0),
                   .controlChange(channel: 0, controller: 6, value: 0)]
        return events
    }()

    /// Tuning SysEx of every form the engine applies (single-note real-time and with a bank,
    /// bulk dump, scale/octave 1- and 2-byte, master fine and coarse) and a GM reset, as one
    /// byte store and the `.systemExclusive` events that point into it; `warmUp` renders them
    /// with `exerciseEvents`' notes sounding.
    public static let exerciseSysEx: (bytes: [UInt8], events: [MIDIEvent]) = {
        let payloads: [[UInt8]] = [
            MIDITuningMessage.singleNote(program: 0, changes: [(60, 60.5), (64, 63.86)]),
            MIDITuningMessage.singleNote(program: 1, changes: [(61, 61.25)], bank: 2, realTime: false),
            MIDITuningMessage.bulkDump(program: 2, pitches: (0..<128).map { Double($0) + 0.1 }),
            MIDITuningMessage.scaleOctave1Byte(channels: Array(0..<16), cents: [0, -10, 4, -6, 0, -2, 3, 1, -8, 5, 0, -12]),
            MIDITuningMessage.scaleOctave2Byte(channels: [0, 15], cents: [0, -13.7, 3.9, 15.6, -13.7, -2, 5.9, 2, 13.7, -15.6, 17.6, -11.7]),
            MIDITuningMessage.scaleOctaveDump(bank: 1, program: 3, cents: [Double](repeating: -7, count: 12), twoBytes: false),
            MIDITuningMessage.scaleOctaveDump(bank: 0, program: 4, cents: [Double](repeating: 9.5, count: 12), twoBytes: true),
            MIDITuningMessage.masterFine(cents: 12.5), MIDITuningMessage.masterCoarse(semitones: -2),
            [0x7E, 0x7F, 0x09, 0x01],
        ]
        var bytes: [UInt8] = []
        var events: [MIDIEvent] = []
        for p in payloads {
            events.append(.systemExclusive(MIDISysExSpan(byteOffset: UInt32(bytes.count), byteCount: UInt32(p.count))))
            bytes += p
        }
        return (bytes, events)
    }()
}
