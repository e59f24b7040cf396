// End-to-end tests of `timbred run` against a real `jackd -d dummy -r 48000 -p 64` (no sound card):
// MIDI goes in through JACK MIDI from a probe client, audio is recorded from timbred's ports with
// the JACK frame time of every sample.
import CJack
import Control
import Foundation
import TestSupport
import XCTest

/// libjack's messages (failed connection attempts while a server starts) stay out of test logs.
func quietJackMessage(_ message: UnsafePointer<CChar>?) {}

/// Raw MIDI messages.
enum Msg {
    static func on(_ note: UInt8, _ velocity: UInt8 = 100, channel: UInt8 = 0) -> [UInt8] { [0x90 | channel, note, velocity] }
    static func off(_ note: UInt8, channel: UInt8 = 0) -> [UInt8] { [0x80 | channel, note, 0] }
    static func cc(_ controller: UInt8, _ value: UInt8, channel: UInt8 = 0) -> [UInt8] { [0xB0 | channel, controller, value] }
    static func program(_ p: UInt8, channel: UInt8 = 0) -> [UInt8] { [0xC0 | channel, p] }
    static func bend(_ value: UInt16, channel: UInt8 = 0) -> [UInt8] { [0xE0 | channel, UInt8(value & 0x7F), UInt8(value >> 7)] }
}

/// Frames in seconds at 48 kHz.
func frames(_ seconds: Double) -> UInt32 { UInt32(seconds * 48000) }

class DaemonTestCase: XCTestCase {
    static var serial = 0
    var server: JackServer!
    var daemon: TimbredProcess!
    var probe: JackProbe!
    var configHome = ""
    var serverName = ""

    override func setUpWithError() throws {
        try XCTSkipUnless(DaemonFixtures.jackdAvailable, "jackd (Debian package jackd2) is not installed")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: Fixtures.timbredBinary),
                          "timbred binary not found at \(Fixtures.timbredBinary)")
        jack_set_error_function(quietJackMessage)
        jack_set_info_function(quietJackMessage)
        Self.serial += 1
        serverName = "timbred-test-\(getpid())-\(Self.serial)"
        configHome = NSTemporaryDirectory() + serverName
        try FileManager.default.createDirectory(atPath: configHome, withIntermediateDirectories: true)
        server = try JackServer(name: serverName, folder: configHome)
    }

    override func tearDown() {
        probe?.close()
        probe = nil
        if let d = daemon, (testRun?.totalFailureCount ?? 0) > 0 {
            print("---- timbred log ----\n\(d.log)---- end ----")
        }
        daemon = nil
        server?.stop()
        server = nil
        try? FileManager.default.removeItem(atPath: configHome)
    }

    /// Starts timbred (with presets written first) and the probe, connected to it.
    func startDaemon(presets: [(String, String)] = [], arguments: [String] = []) throws {
        daemon = try TimbredProcess(server: serverName, configHome: configHome, extraArguments: arguments)
        for (file, text) in presets { try daemon.writePreset(file, text) }
        try daemon.start()
        XCTAssertTrue(daemon.waitForLog("JACK: client"), "timbred did not connect to JACK:\n\(daemon.log)")
        probe = try JackProbe(server: serverName)
        try probe.connect(to: daemon.clientName)
    }

    /// Records from `start` for `seconds` (waits for it) and returns the left channel.
    func record(from start: UInt32, seconds: Double) -> [Float] {
        let count = Int((seconds * 48000).rounded())
        XCTAssertTrue(probe.waitUntilRecorded(start &+ UInt32(count) &+ 64), "recording stalled")
        return probe.samples(from: start, count: count)
    }

    /// Samples `from`…`from + seconds` of a recording (times in seconds, rounded to the nearest
    /// sample). A window that reaches past either end by one sample (the two roundings of a
    /// time computed from frame counts) is clipped to the recording; further is a test failure,
    /// not a crash.
    func slice(_ x: [Float], _ from: Double, _ seconds: Double, file: StaticString = #filePath, line: UInt = #line) -> [Float] {
        let a = Int((from * 48000).rounded()), b = a + Int((seconds * 48000).rounded())
        let lo = min(max(a, 0), x.count), hi = min(max(b, lo), x.count)
        XCTAssertLessThanOrEqual(max(lo - a, b - hi), 1,
                                 "window \(a)..<\(b) is outside the \(x.count) samples recorded", file: file, line: line)
        return Array(x[lo..<hi])
    }

    static let presetA = "name = \"alpha\"\ninstrument = \"a\"\nprogram = 0\n"
    static let presetC = "name = \"gamma\"\ninstrument = \"c\"\nprogram = 1\n"
}

