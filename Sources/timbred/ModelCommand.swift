import ArgumentParser
import Control
import Foundation
import Model

/// `timbred model [FILE]`: checks a model file and prints what it holds.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Check a model file and describe it (sizes, instruments, provenance).")

    @Argument(help: "Model file (default: models/default.safetensors).")
    var file: String?

    mutating func run() throws {
        do {
            let m = try loadModel(try Resources.modelPath(file))
            let c = m.config
            print("\(m.path): timbred-ddsp v\(m.formatVersion), \(c.sampleRate) Hz, \(c.frameRate) frames/s")
            print("decoder: \(c.mlpLayers)x\(c.mlpUnits) MLPs, GRU \(c.gruUnits); \(c.harmonicCount) harmonics, \(c.noiseBandCount) noise bands")
            print("timbre space: \(c.zDim) dimensions, \(c.instrumentCount) instruments: \(c.instruments.joined(separator: ", "))")
            print("reverb: \(m.reverbIR.count) samples (\(Double(m.reverbIR.count) / Double(c.sampleRate)) s)")
            if let p = m.provenance { print("provenance: \(p)") }
        } catch let e as CLIError {
            FileHandle.standardError.write(Data("timbred model: \(e.description)\n".utf8))
            throw ExitCode(1)
        }
    }
}
