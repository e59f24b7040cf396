// `timbred encode`: recordings → a point in the model's timbre space → a preset.
import Foundation
import Inference
import Model

/// Turns recordings of notes into a point in a model's timbre space, with the model's own
/// encoder and the trainer's analysis (NoteAnalysis).
public final class TimbreEncoder {
    /// The model whose timbre space the points live in.
    public let model: TimbreModel
    /// Its instruments' components.
    public let space: TimbreSpace
    let encoder: Encoder

    /// Builds the model's encoder (allocates).
    public init(model: TimbreModel) {
        self.model = model
        space = TimbreSpace(model: model)
        encoder = model.makeEncoder()
    }

    /// One recording's encoding.
    public struct EncodedNote: Sendable {
        /// The file it came from.
        public let path: String
        /// Its analysis (pitch, f0, loudness, features).
        public let note: AnalysedNote
        /// Posterior mean of z.
        public let mu: [Float]
        /// Posterior log-variance of z.
        public let logvar: [Float]
    }

    /// Reads, analyses and encodes one file. The pitch comes from `pitch`, else from the file name
    /// ("C4", "f#3", "60"), else from the pitch tracker.
    /// - Throws: `AnalysisError` naming the file and the problem.
    public func encode(path: String, pitch: Double? = nil) throws(AnalysisError) -> EncodedNote {
        let audio = try MonoAudio.read(path: path)
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let note = try NoteAnalysis.analyse(audio, config: model.config,
                                            pitch: pitch ?? NoteAnalysis.pitchFromName(name).map(Double.init), path: path)
        return encode(note: note, path: path)
    }

    /// Encodes an analysed note.
    public func encode(note: AnalysedNote, path: String) -> EncodedNote {
        let (mu, logvar) = encoder.encode(features: note.features)
        return EncodedNote(path: path, note: note, mu: mu, logvar: logvar)
    }

    /// Several recordings of one sound, combined.
    public struct EncodedSound: Sendable {
        /// The recordings.
        public let notes: [EncodedNote]
        /// The combined posterior mean: the preset's latent point.
        public let latent: [Float]
        /// The combined posterior variance.
        public let variance: [Float]
        /// Instruments nearest first.
        public let neighbours: [TimbreSpace.Neighbour]
        /// Lowest and highest MIDI pitch among the recordings (median tracked pitch, rounded).
        public let pitchRange: ClosedRange<Int>
        /// Whether the sound lies far outside every instrument the model knows.
        public let farOutside: Bool
        /// The timbre space it was placed in.
        public let space: TimbreSpace
    }

    /// Combines encodings (product of their Gaussian posteriors) and places the result.
    public func combine(_ notes: [EncodedNote]) -> EncodedSound {
        let (latent, variance) = TimbreSpace.combine(means: notes.map(\.mu), logvars: notes.map(\.logvar))
        let pitches = notes.map { Int($0.note.medianPitch.rounded()) }
        return EncodedSound(notes: notes, latent: latent, variance: variance, neighbours: space.neighbours(of: latent),
                            pitchRange: pitches.min()!...pitches.max()!, farOutside: space.isFarOutside(latent), space: space)
    }

    /// The preset file for an encoded sound (TOML, the format of presets/*.toml plus an
    /// `[encoded]` table recording where it came from).
    public static func presetText(name: String, modelName: String, sound: EncodedSound, refinement: Refinement? = nil,
                                  nearest: Int = 3) -> String {
        func quoted(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        let latent = refinement?.latent ?? sound.latent
        let neighbours = refinement == nil ? sound.neighbours : sound.space.neighbours(of: latent)
        let near = neighbours.prefix(nearest)
        var t = "# Preset for timbred, encoded from recordings by `timbred encode`.\n"
        t += "name = \(quoted(name))\n"
        t += "model = \(quoted(modelName))\n"
        t += "latent = [" + latent.map { String(format: "%.6f", $0) }.joined(separator: ", ") + "]\n"
        t += "\n[encoded]\n"
        t += "files = [" + sound.notes.map { quoted(URL(fileURLWithPath: $0.path).lastPathComponent) }.joined(separator: ", ") + "]\n"
        t += "pitch_low = \(sound.pitchRange.lowerBound)\n"
        t += "pitch_high = \(sound.pitchRange.upperBound)\n"
        t += "nearest = [" + near.map { quoted($0.instrument) }.joined(separator: ", ") + "]\n"
        t += "nearest_distance = [" + near.map { String(format: "%.3f", $0.distance) }.joined(separator: ", ") + "]\n"
        t += "far_outside = \(sound.farOutside)\n"
        if let r = refinement {
            t += "encoder_nearest = \(quoted(sound.neighbours[0].instrument))\n"
            t += "# mel-spectrum distance (dB) of the recordings replayed through the model: at this point,\n"
            t += "# at the encoder's own point, and at the nearest instrument's point\n"
            t += String(format: "match_db = %.2f\nencoder_match_db = %.2f\nnearest_match_db = %.2f\n",
                        r.refinedDistanceDB, r.encoderDistanceDB, r.nearestInstrumentDistanceDB)
        }
        return t
    }
}