final class DaemonPlaybackTests: DaemonTestCase {
    /// A note through JACK MIDI sounds at the right pitch, starting at its event's frame.
    func testNoteHasTheRightPitchAndStartsAtItsFrame() throws {
        try startDaemon()
        let on = probe.frame(afterSeconds: 0.3, offset: 37)
        probe.send(Msg.on(69), at: on)
        let lead = 256
        let x = record(from: on &- UInt32(lead), seconds: 1.2)
        XCTAssertTrue(probe.sentFrames.contains(on), "the probe wrote the note late")
        // onset
        let before = Array(x[0..<lead])
        XCTAssertEqual(SignalAnalysis.peak(before), 0, "sound before the note-on")
        let onset = try XCTUnwrap(SignalAnalysis.onset(x, threshold: 1e-6)) - lead
        print("onset: \(onset) samples after the event (period 64)")
        XCTAssertGreaterThanOrEqual(onset, 0)
        XCTAssertLessThan(onset, 64, "the note started more than one period after its event")
        // pitch: A4 = 440 Hz
        let f0 = SignalAnalysis.pitchHz(Array(x[(lead + 9600)..<(lead + 9600 + 24000)]), sampleRate: 48000)
        let error = SignalAnalysis.cents(f0, 440)
        print(String(format: "pitch: %.3f Hz, %.2f cents from 440 Hz", f0, error))
        XCTAssertLessThan(abs(error), 5)
        XCTAssertEqual(probe.state.gaps.load(ordering: .relaxed), 0, "the recording has gaps")
    }

    /// RPN 0,0 = 12 semitones: a full bend down plays an octave lower, full up an octave higher.
    func testPitchBendWithAnRPNRangeOfTwelveBendsAnOctave() throws {
        try startDaemon()
        let start = probe.frame(afterSeconds: 0.3)
        for (i, m) in [Msg.cc(101, 0), Msg.cc(100, 0), Msg.cc(6, 12), Msg.cc(38, 0), Msg.bend(0)].enumerated() {
            probe.send(m, at: start &+ UInt32(i))
        }
        let on = start &+ 100
        probe.send(Msg.on(69), at: on)
        probe.send(Msg.bend(16383), at: on &+ frames(0.8))
        let x = record(from: on, seconds: 1.6)
        let down = SignalAnalysis.pitchHz(slice(x, 0.2, 0.5), sampleRate: 48000)
        let up = SignalAnalysis.pitchHz(slice(x, 1.0, 0.5), sampleRate: 48000)
        print(String(format: "bend down: %.2f Hz, bend up: %.2f Hz", down, up))
        XCTAssertLessThan(abs(SignalAnalysis.cents(down, 220)), 5)
        XCTAssertLessThan(abs(SignalAnalysis.cents(up, 880 * pow(2, -1.0 / 8192))), 5)
    }

    /// Sustain holds a note after its note-off; without it the same note dies away.
    func testSustainHoldsNotesAfterNoteOff() throws {
        try startDaemon(arguments: ["--reverb", "0"])
        let t = probe.frame(afterSeconds: 0.3)
        probe.send(Msg.cc(64, 127), at: t)
        probe.send(Msg.on(60), at: t &+ 10)
        probe.send(Msg.off(60), at: t &+ frames(0.3))
        probe.send(Msg.cc(64, 0), at: t &+ frames(2.5))
        // the same note without the pedal
        let t2 = t &+ frames(5)
        probe.send(Msg.on(60), at: t2)
        probe.send(Msg.off(60), at: t2 &+ frames(0.3))
        let x = record(from: t, seconds: 7.5)
        let heldLevel = SignalAnalysis.rms(slice(x, 1.6, 0.3))
        let freeLevel = SignalAnalysis.rms(slice(x, 5 + 1.6, 0.3))
        let afterPedal = SignalAnalysis.rms(slice(x, 4.0, 0.3))
        print("1.3 s after note-off: sustained \(heldLevel), not sustained \(freeLevel); 1.5 s after pedal up \(afterPedal)")
        XCTAssertGreaterThan(heldLevel, 1e-3)
        XCTAssertGreaterThan(heldLevel, 10 * freeLevel, "the pedal did not hold the note")
        XCTAssertLessThan(afterPedal, heldLevel / 10, "pedal up did not release the note")
    }

