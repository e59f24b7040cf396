import DSP
import Engine
import Foundation
import MIDI
import Model

/// `timbred bench`'s measurements of the engine alone (no JACK): time per block per stage for
/// held chords of several sizes, and the cost of striking chords into a full set of voices.
/// Prints its tables on stdout.
public struct EngineBench {
    public let model: TimbreModel
    /// The timbre played (a sustaining instrument keeps every voice busy).
    public let z: [Float]
    public let rate: Int
    /// Seconds of audio rendered per measurement.
    public let seconds: Double
    /// CPU budget of one core, in percent, for the largest-polyphony figure.
    public let budget: Double
    /// Notes per chord in the onset measurement.
    public let chord: Int

    public init(model: TimbreModel, z: [Float], rate: Int, seconds: Double, budget: Double, chord: Int) {
        self.model = model
        self.z = z
        self.rate = rate
        self.seconds = seconds
        self.budget = budget
        self.chord = chord
    }

    /// Per block size, per voice count, without and with the decode worker (`workerModes`): the
    /// callback's own µs per block, its load, each stage's share, and the worker's µs per block and
    /// load beside it; then the largest polyphony whose callback fits the budget, per mode. With
    /// `paced`, blocks are rendered on a real-time grid (each block starts one period after the
    /// last, as JACK's cycles do), so the worker has the period to work in, as live; unpaced, back
    /// to back (the worker then rarely finishes first and the callback decodes the jobs itself).
    ///
    /// `reverbLargestPartitions` lists the reverb's largest partition per measurement (each voice
    /// count and worker mode is measured with each, in the same run; the partition size P itself
    /// is the uniform convolver of before issue 17, nil the engine's default). Besides the means,
    /// each row has the callback's and the reverb's 99th percentile and largest block.
    public func measureStages(blockSizes: [Int], voiceCounts: [Int], workerModes: [Bool] = [false], paced: Bool = false,
                              workerPriority: Int32 = 0, reverbLargestPartitions: [Int?] = [nil]) {
        let timbreModel = model
        print("block  voices  worker  rev.part  us/block  p99 us  max us  load%   decoder  oscill.  noise   reverb  rev p99  rev max   (us/block, callback)   worker us  worker%  jobs: worker/callback")
        for block in blockSizes {
            var best: [String: Int] = [:]
            var bestWorkerLoad: [String: Double] = [:]
            for n in voiceCounts {
                for reverbLargest in reverbLargestPartitions {
                for withWorker in workerModes {
                    let key = "\(withWorker)/\(reverbLargest.map(String.init) ?? "default")"
                    let engine = makeBenchEngine(timbreModel, rate: rate, polyphony: n, block: block, timbre: z,
                                                 decoderThread: withWorker, decoderThreadPriority: workerPriority,
                                                 reverbLargestPartitionSamples: reverbLargest)
                    let left = UnsafeMutablePointer<Float>.allocate(capacity: block)
                    let right = UnsafeMutablePointer<Float>.allocate(capacity: block)
                    defer { left.deallocate(); right.deallocate() }
                    // a spread chord of n notes, every note held
                    var events: [TimedMIDIEvent] = (0..<n).map { i in
                        TimedMIDIEvent(offset: i % block, event: .noteOn(channel: UInt8(i % 16), note: UInt8(36 + (i * 7) % 60), velocity: 100))
                    }
                    events.sort { $0.offset < $1.offset }
                    events.withUnsafeBufferPointer { engine.render(frameCount: block, events: $0, left: left, right: right) }
                    let none = UnsafeBufferPointer<TimedMIDIEvent>(start: nil, count: 0)
                    let periodNS = UInt64(Double(block) / Double(rate) * 1e9)
                    // every note started and decoding in its steady state before timing
                    for _ in 0..<(2 * rate / block) {
                        engine.render(frameCount: block, events: none, left: left, right: right)
                    }
                    engine.waitForDecodeWorker()
                    let blockCount = Int(seconds * Double(rate)) / block
                    engine.profileStages = true
                    let statsBefore = engine.decodeWorkerStats
                    var busy: UInt64 = 0
                    var next = DispatchTime.now().uptimeNanoseconds
                    var blockNS = [UInt64](repeating: 0, count: blockCount)
                    var reverbNS = [UInt64](repeating: 0, count: blockCount)
                    for b in 0..<blockCount {
                        if paced { sleepUntil(uptimeNanoseconds: next) }
                        let reverbBefore = engine.stageNanoseconds.reverb
                        let start = DispatchTime.now().uptimeNanoseconds
                        engine.render(frameCount: block, events: none, left: left, right: right)
                        let elapsed = DispatchTime.now().uptimeNanoseconds - start
                        busy += elapsed
                        blockNS[b] = elapsed
                        reverbNS[b] = engine.stageNanoseconds.reverb - reverbBefore
                        next += periodNS
                    }
                    engine.waitForDecodeWorker()
                    let stats = engine.decodeWorkerStats
                    let perBlockUS = Double(busy) / Double(blockCount) / 1000
                    let budgetUS = Double(block) / Double(rate) * 1e6
                    let load = perBlockUS / budgetUS * 100
                    let st = engine.stageNanoseconds
                    func us(_ ns: UInt64) -> String { String(format: "%7.1f", Double(ns) / Double(blockCount) / 1000) }
                    var workerColumns = "         -        -  -"
                    var workerLoad = 0.0
                    if withWorker {
                        let workerUS = Double(stats.workerBusyNanoseconds - statsBefore.workerBusyNanoseconds) / Double(blockCount) / 1000
                        workerLoad = workerUS / budgetUS * 100
                        let byWorker = stats.jobsByWorker - statsBefore.jobsByWorker
                        let byCallback = stats.jobsTakenByCallback + stats.jobsAbandonedByCallback
                            - statsBefore.jobsTakenByCallback - statsBefore.jobsAbandonedByCallback
                        workerColumns = String(format: "  %8.1f  %6.1f   %d/%d", workerUS, workerLoad, byWorker, byCallback)
                            + (stats.isRealtime ? " (SCHED_FIFO)" : "")
                    }
                    let (p99, worst) = percentile99AndMax(blockNS)
                    let (reverbP99, reverbWorst) = percentile99AndMax(reverbNS)
                    print(String(format: "%5d  %6d  %6@  %8d  %8.1f  %6.1f  %6.1f  %5.1f", block, engine.activeVoiceCount,
                                 withWorker ? "on" : "off", engine.reverbLargestPartitionSamples, perBlockUS, p99, worst, load),
                          " ", us(st.decoder), " ", us(st.oscillators), " ", us(st.noise), " ", us(st.reverb),
                          String(format: "  %7.1f  %7.1f", reverbP99, reverbWorst), "                ",
                          workerColumns)
                    if load <= budget && engine.activeVoiceCount == n && workerLoad <= 100 && n > (best[key] ?? 0) {
                        best[key] = n
                        bestWorkerLoad[key] = workerLoad
                    }
                }
                }
            }
            for reverbLargest in reverbLargestPartitions {
            for withWorker in workerModes {
                let key = "\(withWorker)/\(reverbLargest.map(String.init) ?? "default")"
                let n = best[key] ?? 0
                let reverbNote = reverbLargestPartitions.count > 1
                    ? " (reverb's largest partition \(reverbLargest.map(String.init) ?? "default"))" : ""
                print("block \(block): largest measured polyphony with the callback within \(Int(budget)) % of one core\(reverbNote), "
                      + (withWorker ? "decode worker on: \(n) voices (the worker at "
                                      + String(format: "%.0f", bestWorkerLoad[key] ?? 0) + " % of the other core)"
                                    : "decoding in the callback: \(n) voices"))
            }
            }
        }
    }

