/// The model configuration: the `config` JSON of the file's metadata (docs/model-format.md,
/// "Config"). Absent keys take the documented defaults; unknown keys are ignored.
public struct ModelConfig: Sendable, Equatable {
    /// Rate the model was trained at (Hz).
    public var sampleRate: Int = 32000
    /// Decoder frames per second.
    public var frameRate: Int = 100
    /// K, harmonics of the oscillator bank.
    public var harmonicCount: Int = 100
    /// B, noise filter bands.
    public var noiseBandCount: Int = 65
    /// Z, timbre latent dimensions.
    public var zDim: Int = 8
    /// U, width of each decoder MLP.
    public var mlpUnits: Int = 128
    /// Depth of each decoder MLP.
    public var mlpLayers: Int = 2
    /// G, GRU state size.
    public var gruUnits: Int = 192
    /// Slope of the leaky ReLU for x < 0.
    public var leakyReLUSlope: Double = 0.2
    /// Layer norm epsilon.
    public var layerNormEpsilon: Double = 1e-5
    /// Added to the noise logits before `exp_sigmoid`.
    public var noiseBias: Double = -5.0
    /// Loudness input scaling: `ld_scaled = loudness_db / dbRange + 1`.
    public var dbRange: Double = 120
    /// Length of `reverb.ir` in seconds at `sampleRate`.
    public var reverbSeconds: Double = 1.0
    /// Time constants (s) of the note input's note-on features (docs/model-format.md, "Note input").
    public var noteOnTausSeconds: [Double] = [0.005, 0.02, 0.08, 0.3, 1.0, 3.0]
    /// Time constants (s) of the note input's note-off features.
    public var noteOffTausSeconds: [Double] = [0.02, 0.1, 0.4, 1.5]
    /// Encoder feature bins per octave.
    public var encBinsPerOctave: Int = 24
    /// Encoder octaves below f0.
    public var encOctavesBelow: Int = 1
    /// Encoder octaves above f0.
    public var encOctavesAbove: Int = 5
    /// Encoder STFT size (samples at `sampleRate`).
    public var encFFTSize: Int = 2048
    /// Encoder segment boundaries, seconds after the onset.
    public var encSegmentsSeconds: [Double] = [0.0, 0.05, 0.25, 1.0, 2.0]
    /// Encoder MLP width (2 layers).
    public var encUnits: Int = 256
    /// P pitch anchors (MIDI) of the envelope tables, increasing.
    public var envPitches: [Double] = [24, 36, 48, 60, 72, 84, 96, 108]
    /// V velocity anchors of the envelope tables, increasing.
    public var envVelocities: [Double] = [16, 40, 80, 120, 127]
    /// Hold table length in seconds.
    public var envHoldSeconds: Double = 3.0
    /// Release table length in seconds.
    public var envReleaseSeconds: Double = 1.0
    /// I instrument names, in latent component order.
    public var instruments: [String] = []

    /// A configuration with every default.
    public init() {}

    /// The band limit the model was trained to, `sampleRate / 2` (Hz).
    public var bandLimitHz: Double { Double(sampleRate) / 2 }
    /// Samples per frame at the model rate.
    public var hopSamples: Int { sampleRate / frameRate }
    /// Raw decoder outputs per frame, 1 + K + B.
    public var rawCount: Int { 1 + harmonicCount + noiseBandCount }
    /// Encoder bins per segment.
    public var encBins: Int { encBinsPerOctave * (encOctavesBelow + encOctavesAbove) }
    /// Encoder segments S.
    public var encSegmentCount: Int { encSegmentsSeconds.count - 1 }
    /// Encoder input features, `S · enc_bins + S`.
    public var encFeatureCount: Int { encSegmentCount * encBins + encSegmentCount }
    /// Note input features per frame, N = 2 + note-on constants + note-off constants.
    public var noteInputCount: Int { 2 + noteOnTausSeconds.count + noteOffTausSeconds.count }
    /// Latent components (one per instrument).
    public var instrumentCount: Int { instruments.count }
    /// Samples of `reverb.ir`: `int(reverb_seconds × sample_rate)`.
    public var reverbLength: Int { Int(reverbSeconds * Double(sampleRate)) }
    /// Frames of `envelope.hold_db`: `env_hold_s × frame_rate`.
    public var holdFrameCount: Int { Int((envHoldSeconds * Double(frameRate)).rounded()) }
    /// Frames of `envelope.release_db`: `env_release_s × frame_rate`.
    public var releaseFrameCount: Int { Int((envReleaseSeconds * Double(frameRate)).rounded()) }

