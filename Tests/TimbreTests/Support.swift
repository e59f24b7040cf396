import Foundation
import Model
import TestSupport
import Timbre

/// One note of the analysis fixture with the trainer's outputs.
struct ReferenceNote {
    let audio: [Float]
    let pitch: Double
    let instrument: Int
    let trimStart: Int
    let f0Hz: [Float]
    let wideF0Hz: [Float]
    let wideConfidence: [Float]
    let loudnessDB: [Float]
    let features: [Float]
    let mu: [Float]
    let logvar: [Float]

    static func load(_ slot: Int) throws -> ReferenceNote {
        let file = try SafetensorsFile(path: Fixtures.analysisReference)
        func v(_ name: String) throws -> [Float] { try file.floats("analysis.\(slot).\(name)") }
        return ReferenceNote(audio: try v("audio"), pitch: Double(try v("pitch")[0]), instrument: Int(try v("instrument")[0]),
                             trimStart: Int(try v("trim_start")[0]), f0Hz: try v("f0_hz"), wideF0Hz: try v("wide_f0_hz"),
                             wideConfidence: try v("wide_confidence"), loudnessDB: try v("loudness_db"),
                             features: try v("features"), mu: try v("mu"), logvar: try v("logvar"))
    }
}

/// Runs a command, returning its exit status and its standard output and error together.
@discardableResult
func runTool(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

func cents(_ a: Double, _ b: Double) -> Double { 1200 * log2(a / b) }

/// Euclidean distance between two latent points.
func latentDistance(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
}