    /// All-sound-off silences within one period (64 frames) of its event.
    func testAllSoundOffSilencesWithinOnePeriod() throws {
        try startDaemon(arguments: ["--reverb", "0"])
        try assertSilencedWithinOnePeriod(by: Msg.cc(120, 0), "all-sound-off")
    }

    /// A GM System On SysEx from a DAW over JACK MIDI resets every channel (all sound off,
    /// controllers reset), as it does from the ALSA sequencer.
    func testGMResetOverJackMIDISilencesWithinOnePeriod() throws {
        try startDaemon(arguments: ["--reverb", "0"])
        try assertSilencedWithinOnePeriod(by: [0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7], "a GM reset")
    }

    /// Plays two notes, sends `message` half a second later, and checks the sound is gone one
    /// period after it.
    func assertSilencedWithinOnePeriod(by message: [UInt8], _ name: String, line: UInt = #line) throws {
        let on = probe.frame(afterSeconds: 0.3)
        probe.send(Msg.on(64), at: on)
        probe.send(Msg.on(67), at: on)
        let cut = on &+ frames(0.5) &+ 21
        probe.send(message, at: cut)
        let x = record(from: on, seconds: 1.0)
        let cutIndex = Int(cut &- on)
        let playing = SignalAnalysis.peak(Array(x[(cutIndex - 4800)..<cutIndex]))
        let after = SignalAnalysis.peak(Array(x[(cutIndex + 64)..<(cutIndex + 64 + 4800)]))
        print("peak before \(name) \(playing), from one period after \(after)")
        XCTAssertGreaterThan(playing, 1e-3, line: line)
        XCTAssertLessThan(after, playing * 1e-3, "still sounding one period after \(name)", line: line)
    }

    /// Program change 1 selects the preset with program 1 (and the sound changes).
    func testProgramChangeSwitchesPresets() throws {
        try startDaemon(presets: [("alpha.toml", Self.presetA), ("gamma.toml", Self.presetC)], arguments: ["--reverb", "0"])
        XCTAssertTrue(daemon.ctl(["status"]).1.contains("preset: alpha"))
        let on = probe.frame(afterSeconds: 0.3)
        probe.send(Msg.on(60), at: on)
        probe.send(Msg.program(1), at: on &+ frames(0.6))
        let x = record(from: on, seconds: 1.3)
        let a1 = SignalAnalysis.bandShape(slice(x, 0.25, 0.05), sampleRate: 48000)
        let a2 = SignalAnalysis.bandShape(slice(x, 0.5, 0.05), sampleRate: 48000)
        let c1 = SignalAnalysis.bandShape(slice(x, 1.0, 0.05), sampleRate: 48000)
        let drift = SignalAnalysis.distance(a1, a2), change = SignalAnalysis.distance(a2, c1)
        print("spectrum drift within the preset \(drift), change across the program change \(change)")
        XCTAssertTrue(daemon.waitForLog("preset: gamma", timeout: 5))
        // channel 1 plays gamma of its own; the shared preset (every other channel's) stays alpha
        let status = daemon.ctl(["status"]).1
        XCTAssertTrue(status.contains("preset: alpha\nchannel_presets: 1 gamma\n"), status)
        XCTAssertGreaterThan(change, 2 * drift)
    }

    /// With `--channel 2` only MIDI channel 2 (wire channel 1) plays.
    func testChannelFilter() throws {
        try startDaemon(arguments: ["--channel", "2", "--reverb", "0"])
        let t = probe.frame(afterSeconds: 0.3)
        probe.send(Msg.on(60, channel: 0), at: t)
        probe.send(Msg.on(64, channel: 1), at: t &+ frames(0.5))
        let x = record(from: t, seconds: 0.8)
        XCTAssertEqual(SignalAnalysis.peak(slice(x, 0, 0.5)), 0, "channel 1 was played")
        XCTAssertGreaterThan(SignalAnalysis.peak(slice(x, 0.5, 0.3)), 1e-3, "channel 2 was not played")
    }

