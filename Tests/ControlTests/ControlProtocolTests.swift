import Control
import Foundation
import XCTest

final class ControlProtocolTests: XCTestCase {
    /// The wire format the daemon has always read (and DaemonTests and oscsend users send).
    func testRequestsEncodeToTheWireFormat() throws {
        let cases: [(ControlRequest, OSCMessage)] = [
            (.status, OSCMessage("/timbred/status")),
            (.load(reset: false), OSCMessage("/timbred/load")),
            (.load(reset: true), OSCMessage("/timbred/load", [.string("reset")])),
            (.preset("flute"), OSCMessage("/timbred/preset", [.string("flute")])),
            (.preset("3"), OSCMessage("/timbred/preset", [.int(3)])),
            (.latent(dimension: 2, value: 0.7), OSCMessage("/timbred/latent", [.int(2), .float(0.7)])),
            (.morph(0.5), OSCMessage("/timbred/morph", [.float(0.5)])),
            (.pad(x: 0.2, y: 0.9), OSCMessage("/timbred/pad", [.float(0.2), .float(0.9)])),
            (.reverb(0.3), OSCMessage("/timbred/reverb", [.float(0.3)])),
            (.gain(-10), OSCMessage("/timbred/gain", [.float(-10)])),
            (.attack(2), OSCMessage("/timbred/attack", [.float(2)])),
            (.release(0.5), OSCMessage("/timbred/release", [.float(0.5)])),
            (.panic, OSCMessage("/timbred/panic")),
            (.note(60, velocity: nil, channel: nil), OSCMessage("/timbred/note", [.int(60)])),
            (.note(60, velocity: 0, channel: 2), OSCMessage("/timbred/note", [.int(60), .int(0), .int(2)])),
            (.learn(try TargetSpec(parsing: "latent 2")), OSCMessage("/timbred/learn", [.string("latent 2")])),
            (.learn(try TargetSpec(parsing: "gain -20 0")), OSCMessage("/timbred/learn", [.string("gain -20 0")])),
            (.cancelLearn, OSCMessage("/timbred/learn", [.string("cancel")])),
            (.reload, OSCMessage("/timbred/reload")),
            (.reloadModel, OSCMessage("/timbred/model/reload")),
        ]
        for (request, wire) in cases {
            XCTAssertEqual(request.message, wire, "\(request)")
            XCTAssertEqual(try ControlRequest(message: wire), request, "\(wire)")
            // and through liblo's bytes
            XCTAssertEqual(try ControlRequest(message: XCTUnwrap(OSCMessage(packet: wire.encoded()))), request)
        }
    }

    func testServerAcceptsAnyNumberTypeAndRefusesBadArguments() {
        XCTAssertEqual(try ControlRequest(message: OSCMessage("/timbred/latent", [.float(1), .int(1)])), .latent(dimension: 1, value: 1))
        XCTAssertEqual(try ControlRequest(message: OSCMessage("/timbred/morph", [.double(0.25)])), .morph(0.25))
        XCTAssertEqual(try ControlRequest(message: OSCMessage("/timbred/preset", [.float(2)])), .preset("2"))
        XCTAssertEqual(try ControlRequest(message: OSCMessage("/timbred/learn", [.string("none")])), .cancelLearn)
        XCTAssertEqual(try ControlRequest(message: OSCMessage("/timbred/learn")), .cancelLearn)
        XCTAssertEqual(try ControlRequest(message: OSCMessage("/timbred/learn", [.string("latent"), .int(3)])),
                       .learn(try TargetSpec(parsing: "latent 3")))
        let refused: [(OSCMessage, String)] = [
            (OSCMessage("/timbred/latent", [.int(1)]), "/timbred/latent needs a dimension and a value"),
            (OSCMessage("/timbred/latent", [.float(.nan), .float(1)]), "/timbred/latent needs a dimension and a value"),
            (OSCMessage("/timbred/morph", [.string("x")]), "/timbred/morph needs a position 0...1"),
            (OSCMessage("/timbred/reverb", [.float(5)]), "/timbred/reverb needs a mix 0...4"),
            (OSCMessage("/timbred/gain", [.float(20)]), "/timbred/gain needs dB in -60...12"),
            (OSCMessage("/timbred/release", [.float(0)]), "/timbred/release needs a scale 0.1...10"),
            (OSCMessage("/timbred/note", [.int(128)]), "/timbred/note needs a note 0...127 and a velocity"),
            (OSCMessage("/timbred/preset"), "/timbred/preset needs a name or a number"),
            (OSCMessage("/timbred/nothing"), "unknown request /timbred/nothing (see `timbred ctl --help`)"),
        ]
        for (message, text) in refused {
            XCTAssertThrowsError(try ControlRequest(message: message), message.path) { error in
                XCTAssertEqual((error as? ControlProtocolError)?.description, text)
            }
        }
        XCTAssertThrowsError(try ControlRequest(message: OSCMessage("/timbred/learn", [.string("kazoo")])))
    }

