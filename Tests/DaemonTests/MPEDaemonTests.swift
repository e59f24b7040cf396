// MPE live (issue 16): an MPE performance sent over JACK MIDI by the probe: the zone by RPN 6,
// two held notes with different slides (CC 74) and one with its own bend.
import Foundation
import MIDI
import TestSupport
import XCTest

final class MPEDaemonTests: DaemonTestCase {
    func testPerNoteBendAndSlideOverJackMIDI() throws {
        try startDaemon(presets: [("alpha.toml", Self.presetA), ("gamma.toml", Self.presetC)], arguments: ["--reverb", "0"])
        let start = probe.frame(afterSeconds: 0.3)
        for (i, m) in [Msg.cc(101, 0), Msg.cc(100, 6), Msg.cc(6, 15), Msg.cc(74, 0, channel: 1), Msg.cc(74, 127, channel: 2)].enumerated() {
            probe.send(m, at: start &+ UInt32(i))
        }
        let on = start &+ 100
        probe.send(Msg.on(60, channel: 1), at: on)
        probe.send(Msg.on(66, channel: 2), at: on)
        probe.send(Msg.bend(8192 + 341, channel: 2), at: on &+ frames(0.3))
        let x = record(from: on, seconds: 1.4)
        let bent = 66 + 341.0 / 8192 * 48
        let errors = [60.0, bent].map { p in
            (PitchMeasure.pitch(x, sampleRate: 48000, guess: p, fromSeconds: 0.7, seconds: 0.6) - p) * 100
        }
        print("MPE over JACK MIDI (live): pitch errors (cents) \(errors.map { String(format: "%+.3f", $0) })")
        for e in errors { XCTAssertLessThan(abs(e), 1, "\(errors)") }

        // the same two notes again with equal slides: the two notes' spectra differ much less
        let again = on &+ frames(1.5)
        probe.send(Msg.cc(120, 0, channel: 1), at: again &- 200)
        probe.send(Msg.cc(120, 0, channel: 2), at: again &- 200)
        probe.send(Msg.cc(74, 64, channel: 1), at: again &- 100)
        probe.send(Msg.cc(74, 64, channel: 2), at: again &- 100)
        probe.send(Msg.bend(8192 + 341, channel: 2), at: again &- 100)
        probe.send(Msg.on(60, channel: 1), at: again)
        probe.send(Msg.on(66, channel: 2), at: again)
        let y = record(from: again, seconds: 1.4)
        let between = zip(profile(x, 60), profile(x, bent)).map { abs($0 - $1) }.max()!
        let betweenEqual = zip(profile(y, 60), profile(y, bent)).map { abs($0 - $1) }.max()!
        print(String(format: "MPE over JACK MIDI (live): the notes' harmonic profiles differ by %.2f dB with slides 0/127, %.2f dB with 64/64",
                     between, betweenEqual))
        XCTAssertGreaterThan(between, betweenEqual + 3, "CC 74 per note did not give the two notes different timbres")
    }

    /// Per-channel presets live: a program change over JACK MIDI on channel 2 moves channel 2's
    /// held note to its preset and leaves channel 1's; `ctl preset` then returns every channel to
    /// the shared preset (the same notes without a program change sound as before it).
    func testAProgramChangeOverJackMIDIChangesItsChannelOnly() throws {
        try startDaemon(presets: [("alpha.toml", Self.presetA), ("gamma.toml", Self.presetC)], arguments: ["--reverb", "0"])
        let on = probe.frame(afterSeconds: 0.3)
        probe.send(Msg.on(60, channel: 0), at: on)
        probe.send(Msg.on(66, channel: 1), at: on)
        probe.send(Msg.program(1, channel: 1), at: on &+ frames(0.3))
        let x = record(from: on, seconds: 1.4)
        XCTAssertTrue(daemon.waitForLog("channel 2: program 1", timeout: 5), daemon.log)
        // back to the shared preset on every channel, then the same notes without the program change
        let again = on &+ frames(2.0)
        probe.send(Msg.cc(120, 0, channel: 0), at: again &- 200)
        probe.send(Msg.cc(120, 0, channel: 1), at: again &- 200)
        XCTAssertEqual(daemon.ctl(["preset", "alpha"]).0, 0)
        probe.send(Msg.on(60, channel: 0), at: again)
        probe.send(Msg.on(66, channel: 1), at: again)
        let y = record(from: again, seconds: 1.4)
        let kept = zip(profile(x, 60), profile(y, 60)).map { abs($0 - $1) }.max()!
        let changed = zip(profile(x, 66), profile(y, 66)).map { abs($0 - $1) }.max()!
        print(String(format: "program change on channel 2 over JACK MIDI (live): channel 2's note %.2f dB, channel 1's %.3f dB", changed, kept))
        XCTAssertGreaterThan(changed, 1)
        XCTAssertGreaterThan(changed, 5 * kept)
    }

