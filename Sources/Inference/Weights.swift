// Plain weight containers: what the model file holds, in the shapes the format defines.
// The runtime layers (DenseLayer, MLP, GRULayer, Decoder, Encoder) pack them for evaluation.

/// Weights of a dense layer `y = W x + b`: `weight` is `[outputCount, inputCount]` row-major,
/// `bias` is `[outputCount]`.
public struct DenseWeights: Sendable, Equatable {
    /// Number of inputs (columns of `weight`).
    public let inputCount: Int
    /// Number of outputs (rows of `weight`, length of `bias`).
    public let outputCount: Int
    /// Row-major `[outputCount, inputCount]`.
    public let weight: [Float]
    /// `[outputCount]`.
    public let bias: [Float]

    /// Wraps weights of the given shape; the array lengths must match it.
    public init(inputCount: Int, outputCount: Int, weight: [Float], bias: [Float]) {
        precondition(inputCount > 0 && outputCount > 0, "DenseWeights: empty layer")
        precondition(weight.count == inputCount * outputCount, "DenseWeights: weight count does not match the shape")
        precondition(bias.count == outputCount, "DenseWeights: bias count does not match the shape")
        self.inputCount = inputCount
        self.outputCount = outputCount
        self.weight = weight
        self.bias = bias
    }
}

/// Weights of a layer norm: `gamma` (`.weight`) and `beta` (`.bias`), both `[units]`.
public struct LayerNormWeights: Sendable, Equatable {
    /// Scale, `[units]`.
    public let gamma: [Float]
    /// Offset, `[units]`.
    public let beta: [Float]

    /// Wraps a layer norm's parameters; both arrays have the same length.
    public init(gamma: [Float], beta: [Float]) {
        precondition(gamma.count == beta.count && !gamma.isEmpty, "LayerNormWeights: gamma and beta differ in length")
        self.gamma = gamma
        self.beta = beta
    }
}

/// One MLP layer: `LeakyReLU(LayerNorm(Dense(x)))`.
public struct MLPLayerWeights: Sendable, Equatable {
    /// The dense part.
    public let dense: DenseWeights
    /// The layer norm over the dense outputs.
    public let norm: LayerNormWeights

    /// Pairs a dense layer with its layer norm (of the dense layer's output width).
    public init(dense: DenseWeights, norm: LayerNormWeights) {
        precondition(norm.gamma.count == dense.outputCount, "MLPLayerWeights: norm width differs from dense outputs")
        self.dense = dense
        self.norm = norm
    }
}

/// A stack of MLP layers with the activation parameters they share.
public struct MLPWeights: Sendable, Equatable {
    /// The layers, applied in order.
    public let layers: [MLPLayerWeights]
    /// Slope of the leaky ReLU for negative inputs.
    public let leakyReLUSlope: Float
    /// Layer norm epsilon.
    public let layerNormEpsilon: Float

    /// Input width of the first layer.
    public var inputCount: Int { layers[0].dense.inputCount }
    /// Output width of the last layer.
    public var outputCount: Int { layers[layers.count - 1].dense.outputCount }

    /// Wraps a non-empty chain of layers whose widths connect.
    public init(layers: [MLPLayerWeights], leakyReLUSlope: Float, layerNormEpsilon: Float) {
        precondition(!layers.isEmpty, "MLPWeights: no layers")
        for i in 1..<max(1, layers.count) {
            precondition(layers[i].dense.inputCount == layers[i - 1].dense.outputCount,
                         "MLPWeights: layer widths do not connect")
        }
        self.layers = layers
        self.leakyReLUSlope = leakyReLUSlope
        self.layerNormEpsilon = layerNormEpsilon
    }
}

/// Weights of a single-layer GRU in PyTorch layout, gate order r, z, n along the first axis.
public struct GRUWeights: Sendable, Equatable {
    /// Input-to-hidden, `[3G, inputCount]` with bias `[3G]`.
    public let inputToHidden: DenseWeights
    /// Hidden-to-hidden, `[3G, G]` with bias `[3G]`.
    public let hiddenToHidden: DenseWeights

    /// Input width.
    public var inputCount: Int { inputToHidden.inputCount }
    /// State size G.
    public var units: Int { hiddenToHidden.inputCount }

    /// Wraps the two matrices; `hiddenToHidden` must be `[3G, G]` and `inputToHidden` `[3G, in]`.
    public init(inputToHidden: DenseWeights, hiddenToHidden: DenseWeights) {
        let g = hiddenToHidden.inputCount
        precondition(hiddenToHidden.outputCount == 3 * g, "GRUWeights: weight_hh must be [3G, G]")
        precondition(inputToHidden.outputCount == 3 * g, "GRUWeights: weight_ih must be [3G, in]")
        self.inputToHidden = inputToHidden
        self.hiddenToHidden = hiddenToHidden
    }
}

