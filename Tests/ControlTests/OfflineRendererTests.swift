import Control
import Engine
import Foundation
import MIDI
import Model
import XCTest

/// `timbred render`'s loop: the file's bank select, program changes and knobs act through the
/// same SoundController as live.
final class OfflineRendererTests: SoundControllerTestCase {
    let rate = 48000.0

    func event(_ seconds: Double, _ e: MIDIEvent) -> StandardMIDIFile.TimedEvent {
        .init(timeSeconds: seconds, tick: 0, trackIndex: 0, event: e)
    }

    /// Defaults only (no config file), with `change` applied.
    func daemonSettings(_ change: (inout DaemonSettings) -> Void = { _ in }) -> DaemonSettings {
        var s = DaemonSettings(configPath: folder + "/none.toml")
        s[.polyphony] = .integer(4)
        change(&s)
        return s
    }

    /// Renders `events` for `seconds` as `timbred render` does, starting with `preset`.
    func render(_ events: [StandardMIDIFile.TimedEvent], seconds: Double, preset: String = "A", keepPreset: Bool = false,
                settings: DaemonSettings? = nil) -> [Float] {
        let renderer = try! OfflineRenderer(model: model, presetFolders: [folder], settings: settings ?? daemonSettings(),
                                            preset: preset, keepPreset: keepPreset, sampleRate: Int(rate))
        return renderer.render(events, frameCount: Int(seconds * rate))
    }

    func left(_ x: [Float], _ from: Double, _ to: Double) -> [Float] {
        stride(from: 2 * Int(from * rate), to: 2 * Int(to * rate), by: 2).map { x[$0] }
    }

    func rms(_ x: [Float]) -> Double { (x.reduce(0) { $0 + Double($1) * Double($1) } / Double(max(x.count, 1))).squareRoot() }

    func difference(_ a: [Float], _ b: [Float]) -> Double { rms(zip(a, b).map { $0 - $1 }) }

    let note: [MIDIEvent] = [.noteOn(channel: 0, note: 60, velocity: 100)]

    /// With nothing for the control side, the renderer plays exactly what a bare engine loop
    /// plays: the state it sends a fresh engine is the engine's own default sound, but dry (the
    /// engine's own default plays the model's room; the daemon's `reverb` setting defaults to 0).
    func testWithoutControlEventsItPlaysLikeABareEngine() {
        let events = [event(0.01, note[0]), event(0.3, .noteOff(channel: 0, note: 60, velocity: 64))]
        let x = render(events, seconds: 0.5)
        let sound = controller()
        let engine = Engine(model: model, settings: EngineSettings(daemonSettings(), sampleRate: Int(rate), blockFrames: 256),
                            timbre: sound.timbre, gainDB: -6)
        XCTAssertTrue(engine.commands.push(.setReverbMix(0)))
        var y: [Float] = []
        var left = [Float](repeating: 0, count: 256), right = left
        for start in stride(from: 0, to: Int(0.5 * rate), by: 256) {
            let n = min(256, Int(0.5 * rate) - start)
            let list = events.map { TimedMIDIEvent(offset: Int(($0.timeSeconds * rate).rounded()) - start, event: $0.event) }
                .filter { $0.offset >= 0 && $0.offset < n }
            list.withUnsafeBufferPointer { ev in
                engine.render(frameCount: n, events: ev, left: &left, right: &right)
            }
            for i in 0..<n { y += [left[i], right[i]] }
        }
        XCTAssertGreaterThan(rms(x), 1e-4, "silence")
        XCTAssertEqual(x, y)
    }

