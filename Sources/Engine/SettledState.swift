import Inference
import ModelCore
#if canImport(Glibc)
import Glibc
#endif

/// Each instrument's decoder state in the middle of a held note: what a voice's GRU state is
/// drawn towards as its timbre point moves (`EngineSettings.timbreForgetPerUnit`), blended by the
/// point's instrument weights, instead of towards zero, which the decoder only ever saw at a
/// note-on and answers with a new attack.
///
/// Read once per model (allocates; not real-time): a reference note (A4, velocity 100, the
/// instrument's learned envelope) decoded at each instrument's latent mean from a zero state
/// `startSeconds` into the note for `frames` frames; the state after the last frame.
public enum SettledState {
    public static let pitch: Double = 69
    public static let velocity: Double = 100
    public static let startSeconds = 3.0
    public static let frames = 60

    /// [I, G] row-major: instrument i's settled state. `decoder` (built for `model` with
    /// `maxBatch` ≥ I) is reused when given: building one packs the model's weights again.
    public static func states(model: TimbreModel, decoder reused: Decoder? = nil) -> [Float] {
        let env = model.envelopes
        let n = env.instrumentCount, zDim = model.config.zDim, g = model.config.gruUnits
        let decoder = reused.flatMap { $0.maxBatch >= n ? $0 : nil } ?? model.makeDecoder(maxBatch: n)
        let f0 = [Float](repeating: Float(440 * pow(2, (pitch - 69) / 12)), count: n)
        var z = [Float](repeating: 0, count: n * zDim)
        for i in 0..<n * zDim { z[i] = env.latentMeans[i] }
        var state = [Float](repeating: 0, count: n * g)
        var raw = [Float](repeating: 0, count: n * model.controlScaler.rawCount)
        var loudness = [Float](repeating: 0, count: n)
        var note = [Float](repeating: 0, count: n * Decoder.noteStride)
        var oneHot = [Float](repeating: 0, count: n)
        for frame in 0..<frames {
            let t = startSeconds + Double(frame) / Double(model.config.frameRate)
            for i in 0..<n {
                oneHot[i] = 1
                loudness[i] = oneHot.withUnsafeBufferPointer {
                    Float(env.loudnessDB(pitch: pitch, velocity: velocity, secondsSinceNoteOn: t, noteOffAtSeconds: nil,
                                         weights: $0.baseAddress!))
                }
                oneHot[i] = 0
                note[i * Decoder.noteStride] = Float(velocity)
                note[i * Decoder.noteStride + 1] = Float(t)
                note[i * Decoder.noteStride + 2] = -1
            }
            decoder.step(batch: n, f0Hz: f0, loudnessDB: loudness, note: note, z: z, state: &state, raw: &raw)
        }
        return state
    }
}
