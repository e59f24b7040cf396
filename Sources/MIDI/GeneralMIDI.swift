// General MIDI Level 1: the 128 melodic programs in 16 families of 8, and which bank selects
// choose drum kits or sound effects instead of pitched instruments (GS, XG, GM2, FluidSynth).

public enum GeneralMIDI {
    /// MIDI channel 10 (index 9): drums in General MIDI.
    public static let drumChannel: UInt8 = 9

    /// The GM family of a program (0…127 → 0…15): programs 8f…8f+7.
    @inlinable
    public static func family(of program: Int) -> Int { min(max(program, 0), 127) / 8 }

    /// The program's GM name (0-based: 0 is "Acoustic Grand Piano", 73 "Flute").
    public static func name(of program: Int) -> String {
        (0...127).contains(program) ? programNames[program] : "program \(program)"
    }

    /// The names of the 16 families.
    public static let familyNames = [
        "Piano", "Chromatic Percussion", "Organ", "Guitar", "Bass", "Strings", "Ensemble", "Brass",
        "Reed", "Pipe", "Synth Lead", "Synth Pad", "Synth Effects", "Ethnic", "Percussive", "Sound Effects",
    ]

    /// True for a bank select (CC 0 MSB, CC 32 LSB) whose programs are drum kits or sound
    /// effects, not pitched instruments: MSB 120 (GM2 / GS rhythm), 126 (XG SFX kits), 127 (XG
    /// drum kits), 64 (XG SFX voices), and bank 128 (MSB 1, LSB 0: FluidSynth's drum bank, as it
    /// reports a percussion preset). Real-time safe.
    @inlinable
    public static func isDrumOrEffectBank(msb: UInt8, lsb: UInt8) -> Bool {
        msb == 120 || msb == 126 || msb == 127 || msb == 64 || (msb == 1 && lsb == 0)
    }

    /// The 128 GM Level 1 program names, 0-based.
    public static let programNames = [
        "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
        "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
        "Celesta", "Glockenspiel", "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
        "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica",
        "Tango Accordion",
        "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)",
        "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics",
        "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass", "Slap Bass 1",
        "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
        "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani",
        "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2", "Choir Aahs", "Voice Oohs",
        "Synth Voice", "Orchestra Hit",
        "Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2",
        "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon", "Clarinet",
        "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
        "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)", "Lead 5 (charang)",
        "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
        "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)", "Pad 6 (metallic)",
        "Pad 7 (halo)", "Pad 8 (sweep)",
        "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)",
        "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
        "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai",
        "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal",
        "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring", "Helicopter", "Applause",
        "Gunshot",
    ]
}

/// Which channels play drums rather than pitched notes: the drum channel (GM channel 10 unless
/// set otherwise; none to disable) and every channel whose last program change came with a drum
/// or effect bank selected (`GeneralMIDI.isDrumOrEffectBank`). A note-on on a drum channel is
/// not played (a synth of pitched instruments would play the kit's keys as melody); note-offs
/// and everything else pass. It follows bank selects and program changes itself, so every input
/// applies it at the event's own sample: the JACK process thread live, `OfflineRenderer`
/// offline, and the control side (which ignores such a channel's program changes).
///
/// Fixed-size plain value: real-time safe, no allocation.
public struct MIDIDrumFilter: Sendable, Equatable {
    /// The drum channel (0…15), or -1 for none.
    public var drumChannel: Int
    @usableFromInline var bankMSB = SIMD16<UInt8>(repeating: 0)
    @usableFromInline var bankLSB = SIMD16<UInt8>(repeating: 0)
    /// Bit c: channel c's program came from a drum or effect bank.
    @usableFromInline var drumBankChannels: UInt16 = 0

    /// `drumChannel` 0…15, or nil (or anything else) for no drum channel.
    @inlinable
    public init(drumChannel: Int? = Int(GeneralMIDI.drumChannel)) {
        self.drumChannel = drumChannel.map { (0...15).contains($0) ? $0 : -1 } ?? -1
    }

    /// The `drum_channel` setting's form: 1…16 that channel, 0 none.
    public init(drumChannelSetting c: Int) {
        self.init(drumChannel: (1...16).contains(c) ? c - 1 : nil)
    }

    /// True when `channel` (0…15) plays drums now. Real-time safe.
    @inlinable
    public func isDrum(channel: UInt8) -> Bool {
        let c = Int(channel & 0x0F)
        return c == drumChannel || drumBankChannels & (1 << UInt16(c)) != 0
    }

    /// The bank (CC 0 · 128 + CC 32) selected on `channel`.
    public func bank(channel: UInt8) -> Int {
        Int(bankMSB[Int(channel & 0x0F)]) * 128 + Int(bankLSB[Int(channel & 0x0F)])
    }

    /// Follows bank selects and program changes; false for a note-on (velocity > 0) on a drum
    /// channel, true for everything else. Real-time safe.
    @inlinable
    public mutating func accepts(_ event: MIDIEvent) -> Bool {
        switch event {
        case let .noteOn(channel, _, velocity):
            return velocity == 0 || !isDrum(channel: channel)
        case let .controlChange(channel, 0, value):
            bankMSB[Int(channel & 0x0F)] = value & 0x7F
        case let .controlChange(channel, 32, value):
            bankLSB[Int(channel & 0x0F)] = value & 0x7F
        case let .programChange(channel, _):
            let c = Int(channel & 0x0F)
            let bit: UInt16 = 1 << UInt16(c)
            if GeneralMIDI.isDrumOrEffectBank(msb: bankMSB[c], lsb: bankLSB[c]) {
                drumBankChannels |= bit
            } else {
                drumBankChannels &= ~bit
            }
        default:
            break
        }
        return true
    }
}