    /// The cost of striking: `chord`-note chords struck into a full set of sounding voices (every
    /// one steals), each block timed alone. Prints the steady blocks' median and the struck
    /// blocks' median and worst, and the struck/steady ratio: the spike a chord puts into one
    /// period, which is what makes a callback late.
    public func measureOnsets(block: Int) {
        let timbreModel = model
        let polyphony = 32
        let engine = makeBenchEngine(timbreModel, rate: rate, polyphony: polyphony, block: block, timbre: z)
        let left = UnsafeMutablePointer<Float>.allocate(capacity: block)
        let right = UnsafeMutablePointer<Float>.allocate(capacity: block)
        defer { left.deallocate(); right.deallocate() }
        let none = UnsafeBufferPointer<TimedMIDIEvent>(start: nil, count: 0)
        let fill: [TimedMIDIEvent] = (0..<polyphony).map { i in
            TimedMIDIEvent(offset: 0, event: .noteOn(channel: 0, note: UInt8(30 + i), velocity: 100))
        }
        fill.withUnsafeBufferPointer { engine.render(frameCount: block, events: $0, left: left, right: right) }
        // a chord every 100 ms (the soak's chords come every 250-500 ms, with single notes between)
        let period = max(1, Int(0.1 * Double(rate)) / block)
        let blockCount = Int(seconds * Double(rate)) / block
        var steady: [Double] = [], struck: [Double] = []
        var chordEvents = [TimedMIDIEvent](repeating: TimedMIDIEvent(offset: 0, event: .noteOn(channel: 0, note: 60, velocity: 100)),
                                           count: chord)
        for b in 0..<blockCount {
            let strike = b % period == 0
            if strike {
                let root = 62 + (b / period) % 24
                for k in 0..<chord {
                    chordEvents[k] = TimedMIDIEvent(offset: 0, event: .noteOn(channel: 1, note: UInt8(root + 3 * k), velocity: 100))
                }
            }
            let start = DispatchTime.now().uptimeNanoseconds
            if strike {
                chordEvents.withUnsafeBufferPointer { engine.render(frameCount: block, events: $0, left: left, right: right) }
            } else {
                engine.render(frameCount: block, events: none, left: left, right: right)
            }
            let us = Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
            if strike { struck.append(us) } else { steady.append(us) }
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        let budgetUS = Double(block) / Double(rate) * 1e6
        let steadyUS = median(steady), struckUS = median(struck), worstUS = struck.max() ?? 0
        print(String(format: "onsets, block %d, %d voices sounding, %d-note chords every %.0f ms: steady block %.1f us (%.1f %%), "
                     + "struck block median %.1f us (%.1f %%), worst %.1f us (%.1f %%); struck/steady %.2f",
                     block, engine.activeVoiceCount, chord, Double(period * block) / Double(rate) * 1000, steadyUS,
                     steadyUS / budgetUS * 100, struckUS, struckUS / budgetUS * 100, worstUS, worstUS / budgetUS * 100,
                     struckUS / steadyUS))
    }
}


/// The 99th percentile and the largest of per-block times, in µs.
func percentile99AndMax(_ nanoseconds: [UInt64]) -> (Double, Double) {
    guard !nanoseconds.isEmpty else { return (0, 0) }
    let sorted = nanoseconds.sorted()
    let index = min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)
    return (Double(sorted[index]) / 1000, Double(sorted[sorted.count - 1]) / 1000)
}

