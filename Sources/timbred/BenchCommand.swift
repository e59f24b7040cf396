import ArgumentParser
import Engine
import Foundation
import MIDI
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

    mutating func run() throws {
        let timbreModel = try loadModel(try Resources.modelPath(model))
        let k = timbreModel.instrumentIndex(named: instrument) ?? 0
        let z = timbreModel.latentMeans[k]
        let blockSizes = blocks.split(separator: ",").compactMap { Int($0) }
        let voiceCounts = voices.split(separator: ",").compactMap { Int($0) }
        print("timbred bench: \(rate) Hz, instrument \(timbreModel.instrumentNames[k]), reverb on, \(seconds) s per point")
        print("block  voices  us/block  load%   decoder  oscill.  noise   reverb   (us/block)")
        for block in blockSizes {
            var best = 0
            for n in voiceCounts {
                var settings = EngineSettings()
                settings.sampleRate = Double(rate)
                settings.polyphony = n
                settings.maxBlockFrames = block
                settings.reverbPartition = min(block, 128)
                let engine = Engine(model: timbreModel, settings: settings, timbre: z)
                let left = UnsafeMutablePointer<Float>.allocate(capacity: block)
                let right = UnsafeMutablePointer<Float>.allocate(capacity: block)
                defer { left.deallocate(); right.deallocate() }
                // a spread chord of n notes, every note held
                var events: [TimedMIDIEvent] = (0..<n).map { i in
                    TimedMIDIEvent(offset: i % block, event: .noteOn(channel: UInt8(i % 16), note: UInt8(36 + (i * 7) % 60), velocity: 100))
                }
                events.sort { $0.offset < $1.offset }
                events.withUnsafeBufferPointer { engine.render(frameCount: block, events: $0, left: left, right: right) }
                let blockCount = Int(seconds * Double(rate)) / block
                engine.profileStages = true
                let start = DispatchTime.now().uptimeNanoseconds
                let none = UnsafeBufferPointer<TimedMIDIEvent>(start: nil, count: 0)
                for _ in 0..<blockCount { engine.render(frameCount: block, events: none, left: left, right: right) }
                let total = Double(DispatchTime.now().uptimeNanoseconds - start)
                let perBlockUS = total / Double(blockCount) / 1000
                let budgetUS = Double(block) / Double(rate) * 1e6
                let load = perBlockUS / budgetUS * 100
                let st = engine.stageNanoseconds
                func us(_ ns: UInt64) -> String { String(format: "%7.1f", Double(ns) / Double(blockCount) / 1000) }
                print(String(format: "%5d  %6d  %8.1f  %5.1f", block, engine.activeVoiceCount, perBlockUS, load),
                      " ", us(st.decoder), " ", us(st.oscillators), " ", us(st.noise), " ", us(st.reverb))
                if load <= budget && engine.activeVoiceCount == n { best = max(best, n) }
            }
            print("block \(block): largest measured polyphony within \(Int(budget)) % of one core: \(best) voices")
        }
    }
}