    func testCtlCommandLines() throws {
        XCTAssertEqual(try ControlRequest(command: "reload", arguments: ["model"]), .reloadModel)
        XCTAssertEqual(try ControlRequest(command: "preset", arguments: ["7"]).message, OSCMessage("/timbred/preset", [.int(7)]))
        XCTAssertEqual(try ControlRequest(command: "preset", arguments: ["My", "Flute"]), .preset("My Flute"))
        XCTAssertEqual(try ControlRequest(command: "gain", arguments: ["-12"]), .gain(-12))
        XCTAssertEqual(try ControlRequest(command: "note", arguments: ["60", "90"]), .note(60, velocity: 90, channel: nil))
        XCTAssertEqual(try ControlRequest(command: "learn", arguments: ["latent", "2"]), .learn(try TargetSpec(parsing: "latent 2")))
        XCTAssertEqual(try ControlRequest(command: "learn", arguments: ["cancel"]), .cancelLearn)
        for (command, args, text) in [("latent", ["x", "1"], "latent: argument 1 must be an integer"),
                                      ("pad", ["0.5"], "pad: argument 2 must be a number"),
                                      ("load", ["now"], "load takes nothing, or reset"),
                                      ("fly", [], "unknown request fly (see `timbred ctl --help`)")] {
            XCTAssertThrowsError(try ControlRequest(command: command, arguments: args)) { error in
                XCTAssertEqual((error as? ControlProtocolError)?.description, text)
            }
        }
    }

    func testStatusReplyKeepsItsPositionalLayoutAndReadsAsNamedFields() throws {
        let status = StatusReport(voices: 3, xruns: 1, dspLoadPercent: 12.5, preset: "alpha", jackState: "active", sampleRate: 48000,
                                  bufferFrames: 64, peak: 0.25, callbackMeanPercent: 4, callbackPeakPercent: 20, lateCycles: 2,
                                  latent: [0.5, -1])
        let wire = OSCMessage("/timbred/status", [.int(3), .int(1), .float(12.5), .string("alpha"), .string("active"), .int(48000),
                                                  .int(64), .float(0.25), .float(4), .float(20), .int(2), .float(0.5), .float(-1)])
        XCTAssertEqual(ControlReply.status(status).message, wire)
        XCTAssertEqual(try ControlReply(message: wire), .status(status))
        let text = status.text
        for line in ["voices: 3", "xruns: 1", "dsp_load: 12.5 % (JACK graph)", "preset: alpha", "jack: active (48000 Hz, 64 frames)",
                     "callback_load: mean 4.0 %, peak 20.0 % of the period; late cycles: 2", "peak: 0.250", "latent: 0.500 -1.000"] {
            XCTAssertTrue(text.contains(line), "\(line) not in\n\(text)")
        }
        XCTAssertThrowsError(try ControlReply(message: OSCMessage("/timbred/status", [.int(3)])))
    }

