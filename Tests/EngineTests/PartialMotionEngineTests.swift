import DSP
@testable import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

/// The engine with partial motion (a model with `motion.*` tensors, docs/model-format.md,
/// "Partial motion"): a held note's partials move by the table's depth around the decoder's
/// course, not before 100 ms, without changing the level, the same with and without the decode
/// worker, and without allocating.
final class PartialMotionEngineTests: XCTestCase {
    let depthDB: Float = 4
    let rho: Float = 0.8

    /// The small model with partial motion: instrument 0 moving by `depthDB` in every group of
    /// partials, the others still.
    func smallModel(smoothing: Float? = nil, driftCutHz: Float? = nil) throws -> TimbreModel {
        try motionModel(smoothing: smoothing, driftCutHz: driftCutHz)
    }

    /// The small model whose instrument 0 moves by `depthDB` in every group (ρ = `rho`), the others
    /// still; with `vibratoCents` > 0 a vibrato of that depth at 5 Hz, `lock` of the motion
    /// following it (nil: no lock tensor) and the groups' `tilt` (nil: none).
    func motionModel(smoothing: Float? = nil, vibratoCents: Float = 0, lock: Float? = nil,
                     tilt: [Float]? = nil, driftCutHz: Float? = nil) throws -> TimbreModel {
        let m = try TimbreModel(contentsOf: Fixtures.smallModel)
        let edges = [1, 2, 4, 8, 1000]
        let g = edges.count - 1, n = m.config.instrumentCount
        var depth = [Float](repeating: 0, count: n * g), correlation = [Float](repeating: 0.5, count: n)
        for x in 0..<g { depth[x] = depthDB }
        correlation[0] = rho
        var vc = [Float](repeating: 0, count: n), vh = [Float](repeating: 0, count: n)
        vc[0] = vibratoCents
        vh[0] = 5
        var locks = [Float](repeating: 0, count: n * g)
        for x in 0..<g { locks[x] = lock ?? 0 }
        let table = PartialMotionTable(instrumentCount: n, zDim: m.config.zDim, harmonicEdges: edges, depthDB: depth,
                                       correlation: correlation, vibratoCents: vibratoCents > 0 ? vc : [],
                                       vibratoHz: vibratoCents > 0 ? vh : [],
                                       smoothing: smoothing.map { [Float](repeating: $0, count: n) } ?? [],
                                       vibratoLock: lock == nil ? [] : locks,
                                       vibratoTilt: tilt.map { $0 + [Float](repeating: 0, count: (n - 1) * g) } ?? [],
                                       driftCutHz: driftCutHz.map { [Float](repeating: $0, count: n) } ?? [],
                                       latentMeans: m.latentMeans.flatMap { $0 },
                                       blendScale: 0.5, blendRule: .inverseDistance)
        return m.with(motion: table)
    }

    func makeEngine(_ model: TimbreModel, instrument: Int = 0, worker: Bool = false) -> Engine {
        var s = EngineSettings()
        s.sampleRate = 48000
        s.maxBlockFrames = 64
        s.polyphony = 4
        s.decoderThread = worker
        return Engine(model: model, settings: s, timbre: model.latentMeans[instrument], gainDB: -20, reverbIR: [0, 0])
    }

    /// A4 at velocity 100 from sample 480, held.
    let events: [(Int, MIDIEvent)] = [(480, .noteOn(channel: 0, note: 69, velocity: 100))]