    /// A CC sweep on a latent dimension changes the spectrum gradually: no step between 20 ms
    /// windows larger than a few times the mean step, and a clear change end to end.
    func testControllerSweepOnALatentDimensionIsGradual() throws {
        try startDaemon(arguments: ["--reverb", "0"])
        let on = probe.frame(afterSeconds: 0.3)
        probe.send(Msg.cc(70, 0), at: on &- 10)
        probe.send(Msg.on(57), at: on)
        let sweepStart = on &+ frames(0.4)
        for v in 0...127 { probe.send(Msg.cc(70, UInt8(v)), at: sweepStart &+ UInt32(v * 480)) }
        let x = record(from: on, seconds: 2.0)
        var shapes: [[Double]] = []
        var t = 0.4
        while t + 0.04 <= 0.4 + 127 * 0.01 + 0.1 {
            shapes.append(SignalAnalysis.bandShape(slice(x, t, 0.04), sampleRate: 48000))
            t += 0.02
        }
        let steps = zip(shapes, shapes.dropFirst()).map { SignalAnalysis.distance($0.0, $0.1) }
        let mean = steps.reduce(0, +) / Double(steps.count)
        let largest = steps.max() ?? 0
        let total = SignalAnalysis.distance(shapes.first!, shapes.last!)
        print(String(format: "sweep: mean step %.4f, largest %.4f (%.1fx), end to end %.4f", mean, largest, largest / mean, total))
        XCTAssertGreaterThan(total, 5 * mean, "the sweep barely changed the sound")
        XCTAssertLessThan(largest, 5 * mean, "the spectrum jumped during the sweep")
    }
}

final class DaemonLifecycleTests: DaemonTestCase {
    /// A buffer-size change prepares a new engine off the real-time thread and swaps it in;
    /// notes play at the right pitch afterwards.
    func testBufferSizeChangePreparesANewEngine() throws {
        try startDaemon()
        let offset = daemon.log.count
        let resize = Process()
        resize.executableURL = URL(fileURLWithPath: "/usr/bin/jack_bufsize")
        resize.arguments = ["256"]
        resize.environment = ["JACK_DEFAULT_SERVER": serverName, "PATH": "/usr/bin:/bin"]
        resize.standardOutput = FileHandle.nullDevice
        try resize.run()
        resize.waitUntilExit()
        XCTAssertTrue(daemon.waitForLog("engine prepared for 48000 Hz, 256 frames", timeout: 10, after: offset), daemon.log)
        let on = probe.frame(afterSeconds: 0.3, offset: 100)
        probe.send(Msg.on(69), at: on)
        let x = record(from: on &- 512, seconds: 1.2)
        let onset = try XCTUnwrap(SignalAnalysis.onset(x)) - 512
        let f0 = SignalAnalysis.pitchHz(Array(x[(512 + 9600)..<(512 + 9600 + 24000)]), sampleRate: 48000)
        print(String(format: "after the change to 256 frames: onset %d samples after the event, pitch %.2f cents off", onset,
                     SignalAnalysis.cents(f0, 440)))
        XCTAssertTrue((0..<256).contains(onset))
        XCTAssertLessThan(abs(SignalAnalysis.cents(f0, 440)), 5)
    }

    /// Preset files are reloaded when they change, without a signal.
    func testChangedPresetFilesAreReloaded() throws {
        try startDaemon(presets: [("alpha.toml", Self.presetA)])
        let offset = daemon.log.count
        try daemon.writePreset("gamma.toml", Self.presetC)
        XCTAssertTrue(daemon.waitForLog("presets reloaded: 2", timeout: 5, after: offset), daemon.log)
        XCTAssertEqual(daemon.ctl(["preset", "gamma"]).0, 0)
    }

