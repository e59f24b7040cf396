import ArgumentParser
import Control
import Foundation
import Model
import Presets
import Timbre

/// `timbred encode NOTE.wav... --name NAME`: recordings of a sound → a preset at their point in
/// the model's timbre space.
struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Turn recordings of a sound (one note per file) into a playable preset.",
        discussion: """
        Reads WAV, FLAC, AIFF or OGG at any sample rate, mono or stereo. In each file it finds the \
        note's onset, its pitch (from the file name such as "C4" or "60", else tracked) and loudness, \
        computes the trainer's encoder features and runs the model's timbre encoder; several files \
        are combined (product of their posteriors). Give notes of at least 2 s, one note per file, \
        not clipped. The preset records the nearest instruments and the pitch range covered.
        """)

    @Argument(help: "Audio files, one note each.")
    var files: [String]

    @Option(help: "Preset name.")
    var name: String

    @Option(name: .shortAndLong, help: "Preset file to write (default: $XDG_CONFIG_HOME/timbred/presets/NAME.toml, where the daemon finds it).")
    var output: String?

    @Option(help: "Model file (default: models/default.safetensors).")
    var model: String?

    @Option(help: "MIDI pitch of the notes, when neither the file names nor the tracker should decide.")
    var pitch: Double?

    @Flag(help: "Overwrite an existing preset file.")
    var force = false

    @Flag(help: "Keep the encoder's point: skip the search that replays the notes through the model to match their spectra.")
    var noRefine = false

    mutating func run() throws {
        do {
            try encode()
        } catch let e as CLIError {
            FileHandle.standardError.write(Data("timbred encode: \(e.description)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func encode() throws {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw CLIError("--name must not be empty") }
        let started = Date()
        let modelPath = try Resources.modelPath(model)
        let timbreModel = try loadModel(modelPath)
        let encoder = TimbreEncoder(model: timbreModel)
        var notes: [TimbreEncoder.EncodedNote] = []
        for file in files {
            do {
                let n = try encoder.encode(path: file, pitch: pitch)
                notes.append(n)
                let near = encoder.space.neighbours(of: n.mu).first!
                print(String(format: "%@: pitch %.1f (MIDI), onset at %.3f s, nearest %@ (%.2f)",
                             file as NSString, n.note.medianPitch, n.note.onsetSeconds,
                             near.instrument as NSString, near.distance))
            } catch {
                throw CLIError("\(error)")
            }
        }
        let sound = encoder.combine(notes)
        var refinement: TimbreEncoder.Refinement? = nil
        if !noRefine {
            let r = encoder.refine(sound)
            refinement = r
            print(String(format: "refined by playing the notes through the model (%d tries): spectral match %.2f dB "
                         + "(encoder's point %.2f dB, nearest instrument %@ %.2f dB)", r.evaluations, r.refinedDistanceDB,
                         r.encoderDistanceDB, sound.neighbours[0].instrument as NSString, r.nearestInstrumentDistanceDB))
        }
        let modelName = URL(fileURLWithPath: modelPath).deletingPathExtension().lastPathComponent
        let text = TimbreEncoder.presetText(name: name, modelName: modelName, sound: sound, refinement: refinement)
        let path = output ?? TimbreEncoder.userPresetPath(name: name)
        do {
            try TimbreEncoder.writePreset(text, to: path, force: force)
        } catch {
            throw CLIError(error.description)
        }
        let finalPoint = refinement?.latent ?? sound.latent
        let near = encoder.space.neighbours(of: finalPoint).prefix(3).map { String(format: "%@ %.2f", $0.instrument as NSString, $0.distance) }
        print("nearest instruments: \(near.joined(separator: ", ")) (typical spacing between instruments: "
              + String(format: "%.2f)", encoder.space.typicalSpacing))
        if sound.farOutside {
            FileHandle.standardError.write(Data(("timbred encode: warning: this sound lies far outside every instrument the "
                + "model knows (nearest is \(sound.neighbours[0].instrument) at "
                + String(format: "%.2f", sound.neighbours[0].distance) + "); the preset may not sound like the recording\n").utf8))
        }
        print(String(format: "wrote preset \"%@\" to %@ in %.2f s", name as NSString, path as NSString,
                     Date().timeIntervalSince(started)))
    }
}

/// `timbred map -o map.png`: a picture of the timbre space.
struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Draw the timbre space: instruments, presets and (optionally) your recordings.",
        discussion: """
        The picture shows the latent space on its two principal directions (the two directions along \
        which the model's instruments differ most), with each instrument's component (dot and one \
        standard deviation), every preset found on disk (diamonds) and, with --notes, recordings \
        encoded as `timbred encode` does (crosses).
        """)

    @Option(name: .shortAndLong, help: "Picture to write (.png or .svg).")
    var output: String

    @Flag(help: "Write SVG whatever the file name says.")
    var svg = false

    @Option(help: "Model file (default: models/default.safetensors).")
    var model: String?

    @Option(parsing: .upToNextOption, help: "Recordings to encode and show.")
    var notes: [String] = []

    mutating func run() throws {
        do {
            let modelPath = try Resources.modelPath(model)
            let timbreModel = try loadModel(modelPath)
            let modelName = URL(fileURLWithPath: modelPath).deletingPathExtension().lastPathComponent
            var map = TimbreMap(space: TimbreSpace(model: timbreModel), modelName: modelName)
            let (presets, errors) = Preset.loadAll(folders: Resources.presetFolders)
            for e in errors { FileHandle.standardError.write(Data("timbred map: skipped \(e)\n".utf8)) }
            map.addPresets(presets, model: timbreModel, modelName: modelName)
            if !notes.isEmpty {
                let encoder = TimbreEncoder(model: timbreModel)
                for file in notes {
                    do {
                        let n = try encoder.encode(path: file)
                        map.notes.append(.init(label: URL(fileURLWithPath: file).lastPathComponent, latent: n.mu))
                    } catch {
                        throw CLIError("\(error)")
                    }
                }
            }
            let format: TimbreMap.Format = svg || output.lowercased().hasSuffix(".svg") ? .svg : .png
            do {
                try map.write(to: output, format: format)
            } catch {
                throw CLIError("\(error)")
            }
            print("wrote \(output): \(timbreModel.instrumentNames.count) instruments, \(map.presets.count) presets, \(map.notes.count) recordings")
        } catch let e as CLIError {
            FileHandle.standardError.write(Data("timbred map: \(e.description)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// `timbred presets`: every preset found, with where it sits among the instruments.
struct PresetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presets",
        abstract: "List the presets with their nearest instruments in the timbre space.")

    @Option(help: "Model file (default: models/default.safetensors).")
    var model: String?

    mutating func run() throws {
        do {
            let modelPath = try Resources.modelPath(model)
            let timbreModel = try loadModel(modelPath)
            let space = TimbreSpace(model: timbreModel)
            let modelName = URL(fileURLWithPath: modelPath).deletingPathExtension().lastPathComponent
            let (presets, errors) = Preset.loadAll(folders: Resources.presetFolders)
            for line in space.presetTable(presets, model: timbreModel, modelName: modelName) { print(line) }
            for e in errors { print("invalid: \(e)") }
        } catch let e as CLIError {
            FileHandle.standardError.write(Data("timbred presets: \(e.description)\n".utf8))
            throw ExitCode(1)
        }
    }
}
