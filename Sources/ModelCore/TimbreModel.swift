import Inference

/// A loaded, validated timbred model (docs/model-format.md, format version 2; version 1 files,
/// whose decoder has no note input, load as a version 2 decoder whose note input has no effect).
///
/// Loading checks the metadata (`format`, `format_version`, `config`, `envelope_blend_scale`),
/// then every tensor the configuration implies: present, F32, of the implied shape, with data
/// inside the file, and finite. Tensors the format does not name are ignored (listed in
/// `unexpectedTensorNames`). Loading allocates and reads the file: call it off the audio thread.
public struct TimbreModel: Sendable {
    /// The value `format` must have.
    public static let formatName = "timbred-ddsp"
    /// The `format_version` this build writes and reads.
    public static let formatVersion = 2
    /// The oldest `format_version` this build still reads.
    public static let oldestFormatVersion = 1

    /// The file's `format_version`.
    public let formatVersion: Int

    /// The file the model came from (as given to the loader).
    public let path: String
    /// The model configuration.
    public let config: ModelConfig
    /// The file's metadata, verbatim.
    public let metadata: [String: String]
    /// `provenance` JSON text (informative only), if present.
    public let provenance: String?
    /// `s` of the envelope blend weights.
    public let envelopeBlendScale: Double
    /// `latent.means`, one Z-vector per instrument (component order = `instrumentNames`).
    public let latentMeans: [[Float]]
    /// `latent.logvars`, one Z-vector per instrument.
    public let latentLogvars: [[Float]]
    /// `reverb.ir`: the impulse response at the model rate (`ir[0]` = 0; dry is added separately).
    public let reverbIR: [Float]
    /// The loudness envelope tables and their blend.
    public let envelopes: EnvelopeTables
    /// The decoder network's weights.
    public let decoderWeights: DecoderWeights
    /// The encoder network's weights.
    public let encoderWeights: EncoderWeights
    /// The stretched partials (`inharmonicity.*`, optional): nil when the file has none, and the
    /// model plays every partial harmonic.
    public let inharmonicity: InharmonicityTable?
    /// The attack transients (`transient.*`, optional): nil when the file has none, and notes
    /// start with harmonics and smooth noise alone.
    public let transients: TransientTable?
    /// The tone balance (`tone.gain_db`, optional): nil when the file has none, and the decoder's
    /// spectra play as they come.
    public let tone: ToneTable?
    /// The partial motion (`motion.*`, optional): nil when the file has none, and each partial
    /// follows the decoder's course without moving around it.
    public let motion: PartialMotionTable?
    /// The noise's high-pass below the fundamental (`highpass.ratio`, optional): nil when the file
    /// has none, and each voice's noise reaches down to 0 Hz.
    public let noiseHighPass: NoiseHighPassTable?
    /// The frame from which each voice's controls are the mean of the decoded frame and the one
    /// before (`controls.smooth_from_frame`, optional; docs/model-format.md, "Control smoothing"):
    /// nil when the file has none, and every frame plays as decoded.
    public let controlSmoothingFromFrame: Int?
    /// Tensors in the file that the format does not define (ignored).
    public let unexpectedTensorNames: [String]

    /// Instrument names in latent component order.
    public var instrumentNames: [String] { config.instruments }

    /// The control scaling of this model (K, B, noise bias, band limit).
    public var controlScaler: ControlScaler {
        ControlScaler(harmonicCount: config.harmonicCount, noiseBandCount: config.noiseBandCount,
                      noiseBias: Float(config.noiseBias), bandLimitHz: Float(config.bandLimitHz))
    }

    /// Wraps already validated parts (the loader in `Model` builds them from a file).
    public init(path: String, formatVersion: Int, config: ModelConfig, metadata: [String: String],
                envelopeBlendScale: Double, latentMeans: [[Float]], latentLogvars: [[Float]], reverbIR: [Float],
                envelopes: EnvelopeTables, decoderWeights: DecoderWeights, encoderWeights: EncoderWeights,
                inharmonicity: InharmonicityTable? = nil, transients: TransientTable? = nil, tone: ToneTable? = nil,
                motion: PartialMotionTable? = nil, noiseHighPass: NoiseHighPassTable? = nil,
                controlSmoothingFromFrame: Int? = nil, unexpectedTensorNames: [String]) {
        self.path = path
        self.formatVersion = formatVersion
        self.config = config
        self.metadata = metadata
        self.provenance = metadata["provenance"]
        self.envelopeBlendScale = envelopeBlendScale
        self.latentMeans = latentMeans
        self.latentLogvars = latentLogvars
        self.reverbIR = reverbIR
        self.envelopes = envelopes
        self.decoderWeights = decoderWeights
        self.encoderWeights = encoderWeights
        self.inharmonicity = inharmonicity
        self.transients = transients
        self.tone = tone
        self.motion = motion
        self.noiseHighPass = noiseHighPass
        self.controlSmoothingFromFrame = controlSmoothingFromFrame
        self.unexpectedTensorNames = unexpectedTensorNames
    }