/// Everything the decoder network needs (docs/model-format.md, "Decoder").
public struct DecoderWeights: Sendable, Equatable {
    /// `decoder.f0_mlp`: 1 → U.
    public let f0MLP: MLPWeights
    /// `decoder.ld_mlp`: 1 → U.
    public let loudnessMLP: MLPWeights
    /// `decoder.z_mlp`: Z → U.
    public let zMLP: MLPWeights
    /// `decoder.note_mlp`: N → U (the note input, docs/model-format.md "Note input").
    public let noteMLP: MLPWeights
    /// `decoder.gru`: 4U → G.
    public let gru: GRUWeights
    /// `decoder.out_mlp`: G + 4U → U.
    public let outMLP: MLPWeights
    /// `decoder.out`: U → 1 + K + B.
    public let out: DenseWeights
    /// Loudness input scaling: `ld_scaled = loudness_db / dbRange + 1`.
    public let dbRange: Float
    /// Time constants (s) of the note input's note-on features, `exp(-t_on / tau)`.
    public let noteOnTausSeconds: [Float]
    /// Time constants (s) of the note input's note-off features, `released · exp(-t_off / tau)`.
    public let noteOffTausSeconds: [Float]

    /// MLP width U.
    public var units: Int { f0MLP.outputCount }
    /// GRU state size G (floats of state per voice).
    public var gruUnits: Int { gru.units }
    /// Latent size Z.
    public var zDim: Int { zMLP.inputCount }
    /// Raw outputs per frame, 1 + K + B.
    public var rawCount: Int { out.outputCount }
    /// Note input features per frame, N.
    public var noteInputCount: Int { noteMLP.inputCount }

    /// Wraps the decoder's parts, checking that their widths connect as the format defines.
    public init(f0MLP: MLPWeights, loudnessMLP: MLPWeights, zMLP: MLPWeights, noteMLP: MLPWeights, gru: GRUWeights,
                outMLP: MLPWeights, out: DenseWeights, dbRange: Float, noteOnTausSeconds: [Float],
                noteOffTausSeconds: [Float]) {
        let u = f0MLP.outputCount
        precondition(f0MLP.inputCount == 1 && loudnessMLP.inputCount == 1, "DecoderWeights: f0/ld MLPs take 1 input")
        precondition(loudnessMLP.outputCount == u && zMLP.outputCount == u && noteMLP.outputCount == u,
                     "DecoderWeights: MLP widths differ")
        precondition(noteMLP.inputCount == 2 + noteOnTausSeconds.count + noteOffTausSeconds.count,
                     "DecoderWeights: note_mlp input must be 2 + the number of time constants")
        precondition(gru.inputCount == 4 * u, "DecoderWeights: GRU input must be 4U")
        precondition(outMLP.inputCount == gru.units + 4 * u, "DecoderWeights: out_mlp input must be G + 4U")
        precondition(out.inputCount == outMLP.outputCount, "DecoderWeights: out input must match out_mlp")
        self.f0MLP = f0MLP
        self.loudnessMLP = loudnessMLP
        self.zMLP = zMLP
        self.noteMLP = noteMLP
        self.noteOnTausSeconds = noteOnTausSeconds
        self.noteOffTausSeconds = noteOffTausSeconds
        self.gru = gru
        self.outMLP = outMLP
        self.out = out
        self.dbRange = dbRange
    }
}

/// Everything the timbre encoder needs (docs/model-format.md, "Encoder").
public struct EncoderWeights: Sendable, Equatable {
    /// `encoder.mlp`: features → enc_units.
    public let mlp: MLPWeights
    /// `encoder.out`: enc_units → 2Z (mean, then log-variance).
    public let out: DenseWeights

    /// Number of input features.
    public var featureCount: Int { mlp.inputCount }
    /// Latent size Z.
    public var zDim: Int { out.outputCount / 2 }

    /// Wraps the encoder's parts; `out` has an even number of outputs and takes the MLP's output.
    public init(mlp: MLPWeights, out: DenseWeights) {
        precondition(out.inputCount == mlp.outputCount, "EncoderWeights: out input must match the MLP")
        precondition(out.outputCount % 2 == 0, "EncoderWeights: out must have 2Z outputs")
        self.mlp = mlp
        self.out = out
    }
}