    /// The largest size a config may set or imply (a rate, a width, a table or impulse response
    /// length): far above any real model, small enough that the products of sizes the loader forms
    /// cannot overflow (hostile files trapped on them, found by fuzzing: docs/fuzzing.md).
    public static let maximumSize = 1 << 24
    /// The deepest decoder MLP a config may set (each layer is four tensors to look for).
    public static let maximumMLPLayers = 1024

    /// Checks ranges and consistency of the values (positive sizes, increasing anchors…).
    public func validate(path: String) throws(ModelError) {
        func fail(_ key: String, _ reason: String) -> ModelError {
            .badMetadata(path: path, key: "config.\(key)", reason: reason)
        }
        let positive: [(String, Int)] = [
            ("sample_rate", sampleRate), ("frame_rate", frameRate), ("n_harmonics", harmonicCount),
            ("z_dim", zDim), ("mlp_units", mlpUnits), ("mlp_layers", mlpLayers), ("gru_units", gruUnits),
            ("enc_bins_per_octave", encBinsPerOctave), ("enc_n_fft", encFFTSize), ("enc_units", encUnits),
        ]
        for (key, value) in positive where value < 1 { throw fail(key, "must be ≥ 1, found \(value)") }
        if noiseBandCount < 2 { throw fail("n_noise_bands", "must be ≥ 2, found \(noiseBandCount)") }
        // the engine carries latent points in fixed 16-float slots (LatentPoint.capacity)
        if zDim > 16 { throw fail("z_dim", "must be ≤ 16, found \(zDim)") }
        let sizes = positive + [("n_noise_bands", noiseBandCount), ("enc_octaves_below", encOctavesBelow),
                                ("enc_octaves_above", encOctavesAbove)]
        for (key, value) in sizes where value > Self.maximumSize {
            throw fail(key, "must be ≤ \(Self.maximumSize), found \(value)")
        }
        if mlpLayers > Self.maximumMLPLayers {
            throw fail("mlp_layers", "must be ≤ \(Self.maximumMLPLayers), found \(mlpLayers)")
        }
        if encOctavesBelow < 0 || encOctavesAbove < 0 || encBins < 1 || encBins > Self.maximumSize {
            throw fail("enc_octaves_below", "octave counts must be ≥ 0 and give 1...\(Self.maximumSize) bins")
        }
        if sampleRate % frameRate != 0 {
            throw fail("frame_rate", "sample_rate \(sampleRate) is not a multiple of frame_rate \(frameRate)")
        }
        for (key, value) in [("leaky_relu_slope", leakyReLUSlope), ("noise_bias", noiseBias)] where !value.isFinite {
            throw fail(key, "must be finite")
        }
        for (key, value) in [("layer_norm_eps", layerNormEpsilon), ("db_range", dbRange),
                             ("reverb_seconds", reverbSeconds), ("env_hold_s", envHoldSeconds),
                             ("env_release_s", envReleaseSeconds)] where !(value.isFinite && value > 0) {
            throw fail(key, "must be a positive number, found \(value)")
        }
        // The lengths below convert seconds × rate to Int: bound them first.
        for (key, seconds, rate) in [("reverb_seconds", reverbSeconds, sampleRate), ("env_hold_s", envHoldSeconds, frameRate),
                                     ("env_release_s", envReleaseSeconds, frameRate)]
        where seconds * Double(rate) > Double(Self.maximumSize) {
            throw fail(key, "gives more than \(Self.maximumSize) samples or frames")
        }
        if reverbLength < 1 { throw fail("reverb_seconds", "gives an empty impulse response") }
        if holdFrameCount < 2 { throw fail("env_hold_s", "gives fewer than 2 hold frames") }
        if releaseFrameCount < 2 { throw fail("env_release_s", "gives fewer than 2 release frames") }
        for (key, values) in [("enc_segments_s", encSegmentsSeconds), ("env_pitches", envPitches),
                              ("env_velocities", envVelocities)] {
            if values.count < 2 { throw fail(key, "needs at least 2 values, found \(values.count)") }
            if !values.allSatisfy(\.isFinite) { throw fail(key, "values must be finite") }
            for i in 1..<values.count where !(values[i] > values[i - 1]) {
                throw fail(key, "values must increase, found \(values)")
            }
        }
        for (key, values) in [("note_on_taus_s", noteOnTausSeconds), ("note_off_taus_s", noteOffTausSeconds)] {
            if values.isEmpty || values.count > 64 { throw fail(key, "needs 1 to 64 values, found \(values.count)") }
            if !values.allSatisfy({ $0.isFinite && $0 > 0 }) { throw fail(key, "values must be positive, found \(values)") }
        }
        if instruments.isEmpty { throw fail("instruments", "no instruments") }
        if Set(instruments).count != instruments.count { throw fail("instruments", "names repeat: \(instruments)") }
    }
}