/// An engine prepared as the benchmarks run it: `rate` Hz, `block`-frame blocks, the reverb on
/// (partition = block, at most 128; its largest partition the engine's default unless given),
/// the decode worker off unless asked for.
public func makeBenchEngine(_ model: TimbreModel, rate: Int, polyphony: Int, block: Int, timbre: [Float],
                            decoderThread: Bool = false, decoderThreadPriority: Int32 = 0,
                            reverbLargestPartitionSamples: Int? = nil) -> Engine {
    var settings = EngineSettings()
    if let largest = reverbLargestPartitionSamples { settings.reverbLargestPartitionSamples = largest }
    settings.decoderThread = decoderThread
    settings.decoderThreadPriority = decoderThreadPriority
    settings.sampleRate = Double(rate)
    settings.polyphony = polyphony
    settings.maxBlockFrames = block
    settings.reverbPartition = min(block, 128)
    return Engine(model: model, settings: settings, timbre: timbre)
}

/// Sleeps until the monotonic clock (`DispatchTime`'s uptime) reaches `uptimeNanoseconds`.
func sleepUntil(uptimeNanoseconds target: UInt64) {
    let now = DispatchTime.now().uptimeNanoseconds
    guard target > now else { return }
    let wait = target - now
    var ts = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
    nanosleep(&ts, nil)
}