    /// Level in dB of partial k (at k·440 Hz) in each 1024-sample Hann frame, hop 480, over `range`.
    func partialLevelsDB(_ x: [Float], k: Int, range: Range<Int>) -> [Double] {
        let n = 1024, fft = RealFFT(size: n)
        let bin = Int((Double(k) * 440 * Double(n) / 48000).rounded())
        return stride(from: range.lowerBound, to: range.upperBound - n, by: 480).map { start in
            for i in 0..<n {
                fft.samples[i] = Float(0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))) * x[start + i]
            }
            fft.forward()
            var p = 0.0
            for b in bin - 1 ... bin + 1 {
                p += Double(fft.spectrum[2 * b] * fft.spectrum[2 * b] + fft.spectrum[2 * b + 1] * fft.spectrum[2 * b + 1])
            }
            return 10 * log10(p + 1e-30)
        }
    }

    func testHeldPartialsMoveByTheTablesDepthAfterTheAttackAtTheSameLevel() throws {
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        let frames = 240_000
        let still = renderMono(makeEngine(plain), frames: frames, block: 64, events: events)
        let moving = renderMono(makeEngine(try smallModel()), frames: frames, block: 64, events: events)
        XCTAssertEqual(renderMono(makeEngine(try smallModel(), instrument: 1), frames: frames, block: 64, events: events),
                       renderMono(makeEngine(plain, instrument: 1), frames: frames, block: 64, events: events),
                       "an instrument without motion plays as a model without the table")
        // the first 100 ms (10 frames) are the decoder's alone
        let attack = 0 ..< 480 + 4800
        XCTAssertEqual(Array(moving[attack]), Array(still[attack]), "the motion started before 100 ms")
        XCTAssertNotEqual(Array(moving[24_000 ..< 26_000]), Array(still[24_000 ..< 26_000]), "the held note does not move")
        let held = 480 + 19_200 ..< frames  // 400 ms on
        var stds: [Double] = []
        for k in 1...6 {
            let a = partialLevelsDB(moving, k: k, range: held), b = partialLevelsDB(still, k: k, range: held)
            let d = zip(a, b).map { $0 - $1 }
            let mean = d.reduce(0, +) / Double(d.count)
            let std = (d.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d.count)).squareRoot()
            stds.append(std)
        }
        func rmsDB(_ x: [Float]) -> Double { 10 * log10(x[held].reduce(0.0) { $0 + Double($1 * $1) } / Double(held.count)) }
        let heldDB = rmsDB(moving) - rmsDB(still)
        let meanStd = stds.reduce(0, +) / Double(stds.count)
        // the held level, frame by frame (10 ms), against the still note's
        func energyDB(_ x: [Float], _ i: Int) -> Double {
            var sum = 0.0
            for j in i ..< i + 480 { sum += Double(x[j]) * Double(x[j]) }
            return 10 * log10(sum + 1e-30)
        }
        let frameLevels: [Double] = stride(from: held.lowerBound, to: held.upperBound - 480, by: 480).map { i in
            energyDB(moving, i) - energyDB(still, i)
        }
        let levelMean = frameLevels.reduce(0, +) / Double(frameLevels.count)
        let squares: [Double] = frameLevels.map { ($0 - levelMean) * ($0 - levelMean) }
        let levelStd = (squares.reduce(0, +) / Double(frameLevels.count)).squareRoot()
        print("partial motion through the engine: partials 1-6 move by \(stds.map { String(format: "%.2f", $0) }) dB, "
              + "mean \(meanStd) (table \(depthDB) dB; the 21 ms analysis window smooths it a little, and each "
              + "frame's partials are scaled to keep its power); the level moves by \(levelStd) dB; held level "
              + "\(heldDB) dB on average")
        // each partial's 4.6 s is about 50 independent draws of a process this correlated
        XCTAssertEqual(meanStd, Double(depthDB), accuracy: 0.9)
        for s in stds { XCTAssertEqual(s, Double(depthDB), accuracy: 1.6) }
        XCTAssertLessThan(levelStd, 0.3, "the level moved: only the shape should")
        XCTAssertEqual(heldDB, 0, accuracy: 1.0, "the motion changed the held level")
    }

    /// How a held A4's partials 1-6 move against the same note played `still` (without motion),
    /// over `held`, dB, averaged over the partials: their standard deviation, the root mean square
    /// of their change from one 10 ms frame to the next, and the standard deviation of their level
    /// averaged over 50 frames (0.5 s), sliding.
    func heldMotion(_ model: TimbreModel, still: [Float], frames: Int, held: Range<Int>)
        -> (std: Double, step: Double, slow: Double) {
        let x = renderMono(makeEngine(model), frames: frames, block: 64, events: events)
        var std = 0.0, step = 0.0, slow = 0.0
        for k in 1...6 {
            let d = zip(partialLevelsDB(x, k: k, range: held), partialLevelsDB(still, k: k, range: held)).map { $0 - $1 }
            let mean = d.reduce(0, +) / Double(d.count)
            std += (d.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d.count)).squareRoot() / 6
            let steps = zip(d.dropFirst(), d).map { ($0 - $1) * ($0 - $1) }
            step += (steps.reduce(0, +) / Double(steps.count)).squareRoot() / 6
            let averaged = (0...(d.count - 50)).map { i in d[i ..< i + 50].reduce(0, +) / 50 - mean }
            slow += (averaged.map { $0 * $0 }.reduce(0, +) / Double(averaged.count)).squareRoot() / 6
        }
        return (std, step, slow)
    }

    /// With the smoother (`motion.smoothing`, β = 0.8) the held partials still move by the table's
    /// depth, but slowly: their level changes from one 10 ms frame to the next by well under the
    /// first-order process's change, so a partial spreads less into its neighbours' bands.
    func testTheSmootherKeepsTheDepthAndSlowsTheMotion() throws {
        let frames = 240_000, held = 480 + 19_200 ..< frames
        let still = renderMono(makeEngine(try TimbreModel(contentsOf: Fixtures.smallModel)), frames: frames, block: 64,
                               events: events)
        func motion(_ model: TimbreModel) -> (std: Double, step: Double, slow: Double) {
            heldMotion(model, still: still, frames: frames, held: held)
        }
        let plain = motion(try smallModel()), smooth = motion(try smallModel(smoothing: 0.8))
        print("partial motion, first-order: \(plain.std) dB, frame-to-frame \(plain.step) dB; "
              + "smoothed (β 0.8): \(smooth.std) dB, frame-to-frame \(smooth.step) dB")
        XCTAssertEqual(smooth.std, Double(depthDB), accuracy: 1.2)
        XCTAssertLessThan(smooth.step, 0.6 * plain.step)
    }

    /// With the drift cut (`motion.drift_cut_hz`, 2 Hz) the held partials still move by the table's
    /// depth, but a partial's level averaged over 0.5 s wanders by well under the uncut walk's
    /// (the walk's share under 2 Hz: a timbre that drifts for seconds), and a cut of 0 plays as a
    /// file without the tensor.
    func testTheDriftCutKeepsTheDepthAndTakesTheSlowWanderOut() throws {
        let frames = 480_000, held = 480 + 19_200 ..< frames
        let still = renderMono(makeEngine(try TimbreModel(contentsOf: Fixtures.smallModel)), frames: frames, block: 64,
                               events: events)
        func motion(_ model: TimbreModel) -> (std: Double, step: Double, slow: Double) {
            heldMotion(model, still: still, frames: frames, held: held)
        }
        let plain = motion(try smallModel()), cut = motion(try smallModel(driftCutHz: 2))
        print("partial motion, uncut: \(plain.std) dB, over 0.5 s \(plain.slow) dB; "
              + "drift cut at 2 Hz: \(cut.std) dB, over 0.5 s \(cut.slow) dB")
        XCTAssertEqual(cut.std, Double(depthDB), accuracy: 0.9)
        XCTAssertLessThan(cut.slow, 0.6 * plain.slow)
        XCTAssertEqual(renderMono(makeEngine(try smallModel(driftCutHz: 0)), frames: 60_000, block: 64, events: events),
                       renderMono(makeEngine(try smallModel()), frames: 60_000, block: 64, events: events),
                       "a drift cut of 0 plays as no cut")
    }

    /// A blend's far instruments give a cut of a few µHz, whose pole rounds to 1 in a float, where
    /// the variance divides by 0 (the soak's morphs went silent for seconds): under
    /// `minDriftCutHz` the walk plays uncut, its gains finite and the same as without a cut.
    func testATinyDriftCutPlaysAsNone() {
        let edges = [1, 9], depth: [Float] = [4]
        let tiny = PartialMotion(harmonicCount: 8), none = PartialMotion(harmonicCount: 8)
        tiny.start(seed: 7)
        none.start(seed: 7)
        edges.withUnsafeBufferPointer { e in
            for frame in 2..<300 {
                tiny.advance(nextFrame: frame, frameRate: 100, edges: e, depthDB: depth, rho: 0.8, beta: 0.5,
                             driftCutHz: 3e-7)
                none.advance(nextFrame: frame, frameRate: 100, edges: e, depthDB: depth, rho: 0.8, beta: 0.5)
                for k in 0..<8 {
                    XCTAssertTrue(tiny.gains.next[k].isFinite, "frame \(frame)")
                    XCTAssertEqual(tiny.gains.next[k], none.gains.next[k], "frame \(frame)")
                }
            }
        }
    }

    /// The engine's closed form of the cut walk's variance is the NumPy twin's
    /// (`motion.drift_cut_variance`) and the chain's own: the summed squares of its impulse
    /// response, where poles coincide too.
    func testTheDriftCutVarianceIsTheChainsOwn() {
        // motion.drift_cut_variance(0.86, 0.0, motion.drift_pole(2.0, 100.0)) and (0.6, 0.8, pole(3.0))
        XCTAssertEqual(PartialMotion.driftCutVariance(rho: 0.86, beta: 0, pole: exp(-2 * Double.pi * 2 / 100)),
                       0.479_060_69, accuracy: 1e-8)
        for (rho, beta, pole) in [(0.8, 0.8, 0.8), (0.9, 0.0, 0.9), (0.6, 0.8, exp(-2 * Double.pi * 3 / 100)),
                                  (0.999, 0.99, exp(-2 * Double.pi * 0.05 / 100)), (0.3, 0.5, 0.95)] {
            // x' = ρx + σe, y' = βy + (1 − β)x', v = y/√(smoothed variance), h' = p(h + v' − v)
            var x = 0.0, y = 0.0, v = 0.0, h = 0.0, sum = 0.0
            let u = ((1 + beta) * (1 - beta * rho) / ((1 - beta) * (1 + beta * rho))).squareRoot()
            for n in 0..<200_000 {
                x = rho * x + (n == 0 ? (1 - rho * rho).squareRoot() : 0)
                y = beta > 0 ? beta * y + (1 - beta) * x : x
                let vNext = u * y
                h = pole * (h + vNext - v)
                v = vNext
                sum += h * h
            }
            XCTAssertEqual(PartialMotion.driftCutVariance(rho: rho, beta: beta, pole: pole), sum, accuracy: 1e-6 * sum,
                           "ρ \(rho), β \(beta), p \(pole)")
        }
    }

    /// The small model with a vibrato of `cents` at `hz` on instrument 0 (instrument 1 none) and
    /// no partial motion.
    func vibratoModel(cents: Float = 20, hz: Float = 5) throws -> TimbreModel {
        let m = try TimbreModel(contentsOf: Fixtures.smallModel)
        let n = m.config.instrumentCount
        var vc = [Float](repeating: 0, count: n), vh = [Float](repeating: 0, count: n)
        vc[0] = cents
        vh[0] = hz
        let table = PartialMotionTable(instrumentCount: n, zDim: m.config.zDim, harmonicEdges: [1, 1000],
                                       depthDB: [Float](repeating: 0, count: n), correlation: [Float](repeating: 0, count: n),
                                       vibratoCents: vc, vibratoHz: vh, latentMeans: m.latentMeans.flatMap { $0 },
                                       blendScale: 0.5, blendRule: .inverseDistance)
        return m.with(motion: table)
    }

    /// The small model whose instrument 0 has a vibrato per pitch anchor: `centsAt(anchor)` at
    /// 5 Hz (instrument 1 none), no partial motion.
    func vibratoPerPitchModel(centsAt: (Double) -> Float) throws -> TimbreModel {
        let m = try TimbreModel(contentsOf: Fixtures.smallModel)
        let n = m.config.instrumentCount, anchors = m.config.envPitches
        var vc = [Float](repeating: 0, count: n * anchors.count), vh = vc
        for (a, pitch) in anchors.enumerated() {
            vc[a] = centsAt(pitch)
            vh[a] = 5
        }
        let table = PartialMotionTable(instrumentCount: n, zDim: m.config.zDim, harmonicEdges: [1, 1000],
                                       depthDB: [Float](repeating: 0, count: n), correlation: [Float](repeating: 0, count: n),
                                       vibratoCents: vc, vibratoHz: vh, vibratoPitchAnchors: anchors,
                                       latentMeans: m.latentMeans.flatMap { $0 }, blendScale: 0.5, blendRule: .inverseDistance)
        return m.with(motion: table)
    }

    /// The depth (a sine's amplitude, cents) and rate (Hz, from upward zero crossings) of a held
    /// A4's swing from 400 ms on, and its mean in cents against A4.
    func measuredSwing(_ x: [Float]) -> (amplitude: Double, rate: Double, mean: Double, swing: [Double]) {
        let held = fundamentalCents(x, range: 480 + 19_200 ..< x.count)  // from 400 ms
        let mean = held.reduce(0, +) / Double(held.count)
        let swing = held.map { $0 - mean }
        let amplitude = (swing.map { $0 * $0 }.reduce(0, +) / Double(swing.count)).squareRoot() * 2.0.squareRoot()
        let ups = zip(swing, swing.dropFirst()).filter { $0 < 0 && $1 >= 0 }.count
        return (amplitude, Double(ups) / (Double(held.count) / 100), mean, swing)
    }

    /// The fundamental's frequency every 10 ms (the strongest bin within ±6 % of 440 Hz in a
    /// 2048-sample Hann frame, interpolated by a parabola on the log magnitudes), in cents against A4.
    func fundamentalCents(_ x: [Float], range: Range<Int>) -> [Double] {
        let n = 2048, fft = RealFFT(size: n)
        let k0 = 440 * Double(n) / 48000
        let lo = Int(k0 * 0.94), hi = Int(k0 * 1.06) + 1
        return stride(from: range.lowerBound, to: range.upperBound - n, by: 480).map { start in
            for i in 0..<n {
                fft.samples[i] = Float(0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))) * x[start + i]
            }
            fft.forward()
            func logMag(_ b: Int) -> Double {
                log(Double(fft.spectrum[2 * b] * fft.spectrum[2 * b] + fft.spectrum[2 * b + 1] * fft.spectrum[2 * b + 1]) + 1e-30)
            }
            let k = (lo...hi).max { logMag($0) < logMag($1) }!
            let (a, b, c) = (logMag(k - 1), logMag(k), logMag(k + 1))
            let hz = (Double(k) + 0.5 * (a - c) / (a - 2 * b + c)) * 48000 / Double(n)
            return 1200 * log2(hz / 440)
        }
    }

    /// A held A4 of an instrument with a vibrato of 20 cents at 5 Hz: steady for its first 100 ms,
    /// then its pitch swings by the table's depth at its rate around the key; an instrument
    /// without vibrato plays as a model without the table.
    func testTheVibratoSwingsTheHeldPitchByTheTablesDepthAtItsRate() throws {
        let model = try vibratoModel()
        let frames = 192_000
        let x = renderMono(makeEngine(model), frames: frames, block: 64, events: events)
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        XCTAssertEqual(renderMono(makeEngine(model, instrument: 1), frames: frames, block: 64, events: events),
                       renderMono(makeEngine(plain, instrument: 1), frames: frames, block: 64, events: events),
                       "an instrument without vibrato plays as a model without the table")
        let still = renderMono(makeEngine(plain), frames: frames, block: 64, events: events)
        XCTAssertEqual(Array(x[0 ..< 480 + 4800]), Array(still[0 ..< 480 + 4800]), "the vibrato started before 100 ms")
        let (amplitude, rate, mean, swing) = measuredSwing(x)
        let steady = fundamentalCents(still, range: 480 + 19_200 ..< frames)
        let steadySpread = steady.max()! - steady.min()!
        print("vibrato through the engine: \(amplitude) cents at \(rate) Hz around \(mean) cents "
              + "(table 20 cents at 5 Hz); without it the pitch spreads over \(steadySpread) cents")
        // the swing follows the sine from the phase the key and velocity give, the same as the
        // NumPy twin's (motion.vibrato_phase(69, 100) = 2.3487182063865437 rad): frame j's window
        // is centred 400 ms + 10 ms · j + 1024 samples after the note-on
        let phase = 2.3487182063865437, windowCentreSeconds = 1024.0 / 48000
        var dot = 0.0, swingSquares = 0.0, expectedSquares = 0.0
        for (j, value) in swing.enumerated() {
            let seconds: Double = 0.4 + 0.01 * Double(j) + windowCentreSeconds
            let expected: Double = sin(2 * Double.pi * 5 * seconds + phase)
            dot += value * expected
            swingSquares += value * value
            expectedSquares += expected * expected
        }
        let norms = (swingSquares * expectedSquares).squareRoot()
        XCTAssertGreaterThan(dot / norms, 0.95, "the vibrato's phase is not the key's")
        XCTAssertEqual(amplitude, 20, accuracy: 3)
        XCTAssertEqual(rate, 5, accuracy: 0.5)
        XCTAssertEqual(mean, 0, accuracy: 3)
        XCTAssertLessThan(steadySpread, 2)
    }

    /// A held A4 whose timbre moves, 2 s after its note-on, from an instrument with a vibrato
    /// at 4 Hz to one at 6 Hz (both 20 cents) keeps swinging smoothly: its rate goes from 4 to
    /// 6 Hz and the phase runs on. Before the phase was integrated, the sine's argument was the
    /// rate times the time since note-on, so the 2 Hz change in the 30 ms timbre glide jumped it by
    /// 4 cycles (the pitch raced through 4 swings), and a morph's rate rose well above both ends'.
    func testATimbreMoveChangesTheVibratosRateWithoutJumpingItsPhase() throws {
        let m = try TimbreModel(contentsOf: Fixtures.smallModel)
        let n = m.config.instrumentCount
        var vc = [Float](repeating: 0, count: n), vh = [Float](repeating: 0, count: n)
        (vc[0], vh[0], vc[1], vh[1]) = (20, 4, 20, 6)
        let table = PartialMotionTable(instrumentCount: n, zDim: m.config.zDim, harmonicEdges: [1, 1000],
                                       depthDB: [Float](repeating: 0, count: n), correlation: [Float](repeating: 0, count: n),
                                       vibratoCents: vc, vibratoHz: vh, latentMeans: m.latentMeans.flatMap { $0 },
                                       blendScale: 0.5, blendRule: .inverseDistance)
        let model = m.with(motion: table)
        let engine = makeEngine(model)
        let before = renderMono(engine, frames: 96_000, block: 64, events: events)
        XCTAssertTrue(engine.commands.push(.setTimbre(LatentPoint(model.latentMeans[1]))))
        let x = before + renderMono(engine, frames: 144_000, block: 64, events: [])
        func crossings(_ range: Range<Int>) -> (rate: Double, largestStepCents: Double) {
            let cents = fundamentalCents(x, range: range)
            let mean = cents.reduce(0, +) / Double(cents.count), swing = cents.map { $0 - mean }
            let ups = zip(swing, swing.dropFirst()).filter { $0 < 0 && $1 >= 0 }.count
            let step = zip(cents, cents.dropFirst()).map { abs($1 - $0) }.max()!
            return (Double(ups) / (Double(cents.count) / 100), step)
        }
        let first = crossings(24_000 ..< 96_000), moved = crossings(86_400 ..< 124_800), last = crossings(124_800 ..< 240_000)
        print("vibrato across a timbre move 4 -> 6 Hz: \(first.rate) Hz before, \(last.rate) Hz after; "
              + "around the move \(moved.rate) Hz, largest 10 ms step \(moved.largestStepCents) cents "
              + "(before it \(first.largestStepCents))")
        XCTAssertEqual(first.rate, 4, accuracy: 0.5)
        XCTAssertEqual(last.rate, 6, accuracy: 0.5)
        // 20 cents at 6 Hz moves at most 7.5 cents in 10 ms; a jump of the phase moves 40
        // (the engine before this fix: 13.5 cents; the crossing rate around the move, 5.3 Hz against
        // 6.6 before, is one up-crossing apart in this 0.8 s window: printed, not asserted)
        XCTAssertLessThan(moved.largestStepCents, 11, "the vibrato's phase jumped as the timbre moved")
    }

    /// A vibrato per pitch anchor swings the held A4 (MIDI 69) by the table's depth between the
    /// anchors around its key: a table rising from 0 cents at the lowest anchor to 30 at the
    /// highest, and one falling from 30 to 0, each swing A4 by their own depth there.
    func testAVibratoPerPitchSwingsAKeyByTheDepthBetweenItsAnchors() throws {
        let frames = 192_000
        let anchors = try TimbreModel(contentsOf: Fixtures.smallModel).config.envPitches
        let first = anchors[0], last = anchors[anchors.count - 1]
        let rising: (Double) -> Float = { Float(30 * ($0 - first) / (last - first)) }
        let falling: (Double) -> Float = { 30 - rising($0) }
        for (name, depth) in [("rising", rising), ("falling", falling)] {
            // the depth at 69: linear between the anchors around it (the table is linear in pitch)
            let expected = Double(depth(min(max(69, first), last)))
            let model = try vibratoPerPitchModel(centsAt: depth)
            let (amplitude, rate, _, _) = measuredSwing(renderMono(makeEngine(model), frames: frames, block: 64,
                                                                   events: events))
            print("per-pitch vibrato (\(name)) through the engine at A4: \(amplitude) cents at \(rate) Hz "
                  + "(table: \(expected) at MIDI 69; anchors \(anchors))")
            XCTAssertEqual(amplitude, expected, accuracy: 0.15 * expected + 1, name)
            XCTAssertEqual(rate, 5, accuracy: 0.5, name)
        }
    }

    /// `motionModel` with a vibrato of 20 cents at 5 Hz and `lock` of the motion following it.
    func lockedModel(lock: Float?, tilt: [Float]? = nil) throws -> TimbreModel {
        try motionModel(vibratoCents: 20, lock: lock, tilt: tilt)
    }

    /// With the vibrato lock (`motion.vibrato_lock` = 1) each held partial's level rises and
    /// falls with the vibrato's sine, as a real violin's do (FluidR3's A4: 55-92 % of most
    /// partials' motion), by about the table's depth and at the same level; without it (0) the
    /// levels walk at random, unrelated to the sine; a lock of 0 plays as a file without one.
    func testTheLockedShareOfTheMotionFollowsTheVibrato() throws {
        let frames = 240_000
        let still = renderMono(makeEngine(try vibratoModel()), frames: frames, block: 64, events: events)
        let locked = renderMono(makeEngine(try lockedModel(lock: 1)), frames: frames, block: 64, events: events)
        let walking = renderMono(makeEngine(try lockedModel(lock: 0)), frames: frames, block: 64, events: events)
        XCTAssertEqual(walking, renderMono(makeEngine(try lockedModel(lock: nil)), frames: frames, block: 64, events: events),
                       "a lock of 0 does not play as a file without the lock")
        let held = 480 + 19_200 ..< frames  // 400 ms on
        // the vibrato's sine at each 1024-sample frame's centre (phase: motion.vibrato_phase(69, 100))
        let phase = 2.3487182063865437
        let sine: [Double] = stride(from: held.lowerBound, to: held.upperBound - 1024, by: 480).map { start in
            sin(2 * Double.pi * 5 * Double(start + 512 - 480) / 48000 + phase)
        }
        func following(_ x: [Float]) -> (share: Double, stdDB: Double) {
            var explained = 0.0, total = 0.0
            for k in 1...8 {
                let d = zip(partialLevelsDB(x, k: k, range: held), partialLevelsDB(still, k: k, range: held)).map { $0 - $1 }
                let mean = d.reduce(0, +) / Double(d.count)
                let c = d.map { $0 - mean }
                let dot = zip(c, sine).reduce(0.0) { $0 + $1.0 * $1.1 }, ss = sine.reduce(0.0) { $0 + $1 * $1 }
                explained += dot * dot / ss
                total += c.reduce(0.0) { $0 + $1 * $1 }
            }
            return (explained / total, (total / Double(8 * sine.count)).squareRoot())
        }
        let (lockedShare, lockedStd) = following(locked), (walkingShare, walkingStd) = following(walking)
        print("vibrato lock: partials 1-8 follow the vibrato's sine by \(lockedShare) of their motion "
              + "(\(lockedStd) dB), without the lock \(walkingShare) (\(walkingStd) dB); table \(depthDB) dB")
        XCTAssertGreaterThan(lockedShare, 0.8, "the locked levels do not follow the vibrato")
        XCTAssertLessThan(walkingShare, 0.2, "the random walk follows the vibrato")
        XCTAssertEqual(lockedStd, Double(depthDB), accuracy: 0.5 * Double(depthDB))
        func rmsDB(_ x: [Float]) -> Double { 10 * log10(x[held].reduce(0.0) { $0 + Double($1 * $1) } / Double(held.count)) }
        XCTAssertEqual(rmsDB(locked) - rmsDB(still), 0, accuracy: 1.0, "the lock changed the held level")
        // each partial keeps its coefficient for the whole note, yet its power over the held part
        // stays the decoded one (with − s²λ in place of − ½ ln I₀(2a), partials 1-8 came out −0.6…+1.5 dB)
        func meanPowerDB(_ x: [Double]) -> Double { 10 * log10(x.reduce(0.0) { $0 + pow(10, $1 / 10) } / Double(x.count)) }
        let heldPowers: [Double] = (1...8).map { k in
            meanPowerDB(partialLevelsDB(locked, k: k, range: held)) - meanPowerDB(partialLevelsDB(still, k: k, range: held))
        }
        print("vibrato lock: partials 1-8 held power against the still note's, dB: \(heldPowers)")
        for (k, d) in zip(1..., heldPowers) { XCTAssertEqual(d, 0, accuracy: 1.0, "partial \(k)'s held power moved") }
        // a tilt of +1 on partials 2-3 and −1 on 4-7: each group moves as one, the two against
        // each other; with a tilt of 0 (above) each partial follows its own way
        let tilted = renderMono(makeEngine(try lockedModel(lock: 1, tilt: [0, 1, -1, 0])), frames: frames, block: 64,
                                events: events)
        func moves(_ x: [Float], _ k: Int) -> [Double] {
            zip(partialLevelsDB(x, k: k, range: held), partialLevelsDB(still, k: k, range: held)).map { $0 - $1 }
        }
        func correlation(_ a: [Double], _ b: [Double]) -> Double {
            let ma = a.reduce(0, +) / Double(a.count), mb = b.reduce(0, +) / Double(b.count)
            let ab = zip(a, b).reduce(0.0) { $0 + ($1.0 - ma) * ($1.1 - mb) }
            let aa = a.reduce(0.0) { $0 + ($1 - ma) * ($1 - ma) }, bb = b.reduce(0.0) { $0 + ($1 - mb) * ($1 - mb) }
            return ab / (aa * bb).squareRoot()
        }
        let (p2, p3, p5) = (moves(tilted, 2), moves(tilted, 3), moves(tilted, 5))
        print("vibrato tilt: partials 2 and 3 move together by \(correlation(p2, p3)), 2 and 5 by \(correlation(p2, p5)); "
              + "untilted \(correlation(moves(locked, 2), moves(locked, 3))), \(correlation(moves(locked, 2), moves(locked, 5)))")
        XCTAssertGreaterThan(correlation(p2, p3), 0.95)
        XCTAssertLessThan(correlation(p2, p5), -0.9)
    }

    /// Bit for bit the same samples with the decode worker as without, and from one run to the next.
    func testTheSamplesDoNotDependOnTheWorkerOrTheRun() throws {
        try checkTheSamplesDoNotDependOnTheWorkerOrTheRun(try smallModel())
        try checkTheSamplesDoNotDependOnTheWorkerOrTheRun(try vibratoModel())
        try checkTheSamplesDoNotDependOnTheWorkerOrTheRun(try smallModel(driftCutHz: 2))
    }

    func checkTheSamplesDoNotDependOnTheWorkerOrTheRun(_ model: TimbreModel) throws {
        var ev = events
        for i in 0..<12 { ev.append((2400 + i * 3000, .noteOn(channel: 0, note: UInt8(48 + 2 * i), velocity: 90))) }
        for i in 0..<12 { ev.append((9000 + i * 3000, .noteOff(channel: 0, note: UInt8(48 + 2 * i), velocity: 0))) }
        ev.sort { $0.0 < $1.0 }
        let off = renderMono(makeEngine(model, worker: false), frames: 60_000, block: 64, events: ev)
        XCTAssertEqual(renderMono(makeEngine(model, worker: true), frames: 60_000, block: 64, events: ev), off)
        XCTAssertEqual(renderMono(makeEngine(model, worker: false), frames: 60_000, block: 64, events: ev), off)
    }

    /// 10 000 blocks of notes with partial motion, the timbre moving, allocate nothing.
    func testPartialMotionDoesNotAllocate() throws {
        let model = try smallModel()
        let engine = makeEngine(model)
        let a = LatentPoint(model.latentMeans[0]), b1 = LatentPoint(model.latentMeans[1])
        let allocations = allocationsWhileExercising(engine, eventEvery: 5) { b in
            b % 1000 == 300 ? .setTimbre(b % 2000 == 300 ? b1 : a) : nil
        }
        XCTAssertEqual(allocations, 0, "heap allocations while rendering 10 000 blocks with partial motion")
        let vibrato = makeEngine(try vibratoModel())
        XCTAssertEqual(allocationsWhileExercising(vibrato, eventEvery: 5) { b in
            b % 1000 == 300 ? .setTimbre(b % 2000 == 300 ? b1 : a) : nil
        }, 0, "heap allocations while rendering 10 000 blocks with vibrato")
        let smoothed = makeEngine(try smallModel(smoothing: 0.8))
        XCTAssertEqual(allocationsWhileExercising(smoothed, eventEvery: 5) { b in
            b % 1000 == 300 ? .setTimbre(b % 2000 == 300 ? b1 : a) : nil
        }, 0, "heap allocations while rendering 10 000 blocks with smoothed motion")
        let cut = makeEngine(try smallModel(smoothing: 0.8, driftCutHz: 2))
        XCTAssertEqual(allocationsWhileExercising(cut, eventEvery: 5) { b in
            b % 1000 == 300 ? .setTimbre(b % 2000 == 300 ? b1 : a) : nil
        }, 0, "heap allocations while rendering 10 000 blocks with the drift cut")
        let locked = makeEngine(try lockedModel(lock: 0.5, tilt: [0.5, -0.5, 0, 1]))
        XCTAssertEqual(allocationsWhileExercising(locked, eventEvery: 5) { b in
            b % 1000 == 300 ? .setTimbre(b % 2000 == 300 ? b1 : a) : nil
        }, 0, "heap allocations while rendering 10 000 blocks with the vibrato lock and tilt")
    }

    /// The shipped model moves the French horn's held partials and leaves the trumpet's still, as
    /// the real notes do (training/reports/default/TRAINING.md, "Session 14").
    func testTheShippedModelMovesTheHornNotTheTrumpet() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let table = try XCTUnwrap(model.motion, "the shipped model has no partial motion")
        func meanDepth(_ name: String) throws -> Float {
            let i = try XCTUnwrap(model.instrumentIndex(named: name))
            let d = table.parameters(z: model.latentMeans[i]).depthDB
            return d[1...5].reduce(0, +) / 5  // partials 2-13
        }
        let horn = try meanDepth("french_horn"), trumpet = try meanDepth("trumpet")
        print("shipped partial motion, partials 2-13: horn \(horn) dB, trumpet \(trumpet) dB")
        XCTAssertGreaterThan(horn, 2.5)
        XCTAssertLessThan(trumpet, 1.0)
    }

    /// `y` less the parabola of least squares through it (over its index, scaled to 0…1).
    func residualAroundParabola(_ y: [Double]) -> [Double] {
        let t = (0..<y.count).map { Double($0) / Double(y.count) }
        // the 3×3 normal equations [Σ tⁱ⁺ʲ | Σ tⁱ y], solved by Gauss-Jordan
        var m = [[Double]](repeating: [Double](repeating: 0, count: 4), count: 3)
        for (ti, yi) in zip(t, y) {
            let row = [1, ti, ti * ti]
            for r in 0..<3 {
                for c in 0..<3 { m[r][c] += row[r] * row[c] }
                m[r][3] += row[r] * yi
            }
        }
        for p in 0..<3 {
            let pivot = m[p][p]
            for c in 0..<4 { m[p][c] /= pivot }
            for r in 0..<3 where r != p {
                let f = m[r][p]
                for c in 0..<4 { m[r][c] -= f * m[p][c] }
            }
        }
        return zip(t, y).map { $1 - (m[0][3] + m[1][3] * $0 + m[2][3] * $0 * $0) }
    }

    /// The shipped model's vibraphone holds its modes still (`timbred-train motion --still
    /// vibraphone`): a struck bar's partials decay smoothly, FluidR3's A4 at velocity 80 moves its
    /// 4th partial by 0.00 dB around its course over 0.3-1.5 s; with the 0.9 dB of motion the
    /// table had read between the modes, the engine moved it by 0.57 dB, now 0.26 (the decoder's own
    /// course). Its table gives no depth, and partial 4 against partial 1, less a parabola, stays
    /// under 0.4 dB.
    func testTheShippedVibraphonesModesHoldTheirCourse() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let table = try XCTUnwrap(model.motion, "the shipped model has no partial motion")
        let vibraphone = try XCTUnwrap(model.instrumentIndex(named: "vibraphone"))
        XCTAssertEqual(table.parameters(z: model.latentMeans[vibraphone]).depthDB.max()!, 0, accuracy: 0.01)
        let e = try shippedEngine(instrument: "vibraphone", polyphony: 2)
        let x = renderMono(e, frames: 2 * 48000, block: 64, events: [(0, .noteOn(channel: 0, note: 69, velocity: 80))])
        let held = 14_400 ..< 72_000  // 0.3-1.5 s
        let d = zip(partialLevelsDB(x, k: 4, range: held), partialLevelsDB(x, k: 1, range: held)).map { $0 - $1 }
        // less the parabola of least squares through it (the two modes decay at their own rates)
        let residual = residualAroundParabola(d), n = Double(residual.count)
        let std = (residual.map { $0 * $0 }.reduce(0, +) / n).squareRoot()
        print(String(format: "shipped vibraphone A4 v80: partial 4 against partial 1 moves by %.2f dB around its course", std))
        XCTAssertLessThan(std, 0.4)
    }

    /// The shipped model's horn C4 (261.6 Hz) held: its partials' motion, smoothed (`motion.smoothing`,
    /// β 0.5 for the horn), spreads little into the band under its fundamental (178-224 Hz):
    /// FluidR3's lies 70 dB under the note there, the horn's first-order motion put it 41 dB under.
    /// The shipped model's held violin A4, flute C5 and cello A3 (velocity 100, 6 s): partials 1-6
    /// move around their line but do not drift, as FluidR3's do not (their motion is the vibrato's):
    /// each partial's level against the note's, minus a straight line over 0.5-5.4 s, averaged over
    /// 0.5 s, wanders by under 0.6 dB on average (session 36's model, without the drift cut:
    /// 0.79, 1.09 and 1.20 dB; with it 0.34, 0.45 and 0.53), while it still moves by over 1 dB.
    func testTheShippedBowedAndBlownPartialsMoveWithoutDrifting() throws {
        for (name, note) in [("violin", 69), ("flute", 72), ("cello", 57)] as [(String, UInt8)] {
            let e = try shippedEngine(instrument: name, polyphony: 2)
            let x = renderMono(e, frames: 6 * 48000, block: 64, events: [(0, .noteOn(channel: 0, note: note, velocity: 100))])
            let f0 = 440 * pow(2, (Double(note) - 69) / 12)
            let n = 1024, fft = RealFFT(size: n)
            var levels: [[Double]] = Array(repeating: [], count: 7)  // [0]: the whole frame, [k]: partial k
            for start in stride(from: 24_000, to: x.count - n - 4800, by: 480) {
                for i in 0..<n {
                    fft.samples[i] = Float(0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))) * x[start + i]
                }
                fft.forward()
                func power(_ b: Int) -> Double {
                    Double(fft.spectrum[2 * b] * fft.spectrum[2 * b] + fft.spectrum[2 * b + 1] * fft.spectrum[2 * b + 1])
                }
                levels[0].append(10 * log10((0..<(n / 2)).reduce(0.0) { $0 + power($1) } + 1e-30))
                for k in 1...6 {
                    let b = Int((Double(k) * f0 * Double(n) / 48000).rounded())
                    levels[k].append(10 * log10(power(b - 1) + power(b) + power(b + 1) + 1e-30))
                }
            }
            var slow = 0.0, moving = 0.0
            for k in 1...6 {
                let d = zip(levels[k], levels[0]).map { $0 - $1 }
                // minus the least-squares line
                let m = Double(d.count), t = (0..<d.count).map(Double.init)
                let tMean = t.reduce(0, +) / m, dMean = d.reduce(0, +) / m
                let slope = zip(t, d).reduce(0.0) { $0 + ($1.0 - tMean) * ($1.1 - dMean) }
                    / t.reduce(0.0) { $0 + ($1 - tMean) * ($1 - tMean) }
                let r = zip(t, d).map { $1 - dMean - slope * ($0 - tMean) }
                moving += (r.map { $0 * $0 }.reduce(0, +) / m).squareRoot() / 6
                let averaged = (0...(r.count - 50)).map { i in r[i ..< i + 50].reduce(0, +) / 50 }
                let aMean = averaged.reduce(0, +) / Double(averaged.count)
                slow += (averaged.map { ($0 - aMean) * ($0 - aMean) }.reduce(0, +) / Double(averaged.count)).squareRoot() / 6
            }
            print(String(format: "shipped %@ %d held: partials 1-6 move by %.2f dB, over 0.5 s by %.2f dB", name, Int(note),
                         moving, slow))
            XCTAssertLessThan(slow, 0.6, "\(name) \(note): its partials drift")
            XCTAssertGreaterThan(moving, 1.0, "\(name) \(note): its partials stand still")
        }
    }

    func testTheShippedHornsMotionLeavesTheBandUnderItsFundamentalQuiet() throws {
        let db = try shippedHeldBandShareDB("french_horn", note: 60, fromHz: 178, toHz: 224)
        print(String(format: "shipped horn C4: 178-224 Hz at %.1f dB of the note", db))
        XCTAssertLessThan(db, -45)
    }

    /// The shipped model's violin swings its held pitch as FluidR3's does (15.5 cents at 5.7 Hz
    /// measured from the training notes' f0), its flute by 8 cents at about 4 Hz; the piano and
    /// the organ hold theirs still (training/reports/default/TRAINING.md, "Session 19").
    func testTheShippedModelsViolinHasVibratoAndItsPianoNone() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let table = try XCTUnwrap(model.motion, "the shipped model has no partial motion")
        XCTAssertTrue(table.hasVibrato, "the shipped model has no vibrato (timbred-train motion)")
        var scratch = [Double](repeating: 0, count: model.config.instrumentCount)
        func vibrato(_ name: String, at pitch: Double) throws -> (cents: Double, hz: Double) {
            let i = try XCTUnwrap(model.instrumentIndex(named: name))
            return model.latentMeans[i].withUnsafeBufferPointer {
                table.vibrato(z: $0.baseAddress!, pitch: pitch, scratch: &scratch)
            }
        }
        let violin = try vibrato("violin", at: 72), flute = try vibrato("flute", at: 72)
        let piano = try vibrato("piano", at: 60), organ = try vibrato("church_organ", at: 60)
        print("shipped vibrato: violin \(violin), flute \(flute), piano \(piano), organ \(organ)")
        XCTAssertEqual(violin.cents, 15, accuracy: 4)
        XCTAssertEqual(violin.hz, 5.7, accuracy: 0.6)
        XCTAssertEqual(flute.cents, 8, accuracy: 3)
        XCTAssertLessThan(piano.cents, 1)
        XCTAssertLessThan(organ.cents, 1)
        // per key, as FluidR3's players: the trumpet and oboe swing about twice as far high as low
        let trumpetLow = try vibrato("trumpet", at: 57), trumpetHigh = try vibrato("trumpet", at: 80)
        let oboeLow = try vibrato("oboe", at: 62), oboeHigh = try vibrato("oboe", at: 86)
        print("shipped vibrato by key: trumpet 57 \(trumpetLow), 80 \(trumpetHigh); oboe 62 \(oboeLow), 86 \(oboeHigh)")
        XCTAssertGreaterThan(trumpetHigh.cents, 1.6 * trumpetLow.cents)
        XCTAssertGreaterThan(oboeHigh.cents, 1.6 * oboeLow.cents)
    }
}
