import CAllocCounter
import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

/// A million random MIDI events, garbage included, through the engine: the output must stay finite
/// and below 0 dBFS (issue 5, "Fuzzing"), and rendering must not allocate. One event in 25 is a
/// tuning message (issue 16): MIDI Tuning Standard SysEx of every form with random contents (some
/// cut short, some with garbage bytes or spans outside the store), master tuning, RPN 0,3/0,4
/// tuning program selects and RPN 0,6 MPE zone configurations (so the random CC 74, pressure and
/// bend also land on MPE member channels). About 40 s in a debug build on a 2-core machine: the cost
/// is the decoder run for the notes started at each distinct offset, hence few offsets per block.
final class HostileMIDITests: XCTestCase {
    static let eventCount = 1_000_000
    static let block = 64
    /// 5000 blocks of 64 frames (6.7 s at 48 kHz), each with 200 events on 1-3 sample offsets.
    static let eventsPerBlock = 200

    func testAMillionRandomEventsKeepTheOutputFiniteAndBelowFullScale() throws {
        let model = try TimbreModel(contentsOf: Fixtures.smallModel)
        var settings = EngineSettings()
        settings.maxBlockFrames = Self.block
        settings.polyphony = 4
        let engine = Engine(model: model, settings: settings, timbre: model.latentMeans[0], gainDB: 0)
        // Knobs on the paths a controller can reach, with ranges as wide as the engine allows.
        let z = model.config.zDim
        let maps: [(ControllerSource, ControllerMapping)] = [
            (.controller(1), ControllerMapping(target: .latent(dimension: 0), minimum: -4, maximum: 4)),
            (.controller(2), ControllerMapping(target: .latent(dimension: z - 1), minimum: -4, maximum: 4)),
            (.controller(74), ControllerMapping(target: .morph, minimum: 0, maximum: 1)),
            (.controller(11), ControllerMapping(target: .gainDB, minimum: -60, maximum: 12)),
            (.controller(91), ControllerMapping(target: .reverbMix, minimum: 0, maximum: 4)),
            (.controller(73), ControllerMapping(target: .attackScale, minimum: 0.05, maximum: 20, isLogarithmic: true)),
            (.controller(72), ControllerMapping(target: .releaseScale, minimum: 0.05, maximum: 20, isLogarithmic: true)),
            (.controller(71), ControllerMapping(target: .loudnessDB, minimum: -40, maximum: 12)),
            (.channelPressure, ControllerMapping(target: .padX, minimum: 0, maximum: 1)),
            (.polyPressure, ControllerMapping(target: .padY, minimum: 0, maximum: 1)),
        ]
        for (source, mapping) in maps {
            XCTAssertTrue(engine.commands.push(.mapController(source: source, mapping: mapping)))
        }
        for corner in MorphCorner.allCases {
            let far = (0..<z).map { d in Float(corner.rawValue * 3 - 7 + d) }
            XCTAssertTrue(engine.commands.push(.setMorphPoint(corner: corner, point: LatentPoint(far))))
        }

        var rng = SeededGenerator(seed: 0x7153_0005)
        var events = [TimedMIDIEvent](repeating: TimedMIDIEvent(offset: 0, event: .stop), count: Self.eventsPerBlock)
        var store: [UInt8] = []
        store.reserveCapacity(1 << 16)
        var allocations = 0
        var tuningEvents = 0
        var left = [Float](repeating: 0, count: Self.block), right = left
        var peak: Float = 0
        var sent = 0
        var blocks = 0
        while sent < Self.eventCount {
            let n = min(Self.eventsPerBlock, Self.eventCount - sent)
            // Events crowd onto a few sample offsets per block: each distinct offset splits the block
            // (a debug build pays per split), and crowds are the hostile case (many notes at once).
            let spots = (0..<3).map { _ in Self.randomOffset(&rng) }
            let used = 1 + Int(rng.next() % 3)
            store.removeAll(keepingCapacity: true)
            for i in 0..<n {
                let event = rng.next() % 25 == 0 ? Self.randomTuningEvent(&rng, store: &store) : Self.randomEvent(&rng)
                if case .systemExclusive = event { tuningEvents += 1 }
                events[i] = TimedMIDIEvent(offset: spots[Int(rng.next() % UInt64(used))], event: event)
            }
            events[0..<n].sort { $0.offset < $1.offset }
            events.withUnsafeBufferPointer { e in
                store.withUnsafeBufferPointer { bytes in
                    left.withUnsafeMutableBufferPointer { l in
                        right.withUnsafeMutableBufferPointer { r in
                            let before = timbred_alloc_count_thread()
                            engine.render(frameCount: Self.block, events: UnsafeBufferPointer(rebasing: e[0..<n]), sysEx: bytes,
                                          left: l.baseAddress!, right: r.baseAddress!)
                            allocations += Int(timbred_alloc_count_thread() - before)
                        }
                    }
                }
            }
            for i in 0..<Self.block {
                let l = left[i], r = right[i]
                guard l.isFinite, r.isFinite, abs(l) < 1, abs(r) < 1 else {
                    XCTFail("block \(blocks), sample \(i): left \(l), right \(r) (not finite or ≥ 0 dBFS)")
                    return
                }
                peak = max(peak, abs(l), abs(r))
            }
            sent += n
            blocks += 1
        }
        XCTAssertEqual(sent, Self.eventCount)
        XCTAssertGreaterThan(peak, 0.01, "the random notes made no sound: the test would prove nothing")
        XCTAssertEqual(allocations, 0, "heap allocations while rendering")
        XCTAssertGreaterThan(tuningEvents, 20_000)
        print("hostile MIDI: \(tuningEvents) tuning SysEx among \(sent) events, peak \(peak), \(allocations) allocations")
    }

