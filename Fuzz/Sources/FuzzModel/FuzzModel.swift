// libFuzzer harness: the model loader, TimbreModel(path:bytes:), on arbitrary files.
//
// Checks that no input traps (the safetensors container alone, then the model); an accepted model must
// also run: one decoder step, one envelope lookup.
import Foundation
import FuzzerDriver
import Glibc
import Model

@main
enum Main {
    static func main() { exit(fuzzer_run(CommandLine.argc, CommandLine.unsafeArgv, fuzzModel)) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModel(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    // The container on its own: every tensor it accepts must decode or be refused, whatever its shape.
    if let file = try? SafetensorsFile(path: "fuzz.safetensors", bytes: bytes) {
        for name in file.tensors.keys { _ = try? file.floats(name) }
    }
    let model: TimbreModel
    do {
        model = try TimbreModel(path: "fuzz.safetensors", bytes: bytes)
    } catch {
        _ = "\(error)"  // error descriptions must not trap either
        return 0
    }
    let c = model.config
    precondition(model.latentMeans.count == c.instrumentCount && model.reverbIR.count == c.reverbLength)

    let decoder = model.makeDecoder(maxBatch: 1)
    var state = [Float](repeating: 0, count: c.gruUnits)
    var raw = [Float](repeating: 0, count: c.rawCount)
    decoder.step(batch: 1, f0Hz: [440], loudnessDB: [-30], note: [100, 0.5, 0.25], z: model.latentMeans[0],
                 state: &state, raw: &raw)

    var weights = [Float](repeating: 0, count: c.instrumentCount)
    model.envelopes.blendWeights(z: model.latentMeans[0], into: &weights)
    _ = model.envelopes.loudnessDB(pitch: 60, velocity: 100, secondsSinceNoteOn: 0.5, noteOffAtSeconds: 0.25,
                                   weights: weights)
    return 0
}
