// The morph knob with the shipped model, as a player turns it: one held note whose timbre moves
// from preset A to preset B, measured by its brightness (spectral centroid).
import Control
import DSP
import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

final class MorphTests: XCTestCase {
    let rate = 32000.0
    /// The knob turns from 0 to 1 over `morphSeconds`; the note is held a second longer.
    let morphSeconds = 5.0
    var holdSeconds: Double { morphSeconds + 1.1 }
    var model: TimbreModel!
    var presets: String { Fixtures.repository.appendingPathComponent("presets").path }

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else {
            throw XCTSkip("models/default.safetensors is absent")
        }
        model = try TimbreModel(contentsOf: Fixtures.defaultModel)
    }

    /// A4 at velocity 100 held `holdSeconds`, dry; `morphTo` (nil: none) moves the knob from 0 to
    /// 1 over `morphSeconds`, once per block, as a player's CC 1 or `timbred ctl morph` does.
    func render(preset: String, morphTo b: String? = nil, knob: ((Double) -> Float)? = nil) throws -> [Float] {
        var settings = DaemonSettings(configPath: "/nonexistent/timbred.toml")
        settings[.reverb] = .number(0)
        settings[.morphA] = .string(preset)
        if let b { settings[.morphB] = .string(b) }
        let renderer = try OfflineRenderer(model: model, presetFolders: [presets], settings: settings, preset: preset,
                                           keepPreset: true, sampleRate: Int(rate))
        let events: [StandardMIDIFile.TimedEvent] = [
            .init(timeSeconds: 0, tick: 0, trackIndex: 0, event: .noteOn(channel: 0, note: 69, velocity: 100)),
            .init(timeSeconds: holdSeconds, tick: 1, trackIndex: 0, event: .noteOff(channel: 0, note: 69, velocity: 0)),
        ]
        let out = renderer.render(events, frameCount: Int(holdSeconds * rate)) { frame in
            guard b != nil else { return }
            let seconds = Double(frame) / self.rate
            _ = renderer.sound.perform(.morph(knob?(seconds) ?? Float(min(1, seconds / self.morphSeconds))))
        }
        return stride(from: 0, to: out.count, by: 2).map { out[$0] }
    }

    /// Spectral centroid (Hz) of 100 ms frames (4096-point Hann windows) from 0.3 s to 0.1 s before
    /// the end, of the power spectrum or (`magnitude`) of the magnitudes, as `timbred-train playing`
    /// measures its morph figures.
    func centroids(_ x: [Float], magnitude: Bool = false) -> [Double] {
        let fft = RealFFT(size: 4096)
        let hop = Int(rate / 10)
        var out: [Double] = []
        var start = 3 * hop
        while start + 4096 <= x.count - hop {
            for i in 0..<4096 {
                let w = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / 4096)
                fft.samples[i] = Float(w) * x[start + i]
            }
            fft.forward()
            var sum = 0.0, weighted = 0.0
            for k in 0..<fft.binCount {
                let power = Double(fft.spectrum[2 * k] * fft.spectrum[2 * k] + fft.spectrum[2 * k + 1] * fft.spectrum[2 * k + 1])
                let p = magnitude ? power.squareRoot() : power
                sum += p
                weighted += p * Double(k) * rate / 4096
            }
            out.append(weighted / max(sum, 1e-30))
            start += hop
        }
        return out
    }

    /// Spearman's rank correlation of `v` with time.
    func spearman(_ v: [Double]) -> Double {
        let ranks = v.indices.sorted { v[$0] < v[$1] }.enumerated().reduce(into: [Double](repeating: 0, count: v.count)) {
            $0[$1.element] = Double($1.offset)
        }
        let n = Double(v.count)
        let d2 = ranks.enumerated().reduce(0.0) { $0 + pow(Double($1.offset) - $1.element, 2) }
        return 1 - 6 * d2 / (n * (n * n - 1))
    }

    /// Flute → trumpet, the example: the brightness rises throughout and arrives at the
    /// trumpet's. On the shipped model with the straight line at the knob's speed and the
    /// decoder's state kept, it held the flute's, jumped twice (rho 0.88, largest step 10.4 ×
    /// the mean step) and stayed 22 % darker than the trumpet a second after the knob reached
    /// it. With the state forgetting as the timbre moves, the control side's path warp and the
    /// model's tone balance (session 12): rho 0.950, 6.1 ×, 1.2 % brighter (k = 3; without the
    /// warp about 7 ×).
    /// The 2 × is not met: the decoder's brightness jumps within 1/64 of the line (675 →
    /// 950 Hz at s ≈ 0.33), which no warp of the line can spread. The 48 kHz model (session 13)
    /// moves more evenly but not as steadily one way: largest step 6.1 → 3.6 ×, rho 0.950 →
    /// 0.853 (it brightens, dips for about 0.3 s, brightens again), still arriving (-0.2 %).
    /// With every key's own band balance (session 25: the flute's and the trumpet's gains at A4
    /// each their key's, further apart than the anchors' average) the largest step is 4.3 ×
    /// (`playing.md`'s turn, 100 ms frames: 2.4 → 2.9 ×), where piano → violin moved the other way.
    /// The line passes closer to the alto sax's mean than to either end, and every table took the
    /// sax's tone at its middle: rho 0.946, 3.8 × (session 28, the settled state). With the
    /// tables blending the flute's and the trumpet's along the line (`MorphLine`): rho 0.963,
    /// 3.3 × (`playing.md`'s turn: 0.939 → 0.990, 3.5 → 2.2 ×).
    /// With the line's brightness tilt (session 32: brighter where the decoder lags the straight
    /// line from the flute's brightness to the trumpet's) rho 0.974, 4.9 ×: the tilt lifts the
    /// upper partials, whose level moves with the vibrato, so the held sound's own 100 ms steps
    /// grow (`playing.md`: 0.996 → 0.999, 2.4 → 3.6 ×).
    func testFluteToTrumpetBrightensEvenlyAndArrives() throws {
        try assertEvenMorph(from: "flute", to: "trumpet", rho: 0.93, largestStep: 5.5, arrival: 0.05)
    }

    /// Clarinet → oboe: two reeds a player would cross-fade. Before: rho 0.71, largest step 8.3 ×,
    /// arriving (+1.5 %); now 3.4 × (9.0 × without the warp), arriving (+0.2 %), but rho -0.48:
    /// the clarinet's own note
    /// darkens as it is held (1310 Hz at 0.3 s, 1030 Hz on average over 6 s) faster than the
    /// line brightens, so the brightness falls, then rises to the oboe's. Rank correlation over
    /// time is not asserted here. Since the decoder state is drawn towards the settled states
    /// instead of zero (session 28) the largest step is 5.6 × (4.6 × before; at 48 kHz in
    /// `playing`'s turn 3.6 → 4.2 ×): the held reeds' own 100 ms brightness steps (their partials'
    /// motion) are the largest, where the line's change is small. With the tables blending the
    /// clarinet's and the oboe's along the line (`MorphLine`): rho 0.69, 3.0 ×.
    func testClarinetToOboeMovesWithoutAJumpAndArrives() throws {
        try assertEvenMorph(from: "clarinet", to: "oboe", rho: nil, largestStep: 4.5, arrival: 0.05)
    }

    /// Piano → violin: arrives at the violin (before: 16 % brighter, rho 0.59, largest step 6.5 ×;
    /// now 5.4 % darker), but the straight line crosses a region the decoder plays much brighter
    /// than either end (1050-1110 Hz at s ≈ 0.5-0.6 against 580-600 Hz at both ends, reference
    /// note at 3 s), which the kept piano state used to damp: rho is now near 0; the warp crosses
    /// the bright region in more of the knob's travel (largest step 7.3 × the mean at k = 3;
    /// 7.7 × without the warp). The direction is not asserted; a bent path is what it needs (docs/architecture.md,
    /// "The morph knob"). Session 15's band course darkens a held piano as the real one darkens:
    /// over the knob's travel the piano alone is 617 Hz against the violin's 568 Hz (the guard
    /// asks that A lie outside the arrival band around B), arriving at 595 Hz (+4.8 %).
    /// Session 28: rho 0.55, 3.6 × with the settled state; with the tables along the line 0.29, 3.1 ×
    /// (the piano's envelope goes on decaying for the first half of the turn, then the violin's
    /// level comes in).
    /// Session 32, the line's brightness tilt: rho 0.50, 5.5 × here (in `playing`'s turn and
    /// magnitude centroid 0.832 → 0.971, 3.3 → 2.9 ×; `testPianoToViolinBrightensOneWay`).
    func testPianoToViolinArrivesWithoutAJump() throws {
        try assertEvenMorph(from: "piano", to: "violin", rho: nil, largestStep: 6.0, arrival: 0.07)
    }

    /// A piano held for a second, then turned towards the violin over 4 s (`playing`'s morph): it
    /// must not strike again. The decoder state forgot towards zero as the timbre moved, and a
    /// zero state is what the decoder knows at a note-on: the piano's brightness rose 49 % within
    /// 0.3 s of the knob's first move (1442 → 2150 Hz, 48 kHz, `playing.md`) and fell back over
    /// the next 0.5 s. The state is now drawn towards the settled state of the point's
    /// instruments (`SettledState`): +8 % there (+12 % in this test's power centroid at 32 kHz, +71 %
    /// before). With the tables blending the piano's and the violin's along the line
    /// (`MorphLine`), the violin's tone comes in from the knob's first move, not from a third of
    /// the way: +31 % here, where the violin alone is +18 % (in `playing`'s magnitude centroid at
    /// 48 kHz +24 %, the violin alone +45 %).
    func testAPianoTurnedToTheViolinDoesNotStrikeAgain() throws {
        let turn = 1.0
        let c = centroids(try render(preset: "piano", morphTo: "violin") { $0 < turn ? 0 : Float(min(1, ($0 - turn) / 4)) })
        // frame i starts at 0.3 s + i × 0.1 s: the last 0.3 s before the turn, the first 0.6 s of it
        let before = c[4...6].reduce(0, +) / 3, during = c[7...12].max()!
        print(String(format: "piano turned to violin at 1 s: %.0f Hz before, at most %.0f Hz in the turn's first 0.6 s (%+.0f %%)",
                     before, during, 100 * (during / before - 1)))
        XCTAssertLessThan(during / before, 1.4, "the piano must not strike again when the knob moves")
    }

    /// The morph line's brightness tilt (session 32): piano → violin at A4, turned as `playing`
    /// turns it (held 1 s, turned over 4 s), its brightness read as `playing` reads it (the
    /// magnitude centroid). The decoder alone lets it fall behind, brightens it past the violin
    /// and brings it back (`playing.md` at 48 kHz: rho 0.832); tilted onto the straight line from the piano's
    /// brightness to the violin's it moves one way (0.971 there, 0.967 here at 32 kHz).
    func testPianoToViolinBrightensOneWay() throws {
        let c = centroids(try render(preset: "piano", morphTo: "violin") { $0 < 1 ? 0 : Float(min(1, ($0 - 1) / 4)) },
                          magnitude: true)
        // frame i starts at 0.3 s + i × 0.1 s: the turn is frames 7 to 47
        let rho = spearman(Array(c[7...47]))
        print(String(format: "piano -> violin turned over 4 s: rho %.3f", rho))
        XCTAssertGreaterThan(rho, 0.9)
    }

    /// The control side's tilt (`MorphProfile.tilt`) brings the decoded brightness of the line's
    /// points onto the straight line from A's to B's where the decoder alone is far from it
    /// (flute → trumpet brightens in one step near s = 0.66; piano → violin dips, then overshoots
    /// the violin near s = 0.75), leaves A and B untilted, and keeps each point's power. Prints
    /// the A4 profiles docs/architecture.md ("The morph knob") quotes.
    func testTheProfileTiltsTheLineOntoAnEvenBrightness() throws {
        let library = PresetLibrary(folders: [presets], model: model)
        library.reload()
        for (from, to) in [("flute", "trumpet"), ("piano", "violin")] {
            let a = try XCTUnwrap(library.find(from)).point, b = try XCTUnwrap(library.find(to)).point
            let spectra = MorphProfile.spectra(model: model, from: a, to: b, pitches: [69])[0]
            let (tilt, reached, untilted) = MorphProfile.tilt(spectra: spectra, pitch: 69, model: model)
            let n = reached.count, range = untilted[n - 1] - untilted[0]
            func deviation(_ v: [Double]) -> Double {
                (0..<n).map { abs(v[$0] - (v[0] + range * Double($0) / Double(n - 1))) }.max()! / abs(range)
            }
            print(String(format: "\(from) -> \(to) at A4: largest deviation from the line %.1f %% untilted, %.1f %% tilted",
                         100 * deviation(untilted), 100 * deviation(reached)))
            for i in stride(from: 0, to: n, by: 3) {
                print(String(format: "  s = %.2f: %.0f Hz untilted, %.0f Hz tilted, %+.1f dB/octave", Double(i) / Double(n - 1),
                             untilted[i], reached[i], tilt.dBPerOctave[i]))
            }
            XCTAssertGreaterThan(deviation(untilted), 0.15, "\(from) -> \(to)")
            XCTAssertLessThan(deviation(reached), 0.01, "\(from) -> \(to)")
            XCTAssertEqual(reached[0], untilted[0])
            XCTAssertEqual(reached[n - 1], untilted[n - 1])
            XCTAssertEqual(tilt.dBPerOctave[0], 0)
            XCTAssertEqual(tilt.dBPerOctave[n - 1], 0)
            for i in 1..<(n - 1) {
                let plain = MorphProfile.brightness(of: spectra[i], pitch: 69, model: model)
                let tilted = MorphProfile.brightness(of: spectra[i], pitch: 69, model: model,
                                                     tiltDBPerOctave: tilt.dBPerOctave[i], levelDB: tilt.levelDB[i])
                XCTAssertEqual(tilted.power / plain.power, 1, accuracy: 1e-3, "\(from) -> \(to): point \(i) keeps its power")
            }
            if from == "flute" {
                for i in [10, 15, 20] {
                    XCTAssertGreaterThan(tilt.dBPerOctave[i], 0.5, "point \(i) is brightened towards the line")
                }
            } else {
                XCTAssertLessThan(tilt.dBPerOctave[23], -0.5, "the overshoot near s = 0.75 is darkened")
            }
        }
    }

    /// Why the morph fell short of B: the decoder's recurrent state. The knob jumps from the
    /// flute to the trumpet 0.5 s into the note, so for 5.6 s every input of the decoder is the
    /// trumpet's; with the state kept the note stayed at 1140-1150 Hz against the trumpet's
    /// 1545 Hz alone (26 % darker) for the whole 5.6 s. The state now forgets as the timbre
    /// moves (`EngineSettings.timbreForgetPerUnit`) and the note arrives.
    func testAJumpToTheTrumpetSoundsLikeTheTrumpet() throws {
        let jumped = centroids(try render(preset: "flute", morphTo: "trumpet") { $0 < 0.5 ? 0 : 1 })
        let alone = centroids(try render(preset: "trumpet"))
        let last = jumped.suffix(10).reduce(0, +) / 10, target = alone.suffix(10).reduce(0, +) / 10
        print(String(format: "flute, jumped to trumpet at 0.5 s: last second %.0f Hz vs trumpet alone %.0f Hz", last, target))
        XCTAssertLessThan(abs(last / target - 1), 0.05)
    }

    /// One morph through the engine: its brightness's rank correlation with time above `rho`, its
    /// largest 100 ms step under `largestStep` × the mean step (each nil: printed, not asserted),
    /// and the last 0.5 s within `arrival` (relative) of preset B played alone.
    func assertEvenMorph(from a: String, to b: String, rho minimumRho: Double?, largestStep: Double?, arrival: Double,
                         file: StaticString = #filePath, line: UInt = #line) throws {
        let all = centroids(try render(preset: a, morphTo: b))
        let moving = Array(all.prefix(Int(morphSeconds * 10) - 3))  // 0.3 s to the knob's end
        let start = centroids(try render(preset: a)), end = centroids(try render(preset: b))
        let steps = zip(moving.dropFirst(), moving).map { abs($0 - $1) }
        let meanStep = steps.reduce(0, +) / Double(steps.count)
        let rho = spearman(moving)
        let last = all.suffix(5).reduce(0, +) / 5, target = end.suffix(5).reduce(0, +) / 5
        // A as heard while the knob travels (the mean over the same frames): since the band
        // course (session 15) a held piano darkens to the violin's brightness by 6 s, 553 against
        // 568 Hz, though over the travel it is brighter
        let startMoving = start.prefix(moving.count)
        let first = startMoving.reduce(0, +) / Double(startMoving.count)
        print(String(format: "morph %@ -> %@: rho %.3f, largest step / mean step %.1f, last 0.5 s %.0f Hz vs %@ alone %.0f Hz (%@ %.0f Hz over the travel)",
                     a, b, rho, steps.max()! / meanStep, last, b, target, a, first))
        // A must lie outside the arrival band around B, or arriving would prove nothing
        XCTAssertGreaterThan(abs(target - first), arrival * target, "the two presets must differ in brightness",
                             file: file, line: line)
        if let minimumRho {
            XCTAssertGreaterThan(rho * (target > first ? 1 : -1), minimumRho, "the brightness must move one way", file: file, line: line)
        }
        if let largestStep { XCTAssertLessThan(steps.max()! / meanStep, largestStep, "no jump", file: file, line: line) }
        XCTAssertLessThan(abs(last / target - 1), arrival, "the morph must arrive at \(b)", file: file, line: line)
    }
}