    /// What the performance set live survives a new engine (issue 16): a key retuned by MTS, a
    /// channel's fine tuning (RPN 0,1) and a program change on channel 2, all over JACK MIDI, then
    /// `ctl reload model` (the daemon prepares and swaps in a new engine, as for a JACK period or
    /// rate change). The key still sounds retuned and channel 2 still plays its own preset.
    func testLiveTuningAndAChannelPresetSurviveANewEngine() throws {
        try startDaemon(presets: [("alpha.toml", Self.presetA), ("gamma.toml", Self.presetC)], arguments: ["--reverb", "0"])
        let start = probe.frame(afterSeconds: 0.3)
        let live: [[UInt8]] = [[0xF0] + MIDITuningMessage.singleNote(program: 0, changes: [(69, 69.3)]) + [0xF7],
                               Msg.cc(101, 0), Msg.cc(100, 1), Msg.cc(6, 80), Msg.cc(38, 0),  // channel 1: +25 cents
                               Msg.program(1, channel: 1)]
        for (i, m) in live.enumerated() { probe.send(m, at: start &+ UInt32(i)) }
        XCTAssertTrue(daemon.waitForLog("channel 2: program 1", timeout: 5), daemon.log)
        let offset = daemon.log.count
        XCTAssertEqual(daemon.ctl(["reload", "model"]).0, 0)
        XCTAssertTrue(daemon.waitForLog("engine prepared", timeout: 10, after: offset), daemon.log)
        XCTAssertTrue(daemon.ctl(["status"]).1.contains("channel_presets: 2 gamma\n"), daemon.ctl(["status"]).1)

        let on = probe.frame(afterSeconds: 0.3)
        probe.send(Msg.on(69, channel: 0), at: on)
        probe.send(Msg.on(66, channel: 1), at: on)
        let x = record(from: on, seconds: 1.4)
        let errors = [(69.55, 0), (66.0, 1)].map { p, _ in
            (PitchMeasure.pitch(x, sampleRate: 48000, guess: p, fromSeconds: 0.7, seconds: 0.6) - p) * 100
        }
        // channel 2's note as gamma (its program) and as alpha (the shared preset) play it, chosen for all
        func alone(_ preset: String, at t: UInt32) -> [Float] {
            probe.send(Msg.cc(120, 0, channel: 0), at: t &- 200)
            probe.send(Msg.cc(120, 0, channel: 1), at: t &- 200)
            XCTAssertEqual(daemon.ctl(["preset", preset]).0, 0)
            probe.send(Msg.on(66, channel: 1), at: t)
            return record(from: t, seconds: 1.4)
        }
        let gamma = alone("gamma", at: on &+ frames(2.0))
        XCTAssertTrue(daemon.ctl(["status"]).1.contains("preset: gamma\nchannel_presets: none\n"), daemon.ctl(["status"]).1)
        let alpha = alone("alpha", at: on &+ frames(4.0))
        let toGamma = zip(profile(x, 66), profile(gamma, 66)).map { abs($0 - $1) }.max()!
        let toAlpha = zip(profile(x, 66), profile(alpha, 66)).map { abs($0 - $1) }.max()!
        print(String(format: "after a new engine (live): pitch errors (cents) %+.3f (MTS key + RPN 0,1 + 0), %+.3f; channel 2's note %.2f dB from its preset gamma, %.2f dB from the shared alpha",
                     errors[0], errors[1], toGamma, toAlpha))
        for e in errors { XCTAssertLessThan(abs(e), 1, "\(errors)") }
        XCTAssertGreaterThan(toAlpha, 1)
        XCTAssertLessThan(toGamma, toAlpha / 3, "channel 2 lost its preset at the swap")
    }