    /// A decoder for up to `maxBatch` simultaneous voices (allocates; not real-time).
    public func makeDecoder(maxBatch: Int) -> Decoder {
        Decoder(weights: decoderWeights, maxBatch: maxBatch)
    }

    /// The timbre encoder (allocates; not real-time).
    public func makeEncoder() -> Encoder {
        Encoder(weights: encoderWeights)
    }

    /// Index of an instrument by name, if the model has it.
    public func instrumentIndex(named name: String) -> Int? {
        config.instruments.firstIndex(of: name)
    }

    /// A tensor the format requires: its name and shape.
    public struct TensorSpec: Sendable, Equatable {
        /// Tensor name in the file.
        public let name: String
        /// Shape, outermost first.
        public let shape: [Int]
    }

    /// A row-major `[rows, columns]` matrix with `extra` zero columns appended to every row.
    public static func appendingZeroColumns(_ m: [Float], rows: Int, columns: Int, extra: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * (columns + extra))
        for r in 0..<rows { out[r * (columns + extra) ..< r * (columns + extra) + columns] = m[r * columns ..< (r + 1) * columns] }
        return out
    }

    /// Every tensor `config` implies in a file of `formatVersion`, with its shape, in a fixed
    /// order (decoder, encoder, latent, reverb, envelopes).
    public static func expectedTensors(for config: ModelConfig, formatVersion: Int = formatVersion) -> [TensorSpec] {
        var specs: [TensorSpec] = []
        func add(_ name: String, _ shape: [Int]) { specs.append(TensorSpec(name: name, shape: shape)) }
        func mlp(_ prefix: String, inputs: Int, units: Int, layers: Int) {
            for i in 0..<layers {
                add("\(prefix).layers.\(i).dense.weight", [units, i == 0 ? inputs : units])
                add("\(prefix).layers.\(i).dense.bias", [units])
                add("\(prefix).layers.\(i).norm.weight", [units])
                add("\(prefix).layers.\(i).norm.bias", [units])
            }
        }
        let u = config.mlpUnits, g = config.gruUnits, l = config.mlpLayers, z = config.zDim
        let i = config.instrumentCount, p = config.envPitches.count, v = config.envVelocities.count
        mlp("decoder.f0_mlp", inputs: 1, units: u, layers: l)
        mlp("decoder.ld_mlp", inputs: 1, units: u, layers: l)
        mlp("decoder.z_mlp", inputs: z, units: u, layers: l)
        let inputs = formatVersion == 1 ? 3 : 4  // decoder MLPs feeding the GRU
        if formatVersion > 1 { mlp("decoder.note_mlp", inputs: config.noteInputCount, units: u, layers: l) }
        add("decoder.gru.weight_ih", [3 * g, inputs * u])
        add("decoder.gru.weight_hh", [3 * g, g])
        add("decoder.gru.bias_ih", [3 * g])
        add("decoder.gru.bias_hh", [3 * g])
        mlp("decoder.out_mlp", inputs: g + inputs * u, units: u, layers: l)
        add("decoder.out.weight", [config.rawCount, u])
        add("decoder.out.bias", [config.rawCount])
        mlp("encoder.mlp", inputs: config.encFeatureCount, units: config.encUnits, layers: 2)
        add("encoder.out.weight", [2 * z, config.encUnits])
        add("encoder.out.bias", [2 * z])
        add("latent.means", [i, z])
        add("latent.logvars", [i, z])
        add("reverb.ir", [config.reverbLength])
        add("envelope.hold_db", [i, p, v, config.holdFrameCount])
        add("envelope.hold_slope_db_per_s", [i, p, v])
        add("envelope.release_db", [i, p, v, config.releaseFrameCount])
        add("envelope.release_slope_db_per_s", [i, p, v])
        return specs
    }

    /// The optional tensors of the stretched partials (docs/model-format.md, "Inharmonicity"):
    /// a file has all of them or none.
    public static func inharmonicityTensors(for config: ModelConfig) -> [TensorSpec] {
        [TensorSpec(name: "inharmonicity.b", shape: [config.instrumentCount, InharmonicityTable.pitchCount]),
         TensorSpec(name: "inharmonicity.blend_scale", shape: [1])]
    }

    /// The optional stretch tuning beside them (`inharmonicity.tuning_cents`, only with them).
    public static func tuningTensor(for config: ModelConfig) -> TensorSpec {
        TensorSpec(name: "inharmonicity.tuning_cents", shape: [config.instrumentCount, InharmonicityTable.pitchCount])
    }

    /// The optional tensor of the attack transients (docs/model-format.md, "Transients"), at the
    /// envelopes' pitch and velocity anchors.
    public static func transientTensors(for config: ModelConfig) -> [TensorSpec] {
        [TensorSpec(name: "transient.amplitude", shape: [config.instrumentCount, config.envPitches.count,
                                                         config.envVelocities.count, TransientTable.frameCount,
                                                         TransientTable.bandCount])]
    }

    /// The optional tensors of the partial motion (docs/model-format.md, "Partial motion") with G
    /// groups of partials: all three or none.
    public static func motionTensors(for config: ModelConfig, groupCount: Int) -> [TensorSpec] {
        [TensorSpec(name: "motion.harmonic_edges", shape: [groupCount + 1]),
         TensorSpec(name: "motion.depth_db", shape: [config.instrumentCount, groupCount]),
         TensorSpec(name: "motion.correlation", shape: [config.instrumentCount])]
    }

    /// The tone balance's optional strike share (docs/model-format.md, "Tone balance").
    public static func toneStrikeTensor(for config: ModelConfig) -> TensorSpec {
        TensorSpec(name: "tone.strike_fraction", shape: [config.instrumentCount])
    }

    /// The tone balance's optional strike noise gain in dB (docs/model-format.md, "Tone balance").
    public static func toneStrikeNoiseTensor(for config: ModelConfig) -> TensorSpec {
        TensorSpec(name: "tone.strike_noise_db", shape: [config.instrumentCount])
    }

    /// The tone balance's optional strike top per key: [I, P_onset, V_gain] dB on everything from
    /// 6.3 kHz up at the note-on (docs/model-format.md, "Tone balance").
    public static func toneStrikeTopTensor(for config: ModelConfig, onsetPitchCount: Int?,
                                           gainVelocityCount: Int?) -> TensorSpec {
        TensorSpec(name: "tone.strike_top_db", shape: [config.instrumentCount, onsetPitchCount ?? config.envPitches.count,
                                                      gainVelocityCount ?? config.envVelocities.count])
    }

    /// The optional high-pass of the noise below the fundamental (docs/model-format.md, "Noise below
    /// the fundamental").
    public static func noiseHighPassTensor(for config: ModelConfig) -> TensorSpec {
        TensorSpec(name: "highpass.ratio", shape: [config.instrumentCount])
    }

    /// The optional control smoothing (docs/model-format.md, "Control smoothing"): the first frame
    /// whose controls are averaged with the frame before, a whole number 1…`maxControlSmoothingFrame`.
    public static func controlSmoothingTensor() -> TensorSpec {
        TensorSpec(name: "controls.smooth_from_frame", shape: [1])
    }

    /// The largest first frame of the control smoothing a file may give (10 s at 100 frames/s).
    public static let maxControlSmoothingFrame = 1000

    /// The optional smoother of the partial motion: β [I] (docs/model-format.md, "Partial motion"),
    /// only beside the motion's three.
    public static func motionSmoothingTensor(for config: ModelConfig) -> TensorSpec {
        TensorSpec(name: "motion.smoothing", shape: [config.instrumentCount])
    }

    /// The optional drift cut of the partial motion: Hz [I] (docs/model-format.md, "Partial
    /// motion"), only beside the motion's three.
    public static func motionDriftCutTensor(for config: ModelConfig) -> TensorSpec {
        TensorSpec(name: "motion.drift_cut_hz", shape: [config.instrumentCount])
    }

    /// The partial motion's optional vibrato lock (docs/model-format.md, "Partial motion"): per
    /// instrument and group of partials, the share of the motion's variance that follows the
    /// vibrato; only beside the motion and its vibrato.
    public static func motionVibratoLockTensor(for config: ModelConfig, groupCount: Int) -> TensorSpec {
        TensorSpec(name: "motion.vibrato_lock", shape: [config.instrumentCount, groupCount])
    }

    /// The vibrato lock's optional tilt (docs/model-format.md, "Partial motion"): per instrument
    /// and group, how alike its partials follow the vibrato (−1…1); only beside the lock.
    public static func motionVibratoTiltTensor(for config: ModelConfig, groupCount: Int) -> TensorSpec {
        TensorSpec(name: "motion.vibrato_tilt", shape: [config.instrumentCount, groupCount])
    }

    /// The optional vibrato of the partial motion (docs/model-format.md, "Partial motion"): both
    /// or none, only beside the motion's three; [I] (one per instrument) or, `perPitch`, [I, P] on
    /// the envelopes' pitch anchors.
    public static func motionVibratoTensors(for config: ModelConfig, perPitch: Bool = false) -> [TensorSpec] {
        let shape = perPitch ? [config.instrumentCount, config.envPitches.count] : [config.instrumentCount]
        return [TensorSpec(name: "motion.vibrato_cents", shape: shape), TensorSpec(name: "motion.vibrato_hz", shape: shape)]
    }

    /// The optional tensors of the tone balance (docs/model-format.md, "Tone balance"), at the
    /// envelopes' pitch and velocity anchors: the band gains, and the onset course (optional
    /// within the balance).
    public static func toneTensors(for config: ModelConfig) -> [TensorSpec] {
        toneTensors(for: config, onsetPitchCount: nil, onsetFrameCount: ToneTable.onsetFrameCountInFiles)
    }

    /// The tone tensors of a file whose onset course has `onsetPitchCount` pitch anchors of its
    /// own (`tone.onset_pitches`; nil: the envelopes') and `onsetFrameCount` frames.
    /// With `gainVelocityCount` (`tone.gain_velocities`' length) the band gains have velocity
    /// anchors of their own, with `gainPitchCount` (`tone.gain_pitches`' length) pitch anchors;
    /// with `onsetOnGainVelocities` the onset course is on the band gains' velocity anchors too.
    public static func toneTensors(for config: ModelConfig, onsetPitchCount: Int?, onsetFrameCount: Int,
                                   gainVelocityCount: Int? = nil, gainPitchCount: Int? = nil,
                                   onsetOnGainVelocities: Bool = false) -> [TensorSpec] {
        let cell = [config.instrumentCount, gainPitchCount ?? config.envPitches.count,
                    gainVelocityCount ?? config.envVelocities.count]
        let onsetVelocityCount = onsetOnGainVelocities ? (gainVelocityCount ?? config.envVelocities.count)
            : config.envVelocities.count
        let onsetCell = [config.instrumentCount, onsetPitchCount ?? config.envPitches.count, onsetVelocityCount]
        return [TensorSpec(name: "tone.gain_db", shape: cell + [ToneTable.bandCount]),
                TensorSpec(name: "tone.onset_db", shape: onsetCell + [onsetFrameCount])]
            + (onsetPitchCount.map { [TensorSpec(name: "tone.onset_pitches", shape: [$0])] } ?? [])
    }

    /// The optional pitch anchors of the tone balance's band gains: `tone.gain_pitches` [P_gain].
    public static func toneGainPitchTensor(count: Int) -> TensorSpec {
        TensorSpec(name: "tone.gain_pitches", shape: [count])
    }

    /// The optional velocity anchors of the tone balance's band gains: `tone.gain_velocities` [V_gain].
    public static func toneGainVelocityTensor(count: Int) -> TensorSpec {
        TensorSpec(name: "tone.gain_velocities", shape: [count])
    }

    /// The optional band course of the tone balance: `tone.course_seconds` [S] and
    /// `tone.course_db` [I, P, V, S, B] on the envelopes' pitch anchors and `velocityCount`
    /// velocity anchors (the envelopes', or the band gains' own: `tone.gain_velocities`).
    public static func toneCourseTensors(for config: ModelConfig, courseCount: Int,
                                         velocityCount: Int? = nil) -> [TensorSpec] {
        let cell = [config.instrumentCount, config.envPitches.count, velocityCount ?? config.envVelocities.count]
        return [TensorSpec(name: "tone.course_seconds", shape: [courseCount]),
                TensorSpec(name: "tone.course_db", shape: cell + [courseCount, ToneTable.bandCount])]
    }
}
