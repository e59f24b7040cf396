/// The decoder network (docs/model-format.md, "Decoder"), run one frame at a time for a batch
/// of voices that share its weights.
///
/// All memory is allocated at init for `maxBatch` voices. The caller gathers the active voices'
/// inputs and GRU states into contiguous rows, calls `step`, and scatters the results back; the
/// voices' layers are then computed as matrix-matrix products (`DenseLayer`: register blocks of
/// up to 4 voices × 24 outputs, each weight tile read from memory once per step).
///
/// A voice's outputs and new state are bit-identical whatever the batch size and the voice's
/// position in the batch: every stage computes each voice's values in an order that depends only
/// on the layer sizes (tested in DecoderReferenceTests), so voices may be batched, split or
/// reordered freely, on any thread, without changing a sample.
///
/// A decoder's workspace is mutated by `step`: use one decoder from one thread at a time (it may
/// be built on a control thread and handed to the audio thread).
public final class Decoder: @unchecked Sendable {
    /// The most voices one `step` may process.
    public let maxBatch: Int
    /// MLP width U.
    public let units: Int
    /// GRU state floats per voice, G.
    public let stateCount: Int
    /// Latent floats per voice, Z.
    public let zDim: Int
    /// Raw outputs per voice, 1 + K + B.
    public let rawCount: Int
    /// Loudness input scaling.
    public let dbRange: Float
    /// Note input features per voice, N.
    public let noteInputCount: Int
    /// Floats per row of `step`'s `note` argument: velocity, seconds since note-on, seconds since note-off.
    public static let noteStride = 3

    let f0MLP: MLP
    let loudnessMLP: MLP
    let zMLP: MLP
    let noteMLP: MLP
    let gru: GRULayer
    /// `1 / tau` of the note-on and note-off features.
    let onRates: [Float]
    let offRates: [Float]
    let outMLP: MLP
    let out: DenseLayer

    /// Scaled f0 and loudness inputs, `[maxBatch]` each.
    let f0Scaled: FloatBuffer
    let loudnessScaled: FloatBuffer
    /// `[maxBatch, N]`: the note input features.
    let noteFeatures: FloatBuffer
    /// `[maxBatch, G + 4U]`: h, hf, hl, hz, hn per voice (so both concatenations are free).
    let features: FloatBuffer
    /// `[maxBatch, U]`: out_mlp output.
    let hidden: FloatBuffer
    /// MLP and GRU scratch.
    let scratch: FloatBuffer

    /// Row length of `features`.
    var featureStride: Int { stateCount + 4 * units }

    /// Builds a decoder for up to `maxBatch` voices (allocates; not real-time).
    public init(weights: DecoderWeights, maxBatch: Int) {
        precondition(maxBatch >= 1, "Decoder: maxBatch must be ≥ 1")
        self.maxBatch = maxBatch
        units = weights.units
        stateCount = weights.gruUnits
        zDim = weights.zDim
        rawCount = weights.rawCount
        dbRange = weights.dbRange
        noteInputCount = weights.noteInputCount
        f0MLP = MLP(weights.f0MLP)
        loudnessMLP = MLP(weights.loudnessMLP)
        zMLP = MLP(weights.zMLP)
        noteMLP = MLP(weights.noteMLP)
        onRates = weights.noteOnTausSeconds.map { 1 / $0 }
        offRates = weights.noteOffTausSeconds.map { 1 / $0 }
        gru = GRULayer(weights.gru)
        outMLP = MLP(weights.outMLP)
        out = DenseLayer(weights.out)
        f0Scaled = FloatBuffer(count: maxBatch)
        loudnessScaled = FloatBuffer(count: maxBatch)
        noteFeatures = FloatBuffer(count: maxBatch * weights.noteInputCount)
        features = FloatBuffer(count: maxBatch * (weights.gruUnits + 4 * weights.units))
        hidden = FloatBuffer(count: maxBatch * weights.units)
        let s = [f0MLP.scratchCount(batch: maxBatch), loudnessMLP.scratchCount(batch: maxBatch),
                 zMLP.scratchCount(batch: maxBatch), noteMLP.scratchCount(batch: maxBatch),
                 outMLP.scratchCount(batch: maxBatch),
                 gru.scratchCount(batch: maxBatch)].max()!
        scratch = FloatBuffer(count: s)
    }

