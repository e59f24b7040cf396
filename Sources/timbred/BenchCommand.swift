import ArgumentParser
import Bench
import Control
import Foundation
import Inference
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

    @Option(help: "The decode worker: off (the callback decodes everything, as before issue 17), on, or both (each voice count without, then with it, in the same run).")
    var decoderThread: String = "both"

    @Option(help: "Render blocks on a real-time grid (each one period after the last, as JACK's cycles; the worker works between them), true or false (back to back). Default: true when the worker is measured.")
    var pace: Bool?

    @Option(help: "SCHED_FIFO priority asked for the decode worker (0: normal scheduling; refused without the right, then normal).")
    var workerPriority: Int32 = 0

    @Option(help: "The reverb's largest partition in samples, comma-separated to measure several in the same run (the reverb's partition size itself, e.g. 64, is the uniform convolver of before issue 17; default: the engine's, 1024).")
    var reverbLargestPartition: String?

    @Flag(help: "Time the reverb's convolver alone (the model's IR, one call per block, back to back) with each --reverb-largest-partition (default 64,1024), alternating for --reverb-rounds, instead of the engine.")
    var reverbAlone = false

    @Option(help: "With --reverb-alone: rounds of alternating measurements.")
    var reverbRounds: Int = 3

    @Option(help: "Seconds of the soak test's MIDI to replay through the engine alone, timing each block's CPU time (0 skips it).")
    var soakLoad: Double = 0

    @Flag(help: "Time the decoder alone (one frame per voice) at --batches, beside the machine's FMA peak, instead of the engine.")
    var decoder = false

    @Option(help: "With --decoder: batch sizes (voices) to time, comma-separated.")
    var batches: String = "1,4,8,32,64"

    @Option(help: "With --decoder: seconds of decoder steps per batch size.")
    var decoderSeconds: Double = 0.5

    @Flag(help: "With --decoder: print one JSON object instead of the table.")
    var json = false

    @Option(help: "With --decoder: run one step on the inputs of this JSON file (batch, f0_hz, loudness_db, note, z, state) and write raw and state to --check-output.")
    var checkInput: String?

    @Option(help: "With --check-input: where to write the step's outputs (JSON).")
    var checkOutput: String?

    mutating func run() throws {
        let timbreModel = try loadModel(try Resources.modelPath(model))
        let k = timbreModel.instrumentIndex(named: instrument) ?? 0
        let z = timbreModel.latentMeans[k]
        if decoder {
            try runDecoder(timbreModel)
            return
        }
        let blockSizes = blocks.split(separator: ",").compactMap { Int($0) }
        let reverbLargest: [Int?] = reverbLargestPartition.map { $0.split(separator: ",").compactMap { Int($0) } } ?? [nil]
        if reverbAlone {
            for block in blockSizes {
                let largest = reverbLargestPartition == nil ? [min(block, 128), 1024] : reverbLargest.compactMap { $0 }
                measureReverbAlone(model: timbreModel, rate: rate, block: block, partition: min(block, 128),
                                   largestPartitions: largest, seconds: seconds, rounds: reverbRounds)
            }
            return
        }
        let modes: [Bool]
        switch decoderThread {
        case "off", "false": modes = [false]
        case "on", "true": modes = [true]
        case "both": modes = [false, true]
        default: throw ValidationError("--decoder-thread is off, on or both")
        }
        let paced = pace ?? modes.contains(true)
        if soakLoad > 0 {
            for block in blockSizes {
                for withWorker in modes {
                    SoakLoadReplay(model: timbreModel, rate: rate, block: block, seconds: soakLoad, decoderThread: withWorker,
                                   paced: paced).run()
                }
            }
            return
        }
        let voiceCounts = voices.split(separator: ",").compactMap { Int($0) }
        let bench = EngineBench(model: timbreModel, z: z, rate: rate, seconds: seconds, budget: budget, chord: chord)
        print("timbred bench: \(rate) Hz, instrument \(timbreModel.instrumentNames[k]), reverb on, \(seconds) s per point"
              + (paced ? ", blocks paced in real time" : ", blocks back to back"))
        bench.measureStages(blockSizes: blockSizes, voiceCounts: voiceCounts, workerModes: modes, paced: paced,
                            workerPriority: workerPriority, reverbLargestPartitions: reverbLargest.isEmpty ? [nil] : reverbLargest)
        if chord > 0 {
            for block in blockSizes { bench.measureOnsets(block: block) }
        }
    }

    /// `--decoder`: the decoder step per batch size, µs per step and per voice, GFLOP/s and the
    /// fraction of the FMA peak measured in the same run (or `--check-input`: one step from a file).
    private func runDecoder(_ timbreModel: TimbreModel) throws {
        let batchSizes = batches.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
        let bench = DecoderBench(model: timbreModel, batches: batchSizes, seconds: decoderSeconds, repetitions: 5)
        if let input = checkInput {
            guard let output = checkOutput else { throw ValidationError("--check-input needs --check-output") }
            try bench.check(input: input, output: output)
            return
        }
        let macs = DecoderBench.multiplyAdds(timbreModel.decoderWeights)
        let peakBefore = measureFMAPeak()
        let timings = bench.measure()
        let peakAfter = measureFMAPeak()
        let peak = max(peakBefore, peakAfter)
        let peak512 = measureFMAPeakAVX512()
        let flops = Double(2 * macs)
        if json {
            let rows = timings.map { t -> [String: Any] in
                ["batch": t.batch, "us_per_step": t.medianMicroseconds, "us_per_step_min": t.minMicroseconds, "steps": t.steps]
            }
            let obj: [String: Any] = ["macs_per_voice_frame": macs, "fma_peak_gflops": peak,
                                      "fma_peak_gflops_before": peakBefore, "fma_peak_gflops_after": peakAfter,
                                      "fma_peak_avx512_gflops": peak512,
                                      "timings": rows]
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print(String(format: "timbred bench --decoder: %d multiply-adds per voice frame (%.3f MFLOP); "
                     + "FMA peak (SIMD8<Float> loop, one core) %.1f GFLOP/s (%.1f before, %.1f after)",
                     macs, flops / 1e6, peak, peakBefore, peakAfter))
        print(peak512 > 0
              ? String(format: "AVX-512 FMA peak (zmm loop, one core) %.1f GFLOP/s; ", peak512)
                + (DenseLayer.avx512MinimumBatch == Int.max ? "DenseLayer's AVX-512 kernel off (TIMBRED_AVX512_MIN_BATCH=0)"
                   : "DenseLayer uses its AVX-512 kernel from batch \(DenseLayer.avx512MinimumBatch)")
              : "no AVX-512 on this CPU: the AVX2 kernel only")
        print("batch  us/step  us/voice  GFLOP/s  %peak  %peak512")
        for t in timings {
            let perVoice = t.medianMicroseconds / Double(t.batch)
            let gflops = flops / (perVoice * 1e3)
            print(String(format: "%5d  %7.1f  %8.2f  %7.1f  %5.1f  %8.1f", t.batch, t.medianMicroseconds, perVoice, gflops,
                         gflops / peak * 100, peak512 > 0 ? gflops / peak512 * 100 : 0))
        }
    }
}