    /// The shipped model's knobs turned as a restless player turns them: every latent dimension
    /// on its own CC over the presets' span and half a unit beyond, the morph knob between piano
    /// and violin, each walking in small random steps with an occasional jump (for the first 7 s
    /// only the morph knob, within the first 8 % of its travel: just off the piano), while notes
    /// of 1-3 s overlap. No 100 ms of output may carry a DC offset
    /// (|mean| ≥ 0.1) and none may stay above 0.95 of full scale for 10 ms, which no waveform above
    /// 20 Hz does. Before session 24 the noise's high-pass (single precision) grew a note held just
    /// off the piano into full-scale DC that the limiter held at 0.99999994: the test above, which
    /// asks only for |x| < 1 on the small model (no high-pass table), passed it.
    func testRestlessKnobsOnTheShippedModelNeverHoldDCOrFullScale() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        guard let piano = model.instrumentIndex(named: "piano"), let violin = model.instrumentIndex(named: "violin") else {
            throw XCTSkip("the model has no piano or violin")
        }
        let block = 256, sampleRate = 48_000.0, seconds = 14.0
        var settings = EngineSettings()
        settings.sampleRate = sampleRate
        settings.maxBlockFrames = block
        settings.polyphony = 4
        let engine = Engine(model: model, settings: settings, timbre: model.latentMeans[piano], gainDB: 0)
        let z = model.config.zDim, means = model.latentMeans
        for d in 0..<z {
            let values = means.map { $0[d] }
            XCTAssertTrue(engine.commands.push(.mapController(
                source: .controller(UInt8(70 + d)),
                mapping: ControllerMapping(target: .latent(dimension: d), minimum: values.min()! - 0.5,
                                           maximum: values.max()! + 0.5))))
        }
        XCTAssertTrue(engine.commands.push(.mapController(source: .controller(1),
                                                          mapping: ControllerMapping(target: .morph, minimum: 0, maximum: 1))))
        XCTAssertTrue(engine.commands.push(.setMorphPoint(corner: .a, point: LatentPoint(means[piano]))))
        XCTAssertTrue(engine.commands.push(.setMorphPoint(corner: .b, point: LatentPoint(means[violin]))))

