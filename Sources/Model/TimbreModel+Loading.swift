import Foundation
import Inference
import ModelCore

/// Loading: reads a safetensors file and checks it against the format (docs/model-format.md).
extension TimbreModel {
    /// Loads and validates the model file at `path`.
    public init(contentsOf path: String) throws(ModelError) {
        try self.init(file: SafetensorsFile(path: path))
    }

    /// Loads and validates a model from the bytes of a file; `path` is used in messages.
    public init(path: String, bytes: Data) throws(ModelError) {
        try self.init(file: SafetensorsFile(path: path, bytes: bytes))
    }

    /// Validates an already parsed safetensors file as a model.
    public init(file: SafetensorsFile) throws(ModelError) {
        let path = file.path
        let meta = file.metadata
        guard meta["format"] == Self.formatName else { throw .wrongFormat(path: path, found: meta["format"]) }
        guard let version = meta["format_version"] else {
            throw .unknownFormatVersion(path: path, found: nil, supported: Self.formatVersion)
        }
        guard let fileVersion = Int(version.trimmingCharacters(in: .whitespaces)),
              (Self.oldestFormatVersion...Self.formatVersion).contains(fileVersion) else {
            throw .unknownFormatVersion(path: path, found: version, supported: Self.formatVersion)
        }
        guard let configText = meta["config"] else { throw .missingMetadata(path: path, key: "config") }
        let config = try ModelConfig(json: configText, path: path)
        guard let scaleText = meta["envelope_blend_scale"] else {
            throw .missingMetadata(path: path, key: "envelope_blend_scale")
        }
        guard let scale = Double(scaleText.trimmingCharacters(in: .whitespaces)), scale.isFinite, scale > 0 else {
            throw .badMetadata(path: path, key: "envelope_blend_scale",
                               reason: "expected a positive number, found \"\(scaleText)\"")
        }

        let blendRule: LatentBlendRule
        if let ruleText = meta["envelope_blend"] {
            guard let rule = LatentBlendRule(rawValue: ruleText.trimmingCharacters(in: .whitespaces)) else {
                throw .badMetadata(path: path, key: "envelope_blend",
                                   reason: "expected \"gaussian\" or \"inverse_distance\", found \"\(ruleText)\"")
            }
            blendRule = rule
        } else {
            blendRule = .gaussian
        }

        /// One tensor of the documented name, dtype F32, shape and finite values, else the error
        /// naming it; `inRange` rejects the first value it returns false for, with `what`.
        func checked(_ spec: TensorSpec, inRange: (Float) -> Bool = { _ in true },
                     what: String = "") throws(ModelError) -> [Float] {
            guard let info = file.tensors[spec.name] else { throw .missingTensor(path: path, name: spec.name) }
            guard info.dtype == "F32" else { throw .wrongDType(path: path, name: spec.name, found: info.dtype) }
            guard info.shape == spec.shape else {
                throw .wrongShape(path: path, name: spec.name, expected: spec.shape, found: info.shape)
            }
            let v = try file.floats(spec.name)
            if let bad = v.firstIndex(where: { !$0.isFinite }) {
                throw .nonFinite(path: path, name: spec.name, index: bad)
            }
            if let bad = v.firstIndex(where: { !inRange($0) }) {
                throw .badTensorData(path: path, name: spec.name,
                                     reason: "value \(v[bad]) at flat index \(bad) is out of range (\(what))")
            }
            return v
        }
        // Read every expected tensor, in the documented order, checking as we go.
        let specs = Self.expectedTensors(for: config, formatVersion: fileVersion)
        var values: [String: [Float]] = [:]
        for spec in specs { values[spec.name] = try checked(spec) }
        // the optional stretched partials: all of their tensors or none
        let optional = Self.inharmonicityTensors(for: config)
        let present = optional.filter { file.tensors[$0.name] != nil }
        if !present.isEmpty {
            for spec in optional {
                values[spec.name] = spec.name == "inharmonicity.blend_scale"
                    ? try checked(spec, inRange: { $0 > 0 }, what: "scale > 0")
                    : try checked(spec, inRange: { $0 >= 0 }, what: "B ≥ 0")
            }
        }
        // the optional stretch tuning: only beside them
        let tuningSpec = Self.tuningTensor(for: config)
        if file.tensors[tuningSpec.name] != nil {
            if present.isEmpty {
                throw .badTensorData(path: path, name: tuningSpec.name,
                                     reason: "a stretch tuning without inharmonicity.b and inharmonicity.blend_scale")
            }
            let limit = InharmonicityTable.largestTuningCents
            values[tuningSpec.name] = try checked(tuningSpec, inRange: { abs($0) <= limit }, what: "|cents| ≤ \(Int(limit))")
        }
        // the optional attack transients
        let transientSpecs = file.tensors["transient.amplitude"] == nil ? [] : Self.transientTensors(for: config)
        for spec in transientSpecs { values[spec.name] = try checked(spec, inRange: { $0 >= 0 }, what: "amplitude ≥ 0") }
        // the optional tone balance
        // (the onset course on pitch anchors of its own, with its own frame count, when the file
        // has `tone.onset_pitches`: its shape gives P_onset, `tone.onset_db`'s last axis T)
        let onsetPitchCount = file.tensors["tone.onset_pitches"].map { $0.shape.count == 1 ? $0.shape[0] : 0 }
        if onsetPitchCount == 0 {
            throw .badTensorData(path: path, name: "tone.onset_pitches", reason: "expected one axis of at least 2 pitches")
        }
        let fileOnsetFrames = file.tensors["tone.onset_db"]?.shape.last ?? 0
        let onsetFrames = onsetPitchCount != nil && (1...ToneTable.largestOnsetFrameCount).contains(fileOnsetFrames)
            ? fileOnsetFrames : ToneTable.onsetFrameCountInFiles
        // (the band gains on velocity anchors of their own when the file has `tone.gain_velocities`)
        let gainVelocityCount = file.tensors["tone.gain_velocities"].map { $0.shape.count == 1 ? $0.shape[0] : 0 }
        if let count = gainVelocityCount, count < 2 {
            throw .badTensorData(path: path, name: "tone.gain_velocities", reason: "expected one axis of at least 2 velocities")
        }
        // (and on pitch anchors of their own when it has `tone.gain_pitches`)
        let gainPitchCount = file.tensors["tone.gain_pitches"].map { $0.shape.count == 1 ? $0.shape[0] : 0 }
        if let count = gainPitchCount, count < 2 {
            throw .badTensorData(path: path, name: "tone.gain_pitches", reason: "expected one axis of at least 2 pitches")
        }
        // (a course table's velocity axis is the band gains' own anchors when it has as many and
        // they are not the envelopes' count: a course set at the velocity layers too)
        func onGainVelocities(_ name: String) -> Bool {
            gainVelocityCount != nil && file.tensors[name]?.shape.dropFirst(2).first == gainVelocityCount
                && gainVelocityCount != config.envVelocities.count
        }
        // (the onset course so, with pitch anchors of its own: session 34)
        let onsetOnGainVelocities = onsetPitchCount != nil && onGainVelocities("tone.onset_db")
        let toneSpecs = file.tensors["tone.gain_db"] == nil ? []
            : Self.toneTensors(for: config, onsetPitchCount: onsetPitchCount, onsetFrameCount: onsetFrames,
                               gainVelocityCount: gainVelocityCount, gainPitchCount: gainPitchCount,
                               onsetOnGainVelocities: onsetOnGainVelocities)
                .filter { file.tensors[$0.name] != nil || $0.name == "tone.gain_db" }
        for spec in toneSpecs where spec.name != "tone.onset_pitches" {
            values[spec.name] = try checked(spec, inRange: { abs($0) <= ToneTable.largestGainDB },
                                            what: "|gain| ≤ \(Int(ToneTable.largestGainDB)) dB")
        }
        var onsetPitchAnchors: [Double]?
        if let spec = toneSpecs.first(where: { $0.name == "tone.onset_pitches" }) {
            let p = try checked(spec, inRange: { (0...127).contains($0) }, what: "a MIDI pitch 0…127")
            if p.count < 2 || zip(p, p.dropFirst()).contains(where: { $0 >= $1 }) {
                throw .badTensorData(path: path, name: spec.name, reason: "expected at least 2 increasing pitches")
            }
            if values["tone.onset_db"] == nil {
                throw .missingTensor(path: path, name: "tone.onset_db")
            }
            onsetPitchAnchors = p.map(Double.init)
        }
        // the band gains' own velocity and pitch anchors: MIDI values, increasing, beside the band gains
        func gainAnchors(_ spec: TensorSpec, noun: String, plural: String) throws(ModelError) -> [Double] {
            guard !toneSpecs.isEmpty else { throw .missingTensor(path: path, name: "tone.gain_db") }
            let a = try checked(spec, inRange: { (0...127).contains($0) }, what: "a MIDI \(noun) 0…127")
            if zip(a, a.dropFirst()).contains(where: { $0 >= $1 }) {
                throw .badTensorData(path: path, name: spec.name, reason: "expected increasing \(plural)")
            }
            return a.map(Double.init)
        }
        var gainVelocityAnchors: [Double]?
        if let count = gainVelocityCount {
            gainVelocityAnchors = try gainAnchors(Self.toneGainVelocityTensor(count: count), noun: "velocity",
                                                  plural: "velocities")
        }
        var gainPitchAnchors: [Double]?
        if let count = gainPitchCount {
            gainPitchAnchors = try gainAnchors(Self.toneGainPitchTensor(count: count), noun: "pitch", plural: "pitches")
        }
        // the optional band course of the tone balance: both tensors or none, S from the times'
        // length, only beside the band gains
        var courseSeconds: [Double] = []
        var courseOnGainVelocities = false
        if file.tensors["tone.course_seconds"] != nil || file.tensors["tone.course_db"] != nil {
            guard let times = file.tensors["tone.course_seconds"] else {
                throw .missingTensor(path: path, name: "tone.course_seconds")
            }
            guard file.tensors["tone.course_db"] != nil else { throw .missingTensor(path: path, name: "tone.course_db") }
            guard !toneSpecs.isEmpty else { throw .missingTensor(path: path, name: "tone.gain_db") }
            let count = times.shape.count == 1 ? times.shape[0] : 0
            guard (1...ToneTable.largestCourseCount).contains(count) else {
                throw .badTensorData(path: path, name: "tone.course_seconds",
                                     reason: "expected one axis of 1…\(ToneTable.largestCourseCount) times")
            }
            // its velocity axis: the band gains' own anchors when it has as many (a course
            // measured at the velocity layers too, session 22), else the envelopes'
            courseOnGainVelocities = onGainVelocities("tone.course_db")
            let courseSpecs = Self.toneCourseTensors(for: config, courseCount: count,
                                                     velocityCount: courseOnGainVelocities ? gainVelocityCount : nil)
            let t = try checked(courseSpecs[0], inRange: { $0 >= 0 && $0 <= 3600 }, what: "seconds 0…3600")
            if zip(t, t.dropFirst()).contains(where: { $0 >= $1 }) {
                throw .badTensorData(path: path, name: "tone.course_seconds", reason: "expected increasing times")
            }
            courseSeconds = t.map(Double.init)
            values["tone.course_db"] = try checked(courseSpecs[1], inRange: { abs($0) <= ToneTable.largestGainDB },
                                                   what: "|gain| ≤ \(Int(ToneTable.largestGainDB)) dB")
        }
        // the optional partial motion: its three tensors or none; G from the edges' length
        let motionGroups = (file.tensors["motion.harmonic_edges"]?.shape.first).map { $0 - 1 }
        var motionEdges: [Int]?
        if file.tensors["motion.depth_db"] != nil || file.tensors["motion.correlation"] != nil || motionGroups != nil {
            guard let groups = motionGroups, groups >= 1 else {
                throw .missingTensor(path: path, name: "motion.harmonic_edges")
            }
            let motionSpecs = Self.motionTensors(for: config, groupCount: groups)
            let e = try checked(motionSpecs[0],
                                inRange: { $0 >= 1 && $0 <= 65536 && $0 == $0.rounded() }, what: "a partial number 1…65536")
            if e[0] != 1 || zip(e, e.dropFirst()).contains(where: { $0 >= $1 }) {
                throw .badTensorData(path: path, name: "motion.harmonic_edges",
                                     reason: "expected increasing partial numbers starting at 1")
            }
            motionEdges = e.map { Int($0) }
            values["motion.depth_db"] = try checked(motionSpecs[1],
                                                    inRange: { $0 >= 0 && $0 <= PartialMotionTable.maxDepthDB },
                                                    what: "0…\(Int(PartialMotionTable.maxDepthDB)) dB")
            values["motion.correlation"] = try checked(motionSpecs[2],
                                                       inRange: { $0 >= 0 && $0 < 1 }, what: "0 ≤ correlation < 1")
        }
        // its optional vibrato: both tensors or none, only beside the motion; one per instrument
        // or, two axes, one per instrument and pitch anchor
        let vibratoPerPitch = file.tensors["motion.vibrato_cents"]?.shape.count == 2
        let vibratoSpecs = Self.motionVibratoTensors(for: config, perPitch: vibratoPerPitch)
        var hasVibrato = false
        if vibratoSpecs.contains(where: { file.tensors[$0.name] != nil }) {
            guard motionEdges != nil else { throw .missingTensor(path: path, name: "motion.harmonic_edges") }
            for spec in vibratoSpecs where file.tensors[spec.name] == nil {
                throw .missingTensor(path: path, name: spec.name)
            }
            values["motion.vibrato_cents"] = try checked(
                vibratoSpecs[0], inRange: { $0 >= 0 && $0 <= PartialMotionTable.maxVibratoCents },
                what: "0…\(Int(PartialMotionTable.maxVibratoCents)) cents")
            values["motion.vibrato_hz"] = try checked(
                vibratoSpecs[1], inRange: { $0 >= 0 && $0 <= PartialMotionTable.maxVibratoHz },
                what: "0…\(Int(PartialMotionTable.maxVibratoHz)) Hz")
            hasVibrato = true
        }
        // its optional smoother, only beside the motion
        let smoothingSpec = Self.motionSmoothingTensor(for: config)
        if file.tensors[smoothingSpec.name] != nil {
            guard motionEdges != nil else { throw .missingTensor(path: path, name: "motion.harmonic_edges") }
            values[smoothingSpec.name] = try checked(
                smoothingSpec, inRange: { $0 >= 0 && $0 <= PartialMotionTable.maxSmoothing },
                what: "0…\(PartialMotionTable.maxSmoothing)")
        }
        // its optional drift cut, only beside the motion
        let driftCutSpec = Self.motionDriftCutTensor(for: config)
        if file.tensors[driftCutSpec.name] != nil {
            guard motionEdges != nil else { throw .missingTensor(path: path, name: "motion.harmonic_edges") }
            values[driftCutSpec.name] = try checked(
                driftCutSpec, inRange: { $0 >= 0 && $0 <= PartialMotionTable.maxDriftCutHz },
                what: "0…\(Int(PartialMotionTable.maxDriftCutHz)) Hz")
        }
        // its optional vibrato lock, only beside the motion and its vibrato
        let lockSpec = Self.motionVibratoLockTensor(for: config, groupCount: motionGroups ?? 1)
        if file.tensors[lockSpec.name] != nil {
            guard motionEdges != nil else { throw .missingTensor(path: path, name: "motion.harmonic_edges") }
            guard hasVibrato else { throw .missingTensor(path: path, name: "motion.vibrato_cents") }
            values[lockSpec.name] = try checked(lockSpec, inRange: { $0 >= 0 && $0 <= 1 }, what: "a share 0…1")
        }
        // and its optional tilt, only beside the lock
        let tiltSpec = Self.motionVibratoTiltTensor(for: config, groupCount: motionGroups ?? 1)
        if file.tensors[tiltSpec.name] != nil {
            guard values[lockSpec.name] != nil else { throw .missingTensor(path: path, name: lockSpec.name) }
            values[tiltSpec.name] = try checked(tiltSpec, inRange: { abs($0) <= 1 }, what: "a tilt −1…1")
        }
        // the tone balance's optional strike share, only beside the band gains
        let strikeSpec = Self.toneStrikeTensor(for: config)
        if file.tensors[strikeSpec.name] != nil {
            guard !toneSpecs.isEmpty else { throw .missingTensor(path: path, name: "tone.gain_db") }
            values[strikeSpec.name] = try checked(strikeSpec, inRange: { $0 >= 0 && $0 <= 1 }, what: "a share 0…1")
        }
        // and the strike's optional noise gain, only beside the band gains
        let strikeNoiseSpec = Self.toneStrikeNoiseTensor(for: config)
        if file.tensors[strikeNoiseSpec.name] != nil {
            guard !toneSpecs.isEmpty else { throw .missingTensor(path: path, name: "tone.gain_db") }
            values[strikeNoiseSpec.name] = try checked(
                strikeNoiseSpec, inRange: { abs($0) <= ToneTable.strikeGainLimitDB },
                what: "a gain within ±\(Int(ToneTable.strikeGainLimitDB)) dB")
        }
        // and the strike's optional top per key and velocity, only beside the band gains
        let strikeTopSpec = Self.toneStrikeTopTensor(for: config, onsetPitchCount: onsetPitchCount,
                                                     gainVelocityCount: gainVelocityCount)
        if file.tensors[strikeTopSpec.name] != nil {
            guard !toneSpecs.isEmpty else { throw .missingTensor(path: path, name: "tone.gain_db") }
            values[strikeTopSpec.name] = try checked(
                strikeTopSpec, inRange: { abs($0) <= ToneTable.strikeGainLimitDB },
                what: "a gain within ±\(Int(ToneTable.strikeGainLimitDB)) dB")
        }
        // the optional high-pass of the noise below the fundamental
        let highPassSpec = Self.noiseHighPassTensor(for: config)
        if file.tensors[highPassSpec.name] != nil {
            values[highPassSpec.name] = try checked(
                highPassSpec, inRange: { $0 >= 0 && $0 <= NoiseHighPassTable.maxRatio },
                what: "a ratio of f0 0…\(Int(NoiseHighPassTable.maxRatio))")
        }
        // the optional control smoothing from a frame on
        let smoothingFromSpec = Self.controlSmoothingTensor()
        if file.tensors[smoothingFromSpec.name] != nil {
            values[smoothingFromSpec.name] = try checked(
                smoothingFromSpec,
                inRange: { $0 >= 1 && $0 <= Float(Self.maxControlSmoothingFrame) && $0 == $0.rounded() },
                what: "a whole frame number 1…\(Self.maxControlSmoothingFrame)")
        }
        let motionNames: Set<String> = motionEdges == nil ? []
            : Set(["motion.harmonic_edges", "motion.depth_db", "motion.correlation"]
                  + (hasVibrato ? vibratoSpecs.map(\.name) : [])
                  + (values[smoothingSpec.name] == nil ? [] : [smoothingSpec.name])
                  + (values[driftCutSpec.name] == nil ? [] : [driftCutSpec.name])
                  + (values[lockSpec.name] == nil ? [] : [lockSpec.name])
                  + (values[tiltSpec.name] == nil ? [] : [tiltSpec.name]))
        let known = Set(specs.map(\.name)).union(present.isEmpty ? [] : optional.map(\.name))
            .union(transientSpecs.map(\.name)).union(toneSpecs.map(\.name)).union(motionNames)
            .union(courseSeconds.isEmpty ? [] : ["tone.course_seconds", "tone.course_db"])
            .union(gainVelocityAnchors == nil ? [] : ["tone.gain_velocities"])
            .union(gainPitchAnchors == nil ? [] : ["tone.gain_pitches"])
            .union(values[highPassSpec.name] == nil ? [] : [highPassSpec.name])
            .union(values[strikeSpec.name] == nil ? [] : [strikeSpec.name])
            .union(values[strikeNoiseSpec.name] == nil ? [] : [strikeNoiseSpec.name])
            .union(values[strikeTopSpec.name] == nil ? [] : [strikeTopSpec.name])
            .union(values[tuningSpec.name] == nil ? [] : [tuningSpec.name])
            .union(values[smoothingFromSpec.name] == nil ? [] : [smoothingFromSpec.name])
        let unexpectedTensorNames = file.tensors.keys.filter { !known.contains($0) }.sorted()

        let u = config.mlpUnits, g = config.gruUnits, l = config.mlpLayers, z = config.zDim
        if fileVersion == 1 {
            // no note input: a note MLP of zeros (its output is 0 after layer norm with beta 0)
            // and zero input columns where the GRU and the output MLP read it
            let n = config.noteInputCount
            for i in 0..<l {
                let prefix = "decoder.note_mlp.layers.\(i)"
                values[prefix + ".dense.weight"] = [Float](repeating: 0, count: u * (i == 0 ? n : u))
                values[prefix + ".dense.bias"] = [Float](repeating: 0, count: u)
                values[prefix + ".norm.weight"] = [Float](repeating: 1, count: u)
                values[prefix + ".norm.bias"] = [Float](repeating: 0, count: u)
            }
            values["decoder.gru.weight_ih"] = Self.appendingZeroColumns(values["decoder.gru.weight_ih"]!, rows: 3 * g,
                                                                         columns: 3 * u, extra: u)
            values["decoder.out_mlp.layers.0.dense.weight"] = Self.appendingZeroColumns(
                values["decoder.out_mlp.layers.0.dense.weight"]!, rows: u, columns: g + 3 * u, extra: u)
        }
        func t(_ name: String) -> [Float] { values[name]! }
        let slope = Float(config.leakyReLUSlope), eps = Float(config.layerNormEpsilon)
        func dense(_ prefix: String, inputs: Int, outputs: Int) -> DenseWeights {
            DenseWeights(inputCount: inputs, outputCount: outputs, weight: t(prefix + ".weight"), bias: t(prefix + ".bias"))
        }
        func mlp(_ prefix: String, inputs: Int, units: Int, layers: Int) -> MLPWeights {
            MLPWeights(layers: (0..<layers).map { i in
                MLPLayerWeights(dense: dense("\(prefix).layers.\(i).dense", inputs: i == 0 ? inputs : units, outputs: units),
                                norm: LayerNormWeights(gamma: t("\(prefix).layers.\(i).norm.weight"),
                                                       beta: t("\(prefix).layers.\(i).norm.bias")))
            }, leakyReLUSlope: slope, layerNormEpsilon: eps)
        }
        let gru = GRUWeights(
            inputToHidden: DenseWeights(inputCount: 4 * u, outputCount: 3 * g,
                                        weight: t("decoder.gru.weight_ih"), bias: t("decoder.gru.bias_ih")),
            hiddenToHidden: DenseWeights(inputCount: g, outputCount: 3 * g,
                                         weight: t("decoder.gru.weight_hh"), bias: t("decoder.gru.bias_hh")))
        let decoderWeights = DecoderWeights(
            f0MLP: mlp("decoder.f0_mlp", inputs: 1, units: u, layers: l),
            loudnessMLP: mlp("decoder.ld_mlp", inputs: 1, units: u, layers: l),
            zMLP: mlp("decoder.z_mlp", inputs: z, units: u, layers: l),
            noteMLP: mlp("decoder.note_mlp", inputs: config.noteInputCount, units: u, layers: l),
            gru: gru,
            outMLP: mlp("decoder.out_mlp", inputs: g + 4 * u, units: u, layers: l),
            out: dense("decoder.out", inputs: u, outputs: config.rawCount),
            dbRange: Float(config.dbRange),
            noteOnTausSeconds: config.noteOnTausSeconds.map(Float.init),
            noteOffTausSeconds: config.noteOffTausSeconds.map(Float.init))
        let encoderWeights = EncoderWeights(
            mlp: mlp("encoder.mlp", inputs: config.encFeatureCount, units: config.encUnits, layers: 2),
            out: dense("encoder.out", inputs: config.encUnits, outputs: 2 * z))

        let means = t("latent.means"), logvars = t("latent.logvars")
        let n = config.instrumentCount
        let latentMeans = (0..<n).map { Array(means[$0 * z ..< ($0 + 1) * z]) }
        let latentLogvars = (0..<n).map { Array(logvars[$0 * z ..< ($0 + 1) * z]) }
        let reverbIR = t("reverb.ir")
        let envelopes = EnvelopeTables(
            instrumentCount: n, zDim: z, pitchAnchors: config.envPitches, velocityAnchors: config.envVelocities,
            frameRateHz: Double(config.frameRate), holdFrameCount: config.holdFrameCount,
            releaseFrameCount: config.releaseFrameCount,
            holdDB: t("envelope.hold_db"), holdSlopeDBPerSecond: t("envelope.hold_slope_db_per_s"),
            releaseDB: t("envelope.release_db"), releaseSlopeDBPerSecond: t("envelope.release_slope_db_per_s"),
            latentMeans: means, blendScale: scale, blendRule: blendRule)
        let inharmonicity = present.isEmpty ? nil : InharmonicityTable(
            instrumentCount: n, zDim: z, values: t("inharmonicity.b"), latentMeans: means,
            blendScale: Double(t("inharmonicity.blend_scale")[0]), blendRule: blendRule,
            tuningCents: values[tuningSpec.name])
        let transients = transientSpecs.isEmpty ? nil : TransientTable(
            instrumentCount: n, zDim: z, pitchAnchors: config.envPitches, velocityAnchors: config.envVelocities,
            amplitude: t("transient.amplitude"), latentMeans: means, blendScale: scale, blendRule: blendRule)
        let tone = toneSpecs.isEmpty ? nil : ToneTable(
            instrumentCount: n, zDim: z, pitchAnchors: config.envPitches, velocityAnchors: config.envVelocities,
            gainDB: t("tone.gain_db"), onsetDB: values["tone.onset_db"] ?? [], onsetPitchAnchors: onsetPitchAnchors,
            onsetFrameRateHz: Double(config.frameRate),
            courseSeconds: courseSeconds, courseDB: values["tone.course_db"] ?? [], gainVelocityAnchors: gainVelocityAnchors,
            gainPitchAnchors: gainPitchAnchors, courseOnGainVelocities: courseOnGainVelocities,
            onsetOnGainVelocities: onsetOnGainVelocities,
            strikeFraction: values[strikeSpec.name] ?? [], strikeNoiseDB: values[strikeNoiseSpec.name] ?? [],
            strikeTopDB: values[strikeTopSpec.name] ?? [], latentMeans: means, blendScale: scale, blendRule: blendRule)
        let motion = motionEdges.map { edges in
            PartialMotionTable(instrumentCount: n, zDim: z, harmonicEdges: edges, depthDB: t("motion.depth_db"),
                               correlation: t("motion.correlation"), vibratoCents: values["motion.vibrato_cents"] ?? [],
                               vibratoHz: values["motion.vibrato_hz"] ?? [],
                               vibratoPitchAnchors: hasVibrato && vibratoPerPitch ? config.envPitches : [],
                               smoothing: values[smoothingSpec.name] ?? [], vibratoLock: values[lockSpec.name] ?? [],
                               vibratoTilt: values[tiltSpec.name] ?? [], driftCutHz: values[driftCutSpec.name] ?? [],
                               latentMeans: means, blendScale: scale, blendRule: blendRule)
        }
        let noiseHighPass = values[highPassSpec.name].map {
            NoiseHighPassTable(instrumentCount: n, zDim: z, ratios: $0, latentMeans: means, blendScale: scale,
                               blendRule: blendRule)
        }
        self.init(path: path, formatVersion: fileVersion, config: config, metadata: meta, envelopeBlendScale: scale,
                  latentMeans: latentMeans, latentLogvars: latentLogvars, reverbIR: reverbIR, envelopes: envelopes,
                  decoderWeights: decoderWeights, encoderWeights: encoderWeights, inharmonicity: inharmonicity,
                  transients: transients, tone: tone, motion: motion, noiseHighPass: noiseHighPass,
                  controlSmoothingFromFrame: values[smoothingFromSpec.name].map { Int($0[0]) },
                  unexpectedTensorNames: unexpectedTensorNames)
    }
}
