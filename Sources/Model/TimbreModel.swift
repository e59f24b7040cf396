import Foundation
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
    /// Tensors in the file that the format does not define (ignored).
    public let unexpectedTensorNames: [String]

    /// Instrument names in latent component order.
    public var instrumentNames: [String] { config.instruments }

    /// The control scaling of this model (K, B, noise bias, band limit).
    public var controlScaler: ControlScaler {
        ControlScaler(harmonicCount: config.harmonicCount, noiseBandCount: config.noiseBandCount,
                      noiseBias: Float(config.noiseBias), bandLimitHz: Float(config.bandLimitHz))
    }

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

        // Read every expected tensor, in the documented order, checking as we go.
        let specs = Self.expectedTensors(for: config, formatVersion: fileVersion)
        var values: [String: [Float]] = [:]
        for spec in specs {
            guard let info = file.tensors[spec.name] else { throw .missingTensor(path: path, name: spec.name) }
            guard info.dtype == "F32" else { throw .wrongDType(path: path, name: spec.name, found: info.dtype) }
            guard info.shape == spec.shape else {
                throw .wrongShape(path: path, name: spec.name, expected: spec.shape, found: info.shape)
            }
            let v = try file.floats(spec.name)
            if let bad = v.firstIndex(where: { !$0.isFinite }) {
                throw .nonFinite(path: path, name: spec.name, index: bad)
            }
            values[spec.name] = v
        }
        let known = Set(specs.map(\.name))
        unexpectedTensorNames = file.tensors.keys.filter { !known.contains($0) }.sorted()

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
        decoderWeights = DecoderWeights(
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
        encoderWeights = EncoderWeights(
            mlp: mlp("encoder.mlp", inputs: config.encFeatureCount, units: config.encUnits, layers: 2),
            out: dense("encoder.out", inputs: config.encUnits, outputs: 2 * z))

        let means = t("latent.means"), logvars = t("latent.logvars")
        let n = config.instrumentCount
        latentMeans = (0..<n).map { Array(means[$0 * z ..< ($0 + 1) * z]) }
        latentLogvars = (0..<n).map { Array(logvars[$0 * z ..< ($0 + 1) * z]) }
        reverbIR = t("reverb.ir")
        envelopes = EnvelopeTables(
            instrumentCount: n, zDim: z, pitchAnchors: config.envPitches, velocityAnchors: config.envVelocities,
            frameRateHz: Double(config.frameRate), holdFrameCount: config.holdFrameCount,
            releaseFrameCount: config.releaseFrameCount,
            holdDB: t("envelope.hold_db"), holdSlopeDBPerSecond: t("envelope.hold_slope_db_per_s"),
            releaseDB: t("envelope.release_db"), releaseSlopeDBPerSecond: t("envelope.release_slope_db_per_s"),
            latentMeans: means, blendScale: scale)
        self.path = path
        self.formatVersion = fileVersion
        self.config = config
        self.metadata = meta
        self.provenance = meta["provenance"]
        self.envelopeBlendScale = scale
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
    static func appendingZeroColumns(_ m: [Float], rows: Int, columns: Int, extra: Int) -> [Float] {
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
}