        var rng = SeededGenerator(seed: 0x5E55_1024)
        // knob positions 0…127: the morph first (CC 1, just off the piano), then the latent CCs
        var knobs: [Double] = [4] + (0..<z).map { _ in Double(rng.next() % 128) }
        let sources: [UInt8] = [1] + (0..<z).map { UInt8(70 + $0) }
        var held: [(note: UInt8, endsAt: Int)] = []
        var out = [Float](), left = [Float](repeating: 0, count: block), right = left
        let blocks = Int(seconds * sampleRate) / block
        out.reserveCapacity(blocks * block)
        for b in 0..<blocks {
            var events: [TimedMIDIEvent] = []
            let now = b * block
            for (i, h) in held.enumerated().reversed() where h.endsAt <= now {
                events.append(TimedMIDIEvent(offset: 0, event: .noteOff(channel: 0, note: h.note, velocity: 0)))
                held.remove(at: i)
            }
            if b % 60 == 0 {
                let note = UInt8(36 + rng.next() % 60)
                events.append(TimedMIDIEvent(offset: 0, event: .noteOn(channel: 0, note: note,
                                                                       velocity: UInt8(30 + rng.next() % 98))))
                held.append((note, now + Int(sampleRate) * (1 + Int(rng.next() % 3))))
            }
            // the first half only the morph knob moves, near the piano; then every knob
            for k in knobs.indices where rng.next() % 3 == 0 && (k == 0 || b >= blocks / 2) {
                // the morph walks slowly (it lingers near the piano); the others faster, sometimes jumping
                let step = k == 0 ? Double(Int(rng.next() % 3) - 1) * 0.25 : Double(Int(rng.next() % 5) - 2)
                let top = k == 0 && b < blocks / 2 ? 10.0 : 127
                knobs[k] = rng.next() % 400 == 0 && k > 0 ? Double(rng.next() % 128) : min(max(knobs[k] + step, 0), top)
                events.append(TimedMIDIEvent(offset: 1, event: .controlChange(channel: 0, controller: sources[k],
                                                                              value: UInt8(knobs[k].rounded()))))
            }
            events.withUnsafeBufferPointer { e in
                left.withUnsafeMutableBufferPointer { l in
                    right.withUnsafeMutableBufferPointer { r in
                        engine.render(frameCount: block, events: e, left: l.baseAddress!, right: r.baseAddress!)
                    }
                }
            }
            out.append(contentsOf: left)
        }
        let window = Int(sampleRate / 10)
        var worstMean: Float = 0, longestNearFull = 0, run = 0, peak: Float = 0
        for w in stride(from: 0, to: out.count - window, by: window) {
            worstMean = max(worstMean, abs(out[w..<(w + window)].reduce(0, +) / Float(window)))
        }
        for x in out {
            XCTAssertTrue(x.isFinite)
            peak = max(peak, abs(x))
            run = abs(x) > 0.95 ? run + 1 : 0
            longestNearFull = max(longestNearFull, run)
        }
        print("restless knobs: peak \(peak), largest |mean| over 100 ms \(worstMean), longest run above 0.95: \(longestNearFull) samples")
        XCTAssertGreaterThan(peak, 0.01, "the notes made no sound: the test would prove nothing")
        XCTAssertLessThan(worstMean, 0.1, "a DC offset of \(worstMean) over 100 ms")
        XCTAssertLessThan(longestNearFull, Int(sampleRate / 100), "\(longestNearFull) samples in a row above 0.95 of full scale")
    }

    /// A tuning message: an MTS or master tuning SysEx with random contents appended to `store`
    /// (some cut short, some with garbage bytes, some spans reaching outside the store), or an
    /// RPN 0,3/0,4 selection or data entry. Allocates (outside the timed render).
    static func randomTuningEvent(_ rng: inout SeededGenerator, store: inout [UInt8]) -> MIDIEvent {
        let bits = rng.next()
        let channel = UInt8(truncatingIfNeeded: bits >> 8) & 0x0F
        func pitch() -> Double { Double(rng.next() % 1_400_000) / 10_000 - 6 }  // −6 … 134 semitones (clamped by the builders)
        func key() -> UInt8 { UInt8(rng.next() % 128) }
        var payload: [UInt8]
        switch bits % 12 {
        case 0: return .controlChange(channel: channel, controller: 101, value: 0)
        case 1: return .controlChange(channel: rng.next() % 2 == 0 ? channel : 0, controller: 100, value: UInt8(3 + rng.next() % 4))  // 0,3/0,4 tuning, 0,6 MPE zones
        case 2: return .controlChange(channel: channel, controller: 6, value: UInt8(rng.next() % 128))
        case 3:
            let changes = (0..<Int(rng.next() % 12)).map { _ in (key: key(), semitones: pitch()) }
            payload = MIDITuningMessage.singleNote(program: UInt8(rng.next() % 128), changes: changes,
                                                   bank: rng.next() % 2 == 0 ? nil : UInt8(rng.next() % 128),
                                                   realTime: rng.next() % 3 != 0)
        case 4:
            payload = MIDITuningMessage.bulkDump(program: UInt8(rng.next() % 128), pitches: (0..<128).map { _ in pitch() },
                                                 bank: rng.next() % 2 == 0 ? nil : UInt8(rng.next() % 128))
        case 5:
            payload = MIDITuningMessage.scaleOctave1Byte(channels: (0..<16).filter { _ in rng.next() % 2 == 0 },
                                                         cents: (0..<12).map { _ in Int(rng.next() % 128) - 64 }, realTime: rng.next() % 2 == 0)
        case 6:
            payload = MIDITuningMessage.scaleOctave2Byte(channels: (0..<16).filter { _ in rng.next() % 2 == 0 },
                                                         cents: (0..<12).map { _ in Double(rng.next() % 20_000) / 100 - 100 },
                                                         realTime: rng.next() % 2 == 0)
        case 7: payload = MIDITuningMessage.masterFine(cents: Double(rng.next() % 20_000) / 100 - 100)
        case 8: payload = MIDITuningMessage.masterCoarse(semitones: Int(rng.next() % 128) - 64)
        case 9: payload = [0x7E, 0x7F, 0x09, 0x01]  // GM System On
        default:
            // a tuning header with random bytes after it, any length
            let header: [UInt8] = [rng.next() % 2 == 0 ? 0x7E : 0x7F, UInt8(rng.next() % 128), rng.next() % 4 == 0 ? 0x04 : 0x08,
                                   UInt8(rng.next() % 12)]
            payload = header + (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        // cut short sometimes, or garbage above 0x7F in a data byte
        if rng.next() % 5 == 0 { payload = Array(payload.prefix(Int(rng.next() % UInt64(payload.count + 1)))) }
        if rng.next() % 7 == 0, !payload.isEmpty { payload[Int(rng.next() % UInt64(payload.count))] = UInt8(truncatingIfNeeded: rng.next()) | 0x80 }
        let offset = store.count
        store += payload
        var count = payload.count
        if rng.next() % 20 == 0 { count += Int(rng.next() % 3000) }  // a span past the store's end: ignored
        return .systemExclusive(MIDISysExSpan(byteOffset: UInt32(offset), byteCount: UInt32(count)))
    }

    /// Mostly inside the block, sometimes before or after it (the engine clamps those).
    static func randomOffset(_ rng: inout SeededGenerator) -> Int {
        switch rng.next() % 50 {
        case 0: return -Int(rng.next() % 1000) - 1
        case 1: return block + Int(rng.next() % 1000)
        default: return Int(rng.next() % UInt64(block))
        }
    }

    /// Every kind of event with random channels and values; some with fields out of their range
    /// (channel above 15, data above 127, bend above 16383), as no decoder produces them.
    static func randomEvent(_ rng: inout SeededGenerator) -> MIDIEvent {
        let bits = rng.next()
        let garbage = bits % 16 == 0
        let channel = UInt8(truncatingIfNeeded: bits >> 8) & (garbage ? 0xFF : 0x0F)
        let a = UInt8(truncatingIfNeeded: bits >> 16) & (garbage ? 0xFF : 0x7F)
        let b = UInt8(truncatingIfNeeded: bits >> 24) & (garbage ? 0xFF : 0x7F)
        let wide = UInt16(truncatingIfNeeded: bits >> 32) & (garbage ? 0xFFFF : 0x3FFF)
        // Controllers that do something (pedals, RPN, modes, mapped knobs) come up more often.
        let interesting: [UInt8] = [0, 1, 2, 6, 11, 32, 38, 64, 66, 71, 72, 73, 74, 91, 98, 99, 100, 101,
                                    120, 121, 123, 124, 125, 126, 127]
        switch (bits >> 48) % 100 {
        case 0..<16: return .noteOn(channel: channel, note: a, velocity: b % 8 == 0 ? 0 : b)
        case 16..<28: return .noteOff(channel: channel, note: a, velocity: b)
        case 28..<44:
            return .controlChange(channel: channel, controller: interesting[Int(a) % interesting.count], value: b)
        case 44..<56: return .controlChange(channel: channel, controller: a, value: b)
        case 56..<68: return .pitchBend(channel: channel, value: wide)
        case 68..<76: return .channelPressure(channel: channel, pressure: a)
        case 76..<84: return .polyPressure(channel: channel, note: a, pressure: b)
        case 84..<90: return .programChange(channel: channel, program: a)
        default:
            let system: [MIDIEvent] = [
                .systemExclusive(MIDISysExSpan(byteOffset: UInt32(truncatingIfNeeded: bits), byteCount: UInt32(b))),
                .timeCodeQuarterFrame(a), .songPosition(beats: wide), .songSelect(a), .tuneRequest, .timingClock,
                .start, .continue, .stop, .activeSensing, .systemReset,
            ]
            return system[Int(b) % system.count]
        }
    }
}