    /// jackd is killed and restarted: timbred (not restarted) plays again within 5 s.
    func testPlaysAgainAfterTheJackServerRestarts() throws {
        try startDaemon()
        probe.close()
        probe = nil
        server.kill()
        XCTAssertTrue(daemon.waitForLog("JACK server went away", timeout: 10), daemon.log)
        let offset = daemon.log.count
        let restarted = Date()
        try server.start()
        let serverUp = Date()
        XCTAssertTrue(daemon.waitForLog("JACK: client", timeout: 10, after: offset), daemon.log)
        let reconnected = Date().timeIntervalSince(serverUp)
        probe = try JackProbe(server: serverName)
        try probe.connect(to: daemon.clientName)
        let on = probe.frame(afterSeconds: 0.2)
        probe.send(Msg.on(69), at: on)
        let x = record(from: on, seconds: 0.5)
        let playing = Date().timeIntervalSince(serverUp)
        print(String(format: "jackd start %.2f s; timbred reconnected %.2f s after, a note recorded %.2f s after",
                     serverUp.timeIntervalSince(restarted), reconnected, playing))
        XCTAssertGreaterThan(SignalAnalysis.peak(x), 1e-3, "no sound after the restart")
        XCTAssertLessThan(reconnected, 5)
        XCTAssertTrue(daemon.process.isRunning)
    }

    /// systemd hears READY=1 only once the JACK client is active and its ports are connected
    /// (here: no server at first, so no READY until one starts).
    func testReadyIsNotifiedOnlyOnceJackIsActiveAndConnected() throws {
        server.stop()
        let notify = try NotifySocket(path: configHome + "/notify.sock")
        daemon = try TimbredProcess(server: serverName, configHome: configHome, autoconnect: true, notifySocket: notify.path)
        try daemon.start()
        XCTAssertTrue(daemon.waitForLog("no JACK server", timeout: 10), daemon.log)
        var early: [String] = []
        while let m = notify.receive(timeout: 1.5) { early.append(m) }
        XCTAssertFalse(early.contains { $0.contains("READY=1") }, "READY before JACK was up: \(early)")
        try server.start()
        var ready: String? = nil
        let deadline = Date().addingTimeInterval(10)
        while ready == nil, Date() < deadline, let m = notify.receive(timeout: 10) {
            if m.contains("READY=1") { ready = m }
        }
        let message = try XCTUnwrap(ready, "no READY=1: \(daemon.log)")
        print("notification: \(message.replacingOccurrences(of: "\n", with: " | "))")
        XCTAssertTrue(message.contains("STATUS=") && message.contains("voices") && message.contains("xruns"))
        // at that moment the outputs were already connected to the playback ports
        probe = try JackProbe(server: serverName)
        let port = jack_port_by_name(probe.state.senderClient, "tb:out_left")
        XCTAssertNotNil(port)
        XCTAssertTrue(jack_port_connected_to(port, "system:playback_1") != 0, "out_left not connected")
    }

