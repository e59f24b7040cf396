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
    public func measureStages(blockSizes: [Int], voiceCounts: [Int], workerModes: [Bool] = [false], paced: Bool = false,
                              workerPriority: Int32 = 0) {
        let timbreModel = model
        print("block  voices  worker  us/block  load%   decoder  oscill.  noise   reverb   (us/block, callback)   worker us  worker%  jobs: worker/callback")
        for block in blockSizes {
            var best: [Bool: Int] = [:]
            var bestWorkerLoad: [Bool: Double] = [:]
            for n in voiceCounts {
                for withWorker in workerModes {
                    let engine = makeBenchEngine(timbreModel, rate: rate, polyphony: n, block: block, timbre: z,
                                                 decoderThread: withWorker, decoderThreadPriority: workerPriority)
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
                    for _ in 0..<blockCount {
                        if paced { sleepUntil(uptimeNanoseconds: next) }
                        let start = DispatchTime.now().uptimeNanoseconds
                        engine.render(frameCount: block, events: none, left: left, right: right)
                        busy += DispatchTime.now().uptimeNanoseconds - start
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
                    print(String(format: "%5d  %6d  %6@  %8.1f  %5.1f", block, engine.activeVoiceCount, withWorker ? "on" : "off",
                                 perBlockUS, load),
                          " ", us(st.decoder), " ", us(st.oscillators), " ", us(st.noise), " ", us(st.reverb), "                ",
                          workerColumns)
                    if load <= budget && engine.activeVoiceCount == n && workerLoad <= 100 && n > (best[withWorker] ?? 0) {
                        best[withWorker] = n
                        bestWorkerLoad[withWorker] = workerLoad
                    }
                }
            }
            for withWorker in workerModes {
                let n = best[withWorker] ?? 0
                print("block \(block): largest measured polyphony with the callback within \(Int(budget)) % of one core, "
                      + (withWorker ? "decode worker on: \(n) voices (the worker at "
                                      + String(format: "%.0f", bestWorkerLoad[withWorker] ?? 0) + " % of the other core)"
                                    : "decoding in the callback: \(n) voices"))
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


/// An engine prepared as the benchmarks run it: `rate` Hz, `block`-frame blocks, the reverb on
/// (partition = block, at most 128), the decode worker off unless asked for.
public func makeBenchEngine(_ model: TimbreModel, rate: Int, polyphony: Int, block: Int, timbre: [Float],
                            decoderThread: Bool = false, decoderThreadPriority: Int32 = 0) -> Engine {
    var settings = EngineSettings()
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
