import ArgumentParser
import Control
import CRealtime
import Engine
import Foundation
import MIDI

/// `timbred check-realtime`: renders blocks with every kind of event inside RealtimeSanitizer's
/// real-time regions. Built with `-fsanitize=realtime` (scripts/rtsan-check), any allocation,
/// lock or system call in the render path aborts with a report; with the decode worker on (the
/// default), the worker computes every job inside its own real-time region too.
struct CheckRealtimeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-realtime",
        abstract: "Render under RealtimeSanitizer's real-time regions (use a -fsanitize=realtime build).")

    @Option(help: "Model file (default: models/default.safetensors).")
    var model: String?

    @Option(help: "Blocks to render.")
    var blocks: Int = 5000

    @Option(help: "Frames per block.")
    var block: Int = 64

    @Flag(help: "Fail unless the RealtimeSanitizer runtime is linked in.")
    var requireSanitizer = false

    @Option(help: "Decode frames ahead on the worker thread (true, the default) or in the render call (false).")
    var decoderThread: Bool = true

    mutating func run() throws {
        if requireSanitizer && timbred_rt_sanitizer_active() == 0 {
            FileHandle.standardError.write(Data("timbred check-realtime: not built with -fsanitize=realtime\n".utf8))
            throw ExitCode(1)
        }
        let m = try loadModel(try Resources.modelPath(model))
        var settings = EngineSettings()
        settings.maxBlockFrames = block
        settings.polyphony = 8
        settings.decoderThread = decoderThread
        let engine = Engine(model: m, settings: settings, timbre: m.latentMeans[0])
        let pattern = Engine.exerciseEvents
        let events = UnsafeMutablePointer<TimedMIDIEvent>.allocate(capacity: pattern.count)
        for (i, e) in pattern.enumerated() { (events + i).initialize(to: TimedMIDIEvent(offset: (i * 7) % block, event: e)) }
        let left = UnsafeMutablePointer<Float>.allocate(capacity: block)
        let right = UnsafeMutablePointer<Float>.allocate(capacity: block)
        let empty = UnsafeBufferPointer<TimedMIDIEvent>(start: nil, count: 0)
        // a warp that tilts the line's brightness (as the control side's `MorphProfile` sends)
        var slope = SIMD32<Float>(), level = SIMD32<Float>()
        for j in 1..<(MorphTilt.count - 1) {
            slope[j] = 3 * sin(Float.pi * Float(j) / Float(MorphTilt.count - 1))
            level[j] = -slope[j]
        }
        guard let tilt = MorphTilt(dBPerOctave: slope, levelDB: level),
              let tilted = MorphWarp(positions: MorphWarp.identity.positions, tilts: (tilt, tilt, tilt)) else {
            fatalError("check-realtime: its tilted warp was refused")
        }
        var peak: Float = 0
        for b in 0..<blocks {
            let e = b % 20 == 0 ? UnsafeBufferPointer(start: events + (b / 20) % pattern.count, count: 1) : empty
            if b % 700 == 350 { _ = engine.commands.push(.setLatentDimension(index: 0, value: Float(b % 5) - 2)) }
            // the morph knob's corners (its line, along which every table blends) and the knob itself
            let means = m.latentMeans
            if b % 700 == 100 { _ = engine.commands.push(.setMorphPoint(corner: .a, point: LatentPoint(means[(b / 700) % means.count]))) }
            if b % 700 == 101 { _ = engine.commands.push(.setMorphPoint(corner: .b, point: LatentPoint(means[(b / 700 + 5) % means.count]))) }
            if b % 700 == 102 { _ = engine.commands.push(.setMorphWarp(tilted)) }
            if b % 50 == 25 { _ = engine.commands.push(.setMorph(Float(b % 1000) / 999)) }
            timbred_rt_enter()
            engine.render(frameCount: block, events: e, left: left, right: right)
            timbred_rt_exit()
            peak = max(peak, abs(left[0]))
            if b % 4 == 0 { usleep(100) }  // now and then the worker gets ahead of the callback
        }
        engine.waitForDecodeWorker()
        let w = engine.decodeWorkerStats
        if decoderThread && (!w.isRunning || w.jobsByWorker == 0) {
            FileHandle.standardError.write(Data("timbred check-realtime: the decode worker computed no job\n".utf8))
            throw ExitCode(1)
        }
        print("check-realtime: \(blocks) blocks of \(block) rendered in real-time regions "
              + "(sanitizer \(timbred_rt_sanitizer_active() == 1 ? "active" : "not linked")), peak \(peak); "
              + (decoderThread ? "decode worker: \(w.jobsByWorker) of \(w.jobsSubmitted) jobs computed in its real-time region "
                                 + "(\(w.jobsTakenByCallback + w.jobsAbandonedByCallback) by the callback)"
                               : "no decode worker"))
    }
}
