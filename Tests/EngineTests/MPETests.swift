// MPE (RP-053, issue 16): a zone set by the MPE Configuration Message, and per-note bend,
// pressure and slide (CC 74) acting on their own note only, measured on the rendered audio of
// the shipped model (flute, morph axis flute → trumpet).
import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

final class MPETests: XCTestCase {
    static let rate = 48000.0

    func engine() throws -> Engine {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("models/default.safetensors is absent") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        guard let flute = model.instrumentIndex(named: "flute"), let trumpet = model.instrumentIndex(named: "trumpet") else {
            throw XCTSkip("the model lacks flute or trumpet")
        }
        var s = EngineSettings()
        s.sampleRate = Self.rate
        s.maxBlockFrames = 64
        s.polyphony = 8
        let e = Engine(model: model, settings: s, timbre: model.latentMeans[flute], gainDB: 0)
        _ = e.commands.push(.setReverbMix(0))
        _ = e.commands.push(.setMorphPoint(corner: .a, point: LatentPoint(model.latentMeans[flute])))
        _ = e.commands.push(.setMorphPoint(corner: .b, point: LatentPoint(model.latentMeans[trumpet])))
        return e
    }

    /// RPN 0,6 = 15 on channel 1: a lower zone with member channels 2-16.
    static let lowerZone: [(Double, MIDIEvent)] = [
        (0, .controlChange(channel: 0, controller: 101, value: 0)), (0, .controlChange(channel: 0, controller: 100, value: 6)),
        (0, .controlChange(channel: 0, controller: 6, value: 15)),
    ]

    /// Two notes held 1.4 s: C4 on member channel 2, F#4 on member channel 3 (harmonics apart).
    func render(_ extra: [(Double, MIDIEvent)]) throws -> [Float] {
        let notes: [(Double, MIDIEvent)] = [
            (0.01, .noteOn(channel: 1, note: 60, velocity: 100)), (0.01, .noteOn(channel: 2, note: 66, velocity: 100)),
            (1.4, .noteOff(channel: 1, note: 60, velocity: 0)), (1.4, .noteOff(channel: 2, note: 66, velocity: 0)),
        ]
        return renderWithSysEx(try engine(), seconds: 1.45, events: Self.lowerZone + extra + notes, sysEx: [])
    }

    static func hz(_ pitch: Double) -> Double { 440 * pow(2, (pitch - 69) / 12) }

