// Unit conversions used across the synthesizer. Pure functions, real-time safe.
import Glibc

/// MIDI note number of the tuning reference (A4).
public let referenceMIDINote: Double = 69
/// Frequency of the tuning reference (A4) in Hz.
public let referenceHz: Double = 440

/// Frequency in Hz of a (fractional) MIDI note number: `440 · 2^((midi - 69) / 12)`.
@inlinable
public func midiToHz(_ midi: Double) -> Double {
    referenceHz * exp2((midi - referenceMIDINote) / 12)
}

/// (Fractional) MIDI note number of a frequency in Hz, `69 + 12 log2(max(hz, 1e-3) / 440)`
/// (the model's clamp, so 0 Hz gives a finite value).
@inlinable
public func hzToMidi(_ hz: Double) -> Double {
    referenceMIDINote + 12 * log2(max(hz, 1e-3) / referenceHz)
}

/// Interval from `fromHz` to `toHz` in cents (100 cents = one equal-tempered semitone).
@inlinable
public func centsBetween(_ fromHz: Double, _ toHz: Double) -> Double {
    1200 * log2(toHz / fromHz)
}

/// Linear amplitude of a level in dB: `10^(db / 20)`.
@inlinable
public func dbToAmplitude(_ gainDB: Double) -> Double {
    pow(10, gainDB / 20)
}

/// Linear amplitude of a level in dB: `10^(db / 20)`.
@inlinable
public func dbToAmplitude(_ gainDB: Float) -> Float {
    powf(10, gainDB / 20)
}

/// Level in dB of a linear amplitude, `20 log10(|amplitude|)`, floored at `floorDB`
/// (so silence gives `floorDB`, not -inf).
@inlinable
public func amplitudeToDB(_ amplitude: Double, floorDB: Double = -120) -> Double {
    let a = abs(amplitude)
    return a > 0 ? max(20 * log10(a), floorDB) : floorDB
}

/// Level in dB of a linear amplitude, `20 log10(|amplitude|)`, floored at `floorDB`.
@inlinable
public func amplitudeToDB(_ amplitude: Float, floorDB: Float = -120) -> Float {
    let a = abs(amplitude)
    return a > 0 ? max(20 * log10f(a), floorDB) : floorDB
}

/// Level in dB of a power ratio, `10 log10(power)`, floored at `floorDB`.
@inlinable
public func powerToDB(_ power: Double, floorDB: Double = -240) -> Double {
    power > 0 ? max(10 * log10(power), floorDB) : floorDB
}

/// Number of samples in `seconds` at `sampleRate`, rounded to the nearest integer.
@inlinable
public func secondsToSamples(_ seconds: Double, sampleRate: Double) -> Int {
    Int((seconds * sampleRate).rounded())
}

/// Hop in samples between decoder frames at `sampleRate`, or nil when the frame rate does not
/// divide the sample rate (the model format requires an integer hop).
@inlinable
public func hopSamples(sampleRate: Double, frameRate: Double) -> Int? {
    let hop = sampleRate / frameRate
    let rounded = hop.rounded()
    guard rounded >= 1, abs(hop - rounded) < 1e-9 else { return nil }
    return Int(rounded)
}