    /// SIGHUP rereads the config file's `[mpe_map]` (as it does `[cc]`): pressure on loudness
    /// (the default) becomes pressure on a latent dimension, each entry it cannot read is one
    /// warning, and an empty table brings the default back.
    func testSIGHUPRereadsTheMPEMap() throws {
        try startDaemon(presets: [("alpha.toml", Self.presetA), ("gamma.toml", Self.presetC)], arguments: ["--reverb", "0", "--mpe", "lower"])
        /// A note on member channel 2 with channel pressure `pressure` from 0.2 s.
        func play(_ pressure: UInt8, at t: UInt32) -> [Float] {
            probe.send(Msg.cc(120, 0, channel: 1), at: t &- 300)
            probe.send([0xD1, 0], at: t &- 200)
            probe.send(Msg.on(60, channel: 1), at: t)
            probe.send([0xD1, pressure], at: t &+ frames(0.2))
            return record(from: t, seconds: 1.4)
        }
        func change(_ a: [Float], _ b: [Float]) -> (level: Double, profile: Double) {
            let f = { (x: [Float]) -> Double in  // the fundamental's level over 0.7…1.3 s
                let start = Int(0.7 * 48000), n = Int(0.6 * 48000)
                var re = 0.0, im = 0.0
                for i in 0..<n {
                    let w = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))
                    let ph = 2 * Double.pi * 261.6256 * Double(start + i) / 48000
                    re += w * Double(x[start + i]) * cos(ph)
                    im -= w * Double(x[start + i]) * sin(ph)
                }
                return 10 * log10(max(re * re + im * im, 1e-30))
            }
            return (f(b) - f(a), zip(profile(a, 60), profile(b, 60)).map { abs($0 - $1) }.max()!)
        }
        let t0 = probe.frame(afterSeconds: 0.3)
        let still = play(0, at: t0)
        let loud = play(127, at: t0 &+ frames(1.6))

        try FileManager.default.createDirectory(atPath: configHome + "/timbred", withIntermediateDirectories: true)
        try "[mpe_map]\npressure = \"latent 0 -3 3\"\nbogus = \"x\"\nslide = \"sideways\"\n"
            .write(toFile: configHome + "/timbred/timbred.toml", atomically: true, encoding: .utf8)
        var offset = daemon.log.count
        kill(daemon.process.processIdentifier, SIGHUP)
        XCTAssertTrue(daemon.waitForLog("mpe_map: slide must be", timeout: 5, after: offset), daemon.log)
        Thread.sleep(forTimeInterval: 0.3)
        let warnings = daemon.log.dropFirst(offset).split(separator: "\n").filter { $0.contains("mpe_map:") }
        XCTAssertEqual(warnings.count, 2, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("no per-note expression bogus") && $0.contains("that entry is ignored") }, "\(warnings)")
        let routed = play(127, at: probe.frame(afterSeconds: 0.3))

        try "".write(toFile: configHome + "/timbred/timbred.toml", atomically: true, encoding: .utf8)
        offset = daemon.log.count
        kill(daemon.process.processIdentifier, SIGHUP)
        XCTAssertTrue(daemon.waitForLog("presets reloaded", timeout: 5, after: offset), daemon.log)
        Thread.sleep(forTimeInterval: 0.3)
        let back = play(127, at: probe.frame(afterSeconds: 0.3))

        let (loudLevel, loudProfile) = change(still, loud), (routedLevel, routedProfile) = change(still, routed)
        let (backLevel, backProfile) = change(still, back)
        print(String(format: "SIGHUP rereads [mpe_map] (live, small model): full pressure as loudness %+.2f dB, profile %.2f dB; after SIGHUP on latent 0: %+.2f dB, profile %.2f dB; table emptied, SIGHUP: %+.2f dB, profile %.2f dB",
                     loudLevel, loudProfile, routedLevel, routedProfile, backLevel, backProfile))
        XCTAssertGreaterThan(routedProfile, 2 * loudProfile + 1, "pressure did not move the note's timbre after SIGHUP")
        XCTAssertGreaterThan(abs(routedLevel - loudLevel), 1)
        XCTAssertEqual(backLevel, loudLevel, accuracy: 0.5, "the default (pressure on loudness) did not come back")
        XCTAssertEqual(backProfile, loudProfile, accuracy: 0.5, "the default (pressure on loudness) did not come back")
    }

    /// Levels (dB) of harmonics 1…6 of `pitch` over 0.7…1.3 s, relative to the fundamental.
    func profile(_ x: [Float], _ pitch: Double) -> [Double] {
        let f0 = 440 * pow(2, (pitch - 69) / 12)
        let start = Int(0.7 * 48000.0), n = Int(0.6 * 48000.0)
        let levels = (1...6).map { k -> Double in
            var re = 0.0, im = 0.0
            for i in 0..<n {
                let w = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))
                let ph = 2 * Double.pi * Double(k) * f0 * Double(start + i) / 48000
                re += w * Double(x[start + i]) * cos(ph)
                im -= w * Double(x[start + i]) * sin(ph)
            }
            return 10 * log10(max(re * re + im * im, 1e-30))
        }
        return levels.map { $0 - levels[0] }
    }
}