    /// The channels playing a preset of their own: one string "CHANNEL NAME" each after the
    /// latent values, read back by channel; a reader of the latent numbers alone skips them.
    func testStatusReplyNamesTheChannelsPlayingTheirOwnPreset() throws {
        let status = StatusReport(voices: 0, xruns: 0, dspLoadPercent: 0, preset: "alpha", jackState: "active", sampleRate: 48000,
                                  bufferFrames: 64, peak: 0, callbackMeanPercent: 0, callbackPeakPercent: 0, lateCycles: 0,
                                  latent: [0.5, -1], channelPresets: [10: "Church Organ", 2: "gamma"])
        let message = ControlReply.status(status).message
        XCTAssertEqual(Array(message.arguments.suffix(4)), [.float(0.5), .float(-1), .string("2 gamma"), .string("10 Church Organ")])
        guard case .status(let back) = try ControlReply(message: message) else { return XCTFail("not a status reply") }
        XCTAssertEqual(back, status)
        XCTAssertEqual(back.latent, [0.5, -1])
        XCTAssertTrue(status.text.contains("preset: alpha\nchannel_presets: 2 gamma, 10 Church Organ\n"), status.text)
        var shared = status
        shared.channelPresets = [:]
        XCTAssertTrue(shared.text.contains("channel_presets: none"), shared.text)
    }

    func testLoadOkAndErrorReplies() throws {
        let load = LoadReport(meanPercent: 1.5, peakPercent: 9, lateCycles: 0, cycles: 750, xruns: 0, cpuMeanPercent: 1.25,
                              cpuPeakPercent: 8, overrunCycles: 0)
        let wire = OSCMessage("/timbred/load", [.float(1.5), .float(9), .int(0), .int(750), .int(0), .float(1.25), .float(8), .int(0),
                                                .int(0), .float(0), .float(0), .int(0)])
        XCTAssertEqual(load.message, wire)
        XCTAssertEqual(try ControlReply(message: wire), .load(load))
        XCTAssertTrue(load.text.contains("callback_load_mean: 1.50 %\ncallback_load_peak: 9.00 %\nlate_cycles: 0\ncycles: 750"))
        XCTAssertTrue(load.text.hasSuffix("overrun_cycles: 0\ndecode_worker: off"))
        // with the decode worker: its load beside the callback's, 12 arguments
        let withWorker = LoadReport(meanPercent: 7.5, peakPercent: 20, lateCycles: 0, cycles: 750, xruns: 0, cpuMeanPercent: 7,
                                    cpuPeakPercent: 18, overrunCycles: 0, workerRunning: true, workerMeanPercent: 11.25,
                                    workerCPUMeanPercent: 10.5, workerJobs: 3000)
        let workerWire = OSCMessage("/timbred/load", [.float(7.5), .float(20), .int(0), .int(750), .int(0), .float(7), .float(18), .int(0),
                                                      .int(1), .float(11.25), .float(10.5), .int(3000)])
        XCTAssertEqual(withWorker.message, workerWire)
        XCTAssertEqual(try ControlReply(message: workerWire), .load(withWorker))
        XCTAssertTrue(withWorker.text.contains("callback_load_mean: 7.50 %"))
        XCTAssertTrue(withWorker.text.hasSuffix("decode_worker_load_mean: 11.25 %\ndecode_worker_cpu_mean: 10.50 %\ndecode_worker_jobs: 3000"))
        // an older daemon's 8-argument reply still parses (worker not reported); 9 arguments do not
        XCTAssertEqual(try ControlReply(message: OSCMessage("/timbred/load", Array(workerWire.arguments[0..<8]))),
                       .load(LoadReport(meanPercent: 7.5, peakPercent: 20, lateCycles: 0, cycles: 750, xruns: 0, cpuMeanPercent: 7,
                                        cpuPeakPercent: 18, overrunCycles: 0)))
        XCTAssertThrowsError(try ControlReply(message: OSCMessage("/timbred/load", Array(workerWire.arguments[0..<9]))))
        XCTAssertEqual(ControlReply.ok("panic").message, OSCMessage("/timbred/ok", [.string("panic")]))
        XCTAssertEqual(try ControlReply(message: OSCMessage("/timbred/error", [.string("no")])), .error("no"))
        XCTAssertThrowsError(try ControlReply(message: OSCMessage("/timbred/what")))
    }
}