    /// Runs one frame for `batch` voices. Real-time safe: no allocation, locks or I/O.
    ///
    /// - Parameters:
    ///   - batch: number of voices, `0...maxBatch`.
    ///   - f0Hz: `[batch]` fundamental frequency per voice (Hz).
    ///   - loudnessDB: `[batch]` loudness per voice (dB).
    ///   - note: `[batch, noteStride]` per voice: velocity (1-127), seconds since note-on, seconds
    ///     since note-off (negative while the note is held), each time already divided by its scale.
    ///   - z: `[batch, zDim]` timbre latent per voice, row-major.
    ///   - state: `[batch, stateCount]` GRU state per voice, read and updated in place (zero at note-on).
    ///   - raw: `[batch, rawCount]` receives the raw outputs (amplitude, distribution and noise logits).
    public func step(batch: Int, f0Hz: UnsafePointer<Float>, loudnessDB: UnsafePointer<Float>,
                     note: UnsafePointer<Float>, z: UnsafePointer<Float>, state: UnsafeMutablePointer<Float>,
                     raw: UnsafeMutablePointer<Float>) {
        precondition(batch >= 0 && batch <= maxBatch, "Decoder.step: batch exceeds maxBatch")
        if batch == 0 { return }
        let u = units, g = stateCount, fs = featureStride
        let f0s = f0Scaled.pointer, lds = loudnessScaled.pointer
        let invRange = dbRange
        for b in 0..<batch {
            f0s[b] = Activation.midiNote(hz: f0Hz[b]) / 127
            lds[b] = loudnessDB[b] / invRange + 1
        }
        computeNoteFeatures(batch: batch, note: note)
        let feats = features.pointer, work = scratch.pointer
        f0MLP.forward(batch: batch, input: f0s, inputStride: 1,
                      output: feats + g, outputStride: fs, scratch: work)
        loudnessMLP.forward(batch: batch, input: lds, inputStride: 1,
                            output: feats + g + u, outputStride: fs, scratch: work)
        zMLP.forward(batch: batch, input: z, inputStride: zDim,
                     output: feats + g + 2 * u, outputStride: fs, scratch: work)
        noteMLP.forward(batch: batch, input: noteFeatures.pointer, inputStride: noteInputCount,
                        output: feats + g + 3 * u, outputStride: fs, scratch: work)
        gru.step(batch: batch, input: feats + g, inputStride: fs, state: state, stateStride: g,
                 copy: feats, copyStride: fs, scratch: work)
        outMLP.forward(batch: batch, input: feats, inputStride: fs,
                       output: hidden.pointer, outputStride: u, scratch: work)
        out.forward(batch: batch, input: hidden.pointer, inputStride: u, output: raw, outputStride: rawCount)
    }

    /// The note input features (docs/model-format.md, "Note input") of each voice's `note` row:
    /// velocity / 127, `exp(-t_on / tau)` per note-on constant, released (0/1) and
    /// `released · exp(-t_off / tau)` per note-off constant. Real-time safe.
    private func computeNoteFeatures(batch: Int, note: UnsafePointer<Float>) {
        let n = noteInputCount, out = noteFeatures.pointer
        let on = onRates.count, off = offRates.count
        onRates.withUnsafeBufferPointer { onR in
            offRates.withUnsafeBufferPointer { offR in
                for b in 0..<batch {
                    let row = note + b * Self.noteStride, dst = out + b * n
                    let tOn = max(row[1], 0), released: Float = row[2] >= 0 ? 1 : 0, tOff = max(row[2], 0)
                    dst[0] = row[0] / 127
                    for i in 0..<on { dst[1 + i] = Activation.exp(-tOn * onR[i]) }
                    dst[1 + on] = released
                    for i in 0..<off { dst[2 + on + i] = released * Activation.exp(-tOff * offR[i]) }
                }
            }
        }
    }

