// The limits of the sound's parameters, in one table: the settings registry (config file, flags,
// `timbred --help`), preset files, the OSC requests and the engine's own clamps all read it.
// No Foundation: the engine uses it on the audio thread.

/// The range each sound parameter may take. A value outside is refused where a person typed it
/// (config file, flag, preset file, OSC request) and clamped where it is computed (a mapped
/// knob with a custom range, a command pushed by code): the engine never plays outside it.
///
/// The ranges are an audio engineer's usual ones:
/// - reverb mix 0…4: a multiple of the room the model was trained with (0 dry, 1 as trained,
///   4 a wash);
/// - gain -60…+12 dB: -60 dB is as good as off, +12 dB the headroom a quiet model may need
///   (the output stage soft-limits below 0 dBFS whatever the gain);
/// - attack and release time scales 0.1…10: the learned envelope ten times faster to ten times
///   slower, one decade either way (symmetric on the logarithmic knob the controller map uses);
/// - pitch-bend range 0…48 semitones: off to four octaves (MPE's default for per-note bends);
///   RPN 0,0 sets a channel's own range beyond it.
///
/// Computed properties, not stored globals: reading one on the audio thread runs no lazy
/// initialisation.
public enum ParameterLimits {
    /// Reverb mix: 0 = dry, 1 = the room the model was trained with.
    public static var reverbMix: ClosedRange<Double> { 0...4 }
    /// Output gain in dB.
    public static var gainDB: ClosedRange<Double> { -60...12 }
    /// Time scale of the learned envelope after note-on.
    public static var attackScale: ClosedRange<Double> { 0.1...10 }
    /// Time scale of the learned envelope after note-off.
    public static var releaseScale: ClosedRange<Double> { 0.1...10 }
    /// Pitch-bend range in semitones (until RPN 0,0 sets a channel's own).
    public static var pitchBendSemitones: ClosedRange<Double> { 0...48 }

    /// `x` clamped to `range` (as the engine applies it). Real-time safe. NaN stays NaN: callers
    /// check `isFinite` first.
    @inlinable
    public static func clamp(_ x: Float, to range: ClosedRange<Double>) -> Float {
        min(max(x, Float(range.lowerBound)), Float(range.upperBound))
    }

    /// The range as people read it: `0.1...10`, `-60...12`.
    public static func text(_ range: ClosedRange<Double>) -> String {
        "\(text(range.lowerBound))...\(text(range.upperBound))"
    }

    /// A bound as people read it: `10`, not `10.0`.
    public static func text(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
    }
}