    /// Bank select + program change in the file switch to the preset from the event's sample;
    /// with keep-preset they are ignored and the file plays as without them.
    func testBankSelectAndProgramChangeActFromTheirSample() {
        let change = 0.2
        let plain = [event(0, note[0])]
        let switching = plain + [event(change, .controlChange(channel: 0, controller: 32, value: 1)),
                                 event(change, .programChange(channel: 0, program: 3))]
        let a = render(plain, seconds: 0.6)
        let c = render(plain, seconds: 0.6, preset: "C")
        let x = render(switching, seconds: 0.6)
        let kept = render(switching, seconds: 0.6, keepPreset: true)
        let level = rms(left(a, 0.3, 0.6))
        print(String(format: "A vs C %.5f, switched vs A before %.2g, after %.5f, switched vs C after %.5f (level %.5f)",
                     difference(left(a, 0.3, 0.6), left(c, 0.3, 0.6)), difference(left(x, 0, change), left(a, 0, change)),
                     difference(left(x, 0.3, 0.6), left(a, 0.3, 0.6)), difference(left(x, 0.3, 0.6), left(c, 0.3, 0.6)), level))
        XCTAssertGreaterThan(level, 1e-4)
        // up to the program change the same as A (block boundaries differ: float rounding)
        XCTAssertLessThan(difference(left(x, 0, change), left(a, 0, change)), 1e-4 * level)
        // afterwards a clearly different sound: C's (gain -12 dB, another timbre)
        XCTAssertGreaterThan(difference(left(x, 0.3, 0.6), left(a, 0.3, 0.6)), 0.3 * level)
        XCTAssertLessThan(difference(left(x, 0.3, 0.6), left(c, 0.3, 0.6)), 0.1 * difference(left(x, 0.3, 0.6), left(a, 0.3, 0.6)),
                          "after the change it should sound like C")
        // bank select and program change ignored: exactly the file without them
        XCTAssertLessThan(difference(kept, a), 1e-4 * level)
        // the program number alone (bank 0, General MIDI) does not reach C in bank 1: program 40
        // (GM Violin) has no preset of its family, so A plays on
        let unbanked = render(plain + [event(change, .programChange(channel: 0, program: 40))], seconds: 0.6)
        XCTAssertLessThan(difference(unbanked, a), 1e-4 * level)
    }

    /// The default map plays knobs offline as live: CC 91 (reverb 0 2) at 127 sounds as a reverb
    /// mix of 2 and at 0 as the default, dry; CC 7 (gain -40 0) at 0 as -40 dB.
    func testDefaultControllerMapAppliesOffline() {
        let wetSettings = daemonSettings { $0[.reverb] = .number(2) }
        let full = render([event(0, .controlChange(channel: 0, controller: 91, value: 127)), event(0.01, note[0])], seconds: 0.4)
        let off = render([event(0, .controlChange(channel: 0, controller: 91, value: 0)), event(0.01, note[0])], seconds: 0.4)
        let set = render([event(0.01, note[0])], seconds: 0.4, settings: wetSettings)
        let dry = render([event(0.01, note[0])], seconds: 0.4)
        let level = rms(dry)
        XCTAssertGreaterThan(difference(set, dry), 0.05 * level, "the reverb makes no difference: the test would prove nothing")
        XCTAssertLessThan(difference(full, set), 1e-4 * level)
        XCTAssertLessThan(difference(off, dry), 1e-4 * level, "the default is dry")
        let quiet = render([event(0, .controlChange(channel: 0, controller: 7, value: 0)), event(0.01, note[0])], seconds: 0.4)
        XCTAssertLessThan(rms(quiet), rms(dry) * 0.05, "CC 7 = 0 should be -40 dB (34 dB below the default -6 dB)")
    }
}

extension OfflineRendererTests {
    /// An unknown --preset is refused (render exits with one line), not replaced by the first.
    func testUnknownPresetIsRefused() {
        XCTAssertThrowsError(try OfflineRenderer(model: model, presetFolders: [folder], settings: daemonSettings(), preset: "kazoo",
                                                 keepPreset: false, sampleRate: 48000)) { error in
            XCTAssertEqual("\(error)", "no preset named kazoo (have: A, B, C)")
        }
    }

    /// The config file's [cc] table and channel apply offline as live.
    func testConfiguredMapAndChannelApplyOffline() {
        let set = daemonSettings {
            $0.controllerMap = ["20": "gain -40 -40"]
            $0[.channel] = .integer(2)
        }
        let knob = [event(0, .controlChange(channel: 1, controller: 20, value: 64)), event(0.01, .noteOn(channel: 1, note: 60, velocity: 100))]
        let quiet = render(knob, seconds: 0.3, settings: set)
        let loud = render(knob, seconds: 0.3)  // CC 20 unmapped by default; every channel plays
        XCTAssertGreaterThan(rms(loud), 1e-4)
        XCTAssertLessThan(rms(quiet), 0.05 * rms(loud))
        let otherChannel = render([event(0.01, note[0])], seconds: 0.3, settings: set)
        XCTAssertEqual(rms(otherChannel), 0, "channel = 2 plays MIDI channel 2 only")
    }
}