    /// Runs one frame for `batch` voices held in buffers (see the pointer variant). Real-time safe.
    ///
    /// Each buffer must hold at least `batch` rows of its width.
    public func step(batch: Int, f0Hz: UnsafeBufferPointer<Float>, loudnessDB: UnsafeBufferPointer<Float>,
                     note: UnsafeBufferPointer<Float>, z: UnsafeBufferPointer<Float>,
                     state: UnsafeMutableBufferPointer<Float>, raw: UnsafeMutableBufferPointer<Float>) {
        precondition(f0Hz.count >= batch && loudnessDB.count >= batch && note.count >= batch * Self.noteStride
                     && z.count >= batch * zDim
                     && state.count >= batch * stateCount && raw.count >= batch * rawCount,
                     "Decoder.step: a buffer is smaller than batch rows")
        if batch == 0 { return }
        step(batch: batch, f0Hz: f0Hz.baseAddress!, loudnessDB: loudnessDB.baseAddress!, note: note.baseAddress!,
             z: z.baseAddress!, state: state.baseAddress!, raw: raw.baseAddress!)
    }

    /// Runs one frame for `batch` voices held in arrays (see the pointer variant). Real-time safe
    /// when `state` and `raw` are uniquely referenced (no copy-on-write).
    public func step(batch: Int, f0Hz: [Float], loudnessDB: [Float], note: [Float], z: [Float],
                     state: inout [Float], raw: inout [Float]) {
        f0Hz.withUnsafeBufferPointer { f in
            loudnessDB.withUnsafeBufferPointer { l in
                note.withUnsafeBufferPointer { nb in
                    z.withUnsafeBufferPointer { zb in
                        state.withUnsafeMutableBufferPointer { s in
                            raw.withUnsafeMutableBufferPointer { r in
                                step(batch: batch, f0Hz: f, loudnessDB: l, note: nb, z: zb, state: s, raw: r)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The intermediate activations of voice `voice` from the last `step` (allocates; for tests
    /// and diagnostics, not real-time).
    public func layerOutputs(voice: Int) -> DecoderLayerOutputs {
        let u = units, g = stateCount, base = voice * featureStride
        return DecoderLayerOutputs(f0MLP: features.copy(base + g ..< base + g + u),
                                   loudnessMLP: features.copy(base + g + u ..< base + g + 2 * u),
                                   zMLP: features.copy(base + g + 2 * u ..< base + g + 3 * u),
                                   noteMLP: features.copy(base + g + 3 * u ..< base + g + 4 * u),
                                   noteInput: noteFeatures.copy(voice * noteInputCount ..< (voice + 1) * noteInputCount),
                                   gru: features.copy(base ..< base + g),
                                   outMLP: hidden.copy(voice * u ..< (voice + 1) * u))
    }
}

/// A copy of one voice's decoder activations for one frame (see `Decoder.layerOutputs`).
public struct DecoderLayerOutputs: Sendable, Equatable {
    /// `decoder.f0_mlp` output, U.
    public var f0MLP: [Float]
    /// `decoder.ld_mlp` output, U.
    public var loudnessMLP: [Float]
    /// `decoder.z_mlp` output, U.
    public var zMLP: [Float]
    /// `decoder.note_mlp` output, U.
    public var noteMLP: [Float]
    /// The note input features, N.
    public var noteInput: [Float]
    /// GRU output (the new state), G.
    public var gru: [Float]
    /// `decoder.out_mlp` output, U.
    public var outMLP: [Float]
}