    /// Levels (dB) of harmonics 1…6 of `f0` over 0.7…1.3 s (a Hann-windowed DFT at each).
    func harmonicsDB(_ x: [Float], f0: Double) -> [Double] {
        let start = Int(0.7 * Self.rate), n = Int(0.6 * Self.rate)
        return (1...6).map { k in
            var re = 0.0, im = 0.0
            for i in 0..<n {
                let w = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))
                let ph = 2 * Double.pi * Double(k) * f0 * Double(start + i) / Self.rate
                re += w * Double(x[start + i]) * cos(ph)
                im -= w * Double(x[start + i]) * sin(ph)
            }
            return 10 * log10(max(re * re + im * im, 1e-30))
        }
    }

    func pitchError(_ x: [Float], expected: Double) -> Double {
        (PitchMeasure.pitch(x, sampleRate: Self.rate, guess: expected, fromSeconds: 0.7, seconds: 0.6) - expected) * 100
    }

    /// CC 74 on one member channel moves that note's timbre only; the member's bend (range 48)
    /// moves only its own pitch.
    func testSlideAndBendActOnTheirOwnNoteOnly() throws {
        let reference = try render([(0, .controlChange(channel: 1, controller: 74, value: 64)),
                                    (0, .controlChange(channel: 2, controller: 74, value: 64))])
        let bendValue: UInt16 = 8192 + 341  // 341 / 8192 × 48 = 1.998 semitones
        let bent = 66 + Double(341) / 8192 * 48
        let played = try render([(0, .controlChange(channel: 1, controller: 74, value: 64)),
                                 (0, .controlChange(channel: 2, controller: 74, value: 127)),
                                 (0.3, .pitchBend(channel: 2, value: bendValue))])
        // pitches: the bent note moved by its own bend, the other did not
        let errors = [pitchError(reference, expected: 60), pitchError(reference, expected: 66),
                      pitchError(played, expected: 60), pitchError(played, expected: bent)]
        print("MPE pitch errors (cents): \(errors.map { String(format: "%+.3f", $0) })")
        for e in errors { XCTAssertLessThan(abs(e), 1, "\(errors)") }
        // timbres: the slid note's harmonic profile changed, the other's did not
        func profile(_ h: [Double]) -> [Double] { h.map { $0 - h[0] } }
        let stillRef = profile(harmonicsDB(reference, f0: Self.hz(60))), still = profile(harmonicsDB(played, f0: Self.hz(60)))
        let slidRef = profile(harmonicsDB(reference, f0: Self.hz(66))), slid = profile(harmonicsDB(played, f0: Self.hz(bent)))
        let stillChange = zip(stillRef, still).map { abs($0 - $1) }.max()!
        let slidChange = zip(slidRef, slid).map { abs($0 - $1) }.max()!
        print(String(format: "MPE slide: harmonic profile change %.2f dB on the slid note, %.2f dB on the other", slidChange, stillChange))
        XCTAssertGreaterThan(slidChange, 3, "CC 74 did not change its note's timbre: \(slidRef) → \(slid)")
        XCTAssertLessThan(stillChange, 1, "CC 74 on channel 3 changed the note on channel 2: \(stillRef) → \(still)")
        // and the two held notes now differ in timbre (different spectra at once)
        let between = zip(still, slid).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(between, 3)
    }

    /// Pressure on a member channel raises that note's loudness only; the manager channel's bend
    /// moves every note of the zone.
    func testPressureIsPerNoteAndTheManagerBendMovesTheZone() throws {
        // the reference is bent too: a bent note reads the band balance of the pitch it sounds at
        // (every key has its own), so its level moves with the bend by itself (1.2 dB at 67 here)
        let reference = try render([(0.3, .pitchBend(channel: 0, value: 8192 + 4096))])
        let pressed = try render([(0.2, .channelPressure(channel: 1, pressure: 127)), (0.3, .pitchBend(channel: 0, value: 8192 + 4096))])
        let up = 1.0  // the manager channel bends ±2 semitones: half-way up = 1 semitone
        let louder = harmonicsDB(pressed, f0: Self.hz(60 + up))[0] - harmonicsDB(reference, f0: Self.hz(60 + up))[0]
        let other = harmonicsDB(pressed, f0: Self.hz(66 + up))[0] - harmonicsDB(reference, f0: Self.hz(66 + up))[0]
        print(String(format: "MPE pressure: pressed note %+.2f dB, other note %+.2f dB", louder, other))
        XCTAssertGreaterThan(louder, 3)
        XCTAssertLessThan(abs(other), 1)
        let errors = [pitchError(pressed, expected: 60 + up), pitchError(pressed, expected: 66 + up)]
        print("MPE manager bend errors (cents): \(errors.map { String(format: "%+.3f", $0) })")
        for e in errors { XCTAssertLessThan(abs(e), 1, "\(errors)") }
    }

    /// Polyphonic key pressure (unmapped, the default) is the pressed key's own loudness, as MPE
    /// pressure, on a keyboard without MPE.
    func testPolyPressureIsThePressedKeysLoudness() throws {
        func play(_ extra: [(Double, MIDIEvent)]) throws -> [Float] {
            renderWithSysEx(try engine(), seconds: 1.45, events: extra + [
                (0.01, .noteOn(channel: 0, note: 60, velocity: 100)), (0.01, .noteOn(channel: 0, note: 66, velocity: 100)),
            ], sysEx: [])
        }
        let reference = try play([]), pressed = try play([(0.2, .polyPressure(channel: 0, note: 66, pressure: 127))])
        let louder = harmonicsDB(pressed, f0: Self.hz(66))[0] - harmonicsDB(reference, f0: Self.hz(66))[0]
        let other = harmonicsDB(pressed, f0: Self.hz(60))[0] - harmonicsDB(reference, f0: Self.hz(60))[0]
        print(String(format: "poly pressure: pressed key %+.2f dB, other key %+.2f dB", louder, other))
        XCTAssertGreaterThan(louder, 3)
        XCTAssertLessThan(abs(other), 1)
    }

    /// `setMPESlide` sets the slide's direction: a zero direction leaves a slid note's timbre as
    /// the target's.
    func testSlideDirectionComesFromSetMPESlide() throws {
        let reference = try render([(0, .controlChange(channel: 2, controller: 74, value: 64))])
        let e = try engine()
        XCTAssertTrue(e.commands.push(.setMPESlide(LatentPoint([Float](repeating: 0, count: e.model.config.zDim)))))
        let notes: [(Double, MIDIEvent)] = [
            (0, .controlChange(channel: 2, controller: 74, value: 127)),
            (0.01, .noteOn(channel: 1, note: 60, velocity: 100)), (0.01, .noteOn(channel: 2, note: 66, velocity: 100)),
        ]
        let flat = renderWithSysEx(e, seconds: 1.45, events: Self.lowerZone + notes, sysEx: [])
        let change = zip(harmonicsDB(reference, f0: Self.hz(66)), harmonicsDB(flat, f0: Self.hz(66))).map { abs($0 - $1) }.max()!
        print(String(format: "MPE slide with a zero direction: %.3f dB", change))
        XCTAssertLessThan(change, 0.5)
    }

    /// A program change on the zone's manager channel gives every member channel its preset: the
    /// members' notes sound as with that preset chosen for the whole engine, sample for sample.
    func testMemberChannelsPlayTheirManagersProgram() throws {
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        guard let flute = model.instrumentIndex(named: "flute"), let trumpet = model.instrumentIndex(named: "trumpet") else {
            throw XCTSkip("the model lacks flute or trumpet")
        }
        func sound(_ i: Int) -> ProgramTable.Sound {
            .init(timbre: model.latentMeans[i], reverbMix: 0, gainDB: 0, attackScale: 1, releaseScale: 1, mappings: [])
        }
        var gm = [(sound: Int, exact: Bool)?](repeating: nil, count: 128)
        gm[73] = (0, true)
        gm[56] = (1, true)
        let table = ProgramTable(generation: 1, sounds: [sound(flute), sound(trumpet)], generalMIDI: gm, banks: [:],
                                 keepAll: false, keepChannels: [], drumChannel: -1)
        let notes: [(Double, MIDIEvent)] = [
            (0.01, .noteOn(channel: 1, note: 60, velocity: 100)), (0.01, .noteOn(channel: 2, note: 66, velocity: 100)),
            (1.4, .noteOff(channel: 1, note: 60, velocity: 0)), (1.4, .noteOff(channel: 2, note: 66, velocity: 0)),
        ]
        let byProgram = try engine()
        _ = byProgram.commands.push(.setProgramTable(Unmanaged.passUnretained(table)))
        let x = renderWithSysEx(byProgram, seconds: 1.45, events: Self.lowerZone + [(0.005, .programChange(channel: 0, program: 56))] + notes,
                                sysEx: [])
        let shared = try engine()
        _ = shared.commands.push(.setTimbre(LatentPoint(model.latentMeans[trumpet])))
        let y = renderWithSysEx(shared, seconds: 1.45, events: Self.lowerZone + notes, sysEx: [])
        let flutePlayed = renderWithSysEx(try engine(), seconds: 1.45, events: Self.lowerZone + notes, sysEx: [])
        XCTAssertGreaterThan(zip(x, flutePlayed).map { abs($0 - $1) }.max()!, 1e-2, "the program change changed nothing")
        XCTAssertEqual(x, y, "member channels must play the manager channel's program")
        withExtendedLifetime(table) {}
    }

    /// `setMPEPressure` with a direction (`[mpe_map] pressure`): full pressure on a member channel
    /// moves that note's own timbre (its harmonic profile) and leaves its loudness and the other
    /// note alone.
    func testPressureCanMoveItsNotesTimbre() throws {
        func play(pressure: UInt8, routed: Bool) throws -> [Float] {
            let e = try engine()
            if routed {
                let flute = e.model.instrumentIndex(named: "flute")!, trumpet = e.model.instrumentIndex(named: "trumpet")!
                let direction = zip(e.model.latentMeans[flute], e.model.latentMeans[trumpet]).map { $1 - $0 }
                XCTAssertTrue(e.commands.push(.setMPEPressure(LatentPoint(direction))))
            }
            let notes: [(Double, MIDIEvent)] = [
                (0.01, .noteOn(channel: 1, note: 60, velocity: 100)), (0.01, .noteOn(channel: 2, note: 66, velocity: 100)),
                (0.2, .channelPressure(channel: 2, pressure: pressure)),
            ]
            return renderWithSysEx(e, seconds: 1.45, events: Self.lowerZone + notes, sysEx: [])
        }
        func profile(_ h: [Double]) -> [Double] { h.map { $0 - h[0] } }
        let still = try play(pressure: 0, routed: true), pressed = try play(pressure: 127, routed: true)
        let stillLoud = try play(pressure: 0, routed: false), pressedLoud = try play(pressure: 127, routed: false)
        let h = harmonicsDB(still, f0: Self.hz(66)), hp = harmonicsDB(pressed, f0: Self.hz(66))
        let timbreChange = zip(profile(h), profile(hp)).map { abs($0 - $1) }.max()!
        let levelChange = hp[0] - h[0]
        let defaultTimbreChange = zip(profile(harmonicsDB(stillLoud, f0: Self.hz(66))), profile(harmonicsDB(pressedLoud, f0: Self.hz(66))))
            .map { abs($0 - $1) }.max()!
        let other = zip(profile(harmonicsDB(still, f0: Self.hz(60))), profile(harmonicsDB(pressed, f0: Self.hz(60)))).map { abs($0 - $1) }.max()!
        print(String(format: "MPE pressure → timbre: pressed note's profile %.1f dB (as loudness: %.1f dB), its fundamental %+.2f dB, other note's profile %.3f dB",
                     timbreChange, defaultTimbreChange, levelChange, other))
        XCTAssertGreaterThan(timbreChange, 3)
        XCTAssertGreaterThan(timbreChange, defaultTimbreChange + 3)
        XCTAssertLessThan(other, 0.5)
    }

    /// `setMPESlideLoudness` (`[mpe_map] slide = "loudness"`): CC 74 on a member channel is its
    /// note's loudness, ±9 dB around 64, instead of a timbre direction; the other note stays.
    func testSlideCanBeTheNotesLoudness() throws {
        func play(slide: UInt8, loudness: Bool) throws -> [Float] {
            let e = try engine()
            if loudness { XCTAssertTrue(e.commands.push(.setMPESlideLoudness(true))) }
            let notes: [(Double, MIDIEvent)] = [
                (0, .controlChange(channel: 1, controller: 74, value: 64)), (0, .controlChange(channel: 2, controller: 74, value: 64)),
                (0.01, .noteOn(channel: 1, note: 60, velocity: 100)), (0.01, .noteOn(channel: 2, note: 66, velocity: 100)),
                (0.2, .controlChange(channel: 2, controller: 74, value: slide)),
            ]
            return renderWithSysEx(e, seconds: 1.45, events: Self.lowerZone + notes, sysEx: [])
        }
        func profile(_ h: [Double]) -> [Double] { h.map { $0 - h[0] } }
        let centre = try play(slide: 64, loudness: true), up = try play(slide: 127, loudness: true), down = try play(slide: 0, loudness: true)
        let timbreUp = try play(slide: 127, loudness: false)
        let h = harmonicsDB(centre, f0: Self.hz(66)), hUp = harmonicsDB(up, f0: Self.hz(66)), hDown = harmonicsDB(down, f0: Self.hz(66))
        let louder = hUp[0] - h[0], quieter = hDown[0] - h[0]
        let asLoudness = zip(profile(h), profile(hUp)).map { abs($0 - $1) }.max()!
        let asTimbre = zip(profile(h), profile(harmonicsDB(timbreUp, f0: Self.hz(66)))).map { abs($0 - $1) }.max()!
        let other = abs(harmonicsDB(up, f0: Self.hz(60))[0] - harmonicsDB(centre, f0: Self.hz(60))[0])
        print(String(format: "MPE slide → loudness: 127 %+.2f dB, 0 %+.2f dB (profile %.1f dB; as timbre %.1f dB), other note %.3f dB",
                     louder, quieter, asLoudness, asTimbre, other))
        XCTAssertGreaterThan(louder, 3)
        XCTAssertLessThan(quieter, -3)
        XCTAssertGreaterThan(asTimbre, asLoudness + 3, "the slide still moved the timbre as much")
        XCTAssertLessThan(other, 0.5)
    }

    /// `setReleaseVelocity` (`[mpe_map] release_velocity = "release 4 0.25"`): a key let go slowly
    /// (velocity 1) rings on longer than one let go fast (127); unmapped (the default), the
    /// release velocity changes nothing, sample for sample.
    func testReleaseVelocityScalesTheReleaseTime() throws {
        func play(releaseVelocity: UInt8, mapped: Bool) throws -> [Float] {
            let e = try engine()
            if mapped {
                XCTAssertTrue(e.commands.push(.setReleaseVelocity(ControllerMapping(target: .releaseScale, minimum: 4, maximum: 0.25,
                                                                                    isLogarithmic: true))))
            }
            return renderWithSysEx(e, seconds: 1.2, events: [(0.01, .noteOn(channel: 0, note: 60, velocity: 100)),
                                                              (0.5, .noteOff(channel: 0, note: 60, velocity: releaseVelocity))], sysEx: [])
        }
        XCTAssertEqual(try play(releaseVelocity: 1, mapped: false), try play(releaseVelocity: 127, mapped: false))
        func tailDB(_ x: [Float]) -> Double {
            let tail = x[Int(0.6 * Self.rate)..<Int(0.7 * Self.rate)]
            return 10 * log10(tail.reduce(0) { $0 + Double($1) * Double($1) } / Double(tail.count) + 1e-30)
        }
        let slow = tailDB(try play(releaseVelocity: 1, mapped: true)), fast = tailDB(try play(releaseVelocity: 127, mapped: true))
        let plain = tailDB(try play(releaseVelocity: 64, mapped: false))
        print(String(format: "release velocity: 0.1-0.2 s after note-off, velocity 1 %.1f dB, 127 %.1f dB (unmapped %.1f dB)", slow, fast, plain))
        XCTAssertGreaterThan(slow, plain + 3)
        XCTAssertLessThan(fast, plain - 3)
    }
}