    /// SIGHUP reloads presets: a preset added while running can be selected afterwards.
    func testSIGHUPReloadsPresets() throws {
        try startDaemon(presets: [("alpha.toml", Self.presetA)])
        XCTAssertNotEqual(daemon.ctl(["preset", "gamma"]).0, 0, "gamma should not exist yet")
        try daemon.writePreset("gamma.toml", Self.presetC)
        let offset = daemon.log.count
        kill(daemon.process.processIdentifier, SIGHUP)
        XCTAssertTrue(daemon.waitForLog("SIGHUP: reloading", timeout: 5, after: offset), daemon.log)
        XCTAssertTrue(daemon.waitForLog("presets reloaded: 2", timeout: 5, after: offset), daemon.log)
        let (status, output) = daemon.ctl(["preset", "gamma"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(daemon.ctl(["status"]).1.contains("preset: gamma"))
    }

    /// A corrupt preset is refused with one line naming the file and the problem, while a
    /// held note keeps sounding without a break.
    func testCorruptPresetIsRefusedWhileNotesKeepSounding() throws {
        try startDaemon(presets: [("alpha.toml", Self.presetA)], arguments: ["--reverb", "0"])
        let on = probe.frame(afterSeconds: 0.3)
        probe.send(Msg.cc(64, 127), at: on &- 5)
        probe.send(Msg.on(60), at: on)
        XCTAssertTrue(probe.waitUntilRecorded(on &+ frames(0.3)))
        let offset = daemon.log.count
        try daemon.writePreset("broken.toml", "name = \"broken\"\nlatent = [1, 2,\nreverb = yes\n")
        kill(daemon.process.processIdentifier, SIGHUP)
        XCTAssertTrue(daemon.waitForLog("broken.toml skipped", timeout: 5, after: offset), daemon.log)
        let line = daemon.log.dropFirst(offset).split(separator: "\n").first { $0.contains("broken.toml") } ?? ""
        print("refusal: \(line)")
        let x = record(from: on &+ frames(0.1), seconds: 1.5)
        var quietest = Double.infinity
        var t = 0.0
        while t + 0.05 <= 1.5 {
            quietest = min(quietest, SignalAnalysis.rms(slice(x, t, 0.05)))
            t += 0.05
        }
        XCTAssertGreaterThan(quietest, 1e-4, "the note stopped while the preset was refused")
        XCTAssertTrue(daemon.ctl(["status"]).1.contains("preset: alpha"))
    }

    /// SIGTERM stops timbred cleanly within a second.
    func testSIGTERMStopsWithinOneSecond() throws {
        try startDaemon()
        let sent = Date()
        daemon.process.terminate()
        daemon.process.waitUntilExit()
        let took = Date().timeIntervalSince(sent)
        print(String(format: "stopped %.3f s after SIGTERM", took))
        XCTAssertLessThan(took, 1)
        XCTAssertEqual(daemon.process.terminationStatus, 0)
        XCTAssertTrue(daemon.log.contains("stopping"))
    }

    /// The OSC API listens on 127.0.0.1 only, and `timbred ctl status` reports voices and xruns.
    func testOSCIsLoopbackOnlyAndCtlReportsVoicesAndXruns() throws {
        try startDaemon()
        let hexPort = String(format: "%04X", daemon.oscPort)
        let table = try String(contentsOfFile: "/proc/net/udp", encoding: .utf8) + ((try? String(contentsOfFile: "/proc/net/udp6", encoding: .utf8)) ?? "")
        let sockets = table.split(separator: "\n").map { $0.split(separator: " ") }.filter { $0.count > 2 && $0[1].hasSuffix(":" + hexPort) }
        XCTAssertEqual(sockets.count, 1, "expected one socket on the OSC port")
        XCTAssertEqual(sockets.first.map { String($0[1]) }, "0100007F:" + hexPort, "the OSC socket is not bound to 127.0.0.1")
        let on = probe.frame(afterSeconds: 0.2)
        probe.send(Msg.on(62), at: on)
        XCTAssertTrue(probe.waitUntilRecorded(on &+ frames(0.3)))
        let (status, output) = daemon.ctl(["status"])
        print(output)
        XCTAssertEqual(status, 0)
        XCTAssertTrue(output.contains("voices: 1"), output)
        XCTAssertTrue(output.contains("xruns: "), output)
        XCTAssertTrue(output.contains("latent: "), output)
    }

    /// MIDI learn: arm a target, move a knob, the mapping is saved to the config file.
    func testMIDILearnSavesTheMapping() throws {
        try startDaemon()
        let (status, output) = daemon.ctl(["learn", "latent", "2"])
        XCTAssertEqual(status, 0, output)
        probe.send(Msg.cc(21, 64), at: probe.frame(afterSeconds: 0.1))
        XCTAssertTrue(daemon.waitForLog("MIDI learn: CC 21", timeout: 5), daemon.log)
        let config = try String(contentsOfFile: configHome + "/timbred/timbred.toml", encoding: .utf8)
        XCTAssertTrue(config.contains("[cc]") && config.contains("21 = \"latent 2\""), config)
    }
}

/// `timbred --help` and `timbred run --help` describe every setting.
final class HelpTests: XCTestCase {
    func output(_ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Fixtures.timbredBinary)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    func testHelpDescribesEverySetting() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: Fixtures.timbredBinary))
        let root = try output(["--help"]), run = try output(["run", "--help"])
        for setting in Setting.allCases {
            XCTAssertTrue(root.contains(setting.rawValue), "timbred --help lacks \(setting.rawValue)")
            XCTAssertTrue(run.contains(setting.flag + " "), "timbred run --help lacks \(setting.flag)")
        }
        XCTAssertTrue(root.contains("[cc]") && root.contains("timbred.toml"))
    }
}
