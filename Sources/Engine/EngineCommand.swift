import MIDI

/// A fixed-capacity latent point that can cross the command ring without allocation.
public struct LatentPoint: Sendable, Equatable {
    /// Largest timbre-space dimension the engine accepts.
    public static let capacity = 16
    public var values: SIMD16<Float>
    public var count: Int

    public init(_ array: [Float]) {
        precondition(array.count <= Self.capacity, "latent point larger than \(Self.capacity)")
        values = SIMD16()
        for (i, v) in array.enumerated() { values[i] = v }
        count = array.count
    }

    public var array: [Float] { (0..<count).map { values[$0] } }
}

/// Messages from the control side to the audio thread (through an SPSC ring).
public enum EngineCommand: Sendable {
    /// A MIDI event applied at the start of the next block (live events with sample offsets go
    /// through `render`'s event list instead).
    case midi(MIDIEvent)
    /// Moves the shared timbre target: what every channel without a preset of its own plays
    /// (voices glide to it, smoothed).
    case setTimbre(LatentPoint)
    /// Moves one latent dimension of the shared timbre target.
    case setLatentDimension(index: Int, value: Float)
    /// Reverb mix: scales the reverb (1 = as the model was trained; 0 = dry).
    case setReverbMix(Float)
    /// Output gain in dB.
    case setGainDB(Float)
    /// Scales of the learned envelope's time axis after note-on and after note-off.
    case setEnvelopeScale(attack: Float, release: Float)
    /// Pitch-bend range in semitones for every channel (RPN 0,0 also sets it per channel).
    case setPitchBendRange(semitones: Float)
    /// Releases every note and pedal; silences within a few milliseconds.
    case panic
    /// Scale of the envelope's time axis after note-on only (the release scale is kept).
    case setAttackScale(Float)
    /// Scale of the envelope's time axis after note-off only (the attack scale is kept).
    case setReleaseScale(Float)
    /// Maps a controller source to a target (`ControllerMapping.unmapped` removes the mapping).
    case mapController(source: ControllerSource, mapping: ControllerMapping)
    /// Sets one of the morph end points or pad corners (a point of the model's dimension).
    case setMorphPoint(corner: MorphCorner, point: LatentPoint)
    /// How the morph knob's position maps onto the line A → B (sent after A and B, which reset it
    /// to the identity); the timbre target stays until the knob next moves.
    case setMorphWarp(MorphWarp)
    /// Moves the A/B morph to a position 0…1 and the timbre target with it.
    case setMorph(Float)
    /// Moves the 2-D pad to (x, y) in 0…1 and the timbre target with it.
    case setPad(x: Float, y: Float)
    /// What bank select + program change play from now on (`ProgramTable`): the engine applies a
    /// program change at its sample from it. Unretained: the sender keeps the table alive until
    /// the engine reports (`EngineStatus.programTable`) that it plays a newer one.
    case setProgramTable(Unmanaged<ProgramTable>)
    /// Keys `first ..< first + 8` of tuning program 0 (the key table every channel plays until
    /// RPN 0,3 selects another) sound these pitches in semitones (a Scala tuning: 16 commands
    /// set the whole keyboard); sounding notes follow.
    case setKeyPitches(first: UInt8, pitches: SIMD8<Double>)
    /// What a full MPE slide (CC 74 = 127 on a member channel) adds to its note's timbre point
    /// (0 at 64, minus it at 0); nil: the morph axis, B − A (the default).
    case setMPESlide(LatentPoint?)
    /// Every channel plays the shared timbre target again, forgetting the presets program
    /// changes chose for it (a preset chosen on the control side: `timbred ctl preset`, OSC, the
    /// `preset` setting, `render --preset`).
    case resetChannelTimbres
    /// What a note's own pressure (MPE channel pressure, or poly key pressure while unmapped)
    /// moves: nil its loudness, 0…+9 dB (the default); a direction its own timbre point, by
    /// pressure (0…1) times the direction, its loudness left alone.
    case setMPEPressure(LatentPoint?)
    /// What a note-off's velocity does: a mapping with target `releaseScale` scales that note's
    /// release time by its value at velocity / 127 (a note-on of velocity 0 counts as 64);
    /// `ControllerMapping.unmapped` (the default): nothing.
    case setReleaseVelocity(ControllerMapping)
    /// What an MPE note's slide (CC 74 on a member channel) moves: true its loudness,
    /// (CC 74 − 64) / 63 × 9 dB, its timbre left alone; false (the default) its timbre point
    /// along `setMPESlide`'s direction.
    case setMPESlideLoudness(Bool)
    /// Channel `channel` (0…15; its MPE zone's manager, on a member channel) plays its own timbre
    /// target `point`, as after a program change choosing a preset there (a new engine given the
    /// presets the channels played: `SoundController.stateCommands`).
    case setChannelTimbre(channel: UInt8, LatentPoint)
    /// A new engine takes what the performance set live on the engine it replaced
    /// (`Engine.captureLiveState(of:)`, copied at the swap): tunings, channel controllers, MPE
    /// zones, and (`channelTimbres`) each channel's own timbre target. Sent after
    /// `stateCommands`; nothing when no engine was replaced.
    case carryOverLiveState(channelTimbres: Bool)
}

/// Messages from the audio thread back to the control side. The audio thread never logs: it
/// reports counts and states here and the control side turns them into text.
public enum EngineStatus: Sendable {
    /// A block was rendered: active voices and the peak output level.
    case block(voices: Int, peak: Float)
    /// A voice was stolen for a new note.
    case voiceStolen
    /// The command ring delivered a command the engine could not use (for example a latent
    /// dimension out of range).
    case commandRejected
    /// The shared timbre target moved (by a command or a controller on a channel without a
    /// preset of its own): where it is now.
    case timbre(LatentPoint)
    /// The engine now plays program changes from the `ProgramTable` of this generation (older
    /// ones can be freed).
    case programTable(generation: Int)
}
