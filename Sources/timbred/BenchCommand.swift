import ArgumentParser
import Bench
import Control
import Foundation
import Model

/// `timbred bench`: voices × real-time factor of the engine, per stage, at one output rate.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the engine: time per block per stage, and the polyphony that fits in a CPU budget.")

    @Option(help: "Model file (default: models/default.safetensors).")
    var model: String?

    @Option(help: "Output rate in Hz.")
    var rate: Int = 48000

    @Option(help: "Block sizes to measure, comma-separated.")
    var blocks: String = "64,128"

    @Option(help: "Voice counts to measure, comma-separated.")
    var voices: String = "1,8,16,32,48,64"

    @Option(help: "Seconds of audio rendered per measurement.")
    var seconds: Double = 4

    @Option(help: "CPU budget of one core, in percent, for the largest-polyphony figure.")
    var budget: Double = 50

    @Option(help: "Instrument (latent component) to play; a sustaining one keeps every voice busy.")
    var instrument: String = "church_organ"

    @Option(help: "Notes per chord in the onset measurement (0 skips it).")
    var chord: Int = 6

    @Option(help: "Seconds of the soak test's MIDI to replay through the engine alone, timing each block's CPU time (0 skips it).")
    var soakLoad: Double = 0

    mutating func run() throws {
        let timbreModel = try loadModel(try Resources.modelPath(model))
        let k = timbreModel.instrumentIndex(named: instrument) ?? 0
        let z = timbreModel.latentMeans[k]
        let blockSizes = blocks.split(separator: ",").compactMap { Int($0) }
        if soakLoad > 0 {
            for block in blockSizes { SoakLoadReplay(model: timbreModel, rate: rate, block: block, seconds: soakLoad).run() }
            return
        }
        let voiceCounts = voices.split(separator: ",").compactMap { Int($0) }
        let bench = EngineBench(model: timbreModel, z: z, rate: rate, seconds: seconds, budget: budget, chord: chord)
        print("timbred bench: \(rate) Hz, instrument \(timbreModel.instrumentNames[k]), reverb on, \(seconds) s per point")
        bench.measureStages(blockSizes: blockSizes, voiceCounts: voiceCounts)
        if chord > 0 {
            for block in blockSizes { bench.measureOnsets(block: block) }
        }
    }
}