/// `timbred bench --reverb-alone`: the reverb's convolver by itself (the model's IR at `rate`,
/// partition size `partition`), one `block`-sample call per block, back to back, each call timed.
/// Per largest partition (P: the uniform convolver of before issue 17): mean, 99th percentile
/// and largest call in µs, and the mean per block phase (block index mod the largest partition's
/// blocks), which shows whether the large partitions' work is spread evenly.
public func measureReverbAlone(model: TimbreModel, rate: Int, block: Int, partition: Int, largestPartitions: [Int],
                               seconds: Double, rounds: Int) {
    let ir = resample(ir: model.reverbIR, from: Double(model.config.sampleRate), to: Double(rate))
    print("reverb alone: IR \(ir.count) samples at \(rate) Hz, \(block)-sample blocks, partition \(partition), "
          + "\(seconds) s per point, \(rounds) rounds alternating")
    print("round  largest  segments (taps x count)            mean us  p99 us  max us  load%   mean us per block phase")
    let convolvers = largestPartitions.map {
        PartitionedConvolver(impulseResponse: ir, partitionSize: partition, maximumPartitionSamples: $0)
    }
    let input = UnsafeMutablePointer<Float>.allocate(capacity: block)
    let output = UnsafeMutablePointer<Float>.allocate(capacity: block)
    defer { input.deallocate(); output.deallocate() }
    var noise = WhiteNoise(seed: 1)
    for i in 0..<block { input[i] = 0.1 * noise.next() }
    let blockCount = max(1, Int(seconds * Double(rate)) / block)
    var times = [UInt64](repeating: 0, count: blockCount)
    for round in 0..<rounds {
        for convolver in convolvers {
            let phases = max(1, convolver.maximumPartitionSamples / block)
            for _ in 0..<(2 * phases + 7) { convolver.process(input, output: output, count: block) }
            for b in 0..<blockCount {
                let start = DispatchTime.now().uptimeNanoseconds
                convolver.process(input, output: output, count: block)
                times[b] = DispatchTime.now().uptimeNanoseconds - start
            }
            let mean = Double(times.reduce(0, +)) / Double(blockCount) / 1000
            let (p99, worst) = percentile99AndMax(times)
            var phaseSum = [Double](repeating: 0, count: min(phases, 16))
            var phaseCount = [Int](repeating: 0, count: phaseSum.count)
            for b in 0..<blockCount where phases <= 16 {
                phaseSum[b % phases] += Double(times[b]) / 1000
                phaseCount[b % phases] += 1
            }
            let layout = convolver.segments.map { "\($0.partitionSamples)x\($0.partitionCount)" }.joined(separator: " ")
            let perPhase = phases <= 16
                ? zip(phaseSum, phaseCount).map { String(format: "%.0f", $0 / Double(max($1, 1))) }.joined(separator: " ")
                : "(\(phases) phases)"
            let budgetUS = Double(block) / Double(rate) * 1e6
            print(String(format: "%5d  %7d  %-34@  %7.1f  %6.1f  %6.1f  %5.1f   ", round + 1, convolver.maximumPartitionSamples,
                         layout, mean, p99, worst, mean / budgetUS * 100) + perPhase)
        }
    }
}
