import Control
import Engine
import Foundation
import MIDI
import Model

/// `timbred bench --soak-load`: the soak test's MIDI (tools/soak/soak_load.c) played through the
/// engine alone, with the daemon's default controller map, and each block's thread CPU time
/// measured: what the engine's own work costs per period under that load, apart from everything
/// a live system adds (JACK, other clients, the machine's stalls).
public struct SoakLoadReplay {
    public let model: TimbreModel
    public let rate: Int
    public let block: Int
    public let seconds: Double
    public let polyphony = 32
    /// With the decode worker (frame n+2 decoded on its own thread).
    public let decoderThread: Bool
    /// Blocks on a real-time grid (one period apart, as JACK's cycles), else back to back.
    public let paced: Bool

    public init(model: TimbreModel, rate: Int, block: Int, seconds: Double, decoderThread: Bool = false, paced: Bool = false) {
        self.model = model
        self.rate = rate
        self.block = block
        self.seconds = seconds
        self.decoderThread = decoderThread
        self.paced = paced
    }

    /// A deterministic pseudo-random sequence (xorshift64*).
    struct Random {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        mutating func next(_ n: Int) -> Int {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return Int((state &* 0x2545_F491_4F6C_DD1D) >> 33) % max(n, 1)
        }
    }

    /// Thread CPU time in nanoseconds.
    static func threadCPUNanoseconds() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return t.tv_sec * 1_000_000_000 + t.tv_nsec
    }

    /// Replays the load and prints the CPU time per block (median, tails, blocks over the period).
    public func run() {
        let means = model.latentMeans
        let engine = makeBenchEngine(model, rate: rate, polyphony: polyphony, block: block, timbre: means[0],
                                     decoderThread: decoderThread)
        let periodNS = UInt64(Double(block) / Double(rate) * 1e9)
        var next = DispatchTime.now().uptimeNanoseconds
        // the daemon's default map, morph between the first two presets (instrument points), with
        // the line's warp and brightness tilt
        let resolved = ControllerMapSpec.resolve(ControllerMapSpec.defaults, latentMeans: means, skipMissingDimensions: true)
        for (source, mapping) in resolved.mappings { _ = engine.commands.push(.mapController(source: source, mapping: mapping)) }
        _ = engine.commands.push(.setMorphPoint(corner: .a, point: LatentPoint(means[0])))
        _ = engine.commands.push(.setMorphPoint(corner: .b, point: LatentPoint(means[min(1, means.count - 1)])))
        _ = engine.commands.push(.setMorphWarp(MorphProfile.warp(model: model, from: means[0],
                                                                 to: means[min(1, means.count - 1)])))

        let left = UnsafeMutablePointer<Float>.allocate(capacity: block)
        let right = UnsafeMutablePointer<Float>.allocate(capacity: block)
        defer { left.deallocate(); right.deallocate() }
        func frames(_ ms: Double) -> Int { Int(ms * Double(rate) / 1000) }
        func lfo(_ f: Int, _ seconds: Double, _ phase: Double) -> Double {
            0.5 + 0.5 * sin(2 * Double.pi * (Double(f) / Double(rate) / seconds + phase))
        }
        var random = Random()
        var offs: [(frame: Int, note: UInt8)] = []
        var nextChord = 0, nextRepeat = 0, nextArp = 0, nextCC = 0, nextPedal = 0
        var nextProgram = frames(4000), nextPanic = frames(30000)
        var repeatCount = 0, arpStep = 0, arpDirection = 3, pedalDown = false, program = 0
        var events: [TimedMIDIEvent] = []
        events.reserveCapacity(256)
        let blockCount = Int(seconds * Double(rate)) / block
        // TIMBRED_BENCH_TRACE=1 prints every block over 800 us; a number above 1 is the threshold in us
        let trace = ProcessInfo.processInfo.environment["TIMBRED_BENCH_TRACE"]
        let traceThresholdUS: Double? = trace.map { v in Double(v).flatMap { $0 > 1 ? $0 : nil } ?? 800 }
        engine.profileStages = trace != nil
        var cpu: [Double] = []
        var framesPerBlock = [Int](repeating: 0, count: 65)  // blocks by decoder frames decoded (64 = 64 or more)
        cpu.reserveCapacity(blockCount)
        var notes = 0
        for b in 0..<blockCount {
            events.removeAll(keepingCapacity: true)
            let start = b * block
            for i in 0..<block {
                let f = start + i
                func put(_ e: MIDIEvent) { events.append(TimedMIDIEvent(offset: i, event: e)) }
                func noteOn(_ note: Int, _ velocity: Int, holdMs: Double) {
                    put(.noteOn(channel: 0, note: UInt8(note), velocity: UInt8(velocity)))
                    offs.append((f + frames(holdMs), UInt8(note)))
                    notes += 1
                }
                offs.removeAll { off in
                    if off.frame <= f { put(.noteOff(channel: 0, note: off.note, velocity: 0)); return true }
                    return false
                }
                if f >= nextChord {  // a chord of 4-6 notes, held 1-2 s, every 250-500 ms
                    let size = 4 + random.next(3), root = 40 + random.next(36)
                    let shape = [0, 4, 7, 11, 14, 17]
                    let hold = 1000 + Double(random.next(1000))
                    for k in 0..<size { noteOn(root + shape[k], 60 + random.next(60), holdMs: hold) }
                    nextChord = f + frames(250 + Double(random.next(250)))
                }
                if f >= nextRepeat {  // one note every 25 ms, 15 ms long
                    noteOn(72 + repeatCount % 3, 50 + random.next(77), holdMs: 15)
                    repeatCount += 1
                    nextRepeat = f + frames(25)
                }
                if f >= nextArp {  // 24 notes/s up and down three octaves, 600 ms each
                    noteOn(48 + arpStep, 70 + random.next(50), holdMs: 600)
                    arpStep += arpDirection
                    if arpStep >= 36 || arpStep <= 0 { arpDirection = -arpDirection }
                    nextArp = f + frames(1000.0 / 24)
                }
                if f >= nextPedal {  // sustain (and sostenuto) down 3 s, up 2 s
                    pedalDown.toggle()
                    put(.controlChange(channel: 0, controller: 64, value: pedalDown ? 127 : 0))
                    put(.controlChange(channel: 0, controller: 66, value: pedalDown ? 127 : 0))
                    nextPedal = f + frames(pedalDown ? 3000 : 2000)
                }
                if f >= nextCC {  // every mapped controller every 20 ms
                    for k in 0..<8 {
                        put(.controlChange(channel: 0, controller: UInt8(70 + k), value: UInt8(127 * lfo(f, 1.3 + 0.7 * Double(k), 0.1 * Double(k)))))
                    }
                    put(.controlChange(channel: 0, controller: 1, value: UInt8(127 * lfo(f, 5, 0))))
                    put(.controlChange(channel: 0, controller: 7, value: UInt8(90 + 37 * lfo(f, 7, 0.3))))
                    put(.controlChange(channel: 0, controller: 11, value: UInt8(80 + 47 * lfo(f, 3, 0.6))))
                    put(.controlChange(channel: 0, controller: 91, value: UInt8(127 * lfo(f, 11, 0.2))))
                    put(.channelPressure(channel: 0, pressure: UInt8(127 * lfo(f, 2, 0.5))))
                    put(.pitchBend(channel: 0, value: UInt16(8192 + 4000 * (lfo(f, 0.9, 0) - 0.5))))
                    nextCC = f + frames(20)
                }
                if f >= nextProgram {  // a program change: the daemon sends the preset's point
                    program += 1
                    _ = engine.commands.push(.setTimbre(LatentPoint(means[program % means.count])))
                    nextProgram = f + frames(4000)
                }
                if f >= nextPanic {  // all notes off (pedal-held notes stay)
                    put(.controlChange(channel: 0, controller: 123, value: 0))
                    nextPanic = f + frames(30000)
                }
            }
            let before = engine.stageNanoseconds, decodedBefore = engine.decodedFrameCount
            if paced { sleepUntil(uptimeNanoseconds: next) }
            next += periodNS
            let t0 = Self.threadCPUNanoseconds()
            events.withUnsafeBufferPointer { engine.render(frameCount: block, events: $0, left: left, right: right) }
            cpu.append(Double(Self.threadCPUNanoseconds() - t0) / 1000)
            let decoded = engine.decodedFrameCount - decodedBefore
            framesPerBlock[min(decoded, framesPerBlock.count - 1)] += 1
            if let traceUS = traceThresholdUS, cpu.last! > traceUS {
                let st = engine.stageNanoseconds
                let ons = events.filter { if case .noteOn = $0.event { return true } else { return false } }.count
                print(String(format: "block %d: %.0f us; %d events, %d note-ons; %d frames decoded in %.0f us, oscillators %.0f, noise %.0f, reverb %.0f; voices %d; the callback's own decodes: gather %.0f, step %.0f, scatter %.0f",
                             b, cpu.last!, events.count, ons, decoded, Double(st.decoder - before.decoder) / 1000,
                             Double(st.oscillators - before.oscillators) / 1000, Double(st.noise - before.noise) / 1000,
                             Double(st.reverb - before.reverb) / 1000, engine.activeVoiceCount,
                             Double(st.gather - before.gather) / 1000, Double(st.step - before.step) / 1000, Double(st.scatter - before.scatter) / 1000))
            }
        }
        let sorted = cpu.sorted()
        func quantile(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))] }
        let periodUS = Double(block) / Double(rate) * 1e6
        func line(_ name: String, _ us: Double) -> String { String(format: "%@ %.0f us (%.1f %%)", name, us, us / periodUS * 100) }
        let over = cpu.filter { $0 > periodUS }.count
        let w = engine.decodeWorkerStats
        print("soak load replayed through the engine alone: \(rate) Hz, \(block)-frame blocks, polyphony \(polyphony), "
              + (decoderThread ? "decode worker on" : "decoding in the callback") + (paced ? ", paced in real time" : ", back to back")
              + String(format: ", %.0f s, %d notes; the callback's CPU time per block: ", seconds, notes)
              + [line("median", quantile(0.5)), line("p99", quantile(0.99)), line("p99.9", quantile(0.999)),
                 line("p99.99", quantile(0.9999)), line("largest", sorted.last ?? 0)].joined(separator: ", ")
              + "; blocks over the period: \(over) of \(cpu.count)")
        // decoder frames per block: the engine's work bound, whatever the machine's speed
        let most = framesPerBlock.lastIndex { $0 > 0 } ?? 0
        let tail = (max(0, most - 3)...most).map { "\($0): \(framesPerBlock[$0])" }.joined(separator: ", ")
        print("  decoder frames per block (handed to the worker or decoded in the callback): mean "
              + String(format: "%.2f", Double(engine.decodedFrameCount) / Double(cpu.count))
              + ", most \(most) (blocks decoding \(tail))")
        if decoderThread {
            print(String(format: "  decode worker: %.1f us per block (%.1f %% of its core), %d jobs computed by it, %d by the callback "
                         + "(%d before it started, %d while it was on them)",
                         Double(w.workerBusyNanoseconds) / Double(cpu.count) / 1000,
                         Double(w.workerBusyNanoseconds) / Double(cpu.count) / 1000 / periodUS * 100, w.jobsByWorker,
                         w.jobsTakenByCallback + w.jobsAbandonedByCallback, w.jobsTakenByCallback, w.jobsAbandonedByCallback))
        }
    }
}
